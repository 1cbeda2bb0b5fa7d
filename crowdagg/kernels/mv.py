"""Majority-vote kernels: (weighted) vote shares per item and tie-breaking."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._util import chunk_bounds


@njit(cache=True, nogil=True)
def mv_slice(item_ptr, labels, workers, weights, n_labels, tie_u, start, stop, post, out):
    """Majority vote for items ``start..stop-1`` (serial; safe inside Dask tasks).

    Writes vote shares into ``post[i]`` and the winning label code into ``out[i]``.
    ``weights`` holds one weight per worker (all ones for plain majority vote).
    Ties go to the lowest label code when ``tie_u[i] < 0``; otherwise to tied label
    number ``floor(tie_u[i] * n_tied)`` in label order.  Items with no annotation
    (or zero total weight) get uniform shares; their label is ``-1`` with no
    annotation, else chosen among all labels by the tie rule.
    """
    for i in range(start, stop):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        for k in range(n_labels):
            post[i, k] = 0.0
        total = 0.0
        for j in range(lo, hi):
            w = weights[workers[j]]
            post[i, labels[j]] += w
            total += w
        if total > 0.0:
            for k in range(n_labels):
                post[i, k] /= total
        else:
            for k in range(n_labels):
                post[i, k] = 1.0 / n_labels
        if hi == lo:
            out[i] = -1
            continue
        best = post[i, 0]
        for k in range(1, n_labels):
            if post[i, k] > best:
                best = post[i, k]
        n_tied = 0
        first = -1
        for k in range(n_labels):
            if post[i, k] == best:
                n_tied += 1
                if first < 0:
                    first = k
        u = tie_u[i]
        if n_tied == 1 or u < 0.0:
            out[i] = first
        else:
            pick = int(u * n_tied)
            if pick >= n_tied:
                pick = n_tied - 1
            for k in range(n_labels):
                if post[i, k] == best:
                    if pick == 0:
                        out[i] = k
                        break
                    pick -= 1


@njit(cache=True, nogil=True, parallel=True)
def mv_parallel(item_ptr, labels, workers, weights, n_labels, tie_u, bounds, post, out):
    """Run :func:`mv_slice` over item chunks ``bounds[c]..bounds[c+1]`` in parallel."""
    for c in prange(bounds.shape[0] - 1):
        mv_slice(item_ptr, labels, workers, weights, n_labels, tie_u, bounds[c], bounds[c + 1], post, out)


def majority_vote(item_ptr, labels, workers, weights, n_labels, tie_u, parallel=True):
    """Vote shares (items x labels) and winning codes; see :func:`mv_slice`."""
    n_items = item_ptr.shape[0] - 1
    post = np.empty((n_items, n_labels), dtype=np.float64)
    out = np.empty(n_items, dtype=np.int64)
    bounds = chunk_bounds(item_ptr) if parallel else None
    if bounds is not None and bounds.shape[0] > 2:
        mv_parallel(item_ptr, labels, workers, weights, n_labels, tie_u, bounds, post, out)
    else:  # one chunk (small inputs): the serial kernel, and no parallel one to compile
        mv_slice(item_ptr, labels, workers, weights, n_labels, tie_u, 0, n_items, post, out)
    return post, out
