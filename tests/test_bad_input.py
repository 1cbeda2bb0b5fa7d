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


@pytest.mark.parametrize("case", COMMANDS, ids=[c.id for c in COMMANDS])
def test_cli_one_line_exit_2(case, tmp_path, capsys, monkeypatch):
    if case.setup is not None:
        case.setup(tmp_path)
    monkeypatch.chdir(tmp_path)
    try:
        rc = cli_main(case.cli(tmp_path))
    except SystemExit as exc:  # argparse rejects bad option values itself
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 or (lines and lines[-1].startswith("crowdagg") and "error" in lines[-1]), err
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
        if proc.returncode != 2 or "Traceback" in proc.stderr:
            failures.append(f"{case.id}: exit {proc.returncode}: {proc.stderr[-500:]}")
    assert not failures, "\n".join(failures)
