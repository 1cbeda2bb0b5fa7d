"""The Dask executor: :func:`crowdagg.em.run_em` with the parts mapped over Dask pieces.

Per iteration the client broadcasts the plug-in's ``prepare`` output once; a task per
piece runs its ``e_step_table`` (serial slice kernels), keeping the piece's posteriors
and cache on the worker; the statistics are tree-summed (``fan_in`` per node) for the
plug-in's ``m_step`` on the client, whose data passes (GLAD) go through
:meth:`DaskExecutor.map_reduce`.  Loop, restarts, gold, warm starts and warnings are
the local path's (:mod:`crowdagg.em`); per-item parameters are held by the client and
split by piece.  See ``docs/distributed.md`` for the dataflow and measured costs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from dask.sizeof import sizeof

from .._validation import check_int
from ..em import EMContext, EMModel, _check_finite
from ..errors import GoldError, InputError
from ..gold import gold_by_item, gold_label_codes
from . import _tasks as T
from .results import DaskAggregationResult, label_meta_dtype
from .table import DaskAnnotationTable

__all__ = ["DaskExecutor", "fit", "tree_sum", "FAN_IN"]

#: Pieces summed per node of the reduction tree.
FAN_IN = 8


def tree_sum(client: Any, futures: list[Any], fan_in: int = FAN_IN, combine: Any = None) -> Any:
    """Sum futures with a tree of ``combine`` tasks (default :func:`crowdagg.em.add`); the root future."""
    combine = T.add if combine is None else combine
    level = list(futures)
    while len(level) > 1:
        level = [client.submit(combine, *level[i:i + fan_in], pure=False) if len(level[i:i + fan_in]) > 1
                 else level[i] for i in range(0, len(level), fan_in)]
    return level[0]


class DaskExecutor:
    """Runs EM plug-ins over a :class:`DaskAnnotationTable` (see the module docstring);
    the interface of :class:`crowdagg.em.LocalExecutor`.

    Attributes
    ----------
    ctx : EMContext
        The driver's context: the codebook table (worker and label ids), the sizes of
        the whole data, worker counts, the random generator.
    posteriors : list of distributed.Future
        The current :class:`~crowdagg.distributed._tasks.PieceState` of every piece.
    bytes_per_iteration : list of int
        Per iteration: bytes of the prepared parameters broadcast to the pieces plus
        bytes of the statistics sent by every piece into the reduction tree.
    """

    def __init__(self, dtable: DaskAnnotationTable, gold: Any = None, rng: np.random.Generator | None = None,
                 fan_in: int = FAN_IN) -> None:
        self.dt = dtable
        self.client = dtable.client
        self.fan_in = fan_in
        self.ctx = EMContext(table=dtable.codebook, gold=None, parallel=False,
                             rng=rng if rng is not None else np.random.default_rng(0),
                             sizes=(dtable.n_items, dtable.n_workers, dtable.n_labels, dtable.n_annotations),
                             counts=dtable.worker_counts(), _items=dtable.item_index)
        self.gold = encode_gold(dtable, gold)
        self.posteriors: list[Any] | None = None
        self.bytes_per_iteration: list[int] = []
        self._moved = 0
        self._models: dict[int, tuple[EMModel, Any]] = {}
        self._offsets = np.concatenate([[0], np.cumsum(dtable.partition_sizes()[:, 0])]).astype(np.int64)

    # ----------------------------------------------------------------- helpers
    def _submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.client.submit(fn, *args, pure=False)

    def _broadcast(self, obj: Any) -> Any:
        return self.client.scatter(obj, broadcast=True, hash=False)

    def _reduce(self, futures: list[Any]) -> Any:
        return self.client.gather(tree_sum(self.client, futures, self.fan_in))

    def _model(self, model: EMModel) -> Any:
        """The plug-in, sent to the workers once per executor."""
        if id(model) not in self._models:
            self._models[id(model)] = (model, self._broadcast(model))
        return self._models[id(model)][1]

    def _split(self, arr: np.ndarray, i: int) -> np.ndarray:
        return arr[self._offsets[i]:self._offsets[i + 1]]

    # ----------------------------------------------------------------- the executor interface
    def start(self, model: EMModel | None = None) -> None:
        """Forget the posteriors (each E-step task allocates its piece's, items x
        ``model.posterior_width(n_labels)``)."""
        self.posteriors = None

    def vote(self, weights: np.ndarray | None = None, gold: bool = True, tie_seed: int | None = None,
             model: EMModel | None = None) -> list[Any]:
        """Vote shares per piece (a ``model`` whose posterior width is not the number of
        labels: zero posteriors of its width, codes ``-1``); futures of the winning codes."""
        w = self._broadcast(np.ones(self.dt.n_workers) if weights is None else weights)
        width = None if model is None else int(model.posterior_width(self.dt.n_labels))
        self.posteriors = [self._submit(T.vote, p, w, g if gold else None, tie_seed, width)
                           for p, g in zip(self.dt.pieces, self.gold)]
        return [self._submit(T.codes, s) for s in self.posteriors]

    def e_step(self, model: EMModel, params: dict[str, np.ndarray], accumulate: bool) -> tuple[float, Any]:
        prepared = model.prepare(self.ctx, params)
        pfut, mfut = self._broadcast(prepared), self._model(model)
        self.posteriors = [
            self._submit(T.e_step, mfut, p, g, pfut, {n: self._split(params[n], i) for n in model.item_params},
                         accumulate)
            for i, (p, g) in enumerate(zip(self.dt.pieces, self.gold))]
        ll, stats = self._reduce([self._submit(T.loglik_and_stats, s) for s in self.posteriors])
        self._moved = (sizeof(prepared) + sizeof(stats)) * len(self.dt.pieces)  # dask's estimate
        return float(ll) + model.loglik_offset(self.ctx, params), stats

    def stats_from_posteriors(self, model: EMModel) -> Any:
        mfut = self._model(model)
        return self._reduce([self._submit(T.stats_from_posteriors, mfut, p, g, s)
                             for p, g, s in zip(self.dt.pieces, self.gold, self.posteriors)])

    def map_reduce(self, fn: Callable[..., tuple[Any, Any]], broadcast: Any, items: tuple[np.ndarray, ...] = ()
                   ) -> tuple[Any, Any]:
        """``fn(part, post, broadcast, items)`` on every piece (its items' rows of ``items``):
        the per-item outputs joined in item order, the rest tree-summed."""
        bfut = self._broadcast(broadcast)
        futs = [self._submit(T.map_piece, fn, p, g, s, bfut, tuple(self._split(a, i) for a in items))
                for i, (p, g, s) in enumerate(zip(self.dt.pieces, self.gold, self.posteriors))]
        reduced = tree_sum(self.client, [self._submit(T.take, f, 1) for f in futs], self.fan_in)
        parts = self.client.gather([self._submit(T.take, f, 0) for f in futs])
        joined = None if parts[0] is None else tuple(np.concatenate([p[j] for p in parts])
                                                     for j in range(len(parts[0])))
        return joined, self.client.gather(reduced)

    def end_iteration(self) -> None:
        self.bytes_per_iteration.append(self._moved)

    def check_finite(self, model: EMModel, post: Any, params: dict[str, np.ndarray]) -> None:
        _check_finite(model, None, params)

    def _series(self, parts: list[Any], name: str) -> Any:
        import dask.dataframe as dd

        meta = pd.Series(np.zeros(0), index=pd.Index([], dtype=self.dt.item_dtype, name="item"), name=name)
        return dd.from_delayed(parts, meta=meta, verify_meta=False)

    def item_series(self, values: np.ndarray, name: str) -> Any:
        """A per-item array held by the client, as a Dask Series by item id."""
        import dask

        return self._series([dask.delayed(T.item_series)(p, self._split(values, i), name)
                             for i, p in enumerate(self.dt.pieces)], name)

    def posterior_series(self, fn: Callable[[np.ndarray], np.ndarray], name: str) -> Any:
        """``fn(posteriors)`` of the result, per piece, as a Dask Series by item id."""
        import dask

        return self._series([dask.delayed(T.posterior_series)(p, s, fn, name)
                             for p, s in zip(self.dt.pieces, self._result)], name)

    def set_result(self, estimator: Any, post: list[Any], codes: list[Any] | None = None) -> None:
        """``result_`` (:class:`DaskAggregationResult`), ``labels_``, ``probas_``, ``table_``
        and ``bytes_per_iteration_``."""
        import dask
        import dask.dataframe as dd

        self._result = post
        dtype = label_meta_dtype(self.dt.labels)
        codes = codes if codes is not None else [None] * len(post)
        parts = [dask.delayed(T.result_frame)(p, s, g, c, dtype)
                 for p, s, g, c in zip(self.dt.pieces, post, self.gold, codes)]
        result = DaskAggregationResult(dd.from_delayed(parts, meta=_frame_meta(self.dt), verify_meta=False),
                                       self.dt.labels)
        estimator.store_result(self.dt, result,
                               bytes_per_iteration_=np.asarray(self.bytes_per_iteration, dtype=np.int64))


def _frame_meta(dt: DaskAnnotationTable) -> pd.DataFrame:
    idx = pd.Index([], dtype=dt.item_dtype, name="item")
    df = pd.DataFrame({"label": pd.Series([], dtype=label_meta_dtype(dt.labels)),
                       "confidence": pd.Series([], dtype=np.float64)}, index=idx)
    for c in dt.labels:
        df[f"proba_{c}"] = pd.Series([], dtype=np.float64, index=idx)
    return df


# --------------------------------------------------------------------------- gold
def encode_gold(dt: DaskAnnotationTable, gold: Any) -> list[Any]:
    """Per-piece gold-code futures (all ``-1`` without gold); :class:`GoldError` as the local table."""
    client = dt.client
    if gold is None:
        return [client.submit(T.piece_gold, p, None, None, pure=False) for p in dt.pieces]
    idx, values = gold_by_item(gold)
    codes = gold_label_codes(dt.codebook, values)
    gi = client.scatter(idx, broadcast=True, hash=False)
    gc = client.scatter(codes, broadcast=True, hash=False)
    futs = [client.submit(T.piece_gold, p, gi, gc, pure=False) for p in dt.pieces]
    found = sum(client.gather([client.submit(T.n_gold, f, pure=False) for f in futs]))
    if found != len(idx):
        raise GoldError(f"gold names {len(idx) - found} item(s) not in the table")
    return futs


# --------------------------------------------------------------------------- public entry point
def fit(estimator: Any, table: DaskAnnotationTable, *, gold: Any = None, init_params: Any = None,
        fan_in: int = FAN_IN) -> Any:
    """``estimator.fit(table, gold=gold, init_params=init_params)`` with the reduction tree's
    ``fan_in`` (pieces per node); returns the estimator.

    Every :class:`~crowdagg.em.EMAggregator` (users' subclasses and plug-ins included)
    and :class:`~crowdagg.MajorityVote` (``tie="first"``) fit a distributed table
    (``parallel`` is ignored).  Per-item fitted attributes (``labels_``, ``probas_``,
    ``result_``, GLAD's ``betas_``, MACE's ``entropies_``) are Dask collections,
    per-worker ones pandas; ``bytes_per_iteration_`` records the bytes each iteration
    moved.  Gold answers are broadcast to every piece (for a modest number of them).
    """
    if not isinstance(table, DaskAnnotationTable):
        raise InputError(f"fit expects a DaskAnnotationTable, got {type(table).__name__}")
    view = copy.copy(table)
    view.fan_in = check_int("fan_in", fan_in, 2)
    kwargs = {k: v for k, v in (("gold", gold), ("init_params", init_params)) if v is not None}
    return estimator.fit(view, **kwargs)
