"""crowdagg against crowd-kit, method by method, on the same generated frame.

For every size and method the script times, in one process and alternating
(ours, theirs, ours, theirs, ...), crowdagg's ``Estimator().fit(df)`` end to end
from the pandas frame (table build included) and crowd-kit's ``fit_predict(df)``,
then prints the median times, the ratio (crowd-kit / crowdagg) and both
accuracies against the generator's truth.  Compilation is excluded: each crowdagg
method is run once on a small crowd first (``compile_time.py`` measures import +
first call on its own).

crowd-kit is skipped at sizes where it would take longer than
``--max-competitor-seconds``: the time is extrapolated linearly in the number of
annotations from the largest smaller size measured in the same run (or from rough
reference rates when none was), and the report says ``skipped (est. N s)``.

Examples::

    python benchmarks/head_to_head.py --sizes 10k,100k,1M --methods mv,ds --repeats 3
    python benchmarks/head_to_head.py --sizes 1M --methods all --markdown --json h2h.json
    python benchmarks/head_to_head.py --sizes 1M --methods ds,mace --id-type int --workload uniform

Besides wall time, every run records the CPU time of the process (all threads) and
the load average: on a shared machine wall times of a multi-threaded fit include
waiting for cores, and the CPU-time ratio is the steadier comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

#: pause before each timed run so that thread pools of the previous run go idle
SETTLE_SECONDS = 0.5


def _warm_up(factory: Any) -> None:
    """Compile (or load from the Numba cache) a method's kernels on a small crowd."""
    df, _ = C.load_crowd(2000, cache=False)
    factory().fit(df)


def _fit(factory: Any, df: Any) -> Any:
    return factory().fit(df)


def _fit_predict(factory: Any, df: Any) -> Any:
    with warnings.catch_warnings():  # crowd-kit's pandas deprecation warnings
        warnings.simplefilter("ignore")
        return factory().fit_predict(df)


def _estimate(method: C.Method, n: int, measured: dict[str, tuple[int, float]]) -> float:
    """Extrapolated crowd-kit seconds at ``n`` annotations."""
    if method.key in measured:
        n0, t0 = measured[method.key]
        return t0 * n / n0
    return C.CROWDKIT_SECONDS_PER_M.get(method.key, 0.0) * n / 1e6


