"""Helpers shared by the CLI sub-commands: option types, reading input, writing output, progress."""

from __future__ import annotations

import argparse
import contextlib
import inspect
import math
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..errors import (
    CrowdaggError,
    FormatError,
    InputFileNotFoundError,
    MissingColumnError,
    NotAFileError,
    OutputError,
    ParameterError,
)

if TYPE_CHECKING:  # pandas is imported when a command runs, not to parse options
    import pandas as pd

FORMATS = ("auto", "csv", "parquet", "mturk")
PARQUET_EXT = (".parquet", ".pq")
#: the output names -o takes (what --help, the error and the README list; anything else is refused)
OUTPUT_EXT = (".csv", ".tsv", *PARQUET_EXT)
#: largest value of an integer option (iterations, replicates, counts): absurd values stop at parse time
INT_MAX = 2**31 - 1


# --------------------------------------------------------------------------- option types
def int_option(minimum: int = 0, maximum: int = INT_MAX) -> Callable[[str], int]:
    """An argparse ``type``: an integer in ``[minimum, maximum]``."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"must be an integer in [{minimum}, {maximum}], got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def float_option(low: float, high: float = math.inf, *, low_open: bool = False,
                 high_open: bool = False) -> Callable[[str], float]:
    """An argparse ``type``: a finite number in the interval from ``low`` to ``high``."""
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"

    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if value < low or value > high or (low_open and value == low) or (high_open and value == high):
            raise argparse.ArgumentTypeError(f"must lie in {interval}, got {value:g}")
        return value

    parse.__name__ = "number"
    return parse


def add_output_arg(p: argparse.ArgumentParser, default_text: str) -> None:
    """``-o/--output``: a .csv/.tsv/.parquet (.pq) file (missing folders are created) or ``-``."""
    p.add_argument("-o", "--output", default=None, metavar="OUTPUT",
                   help=f"output file, .csv, .tsv or .parquet (.pq), or - for CSV on stdout (default: {default_text}); "
                        "missing parent folders are created, an input file is never overwritten")


class _StoreGiven(argparse.Action):
    """``store``, noting the option's ``dest`` in ``args.given`` (the options written on the
    command line, as opposed to left at their default)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        setattr(namespace, self.dest, values)
        namespace.given = {*(getattr(namespace, "given", None) or ()), self.dest}


def given(args: argparse.Namespace, dest: str) -> bool:
    """Whether the option stored in ``dest`` was written on the command line (see :class:`_StoreGiven`)."""
    return dest in (getattr(args, "given", None) or ())


def add_input_args(p: argparse.ArgumentParser) -> None:
    """INPUT plus --format and column options."""
    p.add_argument("input", metavar="INPUT",
                   help="annotations: CSV (tab-separated for a .tsv name), Parquet (a file or a folder of files) "
                        "or a Mechanical Turk batch CSV")
    p.add_argument("--format", choices=FORMATS, default="auto",
                   help="input format (default: by extension; .csv files with HITId/WorkerId columns are read "
                        "as mturk, folders as parquet)")
    p.add_argument("--item-col", default=None, help="item id column (default: item, or task)")
    p.add_argument("--worker-col", default="worker", action=_StoreGiven,
                   help="worker id column (default: worker; not for MTurk files, whose worker is WorkerId)")
    p.add_argument("--label-col", default="label", action=_StoreGiven,
                   help="label column (default: label; not for MTurk files: choose the answer field with --field)")
    p.add_argument("--duplicates", choices=("error", "first", "last", "keep"), default="error",
                   help="repeated (item, worker) pairs (default: error)")
    p.add_argument("--keep-whitespace", action="store_true",
                   help="keep whitespace around ids and labels as written (default: strip it), in INPUT and GOLD")
    p.add_argument("--field", default=None,
                   help="MTurk: the answer field holding the labels (default: the only one)")
    p.add_argument("--include-rejected", action="store_true", help="MTurk: keep Rejected assignments")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="no progress output and no note of the rows left out at ingest")


