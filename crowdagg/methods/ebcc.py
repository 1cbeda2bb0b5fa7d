"""Enhanced Bayesian classifier combination (EBCC): worker correlation through class subtypes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .. import memory
from .._validation import Interval, Options
from ..em import (
    MAX_STAT_BUFFER_BYTES,
    EMContext,
    EMFit,
    EMModel,
    best_fit,
    em_constraints,
    run_em,
)
from ..kernels._util import _MIN_CHUNK_ANNOTATIONS, cap_chunks
from ..kernels.bcc import dirichlet_elog_slice, dirichlet_kl_sum
from ..kernels.ebcc import (
    ELOG_BLOCK_VALUES,
    ebcc_elog_blocks_parallel,
    ebcc_elog_blocks_slice,
    ebcc_estep_parallel,
    ebcc_estep_slice,
    ebcc_prepare_parallel,
    ebcc_split_slice,
    elog_block_rows,
    item_keys_slice,
    mix64_array,
    scale_rows_parallel,
    scale_rows_slice,
    worker_key_sums_slice,
)
from ..table import AnnotationTable
from .bcc import (
    DIRICHLET,
    KLCache,
    _BayesianCC,
    _posterior_means,
    dirichlet_prior_matrix,
    expected_log,
    row_chunks,
)

__all__ = ["EBCC", "EBCCModel", "base_worker_keys", "refine_worker_keys", "split_stats"]

#: Offset mixed into the answer counts of the first worker keys.
_KEY_SALT = np.uint64(0x243F6A8885A308D3)


def _mix(x: np.ndarray) -> np.ndarray:
    out = np.empty(x.shape[0], dtype=np.uint64)
    mix64_array(np.ascontiguousarray(x, dtype=np.uint64), out)
    return out


def base_worker_keys(worker_counts: np.ndarray) -> np.ndarray:
    """First worker keys: a hash of each worker's number of answers."""
    return _mix(np.asarray(worker_counts).astype(np.uint64) + _KEY_SALT)


def worker_key_sums(part: EMContext, post: Any, keys: np.ndarray, items: Any) -> tuple[None, np.ndarray]:
    """``map_reduce`` function: the part's sums for :func:`refine_worker_keys`."""
    t = part.table
    sums = np.zeros(t.n_workers, dtype=np.uint64)
    worker_key_sums_slice(t.item_ptr, t.worker_codes, t.label_codes, keys, 0, t.n_items, sums)
    return None, sums


def refine_worker_keys(keys: np.ndarray, sums: np.ndarray) -> np.ndarray:
    """Worker keys after one refinement round (the worker's key and its answers' item keys)."""
    return _mix(keys ^ sums)


def split_stats(part: EMContext, post: np.ndarray, broadcast: tuple[np.ndarray, int, int], items: Any
                ) -> tuple[None, tuple[np.ndarray, np.ndarray]]:
    """``map_reduce`` function: statistics of the random subtype split of ``post`` (the
    majority-vote shares), ``broadcast = (worker keys, seed, n_subtypes)``."""
    worker_keys, seed, n_sub = broadcast
    t = part.table
    k = t.n_labels
    keys = np.empty(t.n_items, dtype=np.uint64)
    item_keys_slice(t.item_ptr, t.worker_codes, t.label_codes, worker_keys, np.uint64(seed), 0, t.n_items, keys)
    # one serial pass: a chunked (parallel) sum would change the initial statistics in the last bits,
    # which the 50 iterations of a symmetric crowd amplify to ~1e-10
    counts, tot = np.zeros((t.n_workers * k, k * n_sub)), np.zeros(k * n_sub)
    ebcc_split_slice(t.item_ptr, t.worker_label_pairs, part.gold, post, keys, n_sub, 0, t.n_items, counts, tot)
    return None, (counts, tot)


