"""GLAD: worker ability and item difficulty (Whitehill et al., 2009), on the shared EM engine."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .. import memory
from .._validation import Domain, Interval, Pair
from ..em import MAX_STAT_BUFFER_BYTES, EMAggregator, EMContext, EMModel, Max, em_constraints
from ..errors import ParameterError
from ..kernels._util import cap_chunks
from ..kernels.em import class_totals
from ..kernels.glad import (
    ESTEP,
    ESTEP_ITEMS,
    ITEMS,
    ITEMS_Q,
    glad_alpha_update,
    glad_estep_parallel,
    glad_estep_slice,
    glad_right_sums_slice,
    max_abs_diff,
    same_values,
    sum_sq_dev,
)
from ..table import AnnotationTable

__all__ = ["GLAD", "GLADModel"]

#: An M-step stops alternating once no parameter moved by more than this.
M_STEP_TOL = 1e-12
#: Dirichlet pseudo-count of every class in learnt class priors (``class_prior="learn"``).
PRIOR_SMOOTHING = 0.01


def _width(n_labels: int) -> tuple[float, ...]:
    """The ``width`` of the GLAD E-step kernels: ``K`` floats for 2 to 4 classes (a copy
    compiled per class count, unrolled), ``()`` otherwise (one copy for any count)."""
    return (0.0,) * n_labels if 2 <= n_labels <= 4 else ()


def log_class_prior(class_prior: Any, table: AnnotationTable) -> np.ndarray:
    """Log of a fixed class prior given as None (uniform), a Series by label or an array."""
    k = table.n_labels
    if class_prior is None:
        return np.full(k, -np.log(k))
    if isinstance(class_prior, pd.Series):
        if len(class_prior) != k or class_prior.index.has_duplicates:
            raise ParameterError(f"class_prior must give one probability per label of {list(table.labels)[:20]}")
        arr = np.empty(k)
        arr[table.encode_labels(class_prior.index, what="class_prior label")] = class_prior.to_numpy(np.float64)
    else:
        try:
            arr = np.asarray(class_prior, dtype=np.float64)
        except (TypeError, ValueError):
            raise ParameterError(f"class_prior must be numbers, got {class_prior!r}") from None
        if arr.shape != (k,):
            raise ParameterError(f"class_prior must give one probability per label ({k}), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or (arr <= 0).any() or not np.isclose(arr.sum(), 1.0):
        raise ParameterError(f"class_prior must be positive probabilities summing to 1, got {arr.tolist()}")
    return np.log(arr / arr.sum())


class GLADModel(EMModel):
    """EM plug-in for GLAD (MAP estimate with Gaussian priors).

    Parameters ``alphas`` (per worker) and ``log_betas`` (per item, ``beta =
    exp(log_beta) > 0``).  Worker ``w`` answers item ``i`` correctly with probability
    ``sigmoid(alpha[w] * beta[i])`` and gives each of the ``K - 1`` other labels with
    probability ``(1 - sigmoid(alpha[w] * beta[i])) / (K - 1)``; true labels follow the
    fixed ``class_prior``.

    * E-step (:func:`~crowdagg.kernels.glad.glad_estep_slice`): posteriors in log space.
      An E-step whose statistics feed an M-step (``accumulate``) also makes that M-step's
      first item pass at the same parameters, in the same pass over the answers; the
      results wait in ``part.cache`` for :func:`_item_pass`.
    * M-step (:meth:`m_step`): block-coordinate Newton on ``Q(alpha, log_beta) + log N(alpha;
      m_a, s_a^2) + log N(log_beta; m_b, s_b^2)``, whose blocks decouple.  Each of at most
      ``m_step_max_iter`` alternations is one pass over the annotations (the item pass of
      :func:`~crowdagg.kernels.glad.glad_estep_slice`) that updates every ``log_beta`` by
      one safeguarded Newton step on the item's own *marginal*
      log-likelihood given the abilities (an ECME step, Liu & Rubin 1994: the item's
      class is integrated out, so ``beta`` and the posterior do not zigzag; the first
      M-step of ``init="mv"`` uses ``Q`` under the majority-vote posteriors instead) and
      collects the per-worker gradient and curvature at the new difficulties, then one
      guarded Newton step for every ``alpha``
      (:func:`~crowdagg.kernels.glad.glad_alpha_update`).  Every step is an ascent step,
      so the log-posterior never decreases; EM's fixed points are the MAP estimate's
      stationary points, as with an exact M-step.  ``m_step_n_iter`` records the
      alternations (they stop early once nothing moves by more than ``M_STEP_TOL``).
    * Stopping (:meth:`delta`): the largest change of an ``alpha`` or a
      ``log_beta``, not of the log-posterior, which flattens long before the
      posteriors stop moving (stopping on it left results depending on row order).

    The log-likelihood reported to the engine is the log-posterior
    ``log p(y | alpha, beta) + log-priors`` (up to a constant), the quantity EM
    increases.  On a warm start ``alphas`` are aligned by worker id and the per-item
    ``log_betas`` by item id (items new to the source start from the prior mean).
    """

    worker_params = ("alphas",)
    item_params = ("log_betas",)
    global_params = ()
    label_axes: ClassVar[dict[str, tuple[int, ...]]] = {"alphas": (), "log_betas": ()}
    #: bounded so that every product alpha * exp(log_beta) stays finite (< 5e27)
    param_domains: ClassVar[dict[str, Domain]] = {"alphas": Domain(-1e6, 1e6), "log_betas": Domain(-50.0, 50.0)}

    def __init__(self, class_prior: Any, alpha_prior: tuple[float, float],
                 log_beta_prior: tuple[float, float], m_step_max_iter: int) -> None:
        self.class_prior = class_prior
        self.learn_prior = isinstance(class_prior, str) and class_prior == "learn"
        if self.learn_prior:  # the class priors become a (global) parameter
            self.global_params = ("priors",)
            self.label_axes = {**type(self).label_axes, "priors": (0,)}
            self.param_domains = {**type(self).param_domains,
                                  "priors": Domain(0.0, 1.0, sum_axes=(0,), probability=True)}
        self._log_prior: tuple[AnnotationTable, np.ndarray] | None = None
        self.alpha_prior = alpha_prior
        self.log_beta_prior = log_beta_prior
        self.m_step_max_iter = m_step_max_iter
        self.m_step_n_iter: list[int] = []

    # ----------------------------------------------------------------- helpers
    def __getstate__(self) -> dict[str, Any]:
        # the cached answered-item mask (and its table) stays behind on Dask
        return {k: v for k, v in super().__getstate__().items() if k != "_used"}

    def _class_totals(self, part: EMContext, post: np.ndarray) -> np.ndarray:
        """Posterior class totals over the part's items with answers or gold."""
        cached = self.__dict__.get("_used")
        if cached is None or cached[0] is not part.table or cached[1] is not part.gold:
            used = (part.table.item_counts() > 0) | (part.gold >= 0)
            cached = self.__dict__["_used"] = (part.table, part.gold, used)
        return class_totals(post, cached[2])

    @staticmethod
    def _priors_from(tot: np.ndarray) -> np.ndarray:
        a = PRIOR_SMOOTHING
        return (tot + a) / (tot.sum() + a * tot.shape[0])

    def _log_prior_of(self, ctx: EMContext, params: dict[str, np.ndarray]) -> np.ndarray:
        return np.log(params["priors"]) if self.learn_prior else self.log_prior(ctx)

    def log_prior(self, ctx: EMContext) -> np.ndarray:
        """Log class prior for ``ctx.table`` (validated once per table)."""
        if self._log_prior is None or self._log_prior[0] is not ctx.table:
            self._log_prior = (ctx.table, log_class_prior(self.class_prior, ctx.table))
        return self._log_prior[1]

    def _log_gauss_priors(self, alphas: np.ndarray, log_betas: np.ndarray) -> float:
        (ma, sa), (mb, sb) = self.alpha_prior, self.log_beta_prior
        return -0.5 * (sum_sq_dev(alphas, ma) / (sa * sa) + sum_sq_dev(log_betas, mb) / (sb * sb))

    # ----------------------------------------------------------------- plug-in API
    def delta(self, ctx: EMContext, old: dict[str, np.ndarray], new: dict[str, np.ndarray],
              ll_old: float, ll_new: float) -> float:
        """Largest absolute change of an ability or a log-difficulty (what the posteriors follow)."""
        return max(float(max_abs_diff(new[k], old[k])) for k in ("alphas", "log_betas"))

    def memory_terms(self, n_items: int, n_workers: int, n_labels: int) -> list[tuple[str, float]]:
        return [memory.posteriors(n_items, n_labels, 2),
                (f"abilities, difficulties and per-worker Newton sums, ({n_items:,} items + "
                 f"{n_workers:,} workers) x 24", 24 * 8.0 * (n_items + n_workers))]

    def default_params(self, ctx: EMContext) -> dict[str, np.ndarray]:
        out = {
            "alphas": np.full(ctx.n_workers, float(self.alpha_prior[0])),
            "log_betas": np.full(ctx.n_items, float(self.log_beta_prior[0])),
        }
        if self.learn_prior:
            out["priors"] = np.full(ctx.n_labels, 1.0 / ctx.n_labels)
        return out

    def stats_from_posteriors(self, part: EMContext, post: np.ndarray) -> np.ndarray | None:
        # the M-step reads the posteriors on the parts (map_reduce); learnt priors need their totals
        return self._class_totals(part, post) if self.learn_prior else None

    def initial_m_step(self, ctx: EMContext, stats: Any, executor: Any) -> dict[str, np.ndarray]:
        params = self.default_params(ctx)
        if self.learn_prior:
            params["priors"] = self._priors_from(stats)
        return self._alternate(ctx, params, executor, marginal=False)

    def prepare(self, ctx: EMContext, params: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        return self._log_prior_of(ctx, params), params["alphas"]

    def loglik_offset(self, ctx: EMContext, params: dict[str, np.ndarray]) -> float:
        out = self._log_gauss_priors(params["alphas"], params["log_betas"])
        if self.learn_prior:  # the Dirichlet(1 + a) term of the MAP priors
            out += PRIOR_SMOOTHING * float(np.sum(np.log(params["priors"])))
        return out

    def e_step_table(self, part: EMContext, prepared: tuple[np.ndarray, np.ndarray], items: dict[str, np.ndarray],
                     post: np.ndarray, accumulate: bool) -> tuple[float, Any]:
        log_prior, alphas = prepared
        part.cache.pop("item_step", None)
        # with the next M-step's first item pass (kept with the part, see _item_pass); learnt
        # priors change before that pass, which then evaluates afresh
        step = accumulate and not self.learn_prior
        ll = self._e_step(part, log_prior, alphas, items["log_betas"], post, step)
        return ll, (self._class_totals(part, post) if self.learn_prior and accumulate else None)

    def _e_step(self, part: EMContext, log_prior: np.ndarray, alphas: np.ndarray, log_betas: np.ndarray,
                post: np.ndarray, step: bool) -> float:
        """The E-step (:func:`~crowdagg.kernels.glad.glad_estep_slice` or its parallel twin),
        with ``step`` fused with the next M-step's first item pass, whose results wait in
        ``part.cache["item_step"]`` with the parameters they were made at."""
        t = part.table
        new_lb = np.empty(t.n_items if step else 0)
        ll, new_lb, sums, change = _blocked_pass(part, post, log_prior, alphas, log_betas, self.log_beta_prior,
                                                 ESTEP_ITEMS if step else ESTEP, new_lb)
        if step:
            # the parameters are kept by reference (the engine makes new arrays every M-step and
            # never writes into them); _item_pass compares them with what it is given
            part.cache["item_step"] = (alphas, log_betas, log_prior, new_lb, sums, float(change))
        return float(ll)

    def m_step(self, ctx: EMContext, params: dict[str, np.ndarray], stats: Any,
               executor: Any) -> dict[str, np.ndarray]:
        if self.learn_prior:  # the priors' exact M-step first; the alternations use them
            params = {**params, "priors": self._priors_from(stats)}
        return self._alternate(ctx, params, executor, marginal=True)

    def _alternate(self, ctx: EMContext, params: dict[str, np.ndarray], executor: Any,
                   marginal: bool) -> dict[str, np.ndarray]:
        """Alternations of the item pass (on every part, :func:`_item_pass`) and the abilities' step."""
        (ma, sa) = self.alpha_prior
        alphas = np.array(params["alphas"], dtype=np.float64)
        log_betas = np.asarray(params["log_betas"], dtype=np.float64)  # (_item_pass copies before writing)
        log_prior = self._log_prior_of(ctx, params)
        n_alt = 0
        for it in range(self.m_step_max_iter):
            # the first pass of an EM M-step starts from the E-step's evaluation; later
            # passes evaluate afresh (the abilities moved)
            settings = (log_prior, alphas, marginal, marginal and it == 0, self.log_beta_prior)
            (log_betas,), (grad, curv, rmax, change) = executor.map_reduce(_item_pass, settings, (log_betas,))
            change = max(float(change.value), float(glad_alpha_update(alphas, grad, curv, rmax.value, ma, sa,
                                                                       alphas)))
            n_alt += 1
            if change <= M_STEP_TOL:
                break
        self.m_step_n_iter.append(n_alt)
        out = {"alphas": alphas, "log_betas": log_betas}
        if self.learn_prior:
            out["priors"] = params["priors"]
        return out


def _right_sums(part: EMContext, post: np.ndarray, alphas: np.ndarray, items: tuple[np.ndarray, ...]
                ) -> tuple[None, tuple[np.ndarray, np.ndarray]]:
    """Per worker: the sum of ``sigmoid(alpha_w * beta_i)`` over its answers, and their number
    (:func:`~crowdagg.kernels.glad.glad_right_sums_slice`)."""
    t = part.table
    right, count = np.zeros(t.n_workers), np.zeros(t.n_workers)
    glad_right_sums_slice(t.item_ptr, t.worker_codes, np.asarray(alphas, dtype=np.float64),
                          np.asarray(items[0], dtype=np.float64), 0, t.n_items, right, count)
    return None, (right, count)


def _blocked_pass(part: EMContext, post: np.ndarray, log_prior: np.ndarray, alphas: np.ndarray,
                  log_betas: np.ndarray, log_beta_prior: tuple[float, float], mode: int, new_lb: np.ndarray
                  ) -> tuple[float, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray], float]:
    """One part's pass of :func:`~crowdagg.kernels.glad.glad_estep_slice` in ``mode`` (the
    parallel twin over the part's chunks when it has several; one per-worker sum buffer per
    chunk, fewer chunks past ``MAX_STAT_BUFFER_BYTES``): ``(loglik, new_lb, (gradient,
    curvature, largest beta) per worker, largest change)``; ``new_lb`` may be ``log_betas``."""
    t = part.table
    mb, sb = log_beta_prior
    n_w = 0 if mode == ESTEP else t.n_workers
    width = _width(t.n_labels)
    bounds = cap_chunks(part.chunks(), 3 * 8 * n_w, MAX_STAT_BUFFER_BYTES)
    n_chunks = bounds.shape[0] - 1
    if n_chunks > 1:
        wbuf = np.empty((n_chunks, 3, n_w))  # (each chunk zeroes its own)
        lbuf, cbuf = np.zeros(n_chunks), np.zeros(n_chunks)
        glad_estep_parallel(t.item_ptr, t.worker_codes, t.label_codes, part.gold, log_prior, alphas, log_betas,
                            mb, sb, bounds, post, mode, new_lb, wbuf, lbuf, cbuf, width)
        sums = (wbuf[:, 0].sum(axis=0), wbuf[:, 1].sum(axis=0), wbuf[:, 2].max(axis=0))
        return float(lbuf.sum()), new_lb, sums, float(cbuf.max())
    sums = (np.zeros(n_w), np.zeros(n_w), np.zeros(n_w))
    ll, change = glad_estep_slice(t.item_ptr, t.worker_codes, t.label_codes, part.gold, log_prior, alphas,
                                  log_betas, mb, sb, 0, t.n_items, post, mode, new_lb, *sums, width)
    return float(ll), new_lb, sums, float(change)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """The same array, or equal values (a copy, as on Dask)."""
    return a is b or bool(same_values(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)))


