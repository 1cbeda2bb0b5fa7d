"""MACE kernels: E-step with expected counts over item slices, EM and VB M-steps.

MACE (Hovy, Berg-Kirkpatrick, Vaswani and Hovy, NAACL 2013, "Learning Whom to
Trust with MACE"): worker ``w`` knows the answer with probability ``theta[w]`` and
then gives the true label; otherwise (spamming, probability ``1 - theta[w]``) it
draws a label from its strategy ``xi[w]``.  For one annotation with label ``y``::

    p(y | z = k) = (1 - theta[w]) * xi[w, y] + theta[w] * [y == k]

The kernels take the parameters as logs of the two possible values,
``log_spam[w, y] = log((1 - theta[w]) * xi[w, y])`` (``y != k``) and
``log_both[w, y] = log((1 - theta[w]) * xi[w, y] + theta[w])`` (``y == k``),
plus ``log_know[w] = log(theta[w])``.  Under variational Bayes the "parameters"
are the sub-normalised ``exp(E[log theta])`` etc. of the paper; the same formulas
apply with ``spam[w] + know[w] <= 1``.

Expected counts from the posterior ``q = post[i]``: the answer was known with
probability ``r = q[y] * theta[w] / p(y | z = y)`` and spammed with ``1 - r``; so
``know[w] += r`` and ``strategy[w, y] += 1 - r`` (the expected spam count of
``w`` is ``strategy[w].sum()``).  The factor ``theta[w] / p(y | z = y) =
exp(log_know[w] - log_both[w, y])`` depends on the worker and the label only, so
it is tabulated once per E-step (:func:`mace_know_ratio`, workers x labels) rather
than computed by an ``exp`` per annotation.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from scipy.special import digamma

from .em import (  # class_totals: re-exported
    _add_fixed,
    _add_term,
    _fixed_posterior,
    _fixed_shift,
    _gather_rows2,
    _item_posterior,
    _prior_regs,
    _store_fixed,
    class_totals,
    exp_nonpos,
)

__all__ = [
    "mace_log_params",
    "mace_know_ratio",
    "mace_estep_slice",
    "mace_estep_ratio_slice",
    "mace_estep_parallel",
    "mace_answer_log_probs",
    "mace_estep_fixed_slice",
    "mace_estep_fixed_parallel",
    "mace_mstep_em",
    "mace_mstep_vb",
    "class_totals",
]


def mace_log_params(spam: np.ndarray, know: np.ndarray, strategies: np.ndarray):
    """``(log_spam, log_both, log_know)`` for the kernels from ``spam[w]`` (weight of
    spamming), ``know[w]`` (weight of knowing) and ``strategies[w, y]``."""
    tiny = np.finfo(np.float64).tiny
    s = spam[:, None] * strategies
    with np.errstate(divide="ignore"):
        log_spam = np.log(np.maximum(s, tiny))
        log_both = np.log(np.maximum(s + know[:, None], tiny))
        log_know = np.log(np.maximum(know, tiny))
    return log_spam, log_both, log_know


@njit(cache=True, nogil=True)
def mace_know_ratio(log_know, log_both):
    """``know_ratio[w, y] = exp(log_know[w] - log_both[w, y])``: the probability that an
    answer ``y`` of worker ``w`` was known, given that ``y`` is the true label."""
    n_workers, n_labels = log_both.shape
    out = np.empty((n_workers, n_labels))
    for w in range(n_workers):
        for y in range(n_labels):
            out[w, y] = np.exp(log_know[w] - log_both[w, y])
    return out


@njit(cache=True, nogil=True)
def mace_estep_ratio_slice(item_ptr, workers, labels, gold, log_prior, log_spam, log_both, know_ratio,
                           start, stop, post, know_cnt, strat_cnt, accumulate):
    """:func:`mace_estep_slice` with the known-answer factors already tabulated
    (``know_ratio`` from :func:`mace_know_ratio`): no ``exp`` per annotation."""
    n_labels = log_prior.shape[0]
    lp = np.empty(n_labels)
    ll = 0.0
    prod = 1.0  # see _add_term
    for i in range(start, stop):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        base = 0.0
        for k in range(n_labels):
            lp[k] = log_prior[k]
        for j in range(lo, hi):
            w = workers[j]
            y = labels[j]
            base += log_spam[w, y]
            lp[y] += log_both[w, y] - log_spam[w, y]
        for k in range(n_labels):
            lp[k] += base
        g = gold[i]
        ll, prod = _add_term(ll, prod, _item_posterior(lp, g, i, post), i - start)
        if accumulate:
            for j in range(lo, hi):
                w = workers[j]
                y = labels[j]
                r = post[i, y] * know_ratio[w, y]
                know_cnt[w] += r
                strat_cnt[w, y] += 1.0 - r
    return ll + np.log(prod)


@njit(cache=True, nogil=True)
def mace_estep_slice(item_ptr, workers, labels, gold, log_prior, log_spam, log_both, log_know,
                     start, stop, post, know_cnt, strat_cnt, accumulate):
    """MACE E-step for items ``start..stop-1``; returns their log-likelihood.

    ``log p(z_i = k | y) ∝ log_prior[k] + Σ_j (log_both[w, y] if y == k else
    log_spam[w, y])``, normalised in log space into ``post[i]`` (one-hot for gold
    items, which contribute ``log p(y_i, z_i = gold)``).  With ``accumulate``, adds
    the expected counts of the module docstring to ``know_cnt[w]`` and
    ``strat_cnt[w, y]`` (tabulating :func:`mace_know_ratio` first; callers running
    many slices with the same parameters can call :func:`mace_estep_ratio_slice`
    with one table).
    """
    ratio = mace_know_ratio(log_know, log_both) if accumulate else np.empty((0, 0))
    return mace_estep_ratio_slice(item_ptr, workers, labels, gold, log_prior, log_spam, log_both, ratio,
                                  start, stop, post, know_cnt, strat_cnt, accumulate)


@njit(cache=True, nogil=True, parallel=True)
def mace_estep_parallel(item_ptr, workers, labels, gold, log_prior, log_spam, log_both, log_know,
                        bounds, post, know_buf, strat_buf, ll_buf, accumulate):
    """:func:`mace_estep_slice` over item chunks; chunk ``c`` zeroes and fills
    ``know_buf[c]``, ``strat_buf[c]`` and ``ll_buf[c]``."""
    ratio = mace_know_ratio(log_know, log_both) if accumulate else np.empty((0, 0))
    for c in prange(bounds.shape[0] - 1):
        if accumulate:
            know_buf[c, :] = 0.0
            strat_buf[c, :, :] = 0.0
        ll_buf[c] = mace_estep_ratio_slice(item_ptr, workers, labels, gold, log_prior, log_spam, log_both,
                                           ratio, bounds[c], bounds[c + 1], post, know_buf[c],
                                           strat_buf[c], accumulate)


#: items per block of :func:`mace_estep_fixed_slice`
_BLOCK = 128


@njit(cache=True, nogil=True)
def mace_answer_log_probs(log_spam, log_both):
    """``out[w * K + y, k] = log p(y | z = k)`` of worker ``w``: ``log_both[w, y]`` if
    ``y == k`` else ``log_spam[w, y]`` (workers x labels rows of ``K`` true classes: the
    layout of the Dawid-Skene kernels' ``logct``, read by one vector load per answer).
    Built once per E-step (:meth:`crowdagg.methods.mace.MACEModel.prepare`), not per
    call of the fixed-width kernels."""
    n_workers, n_labels = log_both.shape
    out = np.empty((n_workers * n_labels, n_labels))
    for w in range(n_workers):
        for y in range(n_labels):
            r = w * n_labels + y
            for k in range(n_labels):
                out[r, k] = log_spam[w, y]
            out[r, y] = log_both[w, y]
    return out


@njit(cache=True, nogil=True)
def mace_estep_fixed_slice(item_ptr, workers, labels, gold, log_prior, logpy, know_ratio,
                           start, stop, post, know_cnt, strat_cnt, class_tot, accumulate, width):
    """:func:`mace_estep_ratio_slice` for 2 to 4 classes, the class count fixed at
    compile time by ``width`` (any tuple of ``K`` floats), with the class totals of
    learnt priors (``class_tot[k] += post[i, k]`` over items with answers or gold)
    in the same pass.  ``gold`` may be empty: no item has gold (as all ``-1``, without
    a read per item).

    ``logpy`` is the workers x labels table of ``log p(y | z = k)`` over the ``K``
    classes (:func:`mace_answer_log_probs`, as Dawid-Skene's ``logct``: one vector
    load and add per answer, the item's sums in one vector register) and
    ``know_ratio`` that of :func:`mace_know_ratio` (read only with ``accumulate``);
    both are built by the caller once per E-step, so that a call's work and memory are
    proportional to its items and answers, not to the number of workers.

    Items run in blocks as in :func:`~crowdagg.kernels.em.ds_estep_fixed_slice`: log
    posteriors in scalars, then one vectorised ``exp`` loop (within 2 ulp:
    :func:`~crowdagg.kernels.em.exp_nonpos`), then normalisation and statistics.  Each
    answer's expected known count goes straight to ``know_cnt[w]`` and its spammed
    count to ``strat_cnt[w, y]``, in answer order as :func:`mace_estep_ratio_slice`;
    the sums agree with it to rounding (about 1e-15 relative: ``log_both`` is added
    directly, not as ``log_spam + (log_both - log_spam)``).
    """
    n_labels = len(width)
    has_gold = gold.shape[0] > 0  # empty: no gold item (no per-item read)
    ll = 0.0
    prod = 1.0  # see _add_term
    term = np.empty(_BLOCK)
    buf = np.empty(_BLOCK * n_labels)  # the block's log posteriors, then their exp
    # flat views (row w * K + y), no copy: the caller's rows are contiguous
    kr = know_ratio.reshape(-1) if accumulate else np.zeros(0)
    sc = strat_cnt.reshape(-1) if accumulate else np.zeros(0)
    t0 = t1 = t2 = t3 = 0.0
    for b in range(start, stop, _BLOCK):
        e = min(b + _BLOCK, stop)
        for i in range(b, e):
            a0, a1, a2, a3 = _prior_regs(log_prior, n_labels)
            a0, a1, a2, a3 = _gather_rows2(logpy, workers, labels, item_ptr[i], item_ptr[i + 1], width,
                                           a0, a1, a2, a3)
            term[i - b] = _fixed_shift(buf, (i - b) * n_labels, gold[i] if has_gold else -1, n_labels, a0, a1, a2, a3)
        for q in range((e - b) * n_labels):  # contiguous and independent: vectorised
            buf[q] = exp_nonpos(buf[q])
        for i in range(b, e):
            g = gold[i] if has_gold else -1
            p0, p1, p2, p3, sm = _fixed_posterior(buf, (i - b) * n_labels, g, n_labels)
            _store_fixed(post, i, n_labels, p0, p1, p2, p3)
            ll, prod = _add_term(ll, prod, (term[i - b], sm), i - start)
            lo = item_ptr[i]
            hi = item_ptr[i + 1]
            if accumulate:
                if hi > lo or g >= 0:
                    t0 += p0
                    t1 += p1
                    t2 += p2
                    t3 += p3
                for j in range(lo, hi):
                    w = workers[j]
                    y = labels[j]
                    # unsigned indices (codes are >= 0): no negative-index wraparound per access
                    row = np.uint64(w * n_labels + y)
                    r = post[i, y] * kr[row]  # a load, not selects: LLVM made those branches
                    know_cnt[np.uint64(w)] += r
                    sc[row] += 1.0 - r
    if accumulate:
        _add_fixed(class_tot, n_labels, t0, t1, t2, t3)
    return ll + np.log(prod)


@njit(cache=True, nogil=True, parallel=True)
def mace_estep_fixed_parallel(item_ptr, workers, labels, gold, log_prior, logpy, know_ratio,
                              bounds, post, know_buf, strat_buf, tot_buf, ll_buf, accumulate, width):
    """:func:`mace_estep_fixed_slice` over item chunks; chunk ``c`` zeroes and fills
    ``know_buf[c]``, ``strat_buf[c]``, ``tot_buf[c]`` and ``ll_buf[c]`` (its only
    workers-sized memory: the caller bounds the chunks by their size)."""
    for c in prange(bounds.shape[0] - 1):
        if accumulate:
            know_buf[c, :] = 0.0
            strat_buf[c, :, :] = 0.0
            tot_buf[c, :] = 0.0
        ll_buf[c] = mace_estep_fixed_slice(item_ptr, workers, labels, gold, log_prior, logpy, know_ratio,
                                           bounds[c], bounds[c + 1], post, know_buf[c], strat_buf[c], tot_buf[c],
                                           accumulate, width)


def mace_mstep_em(know_cnt: np.ndarray, strat_cnt: np.ndarray, smoothing: float):
    """EM M-step with add-``smoothing`` counts (MACE's default ``0.01 / K``).

    Returns ``(spam, know, strategies)``: ``know = (K_w + s) / (K_w + S_w + 2 s)``
    with ``K_w`` the expected known and ``S_w`` the expected spammed answers, and
    ``strategies[w] ∝ strat_cnt[w] + s``.
    """
    spam_cnt = strat_cnt.sum(axis=1)
    tot = know_cnt + spam_cnt + 2.0 * smoothing
    know = (know_cnt + smoothing) / tot
    spam = (spam_cnt + smoothing) / tot
    st = strat_cnt + smoothing
    strategies = st / st.sum(axis=1, keepdims=True)
    return spam, know, strategies


def mace_mstep_vb(know_cnt: np.ndarray, strat_cnt: np.ndarray, theta_prior: tuple[float, float],
                  strategy_prior: float):
    """Variational-Bayes M-step (the paper's Section 2.2, after Johnson 2007).

    With a Beta prior on the knowing probability and a symmetric Dirichlet on each
    strategy, the mean-field update returns ``exp(E[log ...])`` under the
    variational posteriors::

        know = exp(ψ(K_w + b_know) - ψ(K_w + S_w + b_know + b_spam))
        spam = exp(ψ(S_w + b_spam) - ψ(K_w + S_w + b_know + b_spam))
        strategies[w, y] = exp(ψ(c_wy + d) - ψ(Σ_y c_wy + K d))

    (sub-normalised; ψ is the digamma function).  ``theta_prior = (b_spam, b_know)``.
    """
    b_spam, b_know = theta_prior
    spam_cnt = strat_cnt.sum(axis=1)
    dtot = digamma(know_cnt + spam_cnt + b_know + b_spam)
    know = np.exp(digamma(know_cnt + b_know) - dtot)
    spam = np.exp(digamma(spam_cnt + b_spam) - dtot)
    n_labels = strat_cnt.shape[1]
    strategies = np.exp(digamma(strat_cnt + strategy_prior)
                        - digamma(strat_cnt.sum(axis=1, keepdims=True) + n_labels * strategy_prior))
    return spam, know, strategies
