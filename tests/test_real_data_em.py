"""EM methods on the real datasets of ../shared/datasets (skipped when absent).

Accuracy = share of gold items with answers whose aggregate equals gold, as in
../shared/datasets/README.md.  Comparisons allow one item (or 0.05%, the larger)
of slack: near-ties flip with the last digits of the parameters.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import CROWDKIT_REASON, crowdkit_available

import crowdagg
from crowdagg.table import AnnotationTable

pytestmark = [pytest.mark.shared]

#: crowd-kit 1.4.2 DawidSkene(n_iter=100) accuracy, from ../shared/datasets/README.md
CROWDKIT_DS = {
    "zheng_d_jn_product": 0.9397, "zheng_s5_adultcontent": 0.7658, "zheng_d_duck": 0.8889,
    "zheng_s4_dog": 0.8426, "mace_rte": 0.9275, "mace_temporal": 0.9416, "mace_wsd": 0.9944,
    "act_cf": 0.8300, "act_cf_amt": 0.8400, "act_ms_music_genre": 0.7686, "act_sp_amt": 0.9440,
    "act_sp_sentiment_polarity": 0.9152,
}
NAMES = sorted(CROWDKIT_DS)

# crowd-kit's DawidSkene stops after 2 iterations on S_Adult (its ELBO decreases there),
# and DS at convergence is less accurate on that dataset (ours and crowd-kit's alike:
# crowd-kit run to 100 iterations without its stopping rule gets 0.7477).
CONVERGED_BELOW_CROWDKIT = {"zheng_s5_adultcontent"}
# Revealing 10% of gold lowers full-DS accuracy on the other 90% of two datasets:
# D_Product (~0.3%; crowd-kit's gold-aware DawidSkene loses exactly the same items, so
# this is the model, not the implementation) and act_cf (~0.9% on 270 items: 461
# workers with ~4 answers each, whose 5x5 confusion matrices overfit).  One-coin holds.
GOLD_HURTS = {("DawidSkene", "zheng_d_jn_product"), ("DawidSkene", "act_cf")}


def _load(datasets_dir: Path, name: str):
    d = datasets_dir / name
    if not (d / "answers.csv").exists():
        pytest.skip(f"{d} is absent")
    df = pd.read_csv(d / "answers.csv", dtype={"task": str, "worker": str})
    gold = pd.read_csv(d / "gold.csv", dtype={"task": str}).set_index("task")["label"]
    gold = gold[gold.index.isin(df["task"].unique())]
    return df, gold


def _acc(labels: pd.Series, gold: pd.Series, idx=None) -> float:
    idx = gold.index if idx is None else idx
    return float((labels.reindex(idx).astype(str) == gold[idx].astype(str)).mean())


def _slack(n: int) -> float:
    return max(1.0 / n, 5e-4) + 1e-12


def _known_gap(values, gaps, reason):
    """``values`` as pytest params, the known gaps marked non-strict xfail with ``reason``."""
    mark = pytest.mark.xfail(strict=False, reason=reason)
    args = [v if isinstance(v, tuple) else (v,) for v in values]
    return [pytest.param(*a, marks=mark) if v in gaps else v for v, a in zip(values, args)]


@pytest.mark.parametrize(
    "name",
    _known_gap(NAMES, CONVERGED_BELOW_CROWDKIT,
               "converged DS is less accurate on S_Adult than crowd-kit's 2-iteration run (known gap)"),
)
def test_converged_accuracy_vs_crowdkit_reference(datasets_dir, name):
    df, gold = _load(datasets_dir, name)
    t = AnnotationTable.from_pandas(df, duplicates="keep")
    acc = _acc(crowdagg.DawidSkene().fit(t).labels_, gold)
    assert acc >= CROWDKIT_DS[name] - _slack(len(gold)) - 5e-5  # table rounded to 4 places


@pytest.mark.parametrize("name", sorted(CONVERGED_BELOW_CROWDKIT))
def test_crowdkit_iteration_count_matches_reference(datasets_dir, name):
    """Where converged DS falls short, crowd-kit's effective iteration count matches it."""
    df, gold = _load(datasets_dir, name)
    t = AnnotationTable.from_pandas(df, duplicates="keep")
    acc = _acc(crowdagg.DawidSkene(max_iter=1, tol=0).fit(t).labels_, gold)
    assert acc >= CROWDKIT_DS[name] - _slack(len(gold))


@pytest.mark.slow
@pytest.mark.skipif(not crowdkit_available(), reason=CROWDKIT_REASON)
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("method", ["DawidSkene", "OneCoinDawidSkene"])
def test_accuracy_at_least_crowdkit_live(datasets_dir, name, method):
    """Live crowd-kit run; ours with the same number of updates (crowd-kit's n E-steps
    after its MV init are our ``max_iter = n - 1``: our pass 0 is its first E-step)."""
    ck = pytest.importorskip("crowdkit.aggregation", reason=CROWDKIT_REASON)

    df, gold = _load(datasets_dir, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = getattr(ck, method)(n_iter=100).fit(df)
    n = len(ref.loss_history_)
    t = AnnotationTable.from_pandas(df, duplicates="keep")
    ours = getattr(crowdagg, method)(max_iter=max(n - 1, 0), tol=0).fit(t)
    assert _acc(ours.labels_, gold) >= _acc(ref.labels_, gold) - _slack(len(gold))
    if method == "OneCoinDawidSkene":  # converged one-coin also holds up
        conv = getattr(crowdagg, method)().fit(t)
        assert _acc(conv.labels_, gold) >= _acc(ref.labels_, gold) - _slack(len(gold))


@pytest.mark.parametrize(
    ("method", "name"),
    _known_gap([(m, n) for m in ("DawidSkene", "OneCoinDawidSkene") for n in NAMES], GOLD_HURTS,
               "revealed gold lowers full-DS accuracy elsewhere on this dataset (known gap, see GOLD_HURTS)"),
)
def test_revealing_gold_does_not_lower_accuracy_elsewhere(datasets_dir, name, method):
    """Mean over five random 10% reveals of the accuracy on the other 90%."""
    df, gold = _load(datasets_dir, name)
    t = AnnotationTable.from_pandas(df, duplicates="keep")
    cls = getattr(crowdagg, method)
    base_labels = cls(max_iter=500).fit(t).labels_
    diffs = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        revealed = gold.index[rng.random(len(gold)) < 0.1]
        rest = gold.index.difference(revealed)
        with_gold = cls(max_iter=500).fit(t, gold=gold[revealed])
        assert (with_gold.labels_[revealed].astype(str) == gold[revealed].astype(str)).all()
        diffs.append(_acc(with_gold.labels_, gold, rest) - _acc(base_labels, gold, rest))
    assert np.mean(diffs) >= -_slack(int(0.9 * len(gold)))
