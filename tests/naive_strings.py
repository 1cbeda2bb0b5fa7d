"""Plain-Python references for :mod:`crowdagg.kernels.strings`.

The same hash as the kernel, written over Python integers (mod 2**64) and bytes, and
a dictionary factorizer: codes in order of first appearance, ``-1`` for null.
"""

from __future__ import annotations

_MASK = (1 << 64) - 1
_M1 = 0x9E3779B97F4A7C15
_M2 = 0xBF58476D1CE4E5B9
_M3 = 0x94D049BB133111EB


def mix(h: int) -> int:
    h ^= h >> 30
    h = (h * _M2) & _MASK
    h ^= h >> 27
    h = (h * _M3) & _MASK
    h ^= h >> 31
    return h


def hash_bytes(b: bytes) -> int:
    """8-byte little-endian words, the last one zero-padded, each xored in and
    multiplied; the length seeds the state and the splitmix64 finaliser ends it."""
    h = (len(b) * _M1) & _MASK
    for p in range(0, len(b), 8):
        word = int.from_bytes(b[p:p + 8], "little")
        h = ((h ^ word) * _M2) & _MASK
        if p + 8 <= len(b):
            h ^= h >> 32
    return mix(h)


def factorize(values):
    """Codes in order of first appearance (None = null = -1) and the first row of each."""
    seen: dict = {}
    codes, first = [], []
    for r, v in enumerate(values):
        if v is None:
            codes.append(-1)
            continue
        if v not in seen:
            seen[v] = len(first)
            first.append(r)
        codes.append(seen[v])
    return codes, first
