"""``crowdagg workers``: score workers on gold questions and flag the credibly bad ones."""

from __future__ import annotations

import argparse
import os
import sys

from ._common import add_input_args, load_table, progress, write_frame


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
    p.add_argument("--min-accuracy", type=float, default=0.7,
                   help="flag workers whose accuracy interval lies wholly below this (default: 0.7)")
    p.add_argument("--min-gold", type=int, default=3,
                   help="never flag workers with fewer gold answers (default: 3)")
    p.add_argument("--confidence", type=float, default=0.95,
                   help="coverage of the Wilson interval (default: 0.95)")
    p.add_argument("--sort-by", default="ci_low", metavar="COLUMN",
                   help="column to sort by: ci_low (default), accuracy, ci_high, n_gold, recall_<label>, ...")
    p.add_argument("--descending", action="store_true", help="sort in descending order (default: ascending)")
    p.add_argument("--drop-unscored", action="store_true", help="leave out workers with no gold answer")
    p.add_argument("--flagged-only", action="store_true", help="list only flagged workers")
    p.add_argument("-o", "--output", default=None,
                   help="output file, .csv or .parquet, or - for CSV on stdout (default: a readable table)")
    p.set_defaults(func=run)


def read_gold(path: str, labels=None):
    """Gold answers (Series: label by item id) from a CSV or Parquet file.

    Item ids are read as strings, as the input CSV reader does.  CSV labels are
    read as text and matched to the annotation labels by their text form, so a
    gold ``1`` matches an integer label ``1``.
    """
    import pandas as pd

    from ..errors import GoldError

    if not os.path.exists(path):
        raise FileNotFoundError(f"no such gold file: {path!r}")
    is_parquet = path.lower().endswith((".parquet", ".pq"))
    try:
        if is_parquet:
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path, dtype=str, keep_default_na=True, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError, ValueError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise GoldError(f"cannot read gold file {path!r}: {msg}") from None
    item = next((c for c in ("item", "task") if c in df.columns), None)
    if item is None or "label" not in df.columns:
        raise GoldError(f"gold file {path!r} needs columns item (or task) and label; has {list(df.columns)}")
    ids = df[item]
    if ids.isna().any():
        raise GoldError(f"gold file {path!r} has {int(ids.isna().sum())} row(s) without an item id")
    values = df["label"]
    if not is_parquet and labels is not None and not pd.api.types.is_string_dtype(pd.Index(labels)):
        # CSV text -> the typed label it spells (Parquet labels keep their type)
        by_text = {str(lab): lab for lab in labels}
        values = values.map(lambda v: by_text.get(v, v) if isinstance(v, str) else v)
    return pd.Series(values.to_numpy(dtype=object), index=pd.Index(ids.astype(str).to_numpy(), dtype=object))


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
    from ..quality import score_workers

    table = load_table(args)
    gold = read_gold(args.gold, labels=table.labels)
    with progress("scoring workers", quiet=args.quiet):
        scores = score_workers(table, gold, confidence=args.confidence,
                               include_unscored=not args.drop_unscored)
        out = scores.to_frame(min_accuracy=args.min_accuracy, min_gold=args.min_gold,
                              sort_by=args.sort_by, ascending=not args.descending)
    if args.flagged_only:
        out = out[out["flagged"].to_numpy()].reset_index(drop=True)
    if args.output is not None:
        write_frame(out, args.output)
        return 0
    n_flagged = int(out["flagged"].sum())
    scored = int((scores.table["n_gold"] > 0).sum())
    print(
        f"{len(scores.table)} workers, {scored} with gold answers, {scores.n_gold_items} gold items; "
        f"{n_flagged} flagged (accuracy {100 * args.confidence:g}% interval wholly below "
        f"{args.min_accuracy:g}, at least {args.min_gold} gold answers)"
    )
    if len(out):
        print(_readable(out, [c for c in out.columns if c.startswith("recall_")]))
    if n_flagged:
        print("\nflagged:")
        for w, reason in zip(out["worker"][out["flagged"]], out["flag_reason"][out["flagged"]]):
            print(f"  {w}: {reason}")
    sys.stdout.flush()
    return 0
