"""Agreement coefficients: kernels vs naive references, hand-computed cases, properties, errors."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crowdagg.agreement as A
from crowdagg.errors import AgreementUndefinedError, InputError, LevelError
from crowdagg.table import AnnotationTable
from tests import naive_agreement as N

NOJIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"
LEVELS = ("nominal", "ordinal", "interval", "ratio")


def random_crowd(seed, n_items=40, n_workers=7, q=4, p_missing=0.35, min_per_item=1, values=None):
    """Random sparse annotations (each worker rates an item with prob 1 - p_missing)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_items):
        truth = rng.integers(q)
        who = np.flatnonzero(rng.random(n_workers) > p_missing)
        if who.size < min_per_item:
            who = rng.choice(n_workers, min_per_item, replace=False)
        for w in who:
            lab = truth if rng.random() < 0.6 else rng.integers(q)
            rows.append((f"i{i}", f"w{w}", int(lab) if values is None else values[int(lab)]))
    return pd.DataFrame(rows, columns=["item", "worker", "label"])


def triples(table: AnnotationTable):
    return list(zip(table.item_codes.tolist(), table.worker_codes.tolist(), table.label_codes.tolist()))


# --------------------------------------------------------------------------- vs naive
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("level", LEVELS)
def test_alpha_matches_naive(seed, level):
    vals = [1.0, 2.0, 4.5, 7.0]
    df = random_crowd(seed, values=vals)
    t = AnnotationTable.from_pandas(df)
    got = A.krippendorff_alpha(t, level)
    want = N.alpha(triples(t), t.n_labels, level, t.labels.to_numpy(float))
    assert got.value == pytest.approx(want, abs=1e-10)
    assert got.se > 0 and got.ci[0] < got.value <= got.ci[1]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("kind,fn", [("fleiss", A.fleiss_kappa), ("gwet", A.gwet_ac),
                                     ("bp", A.brennan_prediger), ("pa", A.percent_agreement)])
