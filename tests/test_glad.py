"""GLAD: kernels against the pure-Python reference, the EM loop, properties, errors."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from naive_glad_mace import (
    naive_glad_alpha_update,
    naive_glad_estep,
    naive_glad_grad,
    naive_glad_item_derivatives,
    naive_glad_item_objective,
    naive_glad_items_update,
    naive_glad_prior,
    naive_glad_worker_objective,
)
from scipy.optimize import minimize

import crowdagg
import crowdagg.kernels.glad as kg
from crowdagg.em import EMContext
from crowdagg.errors import ConvergenceWarning, InitParamsError, InputError
from crowdagg.kernels.glad import (
    glad_alpha_update,
    glad_estep_parallel,
    glad_estep_slice,
    glad_items_parallel,
    glad_items_slice,
)
from crowdagg.methods.glad import GLADModel

NOJIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"


def random_rows(rng, n_items, n_workers, n_labels, max_per_item=4):
    rows = []
    for i in range(n_items):
        k = int(rng.integers(0, min(max_per_item, n_workers) + 1))
        for w in rng.choice(n_workers, k, replace=False):
            rows.append((i, int(w), int(rng.integers(n_labels))))
    return rows


def table_of(rows, n_items, n_workers, n_labels):
    ic = np.array([r[0] for r in rows], dtype=np.int64)
    wc = np.array([r[1] for r in rows], dtype=np.int64)
    lc = np.array([r[2] for r in rows], dtype=np.int64)
    return crowdagg.AnnotationTable.from_codes(ic, wc, lc, items=n_items, workers=n_workers, labels=n_labels)


def kernel_rows(table):
    """(item, worker, label) triples in the table's code space."""
    return list(zip(table.item_codes.tolist(), table.worker_codes.tolist(), table.label_codes.tolist()))


# --------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("fixed", [False, True])
def test_estep_matches_reference(seed, fixed):
    rng = np.random.default_rng(seed)
    n_items, n_workers, k = 9 + 40 * seed, 5, 3 + seed % 2  # past 32 items: the batched logs
    t = table_of(random_rows(rng, n_items, n_workers, k), n_items, n_workers, k)
    alpha = rng.normal(0.5, 1.5, n_workers)
    log_beta = rng.normal(0.0, 0.7, n_items)
    prior = rng.dirichlet(np.ones(k))
    gold = np.full(n_items, -1, np.int64)
    gold[rng.choice(n_items, 2, replace=False)] = rng.integers(k, size=2)
    ref_post, ref_ll = naive_glad_estep(kernel_rows(t), n_items, k, prior, alpha, log_beta, gold)
    post = np.empty((n_items, k))
    width = (0.0,) * k if fixed else ()  # the class count fixed at compile time, or any
    empty = np.empty(0)
    ll, change = glad_estep_slice(t.item_ptr, t.worker_codes, t.label_codes, gold, np.log(prior), alpha, log_beta,
                                  1.0, 1.0, 0, n_items, post, kg.ESTEP, empty, empty, empty, empty, width)
    assert change == 0.0
    np.testing.assert_allclose(post, ref_post, atol=1e-12)
    assert ll == pytest.approx(ref_ll, abs=1e-10)
    # parallel twin over several chunks, same numbers
    post2 = np.empty((n_items, k))
    bounds = np.array([0, 3, 6, n_items], dtype=np.int64)
    llb, cbuf = np.zeros(3), np.zeros(3)
    glad_estep_parallel(t.item_ptr, t.worker_codes, t.label_codes, gold, np.log(prior), alpha, log_beta, 1.0, 1.0,
                        bounds, post2, kg.ESTEP, empty, np.zeros((3, 3, 0)), llb, cbuf, width)
    np.testing.assert_allclose(post2, post, atol=1e-14)
    assert llb.sum() == pytest.approx(ll, abs=1e-10)


def _item_case(seed, n_items=10, n_workers=6, k=3):
    rng = np.random.default_rng(10 + seed)
    t = table_of(random_rows(rng, n_items, n_workers, k, max_per_item=5), n_items, n_workers, k)
    post = rng.dirichlet(np.ones(k), n_items)
    alpha = rng.normal(0.5, 1.5, n_workers)
    log_beta = rng.normal(0.0, 1.2, n_items)
    prior = rng.dirichlet(np.ones(k))
    gold = np.full(n_items, -1, np.int64)
    gold[1] = 2
    return t, post, alpha, log_beta, prior, gold


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("marginal", [True, False])
@pytest.mark.parametrize("n_newton", [0, 1, 3])
def test_item_pass_matches_reference(seed, marginal, n_newton):
    t, post, alpha, log_beta, prior, gold = _item_case(seed)
    n_items, n_workers, k = t.n_items, t.n_workers, t.n_labels
    lbp = (0.5, 0.8)
    ref = naive_glad_items_update(kernel_rows(t), n_items, n_workers, k, prior, post, gold, marginal, alpha,
                                  log_beta, lbp, n_newton)
    lb = log_beta.copy()
    ga, ca, ra = np.zeros(n_workers), np.zeros(n_workers), np.zeros(n_workers)
    change = glad_items_slice(t.item_ptr, t.worker_codes, t.label_codes, gold, np.log(prior), post, marginal,
                              alpha, lb, *lbp, n_newton, 0, n_items, ga, ca, ra)
    for got, want in zip((lb, ga, ca, ra), ref[:4]):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
    assert change == pytest.approx(np.max(np.abs(ref[0] - log_beta)), abs=1e-12)
    # parallel twin over three chunks (its buffers start dirty: each chunk zeroes its own)
    bounds = np.array([0, 3, 7, n_items], dtype=np.int64)
    wbuf = np.full((3, 3, n_workers), 7.0)
    cbuf = np.zeros(3)
    lb2 = log_beta.copy()
    glad_items_parallel(t.item_ptr, t.worker_codes, t.label_codes, gold, np.log(prior), post, marginal, alpha,
                        lb2, *lbp, n_newton, bounds, wbuf, cbuf)
    np.testing.assert_allclose(lb2, ref[0], rtol=0, atol=1e-10)
    np.testing.assert_allclose(wbuf[:, 0].sum(axis=0), ref[1], rtol=0, atol=1e-10)
    np.testing.assert_allclose(wbuf[:, 1].sum(axis=0), ref[2], rtol=0, atol=1e-10)
    np.testing.assert_allclose(wbuf[:, 2].max(axis=0), ref[3], rtol=0, atol=1e-10)
    assert cbuf.max() == pytest.approx(change, abs=1e-15)
    if n_newton == 1:  # the blocked kernel's item pass (what the fits use): the same pass
        mode = kg.ITEMS if marginal else kg.ITEMS_Q
        for width in ((), (0.0,) * k):
            lb4 = log_beta.copy()
            sums = np.zeros(n_workers), np.zeros(n_workers), np.zeros(n_workers)
            post_before = post.copy()
            ll4, change4 = kg.glad_estep_slice(t.item_ptr, t.worker_codes, t.label_codes, gold, np.log(prior), alpha,
                                               lb4, *lbp, 0, n_items, post, mode, lb4, *sums, width)
            np.testing.assert_array_equal(post, post_before)  # (read only)
            assert ll4 == 0.0 and change4 == pytest.approx(change, abs=1e-12)
            for got, want in zip((lb4, *sums), ref[:4]):
                np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)
            lb5 = log_beta.copy()
            kg.glad_estep_parallel(t.item_ptr, t.worker_codes, t.label_codes, gold, np.log(prior), alpha, lb5, *lbp,
                                   bounds, post, mode, lb5, wbuf, np.zeros(3), cbuf, width)
            np.testing.assert_allclose(lb5, ref[0], rtol=0, atol=1e-10)
            np.testing.assert_allclose(wbuf[:, 0].sum(axis=0), ref[1], rtol=0, atol=1e-10)
            np.testing.assert_allclose(wbuf[:, 2].max(axis=0), ref[3], rtol=0, atol=1e-12)


