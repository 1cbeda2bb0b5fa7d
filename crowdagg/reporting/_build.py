"""The figures of a quality report, computed from a fitted model (no HTML, no plotting here).

Everything goes through the public APIs: the model's ``labels_``/``probas_``/
``skills_``/``confusions_``/objective history, :func:`crowdagg.quality.score_workers`
and :meth:`~crowdagg.quality.GoldScores.flag`,
:func:`crowdagg.quality.accuracy_against_gold`, :func:`crowdagg.quality.wilson_interval`,
the agreement coefficients of :mod:`crowdagg.agreement` and
:func:`crowdagg.active.posterior_entropy`.
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .. import memory
from ..errors import CrowdaggError, InputError, ParameterError

#: above this many labels, the per-worker confusion matrices (workers x labels^2) are not built
MAX_CONFUSION_LABELS = 50

#: drop reason -> phrase (the CLI's wording)
REASONS = {
    "null_label": "null label",
    "duplicate": "repeated (item, worker) pair",
    "rejected": "rejected MTurk assignment",
    "other_status": "MTurk assignment with another status",
}


@dataclass
class ReportOptions:
    """Knobs of :func:`crowdagg.report` (documented there)."""

    confidence: float = 0.95
    min_accuracy: float = 0.7
    min_gold: int = 3
    spam_threshold: float = 0.9
    min_answers: int = 20
    n_uncertain: int = 50
    max_answers_shown: int = 20
    n_confusions: int = 3


@dataclass
class ReportData:
    """What the template and the plots read."""

    model: Any
    table: Any
    gold: pd.Series | None
    options: ReportOptions
    overview: dict[str, Any] = field(default_factory=dict)
    dropped: list[tuple[str, int]] = field(default_factory=list)
    label_dist: pd.DataFrame | None = None
    workers: pd.DataFrame | None = None
    worker_conf: np.ndarray | None = None  # workers x true x observed, rows sum to 1 (or None)
    conf_source: str = ""
    gold_accuracy: Any = None
    per_class: pd.DataFrame | None = None
    history: np.ndarray | None = None
    history_name: str = ""
    agreement: list[Any] = field(default_factory=list)
    agreement_notes: list[str] = field(default_factory=list)
    uncertain: list[dict[str, Any]] = field(default_factory=list)
    confusion_least: list[int] = field(default_factory=list)  # rows of ``workers`` whose confusions are drawn
    confusion_most: list[int] = field(default_factory=list)
    confusion_basis: str = ""  # the column they are ranked by ("skill", "gold_acc", "agree")
    confusion_caption: str = ""  # which workers they are, in words
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- model
def method_class(method: Any) -> Any:
    """An estimator instance from a CLI name (``"ds"``), a class name, a class or an instance."""
    import crowdagg

    from ..base import BaseAggregator
    from ..methods.names import CATEGORICAL as METHODS

    if isinstance(method, BaseAggregator):
        return method
    if isinstance(method, type) and issubclass(method, BaseAggregator):
        return method()
    if isinstance(method, str):
        name = METHODS.get(method.lower(), method)
        cls = None
        if name in METHODS.values():
            try:
                cls = getattr(crowdagg, name)
            except (AttributeError, ImportError):
                cls = None
        if cls is None:
            raise ParameterError(f"unknown method {method!r}; choose one of {sorted(METHODS)} "
                                 "(or pass an estimator)")
        return cls()
    raise ParameterError(f"method must be a method name such as 'ds', an estimator class or an estimator, "
                         f"got {type(method).__name__}")


def fitted_model(model_or_data: Any, method: Any, table_kwargs: dict[str, Any], gold: Any = None) -> Any:
    """The fitted local model the report describes (fitting ``method`` on data when needed;
    ``gold`` goes to that fit only for a method that needs it, ``GoldMajorityVote``)."""
    from ..base import BaseAggregator, is_distributed_table
    from ..table import as_table

    if isinstance(model_or_data, BaseAggregator):
        if table_kwargs:
            raise InputError(f"options {sorted(table_kwargs)} apply when building a table from data; "
                             "this is a model")
        if not hasattr(model_or_data, "result_"):
            est = model_or_data
            raise InputError(f"this {type(est).__name__} is not fitted: pass a fitted model, or the data "
                             f"with method={type(est).__name__}()")
        model = model_or_data
    else:
        if is_distributed_table(model_or_data):
            raise InputError("the report reads a local table: compute the DaskAnnotationTable's annotations "
                             "into a pandas DataFrame first")
        table = as_table(model_or_data, **table_kwargs)
        model = method_class(method)
        if hasattr(model, "result_"):
            raise InputError("method is a fitted estimator: pass it as the first argument instead")
        if getattr(model, "_needs_gold", False):
            model.fit(table, gold=gold)  # raises the method's own error without gold
        else:
            model.fit(table)
    if not isinstance(model.probas_, pd.DataFrame):
        raise InputError(f"{type(model).__name__} was fitted on a distributed table; the report needs a local fit")
    return model


# --------------------------------------------------------------------------- pieces
def _overview(d: ReportData) -> None:
    t = d.table
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = t.summary()
    d.overview = {
        "annotations": t.n_annotations,
        "items": t.n_items,
        "workers": t.n_workers,
        "labels": t.n_labels,
        "items_without": s.items_without_annotations,
        "workers_without": s.workers_without_annotations,
        "per_item": s.per_item,
        "per_worker": s.per_worker,
        "method": type(d.model).__name__,
        "model_repr": repr(d.model),
        "n_gold": 0 if d.gold is None else int(len(d.gold)),
    }
    d.notes.extend(str(w.message) for w in caught)
    d.dropped = [(REASONS.get(k, k.replace("_", " ")), int(v)) for k, v in s.dropped.items() if int(v) > 0]


def _label_distribution(d: ReportData) -> None:
    t = d.table
    raw = t.label_counts().astype(np.int64)
    lab = d.model.labels_
    codes = t.labels.get_indexer(pd.Index(lab.dropna().to_numpy()))
    agg = np.bincount(codes[codes >= 0], minlength=t.n_labels).astype(np.int64)
    d.label_dist = pd.DataFrame({
        "label": t.labels,
        "raw": raw,
        "raw_share": raw / max(raw.sum(), 1),
        "aggregated": agg,
        "aggregated_share": agg / max(agg.sum(), 1),
    })


def _empirical_confusions(d: ReportData) -> np.ndarray:
    """Counts of each worker's answers (observed) against the consensus label (true), W x K x K."""
    t = d.table
    k = t.n_labels
    cons = t.labels.get_indexer(pd.Index(d.model.labels_.to_numpy()))  # -1 for missing labels
    item_codes = np.repeat(np.arange(t.n_items), np.diff(t.item_ptr))
    true = cons[item_codes]
    ok = true >= 0
    flat = (t.worker_codes[ok].astype(np.int64) * k + true[ok]) * k + t.label_codes[ok]
    return np.bincount(flat, minlength=t.n_workers * k * k).reshape(t.n_workers, k, k).astype(np.float64)


