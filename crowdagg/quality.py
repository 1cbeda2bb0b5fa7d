"""Gold-question scoring: how often each worker, or an aggregate, matches known answers.

A QA lead who must decide which workers to keep scores them on *gold* (or
"honeypot", "control") items whose true label is known [1]_:

* :func:`score_workers` — per worker: gold answers, correct answers, accuracy
  with a Wilson score interval [2]_ [3]_, per-class recall and the confusion
  matrix against gold; :meth:`GoldScores.sorted` orders workers by any score and
  :meth:`GoldScores.flag` lists those whose whole interval lies below a bar, so a
  worker with two gold answers is not condemned on noise.
* :func:`accuracy_against_gold` — accuracy of any aggregation result (an
  estimator, an :class:`~crowdagg.results.AggregationResult` or a Series of
  labels) against gold, overall and per class.
* :func:`wilson_interval` — the interval itself, vectorised.

References
----------
.. [1] Oleson, D., Sorokin, A., Laughlin, G., Hester, V., Le, J. and Biewald, L.
   (2011). Programmatic gold: targeted and scalable quality assurance in
   crowdsourcing. *Human Computation Workshop (AAAI)*, 43-48.
.. [2] Wilson, E. B. (1927). Probable inference, the law of succession, and
   statistical inference. *JASA* 22(158), 209-212.
.. [3] Brown, L. D., Cai, T. T. and DasGupta, A. (2001). Interval estimation for
   a binomial proportion. *Statistical Science* 16(2), 101-133.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from . import memory
from ._agreement_common import _table
from ._validation import check_choice, check_float, check_int
from .errors import GoldError, InputError
from .factorize import _holds_strings, _lookup
from .gold import gold_by_item
from .kernels._util import parallel_guard
from .kernels.quality import gold_confusions, gold_counts
from .table import AnnotationTable

__all__ = [
    "GoldScores",
    "GoldAccuracy",
    "score_workers",
    "accuracy_against_gold",
    "wilson_interval",
]

Missing = Literal["wrong", "exclude"]


# --------------------------------------------------------------------------- Wilson interval
def _check_confidence(confidence: Any, name: str = "confidence") -> float:
    c = check_float(name, confidence)
    if not 0.0 < c < 1.0:
        raise InputError(f"{name} must lie strictly between 0 and 1, got {confidence!r}")
    return c


def _z(confidence: float) -> float:
    """Two-sided normal quantile: ``P(|Z| <= z) = confidence``."""
    from scipy.special import ndtri

    # -ndtri((1 - c) / 2) keeps precision for c close to 1, where (1 + c) / 2 rounds.
    return float(-ndtri((1.0 - confidence) / 2.0))


def wilson_interval(
    successes: Any, n: Any, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    r"""Wilson score interval for a binomial proportion [2]_.

    .. math::

        \frac{k + z^2/2 \pm z\sqrt{k(n-k)/n + z^2/4}}{n + z^2}

    with :math:`z` the two-sided normal quantile of ``confidence``.  Unlike the
    Wald interval it never leaves [0, 1] and stays informative at ``k = 0`` and
    ``k = n`` [3]_, where the bounds are exactly 0 and 1.

    Parameters
    ----------
    successes, n : int or array-like of int
        Successes ``k`` and trials ``n`` (broadcast together), ``0 <= k <= n``.
    confidence : float
        Coverage in (0, 1), e.g. 0.95.

    Returns
    -------
    low, high : numpy.ndarray of float64
        The bounds (0-d arrays for scalar input).  With ``n = 0`` every proportion
        is possible and the interval is [0, 1].

    Raises
    ------
    InputError
        For ``confidence`` outside (0, 1), negative or non-integer counts,
        ``k > n``, or shapes that do not broadcast.

    Examples
    --------
    >>> lo, hi = wilson_interval(8, 10)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.4902, 0.9433)
    """
    c = _check_confidence(confidence)
    k = np.asarray(successes)
    m = np.asarray(n)
    for arr, name in ((k, "successes"), (m, "n")):
        if arr.dtype.kind not in "iub":
            if arr.dtype.kind != "f" or not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
                raise InputError(f"{name} must be whole numbers, got dtype {arr.dtype}")
    try:
        k, m = np.broadcast_arrays(k.astype(np.float64), m.astype(np.float64))
    except ValueError:
        raise InputError(
            f"successes and n must have shapes that broadcast together, got {k.shape} and {m.shape}"
        ) from None
    if np.any(k < 0) or np.any(m < 0):
        raise InputError("successes and n must be non-negative")
    if np.any(k > m):
        raise InputError("successes must not exceed n")
    z = _z(c)
    z2 = z * z
    empty = m == 0
    safe_m = np.where(empty, 1.0, m)
    root = z * np.sqrt(k * (m - k) / safe_m + z2 / 4.0)
    denom = m + z2
    low = (k + z2 / 2.0 - root) / denom
    high = (k + z2 / 2.0 + root) / denom
    low = np.clip(low, 0.0, 1.0)
    high = np.clip(high, 0.0, 1.0)
    low = np.where(k == 0, 0.0, low)
    high = np.where(k == m, 1.0, high)
    low = np.where(empty, 0.0, low)
    high = np.where(empty, 1.0, high)
    return low, high


def _masked(values: np.ndarray, mask: np.ndarray) -> pd.arrays.FloatingArray:
    """Float64 extension array with ``<NA>`` where ``mask`` (never NaN)."""
    vals = np.where(mask, 0.0, values).astype(np.float64)
    return pd.arrays.FloatingArray(vals, np.asarray(mask, dtype=bool).copy())


def _ratio(num: np.ndarray, den: np.ndarray) -> pd.arrays.FloatingArray:
    den = np.asarray(den)
    return _masked(np.asarray(num, dtype=np.float64) / np.where(den == 0, 1, den), den == 0)


def _pct(confidence: float) -> str:
    return f"{100 * confidence:g}%"


# --------------------------------------------------------------------------- worker scores
class GoldScores:
    """Per-worker scores against gold answers; build with :func:`score_workers`.

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed by worker id (``worker``), one row per worker, columns:

        ``n_answers``
            all annotations of the worker (gold or not);
        ``n_gold``
            annotations on gold items;
        ``n_correct``
            those equal to the gold label;
        ``accuracy``
            ``n_correct / n_gold``;
        ``ci_low``, ``ci_high``
            Wilson interval of the accuracy at ``confidence``;
        ``recall_<label>``
            per true class ``c``: share of the worker's answers on gold items of
            class ``c`` that were ``c``.

        Rates are pandas ``Float64`` columns: a worker with no gold answer (or no
        gold item of a class) has ``<NA>``, never NaN.
    confidence : float
        Coverage of ``ci_low``/``ci_high``.
    labels : pandas.Index
        The label set (order of the confusion axes and of the recall columns).
    n_gold_items : int
        Number of items with a gold answer.

    Notes
    -----
    With ``duplicates="keep"`` every repeated vote of a worker on a gold item counts
    as one gold answer.
    """

    def __init__(
        self,
        table: pd.DataFrame,
        *,
        confidence: float,
        annotations: AnnotationTable,
        gold_codes: np.ndarray,
        rows: np.ndarray,
        parallel: bool | None = None,
    ) -> None:
        self.table = table
        self.confidence = confidence
        self.labels = annotations.labels
        self.n_gold_items = int((gold_codes >= 0).sum())
        self._annotations = annotations
        self._gold_codes = gold_codes
        self._rows = rows
        self._parallel = parallel
        self._conf: np.ndarray | None = None

    def _repr_html_(self) -> str:
        """Rich display in Jupyter (see :mod:`crowdagg.reporting._repr`)."""
        from .reporting._repr import html_repr

        return html_repr(self)

    def __repr__(self) -> str:
        scored = int((self.table["n_gold"] > 0).sum())
        return (
            f"GoldScores(n_workers={len(self.table)}, scored={scored}, "
            f"n_gold_items={self.n_gold_items}, confidence={self.confidence:g})"
        )

    # ----------------------------------------------------------------- confusions
    @property
    def confusions(self) -> np.ndarray:
        """int64 array, workers (rows of :attr:`table`) x true label x observed label.

        Computed on first access (workers x labels² memory) and read-only.
        """
        if self._conf is None:
            t = self._annotations
            memory.check("GoldScores.confusions", [(
                f"gold confusion counts, {t.n_workers:,} workers x {t.n_labels:,}^2 labels",
                8.0 * t.n_workers * t.n_labels**2)],
                "read per-class accuracy (GoldScores.table) instead, or score fewer labels at once")
            with parallel_guard():
                conf = gold_confusions(t.item_ptr, t.worker_codes, t.label_codes, self._gold_codes,
                                       t.n_workers, t.n_labels, parallel=self._parallel)
            if len(self._rows) != t.n_workers:
                conf = conf[self._rows]
            conf.flags.writeable = False
            self._conf = conf
        return self._conf

    def confusion(self, worker: Any) -> pd.DataFrame:
        """Confusion matrix of one worker: true labels (rows) x observed labels (columns)."""
        pos = _lookup(self.table.index, pd.Index([worker]))[0]
        if pos < 0:
            raise InputError(f"unknown worker {worker!r}")
        return pd.DataFrame(
            self.confusions[pos],
            index=self.labels.rename("true"),
            columns=self.labels.rename("observed"),
        )

    def confusion_frame(self, *, include_zeros: bool = False) -> pd.DataFrame:
        """Tidy confusions: columns ``worker``, ``true``, ``observed``, ``count``.

        Only non-zero counts unless ``include_zeros``; rows in worker, true,
        observed code order.
        """
        conf = self.confusions
        n_w, n_l, _ = conf.shape
        flat = conf.reshape(-1)
        pos = np.arange(flat.size) if include_zeros else np.flatnonzero(flat)
        w, rest = np.divmod(pos, n_l * n_l)
        t, o = np.divmod(rest, n_l)
        return pd.DataFrame(
            {
                "worker": self.table.index.take(w),
                "true": self.labels.take(t),
                "observed": self.labels.take(o),
                "count": flat[pos],
            }
        )

    @property
    def recall(self) -> pd.DataFrame:
        """Per-class recall, workers x labels (``Float64``, ``<NA>`` without gold of that class)."""
        cols = [f"recall_{lab}" for lab in self.labels]
        out = self.table[cols].copy()
        out.columns = self.labels
        return out

    # ----------------------------------------------------------------- views
    def sorted(self, by: str | list[str] = "ci_low", *, ascending: bool | list[bool] = True) -> pd.DataFrame:
        """:attr:`table` sorted by one or more columns (stable; ``<NA>`` last).

        The default, ``ci_low`` ascending, lists first the workers most likely to
        be bad; ``sorted("ci_low", ascending=False)`` lists the surest good ones
        first.
        """
        keys = [by] if isinstance(by, str) else list(by)
        unknown = [k for k in keys if k not in self.table.columns]
        if unknown or not keys:
            raise InputError(f"cannot sort by {unknown or keys}; columns are {list(self.table.columns)}")
        return self.table.sort_values(keys, ascending=ascending, kind="stable", na_position="last")

    def flag(
        self,
        min_accuracy: float = 0.7,
        *,
        min_gold: int = 3,
        confidence: float | None = None,
    ) -> pd.DataFrame:
        """Workers whose accuracy is credibly below ``min_accuracy``.

        A worker is flagged when they answered at least ``min_gold`` gold items and
        the whole Wilson interval of their accuracy lies below the bar
        (``ci_high < min_accuracy``).  With few gold answers the interval is wide,
        so noise alone does not condemn anyone: 0 right out of 2 gives a 95%
        interval [0, 0.66].

        Parameters
        ----------
        min_accuracy : float
            The bar, in [0, 1].
        min_gold : int
            Workers with fewer gold answers are never flagged.
        confidence : float, optional
            Coverage of the interval used here; default :attr:`confidence`.

        Returns
        -------
        pandas.DataFrame
            Indexed by worker id, worst (lowest ``ci_high``) first: ``n_gold``,
            ``n_correct``, ``accuracy``, ``ci_low``, ``ci_high`` (at this
            confidence) and ``reason`` (a sentence).  Empty when nobody is flagged.
        """
        bar = check_float("min_accuracy", min_accuracy)
        if bar > 1.0:
            raise InputError(f"min_accuracy must lie in [0, 1], got {min_accuracy!r}")
        min_gold = check_int("min_gold", min_gold, 0)
        conf = self.confidence if confidence is None else _check_confidence(confidence)
        n = self.table["n_gold"].to_numpy(dtype=np.int64)
        k = self.table["n_correct"].to_numpy(dtype=np.int64)
        low, high = wilson_interval(k, n, conf)
        hit = (n > 0) & (n >= min_gold) & (high < bar)
        sel = np.flatnonzero(hit)
        order = sel[np.argsort(high[sel], kind="stable")]
        acc = k[order] / np.maximum(n[order], 1)
        reasons = [
            f"accuracy {a:.3f} ({kk}/{nn} gold); {_pct(conf)} Wilson interval "
            f"[{lo:.3f}, {hi:.3f}] lies below {bar:g}"
            for a, kk, nn, lo, hi in zip(acc, k[order], n[order], low[order], high[order])
        ]
        return pd.DataFrame(
            {
                "n_gold": n[order],
                "n_correct": k[order],
                "accuracy": acc.astype(np.float64),
                "ci_low": low[order],
                "ci_high": high[order],
                "reason": np.array(reasons, dtype=object),
            },
            index=self.table.index.take(order),
        )

    def to_frame(
        self,
        *,
        min_accuracy: float | None = None,
        min_gold: int = 3,
        sort_by: str | list[str] | None = None,
        ascending: bool | list[bool] = True,
    ) -> pd.DataFrame:
        """:attr:`table` with a ``worker`` column, optionally with ``flagged`` and
        ``flag_reason`` columns (see :meth:`flag`) and sorted (see :meth:`sorted`)."""
        df = self.table if sort_by is None else self.sorted(sort_by, ascending=ascending)
        df = df.copy()
        if min_accuracy is not None:
            flagged = self.flag(min_accuracy, min_gold=min_gold)
            reason = flagged["reason"].reindex(df.index)
            df["flagged"] = reason.notna().to_numpy()
            df["flag_reason"] = reason.fillna("").to_numpy(dtype=object)
        return df.reset_index()


def score_workers(
    data: Any,
    gold: Any,
    *,
    confidence: float = 0.95,
    include_unscored: bool = True,
    parallel: bool | None = None,
    **table_kwargs: Any,
) -> GoldScores:
    """Score every worker on the gold items they answered.

    Parameters
    ----------
    data : AnnotationTable, DataFrame (pandas/polars), pyarrow Table or path
        The annotations; ``table_kwargs`` (``item_col``, ``labels``,
        ``duplicates``, ...) are used when it is not a table yet.
    gold : Series, mapping or DataFrame
        True label by item id (a DataFrame needs an ``item``/``task`` column and a
        ``label`` column).  Rows with a null label are ignored.
    confidence : float
        Coverage of the Wilson interval, in (0, 1).
    include_unscored : bool
        Keep workers who answered no gold item (``n_gold = 0``, rates ``<NA>``);
        ``False`` drops them.
    parallel : bool, optional
        Force the parallel (``True``) or serial kernel; default by input size.

    Returns
    -------
    GoldScores

    Raises
    ------
    GoldError
        Gold naming items absent from the data, labels outside the label set, an
        item with two different gold labels, no gold answer at all, or no
        annotation on any gold item.
    InputError
        ``confidence`` outside (0, 1).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"item": [1, 1, 2, 2, 3], "worker": list("ababa"),
    ...                    "label": ["x", "x", "y", "x", "y"]})
    >>> s = score_workers(df, {1: "x", 2: "y"})
    >>> s.table[["n_gold", "n_correct"]].to_dict("index")
    {'a': {'n_gold': 2, 'n_correct': 2}, 'b': {'n_gold': 2, 'n_correct': 1}}
    """
    conf = _check_confidence(confidence)
    table = _table(data, table_kwargs, "score_workers")
    codes = table.encode_gold(gold)
    if not (codes >= 0).any():
        raise GoldError("gold is empty: no item with a non-null gold label")
    with parallel_guard():
        total, correct = gold_counts(table.item_ptr, table.worker_codes, table.label_codes, codes,
                                     table.n_workers, table.n_labels, parallel=parallel)
    n_gold = total.sum(axis=1)
    n_correct = correct.sum(axis=1)
    if not n_gold.any():
        raise GoldError(
            f"no annotation falls on the {int((codes >= 0).sum())} gold item(s) (they have no usable "
            "answer, e.g. only null labels); nothing to score"
        )
    rows = np.arange(table.n_workers) if include_unscored else np.flatnonzero(n_gold > 0)
    n_gold, n_correct, total, correct = n_gold[rows], n_correct[rows], total[rows], correct[rows]
    low, high = wilson_interval(n_correct, n_gold, conf)
    none = n_gold == 0
    cols: dict[str, Any] = {
        "n_answers": table.worker_counts()[rows].astype(np.int64),
        "n_gold": n_gold,
        "n_correct": n_correct,
        "accuracy": _ratio(n_correct, n_gold),
        "ci_low": _masked(low, none),
        "ci_high": _masked(high, none),
    }
    for c, lab in enumerate(table.labels):
        cols[f"recall_{lab}"] = _ratio(correct[:, c], total[:, c])
    frame = pd.DataFrame(cols, index=table.workers.take(rows))
    return GoldScores(frame, confidence=conf, annotations=table, gold_codes=codes, rows=rows,
                      parallel=parallel)


# --------------------------------------------------------------------------- aggregate vs gold
@dataclass(frozen=True)
class GoldAccuracy:
    """Accuracy of consensus labels against gold; build with :func:`accuracy_against_gold`.

    Attributes
    ----------
    accuracy : float
        ``n_correct / n_scored``.
    ci_low, ci_high : float
        Wilson interval of ``accuracy`` at ``confidence``.
    n_gold : int
        Gold items (non-null gold label).
    n_scored : int
        Gold items counted: all of them with ``missing="wrong"``, those with a
        label with ``missing="exclude"``.
    n_correct : int
        Gold items whose consensus label equals gold.
    n_missing : int
        Gold items without a consensus label.
    missing : {"wrong", "exclude"}
        The rule applied to those.
    per_class : pandas.DataFrame
        Indexed by true label (classes present in gold): ``n_gold``, ``n_scored``,
        ``n_correct``, ``n_missing``, ``accuracy`` (the recall of the class,
        ``Float64``, ``<NA>`` if nothing was scored).
    confusion : pandas.DataFrame
        Counts, true labels (rows) x consensus labels (columns); items without a
        label are not in it.
    """

    accuracy: float
    ci_low: float
    ci_high: float
    confidence: float
    n_gold: int
    n_scored: int
    n_correct: int
    n_missing: int
    missing: str
    per_class: pd.DataFrame = field(repr=False)
    confusion: pd.DataFrame = field(repr=False)

    def __str__(self) -> str:
        lines = [
            f"accuracy {self.accuracy:.4f} ({self.n_correct}/{self.n_scored}; "
            f"{_pct(self.confidence)} CI [{self.ci_low:.4f}, {self.ci_high:.4f}]); "
            f"{self.n_missing} gold item(s) without a label, counted as {self.missing}",
            self.per_class.to_string(),
        ]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The scalar fields as a plain dict."""
        return {k: getattr(self, k) for k in
                ("accuracy", "ci_low", "ci_high", "confidence", "n_gold", "n_scored",
                 "n_correct", "n_missing", "missing")}


