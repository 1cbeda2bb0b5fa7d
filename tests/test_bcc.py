"""BCC: kernels vs the NumPy reference (same updates, same ELBO), hand-computed values,
properties, gold, warm starts, bad input and the estimator contract (local and Dask)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import NOJIT, annotation_tables, fit_quiet, gold_series, table_arrays
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from naive_bcc import bcc as naive_bcc
from naive_bcc import kl_dirichlet
from scipy.special import digamma as sp_digamma
from scipy.special import gammaln

import crowdagg
import crowdagg.methods.bcc as bccmod
from crowdagg.errors import InitParamsError, ParameterError
from crowdagg.kernels.bcc import (
    digamma,
    dirichlet_elog_parallel,
    dirichlet_elog_slice,
    dirichlet_kl_sum,
    psi_lgamma,
    psi_lgamma_array,
)
from crowdagg.table import as_table
from crowdagg.testing import check_aggregator

HSET = settings(max_examples=10 if NOJIT else 30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- kernels
def test_digamma_and_lgamma_match_scipy():
    x = np.concatenate([np.geomspace(1e-8, 1e8, 600), np.arange(1, 30) + 0.5, [1.0, 2.0, 10.0]])
    ours = np.array([digamma(v) for v in x])
    np.testing.assert_allclose(ours, sp_digamma(x), rtol=1e-14, atol=1e-14)
    both = np.array([psi_lgamma(v) for v in x])
    np.testing.assert_array_equal(both[:, 0], ours)
    np.testing.assert_allclose(both[:, 1], gammaln(x), rtol=1e-13, atol=1e-13)
    # the array form (branch-free shift, vectorised) gives the same values bit for bit
    psi, lg = np.empty_like(x), np.empty_like(x)
    psi_lgamma_array(x, psi, lg, np.empty((3, x.size)))
    np.testing.assert_array_equal(psi, both[:, 0])
    np.testing.assert_array_equal(lg, both[:, 1])


def test_dirichlet_kl_and_elog_match_reference():
    rng = np.random.default_rng(0)
    a = rng.uniform(0.05, 30, size=(12, 3))
    prior = rng.uniform(0.5, 5, size=(2, 3))
    want = sum(kl_dirichlet(a[r], prior[(r // 3) % 2]) for r in range(12))
    assert dirichlet_kl_sum(a, prior, 3) == pytest.approx(want, rel=1e-12)
    assert dirichlet_kl_sum(prior, prior, 1) == pytest.approx(0.0, abs=1e-12)
    mu = rng.uniform(0.1, 10, size=(4, 6, 3))  # workers x rows (2 classes x 3 subtypes) x observed
    out = np.empty((12, 6))
    kl = dirichlet_elog_slice(mu, prior, 3, 0, 4, out)
    ref = sp_digamma(mu) - sp_digamma(mu.sum(axis=-1, keepdims=True))
    np.testing.assert_allclose(out.reshape(4, 3, 6), ref.transpose(0, 2, 1), rtol=1e-12, atol=1e-13)
    want = sum(kl_dirichlet(mu[w, r], prior[r // 3]) for w in range(4) for r in range(6))
    assert kl == pytest.approx(want, rel=1e-12)
    out2 = np.empty_like(out)
    kl_buf = np.zeros(2)
    dirichlet_elog_parallel(mu, prior, 3, np.array([0, 1, 4]), kl_buf, out2)
    np.testing.assert_array_equal(out, out2)
    assert kl_buf.sum() == pytest.approx(kl, rel=1e-14)


# --------------------------------------------------------------------------- vs reference
@HSET
@given(annotation_tables(max_items=9), st.integers(0, 4), st.booleans(), st.booleans(), st.sampled_from([(4.0, 1.0, 1.0), (2.0, 0.5, 3.0)]))
def test_bcc_matches_reference(tg, n_iter, use_gold, parallel, priors):
    t, gold = tg
    if not use_gold:
        gold = np.full(t.n_items, -1)
    diag, off, cp = priors
    m = fit_quiet(crowdagg.BCC(max_iter=n_iter, tol=0, parallel=parallel, alpha_diag=diag, alpha_off=off,
                               class_prior=cp), t, gold=gold_series(t, gold))
    i, w, y = table_arrays(t)
    post, elbo, mu, nu = naive_bcc(i, w, y, t.n_items, t.n_workers, t.n_labels, gold, n_iter, diag, off, cp)
    np.testing.assert_allclose(m.probas_.to_numpy(), post, atol=1e-10)
    np.testing.assert_allclose(m.elbo_, elbo, rtol=1e-10, atol=1e-9)
    if n_iter:
        # the returned parameters are those of the last posterior pass
        np.testing.assert_allclose(m.params_["confusion_counts"], mu, rtol=1e-10)
        np.testing.assert_allclose(m.params_["class_counts"], nu, rtol=1e-10)
    assert np.all(np.diff(m.elbo_) >= -1e-9 * np.abs(m.elbo_[1:]).max(initial=1.0))


def test_elbo_never_decreases_on_a_crowd():
    c = crowdagg.datasets.make_crowd(300, 25, 4, random_state=3)
    m = crowdagg.BCC(max_iter=40, tol=0).fit(c.annotations)
    assert np.all(np.diff(m.elbo_) >= -1e-9 * abs(m.elbo_[-1]))
    assert m.loglik_ is m.elbo_


def test_parallel_chunks_and_fallback_equal_serial(monkeypatch):
    c = crowdagg.datasets.make_crowd(10_000, 60, 3, per_item=10, random_state=1)
    t = as_table(c.annotations)  # 100k annotations: several item chunks
    a = crowdagg.BCC(max_iter=5, tol=0, parallel=False).fit(t)
    b = crowdagg.BCC(max_iter=5, tol=0, parallel=True).fit(t)
    assert a.elbo_ == pytest.approx(b.elbo_, rel=1e-12)
    np.testing.assert_allclose(a.probas_.to_numpy(), b.probas_.to_numpy(), atol=1e-12)
    # per-worker two-pass statistics (the cap lives in the shared Dawid-Skene E-step)
    monkeypatch.setattr(crowdagg.methods.dawid_skene, "MAX_STAT_BUFFER_BYTES", 1)
    d = crowdagg.BCC(max_iter=5, tol=0, parallel=True).fit(t)
    assert a.elbo_ == pytest.approx(d.elbo_, rel=1e-12)
    np.testing.assert_allclose(a.probas_.to_numpy(), d.probas_.to_numpy(), atol=1e-12)


def test_hand_computed_first_pass():
    # one item, one worker answering 0, K = 2: q from MV = (1, 0), so
    # confusion_counts = [[5, 1], [1, 4]], class_counts = [2, 1];
    # psi(5) - psi(6) = -1/5, psi(1) - psi(5) = -25/12, psi(2) - psi(3) = -1/2, psi(1) - psi(3) = -3/2
    df = pd.DataFrame({"item": ["a"], "worker": ["w"], "label": [0]})
    m = crowdagg.BCC(max_iter=0).fit(df, labels=[0, 1])
    lp = np.array([-0.5 - 0.2, -1.5 - 25 / 12])
    p0 = 1.0 / (1.0 + np.exp(lp[1] - lp[0]))
    assert m.probas_.iloc[0].to_numpy() == pytest.approx([p0, 1 - p0], abs=1e-14)
    np.testing.assert_allclose(m.params_["confusion_counts"][0], [[5, 1], [1, 4]])
    np.testing.assert_allclose(m.params_["class_counts"], [2, 1])


def test_hand_computed_elbo_of_prior():
    # uniform start, K = 1: every expected log is 0, every KL is 0 -> ELBO 0 and q = 1
    df = pd.DataFrame({"item": ["a", "b"], "worker": ["w", "w"], "label": [0, 0]})
    m = crowdagg.BCC(max_iter=3, tol=0, init="uniform").fit(df)
    np.testing.assert_allclose(m.elbo_, 0.0, atol=1e-12)
    np.testing.assert_allclose(m.probas_.to_numpy(), 1.0)


# --------------------------------------------------------------------------- properties
def _crowd(seed, n_items=60, n_workers=8, k=3):
    return crowdagg.datasets.make_crowd(n_items, n_workers, k, per_item=3, random_state=seed).annotations


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_relabelling_items_workers_and_row_order_change_nothing(seed):
    df = _crowd(seed)
    rng = np.random.default_rng(seed)
    a = crowdagg.BCC(max_iter=30, tol=0).fit(df)
    items = pd.unique(df["item"])
    workers = pd.unique(df["worker"])
    imap = dict(zip(items, rng.permutation(len(items)).astype(str)))
    wmap = dict(zip(workers, [f"x{v}" for v in rng.permutation(len(workers))]))
    df2 = df.assign(item=df["item"].map(imap), worker=df["worker"].map(wmap)).sample(frac=1.0, random_state=seed)
    b = crowdagg.BCC(max_iter=30, tol=0).fit(df2)
    back = b.probas_.loc[[imap[i] for i in a.probas_.index]].to_numpy()
    np.testing.assert_allclose(a.probas_.to_numpy(), back, atol=1e-9)
    np.testing.assert_allclose(a.skills_.to_numpy(), b.skills_.loc[[wmap[w] for w in a.skills_.index]].to_numpy(),
                               atol=1e-9)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_permuting_label_codes_permutes_output(seed):
    df = _crowd(seed, k=4)
    perm = {0: "d", 1: "a", 2: "c", 3: "b"}  # label names whose sort order differs from the codes
    a = crowdagg.BCC(max_iter=25, tol=0).fit(df, labels=[0, 1, 2, 3])
    b = crowdagg.BCC(max_iter=25, tol=0).fit(df.assign(label=df["label"].map(perm)), labels=["a", "b", "c", "d"])
    np.testing.assert_allclose(a.probas_.to_numpy(), b.probas_[[perm[k] for k in range(4)]].to_numpy(), atol=1e-9)
    assert (a.labels_.map(perm) == b.labels_).all()


# --------------------------------------------------------------------------- gold, warm starts
def test_gold_items_are_clamped_and_train_workers():
    c = crowdagg.datasets.make_crowd(200, 15, 3, random_state=5)
    df, truth = c.annotations, c.truth
    gold = truth.iloc[:40]
    m = crowdagg.BCC().fit(df, gold=gold)
    assert (m.labels_.loc[gold.index] == gold).all()
    np.testing.assert_allclose(m.probas_.loc[gold.index].max(axis=1), 1.0)
    plain = crowdagg.BCC().fit(df)
    assert not np.allclose(plain.params_["confusion_counts"], m.params_["confusion_counts"])


def test_warm_start_continues_and_new_workers_start_from_prior():
    df = _crowd(11, n_items=150)
    full = crowdagg.BCC(max_iter=500, tol=1e-10).fit(df)
    again = crowdagg.BCC(max_iter=0).fit(df, init_params=full)
    np.testing.assert_allclose(again.probas_.to_numpy(), full.probas_.to_numpy(), atol=1e-8)
    ws = crowdagg.BCC(warm_start=True, max_iter=3, tol=0).fit(df)
    ws.fit(df)  # second fit starts from the first
    assert ws.n_iter_ == 3
    extra = pd.DataFrame({"item": pd.unique(df["item"])[:2], "worker": ["new", "new"], "label": [0, 1]})
    more = crowdagg.BCC(max_iter=0).fit(pd.concat([df, extra]), init_params=full)
    new = list(more.table_.workers).index("new")
    beta = bccmod.dirichlet_prior_matrix(more.table_.n_labels, 4.0, 1.0)
    np.testing.assert_allclose(more.params_["confusion_counts"][new], beta)


def test_warm_start_values_are_checked():
    df = _crowd(2)
    m = crowdagg.BCC(max_iter=5).fit(df)
    bad = {"confusion_counts": -m.confusions_.to_numpy().reshape(-1, 3, 3), "class_counts": np.ones(3),
           "workers": m.table_.workers, "labels": m.table_.labels}
    with pytest.raises(InitParamsError, match="confusion_counts"):
        crowdagg.BCC().fit(df, init_params=bad)
    with pytest.raises(InitParamsError):
        crowdagg.BCC().fit(df, init_params={"class_counts": np.ones(3)})


@pytest.mark.parametrize("kw", [{"alpha_diag": 0}, {"alpha_off": -1.0}, {"class_prior": np.nan},
                                {"max_iter": -1}, {"tol": "x"}, {"init": "random"}])
def test_bad_arguments(kw):
    with pytest.raises(ParameterError):
        crowdagg.BCC(**kw).fit(_crowd(0))


def test_outputs_like_dawid_skene_and_input_not_mutated():
    df = _crowd(4, n_items=300)
    before = df.copy()
    m = crowdagg.BCC().fit(df)
    pd.testing.assert_frame_equal(df, before)
    ds = crowdagg.DawidSkene().fit(df)
    assert m.confusions_.index.equals(ds.confusions_.index) and m.confusions_.columns.equals(ds.confusions_.columns)
    np.testing.assert_allclose(m.confusions_.to_numpy().sum(axis=1), 1.0)
    assert m.priors_.sum() == pytest.approx(1.0)
    assert ((m.labels_ == ds.labels_).mean()) > 0.85


def test_item_without_answers_gets_class_prior_and_stays_out_of_elbo():
    df = _crowd(6)
    extra = pd.DataFrame({"item": ["empty"], "worker": [df["worker"].iloc[0]], "label": [None]})
    both = pd.concat([df.astype({"label": object}), extra], ignore_index=True)
    a = crowdagg.BCC(max_iter=10, tol=0).fit(df)
    b = crowdagg.BCC(max_iter=10, tol=0).fit(both)
    np.testing.assert_allclose(a.elbo_, b.elbo_, rtol=1e-12)
    assert pd.isna(b.labels_["empty"])
    et = bccmod.expected_log(b.params_["class_counts"])
    np.testing.assert_allclose(b.probas_.loc["empty"].to_numpy(), np.exp(et) / np.exp(et).sum())


# --------------------------------------------------------------------------- contract
def test_check_aggregator():
    check_aggregator(crowdagg.BCC(max_iter=50))


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("parallel", [False, True])
def test_fixed_width_estep_is_the_generic_one_within_rounding(k, parallel, monkeypatch):
    """2-4 classes run Dawid-Skene's fixed-width E-step kernel (its ``exp`` within 2 ulp):
    the fit of the generic kernel within 1e-13, the same labels."""
    c = crowdagg.datasets.make_crowd(300 if NOJIT else 3000, 40, k, random_state=k)
    gold = c.truth.iloc[:200]
    fixed = crowdagg.BCC(max_iter=30, tol=0, parallel=parallel).fit(c.annotations, gold=gold)
    real = bccmod.ds_rows_estep
    calls = []

    def generic(*args, **kw):
        calls.append(kw.get("fixed"))
        return real(*args, **{**kw, "fixed": False})

    monkeypatch.setattr(bccmod, "ds_rows_estep", generic)
    ref = crowdagg.BCC(max_iter=30, tol=0, parallel=parallel).fit(c.annotations, gold=gold)
    assert calls and None in calls  # BCC asks for the default (fixed-width) kernel
    pd.testing.assert_series_equal(fixed.labels_, ref.labels_)
    np.testing.assert_allclose(fixed.probas_.to_numpy(), ref.probas_.to_numpy(), rtol=0, atol=1e-13)
    np.testing.assert_allclose(fixed.elbo_, ref.elbo_, rtol=1e-13)
    np.testing.assert_allclose(fixed.params_["confusion_counts"], ref.params_["confusion_counts"], rtol=1e-13)
