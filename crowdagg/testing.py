"""A public contract suite for aggregation estimators (the analogue of scikit-learn's
``check_estimator``).

:func:`check_aggregator` fits an estimator on small generated crowds and checks
everything a user relies on, whatever the method: the scikit-learn contract
(``fit`` returns ``self``, fitted attributes end in ``_``, parameters untouched by
``fit``, ``clone`` and pickling), every item present with a probability row that
sums to 1, determinism, invariance to the order of the rows and to relabelling
items and workers, ``predict``/``predict_proba`` on an ``AnnotationTable``
and on a DataFrame, and ``save``/``crowdagg.load`` round trips (a loaded model
predicts exactly what the original predicts).  People who write their own method run it in their tests::

    from crowdagg.testing import check_aggregator

    def test_my_method():
        check_aggregator(MyMethod(max_iter=20))

Each check raises :class:`AssertionError` naming the estimator and the broken
rule.  :func:`aggregator_checks` lists the checks, for a parametrized test.

Numeric estimators (a class attribute ``_numeric_output = True``: ``MeanRating``,
``MedianRating``, ``WorkerBiasNoise``) estimate a number per item: ``labels_`` is a
float64 Series and ``stderr_`` its standard error, with no ``probas_``.  They are
fitted on numeric crowds (integer ratings 1-5) and checked on
``(estimate, stderr)`` wherever the others are checked on ``probas_``
(:func:`_outputs`): the probability checks are skipped, ``labels_`` must be
float64, items without answers must get a finite estimate, ``predict(data)`` on
the fitted data must give ``labels_``, and a distributed fit must give the local
``labels`` and ``stderr``.
"""

from __future__ import annotations

import copy
import pickle
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["check_aggregator", "aggregator_checks", "clone"]

_TOL_ORDER = 1e-4  # row order may change float summation order, never the answer
_TOL_EXACT = 1e-9


def clone(estimator: Any) -> Any:
    """A new, unfitted estimator with the same parameters (deep copies, like scikit-learn's).

    A parameter holding a fitted estimator (``init=<fitted estimator>``) is copied
    as it is, fitted state included, so that the clone starts from it too.
    """
    params = {k: copy.deepcopy(v) for k, v in estimator.get_params().items()}
    return type(estimator)(**params)


def _is_numeric(est: Any) -> bool:
    """Whether ``est`` estimates numbers (``_numeric_output``: ``labels_`` floats, ``stderr_``)."""
    return bool(getattr(est, "_numeric_output", False))


def _outputs(est: Any) -> pd.DataFrame:
    """What the checks compare between fits: ``probas_``, or for numeric estimators
    ``(estimate, stderr)`` by item id."""
    if _is_numeric(est):
        return pd.DataFrame({"estimate": est.labels_, "stderr": est.stderr_})
    return est.probas_


def _crowds(numeric: bool = False) -> list[pd.DataFrame]:
    """Two small crowds: string ids with 3 labels, integer ids with 2 labels; one item of each
    has only a null label (so it has no annotation but must be in the output).

    ``numeric``: the same shapes with 5 labels read as integer ratings 1-5 (nullable
    ``Int64``; the null label is ``NA``), for numeric estimators."""
    from .datasets import make_crowd

    out = []
    for n_labels, seed, int_ids in ((3, 0, False), (2, 1, True)):
        c = make_crowd(n_items=120, n_workers=15, n_labels=5 if numeric else n_labels, per_item=4,
                       id_type="int" if int_ids else "str", random_state=seed)
        df = c.annotations.copy()
        extra = pd.DataFrame({"item": [df["item"].iloc[0]], "worker": [df["worker"].iloc[0]],
                              "label": [None]})
        extra["item"] = ["no-answers"] if not int_ids else [-1]
        if numeric:
            ratings = pd.array(pd.Index(sorted(pd.unique(df["label"]))).get_indexer(df["label"]) + 1,
                               dtype="Int64")
            df = pd.concat([df.assign(label=ratings), extra.astype({"label": "Int64"})], ignore_index=True)
        else:
            df = pd.concat([df.astype({"label": object}), extra], ignore_index=True)
        out.append(df)
    return out


