"""Estimator contract shared by every crowdagg method (scikit-learn style).

* ``__init__`` only stores its arguments (no validation, no logic);
* ``fit(data, ...)`` returns ``self``; fitted attributes end in ``_``;
* ``get_params``/``set_params`` work as in scikit-learn: ``set_params`` stores any
  value; ``fit`` checks every parameter against the class's
  ``_parameter_constraints`` before any work (:meth:`BaseEstimator._validate_params`).
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from ._validation import validate_params
from .errors import InputError, NotFittedError, ParameterError
from .kernels._util import parallel_guard
from .results import AggregationResult, decode_labels
from .table import AnnotationTable, as_table

__all__ = ["BaseEstimator", "BaseAggregator"]


class BaseEstimator:
    """``get_params``/``set_params``/``repr`` from the ``__init__`` signature.

    Subclasses declare ``_parameter_constraints``: every ``__init__`` parameter ->
    a list of constraints, any one of which its value must satisfy (see
    :mod:`crowdagg._validation`); ``fit`` calls :meth:`_validate_params` first.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {}

    def _validate_params(self) -> None:
        """Check every parameter against ``_parameter_constraints``.

        Raises
        ------
        ParameterError
            Naming the estimator, the parameter, the rule and the value.
        """
        validate_params(type(self).__name__, self._parameter_constraints, self.get_params(deep=False))

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The estimator's parameters, as given to ``__init__``."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> BaseEstimator:
        """Set parameters by name; returns ``self``."""
        valid = self._param_names()
        for key, value in params.items():
            if key not in valid:
                raise ParameterError(
                    f"invalid parameter {key!r} for {type(self).__name__}; valid parameters: {valid}"
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        sig = inspect.signature(type(self).__init__)
        parts = []
        for name, value in self.get_params().items():
            default = sig.parameters[name].default
            try:
                same = default is not inspect.Parameter.empty and bool(value == default)
            except Exception:  # arrays, frames
                same = False
            if not same:
                parts.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


class BaseAggregator(BaseEstimator):
    """Base of the aggregation methods: table in, one label per item out.

    Subclasses implement ``_fit(table, gold_codes)`` returning posteriors
    (items x labels, rows summing to 1) and may override ``_predict_posteriors``
    to apply fitted parameters to new data.
    """

    def _repr_html_(self) -> str:
        """Rich display in Jupyter (see :mod:`crowdagg.reporting._repr`)."""
        from .reporting._repr import html_repr

        return html_repr(self)

    def _check_fitted(self) -> None:
        # a model loaded from a file saved with results=False has its parameters and
        # codebooks (table_) but no per-item results
        if not hasattr(self, "result_") and not hasattr(self, "table_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(data) first"
            )

    def _check_results(self) -> None:
        """The fitted data's results exist (not a model saved with ``results=False``)."""
        self._check_fitted()
        if not hasattr(self, "result_"):
            raise NotFittedError(
                f"this {type(self).__name__} was loaded from a model saved without its results "
                "(save(path, results=True) keeps them); pass data to predict / predict_proba"
            )

    # ----------------------------------------------------------------- saved models
    #: private attributes never saved (see :mod:`crowdagg.persist`)
    _persist_skip: ClassVar[tuple[str, ...]] = ()

    def save(self, path: Any, *, results: bool = True) -> Any:
        """Write this estimator (hyper-parameters and fitted state) to a crowdagg model file.

        A zip of JSON metadata and NumPy arrays, never pickle; read it back with
        :func:`crowdagg.load`.  See :mod:`crowdagg.persist` for the format.

        Parameters
        ----------
        path : str or os.PathLike
        results : bool, default True
            Keep the per-item results of the fitted data (``labels_``, ``probas_``,
            per-item parameters); ``False`` keeps the worker model only.

        Returns
        -------
        pathlib.Path
        """
        from .persist import save

        return save(self, path, results=results)

    def _item_param_names(self) -> tuple[str, ...]:
        """Names in ``params_`` of per-item parameters (left out by ``save(results=False)``)."""
        return ()

    def _persist_state(self, results: bool) -> dict[str, Any]:
        """The fitted state to save: public attributes ending in ``_`` and private plain data
        (the protocol of :mod:`crowdagg.persist`)."""
        from .persist import _is_plain

        cls = type(self)
        for name in dir(cls):  # fill lazily computed attributes (served by properties)
            if name.endswith("_") and not name.startswith("_") and isinstance(getattr(cls, name, None), property):
                try:
                    getattr(self, name)
                except Exception:  # noqa: BLE001 - not available on this fit: nothing to fill
                    pass
        skip = set(self._persist_skip)
        state: dict[str, Any] = {}
        for k, v in vars(self).items():
            if k in skip or k.startswith("__"):
                continue
            public = not k.startswith("_") and k.endswith("_")
            if public or (k.startswith("_") and _is_plain(v)):
                state[k] = v
        res = state.get("result_")
        if res is not None:  # labels_ / probas_ are the result's: stored once
            for k, part in (("labels_", "labels"), ("probas_", "probas")):
                if k in state and state[k] is not None and state[k] is getattr(res, part, None):
                    state.pop(k)
        if not results:
            table = state.get("table_")
            items = getattr(table, "items", None)
            for k in ("result_", "labels_", "probas_"):
                state.pop(k, None)
            for k in list(state):  # a distributed fit's per-item results (Dask collections)
                if type(state[k]).__module__.split(".")[0] == "dask":
                    state.pop(k)
            if isinstance(items, pd.Index) and len(items):
                for k in list(state):
                    v = state[k]
                    if isinstance(v, (pd.Series, pd.DataFrame)) and len(v.index) == len(items) \
                            and v.index.equals(items):
                        state.pop(k)
                if isinstance(table, AnnotationTable):
                    state["table_"] = AnnotationTable.empty(pd.Index([], dtype=object), table.workers,
                                                            table.labels)
            if isinstance(state.get("params_"), dict):
                drop = set(self._item_param_names())
                state["params_"] = {k: v for k, v in state["params_"].items() if k not in drop}
        return state

    def _restore_state(self, state: dict[str, Any]) -> None:
        """Set the saved fitted state (properties are left to compute from it)."""
        cls = type(self)
        res = state.get("result_")
        for k, v in state.items():
            if isinstance(getattr(cls, k, None), property):
                continue
            setattr(self, k, v)
        if res is not None:
            for k, part in (("labels_", "labels"), ("probas_", "probas")):
                if k not in state and hasattr(res, part) and not isinstance(getattr(cls, k, None), property):
                    setattr(self, k, getattr(res, part))

    @staticmethod
    def _no_table_options(table_kwargs: dict[str, Any]) -> None:
        """Refuse table-building options for an input that is already a distributed table."""
        if table_kwargs:
            raise InputError(
                f"options {sorted(table_kwargs)} apply when building a table; this input is already "
                "a DaskAnnotationTable"
            )

    @classmethod
    def _as_table(cls, data: Any, table_kwargs: dict[str, Any]) -> AnnotationTable:
        if is_distributed_table(data):
            raise InputError(f"{cls.__name__} has no distributed implementation (an EMAggregator with an "
                             "EM plug-in, or an estimator whose fit handles a distributed table, has one)")
        with parallel_guard():  # the table build runs parallel kernels (string hashing)
            return as_table(data, **table_kwargs)

    def _set_result(
        self,
        table: AnnotationTable,
        posteriors: np.ndarray,
        label_codes: np.ndarray | None = None,
    ) -> None:
        """Store ``labels_``, ``probas_`` and ``result_`` from posteriors in code order.

        ``label_codes`` (``-1`` = no label) defaults to the posterior argmax
        (first maximum) for items with annotations and ``-1`` for items without.
        """
        if label_codes is None:
            label_codes = default_label_codes(table, posteriors)
        self.store_result(table, AggregationResult.from_codes(table, posteriors, label_codes))

    def store_result(self, table: Any, result: Any, **extra: Any) -> None:
        """Set ``table_``, ``result_``, ``labels_`` and ``probas_`` (and ``extra`` fitted
        attributes, names ending in ``_``) from a result object with ``labels`` and
        ``probas``: an :class:`AggregationResult`, or the Dask result of a distributed
        fit (the executors call this; it is the one place that writes them)."""
        bad = [k for k in extra if not k.endswith("_")]
        if bad:
            raise InputError(f"fitted attributes end in '_': {bad}")
        self.table_ = table
        self.result_ = result
        self.labels_ = result.labels
        self.probas_ = result.probas
        for k, v in extra.items():
            setattr(self, k, v)

    def fit_predict(self, data: Any, **kwargs: Any) -> pd.Series:
        """Fit and return ``labels_`` (one label per item, indexed by item id)."""
        return self.fit(data, **kwargs).labels_

    def fit_predict_proba(self, data: Any, **kwargs: Any) -> pd.DataFrame:
        """Fit and return ``probas_`` (items x labels)."""
        return self.fit(data, **kwargs).probas_

    def _new_table(self, data: Any, table_kwargs: dict[str, Any]) -> AnnotationTable:
        """New data as a table in the fitted label set (a built table must already use it)."""
        labels = self.table_.labels
        if isinstance(data, AnnotationTable):
            if table_kwargs:
                raise InputError(f"options {sorted(table_kwargs)} apply when building a table; this input "
                                 "is already an AnnotationTable")
            if not data.labels.equals(labels):
                raise InputError(
                    f"this table has labels {data.labels.tolist()[:20]} but the model was fitted on "
                    f"{labels.tolist()[:20]}; build it with labels={labels.tolist()[:20]!r}"
                )
            return data
        return self._as_table(data, {"labels": list(labels), **table_kwargs})

    def _predict_result(self, data: Any, table_kwargs: dict[str, Any]) -> AggregationResult:
        table = self._new_table(data, table_kwargs)
        post = self._predict_posteriors(table)
        return AggregationResult.from_codes(table, post, default_label_codes(table, post))

    def predict_proba(self, data: Any = None, **table_kwargs: Any) -> pd.DataFrame:
        """Posteriors: of the fitted data, or of new ``data`` under the fitted parameters.

        ``data`` is anything ``fit`` accepts; it must use labels of the fitted label
        set (an :class:`~crowdagg.table.AnnotationTable` must have been built with
        ``labels=`` the fitted ``table_.labels``).  Workers the model has not seen
        get the method's prior.
        """
        self._check_fitted()
        if data is None:
            self._check_results()
            return self.probas_
        return self._predict_result(data, table_kwargs).probas

    def predict(self, data: Any = None, **table_kwargs: Any) -> pd.Series:
        """Labels: of the fitted data, or of new ``data`` under the fitted parameters
        (see :meth:`predict_proba`)."""
        self._check_fitted()
        if data is None:
            self._check_results()
            return self.labels_
        return self._predict_result(data, table_kwargs).labels

    def _predict_posteriors(self, table: AnnotationTable) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError(f"{type(self).__name__} cannot be applied to new data")

    def to_pandas(self) -> pd.DataFrame:
        """The fitted result as a DataFrame (see :meth:`AggregationResult.to_pandas`)."""
        self._check_results()
        return self.result_.to_pandas()

    def to_polars(self):
        """The fitted result as a polars DataFrame."""
        self._check_results()
        return self.result_.to_polars()


def default_label_codes(table: AnnotationTable, posteriors: np.ndarray) -> np.ndarray:
    """Argmax of each row (first maximum); -1 for items with no annotation."""
    codes = np.argmax(posteriors, axis=1).astype(np.int64)
    codes[table.item_counts() == 0] = -1
    return codes


def is_distributed_table(data: Any) -> bool:
    """True for a distributed table: an object whose class sets ``crowdagg_distributed = True``
    and offers ``executor(gold=, rng=)`` (:class:`crowdagg.distributed.DaskAnnotationTable`);
    checked without importing Dask."""
    return getattr(type(data), "crowdagg_distributed", False) is True


__all__ += ["default_label_codes", "decode_labels", "is_distributed_table"]
