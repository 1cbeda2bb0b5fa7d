"""EM kernels: streaming E-steps that return sufficient statistics per item slice.

Every ``*_estep_slice`` kernel walks items ``start..stop-1`` in CSR order once:
for each item it computes the log-space posterior from the current parameters
(log-sum-exp, so thousands of annotations per item never underflow), writes it
into ``post[i]`` (one-hot for gold items, ``gold[i] >= 0``) and, when
``accumulate`` is true, adds the item's contribution to the sufficient statistics
of the next M-step into the buffers it is given.  It returns the slice's
log-likelihood.  Statistics of several slices are simply summed, which is what the
``*_parallel`` twins do (one buffer per chunk, no atomics) and what a distributed
engine does per partition.

Layouts (all float64):

* Dawid-Skene reads each annotation as one index ``pairs[j] = w * K + y`` (worker
  and observed label), and the confusions as ``logct[w * K + y, true]`` (the
  transpose of ``confusions[w, true, observed]``, reshaped to 2-d), so that the
  inner loop over the true class reads contiguous memory and one index array
  instead of two; count statistics use the same layout (``counts[w * K + y, k]``;
  reshape to ``(W, K, K)``: worker x observed x true).
* One-coin: ``log_s[w]`` (log accuracy) and ``log_e[w]`` (log of the probability
  of each wrong label); statistics ``corr[w]`` = expected number of correct answers.
* Weighted vote (Wawa, ZeroBasedSkill): ``weights[w]``; statistics
  ``agree[w]`` = answers equal to the item's aggregate label.  The 2-4 class kernel
  reads Dawid-Skene's pair index and the weights as rows ``vrows[w * K + y]``
  (:func:`wv_rows`).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import config, njit, prange, types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic

__all__ = [
    "exp_nonpos",
    "ds_estep_slice",
    "ds_estep_parallel",
    "ds_estep_fixed_slice",
    "ds_estep_fixed_parallel",
    "ds_counts_slice",
    "ds_counts_by_worker_slice",
    "ds_counts_by_worker_parallel",
    "ds_mstep_confusions",
    "sum_chunks",
    "oc_estep_slice",
    "oc_estep_parallel",
    "oc_counts_slice",
    "wv_estep_slice",
    "wv_estep_parallel",
    "wv_estep_fixed_slice",
    "wv_estep_fixed_parallel",
    "wv_rows",
    "wv_agreement",
    "class_totals",
]


@njit(cache=True, nogil=True)
def class_totals(post, used):
    """``Σ_i post[i, k]`` over the items with ``used[i]`` (answers or gold): the statistics
    of learnt class priors (MACE, GLAD), one pass over the posteriors, no copy."""
    n_items, n_labels = post.shape
    out = np.zeros(n_labels)
    for i in range(n_items):
        if used[i]:
            for k in range(n_labels):
                out[k] += post[i, k]
    return out


# --------------------------------------------------------------------------- exp
# exp(d) for d <= 0 as 2**n * 2**(j/32) * p(r), d = (32 n + j) ln2/32 + r, |r| <= ln2/64:
# a degree-6 Taylor polynomial (truncation below 4e-18), a table of 2**(j/32) and 2**n
# from its bits (:func:`_pow2`).  Measured
# against np.exp on 2M values in each of [-1e-3, 0], [-0.7, 0], ..., [-700, 0]: at
# most 4.0e-16 relative (2 ulp).  Cody-Waite split of ln2/32 (fdlibm's ln2_hi has 32
# trailing zero bits, so k * _LN2_32_HI is exact for |k| < 2**20).
_LN2_32_HI = 6.93147180369123816490e-01 / 32
_LN2_32_LO = 1.90821492927058770002e-10 / 32
_INV_LN2_32 = 32.0 / 0.6931471805599453
_EXP2_FRAC = np.exp2(np.arange(32) / 32.0)


@intrinsic
def _pow2_llvm(typingctx, n):
    """``2.0 ** n`` for an integer ``-1022 <= n <= 1023``: the exponent field ``n + 1023``
    shifted into place and the bits read as a double (exact; a table read was a
    vector gather in the vectorised ``exp`` loop)."""
    if not isinstance(n, types.Integer):
        raise TypingError("_pow2 needs an integer")

    def codegen(context, builder, sig, args):
        i64 = ir.IntType(64)
        e = builder.add(context.cast(builder, args[0], sig.args[0], types.int64), ir.Constant(i64, 1023))
        return builder.bitcast(builder.shl(e, ir.Constant(i64, 52)), ir.DoubleType())

    return types.float64(n), codegen


def _pow2_py(n):
    return float(np.ldexp(1.0, int(n)))


_pow2 = _pow2_py if config.DISABLE_JIT else _pow2_llvm


@njit(cache=True, nogil=True, inline="always")
def exp_nonpos(d):
    """``exp(d)`` for ``d <= 0``, within 2 ulp of ``np.exp`` (``0.0`` below ``-708``,
    where ``np.exp`` gives subnormals under ``3e-308``; ``d`` NaN or ``-inf``: ``0.0``).

    Branch-free, with no library call, so that a loop over independent values
    vectorises and overlaps (the library ``exp`` was two thirds of a Dawid-Skene
    E-step at 4 classes: a long dependency chain per item)."""
    ok = d >= -708.0
    x = d if ok else 0.0
    k = np.int64(x * _INV_LN2_32 - 0.5)  # round to nearest (x <= 0)
    r = (x - k * _LN2_32_HI) - k * _LN2_32_LO
    p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))))
    v = _pow2(k >> 5) * (_EXP2_FRAC[k & 31] * p)
    return v if ok else 0.0


@njit(cache=True, nogil=True, inline="always")
def _normalize_log(lp, i, post):
    """Write ``softmax(lp)`` into ``post[i]``; return ``(m, s)`` with
    ``logsumexp(lp) = m + log(s)``, ``m = max(lp)`` and ``s`` in ``[1, len(lp)]``."""
    n = lp.shape[0]
    m = lp[0]
    for k in range(1, n):
        if lp[k] > m:
            m = lp[k]
    s = 0.0
    for k in range(n):
        e = np.exp(lp[k] - m)
        post[i, k] = e
        s += e
    inv = 1.0 / s
    for k in range(n):
        post[i, k] *= inv
    return m, s


@njit(cache=True, nogil=True, inline="always")
def _item_posterior(lp, g, i, post):
    """Write item ``i``'s posterior into ``post[i]``; return its log-likelihood term
    as ``(a, b)``, the term being ``a + log(b)`` with ``b`` in ``[1, len(lp)]``.

    One-hot at the gold label ``g`` when ``g >= 0`` (term ``lp[g]``: ``b = 1``), else
    ``softmax(lp)`` (term ``logsumexp(lp)``).  See :func:`_add_term`.
    """
    if g >= 0:
        for k in range(lp.shape[0]):
            post[i, k] = 0.0
        post[i, g] = 1.0
        return lp[g], 1.0
    return _normalize_log(lp, i, post)


@njit(cache=True, nogil=True, inline="always")
def _add_term(ll, prod, term, r):
    """Add an item's log-likelihood term ``(a, b)`` (``a + log(b)``) to the running
    sum ``ll + log(prod)``; ``r`` counts items from 0.

    The logs of 32 items are taken at once, as the log of the product of their
    ``b``: each ``b`` lies in ``[1, K]`` with ``K < 2**31`` classes, so the product
    stays below ``2**992``.  This saves a log per item (about a tenth of a
    Dawid-Skene E-step at 4 classes).  A slice's total is ``ll + log(prod)``.
    """
    ll += term[0]
    prod *= term[1]
    if (r & 31) == 31:
        ll += np.log(prod)
        prod = 1.0
    return ll, prod


# --------------------------------------------------------------------------- Dawid-Skene
@njit(cache=True, nogil=True, inline="always")
def _ds_add_item(pairs, lo, hi, post, i, counts, class_tot, n_labels):
    """Add item ``i``'s posterior to ``class_tot`` and to ``counts[w * K + y]`` of
    each of its annotations ``lo..hi-1``."""
    for k in range(n_labels):
        class_tot[k] += post[i, k]
    for j in range(lo, hi):
        r = pairs[j]
        for k in range(n_labels):
            counts[r, k] += post[i, k]


@njit(cache=True, nogil=True, inline="always")
def _ds_estep_body(item_ptr, pairs, gold, log_prior, logct, start, stop,
                   post, counts, class_tot, accumulate, n_labels):
    """The loop of :func:`ds_estep_slice` for any number of classes."""
    lp = np.empty(n_labels)
    ll = 0.0
    prod = 1.0  # see _add_term
    for i in range(start, stop):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        for k in range(n_labels):
            lp[k] = log_prior[k]
        for j in range(lo, hi):
            r = pairs[j]
            for k in range(n_labels):
                lp[k] += logct[r, k]
        g = gold[i]
        ll, prod = _add_term(ll, prod, _item_posterior(lp, g, i, post), i - start)
        if accumulate and (hi > lo or g >= 0):
            _ds_add_item(pairs, lo, hi, post, i, counts, class_tot, n_labels)
    return ll + np.log(prod)


@njit(cache=True, nogil=True, inline="always")
def _ds_estep_small(item_ptr, pairs, gold, log_prior, logct, start, stop,
                    post, counts, class_tot, accumulate, n_labels):
    """:func:`_ds_estep_body` for 2 to 4 classes: the per-class sums and posteriors
    live in scalars, which the compiler keeps in registers, where an array must be
    reloaded after every store because it might alias the parameters (about 20 % of
    the pass at 4 classes).  The ``n_labels > 2`` tests are loop-invariant branches;
    compiling one copy per class count was 5 % faster but cost 2 s more of first-call
    compilation."""
    ll = 0.0
    prod = 1.0  # see _add_term
    p2 = p3 = 0.0
    for i in range(start, stop):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        a0, a1, a2, a3 = _prior_regs(log_prior, n_labels)
        for j in range(lo, hi):
            r = pairs[j]
            a0 += logct[r, 0]
            a1 += logct[r, 1]
            if n_labels > 2:
                a2 += logct[r, 2]
            if n_labels > 3:
                a3 += logct[r, 3]
        g = gold[i]
        if g >= 0:  # one-hot posterior, term lp[g]
            p0 = 1.0 if g == 0 else 0.0
            p1 = 1.0 if g == 1 else 0.0
            p2 = 1.0 if g == 2 else 0.0
            p3 = 1.0 if g == 3 else 0.0
            term = (a0 if g == 0 else (a1 if g == 1 else (a2 if g == 2 else a3)), 1.0)
        else:  # softmax, term logsumexp = m + log(s)
            m = max(a0, a1)
            if n_labels > 2:
                m = max(m, a2)
            if n_labels > 3:
                m = max(m, a3)
            e0 = np.exp(a0 - m)
            e1 = np.exp(a1 - m)
            e2 = np.exp(a2 - m) if n_labels > 2 else 0.0
            e3 = np.exp(a3 - m) if n_labels > 3 else 0.0
            sm = e0 + e1 + e2 + e3
            inv = 1.0 / sm
            p0 = e0 * inv
            p1 = e1 * inv
            p2 = e2 * inv
            p3 = e3 * inv
            term = (m, sm)
        post[i, 0] = p0
        post[i, 1] = p1
        if n_labels > 2:
            post[i, 2] = p2
        if n_labels > 3:
            post[i, 3] = p3
        ll, prod = _add_term(ll, prod, term, i - start)
        if accumulate and (hi > lo or g >= 0):
            class_tot[0] += p0
            class_tot[1] += p1
            if n_labels > 2:
                class_tot[2] += p2
            if n_labels > 3:
                class_tot[3] += p3
            for j in range(lo, hi):
                r = pairs[j]
                counts[r, 0] += p0
                counts[r, 1] += p1
                if n_labels > 2:
                    counts[r, 2] += p2
                if n_labels > 3:
                    counts[r, 3] += p3
    return ll + np.log(prod)


@njit(cache=True, nogil=True)
def ds_estep_slice(item_ptr, pairs, gold, log_prior, logct, start, stop,
                   post, counts, class_tot, accumulate):
    """Dawid-Skene E-step for items ``start..stop-1``; returns their log-likelihood.

    ``log p(z_i = k | y) ∝ log_prior[k] + Σ_j logct[r_j, k]`` with ``r_j =
    pairs[j] = w_j * K + y_j`` (see the module docstring).  Gold items get a one-hot
    posterior and contribute ``log p(y_i, z_i = gold)``.  With ``accumulate``, adds
    ``post[i, k]`` to ``counts[r_j, k]`` for every annotation and to ``class_tot[k]``
    for every item with annotations or gold.

    Up to 4 classes the loop keeps the per-class values in scalars
    (:func:`_ds_estep_small`: about 1.3x faster at 4 classes); the arithmetic is the
    same for any count.
    """
    n_labels = log_prior.shape[0]
    if 2 <= n_labels <= 4:
        return _ds_estep_small(item_ptr, pairs, gold, log_prior, logct, start, stop,
                               post, counts, class_tot, accumulate, n_labels)
    return _ds_estep_body(item_ptr, pairs, gold, log_prior, logct, start, stop,
                          post, counts, class_tot, accumulate, n_labels)


@njit(cache=True, nogil=True, parallel=True)
def ds_estep_parallel(item_ptr, pairs, gold, log_prior, logct, bounds,
                      post, counts_buf, tot_buf, ll_buf, accumulate):
    """:func:`ds_estep_slice` over chunks ``bounds[c]..bounds[c+1]``; chunk ``c``
    zeroes and fills ``counts_buf[c]``, ``tot_buf[c]`` and ``ll_buf[c]``."""
    for c in prange(bounds.shape[0] - 1):
        if accumulate:
            counts_buf[c, :, :] = 0.0
            tot_buf[c, :] = 0.0
        ll_buf[c] = ds_estep_slice(item_ptr, pairs, gold, log_prior, logct,
                                   bounds[c], bounds[c + 1], post, counts_buf[c],
                                   tot_buf[c], accumulate)


#: items per block of :func:`ds_estep_fixed_slice` (its per-block buffers stay in L1)
_DS_BLOCK = 128


# The per-item steps shared by the fixed-width (2 to 4 class) blocked E-steps,
# :func:`ds_estep_fixed_slice` and :func:`crowdagg.kernels.mace.mace_estep_fixed_slice`:
# an item's ``K`` log posteriors live in scalars ``a0..a3`` and its posterior in
# ``p0..p3`` (registers); classes at and above ``n_labels`` are unused (``0.0``).
# Inlined into the caller, where ``n_labels`` is a compile-time constant.  Numba's
# on-disk cache of a caller in another file (mace.py) does not see edits here:
# after changing these, touch that file or clear its __pycache__.
@njit(cache=True, nogil=True, inline="always")
def _fixed_shift(buf, q, g, n_labels, a0, a1, a2, a3):
    """Write ``a_k - m`` into ``buf[q + k]``, ``k < n_labels``, with ``m`` the maximum
    of the log posteriors ``a_k`` (so that :func:`exp_nonpos` gets ``d <= 0``), and
    return ``m``, the item's log-likelihood term being ``m + log(sum_k exp(a_k - m))``;
    for a gold label ``g >= 0`` return ``a_g``, the term (the posterior is one-hot:
    :func:`_fixed_posterior` does not read ``buf``)."""
    m = a0 if a0 > a1 else a1
    if n_labels > 2:
        m = a2 if a2 > m else m
    if n_labels > 3:
        m = a3 if a3 > m else m
    buf[q] = a0 - m
    buf[q + 1] = a1 - m
    if n_labels > 2:
        buf[q + 2] = a2 - m
    if n_labels > 3:
        buf[q + 3] = a3 - m
    if g >= 0:
        return a0 if g == 0 else (a1 if g == 1 else (a2 if g == 2 else a3))
    return m


@njit(cache=True, nogil=True, inline="always")
def _fixed_posterior(buf, q, g, n_labels):
    """An item's posterior ``(p0, p1, p2, p3, sm)`` from ``buf[q:q + n_labels]``, the
    ``exp`` of what :func:`_fixed_shift` wrote: one-hot at a gold label ``g >= 0``
    (``sm = 1``), else ``buf`` over its sum ``sm`` (the log-likelihood term is then
    ``m + log(sm)``: pass ``(m, sm)`` to :func:`_add_term`)."""
    if g >= 0:
        return (1.0 if g == 0 else 0.0, 1.0 if g == 1 else 0.0,
                1.0 if g == 2 else 0.0, 1.0 if g == 3 else 0.0, 1.0)
    p0 = buf[q]
    p1 = buf[q + 1]
    p2 = buf[q + 2] if n_labels > 2 else 0.0
    p3 = buf[q + 3] if n_labels > 3 else 0.0
    sm = p0 + p1 + p2 + p3
    inv = 1.0 / sm
    return p0 * inv, p1 * inv, p2 * inv, p3 * inv, sm


@njit(cache=True, nogil=True, inline="always")
def _prior_regs(log_prior, n_labels):
    """The log class priors of 2-4 classes as four scalars (unused ones 0), the start of
    every item's per-class sums in the fixed-width E-steps."""
    a2 = log_prior[2] if n_labels > 2 else 0.0
    a3 = log_prior[3] if n_labels > 3 else 0.0
    return log_prior[0], log_prior[1], a2, a3


