"""``crowdagg.aggregate``: one call from annotations to a fitted aggregation model.

``aggregate(data, method="auto")`` fits :class:`AutoAggregator`, which chooses among
the categorical methods by **cross-validated held-out annotation likelihood**:
the annotations are split into folds (by a hash of the item and worker ids, so the
split does not depend on the order of the rows); every candidate is fitted on the
other folds, and its item posteriors are scored on how well they predict the
held-out answers.  The score uses one observation model for every candidate (so
methods with different parameterisations, or none, compare on one scale): each
worker's confusion matrix is counted from the training answers weighted by the
candidate's posteriors and shrunk towards the pooled confusion matrix of all
workers (a hierarchical prior that pools sparse workers), and a held-out answer
``l`` of worker ``w`` on item ``i`` scores ``log sum_k post_i(k) C_w(k, l)``.  The
candidate with the highest mean held-out log-likelihood is refitted on all the
data.  Nothing here reads gold answers except those the caller passes as
``gold=``, which every candidate uses as fixed labels (as the EM methods do).

``aggregate(data, method="ds", **params)`` fits one named method (CLI names or
class names) with ``params``.  See ``docs/auto.md`` for the rule, why it was
chosen, and its accuracy on the shared datasets.
"""

from __future__ import annotations

import importlib
import inspect
import warnings
from collections.abc import Sequence
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ._validation import Interval
from .base import BaseAggregator, is_distributed_table
from .errors import CrowdaggError, InputError, ParameterError
from .methods.names import ALIASES
from .table import AnnotationTable, as_table

__all__ = ["aggregate", "AutoAggregator", "resolve_method", "DEFAULT_CANDIDATES", "SMALL_CANDIDATES",
           "SMALL_ANNOTATIONS", "CONFUSION_PARAMS", "MAX_PARAMS_PER_ANNOTATION"]

#: The candidates of ``method="auto"`` in order of preference on a tie (simplest first);
#: names that cannot be imported in this version are skipped.
DEFAULT_CANDIDATES: tuple[str, ...] = ("MajorityVote", "Wawa", "OneCoinDawidSkene", "DawidSkene", "GLAD",
                                       "MACE", "BCC", "EBCC")

#: Below this many annotations the default candidates are :data:`SMALL_CANDIDATES`: with a few
#: dozen held-out answers per fold the scores cannot tell the richer models apart, and on item
#: subsets of the shared datasets the smaller set is as accurate (docs/auto.md, "Small inputs");
#: every shared dataset has more annotations, so its choice is unchanged
SMALL_ANNOTATIONS = 200
#: The default candidates below :data:`SMALL_ANNOTATIONS` annotations (no MACE, BCC, EBCC)
SMALL_CANDIDATES: tuple[str, ...] = ("MajorityVote", "Wawa", "OneCoinDawidSkene", "DawidSkene", "GLAD")

#: Parameters per worker of the confusion-matrix candidates, in units of ``K**2`` (EBCC: its
#: default 10 subtypes); with the default candidates one whose parameters outnumber the
#: annotations :data:`MAX_PARAMS_PER_ANNOTATION` times over is skipped (it cannot be estimated
#: from so few answers, and its fits would cost minutes: 1,477 labels, 6,000 answers). No
#: shared dataset comes near (the most: act_ms_music_genre, EBCC 15 per annotation).
CONFUSION_PARAMS: dict[str, int] = {"DawidSkene": 1, "BCC": 1, "EBCC": 10}
MAX_PARAMS_PER_ANNOTATION = 100

#: Pseudo-count of the shrinkage of each worker's confusion rows towards the pooled ones
#: in the held-out score (in answers: a worker with ``n`` answers weighs ``n / (n + 2)``).
PRIOR_ANSWERS = 2.0

_TABLE_OPTIONS = ("item_col", "worker_col", "label_col", "labels", "duplicates", "strip", "kind", "sep")


def _registry() -> dict[str, str]:
    import crowdagg

    return {name: mod for name, mod in crowdagg._LAZY.items() if mod.startswith("crowdagg.methods.")}


