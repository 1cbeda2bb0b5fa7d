"""MACE: Multi-Annotator Competence Estimation (Hovy et al., 2013), on the shared EM engine."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln

from .. import memory
from .._validation import SUM_TOL, Domain, Interval, Options, Pair, check_float
from ..em import (
    MAX_STAT_BUFFER_BYTES,
    EMAggregator,
    EMContext,
    EMFit,
    EMModel,
    LocalExecutor,
    best_fit,
    em_constraints,
    run_em,
)
from ..errors import InitParamsError, InputError, ParameterError
from ..kernels._util import cap_chunks
from ..kernels.mace import (
    class_totals,
    mace_answer_log_probs,
    mace_estep_fixed_parallel,
    mace_estep_fixed_slice,
    mace_estep_parallel,
    mace_estep_slice,
    mace_know_ratio,
    mace_log_params,
    mace_mstep_em,
    mace_mstep_vb,
)
from ..table import AnnotationTable

__all__ = ["MACE", "MACEModel"]


def _fixed_width(n_labels: int) -> bool:
    """Whether the fixed-width (2-4 class) MACE kernels run for ``n_labels`` classes."""
    return 2 <= n_labels <= 4


def _id_ranks(ids: pd.Index) -> np.ndarray:
    """Position of each id in the sorted ids (codes order -> id order); code order
    when the ids do not sort (mixed types are refused earlier, so rarely)."""
    try:
        order = np.argsort(ids.to_numpy(), kind="stable")
    except TypeError:
        return np.arange(len(ids))
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids))
    return rank


def _kl_dirichlet(post: np.ndarray, prior: np.ndarray) -> float:
    """Sum over the rows of ``KL(Dirichlet(post[r]) || Dirichlet(prior[r]))`` (rows broadcast)."""
    post = np.atleast_2d(post)
    prior = np.broadcast_to(prior, post.shape)
    a, b = post.sum(axis=1), prior.sum(axis=1)
    return float(np.sum(gammaln(a) - gammaln(post).sum(axis=1) - gammaln(b) + gammaln(prior).sum(axis=1)
                        + ((post - prior) * (digamma(post) - digamma(a)[:, None])).sum(axis=1)))


class MACEModel(EMModel):
    """EM / variational-Bayes plug-in for MACE.

    Per-worker parameters ``know`` (``theta``, probability of knowing the answer),
    ``spam`` (``1 - theta``) and ``strategies`` (workers x labels, the label
    distribution when spamming).  True labels are uniform (as in the paper) or, with
    ``learn_prior``, follow class priors ``priors`` learnt with the rest (a global
    parameter: MAP with add-``smoothing`` under EM, ``exp(E[log pi])`` under a
    ``Dirichlet(1)`` prior under VB).
    Under ``method="vb"`` the parameters are the sub-normalised ``exp(E[log .])`` of
    the mean-field posteriors, as in the authors' code; the exposed ``spam_`` and
    ``strategies_`` are normalised.

    * E-step (:func:`~crowdagg.kernels.mace.mace_estep_slice`): posteriors and the
      expected counts of known and spammed answers, one pass over item slices.
    * M-step: :func:`~crowdagg.kernels.mace.mace_mstep_em` (add-``smoothing``) or
      :func:`~crowdagg.kernels.mace.mace_mstep_vb` (Beta/Dirichlet priors).
    """

    worker_params = ("spam", "know", "strategies")
    global_params = ()

    def memory_terms(self, n_items: int, n_workers: int, n_labels: int) -> list[tuple[str, float]]:
        terms = [memory.posteriors(n_items, n_labels, 3),
                 memory.per_worker(f"strategies ({n_labels:,} labels)", n_workers, n_labels, 6)]
        if _fixed_width(n_labels):  # the tables of prepare: log p(y | z = k) and the known-answer ratios
            terms.append(memory.per_worker(f"E-step answer tables ({n_labels:,} labels x {n_labels + 1:,})",
                                           n_workers, n_labels * (n_labels + 1)))
        return terms
    label_axes: ClassVar[dict[str, tuple[int, ...]]] = {"spam": (), "know": (), "strategies": (0,)}
    #: weights in [0, 1]; ``spam + know`` and each strategy row sum to at most 1 (to 1
    #: under EM; sub-normalised under VB); zeros are floored at PROB_FLOOR
    param_domains: ClassVar[dict[str, Domain]] = {
        "spam": Domain(0.0, 1.0, probability=True),
        "know": Domain(0.0, 1.0, probability=True),
        "strategies": Domain(0.0, 1.0, sum_axes=(1,), probability=True, at_most=True),
    }

    def check_params(self, params: dict[str, np.ndarray], table: AnnotationTable | None = None
                     ) -> dict[str, np.ndarray]:
        """The domains of :attr:`param_domains`, and ``spam + know <= 1`` per worker."""
        out = super().check_params(params, table)
        tot = params["spam"] + params["know"]
        over = np.flatnonzero(tot > 1.0 + SUM_TOL)
        if over.size:
            w = over[0]
            who = f" (worker {table.workers[w]!r})" if table is not None else ""
            raise InitParamsError(
                f"{type(self).__name__}: init_params 'spam' + 'know' must be at most 1 per worker; "
                f"{float(tot[w]):.6g} at position {w}{who}"
            )
        return out

    def __init__(self, method: str, smoothing: float | None, theta_prior: tuple[float, float],
                 strategy_prior: float, learn_prior: bool = False, balanced: bool = False) -> None:
        self.method = method
        #: ``decision="balanced"``: once fitted, posteriors under uniform class priors
        #: (``deciding`` is set for that last E-step and for ``predict_proba``)
        self.balanced = balanced
        self.deciding = False
        self.smoothing = smoothing
        self.theta_prior = theta_prior
        self.strategy_prior = strategy_prior
        self.learn_prior = learn_prior
        # the class priors are a parameter only when learnt (the paper's model has none)
        self.global_params = ("priors",) if learn_prior else ()
        if learn_prior:
            self.label_axes = {**type(self).label_axes, "priors": (0,)}
            self.param_domains = {**type(self).param_domains,
                                  "priors": Domain(0.0, 1.0, sum_axes=(0,), probability=True, at_most=True)}

    @staticmethod
    def _log_prior(ctx: EMContext) -> np.ndarray:
        return np.full(ctx.n_labels, -np.log(ctx.n_labels))

    def default_params(self, ctx: EMContext) -> dict[str, np.ndarray]:
        w, k = ctx.n_workers, ctx.n_labels
        out = {"spam": np.full(w, 0.5), "know": np.full(w, 0.5), "strategies": np.full((w, k), 1.0 / k)}
        if self.learn_prior:
            out["priors"] = np.full(k, 1.0 / k)
        return out

    def __getstate__(self) -> dict[str, Any]:
        # the cached item weights (and the table they belong to) stay behind on Dask, and so
        # do the last M-step's counts (the client's, for the ELBO)
        return {k: v for k, v in super().__getstate__().items() if k not in ("_used", "_counts")}

    def _class_totals(self, part: EMContext, post: np.ndarray) -> np.ndarray:
        """Posterior class totals over the part's items with answers or gold (the priors' statistics)."""
        if not self.learn_prior:
            return np.zeros(part.n_labels)
        cached = self.__dict__.get("_used")
        if cached is None or cached[0] is not part.table or cached[1] is not part.gold:
            used = (part.table.item_counts() > 0) | (part.gold >= 0)
            cached = self.__dict__["_used"] = (part.table, part.gold, used)
        return class_totals(post, cached[2])  # one pass, no copy of the posteriors

    def _update_priors(self, tot: np.ndarray) -> np.ndarray:
        k = tot.shape[0]
        if self.method == "vb":  # Dirichlet(1) prior: exp(E[log pi]) under Dirichlet(1 + T)
            return np.exp(digamma(tot + 1.0) - digamma(tot.sum() + k))
        a = 0.01 / k if self.smoothing is None else self.smoothing
        return (tot + a) / (tot.sum() + k * a)

    def random_params(self, ctx: EMContext, noise: float) -> dict[str, np.ndarray]:
        """Random starting point (the authors' scheme): every weight drawn uniformly in
        ``[1, 1 + noise]``, then normalised per worker."""
        w, k = ctx.n_workers, ctx.n_labels
        # draws go to workers in the order of their ids, not of their codes (first
        # appearance in the input): the same worker gets the same start whatever
        # the order of the rows
        rank = _id_ranks(ctx.table.workers)
        sk = 1.0 + noise * ctx.rng.random((w, 2))[rank]
        sk /= sk.sum(axis=1, keepdims=True)
        st = 1.0 + noise * ctx.rng.random((w, k))[rank]
        st /= st.sum(axis=1, keepdims=True)
        out = {"spam": sk[:, 0].copy(), "know": sk[:, 1].copy(), "strategies": st}
        if self.learn_prior:
            out["priors"] = np.full(k, 1.0 / k)  # random worker parameters, uniform classes
        return out

    def _update(self, know_cnt: np.ndarray, strat_cnt: np.ndarray, tot: np.ndarray) -> dict[str, np.ndarray]:
        # the variational posteriors' counts, for :meth:`elbo` (fresh arrays of each E-step)
        self.__dict__["_counts"] = (know_cnt, strat_cnt, tot)
        if self.method == "vb":
            spam, know, st = mace_mstep_vb(know_cnt, strat_cnt, self.theta_prior, self.strategy_prior)
        else:
            smoothing = 0.01 / strat_cnt.shape[1] if self.smoothing is None else self.smoothing
            spam, know, st = mace_mstep_em(know_cnt, strat_cnt, smoothing)
        out = {"spam": spam, "know": know, "strategies": st}
        if self.learn_prior:
            out["priors"] = self._update_priors(tot)
        return out

    def elbo(self, ctx: EMContext, params: dict[str, np.ndarray], loglik: float) -> float:
        """The variational objective (``method="vb"``) after the last M-step (``params``):
        ``loglik``, the E-step's log normaliser at ``params``, minus the KL divergence of the
        variational posteriors ``Beta(S_w + b_spam, K_w + b_know)``, ``Dirichlet(c_w + d)``
        (and, with learnt priors, ``Dirichlet(T + 1)``) from their priors, whose counts that
        M-step used (Hovy et al. 2013, Section 2.2; Bishop 2006, Section 10.1).  Under VB
        ``loglik`` alone leaves the KL term out, so it is not what the fit maximises.  Items
        without answers or gold are outside the model of the learnt priors (not in ``T``): the
        ``log sum_k pi_k`` the E-step gives each of them is taken out."""
        know_cnt, strat_cnt, tot = self.__dict__["_counts"]
        b_spam, b_know = self.theta_prior
        d = self.strategy_prior
        k = strat_cnt.shape[1]
        kl = _kl_dirichlet(np.stack([strat_cnt.sum(axis=1) + b_spam, know_cnt + b_know], axis=1),
                           np.array([b_spam, b_know]))
        kl += _kl_dirichlet(strat_cnt + d, np.full(k, d))
        if self.learn_prior:
            kl += _kl_dirichlet(tot + 1.0, np.ones(k))
            n_out = ctx.n_items - tot.sum()  # every item in T adds 1
            if n_out > 0.5:
                kl += round(n_out) * float(np.log(params["priors"].sum()))
        return float(loglik) - kl

    def stats_from_posteriors(self, part: EMContext, post: np.ndarray
                              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # expected counts under the default parameters (theta = 1/2, uniform strategy)
        # and the given posteriors (then the initial M-step is one M-step)
        t = part.table
        k = t.n_labels
        r = post[t.item_codes, t.label_codes] * (0.5 / (0.5 / k + 0.5))
        know_cnt = np.bincount(t.worker_codes, weights=r, minlength=t.n_workers)
        strat_cnt = np.bincount(t.worker_codes.astype(np.int64) * k + t.label_codes, weights=1.0 - r,
                                minlength=t.n_workers * k).reshape(t.n_workers, k)
        return know_cnt, strat_cnt, self._class_totals(part, post)

    def prepare(self, ctx: EMContext, params: dict[str, np.ndarray]) -> tuple[Any, ...]:
        """``(log_prior, log_spam, log_both, log_know, tables)``; ``tables``, for 2-4
        classes, the fixed-width kernels' ``(logpy, know_ratio)``
        (:func:`~crowdagg.kernels.mace.mace_answer_log_probs`,
        :func:`~crowdagg.kernels.mace.mace_know_ratio`), built here once per E-step (as
        Dawid-Skene's ``logct``) so that a part or a batch pays for its answers only,
        not for every worker; ``None`` otherwise."""
        learnt = self.learn_prior and not (self.balanced and self.deciding)
        log_prior = np.log(params["priors"]) if learnt else self._log_prior(ctx)
        log_spam, log_both, log_know = mace_log_params(params["spam"], params["know"], params["strategies"])
        tables = None
        if _fixed_width(ctx.n_labels):
            tables = (mace_answer_log_probs(log_spam, log_both), mace_know_ratio(log_know, log_both))
        return log_prior, log_spam, log_both, log_know, tables

    def e_step_table(self, part: EMContext, prepared: tuple[Any, ...], items: dict[str, np.ndarray],
                     post: np.ndarray, accumulate: bool) -> tuple[float, Any]:
        t = part.table
        k, n_workers = t.n_labels, t.n_workers
        log_prior, log_spam, log_both, log_know, tables = prepared
        # the per-chunk workers x (labels + 1) count buffers (know_cnt, strat_cnt: the
        # kernels' only per-chunk workers-sized memory): fewer chunks past the cap
        bounds = cap_chunks(part.chunks(), 8 * n_workers * (k + 1), MAX_STAT_BUFFER_BYTES)
        if tables is not None and post.shape[1] == k:
            return self._e_step_fixed(part, log_prior, tables, bounds, post, accumulate)
        if bounds.shape[0] <= 2:  # one chunk: the serial kernel, no thread start-up
            know_cnt = np.zeros(n_workers)
            strat_cnt = np.zeros((n_workers, k))
            ll = mace_estep_slice(t.item_ptr, t.worker_codes, t.label_codes, part.gold, log_prior, log_spam,
                                  log_both, log_know, 0, t.n_items, post, know_cnt, strat_cnt, accumulate)
            return float(ll), (know_cnt, strat_cnt, self._class_totals(part, post) if accumulate else None)
        n_chunks = bounds.shape[0] - 1
        kbuf = self.buffer("know_cnt", (n_chunks, n_workers))
        sbuf = self.buffer("strat_cnt", (n_chunks, n_workers, k))
        lbuf = self.buffer("loglik", (n_chunks,))
        mace_estep_parallel(t.item_ptr, t.worker_codes, t.label_codes, part.gold, log_prior, log_spam,
                            log_both, log_know, bounds, post, kbuf, sbuf, lbuf, accumulate)
        tot = self._class_totals(part, post) if accumulate else None
        return float(lbuf.sum()), (kbuf.sum(axis=0), sbuf.sum(axis=0), tot)

    def _e_step_fixed(self, part: EMContext, log_prior: np.ndarray, tables: tuple[np.ndarray, np.ndarray],
                      bounds: np.ndarray, post: np.ndarray, accumulate: bool) -> tuple[float, Any]:
        """2-4 classes: the kernels compiled for the class count, class totals in the same pass."""
        t = part.table
        k, n_workers = t.n_labels, t.n_workers
        logpy, ratio = tables
        width = (0.0,) * k
        gold = part.kernel_gold()
        if bounds.shape[0] <= 2:  # one chunk: the serial kernel, no thread start-up
            know_cnt, strat_cnt, tot = np.zeros(n_workers), np.zeros((n_workers, k)), np.zeros(k)
            ll = mace_estep_fixed_slice(t.item_ptr, t.worker_codes, t.label_codes, gold, log_prior, logpy, ratio,
                                        0, t.n_items, post, know_cnt, strat_cnt, tot, accumulate, width)
        else:
            n_chunks = bounds.shape[0] - 1
            kbuf = self.buffer("know_cnt", (n_chunks, n_workers))
            sbuf = self.buffer("strat_cnt", (n_chunks, n_workers, k))
            tbuf = self.buffer("class_tot", (n_chunks, k))
            lbuf = self.buffer("loglik", (n_chunks,))
            mace_estep_fixed_parallel(t.item_ptr, t.worker_codes, t.label_codes, gold, log_prior, logpy, ratio,
                                      bounds, post, kbuf, sbuf, tbuf, lbuf, accumulate, width)
            ll = lbuf.sum()
            know_cnt, strat_cnt, tot = kbuf.sum(axis=0), sbuf.sum(axis=0), tbuf.sum(axis=0)
        if not accumulate:
            return float(ll), (know_cnt, strat_cnt, None)
        return float(ll), (know_cnt, strat_cnt, tot if self.learn_prior else np.zeros(k))

    def m_step(self, ctx: EMContext, params: dict[str, np.ndarray], stats: Any,
               executor: Any) -> dict[str, np.ndarray]:
        return self._update(*stats)


def _entropy(post: np.ndarray) -> np.ndarray:
    """Shannon entropy (nats) of each row."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(post > 0.0, post * np.log(post), 0.0)
    return np.maximum(-terms.sum(axis=1), 0.0)


class MACE(EMAggregator):
    """MACE: Multi-Annotator Competence Estimation.

    Each worker ``w`` knows the true label with probability ``theta[w]`` and then
    reports it; otherwise (probability ``1 - theta[w]``, "spamming") it draws a label
    from its own strategy ``xi[w]``, whatever the truth.  True labels follow class
    priors (learnt; uniform in the paper).  Fitted by EM or by variational Bayes with a ``Beta`` prior on
    ``theta`` and a symmetric Dirichlet prior on ``xi`` (the paper's recommended
    setting, the default), from ``n_restarts`` different random starting points,
    keeping the run with the highest value of the objective the fit maximises (VB:
    the evidence lower bound; EM: the log-likelihood).  Unlike the paper, the class
    priors are learnt by default (``class_prior="learn"``): with uniform true
    labels, the surplus answers of a frequent class can only be explained as spam,
    and on imbalanced data MACE then falls far below majority vote (see
    docs/glad_mace.md).  The labels are then read off the paper's model, uniform
    class priors at the fitted worker parameters (``decision="balanced"``), or off
    the learnt priors (``decision="posterior"``).

    Hovy, D., Berg-Kirkpatrick, T., Vaswani, A. & Hovy, E. (2013).  Learning whom to
    trust with MACE.  *Proceedings of NAACL-HLT 2013*, 1120-1130.
    https://aclanthology.org/N13-1132

    Bishop, C. M. (2006).  *Pattern Recognition and Machine Learning*, Section 10.1
    (variational inference: the evidence lower bound).  Springer.

    Saerens, M., Latinne, P. & Decaestecker, C. (2002).  Adjusting the outputs of a
    classifier to new a priori probabilities: a simple procedure.  *Neural
    Computation*, 14(1), 21-41.

    Parameters
    ----------
    max_iter : int, default 50
        Maximum number of iterations per restart (``0``: posteriors of the initial
        parameters).
    tol : float, default 1e-5
        Stop a restart when the log-likelihood per annotation changes by less than
        ``tol``; ``0`` runs exactly ``max_iter`` iterations.
    method : {"vb", "em"}, default "vb"
        Variational Bayes with priors (the paper's recommendation) or EM with
        add-``smoothing`` counts.
    n_restarts : int >= 1, default 10
        Number of runs, each from a different random starting point.
    random_state : None, int >= 0, numpy SeedSequence, Generator or RandomState, default 0
        Seed of the starting points.  Same seed, same data: same result.
    init : {"mv", "random", "uniform"}, default "mv"
        Starting point of the first run: parameters from majority-vote posteriors
        (one M-step), random (as every other run), or ``theta = 1/2`` with uniform
        strategies.  The other ``n_restarts - 1`` runs start from random points.
    theta_prior : (float, float), default (0.5, 2.0)
        ``Beta`` pseudo-counts of (spamming, knowing) answers, for ``method="vb"``;
        each in (0, 1e6].  The paper's ``(0.5, 0.5)`` reads a worker with one or two
        answers that disagree with the current labels as a spammer; two pseudo-known
        answers (the default since 0.2, like Dawid-Skene's ``correct_prior``) keep such
        workers near a reliable vote (docs/glad_mace.md).
    strategy_prior : float in (0, 1e6], default 10.0
        Symmetric Dirichlet pseudo-count of each label in a strategy (``"vb"``).
    smoothing : float in (0, 1e6], optional
        Pseudo-count added to every expected count for ``method="em"``; default
        ``0.01 / n_labels`` as in the authors' code.
    noise : float in [0, 1e6], default 0.5
        Random starting weights are drawn uniformly in ``[1, 1 + noise]``.
    class_prior : {"learn", "uniform"}, default "learn"
        ``"learn"``: class priors estimated with the other parameters (EM: MAP with
        add-``smoothing``; VB: ``exp(E[log pi])`` under a ``Dirichlet(1)`` prior), so
        that answers of a frequent class are not mistaken for spam; ``"uniform"``:
        the paper's model (true labels uniform; the default before 0.2).  A warm start
        from a dict without ``priors`` starts them from uniform.
    restart_criterion : {"auto", "loglik", "elbo"}, default "auto"
        Which run of the restarts is kept: the one with the highest value of the objective
        that the fit maximises.  ``"auto"``: the evidence lower bound under ``method="vb"``,
        the log-likelihood under ``method="em"``.  ``"elbo"`` (``method="vb"`` only): the
        highest evidence lower bound, the log-likelihood minus the KL divergence of the Beta /
        Dirichlet posteriors from their priors (:meth:`MACEModel.elbo`; Bishop 2006, Section
        10.1), which each VB iteration increases.  ``"loglik"``: the highest final
        log-likelihood (``loglik_``; under VB the E-step's log normaliser at the
        sub-normalised weights, which leaves the KL term out and so is not what VB
        maximises; the earlier default, and the rule of model files saved before the parameter
        existed).  The runs end at different local optima on some data (D_Product: the
        ELBO's choice scores 0.9246, the log-likelihood's 0.9229); docs/glad_mace.md.
    decision : {"balanced", "posterior"}, default "balanced"
        How the fitted model labels items (with ``class_prior="learn"``; the two
        agree under uniform priors).  ``"balanced"``: ``probas_`` / ``labels_`` are
        the posteriors at the fitted worker parameters under *uniform* class priors,
        the paper's model of the truth: each item is labelled by its answers, not by
        how common its class is (the prior-shift correction of Saerens, Latinne &
        Decaestecker 2002 to a uniform target), which does not penalise the rare
        classes that evaluation samples (gold sets) often over-represent.
        ``"posterior"``: the posteriors under the learnt priors, Bayes-optimal for
        accuracy when the items judged are a random sample of the pool (on skewed
        generated crowds it is up to 0.06 more accurate; docs/glad_mace.md).  Either
        way the worker parameters and ``priors_`` are fitted with the learnt priors:
        only the final labels differ.
    warm_start : bool, default False
        If true and already fitted, ``fit`` runs once from the fitted parameters
        (aligned by worker id; new workers start from ``theta = 1/2``).  A warm
        start (also ``fit(init_params=...)``) makes a single run.  Warm-start
        ``spam`` and ``know`` must lie in [0, 1] with ``spam + know <= 1``, and each
        strategy row sum to at most 1; zeros are moved to ``1e-10``; others raise
        :class:`~crowdagg.errors.InitParamsError`.
    parallel : bool, default True
        Use the multi-threaded kernels.

    Attributes
    ----------
    labels_ : pandas.Series
        Most probable label per item (gold items: their gold label).
    probas_ : pandas.DataFrame
        Posteriors, items x labels (items without annotations: the class priors
        ``priors_``); under uniform class priors with ``decision="balanced"`` (items
        without annotations: uniform).
    priors_ : pandas.Series
        Class priors by label (normalised; uniform with ``class_prior="uniform"``).
    spam_ : pandas.Series
        ``1 - theta`` per worker id: the probability that an answer is spam.  High
        values flag spammers.
    skills_ : pandas.Series
        Probability that the worker's answer is right under the model, per worker id:
        ``know + spam * sum_k prior_k strategy[k]`` (normalised weights; ``1 - spam_ (1 -
        1/K)`` under uniform priors).
    strategies_ : pandas.DataFrame
        Workers x labels: each worker's label distribution when spamming.
    entropies_ : pandas.Series
        Entropy (nats) of each item's posterior; low means confident.
    n_iter_, converged_, loglik_ : int, bool, numpy.ndarray
        Of the kept run: iterations, whether ``tol`` was reached, log-likelihood
        after each iteration.
    restart_loglik_ : numpy.ndarray
        Final log-likelihood of every run, in order.
    restart_elbo_ : numpy.ndarray
        Final ELBO of every run, in order; set only when the ELBO was the criterion
        (``restart_criterion="elbo"``, or ``"auto"`` with ``method="vb"``).
    best_restart_ : int
        Index of the kept run.
    params_ : dict
        Raw parameters in the table's code order (``spam``, ``know``, ``strategies``).

    Examples
    --------
    >>> import crowdagg
    >>> df = crowdagg.datasets.make_crowd(200, 20, 3, random_state=0).annotations
    >>> mace = crowdagg.MACE(n_restarts=3).fit(df)
    >>> mace.spam_.shape, mace.strategies_.shape
    ((20,), (20, 3))
    """

    _inits: ClassVar[tuple[str, ...]] = ("mv", "random", "uniform")
    #: crowdagg.persist: a model file without ``decision`` was saved before it existed, when
    #: the labels were the learnt-prior posteriors; it keeps them; one without
    #: ``restart_criterion``, when the restarts were kept by the log-likelihood, keeps that rule
    _params_before_they_existed: ClassVar[dict[str, Any]] = {"decision": "posterior", "restart_criterion": "loglik"}
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **em_constraints(_inits),
        "method": [Options(("vb", "em"))],
        "n_restarts": [Interval(Integral, 1, None)],
        "random_state": ["random_state"],
        "theta_prior": [Pair(Interval(Real, 0, 1e6, closed="right"), Interval(Real, 0, 1e6, closed="right"),
                             ("spam", "know"))],
        "strategy_prior": [Interval(Real, 0, 1e6, closed="right")],
        "smoothing": [None, Interval(Real, 0, 1e6, closed="right")],
        "noise": [Interval(Real, 0, 1e6)],
        "class_prior": [Options(("learn", "uniform"))],
        "decision": [Options(("posterior", "balanced"))],
        "restart_criterion": [Options(("auto", "loglik", "elbo"))],
    }

    def __init__(
        self,
        max_iter: int = 50,
        tol: float = 1e-5,
        method: str = "vb",
        n_restarts: int = 10,
        random_state: Any = 0,
        init: str = "mv",
        theta_prior: tuple[float, float] = (0.5, 2.0),
        strategy_prior: float = 10.0,
        smoothing: float | None = None,
        noise: float = 0.5,
        class_prior: str = "learn",
        decision: str = "balanced",
        restart_criterion: str = "auto",
        warm_start: bool = False,
        parallel: bool = True,
    ) -> None:
        self.max_iter = max_iter
        self.tol = tol
        self.method = method
        self.n_restarts = n_restarts
        self.random_state = random_state
        self.init = init
        self.theta_prior = theta_prior
        self.strategy_prior = strategy_prior
        self.smoothing = smoothing
        self.noise = noise
        self.class_prior = class_prior
        self.decision = decision
        self.restart_criterion = restart_criterion
        self.warm_start = warm_start
        self.parallel = parallel

    def _restart_criterion(self) -> str:
        """``restart_criterion`` resolved: ``"auto"`` is the objective that ``method`` maximises
        (``"elbo"`` under VB, ``"loglik"`` under EM)."""
        if self.restart_criterion == "auto":
            return "elbo" if self.method == "vb" else "loglik"
        return str(self.restart_criterion)

    def _make_model(self) -> MACEModel:
        # validated by fit (_parameter_constraints)
        if self.restart_criterion == "elbo" and self.method != "vb":
            raise ParameterError(f"MACE: restart_criterion='elbo' needs method='vb' (the ELBO is variational "
                                 f"Bayes' objective), got method={self.method!r}; use restart_criterion='loglik'")
        b_spam, b_know = self.theta_prior
        smoothing = None if self.smoothing is None else float(self.smoothing)
        model = MACEModel(str(self.method), smoothing, (float(b_spam), float(b_know)), float(self.strategy_prior),
                          learn_prior=self.class_prior == "learn", balanced=self.decision == "balanced")
        return model

    def _predict_model(self) -> MACEModel:
        # predict_proba on new data: the same decision rule as the fitted posteriors (a model
        # of its own per call: the estimator is not touched, so concurrent calls are safe)
        model = self._make_model()
        model.deciding = True
        return model

    def fit(self, data: Any, *, gold: Any = None, init_params: Any = None, **table_kwargs: Any) -> MACE:
        """Fit by EM / VB with restarts; see :meth:`crowdagg.em.EMAggregator.fit`.

        A warm start from a dict without ``priors`` (parameters of the paper's model, or
        of versions before 0.2) starts the learnt class priors from uniform.
        """
        if init_params is None and not (self.warm_start and hasattr(self, "params_")) \
                and isinstance(self.init, Mapping):
            init_params = self.init
        return super().fit(data, gold=gold, init_params=self._with_priors(init_params), **table_kwargs)

    def _with_priors(self, source: Any) -> Any:
        """``source`` with uniform ``priors`` added when the class priors are learnt and a dict lacks them."""
        if self.class_prior != "learn" or not isinstance(source, Mapping) or "priors" in source \
                or "strategies" not in source:
            return source
        try:
            k = int(np.shape(source["strategies"])[-1])
        except (TypeError, ValueError, IndexError):
            return source  # align_params names the problem
        priors = np.full(k, 1.0 / k)
        if isinstance(source["strategies"], pd.DataFrame) and "labels" not in source:
            priors = pd.Series(priors, index=source["strategies"].columns)
        return {**source, "priors": priors}

    def _run(self, model: EMModel, executor: Any, init: str | dict[str, np.ndarray], max_iter: int,
             tol: float) -> EMFit:
        """``n_restarts`` EM runs; the one with the highest final ELBO (VB) or log-likelihood is kept.

        The first run starts from ``init`` (``"random"``: a random point), the others
        from random points (:meth:`MACEModel.random_params`, drawn from
        ``random_state`` in order).  Explicit parameters (a warm start,
        ``fit(init_params=...)``) make a single run.  Sets ``restart_loglik_`` and
        ``best_restart_`` (and ``restart_elbo_`` when the ELBO is the criterion: each run's
        ELBO, taken as it ends, while the model holds that run's last counts); the
        :class:`~crowdagg.errors.ConvergenceWarning` is about the kept run only.
        """
        assert isinstance(model, MACEModel)
        n_restarts, noise = int(self.n_restarts), float(self.noise)  # validated by fit
        if isinstance(init, Mapping):
            starts: list[Any] = [init]
        else:
            starts = [init if init != "random" else None] + [None] * (n_restarts - 1)
        ctx = executor.ctx
        fits = (run_em(model, executor, init=model.random_params(ctx, noise) if start is None else start,
                       max_iter=max_iter, tol=tol, warn=False) for start in starts)
        self.__dict__.pop("restart_elbo_", None)
        if self._restart_criterion() == "elbo":
            histories: list[np.ndarray] = []

            def by_elbo(runs: Any) -> Any:  # each run scored by its ELBO, its history put aside
                for res in runs:
                    histories.append(res.loglik)
                    score = [model.elbo(ctx, res.params, res.loglik[-1])] if res.loglik.size else []
                    yield dataclasses.replace(res, loglik=np.asarray(score, dtype=np.float64))

            best, self.best_restart_, self.restart_elbo_ = best_fit(by_elbo(fits), "MACE", max_iter, tol,
                                                                    stacklevel=4)
            best = dataclasses.replace(best, loglik=histories[self.best_restart_])
            self.restart_loglik_ = np.array([h[-1] if h.size else -np.inf for h in histories])
        else:
            # stacklevel 4: _run -> EMAggregator.fit -> MACE.fit -> the user's call
            best, self.best_restart_, self.restart_loglik_ = best_fit(fits, "MACE", max_iter, tol, stacklevel=4)
        if model.balanced and model.learn_prior:
            best = dataclasses.replace(best, posteriors=self._balanced_posteriors(model, executor, best.params))
        return best

    @staticmethod
    def _balanced_posteriors(model: MACEModel, executor: Any, params: dict[str, np.ndarray]) -> Any:
        """``decision="balanced"``: one more E-step at ``params`` with uniform class priors
        (the executor's new posteriors; the model is left as it was, so the statistics
        of online EM still come from the learnt priors)."""
        model.deciding = True
        try:
            executor.start(model)
            executor.e_step(model, params, False)
        finally:
            model.deciding = False
        executor.check_finite(model, executor.posteriors, params)
        return executor.posteriors

    def partial_fit(self, data: Any, *, gold: Any = None, forget: float = 1.0, **table_kwargs: Any) -> MACE:
        """Online EM on one batch; see :meth:`crowdagg.em.EMAggregator.partial_fit`.

        The statistics carried to the next batch come from posteriors under the learnt
        class priors; with ``decision="balanced"`` the batch's ``labels_`` / ``probas_``
        are then taken under uniform class priors, as in :meth:`fit`.
        """
        super().partial_fit(data, gold=gold, forget=forget, **table_kwargs)
        if self.decision == "balanced" and self.class_prior == "learn":
            table = self.table_
            model = self._make_model()
            gold_codes = table.encode_gold(gold) if gold is not None else np.full(table.n_items, -1, np.int64)
            executor = LocalExecutor(self._context(table, gold_codes))
            executor.set_result(self, self._balanced_posteriors(model, executor, self.params_))
            self._set_fitted(table, self.params_, executor)
        return self

    def _set_fitted(self, table: AnnotationTable, params: dict[str, np.ndarray], executor: Any) -> None:
        spam, know, st = params["spam"], params["know"], params["strategies"]
        k = table.n_labels
        pri = params["priors"] / params["priors"].sum() if "priors" in params else np.full(k, 1.0 / k)
        self.priors_ = pd.Series(pri, index=table.labels, name="prior")
        spam_share = spam / (spam + know)
        self.spam_ = pd.Series(spam_share, index=table.workers, name="spam")
        # a row of VB weights exp(E[log xi]) can underflow to 0 (a worker with no spam counts
        # under a vanishing strategy prior): the symmetric prior's limit, uniform
        tot = st.sum(axis=1, keepdims=True)
        strat = np.divide(st, tot, out=np.full_like(st, 1.0 / k), where=tot > 0.0)
        # P(right answer) = know + spam * sum_k prior_k strategy_k (normalised weights)
        self.skills_ = pd.Series(1.0 - spam_share + spam_share * (strat @ pri), index=table.workers, name="skill")
        self.strategies_ = pd.DataFrame(strat, index=table.workers, columns=table.labels)
        self.entropies_ = executor.posterior_series(_entropy, "entropy")

    def confident_labels(self, threshold: float = 1.0) -> pd.Series:
        """Labels of the most confident share of items (the paper's ``--threshold``).

        Items with annotations (or gold) are ranked by posterior entropy; the
        ``ceil(threshold * n)`` lowest-entropy ones are kept (ties by item order)
        and returned in the items' order.

        Parameters
        ----------
        threshold : float in [0, 1]
            Share of items to keep; ``1`` keeps every labelled item.
        """
        self._check_fitted()
        threshold = check_float("threshold", threshold, 0.0)
        if threshold > 1.0:
            raise InputError(f"threshold must lie in [0, 1], got {threshold!r}")
        labelled = np.flatnonzero(self.labels_.notna().to_numpy())
        n_keep = int(np.ceil(threshold * labelled.size - 1e-9))
        order = np.argsort(self.entropies_.to_numpy()[labelled], kind="stable")
        keep = np.sort(labelled[order[:n_keep]])
        return self.labels_.iloc[keep]
