"""The plug-in example of docs/architecture.md (docs/examples/accuracy_vote.py) stays working:
the estimator contract, agreement with one-coin Dawid-Skene, and distributed equal to local."""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import crowdagg
from crowdagg.testing import check_aggregator

_PATH = Path(__file__).resolve().parents[1] / "docs" / "examples" / "accuracy_vote.py"
_spec = importlib.util.spec_from_file_location("accuracy_vote", _PATH)
example = importlib.util.module_from_spec(_spec)
sys.modules["accuracy_vote"] = example
_spec.loader.exec_module(example)
try:  # Dask workers cannot import the docs folder: send the example's code by value
    import cloudpickle

    cloudpickle.register_pickle_by_value(example)
except ImportError:  # pragma: no cover - dask not installed
    pass


def test_example_passes_the_contract():
    check_aggregator(example.AccuracyVote(max_iter=20))


def test_example_agrees_with_one_coin():
    df = crowdagg.datasets.make_crowd(300, 20, 3, random_state=0).annotations
    ex = example.AccuracyVote(max_iter=30, tol=0).fit(df)
    oc = crowdagg.OneCoinDawidSkene(max_iter=30, tol=0).fit(df)
    assert (ex.labels_ == oc.labels_).mean() > 0.97
    assert np.corrcoef(ex.skills_, oc.skills_)[0, 1] > 0.99


def test_example_on_dask_equals_local():
    pytest.importorskip("distributed", reason="dask is optional (the dask extra); the test extra installs it")
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    from crowdagg.distributed import DaskAnnotationTable

    df = crowdagg.datasets.make_crowd(200, 15, 3, random_state=1).annotations
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                          silence_logs=40) as cluster, Client(cluster):
            dt = DaskAnnotationTable.from_dask_dataframe(dd.from_pandas(df, npartitions=3), npartitions=3)
            dist = example.AccuracyVote(max_iter=10, tol=0).fit(dt)
            probas = dist.result_.compute().probas
            skills = dist.skills_
    local = example.AccuracyVote(max_iter=10, tol=0).fit(df)
    np.testing.assert_allclose(probas.to_numpy(), local.probas_.loc[probas.index].to_numpy(), atol=1e-9)
    np.testing.assert_allclose(skills.loc[local.skills_.index], local.skills_, atol=1e-9)
