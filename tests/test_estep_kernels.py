"""The fixed-width (2-4 class) Dawid-Skene, MACE and weighted-vote E-step kernels against
the naive references and the generic kernels: posteriors, log-likelihoods and statistics,
with and without gold, contiguous and strided buffers, serial and chunked (``prange``) runs."""

from __future__ import annotations

import numpy as np
import pytest
from naive_em import ds_estep_stats, weighted_vote
from naive_glad_mace import naive_mace_estep
from numba import njit

from crowdagg.kernels._util import chunk_bounds
from crowdagg.kernels.em import (
    _gather_rows,
    _gather_rows2,
    _gather_rows2_py,
    _gather_rows_py,
    _posterior_row,
    _posterior_row_py,
    _row_acc,
    _row_acc_py,
    _row_add,
    _row_add_py,
    _scatter_row,
    _scatter_row_py,
    ds_estep_fixed_parallel,
    ds_estep_fixed_slice,
    ds_estep_slice,
    ds_mstep_confusions,
    oc_counts_slice,
    sum_chunks,
    wv_agreement,
    wv_estep_fixed_parallel,
    wv_estep_fixed_slice,
    wv_estep_slice,
    wv_rows,
)
from crowdagg.kernels.mace import (
    mace_answer_log_probs,
    mace_estep_fixed_parallel,
    mace_estep_fixed_slice,
    mace_estep_ratio_slice,
    mace_know_ratio,
    mace_log_params,
)


