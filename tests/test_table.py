"""AnnotationTable: constructors, codebooks, CSR layout, bad input."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
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


# ------------------------------------------------------------------ issue 13: ingest rules
from crowdagg.errors import (  # noqa: E402
    EncodingError,
    FileAccessError,
    FormatError,
    InputFileNotFoundError,
    NotAFileError,
    SimilarLabelsWarning,
)


def write(path, text):
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    return path


@pytest.mark.parametrize("body,line,fields", [
    ("a,w,1\nb,w\n", 3, 1 + 1),
    ("a,w,1\nb,w,2,3\n", 3, 4),
    ('a,w,1\n"multi\nline",w,2\n\nc,w\n', 6, 2),  # a quoted newline and a blank line move it on
])
def test_csv_ragged_row_names_its_line(tmp_path, body, line, fields):
    p = write(tmp_path / "r.csv", "item,worker,label\n" + body)
    with pytest.raises(FormatError, match=rf"line {line}: {fields} field\(s\) where the header has 3"):
        AnnotationTable.read_csv(p)


def test_csv_not_utf8_names_the_line(tmp_path):
    p = write(tmp_path / "l.csv", b"item,worker,label\na,w,1\nb,w,\xe9t\xe9\n")
    with pytest.raises(EncodingError, match="line 3") as ei:
        AnnotationTable.read_csv(p)
    assert isinstance(ei.value, UnicodeError) and isinstance(ei.value, FormatError)


def test_reader_path_errors(tmp_path, monkeypatch):
    for read in (AnnotationTable.read_csv, AnnotationTable.read_parquet, as_table):
        with pytest.raises(InputFileNotFoundError, match="no such file"):
            read(tmp_path / "nope.csv")
    with pytest.raises(NotAFileError, match="directory") as ei:
        AnnotationTable.read_csv(tmp_path)
    assert isinstance(ei.value, IsADirectoryError)
    p = write(tmp_path / "a.csv", "item,worker,label\na,w,1\n")
    import crowdagg.table as table_mod

    monkeypatch.setattr(table_mod.os, "access", lambda path, mode: False)
    with pytest.raises(FileAccessError, match="permission") as ei:
        AnnotationTable.read_csv(p)
    assert isinstance(ei.value, PermissionError)


def test_csv_header_only_and_missing_label(tmp_path):
    with pytest.raises(EmptyTableError, match="header but no"):
        AnnotationTable.read_csv(write(tmp_path / "h.csv", "item,worker,label\n"))
    with pytest.raises(MissingColumnError, match="label"):
        AnnotationTable.read_csv(write(tmp_path / "n.csv", "item,worker\na,w\n"))


def test_parquet_bad_files(tmp_path):
    csv_path = write(tmp_path / "a.csv", "item,worker,label\na,w,1\n")
    rand = write(tmp_path / "r.parquet", bytes(range(256)) * 4)
    frame().to_parquet(tmp_path / "ok.parquet")
    data = (tmp_path / "ok.parquet").read_bytes()
    trunc = write(tmp_path / "t.parquet", data[: len(data) // 2])
    for p in (csv_path, rand, trunc):
        with pytest.raises(FormatError, match="Parquet"):
            AnnotationTable.read_parquet(p)
    folder = tmp_path / "mixed"
    folder.mkdir()
    frame().to_parquet(folder / "a.parquet")
    pd.DataFrame({"item": [1], "worker": ["w9"], "label": ["x"]}).to_parquet(folder / "b.parquet")
    with pytest.raises(FormatError, match="one schema: column 'item'"):
        AnnotationTable.read_parquet(folder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmptyTableError, match="no Parquet"):
        as_table(tmp_path / "empty")
    same = tmp_path / "same"
    same.mkdir()
    frame().iloc[:3].to_parquet(same / "a.parquet")
    frame().iloc[3:].to_parquet(same / "b.parquet")
    assert rows_of(AnnotationTable.read_parquet(same)) == rows_of(AnnotationTable.from_pandas(frame()))


def test_csv_strips_cells_by_default(tmp_path):
    p = write(tmp_path / "w.csv", " item , worker ,label\n 007 ,w1, pos\nb,w1 ,pos \nc, w2,  \nd,w2,neg\n")
    t = AnnotationTable.read_csv(p)
    assert list(t.items) == ["007", "b", "c", "d"] and list(t.workers) == ["w1", "w2"]
    assert list(t.labels) == ["neg", "pos"]
    assert t.dropped["null_label"] == 1  # a cell of only whitespace is empty
    kept = AnnotationTable.read_csv(p, strip=False, item_col=" item ", worker_col=" worker ")
    assert list(kept.items) == [" 007 ", "b", "c", "d"]
    assert sorted(kept.labels) == ["  ", " pos", "neg", "pos "]
    nums = AnnotationTable.read_csv(write(tmp_path / "n.csv", "item,worker,label\na,w, 1\nb,w,2 \n"))
    assert list(nums.labels) == [1, 2] and nums.labels.dtype == np.int64
    assert as_table(str(p), strip=False, item_col=" item ", worker_col=" worker ").n_labels == 4
    with pytest.raises(InputError, match="strip"):
        as_table(frame(), strip=True)
    with pytest.raises(InputError, match="strip"):
        AnnotationTable.read_csv(p, strip="no")


def test_parquet_strips_strings_and_in_memory_is_exact(tmp_path):
    df = pd.DataFrame({"item": [" a", "b "], "worker": ["w", " w"],
                       "label": pd.Categorical([" x", "x"])})
    df.to_parquet(tmp_path / "a.parquet")
    t = AnnotationTable.read_parquet(tmp_path / "a.parquet")
    assert list(t.items) == ["a", "b"] and list(t.workers) == ["w"] and list(t.labels) == ["x"]
    kept = AnnotationTable.read_parquet(tmp_path / "a.parquet", strip=False)
    assert list(kept.workers) == ["w", " w"] and sorted(kept.labels) == [" x", "x"]
    mem = AnnotationTable.from_pandas(df)
    assert list(mem.items) == [" a", "b "] and sorted(mem.labels) == [" x", "x"]


def test_csv_labels_follow_the_text_readers_rule(tmp_path):
    def labels(cells):
        body = "".join(f"i{k},w,{c}\n" for k, c in enumerate(cells))
        return AnnotationTable.read_csv(write(tmp_path / "l.csv", "item,worker,label\n" + body)).labels

    assert list(labels(["-3", "12"])) == [-3, 12]
    big = ["99999999999999999999", "99999999999999999998", "12345678901234567890"]
    assert sorted(labels(big)) == sorted(big)  # beyond int64: exact strings, not merged floats
    assert list(labels(["1e20", "2e20", "3"])) == [3.0, 1e20, 2e20]
    assert sorted(labels(["1", "1.0"])) == ["1", "1.0"]  # one float: both stay strings
    assert sorted(labels(["007", "7"])) == ["007", "7"]
    assert sorted(labels(["true", "false"])) == ["false", "true"]
    assert list(labels(["0.5", "1.5"])) == [0.5, 1.5]


def test_distinct_values_never_merge():
    items, workers = ["a", "b", "c"], ["w", "w", "w"]
    t = AnnotationTable.from_arrays(items, workers, np.array([1e20, 2e20, 1.0]))
    assert t.n_labels == 3 and t.labels.dtype == np.float64
    t = AnnotationTable.from_arrays(items, workers, pd.Series([2**64 + 1, 2**64 + 2, -1], dtype=object))
    assert sorted(t.labels) == [-1, 2**64 + 1, 2**64 + 2]
    t = AnnotationTable.from_arrays(items, workers, np.array([2**64 - 1, 2**64 - 2, 0], dtype=np.uint64))
    assert t.n_labels == 3 and t.labels.dtype == np.uint64
    for dtype in ("Int64", "int64[pyarrow]"):
        col = pd.array([2**62 + 1, None, 2**62], dtype=dtype)
        t = AnnotationTable.from_pandas(pd.DataFrame({"item": items, "worker": workers, "label": col}))
        assert list(t.labels) == [2**62, 2**62 + 1] and t.labels.dtype == np.int64  # exact: no float64
        assert t.dropped["null_label"] == 1
    t = AnnotationTable.from_arrays(items, workers, [2**62 + 1, None, 2**62])  # list with None
    assert list(t.labels) == [2**62, 2**62 + 1]
    t = AnnotationTable.from_arrays(pd.array([2**64 - 1, 2**64 - 2, 5], dtype="UInt64"), workers, [0, 1, 0])
    assert list(t.items) == [2**64 - 1, 2**64 - 2, 5]


def test_bools_are_not_numbers():
    # pd.factorize alone merges True with 1 and False with 0 (the uniques look all-bool)
    with pytest.raises(MixedIdTypeError, match=r"'item'.*\['bool', 'number'\].*first positions: \[1, 3\]"):
        AnnotationTable.from_arrays([True, 1, False, 0], ["w"] * 4, [0, 1, 0, 1])
    with pytest.raises(MixedIdTypeError, match="'label'"):
        AnnotationTable.from_pandas(pd.DataFrame({"item": [1, 2], "worker": [1, 1],
                                                  "label": pd.Series([True, 1], dtype=object)}))
    t = AnnotationTable.from_arrays(["a", "b"], ["w", "w"], [True, False])
    with pytest.raises(UnknownLabelError, match="bools never match numbers"):
        AnnotationTable.from_arrays(["a", "b"], ["w", "w"], [True, False], labels=[0, 1])
    with pytest.raises(UnknownLabelError):
        t.encode_labels([1, 0])
    assert t.encode_labels([True]).tolist() == [1]
    with pytest.raises(GoldError):
        t.encode_gold({"a": 1})
    ti = AnnotationTable.from_arrays([0, 1], ["w", "w"], ["x", "y"])
    with pytest.raises(GoldError, match="not in the table"):
        ti.encode_gold({True: "x"})
    # numbers are compared by value: 1 and 1.0 are one label, as in a float column
    t = AnnotationTable.from_arrays(["a", "b", "c"], ["w"] * 3, pd.Series([1, 1.0, 2.5], dtype=object))
    assert list(t.labels) == [1.0, 2.5]
    assert AnnotationTable.from_arrays(["a"], ["w"], [1.0], labels=[0, 1]).label_counts().tolist() == [0, 1]


def test_tuples_and_mixed_labels_get_messages_that_say_so():
    with pytest.raises(UnhashableIdError, match=r"holds tuple values \(first positions: \[0, 1\]\).*scalar"):
        AnnotationTable.from_arrays([(1, 2), (1, 3)], ["w", "w"], [0, 1])
    with pytest.raises(UnhashableIdError, match="labels= holds tuple"):
        AnnotationTable.from_arrays(["a", "b"], ["w", "w"], [0, 1], labels=[(0, 1), (1, 2)])
    with pytest.raises(MixedIdTypeError, match=r"labels= mixes label kinds \['number', 'str'\]") as ei:
        AnnotationTable.from_arrays(["a", "b"], ["w", "w"], [0, 1], labels=[0, 1, "x"])
    assert "give the label set" not in str(ei.value)
    with pytest.raises(MixedIdTypeError, match="'label'") as ei:
        AnnotationTable.from_arrays(["a", "b"], ["w", "w"], [0, "x"], labels=[0, "x"])
    assert "labels=" not in str(ei.value).split("'label'")[1].split(";")[0]
    with pytest.raises(InputError, match="null"):
        AnnotationTable.from_arrays(["a", "b"], ["w", "w"], [0, 1], labels=[0, None])
    with pytest.raises(InputError, match="sequence"):
        AnnotationTable.from_arrays(["a", "b"], ["w", "w"], ["x", "y"], labels="xy")


def test_one_rule_across_constructors():
    df = pd.DataFrame({"item": pd.Series([True, 1], dtype=object), "worker": ["a", "b"], "label": [0, 1]})
    for build in (AnnotationTable.from_pandas, lambda d: AnnotationTable.from_arrays(*(list(d[c]) for c in d))):
        with pytest.raises(MixedIdTypeError):
            build(df)
    # Arrow and polars columns are typed: their bools and ints never meet in one column
    t = AnnotationTable.from_polars(pl.DataFrame({"item": [True, False], "worker": [1, 1], "label": [1, 0]}))
    assert list(t.items) == [True, False] and t.labels.dtype.kind == "i"


def test_summary_warns_about_similar_labels():
    t = AnnotationTable.from_arrays(list("abcde"), ["w"] * 5, ["Pos", "pos", "pos ", "neg", "NEG"])
    with pytest.warns(SimilarLabelsWarning) as rec:
        s = t.summary()
    assert len(rec) == 2 and len(s.warnings) == 2 and any("'Pos'" in str(r.message) for r in rec)
    assert "['Pos', 'pos', 'pos ']" in str(s) and "['NEG', 'neg']" in str(s)
    assert s.to_dict()["warnings"] == s.warnings
    import warnings as w

    with w.catch_warnings():
        w.simplefilter("error")
        assert AnnotationTable.from_pandas(frame()).summary().warnings == ()


distinct_labels = st.one_of(
    st.lists(st.integers(-(2**70), 2**70), min_size=1, max_size=6, unique=True),
    st.lists(st.floats(allow_nan=False, width=64), min_size=1, max_size=6, unique=True),
    st.lists(st.text(max_size=4), min_size=1, max_size=6, unique=True),
    st.lists(st.booleans(), min_size=1, max_size=2, unique=True),
    st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=6, unique=True),
)


@settings(max_examples=80, deadline=None)
@given(distinct_labels, st.sampled_from(["list", "series", "object", "nullable"]))
def test_n_distinct_labels_give_n_labels(values, how):
    n = len(values)
    items = [f"i{k}" for k in range(n)]
    col: object = values
    if how == "series":
        col = pd.Series(values)
    elif how == "object":
        col = pd.Series(values, dtype=object)
    elif how == "nullable":  # a null label as well: the MTurk reader's Int64 column
        if not all(isinstance(v, int) and not isinstance(v, bool) and abs(v) < 2**63 for v in values):
            return
        col = pd.array(values + [None], dtype="Int64")
        items = items + ["extra"]
    t = AnnotationTable.from_arrays(items, ["w"] * len(items), col)
    assert t.n_labels == n
    back = dict(zip(t.to_pandas()["item"], t.to_pandas()["label"]))
    for item, v in zip(items, values):
        assert back[item] == v and isinstance(back[item], (bool, np.bool_)) == isinstance(v, bool)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet="ab1 .", min_size=1, max_size=5), min_size=1, max_size=6))
def test_csv_distinct_stripped_cells_give_distinct_labels(tmp_path_factory, cells):
    cells = [c for c in cells if c.strip()]
    if not cells:
        return
    p = tmp_path_factory.mktemp("csv") / "a.csv"
    p.write_text("item,worker,label\n" + "".join(f"i{k},w,{c}\n" for k, c in enumerate(cells)))
    t = AnnotationTable.read_csv(p)
    assert t.n_labels == len({c.strip() for c in cells})
    kept = AnnotationTable.read_csv(p, strip=False)
    assert kept.n_labels == len(set(cells))


def test_empty_and_concat_tables():
    a = AnnotationTable.from_pandas(pd.DataFrame({"item": ["x", "x", "y"], "worker": ["u", "v", "u"],
                                                  "label": [1, 2, 1]}))
    b = AnnotationTable.from_codes([0], [1], [1], items=["z"], workers=a.workers, labels=a.labels)
    e = AnnotationTable.empty(pd.Index(["w"]), a.workers, a.labels)
    assert e.n_annotations == 0 and e.n_items == 1 and e.item_counts().tolist() == [0]
    both = AnnotationTable.concat([a, e, b])
    assert both.items.tolist() == ["x", "y", "w", "z"] and both.item_counts().tolist() == [2, 1, 0, 1]
    pd.testing.assert_frame_equal(both.to_pandas().iloc[:3], a.to_pandas())
    assert both.to_pandas().iloc[3].tolist() == ["z", "v", 2]


# --------------------------------------------------------------------------- NaN is null on every path
def _nan_build(path, df, tmp_path, monkeypatch):
    """``df`` (float columns holding NaN) built through one input path."""
    import pyarrow.parquet as pq

    from crowdagg import ingest

    arrow = _arrow_with_nan(df)
    assert any(pc.any(pc.is_nan(arrow.column(c))).as_py() for c in df if df[c].dtype.kind == "f")
    if path == "pandas":
        return AnnotationTable.from_pandas(df)
    if path == "pandas_arrow":
        return AnnotationTable.from_pandas(df.astype({c: pd.ArrowDtype(pa.float64()) for c in df
                                                      if df[c].dtype.kind == "f"}))
    if path == "polars":
        return AnnotationTable.from_polars(pl.from_arrow(arrow))
    if path == "arrow":
        return AnnotationTable.from_arrow(arrow)
    if path == "arrow_f16":
        return AnnotationTable.from_arrow(arrow.cast(pa.schema(
            [pa.field(f.name, pa.float16() if pa.types.is_floating(f.type) else f.type) for f in arrow.schema])))
    if path == "arrays":
        return AnnotationTable.from_arrays(*(arrow.column(c) for c in ("item", "worker", "label")))
    pq.write_table(arrow, tmp_path / "a.parquet", row_group_size=2)
    if path == "parquet_stream":  # the streamed read only, batches of 2 rows
        monkeypatch.setattr(ingest, "PARQUET_BATCH_ROWS", 2)
        monkeypatch.setattr(ingest, "read_parquet_columns", None)
    elif path == "parquet_whole":
        monkeypatch.setattr(ingest, "parquet_batches", lambda *a, **k: None)
    return AnnotationTable.read_parquet(tmp_path / "a.parquet")


def _arrow_with_nan(df):
    """``df`` as Arrow with NaN kept as NaN (``pa.Table.from_pandas`` would make it null)."""
    return pa.table({c: pa.array(df[c].to_numpy(), from_pandas=False) for c in df})


_NAN_PATHS = ["pandas", "pandas_arrow", "polars", "arrow", "arrow_f16", "arrays", "parquet_stream",
              "parquet_whole", "parquet"]


@pytest.mark.parametrize("path", _NAN_PATHS)
def test_nan_label_is_a_null_label_on_every_path(path, tmp_path, monkeypatch):
    """A float NaN label is a missing label everywhere (dropped, counted as null_label), as
    pandas takes it; -0.0 and 0.0 are one number.  Arrow's dictionary keeps both as values."""
    nan = float("nan")
    df = pd.DataFrame({"item": ["a", "a", "b", "b", "c", "c"], "worker": ["w1", "w2"] * 3,
                       "label": [nan, nan, 1.0, 2.0, 0.0, -0.0]})
    t = _nan_build(path, df, tmp_path, monkeypatch)
    assert list(t.labels) == [0, 1, 2] and t.labels.dtype == np.int64  # no NaN level, floats read as ints
    assert t.dropped["null_label"] == 2 and t.n_annotations == 4
    assert list(t.items) == ["a", "b", "c"] and t.item_counts().tolist() == [0, 2, 2]
    ref = AnnotationTable.from_pandas(df)
    assert rows_of(t) == rows_of(ref) and t.dropped == ref.dropped
    assert "null_label: 2" in str(t.summary()) and "nan" not in str(t.summary())