@njit(cache=True, nogil=True, inline="always")
def _store_fixed(post, i, n_labels, p0, p1, p2, p3):
    """``post[i, :n_labels] = (p0, p1, p2, p3)[:n_labels]``."""
    post[i, 0] = p0
    post[i, 1] = p1
    if n_labels > 2:
        post[i, 2] = p2
    if n_labels > 3:
        post[i, 3] = p3


@njit(cache=True, nogil=True, inline="always")
def _add_fixed(vec, n_labels, t0, t1, t2, t3):
    """``vec[:n_labels] += (t0, t1, t2, t3)[:n_labels]``."""
    vec[0] += t0
    vec[1] += t1
    if n_labels > 2:
        vec[2] += t2
    if n_labels > 3:
        vec[3] += t3


# Row gather / scatter of the fixed-width kernels as one vector load (+ add + store) of
# the row's ``K`` doubles, where Numba's scalar code was ``K`` loads (and ``K`` stores):
# LLVM's SLP vectoriser leaves ``counts[r, 0] += p0; ...; counts[r, 3] += p3`` scalar
# (read-modify-write of four doubles) and the per-class sums of the gather in four
# registers.  The lanes are the classes, so every class's sum is formed in the same
# order as before: results are bit-identical.  Non-contiguous rows fall back to one
# load per element.  Under NUMBA_DISABLE_JIT=1 the pure-Python twins below run.
def _row_pointers(context, builder, arrty, arr, r, rty, n):
    """Pointers to ``arr[r, 0..n-1]`` (``float64`` 2-d): one ``<n x double>*`` for a
    C-contiguous array, else ``n`` ``double*`` (``r >= 0``: no wraparound)."""
    ary = context.make_array(arrty)(context, builder, arr)
    strides = [builder.extract_value(ary.strides, d) for d in range(2)]
    row = context.cast(builder, r, rty, types.intp)
    base = builder.gep(builder.bitcast(ary.data, ir.IntType(8).as_pointer()), [builder.mul(row, strides[0])])
    if arrty.layout == "C":
        return builder.bitcast(base, ir.VectorType(ir.DoubleType(), n).as_pointer()), None
    dptr = ir.DoubleType().as_pointer()
    return None, [builder.bitcast(builder.gep(base, [builder.mul(ir.Constant(strides[1].type, k), strides[1])]),
                                  dptr) for k in range(n)]


