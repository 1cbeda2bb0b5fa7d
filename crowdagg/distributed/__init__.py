"""Scale-out on Dask: a distributed annotation table, distributed fits and agreement.

Requires the ``dask`` extra (``pip install crowdagg[dask]``).  The local path
(``import crowdagg``, every estimator on local data) never imports this package
nor Dask.

>>> from distributed import Client                       # doctest: +SKIP
>>> import dask.dataframe as dd, crowdagg                 # doctest: +SKIP
>>> from crowdagg.distributed import DaskAnnotationTable, fit
>>> client = Client()                                     # doctest: +SKIP
>>> table = DaskAnnotationTable.read_parquet("annotations/*.parquet")  # doctest: +SKIP
>>> ds = crowdagg.DawidSkene(max_iter=20).fit(table)      # doctest: +SKIP
>>> ds.result_.to_parquet("labels/")                      # doctest: +SKIP
>>> ds.skills_                                            # doctest: +SKIP

See ``docs/distributed.md`` for the dataflow and measured costs.
"""

from __future__ import annotations

from .agreement import agreement_family, fleiss_kappa, krippendorff_alpha, pairwise_cohen_kappa
from .executor import DaskExecutor, fit
from .multilabel import DaskCheckboxTable, DaskMultiLabelResult
from .results import DaskAggregationResult
from .table import DaskAnnotationTable, Piece

__all__ = [
    "DaskAnnotationTable",
    "DaskCheckboxTable",
    "DaskMultiLabelResult",
    "Piece",
    "DaskAggregationResult",
    "DaskExecutor",
    "fit",
    "krippendorff_alpha",
    "fleiss_kappa",
    "agreement_family",
    "pairwise_cohen_kappa",
]
