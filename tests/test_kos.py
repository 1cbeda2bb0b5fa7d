"""KOS (Karger, Oh & Shah 2011): kernels vs the per-edge reference, hand cases, properties,
the estimator contract, Dask, crowd-kit on the shared binary datasets."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import CROWDKIT_REASON, contract_checks, crowdkit_available
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from naive_kos_mmsr import kos as naive_kos

import crowdagg
from crowdagg.datasets import make_crowd
from crowdagg.em import item_uniforms
from crowdagg.errors import InputError, ParameterError
from crowdagg.methods.kos import _WORKER_SALT
from crowdagg.testing import _crowds

HSET = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _binary(seed: int, n_items: int = 60, n_workers: int = 10) -> pd.DataFrame:
    return make_crowd(n_items=n_items, n_workers=n_workers, n_labels=2, per_item=4, random_state=seed).annotations


def _naive_scores(est: crowdagg.KOS, n_iter: int) -> np.ndarray:
    t = est.table_
    if est.init == "ones":
        iu = wu = None
    else:
        seed = int(est.params_["seed"][0])
        iu, wu = item_uniforms(t.items, seed), item_uniforms(t.workers, seed ^ _WORKER_SALT)
    edges = [(int(i), int(w), 1 - 2 * int(k)) for i, w, k in zip(t.item_codes, t.worker_codes, t.label_codes)]
    x = naive_kos(edges, n_iter, iu, wu)
    return np.array([x.get(i, 0.0) for i in range(t.n_items)])


@HSET
@given(st.integers(0, 10_000), st.integers(0, 8), st.sampled_from(["random", "ones"]), st.booleans())
def test_matches_per_edge_reference(seed, n_iter, init, parallel):
    df = _binary(seed, n_items=40, n_workers=8)
    est = crowdagg.KOS(max_iter=n_iter, init=init, parallel=parallel, random_state=seed).fit(df)
    x = _naive_scores(est, n_iter)
    want = np.where(x > 0, 0, 1)
    got = est.table_.labels.get_indexer(est.labels_)
    # the reference is not rescaled: compare the decisions where the score is not ~0
    clear = np.abs(x) > 1e-9 * max(np.abs(x).max(), 1e-300)
    assert np.array_equal(got[clear], want[clear])


def test_rescaled_state_reproduces_the_scores():
    """``T = sum_e A_e (a y0 + P_j - A_e Q_i)`` of the fitted state is proportional to the
    reference's unscaled item scores."""
    df = _binary(3)
    est = crowdagg.KOS(max_iter=6, init="ones").fit(df)
    x = _naive_scores(est, 6)
    t = est.table_
    p, q, a = est.params_["P"], est.params_["Q"], est.params_["a"][0]
    s = 1.0 - 2.0 * t.label_codes
    y = a + p[t.worker_codes] - s * q[t.item_codes]
    ours = np.bincount(t.item_codes, weights=s * y, minlength=t.n_items)
    ratio = x / ours
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-9)
    assert ratio[0] > 0


def test_hand_case_first_round_is_leave_one_out_vote():
    # one item answered by 3 workers (2 say "a"), each worker also on one more item
    df = pd.DataFrame({"item": [1, 1, 1, 2, 3, 4], "worker": ["u", "v", "w", "u", "v", "w"],
                       "label": ["a", "a", "b", "a", "a", "b"]})
    est = crowdagg.KOS(max_iter=0, init="ones").fit(df)
    # x_i = sum_j A_ij * 1: item 1 -> 1 + 1 - 1 = 1 > 0: "a"; items 2-4 follow their one answer
    assert est.labels_.tolist() == ["a", "a", "a", "b"]
    np.testing.assert_array_equal(est.probas_.to_numpy(), [[1, 0], [1, 0], [1, 0], [0, 1]])


def test_tie_goes_to_first_label_and_no_answers_uniform():
    df = pd.DataFrame({"item": [1, 1, 2], "worker": ["u", "v", "u"], "label": ["a", "b", None]})
    est = crowdagg.KOS(max_iter=0, init="ones").fit(df, labels=["a", "b"])
    assert est.labels_.loc[1] == "a"
    np.testing.assert_array_equal(est.probas_.loc[1].to_numpy(), [0.5, 0.5])
    assert pd.isna(est.labels_.loc[2])
    np.testing.assert_array_equal(est.probas_.loc[2].to_numpy(), [0.5, 0.5])


def test_recovers_truth_on_generated_crowd():
    c = make_crowd(n_items=400, n_workers=30, n_labels=2, per_item=5, spammer_share=0.0, random_state=0)
    est = crowdagg.KOS().fit(c.annotations)
    mv = crowdagg.MajorityVote().fit(c.annotations)
    acc = (est.labels_ == c.truth).mean()
    assert acc >= (mv.labels_ == c.truth).mean() - 0.02 and acc > 0.85


@pytest.mark.parametrize("n_labels", [1, 3])
def test_refuses_non_binary(n_labels):
    df = make_crowd(n_items=30, n_workers=5, n_labels=3, per_item=3, random_state=0).annotations
    if n_labels == 1:
        df = df.assign(label="x")
    with pytest.raises(InputError, match="KOS is for binary tasks"):
        crowdagg.KOS().fit(df)


