"""Kernels of enhanced Bayesian classifier combination (EBCC, Li, Rubinstein & Cohn 2019).

EBCC splits each true class ``k`` into ``M`` latent subtypes ``m``; an item's
latent pair ``(z_i, g_i) = (k, m)`` is a class of a Dawid-Skene model with
``K * M`` classes whose answers are the ``K`` labels.  The E-step therefore has
the Dawid-Skene form over the ``K * M`` joint codes ``c = k * M + m``::

    log q(z_i = k, g_i = m) = log_prior[c] + sum_{j in i} logv[w_j * K + y_j, c] + const

with ``log_prior[c] = E[log tau_k] + E[log pi_km]`` and ``logv[w * K + l, c] =
E[log v_wkml]`` (see :func:`crowdagg.kernels.bcc.dirichlet_elog_slice`).  The
kernels keep the joint posterior of one item in a scratch row only: they write
its class marginal ``q(z_i = k) = sum_m q(k, m)`` into ``post`` (items x K) and add
the joint one to the statistics ``counts[w * K + y, c]`` and ``tot[c]``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["NEGLIGIBLE", "ebcc_estep_slice", "ebcc_estep_parallel", "ebcc_split_slice", "item_keys_slice",
           "worker_key_sums_slice", "splitmix64", "mix64", "mix64_array"]


_LOG2E = 1.4426950408889634
_LN2 = 0.6931471805599453
#: 2**n for n = -54..0
_POW2 = np.ldexp(1.0, np.arange(-54, 1))


@njit(cache=True, nogil=True, inline="always")
def exp_neg(d):
    """``exp(d)`` for ``-NEGLIGIBLE <= d <= 0`` (relative error below ``1e-14``), written so that
    a loop over an array of ``d`` vectorises: ``exp(d) = 2**n * exp(f ln 2)`` with ``n =
    floor(d log2 e)``, ``f`` in ``[0, 1)``, the second factor by its Taylor polynomial
    of degree 15 (truncation below ``3e-17``) and ``2**n`` from a table."""
    t = d * _LOG2E
    n = np.floor(t)
    x = (t - n) * _LN2
    p = 1.0 / 1307674368000.0
    p = p * x + 1.0 / 87178291200.0
    p = p * x + 1.0 / 6227020800.0
    p = p * x + 1.0 / 479001600.0
    p = p * x + 1.0 / 39916800.0
    p = p * x + 1.0 / 3628800.0
    p = p * x + 1.0 / 362880.0
    p = p * x + 1.0 / 40320.0
    p = p * x + 1.0 / 5040.0
    p = p * x + 1.0 / 720.0
    p = p * x + 1.0 / 120.0
    p = p * x + 1.0 / 24.0
    p = p * x + 1.0 / 6.0
    p = p * x + 0.5
    p = p * x + 1.0
    p = p * x + 1.0
    return p * _POW2[int(n) + 54]


#: Joint codes with ``lp[c] < max(lp) - NEGLIGIBLE`` get ``q = 0``: ``exp(-36.05) < 2**-52``, below
#: double precision next to the largest term, so neither the posterior nor the ELBO changes.
NEGLIGIBLE = 36.05


@njit(cache=True, nogil=True)
def ebcc_estep_slice(item_ptr, pairs, gold, log_prior, logv, n_sub, start, stop,
                     post, counts, tot, accumulate):
    """EBCC E-step for items ``start..stop-1``; returns their ELBO term.

    For an item with annotations (or gold), ``q(k, m)`` is the softmax of
    ``lp[c] = log_prior[c] + sum_j logv[pairs[j], c]`` over every joint code ``c
    = k * M + m`` (gold items: over the subtypes of the gold class only, other
    classes 0); its term is ``log sum_c exp(lp[c])`` over the same codes.  Codes
    more than :data:`NEGLIGIBLE` below the maximum get ``q = 0`` (their share is
    below double precision), so that after the first iterations, when most
    subtypes are unused, only a few codes per item are exponentiated and counted.
    With ``accumulate``, ``q`` is added to ``tot`` and to ``counts[pairs[j]]`` of
    each of the item's annotations.  Items with neither annotations nor gold get
    the class marginal of ``softmax(log_prior)`` and add nothing.
    """
    n_codes = log_prior.shape[0]
    n_labels = post.shape[1]
    lp = np.empty(n_codes)
    q = np.empty(n_codes)
    act = np.empty(n_codes, dtype=np.int64)
    ll = 0.0
    for i in range(start, stop):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        g = gold[i]
        for c in range(n_codes):
            lp[c] = log_prior[c]
        for j in range(lo, hi):
            row = logv[pairs[j]]
            for c in range(n_codes):
                lp[c] += row[c]
        c0 = 0
        c1 = n_codes
        if g >= 0:
            c0 = g * n_sub
            c1 = c0 + n_sub
        m = lp[c0]
        for c in range(c0 + 1, c1):
            if lp[c] > m:
                m = lp[c]
        s = 0.0
        n_act = 0
        for c in range(n_codes):  # vectorised: a select, no branch
            d = lp[c] - m
            ok = (c >= c0) & (c < c1) & (d > -NEGLIGIBLE)
            q[c] = exp_neg(d if ok else 0.0) if ok else 0.0
        for c in range(n_codes):  # vectorised sums
            s += q[c]
            n_act += q[c] > 0.0
        inv = 1.0 / s
        for c in range(n_codes):
            q[c] *= inv
        for k in range(n_labels):
            acc = 0.0
            for c in range(k * n_sub, (k + 1) * n_sub):
                acc += q[c]
            post[i, k] = acc
        if hi == lo and g < 0:
            continue
        ll += m + np.log(s)
        if accumulate:
            if 4 * n_act >= n_codes:  # dense: contiguous (vectorised) adds over every code
                for c in range(n_codes):
                    tot[c] += q[c]
                for j in range(lo, hi):
                    row = counts[pairs[j]]
                    for c in range(n_codes):
                        row[c] += q[c]
            else:  # sparse: the codes that carry weight
                n_act = 0
                for c in range(c0, c1):
                    if q[c] > 0.0:
                        act[n_act] = c
                        n_act += 1
                for a in range(n_act):
                    tot[act[a]] += q[act[a]]
                for j in range(lo, hi):
                    row = counts[pairs[j]]
                    for a in range(n_act):
                        c = act[a]
                        row[c] += q[c]
    return ll


@njit(cache=True, nogil=True, parallel=True)
def ebcc_estep_parallel(item_ptr, pairs, gold, log_prior, logv, n_sub, bounds,
                        post, counts_buf, tot_buf, ll_buf, accumulate):
    """:func:`ebcc_estep_slice` over item chunks ``bounds[c]..bounds[c+1]``; chunk ``c``
    zeroes and fills ``counts_buf[c]``, ``tot_buf[c]`` and ``ll_buf[c]``."""
    for c in prange(bounds.shape[0] - 1):
        if accumulate:
            counts_buf[c, :, :] = 0.0
            tot_buf[c, :] = 0.0
        ll_buf[c] = ebcc_estep_slice(item_ptr, pairs, gold, log_prior, logv, n_sub, bounds[c], bounds[c + 1],
                                     post, counts_buf[c], tot_buf[c], accumulate)


@njit(cache=True, nogil=True, inline="always")
def splitmix64(state):
    """One step of the splitmix64 generator: ``(new_state, 64 random bits)``."""
    state = state + np.uint64(0x9E3779B97F4A7C15)
    return state, mix64(state)


@njit(cache=True, nogil=True, inline="always")
def mix64(z):
    """The splitmix64 finaliser: a bijective 64-bit hash of ``z``."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True, inline="always")
