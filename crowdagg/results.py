"""The result type shared by every aggregation method."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["AggregationResult", "decode_labels"]


def decode_labels(labels: pd.Index, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """Series of original labels for ``codes`` (``-1`` = no label).

    Missing labels are ``<NA>``: integer labels then use pandas' nullable
    ``Int64`` dtype, booleans ``boolean``, anything else ``object`` with ``None``.
    Without missing labels the codebook's own dtype is kept.
    """
    codes = np.asarray(codes, dtype=np.int64)
    missing = codes < 0
    if not missing.any():
        return pd.Series(labels.take(codes).to_numpy(), index=index, name="label")
    kind = labels.dtype.kind
    if kind in "iu":
        values = pd.array(labels.to_numpy().take(np.where(missing, 0, codes)), dtype="Int64")
        values[missing] = pd.NA
    elif kind == "b":
        values = pd.array(labels.to_numpy().take(np.where(missing, 0, codes)), dtype="boolean")
        values[missing] = pd.NA
    else:
        values = np.asarray(labels.to_numpy(dtype=object).take(np.where(missing, 0, codes)), dtype=object)
        values[missing] = None
        return pd.Series(values, index=index, name="label", dtype=object)
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
        """Columns ``item``, ``label``, ``confidence`` (the top posterior), then one
        ``proba_<label>`` column per label."""
        out = pd.DataFrame({"item": self.labels.index, "label": self.labels.to_numpy()})
        p = self.probas.to_numpy()
        out["confidence"] = p.max(axis=1) if p.shape[1] else 0.0
        for j, lab in enumerate(self.probas.columns):
            out[f"proba_{lab}"] = p[:, j]
        return out

    def to_polars(self):
        """As :meth:`to_pandas`, as a polars DataFrame."""
        import polars as pl

        df = self.to_pandas()
        return pl.from_pandas(df)
