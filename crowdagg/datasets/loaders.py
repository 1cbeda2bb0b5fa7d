"""Read crowdsourcing datasets from local folders, in the common layout or as published.

Layouts understood (``layout=`` of :func:`load_dataset`):

``"common"``
    ``answers.csv`` with columns ``task,worker,label`` and ``gold.csv`` with
    ``task,label`` (the layout of ``../shared/datasets`` and of crowd-kit frames).
``"truth_inference"``
    The truth-inference benchmark of Zheng et al. (PVLDB 2017): ``answer.csv``
    with ``question,worker,answer`` and ``truth.csv`` with ``question,truth``.
``"mace"``
    MACE's input (Hovy et al., NAACL 2013): ``NAME.csv`` with one line per item
    and one column per annotator, empty cells for no answer, no header, and
    optionally ``NAME.key`` with one gold label per line.  Item ids are the
    0-based line numbers, worker ids the 0-based column numbers (as strings).
``"triples"``
    Whitespace-separated ``item worker label`` lines (``answers.txt``) and
    ``item label`` lines (``gold.txt`` or ``truth.txt``).

Ids are always strings exactly as written once stripped (``007`` stays
``"007"``; ``strip=False`` keeps surrounding whitespace too).  Labels are parsed
by value without loss: int64 when every label is a whole number int64 holds
(``00`` and ``-0`` are 0), float64 when every one is a finite number, whole
numbers are exact (at most 2**53) and no two different numbers become one
float, else every label stays a string as written (a 20-digit integer keeps its
digits); only an empty cell is null, and the frames hold nullable ``Int64`` /
``Float64`` columns, never NaN.  Every file is read as UTF-8 and checked: a row
whose field count differs from the header's is a FormatError naming its line.
No function here touches the network.
"""

from __future__ import annotations

import csv
import glob
import os
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from .. import ingest
from ..errors import (
    DatasetNotFoundError,
    DuplicateAnnotationError,
    EmptyTableError,
    FormatError,
    GoldError,
    InputError,
    MissingColumnError,
)
from ..ingest import (
    _check_header,
    _check_strip,
    _csv_records,
    _csv_rows,
    _decode,
    _read_bytes,
    _read_text,
    parse_labels,
)
from .registry import REGISTRY, DatasetInfo, get_dataset_info, registry_frame

__all__ = [
    "Dataset",
    "load_dataset",
    "list_datasets",
    "read_common",
    "read_truth_inference",
    "read_mace",
    "read_triples",
    "detect_layout",
    "infer_kind",
    "align_gold",
    "data_roots",
    "LAYOUTS",
]

Layout = Literal["auto", "common", "truth_inference", "mace", "triples"]
LAYOUTS = ("auto", "common", "truth_inference", "mace", "triples")
Duplicates = Literal["error", "first", "last", "keep"]
_DUPLICATES = ("error", "first", "last", "keep")
#: Numeric label sets with more distinct values than this are taken for ratings.
RATINGS_MIN_DISTINCT = 10
COLUMNS = ("task", "worker", "label")


class Dataset(NamedTuple):
    """What :func:`load_dataset` returns.

    Attributes
    ----------
    annotations : AnnotationTable or pandas.DataFrame
        The annotations after the null-label and duplicate rules; a DataFrame
        (columns ``task``, ``worker``, ``label``, in file order) with
        ``as_frame=True``.
    gold : pandas.Series
        True label per item (index ``task``: item ids as strings; name ``label``),
        restricted to items that have at least one row in the answers file.  For
        classification data the values have the label dtype of the annotations.
    info : DatasetInfo
        The registry entry, or for an unregistered folder an entry with the name
        of the folder, the counts read and ``registered=False``.
    path : str
        The folder read.
    dropped : dict
        Rows left out, by reason: ``null_label`` (empty label cells),
        ``duplicate`` (repeated (task, worker) pairs), ``gold_null`` (empty gold
        labels), ``gold_without_answers`` (gold items absent from the answers).
    """

    annotations: Any
    gold: pd.Series
    info: DatasetInfo
    path: str
    dropped: dict[str, int]


# --------------------------------------------------------------------------- low-level reading
def _check_file(path: str | os.PathLike, what: str) -> str:
    return ingest._check_file(path, what, named=True, not_found=DatasetNotFoundError)


