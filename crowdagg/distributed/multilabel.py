"""Multi-label (checkbox) answers on Dask: the distributed checkbox table and its result.

:class:`DaskCheckboxTable` is the distributed twin of
:func:`crowdagg.methods.multilabel.checkbox_table`, built as
:class:`~crowdagg.distributed.DaskAnnotationTable` builds its table:

1. one pass over the input partitions (materialised once in the workers' memory;
   a pandas frame is scattered in chunks as it is) reads every label-set cell
   (Arrow: list cells, or ``sep`` strings split by ``pyarrow.compute``; no Python
   step per answer) and returns the partition's distinct workers (first
   appearance), distinct ticked labels and null counts; the client makes the
   global codebooks -- workers in order of first appearance, the label set by the
   local rules (``labels=``, else the sorted ticked labels; the text-label rule on
   the distinct labels of ``sep`` strings);
2. every input partition becomes integer *answer rows*
   (:func:`crowdagg.methods.multilabel._answer_rows`: item id, global worker code,
   label code -- ``C`` the answer marker, ``-1`` a null answer -- and the answer's
   input position), which are shuffled **once** by ``hash(item)``: all answers of
   an item, and so every repeated (item, worker) answer, land in one piece; no
   Python list cell crosses the network;
3. every piece becomes an ordinary local checkbox table (label codes ``0 .. C-1``
   ticked, ``C`` one answer marker per answer) with the global worker codebook, by
   the local table's own code (:func:`crowdagg.methods.multilabel._explode`:
   answers in input order, ``duplicates`` as locally), persisted on the workers.

:class:`~crowdagg.MultiLabel` then fits it through the one EM core: its plug-in
(:class:`~crowdagg.methods.multilabel.MultiLabelModel`) runs piece by piece in
:class:`~crowdagg.distributed.executor.DaskExecutor` (serial slice kernels), the
per-worker statistics are tree-summed and the M-step runs on the client.  The
per-item result (:class:`DaskMultiLabelResult`) is built lazily per piece.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_int
from ..errors import EmptyTableError, InputError, NullIdError
from ..factorize import _factorize, _label_set, _lookup, label_codebook
from ..methods.multilabel import (
    MultiLabelResult,
    _answer_rows,
    _check_options,
    _explode,
    _flat_labels,
    _result_frames,
    _text_rule,
)
from .table import DaskAnnotationTable, Piece, _first_appearance, _piece_meta

#: columns of the answer rows that are shuffled (besides the item id)
_W, _CODE, _ANS = "__crowdagg_worker", "__crowdagg_code", "__crowdagg_answer"

__all__ = ["DaskCheckboxTable", "DaskMultiLabelResult", "multilabel_result"]


# --------------------------------------------------------------------------- tasks (run on workers)
def _summarise(df: pd.DataFrame, item_col: str, worker_col: str, label_col: str, sep: str | None
               ) -> dict[str, Any]:
    """Per-partition facts for the codebooks (the label cells read as the local table does:
    bad cells raise the local errors here)."""
    _, uniques, _, null, from_text = _flat_labels(df[label_col].to_numpy(dtype=object), sep, label_col)
    return {
        "n_rows": len(df),
        "workers": pd.unique(df[worker_col].dropna()),
        "labels": uniques,
        "from_text": bool(from_text),
        "n_null": int(null.sum()),
        "null_items": int(df[item_col].isna().sum()),
        "null_workers": int(df[worker_col].isna().sum()),
    }


def _rows(df: pd.DataFrame, part: int, item_col: str, worker_col: str, label_col: str, sep: str | None,
          workers: pd.Index, label_set: pd.Index, parse: bool) -> pd.DataFrame:
    """One input partition as answer rows (:func:`crowdagg.methods.multilabel._answer_rows`):
    item id, global worker code, label code (``C``: the answer marker, ``-1``: a null
    answer) and the answer's input order (partition, row) -- integers only, for the shuffle."""
    fc, uniques, lengths, null, from_text = _flat_labels(df[label_col].to_numpy(dtype=object), sep, label_col)
    if parse:  # the text-label rule chosen on the global distinct labels
        uniques, _ = _text_rule(uniques, from_text)
    mapping = _lookup(label_set, pd.Index(uniques)) if len(uniques) else np.empty(0, np.int64)
    wc = _lookup(workers, pd.Index(df[worker_col]))
    if (mapping < 0).any() or (wc < 0).any():  # pragma: no cover - the codebooks hold every value
        raise InputError("a partition holds a worker or a label missing from the global codebooks")
    answer, code = _answer_rows(null, lengths, mapping[fc] if len(fc) else np.empty(0, np.int64), len(label_set))
    out = pd.DataFrame({item_col: df[item_col].iloc[answer].reset_index(drop=True)})
    out[_W] = wc[answer]
    out[_CODE] = code
    out[_ANS] = (np.int64(part) << np.int64(40)) + answer
    return out


