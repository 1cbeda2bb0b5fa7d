"""Ingest: reading annotation files into columns for the table.

File checks (a missing path, a folder, an unreadable file), the CSV header,
ragged-row and encoding errors, the whitespace ``strip`` rule, column-name
resolution, and the CSV/Parquet column readers behind
:meth:`AnnotationTable.read_csv <crowdagg.table.AnnotationTable.read_csv>` and
:meth:`~crowdagg.table.AnnotationTable.read_parquet`.  Imports
:mod:`crowdagg.factorize` (the label rule), never :mod:`crowdagg.table`.
"""

from __future__ import annotations

import csv
import os
import stat
from collections.abc import Sequence
from typing import Any

import numpy as np

from .errors import (
    EmptyTableError,
    EncodingError,
    FileAccessError,
    FormatError,
    InputError,
    InputFileNotFoundError,
    MissingColumnError,
    NotAFileError,
)
from .factorize import _parse_label_strings

_ITEM_DEFAULTS = ("item", "task")


def _resolve_columns(
    columns: Sequence[Any], item_col: str | None, worker_col: str, label_col: str
) -> tuple[str, str, str]:
    columns = list(columns)
    if item_col is None:
        item_col = next((c for c in _ITEM_DEFAULTS if c in columns), "item")
    missing = [c for c in (item_col, worker_col, label_col) if c not in columns]
    if missing:
        hint = " (the item column may also be called 'task')" if item_col == "item" else ""
        raise MissingColumnError(
            f"missing column(s) {missing}{hint}; the table has {columns[:20]}. "
            "Name the columns with item_col=, worker_col=, label_col="
        )
    if len({item_col, worker_col, label_col}) != 3:
        raise InputError(f"item, worker and label columns must differ, got {item_col!r}, {worker_col!r}, {label_col!r}")
    return item_col, worker_col, label_col


def read_csv_columns(
    path: str | os.PathLike, *, item_col: str | None, worker_col: str, label_col: str, delimiter: str, strip: bool
) -> tuple[list[Any], tuple[str, str, str]]:
    """The item, worker and label columns of a CSV file (Arrow arrays) and their names.

    The reading half of :meth:`AnnotationTable.read_csv <crowdagg.table.AnnotationTable.read_csv>`
    (see it for the rules); labels are parsed by :func:`crowdagg.factorize._label_values`.
    """
    path = _check_file(path, "CSV file")
    _check_strip(strip)
    header = _read_header(path, delimiter)
    names = [h.strip() for h in header] if strip else header
    cols = _resolve_columns(names, item_col, worker_col, label_col)
    raw = [header[names.index(c)] for c in cols]
    tbl = _read_csv_strings(path, header, raw, delimiter)
    if tbl.num_rows == 0:
        raise EmptyTableError(f"{path!r} has a header but no annotation rows")
    columns = [tbl.column(c) for c in raw]
    if strip:
        columns = [_strip_cells(c, empty_is_null=True) for c in columns]
    columns[2] = _parse_label_strings(columns[2])
    return columns, cols


def read_parquet_columns(
    path: str | os.PathLike, *, item_col: str | None, worker_col: str, label_col: str, strip: bool
) -> tuple[list[Any], tuple[str, str, str]]:
    """The item, worker and label columns of a Parquet file or folder (Arrow arrays) and their names.

    The reading half of :meth:`AnnotationTable.read_parquet <crowdagg.table.AnnotationTable.read_parquet>`.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = _check_file(path, "Parquet file", folder_ok=True)
    _check_strip(strip)
    try:
        if os.path.isfile(path):
            cols = _resolve_columns(pq.read_schema(path).names, item_col, worker_col, label_col)
            tbl = pq.read_table(path, columns=list(cols))
        else:
            tbl, cols = _read_parquet_folder(path, item_col, worker_col, label_col)
    except PermissionError as exc:
        raise FileAccessError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    except (pa.ArrowException, OSError) as exc:  # ArrowInvalid, ArrowTypeError, ArrowIOError
        what = "a Parquet file" if os.path.isfile(path) else "a folder of Parquet files with one schema"
        raise FormatError(f"cannot read {path!r} as {what}: {_first_line(exc)}") from None
    columns = [tbl.column(c) for c in cols]
    if strip:
        columns = [_strip_cells(c, empty_is_null=False) for c in columns]
    return columns, cols


# --------------------------------------------------------------------------- files
def _check_file(path: Any, what: str, *, folder_ok: bool = False) -> str:
    """``path`` as a string once it names an existing, readable regular file (or folder)."""
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"a {what} path must be a str or os.PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputFileNotFoundError(f"no such file: {path!r}") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise FileAccessError(f"cannot read {path!r}: {getattr(exc, 'strerror', None) or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        if folder_ok:
            return path
        raise NotAFileError(f"{path!r} is a directory, not a {what}")
    if not stat.S_ISREG(st.st_mode):
        raise NotAFileError(f"{path!r} is not a regular file (a device, pipe or socket)")
    if not os.access(path, os.R_OK):
        raise FileAccessError(f"cannot read {path!r}: permission denied")
    return path


def _read_parquet_folder(
    path: str, item_col: str | None, worker_col: str, label_col: str
) -> tuple[Any, tuple[str, str, str]]:
    """The three columns of a folder of Parquet files, once every file is known to
    give them one type (Arrow would otherwise cast the later files to the first
    file's types: the integer 1 in one file and the string "1" in another would merge)."""
    import pyarrow.dataset as pads
    import pyarrow.parquet as pq

    dataset = pads.dataset(path, format="parquet", partitioning="hive")
    if not dataset.files:
        raise EmptyTableError(f"the folder {path!r} holds no Parquet files")
    cols = _resolve_columns(dataset.schema.names, item_col, worker_col, label_col)
    first: dict[str, tuple[Any, str]] = {}
    for f in dataset.files:
        schema = pq.read_schema(f)
        for c in cols:
            i = schema.get_field_index(c)
            if i < 0:
                continue  # a partition column (or a file without it: Arrow fills nulls)
            t = schema.field(i).type
            if c not in first:
                first[c] = (t, f)
            elif _type_family(first[c][0]) != _type_family(t):
                raise FormatError(
                    f"the Parquet files of {path!r} do not share one schema: column {c!r} is "
                    f"{first[c][0]} in {first[c][1]!r} but {t} in {f!r}"
                )
    return dataset.to_table(columns=list(cols)), cols


def _type_family(t: Any) -> str:
    """Arrow types that hold the same values alike: strings, integers, floats; else the type."""
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t):
        return "floating"
    return str(t)