def _predicted_labels(result: Any) -> tuple[pd.Series, AnnotationTable | None]:
    from .results import AggregationResult

    if isinstance(result, pd.Series):
        return result, None
    if isinstance(result, AggregationResult):
        return result.labels, None
    if isinstance(result, pd.DataFrame):
        item = next((c for c in ("item", "task") if c in result.columns), None)
        if item is None or "label" not in result.columns:
            raise InputError(
                f"a DataFrame of results needs 'item' (or 'task') and 'label' columns; has {list(result.columns)}"
            )
        return pd.Series(result["label"].to_numpy(), index=pd.Index(result[item].to_numpy())), None
    if hasattr(result, "_check_fitted"):
        result._check_fitted()
    labels = getattr(result, "labels_", None)
    if isinstance(labels, pd.Series):
        table = getattr(result, "table_", None)
        return labels, table if isinstance(table, AnnotationTable) else None
    raise InputError(
        "expected a fitted estimator (with labels_), an AggregationResult, a Series of labels "
        f"by item or a DataFrame with item and label columns, got {type(result).__name__}"
    )


def _gold_by_item(gold: Any, items: pd.Index) -> pd.Series:
    """Gold as a Series on ``items``' id type, nulls and repeats dropped; GoldError if malformed."""
    idx, values = gold_by_item(gold, items)
    if len(idx) == 0:
        raise GoldError("gold is empty: no item with a non-null gold label")
    pos = items.get_indexer(idx)
    if (pos < 0).any():
        bad = idx[pos < 0]
        raise GoldError(f"gold names {len(bad)} item(s) without a result: {bad[:5].tolist()}")
    return pd.Series(values, index=idx)


