"""Dawid-Skene (full confusion matrices) and one-coin Dawid-Skene, on the shared EM engine."""

from __future__ import annotations

from numbers import Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .. import memory
from .._validation import PROBABILITY, Interval, simplex
from ..em import MAX_STAT_BUFFER_BYTES, EMAggregator, EMContext, EMModel, em_constraints
from ..kernels._util import cap_chunks
from ..kernels.em import (
    ds_counts_by_worker_parallel,
    ds_counts_by_worker_slice,
    ds_counts_slice,
    ds_estep_fixed_parallel,
    ds_estep_fixed_slice,
    ds_estep_parallel,
    ds_estep_slice,
    ds_mstep_confusions,
    oc_counts_slice,
    oc_estep_parallel,
    oc_estep_slice,
    sum_chunks,
)
from ..table import AnnotationTable

__all__ = ["DawidSkene", "OneCoinDawidSkene", "FastDawidSkene", "DawidSkeneModel", "OneCoinModel", "HardDawidSkeneModel"]

#: Accuracy of every worker under ``init="uniform"`` (and of workers new to a warm start).
DEFAULT_ACCURACY = 0.7


def _one_coin_matrix(n_labels: int, acc: float) -> np.ndarray:
    if n_labels == 1:
        return np.ones((1, 1))
    m = np.full((n_labels, n_labels), (1.0 - acc) / (n_labels - 1))
    np.fill_diagonal(m, acc)
    return m


def _labelled_confusions(table: AnnotationTable, conf: np.ndarray) -> pd.DataFrame:
    """Workers x true x observed as a DataFrame indexed by (worker, true), observed labels as columns."""
    idx = pd.MultiIndex.from_product([table.workers, table.labels], names=["worker", "true"])
    return pd.DataFrame(conf.reshape(-1, table.n_labels), index=idx, columns=table.labels.rename("observed"))


def _class_totals(ctx: EMContext, post: np.ndarray) -> np.ndarray:
    used = (ctx.table.item_counts() > 0) | (ctx.gold >= 0)
    return post[used].sum(axis=0)


def _smoothed_priors(tot: np.ndarray, alpha: float) -> np.ndarray:
    return (tot + alpha) / (tot.sum() + alpha * tot.shape[0])


def ds_rows_estep(model: EMModel, part: EMContext, log_prior: np.ndarray, rows: np.ndarray, post: np.ndarray,
                  accumulate: bool, fixed: bool = True) -> tuple[float, Any]:
    """One Dawid-Skene E-step over ``part`` with the log confusion rows ``rows``
    (row ``w * K + y``, column ``k``: ``log p(y | z = k)`` for worker ``w``), for every
    plug-in whose E-step is Dawid-Skene's (Dawid-Skene, one-coin, BCC).

    Returns ``(loglik, (counts, class_tot))`` with ``counts`` workers x observed x true
    (``(loglik, None)`` without ``accumulate``).  2-4 classes run the fixed-width kernel
    (``fixed=False`` keeps the generic one); one chunk runs the serial kernel; chunk
    buffers that would pass :data:`~crowdagg.em.MAX_STAT_BUFFER_BYTES` give way to a
    second pass over the workers for the counts.  Scratch buffers live on ``model``.
    """
    t = part.table
    k, n_workers = t.n_labels, t.n_workers
    # 2-4 classes: the kernel compiled for this class count (width fixes it)
    width = (0.0,) * k if fixed and 2 <= k <= 4 and post.shape[1] == k else None
    bounds = part.chunks() if part.parallel else None
    if bounds is None or bounds.shape[0] <= 2:  # one chunk: the serial kernel only
        counts = np.zeros((n_workers, k, k))
        tot = np.zeros(k)
        if width is not None:
            ll = ds_estep_fixed_slice(t.item_ptr, t.worker_label_pairs, part.kernel_gold(), log_prior, rows,
                                      0, t.n_items, post, counts.reshape(-1, k), tot, accumulate, width)
        else:
            ll = ds_estep_slice(t.item_ptr, t.worker_label_pairs, part.gold, log_prior, rows,
                                0, t.n_items, post, counts.reshape(-1, k), tot, accumulate)
        return float(ll), (counts, tot)
    n_chunks = bounds.shape[0] - 1
    acc = accumulate and n_chunks * n_workers * k * k * 8 <= MAX_STAT_BUFFER_BYTES
    cbuf = model.buffer("counts", (n_chunks, n_workers, k, k)) if acc else np.zeros((n_chunks, 1, 1, 1))
    cbuf2 = cbuf.reshape(n_chunks, -1, cbuf.shape[-1])  # rows w * K + y
    tbuf = model.buffer("class_tot", (n_chunks, k))
    lbuf = model.buffer("loglik", (n_chunks,))
    if width is not None:
        ds_estep_fixed_parallel(t.item_ptr, t.worker_label_pairs, part.kernel_gold(), log_prior, rows,
                                bounds, post, cbuf2, tbuf, lbuf, acc, width)
    else:
        ds_estep_parallel(t.item_ptr, t.worker_label_pairs, part.gold, log_prior, rows,
                          bounds, post, cbuf2, tbuf, lbuf, acc)
    ll = float(lbuf.sum())
    if acc:
        return ll, (sum_chunks(cbuf), tbuf.sum(axis=0))
    if accumulate:  # two-pass fallback: per-worker counts from the posteriors
        return ll, (_counts_by_worker(part, post), _class_totals(part, post))
    return ll, None


