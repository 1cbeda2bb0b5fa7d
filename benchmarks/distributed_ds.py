"""Dawid-Skene on a Dask LocalCluster: table build, time per iteration, bytes moved, peak memory.

Generates ``--sizes`` annotations (e.g. ``10M 100M``) directly inside the Dask
workers (``dask.dataframe.from_map``, one generator call per input partition: no
data passes through the client), builds a :class:`crowdagg.distributed.DaskAnnotationTable`
(one shuffle by item) and runs Dawid-Skene with ``tol=0`` for ``--iters``
iterations through :class:`crowdagg.distributed.DaskExecutor`, timing each
iteration (M-step on the client + distributed E-step + tree reduction).

Reported per size (printed and written as JSON with ``--out``):

* ``build_s``: codebooks + shuffle + CSR pieces persisted;
* ``init_s``: majority-vote posteriors and the first M-step, plus pass 0;
* ``iter_s``: seconds per iteration (median of the iterations run);
* ``bytes_per_iter``: bytes of the parameters broadcast to the pieces plus the
  bytes of the partial statistics every piece sends into the reduction tree;
* ``peak_rss_mb``: peak resident memory of every worker process (``ru_maxrss``)
  and of the client process.

Synthetic data: ``ann_per_item`` distinct workers per item out of ``--workers-pool``,
``--labels`` classes, worker accuracies uniform in [0.5, 0.95], errors uniform.

Usage::

    python benchmarks/distributed_ds.py --sizes 1M 10M --n-workers 2 --iters 5 --out ds.json
    python benchmarks/distributed_ds.py --sizes 100M --n-workers 4 --partitions 64   # big machine
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from typing import Any

import numpy as np
import pandas as pd


def parse_size(text: str) -> int:
    text = text.strip().upper()
    mult = {"K": 10**3, "M": 10**6, "B": 10**9, "G": 10**9}.get(text[-1], 1)
    return int(float(text[:-1] if text[-1] in "KMBG" else text) * mult)


def generate(part: int, items_per_part: int, ann_per_item: int, n_workers: int, n_labels: int,
             seed: int) -> pd.DataFrame:
    """One input partition: items ``part * items_per_part ...``, ``ann_per_item`` distinct workers each."""
    acc_rng = np.random.default_rng(seed)
    accuracy = acc_rng.uniform(0.5, 0.95, n_workers)
    rng = np.random.default_rng([seed, part])
    n = items_per_part * ann_per_item
    items = np.repeat(np.arange(part * items_per_part, (part + 1) * items_per_part, dtype=np.int64), ann_per_item)
    truth = rng.integers(0, n_labels, items_per_part)
    base = rng.integers(0, n_workers, items_per_part)
    workers = ((base[:, None] + 13 * np.arange(ann_per_item)[None, :]) % n_workers).ravel().astype(np.int64)
    true_rep = np.repeat(truth, ann_per_item)
    correct = rng.random(n) < accuracy[workers]
    wrong = (true_rep + rng.integers(1, n_labels, n)) % n_labels
    labels = np.where(correct, true_rep, wrong).astype(np.int64)
    # shuffle rows so that the table build really has to group by item
    order = rng.permutation(n)
    return pd.DataFrame({"item": items[order], "worker": workers[order], "label": labels[order]})


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_size(client: Any, n_ann: int, args: argparse.Namespace) -> dict[str, Any]:
    import dask.dataframe as dd

    import crowdagg
    from crowdagg.distributed import DaskAnnotationTable

    n_parts_in = max(1, args.input_partitions or n_ann // 2_000_000)
    items_per_part = max(1, n_ann // (args.ann_per_item * n_parts_in))
    ddf = dd.from_map(generate, range(n_parts_in), items_per_part=items_per_part, ann_per_item=args.ann_per_item,
                      n_workers=args.workers_pool, n_labels=args.labels, seed=args.seed,
                      meta=generate(0, 1, args.ann_per_item, args.workers_pool, args.labels, args.seed).iloc[:0])
    t0 = time.perf_counter()
    table = DaskAnnotationTable.from_dask_dataframe(ddf, npartitions=args.partitions or n_parts_in,
                                                    duplicates="keep")
    build_s = time.perf_counter() - t0

    est = crowdagg.DawidSkene(max_iter=args.iters, tol=0)
    model = est._make_model()
    ex = table.executor()  # the executor crowdagg.em.run_em drives, step by step here
    t0 = time.perf_counter()
    ex.vote()
    params = model.initial_m_step(ex.ctx, ex.stats_from_posteriors(model), ex)
    ll, stats = ex.e_step(model, params, True)
    init_s = time.perf_counter() - t0
    times = []
    moved = []
    for t in range(1, args.iters + 1):
        t0 = time.perf_counter()
        params = model.m_step(ex.ctx, params, stats, ex)
        ll, stats = ex.e_step(model, params, t < args.iters)
        times.append(time.perf_counter() - t0)
        moved.append(ex._moved)
    ex.start()  # drop the posteriors
    worker_rss = client.run(peak_rss_mb)
    out = {
        "n_annotations": table.n_annotations,
        "n_items": table.n_items,
        "n_workers": table.n_workers,
        "n_labels": table.n_labels,
        "n_partitions": table.n_partitions,
        "cluster_workers": len(worker_rss),
        "threads_per_worker": args.threads,
        "build_s": round(build_s, 3),
        "init_s": round(init_s, 3),
        "iter_s": round(statistics.median(times), 4),
        "iter_s_all": [round(x, 4) for x in times],
        "bytes_per_iter": int(statistics.median(moved)),
        "params_bytes": int(sum(a.nbytes for a in model.prepare(ex.ctx, params))),
        "peak_rss_mb_workers": {str(k): round(v, 1) for k, v in worker_rss.items()},
        "peak_rss_mb_client": round(peak_rss_mb(), 1),
        "final_loglik": float(ll),
    }
    if args.local:
        df = ddf.compute()
        t0 = time.perf_counter()
        loc = crowdagg.DawidSkene(max_iter=args.iters, tol=0).fit(df, duplicates="keep")
        out["local_fit_s"] = round(time.perf_counter() - t0, 3)
        out["local_final_loglik"] = float(loc.loglik_[-1])
        del df, loc
    table.client.cancel(table.pieces)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", default=["1M"], help="annotation counts, e.g. 10M 100M")
    p.add_argument("--n-workers", type=int, default=2, help="Dask worker processes")
    p.add_argument("--threads", type=int, default=1, help="threads per Dask worker")
    p.add_argument("--memory-limit", default="auto", help="per worker, e.g. 8GB")
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--partitions", type=int, default=None, help="pieces after the shuffle (default: as input)")
    p.add_argument("--input-partitions", type=int, default=None, help="default: one per 2M annotations")
    p.add_argument("--ann-per-item", type=int, default=10)
    p.add_argument("--workers-pool", type=int, default=1000, help="number of distinct crowd workers")
    p.add_argument("--labels", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--local", action="store_true", help="also time the local (single-process) fit")
    p.add_argument("--scheduler", default=None, help="address of an existing cluster (default: LocalCluster)")
    p.add_argument("--out", default=None, help="write the results as JSON")
    args = p.parse_args(argv)

    from distributed import Client, LocalCluster

    if args.scheduler:
        client = Client(args.scheduler)
        cluster = None
    else:
        cluster = LocalCluster(n_workers=args.n_workers, threads_per_worker=args.threads, processes=True,
                               dashboard_address=None, memory_limit=args.memory_limit, silence_logs=40)
        client = Client(cluster)
    results = []
    try:
        for size in args.sizes:
            res = run_size(client, parse_size(size), args)
            results.append(res)
            print(json.dumps(res), flush=True)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(results, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
