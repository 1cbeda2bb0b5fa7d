"""Factorize id columns chunk by chunk against a running codebook (streamed reads).

The streamed Parquet reader (:func:`crowdagg.ingest.parquet_batches`) hands the id
columns over one record batch at a time; these kernels give every row the code of
its value in order of first appearance over all batches, keeping only the codebook
between batches: an open-addressing table of codes (``table``, int32, at most half
full), the key of every code (``keys``) and, for strings, the bytes of every unique
(``u_off``/``u_data``, an Arrow-style offsets/data pair).  The strings of a batch can
then be freed as soon as it is coded.

Each kernel codes rows ``r0, r0 + 1, ...`` of the batch into ``codes[c0 + r]`` and
stops early when the codebook is full, returning where it stopped so that the caller
grows the arrays (:func:`rehash_hashes`, :func:`rehash_ints`) and calls again.
String codes are by 64-bit hash; the caller then checks every row's bytes against
its code's unique (:func:`crowdagg.kernels.strings.codes_match_strings`, in
parallel): two different strings with one hash fail it, and the column is read
whole, through Arrow's exact table.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .strings import _mix
from .strings import _rehash as rehash_hashes  # a table of codes by their 64-bit hash

__all__ = ["code_strings_into", "code_ints_into", "rehash_hashes", "rehash_ints"]

#: kernel status: every row coded / ``keys`` full / ``u_data`` full
DONE, KEYS_FULL, BYTES_FULL = 0, 1, 2


@njit(cache=True, nogil=True)
def code_strings_into(offsets, data, hashes, codes, c0, table, keys, u_off, u_data, n_uniq, n_bytes, r0):
    """Code the strings ``r0:`` of one batch (its ``offsets``/``data`` buffers and the
    row hashes of :func:`crowdagg.kernels.strings.hash_strings`); new strings are
    appended to ``u_off``/``u_data``.  Returns ``(row, n_uniq, n_bytes, status)``."""
    n = hashes.shape[0]
    mask = table.shape[0] - 1
    limit = keys.shape[0]
    for r in range(r0, n):
        h = hashes[r]
        s = np.int64(h & np.uint64(mask))
        while True:
            c = np.int64(table[s])
            if c < 0:
                lo = offsets[r]
                ln = offsets[r + 1] - lo
                if n_uniq == limit:
                    return r, n_uniq, n_bytes, KEYS_FULL
                if n_bytes + ln > u_data.shape[0]:
                    return r, n_uniq, n_bytes, BYTES_FULL
                for b in range(ln):
                    u_data[n_bytes + b] = data[lo + b]
                n_bytes += ln
                u_off[n_uniq + 1] = n_bytes
                keys[n_uniq] = h
                table[s] = n_uniq
                c = n_uniq
                n_uniq += 1
                break
            if keys[c] == h:
                break
            s = (s + 1) & mask
        codes[c0 + r] = c
    return n, n_uniq, n_bytes, DONE


@njit(cache=True, nogil=True)
def code_ints_into(values, codes, c0, table, keys, n_uniq, r0):
    """Code the int64 ``values[r0:]`` of one batch (exact: the key is the value).
    Returns ``(row, n_uniq, status)``."""
    n = values.shape[0]
    mask = table.shape[0] - 1
    limit = keys.shape[0]
    for r in range(r0, n):
        v = values[r]
        s = np.int64(_mix(np.uint64(v)) & np.uint64(mask))
        while True:
            c = np.int64(table[s])
            if c < 0:
                if n_uniq == limit:
                    return r, n_uniq, KEYS_FULL
                keys[n_uniq] = v
                table[s] = n_uniq
                c = n_uniq
                n_uniq += 1
                break
            if keys[c] == v:
                break
            s = (s + 1) & mask
        codes[c0 + r] = c
    return n, n_uniq, DONE


@njit(cache=True, nogil=True)
def rehash_ints(keys, n_uniq, cap):
    """A table of ``cap`` slots (a power of two) holding codes ``0..n_uniq-1`` by their int64
    key, hashed with the splitmix64 finaliser (:func:`rehash_hashes` for string hashes)."""
    mask = cap - 1
    table = np.full(cap, -1, dtype=np.int32)
    for c in range(n_uniq):
        s = np.int64(_mix(np.uint64(keys[c])) & np.uint64(mask))
        while table[s] >= 0:
            s = (s + 1) & mask
        table[s] = c
    return table
