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
import io
import os
import stat
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .errors import (
    EmptyTableError,
    EncodingError,
    FileAccessError,
    FormatError,
    InputError,
    InputFileNotFoundError,
    MissingColumnError,
    NotAFileError,
    ParameterError,
)
from .factorize import _label_values, _parse_label_strings

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
    _check_no_nul(path)
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
    columns = [_binary_as_text(tbl.column(c), c, path) for c in cols]
    if strip:
        columns = [_strip_cells(c, empty_is_null=False) for c in columns]
    return columns, cols


# --------------------------------------------------------------------------- files
def _check_file(
    path: Any, what: str, *, folder_ok: bool = False, named: bool = False,
    not_found: type[Exception] = InputFileNotFoundError,
) -> str:
    """``path`` as a string once it names an existing, readable regular file (or folder).

    ``folder_ok`` accepts a directory (a Parquet folder).  With ``named`` every
    message starts with ``what`` (``"MACE CSV: no such file: ..."``, the MTurk and
    dataset readers); else it names the path only (the table readers).
    ``not_found`` is the class raised for a missing path.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"a {what} path must be a str or os.PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    pre = f"{what}: " if named else ""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise not_found(f"{pre}no such file: {path!r}") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise FileAccessError(f"{pre}cannot read {path!r}: {getattr(exc, 'strerror', None) or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        if folder_ok:
            return path
        raise NotAFileError(f"{pre}{path!r} is a directory, not {'a file' if named else 'a ' + what}")
    if not stat.S_ISREG(st.st_mode):
        raise NotAFileError(f"{pre}{path!r} is not a regular file (a device, pipe or socket)")
    if not os.access(path, os.R_OK):
        raise FileAccessError(f"{pre}cannot read {path!r}: permission denied")
    return path


def _utf8_error(where: str, data: bytes, start: int, first_line: int = 1) -> EncodingError:
    """An EncodingError naming the line and column of the byte at ``start`` of ``data``
    (whose first line is line ``first_line`` of the file)."""
    line = first_line + data.count(b"\n", 0, start)
    col = start - (data.rfind(b"\n", 0, start) + 1) + 1
    return EncodingError(
        f"{where} is not UTF-8: byte {data[start:start + 1]!r} on line {line}, column {col} (save it as UTF-8)"
    )


def _binary_error(where: str, line: int) -> FormatError:
    return FormatError(f"{where} is a binary file, not UTF-8 text (a NUL byte on line {line})")


#: bytes per block of :func:`_check_no_nul`
_NUL_SCAN_BLOCK = 1 << 24


def _check_no_nul(path: str) -> None:
    """Refuse a file holding a NUL byte (binary content, never text): a FormatError naming
    the line of the first one.

    One ``bytearray.find`` (``memchr``) per block of :data:`_NUL_SCAN_BLOCK` bytes read
    into one buffer: about 0.02 s per 100 MB once the file is in the page cache.
    """
    buf = bytearray(_NUL_SCAN_BLOCK)
    offset = 0
    try:
        with open(path, "rb") as fh:
            while True:
                n = fh.readinto(buf)
                if not n:
                    return
                pos = buf.find(0, 0, n)
                if pos >= 0:
                    break
                offset += n
            fh.seek(0)
            line, left = 1, offset + pos
            while left > 0:  # the error path only: newlines before the NUL
                n = fh.readinto(buf)
                line += buf.count(b"\n", 0, min(n, left))
                left -= n
    except OSError as exc:
        raise FileAccessError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    raise _binary_error(repr(path), line)


_MAGIC = (
    (b"PAR1", "a Parquet file"),
    (b"PK\x03\x04", "a zip archive (or an .xlsx workbook)"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"\xff\xfe", "UTF-16 text"),
    (b"\xfe\xff", "UTF-16 text"),
)


def _read_text(path: str | os.PathLike, what: str, not_found: type[Exception] = InputFileNotFoundError) -> str:
    """The whole text of a UTF-8 file (a leading byte-order mark is dropped).

    Every failure is a :mod:`crowdagg.errors` exception naming ``path``: a missing
    path (``not_found``), a directory or other non-regular file (NotAFileError), a
    file that cannot be read (FileAccessError), binary content (FormatError) or
    bytes that are not UTF-8 (EncodingError, naming the line).
    """
    return _decode(_read_bytes(path, what, not_found), os.fspath(path), what)


def _read_bytes(path: str | os.PathLike, what: str, not_found: type[Exception] = InputFileNotFoundError) -> bytes:
    """The bytes of a text file (no byte-order mark), refused as :func:`_read_text` does but not decoded."""
    path = _check_file(path, what, named=True, not_found=not_found)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise FileAccessError(f"{what}: cannot read {path!r}: {exc.strerror or exc}") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            cls = EncodingError if "UTF-16" in kind else FormatError
            raise cls(f"{what} {path!r} is {kind}, not UTF-8 text")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise _binary_error(f"{what} {path!r}", data.count(b"\n", 0, nul) + 1)
    return data


def _decode(data: bytes, path: str, what: str) -> str:
    """UTF-8 bytes as text; an EncodingError naming the line and column otherwise."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _utf8_error(f"{what} {path!r}", data, exc.start) from None


