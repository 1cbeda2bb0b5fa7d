"""Agreement coefficients, gold scores, active-learning gains and numeric ratings called from
concurrent threads give exactly the serial answers, under the active Numba threading layer and
under ``workqueue`` (not thread-safe: two threads launching parallel kernels at once abort the
process).  These functions call parallel kernels outside the EM core, each under
:func:`crowdagg.kernels._util.parallel_guard`; ``tests/test_threads.py`` covers the EM fits.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import NOJIT

import crowdagg

# One job: every function of crowdagg.agreement, crowdagg.quality, crowdagg.active and the ratings
# estimators that runs parallel kernels outside the EM executor (and Wawa, majority vote), on one crowd.  The crowds have 100k
# annotations: several chunks, so the parallel (prange) kernels run.
_JOB = textwrap.dedent("""
    import warnings
    import numpy as np
    import pandas as pd
    import crowdagg
    from crowdagg import active, agreement, quality

    def crowd(seed):
        c = crowdagg.datasets.make_crowd(20_000, 60, 3, per_item=5, random_state=seed)
        df = c.annotations
        ratings = df.assign(label=df["label"].astype(np.float64) * 10 + np.arange(len(df)) % 7)
        return df, c.truth.iloc[:2000], ratings

    def job(data):
        df, gold, ratings = data
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = agreement.krippendorff_alpha(df, n_boot=64, random_state=1)
            out += [a.value, a.se, *a.ci]
            for fn in (agreement.fleiss_kappa, agreement.gwet_ac):
                r = fn(df, n_boot=64, random_state=2)
                out += [r.value, *r.ci]
            k = agreement.cohen_kappa(df, "w00", "w01", n_boot=64, random_state=3)
            out += [k.value, *k.ci]
            out.append(agreement.worker_agreement(df).to_numpy(dtype=np.float64, na_value=np.nan))
            s = quality.score_workers(df, gold, parallel=True)
            out += [s.table[["n_gold", "n_correct"]].to_numpy(dtype=np.float64), s.confusions.astype(np.float64)]
            ds = crowdagg.DawidSkene(max_iter=5, tol=0).fit(df)
            out.append(active.expected_gain(ds).to_numpy())
            for m in (crowdagg.Wawa(max_iter=5, tol=0).fit(df), crowdagg.MajorityVote().fit(df)):
                out += [m.probas_.to_numpy(), m.skills_.to_numpy()]
            for cls in (crowdagg.MeanRating, crowdagg.MedianRating, crowdagg.WorkerBiasNoise):
                kw = {"max_iter": 10, "tol": 0} if cls is crowdagg.WorkerBiasNoise else {}
                e = cls(**kw).fit(ratings)
                out += [e.labels_.to_numpy(), e.stderr_.to_numpy(), e.predict(ratings).to_numpy()]
        return [np.asarray(x, dtype=np.float64) for x in out]

    def same(a, b):
        return len(a) == len(b) and all(np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b))
""")

_NS: dict = {}
exec(compile(_JOB, "<threads_more job>", "exec"), _NS)


@pytest.fixture(scope="module")
def data():
    return [_NS["crowd"](s) for s in range(2)]


def test_the_crowds_use_the_parallel_kernels(data):
    from crowdagg.kernels._util import chunk_bounds

    table = crowdagg.as_table(data[0][0])
    assert chunk_bounds(table.item_ptr).shape[0] > 2 and chunk_bounds(table.worker_ptr).shape[0] > 2
    # active.expected_gain takes its parallel kernel above 100k item x pool cells
    assert table.n_items * table.n_workers > 100_000


@pytest.mark.skipif(NOJIT, reason="no parallel=True dispatchers without the JIT (NUMBA_DISABLE_JIT=1)")
def test_every_parallel_kernel_runs_under_the_guard(data, monkeypatch):
    """Deterministic: with the guard as a lock (``workqueue``), every call of a ``parallel=True``
    kernel that the job makes from Python holds it (each kernel wrapped in every crowdagg module
    that names it)."""
    import sys

    from crowdagg.kernels import _util

    _NS["job"](data[0])  # imports every module the job uses
    monkeypatch.setattr(_util, "_LAYER_SAFE", [False])
    lock = _util._PARALLEL_LOCK
    calls: list[tuple[str, bool]] = []

    def wrap(name, fn):
        def call(*args, **kwargs):
            calls.append((name, lock._is_owned()))
            return fn(*args, **kwargs)
        return call

    wrappers: dict[int, object] = {}
    for mod in [m for n, m in sys.modules.items() if n.startswith("crowdagg") and m is not None]:
        for name, obj in list(vars(mod).items()):
            if (getattr(obj, "targetoptions", None) or {}).get("parallel"):
                monkeypatch.setattr(mod, name, wrappers.setdefault(id(obj), wrap(name, obj)))
    _NS["job"](data[0])
    called = {n for n, _ in calls}
    # the job reaches the kernels of every module this test is about
    assert {"alpha_boot_parallel", "family_boot_parallel", "cohen_boot_parallel", "worker_rest_parallel",
            "item_label_counts_parallel", "alpha_item_parallel", "weighted_pairs_parallel", "gold_counts_parallel",
            "gold_confusion_parallel", "gain_parallel", "moments_parallel", "median_parallel", "bn_items_parallel",
            "bn_worker_stats_parallel", "hash_strings", "wv_estep_fixed_parallel", "mv_parallel"} <= called, called
    assert not [n for n, held in calls if not held], sorted({n for n, held in calls if not held})


@pytest.mark.slow  # ~30 s; the workqueue test below is the one that can abort
def test_concurrent_calls_equal_serial_calls(data):
    serial = [_NS["job"](d) for d in data]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(_NS["job"], data * 2))
    for i, g in enumerate(got):
        assert _NS["same"](g, serial[i % len(data)]), f"thread {i} differs"


_WORKQUEUE_SCRIPT = _JOB + textwrap.dedent("""
    import numba
    from concurrent.futures import ThreadPoolExecutor
    data = [crowd(s) for s in range(2)]
    serial = [job(d) for d in data]
    assert numba.threading_layer() == "workqueue", numba.threading_layer()
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(job, data * 2))
    for i, g in enumerate(got):
        assert same(g, serial[i % 2]), i
    print("ok", numba.threading_layer())
""")


@pytest.mark.skipif(NOJIT, reason="Numba's workqueue threading layer is not used without the JIT; "
                    "the pure-Python job takes over 10 minutes")
def test_concurrent_calls_under_the_workqueue_layer():
    env = {**os.environ, "NUMBA_THREADING_LAYER": "workqueue"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = subprocess.run([sys.executable, "-c", _WORKQUEUE_SCRIPT], capture_output=True, text=True, env=env,
                             timeout=600)
    assert run.returncode == 0, (run.stdout[-1000:], run.stderr[-3000:])
    assert run.stdout.strip() == "ok workqueue"
