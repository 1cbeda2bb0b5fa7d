"""crowdagg.active: next_items, its scores against a naive reference, and the budget measurement."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pandas as pd
import pytest

import crowdagg
from crowdagg.active import expected_gain, next_items, posterior_entropy, worker_confusions
from crowdagg.datasets import make_crowd
from crowdagg.errors import CrowdaggError, InputError, NotFittedError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _script():
    spec = importlib.util.spec_from_file_location("make_active_plot",
                                                  os.path.join(ROOT, "scripts", "make_active_plot.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def naive_gain(post: np.ndarray, conf: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Expected error before minus after one answer, by enumerating worker and answer (Bayes rule)."""
    out = []
    for p in post:
        before = 1.0 - p.max()
        after = 0.0
        for w, qw in enumerate(q):
            for lab in range(conf.shape[2]):
                joint = p * conf[w, :, lab]
                pl = joint.sum()
                if pl > 0:
                    after += qw * pl * (1.0 - (joint / pl).max())
        out.append(before - after)
    return np.array(out)


@pytest.fixture(scope="module")
def small():
    crowd = make_crowd(300, 25, 3, per_item=2, random_state=3)
    return crowd, crowdagg.DawidSkene().fit(crowd.annotations)


def test_hand_computed_gain():
    # one worker, two labels, accuracy 0.8; item posterior (0.5, 0.5): after one answer the
    # error is 0.2, before 0.5 -> gain 0.3; a sure item gains nothing
    post = np.array([[0.5, 0.5], [1.0, 0.0], [0.9, 0.1]])
    conf = np.array([[[0.8, 0.2], [0.2, 0.8]]])
    got = naive_gain(post, conf, np.array([1.0]))
    assert got == pytest.approx([0.3, 0.0, 0.0])  # 0.9 vs 0.1*0.8: no single answer overturns it
    from crowdagg.kernels.active import gain_slice

    out = np.zeros(3)
    gain_slice(post, conf, np.array([1.0]), 0, 3, out)
    assert out == pytest.approx([0.3, 0.0, 0.0])


def test_gain_matches_naive(small):
    crowd, ds = small
    got = expected_gain(ds, max_pool=None)
    conf = worker_confusions(ds)
    q = ds.table_.worker_counts() / ds.table_.n_annotations
    want = naive_gain(ds.probas_.to_numpy(), conf, q)
    np.testing.assert_allclose(got.to_numpy(), want, atol=1e-12)
    assert got.index.equals(ds.probas_.index)
    assert (got >= 0).all()


def test_worker_confusions_match_model(small):
    _, ds = small
    conf = worker_confusions(ds)
    np.testing.assert_allclose(conf, ds.params_["confusions"])
    mv = crowdagg.MajorityVote().fit(small[0].annotations)
    c = worker_confusions(mv)
    s = mv.skills_.to_numpy()
    np.testing.assert_allclose(c[:, 0, 0], s)
    np.testing.assert_allclose(c.sum(axis=2), 1.0)


def test_entropy_and_ranking(small):
    _, ds = small
    ent = posterior_entropy(ds)
    p = ds.probas_.to_numpy()
    np.testing.assert_allclose(ent.to_numpy(), -(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0)).sum(1))
    top = next_items(ds, 10)
    assert list(top["rank"]) == list(range(1, 11))
    assert top["item"].tolist() == ent.sort_values(ascending=False, kind="stable").index[:10].tolist() or \
        np.allclose(np.sort(top["score"].to_numpy())[::-1], np.sort(ent.to_numpy())[::-1][:10])
    assert (np.diff(top["score"].to_numpy()) <= 1e-15).all()
    assert top["label"].tolist() == ds.labels_.loc[top["item"]].tolist()
    eg = next_items(ds, 10, "expected_gain", max_pool=None)
    assert (np.diff(eg["score"].to_numpy()) <= 1e-15).all()
    assert set(eg.columns) >= {"item", "score", "entropy", "expected_gain", "n_answers", "label", "confidence"}
    # all items, each once
    everything = next_items(ds, 10**6, "random", random_state=0)
    assert sorted(everything["item"]) == sorted(ds.probas_.index)


def test_exclude_and_n_zero(small):
    _, ds = small
    top = next_items(ds, 5)
    again = next_items(ds, 5, exclude=top["item"].tolist() + ["not-an-item"])
    assert not set(top["item"]) & set(again["item"])
    assert len(next_items(ds, 0)) == 0


