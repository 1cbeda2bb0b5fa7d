"""Every ```python block of README.md and docs/*.md runs as written.

What the docs assume, and so what this test does:

* **Blocks of one file build on each other.** A later block uses names an earlier block of the
  same file defined (README's "Quick start" makes ``df``, which the following README blocks
  fit), so the blocks of one file run in file order in **one namespace per file**, and nothing
  is shared between files. Each block is its own test (``README.md:26``); running one block
  alone (``-k``) first runs the blocks above it in its file. A block whose earlier block failed
  fails too, naming that block.
* **The working directory is a fresh temporary folder per file** (``tmp_path_factory``, entered
  with ``monkeypatch.chdir``), so files a block writes (``model.crowdagg``, ``report.html``)
  land there and a later block of the file finds them. The bundled example is reached as the
  docs reach it, through ``crowdagg.datasets.example_path()``.
* **``../shared``**: blocks that read the shared datasets name them as ``../shared/...``
  (relative to a clone's root, as ``tests/conftest.py`` locates them). The temporary folder's
  parent gets a ``shared`` link to the real folder, so those paths resolve; when the shared
  folder is absent, such blocks are skipped.
* **Skipping**: an HTML comment starting ``<!-- skip-test`` on the line just above a fence skips
  that block (a Dask cluster, files the reader has and we do not). ``_PENDING`` lists README.md
  blocks known not to run as written (undefined names): they are expected to fail (strict
  xfail), so fixing or marking them makes the entry stale and this test says so.
* **Time**: with the JIT the whole module takes seconds. With ``NUMBA_DISABLE_JIT=1`` the
  blocks of README.md and docs/auto.md take minutes each, so only then are they marked slow
  (``--runslow`` runs them); the rest takes under a minute.

Shell blocks (``crowdagg ...`` commands) are not run here; the CLI has its own tests.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import NOJIT, ROOT, SHARED

DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[^\s`]*)")
_SKIP = re.compile(r"^\s*<!--\s*skip-test\b(?P<reason>.*?)(?:-->|$)")

#: README.md blocks that do not run as written, by how their first line starts: reported for README.md
#: (not this test's file to fix); each is a strict xfail, so a fixed block shows up as stale.
_PENDING: dict[str, str] = {}

#: files whose examples take minutes with the kernels run as Python (README's Quick start: 10k
#: items, 1,000 bootstraps, EBCC; ``aggregate``'s cross-validation): marked slow under
#: NUMBA_DISABLE_JIT=1 only (with the JIT the whole test takes seconds)
_SLOW_WITHOUT_JIT = {"README.md", "auto.md"}


@dataclass(frozen=True)
class Block:
    """One fenced Python block: its file, the 1-based line of its opening fence, its code."""

    path: Path
    line: int
    code: str
    skip: str | None = None

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def first_line(self) -> str:
        return next((ln.strip() for ln in self.code.splitlines() if ln.strip()), "")


def parse_blocks(text: str, path: Path) -> list[Block]:
    """The ```python (or ```py) blocks of a Markdown text, in order.

    Parameters
    ----------
    text : str
        The Markdown source.
    path : Path
        The file it came from (kept in each block for the test ids).

    Returns
    -------
    list of Block
        Each block's code dedented by its fence's indentation; ``skip`` holds the reason of a
        ``<!-- skip-test ... -->`` comment on the line above the fence (``""`` when it gives
        none), else None. A fence closes on a line of the same fence character at least as
        long; an unclosed fence runs to the end of the file.
    """
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, indent = m.group("fence"), len(m.group("indent"))
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        if m.group("lang").lower() in ("python", "py"):
            prev = _SKIP.match(lines[i - 1]) if i > 0 else None
            skip = prev.group("reason").strip(" :-") if prev else None
            code = "\n".join(ln[indent:] if ln[:indent].strip() == "" else ln for ln in lines[i + 1:j])
            blocks.append(Block(path, i + 1, code + "\n", skip))
        i = j + 1
    return blocks


ALL_BLOCKS = [b for p in DOC_FILES for b in parse_blocks(p.read_text(encoding="utf-8"), p)]


@dataclass
class _FileRun:
    """The state of one doc file's run: its namespace, folder and how far it got."""

    workdir: Path
    namespace: dict = field(default_factory=lambda: {"__name__": "__docs_example__"})
    done: int = 0                       # blocks of the file run so far (skipped ones included)
    failed: str | None = None           # id of the first block that raised
    no_shared: str | None = None        # id of the first block skipped for want of ../shared


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One :class:`_FileRun` per doc file, made on first use."""
    state: dict[Path, _FileRun] = {}

    def get(path: Path) -> _FileRun:
        if path not in state:
            base = tmp_path_factory.mktemp(path.stem)
            if SHARED.is_dir():
                (base / "shared").symlink_to(SHARED, target_is_directory=True)
            (base / "work").mkdir()
            state[path] = _FileRun(base / "work")
        return state[path]

    return get


def _needs_shared(block: Block) -> bool:
    return "../shared" in block.code


def _runnable(block: Block) -> bool:
    return block.skip is None and not (_needs_shared(block) and not SHARED.is_dir())


def _exec(block: Block, run: _FileRun) -> None:
    out = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(out):
        warnings.simplefilter("ignore")         # convergence warnings of short doc examples
        exec(compile(block.code, block.id, "exec"), run.namespace)


def _pending(block: Block) -> str | None:
    if block.path.name != "README.md":
        return None
    return next((why for start, why in _PENDING.items() if block.first_line.startswith(start)), None)


def _params():
    for b in ALL_BLOCKS:
        marks = []
        reason = _pending(b)
        if reason:
            marks.append(pytest.mark.xfail(strict=True, reason=reason))
        if NOJIT and b.path.name in _SLOW_WITHOUT_JIT:
            marks.append(pytest.mark.slow)
        yield pytest.param(b, id=b.id, marks=marks)


@pytest.mark.parametrize("block", list(_params()))
def test_doc_block_runs(block, runs, monkeypatch):
    run = runs(block.path)
    monkeypatch.chdir(run.workdir)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    same_file = [b for b in ALL_BLOCKS if b.path == block.path]
    index = same_file.index(block)
    for earlier in same_file[run.done:index]:   # blocks above it not yet run (-k selection)
        if _needs_shared(earlier) and not SHARED.is_dir():
            run.no_shared = run.no_shared or earlier.id
        elif _runnable(earlier) and run.failed is None:
            try:
                _exec(earlier, run)
            except Exception:
                if _pending(earlier) is None:
                    run.failed = earlier.id
        run.done += 1
    if run.done > index:
        pytest.fail(f"{block.id} ran already in this session (test run twice?)")
    run.done = index + 1
    if block.skip is not None:
        pytest.skip(f"marked skip-test: {block.skip or 'no reason given'}")
    if _needs_shared(block) and not SHARED.is_dir():
        run.no_shared = run.no_shared or block.id
        pytest.skip(f"needs ../shared ({SHARED} is absent)")
    if run.no_shared is not None:               # it may use what that block made
        pytest.skip(f"an earlier block of the file needs ../shared ({SHARED} is absent): {run.no_shared}")
    if run.failed is not None and _pending(block) is None:
        pytest.fail(f"an earlier block of the file failed: {run.failed}")
    try:
        _exec(block, run)
    except Exception:
        if run.failed is None and _pending(block) is None:
            run.failed = block.id
        raise


def test_blocks_are_found():
    """The parser sees the blocks the docs hold (a broken parser would make the test above vacuous)."""
    ids = {b.id.split(":")[0] for b in ALL_BLOCKS}
    assert {"README.md", "docs/em.md", "docs/agreement.md", "docs/quality.md"} <= ids
    assert len(ALL_BLOCKS) >= 25
    assert any(b.skip is not None for b in ALL_BLOCKS)


def test_pending_entries_are_not_stale():
    """Every ``_PENDING`` entry still names a README.md block that is not marked skip-test."""
    readme = [b for b in ALL_BLOCKS if b.path.name == "README.md"]
    for start, reason in _PENDING.items():
        hits = [b for b in readme if b.first_line.startswith(start)]
        assert len(hits) == 1, f"{len(hits)} README.md blocks start with {start!r} (want 1; {reason})"
        assert hits[0].skip is None, f"{hits[0].id} is marked skip-test now: drop {start!r} from _PENDING"


def test_parser_rules():
    text = "\n".join([
        "text", "```python", "a = 1", "```",
        "<!-- skip-test: why -->", "```py", "b = 2", "```",
        "  ```python", "  c = 3", "    d = 4", "  ```",
        "````python", "```", "e = 5", "````",
        "```bash", "crowdagg summary x.csv", "```",
        "```python", "f = 6",
    ])
    blocks = parse_blocks(text, ROOT / "x.md")
    assert [b.code for b in blocks] == ["a = 1\n", "b = 2\n", "c = 3\n  d = 4\n", "```\ne = 5\n", "f = 6\n"]
    assert [b.line for b in blocks] == [2, 6, 9, 13, 20]
    assert [b.skip for b in blocks] == [None, "why", None, None, None]
