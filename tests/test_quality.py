"""Gold scoring: kernels vs the pure-Python reference, Wilson interval, flags, properties."""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crowdagg import AnnotationTable, MajorityVote
from crowdagg.errors import GoldError, InputError, NotFittedError
from crowdagg.kernels.quality import (
    gold_confusion_parallel,
    gold_confusion_slice,
    gold_confusions,
    gold_counts,
    gold_counts_parallel,
    gold_counts_slice,
    gold_item_ptr,
)
from crowdagg.quality import GoldAccuracy, GoldScores, accuracy_against_gold, score_workers, wilson_interval
from tests.naive_quality import (
    naive_accuracy,
    naive_confusions,
    naive_gold_counts,
    naive_wilson,
    naive_worker_scores,
)

NOJIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"


def random_table(rng, n_items=60, n_workers=12, n_labels=3, density=0.4, gold_share=0.5):
    mask = rng.random((n_items, n_workers)) < density
    mask[:, 0] |= ~mask.any(axis=1)  # every item answered
    it, wk = np.nonzero(mask)
    lab = rng.integers(0, n_labels, it.size)
    table = AnnotationTable.from_codes(it, wk, lab, items=n_items, workers=n_workers, labels=n_labels)
    gold = np.where(rng.random(n_items) < gold_share, rng.integers(0, n_labels, n_items), -1)
    return table, gold.astype(np.int64)


def _kernel_args(t, gold):
    return t.item_ptr, t.worker_codes, t.label_codes, gold


@pytest.mark.parametrize("seed", range(4))
def test_kernels_match_naive(seed):
    rng = np.random.default_rng(seed)
    t, gold = random_table(rng, n_labels=2 + seed)
    ref_total, ref_correct = naive_gold_counts(t.item_codes.tolist(), t.worker_codes.tolist(),
                                               t.label_codes.tolist(), gold.tolist(), t.n_workers, t.n_labels)
    ref_conf = naive_confusions(t.item_codes.tolist(), t.worker_codes.tolist(), t.label_codes.tolist(),
                                gold.tolist(), t.n_workers, t.n_labels)
    for parallel in (False, True, None):
        total, correct = gold_counts(*_kernel_args(t, gold), t.n_workers, t.n_labels, parallel=parallel)
        np.testing.assert_array_equal(total, ref_total)
        np.testing.assert_array_equal(correct, ref_correct)
        conf = gold_confusions(*_kernel_args(t, gold), t.n_workers, t.n_labels, parallel=parallel)
        np.testing.assert_array_equal(conf, ref_conf)
    # several chunks, including an empty one, through the parallel twins (buffers start dirty)
    bounds = np.array([0, 10, 10, 33, t.n_items], dtype=np.int64)
    total = np.full((4, t.n_workers, t.n_labels), -9, dtype=np.int64)
    correct = total.copy()
    gold_counts_parallel(*_kernel_args(t, gold), bounds, total, correct)
    np.testing.assert_array_equal(total.sum(axis=0), ref_total)
    np.testing.assert_array_equal(correct.sum(axis=0), ref_correct)
    assert total[1].sum() == 0  # the empty chunk
    conf = np.full((4, t.n_workers, t.n_labels, t.n_labels), -9, dtype=np.int64)
    gold_confusion_parallel(*_kernel_args(t, gold), bounds, conf)
    np.testing.assert_array_equal(conf.sum(axis=0), ref_conf)


def test_slice_kernels_accumulate_over_item_slices():
    t, gold = random_table(np.random.default_rng(7))
    ref_total, ref_correct = gold_counts(*_kernel_args(t, gold), t.n_workers, t.n_labels, parallel=False)
    total = np.zeros((t.n_workers, t.n_labels), dtype=np.int64)
    correct = total.copy()
    conf = np.zeros((t.n_workers, t.n_labels, t.n_labels), dtype=np.int64)
    for a, b in ((0, 17), (17, 17), (17, 40), (40, t.n_items)):  # as Dask tasks would
        gold_counts_slice(*_kernel_args(t, gold), a, b, total, correct)
        gold_confusion_slice(*_kernel_args(t, gold), a, b, conf)
    np.testing.assert_array_equal(total, ref_total)
    np.testing.assert_array_equal(correct, ref_correct)
    np.testing.assert_array_equal(conf.sum(axis=2), ref_total)
    np.testing.assert_array_equal(np.diagonal(conf, axis1=1, axis2=2), ref_correct)
    part = np.zeros_like(total)
    gold_counts_slice(*_kernel_args(t, gold), 0, 17, part, np.zeros_like(part))
    expected = sum(1 for i in range(17) if gold[i] >= 0 for _ in range(t.item_ptr[i], t.item_ptr[i + 1]))
    assert part.sum() == expected


