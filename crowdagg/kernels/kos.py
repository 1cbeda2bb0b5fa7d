"""KOS (Karger, Oh & Shah 2011) message-passing kernels over the item CSR table.

The messages live on the edges (annotations).  With ``A_e = +1`` for label code 0
and ``-1`` for label code 1, one iteration of the paper is

    x_e = T_i - A_e y_e,          T_i = sum_{e in i} A_e y_e          (task -> worker)
    y'_e = W_j - A_e x_e,         W_j = sum_{e in j} A_e x_e          (worker -> task)

so ``y'_e = y_e + W_j - A_e T_i``: every edge message stays of the form

    y_e = a * y0_e + P_j - A_e * Q_i

with a scalar ``a``, one number ``P_j`` per worker and one ``Q_i`` per item
(``y0_e`` the initial message).  An iteration adds ``W`` to ``P`` and ``T`` to
``Q``; nothing per edge is stored, which is what lets the same pass run on the
pieces of a distributed table (``T`` per item, ``W`` summed over pieces).

``y0_e`` is ``1 + N(0, 1)`` (the paper's start) drawn from the item's and the
worker's id hashes (uniforms ``item_u``, ``worker_u`` in [0, 1)) by a splitmix64
mix and Box-Muller, so it does not depend on the order of the rows; with
``random_init=False`` every ``y0_e`` is 1.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_TWO53 = 9007199254740992.0


@njit(cache=True, nogil=True)
def _mix(z):
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def initial_message(iu, wu, random_init):
    """``y0`` of the edge between an item and a worker with id uniforms ``iu``, ``wu``:
    ``1 + N(0, 1)`` (Box-Muller of two splitmix64 draws), or 1 without ``random_init``."""
    if not random_init:
        return 1.0
    hi = np.uint64(iu * _TWO53)
    lo = np.uint64(wu * _TWO53)
    z = _mix(hi * np.uint64(0x100000001B3) ^ lo)
    z2 = _mix(z)
    u1 = (float(z >> np.uint64(11)) + 1.0) / _TWO53  # (0, 1]
    u2 = float(z2 >> np.uint64(11)) / _TWO53
    return 1.0 + np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


@njit(cache=True, nogil=True)
def initial_messages(item_ptr, workers, item_u, worker_u, random_init, out):
    """``out[e] = y0_e`` (:func:`initial_message`) for every edge, computed once per part."""
    for i in range(item_ptr.shape[0] - 1):
        for e in range(item_ptr[i], item_ptr[i + 1]):
            out[e] = initial_message(item_u[i], worker_u[workers[e]], random_init)


@njit(cache=True, nogil=True)
def kos_pass_slice(item_ptr, workers, labels, y0, a, p, q, start, stop, t_out, w_out, accumulate):
    """Items ``start..stop-1``: ``t_out[i] = T_i = sum_e A_e y_e`` and, with
    ``accumulate``, ``w_out[j] += A_e x_e = A_e T_i - y_e`` for every edge of worker ``j``.

    ``y = a y0_e + P_j - A_e Q_i``; ``y0`` per edge (:func:`initial_messages`), ``q`` by
    item code, ``p`` by worker code.
    """
    for i in range(start, stop):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        t = 0.0
        for e in range(lo, hi):
            s = 1.0 - 2.0 * labels[e]
            t += s * (a * y0[e] + p[workers[e]] - s * q[i])
        t_out[i] = t
        if accumulate:
            for e in range(lo, hi):
                w = workers[e]
                s = 1.0 - 2.0 * labels[e]
                w_out[w] += s * t - (a * y0[e] + p[w] - s * q[i])


@njit(cache=True, nogil=True, parallel=True)
def kos_pass_parallel(item_ptr, workers, labels, y0, a, p, q, bounds, t_out, w_buf, accumulate):
    """:func:`kos_pass_slice` over item chunks ``bounds``, one ``W`` row of ``w_buf`` per chunk."""
    for c in prange(bounds.shape[0] - 1):
        if accumulate:
            w_buf[c, :] = 0.0
        kos_pass_slice(item_ptr, workers, labels, y0, a, p, q, bounds[c], bounds[c + 1], t_out, w_buf[c],
                       accumulate)


@njit(cache=True, nogil=True)
def kos_posteriors(t, counts, gold, post):
    """One-hot posteriors of the decisions ``sign(T_i)`` (code 0 for ``T > 0``, 1 for
    ``T < 0``); ``[0.5, 0.5]`` for ``T = 0`` and items without answers; gold items one-hot.
    Returns the sum of ``|T_i|`` (the score reported after each iteration)."""
    score = 0.0
    for i in range(t.shape[0]):
        g = gold[i]
        if g >= 0:
            post[i, 0] = 0.0
            post[i, 1] = 0.0
            post[i, g] = 1.0
        elif counts[i] == 0 or t[i] == 0.0:
            post[i, 0] = 0.5
            post[i, 1] = 0.5
        elif t[i] > 0.0:
            post[i, 0] = 1.0
            post[i, 1] = 0.0
        else:
            post[i, 0] = 0.0
            post[i, 1] = 1.0
        score += abs(t[i])
    return score
