"""Plain NumPy / SciPy references of the ordinal and multi-label EM updates, and the
generated crowds with a known truth that the accuracy tests use.

Written for obviousness, not speed: one loop or one formula per quantity, straight
from the model definitions in ``crowdagg/kernels/ordinal.py`` and
``crowdagg/kernels/multilabel.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import expit, logsumexp
from scipy.stats import norm


# --------------------------------------------------------------------------- ordinal
def ordinal_confusion(b: float, s: float, n_levels: int, lapse: float) -> np.ndarray:
    """``P[k, l]`` = probability of answering level ``l`` when the truth is ``k``."""
    cuts = np.concatenate([[-np.inf], np.arange(n_levels - 1) + 0.5, [np.inf]])
    out = np.empty((n_levels, n_levels))
    for k in range(n_levels):
        cdf = norm.cdf((cuts - k - b) / s)
        out[k] = (1 - lapse) * np.diff(cdf) + lapse / n_levels
    return out


def ordinal_objective(counts_w: np.ndarray, b: float, t: float, lapse: float, bias_sd: float,
                      ls_mean: float, ls_sd: float) -> float:
    """``sum_{k,l} counts_w[k, l] log P[k, l]`` plus the log priors (``counts_w``: true x observed)."""
    p = ordinal_confusion(b, np.exp(t), counts_w.shape[0], lapse)
    return float((counts_w * np.log(p)).sum() - 0.5 * (b / bias_sd) ** 2 - 0.5 * ((t - ls_mean) / ls_sd) ** 2)


def ordinal_mstep_worker(counts_w: np.ndarray, lapse: float, bias_sd: float, ls_mean: float, ls_sd: float,
                         start: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float]:
    """The maximiser ``(b, s)`` of :func:`ordinal_objective`, by SciPy's BFGS."""
    res = optimize.minimize(lambda x: -ordinal_objective(counts_w, x[0], x[1], lapse, bias_sd, ls_mean, ls_sd),
                            np.asarray(start, dtype=float), method="BFGS", options={"gtol": 1e-10})
    return float(res.x[0]), float(np.exp(res.x[1]))