def test_gold_item_ptr():
    item_ptr = np.array([0, 2, 5, 5, 9])
    gold = np.array([1, -1, 0, 2])
    np.testing.assert_array_equal(gold_item_ptr(item_ptr, gold), [0, 2, 2, 2, 6])


def test_kernel_no_gold_gives_zeros():
    t, _ = random_table(np.random.default_rng(1))
    gold = np.full(t.n_items, -1, dtype=np.int64)
    for parallel in (False, True):
        total, correct = gold_counts(*_kernel_args(t, gold), t.n_workers, t.n_labels, parallel=parallel)
        assert total.shape == (t.n_workers, t.n_labels) and total.sum() == 0 and correct.sum() == 0


# --------------------------------------------------------------------------- Wilson
def test_wilson_hand_computed():
    lo, hi = wilson_interval(8, 10)  # Brown, Cai & DasGupta style textbook example
    assert lo == pytest.approx(0.49016, abs=1e-5) and hi == pytest.approx(0.94332, abs=1e-5)
    z2 = 1.959963984540054**2
    lo, hi = wilson_interval(0, 2)
    assert lo == 0.0 and hi == pytest.approx(z2 / (2 + z2), abs=1e-12)  # 0.6576
    lo, hi = wilson_interval(5, 5)
    assert hi == 1.0 and lo == pytest.approx(5 / (5 + z2), abs=1e-12)
    lo, hi = wilson_interval(0, 0)
    assert (lo, hi) == (0.0, 1.0)
    lo, hi = wilson_interval(1, 2, confidence=0.5)  # symmetric around 1/2
    assert lo + hi == pytest.approx(1.0)


@pytest.mark.parametrize("confidence", [1e-6, 0.5, 0.8, 0.9, 0.95, 0.99, 0.999999])
def test_wilson_matches_naive_and_statsmodels(confidence):
    n = np.array([1, 1, 2, 3, 10, 10, 10, 57, 1000, 1000])
    k = np.array([0, 1, 1, 3, 0, 7, 10, 13, 1, 999])
    lo, hi = wilson_interval(k, n, confidence)
    ref = np.array([naive_wilson(int(a), int(b), confidence) for a, b in zip(k, n)])
    np.testing.assert_allclose(lo, ref[:, 0], atol=1e-12)
    np.testing.assert_allclose(hi, ref[:, 1], atol=1e-12)
    assert np.all((lo <= k / n) & (k / n <= hi))
    assert np.all(lo[k == 0] == 0.0) and np.all(hi[k == n] == 1.0)
    import statsmodels.stats.proportion as sm  # test extra
    slo, shi = sm.proportion_confint(k, n, alpha=1 - confidence, method="wilson")
    np.testing.assert_allclose(lo, slo, atol=1e-9)
    np.testing.assert_allclose(hi, shi, atol=1e-9)


def test_wilson_width_shrinks_with_n_and_grows_with_confidence():
    lo1, hi1 = wilson_interval(5, 10)
    lo2, hi2 = wilson_interval(50, 100)
    assert hi2 - lo2 < hi1 - lo1
    lo3, hi3 = wilson_interval(5, 10, 0.99)
    assert lo3 < lo1 and hi3 > hi1


@pytest.mark.parametrize("confidence", [0, 1, 1.5, -0.1, float("nan"), float("inf"), True, "0.9", None])
def test_wilson_bad_confidence(confidence):
    with pytest.raises(InputError, match="confidence"):
        wilson_interval(1, 2, confidence)


