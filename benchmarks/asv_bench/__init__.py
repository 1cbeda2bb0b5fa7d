"""asv benchmark suite of crowdagg (run from the repository root, see docs/benchmarks.md).

Sizes are annotation counts, 1M and 10M by default; set ``CROWDAGG_ASV_SIZES``
(e.g. ``10k,100k``) for a quick check.  Generated crowds are cached as Parquet in
``$CROWDAGG_BENCH_CACHE`` (default ``<tmp>/crowdagg-bench-cache``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_BENCH = str(Path(__file__).resolve().parents[1])
if _BENCH not in sys.path:
    sys.path.insert(0, _BENCH)

import _common  # noqa: E402

SIZES = _common.parse_sizes(os.environ.get("CROWDAGG_ASV_SIZES", "1M,10M"))


def _cache_all(id_types: tuple[str, ...] = ("str",), workloads: tuple[str, ...] = ("skewed",)) -> None:
    """Generate and cache the crowds of every size (asv ``setup_cache``), one process each."""
    for n in SIZES:
        for id_type in id_types:
            for workload in workloads:
                _common.run_isolated("_common:ensure_crowd",
                                     {"n_annotations": n, "id_type": id_type, "workload": workload},
                                     timeout=3600)
