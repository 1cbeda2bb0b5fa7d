"""Multi-label (checkbox) answers: one binary question per label, worker rates shared across labels.

Input rows are ``(item, worker, labels)`` where ``labels`` is the set of labels the
worker ticked.  Each (item, label) is a yes/no question; worker ``w`` ticks a label
that applies with probability ``sensitivity`` and one that does not with probability
``1 - specificity``.  By default (``shared=True``) each worker has one sensitivity
and one specificity for all labels, so that a worker with few answers is estimated
from every checkbox of them; ``shared=False`` fits them per label (one two-coin
model per label).

The EM plug-in (:class:`MultiLabelModel`) runs on the *checkbox table*
(:func:`checkbox_table`): an :class:`~crowdagg.table.AnnotationTable` whose label
codes are the ticked labels ``0 .. C-1`` plus one *answer marker* row (code ``C``)
per answer, so that an empty answer ("none apply") counts, and whose kernels are
:mod:`crowdagg.kernels.multilabel`.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .. import memory
from .._validation import PROBABILITY, Interval
from ..base import is_distributed_table
from ..em import MAX_STAT_BUFFER_BYTES, EMAggregator, EMContext, EMModel, LocalExecutor, em_constraints
from ..errors import DuplicateAnnotationError, EmptyTableError, InputError, NullIdError
from ..factorize import _factorize, _first_rows, _label_set, _label_values, label_codebook
from ..ingest import _resolve_columns
from ..kernels._util import cap_chunks
from ..kernels.multilabel import ml_estep_parallel, ml_estep_slice
from ..table import AnnotationTable

__all__ = ["MultiLabel", "MultiLabelModel", "MultiLabelResult", "checkbox_table"]

#: Rates of every worker under ``init="uniform"`` (and of workers new to a warm start).
DEFAULT_SENSITIVITY = 0.7
DEFAULT_SPECIFICITY = 0.9
_CONTAINERS = (list, tuple, set, frozenset, np.ndarray, pd.Series, pd.Index)


def _is_arrow_string(arr: Any) -> bool:
    import pyarrow as pa

    return pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)


def _is_dask_frame(data: Any) -> bool:
    """A dask DataFrame (checked without importing Dask)."""
    return type(data).__module__.split(".")[0] in ("dask", "dask_expr") and hasattr(data, "npartitions")


def _is_null(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, (float, np.floating)) and v != v


def _arrow_cells(cells: np.ndarray, sep: str | None) -> tuple[Any, np.ndarray, np.ndarray, bool] | None:
    """:func:`_label_cells` by Arrow, without a Python step per answer, for the common
    columns (lists / tuples / arrays of one type, or with ``sep`` strings); ``None`` when
    Arrow does not take the column as such (sets, mixed cells, bad cells: the Python
    path then reads it and names the problem)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arr = pa.array(cells, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError):
        return None
    from_text = False
    if sep is not None and (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pc.split_pattern(arr, pattern=sep)
        from_text = True
    elif pa.types.is_null(arr.type):
        arr = pa.array([None] * len(arr), type=pa.list_(pa.null()))
    if not (pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type)):
        return None
    null = arr.is_null().to_numpy(zero_copy_only=False)
    lengths = pc.fill_null(pc.list_value_length(arr), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    flat = pc.list_flatten(arr)
    if from_text:
        flat = pc.utf8_trim_whitespace(flat)
        keep = pc.not_equal(flat, "").to_numpy(zero_copy_only=False)
        if not keep.all():
            owner = np.repeat(np.arange(len(lengths)), lengths)
            lengths = np.bincount(owner[keep], minlength=len(lengths)).astype(np.int64)
            flat = flat.filter(pa.array(keep))
    elif pa.types.is_nested(flat.type) or pa.types.is_null(flat.type) and len(flat):
        return None  # lists of lists, or of nulls only: the Python path names them
    return flat, lengths, null, from_text


def _label_cells(cells: np.ndarray, sep: str | None, col: str) -> tuple[Any, np.ndarray, np.ndarray, bool]:
    """Flattened labels, labels per row and the null rows of a label-set column."""
    fast = _arrow_cells(cells, sep)
    if fast is not None:
        return fast
    n = cells.shape[0]
    lengths = np.zeros(n, dtype=np.int64)
    null = np.zeros(n, dtype=bool)
    flat: list[Any] = []
    from_text = False
    for r in range(n):  # one step per answer (ingest), not per checkbox
        v = cells[r]
        if _is_null(v):
            null[r] = True
            continue
        if isinstance(v, str):
            if sep is None:
                raise InputError(
                    f"column {col!r} holds the string {v[:40]!r} at row {r}: a label set is a list, tuple or set; "
                    "for delimited strings pass sep= (e.g. sep=',' or sep='|')")
            toks = [t.strip() for t in v.split(sep)]
            toks = [t for t in toks if t]
            from_text = True
        elif isinstance(v, _CONTAINERS):
            toks = list(v)
        else:
            raise InputError(
                f"column {col!r} holds {type(v).__name__} {v!r} at row {r}: each answer is a list, tuple or set of "
                "labels (empty: none apply; null: no answer)" + ("" if sep is None else f", or a {sep!r}-delimited string"))
        lengths[r] = len(toks)
        flat.extend(toks)
    return flat, lengths, null, from_text


def _check_options(data: Any, item_col: str | None, worker_col: str, label_col: str | None, sep: str | None,
                   duplicates: str) -> tuple[str, str, str]:
    """Validate the table options of multi-label answers; the resolved column names."""
    if duplicates not in ("error", "first", "last"):
        raise InputError(f"duplicates must be 'error', 'first' or 'last' for multi-label answers, got {duplicates!r}")
    if sep is not None and (not isinstance(sep, str) or not sep):
        raise InputError(f"sep must be a non-empty string, got {sep!r}")
    columns = list(data.columns)
    if label_col is None:
        label_col = "labels" if "labels" in columns else "label"
    item_col, worker_col, label_col = _resolve_columns(columns, item_col, worker_col, label_col)
    return item_col, worker_col, label_col


def _flat_labels(cells: np.ndarray, sep: str | None, col: str
                 ) -> tuple[np.ndarray, pd.Index, np.ndarray, np.ndarray, bool]:
    """Codes of every ticked label (into the distinct labels, first appearance), the
    distinct labels as read (strings before the text-label rule), labels per row, the
    null rows and whether the labels came from ``sep`` strings."""
    flat, lengths, null, from_text = _label_cells(cells, sep, col)
    if not len(flat):
        return np.empty(0, np.int64), pd.Index([], dtype=object), lengths, null, from_text
    if isinstance(flat, list):
        values: Any = np.empty(len(flat), dtype=object)
        values[:] = flat
        values = pd.Series(values)
    else:  # an Arrow array
        values = pd.Series(flat.to_pandas(types_mapper=None)) if not _is_arrow_string(flat) else flat
    fc, uniques = _factorize(values, col, "label")
    if (fc < 0).any():
        row = int(np.repeat(np.arange(len(cells)), lengths)[np.flatnonzero(fc < 0)[0]])
        raise InputError(f"column {col!r}: the label set at row {row} holds a null label")
    return np.asarray(fc, np.int64), pd.Index(uniques), lengths, null, from_text


def _text_rule(uniques: pd.Index, from_text: bool) -> tuple[pd.Index, bool]:
    """The text-label rule (all plain integers become ints) on distinct labels read from
    ``sep`` strings; whether it changed them."""
    if from_text and len(uniques) and all(isinstance(v, str) for v in uniques):
        parsed = _label_values(list(uniques))
        if parsed is not None:
            return pd.Index(np.asarray(parsed[0], dtype=parsed[1])), True
    return uniques, False


def _answer_rows(null: np.ndarray, lengths: np.ndarray, lab: np.ndarray, n_labels: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Answers as *rows*: ``(answer, code)`` -- one row per answer (code ``n_labels``, the
    marker; ``-1`` for a null answer) then one per ticked label (its code), ``answer``
    the position of the answer's input row."""
    n = len(null)
    answer = np.concatenate([np.arange(n, dtype=np.int64), np.repeat(np.arange(n, dtype=np.int64), lengths)])
    code = np.concatenate([np.where(null, -1, n_labels).astype(np.int64), np.asarray(lab, np.int64)])
    return answer, code


def _explode(ic: np.ndarray, wc: np.ndarray, answer: np.ndarray, code: np.ndarray, items: pd.Index,
             workers: pd.Index, n_labels: int, duplicates: str) -> AnnotationTable:
    """The checkbox table of answer rows (:func:`_answer_rows`; ``ic``, ``wc``: the item
    and worker code of every row; ``answer`` orders the answers as the input does), with
    its drop counts (``null_answer``, ``duplicate``).  The local table and every Dask
    piece go through it."""
    order = np.lexsort((code, answer))  # answer by answer in input order, the marker last
    ic, wc, answer, code = ic[order], wc[order], answer[order], code[order]
    null = code < 0
    markers = np.flatnonzero(code == n_labels)
    keys = ic[markers] * max(len(workers), 1) + wc[markers]
    if duplicates == "error":
        dup = pd.Index(keys).duplicated()
        if dup.any():
            rows = markers[dup][:5]
            raise DuplicateAnnotationError(
                f"{int(dup.sum())} repeated (item, worker) answer(s), e.g. "
                f"{list(zip(items.take(ic[rows]).tolist(), workers.take(wc[rows]).tolist()))}; pass duplicates='first' or 'last'")
        kept = markers
    else:
        kept = markers[~pd.Index(keys).duplicated(keep="first" if duplicates == "first" else "last")]
    ticks = np.flatnonzero((code >= 0) & (code < n_labels))
    ticks = ticks[np.isin(answer[ticks], answer[kept])]
    if ticks.size:  # a label ticked twice in one answer counts once (rows sorted by answer, code)
        same = (answer[ticks[1:]] == answer[ticks[:-1]]) & (code[ticks[1:]] == code[ticks[:-1]])
        ticks = ticks[np.concatenate([[True], ~same])]
    rows = np.concatenate([kept, ticks])
    dropped = {"null_answer": int(null.sum()), "duplicate": int(len(markers) - len(kept))}
    if rows.size == 0:
        table = AnnotationTable.empty(items, workers, pd.RangeIndex(n_labels + 1))
    else:
        table = AnnotationTable.from_codes(ic[rows], wc[rows], code[rows], items=items, workers=workers,
                                           labels=n_labels + 1, duplicates="keep")
    return table.with_dropped(**dropped)


def checkbox_table(data: Any, *, item_col: str | None = None, worker_col: str = "worker", label_col: str | None = None,
                   sep: str | None = None, labels: Any = None, duplicates: str = "error"
                   ) -> tuple[AnnotationTable, pd.Index]:
    """The checkbox table of multi-label answers, and the label set.

    Parameters
    ----------
    data : pandas or polars DataFrame
        One row per answer: item id, worker id and the set of ticked labels (a list,
        tuple, set or array; or, with ``sep``, a delimited string).  An empty set is an
        answer ("none apply"); a null (``None``, NaN) is no answer (the item and the
        worker still appear in the output).
    item_col : str, optional
        Default ``item``, else ``task``.
    worker_col : str, default "worker"
    label_col : str, optional
        Default ``labels``, else ``label``.
    sep : str, optional
        Delimiter of label strings (``"red|blue"``); tokens are stripped of surrounding
        whitespace and empty tokens dropped (``""`` is the empty set).  Labels read from
        strings follow the text-label rule (all plain integers become ints).
    labels : sequence, optional
        The label set, in order (labels nobody ticked still get a column); ticked
        labels outside it raise :class:`~crowdagg.errors.UnknownLabelError`.
        Default: the sorted ticked labels.
    duplicates : {"error", "first", "last"}
        Repeated (item, worker) answers.

    Returns
    -------
    (AnnotationTable, pandas.Index)
        The checkbox table (label codes ``0 .. C-1`` ticked, ``C`` the answer
        marker; its ``labels`` are ``0 .. C``) and the ``C`` labels.

    See Also
    --------
    crowdagg.distributed.multilabel.DaskCheckboxTable : the same table on a Dask cluster.
    """
    if type(data).__module__.startswith("polars"):
        data = data.to_pandas()
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"multi-label answers are a pandas or polars DataFrame, got {type(data).__name__}")
    item_col, worker_col, label_col = _check_options(data, item_col, worker_col, label_col, sep, duplicates)
    if len(data) == 0:
        raise EmptyTableError("the annotation table is empty (0 rows)")
    ic, items = _factorize(data[item_col], item_col, "item id")
    wc, workers = _factorize(data[worker_col], worker_col, "worker id")
    for codes, col in ((ic, item_col), (wc, worker_col)):
        if (codes < 0).any():
            raise NullIdError(f"column {col!r} has {int((codes < 0).sum())} null id(s) (first rows: "
                              f"{_first_rows(codes < 0)}); drop or fill those rows first")
    ic, wc = np.asarray(ic, np.int64), np.asarray(wc, np.int64)
    fc, uniques, lengths, null, from_text = _flat_labels(data[label_col].to_numpy(dtype=object), sep, label_col)
    if null.all():
        raise EmptyTableError(f"every answer in column {label_col!r} is null; nothing to aggregate")
    uniques, _ = _text_rule(uniques, from_text)
    if labels is None and len(uniques) == 0:
        raise EmptyTableError(f"no answer in column {label_col!r} ticks a label; give the label set with labels=")
    label_index, mapping = label_codebook(pd.Index(uniques), labels, label_col)
    lab = np.asarray(mapping, dtype=np.int64)[fc] if len(fc) else np.empty(0, np.int64)
    answer, code = _answer_rows(null, lengths, lab, len(label_index))
    table = _explode(ic[answer], wc[answer], answer, code, items, workers, len(label_index), duplicates)
    return table, label_index


# --------------------------------------------------------------------------- the plug-in
class MultiLabelModel(EMModel):
    """EM plug-in of the shared-rate multi-label model on the checkbox table.

    Parameters ``sensitivity`` and ``specificity`` (workers x labels; equal along the
    label axis when ``shared``) and ``prevalence`` (labels).  M-step (Beta(1 + a,
    1 + a) priors, ``a = smoothing``): ``se = (TP + a) / (POS + 2a)``, ``sp = (TN + a) /
    (NEG + 2a)`` with ``TN = n - POS - (CHK - TP)``, ``NEG = n - POS`` per worker and
    label, summed over labels first when ``shared``; ``prev = (tot + a) / (n_items + 2a)``.

    ``stats_from_posteriors`` (the ``init="mv"`` start) ignores the core's class
    shares and takes the per-label shares of ticks among each item's answers.
    """

    worker_params = ("sensitivity", "specificity")
    global_params = ("prevalence",)
    label_axes: ClassVar[dict[str, tuple[int, ...]]] = {}
    param_domains: ClassVar[dict[str, Any]] = {"sensitivity": PROBABILITY, "specificity": PROBABILITY,
                                               "prevalence": PROBABILITY}
    memory_advice = "the multi-label model keeps workers x labels rates: split the labels into groups"

    def __init__(self, shared: bool = True, smoothing: float = 1.0) -> None:
        self.shared = shared
        self.smoothing = smoothing

    def memory_terms(self, n_items: int, n_workers: int, n_labels: int) -> list[tuple[str, float]]:
        return [memory.posteriors(n_items, n_labels, 2),
                (f"rates and statistics, {n_workers:,} workers x {n_labels:,} labels, 8 arrays",
                 8 * 8.0 * n_workers * n_labels)]

    def default_params(self, ctx: EMContext) -> dict[str, np.ndarray]:
        c = ctx.n_labels - 1
        return {"sensitivity": np.full((ctx.n_workers, c), DEFAULT_SENSITIVITY),
                "specificity": np.full((ctx.n_workers, c), DEFAULT_SPECIFICITY),
                "prevalence": np.full(c, 0.5)}

    def prepare(self, ctx: EMContext, params: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
        se, sp, prev = params["sensitivity"], params["specificity"], params["prevalence"]
        m1, m0 = np.log1p(-se), np.log(sp)
        return (np.log(prev), np.log1p(-prev), m1, m0, np.log(se) - m1, np.log1p(-sp) - m0)

    def _run(self, part: EMContext, prepared: tuple[np.ndarray, ...], post: np.ndarray, accumulate: bool,
             vote: bool) -> tuple[float, Any]:
        t = part.table
        c, w = t.n_labels - 1, t.n_workers
        args = (t.item_ptr, t.worker_codes, t.label_codes, c, *prepared, vote)
        bounds = cap_chunks(part.chunks(), 24 * w * max(c, 1), MAX_STAT_BUFFER_BYTES) if part.parallel else None
        if bounds is None or bounds.shape[0] <= 2:
            tp, pos, chk = np.zeros((w, c)), np.zeros((w, c)), np.zeros((w, c))
            n_ans, tot, n_items = np.zeros(w), np.zeros(c), np.zeros(1)
            ll = ml_estep_slice(*args, 0, t.n_items, post, tp, pos, chk, n_ans, tot, n_items, accumulate)
            return float(ll), (tp, pos, chk, n_ans, tot, float(n_items[0]))
        k = bounds.shape[0] - 1
        shape = (k, w, c) if accumulate else (k, 1, 1)
        tp, pos, chk = (self.buffer(n, shape) for n in ("tp", "pos", "chk"))
        n_ans = self.buffer("n_ans", (k, w) if accumulate else (k, 1))
        tot = self.buffer("tot", (k, c) if accumulate else (k, 1))
        n_items, lbuf = self.buffer("n_items", (k, 1)), self.buffer("loglik", (k,))
        ml_estep_parallel(*args, bounds, post, tp, pos, chk, n_ans, tot, n_items, lbuf, accumulate)
        stats = (tp.sum(axis=0), pos.sum(axis=0), chk.sum(axis=0), n_ans.sum(axis=0), tot.sum(axis=0),
                 float(n_items.sum())) if accumulate else None
        return float(lbuf.sum()), stats

    def e_step_table(self, part: EMContext, prepared: tuple[np.ndarray, ...], items: dict[str, np.ndarray],
                     post: np.ndarray, accumulate: bool) -> tuple[float, Any]:
        return self._run(part, prepared, post, accumulate, False)

    def stats_from_posteriors(self, part: EMContext, post: np.ndarray) -> Any:
        c, w = part.n_labels - 1, part.n_workers
        dummy = (np.zeros(c), np.zeros(c), np.zeros((w, c)), np.zeros((w, c)), np.zeros((w, c)), np.zeros((w, c)))
        scratch = np.empty_like(post)
        return self._run(part, dummy, scratch, True, True)[1]

    def m_step(self, ctx: EMContext, params: dict[str, np.ndarray], stats: Any,
               executor: Any) -> dict[str, np.ndarray]:
        tp, pos, chk, n_ans, tot, n_items = stats
        a = self.smoothing
        n = n_ans[:, None]
        neg = n - pos
        tn = neg - (chk - tp)
        if self.shared:
            c = tp.shape[1]
            tp, pos, tn, neg = (np.repeat(x.sum(axis=1, keepdims=True), c, axis=1) for x in (tp, pos, tn, neg))
        se = (tp + a) / (pos + 2 * a)
        sp = (np.maximum(tn, 0.0) + a) / (np.maximum(neg, 0.0) + 2 * a)
        return {"sensitivity": se, "specificity": sp, "prevalence": (tot + a) / (n_items + 2 * a)}


# --------------------------------------------------------------------------- result and estimator
def _result_frames(table: AnnotationTable, post: np.ndarray, label_index: pd.Index, threshold: float
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``labels`` (items x labels, ``boolean``, ``<NA>`` for items without answers) and
    ``probas`` of a checkbox table's posteriors (a local table or one Dask piece)."""
    c = len(label_index)
    p = np.ascontiguousarray(post[:, :c])
    answered = np.bincount(table.item_codes[table.label_codes == c], minlength=table.n_items) > 0
    cols = label_index.rename("label")
    probas = pd.DataFrame(p, index=table.items.rename("item"), columns=cols)
    lab = pd.DataFrame({j: pd.array(p[:, j] > threshold, dtype="boolean") for j in range(c)})
    lab.columns, lab.index = cols, probas.index
    lab.loc[~answered, :] = pd.NA
    return lab.astype("boolean"), probas


@dataclass(frozen=True)
class MultiLabelResult:
    """Labels (items x labels, nullable booleans) and per-label probabilities."""

    labels: pd.DataFrame
    probas: pd.DataFrame
    sep: str | None = None

    def to_pandas(self) -> pd.DataFrame:
        """Columns ``item``, ``labels`` (the chosen labels, in label order: a tuple, or a
        ``sep``-joined string when the estimator has ``sep``; missing for items without
        answers), ``n_labels``, then one ``proba_<label>`` column per label."""
        lab = self.labels
        names = np.asarray(lab.columns, dtype=object)
        mask = lab.fillna(False).to_numpy(dtype=bool)
        answered = lab.notna().all(axis=1).to_numpy()
        chosen: list[Any] = []
        for r in range(mask.shape[0]):
            if not answered[r]:
                chosen.append(None)
                continue
            picked = tuple(names[mask[r]].tolist())
            chosen.append(self.sep.join(map(str, picked)) if self.sep is not None else picked)
        out = pd.DataFrame({"item": lab.index, "labels": pd.Series(chosen, dtype=object).to_numpy()})
        out["n_labels"] = pd.array(np.where(answered, mask.sum(axis=1), 0), dtype="Int64")
        out.loc[~answered, "n_labels"] = pd.NA
        p = self.probas.to_numpy()
        for j, c in enumerate(self.probas.columns):
            out[f"proba_{c}"] = p[:, j]
        return out

    def to_polars(self):
        """As :meth:`to_pandas`, as a polars DataFrame (tuples become lists)."""
        import polars as pl

        df = self.to_pandas()
        if self.sep is None:
            df["labels"] = [None if v is None else list(v) for v in df["labels"]]
        return pl.from_pandas(df)


class MultiLabel(EMAggregator):
    """Multi-label (checkbox) aggregation: one binary question per label, worker rates shared.

    Each (item, label) pair is a yes/no question with prior ``prevalence_[label]``.
    Worker ``w`` ticks a label that applies with probability ``se_w`` (sensitivity)
    and one that does not with probability ``1 - sp_w`` (specificity ``sp_w``),
    independently across labels and workers given the truth: the two-coin model of
    Raykar et al. (2010) applied to every label, with the two rates of each worker
    shared by all labels (``shared=True``), so that a worker with few answers is
    estimated from all their checkboxes; ``shared=False`` fits them per label (one
    Dawid-Skene model per label, Dawid & Skene 1979).  Fitted by EM with Beta priors.

    * Raykar, V. C., Yu, S., Zhao, L. H., Valadez, G. H., Florin, C., Bogoni, L. &
      Moy, L. (2010).  Learning from crowds.  *JMLR*, 11, 1297-1322.
    * Dawid, A. P. & Skene, A. M. (1979).  Maximum likelihood estimation of observer
      error-rates using the EM algorithm.  *JRSS C*, 28(1), 20-28.

    Parameters
    ----------
    sep : str, optional
        Delimiter when answers are strings (``"red|blue"``); see :func:`checkbox_table`.
        Also joins the labels of :meth:`to_pandas`.
    labels : sequence, optional
        The label set, in order (default: the sorted ticked labels).
    shared : bool, default True
        One sensitivity and one specificity per worker for all labels; ``False``: per label.
    threshold : float in (0, 1), default 0.5
        A label applies when its posterior probability exceeds ``threshold``.
    max_iter : int >= 0, default 100
    tol : float >= 0, default 1e-6
    init : {"mv", "uniform"}, default "mv"
        ``"mv"``: the first M-step from per-label shares of ticks; ``"uniform"``:
        sensitivity 0.7, specificity 0.9, prevalence 0.5.  A fitted estimator or a dict
        of parameters is accepted too (warm start, aligned by worker id; the label set
        must be the same).
    smoothing : float > 0, default 1.0
        Beta pseudo-count of the rates and prevalences.
    warm_start : bool, default False
    parallel : bool, default True

    Attributes
    ----------
    labels_ : pandas.DataFrame
        Items x labels, pandas ``boolean`` (``<NA>`` for items without answers).
    probas_ : pandas.DataFrame
        Items x labels: probability that the label applies (items without answers:
        the prevalences).  Rows do not sum to 1.
    sensitivity_, specificity_ : pandas.Series or pandas.DataFrame
        Per worker (``shared=True``) or workers x labels (``shared=False``).
    skills_ : pandas.Series
        Balanced accuracy per worker, the mean of sensitivity and specificity (over labels).
    prevalence_ : pandas.Series
        Per label.
    n_iter_, converged_, loglik_, params_ : as in the other EM methods.

    Notes
    -----
    ``fit`` takes a pandas or polars DataFrame (columns ``item``/``task``, ``worker``,
    ``labels``/``label``; ``item_col=``, ``worker_col=``, ``label_col=``,
    ``duplicates=``).  Gold answers are not supported.

    On Dask, ``fit`` takes a :class:`~crowdagg.distributed.multilabel.DaskCheckboxTable`
    or a dask DataFrame of label sets (built into one, with the table options above
    and ``npartitions=``, ``client=``): the same plug-in runs piece by piece through
    :class:`~crowdagg.distributed.executor.DaskExecutor`; the per-worker attributes
    are pandas, ``labels_`` and ``probas_`` dask DataFrames and ``result_`` a
    :class:`~crowdagg.distributed.multilabel.DaskMultiLabelResult` (``to_pandas()``
    gathers it), equal to a local fit up to the order of floating-point sums.

    Examples
    --------
    >>> import pandas as pd, crowdagg
    >>> df = pd.DataFrame({"item": [1, 1, 1, 2, 2, 2], "worker": ["a", "b", "c"] * 2,
    ...                    "labels": [["red"], ["red", "blue"], ["red"], [], ["blue"], []]})
    >>> m = crowdagg.MultiLabel().fit(df)
    >>> m.labels_.astype(bool).to_dict("index")
    {1: {'blue': False, 'red': True}, 2: {'blue': False, 'red': False}}
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **em_constraints(EMAggregator._inits),
        "sep": [None, str],
        "labels": [None, "no_validation"],
        "shared": ["boolean"],
        "threshold": [Interval(Real, 0, 1, closed="neither")],
        "smoothing": [Interval(Real, 0, 1e6, closed="right")],
    }

    def __init__(self, sep: str | None = None, labels: Any = None, shared: bool = True, threshold: float = 0.5,
                 max_iter: int = 100, tol: float = 1e-6, init: Any = "mv", smoothing: float = 1.0,
                 warm_start: bool = False, parallel: bool = True) -> None:
        self.sep = sep
        self.labels = labels
        self.shared = shared
        self.threshold = threshold
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.smoothing = smoothing
        self.warm_start = warm_start
        self.parallel = parallel

    def _make_model(self) -> EMModel:
        return MultiLabelModel(bool(self.shared), float(self.smoothing))

    def _checkbox(self, data: Any, table_kwargs: dict[str, Any], labels: Any) -> tuple[AnnotationTable, pd.Index]:
        if is_distributed_table(data) or _is_dask_frame(data):
            raise InputError("MultiLabel fits distributed answers with fit (a DaskCheckboxTable or a dask "
                             "DataFrame); partial_fit, predict and predict_proba of new answers take in-memory data")
        if isinstance(data, AnnotationTable):
            raise InputError("MultiLabel takes multi-label answers (a DataFrame with a column of label sets), "
                             "not an AnnotationTable of single labels")
        known = {"item_col", "worker_col", "label_col", "duplicates"}
        unknown = sorted(set(table_kwargs) - known)
        if unknown:
            raise InputError(f"unknown option(s) {unknown} for multi-label answers; known: {sorted(known)}")
        return checkbox_table(data, sep=self.sep, labels=labels, **table_kwargs)

    def _as_table(self, data: Any, table_kwargs: dict[str, Any]) -> AnnotationTable:
        """The checkbox table of ``data`` (its label set kept for the results)."""
        table, self._label_index = self._checkbox(data, table_kwargs, self.labels)
        return table

    def _dask_table(self, data: Any, table_kwargs: dict[str, Any]) -> Any:
        """``data`` as a :class:`~crowdagg.distributed.multilabel.DaskCheckboxTable`, or
        ``None`` for in-memory data."""
        if is_distributed_table(data):
            if not getattr(type(data), "crowdagg_checkbox", False):
                raise InputError(
                    "MultiLabel takes multi-label answers; this distributed table holds single labels: build "
                    "crowdagg.distributed.multilabel.DaskCheckboxTable.from_dask_dataframe(ddf) or pass the dask "
                    "DataFrame of label sets")
            self._no_table_options(table_kwargs)
            if self.labels is not None and not _label_set(self.labels).equals(data.label_set):
                raise InputError(f"MultiLabel(labels={list(self.labels)[:20]}) but the DaskCheckboxTable has the "
                                 f"label set {data.label_set.tolist()[:20]}; build it with labels= in that order")
            return data
        if not _is_dask_frame(data):
            return None
        known = {"item_col", "worker_col", "label_col", "duplicates", "npartitions", "client"}
        unknown = sorted(set(table_kwargs) - known)
        if unknown:
            raise InputError(f"unknown option(s) {unknown} for distributed multi-label answers; known: {sorted(known)}")
        from ..distributed.multilabel import DaskCheckboxTable

        return DaskCheckboxTable.from_dask_dataframe(data, sep=self.sep, labels=self.labels, **table_kwargs)

    def _executor(self, data: Any, gold: Any, table_kwargs: dict[str, Any], model: EMModel) -> Any:
        if gold is not None:
            raise InputError("MultiLabel does not take gold answers")
        dt = self._dask_table(data, table_kwargs)
        if dt is not None:  # the same plug-in, piece by piece (crowdagg.distributed.executor)
            self._label_index = dt.label_set
            return dt.executor(gold=None, rng=self._rng())
        table = self._as_table(data, table_kwargs)
        model.check_memory(type(self).__name__, table)
        return LocalExecutor(self._context(table, np.full(table.n_items, -1, np.int64)))

    def partial_fit(self, data: Any, *, gold: Any = None, forget: float = 1.0, **table_kwargs: Any) -> MultiLabel:
        """One batch of answers (see :meth:`crowdagg.em.EMAggregator.partial_fit`): the label
        set is the first batch's (or ``labels=``); later batches must stay within it."""
        if gold is not None:
            raise InputError("MultiLabel does not take gold answers")
        return super().partial_fit(data, forget=forget, **table_kwargs)

    def _set_result(self, table: AnnotationTable, posteriors: np.ndarray, label_codes: np.ndarray | None = None
                    ) -> None:
        self.store_result(table, self._result(table, posteriors, self._label_index))

    def _result(self, table: AnnotationTable, post: np.ndarray, label_index: pd.Index) -> MultiLabelResult:
        lab, probas = _result_frames(table, post, label_index, float(self.threshold))
        return MultiLabelResult(labels=lab, probas=probas, sep=self.sep)

    def _set_fitted(self, table: AnnotationTable, params: dict[str, np.ndarray], executor: Any) -> None:
        labels = self._label_index.rename("label")
        se, sp = params["sensitivity"], params["specificity"]
        if self.shared:
            self.sensitivity_ = pd.Series(se[:, 0] if se.shape[1] else np.full(se.shape[0], DEFAULT_SENSITIVITY),
                                          index=table.workers, name="sensitivity")
            self.specificity_ = pd.Series(sp[:, 0] if sp.shape[1] else np.full(sp.shape[0], DEFAULT_SPECIFICITY),
                                          index=table.workers, name="specificity")
        else:
            self.sensitivity_ = pd.DataFrame(se, index=table.workers, columns=labels)
            self.specificity_ = pd.DataFrame(sp, index=table.workers, columns=labels)
        bal = 0.5 * (se.mean(axis=1) + sp.mean(axis=1)) if se.shape[1] else np.full(se.shape[0], 0.5)
        self.skills_ = pd.Series(bal, index=table.workers, name="skill")
        self.prevalence_ = pd.Series(params["prevalence"], index=labels, name="prevalence")
        self.label_set_ = labels
        if not isinstance(executor, LocalExecutor):  # a Dask fit: the multi-label result, per piece
            from ..distributed.multilabel import multilabel_result

            self.store_result(executor.dt, multilabel_result(executor, labels, float(self.threshold), self.sep))

    def _new_table(self, data: Any, table_kwargs: dict[str, Any]) -> AnnotationTable:
        table, self._label_index = self._checkbox(data, table_kwargs, list(self.label_set_))
        return table

    def _predict_result(self, data: Any, table_kwargs: dict[str, Any]) -> MultiLabelResult:
        table = self._new_table(data, table_kwargs)
        return self._result(table, self._predict_posteriors(table), self.label_set_)

    def predict_proba(self, data: Any = None, **table_kwargs: Any) -> pd.DataFrame:
        """Per-label probabilities: of the fitted data, or of new answers under the fitted
        rates (workers the model has not seen get the initial rates)."""
        return super().predict_proba(data, **table_kwargs)

    def predict(self, data: Any = None, **table_kwargs: Any) -> pd.DataFrame:
        """Items x labels booleans: of the fitted data, or of new answers (see :meth:`predict_proba`)."""
        return super().predict(data, **table_kwargs)
