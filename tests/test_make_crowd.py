"""crowdagg.datasets.make_crowd: the synthetic source of tests and benchmarks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crowdagg.datasets import Crowd, make_crowd
from crowdagg.errors import InputError


def test_determinism() -> None:
    a = make_crowd(200, 30, 3, 4, random_state=7)
    b = make_crowd(200, 30, 3, 4, random_state=7)
    c = make_crowd(200, 30, 3, 4, random_state=8)
    pd.testing.assert_frame_equal(a.annotations, b.annotations)
    pd.testing.assert_series_equal(a.truth, b.truth)
    pd.testing.assert_frame_equal(a.workers, b.workers)
    np.testing.assert_array_equal(a.confusions, b.confusions)
    assert not a.annotations.equals(c.annotations)
    g = make_crowd(50, 10, 2, 3, random_state=np.random.default_rng(3))
    h = make_crowd(50, 10, 2, 3, random_state=np.random.default_rng(3))
    assert g.annotations.equals(h.annotations)


@pytest.mark.parametrize("workload", ["uniform", "skewed"])
def test_sizes_and_structure(workload: str) -> None:
    crowd = make_crowd(300, 40, 5, 6, workload=workload, random_state=0)
    assert isinstance(crowd, Crowd)
    df, truth, workers, conf = crowd  # a named tuple
    assert list(df.columns) == ["item", "worker", "label"]
    assert len(df) == 300 * 6
    assert df["item"].nunique() == 300 and (df.groupby("item").size() == 6).all()
    assert df["label"].between(0, 4).all() and df["label"].dtype.kind == "i"
    assert len(truth) == 300 and truth.index.equals(pd.Index(df["item"].unique()))
    assert truth.between(0, 4).all()
    assert len(workers) == 40 and list(workers.columns) == ["accuracy", "spammer", "n_annotations"]
    assert workers["n_annotations"].sum() == len(df)
    counts = df["worker"].value_counts().reindex(workers.index, fill_value=0)
    assert (counts.to_numpy() == workers["n_annotations"].to_numpy()).all()
    assert conf.shape == (40, 5, 5)
    np.testing.assert_allclose(conf.sum(axis=2), 1.0)
    assert (conf >= 0).all()
    np.testing.assert_allclose(workers["accuracy"], np.einsum("wkk->w", conf) / 5)


def test_no_duplicate_pairs() -> None:
    # per_item close to n_workers forces the redraw/fallback paths
    crowd = make_crowd(500, 8, 3, 7, workload="skewed", random_state=1)
    assert not crowd.annotations.duplicated(["item", "worker"]).any()
    full = make_crowd(20, 5, 2, 5, random_state=2)
    assert (full.annotations.groupby("item")["worker"].nunique() == 5).all()


@pytest.mark.parametrize("share, n_workers, expected", [(0.0, 50, 0), (0.1, 50, 5), (0.25, 40, 10), (1.0, 7, 7)])
def test_spammer_share(share: float, n_workers: int, expected: int) -> None:
    crowd = make_crowd(100, n_workers, 3, 3, spammer_share=share, random_state=0)
    assert int(crowd.workers["spammer"].sum()) == expected


def test_spammer_kinds() -> None:
    k = 4
    uni = make_crowd(50, 20, k, 3, spammer_share=0.5, spammer_kind="uniform", random_state=0)
    for conf in uni.confusions[uni.workers["spammer"].to_numpy()]:
        np.testing.assert_allclose(conf, 1.0 / k)
    const = make_crowd(50, 20, k, 3, spammer_share=0.5, spammer_kind="constant", random_state=0)
    for conf in const.confusions[const.workers["spammer"].to_numpy()]:
        col = np.flatnonzero(conf[0])
        assert col.size == 1 and (conf[:, col[0]] == 1).all()
    # constant spammers always give one label in the data too
    df = const.annotations
    spam_ids = const.workers.index[const.workers["spammer"]]
    per = df[df["worker"].isin(spam_ids)].groupby("worker")["label"].nunique()
    assert (per == 1).all()


def test_honest_accuracy_range_shows_in_the_data() -> None:
    crowd = make_crowd(4000, 20, 2, 5, accuracy=(0.9, 0.9), spammer_share=0.0, random_state=0)
    df = crowd.annotations
    hit = (df["label"].to_numpy() == crowd.truth.reindex(df["item"]).to_numpy()).mean()
    assert 0.87 < hit < 0.93
    assert crowd.workers["accuracy"].between(0.7, 1.0).all()


def test_class_prior_and_id_types() -> None:
    crowd = make_crowd(3000, 10, 3, 1, class_prior=[0.8, 0.2, 0.0], id_type="int", random_state=0)
    share = crowd.truth.value_counts(normalize=True)
    assert abs(share[0] - 0.8) < 0.03 and 2 not in share.index
    assert crowd.annotations["item"].dtype.kind == "i" and crowd.annotations["worker"].dtype.kind == "i"
    s = make_crowd(12, 11, 2, 2, random_state=0)
    assert s.annotations["item"].iloc[0] == "t00" and s.workers.index[0] == "w00"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_items": 0}, "n_items"),
        ({"n_workers": 0}, "n_workers"),
        ({"n_labels": 1}, "n_labels"),
        ({"per_item": 0}, "per_item"),
        ({"n_workers": 3, "per_item": 4}, "cannot exceed"),
        ({"spammer_share": 1.5}, "spammer_share"),
        ({"spammer_share": -0.1}, "spammer_share"),
        ({"accuracy": (0.9, 0.5)}, "accuracy"),
        ({"accuracy": (0.5, 1.2)}, "accuracy"),
        ({"spammer_kind": "evil"}, "spammer_kind"),
        ({"workload": "zipf"}, "workload"),
        ({"id_type": "uuid"}, "id_type"),
        ({"class_prior": [0.5, 0.5]}, "class_prior"),
        ({"class_prior": [0.5, 0.6, -0.1, 0.0]}, "class_prior"),
        ({"random_state": "seed"}, "random_state"),
        ({"n_items": 2.5}, "n_items"),
        ({"n_items": True}, "n_items"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        make_crowd(**kwargs)


@settings(max_examples=20, deadline=None)
@given(
    n_items=st.integers(1, 40),
    n_workers=st.integers(1, 12),
    n_labels=st.integers(2, 5),
    per_item=st.integers(1, 12),
    seed=st.integers(0, 2**31 - 1),
)
def test_property_sizes_and_uniqueness(n_items, n_workers, n_labels, per_item, seed) -> None:
    per_item = min(per_item, n_workers)
    crowd = make_crowd(n_items, n_workers, n_labels, per_item, random_state=seed)
    df = crowd.annotations
    assert len(df) == n_items * per_item
    assert not df.duplicated(["item", "worker"]).any()
    assert df["label"].between(0, n_labels - 1).all()
    assert crowd.truth.between(0, n_labels - 1).all()