@pytest.mark.parametrize("k,n,msg", [(3, 2, "exceed"), (-1, 2, "non-negative"), (1, -2, "non-negative"),
                                     (0.5, 2, "whole"), (1, np.nan, "whole")])
def test_wilson_bad_counts(k, n, msg):
    with pytest.raises(InputError, match=msg):
        wilson_interval(k, n)


# --------------------------------------------------------------------------- score_workers
@pytest.fixture
def small():
    # gold: i1=x, i2=y, i3=y; i4 has no gold
    rows = [
        ("i1", "a", "x"), ("i2", "a", "y"), ("i3", "a", "y"), ("i4", "a", "x"),
        ("i1", "b", "y"), ("i2", "b", "y"), ("i3", "b", "x"),
        ("i4", "c", "y"),
    ]
    df = pd.DataFrame(rows, columns=["item", "worker", "label"])
    gold = {"i1": "x", "i2": "y", "i3": "y"}
    return df, gold


def test_score_workers_hand_computed(small):
    df, gold = small
    before = df.copy()
    s = score_workers(df, gold)
    pd.testing.assert_frame_equal(df, before)  # input untouched
    t = s.table
    assert list(t.index) == ["a", "b", "c"] and t.index.name == "worker"
    assert t["n_answers"].tolist() == [4, 3, 1]
    assert t["n_gold"].tolist() == [3, 3, 0]
    assert t["n_correct"].tolist() == [3, 1, 0]
    assert t.loc["a", "accuracy"] == 1.0 and t.loc["b", "accuracy"] == pytest.approx(1 / 3)
    assert t["accuracy"].isna().tolist() == [False, False, True]
    assert str(t["accuracy"].dtype) == "Float64"
    assert not np.isnan(t[["accuracy", "ci_low", "ci_high"]].to_numpy(dtype=float, na_value=0)).any()
    lo, hi = wilson_interval(1, 3)
    assert t.loc["b", "ci_low"] == pytest.approx(float(lo)) and t.loc["b", "ci_high"] == pytest.approx(float(hi))
    assert t.loc["a", "ci_high"] == 1.0
    # b: class x: i1 answered y -> recall_x 0; class y: i2 right, i3 wrong -> 0.5
    assert t.loc["b", "recall_x"] == 0.0 and t.loc["b", "recall_y"] == 0.5
    assert t.loc["a", "recall_x"] == 1.0 and t.loc["a", "recall_y"] == 1.0
    assert pd.isna(t.loc["c", "recall_x"])
    assert s.n_gold_items == 3 and "scored=2" in repr(s)
    assert list(s.recall.columns) == ["x", "y"]


def test_confusions(small):
    df, gold = small
    s = score_workers(df, gold)
    assert s.confusions.shape == (3, 2, 2)
    with pytest.raises(ValueError):
        s.confusions[0, 0, 0] = 5  # read-only
    np.testing.assert_array_equal(s.confusion("b").to_numpy(), [[0, 1], [1, 1]])
    assert s.confusion("b").index.name == "true" and s.confusion("b").columns.name == "observed"
    frame = s.confusion_frame()
    assert (frame["count"] > 0).all()
    assert frame.groupby("worker")["count"].sum().to_dict() == {"a": 3, "b": 3}
    assert len(s.confusion_frame(include_zeros=True)) == 3 * 2 * 2
    np.testing.assert_array_equal(s.confusions.sum(axis=(1, 2)), s.table["n_gold"].to_numpy())
    with pytest.raises(InputError, match="unknown worker"):
        s.confusion("zz")


def test_exclude_unscored(small):
    df, gold = small
    s = score_workers(df, gold, include_unscored=False)
    assert list(s.table.index) == ["a", "b"]
    assert s.confusions.shape[0] == 2
    np.testing.assert_array_equal(s.confusion("b").to_numpy(), [[0, 1], [1, 1]])
    assert s.table["accuracy"].notna().all()


