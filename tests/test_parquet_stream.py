"""The streamed Parquet read (row groups coded one batch at a time) builds exactly the
table of the whole read, and falls back to the whole read where it cannot stream."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crowdagg import AnnotationTable, errors, ingest
from crowdagg import table as T


def whole(path, item_col=None, worker_col="worker", label_col="label", labels=None, duplicates="error",
          strip=True):
    """The table of the whole (not streamed) read: every column in memory, then coded."""
    cols, names = ingest.read_parquet_columns(path, item_col=item_col, worker_col=worker_col,
                                              label_col=label_col, strip=strip)
    return T._build(*cols, names, labels, duplicates)


def assert_same(a: AnnotationTable, b: AnnotationTable) -> None:
    for k in ("items", "workers", "labels"):
        x, y = getattr(a, k), getattr(b, k)
        assert x.equals(y) and x.dtype == y.dtype, (k, x[:5], y[:5])
        assert [type(v) for v in x[:5]] == [type(v) for v in y[:5]]
    for k in ("worker_codes", "label_codes", "item_ptr"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k), err_msg=k)
    assert a.dropped == b.dropped


@pytest.fixture
def small_batches(monkeypatch):
    """Batches of 7 rows: many batches, and the codebook grows mid-batch."""
    monkeypatch.setattr(ingest, "PARQUET_BATCH_ROWS", 7)


def _write(tmp_path, frame_or_table, name="a.parquet", **kw):
    path = tmp_path / name
    t = frame_or_table if isinstance(frame_or_table, pa.Table) else pa.Table.from_pandas(
        frame_or_table, preserve_index=False)
    pq.write_table(t, path, **kw)
    return path


def _crowd(n, n_items, n_workers, seed=0, item_fmt="item{}", worker_fmt=" w{} "):
    rng = np.random.default_rng(seed)
    it = rng.integers(0, n_items, n)
    wk = rng.integers(0, n_workers, n)
    return pd.DataFrame({
        "item": [item_fmt.format(i) for i in it],
        "worker": [worker_fmt.format(w) for w in wk],
        "label": rng.integers(0, 4, n),
    })


@pytest.mark.parametrize("batches", [None, 7])
def test_string_ids_equal_whole_read(tmp_path, monkeypatch, batches):
    if batches:
        monkeypatch.setattr(ingest, "PARQUET_BATCH_ROWS", batches)
    # 200k distinct items: the codebook table (65536 slots) and byte buffer (1 MiB) grow
    df = _crowd(300_000 if batches is None else 3000, 200_000 if batches is None else 2000, 50)
    path = _write(tmp_path, df, row_group_size=50_000)
    expected = whole(path, duplicates="keep")
    monkeypatch.setattr(ingest, "read_parquet_columns", None)  # the streamed path only
    got = AnnotationTable.read_parquet(path, duplicates="keep")
    assert_same(got, expected)
    assert got.workers[0].startswith("w")  # stripped


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint32"])
def test_integer_ids_equal_whole_read(tmp_path, small_batches, dtype):
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"task": rng.integers(0, 100, 500).astype(dtype),
                       "worker": (rng.integers(0, 30, 500) - 10).astype("int64" if dtype == "uint32" else dtype),
                       "label": rng.choice(["a", "b", "c"], 500)})
    path = _write(tmp_path, df, row_group_size=64)
    got = AnnotationTable.read_parquet(path, duplicates="first")
    assert_same(got, whole(path, duplicates="first"))
    assert got.items.dtype == np.dtype(dtype)


@pytest.mark.parametrize("labels", [
    pa.array([1.5, None, float("nan"), 2.0, 1.5, None, 2.0, 0.1], pa.float64()),
    pa.array([True, False, None, True, True, False, None, False]),
    pa.array(["x", " y", "y ", None, "x", "", "z", "x"]),
    pa.array([10, 2, None, 10, 2**40, 3, 3, 2], pa.int64()),
])
def test_label_types_and_nulls_equal_whole_read(tmp_path, small_batches, labels):
    t = pa.table({"item": [f"i{k % 3}" for k in range(8)], "worker": [f"w{k}" for k in range(8)], "label": labels})
    path = _write(tmp_path, t, row_group_size=3)
    assert_same(AnnotationTable.read_parquet(path), whole(path))
    assert_same(AnnotationTable.read_parquet(path, strip=False), whole(path, strip=False))


def test_labels_option_and_unknown_label(tmp_path, small_batches):
    df = _crowd(100, 10, 5)
    path = _write(tmp_path, df)
    got = AnnotationTable.read_parquet(path, labels=[3, 2, 1, 0], duplicates="keep")
    assert_same(got, whole(path, labels=[3, 2, 1, 0], duplicates="keep"))
    with pytest.raises(errors.UnknownLabelError):
        AnnotationTable.read_parquet(path, labels=[0, 1], duplicates="keep")


def test_duplicates_rules(tmp_path, small_batches):
    df = _crowd(400, 20, 5, seed=3)
    path = _write(tmp_path, df)
    for rule in ("first", "last", "keep"):
        assert_same(AnnotationTable.read_parquet(path, duplicates=rule), whole(path, duplicates=rule))
    with pytest.raises(errors.DuplicateAnnotationError) as got:
        AnnotationTable.read_parquet(path)
    with pytest.raises(errors.DuplicateAnnotationError) as want:
        whole(path)
    assert str(got.value) == str(want.value)


def test_dictionary_columns(tmp_path, small_batches):
    df = _crowd(60, 10, 4)
    df["item"] = df["item"].astype("category")
    df["label"] = df["label"].astype("category")
    path = _write(tmp_path, df)
    assert_same(AnnotationTable.read_parquet(path, duplicates="keep"), whole(path, duplicates="keep"))


def test_folder_equal_whole_read(tmp_path, small_batches, monkeypatch):
    folder = tmp_path / "parts"
    folder.mkdir()
    rng = np.random.default_rng(5)
    for k, dtype in enumerate(["int64", "int32", "int64"]):
        df = pd.DataFrame({"item": rng.integers(0, 40, 50).astype(dtype), "worker": rng.integers(0, 9, 50),
                           "label": rng.integers(0, 3, 50)})
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), folder / f"part{k}.parquet")
    want = whole(folder, duplicates="keep")
    monkeypatch.setattr(ingest, "read_parquet_columns", None)  # the streamed path only
    assert_same(AnnotationTable.read_parquet(folder, duplicates="keep"), want)


def test_hive_partitions_fall_back(tmp_path):
    folder = tmp_path / "hive" / "label=1"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"item": ["a", "b"], "worker": ["x", "y"]}), folder / "p.parquet")
    assert ingest.parquet_batches(tmp_path / "hive", item_col=None, worker_col="worker", label_col="label",
                                  strip=True) is None
    got = AnnotationTable.read_parquet(tmp_path / "hive")
    assert_same(got, whole(tmp_path / "hive"))


@pytest.mark.parametrize("case", ["null item", "null worker", "all labels null", "float ids", "uint64 ids"])
def test_fallbacks_give_the_whole_reads_answer(tmp_path, small_batches, case):
    items = pa.array(["a", "b", "c", "d", "e", "f", "g", "h", "i"])
    workers = pa.array(["x", "y", "z"] * 3)
    labels = pa.array([1, 2, 1, 2, 1, 2, 1, 2, 1])
    if case == "null item":
        items = pa.array(["a", "b", "c", "d", "e", "f", "g", "h", None])
    elif case == "null worker":
        workers = pa.array(["x", None, "z"] * 3)
    elif case == "all labels null":
        labels = pa.array([None] * 9, pa.int64())
    elif case == "float ids":
        items = pa.array([0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5])
    else:
        items = pa.array([2**63 + k for k in range(9)], pa.uint64())
    path = _write(tmp_path, pa.table({"item": items, "worker": workers, "label": labels}), row_group_size=4)
    try:
        want = whole(path)
    except errors.CrowdaggError as exc:
        with pytest.raises(type(exc)) as got:
            AnnotationTable.read_parquet(path)
        assert str(got.value) == str(exc)
    else:
        assert_same(AnnotationTable.read_parquet(path), want)


def test_hash_collision_falls_back(tmp_path, monkeypatch):
    """Two strings on one 64-bit hash fail the byte check: the whole read codes them."""
    import crowdagg.kernels.strings as ks

    df = _crowd(50, 10, 3)
    path = _write(tmp_path, df)
    want = whole(path, duplicates="keep")
    calls = []
    real = ks.rows_match

    def fake(*args):
        calls.append(1)
        return False if len(calls) == 1 else real(*args)
    monkeypatch.setattr(ks, "rows_match", fake)
    assert_same(AnnotationTable.read_parquet(path, duplicates="keep"), want)
    assert calls


def test_empty_and_bad_files(tmp_path):
    path = _write(tmp_path, pa.table({"item": pa.array([], pa.string()), "worker": pa.array([], pa.string()),
                                      "label": pa.array([], pa.int64())}))
    with pytest.raises(errors.EmptyTableError):
        AnnotationTable.read_parquet(path)
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(errors.FormatError, match="bad.parquet"):
        AnnotationTable.read_parquet(bad)
    with pytest.raises(errors.MissingColumnError):
        AnnotationTable.read_parquet(_write(tmp_path, pa.table({"item": ["a"], "who": ["x"], "label": [1]}), "c.parquet"))


def test_truncated_data_pages_raise_format_error(tmp_path):
    df = _crowd(20_000, 500, 20)
    path = _write(tmp_path, df, row_group_size=2000, compression="none")
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid: mid + 4000] = b"\xff" * 4000  # corrupt row groups in the middle, footer intact
    path.write_bytes(bytes(data))
    with pytest.raises(errors.CrowdaggError):
        AnnotationTable.read_parquet(path, duplicates="keep")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.sampled_from(["a", "b", "", "é", "a ", "longer-item-id-0123456789"]),
                               st.integers(-3, 3), st.sampled_from([0, 1, 2, None])), min_size=1, max_size=40),
       batch=st.integers(1, 9), group=st.integers(1, 12))
def test_streamed_equals_whole_property(tmp_path_factory, rows, batch, group):
    path = tmp_path_factory.mktemp("p") / "x.parquet"
    items, workers, labels = zip(*rows)
    pq.write_table(pa.table({"item": pa.array(items), "worker": pa.array(workers, pa.int64()),
                             "label": pa.array(labels, pa.int64())}), path, row_group_size=group)
    old = ingest.PARQUET_BATCH_ROWS
    ingest.PARQUET_BATCH_ROWS = batch
    try:
        try:
            want = whole(path, duplicates="keep")
        except errors.CrowdaggError as exc:
            with pytest.raises(type(exc)):
                AnnotationTable.read_parquet(path, duplicates="keep")
            return
        assert_same(AnnotationTable.read_parquet(path, duplicates="keep"), want)
    finally:
        ingest.PARQUET_BATCH_ROWS = old


@pytest.mark.parametrize("streamed", [True, False])
def test_folder_reads_its_parquet_files_only(tmp_path, monkeypatch, streamed):
    """A README, Spark's _SUCCESS and .crc files, a _temporary/ folder: not read, not an error;
    *.parquet and *.pq files (any case, subfolders too) are, in Arrow's order."""
    folder = tmp_path / "parts"
    (folder / "sub").mkdir(parents=True)
    (folder / "_temporary").mkdir()
    pq.write_table(pa.table({"item": ["a", "b"], "worker": ["x", "x"], "label": [1, 2]}), folder / "p1.parquet")
    pq.write_table(pa.table({"item": ["c"], "worker": ["x"], "label": [1]}), folder / "sub" / "p2.PQ")
    for stray in ("README.txt", "_SUCCESS", ".p1.parquet.crc", "_temporary/p3.parquet", "notes.md"):
        (folder / stray).write_bytes(b"not parquet")
    if not streamed:
        monkeypatch.setattr(ingest, "parquet_batches", lambda *a, **k: None)
    t = AnnotationTable.read_parquet(folder)
    assert list(t.items) == ["a", "b", "c"] and t.n_annotations == 3


