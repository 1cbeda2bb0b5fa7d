"""Inter-rater agreement coefficients computed from the sparse annotation table.

Every coefficient is computed in O(annotations) (plus small label x label terms)
from the CSR-by-item table: per-item label counts ``n_ik`` come from one pass, and
no raters x items matrix is ever built.  Functions accept anything
:func:`crowdagg.table.as_table` accepts plus its keyword arguments
(``item_col=``, ``labels=``, ``duplicates=`` ...).

Coefficients
------------
* :func:`krippendorff_alpha` -- Krippendorff's alpha, nominal/ordinal/interval/ratio,
  via the coincidence matrix (Krippendorff 2011), missing data allowed.
* :func:`fleiss_kappa` -- Fleiss' kappa (Fleiss 1971); for a varying number of
  ratings per item the generalisation of Gwet (2014, ch. 2), as in irrCAC.
* :func:`gwet_ac` -- Gwet's AC1 (unweighted) / AC2 (weighted) (Gwet 2008, 2014).
* :func:`conger_kappa` -- Conger's (1980) kappa, rater-specific chance agreement.
* :func:`brennan_prediger` -- Brennan & Prediger (1981), uniform chance agreement.
* :func:`percent_agreement` -- (weighted) share of agreeing pairs.
* :func:`cohen_kappa` / :func:`pairwise_cohen_kappa` -- Cohen's (1960, 1968) kappa
  for two workers on their shared items, plain or weighted, and for every pair.
* :func:`worker_agreement` -- each worker against the rest (leave-one-out screen).

Repeated (item, worker) pairs kept with ``duplicates="keep"`` count as separate
ratings of the item (separate values of the unit in Krippendorff's terms); for
Cohen's kappa each combination of the two workers' ratings of a shared item is one
observation; self-pairs of one worker are never compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from . import memory
from ._agreement_common import (  # noqa: F401  (public names of this module)
    _FAMILY,
    LEVELS,
    UNIT_RANGE,
    WEIGHTS,
    Level,
    LocalParts,
    _capped,
    _check_common,
    _check_dense_labels,
    _level_values,
    _numeric_labels,
    _plain,
    _t_interval,
    _table,
    _weights_matrix,
    alpha_core,
    alpha_linearisation,
    alpha_marginals,
    alpha_se_sum,
    alpha_terms,
    cac_range,
    family_core,
    family_se_sum,
    family_terms,
    linearised_se,
    pairs_frame,
)
from ._validation import check_choice, check_int, check_random_state
from .errors import AgreementUndefinedError, InputError, LevelError
from .kernels import agreement as K
from .kernels._util import chunk_bounds, parallel_guard
from .table import AnnotationTable

__all__ = [
    "AgreementResult",
    "krippendorff_alpha",
    "fleiss_kappa",
    "gwet_ac",
    "conger_kappa",
    "brennan_prediger",
    "percent_agreement",
    "cohen_kappa",
    "pairwise_cohen_kappa",
    "worker_agreement",
    "icc",
    "ICC_FORMS",
    "krippendorff_alpha_sets",
    "set_distance_matrix",
    "label_set_frame",
]



# --------------------------------------------------------------------------- result
@dataclass(frozen=True)
class AgreementResult:
    """One agreement coefficient with its uncertainty.

    Attributes
    ----------
    coefficient : str
        Name, e.g. ``"krippendorff_alpha"``.
    value : float
        The coefficient; ``float(result)`` gives it too.
    se : float or None
        Standard error: analytic (see each function) or, with ``n_boot > 0``, the
        standard deviation of the bootstrap replicates.
    ci : (float, float) or None
        Confidence interval at ``confidence`` (analytic, or bootstrap percentile).
    n_items : int
        Items that entered the coefficient (pairable items for alpha, rated items
        for the kappa family, shared items for Cohen's kappa).
    n_annotations : int
        Annotations that entered the coefficient.
    pa, pe : float or None
        Observed and chance agreement, where the coefficient has that form.
    variant : str or None
        Level of measurement or weighting scheme.
    details : dict
        Extra figures: ``se_analytic``/``ci_analytic`` when a bootstrap replaced
        them, ``n_boot``, ``ci_method``, Cohen's ``se_h0`` and ``z`` ...
    """

    coefficient: str
    value: float
    se: float | None = None
    ci: tuple[float, float] | None = None
    n_items: int = 0
    n_annotations: int = 0
    pa: float | None = None
    pe: float | None = None
    variant: str | None = None
    details: dict[str, Any] = field(default_factory=dict, compare=False)

    def __float__(self) -> float:
        return float(self.value)

    def to_dict(self) -> dict[str, Any]:
        """Flat dict (``ci`` split into ``ci_low``/``ci_high``), for tables and CSV."""
        lo, hi = self.ci if self.ci is not None else (None, None)
        return {
            "coefficient": self.coefficient,
            "variant": self.variant,
            "value": self.value,
            "se": self.se,
            "ci_low": lo,
            "ci_high": hi,
            "pa": self.pa,
            "pe": self.pe,
            "n_items": self.n_items,
            "n_annotations": self.n_annotations,
        }

    def _repr_html_(self) -> str:
        """Rich display in Jupyter (see :mod:`crowdagg.reporting._repr`)."""
        from .reporting._repr import html_repr

        return html_repr(self)

    def __repr__(self) -> str:
        parts = [f"{self.coefficient}={self.value:.6g}"]
        if self.variant:
            parts.append(f"variant={self.variant!r}")
        if self.se is not None:
            parts.append(f"se={self.se:.4g}")
        if self.ci is not None:
            parts.append(f"ci=({self.ci[0]:.4g}, {self.ci[1]:.4g})")
        parts.append(f"n_items={self.n_items}")
        return f"AgreementResult({', '.join(parts)})"


# --------------------------------------------------------------------------- helpers
def _seed(random_state: Any, n_boot: int) -> np.ndarray:
    """Per-replicate generator states drawn from ``random_state`` (global state untouched)."""
    return K.boot_seeds(check_random_state(random_state), n_boot)


def _bootstrap_summary(reps: np.ndarray, confidence: float, what: str) -> tuple[float, tuple[float, float], int]:
    ok = reps[np.isfinite(reps)]
    if ok.size < 2:
        raise AgreementUndefinedError(
            f"{what} is undefined in (almost) every bootstrap replicate; no bootstrap interval"
        )
    a = (1 - confidence) / 2
    lo, hi = np.quantile(ok, [a, 1 - a])
    return float(ok.std(ddof=1)), (float(lo), float(hi)), int(reps.size - ok.size)


def _with_bootstrap(res: dict[str, Any], reps: np.ndarray | None, confidence: float, what: str,
                    n_units: int) -> dict[str, Any]:
    """``res`` with the bootstrap's SE and percentile interval (``n_units``: the items
    resampled; with fewer than two, as with the analytic one, no SE or interval)."""
    if reps is None:
        res["details"]["ci_method"] = res["details"].get("ci_method", "analytic")
        return res
    if n_units < 2:  # one unit to resample: every replicate is the data itself
        res["details"].update(n_boot=int(reps.size), ci_method="none (one observation: a bootstrap of one "
                              "item has no spread)")
        res["se"] = res["ci"] = None
        return res
    se, ci, n_bad = _bootstrap_summary(reps, confidence, what)
    res["details"].update(se_analytic=res["se"], ci_analytic=res["ci"], n_boot=int(reps.size),
                          n_boot_undefined=n_bad, ci_method="bootstrap percentile")
    res["se"], res["ci"] = se, ci
    return res


def _item_label_counts(table: AnnotationTable) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with parallel_guard():
        return K.item_label_counts(table.item_ptr, table.label_codes, table.n_labels)


def _need_pairs(r: np.ndarray) -> None:
    if not (r >= 2).any():
        raise AgreementUndefinedError(
            "agreement is undefined: every item has fewer than two ratings, so no pair of ratings "
            "can be compared"
        )


# --------------------------------------------------------------------------- Krippendorff's alpha
def krippendorff_alpha(
    data: Any,
    level: Level = "nominal",
    *,
    n_boot: int = 0,
    random_state: Any = None,
    confidence: float = 0.95,
    **table_kwargs: Any,
) -> AgreementResult:
    r"""Krippendorff's alpha for any number of raters, with missing data.

    .. math:: \alpha = 1 - (n - 1)\,\frac{\sum_u \frac{1}{m_u - 1}\sum_{c \ne k} n_{uc} n_{uk}
              \delta^2_{ck}}{\sum_{c, k} n_c n_k \delta^2_{ck}}

    where units (items) ``u`` with ``m_u >= 2`` values are pairable, ``n_uc`` counts
    value ``c`` in unit ``u``, ``n_c`` are the pairable marginals of the coincidence
    matrix and ``n = sum_c n_c`` (Krippendorff 2011).  Unpairable items (one value)
    are ignored.  Distances ``delta^2``: nominal ``[c != k]``; ordinal
    ``(sum_{g=c}^{k} n_g - (n_c + n_k)/2)^2`` with the table's label order
    (``table.labels``; fix it with ``labels=[...]``); interval ``(c - k)^2``; ratio
    ``((c - k)/(c + k))^2`` on the numeric label values.

    Parameters
    ----------
    data : AnnotationTable, DataFrame, pyarrow Table or path
    level : {"nominal", "ordinal", "interval", "ratio"}
    n_boot : int
        Bootstrap replicates over pairable items (0: analytic interval only; at most 10**6).
    random_state : int, Generator or None
        Seed of the bootstrap.
    confidence : float
        Confidence level of ``ci``.

    Returns
    -------
    AgreementResult
        ``se`` is Gwet's (2014, sec. 6.4) linearisation variance of alpha written
        as a chance-corrected agreement coefficient with weights ``1 - delta^2 /
        max delta^2`` (as irrCAC); ``ci`` a t interval with ``n - 1`` d.o.f. clipped
        to alpha's range [-1, 1] (at every level ``delta^2`` is a squared Euclidean
        distance, so alpha is at least ``1 - 2 (n - 1) / n`` for ``n`` pairable values).
        For ordinal data the distances themselves depend on the marginals;
        the analytic SE treats them as fixed (the bootstrap does not).

    Raises
    ------
    AgreementUndefinedError
        No item has two ratings, or only one value is in use among pairable values.
    LevelError
        Interval/ratio level with non-numeric labels (ratio: negative values).

    References
    ----------
    Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability. Annenberg
    School for Communication Departmental Papers 43.
    Gwet, K. L. (2014). Handbook of Inter-Rater Reliability, 4th ed. Advanced Analytics.
    """
    n_boot, confidence = _check_common(n_boot, confidence, random_state)
    check_choice("level", level, LEVELS)
    table = _table(data, table_kwargs, "krippendorff_alpha")
    values = _level_values(table, level)
    metric = LEVELS.index(level)
    res, (terms,), n, n_ann = alpha_core(LocalParts(table), table.labels, metric, values, confidence)
    _, r_item, do_item, (nd, lab, cnt) = terms
    reps = None
    if n_boot:
        reps = np.empty(n_boot)
        pm = np.diff(table.item_ptr) >= 2
        seeds = _seed(random_state, n_boot)
        with parallel_guard():
            K.alpha_boot_parallel(table.item_ptr, nd, lab, cnt, np.flatnonzero(pm).astype(np.int64), r_item,
                                  do_item, metric, values, seeds, K.replicate_bounds(n_boot), reps)
    res = _with_bootstrap(res, reps, confidence, "Krippendorff's alpha", n)
    return AgreementResult(coefficient="krippendorff_alpha", variant=level, n_items=n, n_annotations=n_ann, **res)


# --------------------------------------------------------------------------- kappa family
def _family(data: Any, name: str, weights: Any, n_boot: int, random_state: Any, confidence: float,
            table_kwargs: dict[str, Any]) -> AgreementResult:
    n_boot, confidence = _check_common(n_boot, confidence, random_state)
    kind = _FAMILY[name]
    if kind == 4 and n_boot:
        raise InputError("conger_kappa has an analytic interval only (n_boot must be 0)")
    table = _table(data, table_kwargs, name)
    q = table.n_labels
    _check_dense_labels(q, name)
    w, wname = _weights_matrix(weights, q)
    ptr = table.item_ptr
    res, (terms,), pi, n = family_core(LocalParts(table), name, table.labels, w, confidence,
                                       lambda n: _conger_pe(table, w, n))
    value, sum_w = res["value"], float(w.sum())
    _, _, (nd, lab, cnt, sq) = terms
    r_all = np.diff(ptr).astype(np.float64)
    rated = r_all >= 1
    m_const = r_all[rated]
    if kind == 0 and wname == "identity" and m_const.min() == m_const.max():
        # Fleiss, Nee & Landis (1979): SE under kappa = 0 for m ratings per item
        m = float(m_const[0])
        pq = pi * (1 - pi)
        spq = float(pq.sum())
        se0 = np.sqrt(2.0 / (n * m * (m - 1)) * (spq**2 - float((pq * (1 - 2 * pi)).sum())) / spq**2)
        res["details"].update(se_h0=float(se0), z=float(value / se0) if se0 > 0 else None)
    reps = None
    if n_boot:
        if kind == 4:
            raise InputError("conger_kappa has an analytic interval only (n_boot must be 0)")
        reps = np.empty(n_boot)
        seeds = _seed(random_state, n_boot)
        with parallel_guard():
            K.family_boot_parallel(ptr, nd, lab, cnt, np.flatnonzero(rated).astype(np.int64), r_all, sq, kind, w,
                                   sum_w, seeds, K.replicate_bounds(n_boot), reps)
    res = _with_bootstrap(res, reps, confidence, name, n)
    return AgreementResult(coefficient=name, variant=wname, n_items=n, n_annotations=table.n_annotations, **res)


def _conger_pe(table: AnnotationTable, w: np.ndarray, n: int) -> tuple[float, np.ndarray, bool]:
    """Conger's chance agreement, its per-item linearisation term (Gwet 2014, irrCAC), and
    whether the data are complete (every rated item rated once by every rater).

    The raters x labels classification counts replace irrCAC's n x r rating matrix;
    the terms of missing (item, rater) cells are one constant per rater.
    """
    q = table.n_labels
    wc_all, lc = table.worker_codes.astype(np.int64), table.label_codes.astype(np.int64)
    ng_all = table.worker_counts()
    raters = np.flatnonzero(ng_all > 0)
    r = raters.size
    if r < 2:
        raise AgreementUndefinedError("Conger's kappa needs at least two raters")
    memory.check("conger_kappa", [(f"rater x label shares, {r:,} raters x {q:,} labels, 6 copies", 6 * 8 * r * q)],
                 "use fleiss_kappa or gwet_ac, which need no per-rater table")
    remap = np.full(table.n_workers, -1, dtype=np.int64)
    remap[raters] = np.arange(r)
    g = remap[wc_all]
    classif = np.bincount(g * q + lc, minlength=r * q).reshape(r, q).astype(np.float64)
    ng = classif.sum(axis=1)
    p = classif / ng[:, None]
    pbar = p.mean(axis=0)
    s2 = (p.T @ p - r * np.outer(pbar, pbar)) / (r - 1)
    pe = float(np.sum(w * (np.outer(pbar, pbar) - s2 / r)))
    a = p @ w.T
    b = r * pbar[None, :] - p
    m = (a * b).sum(axis=1)
    wb = b @ w
    o = (n / ng[g]) * (wb[g, lc] - (1 - ng[g] / n) * m[g])
    pe_item = (m.sum() + np.bincount(table.item_codes, weights=o - m[g], minlength=table.n_items)) / (r * (r - 1))
    counts = table.item_counts()
    complete = bool(np.all(counts[counts > 0] == r)) and _has_repeats(table).size == 0
    return pe, pe_item, complete


_FAMILY_DOC = """
    Parameters
    ----------
    data : AnnotationTable, DataFrame, pyarrow Table or path
    weights : None, "identity", "linear", "quadratic" or array
        Agreement weights over label positions (table label order): linear
        ``1 - |k-l|/(q-1)``, quadratic ``1 - (k-l)^2/(q-1)^2``, or a ``q x q`` matrix.
    n_boot : int
        Bootstrap replicates over items (0: analytic interval only; at most 10**6).
    random_state : int, Generator or None
    confidence : float

    Returns
    -------
    AgreementResult
        ``pa`` is the (weighted) share of agreeing ordered pairs of ratings,
        averaged over items with two ratings or more (Gwet 2014, eq. 2.x);
        ``se`` Gwet's linearisation standard error (irrCAC), ``ci`` a t interval
        with ``n - 1`` d.o.f. (``n`` rated items), clipped to the coefficient's
        range (see Notes).

    Raises
    ------
    AgreementUndefinedError
        No item has two ratings, or chance agreement is 1 (one label in use).
