"""Building the AnnotationTable from a pandas frame (string and integer ids)."""

from __future__ import annotations

from . import SIZES, _cache_all, _common


class TableBuild:
    """``as_table(df)``: factorize ids and labels, CSR by item, permutation by worker."""

    params = (SIZES, ["str", "int"])
    param_names = ["annotations", "ids"]
    number = 1
    repeat = (1, 5, 120.0)
    rounds = 1
    warmup_time = 0.0
    timeout = 1800.0

    def setup_cache(self) -> None:
        _cache_all(("str", "int"))

    def setup(self, n: int, id_type: str) -> None:
        from crowdagg import as_table

        self.as_table = as_table
        self.df, _ = _common.load_crowd(n, id_type=id_type)
        as_table(_common.load_crowd(2000, id_type=id_type, cache=False)[0])  # compile / load kernels

    def time_from_pandas(self, n: int, id_type: str) -> None:
        self.as_table(self.df)

    def peakmem_from_pandas(self, n: int, id_type: str) -> None:
        self.as_table(self.df)
