"""Agreement coefficients that are sums over items, on a :class:`DaskAnnotationTable`.

Each coefficient maps the serial per-item kernels of
:mod:`crowdagg.kernels.agreement` over the pieces (every item lives in one piece),
tree-sums the small per-piece sums and finishes on the client with the local
formulas of :mod:`crowdagg.agreement`:

* :func:`krippendorff_alpha` -- pass 1: pairable marginals of the coincidence
  matrix; pass 2: per-item observed disagreement; pass 3: Gwet's linearisation SE.
* :func:`fleiss_kappa` (and ``gwet_ac``/``brennan_prediger``/``percent_agreement``
  through ``kind``) -- pass 1: per-item agreeing pairs and label shares; pass 2: SE.
* :func:`pairwise_cohen_kappa` -- per piece, the contingency counts of every pair of
  workers on shared items (sparse), summed; kappas on the client.

Bootstrap intervals are not offered here (they resample items across pieces).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._agreement_common import (
    LEVELS,
    _check_common,
    _check_dense_labels,
    _level_values,
    _weights_matrix,
    alpha_core,
    family_core,
    pairs_frame,
)
from .._validation import check_choice, check_int
from ..agreement import AgreementResult
from ..errors import InputError
from . import _tasks as T
from .executor import tree_sum
from .table import DaskAnnotationTable

__all__ = ["krippendorff_alpha", "fleiss_kappa", "agreement_family", "pairwise_cohen_kappa"]


def _check_table(table: Any) -> DaskAnnotationTable:
    if not isinstance(table, DaskAnnotationTable):
        raise InputError(f"expected a DaskAnnotationTable, got {type(table).__name__}")
    return table


class _Parts:
    """The pieces as the parts of :func:`crowdagg._agreement_common.alpha_core` /
    ``family_core``: a task per piece, results tree-summed (the local twin: ``LocalParts``)."""

    def __init__(self, table: DaskAnnotationTable) -> None:
        self.table, self.client = table, table.client

    def map(self, fn: Any, *args: Any, per: list[Any] | None = None) -> list[Any]:
        heads = [()] * len(self.table.pieces) if per is None else [(h,) for h in per]
        return [self.client.submit(T.on_table, fn, p, *h, *args, pure=False) for p, h in zip(self.table.pieces, heads)]

    def sum(self, handles: list[Any], pick: int | None = None) -> Any:
        if pick is not None:
            handles = [self.client.submit(T.take, h, pick, pure=False) for h in handles]
        return self.client.gather(tree_sum(self.client, handles, self.table.fan_in))


def krippendorff_alpha(table: DaskAnnotationTable, level: str = "nominal", *,
                       confidence: float = 0.95) -> AgreementResult:
    """Krippendorff's alpha of a distributed table; see :func:`crowdagg.agreement.krippendorff_alpha`.

    Same value, analytic SE and interval as the local function (no bootstrap).

    References
    ----------
    Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability.
    Gwet, K. L. (2014). Handbook of Inter-Rater Reliability, 4th ed.
    """
    table = _check_table(table)
    _, confidence = _check_common(0, confidence)
    check_choice("level", level, LEVELS)
    res, _, n, n_ann = alpha_core(_Parts(table), table.labels, LEVELS.index(level),
                                  _level_values(table.codebook, level), confidence)
    return AgreementResult(coefficient="krippendorff_alpha", variant=level, n_items=n, n_annotations=n_ann, **res)


def agreement_family(table: DaskAnnotationTable, name: str = "fleiss_kappa", weights: Any = None, *,
                     confidence: float = 0.95) -> AgreementResult:
    """Fleiss' kappa, Gwet's AC1/AC2, Brennan-Prediger or percent agreement of a distributed
    table (``name``); value, SE and interval as :mod:`crowdagg.agreement` (no bootstrap).

    References
    ----------
    Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters.
    Gwet, K. L. (2014). Handbook of Inter-Rater Reliability, 4th ed.
    """
    table = _check_table(table)
    _, confidence = _check_common(0, confidence)
    check_choice("name", name, ("fleiss_kappa", "gwet_ac", "brennan_prediger", "percent_agreement"))
    _check_dense_labels(table.n_labels, name)
    w, wname = _weights_matrix(weights, table.n_labels)
    res, _, _, n = family_core(_Parts(table), name, table.labels, w, confidence)
    return AgreementResult(coefficient=name, variant=wname, n_items=n, n_annotations=table.n_annotations, **res)


def fleiss_kappa(table: DaskAnnotationTable, weights: Any = None, *, confidence: float = 0.95) -> AgreementResult:
    """Fleiss' kappa of a distributed table; see :func:`crowdagg.agreement.fleiss_kappa`."""
    return agreement_family(table, "fleiss_kappa", weights, confidence=confidence)


def pairwise_cohen_kappa(table: DaskAnnotationTable, min_overlap: int = 5, weights: Any = None) -> pd.DataFrame:
    """Cohen's kappa of every pair of workers sharing ``min_overlap`` observations or more.

    Same output as :func:`crowdagg.agreement.pairwise_cohen_kappa`: per piece, the
    pairs of annotations by two different workers on one item are counted into a
    sparse (pair, label a, label b) table; those tables are tree-summed and each
    pair's kappa computed from its counts on the client (Cohen 1960; 1968).
    """
    table = _check_table(table)
    min_overlap = check_int("min_overlap", min_overlap, 1)
    q = table.n_labels
    _check_dense_labels(q, "pairwise_cohen_kappa")
    w, _ = _weights_matrix(weights, q)
    client = table.client
    counts: pd.Series = client.gather(tree_sum(
        client, [client.submit(T.pair_counts, p, q, pure=False) for p in table.pieces], combine=T.add_counts))
    counts = T.add_counts(counts)
    pair = counts.index.get_level_values("pair").to_numpy(np.int64)
    cell = counts.index.get_level_values("cell").to_numpy(np.int64)
    cnt = counts.to_numpy(np.float64)
    la, lb = cell // q, cell % q
    uniq, start = np.unique(pair, return_index=True)
    m = np.add.reduceat(cnt, start) if cnt.size else np.zeros(0)
    po = np.add.reduceat(cnt * w[la, lb], start) / np.maximum(m, 1) if cnt.size else np.zeros(0)
    grp = np.repeat(np.arange(uniq.size), np.diff(np.append(start, cnt.size)))
    a = np.zeros((uniq.size, q))
    b = np.zeros((uniq.size, q))
    np.add.at(a, (grp, la), cnt)
    np.add.at(b, (grp, lb), cnt)
    pe = np.einsum("gk,kl,gl->g", a, w, b) / np.maximum(m, 1) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kap = np.where(pe < 1.0, (po - pe) / (1.0 - pe), np.nan)
    keep = m >= min_overlap
    return pairs_frame(table.workers, uniq[keep], m[keep].astype(np.int64), po[keep], kap[keep])
