"""Kernels that build and check CSR layouts of annotation arrays."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def counting_sort(keys, n_keys, order):
    """Stable O(n) sort of ``keys`` (values in ``[0, n_keys)``), in place in ``order``.

    ``order`` is a preallocated integer array of ``len(keys)``.  On return
    ``keys[order]`` is sorted, rows with equal keys keep their input order, and the
    rows with key ``k`` are ``order[ptr[k]:ptr[k+1]]``.  Returns ``ptr`` (int64,
    ``n_keys + 1``).
    """
    n = keys.shape[0]
    ptr = np.zeros(n_keys + 1, dtype=np.int64)
    for i in range(n):
        ptr[keys[i] + 1] += 1
    for k in range(n_keys):
        ptr[k + 1] += ptr[k]
    fill = ptr[:-1].copy()
    for i in range(n):
        k = keys[i]
        order[fill[k]] = i
        fill[k] += 1
    return ptr


@njit(cache=True, nogil=True)
def mark_duplicates(item_ptr, workers, n_workers, keep_last):
    """Flag repeated (item, worker) pairs in item-CSR order.

    ``workers`` holds the worker code of each annotation, grouped by item through
    ``item_ptr`` with rows of one item in input order.  Returns a boolean array,
    True for the rows to drop: every occurrence but the first of a pair (or but the
    last, with ``keep_last``).  Runs in O(annotations) with one int64 array of
    ``n_workers`` as scratch.
    """
    n_items = item_ptr.shape[0] - 1
    drop = np.zeros(workers.shape[0], dtype=np.bool_)
    seen = np.full(n_workers, -1, dtype=np.int64)
    for it in range(n_items):
        lo = item_ptr[it]
        hi = item_ptr[it + 1]
        if keep_last:
            for j in range(hi - 1, lo - 1, -1):
                w = workers[j]
                if seen[w] == it:
                    drop[j] = True
                else:
                    seen[w] = it
        else:
            for j in range(lo, hi):
                w = workers[j]
                if seen[w] == it:
                    drop[j] = True
                else:
                    seen[w] = it
    return drop


@njit(cache=True, nogil=True)
def remap_codes(codes, mapping, out):
    """``out[i] = mapping[codes[i]]`` for codes >= 0, and -1 for negative codes."""
    for i in range(codes.shape[0]):
        c = codes[i]
        out[i] = mapping[c] if c >= 0 else -1
    return out


@njit(cache=True, nogil=True)
def factorize_dense_int(values, vmin, span, codes):
    """Codes in order of first appearance for integers in ``[vmin, vmin + span)``.

    Uses a dense lookup array of ``span`` entries instead of a hash table and
    writes the codes into ``codes`` (preallocated, any integer dtype).  Returns
    ``first``: ``first[k]`` is the row where code ``k`` first appears, so the
    uniques are ``values[first]``.
    """
    n = values.shape[0]
    lookup = np.full(span, -1, dtype=np.int64)
    first = np.empty(min(n, span), dtype=np.int64)
    n_codes = 0
    for i in range(n):
        slot = values[i] - vmin
        c = lookup[slot]
        if c < 0:
            c = n_codes
            lookup[slot] = c
            first[c] = i
            n_codes += 1
        codes[i] = c
    return first[:n_codes]


@njit(cache=True, nogil=True)
def build_item_csr(item_codes, worker_codes, raw_label_codes, label_map, n_items, workers_out, labels_out, order_out):
    """Group annotations by item in one stable counting-sort pass.

    Rows whose label maps to ``-1`` (null labels: ``raw_label_codes < 0``) are
    skipped.  Fills ``workers_out``/``labels_out`` (worker code and mapped label
    code in item order) and ``order_out`` (input row of each kept annotation; pass
    an empty array to skip it) up to the number kept, and returns
    ``(item_ptr, n_kept)``.
    """
    with_order = order_out.shape[0] > 0
    n = item_codes.shape[0]
    ptr = np.zeros(n_items + 1, dtype=np.int64)
    for i in range(n):
        r = raw_label_codes[i]
        if r >= 0 and label_map[r] >= 0:
            ptr[item_codes[i] + 1] += 1
    for k in range(n_items):
        ptr[k + 1] += ptr[k]
    fill = ptr[:-1].copy()
    for i in range(n):
        r = raw_label_codes[i]
        if r < 0:
            continue
        lab = label_map[r]
        if lab < 0:
            continue
        k = item_codes[i]
        pos = fill[k]
        workers_out[pos] = worker_codes[i]
        labels_out[pos] = lab
        if with_order:
            order_out[pos] = i
        fill[k] = pos + 1
    return ptr, ptr[n_items]