def _pair_files(path: str | os.PathLike, side: Any, main_name: str, side_name: str) -> tuple[str, Any]:
    """``(main file, side file)``: ``path`` may be the main file or the folder holding
    ``main_name`` (then ``side_name`` beside it is used when present and ``side`` is None)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        folder = path
        path = os.path.join(folder, main_name)
        if side is None and os.path.isfile(os.path.join(folder, side_name)):
            side = os.path.join(folder, side_name)
    return path, side


def _arrow_cells(data: bytes, header: list[str], columns: Sequence[str]) -> list[np.ndarray] | None:
    """``columns`` as object arrays of strings, parsed by pyarrow; None if pyarrow finds fault.

    The fast path of :func:`_read_csv`: every cell a string exactly as written
    (no null values, no type inference).  Any parse error (a ragged row, bytes
    that are not UTF-8) returns None, and the exact reader then names the line.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        tbl = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header},
                include_columns=list(columns),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                null_values=[],
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError, ValueError):
        return None
    return [tbl.column(c).to_numpy(zero_copy_only=False).astype(object) for c in columns]


def _read_csv(
    path: str, columns: Sequence[str], id_columns: Sequence[str], what: str, strip: bool = True
) -> pd.DataFrame:
    """Read ``columns`` of a CSV: id columns as strings, the others as labels (:func:`crowdagg.ingest.parse_labels`, by value).

    Every row must have one field per header column (a FormatError names the
    line otherwise); header names are stripped; with ``strip`` every cell is too.
    pyarrow reads well-formed files; anything it finds fault with, or an empty
    id, is read again by the exact reader, whose error names the line.
    """
    where = f"{what} {path!r}"
    data = _read_bytes(path, what, not_found=DatasetNotFoundError)
    first = data.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", errors="replace")
    raw_header = next(csv.reader([first]), []) if first.strip() else []
    header = [h.strip() for h in raw_header]
    cells = None
    if header and len(set(header)) == len(header) and all(c in header for c in columns):
        cells = _arrow_cells(data, raw_header, [raw_header[header.index(c)] for c in columns])
    lines: list[int] | None = None
    if cells is not None:
        cols = {c: pd.Series(v, dtype=object) for c, v in zip(columns, cells)}
        if strip:
            cols = {c: v.str.strip() for c, v in cols.items()}
        if any(cols[c].str.strip().eq("").any() for c in id_columns):
            cells = None  # read again to name the lines
    if cells is None:
        header, rows, lines = _csv_rows(_decode(data, path, what), where)
        header = [h.strip() for h in header]
        missing = [c for c in columns if c not in header]
        if missing:
            raise MissingColumnError(f"{where} lacks column(s) {missing}; its header is {header[:20]}")
        _check_header([h for h in header if h in columns], where)
        by_col = list(zip(*rows)) if rows else [() for _ in header]
        cols = {c: pd.Series(by_col[header.index(c)], dtype=object) for c in columns}
        if strip:
            cols = {c: v.str.strip() for c, v in cols.items()}
    out = {}
    for c in columns:
        col = cols[c]
        if c in id_columns:
            empty = np.flatnonzero(col.str.strip().eq("").to_numpy())
            if empty.size:
                shown = [lines[k] for k in empty[:5]] if lines is not None else (empty[:5] + 2).tolist()
                raise FormatError(f"{where} has empty {c!r} cells (lines {shown})")
            out[c] = col.to_numpy(dtype=object)
        else:
            out[c] = parse_labels(col.to_numpy(dtype=object), by_value=True)
    return pd.DataFrame(out, columns=list(columns))


def _plain(values: pd.Series) -> pd.Series:
    """A nullable Int64/Float64 series without nulls as numpy int64/float64."""
    if isinstance(values.dtype, pd.api.extensions.ExtensionDtype) and values.dtype.kind in "if" \
            and not values.isna().any():
        return values.astype(values.dtype.numpy_dtype)
    return values