def test_folder_without_parquet_files_names_the_others(tmp_path):
    folder = tmp_path / "parts"
    (folder / "sub").mkdir(parents=True)
    (folder / "README.txt").write_text("hi")
    (folder / "sub" / "000000_0").write_bytes(b"PAR1")  # Hive's unnamed files: give them a .parquet name
    with pytest.raises(errors.EmptyTableError, match=r"holds no Parquet files \(\.parquet or \.pq\) "
                                                     r"\(other files: \['README.txt', 'sub/000000_0'\]\)"):
        AnnotationTable.read_parquet(folder)


@pytest.mark.parametrize("binary", [pa.binary(), pa.large_binary(), pa.binary_view(), "dictionary"])
@pytest.mark.parametrize("streamed", [True, False])
def test_binary_columns_are_read_as_text(tmp_path, monkeypatch, binary, streamed):
    """Parquet bytes without the UTF-8 annotation are the strings they spell (stripped as
    strings are): the table, and so the output, holds 'a', never b'a'."""
    def col(values):
        if binary == "dictionary":
            return pa.array(values, pa.binary()).dictionary_encode()
        return pa.array(values, binary)

    raw = pa.table({"item": col([b" a", b"b", b"a"]), "worker": col([b"w1", b"w1", b"w2"]),
                    "label": col([b"x", b"y ", b"x"])})
    text = pa.table({"item": ["a", "b", "a"], "worker": ["w1", "w1", "w2"], "label": ["x", "y", "x"]})
    path = _write(tmp_path, raw)
    if not streamed:
        monkeypatch.setattr(ingest, "parquet_batches", lambda *a, **k: None)
    t = AnnotationTable.read_parquet(path)
    ref = AnnotationTable.from_arrow(text)
    assert t.items.tolist() == ["a", "b"] and t.labels.tolist() == ["x", "y"] and t.workers.tolist() == ["w1", "w2"]
    np.testing.assert_array_equal(t.label_codes, ref.label_codes)
    np.testing.assert_array_equal(t.worker_codes, ref.worker_codes)