def _load_row(builder, vptr, ptrs, n):
    if vptr is not None:
        return builder.load(vptr, align=8)
    vec = ir.Constant(ir.VectorType(ir.DoubleType(), n), ir.Undefined)
    for k in range(n):
        vec = builder.insert_element(vec, builder.load(ptrs[k], align=8), ir.Constant(ir.IntType(32), k))
    return vec


def _vector_of(builder, values, n):
    vec = ir.Constant(ir.VectorType(ir.DoubleType(), n), ir.Undefined)
    for k in range(n):
        vec = builder.insert_element(vec, values[k], ir.Constant(ir.IntType(32), k))
    return vec


def _check_row_types(arr, r, width):
    if not (isinstance(arr, types.Array) and arr.ndim == 2 and arr.dtype == types.float64):
        raise TypingError("_row_acc/_row_add need a 2-d float64 array")
    if not isinstance(r, types.Integer):
        raise TypingError("_row_acc/_row_add need an integer row")
    if not (isinstance(width, types.UniTuple) and 2 <= width.count <= 4):
        raise TypingError("_row_acc/_row_add need a width tuple of 2 to 4 floats")
    return width.count


@intrinsic
def _row_acc_llvm(typingctx, arr, r, width, a0, a1, a2, a3):
    n = _check_row_types(arr, r, width)
    f8 = types.float64
    rt = types.UniTuple(f8, 4)

    def codegen(context, builder, sig, args):
        vptr, ptrs = _row_pointers(context, builder, sig.args[0], args[0], args[1], sig.args[1], n)
        acc = [context.cast(builder, v, t, f8) for v, t in zip(args[3:], sig.args[3:])]
        s = builder.fadd(_vector_of(builder, acc, n), _load_row(builder, vptr, ptrs, n))
        out = [builder.extract_element(s, ir.Constant(ir.IntType(32), k)) if k < n else acc[k]
               for k in range(4)]
        return context.make_tuple(builder, rt, out)

    return rt(arr, r, width, a0, a1, a2, a3), codegen