"""


def fleiss_kappa(data: Any, weights: Any = None, *, n_boot: int = 0, random_state: Any = None,
                 confidence: float = 0.95, **table_kwargs: Any) -> AgreementResult:
    """Fleiss' kappa, generalised to a varying number of ratings per item.

    ``kappa = (pa - pe) / (1 - pe)`` with ``pa`` the mean over items with ``r_i >= 2``
    ratings of ``sum_k n_ik (n_ik - 1) / (r_i (r_i - 1))`` and ``pe = sum_k pi_k^2``
    where ``pi_k`` is the mean over rated items of ``n_ik / r_i`` (Gwet 2014, ch. 2;
    irrCAC's ``fleiss.kappa.raw``).  With a constant number of ratings per item this
    is exactly Fleiss (1971).  Ratings are not tied to rater identity.

    References: Fleiss, J. L. (1971). Measuring nominal scale agreement among many
    raters. Psychological Bulletin 76(5), 378-382.  Gwet (2014), Handbook of
    Inter-Rater Reliability.
    """
    return _family(data, "fleiss_kappa", weights, n_boot, random_state, confidence, table_kwargs)


def gwet_ac(data: Any, weights: Any = None, *, n_boot: int = 0, random_state: Any = None,
            confidence: float = 0.95, **table_kwargs: Any) -> AgreementResult:
    """Gwet's AC1 (``weights=None``) or AC2 (weighted) coefficient.

    ``pe = sum(W) / (q (q - 1)) * sum_k pi_k (1 - pi_k)`` with ``q`` the size of the
    label set (all labels of the table, used or not) (Gwet 2008; 2014).

    References: Gwet, K. L. (2008). Computing inter-rater reliability and its
    variance in the presence of high agreement. BJMSP 61, 29-48.
    """
    return _family(data, "gwet_ac", weights, n_boot, random_state, confidence, table_kwargs)


def brennan_prediger(data: Any, weights: Any = None, *, n_boot: int = 0, random_state: Any = None,
                     confidence: float = 0.95, **table_kwargs: Any) -> AgreementResult:
    """Brennan-Prediger coefficient: chance agreement ``sum(W) / q^2`` (uniform guessing).

    References: Brennan, R. L., & Prediger, D. J. (1981). Coefficient kappa: some
    uses, misuses, and alternatives. Educ. Psychol. Meas. 41, 687-699.
    """
    return _family(data, "brennan_prediger", weights, n_boot, random_state, confidence, table_kwargs)


def percent_agreement(data: Any, weights: Any = None, *, n_boot: int = 0, random_state: Any = None,
                      confidence: float = 0.95, **table_kwargs: Any) -> AgreementResult:
    """(Weighted) percent agreement ``pa``, no chance correction (``pe = 0``)."""
    return _family(data, "percent_agreement", weights, n_boot, random_state, confidence, table_kwargs)


def conger_kappa(data: Any, weights: Any = None, *, n_boot: int = 0, random_state: Any = None,
                 confidence: float = 0.95, **table_kwargs: Any) -> AgreementResult:
    """Conger's kappa: Fleiss' ``pa`` with rater-specific chance agreement.

    ``pe = sum_kl w_kl (pbar_k pbar_l - s_kl / r)`` where ``p_gk`` is rater ``g``'s
    share of label ``k``, ``pbar`` its mean over the ``r`` raters (workers with at
    least one annotation) and ``s_kl`` their covariance (Conger 1980; Gwet 2014;
    irrCAC ``conger.kappa.raw``).  Analytic SE only: ``n_boot`` (accepted for a
    uniform signature with the family) must be 0, else :class:`InputError`;
    ``random_state`` is then unused.

    References: Conger, A. J. (1980). Integration and generalization of kappas for
    multiple raters. Psychological Bulletin 88(2), 322-328.
    """
    return _family(data, "conger_kappa", weights, n_boot, random_state, confidence, table_kwargs)


_RANGE_DOC = {
    "fleiss_kappa": "at most 1 and, with a varying number of ratings per item, unbounded below "
                    "(items with one rating count in ``pi``, so ``pe`` can near 1 while ``pa`` is 0); "
                    "with ``m`` ratings on every rated item and no or linear weights, at least "
                    "``-1/(m-1)`` (Fleiss 1971)",
    "gwet_ac": "``[(min W - pe*) / (1 - pe*), 1]`` with ``pe* = sum(W) / q^2`` the largest chance "
               "agreement; AC1: ``[-1/(q-1), 1]``",
    "brennan_prediger": "``[(min W - pe) / (1 - pe), 1]`` with the constant ``pe = sum(W) / q^2``; "
                        "unweighted ``[-1/(q-1), 1]``, quadratic weights on 3 labels ``[-2, 1]``",
    "percent_agreement": "``[min W, max W]``: [0, 1] with no, linear or quadratic weights",
    "conger_kappa": "at most 1 and, with missing ratings, unbounded below; with complete data (each "
                    "of ``r`` raters rates every item once) and no or linear weights, at least "
                    "``-1/(r-1)`` (Conger's ``pe`` is then at most Fleiss', so his kappa is at least "
                    "Fleiss')",
}
_NOTES_DOC = """
    Notes
    -----
    Range (the analytic interval is clipped to it, never excluding the value): {}.
    A weights matrix whose diagonal is not all 1 gives no finite range (no clip).
"""

for _f in (fleiss_kappa, gwet_ac, brennan_prediger, percent_agreement):
    _f.__doc__ = (_f.__doc__ or "") + _FAMILY_DOC
for _f in (fleiss_kappa, gwet_ac, brennan_prediger, percent_agreement, conger_kappa):
    _f.__doc__ = (_f.__doc__ or "") + _NOTES_DOC.format(_RANGE_DOC[_f.__name__])
del _f


# --------------------------------------------------------------------------- Cohen
def _worker_code(table: AnnotationTable, worker: Any, name: str) -> int:
    try:
        hash(worker)
    except TypeError:
        raise InputError(f"{name} must be one worker id, got {type(worker).__name__} {worker!r}") from None
    idx = table.workers.get_indexer([worker])
    if idx[0] < 0:  # ids read from CSV are strings: 1 finds "1" and "1" finds 1
        as_str = pd.Index([str(v) for v in table.workers], dtype=object)
        idx = as_str.get_indexer([str(worker)]) if as_str.is_unique else idx
    if idx[0] < 0:
        raise InputError(f"{name}={worker!r} is not a worker of the table (e.g. {table.workers[:5].tolist()})")
    return int(idx[0])


def _cohen_se(la: np.ndarray, lb: np.ndarray, w: np.ndarray, kappa: float) -> tuple[float, float]:
    """Fleiss, Cohen & Everitt (1969) asymptotic SE of (weighted) kappa, and the SE under H0."""
    q = w.shape[0]
    n = la.size
    p = np.bincount(la * q + lb, minlength=q * q).reshape(q, q) / n
    pr, pc = p.sum(axis=1), p.sum(axis=0)
    pe = float(pr @ w @ pc)
    wi = w @ pc
    wj = pr @ w
    adj = wi[:, None] + wj[None, :]
    den = n * (1 - pe) ** 2

    def variance(total: float, square: float) -> float:
        # a difference within rounding of zero is zero (sqrt would turn 1e-16 into an SE of 1e-8)
        return 0.0 if total - square <= 1e-12 * max(abs(total), abs(square)) else (total - square) / den

    var = variance(float(np.sum(p * (w - adj * (1 - kappa)) ** 2)), (kappa - pe * (1 - kappa)) ** 2)
    var0 = variance(float(np.sum(np.outer(pr, pc) * (w - adj) ** 2)), pe**2)
    return float(np.sqrt(var)), float(np.sqrt(var0))


def cohen_kappa(
    data: Any,
    worker_a: Any,
    worker_b: Any,
    weights: Literal["linear", "quadratic"] | None = None,
    *,
    n_boot: int = 0,
    random_state: Any = None,
    confidence: float = 0.95,
    **table_kwargs: Any,
) -> AgreementResult:
    """Cohen's kappa (weighted kappa with ``weights``) of two workers on their shared items.

    ``kappa = (po - pe) / (1 - pe)`` with ``po = sum_kl w_kl p_kl`` over the shared
    items and ``pe = sum_kl w_kl p_k. p_.l`` (Cohen 1960; 1968).  Linear/quadratic
    weights use label positions in the table's label order, so they match
    scikit-learn's ``cohen_kappa_score(..., labels=table.labels)`` and R irr's
    ``kappa2`` (which ranks the observed categories).  The two workers' item lists
    are intersected by a merge; nothing dense is built.

    Returns
    -------
    AgreementResult
        ``se``: the asymptotic standard error of Fleiss, Cohen & Everitt (1969) (SAS
        PROC FREQ's ASE), ``ci`` the normal interval ``kappa -/+ z * se`` clipped
        to kappa's range: [-1, 1] with no, linear or quadratic weights (for a matrix,
        the range of ``(po - pe) / (1 - pe)`` with ``po`` and ``pe`` between its least
        and greatest weight) (``se`` and ``ci`` are None with a single shared observation);
        ``details`` holds ``se_h0`` (SE under kappa = 0) and ``z = kappa / se_h0``.

    Raises
    ------
    InputError
        A worker is not in the table.
    AgreementUndefinedError
        The workers share no item, or chance agreement is 1 (both use one label).

    References
    ----------
    Cohen, J. (1960). A coefficient of agreement for nominal scales. EPM 20, 37-46.
    Cohen, J. (1968). Weighted kappa. Psychological Bulletin 70(4), 213-220.
    Fleiss, J. L., Cohen, J., & Everitt, B. S. (1969). Large sample standard errors of
    kappa and weighted kappa. Psychological Bulletin 72(5), 323-327.
    """
    n_boot, confidence = _check_common(n_boot, confidence, random_state)
    table = _table(data, table_kwargs, "cohen_kappa")
    a = _worker_code(table, worker_a, "worker_a")
    b = _worker_code(table, worker_b, "worker_b")
    if a == b:
        raise InputError(f"worker_a and worker_b are the same worker ({worker_a!r})")
    q = table.n_labels
    wi, wp = table.worker_index, table.worker_ptr
    la, lb, n_shared = K.pair_observations(table.item_codes, table.label_codes,
                                           wi[wp[a]:wp[a + 1]], wi[wp[b]:wp[b + 1]])
    if la.size == 0:
        raise AgreementUndefinedError(f"workers {worker_a!r} and {worker_b!r} share no item")
    present = np.unique(np.concatenate([la, lb]))
    _check_dense_labels(present.size, "cohen_kappa")
    w, wname = _weights_matrix(weights, q, present)
    la_c = np.searchsorted(present, la)
    lb_c = np.searchsorted(present, lb)
    kappa, po, pe = K.cohen_from_pairs(la_c, lb_c, w)
    if not np.isfinite(kappa):
        raise AgreementUndefinedError(
            f"Cohen's kappa of {worker_a!r} and {worker_b!r} is undefined: chance agreement is 1 "
            "(both use a single label)"
        )
    se, se0 = _cohen_se(la_c, lb_c, w, kappa)
    from scipy import stats

    zq = float(stats.norm.ppf(0.5 + confidence / 2))
    # kappa lies in [-1, 1] with identity, linear and quadratic weights; po and pe are means of
    # the weights, so custom weights give the range of (po - pe) / (1 - pe) over [min w, max w]
    wr = (float(w.min()), float(w.max()))
    bounds = UNIT_RANGE if wname != "custom" else cac_range(wr, wr)
    if la.size < 2:  # one observation: no variance estimate (as the family at n = 1)
        res = dict(value=float(kappa), se=None, ci=None, pa=float(po), pe=float(pe),
                   details={"se_h0": None, "z": None, "ci_method": "analytic (normal)"})
    else:
        res = dict(value=float(kappa), se=se, ci=_capped(kappa, kappa - zq * se, kappa + zq * se, bounds),
                   pa=float(po), pe=float(pe), details={"se_h0": se0, "z": float(kappa / se0) if se0 > 0 else None,
                                          "ci_method": "analytic (normal)"})
    reps = None
    if n_boot:
        reps = np.empty(n_boot)
        seeds = _seed(random_state, n_boot)
        with parallel_guard():
            K.cohen_boot_parallel(la_c, lb_c, w, seeds, K.replicate_bounds(n_boot), reps)
    res = _with_bootstrap(res, reps, confidence, "Cohen's kappa", int(la.size))
    return AgreementResult(coefficient="cohen_kappa", variant=wname, n_items=int(n_shared),
                           n_annotations=2 * int(la.size), **res)


#: Bytes of annotation pairs (key, two labels and a sort index: 32 bytes a pair)
#: that :func:`pairwise_cohen_kappa` holds at once; pairs are made and reduced in
#: blocks of workers below this (a single worker's pairs always fit in one block).
MAX_PAIR_BYTES = 256 * 2**20
_PAIR_BYTES = 32


def _pairwise_streamed(table: AnnotationTable, w: np.ndarray, min_overlap: int
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Kappa of every worker pair, pairs generated and reduced a block of first workers at a time."""
    nw = table.n_workers
    wp, wi, ic, ip = table.worker_ptr, table.worker_index, table.item_codes, table.item_ptr
    wc, lc = table.worker_codes.astype(np.int64), table.label_codes.astype(np.int64)
    ub = K.pair_bounds_by_worker(wp, wi, ic, ip)
    cap = max(1, MAX_PAIR_BYTES // _PAIR_BYTES)
    parts: list[tuple[np.ndarray, ...]] = []
    start = 0
    cum = np.concatenate([[0], np.cumsum(ub)])
    while start < nw:
        # the largest block of workers start..stop-1 whose pair bound fits the cap (one worker at least)
        stop = max(start + 1, int(np.searchsorted(cum, cum[start] + cap, side="right")) - 1)
        size = int(cum[stop] - cum[start])
        key, la, lb = np.empty(size, np.int64), np.empty(size, np.int64), np.empty(size, np.int64)
        t = K.pair_keys_block(wp, wi, ic, ip, wc, lc, nw, start, stop, key, la, lb)
        order = np.argsort(key[:t], kind="stable")
        key, la, lb = key[order], la[order], lb[order]
        del order
        n_groups = int(np.count_nonzero(np.diff(key))) + 1 if key.size else 0
        out = (np.empty(n_groups, np.int64), np.empty(n_groups, np.int64), np.empty(n_groups), np.empty(n_groups))
        g = K.pairwise_groups(key, la, lb, w, min_overlap, *out)
        parts.append(tuple(a[:g] for a in out))
        start = stop
    if not parts:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), np.empty(0)
    return tuple(np.concatenate([p[j] for p in parts]) for j in range(4))  # type: ignore[return-value]


def pairwise_cohen_kappa(
    data: Any,
    min_overlap: int = 5,
    weights: Literal["linear", "quadratic"] | None = None,
    **table_kwargs: Any,
) -> pd.DataFrame:
    """Cohen's kappa for every pair of workers sharing at least ``min_overlap`` items.

    Pairs come from the items: for each item every pair of its annotations by two
    different workers is one observation (O(sum_i m_i^2) time, never workers x
    workers).  They are made and reduced a block of workers at a time, so the
    memory held stays below :data:`MAX_PAIR_BYTES` (256 MiB) plus one worker's
    pairs, however many raters share an item; within a block observations are
    sorted by pair and each run gives one kappa.  The output is
    sparse: only pairs with ``n_items >= min_overlap`` appear.

    Returns
    -------
    pandas.DataFrame
        Columns ``worker_a``, ``worker_b`` (original ids; ``worker_a`` first in the
        table's worker order), ``n_items`` (shared observations), ``agreement``
        (weighted observed agreement ``po``) and ``kappa`` (nullable ``Float64``:
        ``<NA>`` where chance agreement is 1, i.e. kappa is undefined).
    """
    min_overlap = check_int("min_overlap", min_overlap, 1)
    table = _table(data, table_kwargs, "pairwise_cohen_kappa")
    q = table.n_labels
    _check_dense_labels(q, "pairwise_cohen_kappa")
    w, _ = _weights_matrix(weights, q)
    return pairs_frame(table.workers, *_pairwise_streamed(table, w, min_overlap))


# --------------------------------------------------------------------------- per worker
def worker_agreement(data: Any, *, min_items: int = 1, **table_kwargs: Any) -> pd.DataFrame:
    """Each worker's agreement with the rest of the crowd (leave-one-out screen).

    For each annotation of worker ``w`` on an item that other workers rated too,
    the ``o`` ratings of the item by other workers form pairs weighted ``1 / o``
    (so each of ``w``'s annotations counts once); a worker's own repeated ratings
    of an item (``duplicates="keep"``) are never paired with each other.  ``agreement`` is the weighted share of
    those pairs that agree; ``kappa`` is Cohen's kappa of this "worker vs rest"
    table: ``(po - pe) / (1 - pe)`` with ``pe = sum_k a_k b_k``, ``a`` the worker's
    label shares and ``b`` the others' on the same items.  A low or negative kappa
    flags workers who agree with the crowd no more than chance would.

    Parameters
    ----------
    min_items : int
        Workers with fewer annotations on items that another worker rated get
        ``<NA>`` agreement and kappa.

    Returns
    -------
    pandas.DataFrame
        Indexed by worker id (every worker of the table): ``n_items`` (annotations
        on shared items), ``agreement``, ``chance``, ``kappa`` (nullable ``Float64``;
        ``<NA>`` below ``min_items`` or where chance agreement is 1).
    """
    min_items = check_int("min_items", min_items, 1)
    table = _table(data, table_kwargs, "worker_agreement")
    _need_pairs(np.diff(table.item_ptr))
    nd, lab, cnt = _item_label_counts(table)
    nw = table.n_workers
    out_n = np.empty(nw)
    out_po = np.empty(nw)
    out_pe = np.empty(nw)
    with parallel_guard():
        K.worker_rest_parallel(table.worker_ptr, table.worker_index, table.item_codes, table.label_codes,
                               table.item_ptr, nd, lab, cnt, table.n_labels, chunk_bounds(table.worker_ptr),
                               out_n, out_po, out_pe)
    enough = out_n >= min_items
    defined = enough & (out_pe < 1.0 - 1e-12)
    kappa = np.where(defined, (out_po - out_pe) / np.where(defined, 1.0 - out_pe, 1.0), 0.0)

    def nullable(x: np.ndarray, mask: np.ndarray) -> pd.arrays.FloatingArray:
        arr = pd.array(x, dtype="Float64")
        arr[~mask] = pd.NA
        return arr

    return pd.DataFrame(
        {
            "n_items": out_n.astype(np.int64),
            "agreement": nullable(out_po, enough),
            "chance": nullable(out_pe, enough),
            "kappa": nullable(kappa, defined),
        },
        index=table.workers,
    )


# --------------------------------------------------------------------------- intraclass correlations
#: The six forms of Shrout & Fleiss (1979), in their order; McGraw & Wong (1996) names as ``type``.
ICC_FORMS = ("ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k")
_ICC_TYPES = ("ICC(1,1)", "ICC(A,1)", "ICC(C,1)", "ICC(1,k)", "ICC(A,k)", "ICC(C,k)")


def icc(data: Any, *, confidence: float = 0.95, missing: str = "drop", **table_kwargs: Any) -> pd.DataFrame:
    r"""The six intraclass correlations of Shrout & Fleiss (1979) for numeric ratings.

    From the two-way ANOVA of the complete items x raters matrix (``n`` items,
    ``k`` raters, one rating per cell): mean squares between items ``BMS``, within
    items ``WMS``, between raters ``JMS`` and residual ``EMS``;

    * ``ICC1 = (BMS - WMS) / (BMS + (k-1) WMS)`` (one-way random),
    * ``ICC2 = (BMS - EMS) / (BMS + (k-1) EMS + k (JMS - EMS) / n)`` (two-way random, absolute agreement),
    * ``ICC3 = (BMS - EMS) / (BMS + (k-1) EMS)`` (two-way mixed, consistency),
    * ``ICC1k``, ``ICC2k``, ``ICC3k``: the same for the mean of ``k`` ratings.

    ``F`` tests ICC = 0 (``BMS / WMS`` on ``(n-1, n(k-1))`` degrees of freedom for
    the one-way forms, ``BMS / EMS`` on ``(n-1, (n-1)(k-1))`` otherwise) with
    ``pval`` its upper tail.  Intervals: the exact F intervals of Shrout & Fleiss
    for ICC1 and ICC3, and for ICC2 the approximation with Satterthwaite's degrees
    of freedom (Shrout & Fleiss 1979, eq. 9; McGraw & Wong 1996) -- the formulas of
    ``pingouin.intraclass_corr`` and R's ``psych::ICC``, whose values this function
    reproduces (tests: random tables to 1e-9, the 6 x 4 table of Shrout & Fleiss).

    Missing ratings (``missing="drop"``, the default): complete cases -- items rated
    by every rater in the data are kept, the others dropped with a
    :class:`~crowdagg.errors.DroppedRowsWarning` giving the counts (pingouin's
    ``nan_policy="omit"``, psych's ``missing=TRUE``).  Raters are every worker with
    an answer; to compute the ICC over a subset of raters, select their rows
    first.  ``missing="raise"``: an :class:`~crowdagg.errors.InputError` instead.

    Parameters
    ----------
    data : AnnotationTable, DataFrame, pyarrow Table or path
        Numeric ratings (item, worker, label); table options such as ``item_col=``
        go to :func:`~crowdagg.table.as_table`.
    confidence : float, default 0.95
        Level of the intervals (columns ``CI95_lower``/``CI95_upper`` at 0.95,
        ``CI90_...`` at 0.9 and so on).
    missing : {"drop", "raise"}

    Returns
    -------
    pandas.DataFrame
        Indexed by ``ICC1 ... ICC3k``; columns ``type`` (McGraw & Wong's name),
        ``ICC``, ``F``, ``df1``, ``df2``, ``pval``, lower and upper bound.
        ``attrs``: ``n_items``, ``n_raters``, ``n_items_dropped``, ``missing``.

    Raises
    ------
    LevelError
        Labels that are not numbers.
    InputError
        Repeated (item, worker) ratings, or (``missing="raise"``) an item without
        every rater's rating.
    AgreementUndefinedError
        Fewer than two complete items or two raters, no variation at all, or a form
        whose denominator is not positive (every item with the same mean rating:
        ICC(1,k) and ICC(C,k) are unbounded; MSE >= n MSR + MSC, i.e. ICC(A,1) <=
        -1/(k-1): ICC(A,k)'s published formula would give a value above 1 or +-1e16);
        the message names the forms.

    References
    ----------
    Shrout, P. E., & Fleiss, J. L. (1979). Intraclass correlations: uses in assessing
    rater reliability. Psychological Bulletin, 86(2), 420-428.
    McGraw, K. O., & Wong, S. P. (1996). Forming inferences about some intraclass
    correlation coefficients. Psychological Methods, 1(1), 30-46.
    """
    import warnings

    from scipy import stats

    from .errors import DroppedRowsWarning

    _, confidence = _check_common(0, confidence)
    check_choice("missing", missing, ("drop", "raise"))
    table = _table(data, table_kwargs, "icc")
    raw = _numeric_labels(table.labels)
    if raw is None:
        raise LevelError(f"icc needs numeric ratings; the labels are {table.labels.dtype} "
                         f"(e.g. {table.labels[:5].tolist()})")
    lab_values = np.array([float(v) for v in raw], dtype=np.float64)
    if not np.all(np.isfinite(lab_values)):
        raise LevelError("icc needs finite ratings (a label is infinite or NaN)")
    wc = table.worker_counts()
    k = int((wc > 0).sum())
    counts = table.item_counts()
    repeated = _has_repeats(table)
    if repeated.size:
        raise InputError(f"icc needs one rating per (item, worker); {repeated.size} item(s) have a worker's "
                         "rating twice (duplicates='keep'); drop repeats first")
    keep = counts == k
    n = int(keep.sum())
    dropped = int(((counts > 0) & ~keep).sum())
    if dropped:
        msg = (f"icc: {dropped} of {int((counts > 0).sum())} rated items lack a rating from some of the {k} raters "
               f"and were left out (complete cases: {n} items)")
        if missing == "raise":
            raise InputError(msg.replace("and were left out", "") + "; pass missing='drop' to use complete items")
        warnings.warn(msg, DroppedRowsWarning, stacklevel=2)
    if n < 2 or k < 2:
        raise AgreementUndefinedError(
            f"icc needs at least two items rated by every rater and two raters; found {n} complete item(s), "
            f"{k} rater(s)")
    y = lab_values[table.label_codes]
    center = float(y[np.repeat(keep, counts)].mean())
    row = np.zeros(table.n_items)
    col = np.zeros(table.n_workers)
    ss_tot, _ = K.icc_sums(table.item_ptr, table.worker_codes, y, keep, center, table.n_workers, row, col)
    rmean = row[keep] / k
    cmean = col[wc > 0] / n
    gmean = rmean.mean()
    ss_tot = ss_tot - n * k * gmean * gmean
    ss_rows = k * float(((rmean - gmean) ** 2).sum())
    ss_cols = n * float(((cmean - gmean) ** 2).sum())
    ss_err = max(ss_tot - ss_rows - ss_cols, 0.0)
    if ss_tot <= 0:
        raise AgreementUndefinedError("icc is undefined: every rating of the complete items is the same number")
    df1, dfw, dfe = n - 1, n * (k - 1), (n - 1) * (k - 1)
    # numpy scalars: a zero mean square divides to inf under errstate (Python floats would raise)
    msb, msw, msj, mse = (np.float64(v) for v in (ss_rows / df1, (ss_tot - ss_rows) / dfw, ss_cols / (k - 1),
                                                  ss_err / dfe))
    with np.errstate(divide="ignore", invalid="ignore"):
        icc1 = (msb - msw) / (msb + (k - 1) * msw)
        icc2 = (msb - mse) / (msb + (k - 1) * mse + k * (msj - mse) / n)
        icc3 = (msb - mse) / (msb + (k - 1) * mse)
        icc1k = (msb - msw) / msb
        icc2k = (msb - mse) / (msb + (msj - mse) / n)
        icc3k = (msb - mse) / msb
        f1 = msb / msw
        f3 = msb / mse
        p1 = float(stats.f.sf(f1, df1, dfw))
        p3 = float(stats.f.sf(f3, df1, dfe))
        q = 1 - (1 - confidence) / 2
        f1l = f1 / stats.f.ppf(q, df1, dfw)
        f1u = f1 * stats.f.ppf(q, dfw, df1)
        f3l = f3 / stats.f.ppf(q, df1, dfe)
        f3u = f3 * stats.f.ppf(q, dfe, df1)
        l1, u1 = (f1l - 1) / (f1l + (k - 1)), (f1u - 1) / (f1u + (k - 1))
        l3, u3 = (f3l - 1) / (f3l + (k - 1)), (f3u - 1) / (f3u + (k - 1))
        if mse > 0:
            fj = msj / mse
            vn = dfe * (k * icc2 * fj + n * (1 + (k - 1) * icc2) - k * icc2) ** 2
            vd = df1 * k ** 2 * icc2 ** 2 * fj ** 2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
            v = vn / vd
        else:  # no residual (raters differ by constant offsets): the limit of vn / vd as fj -> inf
            v = dfe / df1
        f2u = stats.f.ppf(q, df1, v)
        f2l = stats.f.ppf(q, v, df1)
        l2 = n * (msb - f2u * mse) / (f2u * (k * msj + (k * n - k - n) * mse) + n * msb)
        u2 = n * (f2l * msb - mse) / (k * msj + (k * n - k - n) * mse + n * f2l * msb)
        # ICC(A,k)'s bounds are ICC(A,1)'s through Spearman-Brown, k r / (1 + (k - 1) r), which
        # rises from -inf at r = -1/(k-1): a lower bound at or below that maps to -inf
        l2k = l2 * k / (1 + l2 * (k - 1)) if 1 + l2 * (k - 1) > 0 else -np.inf
        lows = [l1, l2, l3, 1 - 1 / f1l, l2k, 1 - 1 / f3l]
        highs = [u1, u2, u3, 1 - 1 / f1u, u2 * k / (1 + u2 * (k - 1)), 1 - 1 / f3u]
    values = [icc1, icc2, icc3, icc1k, icc2k, icc3k]
    # a denominator within rounding of zero or below: that form is unbounded or out of its
    # range there (ICC(A,k) when MSE >= n MSR + MSC, ICC(A,1) <= -1/(k-1); ICC(1,k), ICC(C,k)
    # when every item has the same mean rating); the published formula would give +-1e16 or > 1
    dens = [(msb + (k - 1) * msw, msb + (k - 1) * msw), (msb + (k - 1) * mse + k * (msj - mse) / n,
            msb + (k - 1) * mse + k * (msj + mse) / n), (msb + (k - 1) * mse, msb + (k - 1) * mse),
            (msb, msb + msw), (msb + (msj - mse) / n, msb + (msj + mse) / n), (msb, msb + mse)]
    bad = [t for t, (den, scale), val in zip(_ICC_TYPES, dens, values)
           if den <= 1e-12 * scale or not np.isfinite(val)]
    if bad:
        raise AgreementUndefinedError(
            f"icc is undefined for these ratings: the denominator of {', '.join(bad)} is not positive (the "
            "items' mean ratings differ too little against the raters' disagreement); compare the raters' "
            "ratings directly")
    # perfect agreement (a zero within or residual mean square): ICC 1, F infinite, interval [1, 1]
    lows = [1.0 if not np.isfinite(lo) and val == 1 else lo for lo, val in zip(lows, values)]
    highs = [1.0 if not np.isfinite(hi) and val == 1 else hi for hi, val in zip(highs, values)]
    pct = f"{100 * confidence:g}"
    out = pd.DataFrame({
        "type": list(_ICC_TYPES),
        "ICC": np.array(values, dtype=np.float64),
        "F": [f1, f3, f3, f1, f3, f3],
        "df1": [df1] * 6,
        "df2": [dfw, dfe, dfe, dfw, dfe, dfe],
        "pval": [p1, p3, p3, p1, p3, p3],
        f"CI{pct}_lower": np.array(lows, dtype=np.float64),
        f"CI{pct}_upper": np.array(highs, dtype=np.float64),
    }, index=pd.Index(ICC_FORMS, name="form"))
    num = out.select_dtypes("number").to_numpy(dtype=np.float64)
    if np.isnan(num).any():  # never from data that passed the checks above
        raise AgreementUndefinedError("icc is undefined for these ratings (degenerate mean squares)")
    out.attrs.update(n_items=n, n_raters=k, n_items_dropped=dropped, missing=missing)
    return out


def _has_repeats(table: AnnotationTable) -> np.ndarray:
    """Per item: does a worker rate it more than once (``duplicates="keep"``)?"""
    from .kernels.csr import mark_duplicates

    drop = mark_duplicates(table.item_ptr, table.worker_codes, table.n_workers, False)
    if not drop.any():
        return np.zeros(0, dtype=bool)
    return np.unique(np.repeat(np.arange(table.n_items), table.item_counts())[drop])


# --------------------------------------------------------------------------- alpha for label sets
SET_DISTANCES = ("jaccard", "masi")


def _as_label_set(cell: Any, sep: str | None) -> frozenset | None:
    """One answer as a frozenset (``None``: no answer)."""
    if cell is None or (isinstance(cell, float) and np.isnan(cell)) or cell is pd.NA:
        return None
    if isinstance(cell, str):
        if sep is None:
            raise InputError(f"label cells are strings (e.g. {cell!r}): give sep= (the delimiter between labels), "
                             "or pass lists, tuples or sets")
        return frozenset(p.strip() for p in cell.split(sep) if p.strip() != "")
    if isinstance(cell, (list, tuple, set, frozenset, np.ndarray)):
        items = list(cell.tolist() if isinstance(cell, np.ndarray) else cell)
        for v in items:
            try:
                hash(v)
            except TypeError:
                raise InputError(f"a label set holds an unhashable value {v!r}") from None
            if v is None or (isinstance(v, float) and np.isnan(v)):
                raise InputError(f"a label set holds a null label: {cell!r}")
        return frozenset(items)
    raise InputError(f"label cells must be lists, tuples, sets or {'' if sep else 'sep-'}delimited strings; "
                     f"got {type(cell).__name__} {cell!r}")


def label_set_frame(data: Any, *, sep: str | None = None, item_col: str | None = None,
                    worker_col: str | None = None, label_col: str | None = None
                    ) -> tuple[pd.DataFrame, list[frozenset]]:
    """Multi-label answers as ``(frame of item, worker, set code, sets)``.

    ``data``: a pandas or polars DataFrame with an item column (``item``/``task``),
    a ``worker`` column and a label-set column (``labels``/``label``), whose cells are
    lists, tuples, sets or (with ``sep``) delimited strings.  An empty set (``[]``,
    ``""`` with ``sep``) is an answer ("none apply"); a null cell is no answer and
    its row is dropped.  Set codes number the distinct sets.
    """
    if type(data).__module__.startswith("polars"):
        data = data.to_pandas()
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"label-set data must be a DataFrame with item, worker and labels columns, "
                         f"got {type(data).__name__}")

    def pick(given: str | None, names: tuple[str, ...], what: str) -> str:
        from .errors import MissingColumnError

        if given is not None:
            if given not in data.columns:
                raise MissingColumnError(f"no {what} column {given!r}; columns: {list(data.columns)}")
            return given
        for c in names:
            if c in data.columns:
                return c
        raise MissingColumnError(f"no {what} column (one of {list(names)}); columns: {list(data.columns)}")

    ic = pick(item_col, ("item", "task"), "item")
    wc = pick(worker_col, ("worker",), "worker")
    lc = pick(label_col, ("labels", "label"), "label-set")
    sets = [_as_label_set(c, sep) for c in data[lc].tolist()]
    known = np.array([s is not None for s in sets], dtype=bool)
    codes: dict[frozenset, int] = {}
    code = np.array([codes.setdefault(s, len(codes)) if s is not None else -1 for s in sets], dtype=np.int64)
    frame = pd.DataFrame({"item": data[ic].to_numpy()[known], "worker": data[wc].to_numpy()[known],
                          "label": code[known]})
    return frame, list(codes)


