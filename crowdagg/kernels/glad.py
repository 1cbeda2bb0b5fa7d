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

* :func:`glad_items_slice` solves each item's ``log_beta`` by safeguarded Newton
  steps (evaluated on the item's annotations only; a step is kept only if it does
  not decrease the item's objective), then adds the per-worker gradient, data
  curvature and largest ``beta`` at the new difficulties into per-worker sums;
* :func:`glad_alpha_update` turns those sums into one guarded Newton step per
  worker that provably does not decrease ``Q`` (no evaluation needed).

Every ``*_slice`` kernel walks items ``start..stop-1`` in CSR order once; its
``*_parallel`` twin runs it over item chunks with one buffer per chunk for the
per-worker sums (no atomics), which the caller reduces (sums, and a maximum for
the largest ``beta``).  The serial slices are what a distributed engine calls per
partition.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .em import _add_term, _item_posterior

__all__ = [
    "glad_estep_slice",
    "glad_estep_parallel",
    "glad_items_slice",
    "glad_items_parallel",
    "glad_alpha_update",
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


@njit(cache=True, nogil=True)
def glad_estep_slice(item_ptr, workers, labels, gold, log_prior, alpha, log_beta, start, stop, post,
                     lb_mean=1.0, lb_sd=1.0, item_stats=None):
    """GLAD E-step for items ``start..stop-1``; returns their log-likelihood.

    ``log p(z_i = k | y) ∝ log_prior[k] + Σ_j log p(y_j | z_i = k)`` (see the module
    docstring), normalised in log space into ``post[i]``.  Gold items
    (``gold[i] >= 0``) get a one-hot posterior and contribute ``log p(y_i, z_i = gold)``;
    others contribute ``log p(y_i)``.

    With ``item_stats`` (items x 4), row ``i`` also receives what the M-step's first
    item pass needs at these parameters (see :func:`_item_eval`, ``marginal``): the
    item's log-likelihood plus the log-prior ``N(lb_mean, lb_sd^2)`` of its
    ``log_beta``, its first and second derivatives in ``log_beta`` and the
    Gauss-Newton curvature -- the pass then skips its first evaluation.
    """
    n_labels = log_prior.shape[0]
    lkm1 = np.log(n_labels - 1.0) if n_labels > 1 else 0.0
    inv_var = 1.0 / (lb_sd * lb_sd)
    lp = np.empty(n_labels)
    cx = np.zeros(n_labels)
    ll = 0.0
    prod = 1.0  # see _add_term
    # sum over answers of log sigmoid(-x) - log(K - 1) (the same for every class):
    # -lin - logs - log(sp) - n log(K - 1), the factors 1 + exp(-|x|) of sp in (1, 2]
    lin = 0.0
    logs = 0.0
    sp = 1.0
    for i in range(start, stop):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        beta = np.exp(log_beta[i])
        for k in range(n_labels):
            lp[k] = log_prior[k]
        lin_i = 0.0
        log_i = 0.0
        sp_i = 1.0
        sx = 0.0
        sc = 0.0
        if item_stats is not None:
            for k in range(n_labels):
                cx[k] = 0.0
        for j in range(lo, hi):
            x = alpha[workers[j]] * beta
            if x >= 0.0:
                e = np.exp(-x)
                lin_i += x
            else:
                e = np.exp(x)
            sp_i *= 1.0 + e
            if sp_i > 1e150:
                log_i += np.log(sp_i)
                sp_i = 1.0
            y = labels[j]
            lp[y] += x + lkm1  # log sigmoid(x) - log sigmoid(-x) + log(K - 1)
            if item_stats is not None:
                s = 1.0 / (1.0 + e) if x >= 0.0 else e / (1.0 + e)
                sx += s * x
                sc += s * (1.0 - s) * x * x
                cx[y] += x
        lin += lin_i
        logs += log_i
        sp *= sp_i
        if sp > 1e150:
            logs += np.log(sp)
            sp = 1.0
        g = gold[i]
        term = _item_posterior(lp, g, i, post)
        ll, prod = _add_term(ll, prod, term, i - start)
        if item_stats is not None:
            ec = 0.0
            for k in range(n_labels):
                ec += post[i, k] * cx[k]
            var = 0.0
            if g < 0:
                for k in range(n_labels):
                    var += post[i, k] * (cx[k] - ec) * (cx[k] - ec)
            dev = log_beta[i] - lb_mean
            item_stats[i, 0] = (term[0] + np.log(term[1]) - (lin_i + log_i + np.log(sp_i)) - (hi - lo) * lkm1
                                - 0.5 * dev * dev * inv_var)
            item_stats[i, 1] = ec - sx - dev * inv_var
            item_stats[i, 2] = ec - sx - sc + var - inv_var
            item_stats[i, 3] = sc + inv_var
    n_ann = item_ptr[stop] - item_ptr[start] if stop > start else 0
    return ll + np.log(prod) - lin - logs - np.log(sp) - n_ann * lkm1


@njit(cache=True, nogil=True, parallel=True)
def glad_estep_parallel(item_ptr, workers, labels, gold, log_prior, alpha, log_beta, bounds, post, ll_buf,
                        lb_mean=1.0, lb_sd=1.0, item_stats=None):
    """:func:`glad_estep_slice` over item chunks ``bounds[c]..bounds[c+1]``;
    chunk ``c`` writes its log-likelihood into ``ll_buf[c]``."""
    for c in prange(bounds.shape[0] - 1):
        ll_buf[c] = glad_estep_slice(item_ptr, workers, labels, gold, log_prior, alpha, log_beta,
                                     bounds[c], bounds[c + 1], post, lb_mean, lb_sd, item_stats)


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
    ``sigmoid(x_j)`` into ``sig[j - lo]`` and the posterior used into ``q``.
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
            q[k] = post[i, k]
            v += q[k] * lp[k]
    else:  # the item's posterior (one-hot at gold) and log-likelihood, as the E-step
        a, b = _item_posterior(lp, gold_i, 0, q.reshape((1, n_labels)))
        v = a + np.log(b)
    ec = 0.0
    for k in range(n_labels):
        ec += q[k] * cx[k]
    var = 0.0
    if marginal:
        for k in range(n_labels):
            var += q[k] * (cx[k] - ec) * (cx[k] - ec)
    dev = lb - lb_mean
    v -= 0.5 * dev * dev * inv_var
    g = ec - sx - dev * inv_var
    h = ec - sx - sc + var - inv_var
    return v, g, h, sc + inv_var


@njit(cache=True, nogil=True)
def glad_items_slice(item_ptr, workers, labels, gold, log_prior, post, marginal, alpha, log_beta, lb_mean, lb_sd,
                     n_newton, start, stop, grad_a, curv_a, rmax_a, start_stats=None):
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

    ``start_stats`` (``marginal`` only): the E-step's evaluation at these parameters
    (:func:`glad_estep_slice` ``item_stats``, with ``post`` its posteriors), used
    instead of the first evaluation.  A step whose predicted change ``|d1 step|`` is
    below ``1e-12 (1 + |value|)`` (rounding noise) is taken without the comparison.
    """
    inv_var = 1.0 / (lb_sd * lb_sd)
    n_labels = log_prior.shape[0]
    max_deg = 1
    for i in range(start, stop):
        if item_ptr[i + 1] - item_ptr[i] > max_deg:
            max_deg = item_ptr[i + 1] - item_ptr[i]
    sig = np.empty(max_deg)
    sig_t = np.empty(max_deg)
    q = np.empty(n_labels)
    q_t = np.empty(n_labels)
    lp = np.empty(n_labels)
    cx = np.empty(n_labels)
    change = 0.0
    for i in range(start, stop):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        b0 = log_beta[i]
        b = b0
        gi = gold[i]
        have_sig = True
        if start_stats is not None:
            v, g, h, gn = start_stats[i, 0], start_stats[i, 1], start_stats[i, 2], start_stats[i, 3]
            for k in range(n_labels):
                q[k] = post[i, k]
            have_sig = False
        else:
            v, g, h, gn = _item_eval(workers, labels, gi, log_prior, post, marginal, alpha, i, lo, hi, b, lb_mean,
                                     inv_var, sig, q, lp, cx)
        for _ in range(n_newton):
            d = -h
            floor = MIN_CURVATURE_SHARE * gn
            if d < floor:
                d = floor
            step = g / d
            if step > MAX_LOG_BETA_STEP:
                step = MAX_LOG_BETA_STEP
            elif step < -MAX_LOG_BETA_STEP:
                step = -MAX_LOG_BETA_STEP
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
            have_sig = True
        log_beta[i] = b
        if abs(b - b0) > change:
            change = abs(b - b0)
        beta = np.exp(b)
        for j in range(lo, hi):
            w = workers[j]
            if have_sig:
                s = sig[j - lo]
            else:
                x = alpha[w] * beta
                s = 1.0 / (1.0 + np.exp(-x)) if x >= 0.0 else np.exp(x) / (1.0 + np.exp(x))
            grad_a[w] += (q[labels[j]] - s) * beta
            curv_a[w] += s * (1.0 - s) * beta * beta
            if beta > rmax_a[w]:
                rmax_a[w] = beta
    return change


@njit(cache=True, nogil=True, parallel=True)
def glad_items_parallel(item_ptr, workers, labels, gold, log_prior, post, marginal, alpha, log_beta, lb_mean, lb_sd,
                        n_newton, bounds, worker_buf, change_buf, start_stats=None):
    """:func:`glad_items_slice` over item chunks ``bounds[c]..bounds[c+1]``; chunk ``c``
    zeroes and fills ``worker_buf[c]`` (rows: gradient, curvature, largest ``beta``)
    and writes its largest change into ``change_buf[c]`` (``log_beta`` entries are
    disjoint)."""
    for c in prange(bounds.shape[0] - 1):
        worker_buf[c, :, :] = 0.0
        change_buf[c] = glad_items_slice(item_ptr, workers, labels, gold, log_prior, post, marginal, alpha,
                                         log_beta, lb_mean, lb_sd, n_newton, bounds[c], bounds[c + 1],
                                         worker_buf[c, 0], worker_buf[c, 1], worker_buf[c, 2], start_stats)


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