@intrinsic
def _row_add_llvm(typingctx, arr, r, width, p0, p1, p2, p3):
    n = _check_row_types(arr, r, width)
    f8 = types.float64

    def codegen(context, builder, sig, args):
        vptr, ptrs = _row_pointers(context, builder, sig.args[0], args[0], args[1], sig.args[1], n)
        vals = [context.cast(builder, v, t, f8) for v, t in zip(args[3:], sig.args[3:])]
        s = builder.fadd(_load_row(builder, vptr, ptrs, n), _vector_of(builder, vals, n))
        if vptr is not None:
            builder.store(s, vptr, align=8)
        else:
            for k in range(n):
                builder.store(builder.extract_element(s, ir.Constant(ir.IntType(32), k)), ptrs[k], align=8)
        return context.get_dummy_value()

    return types.void(arr, r, width, p0, p1, p2, p3), codegen


def _index_at(context, builder, aryty, ary_val, j):
    """``ary[j]`` of a 1-d integer array, as ``intp`` (``j >= 0``: no wraparound)."""
    ary = context.make_array(aryty)(context, builder, ary_val)
    ptr = cgutils.get_item_pointer2(context, builder, ary.data, cgutils.unpack_tuple(builder, ary.shape),
                                    cgutils.unpack_tuple(builder, ary.strides), aryty.layout, [j])
    return context.cast(builder, builder.load(ptr), aryty.dtype, types.intp)


def _gather_codegen(n, row_of_j):
    """Codegen of ``(a0, .., a3) + Σ_{j = lo}^{hi - 1} arr[row_of_j(j), :]`` (first ``n``
    lanes) with the running sum in one vector register across the loop (an ``alloca``
    that LLVM promotes): :func:`_row_acc` in a loop of Numba code rebuilt the vector
    from four scalars and took it apart again at every answer (six shuffles)."""
    f8 = types.float64
    rt = types.UniTuple(f8, 4)

    def codegen(context, builder, sig, args):
        nfix = len(sig.args) - 4  # arr, index arrays..., lo, hi, width | a0..a3 at the end
        arrty, arr = sig.args[0], args[0]
        lo = context.cast(builder, args[nfix - 3], sig.args[nfix - 3], types.intp)
        hi = context.cast(builder, args[nfix - 2], sig.args[nfix - 2], types.intp)
        acc = [context.cast(builder, v, t, f8) for v, t in zip(args[nfix:], sig.args[nfix:])]
        slot = cgutils.alloca_once_value(builder, _vector_of(builder, acc, n))
        with cgutils.for_range_slice(builder, lo, hi, ir.Constant(lo.type, 1)) as (j, _):
            r = row_of_j(context, builder, sig, args, j)
            vptr, ptrs = _row_pointers(context, builder, arrty, arr, r, types.intp, n)
            builder.store(builder.fadd(builder.load(slot), _load_row(builder, vptr, ptrs, n)), slot)
        s = builder.load(slot)
        out = [builder.extract_element(s, ir.Constant(ir.IntType(32), k)) if k < n else acc[k]
               for k in range(4)]
        return context.make_tuple(builder, rt, out)

    return rt, codegen


def _check_index(arr):
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and isinstance(arr.dtype, types.Integer)):
        raise TypingError("_gather_rows*: index arrays must be 1-d integer arrays")


@intrinsic
def _gather_rows_llvm(typingctx, arr, idx, lo, hi, width, a0, a1, a2, a3):
    n = _check_row_types(arr, lo, width)
    _check_index(idx)

    def row_of_j(context, builder, sig, args, j):
        return _index_at(context, builder, sig.args[1], args[1], j)

    rt, codegen = _gather_codegen(n, row_of_j)
    return rt(arr, idx, lo, hi, width, a0, a1, a2, a3), codegen


@intrinsic
def _gather_rows2_llvm(typingctx, arr, major, minor, lo, hi, width, a0, a1, a2, a3):
    n = _check_row_types(arr, lo, width)
    _check_index(major)
    _check_index(minor)

    def row_of_j(context, builder, sig, args, j):
        w = _index_at(context, builder, sig.args[1], args[1], j)
        y = _index_at(context, builder, sig.args[2], args[2], j)
        return builder.add(builder.mul(w, ir.Constant(w.type, n)), y)

    rt, codegen = _gather_codegen(n, row_of_j)
    return rt(arr, major, minor, lo, hi, width, a0, a1, a2, a3), codegen


