"""Multi-label (checkbox) kernels: one binary question per (item, label), worker rates shared.

The table the kernels read is the *checkbox table* of
:mod:`crowdagg.methods.multilabel`: an item-sorted CSR table whose label codes are
``0 .. C-1`` for a ticked label and ``C`` (the *answer marker*) once per answer, so
that an answer that ticks nothing ("none apply") is still seen.  For label ``c`` of
item ``i`` answered by the workers ``W_i``, with prevalence ``prev[c]``,
sensitivity ``se[w, c]`` and specificity ``sp[w, c]``:

    A1[c] = log prev[c]     + sum_{w in W_i} (ticked ? log se : log(1 - se))
    A0[c] = log(1 - prev[c]) + sum_{w in W_i} (ticked ? log(1 - sp) : log sp)

so ``P(c applies) = sigmoid(A1 - A0)`` and the item's log-likelihood is
``sum_c logaddexp(A1[c], A0[c])``.  The kernels add, per marker row, the
``untick`` terms of every label (``m1[w, c] = log(1 - se)``, ``m0[w, c] = log sp``)
and, per ticked row, the differences (``t1 = log se - log(1 - se)``,
``t0 = log(1 - sp) - log sp``).

Statistics of the next M-step (summable over item slices): ``tp[w, c]`` (expected
ticks of applying labels), ``pos[w, c]`` (expected applying labels among the
worker's answers), ``chk[w, c]`` (ticks), ``n_ans[w]`` (answers), ``tot[c]``
(expected applying labels over answered items) and ``n_items`` (answered items).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = ["ml_estep_slice", "ml_estep_parallel"]


@njit(cache=True, nogil=True)
def ml_estep_slice(item_ptr, workers, codes, n_labels, log_prev, log_prev0, m1, m0, t1, t0, vote, start, stop,
                   post, tp, pos, chk, n_ans, tot, n_items, accumulate):
    """E-step for items ``start..stop-1``: write ``P(label c applies)`` into ``post[i, c]``
    (``post[i, C] = 0``), return the slice's log-likelihood; with ``accumulate`` add the
    statistics (module docstring) into ``tp, pos, chk, n_ans, tot, n_items`` (``n_items``:
    a one-element array).

    ``vote`` (the ``init="mv"`` start): posteriors are the per-label shares of ticks
    among the item's answers instead (log-likelihood 0).  Items without answers get the
    prevalences (and add nothing).
    """
    a1 = np.empty(n_labels)
    a0 = np.empty(n_labels)
    p = np.empty(n_labels)
    ll = 0.0
    for i in range(start, stop):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        n_here = 0
        for j in range(lo, hi):
            if codes[j] == n_labels:
                n_here += 1
        if n_here == 0:
            for c in range(n_labels):
                post[i, c] = math.exp(log_prev[c])
            post[i, n_labels] = 0.0
            continue
        if vote:
            for c in range(n_labels):
                p[c] = 0.0
            for j in range(lo, hi):
                c = codes[j]
                if c < n_labels:
                    p[c] += 1.0
            for c in range(n_labels):
                p[c] /= n_here
        else:
            for c in range(n_labels):
                a1[c] = log_prev[c]
                a0[c] = log_prev0[c]
            for j in range(lo, hi):
                w = workers[j]
                c = codes[j]
                if c == n_labels:
                    for d in range(n_labels):
                        a1[d] += m1[w, d]
                        a0[d] += m0[w, d]
                else:
                    a1[c] += t1[w, c]
                    a0[c] += t0[w, c]
            for c in range(n_labels):
                x = a1[c] - a0[c]
                if x >= 0.0:
                    e = math.exp(-x)
                    p[c] = 1.0 / (1.0 + e)
                    ll += a1[c] + math.log1p(e)
                else:
                    e = math.exp(x)
                    p[c] = e / (1.0 + e)
                    ll += a0[c] + math.log1p(e)
        for c in range(n_labels):
            post[i, c] = p[c]
        post[i, n_labels] = 0.0
        if accumulate:
            n_items[0] += 1.0
            for c in range(n_labels):
                tot[c] += p[c]
            for j in range(lo, hi):
                w = workers[j]
                c = codes[j]
                if c == n_labels:
                    n_ans[w] += 1.0
                    for d in range(n_labels):
                        pos[w, d] += p[d]
                else:
                    tp[w, c] += p[c]
                    chk[w, c] += 1.0
    return ll


@njit(cache=True, nogil=True, parallel=True)
def ml_estep_parallel(item_ptr, workers, codes, n_labels, log_prev, log_prev0, m1, m0, t1, t0, vote, bounds,
                      post, tp, pos, chk, n_ans, tot, n_items, lbuf, accumulate):
    """:func:`ml_estep_slice` over item chunks ``bounds[c]..bounds[c+1]`` in parallel, chunk
    ``c`` adding into row ``c`` of every statistics buffer (zeroed here) and ``lbuf[c]``."""
    n_chunks = bounds.shape[0] - 1
    for c in prange(n_chunks):
        if accumulate:
            tp[c, :, :] = 0.0
            pos[c, :, :] = 0.0
            chk[c, :, :] = 0.0
            n_ans[c, :] = 0.0
            tot[c, :] = 0.0
            n_items[c, :] = 0.0
        lbuf[c] = ml_estep_slice(item_ptr, workers, codes, n_labels, log_prev, log_prev0, m1, m0, t1, t0, vote,
                                 bounds[c], bounds[c + 1], post, tp[c], pos[c], chk[c], n_ans[c], tot[c],
                                 n_items[c], accumulate)
