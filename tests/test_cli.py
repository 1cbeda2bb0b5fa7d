"""The crowdagg command line: aggregate and summary."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from crowdagg.cli import main


@pytest.fixture
def answers(tmp_path):
    p = tmp_path / "answers.csv"
    pd.DataFrame(
        {"task": ["t1", "t1", "t1", "t2", "t2"], "worker": list("abcab"), "label": ["x", "x", "y", "y", "y"]}
    ).to_csv(p, index=False)
    return p


def test_aggregate_csv_and_parquet(answers, tmp_path, capsys):
    out = tmp_path / "out.csv"
    assert main(["aggregate", str(answers), "-o", str(out), "--quiet"]) == 0
    df = pd.read_csv(out)
    assert df["label"].tolist() == ["x", "y"] and "proba_x" in df.columns
    outp = tmp_path / "out.parquet"
    assert main(["aggregate", str(answers), "--method", "mv", "-o", str(outp)]) == 0
    assert pd.read_parquet(outp)["item"].tolist() == ["t1", "t2"]
    assert main(["aggregate", str(answers)]) == 0
    assert "t1,x" in capsys.readouterr().out


def test_summary(answers, capsys):
    assert main(["summary", str(answers)]) == 0
    assert "annotations: 5" in capsys.readouterr().out
    assert main(["summary", str(answers), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_items"] == 2


def test_errors_are_one_line(tmp_path, capsys):
    assert main(["aggregate", str(tmp_path / "nope.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such file" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("item,worker\n1,2\n")
    assert main(["summary", str(bad)]) == 2
    assert "missing column" in capsys.readouterr().err
    dup = tmp_path / "dup.csv"
    dup.write_text("item,worker,label\n1,a,x\n1,a,y\n")
    assert main(["aggregate", str(dup)]) == 2
    assert "--duplicates" in capsys.readouterr().err
    assert main(["aggregate", str(dup), "--duplicates", "last", "-o", str(tmp_path / "o.txt2")]) == 2
    assert main(["aggregate", str(dup), "--method", "mv", "--max-iter", "3"]) == 2


def test_console_script_runs(answers):
    r = subprocess.run([sys.executable, "-m", "crowdagg", "aggregate", str(answers), "-q"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "t2,y" in r.stdout
    r = subprocess.run([sys.executable, "-m", "crowdagg", "aggregate", "/nonexistent.csv"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr


@pytest.mark.parametrize("method", ["ds", "onecoin", "wawa", "zbs", "glad", "mace"])
def test_aggregate_every_method(answers, tmp_path, method):
    out = tmp_path / "out.csv"
    assert main(["aggregate", str(answers), "-m", method, "-q", "-o", str(out)]) == 0
    df = pd.read_csv(out)
    assert df["item"].tolist() == ["t1", "t2"]
    probs = df[[c for c in df.columns if c.startswith("proba_")]].to_numpy()
    assert abs(probs.sum(axis=1) - 1).max() < 1e-9


def test_aggregate_with_gold(answers, tmp_path, capsys):
    gold = tmp_path / "gold.csv"
    gold.write_text("task,label\nt2,x\n")
    out = tmp_path / "out.csv"
    assert main(["aggregate", str(answers), "-m", "ds", "--gold", str(gold), "-q", "-o", str(out)]) == 0
    assert pd.read_csv(out).set_index("item").loc["t2", "label"] == "x"  # gold items keep their label
    assert main(["aggregate", str(answers), "-m", "mv", "--gold", str(gold)]) == 2
    assert "--gold does not apply" in capsys.readouterr().err
    bad = tmp_path / "badgold.csv"
    bad.write_text("task,label\nnope,x\n")
    assert main(["aggregate", str(answers), "-m", "ds", "--gold", str(bad)]) == 2
    assert "not in the table" in capsys.readouterr().err