def test_binary_not_utf8_is_an_encoding_error(tmp_path):
    path = _write(tmp_path, pa.table({"item": pa.array([b"a", b"\xff\xfe"]), "worker": ["w", "w"],
                                      "label": ["x", "y"]}))
    with pytest.raises(errors.EncodingError, match=r"column 'item' of .* not UTF-8 text \(e\.g\. b'\\xff\\xfe'\)"):
        AnnotationTable.read_parquet(path)


def test_gold_parquet_binary_ids_are_text(tmp_path):
    from crowdagg.gold import read_gold

    path = _write(tmp_path, pa.table({"item": pa.array([b"a ", b"b"]), "label": pa.array([b"x", b"y"])}), "g.parquet")
    gold = read_gold(str(path))
    assert gold.index.tolist() == ["a", "b"] and gold.tolist() == ["x", "y"]


def test_float_labels_nan_and_negative_zero_across_batches(tmp_path, small_batches):
    """NaN is a null label and -0.0 is 0.0 in every batch, also where a batch holds only one of them."""
    nan = float("nan")
    labels = [0.0] * 7 + [-0.0] * 7 + [nan] * 7 + [1.5, -0.0, nan, 0.0, 1.5, nan, 2.5]
    n = len(labels)
    t = pa.table({"item": [f"i{k}" for k in range(n)], "worker": ["w"] * n,
                  "label": pa.array(labels, pa.float64(), from_pandas=False)})
    path = _write(tmp_path, t)
    got = AnnotationTable.read_parquet(path)
    assert_same(got, whole(path))
    ref = AnnotationTable.from_pandas(t.to_pandas())
    assert got.labels.tolist() == ref.labels.tolist() == [0.0, 1.5, 2.5]
    assert got.dropped["null_label"] == 9 and got.label_counts().tolist() == [16, 2, 1]
