"""Helpers shared by the agreement coefficients: :mod:`crowdagg.agreement` (local),
:mod:`crowdagg.distributed.agreement` and :mod:`crowdagg.quality` import them from here.

Table building with option checks (:func:`_table`), argument checks, agreement
weights, label values per level of measurement, t intervals clipped to each
coefficient's range (:func:`family_range`, :func:`cac_range`), and the analytic
standard error of Krippendorff's alpha (Gwet 2014 linearisation):
:func:`alpha_linearisation` gives its table-wide terms, :func:`alpha_se_sum` the
per-item sum of squares of a table or of one distributed piece, and
:func:`linearised_se` the standard error from that sum.
"""

from __future__ import annotations

import os
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from . import memory
from ._validation import check_choice, check_float, check_int, check_random_state
from .errors import AgreementUndefinedError, CrowdaggError, InputError, LevelError, TooLargeError
from .factorize import _plain
from .kernels import agreement as K
from .kernels._util import parallel_guard
from .table import AnnotationTable, as_table

Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS = ("nominal", "ordinal", "interval", "ratio")
WEIGHTS = ("identity", "linear", "quadratic")
_MAX_DENSE_LABELS = 5000
_MAX_BOOT = 1_000_000
_FAMILY = {"fleiss_kappa": 0, "gwet_ac": 1, "brennan_prediger": 2, "percent_agreement": 3, "conger_kappa": 4}


_TABLE_OPTIONS = ("item_col", "worker_col", "label_col", "labels", "duplicates")


def _table(data: Any, table_kwargs: dict[str, Any], func: str = "this function") -> AnnotationTable:
    """:func:`as_table` with an :class:`InputError` naming any unknown option.

    The extra keywords of the agreement and quality functions go to the table
    constructor; a misspelt one (``n_bootstrap=``) or an option the function does
    not have must not surface as a raw ``TypeError``.
    """
    if table_kwargs and not isinstance(data, AnnotationTable):
        valid = _TABLE_OPTIONS + (("delimiter",) if isinstance(data, (str, os.PathLike)) else ())
        bad = sorted(k for k in table_kwargs if k not in valid)
        if bad:
            raise InputError(
                f"{func} got unknown option(s) {bad}; besides its own parameters it accepts only the "
                f"table options {list(valid)}"
            )
    try:
        with parallel_guard():  # the table build runs parallel kernels (string hashing)
            return as_table(data, **table_kwargs)
    except TypeError as exc:
        if isinstance(exc, CrowdaggError):
            raise
        raise InputError(f"{func}: bad table option(s) {sorted(table_kwargs)}: {exc}") from None


def _check_common(n_boot: Any, confidence: Any, random_state: Any = None) -> tuple[int, float]:
    check_random_state(random_state)  # one seed rule, also where no bootstrap uses it
    n_boot = check_int("n_boot", n_boot, 0)
    if n_boot > _MAX_BOOT:
        raise InputError(f"n_boot must be at most {_MAX_BOOT:,}, got {n_boot:,}")
    confidence = check_float("confidence", confidence, 0.0, strict=True)
    if confidence >= 1.0:
        raise InputError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")
    return n_boot, confidence