def _finish(df: pd.DataFrame, gold: pd.Series | None) -> tuple[pd.DataFrame, pd.Series]:
    df = df.reset_index(drop=True)
    df.columns = list(COLUMNS)
    if gold is None:
        gold = pd.Series([], index=pd.Index([], dtype=object, name="task"), dtype=object, name="label")
    gold = gold.copy()
    gold.index = pd.Index(gold.index, name="task")
    gold.name = "label"
    return df, gold


# --------------------------------------------------------------------------- readers
def read_common(
    answers: str | os.PathLike, gold: str | os.PathLike | None = None, *, strip: bool = True
) -> tuple[pd.DataFrame, pd.Series]:
    """Read the common layout: ``answers.csv`` (``task,worker,label``) and ``gold.csv`` (``task,label``).

    Parameters
    ----------
    answers : path
        The answers file, or the folder holding ``answers.csv`` (and ``gold.csv``,
        read when present).
    gold : path, optional
        The gold file.
    strip : bool
        Strip leading and trailing whitespace from every id and label cell
        (default); ``False`` keeps every cell exactly (an id that is blank is
        an error either way).

    Returns
    -------
    (pandas.DataFrame, pandas.Series)
        Annotations (columns ``task``, ``worker``, ``label``, every row as read,
        null labels included) and gold (index ``task``, may be empty).  Gold rows
        are kept as written (duplicates and nulls are dealt with by
        :func:`load_dataset`).  Labels follow the module's number rule
        (nullable ``Int64``/``Float64`` or strings; null = an empty cell).

    Raises
    ------
    DatasetNotFoundError
        A missing file.
    NotAFileError, FileAccessError, EncodingError
        A directory, an unreadable file, bytes that are not UTF-8.
    FormatError
        Binary content, invalid quoting, a row whose field count differs from
        the header's, an empty id (each naming the line).
    MissingColumnError, EmptyTableError
        A missing column, an empty file.
    """
    answers, gold = _pair_files(answers, gold, "answers.csv", "gold.csv")
    answers = _check_file(answers, "answers file")
    df = _read_csv(answers, COLUMNS, ("task", "worker"), "answers file", strip)
    g = None
    if gold is not None:
        gold = _check_file(gold, "gold file")
        gdf = _read_csv(gold, ("task", "label"), ("task",), "gold file", strip)
        g = pd.Series(gdf["label"].array, index=gdf["task"].to_numpy())
    return _finish(df, g)


def read_truth_inference(
    answer: str | os.PathLike, truth: str | os.PathLike | None = None, *, strip: bool = True
) -> tuple[pd.DataFrame, pd.Series]:
    """Read the truth-inference benchmark layout of Zheng et al. (PVLDB 2017).

    ``answer.csv`` has columns ``question,worker,answer`` and ``truth.csv`` has
    ``question,truth`` (https://github.com/zhydhkcws/crowd_truth_infer).

    Parameters
    ----------
    answer : path
        ``answer.csv``, or the folder holding it (``truth.csv`` is then read
        when present).
    truth : path, optional
        ``truth.csv``.
    strip : bool
        As for :func:`read_common`.

    Returns
    -------
    (pandas.DataFrame, pandas.Series)
        As :func:`read_common`: columns renamed to ``task``, ``worker``, ``label``.

    Raises
    ------
    DatasetNotFoundError, NotAFileError, FileAccessError, EncodingError, FormatError
        As :func:`read_common`.
    """
    answer, truth = _pair_files(answer, truth, "answer.csv", "truth.csv")
    answer = _check_file(answer, "answer file")
    df = _read_csv(answer, ("question", "worker", "answer"), ("question", "worker"), "answer file", strip)
    df = df[["question", "worker", "answer"]]
    g = None
    if truth is not None:
        truth = _check_file(truth, "truth file")
        tdf = _read_csv(truth, ("question", "truth"), ("question",), "truth file", strip)
        g = pd.Series(tdf["truth"].array, index=tdf["question"].to_numpy())
    return _finish(df, g)


