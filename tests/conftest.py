"""Shared fixtures: locations of ../shared material (skip when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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

def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow") or os.environ.get("CROWDAGG_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow or CROWDAGG_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