# (seed, scale of the abilities, items); (35, 6.0, 12): one item's Newton step is halved
_FUSED_CASES = [(0, 1.0, 14), (1, 6.0, 23), (2, 1.0, 32), (3, 6.0, 41), (4, 1.0, 50), (35, 6.0, 12)]


@pytest.mark.parametrize("case", _FUSED_CASES)
@pytest.mark.parametrize("block", [None, 3])
@pytest.mark.parametrize("fixed", [False, True])
def test_estep_with_item_pass_matches_reference(case, block, fixed, monkeypatch):
    """The fused kernel = the E-step's posteriors and log-likelihood, then the marginal item
    pass with one Newton step at the same parameters (new log_beta, worker sums), serial and
    over chunks; with tiny blocks (``block=3``: the block boundaries and an item longer than
    a block's buffer) too; and a case whose trial step is rejected and halved (the scalar
    fallback: the reference evaluates that item more than twice)."""
    import naive_glad_mace

    if block is not None:
        if not NOJIT:
            pytest.skip("block sizes are compile-time constants of the compiled kernel")
        monkeypatch.setattr(kg, "BLOCK_ANSWERS", block)
        monkeypatch.setattr(kg, "BLOCK_ITEMS", block)
    seed, scale, n_items = case
    t, post, alpha, log_beta, prior, gold = _item_case(seed, n_items=n_items)
    alpha = alpha * scale  # (scaled: far from the optimum, large steps)
    n_items, n_workers, k = t.n_items, t.n_workers, t.n_labels
    lbp = (0.5, 0.8)
    rows = kernel_rows(t)
    ref_post, ref_ll = naive_glad_estep(rows, n_items, k, prior, alpha, log_beta, gold)
    evals = []
    objective = naive_glad_mace.naive_glad_item_objective
    monkeypatch.setattr(naive_glad_mace, "naive_glad_item_objective", lambda *a: evals.append(1) or objective(*a))
    ref = naive_glad_mace.naive_glad_items_update(rows, n_items, n_workers, k, prior, post, gold, True, alpha,
                                                  log_beta, lbp, 1)
    assert (len(evals) > 2 * n_items) == (seed == 35)  # the halving case halves, the others do not
    before = log_beta.copy()
    out_post, new_lb = np.full((n_items, k), np.nan), np.full(n_items, np.nan)
    sums = np.zeros(n_workers), np.zeros(n_workers), np.zeros(n_workers)
    width = (0.0,) * k if fixed else ()  # the class count fixed at compile time, or any
    ll, change = kg.glad_estep_slice(t.item_ptr, t.worker_codes, t.label_codes, gold, np.log(prior), alpha,
                                     log_beta, *lbp, 0, n_items, out_post, kg.ESTEP_ITEMS, new_lb, *sums, width)
    np.testing.assert_array_equal(log_beta, before)  # (left as it is)
    np.testing.assert_allclose(out_post, ref_post, atol=1e-12)
    assert ll == pytest.approx(ref_ll, abs=1e-9)
    for got, want in zip((new_lb, *sums), ref[:4]):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    assert change == pytest.approx(np.max(np.abs(ref[0] - log_beta)), abs=1e-12)
    bounds = np.array([0, 3, 7, n_items], dtype=np.int64)
    wbuf = np.full((3, 3, n_workers), 7.0)  # (dirty: each chunk zeroes its own)
    llb, cbuf = np.zeros(3), np.zeros(3)
    post2, lb2 = np.empty((n_items, k)), np.empty(n_items)
    kg.glad_estep_parallel(t.item_ptr, t.worker_codes, t.label_codes, gold, np.log(prior), alpha, log_beta,
                           *lbp, bounds, post2, kg.ESTEP_ITEMS, lb2, wbuf, llb, cbuf, width)
    np.testing.assert_allclose(post2, ref_post, atol=1e-12)
    np.testing.assert_allclose(lb2, ref[0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(wbuf[:, 0].sum(axis=0), ref[1], rtol=0, atol=1e-9)
    np.testing.assert_allclose(wbuf[:, 1].sum(axis=0), ref[2], rtol=0, atol=1e-9)
    np.testing.assert_allclose(wbuf[:, 2].max(axis=0), ref[3], rtol=0, atol=1e-12)
    assert llb.sum() == pytest.approx(ll, abs=1e-9) and cbuf.max() == pytest.approx(change, abs=1e-15)


def test_estep_with_item_pass_on_an_item_longer_than_a_block():
    """An item with more answers than a block's buffer (:data:`BLOCK_ANSWERS`) gets a block of
    its own with grown buffers, and more than 512 answers (the product of the sigmoid factors
    is logged in pieces): the compiled kernel against the reference."""
    rng = np.random.default_rng(5)
    n_big = kg.BLOCK_ANSWERS + 700
    # (reliable workers who mostly agree: the reference multiplies probabilities, which must
    # not underflow to 0 over thousands of answers)
    rows = [(0, w, 0 if rng.random() < 0.97 else int(rng.integers(1, 3))) for w in range(n_big)]
    rows += [(i, int(w), int(rng.integers(3))) for i in range(1, 6) for w in rng.choice(n_big, 4, replace=False)]
    t = table_of(rows, 6, n_big, 3)
    alpha = rng.normal(3.0, 0.3, n_big)
    log_beta = rng.normal(0.5, 0.3, 6)
    prior = np.array([0.5, 0.3, 0.2])
    gold = np.full(6, -1)
    lbp = (0.5, 0.8)
    krows = kernel_rows(t)
    ref_post, ref_ll = naive_glad_estep(krows, 6, 3, prior, alpha, log_beta, gold)
    ref = naive_glad_items_update(krows, 6, n_big, 3, prior, ref_post, gold, True, alpha, log_beta, lbp, 1)
    for width in ((), (0.0,) * 3):
        post, new_lb = np.empty((6, 3)), np.empty(6)
        sums = np.zeros(n_big), np.zeros(n_big), np.zeros(n_big)
        ll, _ = kg.glad_estep_slice(t.item_ptr, t.worker_codes, t.label_codes, gold, np.log(prior), alpha, log_beta,
                                    *lbp, 0, 6, post, kg.ESTEP_ITEMS, new_lb, *sums, width)
        np.testing.assert_allclose(post, ref_post, atol=1e-10)
        assert ll == pytest.approx(ref_ll, rel=1e-12)
        for got, want in zip((new_lb, *sums), ref[:4]):
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_item_steps_increase_their_objective_and_derivatives_are_exact(seed):
    t, post, alpha, log_beta, prior, gold = _item_case(seed)
    rows = kernel_rows(t)
    lbp = (1.0, 1.0)
    for marginal in (True, False):
        ref = naive_glad_items_update(rows, t.n_items, t.n_workers, t.n_labels, prior, post, gold, marginal,
                                      alpha, log_beta, lbp, 2)
        for i in range(t.n_items):
            rows_i = [r for r in rows if r[0] == i]

            def obj(b, rows_i=rows_i, i=i, marginal=marginal):
                return naive_glad_item_objective(rows_i, i, t.n_labels, prior, post, gold[i], marginal, alpha, b,
                                                 lbp)

            before, q = obj(log_beta[i])
            assert obj(ref[0][i])[0] >= before - 1e-12
            # the derivatives the Newton steps use are those of the objective
            d1, d2, _ = naive_glad_item_derivatives(rows_i, t.n_labels, q, marginal, alpha, log_beta[i], lbp)
            eps = 1e-5
            up, down = obj(log_beta[i] + eps)[0], obj(log_beta[i] - eps)[0]
            assert d1 == pytest.approx((up - down) / (2 * eps), abs=1e-6)
            eps = 1e-4  # (the reference's 1 - sigmoid loses digits: a wider second difference)
            up, down = obj(log_beta[i] + eps)[0], obj(log_beta[i] - eps)[0]
            assert d2 == pytest.approx((up - 2 * before + down) / eps**2, abs=1e-3)


@pytest.mark.parametrize("seed", range(4))
def test_ability_step_matches_reference_and_never_decreases(seed):
    t, post, alpha, log_beta, prior, gold = _item_case(seed)
    rows = kernel_rows(t)
    _, grad, curv, rmax, q = naive_glad_items_update(rows, t.n_items, t.n_workers, t.n_labels, prior, post, gold,
                                                     False, alpha, log_beta, (1.0, 1.0), 0)
    ap = (1.0, 0.7)
    for start in (alpha, alpha * 8.0 - 3.0):  # near and far from the optimum
        _, grad, curv, rmax, q = naive_glad_items_update(rows, t.n_items, t.n_workers, t.n_labels, prior, post,
                                                         gold, False, start, log_beta, (1.0, 1.0), 0)
        ref = naive_glad_alpha_update(start, grad, curv, rmax, ap)
        out = np.empty_like(start)
        big = glad_alpha_update(start, grad, curv, rmax, *ap, out)
        np.testing.assert_allclose(out, ref, rtol=0, atol=1e-10)
        assert big == pytest.approx(np.max(np.abs(ref - start)), abs=1e-12)
        for w in range(t.n_workers):
            f0 = naive_glad_worker_objective(rows, q, t.n_labels, start, log_beta, ap, w)
            f1 = naive_glad_worker_objective(rows, q, t.n_labels, out, log_beta, ap, w)
            assert f1 >= f0 - 1e-12
    # near the optimum the step is Newton's to first order: iterating converges fast
    a = alpha.copy()
    for _ in range(8):
        _, grad, curv, rmax, q = naive_glad_items_update(rows, t.n_items, t.n_workers, t.n_labels, prior, post,
                                                         gold, False, a, log_beta, (1.0, 1.0), 0)
        glad_alpha_update(a, grad, curv, rmax, *ap, a)  # in place
    _, grad, _, _, _ = naive_glad_items_update(rows, t.n_items, t.n_workers, t.n_labels, prior, post, gold, False,
                                               a, log_beta, (1.0, 1.0), 0)
    np.testing.assert_allclose(grad - (a - ap[0]) / ap[1] ** 2, 0.0, atol=1e-9)


def test_kernels_stay_finite_for_extreme_parameters():
    t = table_of([(0, 0, 0), (0, 1, 1), (1, 0, 1), (2, 1, 0)], 3, 2, 2)
    log_prior = np.log([0.5, 0.5])
    gold = np.full(3, -1)
    for alpha in (np.array([1e4, -1e4]), np.array([1e6, -1e6])):
        log_beta = np.array([5.0, -30.0, 50.0])
        post = np.empty((3, 2))
        empty = np.empty(0)
        ll, _ = glad_estep_slice(t.item_ptr, t.worker_codes, t.label_codes, gold, log_prior, alpha, log_beta, 1.0,
                                 1.0, 0, 3, post, kg.ESTEP, empty, empty, empty, empty)
        assert np.isfinite(ll) and np.all(np.isfinite(post))
        for marginal in (True, False):
            lb = log_beta.copy()
            ga, ca, ra = np.zeros(2), np.zeros(2), np.zeros(2)
            glad_items_slice(t.item_ptr, t.worker_codes, t.label_codes, gold, log_prior, post, marginal, alpha, lb,
                             1.0, 1.0, 3, 0, 3, ga, ca, ra)
            assert np.all(np.isfinite(lb)) and np.all(np.abs(lb) <= 50)
            assert np.all(np.isfinite(ga)) and np.all(np.isfinite(ca)) and np.all(np.isfinite(ra))
            out = np.empty(2)
            glad_alpha_update(alpha, ga, ca, ra, 1.0, 1.0, out)
            assert np.all(np.isfinite(out)) and np.all(np.abs(out) <= 1e6)


# --------------------------------------------------------------------------- the EM loop vs a reference
def naive_glad_fit(rows, n_items, n_workers, k, n_iter, m_step_max_iter, alpha_prior=(1.0, 1.0),
                   log_beta_prior=(1.0, 1.0), gold=None, n_newton=1):
    """Reference EM: MV posteriors -> M-step on Q under them -> (E-step, M-step on the items'
    marginal likelihood) x n_iter -> E-step; every M-step ``m_step_max_iter`` alternations of
    the item pass and the ability step."""
    prior = np.full(k, 1.0 / k)
    votes = np.zeros((n_items, k))
    for i, _, y in rows:
        votes[i, y] += 1
    post = np.array([v / v.sum() if v.sum() else np.full(k, 1 / k) for v in votes])
    gold = np.full(n_items, -1) if gold is None else np.asarray(gold)
    for i, g in enumerate(gold):
        if g >= 0:
            post[i] = np.eye(k)[g]

    def m_step(alpha, log_beta, post, marginal):
        for _ in range(m_step_max_iter):
            log_beta, grad, curv, rmax, _ = naive_glad_items_update(rows, n_items, n_workers, k, prior, post, gold,
                                                                    marginal, alpha, log_beta, log_beta_prior,
                                                                    n_newton)
            alpha = naive_glad_alpha_update(alpha, grad, curv, rmax, alpha_prior)
        return alpha, log_beta

    alpha, log_beta = m_step(np.full(n_workers, alpha_prior[0]), np.full(n_items, log_beta_prior[0]), post, False)
    for t in range(n_iter + 1):
        post, ll = naive_glad_estep(rows, n_items, k, prior, alpha, log_beta, gold)
        if t < n_iter:
            alpha, log_beta = m_step(alpha, log_beta, post, True)
    return post, alpha, log_beta


@pytest.mark.parametrize("parallel", [True, False])
def test_fit_matches_reference_loop(parallel):
    rng = np.random.default_rng(3)
    n_items, n_workers, k = 12, 5, 3
    rows = random_rows(rng, n_items, n_workers, k)
    t = table_of(rows, n_items, n_workers, k)
    gold = np.full(n_items, -1)
    gold[0] = 1
    ref_post, ref_a, ref_b = naive_glad_fit(kernel_rows(t), n_items, n_workers, k, 3, 5, gold=gold)
    g = crowdagg.GLAD(max_iter=3, tol=0, m_step_max_iter=5, parallel=parallel).fit(
        t, gold=pd.Series([1], index=t.items[:1]))
    np.testing.assert_allclose(g.probas_.to_numpy(), ref_post, atol=1e-8)
    np.testing.assert_allclose(g.alphas_.to_numpy(), ref_a, atol=1e-8)
    np.testing.assert_allclose(np.log(g.betas_.to_numpy()), ref_b, atol=1e-8)
    assert g.n_iter_ == 3 and len(g.loglik_) == 3


def _log_posterior_and_grad(rows, n_items, n_workers, k, alpha, log_beta, gold=None):
    """Marginal log-posterior (up to a constant) and its gradient (Fisher's identity: the
    gradient of Q at the posteriors of the same parameters), by the references."""
    post, ll = naive_glad_estep(rows, n_items, k, np.full(k, 1.0 / k), alpha, log_beta, gold)
    pv, pa, pb = naive_glad_prior(alpha, log_beta, (1.0, 1.0), (1.0, 1.0))
    ga, gb = naive_glad_grad(rows, post, n_items, n_workers, k, alpha, log_beta)
    return ll + pv, np.concatenate([ga + pa, gb + pb])


@pytest.mark.parametrize("seed", range(2))
def test_fit_reaches_the_map_estimate(seed):
    """EM with the Newton M-step stops at the MAP estimate: the log-posterior's gradient
    vanishes there and L-BFGS run to convergence on the log-posterior itself (from the
    prior means, as the former L-BFGS M-step) finds the same parameters."""
    t = crowdagg.AnnotationTable.from_pandas(crowdagg.datasets.make_crowd(30, 6, 3, 4, random_state=seed)
                                             .annotations)
    n_items, n_workers, k = t.n_items, t.n_workers, t.n_labels
    rows = kernel_rows(t)
    g = crowdagg.GLAD(max_iter=500, tol=1e-11).fit(t)
    assert g.converged_
    a, b = g.params_["alphas"], g.params_["log_betas"]
    _, grad = _log_posterior_and_grad(rows, n_items, n_workers, k, a, b)
    np.testing.assert_allclose(grad, 0.0, atol=1e-7)

    def fun(x):
        v, gr = _log_posterior_and_grad(rows, n_items, n_workers, k, x[:n_workers], x[n_workers:])
        return -v, -gr

    ref = minimize(fun, np.ones(n_workers + n_items), jac=True, method="L-BFGS-B",
                   options={"gtol": 1e-10, "ftol": 1e-15, "maxiter": 5000})
    np.testing.assert_allclose(ref.x[:n_workers], a, atol=1e-5)
    np.testing.assert_allclose(ref.x[n_workers:], b, atol=1e-5)
    assert -ref.fun <= -fun(np.concatenate([a, b]))[0] + 1e-9


def test_m_step_alternations_converge_and_are_counted():
    """``m_step_max_iter`` alternations per M-step at most (fewer once nothing moves); more
    alternations need fewer EM iterations to the same optimum."""
    c = crowd(seed=3)
    fits = {m: crowdagg.GLAD(max_iter=500, tol=1e-9, m_step_max_iter=m).fit(c.annotations) for m in (1, 4)}
    for m, f in fits.items():
        assert f.converged_ and len(f.m_step_n_iter_) == f.n_iter_ + 1  # + the initial M-step
        assert f.m_step_n_iter_.max() <= m
    assert fits[4].n_iter_ < fits[1].n_iter_
    np.testing.assert_allclose(fits[4].alphas_, fits[1].alphas_, atol=1e-6)
    np.testing.assert_allclose(np.log(fits[4].betas_), np.log(fits[1].betas_), atol=1e-6)
    np.testing.assert_allclose(fits[4].probas_, fits[1].probas_, atol=1e-6)


def crowd(n_items=300, seed=0, **kw):
    return crowdagg.datasets.make_crowd(n_items, 30, 3, 5, random_state=seed, **kw)


def accuracy(labels, truth):
    return float((labels == truth.reindex(labels.index)).mean())


def test_log_posterior_never_decreases_and_tol_zero_runs_max_iter():
    c = crowd(seed=1)
    g = crowdagg.GLAD(max_iter=15, tol=0).fit(c.annotations)
    assert g.n_iter_ == 15 and not g.converged_
    assert np.all(np.diff(g.loglik_) >= -1e-9 * np.abs(g.loglik_[1:]))
    assert accuracy(g.labels_, c.truth) >= accuracy(crowdagg.MajorityVote().fit(c.annotations).labels_, c.truth)


def test_convergence_and_warning():
    c = crowd(seed=2)
    g = crowdagg.GLAD(max_iter=200, tol=1e-4).fit(c.annotations)
    assert g.converged_ and g.n_iter_ < 200
    with pytest.warns(ConvergenceWarning):
        crowdagg.GLAD(max_iter=2, tol=1e-12).fit(c.annotations)


def test_outputs_indexed_by_original_ids_and_adversary_detected():
    c = crowd(seed=4)
    df = c.annotations.copy()
    # worker "evil" always gives a wrong label on 200 items
    labs = sorted(df["label"].unique())
    evil = c.truth.iloc[:200].map(lambda y: labs[(labs.index(y) + 1) % len(labs)])
    df = pd.concat([df, pd.DataFrame({"item": evil.index, "worker": "evil", "label": evil.to_numpy()})])
    before = df.copy()
    g = crowdagg.GLAD(max_iter=30).fit(df)
    pd.testing.assert_frame_equal(df, before)  # input not mutated
    assert g.alphas_.index.equals(g.table_.workers) and g.betas_.index.equals(g.table_.items)
    assert g.alphas_.idxmin() == "evil" and g.alphas_["evil"] < 0
    assert (g.betas_ > 0).all()
    assert np.allclose(g.probas_.sum(axis=1), 1.0)


def test_gold_fixes_labels_and_helps():
    c = crowd(seed=5, accuracy=(0.4, 0.7))
    gold = c.truth.iloc[:100]
    g = crowdagg.GLAD(max_iter=200).fit(c.annotations, gold=gold)
    assert (g.labels_.loc[gold.index] == gold).all()
    assert np.allclose(g.probas_.loc[gold.index].max(axis=1), 1.0)
    rest = c.truth.index[100:]
    plain = crowdagg.GLAD(max_iter=200).fit(c.annotations)
    assert accuracy(g.labels_.loc[rest], c.truth) >= accuracy(plain.labels_.loc[rest], c.truth) - 0.01


def test_warm_start_and_predict_on_new_data():
    c = crowd(seed=6)
    df = c.annotations
    g = crowdagg.GLAD(max_iter=200).fit(df)
    g0 = crowdagg.GLAD(max_iter=0).fit(df, init_params=g)
    pd.testing.assert_series_equal(g0.alphas_, g.alphas_)
    pd.testing.assert_series_equal(g0.betas_, g.betas_)  # items aligned by id too
    # max_iter=0 from the fitted parameters: the fit's own posteriors
    np.testing.assert_allclose(g0.probas_.to_numpy(), g.probas_.to_numpy(), atol=1e-12)
    # abilities only (no item parameters given): items restart at the prior mean
    ga = crowdagg.GLAD(max_iter=0).fit(df, init_params={"alphas": g.alphas_})
    pd.testing.assert_series_equal(ga.alphas_, g.alphas_)
    assert np.allclose(np.log(ga.betas_), 1.0)
    # a new worker starts from the prior mean
    first = df.drop_duplicates("item").iloc[:3]
    extra = pd.DataFrame({"item": first["item"], "worker": "new", "label": first["label"]})
    g1 = crowdagg.GLAD(max_iter=0).fit(pd.concat([df, extra]), init_params=g)
    assert g1.alphas_["new"] == 1.0
    # warm_start=True continues from its own fit
    w = crowdagg.GLAD(max_iter=5, tol=0, warm_start=True).fit(df)
    a5 = w.alphas_.copy()
    w.set_params(max_iter=0).fit(df)
    pd.testing.assert_series_equal(w.alphas_, a5)
    # predict on new data with the fitted abilities
    p = g.predict_proba(df.iloc[:50])
    assert p.shape[1] == 3 and np.allclose(p.sum(axis=1), 1.0)


def test_degenerate_tables_are_finite():
    one_label = pd.DataFrame({"item": [1, 1, 2], "worker": ["a", "b", "a"], "label": ["x", "x", "x"]})
    g = crowdagg.GLAD(max_iter=5, tol=0).fit(one_label)
    assert g.labels_.tolist() == ["x", "x"] and np.all(np.isfinite(g.alphas_))
    single = pd.DataFrame({"item": [1], "worker": ["a"], "label": [0]})
    g = crowdagg.GLAD(max_iter=5, tol=0).fit(single, labels=[0, 1])
    assert g.labels_.tolist() == [0] and np.all(np.isfinite(g.probas_))
    holes = pd.DataFrame({"item": [1, 1, 2, 3], "worker": ["a", "b", "a", "b"], "label": [0, 1, None, 1]})
    g = crowdagg.GLAD(max_iter=5, tol=0).fit(holes)
    assert g.labels_.isna().tolist() == [False, True, False]
    assert np.allclose(g.probas_.loc[2], 0.5)
    unanimous = pd.DataFrame({"item": np.repeat(np.arange(50), 3), "worker": np.tile(list("abc"), 50),
                              "label": np.repeat(np.arange(50) % 2, 3)})
    g = crowdagg.GLAD(max_iter=50, tol=0).fit(unanimous)
    assert np.all(np.isfinite(g.alphas_)) and np.all(np.isfinite(g.betas_)) and np.all(np.isfinite(g.loglik_))


@pytest.mark.parametrize("kwargs", [
    {"alpha_prior": (1.0, 0.0)}, {"alpha_prior": 3}, {"log_beta_prior": (np.nan, 1.0)},
    {"m_step_max_iter": 0}, {"max_iter": -1}, {"tol": -1.0}, {"init": "spam"},
    {"class_prior": [0.5, 0.6, -0.1]}, {"class_prior": [0.5, 0.5]}, {"class_prior": "abc"},
])
def test_bad_arguments_raise(kwargs):
    df = crowd(50).annotations
    with pytest.raises(InputError):
        crowdagg.GLAD(**{"max_iter": 2, **kwargs}).fit(df)


def test_class_prior_as_series_is_aligned_by_label():
    c = crowd(seed=7)
    labs = sorted(c.annotations["label"].unique())
    cp = pd.Series([0.6, 0.3, 0.1], index=labs[::-1])
    g = crowdagg.GLAD(max_iter=3, tol=0, class_prior=cp).fit(c.annotations)
    ctx = EMContext(table=g.table_, gold=np.full(g.table_.n_items, -1))
    lp = GLADModel(cp, (1.0, 1.0), (1.0, 1.0), 1).log_prior(ctx)
    np.testing.assert_allclose(np.exp(lp), [0.1, 0.3, 0.6])


# --------------------------------------------------------------------------- properties
@st.composite
def small_crowds(draw):
    n_items = draw(st.integers(2, 12))
    n_workers = draw(st.integers(1, 5))
    k = draw(st.integers(2, 4))
    rows = []
    for i in range(n_items):
        ws = draw(st.lists(st.integers(0, n_workers - 1), min_size=1, max_size=n_workers, unique=True))
        rows += [(f"i{i}", f"w{w}", draw(st.integers(0, k - 1))) for w in ws]
    return pd.DataFrame(rows, columns=["item", "worker", "label"]), k, draw(st.randoms(use_true_random=False))


@settings(max_examples=15 if not NOJIT else 4, deadline=None)
@given(small_crowds())
def test_relabelling_items_workers_and_labels(case):
    df, k, rnd = case
    kw = dict(max_iter=4, tol=0, m_step_max_iter=4)
    base = crowdagg.GLAD(**kw).fit(df, labels=list(range(k)))
    # shuffle rows, rename items and workers
    order = list(range(len(df)))
    rnd.shuffle(order)
    df2 = df.iloc[order].assign(item=lambda d: "x" + d["item"], worker=lambda d: d["worker"] + "_z")
    g2 = crowdagg.GLAD(**kw).fit(df2, labels=list(range(k)))
    p2 = g2.probas_.rename(index=lambda s: s[1:]).loc[base.probas_.index]
    np.testing.assert_allclose(p2.to_numpy(), base.probas_.to_numpy(), atol=1e-6)
    a2 = g2.alphas_.rename(index=lambda s: s[:-2]).loc[base.alphas_.index]
    np.testing.assert_allclose(a2.to_numpy(), base.alphas_.to_numpy(), atol=1e-6)
    # permuting label codes permutes the posterior columns
    perm = list(range(k))
    rnd.shuffle(perm)
    df3 = df.assign(label=df["label"].map(lambda y: perm[y]))
    g3 = crowdagg.GLAD(**kw).fit(df3, labels=list(range(k)))
    np.testing.assert_allclose(g3.probas_.to_numpy()[:, perm], base.probas_.to_numpy(), atol=1e-6)


def test_deterministic():
    df = crowd(seed=8).annotations
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = crowdagg.GLAD(max_iter=5).fit(df)
        b = crowdagg.GLAD(max_iter=5).fit(df)
    pd.testing.assert_frame_equal(a.probas_, b.probas_)


# --------------------------------------------------------------------------- buffer reuse (regression)
def _forced_chunks(t):
    """A context whose E-step / objective take the parallel path (3 chunks) whatever the size."""
    ctx = EMContext(t, np.full(t.n_items, -1, np.int64))
    ctx._bounds = np.array([0, t.n_items // 3, 2 * t.n_items // 3, t.n_items], dtype=np.int64)
    return ctx


def test_plugin_reused_on_table_with_more_workers():
    """Scratch buffers follow the table's shape: the plug-in used to cache them by chunk
    count only, so a second, wider table made the kernels write out of bounds."""
    from crowdagg.em import run_em

    small = crowdagg.AnnotationTable.from_pandas(crowdagg.datasets.make_crowd(60, 4, 3, 3, random_state=1)
                                                 .annotations)
    big = crowdagg.AnnotationTable.from_pandas(crowdagg.datasets.make_crowd(400, 60, 3, 5, random_state=2)
                                               .annotations)
    model = GLADModel(None, (1.0, 1.0), (1.0, 1.0), 3)
    for t in (small, big, small):
        got = run_em(model, _forced_chunks(t), init="mv", max_iter=3, tol=0)
        ref = run_em(GLADModel(None, (1.0, 1.0), (1.0, 1.0), 3), _forced_chunks(t), init="mv", max_iter=3, tol=0)
        np.testing.assert_array_equal(got.posteriors, ref.posteriors)
        for name in ("alphas", "log_betas"):
            np.testing.assert_array_equal(got.params[name], ref.params[name])
        np.testing.assert_array_equal(got.loglik, ref.loglik)


def test_same_estimator_refit_on_wider_table():
    """The estimator-level view of the buffer regression: refitting one estimator on a
    wider, longer table gives exactly a fresh estimator's result (guards any plug-in or
    buffer the estimator might keep between fits)."""
    small = crowdagg.datasets.make_crowd(60, 4, 3, 3, random_state=1).annotations
    big = crowdagg.datasets.make_crowd(2000, 80, 3, 5, random_state=2).annotations
    est = crowdagg.GLAD(max_iter=4, tol=0).fit(small)
    est.fit(big)
    fresh = crowdagg.GLAD(max_iter=4, tol=0).fit(big)
    np.testing.assert_array_equal(est.probas_.to_numpy(), fresh.probas_.to_numpy())
    pd.testing.assert_series_equal(est.alphas_, fresh.alphas_)
    pd.testing.assert_series_equal(est.betas_, fresh.betas_)
    np.testing.assert_array_equal(est.loglik_, fresh.loglik_)


def test_warm_start_on_union_of_batches_reuses_item_difficulties():
    """Items of the first batch keep their fitted ``beta`` on a warm start on the union
    (also by ``warm_start=True`` and by a dict of arrays with item ids); new items
    start from the prior mean."""
    c = crowd(n_items=400, seed=8)
    df = c.annotations
    items = df["item"].unique()
    batch1 = df[df["item"].isin(items[:250])]
    union = pd.concat([batch1, df[df["item"].isin(items[250:])]])
    g1 = crowdagg.GLAD(max_iter=10, tol=0).fit(batch1)
    old = g1.betas_
    assert not np.allclose(np.log(old), 1.0)
    prior = np.exp(1.0)
    sources = [
        g1,
        {"alphas": g1.alphas_, "log_betas": np.log(g1.betas_)},  # Series by worker / item id
        {**g1.params_, "workers": g1.table_.workers, "items": g1.table_.items},  # arrays + ids
        {"alphas": g1.alphas_, "log_betas": np.log(g1.betas_).iloc[::-1]},  # any item order
    ]
    for src in sources:
        g = crowdagg.GLAD(max_iter=0).fit(union, init_params=src)
        pd.testing.assert_series_equal(g.betas_.loc[old.index], old)
        np.testing.assert_allclose(g.betas_.drop(old.index).to_numpy(), prior)
        pd.testing.assert_series_equal(g.alphas_.loc[g1.alphas_.index], g1.alphas_)
    # warm_start=True: the estimator continues from its own abilities and difficulties
    w = crowdagg.GLAD(max_iter=10, tol=0, warm_start=True).fit(batch1)
    w.set_params(max_iter=0).fit(union)
    pd.testing.assert_series_equal(w.betas_.loc[old.index], old)
    np.testing.assert_allclose(w.betas_.drop(old.index).to_numpy(), prior)
    # reusing the known difficulties changes the union's fit (they are not ignored)
    warm = crowdagg.GLAD(max_iter=2, tol=0).fit(union, init_params=g1)
    alphas_only = crowdagg.GLAD(max_iter=2, tol=0).fit(union, init_params={"alphas": g1.alphas_})
    assert not np.allclose(warm.betas_.loc[old.index], alphas_only.betas_.loc[old.index])
    # an array without item ids cannot be aligned: items start from the prior
    g = crowdagg.GLAD(max_iter=0).fit(union, init_params={**g1.params_, "workers": g1.table_.workers})
    np.testing.assert_allclose(g.betas_.to_numpy(), prior)
    # a wrong number of rows is refused
    with pytest.raises(InitParamsError, match="log_betas"):
        crowdagg.GLAD().fit(union, init_params={"alphas": g1.alphas_, "log_betas": np.zeros(3),
                                                "items": g1.table_.items})


# --------------------------------------------------------------------------- learnt class priors
@pytest.mark.parametrize("parallel", [False, True])
def test_learnt_class_prior_is_an_em_step(parallel):
    """``class_prior="learn"``: priors = smoothed posterior class totals of the previous E-step,
    the log-posterior (with the Dirichlet term) never decreases, and the fixed-prior fit with the
    learnt priors reproduces the same posteriors."""
    from crowdagg.methods.glad import PRIOR_SMOOTHING

    crowd = crowdagg.datasets.make_crowd(400, 30, 3, per_item=4, class_prior=[0.7, 0.2, 0.1], random_state=5)
    m = crowdagg.GLAD(class_prior="learn", max_iter=40, tol=0, parallel=parallel).fit(crowd.annotations)
    assert np.all(np.diff(m.loglik_) >= -1e-8 * np.abs(m.loglik_[1:]))
    np.testing.assert_allclose(m.priors_.sum(), 1.0)
    # one more iteration from the fit: its prior update is the smoothed class totals of the fit's posteriors
    tot = m.probas_.to_numpy().sum(axis=0)
    expected = (tot + PRIOR_SMOOTHING) / (tot.sum() + 3 * PRIOR_SMOOTHING)
    m2 = crowdagg.GLAD(class_prior="learn", max_iter=1, tol=0, parallel=parallel).fit(crowd.annotations, init_params=m)
    np.testing.assert_allclose(m2.priors_.to_numpy(), expected, atol=1e-12)
    assert m.priors_.iloc[0] > 0.6


def test_learnt_class_prior_contract():
    from crowdagg.testing import check_aggregator

    check_aggregator(crowdagg.GLAD(class_prior="learn", max_iter=20))


def test_fixed_class_prior_default_unchanged():
    crowd = crowdagg.datasets.make_crowd(300, 20, 3, per_item=4, random_state=1)
    m = crowdagg.GLAD(max_iter=20, tol=0).fit(crowd.annotations)
    np.testing.assert_allclose(m.priors_.to_numpy(), 1 / 3)
    assert "priors" not in m.params_


# --------------------------------------------------------------------------- the fused first item pass
def test_fits_use_the_e_steps_item_pass_and_refuse_a_stale_one(monkeypatch):
    """With fixed priors every M-step's first item pass is the one the E-step made (no second
    pass); learnt priors change before it, so it is made afresh; a cached pass made at other
    parameters is refused and made again, with the same result."""
    import crowdagg.methods.glad as mg

    df = crowdagg.datasets.make_crowd(120, 10, 3, 4, random_state=1).annotations
    calls = []
    real = mg._blocked_pass

    def spy(part, post, log_prior, alphas, log_betas, prior, mode, new_lb):
        calls.append(mode)
        return real(part, post, log_prior, alphas, log_betas, prior, mode, new_lb)

    monkeypatch.setattr(mg, "_blocked_pass", spy)
    g = crowdagg.GLAD(max_iter=5, tol=0).fit(df)
    # init="mv": one pass on Q; then 5 fused E-steps (their passes used by 5 M-steps) and the last E-step
    assert calls == [kg.ITEMS_Q] + [kg.ESTEP_ITEMS] * 5 + [kg.ESTEP]
    calls.clear()
    crowdagg.GLAD(max_iter=3, tol=0, class_prior="learn").fit(df)
    assert calls == [kg.ITEMS_Q] + [kg.ESTEP, kg.ITEMS] * 3 + [kg.ESTEP]

    # a stale cached pass (other abilities) is not used
    model = g._make_model()
    t = crowdagg.AnnotationTable.from_pandas(df)
    ctx = EMContext(t, np.full(t.n_items, -1), parallel=False)
    post = np.empty((t.n_items, t.n_labels))
    alphas = np.full(t.n_workers, 1.0)
    log_betas = np.full(t.n_items, 1.0)
    log_prior = model.log_prior(ctx)
    model.e_step_table(ctx, (log_prior, alphas), {"log_betas": log_betas}, post, True)
    cached = ctx.cache["item_step"]
    settings = (log_prior, alphas + 0.5, True, True, model.log_beta_prior)
    calls.clear()
    (fresh,), _ = mg._item_pass(ctx, post, settings, (log_betas,))
    assert calls == [kg.ITEMS] and "item_step" not in ctx.cache
    assert not np.array_equal(fresh, cached[3])
    ctx.cache["item_step"] = cached  # the right parameters: taken as it is, no pass
    calls.clear()
    (used,), _ = mg._item_pass(ctx, post, (log_prior, alphas.copy(), True, True, model.log_beta_prior),
                               (log_betas.copy(),))
    assert calls == [] and used is cached[3]


@pytest.mark.parametrize("mode", ["ESTEP_ITEMS", "ITEMS", "ITEMS_Q"])
def test_blocked_item_pass_matches_the_scalar_pass_on_many_blocks(mode):
    """Compiled, many blocks: items with 0 to 2,500 answers, gold items, abilities far from the
    optimum; the blocked kernel's item pass equals glad_items_slice's (one Newton step)."""
    rng = np.random.default_rng(11)
    n_items, n_workers, k = 900, 2600, 3
    counts = np.where(rng.random(n_items) < 0.02, rng.integers(600, 2500, n_items), rng.integers(0, 7, n_items))
    rows = [(i, int(w), int(rng.integers(k))) for i in range(n_items)
            for w in rng.choice(n_workers, int(counts[i]), replace=False)]
    t = table_of(rows, n_items, n_workers, k)
    alpha = rng.normal(0.5, 1.5, n_workers) * 6.0
    log_beta = rng.normal(0.0, 1.0, n_items)
    log_prior = np.log([0.5, 0.3, 0.2])
    gold = np.full(n_items, -1)
    gold[rng.choice(n_items, 50, replace=False)] = rng.integers(k, size=50)
    post = rng.dirichlet(np.ones(k), n_items)
    post[gold >= 0] = np.eye(k)[gold[gold >= 0]]
    marginal = mode != "ITEMS_Q"
    want_lb = log_beta.copy()
    want = np.zeros(n_workers), np.zeros(n_workers), np.zeros(n_workers)
    glad_items_slice(t.item_ptr, t.worker_codes, t.label_codes, gold, log_prior, post, marginal, alpha, want_lb,
                     1.0, 1.0, 1, 0, n_items, *want)
    for width in ((), (0.0,) * k):
        got_lb = np.empty(n_items)
        got = np.zeros(n_workers), np.zeros(n_workers), np.zeros(n_workers)
        p = post.copy()
        kg.glad_estep_slice(t.item_ptr, t.worker_codes, t.label_codes, gold, log_prior, alpha, log_beta, 1.0, 1.0,
                            0, n_items, p, getattr(kg, mode), got_lb, *got, width)
        np.testing.assert_allclose(got_lb, want_lb, rtol=0, atol=1e-11)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11)


def test_max_abs_diff_reports_nan_as_infinite():
    from crowdagg.kernels.glad import max_abs_diff

    assert max_abs_diff(np.array([1.0, 2.0]), np.array([1.5, 2.0])) == 0.5
    assert max_abs_diff(np.array([1.0, np.nan]), np.array([1.0, 2.0])) == np.inf
    assert max_abs_diff(np.empty(0), np.empty(0)) == 0.0
