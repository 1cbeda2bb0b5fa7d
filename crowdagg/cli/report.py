"""``crowdagg report``: one self-contained HTML quality report of an annotation batch."""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from ._common import (
    add_input_args,
    float_option,
    input_delimiter,
    int_option,
    load_table,
    progress,
)
from .aggregate import METHODS, add_fit_args, build_estimator, categorical_class, check_gold_given


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="a self-contained HTML quality report (workers, labels, plots, least certain items)",
        description=(
            "Fit a method on the annotations and write one HTML file a QA lead opens in a browser: "
            "the batch at a glance, the label distribution, every worker (sortable, filterable, "
            "paginated) with reliability, spam score, gold accuracy and flags, plots, the least "
            "certain items and the command and versions that made it. Nothing in the page is "
            "fetched from the network. GOLD scores workers and the aggregate; it is not given to the fit, "
            "except with -m goldmv, whose fit needs it (the aggregate then equals GOLD on the gold items)."
        ),
    )
    add_input_args(p)
    p.add_argument("--gold", default=None, metavar="GOLD",
                   help="known answers: CSV or Parquet with columns item (or task) and label")
    p.add_argument("--method", "-m", choices=sorted(METHODS), default="ds",
                   help="aggregation method (default: ds, Dawid-Skene)")
    p.add_argument("-o", "--output", default="report.html", metavar="OUTPUT",
                   help="the .html file to write (default: report.html); missing folders are created")
    p.add_argument("--title", default=None, help="page title")
    add_fit_args(p, "random_state, for methods that use one")
    p.add_argument("--confidence", type=float_option(0.0, 1.0, low_open=True, high_open=True), default=0.95,
                   metavar="LEVEL", help="coverage of every interval, strictly between 0 and 1 (default: 0.95)")
    p.add_argument("--min-accuracy", type=float_option(0.0, 1.0), default=0.7, metavar="ACC",
                   help="gold flag: accuracy interval wholly below this (default: 0.7)")
    p.add_argument("--min-gold", type=int_option(0), default=3, metavar="N",
                   help="gold flag: at least this many gold answers (default: 3)")
    p.add_argument("--uncertain", type=int_option(0, 100_000), default=50, metavar="N",
                   help="how many least certain items to list (default: 50)")
    p.set_defaults(func=run)


def prepare_html_output(out: str, inputs: tuple[str | None, ...]) -> str:
    """Check ``-o`` before any work: an .html/.htm name, not a folder, not an input, writable."""
    from ..errors import OutputError

    if not out.lower().endswith((".html", ".htm")):
        raise OutputError(f"the report is HTML: name the output file .html, got {out!r}")
    if os.path.isdir(out):
        raise OutputError(f"output {out!r} is a folder; name a file in it")
    for src in inputs:
        if src is not None and os.path.exists(src) and os.path.exists(out) and os.path.samefile(src, out):
            raise OutputError(f"output {out!r} is the input file {src!r}; crowdagg never overwrites its input")
    above = os.path.dirname(os.path.abspath(out))
    while not os.path.exists(above) and os.path.dirname(above) != above:
        above = os.path.dirname(above)
    if not os.path.isdir(above):
        raise OutputError(f"cannot write {out!r}: {above!r} is a file, not a folder")
    if not os.access(above, os.W_OK):
        raise OutputError(f"cannot write {out!r}: no permission to write in {above!r}")
    return out


def make_estimator(args: argparse.Namespace):
    """The categorical estimator of ``--method`` with ``--max-iter`` / ``--seed`` (one-line errors)."""
    return build_estimator(categorical_class(args, METHODS[args.method]), args)


def command_line(args: argparse.Namespace) -> str:
    """The command as the user could retype it (from the parsed options)."""
    parts = ["crowdagg", "report", args.input]
    for opt in ("gold", "method", "output", "title", "max_iter", "seed", "format", "item_col"):
        v = getattr(args, opt, None)
        if v is not None and not (opt == "format" and v == "auto"):
            parts += [f"--{opt.replace('_', '-')}", str(v)]
    for opt, default in (("worker_col", "worker"), ("label_col", "label"), ("duplicates", "error"),
                         ("confidence", 0.95), ("min_accuracy", 0.7), ("min_gold", 3), ("uncertain", 50)):
        v = getattr(args, opt, default)
        if v != default:
            parts += [f"--{opt.replace('_', '-')}", str(v)]
    return shlex.join(parts)


def run(args: argparse.Namespace) -> int:
    from ..reporting import _require, report

    _require()  # before reading anything: a missing extra is one line
    est = make_estimator(args)
    check_gold_given(args, est)
    out = prepare_html_output(args.output, (args.input, args.gold))
    table = load_table(args)
    gold = None
    if args.gold is not None:
        from ..gold import read_gold

        gold = read_gold(args.gold, labels=table.labels, items=table.items, strip=not args.keep_whitespace,
                       delimiter=input_delimiter(args.gold))
    with progress(f"fitting {type(est).__name__} and writing the report", quiet=args.quiet):
        rep = report(table, gold, method=est, title=args.title, command=command_line(args),
                     confidence=args.confidence, min_accuracy=args.min_accuracy, min_gold=args.min_gold,
                     n_uncertain=args.uncertain)
        rep.save(out)
    if not args.quiet:
        print(f"wrote {out} ({len(rep.html.encode('utf-8')) / 1e6:.1f} MB, {table.n_workers:,} workers)",
              file=sys.stderr)
    return 0