# --------------------------------------------------------------------------- input
def _sniff_mturk(path: str) -> bool:
    try:
        with open(path, encoding="utf-8-sig") as fh:
            head = fh.readline(1 << 20)
    except (OSError, UnicodeDecodeError):
        return False
    return "HITId" in head and "WorkerId" in head


def _has_parquet_files(folder: str) -> bool:
    for _, _, files in os.walk(folder):
        if any(f.lower().endswith(PARQUET_EXT) and not f.startswith((".", "_")) for f in files):
            return True
    return False


#: text input read with tabs between the fields (by extension; other text input is comma-separated)
TSV_EXT = (".tsv",)


def input_delimiter(path: str) -> str:
    """The field separator of a CSV-format ``path``: a tab for a ``.tsv`` name, else a comma."""
    return "\t" if path.lower().endswith(TSV_EXT) else ","


def input_format(path: str, fmt: str) -> str:
    """The format to read ``path`` with (``--format``, or guessed); checks that ``path`` can be one.

    ``csv`` covers delimited text: a ``.tsv`` file is read with tabs (:func:`input_delimiter`).
    """
    if not os.path.exists(path):
        raise InputFileNotFoundError(f"no such file: {path!r}")
    is_dir = os.path.isdir(path)
    if fmt == "auto":
        low = path.lower()
        if low.endswith(PARQUET_EXT) or is_dir:
            fmt = "parquet"
        elif low.endswith((".json", ".jsonl", ".ndjson")) or _sniff_mturk(path):
            fmt = "mturk"
        else:
            fmt = "csv"
    if is_dir:
        if fmt != "parquet":
            raise NotAFileError(f"{path!r} is a folder, not a {fmt} file (only Parquet is read from a folder)")
        if not _has_parquet_files(path):
            raise NotAFileError(f"{path!r} is a folder without .parquet files; INPUT must be a file "
                                "or a folder of Parquet files")
    elif not os.path.isfile(path):
        raise NotAFileError(f"{path!r} is not a regular file")
    return fmt


def _strip_kwargs(reader: Callable[..., Any], strip: bool, what: str) -> dict[str, Any]:
    """``{"strip": False}`` for ``--keep-whitespace`` where the reader takes ``strip=``."""
    try:
        takes = "strip" in inspect.signature(reader).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        takes = False
    if takes:
        return {"strip": strip}
    if not strip:
        raise ParameterError(f"--keep-whitespace is not supported by the {what} reader of this crowdagg version")
    return {}


#: drop reason (``table.dropped`` key) -> (singular, plural) phrase
_REASONS = {
    "null_label": ("null label", "null labels"),
    "duplicate": ("repeated (item, worker) pair", "repeated (item, worker) pairs"),
    "rejected": ("rejected assignment", "rejected assignments"),
    "other_status": ("assignment with another status", "assignments with another status"),
}


def describe_dropped(dropped: dict[str, int]) -> str | None:
    """``"3 rows: 2 rejected assignments, 1 null label"``, or None when nothing was left out."""
    counts = {k: int(v) for k, v in dropped.items() if int(v) > 0}
    if not counts:
        return None
    total = sum(counts.values())
    parts = []
    for key, n in counts.items():
        one, many = _REASONS.get(key, (key.replace("_", " "), key.replace("_", " ")))
        parts.append(f"{n} {one if n == 1 else many}")
    return f"{total} row{'' if total == 1 else 's'}: {', '.join(parts)}"