# the streamed Parquet read codes string and integer ids only: float ids take the whole read
@pytest.mark.parametrize("path", [p for p in _NAN_PATHS if p != "parquet_stream"])
@pytest.mark.parametrize("col", ["item", "worker"])
def test_nan_id_is_a_null_id_on_every_path(path, col, tmp_path, monkeypatch):
    """A NaN id is a null id (NullIdError), never an id named NaN that merges its rows."""
    nan = float("nan")
    df = pd.DataFrame({"item": ["a", "b", "c"], "worker": ["w1", "w1", "w1"], "label": ["x", "y", "x"]})
    df[col] = [1.0, nan, nan]
    with pytest.raises(NullIdError, match=rf"'{col}' has 2 null id\(s\) \(first rows: \[1, 2\]\)"):
        _nan_build(path, df, tmp_path, monkeypatch)


def test_nan_float_ratings_from_arrow_equal_pandas():
    """Numeric ratings read their levels through the same codebook: NaN is no rating."""
    from crowdagg.methods.ratings import MeanRating

    df = pd.DataFrame({"item": ["a", "a", "b", "b"], "worker": ["w1", "w2", "w1", "w2"],
                       "label": [1.5, float("nan"), 2.0, 4.0]})
    ref = MeanRating().fit(df).result_.to_pandas()
    got = MeanRating().fit(_arrow_with_nan(df)).result_.to_pandas()
    pd.testing.assert_frame_equal(got, ref)
    assert got["estimate"].tolist() == [1.5, 3.0]