def _csv_records(text: str, where: str) -> tuple[list[list[str]], list[int]]:
    """Every CSV record (``[]`` for a blank line) and the 1-based physical line it starts on.

    Physical lines are counted, so a quoted cell holding newlines moves the
    following records' line numbers on.  Invalid quoting is a FormatError naming
    the line.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[list[str]] = []
    lines: list[int] = []
    start = 1
    try:
        for row in reader:
            rows.append(row)
            lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise FormatError(f"{where}, line {start}: not valid CSV ({exc})") from None
    return rows, lines


def _csv_rows(text: str, where: str) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, data rows and the 1-based line each row starts on, with every row checked.

    Blank lines are skipped.  A data row with more or fewer fields than the
    header is a FormatError naming its line and both counts.
    """
    records, record_lines = _csv_records(text, where)
    keep = [k for k, r in enumerate(records) if r]
    if not keep:
        raise EmptyTableError(f"{where} is empty")
    header = records[keep[0]]
    rows = [records[k] for k in keep[1:]]
    lines = [record_lines[k] for k in keep[1:]]
    n = len(header)
    bad = [k for k, r in enumerate(rows) if len(r) != n]
    if bad:
        k = bad[0]
        more = f"; {len(bad) - 1} more line(s) too, e.g. {[lines[j] for j in bad[1:6]]}" if len(bad) > 1 else ""
        raise FormatError(
            f"{where}, line {lines[k]}: {len(rows[k])} fields, but the header (line {record_lines[keep[0]]}) "
            f"has {n}{more}. "
            "Every row needs one field per column (quote cells that hold commas)"
        )
    return header, rows, lines


def _check_header(header: Sequence[str], where: str) -> None:
    seen: set[str] = set()
    for h in header:
        if h in seen:
            raise FormatError(f"{where}: column {h!r} appears twice in the header")
        seen.add(h)


def _read_parquet_folder(
    path: str, item_col: str | None, worker_col: str, label_col: str
) -> tuple[Any, tuple[str, str, str]]:
    """The three columns of a folder of Parquet files, once every file is known to
    give them one type (Arrow would otherwise cast the later files to the first
    file's types: the integer 1 in one file and the string "1" in another would merge)."""
    dataset, cols, _ = _parquet_folder_schema(path, item_col, worker_col, label_col)
    return dataset.to_table(columns=list(cols)), cols


#: Parquet file names a folder is read from (any case)
PARQUET_SUFFIXES = (".parquet", ".pq")
_N_SHOWN = 5


def _parquet_folder_files(path: str) -> tuple[list[str], list[str]]:
    """The Parquet files of a folder, in its subfolders too (hive partitions), and the
    other files, both sorted as Arrow lists a folder.

    A Parquet file is one named ``*.parquet`` or ``*.pq`` (any case); other files (a
    README, Spark's ``.crc`` files) are not read.  Names starting with ``.`` or ``_``
    (``_SUCCESS``, ``_temporary/``), files or folders, are skipped, as Arrow skips them.
    """
    files: list[str] = []
    others: list[str] = []
    for root, dirs, names in os.walk(path):
        dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
        for name in names:
            if not name.startswith((".", "_")):
                (files if name.lower().endswith(PARQUET_SUFFIXES) else others).append(os.path.join(root, name))
    return sorted(files), sorted(os.path.relpath(f, path) for f in others)