def _check_strip(strip: Any) -> None:
    if not isinstance(strip, (bool, np.bool_)):
        raise InputError(f"strip must be True or False, got {strip!r}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _open_binary(path: str) -> Any:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise FileAccessError(f"cannot read {path!r}: {exc.strerror or exc}") from None


def _read_header(path: str, delimiter: str) -> list[str]:
    """The header row (the first non-blank line; a UTF-8 byte-order mark is dropped)."""
    with _open_binary(path) as fh:
        line_no = 0
        for line in fh:
            line_no += 1
            if line.strip(b"\r\n"):
                break
        else:
            raise EmptyTableError(f"{path!r} is empty")
    if b"\x00" in line:
        raise FormatError(f"{path!r} is a binary file, not UTF-8 text (a NUL byte on line {line_no})")
    try:
        text = line.decode("utf-8-sig" if line_no == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        raise EncodingError(
            f"{path!r} is not UTF-8: byte {line[exc.start:exc.start + 1]!r} on line {line_no}, "
            f"column {exc.start + 1} (save it as UTF-8)"
        ) from None
    return next(csv.reader([text.rstrip("\r\n")], delimiter=delimiter), [])


def _read_csv_strings(path: str, header: list[str], raw: list[str], delimiter: str) -> Any:
    """The columns ``raw`` of a CSV file as Arrow strings (empty cells null)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    invalid: list[Any] = []

    def on_invalid(row: Any) -> str:
        invalid.append(row)
        return "error"

    try:
        return pacsv.read_csv(
            path,
            parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in raw},
                include_columns=raw,
                strings_can_be_null=True,
                null_values=[""],  # only empty cells are null: "NA", "null" stay strings
            ),
        )
    except PermissionError as exc:
        raise FileAccessError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    except (pa.ArrowException, OSError) as exc:
        if invalid:
            raise _ragged_error(path, header, delimiter, invalid[0]) from None
        if "UTF8" in str(exc) or "UTF-8" in str(exc):
            raise _encoding_error(path) from None
        raise FormatError(f"cannot parse {path!r} as CSV: {_first_line(exc)}") from None


def _ragged_error(path: str, header: list[str], delimiter: str, row: Any) -> FormatError:
    """A FormatError naming the first line whose row has more or fewer fields than the header."""
    n = len(header)
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        start, seen_header = 1, False
        for rec in reader:
            if rec:
                if seen_header and len(rec) != n:
                    return FormatError(
                        f"{path!r}, line {start}: {len(rec)} field(s) where the header has {n} "
                        f"({delimiter.join(rec)[:80]!r})"
                    )
                seen_header = True
            start = reader.line_num + 1
    where = f"row {row.number}" if row.number is not None else "a row"
    return FormatError(
        f"{path!r}, {where}: {row.actual_columns} field(s) where the header has "
        f"{row.expected_columns} ({row.text[:80]!r})"
    )


def _encoding_error(path: str) -> EncodingError:
    """An EncodingError naming the first line that is not UTF-8."""
    with _open_binary(path) as fh:
        for line_no, line in enumerate(fh, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                return EncodingError(
                    f"{path!r} is not UTF-8: byte {line[exc.start:exc.start + 1]!r} on line {line_no}, "
                    f"column {exc.start + 1} (save it as UTF-8)"
                )
    return EncodingError(f"{path!r} is not UTF-8 text (save it as UTF-8)")


def _strip_cells(col: Any, *, empty_is_null: bool) -> Any:
    """An Arrow column with leading and trailing whitespace trimmed from every string.

    Strings (also the dictionary of a dictionary-encoded column) are trimmed with
    ``utf8_trim_whitespace``; other types are returned as they are.  With
    ``empty_is_null``, cells left empty become null (CSV: an empty cell is null).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    t = col.type
    if pa.types.is_dictionary(t):  # e.g. a pandas categorical written to Parquet
        vt = t.value_type
        if not (pa.types.is_string(vt) or pa.types.is_large_string(vt) or pa.types.is_string_view(vt)):
            return col
        col = col.cast(vt)
        t = vt
    if pa.types.is_string_view(t):
        col = col.cast(pa.large_string())
    elif not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        return col
    out = pc.utf8_trim_whitespace(col)
    if empty_is_null:
        empty = pc.equal(out, "")
        if pc.any(empty).as_py():
            out = pc.if_else(empty, pa.scalar(None, out.type), out)
    return out
