"""``crowdagg workers INPUT --gold GOLD``: output formats, options and one-line errors."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crowdagg.cli import main
from crowdagg.errors import GoldError, ParameterError
from crowdagg.quality import score_workers

ANSWERS = """item,worker,label
1,007,1
2,007,1
3,007,0
4,007,1
1,b,0
2,b,0
3,b,1
4,b,0
5,b,0
1,c,1
5,c,0
"""
# gold: 1->1, 2->1, 3->0, 4->1 ; worker 007 all right (4/4), b all wrong (0/4), c 1/1 on gold
GOLD = "task,label\n1,1\n2,1\n3,0\n4,1\n"


@pytest.fixture
def files(tmp_path):
    a = tmp_path / "answers.csv"
    g = tmp_path / "gold.csv"
    a.write_text(ANSWERS)
    g.write_text(GOLD)
    return tmp_path, str(a), str(g)


def run_cli(capsys, *argv):
    code = main(["workers", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_readable_table(files, capsys):
    _, a, g = files
    code, out, err = run_cli(capsys, a, "--gold", g)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("3 workers, 3 with gold answers, 4 gold items; 1 flagged")
    header = lines[1].split()
    assert header[:7] == ["worker", "n_answers", "n_gold", "n_correct", "accuracy", "ci_low", "ci_high"]
    assert header[-1] == "flagged" and "recall_0" in header and "recall_1" in header
    body = [ln.split() for ln in lines[2:5]]
    assert [r[0] for r in body] == ["b", "c", "007"]  # sorted by ci_low, worst first
    assert body[0][-1] == "yes" and body[0][4] == "0.000"
    assert "007" in out  # ids kept as strings, leading zeros included
    assert "flagged:" in out and "b: accuracy 0.000 (0/4 gold)" in out


def test_csv_output_matches_library(files, capsys):
    tmp, a, g = files
    dest = tmp / "out.csv"
    code, out, err = run_cli(capsys, a, "--gold", g, "-o", str(dest), "--min-accuracy", "0.5",
                             "--min-gold", "4", "--sort-by", "n_answers", "--descending")
    assert code == 0 and out == ""
    df = pd.read_csv(dest, dtype={"worker": str})
    assert list(df["worker"]) == ["b", "007", "c"]
    assert df["n_gold"].tolist() == [4, 4, 1] and df["n_correct"].tolist() == [0, 4, 1]
    assert df["flagged"].tolist() == [True, False, False]
    ann = pd.read_csv(io.StringIO(ANSWERS), dtype={"item": str, "worker": str})
    ref = score_workers(ann, {"1": 1, "2": 1, "3": 0, "4": 1}).table.loc[["b", "007", "c"]]
    np.testing.assert_allclose(df["ci_high"], ref["ci_high"].to_numpy(dtype=float))


def test_csv_to_stdout_parquet_and_options(files, capsys):
    tmp, a, g = files
    code, out, _ = run_cli(capsys, a, "--gold", g, "-o", "-", "--flagged-only")
    assert code == 0
    df = pd.read_csv(io.StringIO(out), dtype={"worker": str})
    assert list(df["worker"]) == ["b"] and "0/4" in df.loc[0, "flag_reason"]
    # c has a single gold answer: never flagged with the default --min-gold 3
    code, out, _ = run_cli(capsys, a, "--gold", g, "-o", "-", "--min-accuracy", "1.0", "--min-gold", "1")
    df = pd.read_csv(io.StringIO(out), dtype={"worker": str}).set_index("worker")
    assert df.loc["b", "flagged"] and not df.loc["007", "flagged"]
    assert not df.loc["c", "flagged"]  # 1/1: interval reaches 1.0
    pq = tmp / "out.parquet"
    assert run_cli(capsys, a, "--gold", g, "-o", str(pq), "--confidence", "0.5")[0] == 0
    df = pd.read_parquet(pq)
    assert len(df) == 3 and df["ci_low"].notna().all()


def test_unscored_workers(tmp_path, capsys):
    a = tmp_path / "a.csv"
    a.write_text("item,worker,label\n1,x,a\n2,y,b\n")
    g = tmp_path / "g.csv"
    g.write_text("item,label\n1,a\n")
    code, out, _ = run_cli(capsys, str(a), "--gold", str(g), "-o", "-")
    df = pd.read_csv(io.StringIO(out))
    assert code == 0 and df.set_index("worker").loc["y", "n_gold"] == 0
    assert pd.isna(df.set_index("worker").loc["y", "accuracy"])
    code, out, _ = run_cli(capsys, str(a), "--gold", str(g))
    assert code == 0 and " - " in out  # missing rates shown as "-"
    code, out, _ = run_cli(capsys, str(a), "--gold", str(g), "-o", "-", "--drop-unscored")
    assert pd.read_csv(io.StringIO(out))["worker"].tolist() == ["x"]


@pytest.mark.parametrize(
    "gold_text,extra,msg",
    [
        ("task,label\n99,1\n", [], "not in the table"),
        ("task,label\n1,7\n", [], "gold label"),
        ("task,label\n", [], "empty"),
        ("task,answer\n1,1\n", [], "needs columns"),
        ("task,label\n1,1\n1,0\n", [], "different labels"),
        (GOLD, ["--confidence", "1.5"], "--confidence: must lie in (0, 1)"),
        (GOLD, ["--confidence", "nan"], "--confidence: must be a finite number"),
        (GOLD, ["--min-accuracy", "2"], "--min-accuracy: must lie in [0, 1]"),
        (GOLD, ["--min-gold", "-1"], "--min-gold: must be an integer"),
        (GOLD, ["--min-gold", "2.5"], "--min-gold: expected an integer"),
        (GOLD, ["--sort-by", "nope"], "cannot sort"),
        (GOLD, ["-o", "out.xlsx"], "output format"),
    ],
)
def test_bad_input_exit_2_one_line(files, capsys, gold_text, extra, msg):
    tmp, a, _ = files
    g = tmp / "bad_gold.csv"
    g.write_text(gold_text)
    code, out, err = run_cli(capsys, a, "--gold", str(g), *extra)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("crowdagg workers: error:") and msg in err


def test_missing_files(files, capsys):
    tmp, a, g = files
    code, _, err = run_cli(capsys, a, "--gold", str(tmp / "nope.csv"))
    assert code == 2 and "nope.csv" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(capsys, str(tmp / "none.csv"), "--gold", g)
    assert code == 2 and "none.csv" in err


def test_gold_is_required(files, capsys):
    _, a, _ = files
    assert main(["workers", a]) == 2
    err = capsys.readouterr().err
    assert "--gold" in err and err.startswith("crowdagg workers: error:") and err.count("\n") == 1


@pytest.mark.shared
def test_shared_dataset(datasets_dir, capsys):
    d = datasets_dir / "act_sp_amt"
    code, out, _ = run_cli(capsys, str(d / "answers.csv"), "--gold", str(d / "gold.csv"), "-o", "-")
    assert code == 0
    df = pd.read_csv(io.StringIO(out), dtype={"worker": str})
    answers = pd.read_csv(d / "answers.csv", dtype={"task": str, "worker": str})
    assert len(df) == answers["worker"].nunique() and df["n_answers"].sum() == len(answers)
    assert df["ci_low"].is_monotonic_increasing


# --------------------------------------------------------------------------- the gold reader
_CELL = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(gold=st.dictionaries(_CELL, _CELL, min_size=1, max_size=12))
def test_read_gold_keeps_every_distinct_value(tmp_path, gold):
    """n distinct (item, label) cells in -> the same n cells out; stripped ones as the readers strip."""
    import csv

    import pyarrow as pa
    import pyarrow.compute as pc

    from crowdagg.gold import read_gold

    path = tmp_path / "gold.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["item", "label"])
        w.writerows(gold.items())
    got = read_gold(str(path), strip=False)
    assert dict(zip(got.index, got.to_numpy())) == gold and len(got) == len(gold)

    def trim(values):
        return pc.utf8_trim_whitespace(pa.array(values, pa.string())).to_pylist()

    items, labels = trim(list(gold)), trim(list(gold.values()))
    if all(items) and all(labels):
        got = read_gold(str(path))
        assert got.index.tolist() == items and got.tolist() == labels
    else:  # a cell of whitespace only is an empty cell: the gold file is refused, naming it
        with pytest.raises(GoldError, match="without"):
            read_gold(str(path))


def test_read_gold_typed_labels_and_parquet(tmp_path):
    from crowdagg.gold import read_gold

    p = tmp_path / "g.csv"
    p.write_text("\ufefftask,label\n007, 1\n8,2\n")  # a byte-order mark, leading zeros, whitespace
    got = read_gold(str(p), labels=pd.Index([1, 2]))
    assert got.index.tolist() == ["007", "8"] and got.tolist() == [1, 2]
    q = tmp_path / "g.parquet"
    pd.DataFrame({"item": [" a", "b"], "label": [1, 2]}).to_parquet(q)
    got = read_gold(str(q))
    assert got.index.tolist() == ["a", "b"] and got.tolist() == [1, 2]
    with pytest.raises(ParameterError):
        read_gold(str(p), strip="no")
