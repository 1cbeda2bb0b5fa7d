"""Functions that run inside Dask tasks, one call per piece (partition).

Each calls the *serial* slice kernels of :mod:`crowdagg.kernels` over all items
of its piece (``start=0, stop=n_items``): never the ``parallel=True`` twins,
whose thread pool would nest inside Dask's worker threads.  E-step tasks return
a :class:`PieceState` -- the piece's posteriors, which stay on the worker, and
the small statistics that the client tree-sums.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..kernels.agreement import alpha_item_slice, item_label_counts, pair_keys, weighted_pairs_slice
from ..kernels.em import ds_counts_slice, ds_estep_slice, oc_estep_slice
from ..kernels.glad import glad_estep_slice, glad_items_slice
from ..kernels.mace import mace_estep_slice
from ..kernels.mv import mv_slice
from ..results import decode_labels
from .table import Piece


@dataclass
class PieceState:
    """Posteriors of one piece (kept on its worker) and its statistics."""

    post: np.ndarray
    loglik: float
    stats: Any


# --------------------------------------------------------------------------- reductions
def add(*parts: Any) -> Any:
    """Elementwise sum of equally-shaped nests of tuples/arrays/floats (tree reduction node)."""
    first = parts[0]
    if first is None:
        return None
    if isinstance(first, tuple):
        return tuple(add(*(p[i] for p in parts)) for i in range(len(first)))
    out = first.copy() if isinstance(first, np.ndarray) else first
    for p in parts[1:]:
        out = out + p
    return out


def loglik_and_stats(state: PieceState) -> tuple[float, Any]:
    """The small part of a state, the one sent to the client."""
    return state.loglik, state.stats


# --------------------------------------------------------------------------- gold
def piece_gold(piece: Piece, gold_items: pd.Index | None, gold_codes: np.ndarray | None) -> np.ndarray:
    """Gold label code per item of the piece (-1: none)."""
    t = piece.table
    out = np.full(t.n_items, -1, dtype=np.int64)
    if gold_items is not None and len(gold_items):
        pos = gold_items.get_indexer(t.items)
        has = pos >= 0
        out[has] = gold_codes[pos[has]]
    return out


def n_gold(gold: np.ndarray) -> int:
    return int((gold >= 0).sum())


def _apply_gold(post: np.ndarray, gold: np.ndarray) -> None:
    has = gold >= 0
    if has.any():
        post[has] = 0.0
        post[np.flatnonzero(has), gold[has]] = 1.0


def _used(piece: Piece, gold: np.ndarray) -> np.ndarray:
    return (piece.table.item_counts() > 0) | (gold >= 0)


# --------------------------------------------------------------------------- majority vote
def mv_state(piece: Piece, weights: np.ndarray, gold: np.ndarray | None) -> PieceState:
    """Vote shares (gold one-hot when ``gold`` is given) and winning codes as ``stats``."""
    t = piece.table
    post = np.empty((t.n_items, t.n_labels))
    out = np.empty(t.n_items, dtype=np.int64)
    mv_slice(t.item_ptr, t.label_codes, t.worker_codes, weights, t.n_labels, np.full(t.n_items, -1.0),
             0, t.n_items, post, out)
    if gold is not None:
        _apply_gold(post, gold)
    return PieceState(post, 0.0, out)


# --------------------------------------------------------------------------- E-steps
def ds_estep(piece: Piece, gold: np.ndarray, prep: tuple[np.ndarray, np.ndarray], accumulate: bool) -> PieceState:
    log_prior, logct = prep
    t = piece.table
    k = t.n_labels
    post = np.empty((t.n_items, k))
    counts = np.zeros((t.n_workers, k, k))
    tot = np.zeros(k)
    ll = ds_estep_slice(t.item_ptr, t.worker_label_pairs, gold, log_prior, logct.reshape(-1, k), 0, t.n_items,
                        post, counts.reshape(-1, k), tot, accumulate)
    return PieceState(post, float(ll), (counts, tot))


def _ds_counts(piece: Piece, gold: np.ndarray, post: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts (workers x observed x true) and class totals from given posteriors,
    in item order (no worker grouping of the piece needed)."""
    t = piece.table
    k = t.n_labels
    counts, tot = np.zeros((t.n_workers, k, k)), np.zeros(k)
    ds_counts_slice(t.item_ptr, t.worker_label_pairs, gold, post, 0, t.n_items, counts.reshape(-1, k), tot)
    return counts, tot


