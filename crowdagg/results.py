"""The result type shared by every aggregation method."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["AggregationResult", "decode_labels", "label_dtype"]


def label_dtype(labels: pd.Index) -> Any:
    """The dtype of ``labels_`` for a label set, whatever the data (local and Dask fits alike).

    pandas' nullable dtypes for numbers and bools (``Int64``, ``UInt64``, ``Float64``,
    ``boolean``), ``object`` otherwise (strings and other values, ``None`` where missing),
    so that an item without answers never changes the dtype.
    """
    kind = labels.dtype.kind
    return {"i": "Int64", "u": "UInt64", "f": "Float64", "b": "boolean"}.get(kind, object)


def decode_labels(labels: pd.Index, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """Series of original labels for ``codes`` (``-1`` = no label), of dtype
    :func:`label_dtype` whether or not some are missing (``<NA>``, or ``None`` for
    ``object``)."""
    codes = np.asarray(codes, dtype=np.int64)
    missing = codes < 0
    dtype = label_dtype(labels)
    taken = labels.to_numpy(dtype=object if dtype is object else None).take(np.where(missing, 0, codes))
    if dtype is object:
        values = np.asarray(taken, dtype=object)
        values[missing] = None
        return pd.Series(values, index=index, name="label", dtype=object)
    values = pd.array(taken, dtype=dtype)
    values[missing] = pd.NA
    return pd.Series(values, index=index, name="label")


@dataclass(frozen=True)
class AggregationResult:
    """Consensus labels and posteriors for every item of a table.

    Attributes
    ----------
    labels : pandas.Series
        One label per item, indexed by original item id (name ``item``).  Items with
        no annotation (and no gold answer) have a missing label (``<NA>``/``None``).
    probas : pandas.DataFrame
        Items x labels posterior probabilities; every row sums to 1 and holds no
        NaN.  For items without annotations the row is the method's prior (uniform
        for majority vote, the fitted class priors for EM methods).
    """

    labels: pd.Series
    probas: pd.DataFrame

    @classmethod
    def from_codes(cls, table, posteriors: np.ndarray, label_codes: np.ndarray) -> AggregationResult:
        """Build from posteriors and label codes in the table's code order."""
        post = np.asarray(posteriors, dtype=np.float64)
        if post.shape != (table.n_items, table.n_labels):
            raise ValueError(f"posteriors must be {(table.n_items, table.n_labels)}, got {post.shape}")
        if not np.all(np.isfinite(post)):  # a bug, never user input
            raise FloatingPointError("non-finite posterior probabilities")
        labels = decode_labels(table.labels, label_codes, table.items)
        probas = pd.DataFrame(post, index=table.items, columns=table.labels)
        return cls(labels=labels, probas=probas)

    def to_pandas(self) -> pd.DataFrame:
        """Columns ``item``, ``label``, ``confidence``, then one ``proba_<label>`` column per label.

        ``confidence`` is the posterior probability of ``label``, the output label (for most
        methods the top posterior; not so for the posterior median of ordinal methods); for an
        item without a label (no annotations) it is the top probability of its row, the prior.
        """
        p = self.probas.to_numpy(dtype=np.float64)
        head = pd.DataFrame({"item": self.labels.index, "label": self.labels.to_numpy(),
                             "confidence": self._confidence(p)})
        # the posterior block in one go: a column at a time fragments the frame (PerformanceWarning)
        block = pd.DataFrame(p, columns=[f"proba_{lab}" for lab in self.probas.columns])
        return pd.concat([head, block], axis=1)

    def _confidence(self, p: np.ndarray) -> np.ndarray:
        """The posterior of each item's label (the row maximum where the label is missing)."""
        if not self.probas.columns.is_unique:  # not a crowdagg result: no label -> column map
            return label_confidence(p, np.full(p.shape[0], -1, np.int64))
        return label_confidence(p, self.probas.columns.get_indexer(self.labels.to_numpy()))

    def to_polars(self):
        """As :meth:`to_pandas`, as a polars DataFrame."""
        import polars as pl

        df = self.to_pandas()
        return pl.from_pandas(df)


def label_confidence(post: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The ``confidence`` column: ``post[i, codes[i]]``, the posterior of item ``i``'s output
    label (for ordinal models the posterior median, which need not be the most probable
    level); the row maximum where ``codes[i] < 0`` (no label); zeros without labels."""
    if not post.shape[1]:
        return np.zeros(post.shape[0])
    codes = np.asarray(codes, dtype=np.int64)
    picked = post[np.arange(post.shape[0]), np.clip(codes, 0, post.shape[1] - 1)]
    return np.where(codes >= 0, picked, post.max(axis=1))