def _gather_rows_py(arr, idx, lo, hi, width, a0, a1, a2, a3):
    for j in range(lo, hi):
        a0, a1, a2, a3 = _row_acc_py(arr, idx[j], width, a0, a1, a2, a3)
    return a0, a1, a2, a3


def _gather_rows2_py(arr, major, minor, lo, hi, width, a0, a1, a2, a3):
    n = len(width)
    for j in range(lo, hi):
        a0, a1, a2, a3 = _row_acc_py(arr, major[j] * n + minor[j], width, a0, a1, a2, a3)
    return a0, a1, a2, a3


def _lane(k):
    return ir.Constant(ir.IntType(32), k)


@intrinsic
def _posterior_row_llvm(typingctx, buf, q, g, post, i, width):
    """Vector form of :func:`_fixed_posterior` + :func:`_store_fixed`: ``post[i, :K] =
    buf[q:q + K] / sm`` with ``sm`` their sum in lane order (one-hot at a gold label
    ``g >= 0``, ``sm = 1``); returns ``sm``.  Same operations per lane: bit-identical."""
    n = _check_row_types(post, i, width)
    if not (isinstance(buf, types.Array) and buf.ndim == 1 and buf.dtype == types.float64
            and buf.layout == "C"):
        raise TypingError("_posterior_row needs a contiguous 1-d float64 buffer")
    f8 = types.float64

    def codegen(context, builder, sig, args):
        bty, qty, gty, pty, ity, _ = sig.args
        bufv, qv, gv, postv, iv, _ = args
        vty = ir.VectorType(ir.DoubleType(), n)
        b = context.make_array(bty)(context, builder, bufv)
        qq = context.cast(builder, qv, qty, types.intp)
        v = builder.load(builder.bitcast(builder.gep(b.data, [qq]), vty.as_pointer()), align=8)
        e = [builder.extract_element(v, _lane(k)) for k in range(n)]
        sm = e[0]
        for k in range(1, n):
            sm = builder.fadd(sm, e[k])
        one = context.get_constant(f8, 1.0)
        inv = builder.fdiv(one, sm)
        pv = builder.fmul(v, _vector_of(builder, [inv] * n, n))
        gg = context.cast(builder, gv, gty, types.int64)
        is_gold = builder.icmp_signed(">=", gg, ir.Constant(ir.IntType(64), 0))
        hot = _vector_of(builder, [builder.select(builder.icmp_signed("==", gg, ir.Constant(ir.IntType(64), k)),
                                                  one, context.get_constant(f8, 0.0)) for k in range(n)], n)
        pv = builder.select(is_gold, hot, pv)
        vptr, ptrs = _row_pointers(context, builder, pty, postv, iv, ity, n)
        if vptr is not None:
            builder.store(pv, vptr, align=8)
        else:
            for k in range(n):
                builder.store(builder.extract_element(pv, _lane(k)), ptrs[k], align=8)
        return builder.select(is_gold, one, sm)

    return f8(buf, q, g, post, i, width), codegen


@intrinsic
def _scatter_row_llvm(typingctx, counts, idx, lo, hi, post, i, tacc, width):
    """``tacc[0, :K] += post[i, :K]`` and ``counts[idx[j], :K] += post[i, :K]`` for ``j``
    in ``lo..hi-1``, the posterior row loaded once as a vector (the statistics of one
    item in :func:`ds_estep_fixed_slice`; same sums in the same order)."""
    n = _check_row_types(counts, lo, width)
    _check_row_types(post, i, width)
    _check_row_types(tacc, i, width)
    _check_index(idx)

    def codegen(context, builder, sig, args):
        cty, xty, loty, hity, pty, ity, tty, _ = sig.args
        cv, xv, lov, hiv, pv_, iv, tv, _ = args
        vptr, ptrs = _row_pointers(context, builder, pty, pv_, iv, ity, n)
        p = _load_row(builder, vptr, ptrs, n)

        def add_to(arrty, arr, r, rty):
            vp, ps = _row_pointers(context, builder, arrty, arr, r, rty, n)
            s = builder.fadd(_load_row(builder, vp, ps, n), p)
            if vp is not None:
                builder.store(s, vp, align=8)
            else:
                for k in range(n):
                    builder.store(builder.extract_element(s, _lane(k)), ps[k], align=8)

        add_to(tty, tv, context.get_constant(types.intp, 0), types.intp)
        lo = context.cast(builder, lov, loty, types.intp)
        hi = context.cast(builder, hiv, hity, types.intp)
        with cgutils.for_range_slice(builder, lo, hi, ir.Constant(lo.type, 1)) as (j, _):
            add_to(cty, cv, _index_at(context, builder, xty, xv, j), types.intp)
        return context.get_dummy_value()

    return types.void(counts, idx, lo, hi, post, i, tacc, width), codegen


def _posterior_row_py(buf, q, g, post, i, width):
    n = len(width)
    if g >= 0:
        post[i, :n] = 0.0
        post[i, g] = 1.0
        return 1.0
    sm = buf[q]
    for k in range(1, n):
        sm += buf[q + k]
    inv = 1.0 / sm
    for k in range(n):
        post[i, k] = buf[q + k] * inv
    return sm


def _scatter_row_py(counts, idx, lo, hi, post, i, tacc, width):
    n = len(width)
    for k in range(n):
        tacc[0, k] += post[i, k]
    for j in range(lo, hi):
        for k in range(n):
            counts[idx[j], k] += post[i, k]


def _row_acc_py(arr, r, width, a0, a1, a2, a3):
    n = len(width)
    row = arr[r]
    return (a0 + row[0], a1 + row[1], a2 + row[2] if n > 2 else a2, a3 + row[3] if n > 3 else a3)


def _row_add_py(arr, r, width, p0, p1, p2, p3):
    row = arr[r]
    for k, p in enumerate((p0, p1, p2, p3)[:len(width)]):
        row[k] += p


