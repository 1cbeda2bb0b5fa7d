"""DawidSkene and OneCoinDawidSkene: kernels vs the NumPy reference, properties, degenerate tables."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import annotation_tables as tables
from conftest import gold_series as _gold_series
from conftest import table_arrays as _arrays
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from naive_em import ds_em, oc_em

import crowdagg
import crowdagg.methods.dawid_skene as dsmod
from crowdagg.em import EMContext, run_em
from crowdagg.errors import InputError
from crowdagg.table import AnnotationTable

NOJIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"
HSET = settings(max_examples=15 if NOJIT else 40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- vs reference
@HSET
@given(tables(), st.integers(0, 4), st.booleans(), st.booleans(), st.sampled_from([0.0, 5.0, 0.3]))
def test_ds_matches_reference(tg, n_iter, use_gold, parallel, c):
    # c = 0: the plain (smoothed) model; 5: the default correct-answer prior
    t, gold = tg
    if not use_gold:
        gold = np.full(t.n_items, -1)
    m = crowdagg.DawidSkene(max_iter=n_iter, tol=0, parallel=parallel, correct_prior=c).fit(
        t, gold=_gold_series(t, gold))
    post, conf, priors, lls = ds_em(*_arrays(t), t.n_items, t.n_workers, t.n_labels, gold, n_iter, c=c)
    np.testing.assert_allclose(m.probas_.to_numpy(), post, atol=1e-10)
    np.testing.assert_allclose(m.params_["confusions"], conf, atol=1e-10)
    np.testing.assert_allclose(m.priors_.to_numpy(), priors, atol=1e-10)
    np.testing.assert_allclose(m.loglik_, lls, rtol=1e-10, atol=1e-10)
    assert m.n_iter_ == n_iter


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6])
def test_ds_every_class_count_path(k, parallel):
    # the E-step keeps 2 to 4 classes in scalars and loops over an array otherwise:
    # both paths (serial and parallel) against the reference, gold items included
    rng = np.random.default_rng(k)
    n_items, n_workers = 60, 7
    ii, ww = np.nonzero(rng.random((n_items, n_workers)) < 0.6)
    labs = rng.integers(0, k, size=ii.size)
    t = AnnotationTable.from_codes(ii, ww, labs, items=n_items, workers=n_workers, labels=k)
    gold = np.where(rng.random(n_items) < 0.2, rng.integers(0, k, size=n_items), -1)
    m = crowdagg.DawidSkene(max_iter=3, tol=0, parallel=parallel).fit(t, gold=_gold_series(t, gold))
    post, conf, priors, lls = ds_em(*_arrays(t), t.n_items, t.n_workers, k, gold, 3)
    np.testing.assert_allclose(m.probas_.to_numpy(), post, atol=1e-10)
    np.testing.assert_allclose(m.params_["confusions"], conf, atol=1e-10)
    np.testing.assert_allclose(m.loglik_, lls, rtol=1e-10)


@HSET
@given(tables(), st.integers(0, 4), st.booleans())
def test_fast_ds_matches_reference(tg, n_iter, parallel):
    t, gold = tg
    m = crowdagg.FastDawidSkene(max_iter=n_iter, tol=0, parallel=parallel).fit(t, gold=_gold_series(t, gold))
    post, conf, priors, lls = ds_em(*_arrays(t), t.n_items, t.n_workers, t.n_labels, gold, n_iter, hard=True, c=0.0)
    np.testing.assert_allclose(m.probas_.to_numpy(), post, atol=1e-10)
    np.testing.assert_allclose(m.params_["confusions"], conf, atol=1e-10)
    np.testing.assert_allclose(m.loglik_, lls, rtol=1e-10, atol=1e-10)


@HSET
@given(tables(), st.integers(0, 4), st.booleans(), st.booleans(), st.sampled_from([0.0, 5.0, 0.3]))
def test_one_coin_matches_reference(tg, n_iter, use_gold, parallel, c):
    t, gold = tg
    if not use_gold:
        gold = np.full(t.n_items, -1)
    m = crowdagg.OneCoinDawidSkene(max_iter=n_iter, tol=0, parallel=parallel, correct_prior=c).fit(
        t, gold=_gold_series(t, gold))
    post, skills, priors, lls = oc_em(*_arrays(t), t.n_items, t.n_workers, t.n_labels, gold, n_iter, c=c)
    np.testing.assert_allclose(m.probas_.to_numpy(), post, atol=1e-10)
    np.testing.assert_allclose(m.skills_.to_numpy(), skills, atol=1e-10)
    np.testing.assert_allclose(m.priors_.to_numpy(), priors, atol=1e-10)
    np.testing.assert_allclose(m.loglik_, lls, rtol=1e-10, atol=1e-10)


def _crowd(n_items=300, n_workers=30, k=4, seed=0):
    return crowdagg.datasets.make_crowd(n_items, n_workers, k, per_item=5, random_state=seed)


@pytest.mark.parametrize("model_cls", [dsmod.DawidSkeneModel, dsmod.OneCoinModel])
def test_parallel_chunks_equal_serial(model_cls, monkeypatch):
    """Several chunks (statistics summed afterwards) give the serial result to 1e-10."""
    t = AnnotationTable.from_pandas(_crowd().annotations)
    gold = np.full(t.n_items, -1)
    gold[::7] = 1
    serial = run_em(model_cls(), EMContext(t, gold, parallel=False), max_iter=5, tol=0)
    ctx = EMContext(t, gold, parallel=True)
    ctx._bounds = np.array([0, 13, 100, 101, 250, t.n_items], dtype=np.int64)
    ctx._wbounds = np.array([0, 3, 17, t.n_workers], dtype=np.int64)
    par = run_em(model_cls(), ctx, max_iter=5, tol=0)
    np.testing.assert_allclose(par.posteriors, serial.posteriors, atol=1e-10)
    np.testing.assert_allclose(par.loglik, serial.loglik, rtol=1e-12)
    for k in serial.params:
        np.testing.assert_allclose(par.params[k], serial.params[k], atol=1e-10)
    if model_cls is dsmod.DawidSkeneModel:  # two-pass fallback when buffers would be too big
        monkeypatch.setattr(dsmod, "MAX_STAT_BUFFER_BYTES", 0)
        two = run_em(model_cls(), ctx, max_iter=5, tol=0)
        np.testing.assert_allclose(two.posteriors, serial.posteriors, atol=1e-10)
        np.testing.assert_allclose(two.params["confusions"], serial.params["confusions"], atol=1e-10)


def test_hand_computed_one_iteration():
    """Two workers, two items, two labels: MV init then one posterior pass, by hand."""
    df = pd.DataFrame({"item": ["a", "a", "b"], "worker": ["u", "v", "u"], "label": [0, 1, 0]})
    a = 0.01
    m = crowdagg.DawidSkene(max_iter=0, smoothing=a, correct_prior=0).fit(df)  # the plain model
    # MV posteriors: a = (.5, .5), b = (1, 0)
    # u: true0 counts obs0 = .5 + 1 = 1.5, obs1 = 0 -> (1.51, .01)/1.52 ; true1: obs0 = .5 -> (.51,.01)/.52
    cu = np.array([[1.51, 0.01], [0.51, 0.01]]) / np.array([[1.52], [0.52]])
    # v: true0 obs1 = .5 -> (.01, .51)/.52 ; true1 obs1 = .5 -> same
    cv = np.array([[0.01, 0.51], [0.01, 0.51]]) / 0.52
    pri = (np.array([1.5, 0.5]) + a) / (2 + 2 * a)
    np.testing.assert_allclose(m.params_["confusions"][0], cu)
    np.testing.assert_allclose(m.params_["confusions"][1], cv)
    np.testing.assert_allclose(m.priors_.to_numpy(), pri)
    pa = pri * cu[:, 0] * cv[:, 1]
    pb = pri * cu[:, 0]
    np.testing.assert_allclose(m.probas_.loc["a"].to_numpy(), pa / pa.sum())
    np.testing.assert_allclose(m.probas_.loc["b"].to_numpy(), pb / pb.sum())
    np.testing.assert_allclose(m.skills_["u"], pri @ np.diag(cu))


def test_hand_computed_correct_prior():
    """The same table with 2 pseudo-correct answers: + 2 on each diagonal cell, by hand."""
    df = pd.DataFrame({"item": ["a", "a", "b"], "worker": ["u", "v", "u"], "label": [0, 1, 0]})
    a, c = 0.01, 2.0
    m = crowdagg.DawidSkene(max_iter=0, smoothing=a, correct_prior=c).fit(df)
    # u: true0 (1.5 + a + c, a) / (1.5 + 2a + c); true1 (.5 + a, a + c) / (.5 + 2a + c)
    cu = np.array([[1.5 + a + c, a], [0.5 + a, a + c]]) / np.array([[1.5 + 2 * a + c], [0.5 + 2 * a + c]])
    # v: true0 (a + c, .5 + a) / (.5 + 2a + c); true1 (a, .5 + a + c) / (.5 + 2a + c)
    cv = np.array([[a + c, 0.5 + a], [a, 0.5 + a + c]]) / (0.5 + 2 * a + c)
    np.testing.assert_allclose(m.params_["confusions"][0], cu)
    np.testing.assert_allclose(m.params_["confusions"][1], cv)
    oc = crowdagg.OneCoinDawidSkene(max_iter=0, smoothing=a, correct_prior=c).fit(df)
    # u: expected correct answers .5 + 1 of 2; v: .5 of 1
    np.testing.assert_allclose(oc.skills_.to_numpy(), [(1.5 + a + c) / (2 + 2 * a + c), (0.5 + a + c) / (1 + 2 * a + c)])


# --------------------------------------------------------------------------- properties
def _fit(cls, df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(**kw).fit(df)


@pytest.mark.parametrize("cls", [crowdagg.DawidSkene, crowdagg.OneCoinDawidSkene])
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
def test_relabelling_items_and_workers_changes_nothing(cls, seed):
    c = crowdagg.datasets.make_crowd(60, 8, 3, per_item=3, random_state=seed)
    df = c.annotations
    rng = np.random.default_rng(seed)
    df2 = df.iloc[rng.permutation(len(df))].copy()
    df2["item"] = "x" + df2["item"].str[::-1]
    df2["worker"] = "z" + df2["worker"]
    a = _fit(cls, df, max_iter=5, tol=0)
    b = _fit(cls, df2, max_iter=5, tol=0)
    pb = b.probas_.copy()
    pb.index = pd.Index([s[1:][::-1] for s in pb.index])
    pd.testing.assert_frame_equal(a.probas_.sort_index(), pb.sort_index(), check_names=False, atol=1e-10)
    sb = b.skills_.copy()
    sb.index = pd.Index([s[1:] for s in sb.index])
    pd.testing.assert_series_equal(a.skills_.sort_index(), sb.sort_index(), check_names=False, atol=1e-10)


@pytest.mark.parametrize("cls", [crowdagg.DawidSkene, crowdagg.OneCoinDawidSkene])
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
def test_permuting_label_codes_permutes_output(cls, seed):
    c = crowdagg.datasets.make_crowd(60, 8, 3, per_item=3, random_state=seed)
    df = c.annotations
    perm = np.random.default_rng(seed).permutation(3)
    df2 = df.assign(label=perm[df["label"].to_numpy()])
    # label order kept as codes 0..2 so ties (first maximum) resolve by position
    a = _fit(cls, df, max_iter=5, tol=0)
    b = _fit(cls, df2, max_iter=5, tol=0)
    np.testing.assert_allclose(b.probas_.to_numpy()[:, perm], a.probas_.to_numpy(), atol=1e-10)
    np.testing.assert_allclose(b.priors_.to_numpy()[perm], a.priors_.to_numpy(), atol=1e-10)
    np.testing.assert_allclose(b.skills_.to_numpy(), a.skills_.to_numpy(), atol=1e-10)
    if cls is crowdagg.DawidSkene:
        np.testing.assert_allclose(b.params_["confusions"][:, perm][:, :, perm], a.params_["confusions"], atol=1e-10)


# --------------------------------------------------------------------------- degenerate tables
DEGENERATE = {
    "one worker": pd.DataFrame({"item": [1, 2, 3], "worker": ["w"] * 3, "label": ["a", "b", "a"]}),
    "one class": pd.DataFrame({"item": [1, 1, 2], "worker": ["u", "v", "u"], "label": ["a"] * 3}),
    "constant worker": pd.DataFrame({"item": [1, 1, 2, 2, 3, 3], "worker": list("uvuvuv"),
                                     "label": ["a", "a", "a", "b", "a", "b"]}),
    "single answers": pd.DataFrame({"item": [1, 2, 3], "worker": ["u", "v", "w"], "label": ["a", "b", "c"]}),
    "one annotation": pd.DataFrame({"item": [1], "worker": ["u"], "label": ["a"]}),
}


@pytest.mark.parametrize("cls", [crowdagg.DawidSkene, crowdagg.OneCoinDawidSkene, crowdagg.FastDawidSkene])
@pytest.mark.parametrize("name", list(DEGENERATE))
@pytest.mark.parametrize("init", ["mv", "uniform"])
def test_degenerate_tables_finite(cls, name, init):
    m = _fit(cls, DEGENERATE[name], max_iter=20, init=init)
    p = m.probas_.to_numpy()
    assert np.all(np.isfinite(p)) and np.allclose(p.sum(axis=1), 1)
    assert np.all(np.isfinite(m.skills_)) and np.all(np.isfinite(m.priors_))
    assert np.all(np.isfinite(m.loglik_))
    assert m.labels_.notna().all()
    if m.table_.n_labels > 1:  # no probability parameter is 0 or 1
        conf = m.confusions_
        assert np.all((conf > 0) & (conf < 1))
        assert np.all((m.priors_ > 0) & (m.priors_ < 1))


def test_item_without_annotations_gets_priors():
    t = AnnotationTable.from_codes([0, 0, 1], [0, 1, 0], [0, 1, 1], items=["a", "b", "c"], workers=2, labels=2)
    m = crowdagg.DawidSkene(max_iter=3, tol=0).fit(t)
    np.testing.assert_allclose(m.probas_.loc["c"].to_numpy(), m.priors_.to_numpy())
    assert pd.isna(m.labels_["c"])


def test_outputs_are_indexed_by_ids():
    c = _crowd(100, 10, 3)
    m = crowdagg.DawidSkene(max_iter=5, tol=0).fit(c.annotations)
    assert m.skills_.index.equals(m.table_.workers)
    assert m.probas_.index.equals(m.table_.items)
    assert list(m.priors_.index) == [0, 1, 2]
    fr = m.confusions_frame_
    assert list(fr.columns) == ["worker", "true", "observed", "p"]
    assert len(fr) == 10 * 9
    np.testing.assert_allclose(fr.groupby(["worker", "true"])["p"].sum(), 1.0)
    row = fr[(fr.worker == m.table_.workers[2]) & (fr.true == 1) & (fr.observed == 0)]
    assert row.p.item() == pytest.approx(m.params_["confusions"][2, 1, 0])
    oc = crowdagg.OneCoinDawidSkene(max_iter=5, tol=0).fit(c.annotations)
    occ = oc.confusions_
    assert occ.index.names == ["worker", "true"] and list(occ.columns) == list(oc.table_.labels)
    occ = occ.to_numpy().reshape(oc.table_.n_workers, oc.table_.n_labels, oc.table_.n_labels)
    np.testing.assert_allclose(occ.sum(axis=2), 1.0)
    np.testing.assert_allclose(np.einsum("wkk->wk", occ)[:, 0], oc.skills_.to_numpy())
    assert m.confusions_.loc[(m.table_.workers[2], 1), 0] == pytest.approx(m.params_["confusions"][2, 1, 0])


def test_recovers_truth_on_synthetic_crowd():
    c = _crowd(1000, 40, 4, seed=3)
    mv = crowdagg.MajorityVote().fit(c.annotations)
    truth = c.truth.reindex(mv.labels_.index)
    for cls in (crowdagg.DawidSkene, crowdagg.OneCoinDawidSkene, crowdagg.FastDawidSkene):
        m = cls().fit(c.annotations)
        assert m.converged_
        acc = (m.labels_.astype(int) == truth).mean()
        assert acc >= (mv.labels_.astype(int) == truth).mean()
        assert acc > 0.9


def test_predict_on_new_data_uses_fitted_params():
    c = _crowd(200, 20, 3)
    df = c.annotations
    m = crowdagg.DawidSkene(max_iter=10, tol=0).fit(df)
    np.testing.assert_allclose(m.predict_proba(df).to_numpy(), m.probas_.to_numpy(), atol=1e-12)
    new = pd.DataFrame({"item": ["n1", "n1"], "worker": [df.worker.iloc[0], "stranger"], "label": [1, 2]})
    p = m.predict_proba(new)
    assert p.shape == (1, 3) and np.isclose(p.to_numpy().sum(), 1)


def test_bad_arguments():
    df = DEGENERATE["one worker"]
    for kw in ({"max_iter": -1}, {"tol": -1.0}, {"init": "random"}, {"smoothing": 0.0},
               {"smoothing": float("nan")}, {"warm_start": "yes"}):
        with pytest.raises(InputError):
            crowdagg.DawidSkene(**kw).fit(df)
    assert crowdagg.DawidSkene(max_iter=3).get_params()["max_iter"] == 3


def test_input_not_mutated():
    df = _crowd(50, 5, 3).annotations
    before = df.copy()
    crowdagg.DawidSkene(max_iter=3, tol=0).fit(df, gold={df.item.iloc[0]: 1})
    pd.testing.assert_frame_equal(df, before)


def test_fixed_shift_gold_keeps_exp_argument_nonpositive():
    """A gold item far below the best class: the buffer holds a_k - max (<= 0, the domain of
    exp_nonpos) while the log-likelihood term is a_g."""
    from crowdagg.kernels.em import _fixed_shift

    shift = getattr(_fixed_shift, "py_func", _fixed_shift)
    buf = np.empty(4)
    term = shift(buf, 0, 1, 4, 0.0, -50.0, -3.0, -1.0)  # gold = 1
    assert term == -50.0 and (buf <= 0).all() and buf.max() == 0.0


@pytest.mark.parametrize("correct_prior", [5.0, 0.0])
def test_mstep_numpy_and_kernel_paths_bit_identical(monkeypatch, correct_prior):
    """Small fits run the confusion M-step in NumPy, large ones as one kernel: same bits."""
    import crowdagg.methods.dawid_skene as dsm

    crowd = crowdagg.datasets.make_crowd(3000, 120, 4, per_item=4, random_state=5)
    fits = []
    for cells in (0, 1 << 40):
        monkeypatch.setattr(dsm, "_FUSED_MSTEP_CELLS", cells)
        est = crowdagg.DawidSkene(max_iter=15, tol=0, correct_prior=correct_prior).fit(crowd.annotations)
        fits.append(est)
    np.testing.assert_array_equal(fits[0].params_["confusions"], fits[1].params_["confusions"])
    np.testing.assert_array_equal(fits[0].probas_.to_numpy(), fits[1].probas_.to_numpy())


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("parallel", [False, True])
def test_one_coin_fixed_width_path_equals_its_own_kernel(monkeypatch, k, parallel):
    """2-4 classes: one-coin runs Dawid-Skene's fixed-width E-step on its confusion rows
    (log s on the diagonal, log e elsewhere); the fit equals the one-coin kernel's to 1e-10,
    with gold items and several chunks."""
    t = AnnotationTable.from_pandas(_crowd(300, 30, k, seed=k).annotations)
    gold = np.full(t.n_items, -1)
    gold[::9] = 1

    def ctx():
        c = EMContext(t, gold, parallel=parallel)
        if parallel:
            c._bounds = np.array([0, 40, 41, 200, t.n_items], dtype=np.int64)
        return c

    fast = run_em(dsmod.OneCoinModel(0.01, 5.0), ctx(), max_iter=8, tol=0)
    real_prepare = dsmod.OneCoinModel.prepare
    monkeypatch.setattr(dsmod.OneCoinModel, "prepare", lambda self, c, p: (*real_prepare(self, c, p)[:3], None))
    ref = run_em(dsmod.OneCoinModel(0.01, 5.0), ctx(), max_iter=8, tol=0)
    np.testing.assert_allclose(fast.posteriors, ref.posteriors, atol=1e-10)
    np.testing.assert_allclose(fast.params["skills"], ref.params["skills"], atol=1e-10)
    np.testing.assert_allclose(fast.params["priors"], ref.params["priors"], atol=1e-12)
    np.testing.assert_allclose(fast.loglik, ref.loglik, rtol=1e-12)


def test_worker_counts_once_per_run():
    """The answers per worker that one-coin's and the weighted votes' M-steps read are
    computed once per run (kept in ``ctx.cache``, emptied by the executor's ``start``),
    read-only, and follow a new table or Dask counts."""
    a = AnnotationTable.from_pandas(crowdagg.datasets.make_crowd(50, 6, 3, random_state=0).annotations)
    b = AnnotationTable.from_pandas(crowdagg.datasets.make_crowd(60, 9, 3, random_state=1).annotations)
    ctx = EMContext(a, np.full(a.n_items, -1))
    n = ctx.worker_counts()
    np.testing.assert_array_equal(n, np.bincount(a.worker_codes, minlength=a.n_workers))
    assert n.dtype == np.float64 and not n.flags.writeable and ctx.worker_counts() is n
    ctx.counts = np.arange(a.n_workers)
    np.testing.assert_array_equal(ctx.worker_counts(), np.arange(a.n_workers))
    ctx.table = b
    ctx.counts = None
    np.testing.assert_array_equal(ctx.worker_counts(), np.bincount(b.worker_codes, minlength=b.n_workers))
