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