def _counts_by_worker(ctx: EMContext, post: np.ndarray) -> np.ndarray:
    """Counts (workers x observed x true) from given posteriors, by worker (no per-chunk buffers)."""
    t = ctx.table
    k = t.n_labels
    counts = np.zeros((t.n_workers, k, k))
    if ctx.parallel:
        ds_counts_by_worker_parallel(t.worker_ptr, t.worker_index, t.item_codes, t.label_codes,
                                     post, ctx.worker_chunks(), counts)
    else:
        ds_counts_by_worker_slice(t.worker_ptr, t.worker_index, t.item_codes, t.label_codes,
                                  post, 0, t.n_workers, counts)
    return counts


# --------------------------------------------------------------------------- plug-ins
#: confusion cells (workers x labels x labels) from which the M-step runs as one kernel
#: (:func:`~crowdagg.kernels.em.ds_mstep_confusions`, ~0.3 ms an iteration less at 1,000
#: workers x 4 classes); below, NumPy does the same operations, and a first small fit
#: need not compile it
_FUSED_MSTEP_CELLS = 1 << 12


class DawidSkeneModel(EMModel):
    """EM plug-in for the Dawid-Skene model (full confusion matrix per worker).

    Parameters ``confusions`` (workers x true x observed) and ``priors`` (labels).
    M-step (MAP): ``confusions[w, k, l] = (N[w, k, l] + a + c [k == l]) / (Σ_l N[w, k, l]
    + K a + c)`` with ``N[w, k, l] = Σ_{i: w answered l} post[i, k]``, ``a`` the
    smoothing and ``c`` the ``correct_prior`` (pseudo-count of correct answers: a
    Dirichlet prior that expects workers to be better than chance), and ``priors[k] =
    (T_k + a) / (Σ T + K a)``, ``T_k = Σ_i post[i, k]`` over items with annotations or
    gold.  ``c = 0`` is the plain (smoothed) Dawid-Skene M-step.
    """

    worker_params = ("confusions",)
    global_params = ("priors",)
    label_axes: ClassVar[dict[str, tuple[int, ...]]] = {"confusions": (0, 1), "priors": (0,)}
    #: every row confusions[w, k, :] and the priors are probability vectors
    param_domains: ClassVar[dict[str, Any]] = {"confusions": simplex(2), "priors": simplex(0)}
    memory_advice = ("Dawid-Skene keeps a labels x labels confusion matrix per worker: merge labels, or use "
                     "OneCoinDawidSkene, GLAD or MACE, whose size grows with labels, not labels^2")
    _posterior_copies = 2

    def __init__(self, smoothing: float = 0.01, correct_prior: float = 0.0) -> None:
        self.smoothing = smoothing
        self.correct_prior = correct_prior

    def memory_terms(self, n_items: int, n_workers: int, n_labels: int) -> list[tuple[str, float]]:
        return [memory.posteriors(n_items, n_labels, self._posterior_copies),
                (f"confusion matrices, {n_workers:,} workers x {n_labels:,}^2 labels, 4 copies",
                 4 * 8.0 * n_workers * n_labels**2)]

    def default_params(self, ctx: EMContext) -> dict[str, np.ndarray]:
        k = ctx.n_labels
        conf = np.broadcast_to(_one_coin_matrix(k, DEFAULT_ACCURACY), (ctx.n_workers, k, k)).copy()
        return {"confusions": conf, "priors": np.full(k, 1.0 / k)}

    def _counts_from_post(self, ctx: EMContext, post: np.ndarray) -> np.ndarray:
        return _counts_by_worker(ctx, post)

    def _update(self, counts: np.ndarray, tot: np.ndarray) -> dict[str, np.ndarray]:
        a = self.smoothing
        # counts are workers x observed x true (the E-step's layout): normalise over the
        # observed axis in that layout and hand out the transposed view, so that neither
        # this update nor the next E-step's log(confusions) copies the array
        c = float(self.correct_prior)
        if counts.size >= _FUSED_MSTEP_CELLS:
            ct = ds_mstep_confusions(np.ascontiguousarray(counts, dtype=np.float64), float(a), c)
        else:  # the same operations in NumPy (bit-identical): a small fit compiles one kernel less
            ct = counts + a
            if c != 0.0:
                idx = np.arange(counts.shape[1])
                ct[:, idx, idx] += c
            ct /= ct.sum(axis=1, keepdims=True)
        return {"confusions": ct.transpose(0, 2, 1), "priors": _smoothed_priors(tot, a)}

    def _stats_from_post(self, part: EMContext, post: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Counts and class totals from given posteriors, in item order (one pass)."""
        t = part.table
        k = t.n_labels
        counts, tot = np.zeros((t.n_workers, k, k)), np.zeros(k)
        ds_counts_slice(t.item_ptr, t.worker_label_pairs, part.gold, post, 0, t.n_items, counts.reshape(-1, k), tot)
        return counts, tot

    def stats_from_posteriors(self, part: EMContext, post: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._stats_from_post(part, post)

    def prepare(self, ctx: EMContext, params: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        k = ctx.n_labels
        # np.log keeps the memory layout of a transposed view: no copy in the usual case
        logct = np.ascontiguousarray(np.log(params["confusions"]).transpose(0, 2, 1)).reshape(-1, k)
        return np.log(params["priors"]), logct

    def e_step_table(self, part: EMContext, prepared: tuple[np.ndarray, np.ndarray], items: dict[str, np.ndarray],
                     post: np.ndarray, accumulate: bool) -> tuple[float, Any]:
        log_prior, logct = prepared
        return ds_rows_estep(self, part, log_prior, logct, post, accumulate)

    def m_step(self, ctx: EMContext, params: dict[str, np.ndarray], stats: Any,
               executor: Any) -> dict[str, np.ndarray]:
        counts, tot = stats
        return self._update(counts, tot)


class HardDawidSkeneModel(DawidSkeneModel):
    """Hard-EM Dawid-Skene plug-in ("fast Dawid-Skene"): the M-step counts each item
    once, for its most probable class (first maximum; gold items: the gold class),
    instead of spreading it over the posterior.  Posteriors stay soft."""

    _posterior_copies = 3  # and the hard assignments

    def _hard(self, ctx: EMContext, post: np.ndarray) -> np.ndarray:
        hard = np.zeros_like(post)
        hard[np.arange(post.shape[0]), np.argmax(post, axis=1)] = 1.0
        return hard

    def stats_from_posteriors(self, part: EMContext, post: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._stats_from_post(part, self._hard(part, post))

    def e_step_table(self, part: EMContext, prepared: tuple[np.ndarray, np.ndarray], items: dict[str, np.ndarray],
                     post: np.ndarray, accumulate: bool) -> tuple[float, Any]:
        ll, _ = super().e_step_table(part, prepared, items, post, False)
        if not accumulate:
            return ll, None
        return ll, self._stats_from_post(part, self._hard(part, post))


class OneCoinModel(EMModel):
    """EM plug-in for the one-coin model: one accuracy ``skills[w]`` per worker,
    errors uniform over the other ``K - 1`` labels.

    M-step (MAP): ``skills[w] = (C_w + a + c) / (n_w + 2a + c)`` with ``C_w = Σ_j
    post[i_j, y_j]`` (expected correct answers), ``n_w`` answers and ``c`` the
    ``correct_prior`` (Beta pseudo-count of correct answers); priors as in Dawid-Skene.
    """

    worker_params = ("skills",)
    global_params = ("priors",)
    label_axes: ClassVar[dict[str, tuple[int, ...]]] = {"skills": (), "priors": (0,)}
    param_domains: ClassVar[dict[str, Any]] = {"skills": PROBABILITY, "priors": simplex(0)}

    def __init__(self, smoothing: float = 0.01, correct_prior: float = 0.0) -> None:
        self.smoothing = smoothing
        self.correct_prior = correct_prior

    def memory_terms(self, n_items: int, n_workers: int, n_labels: int) -> list[tuple[str, float]]:
        terms = [memory.posteriors(n_items, n_labels, 2), memory.per_worker("worker accuracies", n_workers, 1, 4)]
        if 2 <= n_labels <= 4:  # the fixed-width E-step's (worker, label) rows and their counts
            terms.append((f"E-step rows, {n_workers:,} workers x {n_labels}^2 labels, 2 copies",
                          2 * 8.0 * n_workers * n_labels**2))
        return terms

    def default_params(self, ctx: EMContext) -> dict[str, np.ndarray]:
        k = ctx.n_labels
        return {"skills": np.full(ctx.n_workers, DEFAULT_ACCURACY), "priors": np.full(k, 1.0 / k)}

    def _update(self, ctx: EMContext, corr: np.ndarray, tot: np.ndarray) -> dict[str, np.ndarray]:
        a, c = self.smoothing, self.correct_prior
        return {"skills": (corr + a + c) / (ctx.worker_counts() + 2 * a + c), "priors": _smoothed_priors(tot, a)}

    def stats_from_posteriors(self, part: EMContext, post: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Expected correct answers per worker and class totals from given posteriors (one pass)."""
        t = part.table
        corr, tot = np.zeros(t.n_workers), np.zeros(t.n_labels)
        oc_counts_slice(t.item_ptr, t.worker_codes, t.label_codes, part.gold, post, 0, t.n_items, corr, tot)
        return corr, tot

    def prepare(self, ctx: EMContext, params: dict[str, np.ndarray]) -> tuple[Any, ...]:
        k = ctx.n_labels
        s = params["skills"]
        if k > 1:
            log_s, log_e = np.log(s), np.log((1.0 - s) / (k - 1))
        else:
            log_s, log_e = np.zeros_like(s), np.zeros_like(s)
        rows = None
        if 2 <= k <= 4:
            # the one-coin confusion rows in Dawid-Skene's E-step layout (row w * K + y,
            # column k: log p(y | k) = log s_w if y == k else log e_w), for the 2-4 class
            # kernel of Dawid-Skene (the same posteriors and statistics, ~4x faster per pass)
            rows = np.repeat(log_e, k * k).reshape(-1, k, k)
            idx = np.arange(k)
            rows[:, idx, idx] = log_s[:, None]
            rows = rows.reshape(-1, k)
        return np.log(params["priors"]), log_s, log_e, rows

    def e_step_table(self, part: EMContext, prepared: tuple[np.ndarray, ...], items: dict[str, np.ndarray],
                     post: np.ndarray, accumulate: bool) -> tuple[float, Any]:
        t = part.table
        k, n_workers = t.n_labels, t.n_workers
        log_prior, log_s, log_e, rows = prepared
        if rows is not None and post.shape[1] == k:
            return self._e_step_fixed(part, log_prior, rows, post, accumulate)
        # one corr row per chunk: fewer chunks when they would pass MAX_STAT_BUFFER_BYTES
        bounds = cap_chunks(part.chunks(), 8 * n_workers, MAX_STAT_BUFFER_BYTES) if part.parallel else None
        if bounds is None or bounds.shape[0] <= 2:
            corr = np.zeros(n_workers)
            tot = np.zeros(k)
            ll = oc_estep_slice(t.item_ptr, t.worker_codes, t.label_codes, part.gold, log_prior, log_s, log_e,
                                0, t.n_items, post, corr, tot, accumulate)
            return float(ll), (corr, tot)
        n_chunks = bounds.shape[0] - 1
        cbuf = self.buffer("corr", (n_chunks, n_workers))
        tbuf = self.buffer("class_tot", (n_chunks, k))
        lbuf = self.buffer("loglik", (n_chunks,))
        oc_estep_parallel(t.item_ptr, t.worker_codes, t.label_codes, part.gold, log_prior, log_s, log_e,
                          bounds, post, cbuf, tbuf, lbuf, accumulate)
        return float(lbuf.sum()), (cbuf.sum(axis=0), tbuf.sum(axis=0))

    def _e_step_fixed(self, part: EMContext, log_prior: np.ndarray, rows: np.ndarray, post: np.ndarray,
                      accumulate: bool) -> tuple[float, Any]:
        """2-4 classes: Dawid-Skene's E-step on the one-coin rows; a worker's expected
        correct answers are the diagonal of its counts (``Σ_y N[w, y, y]``)."""
        ll, stats = ds_rows_estep(self, part, log_prior, rows, post, accumulate)
        if stats is None:
            return ll, None
        counts, tot = stats
        idx = np.arange(part.table.n_labels)
        return ll, (counts[:, idx, idx].sum(axis=1), tot)

    def m_step(self, ctx: EMContext, params: dict[str, np.ndarray], stats: Any,
               executor: Any) -> dict[str, np.ndarray]:
        corr, tot = stats
        return self._update(ctx, corr, tot)


# --------------------------------------------------------------------------- estimators
_COMMON_PARAMS_DOC = """
    max_iter : int >= 0, default 100
        Maximum number of EM iterations (``0``: posteriors of the initial parameters).
    tol : float >= 0, default 1e-5
        Stop when the mean log-likelihood per annotation changes by less than ``tol``
        between iterations; ``0`` runs exactly ``max_iter`` iterations.  A
        :class:`~crowdagg.errors.ConvergenceWarning` is issued when ``tol > 0`` and
        ``max_iter`` is reached first.
    init : {"mv", "uniform"}, default "mv"
        ``"mv"``: the first M-step uses majority-vote shares as posteriors (gold
        items one-hot); ``"uniform"``: uniform class priors and every worker
        {DEFAULT_ACCURACY:g} accurate with errors spread evenly.  Explicit parameters
        (a fitted estimator or a dict, see ``fit(init_params=...)``) are accepted too.
    smoothing : float in (0, 1e6], default 0.01
        Dirichlet pseudo-count added to every cell of the statistics before
        normalising (MAP estimate), so that no probability is ever 0, 1 or NaN.
    correct_prior : float in [0, 1e6], default 5.0
        Pseudo-count of *correct* answers added to every worker's statistics (the
        diagonal of each confusion row; one-coin: the correct answers of a Beta
        prior): a prior belief that workers are better than chance, worth this many
        answers.  It keeps workers with one or two answers near a reliable vote
        instead of a fitted 0/1 confusion matrix and leaves prolific workers to their
        data.  ``0`` gives the plain (smoothed) model of versions before 0.2 and of
        crowd-kit.
    warm_start : bool, default False
        If true and already fitted, ``fit`` starts from the fitted parameters
        (aligned by worker id; new workers start from the initial parameters).
        Warm-start parameters (also ``fit(init_params=...)``) must be probabilities:
        every row ``confusions[w, k, :]`` and ``priors`` summing to 1, one-coin
        ``skills`` in [0, 1]; values of exactly 0 or 1 are moved to ``1e-10`` /
        ``1 - 1e-10`` (rows renormalised), anything else raises
        :class:`~crowdagg.errors.InitParamsError`.
    parallel : bool, default True
        Use the multi-threaded kernels.
""".replace("{DEFAULT_ACCURACY:g}", f"{DEFAULT_ACCURACY:g}")


class _DSBase(EMAggregator):
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **em_constraints(EMAggregator._inits),
        "smoothing": [Interval(Real, 0, 1e6, closed="right")],
        "correct_prior": [Interval(Real, 0, 1e6)],
    }

    def __init__(
        self,
        max_iter: int = 100,
        tol: float = 1e-5,
        init: str = "mv",
        smoothing: float = 0.01,
        correct_prior: float = 5.0,
        warm_start: bool = False,
        parallel: bool = True,
    ) -> None:
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.smoothing = smoothing
        self.correct_prior = correct_prior
        self.warm_start = warm_start
        self.parallel = parallel

    def _smoothing(self) -> float:
        return float(self.smoothing)  # validated by fit (_parameter_constraints)

    def _correct_prior(self) -> float:
        return float(self.correct_prior)


