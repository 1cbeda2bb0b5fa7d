"""crowdagg.distributed on a LocalCluster (2 workers, 1 thread each): same results as the local path.

Every distributed method is compared with the local estimator on the same data
(labels, posteriors, worker parameters, log-likelihood history and iteration count,
to 1e-9), and DS / one-coin DS also with the pure-NumPy references of
``tests/naive_em.py``; the agreement coefficients with the local functions and
``tests/naive_agreement.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

_DASK = "dask is optional (the dask extra); the test extra installs it"
dask = pytest.importorskip("dask", reason=_DASK)
pytest.importorskip("distributed", reason=_DASK)
dd = pytest.importorskip("dask.dataframe", reason=_DASK)

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from naive_agreement import alpha as naive_alpha  # noqa: E402
from naive_agreement import pairwise as naive_pairwise  # noqa: E402
from naive_em import ds_em, oc_em  # noqa: E402

import crowdagg  # noqa: E402
from crowdagg import agreement as A  # noqa: E402
from crowdagg.distributed import (  # noqa: E402
    DaskAnnotationTable,
    fit,
    fleiss_kappa,
    krippendorff_alpha,
    pairwise_cohen_kappa,
)
from crowdagg.distributed.agreement import agreement_family  # noqa: E402
from crowdagg.errors import (  # noqa: E402
    AgreementUndefinedError,
    ConvergenceWarning,
    DuplicateAnnotationError,
    EmptyTableError,
    GoldError,
    InputError,
    MissingColumnError,
    NullIdError,
    UnknownLabelError,
)

NOJIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"
TOL = 1e-9


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=40)
        cl = Client(cluster)
    yield cl
    cl.close()
    cluster.close()


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    n = 120 if NOJIT else 300
    return crowdagg.datasets.make_crowd(n, 25, 3, random_state=0).annotations


@pytest.fixture(scope="module")
def dtable(client, df) -> DaskAnnotationTable:
    return DaskAnnotationTable.from_dask_dataframe(dd.from_pandas(df, npartitions=3, sort=False), npartitions=4)


def _same_probas(local, dist_result) -> None:
    r = dist_result.compute() if hasattr(dist_result, "compute") else dist_result
    assert r.probas.index.is_unique
    assert set(r.probas.index) == set(local.probas_.index)
    p1 = local.probas_.loc[r.probas.index]
    np.testing.assert_allclose(r.probas.to_numpy(), p1.to_numpy(), rtol=0, atol=TOL)
    assert list(r.probas.columns) == list(local.probas_.columns)
    l1 = local.labels_.loc[r.labels.index]
    na = l1.isna().to_numpy()
    np.testing.assert_array_equal(na, r.labels.isna().to_numpy())
    assert (l1[~na].astype(str).to_numpy() == r.labels[~na].astype(str).to_numpy()).all()


def _clone(est):
    return type(est)(**est.get_params())


# --------------------------------------------------------------------------- the table
def test_table_codebooks_match_local(dtable, df):
    loc = crowdagg.AnnotationTable.from_pandas(df)
    assert list(dtable.workers) == list(loc.workers)
    assert list(dtable.labels) == list(loc.labels)
    assert dtable.n_items == loc.n_items and dtable.n_annotations == loc.n_annotations
    np.testing.assert_array_equal(dtable.worker_counts(), loc.worker_counts())
    np.testing.assert_array_equal(dtable.label_counts(), loc.label_counts())
    assert dtable.n_partitions == 4
    assert "DaskAnnotationTable" in repr(dtable) and len(dtable) == loc.n_annotations


def test_each_item_in_one_piece(dtable, df):
    items = dtable.item_index()
    assert items.is_unique and set(items) == set(df["item"])
    assert (dtable.partition_sizes()[:, 0] > 0).sum() >= 2  # really spread


def test_to_local_roundtrip(dtable, df):
    loc = crowdagg.AnnotationTable.from_pandas(df)
    back = dtable.to_local()
    a = back.to_pandas().sort_values(["item", "worker"]).reset_index(drop=True)
    b = loc.to_pandas().sort_values(["item", "worker"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_index_type=False)


def test_null_labels_and_duplicates(client):
    df = pd.DataFrame({"item": [1, 1, 1, 2, 2, 3, 3, 4],
                       "worker": ["a", "b", "a", "a", "b", "c", "a", "b"],
                       "label": ["x", "y", "y", "y", None, "x", "x", None]})
    ddf = dd.from_pandas(df, npartitions=2, sort=False)
    with pytest.raises(DuplicateAnnotationError):
        DaskAnnotationTable.from_dask_dataframe(ddf, npartitions=2)
    for policy in ("first", "last", "keep"):
        dt = DaskAnnotationTable.from_dask_dataframe(ddf, duplicates=policy, npartitions=3)
        loc = crowdagg.AnnotationTable.from_pandas(df, duplicates=policy)
        assert dt.n_items == loc.n_items == 4
        assert dt.n_annotations == loc.n_annotations
        assert dt.dropped == {k: v for k, v in loc.dropped.items()}
        mv_d = fit(crowdagg.MajorityVote(), dt).result_.compute()
        mv_l = crowdagg.MajorityVote().fit(loc)
        _same_probas(mv_l, mv_d)
        assert mv_d.labels.loc[4] is pd.NA or pd.isna(mv_d.labels.loc[4])  # item 4: no annotation


def test_table_errors(client):
    good = pd.DataFrame({"item": [1, 2], "worker": ["a", "b"], "label": ["x", "y"]})
    with pytest.raises(MissingColumnError):
        DaskAnnotationTable.from_dask_dataframe(dd.from_pandas(good.rename(columns={"label": "l"}), npartitions=1))
    with pytest.raises(NullIdError):
        DaskAnnotationTable.from_dask_dataframe(dd.from_pandas(good.assign(worker=["a", None]), npartitions=1))
    with pytest.raises(UnknownLabelError):
        DaskAnnotationTable.from_dask_dataframe(dd.from_pandas(good, npartitions=1), labels=["x"])
    with pytest.raises(EmptyTableError):
        DaskAnnotationTable.from_dask_dataframe(dd.from_pandas(good.assign(label=[None, None]), npartitions=1))
    with pytest.raises(InputError):
        DaskAnnotationTable.from_dask_dataframe(dd.from_pandas(good, npartitions=1), duplicates="bogus")
    with pytest.raises(InputError):
        DaskAnnotationTable.from_dask_dataframe([1, 2, 3])
    dt = DaskAnnotationTable.from_dask_dataframe(good, npartitions=2)  # pandas input accepted
    class NoDask(crowdagg.base.BaseAggregator):
        def fit(self, data):
            self._set_result(self._as_table(data, {}), None)

    with pytest.raises(InputError, match="no distributed implementation"):
        fit(NoDask(), dt)
    random_ties = fit(crowdagg.MajorityVote(tie="random", random_state=3), dt).labels_.compute()
    local = crowdagg.MajorityVote(tie="random", random_state=3).fit(dt.to_local()).labels_
    assert (random_ties.loc[local.index].astype(str) == local.astype(str)).all()  # draws by item id
    with pytest.raises(InputError):
        fit(crowdagg.DawidSkene(), good)


def test_task_column_and_labels_order(client):
    df = pd.DataFrame({"task": [1, 1, 2, 2, 3], "worker": [7, 8, 7, 8, 8], "label": [2, 0, 0, 0, 2]})
    dt = DaskAnnotationTable.from_dask_dataframe(dd.from_pandas(df, npartitions=2), labels=[2, 0, 1])
    assert list(dt.labels) == [2, 0, 1] and dt.item_col == "task"
    ds_l = crowdagg.DawidSkene(max_iter=5, tol=0).fit(df, labels=[2, 0, 1])
    _same_probas(ds_l, fit(crowdagg.DawidSkene(max_iter=5, tol=0), dt).result_)


# --------------------------------------------------------------------------- methods vs local
METHODS = [
    crowdagg.MajorityVote(),
    crowdagg.MajorityVote(weights={f"w{i:02d}": 1.0 + (i % 3) for i in range(25)}),
    crowdagg.DawidSkene(max_iter=15, tol=0),
    crowdagg.DawidSkene(max_iter=100, tol=1e-6),
    crowdagg.DawidSkene(max_iter=10, init="uniform", tol=0),
    crowdagg.FastDawidSkene(max_iter=10),
    crowdagg.OneCoinDawidSkene(max_iter=15, tol=0),
    crowdagg.OneCoinDawidSkene(max_iter=100, tol=1e-7),
    crowdagg.MACE(n_restarts=3, max_iter=10, tol=0),
    crowdagg.MACE(method="em", n_restarts=2, max_iter=30),
    crowdagg.GLAD(max_iter=3, tol=0, m_step_max_iter=5),
    crowdagg.GLAD(max_iter=40, tol=1e-6),
    crowdagg.Wawa(),
    crowdagg.Wawa(max_iter=5, init="mv"),
    crowdagg.ZeroBasedSkill(max_iter=30),
]


@pytest.mark.parametrize("est", METHODS, ids=lambda e: repr(e)[:60])
def test_method_equals_local(est, dtable, df):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        local = _clone(est).fit(df)
        dist = _clone(est).fit(dtable)  # estimators accept the distributed table directly
    _same_probas(local, dist.result_)
    if hasattr(local, "n_iter_"):
        assert dist.n_iter_ == local.n_iter_
        assert dist.converged_ == local.converged_
        hist = local._history_attr  # loglik_ (scores_ for Wawa / ZeroBasedSkill)
        np.testing.assert_allclose(getattr(dist, hist), getattr(local, hist), rtol=TOL, atol=0)
        assert len(dist.bytes_per_iteration_) >= dist.n_iter_  # MACE: every restart
        assert (dist.bytes_per_iteration_ > 0).all()
    for attr in ("skills_", "priors_", "alphas_", "spam_", "strategies_"):
        if hasattr(local, attr):
            a, b = getattr(local, attr), getattr(dist, attr)
            assert isinstance(b, (pd.Series, pd.DataFrame))
            np.testing.assert_allclose(b.loc[a.index].to_numpy(), a.to_numpy(), rtol=0, atol=TOL)
    if hasattr(local, "confusions_"):
        np.testing.assert_allclose(dist.confusions_.loc[local.confusions_.index].to_numpy(),
                                   local.confusions_.to_numpy(), rtol=0, atol=TOL)
    if isinstance(est, crowdagg.MACE):
        assert dist.best_restart_ == local.best_restart_
        np.testing.assert_allclose(dist.restart_loglik_, local.restart_loglik_, rtol=TOL)
        ent = dist.entropies_.compute()
        np.testing.assert_allclose(ent.to_numpy(), local.entropies_.loc[ent.index].to_numpy(), atol=TOL)
    if isinstance(est, crowdagg.GLAD):
        betas = dist.betas_.compute()
        np.testing.assert_allclose(betas.to_numpy(), local.betas_.loc[betas.index].to_numpy(), rtol=1e-8)
        np.testing.assert_array_equal(dist.m_step_n_iter_, local.m_step_n_iter_)


def test_fit_rejects_table_options_on_a_distributed_table(dtable):
    with pytest.raises(InputError, match="already"):
        crowdagg.DawidSkene(max_iter=2).fit(dtable, labels=[0, 1, 2])
    with pytest.raises(InputError, match="already"):
        crowdagg.MajorityVote().fit(dtable, duplicates="first")


def test_convergence_warning_as_local(dtable, df):
    with pytest.warns(ConvergenceWarning):
        fit(crowdagg.DawidSkene(max_iter=2, tol=1e-12), dtable)


def test_gold_and_warm_start(dtable, df):
    items = df["item"].unique()[:40]
    gold = pd.Series(np.arange(40) % 3, index=items)
    local = crowdagg.DawidSkene(max_iter=10, tol=0).fit(df, gold=gold)
    dist = fit(crowdagg.DawidSkene(max_iter=10, tol=0), dtable, gold=gold)
    _same_probas(local, dist.result_)
    np.testing.assert_allclose(dist.loglik_, local.loglik_, rtol=TOL)
    # warm start from the local fit
    l2 = crowdagg.DawidSkene(max_iter=3, tol=0).fit(df, init_params=local)
    d2 = fit(crowdagg.DawidSkene(max_iter=3, tol=0), dtable, init_params=local)
    _same_probas(l2, d2.result_)
    with pytest.raises(GoldError):
        fit(crowdagg.DawidSkene(max_iter=1), dtable, gold=pd.Series([0], index=["not-an-item"]))
    with pytest.raises(GoldError):
        fit(crowdagg.DawidSkene(max_iter=1), dtable, gold=pd.Series([7], index=[items[0]]))


def test_against_naive_reference(dtable, df):
    loc = crowdagg.AnnotationTable.from_pandas(df)
    item, worker, label = (np.asarray(a, np.int64) for a in (loc.item_codes, loc.worker_codes, loc.label_codes))
    gold = np.full(loc.n_items, -1)
    post, conf, priors, lls = ds_em(item, worker, label, loc.n_items, loc.n_workers, 3, gold, 5)
    dist = fit(crowdagg.DawidSkene(max_iter=5, tol=0), dtable)
    r = dist.result_.compute()
    pos = loc.items.get_indexer(r.probas.index)
    np.testing.assert_allclose(r.probas.to_numpy(), post[pos], atol=1e-10)
    np.testing.assert_allclose(dist.params_["confusions"], conf, atol=1e-10)
    np.testing.assert_allclose(dist.loglik_, lls, rtol=1e-10)
    post, skills, priors, lls = oc_em(item, worker, label, loc.n_items, loc.n_workers, 3, gold, 5)
    dist = fit(crowdagg.OneCoinDawidSkene(max_iter=5, tol=0), dtable)
    np.testing.assert_allclose(dist.skills_.to_numpy(), skills, atol=1e-10)
    np.testing.assert_allclose(dist.priors_.to_numpy(), priors, atol=1e-10)


# --------------------------------------------------------------------------- properties
@st.composite
def crowds(draw):
    n_items = draw(st.integers(2, 12))
    n_workers = draw(st.integers(2, 5))
    k = draw(st.integers(2, 3))
    rows = draw(st.lists(st.tuples(st.integers(0, n_items - 1), st.integers(0, n_workers - 1),
                                   st.integers(0, k - 1)), min_size=2, max_size=40,
                         unique_by=lambda r: (r[0], r[1])))
    return pd.DataFrame(rows, columns=["item", "worker", "label"]), k


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(crowds(), st.randoms(use_true_random=False))
def test_property_relabel_and_permute(client, data, rnd):
    """Renaming items/workers changes nothing; permuting label codes permutes the posteriors;
    the distributed fit equals the local one."""
    df, k = data
    labels = list(range(k))
    dt = DaskAnnotationTable.from_dask_dataframe(dd.from_pandas(df, npartitions=2), labels=labels, npartitions=3)
    est = crowdagg.DawidSkene(max_iter=4, tol=0)
    base = fit(_clone(est), dt).result_.compute().probas
    local = _clone(est).fit(df, labels=labels)
    np.testing.assert_allclose(base.to_numpy(), local.probas_.loc[base.index].to_numpy(), atol=TOL)
    ren = df.assign(item=df["item"].map(lambda i: f"it{i}"), worker=df["worker"].map(lambda w: f"wk{w}"))
    dt2 = DaskAnnotationTable.from_dask_dataframe(dd.from_pandas(ren, npartitions=2), labels=labels, npartitions=2)
    p2 = fit(_clone(est), dt2).result_.compute().probas
    p2.index = [int(s[2:]) for s in p2.index]
    np.testing.assert_allclose(p2.loc[base.index].to_numpy(), base.to_numpy(), atol=1e-9)
    perm = labels[:]
    rnd.shuffle(perm)
    dt3 = DaskAnnotationTable.from_dask_dataframe(dd.from_pandas(df, npartitions=2), labels=perm, npartitions=2)
    p3 = fit(_clone(est), dt3).result_.compute().probas
    np.testing.assert_allclose(p3.loc[base.index, labels].to_numpy(), base.to_numpy(), atol=1e-9)


# --------------------------------------------------------------------------- agreement
@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_krippendorff_alpha_equals_local(dtable, df, level):
    a = krippendorff_alpha(dtable, level)
    b = A.krippendorff_alpha(df, level)
    assert a.value == pytest.approx(b.value, abs=TOL)
    assert a.se == pytest.approx(b.se, abs=TOL)
    assert a.ci == pytest.approx(b.ci, abs=TOL)
    assert (a.n_items, a.n_annotations) == (b.n_items, b.n_annotations)
    assert a.pa == pytest.approx(b.pa, abs=TOL) and a.pe == pytest.approx(b.pe, abs=TOL)
    if level == "nominal":
        triples = list(df.itertuples(index=False, name=None))
        assert a.value == pytest.approx(naive_alpha(triples, 3), abs=1e-10)


@pytest.mark.parametrize(("name", "weights"), [("fleiss_kappa", None), ("gwet_ac", "quadratic"),
                                                ("brennan_prediger", "linear"), ("percent_agreement", None)])
def test_family_equals_local(dtable, df, name, weights):
    a = agreement_family(dtable, name, weights)
    b = getattr(A, name)(df, weights)
    assert a.value == pytest.approx(b.value, abs=TOL)
    assert a.se == pytest.approx(b.se, abs=TOL)
    assert (a.pa, a.pe) == pytest.approx((b.pa, b.pe), abs=TOL)
    assert a.n_items == b.n_items


def test_fleiss_hand_computed(client):
    # 3 items x 2 raters: (x, x), (x, y), (y, y): pa = (1 + 0 + 1) / 3; pi = (1/2, 1/2); pe = 1/2
    df = pd.DataFrame({"item": [1, 1, 2, 2, 3, 3], "worker": list("ababab"), "label": list("xxxyyy")})
    dt = DaskAnnotationTable.from_dask_dataframe(df, npartitions=3)
    assert fleiss_kappa(dt).value == pytest.approx((2 / 3 - 1 / 2) / (1 / 2))
    with pytest.raises(AgreementUndefinedError):
        krippendorff_alpha(DaskAnnotationTable.from_dask_dataframe(df.iloc[[0, 2, 4]], npartitions=2))
    with pytest.raises(InputError):
        krippendorff_alpha(df)


def test_pairwise_cohen_equals_local(dtable, df):
    a = pairwise_cohen_kappa(dtable, min_overlap=3)
    b = A.pairwise_cohen_kappa(df, min_overlap=3)
    assert len(a) == len(b) > 10
    key = ["worker_a", "worker_b"]
    a = a.sort_values(key).reset_index(drop=True)
    b = b.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a[key], b[key])
    np.testing.assert_array_equal(a["n_items"], b["n_items"])
    np.testing.assert_allclose(a["agreement"], b["agreement"], atol=TOL)
    np.testing.assert_allclose(a["kappa"].to_numpy(float, na_value=np.nan),
                               b["kappa"].to_numpy(float, na_value=np.nan), atol=TOL)
    w = np.eye(3)
    ref = naive_pairwise(list(df.itertuples(index=False, name=None)), 3, w, 3)
    assert len(ref) == len(a)
    row = a.iloc[0]
    n, kap = ref[frozenset((row.worker_a, row.worker_b))]
    assert n == row.n_items and kap == pytest.approx(float(row.kappa), abs=1e-10)


# --------------------------------------------------------------------------- I/O
def test_read_parquet_and_to_parquet(client, df, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(df)), 3)):
        df.iloc[part].to_parquet(src / f"part{i}.parquet")
    dt = DaskAnnotationTable.read_parquet(str(src / "*.parquet"), npartitions=3)
    assert dt.n_annotations == len(df)
    ds = fit(crowdagg.DawidSkene(max_iter=5, tol=0), dt)
    out = tmp_path / "out"
    ds.result_.to_parquet(out)
    back = pd.read_parquet(out)
    local = crowdagg.DawidSkene(max_iter=5, tol=0).fit(df).to_pandas().set_index("item")
    back = back.loc[local.index] if "item" not in back.columns else back.set_index("item").loc[local.index]
    np.testing.assert_allclose(back[[c for c in back.columns if c.startswith("proba_")]].to_numpy(),
                               local[[c for c in local.columns if c.startswith("proba_")]].to_numpy(), atol=TOL)
    assert (back["label"].to_numpy() == local["label"].to_numpy()).all()
    probas = ds.probas_.compute()
    assert list(probas.columns) == list(dt.labels)
    labels = ds.labels_.compute()
    assert labels.index.name == "item" and len(labels) == dt.n_items


# --------------------------------------------------------------------------- the local path stays dask-free
def test_local_path_does_not_import_dask():
    code = (
        "import sys, crowdagg\n"
        "df = crowdagg.datasets.make_crowd(50, 5, 3, random_state=0).annotations\n"
        "crowdagg.MajorityVote().fit(df); crowdagg.DawidSkene().fit(df)\n"
        "crowdagg.agreement.krippendorff_alpha(df)\n"
        "bad = [m for m in sys.modules if m == 'dask' or m.startswith(('dask.', 'distributed'))]\n"
        "assert not bad, bad\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr


# --------------------------------------------------------------------------- benchmark script smoke test
def test_benchmark_script_runs(client, tmp_path):
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "distributed_ds.py"
    spec = importlib.util.spec_from_file_location("distributed_ds_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.parse_size("10M") == 10_000_000 and mod.parse_size("1.5K") == 1500
    out = tmp_path / "bench.json"
    assert mod.main(["--sizes", "3K", "--iters", "2", "--input-partitions", "2", "--partitions", "3",
                     "--workers-pool", "50", "--local", "--scheduler", client.scheduler.address,
                     "--out", str(out)]) == 0
    (res,) = json.loads(out.read_text())
    assert res["n_annotations"] == 3000 and res["n_partitions"] == 3 and len(res["iter_s_all"]) == 2
    assert res["bytes_per_iter"] > 0 and len(res["peak_rss_mb_workers"]) == 2
    assert res["final_loglik"] == pytest.approx(res["local_final_loglik"], rel=1e-10)


# --------------------------------------------------------------------------- dispatch by protocol
class MyDS(crowdagg.DawidSkene):
    """A user's subclass: fits a distributed table like its parent."""


