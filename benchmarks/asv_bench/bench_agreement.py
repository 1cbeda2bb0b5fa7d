"""Agreement coefficients on a prebuilt AnnotationTable (the table build is in bench_table).

Every function of ``crowdagg.agreement`` named in ``COEFFICIENTS`` is called with
the table (``cohen_kappa`` with the two busiest workers); missing ones are skipped.
"""

from __future__ import annotations

from . import SIZES, _cache_all, _common

COEFFICIENTS = [
    "krippendorff_alpha",
    "fleiss_kappa",
    "gwet_ac",
    "brennan_prediger",
    "conger_kappa",
    "percent_agreement",
    "cohen_kappa",
    "pairwise_cohen_kappa",
    "worker_agreement",
]


class Agreement:
    """One coefficient of the whole crowd (nominal; no bootstrap)."""

    params = (SIZES, COEFFICIENTS)
    param_names = ["annotations", "coefficient"]
    number = 1
    repeat = (1, 3, 300.0)
    rounds = 1
    warmup_time = 0.0
    timeout = 1800.0

    def setup_cache(self) -> None:
        _cache_all()

    def setup(self, n: int, name: str) -> None:
        try:
            import crowdagg.agreement as agreement

            fn = getattr(agreement, name)
        except (ImportError, AttributeError):
            raise NotImplementedError(f"crowdagg.agreement has no {name} yet") from None
        from crowdagg import as_table

        df, _ = _common.load_crowd(n)
        self.table = as_table(df)
        del df
        self.args: tuple = ()
        if name == "cohen_kappa":
            busiest = self.table.workers[self.table.worker_counts().argsort()[::-1][:2]]
            self.args = tuple(busiest)
        self.fn = fn
        small = as_table(_common.load_crowd(2000, cache=False)[0])
        small_args = tuple(small.workers[small.worker_counts().argsort()[::-1][:2]]) if self.args else ()
        fn(small, *small_args)  # compile / load kernels

    def time_coefficient(self, n: int, name: str) -> None:
        self.fn(self.table, *self.args)

    def peakmem_coefficient(self, n: int, name: str) -> None:
        self.fn(self.table, *self.args)