class DawidSkene(_DSBase):
    __doc__ = f"""Dawid-Skene: one full confusion matrix per worker, fitted by EM.

    Each item has a latent true class ``z_i`` with prior ``priors[k]``; worker ``w``
    answers ``l`` with probability ``confusions[w, z_i, l]``, independently given
    ``z_i``.  EM alternates the posterior of ``z_i`` (E-step, in log space) and the
    MAP update of the confusion matrices and priors (M-step, Dirichlet smoothing).

    Dawid, A. P. & Skene, A. M. (1979).  Maximum likelihood estimation of observer
    error-rates using the EM algorithm.  *Journal of the Royal Statistical
    Society C (Applied Statistics)*, 28(1), 20-28.  https://doi.org/10.2307/2346806

    Parameters
    ----------{_COMMON_PARAMS_DOC}
    Attributes
    ----------
    labels_ : pandas.Series
        Most probable label per item (gold items: their gold label).
    probas_ : pandas.DataFrame
        Posteriors, items x labels (items without annotations: ``priors_``).
    confusions_ : pandas.DataFrame
        Confusion matrices, indexed by (worker id, true label) with the observed labels as
        columns: ``confusions_.loc[(w, k), l]`` is the probability that worker ``w`` answers
        ``l`` when the truth is ``k`` (the raw workers x true x observed array is
        ``params_["confusions"]``).
    confusions_frame_ : pandas.DataFrame
        Tidy view: columns ``worker``, ``true``, ``observed``, ``p``.
    priors_ : pandas.Series
        Class priors by label.
    skills_ : pandas.Series
        Expected accuracy per worker id, ``Σ_k priors[k] confusions[w, k, k]``.
    n_iter_, converged_, loglik_ : int, bool, numpy.ndarray
        Iterations run, whether ``tol`` was reached, log-likelihood after each iteration.
    params_ : dict
        Raw parameters in the table's code order (``confusions``, ``priors``).

    Examples
    --------
    >>> import crowdagg
    >>> df = crowdagg.datasets.make_crowd(200, 20, 3, random_state=0).annotations
    >>> ds = crowdagg.DawidSkene(max_iter=50).fit(df)
    >>> ds.labels_.shape, ds.confusions_.shape
    ((200,), (60, 3))
    """

    def _make_model(self) -> EMModel:
        return DawidSkeneModel(self._smoothing(), self._correct_prior())

    def _set_fitted(self, table: AnnotationTable, params: dict[str, np.ndarray], executor: Any) -> None:
        conf = np.ascontiguousarray(params["confusions"])
        pri = params["priors"]
        self.confusions_ = _labelled_confusions(table, conf)
        self.priors_ = pd.Series(pri, index=table.labels, name="prior")
        diag = np.einsum("wkk->wk", conf)
        self.skills_ = pd.Series(diag @ pri, index=table.workers, name="skill")

    @property
    def confusions_frame_(self) -> pd.DataFrame:
        """Tidy confusion matrices: ``worker``, ``true``, ``observed``, ``p``."""
        self._check_fitted()
        t = self.table_
        w, k = t.n_workers, t.n_labels
        return pd.DataFrame({
            "worker": t.workers.repeat(k * k),
            "true": np.tile(t.labels.repeat(k), w),
            "observed": np.tile(t.labels, w * k),
            "p": self.params_["confusions"].ravel(),
        })


