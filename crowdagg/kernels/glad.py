"""GLAD kernels: E-step and M-step objective/gradient over item slices.

GLAD (Whitehill et al., NIPS 2009, "Whose vote should count more: optimal
integration of labels from labelers of unknown expertise") models the answer of
worker ``w`` on item ``i`` as correct with probability ``sigmoid(alpha[w] *
beta[i])``, wrong answers spread uniformly over the ``K - 1`` other labels (the
paper's multi-class form).  ``beta[i] = exp(log_beta[i]) > 0`` is the item's
inverse difficulty; kernels take ``log_beta``.

For one annotation with label ``y`` and ``x = alpha[w] * beta[i]``::

    log p(y | z = k) = log_sigmoid(x)                    if y == k
                     = log_sigmoid(-x) - log(K - 1)      otherwise

M-step: block-coordinate Newton on the expected complete-data log-posterior
``Q``, which decouples -- given the abilities every ``log_beta[i]`` is a separate
1-d problem over item ``i``'s own annotations, and given the difficulties every
``alpha[w]`` is:

* the item pass solves each item's ``log_beta`` by a safeguarded Newton step
  (evaluated on the item's annotations only; a step is kept only if it does not
  decrease the item's objective), then adds the per-worker gradient, data curvature
  and largest ``beta`` at the new difficulties into per-worker sums;
* :func:`glad_alpha_update` turns those sums into one guarded Newton step per
  worker that provably does not decrease ``Q`` (no evaluation needed).

:func:`glad_estep_slice` is the fits' kernel for both passes (``mode``): the E-step,
the E-step fused with the next M-step's first item pass at the same parameters (one
pass over the answers per EM iteration), or an item pass alone.  It runs items in
blocks whose per-answer and per-class work are vectorised, branch-free loops (no
library ``exp``/``log`` call: :func:`~crowdagg.kernels.em.exp_nonpos`,
:func:`~crowdagg.kernels.vecmath.log_pos`), with the class count fixed at compile
time for 2 to 4 classes.  :func:`glad_items_slice` is the same item pass one item at a
time with any number of Newton steps (the scalar form the blocked kernel falls back to
for a rejected step).

Every ``*_slice`` kernel walks items ``start..stop-1`` in CSR order once; its
``*_parallel`` twin runs it over item chunks with one buffer per chunk for the
per-worker sums (no atomics), which the caller reduces (sums, and a maximum for
the largest ``beta``).  The serial slices are what a distributed engine calls per
partition.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .em import _item_posterior, exp_nonpos
from .vecmath import log_pos

__all__ = [
    "glad_estep_slice",
    "glad_estep_parallel",
    "ESTEP",
    "ESTEP_ITEMS",
    "ITEMS",
    "ITEMS_Q",
    "glad_items_slice",
    "glad_items_parallel",
    "glad_alpha_update",
    "glad_right_sums_slice",
    "max_abs_diff",
    "sum_sq_dev",
    "same_values",
    "MAX_LOG_BETA_STEP",
    "MIN_CURVATURE_SHARE",
]

#: Largest change of one ``log_beta`` per Newton step (a trust region: ``beta``
#: changes by at most a factor ``e`` per step before backtracking).
MAX_LOG_BETA_STEP = 1.0
#: Newton is used for ``log_beta`` where ``-phi''`` is at least this share of the
#: Gauss-Newton curvature ``sum sigmoid (1 - sigmoid) x^2 + 1 / s_b^2`` (the
#: objective is not concave in ``log_beta`` everywhere); elsewhere that share is
#: used as the curvature (a shorter, gradient-like step).
MIN_CURVATURE_SHARE = 0.1


#: Per-answer buffer length of a block of the E-step kernels (a block's answers are evaluated
#: in vectorised loops); an item with more answers gets a block of its own and the buffers
#: grow to its size.
BLOCK_ANSWERS = 2048
#: Items per block at most.
BLOCK_ITEMS = 256
#: ``mode`` of :func:`glad_estep_slice`: the E-step (posteriors and log-likelihood) only;
ESTEP = 0
#: the E-step and the next M-step's first item pass (on the marginal likelihood);
ESTEP_ITEMS = 1
#: the item pass on the items' marginal likelihood only (posteriors untouched);
ITEMS = 2
#: the item pass on ``Q`` under given posteriors (``init="mv"``'s first M-step).
ITEMS_Q = 3


@njit(cache=True, nogil=True, inline="always")
def _sigmoids(xb, db, sb, n):
    """``db[q] = 1 + exp(-|x|)`` and ``sb[q] = sigmoid(x)`` for ``x = xb[q]``, ``q < n``.

    Independent iterations with no library call (:func:`~crowdagg.kernels.em.exp_nonpos`,
    within 2 ulp of ``np.exp``): the loop vectorises.  ``sigmoid(x) = 1 / (1 + e)`` for
    ``x >= 0`` and ``e / (1 + e)`` otherwise, ``e = exp(-|x|)`` (no overflow)."""
    for q in range(n):
        x = xb[q]
        e = exp_nonpos(-abs(x))
        d = 1.0 + e
        db[q] = d
        sb[q] = (1.0 if x >= 0.0 else e) / d


@njit(cache=True, nogil=True, inline="always")
def _exp_betas(lbs, betas, n):
    """``betas[r] = exp(lbs[r])``, ``r < n``, vectorised: ``exp(-|l|)`` by
    :func:`~crowdagg.kernels.em.exp_nonpos`, inverted for ``l > 0`` (within 3 ulp)."""
    for r in range(n):
        lb = lbs[r]
        e = exp_nonpos(-abs(lb))
        betas[r] = e if lb <= 0.0 else 1.0 / e


@njit(cache=True, nogil=True, inline="always")
def _fill_x(item_ptr, workers, alpha, b, e, betas, xb):
    """``xb[q] = alpha[w_j] * betas[i - b]`` for the answers ``j`` of items ``b..e-1`` in CSR
    order (``q`` from 0); returns their number."""
    n = 0
    for i in range(b, e):
        beta = betas[i - b]
        for j in range(item_ptr[i], item_ptr[i + 1]):
            xb[n] = alpha[workers[j]] * beta
            n += 1
    return n


@njit(cache=True, nogil=True, inline="always")
def _rows_exp(log_prior, lkm1, gold, b, e, scale, cxb, ncb, lpb, ab, mb, n_labels, raw):
    """Per item ``r`` of a block: ``lp0[k] = log_prior[k] + scale[r] cxb[r K + k] +
    ncb[r K + k] log(K - 1)``; the row ``lpb[r K:(r + 1) K] = exp(lp0 - max lp0)`` (one
    vectorised ``exp`` for the block) and ``mb[r] = ab[r] + max lp0`` (gold ``g``: ``ab[r] +
    lp0[g]``); ``raw``: ``lpb`` holds ``lp0`` itself and ``mb[r] = ab[r]`` (for ``Q``)."""
    if raw:
        for i in range(b, e):
            r = i - b
            row = r * n_labels
            c = scale[r]
            for k in range(n_labels):
                lpb[row + k] = log_prior[k] + c * cxb[row + k] + ncb[row + k] * lkm1
            mb[r] = ab[r]
        return
    for i in range(b, e):
        r = i - b
        row = r * n_labels
        c = scale[r]
        m = -np.inf
        for k in range(n_labels):
            v = log_prior[k] + c * cxb[row + k] + ncb[row + k] * lkm1
            lpb[row + k] = v
            if v > m:
                m = v
        g = gold[i]
        mb[r] = ab[r] + (lpb[row + g] if g >= 0 else m)
        for k in range(n_labels):
            lpb[row + k] -= m
    for c in range((e - b) * n_labels):  # contiguous and independent: vectorised
        lpb[c] = exp_nonpos(lpb[c])


@njit(cache=True, nogil=True, error_model="numpy")
def _block_eval(item_ptr, workers, labels, gold, log_prior, lkm1, alpha, b, e, betas,
                xb, db, sb, lpb, cxb, ncb, ones, ab, mb, pb, sxb, scb, raw, width):
    """Evaluate the items ``b..e-1`` of a block at the inverse difficulties ``betas[r]``
    (``r = i - b``), ``x_j = alpha[w_j] beta``.

    ``log p(y_j | z = k) = log sigmoid(-x_j) - log(K - 1) + [y_j = k] (x_j + log(K - 1))``
    and ``log sigmoid(-x) = -max(x, 0) - log(1 + exp(-|x|))``, so ``lp[k] = log p(y_i, z_i
    = k) = ab[r] - log(pb[r]) + lp0[k]`` with ``lp0`` as in :func:`_rows_exp` (whose rows
    and ``mb`` this fills), ``ab[r] = -(sum_j max(x_j, 0) + logs) - n_i log(K - 1)`` and
    ``pb[r]`` the product of the factors ``1 + exp(-|x_j|)`` (``logs``: the logs of its
    first ``512 m`` factors, taken 512 at a time).  The item's log-likelihood is then
    ``mb[r] + log(row sum / pb[r])``, one ``log`` per item.  Also ``cxb[r K + k] = sum_{j:
    y_j = k} x_j``, ``ncb[r K + k]`` the number of those answers, ``sxb[r] = sum_j
    sigmoid(x_j) x_j``, ``scb[r] = sum_j sigmoid (1 - sigmoid) x_j^2``; ``sb`` keeps the block's ``sigmoid(x_j)`` in CSR order.  ``ones``: at least
    ``e - b`` ones (the scale of :func:`_rows_exp`)."""
    n_labels = len(width) if len(width) > 0 else log_prior.shape[0]
    n = _fill_x(item_ptr, workers, alpha, b, e, betas, xb)
    _sigmoids(xb, db, sb, n)
    q = 0
    for i in range(b, e):
        row = (i - b) * n_labels
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        for k in range(n_labels):
            cxb[row + k] = 0.0
            ncb[row + k] = 0.0
        lin = 0.0
        logs = 0.0
        prod = 1.0
        sx = 0.0
        sc = 0.0
        for j in range(lo, hi):
            x = xb[q]
            s = sb[q]
            lin += max(x, 0.0)
            prod *= db[q]
            if ((j - lo) & 511) == 511:
                logs += np.log(prod)
                prod = 1.0
            y = labels[j]
            cxb[row + y] += x
            ncb[row + y] += 1.0
            sx += s * x
            sc += s * (1.0 - s) * x * x
            q += 1
        r = i - b
        ab[r] = -(lin + logs) - (hi - lo) * lkm1
        pb[r] = prod
        sxb[r] = sx
        scb[r] = sc
    _rows_exp(log_prior, lkm1, gold, b, e, ones, cxb, ncb, lpb, ab, mb, n_labels, raw)


@njit(cache=True, nogil=True, error_model="numpy")
def _block_trial(item_ptr, gold, log_prior, lkm1, b, e, ratio, xb, db, sb, lpb, cxb, ncb, ab, mb, pb, raw, width):
    """:func:`_block_eval` at the trial inverse difficulties ``ratio[r] beta``
    (``beta`` that of the evaluation whose ``xb``, ``cxb`` and ``ncb`` these are), for the
    value and the posterior only: ``x_j`` scales with ``beta``, so ``xb`` becomes ``ratio[r]
    xb`` (no gather) and ``cxb`` ``ratio[r] cxb`` (no per-answer class sums); the sigmoids
    and the product of the ``1 + exp(-|x_j|)`` are new (``sb``, ``pb``), and ``xb``,
    ``lpb``, ``ab``, ``mb`` are overwritten."""
    n_labels = len(width) if len(width) > 0 else log_prior.shape[0]
    n = 0
    for i in range(b, e):  # x_j = alpha[w_j] beta scales with beta: no gather
        c = ratio[i - b]
        for _j in range(item_ptr[i], item_ptr[i + 1]):
            xb[n] *= c
            n += 1
    _sigmoids(xb, db, sb, n)
    q = 0
    for i in range(b, e):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        lin = 0.0
        logs = 0.0
        prod = 1.0
        for j in range(lo, hi):
            lin += max(xb[q], 0.0)
            prod *= db[q]
            if ((j - lo) & 511) == 511:
                logs += np.log(prod)
                prod = 1.0
            q += 1
        r = i - b
        ab[r] = -(lin + logs) - (hi - lo) * lkm1
        pb[r] = prod
    _rows_exp(log_prior, lkm1, gold, b, e, ratio, cxb, ncb, lpb, ab, mb, n_labels, raw)


@njit(cache=True, nogil=True, error_model="numpy")
def _block_finish(lpb, cxb, mb, pb, sxb, scb, gold, b, e, lbs, lb_mean, inv_var, qb, ll_r, v_r, g_r, h_r, gn_r,
                  derivatives, post, marginal, width):
    """The items ``b..e-1`` of an evaluated block (:func:`_block_eval` or
    :func:`_block_trial`) at ``log_beta = lbs[r]``: each item's posterior into ``qb[r]``
    (one-hot at gold), its log-likelihood ``log p(y_i)`` (gold ``g``: ``log p(y_i, z_i =
    g)``) into ``ll_r[r]`` and the marginal objective of :func:`_item_eval` (with the
    log-prior of ``log_beta``) into ``v_r``; with ``derivatives`` also its first and
    second derivatives and the Gauss-Newton curvature into ``g_r``, ``h_r``, ``gn_r``.
    Not ``marginal`` (a block evaluated ``raw``): the objective is the item's part of ``Q``
    under ``post[i]``, which ``qb[r]`` receives (``ll_r``: the answers' part of ``log p``
    that does not depend on the class).
    One call per block: a per-item helper taking arrays cost two atomic reference-count
    updates per array and item (two thirds of the E-step); per block it is noise.  Not
    inlined (nor :func:`_block_eval`, :func:`_block_trial`): one compiled copy each instead
    of one per call site, the same speed (24.2 vs 24.9 CPU-ms per 1M-answer pass) and 1.6 s
    less compilation."""
    n_labels = len(width) if len(width) > 0 else qb.shape[1]
    for i in range(b, e):
        r = i - b
        row = r * n_labels
        g = gold[i]
        if not marginal:
            for k in range(n_labels):
                qb[r, k] = post[i, k]
            ll_r[r] = 1.0 / pb[r]
        elif g >= 0:
            for k in range(n_labels):
                qb[r, k] = 0.0
            qb[r, g] = 1.0
            ll_r[r] = 1.0 / pb[r]
        else:
            s = 0.0
            for k in range(n_labels):
                s += lpb[row + k]
            inv = 1.0 / s
            for k in range(n_labels):
                qb[r, k] = lpb[row + k] * inv
            ll_r[r] = s / pb[r]
    for r in range(e - b):  # independent: vectorised
        ll_r[r] = mb[r] + log_pos(ll_r[r])
    for i in range(b, e):
        r = i - b
        row = r * n_labels
        dev = lbs[r] - lb_mean
        v = ll_r[r]
        if not marginal:
            for k in range(n_labels):
                v += qb[r, k] * lpb[row + k]
        v_r[r] = v - 0.5 * dev * dev * inv_var
        if derivatives:
            ec = 0.0
            for k in range(n_labels):
                ec += qb[r, k] * cxb[row + k]
            var = 0.0
            if marginal and gold[i] < 0:
                for k in range(n_labels):
                    var += qb[r, k] * (cxb[row + k] - ec) * (cxb[row + k] - ec)
            sx = sxb[r]
            sc = scb[r]
            g_r[r] = ec - sx - dev * inv_var
            h_r[r] = ec - sx - sc + var - inv_var
            gn_r[r] = sc + inv_var


@njit(cache=True, nogil=True, inline="always")
def _newton_step(g, h, gn):
    """The safeguarded Newton step of :func:`glad_items_slice` from ``(d1, d2, gauss_newton)``."""
    d = -h
    floor = MIN_CURVATURE_SHARE * gn
    if d < floor:
        d = floor
    step = g / d
    if step > MAX_LOG_BETA_STEP:
        step = MAX_LOG_BETA_STEP
    elif step < -MAX_LOG_BETA_STEP:
        step = -MAX_LOG_BETA_STEP
    return step


# error_model="numpy": a division is a plain division (no zero test and exception branch, which
# kept the loop of :func:`_sigmoids` scalar: 6 instead of 1.6 ns an answer); every divisor here is
# positive (``1 + exp(-|x|) >= 1``, sums of posteriors >= 1, curvatures >= MIN_CURVATURE_SHARE / s_b^2)
@njit(cache=True, nogil=True, error_model="numpy")
def glad_estep_slice(item_ptr, workers, labels, gold, log_prior, alpha, log_beta, lb_mean, lb_sd, start, stop, post,
                     mode, new_log_beta, grad_a, curv_a, rmax_a, width=()):
    """GLAD E-step and/or item pass for items ``start..stop-1``; returns ``(loglik, largest
    |change| of a log_beta)``.

    ``mode``: :data:`ESTEP` the E-step; :data:`ESTEP_ITEMS` the E-step and the next
    M-step's first item pass at the same parameters; :data:`ITEMS` the item pass on the
    items' marginal likelihood (``post`` untouched, loglik 0); :data:`ITEMS_Q` the item
    pass on ``Q`` under the posteriors ``post`` (read only).

    E-step: ``log p(z_i = k | y) ∝ log_prior[k] + Σ_j log p(y_j | z_i = k)`` (see the
    module docstring), normalised into ``post[i]``.  Gold items (``gold[i] >= 0``) get a
    one-hot posterior and contribute ``log p(y_i, z_i = gold)``; others ``log p(y_i)``.

    Item pass: that of :func:`glad_items_slice` with one Newton step (``n_newton=1``;
    ``marginal`` unless :data:`ITEMS_Q`): each item's objective (with the log-prior
    ``N(lb_mean, lb_sd^2)`` of its ``log_beta``) and derivatives come from the block's
    first evaluation; the new ``log_beta`` goes into ``new_log_beta`` (which may be
    ``log_beta`` itself) and each annotation adds to the per-worker sums ``grad_a``,
    ``curv_a``, ``rmax_a`` as in :func:`glad_items_slice`.  With :data:`ESTEP` those four
    arrays are not touched (they may be empty) and the change is 0.

    Items run in blocks (at most :data:`BLOCK_ITEMS` items and :data:`BLOCK_ANSWERS`
    answers, or one item with more): each block is evaluated at the current
    ``log_beta`` (:func:`_block_eval`: the answers' ``exp`` and the classes' ``exp`` in
    vectorised loops, within 2 ulp), every item's posterior, log-likelihood and Newton
    step follow from that evaluation; then the block is evaluated once more at the trial
    ``log_beta`` of the items that take a step (:func:`_block_trial`: ``x`` scales with
    ``beta``, so the class sums are the first evaluation's, scaled), each trial is
    accepted or halved by the scalar :func:`_item_eval` (up to 39 times), and the worker
    sums are added.  One pass instead of an E-step and an item pass, two ``exp`` per
    annotation, both vectorised.

    ``width``: ``(0.0,) * K`` compiles a copy for ``K`` classes (the per-class loops
    unroll; the callers use it for 2 to 4 classes), ``()`` one for any ``K``.
    """
    write_post = mode == ESTEP or mode == ESTEP_ITEMS
    item_pass = mode != ESTEP
    marginal = mode != ITEMS_Q
    # a class count fixed at compile time (``width``: K floats) unrolls the per-class loops (a
    # fifth of the pass); ``()``: any K, read from ``log_prior``
    n_labels = len(width) if len(width) > 0 else log_prior.shape[0]
    lkm1 = np.log(n_labels - 1.0) if n_labels > 1 else 0.0
    inv_var = 1.0 / (lb_sd * lb_sd)
    cap = BLOCK_ANSWERS
    for i in range(start, stop):
        if item_ptr[i + 1] - item_ptr[i] > cap:
            cap = item_ptr[i + 1] - item_ptr[i]
    xb = np.empty(cap)
    db = np.empty(cap)
    sb = np.empty(cap)
    sb_t = np.empty(cap if item_pass else 0)
    nb = BLOCK_ITEMS
    lpb = np.empty(nb * n_labels)
    cxb = np.empty(nb * n_labels)
    ncb = np.empty(nb * n_labels)
    ones = np.ones(nb)
    ab = np.empty(nb)
    mb = np.empty(nb)
    pb = np.empty(nb)
    sxb = np.empty(nb)
    scb = np.empty(nb)
    betas = np.empty(nb)
    betas_t = np.empty(nb)
    ratio = np.empty(nb)
    lbs = np.empty(nb)
    lbs_t = np.empty(nb)
    ll_r = np.empty(nb)
    v_r = np.empty(nb)
    g_r = np.empty(nb)
    h_r = np.empty(nb)
    gn_r = np.empty(nb)
    v0 = np.empty(nb)
    d10 = np.empty(nb)
    steps = np.zeros(nb)
    qb = np.empty((nb, n_labels))
    q0b = np.empty((nb, n_labels))  # the posteriors at the block's current log_beta
    # the scalar fallback of a rejected trial step (_item_eval's buffers)
    sig_f = np.empty(cap if item_pass else 0)
    q_f = np.empty((1, n_labels))
    lp_f = np.empty(n_labels)
    cx_f = np.empty(n_labels)
    ll = 0.0
    change = 0.0
    b = start
    while b < stop:
        e = b + 1
        used = item_ptr[e] - item_ptr[b]
        while e < stop and e - b < nb and used + item_ptr[e + 1] - item_ptr[e] <= cap:
            used += item_ptr[e + 1] - item_ptr[e]
            e += 1
        for i in range(b, e):
            lbs[i - b] = log_beta[i]
        _exp_betas(lbs, betas, e - b)
        _block_eval(item_ptr, workers, labels, gold, log_prior, lkm1, alpha, b, e, betas,
                    xb, db, sb, lpb, cxb, ncb, ones, ab, mb, pb, sxb, scb, not marginal, width)
        _block_finish(lpb, cxb, mb, pb, sxb, scb, gold, b, e, lbs, lb_mean, inv_var, q0b, ll_r, v_r, g_r, h_r, gn_r,
                      item_pass, post, marginal, width)
        any_step = False
        for i in range(b, e):
            r = i - b
            if write_post:
                for k in range(n_labels):
                    post[i, k] = q0b[r, k]
                ll += ll_r[r]
            if item_pass:
                step = _newton_step(g_r[r], h_r[r], gn_r[r])
                if abs(step) < 1e-13:
                    step = 0.0
                else:
                    any_step = True
                steps[r] = step
                v0[r] = v_r[r]
                d10[r] = g_r[r]
                lbs_t[r] = min(max(lbs[r] + step, -50.0), 50.0)
        if not item_pass:
            b = e
            continue
        if any_step:  # the trial sigmoids into sb_t (sb keeps the current ones)
            _exp_betas(lbs_t, betas_t, e - b)
            for r in range(e - b):
                ratio[r] = betas_t[r] / betas[r]
            _block_trial(item_ptr, gold, log_prior, lkm1, b, e, ratio, xb, db, sb_t, lpb, cxb, ncb, ab, mb, pb,
                         not marginal, width)
            _block_finish(lpb, cxb, mb, pb, sxb, scb, gold, b, e, lbs_t, lb_mean, inv_var, qb, ll_r, v_r, g_r,
                          h_r, gn_r, False, post, marginal, width)
        q0 = 0
        for i in range(b, e):
            r = i - b
            lo = item_ptr[i]
            hi = item_ptr[i + 1]
            lb = lbs[r]
            step = steps[r]
            nl = lb  # the item's new log_beta
            where = 0  # worker sums from: 0 the current evaluation, 1 the trial block, 2 the fallback
            if step != 0.0:
                v = v0[r]
                g = d10[r]
                vt = v_r[r]
                if vt >= v or abs(g * step) <= 1e-12 * (1.0 + abs(v)):
                    nl = lbs_t[r]
                    where = 1
                else:
                    for _bt in range(39):
                        step *= 0.5
                        bt = min(max(lb + step, -50.0), 50.0)
                        vt, _, _, _ = _item_eval(workers, labels, gold[i], log_prior, post, marginal, alpha, i, lo,
                                                 hi, bt, lb_mean, inv_var, sig_f, q_f, lp_f, cx_f)
                        if vt >= v or abs(g * step) <= 1e-12 * (1.0 + abs(v)):
                            nl = bt
                            where = 2
                            break
            new_log_beta[i] = nl
            if abs(nl - lb) > change:
                change = abs(nl - lb)
            # the sigmoids and posterior at the new log_beta into sb_t and qb[r] (where they
            # are after an accepted trial), so that the loop below has no branch
            if where == 0:
                for j in range(lo, hi):
                    sb_t[q0 + j - lo] = sb[q0 + j - lo]
                for k in range(n_labels):
                    qb[r, k] = q0b[r, k]
            elif where == 2:
                for j in range(lo, hi):
                    sb_t[q0 + j - lo] = sig_f[j - lo]
                for k in range(n_labels):
                    qb[r, k] = q_f[0, k]
            # (where == 0: the item's beta; 1: its trial beta; 2: a halved step's, computed here)
            beta = betas[r] if where == 0 else (betas_t[r] if where == 1 else np.exp(nl))
            b2 = beta * beta
            for j in range(lo, hi):
                w = workers[j]
                s = sb_t[q0 + j - lo]
                grad_a[w] += (qb[r, labels[j]] - s) * beta
                curv_a[w] += s * (1.0 - s) * b2
                rmax_a[w] = max(rmax_a[w], beta)
            q0 += hi - lo
        b = e
    return ll, change


@njit(cache=True, nogil=True, parallel=True)
def glad_estep_parallel(item_ptr, workers, labels, gold, log_prior, alpha, log_beta, lb_mean, lb_sd, bounds, post,
                        mode, new_log_beta, worker_buf, ll_buf, change_buf, width=()):
    """:func:`glad_estep_slice` over item chunks ``bounds[c]..bounds[c+1]``: chunk ``c``
    writes its log-likelihood and largest change into ``ll_buf[c]`` and ``change_buf[c]``
    and, with an item pass (``mode`` not :data:`ESTEP`), zeroes and fills ``worker_buf[c]`` (rows: gradient, curvature,
    largest ``beta``; ``log_beta`` entries are disjoint)."""
    for c in prange(bounds.shape[0] - 1):
        if mode != ESTEP:
            worker_buf[c, :, :] = 0.0
        ll_buf[c], change_buf[c] = glad_estep_slice(item_ptr, workers, labels, gold, log_prior, alpha, log_beta,
                                                    lb_mean, lb_sd, bounds[c], bounds[c + 1], post, mode,
                                                    new_log_beta, worker_buf[c, 0], worker_buf[c, 1],
                                                    worker_buf[c, 2], width)


@njit(cache=True, nogil=True)
def _item_eval(workers, labels, gold_i, log_prior, post, marginal, alpha, i, lo, hi, lb, lb_mean, inv_var,
               sig, q, lp, cx):
    """Item ``i``'s objective at ``log_beta = lb`` and its first two derivatives.

    With ``x_j = alpha[w_j] exp(lb)``, ``log p(y_j | z = k) = log sigmoid(-x_j) - log(K - 1)
    + [y_j = k] (x_j + log(K - 1))``, so ``lp[k] = log_prior[k] + sum_j log p(y_j | k)``
    needs one ``log1p`` per annotation.  ``marginal``: the objective is the item's
    log-likelihood ``log sum_k exp(lp[k])`` (gold items: ``lp[gold]``) and ``q`` its
    posterior; otherwise it is ``Q_i = sum_k q[k] lp[k]`` with ``q = post[i]`` fixed.
    The Gaussian log-prior of ``lb`` is added.  With ``c[k] = sum_{j: y_j = k} x_j``
    the derivatives are ``sum_k q[k] c[k] - sum_j sigmoid(x_j) x_j`` (both objectives)
    and that minus ``sum_j sigmoid (1 - sigmoid) x_j^2`` plus, for the marginal,
    ``Var_q(c)``.  Returns ``(value, d1, d2, gauss_newton)`` (the last: the positive
    curvature ``sum_j sigmoid (1 - sigmoid) x_j^2 + 1 / s_b^2``); writes
    ``sigmoid(x_j)`` into ``sig[j - lo]`` and the posterior used into ``q[0]`` (``q``: 1 x K).
    """
    n_labels = lp.shape[0]
    lkm1 = np.log(n_labels - 1.0) if n_labels > 1 else 0.0
    beta = np.exp(lb)
    for k in range(n_labels):
        lp[k] = log_prior[k]
        cx[k] = 0.0
    # sum_j log sigmoid(-x_j) = -sum_j [max(x_j, 0) + log(1 + exp(-|x_j|))]: the logs
    # of up to 512 factors in (1, 2] are taken at once
    lin = 0.0
    logs = 0.0
    prod = 1.0
    sx = 0.0
    sc = 0.0
    for j in range(lo, hi):
        x = alpha[workers[j]] * beta
        if x >= 0.0:
            e = np.exp(-x)
            s = 1.0 / (1.0 + e)
            lin += x
        else:
            e = np.exp(x)
            s = e / (1.0 + e)
        prod *= 1.0 + e
        if ((j - lo) & 511) == 511:
            logs += np.log(prod)
            prod = 1.0
        y = labels[j]
        lp[y] += x + lkm1
        cx[y] += x
        sx += s * x
        sc += s * (1.0 - s) * x * x
        sig[j - lo] = s
    base = -(lin + logs + np.log(prod)) - (hi - lo) * lkm1
    for k in range(n_labels):
        lp[k] += base
    if not marginal:
        v = 0.0
        for k in range(n_labels):
            q[0, k] = post[i, k]
            v += q[0, k] * lp[k]
    else:  # the item's posterior (one-hot at gold) and log-likelihood, as the E-step
        a, b = _item_posterior(lp, gold_i, 0, q)
        v = a + np.log(b)
    ec = 0.0
    for k in range(n_labels):
        ec += q[0, k] * cx[k]
    var = 0.0
    if marginal:
        for k in range(n_labels):
            var += q[0, k] * (cx[k] - ec) * (cx[k] - ec)
    dev = lb - lb_mean
    v -= 0.5 * dev * dev * inv_var
    g = ec - sx - dev * inv_var
    h = ec - sx - sc + var - inv_var
    return v, g, h, sc + inv_var


@njit(cache=True, nogil=True)
def glad_items_slice(item_ptr, workers, labels, gold, log_prior, post, marginal, alpha, log_beta, lb_mean, lb_sd,
                     n_newton, start, stop, grad_a, curv_a, rmax_a):
    """Update ``log_beta`` of items ``start..stop-1`` in place and add the per-worker sums.

    Returns the largest ``|change|`` of a ``log_beta``.  Each item's objective (see
    :func:`_item_eval`) is its log-likelihood given the abilities when ``marginal``
    (an ECME step, Liu & Rubin 1994: the item's class is integrated out, so ``beta``
    and the posterior do not zigzag) or its part of ``Q`` under ``post`` otherwise,
    plus the log-prior.  Up to ``n_newton`` steps ``d1 / D`` with ``D = -d2`` where
    that is at least ``MIN_CURVATURE_SHARE`` of the Gauss-Newton curvature and that
    share otherwise, clipped to ``MAX_LOG_BETA_STEP`` and halved until the objective
    does not decrease (40 halvings at most; the item keeps its value if none
    passes; steps stop once one is below ``1e-13``).  ``log_beta`` stays in [-50,
    50] (the parameter's domain).

    Then, at the item's new ``beta``, with ``s = sigmoid(alpha[w] beta)`` and ``q`` the
    item's posterior (``post[i]`` unless ``marginal``), each annotation adds ``(q[y] -
    s) beta`` to ``grad_a[w]`` (the gradient of ``Q`` in ``alpha[w]``, prior left
    out), ``s (1 - s) beta^2`` to ``curv_a[w]`` (minus its second derivative) and
    raises ``rmax_a[w]`` to ``beta`` where larger (see :func:`glad_alpha_update`).

    A step whose predicted change ``|d1 step|`` is below ``1e-12 (1 + |value|)``
    (rounding noise) is taken without the comparison.  An EM iteration's first pass is
    made by :func:`glad_estep_slice` (:data:`ESTEP_ITEMS`) together with the E-step instead.
    """
    inv_var = 1.0 / (lb_sd * lb_sd)
    n_labels = log_prior.shape[0]
    max_deg = 1
    for i in range(start, stop):
        if item_ptr[i + 1] - item_ptr[i] > max_deg:
            max_deg = item_ptr[i + 1] - item_ptr[i]
    sig = np.empty(max_deg)
    sig_t = np.empty(max_deg)
    q = np.empty((1, n_labels))
    q_t = np.empty((1, n_labels))
    lp = np.empty(n_labels)
    cx = np.empty(n_labels)
    change = 0.0
    for i in range(start, stop):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        b0 = log_beta[i]
        b = b0
        gi = gold[i]
        v, g, h, gn = _item_eval(workers, labels, gi, log_prior, post, marginal, alpha, i, lo, hi, b, lb_mean,
                                 inv_var, sig, q, lp, cx)
        for _ in range(n_newton):
            step = _newton_step(g, h, gn)
            if abs(step) < 1e-13:
                break
            accepted = False
            bt = b
            vt, gt, ht, gnt = v, g, h, gn
            for _bt in range(40):
                bt = min(max(b + step, -50.0), 50.0)
                vt, gt, ht, gnt = _item_eval(workers, labels, gi, log_prior, post, marginal, alpha, i, lo, hi, bt,
                                             lb_mean, inv_var, sig_t, q_t, lp, cx)
                if vt >= v or abs(g * step) <= 1e-12 * (1.0 + abs(v)):
                    accepted = True
                    break
                step *= 0.5
            if not accepted:
                break
            b, v, g, h, gn = bt, vt, gt, ht, gnt
            sig, sig_t = sig_t, sig
            q, q_t = q_t, q
        log_beta[i] = b
        if abs(b - b0) > change:
            change = abs(b - b0)
        beta = np.exp(b)
        for j in range(lo, hi):
            w = workers[j]
            s = sig[j - lo]
            grad_a[w] += (q[0, labels[j]] - s) * beta
            curv_a[w] += s * (1.0 - s) * beta * beta
            if beta > rmax_a[w]:
                rmax_a[w] = beta
    return change


@njit(cache=True, nogil=True, parallel=True)
def glad_items_parallel(item_ptr, workers, labels, gold, log_prior, post, marginal, alpha, log_beta, lb_mean, lb_sd,
                        n_newton, bounds, worker_buf, change_buf):
    """:func:`glad_items_slice` over item chunks ``bounds[c]..bounds[c+1]``; chunk ``c``
    zeroes and fills ``worker_buf[c]`` (rows: gradient, curvature, largest ``beta``)
    and writes its largest change into ``change_buf[c]`` (``log_beta`` entries are
    disjoint)."""
    for c in prange(bounds.shape[0] - 1):
        worker_buf[c, :, :] = 0.0
        change_buf[c] = glad_items_slice(item_ptr, workers, labels, gold, log_prior, post, marginal, alpha,
                                         log_beta, lb_mean, lb_sd, n_newton, bounds[c], bounds[c + 1],
                                         worker_buf[c, 0], worker_buf[c, 1], worker_buf[c, 2])


@njit(cache=True, nogil=True)
def _ability_step(g, d, p, r):
    """The maximiser of the lower bound of :func:`glad_alpha_update` (signed as ``g``)."""
    big = abs(g)
    if big == 0.0:
        return 0.0
    step = big / (d + p)  # Newton's step: at or beyond the root of psi below
    if r > 0.0 and d > 0.0:
        # psi(t) = d expm1(r t) / r + p t - |g| is convex and increasing in t >= 0; its
        # root lies in [log1p(r |g| / (d + p)) / r, min(Newton, log1p(r |g| / d) / r)]:
        # Newton from the right end decreases monotonically to it (bisection as a guard)
        lo = np.log1p(r * big / (d + p)) / r
        step = min(step, np.log1p(r * big / d) / r)
        for _ in range(100):
            e = np.expm1(min(r * step, 700.0))
            psi = d * e / r + p * step - big
            if psi <= 0.0:  # at the root (rounding): the bound still increases up to here
                break
            new = step - psi / (d * (e + 1.0) + p)
            if new <= lo:
                new = 0.5 * (lo + step)
            if step - new <= 1e-15 * step:
                break
            step = new
    return step if g > 0.0 else -step


@njit(cache=True, nogil=True)
def glad_alpha_update(alpha, grad_a, curv_a, rmax_a, a_mean, a_sd, out):
    """One guarded Newton step per ability, ``out[w] = alpha[w] + t``; returns the largest ``|t|``.

    Worker ``w``'s part of ``Q`` plus its Gaussian prior, ``f(alpha)``, is concave,
    with gradient ``g = grad_a[w] - (alpha - m_a) / s_a^2`` and second derivative
    ``-(D + P)``: ``D = curv_a[w]`` from the data (:func:`glad_items_slice`), ``P = 1 /
    s_a^2``.  Each annotation's term has ``|l'''| <= |l''|`` in ``x = alpha beta``, so
    along a step ``t`` the data curvature grows at most by ``exp(R |t|)``, ``R =
    rmax_a[w]`` the largest ``beta`` among the worker's items, whence

        ``f(alpha + t) - f(alpha) >= g t - D (exp(R |t|) - 1 - R |t|) / R^2 - P t^2 / 2``.

    ``t`` maximises this bound (root of ``D expm1(R |t|) / R + P |t| = |g|``, by a
    few scalar Newton steps): ``f`` never decreases, ``t`` is Newton's step to first
    order near the optimum (quadratic convergence) and shorter where the curvature
    may grow fast.  Results stay in [-1e6, 1e6] (the parameter's domain).  ``out``
    may be ``alpha``.
    """
    p = 1.0 / (a_sd * a_sd)
    big = 0.0
    for w in range(alpha.shape[0]):
        a = alpha[w]
        g = grad_a[w] - (a - a_mean) * p
        new = min(max(a + _ability_step(g, curv_a[w], p, rmax_a[w]), -1e6), 1e6)
        out[w] = new
        if abs(new - a) > big:
            big = abs(new - a)
    return big


@njit(cache=True, nogil=True)
def glad_right_sums_slice(item_ptr, workers, alpha, log_beta, start, stop, right, count):
    """For the answers of items ``start..stop-1``: ``right[w] += sigmoid(alpha[w] beta_i)``
    (the probability that the answer is right) and ``count[w] += 1``."""
    for i in range(start, stop):
        beta = np.exp(log_beta[i])
        for j in range(item_ptr[i], item_ptr[i + 1]):
            w = workers[j]
            x = alpha[w] * beta
            e = np.exp(-abs(x))
            right[w] += (1.0 if x >= 0.0 else e) / (1.0 + e)
            count[w] += 1.0


@njit(cache=True, nogil=True)
def max_abs_diff(a, b):
    """``max |a - b|`` of two equal-length float arrays (0 when empty; ``inf`` when a difference
    is NaN, so that a stopping rule never reads NaN parameters as converged), without temporaries."""
    big = 0.0
    for i in range(a.shape[0]):
        d = abs(a[i] - b[i])
        if d != d:
            return np.inf
        if d > big:
            big = d
    return big


@njit(cache=True, nogil=True)
def sum_sq_dev(x, m):
    """``sum (x - m)^2`` without temporaries."""
    t = 0.0
    for i in range(x.shape[0]):
        d = x[i] - m
        t += d * d
    return t


@njit(cache=True, nogil=True)
def same_values(a, b):
    """Whether two float arrays hold the same values (same length; exact comparison)."""
    if a.shape[0] != b.shape[0]:
        return False
    for i in range(a.shape[0]):
        if a[i] != b[i]:
            return False
    return True
