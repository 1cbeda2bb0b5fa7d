"""Run the bad-input corpus (tests/corpus/) through the library and the CLI."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from corpus import all_cases

from crowdagg.cli import main as cli_main
from crowdagg.errors import CrowdaggError

CASES = all_cases()
LIBRARY = [c for c in CASES if c.call is not None]
COMMANDS = [c for c in CASES if c.cli is not None]


@pytest.mark.parametrize("case", LIBRARY, ids=[c.id for c in LIBRARY])
def test_library_raises_crowdagg_error(case, tmp_path):
    if case.setup is not None:
        case.setup(tmp_path)
    with pytest.raises(CrowdaggError) as info:
        case.call(tmp_path)
    assert isinstance(info.value, case.error), f"{type(info.value).__name__}: {info.value}"
    if case.match:
        assert re.search(case.match, str(info.value)), str(info.value)


_ERROR_LINE = re.compile(r"^crowdagg( [a-z]+)?: error: \S")


def cli_stderr_problem(err: str) -> str | None:
    """What is wrong with the stderr of a failed command, or None.

    The rule: the last line is ``crowdagg[ <command>]: error: <message>`` -- argparse's
    errors included (they print no usage block) -- and it is the only error line; lines
    before it are crowdagg's own one-line notes (``crowdagg <command>: left out ...``,
    ``crowdagg <command>: warning: ...``).  Never a traceback, never the internal-error net.
    """
    lines = [ln for ln in err.splitlines() if ln.strip()]
    if "Traceback" in err or "internal error" in err:
        return "a traceback or an internal error"
    if not lines or not _ERROR_LINE.match(lines[-1]):
        return "the last line is not 'crowdagg <command>: error: ...'"
    if any(not ln.startswith("crowdagg") or ": error:" in ln for ln in lines[:-1]):
        return "other lines than crowdagg's notes before the error line"
    return None


@pytest.mark.parametrize("case", COMMANDS, ids=[c.id for c in COMMANDS])
def test_cli_one_line_exit_2(case, tmp_path, capsys, monkeypatch):
    if case.setup is not None:
        case.setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    rc = cli_main(case.cli(tmp_path))  # main returns the exit status, argparse's errors included
    out, err = capsys.readouterr()
    assert rc == 2, err
    problem = cli_stderr_problem(err)
    assert problem is None, f"{problem}:\n{err}"
    assert out == "", out
    if case.match:
        assert re.search(case.match, err), err


def test_cli_corpus_in_a_real_process(tmp_path):
    """The console entry point in a new process (cases with ``process=True``): exit 2, no traceback."""
    script = ["import sys", "from crowdagg.cli import main", "sys.exit(main(sys.argv[1:]))"]
    failures = []
    for case in (c for c in COMMANDS if c.process):
        d = tmp_path / re.sub(r"\W", "_", case.id)
        d.mkdir()
        if case.setup is not None:
            case.setup(d)
        proc = subprocess.run([sys.executable, "-c", "\n".join(script), *case.cli(d)], cwd=d,
                              capture_output=True, text=True, timeout=120)
        problem = cli_stderr_problem(proc.stderr)
        if proc.returncode != 2 or problem or (case.match and not re.search(case.match, proc.stderr)):
            failures.append(f"{case.id}: exit {proc.returncode}, {problem}: {proc.stderr[-500:]}")
    assert not failures, "\n".join(failures)


# --------------------------------------------------------------------------- NUL bytes
@pytest.mark.parametrize("body, line", [
    (b"item,worker,label\na,w1,x\x00y\n", 2),  # in a data row's label
    (b"item,worker,label,note\na,w1,x,ok\nb,w1,y,\x00\n", 3),  # in a column that is not read
    (b'item,worker,label\na,w1,"two\nlines"\nb,w2,\x00\n', 4),  # physical lines are counted
    (b"item,worker,label\x00\na,w1,x\n", 1),  # in the header
])
def test_csv_nul_byte_anywhere_is_a_binary_file(tmp_path, monkeypatch, body, line):
    """A NUL byte is never text: the whole file is scanned (block by block), never written out."""
    from crowdagg import AnnotationTable, ingest
    from crowdagg.errors import FormatError

    path = tmp_path / "n.csv"
    path.write_bytes(body)
    for block in (ingest._NUL_SCAN_BLOCK, 3):  # one block; the NUL past many blocks
        monkeypatch.setattr(ingest, "_NUL_SCAN_BLOCK", block)
        with pytest.raises(FormatError, match=rf"binary file, not UTF-8 text \(a NUL byte on line {line}\)"):
            AnnotationTable.read_csv(path)
    out = subprocess.run([sys.executable, "-m", "crowdagg", "aggregate", str(path), "-m", "mv"],
                         capture_output=True)
    assert out.returncode == 2 and out.stdout == b"" and b"\x00" not in out.stderr
    assert cli_stderr_problem(out.stderr.decode()) is None


def test_csv_without_nul_reads_across_scan_blocks(tmp_path, monkeypatch):
    from crowdagg import AnnotationTable, ingest

    path = tmp_path / "ok.csv"
    path.write_bytes(b"item,worker,label\n" + b"".join(b"i%d,w1,x\n" % k for k in range(50)))
    monkeypatch.setattr(ingest, "_NUL_SCAN_BLOCK", 7)
    assert AnnotationTable.read_csv(path).n_annotations == 50


def test_gold_csv_nul_byte_is_named(tmp_path):
    from crowdagg.errors import GoldError
    from crowdagg.gold import read_gold

    path = tmp_path / "g.csv"
    path.write_bytes(b"item,label\na,x\nb,y\x00\n")
    with pytest.raises(GoldError, match=r"binary file.*NUL byte on line 3"):
        read_gold(str(path))


@pytest.mark.parametrize("column", ["item", "worker", "label"])
def test_lone_surrogate_is_an_encoding_error(column):
    """Text with a lone surrogate (bytes decoded with errors='surrogateescape') cannot be
    stored as a string: a crowdagg EncodingError naming the column and the value, not
    pyarrow's raw UnicodeEncodeError."""
    import pandas as pd

    import crowdagg
    from crowdagg.errors import EncodingError

    data = {"item": ["i1", "i1"], "worker": ["a", "b"], "label": ["x", "y"]}
    data[column] = pd.Series([data[column][0] + "\udc80", data[column][1]], dtype=object)
    with pytest.raises(EncodingError, match=rf"in column '{column}' is not valid Unicode"):
        crowdagg.MajorityVote().fit(pd.DataFrame(data))
