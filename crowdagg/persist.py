"""Saved models: ``estimator.save(path)`` and ``crowdagg.load(path)``, without pickle.

A saved model is a portable, versioned file: a zip archive of JSON metadata and
NumPy ``.npy`` arrays (read back with ``allow_pickle=False``), holding the
estimator's class, its hyper-parameters (``get_params``), its fitted state (the
parameters, the codebooks with the original worker / label / item ids and their
exact dtypes, the diagnostics such as ``n_iter_``, ``loglik_``, ``converged_``,
the incremental state of :meth:`~crowdagg.em.EMAggregator.partial_fit`) and the
crowdagg version that wrote it.  The annotations themselves are never saved.

File layout (format version 1)
------------------------------
``crowdagg-model.json`` (the first member)
    ``{"format": "crowdagg-model", "format_version": 1, "metadata_sha256": ...}``:
    what the file is, and the SHA-256 of ``model.json``.
``model.json``
    ``crowdagg_version``, ``created`` (UTC), ``class`` (module and name),
    ``params`` (the hyper-parameters), ``state`` (the fitted attributes), ``results``
    (whether per-item results were kept), ``libraries`` (numpy, pandas, python
    versions) and ``arrays``: the SHA-256 and size of every array member.
``arrays/<n>.npy``
    One array each (numbers, bools, datetimes; never object arrays).

Values are written as typed JSON nodes (``{"t": kind, ...}``), so that every id
comes back with its type: Python ints of any size, floats (NaN and infinities
included), bools, strings, ``None``, NumPy scalars, numeric / bool / datetime NumPy
arrays, object arrays of those scalars, ``pandas.Index`` (numpy dtypes, ``object``,
the ``str``/``string`` dtypes, nullable ``Int64``/``UInt64``/``Float64``/``boolean``,
categoricals), ``RangeIndex``, ``MultiIndex``, ``Series``, ``DataFrame``, tuples,
lists, dicts (any saveable keys), dataclasses of saveable fields (of crowdagg's
classes, or of ``classes=``), NumPy random generators and seed sequences,
:class:`~crowdagg.em.Max`, :class:`~crowdagg.results.AggregationResult`, an
:class:`~crowdagg.table.AnnotationTable` (its codebooks only: a loaded model's
``table_`` has no annotations) and nested estimators (``init=<fitted estimator>``).

Errors: a missing path raises :class:`~crowdagg.errors.InputFileNotFoundError`; a
file that is not a crowdagg model (not a zip, or a zip of something else)
:class:`ModelFileError`; a file from a newer format version
:class:`ModelVersionError`; a truncated or altered file (a checksum or a zip CRC
does not match) :class:`ModelIntegrityError`; a state that cannot be written
(an attribute of an unsupported type) :class:`ModelSaveError`.  All derive from
:class:`~crowdagg.errors.CrowdaggError`.  Checksums detect damage and accidental
edits, not a deliberate forgery; loading never runs code from the file (no
pickle; the class must live in ``crowdagg`` or be passed in ``classes=``).

The protocol (how a method's fitted state is saved)
---------------------------------------------------
A method needs no code of its own when it follows the estimator contract: the
constructor arguments are the hyper-parameters, and the fitted state is its
instance attributes.  :meth:`crowdagg.base.BaseAggregator._persist_state` collects

* every public attribute ending in ``_`` (``params_``, ``skills_``,
  ``confusions_``, ``n_iter_``, ``loglik_``, ``table_``, ``result_``, ...): each
  must be of a saveable type above, else :class:`ModelSaveError` names it;
* private attributes (``_name``) whose values are plain data (``None``, scalars,
  arrays, pandas objects and tuples / lists / dicts of those); others (plug-in
  objects, pending computations holding a table) are left out -- they must be
  derivable again;
* before collecting, every public *property* ending in ``_`` is read once, so
  that lazily computed attributes (``MajorityVote.skills_``) are filled; after
  loading they are served from the saved private attribute.  Properties are
  never written back.

``save(path, results=False)`` leaves out the per-item results (``result_``,
``labels_``, ``probas_``, every Series / DataFrame indexed by the fitted items and
the plug-in's per-item parameters, :attr:`crowdagg.em.EMModel.item_params`):
the file then holds the worker model only, its size independent of the number
of items.  A model loaded that way predicts new data (``predict(data)``),
warm-starts ``fit`` and continues ``partial_fit``; ``predict()`` without data
raises :class:`~crowdagg.errors.NotFittedError`.

A method whose state does not fit these rules overrides
``_persist_state(self, results: bool) -> dict`` and ``_restore_state(self,
state: dict) -> None`` (call the base ones and adjust), or sets the class
attribute ``_persist_skip = ("_attr", ...)`` to leave attributes out.  A method
that adds a hyper-parameter whose default changes what an old model predicts
names, in the class attribute ``_params_before_they_existed = {"name": value}``,
the value that reproduces the old behaviour: a file without that parameter is
loaded with it (``MACE``: ``decision="posterior"``).
:func:`crowdagg.testing.check_aggregator` checks the round trip (a loaded model
predicts what the original predicts, to the last bit) for every estimator.

Example
-------
>>> import crowdagg, tempfile, os
>>> df = crowdagg.datasets.make_crowd(200, 20, 3, random_state=0).annotations
>>> ds = crowdagg.DawidSkene().fit(df)
>>> path = os.path.join(tempfile.mkdtemp(), "ds.crowdagg")
>>> _ = ds.save(path)
>>> back = crowdagg.load(path)
>>> bool((back.predict(df) == ds.predict(df)).all())
True
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import importlib
import io
import json
import os
import platform
import tempfile
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import (
    CrowdaggError,
    FileAccessError,
    InputFileNotFoundError,
    ModelFileError,
    ModelIntegrityError,
    ModelSaveError,
    ModelVersionError,
    NotAFileError,
    OutputError,
)

__all__ = ["save", "load", "read_metadata", "FORMAT", "FORMAT_VERSION", "ModelFileError", "ModelVersionError",
           "ModelIntegrityError", "ModelSaveError"]

#: The ``format`` field of every crowdagg model file.
FORMAT = "crowdagg-model"
#: The format version this crowdagg writes, and the newest it reads.
FORMAT_VERSION = 1
_MAGIC = "crowdagg-model.json"
_META = "model.json"


# --------------------------------------------------------------------------- encoding
_NUMPY_KINDS = "biufcmMUS"  # what .npy holds without pickle


def _tag(v: Any, where: str) -> list[Any]:
    """A scalar as a typed JSON list (exact for ints of any size, floats, bools, strings)."""
    if v is None:
        return ["none"]
    if v is pd.NA:
        return ["na"]
    if v is pd.NaT:
        return ["nat"]
    tv = type(v)
    if tv is bool:
        return ["b", v]
    if tv is int:
        return ["i", str(v)]
    if tv is float:
        return ["f", repr(v)]
    if tv is str:
        return ["s", v]
    if isinstance(v, np.generic) and v.dtype.kind in _NUMPY_KINDS:
        return ["np", v.dtype.str, v.tobytes().hex()]
    if isinstance(v, str):  # str subclasses (numpy str_)
        return ["s", str(v)]
    if type(v).__module__.split(".")[0] in ("dask", "distributed"):
        raise ModelSaveError(f"cannot save {where}: it is a Dask collection (a distributed fit's per-item "
                             "results); save(path, results=False) keeps the worker model only")
    raise ModelSaveError(f"cannot save {where}: values of type {type(v).__name__} ({v!r:.60}) are not supported")


def _untag(t: list[Any]) -> Any:
    kind = t[0]
    if kind == "none":
        return None
    if kind == "na":
        return pd.NA
    if kind == "nat":
        return pd.NaT
    if kind == "b":
        return bool(t[1])
    if kind == "i":
        return int(t[1])
    if kind == "f":
        return float(t[1])
    if kind == "s":
        return str(t[1])
    if kind == "np":
        return np.frombuffer(bytes.fromhex(t[2]), dtype=np.dtype(t[1]))[0]
    raise ModelFileError(f"unknown scalar kind {kind!r} in the model file")


def _is_plain(v: Any) -> bool:
    """Plain data: saved when held by a private attribute (tables and objects are not)."""
    if v is None or isinstance(v, (bool, int, float, str, np.generic, np.ndarray, pd.Index, pd.Series,
                                   pd.DataFrame)):
        return True
    if isinstance(v, (tuple, list)):
        return all(_is_plain(x) for x in v)
    if isinstance(v, dict):
        return all(_is_plain(k) and _is_plain(x) for k, x in v.items())
    return False


class _Writer:
    def __init__(self) -> None:
        self.arrays: list[tuple[str, bytes]] = []

    def array(self, arr: np.ndarray, where: str) -> dict[str, Any]:
        arr = np.asarray(arr)
        if arr.dtype.kind not in _NUMPY_KINDS or arr.dtype.hasobject:
            return {"t": "obj", "shape": list(arr.shape),
                    "v": [_tag(x, where) for x in arr.ravel(order="C").tolist()]}
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
        name = f"arrays/{len(self.arrays)}.npy"
        self.arrays.append((name, buf.getvalue()))
        return {"t": "nd", "a": name}

    def values(self, values: Any, where: str) -> dict[str, Any]:
        """The values of an Index / Series / column (numpy or pandas extension arrays)."""
        if isinstance(values, pd.arrays.NumpyExtensionArray):  # a DataFrame column's .array (pandas 3)
            values = values.to_numpy()
        dtype = values.dtype
        if isinstance(dtype, np.dtype):
            arr = np.asarray(values)
            if dtype.kind == "O":
                return {"t": "obj", "shape": [len(arr)], "v": [_tag(x, where) for x in arr.tolist()]}
            return self.array(arr, where)
        if isinstance(dtype, pd.StringDtype):
            na = "nan" if dtype.na_value is not pd.NA else "NA"
            vals = [None if pd.isna(x) else str(x) for x in values]
            return {"t": "string", "storage": dtype.storage, "na": na, "v": vals}
        if isinstance(dtype, pd.CategoricalDtype):
            cat = pd.Categorical(values)
            return {"t": "cat", "categories": self.encode(pd.Index(cat.categories), where),
                    "codes": self.array(cat.codes, where), "ordered": bool(cat.ordered)}
        arr = pd.array(values)
        if isinstance(arr, pd.api.extensions.ExtensionArray) and hasattr(arr, "_mask") and hasattr(arr, "_data"):
            return {"t": "masked", "dtype": str(dtype), "data": self.array(arr._data, where),
                    "mask": self.array(arr._mask, where)}
        raise ModelSaveError(f"cannot save {where}: values of dtype {dtype} are not supported")

    def encode(self, v: Any, where: str) -> dict[str, Any]:
        from .base import BaseAggregator, is_distributed_table
        from .em import Max
        from .results import AggregationResult
        from .table import AnnotationTable

        if isinstance(v, BaseAggregator):
            return {"t": "estimator", **_encode_estimator(v, self, results=True, where=where)}
        if is_distributed_table(v):  # a distributed fit's table: its worker and label codebooks
            return {"t": "table", "items": None, "workers": self.encode(pd.Index(v.workers), where + ".workers"),
                    "labels": self.encode(pd.Index(v.labels), where + ".labels")}
        if isinstance(v, AnnotationTable):
            items = v.items if len(v.items) else None
            return {"t": "table", "items": None if items is None else self.encode(items, where + ".items"),
                    "workers": self.encode(v.workers, where + ".workers"),
                    "labels": self.encode(v.labels, where + ".labels")}
        if isinstance(v, AggregationResult):
            return {"t": "result", "labels": self.encode(v.labels, where + ".labels"),
                    "probas": self.encode(v.probas, where + ".probas")}
        if isinstance(v, Max):
            return {"t": "max", "v": self.encode(v.value, where)}
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {"t": "dataclass", "class": _class_ref(type(v)),
                    "fields": {f.name: self.encode(getattr(v, f.name), f"{where}.{f.name}")
                               for f in dataclasses.fields(v)}}
        if isinstance(v, pd.MultiIndex):
            return {"t": "multi", "levels": [self.encode(lv, where) for lv in v.levels],
                    "codes": [self.array(np.asarray(c), where) for c in v.codes],
                    "names": [self.encode(n, where) for n in v.names]}
        if isinstance(v, pd.RangeIndex):
            return {"t": "range", "start": v.start, "stop": v.stop, "step": v.step,
                    "name": self.encode(v.name, where)}
        if isinstance(v, pd.Index):
            return {"t": "index", "values": self.values(v, where), "name": self.encode(v.name, where)}
        if isinstance(v, pd.Series):
            return {"t": "series", "index": self.encode(v.index, where + ".index"),
                    "values": self.values(v.array if not isinstance(v.dtype, np.dtype) else v.to_numpy(), where),
                    "name": self.encode(v.name, where)}
        if isinstance(v, pd.DataFrame):
            node: dict[str, Any] = {"t": "frame", "index": self.encode(v.index, where + ".index"),
                                    "columns": self.encode(v.columns, where + ".columns")}
            dtypes = set(v.dtypes.tolist())
            if v.shape[1] and len(dtypes) == 1 and isinstance(next(iter(dtypes)), np.dtype) \
                    and next(iter(dtypes)).kind in _NUMPY_KINDS:
                node["block"] = self.array(v.to_numpy(), where)
            else:
                node["cols"] = [self.values(v.iloc[:, j].array, f"{where}[{v.columns[j]!r}]")
                                for j in range(v.shape[1])]
            return node
        if isinstance(v, np.ndarray):
            return self.array(v, where)
        if isinstance(v, tuple):
            return {"t": "tuple", "v": [self.encode(x, f"{where}[{i}]") for i, x in enumerate(v)]}
        if isinstance(v, list):
            return {"t": "list", "v": [self.encode(x, f"{where}[{i}]") for i, x in enumerate(v)]}
        if isinstance(v, dict):
            return {"t": "dict", "v": [[self.encode(k, where), self.encode(x, f"{where}[{k!r}]")]
                                       for k, x in v.items()]}
        if isinstance(v, np.random.Generator):
            return {"t": "generator", "state": self.encode(v.bit_generator.state, where)}
        if isinstance(v, np.random.RandomState):
            return {"t": "randomstate", "state": self.encode(v.get_state(legacy=False), where)}
        if isinstance(v, np.random.SeedSequence):
            return {"t": "seedseq", "entropy": self.encode(v.entropy, where),
                    "spawn_key": self.encode(tuple(v.spawn_key), where), "pool_size": int(v.pool_size),
                    "n_children": int(v.n_children_spawned)}
        return {"t": "val", "v": _tag(v, where)}


class _Reader:
    def __init__(self, zf: zipfile.ZipFile, checksums: dict[str, Any], classes: dict[tuple[str, str], type]) -> None:
        self.zf = zf
        self.checksums = checksums
        self.classes = classes

    def array(self, node: dict[str, Any]) -> np.ndarray:
        if node["t"] == "obj":
            flat = [_untag(x) for x in node["v"]]
            out = np.empty(len(flat), dtype=object)
            out[:] = flat
            return out.reshape(node["shape"])
        name = node["a"]
        info = self.checksums.get(name)
        if info is None:
            raise ModelIntegrityError(f"model file: the array {name!r} is not listed in its metadata")
        data = _read_member(self.zf, name)
        if hashlib.sha256(data).hexdigest() != info["sha256"]:
            raise ModelIntegrityError(f"model file: the checksum of {name!r} does not match (the file was altered "
                                      "or damaged)")
        try:
            return np.load(io.BytesIO(data), allow_pickle=False)
        except ValueError as exc:
            raise ModelIntegrityError(f"model file: {name!r} is not a readable array: {exc}") from None

    def values(self, node: dict[str, Any]) -> Any:
        t = node["t"]
        if t in ("nd", "obj"):
            return self.array(node)
        if t == "string":
            na = np.nan if node["na"] == "nan" else pd.NA
            vals = [na if x is None else x for x in node["v"]]
            return pd.array(vals, dtype=pd.StringDtype(node["storage"], na_value=na))
        if t == "cat":
            cats = self.decode(node["categories"])
            return pd.Categorical.from_codes(self.array(node["codes"]), categories=cats, ordered=node["ordered"])
        if t == "masked":
            data, mask = self.array(node["data"]), self.array(node["mask"])
            dtype = pd.api.types.pandas_dtype(node["dtype"])
            return dtype.construct_array_type()(data, mask)
        raise ModelFileError(f"unknown value kind {t!r} in the model file")

    def decode(self, node: dict[str, Any]) -> Any:
        t = node["t"]
        if t == "val":
            return _untag(node["v"])
        if t in ("nd", "obj"):
            return self.array(node)
        if t == "tuple":
            return tuple(self.decode(x) for x in node["v"])
        if t == "list":
            return [self.decode(x) for x in node["v"]]
        if t == "dict":
            return {self.decode(k): self.decode(x) for k, x in node["v"]}
        if t == "index":
            vals = self.values(node["values"])
            name = self.decode(node["name"])
            if isinstance(vals, np.ndarray) and vals.dtype == object:
                return pd.Index(vals, dtype=object, name=name)
            return pd.Index(vals, name=name, copy=False)
        if t == "range":
            return pd.RangeIndex(node["start"], node["stop"], node["step"], name=self.decode(node["name"]))
        if t == "multi":
            return pd.MultiIndex(levels=[self.decode(lv) for lv in node["levels"]],
                                 codes=[self.array(c) for c in node["codes"]],
                                 names=[self.decode(n) for n in node["names"]], verify_integrity=False)
        if t == "series":
            vals = self.values(node["values"])
            return pd.Series(vals, index=self.decode(node["index"]), name=self.decode(node["name"]),
                             dtype=object if isinstance(vals, np.ndarray) and vals.dtype == object else None,
                             copy=False)
        if t == "frame":
            index, columns = self.decode(node["index"]), self.decode(node["columns"])
            if "block" in node:
                return pd.DataFrame(self.array(node["block"]), index=index, columns=columns, copy=False)
            cols = [self.values(c) for c in node["cols"]]
            df = pd.DataFrame({j: pd.Series(c, index=index, copy=False, dtype=object
                                            if isinstance(c, np.ndarray) and c.dtype == object else None)
                               for j, c in enumerate(cols)}, index=index)
            df.columns = columns
            return df
        if t == "table":
            from .table import AnnotationTable

            workers, labels = self.decode(node["workers"]), self.decode(node["labels"])
            items = self.decode(node["items"]) if node["items"] is not None else pd.Index([], dtype=object)
            return AnnotationTable.empty(items, workers, labels)
        if t == "result":
            from .results import AggregationResult

            return AggregationResult(labels=self.decode(node["labels"]), probas=self.decode(node["probas"]))
        if t == "dataclass":
            cls = _resolve_class(node["class"], self.classes, dataclass=True)
            fields = {k: self.decode(x) for k, x in node["fields"].items()}
            init = {f.name for f in dataclasses.fields(cls) if f.init}
            obj = cls(**{k: v for k, v in fields.items() if k in init})
            for k, v in fields.items():
                if k not in init:
                    object.__setattr__(obj, k, v)
            return obj
        if t == "max":
            from .em import Max

            return Max(self.decode(node["v"]))
        if t == "generator":
            state = self.decode(node["state"])
            bitgen = getattr(np.random, str(state["bit_generator"]), None)
            if not (isinstance(bitgen, type) and issubclass(bitgen, np.random.BitGenerator)):
                raise ModelFileError(f"unknown bit generator {state['bit_generator']!r} in the model file")
            gen = np.random.Generator(bitgen())
            gen.bit_generator.state = state
            return gen
        if t == "randomstate":
            rs = np.random.RandomState()
            rs.set_state(self.decode(node["state"]))
            return rs
        if t == "seedseq":
            return np.random.SeedSequence(self.decode(node["entropy"]), spawn_key=self.decode(node["spawn_key"]),
                                          pool_size=node["pool_size"], n_children_spawned=node["n_children"])
        if t == "estimator":
            return _decode_estimator(node, self)
        raise ModelFileError(f"unknown node kind {t!r} in the model file")


def _class_ref(cls: type) -> dict[str, str]:
    return {"module": cls.__module__, "name": cls.__qualname__}


def _encode_estimator(est: Any, w: _Writer, results: bool, where: str) -> dict[str, Any]:
    name = type(est).__name__
    params = w.encode(est.get_params(deep=False), f"{name} parameter")
    state = est._persist_state(results)
    enc_state = {}
    for k, v in state.items():
        enc_state[k] = w.encode(v, f"{where}{name}.{k}")
    return {"class": _class_ref(type(est)), "params": params, "state": enc_state}


def _resolve_class(ref: dict[str, str], classes: dict[tuple[str, str], type], dataclass: bool = False) -> type:
    """The class a file names: crowdagg's own, or one of ``classes``; nothing else is imported."""
    from .base import BaseAggregator

    mod, name = str(ref.get("module", "")), str(ref.get("name", ""))
    cls = classes.get((mod, name))
    if cls is None:
        if not (mod == "crowdagg" or mod.startswith("crowdagg.")):
            raise ModelFileError(
                f"model file: the class {mod}.{name} is not part of crowdagg; pass it to "
                f"load(path, classes=[{name}]) to allow it")
        try:
            obj: Any = importlib.import_module(mod)
            for part in name.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError):
            raise ModelVersionError(
                f"model file: this crowdagg has no class {mod}.{name} (the file was written by another "
                "version of crowdagg)") from None
        cls = obj
    if dataclass:
        if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
            raise ModelFileError(f"model file: {mod}.{name} is not a dataclass")
    elif not (isinstance(cls, type) and issubclass(cls, BaseAggregator)):
        raise ModelFileError(f"model file: {mod}.{name} is not a crowdagg estimator")
    return cls


