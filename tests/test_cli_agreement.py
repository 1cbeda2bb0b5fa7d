"""``crowdagg agreement`` sub-command."""

from __future__ import annotations

import csv as csv_module
import io

import pandas as pd
import pytest

import crowdagg.agreement as A
from crowdagg.cli import main


@pytest.fixture
def csv(tmp_path):
    rows = [(i, w, (i + (w == "c") * (i % 3 == 0)) % 4) for i in range(30) for w in "abc"]
    path = tmp_path / "ann.csv"
    pd.DataFrame(rows, columns=["item", "worker", "label"]).to_csv(path, index=False)
    return path


def test_all_coefficients_to_csv(csv, tmp_path):
    out = tmp_path / "out.csv"
    assert main(["agreement", str(csv), "-q", "-o", str(out)]) == 0
    df = pd.read_csv(out)
    assert set(df["coefficient"]) >= {"krippendorff_alpha", "fleiss_kappa", "gwet_ac", "conger_kappa",
                                      "brennan_prediger"}
    alpha = df.set_index("coefficient").loc["krippendorff_alpha", "value"]
    assert alpha == pytest.approx(A.krippendorff_alpha(csv).value)


def test_alpha_interval_bootstrap_printed(csv, capsys):
    assert main(["agreement", str(csv), "-c", "alpha", "--level", "interval", "--n-boot", "50",
                 "--seed", "3"]) == 0
    text = capsys.readouterr().out
    assert "krippendorff_alpha" in text and "interval" in text
    want = A.krippendorff_alpha(csv, "interval", n_boot=50, random_state=3)
    assert f"{want.ci[0]:.4f}" in text


