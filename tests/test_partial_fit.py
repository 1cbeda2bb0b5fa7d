"""EMAggregator.partial_fit (incremental batches): one batch is a fit; the online Dawid-Skene
updates against a pure NumPy reference; a 20-batch stream of 100k items agrees with a full fit
and keeps a bounded state; forgetting; errors."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest
from naive_em import mv_posteriors, posterior_pass

import crowdagg
from crowdagg.errors import InputError, MixedIdTypeError, ParameterError, UnknownLabelError
from crowdagg.testing import clone

EM_ESTIMATORS = [
    crowdagg.DawidSkene(max_iter=15, tol=0),
    crowdagg.OneCoinDawidSkene(max_iter=15, tol=0),
    crowdagg.FastDawidSkene(max_iter=15, tol=0),
    crowdagg.Wawa(),
    crowdagg.ZeroBasedSkill(max_iter=15),
    crowdagg.GLAD(max_iter=15, tol=0),
    crowdagg.MACE(n_restarts=2, max_iter=15, tol=0),
]


def _quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **kw)


@pytest.fixture(scope="module")
def small():
    return crowdagg.datasets.make_crowd(400, 30, 3, per_item=4, random_state=5).annotations


@pytest.mark.parametrize("est", EM_ESTIMATORS, ids=lambda e: type(e).__name__)
def test_one_batch_is_a_fit(est, small):
    a = _quiet(clone(est).fit, small)
    b = _quiet(clone(est).partial_fit, small)
    assert b.partial_state_["n_batches"] == 1
    np.testing.assert_allclose(b.probas_.to_numpy(), a.probas_.loc[b.probas_.index].to_numpy(), rtol=0, atol=1e-12)
    assert b.labels_.equals(a.labels_.loc[b.labels_.index])
    for k in a.params_:
        np.testing.assert_allclose(b.params_[k], a.params_[k], rtol=0, atol=1e-12)


@pytest.mark.parametrize("est", EM_ESTIMATORS, ids=lambda e: type(e).__name__)
def test_batches_with_new_workers_and_returning_items(est, small):
    """Every method takes a stream where workers appear late and items come back: every batch's
    items are in its result, parameters cover every worker seen, and probabilities are valid."""
    items = pd.unique(small["item"])
    parts = [small[small["item"].isin(items[:150])],
             small[small["item"].isin(items[100:300])],  # items 100-149 again, other answers
             small[small["item"].isin(items[250:])]]
    parts[1] = parts[1][parts[1]["worker"] != parts[1]["worker"].iloc[0]]
    m = clone(est)
    seen: set = set()
    for p in parts:
        _quiet(m.partial_fit, p, labels=[0, 1, 2])
        seen |= set(p["worker"])
        assert set(m.labels_.index) == set(p["item"])
        assert set(m.table_.workers) == seen
        probs = m.probas_.to_numpy()
        assert np.all(np.isfinite(probs)) and np.allclose(probs.sum(axis=1), 1.0)
        assert m.skills_.index.equals(m.table_.workers)
    assert m.partial_state_["n_batches"] == 3


def test_row_order_of_a_batch_changes_nothing(small):
    parts = [small.iloc[:800], small.iloc[800:]]
    a, b = crowdagg.DawidSkene(max_iter=10, tol=0), crowdagg.DawidSkene(max_iter=10, tol=0)
    for p in parts:
        a.partial_fit(p, labels=[0, 1, 2])
        b.partial_fit(p.sample(frac=1.0, random_state=1), labels=[0, 1, 2])
    np.testing.assert_allclose(a.probas_.to_numpy(), b.probas_.loc[a.probas_.index].to_numpy(), atol=1e-9)


# --------------------------------------------------------------------------- the reference
def _naive_stats(item, worker, label, n_items, n_workers, k, post, gold):
    counts = np.zeros((n_workers, k, k))  # worker x true x observed
    for j in range(item.shape[0]):
        counts[worker[j], :, label[j]] += post[item[j]]
    used = np.zeros(n_items, bool)
    used[item] = True
    used |= gold >= 0
    return counts, post[used].sum(axis=0)


def _naive_mstep(counts, tot, a, c):
    k = tot.shape[0]
    cells = counts + a + c * np.eye(k)[None]
    return cells / cells.sum(axis=2, keepdims=True), (tot + a) / (tot.sum() + k * a)


def naive_online_ds(batches, k, a, c, n_iter, forget):
    """Online Dawid-Skene, written out: per batch, EM whose M-steps read forget * (statistics of
    the earlier batches at their final posteriors) + the batch's; new workers start at 0.7."""
    workers: dict = {}
    conf = np.zeros((0, k, k))
    priors = None
    hist = None
    out = []
    for bi, (df, gold_map) in enumerate(batches):
        for w in df["worker"]:
            workers.setdefault(w, len(workers))
        items = list(pd.unique(df["item"]))
        icode = {v: i for i, v in enumerate(items)}
        item = df["item"].map(icode).to_numpy()
        worker = df["worker"].map(workers).to_numpy()
        label = df["label"].to_numpy()
        n_i, n_w = len(items), len(workers)
        gold = np.array([gold_map.get(v, -1) for v in items])
        default = np.full((k, k), 0.3 / (k - 1))
        np.fill_diagonal(default, 0.7)
        conf = np.concatenate([conf, np.repeat(default[None], n_w - conf.shape[0], axis=0)])
        if hist is not None:
            hist = (forget * np.concatenate([hist[0], np.zeros((n_w - hist[0].shape[0], k, k))]),
                    forget * hist[1])
        def total(s, hist=hist):
            return s if hist is None else (hist[0] + s[0], hist[1] + s[1])

        def loglik(conf):
            return lambda ww, y: np.log(conf[ww, :, y])

        if bi == 0:
            s = _naive_stats(item, worker, label, n_i, n_w, k, mv_posteriors(item, label, n_i, k, gold), gold)
            conf, priors = _naive_mstep(*total(s), a, c)
        post, _ = posterior_pass(item, worker, label, n_i, np.log(priors), loglik(conf), gold)
        for _ in range(n_iter):
            s = _naive_stats(item, worker, label, n_i, n_w, k, post, gold)
            conf, priors = _naive_mstep(*total(s), a, c)
            post, _ = posterior_pass(item, worker, label, n_i, np.log(priors), loglik(conf), gold)
        hist = total(_naive_stats(item, worker, label, n_i, n_w, k, post, gold))
        out.append((pd.DataFrame(post, index=items), pd.Index(list(workers)), conf.copy(), priors.copy()))
    return out