def _item_pass(part: EMContext, post: np.ndarray, settings: tuple[Any, ...], items: tuple[np.ndarray, ...]
               ) -> tuple[tuple[np.ndarray], tuple[np.ndarray, np.ndarray, Max, Max]]:
    """One part's item pass of the M-step: its items' new ``log_betas`` and its per-worker
    gradient / curvature sums, largest ``beta`` and largest change
    (:func:`~crowdagg.kernels.glad.glad_estep_slice` in an item-pass mode, or its parallel
    twin).

    ``use_step``: the first pass of an EM M-step, which the E-step made already at these
    parameters (:meth:`GLADModel._e_step`, in ``part.cache``); it is used
    when its abilities, difficulties and class prior are the ones given, and made afresh
    otherwise."""
    log_prior, alphas, marginal, use_step, (mb, sb) = settings
    done = part.cache.pop("item_step", None) if use_step else None
    if (done is not None and _same(done[0], alphas) and _same(done[1], items[0]) and _same(done[2], log_prior)):
        _, _, _, new_lb, (grad, curv, rmax), change = done
        return (new_lb,), (grad, curv, Max(rmax), Max(change))
    log_betas = np.array(items[0], dtype=np.float64)  # (updated in place by the pass)
    _, _, (grad, curv, rmax), change = _blocked_pass(part, post, log_prior, alphas, log_betas, (mb, sb),
                                                     ITEMS if marginal else ITEMS_Q, log_betas)
    return (log_betas,), (grad, curv, Max(rmax), Max(change))


