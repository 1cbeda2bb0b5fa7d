"""The annotation table: the one in-memory form every crowdagg algorithm reads.

An :class:`AnnotationTable` holds a sparse set of annotations ``(item, worker,
label)`` as integer codes, together with codebooks mapping codes back to the
original ids.  Annotations are stored in CSR order by item (``item_ptr``) and a
permutation groups them by worker (``worker_index``/``worker_ptr``), so item-wise
E-steps and worker-wise M-steps both read contiguous slices without atomics.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from . import ingest
from .errors import (
    DuplicateAnnotationError,
    EmptyTableError,
    GoldError,
    InputError,
    NullIdError,
    SimilarLabelsWarning,
    UnknownLabelError,
    WeightsError,
)
from .factorize import (
    _N_EXAMPLES,
    _as_index,
    _coerce_like,
    _factorize,
    _first_rows,
    _index_dtype,
    _index_kind,
    _lookup,
    _plain,
    _shrink,
    label_codebook,
)
from .gold import gold_by_item, gold_label_codes
from .ingest import _resolve_columns
from .kernels.csr import build_item_csr, counting_sort, mark_duplicates

__all__ = ["AnnotationTable", "TableSummary", "as_table"]

Duplicates = Literal["error", "first", "last", "keep"]
_DUPLICATE_POLICIES = ("error", "first", "last", "keep")


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
    * a float NaN is null, in every input form (pandas, polars, Arrow, Parquet), and
      ``-0.0`` is ``0.0``;
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
                f"{_plain(self.labels[:20])}: {_plain(bad[:_N_EXAMPLES])}"
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
        idx, values = gold_by_item(gold, self.items)
        pos = _lookup(self.items, idx)
        if (pos < 0).any():
            bad = idx[pos < 0]
            raise GoldError(
                f"gold names {len(bad)} item(s) not in the table: {_plain(bad[:_N_EXAMPLES])}"
            )
        lab = gold_label_codes(self, values)
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
                raise InputError(f"{name} names some workers twice: {_plain(idx[idx.duplicated()][:5])}")
            where = _lookup(self.workers, idx)  # the worker code of every value (-1: not in the data)
            ok = where >= 0
            arr = np.zeros(self.n_workers, dtype=np.float64)
            known = np.zeros(self.n_workers, dtype=bool)
            try:
                vals = pd.to_numeric(values, errors="raise").to_numpy(dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise WeightsError(f"{name} must be numbers: {exc}") from None
            arr[where[ok]] = vals[ok]
            known[where[ok]] = True
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
    def empty(cls, items: pd.Index, workers: pd.Index, labels: pd.Index) -> AnnotationTable:
        """A table of these codebooks with no annotation (every item without answers),
        e.g. a partition whose rows all had null labels."""
        z = np.zeros(0, dtype=np.int32)
        return cls(items=items, workers=workers, labels=labels, item_codes=z, worker_codes=z, label_codes=z,
                   item_ptr=np.zeros(len(items) + 1, dtype=np.int64), worker_index=z,
                   worker_ptr=np.zeros(len(workers) + 1, dtype=np.int64))

    @classmethod
    def concat(cls, tables: Sequence[AnnotationTable]) -> AnnotationTable:
        """One table of the items of ``tables`` in turn (which share one worker and one
        label codebook, as the pieces of a distributed table do); annotations kept as they are."""
        if not tables:
            raise InputError("concat needs at least one table")
        first = tables[0]
        offsets = np.cumsum([0] + [t.n_items for t in tables[:-1]])
        items = first.items.append([t.items for t in tables[1:]]) if len(tables) > 1 else first.items
        return cls.from_codes(
            np.concatenate([np.asarray(t.item_codes, np.int64) + o for t, o in zip(tables, offsets)]),
            np.concatenate([np.asarray(t.worker_codes, np.int64) for t in tables]),
            np.concatenate([np.asarray(t.label_codes, np.int64) for t in tables]),
            items=items, workers=first.workers, labels=first.labels, duplicates="keep")

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
            line), text that is not CSV, or a binary file (a NUL byte anywhere in
            the file; the message names its line).
        EmptyTableError
            An empty file, or a header without rows.
        """
        columns, cols = ingest.read_csv_columns(path, item_col=item_col, worker_col=worker_col,
                                                label_col=label_col, delimiter=delimiter, strip=strip)
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
            The file or folder.  A folder is read as its ``*.parquet`` and ``*.pq``
            files (any case; in subfolders too, hive partitions included), in sorted
            path order; other files (a README) and names starting with ``.`` or
            ``_`` (``_SUCCESS``) are not read.
        item_col, worker_col, label_col, labels, duplicates
            As in :meth:`from_pandas`.
        strip : bool
            Strip leading and trailing whitespace from every string id and label
            (default); ``False`` keeps every value exactly.  Column types are kept
            (a stripped string stays a string; an empty one is the empty string,
            Parquet having real nulls), except that binary columns (bytes without
            Parquet's UTF-8 annotation) are read as the text they spell.

        Raises
        ------
        InputFileNotFoundError, FileAccessError
            A missing or unreadable path.
        FormatError
            A file that is not Parquet (or truncated), or a folder whose files do
            not share one schema; an EncodingError (a FormatError) for binary ids
            or labels that are not UTF-8.
        EmptyTableError
            A folder without Parquet files (the message names the other files).
        """
        if duplicates not in _DUPLICATE_POLICIES:
            raise InputError(f"duplicates must be one of {_DUPLICATE_POLICIES}, got {duplicates!r}")
        stream = ingest.parquet_batches(path, item_col=item_col, worker_col=worker_col,
                                        label_col=label_col, strip=strip)
        if stream is not None:
            n_rows, cols, batches = stream
            del stream
            try:
                table = _build_streamed(n_rows, cols, batches, labels, duplicates)
            finally:
                batches.close()  # stops and joins the read-ahead thread on every way out
            del batches
            if table is not None:
                return table
        columns, cols = ingest.read_parquet_columns(path, item_col=item_col, worker_col=worker_col,
                                                    label_col=label_col, strip=strip)
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


# --------------------------------------------------------------------------- building
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
    return _finish_build(ic, items, wc, workers, lc_raw, lab_uniques, label_col, labels, duplicates, label_order)


def _build_streamed(
    n_rows: int, cols: tuple[str, str, str], batches: Any, labels: Sequence[Hashable] | None,
    duplicates: Duplicates,
) -> AnnotationTable | None:
    """The table of a streamed read (:func:`crowdagg.ingest.parquet_batches`): each batch's
    ids coded against running codebooks (:class:`~crowdagg.factorize.StreamCodes`) into
    preallocated int32 codes, and freed; only the codes and the codebooks are kept.
    None where a column needs the whole read (a null id, a type the streamed coder
    does not take, a hash collision, no rows): the caller then reads it whole, which
    gives the same table, or the same error."""
    from .factorize import StreamCodes, StreamLabels

    if n_rows == 0:
        return None
    idt = _index_dtype(n_rows)
    codes = [np.empty(n_rows, dtype=idt) for _ in range(3)]
    coders = [StreamCodes(), StreamCodes(), StreamLabels()]
    start = 0
    for arrays in batches:
        m = len(arrays[0])
        if start + m > n_rows:
            return None
        for coder, arr, out in zip(coders, arrays, codes):
            if not coder.add(arr, out, start):
                batches.close()
                return None
        start += m
    if start != n_rows:
        return None
    ic, wc, lc_raw = codes
    items, workers, lab_uniques = (c.uniques() for c in coders)
    del codes, coders
    import pyarrow as pa

    pa.default_memory_pool().release_unused()  # the batches' buffers, kept by Arrow's allocator
    return _finish_build(ic, items, wc, workers, lc_raw, lab_uniques, cols[2], labels, duplicates, None)


def _finish_build(
    ic: np.ndarray, items: pd.Index, wc: np.ndarray, workers: pd.Index, lc_raw: np.ndarray,
    lab_uniques: pd.Index, label_col: str, labels: Sequence[Hashable] | None, duplicates: Duplicates,
    label_order: pd.Index | None,
) -> AnnotationTable:
    """The table from coded columns: the label codebook, then the CSR layout."""
    if len(lab_uniques) == 0:
        raise EmptyTableError(f"every label in column {label_col!r} is null; nothing to aggregate")
    label_index, mapping = label_codebook(
        lab_uniques, labels, label_col, label_order,
        lambda unknown: f" (first rows: {_first_rows(np.isin(lc_raw, np.flatnonzero(unknown)))})")
    return _assemble(ic, wc, lc_raw, np.asarray(mapping, dtype=np.int64), items, workers, label_index,
                     duplicates, label_col)


#: below this many annotations the duplicate check runs in NumPy (the same flags as
#: :func:`~crowdagg.kernels.csr.mark_duplicates`): a first small fit compiles one kernel less
_NUMPY_DUPLICATE_ROWS = 1 << 15


def _mark_duplicates(item_ptr: np.ndarray, workers: np.ndarray, n_workers: int, keep_last: bool) -> np.ndarray:
    """Rows to drop as repeated (item, worker) pairs: every occurrence but the first (or the
    last) of a pair, rows of an item in input order (``mark_duplicates``'s rule)."""
    n = workers.shape[0]
    if n >= _NUMPY_DUPLICATE_ROWS:
        return mark_duplicates(item_ptr, workers, n_workers, keep_last)
    key = _expand_ptr(item_ptr, np.int64) * np.int64(max(n_workers, 1)) + workers.astype(np.int64)
    if keep_last:
        key = key[::-1]
    _, first = np.unique(key, return_index=True)  # the first occurrence of every pair
    drop = np.ones(n, dtype=bool)
    drop[first] = False
    return drop[::-1].copy() if keep_last else drop


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
        drop = _mark_duplicates(item_ptr, wc_s, n_workers, duplicates == "last")
        n_dup = int(drop.sum())
        if n_dup and duplicates == "error":
            order = np.empty(n, dtype=idt)  # the input row of every kept annotation
            build_item_csr(ic, wc, lc_raw, label_map, n_items, np.empty(n, dtype=idt),
                           np.empty(n, dtype=idt), order)
            rows = np.sort(order[:n_kept][drop])[:_N_EXAMPLES]
            pairs = [_plain((items[ic[r]], workers[wc[r]])) for r in rows]
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