def _hard(post: np.ndarray) -> np.ndarray:
    hard = np.zeros_like(post)
    hard[np.arange(post.shape[0]), np.argmax(post, axis=1)] = 1.0
    return hard


def fds_estep(piece: Piece, gold: np.ndarray, prep: tuple[np.ndarray, np.ndarray], accumulate: bool) -> PieceState:
    st = ds_estep(piece, gold, prep, False)
    if accumulate:
        st.stats = _ds_counts(piece, gold, _hard(st.post))
    return st


def oc_estep(piece: Piece, gold: np.ndarray, prep: tuple[np.ndarray, ...], accumulate: bool) -> PieceState:
    log_prior, log_s, log_e = prep
    t = piece.table
    k = t.n_labels
    post = np.empty((t.n_items, k))
    corr = np.zeros(t.n_workers)
    tot = np.zeros(k)
    ll = oc_estep_slice(t.item_ptr, t.worker_codes, t.label_codes, gold, log_prior, log_s, log_e,
                        0, t.n_items, post, corr, tot, accumulate)
    return PieceState(post, float(ll), (corr, tot))


def mace_estep(piece: Piece, gold: np.ndarray, prep: tuple[np.ndarray, ...], accumulate: bool) -> PieceState:
    log_prior, log_spam, log_both, log_know = prep
    t = piece.table
    k = t.n_labels
    post = np.empty((t.n_items, k))
    know = np.zeros(t.n_workers)
    strat = np.zeros((t.n_workers, k))
    ll = mace_estep_slice(t.item_ptr, t.worker_codes, t.label_codes, gold, log_prior, log_spam, log_both,
                          log_know, 0, t.n_items, post, know, strat, accumulate)
    return PieceState(post, float(ll), (know, strat))


@dataclass
class GladPieceState(PieceState):
    """A GLAD piece's state: also the E-step's per-item evaluation (kept on the worker),
    from which the next M-step's first item pass starts."""

    item_stats: np.ndarray | None = None


def glad_estep(piece: Piece, gold: np.ndarray, prep: tuple[np.ndarray, np.ndarray, float, float],
               log_betas: np.ndarray, accumulate: bool) -> PieceState:
    log_prior, alphas, lb_mean, lb_sd = prep
    t = piece.table
    post = np.empty((t.n_items, t.n_labels))
    stats = np.empty((t.n_items, 4)) if accumulate else None
    ll = glad_estep_slice(t.item_ptr, t.worker_codes, t.label_codes, gold, log_prior, alphas, log_betas,
                          0, t.n_items, post, lb_mean, lb_sd, stats)
    return GladPieceState(post, float(ll), None, stats)


ESTEPS = {"ds": ds_estep, "fds": fds_estep, "oc": oc_estep, "mace": mace_estep}


# --------------------------------------------------------------------------- statistics from posteriors (init="mv")
def init_stats(kind: str, piece: Piece, gold: np.ndarray, state: PieceState) -> Any:
    """Sufficient statistics of a plug-in's ``params_from_posteriors`` for one piece."""
    t = piece.table
    post = state.post
    k = t.n_labels
    if kind == "ds":
        return _ds_counts(piece, gold, post)
    if kind == "fds":
        return _ds_counts(piece, gold, _hard(post))
    if kind == "oc":
        corr = np.bincount(t.worker_codes, weights=post[t.item_codes, t.label_codes], minlength=t.n_workers)
        return corr, post[_used(piece, gold)].sum(axis=0)
    if kind == "mace":
        r = post[t.item_codes, t.label_codes] * (0.5 / (0.5 / k + 0.5))
        know = np.bincount(t.worker_codes, weights=r, minlength=t.n_workers)
        strat = np.zeros((t.n_workers, k))
        np.add.at(strat, (t.worker_codes, t.label_codes), 1.0 - r)
        return know, strat
    raise ValueError(kind)  # pragma: no cover


