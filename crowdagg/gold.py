"""Gold answers: every accepted form parsed once, and the gold file reader of the CLI.

:func:`gold_series` turns a Series, a mapping or a DataFrame (pandas or polars)
with item and label columns into a Series of labels by item id;
:func:`gold_by_item` drops null labels and repeats and refuses an item given two
labels; :func:`gold_label_codes` encodes gold labels in a table's label set.
:meth:`AnnotationTable.encode_gold <crowdagg.table.AnnotationTable.encode_gold>`,
:mod:`crowdagg.quality` and the distributed EM read gold through them.
:func:`read_gold` reads a gold CSV or Parquet file (``--gold``).

Imports :mod:`crowdagg.factorize` and :mod:`crowdagg.ingest`, never :mod:`crowdagg.table`.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .errors import EncodingError, GoldError, InputFileNotFoundError, NotAFileError, UnknownLabelError
from .factorize import _N_EXAMPLES, _as_index, _coerce_like, _holds_strings, _plain
from .ingest import _ITEM_DEFAULTS, _binary_as_text, _check_strip, _first_line, _strip_cells

__all__ = ["gold_series", "gold_by_item", "gold_label_codes", "read_gold"]


def gold_series(gold: Any) -> pd.Series:
    """Gold answers as a Series (index: item id, values: label), from any accepted form.

    ``gold`` is a Series, a mapping, or a pandas or polars DataFrame with an item
    column (``item`` or ``task``) and a label column (``label``, ``gold``,
    ``true_label`` or ``truth``); :class:`~crowdagg.errors.GoldError` otherwise.
    """
    if isinstance(gold, pd.Series):
        return gold
    if isinstance(gold, Mapping):
        return pd.Series(list(gold.values()), index=list(gold.keys()), dtype=object)
    if isinstance(gold, pd.DataFrame) or type(gold).__module__.startswith("polars"):
        df = gold if isinstance(gold, pd.DataFrame) else gold.to_pandas()
        item = next((c for c in _ITEM_DEFAULTS if c in df.columns), None)
        label = next((c for c in ("label", "gold", "true_label", "truth") if c in df.columns), None)
        if item is None or label is None:
            raise GoldError(
                f"gold DataFrame needs an item ('item' or 'task') and a 'label' column; has {list(df.columns)}"
            )
        return pd.Series(df[label].to_numpy(), index=df[item].to_numpy())
    raise GoldError(f"gold must be a Series, mapping or DataFrame, got {type(gold).__name__}")


def gold_by_item(gold: Any, items: pd.Index | None = None) -> tuple[pd.Index, np.ndarray]:
    """``(item ids, labels)`` of the gold answers with a label, one per item.

    Null labels are dropped, an item given the same label twice counts once, an
    item given two different labels is a :class:`~crowdagg.errors.GoldError`.
    With ``items`` (a codebook), ids are converted to strings when the codebook
    holds strings and the gold's ids do not.
    """
    series = gold_series(gold)
    series = series[series.notna().to_numpy()]
    idx = pd.Index(series.index)
    if items is not None:
        idx = _coerce_like(idx, items)
    values = series.to_numpy()
    if idx.has_duplicates:
        df = pd.DataFrame({"item": idx, "label": values})
        conflicts = df.drop_duplicates().groupby("item").size()
        conflicts = conflicts[conflicts > 1]
        if len(conflicts):
            raise GoldError(
                f"gold gives different labels to {len(conflicts)} item(s): "
                f"{_plain(conflicts.index[:_N_EXAMPLES])}"
            )
        keep = ~idx.duplicated()
        idx, values = idx[keep], values[keep]
    return idx, values


def gold_label_codes(table: Any, values: Any) -> np.ndarray:
    """Codes of gold labels in ``table``'s label set; a GoldError names those outside it."""
    try:
        return table.encode_labels(values, what="gold label")
    except UnknownLabelError as exc:
        raise GoldError(str(exc)) from None


