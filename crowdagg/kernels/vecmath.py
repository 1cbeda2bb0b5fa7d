"""Branch-free scalar math for loops that must vectorise.

Numba compiles ``np.log`` to a call of the C library's ``log``: a loop with a library
call per iteration stays scalar and its iterations cannot overlap (no SIMD library is
linked).  :func:`log_pos` computes the natural log with the usual reduction and a
polynomial only -- no call, no branch -- so a loop of independent logs compiles to
vector instructions, as :func:`~crowdagg.kernels.em.exp_nonpos` does for ``exp``.

The algorithm is the classic one of Cody & Waite and of fdlibm's ``__ieee754_log``
(Sun Microsystems, 1993): ``x = 2**k * m`` with ``m`` in ``[sqrt(2)/2, sqrt(2))``,
``f = m - 1``, ``s = f / (2 + f)``, ``log(1 + f) = 2 atanh(s) = f - s (f - R(s^2))``
with ``R`` a degree-7 minimax polynomial in ``s^2`` (Remez coefficients of that
reference), and ``k log(2)`` split into a high part with trailing zero bits and a low
part, so that ``k * ln2_hi`` is exact.
"""

from __future__ import annotations

import math

from llvmlite import ir
from numba import config, njit, types
from numba.core.errors import TypingError
from numba.extending import intrinsic

__all__ = ["log_pos"]

# the minimax coefficients of R(z), z = s^2, for 2 atanh(s) - 2 s = s R(z) on
# |s| <= 0.1716 (fdlibm e_log.c, |error| < 2**-58.45)
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_LN2_HI = 6.93147180369123816490e-01  # 32 trailing zero bits: k * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_SQRT2 = 1.4142135623730951


@intrinsic
def _bits_llvm(typingctx, x):
    """The IEEE 754 bits of a float64 as an int64 (a register move)."""
    if not isinstance(x, types.Float):
        raise TypingError("_bits needs a float")

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _from_bits_llvm(typingctx, n):
    """The float64 whose IEEE 754 bits are the int64 ``n``."""
    if not isinstance(n, types.Integer):
        raise TypingError("_from_bits needs an integer")

    def codegen(context, builder, sig, args):
        v = context.cast(builder, args[0], sig.args[0], types.int64)
        return builder.bitcast(v, ir.DoubleType())

    return types.float64(n), codegen


def _frexp_py(x):
    # (the pure-Python path: the same split through math.frexp, m in [1, 2))
    m, e = math.frexp(x)
    return m * 2.0, e - 1


@njit(cache=True, nogil=True, inline="always")
def _split_jit(x):
    """``(m, k)`` with ``x = m * 2**k`` and ``m`` in ``[1, 2)`` for a positive normal ``x``."""
    b = _bits_llvm(x)
    k = (b >> 52) - 1023
    m = _from_bits_llvm((b & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)
    return m, k


_split = _frexp_py if config.DISABLE_JIT else _split_jit


@njit(cache=True, nogil=True, inline="always")
def log_pos(x):
    """``log(x)`` for a positive normal ``x`` (``2.2e-308 <= x < inf``), within 1 ulp of
    ``np.log`` (measured: see ``tests/test_vecmath.py``).

    Branch-free and without a library call, so that a loop of independent logs
    vectorises.  Zero, subnormals, negatives, infinities and NaN are not handled: they give
    finite values that mean nothing (0 -> -709.1, inf -> 709.8, NaN -> 710.2), so callers pass
    only arguments bounded away from both ends (products and sums of positive terms; GLAD's
    are at least 2**-512), and non-finite results are caught where the fits check their
    parameters and posteriors."""
    m, k = _split(x)
    big = m > _SQRT2
    m = m * 0.5 if big else m
    k = k + 1 if big else k
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    r = t2 + t1
    hfsq = 0.5 * f * f
    dk = float(k)
    return dk * _LN2_HI - ((hfsq - (s * (hfsq + r) + dk * _LN2_LO)) - f)
