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
and the asymptotic series there (absolute error below ``1e-14``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = ["digamma", "dirichlet_elog_slice", "dirichlet_elog_parallel", "dirichlet_kl_sum", "logsumexp"]


@njit(cache=True, nogil=True)
def digamma(x):
    """The digamma function ``psi(x) = d/dx log Gamma(x)`` for ``x > 0``."""
    r = 0.0
    while x < 10.0:
        r -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    # Bernoulli-number series: -1/12 f + 1/120 f^2 - 1/252 f^3 + 1/240 f^4 - 1/132 f^5 + 691/32760 f^6
    t = f * (-1.0 / 12.0 + f * (1.0 / 120.0 + f * (-1.0 / 252.0 + f * (1.0 / 240.0
             + f * (-1.0 / 132.0 + f * (691.0 / 32760.0))))))
    return r + math.log(x) - 0.5 / x + t


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
def dirichlet_elog_slice(mu, wstart, wstop, out):
    """Expected log probabilities of Dirichlet rows, workers ``wstart..wstop-1``.

    ``mu`` is ``workers x R x K``: ``R`` Dirichlet rows per worker (BCC: one per
    true class, ``R = K``; EBCC: one per (true class, subtype), ``R = K * M``, row
    ``k * M + m``) over the ``K`` observed labels.  Writes
    ``out[w * K + l, r] = digamma(mu[w, r, l]) - digamma(sum_l mu[w, r, l])``:
    the row ``w * K + l`` (a worker and an observed label, the Dawid-Skene
    ``pairs`` code) holds the term every latent row adds for that answer.
    """
    n_rows = mu.shape[1]
    k_obs = mu.shape[2]
    for w in range(wstart, wstop):
        for r in range(n_rows):
            s = 0.0
            for lab in range(k_obs):
                s += mu[w, r, lab]
            ds = digamma(s)
            for lab in range(k_obs):
                out[w * k_obs + lab, r] = digamma(mu[w, r, lab]) - ds


@njit(cache=True, nogil=True, parallel=True)
def dirichlet_elog_parallel(mu, bounds, out):
    """:func:`dirichlet_elog_slice` over worker chunks ``bounds[c]..bounds[c+1]``."""
    for c in prange(bounds.shape[0] - 1):
        dirichlet_elog_slice(mu, bounds[c], bounds[c + 1], out)


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
    # the prior's constant part per prior row: lgamma(B) - sum lgamma(b)
    cst = np.empty(n_prior)
    for p in range(n_prior):
        s = 0.0
        lg = 0.0
        for lab in range(k_obs):
            s += prior[p, lab]
            lg += math.lgamma(prior[p, lab])
        cst[p] = math.lgamma(s) - lg
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