def test_gold_forms_and_confidence(small):
    df, gold = small
    ref = score_workers(df, gold).table
    for g in (pd.Series(gold), pd.DataFrame({"task": list(gold), "label": list(gold.values())}),
              {**gold, "i4": None}):
        pd.testing.assert_frame_equal(score_workers(df, g).table, ref)
    table = AnnotationTable.from_pandas(df)
    pd.testing.assert_frame_equal(score_workers(table, gold).table, ref)
    wide = score_workers(df, gold, confidence=0.99).table
    assert (wide["ci_low"] <= ref["ci_low"]).all() and (wide["ci_high"] >= ref["ci_high"]).all()


def test_sorted(small):
    df, gold = small
    s = score_workers(df, gold)
    assert list(s.sorted().index) == ["b", "a", "c"]  # worst lower bound first, NA last
    assert list(s.sorted("accuracy", ascending=False).index) == ["a", "b", "c"]
    assert list(s.sorted(["n_gold", "n_answers"], ascending=[False, False]).index) == ["a", "b", "c"]
    with pytest.raises(InputError, match="cannot sort"):
        s.sorted("nope")


def _scores_from_counts(counts):
    """Workers w0.. with (n_gold, n_correct) on a binary task, all gold items distinct."""
    rows, gold, item = [], {}, 0
    for w, (n, k) in enumerate(counts):
        for j in range(n):
            gold[f"g{item}"] = 1
            rows.append((f"g{item}", f"w{w}", 1 if j < k else 0))
            item += 1
    rows.append(("extra", "w_none", 0))
    return score_workers(pd.DataFrame(rows, columns=["item", "worker", "label"]), gold)


def test_flag_interval_rule():
    s = _scores_from_counts([(2, 0), (20, 3), (10, 6), (40, 38), (4, 2)])
    # w0: 0/2 -> upper 0.658 < 0.7 but only 2 gold answers (min_gold 3 by default);
    # w4: 2/4 -> accuracy 0.5 but upper 0.85: not credibly below 0.7
    assert list(s.flag(0.7).index) == ["w1"]
    assert list(s.flag(0.7, min_gold=1).index) == ["w1", "w0"]  # worst upper bound first
    assert list(s.flag(0.9, min_gold=1).index) == ["w1", "w0", "w2", "w4"]
    # w2: 6/10, 95% upper 0.847 -> not below 0.8; at 50% confidence the interval is narrow enough
    assert "w2" not in s.flag(0.8).index
    assert "w2" in s.flag(0.8, confidence=0.5).index
    assert "w3" not in s.flag(0.9, min_gold=0).index and "w_none" not in s.flag(1.0, min_gold=0).index
    f = s.flag(0.7)
    assert list(f.columns) == ["n_gold", "n_correct", "accuracy", "ci_low", "ci_high", "reason"]
    assert f.loc["w1", "n_correct"] == 3 and "3/20" in f.loc["w1", "reason"] and "0.7" in f.loc["w1", "reason"]
    assert (f["ci_high"] < 0.7).all() and f["ci_high"].is_monotonic_increasing
    assert s.flag(0.0).empty


@pytest.mark.parametrize("kw,msg", [({"min_accuracy": 1.5}, "min_accuracy"), ({"min_accuracy": "x"}, "min_accuracy"),
                                    ({"min_gold": -1}, "min_gold"), ({"min_gold": 2.5}, "min_gold"),
                                    ({"confidence": 1.0}, "confidence")])
def test_flag_bad_arguments(small, kw, msg):
    s = score_workers(*small)
    with pytest.raises(InputError, match=msg):
        s.flag(**kw)


def test_to_frame(small):
    df, gold = small
    s = score_workers(df, gold)
    out = s.to_frame(min_accuracy=0.9, min_gold=3, sort_by="ci_low")
    assert out.columns[0] == "worker" and list(out["worker"]) == ["b", "a", "c"]
    assert out["flagged"].tolist() == [True, False, False]  # b: 1/3 -> upper 0.79 < 0.9
    assert "1/3 gold" in out.loc[0, "flag_reason"] and out.loc[1, "flag_reason"] == ""
    out = s.to_frame(min_accuracy=0.7, min_gold=3)
    assert list(out["worker"]) == ["a", "b", "c"] and (out["flag_reason"] == "").all()
    assert not out["flagged"].any()
    assert "flagged" not in s.to_frame().columns


