"""Synthetic crowds with a known truth, for tests, examples and benchmarks."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from .._validation import check_float, check_int, check_random_state
from ..errors import InputError

__all__ = ["Crowd", "make_crowd"]


class Crowd(NamedTuple):
    """What :func:`make_crowd` returns (a named tuple, so ``df, truth, workers = ...``).

    Attributes
    ----------
    annotations : pandas.DataFrame
        Columns ``item``, ``worker``, ``label``; one row per annotation, each
        (item, worker) pair at most once.
    truth : pandas.Series
        The hidden true label per item, indexed by item id.
    workers : pandas.DataFrame
        Per worker (indexed by worker id): ``accuracy`` (mean of the confusion
        matrix diagonal), ``spammer`` (bool) and ``n_annotations``.
    confusions : numpy.ndarray
        Workers x true x observed confusion matrices in worker order of ``workers``.
    """

    annotations: pd.DataFrame
    truth: pd.Series
    workers: pd.DataFrame
    confusions: np.ndarray


def _distinct_workers(rng: np.random.Generator, n_items: int, per_item: int, p: np.ndarray) -> np.ndarray:
    """``n_items x per_item`` worker codes drawn with probabilities ``p``, distinct per row."""
    n_workers = p.shape[0]
    cdf = np.cumsum(p)
    cdf[-1] = 1.0
    out = np.searchsorted(cdf, rng.random((n_items, per_item)), side="right")
    for _ in range(1000):
        srt = np.sort(out, axis=1)
        dup_rows = np.flatnonzero((srt[:, 1:] == srt[:, :-1]).any(axis=1))
        if dup_rows.size == 0:
            return out
        # redraw the whole row for rows with repeats (rare when n_workers >> per_item)
        out[dup_rows] = np.searchsorted(cdf, rng.random((dup_rows.size, per_item)), side="right")
    # fall back to uniform draws without replacement for stubborn rows
    srt = np.sort(out, axis=1)
    for r in np.flatnonzero((srt[:, 1:] == srt[:, :-1]).any(axis=1)):
        out[r] = rng.choice(n_workers, per_item, replace=False)
    return out


def make_crowd(
    n_items: int = 1000,
    n_workers: int = 100,
    n_labels: int = 4,
    per_item: int = 5,
    *,
    accuracy: tuple[float, float] = (0.55, 0.95),
    spammer_share: float = 0.1,
    spammer_kind: Literal["uniform", "constant", "mixed"] = "mixed",
    workload: Literal["uniform", "skewed"] = "skewed",
    class_prior: Any = None,
    id_type: Literal["str", "int"] = "str",
    random_state: Any = None,
) -> Crowd:
    """Generate a crowd of workers with per-class confusion matrices and a truth.

    Each worker gets an overall accuracy drawn uniformly in ``accuracy``, varied a
    little per true class; errors spread over the other classes with random
    (Dirichlet) weights.  A share of workers are spammers whose answers ignore the
    truth: ``"uniform"`` spammers answer uniformly at random, ``"constant"`` ones
    always give one label, ``"mixed"`` draws half of each.  With ``workload="skewed"``
    a few workers do most of the work (Zipf-like weights), as in real crowds.

    Parameters
    ----------
    n_items, n_workers, n_labels, per_item : int
        Sizes; every item gets ``per_item`` annotations by distinct workers, so
        there are ``n_items * per_item`` annotations.
    accuracy : (float, float)
        Range of honest workers' accuracies.
    spammer_share : float
        Share of workers that are spammers, in ``[0, 1]``.
    spammer_kind : {"uniform", "constant", "mixed"}
    workload : {"uniform", "skewed"}
    class_prior : array-like, optional
        Distribution of true labels (default uniform).
    id_type : {"str", "int"}
        Item ids ``"t0000001"`` and worker ids ``"w00001"``, or plain integers.
    random_state : int, numpy Generator or None
        Seed; same seed, same crowd.

    Returns
    -------
    Crowd
        ``(annotations, truth, workers, confusions)``.
    """
    n_items = check_int("n_items", n_items, 1)
    n_workers = check_int("n_workers", n_workers, 1)
    n_labels = check_int("n_labels", n_labels, 2)
    per_item = check_int("per_item", per_item, 1)
    if per_item > n_workers:
        raise InputError(f"per_item ({per_item}) cannot exceed n_workers ({n_workers})")
    spammer_share = check_float("spammer_share", spammer_share)
    if spammer_share > 1:
        raise InputError("spammer_share must lie in [0, 1]")
    lo, hi = (check_float("accuracy", a) for a in accuracy)
    if not 0 <= lo <= hi <= 1:
        raise InputError(f"accuracy must be a range inside [0, 1], got {accuracy}")
    if spammer_kind not in ("uniform", "constant", "mixed"):
        raise InputError(f"spammer_kind must be 'uniform', 'constant' or 'mixed', got {spammer_kind!r}")
    if workload not in ("uniform", "skewed"):
        raise InputError(f"workload must be 'uniform' or 'skewed', got {workload!r}")
    if id_type not in ("str", "int"):
        raise InputError(f"id_type must be 'str' or 'int', got {id_type!r}")
    rng = check_random_state(random_state)

    prior = np.full(n_labels, 1.0 / n_labels) if class_prior is None else np.asarray(class_prior, float)
    if prior.shape != (n_labels,) or (prior < 0).any() or not np.isclose(prior.sum(), 1):
        raise InputError("class_prior must be n_labels non-negative numbers summing to 1")

    # confusion matrices
    acc = rng.uniform(lo, hi, n_workers)
    acc_k = np.clip(acc[:, None] + rng.normal(0, 0.05, (n_workers, n_labels)), 0.0, 1.0)
    off = rng.dirichlet(np.full(n_labels - 1, 2.0), size=(n_workers, n_labels))
    conf = np.empty((n_workers, n_labels, n_labels))
    for k in range(n_labels):
        others = [j for j in range(n_labels) if j != k]
        conf[:, k, k] = acc_k[:, k]
        conf[:, k, others] = off[:, k, :] * (1 - acc_k[:, k])[:, None]
    n_spam = int(round(spammer_share * n_workers))
    spammers = np.zeros(n_workers, dtype=bool)
    if n_spam:
        spam_idx = rng.choice(n_workers, n_spam, replace=False)
        spammers[spam_idx] = True
        for j, w in enumerate(spam_idx):
            kind = spammer_kind if spammer_kind != "mixed" else ("uniform" if j % 2 == 0 else "constant")
            if kind == "uniform":
                conf[w] = 1.0 / n_labels
            else:
                conf[w] = 0.0
                conf[w, :, rng.integers(n_labels)] = 1.0

    # who labels what
    if workload == "skewed":
        weights = 1.0 / np.arange(1, n_workers + 1) ** 0.8
        weights = weights[rng.permutation(n_workers)]
    else:
        weights = np.ones(n_workers)
    p = weights / weights.sum()
    truth = rng.choice(n_labels, n_items, p=prior)
    wk = _distinct_workers(rng, n_items, per_item, p).ravel()
    it = np.repeat(np.arange(n_items), per_item)

    # answers, in chunks to bound memory
    cdf = np.cumsum(conf, axis=2)
    cdf[:, :, -1] = 1.0
    lab = np.empty(it.shape[0], dtype=np.int64)
    step = 1 << 20
    for s in range(0, it.shape[0], step):
        sl = slice(s, s + step)
        rows = cdf[wk[sl], truth[it[sl]]]
        lab[sl] = (rng.random(rows.shape[0])[:, None] >= rows).sum(axis=1)
    np.minimum(lab, n_labels - 1, out=lab)

    if id_type == "str":
        item_ids = np.char.add("t", np.char.zfill(np.arange(n_items).astype(str), len(str(n_items))))
        worker_ids = np.char.add("w", np.char.zfill(np.arange(n_workers).astype(str), len(str(n_workers))))
        item_ids = item_ids.astype(object)
        worker_ids = worker_ids.astype(object)
    else:
        item_ids = np.arange(n_items)
        worker_ids = np.arange(n_workers)
    df = pd.DataFrame({"item": item_ids[it], "worker": worker_ids[wk], "label": lab})
    truth_s = pd.Series(truth, index=pd.Index(item_ids, name="item"), name="label")
    workers_df = pd.DataFrame(
        {
            "accuracy": np.einsum("wkk->w", conf) / n_labels,
            "spammer": spammers,
            "n_annotations": np.bincount(wk, minlength=n_workers),
        },
        index=pd.Index(worker_ids, name="worker"),
    )
    return Crowd(df, truth_s, workers_df, conf)
