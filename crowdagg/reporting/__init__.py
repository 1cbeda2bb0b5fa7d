"""HTML quality reports: one self-contained page a QA lead opens.

:func:`report` (also ``crowdagg.report``, and ``crowdagg report`` on the command
line) turns a fitted model, or annotations plus a method, into a single HTML
file: styles, plots (matplotlib, inline SVG) and a small script are inline and
nothing is fetched from the network, so the file can be mailed or archived.
The page holds the batch at a glance (sizes, dropped rows and why, answers per
item and per worker), the label distribution raw vs aggregated, a sortable,
filterable, paginated table of *every* worker (answers, model reliability with
an interval, agreement with the consensus, spam score, gold accuracy with a
Wilson interval, flags), plots (reliability against workload, confusion
matrices of the least and most reliable workers, per-class accuracy against
gold, convergence, agreement coefficients with intervals), the least certain
items with their answers, and the command and versions that produced it.

Needs the ``report`` extra (``pip install 'crowdagg[report]'``: Jinja2 and
matplotlib).  See ``docs/report.md``.
"""

from __future__ import annotations

import datetime as _dt
import html as _html
import os
import platform
import sys
from typing import Any

import numpy as np

from ..errors import MissingDependencyError, OutputError
from ._build import ReportOptions, build, fitted_model

__all__ = ["Report", "report"]


def _require() -> None:
    missing = []
    for mod in ("jinja2", "matplotlib"):
        try:
            __import__(mod)
        except ImportError:
            missing.append(mod)
    if missing:
        raise MissingDependencyError(f"the report needs {' and '.join(missing)}: "
                                     "pip install 'crowdagg[report]'")


def _env():
    import jinja2

    from ._text import ident_html, visible

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("crowdagg.reporting", "templates"),
        autoescape=True,  # every id, label and message is escaped; plots go in as Markup
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["visible"] = visible  # text with control characters as escapes (for attributes)
    env.filters["ident"] = ident_html  # the same as HTML, the escapes marked
    return env


class Report:
    """A rendered quality report: :attr:`html` (the whole page), :meth:`save`, Jupyter display.

    Build with :func:`report`.  ``data`` holds the figures behind the page
    (:class:`~crowdagg.reporting._build.ReportData`: the workers frame, the gold
    accuracy, the agreement results ...).
    """

    def __init__(self, html: str, data: Any) -> None:
        self.html = html
        self.data = data

    def save(self, path: str | os.PathLike) -> str:
        """Write the page to ``path`` (UTF-8); missing parent folders are created. Returns the path.

        Raises
        ------
        OutputError
            A folder, or a place that cannot be written.
        """
        p = os.fspath(path)
        if os.path.isdir(p):
            raise OutputError(f"cannot write the report to {p!r}: it is a folder; name a file in it")
        try:
            parent = os.path.dirname(os.path.abspath(p))
            os.makedirs(parent, exist_ok=True)
            with open(p, "w", encoding="utf-8") as fh:
                fh.write(self.html)
        except OSError as exc:
            raise OutputError(f"cannot write the report to {p!r}: {exc.strerror or exc}") from None
        return p

    def _repr_html_(self) -> str:
        """The page in an isolated ``<iframe srcdoc>`` (its styles and script stay inside)."""
        return ('<iframe style="width:100%;height:900px;border:1px solid #d9dee4" '
                f'sandbox="allow-scripts" srcdoc="{_html.escape(self.html, quote=True)}"></iframe>')

    def __repr__(self) -> str:
        o = self.data.overview
        return (f"Report({o['method']}, {o['annotations']:,} annotations, {o['items']:,} items, "
                f"{o['workers']:,} workers, {len(self.html) / 1e6:.2f} MB)")


def _fmt(v: float, digits: int = 3) -> str:
    return "" if v is None or not np.isfinite(v) else f"{v:.{digits}f}"


def _num(v: float) -> str:
    return "" if v is None or not np.isfinite(v) else repr(float(v))


def _worker_rows(d: Any) -> list[dict[str, Any]]:
    w = d.workers
    n = len(w)
    get = {c: w[c].to_numpy() for c in w.columns}
    nan = np.full(n, np.nan)
    skill, slo, shi = get.get("skill", nan), get.get("skill_low", nan), get.get("skill_high", nan)
    agree, spam = get.get("agree", nan), get.get("spam", nan)
    gacc, glo, ghi = get.get("gold_acc", nan), get.get("gold_low", nan), get.get("gold_high", nan)
    ngold = get.get("n_gold", np.zeros(n, np.int64))
    rows = []
    for i in range(n):
        rows.append({
            "worker": get["worker"][i],
            "n": int(get["n_answers"][i]),
            "skill": _fmt(skill[i]), "skill_v": _num(skill[i]),
            "skill_ci": f"[{_fmt(slo[i], 2)}, {_fmt(shi[i], 2)}]" if np.isfinite(skill[i]) else "",
            "agree": _fmt(agree[i]), "agree_v": _num(agree[i]),
            "spam": _fmt(spam[i], 2), "spam_v": _num(spam[i]),
            "n_gold": int(ngold[i]),
            "gold": _fmt(gacc[i]), "gold_v": _num(gacc[i]),
            "gold_ci": f"[{_fmt(glo[i], 2)}, {_fmt(ghi[i], 2)}]" if np.isfinite(gacc[i]) else "",
            "flags": get["flags"][i].split() if get["flags"][i] else [],
            "reason": get["flag_reason"][i],
        })
    return rows


def _versions() -> list[tuple[str, str]]:
    from .. import __version__

    out = [("crowdagg", __version__), ("python", platform.python_version())]
    for mod in ("numpy", "pandas", "numba", "scipy", "pyarrow", "matplotlib", "jinja2"):
        m = sys.modules.get(mod)
        if m is None:
            try:
                m = __import__(mod)
            except ImportError:
                continue
        out.append((mod, str(getattr(m, "__version__", "?"))))
    out.append(("platform", platform.platform()))
    return out