def _weights_matrix(weights: Any, q: int, codes: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """Agreement weights (1 on the diagonal) over label codes ``codes`` (default all).

    ``"linear"``: ``1 - |k - l| / (q - 1)``; ``"quadratic"``: ``1 - (k - l)^2 / (q - 1)^2``
    on label positions in the table's label order (ranks, as R irr / SAS /
    scikit-learn do).  An array is taken as a ``q x q`` agreement-weight matrix.
    """
    idx = np.arange(q) if codes is None else np.asarray(codes, dtype=np.int64)
    if weights is None or (isinstance(weights, str) and weights in ("identity", "none", "unweighted")):
        return (idx[:, None] == idx[None, :]).astype(np.float64), "identity"
    if isinstance(weights, str):
        check_choice("weights", weights, (None, *WEIGHTS))
        if q < 2:
            return np.ones((len(idx), len(idx))), weights
        d = np.abs(idx[:, None] - idx[None, :]).astype(np.float64) / (q - 1)
        w = 1.0 - d if weights == "linear" else 1.0 - d * d
        return w, weights
    if isinstance(weights, (dict, set)):
        raise InputError(f"weights must be None, one of {list(WEIGHTS)} or a {q} x {q} matrix, got {weights!r}")
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"weights must be None, one of {list(WEIGHTS)} or a {q} x {q} matrix of numbers "
            f"(labels x labels); got {type(weights).__name__}: {exc}"
        ) from None
    if w.shape != (q, q):
        raise InputError(f"a weights matrix must be {q} x {q} (labels x labels), got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise InputError("the weights matrix has non-finite entries")
    return np.ascontiguousarray(w[np.ix_(idx, idx)]), "custom"


def _check_dense_labels(q: int, what: str) -> None:
    """Refuse labels x labels tables beyond :data:`_MAX_DENSE_LABELS` labels (or the memory limit)."""
    if q > _MAX_DENSE_LABELS:
        raise TooLargeError(
            f"{what} needs labels x labels tables and the table has {q:,} labels (limit "
            f"{_MAX_DENSE_LABELS:,}: {memory.format_bytes(8 * q * q)} each); for continuous values use "
            "krippendorff_alpha(level='interval'), else merge labels"
        )
    memory.check(what, [(f"labels x labels tables, {q:,} x {q:,}, 4 copies", 4 * 8 * q * q)],
                 "merge labels")


#: The range of Krippendorff's alpha (and of Cohen's kappa with identity, linear or quadratic weights)
UNIT_RANGE = (-1.0, 1.0)


def _t_interval(value: float, se: float, df: int, confidence: float, cap: bool = True,
                bounds: tuple[float, float] = UNIT_RANGE) -> tuple[float, float]:
    """The t interval ``value -/+ t * se`` on ``df`` d.o.f., clipped to ``bounds`` (the coefficient's range)."""
    from scipy import stats

    if df < 1 or not np.isfinite(se):
        return (value, value)
    h = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
    return _capped(value, value - h, value + h, bounds) if cap else (value - h, value + h)


def _capped(value: float, lo: float, hi: float, bounds: tuple[float, float] = UNIT_RANGE) -> tuple[float, float]:
    """An analytic interval clipped to the coefficient's range ``bounds`` (never excluding ``value``).

    ``bounds`` may be infinite (no clip on that side); see :func:`cac_range` and :func:`family_range`.
    """
    b_lo, b_hi = bounds
    return (max(lo, min(b_lo, value)), min(hi, max(b_hi, value)))


def cac_range(pa_range: tuple[float, float], pe_range: tuple[float, float]) -> tuple[float, float]:
    """The range of ``(pa - pe) / (1 - pe)`` over ``pa`` in ``pa_range`` and ``pe`` in ``pe_range``.

    The ratio rises with ``pa`` and is monotone in ``pe`` (where ``pe < 1``), so its extremes lie
    at the corners; as ``pe`` tends to 1 it tends to ``-inf`` (``pa < 1``), 1 (``pa = 1``) or
    ``+inf`` (``pa > 1``).  A ``pe`` range beyond 1 gives ``(-inf, inf)``.
    """
    pe_lo, pe_hi = pe_range
    if pe_hi > 1.0:
        return (-np.inf, np.inf)
    corners = []
    for pa in pa_range:
        for pe in (pe_lo, pe_hi):
            if pe >= 1.0:
                corners.append(-np.inf if pa < 1.0 else (1.0 if pa == 1.0 else np.inf))
            else:
                corners.append((pa - pe) / (1.0 - pe))
    return (float(min(corners)), float(max(corners)))


def family_range(kind: int, w: np.ndarray, m: int | None = None) -> tuple[float, float]:
    """The range of a kappa-family coefficient (``kind`` as in ``_FAMILY``) with agreement weights ``w``.

    With a unit diagonal, ``pa`` (a mean of weights over pairs of ratings) lies in
    ``[min w, max w]``, and ``pe`` in: ``{0}`` (percent agreement), ``{sum(W) / q^2}``
    (Brennan-Prediger), between 0 and ``sum(W) / q^2`` (Gwet: ``sum_k pi_k (1 - pi_k)`` is
    at most ``1 - 1/q``), ``[min w, max w]`` (Fleiss, Conger: a mean of weights).  The
    range is then :func:`cac_range`: percent agreement ``[0, 1]``; Brennan-Prediger and
    Gwet's AC1 ``[-1/(q-1), 1]`` unweighted; Fleiss and Conger ``(-inf, 1]`` (single-rated
    items count in ``pi``, so ``pe`` can near 1 while ``pa`` is 0).  ``m`` (given for
    Fleiss when every rated item has ``m`` ratings, for Conger when besides each of the ``m``
    raters rates every item once) with identity or linear weights (positive semi-definite)
    raises the lower bound to ``-1/(m-1)``: Fleiss' ``pa >= (m pe - 1)/(m-1)`` by Jensen's
    inequality (Fleiss 1971), and with complete data Conger's ``pe`` is Fleiss' less
    ``tr(W S)/r >= 0``, so Conger's kappa is at least Fleiss'.  Weights whose diagonal is not
    all 1: no finite range.
    """
    w = np.asarray(w, dtype=np.float64)
    q = w.shape[0]
    if q == 0 or not np.all(np.diag(w) == 1.0):
        return (-np.inf, np.inf)
    wmin, wmax = float(w.min()), float(w.max())
    if kind == 3:
        return (wmin, wmax)
    if kind == 2:
        pe = float(w.sum()) / (q * q)
        pe_range = (pe, pe)
    elif kind == 1:
        top = float(w.sum()) / (q * q)
        pe_range = (min(0.0, top), max(0.0, top))
    else:
        pe_range = (wmin, wmax)
    lo, hi = cac_range((wmin, wmax), pe_range)
    if kind in (0, 4) and m is not None and m >= 2 and _identity_or_linear(w):
        lo = max(lo, -1.0 / (m - 1))
    return (lo, hi)


def _identity_or_linear(w: np.ndarray) -> bool:
    """Is ``w`` the identity or the linear weights (both positive semi-definite)?"""
    q = w.shape[0]
    if np.array_equal(w, np.eye(q)):
        return True
    idx = np.arange(q)
    return q >= 2 and np.array_equal(w, 1.0 - np.abs(idx[:, None] - idx[None, :]).astype(np.float64) / (q - 1))


# --------------------------------------------------------------------------- levels of measurement
def _numeric_labels(labels: pd.Index) -> list[Any] | None:
    """The labels as a list of Python numbers, or ``None`` when they are not all numbers."""
    if labels.dtype.kind in "iuf":
        return labels.tolist()
    if labels.dtype.kind != "O":
        return None
    vals = labels.tolist()
    import numbers

    if all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in vals):
        return vals
    return None