def _fit(estimator: Any, data: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimator.fit(data, **kwargs)


def _name(est: Any) -> str:
    return type(est).__name__


def _same_params(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if x is y:
            continue
        try:
            if isinstance(x, (np.ndarray, pd.Series, pd.DataFrame)):
                if not np.array_equal(np.asarray(x), np.asarray(y)):
                    return False
            elif not bool(x == y):
                return False
        except Exception:
            return False
    return True


def _aligned(probas: pd.DataFrame, index: pd.Index) -> np.ndarray:
    return probas.reindex(index).to_numpy(dtype=np.float64)


# --------------------------------------------------------------------------- the checks
def check_fit_returns_self(est: Any, df: pd.DataFrame) -> None:
    e = clone(est)
    assert _fit(e, df) is e, f"{_name(est)}.fit must return self"


def check_params_unchanged_by_fit(est: Any, df: pd.DataFrame) -> None:
    e = clone(est)
    before = {k: copy.deepcopy(v) for k, v in e.get_params().items()}
    _fit(e, df)
    assert _same_params(before, e.get_params()), f"{_name(est)}.fit changed its parameters"


def check_get_set_params(est: Any, df: pd.DataFrame) -> None:
    e = clone(est)
    params = e.get_params()
    assert _same_params(params, est.get_params()), f"clone({_name(est)}) has other parameters"
    assert e.set_params(**params) is e, f"{_name(est)}.set_params must return self"
    assert _same_params(e.get_params(), params)


def check_fitted_attributes(est: Any, df: pd.DataFrame) -> None:
    e = clone(est)
    before = set(vars(e))
    _fit(e, df)
    new = [k for k in set(vars(e)) - before if not k.startswith("_")]
    bad = [k for k in new if not k.endswith("_")]
    assert not bad, f"{_name(est)}.fit set public attributes not ending in '_': {bad}"
    for attr in ("labels_", "stderr_" if _is_numeric(est) else "probas_", "result_"):
        assert hasattr(e, attr), f"{_name(est)} has no {attr} after fit"
    unfitted = clone(est)
    assert not hasattr(unfitted, "labels_"), f"an unfitted {_name(est)} has labels_"


def check_every_item_present(est: Any, df: pd.DataFrame) -> None:
    e = _fit(clone(est), df)
    items = pd.Index(pd.unique(df["item"]))
    assert len(e.labels_) == len(items) and set(e.labels_.index) == set(items), (
        f"{_name(est)}: labels_ does not hold every input item exactly once")
    lab = df["label"].dropna()
    no_answer = sorted(set(df["item"]) - set(df.loc[lab.index, "item"]), key=str)
    if _is_numeric(est):
        assert e.stderr_.index.equals(e.labels_.index), f"{_name(est)}: stderr_ and labels_ index differ"
        est_ = e.labels_.to_numpy(dtype=np.float64)
        se = e.stderr_.to_numpy(dtype=np.float64)
        assert np.all(np.isfinite(e.labels_.loc[no_answer].to_numpy(dtype=np.float64))), (
            f"{_name(est)}: an item without answers got no finite estimate")
        assert np.all(np.isfinite(est_)), f"{_name(est)}: labels_ holds non-finite estimates"
        assert np.all(np.isfinite(se)) and np.all(se >= 0), f"{_name(est)}: stderr_ is not finite and >= 0"
        return
    assert e.probas_.index.equals(e.labels_.index), f"{_name(est)}: probas_ and labels_ index differ"
    assert all(pd.isna(e.labels_.loc[i]) for i in no_answer), (
        f"{_name(est)}: an item without answers got a label")


def check_probabilities(est: Any, df: pd.DataFrame) -> None:
    if _is_numeric(est):
        return  # no class probabilities
    e = _fit(clone(est), df)
    p = e.probas_.to_numpy(dtype=np.float64)
    assert np.all(np.isfinite(p)), f"{_name(est)}: probas_ holds non-finite values"
    assert np.all(p >= -1e-12) and np.all(p <= 1 + 1e-12), f"{_name(est)}: probas_ outside [0, 1]"
    assert np.allclose(p.sum(axis=1), 1.0, atol=1e-9), f"{_name(est)}: probas_ rows do not sum to 1"
    known = e.labels_.notna().to_numpy()
    codes = pd.Index(e.probas_.columns).get_indexer(e.labels_[known])
    assert np.all(codes >= 0), f"{_name(est)}: a label of labels_ is not a column of probas_"

def check_skills(est: Any, df: pd.DataFrame) -> None:
    """``skills_``: one entry per worker (indexed by worker id), probabilities in [0, 1]
    (numeric estimators: only when they have ``skills_``)."""
    e = _fit(clone(est), df)
    if _is_numeric(est) and not hasattr(e, "skills_"):
        return
    skills = getattr(e, "skills_", None)
    assert isinstance(skills, pd.Series), f"{_name(est)}: no skills_ Series (the reliability of each worker)"
    assert skills.index.equals(pd.Index(e.table_.workers)), \
        f"{_name(est)}: skills_ must have one entry per worker, indexed by worker id"
    s = skills.to_numpy(dtype=np.float64)
    assert np.all(np.isfinite(s)), f"{_name(est)}: skills_ holds non-finite values"
    assert np.all((s >= 0) & (s <= 1)), f"{_name(est)}: skills_ outside [0, 1]"


_CLIENT: list[Any] = []


def _dask_client() -> Any:
    """A 2-worker LocalCluster shared by the checks of this process (closed at exit)."""
    if not _CLIENT:
        import atexit

        from distributed import Client, LocalCluster

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                   silence_logs=40)
            client = Client(cluster)
        _CLIENT.extend([client, cluster])
        atexit.register(lambda: (client.close(), cluster.close()))
    return _CLIENT[0]


def check_distributed_equals_local(est: Any, df: pd.DataFrame) -> None:
    """Fit on a ``DaskAnnotationTable`` (a 2-worker LocalCluster, 3 pieces): the same
    posteriors, labels and ``skills_`` as the local fit to 1e-9.  Skipped when dask is not
    installed and for estimators that refuse a distributed table (``InputError``)."""
    try:
        import dask.dataframe as dd
        import distributed  # noqa: F401
    except ImportError:
        return
    from .distributed import DaskAnnotationTable
    from .errors import InputError

    _dask_client()
    dt = DaskAnnotationTable.from_dask_dataframe(dd.from_pandas(df, npartitions=2), npartitions=3)
    try:
        dist = _fit(clone(est), dt)
    except InputError:
        return
    local = _fit(clone(est), df)
    r = dist.result_.compute()
    if _is_numeric(est):
        idx = r.labels.index
        assert len(idx) == len(local.labels_) and set(idx) == set(local.labels_.index), \
            f"{_name(est)}: the distributed result does not hold every item exactly once"
        for what, got, want in (("estimates", r.labels, local.labels_), ("stderr", r.stderr, local.stderr_)):
            assert np.allclose(got.to_numpy(dtype=np.float64), want.loc[idx].to_numpy(dtype=np.float64),
                               rtol=0, atol=_TOL_EXACT), f"{_name(est)}: distributed {what} differ from the local ones"
        if hasattr(local, "skills_"):
            assert np.allclose(dist.skills_.loc[local.skills_.index].to_numpy(), local.skills_.to_numpy(),
                               rtol=0, atol=_TOL_EXACT), f"{_name(est)}: distributed skills_ differ from the local ones"
        return
    idx = r.probas.index
    assert np.allclose(r.probas.to_numpy(), local.probas_.loc[idx].to_numpy(), rtol=0, atol=_TOL_EXACT), \
        f"{_name(est)}: distributed posteriors differ from the local ones"
    a, b = local.labels_.loc[idx], r.labels
    assert (a.isna().to_numpy() == b.isna().to_numpy()).all() and \
        (a.dropna().astype(str).to_numpy() == b.dropna().astype(str).to_numpy()).all(), \
        f"{_name(est)}: distributed labels differ from the local ones"
    if hasattr(local, "skills_"):
        assert np.allclose(dist.skills_.loc[local.skills_.index].to_numpy(), local.skills_.to_numpy(),
                           rtol=0, atol=_TOL_EXACT), f"{_name(est)}: distributed skills_ differ from the local ones"


def check_labels_dtype_stable(est: Any, df: pd.DataFrame) -> None:
    """``labels_`` has one dtype whether or not some item has no answer (and it is
    :func:`crowdagg.results.label_dtype` of the label set)."""
    from .results import label_dtype

    answered = df[df["item"].isin(df.loc[df["label"].notna(), "item"])]
    a = _fit(clone(est), df)
    b = _fit(clone(est), answered)
    assert a.labels_.dtype == b.labels_.dtype, (
        f"{_name(est)}: labels_ is {b.labels_.dtype} when every item has answers but "
        f"{a.labels_.dtype} when one has none")
    want = np.dtype(np.float64) if _is_numeric(est) else label_dtype(pd.Index(a.probas_.columns))
    assert a.labels_.dtype == want, f"{_name(est)}: labels_ is {a.labels_.dtype}, expected {want}"


def check_deterministic(est: Any, df: pd.DataFrame) -> None:
    a = _fit(clone(est), df)
    b = _fit(clone(est), df)
    assert a.labels_.equals(b.labels_), f"{_name(est)}: two fits on the same data gave other labels"
    assert np.array_equal(_outputs(a).to_numpy(), _outputs(b).to_numpy()), (
        f"{_name(est)}: two fits on the same data gave other probabilities")


def check_row_order(est: Any, df: pd.DataFrame) -> None:
    a = _fit(clone(est), df)
    shuffled = df.sample(frac=1.0, random_state=7).reset_index(drop=True)
    b = _fit(clone(est), shuffled)
    pa, pb = _outputs(a), _outputs(b)
    diff = np.abs(_aligned(pa, pa.index) - _aligned(pb, pa.index))
    assert diff.max() <= _TOL_ORDER, (
        f"{_name(est)}: shuffling the rows moved probabilities by {diff.max():.3g} (> {_TOL_ORDER})")


def _check_renamed(est: Any, df: pd.DataFrame, items: dict, workers: dict, what: str) -> None:
    a = _fit(clone(est), df)
    renamed = df.assign(item=df["item"].map(items), worker=df["worker"].map(workers))
    b = _fit(clone(est), renamed)
    pa = _outputs(a)
    back = pd.Index([items[i] for i in pa.index])
    diff = np.abs(pa.to_numpy(dtype=np.float64) - _aligned(_outputs(b), back))
    assert diff.max() <= _TOL_ORDER, (
        f"{_name(est)}: {what} moved probabilities by {diff.max():.3g}")


def check_renamed_ids_in_order(est: Any, df: pd.DataFrame) -> None:
    """Renaming items and workers without changing the sort order of their ids changes nothing."""
    def rename(col: str, prefix: str) -> dict:
        return {v: f"{prefix}{k:06d}" for k, v in enumerate(sorted(pd.unique(df[col])))}
    _check_renamed(est, df, rename("item", "i"), rename("worker", "w"), "renaming ids in order")


def check_relabelled_ids(est: Any, df: pd.DataFrame) -> None:
    """Any renaming of items and workers changes nothing (here: reversed first-appearance order).

    Methods with random restarts draw per-worker starting points in worker-id order,
    so a renaming that reorders the ids hands the draws to other workers: they pass
    :func:`check_renamed_ids_in_order` but may fail this one.
    """
    items = {v: f"i:{k}" for k, v in enumerate(pd.unique(df["item"])[::-1])}
    workers = {v: f"w:{k}" for k, v in enumerate(pd.unique(df["worker"])[::-1])}
    _check_renamed(est, df, items, workers, "renaming items and workers")


def check_pickle(est: Any, df: pd.DataFrame) -> None:
    a = _fit(clone(est), df)
    b = pickle.loads(pickle.dumps(a))
    assert a.labels_.equals(b.labels_) and _outputs(a).equals(_outputs(b)), (
        f"{_name(est)}: a pickled round trip changed the fitted result")
    assert _same_params(a.get_params(), b.get_params())


def check_predict(est: Any, df: pd.DataFrame) -> None:
    """``predict``/``predict_proba`` on a frame and on a table, for methods that apply fitted
    parameters to new data; on the fitted data they give the fitted posteriors."""
    from .errors import CrowdaggError
    from .table import as_table

    a = _fit(clone(est), df)
    if _is_numeric(est):
        _check_predict_numeric(a, df)
        return
    try:
        p_frame = a.predict_proba(df)
    except NotImplementedError:
        return  # the method cannot be applied to new data
    except CrowdaggError as exc:  # pragma: no cover - a contract failure
        raise AssertionError(f"{_name(est)}.predict_proba(frame) raised {exc!r}") from None
    table = as_table(df, labels=list(a.probas_.columns))
    p_table = a.predict_proba(table)
    for what, p in (("frame", p_frame), ("table", p_table)):
        diff = np.abs(_aligned(p, a.probas_.index) - a.probas_.to_numpy())
        assert diff.max() <= 1e-6, (
            f"{_name(est)}.predict_proba({what}) on the fitted data differs from probas_ by {diff.max():.3g}")
    labels = a.predict(table)
    assert labels.index.equals(a.labels_.index), f"{_name(est)}.predict(table) lost items"


def _check_predict_numeric(a: Any, df: pd.DataFrame) -> None:
    """Numeric estimators: ``predict(frame)`` and ``predict(table)`` on the fitted data give
    ``labels_``; ``predict()`` is ``labels_``; ``predict_proba`` raises a crowdagg error."""
    from .errors import CrowdaggError
    from .table import as_table

    assert a.predict().equals(a.labels_), f"{_name(a)}.predict() is not labels_"
    for what, data in (("frame", df), ("table", as_table(df))):
        try:
            got = a.predict(data)
        except NotImplementedError:
            return  # the method cannot be applied to new data
        except CrowdaggError as exc:  # pragma: no cover - a contract failure
            raise AssertionError(f"{_name(a)}.predict({what}) raised {exc!r}") from None
        assert len(got) == len(a.labels_) and set(got.index) == set(a.labels_.index), \
            f"{_name(a)}.predict({what}) lost items"
        diff = np.abs(got.reindex(a.labels_.index).to_numpy(dtype=np.float64) - a.labels_.to_numpy(dtype=np.float64))
        assert diff.max() <= 1e-6, (
            f"{_name(a)}.predict({what}) on the fitted data differs from labels_ by {diff.max():.3g}")
    try:
        a.predict_proba(df)
    except (NotImplementedError, CrowdaggError):
        pass
    else:
        raise AssertionError(f"{_name(a)} estimates numbers but predict_proba returned probabilities")


def _same_value(x: Any, y: Any) -> bool:
    """Exact equality of fitted values (pandas objects with their dtypes, arrays, nests)."""
    import dataclasses

    from .table import AnnotationTable

    if isinstance(x, (pd.Series, pd.DataFrame, pd.Index)):
        return type(x) is type(y) and x.equals(y) and (
            x.dtypes.equals(y.dtypes) if isinstance(x, pd.DataFrame) else x.dtype == y.dtype) and (
            x.index.equals(y.index) and x.index.dtype == y.index.dtype if not isinstance(x, pd.Index) else True)
    if isinstance(x, np.ndarray):
        return isinstance(y, np.ndarray) and x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind == "f")
    if isinstance(x, dict):
        return isinstance(y, dict) and x.keys() == y.keys() and all(_same_value(x[k], y[k]) for k in x)
    if isinstance(x, (tuple, list)):
        return type(x) is type(y) and len(x) == len(y) and all(_same_value(a, b) for a, b in zip(x, y))
    if isinstance(x, AnnotationTable):
        return all(_same_value(getattr(x, k), getattr(y, k)) for k in ("workers", "labels"))
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return type(x) is type(y) and all(_same_value(getattr(x, f.name), getattr(y, f.name))
                                          for f in dataclasses.fields(x))
    if isinstance(x, float) and isinstance(y, float) and np.isnan(x):
        return bool(np.isnan(y))
    try:
        return type(x) is type(y) and bool(x == y)
    except Exception:  # noqa: BLE001 - objects without equality
        return type(x) is type(y)