class GLAD(EMAggregator):
    """GLAD: Generative model of Labels, Abilities and Difficulties.

    Each worker ``w`` has an ability ``alpha[w]`` (any real: negative means
    adversarial) and each item ``i`` an inverse difficulty ``beta[i] > 0``
    (parametrised as ``exp(log_beta)``).  The worker answers correctly with
    probability ``sigmoid(alpha[w] * beta[i])``; a wrong answer is any of the other
    ``K - 1`` labels with equal probability (the paper's multi-class form).  True
    labels follow a fixed class prior.  The parameters are the MAP estimate under
    Gaussian priors ``alpha ~ N(m_a, s_a^2)`` and ``log(beta) ~ N(m_b, s_b^2)``,
    found by EM: E-step over items in Numba; M-step by block-coordinate Newton (the
    expected complete-data log-posterior decouples into one 1-d problem per item
    given the abilities and one per worker given the difficulties), each item's
    difficulty solved on its marginal likelihood (ECME; Liu, C. & Rubin, D. B.
    (1994), *Biometrika* 81, 633-648), each ability by a Newton step guarded by a
    curvature bound, so that every step increases the log-posterior.

    Whitehill, J., Ruvolo, P., Wu, T., Bergsma, J. & Movellan, J. (2009).  Whose vote
    should count more: optimal integration of labels from labelers of unknown
    expertise.  *Advances in Neural Information Processing Systems 22*, 2035-2043.

    Parameters
    ----------
    max_iter : int, default 500
        Maximum number of EM iterations (``0``: posteriors of the initial parameters).
        A typical crowd stops after 10-60 iterations; the high default leaves room
        for slow ones (EM's rate is that of its worst-informed parameter).
    tol : float, default 1e-5
        Stop when no ability ``alpha`` and no ``log(beta)`` changes by more than
        ``tol`` between iterations (the posteriors are smooth functions of them,
        so they have settled too: at the default, results do not depend on the
        order of the input rows beyond 1e-4); ``0`` runs exactly ``max_iter``
        iterations.  A
        :class:`~crowdagg.errors.ConvergenceWarning` is issued when ``tol > 0`` and
        ``max_iter`` is reached first.
    init : {"mv", "uniform"}, default "mv"
        ``"mv"``: the first M-step uses majority-vote shares as posteriors;
        ``"uniform"``: every ``alpha`` and ``log(beta)`` at its prior mean (which
        makes the first E-step a softened majority vote).  Explicit parameters go
        to ``fit(init_params=...)``.
    alpha_prior : (float, float), default (1.0, 1.0)
        Mean (in [-1000, 1000]) and standard deviation (in [0.001, 1000]) of the
        Gaussian prior on abilities.
    log_beta_prior : (float, float), default (1.0, 1.0)
        Mean (in [-20, 20]) and standard deviation (in [0.001, 1000]) of the
        Gaussian prior on ``log(beta)``.  The defaults are those of the authors'
        code and crowd-kit.
    class_prior : None, "learn", Series (by label) or array, default None
        Prior of the true labels: ``None`` uniform (the paper's and crowd-kit's
        model); ``"learn"`` estimated by EM with the other parameters (MAP with a
        ``Dirichlet(1 + 0.01)`` prior), which helps on imbalanced classes (see
        docs/glad_mace.md); or fixed positive probabilities summing to 1, one per
        label.
    m_step_max_iter : int >= 1, default 1
        Alternations per M-step, each one pass over the data: every item's
        ``log(beta)`` by a safeguarded Newton step on its marginal likelihood, then
        every ability by a guarded Newton step (fewer once nothing moves).  More
        alternations need fewer EM iterations but about as many passes in all; one
        is the cheapest per iteration (see docs/glad_mace.md for timings).
    warm_start : bool, default False
        If true and already fitted, ``fit`` starts from the fitted abilities and
        difficulties (aligned by worker and item id; new workers and items start
        from the prior).  ``fit(init_params=...)`` does the same from another fitted
        GLAD or a dict (``alphas`` by worker id, optionally ``log_betas`` by item id).
        Warm-start ``alphas`` must lie in [-1e6, 1e6] and ``log_betas`` in [-50, 50]
        (so that no ``alpha * beta`` overflows); others raise
        :class:`~crowdagg.errors.InitParamsError`.
    parallel : bool, default True
        Use the multi-threaded kernels.

    Attributes
    ----------
    labels_ : pandas.Series
        Most probable label per item (gold items: their gold label).
    probas_ : pandas.DataFrame
        Posteriors, items x labels (items without annotations: the class prior).
    skills_ : pandas.Series
        Probability that the worker's answer is right under the model, per worker id: the
        mean of ``sigmoid(alpha[w] * beta[i])`` over the items it answered.
    alphas_ : pandas.Series
        Ability per worker id.
    priors_ : pandas.Series
        Class priors by label (fixed, or learnt with ``class_prior="learn"``).
    betas_ : pandas.Series
        Inverse difficulty ``beta > 0`` per item id (large: easy).
    n_iter_, converged_, loglik_ : int, bool, numpy.ndarray
        Iterations run, whether ``tol`` was reached, log-posterior after each iteration.
    m_step_n_iter_ : numpy.ndarray
        Alternations of each M-step (the first is the initial one for ``init="mv"``).
    params_ : dict
        Raw parameters in the table's code order (``alphas``, ``log_betas``).

    Examples
    --------
    >>> import crowdagg
    >>> df = crowdagg.datasets.make_crowd(200, 20, 3, random_state=0).annotations
    >>> glad = crowdagg.GLAD(max_iter=20).fit(df)
    >>> glad.alphas_.shape, glad.betas_.shape
    ((20,), (200,))
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **em_constraints(EMAggregator._inits),
        "alpha_prior": [Pair(Interval(Real, -1e3, 1e3), Interval(Real, 1e-3, 1e3), ("mean", "sd"))],
        "log_beta_prior": [Pair(Interval(Real, -20, 20), Interval(Real, 1e-3, 1e3), ("mean", "sd"))],
        "class_prior": ["no_validation"],  # checked against the table's labels (log_class_prior)
        "m_step_max_iter": [Interval(Integral, 1, None)],
    }

    def __init__(
        self,
        max_iter: int = 500,
        tol: float = 1e-5,
        init: str = "mv",
        alpha_prior: tuple[float, float] = (1.0, 1.0),
        log_beta_prior: tuple[float, float] = (1.0, 1.0),
        class_prior: Any = None,
        m_step_max_iter: int = 1,
        warm_start: bool = False,
        parallel: bool = True,
    ) -> None:
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.alpha_prior = alpha_prior
        self.log_beta_prior = log_beta_prior
        self.class_prior = class_prior
        self.m_step_max_iter = m_step_max_iter
        self.warm_start = warm_start
        self.parallel = parallel

    def _make_model(self) -> EMModel:
        # validated by fit (_parameter_constraints)
        alpha_prior = (float(self.alpha_prior[0]), float(self.alpha_prior[1]))
        log_beta_prior = (float(self.log_beta_prior[0]), float(self.log_beta_prior[1]))
        m_iter = int(self.m_step_max_iter)
        self._model = GLADModel(self.class_prior, alpha_prior, log_beta_prior, m_iter)
        return self._model

    def _set_fitted(self, table: AnnotationTable, params: dict[str, np.ndarray], executor: Any) -> None:
        self.alphas_ = pd.Series(params["alphas"], index=table.workers, name="alpha")
        pri = params["priors"] if "priors" in params else np.exp(self._model.log_prior(executor.ctx))
        self.priors_ = pd.Series(pri, index=table.labels, name="prior")
        self.betas_ = executor.item_series(np.exp(params["log_betas"]), "beta")
        # skills_: mean over the worker's answers of sigmoid(alpha_w * beta_i), P(right answer)
        _, (right, n) = executor.map_reduce(_right_sums, params["alphas"], (params["log_betas"],))
        prior = np.exp(-np.logaddexp(0.0, -params["alphas"] * np.exp(self._model.log_beta_prior[0])))
        self.skills_ = pd.Series(np.where(n > 0, right / np.maximum(n, 1.0), prior), index=table.workers,
                                 name="skill")
        self.m_step_n_iter_ = np.asarray(self._model.m_step_n_iter, dtype=np.int64)
