"""Tiny inputs on the command line: the kernels run as plain Python, and Numba is never imported.

A warm ``crowdagg aggregate`` on a 3-row file used to spend most of its second in
Numba: importing it (which imports ``scipy.linalg`` to look for a BLAS), then
loading a dozen cached kernels.  On a tiny input the kernels' own Python
(``py_func``, what ``NUMBA_DISABLE_JIT=1`` runs, and what the whole test suite
is run under for coverage) finishes before the compiled code would have loaded.

So, for ``aggregate`` and ``summary`` on a CSV file (or a Mechanical Turk batch
CSV; not Parquet, not JSON) of at most :data:`MAX_BYTES` whose rows x labels
stay within :func:`work_limit` of the method, and only when
``crowdagg`` runs as a program (``main()`` called without ``argv`` by the console
script or ``python -m crowdagg``: :func:`is_program`), :func:`install` puts a stand-in module under
the name ``numba`` in :data:`sys.modules` before any kernel module is imported.
It has exactly the behaviour Numba documents under ``NUMBA_DISABLE_JIT=1``:
``njit`` / ``jit`` return the function itself, ``prange`` is ``range``,
``config.DISABLE_JIT`` is true, ``get_num_threads`` is the thread count Numba
would use, ``threading_layer`` says no layer is initialised.  The kernels run the
same updates in the same order, so the results are those of the compiled
kernels (to rounding; the tests compare every method at 1e-10).

Anything the stand-in lacks fails loudly (:class:`Unsupported`, which no
``except Exception`` swallows), and so does any unexpected exception on the
pure-Python path: the command line then runs the command again in a fresh
process with the compiled kernels (:func:`rerun_compiled`) -- provided no output
was written yet -- so a new kernel using more of Numba costs time, never a wrong
answer or a failure.

``CROWDAGG_PURE_PYTHON=0`` turns the pure-Python path off, ``=1`` forces it
whatever the input size (slow on large inputs: for tests and measurements).
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
from typing import Any

__all__ = ["Unsupported", "ENV", "MAX_BYTES", "WORK_LIMITS", "DEFAULT_WORK", "UNKNOWN_LABELS", "install",
           "is_installed", "is_program", "work_limit", "input_size", "work", "wanted", "rerun_compiled", "filter_warnings"]

#: the switch: "0" never, "1" always, unset or anything else: by input size
ENV = "CROWDAGG_PURE_PYTHON"
#: files larger than this are never counted (and never run as Python)
MAX_BYTES = 1 << 20
#: the most work run as Python, per ``--method`` (CLI name), in annotation rows x labels (the
#: kernels' work per pass grows with both); set from measurements so that the Python kernels
#: finish no later than Numba's import plus the cache loads would, on the synthetic and the real
#: (2 and 10 classes) files of ``benchmarks/cli_latency.py`` and docs/benchmarks.md; methods not
#: named here: :data:`DEFAULT_WORK`
WORK_LIMITS: dict[str, int] = {
    "mv": 12_000,
    "wawa": 6_000,
    "zbs": 6_000,
    "onecoin": 5_000,
    "ds": 2_000,
    "fastds": 2_000,
    "bcc": 1_500,
    "mace": 800,
    "glad": 500,
    "ebcc": 10,  # ten restarts of many iterations: slow as Python
    "auto": 300,  # every candidate fitted on each of 3 folds, then the chosen one again
}
DEFAULT_WORK = 400
#: labels assumed where the label column cannot be read from the header (a Mechanical Turk batch)
UNKNOWN_LABELS = 10
#: sub-commands that may take the pure-Python path (their work is one fit or one table)
COMMANDS = ("aggregate", "summary")
#: marks the stand-in (tests and :func:`is_installed` look for it)
MARK = "__crowdagg_pure_python__"


# --------------------------------------------------------------------------- the stand-in
def _njit(*args: Any, **kwargs: Any) -> Any:
    """``@njit``, ``@njit(...)``, ``njit(signature)(f)``: the function itself (NUMBA_DISABLE_JIT)."""
    if len(args) == 1 and not kwargs and callable(args[0]) and not isinstance(args[0], (str, list, tuple)):
        return args[0]
    return _identity


def _identity(func: Any) -> Any:
    return func


def _num_threads() -> int:
    """The thread count Numba would use (``NUMBA_NUM_THREADS``, else the CPUs this process may run on)."""
    env = os.environ.get("NUMBA_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _threading_layer() -> str:
    raise ValueError("Threading layer is not initialized.")


class Unsupported(BaseException):
    """The stand-in lacks a part of Numba that a module asked for.

    A ``BaseException``, so that no ``except Exception`` (or ``except ImportError``, which
    would read as "method not available") on the way swallows it: :func:`crowdagg.cli.main`
    catches it and reruns the command with the compiled kernels."""


class _StandIn(types.ModuleType):
    """The ``numba`` stand-in: a name it does not define is :class:`Unsupported`."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise Unsupported(f"numba.{name} is not in crowdagg's pure-Python stand-in")