def _level_values(table: AnnotationTable, level: str) -> np.ndarray:
    """Label values for the distance of ``level``: codes (nominal, ordinal) or the
    numeric labels in float64.  Interval values are measured from the smallest
    label in exact arithmetic (interval alpha depends on differences only; this
    keeps big integers and large offsets exact); values are then scaled by a power
    of two (interval and ratio alpha are scale-free) so that no squared difference
    overflows.  Distinct labels that would still be one float64 raise LevelError."""
    q = table.n_labels
    if level in ("nominal", "ordinal"):
        return np.arange(q, dtype=np.float64)
    labels = table.labels
    raw = _numeric_labels(labels)
    if raw is None:
        raise LevelError(
            f"level={level!r} needs numeric labels; the table's labels are {labels.dtype} "
            f"(e.g. {labels[:5].tolist()}). Use level='nominal' or 'ordinal' (ordinal follows the "
            "label order, which labels=[...] fixes)"
        )
    if level == "interval":  # distances are differences: measure from the smallest label, exactly
        from fractions import Fraction

        try:
            exact = [v if isinstance(v, (int, np.integer)) else Fraction(float(v)) for v in raw]
            v0 = min(exact)
            raw = [v - v0 for v in exact]
        except (OverflowError, ValueError):  # inf or NaN: refused below
            pass
    try:
        values = np.array([float(v) for v in raw], dtype=np.float64)
    except (OverflowError, ValueError):
        values = np.array([np.inf])
    if not np.all(np.isfinite(values)):
        raise LevelError(f"level={level!r} needs finite label values (a label is infinite, NaN or beyond float64)")
    # distinct labels must stay distinct numbers: big integers (beyond 2**53) can round to one float64
    uniq, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    if uniq.size < values.size:
        dup = np.flatnonzero(counts[inverse] > 1)
        shown = [_plain(labels[i]) for i in dup[:4]]
        raise LevelError(
            f"level={level!r}: the labels {shown} are distinct but equal as float64 numbers ({float(values[dup[0]])!r}), "
            "so their distances cannot be computed exactly; subtract an offset from the labels or use "
            "level='ordinal' (ranks)"
        )
    if level == "ratio" and (values < 0).any():
        raise LevelError("level='ratio' needs non-negative label values (a ratio scale has a true zero)")
    top = float(np.max(np.abs(values)))
    if top > 0:
        values = np.ldexp(values, -int(np.frexp(top)[1]))  # exact: a power of two, |values| < 1
    return values


