"""The report's plots: matplotlib figures rendered to inline SVG (no file, no network).

Text stays text (``svg.fonttype = "none"``), ids and labels are never parsed as
mathtext (``$`` is escaped), the SVG metadata block (which names remote RDF
vocabularies) is stripped, and scatter plots of more than
:data:`RASTER_ABOVE` points are rasterised inside the SVG so that 10,000
workers stay a few hundred kilobytes.
"""

from __future__ import annotations

import io
import re
import warnings
from typing import Any

import numpy as np

from ._build import _BASIS, ReportData
from ._text import plot_text

RASTER_ABOVE = 2000
_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "crowdagg",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 100,
    "figure.constrained_layout.use": True,  # one draw per figure (bbox_inches="tight" draws twice)
}
_BLUE, _ORANGE, _RED, _GREY = "#3b6ea5", "#e08a2c", "#c0392b", "#888888"
_HEAD = re.compile(r"^.*?(?=<svg)", re.S)
_META = re.compile(r"<metadata>.*?</metadata>\s*", re.S)


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return matplotlib, plt


def to_svg(fig: Any) -> str:
    """The figure as an ``<svg>`` element (no XML prolog, no metadata); closes it."""
    _, plt = _plt()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    svg = _META.sub("", _HEAD.sub("", buf.getvalue(), count=1), count=1)
    return svg.replace("<svg ", '<svg class="plot" role="img" ', 1)


def _short(v: Any, n: int = 18) -> str:
    """``v`` as plot text: controls as escapes, at most ``n`` characters, ``$`` escaped (never mathtext)."""
    s = plot_text(v)
    s = s if len(s) <= n else s[: n - 1] + "\u2026"
    return s.replace("$", r"\$")


def _hist_counts(counts: np.ndarray, what: str, color: str) -> str:
    _, plt = _plt()
    fig, ax = plt.subplots(figsize=(4.2, 2.6))
    c = counts[counts > 0] if (counts > 0).any() else counts
    top = int(c.max()) if c.size else 1
    if top <= 40:
        bc = np.bincount(c, minlength=top + 1)
        xs = np.arange(bc.size)
        ax.bar(xs[1:], bc[1:], color=color, width=0.85)
        ax.set_xlim(0.4, top + 0.6)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel(f"answers per {what}")
    else:
        edges = np.unique(np.round(np.geomspace(1, top + 1, 30)).astype(np.int64))
        h, e = np.histogram(c, bins=edges)
        ax.bar(e[:-1], h, width=np.diff(e), align="edge", color=color, edgecolor="white", linewidth=0.4)
        ax.set_xscale("log")
        ax.set_xlabel(f"answers per {what} (log scale)")
    ax.set_ylabel(f"{what}s")
    zero = int((counts == 0).sum())
    if zero:
        ax.set_title(f"{zero:,} {what}(s) without answers not shown", fontsize=8, color=_GREY)
    return to_svg(fig)


def _labels(d: ReportData) -> str:
    _, plt = _plt()
    ld = d.label_dist
    k = len(ld)
    show = np.argsort(-ld["raw"].to_numpy(), kind="stable")[:30]
    fig, ax = plt.subplots(figsize=(max(4.2, 0.45 * len(show) + 1.5), 2.8))
    x = np.arange(len(show))
    ax.bar(x - 0.2, ld["raw_share"].to_numpy()[show], 0.4, label="raw answers", color=_GREY)
    ax.bar(x + 0.2, ld["aggregated_share"].to_numpy()[show], 0.4, label="aggregated labels", color=_BLUE)
    ax.set_xticks(x, [_short(v, 12) for v in ld["label"].to_numpy()[show]],
                  rotation=30 if len(show) > 6 else 0, ha="right" if len(show) > 6 else "center")
    ax.set_ylabel("share")
    ax.legend(frameon=False, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)
    if k > len(show):
        ax.set_xlabel(f"the 30 most frequent of {k} labels", fontsize=8, color=_GREY)
    return to_svg(fig)


