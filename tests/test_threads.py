"""Fits on different data in concurrent threads give exactly the serial answers, under the
active Numba threading layer and under ``workqueue`` (not thread-safe: crowdagg serialises its
parallel kernels there, see crowdagg.kernels._util.parallel_guard)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import crowdagg
from crowdagg.kernels import _util
from crowdagg.testing import clone

ESTIMATORS = [
    crowdagg.MajorityVote(),
    crowdagg.Wawa(),
    crowdagg.DawidSkene(max_iter=15, tol=0),
    crowdagg.OneCoinDawidSkene(max_iter=15, tol=0),
    crowdagg.GLAD(max_iter=8, tol=0),
    crowdagg.MACE(n_restarts=2, max_iter=10, tol=0),
]


@pytest.fixture(scope="module")
def crowds():
    # 100k annotations each: enough for several chunks, so the parallel kernels run
    return [crowdagg.datasets.make_crowd(20_000, 60, 3, per_item=5, random_state=s).annotations for s in range(4)]


def _fit(est, df):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return clone(est).fit(df)


def _answer(m):
    return m.probas_.to_numpy(), {k: v.copy() for k, v in getattr(m, "params_", {}).items()}


def _same(a, b):
    return np.array_equal(a[0], b[0]) and a[1].keys() == b[1].keys() and all(
        np.array_equal(a[1][k], b[1][k]) for k in a[1])


def test_the_crowds_use_the_parallel_kernels(crowds):
    table = crowdagg.as_table(crowds[0])
    assert crowdagg.em.EMContext(table=table, gold=None).chunks().shape[0] > 2


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_concurrent_fits_equal_serial_fits(est, crowds):
    serial = [_answer(_fit(est, df)) for df in crowds]
    jobs = crowds * 2  # two fits of every crowd at once
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda df: _answer(_fit(est, df)), jobs))
    for i, g in enumerate(got):
        assert _same(g, serial[i % len(crowds)]), f"{type(est).__name__}: thread {i} differs"


def test_one_estimator_per_thread_partial_fit_predict_save(crowds, tmp_path):
    """partial_fit, predict and save/load in threads, each on its own estimator."""
    def job(i):
        df = crowds[i % len(crowds)]
        m = crowdagg.DawidSkene(max_iter=10, tol=0)
        m.partial_fit(df.iloc[: len(df) // 2], labels=[0, 1, 2]).partial_fit(df.iloc[len(df) // 2:])
        path = tmp_path / f"m{i}.crowdagg"
        m.save(path)
        back = crowdagg.load(path)
        return m.predict_proba(df).to_numpy(), back.predict_proba(df).to_numpy()

    serial = [job(i) for i in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(job, range(8)))
    for i, (a, b) in enumerate(got):
        assert np.array_equal(a, serial[i % 4][0]) and np.array_equal(b, serial[i % 4][1])


def test_guard_is_a_lock_unless_the_layer_is_threadsafe(monkeypatch):
    monkeypatch.setattr(_util, "_LAYER_SAFE", [False])
    assert _util.parallel_guard() is _util._PARALLEL_LOCK
    monkeypatch.setattr(_util, "_LAYER_SAFE", [True])
    assert isinstance(_util.parallel_guard(), contextlib.nullcontext)
    monkeypatch.setattr(_util, "_LAYER_SAFE", [])
    import numba

    def unknown():
        raise ValueError("Threading layer is not initialized.")

    monkeypatch.setattr(numba, "threading_layer", unknown)
    assert _util.parallel_guard() is _util._PARALLEL_LOCK  # not known yet: the safe side
    assert _util._LAYER_SAFE == []


_WORKQUEUE_SCRIPT = textwrap.dedent("""
    import warnings
    from concurrent.futures import ThreadPoolExecutor
    import numpy as np
    import numba
    import crowdagg
    warnings.simplefilter("ignore")
    crowds = [crowdagg.datasets.make_crowd(20_000, 60, 3, per_item=5, random_state=s).annotations
              for s in range(3)]
    def fit(df):
        ds = crowdagg.DawidSkene(max_iter=10, tol=0).fit(df)
        mv = crowdagg.MajorityVote().fit(df)
        gl = crowdagg.GLAD(max_iter=5, tol=0).fit(df)
        return ds.probas_.to_numpy(), mv.probas_.to_numpy(), gl.probas_.to_numpy()
    serial = [fit(df) for df in crowds]
    assert numba.threading_layer() == "workqueue", numba.threading_layer()
    with ThreadPoolExecutor(max_workers=3) as pool:
        got = list(pool.map(fit, crowds * 2))
    for i, g in enumerate(got):
        assert all(np.array_equal(x, y) for x, y in zip(g, serial[i % 3])), i
    print("ok", numba.threading_layer())
""")


def test_concurrent_fits_under_the_workqueue_layer():
    env = {**os.environ, "NUMBA_THREADING_LAYER": "workqueue"}
    run = subprocess.run([sys.executable, "-c", _WORKQUEUE_SCRIPT], capture_output=True, text=True, env=env,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "ok workqueue"