@pytest.mark.parametrize(
    "gold,msg",
    [
        ({"i1": "x", "nope": "y"}, "not in the table"),
        ({"i1": "z"}, "label"),
        ({}, "empty"),
        ({"i1": None}, "empty"),
        (pd.DataFrame({"item": ["i1", "i1"], "label": ["x", "y"]}), "different labels"),
        (pd.DataFrame({"item": ["i1"], "answer": ["x"]}), "label"),
        (["x", "y"], "Series, mapping or DataFrame"),
    ],
)
def test_bad_gold(small, gold, msg):
    with pytest.raises(GoldError, match=msg):
        score_workers(small[0], gold)


@pytest.mark.parametrize("confidence", [0, 1, -1, 2, float("nan")])
def test_bad_confidence(small, confidence):
    with pytest.raises(InputError, match="confidence"):
        score_workers(*small, confidence=confidence)


def test_int_ids_and_string_gold_ids():
    df = pd.DataFrame({"item": [1, 1, 2], "worker": [10, 11, 10], "label": [0, 1, 1]})
    s = score_workers(df, {1: 0, 2: 1})
    assert s.table["n_correct"].tolist() == [2, 0]
    # CSV-read tables hold string ids; integer gold ids are converted
    t = AnnotationTable.from_pandas(df.astype({"item": str, "worker": str}))
    assert score_workers(t, {1: 0, 2: 1}).table["n_correct"].tolist() == [2, 0]


def test_duplicates_keep_counts_every_vote():
    df = pd.DataFrame({"item": [1, 1, 1], "worker": ["a", "a", "b"], "label": ["x", "y", "x"]})
    s = score_workers(df, {1: "x"}, duplicates="keep")
    assert s.table["n_gold"].tolist() == [2, 1] and s.table["n_correct"].tolist() == [1, 1]