def load_table(args: argparse.Namespace, **extra: Any):
    """Read INPUT as an AnnotationTable following the common options.

    Unless ``--quiet``, says on one stderr line which rows ingest left out
    (``crowdagg <command>: left out 3 rows: 2 rejected assignments, 1 null label``).
    """
    from ..table import AnnotationTable

    path = args.input
    fmt = input_format(path, args.format)
    strip = not args.keep_whitespace
    cols = dict(item_col=args.item_col, worker_col=args.worker_col, label_col=args.label_col)
    with progress(f"reading {os.path.basename(path)}", quiet=args.quiet):
        if fmt == "mturk":
            from ..mturk import read_mturk

            for opt, dest, instead in (("--worker-col", "worker_col", "the worker is the WorkerId column"),
                                       ("--label-col", "label_col", "choose the answer field with --field")):
                if given(args, dest):
                    raise ParameterError(f"{opt} does not apply to Mechanical Turk files, and {path!r} is "
                                         f"read as mturk: {instead}")

            mturk_kw = {"field": args.field, "include_rejected": args.include_rejected}
            if args.item_col is not None:
                mturk_kw["item"] = args.item_col
            mturk_kw.update(_strip_kwargs(read_mturk, strip, "MTurk"))
            table = _cli_mturk(read_mturk, path, duplicates=args.duplicates, **mturk_kw, **extra)
        else:
            for opt, value in (("--field", args.field), ("--include-rejected", args.include_rejected)):
                if value not in (None, False):
                    raise ParameterError(f"{opt} applies to Mechanical Turk files only (--format mturk), "
                                         f"and {path!r} is read as {fmt}")
            if fmt == "parquet":
                kw = _strip_kwargs(AnnotationTable.read_parquet, strip, "Parquet")
                table = _read_parquet(path, duplicates=args.duplicates, **cols, **kw, **extra)
            else:
                kw = _strip_kwargs(AnnotationTable.read_csv, strip, "CSV")
                table = _cli_columns(AnnotationTable.read_csv, path, duplicates=args.duplicates, **cols, **kw,
                                     delimiter=input_delimiter(path), **extra)
    if getattr(args, "kind", None) == "numeric":
        table = numeric_labels(table)
    note = describe_dropped(table.dropped)
    if note and not args.quiet:
        print(f"crowdagg {args.command}: left out {note}", file=sys.stderr)
    return table


_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def numeric_labels(table):
    """``--kind numeric``: text labels that are all decimal numbers become those numbers.

    A CSV's labels stay text when reading them as numbers would make two texts one value
    (``"1"`` and ``"1.0"``, ``"-0.0"`` and ``"0.0"``: distinct labels never merge); as
    ratings they are one number, so with ``--kind numeric`` they are read as float64 and
    the codes of equal numbers merged.  Labels that are not all decimal numbers are left
    as they are (the method then says which are not numbers).
    """
    import numpy as np

    from ..table import AnnotationTable

    labels = table.labels
    if labels.dtype.kind not in "OUT" or not len(labels):
        return table
    text = [v for v in labels if isinstance(v, str)]
    if len(text) != len(labels) or not all(_DECIMAL.fullmatch(v) for v in text):
        return table
    values = np.array([float(v) for v in text])
    if not np.isfinite(values).all():
        return table
    uniq, new_code = np.unique(values, return_inverse=True)
    uniq[uniq == 0.0] = 0.0  # -0.0 and 0.0 are one rating: written as 0.0
    out = AnnotationTable.from_codes(table.item_codes, table.worker_codes, new_code[table.label_codes],
                                     items=table.items, workers=table.workers, labels=uniq, duplicates="keep")
    return out.with_dropped(**table.dropped)


def _cli_columns(reader: Callable[..., Any], path: str, **kwargs: Any):
    """``reader(path, **kwargs)``, with a missing-column message naming the CLI options."""
    try:
        return reader(path, **kwargs)
    except MissingColumnError as exc:
        msg = str(exc).replace("item_col=, worker_col=, label_col=", "--item-col, --worker-col, --label-col")
        raise MissingColumnError(msg) from None


#: the API wording of read_mturk's messages -> the command line's options
_MTURK_CLI_WORDS = (
    ("with field=", "with --field"),
    ("(include_rejected=, statuses=)", "(--include-rejected)"),
    ("kind='numeric'", "--kind numeric"),
    ("kind='categorical'", "--kind categorical"),
)


def _cli_mturk(reader: Callable[..., Any], path: str, **kwargs: Any):
    """``read_mturk(path, **kwargs)``, with messages that name the CLI options (``--field``, not
    ``field=``); the error keeps its type."""
    try:
        return reader(path, **kwargs)
    except CrowdaggError as exc:
        msg = str(exc.args[0]) if len(exc.args) == 1 and isinstance(exc.args[0], str) else None
        if msg is None:
            raise
        new = msg
        for api, cli in _MTURK_CLI_WORDS:
            new = new.replace(api, cli)
        if new == msg:
            raise
        try:
            reworded = type(exc)(new)
        except Exception:  # pragma: no cover - an error class with another signature
            raise exc from None
        raise reworded from None


