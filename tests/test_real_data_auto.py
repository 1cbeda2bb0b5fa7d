"""The two targets of ``method="auto"`` on the shared classification datasets (skipped when
``../shared/datasets`` is absent): at least majority vote - 0.02 on every dataset, and a mean
accuracy at least that of the best single method.  Fast by default on a few small sets;
all 12 with ``--runslow`` (docs/auto.md has the table)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import crowdagg
from crowdagg.auto import DEFAULT_CANDIDATES, _candidate
from crowdagg.datasets import load_dataset

CLASSIFICATION = ["zheng_d_jn_product", "zheng_s5_adultcontent", "zheng_d_duck", "zheng_s4_dog", "mace_rte",
                  "mace_temporal", "mace_wsd", "act_cf", "act_cf_amt", "act_ms_music_genre", "act_sp_amt",
                  "act_sp_sentiment_polarity"]
SMALL = ["zheng_d_duck", "mace_wsd", "mace_temporal", "act_cf"]


def _load(datasets_dir, name):
    path = datasets_dir / name
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    ds = load_dataset(path, as_frame=True, duplicates="first")
    table = crowdagg.as_table(ds.annotations)
    answered = table.items[table.item_counts() > 0]
    return table, ds.gold[ds.gold.index.isin(answered)]


def _accuracy(labels: pd.Series, gold: pd.Series) -> float:
    got = labels.reindex(gold.index)
    return float((got.astype(str) == gold.astype(str)).mean())


def _auto_and_mv(datasets_dir, name):
    table, gold = _load(datasets_dir, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auto = crowdagg.aggregate(table)
    mv = crowdagg.MajorityVote().fit(table)
    return table, gold, _accuracy(auto.labels_, gold), _accuracy(mv.labels_, gold), auto


@pytest.mark.parametrize("name", SMALL)
def test_auto_not_below_majority_vote_small(datasets_dir, name):
    _, _, acc, mv, auto = _auto_and_mv(datasets_dir, name)
    assert acc >= mv - 0.02, (name, auto.method_, acc, mv)


@pytest.mark.slow
def test_auto_targets_on_all_shared_sets(datasets_dir):
    rows = {}
    for name in CLASSIFICATION:
        table, gold, acc, mv, auto = _auto_and_mv(datasets_dir, name)
        single = {}
        for c in DEFAULT_CANDIDATES:
            est = _candidate(c, 0)
            if est is None:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                single[c] = _accuracy(est.fit(table).labels_, gold)
        rows[name] = {"auto": acc, "mv": mv, "method": auto.method_, **single}
        assert acc >= mv - 0.02, (name, auto.method_, acc, mv)
    frame = pd.DataFrame.from_dict(rows, orient="index")
    means = frame.drop(columns=["method"]).mean()
    best = means.drop(["auto", "mv"]).max()
    assert means["auto"] >= best - 1e-9, means.to_dict()
    assert np.isfinite(means.to_numpy()).all()
