"""crowdagg.datasets: readers, load_dataset, the registry and benchmarks/accuracy.py."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crowdagg.datasets import (
    REGISTRY,
    Dataset,
    DatasetInfo,
    align_gold,
    detect_layout,
    get_dataset_info,
    infer_kind,
    list_datasets,
    load_dataset,
    read_common,
    read_mace,
    read_triples,
    read_truth_inference,
)
from crowdagg.errors import (
    DatasetNotFoundError,
    DuplicateAnnotationError,
    EmptyTableError,
    FileAccessError,
    FormatError,
    GoldError,
    InputError,
    MissingColumnError,
    NotAFileError,
)
from crowdagg.table import AnnotationTable

ROOT = Path(__file__).resolve().parents[1]
SHARED_NAMES = [
    "act_cf", "act_cf_amt", "act_ms_music_genre", "act_sp_amt", "act_sp_sentiment_polarity",
    "mace_rte", "mace_temporal", "mace_wsd", "snow2008_anger", "snow2008_disgust", "snow2008_fear",
    "snow2008_joy", "snow2008_sadness", "snow2008_surprise", "snow2008_valence", "snow2008_wordsim",
    "zheng_d_duck", "zheng_d_jn_product", "zheng_s4_dog", "zheng_s5_adultcontent",
]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def triples(df: pd.DataFrame) -> list[tuple]:
    """Annotations as a sorted list of (task, worker, label) with plain Python values."""
    cols = list(df.columns)[:3]
    return sorted((str(a), str(b), c) for a, b, c in df[cols].itertuples(index=False, name=None))


@pytest.fixture
def common_dir(tmp_path: Path) -> Path:
    d = tmp_path / "tiny"
    write(d / "answers.csv",
          "task,worker,label\n"
          "007,w1,1\n007,w2,1\n007,w3,0\n"
          "8,w1,0\n8,w2,0\n8,w3,\n"          # empty label: dropped
          "9,w1,1\n9,w1,0\n9,w2,0\n")        # (9, w1) twice
    write(d / "gold.csv", "task,label\n007,1\n8,0\n9,0\n42,1\n")  # 42 has no answers
    return d


# --------------------------------------------------------------------------- read_common
def test_read_common_keeps_ids_as_written(common_dir: Path) -> None:
    df, gold = read_common(common_dir)
    assert list(df.columns) == ["task", "worker", "label"]
    assert df["task"].tolist()[:3] == ["007", "007", "007"]
    assert len(df) == 9
    assert df["label"].isna().sum() == 1
    assert gold.index.tolist() == ["007", "8", "9", "42"]
    assert gold.tolist() == [1, 0, 0, 1]
    assert gold.index.name == "task" and gold.name == "label"


def test_read_common_explicit_files_and_no_gold(tmp_path: Path) -> None:
    a = write(tmp_path / "a.csv", "task,worker,label\nx,u,cat\nx,v,dog\n")
    df, gold = read_common(a)
    assert triples(df) == [("x", "u", "cat"), ("x", "v", "dog")]
    assert len(gold) == 0


# --------------------------------------------------------------------------- load_dataset
def test_load_dataset_table_by_hand(common_dir: Path) -> None:
    ds = load_dataset(common_dir)
    assert isinstance(ds, Dataset)
    table, gold, info, path, dropped = ds
    assert isinstance(table, AnnotationTable)
    # 9 rows - 1 empty label - 1 duplicate (first kept: (9, w1, 1))
    assert table.n_annotations == 7
    assert dropped == {"null_label": 1, "duplicate": 1, "gold_null": 0, "gold_without_answers": 1}
    got = triples(table.to_pandas())
    assert ("9", "w1", 1) in got and ("9", "w1", 0) not in got
    assert gold.index.tolist() == ["007", "8", "9"]
    assert table.encode_gold(gold).tolist() == [1, 0, 0]
    assert info.name == "tiny" and not info.registered and info.kind == "classification"
    assert info.n_annotations == 7 and info.n_gold == 3
    assert path == str(common_dir)


@pytest.mark.parametrize("rule, expected", [("first", 1), ("last", 0)])
def test_duplicates_rule(common_dir: Path, rule: str, expected: int) -> None:
    df = load_dataset(common_dir, as_frame=True, duplicates=rule).annotations
    assert df.loc[(df.task == "9") & (df.worker == "w1"), "label"].tolist() == [expected]


def test_duplicates_keep_and_error(common_dir: Path) -> None:
    ds = load_dataset(common_dir, duplicates="keep")
    assert ds.annotations.n_annotations == 8 and ds.dropped["duplicate"] == 0
    with pytest.raises(DuplicateAnnotationError, match="repeated"):
        load_dataset(common_dir, duplicates="error")


def test_frame_and_table_hold_the_same_rows(common_dir: Path) -> None:
    for rule in ("first", "last", "keep"):
        frame = load_dataset(common_dir, as_frame=True, duplicates=rule).annotations
        table = load_dataset(common_dir, duplicates=rule).annotations
        assert isinstance(frame, pd.DataFrame)
        assert list(frame.columns) == ["task", "worker", "label"]
        assert triples(frame) == triples(table.to_pandas())


def test_gold_problems(tmp_path: Path) -> None:
    d = tmp_path / "bad_gold"
    write(d / "answers.csv", "task,worker,label\na,u,0\na,v,1\nb,u,1\n")
    write(d / "gold.csv", "task,label\na,0\nb,7\n")  # 7 is no label anyone used
    with pytest.raises(GoldError, match="not in the table's label set"):
        load_dataset(d)
    ds = load_dataset(d, check_gold=False)
    assert ds.gold.tolist() == [0, 7]
    write(d / "gold.csv", "task,label\na,0\na,1\n")
    with pytest.raises(GoldError, match="different labels"):
        load_dataset(d)
    write(d / "gold.csv", "task,label\na,0\na,0\nb,\n")  # repeated but consistent; empty gold
    ds = load_dataset(d)
    assert ds.gold.to_dict() == {"a": 0} and ds.dropped["gold_null"] == 1


def test_string_labels_and_float_gold_alignment(tmp_path: Path) -> None:
    d = tmp_path / "strs"
    write(d / "answers.csv", "task,worker,label\n1,u,G\n1,v,X\n2,u,P\n")
    write(d / "gold.csv", "task,label\n1,G\n2,P\n")
    ds = load_dataset(d)
    assert ds.annotations.labels.tolist() == ["G", "P", "X"]
    assert ds.gold.tolist() == ["G", "P"]
    d2 = tmp_path / "floats"
    write(d2 / "answers.csv", "task,worker,label\n1,u,0\n1,v,1\n2,u,1\n")
    write(d2 / "gold.csv", "task,label\n1,0.0\n2,1.0\n")
    ds = load_dataset(d2)
    assert ds.gold.dtype.kind == "i" and ds.gold.tolist() == [0, 1]


def test_ratings_gold_is_not_checked(tmp_path: Path) -> None:
    d = tmp_path / "rated"
    rows = "\n".join(f"i{i},w{w},{(i * 7 + w * 3) % 15}" for i in range(5) for w in range(4))
    write(d / "answers.csv", "task,worker,label\n" + rows + "\n")
    write(d / "gold.csv", "task,label\n" + "\n".join(f"i{i},{i + 0.5}" for i in range(5)) + "\n")
    ds = load_dataset(d)
    assert ds.info.kind == "ratings"
    assert ds.gold.tolist() == [0.5, 1.5, 2.5, 3.5, 4.5]


def test_argument_errors(common_dir: Path) -> None:
    with pytest.raises(InputError, match="duplicates"):
        load_dataset(common_dir, duplicates="mean")
    with pytest.raises(InputError, match="layout"):
        load_dataset(common_dir, layout="excel")
    with pytest.raises(InputError):
        load_dataset(3)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="empty"):
        load_dataset("")


# --------------------------------------------------------------------------- resolution
def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="no such dataset folder"):
        load_dataset(tmp_path / "nope")
    with pytest.raises(DatasetNotFoundError, match="no such dataset folder"):
        load_dataset(str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError):  # DatasetNotFoundError is a FileNotFoundError
        load_dataset("./nope/")


def test_registered_name_without_copy_says_where_to_get_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CROWDAGG_DATA", str(tmp_path))
    with pytest.raises(DatasetNotFoundError) as exc:
        load_dataset("zheng_d_duck")
    msg = str(exc.value)
    assert "https://github.com/zhydhkcws/crowd_truth_infer" in msg
    assert "CROWDAGG_DATA" in msg and str(tmp_path) in msg
    monkeypatch.delenv("CROWDAGG_DATA")
    with pytest.raises(DatasetNotFoundError, match="CROWDAGG_DATA is unset"):
        load_dataset("D_Product")  # alias of zheng_d_jn_product


def test_unknown_name_lists_registered_names(monkeypatch) -> None:
    monkeypatch.delenv("CROWDAGG_DATA", raising=False)
    with pytest.raises(DatasetNotFoundError) as exc:
        load_dataset("no_such_dataset")
    assert "unknown dataset" in str(exc.value)
    for name in ("mace_rte", "zheng_s4_dog", "relevance-2"):
        assert name in str(exc.value)


def test_crowdagg_data_and_data_home(common_dir: Path, tmp_path: Path, monkeypatch) -> None:
    other = tmp_path / "other_root"
    other.mkdir()
    monkeypatch.setenv("CROWDAGG_DATA", os.pathsep.join([str(other), str(common_dir.parent)]))
    ds = load_dataset("tiny")
    assert ds.path == os.path.join(str(common_dir.parent), "tiny")
    assert ds.annotations.n_annotations == 7
    monkeypatch.delenv("CROWDAGG_DATA")
    with pytest.raises(DatasetNotFoundError):
        load_dataset("tiny")
    assert load_dataset("tiny", data_home=common_dir.parent).annotations.n_annotations == 7


def test_registered_name_found_under_its_canonical_folder(tmp_path: Path) -> None:
    d = tmp_path / "zheng_d_duck"
    write(d / "answer.csv", "question,worker,answer\n1,a,0\n1,b,1\n2,a,1\n")
    write(d / "truth.csv", "question,truth\n1,0\n2,1\n")
    ds = load_dataset("zheng_d_duck", data_home=tmp_path)
    assert ds.info is REGISTRY["zheng_d_duck"]
    assert ds.annotations.n_annotations == 3
    assert load_dataset("ZHENG_D_DUCK", data_home=tmp_path).info is REGISTRY["zheng_d_duck"]


# --------------------------------------------------------------------------- other layouts
def test_truth_inference_layout(tmp_path: Path) -> None:
    d = tmp_path / "ti"
    write(d / "answer.csv", "question,worker,answer\n107_1108_0,A3G,0\n107_1108_0,B7,1\n953_1938_1,A3G,1\n")
    write(d / "truth.csv", "question,truth\n107_1108_0,0\n953_1938_1,1\n")
    df, gold = read_truth_inference(d)
    assert triples(df) == [("107_1108_0", "A3G", 0), ("107_1108_0", "B7", 1), ("953_1938_1", "A3G", 1)]
    assert gold.to_dict() == {"107_1108_0": 0, "953_1938_1": 1}
    assert detect_layout(d) == "truth_inference"
    ds = load_dataset(d)
    assert ds.annotations.n_annotations == 3 and len(ds.gold) == 2
    df2, _ = read_truth_inference(d / "answer.csv", d / "truth.csv")
    assert triples(df2) == triples(df)


def test_mace_reader_by_hand(tmp_path: Path) -> None:
    # the binary example of MACE's README, plus a blank line and a ragged row
    csv_text = "0,1,,,,1,0,0\n,,1,1,,0,0,1\n\n1,0,0,1,,1,,0\n,,,,,,,,,1\n"
    key_text = "0\n1\n\n1\n\n"
    p = write(tmp_path / "ex.csv", csv_text)
    k = write(tmp_path / "ex.key", key_text)
    df, gold = read_mace(p, k)
    expected = []
    for i, line in enumerate(csv_text.splitlines()):
        for j, cell in enumerate(line.split(",") if line else []):
            if cell:
                expected.append((str(i), str(j), int(cell)))
    assert triples(df) == sorted(expected)
    assert gold.to_dict() == {"0": 0, "1": 1, "3": 1}
    assert detect_layout(tmp_path) == "mace"
    ds = load_dataset(tmp_path)
    assert ds.annotations.n_annotations == len(expected)
    assert ds.annotations.n_workers == 8  # columns 0-3, 5-7 and 9 (column 4 and 8 never answer)


def test_mace_string_labels_and_errors(tmp_path: Path) -> None:
    p = write(tmp_path / "pos.csv", "NOUN,,,NOUN,PRON\nVERB,VERB,,VERB,\n")
    df, gold = read_mace(p)
    assert sorted(set(df["label"])) == ["NOUN", "PRON", "VERB"] and len(gold) == 0
    k = write(tmp_path / "pos.key", "NOUN\n")
    with pytest.raises(FormatError, match="1 lines but the CSV"):
        read_mace(p, k)
    empty = write(tmp_path / "empty.csv", ",,\n,\n")
    with pytest.raises(EmptyTableError):
        read_mace(empty)
    with pytest.raises(DatasetNotFoundError):
        read_mace(tmp_path / "absent.csv")


def test_triples_reader(tmp_path: Path) -> None:
    p = write(tmp_path / "answers.txt", "# item worker label\ni1 w1 2\ni1\tw2   3\n\ni2 w1 2\n")
    t = write(tmp_path / "gold.txt", "i1 2\ni2 2\n")
    df, gold = read_triples(p, t)
    assert triples(df) == [("i1", "w1", 2), ("i1", "w2", 3), ("i2", "w1", 2)]
    assert gold.to_dict() == {"i1": 2, "i2": 2}
    df2, _ = read_triples(p, order=("worker", "item", "label"))
    assert triples(df2) == [("w1", "i1", 2), ("w1", "i2", 2), ("w2", "i1", 3)]
    assert detect_layout(tmp_path) == "triples"
    assert load_dataset(tmp_path).annotations.n_annotations == 3
    bad = write(tmp_path / "bad.txt", "i1 w1 2\ni2 w2\n")
    with pytest.raises(FormatError, match="line 2: 2 fields, but every line needs 3"):
        read_triples(bad)
    with pytest.raises(InputError, match="permutation"):
        read_triples(p, order=("item", "item", "label"))
    hdr = write(tmp_path / "h.txt", "item worker label\na b c\n")
    assert triples(read_triples(hdr, header=True)[0]) == [("a", "b", "c")]


# --------------------------------------------------------------------------- malformed files
def test_malformed_files(tmp_path: Path) -> None:
    d = tmp_path / "m1"
    write(d / "answers.csv", "item,annotator,value\n1,2,3\n")
    with pytest.raises(MissingColumnError, match="task"):
        load_dataset(d)
    write(d / "answers.csv", "")
    with pytest.raises(EmptyTableError):
        load_dataset(d)
    write(d / "answers.csv", "task,worker,label\n1,,0\n")
    with pytest.raises(FormatError, match="empty 'worker'"):
        load_dataset(d)
    write(d / "answers.csv", "task,worker,label\n1,a,0,9\n")
    with pytest.raises(FormatError, match="line 2: 4 fields, but the header .* has 3"):
        load_dataset(d)
    write(d / "answers.csv", "task,worker,label\n1,a,\n")
    with pytest.raises(EmptyTableError, match="no label"):
        load_dataset(d)
    e = tmp_path / "no_layout"
    write(e / "readme.txt", "nothing here")
    with pytest.raises(FormatError, match="no dataset found"):
        load_dataset(e)
    with pytest.raises(FormatError, match="answers.txt"):
        load_dataset(e, layout="triples")


# --------------------------------------------------------------------------- helpers
def test_infer_kind_rule() -> None:
    assert infer_kind(pd.Index(range(10))) == "classification"
    assert infer_kind(pd.Index(range(11))) == "ratings"
    assert infer_kind(pd.Index([0, 1]), pd.Series([0.5, 1.0])) == "ratings"
    assert infer_kind(pd.Index([0, 1]), pd.Series([0.0, 1.0])) == "classification"
    assert infer_kind(pd.Index([f"c{i}" for i in range(30)])) == "classification"


def test_align_gold() -> None:
    ints = pd.Index([0, 1])
    assert align_gold(pd.Series([1.0, 0.0]), ints).dtype.kind == "i"
    assert align_gold(pd.Series(["1", "0"], dtype=object), ints).tolist() == [1, 0]
    assert align_gold(pd.Series([1.5]), ints).tolist() == [1.5]
    strs = pd.Index(["1", "2"], dtype=object)
    assert align_gold(pd.Series([1, 2]), strs).tolist() == ["1", "2"]
    assert align_gold(pd.Series([1.0, 2.5]), strs).tolist() == ["1", "2.5"]


# --------------------------------------------------------------------------- registry
def test_registry_contents() -> None:
    df = list_datasets()
    for name in SHARED_NAMES:
        assert name in df.index, name
    for name in ("snow2008_rte", "snow2008_temp", "snow2008_wsd", "relevance-2", "relevance-5",
                 "nist-trec-relevance", "imdb-wiki-sbs", "zheng_d_possent", "zheng_s_rel"):
        assert name in df.index, name
    assert set(df["kind"]) <= {"classification", "ratings", "pairwise", "unknown"}
    assert (df.loc[[n for n in SHARED_NAMES if n.startswith("snow2008_")], "kind"] == "ratings").all()
    assert df.loc["zheng_s5_adultcontent", "n_annotations"] == 92721
    assert pd.isna(df.loc["zheng_d_possent", "n_items"])  # unknown stays unknown
    assert df["licence"].map(bool).all() and df["citation"].notna().all()
    assert set(list_datasets("ratings")["kind"]) == {"ratings"}
    with pytest.raises(InputError):
        list_datasets("images")
    info = get_dataset_info("s_adult")
    assert isinstance(info, DatasetInfo) and info.name == "zheng_s5_adultcontent"
    assert get_dataset_info("nothing") is None
    assert "zheng_s5_adultcontent" in str(info) and "licence" in str(info)


def test_list_datasets_finds_local_copies(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("CROWDAGG_DATA", raising=False)
    write(tmp_path / "mace_wsd" / "answers.csv", "task,worker,label\n0,0,1\n")
    df = list_datasets(data_home=tmp_path)
    assert df.loc["mace_wsd", "local"] == str(tmp_path / "mace_wsd")
    assert df.loc["mace_rte", "local"] is None


# --------------------------------------------------------------------------- property tests
labels_st = st.sampled_from([0, 1, 2, 3])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.one_of(st.none(), labels_st), min_size=1, max_size=6), min_size=1, max_size=8))
def test_mace_matrix_roundtrip(tmp_path_factory, matrix) -> None:
    if all(v is None for row in matrix for v in row):
        return
    d = tmp_path_factory.mktemp("mace")
    text = "".join(",".join("" if v is None else str(v) for v in row) + "\n" for row in matrix)
    write(d / "m.csv", text)
    df, _ = read_mace(d / "m.csv")
    expected = sorted((str(i), str(j), v) for i, row in enumerate(matrix) for j, v in enumerate(row)
                      if v is not None)
    assert triples(df) == expected


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 4), labels_st), min_size=1, max_size=30),
    st.randoms(use_true_random=False),
)
def test_common_roundtrip_and_row_order(tmp_path_factory, rows, rnd) -> None:
    """Reading back what was written gives the same annotations; shuffling the file's rows
    changes nothing when there are no duplicates (relabelling-invariance of the reader)."""
    uniq = {}
    for i, w, lab in rows:
        uniq.setdefault((i, w), lab)
    rows = [(f"0{i}", f"w{w}", lab) for (i, w), lab in uniq.items()]
    d1, d2 = tmp_path_factory.mktemp("a"), tmp_path_factory.mktemp("b")
    write(d1 / "answers.csv", "task,worker,label\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    write(d2 / "answers.csv", "task,worker,label\n" + "".join(f"{a},{b},{c}\n" for a, b, c in shuffled))
    t1 = load_dataset(d1).annotations
    t2 = load_dataset(d2).annotations
    assert triples(t1.to_pandas()) == sorted(rows) == triples(t2.to_pandas())


# --------------------------------------------------------------------------- ../shared
@pytest.mark.shared
@pytest.mark.parametrize("name", SHARED_NAMES)
def test_shared_counts_match_registry(datasets_dir: Path, name: str) -> None:
    folder = datasets_dir / name
    if not folder.is_dir():
        pytest.skip(f"{folder} absent")
    info = REGISTRY[name]
    ds = load_dataset(folder, as_frame=True, duplicates="keep")
    df = ds.annotations
    assert len(df) == info.n_annotations
    assert df["task"].nunique() == info.n_items
    assert df["worker"].nunique() == info.n_workers
    assert ds.info is info
    src = (folder / "SOURCE.md").read_text(encoding="utf-8")
    m = re.search(r"Gold rows: (\d+)", src)
    assert m and int(m.group(1)) == info.n_gold
    if info.kind == "classification":
        assert df["label"].nunique() == info.n_labels
    assert ("NUMERIC" in src) == (info.kind == "ratings")


@pytest.mark.shared
def test_shared_adultcontent_duplicates(datasets_dir: Path, monkeypatch) -> None:
    if not (datasets_dir / "zheng_s5_adultcontent").is_dir():
        pytest.skip("absent")
    monkeypatch.setenv("CROWDAGG_DATA", str(datasets_dir))
    ds = load_dataset("S_Adult")
    assert ds.annotations.n_annotations == 92721 - 2922 == 89799
    assert ds.dropped["duplicate"] == 2922
    assert len(ds.gold) == 333 and ds.dropped["gold_without_answers"] == 1517 - 333
    assert (ds.annotations.encode_gold(ds.gold) >= 0).sum() == 333
    assert ds.gold.index.isin(ds.annotations.items).all()


# --------------------------------------------------------------------------- benchmarks/accuracy.py
def _accuracy_module():
    if "bench_accuracy" in sys.modules:
        return sys.modules["bench_accuracy"]
    spec = importlib.util.spec_from_file_location("bench_accuracy", ROOT / "benchmarks" / "accuracy.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules["bench_accuracy"] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_accuracy_rule() -> None:
    mod = _accuracy_module()
    gold = pd.Series([1, 0, 1, 0], index=["a", "b", "c", "d"])
    pred = pd.Series(pd.array([1, 1, pd.NA], dtype="Int64"), index=["a", "b", "c"])  # d: no prediction
    assert mod.accuracy(pred, gold) == 0.25


@pytest.fixture
def bench_dir(tmp_path: Path) -> Path:
    root = tmp_path / "never_seen"
    # a: 3 items; MV gets i1, i2 right and i3 wrong (gold 0, votes 1,1,0) -> 2/3
    write(root / "a" / "answers.csv",
          "task,worker,label\ni1,u,1\ni1,v,1\ni1,w,0\ni2,u,0\ni2,v,0\ni3,u,1\ni3,v,1\ni3,w,0\ni3,u,0\n")
    write(root / "a" / "gold.csv", "task,label\ni1,1\ni2,0\ni3,0\nzz,1\n")
    # b: ratings (12 distinct numeric labels)
    write(root / "b" / "answers.csv",
          "task,worker,label\n" + "".join(f"t{i},w{i % 3},{i}\n" for i in range(12)))
    write(root / "b" / "gold.csv", "task,label\n" + "".join(f"t{i},{i}.5\n" for i in range(12)))
    # c: truth-inference layout
    write(root / "c" / "answer.csv", "question,worker,answer\nq1,u,x\nq1,v,x\nq2,u,y\n")
    write(root / "c" / "truth.csv", "question,truth\nq1,x\nq2,x\n")
    # d: no gold; e: not a dataset
    write(root / "d" / "answers.csv", "task,worker,label\nq1,u,x\n")
    write(root / "e" / "notes.txt", "hello")
    return root


def test_accuracy_script_smoke(bench_dir: Path, tmp_path: Path, capsys) -> None:
    mod = _accuracy_module()
    out = tmp_path / "acc.md"
    rc = mod.main([str(bench_dir), "--methods", "MV", "--no-crowdkit", "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    assert text.strip() == printed.strip()
    assert "| a | 8 | 3 | 3 | 2 | 3 | MV | 0.6667 |" in text  # 9 rows - 1 duplicate; zz has no answers
    assert "| b | 12 | 12 | 3 | 12 | 12 | — | skipped: ratings |" in text
    assert "| c | 3 | 2 | 2 | 2 | 2 | MV | 0.5000 |" in text
    assert "| d |" in text and "skipped: no gold" in text
    assert "| e |" not in text
    assert "cores" in text and "duplicates='first'" in text and "--methods MV" in text


def test_accuracy_script_with_crowdkit(bench_dir: Path, capsys) -> None:
    from conftest import crowdkit_available

    if not crowdkit_available():
        pytest.skip("crowd-kit not installed")
    mod = _accuracy_module()
    rc = mod.main([str(bench_dir / "c"), "--methods", "MV", "--crowdkit-timeout", "120"])
    assert rc == 0
    text = capsys.readouterr().out
    row = next(line for line in text.splitlines() if line.startswith("| c |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[7] == "0.5000" and cells[8] == "0.5000"  # crowdagg and crowd-kit agree here


def test_accuracy_script_errors(tmp_path: Path, capsys) -> None:
    mod = _accuracy_module()
    assert mod.main([str(tmp_path / "absent"), "--no-crowdkit"]) == 2
    assert mod.main([str(tmp_path), "--no-crowdkit"]) == 2
    with pytest.raises(SystemExit):
        mod.main([str(tmp_path), "--methods", "Bogus"])


def test_accuracy_script_single_dataset_folder_and_unavailable_method(bench_dir: Path, capsys) -> None:
    mod = _accuracy_module()
    mod.METHODS.append(("Nope", "NoSuchMethod", {}, None, {}, False))
    mod._BY_KEY["nope"] = mod.METHODS[-1]
    try:
        assert mod.main([str(bench_dir / "a"), "--methods", "MV,Nope", "--no-crowdkit"]) == 0
    finally:
        mod.METHODS.pop()
    text = capsys.readouterr().out
    assert "| a | 8 | 3 | 3 | 2 | 3 | Nope | not available |" in text
    assert "Not available in crowdagg yet: NoSuchMethod" in text


# --------------------------------------------------------------------------- issue 13: exact labels, strip, files
def test_labels_by_value_without_loss(tmp_path: Path) -> None:
    def labels_of(cells: list[str]) -> list:
        d = tmp_path / f"d{len(list(tmp_path.iterdir()))}"
        write(d / "answers.csv", "task,worker,label\n" + "".join(f"i{k},w,{c}\n" for k, c in enumerate(cells)))
        df, _ = read_common(d)
        return df["label"].tolist()

    # numbers by value: 00 and -0 are 0 (the snow2008 ratings write both)
    assert labels_of(["0", "00", "-0", "5"]) == [0, 0, 0, 5]
    # int64 limits hold exactly; one digit more and every label stays a string
    assert labels_of([str(2**63 - 1), str(-(2**63))]) == [2**63 - 1, -(2**63)]
    assert labels_of(["12345678901234567890", "12345678901234567891"]) == [
        "12345678901234567890", "12345678901234567891"]
    # floats only when no two different numbers become one float64
    assert labels_of(["0.5", "2"]) == [0.5, 2.0]
    assert labels_of(["0.1", "0.10000000000000001"]) == ["0.1", "0.10000000000000001"]
    assert labels_of(["1e999", "1"]) == ["1e999", "1"]  # no infinity
    assert labels_of(["nan", "1"]) == ["nan", "1"]      # no NaN
    assert labels_of(["NA", "1"]) == ["NA", "1"]        # only an empty cell is null


def test_loader_frames_hold_no_nan(tmp_path: Path) -> None:
    d = tmp_path / "n"
    write(d / "answers.csv", "task,worker,label\n1,w1,0.5\n1,w2,\n2,w1,1\n2,w2,\n")
    write(d / "gold.csv", "task,label\n1,\n2,1\n")
    df, gold = read_common(d)
    assert str(df["label"].dtype) == "Float64" and df["label"].isna().sum() == 2
    assert not df["label"].astype(object).map(lambda v: isinstance(v, float) and v != v).any()
    ds = load_dataset(d, as_frame=True)
    assert ds.annotations["label"].dtype == "float64" and ds.annotations["label"].notna().all()
    assert ds.dropped["null_label"] == 2 and ds.dropped["gold_null"] == 1 and ds.gold.to_dict() == {"2": 1.0}
    ints = tmp_path / "i"
    write(ints / "answers.csv", "task,worker,label\n1,w1,1\n1,w2,\n")
    assert load_dataset(ints, as_frame=True).annotations["label"].dtype == "int64"  # not float after a null


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.integers(-(10**25), 10**25), st.floats(allow_nan=False, allow_infinity=False),
                          st.text(st.characters(whitelist_categories=("L", "N")), min_size=1, max_size=5)),
                min_size=1, max_size=8))
def test_distinct_numbers_stay_distinct(tmp_path_factory, values) -> None:
    """n different labels (by value for numbers) in the file -> n labels, each equal to what was written."""
    cells = [repr(v) if isinstance(v, float) else str(v) for v in values]
    d = tmp_path_factory.mktemp("p")
    write(d / "answers.csv", "task,worker,label\n" + "".join(f"i{k},w,{c}\n" for k, c in enumerate(cells)))
    df, _ = read_common(d)
    got = df["label"].tolist()
    if all(isinstance(g, str) for g in got):
        assert got == cells
    else:
        assert [float(c) for c in cells] == [float(g) for g in got]
        assert all(Decimal(c) == g for c, g in zip(cells, got) if isinstance(g, int))  # integers exact

    def key(c: str):
        try:
            return Decimal(c).normalize()
        except InvalidOperation:
            return c
    strings = all(isinstance(g, str) for g in got)
    assert load_dataset(d).annotations.n_labels == len(set(cells) if strings else {key(c) for c in cells})


def test_loaders_strip(tmp_path: Path) -> None:
    d = tmp_path / "s"
    write(d / "answers.csv", " task , worker ,label\n 1 ,w1 , a\n1, w2,a \n")
    write(d / "gold.csv", "task,label\n1 , a\n")
    df, gold = read_common(d)
    assert df.values.tolist() == [["1", "w1", "a"], ["1", "w2", "a"]] and gold.to_dict() == {"1": "a"}
    df, gold = read_common(d, strip=False)
    assert df.values.tolist() == [[" 1 ", "w1 ", " a"], ["1", " w2", "a "]] and gold.to_dict() == {"1 ": " a"}
    assert load_dataset(d).annotations.n_labels == 1
    assert load_dataset(d, strip=False, check_gold=False).annotations.n_labels == 2
    m = tmp_path / "m"
    write(m / "x.csv", " a,a , \n")
    write(m / "x.key", " a\n")
    assert read_mace(m / "x.csv")[0]["label"].tolist() == ["a", "a"]
    df, gold = read_mace(m / "x.csv", m / "x.key", strip=False)
    assert df["label"].tolist() == [" a", "a ", " "] and gold.tolist() == [" a"]


def test_loader_file_errors(tmp_path: Path, monkeypatch) -> None:
    d = tmp_path / "f"
    write(d / "answers.csv", "task,worker,label\n1,w,a\n")
    with pytest.raises(NotAFileError, match="is a directory"):
        read_common(d / "answers.csv", d)
    with pytest.raises(NotAFileError):
        read_mace(d)
    with pytest.raises(NotAFileError):
        read_triples(d)
    with pytest.raises(DatasetNotFoundError, match="no such file"):
        read_truth_inference(d / "answer.csv")
    real_open = open

    def deny(path, *a, **k):
        if str(path).endswith("answers.csv"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *a, **k)

    monkeypatch.setattr("builtins.open", deny)
    with pytest.raises(FileAccessError, match="Permission denied"):
        load_dataset(d)


def test_mace_ragged_lines_are_the_format(tmp_path: Path) -> None:
    """MACE's lines may differ in length (a short line: its last annotators gave no answer)."""
    p = write(tmp_path / "r.csv", "a,b,c\nb\n\"a\nb\",c\n")
    df, _ = read_mace(p)
    assert df.values.tolist() == [["0", "0", "a"], ["0", "1", "b"], ["0", "2", "c"], ["1", "0", "b"],
                                  ["2", "0", "a\nb"], ["2", "1", "c"]]


def test_fast_and_exact_csv_paths_agree(tmp_path: Path) -> None:
    """pyarrow reads well-formed files; the csv-module reader (used to name bad lines) gives the same."""
    from crowdagg.datasets import loaders

    text = 'task,worker,label\n"a\nb",w1," x "\n\n007, w2 ,00\r\n"q""uote",w3,\n'
    p = write(tmp_path / "answers.csv", text)
    fast = loaders._read_csv(str(p), loaders.COLUMNS, ("task", "worker"), "answers file")
    monkey = loaders._arrow_cells
    try:
        loaders._arrow_cells = lambda *a: None
        exact = loaders._read_csv(str(p), loaders.COLUMNS, ("task", "worker"), "answers file")
    finally:
        loaders._arrow_cells = monkey
    assert fast.astype(object).values.tolist() == exact.astype(object).values.tolist() == [
        ["a\nb", "w1", "x"], ["007", "w2", "00"], ['q"uote', "w3", None]]