def _parquet_folder_schema(
    path: str, item_col: str | None, worker_col: str, label_col: str
) -> tuple[Any, tuple[str, str, str], bool]:
    """The dataset of a Parquet folder, its three column names, and whether every file
    holds all three; a ``FormatError`` when the files give a column two type families."""
    import pyarrow.dataset as pads
    import pyarrow.parquet as pq

    files, others = _parquet_folder_files(path)
    if not files:
        seen = f" (other files: {others[:_N_SHOWN]})" if others else ""
        raise EmptyTableError(f"the folder {path!r} holds no Parquet files (.parquet or .pq){seen}")
    dataset = pads.dataset(files, format="parquet", partitioning="hive", partition_base_dir=path)
    cols = _resolve_columns(dataset.schema.names, item_col, worker_col, label_col)
    first: dict[str, tuple[Any, str]] = {}
    complete = True
    for f in dataset.files:
        schema = pq.read_schema(f)
        for c in cols:
            i = schema.get_field_index(c)
            if i < 0:
                complete = False
                continue  # a partition column (or a file without it: Arrow fills nulls)
            t = schema.field(i).type
            if c not in first:
                first[c] = (t, f)
            elif _type_family(first[c][0]) != _type_family(t):
                raise FormatError(
                    f"the Parquet files of {path!r} do not share one schema: column {c!r} is "
                    f"{first[c][0]} in {first[c][1]!r} but {t} in {f!r}"
                )
    return dataset, cols, complete


#: rows per record batch of a streamed Parquet read
PARQUET_BATCH_ROWS = 1 << 18


