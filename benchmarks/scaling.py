"""crowdagg alone from 10k to 100M annotations: time and peak memory per method.

Every (method, size) runs in a fresh Python process (``_common.run_isolated``) that

1. loads the cached generated crowd (``_common.load_crowd``; the crowd is
   generated and cached first, in a process of its own, so generation memory
   never counts),
2. runs the method once on a small crowd (compilation / Numba cache load, not timed),
3. times ``AnnotationTable.from_pandas`` (via ``as_table``) and ``fit`` on the
   table separately, ``--repeats`` times (medians reported),
4. reads the peak RSS during the build and during the fit (Linux ``VmHWM``, reset
   in between with ``/proc/self/clear_refs``).

Reported per row: build, fit and total seconds; the frame's own size; the table's
arrays; the RSS once the frame is loaded; the peak RSS during the timed work.
``--plot`` draws time (and peak memory) against annotations on log-log axes, one
line per method, with crowd-kit's times from a ``head_to_head.py --json`` file
dashed when given with ``--head-to-head``.  A method is skipped at a size where
its time, extrapolated linearly from the previous size, exceeds ``--max-seconds``.

Examples::

    python benchmarks/scaling.py --sizes 10k,100k,1M,10M --methods all --plot docs/img/scaling.png
    python benchmarks/scaling.py --sizes 100M --methods ds --id-type int   # needs ~25 GB free to generate
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

TABLE = "table"  # pseudo-method: table build only


def _table_nbytes(table: Any) -> int:
    arrays = ("item_codes", "worker_codes", "label_codes", "item_ptr", "worker_index", "worker_ptr")
    n = sum(getattr(table, a).nbytes for a in arrays)
    return n + sum(int(ix.memory_usage(deep=True)) for ix in (table.items, table.workers, table.labels))


def measure(
    method: str, n: int, n_labels: int = 4, id_type: str = "str", seed: int = 0, repeats: int = 1
) -> dict[str, Any]:
    """Child-process body: time and memory of one method at one size (see module doc)."""
    from crowdagg import as_table

    df, truth = C.load_crowd(n, n_labels=n_labels, id_type=id_type, seed=seed)
    factory = None
    if method != TABLE:
        factory, _ = C.METHODS[method].ours_factory()
        if factory is None:
            return {"error": f"{C.METHODS[method].ours} not available"}
        small, _ = C.load_crowd(2000, n_labels=n_labels, id_type=id_type, cache=False)
        factory().fit(small)
    else:
        small, _ = C.load_crowd(2000, n_labels=n_labels, id_type=id_type, cache=False)
    as_table(small)
    del small
    gc.collect()
    out: dict[str, Any] = {
        "method": method, "annotations": len(df), "id_type": id_type,
        "frame_bytes": int(df.memory_usage(deep=True).sum()), "rss_loaded": C.rss_bytes(),
    }
    builds, fits, peaks_build, peaks_fit = [], [], [], []
    accuracy = None
    for _ in range(max(1, repeats)):
        gc.collect()
        out["peak_reset_supported"] = C.reset_peak()
        t, table = C.timed(as_table, df)
        builds.append(t)
        peaks_build.append(C.peak_rss_bytes())
        if factory is not None:
            C.reset_peak()
            t, est = C.timed(factory().fit, table)
            fits.append(t)
            peaks_fit.append(C.peak_rss_bytes())
            accuracy = C.accuracy(est.labels_, truth)
            del est
        out["table_bytes"] = _table_nbytes(table)
        del table
    out.update(
        build_seconds=C.median(builds),
        fit_seconds=C.median(fits) if fits else 0.0,
        total_seconds=C.median([b + f for b, f in zip(builds, fits)]) if fits else C.median(builds),
        peak_build=max(peaks_build),
        peak_fit=max(peaks_fit) if peaks_fit else None,
        accuracy=accuracy,
    )
    out["peak"] = max(out["peak_build"], out["peak_fit"] or 0)
    return out


def run(
    sizes: list[int],
    methods: list[str],
    *,
    repeats: int = 1,
    id_type: str = "str",
    n_labels: int = 4,
    seed: int = 0,
    max_seconds: float = 300.0,
    timeout: float = 900.0,
    log: Any = print,
) -> dict[str, Any]:
    """Run every (method, size) in its own process; returns ``{"machine", "settings", "results"}``."""
    results: list[dict[str, Any]] = []
    last: dict[str, tuple[int, float]] = {}
    for n in sorted(sizes):
        gen = C.run_isolated("_common:ensure_crowd", {"n_annotations": n, "n_labels": n_labels,
                                                      "id_type": id_type, "seed": seed}, timeout=3600)
        log(f"# {C.fmt_size(n)} annotations (cached crowd ready in {gen['seconds']:.1f} s)")
        for m in methods:
            if m in last:
                n0, t0 = last[m]
                est = t0 * n / n0
                if est > max_seconds:
                    results.append({"method": m, "annotations": n, "skipped_estimate": est})
                    log(f"  {m}: skipped (est. {est:.0f} s > --max-seconds)")
                    continue
            try:
                res = C.run_isolated("scaling:measure", {"method": m, "n": n, "n_labels": n_labels,
                                                         "id_type": id_type, "seed": seed, "repeats": repeats},
                                     timeout=timeout)
            except C.ChildError as exc:
                lines = [ln for ln in str(exc).splitlines() if ln.strip()]
                res = {"method": m, "annotations": n, "error": " ".join(dict.fromkeys([lines[0], lines[-1]]))}
            res.setdefault("method", m)
            res.setdefault("annotations", n)
            results.append(res)
            if "error" in res:
                log(f"  {m}: {res['error']}")
                continue
            last[m] = (n, res["total_seconds"])
            log("  " + " | ".join(f"{h}: {c}" for h, c in zip(HEADER, _cells(res))))
    return {"machine": C.machine_info(),
            "settings": {"sizes": sizes, "methods": methods, "repeats": repeats, "id_type": id_type,
                         "n_labels": n_labels, "per_item": 5, "seed": seed},
            "results": results}


HEADER = ["method", "annotations", "build s", "fit s", "total s", "frame MiB", "table MiB",
          "RSS loaded MiB", "peak RSS MiB", "accuracy"]


def _title(m: str) -> str:
    return "table build" if m == TABLE else C.METHODS[m].title


def _cells(r: dict[str, Any]) -> list[str]:
    if "skipped_estimate" in r:
        return [_title(r["method"]), C.fmt_size(r["annotations"]), f"skipped (est. {r['skipped_estimate']:.0f} s)"] + [""] * 7
    if "error" in r:
        return [_title(r["method"]), C.fmt_size(r["annotations"]), r["error"]] + [""] * 7

    def g(key: str) -> str:
        return f"{r[key] / 2**20:.0f}"

    acc = "-" if r.get("accuracy") is None else f"{r['accuracy']:.4f}"
    return [_title(r["method"]), C.fmt_size(r["annotations"]), C.fmt_seconds(r["build_seconds"]),
            C.fmt_seconds(r["fit_seconds"]) if r["method"] != TABLE else "-", C.fmt_seconds(r["total_seconds"]),
            g("frame_bytes"), g("table_bytes"), g("rss_loaded"), g("peak"), acc]


def format_report(report: dict[str, Any], markdown: bool = False) -> str:
    """The results as a terminal table or as markdown."""
    s = report["settings"]
    head = (f"Machine: {C.format_machine(report['machine'])}\n"
            f"Settings: {s['n_labels']} classes, {s['per_item']} annotations per item, {s['id_type']} ids, "
            f"median of {s['repeats']} run(s), each (method, size) in a fresh process; 50 iterations, tol=0 "
            "for iterative methods.")
    rows = [_cells(r) for r in report["results"]]
    table = C.markdown_table(HEADER, rows) if markdown else C.text_table(HEADER, rows)
    return f"{head}\n\n{table}"


def plot(report: dict[str, Any], path: str, head_to_head: dict[str, Any] | None = None) -> None:
    """Log-log time (left) and peak RSS (right) against annotations, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(12, 6))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    methods = list(dict.fromkeys(r["method"] for r in report["results"]))
    for i, m in enumerate(methods):
        col = colours[i % len(colours)]
        rows = [r for r in report["results"] if r["method"] == m and "total_seconds" in r]
        if rows:
            xs = [r["annotations"] for r in rows]
            ax_t.loglog(xs, [r["total_seconds"] for r in rows], "o-", color=col, label=f"crowdagg {_title(m)}")
            ax_m.loglog(xs, [r["peak"] / 2**20 for r in rows], "o-", color=col)
        if head_to_head and m != TABLE:
            theirs = [r for r in head_to_head["results"] if r["method"] == m and r.get("theirs_seconds")]
            if theirs:
                ax_t.loglog([r["annotations"] for r in theirs], [r["theirs_seconds"] for r in theirs], "s--",
                            color=col, alpha=0.7, label=f"crowd-kit {_title(m)}")
    info = report["machine"]
    ax_t.set(xlabel="annotations", ylabel="seconds (table build + fit)",
             title=f"time, {info['cores']} cores")
    ax_m.set(xlabel="annotations", ylabel="peak RSS (MiB, whole process incl. frame)", title="peak memory")
    for ax in (ax_t, ax_m):
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"crowdagg scaling ({report['settings']['id_type']} ids, {info['date']}; "
                 "solid: crowdagg, dashed: crowd-kit)", fontsize=10)
    handles, labels = ax_t.get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0.2, 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=7, frameon=False)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command-line entry point; returns the report dict."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10k,100k,1M,10M", help="annotation counts, up to e.g. 100M")
    p.add_argument("--methods", default="all",
                   help=f"comma-separated from {[TABLE, *C.METHODS]} ('all': table + every method)")
    p.add_argument("--repeats", type=int, default=1, help="timed runs per process (median)")
    p.add_argument("--id-type", choices=["str", "int"], default="str")
    p.add_argument("--n-labels", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-seconds", type=float, default=300.0,
                   help="skip a method at a size where its extrapolated time exceeds this")
    p.add_argument("--timeout", type=float, default=900.0, help="kill a measurement after this many seconds")
    p.add_argument("--markdown", action="store_true")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.add_argument("--plot", metavar="PNG", help="write the log-log plot here (e.g. docs/img/scaling.png)")
    p.add_argument("--head-to-head", metavar="JSON", action="append",
                   help="head_to_head.py --json output(s) to overlay crowd-kit (repeatable)")
    args = p.parse_args(argv)
    if args.methods == "all":
        methods = [TABLE, *(m.key for m in C.METHODS.values() if m.ours_class() is not None)]
    else:
        keys = [k.strip() for k in args.methods.split(",") if k.strip()]
        methods = [TABLE] * (TABLE in keys) + [m.key for m in C.resolve_methods([k for k in keys if k != TABLE])]
    report = run(C.parse_sizes(args.sizes), methods, repeats=args.repeats, id_type=args.id_type,
                 n_labels=args.n_labels, seed=args.seed, max_seconds=args.max_seconds, timeout=args.timeout)
    print()
    print(format_report(report, markdown=args.markdown))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    if args.plot:
        h2h = None
        if args.head_to_head:
            h2h = {"results": [r for f in args.head_to_head for r in json.loads(Path(f).read_text())["results"]]}
        plot(report, args.plot, h2h)
        print(f"\nplot written to {args.plot}")
    return report


if __name__ == "__main__":
    main()
