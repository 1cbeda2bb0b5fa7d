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
    _FAMILY,
    LEVELS,
    _check_common,
    _check_dense_labels,
    _level_values,
    _t_interval,
    _weights_matrix,
    alpha_linearisation,
    alpha_se_sum,
    linearised_se,
)
from .._validation import check_choice, check_int
from ..agreement import AgreementResult
from ..errors import AgreementUndefinedError, InputError
from ..kernels import agreement as K
from . import _tasks as T
from .executor import tree_sum
from .table import DaskAnnotationTable

__all__ = ["krippendorff_alpha", "fleiss_kappa", "agreement_family", "pairwise_cohen_kappa"]


def _check_table(table: Any) -> DaskAnnotationTable:
    if not isinstance(table, DaskAnnotationTable):
        raise InputError(f"expected a DaskAnnotationTable, got {type(table).__name__}")
    return table


def _no_pairs() -> AgreementUndefinedError:
    return AgreementUndefinedError(
        "agreement is undefined: every item has fewer than two ratings, so no pair of ratings can be compared")


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
    client = table.client
    values = _level_values(table.codebook, level)
    metric = LEVELS.index(level)
    q = table.n_labels
    marg, n_pairable, n_ann = client.gather(tree_sum(
        client, [client.submit(T.alpha_marginals, p, pure=False) for p in table.pieces]))
    if n_pairable == 0:
        raise _no_pairs()
    used = np.flatnonzero(marg > 0)
    if used.size < 2:
        raise AgreementUndefinedError(
            f"Krippendorff's alpha is undefined: one value ({table.labels[used[0]]!r}) is used by every "
            "pairable rating, so there is no variation to agree on")
    cum = np.zeros(q + 1)
    np.cumsum(marg, out=cum[1:])
    terms = [client.submit(T.alpha_terms, p, metric, values, cum, marg, pure=False) for p in table.pieces]
    do_sum = float(client.gather(tree_sum(client, [client.submit(T.take, f, 0, pure=False) for f in terms])))
    n_tot = float(marg.sum())
    de = K.expected_sum(metric, marg, values, cum)
    if not de > 0:
        raise AgreementUndefinedError("Krippendorff's alpha is undefined: expected disagreement is zero")
    alpha = 1.0 - (n_tot - 1.0) * do_sum / de
    n = int(n_pairable)
    lin = alpha_linearisation(metric, used, values, cum, marg, de, do_sum, n)
    pa, pe = lin.pa, lin.pe
    ss = float(client.gather(tree_sum(client, [
        client.submit(_alpha_se, p, f, lin, pure=False) for p, f in zip(table.pieces, terms)])))
    se = linearised_se(ss, n)
    ci = _t_interval(alpha, se, n - 1, confidence)
    ok = np.isfinite(se)
    return AgreementResult(coefficient="krippendorff_alpha", variant=level, n_items=n, n_annotations=int(n_ann),
                           value=float(alpha), se=se if ok else None, ci=ci if ok else None, pa=float(pa),
                           pe=float(pe), details={"ci_method": "analytic (t)"})


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
    kind = _FAMILY[name]
    client = table.client
    q = table.n_labels
    _check_dense_labels(q, name)
    w, wname = _weights_matrix(weights, q)
    terms = [client.submit(T.family_terms, p, w, pure=False) for p in table.pieces]
    n, n2, pa_sum, pi_num = client.gather(tree_sum(client, [client.submit(T.take, f, 0, pure=False)
                                                            for f in terms]))
    if n2 == 0:
        raise _no_pairs()
    if kind in (1, 2) and q < 2:
        raise AgreementUndefinedError(
            f"{name} is undefined with a single label in the label set ({table.labels[0]!r}); give the "
            "possible labels with labels=[...]")
    n, n2 = int(n), int(n2)
    pa = float(pa_sum / n2)
    pi = pi_num / n
    sum_w = float(w.sum())
    pe = float(K.family_pe(kind, pi, w, sum_w))
    if pe >= 1.0 - 1e-12:
        raise AgreementUndefinedError(
            f"{name} is undefined: chance agreement is 1 (one label is used by every rating, or the "
            "weights make every pair agree)")
    value = (pa - pe) / (1 - pe)
    ss = float(client.gather(tree_sum(client, [
        client.submit(_family_se, p, f, kind, pi, w, pe, value, n, n2, q, pure=False)
        for p, f in zip(table.pieces, terms)])))
    se = linearised_se(ss, n)
    ok = np.isfinite(se)
    return AgreementResult(coefficient=name, variant=wname, n_items=n, n_annotations=table.n_annotations,
                           value=float(value), se=se if ok else None,
                           ci=_t_interval(value, se, n - 1, confidence) if ok else None,
                           pa=pa, pe=pe, details={"ci_method": "analytic (t)"})


def _alpha_se(piece: Any, terms: Any, lin: Any) -> float:
    """The piece's ``sum_i (x_i - alpha')^2`` (:func:`crowdagg._agreement_common.alpha_se_sum`)."""
    _, r_item, do_item = terms
    return alpha_se_sum(piece.table, r_item, do_item, lin)


def _family_se(piece: Any, terms: Any, kind: int, pi: np.ndarray, w: np.ndarray, pe: float, value: float,
               n: int, n2: int, q: int) -> float:
    return T.family_se_terms(piece, terms[1], kind, pi, w, pe, value, n, n2, q)


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
    nw = table.n_workers
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
    kappa = pd.array(kap[keep], dtype="Float64")
    kappa[~np.isfinite(kap[keep])] = pd.NA
    key = uniq[keep]
    return pd.DataFrame({
        "worker_a": table.workers.take(key // nw).to_numpy(),
        "worker_b": table.workers.take(key % nw).to_numpy(),
        "n_items": m[keep].astype(np.int64),
        "agreement": po[keep],
        "kappa": kappa,
    })
