"""Readers for crowdsourcing platform exports: Amazon Mechanical Turk.

:func:`read_mturk` turns a requester's *batch results* CSV (the file the
Requester UI offers for download, one row per assignment) or a dump of the
``ListAssignmentsForHIT`` API into an :class:`~crowdagg.table.AnnotationTable`
(or a tidy DataFrame).  Every answer shape seen in practice is supported:

* a plain ``Answer.<field>`` column (classic HTML forms, e.g.
  ``<input type="radio" name="sentiment" value="positive">``), including the
  ``Answer.<field>.label`` column of ``<crowd-classifier name="<field>">``;
* one-hot boolean columns ``Answer.<field>.<option>`` = ``true``/``false``
  (radio groups flattened by MTurk), and radio buttons named by their option,
  ``Answer.<option>.on``;
* the ``Answer.taskAnswers`` JSON column of crowd-html forms (a JSON list with
  one object per form, e.g. ``[{"sentiment": {"label": "Positive"}}]``);
* the API's ``QuestionFormAnswers`` XML (``FreeText``, ``SelectionIdentifier``,
  or crowd-html answers as ``taskAnswers`` JSON in a ``FreeText``), from a
  JSON or JSON-lines dump of ``ListAssignmentsForHIT`` responses.

All shapes are first flattened to dotted *answer paths*
(``{"sentiment": {"label": "x"}}`` becomes ``sentiment.label``, the column
``Answer.q1.yes`` becomes ``q1.yes``), and one rule picks the label column or
one-hot group from them, so a field means the same thing in every shape.

References
----------
Amazon Mechanical Turk Requester API reference: "QuestionFormAnswers" and
"Assignment" data structures, and the ``ListAssignmentsForHIT`` operation
(API version 2017-01-17).  Amazon Mechanical Turk Requester UI guide:
"Crowd HTML Elements" (``crowd-form``, ``crowd-classifier``,
``crowd-radio-group``).
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any, Literal

import numpy as np
import pandas as pd

from ._validation import check_choice
from .errors import (
    EmptyTableError,
    FileAccessError,
    FormatError,
    InputError,
    MissingColumnError,
)
from .ingest import _check_file, _check_header, _check_strip, _csv_rows, _read_text, parse_labels
from .table import AnnotationTable, Duplicates

__all__ = ["MTurkInfo", "read_mturk", "read_mturk_assignments"]

STATUSES = ("Submitted", "Approved", "Rejected")
#: What ``kind=`` accepts: one label per answer (categorical, ordinal), a number, a set of labels.
KINDS = ("categorical", "ordinal", "numeric", "multilabel")
_TRUE = ("true", "1", "on")
_FALSE = ("false", "0", "off", "")
_N_EXAMPLES = 5
_JSON_EXT = (".json", ".jsonl", ".ndjson")
#: JSON nested deeper than this (objects and lists) is refused with a FormatError.
MAX_JSON_DEPTH = 64

Field = str | Sequence[str] | None


@dataclass(frozen=True)
class MTurkInfo:
    """What :func:`read_mturk` read and how (returned with ``return_info=True``).

    Attributes
    ----------
    source : {"csv", "api"}
        A batch-results CSV or an API (``ListAssignmentsForHIT``) dump.
    field : str or tuple of str
        The answer field used for labels (a tuple of option names for radio
        buttons named by their option).
    shape : {"plain", "one-hot"}
        A column of label values, or a group of true/false columns.
    options : tuple of str
        The options of a one-hot group (empty for ``"plain"``).
    item_column : str
        The column (or API key) the item ids come from.
    fields : tuple
        Every answer field found in the file (a tuple of option names stands
        for radio buttons named by their option).
    n_assignments : int
        Assignments (rows) in the file.
    excluded : dict
        Assignments left out, by ``AssignmentStatus``.
    n_null_labels : int
        Kept assignments without an answer to ``field`` (an empty cell, or a
        one-hot group with no option set); they count as null labels.
    kind : {"categorical", "ordinal", "numeric", "multilabel"}
        How the answers were read (``kind=``).
    dropped : dict
        Assignments left out of the annotations, by reason: ``rejected``,
        ``other_status`` (with ``statuses=``, when any), ``null_label`` and
        ``duplicate`` (the ``duplicates`` rule; 0 with ``return_frame=True``,
        whose frame keeps every kept assignment).  The same counts as
        ``table.dropped``.
    """

    source: str
    field: str | tuple[str, ...]
    shape: str
    options: tuple[str, ...]
    item_column: str
    fields: tuple[str | tuple[str, ...], ...]
    n_assignments: int
    excluded: dict[str, int] = dc_field(default_factory=dict)
    n_null_labels: int = 0
    dropped: dict[str, int] = dc_field(default_factory=dict)
    kind: str = "categorical"


# --------------------------------------------------------------------------- JSON
def _check_depth(obj: Any, where: str, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse JSON values nested deeper than ``limit`` (walked without recursion)."""
    stack = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            raise FormatError(f"{where}: JSON nested more than {limit} levels deep; crowdagg reads at most {limit}")
        stack.extend((c, depth + 1) for c in children)


def _json_loads(text: str, where: str) -> Any:
    """``json.loads`` with depth refused beyond :data:`MAX_JSON_DEPTH` (JSONDecodeError passes through)."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise FormatError(
            f"{where}: JSON nested more than {MAX_JSON_DEPTH} levels deep; crowdagg reads at most {MAX_JSON_DEPTH}"
        ) from None
    _check_depth(value, where)
    return value


# --------------------------------------------------------------------------- flattening
def _scalar(v: Any) -> str:
    """A JSON/XML leaf as the string a CSV export would hold."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return repr(v) if isinstance(v, float) else str(v)
    return json.dumps(v, ensure_ascii=False)  # lists (bounding boxes, ...) stay one opaque value