def set_distance_matrix(sets: list[frozenset], distance: str) -> np.ndarray:
    """Distances between label sets: Jaccard ``1 - |A & B| / |A | B|`` or MASI
    (Passonneau 2006) ``1 - J * M`` with ``M`` 1 for equal sets, 0.67 when one holds
    the other, 0.33 for other overlapping sets and 0 for disjoint ones (the constants of
    NLTK's ``masi_distance``); two empty sets are at distance 0."""
    check_choice("distance", distance, SET_DISTANCES)
    q = len(sets)
    _check_dense_labels(q, "krippendorff_alpha_sets")
    universe = {v: j for j, v in enumerate({v for s in sets for v in s})}
    member = np.zeros((q, len(universe)), dtype=np.float64)
    for r, s in enumerate(sets):
        for v in s:
            member[r, universe[v]] = 1.0
    inter = member @ member.T
    size = member.sum(axis=1)
    union = size[:, None] + size[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        jac = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 1.0)
    if distance == "jaccard":
        d = 1.0 - jac
    else:
        a, b = size[:, None], size[None, :]
        m = np.where((a == b) & (inter == a), 1.0,
                     np.where(inter == np.minimum(a, b), 0.67, np.where(inter > 0, 0.33, 0.0)))
        d = 1.0 - jac * m
    d[union == 0] = 0.0
    np.fill_diagonal(d, 0.0)
    return d


