"""One E-step pass of the Dawid-Skene, MACE and weighted-vote kernels on a built table
(no frame, no M-step), and one whole iteration of the plug-ins that share them.

The per-pass figures of ``docs/benchmarks.md`` ("Roofline"): serial and parallel
kernels, 4 classes, skewed and uniform workloads, posteriors and statistics
accumulated as in a fit (no gold: the empty gold array the fits pass then).
``WVPass`` is the weighted-vote pass of Wawa / ZeroBasedSkill; one-coin and BCC run
``DSPass``'s kernel on their own rows, so ``IterationPass`` times one iteration of
each plug-in (M-step, ``prepare``, E-step with statistics, objective offset) to show
what they add around it.  ``cd benchmarks && python -m asv_bench.bench_estep`` prints
median CPU and wall ms per pass without asv.
"""

from __future__ import annotations

import numpy as np

from . import SIZES, _cache_all, _common


def _table(n: int, workload: str):  # noqa: ANN202
    from crowdagg import as_table

    return as_table(_common.load_crowd(n, id_type="int", workload=workload)[0])


def _bounds(t):  # noqa: ANN001, ANN202
    import numba

    from crowdagg.kernels._util import chunk_bounds

    return chunk_bounds(t.item_ptr, 2 * numba.get_num_threads())  # as EMContext.chunks


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
        from crowdagg.kernels.em import ds_estep_fixed_parallel, ds_estep_fixed_slice

        t = _table(n, workload)
        k, w = t.n_labels, t.n_workers
        rng = np.random.default_rng(0)
        conf = rng.dirichlet(np.full(k, 3.0), size=(w, k))
        self.args = (t.item_ptr, t.worker_label_pairs, np.empty(0, np.int64), np.full(k, -np.log(k)),
                     np.ascontiguousarray(np.log(conf).transpose(0, 2, 1)).reshape(-1, k))
        self.post = np.empty((t.n_items, k))
        self.width = (0.0,) * k
        self.n_items = t.n_items
        if parallel:
            b = _bounds(t)
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


class MACEPass(DSPass):
    def setup(self, n: int, workload: str, parallel: bool) -> None:
        from crowdagg.kernels.mace import (
            mace_answer_log_probs,
            mace_estep_fixed_parallel,
            mace_estep_fixed_slice,
            mace_know_ratio,
            mace_log_params,
        )

        t = _table(n, workload)
        k, w = t.n_labels, t.n_workers
        rng = np.random.default_rng(0)
        spam = rng.uniform(0.05, 0.9, w)
        ls, lb, lk = mace_log_params(spam, 1.0 - spam, rng.dirichlet(np.ones(k), w))
        ratio = mace_know_ratio(lk, lb)
        args = (t.item_ptr, t.worker_codes, t.label_codes, np.empty(0, np.int64), np.full(k, -np.log(k)),
                mace_answer_log_probs(ls, lb), ratio)
        post = np.empty((t.n_items, k))
        width = (0.0,) * k
        if parallel:
            b = _bounds(t)
            nc = b.shape[0] - 1
            bufs = (np.zeros((nc, w)), np.zeros((nc, w, k)), np.zeros((nc, k)), np.zeros(nc))
            self.run = lambda: mace_estep_fixed_parallel(*args, b, post, *bufs, True, width)
        else:
            bufs = (np.zeros(w), np.zeros((w, k)), np.zeros(k))
            self.run = lambda: mace_estep_fixed_slice(*args, 0, t.n_items, post, *bufs, True, width)
        self.run()


