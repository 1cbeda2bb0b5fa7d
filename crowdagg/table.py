"""The annotation table: the one in-memory form every crowdagg algorithm reads.

An :class:`AnnotationTable` holds a sparse set of annotations ``(item, worker,
label)`` as integer codes, together with codebooks mapping codes back to the
original ids.  Annotations are stored in CSR order by item (``item_ptr``) and a
permutation groups them by worker (``worker_index``/``worker_ptr``), so item-wise
E-steps and worker-wise M-steps both read contiguous slices without atomics.
"""

from __future__ import annotations

import csv
import os
import stat
import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from .errors import (
    DuplicateAnnotationError,
    EmptyTableError,
    EncodingError,
    FileAccessError,
    FormatError,
    GoldError,
    InputError,
    InputFileNotFoundError,
    MissingColumnError,
    MixedIdTypeError,
    NotAFileError,
    NullIdError,
    SimilarLabelsWarning,
    UnhashableIdError,
    UnknownLabelError,
    WeightsError,
)
from .kernels.csr import build_item_csr, counting_sort, factorize_dense_int, mark_duplicates

__all__ = ["AnnotationTable", "TableSummary", "as_table"]

Duplicates = Literal["error", "first", "last", "keep"]
_DUPLICATE_POLICIES = ("error", "first", "last", "keep")
_ITEM_DEFAULTS = ("item", "task")
_N_EXAMPLES = 5
_MAX_INT32 = np.iinfo(np.int32).max


def _index_dtype(n: int) -> type:
    """int32 while every code fits, int64 beyond."""
    return np.int32 if n < _MAX_INT32 else np.int64


def _first_rows(mask: np.ndarray, k: int = _N_EXAMPLES) -> list[int]:
    return np.flatnonzero(mask)[:k].tolist()


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
    return np.asarray(codes, dtype=np.int64), _typed_uniques(uniques, kind)


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

    from .kernels.strings import codes_match_strings, factorize_hashes, hash_strings

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    n = len(values)
    if n >= _MAX_INT32:
        return None
    offsets, data = _string_buffers(values)
    hashes = np.empty(n, dtype=np.uint64)
    with np.errstate(over="ignore"):  # hashing wraps around 2**64 (only seen as Python)
        hash_strings(offsets, data, hashes)
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
    if not codes_match_strings(offsets, data, codes, *_string_buffers(uniques)):
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
    first = factorize_dense_int(arr, vmin, span, codes)
    return codes, pd.Index(orig[first])


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
    uniques = pd.Index(enc.dictionary.to_pandas())
    return codes, uniques


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


