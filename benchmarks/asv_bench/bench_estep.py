"""One E-step pass of the Dawid-Skene and MACE kernels on a built table (no frame, no M-step).

The per-pass figure of ``docs/benchmarks.md`` ("Roofline"): serial and parallel
kernels, 4 classes, skewed and uniform workloads, posteriors and statistics
accumulated as in a fit.
"""

from __future__ import annotations

import numpy as np

from . import SIZES, _cache_all, _common


class DSPass:
    params = (SIZES, ["skewed", "uniform"], [False, True])
    param_names = ["annotations", "workload", "parallel"]
    number = 5
    repeat = (3, 10, 60.0)
    warmup_time = 0.0
    timeout = 1800.0

    def setup_cache(self) -> None:
        _cache_all(("int",), ("skewed", "uniform"))

    def setup(self, n: int, workload: str, parallel: bool) -> None:
        from crowdagg import as_table
        from crowdagg.kernels._util import chunk_bounds
        from crowdagg.kernels.em import ds_estep_fixed_parallel, ds_estep_fixed_slice

        t = as_table(_common.load_crowd(n, id_type="int", workload=workload)[0])
        k, w = t.n_labels, t.n_workers
        rng = np.random.default_rng(0)
        conf = rng.dirichlet(np.full(k, 3.0), size=(w, k))
        self.args = (t.item_ptr, t.worker_label_pairs, np.full(t.n_items, -1, np.int64), np.full(k, -np.log(k)),
                     np.ascontiguousarray(np.log(conf).transpose(0, 2, 1)).reshape(-1, k))
        self.post = np.empty((t.n_items, k))
        self.width = (0.0,) * k
        self.n_items = t.n_items
        if parallel:
            import numba

            b = chunk_bounds(t.item_ptr, 2 * numba.get_num_threads())
            nc = b.shape[0] - 1
            bufs = (np.zeros((nc, w * k, k)), np.zeros((nc, k)), np.zeros(nc))
            self.run = lambda: ds_estep_fixed_parallel(*self.args, b, self.post, *bufs, True, self.width)
        else:
            counts, tot = np.zeros((w * k, k)), np.zeros(k)
            self.run = lambda: ds_estep_fixed_slice(*self.args, 0, self.n_items, self.post, counts, tot, True,
                                                    self.width)
        self.run()  # compile / load

    def time_pass(self, n: int, workload: str, parallel: bool) -> None:
        self.run()
