"""Ordinal Dawid-Skene: ordered labels, a per-worker bias and spread over the level index.

The plug-in is :class:`OrdinalModel`, a :class:`~crowdagg.methods.dawid_skene.DawidSkeneModel`
whose K x K confusion matrices are not free but a discretised Gaussian of two
parameters per worker (see :mod:`crowdagg.kernels.ordinal`): the E-step and its
statistics are Dawid-Skene's (the same kernels and layouts), ``prepare`` builds the
log-confusions from the biases and spreads, and the M-step fits those two numbers
per worker to the summed Dawid-Skene counts by Newton's method.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .. import memory
from .._validation import FINITE, Domain, Interval, simplex
from ..base import is_distributed_table
from ..em import EMAggregator, EMContext, EMModel, LocalExecutor, em_constraints
from ..errors import InitParamsError, InputError
from ..factorize import _label_set
from ..kernels.ordinal import (
    median_codes_slice,
    ordinal_log_confusions_parallel,
    ordinal_log_confusions_slice,
    ordinal_mstep_parallel,
    ordinal_mstep_slice,
)
from ..table import AnnotationTable
from .dawid_skene import DawidSkeneModel, _smoothed_priors

__all__ = ["OrdinalDawidSkene", "OrdinalModel", "default_scale", "ordinal_confusions"]

#: Largest Newton steps per worker and M-step, and the step size that ends them.
NEWTON_STEPS = 50
NEWTON_TOL = 1e-10


def default_scale(n_levels: int) -> float:
    """The default prior scale (levels) of biases and spreads: a tenth of the scale's range,
    at least one level (1 for up to 11 levels, 10 for a 0-100 slider)."""
    return max(1.0, (n_levels - 1) / 10.0)


def ordinal_confusions(bias: np.ndarray, spread: np.ndarray, n_labels: int, lapse: float) -> np.ndarray:
    """Confusion matrices ``(workers, true, observed)`` of the ordinal model."""
    w = bias.shape[0]
    logct = np.empty((w * n_labels, n_labels))
    ordinal_log_confusions_slice(np.ascontiguousarray(bias, dtype=np.float64),
                                 np.ascontiguousarray(spread, dtype=np.float64), float(lapse), n_labels,
                                 0, w, logct)
    return np.exp(logct).reshape(w, n_labels, n_labels).transpose(0, 2, 1).copy()


class OrdinalModel(DawidSkeneModel):
    """EM plug-in of the ordinal Dawid-Skene model.

    Parameters ``bias`` and ``spread`` (per worker) and ``priors`` (per level).
    ``P_w(l | k)`` is the discretised Gaussian of :mod:`crowdagg.kernels.ordinal`;
    the M-step maximises the expected complete-data log-likelihood plus the log
    priors ``b ~ N(0, bias_sd^2)``, ``log s ~ N(log prior_spread, log_spread_sd^2)``
    per worker (Newton), and sets the level priors as Dawid-Skene does.
    """

    worker_params = ("bias", "spread")
    global_params = ("priors",)
    label_axes: ClassVar[dict[str, tuple[int, ...]]] = {"bias": (), "spread": (), "priors": (0,)}
    param_domains: ClassVar[dict[str, Any]] = {"bias": FINITE, "spread": Domain(1e-6, 1e6),
                                               "priors": simplex(0)}
    memory_advice = ("ordinal Dawid-Skene keeps labels x labels expected counts per worker: merge levels "
                     "or split the workers")

    def __init__(self, smoothing: float = 0.01, lapse: float = 0.01, bias_sd: float | None = 1.0,
                 prior_spread: float | None = 1.0, log_spread_sd: float = 1.0) -> None:
        self.smoothing = smoothing
        self.lapse = lapse
        self.bias_sd = bias_sd
        self.prior_spread = prior_spread
        self.log_spread_sd = log_spread_sd

    def scales(self, n_levels: int) -> tuple[float, float]:
        """``(bias_sd, prior_spread)``: as given, or (``None``) :func:`default_scale` of the scale."""
        auto = default_scale(n_levels)
        return (auto if self.bias_sd is None else float(self.bias_sd),
                auto if self.prior_spread is None else float(self.prior_spread))

    def memory_terms(self, n_items: int, n_workers: int, n_labels: int) -> list[tuple[str, float]]:
        return [memory.posteriors(n_items, n_labels, 2),
                (f"expected counts and log-confusions, {n_workers:,} workers x {n_labels:,}^2 levels, 3 copies",
                 3 * 8.0 * n_workers * n_labels**2)]

    def default_params(self, ctx: EMContext) -> dict[str, np.ndarray]:
        k = ctx.n_labels
        return {"bias": np.zeros(ctx.n_workers), "spread": np.full(ctx.n_workers, self.scales(k)[1]),
                "priors": np.full(k, 1.0 / k)}

    def prepare(self, ctx: EMContext, params: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        k, w = ctx.n_labels, ctx.n_workers
        logct = np.empty((w * k, k))
        bias = np.ascontiguousarray(params["bias"], dtype=np.float64)
        spread = np.ascontiguousarray(params["spread"], dtype=np.float64)
        if ctx.parallel and w > 1:
            bounds = np.unique(np.linspace(0, w, min(w, 64) + 1).astype(np.int64))
            ordinal_log_confusions_parallel(bias, spread, float(self.lapse), k, bounds, logct)
        else:
            ordinal_log_confusions_slice(bias, spread, float(self.lapse), k, 0, w, logct)
        return np.log(params["priors"]), logct

    def m_step(self, ctx: EMContext, params: dict[str, np.ndarray], stats: Any,
               executor: Any) -> dict[str, np.ndarray]:
        counts, tot = stats  # workers x observed x true
        k, w = ctx.n_labels, ctx.n_workers
        c2 = np.ascontiguousarray(counts).reshape(w * k, k)
        bias = np.ascontiguousarray(params["bias"], dtype=np.float64)
        spread = np.ascontiguousarray(params["spread"], dtype=np.float64)
        out_b, out_s = np.empty(w), np.empty(w)
        bias_sd, prior_spread = self.scales(k)
        args = (c2, bias, spread, float(self.lapse), k, bias_sd, math.log(prior_spread),
                float(self.log_spread_sd), NEWTON_STEPS, NEWTON_TOL)
        if ctx.parallel and w > 1:
            bounds = np.unique(np.linspace(0, w, min(w, 64) + 1).astype(np.int64))
            ordinal_mstep_parallel(*args, bounds, out_b, out_s)
        else:
            ordinal_mstep_slice(*args, 0, w, out_b, out_s)
        return {"bias": out_b, "spread": np.clip(out_s, 1e-6, 1e6), "priors": _smoothed_priors(tot, self.smoothing)}


def _median_part(part: EMContext, post: np.ndarray, broadcast: Any, items: tuple[np.ndarray, ...]
                 ) -> tuple[tuple[np.ndarray], None]:
    """Posterior-median level codes of one part (``executor.map_reduce``)."""
    out = np.empty(post.shape[0], dtype=np.int64)
    median_codes_slice(post, part.table.item_ptr, part.gold, 0, post.shape[0], out)
    return (out,), None


def _expected(post: np.ndarray) -> np.ndarray:
    return post @ np.arange(post.shape[1], dtype=np.float64)


class OrdinalDawidSkene(EMAggregator):
    """Dawid-Skene for ordered labels: each worker has a bias and a spread over the level index.

    The ``K`` labels are ordered levels ``0 .. K-1`` (``labels=`` gives the order;
    otherwise the order of the table's label set: the sorted label values, or a
    pandas categorical's categories).  Instead of a free ``K x K`` confusion matrix,
    worker ``w`` reports level ``l`` for an item of true level ``k`` with
    probability

    ``P_w(l | k) = (1 - lapse) [Phi((l + 1/2 - k - b_w) / s_w) - Phi((l - 1/2 - k - b_w) / s_w)] + lapse / K``

    -- an ordered-probit (discretised Gaussian) response with a per-worker bias
    ``b_w`` (leniency / severity, in levels) and spread ``s_w`` (noise), so that a
    worker's errors fall on neighbouring levels more often than on far ones, and two
    parameters per worker are estimated instead of ``K (K - 1)``.  ``lapse`` is a
    fixed share of answers spread evenly over the levels (clicks that ignore the
    item), which keeps a far-off answer from ruling a level out.  Fitted by EM
    (Dawid & Skene's E-step; the M-step maximises each worker's expected
    log-likelihood plus weak priors ``b_w ~ N(0, bias_sd^2)`` and ``log s_w ~
    N(log prior_spread, log_spread_sd^2)`` by Newton's method, so that a worker
    with two answers is not fitted to zero noise).

    The ordered-probit response follows McKelvey & Zavoina (1975) and the
    annotator models for ordinal crowd labels of Lakshminarayanan & Teh (2013),
    in Dawid & Skene's (1979) EM framework:

    * Dawid, A. P. & Skene, A. M. (1979).  Maximum likelihood estimation of
      observer error-rates using the EM algorithm.  *JRSS C*, 28(1), 20-28.
    * McKelvey, R. D. & Zavoina, W. (1975).  A statistical model for the analysis
      of ordinal level dependent variables.  *Journal of Mathematical Sociology*,
      4(1), 103-120.
    * Lakshminarayanan, B. & Teh, Y. W. (2013).  Inferring ground truth from
      multi-annotator ordinal data: a probabilistic approach.  arXiv:1305.0015.

    Parameters
    ----------
    labels : sequence, optional
        The levels, lowest first.  Answers outside them raise
        :class:`~crowdagg.errors.UnknownLabelError`.  Default: the table's label
        order (sorted values; an unsortable label set raises
        :class:`~crowdagg.errors.MixedIdTypeError`).  Note that strings sort as
        text (``"high" < "low" < "medium"``): give ``labels=`` for named levels.
    max_iter : int >= 0, default 100
    tol : float >= 0, default 1e-6
        Stop when the log-likelihood per annotation changes by less than ``tol``.
    init : {"mv", "uniform"}, default "mv"
        ``"mv"``: the first M-step from majority-vote shares; ``"uniform"``:
        every worker unbiased with spread ``prior_spread``, uniform priors.  A
        fitted estimator or a dict of parameters is accepted too (warm start).
    lapse : float in (0, 0.5], default 0.01
        Fixed share of answers spread uniformly over the levels.
    bias_sd : float > 0 or None, default None
        Prior standard deviation of a worker's bias (levels).  ``None``: a tenth of the
        scale's range, at least one level (``max(1, (K - 1) / 10)``: 1 up to 11 levels).
    prior_spread : float > 0 or None, default None
        Prior median of a worker's spread (levels); also the ``init="uniform"`` spread.
        ``None``: as ``bias_sd``.
    log_spread_sd : float > 0, default 1.0
        Prior standard deviation of a worker's log spread.
    smoothing : float > 0, default 0.01
        Dirichlet pseudo-count of the level priors.
    warm_start : bool, default False
    parallel : bool, default True

    Attributes
    ----------
    labels_ : pandas.Series
        The posterior median level per item (the first level whose cumulative
        posterior reaches 1/2, which minimises the expected absolute error in
        levels); gold items: their gold level; items without answers: missing.
    probas_ : pandas.DataFrame
        Posterior over levels, items x levels (items without answers: ``priors_``).
    expected_ : pandas.Series
        Posterior mean of the level index (0 .. K-1) per item.
    bias_, spread_ : pandas.Series
        Per worker: bias (levels; positive = answers too high) and spread (levels).
    skills_ : pandas.Series
        Per worker: the probability of answering the true level exactly,
        ``sum_k priors[k] P_w(k | k)``.
    confusions_ : pandas.DataFrame
        The implied confusion matrices, indexed by (worker, true level), observed
        levels as columns.
    priors_ : pandas.Series
        Level priors.
    n_iter_, converged_, loglik_, params_ : as in :class:`~crowdagg.DawidSkene`

    Examples
    --------
    >>> import pandas as pd, crowdagg
    >>> df = pd.DataFrame({"item": [1, 1, 1, 2, 2, 2], "worker": ["a", "b", "c"] * 2,
    ...                    "label": [1, 2, 2, 4, 5, 5]})
    >>> m = crowdagg.OrdinalDawidSkene(labels=[1, 2, 3, 4, 5]).fit(df)
    >>> m.labels_.tolist()
    [2, 5]
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **em_constraints(EMAggregator._inits),
        "labels": [None, "no_validation"],
        "lapse": [Interval(Real, 0, 0.5, closed="right")],
        "bias_sd": [None, Interval(Real, 0, None, closed="neither")],
        "prior_spread": [None, Interval(Real, 0, None, closed="neither")],
        "log_spread_sd": [Interval(Real, 0, None, closed="neither")],
        "smoothing": [Interval(Real, 0, 1e6, closed="right")],
    }

    def __init__(self, labels: Any = None, max_iter: int = 100, tol: float = 1e-6, init: Any = "mv",
                 lapse: float = 0.01, bias_sd: float | None = None, prior_spread: float | None = None,
                 log_spread_sd: float = 1.0, smoothing: float = 0.01, warm_start: bool = False,
                 parallel: bool = True) -> None:
        self.labels = labels
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.lapse = lapse
        self.bias_sd = bias_sd
        self.prior_spread = prior_spread
        self.log_spread_sd = log_spread_sd
        self.smoothing = smoothing
        self.warm_start = warm_start
        self.parallel = parallel

    def _make_model(self) -> EMModel:
        return OrdinalModel(float(self.smoothing), float(self.lapse),
                            None if self.bias_sd is None else float(self.bias_sd),
                            None if self.prior_spread is None else float(self.prior_spread),
                            float(self.log_spread_sd))

    def _levels(self) -> pd.Index | None:
        return None if self.labels is None else _label_set(self.labels)

    def _check_levels(self, have: pd.Index) -> None:
        levels = self._levels()
        if levels is not None and not have.equals(levels):
            raise InputError(
                f"OrdinalDawidSkene: this table has the levels {have.tolist()[:20]} but labels="
                f"{levels.tolist()[:20]}; build the table with labels= in that order")

    def _as_table(self, data: Any, table_kwargs: dict[str, Any]) -> AnnotationTable:
        """``data`` as a table whose labels are the levels in order (``labels=``)."""
        levels = self._levels()
        if levels is not None and not isinstance(data, AnnotationTable) and not is_distributed_table(data):
            given = table_kwargs.get("labels")
            if given is not None and not _label_set(given).equals(levels):
                raise InputError(f"OrdinalDawidSkene: labels={list(levels)[:20]} and the table option "
                                 f"labels={list(given)[:20]} differ; give the level order once")
            table_kwargs = {**table_kwargs, "labels": list(levels)}
        table = super()._as_table(data, table_kwargs)
        self._check_levels(table.labels)
        return table

    def _executor(self, data: Any, gold: Any, table_kwargs: dict[str, Any], model: EMModel) -> Any:
        ex = super()._executor(data, gold, table_kwargs, model)
        have = ex.ctx.table.labels
        self._check_levels(have)
        src = self._source_labels
        if src is not None and not (len(src) == len(have) and src.equals(have)):
            raise InitParamsError(
                f"OrdinalDawidSkene: the warm-start model has the levels {src.tolist()[:20]} in that order but "
                f"the data has {have.tolist()[:20]}; a bias means nothing under another level order")
        return ex

    def fit(self, data: Any, *, gold: Any = None, init_params: Any = None, **table_kwargs: Any
            ) -> OrdinalDawidSkene:
        """Fit by EM; see :meth:`crowdagg.em.EMAggregator.fit` (gold answers, warm starts,
        Dask tables).  A warm start must come from a model with the same levels in the
        same order (else :class:`~crowdagg.errors.InitParamsError`)."""
        source = init_params
        if source is None and self.warm_start and hasattr(self, "params_"):
            source = self
        if source is None and not isinstance(self.init, str):
            source = self.init
        self._source_labels = (source.table_.labels if isinstance(source, OrdinalDawidSkene)
                               and hasattr(source, "table_") else None)
        try:
            return super().fit(data, gold=gold, init_params=init_params, **table_kwargs)
        finally:
            del self._source_labels

    def _set_fitted(self, table: AnnotationTable, params: dict[str, np.ndarray], executor: Any) -> None:
        # labels_: the posterior median level (the core's default is the argmax)
        (codes,), _ = executor.map_reduce(_median_part, None)
        if isinstance(executor, LocalExecutor):
            executor.set_result(self, executor.posteriors, codes)
        else:  # one code array per Dask piece
            executor.set_result(self, executor.posteriors,
                                [executor._split(codes, i) for i in range(len(executor.dt.pieces))])
        k = table.n_labels
        bias, spread, pri = params["bias"], params["spread"], params["priors"]
        conf = ordinal_confusions(bias, spread, k, float(self.lapse))
        self.bias_ = pd.Series(bias, index=table.workers, name="bias")
        self.spread_ = pd.Series(spread, index=table.workers, name="spread")
        self.priors_ = pd.Series(pri, index=table.labels, name="prior")
        self.skills_ = pd.Series(np.einsum("wkk->wk", conf) @ pri, index=table.workers, name="skill")
        idx = pd.MultiIndex.from_product([table.workers, table.labels], names=["worker", "true"])
        self.confusions_ = pd.DataFrame(conf.reshape(-1, k), index=idx, columns=table.labels.rename("observed"))
        self.expected_ = executor.posterior_series(_expected, "expected")

    _source_labels: pd.Index | None = None

