"""Helpers for splitting kernel work into chunks, and the guard of parallel kernels in threads."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import numpy as np

_MIN_CHUNK_ANNOTATIONS = 1 << 15


def chunk_bounds(ptr: np.ndarray, n_chunks: int | None = None) -> np.ndarray:
    """Split the rows of a CSR ``ptr`` into chunks of about equal annotation counts.

    Returns int64 boundaries ``b`` (``b[0] = 0``, ``b[-1] = n_rows``) for
    ``prange`` over chunks.  Small inputs get one chunk (threads would not pay).
    """
    n_rows = ptr.shape[0] - 1
    n_ann = int(ptr[-1]) if n_rows >= 0 else 0
    if n_chunks is None:
        import numba

        n_chunks = 4 * numba.get_num_threads()
    n_chunks = int(max(1, min(n_chunks, n_ann // _MIN_CHUNK_ANNOTATIONS, n_rows)))
    targets = np.linspace(0, n_ann, n_chunks + 1)
    b = np.searchsorted(ptr, targets, side="left").astype(np.int64)
    b[0], b[-1] = 0, n_rows
    return np.unique(b)


def cap_chunks(bounds: np.ndarray, chunk_bytes: int, cap: int) -> np.ndarray:
    """Merge neighbouring chunks of ``bounds`` until ``n_chunks * chunk_bytes <= cap``.

    For kernels that give every chunk its own statistics buffer (``chunk_bytes``
    each, e.g. workers x labels floats): above the cap the work runs on fewer,
    larger chunks (one, serially, at worst), so those buffers never exceed the
    cap whatever the data sizes.  Same sums, in a different order.
    """
    n_chunks = bounds.shape[0] - 1
    allowed = max(1, int(cap // max(int(chunk_bytes), 1)))
    if n_chunks <= allowed:
        return bounds
    pick = np.unique(np.linspace(0, n_chunks, allowed + 1).round().astype(np.int64))
    return np.ascontiguousarray(bounds[pick])


# --------------------------------------------------------------------------- threads
#: Numba threading layers that accept parallel kernels launched from several threads at once.
THREADSAFE_LAYERS = ("omp", "tbb")
_PARALLEL_LOCK = threading.RLock()
_LAYER_SAFE: list[bool] = []  # filled once the active layer is known


def parallel_layer_is_threadsafe() -> bool:
    """Whether concurrent parallel kernels are safe under the active Numba threading layer.

    ``omp`` and ``tbb`` are; ``workqueue`` is not (two threads launching parallel
    kernels at once abort the process).  Until a first parallel kernel has run the
    layer is not chosen yet, and the answer is ``False`` (the safe side).
    """
    if _LAYER_SAFE:
        return _LAYER_SAFE[0]
    import numba

    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet: the layer is unknown
        return False
    _LAYER_SAFE[:] = [layer in THREADSAFE_LAYERS]
    return _LAYER_SAFE[0]


def parallel_guard() -> contextlib.AbstractContextManager[Any]:
    """A context manager to hold around calls of parallel (``prange``) kernels.

    Under a thread-safe threading layer (``omp``, ``tbb``) it does nothing, so fits
    in concurrent threads run their kernels at once; otherwise (``workqueue``, or
    before the layer is known) it is one process-wide re-entrant lock, so parallel
    kernels from different threads run one after another -- the same kernels, hence
    the same answers as serial calls.
    """
    if parallel_layer_is_threadsafe():
        return contextlib.nullcontext()
    return _PARALLEL_LOCK
