"""Gold-scoring kernels: per-worker counts of answers on gold items.

Both kernel families walk the annotations grouped by worker
(``worker_index[worker_ptr[w]:worker_ptr[w+1]]``), so each worker's output row is
written by exactly one thread: the parallel twins are a ``prange`` over worker
chunks calling the serial slice kernel, without atomics or private buffers.
Work is O(annotations); gold is one label code per item, ``-1`` for none.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._util import chunk_bounds

__all__ = ["gold_counts", "gold_confusions"]

# Below this many annotations a single serial pass beats starting the threads.
_PARALLEL_MIN_ANNOTATIONS = 1 << 18


@njit(cache=True, nogil=True)
def gold_counts_slice(worker_ptr, worker_index, item_codes, label_codes, gold, start, stop, total, correct):
    """Per-class gold counts for workers ``start..stop-1`` (serial; safe inside Dask tasks).

    For every annotation ``j`` of worker ``w`` on an item with gold class
    ``g = gold[item_codes[j]] >= 0``, adds one to ``total[w, g]`` and, when
    ``label_codes[j] == g``, one to ``correct[w, g]``.  Rows ``start..stop-1`` of
    ``total`` and ``correct`` (int64, workers x labels) are overwritten.
    """
    n_labels = total.shape[1]
    for w in range(start, stop):
        for k in range(n_labels):
            total[w, k] = 0
            correct[w, k] = 0
        for p in range(worker_ptr[w], worker_ptr[w + 1]):
            j = worker_index[p]
            g = gold[item_codes[j]]
            if g >= 0:
                total[w, g] += 1
                if label_codes[j] == g:
                    correct[w, g] += 1


@njit(cache=True, nogil=True, parallel=True)
def gold_counts_parallel(worker_ptr, worker_index, item_codes, label_codes, gold, bounds, total, correct):
    """Run :func:`gold_counts_slice` over worker chunks ``bounds[c]..bounds[c+1]`` in parallel."""
    for c in prange(bounds.shape[0] - 1):
        gold_counts_slice(worker_ptr, worker_index, item_codes, label_codes, gold,
                          bounds[c], bounds[c + 1], total, correct)


@njit(cache=True, nogil=True)
def gold_confusion_slice(worker_ptr, worker_index, item_codes, label_codes, gold, start, stop, conf):
    """Confusion counts ``conf[w, true, observed]`` for workers ``start..stop-1`` (serial).

    Only annotations on items with gold (``gold[item] >= 0``) count.  Rows
    ``start..stop-1`` of ``conf`` (int64, workers x labels x labels) are overwritten.
    """
    n_labels = conf.shape[1]
    for w in range(start, stop):
        for a in range(n_labels):
            for b in range(n_labels):
                conf[w, a, b] = 0
        for p in range(worker_ptr[w], worker_ptr[w + 1]):
            j = worker_index[p]
            g = gold[item_codes[j]]
            if g >= 0:
                conf[w, g, label_codes[j]] += 1


@njit(cache=True, nogil=True, parallel=True)
def gold_confusion_parallel(worker_ptr, worker_index, item_codes, label_codes, gold, bounds, conf):
    """Run :func:`gold_confusion_slice` over worker chunks in parallel."""
    for c in prange(bounds.shape[0] - 1):
        gold_confusion_slice(worker_ptr, worker_index, item_codes, label_codes, gold,
                             bounds[c], bounds[c + 1], conf)


def _use_parallel(worker_ptr: np.ndarray, parallel: bool | None) -> bool:
    if parallel is None:
        return int(worker_ptr[-1]) >= _PARALLEL_MIN_ANNOTATIONS
    return bool(parallel)


def gold_counts(worker_ptr, worker_index, item_codes, label_codes, gold, n_labels, parallel=None):
    """``(total, correct)``: workers x labels int64 counts of gold answers by true class.

    ``total[w, c]`` is the number of answers worker ``w`` gave on items whose gold
    class is ``c``; ``correct[w, c]`` how many of them were ``c``.  ``parallel=None``
    picks the parallel kernel for large inputs.
    """
    n_workers = worker_ptr.shape[0] - 1
    total = np.empty((n_workers, n_labels), dtype=np.int64)
    correct = np.empty((n_workers, n_labels), dtype=np.int64)
    if _use_parallel(worker_ptr, parallel):
        gold_counts_parallel(worker_ptr, worker_index, item_codes, label_codes, gold,
                             chunk_bounds(worker_ptr), total, correct)
    else:
        gold_counts_slice(worker_ptr, worker_index, item_codes, label_codes, gold,
                          0, n_workers, total, correct)
    return total, correct


def gold_confusions(worker_ptr, worker_index, item_codes, label_codes, gold, n_labels, parallel=None):
    """Workers x true x observed int64 confusion counts against gold."""
    n_workers = worker_ptr.shape[0] - 1
    conf = np.empty((n_workers, n_labels, n_labels), dtype=np.int64)
    if _use_parallel(worker_ptr, parallel):
        gold_confusion_parallel(worker_ptr, worker_index, item_codes, label_codes, gold,
                                chunk_bounds(worker_ptr), conf)
    else:
        gold_confusion_slice(worker_ptr, worker_index, item_codes, label_codes, gold,
                             0, n_workers, conf)
    return conf
