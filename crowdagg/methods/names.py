"""The short method names (the CLI's ``--method`` values, ``crowdagg.aggregate(method=...)``,
``crowdagg.report(method=...)``) and the class each names: one table for every caller.

A plain module (no imports) so that the command line reads it without loading the methods.
"""

from __future__ import annotations

__all__ = ["CATEGORICAL", "BY_KIND", "ALIASES"]

#: categorical answers: short name -> public class name in :mod:`crowdagg`
CATEGORICAL: dict[str, str] = {
    "auto": "AutoAggregator",
    "mv": "MajorityVote",
    "wawa": "Wawa",
    "zbs": "ZeroBasedSkill",
    "ds": "DawidSkene",
    "fastds": "FastDawidSkene",
    "onecoin": "OneCoinDawidSkene",
    "glad": "GLAD",
    "mace": "MACE",
    "bcc": "BCC",
    "ebcc": "EBCC",
    "kos": "KOS",
    "mmsr": "MMSR",
    "goldmv": "GoldMajorityVote",
}

#: other kinds of answers (``--kind``): kind -> (short name -> class name, the default method)
BY_KIND: dict[str, tuple[dict[str, str], str]] = {
    "numeric": ({"mean": "MeanRating", "median": "MedianRating", "biasnoise": "WorkerBiasNoise"}, "biasnoise"),
    "ordinal": ({"ods": "OrdinalDawidSkene"}, "ods"),
    "multilabel": ({"multilabel": "MultiLabel"}, "multilabel"),
}

#: every short name -> class name
ALIASES: dict[str, str] = {**CATEGORICAL, **{k: v for names, _ in BY_KIND.values() for k, v in names.items()}}
