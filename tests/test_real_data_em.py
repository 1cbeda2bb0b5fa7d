"""Dawid-Skene, one-coin, Wawa and ZeroBasedSkill on the real datasets of ../shared/datasets
(skipped when absent).

Criteria (issue 15), at the estimators' defaults:

* at least crowd-kit 1.4.2's same method - 0.005 on every dataset;
* no collapse: at least majority vote - 0.02.

Data as ``benchmarks/accuracy.py`` reads it (``load_dataset(..., duplicates="first")``:
ids as strings, repeated (task, worker) pairs reduced to the first row); accuracy = share
of gold items with answers whose aggregate equals gold.  The crowd-kit figures are those
of docs/accuracy.md (crowd-kit run on the same DataFrames); shortfalls are non-strict
xfails with their reason.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import CROWDKIT_REASON, crowdkit_available

import crowdagg

pytestmark = [pytest.mark.shared]

#: crowd-kit 1.4.2 accuracy on the same data (docs/accuracy.md, 2026-12-01):
#: Wawa(), ZeroBasedSkill(), DawidSkene(n_iter=100), OneCoinDawidSkene(n_iter=100)
CROWDKIT = {
    "act_cf": {"Wawa": 0.8800, "ZeroBasedSkill": 0.8933, "DawidSkene": 0.8300, "OneCoinDawidSkene": 0.8867},
    "act_cf_amt": {"Wawa": 0.8567, "ZeroBasedSkill": 0.8567, "DawidSkene": 0.8400, "OneCoinDawidSkene": 0.8600},
    "act_ms_music_genre": {"Wawa": 0.7957, "ZeroBasedSkill": 0.8000, "DawidSkene": 0.7686,
                           "OneCoinDawidSkene": 0.7929},
    "act_sp_amt": {"Wawa": 0.9440, "ZeroBasedSkill": 0.9460, "DawidSkene": 0.9440, "OneCoinDawidSkene": 0.9460},
    "act_sp_sentiment_polarity": {"Wawa": 0.8948, "ZeroBasedSkill": 0.8946, "DawidSkene": 0.9152,
                                  "OneCoinDawidSkene": 0.9166},
    "mace_rte": {"Wawa": 0.9187, "ZeroBasedSkill": 0.9213, "DawidSkene": 0.9275, "OneCoinDawidSkene": 0.9250},
    "mace_temporal": {"Wawa": 0.9459, "ZeroBasedSkill": 0.9437, "DawidSkene": 0.9416, "OneCoinDawidSkene": 0.9394},
    "mace_wsd": {"Wawa": 0.9944, "ZeroBasedSkill": 0.9944, "DawidSkene": 0.9944, "OneCoinDawidSkene": 0.9944},
    "zheng_d_duck": {"Wawa": 0.7593, "ZeroBasedSkill": 0.7593, "DawidSkene": 0.8889, "OneCoinDawidSkene": 0.5833},
    "zheng_d_jn_product": {"Wawa": 0.8966, "ZeroBasedSkill": 0.8966, "DawidSkene": 0.9397,
                           "OneCoinDawidSkene": 0.9084},
    "zheng_s4_dog": {"Wawa": 0.8290, "ZeroBasedSkill": 0.8302, "DawidSkene": 0.8426, "OneCoinDawidSkene": 0.8302},
    "zheng_s5_adultcontent": {"Wawa": 0.7658, "ZeroBasedSkill": 0.7658, "DawidSkene": 0.7688,
                              "OneCoinDawidSkene": 0.7177},
}
NAMES = sorted(CROWDKIT)
METHODS = ["DawidSkene", "OneCoinDawidSkene", "Wawa", "ZeroBasedSkill"]

#: one-coin models one accuracy per worker: on D_Duck (workers biased towards one class:
#: true 1 -> answer 0 for 44% of answers) and S_Adult the bias can only be explained by the
#: class prior, which runs to 0.97 (duck; crowd-kit's one-coin: 0.583 as well).  The
#: correct-answer prior (0.583 -> 0.713 on duck) does not remove it; full DS does.
COLLAPSES = {("OneCoinDawidSkene", "zheng_d_duck"), ("OneCoinDawidSkene", "zheng_s5_adultcontent")}


_CACHE: dict[Path, tuple[pd.DataFrame, pd.Series]] = {}


def _load(datasets_dir: Path, name: str):
    """(annotations, gold) of a shared dataset, read once per session (never modified)."""
    from crowdagg.datasets import load_dataset

    d = datasets_dir / name
    if not (d / "answers.csv").exists():
        pytest.skip(f"{d} is absent")
    if d not in _CACHE:
        ds = load_dataset(d, as_frame=True, duplicates="first", check_gold=False)
        _CACHE[d] = (ds.annotations, ds.gold)
    return _CACHE[d]


def _acc(labels: pd.Series, gold: pd.Series, idx=None) -> float:
    labels = labels.dropna()
    g = gold[gold.index.isin(labels.index)] if idx is None else gold[idx]
    return float((labels.reindex(g.index).astype(str) == g.astype(str)).mean())


def _fit(method: str, df: pd.DataFrame, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(crowdagg, method)(**kw).fit(df)


def _params(pairs, gaps, reason):
    mark = pytest.mark.xfail(strict=False, reason=reason)
    return [pytest.param(*p, marks=mark) if p in gaps else p for p in pairs]


@pytest.mark.parametrize(("method", "name"), [(m, n) for m in METHODS for n in NAMES])
def test_at_least_crowdkit_minus_0005(datasets_dir, method, name):
    df, gold = _load(datasets_dir, name)
    acc = _acc(_fit(method, df).labels_, gold)
    assert acc >= CROWDKIT[name][method] - 0.005 - 5e-5  # docs values rounded to 4 places


@pytest.mark.parametrize(
    ("method", "name"),
    _params([(m, n) for m in METHODS for n in NAMES], COLLAPSES,
            "one-coin explains a class bias of the workers by the class prior (see COLLAPSES)"),
)
def test_no_collapse_below_majority_vote(datasets_dir, method, name):
    df, gold = _load(datasets_dir, name)
    mv = _acc(crowdagg.MajorityVote().fit(df).labels_, gold)
    assert _acc(_fit(method, df).labels_, gold) >= mv - 0.02


def test_correct_prior_is_what_lifts_sparse_workers(datasets_dir):
    """act_cf (461 workers, ~4 answers each): the plain model collapses (0.830, as crowd-kit),
    the default correct-answer prior does not."""
    df, gold = _load(datasets_dir, "act_cf")
    plain = _acc(_fit("DawidSkene", df, correct_prior=0).labels_, gold)
    default = _acc(_fit("DawidSkene", df).labels_, gold)
    assert plain == pytest.approx(0.8300, abs=1e-4)
    assert default >= 0.8900 - 1e-9


@pytest.mark.slow
@pytest.mark.skipif(not crowdkit_available(), reason=CROWDKIT_REASON)
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("method", ["DawidSkene", "OneCoinDawidSkene"])
def test_same_updates_as_crowdkit_live(datasets_dir, name, method):
    """The plain model (``correct_prior=0``) with crowd-kit's number of updates (its n E-steps
    after its MV init are our ``max_iter = n - 1``) is within one item of crowd-kit."""
    ck = pytest.importorskip("crowdkit.aggregation", reason=CROWDKIT_REASON)

    df, gold = _load(datasets_dir, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = getattr(ck, method)(n_iter=100).fit(df)
    n = len(ref.loss_history_)
    ours = _fit(method, df, max_iter=max(n - 1, 0), tol=0, correct_prior=0)
    n_gold = int(gold.index.isin(df["task"]).sum())
    assert _acc(ours.labels_, gold) >= _acc(ref.labels_, gold) - 1.0 / n_gold - 1e-12


#: with correct_prior=5, revealed gold lowers one-coin's accuracy on the other 90% of these two
#: sets by more than one item (mean of five reveals; not investigated yet).  Full DS, which
#: lost items on D_Product and act_cf with the plain model, no longer does.
GOLD_HURTS = {("OneCoinDawidSkene", "act_sp_sentiment_polarity"), ("OneCoinDawidSkene", "mace_rte")}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "name"),
    _params([(m, n) for m in ("DawidSkene", "OneCoinDawidSkene") for n in NAMES], GOLD_HURTS,
            "revealed gold lowers one-coin accuracy elsewhere on this set (see GOLD_HURTS)"),
)
def test_revealing_gold_does_not_lower_accuracy_elsewhere(datasets_dir, name, method):
    """Mean over five random 10% reveals of the accuracy on the other 90% (one item of slack)."""
    df, gold = _load(datasets_dir, name)
    gold = gold[gold.index.isin(df["task"])]
    base_labels = _fit(method, df, max_iter=500).labels_
    diffs = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        revealed = gold.index[rng.random(len(gold)) < 0.1]
        rest = gold.index.difference(revealed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with_gold = getattr(crowdagg, method)(max_iter=500).fit(df, gold=gold[revealed])
        assert (with_gold.labels_[revealed].astype(str) == gold[revealed].astype(str)).all()
        diffs.append(_acc(with_gold.labels_, gold, rest) - _acc(base_labels, gold, rest))
    assert np.mean(diffs) >= -max(1.0 / (0.9 * len(gold)), 5e-4) - 1e-12