def krippendorff_alpha_sets(data: Any, distance: str = "masi", *, sep: str | None = None,
                            item_col: str | None = None, worker_col: str | None = None,
                            label_col: str | None = None, duplicates: str = "error") -> AgreementResult:
    r"""Krippendorff's alpha for multi-label answers with a set distance.

    .. math:: \alpha = 1 - (n - 1)\,\frac{\sum_u \frac{1}{m_u - 1}\sum_{a \ne b \in u}
              \delta(S_a, S_b)}{\sum_{c, k} n_c n_k \delta(S_c, S_k)}

    over pairable items ``u`` (``m_u >= 2`` answers), ``n_c`` the number of pairable
    answers equal to set ``S_c`` and ``n`` their total: Krippendorff's (2011) alpha
    with the set distance as the difference function, as in Passonneau (2006) and
    NLTK's ``AnnotationTask.alpha`` with ``masi_distance`` / ``jaccard_distance``
    (which use the distance itself, not its square).

    Parameters
    ----------
    data : DataFrame
        Columns item (``item``/``task``), ``worker`` and a label-set column
        (``labels``/``label``): lists, tuples, sets, or delimited strings with ``sep``.
        An empty set is an answer; a null cell is no answer.
    distance : {"masi", "jaccard"}
    sep : str, optional
        Delimiter of string cells (``"a|b"`` with ``sep="|"``; parts are stripped, empty
        parts ignored, so ``""`` is the empty set).
    duplicates : {"error", "first", "last", "keep"}
        Repeated (item, worker) answers, as in :func:`~crowdagg.table.as_table`.

    Returns
    -------
    AgreementResult
        ``variant`` the distance; ``details["n_sets"]`` the distinct sets.  No
        standard error (``se`` is ``None``).

    Raises
    ------
    InputError
        Cells that are not label sets, strings without ``sep``.
    AgreementUndefinedError
        No item with two answers, or every pairable answer the same set.

    References
    ----------
    Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability.
    Passonneau, R. (2006). Measuring agreement on set-valued items (MASI) for semantic
    and pragmatic annotation. LREC.
    """
    check_choice("distance", distance, SET_DISTANCES)
    frame, sets = label_set_frame(data, sep=sep, item_col=item_col, worker_col=worker_col, label_col=label_col)
    if frame.empty:
        from .errors import EmptyTableError

        raise EmptyTableError("no answer with a label set (every label cell is null)")
    table = _table(frame, {"duplicates": duplicates}, "krippendorff_alpha_sets")
    delta_all = set_distance_matrix(sets, distance)
    order = table.labels.to_numpy(dtype=np.int64)  # the set code of every table label
    delta = np.ascontiguousarray(delta_all[np.ix_(order, order)])
    marg = np.zeros(table.n_labels)
    do_sum = K.alpha_matrix_slice(table.item_ptr, table.label_codes, delta, 0, table.n_items, marg)
    counts = table.item_counts()
    _need_pairs(counts)
    n = marg.sum()
    de_sum = float(marg @ delta @ marg)
    if de_sum <= 0:
        raise AgreementUndefinedError("Krippendorff's alpha is undefined: every pairable answer is the same "
                                      "label set (no expected disagreement)")
    value = 1.0 - (n - 1) * do_sum / de_sum
    pairable = int((counts >= 2).sum())
    return AgreementResult(coefficient="krippendorff_alpha", value=float(value), variant=distance,
                           n_items=pairable, n_annotations=int(n), pa=None, pe=None,
                           details={"n_sets": len(sets), "D_o": float(do_sum / n),
                                    "D_e": float(de_sum / (n * (n - 1)))})
