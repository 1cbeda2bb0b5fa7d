"""``--kind categorical|ordinal|numeric|multilabel`` of ``crowdagg aggregate``, ``agreement``
and ``summary``: the methods and coefficients of each kind, and one-line errors (exit 2)
for combinations that do not apply."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from crowdagg.agreement import icc, krippendorff_alpha_sets
from crowdagg.cli import main
from crowdagg.cli._common import kind_class
from crowdagg.errors import InputError
from crowdagg.methods.ratings import MeanRating, WorkerBiasNoise


@pytest.fixture
def ratings(tmp_path):
    rng = np.random.default_rng(0)
    rows = [(f"t{i}", f"w{w}", int(np.clip(round(5 + (i % 5) + rng.normal(0, 1) + (w % 3 - 1)), 0, 10)))
            for i in range(12) for w in range(4)]
    df = pd.DataFrame(rows, columns=["task", "worker", "label"])
    p = tmp_path / "ratings.csv"
    df.to_csv(p, index=False)
    return p, df


@pytest.fixture
def sets(tmp_path):
    df = pd.DataFrame({"item": ["a", "a", "b", "b", "c", "c"], "worker": ["x", "y"] * 3,
                       "label": ["cat|dog", "cat", "dog", "dog", "|", "bird"]})
    p = tmp_path / "sets.csv"
    df.to_csv(p, index=False)
    return p, df


def one_line_error(capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err, err
    return err


def test_aggregate_numeric_methods(ratings, tmp_path):
    path, df = ratings
    for method, cls in (("mean", MeanRating), ("biasnoise", WorkerBiasNoise), (None, WorkerBiasNoise)):
        out = tmp_path / f"{method}.csv"
        argv = ["aggregate", str(path), "--kind", "numeric", "-o", str(out), "--quiet"]
        if method:
            argv += ["--method", method]
        assert main(argv) == 0
        got = pd.read_csv(out)
        assert list(got.columns) == ["item", "estimate", "stderr", "n_answers"]
        want = cls().fit(df.astype({"task": str}), item_col="task").labels_
        assert np.allclose(got.set_index("item")["estimate"].loc[want.index], want, atol=1e-9)
    assert main(["aggregate", str(path), "--kind", "numeric", "-m", "median", "-o", str(tmp_path / "m.csv")]) == 0


def test_aggregate_numeric_gold(ratings, tmp_path):
    path, _ = ratings
    gold = tmp_path / "gold.csv"
    pd.DataFrame({"task": ["t0", "t1"], "label": [2.75, 9]}).to_csv(gold, index=False)
    out = tmp_path / "o.csv"
    assert main(["aggregate", str(path), "--kind", "numeric", "--gold", str(gold), "-o", str(out), "-q"]) == 0
    got = pd.read_csv(out).set_index("item")
    assert got.loc["t0", "estimate"] == 2.75 and got.loc["t1", "stderr"] == 0
    assert main(["aggregate", str(path), "--kind", "numeric", "--max-iter", "3", "--tol", "0", "-o",
                 str(out), "-q"]) == 0


def test_bad_combinations(ratings, sets, capsys):
    path, _ = ratings
    one_line_error(capsys, ["aggregate", str(path), "--kind", "numeric", "--method", "ds"], "does not apply")
    one_line_error(capsys, ["aggregate", str(path), "--method", "mean"], "--kind categorical")
    one_line_error(capsys, ["aggregate", str(path), "--kind", "ordinal", "-m", "biasnoise"], "--kind ordinal")
    one_line_error(capsys, ["aggregate", str(path), "--sep", "|"], "--sep applies to --kind multilabel")
    one_line_error(capsys, ["aggregate", str(path), "--kind", "numeric", "--labels", "1,2"], "--labels")
    one_line_error(capsys, ["aggregate", str(path), "--kind", "numeric", "--seed", "3"], "--seed")
    one_line_error(capsys, ["aggregate", str(path), "--kind", "bogus"], "invalid choice")
    one_line_error(capsys, ["agreement", str(path), "--kind", "numeric", "-c", "fleiss"], "does not apply")
    one_line_error(capsys, ["agreement", str(path), "-c", "icc"], "--kind numeric")
    one_line_error(capsys, ["agreement", str(path), "--kind", "numeric", "--weights", "linear"], "--weights")
    spath, _ = sets
    one_line_error(capsys, ["agreement", str(spath), "--kind", "multilabel", "--sep", "|", "--level", "interval"],
                   "--level")
    one_line_error(capsys, ["summary", str(path), "--kind", "numeric", "--labels", "1"], "--labels")
    # numeric kinds need numbers
    one_line_error(capsys, ["aggregate", str(spath), "--kind", "numeric"], "numeric")
    one_line_error(capsys, ["agreement", str(spath), "--kind", "numeric"], "numeric")
    # multi-label cells as text need --sep
    one_line_error(capsys, ["agreement", str(spath), "--kind", "multilabel"], "sep")


def test_class_not_available_is_one_line():
    with pytest.raises(InputError, match="not available"):
        kind_class("ordinal", "NoSuchEstimator")


def test_agreement_numeric(ratings, tmp_path):
    path, df = ratings
    out = tmp_path / "agr.csv"
    assert main(["agreement", str(path), "--kind", "numeric", "-o", str(out), "-q"]) == 0
    got = pd.read_csv(out).set_index("coefficient")
    ref = icc(df, item_col="task")
    assert np.allclose(got.loc[list(ref.index), "value"], ref["ICC"], atol=1e-12)
    assert got.loc["krippendorff_alpha", "variant"] == "interval"
    assert main(["agreement", str(path), "--kind", "numeric", "-c", "icc", "-o", str(out), "-q"]) == 0
    assert len(pd.read_csv(out)) == 6
    assert main(["agreement", str(path), "--kind", "numeric", "-c", "alpha", "--level", "ratio", "-o", str(out)]) == 0
    assert pd.read_csv(out)["variant"].tolist() == ["ratio"]


def test_agreement_numeric_sparse_ratings_leave_out_icc(ratings, tmp_path, capsys):
    """Crowd ratings rarely have items rated by every rater: ``all`` gives alpha and says in one
    warning line why the ICCs are left out; asking for ``icc`` alone is an error."""
    path, df = ratings
    sparse = df[~((df["worker"] == "w0") & df["task"].isin(["t0", "t1"]))
                & ~((df["worker"] != "w0") & ~df["task"].isin(["t0", "t1"]) & (df.index % 2 == 0))]
    p = tmp_path / "sparse.csv"
    sparse.to_csv(p, index=False)
    out = tmp_path / "agr.csv"
    assert main(["agreement", str(p), "--kind", "numeric", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: the ICCs are left out" in err and err.count("warning") == 1
    assert pd.read_csv(out)["coefficient"].tolist() == ["krippendorff_alpha"]
    one_line_error(capsys, ["agreement", str(p), "--kind", "numeric", "-c", "icc"], "complete item")


def test_agreement_multilabel(sets, tmp_path):
    path, df = sets
    out = tmp_path / "a.csv"
    assert main(["agreement", str(path), "--kind", "multilabel", "--sep", "|", "-o", str(out), "-q"]) == 0
    got = pd.read_csv(out).set_index("variant")
    ref = krippendorff_alpha_sets(df, "masi", sep="|")
    assert got.loc["masi", "value"] == pytest.approx(ref.value)
    assert got.loc["jaccard", "value"] == pytest.approx(krippendorff_alpha_sets(df, "jaccard", sep="|").value)


def test_agreement_ordinal_default_level(ratings, tmp_path):
    path, _ = ratings
    out = tmp_path / "o.csv"
    assert main(["agreement", str(path), "--kind", "ordinal", "-c", "alpha", "-o", str(out), "-q"]) == 0
    assert pd.read_csv(out)["variant"].tolist() == ["ordinal"]
    assert main(["agreement", str(path), "-c", "alpha", "-o", str(out), "-q"]) == 0
    assert pd.read_csv(out)["variant"].tolist() == ["nominal"]  # categorical: today's default


def test_summary_kinds(ratings, sets, capsys):
    path, df = ratings
    assert main(["summary", str(path), "--kind", "numeric", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["kind"] == "numeric" and d["ratings"]["n_ratings"] == len(df)
    assert d["ratings"]["mean"] == pytest.approx(df["label"].mean())
    assert main(["summary", str(path), "--kind", "numeric"]) == 0
    assert "ratings (--kind numeric)" in capsys.readouterr().out
    spath, _ = sets
    assert main(["summary", str(spath), "--kind", "multilabel", "--sep", "|", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)["label_sets"]
    assert d["empty_sets"] == 1 and d["label_counts"] == {"dog": 3, "cat": 2, "bird": 1}
    assert main(["summary", str(path), "--kind", "ordinal", "--labels", ",".join(map(str, range(11))),
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["levels"]["order"][:3] == ["0", "1", "2"]


def test_summary_sd_of_one_rating_is_undefined(ratings, tmp_path, capsys):
    """The sample SD of one rating is undefined: ``-`` in the text, null in JSON (it said 0.0)."""
    one = tmp_path / "one.csv"
    one.write_text("item,worker,label\na,w1,5\n")
    assert main(["summary", str(one), "--kind", "numeric", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)["ratings"]
    assert d["sd"] is None and d["mean"] == 5.0 and d["n_ratings"] == 1
    assert main(["summary", str(one), "--kind", "numeric"]) == 0
    assert "\n  sd: -\n" in capsys.readouterr().out
    path, df = ratings  # two or more ratings: the sample SD (ddof=1)
    assert main(["summary", str(path), "--kind", "numeric", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ratings"]["sd"] == pytest.approx(df["label"].std(ddof=1))
    assert main(["summary", str(path)]) == 0  # categorical: today's output
    assert "ratings" not in capsys.readouterr().out


def test_aggregate_ordinal_and_multilabel(ratings, sets, tmp_path, capsys):
    """Through the other helper's classes when they exist; a one-line 'not available' otherwise."""
    import crowdagg

    path, _ = ratings
    out = tmp_path / "o.csv"
    try:
        crowdagg.OrdinalDawidSkene  # noqa: B018
    except (AttributeError, ImportError):
        one_line_error(capsys, ["aggregate", str(path), "--kind", "ordinal"], "not available")
    else:
        assert main(["aggregate", str(path), "--kind", "ordinal", "-o", str(out), "-q",
                     "--labels", ",".join(map(str, range(11)))]) == 0
        assert len(pd.read_csv(out)) == 12
        one_line_error(capsys, ["aggregate", str(path), "--kind", "ordinal", "--labels", "0,1"], "")
    spath, _ = sets
    try:
        crowdagg.MultiLabel  # noqa: B018
    except (AttributeError, ImportError):
        one_line_error(capsys, ["aggregate", str(spath), "--kind", "multilabel", "--sep", "|"], "not available")
    else:
        assert main(["aggregate", str(spath), "--kind", "multilabel", "--sep", "|", "-o", str(out), "-q"]) == 0
        assert len(pd.read_csv(out)) == 3


