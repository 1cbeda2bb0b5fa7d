#!/usr/bin/env python
"""Wall time of BCC and EBCC (one restart, 10 subtypes) on generated crowds.

Usage::

    python benchmarks/bayesian_speed.py [--sizes 1M] [--iters 50] [--repeats 3] [--naive]

Data: :func:`_common.load_crowd` (``crowdagg.datasets.make_crowd``: 4 labels, 5
answers per item, ``n / 1000`` workers, cached as Parquet).  Each measurement is
``fit`` on an already built :class:`~crowdagg.AnnotationTable` with
``max_iter=--iters, tol=0`` (exactly that many variational iterations, Numba
compilation excluded by a warm-up fit), the median of ``--repeats`` runs; the
time to build the table from the DataFrame is printed once per size.
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


def _times(fn, repeats: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (all threads of this process)."""
    wall, cpu = [], []
    for _ in range(repeats):
        c, t = time.process_time(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1M", help="annotation counts, e.g. 100k,1M")
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--naive", action="store_true", help="also time the NumPy references on a small crowd")
    args = ap.parse_args(argv)

    import numba

    import crowdagg
    from crowdagg.table import as_table

    warnings.simplefilter("ignore")
    est = {
        "BCC": lambda: crowdagg.BCC(max_iter=args.iters, tol=0),
        "EBCC": lambda: crowdagg.EBCC(n_restarts=1, max_iter=args.iters, tol=0),
    }
    warm, _ = load_crowd(2_000, cache=False)
    for make in est.values():
        make().fit(warm)
    print(f"numba threads: {numba.get_num_threads()}; {args.iters} iterations, median of {args.repeats}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for n in parse_sizes(args.sizes):
        df, _ = load_crowd(n)
        t0 = time.perf_counter()
        table = as_table(df)
        print(f"{fmt_size(n)} annotations ({table.n_items:,} items, {table.n_workers:,} workers, "
              f"{table.n_labels} labels): table build {time.perf_counter() - t0:.2f} s")
        for name, make in est.items():
            sec, cpu = _times(lambda make=make, table=table: make().fit(table), args.repeats)
            print(f"  {name:5s} {sec:7.3f} s wall ({sec / max(args.iters, 1) * 1e3:.1f} ms / iteration), "
                  f"{cpu:.3f} CPU-s", flush=True)
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