def _flatten(obj: dict[str, Any], out: dict[str, str], prefix: str = "") -> dict[str, str]:
    """Nested dicts to dotted paths: ``{"a": {"b": 1}}`` -> ``{"a.b": "1"}``."""
    for key, value in obj.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            _flatten(value, out, path)
        else:
            out[path] = _scalar(value)
    return out


def _merge(dst: dict[str, str], src: Mapping[str, str], where: str, what: str) -> None:
    for k, v in src.items():
        if k in dst and dst[k] != v:
            raise FormatError(f"{where}: {what} gives two different answers to {k!r} ({dst[k]!r}, {v!r})")
        dst[k] = v


def _parse_task_answers(text: str, where: str | Callable[[], str]) -> dict[str, str]:
    """Flatten one ``taskAnswers`` JSON value (a list with one object per form).

    ``where`` names the row in error messages (a callable is called only then).
    """
    if not text.strip():
        return {}
    try:
        forms = _json_loads(text, "taskAnswers")
    except FormatError as exc:
        where = where() if callable(where) else where
        raise FormatError(f"{where}: {exc}") from None
    except json.JSONDecodeError as exc:
        where = where() if callable(where) else where
        raise FormatError(
            f"{where}: taskAnswers is not valid JSON ({exc.msg} at character {exc.pos}): {text[:80]!r}"
        ) from None
    if isinstance(forms, dict):
        forms = [forms]
    if not isinstance(forms, list) or not all(isinstance(f, dict) for f in forms):
        where = where() if callable(where) else where
        raise FormatError(
            f"{where}: taskAnswers must be a JSON list of objects (one per form), got {text[:80]!r}"
        )
    if len(forms) == 1:
        return _flatten(forms[0], {})
    out: dict[str, str] = {}
    for form in forms:
        _merge(out, _flatten(form, {}), where() if callable(where) else where, "taskAnswers")
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse_question_form_answers(text: Any, where: str) -> dict[str, str]:
    """Flatten a ``QuestionFormAnswers`` XML document.

    ``FreeText`` answers give ``{qid: text}``; multiple-choice answers give one
    true flag per selected option, ``{qid.option: "true"}`` (so they resolve as a
    one-hot group); a ``FreeText`` named ``taskAnswers`` (crowd-html HITs) is
    parsed as JSON.
    """
    if text is None or (isinstance(text, float) and np.isnan(text)) or not str(text).strip():
        return {}
    if not isinstance(text, str):
        raise FormatError(f"{where}: Answer must be a QuestionFormAnswers XML string, got {type(text).__name__}")
    try:
        root = ET.fromstring(text.strip())
    except ET.ParseError as exc:
        raise FormatError(f"{where}: Answer is not valid QuestionFormAnswers XML ({exc})") from None
    if _local(root.tag) != "QuestionFormAnswers":
        raise FormatError(f"{where}: Answer XML has root <{_local(root.tag)}>, expected <QuestionFormAnswers>")
    out: dict[str, str] = {}
    for ans in root:
        if _local(ans.tag) != "Answer":
            continue
        parts: dict[str, list[str]] = {}
        for child in ans:
            parts.setdefault(_local(child.tag), []).append(child.text or "")
        qids = parts.get("QuestionIdentifier")
        if not qids or not qids[0].strip():
            raise FormatError(f"{where}: an <Answer> in the XML has no <QuestionIdentifier>")
        qid = qids[0].strip()
        if "FreeText" in parts:
            value = parts["FreeText"][0]
            if qid == "taskAnswers":
                _merge(out, _parse_task_answers(value, where), where, "the XML")
            else:
                _merge(out, {qid: value}, where, "the XML")
        for sel in parts.get("SelectionIdentifier", []) + parts.get("OtherSelectionText", []):
            _merge(out, {f"{qid}.{sel.strip()}": "true"}, where, "the XML")
    return out


# --------------------------------------------------------------------------- loading
class _Source:
    """Assignments read from a file: metadata columns, flattened answers, row names."""

    def __init__(self, kind: str, meta: pd.DataFrame, answers: pd.DataFrame, unit: str) -> None:
        self.kind = kind
        self.meta = meta
        self.answers = answers
        self.unit = unit  # "row" (CSV data rows) or "assignment" (API records)

    def where(self, pos: int) -> str:
        aid = self.meta["AssignmentId"].iat[pos] if "AssignmentId" in self.meta else ""
        return f"{self.unit} {pos + 1}" + (f" (AssignmentId {aid})" if aid else "")

    def rows(self, positions: Any) -> str:
        positions = np.asarray(positions).ravel()
        shown = ", ".join(self.where(int(p)) for p in positions[:_N_EXAMPLES])
        more = f" and {positions.size - _N_EXAMPLES} more" if positions.size > _N_EXAMPLES else ""
        return shown + more


def _frame_of_paths(records: list[dict[str, str]], index: pd.Index) -> pd.DataFrame:
    if not records or not any(records):
        return pd.DataFrame(index=index)
    df = pd.DataFrame.from_records(records, index=index)
    return df.fillna("").astype(object)