@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_family_matches_naive(seed, kind, fn, weights):
    t = AnnotationTable.from_pandas(random_crowd(seed))
    q = t.n_labels
    w, _ = A._weights_matrix(weights, q)
    got = fn(t, weights=weights)
    value, se, pa, pe = N.family(triples(t), q, kind, w)
    assert got.value == pytest.approx(value, abs=1e-10)
    assert got.se == pytest.approx(se, abs=1e-10)
    assert got.pa == pytest.approx(pa, abs=1e-12)
    assert got.pe == pytest.approx(pe, abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("weights", [None, "quadratic"])
def test_conger_matches_naive(seed, weights):
    t = AnnotationTable.from_pandas(random_crowd(seed))
    w, _ = A._weights_matrix(weights, t.n_labels)
    got = A.conger_kappa(t, weights=weights)
    value, se, pa, pe = N.conger(triples(t), t.n_labels, w)
    assert got.value == pytest.approx(value, abs=1e-10)
    assert got.se == pytest.approx(se, abs=1e-10)
    assert got.pe == pytest.approx(pe, abs=1e-12)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_pairwise_matches_naive(weights):
    t = AnnotationTable.from_pandas(random_crowd(5, n_items=60, n_workers=6))
    w, _ = A._weights_matrix(weights, t.n_labels)
    got = A.pairwise_cohen_kappa(t, min_overlap=3, weights=weights)
    want = N.pairwise(triples(t), t.n_labels, w, 3)
    codes = {x: k for k, x in enumerate(t.workers)}
    assert len(got) == len(want) > 0
    for row in got.itertuples():
        n, kappa = want[frozenset((codes[row.worker_a], codes[row.worker_b]))]
        assert row.n_items == n
        if kappa is None:
            assert row.kappa is pd.NA
        else:
            assert row.kappa == pytest.approx(kappa, abs=1e-10)
        # and the same as the single-pair function
        single = A.cohen_kappa(t, row.worker_a, row.worker_b, weights=weights)
        assert single.value == pytest.approx(row.kappa, abs=1e-10)
        assert single.n_items == row.n_items


def test_worker_agreement_matches_naive():
    t = AnnotationTable.from_pandas(random_crowd(8, n_items=50))
    got = A.worker_agreement(t)
    want = N.worker_rest(triples(t), t.n_labels)
    for code, wid in enumerate(t.workers):
        n, po, pe = want[code]
        assert got.loc[wid, "n_items"] == n
        assert got.loc[wid, "agreement"] == pytest.approx(po, abs=1e-12)
        assert got.loc[wid, "chance"] == pytest.approx(pe, abs=1e-12)
        assert got.loc[wid, "kappa"] == pytest.approx((po - pe) / (1 - pe), abs=1e-10)


def test_worker_agreement_never_compares_a_worker_with_themselves():
    # regression: with duplicates="keep" a worker's two ratings of an item were paired
    df = pd.DataFrame({"item": [1, 1, 1, 2, 2], "worker": list("aabab"), "label": list("xyxyy")})
    res = A.worker_agreement(df, duplicates="keep")
    assert res.loc["a", "agreement"] == pytest.approx(2 / 3)  # x~x, y~x, y~y on items 1, 1, 2
    assert res.loc["a", "n_items"] == 3 and res.loc["b", "n_items"] == 2
    assert res.loc["b", "agreement"] == pytest.approx(0.75)  # item 1: x vs {x, y}; item 2: y vs y
    # an item rated only by one worker, twice, gives that worker no pair at all
    solo = pd.DataFrame({"item": [1, 1, 2, 2], "worker": list("aabc"), "label": list("xyxx")})
    r = A.worker_agreement(solo, duplicates="keep")
    assert r.loc["a", "n_items"] == 0 and pd.isna(r.loc["a", "agreement"])
    # random data with repeats, against the reference
    rng = np.random.default_rng(3)
    base = random_crowd(5, n_items=40)
    rep = base.sample(40, random_state=1).assign(label=rng.integers(0, 4, 40))
    t = AnnotationTable.from_pandas(pd.concat([base, rep]), duplicates="keep")
    got = A.worker_agreement(t)
    want = N.worker_rest(triples(t), t.n_labels)
    for code, wid in enumerate(t.workers):
        n, po, pe = want[code]
        assert got.loc[wid, "n_items"] == n
        assert got.loc[wid, "agreement"] == pytest.approx(po, abs=1e-12)
        assert got.loc[wid, "chance"] == pytest.approx(pe, abs=1e-12)


def test_worker_agreement_flags_spammer():
    rng = np.random.default_rng(0)
    rows = []
    for i in range(200):
        truth = int(rng.integers(3))
        for w in range(4):
            rows.append((i, f"good{w}", truth if rng.random() < 0.9 else int(rng.integers(3))))
        rows.append((i, "spam", int(rng.integers(3))))
    res = A.worker_agreement(pd.DataFrame(rows, columns=["item", "worker", "label"]))
    assert res["kappa"].idxmin() == "spam"
    assert res.loc["spam", "kappa"] < 0.15 < res.drop("spam")["kappa"].min()


# --------------------------------------------------------------------------- hand-computed
def test_hand_computed_cohen_and_fleiss():
    # two raters, 4 items: agree on 3 (a, a, b), disagree on one (a vs b)
    df = pd.DataFrame({"item": [1, 1, 2, 2, 3, 3, 4, 4], "worker": ["x", "y"] * 4,
                       "label": ["a", "a", "a", "a", "b", "b", "a", "b"]})
    # po = 3/4; x: a 3/4, b 1/4; y: a 2/4, b 2/4; pe = 3/8 + 1/8 = 1/2; kappa = 0.5
    r = A.cohen_kappa(df, "x", "y")
    assert r.value == pytest.approx(0.5) and float(r) == pytest.approx(0.5)
    assert (r.pa, r.pe, r.n_items, r.n_annotations) == (0.75, 0.5, 4, 8)
    # Fleiss: pa = 3/4; pi_a = 5/8, pi_b = 3/8; pe = 34/64; kappa = (48 - 34) / 30 = 7/15
    assert A.fleiss_kappa(df).value == pytest.approx(7 / 15)
    # alpha nominal: n = 8, do = 2 (one disagreeing unit, 2 ordered pairs / (2-1)),
    # de = 8^2 - (5^2 + 3^2) = 30; alpha = 1 - 7 * 2 / 30 = 8/15
    assert A.krippendorff_alpha(df).value == pytest.approx(8 / 15)


def test_perfect_agreement():
    df = pd.DataFrame({"item": [1, 1, 2, 2, 3, 3], "worker": list("ababab"), "label": [0, 0, 1, 1, 2, 2]})
    for f in (A.fleiss_kappa, A.gwet_ac, A.brennan_prediger, A.conger_kappa, A.krippendorff_alpha):
        assert f(df).value == pytest.approx(1.0)
    assert A.cohen_kappa(df, "a", "b", weights="quadratic").value == pytest.approx(1.0)


def test_fleiss_constant_m_is_textbook_formula():
    df = random_crowd(3, n_workers=5, p_missing=0.0)
    t = AnnotationTable.from_pandas(df)
    a = N.agree_matrix(triples(t), t.n_labels)
    m = a.sum(axis=1)[0]
    p_i = ((a * a).sum(axis=1) - m) / (m * (m - 1))
    p_j = a.sum(axis=0) / a.sum()
    want = (p_i.mean() - (p_j**2).sum()) / (1 - (p_j**2).sum())
    assert A.fleiss_kappa(t).value == pytest.approx(want, abs=1e-12)


def test_fleiss_varying_m_generalisation():
    # items with 2 and 3 ratings: pa averages per-item agreement, pi averages per-item shares
    df = pd.DataFrame({"item": [1, 1, 2, 2, 2, 3, 3, 3], "worker": list("abcabcab"),
                       "label": [0, 0, 0, 1, 1, 1, 1, 0]})
    # item 1: pa 1, shares (1, 0); item 2: pa 1/3, shares (1/3, 2/3); item 3: pa 1/3, shares (1/3, 2/3)
    pa = (1 + 1 / 3 + 1 / 3) / 3
    pi0 = (1 + 1 / 3 + 1 / 3) / 3
    pe = pi0**2 + (1 - pi0) ** 2
    r = A.fleiss_kappa(df)
    assert r.value == pytest.approx((pa - pe) / (1 - pe), abs=1e-12)
    assert r.pa == pytest.approx(pa) and r.pe == pytest.approx(pe)


def test_duplicates_keep_counts_as_separate_ratings():
    df = pd.DataFrame({"item": [1, 1, 1, 2, 2], "worker": ["a", "a", "b", "a", "b"], "label": [0, 0, 1, 1, 1]})
    t = AnnotationTable.from_pandas(df, duplicates="keep")
    want = N.alpha(triples(t), 2)
    assert A.krippendorff_alpha(t).value == pytest.approx(want)
    # Cohen: item 1 gives two observations (0, 1) and (0, 1); item 2 gives (1, 1)
    r = A.cohen_kappa(t, "a", "b")
    assert (r.n_items, r.n_annotations) == (2, 6)
    assert r.value == pytest.approx(N.cohen([(0, 1), (0, 1), (1, 1)], np.eye(2)))


# --------------------------------------------------------------------------- comparisons
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("level", LEVELS)
def test_alpha_vs_krippendorff_package(seed, level):
    import krippendorff as kd  # the test extra installs it: a cross-check that must run
    df = random_crowd(seed + 10, n_items=30, values=[0.5, 1.0, 3.0, 10.0])
    t = AnnotationTable.from_pandas(df)
    dense = df.pivot(index="worker", columns="item", values="label").to_numpy(dtype=float)
    want = kd.alpha(reliability_data=dense, level_of_measurement=level)
    assert A.krippendorff_alpha(t, level).value == pytest.approx(want, abs=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_fleiss_vs_statsmodels(seed):
    import statsmodels.stats.inter_rater as irr  # test extra
    df = random_crowd(seed, n_workers=6, p_missing=0.0)
    t = AnnotationTable.from_pandas(df)
    table = N.agree_matrix(triples(t), t.n_labels)
    assert A.fleiss_kappa(t).value == pytest.approx(irr.fleiss_kappa(table), abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_vs_sklearn(seed, weights):
    import sklearn.metrics as metrics  # test extra
    df = random_crowd(seed, n_workers=2, p_missing=0.3)
    t = AnnotationTable.from_pandas(df)
    wide = df.pivot(index="item", columns="worker", values="label").dropna()
    want = metrics.cohen_kappa_score(wide["w0"], wide["w1"], weights=weights, labels=list(t.labels))
    got = A.cohen_kappa(t, "w0", "w1", weights=weights)
    assert got.value == pytest.approx(want, abs=1e-12)
    assert got.n_items == len(wide)


# --------------------------------------------------------------------------- properties
@st.composite
def crowds(draw):
    n_items = draw(st.integers(3, 12))
    n_workers = draw(st.integers(2, 5))
    q = draw(st.integers(2, 4))
    rows = []
    for i in range(n_items):
        who = draw(st.lists(st.integers(0, n_workers - 1), min_size=2, max_size=n_workers, unique=True))
        for w in who:
            rows.append((i, w, draw(st.integers(0, q - 1))))
    return pd.DataFrame(rows, columns=["item", "worker", "label"])


def _coefs(df, labels=None):
    kw = {} if labels is None else {"labels": labels}
    out = {}
    for name, f in [("alpha", A.krippendorff_alpha), ("fleiss", A.fleiss_kappa), ("gwet", A.gwet_ac),
                    ("bp", A.brennan_prediger), ("conger", A.conger_kappa)]:
        try:
            out[name] = f(df, **kw).value
        except AgreementUndefinedError:
            out[name] = None
    return out


def _close(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert (a[k] is None) == (b[k] is None), k
        if a[k] is not None:
            assert a[k] == pytest.approx(b[k], abs=1e-9), k


@settings(max_examples=15 if not NOJIT else 4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(crowds(), st.randoms(use_true_random=False))
def test_relabelling_items_and_workers_changes_nothing(df, rnd):
    items = df["item"].unique().tolist()
    workers = df["worker"].unique().tolist()
    im = dict(zip(items, rnd.sample(items, len(items))))
    wm = dict(zip(workers, [f"x{v}" for v in rnd.sample(workers, len(workers))]))
    df2 = df.assign(item=df["item"].map(im), worker=df["worker"].map(wm)).sample(frac=1, random_state=1)
    _close(_coefs(df), _coefs(df2))


@settings(max_examples=15 if not NOJIT else 4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(crowds(), st.permutations(range(4)))
def test_permuting_label_codes_leaves_nominal_coefficients(df, perm):
    labels = list(range(4))
    permuted = [labels[p] for p in perm]
    _close(_coefs(df, labels), _coefs(df, permuted))


@settings(max_examples=20 if not NOJIT else 4, deadline=None)
@given(crowds(), st.permutations(range(4)))
def test_ordinal_follows_label_order(df, perm):
    # ordinal alpha on label order `perm` == ordinal alpha on the data recoded to ranks
    rank = {lab: r for r, lab in enumerate(perm)}
    recoded = df.assign(label=df["label"].map(rank))
    try:
        a = A.krippendorff_alpha(df, "ordinal", labels=list(perm)).value
    except AgreementUndefinedError:
        return
    assert a == pytest.approx(A.krippendorff_alpha(recoded, "ordinal", labels=[0, 1, 2, 3]).value, abs=1e-9)


# --------------------------------------------------------------------------- bootstrap
@pytest.mark.parametrize("fn", [A.krippendorff_alpha, A.fleiss_kappa, A.gwet_ac])
def test_bootstrap_deterministic_and_sensible(fn):
    df = random_crowd(1, n_items=80)
    r1 = fn(df, n_boot=200, random_state=7)
    r2 = fn(df, n_boot=200, random_state=7)
    r3 = fn(df, n_boot=200, random_state=8)
    assert (r1.ci, r1.se) == (r2.ci, r2.se)
    assert r1.ci != r3.ci
    assert r1.ci[0] < r1.value < r1.ci[1]
    assert r1.details["ci_method"] == "bootstrap percentile" and r1.details["n_boot"] == 200
    # bootstrap SE near the analytic one
    assert r1.se == pytest.approx(r1.details["se_analytic"], rel=0.35)


def test_bootstrap_alpha_ordinal_and_cohen():
    df = random_crowd(2, n_items=80)
    r = A.krippendorff_alpha(df, "ordinal", n_boot=100, random_state=0)
    assert r.ci[0] < r.value < r.ci[1]
    c = A.cohen_kappa(random_crowd(2, n_items=120, n_workers=2, p_missing=0.1), "w0", "w1",
                      n_boot=300, random_state=0)
    assert c.ci[0] < c.value < c.ci[1]
    assert c.se == pytest.approx(c.details["se_analytic"], rel=0.3)


def test_bootstrap_alpha_replicate_matches_python():
    # replicate b draws from its MRG32k3a stream started at seeds[b]: recompute it by hand
    df = random_crowd(4, n_items=25)
    t = AnnotationTable.from_pandas(df)
    pm = np.flatnonzero(np.diff(t.item_ptr) >= 2)
    from crowdagg.kernels import agreement as K

    reps = np.empty(3)
    nd, lab, cnt = K.item_label_counts(t.item_ptr, t.label_codes, t.n_labels)
    r_item, do_item = np.empty(t.n_items), np.empty(t.n_items)
    marg = np.bincount(t.label_codes[np.repeat(np.diff(t.item_ptr) >= 2, np.diff(t.item_ptr))],
                       minlength=t.n_labels).astype(float)
    cum = np.concatenate([[0.0], np.cumsum(marg)])
    vals = np.arange(t.n_labels, dtype=float)
    K.alpha_item_slice(t.item_ptr, nd, lab, cnt, 0, vals, cum, marg, 0, t.n_items, r_item, do_item)
    seeds = K.boot_seeds(np.random.default_rng(12345), 3)
    K.alpha_boot_slice(t.item_ptr, nd, lab, cnt, pm, r_item, do_item, 0, vals, seeds, 0, 3, reps)
    for b in range(3):
        st = [int(v) for v in seeds[b]]
        drawn = []
        for _ in range(len(pm)):  # MRG32k3a in plain Python ints
            p1 = (1403580 * st[1] - 810728 * st[0]) % 4294967087
            p2 = (527612 * st[5] - 1370589 * st[3]) % 4294944443
            st = [st[1], st[2], p1, st[4], st[5], p2]
            drawn.append(pm[((p1 - p2) % 4294967087) * len(pm) // 4294967087])
        trip = []
        for u, i in enumerate(drawn):
            for j in range(t.item_ptr[i], t.item_ptr[i + 1]):
                trip.append((u, 0, int(t.label_codes[j])))
        if NOJIT:  # numba's and NumPy's generators differ; only the pure-Python path is comparable
            assert reps[b] == pytest.approx(N.alpha(trip, t.n_labels), abs=1e-10)
    assert np.all(np.isfinite(reps))


# --------------------------------------------------------------------------- errors
def test_errors():
    single = pd.DataFrame({"item": [1, 2, 3], "worker": ["a", "b", "c"], "label": [0, 1, 0]})
    for f in (A.krippendorff_alpha, A.fleiss_kappa, A.gwet_ac, A.worker_agreement):
        with pytest.raises(AgreementUndefinedError, match="fewer than two ratings"):
            f(single)
    one_label = pd.DataFrame({"item": [1, 1, 2, 2], "worker": list("abab"), "label": ["x"] * 4})
    with pytest.raises(AgreementUndefinedError, match="one value"):
        A.krippendorff_alpha(one_label)
    with pytest.raises(AgreementUndefinedError, match="chance agreement is 1"):
        A.fleiss_kappa(one_label)
    with pytest.raises(AgreementUndefinedError, match="single label"):
        A.gwet_ac(one_label)
    with pytest.raises(AgreementUndefinedError, match="single label"):
        A.cohen_kappa(one_label, "a", "b")
    strings = pd.DataFrame({"item": [1, 1, 2, 2], "worker": list("abab"), "label": list("xyxx")})
    for level in ("interval", "ratio"):
        with pytest.raises(LevelError, match="numeric labels"):
            A.krippendorff_alpha(strings, level)
    neg = strings.assign(label=[-1, 2, 3, 3])
    with pytest.raises(LevelError, match="non-negative"):
        A.krippendorff_alpha(neg, "ratio")
    with pytest.raises(InputError, match="level"):
        A.krippendorff_alpha(strings, "cardinal")
    with pytest.raises(InputError, match="weights"):
        A.fleiss_kappa(strings, weights="cubic")
    with pytest.raises(InputError, match="2 x 2"):
        A.gwet_ac(strings, weights=np.eye(3))
    with pytest.raises(InputError, match="not a worker"):
        A.cohen_kappa(strings, "a", "zz")
    with pytest.raises(InputError, match="same worker"):
        A.cohen_kappa(strings, "a", "a")
    apart = pd.DataFrame({"item": [1, 1, 2, 2], "worker": list("abcd"), "label": list("xyxy")})
    with pytest.raises(AgreementUndefinedError, match="share no item"):
        A.cohen_kappa(apart, "a", "c")
    with pytest.raises(InputError, match="n_boot"):
        A.krippendorff_alpha(strings, n_boot=-1)
    with pytest.raises(InputError, match="confidence"):
        A.fleiss_kappa(strings, confidence=1.5)
    with pytest.raises(InputError, match="min_overlap"):
        A.pairwise_cohen_kappa(strings, min_overlap=0)
    with pytest.raises(InputError, match="analytic"):
        A._family(strings, "conger_kappa", None, 5, None, 0.95, {})


def test_inputs_not_mutated_and_result_api():
    df = random_crowd(0)
    before = df.copy()
    r = A.krippendorff_alpha(df, "interval", n_boot=20, random_state=0)
    A.pairwise_cohen_kappa(df, min_overlap=2)
    A.worker_agreement(df)
    pd.testing.assert_frame_equal(df, before)
    d = r.to_dict()
    assert d["value"] == float(r) and d["ci_low"] == r.ci[0] and d["variant"] == "interval"
    assert "krippendorff_alpha" in repr(r)
    with pytest.raises(AttributeError):
        r.value = 0.0  # frozen


def test_accepts_polars_and_csv(tmp_path):
    df = random_crowd(6)
    path = tmp_path / "a.csv"
    df.to_csv(path, index=False)
    import polars as pl  # a core dependency
    want = A.krippendorff_alpha(df).value
    assert A.krippendorff_alpha(pl.from_pandas(df)).value == pytest.approx(want)
    assert A.krippendorff_alpha(path).value == pytest.approx(want)
    assert A.cohen_kappa(path, "w0", "w1").value == pytest.approx(A.cohen_kappa(df, "w0", "w1").value)


def test_parallel_kernels_match_serial():
    if NOJIT:
        pytest.skip("no threads without JIT")
    from crowdagg.datasets import make_crowd

    df = make_crowd(30_000, 200, 4, 4, random_state=0).annotations
    t = AnnotationTable.from_pandas(df)
    from crowdagg.kernels import agreement as K

    par = K.item_label_counts(t.item_ptr, t.label_codes, t.n_labels, parallel=True)
    ser = K.item_label_counts(t.item_ptr, t.label_codes, t.n_labels, parallel=False)
    for a, b in zip(par, ser):
        np.testing.assert_array_equal(a, b)
    assert A.krippendorff_alpha(t).value == pytest.approx(N.alpha(triples(t), t.n_labels), abs=1e-10)


def test_conger_n_boot_and_unknown_options_raise_input_error():
    # regression: conger_kappa(df, n_boot=10) leaked n_boot into the table options (raw TypeError)
    df = random_crowd(2)
    with pytest.raises(InputError, match="analytic interval only"):
        A.conger_kappa(df, n_boot=10)
    assert A.conger_kappa(df, n_boot=0, random_state=1).value == A.conger_kappa(df).value
    fns = [A.krippendorff_alpha, A.fleiss_kappa, A.gwet_ac, A.brennan_prediger, A.percent_agreement,
           A.conger_kappa, A.pairwise_cohen_kappa, A.worker_agreement]
    for f in fns:
        with pytest.raises(InputError, match="n_bootstrap"):
            f(df, n_bootstrap=5)
    with pytest.raises(InputError, match="bogus"):
        A.cohen_kappa(df, "w0", "w1", bogus=1)
    # valid table options still work
    assert A.fleiss_kappa(df.rename(columns={"label": "y"}), label_col="y").value == A.fleiss_kappa(df).value


def test_bad_weights_workers_and_n_boot_raise_input_error():
    # regression: these raised raw ValueError / TypeError / NotImplementedError
    df = pd.DataFrame({"item": [1, 1, 2, 2, 3, 3], "worker": list("ababab"), "label": list("xyxxyy")})
    for bad in ([["a"] * 2] * 2, [[1.0, 0.0], [0.0]], {}, {"x": 1}):
        with pytest.raises(InputError, match="weights"):
            A.fleiss_kappa(df, bad)
        with pytest.raises(InputError, match="weights"):
            A.cohen_kappa(df, "a", "b", weights=bad)
    with pytest.raises(InputError, match="worker_a"):
        A.cohen_kappa(df, ["a"], "b")
    with pytest.raises(InputError, match="n_boot"):
        A.fleiss_kappa(df, n_boot=2**31)
    with pytest.raises(InputError, match="n_boot"):
        A.krippendorff_alpha(df, n_boot=2**40)


def test_cohen_single_observation_cap_worker_text_and_plain_messages():
    # one shared observation: no SE (was se=0, ci=(0, 0))
    one = pd.DataFrame({"item": [1, 1, 2], "worker": ["a", "b", "a"], "label": ["x", "y", "y"]})
    r = A.cohen_kappa(one, "a", "b")
    assert r.n_items == 1 and r.se is None and r.ci is None
    # the normal interval is clipped to [-1, 1] like the t intervals
    df = pd.DataFrame({"item": [1, 1, 2, 2, 3, 3], "worker": list("ababab"), "label": list("xxyyxy")})
    c = A.cohen_kappa(df, "a", "b")
    assert -1.0 <= c.ci[0] and c.ci[1] == 1.0 and c.value < 1.0
    for res in (A.fleiss_kappa(df), A.krippendorff_alpha(df), A.gwet_ac(df)):
        assert -1.0 <= res.ci[0] <= res.ci[1] <= 1.0
    # worker ids match by text both ways
    ints = df.assign(worker=[1, 2] * 3)
    assert A.cohen_kappa(ints, "1", "2").value == A.cohen_kappa(ints, 1, 2).value == c.value
    strs = df.assign(worker=["1", "2"] * 3)
    assert A.cohen_kappa(strs, 1, 2).value == c.value
    # messages print plain values, not np.int64(1)
    const = pd.DataFrame({"item": [1, 1, 2, 2], "worker": list("abab"), "label": [1, 1, 1, 1]})
    with pytest.raises(AgreementUndefinedError, match=r"one value \(1\)"):
        A.krippendorff_alpha(const)


def test_bootstrap_leaves_global_generators_alone():
    # regression: under NUMBA_DISABLE_JIT=1 the kernels called np.random.seed on NumPy's global generator
    df = random_crowd(4, n_items=30)
    np.random.seed(123)  # noqa: NPY002
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    runs = [A.fleiss_kappa(df, n_boot=30, random_state=5), A.krippendorff_alpha(df, n_boot=30, random_state=5),
            A.cohen_kappa(df, "w0", "w1", n_boot=30, random_state=5)]
    assert np.array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    again = [A.fleiss_kappa(df, n_boot=30, random_state=5), A.krippendorff_alpha(df, n_boot=30, random_state=5),
             A.cohen_kappa(df, "w0", "w1", n_boot=30, random_state=5)]
    assert [r.ci for r in runs] == [r.ci for r in again]


def test_mrg32k3a_draws_are_uniform_indices():
    from crowdagg.kernels import agreement as K

    st = K.boot_seeds(np.random.default_rng(0), 1)[0].copy()
    draws = np.array([K.mrg_randint(st, 10) for _ in range(5000)])
    assert draws.min() == 0 and draws.max() == 9
    assert np.abs(np.bincount(draws, minlength=10) - 500).max() < 90


@pytest.mark.parametrize("func", [A.krippendorff_alpha, A.fleiss_kappa, A.gwet_ac, A.cohen_kappa])
def test_bad_seed_refused_without_bootstrap(func):
    from crowdagg.errors import ParameterError

    df = random_crowd(0, n_workers=2)
    args = tuple(pd.unique(df["worker"])[:2]) if func is A.cohen_kappa else ()
    with pytest.raises(ParameterError, match="random_state"):
        func(df, *args, random_state=-1)


# --------------------------------------------------------------------------- interval clip = each coefficient's range
GOOD = pd.DataFrame({"item": list("aaabbbccc"), "worker": ["w1", "w2", "w3"] * 3,
                     "label": list("xxyyyyxyx")})


def test_percent_agreement_interval_stays_in_unit_interval():
    # a proportion: the analytic t interval is clipped to [0, 1] (it reached -0.4006 when clipped to [-1, 1])
    r = A.percent_agreement(GOOD)
    assert r.value == pytest.approx(5 / 9)
    lo_raw = r.value - 4.302652729911275 * r.se  # t(0.975, 2)
    assert lo_raw < 0 and r.ci == (0.0, 1.0)


def test_fleiss_and_complete_conger_interval_floor_is_minus_one_over_m_minus_one():
    # three ratings per item: Fleiss' kappa >= -1/2; complete data: Conger's kappa >= Fleiss' kappa
    for fn in (A.fleiss_kappa, A.conger_kappa):
        r = fn(GOOD)
        assert r.value - 4.302652729911275 * r.se < -0.5 and r.ci[0] == pytest.approx(-0.5)


def test_family_intervals_below_minus_one_where_the_coefficient_goes_there():
    # Brennan-Prediger with quadratic weights on 3 labels: pe = 6/9, so the range is [-2, 1]
    rows = [(i, w, lab) for i, (a, b) in enumerate([(0, 2)] * 6 + [(1, 1)] * 2 + [(0, 1)] * 2)
            for w, lab in (("u", a), ("v", b))]
    df = pd.DataFrame(rows, columns=["item", "worker", "label"])
    r = A.brennan_prediger(df, weights="quadratic")
    assert r.pe == pytest.approx(2 / 3) and r.value < -0.5
    lo = r.value - 2.2621571627409915 * r.se  # t(0.975, 9)
    assert lo < -1 and r.ci[0] == pytest.approx(lo)
    # Fleiss' kappa with a varying number of ratings (single-rated items count in pi) falls below -1
    one = pd.DataFrame({"item": ["a", "a", "b", "c", "d"], "worker": ["u", "v", "u", "u", "u"],
                        "label": ["x", "y", "x", "x", "x"]})
    f = A.fleiss_kappa(one)
    assert f.value < -1 and f.ci[0] <= f.value


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_analytic_intervals_lie_in_each_coefficients_range(seed, weights):
    from crowdagg._agreement_common import _weights_matrix, family_range

    df = random_crowd(seed, n_items=8, n_workers=4, q=3, p_missing=0.5)
    w, _ = _weights_matrix(weights, 3)
    for name, kind in (("fleiss_kappa", 0), ("gwet_ac", 1), ("brennan_prediger", 2), ("percent_agreement", 3),
                       ("conger_kappa", 4)):
        try:
            r = getattr(A, name)(df, weights=weights, labels=[0, 1, 2])
        except AgreementUndefinedError:
            continue
        lo, hi = family_range(kind, w)
        assert lo <= r.ci[0] <= r.value <= r.ci[1] <= hi, name
    a = A.krippendorff_alpha(df, "interval")
    assert -1 <= a.ci[0] <= a.value <= a.ci[1] <= 1


def test_family_range_values():
    from crowdagg._agreement_common import _weights_matrix, cac_range, family_range

    eye3, _ = _weights_matrix(None, 3)
    quad3, _ = _weights_matrix("quadratic", 3)
    lin3, _ = _weights_matrix("linear", 3)
    assert family_range(3, eye3) == (0.0, 1.0)
    assert family_range(2, eye3) == pytest.approx((-0.5, 1.0))  # BP: -1/(q-1)
    assert family_range(1, eye3) == pytest.approx((-0.5, 1.0))  # AC1: pe <= 1/q
    assert family_range(2, quad3) == pytest.approx((-2.0, 1.0))
    assert family_range(0, eye3) == (-np.inf, 1.0)
    assert family_range(0, eye3, m=3) == pytest.approx((-0.5, 1.0))
    assert family_range(0, lin3, m=4) == pytest.approx((-1 / 3, 1.0))
    assert family_range(0, quad3, m=4) == (-np.inf, 1.0)  # quadratic weights: not positive semi-definite
    assert family_range(4, eye3, m=2) == pytest.approx((-1.0, 1.0))
    assert family_range(3, np.array([[2.0, 0.0], [0.0, 2.0]])) == (-np.inf, np.inf)  # diagonal not 1
    assert cac_range((0.0, 1.0), (0.5, 0.5)) == (-1.0, 1.0)
    assert cac_range((0.0, 1.0), (0.0, 1.2)) == (-np.inf, np.inf)


@pytest.mark.parametrize("fn", ["krippendorff_alpha", "fleiss_kappa", "gwet_ac", "cohen_kappa"])
def test_bootstrap_of_one_item_gives_no_interval(fn):
    """One item to resample: every replicate is the data itself, so a bootstrap SE of 0 and a
    point interval claimed a certainty the data cannot give; like the analytic one, none."""
    one = pd.DataFrame({"item": [1, 1, 1], "worker": ["a", "b", "c"], "label": ["x", "y", "x"]})
    args = (one, "a", "b") if fn == "cohen_kappa" else (one,)
    r = getattr(A, fn)(*args, n_boot=50, random_state=0)
    assert r.se is None and r.ci is None and r.n_items == 1
    assert r.details["n_boot"] == 50 and r.details["ci_method"].startswith("none")


def test_cohen_se_of_zero_variance_is_zero_not_rounding_noise():
    """kappa = 0 exactly with zero asymptotic variance (statsmodels: SE 0): the difference of
    the variance's two terms is ~1e-16, whose square root gave SE 2e-8."""
    a, b = [2, 2, 2, 0], [3, 2, 2, 2]
    df = pd.DataFrame([(i, "a", v) for i, v in enumerate(a)] + [(i, "b", v) for i, v in enumerate(b)],
                      columns=["item", "worker", "label"])
    r = A.cohen_kappa(df, "a", "b", weights="linear", labels=[0, 1, 2, 3])
    assert abs(r.value) < 1e-12 and r.se == 0.0
