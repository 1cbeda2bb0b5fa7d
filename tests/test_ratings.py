"""Numeric ratings: MeanRating, MedianRating, WorkerBiasNoise (crowdagg.methods.ratings).

Kernels against the pure-Python references of tests/naive_ratings.py, hand-computed
cases, hypothesis properties, the estimator contract (``crowdagg.testing.check_aggregator``,
numeric path: ``(estimate, stderr)`` in place of ``probas_``; its Dask check is slow), the
accuracy target on generated crowds, gold, warm starts, one posterior column
(``posterior_width``) locally and on Dask, Dask == local, bad input, and the snow2008
ratings of ../shared (skipped when absent).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crowdagg
from crowdagg.errors import GoldError, InputError, LevelError, ParameterError
from crowdagg.methods.ratings import MeanRating, MedianRating, WorkerBiasNoise, WorkerBiasNoiseModel
from crowdagg.testing import aggregator_checks, check_aggregator
from tests import naive_ratings as N

ESTIMATORS = [MeanRating, MedianRating, WorkerBiasNoise]


def biased_crowd(n_items=400, n_workers=40, per_item=5, seed=0, rounding=True):
    """Items with true values N(50, 15^2); worker biases N(0, 8^2), noise SDs Gamma(2, 5)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(50, 15, n_items)
    b = rng.normal(0, 8, n_workers)
    s = rng.gamma(2, 5, n_workers)
    rows = []
    for i in range(n_items):
        for w in rng.choice(n_workers, per_item, replace=False):
            y = z[i] + b[w] + rng.normal(0, s[w])
            rows.append((f"i{i}", f"w{w}", float(np.round(y)) if rounding else y))
    df = pd.DataFrame(rows, columns=["item", "worker", "label"])
    truth = pd.Series(z, index=[f"i{i}" for i in range(n_items)])
    return df, truth, pd.Series(b, index=[f"w{w}" for w in range(n_workers)])


