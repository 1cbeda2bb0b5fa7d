"""M-MSR (Ma & Olshevsky 2020): kernels vs the pure-Python reference, hand cases,
properties, the estimator contract, Dask, crowd-kit."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import CROWDKIT_REASON, NOJIT, annotation_tables, contract_checks, crowdkit_available
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from naive_kos_mmsr import _trim, mmsr_solve, pair_stats

import crowdagg
from crowdagg.datasets import make_crowd
from crowdagg.errors import ParameterError, TooLargeError
from crowdagg.kernels.mmsr import _reduced_mean, pair_stats_parallel, pair_stats_slice
from crowdagg.methods.mmsr import solve_mmsr
from crowdagg.table import as_table

HSET = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _crowd(seed: int, n_labels: int = 3, n_items: int = 80, n_workers: int = 12) -> pd.DataFrame:
    return make_crowd(n_items=n_items, n_workers=n_workers, n_labels=n_labels, per_item=4,
                      random_state=seed).annotations


def _rows(t):
    return list(zip(t.item_codes.tolist(), t.worker_codes.tolist(), t.label_codes.tolist()))


@HSET
@given(st.integers(0, 10_000), st.integers(2, 4))
def test_pair_stats_match_reference(seed, k):
    t = as_table(_crowd(seed % 100, n_labels=k, n_items=30, n_workers=7))
    agree, common = np.zeros((t.n_workers,) * 2), np.zeros((t.n_workers,) * 2)
    pair_stats_slice(t.item_ptr, t.worker_codes, t.label_codes, 0, t.n_items, agree, common)
    ra, rc = pair_stats(_rows(t), t.n_workers)
    np.testing.assert_array_equal(agree, ra)
    np.testing.assert_array_equal(common, rc)
    bounds = np.array([0, t.n_items // 3, t.n_items], dtype=np.int64)
    ab, cb = np.zeros((2, t.n_workers, t.n_workers)), np.zeros((2, t.n_workers, t.n_workers))
    pair_stats_parallel(t.item_ptr, t.worker_codes, t.label_codes, bounds, ab, cb)
    np.testing.assert_array_equal(ab.sum(0), ra)
    np.testing.assert_array_equal(cb.sum(0), rc)


@HSET
@given(st.lists(st.floats(-5, 5), min_size=0, max_size=12), st.integers(0, 4), st.floats(-5, 5))
def test_reduction_matches_reference(values, f, own):
    got = _reduced_mean(np.array(values + [0.0]), len(values), f, own, 4.0)
    ys = _trim(values, f, own)
    if not ys:
        assert np.isnan(got)
    elif len(ys) == 1 and ys[0] == 0:
        assert got == 0.5
    else:
        assert got == pytest.approx(sum(ys) / len(ys), abs=1e-12)


def test_reduction_hand_case():
    # own 0: one value below (fewer than F=2: dropped), three above (the 2 largest dropped)
    assert _reduced_mean(np.array([-1.0, 1.0, 2.0, 3.0]), 4, 2, 0.0, 4.0) == 1.0
    # F = 0 keeps everything
    assert _reduced_mean(np.array([-1.0, 1.0, 2.0, 3.0]), 4, 0, 0.0, 4.0) == 1.25


@HSET
@given(st.integers(0, 10_000), st.integers(2, 4), st.integers(1, 30))
def test_iterations_match_reference(seed, k, n_iter):
    t = as_table(_crowd(seed % 100, n_labels=k, n_items=40, n_workers=8))
    agree, common = pair_stats(_rows(t), t.n_workers)
    u0 = np.random.default_rng(seed).random(t.n_workers)
    n_tasks = int(np.count_nonzero(t.item_counts()))
    got = solve_mmsr(agree, common, k, n_tasks, u0, n_iter, 1e-10)
    u, v, it = mmsr_solve(agree, common, k, n_tasks, u0, n_iter, 1e-10)
    assert got["n_iter"] == it
    np.testing.assert_allclose(got["u"], u, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got["v"], v, rtol=1e-9, atol=1e-12)
    s = got["s"]
    assert np.all((s >= -1 / (k - 1) + 1 / np.sqrt(n_tasks) - 1e-12) & (s <= 1 - 1 / np.sqrt(n_tasks) + 1e-12))


def test_hand_case_agreement_to_skills():
    """Two perfectly agreeing workers and one at chance level (K=2): C = [[., 1, 0], [1, ., 0],
    [0, 0, .]]; the reliable pair gets the top skill, the third about 1/2."""
    items = list(range(100))
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 100)
    noise = rng.integers(0, 2, 100)
    df = pd.DataFrame({"item": items * 3, "worker": ["a"] * 100 + ["b"] * 100 + ["c"] * 100,
                       "label": np.concatenate([truth, truth, noise])})
    m = crowdagg.MMSR().fit(df)
    sk = m.skills_
    assert sk["a"] == pytest.approx(1 - 0.5 / np.sqrt(100)) and sk["b"] == pytest.approx(sk["a"])
    assert abs(sk["c"] - 0.5) < 0.1
    assert (m.labels_.to_numpy() == truth).all()


def test_adversary_gets_negative_weight():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 2, 300)
    good = [np.where(rng.random(300) < 0.85, truth, 1 - truth) for _ in range(4)]
    bad = 1 - truth  # always wrong
    df = pd.DataFrame({"item": np.tile(np.arange(300), 5), "worker": np.repeat(list("abcde"), 300),
                       "label": np.concatenate(good + [bad])})
    m = crowdagg.MMSR().fit(df)
    assert m.weights_["e"] < 0 < m.weights_[["a", "b", "c", "d"]].min()
    assert (m.labels_.to_numpy() == truth).mean() > 0.95


def test_probas_are_softmax_of_weights():
    df = _crowd(3)
    m = crowdagg.MMSR().fit(df)
    t = m.table_
    score = np.zeros((t.n_items, t.n_labels))
    np.add.at(score, (t.item_codes, t.label_codes), m.weights_.to_numpy()[t.worker_codes])
    p = np.exp(score - score.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(m.probas_.to_numpy(), p, atol=1e-12)


def test_isolated_worker_gets_mean_skill():
    df = pd.concat([_crowd(4), pd.DataFrame({"item": ["lonely"], "worker": ["solo"], "label": [0]})],
                   ignore_index=True)
    m = crowdagg.MMSR().fit(df)
    s = (m.skills_ * m.table_.n_labels - 1) / (m.table_.n_labels - 1)
    assert s["solo"] == pytest.approx(s.drop("solo").mean())
    assert m.labels_["lonely"] == 0


def test_single_label_and_recovery():
    df = pd.DataFrame({"item": [1, 1, 2], "worker": ["u", "v", "u"], "label": ["a", "a", "a"]})
    m = crowdagg.MMSR().fit(df)
    assert m.labels_.tolist() == ["a", "a"] and (m.skills_ == 1).all()
    c = make_crowd(n_items=400, n_workers=20, n_labels=3, per_item=5, random_state=0)
    m = crowdagg.MMSR().fit(c.annotations)
    mv = crowdagg.MajorityVote().fit(c.annotations)
    assert (m.labels_ == c.truth).mean() >= (mv.labels_ == c.truth).mean() - 0.02


@pytest.mark.parametrize("bad", [{"max_iter": -1}, {"tol": -1.0}, {"random_state": -3}, {"parallel": 2}])
def test_bad_parameters(bad):
    with pytest.raises(ParameterError):
        crowdagg.MMSR(**bad).fit(_crowd(0))


def test_memory_refused_up_front():
    from crowdagg import memory

    df = _crowd(0)
    old = memory.limit()
    try:
        memory.set_limit(1000)
        with pytest.raises(TooLargeError, match="worker"):
            crowdagg.MMSR().fit(df)
    finally:
        memory.set_limit(old)


def test_gold_fixes_gold_items_only():
    df = _crowd(5)
    item = df["item"].iloc[0]
    a = crowdagg.MMSR().fit(df)
    other = [x for x in a.table_.labels if x != a.labels_.loc[item]][0]
    b = crowdagg.MMSR().fit(df, gold={item: other})
    assert b.labels_.loc[item] == other
    pd.testing.assert_series_equal(a.skills_, b.skills_)


@HSET
@given(st.integers(0, 10_000))
def test_properties_row_order_and_label_permutation(seed):
    df = _crowd(seed % 50, n_items=50, n_workers=8)
    a = crowdagg.MMSR().fit(df)
    rng = np.random.default_rng(seed)
    perm = {k: (k + 1) % 3 for k in range(3)}
    b_df = df.iloc[rng.permutation(len(df))].reset_index(drop=True).assign(label=lambda d: d["label"].map(perm))
    b = crowdagg.MMSR().fit(b_df)
    np.testing.assert_allclose(a.skills_.to_numpy(), b.skills_.loc[a.skills_.index].to_numpy(), atol=1e-9)
    pb = b.probas_.loc[a.probas_.index, [perm[k] for k in a.probas_.columns]]
    np.testing.assert_allclose(a.probas_.to_numpy(), pb.to_numpy(), atol=1e-9)


@pytest.mark.parametrize("check", contract_checks())
def test_contract(check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for df in crowdagg.testing._crowds():
            check(crowdagg.MMSR(), df)


@pytest.mark.skipif(not crowdkit_available(), reason=CROWDKIT_REASON)
def test_matches_crowdkit_on_dense_crowd():
    ck = pytest.importorskip("crowdkit.aggregation", reason=CROWDKIT_REASON)

    c = make_crowd(n_items=150, n_workers=8, n_labels=3, per_item=8, random_state=2)
    ours = crowdagg.MMSR().fit(c.annotations).labels_
    theirs = ck.MMSR().fit_predict(c.annotations.rename(columns={"item": "task"}))
    assert (ours.loc[theirs.index] == theirs).mean() >= 0.97


def test_partial_fit_refused():
    from crowdagg.errors import InputError

    with pytest.raises(InputError, match="no incremental form"):
        crowdagg.MMSR().partial_fit(_crowd(0))


# --- degenerate inputs: |C| without a finite rank-one fit -------------------------------------------------

#: w1 agrees with w2 and w3 on 2 of 3 items (C = 1/2), w2 and w3 with each other on 1 of 3 (C = 0, chance
#: level for K = 3): u_w1 v_w2 = 1/2 but u_w2 v_w3 = 0, so the plain iterations drive u_w1 -> inf and
#: u_w2, u_w3 -> 0 and overflowed (NumericalError "this is a bug in crowdagg")
_NO_RANK_ONE = pd.DataFrame({"item": list("aaabbbccc"), "worker": ["w1", "w2", "w3"] * 3,
                             "label": list("xxzyyyxyx")})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_rank_one_fit_gives_finite_clipped_skills(seed):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow / divide-by-zero warnings either
        m = crowdagg.MMSR(random_state=seed).fit(_NO_RANK_ONE)
    assert m.converged_ and m.n_iter_ < 100
    n, k = 3, 3
    s = (m.skills_ * k - 1) / (k - 1)
    # w1 at the top of the clip range, w2 and w3 (-> 0) at its bottom
    assert s["w1"] == pytest.approx(1 - 1 / np.sqrt(n))
    assert s["w2"] == pytest.approx(-1 / (k - 1) + 1 / np.sqrt(n)) and s["w3"] == pytest.approx(s["w2"])
    assert m.labels_.to_dict() == {"a": "x", "b": "y", "c": "x"}
    assert np.isfinite(m.probas_.to_numpy()).all()


def test_no_rank_one_fit_with_unused_label_via_aggregate():
    df = _NO_RANK_ONE.assign(label=_NO_RANK_ONE["label"].replace("y", "x"))  # "y" declared, unused
    for d in (_NO_RANK_ONE, df):
        m = crowdagg.aggregate(as_table(d, labels=["x", "y", "z"]), method="mmsr")
        assert np.isfinite(m.weights_.to_numpy()).all() and np.isfinite(m.probas_.to_numpy()).all()
        assert list(m.labels_.index) == ["a", "b", "c"]


def test_drifting_scale_stays_finite():
    """A case where u -> 0 and v -> inf together (u v^T bounded): overflowed to inf / NaN weights."""
    rows = [(0, 0, 0), (0, 2, 1), (0, 3, 0), (1, 0, 0), (1, 1, 1), (1, 2, 0), (2, 0, 1), (2, 1, 0), (2, 2, 0),
            (4, 0, 0), (4, 1, 0)]
    df = pd.DataFrame(rows, columns=["item", "worker", "label"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = crowdagg.MMSR(random_state=0).fit(as_table(df, labels=[0, 1, 2]))
    assert np.isfinite(m.weights_.to_numpy()).all() and np.isfinite(m.probas_.to_numpy()).all()


def test_all_pairs_at_chance_give_zero_skill():
    """Every pair agrees on exactly half of its items (K = 2): all C_ij = 0, so v = 0 and u kept its
    random start; the skills were that random start.  Now |s| = 0: weight 0, uniform posteriors."""
    df = pd.DataFrame({"item": list(range(4)) * 3, "worker": ["a"] * 4 + ["b"] * 4 + ["c"] * 4,
                       "label": [0, 0, 1, 1] + [0, 1, 0, 1] + [0, 1, 1, 0]})
    for seed in (0, 1):
        m = crowdagg.MMSR(random_state=seed).fit(df)
        np.testing.assert_allclose(m.skills_.to_numpy(), 0.5)
        np.testing.assert_allclose(m.weights_.to_numpy(), 0.0, atol=1e-12)
        np.testing.assert_allclose(m.probas_.to_numpy(), 0.5)


@st.composite
def _pair_matrices(draw):
    """Random symmetric worker-pair statistics (2-5 workers, counts up to 4, agreements <= counts)."""
    n = draw(st.integers(2, 5))
    common = np.zeros((n, n))
    agree = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            c = draw(st.integers(0, 4))
            a = draw(st.integers(0, c))
            common[i, j] = common[j, i] = c
            agree[i, j] = agree[j, i] = a
    return agree, common, draw(st.integers(2, 5)), draw(st.integers(0, 1000))


@settings(max_examples=15 if NOJIT else 200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_pair_matrices(), st.integers(1, 60))
def test_degenerate_iterations_match_reference_and_stay_bounded(stats, n_iter):
    agree, common, k, seed = stats
    u0 = np.random.default_rng(seed).random(agree.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = solve_mmsr(agree, common, k, 4, u0, n_iter, 0.0)  # tol 0: exactly n_iter iterations
    u, v, it = mmsr_solve(agree, common, k, 4, u0, n_iter, 0.0)
    assert got["n_iter"] == it == n_iter
    np.testing.assert_allclose(got["u"], u, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(got["v"], v, rtol=1e-7, atol=1e-12)
    assert np.isfinite(got["weights"]).all() and np.isfinite(got["s"]).all()


@settings(max_examples=20 if NOJIT else 400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(annotation_tables(max_items=8, max_workers=4, max_labels=5, min_labels=2), st.integers(0, 5))
def test_small_tables_never_reach_the_bug_path(case, seed):
    """Fuzz: small tables (2-5 labels, some possibly unused, 1-4 workers) fit with finite output
    and no numpy warning."""
    t, _ = case
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = crowdagg.MMSR(random_state=seed).fit(t)
    assert np.isfinite(m.probas_.to_numpy()).all()
    assert np.isfinite(m.weights_.to_numpy()).all() and np.isfinite(m.skills_.to_numpy()).all()
    assert len(m.labels_) == t.n_items
