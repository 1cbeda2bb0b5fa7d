"""Functions that run inside Dask tasks, one call per piece (partition).

The EM tasks are generic: each builds the piece's :class:`~crowdagg.em.EMContext`
(``parallel=False``: the *serial* slice kernels, never the ``parallel=True``
twins, whose thread pool would nest inside Dask's worker threads) and calls the
plug-in's own slice-level method on it (:mod:`crowdagg.em` describes the
contract).  E-step tasks return a :class:`PieceState` -- the piece's posteriors
and the plug-in's cache, which stay on the worker, and the small statistics that
the client tree-sums.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..em import EMContext, EMModel, add, em_label_codes, initial_posteriors
from ..kernels.agreement import alpha_item_slice, item_label_counts, pair_keys, weighted_pairs_slice
from ..results import decode_labels
from .table import Piece

__all__ = ["PieceState", "add"]


@dataclass
class PieceState:
    """Posteriors of one piece (kept on its worker), its statistics and the plug-in's cache."""

    post: np.ndarray
    loglik: float
    stats: Any
    cache: dict[str, Any] = field(default_factory=dict)


def _part(piece: Piece, gold: np.ndarray, cache: dict[str, Any]) -> EMContext:
    return EMContext(table=piece.table, gold=gold, parallel=False, cache=cache)


def loglik_and_stats(state: PieceState) -> tuple[float, Any]:
    """The small part of a state, the one sent to the client."""
    return state.loglik, state.stats


def take(x: Any, i: int) -> Any:
    return x[i]


def codes(state: PieceState) -> Any:
    return state.stats


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


# --------------------------------------------------------------------------- EM
def vote(piece: Piece, weights: np.ndarray, gold: np.ndarray | None) -> PieceState:
    """(Weighted) vote shares (gold one-hot when ``gold`` is given), winning codes as ``stats``."""
    post, out = initial_posteriors(piece.table, gold, False, weights)
    return PieceState(post, 0.0, out)


def e_step(model: EMModel, piece: Piece, gold: np.ndarray, prepared: Any, items: dict[str, np.ndarray],
           accumulate: bool) -> PieceState:
    """The plug-in's ``e_step_table`` over the piece."""
    t = piece.table
    state = PieceState(np.empty((t.n_items, t.n_labels)), 0.0, None)
    ll, state.stats = model.e_step_table(_part(piece, gold, state.cache), prepared, items, state.post, accumulate)
    state.loglik = float(ll)
    return state


def stats_from_posteriors(model: EMModel, piece: Piece, gold: np.ndarray, state: PieceState) -> Any:
    return model.stats_from_posteriors(_part(piece, gold, state.cache), state.post)


def map_piece(fn: Callable[..., tuple[Any, Any]], piece: Piece, gold: np.ndarray, state: PieceState,
              broadcast: Any, items: tuple[np.ndarray, ...]) -> tuple[Any, Any]:
    """A plug-in's ``map_reduce`` function over the piece (posteriors and cache of its state)."""
    return fn(_part(piece, gold, state.cache), state.post, broadcast, items)


# --------------------------------------------------------------------------- results
def result_frame(piece: Piece, state: PieceState, gold: np.ndarray, codes: np.ndarray | None,
                 label_dtype: Any) -> pd.DataFrame:
    """Columns ``label``, ``confidence``, then one per label (posteriors), indexed by item id
    (``codes``: the labels; ``None``: the EM rule, :func:`crowdagg.em.em_label_codes`)."""
    t = piece.table
    if codes is None:
        codes = em_label_codes(t, state.post, gold)
    lab = decode_labels(t.labels, codes, t.items).astype(label_dtype)
    df = pd.DataFrame(state.post, index=t.items.rename("item"), columns=[f"proba_{c}" for c in t.labels])
    df.insert(0, "confidence", state.post.max(axis=1) if t.n_labels else 0.0)
    df.insert(0, "label", lab.to_numpy())
    return df


def posterior_series(piece: Piece, state: PieceState, fn: Callable[[np.ndarray], np.ndarray], name: str
                     ) -> pd.Series:
    return item_series(piece, fn(state.post), name)


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
