"""Helpers shared by the agreement coefficients: :mod:`crowdagg.agreement` (local),
:mod:`crowdagg.distributed.agreement` and :mod:`crowdagg.quality` import them from here.

Table building with option checks (:func:`_table`), argument checks, agreement
weights, label values per level of measurement, t intervals, and the analytic
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
from .errors import CrowdaggError, InputError, LevelError, TooLargeError
from .kernels import agreement as K
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


def _plain(v: Any) -> Any:
    """A NumPy scalar as the Python value (``1``, not ``np.int64(1)``, in messages)."""
    return v.item() if isinstance(v, np.generic) else v


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


def _t_interval(value: float, se: float, df: int, confidence: float, cap: bool = True) -> tuple[float, float]:
    from scipy import stats

    if df < 1 or not np.isfinite(se):
        return (value, value)
    h = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
    return _capped(value, value - h, value + h) if cap else (value - h, value + h)


def _capped(value: float, lo: float, hi: float) -> tuple[float, float]:
    """An analytic interval clipped to the coefficients' range [-1, 1] (never excluding ``value``)."""
    return (max(lo, min(-1.0, value)), min(hi, max(1.0, value)))


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