def run(
    sizes: list[int],
    methods: list[C.Method],
    *,
    repeats: int = 3,
    max_competitor_seconds: float = 600.0,
    competitor: bool = True,
    id_type: str = "str",
    n_labels: int = 4,
    seed: int = 0,
    cache: bool = True,
    workload: str = "skewed",
    log: Any = print,
) -> dict[str, Any]:
    """Run the comparison; returns ``{"machine", "settings", "table_build", "results"}``."""
    results: list[dict[str, Any]] = []
    table_build: list[dict[str, Any]] = []
    measured: dict[str, tuple[int, float]] = {}  # method -> (size, crowd-kit median seconds)
    warmed: set[str] = set()
    from crowdagg import as_table

    for n in sorted(sizes):
        df, truth = C.load_crowd(n, n_labels=n_labels, id_type=id_type, seed=seed, cache=cache,
                                 workload=workload)
        as_table(df)  # warm up the table kernels
        t_tab = C.median([C.timed(as_table, df)[0] for _ in range(max(1, repeats))])
        table_build.append({"annotations": len(df), "seconds": t_tab})
        log(f"# {C.fmt_size(len(df))} annotations ({df['task'].nunique()} items, "
            f"{df['worker'].nunique()} workers): table build {C.fmt_seconds(t_tab)} s")
        for m in methods:
            row: dict[str, Any] = {"method": m.key, "title": m.title, "annotations": len(df),
                                   "ours_seconds": None, "theirs_seconds": None, "ratio": None,
                                   "ours_accuracy": None, "theirs_accuracy": None, "notes": [],
                                   "ours_cpu_seconds": None, "theirs_cpu_seconds": None, "cpu_ratio": None,
                                   "load_before": C.load_average()}
            ours, notes = m.ours_factory()
            row["notes"] += notes
            theirs = m.theirs_factory() if competitor else None
            if competitor and theirs is None:
                row["notes"].append("no crowd-kit counterpart" if m.theirs is None else "crowd-kit not available")
            run_theirs = theirs is not None
            if run_theirs:
                est = _estimate(m, len(df), measured)
                if est > max_competitor_seconds:
                    run_theirs = False
                    row["theirs_skipped_estimate"] = est
                    row["notes"].append(f"crowd-kit skipped (est. {est:.0f} s)")
            if ours is not None and m.key not in warmed:
                _warm_up(ours)
                warmed.add(m.key)
            t_ours: list[float] = []
            t_theirs: list[float] = []
            c_ours: list[float] = []
            c_theirs: list[float] = []
            spent_theirs = 0.0
            for r in range(max(1, repeats)):
                if ours is not None:
                    # let the other side's thread pools (BLAS, Arrow) go idle first: spinning
                    # worker threads from the previous run would otherwise steal the cores
                    time.sleep(SETTLE_SECONDS)
                    t, c, est_obj = C.timed_cpu(_fit, ours, df)
                    t_ours.append(t)
                    c_ours.append(c)
                    if r == 0:
                        row["ours_accuracy"] = C.accuracy(est_obj.labels_, truth)
                    del est_obj
                # crowd-kit repeats stop once the next one would exceed the time budget
                if run_theirs and (r == 0 or spent_theirs + spent_theirs / len(t_theirs) <= max_competitor_seconds):
                    time.sleep(SETTLE_SECONDS)
                    t, c, pred = C.timed_cpu(_fit_predict, theirs, df)
                    t_theirs.append(t)
                    c_theirs.append(c)
                    spent_theirs += t
                    if r == 0:
                        row["theirs_accuracy"] = C.accuracy(pred, truth)
                    del pred
            if t_ours:
                row["ours_seconds"] = C.median(t_ours)
                row["ours_runs"] = t_ours
            if t_theirs:
                row["theirs_seconds"] = C.median(t_theirs)
                row["theirs_runs"] = t_theirs
                measured[m.key] = (len(df), row["theirs_seconds"])
            if c_ours:
                row["ours_cpu_seconds"] = C.median(c_ours)
            if c_theirs:
                row["theirs_cpu_seconds"] = C.median(c_theirs)
            if t_ours and t_theirs:
                row["ratio"] = row["theirs_seconds"] / row["ours_seconds"]
                row["cpu_ratio"] = row["theirs_cpu_seconds"] / row["ours_cpu_seconds"]
            row["load_after"] = C.load_average()
            results.append(row)
            log("  " + _text_row(row))
    return {
        "machine": C.machine_info(),
        "settings": {"sizes": sizes, "methods": [m.key for m in methods], "repeats": repeats,
                     "max_competitor_seconds": max_competitor_seconds, "id_type": id_type,
                     "workload": workload,
                     # the OpenMP wait policy in force (crowdagg.kernels.em sets PASSIVE unless
                     # the environment chose one): spinning threads count as CPU time
                     "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
                     "n_labels": n_labels, "per_item": 5, "seed": seed},
        "table_build": table_build,
        "results": results,
    }