def read_mace(
    path: str | os.PathLike, key: str | os.PathLike | None = None, *, strip: bool = True
) -> tuple[pd.DataFrame, pd.Series]:
    """Read MACE's CSV: one line per item, one column per annotator, empty = no answer.

    The format of MACE (Hovy et al., "Learning Whom to Trust with MACE",
    NAACL-HLT 2013; https://github.com/dirkhovy/MACE): no header, comma
    separated, lines may have different lengths and blank lines are allowed.
    Item ids are the 0-based line numbers (blank lines count, so ids stay aligned
    with the key file), worker ids the 0-based column numbers, both as strings.

    Parameters
    ----------
    path : path
        The annotation CSV.
    key : path, optional
        Gold labels, one per line, aligned with the CSV's lines (blank = no gold).
        It must have as many lines as the CSV.
    strip : bool
        Strip leading and trailing whitespace from every cell (default); a cell
        that is blank after stripping is no answer.  ``False`` keeps every cell
        exactly (only an empty cell is no answer).

    Returns
    -------
    (pandas.DataFrame, pandas.Series)
        As :func:`read_common`.

    Raises
    ------
    FormatError
        If the key file's line count differs from the CSV's, for invalid
        quoting (naming the line) or a binary file.
    DatasetNotFoundError, NotAFileError, FileAccessError, EncodingError
        As :func:`read_common`.
    EmptyTableError
        If the CSV holds no answer at all.
    """
    path = _check_file(path, "MACE CSV")
    rows, _ = _csv_records(_read_text(path, "MACE CSV", not_found=DatasetNotFoundError), f"MACE CSV {path!r}")
    n_lines = len(rows)
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=n_lines)
    cells = np.fromiter((c for r in rows for c in r), dtype=object, count=int(lengths.sum()))
    item = np.repeat(np.arange(n_lines), lengths)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    worker = np.arange(cells.shape[0]) - starts
    stripped = pd.Series(cells, dtype=object)
    if strip:
        stripped = stripped.str.strip()
    stripped = stripped.to_numpy(dtype=object)
    keep = stripped != ""
    if not keep.any():
        raise EmptyTableError(f"MACE CSV {path!r} holds no answer")
    df = pd.DataFrame(
        {
            "task": item[keep].astype(str).astype(object),
            "worker": worker[keep].astype(str).astype(object),
            "label": parse_labels(stripped[keep], by_value=True),
        }
    )
    g = None
    if key is not None:
        key = _check_file(key, "MACE key file")
        lines = _read_text(key, "MACE key file", not_found=DatasetNotFoundError).splitlines()
        if len(lines) != n_lines:
            raise FormatError(
                f"MACE key file {key!r} has {len(lines)} lines but the CSV {path!r} has {n_lines}; "
                "the key needs one line per CSV line"
            )
        vals = parse_labels(np.array(lines, dtype=object), strip=strip, by_value=True)
        g = pd.Series(vals.array, index=np.arange(n_lines).astype(str).astype(object))
        g = g[g.notna()]
    return _finish(df, g)


def _read_whitespace(path: str, n_fields: int, what: str, header: bool) -> np.ndarray:
    lines = _read_text(path, what, not_found=DatasetNotFoundError).split("\n")
    if header and lines:
        lines = lines[1:]
    fields = [ln.split() for ln in lines]
    good = [f for f in fields if f and not f[0].startswith("#")]
    bad = [i for i, f in enumerate(fields) if f and not f[0].startswith("#") and len(f) != n_fields]
    if bad:
        first = bad[0]
        more = f"; {len(bad) - 1} more line(s) too, e.g. {[i + 1 + int(header) for i in bad[1:6]]}" \
            if len(bad) > 1 else ""
        raise FormatError(
            f"{what} {path!r}, line {first + 1 + int(header)}: {len(fields[first])} fields, but every line "
            f"needs {n_fields} whitespace-separated fields{more}"
        )
    if not good:
        raise EmptyTableError(f"{what} {path!r} holds no data line")
    return np.array(good, dtype=object).reshape(len(good), n_fields)


