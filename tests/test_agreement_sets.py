"""Krippendorff's alpha for multi-label answers with a set distance
(crowdagg.agreement.krippendorff_alpha_sets): a hand-computed case, the naive
definition of tests/naive_ratings.py, the ``krippendorff`` package with the same
distance as a callable metric, input forms, properties and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crowdagg.agreement import krippendorff_alpha_sets, set_distance_matrix
from crowdagg.errors import AgreementUndefinedError, DuplicateAnnotationError, InputError, MissingColumnError
from tests import naive_ratings as N

HAND = pd.DataFrame({
    "item": [1, 1, 2, 2, 3, 3, 4],
    "worker": ["x", "y", "x", "y", "x", "y", "x"],
    "labels": [["a"], ["a", "b"], ["b"], ["b"], [], ["a"], ["c"]],  # item 4: one answer, unpairable
})


def test_hand_computed():
    # sets A={a}, AB={a,b}, B={b}, E={}; pairable values A, AB, B, B, E, A (n = 6)
    # Jaccard: D_o sum = 2 * 0.5 + 0 + 2 * 1 = 3; sum n_c n_k delta = 22; alpha = 1 - 5 * 3 / 22
    r = krippendorff_alpha_sets(HAND, "jaccard")
    assert r.value == pytest.approx(7 / 22, abs=1e-12)
    assert r.variant == "jaccard" and r.n_items == 3 and r.n_annotations == 6
    # MASI: delta(A, AB) = delta(AB, B) = 1 - 0.5 * 0.67 = 0.665, the other pairs 1
    de = 2 * (2 * 0.665) + 8 + 4 + 2 * (2 * 0.665) + 2 + 4
    assert krippendorff_alpha_sets(HAND, "masi").value == pytest.approx(1 - 5 * (2 * 0.665 + 2) / de, abs=1e-12)


def test_distance_matrix():
    sets = [frozenset(), frozenset("a"), frozenset("ab"), frozenset("c"), frozenset("bc")]
    for dist in ("jaccard", "masi"):
        d = set_distance_matrix(sets, dist)
        for i, a in enumerate(sets):
            for j, b in enumerate(sets):
                assert d[i, j] == pytest.approx(N.set_distance(a, b, dist), abs=1e-15)
    # NLTK's masi_distance examples: {a, b} vs {a} is 1 - 0.5 * 0.67; disjoint sets are at 1
    assert set_distance_matrix([frozenset("ab"), frozenset("a")], "masi")[0, 1] == pytest.approx(0.665)


def test_input_forms_agree():
    a = krippendorff_alpha_sets(HAND).value
    as_tuples = HAND.assign(labels=[tuple(v) for v in HAND["labels"]])
    as_sets = HAND.assign(labels=[set(v) for v in HAND["labels"]])
    as_text = HAND.assign(labels=["|".join(v) for v in HAND["labels"]])
    assert krippendorff_alpha_sets(as_tuples).value == pytest.approx(a)
    assert krippendorff_alpha_sets(as_sets).value == pytest.approx(a)
    assert krippendorff_alpha_sets(as_text, sep="|").value == pytest.approx(a)
    spaced = HAND.assign(labels=[" | ".join(v) for v in HAND["labels"]])
    assert krippendorff_alpha_sets(spaced, sep="|").value == pytest.approx(a)
    renamed = HAND.rename(columns={"item": "task", "labels": "label"})
    assert krippendorff_alpha_sets(renamed).value == pytest.approx(a)


def test_empty_set_is_an_answer_null_is_none():
    with_null = pd.concat([HAND, pd.DataFrame({"item": [4], "worker": ["y"], "labels": [None]})],
                          ignore_index=True)
    assert krippendorff_alpha_sets(with_null).value == pytest.approx(krippendorff_alpha_sets(HAND).value)
    with_empty = pd.concat([HAND, pd.DataFrame({"item": [4], "worker": ["y"], "labels": [[]]})],
                           ignore_index=True)
    r = krippendorff_alpha_sets(with_empty)
    assert r.n_items == 4 and r.value != pytest.approx(krippendorff_alpha_sets(HAND).value)


label_sets = st.frozensets(st.sampled_from("abcd"), max_size=3)
rows_strategy = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 4), label_sets), min_size=4, max_size=40,
                         unique_by=lambda r: (r[0], r[1]))


def _frame(rows):
    return pd.DataFrame({"item": [r[0] for r in rows], "worker": [r[1] for r in rows],
                         "labels": [sorted(r[2]) for r in rows]})


@settings(max_examples=60, deadline=None)
@given(rows_strategy, st.sampled_from(["jaccard", "masi"]), st.randoms(use_true_random=False))
def test_matches_naive_and_invariances(rows, distance, rnd):
    df = _frame(rows)
    try:
        ours = krippendorff_alpha_sets(df, distance).value
    except AgreementUndefinedError:
        return
    assert ours == pytest.approx(N.set_alpha(rows, distance), rel=1e-9, abs=1e-12)
    perm = list(range(len(df)))
    rnd.shuffle(perm)
    rename = {"a": "z", "b": "y", "c": "x", "d": "w"}
    moved = df.iloc[perm].assign(item=lambda d: d["item"].map(lambda i: f"i{9 - i}"),
                                 worker=lambda d: d["worker"] * -1,
                                 labels=lambda d: d["labels"].map(lambda v: [rename[x] for x in v]))
    assert krippendorff_alpha_sets(moved, distance).value == pytest.approx(ours, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("distance", ["jaccard", "masi"])
def test_matches_krippendorff_package(distance):
    kd = pytest.importorskip("krippendorff", reason="krippendorff (test extra) is not installed")
    rng = np.random.default_rng(0)
    universe = [frozenset(s) for s in ["", "a", "b", "ab", "c", "ac", "abc"]]
    n_items, n_raters = 25, 4
    codes = rng.integers(0, len(universe), (n_raters, n_items)).astype(float)
    codes[rng.random((n_raters, n_items)) < 0.2] = np.nan  # missing answers
    rows = [(u, r, universe[int(codes[r, u])]) for r in range(n_raters) for u in range(n_items)
            if not np.isnan(codes[r, u])]
    ours = krippendorff_alpha_sets(_frame(rows), distance).value
    d = set_distance_matrix(universe, distance)

    def metric(v1, v2, i1, i2, n_v, dtype=np.float64):
        return d[np.asarray(v1, dtype=int), np.asarray(v2, dtype=int)].astype(dtype)

    ref = kd.alpha(reliability_data=codes, value_domain=np.arange(len(universe)), level_of_measurement=metric)
    assert ours == pytest.approx(float(ref), rel=1e-9)


def test_bad_input():
    with pytest.raises(InputError, match="sep="):
        krippendorff_alpha_sets(HAND.assign(labels=["a,b"] * 7))
    with pytest.raises(InputError, match="unhashable"):
        krippendorff_alpha_sets(HAND.assign(labels=[[["a"]]] * 7))
    with pytest.raises(InputError, match="lists, tuples"):
        krippendorff_alpha_sets(HAND.assign(labels=[3] * 7))
    with pytest.raises(MissingColumnError):
        krippendorff_alpha_sets(HAND.drop(columns="worker"))
    with pytest.raises(InputError):
        krippendorff_alpha_sets([("a", "b")])
    with pytest.raises(InputError):
        krippendorff_alpha_sets(HAND, "cosine")
    with pytest.raises(DuplicateAnnotationError):
        krippendorff_alpha_sets(pd.concat([HAND, HAND.iloc[:1]]))
    with pytest.raises(AgreementUndefinedError):
        krippendorff_alpha_sets(HAND.assign(labels=[["a"]] * 7))
    with pytest.raises(AgreementUndefinedError):
        krippendorff_alpha_sets(HAND.assign(item=range(7)))
    with pytest.raises(InputError):
        krippendorff_alpha_sets(HAND.assign(labels=[None] * 7))


def test_polars_frame():
    pl = pytest.importorskip("polars", reason="polars is not installed")
    df = pl.DataFrame({"item": [1, 1, 2, 2], "worker": ["x", "y", "x", "y"], "labels": [["a"], ["a", "b"], ["b"], []]})
    pdf = pd.DataFrame({"item": [1, 1, 2, 2], "worker": ["x", "y", "x", "y"], "labels": [["a"], ["a", "b"], ["b"], []]})
    assert krippendorff_alpha_sets(df).value == pytest.approx(krippendorff_alpha_sets(pdf).value)
