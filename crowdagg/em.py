"""The shared EM engine behind every iterative aggregation method, local or on Dask.

One loop (:func:`run_em`) drives every method through an *executor*; a method is a
small *plug-in*, a subclass of :class:`EMModel`, written once against a
slice-level contract that both executors call:

* :class:`LocalExecutor` -- the whole in-memory table is one part, read with the
  parallel kernels;
* :class:`crowdagg.distributed.executor.DaskExecutor` -- one part per Dask piece
  (a piece *is* an :class:`~crowdagg.table.AnnotationTable` holding some items and
  the global worker and label codes), the serial slice kernels in one task per
  piece, the posteriors kept on the workers, the statistics tree-summed.

The engine handles initialisation, gold answers, warm starts, the iteration count
and stopping rule, the log-likelihood history and the
:class:`~crowdagg.errors.ConvergenceWarning`, once for both.
:class:`EMAggregator` wraps it all as a scikit-learn-style estimator, and
dispatches to the Dask executor when ``fit`` meets a distributed table
(:func:`~crowdagg.base.is_distributed_table`), for every plug-in -- users'
subclasses included.

The plug-in contract
--------------------
Parameters are a ``dict[str, numpy.ndarray]`` in the table's code order.  A
plug-in declares:

``worker_params`` : tuple of str
    Names of per-worker arrays (axis 0 = worker code).  On a warm start they are
    aligned by worker id; workers the previous model has not seen take the rows of
    :meth:`EMModel.default_params`.
``item_params`` : tuple of str
    Names of per-item arrays (axis 0 = item code, e.g. GLAD's ``log_betas``).  On a
    warm start they are aligned by item id; items the previous model has not seen
    (and every item when the source gives no item ids) take the rows of
    :meth:`EMModel.default_params`.  The executor splits them by part (each part
    receives its own items' rows as ``items``) and joins what parts return.
``global_params`` : tuple of str
    Every other parameter (class priors, ...), copied as they are on a warm start.
``label_axes`` : dict str -> tuple of int
    For each parameter, the axes that run over labels.
``convergence`` : {"loglik", "params"}
    What :meth:`EMModel.delta` measures.
``param_domains`` : dict str -> :class:`~crowdagg._validation.Domain`
    The range of each parameter, checked once on every warm start
    (:meth:`EMModel.check_params`); undeclared parameters must be finite.

and implements, where ``ctx`` is the :class:`EMContext` of the whole data (sizes,
worker counts, ids, random generator, iteration number) and ``part`` the
:class:`EMContext` of one part (its ``table``, ``gold`` codes, ``parallel`` flag,
``chunks()`` and a ``cache`` dict kept with the part's posteriors):

``default_params(ctx) -> params``
    The prior / "uniform" parameters (also for workers new to a warm start).
``prepare(ctx, params) -> prepared``
    The small arrays the kernels read (log parameters, ...): computed once per
    E-step on the driver and broadcast to every part.  Default: ``params``.
``e_step_table(part, prepared, items, post, accumulate) -> (loglik, stats)``
    Fill ``post`` (the part's items x labels, float64) keeping gold items one-hot
    (``part.gold[i] >= 0``); return the part's log-likelihood and the sufficient
    statistics of the next M-step (only when ``accumulate``).  Use the parallel
    kernels when ``part.parallel`` (the local table) and the serial slice kernel
    otherwise (a Dask piece).  ``stats`` must be *summable*: arrays, floats,
    ``None`` or tuples of them (see :func:`add`; :class:`Max` for maxima).
``stats_from_posteriors(part, post) -> stats``
    The same statistics from given posteriors (``init="mv"``: majority-vote shares).
``m_step(ctx, params, stats, executor) -> params``
    New parameters from the summed statistics (never from posteriors).  A method
    whose M-step needs passes over the data (GLAD's Newton steps) makes them with
    ``executor.map_reduce(fn, broadcast, items)``: ``fn(part, post, broadcast,
    items) -> (item_outputs, summable)`` runs on every part (a module-level
    function or a static method: it is sent to Dask workers).
``initial_m_step(ctx, stats, executor) -> params`` (optional)
    The M-step of ``init="mv"``; default ``m_step`` from ``default_params``.
``loglik_offset(ctx, params) -> float`` (optional)
    A term of the reported log-likelihood that is not a sum over parts (GLAD's
    priors); default ``0``.
``delta(ctx, old, new, ll_old, ll_new) -> float`` (optional)
    The change compared with ``tol``.  Default (``convergence="loglik"``): the
    change of the mean log-likelihood per annotation.
``posterior_width(n_labels) -> int`` (optional)
    Columns of the ``post`` array each part holds (default ``n_labels``: class
    posteriors).  A plug-in without class posteriors -- numeric ratings, whose
    item posteriors live in ``part.cache`` -- returns fewer (``1``), so neither
    executor allocates an items x labels array (continuous ratings have about as
    many labels as answers); for such a plug-in ``vote`` sets no vote shares
    (``post`` zero, codes ``-1``), so its ``stats_from_posteriors`` (``init="mv"``)
    must not read ``post``.  The default :meth:`EMModel.memory_terms` counts this
    width.

The estimator (:class:`EMAggregator` subclass) builds its fitted attributes from
the parameters in ``_set_fitted(table, params, executor)`` for both paths
(``table`` holds the worker and label ids; per-item attributes through
``executor.item_series`` and ``executor.posterior_series``, Dask collections on
the Dask path).  A complete small method is ``docs/examples/accuracy_vote.py``.

The loop
--------
::

    params = init (MV posteriors -> stats_from_posteriors -> initial_m_step | default_params | warm start)
    ll, stats = e_step(params)                      # pass 0
    for t in 1..max_iter:
        params = m_step(params, stats)
        ll_t, stats = e_step(params)                # posteriors of the new params
        loglik_.append(ll_t)
        if tol > 0 and delta(...) < tol: converged; stop

So after ``n_iter_`` iterations the posteriors are those of the returned
parameters; ``tol=0`` runs exactly ``max_iter`` iterations and never warns; with
``tol > 0`` a :class:`~crowdagg.errors.ConvergenceWarning` is issued when
``max_iter`` is hit first.  Restarts (MACE) override :meth:`EMAggregator._run`
and call :func:`run_em` several times.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from . import memory
from ._validation import FINITE, Domain, Interval, Options, check_domain, check_float, check_random_state
from .base import BaseAggregator, is_distributed_table
from .errors import (
    ConvergenceWarning,
    InitParamsError,
    InputError,
    MixedIdTypeError,
    NumericalError,
    ParameterError,
)
from .factorize import _index_kind, _lookup
from .kernels._util import chunk_bounds, parallel_guard
from .table import AnnotationTable

__all__ = ["EMContext", "EMModel", "EMFit", "EMAggregator", "LocalExecutor", "run_em", "best_fit",
           "no_incremental_form",
           "align_params", "initial_posteriors", "add", "Max"]

#: Largest per-chunk statistics buffers (bytes) before kernels switch to a
#: two-pass E-step + per-worker M-step.
MAX_STAT_BUFFER_BYTES = 512 * 2**20


# --------------------------------------------------------------------------- context
@dataclass
class EMContext:
    """The data as a plug-in sees it: a table (or a piece), gold codes and options.

    Attributes
    ----------
    table : AnnotationTable
        The data (on the Dask path's driver: a table carrying only the worker and
        label codebooks; in a Dask task: the piece).
    gold : numpy.ndarray or None
        int64 label code per item, ``-1`` where no gold answer is known.
    parallel : bool
        Use the parallel kernels (``prange`` over item chunks).
    rng : numpy.random.Generator
    iteration : int
        0 during initialisation and pass 0, then the 1-based iteration number.
    cache : dict
        Scratch kept with the part's posteriors between an E-step and the next M-step.
    """

    table: AnnotationTable
    gold: np.ndarray | None
    parallel: bool = True
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    iteration: int = 0
    cache: dict[str, Any] = field(default_factory=dict)
    sizes: tuple[int, int, int, int] | None = None
    counts: np.ndarray | None = None
    _items: Any = None
    _bounds: np.ndarray | None = None
    _wbounds: np.ndarray | None = None

    @property
    def n_items(self) -> int:
        return self.table.n_items if self.sizes is None else self.sizes[0]

    @property
    def n_workers(self) -> int:
        return self.table.n_workers

    @property
    def n_labels(self) -> int:
        return self.table.n_labels

    @property
    def n_annotations(self) -> int:
        return self.table.n_annotations if self.sizes is None else self.sizes[3]

    @property
    def items(self) -> pd.Index | None:
        """Item ids in code order (computed on first use on the Dask path)."""
        if self._items is None:
            return _table_items(self.table)
        return self._items() if callable(self._items) else self._items

    def chunks(self) -> np.ndarray:
        """Item chunk bounds for the parallel kernels (one chunk when serial)."""
        if not self.parallel:
            return np.array([0, self.table.n_items], dtype=np.int64)
        if self._bounds is None:
            import numba

            self._bounds = chunk_bounds(self.table.item_ptr, 2 * numba.get_num_threads())
        return self._bounds

    def worker_chunks(self) -> np.ndarray:
        """Worker chunk bounds (by annotation count) for per-worker kernels."""
        if not self.parallel:
            return np.array([0, self.n_workers], dtype=np.int64)
        if self._wbounds is None:
            import numba

            self._wbounds = chunk_bounds(self.table.worker_ptr, 4 * numba.get_num_threads())
        return self._wbounds

    def kernel_gold(self) -> np.ndarray:
        """:attr:`gold` for kernels that take an empty array as "no gold item" (the
        fixed-width Dawid-Skene and MACE E-steps, which then read no gold code per item):
        :attr:`gold`, or an empty int64 array when no item has gold.  Checked once per
        gold array (kept in :attr:`cache`)."""
        gold = self.gold
        hit = self.cache.get("kernel_gold")
        if hit is None or hit[0] is not gold:
            has = gold is not None and bool((gold >= 0).any())
            hit = (gold, gold if has else np.empty(0, dtype=np.int64))
            self.cache["kernel_gold"] = hit
        return hit[1]

    def worker_counts(self) -> np.ndarray:
        """Annotations per worker as float64, read-only: computed once per table and
        :attr:`counts` and kept in :attr:`cache` (which the executor's ``start`` empties), as
        one-coin's and the weighted votes' M-steps read it every iteration (a ``bincount`` of
        the worker codes is ~1.8 ms at 1M answers, more than a Dawid-Skene E-step pass)."""
        hit = self.cache.get("worker_counts")
        if hit is None or hit[0] is not self.table or hit[1] is not self.counts:
            src = self.counts if self.counts is not None else self.table.worker_counts()
            n = np.asarray(src, dtype=np.float64).copy()
            n.flags.writeable = False
            hit = self.cache["worker_counts"] = (self.table, self.counts, n)
        return hit[2]


# --------------------------------------------------------------------------- summable statistics
class Max:
    """A statistic combined by maximum instead of sum (``Max(a) + Max(b) = Max(maximum(a, b))``)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __add__(self, other: Max) -> Max:
        return Max(np.maximum(self.value, other.value))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Max, (self.value,))