#: ``(a0 + arr[r, 0], ..., a3 + arr[r, 3])`` for the first ``len(width)`` classes
#: (the others returned unchanged): the gather of the fixed-width E-steps
_row_acc = _row_acc_py if config.DISABLE_JIT else _row_acc_llvm
#: ``arr[r, :K] += (p0, p1, p2, p3)[:K]``, ``K = len(width)``: their count scatter
_row_add = _row_add_py if config.DISABLE_JIT else _row_add_llvm
#: ``(a0, .., a3) + Σ_{j = lo}^{hi - 1} arr[idx[j], :K]`` (same lanes as :data:`_row_acc`,
#: sums in the order of ``j``): an item's per-class sums, one vector register
_gather_rows = _gather_rows_py if config.DISABLE_JIT else _gather_rows_llvm
#: :data:`_gather_rows` with the rows ``major[j] * K + minor[j]`` (MACE: worker, label)
_gather_rows2 = _gather_rows2_py if config.DISABLE_JIT else _gather_rows2_llvm
#: ``post[i, :K] = buf[q:q + K] / sm`` (one-hot at gold ``g >= 0``), returns ``sm``
_posterior_row = _posterior_row_py if config.DISABLE_JIT else _posterior_row_llvm
#: ``tacc[0] += post[i]`` and ``counts[idx[j]] += post[i]``, ``lo <= j < hi`` (first ``K`` lanes)
_scatter_row = _scatter_row_py if config.DISABLE_JIT else _scatter_row_llvm


@njit(cache=True, nogil=True)
def ds_estep_fixed_slice(item_ptr, pairs, gold, log_prior, logct, start, stop,
                         post, counts, class_tot, accumulate, width):
    """:func:`ds_estep_slice` for 2 to 4 classes, the class count fixed at compile time
    by ``width``, any tuple of ``K`` floats (``(0.0,) * K``): one compiled copy per
    class count in use, compiled on its first call.  Same statistics and posteriors
    (``exp`` within 2 ulp, :func:`exp_nonpos`); the log-likelihood is summed in the
    same order.  ``gold`` may be empty: no item has gold (the same results as all
    ``-1``, without reading a gold code per item).

    Items run in blocks of :data:`_DS_BLOCK`: (1) the log posteriors of the block,
    less their maximum, into a small contiguous buffer (per-class sums in scalars:
    registers); (2) ``exp`` of the buffer in one loop of independent iterations
    (vectorised); (3) normalisation into ``post``, log-likelihood terms and the count
    statistics.  With the per-item library ``exp`` calls of :func:`ds_estep_slice`,
    each item was one long dependency chain that the CPU could not overlap with the
    next: at 1M annotations x 4 classes a serial pass went from about 12.5 to 6.5
    CPU-ms (``docs/benchmarks.md``, "Roofline").
    """
    n_labels = len(width)
    has_gold = gold.shape[0] > 0  # empty: no gold item (no per-item read)
    ll = 0.0
    prod = 1.0  # see _add_term
    term = np.empty(_DS_BLOCK)
    buf = np.empty(_DS_BLOCK * n_labels)  # the block's log posteriors, then their exp
    tacc = np.zeros((1, n_labels))  # the class totals (one row: _scatter_row adds to it)
    for b in range(start, stop, _DS_BLOCK):
        e = min(b + _DS_BLOCK, stop)
        for i in range(b, e):
            a0, a1, a2, a3 = _prior_regs(log_prior, n_labels)
            a0, a1, a2, a3 = _gather_rows(logct, pairs, item_ptr[i], item_ptr[i + 1], width, a0, a1, a2, a3)
            term[i - b] = _fixed_shift(buf, (i - b) * n_labels, gold[i] if has_gold else -1, n_labels, a0, a1, a2, a3)
        for q in range((e - b) * n_labels):  # contiguous and independent: vectorised
            buf[q] = exp_nonpos(buf[q])
        for i in range(b, e):
            g = gold[i] if has_gold else -1
            sm = _posterior_row(buf, (i - b) * n_labels, g, post, i, width)
            ll, prod = _add_term(ll, prod, (term[i - b], sm), i - start)
            lo = item_ptr[i]
            hi = item_ptr[i + 1]
            if accumulate and (hi > lo or g >= 0):
                _scatter_row(counts, pairs, lo, hi, post, i, tacc, width)
    if accumulate:
        for k in range(n_labels):
            class_tot[k] += tacc[0, k]
    return ll + np.log(prod)


@njit(cache=True, nogil=True, parallel=True)
def ds_estep_fixed_parallel(item_ptr, pairs, gold, log_prior, logct, bounds,
                            post, counts_buf, tot_buf, ll_buf, accumulate, width):
    """:func:`ds_estep_fixed_slice` over chunks, as :func:`ds_estep_parallel`."""
    for c in prange(bounds.shape[0] - 1):
        if accumulate:
            counts_buf[c, :, :] = 0.0
            tot_buf[c, :] = 0.0
        ll_buf[c] = ds_estep_fixed_slice(item_ptr, pairs, gold, log_prior, logct,
                                         bounds[c], bounds[c + 1], post, counts_buf[c],
                                         tot_buf[c], accumulate, width)


@njit(cache=True, nogil=True)
def ds_counts_slice(item_ptr, pairs, gold, post, start, stop, counts, class_tot):
    """Count statistics from given posteriors, items ``start..stop-1`` in CSR order.

    The accumulation of :func:`ds_estep_slice` without the E-step:
    ``counts[pairs[j], k] += post[i, k]`` for every annotation and ``class_tot[k] +=
    post[i, k]`` for every item with annotations or gold.  Used for the initial
    M-step, the hard-EM M-step and per Dask partition (serial: a few ms at 1M
    annotations, and no parallel wrapper to compile); reads the posteriors in order
    and needs no worker grouping, unlike :func:`ds_counts_by_worker_slice`.
    """
    n_labels = post.shape[1]
    for i in range(start, stop):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        if hi > lo or gold[i] >= 0:
            _ds_add_item(pairs, lo, hi, post, i, counts, class_tot, n_labels)


@njit(cache=True, nogil=True)
def ds_counts_by_worker_slice(worker_ptr, worker_index, item_codes, labels, post, wstart, wstop, counts):
    """Count statistics from given posteriors, per worker ``wstart..wstop-1``.

    ``counts[w, y, k] += post[i, k]`` over the annotations ``(i, w, y)`` of each
    worker (read through the worker permutation).  Used for the initial M-step and
    when per-chunk buffers would be too large.
    """
    n_labels = post.shape[1]
    for w in range(wstart, wstop):
        for p in range(worker_ptr[w], worker_ptr[w + 1]):
            j = worker_index[p]
            i = item_codes[j]
            y = labels[j]
            for k in range(n_labels):
                counts[w, y, k] += post[i, k]


@njit(cache=True, nogil=True, parallel=True)
def ds_counts_by_worker_parallel(worker_ptr, worker_index, item_codes, labels, post, bounds, counts):
    """:func:`ds_counts_by_worker_slice` over worker chunks (each worker in one chunk)."""
    for c in prange(bounds.shape[0] - 1):
        ds_counts_by_worker_slice(worker_ptr, worker_index, item_codes, labels, post,
                                  bounds[c], bounds[c + 1], counts)


