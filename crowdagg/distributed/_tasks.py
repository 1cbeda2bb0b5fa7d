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
from ..factorize import _lookup
from ..kernels.agreement import pair_keys
from ..results import decode_labels, label_confidence
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
        where = _lookup(t.items, gold_items)  # the local table's rule (gold.gold_label_codes' twin for items)
        has = where >= 0
        out[where[has]] = gold_codes[has]
    return out


def n_gold(gold: np.ndarray) -> int:
    return int((gold >= 0).sum())


# --------------------------------------------------------------------------- EM
def vote(piece: Piece, weights: np.ndarray, gold: np.ndarray | None, tie_seed: int | None = None,
         width: int | None = None) -> PieceState:
    """(Weighted) vote shares (gold one-hot when ``gold`` is given), winning codes as ``stats``;
    a plug-in ``width`` other than the number of labels (:meth:`EMModel.posterior_width`):
    zero posteriors of that width and codes ``-1``, as :meth:`crowdagg.em.LocalExecutor.vote`."""
    t = piece.table
    if width is not None and width != t.n_labels:
        return PieceState(np.zeros((t.n_items, width)), 0.0, np.full(t.n_items, -1, dtype=np.int64))
    post, out = initial_posteriors(t, gold, False, weights, tie_seed)
    return PieceState(post, 0.0, out)


def e_step(model: EMModel, piece: Piece, gold: np.ndarray, prepared: Any, items: dict[str, np.ndarray],
           accumulate: bool) -> PieceState:
    """The plug-in's ``e_step_table`` over the piece (posteriors: items x ``model.posterior_width``)."""
    t = piece.table
    state = PieceState(np.empty((t.n_items, model.posterior_width(t.n_labels))), 0.0, None)
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
    df.insert(0, "confidence", label_confidence(state.post, codes))
    df.insert(0, "label", lab.to_numpy())
    return df


def posterior_series(piece: Piece, state: PieceState, fn: Callable[[np.ndarray], np.ndarray], name: str
                     ) -> pd.Series:
    return item_series(piece, fn(state.post), name)


def item_series(piece: Piece, values: np.ndarray, name: str) -> pd.Series:
    return pd.Series(values, index=piece.table.items.rename("item"), name=name)


# --------------------------------------------------------------------------- agreement
def on_table(fn: Callable[..., Any], piece: Piece, *args: Any) -> Any:
    """``fn(piece.table, *args)``: a function of :mod:`crowdagg._agreement_common` on the piece."""
    return fn(piece.table, *args)


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
