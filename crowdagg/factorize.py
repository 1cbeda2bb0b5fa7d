"""Factorisation: turning id and label columns into integer codes and codebooks.

The bottom layer of ingest (no import from :mod:`crowdagg.table` or
:mod:`crowdagg.ingest`): one kind of value per object column, exact integer and
float handling, the Arrow string hash path (:mod:`crowdagg.kernels.strings`), the
text-label rule of the file readers (:func:`_label_values`) and codebook lookups
(:func:`_lookup`, :func:`_coerce_like`) shared by the table, gold and the
distributed table.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd

from .errors import EncodingError, InputError, MixedIdTypeError, UnhashableIdError
from .kernels.csr import factorize_dense_int

_N_EXAMPLES = 5
_MAX_INT32 = np.iinfo(np.int32).max


def _index_dtype(n: int) -> type:
    """int32 while every code fits, int64 beyond."""
    return np.int32 if n < _MAX_INT32 else np.int64


def _first_rows(mask: np.ndarray, k: int = _N_EXAMPLES) -> list[int]:
    return np.flatnonzero(mask)[:k].tolist()


def _plain(values: Any) -> Any:
    """Ids or labels as error messages show them: plain Python values (``True``, ``'a'``,
    ``3``, never ``np.True_``), a list for a sequence, a tuple for a tuple."""
    if isinstance(values, tuple):
        return tuple(_plain(v) for v in values)
    if isinstance(values, (list, pd.Index, pd.Series, np.ndarray)):
        return [_plain(v) for v in values]
    return values.item() if isinstance(values, np.generic) else values


# --------------------------------------------------------------------------- factorize
# Kinds of value an object column may hold (pandas.api.types.infer_dtype names, nulls
# skipped): one kind per column.  "mixed-integer-float" (Python ints and floats) is
# one kind, numbers, compared by value; "mixed-integer" (ints with bools or strings)
# and "mixed" are refused before pd.factorize can merge True with 1.
_ONE_KIND = frozenset({
    "string", "boolean", "integer", "floating", "mixed-integer-float", "decimal", "bytes",
    "datetime", "datetime64", "date", "time", "timedelta", "timedelta64", "period",
    "interval", "complex", "empty",
})
_NON_SCALAR = (tuple, list, dict, set, frozenset, np.ndarray, pd.Series, pd.Index)


def _value_kind(v: Any) -> str:
    """The kind of one value: ``bool``, ``number`` (ints and floats), ``str``, or its type's name."""
    if isinstance(v, (bool, np.bool_)):
        return "bool"
    if isinstance(v, (int, float, np.integer, np.floating)):
        return "number"
    if isinstance(v, str):
        return "str"
    return type(v).__name__


def _check_one_kind(values: Any, column: str | None, what: str) -> str:
    """The ``infer_dtype`` kind of an object column; raise if it mixes kinds.

    One C pass over the objects; the per-value inspection only runs on the error path.
    Values that are not scalars (tuples, lists, ...) raise :class:`UnhashableIdError`,
    bools mixed with numbers or strings with anything else :class:`MixedIdTypeError`.
    """
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind in _ONE_KIND:
        return kind
    where = f"column {column!r}" if column is not None else "labels="
    fix = f"df[{column!r}].astype(str)" if column is not None else "labels=[str(v) for v in labels]"
    arr = np.asarray(values, dtype=object)
    kinds = np.array([_value_kind(v) for v in arr], dtype=object)
    nonscalar = np.array([isinstance(v, _NON_SCALAR) for v in arr], dtype=bool)
    if nonscalar.any():
        names = sorted({type(v).__name__ for v in arr[nonscalar]})
        raise UnhashableIdError(
            f"{where} holds {'/'.join(names)} values (first positions: {_first_rows(nonscalar)}); "
            f"each {what} must be one scalar value (a string, a number, a bool), not a container: "
            f"join the parts into one string first, e.g. {fix}"
        )
    null = np.asarray(pd.isna(arr), dtype=bool)
    present = kinds[~null]
    first = present[0]
    other = (kinds != first) & ~null
    names = sorted(set(present.tolist()))
    raise MixedIdTypeError(
        f"{where} mixes {what} kinds {names}: {int(other.sum())} value(s) of a kind other "
        f"than {first!r} (first positions: {_first_rows(other)}). Ids and labels are of one kind "
        f"(bools are not numbers, numbers are not strings); convert them to one type, e.g. {fix}"
    )