def parquet_batches(
    path: str | os.PathLike, *, item_col: str | None, worker_col: str, label_col: str, strip: bool,
    batch_rows: int | None = None,
) -> tuple[int, tuple[str, str, str], Iterator[list[Any]]] | None:
    """The rows of a Parquet file or folder as ``(n_rows, columns, batches)``: an iterator
    over ``[item, worker, label]`` Arrow arrays of at most ``batch_rows`` rows each
    (default :data:`PARQUET_BATCH_ROWS`), in
    file (and, in a folder, file-list) order, stripped as
    :func:`read_parquet_columns` strips them and typed as it types them.

    The streamed half of :meth:`AnnotationTable.read_parquet
    <crowdagg.table.AnnotationTable.read_parquet>`: the batches are decoded one ahead
    of the consumer, in a background thread (:func:`crowdagg._prefetch.read_ahead`), so
    at most three are in memory at a time.
    None for a folder whose files lack a column (hive partitions: the whole read fills
    them in).  Path, schema and read errors are those of :func:`read_parquet_columns`.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = _check_file(path, "Parquet file", folder_ok=True)
    _check_strip(strip)
    batch_rows = batch_rows or PARQUET_BATCH_ROWS
    is_file = os.path.isfile(path)
    what = "a Parquet file" if is_file else "a folder of Parquet files with one schema"
    try:
        if is_file:
            files = [path]
            cols = _resolve_columns(pq.read_schema(path).names, item_col, worker_col, label_col)
            types = None
        else:
            dataset, cols, complete = _parquet_folder_schema(path, item_col, worker_col, label_col)
            if not complete:
                return None
            files = list(dataset.files)
            types = [dataset.schema.field(c).type for c in cols]
        n_rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    except PermissionError as exc:
        raise FileAccessError(f"cannot read {path!r}: {exc.strerror or exc}") from None
    except (pa.ArrowException, OSError) as exc:
        raise FormatError(f"cannot read {path!r} as {what}: {_first_line(exc)}") from None

    def batches() -> Iterator[list[Any]]:
        try:
            for f in files:
                for batch in pq.ParquetFile(f).iter_batches(batch_size=batch_rows, columns=list(cols)):
                    arrays = [batch.column(c) for c in cols]
                    if types is not None:  # as the folder's whole read: the dataset schema's types
                        arrays = [a if a.type == t else a.cast(t) for a, t in zip(arrays, types)]
                    arrays = [_binary_as_text(a, c, path) for a, c in zip(arrays, cols)]
                    if strip:
                        arrays = [_strip_cells(a, empty_is_null=False) for a in arrays]
                    yield arrays
        except PermissionError as exc:
            raise FileAccessError(f"cannot read {path!r}: {exc.strerror or exc}") from None
        except (pa.ArrowException, OSError) as exc:
            raise FormatError(f"cannot read {path!r} as {what}: {_first_line(exc)}") from None

    from ._prefetch import read_ahead

    # Arrow decodes the next batch in a thread while the caller codes this one (both
    # release the GIL): about a third off the read's wall time on two cores
    return n_rows, cols, read_ahead(batches())


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
    """Refuse a ``strip=`` that is not a bool (:class:`~crowdagg.errors.ParameterError`, an InputError)."""
    if not isinstance(strip, (bool, np.bool_)):
        raise ParameterError(f"strip must be True or False, got {strip!r}")


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
    try:  # (a NUL byte was refused by _check_no_nul before the header is read)
        text = line.decode("utf-8-sig" if line_no == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        raise _utf8_error(repr(path), line, exc.start, line_no) from None
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
                return _utf8_error(repr(path), line, exc.start, line_no)
    return EncodingError(f"{path!r} is not UTF-8 text (save it as UTF-8)")


def _binary_as_text(col: Any, name: Any, path: str) -> Any:
    """A binary Arrow column of a file (Parquet ``BYTE_ARRAY`` without the UTF-8
    annotation) as the strings its bytes spell, as text columns are read; other types
    are returned as they are.  Bytes that are not UTF-8 are an EncodingError naming
    the column and a value (ids and labels are text or numbers, never raw bytes:
    ``b'a'`` would otherwise reach the output)."""
    import pyarrow as pa

    t = col.type
    if pa.types.is_dictionary(t) and _is_binary(t.value_type):
        col = col.cast(t.value_type)
        t = col.type
    if not _is_binary(t):
        return col
    if pa.types.is_fixed_size_binary(t):
        col = col.cast(pa.binary())
        t = col.type
    target = pa.large_string() if pa.types.is_large_binary(t) or pa.types.is_binary_view(t) else pa.string()
    try:
        return col.cast(target)
    except pa.ArrowInvalid:
        chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
        bad = next((v for ch in chunks for v in ch.to_pylist() if v is not None and not _is_utf8(v)), b"")
        raise EncodingError(
            f"column {name!r} of {path!r} holds bytes that are not UTF-8 text (e.g. {bad[:40]!r}); "
            "ids and labels are read as text: write them as UTF-8 strings"
        ) from None


def _is_binary(t: Any) -> bool:
    import pyarrow as pa

    return (pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t)
            or pa.types.is_fixed_size_binary(t))


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


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


# --------------------------------------------------------------------------- text labels
def parse_labels(
    values: Sequence[Any] | np.ndarray, null: np.ndarray | None = None, *, strip: bool = False,
    by_value: bool = False,
) -> pd.Series:
    """Label strings as values, losing nothing: nullable ``Int64``, ``Float64`` or strings.

    The one label rule of the text readers (:func:`crowdagg.factorize._label_values`).
    ``by_value=False`` (``read_csv``, ``read_mturk``): numbers read back exactly as
    written, so ``"00"`` and ``"0"`` stay two string labels; ``by_value=True`` (the
    dataset loaders, ``docs/datasets.md``): numbers are compared by value (``00``
    and ``-0`` are 0, ``1.0`` is 1).  Anything that is not a number keeps every
    label a string.

    Parameters
    ----------
    values : sequence of str
        One label per row.
    null : numpy.ndarray of bool, optional
        Rows without a label (default: the empty strings, after ``strip``).
    strip : bool
        Strip surrounding whitespace from every label first.
    by_value : bool
        Compare numbers by value (see above).

    Returns
    -------
    pandas.Series
        ``Int64`` or ``Float64`` (``<NA>`` for null rows; never NaN), or object
        (``None`` for null rows).
    """
    raw = np.asarray(values, dtype=object)
    if strip and raw.size:
        raw = pd.Series(raw, dtype=object).str.strip().to_numpy(dtype=object)
    if null is None:
        null = pd.isna(raw) | (raw == "") if raw.size else np.zeros(0, dtype=bool)
    null = np.asarray(null, dtype=bool)
    present = raw[~null]
    if present.size:
        uniques = pd.unique(present)
        found = _label_values(uniques, by_value=by_value)
        if found is not None:
            conv, dtype = found
            mapped = pd.Series(present, dtype=object).map(dict(zip(uniques, conv))).to_numpy(dtype=dtype)
            data = np.zeros(raw.shape[0], dtype=dtype)
            data[~null] = mapped
            cls = pd.arrays.IntegerArray if dtype is np.int64 else pd.arrays.FloatingArray
            return pd.Series(cls(data, null.copy()))
    out = raw.copy()
    out[null] = None
    return pd.Series(out, dtype=object)
