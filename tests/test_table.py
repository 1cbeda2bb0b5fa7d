"""AnnotationTable: constructors, codebooks, CSR layout, bad input."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crowdagg import AnnotationTable, as_table
from crowdagg.errors import (
    CrowdaggError,
    DuplicateAnnotationError,
    EmptyTableError,
    GoldError,
    InputError,
    MissingColumnError,
    MixedIdTypeError,
    NullIdError,
    UnhashableIdError,
    UnknownLabelError,
)
from tests.naive import naive_table


def frame():
    return pd.DataFrame(
        {
            "item": ["b", "a", "b", "c", "a", "b"],
            "worker": ["w1", "w1", "w2", "w2", "w3", "w3"],
            "label": ["y", "x", "y", "x", "x", "z"],
        }
    )


def check_layout(t: AnnotationTable) -> None:
    """CSR invariants every table must satisfy."""
    assert t.item_ptr[0] == 0 and t.item_ptr[-1] == t.n_annotations
    assert np.all(np.diff(t.item_ptr) >= 0)
    assert np.array_equal(t.item_codes, np.repeat(np.arange(t.n_items), np.diff(t.item_ptr)))
    assert t.worker_ptr[-1] == t.n_annotations
    assert np.array_equal(np.sort(t.worker_index), np.arange(t.n_annotations))
    for w in range(t.n_workers):
        sl = t.worker_index[t.worker_ptr[w] : t.worker_ptr[w + 1]]
        assert np.all(t.worker_codes[sl] == w)
        assert np.all(np.diff(sl) > 0)  # item order within a worker
    assert t.label_codes.min() >= 0 and t.label_codes.max() < t.n_labels


def rows_of(t: AnnotationTable):
    return sorted(zip(t.item_codes.tolist(), t.worker_codes.tolist(), t.label_codes.tolist()))


def test_from_pandas_codebooks_and_layout():
    df = frame()
    before = df.copy()
    t = AnnotationTable.from_pandas(df)
    assert list(t.items) == ["b", "a", "c"]  # first appearance
    assert list(t.workers) == ["w1", "w2", "w3"]
    assert list(t.labels) == ["x", "y", "z"]  # sorted
    assert (t.n_items, t.n_workers, t.n_labels, t.n_annotations) == (3, 3, 3, 6)
    check_layout(t)
    items, workers, labels, rows = naive_table(df)
    assert rows_of(t) == sorted(rows)
    pd.testing.assert_frame_equal(df, before)  # input untouched


def test_task_column_accepted_and_custom_names():
    df = frame().rename(columns={"item": "task"})
    assert AnnotationTable.from_pandas(df).n_items == 3
    df2 = frame().rename(columns={"item": "q", "worker": "ann", "label": "ans"})
    t = AnnotationTable.from_pandas(df2, item_col="q", worker_col="ann", label_col="ans")
    assert t.n_annotations == 6


@pytest.mark.parametrize("ctor", ["pandas", "polars", "arrow", "arrays", "csv", "parquet", "as_table_path"])
def test_every_constructor_agrees(ctor, tmp_path):
    df = frame()
    ref = AnnotationTable.from_pandas(df)
    if ctor == "pandas":
        t = AnnotationTable.from_pandas(df)
    elif ctor == "polars":
        t = AnnotationTable.from_polars(pl.from_pandas(df))
    elif ctor == "arrow":
        t = AnnotationTable.from_arrow(pa.Table.from_pandas(df))
    elif ctor == "arrays":
        t = AnnotationTable.from_arrays(df["item"], df["worker"].to_numpy(), list(df["label"]))
    elif ctor == "csv":
        df.to_csv(tmp_path / "a.csv", index=False)
        t = AnnotationTable.read_csv(tmp_path / "a.csv")
    elif ctor == "parquet":
        df.to_parquet(tmp_path / "a.parquet")
        t = AnnotationTable.read_parquet(tmp_path / "a.parquet")
    else:
        df.to_csv(tmp_path / "a.csv", index=False)
        t = as_table(str(tmp_path / "a.csv"))
    assert list(t.items) == list(ref.items)
    assert list(t.workers) == list(ref.workers)
    assert list(t.labels) == list(ref.labels)
    assert rows_of(t) == rows_of(ref)
    check_layout(t)


def test_polars_lazy_and_categorical():
    df = pl.from_pandas(frame()).with_columns(pl.col("worker").cast(pl.Categorical))
    t = AnnotationTable.from_polars(df.lazy())
    assert list(t.workers) == ["w1", "w2", "w3"]


def test_csv_keeps_ids_exactly(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("item,worker,label\n007,0012,1\n7,12,0\n007,12,1\n", encoding="utf-8")
    t = AnnotationTable.read_csv(p)
    assert list(t.items) == ["007", "7"]
    assert list(t.workers) == ["0012", "12"]
    assert list(t.labels) == [0, 1]


@pytest.mark.parametrize(
    "items,workers",
    [
        (["ä", "ö", "ä"], ["名前", "名前2", "名前2"]),
        ([10, 20, 10], [3, 4, 4]),
        ([1.5, 2.5, 1.5], ["a", "b", "b"]),
        ([True, False, True], ["a", "b", "b"]),
    ],
)
def test_id_round_trip(items, workers):
    df = pd.DataFrame({"item": items, "worker": workers, "label": ["p", "q", "q"]})
    t = AnnotationTable.from_pandas(df)
    back = t.to_pandas().sort_values(["item", "worker"]).reset_index(drop=True)
    exp = df.sort_values(["item", "worker"]).reset_index(drop=True)
    assert back["item"].tolist() == exp["item"].tolist()
    assert back["worker"].tolist() == exp["worker"].tolist()
    assert back["label"].tolist() == exp["label"].tolist()
    assert type(back["item"].iloc[0]) is type(exp["item"].iloc[0]) or isinstance(back["item"].iloc[0], str)
    assert t.to_polars().shape == (3, 3)


def test_labels_argument_fixes_order_and_unused_classes():
    t = AnnotationTable.from_pandas(frame(), labels=["z", "y", "x", "w"])
    assert list(t.labels) == ["z", "y", "x", "w"]
    assert t.label_counts().tolist() == [1, 2, 3, 0]


def test_categorical_label_column_uses_categories():
    df = frame()
    df["label"] = pd.Categorical(df["label"], categories=["z", "x", "y", "unused"], ordered=True)
    t = AnnotationTable.from_pandas(df)
    assert list(t.labels) == ["z", "x", "y", "unused"]


def test_null_labels_dropped_items_kept():
    df = pd.DataFrame({"item": [1, 1, 2, 3], "worker": ["a", "b", "a", "a"], "label": [1.0, 0.0, np.nan, None]})
    t = AnnotationTable.from_pandas(df)
    assert t.n_items == 3 and t.n_annotations == 2
    assert t.item_counts().tolist() == [2, 0, 0]
    assert t.dropped["null_label"] == 2
    assert list(t.labels) == [0, 1] and t.labels.dtype.kind == "i"  # integral floats -> int
    s = t.summary()
    assert s.items_without_annotations == 2 and s.dropped["null_label"] == 2
    assert "null_label: 2" in str(s)


def test_immutable():
    t = AnnotationTable.from_pandas(frame())
    with pytest.raises(AttributeError):
        t.items = None
    with pytest.raises(ValueError):
        t.label_codes[0] = 1
    t2 = pickle.loads(pickle.dumps(t))
    assert rows_of(t2) == rows_of(t) and t2.dropped == t.dropped


def test_duplicate_error_names_the_repeated_pairs_after_dropped_rows():
    # null-label rows shift positions: the message must still name the input pairs
    df = pd.DataFrame({"item": ["a", "b", "c", "b", "c", "a"],
                       "worker": ["w1", "w1", "w2", "w1", "w2", "w3"],
                       "label": [None, "x", None, "y", "x", "x"]})
    with pytest.raises(DuplicateAnnotationError, match=r"1 repeated .*\[\('b', 'w1'\)\]"):
        AnnotationTable.from_pandas(df)


def test_derived_arrays_are_built_on_first_use():
    # item_codes and the worker grouping are derived lazily; once built they are the
    # eager layout, read-only, and survive pickling and with_dropped either way
    t = AnnotationTable.from_pandas(frame())
    assert t._item_codes is None and t._worker_index is None
    fresh = pickle.loads(pickle.dumps(t))  # pickled before first use
    counts = t.worker_counts()  # counted without grouping by worker
    assert t._worker_index is None and counts.dtype == np.int64
    np.testing.assert_array_equal(t.item_codes, np.repeat(np.arange(t.n_items), np.diff(t.item_ptr)))
    assert t.item_codes.dtype == t.worker_codes.dtype
    wi, wp = t.worker_index, t.worker_ptr
    np.testing.assert_array_equal(wi, np.argsort(t.worker_codes, kind="stable"))
    np.testing.assert_array_equal(wp, np.r_[0, np.cumsum(np.bincount(t.worker_codes, minlength=t.n_workers))])
    for arr in (t.item_codes, wi, wp):
        assert not arr.flags.writeable
    assert t.worker_index is wi  # computed once
    assert t._pairs is None
    np.testing.assert_array_equal(t.worker_label_pairs, t.worker_codes * t.n_labels + t.label_codes)
    assert not t.worker_label_pairs.flags.writeable and t.worker_label_pairs is t.worker_label_pairs
    np.testing.assert_array_equal(t.worker_counts(), counts)
    for other in (fresh, pickle.loads(pickle.dumps(t)), t.with_dropped(rejected=1)):
        np.testing.assert_array_equal(other.item_codes, t.item_codes)
        np.testing.assert_array_equal(other.worker_index, wi)
        np.testing.assert_array_equal(other.worker_ptr, wp)
    with pytest.raises(ValueError, match="both"):
        AnnotationTable(items=t.items, workers=t.workers, labels=t.labels, item_codes=None,
                        worker_codes=t.worker_codes, label_codes=t.label_codes, item_ptr=t.item_ptr,
                        worker_index=wi)


# ------------------------------------------------------------------ bad input
def test_missing_column_message():
    with pytest.raises(MissingColumnError, match="worker") as ei:
        AnnotationTable.from_pandas(frame().drop(columns="worker"))
    assert isinstance(ei.value, KeyError) and isinstance(ei.value, CrowdaggError)


def test_empty_table():
    with pytest.raises(EmptyTableError):
        AnnotationTable.from_pandas(frame().iloc[:0])
    with pytest.raises(EmptyTableError, match="null"):
        AnnotationTable.from_pandas(pd.DataFrame({"item": [1], "worker": [1], "label": [None]}))


def test_null_ids():
    df = frame()
    df.loc[3, "worker"] = None
    with pytest.raises(NullIdError, match=r"'worker'.*\[3\]"):
        AnnotationTable.from_pandas(df)


def test_mixed_id_types():
    df = pd.DataFrame({"item": [1, "1", 2], "worker": ["a", "b", "a"], "label": [0, 1, 1]})
    with pytest.raises(MixedIdTypeError, match="'item'") as ei:
        AnnotationTable.from_pandas(df)
    assert isinstance(ei.value, TypeError)


def test_mixed_label_types():
    df = pd.DataFrame({"item": [1, 2, 3], "worker": ["a", "b", "a"], "label": [0, "x", 1]})
    with pytest.raises(MixedIdTypeError, match="label"):
        AnnotationTable.from_pandas(df)


def test_unhashable_ids():
    df = pd.DataFrame({"item": [[1], [2]], "worker": ["a", "b"], "label": [0, 1]})
    with pytest.raises(UnhashableIdError):
        AnnotationTable.from_pandas(df)


def test_unknown_labels():
    with pytest.raises(UnknownLabelError, match=r"'z'.*first rows: \[5\]"):
        AnnotationTable.from_pandas(frame(), labels=["x", "y"])


def test_duplicates_policies():
    df = pd.DataFrame(
        {"item": [1, 1, 2, 1], "worker": ["a", "a", "a", "a"], "label": ["x", "y", "x", "z"]}
    )
    with pytest.raises(DuplicateAnnotationError, match="2 repeated"):
        AnnotationTable.from_pandas(df)
    first = AnnotationTable.from_pandas(df, duplicates="first")
    last = AnnotationTable.from_pandas(df, duplicates="last")
    keep = AnnotationTable.from_pandas(df, duplicates="keep")
    lab = lambda t: dict(zip(t.items.take(t.item_codes), t.labels.take(t.label_codes)))  # noqa: E731
    assert lab(first) == {1: "x", 2: "x"} and first.dropped["duplicate"] == 2
    assert lab(last) == {1: "z", 2: "x"}
    assert keep.n_annotations == 4 and keep.dropped["duplicate"] == 0
    for t in (first, last, keep):
        check_layout(t)
    with pytest.raises(InputError, match="duplicates"):
        AnnotationTable.from_pandas(df, duplicates="nope")


def test_wrong_types_and_paths(tmp_path):
    with pytest.raises(InputError):
        AnnotationTable.from_pandas({"item": [1]})
    with pytest.raises(InputError):
        as_table(42)
    with pytest.raises(FileNotFoundError):
        AnnotationTable.read_csv(tmp_path / "missing.csv")
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(EmptyTableError):
        AnnotationTable.read_csv(tmp_path / "e.csv")
    with pytest.raises(InputError, match="already"):
        as_table(AnnotationTable.from_pandas(frame()), labels=["x"])
    with pytest.raises(InputError, match="one length"):
        AnnotationTable.from_arrays([1, 2], [1], [0, 1])


def test_encode_gold():
    t = AnnotationTable.from_pandas(frame())
    g = t.encode_gold({"a": "x", "c": "y"})
    assert g.tolist() == [-1, 0, 1]
    g2 = t.encode_gold(pd.DataFrame({"task": ["b"], "label": ["z"]}))
    assert g2.tolist() == [2, -1, -1]
    with pytest.raises(GoldError, match="not in the table"):
        t.encode_gold({"nope": "x"})
    with pytest.raises(GoldError, match="label"):
        t.encode_gold({"a": "nope"})
    with pytest.raises(GoldError, match="different labels"):
        t.encode_gold(pd.Series(["x", "y"], index=["a", "a"]))


def test_encode_gold_str_coercion(tmp_path):
    df = pd.DataFrame({"item": [1, 2], "worker": [1, 1], "label": [0, 1]})
    df.to_csv(tmp_path / "a.csv", index=False)
    t = AnnotationTable.read_csv(tmp_path / "a.csv")  # string ids
    assert t.encode_gold({2: 1}).tolist() == [-1, 1]


def test_from_codes_validation():
    t = AnnotationTable.from_codes([0, 1, 1], [0, 0, 1], [1, 0, 1], items=2, workers=2, labels=2)
    check_layout(t)
    with pytest.raises(InputError):
        AnnotationTable.from_codes([0, 5], [0, 0], [0, 0], items=2, workers=1, labels=1)


# ------------------------------------------------------------------ properties
annotations = st.lists(
    st.tuples(st.integers(0, 7), st.integers(0, 5), st.integers(0, 3)), min_size=1, max_size=60
)


@settings(max_examples=60, deadline=None)
@given(annotations)
def test_table_matches_naive(rows):
    df = pd.DataFrame(rows, columns=["item", "worker", "label"])
    df["item"] = "i" + df["item"].astype(str)
    t = AnnotationTable.from_pandas(df, duplicates="keep")
    check_layout(t)
    items, workers, labels, naive_rows = naive_table(df)
    assert list(t.items) == items and list(t.workers) == workers and list(t.labels) == labels
    assert rows_of(t) == sorted(naive_rows)
    # first-policy keeps exactly the first row per pair
    tf = AnnotationTable.from_pandas(df, duplicates="first")
    first = df.drop_duplicates(["item", "worker"], keep="first")
    assert tf.n_annotations == len(first)
    check_layout(tf)


def test_csv_na_strings_are_values_not_nulls(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("item,worker,label\n1,NA,yes\n1,bob,N/A\n2,bob,null\n2,ann,\n", encoding="utf-8")
    t = AnnotationTable.read_csv(p)
    assert list(t.workers) == ["NA", "bob", "ann"]
    assert sorted(t.labels) == ["N/A", "null", "yes"]
    assert t.dropped["null_label"] == 1  # only the empty cell


def test_csv_not_utf8(tmp_path):
    from crowdagg.errors import FormatError

    p = tmp_path / "a.csv"
    p.write_bytes("item,worker,label\n1,\xe9,x\n".encode("latin-1").replace(b"item", b"it\xffem"))
    with pytest.raises(FormatError, match="UTF-8"):
        AnnotationTable.read_csv(p)


def test_from_arrays_keeps_types_apart():
    with pytest.raises(MixedIdTypeError):
        AnnotationTable.from_arrays([1, 2], ["w", "v"], [1, "1"])
    with pytest.raises(MixedIdTypeError):
        AnnotationTable.from_arrays([1, "a"], ["w", "v"], [0, 1])
    t = AnnotationTable.from_arrays([1, 2], ["w", "v"], [0, 1])
    assert t.labels.dtype.kind == "i" and list(t.items) == [1, 2]
    with pytest.raises(InputError, match="1-d"):
        AnnotationTable.from_arrays(np.zeros((2, 2)), [1, 2], [0, 1])


def test_encode_worker_values_errors():
    from crowdagg.errors import WeightsError

    t = AnnotationTable.from_pandas(frame())
    with pytest.raises(WeightsError):
        t.encode_worker_values({"w1": "x"}, name="weights")
    with pytest.raises(WeightsError):
        t.encode_worker_values(["a", "b", "c"], name="weights")


def test_small_integer_ids_keep_their_dtype():
    df = pd.DataFrame({"item": np.array([5, 6, 5], dtype=np.uint32),
                       "worker": np.array([1, 2, 2], dtype=np.int8), "label": [0, 1, 1]})
    t = AnnotationTable.from_pandas(df)
    assert t.items.dtype == np.uint32 and t.workers.dtype == np.int8
    assert list(t.items) == [5, 6] and t.item_codes.dtype == np.int32
    check_layout(t)