def spammer_score(conf: np.ndarray, observed: np.ndarray | None = None) -> np.ndarray:
    r"""Raykar & Yu's spammer score per worker, 1 minus it: 0 = answers follow the truth, 1 = ignore it.

    For a worker's confusion matrix :math:`A` (rows: true class, summing to 1) the
    score of Raykar and Yu (2012, *Eliminating spammers and ranking annotators
    for crowdsourced labeling tasks*, JMLR 13) is

    .. math:: S = \frac{1}{K(K-1)} \sum_{c < c'} \sum_k (a_{ck} - a_{c'k})^2,

    0 when every row is the same (the answer does not depend on the truth: a
    uniform or a constant spammer), 1 for a perfect worker.  Rows listed as not
    ``observed`` (a class the worker never met) are left out (``K`` then counts
    the observed rows); fewer than two observed rows give NaN.  Returns ``1 - S``.
    """
    w, k, _ = conf.shape
    obs = np.ones((w, k), dtype=bool) if observed is None else observed
    ko = obs.sum(axis=1).astype(np.float64)
    a = np.where(obs[:, :, None], conf, 0.0)
    mean = a.sum(axis=1) / np.maximum(ko, 1)[:, None]  # W x K (over observed rows)
    resid = np.where(obs[:, :, None], a - mean[:, None, :], 0.0)
    r = (resid**2).sum(axis=(1, 2))  # sum_c sum_k (a_ck - mean_k)^2 = (1/Ko) sum_{c<c'} sum_k (...)^2
    with np.errstate(invalid="ignore", divide="ignore"):
        s = r / (ko - 1.0)  # = (Ko r) / (Ko (Ko - 1))
    s = np.where(ko >= 2, np.clip(s, 0.0, 1.0), np.nan)
    return 1.0 - s