def add(*parts: Any) -> Any:
    """Sum equally-shaped nests of tuples / arrays / floats / :class:`Max` (a reduction node)."""
    first = parts[0]
    if first is None:
        return None
    if isinstance(first, tuple):
        return tuple(add(*(p[i] for p in parts)) for i in range(len(first)))
    out = first.copy() if isinstance(first, np.ndarray) else first
    for p in parts[1:]:
        out = out + p
    return out


# --------------------------------------------------------------------------- plug-in base
class EMModel:
    """Base of EM plug-ins; see the module docstring for the contract."""

    worker_params: ClassVar[tuple[str, ...]] = ()
    item_params: ClassVar[tuple[str, ...]] = ()
    global_params: ClassVar[tuple[str, ...]] = ()
    label_axes: ClassVar[dict[str, tuple[int, ...]]] = {}
    convergence: ClassVar[str] = "loglik"
    param_domains: ClassVar[dict[str, Domain]] = {}
    #: What to do when :meth:`memory_terms` exceed the memory limit (see :mod:`crowdagg.memory`).
    memory_advice: ClassVar[str] = memory.DEFAULT_ADVICE

    def __getstate__(self) -> dict[str, Any]:
        # scratch buffers stay behind when a plug-in is sent to Dask workers
        return {k: v for k, v in self.__dict__.items() if k != "_buffers"}

    def memory_terms(self, n_items: int, n_workers: int, n_labels: int) -> list[tuple[str, float]]:
        """The large arrays a fit holds at once, as ``(description, bytes)`` terms.

        :meth:`EMAggregator.fit` refuses the fit up front with
        :class:`~crowdagg.errors.TooLargeError` when they exceed
        :func:`crowdagg.memory.limit`.  Default: two posterior arrays of items x
        :meth:`posterior_width` columns; plug-ins add their parameters (with every
        copy an iteration holds).
        """
        return [memory.posteriors(n_items, self.posterior_width(n_labels), 2)]

    def posterior_width(self, n_labels: int) -> int:
        """Columns of the per-part posterior array (default ``n_labels``); see the module
        docstring.  Executors allocate ``(n_items, posterior_width(n_labels))``."""
        return int(n_labels)

    def check_memory(self, what: str, table: AnnotationTable) -> int:
        """:func:`crowdagg.memory.check` of :meth:`memory_terms` on ``table``."""
        terms = self.memory_terms(table.n_items, table.n_workers, table.n_labels)
        return memory.check(what, terms, self.memory_advice)

    def check_params(self, params: dict[str, np.ndarray], table: AnnotationTable | None = None
                     ) -> dict[str, np.ndarray]:
        """Check ``params`` against :attr:`param_domains` (finite where undeclared) and
        return them with the probability floor applied (see :func:`~crowdagg._validation.check_domain`).

        Raises
        ------
        InitParamsError
            Naming the parameter, the rule and the first offending value.
        """
        out = {}
        for name, arr in params.items():
            rows, what = None, "row"
            if table is not None and name in self.worker_params:
                rows, what = table.workers, "worker"
            elif table is not None and name in self.item_params:
                rows, what = _table_items(table), "item"
                if rows is not None and len(rows) != np.shape(arr)[0]:
                    rows = None  # the Dask driver's table carries no item ids
            out[name] = check_domain(type(self).__name__, name, arr, self.param_domains.get(name, FINITE),
                                     rows, what)
        return out

    def buffer(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """A float64 scratch array cached on the plug-in by name, reallocated when the
        shape changes (kernels zero their chunk's part before use)."""
        cache = self.__dict__.setdefault("_buffers", {})
        arr = cache.get(name)
        if arr is None or arr.shape != tuple(shape):
            arr = cache[name] = np.zeros(shape)
        return arr

    def default_params(self, ctx: EMContext) -> dict[str, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def prepare(self, ctx: EMContext, params: dict[str, np.ndarray]) -> Any:
        """What the E-step kernels read, broadcast to every part (default: ``params``)."""
        return params

    def e_step_table(self, part: EMContext, prepared: Any, items: dict[str, np.ndarray], post: np.ndarray,
                     accumulate: bool) -> tuple[float, Any]:  # pragma: no cover
        raise NotImplementedError

    def stats_from_posteriors(self, part: EMContext, post: np.ndarray) -> Any:  # pragma: no cover
        raise NotImplementedError

    def m_step(self, ctx: EMContext, params: dict[str, np.ndarray], stats: Any,
               executor: Any) -> dict[str, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def initial_m_step(self, ctx: EMContext, stats: Any, executor: Any) -> dict[str, np.ndarray]:
        """The M-step of ``init="mv"`` (statistics of majority-vote posteriors)."""
        return self.m_step(ctx, self.default_params(ctx), stats, executor)

    def loglik_offset(self, ctx: EMContext, params: dict[str, np.ndarray]) -> float:
        """A term of the log-likelihood that is not a sum over parts (default 0)."""
        return 0.0

    def delta(self, ctx: EMContext, old: dict[str, np.ndarray], new: dict[str, np.ndarray],
              ll_old: float, ll_new: float) -> float:
        """Change compared with ``tol``: mean log-likelihood change per annotation,
        or (``convergence="params"``) the largest absolute change of a worker parameter."""
        if self.convergence == "params":
            return max((float(np.max(np.abs(new[k] - old[k]), initial=0.0)) for k in self.worker_params),
                       default=0.0)
        return abs(ll_new - ll_old) / max(ctx.n_annotations, 1)


@dataclass
class EMFit:
    """What :func:`run_em` returns (``posteriors``: the executor's handle on them --
    an array locally, per-piece futures on Dask)."""

    params: dict[str, np.ndarray]
    posteriors: Any
    loglik: np.ndarray
    n_iter: int
    converged: bool


# --------------------------------------------------------------------------- helpers
def item_uniforms(items: pd.Index, seed: int) -> np.ndarray:
    """One uniform in [0, 1) per item id, a function of the id's text and ``seed`` only
    (not of the item's position), so random tie-breaks do not depend on the order of the
    rows and are the same on a distributed table's pieces: the 64-bit hash of the id's
    UTF-8 text (:mod:`crowdagg.kernels.strings`) mixed with the seed by splitmix64."""
    import pyarrow as pa

    from .factorize import _string_buffers
    from .kernels.strings import hash_rows

    text = pa.array([str(v) for v in items], type=pa.large_string())
    h = np.empty(len(items), dtype=np.uint64)
    with np.errstate(over="ignore"):
        hash_rows(*_string_buffers(text), h)
        z = h ^ np.uint64(seed & 0xFFFFFFFFFFFFFFFF)  # splitmix64 finaliser
        z = (z + np.uint64(0x9E3779B97F4A7C15))
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(2**53)


def initial_posteriors(table: AnnotationTable, gold: np.ndarray, parallel: bool = True,
                       weights: np.ndarray | None = None, tie_seed: int | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Majority-vote shares (ties kept as shares; gold items one-hot) and winning codes
    (ties: the first tied label, or with ``tie_seed`` one drawn by :func:`item_uniforms`)."""
    from .kernels.mv import majority_vote

    w = np.ones(table.n_workers) if weights is None else weights
    with parallel_guard():
        tie_u = np.full(table.n_items, -1.0) if tie_seed is None else item_uniforms(table.items, tie_seed)
        post, codes = majority_vote(table.item_ptr, table.label_codes, table.worker_codes, w, table.n_labels,
                                    tie_u, parallel=parallel)
    if gold is not None:
        _apply_gold(post, gold)
    return post, codes


def _apply_gold(post: np.ndarray, gold: np.ndarray) -> None:
    has = gold >= 0
    if has.any():
        post[has] = 0.0
        post[np.flatnonzero(has), gold[has]] = 1.0


def em_label_codes(table: AnnotationTable, post: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """Argmax; ``-1`` for items with neither an annotation nor a gold answer."""
    codes = np.argmax(post, axis=1).astype(np.int64)
    codes[(table.item_counts() == 0) & (gold < 0)] = -1
    return codes


# --------------------------------------------------------------------------- the local executor
class LocalExecutor:
    """Runs plug-ins over one in-memory table: the whole table is the one part.

    The interface every executor offers (:class:`crowdagg.distributed.executor.DaskExecutor`
    too): ``ctx``, ``start(model)``, ``vote(weights, gold, tie_seed, model)``, ``e_step``,
    ``stats_from_posteriors``, ``map_reduce``, ``posteriors``, ``end_iteration``,
    ``check_finite``, ``item_series``, ``posterior_series`` and ``set_result``.
    """

    def __init__(self, ctx: EMContext) -> None:
        self.ctx = ctx
        self.posteriors: np.ndarray | None = None

    @property
    def part(self) -> EMContext:
        return self.ctx

    def start(self, model: EMModel | None = None) -> None:
        """New posterior storage for a run: items x ``model.posterior_width(n_labels)``
        (items x labels without a model)."""
        self.posteriors = np.empty((self.ctx.n_items, _width(model, self.ctx.n_labels)), dtype=np.float64)
        self.ctx.cache = {}

    def vote(self, weights: np.ndarray | None = None, gold: bool = True, tie_seed: int | None = None,
             model: EMModel | None = None) -> np.ndarray:
        """Set the posteriors to (weighted) majority-vote shares; the winning codes (random
        tie-breaks with ``tie_seed``, see :func:`item_uniforms`).  A ``model`` whose
        :meth:`~EMModel.posterior_width` is not the number of labels gets no shares:
        zero posteriors of its width (new storage, as :meth:`start`) and codes ``-1``."""
        width = _width(model, self.ctx.n_labels)
        if width != self.ctx.n_labels:
            self.start(model)
            self.posteriors.fill(0.0)
            return np.full(self.ctx.n_items, -1, dtype=np.int64)
        self.posteriors, codes = initial_posteriors(self.ctx.table, self.ctx.gold if gold else None,
                                                    self.ctx.parallel, weights, tie_seed)
        return codes

    def _items(self, params: dict[str, np.ndarray], names: tuple[str, ...]) -> dict[str, np.ndarray]:
        return {n: params[n] for n in names}

    def e_step(self, model: EMModel, params: dict[str, np.ndarray], accumulate: bool) -> tuple[float, Any]:
        prepared = model.prepare(self.ctx, params)
        with parallel_guard():  # the plug-in's parallel kernels (see kernels._util.parallel_guard)
            ll, stats = model.e_step_table(self.ctx, prepared, self._items(params, model.item_params),
                                           self.posteriors, accumulate)
        return float(ll) + model.loglik_offset(self.ctx, params), stats

    def stats_from_posteriors(self, model: EMModel) -> Any:
        with parallel_guard():
            return model.stats_from_posteriors(self.ctx, self.posteriors)

    def map_reduce(self, fn: Callable[..., tuple[Any, Any]], broadcast: Any, items: tuple[np.ndarray, ...] = ()
                   ) -> tuple[Any, Any]:
        """``fn(part, post, broadcast, items)`` on every part: per-item outputs joined, the rest summed."""
        with parallel_guard():
            return fn(self.ctx, self.posteriors, broadcast, items)

    def end_iteration(self) -> None:
        """Called after each iteration's E-step (the Dask executor records bytes moved)."""

    def check_finite(self, model: EMModel, post: Any, params: dict[str, np.ndarray]) -> None:
        _check_finite(model, post, params)

    def item_series(self, values: np.ndarray, name: str) -> pd.Series:
        """A per-item array as a Series by item id."""
        return pd.Series(values, index=self.ctx.table.items, name=name)

    def posterior_series(self, fn: Callable[[np.ndarray], np.ndarray], name: str) -> pd.Series:
        """``fn(posteriors)`` of the result (one value per item) as a Series by item id."""
        return self.item_series(fn(self._result), name)

    def set_result(self, estimator: BaseAggregator, post: Any, codes: np.ndarray | None = None) -> None:
        """``labels_``, ``probas_``, ``result_``, ``table_`` from posteriors (EM rule when no codes)."""
        table = self.ctx.table
        self._result = post
        if codes is None:
            codes = em_label_codes(table, post, self.ctx.gold)
        estimator._set_result(table, post, codes)


def _width(model: EMModel | None, n_labels: int) -> int:
    """Posterior columns of ``model`` (``n_labels`` without one)."""
    return int(n_labels) if model is None else int(model.posterior_width(int(n_labels)))


def _as_executor(executor: Any) -> Any:
    return LocalExecutor(executor) if isinstance(executor, EMContext) else executor


def run_em(
    model: EMModel,
    executor: Any,
    *,
    init: str | dict[str, np.ndarray] = "mv",
    max_iter: int = 100,
    tol: float = 1e-5,
    warn: bool = True,
    stacklevel: int = 3,
) -> EMFit:
    """Run EM with a plug-in through an executor.

    Parameters
    ----------
    model : EMModel
    executor : LocalExecutor, DaskExecutor or EMContext
        Where the parts live (an :class:`EMContext` is run by a :class:`LocalExecutor`).
    init : {"mv", "uniform"} or dict
        ``"mv"``: the initial M-step from majority-vote posteriors (gold items
        one-hot); ``"uniform"``: ``model.default_params``; a dict: these parameters
        (already aligned to the data, see :func:`align_params`).
    max_iter : int
        Number of iterations at most (``0`` = posteriors of the initial parameters).
    tol : float
        Stop when ``model.delta`` falls below ``tol``; ``0`` runs exactly ``max_iter``.
    warn : bool
        Issue a ConvergenceWarning when ``tol > 0`` and ``max_iter`` is reached first.
    stacklevel : int
        ``stacklevel`` of that warning (3: the caller of the function calling ``run_em``).
    """
    ex = _as_executor(executor)
    ctx = ex.ctx
    ex.start(model)
    ctx.iteration = 0
    if isinstance(init, Mapping):
        params = {k: np.array(v, dtype=np.float64) for k, v in init.items()}
    elif init == "mv":
        ex.vote(model=model)
        params = model.initial_m_step(ctx, ex.stats_from_posteriors(model), ex)
        ex.start(model)
    elif init == "uniform":
        params = model.default_params(ctx)
    else:
        raise InputError(f"init must be 'mv', 'uniform' or a dict of parameters, got {init!r}")
    del init  # copied: a start made for this run is freed while it runs
    ll, stats = ex.e_step(model, params, max_iter > 0)
    history: list[float] = []
    converged = False
    n_iter = 0
    d = np.inf
    for t in range(1, max_iter + 1):
        ctx.iteration = t
        new = model.m_step(ctx, params, stats, ex)
        ll_new, stats = ex.e_step(model, new, t < max_iter)
        ex.end_iteration()
        history.append(float(ll_new))
        n_iter = t
        d = model.delta(ctx, params, new, ll, ll_new)
        params, ll = new, ll_new
        if tol > 0 and d < tol:
            converged = True
            break
    if tol > 0 and not converged and max_iter > 0 and warn:
        warnings.warn(
            f"{type(model).__name__}: EM stopped at max_iter={max_iter} before the change "
            f"({d:.3g}) fell below tol={tol:g}; raise max_iter or tol",
            ConvergenceWarning,
            stacklevel=stacklevel,
        )
    ex.check_finite(model, ex.posteriors, params)
    return EMFit(params=params, posteriors=ex.posteriors, loglik=np.asarray(history, dtype=np.float64),
                 n_iter=n_iter, converged=converged)


def best_fit(fits: Iterable[EMFit], name: str, max_iter: int, tol: float, *, change: str = "change",
             stacklevel: int = 3) -> tuple[EMFit, int, np.ndarray]:
    """The restart rule: of several EM runs, keep the one whose last objective is highest.

    ``fits`` may be a generator (each run made as it is read, so that at most two
    are held).  Ties keep the earliest run; a run without iterations scores
    ``-inf``.  A :class:`~crowdagg.errors.ConvergenceWarning` names ``name`` when
    ``tol > 0``, ``max_iter > 0`` and the kept run did not converge (``change``: what
    failed to fall below ``tol``; ``stacklevel`` as seen from the caller).  Returns
    the kept run, its index and the final objective of every run, in order.
    """
    best: EMFit | None = None
    best_r = 0
    scores: list[float] = []
    for r, res in enumerate(fits):
        scores.append(float(res.loglik[-1]) if res.loglik.size else -np.inf)
        if best is None or scores[r] > scores[best_r]:
            best, best_r = res, r
        del res  # not held while the next run is made: at most the kept run and the current one
    if best is None:
        raise InputError(f"{name}: no run to keep (no restarts)")
    if tol > 0 and max_iter > 0 and not best.converged:
        warnings.warn(f"{name}: the kept run stopped at max_iter={max_iter} before the {change} fell "
                      f"below tol={tol:g}; raise max_iter or tol", ConvergenceWarning, stacklevel=stacklevel + 1)
    return best, best_r, np.asarray(scores)


def no_incremental_form(name: str, why: str) -> InputError:
    """The error ``partial_fit`` raises for an estimator whose model has no incremental
    form (``why``: the reason, in a few words)."""
    return InputError(f"{name} has no incremental form ({why}); call fit on the union of the batches")


def _check_finite(model: EMModel, post: np.ndarray | None, params: dict[str, np.ndarray]) -> None:
    """Raise :class:`~crowdagg.errors.NumericalError` when EM produced non-finite values
    (never from validated input: a bug or a plug-in outside its domain)."""
    bad = [] if post is None or np.all(np.isfinite(post)) else ["posteriors"]
    bad += [k for k, v in params.items() if not np.all(np.isfinite(v))]
    if bad:
        raise NumericalError(
            f"{type(model).__name__}: EM produced non-finite values in {', '.join(bad)}; "
            "this is a bug in crowdagg (please report it with the data and parameters)"
        )


def _float_array(name: str, val: Any) -> np.ndarray:
    """``val`` as a float64 array, or :class:`InitParamsError` naming the parameter."""
    try:
        if isinstance(val, (pd.Series, pd.DataFrame)):
            return val.to_numpy(dtype=np.float64, na_value=np.nan)
        return np.array(val, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InitParamsError(f"init_params[{name!r}] must hold numbers: {exc}") from None


def _id_index(name: str, ids: Any, what: str) -> pd.Index:
    """Ids given for the rows of ``init_params[name]`` as a unique Index."""
    try:
        idx = ids if isinstance(ids, pd.Index) else pd.Index(ids)
    except (TypeError, ValueError) as exc:
        raise InitParamsError(f"init_params: the {what} ids of {name!r} must be a list of ids: {exc}") from None
    if idx.has_duplicates:
        dup = idx[idx.duplicated()].unique()[:5].tolist()
        raise InitParamsError(f"init_params[{name!r}]: {what} ids repeat: {dup}")
    return idx


def _permute_labels(arr: np.ndarray, axes: tuple[int, ...], perm: np.ndarray) -> np.ndarray:
    for ax in axes:
        arr = np.take(arr, perm, axis=ax)
    return arr


def _id_rows(model: EMModel, name: str, val: Any, ids: Any, out: np.ndarray, perm: np.ndarray | None,
             table_ids: pd.Index, what: str) -> None:
    """Copy the rows of a per-worker / per-item parameter into ``out`` by id."""
    arr = _float_array(name, val)
    idx = _id_index(name, val.index if isinstance(val, (pd.Series, pd.DataFrame)) else ids, what)
    if arr.ndim == 0 or arr.shape[0] != len(idx) or arr.shape[1:] != out.shape[1:]:
        raise InitParamsError(
            f"init_params[{name!r}] has shape {arr.shape}, expected ({len(idx)}, "
            f"{', '.join(map(str, out.shape[1:]))}) (one row per {what})"
        )
    if not np.all(np.isfinite(arr)):
        raise InitParamsError(f"init_params[{name!r}] holds non-finite values (NaN or infinite)")
    if perm is not None:
        arr = _permute_labels(arr, tuple(a + 1 for a in model.label_axes.get(name, ())), perm)
    where = _lookup(table_ids, idx)  # the table row of every source row (-1: not in the data)
    ok = where >= 0
    out[where[ok]] = arr[ok]


def _table_items(table: Any) -> pd.Index | None:
    """Item ids of a fitted estimator's table (``None`` when it has none in memory)."""
    items = getattr(table, "items", None)
    return items if isinstance(items, pd.Index) else None


def align_params(model: EMModel, ctx: EMContext, source: Any) -> dict[str, np.ndarray]:
    """Parameters of a previous model, aligned to ``ctx.table`` by worker id, item id and label.

    ``source`` is a fitted :class:`EMAggregator` of the same kind, or a dict with
    the model's parameter names (and optionally ``"workers"``, ``"items"`` and
    ``"labels"``: the worker ids, item ids and labels of the arrays' axes).
    Per-worker (per-item) parameters may be given as pandas objects indexed by
    worker (item) id; global ones as Series indexed by label.  Workers absent from
    ``source`` start from ``model.default_params``.  Per-item parameters
    (``model.item_params``) are optional: items absent from ``source``, and every
    item when ``source`` gives no item parameters or an array without ``"items"``,
    start from ``model.default_params``.

    Every value is then checked against ``model.param_domains`` (see
    :meth:`EMModel.check_params`), once, whatever the source: values outside their
    domain (negative or NaN probabilities, rows not summing to 1, ...) are refused;
    probabilities of exactly 0 or 1 are moved by the documented floor.

    Raises
    ------
    InitParamsError
        Missing parameters, values that are not numbers, wrong shapes, repeated ids,
        a label set different from the table's, or values outside their domain.
    """
    table = ctx.table
    if isinstance(source, EMAggregator):
        if not hasattr(source, "params_"):
            raise InitParamsError(f"init_params: this {type(source).__name__} is not fitted")
        src: dict[str, Any] = dict(source.params_)
        src["workers"] = source.table_.workers
        src["labels"] = source.table_.labels
        items = _table_items(source.table_)
        if items is not None:
            src["items"] = items
    elif isinstance(source, Mapping):
        src = dict(source)
    else:
        raise InitParamsError(
            f"init_params must be a fitted estimator or a dict of parameters, got {type(source).__name__}"
        )
    names = (*model.worker_params, *model.global_params)
    missing = [n for n in names if n not in src]
    if missing:
        raise InitParamsError(
            f"init_params lacks {missing} (a {type(model).__name__} needs {list(names)}); "
            "pass a fitted estimator of the same kind"
        )
    # label order
    perm = None
    src_labels = src.get("labels")
    if src_labels is None:
        for n in model.global_params:
            if isinstance(src[n], pd.Series) and model.label_axes.get(n):
                src_labels = src[n].index
                break
    if src_labels is not None:
        src_labels = _id_index("labels", src_labels, "label")
        pos = _lookup(src_labels, table.labels)  # the source position of every label of the data
        if len(src_labels) != table.n_labels or (pos < 0).any():
            raise InitParamsError(
                f"init_params has labels {list(src_labels)[:20]} but the data has "
                f"{list(table.labels)[:20]}; build both tables with the same labels= "
            )
        if not np.array_equal(pos, np.arange(table.n_labels)):
            perm = pos
    out = model.default_params(ctx)
    for n in model.global_params:
        val = _float_array(n, src[n])
        if val.shape != out[n].shape:
            raise InitParamsError(f"init_params[{n!r}] has shape {val.shape}, expected {out[n].shape}")
        if perm is not None:
            val = _permute_labels(val, model.label_axes.get(n, ()), perm)
        out[n] = val.copy()
    src_workers = src.get("workers")
    for n in model.worker_params:
        val = src[n]
        if not isinstance(val, (pd.Series, pd.DataFrame)) and src_workers is None:
            raise InitParamsError(
                f"init_params[{n!r}] is an array: give the worker ids as init_params['workers'] "
                "or pass a Series/DataFrame indexed by worker id"
            )
        _id_rows(model, n, val, src_workers, out[n], perm, table.workers, "worker")
    src_items = src.get("items")
    for n in model.item_params:
        val = src.get(n)
        if val is None or (not isinstance(val, (pd.Series, pd.DataFrame)) and src_items is None):
            continue  # no item ids known: every item starts from default_params
        items = ctx.items
        if items is None:
            continue
        _id_rows(model, n, val, src_items, out[n], perm, items, "item")
    return model.check_params(out, table)


# --------------------------------------------------------------------------- estimator base
def em_constraints(inits: tuple[str, ...]) -> dict[str, list[Any]]:
    """The constraints of the parameters every EM estimator has (``max_iter``, ``tol``,
    ``init`` with these named starts, ``warm_start``, ``parallel``)."""
    return {
        "max_iter": [Interval(Integral, 0, None)],
        "tol": [Interval(Real, 0, None)],
        "init": [Options(tuple(inits)), Mapping, EMAggregator],
        "warm_start": ["boolean"],
        "parallel": ["boolean"],
    }


class EMAggregator(BaseAggregator):
    """Base of the EM estimators: ``fit`` with gold answers and warm starts, locally or on Dask.

    Subclasses set the constructor parameters (at least ``max_iter``, ``tol``,
    ``init``, ``warm_start``, ``parallel``), declare their constraints in
    ``_parameter_constraints`` (start from :func:`em_constraints`), implement
    ``_make_model()`` (parameters already validated) and may override
    ``_set_fitted(table, params, executor)`` to expose parameters as pandas objects.
    Any such estimator also fits a :class:`~crowdagg.distributed.DaskAnnotationTable`.

    Fitted attributes (besides ``labels_``, ``probas_``, ``result_``):
    ``params_`` (dict of arrays in the table's code order), ``n_iter_``,
    ``converged_``, ``loglik_`` (log-likelihood after each iteration).

    Warm starts: ``fit(data, init_params=<fitted estimator or dict>)`` is the one
    route (``warm_start=True`` reuses the estimator's own fit, ``init=<source>``
    stores a source as a parameter); all go through :func:`align_params`.
    """

    _inits: ClassVar[tuple[str, ...]] = ("mv", "uniform")
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {}  # set after the class: em_constraints
    #: the fitted attribute holding the plug-in's objective after each iteration
    _history_attr: ClassVar[str] = "loglik_"

    def _make_model(self) -> EMModel:  # pragma: no cover
        raise NotImplementedError

    def _set_fitted(self, table: AnnotationTable, params: dict[str, np.ndarray], executor: Any) -> None:
        """Expose the fitted parameters (pandas objects by worker id; per-item ones through
        ``executor.item_series`` / ``executor.posterior_series``)."""

    def _run(self, model: EMModel, executor: Any, init: str | dict[str, np.ndarray], max_iter: int,
             tol: float) -> EMFit:
        """One EM run; subclasses may run several (MACE restarts) and return the best.

        ``init`` is the estimator's ``init`` string or parameters already aligned to
        the data (warm start); see :func:`run_em`.
        """
        # stacklevel 4: run_em -> _run -> fit -> the user's call
        return run_em(model, executor, init=init, max_iter=max_iter, tol=tol, stacklevel=4)

    def _check_common(self) -> tuple[int, float]:
        """Validate every parameter (:meth:`_validate_params`); ``(max_iter, tol)``."""
        self._validate_params()
        return int(self.max_iter), float(self.tol)

    def _rng(self) -> np.random.Generator:
        return check_random_state(getattr(self, "random_state", None))

    def _context(self, table: AnnotationTable, gold_codes: np.ndarray) -> EMContext:
        return EMContext(table=table, gold=gold_codes, parallel=bool(getattr(self, "parallel", True)),
                         rng=self._rng())

    def _executor(self, data: Any, gold: Any, table_kwargs: dict[str, Any], model: EMModel) -> Any:
        """A :class:`LocalExecutor` for local data, the table's own executor for a distributed one."""
        if is_distributed_table(data):
            self._no_table_options(table_kwargs)
            return data.executor(gold=gold, rng=self._rng())
        table = self._as_table(data, table_kwargs)
        model.check_memory(type(self).__name__, table)  # refuse before allocating the model
        gold_codes = table.encode_gold(gold) if gold is not None else np.full(table.n_items, -1, np.int64)
        return LocalExecutor(self._context(table, gold_codes))

    def fit(self, data: Any, *, gold: Any = None, init_params: Any = None, **table_kwargs: Any):
        """Fit by EM.

        Parameters
        ----------
        data : AnnotationTable, DataFrame (pandas/polars), pyarrow Table, path or DaskAnnotationTable
            The annotations; ``table_kwargs`` (``item_col``, ``labels``, ...) build the table.
            On a :class:`~crowdagg.distributed.DaskAnnotationTable` the fit runs on
            the cluster and per-item attributes are Dask collections.
        gold : Series, mapping or DataFrame, optional
            Known true labels by item id.  Gold items keep a fixed one-hot posterior;
            their answers still train the worker parameters.  Unknown items or labels
            raise :class:`~crowdagg.errors.GoldError`.
        init_params : fitted estimator of the same class, or dict, optional
            Warm start: start from these parameters, aligned by worker id and, for
            per-item parameters (GLAD's difficulties), by item id (new workers and
            items start from the prior); see :func:`align_params`.  With
            ``warm_start=True`` and no ``init_params``, a fitted estimator reuses
            its own parameters.  The estimator's ``init`` may also be such a source
            (explicit initial parameters); ``init_params`` takes precedence.
            The parameters must lie in the plug-in's ``param_domains`` (see
            :func:`align_params`).

        Returns
        -------
        self

        Raises
        ------
        ParameterError
            A hyper-parameter outside ``_parameter_constraints`` (checked first,
            before the data is read).
        InitParamsError
            Warm-start parameters that do not fit the data or lie outside their domain.
        NumericalError
            EM produced non-finite values (a bug: never from validated input).
        """
        max_iter, tol = self._check_common()
        model = self._make_model()
        executor = self._executor(data, gold, table_kwargs, model)
        ctx = executor.ctx
        source = init_params
        if source is None and self.warm_start and hasattr(self, "params_"):
            source = self
        if source is None and not isinstance(self.init, str):
            source = self.init  # explicit parameters given as ``init``
        init = align_params(model, ctx, source) if source is not None else self.init
        res = self._run(model, executor, init, max_iter, tol)
        self.__dict__.pop("partial_state_", None)  # a fit starts a new stream
        self.params_ = {k: np.ascontiguousarray(v) for k, v in res.params.items()}
        self.n_iter_ = res.n_iter
        self.converged_ = res.converged
        setattr(self, self._history_attr, res.loglik)
        executor.set_result(self, res.posteriors)
        self._set_fitted(ctx.table, res.params, executor)
        return self

    def _predict_model(self) -> EMModel:
        """The plug-in that :meth:`predict_proba` runs one E-step of (a fresh one per call,
        so concurrent calls share nothing); by default :meth:`_make_model`'s."""
        return self._make_model()

    def _predict_posteriors(self, table: AnnotationTable) -> np.ndarray:
        self._validate_params()  # set_params may have changed them since fit
        model = self._predict_model()
        model.check_memory(type(self).__name__, table)
        executor = LocalExecutor(self._context(table, np.full(table.n_items, -1, np.int64)))
        params = align_params(model, executor.ctx, self)
        executor.start(model)
        executor.e_step(model, params, False)
        return executor.posteriors

    def _item_param_names(self) -> tuple[str, ...]:
        try:
            return tuple(self._make_model().item_params)
        except Exception:  # noqa: BLE001 - parameters set_params made invalid: none known
            return ()

    # ----------------------------------------------------------------- incremental batches
    def partial_fit(self, data: Any, *, gold: Any = None, forget: float = 1.0, **table_kwargs: Any):
        """Update the model with one batch of annotations (online EM); sets the batch's posteriors.

        Incremental sufficient statistics (Neal & Hinton 1998; the stepwise EM of
        Cappé & Moulines 2009 with step ``1 / n``): the estimator keeps the summed
        E-step statistics of every earlier batch -- per worker and per class only,
        O(workers x labels^2), whatever the number of batches or items -- in
        ``partial_state_``.  Each call runs EM on the batch, every M-step reading
        ``forget * (earlier statistics) + (this batch's statistics)`` (the plug-in's
        own ``m_step``), from the current parameters (the first batch: the
        estimator's ``init``); ``labels_``, ``probas_``, ``table_`` and the per-item
        attributes then describe this batch, ``params_`` and the per-worker
        attributes every worker seen so far.

        Plug-ins whose E-step returns no statistics (their M-step passes over the
        data, as GLAD's Newton steps on per-item difficulties) are updated
        stepwise instead: EM on the batch from the current worker parameters, then
        each worker's parameters become the average of the previous ones and the
        batch's, weighted by the worker's (forgotten) number of answers before and
        in the batch; global parameters likewise by annotation counts.

        When it agrees with a full refit, and when it cannot: see ``docs/pipeline.md``.
        In short, statistics from earlier batches were computed under the
        parameters of their time and are not revised, so the result approaches a
        full fit on the union as batches grow and workers recur (>= 0.99 label
        agreement on a 20-batch stream of 100k items, ``tests/test_partial_fit.py``)
        but is not equal to it; GLAD's per-item difficulties and MACE's random
        restarts (the first batch only) have no incremental form.

        Parameters
        ----------
        data : AnnotationTable, DataFrame (pandas/polars), pyarrow Table or path
            The batch.  After the first batch its labels must lie in the fitted label
            set (pass ``labels=`` on the first call to fix it).  Items may reappear in
            later batches: their new answers update the worker statistics and their
            posterior in that batch is computed from the batch's answers.
        gold : Series, mapping or DataFrame, optional
            Known true labels of items of this batch (fixed posteriors).
        forget : float in (0, 1], default 1
            Weight of the earlier statistics at each call (``1``: no forgetting;
            ``0.9``: a batch's weight halves after about 7 batches, for drifting
            workers).
        **table_kwargs
            Table options (``item_col``, ``labels``, ...), as in ``fit``.

        Returns
        -------
        self
        """
        max_iter, tol = self._check_common()
        if isinstance(forget, bool):
            raise ParameterError(f"forget must be a number in (0, 1], got {forget!r}")
        forget = check_float("forget", forget, 0.0, strict=True)
        if forget > 1.0:
            raise ParameterError(f"forget must lie in (0, 1], got {forget!r}")
        if is_distributed_table(data):
            raise InputError(f"{type(self).__name__}.partial_fit takes in-memory batches; fit a "
                             "DaskAnnotationTable with fit")
        model = self._make_model()
        prev = self if hasattr(self, "params_") and hasattr(self, "table_") else None
        state = self.__dict__.get("partial_state_") if prev is not None else None
        batch = self._new_table(data, table_kwargs) if prev is not None else self._as_table(data, table_kwargs)
        old_workers = prev.table_.workers if prev is not None else batch.workers[:0]
        table = _with_workers(batch, old_workers)
        model.check_memory(type(self).__name__, table)
        gold_codes = table.encode_gold(gold) if gold is not None else np.full(table.n_items, -1, np.int64)
        ctx = self._context(table, gold_codes)
        ex = LocalExecutor(ctx)
        n_w = table.n_workers
        counts_b = table.worker_counts().astype(np.float64)
        hist_counts = np.zeros(n_w)
        hist_stats = None
        hist_ann = 0.0
        if state is not None:
            c = np.asarray(state["counts"], dtype=np.float64)
            hist_counts[:c.shape[0]] = forget * c
            hist_stats = _scale(state["stats"], forget)
            hist_ann = forget * float(state["n_annotations"])
        ctx.counts = hist_counts + counts_b
        if prev is not None:
            init: Any = align_params(model, ctx, prev)
        elif not isinstance(self.init, str):
            init = align_params(model, ctx, self.init)
        else:
            init = self.init
        online = _online(model, hist_stats)
        res = self._run(online, ex, init, max_iter, tol)
        # the statistics of the returned parameters (the E-step recomputes the same posteriors)
        ex.posteriors = res.posteriors
        ll, stats_b = ex.e_step(model, res.params, True)
        params = res.params
        if stats_b is None:  # no summable statistics: stepwise average of the parameters
            mode = "params"
            if isinstance(init, Mapping) and state is not None:
                params = _average_params(model, init, res.params, hist_counts, counts_b, hist_ann,
                                         float(table.n_annotations))
                ll, _ = ex.e_step(model, params, False)
            new_stats = None
        else:
            mode = "stats"
            new_stats = add(online.combine(stats_b))  # a copy: never a plug-in's buffer
        ex.check_finite(model, ex.posteriors, params)
        self.params_ = {k: np.ascontiguousarray(v) for k, v in params.items()}
        self.n_iter_ = res.n_iter
        self.converged_ = res.converged
        setattr(self, self._history_attr, res.loglik)
        ex.set_result(self, ex.posteriors)
        self._set_fitted(table, params, ex)
        self.partial_state_ = {
            "mode": mode,
            "stats": new_stats,
            "counts": ctx.counts.copy(),
            "n_annotations": hist_ann + float(table.n_annotations),
            "n_batches": (int(state["n_batches"]) if state is not None else 0) + 1,
            "forget": forget,
        }
        return self


# --------------------------------------------------------------------------- online helpers
def _with_workers(batch: AnnotationTable, workers: pd.Index) -> AnnotationTable:
    """``batch`` with the worker codebook ``workers`` followed by the batch's new workers
    (so that worker codes, parameters and statistics keep their rows from batch to batch)."""
    if len(workers) == 0 or batch.workers.equals(workers):
        return batch
    pos = _lookup(workers, batch.workers)
    new = pos < 0
    if new.any():
        k_old, k_new = _index_kind(workers), _index_kind(batch.workers[new])
        if k_old != k_new and "empty" not in (k_old, k_new):
            raise MixedIdTypeError(f"this batch's worker ids are {k_new} but the model's are {k_old}: "
                                   f"{batch.workers[new][:5].tolist()}")
        merged = workers.append(batch.workers[new])
    else:
        merged = workers
    wmap = pos.copy()
    wmap[new] = len(workers) + np.arange(int(new.sum()))
    out = AnnotationTable.from_codes(batch.item_codes, wmap[np.asarray(batch.worker_codes, np.int64)],
                                     batch.label_codes, items=batch.items, workers=merged, labels=batch.labels,
                                     duplicates="keep")
    return out.with_dropped(**batch.dropped) if batch.dropped else out


def _scale(stats: Any, f: float) -> Any:
    """``f`` times a nest of statistics (:class:`Max` kept as it is)."""
    if stats is None or isinstance(stats, Max):
        return stats
    if isinstance(stats, tuple):
        return tuple(_scale(s, f) for s in stats)
    if isinstance(stats, list):
        return tuple(_scale(s, f) for s in stats)
    return stats * f if f != 1.0 else stats


def _pad_like(hist: Any, cur: Any) -> Any:
    """Earlier statistics grown to the current worker count: zero rows along the one axis
    whose length grew (the worker axis); other arrays must keep their shapes."""
    if hist is None or cur is None:
        return hist
    if isinstance(hist, Max):
        return Max(_pad_like(hist.value, cur.value))
    if isinstance(hist, tuple):
        return tuple(_pad_like(h, c) for h, c in zip(hist, cur))
    if not isinstance(hist, np.ndarray):
        return hist
    if hist.shape == cur.shape:
        return hist
    grew = [ax for ax, (a, b) in enumerate(zip(hist.shape, cur.shape)) if a != b]
    if hist.ndim != cur.ndim or len(grew) != 1 or hist.shape[grew[0]] > cur.shape[grew[0]]:
        raise NumericalError(f"partial_fit: statistics of shape {hist.shape} cannot be aligned with this batch's "
                             f"{cur.shape} (a plug-in whose statistics are not per worker and per class); "
                             "this is a bug in the plug-in")
    ax = grew[0]
    pad = [(0, 0)] * hist.ndim
    pad[ax] = (0, cur.shape[ax] - hist.shape[ax])
    return np.pad(hist, pad)


def _online(model: EMModel, hist: Any) -> EMModel:
    """``model`` whose M-steps read the earlier statistics ``hist`` plus the batch's.

    The plug-in's class is subclassed for this one call (so that methods checking
    the plug-in's type, like MACE's restarts, still see theirs); nothing else changes.
    """
    base = type(model)

    def combine(self: Any, stats: Any) -> Any:
        if self._online_hist is None or stats is None:
            return stats
        return add(_pad_like(self._online_hist, stats), stats)

    def m_step(self: Any, ctx: EMContext, params: dict[str, np.ndarray], stats: Any, executor: Any
               ) -> dict[str, np.ndarray]:
        return base.m_step(self, ctx, params, self.combine(stats), executor)

    def initial_m_step(self: Any, ctx: EMContext, stats: Any, executor: Any) -> dict[str, np.ndarray]:
        return base.initial_m_step(self, ctx, self.combine(stats), executor)

    cls = type(base.__name__, (base,), {"combine": combine, "m_step": m_step, "initial_m_step": initial_m_step,
                                        "__module__": base.__module__, "__qualname__": base.__qualname__})
    model.__class__ = cls
    model._online_hist = hist
    return model


def _average_params(model: EMModel, old: Mapping[str, np.ndarray], new: dict[str, np.ndarray],
                    w_old: np.ndarray, w_new: np.ndarray, a_old: float, a_new: float) -> dict[str, np.ndarray]:
    """Per worker, the answer-weighted average of the previous and the batch's parameters
    (a convex combination: every domain of :attr:`EMModel.param_domains` is kept)."""
    out = dict(new)
    tot = w_old + w_new
    share = np.where(tot > 0, w_new / np.where(tot > 0, tot, 1.0), 1.0)
    for n in model.worker_params:
        s = share.reshape((-1,) + (1,) * (np.ndim(new[n]) - 1))
        out[n] = (1.0 - s) * np.asarray(old[n], dtype=np.float64) + s * new[n]
    g = a_new / (a_old + a_new) if a_old + a_new > 0 else 1.0
    for n in model.global_params:
        out[n] = (1.0 - g) * np.asarray(old[n], dtype=np.float64) + g * new[n]
    return out