def _as_str(idx: pd.Index) -> pd.Index:
    return pd.Index([str(v) for v in idx], dtype=object)


def _gold_codes_by_str(gold_vals: pd.Index, codebook: pd.Index) -> np.ndarray:
    """Codes of gold labels in ``codebook``, comparing by ``str`` when exactly one side holds strings.

    Integer consensus labels against gold read as strings (or the reverse) would
    otherwise never match; ``str`` on both sides makes ``1`` and ``"1"`` equal.
    """
    if len(gold_vals) and len(codebook) and _holds_strings(gold_vals) != _holds_strings(codebook):
        return _as_str(codebook).get_indexer(_as_str(gold_vals))
    return codebook.get_indexer(gold_vals)


def accuracy_against_gold(
    result: Any,
    gold: Any,
    *,
    missing: Missing = "wrong",
    confidence: float = 0.95,
) -> GoldAccuracy:
    """Accuracy of consensus labels on the gold items, overall and per class.

    Parameters
    ----------
    result : fitted estimator, AggregationResult, Series or DataFrame
        Consensus labels by item id: an estimator's ``labels_``, a result's
        ``labels``, a Series, or a DataFrame with ``item`` and ``label`` columns
        (``AggregationResult.to_pandas()``).
    gold : Series, mapping or DataFrame
        True label by item id; null labels are ignored.  When exactly one of the
        consensus labels and the gold labels holds strings (say ``int`` labels
        against gold read from a CSV as ``"0"``/``"1"``), both are compared as
        ``str``, for a Series and an estimator alike; ``per_class`` and
        ``confusion`` are then indexed by the string form for a Series input.
    missing : {"wrong", "exclude"}
        Gold items whose consensus label is missing (items nobody annotated):
        ``"wrong"`` (default) counts them as errors, the convention of
        crowd-kit-style benchmarks over all gold items; ``"exclude"`` leaves them
        out (the share of gold items *with answers* that match).
    confidence : float
        Coverage of the Wilson interval of the accuracy.

    Returns
    -------
    GoldAccuracy

    Raises
    ------
    GoldError
        Empty gold, gold items absent from the result, conflicting gold labels,
        gold labels outside the estimator's label set, or (with
        ``missing="exclude"``) no gold item with a label.

    Examples
    --------
    >>> import pandas as pd
    >>> pred = pd.Series(["x", "y", None], index=[1, 2, 3])
    >>> r = accuracy_against_gold(pred, {1: "x", 2: "x", 3: "y"})
    >>> r.accuracy, r.n_missing
    (0.3333333333333333, 1)
    """
    check_choice("missing", missing, ("wrong", "exclude"))
    conf = _check_confidence(confidence)
    pred, table = _predicted_labels(result)
    items = pd.Index(pred.index)
    if items.has_duplicates:
        raise InputError(f"the result names some items twice: {items[items.duplicated()][:5].tolist()}")
    g = _gold_by_item(gold, items)
    p = pred.iloc[items.get_indexer(g.index)]
    p_null = p.isna().to_numpy()
    p_vals = pd.Index(p[~p_null])
    if table is not None:
        codebook = table.labels
        g_codes = _gold_codes_by_str(pd.Index(g.to_numpy()), codebook)
        if (g_codes < 0).any():
            bad = pd.Index(g.to_numpy())[g_codes < 0]
            raise GoldError(
                f"{int((g_codes < 0).sum())} gold label value(s) not in the estimator's label set "
                f"{codebook.tolist()[:20]}: {bad[:5].tolist()}"
            )
    else:
        g_vals = pd.Index(g.to_numpy())
        if len(p_vals) and _holds_strings(p_vals) != _holds_strings(g_vals):
            # exactly one side holds strings (labels read from CSV vs typed labels): compare by str
            p_vals, g_vals = _as_str(p_vals), _as_str(g_vals)
        codebook = pd.Index(pd.unique(np.concatenate([
            p_vals.to_numpy(dtype=object), g_vals.to_numpy(dtype=object)])))
        try:
            codebook = codebook[np.argsort(codebook.to_numpy(), kind="stable")]
        except TypeError:
            pass
        g_codes = codebook.get_indexer(g_vals)
    p_codes = np.full(len(g), -1, dtype=np.int64)
    p_codes[~p_null] = codebook.get_indexer(p_vals)
    g_codes = np.asarray(g_codes, dtype=np.int64)

    n_l = len(codebook)
    is_missing = p_codes < 0
    hit = p_codes == g_codes
    scored = np.ones(len(g), dtype=bool) if missing == "wrong" else ~is_missing
    n_scored = int(scored.sum())
    if n_scored == 0:
        raise GoldError(f"none of the {len(g)} gold item(s) has a consensus label to score")
    n_correct = int(hit.sum())
    lo, hi = wilson_interval(n_correct, n_scored, conf)

    c_gold = np.bincount(g_codes, minlength=n_l)
    c_scored = np.bincount(g_codes[scored], minlength=n_l)
    c_correct = np.bincount(g_codes[hit], minlength=n_l)
    c_missing = np.bincount(g_codes[is_missing], minlength=n_l)
    present = np.flatnonzero(c_gold > 0)
    per_class = pd.DataFrame(
        {
            "n_gold": c_gold[present],
            "n_scored": c_scored[present],
            "n_correct": c_correct[present],
            "n_missing": c_missing[present],
            "accuracy": _ratio(c_correct[present], c_scored[present]),
        },
        index=codebook.take(present).rename("label"),
    )
    have = ~is_missing
    cm = np.bincount(g_codes[have] * n_l + p_codes[have], minlength=n_l * n_l).reshape(n_l, n_l)
    confusion = pd.DataFrame(cm[present], index=codebook.take(present).rename("true"),
                             columns=codebook.rename("predicted"))
    return GoldAccuracy(
        accuracy=n_correct / n_scored,
        ci_low=float(lo),
        ci_high=float(hi),
        confidence=conf,
        n_gold=len(g),
        n_scored=n_scored,
        n_correct=n_correct,
        n_missing=int(is_missing.sum()),
        missing=missing,
        per_class=per_class,
        confusion=confusion,
    )