def _load_csv(path: str) -> _Source:
    where = f"Mechanical Turk batch CSV {path!r}"
    header, rows, _ = _csv_rows(_read_text(path, "Mechanical Turk batch CSV"), where)
    _check_header(header, where)
    columns = list(zip(*rows)) if rows else [() for _ in header]
    df = pd.DataFrame({h: pd.Series(c, dtype=object) for h, c in zip(header, columns)})
    missing = [c for c in ("HITId", "WorkerId") if c not in df.columns]
    if missing:
        raise FormatError(
            f"{path!r} is not a Mechanical Turk batch-results CSV: no {missing} column "
            f"(columns: {list(df.columns)[:20]})"
        )
    answer_cols = [c for c in df.columns if c.startswith("Answer.")]
    if not answer_cols:
        raise FormatError(f"{path!r} has no Answer.* column, so no worker answers (columns: {list(df.columns)[:20]})")
    df = df.reset_index(drop=True)
    meta = df[[c for c in df.columns if not c.startswith("Answer.")]]
    src = _Source("csv", meta, pd.DataFrame(index=df.index), "row")
    paths: dict[str, pd.Series] = {c[len("Answer."):]: df[c].astype(object) for c in answer_cols if c != "Answer.taskAnswers"}
    if "Answer.taskAnswers" in df.columns:
        cells = df["Answer.taskAnswers"].tolist()
        ta = _frame_of_paths(
            [_parse_task_answers(t, lambda i=i: src.where(i)) for i, t in enumerate(cells)], df.index
        )
        for c in ta.columns:
            paths.setdefault(c, ta[c])  # an explicit Answer.<path> column wins
    src.answers = pd.DataFrame(paths, index=df.index)
    return src


