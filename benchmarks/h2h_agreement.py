"""Head-to-head: crowdagg agreement vs the ``krippendorff`` package and statsmodels' ``fleiss_kappa``.

Same generated data for both (``crowdagg.datasets.make_crowd(200_000, 2_000, per_item=5)``,
1M annotations), one process, runs alternating between the two, median wall
time and peak traced memory (``tracemalloc``; NumPy allocations are traced).

The ``krippendorff`` package needs a dense raters x items matrix (2k x 200k float64 =
3.2 GB here); building it is timed separately and is *not* included in its time,
which favours it.  statsmodels' ``fleiss_kappa`` takes an items x categories count
table, built with ``aggregate_raters`` from an items x 5 rating matrix (included).
crowdagg times start from an :class:`AnnotationTable` (its build time is printed).

Usage::

    python benchmarks/h2h_agreement.py [--n-items 200000] [--n-workers 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc

import numpy as np


def measure(fn):
    gc.collect()
    tracemalloc.start()
    t0 = time.perf_counter()
    value = fn()
    dt = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return float(value), dt, peak / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-items", type=int, default=200_000)
    ap.add_argument("--n-workers", type=int, default=2_000)
    ap.add_argument("--per-item", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-krippendorff", action="store_true")
    args = ap.parse_args()

    import numba

    import crowdagg.agreement as A
    from crowdagg.datasets import make_crowd
    from crowdagg.table import AnnotationTable

    crowd = make_crowd(args.n_items, args.n_workers, 4, args.per_item, random_state=0)
    df = crowd.annotations
    t0 = time.perf_counter()
    table = AnnotationTable.from_pandas(df)
    print(f"data: {table.n_annotations:,} annotations, {table.n_items:,} items, {table.n_workers:,} workers; "
          f"table built in {time.perf_counter() - t0:.2f}s; numba threads: {numba.get_num_threads()}")
    # warm-up (JIT compile / cache load) outside the timings
    small = AnnotationTable.from_pandas(df.iloc[:1000])
    A.krippendorff_alpha(small)
    A.krippendorff_alpha(small, "interval")
    A.fleiss_kappa(small)

    contenders = {}
    contenders["alpha nominal"] = [("crowdagg", lambda: A.krippendorff_alpha(table, "nominal").value)]
    contenders["alpha interval"] = [("crowdagg", lambda: A.krippendorff_alpha(table, "interval").value)]
    contenders["fleiss kappa"] = [("crowdagg", lambda: A.fleiss_kappa(table).value)]

    if not args.skip_krippendorff:
        try:
            import krippendorff
        except ImportError:
            krippendorff = None
        if krippendorff is not None:
            t0 = time.perf_counter()
            dense = np.full((table.n_workers, table.n_items), np.nan)
            dense[table.worker_codes, table.item_codes] = table.labels.to_numpy(dtype=float)[table.label_codes]
            print(f"krippendorff needs a dense {dense.shape[0]:,} x {dense.shape[1]:,} matrix: "
                  f"{dense.nbytes / 2**30:.2f} GiB, built in {time.perf_counter() - t0:.2f}s (not timed below)")
            contenders["alpha nominal"].append(
                ("krippendorff", lambda: krippendorff.alpha(reliability_data=dense, level_of_measurement="nominal")))
            contenders["alpha interval"].append(
                ("krippendorff", lambda: krippendorff.alpha(reliability_data=dense, level_of_measurement="interval")))
    try:
        from statsmodels.stats.inter_rater import aggregate_raters
        from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss
    except ImportError:
        sm_fleiss = None
    if sm_fleiss is not None:
        m = args.per_item
        slots = table.label_codes.reshape(table.n_items, m)  # every item has m ratings

        def statsmodels_fleiss():
            counts, _ = aggregate_raters(slots, n_cat=table.n_labels)
            return sm_fleiss(counts)

        contenders["fleiss kappa"].append(("statsmodels", statsmodels_fleiss))

    print(f"{'task':<16}{'library':<14}{'median s':>10}{'peak MiB':>10}{'value':>12}   runs")
    for task, entries in contenders.items():
        res = {name: ([], [], None) for name, _ in entries}
        for _ in range(args.repeat):  # alternate the contenders
            for name, fn in entries:
                v, dt, mem = measure(fn)
                times, mems, _ = res[name]
                times.append(dt)
                mems.append(mem)
                res[name] = (times, mems, v)
        med = {}
        for name, (times, mems, v) in res.items():
            med[name] = statistics.median(times)
            print(f"{task:<16}{name:<14}{med[name]:>10.4f}{max(mems):>10.1f}{v:>12.6f}   "
                  + " ".join(f"{t:.3f}" for t in times))
        others = [n for n in med if n != "crowdagg"]
        for o in others:
            print(f"{'':<16}speed-up vs {o}: {med[o] / med['crowdagg']:.0f}x")


if __name__ == "__main__":
    main()
