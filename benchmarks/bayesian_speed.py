#!/usr/bin/env python
"""Wall time of BCC and EBCC (one restart, 10 subtypes) -- or of any EM method -- on generated crowds.

Usage::

    python benchmarks/bayesian_speed.py [--sizes 1M] [--iters 50] [--repeats 5] [--serial] [--naive]
                                        [--methods bcc,ebcc] [--rounds 1]

``--methods``: comma-separated from ``ds, oc, zbs, bcc, ebcc, glad, mace`` (one-coin,
ZeroBasedSkill; MACE with one restart); with ``ds`` among them every other method's
median is also printed as a multiple of Dawid-Skene's.  ``--rounds R`` repeats the
whole set R times, the methods alternating, and reports the medians over all runs (on a
shared machine the other jobs then weigh on every method alike).

Data: :func:`_common.load_crowd` (``crowdagg.datasets.make_crowd``: 4 labels, 5
answers per item, ``n / 1000`` workers, cached as Parquet).  Each measurement is
``fit`` on an already built :class:`~crowdagg.AnnotationTable` with
``max_iter=--iters, tol=0`` (exactly that many variational iterations, Numba
compilation excluded by a warm-up fit): the median and best wall time and the
median CPU time (all threads of the process: ``time.process_time``) of
``--repeats`` runs, with the 1-minute load average after them (on a shared
machine the wall time depends on the other jobs; the CPU seconds much less).
``--serial`` also times ``parallel=False`` (one thread: the work itself, without
the threads' start-up and wait).  The time to build the table from the
DataFrame is printed once per size.
``--naive`` also times the NumPy/Python references of ``tests/naive_bcc.py``
(slow: 93k generated annotations, 2 iterations) against the kernels on the same data.
Threads: whatever Numba uses (``NUMBA_NUM_THREADS``; the figures in
``docs/bayesian.md`` are on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from _common import fmt_size, load_crowd, parse_sizes  # noqa: E402


def _time(fn, repeats: int) -> float:
    return _times(fn, repeats)[0]


def _times(fn, repeats: int) -> tuple[float, float, float]:
    """Median wall seconds, median CPU seconds (all threads of this process), best wall seconds."""
    wall, cpu = [], []
    for _ in range(repeats):
        c, t = time.process_time(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu), min(wall)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1M", help="annotation counts, e.g. 100k,1M")
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--serial", action="store_true", help="also time parallel=False (one thread)")
    ap.add_argument("--naive", action="store_true", help="also time the NumPy references on a small crowd")
    ap.add_argument("--methods", default="bcc,ebcc", help="comma-separated from ds, oc, zbs, bcc, ebcc, glad, mace")
    ap.add_argument("--rounds", type=int, default=1, help="repeat the set of methods, alternating")
    args = ap.parse_args(argv)

    import numba

    import crowdagg
    from crowdagg.table import as_table

    warnings.simplefilter("ignore")
    it = args.iters
    known = {
        "ds": ("DS", lambda **kw: crowdagg.DawidSkene(max_iter=it, tol=0, **kw)),
        "oc": ("one-coin", lambda **kw: crowdagg.OneCoinDawidSkene(max_iter=it, tol=0, **kw)),
        "zbs": ("ZBS", lambda **kw: crowdagg.ZeroBasedSkill(max_iter=it, tol=0, **kw)),
        "bcc": ("BCC", lambda **kw: crowdagg.BCC(max_iter=it, tol=0, **kw)),
        "ebcc": ("EBCC", lambda **kw: crowdagg.EBCC(n_restarts=1, max_iter=it, tol=0, **kw)),
        "glad": ("GLAD", lambda **kw: crowdagg.GLAD(max_iter=it, tol=0, **kw)),
        "mace": ("MACE", lambda **kw: crowdagg.MACE(n_restarts=1, max_iter=it, tol=0, **kw)),
    }
    try:
        est = dict(known[m.strip()] for m in args.methods.split(",") if m.strip())
    except KeyError as e:
        ap.error(f"unknown method {e.args[0]!r}; choose from {', '.join(known)}")
    modes = [("", {})] + ([(" serial", {"parallel": False})] if args.serial else [])
    # compile both the serial kernels (one chunk) and the parallel ones (>= 2 chunks of 32k answers)
    for n_warm in sorted({2_000, min(100_000, max(parse_sizes(args.sizes)))}):
        warm, _ = load_crowd(n_warm, cache=False)
        for make in est.values():
            for _, kw in modes:
                make(**kw).fit(warm)
    print(f"numba threads: {numba.get_num_threads()}; {args.iters} iterations, {args.repeats} runs each; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for n in parse_sizes(args.sizes):
        df, _ = load_crowd(n)
        t0 = time.perf_counter()
        table = as_table(df)
        print(f"{fmt_size(n)} annotations ({table.n_items:,} items, {table.n_workers:,} workers, "
              f"{table.n_labels} labels): table build {time.perf_counter() - t0:.2f} s")
        runs: dict[str, list[tuple[float, float]]] = {}
        for _ in range(max(args.rounds, 1)):
            for name, make in est.items():
                for mode, kw in modes:
                    for _ in range(args.repeats):
                        c, t = time.process_time(), time.perf_counter()
                        make(**kw).fit(table)
                        runs.setdefault(name + mode, []).append((time.perf_counter() - t, time.process_time() - c))
        for label, rs in runs.items():
            sec = statistics.median(r[0] for r in rs)
            cpu = statistics.median(r[1] for r in rs)
            best = min(r[0] for r in rs)
            ratio = ""
            base = runs.get("DS" + label[len(label.split(" ")[0]):]) if "DS" in est else None
            if base and not label.startswith("DS"):
                bsec = statistics.median(r[0] for r in base)
                bcpu = statistics.median(r[1] for r in base)
                ratio = f"; {sec / bsec:.2f}x DS wall, {cpu / bcpu:.2f}x CPU"
            print(f"  {label:12s} {sec:7.3f} s wall median, {best:.3f} best "
                  f"({sec / max(args.iters, 1) * 1e3:.1f} ms / iteration), {cpu:.3f} CPU-s median "
                  f"({len(rs)} runs){ratio}; load average {os.getloadavg()[0]:.1f}", flush=True)
    if args.naive:
        _naive(args)
    return 0


def _naive(args: argparse.Namespace) -> None:
    """The references of tests/naive_bcc.py against the estimators on one small crowd."""
    import numpy as np
    from naive_bcc import bcc, ebcc, split_keys

    import crowdagg
    from crowdagg.table import as_table

    df, _ = load_crowd(93_000)  # the size of zheng_s5_adultcontent
    t = as_table(df)
    i, w, y = (np.asarray(a, np.int64) for a in (t.item_codes, t.worker_codes, t.label_codes))
    n_iter = 2
    print(f"naive references: {fmt_size(t.n_annotations)} annotations, {n_iter} iterations")
    sec = _time(lambda: bcc(i, w, y, t.n_items, t.n_workers, t.n_labels, None, n_iter), 1)
    ours = _time(lambda: crowdagg.BCC(max_iter=n_iter, tol=0).fit(t), 3)
    print(f"  BCC   naive {sec:.2f} s, crowdagg {ours * 1e3:.1f} ms ({sec / ours:,.0f}x)")
    keys = split_keys(i, w, y, t.n_items, t.n_workers, 1)
    sec = _time(lambda: ebcc(i, w, y, t.n_items, t.n_workers, t.n_labels, keys, None, n_iter, 10), 1)
    ours = _time(lambda: crowdagg.EBCC(n_restarts=1, max_iter=n_iter, tol=0).fit(t), 3)
    print(f"  EBCC  naive {sec:.2f} s, crowdagg {ours * 1e3:.1f} ms ({sec / ours:,.0f}x)")


if __name__ == "__main__":
    sys.exit(main())