def _read_json_records(path: str) -> Any:
    text = _read_text(path, "Mechanical Turk API dump")
    if not text.strip():
        raise EmptyTableError(f"{path!r} is empty")
    if not path.lower().endswith((".jsonl", ".ndjson")):
        try:
            return _json_loads(text, repr(path))
        except json.JSONDecodeError as exc:
            first_error = exc
        if text.lstrip().startswith("[") or "\n" not in text.strip():
            raise FormatError(
                f"{path!r} is not valid JSON ({first_error.msg} at line {first_error.lineno}, "
                f"column {first_error.colno})"
            )
    records = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(_json_loads(line, f"{path!r}, line {lineno}"))
        except json.JSONDecodeError as exc:
            raise FormatError(f"{path!r}, line {lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    return records


def _collect_assignments(obj: Any, out: list[Mapping[str, Any]]) -> None:
    """Assignments from API responses, lists of them or bare assignment records."""
    if isinstance(obj, list):
        for x in obj:
            _collect_assignments(x, out)
    elif isinstance(obj, Mapping):
        if "Assignments" in obj:
            _collect_assignments(obj["Assignments"], out)
        elif "Assignment" in obj and isinstance(obj["Assignment"], Mapping):  # GetAssignment
            out.append(obj["Assignment"])
        elif any(k in obj for k in ("AssignmentId", "WorkerId", "HITId", "Answer")):
            out.append(obj)
        else:
            raise FormatError(
                "expected ListAssignmentsForHIT responses (objects with 'Assignments') or assignment "
                f"records (with 'WorkerId', 'HITId', 'Answer'); found an object with keys {sorted(obj)[:10]}"
            )
    else:
        raise FormatError(f"expected assignment records (JSON objects), found {type(obj).__name__} {obj!r:.60}")


def _load_api(data: Any, name: str) -> _Source:
    assignments: list[Mapping[str, Any]] = []
    _check_depth(data, name)
    try:
        _collect_assignments(data, assignments)
    except FormatError as exc:
        raise FormatError(f"{name}: {exc}") from None
    if not assignments:
        raise EmptyTableError(f"{name} holds no assignment")
    meta_rows = []
    for i, a in enumerate(assignments):
        missing = [k for k in ("HITId", "WorkerId") if k not in a]
        if missing:
            raise FormatError(f"{name}: assignment {i + 1} has no {missing} (keys: {sorted(a)[:12]})")
        meta_rows.append({k: _scalar(v) if not hasattr(v, "isoformat") else v.isoformat()
                          for k, v in a.items() if k != "Answer"})
    meta = pd.DataFrame(meta_rows).fillna("").astype(object)
    src = _Source("api", meta, pd.DataFrame(index=meta.index), "assignment")
    if "WorkTimeInSeconds" not in meta and {"AcceptTime", "SubmitTime"} <= set(meta.columns):
        t0 = pd.to_datetime(meta["AcceptTime"], errors="coerce", utc=True, format="ISO8601")
        t1 = pd.to_datetime(meta["SubmitTime"], errors="coerce", utc=True, format="ISO8601")
        secs = (t1 - t0).dt.total_seconds()
        meta["WorkTimeInSeconds"] = [f"{s:g}" if np.isfinite(s) else "" for s in secs]
    records = [_parse_question_form_answers(a.get("Answer"), f"{name}: {src.where(i)}")
               for i, a in enumerate(assignments)]
    src.answers = _frame_of_paths(records, meta.index)
    return src


# --------------------------------------------------------------------------- answer fields
@dataclass(frozen=True)
class _Spec:
    name: str | tuple[str, ...]
    shape: str  # "plain" | "one-hot"
    paths: tuple[str, ...]
    options: tuple[str, ...] = ()

    def label(self) -> str:
        if isinstance(self.name, tuple):
            return f"radio buttons {list(self.name)} (field={list(self.name)!r})"
        return repr(self.name)


def _is_bool(col: pd.Series) -> bool:
    return bool(col.str.strip().str.lower().isin(_TRUE + _FALSE).all())


def _option(sub: str) -> str:
    return sub[: -len(".on")] if sub.endswith(".on") else sub


def _group(prefix: str, subs: list[str], bools: dict[str, bool]) -> _Spec | None:
    """The field made of the paths ``prefix.<sub>``: a one-hot group or a classifier label."""
    paths = tuple(f"{prefix}.{s}" for s in subs)
    if subs == ["label"]:  # <crowd-classifier name="prefix">, whatever its categories
        return _Spec(prefix, "plain", paths)
    if all(bools[p] for p in paths):
        return _Spec(prefix, "one-hot", paths, tuple(_option(s) for s in subs))
    return None


def _answer_fields(answers: pd.DataFrame, bools: dict[str, bool]) -> list[_Spec]:
    """Every answer field: plain paths, one-hot groups and radio buttons named by option."""
    tops: dict[str, list[str]] = {}
    for p in answers.columns:
        top, _, rest = p.partition(".")
        tops.setdefault(top, []).append(rest)
    specs: list[_Spec] = []
    radio: list[str] = []
    for top, subs in tops.items():
        if "" in subs:
            specs.append(_Spec(top, "plain", (top,)))
        others = [s for s in subs if s]
        if not others:
            continue
        if others == ["on"] and "" not in subs and bools[f"{top}.on"]:
            radio.append(top)
            continue
        spec = None if "" in subs else _group(top, others, bools)
        if spec is not None:
            specs.append(spec)
        else:
            specs.extend(_Spec(f"{top}.{s}", "plain", (f"{top}.{s}",)) for s in others)
    if len(radio) == 1:  # a lone checkbox named by its option: true/false are the labels
        specs.append(_Spec(radio[0], "plain", (f"{radio[0]}.on",)))
    elif radio:
        specs.append(_Spec(tuple(radio), "one-hot", tuple(f"{r}.on" for r in radio), tuple(radio)))
    return specs


def _resolve_field(field: Field, answers: pd.DataFrame, bools: dict[str, bool]) -> tuple[_Spec, list[_Spec]]:
    specs = _answer_fields(answers, bools)
    if not specs:
        raise FormatError("the file holds no worker answer (every Answer cell is empty)")
    listing = ", ".join(s.label() for s in specs)
    if field is None:
        if len(specs) == 1:
            return specs[0], specs
        raise InputError(f"the file has {len(specs)} answer fields: {listing}; choose one with field=")
    if isinstance(field, str):
        name = field[len("Answer."):] if field.startswith("Answer.") and field not in answers else field
        for s in specs:
            if s.name == name:
                return s, specs
        if name in answers.columns:
            return _Spec(name, "plain", (name,)), specs
        subs = [c[len(name) + 1:] for c in answers.columns if c.startswith(name + ".")]
        if subs:
            spec = _group(name, subs, bools)
            if spec is None:
                raise InputError(
                    f"field {field!r} has several answers that are not a true/false group: "
                    f"{[f'{name}.{s}' for s in subs][:10]}; pick one of them with field="
                )
            return spec, specs
        raise InputError(f"no answer field {field!r}; the file has: {listing}")
    if isinstance(field, Sequence) and field and all(isinstance(o, str) for o in field):
        if len(set(field)) != len(field):
            raise InputError(f"field= repeats options: {list(field)}")
        paths = []
        for o in field:
            p = next((c for c in (f"{o}.on", o) if c in answers.columns), None)
            if p is None:
                raise InputError(f"field= option {o!r} is not an answer of the file; it has: {listing}")
            paths.append(p)
        return _Spec(tuple(field), "one-hot", tuple(paths), tuple(field)), specs
    raise InputError(f"field must be a field name or a list of option names, got {field!r}")


def _one_hot(spec: _Spec, answers: pd.DataFrame, pos: np.ndarray, src: _Source) -> np.ndarray:
    """Label per row from a group of true/false columns (None when no option is set)."""
    vals = np.column_stack(
        [answers[p].str.strip().str.lower().to_numpy(dtype=object) for p in spec.paths]
    )
    is_true = np.isin(vals, _TRUE)
    bad = ~(is_true | np.isin(vals, _FALSE))
    if bad.any():
        r, c = np.nonzero(bad)
        raise FormatError(
            f"one-hot field {spec.name!r} holds values other than true/false in {src.rows(pos[np.unique(r)])}, "
            f"e.g. {spec.paths[c[0]]!r} = {answers[spec.paths[c[0]]].iat[r[0]]!r}"
        )
    n_true = is_true.sum(axis=1)
    multi = np.flatnonzero(n_true > 1)
    if multi.size:
        chosen = [spec.options[j] for j in np.flatnonzero(is_true[multi[0]])]
        raise FormatError(
            f"one-hot field {spec.name!r} has several options set in {multi.size} assignment(s): "
            f"{src.rows(pos[multi])}; e.g. {chosen}. A radio group gives one answer per assignment"
        )
    options = np.array(spec.options + (None,), dtype=object)
    return options[np.where(n_true == 1, is_true.argmax(axis=1), len(spec.options))]


# --------------------------------------------------------------------------- labels
def _typed_labels(raw: np.ndarray, null: np.ndarray, label_type: str) -> tuple[pd.Series, pd.Series]:
    """Labels for the returned frame and for the table (exact values, see :func:`crowdagg.ingest.parse_labels`)."""
    if label_type == "auto":
        frame = parse_labels(raw, null)
    else:
        out = raw.astype(object).copy()
        out[null] = None
        frame = pd.Series(out, dtype=object)
    if frame.dtype == "Float64":  # the table takes float64 with NaN as null
        return frame, pd.Series(frame.to_numpy(dtype=np.float64, na_value=np.nan))
    return frame, frame


# --------------------------------------------------------------------------- main
def _resolve_item(item: str, columns: Sequence[str], src: _Source) -> str:
    if not isinstance(item, str) or not item:
        raise InputError(f"item must be a column name such as 'HITId' or 'Input.<col>', got {item!r}")
    if item in columns:
        return item
    if f"Input.{item}" in columns:
        return f"Input.{item}"
    inputs = [c for c in columns if c.startswith("Input.")]
    hint = f"Input columns: {inputs[:20]}" if inputs else f"columns: {list(columns)[:20]}"
    raise MissingColumnError(f"no item column {item!r} (nor 'Input.{item}') in the {src.kind} input; {hint}")


def _status_mask(
    src: _Source, include_rejected: bool, statuses: Collection[str] | None
) -> tuple[np.ndarray, dict[str, int]]:
    meta = src.meta
    n = len(meta)
    if statuses is None:
        if not isinstance(include_rejected, (bool, np.bool_)):
            raise InputError(f"include_rejected must be True or False, got {include_rejected!r}")
        if include_rejected:
            return np.ones(n, dtype=bool), {}
        if "AssignmentStatus" in meta:
            rejected = meta["AssignmentStatus"].str.strip().str.lower().eq("rejected").to_numpy()
        elif "RejectionTime" in meta:
            rejected = meta["RejectionTime"].str.strip().ne("").to_numpy()
        else:
            return np.ones(n, dtype=bool), {}
        return ~rejected, {"Rejected": int(rejected.sum())}
    if include_rejected:
        raise InputError("give statuses= or include_rejected=True, not both")
    if isinstance(statuses, str) or not isinstance(statuses, Collection) or not statuses:
        raise InputError(f"statuses must be a non-empty collection such as {{'Approved'}}, got {statuses!r}")
    canon = {s.lower(): s for s in STATUSES}
    bad = [s for s in statuses if not isinstance(s, str) or s.strip().lower() not in canon]
    if bad:
        raise InputError(f"unknown assignment status(es) {bad}; valid: {list(STATUSES)}")
    if "AssignmentStatus" not in meta:
        raise MissingColumnError(f"statuses= needs an AssignmentStatus column, which the {src.kind} input lacks")
    wanted = {canon[s.strip().lower()] for s in statuses}
    status = meta["AssignmentStatus"].str.strip().str.lower().map(canon).fillna("(none)")
    keep = status.isin(wanted).to_numpy()
    dropped = status[~keep].value_counts()
    return keep, {str(k): int(v) for k, v in dropped.items()}


def _numeric_labels(raw: np.ndarray, null: np.ndarray, pos: np.ndarray, spec: _Spec, src: _Source) -> pd.Series:
    """``kind="numeric"``: every answer a finite number, compared by value (``Int64`` when all are
    whole numbers int64 holds, else ``Float64``); :class:`FormatError` naming the rows otherwise."""
    frame = parse_labels(raw, null, by_value=True)
    if str(frame.dtype) in ("Int64", "Float64"):
        return frame
    bad = []
    for r in pos:
        if null[r]:
            continue
        try:
            ok = np.isfinite(float(raw[r]))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            bad.append(r)
    if not bad:  # numbers that no one float type holds exactly (e.g. a 20-digit integer next to 0.5)
        raise FormatError(f"kind='numeric': the answers to field {spec.name!r} are numbers that one float64 "
                          "column cannot hold exactly")
    raise FormatError(
        f"kind='numeric': field {spec.name!r} holds answers that are not finite numbers in {src.rows(bad)}, "
        f"e.g. {raw[bad[0]]!r}; choose a slider or number field with field=, or read it with kind='categorical'")


def _one_hot_sets(spec: _Spec, answers: pd.DataFrame, pos: np.ndarray, src: _Source) -> list[Any]:
    """``kind="multilabel"``: the options set in a group of true/false columns, per row; ``None``
    when every cell of the group is empty (the assignment has no such answer)."""
    vals = np.column_stack([answers[p].str.strip().str.lower().to_numpy(dtype=object) for p in spec.paths])
    is_true = np.isin(vals, _TRUE)
    bad = ~(is_true | np.isin(vals, _FALSE))
    if bad.any():
        r, c = np.nonzero(bad)
        raise FormatError(
            f"checkbox group {spec.name!r} holds values other than true/false in {src.rows(pos[np.unique(r)])}, "
            f"e.g. {spec.paths[c[0]]!r} = {answers[spec.paths[c[0]]].iat[r[0]]!r}"
        )
    absent = (vals == "").all(axis=1)
    options = np.array(spec.options, dtype=object)
    return [None if absent[r] else tuple(options[is_true[r]].tolist()) for r in range(vals.shape[0])]


def _plain_sets(cells: pd.Series, pos: np.ndarray, spec: _Spec, src: _Source, strip: bool, sep: str | None
                ) -> list[Any]:
    """``kind="multilabel"``: label sets from a plain field: a JSON array (crowd-html
    ``taskAnswers`` lists), else the text split on ``sep``; an empty cell is no answer."""
    out: list[Any] = []
    for r, v in enumerate(cells.tolist()):
        text = v.strip() if isinstance(v, str) else v
        if text is None or text == "":
            out.append(None)
            continue
        if text.startswith("["):
            try:
                arr = _json_loads(text, src.where(int(pos[r])))
            except json.JSONDecodeError as exc:
                raise FormatError(f"{src.where(int(pos[r]))}: field {spec.name!r} is not a valid JSON array "
                                  f"({exc.msg}): {text[:80]!r}") from None
            if not isinstance(arr, list) or any(isinstance(x, (list, dict)) or x is None for x in arr):
                raise FormatError(f"{src.where(int(pos[r]))}: field {spec.name!r} must be a JSON array of labels "
                                  f"(strings or numbers), got {text[:80]!r}")
            toks = [_scalar(x) for x in arr]
        elif sep is not None:
            toks = text.split(sep)
        else:
            toks = [text]
        if strip:
            toks = [t.strip() for t in toks]
        out.append(tuple(dict.fromkeys(t for t in toks if t != "")))
    return out


def _frame_columns(kept: pd.DataFrame, item_col: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The id columns and the assignment columns of the tidy frame."""
    def col(name: str) -> pd.Series:
        return kept[name] if name in kept else pd.Series([""] * len(kept), dtype=object)

    work = pd.to_numeric(col("WorkTimeInSeconds").replace("", np.nan), errors="coerce").astype(np.float64)
    ids = {"item": kept[item_col], "worker": kept["WorkerId"]}
    rest = {"assignment": col("AssignmentId"), "hit": kept["HITId"], "status": col("AssignmentStatus"),
            "work_time": pd.array(work, dtype="Float64")}
    return ids, rest


def _finish_multilabel(src: _Source, meta: pd.DataFrame, item_col: str, keep: np.ndarray, pos: np.ndarray,
                       answers: pd.DataFrame, spec: _Spec, specs: list[_Spec], excluded: dict[str, int],
                       labels: Sequence[Hashable] | None, label_type: str, strip: bool, sep: str | None,
                       return_info: bool) -> Any:
    """``kind="multilabel"``: the tidy frame with a ``labels`` column of label tuples."""
    from .factorize import _label_values, label_codebook

    if spec.shape == "one-hot":
        sets = _one_hot_sets(spec, answers, pos, src)
    else:
        sets = _plain_sets(answers[spec.paths[0]].astype(object), pos, spec, src, strip, sep)
    n_null = sum(v is None for v in sets)
    if n_null == len(sets):
        raise EmptyTableError(f"no kept assignment answers field {spec.name!r}; nothing to aggregate")
    tokens = list(dict.fromkeys(t for v in sets if v is not None for t in v))
    if labels is not None and all(isinstance(v, str) for v in labels):
        label_type = "str"
    if tokens and label_type == "auto":
        parsed = _label_values(tokens)
        if parsed is not None:
            lookup = dict(zip(tokens, (v.item() if hasattr(v, "item") else v for v in parsed[0])))
            sets = [None if v is None else tuple(lookup[t] for t in v) for v in sets]
            tokens = [lookup[t] for t in tokens]
    if labels is not None and tokens:
        label_codebook(pd.Index(tokens), labels, f"Answer.{spec.name}" if isinstance(spec.name, str) else "labels")
    kept = meta.iloc[pos].reset_index(drop=True)
    ids, rest = _frame_columns(kept, item_col)
    cells = np.empty(len(sets), dtype=object)
    cells[:] = sets
    frame = pd.DataFrame({**ids, "labels": cells, **rest})
    dropped = {"null_label": n_null, "duplicate": 0, "rejected": excluded.get("Rejected", 0)}
    other = sum(v for k, v in excluded.items() if k != "Rejected")
    if other:
        dropped["other_status"] = other
    info = MTurkInfo(source=src.kind, field=spec.name, shape=spec.shape, options=spec.options, item_column=item_col,
                     fields=tuple(s.name for s in specs), n_assignments=len(meta), excluded=excluded,
                     n_null_labels=n_null, dropped=dropped, kind="multilabel")
    return (frame, info) if return_info else frame


def _check_ids(values: pd.Series, column: str, src: _Source) -> None:
    empty = np.flatnonzero(values.str.strip().eq("").to_numpy())
    if empty.size:
        raise FormatError(f"{column} is empty in {empty.size} {src.unit}(s): {src.rows(empty)}")


def _finish(
    src: _Source,
    *,
    field: Field,
    item: str,
    include_rejected: bool,
    statuses: Collection[str] | None,
    labels: Sequence[Hashable] | None,
    duplicates: Duplicates,
    label_type: str,
    strip: bool,
    return_frame: bool,
    return_info: bool,
    kind: str = "categorical",
    sep: str | None = "|",
) -> Any:
    check_choice("duplicates", duplicates, ("error", "first", "last", "keep"))
    check_choice("label_type", label_type, ("auto", "str"))
    check_choice("kind", kind, KINDS)
    if sep is not None and (not isinstance(sep, str) or not sep):
        raise InputError(f"sep must be a non-empty string or None, got {sep!r}")
    _check_strip(strip)
    meta = src.meta
    item_col = _resolve_item(item, list(meta.columns), src)
    id_cols = list(dict.fromkeys(("HITId", "WorkerId", item_col)))
    for col in id_cols:
        _check_ids(meta[col], col, src)
    if strip:
        meta = meta.assign(**{c: meta[c].str.strip() for c in id_cols})
    keep, excluded = _status_mask(src, include_rejected, statuses)
    pos = np.flatnonzero(keep)
    if pos.size == 0:
        what = ", ".join(f"{n:,} {status}" for status, n in excluded.items()) or "none"
        raise EmptyTableError(f"no assignment left after leaving out {what} (include_rejected=, statuses=)")
    answers = src.answers.iloc[pos]
    bools = {c: _is_bool(answers[c]) for c in answers.columns}
    spec, specs = _resolve_field(field, answers, bools)
    if kind == "multilabel":
        return _finish_multilabel(src, meta, item_col, keep, pos, answers, spec, specs, excluded, labels,
                                  label_type, strip, sep, return_info)
    if kind == "numeric" and spec.shape != "plain":
        raise InputError(f"kind='numeric': field {spec.name!r} is a group of true/false answers "
                         f"({list(spec.options)[:10]}), not a number; choose a slider or number field with field=")

    if spec.shape == "plain":
        cells = pd.Series(answers[spec.paths[0]].to_numpy(dtype=object), dtype=object)
        if strip:  # " pos" and "pos" are one label, " 1" the integer 1
            cells = cells.str.strip()
        null = (cells.isna() | cells.eq("")).to_numpy()
        raw = cells.to_numpy(dtype=object)
    else:
        raw = _one_hot(spec, answers, pos, src)
        null = pd.isna(raw)
    n_null = int(null.sum())
    if n_null == pos.size:
        raise EmptyTableError(f"no kept assignment answers field {spec.name!r}; nothing to aggregate")
    if labels is not None and all(isinstance(v, str) for v in labels):
        label_type = "str"  # a label set of strings: compare with the strings of the file
    # every assignment of the file, the left-out ones with a null label: their items stay in the table
    all_raw = np.full(len(meta), None, dtype=object)
    all_raw[pos] = raw
    all_null = np.ones(len(meta), dtype=bool)
    all_null[pos] = null
    if kind == "numeric":
        all_frame_labels = _numeric_labels(all_raw, all_null, pos, spec, src)
        table_labels = all_frame_labels
        if all_frame_labels.dtype == "Float64":
            table_labels = pd.Series(all_frame_labels.to_numpy(dtype=np.float64, na_value=np.nan))
    else:
        all_frame_labels, table_labels = _typed_labels(all_raw, all_null, label_type)
    frame_labels = all_frame_labels.iloc[pos].reset_index(drop=True)

    kept = meta.iloc[pos].reset_index(drop=True)
    ids, rest = _frame_columns(kept, item_col)
    frame = pd.DataFrame({**ids, "label": frame_labels, **rest})
    dropped = {"null_label": n_null, "duplicate": 0, "rejected": excluded.get("Rejected", 0)}
    other = sum(v for k, v in excluded.items() if k != "Rejected")
    if other:
        dropped["other_status"] = other
    table = None
    if not return_frame:
        # a left-out assignment's row names a worker of the kept ones (the previous, or the first), so
        # that its worker does not enter the table and the workers keep their order of appearance
        worker = meta["WorkerId"].where(pd.Series(keep, index=meta.index)).ffill().bfill()
        everything = pd.DataFrame(
            {"item": meta[item_col].to_numpy(), "worker": worker.to_numpy(), "label": table_labels}
        )
        table = AnnotationTable.from_pandas(
            everything, item_col="item", worker_col="worker", label_col="label", labels=labels,
            duplicates=duplicates,
        )
        dropped["duplicate"] = table.dropped.get("duplicate", 0)
        table = table.with_dropped(**dropped)  # null_label: the kept assignments' only
    info = MTurkInfo(
        source=src.kind,
        field=spec.name,
        shape=spec.shape,
        options=spec.options,
        item_column=item_col,
        fields=tuple(s.name for s in specs),
        n_assignments=len(meta),
        excluded=excluded,
        n_null_labels=n_null,
        dropped=dropped,
        kind=kind,
    )
    out = frame if return_frame else table
    return (out, info) if return_info else out


_DOC_OPTIONS = """
    field : str, list of str or None
        The answer field holding the labels (see the module notes for how answer
        columns become fields): ``"sentiment"`` reads ``Answer.sentiment``, or the
        ``Answer.sentiment.label`` column of a crowd-classifier, or the one-hot
        group ``Answer.sentiment.<option>``, or ``sentiment`` inside
        ``Answer.taskAnswers`` / the API's XML.  A dotted name picks a nested
        answer (``"box.label"``).  A list of option names is a one-hot group given
        explicitly, e.g. radio buttons named by their option
        (``Answer.cat.on``, ``Answer.dog.on``: ``field=["cat", "dog"]``).  Default:
        the only field of the file; :class:`~crowdagg.errors.InputError` listing
        the fields when there are several.
    item : str
        Item id column: ``"HITId"`` (default), an ``Input.<col>`` column (the
        bare ``"<col>"`` works too) or any other column.  Ids stay strings
        exactly as written (``"007"`` stays ``"007"``).
    include_rejected : bool
        Keep assignments with ``AssignmentStatus`` ``Rejected`` (default: leave
        them out; their number is in ``table.dropped["rejected"]``).
    statuses : collection of str, optional
        Keep only assignments with these statuses (``"Submitted"``,
        ``"Approved"``, ``"Rejected"``); others count in ``dropped`` as
        ``rejected`` / ``other_status``.  Exclusive with ``include_rejected=True``.
    labels : sequence, optional
        The label set, in order; see :meth:`AnnotationTable.from_pandas`.
    duplicates : {"error", "first", "last", "keep"}
        Repeated (item, worker) pairs, e.g. one worker labelling the same
        ``Input`` item in two HITs; see :meth:`AnnotationTable.from_pandas`.
    label_type : {"auto", "str"}
        ``"auto"`` (default) parses labels only when nothing is lost: int64
        when every label is an integer written plainly (``-12``, not ``+12``,
        ``012`` or ``-0``) that int64 holds; else float64 when every label is a
        plain decimal number, finite, no two become one float (``"1"`` and
        ``"1.0"``) and no whole number exceeds 2**53; else strings (a 20-digit
        integer keeps its digits).  ``"str"`` keeps strings (as does a
        ``labels=`` set of strings).
    strip : bool
        Strip leading and trailing whitespace from every id (``HITId``,
        ``WorkerId``, the item column) and every label (default): ``" pos"`` and
        ``"pos"`` are one label, ``" 1"`` is the integer 1.  ``False`` keeps
        every cell exactly.  An id that is empty after stripping is a
        FormatError either way.
    return_frame : bool
        Return the tidy DataFrame instead of a table: columns ``item``,
        ``worker``, ``label`` (null where the assignment gave no answer; a
        nullable ``Int64``/``Float64`` column for numbers), ``assignment``,
        ``hit``, ``status`` and ``work_time`` (seconds, ``Float64``; ``<NA>``,
        never NaN, where unknown).
    return_info : bool
        Also return an :class:`MTurkInfo` (field and shape used, counts).
    kind : {"categorical", "ordinal", "numeric", "multilabel"}
        How to read the answers (``docs/mturk.md``, "Kinds of answers").
        ``"categorical"`` (default) and ``"ordinal"``: one label per answer, as
        described above (the order of ordinal levels is given to the estimator,
        ``OrdinalDawidSkene(labels=...)``).  ``"numeric"``: sliders and number
        fields; every answer must be a finite number (compared by value: ``Int64``
        when all are whole, else ``Float64``), else a FormatError naming the rows; a
        true/false group is an InputError.  ``"multilabel"``: checkbox groups as
        label sets -- a group of true/false columns gives the tuple of the options
        set (several may be; none set is the empty tuple, an answer; a group whose
        every cell is empty is no answer), a plain field holding a JSON array
        (``taskAnswers`` lists) gives its elements, and other text is split on
        ``sep``.  It always returns the tidy frame, with a ``labels`` column of
        tuples (``None`` for no answer) in place of ``label``, for
        :class:`crowdagg.MultiLabel`; ``duplicates`` is then left to the estimator.
    sep : str or None, default "|"
        ``kind="multilabel"``: the delimiter of plain text answers (classic HTML
        forms join the values of same-named checkboxes with ``|``); ``None``: the
        whole text is one label.

    Returns
    -------
    AnnotationTable or pandas.DataFrame, or a tuple with an MTurkInfo
        ``table.dropped`` (and ``MTurkInfo.dropped``) counts ``null_label``
        (kept assignments without an answer, one-hot groups with no option set
        included), ``duplicate`` and ``rejected`` (plus ``other_status`` with
        ``statuses=``).  Items whose every assignment was left out stay in the
        table with no annotation; the workers of left-out assignments do not.

    Raises
    ------
    InputFileNotFoundError, NotAFileError, FileAccessError
        A missing path; a directory, device or pipe; a file that cannot be read.
    EncodingError
        Bytes that are not UTF-8 (naming the line and column), UTF-16 text.
    FormatError
        Not an MTurk file (no ``HITId``/``WorkerId`` or no answer), binary
        content, a row with more or fewer fields than the header or invalid
        quoting (naming the line), an empty id, invalid ``taskAnswers`` JSON or
        answer XML, JSON nested deeper than :data:`MAX_JSON_DEPTH`, a one-hot
        group with several options set or a value other than true/false
        (naming the rows).
    InputError
        Bad options, an unknown or ambiguous ``field``.
    MissingColumnError
        ``item`` names no column.
    EmptyTableError
        Nothing left to aggregate.
"""


def read_mturk(
    path: str | os.PathLike,
    *,
    field: Field = None,
    item: str = "HITId",
    include_rejected: bool = False,
    statuses: Collection[str] | None = None,
    labels: Sequence[Hashable] | None = None,
    duplicates: Duplicates = "error",
    label_type: Literal["auto", "str"] = "auto",
    strip: bool = True,
    return_frame: bool = False,
    return_info: bool = False,
    kind: Literal["categorical", "ordinal", "numeric", "multilabel"] = "categorical",
    sep: str | None = "|",
) -> Any:
    """Read Mechanical Turk results: a batch-results CSV or an API dump.

    Parameters
    ----------
    path : str or path-like
        A batch-results CSV downloaded from the Requester UI (``HITId``,
        ``WorkerId``, ``AssignmentId``, ``AssignmentStatus``,
        ``WorkTimeInSeconds``, ``Input.*``, ``Answer.*`` columns), or a
        ``.json``/``.jsonl`` dump of ``ListAssignmentsForHIT`` responses (read
        with :func:`read_mturk_assignments`).
    """
    path = _check_file(path, "Mechanical Turk results", named=True)
    opts = dict(field=field, item=item, include_rejected=include_rejected, statuses=statuses, labels=labels,
                duplicates=duplicates, label_type=label_type, strip=strip, return_frame=return_frame,
                return_info=return_info, kind=kind, sep=sep)
    if _looks_like_json(path):
        return read_mturk_assignments(path, **opts)
    return _finish(_load_csv(path), **opts)


def read_mturk_assignments(
    source: str | os.PathLike | Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    field: Field = None,
    item: str = "HITId",
    include_rejected: bool = False,
    statuses: Collection[str] | None = None,
    labels: Sequence[Hashable] | None = None,
    duplicates: Duplicates = "error",
    label_type: Literal["auto", "str"] = "auto",
    strip: bool = True,
    return_frame: bool = False,
    return_info: bool = False,
    kind: Literal["categorical", "ordinal", "numeric", "multilabel"] = "categorical",
    sep: str | None = "|",
) -> Any:
    """Read assignments from the Mechanical Turk API (``ListAssignmentsForHIT``).

    Each assignment's ``Answer`` is a ``QuestionFormAnswers`` XML document:
    ``FreeText`` answers are plain fields, ``SelectionIdentifier`` answers a
    one-hot group of the selected options, and a ``FreeText`` answer named
    ``taskAnswers`` (crowd-html HITs) is parsed as in the batch CSV.  Without a
    ``WorkTimeInSeconds`` key, ``work_time`` is ``SubmitTime - AcceptTime``.

    Parameters
    ----------
    source : path, dict or list
        A ``.json`` file holding one response (``{"Assignments": [...], ...}``),
        a list of responses or a list of assignments; a ``.jsonl`` file with one
        response or assignment per line; or those objects already in memory
        (say ``client.list_assignments_for_hit(HITId=...)`` from boto3).
    """
    opts = dict(field=field, item=item, include_rejected=include_rejected, statuses=statuses, labels=labels,
                duplicates=duplicates, label_type=label_type, strip=strip, return_frame=return_frame,
                return_info=return_info, kind=kind, sep=sep)
    if isinstance(source, (str, os.PathLike)):
        path = _check_file(source, "Mechanical Turk API dump", named=True)
        return _finish(_load_api(_read_json_records(path), repr(path)), **opts)
    if isinstance(source, (Mapping, list, tuple)):
        return _finish(_load_api(list(source) if isinstance(source, tuple) else source, "the assignments"), **opts)
    raise InputError(f"expected a path, an API response dict or a list of assignments, got {type(source).__name__}")


read_mturk.__doc__ = (read_mturk.__doc__ or "") + _DOC_OPTIONS
read_mturk_assignments.__doc__ = (read_mturk_assignments.__doc__ or "") + _DOC_OPTIONS


def _looks_like_json(path: str) -> bool:
    if path.lower().endswith(_JSON_EXT):
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as exc:
        raise FileAccessError(f"Mechanical Turk results: cannot read {path!r}: {exc.strerror or exc}") from None
    return head[:1] in (b"{", b"[")