class OneCoinDawidSkene(_DSBase):
    __doc__ = f"""One-coin Dawid-Skene: one accuracy per worker, errors uniform over the other labels.

    Worker ``w`` answers the true label with probability ``skills[w]`` and each of
    the ``K - 1`` other labels with probability ``(1 - skills[w]) / (K - 1)``.
    Fitted by EM like :class:`DawidSkene`; the M-step sets ``skills[w]`` to the
    worker's expected share of correct answers (Beta smoothing).

    Zhang, Y., Chen, X., Zhou, D. & Jordan, M. I. (2016).  Spectral methods meet EM:
    a provably optimal algorithm for crowdsourcing.  *Journal of Machine Learning
    Research*, 17(102), 1-44.  (The model is Dawid & Skene's (1979) with the
    confusion matrices restricted to one parameter.)

    Parameters
    ----------{_COMMON_PARAMS_DOC}
    Attributes
    ----------
    labels_, probas_ : as in :class:`DawidSkene`
    skills_ : pandas.Series
        Accuracy per worker id.
    priors_ : pandas.Series
        Class priors by label.
    n_iter_, converged_, loglik_, params_ : as in :class:`DawidSkene`
    """

    def _make_model(self) -> EMModel:
        return OneCoinModel(self._smoothing(), self._correct_prior())

    def _set_fitted(self, table: AnnotationTable, params: dict[str, np.ndarray], executor: Any) -> None:
        self.skills_ = pd.Series(params["skills"], index=table.workers, name="skill")
        self.priors_ = pd.Series(params["priors"], index=table.labels, name="prior")

    @property
    def confusions_(self) -> pd.DataFrame:
        """The confusion matrices implied by ``skills_``, labelled as :attr:`DawidSkene.confusions_`."""
        self._check_fitted()
        k = self.table_.n_labels
        s = self.params_["skills"]
        if k == 1:
            return _labelled_confusions(self.table_, np.ones((s.shape[0], 1, 1)))
        out = np.repeat(((1.0 - s) / (k - 1))[:, None, None], k, axis=1).repeat(k, axis=2)
        idx = np.arange(k)
        out[:, idx, idx] = s[:, None]
        return _labelled_confusions(self.table_, out)


