"""Expected gain of one more answer per item (:func:`crowdagg.active.expected_gain`).

Plain loops over a posterior array (items x labels), the fitted confusion of each
worker of the pool (workers x labels x labels) and the pool's weights; the serial
slice kernel and its ``prange`` twin, as in :mod:`crowdagg.kernels.mv`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["gain_slice", "gain_parallel"]


@njit(cache=True, nogil=True)
def gain_slice(post: np.ndarray, conf: np.ndarray, weight: np.ndarray, start: int, stop: int,
                out: np.ndarray) -> None:
    """``out[i] = sum_w weight[w] sum_l max_c post[i,c] conf[w,c,l] - max_c post[i,c]`` for i in [start, stop)."""
    n_w, k, _ = conf.shape
    for i in range(start, stop):
        best = 0.0
        for c in range(k):
            if post[i, c] > best:
                best = post[i, c]
        total = 0.0
        for w in range(n_w):
            s = 0.0
            for lab in range(k):
                m = 0.0
                for c in range(k):
                    v = post[i, c] * conf[w, c, lab]
                    if v > m:
                        m = v
                s += m
            total += weight[w] * s
        g = total - best
        out[i] = g if g > 0.0 else 0.0  # >= 0 exactly; rounding can leave -1e-17


@njit(cache=True, nogil=True, parallel=True)
def gain_parallel(post: np.ndarray, conf: np.ndarray, weight: np.ndarray, out: np.ndarray) -> None:
    """:func:`gain_slice` over every item, in up to 256 item chunks in parallel."""
    n = post.shape[0]
    n_chunks = max(1, min(n, 256))
    for j in prange(n_chunks):
        start = j * n // n_chunks
        stop = (j + 1) * n // n_chunks
        gain_slice(post, conf, weight, start, stop, out)
