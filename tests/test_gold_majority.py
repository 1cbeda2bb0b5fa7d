"""GoldMajorityVote: vs the pure-Python reference, hand cases, errors, properties, contract, Dask."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import CROWDKIT_REASON, contract_checks, crowdkit_available
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from naive_kos_mmsr import gold_vote

import crowdagg
from crowdagg.base import is_distributed_table
from crowdagg.datasets import make_crowd
from crowdagg.errors import GoldError, InputError, ParameterError

HSET = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _crowd(seed: int, n_labels: int = 3):
    return make_crowd(n_items=60, n_workers=10, n_labels=n_labels, per_item=3, random_state=seed)


@HSET
@given(st.integers(0, 10_000), st.floats(0.05, 0.9), st.sampled_from(["mean", 0.0, 0.3, 1.0]), st.booleans())
def test_matches_reference(seed, share, default, parallel):
    c = _crowd(seed % 200)
    rng = np.random.default_rng(seed)
    items = c.truth.index[rng.random(len(c.truth)) < share]
    if len(items) == 0:
        items = c.truth.index[:1]
    gold = c.truth.loc[items]
    est = crowdagg.GoldMajorityVote(default_skill=default, parallel=parallel).fit(c.annotations, gold=gold)
    t = est.table_
    rows = list(zip(t.item_codes.tolist(), t.worker_codes.tolist(), t.label_codes.tolist()))
    gcodes = t.encode_gold(gold)
    skills, shares = gold_vote(rows, {i: int(g) for i, g in enumerate(gcodes) if g >= 0}, t.n_labels, default)
    np.testing.assert_allclose(est.skills_.to_numpy(), [skills[w] for w in range(t.n_workers)], atol=1e-9)
    want = np.array([shares.get(i, [1.0 / t.n_labels] * t.n_labels) for i in range(t.n_items)])
    np.testing.assert_allclose(est.probas_.to_numpy(), want, atol=1e-9)


def test_hand_case():
    df = pd.DataFrame({"item": ["t1", "t1", "t1", "t2", "t2", "t2", "t3"],
                       "worker": ["p1", "p2", "p3", "p1", "p2", "p3", "p4"],
                       "label": [0, 0, 1, 1, 0, 1, 1]})
    est = crowdagg.GoldMajorityVote().fit(df, gold={"t1": 0})
    # p1, p2 right on t1, p3 wrong, p4 no gold: pooled accuracy 2/3
    assert est.skills_.to_dict() == {"p1": 1.0, "p2": 1.0, "p3": 0.0, "p4": pytest.approx(2 / 3)}
    assert est.default_skill_ == pytest.approx(2 / 3)
    assert est.gold_answers_.to_dict() == {"p1": 1, "p2": 1, "p3": 1, "p4": 0}
    # t2: p1 (1.0) says 1, p2 (1.0) says 0 -> tie, first label; t3: p4 alone
    assert est.labels_.to_dict() == {"t1": 0, "t2": 0, "t3": 1}
    np.testing.assert_allclose(est.probas_.loc["t2"].to_numpy(), [0.5, 0.5])


def test_errors():
    df = _crowd(0).annotations
    with pytest.raises(GoldError, match="needs gold"):
        crowdagg.GoldMajorityVote().fit(df)
    lonely = pd.concat([df, pd.DataFrame({"item": ["z"], "worker": ["w"], "label": [None]})])
    with pytest.raises(GoldError, match="no worker answered a gold item"):
        crowdagg.GoldMajorityVote().fit(lonely, gold={"z": 0})
    with pytest.raises(GoldError):
        crowdagg.GoldMajorityVote().fit(df, gold={"not-an-item": 0})
    for bad in ("median", 1.5, -0.1):
        with pytest.raises(ParameterError):
            crowdagg.GoldMajorityVote(default_skill=bad).fit(df, gold={df["item"].iloc[0]: 0})


def test_predict_new_workers_get_fitted_default():
    c = _crowd(1)
    gold = c.truth.iloc[:30]
    est = crowdagg.GoldMajorityVote().fit(c.annotations, gold=gold)
    new = pd.DataFrame({"item": ["n1", "n1"], "worker": ["new1", c.annotations["worker"].iloc[0]],
                        "label": [0, 1]})
    p = est.predict_proba(new)
    w0 = est.skills_.loc[c.annotations["worker"].iloc[0]]
    d = est.default_skill_
    np.testing.assert_allclose(p.loc["n1"].to_numpy()[:2], [d / (d + w0), w0 / (d + w0)], atol=1e-9)


@HSET
@given(st.integers(0, 10_000))
def test_properties(seed):
    """Row order, renamed ids and permuted label codes change nothing."""
    c = _crowd(seed % 100)
    gold = c.truth.iloc[::3]
    a = crowdagg.GoldMajorityVote().fit(c.annotations, gold=gold)
    rng = np.random.default_rng(seed)
    perm = {0: 2, 1: 0, 2: 1}
    df = c.annotations.iloc[rng.permutation(len(c.annotations))]
    df = df.assign(worker="w" + df["worker"], label=df["label"].map(perm))
    b = crowdagg.GoldMajorityVote().fit(df, gold=gold.map(perm))
    np.testing.assert_allclose(a.skills_.to_numpy(), b.skills_.loc["w" + a.skills_.index].to_numpy())
    pb = b.probas_.loc[a.probas_.index, [perm[k] for k in a.probas_.columns]]
    np.testing.assert_allclose(a.probas_.to_numpy(), pb.to_numpy(), atol=1e-12)


class _UnanimousGold(crowdagg.GoldMajorityVote):
    """For the contract checks (which fit without gold): gold = the label of every item whose
    answers (at least 2) all agree -- a function of the data alone, so it follows any
    renaming or reordering (a distributed table is refused: the checks then skip it)."""

    def fit(self, data, **kw):
        if is_distributed_table(data):
            raise InputError("test wrapper: no distributed table")
        df = data.dropna(subset=["label"])
        g = df.groupby("item")["label"].agg(["nunique", "size", "first"])
        gold = g.loc[(g["nunique"] == 1) & (g["size"] >= 2), "first"]
        return super().fit(data, gold=gold, **kw)


@pytest.mark.parametrize("check", contract_checks(dask=False))  # _UnanimousGold refuses Dask tables
def test_contract(check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for df in crowdagg.testing._crowds():
            check(_UnanimousGold(), df)


@pytest.mark.slow
def test_distributed_equals_local():
    import dask.dataframe as dd

    from crowdagg.distributed import DaskAnnotationTable
    from crowdagg.testing import _dask_client

    _dask_client()
    c = _crowd(3)
    gold = c.truth.iloc[::4]
    local = crowdagg.GoldMajorityVote().fit(c.annotations, gold=gold)
    dt = DaskAnnotationTable.from_dask_dataframe(dd.from_pandas(c.annotations, npartitions=2), npartitions=3)
    dist = crowdagg.GoldMajorityVote().fit(dt, gold=gold)
    r = dist.result_.compute()
    np.testing.assert_allclose(r.probas.to_numpy(), local.probas_.loc[r.probas.index].to_numpy(), atol=1e-12)
    np.testing.assert_allclose(dist.skills_.to_numpy(), local.skills_.to_numpy())


@pytest.mark.skipif(not crowdkit_available(), reason=CROWDKIT_REASON)
def test_matches_crowdkit():
    ck = pytest.importorskip("crowdkit.aggregation", reason=CROWDKIT_REASON)

    c = make_crowd(n_items=200, n_workers=10, n_labels=3, per_item=4, workload="uniform", random_state=4)
    gold = c.truth.iloc[:100]
    ours = crowdagg.GoldMajorityVote().fit(c.annotations, gold=gold)
    theirs = ck.GoldMajorityVote().fit(c.annotations.rename(columns={"item": "task"}), gold)
    np.testing.assert_allclose(ours.skills_.loc[theirs.skills_.index].to_numpy(), theirs.skills_.to_numpy())




def test_partial_fit_sums_gold_counts():
    """Batches by item: the gold counts add up, so the skills equal a fit on the union, and
    each batch is voted with them."""
    c = _crowd(6)
    df, gold = c.annotations, c.truth.iloc[::2]
    items = sorted(df["item"].unique())
    a, b = df[df["item"].isin(items[:30])], df[df["item"].isin(items[30:])]
    est = crowdagg.GoldMajorityVote()
    est.partial_fit(a, gold=gold[gold.index.isin(a["item"])], labels=[0, 1, 2])
    est.partial_fit(b, gold=gold[gold.index.isin(b["item"])])
    full = crowdagg.GoldMajorityVote().fit(df, gold=gold)
    np.testing.assert_allclose(est.skills_.loc[full.skills_.index].to_numpy(), full.skills_.to_numpy())
    assert est.default_skill_ == pytest.approx(full.default_skill_)
    pd.testing.assert_frame_equal(est.probas_, full.probas_.loc[est.probas_.index], check_exact=False, atol=1e-9)
    # a batch without gold is voted with the skills so far
    est.partial_fit(b)
    assert est.labels_.index.equals(full.labels_.loc[est.labels_.index].index)


def test_partial_fit_errors():
    c = _crowd(0)
    with pytest.raises(GoldError, match="no worker answered a gold item"):
        crowdagg.GoldMajorityVote().partial_fit(c.annotations)
    with pytest.raises(ParameterError, match="forget"):
        crowdagg.GoldMajorityVote().partial_fit(c.annotations, gold=c.truth.iloc[:5], forget=0)