def test_one_label_with_labels_option_works():
    df = pd.DataFrame({"item": [1, 1, 2], "worker": ["u", "v", "u"], "label": ["a", "a", "a"]})
    assert crowdagg.KOS().fit(df, labels=["a", "b"]).labels_.tolist() == ["a", "a"]


@pytest.mark.parametrize("bad", [{"max_iter": -1}, {"init": "mv"}, {"tol": -1.0}, {"random_state": -3}])
def test_bad_parameters(bad):
    with pytest.raises(ParameterError):
        crowdagg.KOS(**bad).fit(_binary(0))


def test_gold_fixes_gold_items():
    df = _binary(1)
    item = df["item"].iloc[0]
    est = crowdagg.KOS().fit(df)
    other = [x for x in est.table_.labels if x != est.labels_.loc[item]][0]
    g = crowdagg.KOS().fit(df, gold={item: other})
    assert g.labels_.loc[item] == other


def test_seed_determinism_and_inputs_untouched():
    df = _binary(2)
    before = df.copy()
    a = crowdagg.KOS(random_state=5).fit(df)
    b = crowdagg.KOS(random_state=5).fit(df)
    pd.testing.assert_frame_equal(a.probas_, b.probas_)
    pd.testing.assert_frame_equal(df, before)
    assert not a.probas_.isna().any().any() and np.isfinite(a.skills_).all()


def test_converges_with_tol():
    est = crowdagg.KOS(max_iter=500, tol=1e-9).fit(_binary(4, n_items=200, n_workers=20))
    assert est.converged_ and est.n_iter_ < 500


def test_no_overflow_over_many_iterations():
    est = crowdagg.KOS(max_iter=3000).fit(_binary(5))
    assert np.isfinite(est.params_["P"]).all() and np.abs(est.params_["Q"]).max() <= 1.0


@HSET
@given(st.integers(0, 10_000), st.booleans())
def test_properties_relabel_swap_order(seed, swap):
    """Row order and item/worker names change nothing; swapping the two labels swaps the output."""
    df = _binary(seed % 50, n_items=40, n_workers=8)
    a = crowdagg.KOS(init="ones", max_iter=20).fit(df)
    rng = np.random.default_rng(seed)
    b_df = df.iloc[rng.permutation(len(df))].reset_index(drop=True)
    b_df = b_df.assign(item="i" + b_df["item"].astype(str), worker="w" + b_df["worker"].astype(str))
    labs = sorted(df["label"].unique())
    if swap:
        b_df = b_df.assign(label=b_df["label"].map({labs[0]: labs[1], labs[1]: labs[0]}))
    b = crowdagg.KOS(init="ones", max_iter=20).fit(b_df)
    pb = b.probas_.set_axis(b.probas_.index.str[1:], axis=0)
    pa = a.probas_.set_axis(a.probas_.index.astype(str), axis=0).loc[pb.index]
    if swap:
        pb = pb[pb.columns[::-1]]
    tied = (pa.to_numpy() == 0.5).any(axis=1)  # ties go to the first label: not symmetric
    np.testing.assert_array_equal(pa.to_numpy()[~tied], pb.to_numpy()[~tied])


def _binary_crowd() -> pd.DataFrame:
    return [c for c in _crowds() if c["label"].nunique() == 2][0]


@pytest.mark.parametrize("check", contract_checks())
def test_contract(check):
    """``check_aggregator``'s checks on its binary crowd (KOS refuses the 3-label one)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(crowdagg.KOS(), _binary_crowd())


def test_check_aggregator_refuses_three_labels_clearly():
    with pytest.raises(InputError, match="binary"):
        crowdagg.testing.check_aggregator(crowdagg.KOS())


@pytest.mark.skipif(not crowdkit_available(), reason=CROWDKIT_REASON)
def test_matches_crowdkit_small():
    ck = pytest.importorskip("crowdkit.aggregation", reason=CROWDKIT_REASON)

    df = _binary(7, n_items=200, n_workers=20)
    ours = crowdagg.KOS().fit(df).labels_
    theirs = ck.KOS().fit(df.rename(columns={"item": "task"})).labels_
    assert (ours.loc[theirs.index] == theirs).mean() >= 0.98


@pytest.mark.slow
def test_crowdkit_figures_on_shared(datasets_dir):
    """KOS accuracy equals crowd-kit's on the shared binary sets (docs/methods.md)."""
    from crowdagg.datasets import load_dataset

    want = {"zheng_d_jn_product": 0.8955, "zheng_d_duck": 0.7222, "mace_rte": 0.4975, "mace_temporal": 0.5693,
            "act_sp_amt": 0.942, "act_sp_sentiment_polarity": 0.8192}
    for name, ref in want.items():
        ds = load_dataset(datasets_dir / name, as_frame=True, duplicates="first")
        df, gold = ds.annotations, ds.gold
        est = crowdagg.KOS().fit(df)
        g = gold[gold.index.isin(est.labels_.dropna().index)]
        acc = float((est.labels_.loc[g.index].astype(str) == g.astype(str)).mean())
        assert abs(acc - ref) <= 0.003, (name, acc, ref)


def test_partial_fit_refused():
    with pytest.raises(InputError, match="no incremental form"):
        crowdagg.KOS().partial_fit(_binary(0))