def check_save_load(est: Any, df: pd.DataFrame) -> None:
    """``save`` / :func:`crowdagg.load` round trips (:mod:`crowdagg.persist`): the loaded model has
    the same parameters and every fitted attribute (``labels_``, ``probas_``, ``params_``,
    ``skills_``, diagnostics; ``table_``'s codebooks) with its dtype, and predicts new data exactly
    as the original does; saved with ``results=False`` it still predicts new items exactly."""
    import os
    import tempfile

    from .errors import CrowdaggError
    from .persist import load

    a = _fit(clone(est), df)
    renamed = df.assign(item=df["item"].map(lambda i: f"new:{i}"))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.crowdagg")
        a.save(path)
        b = load(path, classes=[type(est)])
        a.save(path, results=False)
        c = load(path, classes=[type(est)])
    assert type(b) is type(a), f"{_name(est)}: load gave a {type(b).__name__}"
    assert _same_params(a.get_params(), b.get_params()), f"{_name(est)}: a saved model lost its parameters"
    for attr in sorted(k for k in vars(a) if k.endswith("_") and not k.startswith("_")):
        assert hasattr(b, attr) and _same_value(getattr(a, attr), getattr(b, attr)), \
            f"{_name(est)}: the loaded model's {attr} differs from the saved one"
    if hasattr(a, "skills_"):
        assert _same_value(a.skills_, b.skills_), f"{_name(est)}: the loaded model's skills_ differ"
    assert _same_value(_outputs(a), _outputs(b)), f"{_name(est)}: the loaded model's fitted outputs differ"
    for what, model in (("a loaded model", b), ("a model saved with results=False", c)):
        for new in ((df, renamed) if model is b else (renamed,)):
            try:
                want = a.predict_proba(new)
            except (NotImplementedError, AttributeError, CrowdaggError):  # no probabilities (ratings)
                want = None
            if want is not None:
                got = model.predict_proba(new)
                assert got.index.equals(want.index) and np.array_equal(got.to_numpy(), want.to_numpy()), \
                    f"{_name(est)}: {what} predicts other probabilities"
            try:
                want_l = a.predict(new)
            except (NotImplementedError, CrowdaggError):  # cannot be applied to new data
                continue
            assert _same_value(want_l, model.predict(new)), f"{_name(est)}: {what} predicts other labels"