# --------------------------------------------------------------------------- CSV gold ids typed as the table's
def _gold_csv(tmp_path, body):
    path = tmp_path / "gold.csv"
    path.write_text("item,label\n" + body)
    return str(path)


@pytest.mark.parametrize("items, body, want", [
    ([1, 2, 3], "1,x\n 3 ,y\n", [1, 3]),  # stripped, then read as the integer ids
    ([1.5, 2.0, 3.0], "1.5,x\n2.0,y\n", [1.5, 2.0]),  # floats as str (and the output CSV) writes them
    ([True, False, True], "False,y\n", [False]),
    (["01", "1", "2"], "01,x\n1,y\n", ["01", "1"]),  # string ids: as written, "01" is not "1"
])
def test_csv_gold_item_ids_take_the_tables_type(tmp_path, items, body, want):
    from crowdagg.gold import read_gold
    from crowdagg.quality import score_workers

    df = pd.DataFrame({"item": items, "worker": ["w1", "w1", "w2"], "label": ["x", "y", "x"]})
    t = AnnotationTable.from_pandas(df)
    gold = read_gold(_gold_csv(tmp_path, body), labels=t.labels, items=t.items)
    assert gold.index.tolist() == want and [type(v) for v in gold.index] == [type(v) for v in want]
    codes = t.encode_gold(gold)
    assert (codes >= 0).sum() == len(want) and codes[t.items.get_indexer(want)].tolist() == t.labels.get_indexer(
        gold.to_numpy()).tolist()
    assert score_workers(t, gold).n_gold_items == len(want)