def _read_parquet(path: str, **kwargs: Any):
    """``AnnotationTable.read_parquet``, with pyarrow's own errors for files that are no Parquet as FormatError."""
    import pyarrow as pa

    from ..table import AnnotationTable

    try:
        return _cli_columns(AnnotationTable.read_parquet, path, **kwargs)
    except CrowdaggError:
        raise
    except (pa.ArrowException, OSError) as exc:
        msg = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise FormatError(f"cannot read {path!r} as Parquet: {msg}") from None


# --------------------------------------------------------------------------- output
def prepare_output(out: str | None, inputs: tuple[str | None, ...] = ()) -> str | None:
    """Check ``-o OUTPUT`` before any work: a known extension, not an input, writable.

    Missing parent folders are checked by creating them, and removed again: they are made
    for good when the output is written (:func:`write_frame`), so that a command that fails
    leaves nothing behind.  Returns None for stdout (None or ``-``).

    Raises
    ------
    OutputError
        For an unknown extension, a folder, one of ``inputs``, or a place that
        cannot be written.
    """
    if out is None or out == "-":
        return None
    if not out.lower().endswith(OUTPUT_EXT):
        raise OutputError(f"cannot tell the output format of {out!r}: use a .csv, .tsv or .parquet (.pq) name "
                          "(or - for CSV on stdout)")
    if os.path.isdir(out):
        raise OutputError(f"output {out!r} is a folder; name a file in it")
    for src in inputs:
        if src is not None and os.path.exists(src) and os.path.exists(out) and os.path.samefile(src, out):
            raise OutputError(f"output {out!r} is the input file {src!r}; crowdagg never overwrites its input")
    parent = os.path.dirname(os.path.abspath(out))
    above = parent
    while not os.path.exists(above) and os.path.dirname(above) != above:
        above = os.path.dirname(above)
    if not os.path.isdir(above):
        raise OutputError(f"cannot write {out!r}: {above!r} is a file, not a folder")
    created = _missing_folders(parent)
    try:
        _make_parent(out)
        existed = os.path.exists(out)
        try:
            with open(out, "ab"):
                pass
        except OSError as exc:
            raise OutputError(f"cannot write {out!r}: {exc.strerror or exc}") from None
        if not existed:
            with contextlib.suppress(OSError):
                os.remove(out)
    finally:
        for folder in created:  # deepest first; only the empty folders this check made
            with contextlib.suppress(OSError):
                os.rmdir(folder)
    return out


def _missing_folders(folder: str) -> list[str]:
    """``folder`` and those of its parents that do not exist, deepest first."""
    missing = []
    while not os.path.exists(folder) and os.path.dirname(folder) != folder:
        missing.append(folder)
        folder = os.path.dirname(folder)
    return missing


def _make_parent(out: str) -> None:
    """Create the missing parent folders of ``out`` (OutputError when that fails)."""
    try:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {os.path.dirname(out)!r}: "
                          f"{exc.strerror or exc}") from None


_OUTPUT_STARTED: list[bool] = []


def output_started() -> bool:
    """Whether this process has begun writing a command's output (:func:`write_frame`,
    :func:`begin_output`): after that, a failed pure-Python run is not run again."""
    return bool(_OUTPUT_STARTED)


def begin_output() -> None:
    """Note that the command starts printing its output (see :func:`output_started`)."""
    _OUTPUT_STARTED[:] = [True]