@njit(cache=True, nogil=True)
def sum_chunks(buf):
    """``buf.sum(axis=0)`` of per-chunk statistics (any shape after the chunk axis,
    C-contiguous), chunk by chunk in order (the same sums as NumPy's): a NumPy
    reduction of 4 x 16k doubles cost ~0.2 ms a pass, about 5 % of a Dawid-Skene
    E-step at 1M answers."""
    n = buf.shape[0]
    flat = buf.reshape(n, -1)
    out = flat[0].copy()
    for c in range(1, n):
        row = flat[c]
        for q in range(out.shape[0]):
            out[q] += row[q]
    return out.reshape(buf.shape[1:])


@njit(cache=True, nogil=True)
def ds_mstep_confusions(counts, smoothing, correct_prior):
    """Dawid-Skene's M-step of the confusion matrices from the counts in the E-step's
    layout (workers x observed x true): ``(counts + a + c [observed == true])``
    normalised over the observed axis, in the same layout (a new array).

    The operations of ``ct = counts + a; ct[:, i, i] += c; ct /= ct.sum(axis=1,
    keepdims=True)`` in the same order (bit-identical), in one pass over the few
    thousand cells instead of five NumPy calls (about 0.3 ms an iteration at 1,000
    workers x 4 classes)."""
    n_workers, n_labels, _ = counts.shape
    ct = np.empty_like(counts)
    col = np.empty(n_labels)
    for w in range(n_workers):
        for y in range(n_labels):
            for k in range(n_labels):
                v = counts[w, y, k] + smoothing
                if correct_prior != 0.0 and y == k:
                    v += correct_prior
                ct[w, y, k] = v
        for k in range(n_labels):
            col[k] = ct[w, 0, k]
        for y in range(1, n_labels):
            for k in range(n_labels):
                col[k] += ct[w, y, k]
        for y in range(n_labels):
            for k in range(n_labels):
                ct[w, y, k] /= col[k]
    return ct


# --------------------------------------------------------------------------- one-coin
@njit(cache=True, nogil=True)
def oc_estep_slice(item_ptr, workers, labels, gold, log_prior, log_s, log_e, start, stop,
                   post, corr, class_tot, accumulate):
    """One-coin Dawid-Skene E-step for items ``start..stop-1``; returns the log-likelihood.

    ``log p(y | z = k) = log_s[w]`` if ``y == k`` else ``log_e[w]``.  With
    ``accumulate``, adds ``post[i, y_j]`` to ``corr[w_j]`` and the posterior to
    ``class_tot`` (items with annotations or gold).
    """
    n_labels = log_prior.shape[0]
    lp = np.empty(n_labels)
    ll = 0.0
    prod = 1.0  # see _add_term
    for i in range(start, stop):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        for k in range(n_labels):
            lp[k] = log_prior[k]
        base = 0.0
        for j in range(lo, hi):
            w = workers[j]
            base += log_e[w]
            lp[labels[j]] += log_s[w] - log_e[w]
        for k in range(n_labels):
            lp[k] += base
        g = gold[i]
        ll, prod = _add_term(ll, prod, _item_posterior(lp, g, i, post), i - start)
        if accumulate and (hi > lo or g >= 0):
            for k in range(n_labels):
                class_tot[k] += post[i, k]
            for j in range(lo, hi):
                corr[workers[j]] += post[i, labels[j]]
    return ll + np.log(prod)


@njit(cache=True, nogil=True)
def oc_counts_slice(item_ptr, workers, labels, gold, post, start, stop, corr, class_tot):
    """One-coin statistics from given posteriors, items ``start..stop-1`` in CSR order:
    ``corr[w_j] += post[i, y_j]`` for every annotation and ``class_tot[k] += post[i, k]``
    for every item with annotations or gold (the accumulation of :func:`oc_estep_slice`
    without the E-step).  The sums run in annotation order, as ``np.bincount(workers,
    post[items, labels])`` and ``post[used].sum(axis=0)`` do (bit-identical), in one
    pass without the two gathered temporaries (~20 ms less per one-coin fit at 1M)."""
    n_labels = post.shape[1]
    for i in range(start, stop):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        if hi > lo or gold[i] >= 0:
            for k in range(n_labels):
                class_tot[k] += post[i, k]
            for j in range(lo, hi):
                corr[workers[j]] += post[i, labels[j]]


@njit(cache=True, nogil=True, parallel=True)
def oc_estep_parallel(item_ptr, workers, labels, gold, log_prior, log_s, log_e, bounds,
                      post, corr_buf, tot_buf, ll_buf, accumulate):
    """:func:`oc_estep_slice` over item chunks, one statistics buffer per chunk."""
    for c in prange(bounds.shape[0] - 1):
        if accumulate:
            corr_buf[c, :] = 0.0
            tot_buf[c, :] = 0.0
        ll_buf[c] = oc_estep_slice(item_ptr, workers, labels, gold, log_prior, log_s, log_e,
                                   bounds[c], bounds[c + 1], post, corr_buf[c], tot_buf[c],
                                   accumulate)


# --------------------------------------------------------------------------- weighted vote
@njit(cache=True, nogil=True)
def wv_estep_slice(item_ptr, workers, labels, gold, weights, start, stop, post, agree, accumulate):
    """Weighted-vote "E-step" (Wawa, ZeroBasedSkill) for items ``start..stop-1``.

    ``post[i]`` = weighted vote shares (uniform when the item has no annotation or
    zero total weight; one-hot for gold items).  The aggregate label is the gold
    label or the first label of maximal share.  With ``accumulate``, adds 1 to
    ``agree[w_j]`` for every answer equal to the aggregate label.  Returns the total
    weight of the votes for the aggregate labels (a score, not a likelihood).
    """
    n_labels = post.shape[1]
    score = 0.0
    for i in range(start, stop):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        for k in range(n_labels):
            post[i, k] = 0.0
        total = 0.0
        for j in range(lo, hi):
            wt = weights[workers[j]]
            post[i, labels[j]] += wt
            total += wt
        g = gold[i]
        best = -1
        if g >= 0:
            best = g
        elif hi > lo:
            best = 0
            for k in range(1, n_labels):
                if post[i, k] > post[i, best]:
                    best = k
        if best >= 0:
            score += post[i, best]
        if g >= 0:
            for k in range(n_labels):
                post[i, k] = 0.0
            post[i, g] = 1.0
        elif total > 0.0:
            inv = 1.0 / total
            for k in range(n_labels):
                post[i, k] *= inv
        else:
            for k in range(n_labels):
                post[i, k] = 1.0 / n_labels
        if accumulate and best >= 0:
            for j in range(lo, hi):
                if labels[j] == best:
                    agree[workers[j]] += 1.0
    return score


