"""Agreement kernels: per-item label counts, Krippendorff's alpha, the kappa family, bootstrap.

Everything works on the sparse CSR-by-item table (``item_ptr``, per-annotation
label and worker codes); nothing builds a raters x items matrix.  The central
structure is a *padded item-label CSR*: for item ``i`` its distinct labels and
their counts lie at ``lab[item_ptr[i] : item_ptr[i] + n_distinct[i]]`` (the
per-item slot has room for every annotation, so no second pass is needed).

Metric codes used by the alpha kernels: 0 nominal, 1 ordinal, 2 interval, 3 ratio
(Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability").
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._util import chunk_bounds

NOMINAL, ORDINAL, INTERVAL, RATIO = 0, 1, 2, 3


# --------------------------------------------------------------------------- item-label counts
@njit(cache=True, nogil=True)
def item_label_counts_slice(item_ptr, labels, n_labels, start, stop, n_distinct, lab, cnt):
    """Distinct labels of items ``start..stop-1`` and their counts (serial).

    Writes ``n_distinct[i]`` and, at ``item_ptr[i] + t`` for ``t < n_distinct[i]``,
    the label code ``lab`` and its count ``cnt`` (labels in order of first
    appearance within the item).
    """
    slot = np.full(n_labels, -1, dtype=np.int64)
    for i in range(start, stop):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        d = 0
        for j in range(lo, hi):
            k = labels[j]
            s = slot[k]
            if s < 0:
                slot[k] = d
                lab[lo + d] = k
                cnt[lo + d] = 1.0
                d += 1
            else:
                cnt[lo + s] += 1.0
        n_distinct[i] = d
        for t in range(d):
            slot[lab[lo + t]] = -1


@njit(cache=True, nogil=True, parallel=True)
def item_label_counts_parallel(item_ptr, labels, n_labels, bounds, n_distinct, lab, cnt):
    """:func:`item_label_counts_slice` over item chunks in parallel."""
    for c in prange(bounds.shape[0] - 1):
        item_label_counts_slice(item_ptr, labels, n_labels, bounds[c], bounds[c + 1], n_distinct, lab, cnt)


def item_label_counts(item_ptr, labels, n_labels, parallel=True):
    """Padded item-label CSR ``(n_distinct, lab, cnt)``; see :func:`item_label_counts_slice`."""
    n_items = item_ptr.shape[0] - 1
    n = labels.shape[0]
    n_distinct = np.zeros(n_items, dtype=np.int64)
    lab = np.zeros(n, dtype=np.int64)
    cnt = np.zeros(n, dtype=np.float64)
    if parallel:
        item_label_counts_parallel(item_ptr, labels, n_labels, chunk_bounds(item_ptr), n_distinct, lab, cnt)
    else:
        item_label_counts_slice(item_ptr, labels, n_labels, 0, n_items, n_distinct, lab, cnt)
    return n_distinct, lab, cnt


# --------------------------------------------------------------------------- bootstrap generator
_M1 = 4294967087
_M2 = 4294944443


@njit(cache=True, nogil=True)
def mrg_next(st):
    """Next output in ``[0, 2**32 - 209)`` of L'Ecuyer's (1999) MRG32k3a; state ``st`` (6 int64).

    Every product stays below 2**53, so the same int64 arithmetic runs compiled
    and under ``NUMBA_DISABLE_JIT=1`` with identical results, and no global
    generator (NumPy's or Numba's) is touched.

    L'Ecuyer, P. (1999). Good parameters and implementations for combined
    multiple recursive random number generators. Operations Research 47(1), 159-164.
    """
    p1 = (1403580 * st[1] - 810728 * st[0]) % _M1
    st[0] = st[1]
    st[1] = st[2]
    st[2] = p1
    p2 = (527612 * st[5] - 1370589 * st[3]) % _M2
    st[3] = st[4]
    st[4] = st[5]
    st[5] = p2
    return (p1 - p2) % _M1


@njit(cache=True, nogil=True)
def mrg_randint(st, n):
    """An index in ``[0, n)`` (``n < 2**31``; bias below ``n / 2**32``)."""
    return (mrg_next(st) * n) // _M1


@njit(cache=True, nogil=True)
def _load_state(seeds, b, st):
    for k in range(6):
        st[k] = seeds[b, k]


def boot_seeds(rng, n_boot):
    """Per-replicate MRG32k3a states (``n_boot x 6`` int64) drawn from a NumPy Generator."""
    out = np.empty((n_boot, 6), dtype=np.int64)
    out[:, :3] = rng.integers(1, _M1, size=(n_boot, 3))
    out[:, 3:] = rng.integers(1, _M2, size=(n_boot, 3))
    return out


# --------------------------------------------------------------------------- Krippendorff's alpha
@njit(cache=True, nogil=True)
def delta(metric, c, k, values, cum, marg):
    """Squared difference function delta^2_ck of Krippendorff (2011) between label codes.

    ``values`` are the numeric label values (interval, ratio); ``cum`` the prefix
    sums of the pairable marginals ``marg`` (ordinal: ranks follow code order).
    """
    if c == k:
        return 0.0
    if metric == 0:
        return 1.0
    if metric == 1:
        lo = c if c < k else k
        hi = k if c < k else c
        s = cum[hi + 1] - cum[lo] - 0.5 * (marg[c] + marg[k])
        return s * s
    if metric == 2:
        d = values[c] - values[k]
        return d * d
    s = values[c] + values[k]
    if s == 0.0:
        return 0.0
    d = (values[c] - values[k]) / s
    return d * d


@njit(cache=True, nogil=True)
def alpha_item_slice(item_ptr, n_distinct, lab, cnt, metric, values, cum, marg, start, stop, r_out, do_out):
    """Per-item pairable count ``r_out`` and observed disagreement ``do_out`` (serial).

    ``do_out[i] = sum_{c != k} n_ic n_ik delta_ck / (r_i - 1)``: item ``i``'s row of
    the coincidence matrix weighted by the distance.  Items with fewer than two
    values are unpairable (``r_out = do_out = 0``).
    """
    for i in range(start, stop):
        lo = item_ptr[i]
        r = item_ptr[i + 1] - lo
        if r < 2:
            r_out[i] = 0.0
            do_out[i] = 0.0
            continue
        d = n_distinct[i]
        s = 0.0
        for a in range(d):
            for b in range(a + 1, d):
                s += cnt[lo + a] * cnt[lo + b] * delta(metric, lab[lo + a], lab[lo + b], values, cum, marg)
        r_out[i] = r
        do_out[i] = 2.0 * s / (r - 1)


@njit(cache=True, nogil=True, parallel=True)
def alpha_item_parallel(item_ptr, n_distinct, lab, cnt, metric, values, cum, marg, bounds, r_out, do_out):
    """:func:`alpha_item_slice` over item chunks in parallel."""
    for c in prange(bounds.shape[0] - 1):
        alpha_item_slice(item_ptr, n_distinct, lab, cnt, metric, values, cum, marg, bounds[c], bounds[c + 1],
                         r_out, do_out)


@njit(cache=True, nogil=True)
def expected_sum(metric, marg, values, cum):
    """``sum_{c,k} n_c n_k delta_ck`` over the pairable marginals (both orders counted).

    O(q) for nominal and interval, O(q^2) otherwise.
    """
    q = marg.shape[0]
    if metric == 0:
        n = 0.0
        s2 = 0.0
        for k in range(q):
            n += marg[k]
            s2 += marg[k] * marg[k]
        return n * n - s2
    if metric == 2:
        n = 0.0
        s1 = 0.0
        for k in range(q):
            n += marg[k]
            s1 += marg[k] * values[k]
        if n == 0.0:
            return 0.0
        mu = s1 / n
        ss = 0.0
        for k in range(q):
            dv = values[k] - mu
            ss += marg[k] * dv * dv
        return 2.0 * n * ss
    tot = 0.0
    for c in range(q):
        if marg[c] == 0.0:
            continue
        for k in range(c + 1, q):
            if marg[k] == 0.0:
                continue
            tot += marg[c] * marg[k] * delta(metric, c, k, values, cum, marg)
    return 2.0 * tot


@njit(cache=True, nogil=True)
def expected_row(metric, marg, values, cum, out):
    """``out[k] = sum_l delta_kl pi_l`` with ``pi = marg / sum(marg)`` (for the SE)."""
    q = marg.shape[0]
    n = 0.0
    for k in range(q):
        n += marg[k]
    if metric == 0:
        for k in range(q):
            out[k] = 1.0 - marg[k] / n
        return
    if metric == 2:
        mu = 0.0
        for k in range(q):
            mu += marg[k] * values[k]
        mu /= n
        var = 0.0
        for k in range(q):
            var += marg[k] * (values[k] - mu) ** 2
        var /= n
        for k in range(q):
            out[k] = (values[k] - mu) ** 2 + var
        return
    for k in range(q):
        s = 0.0
        for m in range(q):
            if marg[m] != 0.0:
                s += delta(metric, k, m, values, cum, marg) * marg[m]
        out[k] = s / n


@njit(cache=True, nogil=True)
def _cumsum_into(marg, cum):
    cum[0] = 0.0
    for k in range(marg.shape[0]):
        cum[k + 1] = cum[k] + marg[k]


@njit(cache=True, nogil=True)
def alpha_boot_slice(item_ptr, n_distinct, lab, cnt, pairable, r_item, do_item, metric, values,
                     seeds, b_start, b_stop, out):
    """Bootstrap replicates ``b_start..b_stop-1`` of alpha, resampling pairable items.

    Replicate ``b`` draws from its own MRG32k3a stream started at ``seeds[b]``
    (see :func:`boot_seeds`), so the result does not depend on how replicates
    are split between threads, nor on JIT, and no global generator is touched.  Each
    replicate costs O(annotations of the drawn items) (+ O(q^2) for ordinal/ratio).
    Undefined replicates (one value in use) get NaN and are dropped by the caller.
    """
    n = pairable.shape[0]
    q = values.shape[0]
    marg = np.zeros(q)
    cum = np.zeros(q + 1)
    draws = np.empty(n, dtype=np.int64)
    st = np.empty(6, dtype=np.int64)
    for b in range(b_start, b_stop):
        _load_state(seeds, b, st)
        for k in range(q):
            marg[k] = 0.0
        n_tot = 0.0
        do_tot = 0.0
        for t in range(n):
            i = pairable[mrg_randint(st, n)]
            draws[t] = i
            lo = item_ptr[i]
            for a in range(n_distinct[i]):
                marg[lab[lo + a]] += cnt[lo + a]
            n_tot += r_item[i]
            do_tot += do_item[i]
        if metric == 1:
            _cumsum_into(marg, cum)
            do_tot = 0.0
            for t in range(n):
                i = draws[t]
                lo = item_ptr[i]
                d = n_distinct[i]
                s = 0.0
                for a in range(d):
                    for c in range(a + 1, d):
                        s += cnt[lo + a] * cnt[lo + c] * delta(metric, lab[lo + a], lab[lo + c], values, cum, marg)
                do_tot += 2.0 * s / (r_item[i] - 1.0)
        de = expected_sum(metric, marg, values, cum)
        if de > 0.0:
            out[b] = 1.0 - (n_tot - 1.0) * do_tot / de
        else:
            out[b] = np.nan


@njit(cache=True, nogil=True, parallel=True)
def alpha_boot_parallel(item_ptr, n_distinct, lab, cnt, pairable, r_item, do_item, metric, values, seeds,
                        bounds, out):
    """:func:`alpha_boot_slice` over chunks of replicates in parallel."""
    for c in prange(bounds.shape[0] - 1):
        alpha_boot_slice(item_ptr, n_distinct, lab, cnt, pairable, r_item, do_item, metric, values, seeds,
                         bounds[c], bounds[c + 1], out)


# --------------------------------------------------------------------------- kappa family (irrCAC)
@njit(cache=True, nogil=True)
def weighted_pairs_slice(item_ptr, n_distinct, lab, cnt, weights, start, stop, out):
    """``out[i] = sum_{k,l} n_ik n_il w_kl - r_i`` (Gwet 2014's ``sum_q``), serial.

    The number of agreeing ordered pairs of ratings on item ``i``, weighted.
    """
    for i in range(start, stop):
        lo = item_ptr[i]
        r = item_ptr[i + 1] - lo
        d = n_distinct[i]
        s = 0.0
        for a in range(d):
            ka = lab[lo + a]
            ca = cnt[lo + a]
            s += ca * ca * weights[ka, ka]
            for b in range(a + 1, d):
                kb = lab[lo + b]
                s += ca * cnt[lo + b] * (weights[ka, kb] + weights[kb, ka])
        out[i] = s - r


@njit(cache=True, nogil=True, parallel=True)
def weighted_pairs_parallel(item_ptr, n_distinct, lab, cnt, weights, bounds, out):
    """:func:`weighted_pairs_slice` over item chunks in parallel."""
    for c in prange(bounds.shape[0] - 1):
        weighted_pairs_slice(item_ptr, n_distinct, lab, cnt, weights, bounds[c], bounds[c + 1], out)


@njit(cache=True, nogil=True)
def family_pe(kind, pi, weights, sum_w):
    """Chance agreement: 0 Fleiss ``pi' W pi``, 1 Gwet, 2 Brennan-Prediger, 3 none (percent)."""
    q = pi.shape[0]
    if kind == 0:
        s = 0.0
        for k in range(q):
            for m in range(q):
                s += weights[k, m] * pi[k] * pi[m]
        return s
    if kind == 1:
        s = 0.0
        for k in range(q):
            s += pi[k] * (1.0 - pi[k])
        return sum_w * s / (q * (q - 1.0))
    if kind == 2:
        return sum_w / (q * q)
    return 0.0


@njit(cache=True, nogil=True)
def family_boot_slice(item_ptr, n_distinct, lab, cnt, rated, r_item, sq_item, kind, weights, sum_w, seeds,
                      b_start, b_stop, out):
    """Bootstrap replicates of Fleiss/Gwet/Brennan-Prediger/percent agreement (irrCAC forms).

    Resamples the items with at least one rating (``rated``); per replicate
    ``pa`` is the mean of ``sq/(r(r-1))`` over drawn items with two ratings or
    more, ``pi_k`` the mean of ``n_ik / r_i`` over all drawn items.
    """
    n = rated.shape[0]
    q = weights.shape[0]
    pi = np.zeros(q)
    st = np.empty(6, dtype=np.int64)
    for b in range(b_start, b_stop):
        _load_state(seeds, b, st)
        for k in range(q):
            pi[k] = 0.0
        pa = 0.0
        n2 = 0
        for _t in range(n):
            i = rated[mrg_randint(st, n)]
            lo = item_ptr[i]
            r = r_item[i]
            for a in range(n_distinct[i]):
                pi[lab[lo + a]] += cnt[lo + a] / r
            if r >= 2:
                pa += sq_item[i] / (r * (r - 1.0))
                n2 += 1
        if n2 == 0:
            out[b] = np.nan
            continue
        pa /= n2
        for k in range(q):
            pi[k] /= n
        pe = family_pe(kind, pi, weights, sum_w)
        if pe >= 1.0:
            out[b] = np.nan
        else:
            out[b] = (pa - pe) / (1.0 - pe)


@njit(cache=True, nogil=True, parallel=True)
def family_boot_parallel(item_ptr, n_distinct, lab, cnt, rated, r_item, sq_item, kind, weights, sum_w, seeds,
                         bounds, out):
    """:func:`family_boot_slice` over chunks of replicates in parallel."""
    for c in prange(bounds.shape[0] - 1):
        family_boot_slice(item_ptr, n_distinct, lab, cnt, rated, r_item, sq_item, kind, weights, sum_w, seeds,
                          bounds[c], bounds[c + 1], out)


# --------------------------------------------------------------------------- Cohen's kappa
@njit(cache=True, nogil=True)
def _merge_pairs(item_codes, labels, idx_a, idx_b, la, lb, fill):
    """Walk two item-sorted annotation lists in step; return ``(n_obs, n_shared)``.

    With ``fill``, also writes every label combination of each shared item into
    ``la``/``lb`` (which must hold ``n_obs`` entries: run once without first).
    """
    na = idx_a.shape[0]
    nb = idx_b.shape[0]
    i = 0
    j = 0
    n_obs = 0
    n_shared = 0
    while i < na and j < nb:
        ia = item_codes[idx_a[i]]
        ib = item_codes[idx_b[j]]
        if ia < ib:
            i += 1
        elif ib < ia:
            j += 1
        else:
            i2 = i
            while i2 < na and item_codes[idx_a[i2]] == ia:
                i2 += 1
            j2 = j
            while j2 < nb and item_codes[idx_b[j2]] == ia:
                j2 += 1
            if fill:
                for x in range(i, i2):
                    for y in range(j, j2):
                        la[n_obs] = labels[idx_a[x]]
                        lb[n_obs] = labels[idx_b[y]]
                        n_obs += 1
            else:
                n_obs += (i2 - i) * (j2 - j)
            n_shared += 1
            i = i2
            j = j2
    return n_obs, n_shared


@njit(cache=True, nogil=True)
def pair_observations(item_codes, labels, idx_a, idx_b):
    """Label pairs of two workers on their shared items, by merging item-sorted lists.

    ``idx_a``/``idx_b`` are the annotation positions of each worker (increasing,
    hence sorted by item).  An item one worker labelled twice (``duplicates=
    "keep"``) gives every combination.  Returns ``(la, lb, n_items_shared)``.
    """
    empty = np.empty(0, dtype=np.int64)
    n_obs, _ = _merge_pairs(item_codes, labels, idx_a, idx_b, empty, empty, False)
    la = np.empty(n_obs, dtype=np.int64)
    lb = np.empty(n_obs, dtype=np.int64)
    _, n_shared = _merge_pairs(item_codes, labels, idx_a, idx_b, la, lb, True)
    return la, lb, n_shared


@njit(cache=True, nogil=True)
def cohen_from_pairs(la, lb, weights):
    """Weighted kappa ``(po - pe) / (1 - pe)`` of label pairs under agreement ``weights``.

    Returns ``(kappa, po, pe)``; kappa is NaN when ``pe == 1``.
    """
    q = weights.shape[0]
    n = la.shape[0]
    a = np.zeros(q)
    b = np.zeros(q)
    po = 0.0
    for t in range(n):
        po += weights[la[t], lb[t]]
        a[la[t]] += 1.0
        b[lb[t]] += 1.0
    po /= n
    pe = 0.0
    for k in range(q):
        if a[k] == 0.0:
            continue
        for m in range(q):
            pe += weights[k, m] * a[k] * b[m]
    pe /= n * n
    if pe >= 1.0:
        return np.nan, po, pe
    return (po - pe) / (1.0 - pe), po, pe


@njit(cache=True, nogil=True)
def cohen_boot_slice(la, lb, weights, seeds, b_start, b_stop, out):
    """Bootstrap replicates of Cohen's kappa resampling the shared items (observations)."""
    n = la.shape[0]
    ra = np.empty(n, dtype=np.int64)
    rb = np.empty(n, dtype=np.int64)
    st = np.empty(6, dtype=np.int64)
    for b in range(b_start, b_stop):
        _load_state(seeds, b, st)
        for t in range(n):
            s = mrg_randint(st, n)
            ra[t] = la[s]
            rb[t] = lb[s]
        out[b] = cohen_from_pairs(ra, rb, weights)[0]


@njit(cache=True, nogil=True, parallel=True)
def cohen_boot_parallel(la, lb, weights, seeds, bounds, out):
    """:func:`cohen_boot_slice` over chunks of replicates in parallel."""
    for c in prange(bounds.shape[0] - 1):
        cohen_boot_slice(la, lb, weights, seeds, bounds[c], bounds[c + 1], out)


@njit(cache=True, nogil=True)
def pair_keys(item_ptr, workers, labels, n_workers):
    """All pairs of annotations by different workers on one item, as ``(key, la, lb)``.

    ``key = wa * n_workers + wb`` with ``wa < wb``; ``la`` is ``wa``'s label.
    O(sum_i m_i^2) time and memory (pairs of annotations, never workers x workers).
    """
    n_items = item_ptr.shape[0] - 1
    total = 0
    for i in range(n_items):
        m = item_ptr[i + 1] - item_ptr[i]
        total += m * (m - 1) // 2
    key = np.empty(total, dtype=np.int64)
    la = np.empty(total, dtype=np.int64)
    lb = np.empty(total, dtype=np.int64)
    t = 0
    for i in range(n_items):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        for x in range(lo, hi):
            wx = workers[x]
            for y in range(x + 1, hi):
                wy = workers[y]
                if wx == wy:
                    continue
                if wx < wy:
                    key[t] = wx * n_workers + wy
                    la[t] = labels[x]
                    lb[t] = labels[y]
                else:
                    key[t] = wy * n_workers + wx
                    la[t] = labels[y]
                    lb[t] = labels[x]
                t += 1
    return key[:t], la[:t], lb[:t]


@njit(cache=True, nogil=True)
def pair_bounds_by_worker(worker_ptr, worker_index, item_codes, item_ptr):
    """``ub[w] = sum over w's annotations of (m_i - 1)``: at least the number of
    annotation pairs in which ``w`` is the first (lower-coded) worker; O(annotations)."""
    n_workers = worker_ptr.shape[0] - 1
    ub = np.zeros(n_workers, dtype=np.int64)
    for w in range(n_workers):
        s = 0
        for p in range(worker_ptr[w], worker_ptr[w + 1]):
            i = item_codes[worker_index[p]]
            s += item_ptr[i + 1] - item_ptr[i] - 1
        ub[w] = s
    return ub


@njit(cache=True, nogil=True)
def pair_keys_block(worker_ptr, worker_index, item_codes, item_ptr, workers, labels, n_workers,
                    w_start, w_stop, key, la, lb):
    """The pairs of :func:`pair_keys` whose first worker ``wa`` is in ``w_start..w_stop-1``.

    Walks each such worker's annotations (by worker, then item order) and pairs
    them with the annotations of the same item by workers ``wb > wa``; writes
    ``key = wa * n_workers + wb``, ``la`` (``wa``'s label) and ``lb`` and returns
    how many were written (at most ``sum(pair_bounds_by_worker(...)[w_start:w_stop])``).
    Blocks of workers taken in order give every pair once, so the caller can
    stream the pairs in bounded memory.
    """
    t = 0
    for wa in range(w_start, w_stop):
        for p in range(worker_ptr[wa], worker_ptr[wa + 1]):
            pos = worker_index[p]
            i = item_codes[pos]
            ya = labels[pos]
            for j in range(item_ptr[i], item_ptr[i + 1]):
                wb = workers[j]
                if wb > wa:
                    key[t] = wa * n_workers + wb
                    la[t] = ya
                    lb[t] = labels[j]
                    t += 1
    return t


@njit(cache=True, nogil=True)
def pairwise_groups(key_sorted, la, lb, weights, min_overlap, out_key, out_n, out_po, out_kappa):
    """Kappa per run of equal keys with at least ``min_overlap`` observations.

    Marginals live in scratch arrays reset through a touched list, so each group
    costs O(observations + distinct labels^2).  Returns the number of groups written.
    """
    q = weights.shape[0]
    a = np.zeros(q)
    b = np.zeros(q)
    ta = np.empty(q, dtype=np.int64)
    tb = np.empty(q, dtype=np.int64)
    n = key_sorted.shape[0]
    g = 0
    s = 0
    while s < n:
        e = s
        while e < n and key_sorted[e] == key_sorted[s]:
            e += 1
        m = e - s
        if m >= min_overlap:
            na = 0
            nb = 0
            po = 0.0
            for t in range(s, e):
                x = la[t]
                y = lb[t]
                po += weights[x, y]
                if a[x] == 0.0:
                    ta[na] = x
                    na += 1
                a[x] += 1.0
                if b[y] == 0.0:
                    tb[nb] = y
                    nb += 1
                b[y] += 1.0
            pe = 0.0
            for u in range(na):
                for v in range(nb):
                    pe += weights[ta[u], tb[v]] * a[ta[u]] * b[tb[v]]
            po /= m
            pe /= m * m
            out_key[g] = key_sorted[s]
            out_n[g] = m
            out_po[g] = po
            out_kappa[g] = (po - pe) / (1.0 - pe) if pe < 1.0 else np.nan
            g += 1
            for u in range(na):
                a[ta[u]] = 0.0
            for v in range(nb):
                b[tb[v]] = 0.0
        s = e
    return g


# --------------------------------------------------------------------------- per worker
@njit(cache=True, nogil=True)
def worker_rest_slice(worker_ptr, worker_index, item_codes, labels, item_ptr, n_distinct, lab, cnt, n_labels,
                      start, stop, out_n, out_po, out_pe):
    """Each worker against the rest, workers ``start..stop-1`` (serial).

    For every annotation of worker ``w`` on an item that other workers rated
    too, the ``o`` ratings of the item by *other* workers form pairs weighted
    ``1/o``: ``po`` is the share of agreeing pairs, ``pe = sum_k a_k b_k`` with
    ``a`` the worker's label shares and ``b`` the others' (Cohen's chance term for
    "worker vs rest").  ``out_n`` counts those annotations of the worker.

    A worker's own repeated ratings of an item (``duplicates="keep"``) are never
    compared with each other: the worker's annotations of an item are adjacent
    in ``worker_index`` (positions increase, so they are sorted by item), and
    their label counts are taken out of the item's counts.  Without repeats the
    run has length one and this costs nothing extra.
    """
    a = np.zeros(n_labels)
    b = np.zeros(n_labels)
    own = np.zeros(n_labels)
    seen = np.zeros(n_labels, dtype=np.bool_)
    touched = np.empty(n_labels, dtype=np.int64)
    for w in range(start, stop):
        nt = 0
        n_w = 0.0
        po = 0.0
        p = worker_ptr[w]
        p_end = worker_ptr[w + 1]
        while p < p_end:
            i = item_codes[worker_index[p]]
            q_end = p + 1
            while q_end < p_end and item_codes[worker_index[q_end]] == i:
                q_end += 1
            m = q_end - p  # the worker's ratings of item i
            lo = item_ptr[i]
            o = item_ptr[i + 1] - lo - m  # ratings of item i by other workers
            if o < 1:
                p = q_end
                continue
            inv = 1.0 / o
            for x in range(p, q_end):
                own[labels[worker_index[x]]] += 1.0
            for x in range(p, q_end):
                k = labels[worker_index[x]]
                n_w += 1.0
                if not seen[k]:
                    seen[k] = True
                    touched[nt] = k
                    nt += 1
                a[k] += 1.0
                for t in range(n_distinct[i]):
                    c = lab[lo + t]
                    v = cnt[lo + t] - own[c]
                    if v <= 0.0:
                        continue
                    if not seen[c]:
                        seen[c] = True
                        touched[nt] = c
                        nt += 1
                    if c == k:
                        po += v * inv
                    b[c] += v * inv
            for x in range(p, q_end):
                own[labels[worker_index[x]]] = 0.0
            p = q_end
        pe = 0.0
        for t in range(nt):
            c = touched[t]
            pe += a[c] * b[c]
            a[c] = 0.0
            b[c] = 0.0
            seen[c] = False
        out_n[w] = n_w
        if n_w > 0:
            out_po[w] = po / n_w
            out_pe[w] = pe / (n_w * n_w)
        else:
            out_po[w] = 0.0
            out_pe[w] = 0.0


@njit(cache=True, nogil=True, parallel=True)
def worker_rest_parallel(worker_ptr, worker_index, item_codes, labels, item_ptr, n_distinct, lab, cnt, n_labels,
                         bounds, out_n, out_po, out_pe):
    """:func:`worker_rest_slice` over worker chunks in parallel."""
    for c in prange(bounds.shape[0] - 1):
        worker_rest_slice(worker_ptr, worker_index, item_codes, labels, item_ptr, n_distinct, lab, cnt, n_labels,
                          bounds[c], bounds[c + 1], out_n, out_po, out_pe)


def replicate_bounds(n_boot: int) -> np.ndarray:
    """Chunks of bootstrap replicates for the parallel kernels."""
    import numba

    n_chunks = max(1, min(n_boot, 4 * numba.get_num_threads()))
    return np.unique(np.linspace(0, n_boot, n_chunks + 1).astype(np.int64))


# --------------------------------------------------------------------------- alpha with a distance matrix
@njit(cache=True, nogil=True)
def alpha_matrix_slice(item_ptr, labels, delta, start, stop, marg):
    """Krippendorff's observed-disagreement sum with an arbitrary distance matrix
    ``delta`` (labels x labels, zero diagonal), for items ``start..stop-1``.

    Returns ``sum_u 1/(m_u - 1) sum_{a != b in u} delta[c_a, c_b]`` over pairable items
    (``m_u >= 2`` values) and adds each pairable value to ``marg`` (the marginals
    ``n_c`` of the coincidence matrix).  Each ordered pair of two different
    annotations of an item counts once (Krippendorff 2011, the coincidences).
    """
    total = 0.0
    for i in range(start, stop):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        m = hi - lo
        if m < 2:
            continue
        s = 0.0
        for a in range(lo, hi):
            ca = labels[a]
            marg[ca] += 1.0
            for b in range(lo, hi):
                if b != a:
                    s += delta[ca, labels[b]]
        total += s / (m - 1)
    return total


@njit(cache=True, nogil=True)
def icc_sums(item_ptr, workers, values, keep, center, n_workers, row_sum, col_sum):
    """Sums of the intraclass-correlation ANOVA over the kept items (``keep[i]``):
    ``row_sum[i]`` and ``col_sum[w]`` of ``values - center``; returns the total sum
    of squares of ``values - center`` and the number of kept annotations."""
    ss = 0.0
    n = 0
    for i in range(item_ptr.shape[0] - 1):
        if not keep[i]:
            continue
        for j in range(item_ptr[i], item_ptr[i + 1]):
            d = values[j] - center
            row_sum[i] += d
            col_sum[workers[j]] += d
            ss += d * d
            n += 1
    return ss, n