def _crowd(rng, n_items, n_workers, k, per_item=4, with_gold=True):
    """CSR arrays of a random crowd (items in order, some items without answers)."""
    item = np.repeat(np.arange(n_items), rng.integers(0, per_item + 1, n_items))
    worker = rng.integers(n_workers, size=item.shape[0])
    label = rng.integers(k, size=item.shape[0])
    item_ptr = np.zeros(n_items + 1, np.int64)
    np.add.at(item_ptr, item + 1, 1)
    item_ptr = np.cumsum(item_ptr)
    gold = np.full(n_items, -1, np.int64)
    if with_gold:
        g = rng.choice(n_items, max(1, n_items // 10), replace=False)
        gold[g] = rng.integers(k, size=g.shape[0])
    return item, worker, label, item_ptr, gold


def _ds_params(rng, n_workers, k):
    conf = rng.dirichlet(np.full(k, 2.0), size=(n_workers, k))  # worker x true x observed
    prior = rng.dirichlet(np.full(k, 3.0))
    logct = np.ascontiguousarray(np.log(conf).transpose(0, 2, 1)).reshape(-1, k)
    return conf, prior, logct


CASES = [(k, gold, seed) for k in (2, 3, 4) for gold in (False, True) for seed in (0, 1)]


@pytest.mark.parametrize("k,with_gold,seed", CASES)
def test_ds_fixed_matches_naive_and_generic(k, with_gold, seed):
    rng = np.random.default_rng(seed)
    n_items, n_workers = 300 + 7 * seed, 9  # several blocks of 128, a partial last block
    item, worker, label, item_ptr, gold = _crowd(rng, n_items, n_workers, k, with_gold=with_gold)
    conf, prior, logct = _ds_params(rng, n_workers, k)
    ref_post, ref_ll, ref_counts, ref_tot = ds_estep_stats(item, worker, label, n_items, np.log(prior), conf, gold)
    pairs = (worker * k + label).astype(np.int32)
    post, counts, tot = np.empty((n_items, k)), np.zeros((n_workers * k, k)), np.zeros(k)
    ll = ds_estep_fixed_slice(item_ptr, pairs, gold, np.log(prior), logct, 0, n_items, post, counts, tot,
                              True, (0.0,) * k)
    np.testing.assert_allclose(post, ref_post, rtol=0, atol=1e-12)
    assert ll == pytest.approx(ref_ll, rel=1e-12)
    np.testing.assert_allclose(counts.reshape(n_workers, k, k), ref_counts, rtol=0, atol=1e-10)
    np.testing.assert_allclose(tot, ref_tot, rtol=0, atol=1e-10)
    # the generic kernel: same sums in the same order (exp within 2 ulp)
    post2, counts2, tot2 = np.empty((n_items, k)), np.zeros((n_workers * k, k)), np.zeros(k)
    ll2 = ds_estep_slice(item_ptr, pairs, gold, np.log(prior), logct, 0, n_items, post2, counts2, tot2, True)
    np.testing.assert_allclose(post, post2, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(counts, counts2, rtol=1e-14, atol=1e-14)
    assert ll == pytest.approx(ll2, rel=1e-14)


@pytest.mark.parametrize("k", [2, 4])
def test_fixed_kernels_empty_gold_is_no_gold(k):
    """An empty gold array means "no gold item": bit-identical to all ``-1``."""
    rng = np.random.default_rng(8)
    n_items, n_workers = 400, 7
    item, worker, label, item_ptr, _ = _crowd(rng, n_items, n_workers, k, with_gold=False)
    conf, prior, logct = _ds_params(rng, n_workers, k)
    pairs = (worker * k + label).astype(np.int32)
    out = []
    for gold in (np.full(n_items, -1, np.int64), np.empty(0, np.int64)):
        post, counts, tot = np.empty((n_items, k)), np.zeros((n_workers * k, k)), np.zeros(k)
        ll = ds_estep_fixed_slice(item_ptr, pairs, gold, np.log(prior), logct, 0, n_items, post, counts, tot,
                                  True, (0.0,) * k)
        ls, lb, lk = mace_log_params(*_mace_params(np.random.default_rng(9), n_workers, k))
        mpost, kc, sc, mt = np.empty((n_items, k)), np.zeros(n_workers), np.zeros((n_workers, k)), np.zeros(k)
        mll = mace_estep_fixed_slice(item_ptr, worker, label, gold, np.log(prior), mace_answer_log_probs(ls, lb),
                                     mace_know_ratio(lk, lb), 0, n_items, mpost, kc, sc, mt, True, (0.0,) * k)
        out.append((ll, post, counts, tot, mll, mpost, kc, sc, mt))
    for a, b in zip(*out):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_ds_fixed_strided_buffers_and_no_accumulate(k):
    """Strided (non-contiguous) parameter and count rows take the element-wise path of
    the row gather/scatter: same results; ``accumulate=False`` leaves the counts alone."""
    rng = np.random.default_rng(5)
    n_items, n_workers = 200, 6
    item, worker, label, item_ptr, gold = _crowd(rng, n_items, n_workers, k)
    conf, prior, logct = _ds_params(rng, n_workers, k)
    pairs = (worker * k + label).astype(np.int64)
    post, counts, tot = np.empty((n_items, k)), np.zeros((n_workers * k, k)), np.zeros(k)
    ll = ds_estep_fixed_slice(item_ptr, pairs, gold, np.log(prior), logct, 0, n_items, post, counts, tot,
                              True, (0.0,) * k)
    wide = np.zeros((n_workers * k, 2 * k))
    wide[:, ::2] = logct
    logct_s = wide[:, ::2]
    counts_s = np.zeros((n_workers * k, 2 * k))[:, 1::2]
    assert not logct_s.flags.c_contiguous and not counts_s.flags.c_contiguous
    post_s, tot_s = np.empty((n_items, k)), np.zeros(k)
    ll_s = ds_estep_fixed_slice(item_ptr, pairs, gold, np.log(prior), logct_s, 0, n_items, post_s, counts_s, tot_s,
                                True, (0.0,) * k)
    assert ll_s == ll
    np.testing.assert_array_equal(post_s, post)
    np.testing.assert_array_equal(counts_s, counts)
    np.testing.assert_array_equal(tot_s, tot)
    untouched = np.full((n_workers * k, k), 7.0)
    ll_n = ds_estep_fixed_slice(item_ptr, pairs, gold, np.log(prior), logct, 0, n_items, post_s, untouched, tot_s,
                                False, (0.0,) * k)
    assert ll_n == ll and (untouched == 7.0).all()
    np.testing.assert_array_equal(post_s, post)


@pytest.mark.parametrize("k", [2, 4])
def test_ds_fixed_parallel_chunks_sum_to_serial(k):
    rng = np.random.default_rng(11)
    n_items, n_workers = 2000, 15
    item, worker, label, item_ptr, gold = _crowd(rng, n_items, n_workers, k)
    conf, prior, logct = _ds_params(rng, n_workers, k)
    pairs = (worker * k + label).astype(np.int32)
    post, counts, tot = np.empty((n_items, k)), np.zeros((n_workers * k, k)), np.zeros(k)
    ll = ds_estep_fixed_slice(item_ptr, pairs, gold, np.log(prior), logct, 0, n_items, post, counts, tot,
                              True, (0.0,) * k)
    bounds = np.array([0, 300, 301, 1200, n_items], np.int64)  # uneven chunks, one of a single item
    nc = bounds.shape[0] - 1
    cbuf, tbuf, lbuf = np.full((nc, n_workers * k, k), np.nan), np.full((nc, k), np.nan), np.zeros(nc)
    post_p = np.empty((n_items, k))
    ds_estep_fixed_parallel(item_ptr, pairs, gold, np.log(prior), logct, bounds, post_p, cbuf, tbuf, lbuf, True,
                            (0.0,) * k)
    np.testing.assert_array_equal(post_p, post)
    np.testing.assert_allclose(cbuf.sum(axis=0), counts, rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(tbuf.sum(axis=0), tot, rtol=1e-13)
    assert lbuf.sum() == pytest.approx(ll, rel=1e-13)


@njit
def _acc(arr, r, width, a0, a1, a2, a3):
    return _row_acc(arr, r, width, a0, a1, a2, a3)


@njit
def _add(arr, r, width, p0, p1, p2, p3):
    _row_add(arr, r, width, p0, p1, p2, p3)


@pytest.mark.parametrize("strided", [False, True])
def test_row_helpers_match_python_twins(strided):
    rng = np.random.default_rng(2)
    for k in (2, 3, 4):
        arr = rng.normal(size=(5, 2 * k))[:, ::2] if strided else rng.normal(size=(5, k))
        width = (0.0,) * k
        acc = (0.5, -1.0, 2.0, 3.0)
        assert _acc(arr, 3, width, *acc) == _row_acc_py(arr, 3, width, *acc)
        a1, a2 = arr.copy(order="A"), arr.copy(order="A")
        if strided:
            a1 = np.zeros((5, 2 * k))[:, 1::2]
            a1[:] = arr
        _add(a1, np.int32(2), width, 0.25, 0.5, 0.75, 1.0)
        _row_add_py(a2, 2, width, 0.25, 0.5, 0.75, 1.0)
        np.testing.assert_array_equal(a1, a2)
        assert (a1[[0, 1, 3, 4]] == arr[[0, 1, 3, 4]]).all()


@njit
def _gather(arr, idx, lo, hi, width, a0, a1, a2, a3):
    return _gather_rows(arr, idx, lo, hi, width, a0, a1, a2, a3)


@njit
def _gather2(arr, major, minor, lo, hi, width, a0, a1, a2, a3):
    return _gather_rows2(arr, major, minor, lo, hi, width, a0, a1, a2, a3)


@pytest.mark.parametrize("strided", [False, True])
def test_gather_rows_match_python_twins(strided):
    """The item gathers: the sums of the rows in index order (bit-identical to the
    Python loop), an empty range returns the start values, strided arrays and indices."""
    rng = np.random.default_rng(3)
    for k in (2, 3, 4):
        arr = rng.normal(size=(12, 2 * k))[:, ::2] if strided else rng.normal(size=(12, k))
        idx = rng.integers(12, size=40)
        idx = np.repeat(idx, 2)[::2] if strided else idx.astype(np.int32)
        width = (0.0,) * k
        acc = (0.5, -1.0, 2.0, 3.0)
        for lo, hi in [(0, 40), (3, 17), (5, 5), (39, 40)]:
            assert _gather(arr, idx, lo, hi, width, *acc) == _gather_rows_py(arr, idx, lo, hi, width, *acc)
        major = rng.integers(3, size=20).astype(np.int32)
        minor = rng.integers(k, size=20).astype(np.int32)
        table = rng.normal(size=(3 * k, k))
        for lo, hi in [(0, 20), (4, 9), (7, 7)]:
            got = _gather2(table, major, minor, lo, hi, width, *acc)
            assert got == _gather_rows2_py(table, major, minor, lo, hi, width, *acc)
            want = list(acc)
            for j in range(lo, hi):
                for c in range(k):
                    want[c] += table[major[j] * k + minor[j], c]
            assert got == tuple(want)


@njit
def _post_row(buf, q, g, post, i, width):
    return _posterior_row(buf, q, g, post, i, width)


@njit
def _scat_row(counts, idx, lo, hi, post, i, tacc, width):
    _scatter_row(counts, idx, lo, hi, post, i, tacc, width)


@pytest.mark.parametrize("strided", [False, True])
def test_posterior_and_scatter_rows_match_python_twins(strided):
    """The DS kernel's per-item finish: normalised (or one-hot at gold) posterior row and
    its sum; the row added to the class totals and to the count rows of the item's
    answers -- bit-identical to the Python loops, contiguous or strided arrays."""
    rng = np.random.default_rng(6)
    for k in (2, 3, 4):
        width = (0.0,) * k
        buf = rng.uniform(0.01, 1.0, 5 * k)
        for g in (-1, 0, k - 1):
            posts = [np.zeros((4, 2 * k))[:, ::2] if strided else np.zeros((4, k)), np.zeros((4, k))]
            sm = _post_row(buf, k, g, posts[0], 2, width)
            sm_py = _posterior_row_py(buf, k, g, posts[1], 2, width)
            assert sm == sm_py
            np.testing.assert_array_equal(posts[0], posts[1])
            assert sm == (1.0 if g >= 0 else sum(buf[k:2 * k]))
        post = rng.dirichlet(np.ones(k), 4)
        idx = rng.integers(6, size=9)
        base = rng.random((6, k))
        c1 = np.zeros((6, 2 * k))[:, 1::2] if strided else np.zeros((6, k))
        c1[:] = base
        c2, t1, t2 = base.copy(), np.full((1, k), 0.5), np.full((1, k), 0.5)
        _scat_row(c1, idx, 2, 8, post, 3, t1, width)
        _scatter_row_py(c2, idx, 2, 8, post, 3, t2, width)
        np.testing.assert_array_equal(c1, c2)
        np.testing.assert_array_equal(t1, t2)
        assert (t1 == 0.5 + post[3]).all()


# --------------------------------------------------------------------------- MACE
def _mace_params(rng, n_workers, k):
    spam = rng.uniform(0.05, 0.9, n_workers)
    know = 1.0 - spam
    strat = rng.dirichlet(np.ones(k), n_workers)
    return spam, know, strat


@pytest.mark.parametrize("k,with_gold,seed", CASES)
def test_mace_fixed_matches_naive_and_generic(k, with_gold, seed):
    rng = np.random.default_rng(100 + seed)
    n_items, n_workers = 290 + 5 * seed, 7
    item, worker, label, item_ptr, gold = _crowd(rng, n_items, n_workers, k, with_gold=with_gold)
    spam, know, strat = _mace_params(rng, n_workers, k)
    prior = rng.dirichlet(np.full(k, 3.0))
    rows = np.column_stack([item, worker, label])
    ref_post, ref_ll, ref_k, ref_s = naive_mace_estep(rows, n_items, n_workers, k, prior, spam, know, strat, gold)
    ls, lb, lk = mace_log_params(spam, know, strat)
    ratio = mace_know_ratio(lk, lb)
    w32, y32 = worker.astype(np.int32), label.astype(np.int32)
    post, kc, sc, tot = np.empty((n_items, k)), np.zeros(n_workers), np.zeros((n_workers, k)), np.zeros(k)
    ll = mace_estep_fixed_slice(item_ptr, w32, y32, gold, np.log(prior), mace_answer_log_probs(ls, lb), ratio, 0,
                                n_items, post, kc, sc, tot, True, (0.0,) * k)
    np.testing.assert_allclose(post, ref_post, rtol=0, atol=1e-12)
    assert ll == pytest.approx(ref_ll, rel=1e-12)
    np.testing.assert_allclose(kc, ref_k, rtol=0, atol=1e-10)
    np.testing.assert_allclose(sc, ref_s, rtol=0, atol=1e-10)
    used = (np.diff(item_ptr) > 0) | (gold >= 0)
    np.testing.assert_allclose(tot, post[used].sum(axis=0), rtol=1e-13, atol=1e-13)
    post2, kc2, sc2 = np.empty((n_items, k)), np.zeros(n_workers), np.zeros((n_workers, k))
    ll2 = mace_estep_ratio_slice(item_ptr, w32, y32, gold, np.log(prior), ls, lb, ratio, 0, n_items, post2, kc2,
                                 sc2, True)
    np.testing.assert_allclose(post, post2, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(kc, kc2, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(sc, sc2, rtol=1e-13, atol=1e-13)
    assert ll == pytest.approx(ll2, rel=1e-14)


@pytest.mark.parametrize("k", [3, 4])
def test_mace_fixed_parallel_chunks_sum_to_serial(k):
    rng = np.random.default_rng(7)
    n_items, n_workers = 1500, 12
    item, worker, label, item_ptr, gold = _crowd(rng, n_items, n_workers, k)
    spam, know, strat = _mace_params(rng, n_workers, k)
    ls, lb, lk = mace_log_params(spam, know, strat)
    ratio = mace_know_ratio(lk, lb)
    lp = np.full(k, -np.log(k))
    post, kc, sc, tot = np.empty((n_items, k)), np.zeros(n_workers), np.zeros((n_workers, k)), np.zeros(k)
    logpy = mace_answer_log_probs(ls, lb)
    ll = mace_estep_fixed_slice(item_ptr, worker, label, gold, lp, logpy, ratio, 0, n_items, post, kc, sc, tot,
                                True, (0.0,) * k)
    bounds = chunk_bounds(item_ptr, 3)
    bounds = np.unique(np.concatenate([bounds, [0, 1, 700, n_items]])).astype(np.int64)
    nc = bounds.shape[0] - 1
    kb, sb, tb, lb_ = (np.full((nc, n_workers), np.nan), np.full((nc, n_workers, k), np.nan),
                       np.full((nc, k), np.nan), np.zeros(nc))
    post_p = np.empty((n_items, k))
    mace_estep_fixed_parallel(item_ptr, worker, label, gold, lp, logpy, ratio, bounds, post_p, kb, sb, tb, lb_,
                              True, (0.0,) * k)
    np.testing.assert_array_equal(post_p, post)
    np.testing.assert_allclose(kb.sum(axis=0), kc, rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(sb.sum(axis=0), sc, rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(tb.sum(axis=0), tot, rtol=1e-13)
    assert lb_.sum() == pytest.approx(ll, rel=1e-13)


def _answer_log_probs_np(ls, lb):
    """:func:`mace_answer_log_probs` in NumPy (fast without the JIT too)."""
    n_workers, k = lb.shape
    out = np.repeat(ls.reshape(-1, 1), k, axis=1)
    out[np.arange(n_workers * k), np.tile(np.arange(k), n_workers)] = lb.ravel()
    return out


@pytest.mark.parametrize("k", [2, 3, 4])
def test_mace_answer_log_probs(k):
    rng = np.random.default_rng(k)
    ls, lb, _ = mace_log_params(*_mace_params(rng, 6, k))
    got = mace_answer_log_probs(ls, lb)
    np.testing.assert_array_equal(got, _answer_log_probs_np(ls, lb))
    for w in range(6):
        for y in range(k):
            assert got[w * k + y, y] == lb[w, y]
            assert all(got[w * k + y, c] == ls[w, y] for c in range(k) if c != y)


def _minor_faults():
    import resource

    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt


@pytest.mark.parametrize("k", [2, 4])
def test_mace_fixed_tiny_piece_of_many_workers(k):
    """A piece (a Dask part, a partial_fit batch) of 10 answers among 1M workers: the
    fixed kernels take the per-E-step tables and touch the rows of its answers only,
    no workers-sized table, buffer or fold per call (a fresh workers-sized buffer
    would fault in thousands of pages: 1M x 4 labels x 2 doubles is 64 MB), and agree
    with the generic ratio kernel."""
    n_workers = 1_000_000
    rng = np.random.default_rng(11)
    worker = np.array([5, 999_999, 123_456, 5, 42, 777_777, 3, 999_999, 10, 500_000], np.int32)
    label = rng.integers(k, size=10).astype(np.int32)
    item_ptr = np.array([0, 3, 3, 7, 10], np.int64)
    n_items = item_ptr.shape[0] - 1
    gold = np.array([-1, -1, 1, -1], np.int64)
    ls, lb, lk = mace_log_params(*_mace_params(rng, n_workers, k))
    logpy = _answer_log_probs_np(ls, lb)
    ratio = np.exp(lk[:, None] - lb)
    lp = np.log(rng.dirichlet(np.ones(k)))
    post, kc, sc, tot = np.empty((n_items, k)), np.zeros(n_workers), np.zeros((n_workers, k)), np.zeros(k)
    kc[:] = 0.0  # touched now: the kernel's own page faults only
    sc[:] = 0.0

    def run():
        return mace_estep_fixed_slice(item_ptr, worker, label, gold, lp, logpy, ratio, 0, n_items, post, kc, sc,
                                      tot, True, (0.0,) * k)

    run()  # compiled, warm
    kc[:] = 0.0
    sc[:] = 0.0
    tot[:] = 0.0
    try:
        f0 = _minor_faults()
    except (ImportError, AttributeError):  # no per-thread rusage (not Linux)
        f0 = None
    ll = run()
    if f0 is not None:
        assert _minor_faults() - f0 < 256
    post2, kc2, sc2 = np.empty((n_items, k)), np.zeros(n_workers), np.zeros((n_workers, k))
    ll2 = mace_estep_ratio_slice(item_ptr, worker, label, gold, lp, ls, lb, ratio, 0, n_items, post2, kc2, sc2, True)
    np.testing.assert_allclose(post, post2, rtol=1e-15, atol=1e-15)
    assert ll == pytest.approx(ll2, rel=1e-14)
    np.testing.assert_array_equal(np.flatnonzero(kc + sc.sum(axis=1)), np.unique(worker))  # only those rows
    np.testing.assert_allclose(kc, kc2, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(sc, sc2, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(tot, post[[0, 2, 3]].sum(axis=0), rtol=1e-13)
    # chunked: each chunk's buffers are the caller's (bounded by cap_chunks), nothing else
    bounds = np.array([0, 2, n_items], np.int64)
    kb, sb, tb, lb_ = np.zeros((2, n_workers)), np.zeros((2, n_workers, k)), np.zeros((2, k)), np.zeros(2)
    post_p = np.empty((n_items, k))
    mace_estep_fixed_parallel(item_ptr, worker, label, gold, lp, logpy, ratio, bounds, post_p, kb, sb, tb, lb_,
                              True, (0.0,) * k)
    np.testing.assert_array_equal(post_p, post)
    np.testing.assert_allclose(kb.sum(axis=0), kc, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(sb.sum(axis=0), sc, rtol=1e-13, atol=1e-13)
    assert lb_.sum() == pytest.approx(ll, rel=1e-13)


# --------------------------------------------------------------------------- M-step helpers
@pytest.mark.parametrize("k", [1, 2, 3, 4, 7, 13])
def test_ds_mstep_confusions_is_the_numpy_update(k):
    """The fused M-step: the NumPy operations it replaces, bit for bit; rows of every
    confusion matrix (observed axis) sum to 1; the input is not modified."""
    rng = np.random.default_rng(k)
    counts = rng.exponential(5, (30, k, k)) * (rng.random((30, k, k)) > 0.3)
    before = counts.copy()
    for a, c in [(0.01, 5.0), (0.01, 0.0), (2.0, 0.5)]:
        ct = counts + a
        if c:
            idx = np.arange(k)
            ct[:, idx, idx] += c
        ct /= ct.sum(axis=1, keepdims=True)
        got = ds_mstep_confusions(counts, a, c)
        np.testing.assert_array_equal(got, ct)
        np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_array_equal(counts, before)


def test_sum_chunks_is_numpy_sum():
    rng = np.random.default_rng(4)
    for shape in [(1, 6, 3), (4, 50, 4), (7, 3, 2, 2)]:
        buf = rng.random(shape)
        np.testing.assert_array_equal(sum_chunks(buf), buf.sum(axis=0))


# --------------------------------------------------------------------------- weighted vote
def _wv_weights(rng, n_workers):
    """Worker weights with exact ties (equal weights), zeros and distinct values."""
    w = rng.choice([0.0, 0.25, 0.5, 1.0], n_workers)
    w[: n_workers // 3] = rng.uniform(0.0, 1.0, n_workers // 3)
    return w


def _wv_naive(item, worker, label, n_items, n_workers, k, weights, gold):
    """Posteriors, agreement cells ``hits[w, y, best]``, agreement per worker, score."""
    post, best = weighted_vote(item, worker, label, n_items, k, weights, gold)
    agree = np.zeros(n_workers)
    hits = np.zeros((n_workers, k, k))
    for j in range(item.shape[0]):
        agree[worker[j]] += label[j] == best[item[j]]
        if best[item[j]] >= 0:
            hits[worker[j], label[j], best[item[j]]] += 1
    shares = np.zeros((n_items, k))
    np.add.at(shares, (item, label), weights[worker])
    score = sum(shares[i, best[i]] for i in range(n_items) if best[i] >= 0)
    return post, hits, agree, score


WV_CASES = [(k, gold, seed) for k in (2, 3, 4) for gold in (False, True) for seed in (0, 1, 2)]


@pytest.mark.parametrize("k,with_gold,seed", WV_CASES)
def test_wv_fixed_matches_naive_and_generic(k, with_gold, seed):
    """Shares, first-maximum labels (ties among equal weights), uniform posteriors of
    items without weight, gold one-hot, agreement counts and score: the NumPy reference,
    and the generic kernel bit for bit."""
    rng = np.random.default_rng(seed)
    n_items, n_workers = 250 + 11 * seed, 8
    item, worker, label, item_ptr, gold = _crowd(rng, n_items, n_workers, k, with_gold=with_gold)
    weights = _wv_weights(rng, n_workers)
    ref_post, ref_hits, ref_agree, ref_score = _wv_naive(item, worker, label, n_items, n_workers, k, weights, gold)
    vrows, pw = wv_rows(weights, k)
    pairs = (worker * k + label).astype(np.int32)
    post, hits = np.full((n_items, k), np.nan), np.zeros(n_workers * k * k)
    score = wv_estep_fixed_slice(item_ptr, pairs, gold if with_gold else np.empty(0, np.int64), vrows, pw,
                                 0, n_items, post, hits, True, (0.0,) * k)
    np.testing.assert_allclose(post, ref_post, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(hits.reshape(n_workers, k, k), ref_hits)
    agree = wv_agreement(hits, k)
    np.testing.assert_array_equal(agree, ref_agree)
    assert score == pytest.approx(ref_score, rel=1e-13)
    post2, agree2 = np.full((n_items, k), np.nan), np.zeros(n_workers)
    score2 = wv_estep_slice(item_ptr, worker.astype(np.int32), label.astype(np.int32), gold, weights,
                            0, n_items, post2, agree2, True)
    np.testing.assert_array_equal(post, post2)
    np.testing.assert_array_equal(agree, agree2)
    assert score == score2


def test_wv_rows_and_agreement_layout():
    w = np.array([0.5, 0.0, 1.0])
    vrows, pw = wv_rows(w, 3)
    ref = np.zeros((3, 3, 3))
    for a in range(3):
        ref[a] = np.eye(3) * w[a]
    np.testing.assert_array_equal(vrows, ref.reshape(9, 3))
    np.testing.assert_array_equal(pw, np.repeat(w, 3))
    hits = np.arange(2 * 3 * 3, dtype=np.float64)  # worker 0: 0..8, worker 1: 9..17 (w, y, best)
    np.testing.assert_array_equal(wv_agreement(hits, 3), [0 + 4 + 8, 9 + 13 + 17])


@pytest.mark.parametrize("k", [2, 3, 4])
def test_wv_fixed_strided_post_and_no_accumulate(k):
    """A strided posterior array and strided weight rows give the same results;
    ``accumulate=False`` leaves the agreement counts alone."""
    rng = np.random.default_rng(3)
    n_items, n_workers = 150, 5
    item, worker, label, item_ptr, gold = _crowd(rng, n_items, n_workers, k)
    vrows, pw = wv_rows(_wv_weights(rng, n_workers), k)
    pairs = (worker * k + label).astype(np.int64)
    post, hits = np.empty((n_items, k)), np.zeros(n_workers * k * k)
    score = wv_estep_fixed_slice(item_ptr, pairs, gold, vrows, pw, 0, n_items, post, hits, True, (0.0,) * k)
    wide = np.zeros((n_workers * k, 2 * k))
    wide[:, 1::2] = vrows
    post_s = np.zeros((n_items, 2 * k))[:, ::2]
    untouched = np.full(n_workers * k * k, 7.0)
    score_s = wv_estep_fixed_slice(item_ptr, pairs, gold, wide[:, 1::2], pw, 0, n_items, post_s, untouched, False,
                                   (0.0,) * k)
    assert score_s == score and (untouched == 7.0).all()
    np.testing.assert_array_equal(post_s, post)


@pytest.mark.parametrize("k", [2, 4])
def test_wv_fixed_parallel_chunks_sum_to_serial(k):
    rng = np.random.default_rng(12)
    n_items, n_workers = 1500, 12
    item, worker, label, item_ptr, gold = _crowd(rng, n_items, n_workers, k)
    vrows, pw = wv_rows(_wv_weights(rng, n_workers), k)
    pairs = (worker * k + label).astype(np.int32)
    post, hits = np.empty((n_items, k)), np.zeros(n_workers * k * k)
    score = wv_estep_fixed_slice(item_ptr, pairs, gold, vrows, pw, 0, n_items, post, hits, True, (0.0,) * k)
    bounds = np.array([0, 400, 401, 1000, n_items], np.int64)
    nc = bounds.shape[0] - 1
    hbuf, sbuf, post_p = np.full((nc, n_workers * k * k), np.nan), np.zeros(nc), np.empty((n_items, k))
    wv_estep_fixed_parallel(item_ptr, pairs, gold, vrows, pw, bounds, post_p, hbuf, sbuf, True, (0.0,) * k)
    np.testing.assert_array_equal(post_p, post)
    np.testing.assert_array_equal(hbuf.sum(axis=0), hits)  # integer counts: exact in any order
    assert sbuf.sum() == pytest.approx(score, rel=1e-13)


@pytest.mark.parametrize("with_gold", [False, True])
def test_oc_counts_slice_is_bincount_and_masked_sum(with_gold):
    """One-coin statistics from given posteriors: the NumPy expressions they replace,
    bit for bit (annotation order), and the plain per-annotation loop."""
    rng = np.random.default_rng(4)
    n_items, n_workers, k = 700, 13, 3
    item, worker, label, item_ptr, gold = _crowd(rng, n_items, n_workers, k, with_gold=with_gold)
    post = rng.dirichlet(np.ones(k), n_items)
    corr, tot = np.zeros(n_workers), np.zeros(k)
    oc_counts_slice(item_ptr, worker.astype(np.int32), label.astype(np.int32), gold, post, 0, n_items, corr, tot)
    used = (np.diff(item_ptr) > 0) | (gold >= 0)
    np.testing.assert_array_equal(corr, np.bincount(worker, weights=post[item, label], minlength=n_workers))
    np.testing.assert_array_equal(tot, post[used].sum(axis=0))
    ref = np.zeros(n_workers)
    for j in range(item.shape[0]):
        ref[worker[j]] += post[item[j], label[j]]
    np.testing.assert_allclose(corr, ref, rtol=1e-14)