def _reliability(d: ReportData) -> str | None:
    w = d.workers
    col = "skill" if "skill" in w else ("gold_acc" if "gold_acc" in w else None)
    if col is None:
        return None
    _, plt = _plt()
    y = w[col].to_numpy(dtype=np.float64)
    x = w["n_answers"].to_numpy()
    ok = np.isfinite(y) & (x > 0)
    flagged = (w["flags"] != "").to_numpy()
    fig, ax = plt.subplots(figsize=(5.2, 3.2))
    raster = int(ok.sum()) > RASTER_ABOVE
    for mask, color, name in ((ok & ~flagged, _BLUE, "workers"), (ok & flagged, _RED, "flagged")):
        if mask.any():
            ax.scatter(x[mask], y[mask], s=9 if raster else 14, alpha=0.55, color=color, label=name,
                       linewidths=0, rasterized=raster)
    ax.set_xscale("log")
    ax.set_xlabel("answers (log scale)")
    ax.set_ylabel("model reliability (skills_)" if col == "skill" else "gold accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.axhline(1.0 / max(d.table.n_labels, 1), color=_GREY, lw=0.8, ls="--")
    ax.text(ax.get_xlim()[0], 1.0 / max(d.table.n_labels, 1), " chance (1/K)", fontsize=7, color=_GREY,
            va="bottom")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return to_svg(fig)


def _confusions(d: ReportData) -> str | None:
    if d.worker_conf is None or d.table.n_labels > 12:
        return None
    least, most = d.confusion_least, d.confusion_most  # picked, with the caption, by _build
    picks = [(i, "least reliable") for i in least] + [(i, "most reliable") for i in most]
    if not picks:
        return None
    _, plt = _plt()
    k = d.table.n_labels
    cols = max(len(least), len(most), 1)
    fig, axes = plt.subplots(2 if least and most else 1, cols, figsize=(2.3 * cols, 2.4 * (2 if most else 1)),
                             squeeze=False)
    for ax in axes.ravel():
        ax.set_visible(False)
    names = [_short(v, 8) for v in d.table.labels]
    w = d.workers
    col = d.confusion_basis
    basis = _BASIS[col][1]
    for r, group in enumerate([g for g in (least, most) if g]):
        for c, i in enumerate(group):
            ax = axes[r, c]
            ax.set_visible(True)
            m = d.worker_conf[int(w["code"].iloc[i])]
            ax.imshow(m, vmin=0, vmax=1, cmap="Blues")
            if k <= 6:
                for a in range(k):
                    for b in range(k):
                        ax.text(b, a, f"{m[a, b]:.2f}", ha="center", va="center", fontsize=7,
                                color="white" if m[a, b] > 0.6 else "black")
            ax.set_xticks(range(k), names, fontsize=7, rotation=45 if k > 3 else 0)
            ax.set_yticks(range(k), names, fontsize=7)
            kind = "least" if r == 0 and least else "most"
            ax.set_title(f"{kind}: {_short(w['worker'].iloc[i], 14)}\n"
                         f"{int(w['n_answers'].iloc[i])} answer{'' if int(w['n_answers'].iloc[i]) == 1 else 's'}, "
                         f"{basis} {w[col].iloc[i]:.2f}", fontsize=7)
            if c == 0:
                ax.set_ylabel("true", fontsize=7)
            ax.set_xlabel("answered", fontsize=7)
    return to_svg(fig)


def _per_class(d: ReportData) -> str | None:
    pc = d.per_class
    if pc is None or not len(pc):
        return None
    _, plt = _plt()
    pc = pc.iloc[:30]
    fig, ax = plt.subplots(figsize=(max(4.2, 0.45 * len(pc) + 1.5), 2.8))
    x = np.arange(len(pc))
    acc = pc["accuracy"].to_numpy(dtype=np.float64)
    lo, hi = pc["ci_low"].to_numpy(), pc["ci_high"].to_numpy()
    a = np.nan_to_num(acc)
    ax.bar(x, a, color=_BLUE, width=0.6)
    ax.errorbar(x, a, yerr=[np.maximum(a - lo, 0), np.maximum(hi - a, 0)], fmt="none", ecolor="black",
                capsize=3, lw=0.8)
    ax.set_xticks(x, [f"{_short(v, 10)}\n(n={int(n)})" for v, n in zip(pc.index, pc["n_scored"])], fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy vs gold")
    return to_svg(fig)


def _history(d: ReportData) -> str | None:
    h = d.history
    if h is None or h.size < 1:
        return None
    _, plt = _plt()
    fig, ax = plt.subplots(figsize=(4.2, 2.6))
    ax.plot(np.arange(1, h.size + 1), h, "o-", ms=3, color=_BLUE)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("iteration")
    ax.set_ylabel(d.history_name.rstrip("_"))
    return to_svg(fig)


def _agreement(d: ReportData) -> str | None:
    rs = d.agreement
    if not rs:
        return None
    _, plt = _plt()
    fig, ax = plt.subplots(figsize=(4.8, 0.3 * len(rs) + 0.9))
    y = np.arange(len(rs))[::-1]
    v = np.array([r.value for r in rs])
    lo = np.array([r.ci[0] if r.ci else r.value for r in rs])
    hi = np.array([r.ci[1] if r.ci else r.value for r in rs])
    ax.errorbar(v, y, xerr=[np.maximum(v - lo, 0), np.maximum(hi - v, 0)], fmt="o", color=_ORANGE,
                ecolor="black", capsize=3, lw=0.8)
    ax.set_yticks(y, [_short(r.coefficient.replace("_", " "), 30) for r in rs])
    ax.axvline(0, color=_GREY, lw=0.6)
    ax.set_xlim(min(-0.05, float(np.nanmin(lo)) - 0.05), 1.02)
    ax.set_xlabel(f"coefficient, {100 * d.options.confidence:g}% interval")
    return to_svg(fig)


def render_all(d: ReportData) -> dict[str, str | None]:
    """Every plot of the report, by name (None where there is nothing to draw)."""
    matplotlib, _ = _plt()
    with matplotlib.rc_context(_RC), warnings.catch_warnings():
        # an id in a script the layout font lacks (CJK, say) is drawn by the browser (the SVG keeps the text);
        # matplotlib's "Glyph ... missing from font(s)" says nothing the reader of the page can act on
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
        return {
            "per_item": _hist_counts(d.table.item_counts(), "item", _BLUE),
            "per_worker": _hist_counts(d.table.worker_counts(), "worker", _ORANGE),
            "labels": _labels(d),
            "reliability": _reliability(d),
            "confusions": _confusions(d),
            "per_class": _per_class(d),
            "history": _history(d),
            "agreement": _agreement(d),
        }
