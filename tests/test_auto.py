"""crowdagg.aggregate and AutoAggregator: API, errors, the held-out score, determinism, contract."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import contract_checks
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crowdagg
from crowdagg.auto import AutoAggregator, annotation_uniforms, heldout_scores, resolve_method
from crowdagg.datasets import make_crowd
from crowdagg.errors import GoldError, ParameterError
from crowdagg.table import AnnotationTable, as_table

FAST = ["mv", "onecoin", "ds"]


@pytest.fixture(scope="module")
def crowd():
    return make_crowd(n_items=150, n_workers=15, n_labels=3, per_item=4, random_state=0)


# --------------------------------------------------------------------------- names and errors
@pytest.mark.parametrize("name,cls", [("mv", "MajorityVote"), ("MajorityVote", "MajorityVote"),
                                      ("majorityvote", "MajorityVote"), ("ds", "DawidSkene"),
                                      ("onecoin", "OneCoinDawidSkene"), ("kos", "KOS"), ("mmsr", "MMSR"),
                                      ("goldmv", "GoldMajorityVote"), ("auto", "AutoAggregator")])
def test_resolve_names(name, cls):
    assert resolve_method(name).__name__ == cls


def test_unknown_method_and_params(crowd):
    with pytest.raises(ParameterError, match="unknown method 'nope'.*mv"):
        crowdagg.aggregate(crowd.annotations, method="nope")
    with pytest.raises(ParameterError, match="method must be a method name"):
        crowdagg.aggregate(crowd.annotations, method=3)
    with pytest.raises(ParameterError, match="invalid parameter 'n_iter' for DawidSkene"):
        crowdagg.aggregate(crowd.annotations, method="ds", n_iter=3)
    with pytest.raises(ParameterError, match="takes no gold"):
        crowdagg.aggregate(crowd.annotations, method="mv", gold=crowd.truth.iloc[:3])
    with pytest.raises(ParameterError):
        crowdagg.aggregate(crowd.annotations, method="ds", max_iter=-1)


def test_named_method_with_params_and_table_options(crowd):
    est = crowdagg.aggregate(crowd.annotations.rename(columns={"item": "q"}), method="ds", max_iter=7, tol=0.0,
                             item_col="q")
    assert isinstance(est, crowdagg.DawidSkene) and est.n_iter_ == 7
    ref = crowdagg.DawidSkene(max_iter=7, tol=0.0).fit(crowd.annotations)
    pd.testing.assert_frame_equal(est.probas_.rename_axis(ref.probas_.index.name), ref.probas_)


def test_gold_goes_to_the_method(crowd):
    item = crowd.truth.index[0]
    other = (crowd.truth.iloc[0] + 1) % 3
    est = crowdagg.aggregate(crowd.annotations, method="ds", gold={item: other})
    assert est.labels_.loc[item] == other
    gmv = crowdagg.aggregate(crowd.annotations, method="goldmv", gold=crowd.truth.iloc[:50])
    assert isinstance(gmv, crowdagg.GoldMajorityVote)
    with pytest.raises(GoldError):
        crowdagg.aggregate(crowd.annotations, gold={"no-such-item": 0}, candidates=FAST)


@pytest.mark.parametrize("bad", [{"n_folds": 1}, {"candidates": []}, {"candidates": ["nope"]},
                                 {"candidates": ["auto"]}, {"random_state": -1}, {"max_select_annotations": 0},
                                 {"candidates": "mv"}])
def test_auto_bad_parameters(crowd, bad):
    with pytest.raises(ParameterError):
        AutoAggregator(**bad).fit(crowd.annotations)


# --------------------------------------------------------------------------- the score
def test_heldout_score_hand_case():
    """Two workers, two labels, one-hot posteriors.  Worker 0 answered item 0 (true 0) with 0:
    counts row 0 = [1, 0]; pooled = ([1, 0] + [0, 1] + 1) / row sums = [[2/3, 1/3], [1/3, 2/3]];
    C_0 row 0 = ([1, 0] + 2 * [2/3, 1/3]) / 3 = [7/9, 2/9]."""
    train = AnnotationTable.from_codes([0, 1], [0, 1], [0, 1], items=2, workers=2, labels=2)
    post = np.array([[1.0, 0.0], [0.0, 1.0]])
    s = heldout_scores(train, post, np.array([0, 0]), np.array([0, 0]), np.array([0, 1]))
    np.testing.assert_allclose(np.exp(s), [7 / 9, 2 / 9])
    # a soft posterior mixes the rows: item 0 at [0.5, 0.5] for worker 1 (row 1 = [0, 1] counts)
    post2 = np.array([[0.5, 0.5], [0.0, 1.0]])
    s2 = heldout_scores(train, post2, np.array([0]), np.array([1]), np.array([1]))
    assert np.isfinite(s2).all() and 0 < np.exp(s2[0]) < 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000))
def test_folds_follow_ids_not_rows(seed):
    df = make_crowd(n_items=30, n_workers=6, n_labels=2, per_item=3, random_state=seed % 20).annotations
    t1 = as_table(df)
    t2 = as_table(df.sample(frac=1.0, random_state=seed))
    u1 = pd.Series(annotation_uniforms(t1, 5), index=pd.MultiIndex.from_arrays(
        [t1.items[t1.item_codes], t1.workers[t1.worker_codes]]))
    u2 = pd.Series(annotation_uniforms(t2, 5), index=pd.MultiIndex.from_arrays(
        [t2.items[t2.item_codes], t2.workers[t2.worker_codes]]))
    np.testing.assert_array_equal(u1.sort_index().to_numpy(), u2.sort_index().to_numpy())
    assert ((u1 >= 0) & (u1 < 1)).all()


# --------------------------------------------------------------------------- auto
def test_auto_api(crowd):
    est = crowdagg.aggregate(crowd.annotations, candidates=FAST)
    assert isinstance(est, AutoAggregator)
    sel = est.selection_
    assert list(sel.index) == ["MajorityVote", "OneCoinDawidSkene", "DawidSkene"]
    assert {"heldout_loglik", "se", "diff_se", "n_scored", "chosen", "error"} <= set(sel.columns)
    assert sel["chosen"].sum() == 1 and sel.index[sel["chosen"]][0] == est.method_
    assert est.method_ == sel["heldout_loglik"].idxmax()
    assert type(est.estimator_).__name__ == est.method_
    pd.testing.assert_frame_equal(est.probas_, est.estimator_.probas_)
    pd.testing.assert_series_equal(est.skills_, est.estimator_.skills_)
    assert (sel["n_scored"] > 0).all() and (sel["heldout_loglik"] < 0).all()


def test_auto_prefers_the_generating_model():
    """Workers with strong class-dependent bias: DS's posteriors predict held-out answers far
    better than a plain vote's, and DS is chosen; its accuracy beats majority vote's."""
    rng = np.random.default_rng(0)
    n_items, n_workers = 400, 12
    truth = rng.integers(0, 2, n_items)
    rows = []
    for w in range(n_workers):
        # half the workers answer 1 for most items whose truth is 0
        flip0 = 0.45 if w % 2 else 0.05
        for i in rng.choice(n_items, 200, replace=False):
            y = truth[i]
            ans = (1 if rng.random() < flip0 else 0) if y == 0 else (1 if rng.random() < 0.9 else 0)
            rows.append((i, w, ans))
    df = pd.DataFrame(rows, columns=["item", "worker", "label"])
    est = crowdagg.aggregate(df, candidates=["mv", "ds"])
    assert est.method_ == "DawidSkene"
    mv = crowdagg.MajorityVote().fit(df)
    t = pd.Series(truth)
    assert (est.labels_ == t.loc[est.labels_.index]).mean() > (mv.labels_ == t.loc[mv.labels_.index]).mean()


def test_candidate_errors_are_recorded(crowd):
    est = AutoAggregator(candidates=["mv", "kos"]).fit(crowd.annotations)  # 3 labels: KOS refuses
    assert est.method_ == "MajorityVote"
    assert "binary" in est.selection_.loc["KOS", "error"] and est.selection_.loc["KOS", "n_scored"] == 0


def test_every_item_one_answer_falls_back_to_first_candidate():
    df = pd.DataFrame({"item": [1, 2, 3], "worker": ["a", "b", "c"], "label": [0, 1, 0]})
    est = AutoAggregator(candidates=FAST).fit(df)
    assert est.method_ == "MajorityVote" and est.labels_.tolist() == [0, 1, 0]


def test_deterministic_and_row_order(crowd):
    a = AutoAggregator(candidates=FAST).fit(crowd.annotations)
    b = AutoAggregator(candidates=FAST).fit(crowd.annotations.sample(frac=1.0, random_state=3))
    assert a.method_ == b.method_
    np.testing.assert_allclose(a.selection_["heldout_loglik"], b.selection_["heldout_loglik"], atol=1e-9)
    pd.testing.assert_frame_equal(a.probas_, b.probas_.loc[a.probas_.index], atol=1e-6)


def test_selection_subsample_keeps_whole_items(crowd):
    est = AutoAggregator(candidates=FAST, max_select_annotations=200).fit(crowd.annotations)
    assert est.selection_["n_scored"].max() < 0.5 * len(crowd.annotations)  # about 200 of 600
    assert len(est.labels_) == crowd.annotations["item"].nunique()  # the final fit sees everything


def test_inputs_untouched_and_no_nan(crowd):
    df = crowd.annotations.copy()
    est = crowdagg.aggregate(df, candidates=FAST)
    pd.testing.assert_frame_equal(df, crowd.annotations)
    assert not est.probas_.isna().any().any()


@pytest.mark.parametrize("check", contract_checks())
def test_contract(check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for df in crowdagg.testing._crowds():
            check(AutoAggregator(candidates=["mv", "onecoin"]), df)


def test_auto_passes_gold_to_candidates(crowd):
    item = crowd.truth.index[0]
    other = (crowd.truth.iloc[0] + 1) % 3
    est = crowdagg.aggregate(crowd.annotations, gold={item: other}, candidates=FAST)
    assert est.labels_.loc[item] == other
    assert est.estimator_.labels_.loc[item] == other


def test_auto_binary_with_kos_candidate():
    c = make_crowd(n_items=120, n_workers=10, n_labels=2, per_item=4, random_state=1)
    est = AutoAggregator(candidates=["mv", "kos", "onecoin"]).fit(c.annotations)
    assert est.selection_.loc["KOS", "error"] == "" and est.selection_["n_scored"].min() > 0


@pytest.mark.parametrize("n_rows", [1, 2, 3])
def test_auto_on_tiny_data(n_rows):
    df = pd.DataFrame({"item": [1, 2, 3], "worker": ["a", "a", "b"], "label": [0, 1, 0]}).iloc[:n_rows]
    est = crowdagg.aggregate(df)
    assert len(est.labels_) == n_rows and not est.probas_.isna().any().any()


def test_oversized_confusion_candidates_are_skipped_by_default():
    """3 workers x 150 labels: Dawid-Skene alone has 67,500 confusion parameters for 360
    answers (BCC the same, EBCC ten times more); the default selection skips them with the
    reason, the others compete; candidates named by the user are fitted anyway."""
    rng = np.random.default_rng(0)
    truth = rng.permutation(150)[:120]
    rows = [(i, w, int(truth[i]) if rng.random() < 0.8 else int(rng.integers(0, 150)))
            for i in range(120) for w in ("a", "b", "c")]
    df = pd.DataFrame(rows, columns=["item", "worker", "label"])
    auto = AutoAggregator().fit(df, labels=list(range(150)))
    assert auto.estimator_.table_.n_labels == 150
    sel = auto.selection_
    for name in ("DawidSkene", "BCC", "EBCC"):
        assert sel.loc[name, "error"].startswith("skipped: ") and "per annotation" in sel.loc[name, "error"]
    assert (sel.loc[["MajorityVote", "Wawa", "MACE"], "error"] == "").all()
    assert auto.method_ not in ("DawidSkene", "BCC", "EBCC")
    named = AutoAggregator(candidates=["mv", "ds"]).fit(df).selection_
    assert (named["error"] == "").all()
    # the shared datasets' largest ratio (music genre: 44 workers x 10^2 x 10 for 2,945 answers) stays in
    assert 44 * 100 * crowdagg.auto.CONFUSION_PARAMS["EBCC"] < crowdagg.auto.MAX_PARAMS_PER_ANNOTATION * 2945