def read_triples(
    path: str | os.PathLike,
    truth: str | os.PathLike | None = None,
    *,
    order: Sequence[str] = ("item", "worker", "label"),
    header: bool = False,
) -> tuple[pd.DataFrame, pd.Series]:
    """Read whitespace-separated ``item worker label`` triples and ``item label`` truth pairs.

    Blank lines and lines starting with ``#`` are skipped; every other line must
    have exactly three fields (two in the truth file).

    Parameters
    ----------
    path : path
        The annotations.
    truth : path, optional
        The truth file (``item label`` per line).
    order : sequence of str
        Field order of the annotation lines, a permutation of
        ``("item", "worker", "label")`` (e.g. ``("worker", "item", "label")``).
    header : bool
        Whether both files start with a header line to skip.

    Returns
    -------
    (pandas.DataFrame, pandas.Series)
        As :func:`read_common`.
    """
    order = tuple(order)
    if sorted(order) != ["item", "label", "worker"]:
        raise InputError(f"order must be a permutation of ('item', 'worker', 'label'), got {order}")
    path = _check_file(path, "triples file")
    arr = _read_whitespace(path, 3, "triples file", header)
    pos = {name: order.index(name) for name in order}
    df = pd.DataFrame(
        {
            "task": arr[:, pos["item"]],
            "worker": arr[:, pos["worker"]],
            "label": parse_labels(arr[:, pos["label"]], strip=True, by_value=True),
        }
    )
    g = None
    if truth is not None:
        truth = _check_file(truth, "truth file")
        t = _read_whitespace(truth, 2, "truth file", header)
        g = pd.Series(parse_labels(t[:, 1], strip=True, by_value=True).array, index=t[:, 0])
    return _finish(df, g)


# --------------------------------------------------------------------------- layout detection
def _mace_pair(folder: str) -> tuple[str, str | None] | None:
    keys = sorted(glob.glob(os.path.join(glob.escape(folder), "*.key")))
    for k in keys:
        csv_path = k[:-4] + ".csv"
        if os.path.isfile(csv_path):
            return csv_path, k
    return None


def _triples_files(folder: str) -> tuple[str, str | None] | None:
    ans = os.path.join(folder, "answers.txt")
    if not os.path.isfile(ans):
        return None
    for name in ("gold.txt", "truth.txt"):
        if os.path.isfile(os.path.join(folder, name)):
            return ans, os.path.join(folder, name)
    return ans, None


