"""``crowdagg agreement`` sub-command."""

from __future__ import annotations

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