# --------------------------------------------------------------------------- Krippendorff's alpha: analytic SE
class AlphaTerms(NamedTuple):
    """Table-wide terms of the linearised variance of Krippendorff's alpha."""

    dmax: float
    rbar: float
    pa: float
    pe: float
    alpha_prime: float
    piw: np.ndarray


def alpha_linearisation(metric: int, used: np.ndarray, values: np.ndarray, cum: np.ndarray, marg: np.ndarray,
                        de: float, do_sum: float, n: int) -> AlphaTerms:
    """Gwet (2014) / irrCAC linearisation of alpha as a chance-corrected agreement coefficient
    with agreement weights ``1 - delta / delta_max``: the terms every item's contribution reads.

    ``used``: label codes with a pairable rating; ``de``, ``do_sum``: expected and observed
    disagreement sums; ``n``: pairable items.
    """
    if metric in (2, 3):
        lo_c, hi_c = used[np.argmin(values[used])], used[np.argmax(values[used])]
    else:
        lo_c, hi_c = used[0], used[-1]
    dmax = K.delta(metric, lo_c, hi_c, values, cum, marg) if metric != 0 else 1.0
    n_tot = float(marg.sum())
    eps = 1.0 / n_tot
    pa_prime = 1.0 - (do_sum / dmax) / n_tot
    pa = (1 - eps) * pa_prime + eps
    pe = 1.0 - de / (n_tot * n_tot * dmax)
    e_row = np.empty(marg.shape[0])
    K.expected_row(metric, marg, values, cum, e_row)
    return AlphaTerms(dmax=dmax, rbar=n_tot / n, pa=pa, pe=pe, alpha_prime=(pa_prime - pe) / (1 - pe),
                      piw=1.0 - e_row / dmax)


def alpha_se_sum(table: AnnotationTable, r_item: np.ndarray, do_item: np.ndarray, lin: AlphaTerms) -> float:
    """``sum_i (x_i - alpha')^2`` over the pairable items of ``table`` (a whole table or one
    piece of a distributed one); ``r_item``, ``do_item``: per-item ratings and observed
    disagreement from the alpha kernels."""
    r_all = np.diff(table.item_ptr)
    pm = r_all >= 2
    if not pm.any():
        return 0.0
    ann = np.repeat(pm, r_all)
    r = r_item[pm]
    d_i = do_item[pm] / lin.dmax
    rbar, pa, pe = lin.rbar, lin.pa, lin.pe
    pe_num = np.bincount(table.item_codes[ann], weights=lin.piw[table.label_codes[ann]],
                         minlength=table.n_items)[pm]
    pa_i = (r - d_i) / rbar - pa * (r - rbar) / rbar
    k_i = (pa_i - pe) / (1 - pe)
    pe_i = pe_num / rbar - pe * (r - rbar) / rbar
    x_i = k_i - 2 * (1 - lin.alpha_prime) * (pe_i - pe) / (1 - pe)
    return float(((x_i - lin.alpha_prime) ** 2).sum())