@pytest.mark.parametrize("command", ["aggregate", "summary"])
def test_numeric_kind_reads_equal_numbers_written_two_ways(command, tmp_path, capsys):
    """A CSV with ratings "1" and "1.0" (or "-0.0" and "0.0") keeps its labels as text, since
    as labels they are distinct; --kind numeric reads them as the numbers they are (it failed:
    "numeric ratings need numeric labels"). A label that is not a number still fails."""
    path = tmp_path / "r.csv"
    path.write_text("item,worker,label\n1,a,1\n1,b,1.0\n2,a,-0.0\n2,b,0.0\n3,a,2.5\n3,b,+2.5e0\n")
    out = tmp_path / "o.csv"
    argv = [command, str(path), "--kind", "numeric"] + (["-m", "mean", "-o", str(out)] if command == "aggregate"
                                                         else ["--json"])
    assert main(argv) == 0, capsys.readouterr().err
    if command == "aggregate":
        got = pd.read_csv(out).set_index("item")["estimate"]
        np.testing.assert_allclose(got.loc[[1, 2, 3]].to_numpy(), [1.0, 0.0, 2.5])
    else:
        summary = json.loads(capsys.readouterr().out)
        assert summary["ratings"]["distinct_values"] == 3 and summary["n_labels"] == 3
        assert summary["label_counts"] == {"0.0": 2, "1.0": 2, "2.5": 2}
    path.write_text("item,worker,label\n1,a,1\n1,b,1.0\n2,a,x\n")
    assert main(argv) == 2
    assert "numeric" in capsys.readouterr().err