def _typed_uniques(uniques: Any, kind: str | None) -> pd.Index:
    """The uniques of ``pd.factorize`` as an Index of a plain dtype where one holds them exactly.

    Nullable (masked) arrays give their numpy dtype (no NA is left among uniques).  An
    object column of one kind gives int64 (uint64 beyond int64; object beyond both),
    float64, or bool; ints and floats together give float64 only if every int is
    exactly a float, else they stay objects.
    """
    masked = uniques.array if isinstance(uniques, (pd.Index, pd.Series)) else uniques
    if isinstance(masked, (pd.arrays.IntegerArray, pd.arrays.FloatingArray, pd.arrays.BooleanArray)):
        return pd.Index(masked.to_numpy(dtype=masked.dtype.numpy_dtype))
    if kind is None or not len(uniques):
        return pd.Index(uniques)
    arr = np.asarray(uniques, dtype=object)
    if kind == "integer":
        for dt in (np.int64, np.uint64):
            try:
                return pd.Index(np.array(arr, dtype=dt))
            except OverflowError:
                pass
        return pd.Index(arr, dtype=object)
    if kind == "floating":
        return pd.Index(arr.astype(np.float64))
    if kind == "mixed-integer-float":
        if all(isinstance(v, (float, np.floating)) or float(v) == v for v in arr):
            floats = arr.astype(np.float64)
            if len(np.unique(floats)) == len(floats):
                return pd.Index(floats)
        return pd.Index(arr, dtype=object)
    if kind == "boolean":
        return pd.Index(arr.astype(bool))
    return pd.Index(arr)


def _factorize(values: Any, column: str, what: str) -> tuple[np.ndarray, pd.Index]:
    """Codes (int32 or int64, -1 for null) in order of first appearance, and the uniques."""
    import pyarrow as pa

    strings = _arrow_strings(values)
    if strings is not None:
        found = _factorize_strings(strings)
        if found is not None:
            codes, uniques = found
            if isinstance(values, pd.Series):  # the uniques keep the column's own dtype
                return codes, pd.Index(uniques, dtype=values.dtype)
            return codes, pd.Index(uniques.to_pandas())
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.ArrowDtype):
        values = pa.chunked_array(pa.array(values.array))  # Arrow-backed, not strings
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return _factorize_arrow(values, column, what)
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(values.cat.categories.dtype)
    dense = _factorize_small_int_range(values)
    if dense is not None:
        return dense
    is_object = pd.api.types.is_object_dtype(getattr(values, "dtype", None))
    kind = _check_one_kind(values, column, what) if is_object else None
    try:
        codes, uniques = pd.factorize(values, sort=False, use_na_sentinel=True)
    except TypeError as exc:
        raise UnhashableIdError(
            f"column {column!r} holds unhashable {what} values ({exc}); ids and labels "
            "must be scalars such as strings or integers"
        ) from None
    try:
        return np.asarray(codes, dtype=np.int64), _typed_uniques(uniques, kind)
    except UnicodeEncodeError:  # pandas' Arrow-backed str index refuses lone surrogates
        bad = next((v for v in uniques if isinstance(v, str) and not _encodable(v)), None)
        raise EncodingError(
            f"the {what} {bad!r} in column {column!r} is not valid Unicode text (a lone surrogate, as left "
            "by decoding bytes with errors='surrogateescape'); decode the ids and labels properly"
        ) from None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _arrow_strings(values: Any) -> Any:
    """``values`` as an Arrow string or large_string array (chunked or not) when they
    are Arrow-backed strings (pandas ``str`` / ``string[pyarrow]`` / ``ArrowDtype``
    columns, pyarrow arrays), else None.  No copy, except string_view (cast)."""
    import pyarrow as pa

    if isinstance(values, pd.Series):
        dtype = values.dtype
        arrow_backed = (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow") or (
            isinstance(dtype, pd.ArrowDtype))
        if not arrow_backed:
            return None
        values = pa.array(values.array)
    if not isinstance(values, (pa.Array, pa.ChunkedArray)):
        return None
    t = values.type
    if not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)):
        return None
    if pa.types.is_string_view(t):
        values = values.cast(pa.large_string())
    return values


