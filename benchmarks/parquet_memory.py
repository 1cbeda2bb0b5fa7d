"""Peak memory and time of ``AnnotationTable.read_parquet`` + ``DawidSkene`` (50 iterations)
on a generated Parquet file of string ids, each measurement in a fresh process.

    python benchmarks/parquet_memory.py --sizes 1e7 1e8 --dir /tmp/crowdagg-parquet

The file holds ``n`` annotations over ``n / 5`` items (``"item<k>"``) and 2,000 workers
(``"w<k>"``) chosen uniformly, 4 classes, row groups of 1M rows (so a 10M file has 10).
The child reports its peak resident set (``ru_maxrss``: everything the process held,
Python, Numba's compiled code and pandas included) after the read and after the fit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import crowdagg
tb = crowdagg.AnnotationTable.read_parquet(sys.argv[1], item_col="task", duplicates="keep")
t1 = time.perf_counter()
peak_read = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
est = crowdagg.DawidSkene(max_iter=50, tol=0).fit(tb)
t2 = time.perf_counter()
print(json.dumps({"n": tb.n_annotations, "items": tb.n_items, "read_s": t1 - t0, "fit_s": t2 - t1,
                  "peak_read_mib": peak_read,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def generate(n: int, path: str, row_group: int = 1_000_000, seed: int = 0) -> None:
    """Write the crowd of ``n`` annotations to ``path`` (one row group per ``row_group`` rows)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    n_items, n_workers = max(n // 5, 1), 2000
    truth = rng.integers(0, 4, n_items)
    schema = pa.schema([("task", pa.string()), ("worker", pa.string()), ("label", pa.int64())])
    with pq.ParquetWriter(path, schema) as w:
        for s in range(0, n, row_group):
            m = min(row_group, n - s)
            it = rng.integers(0, n_items, m)
            wk = rng.integers(0, n_workers, m)
            lab = np.where(rng.random(m) < 0.7, truth[it], rng.integers(0, 4, m))
            w.write_table(pa.table({"task": pa.array(np.char.add("item", it.astype(str))),
                                    "worker": pa.array(np.char.add("w", wk.astype(str))), "label": lab}),
                          row_group_size=row_group)


def measure(path: str) -> dict:
    """One cold child process: read + fit, with its peak memory."""
    out = subprocess.run([sys.executable, "-c", CHILD, path], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", type=float, default=[1e7])
    ap.add_argument("--dir", default="/tmp/crowdagg-parquet", help="where the generated files go (kept)")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args(argv)
    os.makedirs(args.dir, exist_ok=True)
    rows: list[dict] = []
    tiny = os.path.join(args.dir, "crowd_warm.parquet")
    generate(1000, tiny)
    measure(tiny)  # fills the Numba cache, so that the figures below are not compile time
    for size in args.sizes:
        n = int(size)
        path = os.path.join(args.dir, f"crowd_{n}.parquet")
        if not os.path.exists(path):
            t = time.perf_counter()
            generate(n, path)
            print(f"generated {path} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        for _ in range(args.repeats):
            r = measure(path)
            rows.append(r)
            print(f"n={r['n']:,} items={r['items']:,}: read {r['read_s']:.1f} s (peak {r['peak_read_mib']:.0f} MiB), "
                  f"DS x 50 {r['fit_s']:.1f} s, peak {r['peak_mib']:.0f} MiB", flush=True)
    return rows


if __name__ == "__main__":
    main()
