"""Numeric ratings: the mean and the median of each item's answers, and the worker
bias-noise model.

Labels are numbers (the table's label codebook holds the rating values, e.g. the
0-100 sliders of Snow et al. 2008); other labels raise
:class:`~crowdagg.errors.LevelError`.  Every estimator sets

* ``labels_`` -- the estimate of each item's true value (float64 Series by item id;
  every input item is present and none is NaN: see *Items without answers*),
* ``stderr_`` -- its standard error,
* ``n_answers_`` -- answers per item,
* ``result_`` -- a :class:`RatingResult` (``to_pandas()``: ``item``, ``estimate``,
  ``stderr``, ``n_answers``).

They have no class probabilities (``probas_``): ``predict_proba`` raises
:class:`~crowdagg.errors.InputError`.

Gold values (``fit(data, gold=...)``: numbers by item id, not necessarily rating
values of the data) clamp their items: the estimate is the gold value and its
standard error 0; in :class:`WorkerBiasNoise` the gold items' answers still train the
workers' biases and noise.

Items without answers (and without gold): :class:`MeanRating` gives the mean of all
answers with their standard deviation as standard error, :class:`MedianRating` the
median of all answers with the same standard error, :class:`WorkerBiasNoise` the
fitted prior of true values (``prior_mean_``, ``sqrt(prior_var_)``).

The worker bias-noise model
---------------------------
Worker ``w``'s answer to item ``i`` is ``y = z_i + b_w + e`` with ``e ~ N(0, s_w^2)``:
an additive bias ``b_w`` and a noise variance ``s_w^2`` per worker and a true value
``z_i ~ N(mu, tau^2)`` per item -- the Gaussian regression model of Raykar et al.
(2010, section 3, "Learning from crowds", JMLR 11) without features, with an
additive bias per annotator as in Welinder & Perona (2010, "Online crowdsourcing:
rating annotators and obtaining cost-effective labels", CVPR workshops) and Welinder
et al. (2010, "The multidimensional wisdom of crowds", NIPS), fitted by EM with the
true values as latent variables (Dempster, Laird & Rubin 1977) and MAP priors on
the worker parameters:

* bias ``b_w ~ N(0, (bias_scale * S)^2)`` (zero mean: the biases sum to about zero,
  which also fixes the shift the sum ``z_i + b_w`` leaves free);
* noise ``s_w^2 ~ Scale-Inv-chi^2(nu, (noise_scale * S)^2)``, ``nu = noise_strength``
  (an inverse-gamma with shape ``nu/2`` and scale ``nu (noise_scale S)^2 / 2``), so a
  worker with two answers is never fitted to zero noise; ``tau^2`` has the same prior
  with scale ``S^2``;

where ``S`` is the standard deviation of all answers (1 when every answer is the
same number): the priors follow the data's units.  E-step: the posterior of ``z_i``
is normal with precision ``1/tau^2 + sum_w 1/s_w^2`` and mean the
precision-weighted average of ``mu`` and the debiased answers ``y - b_w``.  M-step
(conditional maximisation, a few alternations per iteration): ``b_w = A_w / (n_w +
s_w^2 / sigma_b^2)``, ``s_w^2 = (nu s_0^2 + SSR_w) / (n_w + nu + 2)`` from each
worker's sums ``n_w``, ``A_w = sum(y - m_i)``, ``sum(y - m_i)^2`` and ``sum v_i``
(summable, so a :class:`~crowdagg.distributed.DaskAnnotationTable` fits through the
same EM core); ``mu``, ``tau^2`` from the items' posterior moments.  Every step
increases the log posterior reported in ``loglik_``.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .. import memory
from .._validation import Domain, Interval
from ..base import BaseAggregator, is_distributed_table
from ..em import EMAggregator, EMContext, EMModel, LocalExecutor, align_params, em_constraints
from ..errors import GoldError, InitParamsError, InputError, LevelError
from ..factorize import _lookup
from ..gold import gold_by_item
from ..kernels import ratings as K
from ..kernels._util import parallel_guard
from ..table import AnnotationTable

__all__ = ["MeanRating", "MedianRating", "WorkerBiasNoise", "WorkerBiasNoiseModel", "RatingResult",
           "rating_values"]

#: asymptotic efficiency factor of the median under normal noise: SE = sqrt(pi/2) * sd / sqrt(n)
_MEDIAN_SE = float(np.sqrt(np.pi / 2.0))


# --------------------------------------------------------------------------- helpers
def rating_values(labels: pd.Index) -> np.ndarray:
    """The number of every label code (float64); :class:`LevelError` for labels that are
    not numbers (strings, bools, Python integers beyond 64 bits)."""
    kind = labels.dtype.kind
    if kind not in "iuf":
        sample = list(labels[:5])
        raise LevelError(
            f"numeric ratings need numeric labels; these labels are {labels.dtype} (e.g. {sample}); "
            "read them as numbers, or aggregate them as categorical labels"
        )
    values = labels.to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise LevelError("numeric ratings must be finite numbers (no NaN or infinite label)")
    return values


def _numeric_gold(gold: Any, items: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """``(mask, value)`` per item of ``items`` (1.0 / the gold number where known)."""
    mask = np.zeros(len(items))
    value = np.zeros(len(items))
    if gold is None:
        return mask, value
    idx, raw = gold_by_item(gold, items)
    try:
        vals = pd.to_numeric(pd.Series(raw, dtype=object), errors="raise").to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        bad = [v for v in raw if not isinstance(v, (int, float, np.number)) or isinstance(v, bool)][:5]
        raise GoldError(f"gold values of numeric ratings must be numbers; got {bad}") from None
    if any(isinstance(v, (bool, np.bool_)) for v in raw):
        raise GoldError("gold values of numeric ratings must be numbers, not booleans")
    if not np.all(np.isfinite(vals)):
        raise GoldError("gold values must be finite numbers (no NaN or infinite value)")
    where = _lookup(items, idx)
    if (where < 0).any():
        missing = list(idx[where < 0][:5])
        raise GoldError(f"gold names {(where < 0).sum()} item(s) not in the data: {missing}")
    mask[where] = 1.0
    value[where] = vals
    return mask, value


def _scale_and_center(values: np.ndarray, counts: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of all answers from the label counts (SD 1 when 0)."""
    n = counts.sum()
    if n == 0:
        return 0.0, 1.0
    w = counts / n
    mean = float(w @ values)
    sd = float(np.sqrt(max(w @ (values - mean) ** 2, 0.0)))
    return mean, sd if sd > 0 else 1.0


