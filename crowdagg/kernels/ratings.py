"""Kernels of the numeric-rating methods: per-item moments and medians, and the
worker bias-noise model's item posteriors and per-worker residual sums.

Every kernel reads the item CSR table (``item_ptr``, per-annotation ``labels``
codes and ``workers`` codes) and ``values``, the number of each label code.  Serial
slice kernels work on items ``[start, stop)`` (the ones Dask tasks call); the
``*_parallel`` twins run them over item chunks with ``prange``.  References:
``tests/naive_ratings.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._util import chunk_bounds


# --------------------------------------------------------------------------- mean and median
@njit(cache=True, nogil=True)
def moments_slice(item_ptr, labels, values, start, stop, count, mean, m2):
    """Per item: number of answers, mean and sum of squared deviations from the mean
    (two passes over the item's answers, so no cancellation)."""
    for i in range(start, stop):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        n = hi - lo
        count[i] = n
        s = 0.0
        for j in range(lo, hi):
            s += values[labels[j]]
        mu = s / n if n > 0 else 0.0
        d2 = 0.0
        for j in range(lo, hi):
            d = values[labels[j]] - mu
            d2 += d * d
        mean[i] = mu
        m2[i] = d2


@njit(cache=True, nogil=True, parallel=True)
def moments_parallel(item_ptr, labels, values, bounds, count, mean, m2):
    """:func:`moments_slice` over item chunks in parallel."""
    for c in prange(bounds.shape[0] - 1):
        moments_slice(item_ptr, labels, values, bounds[c], bounds[c + 1], count, mean, m2)


@njit(cache=True, nogil=True)
def median_slice(item_ptr, labels, values, start, stop, out):
    """Exact median of each item's answers (mean of the two middle values for an even
    count; 0 for an item without answers, which the caller replaces)."""
    longest = 0
    for i in range(start, stop):
        n = item_ptr[i + 1] - item_ptr[i]
        if n > longest:
            longest = n
    buf = np.empty(longest, dtype=np.float64)
    for i in range(start, stop):
        lo = item_ptr[i]
        n = item_ptr[i + 1] - lo
        if n == 0:
            out[i] = 0.0
            continue
        for j in range(n):
            buf[j] = values[labels[lo + j]]
        srt = np.sort(buf[:n])
        h = n // 2
        if n % 2 == 1:
            out[i] = srt[h]
        else:
            out[i] = 0.5 * (srt[h - 1] + srt[h])


@njit(cache=True, nogil=True, parallel=True)
def median_parallel(item_ptr, labels, values, bounds, out):
    """:func:`median_slice` over item chunks in parallel."""
    for c in prange(bounds.shape[0] - 1):
        median_slice(item_ptr, labels, values, bounds[c], bounds[c + 1], out)


def item_moments(item_ptr, labels, values, parallel=True):
    """``(count, mean, m2)`` per item; see :func:`moments_slice`."""
    n = item_ptr.shape[0] - 1
    count = np.empty(n, dtype=np.int64)
    mean = np.empty(n, dtype=np.float64)
    m2 = np.empty(n, dtype=np.float64)
    bounds = chunk_bounds(item_ptr) if parallel else None
    if bounds is not None and bounds.shape[0] > 2:  # one chunk: the serial kernel, no thread pool
        moments_parallel(item_ptr, labels, values, bounds, count, mean, m2)
    else:
        moments_slice(item_ptr, labels, values, 0, n, count, mean, m2)
    return count, mean, m2


def item_medians(item_ptr, labels, values, parallel=True):
    """Median per item; see :func:`median_slice`."""
    n = item_ptr.shape[0] - 1
    out = np.empty(n, dtype=np.float64)
    bounds = chunk_bounds(item_ptr) if parallel else None
    if bounds is not None and bounds.shape[0] > 2:
        median_parallel(item_ptr, labels, values, bounds, out)
    else:
        median_slice(item_ptr, labels, values, 0, n, out)
    return out


# --------------------------------------------------------------------------- bias-noise model
@njit(cache=True, nogil=True)
def bn_items_slice(item_ptr, labels, workers, values, bias, prec, log_prec, mu0, p0, gmask, gval,
                   start, stop, mean, var, ll):
    """Posterior of each item's true value under the worker bias-noise model.

    Answer ``y = z + bias[w] + e`` with ``e ~ N(0, 1 / prec[w])`` and prior
    ``z ~ N(mu0, 1 / p0)``: the posterior of ``z`` is normal with precision
    ``P = p0 + sum prec[w]`` and mean ``(p0 mu0 + sum prec[w] (y - bias[w])) / P``;
    ``ll[i]`` is the log marginal density of the item's answers (``z`` integrated
    out).  Gold items (``gmask[i] > 0``) keep ``z = gval[i]`` (variance 0) and
    ``ll[i]`` is the density of their answers and of ``z`` given the prior.
    Items without answers (nor gold) get the prior and ``ll[i] = 0``.
    """
    half_log_2pi = 0.5 * np.log(2.0 * np.pi)
    log_p0 = np.log(p0)
    for i in range(start, stop):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        if gmask[i] > 0.0:
            g = gval[i]
            acc = 0.5 * log_p0 - half_log_2pi - 0.5 * p0 * (g - mu0) * (g - mu0)
            for j in range(lo, hi):
                w = workers[j]
                r = values[labels[j]] - bias[w] - g
                acc += 0.5 * log_prec[w] - half_log_2pi - 0.5 * prec[w] * r * r
            mean[i] = g
            var[i] = 0.0
            ll[i] = acc
            continue
        if hi == lo:
            mean[i] = mu0
            var[i] = 1.0 / p0
            ll[i] = 0.0
            continue
        big_p = p0
        num = p0 * mu0
        quad = p0 * mu0 * mu0
        acc = 0.5 * log_p0
        for j in range(lo, hi):
            w = workers[j]
            r = values[labels[j]] - bias[w]
            big_p += prec[w]
            num += prec[w] * r
            quad += prec[w] * r * r
            acc += 0.5 * log_prec[w] - half_log_2pi
        m = num / big_p
        q = quad - big_p * m * m
        if q < 0.0:  # rounding: a sum of squares is never negative
            q = 0.0
        mean[i] = m
        var[i] = 1.0 / big_p
        ll[i] = acc - 0.5 * np.log(big_p) - 0.5 * q


@njit(cache=True, nogil=True, parallel=True)
def bn_items_parallel(item_ptr, labels, workers, values, bias, prec, log_prec, mu0, p0, gmask, gval,
                      bounds, mean, var, ll):
    """:func:`bn_items_slice` over item chunks in parallel."""
    for c in prange(bounds.shape[0] - 1):
        bn_items_slice(item_ptr, labels, workers, values, bias, prec, log_prec, mu0, p0, gmask, gval,
                       bounds[c], bounds[c + 1], mean, var, ll)


@njit(cache=True, nogil=True)
def bn_worker_stats_slice(item_ptr, labels, workers, values, mean, var, start, stop, stats):
    """Add each worker's sums over the answers of items ``[start, stop)`` to ``stats``
    (workers x 4): count, sum of residuals ``y - m_i``, sum of squared residuals, sum of
    the items' posterior variances ``v_i``."""
    for i in range(start, stop):
        m = mean[i]
        v = var[i]
        for j in range(item_ptr[i], item_ptr[i + 1]):
            w = workers[j]
            e = values[labels[j]] - m
            stats[w, 0] += 1.0
            stats[w, 1] += e
            stats[w, 2] += e * e
            stats[w, 3] += v


@njit(cache=True, nogil=True)
def bn_worker_stats_by_worker(worker_ptr, worker_index, item_codes, labels, values, mean, var,
                              wstart, wstop, stats):
    """The sums of :func:`bn_worker_stats_slice` for workers ``[wstart, wstop)``, read
    through the worker grouping (each worker's row written once: no shared buffers)."""
    for w in range(wstart, wstop):
        n = 0.0
        s1 = 0.0
        s2 = 0.0
        sv = 0.0
        for k in range(worker_ptr[w], worker_ptr[w + 1]):
            j = worker_index[k]
            i = item_codes[j]
            e = values[labels[j]] - mean[i]
            n += 1.0
            s1 += e
            s2 += e * e
            sv += var[i]
        stats[w, 0] = n
        stats[w, 1] = s1
        stats[w, 2] = s2
        stats[w, 3] = sv


@njit(cache=True, nogil=True, parallel=True)
def bn_worker_stats_parallel(worker_ptr, worker_index, item_codes, labels, values, mean, var, wbounds, stats):
    """:func:`bn_worker_stats_by_worker` over worker chunks in parallel."""
    for c in prange(wbounds.shape[0] - 1):
        bn_worker_stats_by_worker(worker_ptr, worker_index, item_codes, labels, values, mean, var,
                                  wbounds[c], wbounds[c + 1], stats)


__all__ = ["moments_slice", "moments_parallel", "median_slice", "median_parallel", "item_moments",
           "item_medians", "bn_items_slice", "bn_items_parallel", "bn_worker_stats_slice",
           "bn_worker_stats_by_worker", "bn_worker_stats_parallel"]