_CHECKS: tuple[Callable[[Any, pd.DataFrame], None], ...] = (
    check_get_set_params,
    check_fit_returns_self,
    check_params_unchanged_by_fit,
    check_fitted_attributes,
    check_every_item_present,
    check_probabilities,
    check_labels_dtype_stable,
    check_skills,
    check_deterministic,
    check_row_order,
    check_renamed_ids_in_order,
    check_relabelled_ids,
    check_pickle,
    check_predict,
    check_save_load,
    check_distributed_equals_local,
)


def aggregator_checks(estimator: Any) -> Iterator[tuple[str, Callable[[], None]]]:
    """``(name, check)`` pairs: each ``check()`` runs one rule on every generated crowd."""
    crowds = _crowds(numeric=_is_numeric(estimator))
    for fn in _CHECKS:
        def run(fn: Callable[[Any, pd.DataFrame], None] = fn) -> None:
            for df in crowds:
                fn(estimator, df)
        yield fn.__name__, run


def check_aggregator(estimator: Any) -> None:
    """Run every contract check on ``estimator`` (unfitted; it is cloned, never modified).

    Raises
    ------
    AssertionError
        The first broken rule, naming the estimator and the check.
    """
    for name, run in aggregator_checks(estimator):
        try:
            run()
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None