def _build_piece(df: pd.DataFrame, item_col: str, workers: pd.Index, n_labels: int, duplicates: str) -> Piece:
    """One shuffled partition of answer rows as a local checkbox table (global worker codes)."""
    if len(df):
        df = df.sort_values(_ANS, kind="stable")  # items in input order
    ic, items = _factorize(df[item_col], item_col, "item id")
    table = _explode(np.asarray(ic, np.int64), df[_W].to_numpy(np.int64), df[_ANS].to_numpy(np.int64),
                     df[_CODE].to_numpy(np.int64), items, workers, n_labels, duplicates)
    return Piece(table, dict(table.dropped))


def _piece_result(piece: Piece, state: Any, label_set: pd.Index, threshold: float
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    return _result_frames(piece.table, state.post, label_set, threshold)


def _first(x: tuple[Any, Any]) -> Any:
    return x[0]


def _second(x: tuple[Any, Any]) -> Any:
    return x[1]


# --------------------------------------------------------------------------- the table
class DaskCheckboxTable(DaskAnnotationTable):
    """Multi-label answers spread over a Dask cluster: a distributed checkbox table.

    A :class:`~crowdagg.distributed.DaskAnnotationTable` whose pieces are the local
    checkbox tables of :func:`crowdagg.methods.multilabel.checkbox_table` (label
    codes ``0 .. C-1`` for ticked labels, ``C`` an answer marker per answer), every
    item in one piece.  Build one with :meth:`from_dask_dataframe` or
    :meth:`read_parquet` and pass it to :class:`crowdagg.MultiLabel`'s ``fit``
    (``MultiLabel().fit(ddf)`` on a dask DataFrame builds it too).

    Attributes
    ----------
    label_set : pandas.Index
        The ``C`` labels, in column order (the local :func:`checkbox_table`'s).
    labels : pandas.Index
        The checkbox codes ``0 .. C`` (what the plug-in sees).
    workers, pieces, n_items, n_workers, n_partitions, item_col, item_dtype, client
        As :class:`~crowdagg.distributed.DaskAnnotationTable`.
    n_annotations : int
        Rows of the checkbox table: answers plus ticked labels.
    """

    #: marks a distributed checkbox table (checked by MultiLabel without importing Dask)
    crowdagg_checkbox = True

    def __init__(self, *, label_set: pd.Index, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.label_set = label_set.rename("label")

    def __repr__(self) -> str:
        return (f"DaskCheckboxTable(n_answers={int(self.label_counts()[-1])}, n_items={self.n_items}, "
                f"n_workers={self.n_workers}, n_labels={len(self.label_set)}, n_partitions={self.n_partitions})")

    @property
    def dropped(self) -> dict[str, int]:
        """Rows dropped at ingest, by reason (``null_answer``, ``duplicate``)."""
        return {k: int(sum(m["dropped"].get(k, 0) for m in self._meta)) for k in ("null_answer", "duplicate")}

    @classmethod
    def from_dask_dataframe(  # type: ignore[override]
        cls,
        ddf: Any,
        *,
        item_col: str | None = None,
        worker_col: str = "worker",
        label_col: str | None = None,
        sep: str | None = None,
        labels: Sequence[Hashable] | None = None,
        duplicates: str = "error",
        npartitions: int | None = None,
        client: Any = None,
    ) -> DaskCheckboxTable:
        """Build from a ``dask.dataframe.DataFrame`` with one answer (a label set) per row.

        Parameters
        ----------
        ddf : dask.dataframe.DataFrame
            The answers (never modified); a pandas DataFrame is split into
            ``npartitions`` (default 2).
        item_col, worker_col, label_col, sep, labels, duplicates
            As :func:`crowdagg.methods.multilabel.checkbox_table`.
        npartitions : int, optional
            Pieces after the shuffle by item (default: as the input).
        client : distributed.Client, optional
            Default: the current client.

        Raises
        ------
        MissingColumnError, NullIdError, UnknownLabelError, DuplicateAnnotationError,
        EmptyTableError, InputError
            As the local :func:`checkbox_table` does for the same data (row numbers in
            messages count within the input partition).
        """
        import dask
        import dask.dataframe as dd
        from distributed import get_client

        if type(ddf).__module__.startswith("polars"):
            ddf = ddf.to_pandas()
        local = isinstance(ddf, pd.DataFrame)
        if not local and not isinstance(ddf, dd.DataFrame):
            raise InputError(f"from_dask_dataframe expects a dask DataFrame, got {type(ddf).__name__}")
        if npartitions is not None:
            check_int("npartitions", npartitions, 1)
        item_col, worker_col, label_col = _check_options(ddf, item_col, worker_col, label_col, sep, duplicates)
        label_given = _label_set(labels) if labels is not None else None
        if client is None:
            try:
                client = get_client()
            except ValueError:
                raise InputError("no Dask client: start one (distributed.Client(...)) or pass client=") from None
        cols = (item_col, worker_col, label_col)
        if local:  # scattered in chunks as they are (no dask graph: list cells stay lists, nothing to hash)
            frame = ddf[list(cols)]
            bounds = np.linspace(0, len(frame), (npartitions or 2) + 1).astype(np.int64)
            inputs = client.scatter([frame.iloc[bounds[i]:bounds[i + 1]] for i in range(len(bounds) - 1)],
                                    hash=False)
            meta = frame.iloc[:0]
        else:
            if sep is None and pd.api.types.is_string_dtype(ddf._meta[label_col].dtype) \
                    and not pd.api.types.is_object_dtype(ddf._meta[label_col].dtype):
                raise InputError(
                    f"column {label_col!r} of this dask DataFrame holds strings, not label sets: dask turns list "
                    "cells into strings unless the frame is made under dask.config.set({'dataframe.convert-string': "
                    "False}) (or pass the pandas DataFrame here); for delimited strings pass sep=")
            ddf = ddf[list(cols)]
            inputs, meta = client.compute(ddf.to_delayed()), ddf._meta
        with dask.config.set({"dataframe.convert-string": False}):  # ids shuffled as they are
            return cls._build(inputs, meta, cols, sep, labels, label_given, duplicates, npartitions, client)

    @classmethod
    def _build(cls, inputs: list[Any], meta: pd.DataFrame, cols: tuple[str, str, str], sep: str | None, labels: Any,
               label_given: Any, duplicates: str, npartitions: int | None, client: Any) -> DaskCheckboxTable:
        """Steps 1-3 of the module docstring, from futures of the input partitions."""
        import dask.dataframe as dd

        item_col, worker_col, label_col = cols
        # 1. codebooks (one pass over the input partitions, kept in the workers' memory for step 2)
        summaries = client.gather([client.submit(_summarise, p, *cols, sep, pure=False) for p in inputs])
        n_rows = sum(s["n_rows"] for s in summaries)
        if n_rows == 0:
            raise EmptyTableError("the annotation table is empty (0 rows)")
        for what, col in (("null_items", item_col), ("null_workers", worker_col)):
            n_null = sum(s[what] for s in summaries)
            if n_null:
                raise NullIdError(f"column {col!r} has {n_null} null id(s); drop or fill those rows first")
        if sum(s["n_null"] for s in summaries) == n_rows:
            raise EmptyTableError(f"every answer in column {label_col!r} is null; nothing to aggregate")
        workers = _first_appearance([s["workers"] for s in summaries], worker_col, "worker id")
        uniques = _first_appearance([s["labels"] for s in summaries], label_col, "label")
        uniques, parse = _text_rule(pd.Index(uniques), any(s["from_text"] for s in summaries))
        if label_given is None and len(uniques) == 0:
            raise EmptyTableError(f"no answer in column {label_col!r} ticks a label; give the label set with labels=")
        label_set, _ = label_codebook(pd.Index(uniques), labels, label_col)

        # 2. every input partition as integer answer rows, shuffled ONCE by item
        wfut = client.scatter(workers, broadcast=True, hash=False)
        lfut = client.scatter(label_set, broadcast=True, hash=False)
        rows = [client.submit(_rows, p, i, *cols, sep, wfut, lfut, parse, pure=False) for i, p in enumerate(inputs)]
        del inputs
        row_meta = _rows(meta, 0, *cols, sep, workers, label_set, parse)
        shuffled = dd.from_delayed(rows, meta=row_meta, verify_meta=False).shuffle(
            on=item_col, npartitions=npartitions or len(rows))

        # 3. pieces persisted on the workers
        parts = client.compute(shuffled.to_delayed())
        pieces = [client.submit(_build_piece, p, item_col, wfut, len(label_set), duplicates, pure=False)
                  for p in parts]
        metas = client.gather([client.submit(_piece_meta, p, pure=False) for p in pieces], errors="raise")
        del parts, rows
        return cls(client=client, pieces=pieces, workers=workers, labels=pd.RangeIndex(len(label_set) + 1),
                   meta=metas, item_col=item_col, item_dtype=meta[item_col].dtype, label_set=label_set)

    @classmethod
    def read_parquet(  # type: ignore[override]
        cls,
        path: str | os.PathLike | Sequence[str],
        *,
        item_col: str | None = None,
        worker_col: str = "worker",
        label_col: str | None = None,
        sep: str | None = None,
        labels: Sequence[Hashable] | None = None,
        duplicates: str = "error",
        npartitions: int | None = None,
        client: Any = None,
        **read_kwargs: Any,
    ) -> DaskCheckboxTable:
        """Read Parquet files (list columns, or ``sep`` strings) with
        ``dask.dataframe.read_parquet`` and build the table; see :meth:`from_dask_dataframe`."""
        import dask.dataframe as dd

        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        ddf = dd.read_parquet(path, **read_kwargs)
        return cls.from_dask_dataframe(ddf, item_col=item_col, worker_col=worker_col, label_col=label_col,
                                       sep=sep, labels=labels, duplicates=duplicates, npartitions=npartitions,
                                       client=client)


# --------------------------------------------------------------------------- the result
@dataclass(frozen=True)
class DaskMultiLabelResult:
    """Labels and per-label probabilities of a distributed multi-label fit.

    Attributes
    ----------
    labels : dask.dataframe.DataFrame
        Items x labels, pandas ``boolean`` (``<NA>`` for items without answers),
        indexed by item id, one partition per piece.
    probas : dask.dataframe.DataFrame
        Items x labels, the probability that each label applies.
    label_set : pandas.Index
        The labels (column order).
    sep : str or None
        Joins the chosen labels in :meth:`to_pandas`.
    """

    labels: Any
    probas: Any
    label_set: pd.Index
    sep: str | None = None

    def compute(self) -> MultiLabelResult:
        """Gather into a local :class:`~crowdagg.methods.multilabel.MultiLabelResult`
        (items in piece order; small data only)."""
        import dask

        lab, prob = dask.compute(self.labels, self.probas)
        lab.columns, prob.columns = self.label_set, self.label_set
        return MultiLabelResult(labels=lab, probas=prob, sep=self.sep)

    def to_pandas(self) -> pd.DataFrame:
        """:meth:`MultiLabelResult.to_pandas` of the gathered result."""
        return self.compute().to_pandas()

    def to_polars(self) -> Any:
        """:meth:`MultiLabelResult.to_polars` of the gathered result."""
        return self.compute().to_polars()


def multilabel_result(executor: Any, label_set: pd.Index, threshold: float, sep: str | None
                      ) -> DaskMultiLabelResult:
    """The lazy per-piece result of a finished :class:`DaskExecutor` run (its posteriors)."""
    import dask
    import dask.dataframe as dd

    dt = executor.dt
    idx = pd.Index([], dtype=dt.item_dtype, name="item")
    cols = label_set.rename("label")
    probas_meta = pd.DataFrame(np.zeros((0, len(cols))), index=idx, columns=cols)
    labels_meta = probas_meta.astype("boolean")
    parts = [dask.delayed(_piece_result, pure=False)(p, s, label_set, threshold)
             for p, s in zip(dt.pieces, executor.posteriors)]
    labels = dd.from_delayed([dask.delayed(_first)(x) for x in parts], meta=labels_meta, verify_meta=False)
    probas = dd.from_delayed([dask.delayed(_second)(x) for x in parts], meta=probas_meta, verify_meta=False)
    return DaskMultiLabelResult(labels=labels, probas=probas, label_set=cols, sep=sep)
