"""Wawa and ZeroBasedSkill: kernels vs the NumPy reference, crowd-kit, properties."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import CROWDKIT_REASON, crowdkit_available
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from naive_em import zbs
from test_dawid_skene import DEGENERATE, _arrays, _gold_series, tables

import crowdagg
from crowdagg.em import EMContext, run_em
from crowdagg.errors import InputError
from crowdagg.kernels.em import wv_estep_slice
from crowdagg.methods.wawa import WeightedVoteModel
from crowdagg.table import AnnotationTable

NOJIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"
HSET = settings(max_examples=15 if NOJIT else 40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@HSET
@given(tables(), st.integers(0, 4), st.booleans(), st.booleans())
def test_wawa_matches_reference(tg, n_iter, use_gold, parallel):
    t, gold = tg
    if not use_gold:
        gold = np.full(t.n_items, -1)
    m = crowdagg.Wawa(max_iter=n_iter, parallel=parallel).fit(t, gold=_gold_series(t, gold))
    post, skills = zbs(*_arrays(t), t.n_items, t.n_workers, t.n_labels, gold, n_iter, 1.0, steps=0)
    np.testing.assert_allclose(m.probas_.to_numpy(), post, atol=1e-12)
    np.testing.assert_allclose(m.skills_.to_numpy(), skills, atol=1e-12)


@HSET
@given(tables(), st.integers(0, 45), st.booleans())
def test_zero_based_skill_matches_reference(tg, n_iter, parallel):
    t, gold = tg
    m = crowdagg.ZeroBasedSkill(max_iter=n_iter, parallel=parallel).fit(t, gold=_gold_series(t, gold))
    post, skills = zbs(*_arrays(t), t.n_items, t.n_workers, t.n_labels, gold, n_iter,
                       min(1.0 / t.n_labels + 1e-5, 1.0), steps=20, factor=0.5)  # skills stay in [0, 1]
    np.testing.assert_allclose(m.probas_.to_numpy(), post, atol=1e-12)
    np.testing.assert_allclose(m.skills_.to_numpy(), skills, atol=1e-12)


def test_parallel_chunks_equal_serial():
    c = crowdagg.datasets.make_crowd(300, 30, 4, random_state=0)
    t = AnnotationTable.from_pandas(c.annotations)
    gold = np.full(t.n_items, -1)
    gold[::5] = 2
    serial = run_em(WeightedVoteModel(), EMContext(t, gold, parallel=False), init="uniform", max_iter=4, tol=0)
    ctx = EMContext(t, gold, parallel=True)
    ctx._bounds = np.array([0, 7, 120, 121, t.n_items], dtype=np.int64)
    par = run_em(WeightedVoteModel(), ctx, init="uniform", max_iter=4, tol=0)
    np.testing.assert_allclose(par.posteriors, serial.posteriors, atol=1e-12)
    np.testing.assert_allclose(par.params["skills"], serial.params["skills"], atol=1e-12)


def test_hand_computed_wawa():
    # item 1: a, a, b -> MV a ; item 2: b, b, a -> MV b ; item 3: u says a, v says b -> tie -> a
    df = pd.DataFrame({"item": [1, 1, 1, 2, 2, 2, 3, 3], "worker": list("uvwuvwuv"),
                       "label": list("aab" "bba" "ab")})
    m = crowdagg.Wawa().fit(df)
    # agreement with MV: u: a,b,a vs a,b,a -> 1 ; v: a,b,b vs a,b,a -> 2/3 ; w: b,a vs a,b -> 0
    np.testing.assert_allclose(m.skills_[["u", "v", "w"]].to_numpy(), [1.0, 2 / 3, 0.0])
    np.testing.assert_allclose(m.probas_.loc[3].to_numpy(), [1 / (1 + 2 / 3), (2 / 3) / (1 + 2 / 3)])
    assert m.labels_.tolist() == ["a", "b", "a"]
    # init="mv" with max_iter=0 is the same classic Wawa
    m0 = crowdagg.Wawa(init="mv", max_iter=0).fit(df)
    pd.testing.assert_frame_equal(m0.probas_, m.probas_)


@pytest.mark.skipif(not crowdkit_available(), reason=CROWDKIT_REASON)
@pytest.mark.parametrize("name", ["Wawa", "ZeroBasedSkill"])
def test_matches_crowdkit(name):
    ck = pytest.importorskip("crowdkit.aggregation", reason=CROWDKIT_REASON)

    c = crowdagg.datasets.make_crowd(400, 25, 2, per_item=5, random_state=1)
    df = c.annotations
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = getattr(ck, name)().fit(df.rename(columns={"item": "task"}))
        ref_labels = ref.predict(df.rename(columns={"item": "task"}))
    ours = getattr(crowdagg, name)().fit(df)
    skills = ref.skills_.reindex(ours.skills_.index)
    np.testing.assert_allclose(ours.skills_.to_numpy(), skills.to_numpy(), atol=1e-10)
    assert (ours.labels_ == ref_labels.reindex(ours.labels_.index)).all()


@pytest.mark.parametrize("cls", [crowdagg.Wawa, crowdagg.ZeroBasedSkill])
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
def test_properties(cls, seed):
    # two labels and three answers per item: no ties in the first vote
    c = crowdagg.datasets.make_crowd(60, 8, 2, per_item=3, random_state=seed)
    df = c.annotations
    rng = np.random.default_rng(seed)
    df2 = df.iloc[rng.permutation(len(df))].assign(item="x" + df["item"], worker="z" + df["worker"])
    a = cls(max_iter=4).fit(df)
    b = cls(max_iter=4).fit(df2)
    np.testing.assert_allclose(b.probas_.loc["x" + a.probas_.index].to_numpy(), a.probas_.to_numpy())
    np.testing.assert_allclose(b.skills_.loc["z" + a.skills_.index].to_numpy(), a.skills_.to_numpy())
    flipped = cls(max_iter=4).fit(df.assign(label=1 - df["label"]))
    np.testing.assert_allclose(flipped.probas_.to_numpy()[:, ::-1], a.probas_.to_numpy())
    np.testing.assert_allclose(flipped.skills_.to_numpy(), a.skills_.to_numpy())


@pytest.mark.parametrize("cls", [crowdagg.Wawa, crowdagg.ZeroBasedSkill])
@pytest.mark.parametrize("name", list(DEGENERATE))
def test_degenerate_tables_finite(cls, name):
    m = cls(max_iter=5).fit(DEGENERATE[name])
    assert np.all(np.isfinite(m.probas_.to_numpy())) and np.allclose(m.probas_.sum(axis=1), 1)
    assert np.all(np.isfinite(m.skills_)) and m.labels_.notna().all()


def test_tol_stops_on_skill_change_and_warm_start():
    df = crowdagg.datasets.make_crowd(500, 20, 3, random_state=2).annotations
    m = crowdagg.ZeroBasedSkill(max_iter=200, tol=1e-9).fit(df)
    assert m.converged_ and m.n_iter_ < 200
    w = crowdagg.ZeroBasedSkill(max_iter=200, tol=1e-9).fit(df, init_params=m)
    assert w.n_iter_ < m.n_iter_
    pd.testing.assert_series_equal(w.labels_, m.labels_)


def test_bad_arguments():
    df = DEGENERATE["one worker"]
    for kw in ({"lr_init": 0.0}, {"lr_steps_to_reduce": 0}, {"eps": -1.0}, {"init": "x"}):
        with pytest.raises(InputError):
            crowdagg.ZeroBasedSkill(**kw).fit(df)
    with pytest.raises(InputError):
        crowdagg.Wawa(max_iter=-1).fit(df)


def test_ties_follow_label_order_not_row_order():
    """The one rule where crowdagg's Wawa and crowd-kit's differ: a tie in the plain vote
    (which the skills are measured against) goes to the first label of the table's label
    order (sorted by default, ``labels=`` to choose), never to whichever label comes first
    in the file (crowd-kit 1.4.2's MajorityVote: first appearance)."""
    # item 3 ties a/b; worker w agrees with b on item 3 only
    df = pd.DataFrame({"item": [1, 1, 2, 2, 3, 3, 4, 4, 4], "worker": list("uvuvuwuvw"),
                       "label": list("aaaa" "ab" "bbb")})
    sorted_ = crowdagg.Wawa().fit(df)
    for order in (np.arange(len(df)), np.arange(len(df))[::-1]):
        again = crowdagg.Wawa().fit(df.iloc[order])
        pd.testing.assert_series_equal(again.skills_.loc[sorted_.skills_.index], sorted_.skills_)
    # u: a a a b vs MV a a a(tie -> a) b -> 1; w: b b vs a b -> 1/2
    np.testing.assert_allclose(sorted_.skills_[["u", "v", "w"]].to_numpy(), [1.0, 1.0, 0.5])
    b_first = crowdagg.Wawa().fit(df, labels=["b", "a"])
    np.testing.assert_allclose(b_first.skills_[["u", "v", "w"]].to_numpy(), [0.75, 1.0, 1.0])
    assert b_first.labels_.loc[3] == "b" and sorted_.labels_.loc[3] == "a"


@pytest.mark.slow
@pytest.mark.skipif(not crowdkit_available(), reason=CROWDKIT_REASON)
@pytest.mark.parametrize("name", ["mace_temporal", "zheng_s5_adultcontent", "mace_rte"])
def test_crowdkit_wawa_is_ours_with_first_appearance_ties(datasets_dir, name):
    """On the shared sets where the two differ (crowd-kit 0.9459 / 0.7658 / 0.9187 vs ours
    0.9437 / 0.7628 / 0.9213), ordering the labels by first appearance makes every item's
    label and every skill equal: the difference is the tie rule alone."""
    ck = pytest.importorskip("crowdkit.aggregation", reason=CROWDKIT_REASON)
    from crowdagg.datasets import load_dataset

    folder = datasets_dir / name
    if not (folder / "answers.csv").is_file():
        pytest.skip(f"{folder} is absent")
    df = load_dataset(folder, as_frame=True, duplicates="first", check_gold=False).annotations
    data = df[["task", "worker", "label"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = ck.Wawa().fit(data)
        ref_labels = ref.predict(data)
    ours = crowdagg.Wawa().fit(df, labels=list(pd.unique(df["label"])))
    assert (ours.labels_ == ref_labels.reindex(ours.labels_.index)).all()
    np.testing.assert_allclose(ours.skills_.to_numpy(), ref.skills_.reindex(ours.skills_.index).to_numpy(),
                               atol=1e-12)
    default = crowdagg.Wawa().fit(df)
    assert (default.labels_ != ours.labels_).any()


class _GenericVoteModel(WeightedVoteModel):
    """The generic weighted-vote kernel at any class count (no fixed-width rows)."""

    def prepare(self, ctx, params):
        return super().prepare(ctx, params)[0], None


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("parallel", [False, True])
def test_fixed_width_path_is_the_generic_kernel_bit_for_bit(k, parallel):
    """2-4 classes run :func:`~crowdagg.kernels.em.wv_estep_fixed_slice`: the same
    posteriors, skills and scores as the generic kernel, exactly (ties, gold, chunks)."""
    c = crowdagg.datasets.make_crowd(400, 25, k, random_state=k)
    t = AnnotationTable.from_pandas(c.annotations)
    gold = np.full(t.n_items, -1)
    gold[::7] = 1
    out = []
    for cls in (WeightedVoteModel, _GenericVoteModel):
        ctx = EMContext(t, gold, parallel=parallel)
        if parallel:
            ctx._bounds = np.array([0, 9, 200, 201, t.n_items], dtype=np.int64)
        model = cls(init_skill=1.0 / k, lr_steps_to_reduce=3, lr_reduce_factor=0.5)
        out.append(run_em(model, ctx, init="uniform", max_iter=6, tol=0))
    np.testing.assert_array_equal(out[0].posteriors, out[1].posteriors)
    np.testing.assert_array_equal(out[0].params["skills"], out[1].params["skills"])
    np.testing.assert_array_equal(out[0].loglik, out[1].loglik)


def test_many_workers_take_the_generic_kernel(monkeypatch):
    """Past the statistics-buffer cap the W x K^2 rows of the fixed-width kernel give way
    to the generic kernel (W counts): same fit, and the memory estimate follows."""
    import crowdagg.methods.wawa as wawa

    c = crowdagg.datasets.make_crowd(300, 30, 3, random_state=5)
    t = AnnotationTable.from_pandas(c.annotations)
    ref = crowdagg.ZeroBasedSkill(max_iter=5).fit(t)
    big = WeightedVoteModel().memory_terms(t.n_items, t.n_workers, 3)
    monkeypatch.setattr(wawa, "MAX_STAT_BUFFER_BYTES", 8 * t.n_workers * 9 - 1)
    calls = []
    monkeypatch.setattr(wawa, "wv_estep_slice", lambda *a: calls.append(1) or wv_estep_slice(*a))
    got = crowdagg.ZeroBasedSkill(max_iter=5).fit(t)
    assert calls
    assert len(WeightedVoteModel().memory_terms(t.n_items, t.n_workers, 3)) == len(big) - 1
    pd.testing.assert_frame_equal(got.probas_, ref.probas_)
    pd.testing.assert_series_equal(got.skills_, ref.skills_)