@njit(cache=True, nogil=True, parallel=True)
def wv_estep_parallel(item_ptr, workers, labels, gold, weights, bounds, post, agree_buf, score_buf, accumulate):
    """:func:`wv_estep_slice` over item chunks, one statistics buffer per chunk."""
    for c in prange(bounds.shape[0] - 1):
        if accumulate:
            agree_buf[c, :] = 0.0
        score_buf[c] = wv_estep_slice(item_ptr, workers, labels, gold, weights, bounds[c],
                                      bounds[c + 1], post, agree_buf[c], accumulate)


@njit(cache=True, nogil=True, inline="always")
def _first_max(n_labels, a0, a1, a2, a3):
    """``(b, a_b)``: the first maximum of ``a_0..a_{K-1}``, ``K = n_labels`` (2 to 4),
    as selects (a branch per class was mispredicted on random labels)."""
    c = a1 > a0
    b = 1 if c else 0
    m = a1 if c else a0
    if n_labels > 2:
        c = a2 > m
        b = 2 if c else b
        m = a2 if c else m
    if n_labels > 3:
        c = a3 > m
        b = 3 if c else b
        m = a3 if c else m
    return b, m


@njit(cache=True, nogil=True)
def wv_estep_fixed_slice(item_ptr, pairs, gold, vrows, pw, start, stop, post, hits, accumulate, width):
    """:func:`wv_estep_slice` for 2 to 4 classes, the class count fixed at compile time by
    ``width`` (``(0.0,) * K``), read through Dawid-Skene's pair index ``pairs[j] = w * K +
    y`` (see the module docstring) instead of worker and label codes: the same
    posteriors, aggregate labels and score, bit for bit.  ``gold`` may be empty (no
    gold item, no per-item read).

    ``vrows[w * K + y] = weights[w] * e_y`` (the weight in the answer's column, ``0.0``
    elsewhere) and ``pw[w * K + y] = weights[w]`` (:func:`wv_rows`): an item's vote
    shares are the sum of its answers' ``vrows`` rows, one vector load and add per
    answer with the ``K`` shares in one register (:data:`_gather_rows`; each share is
    summed in answer order, as the generic kernel's ``post[i, y] += weights[w]``, and
    adding ``0.0`` changes no sum), and its total weight ``Σ_j pw[pairs[j]]`` in answer
    order as before.  The generic kernel's per-answer read-modify-write of ``post[i,
    y]`` (a store-to-load chain through memory) and its two index arrays were most of
    its pass.

    With ``accumulate`` the agreement statistics go to ``hits`` (``W * K * K``,
    flat): ``hits[pairs[j] * K + best_i] += 1`` for every answer of an item with an
    aggregate label ``best_i``, so that ``agree[w] = Σ_y hits[(w * K + y) * K + y]``
    (:func:`wv_agreement`; integer counts, exact in any order).  No compare and no
    division per answer: the ``(y == best)`` test with ``w = r // K`` cost a quarter of
    the pass.
    """
    n_labels = len(width)
    has_gold = gold.shape[0] > 0
    uni = 1.0 / n_labels
    score = 0.0
    for i in range(start, stop):
        lo = item_ptr[i]
        hi = item_ptr[i + 1]
        a0, a1, a2, a3 = _gather_rows(vrows, pairs, lo, hi, width, 0.0, 0.0, 0.0, 0.0)
        total = 0.0
        for j in range(lo, hi):
            total += pw[pairs[j]]
        b, m = _first_max(n_labels, a0, a1, a2, a3)  # ties go to the lower label
        g = gold[i] if has_gold else -1
        if g >= 0:
            best = g
            score += a0 if g == 0 else (a1 if g == 1 else (a2 if g == 2 else a3))
            p0 = 1.0 if g == 0 else 0.0
            p1 = 1.0 if g == 1 else 0.0
            p2 = 1.0 if g == 2 else 0.0
            p3 = 1.0 if g == 3 else 0.0
        else:
            has = hi > lo
            best = b if has else -1
            score += m if has else 0.0
            pos = total > 0.0  # else uniform (no answer, or only zero weights)
            inv = 1.0 / total if pos else 0.0
            p0 = a0 * inv if pos else uni
            p1 = a1 * inv if pos else uni
            p2 = a2 * inv if pos else uni
            p3 = a3 * inv if pos else uni
        _store_fixed(post, i, n_labels, p0, p1, p2, p3)
        if accumulate and best >= 0:
            for j in range(lo, hi):
                hits[pairs[j] * n_labels + best] += 1.0
    return score


@njit(cache=True, nogil=True, parallel=True)
def wv_estep_fixed_parallel(item_ptr, pairs, gold, vrows, pw, bounds, post, hits_buf, score_buf, accumulate,
                            width):
    """:func:`wv_estep_fixed_slice` over item chunks, one ``hits`` row per chunk."""
    for c in prange(bounds.shape[0] - 1):
        if accumulate:
            hits_buf[c, :] = 0.0
        score_buf[c] = wv_estep_fixed_slice(item_ptr, pairs, gold, vrows, pw, bounds[c], bounds[c + 1], post,
                                            hits_buf[c], accumulate, width)


def wv_agreement(hits, n_labels):
    """Agreement counts per worker from :func:`wv_estep_fixed_slice`'s ``hits``:
    ``agree[w] = Σ_y hits[w, y, y]`` (``hits`` reshaped to ``W x K x K``)."""
    h = np.asarray(hits).reshape(-1, n_labels, n_labels)
    idx = np.arange(n_labels)
    return h[:, idx, idx].sum(axis=1)


def wv_rows(weights, n_labels):
    """The tables of :func:`wv_estep_fixed_slice` from worker weights: ``vrows``
    (``(W * K) x K``, ``vrows[w * K + y, y] = weights[w]``, zeros elsewhere) and ``pw``
    (``pw[w * K + y] = weights[w]``)."""
    w = np.ascontiguousarray(weights, dtype=np.float64)
    vrows = np.zeros((w.shape[0], n_labels, n_labels))
    idx = np.arange(n_labels)
    vrows[:, idx, idx] = w[:, None]
    return vrows.reshape(-1, n_labels), np.repeat(w, n_labels)
