"""Inputs too large for memory, and numeric labels that float64 cannot tell apart."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import crowdagg
from crowdagg import agreement, memory
from crowdagg.errors import LevelError, ParameterError, TooLargeError

from . import case


@contextmanager
def _limit(n_bytes: Any):
    memory.set_limit(n_bytes)
    try:
        yield
    finally:
        memory.set_limit("default")


def _many_labels(n_labels: int = 60) -> pd.DataFrame:
    items = np.repeat(np.arange(n_labels), 2)
    return pd.DataFrame({"item": items, "worker": np.tile([0, 1], n_labels), "label": items})


def _fit_with_limit(est: Any, n_bytes: Any = 20_000) -> Any:
    with _limit(n_bytes):
        return est.fit(_many_labels())


for _name in ("DawidSkene", "FastDawidSkene", "OneCoinDawidSkene", "GLAD", "MACE", "MajorityVote"):
    case(f"memory-{_name.lower()}-over-limit", TooLargeError,
         call=lambda d, n=_name: _fit_with_limit(getattr(crowdagg, n)()),
         match="more than the limit")

case("memory-ds-labels-squared", TooLargeError,
     call=lambda d: _fit_with_limit(crowdagg.DawidSkene(), 200_000), match="labels\\^2")




def _env_limit_bad(d: Path) -> Any:
    import os

    old = os.environ.get("CROWDAGG_MEMORY_LIMIT")
    os.environ["CROWDAGG_MEMORY_LIMIT"] = "lots"
    try:
        return crowdagg.DawidSkene().fit(_many_labels())
    finally:
        if old is None:
            del os.environ["CROWDAGG_MEMORY_LIMIT"]
        else:
            os.environ["CROWDAGG_MEMORY_LIMIT"] = old


case("memory-env-limit-not-a-size", ParameterError, call=_env_limit_bad, match="CROWDAGG_MEMORY_LIMIT")
case("memory-set-limit-negative", ParameterError, call=lambda d: memory.set_limit(-5), match="non-negative")


def _conger_limit(d: Path) -> Any:
    n = 2000  # many raters, two labels: the raters x labels table is the large part
    df = pd.DataFrame({"item": np.arange(n) // 2, "worker": np.arange(n), "label": np.arange(n) % 3 // 2})
    with _limit(10_000):
        return agreement.conger_kappa(df)


case("memory-conger-raters-x-labels", TooLargeError, call=_conger_limit, match="rater x label")


def _pairwise_labels(d: Path) -> Any:
    with _limit(10_000):
        return agreement.pairwise_cohen_kappa(_many_labels(), min_overlap=1)


case("memory-pairwise-labels-squared", TooLargeError, call=_pairwise_labels, match="labels x labels")


def _big_ints() -> pd.DataFrame:
    lab = np.array([2**63 + 1, 2**63 + 2, 2**63 + 1, 2**63 + 1, 5, 2**63 + 2], dtype=np.uint64)
    return pd.DataFrame({"item": [1, 1, 2, 2, 3, 3], "worker": list("ababab"), "label": lab})


for _level in ("interval", "ratio"):
    case(f"memory-alpha-{_level}-labels-merge-in-float64", LevelError,
         call=lambda d, lv=_level: agreement.krippendorff_alpha(_big_ints(), lv),
         match="equal as float64")
