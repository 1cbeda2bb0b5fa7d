"""Factorize Arrow string columns: hash in parallel, code the hashes, verify.

The kernels read an Arrow string array through its two buffers: ``offsets``
(int32 or int64, ``n + 1`` entries, already shifted to the array's offset) and
``data`` (uint8).  String ``r`` is ``data[offsets[r]:offsets[r + 1]]``.

1. :func:`hash_strings` computes a 64-bit hash per row (``prange``).
2. :func:`factorize_hashes` walks the rows once, in order, and codes the hashes in
   order of first appearance through an open-addressing table (serial, integer
   work only; a row equal to the previous one skips the table).  Null rows are
   left out by the caller beforehand.
3. :func:`codes_match_strings` compares every row's bytes with the unique string
   of its code (the first rows gathered; ``prange``).  Two different strings with
   the same hash would share a code and fail this check; the caller then falls
   back to an exact hash table (Arrow's), so the result is exact whatever the hash
   does.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import config, njit, prange, types
from numba.extending import intrinsic

__all__ = ["hash_strings", "hash_strings_serial", "hash_rows", "factorize_hashes", "codes_match_strings",
           "codes_match_strings_serial", "rows_match", "SERIAL_ROWS"]

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)


@njit(cache=True, nogil=True, inline="always")
def _mix(h):
    """The splitmix64 finaliser: every input bit affects every output bit."""
    h ^= h >> np.uint64(30)
    h *= _M2
    h ^= h >> np.uint64(27)
    h *= _M3
    h ^= h >> np.uint64(31)
    return h


@intrinsic
def _load8_llvm(typingctx, data, pos):
    sig = types.uint64(data, pos)

    def codegen(context, builder, signature, args):
        arr, p = args
        ary = context.make_array(signature.args[0])(context, builder, arr)
        ptr = builder.bitcast(builder.gep(ary.data, [p]), ir.IntType(64).as_pointer())
        return builder.load(ptr, align=1)

    return sig, codegen


def _load8_py(data, pos):
    return np.uint64(int.from_bytes(data[pos:pos + 8].tobytes(), "little"))


# The 8 bytes ``data[pos:pos+8]`` of a 1-d uint8 array as a little-endian uint64: one
# unaligned load (the caller guarantees ``pos + 8 <= len(data)``).  An intrinsic cannot
# run as Python, so under NUMBA_DISABLE_JIT=1 the same load is done by ``int.from_bytes``.
_load8 = _load8_py if config.DISABLE_JIT else _load8_llvm


@njit(cache=True, nogil=True, inline="always")
def _load_tail(data, p, n):
    """The ``n < 8`` bytes ``data[p:p+n]`` as a uint64, zero-padded."""
    if p + 8 <= data.shape[0]:  # one wide load, the bytes past the string masked off
        return _load8(data, p) & ((np.uint64(1) << np.uint64(8 * n)) - np.uint64(1))
    w = np.uint64(0)
    for b in range(n):
        w |= np.uint64(data[p + b]) << np.uint64(8 * b)
    return w


@njit(cache=True, nogil=True, inline="always")
def _hash_one(offsets, data, r):
    lo = offsets[r]
    hi = offsets[r + 1]
    h = np.uint64(hi - lo) * _M1
    p = lo
    while p + 8 <= hi:
        h = (h ^ _load8(data, p)) * _M2
        h ^= h >> np.uint64(32)
        p += 8
    if p < hi:
        h = (h ^ _load_tail(data, p, hi - p)) * _M2
    return _mix(h)


@njit(cache=True, nogil=True, parallel=True)
def hash_strings(offsets, data, out):
    """``out[r]`` = 64-bit hash of string ``r`` (uint64), rows in parallel."""
    for r in prange(out.shape[0]):
        out[r] = _hash_one(offsets, data, r)


@njit(cache=True, nogil=True)
def hash_strings_serial(offsets, data, out):
    """:func:`hash_strings` in one thread (small inputs: no parallel kernel to compile)."""
    for r in range(out.shape[0]):
        out[r] = _hash_one(offsets, data, r)


#: below this many rows the string kernels run serially: a parallel launch would not pay,
#: and a small first call (a new environment) does not compile the parallel kernels at all
SERIAL_ROWS = 1 << 15


def hash_rows(offsets, data, out):
    """:func:`hash_strings`, or :func:`hash_strings_serial` below :data:`SERIAL_ROWS` rows."""
    (hash_strings_serial if out.shape[0] < SERIAL_ROWS else hash_strings)(offsets, data, out)


def rows_match(offsets, data, codes, u_offsets, u_data) -> bool:
    """:func:`codes_match_strings`, serial below :data:`SERIAL_ROWS` rows."""
    kernel = codes_match_strings_serial if codes.shape[0] < SERIAL_ROWS else codes_match_strings
    return bool(kernel(offsets, data, codes, u_offsets, u_data))


@njit(cache=True, nogil=True, inline="always")
def _equal(off_a, data_a, a, off_b, data_b, b):
    """Whether string ``a`` of one array holds the same bytes as string ``b`` of another."""
    pa = off_a[a]
    pb = off_b[b]
    n = off_a[a + 1] - pa
    if off_b[b + 1] - pb != n:
        return False
    t = 0
    while t + 8 <= n:
        if _load8(data_a, pa + t) != _load8(data_b, pb + t):
            return False
        t += 8
    if t < n:
        return _load_tail(data_a, pa + t, n - t) == _load_tail(data_b, pb + t, n - t)
    return True


@njit(cache=True, nogil=True)
def factorize_hashes(hashes, codes):
    """Factorize 64-bit keys: codes in order of first appearance, in place.

    ``codes`` (int32 or int64) has one entry per key.  Returns the first row of every
    code.  Rows whose key equals the previous row's take its code without a probe
    (ids often come grouped).  The open-addressing table holds codes (int32) and is
    kept at most a quarter full, which keeps linear probes short: at half full the
    mispredicted probe branches cost more than the table's extra memory.  It starts
    at 65536 slots (256 KiB), so that a few thousand ids rarely need a second probe,
    or, for grouped columns (at most one row in two starts a run of equal keys), at
    four slots per run: runs bound the distinct keys, so the table never grows.
    """
    n = hashes.shape[0]
    runs = 1 if n > 0 else 0
    for r in range(1, n):
        if hashes[r] != hashes[r - 1]:
            runs += 1
    cap = 65536
    if 2 * runs <= n:
        while cap < 4 * runs:
            cap *= 2
    table = np.empty(cap, dtype=np.int32)
    for j in range(cap):  # a loop, not np.full: one implementation less to compile on a first call
        table[j] = -1
    first = np.empty(cap // 4, dtype=np.int64)
    keys = np.empty(cap // 4, dtype=np.uint64)
    n_uniq = 0
    r = 0
    while True:
        # the insert loop runs on fixed arrays until the table is a quarter full
        r, n_uniq = _insert_rows(hashes, codes, table, first, keys, r, n_uniq)
        if r >= n:
            break
        cap *= 2
        table = _rehash(keys, n_uniq, cap)
        first = _grow(first, cap // 4)
        keys = _grow(keys, cap // 4)
    return first[:n_uniq].copy()


@njit(cache=True, nogil=True)
def _insert_rows(hashes, codes, table, first, keys, r0, n_uniq):
    """Code rows from ``r0`` on; stop at the first new key that does not fit
    (``first`` full) so that the caller can grow the table.  Returns
    ``(next row, n_uniq)``."""
    n = hashes.shape[0]
    mask = table.shape[0] - 1
    limit = first.shape[0]
    for r in range(r0, n):
        h = hashes[r]
        if r > 0 and hashes[r - 1] == h:
            codes[r] = codes[r - 1]
            continue
        s = np.int64(h & np.uint64(mask))
        while True:
            c = np.int64(table[s])
            if c < 0:
                if n_uniq == limit:
                    return r, n_uniq
                first[n_uniq] = r
                keys[n_uniq] = h
                table[s] = n_uniq
                c = n_uniq
                n_uniq += 1
                break
            if keys[c] == h:
                break
            s = (s + 1) & mask
        codes[r] = c
    return n, n_uniq


@njit(cache=True, nogil=True, parallel=True)
def codes_match_strings(offsets, data, codes, u_offsets, u_data):
    """Whether every row holds the same bytes as the unique string of its code.

    ``u_offsets``/``u_data`` hold the uniques (string ``c`` is code ``c``'s value,
    e.g. the first row of every code gathered).  The check that makes hash
    factorization exact: two different strings with the same 64-bit hash would
    share a code and fail it.  Rows in parallel; null rows (code ``-1``) are skipped.
    """
    n = codes.shape[0]
    bad = 0
    for r in prange(n):
        c = codes[r]
        if c >= 0 and not _equal(offsets, data, r, u_offsets, u_data, c):
            bad += 1
    return bad == 0


@njit(cache=True, nogil=True)
def codes_match_strings_serial(offsets, data, codes, u_offsets, u_data):
    """:func:`codes_match_strings` in one thread, stopping at the first mismatch."""
    for r in range(codes.shape[0]):
        c = codes[r]
        if c >= 0 and not _equal(offsets, data, r, u_offsets, u_data, c):
            return False
    return True


@njit(cache=True, nogil=True)
def _rehash(keys, n_uniq, cap):
    mask = cap - 1
    table = np.empty(cap, dtype=np.int32)
    for j in range(cap):  # a loop, not np.full: one implementation less to compile on a first call
        table[j] = -1
    for c in range(n_uniq):
        s = np.int64(keys[c] & np.uint64(mask))
        while table[s] >= 0:
            s = (s + 1) & mask
        table[s] = c
    return table


@njit(cache=True, nogil=True)
def _grow(a, size):
    b = np.empty(size, dtype=a.dtype)
    for i in range(a.shape[0]):  # a loop, not a slice assignment: ~2 s less to compile
        b[i] = a[i]
    return b