def linearised_se(ss: float, n: int) -> float:
    """The standard error ``sqrt(ss / (n (n - 1)))`` of a linearised coefficient over ``n`` items (NaN below 2)."""
    return float(np.sqrt(ss / (n * (n - 1)))) if n > 1 else float("nan")


# --------------------------------------------------------------------------- per-table sums (a table or a Dask piece)
def _bounds(ptr: np.ndarray) -> np.ndarray:
    from .kernels._util import chunk_bounds

    return chunk_bounds(ptr)


def alpha_marginals(table: AnnotationTable, parallel: bool = False) -> tuple[np.ndarray, float, float]:
    """Pairable label marginals, pairable item count and pairable annotation count."""
    r = np.diff(table.item_ptr)
    ann = np.repeat(r >= 2, r)
    marg = np.bincount(table.label_codes[ann], minlength=table.n_labels).astype(np.float64)
    return marg, float((r >= 2).sum()), float(ann.sum())


def alpha_terms(table: AnnotationTable, metric: int, values: np.ndarray, cum: np.ndarray, marg: np.ndarray,
                parallel: bool = False) -> tuple[float, np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """Observed disagreement sum; per item ``r_i`` and ``D_i`` (for the SE); the per-item
    label counts (for the bootstrap).  ``parallel``: the multi-threaded kernels (a local
    table) or the serial slice (a Dask piece)."""
    ptr = table.item_ptr
    counts = K.item_label_counts(ptr, table.label_codes, table.n_labels, parallel=parallel)
    r_item, do_item = np.empty(table.n_items), np.empty(table.n_items)
    if parallel:
        K.alpha_item_parallel(ptr, *counts, metric, values, cum, marg, _bounds(ptr), r_item, do_item)
    else:
        K.alpha_item_slice(ptr, *counts, metric, values, cum, marg, 0, table.n_items, r_item, do_item)
    return float(do_item.sum()), r_item, do_item, counts


def family_terms(table: AnnotationTable, w: np.ndarray, parallel: bool = False
                 ) -> tuple[tuple[float, float, float, np.ndarray], np.ndarray, tuple[np.ndarray, ...]]:
    """Fleiss-family sums ``(n rated, n with two ratings, sum pa_i, pi numerator, sum r_i, sum r_i^2)``
    (the last two over rated items: is ``r_i`` constant?), per-item
    ``pa_i``, and ``(nd, lab, cnt, sq)`` (label counts, weighted pair sums: for the bootstrap)."""
    ptr = table.item_ptr
    r_all = np.diff(ptr).astype(np.float64)
    nd, lab, cnt = K.item_label_counts(ptr, table.label_codes, table.n_labels, parallel=parallel)
    sq = np.empty(table.n_items)
    if parallel:
        K.weighted_pairs_parallel(ptr, nd, lab, cnt, w, _bounds(ptr), sq)
    else:
        K.weighted_pairs_slice(ptr, nd, lab, cnt, w, 0, table.n_items, sq)
    two = r_all >= 2
    pa_item = np.where(two, sq / np.where(two, r_all * (r_all - 1), 1.0), 0.0)
    inv_r = 1.0 / r_all[table.item_codes] if table.n_annotations else np.zeros(0)
    pi_num = np.bincount(table.label_codes, weights=inv_r, minlength=table.n_labels)
    r_int = np.diff(ptr).astype(np.int64)
    sums = (float((r_all >= 1).sum()), float(two.sum()), float(pa_item[two].sum()), pi_num, int(r_int.sum()),
            int((r_int * r_int).sum()))
    return sums, pa_item, (nd, lab, cnt, sq)


def family_se_sum(table: AnnotationTable, pa_item: np.ndarray, kind: int, pi: np.ndarray, w: np.ndarray,
                  pe: float, value: float, n: int, n2: int, q: int, pe_item: np.ndarray | None = None) -> float:
    """``sum_i (x_i - value)^2`` over the rated items of a table or piece (Gwet 2014
    linearisation, as irrCAC); ``pe_item``: Conger's per-item term (kind 4)."""
    r_all = np.diff(table.item_ptr).astype(np.float64)
    ic, lc = table.item_codes, table.label_codes
    two = r_all >= 2
    if kind == 0:
        piw = (w @ pi + w.T @ pi) / 2
        pe_item = np.bincount(ic, weights=piw[lc], minlength=table.n_items) / np.maximum(r_all, 1)
    elif kind == 1:
        pe_item = (float(w.sum()) / (q * (q - 1))) * np.bincount(ic, weights=(1 - pi)[lc],
                                                               minlength=table.n_items) / np.maximum(r_all, 1)
    x = (n / n2) * (pa_item - pe * two) / (1 - pe)
    if pe_item is not None:
        x = x - 2 * (1 - value) * (pe_item - pe) / (1 - pe)
    x = x[r_all >= 1]
    return float(((x - value) ** 2).sum())


# --------------------------------------------------------------------------- one core for local and Dask tables
class LocalParts:
    """A local table as the one *part* of the agreement sums (the multi-threaded kernels).

    The Dask twin (``crowdagg.distributed.agreement``) has one part per piece.  ``map(fn,
    *args, per=None)`` runs ``fn(table, [per[i],] *args)`` on every part; ``sum(handles,
    pick=None)`` adds the results (their element ``pick``).
    """

    def __init__(self, table: AnnotationTable) -> None:
        self.table = table

    def map(self, fn: Any, *args: Any, per: list[Any] | None = None) -> list[Any]:
        head = () if per is None else (per[0],)
        with parallel_guard():  # the multi-threaded kernels (see kernels._util.parallel_guard)
            return [fn(self.table, *head, *args, parallel=True)]

    def sum(self, handles: list[Any], pick: int | None = None) -> Any:
        return handles[0] if pick is None else handles[0][pick]


def no_pairs() -> AgreementUndefinedError:
    return AgreementUndefinedError(
        "agreement is undefined: every item has fewer than two ratings, so no pair of ratings can be compared")


def _alpha_se_part(table: AnnotationTable, terms: Any, lin: AlphaTerms, parallel: bool = False) -> float:
    return alpha_se_sum(table, terms[1], terms[2], lin)


def _family_se_part(table: AnnotationTable, terms: Any, *args: Any, parallel: bool = False) -> float:
    return family_se_sum(table, terms[1], *args)


def alpha_core(parts: Any, labels: pd.Index, metric: int, values: np.ndarray, confidence: float
               ) -> tuple[dict[str, Any], list[Any], int, int]:
    """Krippendorff's alpha, its linearised SE and t interval from per-part sums (local or Dask):
    ``(result fields, per-part terms, pairable items, pairable annotations)``."""
    marg, n_pairable, n_ann = parts.sum(parts.map(alpha_marginals))
    if n_pairable == 0:
        raise no_pairs()
    used = np.flatnonzero(marg > 0)
    if used.size < 2:
        raise AgreementUndefinedError(
            f"Krippendorff's alpha is undefined: one value ({_plain(labels[used[0]])!r}) is used by every "
            "pairable rating, so there is no variation to agree on")
    cum = np.zeros(marg.shape[0] + 1)
    np.cumsum(marg, out=cum[1:])
    terms = parts.map(alpha_terms, metric, values, cum, marg)
    do_sum = float(parts.sum(terms, 0))
    de = K.expected_sum(metric, marg, values, cum)
    if not de > 0:
        raise AgreementUndefinedError("Krippendorff's alpha is undefined: expected disagreement is zero")
    alpha = 1.0 - (float(marg.sum()) - 1.0) * do_sum / de
    n = int(n_pairable)
    lin = alpha_linearisation(metric, used, values, cum, marg, de, do_sum, n)
    se = linearised_se(float(parts.sum(parts.map(_alpha_se_part, lin, per=terms))), n)
    ok = np.isfinite(se)
    # alpha lies in [-1, 1]: every level's delta^2 is a squared Euclidean distance (nominal: simplex
    # vertices; ordinal: mid-ranks; ratio: 1 - sech^2 of half the log ratio, a positive-definite
    # kernel), so D_o sums within-unit scatter and alpha >= 1 - 2 (n - 1) / n > -1
    res = dict(value=float(alpha), se=se if ok else None, ci=_t_interval(alpha, se, n - 1, confidence) if ok
               else None, pa=float(lin.pa), pe=float(lin.pe), details={"ci_method": "analytic (t)"})
    return res, terms, n, int(n_ann)


def family_core(parts: Any, name: str, labels: pd.Index, w: np.ndarray, confidence: float,
                conger_pe: Any = None) -> tuple[dict[str, Any], list[Any], np.ndarray, int]:
    """Fleiss' kappa, Gwet's AC, Brennan-Prediger, percent agreement (Conger's kappa with
    ``conger_pe(n) -> (pe, pe_item, complete)``, ``complete``: every rated item has one rating from
    every rater) from per-part sums: ``(result fields, per-part terms,
    pi, rated items)``."""
    kind, q = _FAMILY[name], len(labels)
    terms = parts.map(family_terms, w)
    n, n2, pa_sum, pi_num, sum_r, sum_r2 = parts.sum(terms, 0)
    if n2 == 0:
        raise no_pairs()
    if kind in (1, 2, 4) and q < 2:
        raise AgreementUndefinedError(
            f"{name} is undefined with a single label in the label set ({_plain(labels[0])!r}); give the "
            "possible labels with labels=[...]")
    n, n2 = int(n), int(n2)
    pa = float(pa_sum / n2)
    pi = pi_num / n
    pe, pe_item, complete = (conger_pe(n) if kind == 4
                             else (float(K.family_pe(kind, pi, w, float(w.sum()))), None, False))
    if pe >= 1.0 - 1e-12:
        raise AgreementUndefinedError(
            f"{name} is undefined: chance agreement is 1 (one label is used by every rating, or the "
            "weights make every pair agree)")
    value = (pa - pe) / (1 - pe)
    # Gwet (2014) linearisation variance, as irrCAC
    ss = parts.sum(parts.map(_family_se_part, kind, pi, w, pe, value, n, n2, q, pe_item, per=terms))
    se = linearised_se(float(ss), n)
    ok = np.isfinite(se)
    # r_i constant over the rated items exactly when n sum r_i^2 = (sum r_i)^2 (integers: exact)
    m = int(sum_r) // n if int(sum_r) ** 2 == n * int(sum_r2) and (kind == 0 or complete) else None
    res = dict(value=float(value), se=se if ok else None,
               ci=_t_interval(value, se, n - 1, confidence, bounds=family_range(kind, w, m)) if ok else None,
               pa=pa, pe=float(pe), details={"ci_method": "analytic (t)"})
    return res, terms, pi, n


def pairs_frame(workers: pd.Index, key: np.ndarray, n: np.ndarray, po: np.ndarray, kappa: np.ndarray
                ) -> pd.DataFrame:
    """The pairwise Cohen's kappa output: one row per worker pair (``key = a * n_workers + b``)."""
    nw = len(workers)
    k = pd.array(kappa, dtype="Float64")
    k[~np.isfinite(kappa)] = pd.NA
    return pd.DataFrame({"worker_a": workers.take(key // nw).to_numpy(), "worker_b": workers.take(key % nw).to_numpy(),
                         "n_items": n, "agreement": po, "kappa": k})