# --------------------------------------------------------------------------- GLAD M-step (item pass)
def glad_items(piece: Piece, state: PieceState, gold: np.ndarray, prep: tuple[np.ndarray, np.ndarray],
               log_betas: np.ndarray, marginal: bool, settings: tuple[float, float, int], use_stats: bool
               ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray, float]]:
    """The piece's updated ``log_betas`` and its per-worker sums (gradient, curvature,
    largest ``beta``) with its largest change; see :func:`~crowdagg.kernels.glad.glad_items_slice`
    (``use_stats``: start from the E-step's evaluation kept in the state)."""
    log_prior, alphas = prep
    lb_mean, lb_sd, n_newton = settings
    t = piece.table
    lb = np.array(log_betas, dtype=np.float64)
    grad, curv, rmax = np.zeros(t.n_workers), np.zeros(t.n_workers), np.zeros(t.n_workers)
    start = getattr(state, "item_stats", None) if use_stats else None
    change = glad_items_slice(t.item_ptr, t.worker_codes, t.label_codes, gold, log_prior, state.post, marginal,
                              alphas, lb, lb_mean, lb_sd, n_newton, 0, t.n_items, grad, curv, rmax, start)
    return lb, (grad, curv, rmax, float(change))


def add_add_max_max(*parts: tuple[np.ndarray, np.ndarray, np.ndarray, float]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Reduction node of :func:`glad_items` sums: the first two summed, the last two by maximum."""
    return (add(*(p[0] for p in parts)), add(*(p[1] for p in parts)),
            np.maximum.reduce([p[2] for p in parts]), max(p[3] for p in parts))


def take(x: Any, i: int) -> Any:
    return x[i]


# --------------------------------------------------------------------------- results
def result_frame(piece: Piece, state: PieceState, codes: np.ndarray, label_dtype: Any) -> pd.DataFrame:
    """Columns ``label`` then one per label (posteriors), indexed by item id."""
    t = piece.table
    lab = decode_labels(t.labels, codes, t.items)
    lab = lab.astype(label_dtype)
    df = pd.DataFrame(state.post, index=t.items.rename("item"), columns=[f"proba_{c}" for c in t.labels])
    df.insert(0, "confidence", state.post.max(axis=1) if t.n_labels else 0.0)
    df.insert(0, "label", lab.to_numpy())
    return df


def label_codes_em(piece: Piece, state: PieceState, gold: np.ndarray) -> np.ndarray:
    """Argmax, ``-1`` for items with no annotation and no gold (as the local engine)."""
    codes = np.argmax(state.post, axis=1).astype(np.int64)
    codes[(piece.table.item_counts() == 0) & (gold < 0)] = -1
    return codes


def entropy_series(piece: Piece, state: PieceState) -> pd.Series:
    post = state.post
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(post > 0.0, post * np.log(post), 0.0)
    return pd.Series(np.maximum(-terms.sum(axis=1), 0.0), index=piece.table.items.rename("item"), name="entropy")


def item_series(piece: Piece, values: np.ndarray, name: str) -> pd.Series:
    return pd.Series(values, index=piece.table.items.rename("item"), name=name)


# --------------------------------------------------------------------------- agreement
def alpha_marginals(piece: Piece) -> tuple[np.ndarray, float, float]:
    """Pairable label marginals, pairable item count and pairable annotation count."""
    t = piece.table
    r = np.diff(t.item_ptr)
    ann = np.repeat(r >= 2, r)
    marg = np.bincount(t.label_codes[ann], minlength=t.n_labels).astype(np.float64)
    return marg, float((r >= 2).sum()), float(ann.sum())


def alpha_terms(piece: Piece, metric: int, values: np.ndarray, cum: np.ndarray, marg: np.ndarray
                ) -> tuple[float, np.ndarray, np.ndarray]:
    """Observed disagreement sum; per pairable item ``r_i``, ``D_i`` (kept for the SE pass)."""
    t = piece.table
    nd, lab, cnt = item_label_counts(t.item_ptr, t.label_codes, t.n_labels, parallel=False)
    r_item = np.empty(t.n_items)
    do_item = np.empty(t.n_items)
    alpha_item_slice(t.item_ptr, nd, lab, cnt, metric, values, cum, marg, 0, t.n_items, r_item, do_item)
    return float(do_item.sum()), r_item, do_item


def alpha_se_terms(piece: Piece, terms: tuple[float, np.ndarray, np.ndarray], dmax: float, rbar: float,
                   pa: float, pe: float, alpha_prime: float, piw: np.ndarray) -> float:
    """``sum_i (x_i - alpha')^2`` over the piece's pairable items (Gwet 2014 linearisation)."""
    t = piece.table
    _, r_item, do_item = terms
    r_all = np.diff(t.item_ptr)
    pm = r_all >= 2
    if not pm.any():
        return 0.0
    ann = np.repeat(pm, r_all)
    r = r_item[pm]
    d_i = do_item[pm] / dmax
    pe_num = np.bincount(t.item_codes[ann], weights=piw[t.label_codes[ann]], minlength=t.n_items)[pm]
    pa_i = (r - d_i) / rbar - pa * (r - rbar) / rbar
    k_i = (pa_i - pe) / (1 - pe)
    pe_i = pe_num / rbar - pe * (r - rbar) / rbar
    x_i = k_i - 2 * (1 - alpha_prime) * (pe_i - pe) / (1 - pe)
    return float(((x_i - alpha_prime) ** 2).sum())


def family_terms(piece: Piece, w: np.ndarray) -> tuple[tuple[float, float, float, np.ndarray], np.ndarray]:
    """Fleiss-family sums ``(n rated, n with two ratings, sum pa_i, pi numerator)`` and per-item ``pa_i``."""
    t = piece.table
    r_all = np.diff(t.item_ptr).astype(np.float64)
    nd, lab, cnt = item_label_counts(t.item_ptr, t.label_codes, t.n_labels, parallel=False)
    sq = np.empty(t.n_items)
    weighted_pairs_slice(t.item_ptr, nd, lab, cnt, w, 0, t.n_items, sq)
    two = r_all >= 2
    den = np.where(two, r_all * (r_all - 1), 1.0)
    pa_item = np.where(two, sq / den, 0.0)
    inv_r = 1.0 / r_all[t.item_codes] if t.n_annotations else np.zeros(0)
    pi_num = np.bincount(t.label_codes, weights=inv_r, minlength=t.n_labels)
    sums = (float((r_all >= 1).sum()), float(two.sum()), float(pa_item[two].sum()), pi_num)
    return sums, pa_item


def family_se_terms(piece: Piece, pa_item: np.ndarray, kind: int, pi: np.ndarray, w: np.ndarray, pe: float,
                    value: float, n: int, n2: int, q: int) -> float:
    """``sum_i (x_i - value)^2`` over the piece's rated items (irrCAC linearisation)."""
    t = piece.table
    r_all = np.diff(t.item_ptr).astype(np.float64)
    ic, lc = t.item_codes, t.label_codes
    two = r_all >= 2
    rated = r_all >= 1
    if kind == 0:
        piw = (w @ pi + w.T @ pi) / 2
        pe_item = np.bincount(ic, weights=piw[lc], minlength=t.n_items) / np.maximum(r_all, 1)
    elif kind == 1:
        sum_w = float(w.sum())
        pe_item = (sum_w / (q * (q - 1))) * np.bincount(ic, weights=(1 - pi)[lc], minlength=t.n_items) \
            / np.maximum(r_all, 1)
    else:
        pe_item = None
    x = (n / n2) * (pa_item - pe * two) / (1 - pe)
    if pe_item is not None:
        x = x - 2 * (1 - value) * (pe_item - pe) / (1 - pe)
    x = x[rated]
    return float(((x - value) ** 2).sum())


def pair_counts(piece: Piece, n_labels: int) -> pd.Series:
    """Pairwise-Cohen contingency counts of the piece: Series indexed by
    ``(pair key, la * q + lb)`` (pair key ``wa * n_workers + wb``, ``wa < wb``)."""
    t = piece.table
    key, la, lb = pair_keys(t.item_ptr, t.worker_codes.astype(np.int64), t.label_codes.astype(np.int64),
                            t.n_workers)
    if key.size == 0:
        return pd.Series(np.zeros(0, np.int64), index=pd.MultiIndex.from_arrays(
            [np.zeros(0, np.int64), np.zeros(0, np.int64)], names=["pair", "cell"]), name="n")
    cell = la * n_labels + lb
    df = pd.DataFrame({"pair": key, "cell": cell})
    return df.groupby(["pair", "cell"], sort=True).size().rename("n")


def add_counts(*parts: pd.Series) -> pd.Series:
    """Sum sparse contingency counts (tree reduction node)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.Series(np.zeros(0, np.int64), index=pd.MultiIndex.from_arrays(
            [np.zeros(0, np.int64), np.zeros(0, np.int64)], names=["pair", "cell"]), name="n")
    if len(parts) == 1:
        return parts[0]
    return pd.concat(parts).groupby(level=["pair", "cell"], sort=True).sum()
