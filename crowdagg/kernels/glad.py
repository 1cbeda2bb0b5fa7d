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

Every ``*_slice`` kernel walks items ``start..stop-1`` in CSR order once; its
``*_parallel`` twin runs it over item chunks with one buffer per chunk for the
per-worker sums (no atomics), which the caller adds up.  The serial slices are
what a distributed engine calls per partition.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .em import _add_term, _item_posterior

__all__ = [
    "log_sigmoid",
    "glad_estep_slice",
    "glad_estep_parallel",
    "glad_objective_slice",
    "glad_objective_parallel",
]


@njit(cache=True, nogil=True)
def log_sigmoid(x):
    """``log(1 / (1 + exp(-x)))`` without overflow: ``-softplus(-x)``."""
    if x >= 0.0:
        return -np.log1p(np.exp(-x))
    return x - np.log1p(np.exp(x))


@njit(cache=True, nogil=True)
def glad_estep_slice(item_ptr, workers, labels, gold, log_prior, alpha, log_beta, start, stop, post):
    """GLAD E-step for items ``start..stop-1``; returns their log-likelihood.

    ``log p(z_i = k | y) ∝ log_prior[k] + Σ_j log p(y_j | z_i = k)`` (see the module
    docstring), normalised in log space into ``post[i]``.  Gold items
    (``gold[i] >= 0``) get a one-hot posterior and contribute ``log p(y_i, z_i = gold)``;
    others contribute ``log p(y_i)``.
    """
    n_labels = log_prior.shape[0]
    lkm1 = np.log(n_labels - 1.0) if n_labels > 1 else 0.0
    lp = np.empty(n_labels)
    ll = 0.0
    prod = 1.0  # see _add_term
    for i in range(start, stop):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        beta = np.exp(log_beta[i])
        base = 0.0
        for k in range(n_labels):
            lp[k] = log_prior[k]
        for j in range(lo, hi):
            x = alpha[workers[j]] * beta
            ls = log_sigmoid(x)
            lf = log_sigmoid(-x) - lkm1
            base += lf
            lp[labels[j]] += ls - lf
        for k in range(n_labels):
            lp[k] += base
        g = gold[i]
        ll, prod = _add_term(ll, prod, _item_posterior(lp, g, i, post), i - start)
    return ll + np.log(prod)


@njit(cache=True, nogil=True, parallel=True)
def glad_estep_parallel(item_ptr, workers, labels, gold, log_prior, alpha, log_beta, bounds, post, ll_buf):
    """:func:`glad_estep_slice` over item chunks ``bounds[c]..bounds[c+1]``;
    chunk ``c`` writes its log-likelihood into ``ll_buf[c]``."""
    for c in prange(bounds.shape[0] - 1):
        ll_buf[c] = glad_estep_slice(item_ptr, workers, labels, gold, log_prior, alpha, log_beta,
                                     bounds[c], bounds[c + 1], post)


@njit(cache=True, nogil=True)
def glad_objective_slice(item_ptr, workers, labels, post, alpha, log_beta, start, stop,
                         grad_alpha, grad_log_beta):
    """Expected complete-data log-likelihood of items ``start..stop-1`` and its gradient.

    With ``p = post[i, y]`` (posterior of the answered label) and ``x = alpha[w] *
    beta[i]``, each annotation adds ``p * log_sigmoid(x) + (1 - p) * (log_sigmoid(-x)
    - log(K - 1))`` to the returned value; its derivative in ``x`` is
    ``p - sigmoid(x)``.  Adds ``(p - sigmoid(x)) * beta[i]`` to ``grad_alpha[w]``
    and **writes** ``grad_log_beta[i] = Σ_j (p - sigmoid(x)) * x`` (chain rule
    through ``beta = exp(log_beta)``).  Priors and the class-prior term (constant
    in ``alpha``, ``beta``) are left to the caller.
    """
    n_labels = post.shape[1]
    lkm1 = np.log(n_labels - 1.0) if n_labels > 1 else 0.0
    q = 0.0
    for i in range(start, stop):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        beta = np.exp(log_beta[i])
        gb = 0.0
        for j in range(lo, hi):
            w = workers[j]
            x = alpha[w] * beta
            p = post[i, labels[j]]
            ls = log_sigmoid(x)
            lf = log_sigmoid(-x)
            q += p * ls + (1.0 - p) * (lf - lkm1)
            d = p - np.exp(ls)
            grad_alpha[w] += d * beta
            gb += d * x
        grad_log_beta[i] = gb
    return q


@njit(cache=True, nogil=True, parallel=True)
def glad_objective_parallel(item_ptr, workers, labels, post, alpha, log_beta, bounds,
                            grad_alpha_buf, grad_log_beta, q_buf):
    """:func:`glad_objective_slice` over item chunks; chunk ``c`` zeroes and fills
    ``grad_alpha_buf[c]`` and ``q_buf[c]`` (``grad_log_beta`` rows are disjoint)."""
    for c in prange(bounds.shape[0] - 1):
        grad_alpha_buf[c, :] = 0.0
        q_buf[c] = glad_objective_slice(item_ptr, workers, labels, post, alpha, log_beta,
                                        bounds[c], bounds[c + 1], grad_alpha_buf[c], grad_log_beta)