def _weighted_median(values: np.ndarray, counts: np.ndarray) -> float:
    """The median of the multiset holding ``counts[k]`` copies of ``values[k]``."""
    order = np.argsort(values, kind="stable")
    v, c = values[order], counts[order].astype(np.int64)
    n = int(c.sum())
    if n == 0:
        return 0.0
    cum = np.cumsum(c)
    lo = v[np.searchsorted(cum, (n - 1) // 2 + 1)]
    hi = v[np.searchsorted(cum, n // 2 + 1)]
    return float(0.5 * (lo + hi))


@dataclass(frozen=True)
class RatingResult:
    """Estimated true values of every item (pandas, or Dask collections after a
    distributed fit).

    Attributes
    ----------
    labels : Series
        The estimate by item id (float64).
    stderr : Series
        Its standard error.
    n_answers : Series
        Answers per item.
    """

    labels: Any
    stderr: Any
    n_answers: Any

    def to_pandas(self) -> pd.DataFrame:
        """Columns ``item``, ``estimate``, ``stderr``, ``n_answers``."""
        r = self.compute()
        return pd.DataFrame({"item": r.labels.index, "estimate": r.labels.to_numpy(),
                             "stderr": r.stderr.to_numpy(), "n_answers": r.n_answers.to_numpy()})

    def to_polars(self):
        """As :meth:`to_pandas`, as a polars DataFrame."""
        import polars as pl

        return pl.from_pandas(self.to_pandas())

    def compute(self) -> RatingResult:
        """The result with pandas Series (gathers Dask collections)."""
        if isinstance(self.labels, pd.Series):
            return self
        import dask

        a, b, c = dask.compute(self.labels, self.stderr, self.n_answers)
        return RatingResult(a, b, c)


class _RatingAggregator(BaseAggregator):
    """What the numeric estimators share: results as :class:`RatingResult`, no probabilities."""

    #: ``labels_`` are float estimates with ``stderr_``, there is no ``probas_`` (for generic checks)
    _numeric_output: ClassVar[bool] = True

    def store_result(self, table: Any, result: Any, **extra: Any) -> None:
        """Set ``table_``, ``result_``, ``labels_``, ``stderr_``, ``n_answers_`` from a
        :class:`RatingResult`; a categorical result (what the EM executors hand every
        method before ``_set_fitted``) only sets ``table_`` and ``extra``."""
        self.table_ = table
        for k, v in extra.items():
            setattr(self, k, v)
        if isinstance(result, RatingResult):
            self.result_ = result
            self.labels_ = result.labels
            self.stderr_ = result.stderr
            self.n_answers_ = result.n_answers

    def _set_result(self, table: AnnotationTable, posteriors: np.ndarray, label_codes: np.ndarray | None = None
                    ) -> None:
        self.table_ = table

    def _store(self, executor: Any, est: np.ndarray, se: np.ndarray, counts: np.ndarray) -> None:
        if not (np.all(np.isfinite(est)) and np.all(np.isfinite(se))):  # a bug, never user input
            from ..errors import NumericalError

            raise NumericalError(f"{type(self).__name__}: non-finite estimates; please report this")
        res = RatingResult(executor.item_series(est, "estimate"), executor.item_series(se, "stderr"),
                           executor.item_series(counts.astype(np.int64), "n_answers"))
        table = executor.ctx.table if isinstance(executor, LocalExecutor) else getattr(self, "table_", None)
        self.store_result(table, res)

    def predict_proba(self, data: Any = None, **table_kwargs: Any) -> pd.DataFrame:
        """Numeric estimators have no class probabilities; see ``stderr_``."""
        raise InputError(f"{type(self).__name__} estimates numbers and has no class probabilities; "
                         "use labels_ and stderr_")

    def fit_predict_proba(self, data: Any, **kwargs: Any) -> pd.DataFrame:
        return self.predict_proba()

    def predict(self, data: Any = None, **table_kwargs: Any) -> pd.Series:
        """The fitted estimates, or (``data``) those of new data (see each class)."""
        self._check_fitted()
        if data is None:
            return self.labels_
        return self._predict_new(data, table_kwargs)

    def _predict_new(self, data: Any, table_kwargs: dict[str, Any]) -> pd.Series:
        from ..testing import clone

        return clone(self).fit(data, **table_kwargs).labels_


class _NoClassPosteriors(EMModel):
    """A plug-in without class posteriors: one posterior column per item
    (:meth:`~crowdagg.em.EMModel.posterior_width`), never items x rating values."""

    def posterior_width(self, n_labels: int) -> int:
        return 1


def _item_executor(est: BaseAggregator, data: Any, table_kwargs: dict[str, Any], parallel: bool) -> Any:
    """An executor whose parts can be mapped over (local table or Dask pieces)."""
    if is_distributed_table(data):
        est._no_table_options(table_kwargs)
        ex = data.executor(gold=None, rng=np.random.default_rng(0))
        # the per-piece states that map_reduce runs over (one zero column per item: no votes)
        ex.vote(gold=False, model=_NoClassPosteriors())
        est.table_ = data
        return ex
    table = est._as_table(data, table_kwargs)
    memory.check(type(est).__name__, [memory.posteriors(table.n_items, 4, 1)], memory.DEFAULT_ADVICE)
    return LocalExecutor(EMContext(table=table, gold=np.full(table.n_items, -1, np.int64), parallel=parallel))


def _label_counts(executor: Any, data: Any) -> np.ndarray:
    if is_distributed_table(data):
        return np.asarray(data.label_counts(), dtype=np.float64)
    return executor.ctx.table.label_counts().astype(np.float64)


def _moments_part(part: EMContext, post: Any, values: np.ndarray, items: tuple[np.ndarray, ...]
                  ) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    t = part.table
    count, mean, m2 = K.item_moments(t.item_ptr, t.label_codes, values, part.parallel)
    # pooled within-item sums: squared deviations and their degrees of freedom
    return (count, mean, m2), np.array([m2.sum(), float(np.maximum(count - 1, 0).sum())])


def _medians_part(part: EMContext, post: Any, values: np.ndarray, items: tuple[np.ndarray, ...]
                  ) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    (count, mean, m2), pooled = _moments_part(part, post, values, items)
    t = part.table
    return (count, K.item_medians(t.item_ptr, t.label_codes, values, part.parallel), m2), pooled


class _ItemStatistic(_RatingAggregator):
    """An estimate computed from each item's answers alone (mean, median)."""

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {"parallel": ["boolean"]}
    _part_fn: ClassVar[Any] = None
    _se_factor: ClassVar[float] = 1.0

    def __init__(self, parallel: bool = True) -> None:
        self.parallel = parallel

    def _overall(self, values: np.ndarray, counts: np.ndarray) -> float:  # pragma: no cover
        raise NotImplementedError

    def fit(self, data: Any, *, gold: Any = None, **table_kwargs: Any):
        """Estimate every item's value.

        Parameters
        ----------
        data : AnnotationTable, DataFrame, path or DaskAnnotationTable
            Numeric answers (``table_kwargs`` build the table).
        gold : Series, mapping or DataFrame, optional
            Known values by item id (numbers): those items get them, standard error 0.

        Returns
        -------
        self

        Raises
        ------
        LevelError
            Labels that are not numbers.
        GoldError
            Gold values that are not finite numbers, or items not in the data.
        """
        self._validate_params()
        ex = _item_executor(self, data, table_kwargs, bool(self.parallel))
        values = rating_values(ex.ctx.table.labels)
        gmask, gval = _numeric_gold(gold, ex.ctx.items)
        (count, est, m2), (ss, dof) = ex.map_reduce(type(self)._part_fn, values, ())
        counts = _label_counts(ex, data)
        _, sd_all = _scale_and_center(values, counts)
        if counts.sum() <= 1:
            sd_all = 0.0
        pooled = ss / dof if dof > 0 else 0.0
        var = np.where(count >= 2, m2 / np.maximum(count - 1, 1), pooled)
        se = self._se_factor * np.sqrt(var / np.maximum(count, 1))
        none = count == 0
        est = np.where(none, self._overall(values, counts), est)
        se = np.where(none, sd_all, se)
        has = gmask > 0
        est = np.where(has, gval, est)
        se = np.where(has, 0.0, se)
        self._store(ex, est, se, count)
        return self


class MeanRating(_ItemStatistic):
    """The mean of each item's numeric answers.

    Parameters
    ----------
    parallel : bool, default True
        Use the parallel kernels.

    Attributes
    ----------
    labels_ : Series
        Mean answer by item id (float64).  Items without answers: the mean of all answers.
    stderr_ : Series
        ``sd_i / sqrt(n_i)``: the item's sample standard deviation for items with at
        least two answers; with one answer the pooled within-item standard deviation
        (0 when no item has two answers); the SD of all answers for items without any;
        0 for gold items.
    n_answers_ : Series
    result_ : RatingResult

    Notes
    -----
    Fits a :class:`~crowdagg.distributed.DaskAnnotationTable` too (per piece: every
    item's answers lie in one piece).
    """

    _part_fn = staticmethod(_moments_part)

    def _overall(self, values: np.ndarray, counts: np.ndarray) -> float:
        return _scale_and_center(values, counts)[0]


class MedianRating(_ItemStatistic):
    """The median of each item's numeric answers (exact; the mean of the two middle
    answers for an even number).

    Parameters
    ----------
    parallel : bool, default True

    Attributes
    ----------
    labels_ : Series
        Median answer by item id.  Items without answers: the median of all answers.
    stderr_ : Series
        ``sqrt(pi / 2) * sd_i / sqrt(n_i)`` (the large-sample standard error of a
        median under normal noise), with ``sd_i`` as in :class:`MeanRating`.
    n_answers_ : Series
    result_ : RatingResult
    """

    _part_fn = staticmethod(_medians_part)
    _se_factor = _MEDIAN_SE

    def _overall(self, values: np.ndarray, counts: np.ndarray) -> float:
        return _weighted_median(values, counts)


# --------------------------------------------------------------------------- the bias-noise model
POSITIVE = Domain(1e-300, np.inf)


class WorkerBiasNoiseModel(_NoClassPosteriors):
    """EM plug-in of the worker bias-noise model (see the module docstring).

    Parameters: ``bias`` and ``noise`` (variance) per worker, ``mu`` and ``tau2``
    (the prior of true values), and per item ``gold_mask`` / ``gold_value`` (the
    known values, carried unchanged).  Statistics: per worker ``(n, sum e, sum e^2,
    sum v)`` with ``e = y - m_i`` and ``m_i``, ``v_i`` the item's posterior mean and
    variance, and ``(N, sum m, sum m^2 + v)`` over items with answers or gold.

    The item posteriors (mean, variance) live in the part's cache: the posterior
    array has one column (``posterior_width`` is 1, locally and on Dask), so
    continuous ratings -- nearly every answer its own label -- never allocate items x
    labels.
    """

    worker_params = ("bias", "noise")
    item_params = ("gold_mask", "gold_value")
    global_params = ("mu", "tau2")
    label_axes: ClassVar[dict[str, tuple[int, ...]]] = {}
    param_domains: ClassVar[dict[str, Domain]] = {"noise": POSITIVE, "tau2": POSITIVE,
                                                 "gold_mask": Domain(0.0, 1.0)}

    def __init__(self, bias_scale: float = 1.0, noise_scale: float = 0.5, noise_strength: float = 2.0,
                 inner_iter: int = 5) -> None:
        self.bias_scale = bias_scale
        self.noise_scale = noise_scale
        self.noise_strength = noise_strength
        self.inner_iter = inner_iter
        # set from the data before the run (WorkerBiasNoise._executor)
        self.values = np.zeros(0)
        self.center = 0.0
        self.scale = 1.0
        self.gold: Any = None

    def memory_terms(self, n_items: int, n_workers: int, n_labels: int) -> list[tuple[str, float]]:
        # one posterior column (posterior_width), item mean / variance / loglik and gold: none
        # of it scales with the number of distinct rating values
        return [*super().memory_terms(n_items, n_workers, n_labels), memory.posteriors(n_items, 5, 1),
                memory.per_worker("worker biases and noise", n_workers, 6, 2)]

    # priors, in the data's units
    def _s0sq(self) -> float:
        return (self.noise_scale * self.scale) ** 2

    def _sbsq(self) -> float:
        return (self.bias_scale * self.scale) ** 2

    def gold_arrays(self, ctx: EMContext) -> tuple[np.ndarray, np.ndarray]:
        items = ctx.items
        if self.gold is None or items is None:
            return np.zeros(ctx.n_items), np.zeros(ctx.n_items)
        return _numeric_gold(self.gold, items)

    def default_params(self, ctx: EMContext) -> dict[str, np.ndarray]:
        gm, gv = self.gold_arrays(ctx)
        nu = self.noise_strength
        return {"bias": np.zeros(ctx.n_workers), "noise": np.full(ctx.n_workers, nu * self._s0sq() / (nu + 2)),
                "mu": np.array([self.center]), "tau2": np.array([self.scale ** 2]), "gold_mask": gm,
                "gold_value": gv}

    def prepare(self, ctx: EMContext, params: dict[str, np.ndarray]) -> tuple[Any, ...]:
        prec = 1.0 / params["noise"]
        return (self.values, params["bias"], prec, np.log(prec), float(params["mu"][0]),
                1.0 / float(params["tau2"][0]))

    def item_pass(self, part: EMContext, prepared: tuple[Any, ...], items: dict[str, np.ndarray]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Posterior mean and variance of every item's value and its log-likelihood term."""
        t = part.table
        values, bias, prec, log_prec, mu, p0 = prepared
        n = t.n_items
        mean, var, ll = np.empty(n), np.empty(n), np.empty(n)
        args = (t.item_ptr, t.label_codes, t.worker_codes, values, bias, prec, log_prec, mu, p0,
                items["gold_mask"], items["gold_value"])
        bounds = part.chunks() if part.parallel else None
        if bounds is not None and bounds.shape[0] > 2:  # one chunk: the serial kernel (no thread pool)
            K.bn_items_parallel(*args, bounds, mean, var, ll)
        else:
            K.bn_items_slice(*args, 0, n, mean, var, ll)
        return mean, var, ll

    def _stats(self, part: EMContext, values: np.ndarray, mean: np.ndarray, var: np.ndarray,
               used: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = part.table
        ws = np.zeros((t.n_workers, 4))
        if part.parallel and part.chunks().shape[0] > 2:
            K.bn_worker_stats_parallel(t.worker_ptr, t.worker_index, t.item_codes, t.label_codes, values, mean, var,
                                       part.worker_chunks(), ws)
        else:
            K.bn_worker_stats_slice(t.item_ptr, t.label_codes, t.worker_codes, values, mean, var, 0, t.n_items, ws)
        m, v = mean[used], var[used]
        return ws, np.array([float(used.sum()), m.sum(), (m * m + v).sum()])

    def e_step_table(self, part: EMContext, prepared: tuple[Any, ...], items: dict[str, np.ndarray],
                     post: np.ndarray, accumulate: bool) -> tuple[float, Any]:
        mean, var, ll = self.item_pass(part, prepared, items)
        post.fill(0.0)  # no class posteriors: the item posteriors live in the cache
        part.cache["mean"], part.cache["var"] = mean, var
        if not accumulate:
            return float(ll.sum()), None
        used = (part.table.item_counts() > 0) | (items["gold_mask"] > 0)
        return float(ll.sum()), self._stats(part, prepared[0], mean, var, used)

    def stats_from_posteriors(self, part: EMContext, post: np.ndarray) -> Any:
        """``init="mv"``: the statistics with every item's value at its mean answer."""
        t = part.table
        count, mean, _ = K.item_moments(t.item_ptr, t.label_codes, self.values, part.parallel)
        used = count > 0
        return self._stats(part, self.values, mean, np.zeros(t.n_items), used)

    def m_step(self, ctx: EMContext, params: dict[str, np.ndarray], stats: Any,
               executor: Any) -> dict[str, np.ndarray]:
        ws, gs = stats
        n, a, b, c = ws[:, 0], ws[:, 1], ws[:, 2], ws[:, 3]
        nu, s0sq, sbsq = self.noise_strength, self._s0sq(), self._sbsq()
        noise = params["noise"].copy()
        bias = params["bias"].copy()
        for _ in range(self.inner_iter):
            bias = a / (n + noise / sbsq)
            ssr = np.maximum(b - 2.0 * bias * a + n * bias * bias, 0.0) + c
            noise = (nu * s0sq + ssr) / (n + nu + 2.0)
        big_n, sm, smv = gs
        mu = sm / big_n if big_n > 0 else float(params["mu"][0])
        spread = max(smv - 2.0 * mu * sm + big_n * mu * mu, 0.0)
        tau2 = (nu * self.scale ** 2 + spread) / (big_n + nu + 2.0)
        return {"bias": bias, "noise": noise, "mu": np.array([mu]), "tau2": np.array([tau2]),
                "gold_mask": params["gold_mask"], "gold_value": params["gold_value"]}

    def loglik_offset(self, ctx: EMContext, params: dict[str, np.ndarray]) -> float:
        """The log priors of the biases, noise variances and ``tau2`` (up to constants)."""
        nu, s0sq = self.noise_strength, self._s0sq()
        b, s2, t2 = params["bias"], params["noise"], float(params["tau2"][0])
        lp = -0.5 * float(np.sum(b * b)) / self._sbsq()
        lp += float(np.sum(-(nu / 2 + 1) * np.log(s2) - nu * s0sq / (2 * s2)))
        lp += -(nu / 2 + 1) * np.log(t2) - nu * self.scale ** 2 / (2 * t2)
        return lp


def _final_items(part: EMContext, post: Any, broadcast: Any, items: tuple[np.ndarray, ...]
                 ) -> tuple[tuple[np.ndarray, ...], None]:
    """The last E-step's item posteriors (kept in the part's cache) and answer counts."""
    return (part.cache["mean"], part.cache["var"], part.table.item_counts().astype(np.float64)), None


class WorkerBiasNoise(_RatingAggregator, EMAggregator):
    """Numeric ratings with a bias and a noise variance per worker, fitted by EM.

    The Gaussian model of Raykar et al. (2010, "Learning from crowds", JMLR 11,
    section 3) with an additive bias per annotator (Welinder & Perona 2010), MAP
    priors on biases and noise variances; see :mod:`crowdagg.methods.ratings`.

    Parameters
    ----------
    max_iter : int >= 0, default 100
    tol : float >= 0, default 1e-7
        Stop when the log posterior per annotation changes by less than ``tol``.
    init : {"mv", "uniform"} or fitted WorkerBiasNoise or dict, default "mv"
        ``"mv"``: the first M-step takes each item's mean answer as its value (for
        numbers the "vote" is the mean; gold values enter from the first E-step);
        ``"uniform"``: every bias 0 and noise at the prior's mode.
    bias_scale : float > 0, default 1.0
        Prior standard deviation of a bias, in units of ``S`` (the SD of all answers).
    noise_scale : float > 0, default 0.5
        Scale of the noise prior (a typical noise SD), in units of ``S``.
    noise_strength : float > 0, default 2.0
        Degrees of freedom (pseudo-answers) of the noise prior.
    warm_start : bool, default False
    parallel : bool, default True

    Attributes
    ----------
    labels_ : Series
        Posterior mean of every item's value (float64, by item id); items without
        answers: ``prior_mean_``; gold items: the gold value.
    stderr_ : Series
        Posterior standard deviation (``sqrt(prior_var_)`` without answers, 0 for gold).
    n_answers_ : Series
    bias_ : Series
        Additive bias per worker id.
    noise_ : Series
        Noise variance per worker id.
    skills_ : Series
        Reliability per worker: ``prior_var_ / (prior_var_ + noise_)``, in (0, 1).
    prior_mean_, prior_var_ : float
        The fitted prior of true values.
    scale_ : float
        ``S``, the standard deviation of all answers (1 when they are all equal): the
        unit of the priors.
    params_, n_iter_, converged_, loglik_ :
        As in every EM estimator (``loglik_``: log posterior after each iteration).
    result_ : RatingResult
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **em_constraints(EMAggregator._inits),
        "bias_scale": [Interval(Real, 0, None, closed="neither")],
        "noise_scale": [Interval(Real, 0, None, closed="neither")],
        "noise_strength": [Interval(Real, 0, None, closed="neither")],
    }
    _inner_iter: ClassVar[int] = 5

    def __init__(self, max_iter: int = 100, tol: float = 1e-7, init: Any = "mv", bias_scale: float = 1.0,
                 noise_scale: float = 0.5, noise_strength: float = 2.0, warm_start: bool = False,
                 parallel: bool = True) -> None:
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.bias_scale = bias_scale
        self.noise_scale = noise_scale
        self.noise_strength = noise_strength
        self.warm_start = warm_start
        self.parallel = parallel

    def _make_model(self) -> EMModel:
        return WorkerBiasNoiseModel(float(self.bias_scale), float(self.noise_scale), float(self.noise_strength),
                                    self._inner_iter)

    def _executor(self, data: Any, gold: Any, table_kwargs: dict[str, Any], model: EMModel) -> Any:
        # gold values are numbers, not labels of the codebook: the model carries them
        ex = super()._executor(data, None, table_kwargs, model)
        assert isinstance(model, WorkerBiasNoiseModel)
        model.values = rating_values(ex.ctx.table.labels)
        model.center, model.scale = _scale_and_center(model.values, _label_counts(ex, data))
        model.gold = gold
        self.scale_ = model.scale
        if gold is not None:
            items = ex.ctx.items
            _numeric_gold(gold, items if items is not None else pd.Index([]))  # errors before the run
        if is_distributed_table(data):
            self.table_ = data
        return ex

    def _run(self, model: EMModel, executor: Any, init: Any, max_iter: int, tol: float) -> Any:
        if isinstance(init, dict):  # a warm start: this fit's gold, not the source's
            init = dict(init)
            init["gold_mask"], init["gold_value"] = model.gold_arrays(executor.ctx)
        return super()._run(model, executor, init, max_iter, tol)

    @staticmethod
    def _source(source: Any) -> Any:
        """A fitted WorkerBiasNoise as a dict of parameters by worker id (rating values
        need not match: the model has no label axes)."""
        if isinstance(source, WorkerBiasNoise):
            if not hasattr(source, "params_"):
                raise InitParamsError("init_params: this WorkerBiasNoise is not fitted")
            p = source.params_
            return {"bias": source.bias_, "noise": source.noise_, "mu": p["mu"], "tau2": p["tau2"]}
        return source

    def fit(self, data: Any, *, gold: Any = None, init_params: Any = None, **table_kwargs: Any):
        """Fit by EM; see :meth:`crowdagg.em.EMAggregator.fit`.

        ``gold`` holds known values (numbers by item id); ``init_params`` a fitted
        WorkerBiasNoise or a dict with ``bias``, ``noise`` (by worker id), ``mu`` and
        ``tau2``.  Labels that are not numbers raise :class:`~crowdagg.errors.LevelError`.
        """
        source = init_params
        if source is None and self.warm_start and hasattr(self, "params_"):
            source = self
        if source is None and not isinstance(self.init, str):
            source = self.init
        return super().fit(data, gold=gold, init_params=self._source(source), **table_kwargs)

    def _set_fitted(self, table: Any, params: dict[str, np.ndarray], executor: Any) -> None:
        self.bias_ = pd.Series(params["bias"], index=table.workers, name="bias")
        self.noise_ = pd.Series(params["noise"], index=table.workers, name="noise")
        self.prior_mean_ = float(params["mu"][0])
        self.prior_var_ = float(params["tau2"][0])
        self.skills_ = pd.Series(self.prior_var_ / (self.prior_var_ + params["noise"]), index=table.workers,
                                 name="skill")
        (mean, var, count), _ = executor.map_reduce(_final_items, None, ())
        self._store(executor, mean, np.sqrt(np.maximum(var, 0.0)), count)

    def _predict_new(self, data: Any, table_kwargs: dict[str, Any]) -> pd.Series:
        """Estimates for new data under the fitted biases and noise (workers not seen: no
        bias, noise at the prior's mode; gold not used)."""
        self._validate_params()
        table = self._as_table(data, table_kwargs)
        model = self._make_model()
        model.values = rating_values(table.labels)
        model.center, model.scale = self.prior_mean_, self.scale_
        ctx = EMContext(table=table, gold=np.full(table.n_items, -1, np.int64), parallel=bool(self.parallel))
        params = align_params(model, ctx, self._source(self))
        params["gold_mask"], params["gold_value"] = model.gold_arrays(ctx)
        with parallel_guard():  # the parallel kernels, outside the EM executor's guard
            mean, _, _ = model.item_pass(ctx, model.prepare(ctx, params),
                                         {"gold_mask": params["gold_mask"], "gold_value": params["gold_value"]})
        return pd.Series(mean, index=table.items, name="estimate")

