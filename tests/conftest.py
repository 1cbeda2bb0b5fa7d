"""Shared fixtures: locations of ../shared material (skip when absent); shared test helpers
(the estimator-contract checks as params, small random annotation tables)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CROWDAGG_SHARED", ROOT.parent / "shared"))


def _need(path: Path) -> Path:
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return _need(SHARED)


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    return _need(SHARED / "datasets")


@pytest.fixture(scope="session")
def agreement_cases_dir() -> Path:
    return _need(SHARED / "agreement_cases")


#: why crowd-kit tests may skip: it is no extra of ours (it pins old dependencies)
CROWDKIT_REASON = "crowd-kit is a benchmark competitor, installed by benchmarks/install_competitors.sh"


def crowdkit_available() -> bool:
    try:
        import crowdkit.aggregation  # noqa: F401
    except Exception:
        return False
    return True



def contract_checks(dask: bool = True) -> list:
    """``crowdagg.testing``'s estimator-contract checks as ``pytest.param``s for
    ``parametrize("check", ...)``, named after the check; the Dask == local check marked
    slow, or left out with ``dask=False`` (an estimator that needs its own Dask test)."""
    from crowdagg.testing import _CHECKS

    dist = "check_distributed_equals_local"
    return [pytest.param(c, id=c.__name__, marks=pytest.mark.slow if c.__name__ == dist else ())
            for c in _CHECKS if dask or c.__name__ != dist]


#: Numba's JIT is off (coverage runs): property tests draw fewer examples
NOJIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"


def fit_quiet(est, data, **kw):
    """``est.fit(data, **kw)`` with warnings silenced (convergence warnings of short runs)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(data, **kw)

@st.composite
def annotation_tables(draw, max_items=10, max_workers=5, max_labels=4, min_labels=1):
    """Hypothesis strategy: ``(table, gold codes)``, a small table of random answers (each
    item x worker pair answered or not, at least one answer) and a gold code per item
    (``-1``: none)."""
    from crowdagg.table import AnnotationTable

    n_items = draw(st.integers(1, max_items))
    n_workers = draw(st.integers(1, max_workers))
    k = draw(st.integers(min_labels, max_labels))
    mask = np.array(draw(st.lists(st.booleans(), min_size=n_items * n_workers, max_size=n_items * n_workers)))
    mask = mask.reshape(n_items, n_workers)
    if not mask.any():
        mask[0, 0] = True
    ii, ww = np.nonzero(mask)
    labs = np.array(draw(st.lists(st.integers(0, k - 1), min_size=ii.size, max_size=ii.size)))
    gold = np.array(draw(st.lists(st.integers(-1, k - 1), min_size=n_items, max_size=n_items)), dtype=np.int64)
    t = AnnotationTable.from_codes(ii, ww, labs, items=n_items, workers=n_workers, labels=k)
    return t, gold


def table_arrays(t):
    """``(item codes, worker codes, label codes)`` of a table as int64 arrays (for the naive references)."""
    return (np.asarray(t.item_codes, np.int64), np.asarray(t.worker_codes, np.int64),
            np.asarray(t.label_codes, np.int64))


def gold_series(t, gold):
    """Gold codes (``-1``: none) as the ``gold=`` Series of ``fit``, by item id."""
    g = pd.Series(gold, index=t.items)
    return g[g >= 0]

def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow") or os.environ.get("CROWDAGG_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow or CROWDAGG_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
