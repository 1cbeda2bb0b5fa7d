"""``crowdagg workers``: score workers on gold questions and flag the credibly bad ones."""

from __future__ import annotations

import argparse
import os
import sys

from ._common import (
    PARQUET_EXT,
    add_input_args,
    add_output_arg,
    float_option,
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


def read_gold(path: str, labels=None, *, strip: bool = True):
    """Gold answers (Series: label by item id) from a CSV or Parquet file.

    The file has an item column (``item`` or ``task``) and a ``label`` column,
    and follows the rules of the annotation readers: UTF-8 text (a byte-order
    mark is skipped), every row with as many fields as the header, whitespace
    around ids and labels stripped unless ``strip=False``.  Item ids are read
    as strings, as the input CSV reader does.  CSV labels are read as text and
    matched to the annotation labels by their text form, so a gold ``1``
    matches an integer label ``1``.

    Parameters
    ----------
    path : str
        A ``.csv`` file, or a ``.parquet``/``.pq`` file.
    labels : pandas.Index, optional
        The annotation labels (CSV gold labels are converted to their type).
    strip : bool, default True
        Strip surrounding whitespace from ids and labels (``False``: keep cells
        exactly as written).

    Returns
    -------
    pandas.Series
        Gold label by item id (object dtype).

    Raises
    ------
    InputFileNotFoundError
        No such file.
    NotAFileError
        ``path`` is a folder.
    EncodingError
        A CSV file that is not UTF-8 text.
    GoldError
        An unreadable file, ragged rows, missing columns, rows without an item
        id or without a label.
    """
    import numpy as np
    import pandas as pd

    from ..errors import GoldError, InputFileNotFoundError, NotAFileError
    from ..ingest import _check_strip, _strip_cells

    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputFileNotFoundError(f"no such gold file: {path!r}")
    if not os.path.isfile(path):
        raise NotAFileError(f"gold file {path!r} is a folder, not a file")
    _check_strip(strip)
    is_parquet = path.lower().endswith(PARQUET_EXT)
    tbl = _read_gold_parquet(path) if is_parquet else _read_gold_csv(path)
    item = next((c for c in ("item", "task") if c in tbl.column_names), None)
    if item is None or "label" not in tbl.column_names:
        raise GoldError(f"gold file {path!r} needs columns item (or task) and label; has {tbl.column_names}")
    ids, values = (pd.Series((_strip_cells(tbl.column(c), empty_is_null=False) if strip else tbl.column(c)).to_pandas().to_numpy(dtype=object), dtype=object)
                   for c in (item, "label"))
    for what, col in (("an item id", ids), ("a label", values)):
        bad = (col.isna() | col.map(lambda v: isinstance(v, str) and v == "")).to_numpy()
        if bad.any():
            where = "rows" if is_parquet else "lines"
            first = (np.flatnonzero(bad)[:5] + (0 if is_parquet else 2)).tolist()
            raise GoldError(f"gold file {path!r} has {int(bad.sum())} row(s) without {what} ({where} {first})")
    if not is_parquet and labels is not None and not pd.api.types.is_string_dtype(pd.Index(labels)):
        # CSV text -> the typed label it spells (Parquet labels keep their type)
        by_text = {str(lab): lab for lab in labels}
        values = values.map(lambda v: by_text.get(v, v) if isinstance(v, str) else v)
    return pd.Series(values.to_numpy(dtype=object), index=pd.Index(ids.to_numpy(), dtype=object))


def _read_gold_csv(path: str):
    """Every column of a gold CSV as strings (empty cells null), with the readers' rules."""
    import csv

    import pyarrow as pa
    import pyarrow.csv as pacsv

    from ..errors import EncodingError, GoldError
    from ..ingest import _first_line

    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            fh.read()  # the whole file: pyarrow would name only the first bad column
    except UnicodeDecodeError as exc:
        raise EncodingError(f"cannot read gold file {path!r}: it is not UTF-8 text "
                            f"(byte {exc.start}: {exc.reason})") from None
    with open(path, newline="", encoding="utf-8-sig") as fh:
        try:
            header = next(csv.reader(fh), [])
        except csv.Error as exc:
            raise GoldError(f"cannot parse gold file {path!r} as CSV: {exc}") from None
    if not header:
        raise GoldError(f"gold file {path!r} is empty")
    if len(set(header)) != len(header):
        raise GoldError(f"gold file {path!r} repeats a column name in its header {header[:20]}")
    try:
        tbl = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in header},
                strings_can_be_null=True,
                null_values=[""],  # only empty cells are null: "NA", "null" stay strings
            ),
        )
    except pa.ArrowInvalid as exc:
        raise GoldError(f"cannot parse gold file {path!r} as CSV: {_first_line(exc)}") from None
    if tbl.num_rows == 0:
        raise GoldError(f"gold file {path!r} is empty: a header and no rows")
    return tbl


def _read_gold_parquet(path: str):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..errors import GoldError
    from ..ingest import _first_line

    try:
        tbl = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise GoldError(f"cannot read gold file {path!r} as Parquet: {_first_line(exc)}") from None
    if tbl.num_rows == 0:
        raise GoldError(f"gold file {path!r} is empty")
    return tbl


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

    dest = prepare_output(args.output, (args.input, args.gold))
    table = load_table(args)
    gold = read_gold(args.gold, labels=table.labels, strip=not args.keep_whitespace)
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