def test_pairwise_and_workers(csv, capsys):
    assert main(["agreement", str(csv), "-c", "pairwise", "--min-overlap", "2", "-o", "-"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "worker_a,worker_b,n_items,agreement,kappa" and len(lines) == 4
    assert main(["agreement", str(csv), "-c", "workers", "-o", "-"]) == 0
    assert "kappa" in capsys.readouterr().out


def test_errors_exit_2(csv, tmp_path, capsys):
    strings = tmp_path / "s.csv"
    pd.DataFrame({"item": [1, 1], "worker": ["a", "b"], "label": ["x", "y"]}).to_csv(strings, index=False)
    assert main(["agreement", str(strings), "-c", "alpha", "--level", "interval"]) == 2
    assert "numeric labels" in capsys.readouterr().err
    single = tmp_path / "one.csv"
    pd.DataFrame({"item": [1, 2], "worker": ["a", "b"], "label": [1, 2]}).to_csv(single, index=False)
    assert main(["agreement", str(single), "-c", "fleiss"]) == 2
    assert "fewer than two ratings" in capsys.readouterr().err
    assert main(["agreement", str(csv), "--n-boot", "-1"]) == 2


# --------------------------------------------------------------------------- undefined cells, counts, column order
def _write(tmp_path, name, rows):
    path = tmp_path / name
    pd.DataFrame(rows, columns=["item", "worker", "label"]).to_csv(path, index=False)
    return path


@pytest.fixture
def same(tmp_path):  # every answer identical: only percent agreement is defined
    return _write(tmp_path, "same.csv", [("a", "w1", "x"), ("a", "w2", "x"), ("b", "w1", "x"), ("b", "w2", "x")])


COLUMNS = ["coefficient", "variant", "value", "se", "ci_low", "ci_high", "pa", "pe", "n_items", "n_annotations"]


def test_undefined_coefficients_read_as_dashes_and_counts_as_integers(same, capsys):
    assert main(["agreement", str(same), "-q"]) == 0
    lines = capsys.readouterr().out.splitlines()
    tokens = set("\n".join(lines).split())
    assert not tokens & {"NaN", "None", "<NA>", "nan", "2.0000", "4.0000"}
    assert lines[0].split() == [*COLUMNS, "note"]
    alpha = next(line for line in lines if line.lstrip().startswith("krippendorff_alpha"))
    assert alpha.split()[1:10] == ["-"] * 9 and "is undefined" in alpha
    pct = next(line for line in lines if line.lstrip().startswith("percent_agreement")).split()
    assert pct[1:3] == ["identity", "1.0000"] and pct[-2:] == ["2", "4"]


def test_undefined_cells_empty_in_csv_and_null_in_parquet(same, tmp_path, capsys):
    assert main(["agreement", str(same), "-q", "-o", "-"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ",".join([*COLUMNS, "note"])
    assert lines[1].split(",")[:10] == ["krippendorff_alpha"] + [""] * 9
    assert lines[-1] == "percent_agreement,identity,1.0,0.0,1.0,1.0,1.0,0.0,2,4,"
    import pyarrow.parquet as pq  # a core dependency
    out = tmp_path / "out.parquet"
    assert main(["agreement", str(same), "-q", "-o", str(out)]) == 0
    t = pq.read_table(out)
    assert t.column_names == [*COLUMNS, "note"]
    assert str(t.schema.field("n_items").type) == "int64" and str(t.schema.field("value").type) == "double"
    assert t.column("value").null_count == 5 and t.column("variant").null_count == 5
    assert t.column("note").null_count == 1  # percent agreement is defined


def test_column_order_fixed_whatever_is_undefined(csv, tmp_path, capsys):
    # all defined: the same columns (note empty) in files; the readable table leaves the empty note out
    assert main(["agreement", str(csv), "-q", "-o", "-"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == ",".join([*COLUMNS, "note"])
    assert main(["agreement", str(csv), "-q"]) == 0
    assert capsys.readouterr().out.splitlines()[0].split() == COLUMNS
    # a coefficient undefined in the middle (Conger, one rater with repeats): note still last
    dup = _write(tmp_path, "dup.csv", [("a", "w1", "x"), ("a", "w1", "y"), ("b", "w1", "x")])
    assert main(["agreement", str(dup), "--duplicates", "keep", "-q"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [*COLUMNS, "note"]
    assert "NaN" not in "\n".join(lines) and lines[1].split()[-2:] == ["1", "2"]


def test_no_pair_of_ratings_reads_cleanly(tmp_path, capsys):
    single = _write(tmp_path, "single.csv", [("a", "w1", "x"), ("b", "w2", "y")])
    assert main(["agreement", str(single), "-q"]) == 0
    out = capsys.readouterr().out
    assert "None" not in out and "NaN" not in out and out.count("fewer than two ratings") == 6


def test_multilabel_and_numeric_frames_typed(tmp_path, capsys):
    sets = _write(tmp_path, "ml.csv", [("a", "w1", "red|blue"), ("a", "w2", "red"), ("b", "w1", "blue"),
                                      ("b", "w2", "blue")])
    assert main(["agreement", str(sets), "--kind", "multilabel", "--sep", "|", "-q"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == COLUMNS and "None" not in "\n".join(lines)
    assert lines[1].split()[3:8] == ["-"] * 5 and lines[1].split()[-2:] == ["2", "4"]
    nums = _write(tmp_path, "num.csv", [(i, w, v) for i, row in enumerate([(1, 2), (5, 5), (9, 7)])
                                        for w, v in zip(("w1", "w2"), row)])
    assert main(["agreement", str(nums), "--kind", "numeric", "-q", "-o", "-"]) == 0
    rows = list(csv_module.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["coefficient", "variant", "value", "se", "ci_low", "ci_high", "F", "df1", "df2", "pval",
                       "pa", "pe", "n_items", "n_annotations"]
    icc1, alpha = rows[1], rows[-1]
    assert icc1[:2] == ["ICC1", "ICC(1,1)"] and icc1[3] == "" and icc1[7:9] == ["2", "3"]
    assert icc1[-4:] == ["", "", "3", "6"]  # an ICC's annotations: complete items x raters
    assert alpha[0] == "krippendorff_alpha" and alpha[6:10] == [""] * 4 and alpha[-2:] == ["3", "6"]


def test_pairwise_without_a_qualifying_pair_prints_one_note(csv, tmp_path, capsys):
    assert main(["agreement", str(csv), "-c", "pairwise", "--min-overlap", "31", "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "no pair of workers shares >= 31 items (--min-overlap)\n"
    out = tmp_path / "pairs.csv"
    assert main(["agreement", str(csv), "-c", "pairwise", "--min-overlap", "31", "-o", str(out)]) == 0
    assert out.read_text() == "worker_a,worker_b,n_items,agreement,kappa\n"
    assert "no pair of workers shares >= 31 items" in capsys.readouterr().err