def _decode_estimator(node: dict[str, Any], r: _Reader) -> Any:
    cls = _resolve_class(node["class"], r.classes)
    params = r.decode(node["params"])
    # a file written before a parameter existed keeps the behaviour it was saved with,
    # not the parameter's new default (the class names those values)
    for name, value in getattr(cls, "_params_before_they_existed", {}).items():
        params.setdefault(name, value)
    try:
        est = cls(**params)
    except TypeError as exc:
        raise ModelVersionError(f"model file: the saved parameters do not fit this crowdagg's {cls.__name__}: "
                                f"{exc}") from None
    est._restore_state({k: r.decode(v) for k, v in node["state"].items()})
    return est


# --------------------------------------------------------------------------- files
def _read_member(zf: zipfile.ZipFile, name: str) -> bytes:
    try:
        return zf.read(name)
    except KeyError:
        raise ModelIntegrityError(f"model file: the member {name!r} is missing (truncated or altered)") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        raise ModelIntegrityError(f"model file: {name!r} is damaged or truncated ({exc})") from None


def save(estimator: Any, path: str | os.PathLike[str], *, results: bool = True) -> Path:
    """Write ``estimator`` (fitted or not) to ``path`` as a crowdagg model file.

    Parameters
    ----------
    estimator : BaseAggregator
    path : str or os.PathLike
        The file to write (replaced atomically when it exists).
    results : bool, default True
        Keep the per-item results of the fitted data (``labels_``, ``probas_``,
        per-item parameters and attributes).  ``False`` keeps the worker model only
        (a file whose size does not grow with the number of items).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ModelSaveError
        A fitted attribute of a type that cannot be saved (named).
    OutputError
        ``path`` is a folder, or cannot be written.
    """
    from . import __version__
    from .base import BaseAggregator

    if not isinstance(estimator, BaseAggregator):
        raise ModelSaveError(f"save expects a crowdagg estimator, got {type(estimator).__name__}")
    if not isinstance(path, (str, os.PathLike)):
        raise OutputError(f"a model path must be a str or os.PathLike, got {type(path).__name__}")
    target = Path(os.fspath(path))
    if target.is_dir():
        raise OutputError(f"cannot write a model to {str(target)!r}: it is a folder")
    w = _Writer()
    body = _encode_estimator(estimator, w, bool(results), "")
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "crowdagg_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **body,
        "results": bool(results),
        "libraries": {"numpy": np.__version__, "pandas": pd.__version__, "python": platform.python_version()},
        "arrays": {name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)} for name, data in w.arrays},
    }
    meta_bytes = json.dumps(meta, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    magic = json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION,
                        "metadata_sha256": hashlib.sha256(meta_bytes).hexdigest()}).encode("utf-8")
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".crowdagg-", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write a model to {str(target)!r}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED,
                                                         compresslevel=1) as zf:
            zf.writestr(zipfile.ZipInfo(_MAGIC, (1980, 1, 1, 0, 0, 0)), magic, compress_type=zipfile.ZIP_STORED)
            zf.writestr(zipfile.ZipInfo(_META, (1980, 1, 1, 0, 0, 0)), meta_bytes,
                        compress_type=zipfile.ZIP_DEFLATED)
            for name, data in w.arrays:
                zf.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data, compress_type=zipfile.ZIP_DEFLATED)
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise OutputError(f"cannot write a model to {str(target)!r}: {exc.strerror or exc}") from None
    return target