def _answer_hash(key, label):
    return mix64(key ^ ((np.uint64(label) + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)))


@njit(cache=True, nogil=True)
def item_keys_slice(item_ptr, workers, labels, worker_keys, seed, start, stop, out):
    """``out[i]`` = a hash of item ``i``'s answers: ``mix(seed ^ sum_j h(worker_keys[w_j], y_j))``.

    The sum (mod 2^64) makes the key independent of the order of the answers; it
    depends on the workers only through ``worker_keys``, so renaming items or
    workers, or reordering rows, leaves every item's key unchanged.
    """
    for i in range(start, stop):
        acc = np.uint64(0)
        for j in range(item_ptr[i], item_ptr[i + 1]):
            acc += _answer_hash(worker_keys[workers[j]], labels[j])
        out[i] = mix64(acc ^ seed)


@njit(cache=True, nogil=True)
def worker_key_sums_slice(item_ptr, workers, labels, worker_keys, start, stop, sums):
    """One refinement round of the worker keys (a Weisfeiler-Lehman step): adds
    ``h(item key, y_j)`` of each answer of items ``start..stop-1`` to ``sums[w_j]``
    (item keys from :func:`item_keys_slice` with seed 0).  Sums of pieces add up
    (mod 2^64) to the sums over the whole table."""
    for i in range(start, stop):
        acc = np.uint64(0)
        for j in range(item_ptr[i], item_ptr[i + 1]):
            acc += _answer_hash(worker_keys[workers[j]], labels[j])
        key = mix64(acc)
        for j in range(item_ptr[i], item_ptr[i + 1]):
            sums[workers[j]] += _answer_hash(key, labels[j])


@njit(cache=True, nogil=True)
def ebcc_split_slice(item_ptr, pairs, gold, post, keys, n_sub, start, stop, counts, tot):
    """Statistics of the initial subtype split, items ``start..stop-1``.

    As in the authors' code, ``q(k, m) = post[i, k] * d[k, m]`` with ``d[k] ~
    Dir(1, ..., 1)`` over the ``M`` subtypes, drawn independently per item and
    class; here the draws come from a splitmix64 stream seeded by ``keys[i]``
    (see :func:`item_keys_slice`), so they depend on neither the row order, the
    ids, nor the split of the items into pieces.  Adds ``q`` to ``tot`` and to
    ``counts[pairs[j]]`` of every annotation, for items with annotations or gold.
    """
    n_labels = post.shape[1]
    n_codes = n_labels * n_sub
    q = np.empty(n_codes)
    d = np.empty(n_sub)
    for i in range(start, stop):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        if hi == lo and gold[i] < 0:
            continue
        state = keys[i]
        for k in range(n_labels):
            s = 0.0
            for m in range(n_sub):
                state, bits = splitmix64(state)
                u = ((bits >> np.uint64(11)) + np.uint64(1)) * (1.0 / 9007199254740993.0)  # (0, 1)
                d[m] = -np.log(u)  # Exp(1): normalised, a Dir(1, ..., 1) draw
                s += d[m]
            pk = post[i, k] / s
            for m in range(n_sub):
                q[k * n_sub + m] = pk * d[m]
        for c in range(n_codes):
            tot[c] += q[c]
        for j in range(lo, hi):
            row = counts[pairs[j]]
            for c in range(n_codes):
                row[c] += q[c]


@njit(cache=True, nogil=True)
def mix64_array(x, out):
    """``out[i] = mix64(x[i])`` (uint64 arrays)."""
    for i in range(x.shape[0]):
        out[i] = mix64(x[i])