def _workers(d: ReportData) -> None:
    from ..quality import score_workers, wilson_interval

    t, m, o = d.table, d.model, d.options
    n = t.worker_counts().astype(np.int64)
    cols: dict[str, Any] = {"worker": t.workers, "code": np.arange(t.n_workers), "n_answers": n}
    skills = getattr(m, "skills_", None)
    if isinstance(skills, pd.Series) and len(skills) == t.n_workers:
        s = np.clip(skills.to_numpy(dtype=np.float64), 0.0, 1.0)
        lo, hi = wilson_interval(np.rint(s * n).astype(np.int64), n, o.confidence)
        cols.update(skill=s, skill_low=lo, skill_high=hi)
    else:
        d.notes.append(f"{type(m).__name__} has no skills_: the workers table shows no model reliability")
    # confusions: the model's, else the answers against the consensus
    k = t.n_labels
    conf = None
    if k <= MAX_CONFUSION_LABELS:
        memory.check("report", [(f"worker confusions, {t.n_workers:,} workers x {k}^2 labels",
                                 16.0 * t.n_workers * k * k)], "report fewer workers or labels at once")
        counts = _empirical_confusions(d)
        observed = counts.sum(axis=2) > 0
        mc = getattr(m, "confusions_", None)
        if isinstance(mc, pd.DataFrame) and mc.shape == (t.n_workers * k, k):
            conf = mc.to_numpy(dtype=np.float64).reshape(t.n_workers, k, k)
            d.conf_source = f"{type(m).__name__}.confusions_ (the model's estimate)"
        else:
            rows = counts.sum(axis=2, keepdims=True)
            conf = np.where(rows > 0, counts / np.where(rows > 0, rows, 1.0), 0.0)
            d.conf_source = "each worker's answers against the consensus label (row shares)"
        cols["spam"] = spammer_score(conf, observed)
        cols["agree"] = np.einsum("wkk->w", counts) / np.maximum(counts.sum(axis=(1, 2)), 1)
        d.worker_conf = conf
    else:
        d.notes.append(f"{k} labels: per-worker confusion matrices and spam scores are left out "
                       f"(more than {MAX_CONFUSION_LABELS} labels)")
    frame = pd.DataFrame(cols)
    flags: list[list[str]] = [[] for _ in range(t.n_workers)]
    reasons: list[list[str]] = [[] for _ in range(t.n_workers)]
    if d.gold is not None:
        try:
            gs = score_workers(t, d.gold, confidence=o.confidence)
        except CrowdaggError as exc:
            d.notes.append(f"gold: {exc}")
            gs = None
        if gs is not None:
            gt = gs.table
            frame["n_gold"] = gt["n_gold"].to_numpy()
            frame["gold_acc"] = gt["accuracy"].to_numpy(dtype=np.float64, na_value=np.nan)
            frame["gold_low"] = gt["ci_low"].to_numpy(dtype=np.float64, na_value=np.nan)
            frame["gold_high"] = gt["ci_high"].to_numpy(dtype=np.float64, na_value=np.nan)
            flagged = gs.flag(o.min_accuracy, min_gold=o.min_gold)
            pos = t.workers.get_indexer(flagged.index)
            for p, r in zip(pos, flagged["reason"]):
                flags[p].append("gold")
                reasons[p].append(f"gold {r}")
    if "spam" in frame:
        sp = frame["spam"].to_numpy()
        for p in np.flatnonzero((sp >= o.spam_threshold) & (n >= o.min_answers)):
            flags[p].append("spam")
            reasons[p].append(f"spam score {sp[p]:.2f} >= {o.spam_threshold:g} over {n[p]} answers")
    frame["flags"] = [" ".join(f) for f in flags]
    frame["flag_reason"] = ["; ".join(r) for r in reasons]
    # the page lists the flagged workers first, then by reliability (least first), then workload
    rel = next((frame[c].to_numpy(dtype=np.float64) for c in ("skill", "gold_acc", "agree") if c in frame),
               np.zeros(len(frame)))
    order = np.lexsort((-n, np.where(np.isnan(rel), np.inf, rel), frame["flags"].to_numpy() == ""))
    d.workers = frame.iloc[order].reset_index(drop=True)


_BASIS = {"skill": ("model reliability (skills_)", "skill"), "gold_acc": ("gold accuracy", "gold acc"),
          "agree": ("agreement with the consensus", "agreement")}


