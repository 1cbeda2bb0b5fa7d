"""Gold-scoring kernels: per-worker counts of answers on gold items.

The kernels walk the annotations in item (CSR) order, which reads memory
sequentially and skips items without gold at once; each annotation of a gold
item adds one to a small per-worker counter array.  Work is O(items + gold
annotations); gold is one label code per item, ``-1`` for none.

The slice kernels *accumulate* into their output arrays, so item slices can be
processed independently (Dask tasks, threads) into private arrays that are then
summed.  The parallel twins are a ``prange`` over item chunks, each chunk
writing its own buffer, followed by that sum; chunks are balanced by gold
annotations, not by all annotations.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._util import chunk_bounds

__all__ = ["gold_counts", "gold_confusions", "gold_item_ptr"]

# Below this many gold annotations one serial pass beats starting the threads.
_PARALLEL_MIN_GOLD_ANNOTATIONS = 1 << 22
# Largest total size of the per-chunk buffers of the parallel twins.
_MAX_BUFFER_BYTES = 256 << 20


@njit(cache=True, nogil=True)
def gold_counts_slice(item_ptr, worker_codes, label_codes, gold, start, stop, total, correct):
    """Add the gold counts of items ``start..stop-1`` (serial; safe inside Dask tasks).

    For every annotation ``j`` of an item ``i`` with gold class ``g = gold[i] >= 0``,
    adds one to ``total[worker_codes[j], g]`` and, when ``label_codes[j] == g``, one
    to ``correct[worker_codes[j], g]`` (int64, workers x labels).  The arrays are
    *not* zeroed first.
    """
    for i in range(start, stop):
        g = gold[i]
        if g < 0:
            continue
        for j in range(item_ptr[i], item_ptr[i + 1]):
            w = worker_codes[j]
            total[w, g] += 1
            if label_codes[j] == g:
                correct[w, g] += 1


@njit(cache=True, nogil=True, parallel=True)
def gold_counts_parallel(item_ptr, worker_codes, label_codes, gold, bounds, total_buf, correct_buf):
    """Run :func:`gold_counts_slice` on item chunks ``bounds[c]..bounds[c+1]`` in parallel.

    Chunk ``c`` writes ``total_buf[c]`` and ``correct_buf[c]`` (zeroed here); sum them
    over the first axis for the totals.
    """
    for c in prange(bounds.shape[0] - 1):
        total_buf[c, :, :] = 0
        correct_buf[c, :, :] = 0
        gold_counts_slice(item_ptr, worker_codes, label_codes, gold, bounds[c], bounds[c + 1],
                          total_buf[c], correct_buf[c])


@njit(cache=True, nogil=True)
def gold_confusion_slice(item_ptr, worker_codes, label_codes, gold, start, stop, conf):
    """Add ``conf[w, true, observed]`` counts of items ``start..stop-1`` (serial, accumulates)."""
    for i in range(start, stop):
        g = gold[i]
        if g < 0:
            continue
        for j in range(item_ptr[i], item_ptr[i + 1]):
            conf[worker_codes[j], g, label_codes[j]] += 1


@njit(cache=True, nogil=True, parallel=True)
def gold_confusion_parallel(item_ptr, worker_codes, label_codes, gold, bounds, conf_buf):
    """Run :func:`gold_confusion_slice` on item chunks in parallel, chunk ``c`` into ``conf_buf[c]``."""
    for c in prange(bounds.shape[0] - 1):
        conf_buf[c, :, :, :] = 0
        gold_confusion_slice(item_ptr, worker_codes, label_codes, gold, bounds[c], bounds[c + 1], conf_buf[c])


def gold_item_ptr(item_ptr: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """CSR-like offsets counting only annotations of gold items (for balanced chunks)."""
    counts = np.where(gold >= 0, np.diff(item_ptr), 0)
    ptr = np.zeros(item_ptr.shape[0], dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    return ptr


def _parallel_bounds(item_ptr, gold, cell_bytes: int, parallel: bool | None) -> np.ndarray | None:
    """Item chunk bounds for the parallel twin, or ``None`` to run serially."""
    if parallel is False:
        return None
    import numba

    gptr = gold_item_ptr(item_ptr, gold)
    if parallel is None and gptr[-1] < _PARALLEL_MIN_GOLD_ANNOTATIONS:
        return None
    n_threads = numba.get_num_threads()
    n_chunks = max(1, min(n_threads, _MAX_BUFFER_BYTES // max(cell_bytes, 1)))
    if n_chunks < 2 and parallel is None:
        return None
    n_rows = item_ptr.shape[0] - 1
    if parallel is None:
        return chunk_bounds(gptr, n_chunks)
    # forced: split by gold annotations even for small inputs
    targets = np.linspace(0, gptr[-1], n_chunks + 1)
    b = np.searchsorted(gptr, targets, side="left").astype(np.int64)
    b[0], b[-1] = 0, n_rows
    return np.unique(b)


def gold_counts(item_ptr, worker_codes, label_codes, gold, n_workers, n_labels, parallel=None):
    """``(total, correct)``: workers x labels int64 counts of gold answers by true class.

    ``total[w, c]`` is the number of answers worker ``w`` gave on items whose gold
    class is ``c``; ``correct[w, c]`` how many of them were ``c``.
    ``parallel=None`` uses the parallel twin for large inputs (and when its
    per-chunk buffers stay small); ``True``/``False`` force the choice.
    """
    bounds = _parallel_bounds(item_ptr, gold, 2 * 8 * n_workers * n_labels, parallel)
    if bounds is None:
        total = np.zeros((n_workers, n_labels), dtype=np.int64)
        correct = np.zeros((n_workers, n_labels), dtype=np.int64)
        gold_counts_slice(item_ptr, worker_codes, label_codes, gold, 0, item_ptr.shape[0] - 1, total, correct)
        return total, correct
    n_chunks = bounds.shape[0] - 1
    total_buf = np.empty((n_chunks, n_workers, n_labels), dtype=np.int64)
    correct_buf = np.empty((n_chunks, n_workers, n_labels), dtype=np.int64)
    gold_counts_parallel(item_ptr, worker_codes, label_codes, gold, bounds, total_buf, correct_buf)
    return total_buf.sum(axis=0), correct_buf.sum(axis=0)


def gold_confusions(item_ptr, worker_codes, label_codes, gold, n_workers, n_labels, parallel=None):
    """Workers x true x observed int64 confusion counts against gold (see :func:`gold_counts`)."""
    bounds = _parallel_bounds(item_ptr, gold, 8 * n_workers * n_labels * n_labels, parallel)
    if bounds is None:
        conf = np.zeros((n_workers, n_labels, n_labels), dtype=np.int64)
        gold_confusion_slice(item_ptr, worker_codes, label_codes, gold, 0, item_ptr.shape[0] - 1, conf)
        return conf
    conf_buf = np.empty((bounds.shape[0] - 1, n_workers, n_labels, n_labels), dtype=np.int64)
    gold_confusion_parallel(item_ptr, worker_codes, label_codes, gold, bounds, conf_buf)
    return conf_buf.sum(axis=0)