class _NoSubmodules:
    """A :data:`sys.meta_path` finder: ``import numba.<anything>`` under the stand-in is :class:`Unsupported`."""

    @staticmethod
    def find_spec(name: str, path: Any = None, target: Any = None) -> None:
        if name.startswith("numba.") and is_installed() and name not in sys.modules:
            raise Unsupported(f"{name} is not in crowdagg's pure-Python stand-in")
        return None


class _Errors(types.ModuleType):
    """``numba.core.errors``: Numba's exception classes (named in ``except`` clauses and in
    intrinsics' typing code; nothing on the pure-Python path raises them)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if not name.endswith(("Error", "Warning")):
            raise Unsupported(f"numba.core.errors.{name} is not in crowdagg's pure-Python stand-in")
        base = Warning if name.endswith("Warning") else Exception
        cls = type(name, (base,), {"__module__": "numba.core.errors"})
        setattr(self, name, cls)
        return cls


class _CodegenOnly(types.ModuleType):
    """A module used only inside intrinsics' code generation (``numba.core.cgutils``), which
    never runs as Python: its names exist, and calling one is :class:`Unsupported`."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _CodegenName(f"{self.__name__}.{name}")


class _CodegenName:
    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise Unsupported(f"{self.name} was called outside Numba's code generation")


