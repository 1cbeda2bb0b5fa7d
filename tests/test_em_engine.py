"""The shared EM engine: iteration rule, warnings, gold, warm start, plug-in contract."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import crowdagg
import crowdagg.methods.dawid_skene
import crowdagg.methods.wawa
from crowdagg.em import EMContext, EMModel, align_params, run_em
from crowdagg.errors import ConvergenceWarning, GoldError, InitParamsError, InputError
from crowdagg.methods.dawid_skene import DawidSkeneModel
from crowdagg.table import AnnotationTable

EM_CLASSES = [crowdagg.DawidSkene, crowdagg.OneCoinDawidSkene]


def _crowd(n_items=400, n_workers=30, k=4, seed=0, **kw):
    return crowdagg.datasets.make_crowd(n_items, n_workers, k, per_item=5, random_state=seed, **kw)


@pytest.mark.parametrize("cls", EM_CLASSES)
def test_tol_zero_runs_exactly_max_iter_without_warning(cls):
    df = _crowd().annotations
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = cls(max_iter=17, tol=0).fit(df)
    assert m.n_iter_ == 17 and not m.converged_ and m.loglik_.shape == (17,)


@pytest.mark.parametrize("cls", EM_CLASSES)
def test_convergence_warning_and_converged(cls):
    df = _crowd().annotations
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        m = cls(max_iter=2, tol=1e-12).fit(df)
    assert not m.converged_ and m.n_iter_ == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = cls(max_iter=500, tol=1e-6).fit(df)
    assert m.converged_ and m.n_iter_ < 500 and len(m.loglik_) == m.n_iter_
    d = np.abs(np.diff(m.loglik_)) / len(df)
    assert d[-1] < 1e-6 and (d[:-1] >= 1e-6).all()


def test_map_objective_never_decreases():
    """EM with Dirichlet pseudo-counts a is MAP-EM: ll + a Σ log θ is non-decreasing."""
    t = AnnotationTable.from_pandas(_crowd(200, 15, 3, seed=4).annotations)
    a = 0.01
    vals = []
    for n in range(6):
        r = run_em(DawidSkeneModel(a), EMContext(t, np.full(t.n_items, -1), parallel=False), max_iter=n, tol=0)
        ll = r.loglik[-1] if n else None
        if n:
            p = r.params
            vals.append(ll + a * (np.log(p["confusions"]).sum() + np.log(p["priors"]).sum()))
    assert np.all(np.diff(vals) >= -1e-9)


def test_max_iter_zero_gives_posteriors_of_initial_params():
    df = _crowd(100, 10, 3).annotations
    m = crowdagg.DawidSkene(max_iter=0).fit(df)
    assert m.n_iter_ == 0 and m.loglik_.shape == (0,) and not m.converged_
    assert np.allclose(m.probas_.sum(axis=1), 1)


def test_no_underflow_with_thousands_of_annotations_per_item():
    n = 6000
    rng = np.random.default_rng(0)
    truth = np.array([0, 1, 2])
    items = np.repeat(np.arange(3), n)
    workers = np.tile(np.arange(n), 3)
    labels = np.where(rng.random(3 * n) < 0.8, truth[items], rng.integers(0, 3, 3 * n))
    df = pd.DataFrame({"item": items, "worker": workers, "label": labels})
    for cls in EM_CLASSES:
        m = cls(max_iter=10, tol=0).fit(df)
        p = m.probas_.to_numpy()
        assert np.all(np.isfinite(p)) and np.all(np.isfinite(m.loglik_))
        assert m.labels_.tolist() == [0, 1, 2]
        assert p.max(axis=1).min() > 0.999


# --------------------------------------------------------------------------- gold
@pytest.mark.parametrize("cls", EM_CLASSES)
def test_gold_items_keep_their_label_and_train_workers(cls):
    c = _crowd(200, 12, 3, seed=1)
    df = c.annotations
    items = c.truth.index[:40]
    wrong = (c.truth[items] + 1) % 3  # deliberately wrong "gold": must still be kept
    m0 = cls(max_iter=10, tol=0).fit(df)
    m = cls(max_iter=10, tol=0).fit(df, gold=wrong)
    assert (m.labels_[items] == wrong).all()
    np.testing.assert_array_equal(m.probas_.loc[items].to_numpy(), np.eye(3)[wrong.to_numpy()])
    # the gold answers changed what workers are believed to be
    assert not np.allclose(m.skills_.to_numpy(), m0.skills_.to_numpy())


def test_gold_errors():
    df = _crowd(50, 5, 3).annotations
    with pytest.raises(GoldError, match="not in the table"):
        crowdagg.DawidSkene().fit(df, gold={"nope": 1})
    with pytest.raises(GoldError, match="label"):
        crowdagg.DawidSkene().fit(df, gold={df.item.iloc[0]: 7})


def test_gold_does_not_hurt_other_items():
    c = _crowd(2000, 60, 4, seed=2)
    truth = c.truth
    rng = np.random.default_rng(0)
    revealed = truth.index[rng.random(len(truth)) < 0.1]
    rest = truth.index.difference(revealed)
    for cls in EM_CLASSES:
        a = cls().fit(c.annotations)
        b = cls().fit(c.annotations, gold=truth[revealed])
        acc_a = (a.labels_[rest].astype(int) == truth[rest]).mean()
        acc_b = (b.labels_[rest].astype(int) == truth[rest]).mean()
        # noise level on synthetic data is ~1 item; a real loss would be far larger
        assert acc_b >= acc_a - 0.002


# --------------------------------------------------------------------------- warm start
def _batches(seed=0):
    c = crowdagg.datasets.make_crowd(3000, 20, 4, per_item=3, accuracy=(0.5, 0.8), random_state=seed)
    df = c.annotations
    items = df.item.unique()
    new_workers = df.worker.unique()[:1]
    # first batch: 90% of the items, without one worker; the union adds items and that worker
    first = df[df.item.isin(items[:2700]) & ~df.worker.isin(new_workers)]
    return c, first, df


@pytest.mark.parametrize("cls", EM_CLASSES)
def test_warm_start_converges_faster_to_same_answer(cls):
    c, first, union = _batches()
    labels = sorted(union.label.unique())
    kw = {"tol": 1e-8, "max_iter": 2000}
    prev = cls(**kw).fit(first, labels=labels)
    cold = cls(**kw).fit(union)
    warm = cls(**kw).fit(union, init_params=prev)
    assert warm.converged_ and cold.converged_
    assert warm.n_iter_ < cold.n_iter_
    assert warm.loglik_[-1] == pytest.approx(cold.loglik_[-1], abs=1e-2)
    np.testing.assert_allclose(warm.probas_.to_numpy(), cold.probas_.to_numpy(), atol=1e-2)
    assert (warm.labels_ == cold.labels_).all()
    # warm_start=True reuses the estimator's own parameters
    est = cls(warm_start=True, **kw)
    est.fit(first, labels=labels)
    est.fit(union)
    assert est.n_iter_ == warm.n_iter_
    np.testing.assert_allclose(est.probas_.to_numpy(), warm.probas_.to_numpy(), atol=1e-12)


def test_align_params_by_worker_id_and_new_workers_from_prior():
    c, first, union = _batches()
    prev = crowdagg.DawidSkene(max_iter=5, tol=0).fit(first)
    t = AnnotationTable.from_pandas(union)
    model = DawidSkeneModel()
    ctx = EMContext(t, np.full(t.n_items, -1))
    p = align_params(model, ctx, prev)
    default = model.default_params(ctx)["confusions"][0]
    for w_code, wid in enumerate(t.workers):
        if wid in prev.table_.workers:
            np.testing.assert_array_equal(p["confusions"][w_code],
                                          prev.params_["confusions"][prev.table_.workers.get_loc(wid)])
        else:
            np.testing.assert_array_equal(p["confusions"][w_code], default)
    np.testing.assert_array_equal(p["priors"], prev.priors_.to_numpy())


def test_init_params_dict_of_pandas_objects_and_label_order():
    c = _crowd(300, 20, 3, seed=6)
    df = c.annotations
    m = crowdagg.OneCoinDawidSkene(max_iter=20, tol=0).fit(df)
    # Series indexed by worker id / label, in a shuffled order
    skills = m.skills_.iloc[::-1]
    priors = m.priors_.iloc[[2, 0, 1]]
    m2 = crowdagg.OneCoinDawidSkene(max_iter=0).fit(df, init_params={"skills": skills, "priors": priors})
    m3 = crowdagg.OneCoinDawidSkene(max_iter=0).fit(df, init_params=m)
    np.testing.assert_allclose(m2.probas_.to_numpy(), m3.probas_.to_numpy(), atol=1e-12)
    # DS confusions as an array with worker ids and labels in another order
    d = crowdagg.DawidSkene(max_iter=20, tol=0).fit(df)
    perm = [1, 2, 0]
    src = {"confusions": d.params_["confusions"][:, perm][:, :, perm], "priors": d.priors_.to_numpy()[perm],
           "workers": d.table_.workers, "labels": d.table_.labels[perm]}
    d2 = crowdagg.DawidSkene(max_iter=0).fit(df, init_params=src)
    d3 = crowdagg.DawidSkene(max_iter=0).fit(df, init_params=d)
    np.testing.assert_allclose(d2.probas_.to_numpy(), d3.probas_.to_numpy(), atol=1e-12)


def test_init_params_errors():
    df = _crowd(100, 10, 3).annotations
    m = crowdagg.DawidSkene(max_iter=3, tol=0).fit(df)
    other = df.assign(label=df.label.replace({2: 1}))  # label set {0, 1}
    with pytest.raises(InitParamsError, match="labels"):
        crowdagg.DawidSkene().fit(other, init_params=m)
    with pytest.raises(InitParamsError, match="lacks"):
        crowdagg.OneCoinDawidSkene().fit(df, init_params=m)
    with pytest.raises(InitParamsError, match="not fitted"):
        crowdagg.DawidSkene().fit(df, init_params=crowdagg.DawidSkene())
    with pytest.raises(InitParamsError, match="workers"):
        crowdagg.DawidSkene().fit(df, init_params={"confusions": m.params_["confusions"], "priors": m.priors_})
    with pytest.raises(InitParamsError, match="shape"):
        crowdagg.DawidSkene().fit(df, init_params={"confusions": m.params_["confusions"][:, :2],
                                                   "priors": m.priors_, "workers": m.table_.workers})
    with pytest.raises(InitParamsError):
        crowdagg.DawidSkene().fit(df, init_params=[1, 2])


def test_run_em_rejects_unknown_init():
    t = AnnotationTable.from_pandas(_crowd(20, 5, 2).annotations)
    with pytest.raises(InputError):
        run_em(DawidSkeneModel(), EMContext(t, np.full(t.n_items, -1)), init="random")


# --------------------------------------------------------------------------- plug-in contract
class _ShrinkModel(EMModel):
    """Toy plug-in: skills halve their distance to 1 each M-step; posteriors = MV."""

    worker_params = ("s",)
    convergence = "params"

    def __init__(self):
        self.calls = []

    def default_params(self, ctx):
        return {"s": np.zeros(ctx.n_workers)}

    def stats_from_posteriors(self, part, post):
        return None

    def e_step_table(self, part, prepared, items, post, accumulate):
        self.calls.append(("e", self.ctx_iteration, accumulate))
        post[:] = 1.0 / part.n_labels
        return 0.0, None

    def prepare(self, ctx, params):
        self.ctx_iteration = ctx.iteration
        return params

    def m_step(self, ctx, params, stats, executor):
        self.calls.append(("m", ctx.iteration))
        return {"s": params["s"] + 0.5 * (1 - params["s"])}


def test_plugin_call_sequence_and_param_convergence():
    t = AnnotationTable.from_pandas(_crowd(20, 5, 2).annotations)
    model = _ShrinkModel()
    r = run_em(model, EMContext(t, np.full(t.n_items, -1)), init="uniform", max_iter=50, tol=1e-3)
    # |Δ| = 0.5^t < 1e-3 first at t = 10
    assert r.converged and r.n_iter == 10
    np.testing.assert_allclose(r.params["s"], 1 - 0.5**10)
    assert model.calls[:4] == [("e", 0, True), ("m", 1), ("e", 1, True), ("m", 2)]
    model = _ShrinkModel()
    run_em(model, EMContext(t, np.full(t.n_items, -1)), init="uniform", max_iter=2, tol=0)
    assert model.calls[-1] == ("e", 2, False)  # no statistics after the last M-step


@pytest.mark.parametrize("model_cls", [DawidSkeneModel, crowdagg.methods.dawid_skene.OneCoinModel,
                                       crowdagg.methods.wawa.WeightedVoteModel])
def test_plugin_instance_reused_across_runs_and_tables(model_cls):
    """Scratch buffers follow the shapes (a restart loop reuses one plug-in)."""
    small = AnnotationTable.from_pandas(_crowd(100, 5, 3, seed=1).annotations)
    big = AnnotationTable.from_pandas(_crowd(300, 40, 3, seed=2).annotations)
    model = model_cls()
    fresh = {}
    for t in (small, big, small):
        ctx = EMContext(t, np.full(t.n_items, -1))
        ctx._bounds = np.array([0, t.n_items // 2, t.n_items], dtype=np.int64)
        r = run_em(model, ctx, init="uniform", max_iter=3, tol=0)
        ctx2 = EMContext(t, np.full(t.n_items, -1))
        ctx2._bounds = ctx._bounds
        ref = fresh.setdefault(t.n_workers, run_em(model_cls(), ctx2, init="uniform", max_iter=3, tol=0))
        np.testing.assert_allclose(r.posteriors, ref.posteriors, atol=1e-12)


def test_explicit_params_as_init():
    df = _crowd(200, 10, 3, seed=3).annotations
    prev = crowdagg.DawidSkene(max_iter=10, tol=0).fit(df)
    a = crowdagg.DawidSkene(max_iter=2, tol=0, init=prev).fit(df)
    b = crowdagg.DawidSkene(max_iter=2, tol=0).fit(df, init_params=prev)
    c = crowdagg.DawidSkene(max_iter=2, tol=0).fit(df)
    np.testing.assert_array_equal(a.probas_.to_numpy(), b.probas_.to_numpy())
    assert not np.allclose(a.confusions_, c.confusions_)


def test_run_hook_is_what_fit_calls():
    """``EMAggregator._run`` is the one place a subclass changes how runs are made."""
    df = _crowd(200, 10, 3, seed=4).annotations

    class TwoRuns(crowdagg.DawidSkene):
        def _run(self, model, executor, init, max_iter, tol):
            self.seen_ = (init, max_iter, tol, executor.ctx.n_items)
            first = super()._run(model, executor, init, max_iter, tol)
            return run_em(model, executor, init=first.params, max_iter=1, tol=0)

    est = TwoRuns(max_iter=3, tol=0).fit(df)
    assert est.seen_ == ("mv", 3, 0.0, est.table_.n_items)
    # 3 iterations, then one more from the result: the same as 4 iterations
    four = crowdagg.DawidSkene(max_iter=4, tol=0).fit(df)
    np.testing.assert_allclose(est.probas_.to_numpy(), four.probas_.to_numpy(), atol=1e-12)
    assert est.n_iter_ == 1 and len(est.loglik_) == 1


def test_convergence_warning_points_at_the_callers_line():
    df = _crowd(200, 10, 3, seed=4).annotations
    for est in (crowdagg.DawidSkene(max_iter=2, tol=1e-12), crowdagg.MACE(max_iter=2, tol=1e-12, n_restarts=2)):
        with pytest.warns(ConvergenceWarning) as rec:
            est.fit(df)
        assert rec[0].filename == __file__


class _ItemModel(EMModel):
    """Toy plug-in with a per-item parameter that has a label axis."""

    worker_params = ("w",)
    item_params = ("d",)
    label_axes = {"w": (), "d": (0,)}

    def default_params(self, ctx):
        return {"w": np.zeros(ctx.n_workers), "d": np.full((ctx.n_items, ctx.n_labels), -1.0)}


def test_align_item_params_by_item_id_and_label():
    t = AnnotationTable.from_pandas(pd.DataFrame(
        {"item": ["a", "b", "c", "c"], "worker": ["x", "y", "x", "z"], "label": [0, 1, 2, 0]}), labels=[0, 1, 2])
    ctx = EMContext(t, np.full(t.n_items, -1))
    # source knows items c, a, q (q not in the table) with labels in the order 2, 0, 1
    d = np.array([[12.0, 10.0, 11.0], [2.0, 0.0, 1.0], [99.0, 99.0, 99.0]])
    src = {"w": pd.Series([1.0], index=["x"]), "d": d, "items": ["c", "a", "q"], "labels": [2, 0, 1]}
    p = align_params(_ItemModel(), ctx, src)
    np.testing.assert_array_equal(p["d"], [[0.0, 1.0, 2.0], [-1.0, -1.0, -1.0], [10.0, 11.0, 12.0]])
    np.testing.assert_array_equal(p["w"], [1.0, 0.0, 0.0])
    # as a DataFrame indexed by item id; without item parameters every item is default
    p2 = align_params(_ItemModel(), ctx, {**src, "d": pd.DataFrame(d, index=["c", "a", "q"]), "items": None})
    np.testing.assert_array_equal(p2["d"], p["d"])
    p3 = align_params(_ItemModel(), ctx, {"w": src["w"]})
    np.testing.assert_array_equal(p3["d"], -1.0)
    with pytest.raises(InitParamsError, match="non-finite"):
        align_params(_ItemModel(), ctx, {**src, "d": np.full((3, 3), np.nan)})


def test_kernel_gold_is_empty_without_gold_and_follows_the_gold_array():
    df = pd.DataFrame({"item": [0, 0, 1, 2], "worker": [0, 1, 0, 1], "label": [0, 1, 1, 0]})
    table = crowdagg.as_table(df)
    none = EMContext(table, np.full(table.n_items, -1, np.int64))
    assert none.kernel_gold().shape == (0,) and none.kernel_gold().dtype == np.int64
    assert EMContext(table, None).kernel_gold().shape == (0,)
    gold = np.array([-1, 1, -1], np.int64)
    ctx = EMContext(table, gold)
    assert ctx.kernel_gold() is gold
    ctx.gold = np.full(3, -1, np.int64)  # a new gold array is checked again, not the cached answer
    assert ctx.kernel_gold().shape == (0,)
    ctx.gold = gold
    assert ctx.kernel_gold() is gold
