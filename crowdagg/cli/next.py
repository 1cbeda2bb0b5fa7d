"""``crowdagg next``: the items that most deserve one more answer."""

from __future__ import annotations

import argparse
import sys

from ._common import (
    add_input_args,
    add_output_arg,
    input_delimiter,
    int_option,
    load_table,
    prepare_output,
    progress,
    write_frame,
)
from .aggregate import METHODS, add_fit_args, check_gold_applies


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "next",
        help="rank items for one more answer (posterior entropy or expected gain)",
        description=(
            "Fit a method and list the N items where one more answer helps most: "
            "'entropy' (the most uncertain posteriors) or 'expected_gain' (the expected fall in the "
            "chance that the item's label is wrong after one answer from the fitted worker pool). "
            "Writes rank, item, score, entropy, n_answers, label, confidence."
        ),
    )
    add_input_args(p)
    p.add_argument("-n", type=int_option(0), default=100, metavar="N",
                   help="how many items to list (default: 100)")
    p.add_argument("--strategy", choices=("entropy", "expected_gain", "random"), default="entropy",
                   help="ranking score (default: entropy)")
    p.add_argument("--method", "-m", choices=sorted(METHODS), default="ds",
                   help="aggregation method (default: ds, Dawid-Skene)")
    p.add_argument("--gold", default=None, metavar="GOLD",
                   help="known answers: given to the fit and never proposed again")
    add_fit_args(p, "random_state of the method, of --strategy random and of the worker-pool draw")
    add_output_arg(p, "CSV on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..active import next_items
    from .report import make_estimator

    est = make_estimator(args)
    check_gold_applies(args, est)
    out = prepare_output(args.output, (args.input, args.gold))
    table = load_table(args)
    fit_kwargs = {}
    exclude = None
    if args.gold is not None:
        from ..gold import read_gold

        gold = read_gold(args.gold, labels=table.labels, items=table.items, strip=not args.keep_whitespace,
                       delimiter=input_delimiter(args.gold))
        fit_kwargs["gold"] = gold
        exclude = gold.index if hasattr(gold, "index") else None
    with progress(f"fitting {type(est).__name__}", quiet=args.quiet):
        est.fit(table, **fit_kwargs)
        ranked = next_items(est, args.n, args.strategy, exclude=exclude, random_state=args.seed)
    write_frame(ranked, out)
    if out is not None and not args.quiet:
        print(f"wrote {len(ranked)} items to {args.output}", file=sys.stderr)
    return 0
