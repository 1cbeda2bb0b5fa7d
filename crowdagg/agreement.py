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
    WEIGHTS,
    Level,
    LocalParts,
    _capped,
    _check_common,
    _check_dense_labels,
    _level_values,
    _plain,
    _t_interval,
    _table,
    _weights_matrix,
    alpha_core,
    alpha_linearisation,
    alpha_marginals,
    alpha_se_sum,
    alpha_terms,
    family_core,
    family_se_sum,
    family_terms,
    linearised_se,
    pairs_frame,
)
from ._validation import check_choice, check_int, check_random_state
from .errors import AgreementUndefinedError, InputError
from .kernels import agreement as K
from .kernels._util import chunk_bounds
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


def _with_bootstrap(res: dict[str, Any], reps: np.ndarray | None, confidence: float, what: str) -> dict[str, Any]:
    if reps is None:
        res["details"]["ci_method"] = res["details"].get("ci_method", "analytic")
        return res
    se, ci, n_bad = _bootstrap_summary(reps, confidence, what)
    res["details"].update(se_analytic=res["se"], ci_analytic=res["ci"], n_boot=int(reps.size),
                          n_boot_undefined=n_bad, ci_method="bootstrap percentile")
    res["se"], res["ci"] = se, ci
    return res


def _item_label_counts(table: AnnotationTable) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
        to [-1, 1].  For ordinal data the distances themselves depend on the marginals;
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
        K.alpha_boot_parallel(table.item_ptr, nd, lab, cnt, np.flatnonzero(pm).astype(np.int64), r_item, do_item,
                              metric, values, _seed(random_state, n_boot), K.replicate_bounds(n_boot), reps)
    res = _with_bootstrap(res, reps, confidence, "Krippendorff's alpha")
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
        K.family_boot_parallel(ptr, nd, lab, cnt, np.flatnonzero(rated).astype(np.int64), r_all, sq, kind, w,
                               sum_w, _seed(random_state, n_boot), K.replicate_bounds(n_boot), reps)
    res = _with_bootstrap(res, reps, confidence, name)
    return AgreementResult(coefficient=name, variant=wname, n_items=n, n_annotations=table.n_annotations, **res)


def _conger_pe(table: AnnotationTable, w: np.ndarray, n: int) -> tuple[float, np.ndarray]:
    """Conger's chance agreement and its per-item linearisation term (Gwet 2014, irrCAC).

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
    return pe, pe_item


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
        with ``n - 1`` d.o.f. (``n`` rated items), clipped to [-1, 1].

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


for _f in (fleiss_kappa, gwet_ac, brennan_prediger, percent_agreement):
    _f.__doc__ = (_f.__doc__ or "") + _FAMILY_DOC
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
    var = (np.sum(p * (w - adj * (1 - kappa)) ** 2) - (kappa - pe * (1 - kappa)) ** 2) / (n * (1 - pe) ** 2)
    var0 = (np.sum(np.outer(pr, pc) * (w - adj) ** 2) - pe**2) / (n * (1 - pe) ** 2)
    return float(np.sqrt(max(var, 0.0))), float(np.sqrt(max(var0, 0.0)))


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
        to [-1, 1] (``se`` and ``ci`` are None with a single shared observation);
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
    if la.size < 2:  # one observation: no variance estimate (as the family at n = 1)
        res = dict(value=float(kappa), se=None, ci=None, pa=float(po), pe=float(pe),
                   details={"se_h0": None, "z": None, "ci_method": "analytic (normal)"})
    else:
        res = dict(value=float(kappa), se=se, ci=_capped(kappa, kappa - zq * se, kappa + zq * se), pa=float(po),
                   pe=float(pe), details={"se_h0": se0, "z": float(kappa / se0) if se0 > 0 else None,
                                          "ci_method": "analytic (normal)"})
    reps = None
    if n_boot:
        reps = np.empty(n_boot)
        K.cohen_boot_parallel(la_c, lb_c, w, _seed(random_state, n_boot), K.replicate_bounds(n_boot), reps)
    res = _with_bootstrap(res, reps, confidence, "Cohen's kappa")
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
