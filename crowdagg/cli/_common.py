"""Helpers shared by the CLI sub-commands: reading input, writing output, progress."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pandas as pd

from ..errors import InputError, InputFileNotFoundError

FORMATS = ("auto", "csv", "parquet", "mturk")


def add_input_args(p: argparse.ArgumentParser) -> None:
    """INPUT plus --format and column options."""
    p.add_argument("input", metavar="INPUT", help="annotations: CSV, Parquet or a Mechanical Turk batch CSV")
    p.add_argument("--format", choices=FORMATS, default="auto",
                   help="input format (default: by extension; .csv files with HITId/WorkerId columns are read as mturk)")
    p.add_argument("--item-col", default=None, help="item id column (default: item, or task)")
    p.add_argument("--worker-col", default="worker", help="worker id column (default: worker)")
    p.add_argument("--label-col", default="label", help="label column (default: label)")
    p.add_argument("--duplicates", choices=("error", "first", "last", "keep"), default="error",
                   help="repeated (item, worker) pairs (default: error)")
    p.add_argument("--field", default=None,
                   help="MTurk: the answer field holding the labels (default: the only one)")
    p.add_argument("--include-rejected", action="store_true", help="MTurk: keep Rejected assignments")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")


def _sniff_mturk(path: str) -> bool:
    try:
        with open(path, encoding="utf-8-sig") as fh:
            head = fh.readline()
    except (OSError, UnicodeDecodeError):
        return False
    return "HITId" in head and "WorkerId" in head


def load_table(args: argparse.Namespace, **extra: Any):
    """Read INPUT as an AnnotationTable following the common options."""
    from ..table import AnnotationTable

    path = args.input
    if not os.path.exists(path):
        raise InputFileNotFoundError(f"no such file: {path!r}")
    fmt = args.format
    if fmt == "auto":
        low = path.lower()
        if low.endswith((".parquet", ".pq")) or os.path.isdir(path):
            fmt = "parquet"
        elif low.endswith((".json", ".jsonl", ".ndjson")) or _sniff_mturk(path):
            fmt = "mturk"
        else:
            fmt = "csv"
    cols = dict(item_col=args.item_col, worker_col=args.worker_col, label_col=args.label_col)
    with progress(f"reading {os.path.basename(path)}", quiet=args.quiet):
        if fmt == "mturk":
            from ..io import read_mturk

            mturk_kw = {"field": args.field, "include_rejected": args.include_rejected}
            if args.item_col is not None:
                mturk_kw["item"] = args.item_col
            return read_mturk(path, duplicates=args.duplicates, **mturk_kw, **extra)
        if fmt == "parquet":
            return AnnotationTable.read_parquet(path, duplicates=args.duplicates, **cols, **extra)
        return AnnotationTable.read_csv(path, duplicates=args.duplicates, **cols, **extra)


def write_frame(df: pd.DataFrame, out: str | None) -> None:
    """Write ``df`` to ``out`` (CSV or Parquet by extension), or CSV to stdout."""
    if out is None or out == "-":
        df.to_csv(sys.stdout, index=False)
        return
    low = out.lower()
    if low.endswith((".parquet", ".pq")):
        df.to_parquet(out, index=False)
    elif low.endswith((".csv", ".tsv", ".txt")):
        df.to_csv(out, index=False, sep="\t" if low.endswith(".tsv") else ",")
    else:
        raise InputError(f"cannot tell the output format of {out!r}: use a .csv, .tsv or .parquet name")


@contextlib.contextmanager
def progress(message: str, *, quiet: bool = False) -> Iterator[None]:
    """A spinner with elapsed time on stderr while the block runs (TTY only)."""
    if quiet or not sys.stderr.isatty():
        yield
        return
    stop = threading.Event()
    start = time.perf_counter()

    def spin() -> None:
        frames = "|/-\\"
        i = 0
        while not stop.wait(0.1):
            sys.stderr.write(f"\r{frames[i % 4]} {message} {time.perf_counter() - start:5.1f}s")
            sys.stderr.flush()
            i += 1

    t = threading.Thread(target=spin, daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join()
        sys.stderr.write(f"\r{message} done in {time.perf_counter() - start:.1f}s\n")
        sys.stderr.flush()
