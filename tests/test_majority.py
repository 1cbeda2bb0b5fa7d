"""MajorityVote against the pure-Python reference, ties, weights, properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crowdagg import AnnotationTable, MajorityVote
from crowdagg.errors import InputError, NotFittedError, WeightsError
from crowdagg.kernels.mv import majority_vote
from tests.naive import naive_majority_vote, naive_table


def test_hand_computed():
    df = pd.DataFrame(
        {"item": [1, 1, 1, 2, 2, 3], "worker": list("abcabc"), "label": ["x", "x", "y", "y", "y", "y"]}
    )
    mv = MajorityVote().fit(df)
    assert mv.labels_.tolist() == ["x", "y", "y"]
    np.testing.assert_allclose(mv.probas_.loc[1].to_numpy(), [2 / 3, 1 / 3])
    assert mv.labels_.index.name == "item" and list(mv.probas_.columns) == ["x", "y"]


def test_weighted():
    df = pd.DataFrame({"item": [1, 1, 1], "worker": list("abc"), "label": ["x", "x", "y"]})
    mv = MajorityVote(weights={"a": 1.0, "b": 1.0, "c": 5.0}).fit(df)
    assert mv.labels_.tolist() == ["y"]
    np.testing.assert_allclose(mv.probas_.to_numpy(), [[2 / 7, 5 / 7]])
    mv2 = MajorityVote(weights=pd.Series([1.0, 1.0, 5.0], index=list("abc"))).fit(df)
    pd.testing.assert_frame_equal(mv.probas_, mv2.probas_)


@pytest.mark.parametrize(
    "weights,err",
    [({"a": 1.0}, "missing"), ({"a": -1, "b": 1, "c": 1}, "non-negative"), ({"a": np.inf, "b": 1, "c": 1}, "finite")],
)
def test_bad_weights(weights, err):
    df = pd.DataFrame({"item": [1, 1, 1], "worker": list("abc"), "label": ["x", "x", "y"]})
    with pytest.raises(WeightsError, match=err):
        MajorityVote(weights=weights).fit(df)


def test_ties_first_and_random():
    df = pd.DataFrame({"item": np.repeat(np.arange(200), 2), "worker": ["a", "b"] * 200, "label": [0, 1] * 200})
    first = MajorityVote().fit(df).labels_
    assert (first == 0).all()  # first label in label order
    r1 = MajorityVote(tie="random", random_state=3).fit(df).labels_
    r2 = MajorityVote(tie="random", random_state=3).fit(df).labels_
    pd.testing.assert_series_equal(r1, r2)
    assert 60 < (r1 == 1).sum() < 140  # both labels chosen
    with pytest.raises(InputError, match="tie"):
        MajorityVote(tie="nope").fit(df)


def test_items_without_annotations_and_zero_weights():
    df = pd.DataFrame({"item": [1, 2, 3], "worker": ["a", "b", "a"], "label": [0, 1, None]})
    mv = MajorityVote(weights={"a": 1.0, "b": 0.0}).fit(df)
    assert mv.labels_.isna().tolist() == [False, False, True]
    assert str(mv.labels_.dtype) == "Int64"
    np.testing.assert_allclose(mv.probas_.to_numpy(), [[1, 0], [0.5, 0.5], [0.5, 0.5]])
    assert not mv.probas_.isna().any().any()
    out = mv.to_pandas()
    assert list(out.columns) == ["item", "label", "confidence", "proba_0", "proba_1"]
    assert mv.to_polars().shape == (3, 5)


def test_estimator_contract():
    mv = MajorityVote(tie="random", random_state=1)
    assert mv.get_params() == {"weights": None, "tie": "random", "random_state": 1}
    assert mv.set_params(tie="first") is mv and mv.tie == "first"
    assert "tie" not in repr(mv)
    with pytest.raises(InputError):
        mv.set_params(nope=1)
    with pytest.raises(NotFittedError):
        mv.predict_proba()
    df = pd.DataFrame({"item": [1, 1, 2], "worker": ["a", "b", "a"], "label": ["x", "y", "y"]})
    assert mv.fit(df) is mv
    assert mv.fit_predict(df).tolist() == ["x", "y"]
    new = pd.DataFrame({"item": [9, 9], "worker": ["z", "a"], "label": ["y", "y"]})
    assert mv.predict(new).tolist() == ["y"]
    assert mv.predict_proba(new).to_numpy().tolist() == [[0.0, 1.0]]


def test_serial_and_parallel_kernels_agree():
    rng = np.random.default_rng(0)
    n = 300_000
    t = AnnotationTable.from_codes(
        rng.integers(0, 50_000, n), rng.integers(0, 500, n), rng.integers(0, 4, n),
        items=50_000, workers=500, labels=4, duplicates="keep",
    )
    w = rng.random(500)
    u = rng.random(t.n_items)
    a = majority_vote(t.item_ptr, t.label_codes, t.worker_codes, w, 4, u, parallel=True)
    b = majority_vote(t.item_ptr, t.label_codes, t.worker_codes, w, 4, u, parallel=False)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


frames = st.lists(
    st.tuples(st.integers(0, 9), st.integers(0, 6), st.integers(0, 3)), min_size=1, max_size=80
).map(lambda rows: pd.DataFrame(rows, columns=["item", "worker", "label"]).drop_duplicates(["item", "worker"]))


@settings(max_examples=60, deadline=None)
@given(frames, st.booleans(), st.lists(st.integers(1, 5), min_size=7, max_size=7))
def test_matches_naive(df, weighted, per_worker):
    items, workers, labels, rows = naive_table(df)
    # weights drawn by hypothesis (reproducible, shrinkable), not from the per-process hash()
    weights = {w: float(per_worker[w]) for w in workers} if weighted else None
    mv = MajorityVote(weights=weights).fit(df)
    wv = None if weights is None else [weights[w] for w in workers]
    post, win = naive_majority_vote(rows, len(items), len(labels), wv)
    np.testing.assert_allclose(mv.probas_.to_numpy(), post, atol=1e-12)
    assert mv.labels_.tolist() == [labels[k] for k in win]


@settings(max_examples=40, deadline=None)
@given(frames, st.randoms(use_true_random=False))
def test_relabel_and_permute_properties(df, rnd):
    base = MajorityVote().fit(df)
    # relabelling items and workers (new ids, shuffled rows) changes nothing
    imap = {i: f"item{(i * 7919) % 101}" for i in df["item"].unique()}
    wmap = {w: f"w{(w * 31) % 97}" for w in df["worker"].unique()}
    df2 = df.assign(item=df["item"].map(imap), worker=df["worker"].map(wmap)).sample(frac=1, random_state=1)
    other = MajorityVote().fit(df2)
    p1 = base.probas_.rename(index=imap).sort_index()
    p2 = other.probas_.sort_index()
    np.testing.assert_allclose(p1.to_numpy(), p2.to_numpy())
    # permuting label codes permutes the output (labels= fixes the code order)
    labs = sorted(df["label"].unique())
    perm = labs[:]
    rnd.shuffle(perm)
    a = MajorityVote().fit(df, labels=labs)
    b = MajorityVote().fit(df, labels=perm)
    np.testing.assert_allclose(a.probas_[perm].to_numpy(), b.probas_.to_numpy())
    # winners agree wherever the vote is not tied
    top = a.probas_.to_numpy()
    untied = (top == top.max(axis=1, keepdims=True)).sum(axis=1) == 1
    assert (a.labels_[untied] == b.labels_[untied]).all()


def test_random_ties_follow_item_ids_not_row_order():
    """tie="random" draws one uniform per item id (em.item_uniforms): shuffling the rows or
    renaming nothing else keeps every tie-break; another seed changes some."""
    rng = np.random.default_rng(5)
    n = 400
    df = pd.DataFrame({"item": np.repeat([f"i{k}" for k in range(n)], 2), "worker": np.tile(["a", "b"], n),
                       "label": rng.integers(0, 3, 2 * n)})
    a = MajorityVote(tie="random", random_state=1).fit(df).labels_
    b = MajorityVote(tie="random", random_state=1).fit(df.sample(frac=1.0, random_state=2)).labels_
    assert a.equals(b.loc[a.index])
    c = MajorityVote(tie="random", random_state=2).fit(df).labels_
    assert (a != c).any()
    from crowdagg.em import item_uniforms

    u = item_uniforms(pd.Index(["x", "y", "x"]), 7)
    assert u[0] == u[2] != u[1] and ((u >= 0) & (u < 1)).all()
    assert np.array_equal(item_uniforms(pd.Index([3, 4]), 7), item_uniforms(pd.Index(["3", "4"]), 7))


def test_weights_by_id_never_match_a_bool_to_a_number():
    df = pd.DataFrame({"item": [1, 1, 2], "worker": [0, 1, 0], "label": ["x", "y", "x"]})
    assert MajorityVote(weights={0: 1.0, 1: 2.0}).fit(df).labels_.tolist() == ["y", "x"]
    with pytest.raises(WeightsError, match="missing"):
        MajorityVote(weights={False: 1.0, True: 2.0}).fit(df)  # pandas alone would match True to 1