def test_matches_naive_on_random_data():
    rng = np.random.default_rng(3)
    n = 400 if NOJIT else 3000
    df = pd.DataFrame({"item": rng.integers(0, n // 5, n), "worker": rng.integers(0, 40, n),
                       "label": rng.choice(list("abcd"), n)}).drop_duplicates(["item", "worker"])
    gold = {i: rng.choice(list("abcd")) for i in df["item"].unique() if rng.random() < 0.3}
    s = score_workers(df, gold)
    ref = naive_worker_scores(df.itertuples(index=False), gold)
    got = {w: (int(r.n_gold), int(r.n_correct)) for w, r in s.table.iterrows()}
    assert got == ref
    for parallel in (True, False):
        pd.testing.assert_frame_equal(score_workers(df, gold, parallel=parallel).table, s.table)


# --------------------------------------------------------------------------- properties
frames = st.integers(min_value=0, max_value=2**32 - 1).map(
    lambda seed: random_table(np.random.default_rng(seed), n_items=25, n_workers=7, n_labels=3)
)


def _to_frame(t, gold):
    df = t.to_pandas()
    return df, {i: g for i, g in zip(t.items, gold) if g >= 0}


@settings(max_examples=40, deadline=None)
@given(frames, st.randoms(use_true_random=False))
def test_relabelling_items_and_workers_changes_nothing(tg, rnd):
    t, gold_codes = tg
    df, gold = _to_frame(t, gold_codes)
    if not gold:
        return
    ref = score_workers(df, gold).table
    wnames = [f"w{k}" for k in range(t.n_workers)]
    inames = [f"i{k}" for k in range(t.n_items)]
    rnd.shuffle(wnames)
    rnd.shuffle(inames)
    wmap = dict(zip(t.workers, wnames))
    imap = dict(zip(t.items, inames))
    rows = list(range(len(df)))
    rnd.shuffle(rows)
    df2 = pd.DataFrame({"item": df["item"].map(imap), "worker": df["worker"].map(wmap), "label": df["label"]})
    df2 = df2.iloc[rows].reset_index(drop=True)
    got = score_workers(df2, {imap[i]: g for i, g in gold.items()}).table
    got = got.loc[[wmap[w] for w in ref.index]]
    np.testing.assert_array_equal(got.to_numpy(dtype=float, na_value=-1), ref.to_numpy(dtype=float, na_value=-1))


@settings(max_examples=40, deadline=None)
@given(frames, st.permutations([0, 1, 2]))
def test_permuting_labels_permutes_output(tg, perm):
    t, gold_codes = tg
    df, gold = _to_frame(t, gold_codes)
    if not gold:
        return
    a = score_workers(df, gold, labels=[0, 1, 2])
    b = score_workers(df, gold, labels=perm)
    cols = ["n_answers", "n_gold", "n_correct", "accuracy", "ci_low", "ci_high"]
    pd.testing.assert_frame_equal(a.table[cols], b.table[cols])
    pd.testing.assert_frame_equal(a.recall[perm], b.recall, check_names=False)
    np.testing.assert_array_equal(a.confusions[:, perm][:, :, perm], b.confusions)


# --------------------------------------------------------------------------- accuracy_against_gold
def test_accuracy_hand_computed():
    pred = pd.Series(["x", "y", None, "y"], index=["i1", "i2", "i3", "i4"])
    gold = {"i1": "x", "i2": "x", "i3": "y", "i4": "y"}
    r = accuracy_against_gold(pred, gold)
    assert isinstance(r, GoldAccuracy)
    assert (r.accuracy, r.n_gold, r.n_scored, r.n_correct, r.n_missing) == (0.5, 4, 4, 2, 1)
    lo, hi = wilson_interval(2, 4)
    assert (r.ci_low, r.ci_high) == (float(lo), float(hi))
    assert r.per_class.loc["x"].tolist()[:4] == [2, 2, 1, 0] and r.per_class.loc["x", "accuracy"] == 0.5
    assert r.per_class.loc["y", "accuracy"] == 0.5 and r.per_class.loc["y", "n_missing"] == 1
    np.testing.assert_array_equal(r.confusion.to_numpy(), [[1, 1], [0, 1]])
    e = accuracy_against_gold(pred, gold, missing="exclude")
    assert (e.accuracy, e.n_scored, e.n_correct) == (2 / 3, 3, 2)
    assert e.per_class.loc["y", "accuracy"] == 1.0
    assert "accuracy 0.5000" in str(r) and r.to_dict()["missing"] == "wrong"


def test_accuracy_class_never_predicted_and_na_recall():
    pred = pd.Series([None, "x"], index=[1, 2])
    r = accuracy_against_gold(pred, {1: "y", 2: "x"}, missing="exclude")
    assert pd.isna(r.per_class.loc["y", "accuracy"]) and r.per_class.loc["x", "accuracy"] == 1.0
    assert str(r.per_class["accuracy"].dtype) == "Float64"


def test_accuracy_from_estimator_result_frame(small):
    df, gold = small
    mv = MajorityVote().fit(df)
    ref = accuracy_against_gold(mv.labels_, gold)
    for obj in (mv, mv.result_, mv.result_.to_pandas()):
        r = accuracy_against_gold(obj, gold)
        assert (r.accuracy, r.n_scored, r.n_correct) == (ref.accuracy, ref.n_scored, ref.n_correct)
        pd.testing.assert_frame_equal(r.per_class, ref.per_class, check_index_type=False)
    naive = naive_accuracy({k: v for k, v in mv.labels_.items()}, gold)
    assert ref.accuracy == naive[0]


def test_accuracy_matches_naive_random():
    rng = np.random.default_rng(5)
    labels = np.array(["a", "b", "c"], dtype=object)
    for _ in range(20):
        n = int(rng.integers(1, 30))
        vals = labels[rng.integers(0, 3, n)]
        vals[rng.random(n) < 0.2] = None
        pred = pd.Series(vals, index=[f"i{k}" for k in range(n)], dtype=object)
        gold = {f"i{k}": labels[rng.integers(0, 3)] for k in range(n) if rng.random() < 0.7}
        if not gold:
            continue
        for missing in ("wrong", "exclude"):
            acc, n_scored, n_correct, per = naive_accuracy(pred.to_dict(), gold, missing)
            if acc is None:
                with pytest.raises(GoldError, match="none of"):
                    accuracy_against_gold(pred, gold, missing=missing)
                continue
            r = accuracy_against_gold(pred, gold, missing=missing)
            assert (r.accuracy, r.n_scored, r.n_correct) == (acc, n_scored, n_correct)
            for cls, (s, c) in per.items():
                assert (r.per_class.loc[cls, "n_scored"], r.per_class.loc[cls, "n_correct"]) == (s, c)


def test_accuracy_bad_inputs(small):
    df, gold = small
    mv = MajorityVote().fit(df)
    with pytest.raises(GoldError, match="without a result"):
        accuracy_against_gold(mv, {"nope": "x"})
    with pytest.raises(GoldError, match="gold label"):
        accuracy_against_gold(mv, {"i1": "zzz"})
    with pytest.raises(GoldError, match="empty"):
        accuracy_against_gold(mv, {})
    with pytest.raises(GoldError, match="different labels"):
        accuracy_against_gold(mv, pd.DataFrame({"item": ["i1", "i1"], "label": ["x", "y"]}))
    with pytest.raises(NotFittedError):
        accuracy_against_gold(MajorityVote(), gold)
    with pytest.raises(InputError, match="expected a fitted estimator"):
        accuracy_against_gold([1, 2], gold)
    with pytest.raises(InputError, match="missing"):
        accuracy_against_gold(mv, gold, missing="ignore")
    with pytest.raises(InputError, match="confidence"):
        accuracy_against_gold(mv, gold, confidence=1.0)
    with pytest.raises(InputError, match="twice"):
        accuracy_against_gold(pd.Series(["x", "y"], index=["i1", "i1"]), gold)
    with pytest.raises(InputError, match="item"):
        accuracy_against_gold(pd.DataFrame({"x": [1]}), gold)


def test_accuracy_int_labels_and_ids_from_csv_strings():
    pred = pd.Series(pd.array([0, 1, None], dtype="Int64"), index=pd.Index(["1", "2", "3"]))
    r = accuracy_against_gold(pred, {1: 0, 2: 0, 3: 1})
    assert (r.n_correct, r.n_missing) == (1, 1) and list(r.per_class.index) == [0, 1]


# --------------------------------------------------------------------------- shared datasets
@pytest.mark.shared
def test_act_sp_amt_matches_groupby(datasets_dir):
    d = datasets_dir / "act_sp_amt"
    answers = pd.read_csv(d / "answers.csv", dtype={"task": str, "worker": str})
    gold = pd.read_csv(d / "gold.csv", dtype={"task": str})
    s = score_workers(answers, gold)
    m = answers.merge(gold.rename(columns={"label": "gold"}), on="task", how="left")
    m = m[m["gold"].notna()]
    m["ok"] = m["label"] == m["gold"]
    g = m.groupby("worker").agg(n_gold=("ok", "size"), n_correct=("ok", "sum"))
    got = s.table.loc[g.index]
    assert got["n_gold"].tolist() == g["n_gold"].tolist()
    assert got["n_correct"].tolist() == g["n_correct"].astype(int).tolist()
    np.testing.assert_allclose(got["accuracy"].to_numpy(dtype=float), g["n_correct"] / g["n_gold"])
    rec = m[m["gold"] == 1].groupby("worker")["ok"].mean()
    np.testing.assert_allclose(s.table.loc[rec.index, "recall_1"].to_numpy(dtype=float), rec.to_numpy())
    assert s.table["n_answers"].sum() == len(answers)
    r = accuracy_against_gold(MajorityVote().fit(answers), gold)
    assert r.accuracy == pytest.approx(0.944, abs=5e-4)  # crowd-kit MV on act_sp_amt (shared README)
    assert math.isclose(r.per_class["n_gold"].sum(), 500)
    assert isinstance(s, GoldScores)


def test_polars_and_arrow_inputs(small):
    import polars as pl  # a core dependency
    df, gold = small
    ref = score_workers(df, gold).table
    gold_pl = pl.DataFrame({"item": list(gold), "label": list(gold.values())})
    pd.testing.assert_frame_equal(score_workers(pl.from_pandas(df), gold_pl).table, ref)
    pd.testing.assert_frame_equal(score_workers(pl.from_pandas(df).to_arrow(), gold).table, ref)


@settings(max_examples=40, deadline=None)
@given(frames, st.randoms(use_true_random=False), st.permutations([0, 1, 2]))
def test_accuracy_properties(tg, rnd, perm):
    t, gold_codes = tg
    df, gold = _to_frame(t, gold_codes)
    if not gold:
        return
    mv = MajorityVote().fit(df)
    ref = accuracy_against_gold(mv, gold)
    # relabelling items (and shuffling the series) changes nothing
    names = [f"i{k}" for k in range(t.n_items)]
    rnd.shuffle(names)
    imap = dict(zip(t.items, names))
    pred = mv.labels_.rename(index=imap).sample(frac=1.0, random_state=rnd.randint(0, 10**6))
    r = accuracy_against_gold(pred, {imap[i]: g for i, g in gold.items()})
    assert (r.accuracy, r.n_scored, r.n_correct, r.n_missing) == (ref.accuracy, ref.n_scored, ref.n_correct,
                                                                   ref.n_missing)
    # renaming the labels by a permutation permutes the per-class table
    lmap = dict(enumerate(perm))
    r2 = accuracy_against_gold(pred.map(lmap), {imap[i]: lmap[g] for i, g in gold.items()})
    assert r2.accuracy == ref.accuracy
    for lab, row in ref.per_class.iterrows():
        assert r2.per_class.loc[lmap[lab], "n_correct"] == row["n_correct"]
        assert r2.per_class.loc[lmap[lab], "n_gold"] == row["n_gold"]


def test_accuracy_int_predictions_string_gold_compare_by_str():
    # regression: int consensus labels vs gold labels read as strings scored 0 silently (Series path)
    # while the estimator path raised GoldError; both now compare by str
    df = pd.DataFrame({"item": [1, 1, 2, 2, 3, 3], "worker": list("ababab"), "label": [0, 0, 1, 1, 1, 0]})
    m = MajorityVote().fit(df)
    gold = {1: "0", 2: "1"}
    by_series = accuracy_against_gold(m.labels_, gold)
    by_estimator = accuracy_against_gold(m, gold)
    assert by_series.accuracy == by_estimator.accuracy == 1.0
    assert by_series.n_correct == by_estimator.n_correct == 2
    # the reverse: string predictions, int gold
    pred = pd.Series(["0", "1", "1"], index=[1, 2, 3])
    r = accuracy_against_gold(pred, {1: 0, 2: 0, 3: 1})
    assert (r.n_correct, r.n_scored) == (2, 3)
    # a gold label outside the estimator's label set is still an error
    with pytest.raises(GoldError, match="label set"):
        accuracy_against_gold(m, {1: "7"})


def test_score_workers_unknown_option_is_input_error():
    with pytest.raises(InputError, match="n_boot"):
        score_workers(pd.DataFrame({"item": [1, 1], "worker": ["a", "b"], "label": ["x", "y"]}), {1: "x"},
                      n_boot=3)


def test_score_workers_no_annotation_on_gold_raises():
    # regression: gold only on an item whose answers are all null gave an all-<NA> table, no error
    df = pd.DataFrame({"item": [1, 1, 2, 3], "worker": list("abab"), "label": ["x", "y", None, "x"]})
    with pytest.raises(GoldError, match="no annotation falls on"):
        score_workers(df, {2: "x"})
    assert score_workers(df, {2: "x", 3: "x"}).table.loc["b", "n_correct"] == 1


def test_wilson_shapes_that_do_not_broadcast():
    # regression: a raw numpy ValueError
    with pytest.raises(InputError, match="broadcast"):
        wilson_interval([1, 2], [3, 4, 5])
    lo, hi = wilson_interval([[1], [2]], [3, 4, 5])
    assert lo.shape == hi.shape == (2, 3)