def _acc(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def _theirs_cell(row: dict[str, Any]) -> str:
    if row["theirs_seconds"] is not None:
        return C.fmt_seconds(row["theirs_seconds"])
    if "theirs_skipped_estimate" in row:
        return f"skipped (est. {row['theirs_skipped_estimate']:.0f} s)"
    return "-"


def _ratio(row: dict[str, Any]) -> str:
    return "-" if row["ratio"] is None else f"{row['ratio']:.1f}x"


def _cpu(row: dict[str, Any]) -> str:
    o, t = row.get("ours_cpu_seconds"), row.get("theirs_cpu_seconds")
    if o is None:
        return "-"
    cells = C.fmt_seconds(o) + " / " + ("-" if t is None else C.fmt_seconds(t))
    return cells + ("" if row.get("cpu_ratio") is None else f" ({row['cpu_ratio']:.1f}x)")


def _load(row: dict[str, Any]) -> str:
    la = row.get("load_before")
    return "-" if not la else f"{la[0]:.1f}"


def _cells(row: dict[str, Any]) -> list[str]:
    ours = C.fmt_seconds(row["ours_seconds"]) if row["ours_seconds"] is not None else "n/a"
    return [row["title"], C.fmt_size(row["annotations"]), ours, _theirs_cell(row), _ratio(row),
            _cpu(row), _load(row), _acc(row["ours_accuracy"]), _acc(row["theirs_accuracy"])]


HEADER = ["method", "annotations", "crowdagg s", "crowd-kit s", "speed-up", "CPU s ours / theirs (ratio)",
          "load", "acc crowdagg", "acc crowd-kit"]


def _text_row(row: dict[str, Any]) -> str:
    text = " | ".join(f"{h}: {c}" for h, c in zip(HEADER, _cells(row)))
    return text + (f"  [{'; '.join(row['notes'])}]" if row["notes"] else "")


def format_report(report: dict[str, Any], markdown: bool = False) -> str:
    """The results as a terminal table, or markdown for ``docs/benchmarks.md``."""
    rows = [_cells(r) for r in report["results"]]
    tb = [[C.fmt_size(t["annotations"]), C.fmt_seconds(t["seconds"])] for t in report["table_build"]]
    notes = sorted({f"{r['title']}: {n}" for r in report["results"] for n in r["notes"]
                    if not n.startswith("crowd-kit skipped")})
    s = report["settings"]
    head = (f"Machine: {C.format_machine(report['machine'])}\n"
            f"Settings: {s['n_labels']} classes, {s['per_item']} annotations per item, {s['id_type']} ids, "
            f"{s.get('workload', 'skewed')} workloads, "
            f"median of {s['repeats']} alternating runs; times in seconds, end to end from a pandas frame.")
    if markdown:
        out = [head, "", C.markdown_table(HEADER, rows), "", "Table build alone (AnnotationTable from the frame):",
               "", C.markdown_table(["annotations", "seconds"], tb)]
        out += ["", *[f"- {n}" for n in notes]] if notes else []
    else:
        out = [head, "", C.text_table(HEADER, rows), "", "table build:", C.text_table(["annotations", "s"], tb)]
        out += ["", *notes]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command-line entry point; returns the report dict."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10k,100k,1M", help="annotation counts, e.g. 10k,100k,1M")
    p.add_argument("--methods", default="all", help=f"comma-separated, from {list(C.METHODS)} (default all)")
    p.add_argument("--repeats", type=int, default=3, help="alternating runs per method and size (median)")
    p.add_argument("--max-competitor-seconds", type=float, default=600.0,
                   help="skip crowd-kit where its extrapolated time exceeds this")
    p.add_argument("--no-competitor", action="store_true", help="time crowdagg only")
    p.add_argument("--id-type", choices=["str", "int"], default="str", help="item/worker id type")
    p.add_argument("--workload", choices=list(C.WORKLOADS), default="skewed",
                   help="answers per worker: Zipf-skewed (default) or uniform")
    p.add_argument("--n-labels", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-cache", action="store_true", help="regenerate the crowds instead of caching them")
    p.add_argument("--markdown", action="store_true", help="print the final table as markdown")
    p.add_argument("--json", metavar="PATH", help="also write the full results as JSON")
    args = p.parse_args(argv)
    report = run(C.parse_sizes(args.sizes), C.resolve_methods(args.methods), repeats=args.repeats,
                 max_competitor_seconds=args.max_competitor_seconds, competitor=not args.no_competitor,
                 id_type=args.id_type, n_labels=args.n_labels, seed=args.seed, cache=not args.no_cache,
                 workload=args.workload)
    print()
    print(format_report(report, markdown=args.markdown))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