class FastDawidSkene(_DSBase):
    __doc__ = f"""Fast Dawid-Skene: Dawid-Skene fitted by hard EM.

    Same model as :class:`DawidSkene`, but each M-step counts every item once for its
    currently most probable class (a classification EM), which converges in fewer
    iterations; ``probas_`` are still the soft posteriors of the fitted parameters.
    ``correct_prior`` defaults to ``0`` here (on the shared real datasets a prior of 5
    lowered hard EM's accuracy on three of twelve).

    Sinha, V. B., Rao, S. & Balasubramanian, V. N. (2018).  Fast Dawid-Skene: a fast
    vote aggregation scheme for sentiment classification.  *KDD Workshop on Issues of
    Sentiment Discovery and Opinion Mining (WISDOM)*.  arXiv:1803.02781.

    Parameters
    ----------{_COMMON_PARAMS_DOC}
    Attributes
    ----------
    As :class:`DawidSkene`.
    """

    def __init__(
        self,
        max_iter: int = 100,
        tol: float = 1e-5,
        init: str = "mv",
        smoothing: float = 0.01,
        correct_prior: float = 0.0,
        warm_start: bool = False,
        parallel: bool = True,
    ) -> None:
        # hard EM counts every item once already: no correct-answer prior by default
        super().__init__(max_iter=max_iter, tol=tol, init=init, smoothing=smoothing,
                         correct_prior=correct_prior, warm_start=warm_start, parallel=parallel)

    def _make_model(self) -> EMModel:
        return HardDawidSkeneModel(self._smoothing(), self._correct_prior())

    _set_fitted = DawidSkene._set_fitted
    confusions_frame_ = DawidSkene.confusions_frame_
