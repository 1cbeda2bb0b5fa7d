"""crowdagg: consensus labels and annotator reliability from crowd annotations, fast.

Public names are imported lazily so that ``import crowdagg`` stays cheap (no
Numba compilation, no pandas-heavy modules until first use).
"""

from __future__ import annotations

import importlib
import os
from typing import Any

__version__ = "0.1.0"

# OpenMP threads that have finished a parallel region spin for the next one by default
# (libgomp: about 300k spins), burning a core between the E-steps of a fit while Python
# runs the M-step: a 2-thread Dawid-Skene fit at 1M answers took 0.51-0.55 CPU-s with
# spinning and 0.31-0.36 CPU-s passive, in the same wall time (docs/benchmarks.md).
# Passive threads sleep at once; a kernel launch runs for milliseconds, so the wake-up
# (microseconds) does not show.  The OpenMP runtime reads the variable once, when the
# first parallel kernel starts Numba's thread pool, so it is set here, before any kernel
# module is imported; a policy the user has set (even an empty one) is kept.  Child
# processes (Dask workers) inherit it (README, "Performance").
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_LAZY = {
    # table and results
    "AnnotationTable": "crowdagg.table",
    "TableSummary": "crowdagg.table",
    "as_table": "crowdagg.table",
    "AggregationResult": "crowdagg.results",
    # methods
    "MajorityVote": "crowdagg.methods.majority",
    "Wawa": "crowdagg.methods.wawa",
    "ZeroBasedSkill": "crowdagg.methods.wawa",
    "DawidSkene": "crowdagg.methods.dawid_skene",
    "OneCoinDawidSkene": "crowdagg.methods.dawid_skene",
    "FastDawidSkene": "crowdagg.methods.dawid_skene",
    "GLAD": "crowdagg.methods.glad",
    "MACE": "crowdagg.methods.mace",
    "BCC": "crowdagg.methods.bcc",
    "EBCC": "crowdagg.methods.ebcc",
    "KOS": "crowdagg.methods.kos",
    "MMSR": "crowdagg.methods.mmsr",
    "GoldMajorityVote": "crowdagg.methods.gold_majority",
    "MeanRating": "crowdagg.methods.ratings",
    "MedianRating": "crowdagg.methods.ratings",
    "WorkerBiasNoise": "crowdagg.methods.ratings",
    "OrdinalDawidSkene": "crowdagg.methods.ordinal",
    "MultiLabel": "crowdagg.methods.multilabel",
    # one-call entry points
    "aggregate": "crowdagg.auto",
    "AutoAggregator": "crowdagg.auto",
    "report": "crowdagg.reporting",
    "load": "crowdagg.persist",
}
_SUBMODULES = {"errors", "io", "mturk", "agreement", "quality", "datasets", "table", "results", "kernels", "methods", "em",
               "distributed", "testing", "active", "memory", "persist", "auto", "gold", "reporting"}

__all__ = sorted([*_LAZY, *_SUBMODULES, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        mod = importlib.import_module(f"crowdagg.{name}")
        globals()[name] = mod
        return mod
    raise AttributeError(f"module 'crowdagg' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
