"""Kernels of the Bayesian classifier combination models (BCC and EBCC).

Variational Bayes for these models needs, besides the Dawid-Skene E-step of
:mod:`crowdagg.kernels.em` (BCC reads it with expected log parameters), the
expected logarithms of Dirichlet-distributed probability vectors and the
Kullback-Leibler divergences between Dirichlet distributions:

* ``E[log v_l] = digamma(mu_l) - digamma(sum_l mu_l)`` for ``v ~ Dir(mu)``
  (:func:`dirichlet_elog_slice`, written straight into the ``(worker * K +
  observed, row)`` layout the E-step kernels read);
* ``KL(Dir(a) || Dir(b)) = lgamma(A) - sum lgamma(a) - lgamma(B) + sum lgamma(b)
  + sum (a - b) (digamma(a) - digamma(A))`` with ``A = sum a``, ``B = sum b``
  (:func:`dirichlet_kl_sum`).

The digamma function is not part of Numba's ``math`` support: :func:`digamma`
computes it by the recurrence ``psi(x) = psi(x + 1) - 1 / x`` up to ``x >= 10``
(the ``n`` reciprocals summed as one fraction) and the asymptotic series there;
:func:`psi_lgamma` gives ``log Gamma`` from the same shift and logarithm
(Stirling's series), about half the cost of ``digamma`` plus ``math.lgamma``.
Both agree with SciPy to about ``1e-14``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = ["digamma", "psi_lgamma", "psi_lgamma_array", "dirichlet_elog_slice", "dirichlet_elog_parallel", "dirichlet_kl_sum",
           "logsumexp"]


_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


@njit(cache=True, nogil=True, inline="always")
def _shift(x):
    """Shift ``x > 0`` up to ``x + n >= 10``; return ``(x + n, sum_{i<n} 1/(x+i), prod_{i<n} (x+i))``
    with the sum kept as one fraction (one division instead of ``n``)."""
    num = 0.0
    den = 1.0
    while x < 10.0:
        num = num * x + den
        den *= x
        x += 1.0
    return x, num / den, den


@njit(cache=True, nogil=True, inline="always")
def _psi_series(x, lx):
    """Asymptotic series of digamma at ``x >= 10`` (``lx = log(x)``); error below 1e-15."""
    f = 1.0 / (x * x)
    # Bernoulli-number series: -1/12 f + 1/120 f^2 - 1/252 f^3 + 1/240 f^4 - 1/132 f^5 + 691/32760 f^6
    t = f * (-1.0 / 12.0 + f * (1.0 / 120.0 + f * (-1.0 / 252.0 + f * (1.0 / 240.0
             + f * (-1.0 / 132.0 + f * (691.0 / 32760.0))))))
    return lx - 0.5 / x + t


@njit(cache=True, nogil=True, inline="always")
def _lgamma_series(x, lx):
    """Stirling's series of log Gamma at ``x >= 10`` (``lx = log(x)``); error below 1e-15."""
    f = 1.0 / (x * x)
    t = (1.0 / 12.0 + f * (-1.0 / 360.0 + f * (1.0 / 1260.0 + f * (-1.0 / 1680.0 + f * (1.0 / 1188.0))))) / x
    return (x - 0.5) * lx - x + _HALF_LOG_2PI + t


@njit(cache=True, nogil=True)
def digamma(x):
    """The digamma function ``psi(x) = d/dx log Gamma(x)`` for ``x > 0``: the recurrence
    ``psi(x) = psi(x + 1) - 1/x`` up to ``x >= 10``, then the asymptotic series."""
    y, inv_sum, _ = _shift(x)
    return _psi_series(y, math.log(y)) - inv_sum


@njit(cache=True, nogil=True)
def psi_lgamma(x):
    """``(digamma(x), log Gamma(x))`` for ``x > 0``, sharing the shift and the logarithm:
    ``log Gamma(x) = log Gamma(x + n) - log prod_{i<n} (x + i)``."""
    y, inv_sum, prod = _shift(x)
    ly = math.log(y)
    return _psi_series(y, ly) - inv_sum, _lgamma_series(y, ly) - math.log(prod)


@njit(cache=True, nogil=True)
def logsumexp(a):
    """``log(sum(exp(a)))`` of a 1-d array (``-inf`` when empty)."""
    n = a.shape[0]
    if n == 0:
        return -np.inf
    m = a[0]
    for k in range(1, n):
        if a[k] > m:
            m = a[k]
    s = 0.0
    for k in range(n):
        s += np.exp(a[k] - m)
    return m + np.log(s)


@njit(cache=True, nogil=True)
def _log_norm_constants(prior):
    """``lgamma(B) - sum_l lgamma(b_l)`` of each row ``b`` of ``prior`` (``B = sum_l b_l``): the
    prior's part of the KL divergences of :func:`dirichlet_elog_slice` and :func:`dirichlet_kl_sum`."""
    n_prior, k_obs = prior.shape
    cst = np.empty(n_prior)
    for p in range(n_prior):
        s = 0.0
        lg = 0.0
        for lab in range(k_obs):
            s += prior[p, lab]
            lg += math.lgamma(prior[p, lab])
        cst[p] = math.lgamma(s) - lg
    return cst