@pytest.mark.parametrize("forget", [1.0, 0.7])
@pytest.mark.parametrize("correct_prior", [0.0, 5.0])
def test_online_dawid_skene_matches_the_reference(forget, correct_prior):
    c = crowdagg.datasets.make_crowd(90, 12, 3, per_item=3, random_state=4).annotations
    items = pd.unique(c["item"])
    batches = [c[c["item"].isin(items[:40])], c[c["item"].isin(items[30:70])], c[c["item"].isin(items[60:])]]
    batches[0] = batches[0][~batches[0]["worker"].isin(["w010", "w011"])]  # workers who join later
    golds = [{}, {items[35]: 2, items[50]: 0}, {}]
    want = naive_online_ds(list(zip(batches, golds)), 3, 0.01, correct_prior, 4, forget)
    est = crowdagg.DawidSkene(max_iter=4, tol=0, smoothing=0.01, correct_prior=correct_prior)
    for b, g, (post, workers, conf, priors) in zip(batches, golds, want):
        est.partial_fit(b, gold=pd.Series(g, dtype=object) if g else None, labels=[0, 1, 2], forget=forget)
        assert est.table_.workers.equals(workers)
        np.testing.assert_allclose(est.probas_.loc[post.index].to_numpy(), post.to_numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(est.params_["confusions"], conf, rtol=0, atol=1e-10)
        np.testing.assert_allclose(est.params_["priors"], priors, rtol=0, atol=1e-10)


# --------------------------------------------------------------------------- the stream
@pytest.fixture(scope="module")
def stream():
    """100k items, 300 workers, 3 labels, 5 answers per item, split at random into 20 batches."""
    c = crowdagg.datasets.make_crowd(n_items=100_000, n_workers=300, n_labels=3, per_item=5, random_state=0)
    df = c.annotations
    items = pd.unique(df["item"])
    batch_of = pd.Series(np.random.default_rng(0).integers(0, 20, len(items)), index=items)
    b = batch_of.loc[df["item"]].to_numpy()
    return df, [df[b == k] for k in range(20)]


def _state_bytes(est):
    st = est.partial_state_
    arrays = [v for v in est.params_.values()] + [st["counts"]]
    nest = [st["stats"]]
    while nest:
        x = nest.pop()
        if isinstance(x, tuple):
            nest.extend(x)
        elif isinstance(x, np.ndarray):
            arrays.append(x)
    return sum(a.nbytes for a in arrays)


def _run_stream(est, stream, tmp_path):
    df, batches = stream
    full = _quiet(clone(est).fit, df)
    m = clone(est)
    labels, sizes, files = [], [], []
    for k, b in enumerate(batches):
        _quiet(m.partial_fit, b, labels=[0, 1, 2])
        labels.append(m.labels_)
        sizes.append(_state_bytes(m))
        path = tmp_path / f"after{k}.crowdagg"
        m.save(path, results=False)
        files.append(os.path.getsize(path))
    per_batch = pd.concat(labels).loc[full.labels_.index]
    final = m.predict(df).loc[full.labels_.index]
    return (float((final == full.labels_).mean()), float((per_batch == full.labels_).mean()), sizes, files)


def test_stream_of_20_batches_dawid_skene(stream, tmp_path):
    final, per_batch, sizes, files = _run_stream(crowdagg.DawidSkene(), stream, tmp_path)
    assert final >= 0.99, final        # the model after 20 batches, on the union
    assert per_batch >= 0.985, per_batch  # each batch's labels when it came in
    assert sizes[19] <= 2 * sizes[1], sizes
    assert files[19] <= 2 * files[1], files


@pytest.mark.slow
@pytest.mark.parametrize("est,final_min,per_batch_min", [
    (crowdagg.OneCoinDawidSkene(), 0.99, 0.99),
    (crowdagg.FastDawidSkene(), 0.985, 0.975),
    (crowdagg.Wawa(), 0.99, 0.99),
    (crowdagg.ZeroBasedSkill(), 0.99, 0.99),
    (crowdagg.MACE(n_restarts=2), 0.99, 0.99),
    (crowdagg.GLAD(max_iter=50), 0.98, 0.99),  # per-item difficulties of old batches are not kept
], ids=lambda v: type(v).__name__ if not isinstance(v, float) else str(v))
def test_stream_of_20_batches_other_methods(est, final_min, per_batch_min, stream, tmp_path):
    final, per_batch, sizes, files = _run_stream(est, stream, tmp_path)
    assert final >= final_min and per_batch >= per_batch_min, (final, per_batch)
    assert sizes[19] <= 2 * sizes[1] and files[19] <= 2 * files[1], (sizes, files)


# --------------------------------------------------------------------------- forgetting, resets, errors
def test_forgetting_follows_a_drifting_worker():
    """A worker who turns adversarial: with forget < 1 the model notices within a few batches."""
    rng = np.random.default_rng(0)
    rows = []
    for b in range(8):
        for i in range(300):
            truth = rng.integers(0, 2)
            for w in range(6):
                good = w != 0 or b < 4
                ans = truth if rng.random() < (0.9 if good else 0.1) else 1 - truth
                rows.append((b, f"{b}-{i}", f"w{w}", int(ans)))
    df = pd.DataFrame(rows, columns=["batch", "item", "worker", "label"])
    skills = {}
    for forget in (1.0, 0.5):
        m = crowdagg.OneCoinDawidSkene()
        for b in range(8):
            m.partial_fit(df[df["batch"] == b].drop(columns="batch"), labels=[0, 1], forget=forget)
        skills[forget] = m.skills_["w0"]
    assert skills[0.5] < 0.2 < 0.45 < skills[1.0]


def test_fit_after_partial_fit_starts_afresh(small):
    m = crowdagg.DawidSkene(max_iter=10, tol=0)
    m.partial_fit(small.iloc[:600]).partial_fit(small.iloc[600:])
    m.fit(small)
    assert not hasattr(m, "partial_state_")
    assert m.probas_.equals(crowdagg.DawidSkene(max_iter=10, tol=0).fit(small).probas_)


def test_partial_fit_after_fit_starts_from_the_fitted_parameters(small):
    a = crowdagg.DawidSkene(max_iter=10, tol=0).fit(small.iloc[:800])
    b = crowdagg.DawidSkene(max_iter=10, tol=0, init=crowdagg.DawidSkene(max_iter=10, tol=0).fit(small.iloc[:800]))
    a.partial_fit(small.iloc[800:])
    b.fit(small.iloc[800:])  # the same: a warm start from the first fit, on the batch
    np.testing.assert_allclose(a.probas_.to_numpy(), b.probas_.loc[a.probas_.index].to_numpy(), atol=1e-12)


def test_errors(small):
    m = crowdagg.DawidSkene(max_iter=5, tol=0)
    for bad in (0.0, 1.5, -1, True, "x", float("nan")):
        with pytest.raises(ParameterError, match="forget"):
            m.partial_fit(small, forget=bad)
    m.partial_fit(small.iloc[:500], labels=[0, 1, 2])
    with pytest.raises(UnknownLabelError):
        m.partial_fit(small.iloc[500:].assign(label=7))
    other = small.iloc[500:].assign(worker=np.arange(len(small) - 500))
    with pytest.raises(MixedIdTypeError, match="worker ids"):
        m.partial_fit(other)

    class Distributed:  # what crowdagg.base.is_distributed_table recognises
        crowdagg_distributed = True

    with pytest.raises(InputError, match="in-memory batches"):
        crowdagg.DawidSkene().partial_fit(Distributed())
