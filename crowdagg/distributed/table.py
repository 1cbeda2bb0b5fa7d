"""A distributed annotation table: integer-coded CSR pieces persisted on Dask workers.

:class:`DaskAnnotationTable` is built once from a ``dask.dataframe`` (or Parquet
files).  Building it

1. computes the global codebooks in one pass over the data: workers in order of
   first appearance (the local :class:`~crowdagg.table.AnnotationTable` order),
   labels sorted (or ``labels=`` / categorical order) -- both small;
2. shuffles the annotations **once** by item (hash partitioning), so that every
   item lives in exactly one partition, restoring the input order inside each
   partition (needed for ``duplicates="first"/"last"``);
3. turns every partition into an ordinary local :class:`AnnotationTable` (CSR by
   item) whose worker and label codes are the *global* codes and whose item
   codebook is the partition's own items, and persists those pieces in the
   workers' memory.

Every distributed algorithm then maps the serial slice kernels of
:mod:`crowdagg.kernels` over the persisted pieces (``client.submit`` per piece) and
tree-sums the small per-worker statistics; nothing is shuffled again.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_choice, check_int
from ..errors import (
    EmptyTableError,
    InputError,
    NullIdError,
)
from ..factorize import _check_one_kind, _factorize, _lookup, _typed_uniques, label_codebook
from ..ingest import _resolve_columns
from ..table import _DUPLICATE_POLICIES, AnnotationTable, Duplicates

__all__ = ["DaskAnnotationTable", "Piece"]

_PART, _POS = "__crowdagg_part", "__crowdagg_pos"


@dataclass(frozen=True)
class Piece:
    """One partition of a :class:`DaskAnnotationTable` (lives on a Dask worker).

    ``table`` is a local :class:`AnnotationTable` with the partition's items, the
    global worker codebook and the global label codebook; ``dropped`` counts rows
    dropped at ingest (``null_label``, ``duplicate``).
    """

    table: AnnotationTable
    dropped: dict[str, int]


# --------------------------------------------------------------------------- tasks (run on workers)
def _tag(df: pd.DataFrame, partition_info: dict | None = None) -> pd.DataFrame:
    """Add the input partition number and row position (input order, for duplicates)."""
    part = partition_info["number"] if partition_info else 0
    return df.assign(**{_PART: np.full(len(df), part, dtype=np.int64),
                        _POS: np.arange(len(df), dtype=np.int64)})


def _summarise(df: pd.DataFrame, item_col: str, worker_col: str, label_col: str) -> dict[str, Any]:
    """Per-partition facts for the codebooks: distinct workers (first-appearance
    order), distinct non-null labels, null id counts, row count."""
    lab = df[label_col]
    cats = lab.cat.categories if isinstance(lab.dtype, pd.CategoricalDtype) else None
    if cats is not None:
        lab = lab.astype(cats.dtype)
    return {
        "n_rows": len(df),
        "workers": pd.unique(df[worker_col].dropna()),
        "labels": pd.unique(lab.dropna()),
        "categories": cats,
        "null_items": int(df[item_col].isna().sum()),
        "null_workers": int(df[worker_col].isna().sum()),
    }


def _build_piece(df: pd.DataFrame, item_col: str, worker_col: str, label_col: str, workers: pd.Index,
                 labels: pd.Index, duplicates: str) -> Piece:
    """Turn one shuffled partition into a :class:`Piece` (global worker/label codes)."""
    if len(df):
        df = df.sort_values([_PART, _POS], kind="stable")
    ic, items = _factorize(df[item_col], item_col, "item id")  # the local rules: one kind, exact values
    wc = _lookup(workers, pd.Index(df[worker_col]))
    lab = df[label_col]
    if isinstance(lab.dtype, pd.CategoricalDtype):
        lab = lab.astype(lab.cat.categories.dtype)
    keep = lab.notna().to_numpy()
    n_null = int((~keep).sum())
    lc = _lookup(labels, pd.Index(lab[keep]))
    ic, wc = np.asarray(ic, np.int64)[keep], wc[keep]
    if ic.size == 0:
        table = AnnotationTable.empty(items, workers, labels)
        return Piece(table, {"null_label": n_null, "duplicate": 0})
    table = AnnotationTable.from_codes(ic, wc, lc, items=items, workers=workers, labels=labels,
                                       duplicates=duplicates)
    return Piece(table, {"null_label": n_null, "duplicate": int(table.dropped.get("duplicate", 0))})


def _piece_meta(piece: Piece) -> dict[str, Any]:
    t = piece.table
    return {
        "n_items": t.n_items,
        "n_annotations": t.n_annotations,
        "worker_counts": t.worker_counts().astype(np.int64),
        "label_counts": t.label_counts().astype(np.int64),
        "items_without": int((t.item_counts() == 0).sum()),
        "dropped": piece.dropped,
    }


def _item_index(piece: Piece) -> pd.Index:
    return piece.table.items


# --------------------------------------------------------------------------- the table
class DaskAnnotationTable:
    """Annotations spread over a Dask cluster, one item per partition, CSR-coded.

    Build one with :meth:`from_dask_dataframe` or :meth:`read_parquet`.  It
    holds the global codebooks (``workers``, ``labels``: pandas, small) on the
    client and one :class:`Piece` future per partition on the workers.  Pass it
    to :func:`crowdagg.distributed.fit` (or, once the estimators dispatch to it,
    to their ``fit``) and to the distributed agreement coefficients.

    Attributes
    ----------
    workers, labels : pandas.Index
        Global codebooks (same order as a local table built from the same rows:
        workers by first appearance, labels sorted unless given).
    pieces : list of distributed.Future
        One :class:`Piece` per partition, persisted.
    n_items, n_workers, n_labels, n_annotations, n_partitions : int
    item_col : str
        Name of the item column of the input.
    item_dtype : dtype
        dtype of the item ids (index of the per-item results).
    client : distributed.Client
    """

    #: marks a distributed table for :func:`crowdagg.base.is_distributed_table`
    crowdagg_distributed = True
    #: pieces summed per node of the reduction trees of a fit
    fan_in = 8

    def executor(self, gold: Any = None, rng: Any = None) -> Any:
        """The :class:`~crowdagg.distributed.executor.DaskExecutor` that estimators fit through."""
        from .executor import DaskExecutor

        return DaskExecutor(self, gold=gold, rng=rng, fan_in=self.fan_in)

    def __init__(self, *, client: Any, pieces: list[Any], workers: pd.Index, labels: pd.Index,
                 meta: list[dict[str, Any]], item_col: str, item_dtype: Any = object) -> None:
        self.client = client
        self.pieces = pieces
        self.workers = workers.rename("worker")
        self.labels = labels.rename("label")
        self.item_col = item_col
        self.item_dtype = item_dtype
        self._meta = meta
        self.n_items = int(sum(m["n_items"] for m in meta))
        self.n_annotations = int(sum(m["n_annotations"] for m in meta))
        self._worker_counts = sum((m["worker_counts"] for m in meta), np.zeros(len(workers), np.int64))
        self._label_counts = sum((m["label_counts"] for m in meta), np.zeros(len(labels), np.int64))
        self._book: AnnotationTable | None = None

    # ----------------------------------------------------------------- sizes
    @property
    def n_workers(self) -> int:
        """Number of workers."""
        return len(self.workers)

    @property
    def n_labels(self) -> int:
        """Number of labels."""
        return len(self.labels)

    @property
    def n_partitions(self) -> int:
        """Number of pieces (partitions after the shuffle by item)."""
        return len(self.pieces)

    def __len__(self) -> int:
        return self.n_annotations

    def __repr__(self) -> str:
        return (f"DaskAnnotationTable(n_annotations={self.n_annotations}, n_items={self.n_items}, "
                f"n_workers={self.n_workers}, n_labels={self.n_labels}, n_partitions={self.n_partitions})")

    def worker_counts(self) -> np.ndarray:
        """Annotations per worker, in worker-code order."""
        return self._worker_counts.copy()

    def label_counts(self) -> np.ndarray:
        """Annotations per label, in label-code order."""
        return self._label_counts.copy()

    def partition_sizes(self) -> np.ndarray:
        """``(n_items, n_annotations)`` per piece."""
        return np.array([[m["n_items"], m["n_annotations"]] for m in self._meta], dtype=np.int64).reshape(-1, 2)

    @property
    def dropped(self) -> dict[str, int]:
        """Rows dropped at ingest, by reason (``null_label``, ``duplicate``)."""
        return {k: int(sum(m["dropped"].get(k, 0) for m in self._meta)) for k in ("null_label", "duplicate")}

    @property
    def codebook(self) -> AnnotationTable:
        """A one-annotation local table carrying the global worker and label codebooks
        (for encoding worker values, labels and gold answers on the client)."""
        if self._book is None:
            self._book = AnnotationTable.from_codes([0], [0], [0], items=1, workers=self.workers,
                                                    labels=self.labels)
        return self._book

    def item_index(self) -> pd.Index:
        """Every item id, piece by piece (gathers ``n_items`` ids: for tests and small data)."""
        futs = [self.client.submit(_item_index, p, pure=False) for p in self.pieces]
        parts = self.client.gather(futs)
        return parts[0].append(parts[1:]) if len(parts) > 1 else parts[0]

    def to_local(self) -> AnnotationTable:
        """Gather everything into one local :class:`AnnotationTable` (small data only).

        Items come piece by piece; workers and labels keep the global codebooks.
        """
        return AnnotationTable.concat([p.table for p in self.client.gather(self.pieces)])

    # ----------------------------------------------------------------- constructors
    @classmethod
    def from_dask_dataframe(
        cls,
        ddf: Any,
        *,
        item_col: str | None = None,
        worker_col: str = "worker",
        label_col: str = "label",
        labels: Sequence[Hashable] | None = None,
        duplicates: Duplicates = "error",
        npartitions: int | None = None,
        client: Any = None,
    ) -> DaskAnnotationTable:
        """Build from a ``dask.dataframe.DataFrame`` with one annotation per row.

        Parameters
        ----------
        ddf : dask.dataframe.DataFrame
            The annotations (never modified).  A pandas DataFrame is accepted too
            and split into ``npartitions``.
        item_col, worker_col, label_col, labels, duplicates
            As :meth:`crowdagg.table.AnnotationTable.from_pandas`.
        npartitions : int, optional
            Number of pieces after the shuffle by item (default: as the input).
        client : distributed.Client, optional
            Default: the current client (``distributed.get_client()``).

        Raises
        ------
        MissingColumnError, NullIdError, UnknownLabelError, DuplicateAnnotationError,
        EmptyTableError, InputError
            As the local table does, for the same data.
        """
        import dask
        import dask.dataframe as dd
        from distributed import get_client

        if isinstance(ddf, pd.DataFrame):
            ddf = dd.from_pandas(ddf, npartitions=npartitions or 2, sort=False)
        if not isinstance(ddf, dd.DataFrame):
            raise InputError(f"from_dask_dataframe expects a dask DataFrame, got {type(ddf).__name__}")
        check_choice("duplicates", duplicates, _DUPLICATE_POLICIES)
        if npartitions is not None:
            check_int("npartitions", npartitions, 1)
        if client is None:
            try:
                client = get_client()
            except ValueError:
                raise InputError("no Dask client: start one (distributed.Client(...)) or pass client=") from None
        cols = _resolve_columns(list(ddf.columns), item_col, worker_col, label_col)
        item_col, worker_col, label_col = cols
        ddf = ddf[list(cols)]

        # 1. codebooks (one pass)
        summaries = dask.compute(*[dask.delayed(_summarise)(p, *cols) for p in ddf.to_delayed()])
        n_rows = sum(s["n_rows"] for s in summaries)
        if n_rows == 0:
            raise EmptyTableError("the annotation table is empty (0 rows)")
        for what, col in (("null_items", item_col), ("null_workers", worker_col)):
            n_null = sum(s[what] for s in summaries)
            if n_null:
                raise NullIdError(f"column {col!r} has {n_null} null id(s); drop or fill those rows first")
        workers = _first_appearance([s["workers"] for s in summaries], worker_col, "worker id")
        label_index = _label_codebook(summaries, labels, label_col)

        # 2. one shuffle by item, input order kept inside each partition
        tagged = ddf.map_partitions(_tag, meta=_tag(ddf._meta))
        shuffled = tagged.shuffle(on=item_col, npartitions=npartitions or ddf.npartitions)

        # 3. pieces persisted on the workers
        wfut = client.scatter(workers, broadcast=True, hash=False)
        lfut = client.scatter(label_index, broadcast=True, hash=False)
        parts = client.compute(shuffled.to_delayed())
        pieces = [client.submit(_build_piece, p, *cols, wfut, lfut, duplicates, pure=False) for p in parts]
        metas = client.gather([client.submit(_piece_meta, p, pure=False) for p in pieces],
                              errors="raise")
        del parts
        table = cls(client=client, pieces=pieces, workers=workers, labels=label_index, meta=metas,
                    item_col=item_col, item_dtype=ddf._meta[item_col].dtype)
        if table.n_annotations == 0:
            raise EmptyTableError(f"every label in column {label_col!r} is null; nothing to aggregate")
        return table

    @classmethod
    def read_parquet(
        cls,
        path: str | os.PathLike | Sequence[str],
        *,
        item_col: str | None = None,
        worker_col: str = "worker",
        label_col: str = "label",
        labels: Sequence[Hashable] | None = None,
        duplicates: Duplicates = "error",
        npartitions: int | None = None,
        client: Any = None,
        **read_kwargs: Any,
    ) -> DaskAnnotationTable:
        """Read Parquet files (a path, a glob, a folder or a list) with ``dask.dataframe.read_parquet``
        and build the table; see :meth:`from_dask_dataframe`."""
        import dask.dataframe as dd

        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        ddf = dd.read_parquet(path, **read_kwargs)
        return cls.from_dask_dataframe(ddf, item_col=item_col, worker_col=worker_col, label_col=label_col,
                                       labels=labels, duplicates=duplicates, npartitions=npartitions,
                                       client=client)


# --------------------------------------------------------------------------- codebook helpers
def _first_appearance(parts: list[Any], column: str, what: str) -> pd.Index:
    """Distinct values in order of first appearance over partitions in order."""
    arrays = [np.asarray(p, dtype=object) for p in parts if len(p)]
    if not arrays:
        return pd.Index([])
    uniq = pd.unique(np.concatenate(arrays))
    dtypes = {pd.Index(p).dtype for p in parts if len(p)}
    if len(dtypes) == 1 and object not in dtypes:  # restore a typed index (ints stay ints)
        return pd.Index(uniq).astype(dtypes.pop())
    return _typed_uniques(uniq, _check_one_kind(uniq, column, what))  # the local table's rule


def _label_codebook(summaries: Sequence[dict[str, Any]], labels: Sequence[Hashable] | None,
                    label_col: str) -> pd.Index:
    uniques = _first_appearance([s["labels"] for s in summaries], label_col, "label")
    if len(uniques) == 0:
        raise EmptyTableError(f"every label in column {label_col!r} is null; nothing to aggregate")
    cats = next((pd.Index(s["categories"]) for s in summaries if s["categories"] is not None), None)
    return label_codebook(uniques, labels, label_col, cats if labels is None else None)[0]

