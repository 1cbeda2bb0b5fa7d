"""Saved models (crowdagg.persist): exact round trips, a fresh process, ids of every dtype, and
clear errors for truncated, altered, newer or foreign files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import crowdagg
from crowdagg.errors import (
    CrowdaggError,
    FormatError,
    InputFileNotFoundError,
    NotAFileError,
    NotFittedError,
    OutputError,
)
from crowdagg.persist import (
    FORMAT_VERSION,
    ModelFileError,
    ModelIntegrityError,
    ModelSaveError,
    ModelVersionError,
    load,
    read_metadata,
)

ESTIMATORS = [
    crowdagg.MajorityVote(),
    crowdagg.Wawa(),
    crowdagg.ZeroBasedSkill(max_iter=20),
    crowdagg.DawidSkene(max_iter=30),
    crowdagg.OneCoinDawidSkene(max_iter=30),
    crowdagg.FastDawidSkene(max_iter=30),
    crowdagg.GLAD(max_iter=20),
    crowdagg.MACE(n_restarts=2, max_iter=20),
]


@pytest.fixture(scope="module")
def crowd():
    return crowdagg.datasets.make_crowd(300, 25, 3, per_item=4, random_state=3).annotations


@pytest.fixture
def path(tmp_path):
    return tmp_path / "model.crowdagg"


def _fit(est, df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return crowdagg.testing.clone(est).fit(df, **kw)


@pytest.mark.parametrize("est", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_round_trip_predicts_exactly(est, crowd, path):
    a = _fit(est, crowd)
    assert a.save(path) == path
    b = crowdagg.load(path)
    assert type(b) is type(a) and b.get_params().keys() == a.get_params().keys()
    assert b.labels_.equals(a.labels_) and b.probas_.equals(a.probas_)
    # new data with workers the model has not seen: they take the prior, as in the original
    new = crowd.assign(worker=np.where(np.arange(len(crowd)) % 3 == 0, "stranger:" + crowd["worker"].astype(str),
                                       crowd["worker"]))
    assert np.array_equal(b.predict_proba(new).to_numpy(), a.predict_proba(new).to_numpy())
    assert b.predict(new).equals(a.predict(new))


def test_loaded_in_a_fresh_process_predicts_exactly(crowd, path, tmp_path):
    ds = _fit(crowdagg.DawidSkene(max_iter=30), crowd)
    ds.save(path)
    crowd.to_csv(tmp_path / "crowd.csv", index=False)
    out = tmp_path / "probas.npy"
    code = ("import crowdagg, numpy as np, pandas as pd, sys\n"
            "m = crowdagg.load(sys.argv[1])\n"
            "df = pd.read_csv(sys.argv[2])\n"
            "p = m.predict_proba(df)\n"
            "np.save(sys.argv[3], p.to_numpy())\n"
            "print(type(m).__name__, list(p.index[:3]))\n")
    run = subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path / "crowd.csv"), str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("DawidSkene")
    want = ds.predict_proba(pd.read_csv(tmp_path / "crowd.csv")).to_numpy()
    assert np.array_equal(np.load(out), want)


# --------------------------------------------------------------------------- ids and dtypes
ID_CASES = {
    "int64": lambda n: np.arange(n, dtype=np.int64) * 7 - 100,
    "uint64": lambda n: np.uint64(2**63) + np.arange(n, dtype=np.uint64),
    "str": lambda n: pd.array([f"id {i}" for i in range(n)], dtype="str"),
    "object-str": lambda n: np.array([f"é{i}" for i in range(n)], dtype=object),
    "big-int": lambda n: np.array([2**70 + i for i in range(n)], dtype=object),
    "Int64": lambda n: pd.array(np.arange(n) + 5, dtype="Int64"),
}


@pytest.mark.parametrize("kind", sorted(ID_CASES))
def test_codebooks_round_trip_with_their_dtypes(kind, path):
    c = crowdagg.datasets.make_crowd(60, 8, 2, per_item=3, id_type="int", random_state=0).annotations
    items = ID_CASES[kind](c["item"].max() + 1)
    workers = ID_CASES[kind](c["worker"].max() + 1)
    df = pd.DataFrame({"item": pd.Series(items).take(c["item"].to_numpy()).reset_index(drop=True),
                       "worker": pd.Series(workers).take(c["worker"].to_numpy()).reset_index(drop=True),
                       "label": c["label"].map({0: True, 1: False})})
    ds = _fit(crowdagg.DawidSkene(max_iter=5), df)
    ds.save(path)
    b = crowdagg.load(path)
    for name in ("items", "workers", "labels"):
        x, y = getattr(ds.table_, name), getattr(b.table_, name)
        assert x.equals(y) and x.dtype == y.dtype, name
        assert [type(v) for v in x[:3]] == [type(v) for v in y[:3]], name
    assert b.labels_.dtype == ds.labels_.dtype == "boolean"
    assert b.confusions_.index.equals(ds.confusions_.index)
    assert b.confusions_.index.levels[0].dtype == ds.confusions_.index.levels[0].dtype
    assert b.predict(df).equals(ds.predict(df))


@pytest.mark.parametrize("labels", [["a", "b", "c"], [0.5, 1e20, -3.25], [-1, 2**40, 7]])
def test_label_values_round_trip(labels, path):
    c = crowdagg.datasets.make_crowd(80, 10, 3, random_state=1).annotations
    df = c.assign(label=c["label"].map(dict(enumerate(labels))))
    m = _fit(crowdagg.OneCoinDawidSkene(max_iter=5), df)
    m.save(path)
    b = crowdagg.load(path)
    assert b.table_.labels.equals(m.table_.labels) and b.table_.labels.dtype == m.table_.labels.dtype
    assert b.labels_.equals(m.labels_) and b.labels_.dtype == m.labels_.dtype
    assert list(b.probas_.columns) == list(m.probas_.columns)


def test_hyper_parameters_of_every_kind_round_trip(crowd, path):
    first = _fit(crowdagg.DawidSkene(max_iter=3), crowd)
    cases = [
        crowdagg.MajorityVote(weights=pd.Series(1.0, index=pd.unique(crowd["worker"]))),
        crowdagg.MajorityVote(tie="random", random_state=np.random.default_rng(5)),
        crowdagg.GLAD(max_iter=3, class_prior=pd.Series([0.2, 0.3, 0.5], index=[0, 1, 2]), alpha_prior=(1.5, 2.0)),
        crowdagg.DawidSkene(max_iter=3, init=first),  # a fitted estimator as a parameter
    ]
    for est in cases:
        a = _fit(est, crowd)
        a.save(path)
        b = crowdagg.load(path)
        for k, v in a.get_params().items():
            w = b.get_params()[k]
            if isinstance(v, pd.Series):
                assert v.equals(w) and v.index.equals(w.index)
            elif isinstance(v, np.random.Generator):
                assert v.bit_generator.state == w.bit_generator.state
            elif isinstance(v, crowdagg.DawidSkene):
                assert np.array_equal(v.params_["confusions"], w.params_["confusions"])
            else:
                assert v == w and type(v) is type(w), k
        assert b.labels_.equals(a.labels_)


def test_diagnostics_and_version_are_kept(crowd, path):
    m = _fit(crowdagg.DawidSkene(max_iter=40), crowd)
    m.save(path)
    b = crowdagg.load(path)
    assert b.n_iter_ == m.n_iter_ and b.converged_ == m.converged_
    assert np.array_equal(b.loglik_, m.loglik_)
    meta = read_metadata(path)
    assert meta["crowdagg_version"] == crowdagg.__version__
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["class"] == {"module": "crowdagg.methods.dawid_skene", "name": "DawidSkene"}


def test_no_pickle_inside(crowd, path):
    _fit(crowdagg.MACE(n_restarts=2, max_iter=10), crowd).save(path)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert names[0] == "crowdagg-model.json" and "model.json" in names
        for name in names:
            data = zf.read(name)
            assert name.endswith((".json", ".npy")), name
            assert b"\x80\x04\x95" not in data[:16]  # no pickle stream
            if name.endswith(".npy"):
                import io

                np.load(io.BytesIO(data), allow_pickle=False)


def test_warm_start_from_a_loaded_model_equals_from_the_original(crowd, path):
    a = _fit(crowdagg.DawidSkene(max_iter=5, tol=0), crowd)
    a.save(path, results=False)
    b = crowdagg.load(path)
    more = crowdagg.datasets.make_crowd(200, 25, 3, random_state=9).annotations
    x = _fit(crowdagg.DawidSkene(max_iter=5, tol=0), more, init_params=a)
    y = _fit(crowdagg.DawidSkene(max_iter=5, tol=0), more, init_params=b)
    assert x.probas_.equals(y.probas_)
    b.set_params(warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b.fit(more)
    assert b.probas_.equals(x.probas_)


def test_results_false_keeps_the_worker_model_only(crowd, path, tmp_path):
    small = _fit(crowdagg.GLAD(max_iter=5), crowd)
    big_df = crowdagg.datasets.make_crowd(3000, 25, 3, per_item=4, random_state=3).annotations
    big = _fit(crowdagg.GLAD(max_iter=5), big_df)
    p1, p2 = tmp_path / "small", tmp_path / "big"
    small.save(p1, results=False)
    big.save(p2, results=False)
    assert abs(os.path.getsize(p2) - os.path.getsize(p1)) < 600  # no per-item arrays
    b = crowdagg.load(p2)
    assert "log_betas" not in b.params_ and not hasattr(b, "betas_")
    with pytest.raises(NotFittedError, match="saved without its results"):
        b.predict()
    with pytest.raises(NotFittedError):
        b.to_pandas()
    new = big_df.assign(item="n" + big_df["item"].astype(str))
    assert b.predict_proba(new).equals(big.predict_proba(new))


def test_partial_fit_continues_after_loading(path):
    c = crowdagg.datasets.make_crowd(900, 30, 3, random_state=2).annotations
    parts = [c.iloc[i * 900: (i + 1) * 900] for i in range(3)]
    a = crowdagg.DawidSkene(max_iter=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a.partial_fit(parts[0], labels=[0, 1, 2]).partial_fit(parts[1])
        a.save(path, results=False)
        b = crowdagg.load(path)
        a.partial_fit(parts[2])
        b.partial_fit(parts[2])
    assert a.probas_.equals(b.probas_)
    assert all(np.array_equal(a.params_[k], b.params_[k]) for k in a.params_)


# --------------------------------------------------------------------------- errors
def _saved(crowd, path):
    _fit(crowdagg.DawidSkene(max_iter=5), crowd).save(path)
    return path.read_bytes()


def _rewrite(path, name, fn):
    """Rewrite one member of the archive (the others as they are)."""
    with zipfile.ZipFile(path) as zf:
        members = [(i, zf.read(i.filename)) for i in zf.infolist()]
    with zipfile.ZipFile(path, "w") as zf:
        for info, data in members:
            zf.writestr(info, fn(data) if info.filename == name else data)


@pytest.mark.parametrize("keep", [0.98, 0.5, 0.1])
def test_truncated_file(keep, crowd, path):
    data = _saved(crowd, path)
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ModelIntegrityError, match="damaged or truncated") as exc:
        load(path)
    assert isinstance(exc.value, CrowdaggError) and isinstance(exc.value, FormatError)


def test_altered_array(crowd, path):
    _saved(crowd, path)

    def flip(data):
        b = bytearray(data)
        b[-3] ^= 0xFF
        return bytes(b)

    _rewrite(path, "arrays/0.npy", flip)
    with pytest.raises(ModelIntegrityError, match="checksum of 'arrays/0.npy'"):
        load(path)


def test_altered_metadata(crowd, path):
    _saved(crowd, path)
    _rewrite(path, "model.json", lambda d: d.replace(b'"max_iter"', b'"max_itex"'))
    with pytest.raises(ModelIntegrityError, match="checksum of model.json"):
        load(path)


def test_newer_format_version(crowd, path):
    _saved(crowd, path)

    def bump(data):
        magic = json.loads(data)
        magic["format_version"] = FORMAT_VERSION + 1
        return json.dumps(magic).encode()

    _rewrite(path, "crowdagg-model.json", bump)
    with pytest.raises(ModelVersionError, match=f"version {FORMAT_VERSION + 1}.*upgrade crowdagg"):
        load(path)


def test_files_of_another_kind(tmp_path):
    csv = tmp_path / "a.csv"
    csv.write_text("item,worker,label\n1,a,x\n")
    with pytest.raises(ModelFileError, match="not a crowdagg model file"):
        load(csv)
    other = tmp_path / "b.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(ModelFileError, match="zip archive but not a crowdagg model"):
        load(other)
    with pytest.raises(InputFileNotFoundError):
        load(tmp_path / "missing.crowdagg")
    with pytest.raises(NotAFileError):
        load(tmp_path)


def test_classes_outside_crowdagg_are_never_imported(crowd, path, tmp_path):
    _saved(crowd, path)
    marker = tmp_path / "imported"
    (tmp_path / "evil_mod.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    sys.path.insert(0, str(tmp_path))
    try:
        def retarget(data):
            meta = json.loads(data)
            meta["class"] = {"module": "evil_mod", "name": "DawidSkene"}
            return json.dumps(meta).encode()

        with zipfile.ZipFile(path) as zf:
            meta_bytes = retarget(zf.read("model.json"))
        import hashlib

        _rewrite(path, "model.json", lambda d: meta_bytes)
        _rewrite(path, "crowdagg-model.json", lambda d: json.dumps(
            {**json.loads(d), "metadata_sha256": hashlib.sha256(meta_bytes).hexdigest()}).encode())
        with pytest.raises(ModelFileError, match="not part of crowdagg.*classes="):
            load(path)
        assert not marker.exists()
    finally:
        sys.path.remove(str(tmp_path))


def test_unsaveable_state_and_bad_paths(crowd, tmp_path):
    m = _fit(crowdagg.MajorityVote(), crowd)
    m.extra_ = object()
    with pytest.raises(ModelSaveError, match=r"MajorityVote\.extra_"):
        m.save(tmp_path / "x")
    assert not (tmp_path / "x").exists()
    with pytest.raises(OutputError, match="folder"):
        _fit(crowdagg.MajorityVote(), crowd).save(tmp_path)
    with pytest.raises(ModelSaveError):
        crowdagg.persist.save("not an estimator", tmp_path / "y")


def test_unfitted_estimator_round_trips(path):
    crowdagg.GLAD(max_iter=7, alpha_prior=(2.0, 1.0)).save(path)
    b = crowdagg.load(path)
    assert b.max_iter == 7 and b.alpha_prior == (2.0, 1.0)
    with pytest.raises(NotFittedError):
        b.predict()


def test_user_classes_need_classes(tmp_path, crowd):
    spec_path = Path(__file__).resolve().parents[1] / "docs" / "examples" / "accuracy_vote.py"
    import importlib.util

    spec = importlib.util.spec_from_file_location("accuracy_vote", spec_path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("accuracy_vote", mod)
    spec.loader.exec_module(mod)
    cls = sys.modules["accuracy_vote"].AccuracyVote
    est = _fit(cls(max_iter=5), crowd)
    est.save(tmp_path / "m")
    with pytest.raises(ModelFileError, match="classes="):
        load(tmp_path / "m")
    assert load(tmp_path / "m", classes=[cls]).probas_.equals(est.probas_)


# --------------------------------------------------------------------------- the encoding, by property
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_SCALARS = st.one_of(
    st.lists(st.integers(), min_size=1, max_size=8),                          # Python ints of any size
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=8),
    st.lists(st.text(max_size=6), min_size=1, max_size=8),
    st.lists(st.booleans(), min_size=1, max_size=8),
    st.lists(st.one_of(st.none(), st.integers(-5, 5), st.text(max_size=3)), min_size=1, max_size=8),
)


@settings(max_examples=60, deadline=None)
@given(values=_SCALARS, as_object=st.booleans(), name=st.one_of(st.none(), st.text(max_size=4), st.integers()))
def test_any_fitted_value_round_trips_exactly(values, as_object, name, tmp_path_factory):
    """Series, Index, arrays and nests of scalars come back equal, with their dtypes and types."""
    if as_object:
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
    else:
        try:
            arr = np.asarray(values)
        except OverflowError:
            return
        if arr.dtype == object:
            return
    m = crowdagg.MajorityVote()
    m.values_ = arr
    m.series_ = pd.Series(arr, index=pd.RangeIndex(len(arr)) * 3, name=name, dtype=arr.dtype)
    m.nest_ = {"a": tuple(values), 7: [values[0], {None: values[-1]}]}
    path = tmp_path_factory.mktemp("h") / "m"
    m.save(path)
    b = crowdagg.load(path)
    assert b.values_.dtype == arr.dtype and b.values_.shape == arr.shape
    for x, y in zip(arr.tolist(), b.values_.tolist()):
        assert type(x) is type(y) and (x == y or (x != x and y != y))
    assert b.series_.dtype == m.series_.dtype and b.series_.index.equals(m.series_.index)
    assert b.series_.name == name and type(b.series_.name) is type(name)
    assert b.nest_.keys() == m.nest_.keys() and type(b.nest_["a"]) is tuple and len(b.nest_["a"]) == len(values)


def test_bad_path_types(tmp_path, crowd):
    with pytest.raises(ModelFileError, match="str or os.PathLike"):
        load(3)
    with pytest.raises(OutputError, match="str or os.PathLike"):
        _fit(crowdagg.MajorityVote(), crowd).save(3)