def test_relabelling_items_changes_nothing():
    crowd = make_crowd(200, 15, 3, per_item=2, random_state=5)
    df = crowd.annotations
    a = next_items(crowdagg.DawidSkene().fit(df), 200, "expected_gain", max_pool=None)
    ren = df.assign(item="x" + df["item"].astype(str))
    b = next_items(crowdagg.DawidSkene().fit(ren), 200, "expected_gain", max_pool=None)
    sa = a.set_index("item")["score"]
    sb = b.set_index("item")["score"]
    sb.index = sb.index.str[1:]
    np.testing.assert_allclose(sa.sort_index().to_numpy(), sb.sort_index().to_numpy(), atol=1e-9)


def test_monte_carlo_pool_is_close(small):
    _, ds = small
    full = expected_gain(ds, max_pool=None).to_numpy()
    mc = np.mean([expected_gain(ds, max_pool=20, random_state=s).to_numpy() for s in range(30)], axis=0)
    assert np.abs(mc - full).max() < 0.03
    a = expected_gain(ds, max_pool=5, random_state=1)
    b = expected_gain(ds, max_pool=5, random_state=1)
    pd.testing.assert_series_equal(a, b)


def test_every_method_ranks():
    crowd = make_crowd(120, 12, 3, per_item=3, random_state=2)
    for cls in ("MajorityVote", "Wawa", "DawidSkene", "OneCoinDawidSkene", "GLAD", "MACE"):
        m = getattr(crowdagg, cls)().fit(crowd.annotations)
        for s in ("entropy", "expected_gain"):
            out = next_items(m, 7, s)
            assert len(out) == 7 and out["score"].notna().all(), (cls, s)


def test_errors(small):
    _, ds = small
    with pytest.raises(NotFittedError):
        next_items(crowdagg.DawidSkene(), 3)
    with pytest.raises(InputError, match="strategy"):
        next_items(ds, 3, "bogus")
    with pytest.raises(CrowdaggError):
        next_items(ds, -1)
    with pytest.raises(CrowdaggError):
        next_items(ds, 3, "expected_gain", max_pool=0)
    with pytest.raises(InputError, match="fitted"):
        next_items(object(), 3)


def test_budget_beats_random_by_1_5():
    """Two answers per item; a budget of half as many extra answers, placed in 4 rounds."""
    script = _script()
    gains = {"random": [], "entropy": [], "expected_gain": []}
    for seed in range(5):
        crowd = script.make_start(1500, seed=seed)
        base = script.run_campaign(crowd, 0, "random")
        for rep in range(3):
            gains["random"].append(script.run_campaign(crowd, 750, "random", seed=seed * 10 + rep) - base)
        for s in ("entropy", "expected_gain"):
            gains[s].append(script.run_campaign(crowd, 750, s, seed=seed) - base)
    rnd = np.mean(gains["random"])
    assert rnd > 0
    for s in ("entropy", "expected_gain"):
        ratio = np.mean(gains[s]) / rnd
        assert ratio >= 1.5, (s, ratio, {k: np.mean(v) for k, v in gains.items()})


def test_permuting_label_codes_permutes_gain():
    crowd = make_crowd(150, 10, 3, per_item=2, random_state=9)
    df = crowd.annotations
    perm = {0: 2, 1: 0, 2: 1}
    a = expected_gain(crowdagg.DawidSkene().fit(df), max_pool=None)
    b = expected_gain(crowdagg.DawidSkene().fit(df.assign(label=df["label"].map(perm))), max_pool=None)
    np.testing.assert_allclose(a.to_numpy(), b.reindex(a.index).to_numpy(), atol=1e-6)




def test_confidence_is_the_posterior_of_the_label():
    """Ordinal models output the posterior median: ``confidence`` is the posterior of that
    label (item c: label 3, posterior 0.008), not the row maximum (0.49)."""
    df = pd.DataFrame({"item": list("aabbc"), "worker": ["w1", "w2", "w1", "w2", "w1"], "label": [1, 2, 5, 4, 3]})
    m = crowdagg.OrdinalDawidSkene().fit(df)
    out = next_items(m, 3).set_index("item")
    assert out.loc["c", "label"] == 3
    for item, row in out.iterrows():
        assert row["confidence"] == pytest.approx(m.probas_.loc[item, row["label"]], abs=1e-12)
    assert out.loc["c", "confidence"] < m.probas_.loc["c"].max() / 10
