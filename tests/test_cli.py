"""The crowdagg command line: aggregate and summary."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

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


# --------------------------------------------------------------------------- what ingest left out
MTURK = Path(__file__).parent / "fixtures" / "mturk" / "plain.csv"  # one Rejected assignment


def test_left_out_rows_are_named_on_stderr(tmp_path, capsys):
    assert main(["aggregate", str(MTURK), "-o", str(tmp_path / "o.csv")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "crowdagg aggregate: left out 1 row: 1 rejected assignment"
    assert main(["aggregate", str(MTURK), "-q"]) == 0
    assert capsys.readouterr().err == ""  # --quiet: no note
    assert main(["aggregate", str(MTURK), "--include-rejected"]) == 0
    assert capsys.readouterr().err == ""  # nothing left out: no note
    ann = tmp_path / "nulls.csv"
    ann.write_text("item,worker,label\n1,a,x\n1,a,y\n1,b,\n2,a,\n2,b,y\n3,a,x\n3,b,x\n4,a,y\n4,b,x\n")
    assert main(["agreement", str(ann), "-c", "percent", "--duplicates", "first", "-o", "-"]) == 0
    assert capsys.readouterr().err == (
        "crowdagg agreement: left out 3 rows: 2 null labels, 1 repeated (item, worker) pair\n")


def test_no_note_when_nothing_is_left_out(answers, capsys):
    assert main(["aggregate", str(answers)]) == 0
    assert capsys.readouterr().err == ""


def test_summary_shows_what_was_left_out(capsys):
    assert main(["summary", str(MTURK)]) == 0
    out, err = capsys.readouterr()
    assert "rejected: 1" in out and err == "crowdagg summary: left out 1 row: 1 rejected assignment\n"
    assert main(["summary", str(MTURK), "--json", "-q"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["dropped"]["rejected"] == 1 and err == ""


def test_describe_dropped():
    from crowdagg.cli._common import describe_dropped

    assert describe_dropped({"null_label": 0, "duplicate": 0}) is None
    assert describe_dropped({}) is None
    assert describe_dropped({"other_status": 2, "rejected": 1}) == (
        "3 rows: 2 assignments with another status, 1 rejected assignment")
    assert describe_dropped({"blank_id": 1}) == "1 row: 1 blank id"  # a reason this CLI does not know yet


# --------------------------------------------------------------------------- options
def test_keep_whitespace(tmp_path, capsys):
    ann = tmp_path / "ws.csv"
    ann.write_text("item,worker,label\n1,a,x\n1,b, x\n2 ,a,x\n2,b,x\n")
    gold = tmp_path / "gold.csv"
    gold.write_text("item,label\n 1 ,x \n")
    assert main(["summary", str(ann), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["n_items"], d["n_labels"]) == (2, 1)
    assert main(["summary", str(ann), "--json", "--keep-whitespace"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["n_items"], d["n_labels"]) == (3, 2) and set(d["label_counts"]) == {"x", " x"}
    assert main(["workers", str(ann), "--gold", str(gold), "-o", "-"]) == 0  # " 1 " is item 1, "x " is x
    df = pd.read_csv(io.StringIO(capsys.readouterr().out)).set_index("worker")
    assert df["n_gold"].tolist() == [1, 1] and df["n_correct"].tolist() == [1, 1]
    assert main(["workers", str(ann), "--gold", str(gold), "--keep-whitespace"]) == 2  # no item " 1 "
    assert "not in the table" in capsys.readouterr().err


def test_output_folders_are_created_and_nothing_is_left_on_failure(answers, tmp_path, capsys):
    out = tmp_path / "new" / "deeper" / "out.csv"
    assert main(["aggregate", str(answers), "-q", "-o", str(out)]) == 0
    assert pd.read_csv(out)["item"].tolist() == ["t1", "t2"]
    dup = tmp_path / "dup.csv"
    dup.write_text("item,worker,label\n1,a,x\n1,a,y\n")
    never = tmp_path / "never.csv"
    assert main(["aggregate", str(dup), "-o", str(never)]) == 2
    assert not never.exists()  # the writability probe leaves no empty file behind
    before = answers.read_bytes()
    assert main(["aggregate", str(answers), "-o", str(answers)]) == 2
    assert answers.read_bytes() == before
    assert "never overwrites its input" in capsys.readouterr().err


def test_help_names_the_rules(capsys):
    assert main(["aggregate", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "missing parent folders are created" in text and "--keep-whitespace" in text


# --------------------------------------------------------------------------- the safety net
def test_internal_error_is_one_line(answers, monkeypatch, capsys):
    import crowdagg.cli.summary as summary

    def boom(args):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(summary, "run", boom)
    monkeypatch.delenv("CROWDAGG_DEBUG", raising=False)
    assert main(["summary", str(answers)]) == 2
    err = capsys.readouterr().err
    assert err == ("crowdagg summary: internal error: RuntimeError: boom; second line "
                   "(set CROWDAGG_DEBUG=1 for the traceback)\n")
    monkeypatch.setenv("CROWDAGG_DEBUG", "1")
    assert main(["summary", str(answers)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Traceback") and err.splitlines()[-1].startswith("crowdagg summary: internal error:")


def test_warnings_are_one_line(answers, monkeypatch, capsys):
    import warnings

    import crowdagg.cli.summary as summary
    from crowdagg.errors import ConvergenceWarning

    def warn(args):
        warnings.warn("stopped at max_iter\nraise it", ConvergenceWarning, stacklevel=1)
        return 0

    monkeypatch.setattr(summary, "run", warn)
    assert main(["summary", str(answers)]) == 0
    assert capsys.readouterr().err == "crowdagg summary: warning: stopped at max_iter; raise it\n"


# --------------------------------------------------------------------------- a real process
def _crowdagg(*argv, **kw):
    return subprocess.run([sys.executable, "-m", "crowdagg", *argv], text=True, timeout=120, **kw)


def test_standard_output_closed_full_or_cut_short(tmp_path, answers):
    r = _crowdagg("aggregate", str(answers), "-q", stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
                  preexec_fn=lambda: os.close(1))  # `crowdagg ... >&-`
    assert (r.returncode, r.stderr) == (2, "crowdagg aggregate: error: standard output is closed\n")
    if os.path.exists("/dev/full"):
        with open("/dev/full", "w") as full:  # `crowdagg ... > /dev/full`
            r = _crowdagg("summary", str(answers), stdout=full, stderr=subprocess.PIPE)
        assert (r.returncode, r.stderr) == (2, "crowdagg summary: error: No space left on device\n")
    big = tmp_path / "big.csv"
    big.write_text("item,worker,label\n" + "".join(f"i{i},{w},{'xy'[(i + j) % 2]}\n"
                                                  for i in range(6000) for j, w in enumerate("abc")))
    proc = subprocess.Popen([sys.executable, "-m", "crowdagg", "aggregate", str(big), "-q", "--method", "mv"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().startswith("item,label")  # `crowdagg ... | head -1`
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0 and err == ""  # quiet: no traceback, no "Exception ignored"


def test_parsing_options_imports_no_pandas():
    code = ("import sys; from crowdagg.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('pandas', 'numba', 'pyarrow') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "[]", r.stderr


# --------------------------------------------------------------------------- reviewer defects (fix-cli)
def test_many_labels_give_no_fragmentation_warning(tmp_path, capsys):
    """200 labels: the posterior block is built at once, no pandas PerformanceWarning (one per
    column past 100 before), neither from ``to_pandas`` nor on the CLI's stderr."""
    import warnings

    import crowdagg

    df = pd.DataFrame({"item": [f"i{i}" for i in range(200)], "worker": "w", "label": [f"L{i:03d}" for i in
                                                                                       range(200)]})
    src = tmp_path / "many.csv"
    df.to_csv(src, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = crowdagg.MajorityVote().fit(df).to_pandas()
    assert out.shape == (200, 203) and list(out.columns[:4]) == ["item", "label", "confidence", "proba_L000"]
    assert main(["aggregate", str(src), "-m", "mv", "-q", "-o", str(tmp_path / "o.csv")]) == 0
    assert capsys.readouterr().err == ""
    assert pd.read_csv(tmp_path / "o.csv").shape == (200, 203)


@pytest.mark.parametrize("option", ["--worker-col", "--label-col"])
@pytest.mark.parametrize("command", ["aggregate", "summary"])
def test_mturk_input_refuses_worker_and_label_columns(option, command, capsys):
    """An MTurk batch has WorkerId and Answer.* fields: --worker-col / --label-col do not apply
    (an error, not ignored), even when written with their default value; --item-col does."""
    for value in ("zz", "worker" if option == "--worker-col" else "label"):
        assert main([command, str(MTURK), option, value, "-q"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{option} does not apply to Mechanical Turk files" in err
    assert main([command, str(MTURK), "--item-col", "HITId", "-q"]) == 0


def test_goldmv_asks_for_gold_in_cli_words(answers, tmp_path, capsys):
    """Without --gold, -m goldmv is one line naming --gold (not the API's ``fit(data, gold=...)``),
    before anything is read or written; with it, aggregate and next fit it."""
    gold = tmp_path / "gold.csv"
    gold.write_text("task,label\nt1,x\n")
    for command in ("aggregate", "next"):
        out = tmp_path / command / "out.csv"
        assert main([command, str(answers), "-m", "goldmv", "-o", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--gold" in err and "fit(" not in err and "gold=" not in err
        assert not out.parent.exists()
        assert main([command, str(answers), "-m", "goldmv", "--gold", str(gold), "-q", "-o", str(out)]) == 0
    assert pd.read_csv(tmp_path / "aggregate" / "out.csv")["label"].tolist() == ["x", "y"]


def test_report_goldmv_fits_with_gold(answers, tmp_path, capsys):
    """``report -m goldmv --gold G`` gives G to the fit (the method needs it; other methods never
    see it); without --gold it is one line naming --gold, and no page is written."""
    pytest.importorskip("jinja2", reason="the report needs the report extra (jinja2)")
    pytest.importorskip("matplotlib", reason="the report needs the report extra (matplotlib)")
    gold = tmp_path / "gold.csv"
    gold.write_text("task,label\nt1,x\n")
    page = tmp_path / "r.html"
    assert main(["report", str(answers), "-m", "goldmv", "--gold", str(gold), "-q", "-o", str(page)]) == 0
    assert page.stat().st_size > 0
    never = tmp_path / "never.html"
    assert main(["report", str(answers), "-m", "goldmv", "-o", str(never)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--gold" in err and "fit(" not in err
    assert not never.exists()


def test_mturk_messages_name_cli_options(tmp_path, capsys):
    """read_mturk's API wording (``field=``) reads as the CLI option (``--field``) on the command line."""
    import crowdagg
    from crowdagg.errors import InputError

    batch = tmp_path / "two.csv"
    batch.write_text("HITId,WorkerId,AssignmentStatus,Answer.a,Answer.b\nH1,W1,Approved,neg,x\n"
                     "H1,W2,Approved,pos,y\n")
    assert main(["aggregate", str(batch)]) == 2
    err = capsys.readouterr().err
    assert err == "crowdagg aggregate: error: the file has 2 answer fields: 'a', 'b'; choose one with --field\n"
    with pytest.raises(InputError, match="choose one with field=$"):  # the API keeps its own words
        crowdagg.mturk.read_mturk(batch)
    assert main(["aggregate", str(batch), "--field", "b", "-q"]) == 0
    rejected = tmp_path / "rejected.csv"
    rejected.write_text("HITId,WorkerId,AssignmentStatus,Answer.a\nH1,W1,Rejected,x\n")
    assert main(["summary", str(rejected)]) == 2
    err = capsys.readouterr().err
    assert "(--include-rejected)" in err and "include_rejected=" not in err


def test_output_extensions_are_the_documented_ones(answers, tmp_path, capsys):
    """-o takes exactly the names --help lists (.csv, .tsv, .parquet, .pq): x.txt is refused (exit 2,
    nothing written) instead of being written as CSV."""
    import re

    from crowdagg.cli._common import OUTPUT_EXT

    assert main(["aggregate", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    listed = re.search(r"output file, (.*?), or - for CSV", text).group(1)
    assert sorted(re.findall(r"\.[a-z]+", listed)) == sorted(OUTPUT_EXT)
    for name in ("out.txt", "out.TXT", "out.json", "out"):
        assert main(["aggregate", str(answers), "-m", "mv", "-q", "-o", str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "cannot tell the output format" in err and ".pq" in err
        assert not (tmp_path / name).exists()
    for name in ("o.csv", "o.TSV", "o.parquet", "o.pq"):
        assert main(["aggregate", str(answers), "-m", "mv", "-q", "-o", str(tmp_path / name)]) == 0
        read = pd.read_parquet if name.endswith(("parquet", "pq")) else (
            lambda p: pd.read_csv(p, sep="\t" if str(p).endswith("TSV") else ","))
        assert read(tmp_path / name)["item"].tolist() == ["t1", "t2"]


@pytest.mark.parametrize("command", ["aggregate", "next", "workers"])
def test_failed_command_leaves_no_new_folders(command, answers, tmp_path, capsys):
    """A command that fails after the -o check (here: a gold file without a label column) leaves
    none of the parent folders the check made, as report does; a run that succeeds makes them."""
    bad = tmp_path / "badgold.csv"
    bad.write_text("task,truth\nt1,x\n")
    out = tmp_path / "z" / "new" / "x.csv"
    method = [] if command == "workers" else ["-m", "ds"]
    assert main([command, str(answers), *method, "--gold", str(bad), "-o", str(out)]) == 2
    assert "label" in capsys.readouterr().err
    assert not (tmp_path / "z").exists()
    good = tmp_path / "gold.csv"
    good.write_text("task,label\nt1,x\n")
    assert main([command, str(answers), *method, "--gold", str(good), "-q", "-o", str(out)]) == 0
    assert len(pd.read_csv(out)) > 0


def test_tsv_input_is_read_with_tabs(tmp_path, capsys):
    """A .tsv INPUT is tab-separated (it was read with commas: one column 'item\\tworker\\tlabel')."""
    src = tmp_path / "answers.TSV"
    src.write_text("item\tworker\tlabel\nt1\ta\tx, y\nt1\tb\tx, y\nt2\ta\tz\n")  # commas inside a label
    assert main(["aggregate", str(src), "-m", "mv", "-q"]) == 0
    df = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert df["item"].tolist() == ["t1", "t2"] and df["label"].tolist() == ["x, y", "z"]
    assert main(["summary", str(src), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n_annotations"] == 3
    csv = tmp_path / "answers.csv"  # a .csv name stays comma-separated
    csv.write_text("item\tworker\tlabel\nt1\ta\tx\n")
    assert main(["summary", str(csv)]) == 2
    assert "missing column" in capsys.readouterr().err


def test_bare_crowdagg_is_one_line(capsys):
    """A bare ``crowdagg`` fails like any other command line: one line naming the commands, exit 2,
    no usage block; ``crowdagg --help`` prints the help on stdout and exits 0."""
    assert main([]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == ("crowdagg: error: choose a command: aggregate, summary, agreement, workers, "
                                 "report, next (see crowdagg --help)\n")
    r = subprocess.run([sys.executable, "-m", "crowdagg"], capture_output=True, text=True, timeout=120)
    assert (r.returncode, r.stdout, r.stderr.count("\n")) == (2, "", 1) and "usage" not in r.stderr
    assert main(["--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: crowdagg")


@pytest.mark.parametrize("command", ["aggregate", "workers", "next", "report"])
def test_csv_gold_matches_integer_item_ids(command, tmp_path, capsys):
    """A CSV gold file names items as text; with integer item ids (a Parquet input) "1" is the
    item 1, in every command that takes --gold (before: "gold names 2 item(s) not in the table")."""
    data = tmp_path / "a.parquet"
    pd.DataFrame({"item": [1, 1, 2, 2, 3, 3], "worker": [10, 11, 10, 11, 10, 11],
                  "label": [0, 0, 1, 1, 0, 1]}).to_parquet(data)
    gold = tmp_path / "gold.csv"
    gold.write_text("item,label\n1,0\n2,1\n")
    suffix = {"report": ".html", "workers": ".csv"}.get(command, ".csv")
    argv = [command, str(data), "--gold", str(gold), "-o", str(tmp_path / f"out{suffix}"), "--quiet"]
    if command == "aggregate":
        argv += ["-m", "ds"]
    assert main(argv) == 0, capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("item,label\n01,0\n")  # "01" is not how the integer 1 is written: never merged with it
    argv[argv.index(str(gold))] = str(bad)
    assert main(argv) == 2
    assert "01" in capsys.readouterr().err


def test_tsv_gold_is_tab_separated(tmp_path, capsys):
    """A ``.tsv`` gold file is read with tabs, as a ``.tsv`` INPUT is (it was read with commas:
    one column 'item\\tlabel', a missing-column error)."""
    data = tmp_path / "a.csv"
    data.write_text("item,worker,label\na,w1,x\na,w2,x\nb,w1,y\nb,w2,x\n")
    gold = tmp_path / "gold.tsv"
    gold.write_text("item\tlabel\nb\ty\n")
    out = tmp_path / "o.csv"
    assert main(["aggregate", str(data), "-m", "ds", "--gold", str(gold), "-o", str(out), "--quiet"]) == 0, \
        capsys.readouterr().err
    assert pd.read_csv(out).set_index("item").loc["b", "label"] == "y"
    # the library, like AnnotationTable.read_csv, takes the delimiter it is given (the CLI passes a tab)
    from crowdagg.errors import GoldError
    from crowdagg.gold import read_gold

    assert read_gold(str(gold), delimiter="\t").to_dict() == {"b": "y"}
    with pytest.raises(GoldError, match="needs columns item"):
        read_gold(str(gold))


def test_csv_gold_matches_datetime_item_ids_as_the_output_writes_them(tmp_path, capsys):
    """Datetime item ids (Parquet) are written '2020-01-01' by the output CSV: a gold file
    may name them so (or as str writes them, '2020-01-01 00:00:00'); other text is refused."""
    days = pd.to_datetime(["2020-01-01", "2020-01-01", "2020-01-02", "2020-01-02"])
    data = tmp_path / "a.parquet"
    pd.DataFrame({"item": days, "worker": ["a", "b", "a", "b"], "label": ["x", "y", "y", "y"]}).to_parquet(data)
    out = tmp_path / "o.csv"
    for text in ("2020-01-01", "2020-01-01 00:00:00"):
        gold = tmp_path / "gold.csv"
        gold.write_text(f"item,label\n{text},y\n")
        assert main(["aggregate", str(data), "-m", "ds", "--gold", str(gold), "-o", str(out), "-q"]) == 0, \
            capsys.readouterr().err
        got = pd.read_csv(out).set_index("item")["label"]
        assert got.loc["2020-01-01"] == "y"  # the gold label, although the vote is a tie
    gold.write_text("item,label\n01/01/2020,y\n")
    assert main(["aggregate", str(data), "-m", "ds", "--gold", str(gold), "-o", str(out), "-q"]) == 2
    assert "01/01/2020" in capsys.readouterr().err
