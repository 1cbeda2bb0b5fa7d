r"""What to label next: rank items for one more answer.

A QA lead with a budget of extra answers wants them where they change the most
labels.  :func:`next_items` ranks the items of a fitted model by one of two
scores, computed from the model's posteriors ``p_i`` (``probas_``) and, for the
second, its worker parameters:

``"entropy"`` (uncertainty sampling [1]_)
    the posterior entropy :math:`H_i = -\sum_c p_{ic}\log p_{ic}` (nats).

``"expected_gain"`` (expected reduction in error)
    the expected fall in the probability that the item's consensus label is
    wrong once one more answer arrives from the fitted worker pool.  Today the
    error probability is :math:`1 - \max_c p_{ic}`.  A worker ``w`` with
    confusion matrix :math:`\pi_w(c, l) = P(\text{answer } l \mid \text{true } c)`
    answers ``l`` with probability :math:`\sum_c p_{ic}\pi_w(c, l)`, after which
    the posterior is :math:`p'_{ic} \propto p_{ic}\pi_w(c, l)` (the model's own
    conditional independence of answers given the truth).  The expected error
    after that answer is :math:`1 - \sum_l \max_c p_{ic}\pi_w(c, l)`, so

    .. math::

        G_i = \sum_w q_w \sum_l \max_c p_{ic}\,\pi_w(c, l) \;-\; \max_c p_{ic}
        \;\ge 0,

    with :math:`q_w` the chance that worker ``w`` gives the next answer: their
    share of the batch's answers (``pool="workload"``) or ``1/W``
    (``pool="uniform"``).  :math:`G_i` is the value of information of one answer
    for the 0-1 loss [2]_; it is zero for an item whose label no single answer
    can overturn, however uncertain, so it prefers items one answer can settle.
    With more than ``max_pool`` workers the sum over the pool is a Monte Carlo
    average over ``max_pool`` workers drawn with probabilities ``q`` (seeded by
    ``random_state``), an unbiased estimate of :math:`G_i`.

    The worker matrices are the model's ``confusions_`` (Dawid-Skene and the
    other confusion-matrix models); models with only a ``skills_`` (majority
    vote, Wawa, GLAD, MACE) get the one-coin matrices ``skill`` on the diagonal
    and ``(1 - skill)/(K - 1)`` elsewhere.  The next answer is drawn from the
    whole pool: workers who already answered the item are not left out (a
    platform sends the item to someone new, so this is a small bias when one
    worker did a large share of the work).

``"random"``
    a uniformly random order (seeded): the baseline the two are measured against.

Measured on a generated crowd with two answers per item (``docs/active.md``,
``scripts/make_active_plot.py``, ``tests/test_active.py``): an extra budget
placed by either score raises accuracy well over 1.5 times as much as the same
budget placed at random.

References
----------
.. [1] Sheng, V. S., Provost, F. and Ipeirotis, P. G. (2008). Get another label?
   Improving data quality and data mining using multiple, noisy labelers.
   *KDD*, 614-622.
.. [2] Roy, N. and McCallum, A. (2001). Toward optimal active learning through
   sampling estimation of error reduction. *ICML*, 441-448.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from . import memory
from ._validation import check_choice, check_int, check_random_state
from .errors import InputError
from .kernels._util import parallel_guard
from .kernels.active import gain_parallel, gain_slice
from .results import label_confidence

__all__ = ["next_items", "posterior_entropy", "expected_gain", "worker_confusions"]

Strategy = Literal["entropy", "expected_gain", "random"]
STRATEGIES = ("entropy", "expected_gain", "random")


# --------------------------------------------------------------------------- helpers
def _fitted(model: Any) -> tuple[Any, pd.DataFrame]:
    check = getattr(model, "_check_fitted", None)
    if callable(check):
        check()  # NotFittedError naming the estimator
    if not hasattr(model, "probas_") or not hasattr(model, "table_"):
        raise InputError(f"expected a fitted crowdagg estimator (with probas_ and table_), got "
                         f"{type(model).__name__}")
    probas = model.probas_
    if not isinstance(probas, pd.DataFrame):
        raise InputError(f"{type(model).__name__} was fitted on a distributed table: its probas_ is a "
                         f"{type(probas).__name__}; rank items on a local fit")
    return model.table_, probas


def posterior_entropy(model: Any) -> pd.Series:
    """Posterior entropy (nats) of every item of a fitted model, indexed by item id.

    Items without annotations carry the model's class prior and its entropy.
    """
    _, probas = _fitted(model)
    return pd.Series(_entropy(probas.to_numpy(dtype=np.float64)), index=probas.index, name="entropy")


def _entropy(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return np.maximum(terms.sum(axis=1), 0.0)


def worker_confusions(model: Any) -> np.ndarray:
    """Workers x true x observed answer probabilities of a fitted model, in ``table_`` worker order.

    The model's ``confusions_`` where it has one, else one-coin matrices from
    ``skills_``; rows sum to 1.

    Raises
    ------
    InputError
        A model with neither attribute.
    """
    table, _ = _fitted(model)
    w, k = table.n_workers, table.n_labels
    conf = getattr(model, "confusions_", None)
    if isinstance(conf, pd.DataFrame) and conf.shape == (w * k, k):
        arr = conf.to_numpy(dtype=np.float64).reshape(w, k, k)
    else:
        skills = getattr(model, "skills_", None)
        if not isinstance(skills, pd.Series) or len(skills) != w:
            raise InputError(f"{type(model).__name__} has neither confusions_ nor skills_ by worker; "
                             "strategy='expected_gain' needs one (use strategy='entropy')")
        s = np.clip(skills.to_numpy(dtype=np.float64), 0.0, 1.0)
        if k == 1:
            return np.ones((w, 1, 1))
        arr = np.repeat(((1.0 - s) / (k - 1))[:, None, None], k, axis=1).repeat(k, axis=2)
        idx = np.arange(k)
        arr[:, idx, idx] = s[:, None]
    arr = np.where(np.isfinite(arr) & (arr > 0), arr, 0.0)
    rows = arr.sum(axis=2, keepdims=True)
    return np.where(rows > 0, arr / np.where(rows > 0, rows, 1.0), 1.0 / k)


def _pool(model: Any, pool: str, max_pool: int | None, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(confusions of the pool's workers, their weights summing to 1)."""
    table, _ = _fitted(model)
    conf = worker_confusions(model)
    counts = table.worker_counts().astype(np.float64)
    q = counts if pool == "workload" else (counts > 0).astype(np.float64)
    if q.sum() <= 0:
        raise InputError("the fitted table has no annotations: no worker pool to draw the next answer from")
    q = q / q.sum()
    if max_pool is not None and np.count_nonzero(q) > max_pool:
        pick = rng.choice(len(q), size=max_pool, replace=True, p=q)
        return np.ascontiguousarray(conf[pick]), np.full(max_pool, 1.0 / max_pool)
    keep = np.flatnonzero(q > 0)
    return np.ascontiguousarray(conf[keep]), q[keep]