def ordinal_em(items: np.ndarray, workers: np.ndarray, levels: np.ndarray, n_items: int, n_workers: int,
               n_levels: int, bias: np.ndarray, spread: np.ndarray, priors: np.ndarray, lapse: float,
               gold: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One E-step: posteriors, expected counts ``(workers, true, observed)``, class totals, log-likelihood."""
    conf = np.stack([ordinal_confusion(bias[w], spread[w], n_levels, lapse) for w in range(n_workers)])
    logp = np.tile(np.log(priors), (n_items, 1))
    for i, w, y in zip(items, workers, levels):
        logp[i] += np.log(conf[w, :, y])
    norm_ = logsumexp(logp, axis=1)
    post = np.exp(logp - norm_[:, None])
    answered = np.bincount(items, minlength=n_items) > 0
    ll = float(norm_[answered].sum())
    if gold is not None:
        for i in np.flatnonzero(gold >= 0):
            ll += float(logp[i, gold[i]] - (norm_[i] if answered[i] else 0.0))
            post[i] = 0.0
            post[i, gold[i]] = 1.0
    counts = np.zeros((n_workers, n_levels, n_levels))
    for i, w, y in zip(items, workers, levels):
        counts[w, :, y] += post[i]
    used = answered if gold is None else answered | (gold >= 0)
    return post, counts, post[used].sum(axis=0), ll


def make_ordinal_crowd(n_items: int = 400, n_workers: int = 40, n_levels: int = 5, per_item: int = 5,
                       seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Ordinal answers with per-worker bias and spread: worker ``w`` answers
    ``clip(round(z + b_w + s_w e), 0, K-1)``, ``e ~ N(0, 1)``, ``b_w ~ N(0, 0.6)``,
    ``s_w`` log-uniform in [0.3, 2.5]; true levels uniform.  Returns (answers, truth)."""
    rng = np.random.default_rng(seed)
    z = rng.integers(0, n_levels, n_items)
    b = rng.normal(0, 0.6, n_workers)
    s = np.exp(rng.uniform(np.log(0.3), np.log(2.5), n_workers))
    rows = []
    for i in range(n_items):
        for w in rng.choice(n_workers, per_item, replace=False):
            y = int(np.clip(np.round(z[i] + b[w] + s[w] * rng.normal()), 0, n_levels - 1))
            rows.append((i, f"w{w}", y))
    df = pd.DataFrame(rows, columns=["item", "worker", "label"])
    return df, pd.Series(z, index=pd.RangeIndex(n_items), name="truth")


def rounded_median(df: pd.DataFrame) -> pd.Series:
    """The per-item median answer, rounded half to even."""
    return np.round(df.groupby("item")["label"].median())


# --------------------------------------------------------------------------- multi-label
def multilabel_estep(answers: list[tuple[int, int, frozenset[int]]], n_items: int, n_labels: int,
                     se: np.ndarray, sp: np.ndarray, prev: np.ndarray) -> tuple[np.ndarray, float]:
    """Posteriors ``P(label c applies to item i)`` and the log-likelihood, with ``se``/``sp``
    workers x labels and ``prev`` per label; one binary question per (item, label)."""
    l1 = np.tile(np.log(prev), (n_items, 1))
    l0 = np.tile(np.log1p(-prev), (n_items, 1))
    answered = np.zeros(n_items, dtype=bool)
    for i, w, chosen in answers:
        answered[i] = True
        for c in range(n_labels):
            if c in chosen:
                l1[i, c] += np.log(se[w, c])
                l0[i, c] += np.log1p(-sp[w, c])
            else:
                l1[i, c] += np.log1p(-se[w, c])
                l0[i, c] += np.log(sp[w, c])
    post = expit(l1 - l0)
    ll = float(np.logaddexp(l1, l0)[answered].sum())
    return post, ll


def multilabel_mstep(answers: list[tuple[int, int, frozenset[int]]], post: np.ndarray, n_workers: int,
                     shared: bool, a: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MAP sensitivity / specificity (Beta(1 + a, 1 + a) priors, pooled over labels when
    ``shared``) and prevalences (same prior) from the posteriors."""
    n_items, n_labels = post.shape
    tp = np.zeros((n_workers, n_labels))
    pos = np.zeros((n_workers, n_labels))
    tn = np.zeros((n_workers, n_labels))
    neg = np.zeros((n_workers, n_labels))
    answered = np.zeros(n_items, dtype=bool)
    for i, w, chosen in answers:
        answered[i] = True
        for c in range(n_labels):
            pos[w, c] += post[i, c]
            neg[w, c] += 1 - post[i, c]
            if c in chosen:
                tp[w, c] += post[i, c]
            else:
                tn[w, c] += 1 - post[i, c]
    if shared:
        tp, pos, tn, neg = (np.repeat(x.sum(axis=1, keepdims=True), n_labels, axis=1) for x in (tp, pos, tn, neg))
    se = (tp + a) / (pos + 2 * a)
    sp = (tn + a) / (neg + 2 * a)
    tot = post[answered].sum(axis=0)
    prev = (tot + a) / (answered.sum() + 2 * a)
    return se, sp, prev


def make_multilabel_crowd(n_items: int = 400, n_workers: int = 40, n_labels: int = 8, per_item: int = 5,
                          seed: int = 0, sparse_share: float = 0.5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Checkbox answers: each label applies with probability 0.25; worker ``w`` ticks an
    applying label with probability ``se_w`` (in [0.3, 0.95]) and a wrong one with
    ``1 - sp_w`` (``sp_w`` in [0.6, 0.99]).  ``sparse_share`` of the workers are
    picked ten times less often.  Returns (answers with a list column, truth: items x labels bools)."""
    rng = np.random.default_rng(seed)
    truth = rng.random((n_items, n_labels)) < 0.25
    se = rng.uniform(0.3, 0.95, n_workers)
    sp = rng.uniform(0.6, 0.99, n_workers)
    weight = np.where(rng.random(n_workers) < sparse_share, 0.1, 1.0)
    weight /= weight.sum()
    names = [f"L{c}" for c in range(n_labels)]
    rows = []
    for i in range(n_items):
        for w in rng.choice(n_workers, per_item, replace=False, p=weight):
            tick = np.where(truth[i], rng.random(n_labels) < se[w], rng.random(n_labels) > sp[w])
            rows.append((i, f"w{w}", [names[c] for c in np.flatnonzero(tick)]))
    df = pd.DataFrame(rows, columns=["item", "worker", "labels"])
    return df, pd.DataFrame(truth, index=pd.RangeIndex(n_items), columns=names)


def per_label_majority(df: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Per-label majority vote: a label applies when more than half of an item's answers tick it."""
    n = df.groupby("item").size()
    out = {}
    for c in names:
        ticks = df.assign(t=df["labels"].map(lambda s, c=c: c in s)).groupby("item")["t"].sum()
        out[c] = ticks / n > 0.5
    return pd.DataFrame(out)


def macro_f1(pred: pd.DataFrame, truth: pd.DataFrame) -> float:
    """Mean over labels of the F1 score (a label with neither true nor predicted positives scores 1)."""
    scores = []
    for c in truth.columns:
        p = pred[c].to_numpy(dtype=bool)
        t = truth.loc[pred.index, c].to_numpy(dtype=bool)
        tp = (p & t).sum()
        denom = p.sum() + t.sum()
        scores.append(1.0 if denom == 0 else 2 * tp / denom)
    return float(np.mean(scores))