def _confusion_workers(d: ReportData) -> None:
    """The least and most reliable workers whose confusion matrices are drawn, and a caption saying which.

    Ranked by ``skills_``, else gold accuracy, else agreement with the consensus,
    among the workers with at least ``min_answers`` answers; where fewer than two
    have that many, among every worker with answers (the caption says so).
    """
    w, o = d.workers, d.options
    col = next((c for c in ("skill", "gold_acc", "agree") if c in w), None)
    if col is None or d.worker_conf is None:
        return
    n = w["n_answers"].to_numpy()
    v = w[col].to_numpy(dtype=np.float64)
    enough = np.flatnonzero((n >= o.min_answers) & np.isfinite(v))
    among = f"with at least {o.min_answers:,} answers"
    if enough.size < 2:
        enough = np.flatnonzero((n > 0) & np.isfinite(v))
        among = f"with answers (fewer than 2 have at least {o.min_answers:,})"
    order = enough[np.lexsort((-n[enough], v[enough]))]
    k = min(o.n_confusions, order.size // 2) or min(1, order.size)
    least = order[:k].tolist()
    most = [m for m in order[::-1][:k].tolist() if m not in least]
    d.confusion_least, d.confusion_most, d.confusion_basis = least, most, col
    drawn = len(least) + len(most)
    if drawn == 0:
        return
    if drawn == order.size:
        who = {1: "the only worker", 2: "both workers"}.get(drawn, f"all {drawn:,} workers") + f" {among}"
    else:
        who = f"the {len(least)} least and {len(most)} most reliable of the {order.size:,} workers {among}"
    d.confusion_caption = f"{who}, ranked by {_BASIS[col][0]}"


def _gold_accuracy(d: ReportData) -> None:
    from ..quality import accuracy_against_gold, wilson_interval

    if d.gold is None:
        return
    try:
        acc = accuracy_against_gold(d.model, d.gold, confidence=d.options.confidence)
    except CrowdaggError as exc:
        d.notes.append(f"gold accuracy: {exc}")
        return
    d.gold_accuracy = acc
    pc = acc.per_class.copy()
    lo, hi = wilson_interval(pc["n_correct"].to_numpy(np.int64), pc["n_scored"].to_numpy(np.int64),
                             d.options.confidence)
    pc["accuracy"] = pc["accuracy"].to_numpy(dtype=np.float64, na_value=np.nan)
    pc["ci_low"], pc["ci_high"] = lo, hi
    d.per_class = pc


def _history(d: ReportData) -> None:
    m = d.model
    name = getattr(type(m), "_history_attr", "loglik_")
    h = getattr(m, name, None)
    if h is None:
        return
    arr = np.asarray(h, dtype=np.float64).ravel()
    if arr.size:
        d.history, d.history_name = arr, name


def _agreement(d: ReportData) -> None:
    from .. import agreement as A

    for f in (A.krippendorff_alpha, A.fleiss_kappa, A.gwet_ac, A.brennan_prediger, A.percent_agreement):
        kw = {"confidence": d.options.confidence} if "confidence" in inspect.signature(f).parameters else {}
        try:
            d.agreement.append(f(d.table, **kw))
        except CrowdaggError as exc:
            d.agreement_notes.append(f"{f.__name__}: {exc}")


def _uncertain(d: ReportData) -> None:
    from ..active import posterior_entropy

    t, o = d.table, d.options
    ent = posterior_entropy(d.model).to_numpy()
    counts = t.item_counts()
    cand = np.flatnonzero(counts > 0)
    top = cand[np.lexsort((cand, -ent[cand]))][: o.n_uncertain]
    probas = d.model.probas_.to_numpy(dtype=np.float64)
    labels = d.model.labels_
    gold = d.gold
    for i in top:
        a, b = int(t.item_ptr[i]), int(t.item_ptr[i + 1])
        shown = min(b - a, o.max_answers_shown)
        answers = [(t.workers[int(w)], t.labels[int(c)])
                   for w, c in zip(t.worker_codes[a:a + shown], t.label_codes[a:a + shown])]
        item = t.items[int(i)]
        lab = labels.iloc[int(i)]
        d.uncertain.append({
            "item": item,
            "entropy": float(ent[i]),
            "label": lab,
            "confidence": float(probas[i].max()),
            "answers": answers,
            "more": (b - a) - shown,
            "gold": (gold.get(item) if gold is not None and item in gold.index else None),
        })


def build(model: Any, gold: Any, options: ReportOptions) -> ReportData:
    """Every figure of the report."""
    from ..gold import gold_by_item

    table = model.table_
    g = None
    if gold is not None:
        idx, values = gold_by_item(gold, table.items)  # GoldError for conflicting labels
        g = pd.Series(values, index=idx)
        table.encode_gold(g)  # GoldError naming unknown items or labels
    d = ReportData(model=model, table=table, gold=g, options=options)
    _overview(d)
    _label_distribution(d)
    _workers(d)
    _confusion_workers(d)
    _gold_accuracy(d)
    _history(d)
    _agreement(d)
    _uncertain(d)
    return d
