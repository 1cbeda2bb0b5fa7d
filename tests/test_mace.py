"""MACE: kernels and M-steps against the pure-Python reference, restarts, spammers, properties."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from naive_glad_mace import (
    naive_mace_elbo,
    naive_mace_estep,
    naive_mace_mstep_em,
    naive_mace_mstep_vb,
    naive_mace_prior_update,
)
from scipy.stats import rankdata
from test_glad import kernel_rows, random_rows, small_crowds, table_of

import crowdagg
from crowdagg.em import LocalExecutor, run_em
from crowdagg.errors import ConvergenceWarning, InitParamsError, InputError, NotFittedError, ParameterError
from crowdagg.kernels.mace import (
    mace_estep_parallel,
    mace_estep_ratio_slice,
    mace_estep_slice,
    mace_know_ratio,
    mace_log_params,
    mace_mstep_em,
    mace_mstep_vb,
)

NOJIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"


def random_params(rng, n_workers, k, normalised=True):
    spam = rng.uniform(0.05, 0.9, n_workers)
    know = 1.0 - spam if normalised else rng.uniform(0.1, 0.9, n_workers) * (1.0 - spam)
    return spam, know, rng.dirichlet(np.ones(k), n_workers) * (1.0 if normalised else 0.8)


# --------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("seed,normalised", [(0, True), (1, False), (2, True), (3, False)])
def test_estep_matches_reference(seed, normalised):
    rng = np.random.default_rng(seed)
    n_items, n_workers, k = 10 + 40 * seed, 5, 3 + seed % 2  # past 32 items: the batched logs
    t = table_of(random_rows(rng, n_items, n_workers, k), n_items, n_workers, k)
    spam, know, strat = random_params(rng, n_workers, k, normalised)
    prior = np.full(k, 1.0 / k)
    gold = np.full(n_items, -1, np.int64)
    gold[rng.choice(n_items, 2, replace=False)] = rng.integers(k, size=2)
    ref_post, ref_ll, ref_k, ref_s = naive_mace_estep(kernel_rows(t), n_items, n_workers, k, prior, spam, know,
                                                      strat, gold)
    ls, lb, lk = mace_log_params(spam, know, strat)
    post = np.empty((n_items, k))
    kc, sc = np.zeros(n_workers), np.zeros((n_workers, k))
    ll = mace_estep_slice(t.item_ptr, t.worker_codes, t.label_codes, gold, np.log(prior), ls, lb, lk, 0, n_items,
                          post, kc, sc, True)
    np.testing.assert_allclose(post, ref_post, atol=1e-12)
    assert ll == pytest.approx(ref_ll, abs=1e-10)
    np.testing.assert_allclose(kc, ref_k, atol=1e-12)
    np.testing.assert_allclose(sc, ref_s, atol=1e-12)
    # every answer is either known or spammed
    assert kc.sum() + sc.sum() == pytest.approx(t.n_annotations)
    bounds = np.array([0, 4, 7, n_items], dtype=np.int64)
    post2 = np.empty((n_items, k))
    kb, sb, lbuf = np.full((3, n_workers), 9.0), np.full((3, n_workers, k), 9.0), np.zeros(3)
    mace_estep_parallel(t.item_ptr, t.worker_codes, t.label_codes, gold, np.log(prior), ls, lb, lk, bounds,
                        post2, kb, sb, lbuf, True)
    np.testing.assert_allclose(post2, post, atol=1e-14)
    np.testing.assert_allclose(kb.sum(axis=0), kc, atol=1e-12)
    np.testing.assert_allclose(sb.sum(axis=0), sc, atol=1e-12)
    assert lbuf.sum() == pytest.approx(ll, abs=1e-10)


def test_msteps_match_reference():
    rng = np.random.default_rng(5)
    kc = rng.uniform(0, 20, 6)
    sc = rng.uniform(0, 5, (6, 3))
    sc[0] = 0.0
    kc[1] = 0.0
    for got, ref in ((mace_mstep_em(kc, sc, 0.01 / 3), naive_mace_mstep_em(kc, sc, 0.01 / 3)),
                     (mace_mstep_vb(kc, sc, (0.5, 0.5), 10.0), naive_mace_mstep_vb(kc, sc, (0.5, 0.5), 10.0))):
        for a, b in zip(got, ref):
            np.testing.assert_allclose(a, b, rtol=1e-12)
    spam, know, strat = mace_mstep_em(kc, sc, 0.01)
    np.testing.assert_allclose(spam + know, 1.0)
    np.testing.assert_allclose(strat.sum(axis=1), 1.0)
    spam, know, strat = mace_mstep_vb(kc, sc, (0.5, 0.5), 10.0)
    assert np.all(spam + know < 1.0) and np.all(strat.sum(axis=1) < 1.0)  # sub-normalised


# --------------------------------------------------------------------------- the EM loop vs a reference
def naive_mace_run(rows, n_items, n_workers, k, init, n_iter, method, gold=None, learn_prior=False,
                   theta_prior=(0.5, 2.0), with_counts=False):
    """Reference loop: E-step, then (M-step, E-step) x n_iter; returns posteriors, params, loglik
    (``with_counts``: and the expected counts ``(know, strategies, class totals)`` that the last
    M-step used, the variational posteriors' counts of the ELBO).
    ``learn_prior``: class priors from the posteriors too (uniform at the start); ``theta_prior``:
    the VB Beta pseudo-counts (spam, know), default the estimator's."""
    prior = np.full(k, 1.0 / k)
    answered = np.zeros(n_items, dtype=bool)
    for i, _, _ in rows:
        answered[i] = True
    if gold is not None:
        answered |= np.asarray(gold) >= 0
    spam, know, strat = init
    post, ll, kc, sc = naive_mace_estep(rows, n_items, n_workers, k, prior, spam, know, strat, gold)
    used = None
    for _ in range(n_iter):
        used = (kc, sc, post[answered].sum(axis=0))
        if method == "vb":
            spam, know, strat = naive_mace_mstep_vb(kc, sc, theta_prior, 10.0)
        else:
            spam, know, strat = naive_mace_mstep_em(kc, sc, 0.01 / k)
        if learn_prior:
            prior = naive_mace_prior_update(post, answered, method, 0.01 / k)
        post, ll, kc, sc = naive_mace_estep(rows, n_items, n_workers, k, prior, spam, know, strat, gold)
    if with_counts:
        return post, (spam, know, strat), ll, used
    return post, (spam, know, strat), ll


@pytest.mark.parametrize("theta_prior", [(0.5, 0.5), (0.5, 2.0)])  # the paper's, the default
@pytest.mark.parametrize("class_prior", ["uniform", "learn"])
@pytest.mark.parametrize("method,parallel", [("vb", True), ("em", False)])
def test_restarts_match_reference_loop(method, parallel, class_prior, theta_prior):
    rng = np.random.default_rng(7)
    n_items, n_workers, k = 14, 5, 3
    t = table_of(random_rows(rng, n_items, n_workers, k), n_items, n_workers, k)
    rows = kernel_rows(t)
    gold = np.full(n_items, -1)
    gold[2] = 0
    m = crowdagg.MACE(max_iter=4, tol=0, method=method, n_restarts=3, init="random", random_state=11,
                      parallel=parallel, class_prior=class_prior, theta_prior=theta_prior,
                      decision="posterior").fit(t, gold=pd.Series([0], index=t.items[2:3]))
    # the default decision: same fit, labels under uniform class priors at the fitted parameters
    b = crowdagg.MACE(max_iter=4, tol=0, method=method, n_restarts=3, init="random", random_state=11,
                      parallel=parallel, class_prior=class_prior, theta_prior=theta_prior).fit(
        t, gold=pd.Series([0], index=t.items[2:3]))
    # the same random starting points: weights uniform in [1, 1.5], normalised per worker
    draw = np.random.default_rng(11)
    lls, elbos, runs = [], [], []
    for _ in range(3):
        sk = 1.0 + 0.5 * draw.random((n_workers, 2))
        sk /= sk.sum(axis=1, keepdims=True)
        st_ = 1.0 + 0.5 * draw.random((n_workers, k))
        st_ /= st_.sum(axis=1, keepdims=True)
        post, params, ll, (kc, sc, tot) = naive_mace_run(
            rows, n_items, n_workers, k, (sk[:, 0], sk[:, 1], st_), 4, method, gold,
            learn_prior=class_prior == "learn", theta_prior=theta_prior, with_counts=True)
        lls.append(ll)
        elbos.append(naive_mace_elbo(rows, n_items, k, post, kc, sc, tot, theta_prior, 10.0,
                                     class_prior == "learn", gold))
        runs.append((post, params))
    np.testing.assert_allclose(m.restart_loglik_, lls, atol=1e-8)
    assert len(set(np.round(lls, 10))) == 3  # the restarts really start from different points
    # the default restart_criterion ("auto"): the objective the fit maximises, VB's ELBO or EM's
    # log-likelihood
    if method == "vb":
        np.testing.assert_allclose(m.restart_elbo_, elbos, rtol=1e-10, atol=1e-8)
        best = int(np.argmax(elbos))
        by_ll = crowdagg.MACE(max_iter=4, tol=0, method=method, n_restarts=3, init="random", random_state=11,
                              parallel=parallel, class_prior=class_prior, theta_prior=theta_prior,
                              decision="posterior", restart_criterion="loglik").fit(
            t, gold=pd.Series([0], index=t.items[2:3]))
        assert by_ll.best_restart_ == int(np.argmax(lls)) and not hasattr(by_ll, "restart_elbo_")
    else:
        assert not hasattr(m, "restart_elbo_")
        best = int(np.argmax(lls))
    assert m.best_restart_ == best
    post, (spam, know, strat) = runs[best]
    np.testing.assert_allclose(m.probas_.to_numpy(), post, atol=1e-8)
    np.testing.assert_allclose(m.params_["spam"], spam, atol=1e-8)
    np.testing.assert_allclose(m.params_["strategies"], strat, atol=1e-8)
    np.testing.assert_allclose(m.spam_.to_numpy(), spam / (spam + know), atol=1e-8)
    np.testing.assert_allclose(m.strategies_.to_numpy(), strat / strat.sum(axis=1, keepdims=True), atol=1e-8)
    np.testing.assert_array_equal(b.restart_loglik_, m.restart_loglik_)
    for name in m.params_:
        np.testing.assert_array_equal(b.params_[name], m.params_[name])
    uniform_post = naive_mace_estep(rows, n_items, n_workers, k, np.full(k, 1.0 / k), spam, know, strat, gold)[0]
    np.testing.assert_allclose(b.probas_.to_numpy(), uniform_post, atol=1e-8)
    assert b.probas_.to_numpy()[2, 0] == 1.0  # the gold item stays one-hot
    if class_prior == "uniform":
        np.testing.assert_array_equal(b.probas_.to_numpy(), m.probas_.to_numpy())
    else:  # the decisions really differ here
        assert np.abs(b.probas_.to_numpy() - m.probas_.to_numpy()).max() > 1e-3
    np.testing.assert_allclose(b.predict_proba(t).to_numpy()[3:], uniform_post[3:], atol=1e-8)


# --------------------------------------------------------------------------- behaviour
def roc_auc_score(positive, score):
    """Area under the ROC curve as the Mann-Whitney U statistic (ties count one half)."""
    positive = np.asarray(positive, dtype=bool)
    ranks = rankdata(np.asarray(score, dtype=float))
    n_pos, n_neg = positive.sum(), (~positive).sum()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def accuracy(labels, truth):
    return float((labels == truth.reindex(labels.index)).mean())


@pytest.mark.parametrize("method", ["vb", "em"])
def test_spammers_ranked_first(method):
    c = crowdagg.datasets.make_crowd(1500 if not NOJIT else 300, 50, 4, 5, spammer_share=0.2,
                                     spammer_kind="uniform", workload="uniform", random_state=3)
    m = crowdagg.MACE(method=method, n_restarts=3, random_state=0).fit(c.annotations)
    spammer = c.workers["spammer"].reindex(m.spam_.index)
    assert spammer.sum() == 10
    assert roc_auc_score(spammer, m.spam_) >= 0.95
    assert accuracy(m.labels_, c.truth) > accuracy(crowdagg.MajorityVote().fit(c.annotations).labels_, c.truth)


def test_constant_spammer_strategy_and_confident_labels():
    c = crowdagg.datasets.make_crowd(400, 20, 3, 5, spammer_share=0.0, random_state=1)
    df = c.annotations
    items = df["item"].unique()[:300]
    labs = sorted(df["label"].unique())
    df = pd.concat([df, pd.DataFrame({"item": items, "worker": "lazy", "label": labs[0]})])
    m = crowdagg.MACE(n_restarts=2).fit(df)
    assert m.spam_.idxmax() == "lazy" and m.spam_["lazy"] > 0.8
    assert m.strategies_.loc["lazy"].idxmax() == labs[0] and m.strategies_.loc["lazy", labs[0]] > 0.9
    np.testing.assert_allclose(m.strategies_.sum(axis=1), 1.0)
    # entropy and the threshold helper
    assert m.entropies_.index.equals(m.table_.items) and (m.entropies_ >= 0).all()
    half = m.confident_labels(0.5)
    assert len(half) == 200 and half.index.isin(m.labels_.index).all()
    assert m.entropies_.loc[half.index].max() <= m.entropies_.drop(half.index).min()
    assert accuracy(half, c.truth) >= accuracy(m.labels_, c.truth)
    assert len(m.confident_labels()) == 400 and len(m.confident_labels(0.0)) == 0
    with pytest.raises(InputError):
        m.confident_labels(1.5)
    with pytest.raises(NotFittedError):
        crowdagg.MACE().confident_labels(0.5)


def test_tol_zero_runs_max_iter_and_warning():
    df = crowdagg.datasets.make_crowd(200, 20, 3, random_state=2).annotations
    m = crowdagg.MACE(max_iter=7, tol=0, n_restarts=2).fit(df)
    assert m.n_iter_ == 7 and len(m.loglik_) == 7 and len(m.restart_loglik_) == 2
    with pytest.warns(ConvergenceWarning):
        crowdagg.MACE(max_iter=2, tol=1e-12, n_restarts=1).fit(df)
    assert crowdagg.MACE(max_iter=500, tol=1e-3, n_restarts=1).fit(df).converged_


def test_determinism_and_random_state():
    df = crowdagg.datasets.make_crowd(200, 20, 3, random_state=2).annotations
    a = crowdagg.MACE(random_state=5, n_restarts=3, init="random", max_iter=5, tol=0).fit(df)
    b = crowdagg.MACE(random_state=5, n_restarts=3, init="random", max_iter=5, tol=0).fit(df)
    c = crowdagg.MACE(random_state=6, n_restarts=3, init="random", max_iter=5, tol=0).fit(df)
    pd.testing.assert_frame_equal(a.probas_, b.probas_)
    np.testing.assert_array_equal(a.restart_loglik_, b.restart_loglik_)
    assert not np.array_equal(a.restart_loglik_, c.restart_loglik_)


def test_gold_and_warm_start():
    c = crowdagg.datasets.make_crowd(300, 20, 3, 3, accuracy=(0.4, 0.7), random_state=4)
    gold = c.truth.iloc[:80]
    m = crowdagg.MACE(n_restarts=2).fit(c.annotations, gold=gold)
    assert (m.labels_.loc[gold.index] == gold).all()
    # warm start: one run from the given parameters
    w = crowdagg.MACE(max_iter=0).fit(c.annotations, init_params=m)
    assert len(w.restart_loglik_) == 1
    for name in ("spam", "know", "strategies"):
        np.testing.assert_allclose(w.params_[name], m.params_[name])
    m.set_params(warm_start=True, max_iter=3, tol=0).fit(c.annotations)
    assert len(m.restart_loglik_) == 1
    with pytest.raises(InitParamsError):
        crowdagg.MACE().fit(c.annotations, init_params={"spam": [0.5]})
    p = m.predict_proba(c.annotations.iloc[:30])
    assert np.allclose(p.sum(axis=1), 1.0)


def test_degenerate_tables_are_finite():
    one_label = pd.DataFrame({"item": [1, 1, 2], "worker": ["a", "b", "a"], "label": ["x", "x", "x"]})
    for method in ("vb", "em"):
        m = crowdagg.MACE(method=method, max_iter=5, tol=0, n_restarts=2).fit(one_label)
        assert m.labels_.tolist() == ["x", "x"] and np.all(np.isfinite(m.spam_))
        single = pd.DataFrame({"item": [1], "worker": ["a"], "label": [0]})
        m = crowdagg.MACE(method=method, max_iter=5, tol=0).fit(single, labels=[0, 1, 2])
        assert m.labels_.tolist() == [0] and np.all(np.isfinite(m.probas_))
        assert np.all(np.isfinite(m.strategies_)) and np.all(np.isfinite(m.entropies_))
        holes = pd.DataFrame({"item": [1, 1, 2, 3], "worker": ["a", "b", "a", "b"], "label": [0, 1, None, 1]})
        m = crowdagg.MACE(method=method, max_iter=5, tol=0).fit(holes)
        assert m.labels_.isna().tolist() == [False, True, False]
        np.testing.assert_allclose(m.probas_.loc[2], 0.5)  # no answers: uniform (decision="balanced")
        np.testing.assert_allclose(m.priors_.sum(), 1.0)
        m = crowdagg.MACE(method=method, max_iter=5, tol=0, decision="posterior").fit(holes)
        np.testing.assert_allclose(m.probas_.loc[2], m.priors_.to_numpy())  # no answers: the class priors
        m = crowdagg.MACE(method=method, max_iter=5, tol=0, class_prior="uniform").fit(holes)
        np.testing.assert_allclose(m.probas_.loc[2], 0.5)


@pytest.mark.parametrize("kwargs", [
    {"method": "gibbs"}, {"n_restarts": 0}, {"theta_prior": (0.0, 1.0)}, {"theta_prior": 1.0},
    {"strategy_prior": -1.0}, {"smoothing": 0.0}, {"noise": -1.0}, {"init": "best"}, {"max_iter": 1.5},
    {"restart_criterion": "best"},
])
def test_bad_arguments_raise(kwargs):
    df = crowdagg.datasets.make_crowd(50, 10, 3, random_state=0).annotations
    with pytest.raises(InputError):
        crowdagg.MACE(**kwargs).fit(df)


@settings(max_examples=15 if not NOJIT else 4, deadline=None)
@given(small_crowds())
def test_relabelling_items_workers_and_labels(case):
    df, k, rnd = case
    kw = dict(max_iter=5, tol=0, n_restarts=1, init="mv")
    base = crowdagg.MACE(**kw).fit(df, labels=list(range(k)))
    order = list(range(len(df)))
    rnd.shuffle(order)
    df2 = df.iloc[order].assign(item=lambda d: "x" + d["item"], worker=lambda d: d["worker"] + "_z")
    m2 = crowdagg.MACE(**kw).fit(df2, labels=list(range(k)))
    p2 = m2.probas_.rename(index=lambda s: s[1:]).loc[base.probas_.index]
    np.testing.assert_allclose(p2.to_numpy(), base.probas_.to_numpy(), atol=1e-9)
    s2 = m2.spam_.rename(index=lambda s: s[:-2]).loc[base.spam_.index]
    np.testing.assert_allclose(s2.to_numpy(), base.spam_.to_numpy(), atol=1e-9)
    perm = list(range(k))
    rnd.shuffle(perm)
    df3 = df.assign(label=df["label"].map(lambda y: perm[y]))
    m3 = crowdagg.MACE(**kw).fit(df3, labels=list(range(k)))
    np.testing.assert_allclose(m3.probas_.to_numpy()[:, perm], base.probas_.to_numpy(), atol=1e-9)
    np.testing.assert_allclose(m3.strategies_.to_numpy()[:, perm], base.strategies_.to_numpy(), atol=1e-9)


# --------------------------------------------------------------------------- buffer reuse (regression)
def _forced_chunks(t):
    """A context whose E-step takes the parallel path (3 chunks) whatever the size."""
    from crowdagg.em import EMContext

    ctx = EMContext(t, np.full(t.n_items, -1, np.int64))
    ctx._bounds = np.array([0, t.n_items // 3, 2 * t.n_items // 3, t.n_items], dtype=np.int64)
    return ctx


@pytest.mark.parametrize("method", ["vb", "em"])
def test_plugin_reused_on_table_with_more_workers(method):
    """Scratch buffers follow the table's shape: the plug-in used to cache them by chunk
    count only, so a second, wider table made the kernels write out of bounds."""
    from crowdagg.em import run_em
    from crowdagg.methods.mace import MACEModel

    small = crowdagg.AnnotationTable.from_pandas(crowdagg.datasets.make_crowd(60, 4, 3, 3, random_state=1)
                                                 .annotations)
    big = crowdagg.AnnotationTable.from_pandas(crowdagg.datasets.make_crowd(400, 60, 4, 5, random_state=2)
                                               .annotations)
    model = MACEModel(method, None, (0.5, 0.5), 10.0)
    for t in (small, big, small):
        got = run_em(model, _forced_chunks(t), init="mv", max_iter=4, tol=0)
        ref = run_em(MACEModel(method, None, (0.5, 0.5), 10.0), _forced_chunks(t), init="mv", max_iter=4, tol=0)
        np.testing.assert_array_equal(got.posteriors, ref.posteriors)
        for name in ("spam", "know", "strategies"):
            np.testing.assert_array_equal(got.params[name], ref.params[name])
        np.testing.assert_array_equal(got.loglik, ref.loglik)


def test_same_estimator_refit_on_wider_table():
    """The estimator-level view of the buffer regression: refitting one estimator on a
    wider, longer table gives exactly a fresh estimator's result (guards any plug-in or
    buffer the estimator might keep between fits)."""
    small = crowdagg.datasets.make_crowd(60, 4, 3, 3, random_state=1).annotations
    big = crowdagg.datasets.make_crowd(2000, 80, 4, 5, random_state=2).annotations
    est = crowdagg.MACE(max_iter=4, tol=0, n_restarts=2).fit(small)
    est.fit(big)
    fresh = crowdagg.MACE(max_iter=4, tol=0, n_restarts=2).fit(big)
    np.testing.assert_array_equal(est.probas_.to_numpy(), fresh.probas_.to_numpy())
    pd.testing.assert_series_equal(est.spam_, fresh.spam_)
    pd.testing.assert_frame_equal(est.strategies_, fresh.strategies_)
    np.testing.assert_array_equal(est.restart_loglik_, fresh.restart_loglik_)


def test_tabulated_know_ratio_kernel():
    """The per-(worker, label) table replaces one exp per annotation without changing
    a bit of the result; the plain slice kernel (the distributed engine's entry point)
    still takes ``log_know``."""
    rng = np.random.default_rng(9)
    n_items, n_workers, k = 40, 7, 3
    t = table_of(random_rows(rng, n_items, n_workers, k), n_items, n_workers, k)
    spam, know, strat = random_params(rng, n_workers, k, normalised=False)
    ls, lb, lk = mace_log_params(spam, know, strat)
    ratio = mace_know_ratio(lk, lb)
    np.testing.assert_allclose(ratio, know[:, None] / (spam[:, None] * strat + know[:, None]), rtol=1e-13)
    assert ratio.shape == (n_workers, k) and np.all((ratio > 0) & (ratio <= 1))
    gold = np.full(n_items, -1, np.int64)
    gold[3] = 1
    prior = np.log(np.full(k, 1.0 / k))
    out = []
    for kern, last in ((mace_estep_slice, lk), (mace_estep_ratio_slice, ratio)):
        post, kc, sc = np.empty((n_items, k)), np.zeros(n_workers), np.zeros((n_workers, k))
        ll = kern(t.item_ptr, t.worker_codes, t.label_codes, gold, prior, ls, lb, last, 0, n_items, post, kc, sc,
                  True)
        out.append((ll, post, kc, sc))
    assert out[0][0] == out[1][0]
    for a, b in zip(out[0][1:], out[1][1:]):
        np.testing.assert_array_equal(a, b)
    # without accumulation nothing is counted (and no table is needed)
    post, kc, sc = np.empty((n_items, k)), np.zeros(n_workers), np.zeros((n_workers, k))
    ll = mace_estep_slice(t.item_ptr, t.worker_codes, t.label_codes, gold, prior, ls, lb, lk, 0, n_items, post,
                          kc, sc, False)
    assert ll == out[0][0] and not kc.any() and not sc.any()
    np.testing.assert_array_equal(post, out[0][1])


def test_warm_start_dict_without_priors_starts_them_uniform():
    """Parameters of the paper's model (no class priors) still warm-start a learnt-prior MACE."""
    df = crowdagg.datasets.make_crowd(200, 15, 3, random_state=0).annotations
    old = crowdagg.MACE(n_restarts=1, class_prior="uniform", max_iter=5, tol=0).fit(df)
    src = {"spam": old.spam_, "know": 1 - old.spam_, "strategies": old.strategies_}
    a = crowdagg.MACE(max_iter=0, tol=0).fit(df, init_params=src)
    np.testing.assert_allclose(a.priors_.to_numpy(), 1 / 3)
    b = crowdagg.MACE(max_iter=0, tol=0, init=src).fit(df)  # the same source given as init
    np.testing.assert_allclose(b.probas_.to_numpy(), a.probas_.to_numpy())
    with pytest.raises(InitParamsError):
        crowdagg.MACE(max_iter=0).fit(df, init_params={"spam": old.spam_})


# --------------------------------------------------------------------------- decision rule
def test_balanced_decision_hand_computed():
    """One answer ``y`` from a worker with (spam s, know t, strategy xi): under priors pi the
    posterior is pi_k (s xi_y + t [k = y]) / sum_j ...; "balanced" drops pi."""
    from crowdagg.methods.mace import MACEModel

    t = crowdagg.AnnotationTable.from_codes(np.array([0, 1, 1]), np.array([0, 0, 1]), np.array([1, 0, 1]),
                                            items=2, workers=2, labels=2)
    src = {"spam": np.array([0.6, 0.3]), "know": np.array([0.4, 0.7]),
           "strategies": np.array([[0.5, 0.5], [0.9, 0.1]]), "priors": np.array([0.8, 0.2]),
           "workers": t.workers, "labels": t.labels}
    post = crowdagg.MACE(max_iter=0, decision="posterior").fit(t, init_params=src).probas_.to_numpy()
    bal = crowdagg.MACE(max_iter=0).fit(t, init_params=src).probas_.to_numpy()
    # item 0: worker 0 says 1; p(1 | 0) = 0.6 * 0.5 = 0.3, p(1 | 1) = 0.3 + 0.4 = 0.7
    np.testing.assert_allclose(post[0], np.array([0.8 * 0.3, 0.2 * 0.7]) / (0.8 * 0.3 + 0.2 * 0.7))
    np.testing.assert_allclose(bal[0], [0.3, 0.7])
    # item 1: worker 0 says 0 (p(0|0) = 0.7, p(0|1) = 0.3), worker 1 says 1 (p(1|0) = 0.03, p(1|1) = 0.73)
    like = np.array([0.7 * 0.03, 0.3 * 0.73])
    np.testing.assert_allclose(bal[1], like / like.sum())
    np.testing.assert_allclose(post[1], like * [0.8, 0.2] / (like * [0.8, 0.2]).sum())
    assert post.argmax(axis=1).tolist() == [0, 1] and bal.argmax(axis=1).tolist() == [1, 1]
    # the model's switch: only the deciding E-step drops the learnt priors
    model = MACEModel("vb", None, (0.5, 2.0), 10.0, learn_prior=True, balanced=True)
    assert not model.deciding


def test_balanced_decision_partial_fit_and_predict_proba():
    """partial_fit: the statistics (and hence the parameters) are the learnt-prior ones; the
    batch's labels are taken under uniform priors, like fit's and predict_proba's."""
    c = crowdagg.datasets.make_crowd(400, 30, 3, 4, class_prior=[0.7, 0.2, 0.1], random_state=5)
    df = c.annotations
    a, b = df.iloc[:800], df.iloc[800:]
    kw = dict(n_restarts=2, max_iter=10, tol=0)
    pb = crowdagg.MACE(**kw).partial_fit(a).partial_fit(b)
    pp = crowdagg.MACE(decision="posterior", **kw).partial_fit(a).partial_fit(b)
    for name in pp.params_:
        np.testing.assert_array_equal(pb.params_[name], pp.params_[name])
    np.testing.assert_allclose(pb.probas_.to_numpy(), pb.predict_proba(b).loc[pb.probas_.index].to_numpy(),
                               atol=1e-12)
    np.testing.assert_allclose(pp.probas_.to_numpy(), pp.predict_proba(b).loc[pp.probas_.index].to_numpy(),
                               atol=1e-12)
    assert not np.allclose(pb.probas_.to_numpy(), pp.probas_.to_numpy())
    gold = c.truth.loc[b["item"].iloc[:5].unique()]
    g = crowdagg.MACE(**kw).partial_fit(a).partial_fit(b, gold=gold)
    assert (g.labels_.loc[gold.index] == gold).all()
    assert np.isfinite(g.entropies_).all() and (g.entropies_.loc[gold.index] == 0).all()


@pytest.mark.filterwarnings("ignore::crowdagg.errors.ConvergenceWarning")
def test_decisions_on_a_skewed_crowd():
    """88% class 0: both decisions far above the paper's uniform-truth fit; the Bayes
    decision (learnt priors) is the more accurate when the truth is a random sample, the
    balanced one has the higher recall on the rare class."""
    crowd = crowdagg.datasets.make_crowd(3000, 150, 2, per_item=3, class_prior=[0.88, 0.12],
                                         accuracy=(0.6, 0.95), random_state=0)
    df, truth = crowd.annotations, crowd.truth
    mv = accuracy(crowdagg.MajorityVote().fit(df).labels_, truth)
    fits = {d: crowdagg.MACE(n_restarts=2, random_state=0, decision=d).fit(df) for d in ("balanced", "posterior")}
    uniform = crowdagg.MACE(n_restarts=2, random_state=0, class_prior="uniform").fit(df)
    acc = {d: accuracy(f.labels_, truth) for d, f in fits.items()}
    assert accuracy(uniform.labels_, truth) < mv - 0.05 < mv + 0.02 < acc["balanced"] < acc["posterior"]
    rare = truth.index[truth == 1]
    assert (fits["balanced"].labels_.loc[rare] == 1).mean() > (fits["posterior"].labels_.loc[rare] == 1).mean()
    np.testing.assert_array_equal(fits["balanced"].spam_, fits["posterior"].spam_)


def test_underflowing_strategy_row_is_exposed_uniform():
    """A worker with no spam counts under a vanishing strategy prior: its VB strategy
    weights exp(E[log xi]) underflow to 0; strategies_ and skills_ stay finite (found by
    tests/test_parameters.py's hypothesis search)."""
    df = crowdagg.datasets.make_crowd(40, 8, 3, per_item=3, random_state=0).annotations
    m = crowdagg.MACE(max_iter=1, tol=0, n_restarts=1, theta_prior=(0.0006948588133260732, 21554.0),
                      strategy_prior=1.099957713308686e-223, noise=0.0, parallel=False).fit(df)
    zero = np.flatnonzero(m.params_["strategies"].sum(axis=1) == 0.0)
    assert zero.size  # the case is really reached
    np.testing.assert_allclose(m.strategies_.to_numpy()[zero], 1.0 / 3)
    assert np.isfinite(m.skills_).all() and np.isfinite(m.strategies_.to_numpy()).all()


def test_predict_proba_concurrent_calls_share_nothing():
    """predict_proba builds its own plug-in per call: threads predicting at once neither
    fail nor see each other's decision rule (the estimator itself is not touched)."""
    from concurrent.futures import ThreadPoolExecutor

    crowd = crowdagg.datasets.make_crowd(600, 40, 3, per_item=4, class_prior=[0.6, 0.25, 0.15], random_state=3)
    df = crowd.annotations
    est = crowdagg.MACE(n_restarts=1, max_iter=10, random_state=0).fit(df)
    before = dict(est.__dict__)
    ref = est.predict_proba(df)
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda _: est.predict_proba(df), range(16)))
    for g in got:
        pd.testing.assert_frame_equal(g, ref)
    assert est.__dict__.keys() == before.keys()
    # the balanced rule: the fitted probas_ are what predict_proba gives on the same data
    np.testing.assert_allclose(ref.to_numpy(), est.probas_.loc[ref.index].to_numpy(), atol=1e-10)


def test_model_file_without_decision_keeps_the_posterior_rule(tmp_path, monkeypatch):
    """A model saved before ``decision`` existed (its params lack it) loads with
    ``decision="posterior"``, the rule its stored labels were made with."""
    crowd = crowdagg.datasets.make_crowd(400, 30, 2, per_item=3, class_prior=[0.8, 0.2], random_state=1)
    df = crowd.annotations
    old = crowdagg.MACE(n_restarts=1, max_iter=10, random_state=0, decision="posterior").fit(df)
    real = crowdagg.MACE.get_params

    def without_decision(self, deep=True):
        p = real(self, deep)
        p.pop("decision", None)
        return p

    monkeypatch.setattr(crowdagg.MACE, "get_params", without_decision)
    old.save(tmp_path / "old.zip")
    monkeypatch.undo()
    loaded = crowdagg.load(tmp_path / "old.zip")
    assert loaded.decision == "posterior"
    pd.testing.assert_frame_equal(loaded.predict_proba(df), old.predict_proba(df))
    # a file that names the parameter keeps what it names
    crowdagg.MACE(n_restarts=1, max_iter=10, random_state=0).fit(df).save(tmp_path / "new.zip")
    assert crowdagg.load(tmp_path / "new.zip").decision == "balanced"


@pytest.mark.parametrize("k", [2, 4])
def test_fixed_estep_tiny_part_of_many_workers(k):
    """A part (a Dask piece, a partial_fit batch) of 10 answers among many workers: the
    fixed-width E-step reads the tables that ``prepare`` builds once per E-step (no
    workers-sized table or fold per part; see tests/test_estep_kernels.py for the page
    faults of one call), and agrees with the generic kernel; ``memory_terms`` counts
    the tables."""
    from crowdagg.em import EMContext
    from crowdagg.kernels.mace import mace_answer_log_probs
    from crowdagg.methods.mace import MACEModel

    n_workers = 2_000 if NOJIT else 1_000_000  # the tables in pure Python: slow without the JIT
    rng = np.random.default_rng(5)
    ic = np.array([0, 0, 0, 1, 2, 2, 2, 2, 4, 4], np.int64)
    wc = np.array([5, n_workers - 1, 1234, 5, 42, 777, 3, n_workers - 1, 10, 1500], np.int64)
    t = crowdagg.AnnotationTable.from_codes(ic, wc, rng.integers(0, k, 10), items=5, workers=n_workers, labels=k)
    gold = np.array([-1, -1, 1, -1, -1], np.int64)
    ctx = EMContext(t, gold)
    model = MACEModel("vb", None, (0.5, 2.0), 10.0, learn_prior=True)
    spam, know, strat = random_params(rng, n_workers, k, normalised=False)
    params = {"spam": spam, "know": know, "strategies": strat, "priors": rng.dirichlet(np.ones(k))}
    prepared = model.prepare(ctx, params)
    log_prior, ls, lb, lk, (logpy, ratio) = prepared
    np.testing.assert_array_equal(logpy, mace_answer_log_probs(ls, lb))
    np.testing.assert_array_equal(ratio, mace_know_ratio(lk, lb))
    post = np.empty((5, k))
    ll, (kc, sc, tot) = model.e_step_table(ctx, prepared, {}, post, True)
    post2, kc2, sc2 = np.empty((5, k)), np.zeros(n_workers), np.zeros((n_workers, k))
    ll2 = mace_estep_slice(t.item_ptr, t.worker_codes, t.label_codes, gold, log_prior, ls, lb, lk, 0, 5, post2, kc2,
                           sc2, True)
    np.testing.assert_allclose(post, post2, rtol=1e-15, atol=1e-15)
    assert ll == pytest.approx(ll2, rel=1e-14)
    np.testing.assert_allclose(kc, kc2, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(sc, sc2, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(tot, post[[0, 1, 2, 4]].sum(axis=0), rtol=1e-13)
    ll_n, _ = model.e_step_table(ctx, prepared, {}, post2, False)  # the decision pass: no counts
    assert ll_n == ll
    np.testing.assert_array_equal(post2, post)
    # memory_terms: the tables of prepare (workers x K x (K + 1) doubles) for 2-4 classes only
    terms = dict(model.memory_terms(5, n_workers, k))
    assert terms[f"E-step answer tables ({k} labels x {k + 1}), {n_workers:,} workers"] == 8.0 * n_workers * k * (k + 1)
    assert not any("answer tables" in d for d, _ in model.memory_terms(5, n_workers, 5))
    ctx5 = EMContext(table_of([(0, 0, 4)], 1, 1, 5), np.full(1, -1, np.int64))
    assert model.prepare(ctx5, model.default_params(ctx5))[4] is None  # 5 classes: the generic kernels


# --------------------------------------------------------------------------- restarts kept by the ELBO
@pytest.mark.parametrize(("k", "class_prior", "theta_prior", "strategy_prior"), [
    (3, "learn", (0.5, 2.0), 10.0),  # the generic kernel
    (2, "learn", (0.5, 0.5), 1.0),  # the fixed-width kernels
    (4, "uniform", (1.0, 3.0), 0.5),
])
def test_elbo_matches_reference(k, class_prior, theta_prior, strategy_prior):
    """``MACEModel.elbo`` (log normaliser - KL of the Beta / Dirichlet posteriors) equals the ELBO
    written from its definition with the spam indicators (naive_mace_elbo), on a table with
    unanswered items and a gold one."""
    rng = np.random.default_rng(k)
    n_items, n_workers = 40, 6
    t = table_of(random_rows(rng, n_items, n_workers, k), n_items, n_workers, k)
    assert (t.item_counts() == 0).any()  # items outside the model of the learnt priors
    gold = np.full(n_items, -1, np.int64)
    gold[[1, 5]] = [0, k - 1]
    est = crowdagg.MACE(max_iter=4, tol=0, class_prior=class_prior, theta_prior=theta_prior,
                        strategy_prior=strategy_prior, restart_criterion="elbo", parallel=False)
    model = est._make_model()
    ctx = est._context(t, gold)
    fit = run_em(model, LocalExecutor(ctx), init="mv", max_iter=4, tol=0, warn=False)
    know_cnt, strat_cnt, tot = model._counts
    ref = naive_mace_elbo(kernel_rows(t), n_items, k, fit.posteriors, know_cnt, strat_cnt, tot, theta_prior,
                          strategy_prior, class_prior == "learn", gold)
    assert model.elbo(ctx, fit.params, fit.loglik[-1]) == pytest.approx(ref, rel=1e-10, abs=1e-9)
    assert ref < fit.loglik[-1]  # the KL term is there


@pytest.mark.parametrize("k", [3, 4])
def test_elbo_never_decreases_over_iterations(k):
    """VB is coordinate ascent on the ELBO: after every iteration it is at least as high (a
    wrong KL term, or the priors' statistics from other items than the E-step's, breaks this)."""
    df = crowdagg.datasets.make_crowd(300, 25, k, per_item=3, class_prior=[0.6] + [0.4 / (k - 1)] * (k - 1),
                                      random_state=k).annotations
    gold = pd.Series([df["label"].iloc[0]], index=[df["item"].iloc[0]])
    elbos = [crowdagg.MACE(max_iter=n, tol=0, n_restarts=1, restart_criterion="elbo").fit(df, gold=gold)
             .restart_elbo_[0] for n in range(1, 16)]
    steps = np.diff(elbos)
    assert np.all(steps >= -1e-9 * abs(elbos[-1])), steps
    assert steps[0] > 1.0  # and it moves


def test_elbo_criterion_keeps_its_best_run():
    """The same runs; the kept one is the highest ELBO, whose own history is ``loglik_``; a refit
    by the log-likelihood drops ``restart_elbo_``."""
    df = crowdagg.datasets.make_crowd(400, 30, 3, per_item=3, spammer_share=0.3, random_state=5).annotations
    kw = dict(n_restarts=6, random_state=2, max_iter=30)
    by_ll = crowdagg.MACE(restart_criterion="loglik", **kw).fit(df)
    by_elbo = crowdagg.MACE(restart_criterion="elbo", **kw).fit(df)
    assert not hasattr(by_ll, "restart_elbo_")
    np.testing.assert_array_equal(by_elbo.restart_loglik_, by_ll.restart_loglik_)
    assert by_elbo.restart_elbo_.shape == (6,)
    assert np.all(by_elbo.restart_elbo_ < by_elbo.restart_loglik_)
    assert by_elbo.best_restart_ == int(np.argmax(by_elbo.restart_elbo_))
    assert by_ll.best_restart_ == int(np.argmax(by_ll.restart_loglik_))
    assert by_elbo.loglik_[-1] == by_elbo.restart_loglik_[by_elbo.best_restart_]
    assert by_elbo.n_iter_ == by_elbo.loglik_.size
    by_elbo.set_params(restart_criterion="loglik").fit(df)
    assert not hasattr(by_elbo, "restart_elbo_")
    pd.testing.assert_frame_equal(by_elbo.probas_, by_ll.probas_)


@pytest.mark.filterwarnings("ignore::crowdagg.errors.ConvergenceWarning")
def test_default_restart_criterion_is_the_fits_objective():
    """``restart_criterion="auto"`` (the default) keeps the run of the objective that the fit
    maximises: the ELBO under ``method="vb"``, the log-likelihood under ``method="em"``; each fit
    equals the explicit choice.  On this crowd the two criteria keep different runs under VB, so
    the check can tell them apart."""
    df = crowdagg.datasets.make_crowd(400, 30, 3, per_item=3, spammer_share=0.3, random_state=5).annotations
    kw = dict(n_restarts=6, random_state=2, max_iter=30)
    assert crowdagg.MACE().restart_criterion == "auto" == crowdagg.MACE().get_params()["restart_criterion"]
    vb = crowdagg.MACE(**kw).fit(df)
    vb_elbo = crowdagg.MACE(restart_criterion="elbo", **kw).fit(df)
    vb_ll = crowdagg.MACE(restart_criterion="loglik", **kw).fit(df)
    assert vb.restart_criterion == "auto"  # fit leaves the parameter as given
    assert vb.best_restart_ == vb_elbo.best_restart_ != vb_ll.best_restart_
    np.testing.assert_array_equal(vb.restart_elbo_, vb_elbo.restart_elbo_)
    np.testing.assert_array_equal(vb.loglik_, vb_elbo.loglik_)
    pd.testing.assert_frame_equal(vb.probas_, vb_elbo.probas_)
    pd.testing.assert_series_equal(vb.spam_, vb_elbo.spam_)
    em = crowdagg.MACE(method="em", **kw).fit(df)
    em_ll = crowdagg.MACE(method="em", restart_criterion="loglik", **kw).fit(df)
    assert not hasattr(em, "restart_elbo_") and em.best_restart_ == int(np.argmax(em.restart_loglik_))
    assert em.best_restart_ == em_ll.best_restart_
    np.testing.assert_array_equal(em.restart_loglik_, em_ll.restart_loglik_)
    pd.testing.assert_frame_equal(em.probas_, em_ll.probas_)
    # the same estimator switched between methods resolves afresh, and drops the other's attribute
    vb.set_params(method="em").fit(df)
    assert not hasattr(vb, "restart_elbo_")
    pd.testing.assert_frame_equal(vb.probas_, em_ll.probas_)


def test_elbo_criterion_needs_vb():
    df = crowdagg.datasets.make_crowd(50, 10, 3, random_state=0).annotations
    with pytest.raises(ParameterError, match="restart_criterion='elbo' needs method='vb'"):
        crowdagg.MACE(method="em", restart_criterion="elbo").fit(df)


def test_elbo_criterion_distributed_equals_local():
    from crowdagg.testing import _crowds, check_distributed_equals_local

    pytest.importorskip("distributed", reason="the Dask check needs dask.distributed (the test extra)")
    check_distributed_equals_local(crowdagg.MACE(n_restarts=3, random_state=0, restart_criterion="elbo"),
                                   _crowds()[0])


def test_model_file_without_restart_criterion_loads_with_loglik(tmp_path, monkeypatch):
    """A model saved before ``restart_criterion`` existed loads with ``"loglik"``, the rule it was fitted by."""
    df = crowdagg.datasets.make_crowd(200, 20, 3, random_state=0).annotations
    # fitted by the rule of the time
    old = crowdagg.MACE(n_restarts=2, max_iter=10, tol=0, random_state=0, restart_criterion="loglik").fit(df)
    real = crowdagg.MACE.get_params

    def without(self, deep=True):
        p = real(self, deep)
        p.pop("restart_criterion", None)
        return p

    monkeypatch.setattr(crowdagg.MACE, "get_params", without)
    old.save(tmp_path / "old.zip")
    monkeypatch.undo()
    loaded = crowdagg.load(tmp_path / "old.zip")
    assert loaded.restart_criterion == "loglik"
    pd.testing.assert_frame_equal(loaded.predict_proba(df), old.predict_proba(df))
    crowdagg.MACE(n_restarts=2, max_iter=10, tol=0, restart_criterion="elbo").fit(df).save(tmp_path / "new.zip")
    assert crowdagg.load(tmp_path / "new.zip").restart_criterion == "elbo"
    crowdagg.MACE(n_restarts=2, max_iter=10, tol=0).fit(df).save(tmp_path / "auto.zip")
    assert crowdagg.load(tmp_path / "auto.zip").restart_criterion == "auto"
