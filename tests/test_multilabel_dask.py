"""MultiLabel on Dask: the distributed checkbox table and the fit through the one EM core
equal the local ones (to 1e-9), and what cannot work gets a clear error.

Fast tests run on an in-process cluster (``LocalCluster(processes=False)``: the
distributed table needs a ``distributed.Client`` -- futures, scatter -- so the
synchronous scheduler cannot run it); the 2-worker process cluster test is ``slow``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from naive_ordinal_multilabel import make_multilabel_crowd

import crowdagg
from crowdagg.errors import (
    DuplicateAnnotationError,
    EmptyTableError,
    InputError,
    MixedIdTypeError,
    NullIdError,
    UnknownLabelError,
)

dd = pytest.importorskip("dask.dataframe", reason="the Dask path needs dask[dataframe] (the test extra)")
distributed = pytest.importorskip("distributed", reason="the Dask path needs dask.distributed (the test extra)")
import dask  # noqa: E402

from crowdagg.distributed import DaskAnnotationTable  # noqa: E402
from crowdagg.distributed.multilabel import DaskCheckboxTable, DaskMultiLabelResult  # noqa: E402

TOL = 1e-9


def _cluster(processes: bool):
    from distributed import Client, LocalCluster

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if processes:
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=40)
        else:
            cluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None,
                                   silence_logs=40)
        return cluster, Client(cluster, set_as_default=True)


@pytest.fixture(scope="module")
def client():
    cluster, cl = _cluster(processes=False)
    yield cl
    cl.close()
    cluster.close()


def _ddf(df: pd.DataFrame, npartitions: int = 2):
    with dask.config.set({"dataframe.convert-string": False}):  # keep the list cells lists
        return dd.from_pandas(df, npartitions=npartitions, sort=False)


def _fit(est, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(data, **kw)


@pytest.fixture(scope="module")
def crowd() -> pd.DataFrame:
    """Generated answers plus every special case: null answers, empty answers, an item with
    only a null answer, a worker with only null answers, repeated answers."""
    df, _ = make_multilabel_crowd(n_items=120, n_workers=15, n_labels=5, seed=3)
    df = df.copy()
    df.loc[df.index[::17], "labels"] = None
    df.loc[df.index[5::11], "labels"] = pd.Series([[]] * len(df.index[5::11]), index=df.index[5::11])
    extra = pd.DataFrame({"item": [10_000, 10_001, 7], "worker": ["w0", "ghost", "w_new"],
                          "labels": [None, None, ["L1"]]})
    return pd.concat([df, extra], ignore_index=True)


def _same(dist, local) -> None:
    """The distributed fit equals the local one (every fitted attribute, by id)."""
    r = dist.result_.compute()
    idx = local.probas_.index
    assert len(r.probas) == len(idx) and set(r.probas.index) == set(idx), "every item exactly once"
    assert list(r.probas.columns) == list(local.probas_.columns)
    np.testing.assert_allclose(r.probas.loc[idx].to_numpy(), local.probas_.to_numpy(), rtol=0, atol=TOL)
    a, b = local.labels_, r.labels.loc[idx]
    assert (a.dtypes == "boolean").all() and (b.dtypes == "boolean").all()
    assert (a.isna().to_numpy() == b.isna().to_numpy()).all()
    assert (a.fillna(False).to_numpy(dtype=bool) == b.fillna(False).to_numpy(dtype=bool)).all()
    for name in ("sensitivity_", "specificity_", "skills_"):
        got, want = getattr(dist, name), getattr(local, name)
        assert set(got.index) == set(want.index)
        np.testing.assert_allclose(np.asarray(got.loc[want.index], dtype=float), np.asarray(want, dtype=float),
                                   rtol=0, atol=TOL, err_msg=name)
    np.testing.assert_allclose(dist.prevalence_.to_numpy(), local.prevalence_.to_numpy(), rtol=0, atol=TOL)
    assert dist.label_set_.equals(local.label_set_)
    assert dist.n_iter_ == local.n_iter_ and dist.converged_ == local.converged_
    np.testing.assert_allclose(dist.loglik_, local.loglik_, rtol=1e-12, atol=TOL)
    pa, pb = dist.to_pandas().set_index("item").loc[idx], local.to_pandas().set_index("item")
    assert pa["labels"].tolist() == pb["labels"].tolist()
    assert pa["n_labels"].astype("Float64").fillna(-1).tolist() == pb["n_labels"].astype("Float64").fillna(-1).tolist()
    cols = [c for c in pb.columns if c.startswith("proba_")]
    np.testing.assert_allclose(pa[cols].to_numpy(), pb[cols].to_numpy(), rtol=0, atol=TOL)


# --------------------------------------------------------------------------- the table
def test_table_equals_local_checkbox_table(dt, crowd):
    from crowdagg.methods.multilabel import checkbox_table

    local, label_set = checkbox_table(crowd)
    assert dt.n_partitions == 3 and dt.label_set.equals(label_set)
    assert dt.n_items == local.n_items and dt.n_annotations == local.n_annotations
    assert dt.dropped == {k: local.dropped[k] for k in ("null_answer", "duplicate")}
    assert dt.dropped["null_answer"] > 0
    assert list(dt.labels) == list(range(len(label_set) + 1))
    # the same (item, worker, label code) rows, every item in one piece
    gathered = dt.to_local()

    def rows(t):
        return sorted(zip(t.items.take(t.item_codes).tolist(), t.workers.take(t.worker_codes).tolist(),
                          t.label_codes.tolist()))

    assert rows(gathered) == rows(local)
    assert not gathered.items.has_duplicates
    assert set(dt.workers) == set(local.workers)  # "ghost" answered nothing but is a worker
    assert "DaskCheckboxTable" in repr(dt)


@pytest.fixture(scope="module")
def dt(client, crowd):
    return DaskCheckboxTable.from_dask_dataframe(_ddf(crowd), npartitions=3)


SHORT = {"max_iter": 8, "tol": 0.0}  # a Dask iteration costs ~40 ms of task overhead here


@pytest.mark.parametrize("kw", [{}, {"shared": False, **SHORT}, {"init": "uniform", "tol": 0.0, "max_iter": 6},
                                {"threshold": 0.3, "smoothing": 2.0, **SHORT}])
def test_fit_equals_local(dt, crowd, kw):
    dist = _fit(crowdagg.MultiLabel(**kw), dt)
    local = _fit(crowdagg.MultiLabel(**kw), crowd)
    _same(dist, local)
    assert isinstance(dist.result_, DaskMultiLabelResult)
    assert dist.table_ is dt and len(dist.bytes_per_iteration_) == dist.n_iter_
    assert hasattr(dist.labels_, "npartitions") and hasattr(dist.probas_, "npartitions")  # dask collections
    assert dist.labels_.npartitions == 3


@pytest.mark.parametrize("npartitions", [1, 5])
def test_number_of_pieces_changes_nothing(client, crowd, npartitions):
    local = _fit(crowdagg.MultiLabel(**SHORT), crowd)
    _same(_fit(crowdagg.MultiLabel(**SHORT), _ddf(crowd, 3), npartitions=npartitions), local)


def test_fit_dask_dataframe_and_options(client, crowd):
    """``fit(ddf)`` builds the table with the estimator's ``sep``/``labels`` and the table
    options; column names, sep strings, the text-label rule and labels= as locally."""
    df = crowd.rename(columns={"item": "task", "worker": "annotator", "labels": "tags"})
    codes = {f"L{j}": str(j + 1) for j in range(5)}
    df["tags"] = [None if v is None else "| ".join(codes[x] for x in v) for v in df["tags"]]
    kw = dict(worker_col="annotator", label_col="tags")
    local = _fit(crowdagg.MultiLabel(sep="|", labels=[1, 2, 3, 4, 5, 6], **SHORT), df, **kw)
    dist = _fit(crowdagg.MultiLabel(sep="|", labels=[1, 2, 3, 4, 5, 6], **SHORT), dd.from_pandas(df, npartitions=2),
                npartitions=2, **kw)
    assert dist.table_.dropped == {k: local.table_.dropped[k] for k in ("null_answer", "duplicate")}
    assert list(local.label_set_) == [1, 2, 3, 4, 5, 6]
    _same(dist, local)
    assert dist.to_pandas()["labels"].dropna().map(type).eq(str).all()  # joined with sep


def test_read_parquet_list_column(client, crowd, tmp_path):
    """Parquet list columns (read by dask with its default options) as the pandas frame."""
    for i in range(3):
        crowd.iloc[i::3].to_parquet(tmp_path / f"part{i}.parquet")
    table = DaskCheckboxTable.read_parquet(str(tmp_path / "*.parquet"), npartitions=3)
    _same(_fit(crowdagg.MultiLabel(**SHORT), table), _fit(crowdagg.MultiLabel(**SHORT), crowd))


def test_duplicates_across_input_partitions(client, crowd):
    """Repeated answers whose copies lie in different input partitions: first/last as locally."""
    dup = crowd.iloc[:40].copy()
    dup["labels"] = [["L0", "L4"]] * len(dup)
    df = pd.concat([crowd, dup], ignore_index=True)  # the copies land in the second partition
    for policy in ("first", "last"):
        local = _fit(crowdagg.MultiLabel(**SHORT), df, duplicates=policy)
        table = DaskCheckboxTable.from_dask_dataframe(_ddf(df), duplicates=policy, npartitions=3)
        # rows 0, 17, 34 are null answers: their copies are the only answers of those pairs
        assert table.dropped["duplicate"] == local.table_.dropped["duplicate"] == 37
        _same(_fit(crowdagg.MultiLabel(**SHORT), table), local)
    with pytest.raises(DuplicateAnnotationError, match="repeated"):
        DaskCheckboxTable.from_dask_dataframe(_ddf(df))


def test_warm_start_and_init_params(dt, crowd):
    src = _fit(crowdagg.MultiLabel(max_iter=3, tol=0.0), crowd)
    dist = _fit(crowdagg.MultiLabel(**SHORT), dt, init_params=src)
    local = _fit(crowdagg.MultiLabel(**SHORT), crowd, init_params=src)
    _same(dist, local)
    # a model fitted on Dask predicts new in-memory answers as the local model does
    new = crowd.iloc[:30]
    np.testing.assert_allclose(dist.predict_proba(new).to_numpy(), local.predict_proba(new).to_numpy(),
                               rtol=0, atol=TOL)


def test_empty_pieces_and_string_ids(client):
    """More pieces than items (empty pieces), an item whose only answer is null, string ids."""
    df = pd.DataFrame({"item": ["q1", "q1", "q2", "q2", "q3", "q4"], "worker": ["a", "b", "a", "c", "b", "c"],
                       "labels": [["x"], ["x", "y"], [], ["y"], None, ("x",)]})
    before = df.copy(deep=True)
    local = _fit(crowdagg.MultiLabel(), df)
    table = DaskCheckboxTable.from_dask_dataframe(df, npartitions=6)
    pd.testing.assert_frame_equal(df, before)  # the input is never modified
    assert (table.partition_sizes()[:, 0] == 0).any()
    assert table.to_local().n_items == 4
    dist = _fit(crowdagg.MultiLabel(), table)
    _same(dist, local)
    assert dist.labels_.compute().loc["q3"].isna().all()


def test_row_order_and_ids_change_nothing(client, crowd):
    """Shuffled rows and renamed items/workers: the same fit (compared through the renaming)."""
    rng = np.random.default_rng(0)
    df = crowd.iloc[rng.permutation(len(crowd))].reset_index(drop=True)
    df["item"] = "i" + df["item"].astype(str)
    df["worker"] = df["worker"] + "_x"
    local = _fit(crowdagg.MultiLabel(**SHORT), crowd)
    dist = _fit(crowdagg.MultiLabel(**SHORT), _ddf(df, 3), npartitions=4)
    p = dist.result_.compute().probas
    p.index = p.index.str[1:].astype(np.int64)
    np.testing.assert_allclose(p.loc[local.probas_.index].to_numpy(), local.probas_.to_numpy(), rtol=0, atol=TOL)
    se = dist.sensitivity_.rename(index=lambda w: w[:-2])
    np.testing.assert_allclose(se.loc[local.sensitivity_.index].to_numpy(), local.sensitivity_.to_numpy(),
                               rtol=0, atol=TOL)


def test_save_load_worker_model(dt, crowd, tmp_path):
    """A Dask fit saves its worker model (results=False; its per-item results are Dask
    collections: a clear error), which predicts new answers as the local model does."""
    from crowdagg.errors import ModelSaveError
    from crowdagg.persist import load, save

    dist = _fit(crowdagg.MultiLabel(**SHORT), dt)
    with pytest.raises(ModelSaveError, match="Dask"):
        save(dist, tmp_path / "m.zip")
    back = load(save(dist, tmp_path / "m.zip", results=False))
    local = _fit(crowdagg.MultiLabel(**SHORT), crowd)
    new = crowd.iloc[:40]
    np.testing.assert_allclose(back.predict_proba(new).to_numpy(), local.predict_proba(new).to_numpy(),
                               rtol=0, atol=TOL)


# --------------------------------------------------------------------------- clear errors
def test_errors(dt, crowd):
    single = pd.DataFrame({"item": [1, 1, 2], "worker": ["a", "b", "a"], "label": ["x", "y", "x"]})
    with pytest.raises(InputError, match="single labels"):
        crowdagg.MultiLabel().fit(DaskAnnotationTable.from_dask_dataframe(dd.from_pandas(single, npartitions=1)))
    with pytest.raises(InputError, match="gold"):
        crowdagg.MultiLabel().fit(dt, gold={0: "L1"})
    with pytest.raises(InputError, match="already"):
        crowdagg.MultiLabel().fit(dt, item_col="item")
    with pytest.raises(InputError, match="label set"):
        crowdagg.MultiLabel(labels=["L4", "L3", "L2", "L1", "L0"]).fit(dt)
    with pytest.raises(InputError, match="unknown option"):
        crowdagg.MultiLabel().fit(_ddf(crowd), labels=["L0"])
    with pytest.raises(InputError, match="in-memory"):
        crowdagg.MultiLabel().partial_fit(dt)
    with pytest.raises(InputError, match="in-memory"):
        crowdagg.MultiLabel().partial_fit(_ddf(crowd))
    fitted = _fit(crowdagg.MultiLabel(max_iter=2), crowd)
    with pytest.raises(InputError, match="in-memory"):
        fitted.predict(_ddf(crowd))
    # dask's default turns list cells into strings: named, not read as labels
    with dask.config.set({"dataframe.convert-string": True}):
        stringified = dd.from_pandas(crowd, npartitions=2)
    with pytest.raises(InputError, match="convert-string"):
        crowdagg.MultiLabel().fit(stringified)
    with pytest.raises(InputError, match="dask DataFrame"):
        DaskCheckboxTable.from_dask_dataframe([1, 2])


@pytest.mark.parametrize("case", ["null_item", "null_worker", "all_null", "nothing_ticked", "unknown_label",
                                  "empty", "string_cell", "null_in_set", "mixed_kinds", "bad_sep"])
def test_bad_input_same_error_as_local(client, case):
    base = pd.DataFrame({"item": [1, 1, 2, 2, 3, 3], "worker": ["a", "b", "a", "b", "a", "b"],
                         "labels": [["x"], ["x", "y"], [], ["y"], ["x"], []]})
    kw: dict = {}
    df = base.copy()
    if case == "null_item":
        df["item"] = df["item"].astype(object)
        df.loc[4, "item"] = None
    elif case == "null_worker":
        df.loc[4, "worker"] = None
    elif case == "all_null":
        df["labels"] = None
    elif case == "nothing_ticked":
        df["labels"] = [[] for _ in range(len(df))]
    elif case == "unknown_label":
        kw = {"labels": ["x"]}
    elif case == "empty":
        df = df.iloc[:0]
    elif case == "string_cell":
        df["labels"] = df["labels"].astype(object)
        df.at[4, "labels"] = "x"
    elif case == "null_in_set":
        df.at[4, "labels"] = ["x", None]
    elif case == "mixed_kinds":
        df.at[5, "labels"] = [1]  # the other input partition: strings and ints never mix
    elif case == "bad_sep":
        kw = {"sep": ""}
    expected = {"null_item": NullIdError, "null_worker": NullIdError, "all_null": EmptyTableError,
                "nothing_ticked": EmptyTableError, "unknown_label": UnknownLabelError, "empty": EmptyTableError,
                "string_cell": InputError, "null_in_set": InputError, "mixed_kinds": MixedIdTypeError,
                "bad_sep": InputError}[case]
    with pytest.raises(expected) as local_err:
        crowdagg.MultiLabel(**kw).fit(df)
    with pytest.raises(expected) as dist_err:
        crowdagg.MultiLabel(**kw).fit(_ddf(df, 2))
    assert type(dist_err.value) is type(local_err.value)


# --------------------------------------------------------------------------- a 2-worker process cluster
@pytest.mark.slow  # starting two worker processes: 10-40 s on the shared machine (run with --runslow)
def test_two_worker_process_cluster(crowd):
    cluster, cl = _cluster(processes=True)
    try:
        assert len(cl.scheduler_info()["workers"]) == 2
        dt = DaskCheckboxTable.from_dask_dataframe(_ddf(crowd), npartitions=4, client=cl)
        for kw in ({}, {"shared": False, "init": "uniform"}):
            _same(_fit(crowdagg.MultiLabel(**kw), dt), _fit(crowdagg.MultiLabel(**kw), crowd))
    finally:
        cl.close()
        cluster.close()