def _stats_text(s: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:,.4g}" for k, v in s.items())


def report(
    model_or_data: Any,
    gold: Any = None,
    *,
    method: Any = "ds",
    title: str | None = None,
    command: str | None = None,
    confidence: float = 0.95,
    min_accuracy: float = 0.7,
    min_gold: int = 3,
    spam_threshold: float = 0.9,
    min_answers: int = 20,
    n_uncertain: int = 50,
    **table_kwargs: Any,
) -> Report:
    """A self-contained HTML quality report of a fitted model, or of annotations fitted with ``method``.

    Parameters
    ----------
    model_or_data : fitted estimator, or anything ``as_table`` accepts
        A fitted crowdagg model (fitted locally), or annotations (a DataFrame, an
        :class:`~crowdagg.table.AnnotationTable`, a path), which are then fitted
        with ``method``; ``table_kwargs`` build the table.
    gold : Series, mapping or DataFrame, optional
        Known answers by item id.  They *score* workers and the aggregate; they
        are not given to the fit (a model fitted with gold scores itself
        perfectly on it), except to a method that needs them
        (``method="goldmv"``); pass a model fitted with gold only knowingly.
    method : str, estimator class or unfitted estimator
        For data: a ``crowdagg aggregate --method`` name (``"ds"``, default;
        ``"mv"``, ``"glad"`` ...), a class name, a class or an estimator.
    title : str, optional
        Page title (default: "crowdagg quality report").
    command : str, optional
        What produced the report, shown under Provenance (the CLI passes its
        command line; default: the Python call).
    confidence : float
        Coverage of every interval on the page, in (0, 1).
    min_accuracy, min_gold : float, int
        Gold flag: at least ``min_gold`` gold answers and the whole Wilson
        interval below ``min_accuracy`` (:meth:`crowdagg.quality.GoldScores.flag`).
    spam_threshold, min_answers : float, int
        Spam flag: spam score (1 minus Raykar & Yu's spammer score) at least
        ``spam_threshold`` over at least ``min_answers`` answers.  ``min_answers``
        also picks the workers whose confusion matrices are drawn (every worker
        with answers where fewer than two have that many; the caption says which).
    n_uncertain : int
        How many least certain items to list.

    Returns
    -------
    Report
        ``.html``, ``.save(path)``, ``_repr_html_`` for Jupyter.

    Raises
    ------
    MissingDependencyError
        Without Jinja2 or matplotlib.
    InputError, GoldError, ParameterError
        Bad data, gold or options (as the fit and the scoring functions raise them).

    Examples
    --------
    >>> import crowdagg
    >>> from crowdagg.datasets import make_crowd
    >>> crowd = make_crowd(300, 20, 3, random_state=0)
    >>> r = crowdagg.report(crowd.annotations, gold=crowd.truth.iloc[:50])
    >>> path = r.save("report.html")  # doctest: +SKIP
    """
    from .._validation import check_float, check_int
    from ..errors import InputError
    from ..quality import _check_confidence

    _require()
    conf = _check_confidence(confidence)
    bar = check_float("min_accuracy", min_accuracy)
    spam = check_float("spam_threshold", spam_threshold)
    for name, v in (("min_accuracy", bar), ("spam_threshold", spam)):
        if not 0.0 <= v <= 1.0:
            raise InputError(f"{name} must lie in [0, 1], got {v!r}")
    opts = ReportOptions(confidence=conf, min_accuracy=bar, min_gold=check_int("min_gold", min_gold, 0),
                         spam_threshold=spam, min_answers=check_int("min_answers", min_answers, 0),
                         n_uncertain=check_int("n_uncertain", n_uncertain, 0))
    model = fitted_model(model_or_data, method, table_kwargs, gold)
    d = build(model, gold, opts)

    from markupsafe import Markup

    from ._plots import render_all

    plots = {k: (Markup(v) if v is not None else None) for k, v in render_all(d).items()}
    ld = d.label_dist
    label_rows = ld.iloc[np.argsort(-ld["raw"].to_numpy(), kind="stable")[:200]].to_dict("records")
    agreement_rows = [{"name": a.coefficient.replace("_", " ") + (f" ({a.variant})" if a.variant else ""),
                       "value": f"{a.value:.4f}",
                       "ci": f"[{a.ci[0]:.4f}, {a.ci[1]:.4f}]" if a.ci else "",
                       "n": f"{a.n_items:,}"} for a in d.agreement]
    workers = _worker_rows(d)
    cols = set(d.workers.columns)
    when = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if command is None:
        command = f"crowdagg.report({type(model_or_data).__name__}, method={method!r})"
    page = _env().get_template("report.html.j2").render(
        title=title or "crowdagg quality report",
        d=d,
        plots=plots,
        pct=f"{100 * conf:g}%",
        dropped_total=sum(n for _, n in d.dropped),
        per_item_text=_stats_text(d.overview["per_item"]),
        per_worker_text=_stats_text(d.overview["per_worker"]),
        label_rows=label_rows,
        label_more=max(0, len(ld) - len(label_rows)),
        worker_rows=workers,
        n_flagged=sum(1 for w in workers if w["flags"]),
        has_skill="skill" in cols,
        has_spam="spam" in cols,
        has_gold="gold_acc" in cols,
        agreement_rows=agreement_rows,
        converged=getattr(model, "converged_", None),
        n_iter=getattr(model, "n_iter_", None),
        meta={"version": _versions()[0][1], "versions": _versions(), "when": when, "command": command},
    )
    return Report(page, d)
