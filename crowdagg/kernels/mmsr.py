"""M-MSR (Ma & Olshevsky 2020) kernels: worker-pair statistics over the item CSR table,
the mean-subsequence-reduced iterations on the worker x worker matrix, and the
weighted vote with log-odds weights."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True)
def pair_stats_slice(item_ptr, workers, labels, start, stop, agree, common):
    """For items ``start..stop-1`` add, for every ordered pair of distinct workers that
    both answered the item, 1 to ``common[w1, w2]`` and ``[l1 == l2]`` to ``agree[w1, w2]``.
    (Sum of squared answer counts per item; the matrices stay symmetric, zero diagonal.)"""
    for i in range(start, stop):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        for e in range(lo, hi):
            w1 = workers[e]
            l1 = labels[e]
            for f in range(e + 1, hi):
                w2 = workers[f]
                if w2 == w1:
                    continue
                common[w1, w2] += 1.0
                common[w2, w1] += 1.0
                if labels[f] == l1:
                    agree[w1, w2] += 1.0
                    agree[w2, w1] += 1.0


@njit(cache=True, nogil=True, parallel=True)
def pair_stats_parallel(item_ptr, workers, labels, bounds, agree_buf, common_buf):
    """:func:`pair_stats_slice` over item chunks, one pair of matrices per chunk."""
    for c in prange(bounds.shape[0] - 1):
        agree_buf[c] = 0.0
        common_buf[c] = 0.0
        pair_stats_slice(item_ptr, workers, labels, bounds[c], bounds[c + 1], agree_buf[c], common_buf[c])


@njit(cache=True, nogil=True)
def _reduced_mean(buf, m, f, own, n_tasks):
    """M-MSR's reduction of ``buf[:m]`` around ``own`` (sorted in place): drop the ``f``
    smallest values below ``own`` (all of them when fewer than ``f``) and the ``f``
    largest above it (likewise); the mean of the rest, ``1/sqrt(n_tasks)`` when the
    rest is a single 0, NaN when nothing is left."""
    vals = np.sort(buf[:m])
    below = 0
    for k in range(m):
        if vals[k] < own:
            below += 1
    lo = below if below < f else f
    hi = m
    above = 0
    for k in range(lo, m):
        if vals[k] > own:
            above += 1
    hi -= above if above < f else f
    if hi <= lo:
        return np.nan
    if hi - lo == 1 and vals[lo] == 0.0:
        return 1.0 / np.sqrt(n_tasks)
    s = 0.0
    for k in range(lo, hi):
        s += vals[k]
    return s / (hi - lo)


@njit(cache=True, nogil=True, inline="always")
def _msr_half_step(nbr_ptr, nbr_idx, x, divisor, target, buf, f, n_tasks):
    """One half of an M-MSR iteration: every ``target[j]`` becomes the reduced mean
    (:func:`_reduced_mean` around its own value) of ``x_ij / divisor[i]`` over its observed
    ``i`` with ``divisor[i] != 0``; an entry with nothing left keeps its value."""
    for j in range(target.shape[0]):
        m = 0
        for k in range(nbr_ptr[j], nbr_ptr[j + 1]):
            i = nbr_idx[k]
            if divisor[i] != 0.0:
                buf[m] = x[k] / divisor[i]
                m += 1
        r = _reduced_mean(buf, m, f, target[j], n_tasks)
        if not np.isnan(r):
            target[j] = r


#: largest skill magnitude an M-MSR iterate may hold on the balanced scale (see :func:`_cap_iterate`)
BALANCED_CAP = 100.0
#: ``|u| / |v|`` beyond which (or below whose inverse) the iterate is rebalanced (see :func:`_rebalance`)
SCALE_DRIFT = 1e6


@njit(cache=True, nogil=True)
def _norm_ratio(u, v):
    """``|u| / |v|`` without overflow (infinite entries read as the largest float); 0 when
    either is 0."""
    top = np.finfo(np.float64).max
    bu = 0.0
    bv = 0.0
    for i in range(u.shape[0]):
        bu = max(bu, min(u[i], top))
        bv = max(bv, min(v[i], top))
    if bu == 0.0 or bv == 0.0:
        return 0.0
    su = 0.0
    sv = 0.0
    for i in range(u.shape[0]):
        a = min(u[i], top) / bu
        b = min(v[i], top) / bv
        su += a * a
        sv += b * b
    return (bu / bv) * np.sqrt(su / sv)


@njit(cache=True, nogil=True)
def _rebalance(u, v, drift):
    """``u v^T`` is unchanged by ``(u / k, v k)``; when ``k^2 = |u| / |v|`` leaves
    ``[1/drift, drift]``, rescale to ``|u| = |v|`` (the balanced scale, where the entries
    are the skill magnitudes ``|s|``)."""
    ratio = _norm_ratio(u, v)
    if ratio == 0.0 or 1.0 / drift <= ratio <= drift:
        return
    k = np.sqrt(ratio)
    for i in range(u.shape[0]):
        u[i] /= k
        v[i] *= k


@njit(cache=True, nogil=True)
def _cap_iterate(u, v, cap):
    """Entries above ``cap`` on the balanced scale (``u_i / k``, ``v_j k``, ``k = sqrt(|u| / |v|)``)
    set to ``cap`` there.

    With :func:`_rebalance`, this keeps the M-MSR iterate finite.  A consistent rank-one
    fit triggers neither (its scale is fixed after the first iteration, and
    ``|s_i| = 100`` needs every co-worker of ``i`` below ``|s| = 0.01``).  They act when
    ``|C|`` has no rank-one fit with finite entries and the iterations drift apart
    geometrically (a worker agreeing with two co-workers who are at chance with each
    other: ``u_i -> inf``, theirs ``-> 0``; or ``u -> 0`` and ``v -> inf`` together),
    which overflowed within the default 10,000 iterations; capped, the iterate stays
    finite (and usually settles at a fixed point)."""
    ratio = _norm_ratio(u, v)
    if ratio == 0.0:
        return
    k = np.sqrt(ratio)
    hu = cap * k
    hv = cap / k
    for i in range(u.shape[0]):
        u[i] = min(u[i], hu)
        v[i] = min(v[i], hv)


@njit(cache=True, nogil=True)
def mmsr_iterate(nbr_ptr, nbr_idx, x, u, v, f, n_tasks, max_iter, tol, loss_out):
    """The M-MSR iterations for the rank-one fit ``x_ij ~ u_i v_j`` on the observed pairs
    (row ``i``'s observed columns ``nbr_idx[nbr_ptr[i]:nbr_ptr[i+1]]``, values ``x`` in the
    same order; ``x`` symmetric).  Each iteration sets every ``v_j`` to the reduced mean
    of ``x_ij / u_i`` over its observed ``i``, then every ``u_i`` to the reduced mean of
    ``x_ij / v_j`` (with the new ``v``); an entry whose divisor is 0 is skipped and a
    worker with nothing left keeps its value.  A drifting scale is rebalanced before each
    iteration (:func:`_rebalance`) and entries beyond :data:`BALANCED_CAP` on the balanced
    scale are capped after it (:func:`_cap_iterate`).  Stops when the Frobenius norm of the
    change of ``u v^T`` falls below ``tol``.  Returns the iterations run (losses in ``loss_out``)."""
    n = u.shape[0]
    width = 0
    for i in range(n):
        width = max(width, nbr_ptr[i + 1] - nbr_ptr[i])
    buf = np.empty(max(width, 1))
    up = np.empty(n)
    vp = np.empty(n)
    for it in range(max_iter):
        _rebalance(u, v, SCALE_DRIFT)  # before the copies: leaves u v^T, so the loss, as it is
        for i in range(n):
            up[i] = u[i]
            vp[i] = v[i]
        _msr_half_step(nbr_ptr, nbr_idx, x, u, v, buf, f, n_tasks)
        _msr_half_step(nbr_ptr, nbr_idx, x, v, u, buf, f, n_tasks)
        _cap_iterate(u, v, BALANCED_CAP)
        # ||u v^T - up vp^T||_F^2 with du = u - up, dv = v - vp (no cancellation of large terms):
        # |du|^2 |v|^2 + 2 (du . up)(v . dv) + |up|^2 |dv|^2
        dd = 0.0
        vv = 0.0
        dup = 0.0
        vdv = 0.0
        pp = 0.0
        ee = 0.0
        for i in range(n):
            du = u[i] - up[i]
            dv = v[i] - vp[i]
            dd += du * du
            vv += v[i] * v[i]
            dup += du * up[i]
            vdv += v[i] * dv
            pp += up[i] * up[i]
            ee += dv * dv
        loss = np.sqrt(max(dd * vv + 2.0 * dup * vdv + pp * ee, 0.0))
        loss_out[it] = loss
        if loss < tol:
            return it + 1
    return max_iter


@njit(cache=True, nogil=True)
def logodds_vote_slice(item_ptr, workers, labels, gold, weights, start, stop, post):
    """Items ``start..stop-1``: ``post[i] = softmax_k(sum of weights[w] over answers k)``
    (the one-coin posterior under a uniform prior when ``weights`` are log-odds);
    uniform without answers, one-hot for gold items.  Returns the summed log normalisers
    minus the uniform prior's (the items' log-likelihood under the one-coin model, up to
    a constant)."""
    n_labels = post.shape[1]
    total = 0.0
    for i in range(start, stop):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        for k in range(n_labels):
            post[i, k] = 0.0
        for e in range(lo, hi):
            post[i, labels[e]] += weights[workers[e]]
        g = gold[i]
        if g >= 0:
            for k in range(n_labels):
                post[i, k] = 0.0
            post[i, g] = 1.0
            continue
        top = post[i, 0]
        for k in range(1, n_labels):
            if post[i, k] > top:
                top = post[i, k]
        s = 0.0
        for k in range(n_labels):
            post[i, k] = np.exp(post[i, k] - top)
            s += post[i, k]
        for k in range(n_labels):
            post[i, k] /= s
        if hi > lo:
            total += top + np.log(s) - np.log(n_labels)
    return total


@njit(cache=True, nogil=True, parallel=True)
def logodds_vote_parallel(item_ptr, workers, labels, gold, weights, bounds, post, score_buf):
    """:func:`logodds_vote_slice` over item chunks."""
    for c in prange(bounds.shape[0] - 1):
        score_buf[c] = logodds_vote_slice(item_ptr, workers, labels, gold, weights, bounds[c], bounds[c + 1],
                                          post)