def fit(est, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(data, **kw)


def rmse(est: pd.Series, truth: pd.Series) -> float:
    return float(np.sqrt(np.mean((est.loc[truth.index].to_numpy() - truth.to_numpy()) ** 2)))


SMALL = pd.DataFrame({
    "item": ["a", "a", "a", "b", "b", "c", "d"],
    "worker": ["x", "y", "z", "x", "y", "z", "x"],
    "label": [1, 2, 6, 3, 5, 4, None],
})


# --------------------------------------------------------------------------- hand-computed
def test_mean_median_hand_computed():
    m = MeanRating().fit(SMALL)
    assert m.labels_.to_dict() == pytest.approx({"a": 3.0, "b": 4.0, "c": 4.0, "d": 21 / 6})
    # a: sd = sqrt(((1-3)^2 + (2-3)^2 + (6-3)^2) / 2) = sqrt(7); b: sqrt(2); c: pooled sqrt(16/3)
    pooled = np.sqrt((14 + 2) / 3)
    all_sd = np.std([1, 2, 6, 3, 5, 4])
    assert m.stderr_.to_numpy() == pytest.approx([np.sqrt(7 / 3), 1.0, pooled, all_sd])
    assert m.n_answers_.tolist() == [3, 2, 1, 0]
    med = MedianRating().fit(SMALL)
    assert med.labels_.to_dict() == pytest.approx({"a": 2.0, "b": 4.0, "c": 4.0, "d": 3.5})
    assert med.stderr_["a"] == pytest.approx(np.sqrt(np.pi / 2) * np.sqrt(7 / 3))
    assert med.labels_.dtype == np.float64 and not med.labels_.isna().any()


def test_to_pandas_columns():
    out = MeanRating().fit(SMALL).to_pandas()
    assert list(out.columns) == ["item", "estimate", "stderr", "n_answers"]
    assert out["item"].tolist() == ["a", "b", "c", "d"]


def test_gold_clamps_mean_and_median():
    for cls in (MeanRating, MedianRating):
        e = cls().fit(SMALL, gold={"a": 2.5, "d": 10})
        assert e.labels_["a"] == 2.5 and e.stderr_["a"] == 0.0
        assert e.labels_["d"] == 10.0 and e.stderr_["d"] == 0.0


# --------------------------------------------------------------------------- naive references
rows_strategy = st.lists(
    st.tuples(st.integers(0, 7), st.integers(0, 5), st.integers(-3, 9)), min_size=3, max_size=60,
    unique_by=lambda r: (r[0], r[1]))


@settings(max_examples=40, deadline=None)
@given(rows_strategy)
def test_mean_median_match_naive(rows):
    df = pd.DataFrame(rows, columns=["item", "worker", "label"])
    ref = N.mean_median(rows)
    m = MeanRating().fit(df).labels_
    md = MedianRating().fit(df).labels_
    for i, (mean, med) in ref.items():
        assert m[i] == pytest.approx(mean, abs=1e-12)
        assert md[i] == pytest.approx(med, abs=1e-12)


def _as_dict(s: pd.Series) -> dict:
    return {k: float(v) for k, v in s.items()}


@pytest.mark.parametrize("parallel", [True, False])
@pytest.mark.parametrize("with_gold", [False, True])
def test_bias_noise_matches_naive(parallel, with_gold):
    df, truth, _ = biased_crowd(n_items=40, n_workers=8, per_item=3, seed=3)
    rows = list(df.itertuples(index=False, name=None))
    gold = {"i0": 41.5, "i7": 60.0} if with_gold else None
    means, vars_, bias, noise, mu, tau2, hist = N.bias_noise_fit(rows, 6, gold=gold)
    e = WorkerBiasNoise(init="uniform", max_iter=6, tol=0, parallel=parallel).fit(df, gold=gold)
    est = _as_dict(e.labels_)
    for i in means:
        assert est[i] == pytest.approx(means[i], rel=1e-10, abs=1e-10)
        assert e.stderr_[i] == pytest.approx(np.sqrt(vars_[i]), rel=1e-10, abs=1e-10)
    for w in bias:
        assert e.bias_[w] == pytest.approx(bias[w], rel=1e-10, abs=1e-10)
        assert e.noise_[w] == pytest.approx(noise[w], rel=1e-10)
    assert e.prior_mean_ == pytest.approx(mu, rel=1e-10)
    assert e.prior_var_ == pytest.approx(tau2, rel=1e-10)
    assert e.loglik_ == pytest.approx(np.array(hist), rel=1e-10)


def test_parallel_kernels_equal_serial():
    """A table large enough for several item and worker chunks: the prange twins give the
    serial kernels' sums (the serial ones are checked against the naive reference)."""
    from crowdagg.kernels._util import chunk_bounds
    from crowdagg.table import as_table

    df, _, _ = biased_crowd(n_items=20000, n_workers=300, per_item=4, seed=9, rounding=False)
    table = as_table(df)
    assert chunk_bounds(table.item_ptr).shape[0] > 2
    for cls, kw in ((MeanRating, {}), (MedianRating, {}), (WorkerBiasNoise, {"max_iter": 5, "tol": 0})):
        a = cls(parallel=True, **kw).fit(table)
        b = cls(parallel=False, **kw).fit(table)
        assert np.allclose(a.labels_, b.labels_, rtol=0, atol=1e-9)
        assert np.allclose(a.stderr_, b.stderr_, rtol=0, atol=1e-9)
        if cls is WorkerBiasNoise:
            assert np.allclose(a.noise_, b.noise_, rtol=1e-10)


def test_bias_noise_log_posterior_increases():
    df, _, _ = biased_crowd(seed=1)
    e = WorkerBiasNoise(max_iter=200, tol=0).fit(df)
    assert np.all(np.diff(e.loglik_) >= -1e-9 * np.abs(e.loglik_[1:]))


def test_two_answer_worker_not_zero_noise():
    df, _, _ = biased_crowd(seed=2)
    # a worker who gives the consensus on two items: residuals about 0
    m = MeanRating().fit(df).labels_
    extra = pd.DataFrame({"item": ["i0", "i1"], "worker": ["lucky", "lucky"],
                          "label": [float(m["i0"]), float(m["i1"])]})
    e = WorkerBiasNoise().fit(pd.concat([df, extra], ignore_index=True))
    nu, s0 = e.noise_strength, e.noise_scale * e.scale_
    assert e.noise_["lucky"] >= nu * s0 ** 2 / (2 + nu + 2) * 0.99  # the prior keeps it away from 0
    assert np.all(e.noise_ > 0) and np.all(np.isfinite(e.noise_))
    assert np.all((e.skills_ > 0) & (e.skills_ < 1))


# --------------------------------------------------------------------------- accuracy target
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bias_noise_beats_mean(seed):
    """Done means: WorkerBiasNoise RMSE at most 0.8 x the plain mean's on biased, noisy raters."""
    df, truth, b = biased_crowd(seed=seed)
    mean = rmse(MeanRating().fit(df).labels_, truth)
    med = rmse(MedianRating().fit(df).labels_, truth)
    e = WorkerBiasNoise().fit(df)
    bn = rmse(e.labels_, truth)
    assert bn <= 0.8 * mean, (bn, mean, med)
    assert np.corrcoef(e.bias_.loc[b.index], b)[0, 1] > 0.9


def test_gold_helps_and_clamps():
    df, truth, _ = biased_crowd(seed=4)
    gold = truth.iloc[:100]
    e = WorkerBiasNoise().fit(df, gold=gold)
    assert np.allclose(e.labels_.loc[gold.index], gold) and (e.stderr_.loc[gold.index] == 0).all()
    rest = truth.index[100:]
    assert rmse(e.labels_, truth.loc[rest]) <= rmse(WorkerBiasNoise().fit(df).labels_, truth.loc[rest]) + 1e-9


def test_gold_values_need_not_be_labels():
    e = WorkerBiasNoise().fit(SMALL, gold={"a": 2.75})
    assert e.labels_["a"] == 2.75


# --------------------------------------------------------------------------- items without answers
def test_items_without_answers_present_and_finite():
    e = WorkerBiasNoise().fit(SMALL)
    assert e.labels_.index.tolist() == ["a", "b", "c", "d"]
    assert e.labels_["d"] == pytest.approx(e.prior_mean_)
    assert e.stderr_["d"] == pytest.approx(np.sqrt(e.prior_var_))
    for cls in ESTIMATORS:
        r = cls().fit(SMALL)
        assert np.isfinite(r.labels_.to_numpy()).all() and np.isfinite(r.stderr_.to_numpy()).all()
        assert r.labels_.dtype == np.float64


def test_all_answers_equal():
    df = pd.DataFrame({"item": [1, 1, 2, 2], "worker": [1, 2, 1, 2], "label": [3, 3, 3, 3]})
    for cls in ESTIMATORS:
        e = cls().fit(df)
        assert np.allclose(e.labels_, 3.0)
        assert np.isfinite(e.stderr_.to_numpy()).all()


# --------------------------------------------------------------------------- warm starts
def test_warm_start_from_fit():
    df, _, _ = biased_crowd(seed=5)
    a = WorkerBiasNoise().fit(df)
    b = WorkerBiasNoise().fit(df, init_params=a)
    assert b.n_iter_ <= 3
    assert np.allclose(a.labels_, b.labels_, atol=0.05)
    c = WorkerBiasNoise(warm_start=True)
    c.fit(df)
    n_first = c.n_iter_
    c.fit(df)
    assert c.n_iter_ <= 3 < n_first


def test_warm_start_new_values_and_workers():
    df, _, _ = biased_crowd(seed=6)
    a = WorkerBiasNoise().fit(df)
    other = df.assign(label=df["label"] + 0.5)  # other rating values: no label axis to match
    other.loc[0, "worker"] = "new"
    b = WorkerBiasNoise().fit(other, init_params=a)
    assert "new" in b.bias_.index and np.isfinite(b.labels_).all()
    with pytest.raises(InputError):
        WorkerBiasNoise().fit(df, init_params={"bias": a.bias_})


def test_predict_new_data():
    df, truth, _ = biased_crowd(seed=7)
    e = WorkerBiasNoise().fit(df)
    again = e.predict(df)
    assert np.allclose(again.loc[e.labels_.index], e.labels_, atol=1e-6)
    assert e.predict() is e.labels_
    m = MeanRating().fit(df)
    assert np.allclose(m.predict(df.iloc[:50]), MeanRating().fit(df.iloc[:50]).labels_)


# --------------------------------------------------------------------------- the contract
CONTRACT = [pytest.param(cls, name, run, id=f"{cls.__name__}-{name}",
                         marks=[pytest.mark.slow] if name == "check_distributed_equals_local" else [])
            for cls in ESTIMATORS for name, run in aggregator_checks(cls())]


@pytest.mark.parametrize("cls,name,run", CONTRACT)
def test_contract(cls, name, run):
    """crowdagg.testing.check_aggregator's rules (numeric path) on each estimator, one test per
    rule; the Dask == local rule needs a LocalCluster (slow)."""
    run()


@pytest.mark.slow
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_check_aggregator(cls):
    check_aggregator(cls())


def test_predict_proba_refused():
    e = MeanRating().fit(SMALL)
    with pytest.raises(InputError, match="no class probabilities"):
        e.predict_proba()
    with pytest.raises(InputError):
        e.predict_proba(SMALL)


def _broken(how):
    """A MeanRating breaking one numeric rule of check_aggregator."""
    class Broken(MeanRating):
        def fit(self, data, **kw):
            super().fit(data, **kw)
            if how == "nan":
                self.labels_ = self.labels_.where(self.n_answers_ > 0)
            elif how == "float32":
                self.labels_ = self.labels_.astype(np.float32)
            elif how == "no stderr":
                del self.stderr_
            elif how == "row order":
                self.stderr_ = self.stderr_ + float(data["label"].iloc[0])
            return self

        def _predict_new(self, data, table_kwargs):
            return super()._predict_new(data, table_kwargs) + (1.0 if how == "predict" else 0.0)

    Broken.__name__ = f"Broken_{how.replace(' ', '_')}"
    return Broken()


@pytest.mark.parametrize("how,check,match", [
    ("nan", "check_every_item_present", "without answers"),
    ("float32", "check_labels_dtype_stable", "expected float64"),
    ("no stderr", "check_fitted_attributes", "no stderr_"),
    ("predict", "check_predict", "differs from labels_"),
    ("row order", "check_row_order", "shuffling the rows")])
def test_check_aggregator_catches_broken_numeric_methods(how, check, match):
    run = dict(aggregator_checks(_broken(how)))[check]
    with pytest.raises(AssertionError, match=match):
        run()


# --------------------------------------------------------------------------- one posterior column
def test_posterior_width():
    from crowdagg.em import EMModel

    assert WorkerBiasNoiseModel().posterior_width(10_000) == 1
    assert EMModel().posterior_width(7) == 7
    assert crowdagg.DawidSkene()._make_model().posterior_width(3) == 3


def test_memory_terms_do_not_scale_with_rating_values():
    m = WorkerBiasNoiseModel()
    few, many = m.memory_terms(5000, 40, 5), m.memory_terms(5000, 40, 10**7)
    assert [b for _, b in few] == [b for _, b in many]
    # the default terms do scale: items x labels class posteriors
    ds = crowdagg.DawidSkene()._make_model()
    assert sum(b for _, b in ds.memory_terms(5000, 40, 50)) > 9 * sum(b for _, b in ds.memory_terms(5000, 40, 5))


def test_continuous_ratings_under_a_small_memory_limit():
    """Every answer its own value: an items x labels array (2000 x ~8000 x 8 B = 128 MB) would pass a
    10 MB limit; the fit holds one column and passes."""
    df, _, _ = biased_crowd(n_items=2000, n_workers=50, per_item=4, seed=12, rounding=False)
    assert df["label"].nunique() > 7900
    try:
        crowdagg.memory.set_limit(10 * 2**20)
        e = WorkerBiasNoise(max_iter=20).fit(df)
        with pytest.raises(crowdagg.errors.TooLargeError):
            crowdagg.DawidSkene(max_iter=2).fit(df)
    finally:
        crowdagg.memory.set_limit(None)
    assert np.isfinite(e.labels_).all()


def test_local_run_holds_one_column():
    from crowdagg.em import LocalExecutor

    df, _, _ = biased_crowd(n_items=30, n_workers=6, per_item=3, seed=13, rounding=False)
    est = WorkerBiasNoise()
    model = est._make_model()
    ex = est._executor(df, None, {}, model)
    assert type(ex) is LocalExecutor and ex.ctx.n_labels == len(df)
    res = est._run(model, ex, "mv", 5, 0.0)
    assert res.posteriors.shape == (30, 1)
    assert (ex.vote(model=model) == -1).all() and ex.posteriors.shape == (30, 1)
    ex.start()  # no model: class posteriors
    assert ex.posteriors.shape == (30, len(df))


def test_dask_tasks_hold_one_column():
    """The Dask tasks (run here without a cluster): vote and E-step pieces of one column."""
    from crowdagg.distributed import _tasks as T
    from crowdagg.distributed.table import Piece
    from crowdagg.table import as_table

    df, _, _ = biased_crowd(n_items=30, n_workers=6, per_item=3, seed=14, rounding=False)
    est = WorkerBiasNoise()
    model = est._make_model()
    ex = est._executor(df, None, {}, model)
    params = model.default_params(ex.ctx)
    piece = Piece(table=as_table(df), dropped={})
    gold = np.full(30, -1, np.int64)
    st = T.vote(piece, np.ones(6), None, None, model.posterior_width(piece.table.n_labels))
    assert st.post.shape == (30, 1) and (st.stats == -1).all()
    items = {n: params[n] for n in model.item_params}
    state = T.e_step(model, piece, gold, model.prepare(ex.ctx, params), items, True)
    assert state.post.shape == (30, 1) and set(state.cache) == {"mean", "var"}
    assert T.vote(piece, np.ones(6), None).post.shape == (30, piece.table.n_labels)


@settings(max_examples=25, deadline=None)
@given(rows_strategy, st.randoms(use_true_random=False), st.floats(-5, 5), st.floats(0.5, 3))
def test_properties(rows, rnd, shift, factor):
    """Row order and relabelling change nothing; shifting every answer shifts the estimates;
    scaling them scales estimates and standard errors (the priors follow the data's units)."""
    df = pd.DataFrame(rows, columns=["item", "worker", "label"]).astype({"label": float})
    perm = list(range(len(df)))
    rnd.shuffle(perm)
    for cls in ESTIMATORS:
        kw = {"tol": 0, "max_iter": 30} if cls is WorkerBiasNoise else {}
        a = fit(cls(**kw), df)
        b = fit(cls(**kw), df.iloc[perm])
        assert np.allclose(b.labels_.loc[a.labels_.index], a.labels_, atol=1e-7)
        ren = df.assign(item=df["item"].map(lambda i: f"x{7 - i}"), worker=df["worker"].map(lambda w: -w))
        c = fit(cls(**kw), ren)
        assert np.allclose(c.labels_.loc[[f"x{7 - i}" for i in a.labels_.index]].to_numpy(), a.labels_, atol=1e-7)
        d = fit(cls(**kw), df.assign(label=df["label"] * factor + shift))
        assert np.allclose(d.labels_.to_numpy(), a.labels_.to_numpy() * factor + shift, atol=1e-6)
        assert np.allclose(d.stderr_.to_numpy(), a.stderr_.to_numpy() * factor, atol=1e-6)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_non_numeric_labels_refused(cls):
    df = pd.DataFrame({"item": [1, 1], "worker": [1, 2], "label": ["low", "high"]})
    with pytest.raises(LevelError, match="numeric"):
        cls().fit(df)
    with pytest.raises(LevelError):
        cls().fit(df.assign(label=[True, False]))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_bad_gold(cls):
    with pytest.raises(GoldError, match="not in the data"):
        cls().fit(SMALL, gold={"zzz": 1.0})
    with pytest.raises(GoldError, match="numbers"):
        cls().fit(SMALL, gold={"a": "high"})
    with pytest.raises(GoldError, match="finite"):
        cls().fit(SMALL, gold={"a": float("inf")})


def test_bad_parameters():
    for kw in ({"bias_scale": 0}, {"noise_scale": -1}, {"noise_strength": "a"}, {"max_iter": -1}):
        with pytest.raises(ParameterError):
            WorkerBiasNoise(**kw).fit(SMALL)
    with pytest.raises(ParameterError):
        MeanRating(parallel="yes").fit(SMALL)


def test_public_names():
    assert crowdagg.MeanRating is MeanRating and crowdagg.WorkerBiasNoise is WorkerBiasNoise
    assert crowdagg.MedianRating is MedianRating


# --------------------------------------------------------------------------- Dask
@pytest.mark.slow  # a 2-worker LocalCluster: 10-40 s on the shared machine (run with --runslow)
def test_distributed_equals_local():
    """All three estimators on a DaskAnnotationTable (3 pieces, gold): the local fit to 1e-9."""
    pytest.importorskip("distributed", reason="dask.distributed is not installed")
    import dask.dataframe as dd

    from crowdagg.distributed import DaskAnnotationTable
    from crowdagg.testing import _dask_client

    _dask_client()
    df, _, _ = biased_crowd(n_items=90, n_workers=12, per_item=4, seed=8)
    gold = {"i3": 40.0, "i50": 77.5}
    dt = DaskAnnotationTable.from_dask_dataframe(dd.from_pandas(df, npartitions=2), npartitions=3)
    for cls in ESTIMATORS:
        _check_distributed(cls, dt, df, gold)


@pytest.mark.slow
def test_distributed_continuous_ratings():
    """WorkerBiasNoise on a DaskAnnotationTable whose every answer is its own rating value (one
    posterior column per piece): the local fit to 1e-9."""
    pytest.importorskip("distributed", reason="dask.distributed is not installed")
    import dask.dataframe as dd

    from crowdagg.distributed import DaskAnnotationTable
    from crowdagg.testing import _dask_client

    _dask_client()
    df, _, _ = biased_crowd(n_items=600, n_workers=30, per_item=4, seed=15, rounding=False)
    assert df["label"].nunique() == len(df)
    dt = DaskAnnotationTable.from_dask_dataframe(dd.from_pandas(df, npartitions=2), npartitions=3)
    _check_distributed(WorkerBiasNoise, dt, df, None)
    _check_distributed(WorkerBiasNoise, dt, df, {"i3": 40.0})


def _check_distributed(cls, dt, df, gold):
    dist = fit(cls(), dt, gold=gold)
    local = fit(cls(), df, gold=gold)
    r = dist.result_.compute()
    idx = r.labels.index
    assert np.allclose(r.labels.to_numpy(), local.labels_.loc[idx].to_numpy(), rtol=0, atol=1e-9)
    assert np.allclose(r.stderr.to_numpy(), local.stderr_.loc[idx].to_numpy(), rtol=0, atol=1e-9)
    assert set(idx) == set(local.labels_.index)
    if cls is WorkerBiasNoise:
        assert np.allclose(dist.bias_.loc[local.bias_.index], local.bias_, atol=1e-9)
        assert np.allclose(dist.noise_.loc[local.noise_.index], local.noise_, atol=1e-9)


# --------------------------------------------------------------------------- shared data
SNOW = ["anger", "disgust", "fear", "joy", "sadness", "surprise", "valence", "wordsim"]


def snow_scores(datasets_dir):
    from crowdagg.datasets import load_dataset

    out = {}
    for name in SNOW:
        folder = datasets_dir / f"snow2008_{name}"
        if not folder.is_dir():
            continue
        ds = load_dataset(folder)
        g = ds.gold.astype(float)
        row = {}
        for cls in ESTIMATORS:
            est = fit(cls(), ds.annotations).labels_.loc[g.index]
            row[cls.__name__] = (float(np.corrcoef(est, g)[0, 1]), float(np.sqrt(np.mean((est - g) ** 2))))
        out[name] = row
    return out


def test_snow2008_ratings(datasets_dir):
    """Figures in docs/ratings.md; every estimate correlates with the expert ratings."""
    scores = snow_scores(datasets_dir)
    if not scores:
        pytest.skip("no snow2008 sets")
    for name, row in scores.items():
        for method, (r, _) in row.items():
            assert r > 0.4, (name, method, r)
    mean_r = np.mean([row["MeanRating"][0] for row in scores.values()])
    bn_r = np.mean([row["WorkerBiasNoise"][0] for row in scores.values()])
    assert bn_r > mean_r - 0.05, (bn_r, mean_r)


@pytest.mark.parametrize("results", [True, False])
def test_save_load_round_trip(tmp_path, results):
    """The persist protocol (crowdagg.persist): a loaded model predicts what the original does."""
    if not hasattr(WorkerBiasNoise, "save"):
        pytest.skip("this crowdagg has no save/load")
    df, _, _ = biased_crowd(n_items=50, n_workers=8, per_item=3, seed=11)
    for cls in ESTIMATORS:
        e = cls().fit(df)
        path = tmp_path / f"{cls.__name__}.zip"
        e.save(path, results=results)
        loaded = crowdagg.load(path)
        assert np.array_equal(loaded.predict(df.iloc[:40]).to_numpy(), e.predict(df.iloc[:40]).to_numpy())
        if results:
            assert loaded.labels_.equals(e.labels_) and loaded.stderr_.equals(e.stderr_)