def test_user_subclass_gold_and_glad_warm_start_as_local(dtable, df):
    local = MyDS(max_iter=5, tol=0).fit(df)
    dist = MyDS(max_iter=5, tol=0).fit(dtable)
    _same_probas(local, dist.result_)
    items = df["item"].unique()[:30]
    gold = pd.Series(np.arange(30) % 3, index=items)
    first = crowdagg.GLAD(max_iter=3, tol=0).fit(df)
    for kw in ({"gold": gold}, {"init_params": first}):
        loc = crowdagg.GLAD(max_iter=4, tol=0).fit(df, **kw)
        dis = crowdagg.GLAD(max_iter=4, tol=0).fit(dtable, **kw)
        _same_probas(loc, dis.result_)
        np.testing.assert_allclose(dis.loglik_, loc.loglik_, rtol=TOL)


def test_confidence_is_the_posterior_of_the_label_as_local(client):
    """An ordinal model outputs the posterior median, not the argmax: the Dask result frame's
    ``confidence`` is the posterior of that label, as the local ``to_pandas`` gives it."""
    df = pd.DataFrame({"item": list("aabbc"), "worker": ["w1", "w2", "w1", "w2", "w1"], "label": [1, 2, 5, 4, 3]})
    dt = DaskAnnotationTable.from_dask_dataframe(dd.from_pandas(df, npartitions=2), client=client)
    dist = crowdagg.OrdinalDawidSkene().fit(dt).result_.frame.compute().sort_index()
    local = crowdagg.OrdinalDawidSkene().fit(df).result_.to_pandas().sort_index()
    assert dist.loc["c", "label"] == 3 and dist.loc["c", "confidence"] < 0.05  # not the row maximum
    np.testing.assert_allclose(dist["confidence"].to_numpy(), local["confidence"].to_numpy(), atol=TOL)
    np.testing.assert_allclose(dist["confidence"].to_numpy(), dist["proba_3"].where(dist["label"] == 3).fillna(
        dist["confidence"]).to_numpy(), atol=TOL)
