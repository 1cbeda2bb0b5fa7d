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

from .bcc import dirichlet_elog_slice
from .em import exp_nonpos

__all__ = ["NEGLIGIBLE", "EXP_NEGLIGIBLE", "PRODUCT_FLOOR", "ELOG_BLOCK_VALUES", "scale_rows_slice",
           "scale_rows_parallel", "ebcc_prepare_parallel", "elog_block_rows", "ebcc_elog_block",
           "ebcc_elog_blocks_slice", "ebcc_elog_blocks_parallel", "ebcc_estep_slice", "ebcc_estep_parallel", "ebcc_split_slice", "item_keys_slice",
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


#: ``exp(-NEGLIGIBLE)``: the product path's cut-off relative to the item's total.
EXP_NEGLIGIBLE = float(np.exp(-NEGLIGIBLE))

#: Items whose scaled products could fall below ``exp(-PRODUCT_FLOOR)`` (see
#: :func:`ebcc_estep_slice`) take the log-space path instead: every product then stays
#: a normal double (``exp(-300) ~ 5e-131``), and so does the running product of the
#: items' totals that the ELBO's logarithms are taken of (flushed outside ``[1e-150, 1e150]``).
PRODUCT_FLOOR = 300.0


@njit(cache=True, nogil=True, inline="always")
def _max_min(row):
    """``(max(row), min(row))`` of a non-empty 1-d array, in four interleaved lanes (four
    independent compare chains instead of one)."""
    n = row.shape[0]
    m0 = m1 = m2 = m3 = row[0]
    l0 = l1 = l2 = l3 = row[0]
    c = 0
    while c + 4 <= n:
        a0, a1, a2, a3 = row[c], row[c + 1], row[c + 2], row[c + 3]
        m0 = a0 if a0 > m0 else m0
        m1 = a1 if a1 > m1 else m1
        m2 = a2 if a2 > m2 else m2
        m3 = a3 if a3 > m3 else m3
        l0 = a0 if a0 < l0 else l0
        l1 = a1 if a1 < l1 else l1
        l2 = a2 if a2 < l2 else l2
        l3 = a3 if a3 < l3 else l3
        c += 4
    while c < n:
        m0 = row[c] if row[c] > m0 else m0
        l0 = row[c] if row[c] < l0 else l0
        c += 1
    m0 = m0 if m0 > m1 else m1
    m2 = m2 if m2 > m3 else m3
    l0 = l0 if l0 < l1 else l1
    l2 = l2 if l2 < l3 else l3
    return (m0 if m0 > m2 else m2), (l0 if l0 < l2 else l2)


@njit(cache=True, nogil=True)
def scale_rows_slice(lrows, erows, shift, low, start, stop):
    """Rows ``start..stop-1`` of ``lrows`` (log values) as scaled exponentials:
    ``erows[r, c] = exp(lrows[r, c] - shift[r])`` with ``shift[r] = max_c lrows[r, c]``
    (so ``erows`` is in ``[0, 1]``, the largest entry of each row ``1``), and ``low[r] =
    min_c lrows[r, c] - shift[r]``, the log of the row's smallest factor (``exp``:
    :func:`crowdagg.kernels.em.exp_nonpos`, within 2 ulp of ``np.exp``)."""
    n = lrows.shape[1]
    for r in range(start, stop):
        row = lrows[r]
        m, lo = _max_min(row)
        out = erows[r]
        for c in range(n):  # vectorised
            out[c] = exp_nonpos(row[c] - m)
        shift[r] = m
        low[r] = lo - m


@njit(cache=True, nogil=True, parallel=True)
def scale_rows_parallel(lrows, erows, shift, low, bounds):
    """:func:`scale_rows_slice` over row chunks ``bounds[c]..bounds[c+1]``."""
    for c in prange(bounds.shape[0] - 1):
        scale_rows_slice(lrows, erows, shift, low, bounds[c], bounds[c + 1])


@njit(cache=True, nogil=True, parallel=True)
def ebcc_prepare_parallel(mu, prior, div, bounds, kl_buf, lrows, erows, shift, low):
    """The E-step's tables for worker chunks ``bounds[c]..bounds[c+1]`` in one parallel
    region: :func:`~crowdagg.kernels.bcc.dirichlet_elog_slice` (``E[log v]`` into the
    chunk's rows ``w * K + l`` of ``lrows``, the KL sum into ``kl_buf[c]``), then
    :func:`scale_rows_slice` of those rows (the prior's row is left to the caller)."""
    k_obs = mu.shape[2]
    for c in prange(bounds.shape[0] - 1):
        kl_buf[c] = dirichlet_elog_slice(mu, prior, div, bounds[c], bounds[c + 1], lrows)
        scale_rows_slice(lrows, erows, shift, low, bounds[c] * k_obs, bounds[c + 1] * k_obs)


#: Values (rows x (labels + 1)) of Dirichlet rows converted per call of
#: :func:`~crowdagg.kernels.bcc.dirichlet_elog_slice` by the blocked kernels below: that
#: kernel's scratch is 6 such arrays, so a block bounds it at ``6 * 8 * ELOG_BLOCK_VALUES``
#: bytes (3 MiB) per thread, where one worker's rows at once are ``6 * 8 * K^2 * M`` bytes
#: (1 GiB at 1,477 labels and 10 subtypes).
ELOG_BLOCK_VALUES = 1 << 16


def elog_block_rows(n_rows: int, k_obs: int, div: int) -> int:
    """Rows of one worker's ``n_rows`` Dirichlet rows (``k_obs`` labels each) per block of the
    blocked kernels: a multiple of ``div`` (whole classes of ``div`` subtypes), about
    :data:`ELOG_BLOCK_VALUES` values, at most ``n_rows``."""
    per = max(1, ELOG_BLOCK_VALUES // max(div * (k_obs + 1), 1)) * div
    return int(min(per, n_rows))


@njit(cache=True, nogil=True)
def ebcc_elog_block(mu, prior, div, w, r0, r1, out):
    """:func:`~crowdagg.kernels.bcc.dirichlet_elog_slice` of worker ``w``'s rows ``r0..r1-1``
    only (``r0`` a multiple of ``div``; row ``r`` has prior row ``prior[r // div]``, EBCC's
    rule within a worker, ``r // div < prior.shape[0]``): writes ``out[w * K + l, r0:r1]``
    and returns the rows' KL sum."""
    k_obs = mu.shape[2]
    p0 = r0 // div
    p1 = (r1 - 1) // div + 1
    return dirichlet_elog_slice(mu[w:w + 1, r0:r1], prior[p0:p1], div, 0, 1,
                                out[w * k_obs:(w + 1) * k_obs, r0:r1])


@njit(cache=True, nogil=True)
def ebcc_elog_blocks_slice(mu, prior, div, block, kl_buf, out):
    """:func:`ebcc_elog_block` over every (worker, block of ``block`` rows), in order;
    block ``t`` (worker ``t // nb``, ``nb`` blocks a worker) puts its KL sum in ``kl_buf[t]``."""
    n_rows = mu.shape[1]
    nb = (n_rows + block - 1) // block
    for t in range(mu.shape[0] * nb):
        r0 = (t % nb) * block
        kl_buf[t] = ebcc_elog_block(mu, prior, div, t // nb, r0, min(r0 + block, n_rows), out)


@njit(cache=True, nogil=True, parallel=True)
def ebcc_elog_blocks_parallel(mu, prior, div, block, kl_buf, out):
    """:func:`ebcc_elog_blocks_slice` with the blocks in parallel (the same values: every
    block is computed alone and the caller sums ``kl_buf``)."""
    n_rows = mu.shape[1]
    nb = (n_rows + block - 1) // block
    for t in prange(mu.shape[0] * nb):
        r0 = (t % nb) * block
        kl_buf[t] = ebcc_elog_block(mu, prior, div, t // nb, r0, min(r0 + block, n_rows), out)


@njit(cache=True, nogil=True)
def ebcc_estep_slice(item_ptr, pairs, gold, lrows, erows, shift, low, n_sub, start, stop,
                     post, counts, tot, accumulate):
    """EBCC E-step for items ``start..stop-1``; returns their ELBO term.

    ``lrows`` is ``(R + 1) x C``: rows ``0..R-1`` the expected logs ``logv[w * K +
    y, c]`` of the module docstring, row ``R`` the log prior ``log_prior[c]``;
    ``erows``, ``shift`` and ``low`` are its scaled exponentials
    (:func:`scale_rows_slice`).  For an item with annotations (or gold), ``q(k, m)``
    is the softmax of ``lp[c] = log_prior[c] + sum_j logv[pairs[j], c]`` over every
    joint code ``c = k * M + m`` (gold items: over the subtypes of the gold class
    only, other classes 0); its term is ``log sum_c exp(lp[c])`` over the same codes.

    The softmax is taken without an ``exp`` per code: ``exp(lp[c] - sh) =
    erows[R, c] * prod_j erows[pairs[j], c]`` with ``sh = shift[R] + sum_j
    shift[pairs[j]]``, the term being ``sh + log(s)``, ``s`` the sum of the
    products.  Each factor is at least ``exp(low[row])``, so where ``sum low >=
    -PRODUCT_FLOOR`` no product can underflow; other items (hundreds of answers)
    take the log-space path (sums of ``lrows``, max-shifted exponentials).  Codes
    whose share is below ``exp(-NEGLIGIBLE)`` (``2**-52``: below double precision;
    of the total on the product path, where the posterior and the term keep them,
    of the largest code on the log path, where nothing does) get ``q = 0`` in the
    statistics, so that when most subtypes are unused only a few codes per item
    are counted.  The logs of the items' ``s`` are taken of their running product.
    With ``accumulate``, ``q`` is added to ``tot`` and to ``counts[pairs[j]]`` of
    each of the item's annotations.  Items with neither annotations nor gold get the
    class marginal of ``softmax(log_prior)`` and add nothing.
    """
    n_codes = lrows.shape[1]
    n_labels = post.shape[1]
    pr = lrows.shape[0] - 1  # the prior's row
    q = np.empty(n_codes)
    ks = np.empty(n_labels)
    act = np.empty(n_codes, dtype=np.int64)
    ll = 0.0
    prod = 1.0  # product of the items' totals s, logged when it leaves [1e-150, 1e150]
    for i in range(start, stop):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        g = gold[i]
        c0 = 0
        c1 = n_codes
        if g >= 0:
            c0 = g * n_sub
            c1 = c0 + n_sub
        floor = low[pr]
        for j in range(lo, hi):
            floor += low[pairs[j]]
        if floor >= -PRODUCT_FLOOR:  # products of scaled exponentials: no exp, no underflow
            sh = shift[pr]
            er = erows[pr]
            for c in range(n_codes):
                q[c] = er[c]
            j = lo
            while j + 4 <= hi:  # four rows per sweep over q: a quarter of its loads and stores, same products
                e0 = erows[pairs[j]]
                e1 = erows[pairs[j + 1]]
                e2 = erows[pairs[j + 2]]
                e3 = erows[pairs[j + 3]]
                for c in range(n_codes):  # vectorised
                    q[c] = q[c] * e0[c] * e1[c] * e2[c] * e3[c]
                j += 4
            while j < hi:
                er = erows[pairs[j]]
                for c in range(n_codes):
                    q[c] *= er[c]
                j += 1
            for j in range(lo, hi):
                sh += shift[pairs[j]]
            if g >= 0:
                for c in range(n_codes):
                    q[c] = q[c] if (c >= c0) & (c < c1) else 0.0
            s = 0.0
            for k in range(n_labels):  # K independent sums: overlapped, where one sum of K * M is a chain
                acc = 0.0
                for c in range(k * n_sub, (k + 1) * n_sub):
                    acc += q[c]
                ks[k] = acc
                s += acc
            thr = s * EXP_NEGLIGIBLE  # the statistics' cut-off (the posterior and the term keep every code)
            term = sh
        else:  # log space: sums of expected logs, max-shifted exponentials
            for c in range(n_codes):
                q[c] = lrows[pr, c]
            for j in range(lo, hi):
                row = lrows[pairs[j]]
                for c in range(n_codes):
                    q[c] += row[c]
            m = q[c0]
            for c in range(c0 + 1, c1):
                m = q[c] if q[c] > m else m
            for c in range(n_codes):  # vectorised: a select, no branch
                d = q[c] - m
                ok = (c >= c0) & (c < c1) & (d > -NEGLIGIBLE)
                q[c] = exp_neg(d if ok else 0.0) if ok else 0.0
            s = 0.0
            for k in range(n_labels):
                acc = 0.0
                for c in range(k * n_sub, (k + 1) * n_sub):
                    acc += q[c]
                ks[k] = acc
                s += acc
            thr = 0.0  # negligible codes are 0 already
            term = m
        for k in range(n_labels):
            post[i, k] = ks[k] / s
        if hi == lo and g < 0:
            continue
        ll += term
        prod *= s
        if (prod < 1e-150) | (prod > 1e150):
            ll += np.log(prod)
            prod = 1.0
        if accumulate:
            inv = 1.0 / s
            n_act = 0
            for c in range(n_codes):  # vectorised: a select, no branch
                v = q[c] * inv if q[c] > thr else 0.0
                q[c] = v
                n_act += v > 0.0
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
    return ll + np.log(prod)


@njit(cache=True, nogil=True, parallel=True)
def ebcc_estep_parallel(item_ptr, pairs, gold, lrows, erows, shift, low, n_sub, bounds,
                        post, counts_buf, tot_buf, ll_buf, accumulate):
    """:func:`ebcc_estep_slice` over item chunks ``bounds[c]..bounds[c+1]``; chunk ``c``
    zeroes and fills ``counts_buf[c]``, ``tot_buf[c]`` and ``ll_buf[c]``."""
    for c in prange(bounds.shape[0] - 1):
        if accumulate:
            counts_buf[c, :, :] = 0.0
            tot_buf[c, :] = 0.0
        ll_buf[c] = ebcc_estep_slice(item_ptr, pairs, gold, lrows, erows, shift, low, n_sub, bounds[c],
                                     bounds[c + 1], post, counts_buf[c], tot_buf[c], accumulate)


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
    Draw ``n`` (``n = k * M + m``) of item ``i`` is the ``(n + 1)``-th output of the
    stream, ``mix64(keys[i] + (n + 1) * 0x9E3779B97F4A7C15)`` (splitmix64's state is an
    arithmetic sequence), so the item's ``K * M`` draws are independent lanes of one
    vectorised loop.
    """
    n_labels = post.shape[1]
    n_codes = n_labels * n_sub
    q = np.empty(n_codes)
    golden = np.uint64(0x9E3779B97F4A7C15)
    for i in range(start, stop):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        if hi == lo and gold[i] < 0:
            continue
        key = keys[i]
        for c in range(n_codes):  # vectorised: the stream's outputs, uniform on (0, 1)
            bits = mix64(key + np.uint64(c + 1) * golden)
            q[c] = np.float64((bits >> np.uint64(11)) + np.uint64(1)) * (1.0 / 9007199254740993.0)
        for c in range(n_codes):
            q[c] = -np.log(q[c])  # Exp(1): normalised, a Dir(1, ..., 1) draw
        for k in range(n_labels):
            s = 0.0
            for c in range(k * n_sub, (k + 1) * n_sub):
                s += q[c]
            pk = post[i, k] / s
            for c in range(k * n_sub, (k + 1) * n_sub):
                q[c] = pk * q[c]
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