# --------------------------------------------------------------------------- summary
@dataclass(frozen=True)
class TableSummary:
    """Counts describing an :class:`AnnotationTable` and what ingest dropped."""

    n_items: int
    n_workers: int
    n_labels: int
    n_annotations: int
    per_item: dict[str, float]
    per_worker: dict[str, float]
    label_counts: dict[Any, int]
    items_without_annotations: int
    workers_without_annotations: int
    dropped: dict[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The summary as a plain dict."""
        return dict(self.__dict__)

    def __str__(self) -> str:
        def stats(d: dict[str, float]) -> str:
            return ", ".join(f"{k} {v:g}" for k, v in d.items())

        lines = [
            f"annotations: {self.n_annotations}",
            f"items:       {self.n_items} ({self.items_without_annotations} without annotations)",
            f"workers:     {self.n_workers} ({self.workers_without_annotations} without annotations)",
            f"labels:      {self.n_labels}",
            f"per item:    {stats(self.per_item)}",
            f"per worker:  {stats(self.per_worker)}",
            "label counts: " + ", ".join(f"{k!s}: {v}" for k, v in self.label_counts.items()),
        ]
        dropped = ", ".join(f"{k}: {v}" for k, v in self.dropped.items()) or "nothing"
        lines.append(f"dropped:     {dropped}")
        lines.extend(f"warning:     {w}" for w in self.warnings)
        return "\n".join(lines)


def _similar_labels(labels: pd.Index) -> list[str]:
    """One note per group of string labels equal once stripped and case-folded."""
    if len(labels) < 2 or _index_kind(labels) != "str":
        return []
    keys = pd.Series([str(v).strip().casefold() for v in labels])
    dup = keys.duplicated(keep=False).to_numpy()
    if not dup.any():
        return []
    groups: dict[str, list[Any]] = {}
    for key, lab in zip(keys[dup], labels[dup]):
        groups.setdefault(key, []).append(lab)
    return [f"labels {g} differ only by surrounding whitespace or case; are they one label?"
            for g in groups.values()]


def _describe(counts: np.ndarray) -> dict[str, float]:
    if counts.size == 0:
        return {"min": 0, "median": 0, "mean": 0, "max": 0}
    return {
        "min": int(counts.min()),
        "median": float(np.median(counts)),
        "mean": round(float(counts.mean()), 4),
        "max": int(counts.max()),
    }


# --------------------------------------------------------------------------- the table
class AnnotationTable:
    """Immutable, integer-coded sparse table of crowd annotations.

    Build one with :meth:`from_pandas`, :meth:`from_polars`, :meth:`from_arrow`,
    :meth:`from_arrays`, :meth:`read_csv` or :meth:`read_parquet` (or let any
    estimator do it for you by passing a DataFrame).

    Attributes
    ----------
    items, workers, labels : pandas.Index
        Codebooks: code ``k`` stands for ``items[k]`` etc.  Items and workers keep the
        order of first appearance in the input; labels are sorted unless a label
        set was given.
    item_codes, worker_codes, label_codes : numpy.ndarray
        Per-annotation codes (int32, int64 once a count needs it) in CSR order by
        item: the annotations of item ``i`` are ``item_ptr[i]:item_ptr[i+1]``.
    item_ptr : numpy.ndarray
        int64 offsets, ``n_items + 1`` long.
    worker_index, worker_ptr : numpy.ndarray
        Annotations grouped by worker: those of worker ``w`` are at positions
        ``worker_index[worker_ptr[w]:worker_ptr[w+1]]`` of the per-annotation arrays.
    worker_label_pairs : numpy.ndarray
        ``worker_code * n_labels + label_code`` per annotation.

    ``item_codes``, the worker grouping and ``worker_label_pairs`` are derived from
    the other arrays the first time they are read, then kept.

    Notes
    -----
    Rules applied at ingest (every row left out is counted in :attr:`dropped` and
    :meth:`summary`):

    * rows with a null label are dropped (``null_label``); their items and workers
      stay in the codebooks (an item may so have zero annotations);
    * null item or worker ids raise :class:`~crowdagg.errors.NullIdError`;
    * repeated (item, worker) pairs follow ``duplicates``: ``"error"`` (default),
      keep the ``"first"`` or ``"last"`` in input order, or ``"keep"`` them all as
      separate votes (the others are counted as ``duplicate``);
    * distinct values never merge: integers are kept exactly (int64, uint64,
      nullable ``Int64``/``UInt64`` without a float round trip, Python ints beyond
      64 bits as objects); float labels that are all whole numbers int64 holds are
      stored as int64, other floats (``1e20``, ``0.5``) stay floats;
    * an object column holds one kind of value: strings, bools, numbers (Python or
      NumPy ints and floats, compared by value: ``1`` and ``1.0`` are one value),
      or one other scalar type.  Bools are not numbers: ``True`` next to ``1``
      raises :class:`~crowdagg.errors.MixedIdTypeError`, as do strings next to
      numbers; tuples, lists and other containers raise
      :class:`~crowdagg.errors.UnhashableIdError`.  The same holds for item ids,
      worker ids, labels and ``labels=``; ``labels=``, gold labels and gold items
      are matched by value, never a bool to a number (a string codebook matches
      other values by their ``str``);
    * in-memory inputs (pandas, polars, Arrow, arrays) are taken exactly as given;
      the file readers :meth:`read_csv` and :meth:`read_parquet` strip leading
      and trailing whitespace from every string id and label by default
      (``strip=False`` keeps every cell exactly);
    * a pandas categorical label column with no ``labels=`` given uses its
      categories, in their order, as the label set;
    * :meth:`summary` warns (:class:`~crowdagg.errors.SimilarLabelsWarning`) when
      labels differ only by surrounding whitespace or by case.
    """

    __slots__ = (
        "items",
        "workers",
        "labels",
        "_item_codes",
        "worker_codes",
        "label_codes",
        "item_ptr",
        "_worker_index",
        "_worker_ptr",
        "_pairs",
        "_dropped",
        "_frozen",
    )

    def __init__(
        self,
        *,
        items: pd.Index,
        workers: pd.Index,
        labels: pd.Index,
        item_codes: np.ndarray | None,
        worker_codes: np.ndarray,
        label_codes: np.ndarray,
        item_ptr: np.ndarray,
        worker_index: np.ndarray | None = None,
        worker_ptr: np.ndarray | None = None,
        dropped: Mapping[str, int] | None = None,
    ) -> None:
        # Private: use the from_* constructors.  Arrays are made read-only.
        # ``item_codes`` (None: expanded from ``item_ptr``) and the worker grouping
        # (None: a counting sort of ``worker_codes``) are derived on first use, so
        # that methods which never read them (majority vote) do not pay for them.
        object.__setattr__(self, "_frozen", False)
        self.items = items.rename("item")
        self.workers = workers.rename("worker")
        self.labels = labels.rename("label")
        for name, arr in (
            ("_item_codes", item_codes),
            ("worker_codes", worker_codes),
            ("label_codes", label_codes),
            ("item_ptr", item_ptr),
            ("_worker_index", worker_index),
            ("_worker_ptr", worker_ptr),
        ):
            object.__setattr__(self, name, None if arr is None else _frozen_array(arr))
        object.__setattr__(self, "_pairs", None)
        if (worker_index is None) != (worker_ptr is None):
            raise ValueError("give both worker_index and worker_ptr, or neither")
        self._dropped = dict(dropped or {})
        object.__setattr__(self, "_frozen", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_frozen", False):
            raise AttributeError("AnnotationTable is immutable")
        object.__setattr__(self, name, value)

    def _state(self) -> dict[str, Any]:
        """Constructor arguments (the lazy arrays as computed so far)."""
        return {"items": self.items, "workers": self.workers, "labels": self.labels,
                "item_codes": self._item_codes, "worker_codes": self.worker_codes,
                "label_codes": self.label_codes, "item_ptr": self.item_ptr,
                "worker_index": self._worker_index, "worker_ptr": self._worker_ptr}

    def __reduce__(self):
        return (_rebuild, (self._state(), dict(self._dropped)))

    # ----------------------------------------------------------------- derived arrays
    @property
    def item_codes(self) -> np.ndarray:
        """Item code of every annotation (CSR order: non-decreasing)."""
        codes = self._item_codes
        if codes is None:
            codes = _frozen_array(_expand_ptr(self.item_ptr, self.worker_codes.dtype))
            object.__setattr__(self, "_item_codes", codes)
        return codes

    @property
    def worker_index(self) -> np.ndarray:
        """Positions of the annotations grouped by worker (see :attr:`worker_ptr`)."""
        if self._worker_index is None:
            self._group_by_worker()
        return self._worker_index

    @property
    def worker_ptr(self) -> np.ndarray:
        """int64 offsets into :attr:`worker_index`, ``n_workers + 1`` long."""
        if self._worker_ptr is None:
            self._group_by_worker()
        return self._worker_ptr

    @property
    def worker_label_pairs(self) -> np.ndarray:
        """One index per annotation for its (worker, label) pair, ``worker_code *
        n_labels + label_code`` (int32 while it fits): the row of the 2-d statistics
        ``counts[w * K + y, k]`` that the Dawid-Skene kernels read and write."""
        pairs = self._pairs
        if pairs is None:
            k = self.n_labels
            pairs = self.worker_codes.astype(np.int32 if self.n_workers * k < 2**31 else np.int64)
            pairs *= k
            pairs += self.label_codes
            pairs = _frozen_array(pairs)
            object.__setattr__(self, "_pairs", pairs)
        return pairs

    def _group_by_worker(self) -> None:
        # a stable counting sort; concurrent first uses compute the same arrays
        wc = self.worker_codes
        index = np.empty(wc.shape[0], dtype=wc.dtype)
        ptr = counting_sort(wc, self.n_workers, index)
        object.__setattr__(self, "_worker_index", _frozen_array(index))
        object.__setattr__(self, "_worker_ptr", _frozen_array(ptr))

    # ----------------------------------------------------------------- sizes
    @property
    def n_items(self) -> int:
        """Number of items, including those with no annotation."""
        return len(self.items)

    @property
    def n_workers(self) -> int:
        """Number of workers."""
        return len(self.workers)

    @property
    def n_labels(self) -> int:
        """Number of labels in the label set."""
        return len(self.labels)

    @property
    def n_annotations(self) -> int:
        """Number of annotations kept."""
        return int(self.label_codes.shape[0])

    def __len__(self) -> int:
        return self.n_annotations

    def __repr__(self) -> str:
        return (
            f"AnnotationTable(n_annotations={self.n_annotations}, n_items={self.n_items}, "
            f"n_workers={self.n_workers}, n_labels={self.n_labels})"
        )

    def item_counts(self) -> np.ndarray:
        """Annotations per item, in item-code order."""
        return np.diff(self.item_ptr)

    def worker_counts(self) -> np.ndarray:
        """Annotations per worker, in worker-code order."""
        if self._worker_ptr is None:  # no need to group by worker for the counts
            return np.bincount(self.worker_codes, minlength=self.n_workers).astype(np.int64)
        return np.diff(self.worker_ptr)

    def label_counts(self) -> np.ndarray:
        """Annotations per label, in label-code order."""
        return np.bincount(self.label_codes, minlength=self.n_labels)

    def summary(self) -> TableSummary:
        """Counts, annotations per item and per worker, label distribution, drops.

        When labels differ only by surrounding whitespace or by case (``"Pos"``,
        ``"pos"``, ``"pos "``), the summary's ``warnings`` name each such group and a
        :class:`~crowdagg.errors.SimilarLabelsWarning` is issued.
        """
        ic = self.item_counts()
        wc = self.worker_counts()
        lc = self.label_counts()
        notes = _similar_labels(self.labels)
        for note in notes:
            warnings.warn(note, SimilarLabelsWarning, stacklevel=2)
        return TableSummary(
            n_items=self.n_items,
            n_workers=self.n_workers,
            n_labels=self.n_labels,
            n_annotations=self.n_annotations,
            per_item=_describe(ic),
            per_worker=_describe(wc),
            label_counts={lab: int(c) for lab, c in zip(self.labels.tolist(), lc)},
            items_without_annotations=int((ic == 0).sum()),
            workers_without_annotations=int((wc == 0).sum()),
            dropped=dict(self._dropped),
            warnings=tuple(notes),
        )

    def with_dropped(self, **counts: int) -> AnnotationTable:
        """The same table with more drop counts (by reason) merged into :attr:`dropped`.

        For readers that filter rows before building the table (e.g. rejected
        MTurk assignments), so that :meth:`summary` reports them.
        """
        return AnnotationTable(**self._state(), dropped={**self._dropped, **{k: int(v) for k, v in counts.items()}})

    @property
    def dropped(self) -> dict[str, int]:
        """Rows dropped at ingest, by reason (``null_label``, ``duplicate``)."""
        return dict(self._dropped)

    # ----------------------------------------------------------------- export
    def to_pandas(self) -> pd.DataFrame:
        """The annotations with original ids, columns ``item``, ``worker``, ``label``."""
        return pd.DataFrame(
            {
                "item": self.items.take(self.item_codes),
                "worker": self.workers.take(self.worker_codes),
                "label": self.labels.take(self.label_codes),
            }
        )

    def to_polars(self):
        """The annotations with original ids as a polars DataFrame."""
        import polars as pl

        return pl.from_pandas(self.to_pandas())

    # ----------------------------------------------------------------- encoding helpers
    def encode_labels(self, values: Any, *, what: str = "label") -> np.ndarray:
        """Codes of label values; :class:`UnknownLabelError` for values not in the set."""
        vals = values if isinstance(values, pd.Index) else _as_index(values)
        vals = _coerce_like(vals, self.labels)
        codes = _lookup(self.labels, vals)
        if (codes < 0).any():
            bad = vals[codes < 0]
            raise UnknownLabelError(
                f"{(codes < 0).sum()} {what} value(s) not in the table's label set "
                f"{self.labels.tolist()[:20]}: {bad[:_N_EXAMPLES].tolist()}"
            )
        return codes.astype(np.int64)

    def encode_gold(self, gold: Any) -> np.ndarray:
        """Gold answers as one label code per item (-1 where no gold is given).

        ``gold`` is a Series (index: item id, values: true label), a mapping, or a
        DataFrame with an item column (``item`` or ``task``) and a ``label`` column
        (``gold`` and ``true_label`` are accepted too).  Rows with a null label are
        ignored.  If the table's ids are strings and the gold's are not (a CSV read
        twice with different rules), gold ids are converted with ``str``.

        Raises
        ------
        GoldError
            For gold items absent from the table, labels outside the label set, or
            an item given two different gold labels.
        """
        series = _gold_series(gold)
        series = series[series.notna()]
        idx = _coerce_like(pd.Index(series.index), self.items)
        if idx.has_duplicates:
            df = pd.DataFrame({"item": idx, "label": series.to_numpy()})
            conflicts = df.drop_duplicates().groupby("item").size()
            conflicts = conflicts[conflicts > 1]
            if len(conflicts):
                raise GoldError(
                    f"gold gives different labels to {len(conflicts)} item(s): "
                    f"{conflicts.index[:_N_EXAMPLES].tolist()}"
                )
            keep = ~idx.duplicated()
            idx, series = idx[keep], series[keep]
        pos = _lookup(self.items, idx)
        if (pos < 0).any():
            bad = idx[pos < 0]
            raise GoldError(
                f"gold names {len(bad)} item(s) not in the table: {bad[:_N_EXAMPLES].tolist()}"
            )
        try:
            lab = self.encode_labels(series.to_numpy(), what="gold label")
        except UnknownLabelError as exc:
            raise GoldError(str(exc)) from None
        out = np.full(self.n_items, -1, dtype=np.int64)
        out[pos] = lab
        return out

    def encode_worker_values(self, values: Any, *, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Align per-worker values (Series/mapping by worker id, or array in code order).

        Returns ``(array, known)`` where ``known`` flags workers that got a value.
        """
        if isinstance(values, Mapping) and not isinstance(values, pd.Series):
            values = pd.Series(values, dtype=object if not values else None)
        if isinstance(values, pd.Series):
            idx = _coerce_like(pd.Index(values.index), self.workers)
            if idx.has_duplicates:
                raise InputError(f"{name} names some workers twice: {idx[idx.duplicated()][:5].tolist()}")
            pos = idx.get_indexer(self.workers)
            known = pos >= 0
            arr = np.zeros(self.n_workers, dtype=np.float64)
            try:
                vals = pd.to_numeric(values, errors="raise").to_numpy(dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise WeightsError(f"{name} must be numbers: {exc}") from None
            arr[known] = vals[pos[known]]
            return arr, known
        try:
            arr = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise WeightsError(f"{name} must be numbers: {exc}") from None
        if arr.shape != (self.n_workers,):
            raise InputError(
                f"{name} as an array must have one value per worker in code order "
                f"({self.n_workers}), got shape {arr.shape}; pass a Series indexed by worker id"
            )
        return arr.copy(), np.ones(self.n_workers, dtype=bool)

    # ----------------------------------------------------------------- constructors
    @classmethod
    def from_codes(
        cls,
        item_codes: np.ndarray,
        worker_codes: np.ndarray,
        label_codes: np.ndarray,
        *,
        items: Sequence[Hashable] | int,
        workers: Sequence[Hashable] | int,
        labels: Sequence[Hashable] | int,
        duplicates: Duplicates = "error",
    ) -> AnnotationTable:
        """Build from integer codes and codebooks (or codebook sizes: ids ``0..n-1``).

        The low-level constructor used by the others; codes may come in any order.
        """
        def book(b: Any) -> pd.Index:
            return pd.RangeIndex(b) if isinstance(b, (int, np.integer)) else pd.Index(b)

        items_i, workers_i, labels_i = book(items), book(workers), book(labels)
        ic = np.asarray(item_codes, dtype=np.int64)
        wc = np.asarray(worker_codes, dtype=np.int64)
        lc = np.asarray(label_codes, dtype=np.int64)
        if not (ic.shape == wc.shape == lc.shape) or ic.ndim != 1:
            raise InputError("item, worker and label codes must be 1-d arrays of one length")
        for arr, book_i, what in ((ic, items_i, "item"), (wc, workers_i, "worker"), (lc, labels_i, "label")):
            if arr.size and (arr.min() < 0 or arr.max() >= len(book_i)):
                raise InputError(f"{what} codes must lie in [0, {len(book_i)})")
        return _assemble(ic, wc, lc, np.arange(len(labels_i), dtype=np.int64), items_i, workers_i,
                         labels_i, duplicates)

    @classmethod
    def from_pandas(
        cls,
        df: pd.DataFrame,
        *,
        item_col: str | None = None,
        worker_col: str = "worker",
        label_col: str = "label",
        labels: Sequence[Hashable] | None = None,
        duplicates: Duplicates = "error",
    ) -> AnnotationTable:
        """Build from a pandas DataFrame.

        Parameters
        ----------
        df : pandas.DataFrame
            One row per annotation.  It is never modified.
        item_col : str, optional
            Item id column; default ``item``, or ``task`` (crowd-kit's name) when
            there is no ``item`` column.
        worker_col, label_col : str
            Worker id and label columns.
        labels : sequence, optional
            The label set, in order (needed for ordinal metrics and for classes
            nobody chose).  Default: the sorted distinct labels.
        duplicates : {"error", "first", "last", "keep"}
            What to do with repeated (item, worker) pairs.
        """
        if not isinstance(df, pd.DataFrame):
            raise InputError(f"from_pandas expects a pandas DataFrame, got {type(df).__name__}")
        cols = _resolve_columns(list(df.columns), item_col, worker_col, label_col)
        return _build(*(df[c] for c in cols), cols, labels, duplicates)

    @classmethod
    def from_polars(
        cls,
        df: Any,
        *,
        item_col: str | None = None,
        worker_col: str = "worker",
        label_col: str = "label",
        labels: Sequence[Hashable] | None = None,
        duplicates: Duplicates = "error",
    ) -> AnnotationTable:
        """Build from a polars DataFrame (or LazyFrame); see :meth:`from_pandas`."""
        import polars as pl

        if isinstance(df, pl.LazyFrame):
            df = df.collect()
        if not isinstance(df, pl.DataFrame):
            raise InputError(f"from_polars expects a polars DataFrame, got {type(df).__name__}")
        cols = _resolve_columns(df.columns, item_col, worker_col, label_col)
        return cls.from_arrow(df.select(cols).to_arrow(), item_col=cols[0], worker_col=cols[1],
                              label_col=cols[2], labels=labels, duplicates=duplicates)

    @classmethod
    def from_arrow(
        cls,
        table: Any,
        *,
        item_col: str | None = None,
        worker_col: str = "worker",
        label_col: str = "label",
        labels: Sequence[Hashable] | None = None,
        duplicates: Duplicates = "error",
    ) -> AnnotationTable:
        """Build from a ``pyarrow.Table`` (or RecordBatch); see :meth:`from_pandas`."""
        import pyarrow as pa

        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        if not isinstance(table, pa.Table):
            raise InputError(f"from_arrow expects a pyarrow Table, got {type(table).__name__}")
        cols = _resolve_columns(table.column_names, item_col, worker_col, label_col)
        return _build(*(table.column(c) for c in cols), cols, labels, duplicates)

    @classmethod
    def from_arrays(
        cls,
        items: Any,
        workers: Any,
        labels_values: Any,
        *,
        labels: Sequence[Hashable] | None = None,
        duplicates: Duplicates = "error",
    ) -> AnnotationTable:
        """Build from three equal-length array-likes of item ids, worker ids and labels."""
        import pyarrow as pa

        arrays: list[Any] = []
        for a in (items, workers, labels_values):
            if isinstance(a, pd.Series):
                a = a.reset_index(drop=True)
            elif isinstance(a, (pa.Array, pa.ChunkedArray)):
                pass  # factorized as Arrow
            elif isinstance(a, (np.ndarray, pd.api.extensions.ExtensionArray, pd.Index)):
                if a.ndim != 1:
                    raise InputError(f"from_arrays expects 1-d arrays, got shape {a.shape}")
                a = pd.Series(a)
            elif isinstance(a, (str, bytes)) or not hasattr(a, "__iter__"):
                raise InputError(f"from_arrays expects array-likes, got {type(a).__name__}")
            else:
                # Python objects stay as they are (np.asarray would unify 1 and "1", and
                # pandas' inference ints with None into floats); one kind is checked later
                a = pd.Series(list(a), dtype=object)
            arrays.append(a)
        if len({len(a) for a in arrays}) != 1:
            raise InputError(
                f"items, workers and labels must have one length, got {[len(a) for a in arrays]}"
            )
        return _build(*arrays, ("item", "worker", "label"), labels, duplicates)

    @classmethod
    def read_csv(
        cls,
        path: str | os.PathLike,
        *,
        item_col: str | None = None,
        worker_col: str = "worker",
        label_col: str = "label",
        labels: Sequence[Hashable] | None = None,
        duplicates: Duplicates = "error",
        delimiter: str = ",",
        strip: bool = True,
    ) -> AnnotationTable:
        """Read a UTF-8 CSV file with a header row and one annotation per row.

        Parameters
        ----------
        path : str or os.PathLike
            The file.
        item_col, worker_col, label_col, labels, duplicates
            As in :meth:`from_pandas`; column names are matched after stripping
            surrounding whitespace (unless ``strip=False``).
        delimiter : str
            The field separator.
        strip : bool
            Strip leading and trailing whitespace from every id and label cell
            (default); ``False`` keeps every cell exactly as written.

        Notes
        -----
        Item and worker ids are strings, exactly as written once stripped
        (``" 007 "`` is ``"007"``).  Empty cells (also cells of only whitespace
        when stripping) are null: a null label drops its row (counted in
        :attr:`dropped`), a null id raises :class:`~crowdagg.errors.NullIdError`;
        ``NA`` or ``null`` are ordinary strings.  Labels are integers (int64) when
        every label is an integer written plainly (``-12``, not ``+12``, ``012`` or
        ``-0``) that int64 holds; else floats when every label is a plain decimal
        number, finite, no two labels are the same float (``1`` and ``1.0``) and no
        whole number exceeds 2**53; else every label stays a string.  Distinct
        labels so never merge.

        Raises
        ------
        InputFileNotFoundError, NotAFileError, FileAccessError
            A missing path, a directory (or device, pipe), an unreadable file.
        EncodingError
            Bytes that are not UTF-8 (the message names the line).
        FormatError
            A row with more or fewer fields than the header (the message names the
            line), or text that is not CSV.
        EmptyTableError
            An empty file, or a header without rows.
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
        return _build(*columns, cols, labels, duplicates)

    @classmethod
    def read_parquet(
        cls,
        path: str | os.PathLike,
        *,
        item_col: str | None = None,
        worker_col: str = "worker",
        label_col: str = "label",
        labels: Sequence[Hashable] | None = None,
        duplicates: Duplicates = "error",
        strip: bool = True,
    ) -> AnnotationTable:
        """Read a Parquet file (or a folder of Parquet files with one schema).

        Parameters
        ----------
        path : str or os.PathLike
            The file or folder.
        item_col, worker_col, label_col, labels, duplicates
            As in :meth:`from_pandas`.
        strip : bool
            Strip leading and trailing whitespace from every string id and label
            (default); ``False`` keeps every value exactly.  Column types are kept
            (a stripped string stays a string; an empty one is the empty string,
            Parquet having real nulls).

        Raises
        ------
        InputFileNotFoundError, FileAccessError
            A missing or unreadable path.
        FormatError
            A file that is not Parquet (or truncated), or a folder whose files do
            not share one schema.
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
        return _build(*columns, cols, labels, duplicates)


def _expand_ptr(ptr: np.ndarray, dtype: Any) -> np.ndarray:
    """The row code of every entry of a CSR layout: ``k`` repeated ``ptr[k+1] - ptr[k]`` times."""
    return np.repeat(np.arange(ptr.shape[0] - 1, dtype=dtype), np.diff(ptr))


def _frozen_array(arr: np.ndarray) -> np.ndarray:
    arr = np.ascontiguousarray(arr)
    arr.flags.writeable = False
    return arr


def _rebuild(state: dict[str, Any], dropped: dict[str, int]) -> AnnotationTable:
    return AnnotationTable(**state, dropped=dropped)


# --------------------------------------------------------------------------- helpers
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


_INT_PATTERN = r"^-?(?:0|[1-9][0-9]*)$"
_NUM_PATTERN = r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$"


def _label_values(uniques: Any) -> Any:
    """The distinct label strings (an Arrow array without nulls) as their values.

    int64 when every one is a plainly written integer int64 holds (``-12``; not
    ``+12``, ``012``, ``-0``); else float64 when every one is a plain decimal
    number, finite, no two give one float and no whole number exceeds 2**53; else
    the strings themselves.  The rule of :func:`crowdagg.io.parse_labels`.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(uniques) == 0:
        return uniques
    is_int = pc.match_substring_regex(uniques, _INT_PATTERN)
    if pc.all(is_int).as_py():
        if not pc.any(pc.equal(uniques, "-0")).as_py():
            try:
                return pc.cast(uniques, pa.int64())
            except pa.ArrowInvalid:  # beyond int64: strings
                pass
        return uniques
    if not pc.all(pc.match_substring_regex(uniques, _NUM_PATTERN)).as_py():
        return uniques
    try:
        floats = pc.cast(uniques, pa.float64())
    except pa.ArrowInvalid:
        return uniques
    vals = floats.to_numpy(zero_copy_only=False)
    if not np.all(np.isfinite(vals)) or len(np.unique(vals)) != len(vals):
        return uniques
    whole = is_int.to_numpy(zero_copy_only=False)
    if whole.any():
        lengths = pc.utf8_length(uniques).to_numpy(zero_copy_only=False)
        if (lengths[whole] > 20).any() or (np.abs(vals[whole]) > 2.0**53).any():
            return uniques
    return floats


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
    values = _label_values(uniques)
    if values is uniques:
        return col
    return values.take(codes)


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
        raise InputError(f"labels= repeats values: {index[index.duplicated()].tolist()}")
    return index


def _gold_series(gold: Any) -> pd.Series:
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


def _build(
    item_vals: Any,
    worker_vals: Any,
    label_vals: Any,
    cols: tuple[str, str, str],
    labels: Sequence[Hashable] | None,
    duplicates: Duplicates,
) -> AnnotationTable:
    if duplicates not in _DUPLICATE_POLICIES:
        raise InputError(f"duplicates must be one of {_DUPLICATE_POLICIES}, got {duplicates!r}")
    n = len(item_vals)
    if n == 0:
        raise EmptyTableError("the annotation table is empty (0 rows)")
    item_col, worker_col, label_col = cols

    ic, items = _shrink(*_factorize(item_vals, item_col, "item id"))
    wc, workers = _shrink(*_factorize(worker_vals, worker_col, "worker id"))
    for codes, col in ((ic, item_col), (wc, worker_col)):
        null = codes < 0
        if null.any():
            raise NullIdError(
                f"column {col!r} has {int(null.sum())} null id(s) (first rows: {_first_rows(null)}); "
                "drop or fill those rows first"
            )

    label_order = None
    if labels is None and isinstance(label_vals, pd.Series) and isinstance(label_vals.dtype, pd.CategoricalDtype):
        label_order = pd.Index(label_vals.cat.categories)
    lc_raw, lab_uniques = _shrink(*_factorize(label_vals, label_col, "label"))
    if len(lab_uniques) == 0:
        raise EmptyTableError(f"every label in column {label_col!r} is null; nothing to aggregate")
    if labels is not None:
        label_index = _label_set(labels)
        mapping = _lookup(label_index, lab_uniques)
        unknown = mapping < 0
        if unknown.any():
            bad_rows = _first_rows(np.isin(lc_raw, np.flatnonzero(unknown)))
            kinds = {_index_kind(label_index), _index_kind(lab_uniques)}
            note = "; bools never match numbers" if kinds == {"bool", "number"} else ""
            raise UnknownLabelError(
                f"column {label_col!r} has {int(unknown.sum())} value(s) outside labels="
                f"{label_index.tolist()[:20]}: {lab_uniques[unknown][:_N_EXAMPLES].tolist()} "
                f"(first rows: {bad_rows}){note}"
            )
    else:
        if label_order is not None:
            label_index = label_order
            mapping = label_index.get_indexer(lab_uniques)
        else:
            try:
                order = np.argsort(lab_uniques.to_numpy(), kind="stable")
            except TypeError:
                types = sorted({type(u).__name__ for u in lab_uniques})
                raise MixedIdTypeError(
                    f"the labels of column {label_col!r} ({types}) cannot be sorted; give the "
                    "label set, in order, with labels="
                ) from None
            label_index = _integral_float_to_int(lab_uniques[order])
            mapping = np.empty(len(order), dtype=np.int64)
            mapping[order] = np.arange(len(order))
    return _assemble(ic, wc, lc_raw, np.asarray(mapping, dtype=np.int64), items, workers, label_index,
                     duplicates, label_col)


def _assemble(
    ic: np.ndarray,
    wc: np.ndarray,
    lc_raw: np.ndarray,
    label_map: np.ndarray,
    items: pd.Index,
    workers: pd.Index,
    labels: pd.Index,
    duplicates: Duplicates,
    label_col: str = "label",
) -> AnnotationTable:
    """CSR layout from codes: ``label_map[lc_raw]`` gives label codes, -1/null rows dropped."""
    if duplicates not in _DUPLICATE_POLICIES:
        raise InputError(f"duplicates must be one of {_DUPLICATE_POLICIES}, got {duplicates!r}")
    if len(labels) == 0:
        raise EmptyTableError("the label set is empty")
    n = ic.shape[0]
    if n == 0:
        raise EmptyTableError("the annotation table has no annotations")
    n_items, n_workers = len(items), len(workers)
    idt = _index_dtype(max(n, n_items, n_workers, len(labels)))
    wc_s = np.empty(n, dtype=idt)
    lc_s = np.empty(n, dtype=idt)
    no_order = np.empty(0, dtype=idt)
    item_ptr, n_kept = build_item_csr(ic, wc, lc_raw, label_map, n_items, wc_s, lc_s, no_order)
    n_kept = int(n_kept)
    if n_kept == 0:
        raise EmptyTableError(f"every label in column {label_col!r} is null; nothing to aggregate")
    dropped = {"null_label": n - n_kept}
    if n_kept < n:
        wc_s, lc_s = wc_s[:n_kept], lc_s[:n_kept]

    n_dup = 0
    if duplicates != "keep":
        drop = mark_duplicates(item_ptr, wc_s, n_workers, duplicates == "last")
        n_dup = int(drop.sum())
        if n_dup and duplicates == "error":
            order = np.empty(n, dtype=idt)  # the input row of every kept annotation
            build_item_csr(ic, wc, lc_raw, label_map, n_items, np.empty(n, dtype=idt),
                           np.empty(n, dtype=idt), order)
            rows = np.sort(order[:n_kept][drop])[:_N_EXAMPLES]
            pairs = [(items[ic[r]], workers[wc[r]]) for r in rows]
            raise DuplicateAnnotationError(
                f"{n_dup} repeated (item, worker) pair(s), e.g. {pairs}; pass "
                "duplicates='first', 'last' or 'keep' (CLI: --duplicates) to choose a rule"
            )
        if n_dup:
            keep = ~drop
            wc_s, lc_s = wc_s[keep], lc_s[keep]
            counts = np.bincount(_expand_ptr(item_ptr, np.int64)[keep], minlength=n_items)
            item_ptr = np.zeros(n_items + 1, dtype=np.int64)
            np.cumsum(counts, out=item_ptr[1:])
    dropped["duplicate"] = n_dup
    return AnnotationTable(
        items=items,
        workers=workers,
        labels=labels,
        item_codes=None,  # derived from item_ptr on first use
        worker_codes=wc_s,
        label_codes=lc_s,
        item_ptr=item_ptr,
        dropped=dropped,
    )


def _call(ctor: Any, data: Any, kwargs: dict[str, Any], what: str) -> AnnotationTable:
    """``ctor(data, **kwargs)`` once every option is known to ``ctor``."""
    import inspect

    known = set(inspect.signature(ctor).parameters) - {"cls"}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        hint = " (strip= applies to file paths; in-memory tables are taken exactly)" if "strip" in unknown else ""
        raise InputError(f"unknown option(s) {unknown} for {what}{hint}; known: {sorted(known - {'df', 'table', 'path'})}")
    return ctor(data, **kwargs)


def as_table(data: Any, **kwargs: Any) -> AnnotationTable:
    """Coerce ``data`` to an :class:`AnnotationTable`.

    Accepts a table (returned as is; ``kwargs`` must then be empty), a pandas,
    polars or pyarrow table, or a path to a CSV/Parquet file.  ``kwargs`` go to
    the matching constructor (column names, ``labels``, ``duplicates``).
    """
    if isinstance(data, AnnotationTable):
        if kwargs:
            raise InputError(
                f"options {sorted(kwargs)} apply when building a table; this input is already an AnnotationTable"
            )
        return data
    if isinstance(data, pd.DataFrame):
        return _call(AnnotationTable.from_pandas, data, kwargs, "a pandas DataFrame")
    mod = type(data).__module__
    if mod.startswith("polars"):
        return _call(AnnotationTable.from_polars, data, kwargs, "a polars DataFrame")
    if mod.startswith("pyarrow"):
        return _call(AnnotationTable.from_arrow, data, kwargs, "a pyarrow Table")
    if isinstance(data, (str, os.PathLike)):
        p = os.fspath(data)
        if isinstance(p, bytes):
            p = os.fsdecode(p)
        if p.endswith((".parquet", ".pq")) or os.path.isdir(p):
            return _call(AnnotationTable.read_parquet, p, kwargs, "a Parquet path")
        return _call(AnnotationTable.read_csv, p, kwargs, "a CSV path")
    raise InputError(
        "expected an AnnotationTable, a pandas/polars/pyarrow table or a file path, "
        f"got {type(data).__name__}"
    )
