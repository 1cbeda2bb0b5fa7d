"""Every aggregation method end to end from a pandas frame (table build + fit).

Settings as in ``benchmarks/_common.METHODS``: 50 iterations and ``tol=0`` for
iterative methods, one restart for MACE.  A method crowdagg does not have yet is
skipped (``NotImplementedError`` in ``setup``).  Dawid-Skene and MACE also run on
both id types and both workloads (``EMGrid``): crowd-kit's speed moves with them,
ours should not.
"""

from __future__ import annotations

from . import SIZES, _cache_all, _common


class _FitBench:
    method = "mv"
    params = (SIZES,)
    param_names = ["annotations"]
    number = 1
    repeat = (1, 3, 300.0)
    rounds = 1
    warmup_time = 0.0
    timeout = 1800.0

    def setup_cache(self) -> None:
        _cache_all()

    def setup(self, n: int) -> None:
        factory, _ = _common.METHODS[self.method].ours_factory()
        if factory is None:
            raise NotImplementedError(f"crowdagg has no {_common.METHODS[self.method].ours} yet")
        self.factory = factory
        self.df, _ = _common.load_crowd(n)
        factory().fit(_common.load_crowd(2000, cache=False)[0])  # compile / load kernels

    def time_fit(self, n: int) -> None:
        self.factory().fit(self.df)

    def peakmem_fit(self, n: int) -> None:
        self.factory().fit(self.df)


class MajorityVote(_FitBench):
    method = "mv"


class DawidSkene(_FitBench):
    method = "ds"


class OneCoinDawidSkene(_FitBench):
    method = "onecoin"


class Wawa(_FitBench):
    method = "wawa"


class ZeroBasedSkill(_FitBench):
    method = "zbs"


class GLAD(_FitBench):
    method = "glad"


class MACE(_FitBench):
    method = "mace"


class EMGrid:
    """Dawid-Skene and MACE end to end on string / integer ids, skewed / uniform workloads."""

    params = (SIZES, ["ds", "mace"], ["str", "int"], ["skewed", "uniform"])
    param_names = ["annotations", "method", "ids", "workload"]
    number = 1
    repeat = (1, 3, 300.0)
    rounds = 1
    warmup_time = 0.0
    timeout = 1800.0

    def setup_cache(self) -> None:
        _cache_all(("str", "int"), ("skewed", "uniform"))

    def setup(self, n: int, method: str, id_type: str, workload: str) -> None:
        factory, _ = _common.METHODS[method].ours_factory()
        if factory is None:
            raise NotImplementedError(f"crowdagg has no {_common.METHODS[method].ours} yet")
        self.factory = factory
        self.df, _ = _common.load_crowd(n, id_type=id_type, workload=workload)
        factory().fit(_common.load_crowd(2000, id_type=id_type, cache=False)[0])  # compile / load kernels

    def time_fit(self, n: int, method: str, id_type: str, workload: str) -> None:
        self.factory().fit(self.df)
