"""Results of a distributed fit: Dask collections for items, pandas for workers."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..results import AggregationResult
from ..results import label_dtype as label_meta_dtype

__all__ = ["DaskAggregationResult", "label_meta_dtype"]


@dataclass(frozen=True)
class DaskAggregationResult:
    """Consensus labels and posteriors of a :class:`~crowdagg.distributed.DaskAnnotationTable`.

    Attributes
    ----------
    frame : dask.dataframe.DataFrame
        Indexed by item id (name ``item``), one partition per piece: ``label``,
        ``confidence`` (the posterior of the label), then ``proba_<label>`` per label -- the
        columns of :meth:`crowdagg.results.AggregationResult.to_pandas`.
    labels_codebook : pandas.Index
        The label set (column order of the posteriors).
    """

    frame: Any
    labels_codebook: pd.Index

    @property
    def labels(self) -> Any:
        """Dask Series of labels by item id (missing for items without annotations)."""
        return self.frame["label"]

    @property
    def probas(self) -> Any:
        """Dask DataFrame of posteriors, items x labels (columns are the labels)."""
        cols = [f"proba_{c}" for c in self.labels_codebook]
        return self.frame[cols].rename(columns=dict(zip(cols, self.labels_codebook)))

    def compute(self) -> AggregationResult:
        """Gather into a local :class:`~crowdagg.results.AggregationResult` (items in piece order)."""
        df = self.frame.compute()
        post = df[[f"proba_{c}" for c in self.labels_codebook]].to_numpy(dtype=np.float64)
        labels = pd.Series(df["label"].to_numpy(), index=df.index, name="label")
        if labels.dtype == object and self.labels_codebook.dtype.kind not in "O":
            labels = labels.astype(self.labels_codebook.dtype) if not labels.isna().any() else labels
        probas = pd.DataFrame(post, index=df.index, columns=self.labels_codebook)
        return AggregationResult(labels=labels, probas=probas)

    def to_parquet(self, path: str | os.PathLike, **kwargs: Any) -> Any:
        """Write :attr:`frame` as Parquet files (one per piece), in parallel on the workers."""
        return self.frame.to_parquet(os.fspath(path), **kwargs)

