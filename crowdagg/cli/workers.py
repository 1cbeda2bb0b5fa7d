"""``crowdagg workers``: score workers on gold questions and flag the credibly bad ones."""

from __future__ import annotations

import argparse
import sys

from ._common import (
    add_input_args,
    add_output_arg,
    float_option,
    input_delimiter,
    int_option,
    load_table,
    prepare_output,
    progress,
    write_frame,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "workers",
        help="per-worker accuracy on gold items, with Wilson intervals and flags",
        description=(
            "Score every worker on the gold items they answered: gold answers, correct answers, "
            "accuracy with a Wilson confidence interval, per-class recall. Workers whose whole "
            "interval lies below --min-accuracy (with at least --min-gold gold answers) are flagged. "
            "Prints a readable table; -o writes CSV or Parquet (-o - for CSV on stdout)."
        ),
    )
    add_input_args(p)
    p.add_argument("--gold", required=True, metavar="GOLD",
                   help="known answers: CSV (or Parquet) with columns item (or task) and label")
    p.add_argument("--min-accuracy", type=float_option(0.0, 1.0), default=0.7, metavar="ACC",
                   help="flag workers whose accuracy interval lies wholly below this, in [0, 1] (default: 0.7)")
    p.add_argument("--min-gold", type=int_option(0), default=3, metavar="N",
                   help="never flag workers with fewer gold answers (default: 3)")
    p.add_argument("--confidence", type=float_option(0.0, 1.0, low_open=True, high_open=True), default=0.95,
                   metavar="LEVEL", help="coverage of the Wilson interval, strictly between 0 and 1 (default: 0.95)")
    p.add_argument("--sort-by", default="ci_low", metavar="COLUMN",
                   help="column to sort by: ci_low (default), accuracy, ci_high, n_gold, recall_<label>, ...")
    p.add_argument("--descending", action="store_true", help="sort in descending order (default: ascending)")
    p.add_argument("--drop-unscored", action="store_true", help="leave out workers with no gold answer")
    p.add_argument("--flagged-only", action="store_true", help="list only flagged workers")
    add_output_arg(p, "a readable table")
    p.set_defaults(func=run)


def _readable(df, label_cols: list[str]) -> str:
    import pandas as pd

    shown = df.copy()
    for col in ["accuracy", "ci_low", "ci_high", *label_cols]:
        shown[col] = [("-" if pd.isna(v) else f"{float(v):.3f}") for v in shown[col]]
    if "flagged" in shown:
        shown["flagged"] = ["yes" if f else "" for f in shown["flagged"]]
        shown = shown.drop(columns=["flag_reason"])
    return shown.to_string(index=False)


def run(args: argparse.Namespace) -> int:
    from ..gold import read_gold
    from ..quality import score_workers

    dest = prepare_output(args.output, (args.input, args.gold))
    table = load_table(args)
    gold = read_gold(args.gold, labels=table.labels, items=table.items, strip=not args.keep_whitespace,
                       delimiter=input_delimiter(args.gold))
    with progress("scoring workers", quiet=args.quiet):
        scores = score_workers(table, gold, confidence=args.confidence,
                               include_unscored=not args.drop_unscored)
        frame = scores.to_frame(min_accuracy=args.min_accuracy, min_gold=args.min_gold,
                                sort_by=args.sort_by, ascending=not args.descending)
    if args.flagged_only:
        frame = frame[frame["flagged"].to_numpy()].reset_index(drop=True)
    if args.output is not None:
        write_frame(frame, dest)
        return 0
    n_flagged = int(frame["flagged"].sum())
    scored = int((scores.table["n_gold"] > 0).sum())
    print(
        f"{len(scores.table)} workers, {scored} with gold answers, {scores.n_gold_items} gold items; "
        f"{n_flagged} flagged (accuracy {100 * args.confidence:g}% interval wholly below "
        f"{args.min_accuracy:g}, at least {args.min_gold} gold answers)"
    )
    if len(frame):
        print(_readable(frame, [c for c in frame.columns if c.startswith("recall_")]))
    if n_flagged:
        print("\nflagged:")
        for w, reason in zip(frame["worker"][frame["flagged"]], frame["flag_reason"][frame["flagged"]]):
            print(f"  {w}: {reason}")
    sys.stdout.flush()
    return 0
