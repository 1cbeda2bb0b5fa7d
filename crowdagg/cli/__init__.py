"""The ``crowdagg`` command-line tool.

Each sub-command lives in its own module of this package and defines
``add_parser(subparsers)`` (registering a parser whose default ``func`` is its
``run(args) -> int``).  Errors from crowdagg print one line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__

_COMMANDS = ("aggregate", "summary", "agreement", "workers")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``crowdagg`` console script."""
    from ..errors import CrowdaggError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except (CrowdaggError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        print(f"crowdagg {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `crowdagg aggregate x.csv | head`
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("crowdagg: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