def write_frame(df: pd.DataFrame, out: str | None) -> None:
    """Write ``df`` to ``out`` (CSV, TSV or Parquet by extension), or CSV to stdout."""
    _OUTPUT_STARTED[:] = [True]
    if out is None or out == "-":
        df.to_csv(sys.stdout, index=False)
        return
    low = out.lower()
    if not low.endswith(OUTPUT_EXT):
        prepare_output(out)  # raises OutputError
    _make_parent(out)  # checked by prepare_output, made now that there is an output
    try:
        if low.endswith(PARQUET_EXT):
            df.to_parquet(out, index=False)
        else:
            df.to_csv(out, index=False, sep=input_delimiter(out))
    except OSError as exc:
        raise OutputError(f"cannot write {out!r}: {exc.strerror or exc}") from None


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
    ok = False
    try:
        yield
        ok = True
    finally:
        stop.set()
        t.join()
        if ok:
            sys.stderr.write(f"\r{message} done in {time.perf_counter() - start:.1f}s\n")
        else:  # the error line follows: wipe the spinner so that it stands alone
            sys.stderr.write("\r\033[K")
        sys.stderr.flush()


# --------------------------------------------------------------------------- kinds of answers
KINDS = ("categorical", "ordinal", "numeric", "multilabel")


def add_kind_args(p: argparse.ArgumentParser) -> None:
    """``--kind`` (what the labels are) and ``--sep`` (the delimiter of multi-label cells)."""
    p.add_argument("--kind", choices=KINDS, default="categorical",
                   help="what the labels are: categorical (default), ordinal (ordered levels; --labels fixes "
                        "the order), numeric (ratings, sliders) or multilabel (label sets)")
    p.add_argument("--sep", default=None, metavar="SEP",
                   help="multilabel: the delimiter between the labels of one cell (e.g. '|'); a cell holding "
                        "only SEP is the empty set (none apply), an empty cell is no answer")


def check_kind_args(args: argparse.Namespace) -> None:
    """``--sep`` applies to ``--kind multilabel`` only."""
    if getattr(args, "sep", None) is not None and args.kind != "multilabel":
        raise ParameterError(f"--sep applies to --kind multilabel, not --kind {args.kind}")
    if getattr(args, "sep", None) == "":
        raise ParameterError("--sep must not be empty")


def kind_class(kind: str, cls_name: str):
    """The public class ``cls_name`` of :mod:`crowdagg`, or a one-line InputError when this
    version does not have it."""
    import crowdagg

    from ..errors import InputError

    try:
        return getattr(crowdagg, cls_name)
    except (AttributeError, ImportError):
        raise InputError(f"--kind {kind}: {cls_name} is not available in this version of crowdagg") from None


def label_set_frame(table, sep: str | None):
    """A multi-label table's annotations as a frame whose label cells are text (split by
    ``sep``), for the multi-label estimators and agreement."""
    df = table.to_pandas()
    labels = df["label"].astype(object)
    df["label"] = [v if isinstance(v, (str, list, tuple, set, frozenset)) else str(v) for v in labels]
    return df.rename(columns={"label": "labels"})


def numeric_summary(table) -> dict[str, Any]:
    """Figures of numeric ratings: count, range, mean, SD, median, distinct values.

    ``sd`` is the sample standard deviation, None (undefined) for a single rating."""
    import numpy as np

    from ..methods.ratings import rating_values

    values = rating_values(table.labels)
    y = values[table.label_codes]
    per_item = table.item_counts()
    return {"n_ratings": int(y.size), "min": float(y.min()), "max": float(y.max()), "mean": float(y.mean()),
            "sd": float(y.std(ddof=1)) if y.size > 1 else None, "median": float(np.median(y)),
            "distinct_values": int(table.n_labels),
            "ratings_per_item_mean": float(per_item.mean()) if per_item.size else 0.0}


def multilabel_summary(table, sep: str | None) -> dict[str, Any]:
    """Figures of multi-label answers: label counts, set sizes, empty sets."""
    from collections import Counter

    from ..agreement import label_set_frame as sets_frame

    frame, sets = sets_frame(label_set_frame(table, sep), sep=sep)
    sizes = [len(sets[c]) for c in frame["label"]]
    counts: Counter = Counter()
    for c in frame["label"]:
        counts.update(sets[c])
    return {"n_answers": len(sizes), "n_labels": len(counts),
            "mean_set_size": float(sum(sizes) / len(sizes)) if sizes else 0.0,
            "empty_sets": int(sum(1 for s in sizes if s == 0)),
            "label_counts": {str(k): int(v) for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))}}
