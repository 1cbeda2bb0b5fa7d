"""The bad-input corpus: every class of bad input crowdagg must answer with a clear error.

Each module of this package registers :class:`Case` objects with :func:`case`;
``tests/test_bad_input.py`` runs every case through the library (the exception
must be the case's :mod:`crowdagg.errors` class, never a raw numpy/pyarrow/builtin
one) and, for cases that give a command line, through the CLI (one line on
stderr, exit status 2, no traceback).

A case's ``call`` receives a fresh temporary folder (a ``pathlib.Path``) in which
it may write the files it needs; ``cli`` receives the same folder and returns the
argument list of ``crowdagg`` (without the program name).  ``setup`` (optional)
writes the files both use, and runs before either.  ``process=True`` also runs
the command line in a new Python process (for what only a real process shows:
argparse exits, import-time failures); keep those few, each costs ~1.5 s.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Case", "case", "all_cases"]


@dataclass(frozen=True)
class Case:
    """One bad input and the answer it must get."""

    id: str
    error: type[BaseException]
    call: Callable[[Path], Any] | None = None
    cli: Callable[[Path], list[str]] | None = None
    setup: Callable[[Path], None] | None = None
    match: str | None = None  # a regex the message must contain (library and CLI)
    process: bool = False  # also run the CLI in a new Python process (slower: ~1.5 s a case)


_CASES: dict[str, Case] = {}


def case(id: str, error: type[BaseException], *, call: Callable[[Path], Any] | None = None,
         cli: Callable[[Path], list[str]] | None = None, setup: Callable[[Path], None] | None = None,
         match: str | None = None, process: bool = False) -> Case:
    """Register a case (ids are unique across the corpus)."""
    if id in _CASES:
        raise ValueError(f"bad-input case {id!r} registered twice")
    if call is None and cli is None:
        raise ValueError(f"bad-input case {id!r} has neither a library call nor a command line")
    c = Case(id=id, error=error, call=call, cli=cli, setup=setup, match=match, process=process)
    _CASES[id] = c
    return c


def all_cases() -> list[Case]:
    """Every registered case, after importing every module of this package."""
    for mod in pkgutil.iter_modules([str(Path(__file__).parent)]):
        importlib.import_module(f"{__name__}.{mod.name}")
    return list(_CASES.values())