def detect_layout(folder: str | os.PathLike) -> str | None:
    """The layout of a dataset folder, or ``None`` if no known layout matches.

    Checked in order: ``answers.csv`` (common), ``answer.csv`` (truth_inference),
    ``NAME.csv`` next to ``NAME.key`` (mace), ``answers.txt`` (triples).
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        return None
    if os.path.isfile(os.path.join(folder, "answers.csv")):
        return "common"
    if os.path.isfile(os.path.join(folder, "answer.csv")):
        return "truth_inference"
    if _mace_pair(folder) is not None:
        return "mace"
    if _triples_files(folder) is not None:
        return "triples"
    return None


def _read_folder(folder: str, layout: str, strip: bool = True) -> tuple[pd.DataFrame, pd.Series]:
    if layout == "auto":
        found = detect_layout(folder)
        if found is None:
            raise FormatError(
                f"no dataset found in {folder!r}: expected answers.csv (+ gold.csv), answer.csv "
                "(+ truth.csv), NAME.csv + NAME.key (MACE) or answers.txt (+ gold.txt/truth.txt)"
            )
        layout = found
    if layout == "common":
        return read_common(folder, strip=strip)
    if layout == "truth_inference":
        return read_truth_inference(folder, strip=strip)
    if layout == "mace":
        pair = _mace_pair(folder)
        if pair is None:
            csvs = sorted(glob.glob(os.path.join(glob.escape(folder), "*.csv")))
            if len(csvs) != 1:
                raise FormatError(f"layout 'mace' needs NAME.csv (+ NAME.key) in {folder!r}; found {csvs}")
            pair = (csvs[0], None)
        return read_mace(*pair, strip=strip)
    if layout == "triples":
        files = _triples_files(folder)
        if files is None:
            raise FormatError(f"layout 'triples' needs answers.txt (+ gold.txt or truth.txt) in {folder!r}")
        return read_triples(*files)
    raise InputError(f"layout must be one of {LAYOUTS}, got {layout!r}")


# --------------------------------------------------------------------------- resolution
def data_roots(data_home: str | os.PathLike | None = None) -> list[str]:
    """Folders searched for dataset names: ``data_home``, then each entry of ``$CROWDAGG_DATA``.

    ``CROWDAGG_DATA`` may hold several folders separated by ``os.pathsep``.
    """
    roots = []
    if data_home is not None:
        roots.append(os.fspath(data_home))
    env = os.environ.get("CROWDAGG_DATA", "")
    roots.extend(p for p in env.split(os.pathsep) if p)
    return roots


def _looks_like_path(s: str) -> bool:
    return os.sep in s or (os.altsep is not None and os.altsep in s) or s.startswith(".") or s.startswith("~")


def _resolve(name_or_path: str | os.PathLike, data_home: str | os.PathLike | None) -> tuple[str, DatasetInfo | None]:
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise InputError(f"name_or_path must be a dataset name or a folder path, got {type(name_or_path).__name__}")
    raw = os.fspath(name_or_path)
    if not raw:
        raise InputError("name_or_path is empty")
    expanded = os.path.expanduser(raw)
    if os.path.isdir(expanded):
        return expanded, get_dataset_info(os.path.basename(os.path.normpath(expanded)))
    if isinstance(name_or_path, os.PathLike) or _looks_like_path(raw):
        raise DatasetNotFoundError(f"no such dataset folder: {raw!r}")
    info = get_dataset_info(raw)
    roots = data_roots(data_home)
    names = [raw] + ([info.name] if info is not None and info.name != raw else [])
    for root in roots:
        for n in names:
            cand = os.path.join(os.path.expanduser(root), n)
            if os.path.isdir(cand):
                return cand, info
    where = ", ".join(repr(r) for r in roots) if roots else "nowhere: no data_home given and CROWDAGG_DATA is unset"
    if info is not None:
        raise DatasetNotFoundError(
            f"dataset {info.name!r} is registered but not available locally (searched {where}). "
            f"Get it from {info.origin or 'its publisher (origin unknown)'} "
            f"(format: {info.source_format or 'unknown'}), put the files in a folder named "
            f"{info.name!r} (answers.csv + gold.csv, or the original answer.csv/truth.csv, NAME.csv/NAME.key "
            "or answers.txt/gold.txt files), and set CROWDAGG_DATA to the folder holding it "
            "(or pass data_home=). See docs/datasets.md."
        )
    known = ", ".join(sorted(REGISTRY))
    raise DatasetNotFoundError(
        f"unknown dataset {raw!r}: not a folder, not found under {where}, and not a registered name. "
        f"Registered names: {known}"
    )


# --------------------------------------------------------------------------- gold and kind
def align_gold(gold: pd.Series, labels: pd.Index) -> pd.Series:
    """Convert gold values to the dtype of the annotation labels where that is lossless.

    Integer-valued floats become integers when the labels are integers; numbers
    become strings when the labels are strings; numeric strings become numbers
    when the labels are numbers.  Values that cannot be converted are left as
    they are (they then do not match any label).
    """
    if len(gold) == 0 or len(labels) == 0:
        return gold
    lab_kind = labels.dtype.kind
    g = gold
    if lab_kind in "iuf":
        if g.dtype == object or pd.api.types.is_string_dtype(g.dtype):
            conv = pd.to_numeric(g, errors="coerce")
            if conv.notna().sum() == g.notna().sum():
                g = conv
        if g.dtype.kind == "f" and lab_kind in "iu":
            v = g.to_numpy(dtype=np.float64)
            if np.all(np.isfinite(v)) and np.all(v == np.round(v)):
                g = pd.Series(v.astype(np.int64), index=g.index, name=g.name)
    elif pd.api.types.is_string_dtype(labels.dtype) or labels.dtype == object:
        if g.dtype.kind in "iub":
            g = g.astype(str)
        elif g.dtype.kind == "f":
            v = g.to_numpy()
            integral = np.isfinite(v) & (v == np.round(v))
            g = pd.Series(
                [str(int(x)) if ok else str(x) for x, ok in zip(v, integral)], index=g.index, name=g.name,
                dtype=object,
            )
    return g


def infer_kind(labels: pd.Index, gold: pd.Series | None = None) -> str:
    """``"ratings"`` or ``"classification"`` from the label set (and gold), by a stated rule.

    Numeric (non-boolean) labels with more than ``RATINGS_MIN_DISTINCT`` (10)
    distinct values, or a numeric gold with non-integer values where the labels
    are integers (a mean rating), make ``"ratings"``; anything else is
    ``"classification"``.
    """
    kind = labels.dtype.kind
    if kind in "iuf":
        if len(labels) > RATINGS_MIN_DISTINCT:
            return "ratings"
        if gold is not None and len(gold) and kind in "iu":
            g = pd.to_numeric(pd.Series(gold), errors="coerce").to_numpy(dtype=np.float64)
            g = g[np.isfinite(g)]
            if g.size and np.any(g != np.round(g)):
                return "ratings"
    return "classification"


def _dedupe(df: pd.DataFrame, duplicates: str) -> tuple[pd.DataFrame, int]:
    dup = df.duplicated(subset=["task", "worker"], keep="last" if duplicates == "last" else "first")
    n = int(dup.sum())
    if n == 0 or duplicates == "keep":
        return df, 0
    if duplicates == "error":
        ex = df.loc[dup, ["task", "worker"]].head(5).itertuples(index=False, name=None)
        raise DuplicateAnnotationError(
            f"{n} repeated (task, worker) pair(s), e.g. {list(ex)}; pass duplicates='first', "
            "'last' or 'keep' to choose a rule"
        )
    return df.loc[~dup].reset_index(drop=True), n


# --------------------------------------------------------------------------- the loader
def load_dataset(
    name_or_path: str | os.PathLike,
    *,
    data_home: str | os.PathLike | None = None,
    as_frame: bool = False,
    duplicates: Duplicates = "first",
    layout: Layout = "auto",
    check_gold: bool = True,
    strip: bool = True,
) -> Dataset:
    """Load a crowdsourcing dataset (annotations and gold labels) from a local folder.

    Nothing is downloaded: the folder must exist locally.

    Parameters
    ----------
    name_or_path : str or path
        A folder (any of the layouts in :mod:`crowdagg.datasets.loaders`), or a
        dataset name looked up as ``<root>/<name>`` under ``data_home`` and then
        under each folder of the ``CROWDAGG_DATA`` environment variable.  Names
        of the registry (:func:`list_datasets`) and their aliases are accepted.
    data_home : path, optional
        A folder of dataset folders, searched before ``CROWDAGG_DATA``.
    as_frame : bool
        Return the annotations as a pandas DataFrame (columns ``task``,
        ``worker``, ``label``, the names crowd-kit uses, which crowdagg accepts
        too) instead of an :class:`~crowdagg.table.AnnotationTable`.
    duplicates : {"first", "last", "keep", "error"}
        Repeated (task, worker) pairs: keep the ``"first"`` (default) or
        ``"last"`` row in file order, ``"keep"`` all as separate votes, or raise
        (``"error"``).  Rows with an empty label are dropped before this rule
        applies.  The frame and the table hold the same rows.
    layout : {"auto", "common", "truth_inference", "mace", "triples"}
        File layout; ``"auto"`` detects it (see :func:`detect_layout`).
    check_gold : bool
        For classification data, check that every gold label is in the label set
        of the annotations (via ``AnnotationTable.encode_gold``) and raise
        :class:`~crowdagg.errors.GoldError` otherwise.  Ratings data (registry
        kind, else :func:`infer_kind`) are not checked: their gold is a mean.
    strip : bool
        Strip leading and trailing whitespace from every id and label cell of
        the CSV layouts and MACE's (default); ``False`` keeps every cell
        exactly.  Whitespace-separated triples cannot hold whitespace in a field.

    Returns
    -------
    Dataset
        ``(annotations, gold, info, path, dropped)``.  Gold is restricted to items
        with rows in the answers file; the number left out is
        ``dropped["gold_without_answers"]``.

    Raises
    ------
    DatasetNotFoundError
        For a missing folder, a registered dataset with no local copy (the
        message says where to get it and how to point ``CROWDAGG_DATA`` at it),
        or an unknown name (the message lists the registered names).
    FormatError, MissingColumnError, EmptyTableError
        For malformed files.
    GoldError
        For gold labels outside the label set, or an item with two different
        gold labels.

    Examples
    --------
    >>> from crowdagg.datasets import load_dataset          # doctest: +SKIP
    >>> table, gold, info, path, dropped = load_dataset("zheng_d_duck")  # doctest: +SKIP
    >>> import crowdagg                                      # doctest: +SKIP
    >>> (crowdagg.MajorityVote().fit(table).labels_[gold.index] == gold).mean()  # doctest: +SKIP
    """
    if duplicates not in _DUPLICATES:
        raise InputError(f"duplicates must be one of {_DUPLICATES}, got {duplicates!r}")
    if layout not in LAYOUTS:
        raise InputError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    _check_strip(strip)
    folder, info = _resolve(name_or_path, data_home)
    df, gold = _read_folder(folder, layout, bool(strip))

    dropped: dict[str, int] = {}
    null = df["label"].isna().to_numpy()
    dropped["null_label"] = int(null.sum())
    if null.any():
        df = df.loc[~null].reset_index(drop=True)
    if len(df) == 0:
        raise EmptyTableError(f"the answers in {folder!r} hold no label")
    df["label"] = _plain(df["label"])  # no null left: plain int64/float64 labels
    df, dropped["duplicate"] = _dedupe(df, duplicates)

    from ..table import AnnotationTable

    table = AnnotationTable.from_pandas(
        df, item_col="task", duplicates="keep" if duplicates == "keep" else "error"
    )

    gnull = gold.isna().to_numpy()
    dropped["gold_null"] = int(gnull.sum())
    gold = _plain(gold[~gnull])
    in_answers = gold.index.isin(table.items)
    dropped["gold_without_answers"] = int((~in_answers).sum())
    gold = gold[in_answers]
    gold = align_gold(gold, table.labels)
    if gold.index.has_duplicates:
        pairs = pd.DataFrame({"task": gold.index, "label": gold.to_numpy()}).drop_duplicates()
        conflict = pairs["task"][pairs["task"].duplicated()].unique()
        if len(conflict):
            raise GoldError(f"gold gives different labels to {len(conflict)} item(s): {list(conflict[:5])}")
        gold = gold[~gold.index.duplicated()]

    kind = info.kind if info is not None else infer_kind(table.labels, gold)
    if check_gold and kind == "classification" and len(gold):
        table.encode_gold(gold)  # raises GoldError naming the bad labels
    if info is None:
        info = DatasetInfo(
            name=os.path.basename(os.path.normpath(folder)),
            title=f"local dataset in {folder}",
            kind=kind,  # type: ignore[arg-type]
            n_annotations=table.n_annotations,
            n_items=table.n_items,
            n_workers=table.n_workers,
            n_labels=table.n_labels,
            n_gold=len(gold),
            origin=folder,
            licence="unknown",
            source_format=layout if layout != "auto" else detect_layout(folder),
            notes="not in the registry; counts are those loaded",
            registered=False,
        )
    annotations: Any = df if as_frame else table
    return Dataset(annotations, gold, info, folder, dropped)


def list_datasets(
    kind: str | None = None, *, data_home: str | os.PathLike | None = None
) -> pd.DataFrame:
    """The registered public datasets, one row each, and where a local copy is.

    Parameters
    ----------
    kind : {"classification", "ratings", "pairwise"}, optional
        Keep only datasets of this kind.
    data_home : path, optional
        Extra folder to look for local copies (besides ``$CROWDAGG_DATA``).

    Returns
    -------
    pandas.DataFrame
        Indexed by name; columns ``title``, ``kind``, the sizes (nullable
        integers, ``<NA>`` = unknown), ``citation``, ``origin``, ``licence``,
        ``source_format``, ``notes``, ``aliases`` and ``local`` (the folder of a
        local copy, or ``None``).  No network access.
    """
    from .registry import KINDS

    df = registry_frame()
    if kind is not None:
        if kind not in KINDS:
            raise InputError(f"kind must be one of {KINDS}, got {kind!r}")
        df = df[df["kind"] == kind]
    roots = data_roots(data_home)
    local = []
    for name in df.index:
        found = None
        for r in roots:
            cand = os.path.join(os.path.expanduser(r), name)
            if detect_layout(cand) is not None:
                found = cand
                break
        local.append(found)
    df = df.copy()
    df["local"] = pd.Series(local, index=df.index, dtype=object)
    return df