def _string_buffers(arr: Any) -> tuple[np.ndarray, np.ndarray]:
    """The offsets (``len + 1``, shifted to the array's offset) and data of a string array."""
    import pyarrow as pa

    _, off_buf, data_buf = arr.buffers()
    if off_buf is None:  # an empty array may come without buffers
        return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    off_type = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(off_buf, dtype=off_type)[arr.offset: arr.offset + len(arr) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return offsets, data


def _factorize_strings(values: Any) -> tuple[np.ndarray, Any] | None:
    """Codes (int32, -1 for null, first-appearance order) and the uniques (an Arrow
    array) of an Arrow string array, chunked or not, through the hash kernels of
    :mod:`crowdagg.kernels.strings`; None when two distinct strings collide on
    their 64-bit hash (the caller then uses Arrow's exact hash table).

    Chunks are combined first (a copy, but one parallel launch per kernel instead of
    one per chunk: cheaper for the 8 chunks of a Parquet read); the uniques are
    gathered once and every row is checked against its unique.
    """
    import pyarrow as pa

    from .kernels.strings import factorize_hashes, hash_rows, rows_match

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    n = len(values)
    if n >= _MAX_INT32:
        return None
    offsets, data = _string_buffers(values)
    hashes = np.empty(n, dtype=np.uint64)
    with np.errstate(over="ignore"):  # hashing wraps around 2**64 (only seen as Python)
        hash_rows(offsets, data, hashes)
    if values.null_count:  # code the non-null rows, then put back the nulls
        keep = np.flatnonzero(values.is_valid().to_numpy(zero_copy_only=False))
        kept_codes = np.empty(keep.size, dtype=np.int32)
        first = keep[factorize_hashes(hashes[keep], kept_codes)]
        codes = np.full(n, -1, dtype=np.int32)
        codes[keep] = kept_codes
    else:
        codes = np.empty(n, dtype=np.int32)
        first = factorize_hashes(hashes, codes)
    uniques = values.take(pa.array(first, type=pa.int64()))
    if not rows_match(offsets, data, codes, *_string_buffers(uniques)):
        return None
    return codes, uniques


def _factorize_small_int_range(values: Any) -> tuple[np.ndarray, pd.Index] | None:
    """Fast path for integer ids spanning a range not much larger than the data."""
    dtype = getattr(values, "dtype", None)
    if not (isinstance(dtype, np.dtype) and dtype.kind in "iu") or len(values) == 0:
        return None
    arr = orig = np.asarray(values)
    vmin, vmax = int(arr.min()), int(arr.max())
    if arr.dtype.kind == "u":
        if vmax > np.iinfo(np.int64).max:
            return None
        arr = arr.astype(np.int64)
    span = vmax - vmin + 1
    if span > 4 * len(arr) + 1024:
        return None
    codes = np.empty(len(arr), dtype=_index_dtype(min(len(arr), span)))
    if len(arr) < _NUMPY_ROWS:
        first = _first_appearance_codes(arr, codes)
    else:
        first = factorize_dense_int(arr, vmin, span, codes)
    return codes, pd.Index(orig[first])


#: below this many values the small-range factorisation runs in NumPy (the same codes as
#: the kernel): a first fit on a small batch does not wait for the kernel's compilation
_NUMPY_ROWS = 1 << 15


def _first_appearance_codes(arr: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Codes in order of first appearance into ``codes``, as :func:`factorize_dense_int`
    gives them; returns the row of each code's first appearance."""
    _, first, inverse = np.unique(arr, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    codes[:] = rank[inverse.reshape(-1)]
    return first[order]


def _factorize_arrow(values: Any, column: str, what: str) -> tuple[np.ndarray, pd.Index]:
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if pa.types.is_nested(values.type):
        raise UnhashableIdError(
            f"column {column!r} holds nested values of type {values.type}; ids and labels "
            "must be scalars such as strings or integers"
        )
    if pa.types.is_string_view(values.type):
        values = values.cast(pa.large_string())
    if pa.types.is_null(values.type):  # all null: Arrow's dictionary would hold the null
        return np.full(len(values), -1, dtype=np.int64), pd.Index([], dtype=object)
    enc = pc.dictionary_encode(values)
    codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    codes, dictionary = _float_codes_as_pandas(codes, enc.dictionary)
    return codes, pd.Index(dictionary.to_pandas())


def _float_codes_as_pandas(codes: np.ndarray, dictionary: Any) -> tuple[np.ndarray, Any]:
    """Arrow dictionary codes of a floating column (``-1``: null) and their dictionary, coded
    as ``pd.factorize`` codes floats: NaN is null (a missing value) and ``-0.0`` is
    ``0.0`` (numbers compare by value); Arrow's dictionary keeps both as values.

    Works on the dictionary (the distinct values) and one gather of the codes, never
    on a copy of the column.  Other types are returned as they are; ``float16``
    becomes ``float32`` (exact; pandas has no ``float16`` index).
    """
    import pyarrow as pa

    t = dictionary.type
    if not pa.types.is_floating(t):
        return codes, dictionary
    if pa.types.is_float16(t):
        dictionary = dictionary.cast(pa.float32())
    values = np.asarray(dictionary.to_numpy(zero_copy_only=False))
    remap, uniques = pd.factorize(values + values.dtype.type(0.0))  # -0.0 + 0.0 is 0.0; NaN codes -1
    if len(uniques) == len(values) and not np.any(np.signbit(values) & (values == 0)):
        return codes, dictionary
    remap = np.append(remap.astype(codes.dtype, copy=False), codes.dtype.type(-1))  # [-1]: a null row
    return remap[codes], pa.array(uniques, type=dictionary.type)


def _shrink(codes: np.ndarray, uniques: pd.Index) -> tuple[np.ndarray, pd.Index]:
    """int32 codes while the codebook fits (halves the build's transient memory)."""
    if len(uniques) < _MAX_INT32 and codes.dtype != np.int32:
        codes = codes.astype(np.int32)
    return codes, uniques


def _integral_float_to_int(uniques: pd.Index) -> pd.Index:
    """Float labels that are all whole numbers int64 holds become int64 (nullable ints
    read as floats); others (1e20, 0.5, inf) stay floats, so distinct values stay distinct."""
    if uniques.dtype.kind == "f" and len(uniques):
        vals = uniques.to_numpy()
        if (np.all(np.isfinite(vals)) and np.all(vals == np.round(vals))
                and vals.min() >= -(2.0**63) and vals.max() < 2.0**63):
            return pd.Index(vals.astype(np.int64))
    return uniques


# --------------------------------------------------------------------------- text labels
_INT_PATTERN = r"^-?(?:0|[1-9][0-9]*)$"
_NUM_PATTERN = r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$"
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _label_values(uniques: Sequence[Any], *, by_value: bool = False) -> tuple[list[Any], type] | None:
    """The values of distinct label strings, ``(values, np.int64 or np.float64)``, or None
    when every label stays a string (also when one of ``uniques`` is not a string).

    ``by_value=False`` (``read_csv``, ``read_mturk``): int64 when every one is a
    plainly written integer int64 holds (``-12``; not ``+12``, ``012``, ``-0``);
    else float64 when every one is a plain decimal number, finite, no two give one
    float and no whole number exceeds 2**53.  ``by_value=True`` (the dataset
    loaders): any decimal number (``+1``, ``00``, ``.5``), compared by value: int64
    when every one is a whole number int64 holds (``00`` and ``-0`` are 0, ``1.0``
    is 1), else float64 when every one is finite, whole numbers are exact (at most
    2**53) and no two different numbers become one float.  Distinct labels so
    never merge.
    """
    import pyarrow as pa

    if not isinstance(uniques, pa.Array) and not all(isinstance(u, str) for u in uniques):
        return None
    if by_value:
        return _number_values(uniques)
    return _exact_values(uniques)


def _exact_values(uniques: Sequence[str]) -> tuple[Any, type] | None:
    """The exact rule of :func:`_label_values`, vectorised with Arrow over the distinct labels."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(uniques, type=pa.large_string()) if not isinstance(uniques, pa.Array) else uniques
    is_int = pc.match_substring_regex(arr, _INT_PATTERN)
    if pc.all(is_int).as_py() and not pc.any(pc.equal(arr, "-0")).as_py():
        try:
            return pc.cast(arr, pa.int64()).to_numpy(zero_copy_only=False), np.int64
        except pa.ArrowInvalid:  # beyond int64: strings
            return None
    if not pc.all(pc.match_substring_regex(arr, _NUM_PATTERN)).as_py():
        return None
    try:
        vals = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        return None
    if not np.all(np.isfinite(vals)) or len(np.unique(vals)) != len(vals):
        return None
    whole = is_int.to_numpy(zero_copy_only=False)
    if whole.any():  # a whole number float64 cannot hold exactly (beyond 2**53) keeps them strings
        lengths = pc.utf8_length(arr).to_numpy(zero_copy_only=False)
        near = whole & (np.abs(vals) >= 2.0**53)
        if (lengths[whole] > 20).any() or any(abs(int(u)) > 2**53 for u in arr.filter(pa.array(near)).to_pylist()):
            return None
    return vals, np.float64


def _number_values(uniques: Sequence[str]) -> tuple[list[Any], type] | None:
    """The by-value rule of :func:`_label_values`."""
    nums = []
    for u in uniques:
        if len(u) > 400 or not _NUMBER.fullmatch(u):
            return None
        try:
            nums.append(Decimal(u))
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
            return None
    whole = [d == d.to_integral_value() for d in nums]
    if all(w and d.adjusted() < 19 and _INT64_MIN <= d <= _INT64_MAX for w, d in zip(whole, nums)):
        return [int(d) for d in nums], np.int64
    conv = [float(d) for d in nums]
    distinct_numbers = len({d.normalize() for d in nums})
    ok = all(np.isfinite(f) and (f != 0.0 or d == 0) and (not w or abs(d) <= 2**53)
             for f, d, w in zip(conv, nums, whole))
    return (conv, np.float64) if ok and len(set(conv)) == distinct_numbers else None


def _parse_label_strings(col: Any) -> Any:
    """A CSV label column (Arrow strings, nulls for empty cells) as values: see :func:`_label_values`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    found = _factorize_strings(col)
    if found is not None:
        codes, uniques = found
        codes = pa.array(codes, mask=codes < 0)
    else:
        enc = pc.dictionary_encode(col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col)
        codes, uniques = enc.indices, enc.dictionary
    conv = _label_values(uniques) if len(uniques) else None
    if conv is None:
        return col
    values, dtype = conv
    return pa.array(values, type=pa.int64() if dtype is np.int64 else pa.float64()).take(codes)


# --------------------------------------------------------------------------- codebooks
def _holds_strings(idx: pd.Index) -> bool:
    if idx.dtype == object:
        return len(idx) > 0 and isinstance(idx[0], str)
    return pd.api.types.is_string_dtype(idx.dtype)


def _coerce_like(idx: pd.Index, target: pd.Index) -> pd.Index:
    """Convert ``idx`` to strings when ``target`` holds strings and ``idx`` does not."""
    if len(idx) and _holds_strings(target) and not _holds_strings(idx):
        return pd.Index([str(v) for v in idx], dtype=object)
    return idx


def _as_index(values: Any) -> pd.Index:
    """``values`` as a flat Index (tuples stay tuples, not a MultiIndex level)."""
    if isinstance(values, (pd.Series, np.ndarray)) and getattr(values, "ndim", 1) == 1:
        return pd.Index(values)
    vals = list(values)
    if any(isinstance(v, tuple) for v in vals):
        arr = np.empty(len(vals), dtype=object)
        for i, v in enumerate(vals):
            arr[i] = v
        return pd.Index(arr, dtype=object)
    return pd.Index(vals)


def _index_kind(idx: pd.Index) -> str:
    """``bool``, ``number``, ``str``, ``empty``, or another kind (``mixed``, a type name)."""
    dt = idx.dtype
    if pd.api.types.is_object_dtype(dt):
        kind = pd.api.types.infer_dtype(idx, skipna=True)
        return {"boolean": "bool", "integer": "number", "floating": "number",
                "mixed-integer-float": "number", "string": "str"}.get(kind, kind)
    if pd.api.types.is_bool_dtype(dt):
        return "bool"
    if pd.api.types.is_numeric_dtype(dt):
        return "number"
    if pd.api.types.is_string_dtype(dt):
        return "str"
    return str(dt)


def _lookup(book: pd.Index, values: pd.Index) -> np.ndarray:
    """Positions of ``values`` in the codebook ``book`` (int64, -1 where absent).

    Numbers match numbers by value (``1`` finds ``1.0``), a string codebook finds
    other values by their ``str``, and bools never match numbers (pandas would
    find ``True`` at ``1``).
    """
    if isinstance(values, pd.MultiIndex):  # tuples: never in a codebook
        values = pd.Index(values.to_flat_index(), dtype=object)
    values = _coerce_like(values, book)
    try:
        codes = np.asarray(book.get_indexer(values), dtype=np.int64)
    except TypeError:  # unhashable values: none of them is in the book
        return np.full(len(values), -1, dtype=np.int64)
    kb = _index_kind(book)
    if kb in ("bool", "number") and len(values):
        other = "number" if kb == "bool" else "bool"
        kv = _index_kind(values)
        if kv == other:
            codes[:] = -1
        elif kv not in (kb, "empty"):
            codes[np.array([_value_kind(v) == other for v in values], dtype=bool)] = -1
    return codes


def _label_set(labels: Any) -> pd.Index:
    """``labels=`` as a codebook: a non-empty sequence of distinct, non-null values of one kind."""
    if isinstance(labels, (str, bytes)) or not hasattr(labels, "__iter__"):
        raise InputError(f"labels= must be a sequence of labels, got {type(labels).__name__} {labels!r}")
    vals = list(labels)
    if not vals:
        raise InputError("labels= is empty")
    arr = np.empty(len(vals), dtype=object)
    for i, v in enumerate(vals):  # element by element: tuples must not become rows
        arr[i] = v
    kind = _check_one_kind(arr, None, "label")
    null = np.asarray(pd.isna(arr), dtype=bool)
    if null.any():
        raise InputError(f"labels= holds null values (positions {_first_rows(null)}); a label set names labels")
    index = _typed_uniques(arr, kind)
    if index.has_duplicates:
        raise InputError(f"labels= repeats values: {_plain(index[index.duplicated()])}")
    return index


def label_codebook(uniques: pd.Index, labels: Any, label_col: str, categories: pd.Index | None = None,
                   rows: Any = None) -> tuple[pd.Index, np.ndarray]:
    """The label codebook of a column whose distinct non-null values are ``uniques``, and
    each unique's code: ``labels=`` (validated; values outside it raise
    :class:`~crowdagg.errors.UnknownLabelError`), else the categorical order, else sorted.
    ``rows(unknown)``: a note locating the unknown values (the local table's first rows).
    Shared by the local table and :class:`crowdagg.distributed.DaskAnnotationTable`."""
    from .errors import UnknownLabelError

    if labels is not None:
        label_index = _label_set(labels)
        mapping = _lookup(label_index, uniques)
        unknown = mapping < 0
        if unknown.any():
            kinds = {_index_kind(label_index), _index_kind(uniques)}
            note = "; bools never match numbers" if kinds == {"bool", "number"} else ""
            raise UnknownLabelError(
                f"column {label_col!r} has {int(unknown.sum())} value(s) outside labels="
                f"{_plain(label_index[:20])}: {_plain(uniques[unknown][:_N_EXAMPLES])}"
                f"{rows(unknown) if rows is not None else ''}{note}"
            )
        return label_index, mapping
    if categories is not None:
        return categories, categories.get_indexer(uniques)
    try:
        order = np.argsort(uniques.to_numpy(), kind="stable")
    except TypeError:
        types = sorted({type(u).__name__ for u in uniques})
        raise MixedIdTypeError(
            f"the labels of column {label_col!r} ({types}) cannot be sorted; give the "
            "label set, in order, with labels="
        ) from None
    mapping = np.empty(len(order), dtype=np.int64)
    mapping[order] = np.arange(len(order))
    return _integral_float_to_int(uniques[order]), mapping


# --------------------------------------------------------------------------- streamed codes
class StreamCodes:
    """Codes of one id column read batch by batch, in order of first appearance over
    all batches, with only the codebook kept between batches (strings: their bytes).

    The streamed counterpart of :func:`_factorize` for Arrow string and integer
    columns (:meth:`AnnotationTable.read_parquet <crowdagg.table.AnnotationTable.read_parquet>`):
    the same codes and uniques, without holding every row's string.  :meth:`add`
    returns False for what it does not code (a null, another type, a 64-bit hash
    collision between two strings); the caller then reads the column whole.
    """

    _START = 1 << 16

    def __init__(self) -> None:
        self.kind: str | None = None  # "string" or "int", fixed by the first batch
        self.arrow_type: Any = None
        self.n_uniq = 0
        self.n_bytes = 0
        self.table = np.full(self._START, -1, dtype=np.int32)
        self.keys: np.ndarray | None = None
        self.u_off = np.zeros(self._START // 2 + 1, dtype=np.int64)
        self.u_data = np.empty(1 << 20, dtype=np.uint8)

    def add(self, chunk: Any, codes: np.ndarray, start: int) -> bool:
        """Code the Arrow array ``chunk`` into ``codes[start:start + len(chunk)]``."""
        import pyarrow as pa

        if chunk.null_count:
            return False
        t = chunk.type
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            kind = "string"
        elif pa.types.is_integer(t) and not (pa.types.is_uint64(t)):
            kind = "int"
        else:
            return False
        if self.kind is None:
            self.kind, self.arrow_type = kind, t
            self.keys = np.empty(self._START // 2, dtype=np.uint64 if kind == "string" else np.int64)
        elif kind != self.kind:
            return False
        if len(chunk) == 0:
            return True
        return self._add_strings(chunk, codes, start) if kind == "string" else self._add_ints(chunk, codes, start)

    def _grow_keys(self, rehash: Any) -> None:
        cap = self.table.shape[0] * 2
        self.table = rehash(self.keys, self.n_uniq, cap)
        keys = np.empty(cap // 2, dtype=self.keys.dtype)
        keys[: self.n_uniq] = self.keys[: self.n_uniq]
        self.keys = keys
        if self.kind == "string":
            u_off = np.zeros(cap // 2 + 1, dtype=np.int64)
            u_off[: self.n_uniq + 1] = self.u_off[: self.n_uniq + 1]
            self.u_off = u_off

    def _add_strings(self, chunk: Any, codes: np.ndarray, start: int) -> bool:
        from .kernels.stream import BYTES_FULL, KEYS_FULL, code_strings_into, rehash_hashes
        from .kernels.strings import hash_rows, rows_match

        offsets, data = _string_buffers(chunk)
        hashes = np.empty(len(chunk), dtype=np.uint64)
        with np.errstate(over="ignore"):
            hash_rows(offsets, data, hashes)
        r = 0
        while True:
            r, self.n_uniq, self.n_bytes, status = code_strings_into(
                offsets, data, hashes, codes, start, self.table, self.keys, self.u_off, self.u_data,
                self.n_uniq, self.n_bytes, r)
            if status == KEYS_FULL:
                self._grow_keys(rehash_hashes)
            elif status == BYTES_FULL:
                need = self.n_bytes + int(offsets[-1] - offsets[0])
                u_data = np.empty(max(2 * self.u_data.shape[0], need), dtype=np.uint8)
                u_data[: self.n_bytes] = self.u_data[: self.n_bytes]
                self.u_data = u_data
            else:
                n = self.n_uniq
                return rows_match(offsets, data, codes[start: start + len(chunk)],
                                  self.u_off[: n + 1], self.u_data[: self.n_bytes])

    def _add_ints(self, chunk: Any, codes: np.ndarray, start: int) -> bool:
        from .kernels.stream import KEYS_FULL, code_ints_into, rehash_ints

        values = np.asarray(chunk.to_numpy(zero_copy_only=False), dtype=np.int64)
        r = 0
        while True:
            r, self.n_uniq, status = code_ints_into(values, codes, start, self.table, self.keys, self.n_uniq, r)
            if status != KEYS_FULL:
                return True
            self._grow_keys(rehash_ints)

    def uniques(self) -> pd.Index:
        """The codebook (code ``k`` is unique ``k``), typed as :func:`_factorize` types it."""
        import pyarrow as pa

        n = self.n_uniq
        if self.kind == "string":
            arr = pa.Array.from_buffers(pa.large_string(), n, [
                None, pa.py_buffer(self.u_off[: n + 1]), pa.py_buffer(self.u_data[: self.n_bytes])])
            if self.n_bytes < _MAX_INT32:
                arr = arr.cast(pa.string())
            return pd.Index(arr.to_pandas())
        values = self.keys[:n]
        if self.arrow_type is not None:
            values = values.astype(self.arrow_type.to_pandas_dtype())
        return pd.Index(values)


class StreamLabels:
    """Codes of a label column read batch by batch: Arrow's exact dictionary per batch,
    merged into a running Arrow array of uniques (labels are few).  Nulls code as -1."""

    def __init__(self) -> None:
        self.values: Any = None

    def add(self, chunk: Any, codes: np.ndarray, start: int) -> bool:
        import pyarrow as pa
        import pyarrow.compute as pc

        if pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary_decode()
        if pa.types.is_nested(chunk.type) or pa.types.is_null(chunk.type):
            return False
        enc = pc.dictionary_encode(chunk)
        idx = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
        idx, dictionary = _float_codes_as_pandas(idx, enc.dictionary)  # NaN: a null row, as in the whole read
        if self.values is None:
            self.values = dictionary
        elif dictionary.type != self.values.type:
            return False
        else:
            found = pc.index_in(dictionary, value_set=self.values)
            new = dictionary.filter(pc.is_null(found))
            if len(new):
                self.values = pa.concat_arrays([self.values, new])
        mapping = pc.index_in(dictionary, value_set=self.values).to_numpy(zero_copy_only=False)
        mapping = np.append(mapping.astype(np.int64), -1)  # index -1: a null row
        codes[start: start + len(chunk)] = mapping[idx]
        return True

    def uniques(self) -> pd.Index:
        if self.values is None:
            return pd.Index([], dtype=object)
        return pd.Index(self.values.to_pandas())
