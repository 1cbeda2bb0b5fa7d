"""EBCC: kernels vs the NumPy reference (same split, updates and ELBO), the reduction to BCC,
properties, restarts, gold, warm starts, bad input and the estimator contract (local and Dask)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import NOJIT, annotation_tables, fit_quiet, gold_series, table_arrays
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from naive_bcc import ebcc as naive_ebcc
from naive_bcc import split_keys

import crowdagg
from crowdagg._validation import check_random_state
from crowdagg.errors import InitParamsError, ParameterError
from crowdagg.kernels.ebcc import (
    NEGLIGIBLE,
    PRODUCT_FLOOR,
    ebcc_estep_parallel,
    ebcc_estep_slice,
    scale_rows_parallel,
    scale_rows_slice,
)
from crowdagg.table import as_table
from crowdagg.testing import check_aggregator

HSET = settings(max_examples=10 if NOJIT else 30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _seed(random_state, r=0):
    return int(check_random_state(random_state).integers(0, 2**62, size=r + 1)[r])


def _crowd(seed, n_items=80, n_workers=8, k=3):
    return crowdagg.datasets.make_crowd(n_items, n_workers, k, per_item=3, random_state=seed).annotations


# --------------------------------------------------------------------------- vs reference
@HSET
@given(annotation_tables(max_items=7, max_workers=4, max_labels=3), st.integers(0, 3), st.booleans(), st.booleans(),
       st.integers(1, 3), st.sampled_from(["empirical", 1.5]), st.integers(0, 5))
def test_ebcc_matches_reference(tg, n_iter, use_gold, parallel, n_sub, class_prior, rs):
    t, gold = tg
    if not use_gold:
        gold = np.full(t.n_items, -1)
    m = fit_quiet(crowdagg.EBCC(n_subtypes=n_sub, n_restarts=1, random_state=rs, max_iter=n_iter, tol=0,
                                class_prior=class_prior, parallel=parallel), t, gold=gold_series(t, gold))
    i, w, y = table_arrays(t)
    keys = split_keys(i, w, y, t.n_items, t.n_workers, _seed(rs))
    post, elbo, params = naive_ebcc(i, w, y, t.n_items, t.n_workers, t.n_labels, keys, gold, n_iter, n_sub,
                                    class_prior=class_prior)
    np.testing.assert_allclose(m.probas_.to_numpy(), post, atol=1e-10)
    np.testing.assert_allclose(m.elbo_, elbo, rtol=1e-10, atol=1e-9)
    if n_iter:
        for name, val in params.items():
            np.testing.assert_allclose(m.params_[name], val, rtol=1e-10, atol=1e-12, err_msg=name)
    assert np.all(np.diff(m.elbo_) >= -1e-9 * np.abs(m.elbo_).max(initial=1.0))


def test_one_subtype_is_bcc():
    # M = 1: E[log pi] = 0 and KL(q(pi) || p(pi)) = 0, so EBCC is BCC (same updates and ELBO)
    df = _crowd(1, n_items=200)
    b = crowdagg.BCC(max_iter=20, tol=0, class_prior=2.0).fit(df)
    e = crowdagg.EBCC(n_subtypes=1, n_restarts=1, max_iter=20, tol=0, class_prior=2.0).fit(df)
    np.testing.assert_allclose(e.probas_.to_numpy(), b.probas_.to_numpy(), atol=1e-12)
    np.testing.assert_allclose(e.elbo_, b.elbo_, rtol=1e-12)
    np.testing.assert_allclose(e.params_["confusion_counts"][:, :, 0, :], b.params_["confusion_counts"], rtol=1e-12)
    np.testing.assert_allclose(e.confusions_.to_numpy(), b.confusions_.to_numpy(), rtol=1e-12)


def test_parallel_chunks_equal_serial():
    c = crowdagg.datasets.make_crowd(10_000, 40, 3, per_item=10, random_state=2)
    t = as_table(c.annotations)  # 100k annotations: several item chunks
    a = crowdagg.EBCC(n_restarts=1, max_iter=4, tol=0, parallel=False).fit(t)
    b = crowdagg.EBCC(n_restarts=1, max_iter=4, tol=0, parallel=True).fit(t)
    assert a.elbo_ == pytest.approx(b.elbo_, rel=1e-12)
    np.testing.assert_allclose(a.probas_.to_numpy(), b.probas_.to_numpy(), atol=1e-12)


def _scaled(log_prior, logv):
    lrows = np.vstack([logv, log_prior])
    erows, shift, low = np.empty_like(lrows), np.empty(lrows.shape[0]), np.empty(lrows.shape[0])
    scale_rows_slice(lrows, erows, shift, low, 0, lrows.shape[0])
    return lrows, erows, shift, low


def test_scale_rows():
    rng = np.random.default_rng(1)
    a = rng.normal(0, 30, size=(7, 5))
    a[3, 2] = -1000.0  # below exp's normal range after the shift: a 0 factor, low < -708
    s = _scaled(a[0], a[1:])
    np.testing.assert_array_equal(s[2], np.vstack([a[1:], a[0]]).max(axis=1))
    np.testing.assert_allclose(s[1], np.exp(s[0] - s[2][:, None]), rtol=5e-16, atol=0)
    np.testing.assert_array_equal(s[3], (s[0] - s[2][:, None]).min(axis=1))
    out = [np.empty_like(x) for x in s[1:]]
    scale_rows_parallel(s[0], *out, np.array([0, 2, 7]))
    for x, y in zip(s[1:], out):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("scale", [1.0, 150.0])  # 150: every item past PRODUCT_FLOOR, the log-space path
def test_estep_kernel_without_accumulation_and_gold_rows(scale):
    rng = np.random.default_rng(0)
    k, m, w = 2, 3, 2
    item_ptr = np.array([0, 2, 2, 3])
    pairs = np.array([0 * k + 1, 1 * k + 0, 1 * k + 1])  # (worker, label) codes
    gold = np.array([-1, -1, 1])
    log_prior = np.log(rng.dirichlet(np.ones(k * m)))
    logv = scale * np.log(rng.uniform(0.1, 1, size=(w * k, k * m)))
    post = np.empty((3, k))
    counts, tot = np.zeros((w * k, k * m)), np.zeros(k * m)
    sc = _scaled(log_prior, logv)
    assert (sc[3][pairs[:2]].sum() + sc[3][-1] < -PRODUCT_FLOOR) == (scale > 1)
    ll = ebcc_estep_slice(item_ptr, pairs, gold, *sc, m, 0, 3, post, counts, tot, True)
    lp0 = log_prior + logv[pairs[0]] + logv[pairs[1]]
    lp2 = log_prior[3:] + logv[pairs[2], 3:]  # gold class 1: its subtypes only
    want = np.logaddexp.reduce(lp0) + np.logaddexp.reduce(lp2)  # the empty item 1 adds nothing
    assert ll == pytest.approx(want, rel=1e-13)
    q0 = np.exp(lp0 - np.logaddexp.reduce(lp0))
    q0[q0 < np.exp(-NEGLIGIBLE)] = 0.0
    np.testing.assert_allclose(post[0], q0.reshape(k, m).sum(axis=1), rtol=1e-13)
    prior = np.exp(log_prior - np.logaddexp.reduce(log_prior))
    np.testing.assert_allclose(post[1], prior.reshape(k, m).sum(axis=1), rtol=1e-13)
    np.testing.assert_allclose(post[2], [0.0, 1.0])
    np.testing.assert_allclose(counts[pairs[0]], q0, rtol=1e-13, atol=1e-300)
    assert tot.sum() == pytest.approx(2.0)
    post2 = np.empty_like(post)
    lbuf = np.zeros(1)
    ebcc_estep_parallel(item_ptr, pairs, gold, *sc, m, np.array([0, 3]), post2,
                        np.zeros((1, 1, k * m)), np.zeros((1, k * m)), lbuf, False)
    np.testing.assert_array_equal(post, post2)
    assert lbuf[0] == ll


def test_estep_product_and_log_paths_agree():
    """The same items through both paths (``PRODUCT_FLOOR`` forced by one row's ``low``):
    posteriors, statistics and ELBO equal to rounding."""
    rng = np.random.default_rng(3)
    k, m, w, n = 3, 4, 5, 60
    n_ans = rng.integers(0, 6, size=n)
    item_ptr = np.concatenate([[0], np.cumsum(n_ans)])
    pairs = rng.integers(0, w * k, size=item_ptr[-1])
    gold = np.where(rng.random(n) < 0.2, rng.integers(0, k, size=n), -1)
    log_prior = np.log(rng.dirichlet(np.ones(k * m)))
    logv = np.log(rng.dirichlet(np.ones(k * m) * 0.3, size=w * k))  # some codes far below the rest
    res = []
    for force_log in (False, True):
        sc = _scaled(log_prior, logv)
        if force_log:
            sc[3][-1] = -1e6  # the prior row's floor: every item takes the log-space path
        post, counts, tot = np.empty((n, k)), np.zeros((w * k, k * m)), np.zeros(k * m)
        ll = ebcc_estep_slice(item_ptr, pairs, gold, *sc, m, 0, n, post, counts, tot, True)
        res.append((ll, post, counts, tot))
    assert res[0][0] == pytest.approx(res[1][0], rel=1e-13)
    for a, b in zip(res[0][1:], res[1][1:]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


def test_items_with_hundreds_of_answers_match_reference():
    """Items answered by 400 workers take the log-space path (their products could underflow:
    ``sum low < -PRODUCT_FLOOR``), the others the product path: the fit still equals the
    NumPy reference."""
    rng = np.random.default_rng(5)
    n_workers, k = 400, 3
    rows = [(f"big{i}", f"w{w}", int(rng.integers(0, k))) for i in range(3) for w in range(n_workers)]
    rows += [(f"i{i}", f"w{w}", int(rng.integers(0, k))) for i in range(60) for w in rng.choice(n_workers, 3, False)]
    t = as_table(pd.DataFrame(rows, columns=["task", "worker", "label"]))
    m = fit_quiet(crowdagg.EBCC(n_subtypes=2, n_restarts=1, random_state=1, max_iter=3, tol=0), t)
    lrows, erows, shift, low = m._make_model().prepare(
        crowdagg.em.EMContext(t, np.full(t.n_items, -1), False), m.params_)
    big = [t.items.get_loc(f"big{i}") for i in range(3)]
    pairs = np.asarray(t.worker_label_pairs)
    for i in big:  # these items are on the log path at the fitted parameters
        assert low[-1] + low[pairs[t.item_ptr[i]:t.item_ptr[i + 1]]].sum() < -PRODUCT_FLOOR
    i, w, y = table_arrays(t)
    keys = split_keys(i, w, y, t.n_items, t.n_workers, _seed(1))
    post, elbo, _ = naive_ebcc(i, w, y, t.n_items, t.n_workers, t.n_labels, keys, None, 3, 2)
    np.testing.assert_allclose(m.probas_.to_numpy(), post, atol=1e-10)
    np.testing.assert_allclose(m.elbo_, elbo, rtol=1e-10)


# --------------------------------------------------------------------------- restarts, properties
def test_restarts_keep_the_best_elbo_and_are_deterministic():
    df = _crowd(3, n_items=150)
    e = crowdagg.EBCC(n_restarts=4, random_state=7).fit(df)
    assert e.restart_elbo_.shape == (4,) and e.best_restart_ == int(np.argmax(e.restart_elbo_))
    assert e.elbo_[-1] == e.restart_elbo_[e.best_restart_]
    assert np.all(np.diff(e.elbo_) >= -1e-9 * abs(e.elbo_[-1]))
    again = crowdagg.EBCC(n_restarts=4, random_state=7).fit(df)
    np.testing.assert_array_equal(e.probas_.to_numpy(), again.probas_.to_numpy())
    single = crowdagg.EBCC(n_restarts=1, random_state=7).fit(df)
    assert single.elbo_[-1] == e.restart_elbo_[0]
    assert e.loglik_ is e.elbo_



def test_best_fit_rule():
    """The shared restart rule (crowdagg.em.best_fit): highest last objective, earliest on
    ties, a run without iterations scores -inf, a warning only when the kept run did not
    converge, an error when there is no run."""
    from crowdagg.em import EMFit, best_fit
    from crowdagg.errors import ConvergenceWarning, InputError

    def fit(hist, conv=True):
        return EMFit(params={}, posteriors=None, loglik=np.asarray(hist, dtype=float), n_iter=len(hist),
                     converged=conv)

    runs = [fit([]), fit([-5.0, -3.0]), fit([-3.0], conv=False), fit([-4.0])]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        best, r, scores = best_fit(iter(runs), "X", 10, 1e-6)
    assert best is runs[1] and r == 1
    np.testing.assert_array_equal(scores, [-np.inf, -3.0, -3.0, -4.0])
    with pytest.warns(ConvergenceWarning, match="X: the kept run stopped at max_iter=10 before the ELBO change"):
        best_fit(runs[2:], "X", 10, 1e-6, change="ELBO change")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        best_fit(runs[2:], "X", 10, 0.0)  # tol 0: no warning
    with pytest.raises(InputError, match="no run"):
        best_fit([], "X", 10, 1e-6)

@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_relabelling_items_workers_and_row_order_change_nothing(seed):
    # the random split hashes each item's answers, never its id or position
    df = _crowd(seed)
    rng = np.random.default_rng(seed)
    a = crowdagg.EBCC(n_restarts=2, max_iter=30, tol=0).fit(df)
    imap = dict(zip(pd.unique(df["item"]), rng.permutation(df["item"].nunique()).astype(str)))
    wmap = dict(zip(pd.unique(df["worker"]), [f"x{v}" for v in rng.permutation(df["worker"].nunique())]))
    df2 = df.assign(item=df["item"].map(imap), worker=df["worker"].map(wmap)).sample(frac=1.0, random_state=seed)
    b = crowdagg.EBCC(n_restarts=2, max_iter=30, tol=0).fit(df2)
    np.testing.assert_allclose(a.probas_.to_numpy(), b.probas_.loc[[imap[i] for i in a.probas_.index]].to_numpy(),
                               atol=1e-9)
    assert a.elbo_ == pytest.approx(b.elbo_, rel=1e-10)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_permuting_label_codes_permutes_output_with_one_subtype(seed):
    # with M > 1 the random split is drawn class by class in code order (another start)
    df = _crowd(seed, k=4)
    perm = {0: "d", 1: "a", 2: "c", 3: "b"}
    kw = dict(n_subtypes=1, n_restarts=1, max_iter=25, tol=0)
    a = crowdagg.EBCC(**kw).fit(df, labels=[0, 1, 2, 3])
    b = crowdagg.EBCC(**kw).fit(df.assign(label=df["label"].map(perm)), labels=["a", "b", "c", "d"])
    np.testing.assert_allclose(a.probas_.to_numpy(), b.probas_[[perm[k] for k in range(4)]].to_numpy(), atol=1e-9)


def test_model_stats_from_posteriors_is_the_estimators_split():
    # run_em(init="mv") with the plug-in gives the estimator's first run
    from crowdagg.em import EMContext, run_em

    df = _crowd(4)
    est = crowdagg.EBCC(n_restarts=1, max_iter=5, tol=0, random_state=3).fit(df)
    model = est._make_model()
    model.seed = _seed(3)
    t = est.table_
    res = run_em(model, EMContext(table=t, gold=np.full(t.n_items, -1)), init="mv", max_iter=5, tol=0)
    np.testing.assert_allclose(res.posteriors, est.probas_.to_numpy(), atol=1e-12)


# --------------------------------------------------------------------------- gold, warm starts, outputs
def test_gold_items_are_clamped():
    c = crowdagg.datasets.make_crowd(200, 15, 3, random_state=5)
    gold = c.truth.iloc[:40]
    m = crowdagg.EBCC(n_restarts=2).fit(c.annotations, gold=gold)
    assert (m.labels_.loc[gold.index] == gold).all()
    np.testing.assert_allclose(m.probas_.loc[gold.index].max(axis=1), 1.0)


def test_warm_start_continues_and_new_workers_start_from_prior():
    df = _crowd(11, n_items=150)
    full = crowdagg.EBCC(n_restarts=2, tol=1e-10, max_iter=1000).fit(df)
    again = crowdagg.EBCC(max_iter=0).fit(df, init_params=full)
    np.testing.assert_allclose(again.probas_.to_numpy(), full.probas_.to_numpy(), atol=1e-6)
    assert not hasattr(again, "restart_elbo_") or again.restart_elbo_.shape == (1,)
    extra = pd.DataFrame({"item": pd.unique(df["item"])[:2], "worker": ["new", "new"], "label": [0, 1]})
    more = crowdagg.EBCC(max_iter=0).fit(pd.concat([df, extra]), init_params=full)
    new = list(more.table_.workers).index("new")
    np.testing.assert_allclose(more.params_["confusion_counts"][new, :, 0], [[4, 1, 1], [1, 4, 1], [1, 1, 4]])
    ws = crowdagg.EBCC(n_restarts=3, warm_start=True, max_iter=2, tol=0).fit(df)
    ws.fit(df)
    assert ws.restart_elbo_.shape == (1,) and ws.n_iter_ == 2


def test_warm_start_values_are_checked():
    df = _crowd(2)
    m = crowdagg.EBCC(n_restarts=1, max_iter=5).fit(df)
    bad = dict(m.params_, workers=m.table_.workers, labels=m.table_.labels)
    bad["subtype_counts"] = -bad["subtype_counts"]
    with pytest.raises(InitParamsError, match="subtype_counts"):
        crowdagg.EBCC().fit(df, init_params=bad)


@pytest.mark.parametrize("kw", [{"n_subtypes": 0}, {"n_restarts": 0}, {"class_prior": "learn"},
                                {"class_prior": -1.0}, {"subtype_prior": 0}, {"init": "uniform"},
                                {"random_state": "x"}, {"alpha_diag": np.inf}])
def test_bad_arguments(kw):
    with pytest.raises(ParameterError):
        crowdagg.EBCC(**kw).fit(_crowd(0))


def test_outputs():
    df = _crowd(4, n_items=300)
    before = df.copy()
    m = crowdagg.EBCC(n_restarts=2).fit(df)
    pd.testing.assert_frame_equal(df, before)
    np.testing.assert_allclose(m.confusions_.to_numpy().sum(axis=1), 1.0)
    np.testing.assert_allclose(m.subtype_weights_.sum(axis=1), 1.0)
    assert m.subtype_weights_.shape == (3, 10) and m.priors_.sum() == pytest.approx(1.0)
    assert m.params_["confusion_counts"].shape == (m.table_.n_workers, 3, 10, 3)
    # class_prior="empirical": alpha = the majority-vote class totals
    mv = crowdagg.MajorityVote().fit(df)
    np.testing.assert_allclose(m.params_["class_prior"], mv.probas_.sum(axis=0).to_numpy(), rtol=1e-10)
    ds = crowdagg.DawidSkene().fit(df)
    assert (m.labels_ == ds.labels_).mean() > 0.85


def test_memory_is_refused_up_front(monkeypatch):
    from crowdagg.errors import TooLargeError

    monkeypatch.setenv("CROWDAGG_MEMORY_LIMIT", "1000")
    with pytest.raises(TooLargeError, match="subtypes"):
        crowdagg.EBCC().fit(_crowd(0))


@pytest.mark.parametrize("parallel", [True, False])
def test_blocked_expected_logs_equal_whole_rows(parallel, monkeypatch):
    """Many labels: ``prepare`` converts a worker's Dirichlet rows in blocks of whole classes
    (bounded digamma scratch, every thread busy with few workers); forced on a small crowd
    (blocks of one class) it gives the numbers of the whole-row kernels."""
    import crowdagg.kernels.ebcc as KE
    import crowdagg.methods.ebcc as ME

    df = _crowd(6, n_items=120, n_workers=5, k=4)
    kw = {"n_restarts": 2, "max_iter": 6, "tol": 0, "n_subtypes": 3, "parallel": parallel}
    ref = crowdagg.EBCC(**kw).fit(df)
    for mod in (KE, ME):
        monkeypatch.setattr(mod, "ELOG_BLOCK_VALUES", 1)
    assert KE.elog_block_rows(12, 4, 3) == 3
    got = crowdagg.EBCC(**kw).fit(df)
    np.testing.assert_allclose(got.elbo_, ref.elbo_, rtol=1e-12)
    np.testing.assert_allclose(got.probas_.to_numpy(), ref.probas_.to_numpy(), atol=1e-12)
    for name, val in ref.params_.items():
        np.testing.assert_allclose(got.params_[name], val, rtol=1e-12, err_msg=name)


def test_m_step_reuses_the_old_rows_and_the_statistics_buffer():
    """One copy per iteration of the workers x K^2 x M arrays: m_step writes the new rows into
    the old rows' array, and the local parallel E-step returns its statistics in one buffer."""
    from crowdagg.em import LocalExecutor, run_em

    est = crowdagg.EBCC(n_restarts=1, max_iter=2, tol=0)
    t = as_table(_crowd(7))
    model = est._make_model()
    ex = LocalExecutor(est._context(t, np.full(t.n_items, -1, np.int64)))
    res = run_em(model, ex, init="mv", max_iter=2, tol=0, warn=False)
    params = {k: v.copy() for k, v in res.params.items()}
    _, stats = ex.e_step(model, params, True)
    _, again = ex.e_step(model, params, True)
    assert again[0] is stats[0]  # the same buffer, refilled
    old = params["confusion_counts"]
    new = model.m_step(ex.ctx, params, again, ex)
    assert new["confusion_counts"] is old
    # the values of a fresh update (nothing aliased into the result)
    fresh = model._update(ex.ctx, again[0], again[1], params["class_prior"])
    np.testing.assert_array_equal(new["confusion_counts"], fresh["confusion_counts"])


# --------------------------------------------------------------------------- contract
def test_check_aggregator():
    check_aggregator(crowdagg.EBCC(n_restarts=3, max_iter=100))


@pytest.mark.parametrize("method", ["BCC", "EBCC"])
def test_dask_with_gold_equals_local(method):
    dd = pytest.importorskip("dask.dataframe", reason="the Dask check needs dask[dataframe] (the test extra)")
    pytest.importorskip("distributed", reason="the Dask check needs dask.distributed (the test extra)")
    from crowdagg.distributed import DaskAnnotationTable
    from crowdagg.testing import _dask_client

    _dask_client()
    c = crowdagg.datasets.make_crowd(150, 12, 3, per_item=4, random_state=8)
    gold = c.truth.iloc[:20]
    est = getattr(crowdagg, method)(max_iter=30, tol=0)
    if method == "EBCC":
        est.set_params(n_restarts=2)
    local = fit_quiet(est, c.annotations, gold=gold)
    dt = DaskAnnotationTable.from_dask_dataframe(dd.from_pandas(c.annotations, npartitions=2), npartitions=3)
    dist = fit_quiet(getattr(crowdagg, method)(**est.get_params()), dt, gold=gold)
    r = dist.result_.compute()
    np.testing.assert_allclose(r.probas.to_numpy(), local.probas_.loc[r.probas.index].to_numpy(), atol=1e-9)
    np.testing.assert_allclose(dist.elbo_, local.elbo_, rtol=1e-10)