# --------------------------------------------------------------------------- files
def read_gold(path: str, labels=None, *, items=None, strip: bool = True, delimiter: str = ","):
    """Gold answers (Series: label by item id) from a CSV or Parquet file.

    The file has an item column (``item`` or ``task``) and a ``label`` column,
    and follows the rules of the annotation readers: UTF-8 text (a byte-order
    mark is skipped), every row with as many fields as the header, whitespace
    around ids and labels stripped unless ``strip=False``.

    CSV cells are text, matched to the annotations' typed values by their text
    form: the way ``str`` (and the output CSV) writes the value.  A gold label
    ``1`` is the integer label ``1``; given ``items``, a gold item id ``7`` is
    the integer item ``7``, ``2.5`` the float item ``2.5``, ``True`` the bool
    item ``True``, ``2020-01-01`` (as the output CSV writes it) or
    ``2020-01-01 00:00:00`` (as ``str`` does) the datetime item of that day.  Text
    that is not exactly how a value of the items' type is
    written (``07``, ``+7``, ``7.0`` for integer ids; ``7`` for float ids; ``x``)
    is a :class:`~crowdagg.errors.GoldError` naming it, so distinct ids never
    merge.  String items (a CSV input) keep every id as written; without
    ``items``, item ids stay strings.  Parquet gold keeps its own types.

    Parameters
    ----------
    path : str
        A ``.csv`` file, or a ``.parquet``/``.pq`` file.
    labels : pandas.Index, optional
        The annotation labels (CSV gold labels are converted to their type).
    items : pandas.Index, optional
        The annotation item ids (CSV gold item ids are converted to their type;
        see above).
    strip : bool, default True
        Strip surrounding whitespace from ids and labels (``False``: keep cells
        exactly as written).
    delimiter : str, default ","
        The field separator of a CSV file, as for
        :meth:`AnnotationTable.read_csv <crowdagg.table.AnnotationTable.read_csv>`
        (the command line passes a tab for a ``.tsv`` name).

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
        A CSV file that is not UTF-8 text, or Parquet binary ids or labels that
        are not UTF-8 (binary columns are read as the text they spell).
    GoldError
        An unreadable file, ragged rows, missing columns, rows without an item
        id or without a label, CSV item ids not written as ``items``' type.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputFileNotFoundError(f"no such gold file: {path!r}")
    if not os.path.isfile(path):
        raise NotAFileError(f"gold file {path!r} is a folder, not a file")
    _check_strip(strip)
    is_parquet = path.lower().endswith((".parquet", ".pq"))
    tbl = _read_gold_parquet(path) if is_parquet else _read_gold_csv(path, delimiter)
    item = next((c for c in _ITEM_DEFAULTS if c in tbl.column_names), None)
    if item is None or "label" not in tbl.column_names:
        raise GoldError(f"gold file {path!r} needs columns item (or task) and label; has {tbl.column_names}")
    cols = [_binary_as_text(tbl.column(c), c, path) for c in (item, "label")]  # Parquet bytes: text
    if strip:
        cols = [_strip_cells(c, empty_is_null=False) for c in cols]
    ids, values = (pd.Series(c.to_pandas().to_numpy(dtype=object), dtype=object) for c in cols)
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
    index = pd.Index(ids.to_numpy(), dtype=object)
    if not is_parquet and items is not None:
        index = _ids_as(index, pd.Index(items), path)
    return pd.Series(values.to_numpy(dtype=object), index=index)


def _ids_as(ids: pd.Index, items: pd.Index, path: str) -> pd.Index:
    """CSV gold id text as the values of ``items``' type that ``str`` writes so
    (see :func:`read_gold`); a GoldError names the ids no such value writes."""
    if _holds_strings(items) or not len(ids):
        return ids
    kind = items.dtype.kind
    written_as_str = True  # a parsed value must be written back as the same text
    if kind in "iuf":
        parse = items.dtype.type
    elif kind == "b":
        parse = {"True": True, "False": False}.__getitem__
    else:  # Python objects (ints beyond 64 bits, decimals), dates, ...: the items' own text,
        # as str writes each and as the output CSV writes the column (dates: "2020-01-01")
        by_text: dict[str, Any] = {}
        for v, shown in zip(items, items.astype(str)):
            by_text.setdefault(str(v), v)
            by_text.setdefault(shown, v)
        parse = by_text.__getitem__
        written_as_str = False  # the keys are the accepted texts
    out = np.empty(len(ids), dtype=object)
    bad = []
    for k, text in enumerate(ids):
        try:
            v = parse(text)
        except (KeyError, ValueError, OverflowError, TypeError):
            v = None
        if v is None or (written_as_str and str(v) != text):
            bad.append(text)
        out[k] = v.item() if isinstance(v, np.generic) else v
    if bad:
        example = ", ".join(str(v) for v in _plain(items[:3]))
        raise GoldError(
            f"gold file {path!r} names {len(bad)} item id(s) that are not written as the table's "
            f"{items.dtype} item ids: {bad[:_N_EXAMPLES]} (ids are matched as written, e.g. {example})"
        )
    return _as_index(out.tolist())


def _read_gold_csv(path: str, delimiter: str):
    """Every column of a gold CSV as strings (empty cells null), with the readers' rules."""
    import pyarrow as pa
    import pyarrow.csv as pacsv


    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            text = fh.read()  # the whole file: pyarrow would name only the first bad column
    except UnicodeDecodeError as exc:
        raise EncodingError(f"cannot read gold file {path!r}: it is not UTF-8 text "
                            f"(byte {exc.start}: {exc.reason})") from None
    nul = text.find("\x00")
    if nul >= 0:
        raise GoldError(f"gold file {path!r} is a binary file, not UTF-8 text "
                        f"(a NUL byte on line {text.count(chr(10), 0, nul) + 1})")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        try:
            header = next(csv.reader(fh, delimiter=delimiter), [])
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
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
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

    try:
        tbl = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise GoldError(f"cannot read gold file {path!r} as Parquet: {_first_line(exc)}") from None
    if tbl.num_rows == 0:
        raise GoldError(f"gold file {path!r} is empty")
    return tbl