def resolve_method(name: str) -> type:
    """The estimator class of a method name: a CLI name (``"ds"``), a class name
    (``"DawidSkene"``, case-insensitive) or ``"auto"``.

    Raises
    ------
    ParameterError
        An unknown name (the message lists the known ones), or a method that cannot be
        imported in this version.
    """
    if not isinstance(name, str):
        raise ParameterError(f"method must be a method name (str), got {type(name).__name__}")
    reg = _registry()
    by_lower = {k.lower(): k for k in [*reg, "AutoAggregator"]}
    cls_name = ALIASES.get(name.lower()) or by_lower.get(name.lower())
    if cls_name is None:
        known = sorted({*ALIASES, *reg})
        raise ParameterError(f"unknown method {name!r}; known methods: {', '.join(known)}")
    if cls_name == "AutoAggregator":
        return AutoAggregator
    try:
        return getattr(importlib.import_module(reg[cls_name]), cls_name)
    except (ImportError, AttributeError, KeyError):
        raise ParameterError(f"method {name!r} ({cls_name}) is not available in this version") from None


def _split_params(cls: type, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``params`` -> (constructor parameters, table options); unknown names raise."""
    names = set(inspect.signature(cls.__init__).parameters) - {"self"}
    est, table = {}, {}
    for k, v in params.items():
        if k in names:
            est[k] = v
        elif k in _TABLE_OPTIONS:
            table[k] = v
        else:
            raise ParameterError(
                f"invalid parameter {k!r} for {cls.__name__}; its parameters: {sorted(names)}; "
                f"table options: {list(_TABLE_OPTIONS)}")
    return est, table


def aggregate(data: Any, method: str = "auto", gold: Any = None, **params: Any) -> BaseAggregator:
    """Fit an aggregation method and return the fitted estimator.

    Parameters
    ----------
    data : AnnotationTable, DataFrame (pandas/polars), pyarrow Table, path or DaskAnnotationTable
    method : str, default "auto"
        ``"auto"`` (:class:`AutoAggregator`: the method chosen by cross-validated
        held-out annotation likelihood), or a method name: a CLI name (``mv``, ``ds``,
        ``onecoin``, ``glad``, ``mace``, ``bcc``, ``ebcc``, ``kos``, ``mmsr``,
        ``goldmv``, ...) or a class name (``"DawidSkene"``).
    gold : Series, mapping or DataFrame, optional
        Known labels by item id, passed to ``fit(gold=...)`` (fixed labels for the EM
        methods, the accuracy source of ``GoldMajorityVote``); refused by methods
        whose ``fit`` has no gold.
    **params
        Constructor parameters of the method (``max_iter=50``) and table options
        (``item_col``, ``worker_col``, ``label_col``, ``labels``, ``duplicates``).

    Returns
    -------
    BaseAggregator
        The fitted estimator (``labels_``, ``probas_``, ``skills_``, ...); for
        ``"auto"`` an :class:`AutoAggregator` whose ``method_`` names the choice and
        ``selection_`` holds the scores.

    Raises
    ------
    ParameterError
        Unknown method, unknown parameter, or ``gold`` for a method without gold.

    Examples
    --------
    >>> import crowdagg
    >>> crowd = crowdagg.datasets.make_crowd(n_items=200, n_workers=20, random_state=0)
    >>> est = crowdagg.aggregate(crowd.annotations)
    >>> est.method_ in est.selection_.index
    True
    >>> crowdagg.aggregate(crowd.annotations, method="ds", max_iter=20).n_iter_ <= 20
    True
    """
    cls = resolve_method(method)
    est_params, table_kwargs = _split_params(cls, params)
    est = cls(**est_params)
    if gold is not None:
        if "gold" not in inspect.signature(est.fit).parameters:
            raise ParameterError(f"{cls.__name__} takes no gold answers")
        return est.fit(data, gold=gold, **table_kwargs)
    return est.fit(data, **table_kwargs)


# --------------------------------------------------------------------------- folds and the score
def _mix(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def annotation_uniforms(table: AnnotationTable, seed: int) -> np.ndarray:
    """One uniform in [0, 1) per annotation, a function of its item id, worker id and
    ``seed`` only (not of positions: the folds follow any reordering of the rows)."""
    from .em import item_uniforms

    iu = (item_uniforms(table.items, seed) * 2.0**53).astype(np.uint64)
    wu = (item_uniforms(table.workers, seed ^ 0x2545F4914F6CDD1D) * 2.0**53).astype(np.uint64)
    with np.errstate(over="ignore"):
        z = _mix(iu[table.item_codes] * np.uint64(0x100000001B3) ^ wu[table.worker_codes])
    return (z >> np.uint64(11)).astype(np.float64) / 2.0**53


def heldout_scores(train: AnnotationTable, post: np.ndarray, test_items: np.ndarray, test_workers: np.ndarray,
                   test_labels: np.ndarray, prior_answers: float = PRIOR_ANSWERS) -> np.ndarray:
    """Log-likelihood of each held-out answer under a candidate's posteriors ``post``
    (items x labels, fitted on ``train``): ``log sum_k post_i(k) C_w(k, l)`` with
    ``C_w`` the worker's confusion counted from ``train`` weighted by ``post`` and shrunk
    towards the pooled confusion (``prior_answers`` pseudo-answers per row; the pooled
    rows themselves carry one pseudo-count per cell)."""
    k = train.n_labels
    nw = train.n_workers
    w, i, lab = train.worker_codes, train.item_codes, train.label_codes
    counts = np.zeros((nw, k, k))
    for t in range(k):
        counts[:, t, :] = np.bincount(w * k + lab, weights=post[i, t], minlength=nw * k).reshape(nw, k)
    pooled = counts.sum(axis=0) + 1.0
    pooled /= pooled.sum(axis=1, keepdims=True)
    conf = (counts + prior_answers * pooled) / (counts.sum(axis=2, keepdims=True) + prior_answers)
    p = np.einsum("ek,ek->e", post[test_items], conf[test_workers, :, test_labels])
    return np.log(np.maximum(p, 1e-300))


def _subset(table: AnnotationTable, mask: np.ndarray) -> AnnotationTable:
    """The annotations of ``mask`` with the table's codebooks (all items, workers, labels)."""
    return AnnotationTable.from_codes(table.item_codes[mask], table.worker_codes[mask], table.label_codes[mask],
                                      items=table.items, workers=table.workers, labels=table.labels,
                                      duplicates="keep")


def _candidate(name: str, random_state: Any) -> BaseAggregator | None:
    try:
        cls = resolve_method(name)
    except ParameterError:
        return None
    kw = {"random_state": random_state} if "random_state" in inspect.signature(cls.__init__).parameters else {}
    return cls(**kw)


def _fit_quiet(est: BaseAggregator, table: AnnotationTable, gold: Any) -> BaseAggregator:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if gold is not None and "gold" in inspect.signature(est.fit).parameters:
            return est.fit(table, gold=gold)
        return est.fit(table)


def _oversized(table: AnnotationTable, names: Sequence[str]) -> dict[str, str]:
    """The default candidates skipped for having too many parameters (see
    :data:`CONFUSION_PARAMS`), each with the reason, for ``selection_``'s ``error``."""
    workers = int((table.worker_counts() > 0).sum())
    k2 = table.n_labels ** 2
    out = {}
    for n in names:
        per = CONFUSION_PARAMS.get(n)
        if per is None:
            continue
        params = workers * k2 * per
        if params > MAX_PARAMS_PER_ANNOTATION * max(table.n_annotations, 1):
            out[n] = (f"skipped: {params:,} parameters ({workers:,} workers x {table.n_labels:,}^2 labels"
                      f"{f' x {per} subtypes' if per > 1 else ''}) for {table.n_annotations:,} annotations "
                      f"(over {MAX_PARAMS_PER_ANNOTATION} per annotation); name it to fit it anyway")
    return out


class AutoAggregator(BaseAggregator):
    """The categorical method chosen by cross-validated held-out annotation likelihood.

    Every candidate is fitted ``n_folds`` times, each time without one fold of the
    annotations (folds drawn from a hash of the item and worker ids with
    ``random_state``); its posteriors then score the held-out answers by
    :func:`heldout_scores` (one observation model for all candidates: per-worker
    confusions from the training answers, pooled across workers for sparse ones).
    The candidate with the highest mean held-out log-likelihood per answer is fitted
    on all the data; a tie goes to the earlier candidate.  Only held-out answers on
    items that keep a training answer are scored.  The rule and its accuracy on real
    datasets: ``docs/auto.md``.

    Parameters
    ----------
    candidates : sequence of str, optional
        Method names to choose from (CLI or class names); default
        :data:`DEFAULT_CANDIDATES` (those importable in this version), or
        :data:`SMALL_CANDIDATES` (majority vote, Wawa, one-coin and full Dawid-Skene,
        GLAD) on data of fewer than :data:`SMALL_ANNOTATIONS` annotations.
    n_folds : int >= 2, default 3
    max_select_annotations : int >= 1, default 500_000
        Above this many annotations the selection runs on the items whose id hash
        falls in a share that keeps about this many (whole items, so every worker
        keeps a representative share of answers); the chosen method is still fitted
        on everything.
    random_state : int >= 0, default 0
        Seed of the folds and of the candidates that take one.

    Attributes
    ----------
    method_ : str
        Class name of the chosen method.
    estimator_ : BaseAggregator
        The chosen method fitted on all the data (``labels_``, ``probas_``,
        ``skills_``, ``result_``, ``table_`` are its own).
    selection_ : pandas.DataFrame
        One row per candidate (index: class name): ``heldout_loglik`` (mean per scored
        answer), ``se`` (its standard error over answers), ``diff_se`` (standard
        error of the difference from the chosen one), ``n_scored``, ``chosen``, and
        ``error`` (why a candidate could not be scored, e.g. KOS on 3 labels, or why a
        default candidate was skipped: a confusion-matrix model with over
        :data:`MAX_PARAMS_PER_ANNOTATION` parameters per annotation).

    Notes
    -----
    On a :class:`~crowdagg.distributed.DaskAnnotationTable` the selection runs on a
    local copy (``to_local()``, subsampled as above) and the chosen method is fitted
    on the distributed table.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "candidates": [None, list, tuple],
        "n_folds": [Interval(Integral, 2, None)],
        "max_select_annotations": [Interval(Integral, 1, None)],
        "random_state": [Interval(Integral, 0, 2**63 - 1)],
    }

    def __init__(self, candidates: Sequence[str] | None = None, n_folds: int = 3,
                 max_select_annotations: int = 500_000, random_state: int = 0) -> None:
        self.candidates = candidates
        self.n_folds = n_folds
        self.max_select_annotations = max_select_annotations
        self.random_state = random_state

    def _candidate_names(self, n_annotations: int | None = None) -> list[str]:
        if self.candidates is not None:
            names = list(self.candidates)
        elif n_annotations is not None and n_annotations < SMALL_ANNOTATIONS:
            names = list(SMALL_CANDIDATES)
        else:
            names = list(DEFAULT_CANDIDATES)
        if not names:
            raise ParameterError("AutoAggregator: candidates is empty")
        out = []
        for n in names:
            cls = resolve_method(n) if self.candidates is not None else None
            if cls is AutoAggregator:
                raise ParameterError("AutoAggregator cannot be its own candidate")
            out.append(cls.__name__ if cls is not None else n)
        return list(dict.fromkeys(out))

    def _selection_table(self, table: AnnotationTable) -> AnnotationTable:
        cap = int(self.max_select_annotations)
        if table.n_annotations <= cap:
            return table
        from .em import item_uniforms

        u = item_uniforms(table.items, int(self.random_state) ^ 0x6A09E667F3BCC909)
        keep_items = u < cap / table.n_annotations
        return _subset(table, keep_items[table.item_codes])

    def _select(self, table: AnnotationTable, gold: Any) -> tuple[str, pd.DataFrame]:
        names = self._candidate_names(table.n_annotations)
        seed = int(self.random_state)
        fold = np.minimum((annotation_uniforms(table, seed) * self.n_folds).astype(np.int64), self.n_folds - 1)
        scores: dict[str, list[np.ndarray]] = {n: [] for n in names}
        errors: dict[str, str] = {} if self.candidates is not None else _oversized(table, names)
        for f in range(self.n_folds):
            test = fold == f
            if test.all() or not test.any():
                continue  # tiny data: a fold without training (or test) answers scores nothing
            train = _subset(table, ~test)
            trained = train.item_counts() > 0
            scored = test & trained[table.item_codes]
            ti, tw, tl = table.item_codes[scored], table.worker_codes[scored], table.label_codes[scored]
            for n in names:
                if n in errors:
                    continue
                est = _candidate(n, seed)
                if est is None:
                    errors[n] = "not available in this version"
                    continue
                try:
                    _fit_quiet(est, train, gold)
                except CrowdaggError as exc:
                    errors[n] = str(exc).splitlines()[0]
                    continue
                post = np.asarray(est.probas_.to_numpy(dtype=np.float64))
                scores[n].append(heldout_scores(train, post, ti, tw, tl))
        rows = {}
        for n in names:
            if n in errors or not scores[n]:
                rows[n] = {"heldout_loglik": np.nan, "se": np.nan, "n_scored": 0,
                           "error": errors.get(n, "nothing to score")}
                continue
            v = np.concatenate(scores[n])
            rows[n] = {"heldout_loglik": float(v.mean()) if v.size else np.nan,
                       "se": float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else np.nan,
                       "n_scored": int(v.size), "error": ""}
        sel = pd.DataFrame.from_dict(rows, orient="index")
        ok = sel["heldout_loglik"].notna()
        if not ok.any():
            # nothing could be scored (e.g. every item has one answer): the first candidate that fits
            usable = [n for n in names if n not in errors]
            if not usable:
                raise InputError(f"AutoAggregator: no candidate could be fitted: {errors}")
            chosen = usable[0]
        else:
            chosen = str(sel.loc[ok, "heldout_loglik"].idxmax())  # first maximum: earlier candidate
        base = np.concatenate(scores[chosen]) if scores.get(chosen) else None
        diff = []
        for n in names:
            if base is not None and scores[n] and n not in errors:
                d = np.concatenate(scores[n]) - base
                diff.append(float(d.std(ddof=1) / np.sqrt(d.size)) if d.size > 1 else np.nan)
            else:
                diff.append(np.nan)
        sel.insert(2, "diff_se", diff)
        sel.insert(4, "chosen", sel.index == chosen)
        sel.index.name = "method"
        return chosen, sel

    def fit(self, data: Any, *, gold: Any = None, **table_kwargs: Any) -> AutoAggregator:
        """Choose a method on ``data`` and fit it.

        Parameters
        ----------
        data : AnnotationTable, DataFrame, pyarrow Table, path or DaskAnnotationTable
        gold : Series, mapping or DataFrame, optional
            Known labels, given to every candidate that takes gold (fixed labels).

        Returns
        -------
        self
        """
        self._validate_params()
        if is_distributed_table(data):
            self._no_table_options(table_kwargs)
            local = data.to_local()
        else:
            local = as_table(data, **table_kwargs)
        if gold is not None:
            local.encode_gold(gold)  # GoldError before any work
        chosen, sel = self._select(self._selection_table(local), gold)
        est = _candidate(chosen, int(self.random_state))
        target = data if is_distributed_table(data) else local
        if gold is not None and "gold" in inspect.signature(est.fit).parameters:
            est.fit(target, gold=gold)
        else:
            est.fit(target)
        self.method_ = chosen
        # kept as plain data (saved models: crowdagg.persist), served as a DataFrame by selection_
        self._selection = {"index": [str(x) for x in sel.index],
                           "columns": {c: sel[c].tolist() for c in sel.columns}}
        self._estimator = est
        self.store_result(est.table_, est.result_)
        if hasattr(est, "skills_"):
            self.skills_ = est.skills_
        return self

    @property
    def estimator_(self) -> BaseAggregator:
        """The chosen method fitted on all the data."""
        est = self.__dict__.get("_estimator")
        if est is None:
            from .errors import NotFittedError

            raise NotFittedError("this AutoAggregator is not fitted yet; call fit(data) first")
        return est

    def _persist_state(self, results: bool) -> dict[str, Any]:
        # the chosen estimator is saved as a nested estimator (crowdagg.persist), not plain data
        state = super()._persist_state(results)
        state["_estimator"] = self._estimator
        return state

    @property
    def selection_(self) -> pd.DataFrame:
        """The candidates' scores (see the class docstring)."""
        sel = self.__dict__.get("_selection")
        if sel is None:
            from .errors import NotFittedError

            raise NotFittedError("this AutoAggregator is not fitted yet; call fit(data) first")
        return pd.DataFrame(sel["columns"], index=pd.Index(sel["index"], name="method"))

    def _predict_posteriors(self, table: AnnotationTable) -> np.ndarray:
        return self.estimator_._predict_posteriors(table)

    def predict(self, data: Any = None, **table_kwargs: Any) -> pd.Series:
        """Labels of the fitted data, or the chosen method's labels on new ``data``."""
        self._check_fitted()
        return self.labels_ if data is None else self.estimator_.predict(data, **table_kwargs)
