"""Ordinal Dawid-Skene kernels: discretised-Gaussian confusions and their per-worker M-step.

Worker ``w`` reports level ``l`` of ``K`` ordered levels for an item of true level
``k`` with probability

    P_w(l | k) = (1 - lapse) * [Phi((l + 1/2 - k - b_w) / s_w) - Phi((l - 1/2 - k - b_w) / s_w)] + lapse / K

(the outer cut points are -inf and +inf): a Gaussian of mean ``k + b_w`` (bias
``b_w``) and spread ``s_w`` over the level index, cut at the half-way points, mixed
with a small uniform ``lapse`` so that no answer has probability 0.

Layouts follow :mod:`crowdagg.kernels.em` (Dawid-Skene): the log-confusions are
``logct[w * K + l, k]`` (observed ``l``, true ``k``), which the Dawid-Skene E-step
kernels read as they are, and the M-step reads the Dawid-Skene counts
``counts[w * K + l, k]`` (expected answers ``l`` of worker ``w`` on items of true
level ``k``).  The M-step maximises, for each worker separately,

    sum_{l, k} counts[w K + l, k] log P_w(l | k)  -  b_w^2 / (2 bias_sd^2)
        - (log s_w - log_spread_mean)^2 / (2 log_spread_sd^2)

over ``(b_w, log s_w)`` by Newton's method with a backtracking line search that
never lowers the objective (a generalised EM step).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = [
    "ordinal_log_confusions_slice",
    "ordinal_log_confusions_parallel",
    "ordinal_mstep_slice",
    "ordinal_mstep_parallel",
    "ordinal_objective",
    "median_codes_slice",
]

_SQRT1_2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327


@njit(cache=True, nogil=True, inline="always")
def _cell(k, y, n_labels, b, s):
    """``P(y | k)`` of the Gaussian part (no lapse) and its derivatives in ``(b, tau = log s)``:
    ``(P, dP/db, dP/dtau, d2P/db2, d2P/db dtau, d2P/dtau2)``."""
    # standardised cut points; the outer ones are infinite (their terms are 0)
    has_lo = y > 0
    has_hi = y < n_labels - 1
    za = (y - 0.5 - k - b) / s
    zc = (y + 0.5 - k - b) / s
    if has_lo and has_hi:
        # the tail-accurate difference: both cut points on the same side of 0 in the upper tail
        if za > 0.0:
            p = 0.5 * (math.erfc(za * _SQRT1_2) - math.erfc(zc * _SQRT1_2))
        else:
            p = 0.5 * (math.erfc(-zc * _SQRT1_2) - math.erfc(-za * _SQRT1_2))
    elif has_hi:
        p = 0.5 * math.erfc(-zc * _SQRT1_2)
    elif has_lo:
        p = 0.5 * math.erfc(za * _SQRT1_2)
    else:
        p = 1.0
    fa = _INV_SQRT_2PI * math.exp(-0.5 * za * za) if has_lo else 0.0
    fc = _INV_SQRT_2PI * math.exp(-0.5 * zc * zc) if has_hi else 0.0
    if not has_lo:
        za = 0.0
    if not has_hi:
        zc = 0.0
    d_b = -(fc - fa) / s
    d_t = -(zc * fc - za * fa)
    d_bb = -(zc * fc - za * fa) / (s * s)
    d_bt = ((fc - zc * zc * fc) - (fa - za * za * fa)) / s
    d_tt = (zc * fc - zc * zc * zc * fc) - (za * fa - za * za * za * fa)
    return p, d_b, d_t, d_bb, d_bt, d_tt


@njit(cache=True, nogil=True)
def ordinal_log_confusions_slice(bias, spread, lapse, n_labels, start, stop, logct):
    """``logct[w * K + l, k] = log P_w(l | k)`` for workers ``start..stop-1``."""
    m = 1.0 - lapse
    u = lapse / n_labels
    for w in range(start, stop):
        b = bias[w]
        s = spread[w]
        for y in range(n_labels):
            r = w * n_labels + y
            for k in range(n_labels):
                v = m * _cell(k, y, n_labels, b, s)[0] + u
                logct[r, k] = math.log(v) if v > 0.0 else -math.inf  # 0 only without a lapse


@njit(cache=True, nogil=True, parallel=True)
def ordinal_log_confusions_parallel(bias, spread, lapse, n_labels, bounds, logct):
    """:func:`ordinal_log_confusions_slice` over worker chunks ``bounds[c]..bounds[c+1]`` in parallel."""
    for c in prange(bounds.shape[0] - 1):
        ordinal_log_confusions_slice(bias, spread, lapse, n_labels, bounds[c], bounds[c + 1], logct)


@njit(cache=True, nogil=True)
def _objective(counts, w, n_labels, b, t, lapse, bias_sd, ls_mean, ls_sd, want_derivs):
    """The worker's M-step objective at ``(b, tau)``; with ``want_derivs`` also its gradient
    and Hessian: ``(f, g_b, g_t, h_bb, h_bt, h_tt)``."""
    s = math.exp(t)
    m = 1.0 - lapse
    u = lapse / n_labels
    f = -0.5 * (b / bias_sd) ** 2 - 0.5 * ((t - ls_mean) / ls_sd) ** 2
    g_b = -b / (bias_sd * bias_sd)
    g_t = -(t - ls_mean) / (ls_sd * ls_sd)
    h_bb = -1.0 / (bias_sd * bias_sd)
    h_bt = 0.0
    h_tt = -1.0 / (ls_sd * ls_sd)
    for y in range(n_labels):
        r = w * n_labels + y
        for k in range(n_labels):
            n = counts[r, k]
            if n == 0.0:
                continue
            p, d_b, d_t, d_bb, d_bt, d_tt = _cell(k, y, n_labels, b, s)
            pm = m * p + u
            f += n * math.log(pm)
            if want_derivs:
                gb = m * d_b / pm
                gt = m * d_t / pm
                g_b += n * gb
                g_t += n * gt
                h_bb += n * (m * d_bb / pm - gb * gb)
                h_bt += n * (m * d_bt / pm - gb * gt)
                h_tt += n * (m * d_tt / pm - gt * gt)
    return f, g_b, g_t, h_bb, h_bt, h_tt


def ordinal_objective(counts, w, n_labels, b, t, lapse, bias_sd, ls_mean, ls_sd):
    """The M-step objective of worker ``w`` and its derivatives (for tests and checks)."""
    return _objective(counts, w, n_labels, b, t, lapse, bias_sd, ls_mean, ls_sd, True)


@njit(cache=True, nogil=True)
def ordinal_mstep_slice(counts, bias, spread, lapse, n_labels, bias_sd, ls_mean, ls_sd, max_steps, tol,
                        start, stop, out_bias, out_spread):
    """Maximise each worker's objective (module docstring) for workers ``start..stop-1``,
    starting from ``(bias[w], log spread[w])``; write the result into ``out_bias`` /
    ``out_spread``.

    Newton steps (a gradient step scaled by the Hessian's diagonal when the Hessian
    is not negative definite), each coordinate of a step capped at 1, halved until the
    objective does not decrease; Newton steps below ``1e-6`` are taken as they are
    (quadratic convergence; objective differences that small are rounding).  Stop
    when a step moves both coordinates by less than ``tol`` or after ``max_steps``.
    """
    for w in range(start, stop):
        b = bias[w]
        t = math.log(spread[w])
        for _ in range(max_steps):
            f, g_b, g_t, h_bb, h_bt, h_tt = _objective(counts, w, n_labels, b, t, lapse, bias_sd, ls_mean,
                                                       ls_sd, True)
            det = h_bb * h_tt - h_bt * h_bt
            newton = h_bb < 0.0 and det > 0.0
            if newton:
                st_b = -(h_tt * g_b - h_bt * g_t) / det
                st_t = -(-h_bt * g_b + h_bb * g_t) / det
            else:
                st_b = g_b / (abs(h_bb) + 1.0)
                st_t = g_t / (abs(h_tt) + 1.0)
            big = max(abs(st_b), abs(st_t))
            if newton and big < 1e-6:
                # near the maximum Newton converges quadratically, while comparing
                # objectives is lost in rounding: take the step as it is
                b += st_b
                t += st_t
                if big < tol:
                    break
                continue
            if big > 1.0:
                st_b /= big
                st_t /= big
            step = 1.0
            moved = False
            while step * max(abs(st_b), abs(st_t)) >= 1e-14:
                nb = b + step * st_b
                nt = t + step * st_t
                f_new = _objective(counts, w, n_labels, nb, nt, lapse, bias_sd, ls_mean, ls_sd, False)[0]
                if f_new >= f:
                    b, t = nb, nt
                    moved = True
                    break
                step *= 0.5
            if not moved or step * max(abs(st_b), abs(st_t)) < tol:
                break
        out_bias[w] = b
        out_spread[w] = math.exp(t)


@njit(cache=True, nogil=True, parallel=True)
def ordinal_mstep_parallel(counts, bias, spread, lapse, n_labels, bias_sd, ls_mean, ls_sd, max_steps, tol,
                           bounds, out_bias, out_spread):
    """:func:`ordinal_mstep_slice` over worker chunks ``bounds[c]..bounds[c+1]`` in parallel."""
    for c in prange(bounds.shape[0] - 1):
        ordinal_mstep_slice(counts, bias, spread, lapse, n_labels, bias_sd, ls_mean, ls_sd, max_steps, tol,
                            bounds[c], bounds[c + 1], out_bias, out_spread)


@njit(cache=True, nogil=True)
def median_codes_slice(post, item_ptr, gold, start, stop, out):
    """The posterior median level of items ``start..stop-1``: the first level whose
    cumulative posterior reaches 1/2 (``1e-12`` slack for rounding); ``-1`` for items
    with neither an annotation nor a gold answer."""
    n_labels = post.shape[1]
    for i in range(start, stop):
        if item_ptr[i + 1] == item_ptr[i] and gold[i] < 0:
            out[i] = -1
            continue
        c = 0.0
        out[i] = n_labels - 1
        for k in range(n_labels):
            c += post[i, k]
            if c >= 0.5 - 1e-12:
                out[i] = k
                break


def median_codes(post: np.ndarray, item_ptr: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """:func:`median_codes_slice` over every item (int64 codes)."""
    out = np.empty(post.shape[0], dtype=np.int64)
    median_codes_slice(post, item_ptr, gold, 0, post.shape[0], out)
    return out