class EBCCModel(KLCache, EMModel):
    """Variational-Bayes plug-in for EBCC with ``n_subtypes`` subtypes per class.

    Model (Li, Rubinstein & Cohn 2019): ``tau ~ Dir(alpha)``; for each class ``k``
    subtype weights ``pi_k ~ Dir(a_pi / M, ..., a_pi / M)``; each item draws its
    class ``z_i ~ tau`` and subtype ``g_i ~ pi_{z_i}``; worker ``w`` answers ``l``
    with probability ``v[w, z_i, g_i, l]``, ``v[w, k, m] ~ Dir(beta[k])``.  Workers
    who share a subtype's error pattern are correlated given the class.

    Parameters (variational Dirichlet parameters, the table's code order):
    ``confusion_counts`` (workers x K x M x K: true class, subtype, observed),
    ``subtype_counts`` (K x M), ``class_counts`` (K), and ``class_prior`` (the
    prior ``alpha``, K: carried along because the empirical prior is set from the
    data at the start).  Updates::

        confusion_counts[w, k, m, l] = beta[k, l] + sum_{i: w answered l} q(k, m | i)
        subtype_counts[k, m] = a_pi / M + sum_i q(k, m | i)
        class_counts[k] = alpha[k] + sum_i q(z_i = k)

    ELBO (reported after each E-step; ``q(z, g)`` the E-step's optimum, items with
    annotations or gold)::

        sum_i log sum_{k, m} exp(E[log tau_k] + E[log pi_km] + sum_{j in i} E[log v[w_j, k, m, y_j]])
        - sum KL(q(v) || p(v)) - sum_k KL(q(pi_k) || p(pi_k)) - KL(q(tau) || p(tau))

    ``seed`` fixes the random initial split of majority-vote shares into subtypes
    used by :meth:`stats_from_posteriors` (one Dirichlet(1) draw per item and class,
    a function of the seed and a hash of the item's answers; :class:`EBCC` sets the
    split itself, see :meth:`EBCC._run`).  ``n_restarts`` and ``parallel`` only size
    :meth:`memory_terms` (the runs :class:`EBCC` holds at once, which buffers the
    E-step uses).

    Memory: the local parallel E-step returns its statistics in a buffer of the
    plug-in (the previous iteration's, which :meth:`m_step` has consumed), and
    :meth:`m_step` writes the new confusion rows into the array of the old ones
    (which no caller reads after the M-step: the convergence test is the ELBO's),
    so an iteration holds one copy of each instead of two.
    """

    worker_params = ("confusion_counts",)
    global_params = ("subtype_counts", "class_counts", "class_prior")
    label_axes: ClassVar[dict[str, tuple[int, ...]]] = {
        "confusion_counts": (0, 2), "subtype_counts": (0,), "class_counts": (0,), "class_prior": (0,)}
    param_domains: ClassVar[dict[str, Any]] = {
        "confusion_counts": DIRICHLET, "subtype_counts": DIRICHLET, "class_counts": DIRICHLET,
        "class_prior": DIRICHLET}
    memory_advice = ("EBCC keeps labels x subtypes x labels Dirichlet parameters per worker: lower n_subtypes, "
                     "merge labels, or use BCC")

    def __init__(self, n_subtypes: int = 10, alpha_diag: float = 4.0, alpha_off: float = 1.0,
                 class_prior: float | str = "empirical", subtype_prior: float = 0.1, seed: int = 0,
                 n_restarts: int = 1, parallel: bool = True) -> None:
        self.n_subtypes = n_subtypes
        self.alpha_diag = alpha_diag
        self.alpha_off = alpha_off
        self.class_prior = class_prior
        self.subtype_prior = subtype_prior
        self.seed = seed
        self.n_restarts = n_restarts
        self.parallel = parallel

    def memory_terms(self, n_items: int, n_workers: int, n_labels: int) -> list[tuple[str, float]]:
        """Every large array of a fit (``P`` = workers x K^2 x M floats, the size of the
        confusion rows and of their statistics):

        - posteriors, items x K: the run's and the one replacing it (a new run's vote, then
          its empty posteriors), plus those of the held runs (below);
        - confusion rows: the run's start (held by :func:`~crowdagg.em.run_em` as its
          ``init``) and its current rows (or, before the run, the split statistics and the
          start made from them), plus the runs :func:`~crowdagg.em.best_fit` holds from
          earlier restarts (the kept one and the last one read: at most 2);
        - the E-step tables ``lrows`` and ``erows``, ``(workers K + 1) x K M`` each;
        - the E-step statistics (a plug-in buffer on the local parallel path; serially the
          previous iteration's and the new ones) and, in parallel, the per-chunk count
          buffers ``(chunks, workers K + 1, K M)`` (capped at
          :data:`crowdagg.em.MAX_STAT_BUFFER_BYTES`; one chunk: none);
        - per-item codes (gold, vote winners, split keys: 3 x 8 bytes an item);
        - the finiteness check (1 byte per value) and the digamma scratch of ``prepare``
          (at most 6 x :data:`~crowdagg.kernels.ebcc.ELOG_BLOCK_VALUES` values per thread).
        """
        import numba

        k, m, w = int(n_labels), int(self.n_subtypes), int(n_workers)
        p = 8.0 * w * k * k * m
        rows, codes = w * k + 1, k * m
        held = min(max(int(self.n_restarts) - 1, 0), 2)
        threads = numba.get_num_threads()
        terms = [memory.posteriors(n_items, n_labels, 2 + held),
                 (f"Dirichlet confusion rows, {w:,} workers x {k:,}^2 labels x {m} subtypes, "
                  f"{2 + held} copies (a run's start and current rows"
                  + (f", {held} earlier restart{'s' if held > 1 else ''}" if held else "") + ")",
                  (2 + held) * p),
                 (f"E-step tables, 2 x {rows:,} x {codes:,}", 2 * 8.0 * rows * codes)]
        n_stats = 1 if self.parallel else 2
        terms.append((f"E-step statistics, {w * k:,} x {codes:,}" + (", 2 copies" if n_stats > 1 else ""),
                      n_stats * p))
        if self.parallel:
            chunk = 8 * rows * codes
            n_chunks = max(1, min(2 * threads, (int(n_items) * w) // _MIN_CHUNK_ANNOTATIONS, int(n_items)))
            n_chunks = min(n_chunks, max(1, MAX_STAT_BUFFER_BYTES // chunk))
            if n_chunks > 1:
                terms.append((f"per-chunk E-step counts, {n_chunks} x {rows:,} x {codes:,}", float(n_chunks * chunk)))
        terms.append(("per-item codes (gold, votes, split keys)", 3 * 8.0 * int(n_items)))
        terms.append(("finiteness check and digamma scratch",
                      p / 8 + 6 * 8.0 * min(ELOG_BLOCK_VALUES, k * m * (k + 1)) * threads))
        return terms

    def _beta(self, k: int) -> np.ndarray:
        return dirichlet_prior_matrix(k, self.alpha_diag, self.alpha_off)

    def default_params(self, ctx: EMContext) -> dict[str, np.ndarray]:
        k, m = ctx.n_labels, self.n_subtypes
        alpha = np.full(k, 1.0 if isinstance(self.class_prior, str) else float(self.class_prior))
        return {"confusion_counts": np.broadcast_to(self._beta(k)[:, None, :], (ctx.n_workers, k, m, k)).copy(),
                "subtype_counts": np.full((k, m), self.subtype_prior / m),
                "class_counts": alpha.copy(), "class_prior": alpha}

    def prepare(self, ctx: EMContext, params: dict[str, np.ndarray]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(lrows, erows, shift, low)`` of :func:`~crowdagg.kernels.ebcc.ebcc_estep_slice`: the
        expected logs ``E[log v]`` (rows ``w * K + l``) and, as the last row, the log prior
        ``E[log tau_k] + E[log pi_km]``, with their scaled exponentials."""
        k, m = ctx.n_labels, self.n_subtypes
        log_prior = (expected_log(params["class_counts"])[:, None] + expected_log(params["subtype_counts"]))
        mu = params["confusion_counts"]
        w, r = ctx.n_workers, k * m
        mu3 = np.ascontiguousarray(mu).reshape(w, r, k)
        # scratch reused across iterations (each iteration's tables are read before the next prepare)
        lrows, erows = self.buffer("lrows", (w * k + 1, r)), self.buffer("erows", (w * k + 1, r))
        shift, low = self.buffer("shift", (w * k + 1,)), self.buffer("low", (w * k + 1,))
        if r * (k + 1) > ELOG_BLOCK_VALUES:  # many labels: blocks of a worker's rows, bounded scratch
            block = elog_block_rows(r, k, m)
            kl_buf = np.zeros(w * -(-r // block))
            if ctx.parallel:  # every thread busy however few the workers
                ebcc_elog_blocks_parallel(mu3, self._beta(k), m, block, kl_buf, lrows)
                scale_rows_parallel(lrows, erows, shift, low, row_chunks(w * k))
            else:
                ebcc_elog_blocks_slice(mu3, self._beta(k), m, block, kl_buf, lrows)
                scale_rows_slice(lrows, erows, shift, low, 0, w * k)
            kl = float(kl_buf.sum())
        elif ctx.parallel and w > 1 and mu3.size > 20_000:  # E[log v], KL and scaling in one parallel region
            bounds = row_chunks(w)
            kl_buf = np.zeros(bounds.shape[0] - 1)
            ebcc_prepare_parallel(mu3, self._beta(k), m, bounds, kl_buf, lrows, erows, shift, low)
            kl = float(kl_buf.sum())
        else:
            kl = float(dirichlet_elog_slice(mu3, self._beta(k), m, 0, w, lrows))
            scale_rows_slice(lrows, erows, shift, low, 0, w * k)
        lrows[-1] = log_prior.ravel()
        scale_rows_slice(lrows, erows, shift, low, w * k, w * k + 1)
        self._store_kl(mu, kl)
        return lrows, erows, shift, low

    def e_step_table(self, part: EMContext, prepared: tuple[np.ndarray, ...], items: dict[str, np.ndarray],
                     post: np.ndarray, accumulate: bool) -> tuple[float, Any]:
        t = part.table
        lrows, erows, shift, low = prepared
        rows, codes = lrows.shape[0] - 1, lrows.shape[1]
        m = self.n_subtypes
        bounds = (cap_chunks(part.chunks(), 8 * rows * codes if accumulate else 8, MAX_STAT_BUFFER_BYTES)
                  if part.parallel else None)
        # the local parallel executor consumes each iteration's statistics (m_step) before the next
        # E-step: they can live in a buffer of the plug-in (never on Dask pieces, which are serial
        # and may share one plug-in between threads)
        if bounds is None or bounds.shape[0] <= 2:
            if not accumulate:
                counts = np.zeros((1, codes))  # not written
            elif part.parallel:
                counts = self.buffer("stats", (rows, codes))
                counts.fill(0.0)
            else:
                counts = np.zeros((rows, codes))
            tot = np.zeros(codes)
            ll = ebcc_estep_slice(t.item_ptr, t.worker_label_pairs, part.gold, lrows, erows, shift, low, m,
                                  0, t.n_items, post, counts, tot, accumulate)
            return float(ll), ((counts, tot) if accumulate else None)
        n_chunks = bounds.shape[0] - 1
        cbuf = self.buffer("counts", (n_chunks, rows, codes)) if accumulate else np.zeros((n_chunks, 1, codes))
        tbuf = self.buffer("tot", (n_chunks, codes))
        lbuf = self.buffer("loglik", (n_chunks,))
        ebcc_estep_parallel(t.item_ptr, t.worker_label_pairs, part.gold, lrows, erows, shift, low, m, bounds,
                            post, cbuf, tbuf, lbuf, accumulate)
        ll = float(lbuf.sum())
        if not accumulate:
            return ll, None
        return ll, (np.sum(cbuf, axis=0, out=self.buffer("stats", (rows, codes))), tbuf.sum(axis=0))

    def stats_from_posteriors(self, part: EMContext, post: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Statistics of ``q(k, m) = post[i, k] * d[k, m]``, ``d[k] ~ Dir(1)`` (the authors'
        initial split), the draws seeded by :attr:`seed` and a hash of each item's answers
        (:func:`crowdagg.kernels.ebcc.item_keys_slice`; worker keys from this part alone:
        :class:`EBCC` computes them over the whole data, which is the same locally)."""
        keys = base_worker_keys(part.worker_counts())
        keys = refine_worker_keys(keys, worker_key_sums(part, post, keys, None)[1])
        return split_stats(part, post, (keys, int(self.seed), self.n_subtypes), None)[1]

    def _update(self, ctx: EMContext, counts: np.ndarray, tot: np.ndarray, alpha: np.ndarray,
                out: np.ndarray | None = None) -> dict[str, np.ndarray]:
        k, m, w = ctx.n_labels, self.n_subtypes, ctx.n_workers
        # counts rows w * K + l, columns k * M + m  ->  workers x K x M x K(observed)
        # C order: the next prepare reads it as workers x (K * M) x K without a copy
        src = counts.reshape(w, k, k, m).transpose(0, 2, 3, 1)
        beta = self._beta(k)[None, :, None, :]
        if (isinstance(out, np.ndarray) and out.shape == (w, k, m, k) and out.dtype == np.float64
                and out.flags.c_contiguous and out.flags.writeable and not np.shares_memory(out, counts)):
            mu = np.add(src, beta, out=out)  # the old rows' array: no second copy
            self.__dict__.pop("_kl_cache", None)  # its KL (keyed by the array) is stale now
        else:
            mu = np.add(src, beta, order="C")
        eta = tot.reshape(k, m)
        return {"confusion_counts": mu, "subtype_counts": eta + self.subtype_prior / m,
                "class_counts": eta.sum(axis=1) + alpha, "class_prior": alpha}

    def initial_m_step(self, ctx: EMContext, stats: Any, executor: Any) -> dict[str, np.ndarray]:
        counts, tot = stats
        k, m = ctx.n_labels, self.n_subtypes
        if isinstance(self.class_prior, str):  # "empirical": the majority-vote class totals
            alpha = np.maximum(tot.reshape(k, m).sum(axis=1), 1e-10)
        else:
            alpha = np.full(k, float(self.class_prior))
        return self._update(ctx, counts, tot, alpha)

    def m_step(self, ctx: EMContext, params: dict[str, np.ndarray], stats: Any,
               executor: Any) -> dict[str, np.ndarray]:
        counts, tot = stats
        # the new rows go into the old rows' array (see the class docstring: nothing reads them
        # after) -- unless a parameter-change convergence test is to compare old and new
        out = params["confusion_counts"] if getattr(self, "convergence", "loglik") != "params" else None
        return self._update(ctx, counts, tot, params["class_prior"], out=out)

    def loglik_offset(self, ctx: EMContext, params: dict[str, np.ndarray]) -> float:
        k, m = ctx.n_labels, self.n_subtypes
        kl = self._cached_kl(params["confusion_counts"])
        if kl is None:
            kl = dirichlet_kl_sum(np.ascontiguousarray(params["confusion_counts"]).reshape(-1, k), self._beta(k), m)
        kl += dirichlet_kl_sum(np.ascontiguousarray(params["subtype_counts"]),
                               np.full((1, m), self.subtype_prior / m), 1)
        kl += dirichlet_kl_sum(params["class_counts"].reshape(1, k), params["class_prior"].reshape(1, k), 1)
        return -float(kl)


class EBCC(_BayesianCC):
    """Enhanced Bayesian classifier combination: BCC with correlated workers through subtypes.

    Each true class is split into ``n_subtypes`` latent subtypes shared by all
    workers; a worker's confusion row depends on the item's class *and* subtype,
    so workers who err alike on some kind of item are modelled as correlated
    (given the class) instead of independent.  Fitted by mean-field variational
    Bayes over the joint ``(class, subtype)`` posterior of each item; the
    initial ``q`` splits majority-vote shares at random among the subtypes, and
    ``n_restarts`` runs with different splits are made, keeping the one with the
    highest ELBO.

    Li, Y., Rubinstein, B. I. P. & Cohn, T. (2019).  Exploiting worker correlation
    for label aggregation in crowdsourcing.  *Proceedings of ICML 2019*, PMLR 97,
    3886-3895.  https://proceedings.mlr.press/v97/li19i.html

    The defaults follow the authors' reference code and notebook: 10 subtypes,
    confusion-row prior 4 on the diagonal and 1 elsewhere, subtype-weight prior
    ``Dir(0.1 / M, ...)``, the empirical class prior (``alpha`` = the majority-vote
    class totals), the best ELBO of 10 random starts.

    Parameters
    ----------
    n_subtypes : int >= 1, default 10
        Subtypes per class (``M``); ``1`` gives BCC with a ``Dir(a_pi)``-distributed
        constant.
    n_restarts : int >= 1, default 10
        Runs from different random initial splits; the highest final ELBO is kept.
    random_state : None, int >= 0, numpy SeedSequence, Generator or RandomState, default 0
        Seed of the splits (each run's seed is drawn from it in order; each item's
        draw is a function of that seed and a hash of the item's answers -- never of
        its id or position, so renaming items or workers and reordering rows change
        nothing, and a Dask fit equals the local one).  Same seed, same data:
        same result.
    max_iter : int >= 0, default 500
        Maximum iterations per run.
    tol : float >= 0, default 1e-6
        Stop a run when the ELBO per annotation changes by less than ``tol``; ``0``
        runs exactly ``max_iter`` iterations.
    alpha_diag, alpha_off : float in (0, 1e6], default 4.0 and 1.0
        Dirichlet prior of every confusion row (diagonal, elsewhere).
    class_prior : "empirical" or float in (0, 1e6], default "empirical"
        Prior ``alpha`` of the class proportions: the majority-vote class totals
        (as the authors' notebook), or a symmetric Dirichlet parameter.
    subtype_prior : float in (0, 1e6], default 0.1
        ``a_pi``: the subtype weights of each class are ``Dir(a_pi / M, ...)``
        (small: few subtypes get used).
    init : {"mv"}, default "mv"
        Majority-vote shares split at random among the subtypes.  Explicit
        parameters (a fitted EBCC or a dict, see ``fit(init_params=...)``) make a
        single run from them.
    warm_start : bool, default False
        If true and already fitted, ``fit`` makes one run from the fitted Dirichlet
        parameters (aligned by worker id; new workers start from the prior).
    parallel : bool, default True
        Use the multi-threaded kernels.

    Attributes
    ----------
    labels_ : pandas.Series
        Most probable label per item (gold items: their gold label).
    probas_ : pandas.DataFrame
        ``q(z_i = k)``, the class marginals of the joint posteriors.
    confusions_ : pandas.DataFrame
        Each worker's posterior mean confusion matrix averaged over the subtypes
        with their posterior mean weights, ``sum_m E[pi_km] E[v[w, k, m, l]]``,
        indexed by (worker id, true label), observed labels as columns.
    subtype_weights_ : pandas.DataFrame
        Posterior mean subtype weights ``E[pi_km]``, labels x subtypes.
    priors_ : pandas.Series
        Posterior mean class proportions by label.
    skills_ : pandas.Series
        Expected accuracy per worker id, ``sum_k priors[k] confusions[w, k, k]``.
    elbo_ : numpy.ndarray
        ELBO after each iteration of the kept run (also readable as ``loglik_``).
    restart_elbo_ : numpy.ndarray
        Final ELBO of every run, in order.
    best_restart_ : int
        Index of the kept run.
    n_iter_, converged_ : int, bool
        Of the kept run.
    params_ : dict
        Variational Dirichlet parameters (``confusion_counts``, workers x K x M x K;
        ``subtype_counts``; ``class_counts``) and the prior ``class_prior``.

    Examples
    --------
    >>> import crowdagg
    >>> df = crowdagg.datasets.make_crowd(200, 20, 3, random_state=0).annotations
    >>> ebcc = crowdagg.EBCC(n_restarts=2).fit(df)
    >>> ebcc.labels_.shape, ebcc.subtype_weights_.shape
    ((200,), (3, 10))
    """

    _inits: ClassVar[tuple[str, ...]] = ("mv",)
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **em_constraints(_inits),
        "n_subtypes": [Interval(Integral, 1, 1000)],
        "n_restarts": [Interval(Integral, 1, None)],
        "random_state": ["random_state"],
        "alpha_diag": [Interval(Real, 0, 1e6, closed="right")],
        "alpha_off": [Interval(Real, 0, 1e6, closed="right")],
        "class_prior": [Options(("empirical",)), Interval(Real, 0, 1e6, closed="right")],
        "subtype_prior": [Interval(Real, 0, 1e6, closed="right")],
    }

    def __init__(
        self,
        n_subtypes: int = 10,
        n_restarts: int = 10,
        random_state: Any = 0,
        max_iter: int = 500,
        tol: float = 1e-6,
        alpha_diag: float = 4.0,
        alpha_off: float = 1.0,
        class_prior: float | str = "empirical",
        subtype_prior: float = 0.1,
        init: str = "mv",
        warm_start: bool = False,
        parallel: bool = True,
    ) -> None:
        self.n_subtypes = n_subtypes
        self.n_restarts = n_restarts
        self.random_state = random_state
        self.max_iter = max_iter
        self.tol = tol
        self.alpha_diag = alpha_diag
        self.alpha_off = alpha_off
        self.class_prior = class_prior
        self.subtype_prior = subtype_prior
        self.init = init
        self.warm_start = warm_start
        self.parallel = parallel

    def _make_model(self) -> EBCCModel:
        # validated by fit (_parameter_constraints)
        cp = self.class_prior if isinstance(self.class_prior, str) else float(self.class_prior)
        return EBCCModel(int(self.n_subtypes), float(self.alpha_diag), float(self.alpha_off), cp,
                         float(self.subtype_prior), n_restarts=int(self.n_restarts), parallel=bool(self.parallel))

    def _run(self, model: EMModel, executor: Any, init: str | dict[str, np.ndarray], max_iter: int,
             tol: float) -> EMFit:
        """``n_restarts`` runs, each from its own random split; the highest final ELBO is kept.

        Run ``r`` splits the majority-vote shares with seed ``r`` of ``random_state``'s
        draws and a key per item that hashes the item's answers (labels and worker
        keys; :func:`split_stats`), so that the draws depend on neither ids nor row
        order nor the split into Dask pieces.  The worker keys hash each worker's
        answer count, refined once by the keys of the items it answered (two passes
        of ``executor.map_reduce``, once per fit).  The initial parameters then go
        through :func:`~crowdagg.em.run_em` as explicit parameters.  Explicit
        parameters (a warm start) make one run.  Sets ``restart_elbo_`` and
        ``best_restart_``.
        """
        assert isinstance(model, EBCCModel)
        if isinstance(init, Mapping):
            starts: list[Any] = [init]
        else:
            starts = [int(s) for s in self._rng().integers(0, 2**62, size=int(self.n_restarts))]
            ctx = executor.ctx
            executor.start()
            executor.vote()  # majority-vote shares, gold items one-hot
            keys = base_worker_keys(ctx.worker_counts())
            keys = refine_worker_keys(keys, executor.map_reduce(worker_key_sums, keys)[1])

        def fits() -> Iterator[EMFit]:
            for r, start in enumerate(starts):
                if isinstance(start, int):  # the random split of majority-vote shares seeded by ``start``
                    if r:
                        executor.start()
                        executor.vote()
                    stats = executor.map_reduce(split_stats, (keys, start, model.n_subtypes))[1]
                    start = model.initial_m_step(ctx, stats, executor)
                    del stats  # not held through the run (workers x K^2 x M floats)
                yield run_em(model, executor, init=start, max_iter=max_iter, tol=tol, warn=False)

        # stacklevel 3: _run -> fit -> the user's call
        best, self.best_restart_, self.restart_elbo_ = best_fit(fits(), "EBCC", max_iter, tol,
                                                                change="ELBO change", stacklevel=3)
        return best

    def _set_fitted(self, table: AnnotationTable, params: dict[str, np.ndarray], executor: Any) -> None:
        v = _posterior_means(np.asarray(params["confusion_counts"]))  # workers x K x M x K
        pi = _posterior_means(np.asarray(params["subtype_counts"]))
        self._set_posterior_means(table, np.einsum("km,wkml->wkl", pi, v),
                                  _posterior_means(np.asarray(params["class_counts"])))
        self.subtype_weights_ = pd.DataFrame(pi, index=table.labels, columns=pd.RangeIndex(pi.shape[1],
                                                                                            name="subtype"))