def expected_gain(model: Any, *, pool: Literal["workload", "uniform"] = "workload",
                  max_pool: int | None = 512, random_state: Any = None) -> pd.Series:
    """Expected fall in each item's error probability from one more answer (see the module docstring).

    Parameters
    ----------
    model : fitted estimator
    pool : {"workload", "uniform"}
        Who gives the next answer: a worker drawn by their share of the answers, or
        any worker who answered, equally likely.
    max_pool : int or None
        Above this many workers, average over this many drawn with the pool's
        probabilities (an unbiased Monte Carlo estimate); None: every worker.
    random_state : int, Generator or None
        Seed of that draw.

    Returns
    -------
    pandas.Series
        Indexed by item id, values in ``[0, 1 - 1/K]``.
    """
    check_choice("pool", pool, ("workload", "uniform"))
    if max_pool is not None:
        max_pool = check_int("max_pool", max_pool, 1)
    table, probas = _fitted(model)
    rng = check_random_state(random_state)
    conf, weight = _pool(model, pool, max_pool, rng)
    post = np.ascontiguousarray(probas.to_numpy(dtype=np.float64))
    memory.check("expected_gain", [(f"pool confusions, {conf.shape[0]:,} workers x {table.n_labels:,}^2",
                                    8.0 * conf.size)], "lower max_pool")
    out = np.zeros(post.shape[0], dtype=np.float64)
    if post.shape[0]:
        if post.shape[0] * conf.shape[0] > 100_000:
            with parallel_guard():
                gain_parallel(post, conf, weight, out)
        else:
            gain_slice(post, conf, weight, 0, post.shape[0], out)
    return pd.Series(out, index=probas.index, name="expected_gain")


