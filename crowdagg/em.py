"""The shared EM engine behind every iterative aggregation method.

One loop (:func:`run_em`) drives every method; a method is a small *plug-in*, a
subclass of :class:`EMModel`, that says how to initialise, how to compute
posteriors (E-step) and how to update parameters (M-step).  The engine handles
initialisation, gold answers, warm starts, the iteration count and stopping
rule, the log-likelihood history and the :class:`~crowdagg.errors.ConvergenceWarning`.
:class:`EMAggregator` wraps it all as a scikit-learn-style estimator.

The plug-in API
---------------
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
    :meth:`EMModel.default_params`.
``global_params`` : tuple of str
    Every other parameter (class priors, ...), copied as they are on a warm start.
``label_axes`` : dict str -> tuple of int
    For each parameter, the axes that run over labels (permuted when a previous
    model lists the same labels in another order).
``convergence`` : {"loglik", "params"}
    What :meth:`EMModel.delta` measures (see below).
``param_domains`` : dict str -> :class:`~crowdagg._validation.Domain`
    The range of each parameter (finite numbers in ``[low, high]``, probabilities,
    rows summing to 1 over some axes).  Every warm start is checked against it
    once, in :func:`align_params` (:meth:`EMModel.check_params`); undeclared
    parameters must be finite.  Probabilities of exactly 0 or 1 are accepted and
    moved to ``[PROB_FLOOR, 1 - PROB_FLOOR]`` (rows renormalised), so that the
    E-step never takes ``log(0)``.

and implements:

``default_params(ctx) -> params``
    The prior / "uniform" parameters (also used for workers new to a warm start).
``params_from_posteriors(ctx, post) -> params``
    An M-step from given posteriors (``init="mv"`` passes majority-vote shares).
``e_step(ctx, params, post, accumulate=True) -> (loglik, stats)``
    Fill ``post`` (items x labels, float64, written in place) from ``params``
    keeping gold items one-hot (``ctx.gold[i] >= 0``), and return the
    log-likelihood of ``params`` and the sufficient statistics of the next M-step
    (anything; ``None`` is fine when ``m_step`` reads ``post`` itself, as an
    L-BFGS M-step on an objective computed by kernels would).  Kernels should do
    this in one streaming pass over item slices (see :mod:`crowdagg.kernels.em`);
    :meth:`EMContext.chunks` gives the slices.
``m_step(ctx, params, stats, post) -> params``
    New parameters.  ``ctx.iteration`` is the 1-based iteration number.
``delta(ctx, old, new, ll_old, ll_new) -> float`` (optional)
    The change compared with ``tol``.  Default (``convergence="loglik"``): the
    change of the mean log-likelihood per annotation, ``|ll_new - ll_old| / n``.

The loop
--------
::

    params = init (MV posteriors -> params_from_posteriors | default_params | warm start)
    ll, stats = e_step(params)                      # pass 0
    for t in 1..max_iter:
        params = m_step(params, stats, post)
        ll_t, stats = e_step(params)                # posteriors of the new params
        loglik_.append(ll_t)
        if tol > 0 and delta(...) < tol: converged; stop

So after ``n_iter_`` iterations the returned posteriors are those of the
returned parameters, and ``tol=0`` runs exactly ``max_iter`` iterations (for
timings that compare like with like) and never warns.  With ``tol > 0`` a
:class:`~crowdagg.errors.ConvergenceWarning` is issued when ``max_iter`` is hit
first.  Restarts (MACE) call :func:`run_em` several times with different
``init`` parameters and keep the best ``loglik``: an :class:`EMAggregator`
subclass overrides :meth:`EMAggregator._run` (one run by default) and the rest
of ``fit`` (gold, warm start, fitted attributes) stays the engine's.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from . import memory
from ._validation import FINITE, Domain, Interval, Options, check_domain, check_random_state
from .base import BaseAggregator, is_distributed_table
from .errors import ConvergenceWarning, InitParamsError, InputError, NumericalError
from .kernels._util import chunk_bounds
from .table import AnnotationTable, _coerce_like

__all__ = ["EMContext", "EMModel", "EMFit", "EMAggregator", "run_em", "align_params", "initial_posteriors"]

#: Largest per-chunk statistics buffers (bytes) before kernels switch to a
#: two-pass E-step + per-worker M-step.
MAX_STAT_BUFFER_BYTES = 512 * 2**20


# --------------------------------------------------------------------------- context
@dataclass
class EMContext:
    """What a plug-in sees of the data: the table, gold codes and execution options.

    Attributes
    ----------
    table : AnnotationTable
    gold : numpy.ndarray
        int64 label code per item, ``-1`` where no gold answer is known.
    parallel : bool
        Use the parallel kernels (``prange`` over item chunks).
    rng : numpy.random.Generator
    iteration : int
        0 during initialisation and pass 0, then the 1-based iteration number.
    """

    table: AnnotationTable
    gold: np.ndarray
    parallel: bool = True
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    iteration: int = 0
    _bounds: np.ndarray | None = None
    _wbounds: np.ndarray | None = None

    @property
    def n_items(self) -> int:
        return self.table.n_items

    @property
    def n_workers(self) -> int:
        return self.table.n_workers

    @property
    def n_labels(self) -> int:
        return self.table.n_labels

    @property
    def n_annotations(self) -> int:
        return self.table.n_annotations

    def chunks(self) -> np.ndarray:
        """Item chunk bounds for the parallel kernels (one chunk when serial)."""
        if not self.parallel:
            return np.array([0, self.n_items], dtype=np.int64)
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

    def worker_counts(self) -> np.ndarray:
        """Annotations per worker as float64."""
        return self.table.worker_counts().astype(np.float64)


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

    def memory_terms(self, n_items: int, n_workers: int, n_labels: int) -> list[tuple[str, float]]:
        """The large arrays a fit holds at once, as ``(description, bytes)`` terms.

        :meth:`EMAggregator.fit` refuses the fit up front with
        :class:`~crowdagg.errors.TooLargeError` when they exceed
        :func:`crowdagg.memory.limit`.  Default: two items x labels posterior arrays;
        plug-ins add their parameters (with every copy an iteration holds).
        """
        return [memory.posteriors(n_items, n_labels, 2)]

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

    def params_from_posteriors(self, ctx: EMContext, post: np.ndarray) -> dict[str, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def e_step(self, ctx: EMContext, params: dict[str, np.ndarray], post: np.ndarray,
               accumulate: bool = True) -> tuple[float, Any]:  # pragma: no cover
        raise NotImplementedError

    def m_step(self, ctx: EMContext, params: dict[str, np.ndarray], stats: Any,
               post: np.ndarray) -> dict[str, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

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
    """What :func:`run_em` returns."""

    params: dict[str, np.ndarray]
    posteriors: np.ndarray
    loglik: np.ndarray
    n_iter: int
    converged: bool


# --------------------------------------------------------------------------- helpers
def initial_posteriors(table: AnnotationTable, gold: np.ndarray, parallel: bool = True) -> np.ndarray:
    """Majority-vote shares (ties kept as shares), gold items one-hot."""
    from .kernels.mv import majority_vote

    post, _ = majority_vote(table.item_ptr, table.label_codes, table.worker_codes,
                            np.ones(table.n_workers), table.n_labels,
                            np.full(table.n_items, -1.0), parallel=parallel)
    _apply_gold(post, gold)
    return post


def _apply_gold(post: np.ndarray, gold: np.ndarray) -> None:
    has = gold >= 0
    if has.any():
        post[has] = 0.0
        post[np.flatnonzero(has), gold[has]] = 1.0


def run_em(
    model: EMModel,
    ctx: EMContext,
    *,
    init: str | dict[str, np.ndarray] = "mv",
    max_iter: int = 100,
    tol: float = 1e-5,
    warn: bool = True,
    stacklevel: int = 3,
) -> EMFit:
    """Run EM with a plug-in.

    Parameters
    ----------
    model : EMModel
    ctx : EMContext
    init : {"mv", "uniform"} or dict
        ``"mv"``: M-step from majority-vote posteriors (gold items one-hot);
        ``"uniform"``: ``model.default_params``; a dict: these parameters (already
        aligned to ``ctx.table``, see :func:`align_params`).
    max_iter : int
        Number of iterations at most (``0`` = posteriors of the initial parameters).
    tol : float
        Stop when ``model.delta`` falls below ``tol``; ``0`` runs exactly ``max_iter``.
    warn : bool
        Issue a ConvergenceWarning when ``tol > 0`` and ``max_iter`` is reached first.
    stacklevel : int
        ``stacklevel`` of that warning (3: the caller of the function calling ``run_em``).
    """
    if isinstance(init, Mapping):
        params = {k: np.array(v, dtype=np.float64) for k, v in init.items()}
    elif init == "mv":
        params = model.params_from_posteriors(ctx, initial_posteriors(ctx.table, ctx.gold, ctx.parallel))
    elif init == "uniform":
        params = model.default_params(ctx)
    else:
        raise InputError(f"init must be 'mv', 'uniform' or a dict of parameters, got {init!r}")
    post = np.empty((ctx.n_items, ctx.n_labels), dtype=np.float64)
    ctx.iteration = 0
    ll, stats = model.e_step(ctx, params, post, max_iter > 0)
    history: list[float] = []
    converged = False
    n_iter = 0
    for t in range(1, max_iter + 1):
        ctx.iteration = t
        new = model.m_step(ctx, params, stats, post)
        ll_new, stats = model.e_step(ctx, new, post, t < max_iter)
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
    _check_finite(model, post, params)
    return EMFit(params=params, posteriors=post, loglik=np.asarray(history, dtype=np.float64),
                 n_iter=n_iter, converged=converged)


def _check_finite(model: EMModel, post: np.ndarray, params: dict[str, np.ndarray]) -> None:
    """Raise :class:`~crowdagg.errors.NumericalError` when EM produced non-finite values
    (never from validated input: a bug or a plug-in outside its domain)."""
    bad = [] if np.all(np.isfinite(post)) else ["posteriors"]
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
    pos = _coerce_like(pd.Index(idx), table_ids).get_indexer(table_ids)
    known = pos >= 0
    out[known] = arr[pos[known]]


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
        src_labels = _coerce_like(_id_index("labels", src_labels, "label"), table.labels)
        if len(src_labels) != table.n_labels or set(src_labels) != set(table.labels):
            raise InitParamsError(
                f"init_params has labels {list(src_labels)[:20]} but the data has "
                f"{list(table.labels)[:20]}; build both tables with the same labels= "
            )
        pos = src_labels.get_indexer(table.labels)
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
        _id_rows(model, n, val, src_items, out[n], perm, table.items, "item")
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
    """Base of the EM estimators: ``fit`` with gold answers and warm starts.

    Subclasses set the constructor parameters (at least ``max_iter``, ``tol``,
    ``init``, ``warm_start``, ``parallel``), declare their constraints in
    ``_parameter_constraints`` (start from :func:`em_constraints`), implement
    ``_make_model()`` (parameters already validated) and may override
    ``_set_fitted(table, params)`` to expose parameters as pandas objects.

    Fitted attributes (besides ``labels_``, ``probas_``, ``result_``):
    ``params_`` (dict of arrays in the table's code order), ``n_iter_``,
    ``converged_``, ``loglik_`` (log-likelihood after each iteration).
    """

    _inits: ClassVar[tuple[str, ...]] = ("mv", "uniform")
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {}  # set after the class: em_constraints

    def _make_model(self) -> EMModel:  # pragma: no cover
        raise NotImplementedError

    def _set_fitted(self, table: AnnotationTable, params: dict[str, np.ndarray]) -> None:
        """Expose the fitted parameters (pandas objects by worker id)."""

    def _run(self, model: EMModel, ctx: EMContext, init: str | dict[str, np.ndarray], max_iter: int,
             tol: float) -> EMFit:
        """One EM run; subclasses may run several (MACE restarts) and return the best.

        ``init`` is the estimator's ``init`` string or parameters already aligned to
        ``ctx.table`` (warm start); see :func:`run_em`.
        """
        # stacklevel 4: run_em -> _run -> fit -> the user's call
        return run_em(model, ctx, init=init, max_iter=max_iter, tol=tol, stacklevel=4)

    def _check_common(self) -> tuple[int, float]:
        """Validate every parameter (:meth:`_validate_params`); ``(max_iter, tol)``."""
        self._validate_params()
        return int(self.max_iter), float(self.tol)

    def _context(self, table: AnnotationTable, gold_codes: np.ndarray) -> EMContext:
        return EMContext(table=table, gold=gold_codes, parallel=bool(getattr(self, "parallel", True)),
                         rng=check_random_state(getattr(self, "random_state", None)))

    def fit(self, data: Any, *, gold: Any = None, init_params: Any = None, **table_kwargs: Any):
        """Fit by EM.

        Parameters
        ----------
        data : AnnotationTable, DataFrame (pandas/polars), pyarrow Table or path
            The annotations; ``table_kwargs`` (``item_col``, ``labels``, ...) build the table.
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
        if is_distributed_table(data):
            return self._fit_distributed(data, table_kwargs, gold=gold, init_params=init_params)
        model = self._make_model()
        table = self._as_table(data, table_kwargs)
        model.check_memory(type(self).__name__, table)  # refuse before allocating the model
        gold_codes = table.encode_gold(gold) if gold is not None else np.full(table.n_items, -1, np.int64)
        ctx = self._context(table, gold_codes)
        source = init_params
        if source is None and self.warm_start and hasattr(self, "params_"):
            source = {**self.params_, "workers": self.table_.workers, "labels": self.table_.labels}
            items = _table_items(self.table_)
            if items is not None:
                source["items"] = items
        if source is None and not isinstance(self.init, str):
            source = self.init  # explicit parameters given as ``init``
        init = align_params(model, ctx, source) if source is not None else self.init
        res = self._run(model, ctx, init, max_iter, tol)
        self.params_ = {k: np.ascontiguousarray(v) for k, v in res.params.items()}
        self.n_iter_ = res.n_iter
        self.converged_ = res.converged
        self.loglik_ = res.loglik
        self._set_result(table, res.posteriors, self._label_codes(table, res.posteriors, gold_codes))
        self._set_fitted(table, res.params)
        return self

    @staticmethod
    def _label_codes(table: AnnotationTable, post: np.ndarray, gold_codes: np.ndarray) -> np.ndarray:
        codes = np.argmax(post, axis=1).astype(np.int64)
        codes[(table.item_counts() == 0) & (gold_codes < 0)] = -1
        return codes

    def _predict_posteriors(self, table: AnnotationTable) -> np.ndarray:
        self._validate_params()  # set_params may have changed them since fit
        model = self._make_model()
        model.check_memory(type(self).__name__, table)
        ctx = self._context(table, np.full(table.n_items, -1, np.int64))
        params = align_params(model, ctx, self)
        post = np.empty((table.n_items, table.n_labels))
        model.e_step(ctx, params, post, False)
        return post