def _open(path: Any) -> tuple[zipfile.ZipFile, dict[str, Any]]:
    """The archive and its verified metadata."""
    if not isinstance(path, (str, os.PathLike)):
        raise ModelFileError(f"a model path must be a str or os.PathLike, got {type(path).__name__}")
    p = os.fspath(path)
    if not os.path.exists(p):
        raise InputFileNotFoundError(f"no such model file: {p!r}")
    if os.path.isdir(p):
        raise NotAFileError(f"{p!r} is a folder, not a model file")
    try:
        with open(p, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise FileAccessError(f"cannot read {p!r}: {exc.strerror or exc}") from None
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError):
        if head == b"PK\x03\x04":
            raise ModelIntegrityError(f"{p!r} is a damaged or truncated model file (its zip directory is "
                                      "unreadable)") from None
        raise ModelFileError(f"{p!r} is not a crowdagg model file (not a zip archive)") from None
    try:
        names = set(zf.namelist())
        if _MAGIC not in names:
            raise ModelFileError(f"{p!r} is a zip archive but not a crowdagg model file (no {_MAGIC})")
        try:
            magic = json.loads(_read_member(zf, _MAGIC))
        except (ValueError, UnicodeDecodeError):
            raise ModelIntegrityError(f"{p!r}: {_MAGIC} is not valid JSON (damaged)") from None
        if not isinstance(magic, dict) or magic.get("format") != FORMAT:
            raise ModelFileError(f"{p!r} is not a crowdagg model file (format {magic.get('format')!r})"
                                 if isinstance(magic, dict) else f"{p!r} is not a crowdagg model file")
        version = magic.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ModelFileError(f"{p!r}: invalid format version {version!r}")
        if version > FORMAT_VERSION:
            raise ModelVersionError(
                f"{p!r} has model format version {version}; this crowdagg reads versions up to "
                f"{FORMAT_VERSION}: upgrade crowdagg to load it")
        meta_bytes = _read_member(zf, _META)
        if hashlib.sha256(meta_bytes).hexdigest() != magic.get("metadata_sha256"):
            raise ModelIntegrityError(f"{p!r}: the checksum of {_META} does not match (the file was altered or "
                                      "damaged)")
        try:
            meta = json.loads(meta_bytes)
        except (ValueError, UnicodeDecodeError):
            raise ModelIntegrityError(f"{p!r}: {_META} is not valid JSON (damaged)") from None
    except BaseException:
        zf.close()
        raise
    return zf, meta


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata of a model file (class, crowdagg version, creation time, format
    version, libraries, whether results were kept), without loading the model."""
    zf, meta = _open(path)
    zf.close()
    return {k: meta[k] for k in ("format", "format_version", "crowdagg_version", "created", "class", "results",
                                 "libraries") if k in meta}


def load(path: str | os.PathLike[str], *, classes: Iterable[type] = ()) -> Any:
    """Read a model written by :meth:`~crowdagg.base.BaseAggregator.save`.

    Parameters
    ----------
    path : str or os.PathLike
    classes : iterable of estimator classes, optional
        Classes from outside ``crowdagg`` (your own methods) that the file may name;
        crowdagg's own are always allowed and no other module is ever imported.

    Returns
    -------
    BaseAggregator
        The estimator, fitted as it was saved: ``predict``/``predict_proba`` on new
        data under the saved worker parameters (unseen workers take the prior),
        warm starts (``fit(data, init_params=model)`` or ``warm_start=True``) and
        ``partial_fit`` continue from it.

    Raises
    ------
    InputFileNotFoundError, NotAFileError, FileAccessError
        The path is missing, a folder or unreadable.
    ModelFileError
        Not a crowdagg model file (or a class that is not allowed).
    ModelVersionError
        A newer format version, or parameters this crowdagg does not know.
    ModelIntegrityError
        A truncated or altered file.
    """
    allowed = {}
    for cls in classes:
        if not isinstance(cls, type):
            raise ModelFileError(f"classes= must hold classes, got {cls!r}")
        allowed[(cls.__module__, cls.__qualname__)] = cls
    zf, meta = _open(path)
    with zf:
        try:
            reader = _Reader(zf, meta.get("arrays", {}), allowed)
            return _decode_estimator(meta, reader)
        except (KeyError, TypeError, IndexError, AttributeError) as exc:
            if isinstance(exc, CrowdaggError):
                raise
            raise ModelIntegrityError(f"{os.fspath(path)!r}: the model metadata is malformed ({type(exc).__name__}: "
                                      f"{exc})") from None