def next_items(
    model: Any,
    n: int = 100,
    strategy: Strategy = "entropy",
    *,
    pool: Literal["workload", "uniform"] = "workload",
    max_pool: int | None = 512,
    exclude: Any = None,
    random_state: Any = None,
) -> pd.DataFrame:
    """The ``n`` items that most deserve one more answer, best first.

    Parameters
    ----------
    model : fitted estimator
        Any crowdagg aggregation model fitted locally (``probas_``, ``table_``).
    n : int
        How many items to return (fewer when the model has fewer candidates).
    strategy : {"entropy", "expected_gain", "random"}
        The score (see the module docstring for the formulas).
    pool, max_pool :
        The worker pool of ``"expected_gain"`` (see :func:`expected_gain`).
    exclude : iterable of item ids, optional
        Items never to propose (say, gold items or items already sent out); ids
        the model does not know are ignored.
    random_state : int, Generator or None
        Seed of ``"random"`` and of the pool draw.

    Returns
    -------
    pandas.DataFrame
        One row per proposed item, in rank order: ``rank`` (1 = first),
        ``item``, ``score`` (the strategy's), ``entropy``, ``expected_gain``
        (present when computed), ``n_answers``, ``label`` (the current consensus,
        missing for items without answers), ``confidence`` (its posterior).
        Ties in the score go to the item with fewer answers, then to table order.

    Raises
    ------
    InputError
        An unfitted or distributed model, a bad ``n``/``strategy``.

    Examples
    --------
    >>> import crowdagg
    >>> from crowdagg.datasets import make_crowd
    >>> crowd = make_crowd(200, 20, 3, per_item=2, random_state=0)
    >>> ds = crowdagg.DawidSkene().fit(crowd.annotations)
    >>> nxt = crowdagg.active.next_items(ds, 5, strategy="expected_gain")
    >>> list(nxt.columns)[:3]
    ['rank', 'item', 'score']
    """
    n = check_int("n", n, 0)
    check_choice("strategy", strategy, STRATEGIES)
    table, probas = _fitted(model)
    post = probas.to_numpy(dtype=np.float64)
    rng = check_random_state(random_state)
    ent = _entropy(post)
    cols: dict[str, Any] = {}
    if strategy == "entropy":
        score = ent
    elif strategy == "expected_gain":
        score = expected_gain(model, pool=pool, max_pool=max_pool, random_state=rng).to_numpy()
        cols["expected_gain"] = score
    else:
        score = rng.random(post.shape[0])
    counts = table.item_counts()
    candidates = np.ones(post.shape[0], dtype=bool)
    if exclude is not None:
        ex = pd.Index(list(exclude) if not isinstance(exclude, (pd.Index, pd.Series, np.ndarray)) else exclude)
        pos = probas.index.get_indexer(ex) if len(ex) else np.empty(0, np.int64)
        candidates[pos[pos >= 0]] = False
    cand = np.flatnonzero(candidates)
    # best score first; ties: fewer answers, then table order (lexsort: last key is primary)
    order = cand[np.lexsort((cand, counts[cand], -score[cand]))][:n]
    labels = model.labels_
    label_codes = probas.columns.get_indexer(np.asarray(labels)) if probas.columns.is_unique else \
        np.full(post.shape[0], -1, np.int64)
    out = pd.DataFrame({
        "rank": np.arange(1, len(order) + 1, dtype=np.int64),
        "item": probas.index.take(order),
        "score": score[order],
        "entropy": ent[order],
        **{k: v[order] for k, v in cols.items()},
        "n_answers": counts[order].astype(np.int64),
        "label": labels.iloc[order].to_numpy() if isinstance(labels, pd.Series) else labels[order],
        "confidence": label_confidence(post[order], label_codes[order]),
    })
    out["label"] = out["label"].astype(labels.dtype)
    return out
