"""Rich ``_repr_html_`` for estimators, agreement results and gold scores (Jupyter).

* an unfitted estimator: its class and a table of its parameters (defaults greyed);
* a fitted estimator: the same plus a summary (items, workers, labels,
  annotations, iterations, convergence) and small tables: class priors where
  the model has them, and the least and most reliable workers by ``skills_``;
* :class:`~crowdagg.agreement.AgreementResult`: the coefficient, its interval and counts;
* :class:`~crowdagg.quality.GoldScores`: the counts and the workers most likely to
  be bad (lowest ``ci_low``) with their Wilson intervals.

Every value is escaped (``html.escape``) -- ids and labels come from user data.
No optional dependency is needed; a failure while building the rich view
falls back to the escaped plain ``repr`` rather than breaking the notebook.
"""

from __future__ import annotations

import html
import inspect
import math
from typing import Any

import numpy as np
import pandas as pd

from ._text import visible

__all__ = ["html_repr"]

#: rows of each small table
MAX_ROWS = 5

_STYLE = (
    "<style>.crowdagg-repr{font:13px/1.4 system-ui,sans-serif}"
    ".crowdagg-repr table{border-collapse:collapse;margin:4px 0 8px}"
    ".crowdagg-repr th,.crowdagg-repr td{border-bottom:1px solid #ddd;padding:2px 8px;text-align:left;"
    "max-width:28em;overflow-wrap:anywhere}"
    ".crowdagg-repr td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    ".crowdagg-repr .muted{color:#888}.crowdagg-repr h4{margin:6px 0 2px;font-size:13px}</style>"
)


def _e(v: Any) -> str:
    return html.escape(visible(v), quote=True)  # control characters as escapes (\x1b), as in the report


def _num(v: Any) -> str:
    if v is None:
        return ""
    try:
        if pd.isna(v):
            return "\u2013"
    except (TypeError, ValueError):
        pass
    if isinstance(v, (bool, np.bool_)):
        return _e(v)
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return f"{f:.4g}" if math.isfinite(f) else _e(f)
    return _e(v)


def _table(header: list[str], rows: list[list[Any]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="n">{_num(c)}</td>' if j in numeric else f"<td>{_e(c)}</td>" for j, c in enumerate(r)
        ) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _wrap(title: str, parts: list[str]) -> str:
    return f'{_STYLE}<div class="crowdagg-repr"><b>{_e(title)}</b>{"".join(parts)}</div>'


def _params(est: Any) -> str:
    sig = inspect.signature(type(est).__init__)
    rows = []
    for name, value in est.get_params(deep=False).items():
        default = sig.parameters[name].default if name in sig.parameters else inspect.Parameter.empty
        try:
            same = default is not inspect.Parameter.empty and bool(value == default)
        except Exception:  # arrays, frames
            same = False
        text = repr(value)
        if len(text) > 80:
            text = text[:77] + "..."
        cell = f'<span class="muted">{_e(text)}</span>' if same else _e(text)
        rows.append(f"<tr><td>{_e(name)}</td><td><code>{cell}</code></td></tr>")
    return "<h4>parameters</h4><table>" + "".join(rows) + "</table>" if rows else ""


def _estimator(est: Any) -> str:
    parts = [_params(est)]
    name = type(est).__name__
    if not hasattr(est, "result_"):
        return _wrap(f"{name} (not fitted)", parts)
    t = getattr(est, "table_", None)
    summary: list[list[Any]] = []
    if t is not None and hasattr(t, "n_items"):
        summary += [["items", t.n_items], ["workers", t.n_workers], ["labels", t.n_labels],
                    ["annotations", t.n_annotations]]
    for attr, label in (("n_iter_", "iterations"), ("converged_", "converged")):
        if hasattr(est, attr):
            summary.append([label, getattr(est, attr)])
    hist = getattr(est, getattr(type(est), "_history_attr", "loglik_"), None)
    if hist is not None and len(np.atleast_1d(hist)):
        summary.append(["final objective", float(np.atleast_1d(hist)[-1])])
    parts.insert(0, "<h4>fit</h4>" + _table(["", "value"], summary, {1}))
    priors = getattr(est, "priors_", None)
    if isinstance(priors, pd.Series):
        top = priors.sort_values(ascending=False, kind="stable").iloc[:MAX_ROWS * 2]
        more = len(priors) - len(top)
        parts.append("<h4>class priors</h4>" + _table(["label", "prior"], [[k, v] for k, v in top.items()], {1})
                     + (f'<span class="muted">and {more:,} more</span>' if more > 0 else ""))
    skills = getattr(est, "skills_", None)
    if isinstance(skills, pd.Series) and len(skills) and t is not None:
        counts = pd.Series(t.worker_counts(), index=t.workers) if len(skills) == t.n_workers else None
        s = skills.sort_values(kind="stable")
        picks = [("least reliable", s.iloc[:MAX_ROWS]), ("most reliable", s.iloc[::-1].iloc[:MAX_ROWS])]
        for title, part in picks:
            rows = [[w, v, counts.iloc[t.workers.get_loc(w)] if counts is not None else ""]
                    for w, v in part.items()]
            parts.append(f"<h4>{_e(title)} workers</h4>" + _table(["worker", "skill", "answers"], rows, {1, 2}))
    return _wrap(f"{name} (fitted)", parts)


def _agreement(res: Any) -> str:
    rows = [["value", res.value]]
    if res.se is not None:
        rows.append(["standard error", res.se])
    if res.ci is not None:
        rows.append(["interval", f"[{res.ci[0]:.4g}, {res.ci[1]:.4g}]"])
    for k in ("pa", "pe"):
        v = getattr(res, k)
        if v is not None:
            rows.append([{"pa": "observed agreement", "pe": "chance agreement"}[k], v])
    rows += [["items", res.n_items], ["annotations", res.n_annotations]]
    title = res.coefficient + (f" ({res.variant})" if res.variant else "")
    return _wrap(title, [_table(["", ""], rows, {1})])


def _gold_scores(gs: Any) -> str:
    t = gs.table
    scored = int((t["n_gold"] > 0).sum())
    summary = _table(["", ""], [["workers", len(t)], ["scored on gold", scored],
                                ["gold items", gs.n_gold_items], ["confidence", gs.confidence]], {1})
    worst = gs.sorted("ci_low").iloc[:MAX_ROWS * 2]
    rows = [[w, r["n_gold"], r["n_correct"], r["accuracy"], r["ci_low"], r["ci_high"]] for w, r in worst.iterrows()]
    pct = f"{100 * gs.confidence:g}%"
    table = _table(["worker", "gold answers", "correct", "accuracy", f"{pct} low", f"{pct} high"], rows,
                   {1, 2, 3, 4, 5})
    return _wrap("GoldScores", [summary, "<h4>lowest interval first</h4>", table])


def html_repr(obj: Any) -> str:
    """HTML for Jupyter's rich display of ``obj`` (see the module docstring)."""
    try:
        from ..agreement import AgreementResult
        from ..base import BaseEstimator
        from ..quality import GoldScores

        if isinstance(obj, AgreementResult):
            return _agreement(obj)
        if isinstance(obj, GoldScores):
            return _gold_scores(obj)
        if isinstance(obj, BaseEstimator):
            return _estimator(obj)
    except Exception:  # never break a notebook over a display: the plain repr, escaped
        pass
    return f"<pre>{html.escape(repr(obj))}</pre>"
