"""The ``crowdagg`` command-line tool.

Each sub-command lives in its own module of this package and defines
``add_parser(subparsers)`` (registering a parser whose default ``func`` is its
``run(args) -> int``).

Rules of the command line (see the README's "Rules you can rely on"):

* every failure prints one line on stderr, ``crowdagg <command>: error:
  <message>``, and exits with status 2 -- argparse's own errors (unknown
  options, bad option values) included, which print no usage block, and a
  bare ``crowdagg`` (``crowdagg: error: choose a command: aggregate, ...``);
* an unexpected exception (a bug) prints ``crowdagg <command>: internal error:
  <Type>: <message> (set CROWDAGG_DEBUG=1 for the traceback)`` and exits 2; the
  traceback is printed only when ``CROWDAGG_DEBUG=1``;
* Python warnings raised while a command runs print as one line each,
  ``crowdagg <command>: warning: <message>``;
* a reader that stops early (``crowdagg aggregate x.csv | head``) ends the
  command quietly with status 0; a closed or failing standard output
  (``>&-``, ``> /dev/full``) is an error like any other;
* on a tiny CSV (``aggregate``, ``summary``) the kernels run as plain Python and
  Numba is not imported (:mod:`crowdagg.cli._purepython`): the same results,
  without Numba's start-up; ``CROWDAGG_PURE_PYTHON=0`` turns that off.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from typing import NoReturn

from .. import __version__
from . import _common

_COMMANDS = ("aggregate", "summary", "agreement", "workers", "report", "next")


class CLIParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``<prog>: error: <message>``, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = CLIParser(
        prog="crowdagg",
        description="Consensus labels, annotator reliability and agreement from crowd annotations.",
    )
    parser.add_argument("--version", action="version", version=f"crowdagg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        try:
            mod = importlib.import_module(f"crowdagg.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"crowdagg.cli.{name}":
                continue
            raise
        mod.add_parser(sub)
    return parser


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]
    return parser  # pragma: no cover


def _command_names(parser: argparse.ArgumentParser) -> list[str]:
    """The sub-commands of ``parser``, in --help order."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []  # pragma: no cover


def _one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (multi-line messages joined with '; ')."""
    text = str(exc).strip()
    if isinstance(exc, KeyError) and len(exc.args) == 1 and text == repr(exc.args[0]):
        text = str(exc.args[0])
    parts = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return "; ".join(parts) or type(exc).__name__


def _show_warning(prog: str):
    def show(message, category, filename, lineno, file=None, line=None) -> None:
        try:
            print(f"{prog}: warning: {_one_line(Warning(str(message)))}", file=sys.stderr)
        except (OSError, ValueError):  # stderr closed: nowhere to say it
            pass

    return show


def _stdout_usable() -> bool:
    return sys.stdout is not None and not getattr(sys.stdout, "closed", False)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor (tests, closed)
        pass


def _rerun_compiled(prog: str, argv: list[str]) -> int:
    """The pure-Python path failed before writing anything: the same command, compiled."""
    if os.environ.get("CROWDAGG_DEBUG") == "1":
        import traceback

        traceback.print_exc()
        print(f"{prog}: note: the pure-Python path failed; running it again with the compiled kernels",
              file=sys.stderr)
    from . import _purepython

    return _purepython.rerun_compiled(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``crowdagg`` console script.

    Returns the exit status: 0 on success, 2 for any error (one line on
    stderr), 130 when interrupted.

    Run as a program (``argv`` None), a command on a tiny CSV runs its kernels as
    plain Python without importing Numba (:mod:`crowdagg.cli._purepython`).
    """
    from ..errors import CrowdaggError, DroppedRowsWarning
    from . import _purepython

    parser = build_parser()
    try:
        args, rest = parser.parse_known_args(argv)
        if rest:  # named by the sub-command's parser, not the top-level one
            sub = parser if not getattr(args, "command", None) else _subparser(parser, args.command)
            sub.error(f"unrecognized arguments: {' '.join(rest)}")
    except SystemExit as exc:  # argparse: --help, --version, or its one-line error (see CLIParser)
        return exc.code if isinstance(exc.code, int) else 2
    if not getattr(args, "func", None):  # bare `crowdagg`: a failure like any other, one line
        try:
            parser.error(f"choose a command: {', '.join(_command_names(parser))}")
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 2
    prog = f"crowdagg {args.command}"
    pure = argv is None and _purepython.is_program() and _purepython.wanted(args) and _purepython.install()
    if not _stdout_usable():  # `crowdagg ... >&-`: sys.stdout is None, and print() would lose the output
        print(f"{prog}: error: standard output is closed", file=sys.stderr)
        return 2
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning(prog)
            warnings.simplefilter("ignore", DroppedRowsWarning)  # the "left out" note says it once
            if pure:
                _purepython.filter_warnings()
            rc = int(args.func(args) or 0)
            sys.stdout.flush()  # a full disk or a closed pipe shows here, not at interpreter exit
        return rc
    except _purepython.Unsupported as exc:  # the stand-in lacks a part of Numba: the compiled kernels have it
        if not _common.output_started():
            return _rerun_compiled(prog, sys.argv[1:])
        print(f"{prog}: internal error: {_one_line(exc)} (set {_purepython.ENV}=0 to run compiled)",
              file=sys.stderr)
        return 2
    except BrokenPipeError:  # `crowdagg aggregate x.csv | head`: the reader has what it wants
        _silence_stdout()
        return 0
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except CrowdaggError as exc:
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # the system's answer (a full disk, no permission): not a bug, but no crowdagg error
        _silence_stdout()
        what = exc.strerror or _one_line(exc)
        print(f"{prog}: error: {what}" + (f": {exc.filename!r}" if exc.filename else ""), file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: say so on one line; the traceback on request
        if pure and _purepython.is_installed() and not _common.output_started():
            return _rerun_compiled(prog, sys.argv[1:])
        if os.environ.get("CROWDAGG_DEBUG") == "1":
            import traceback

            traceback.print_exc()
        print(f"{prog}: internal error: {type(exc).__name__}: {_one_line(exc)} "
              "(set CROWDAGG_DEBUG=1 for the traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