@pytest.mark.parametrize("items, cell", [
    ([1, 2], "01"), ([1, 2], "+1"), ([1, 2], "1.0"), ([1, 2], "x"), ([1, 2], "99999999999999999999"),
    ([1.0, 2.5], "1"), ([True, False], "true"), ([True, False], "1"),
])
def test_csv_gold_item_id_not_written_as_the_tables_type_is_named(tmp_path, items, cell):
    """Distinct ids never merge: text that no value of the type writes is an error naming it."""
    from crowdagg.gold import read_gold

    t = AnnotationTable.from_arrays(items, ["w"] * len(items), ["x"] * len(items))
    with pytest.raises(GoldError, match=rf"1 item id\(s\) that are not written as the table's .* item ids: "
                                        rf"\['{re.escape(cell)}'\]"):
        read_gold(_gold_csv(tmp_path, f"{cell},x\n"), labels=t.labels, items=t.items)


def test_csv_gold_without_items_keeps_strings_and_parquet_keeps_types(tmp_path):
    from crowdagg.gold import read_gold

    assert read_gold(_gold_csv(tmp_path, "1,x\n")).index.tolist() == ["1"]
    q = tmp_path / "g.parquet"
    pd.DataFrame({"item": ["1"], "label": ["x"]}).to_parquet(q)
    assert read_gold(str(q), items=pd.Index([1, 2])).index.tolist() == ["1"]  # typed file: taken as is