class WVPass(DSPass):
    """The 2-4 class weighted-vote pass (Wawa, ZeroBasedSkill) with agreement statistics."""

    def setup(self, n: int, workload: str, parallel: bool) -> None:
        from crowdagg.kernels.em import wv_estep_fixed_parallel, wv_estep_fixed_slice, wv_rows

        t = _table(n, workload)
        k, w = t.n_labels, t.n_workers
        vrows, pw = wv_rows(np.random.default_rng(0).uniform(0.3, 1.0, w), k)
        args = (t.item_ptr, t.worker_label_pairs, np.empty(0, np.int64), vrows, pw)
        post = np.empty((t.n_items, k))
        width = (0.0,) * k
        if parallel:
            b = _bounds(t)
            bufs = (np.zeros((b.shape[0] - 1, w * k * k)), np.zeros(b.shape[0] - 1))
            self.run = lambda: wv_estep_fixed_parallel(*args, b, post, *bufs, True, width)
        else:
            hits = np.zeros(w * k * k)
            self.run = lambda: wv_estep_fixed_slice(*args, 0, t.n_items, post, hits, True, width)
        self.run()


class IterationPass:
    """One EM iteration of a plug-in on a built table, as ``run_em`` makes it: the
    M-step from the last statistics, ``prepare``, the E-step with statistics and the
    objective offset (``ds``, one-coin ``oc``, ZeroBasedSkill ``zbs``, ``bcc``, ``glad``: its
    E-step kernel makes the next M-step's first item pass too, so its M-step is the
    abilities' step)."""

    params = (SIZES, ["ds", "oc", "zbs", "bcc", "glad"], [False, True])
    param_names = ["annotations", "method", "parallel"]
    number = 5
    repeat = (3, 10, 60.0)
    warmup_time = 0.0
    timeout = 1800.0

    def setup_cache(self) -> None:
        _cache_all(("int",), ("skewed",))

    def setup(self, n: int, method: str, parallel: bool) -> None:
        import crowdagg
        from crowdagg.em import EMContext, LocalExecutor
        from crowdagg.kernels._util import parallel_guard

        est = {"ds": crowdagg.DawidSkene, "oc": crowdagg.OneCoinDawidSkene, "zbs": crowdagg.ZeroBasedSkill,
               "bcc": crowdagg.BCC, "glad": crowdagg.GLAD}[method]()
        t = _table(n, "skewed")
        model = est._make_model()
        ctx = EMContext(t, np.full(t.n_items, -1), parallel=parallel)
        ex = LocalExecutor(ctx)
        ex.start(model)
        ctx.iteration = 1
        state = {"params": model.default_params(ctx)}
        state["stats"] = ex.e_step(model, state["params"], True)[1]

        def run() -> None:
            new = model.m_step(ctx, state["params"], state["stats"], ex)
            prepared = model.prepare(ctx, new)
            items = {name: new[name] for name in model.item_params}
            with parallel_guard():
                _, state["stats"] = model.e_step_table(ctx, prepared, items, ex.posteriors, True)
            model.loglik_offset(ctx, new)
            state["params"] = new

        self.run = run
        self.run()

    def time_iteration(self, n: int, method: str, parallel: bool) -> None:
        self.run()


def main() -> None:
    """Median CPU / wall ms per pass of every benchmark at 1M (``--calls`` per case)."""
    import argparse
    import os
    import time

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=30)
    p.add_argument("--size", default="1M")
    p.add_argument("--only", default="", help="comma-separated benchmark classes (default: all)")
    cases = [(cls, arg) for cls in (DSPass, MACEPass, WVPass) for arg in ("skewed", "uniform")]
    cases += [(IterationPass, m) for m in ("ds", "oc", "zbs", "bcc", "glad")]
    a = p.parse_args()
    n = _common.parse_sizes(a.size)[0]
    only = {c for c in a.only.split(",") if c}
    for cls, arg in cases:
        if only and cls.__name__ not in only:
            continue
        for parallel in (False, True):
            b = cls()
            b.setup(n, arg, parallel)
            cpu, wall = [], []
            for _ in range(a.calls):
                c0, w0 = time.process_time(), time.perf_counter()
                b.run()
                cpu.append(time.process_time() - c0)
                wall.append(time.perf_counter() - w0)
            print(f"{cls.__name__:13s} {arg:7s} {'parallel' if parallel else 'serial  '} "
                  f"CPU {np.median(cpu) * 1e3:6.2f} ms (min {min(cpu) * 1e3:5.2f})  "
                  f"wall {np.median(wall) * 1e3:6.2f} ms (min {min(wall) * 1e3:5.2f})  "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
