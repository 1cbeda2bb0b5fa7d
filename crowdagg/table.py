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
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from .errors import (
    DuplicateAnnotationError,
    EmptyTableError,
    FormatError,
    GoldError,
    InputError,
    InputFileNotFoundError,
    MissingColumnError,
    MixedIdTypeError,
    NullIdError,
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
def _check_uniques(uniques: pd.Index, codes: np.ndarray, column: str, what: str) -> None:
    """Raise if the distinct values of an id column mix types."""
    if uniques.dtype != object or len(uniques) == 0:
        return
    kind = pd.api.types.infer_dtype(uniques, skipna=True)
    if kind in ("mixed", "mixed-integer"):
        types = np.array([type(u).__name__ for u in uniques], dtype=object)
        first = types[0]
        bad_codes = np.flatnonzero(types != first)
        rows = _first_rows(np.isin(codes, bad_codes))
        names = sorted(set(types.tolist()))
        raise MixedIdTypeError(
            f"column {column!r} mixes {what} types {names} (first rows with a type other "
            f"than {first!r}: {rows}); convert the column to one type, e.g. "
            f"df[{column!r}].astype(str)"
        )


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
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return _factorize_arrow(values, column, what)
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(values.cat.categories.dtype)
    dense = _factorize_small_int_range(values)
    if dense is not None:
        return dense
    try:
        codes, uniques = pd.factorize(values, sort=False, use_na_sentinel=True)
    except TypeError as exc:
        raise UnhashableIdError(
            f"column {column!r} holds unhashable {what} values ({exc}); ids and labels "
            "must be scalars such as strings or integers"
        ) from None
    uniques = pd.Index(uniques)
    codes = np.asarray(codes, dtype=np.int64)
    _check_uniques(uniques, codes, column, what)
    return codes, uniques


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
    """Float labels that are all whole numbers become int64 (nullable ints read as floats)."""
    if uniques.dtype.kind == "f" and len(uniques):
        vals = uniques.to_numpy()
        if np.all(np.isfinite(vals)) and np.all(vals == np.round(vals)):
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
        return "\n".join(lines)


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
    Rules applied at ingest (all counted in :meth:`summary`):

    * rows with a null label are dropped; their items and workers stay in the
      codebooks (an item may so have zero annotations);
    * null item or worker ids raise :class:`~crowdagg.errors.NullIdError`;
    * repeated (item, worker) pairs follow ``duplicates``: ``"error"`` (default),
      keep the ``"first"`` or ``"last"`` in input order, or ``"keep"`` them all as
      separate votes;
    * float labels that are all whole numbers (a nullable integer column read with
      missing values) are stored as int64;
    * a pandas categorical label column with no ``labels=`` given uses its
      categories, in their order, as the label set.
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
        """Counts, annotations per item and per worker, label distribution, drops."""
        ic = self.item_counts()
        wc = self.worker_counts()
        lc = self.label_counts()
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
        vals = pd.Index(values) if not isinstance(values, pd.Index) else values
        vals = _coerce_like(vals, self.labels)
        codes = self.labels.get_indexer(vals)
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
        pos = self.items.get_indexer(idx)
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
        arrays = []
        for a in (items, workers, labels_values):
            if isinstance(a, pd.Series):
                a = a.to_numpy()
            elif not isinstance(a, np.ndarray):
                a = list(a)  # keep Python objects as they are (np.asarray would unify 1 and "1")
            if isinstance(a, np.ndarray) and a.ndim != 1:
                raise InputError(f"from_arrays expects 1-d arrays, got shape {a.shape}")
            arrays.append(pd.Series(a))
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
    ) -> AnnotationTable:
        """Read a CSV file with one annotation per row.

        Item and worker ids are read as strings, exactly as written (``007`` stays
        ``"007"``); labels are parsed (numbers become numbers) and empty cells are
        null labels.
        """
        import pyarrow as pa
        import pyarrow.csv as pacsv

        path = _check_path(path)
        try:
            with open(path, newline="", encoding="utf-8-sig") as fh:
                header = next(csv.reader(fh, delimiter=delimiter), [])
        except UnicodeDecodeError:
            raise FormatError(f"cannot read {path!r} as CSV: it is not UTF-8 text") from None
        if not header:
            raise EmptyTableError(f"{path!r} is empty")
        cols = _resolve_columns(header, item_col, worker_col, label_col)
        try:
            tbl = pacsv.read_csv(
                path,
                parse_options=pacsv.ParseOptions(delimiter=delimiter),
                convert_options=pacsv.ConvertOptions(
                    column_types={cols[0]: pa.string(), cols[1]: pa.string()},
                    include_columns=list(cols),
                    strings_can_be_null=True,
                    null_values=[""],  # only empty cells are null: "NA", "null" stay strings
                ),
            )
        except pa.ArrowInvalid as exc:
            raise FormatError(f"cannot parse {os.fspath(path)!r} as CSV: {exc}") from None
        return cls.from_arrow(tbl, item_col=cols[0], worker_col=cols[1], label_col=cols[2],
                              labels=labels, duplicates=duplicates)

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
    ) -> AnnotationTable:
        """Read a Parquet file (or folder of files); see :meth:`from_pandas`."""
        import pyarrow.parquet as pq

        path = _check_path(path)
        schema_names = pq.read_schema(path).names if os.path.isfile(path) else None
        if schema_names is not None:
            cols = _resolve_columns(schema_names, item_col, worker_col, label_col)
            tbl = pq.read_table(path, columns=list(cols))
        else:
            tbl = pq.read_table(path)
            cols = _resolve_columns(tbl.column_names, item_col, worker_col, label_col)
        return cls.from_arrow(tbl, item_col=cols[0], worker_col=cols[1], label_col=cols[2],
                              labels=labels, duplicates=duplicates)


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
def _check_path(path: str | os.PathLike) -> str:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputFileNotFoundError(f"no such file: {path!r}")
    return path


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
        label_index = pd.Index(list(labels))
        if len(label_index) == 0:
            raise InputError("labels= is empty")
        if label_index.has_duplicates:
            raise InputError(f"labels= repeats values: {label_index[label_index.duplicated()].tolist()}")
        mapping = label_index.get_indexer(_coerce_like(lab_uniques, label_index))
        unknown = mapping < 0
        if unknown.any():
            bad_rows = _first_rows(np.isin(lc_raw, np.flatnonzero(unknown)))
            raise UnknownLabelError(
                f"column {label_col!r} has {int(unknown.sum())} value(s) outside labels="
                f"{label_index.tolist()[:20]}: {lab_uniques[unknown][:_N_EXAMPLES].tolist()} "
                f"(first rows: {bad_rows})"
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
                    f"column {label_col!r} mixes label types {types}; convert it to one type "
                    "or give the label set with labels="
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
        return AnnotationTable.from_pandas(data, **kwargs)
    mod = type(data).__module__
    if mod.startswith("polars"):
        return AnnotationTable.from_polars(data, **kwargs)
    if mod.startswith("pyarrow"):
        return AnnotationTable.from_arrow(data, **kwargs)
    if isinstance(data, (str, os.PathLike)):
        p = os.fspath(data)
        if p.endswith((".parquet", ".pq")) or os.path.isdir(p):
            return AnnotationTable.read_parquet(p, **kwargs)
        return AnnotationTable.read_csv(p, **kwargs)
    raise InputError(
        "expected an AnnotationTable, a pandas/polars/pyarrow table or a file path, "
        f"got {type(data).__name__}"
    )