# --------------------------------------------------------------------------- messages show plain values
def _message(call):
    with pytest.raises(CrowdaggError) as info:
        call()
    return str(info.value)


def test_error_messages_show_ids_and_labels_as_plain_python_values():
    """``True``, ``'a'``, ``3`` in messages, never ``np.True_``, ``np.str_('a')``, ``np.int64(3)``."""
    bools = pa.table({"item": [True, True, False, False], "worker": ["w1", "w1", "w2", "w2"], "label": [1, 2, 1, 1]})
    msg = _message(lambda: AnnotationTable.from_arrow(bools))
    assert "[(True, 'w1'), (False, 'w2')]" in msg
    npstr = pd.Series([np.str_("a"), np.str_("a")], dtype=object)
    msgs = [
        msg,
        _message(lambda: AnnotationTable.from_arrays(npstr, [np.int64(3)] * 2, ["x", "y"])),
        _message(lambda: AnnotationTable.from_arrays(["a"], ["w"], [np.float32(1.5)], labels=[np.float32(2.5)])),
        _message(lambda: AnnotationTable.from_arrays(["a", "b"], ["w", "w"], [True, False],
                                                     labels=[np.True_, np.True_])),
    ]
    t = AnnotationTable.from_arrays(["a", "b"], ["w", "w"], [True, False])
    msgs += [
        _message(lambda: t.encode_gold({"a": np.int64(3)})),
        _message(lambda: t.encode_gold(pd.Series([True, False], index=[np.str_("a")] * 2, dtype=object))),
        _message(lambda: t.encode_worker_values(pd.Series([1.0, 2.0], index=[np.str_("w")] * 2), name="weights")),
    ]
    assert "[('a', 3)]" in msgs[1] and "labels=[2.5]: [1.5]" in msgs[2] and "repeats values: [True]" in msgs[3]
    assert "[False, True]: [3]" in msgs[4] and "['a']" in msgs[5] and "['w']" in msgs[6]
    assert not [m for m in msgs if "np." in m], msgs