class _Types(types.ModuleType):
    """``numba.types``: only named in signatures and in intrinsics' typing code, which never runs."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _TypePlaceholder(name)


class _TypePlaceholder:
    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> _TypePlaceholder:
        return self

    def __getitem__(self, item: Any) -> _TypePlaceholder:
        return self

    def __repr__(self) -> str:
        return f"numba.types.{self.name} (pure-Python stand-in)"


def _stand_in() -> types.ModuleType:
    mod = _StandIn("numba", "crowdagg's pure-Python stand-in for Numba (NUMBA_DISABLE_JIT behaviour)")
    mod.__path__ = []  # a package, so that `import numba.x` reaches _NoSubmodules
    ext = _StandIn("numba.extending")
    ext.intrinsic = _identity  # an intrinsic cannot run as Python; callers branch on config.DISABLE_JIT
    ext.register_jitable = _njit
    mod.njit = mod.jit = _njit
    mod.prange = range
    mod.literal_unroll = _identity
    mod.get_num_threads = _num_threads
    mod.threading_layer = _threading_layer
    mod.config = types.SimpleNamespace(DISABLE_JIT=True, NUMBA_NUM_THREADS=_num_threads())
    mod.types = _Types("numba.types")
    mod.extending = ext
    core = _StandIn("numba.core")
    core.__path__ = []
    core.errors = _Errors("numba.core.errors")
    core.cgutils = _CodegenOnly("numba.core.cgutils")
    core.types = mod.types
    mod.core = core
    setattr(mod, MARK, True)
    return mod


def install() -> bool:
    """Put the stand-in under ``numba`` in :data:`sys.modules`.

    Returns False (and changes nothing) when Numba or a kernel module is imported
    already: kernels bound to compiled dispatchers stay compiled.
    """
    if is_installed():
        return True
    if "numba" in sys.modules or any(m.startswith("crowdagg.kernels.") for m in sys.modules):
        return False
    mod = _stand_in()
    sys.modules["numba"] = mod
    sys.modules["numba.extending"] = mod.extending
    sys.modules["numba.types"] = mod.types
    sys.modules["numba.core"] = mod.core
    sys.modules["numba.core.errors"] = mod.core.errors
    sys.modules["numba.core.cgutils"] = mod.core.cgutils
    sys.modules["numba.core.types"] = mod.types
    sys.meta_path.insert(0, _NoSubmodules())
    return True


def is_installed() -> bool:
    """Whether this process runs its kernels through the stand-in."""
    return bool(getattr(sys.modules.get("numba"), MARK, False))


def filter_warnings() -> None:
    """The warnings filters of a pure-Python run (call inside ``warnings.catch_warnings()``).

    Compiled kernels wrap integer arithmetic and let floats overflow to inf or nan without a
    word; the same statements on NumPy scalars warn ("overflow encountered in scalar
    multiply": the kernels' hash mixing wraps on purpose).  Those warnings are ignored,
    as the compiled run would never raise them.  A float division by zero, which a compiled
    kernel raises as ``ZeroDivisionError``, becomes an error (and so a compiled rerun).
    """
    import warnings

    warnings.filterwarnings("ignore", r"(overflow|invalid value|underflow) encountered in scalar", RuntimeWarning)
    warnings.filterwarnings("error", r"divide by zero encountered in scalar", RuntimeWarning)


# --------------------------------------------------------------------------- the rule
def work_limit(method: str | None) -> int:
    """The most rows x labels run as Python for ``--method`` (None: the default, auto)."""
    return WORK_LIMITS.get(method or "auto", DEFAULT_WORK)


def input_size(path: str, label_col: str | None = "label", max_rows: int | None = None) -> tuple[int, int] | None:
    """(data rows, distinct labels) of a CSV file, or None when it is larger than
    :data:`MAX_BYTES`, cannot be read or is not CSV.  Labels are those of ``label_col``
    (whitespace stripped); :data:`UNKNOWN_LABELS` when the header has no such column.
    Reading stops after ``max_rows + 1`` rows (enough to tell that a file is too large)."""
    import csv
    import io

    from ._common import input_delimiter

    try:
        if os.path.getsize(path) > MAX_BYTES:
            return None
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
        text = data.decode("utf-8-sig")
        rows = csv.reader(io.StringIO(text, newline=""), delimiter=input_delimiter(path))
        header = next(rows, [])
        col = header.index(label_col) if label_col in header else None
        labels: set[str] = set()
        n = 0
        for row in rows:
            if not row:
                continue
            n += 1
            if max_rows is not None and n > max_rows:
                break
            if col is not None and col < len(row):
                labels.add(row[col].strip())
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return n, (len(labels) if col is not None else UNKNOWN_LABELS)


def work(size: tuple[int, int]) -> int:
    """The work measure of :data:`WORK_LIMITS`: rows x labels (at least two labels)."""
    rows, labels = size
    return rows * max(2, labels)


def is_program() -> bool:
    """Whether this process is the ``crowdagg`` program itself (the console script or
    ``python -m crowdagg``), not another program that calls :func:`crowdagg.cli.main`: only
    then may the stand-in take the name ``numba`` for the rest of the process."""
    argv0 = sys.argv[0] if sys.argv else ""
    name = os.path.basename(argv0).lower()
    if name.endswith(".exe"):  # pragma: no cover - Windows launchers
        name = name[:-4]
    if name in ("crowdagg", "crowdagg-script.py"):
        return True
    return name == "__main__.py" and os.path.basename(os.path.dirname(argv0)) == "crowdagg"


def wanted(args: Any) -> bool:
    """Whether the parsed command ``args`` should run its kernels as Python (see the module docs)."""
    switch = os.environ.get(ENV, "").strip()
    if switch == "0" or getattr(args, "command", None) not in COMMANDS:
        return False
    if switch == "1":
        return True
    path = getattr(args, "input", None)
    if not isinstance(path, str) or getattr(args, "format", "auto") == "parquet":
        return False
    low = path.lower()
    # Parquet has no lines to read; a JSON batch is not CSV
    if low.endswith((".parquet", ".pq", ".json", ".jsonl", ".ndjson")) or not os.path.isfile(path):
        return False
    if args.command == "summary":  # the table alone: as cheap as a majority vote
        limit = WORK_LIMITS["mv"]
    elif getattr(args, "kind", "categorical") != "categorical":
        limit = DEFAULT_WORK
    else:
        limit = work_limit(getattr(args, "method", None))
    size = input_size(path, getattr(args, "label_col", "label"), max_rows=limit // 2)
    return size is not None and work(size) <= limit


def rerun_compiled(argv: list[str]) -> int:
    """Run ``crowdagg *argv`` again in a fresh process with the compiled kernels; its exit status."""
    env = dict(os.environ)
    env[ENV] = "0"
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # pragma: no cover - closed streams
        pass
    try:
        return subprocess.call([sys.executable, "-m", "crowdagg", *argv], env=env)
    except KeyboardInterrupt:  # the child got the same interrupt and said so
        return 130
