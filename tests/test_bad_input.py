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