@njit(cache=True, nogil=True, inline="always")
def _shift_fixed(x):
    """:func:`_shift` as ten selects: for ``x > 0`` its loop runs at most ten times
    (``x + 10 >= 10``), so the same steps give the same ``(x + n, numerator,
    denominator)`` bit for bit, without the data-dependent branch (a loop over
    independent ``x`` vectorises)."""
    num = 0.0
    den = 1.0
    for _ in range(10):
        ok = x < 10.0
        num = num * x + den if ok else num
        den = den * x if ok else den
        x = x + 1.0 if ok else x
    return x, num, den


# error_model="numpy": a division is a plain division (no zero test and exception branch,
# which kept these loops scalar); every divisor here is positive.
@njit(cache=True, nogil=True, error_model="numpy")
def psi_lgamma_array(x, psi, lgam, work):
    """:func:`psi_lgamma` of every entry of the 1-d array ``x > 0`` (the same values, bit
    for bit) into ``psi`` and ``lgam``; ``work`` is scratch of shape ``(3, len(x))``.
    The shifts and the series run as vectorised loops, the logarithms as library calls."""
    n = x.shape[0]
    ys = work[0]
    inv = work[1]
    den = work[2]
    for i in range(n):  # vectorised
        y, a, b = _shift_fixed(x[i])
        ys[i] = y
        inv[i] = a / b
        den[i] = b
    for i in range(n):
        psi[i] = math.log(ys[i])
        lgam[i] = math.log(den[i])
    for i in range(n):  # vectorised
        y = ys[i]
        ly = psi[i]
        psi[i] = _psi_series(y, ly) - inv[i]
        lgam[i] = _lgamma_series(y, ly) - lgam[i]


@njit(cache=True, nogil=True, error_model="numpy")
def dirichlet_elog_slice(mu, prior, div, wstart, wstop, out):
    """Expected log probabilities of Dirichlet rows, workers ``wstart..wstop-1``, and
    the sum of their KL divergences from the prior.

    ``mu`` is ``workers x R x K``: ``R`` Dirichlet rows per worker (BCC: one per
    true class, ``R = K``; EBCC: one per (true class, subtype), ``R = K * M``, row
    ``k * M + m``) over the ``K`` observed labels; row ``r`` has prior row
    ``prior[(r // div) % P]``.  Writes ``out[w * K + l, r] = digamma(mu[w, r, l]) -
    digamma(sum_l mu[w, r, l])`` -- the row ``w * K + l`` (a worker and an
    observed label, the Dawid-Skene ``pairs`` code) holds the term every latent
    row adds for that answer -- and returns ``sum KL(Dir(mu[w, r]) || Dir(prior))``
    over the slice, from the same digammas (see :func:`dirichlet_kl_sum`).  The
    digammas and log-gammas of one worker's ``R * (K + 1)`` values (the entries and
    the row sums) are taken at once by :func:`psi_lgamma_array`: the same values as
    :func:`psi_lgamma` one at a time, about twice as fast.
    """
    n_rows = mu.shape[1]
    k_obs = mu.shape[2]
    n_prior = prior.shape[0]
    cst = _log_norm_constants(prior)
    width = k_obs + 1  # a row's entries, then its sum
    x = np.empty(n_rows * width)
    dg = np.empty(n_rows * width)
    lg = np.empty(n_rows * width)
    work = np.empty((3, n_rows * width))
    total = 0.0
    for w in range(wstart, wstop):
        for r in range(n_rows):
            s = 0.0
            for lab in range(k_obs):
                x[r * width + lab] = mu[w, r, lab]
                s += mu[w, r, lab]
            x[r * width + k_obs] = s
        psi_lgamma_array(x, dg, lg, work)
        for r in range(n_rows):
            p = (r // div) % n_prior
            b = r * width
            ds = dg[b + k_obs]
            acc = lg[b + k_obs] - cst[p]
            for lab in range(k_obs):
                e = dg[b + lab] - ds
                out[w * k_obs + lab, r] = e
                acc += (mu[w, r, lab] - prior[p, lab]) * e - lg[b + lab]
            total += acc
    return total


@njit(cache=True, nogil=True, parallel=True)
def dirichlet_elog_parallel(mu, prior, div, bounds, kl_buf, out):
    """:func:`dirichlet_elog_slice` over worker chunks ``bounds[c]..bounds[c+1]``
    (chunk ``c``'s KL sum in ``kl_buf[c]``)."""
    for c in prange(bounds.shape[0] - 1):
        kl_buf[c] = dirichlet_elog_slice(mu, prior, div, bounds[c], bounds[c + 1], out)


@njit(cache=True, nogil=True)
def dirichlet_kl_sum(a, prior, div):
    """``sum_r KL(Dir(a[r]) || Dir(prior[(r // div) % P]))`` over the rows of ``a``.

    ``a`` is ``n x K`` (posterior Dirichlet parameters, one row per distribution),
    ``prior`` is ``P x K``; row ``r`` of ``a`` has prior row ``(r // div) % P``
    (BCC confusions: ``div = 1``, ``P = K`` true classes; EBCC: ``div = M``
    subtypes, the rows being ``(w * K + k) * M + m``).
    """
    n, k_obs = a.shape
    n_prior = prior.shape[0]
    cst = _log_norm_constants(prior)
    total = 0.0
    for r in range(n):
        p = (r // div) % n_prior
        s = 0.0
        lg = 0.0
        for lab in range(k_obs):
            s += a[r, lab]
            lg += math.lgamma(a[r, lab])
        ds = digamma(s)
        acc = math.lgamma(s) - lg - cst[p]
        for lab in range(k_obs):
            acc += (a[r, lab] - prior[p, lab]) * (digamma(a[r, lab]) - ds)
        total += acc
    return total
