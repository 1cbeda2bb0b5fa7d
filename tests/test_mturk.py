"""Mechanical Turk ingest: crowdagg.mturk.read_mturk / read_mturk_assignments."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crowdagg
from crowdagg.datasets import example_path
from crowdagg.errors import (
    DuplicateAnnotationError,
    EmptyTableError,
    EncodingError,
    FileAccessError,
    FormatError,
    InputError,
    InputFileNotFoundError,
    MissingColumnError,
    NotAFileError,
)
from crowdagg.mturk import MTurkInfo, read_mturk, read_mturk_assignments
from crowdagg.table import AnnotationTable

FIX = Path(__file__).parent / "fixtures" / "mturk"
ROOT = Path(__file__).resolve().parents[1]

# labels of the fixtures' 10 assignments, in file order; assignment 5 (index 4) is Rejected
SENTIMENT = ["negative", "negative", "neutral", "neutral", "positive", "neutral", "positive", "positive",
             "positive", "positive"]
ANIMALS = ["cat", "dog", "cat", "cat", "dog", "dog", "other", "dog", "dog", "dog"]
STATUS = ["Approved"] * 4 + ["Rejected", "Approved", "Approved", "Submitted", "Approved", "Submitted"]
KEPT = [i for i, s in enumerate(STATUS) if s != "Rejected"]
NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd"


# --------------------------------------------------------------------------- writers (reference encoders)
def write_batch(path: Path, rows: list[dict[str, str]], answer_cols: list[str]) -> Path:
    """A batch-results CSV with MTurk's quoting; ``rows`` hold every column value."""
    cols = ["HITId", "AssignmentId", "WorkerId", "AssignmentStatus", "WorkTimeInSeconds", "Input.item"]
    cols += answer_cols
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_ALL)
        w.writerow(cols)
        for r in rows:
            w.writerow([r.get(c, "") for c in cols])
    return path


def base_rows(triples, statuses=None) -> list[dict[str, str]]:
    return [
        {"HITId": f"H{item}", "AssignmentId": f"A{k:03d}", "WorkerId": worker,
         "AssignmentStatus": statuses[k] if statuses else "Approved", "WorkTimeInSeconds": str(10 + k),
         "Input.item": item}
        for k, (item, worker, _) in enumerate(triples)
    ]


def write_shape(path: Path, triples, shape: str, options=None) -> Path:
    """Encode (item, worker, label) triples in one of the answer shapes."""
    rows = base_rows(triples)
    options = options or sorted({lab for _, _, lab in triples})
    if shape == "plain":
        for r, (_, _, lab) in zip(rows, triples):
            r["Answer.label"] = lab
        return write_batch(path, rows, ["Answer.label"])
    if shape == "classifier":
        for r, (_, _, lab) in zip(rows, triples):
            r["Answer.label.label"] = lab
        return write_batch(path, rows, ["Answer.label.label"])
    if shape == "onehot":
        cols = [f"Answer.label.{o}" for o in options]
        for r, (_, _, lab) in zip(rows, triples):
            for o in options:
                r[f"Answer.label.{o}"] = "true" if o == lab else "false"
        return write_batch(path, rows, cols)
    if shape == "task_answers":
        for r, (_, _, lab) in zip(rows, triples):
            r["Answer.taskAnswers"] = json.dumps([{"label": {"label": lab}}], ensure_ascii=False)
        return write_batch(path, rows, ["Answer.taskAnswers"])
    if shape == "task_radio":
        if len(options) == 1:  # a radio group offers two options at least; one alone is a checkbox
            options = [*options, "unused-option"]
        for r, (_, _, lab) in zip(rows, triples):
            r["Answer.taskAnswers"] = json.dumps([{o: {"on": o == lab} for o in options}], ensure_ascii=False)
        return write_batch(path, rows, ["Answer.taskAnswers"])
    if shape == "api_selection":
        recs = [{"AssignmentId": r["AssignmentId"], "WorkerId": r["WorkerId"], "HITId": r["HITId"],
                 "AssignmentStatus": "Approved",
                 "Answer": qfa([("label", f"<SelectionIdentifier>{escape(lab)}</SelectionIdentifier>")])}
                for r, (_, _, lab) in zip(rows, triples)]
        path.write_text(json.dumps({"Assignments": recs, "NumResults": len(recs)}), encoding="utf-8")
        return path
    raise AssertionError(shape)


def qfa(parts) -> str:
    body = "".join(f"<Answer><QuestionIdentifier>{q}</QuestionIdentifier>{v}</Answer>" for q, v in parts)
    return f'<?xml version="1.0" encoding="ASCII"?><QuestionFormAnswers xmlns="{NS}">{body}</QuestionFormAnswers>'


def triples_of(table: AnnotationTable) -> list[tuple]:
    df = table.to_pandas()
    return sorted(zip(df["item"].tolist(), df["worker"].tolist(), df["label"].tolist()))


# --------------------------------------------------------------------------- each shape
@pytest.mark.parametrize(
    "name, field, expected, shape",
    [
        ("plain.csv", None, SENTIMENT, "plain"),
        ("classifier.csv", None, [s.capitalize() for s in SENTIMENT], "plain"),
        ("onehot.csv", "sentiment", SENTIMENT[:6] + [None] + SENTIMENT[7:], "one-hot"),
        ("task_answers.csv", None, [s.capitalize() for s in SENTIMENT], "plain"),
        ("task_answers_radio.csv", None, ANIMALS, "one-hot"),
        ("assignments.json", "sentiment", SENTIMENT, "one-hot"),
        ("assignments.jsonl", None, [s.capitalize() for s in SENTIMENT], "plain"),
    ],
)
def test_fixture_shapes(name, field, expected, shape):
    frame, info = read_mturk(FIX / name, field=field, return_frame=True, return_info=True)
    assert isinstance(info, MTurkInfo) and info.shape == shape
    assert info.n_assignments == 10 and info.excluded == {"Rejected": 1}
    assert frame["label"].tolist() == [expected[i] for i in KEPT]
    assert frame["status"].tolist() == [STATUS[i] for i in KEPT]
    assert list(frame.columns) == ["item", "worker", "label", "assignment", "hit", "status", "work_time"]
    assert (frame["item"] == frame["hit"]).all() and frame["item"].nunique() == 3
    assert str(frame["work_time"].dtype) == "Float64" and frame["work_time"].notna().all()
    assert frame["assignment"].str.len().eq(30).all() and frame["worker"].str.match(r"^A[A-Z0-9]{13}$").all()

    table = read_mturk(FIX / name, field=field)
    n_null = sum(expected[i] is None for i in KEPT)
    assert table.n_annotations == 9 - n_null and table.n_items == 3 and table.n_workers == 4
    assert table.dropped == {"null_label": n_null, "duplicate": 0, "rejected": 1}
    assert "rejected: 1" in str(table.summary())


def test_shapes_agree_on_consensus():
    """The same crowd written in four shapes gives the same majority vote."""
    got = {}
    for name, field in [("plain.csv", None), ("onehot.csv", "sentiment"), ("task_answers.csv", None),
                        ("assignments.json", "sentiment"), ("classifier.csv", None)]:
        mv = crowdagg.MajorityVote().fit(read_mturk(FIX / name, field=field)).labels_
        got[name] = mv.str.lower().tolist()
    assert len({tuple(v) for v in got.values()}) == 1
    assert got["plain.csv"] == ["negative", "neutral", "positive"]


def test_api_dump_details():
    frame, info = read_mturk(FIX / "assignments.json", field="sentiment", return_frame=True, return_info=True)
    assert info.source == "api" and info.options == ("negative", "neutral", "positive")
    assert info.fields == ("sentiment", "comment")
    # work time is SubmitTime - AcceptTime when the API gives no WorkTimeInSeconds
    assert frame["work_time"].tolist() == [20.0 + i for i in KEPT]
    comments = read_mturk(FIX / "assignments.json", field="comment", return_frame=True)
    assert comments["label"].tolist().count("fine & clear") == 1 and comments["label"].isna().sum() == 8
    # the .json reader is also reachable directly, and from objects in memory
    data = json.loads((FIX / "assignments.json").read_text())
    t1 = read_mturk_assignments(FIX / "assignments.json", field="sentiment")
    t2 = read_mturk_assignments(data, field="sentiment")
    t3 = read_mturk_assignments(data[0], field="sentiment")
    t4 = read_mturk_assignments([a for resp in data for a in resp["Assignments"]], field="sentiment")
    assert triples_of(t1) == triples_of(t2) == triples_of(t4)
    assert len(triples_of(t3)) == 3
    assert read_mturk_assignments({"Assignment": data[0]["Assignments"][0]}, field="sentiment").n_annotations == 1


def test_jsonl_of_responses(tmp_path):
    data = json.loads((FIX / "assignments.json").read_text())
    p = tmp_path / "dump.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in data) + "\n\n")
    assert triples_of(read_mturk(p, field="sentiment")) == triples_of(
        read_mturk(FIX / "assignments.json", field="sentiment"))
    # a JSONL file without the extension is sniffed too
    q = tmp_path / "dump.txt"
    q.write_text(p.read_text())
    assert read_mturk(q, field="sentiment").n_annotations == 9


# --------------------------------------------------------------------------- statuses
def test_rejected_handling():
    assert read_mturk(FIX / "plain.csv", include_rejected=True).n_annotations == 10
    frame = read_mturk(FIX / "plain.csv", include_rejected=True, return_frame=True)
    assert frame["status"].tolist() == STATUS
    t, info = read_mturk(FIX / "plain.csv", statuses={"Approved"}, return_info=True)
    assert t.n_annotations == 7 and info.excluded == {"Submitted": 2, "Rejected": 1}
    assert t.dropped == {"null_label": 0, "duplicate": 0, "rejected": 1, "other_status": 2}
    assert read_mturk(FIX / "plain.csv", statuses=["approved", "SUBMITTED"]).n_annotations == 9
    assert read_mturk(FIX / "plain.csv", statuses=("Rejected",)).n_annotations == 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(statuses={"Approved"}, include_rejected=True), "not both"),
        (dict(statuses={"Accepted"}), "unknown assignment status"),
        (dict(statuses="Approved"), "non-empty collection"),
        (dict(statuses=[]), "non-empty collection"),
        (dict(include_rejected="yes"), "include_rejected"),
        (dict(duplicates="drop"), "duplicates"),
        (dict(label_type="int"), "label_type"),
        (dict(item=3), "item must be"),
        (dict(field=3), "field must be"),
        (dict(field=[]), "field must be"),
    ],
)
def test_bad_options(kwargs, match):
    with pytest.raises(InputError, match=match):
        read_mturk(FIX / "plain.csv", **kwargs)


def test_statuses_need_status_column(tmp_path):
    p = tmp_path / "b.csv"
    pd.read_csv(FIX / "plain.csv", dtype=str).drop(columns=["AssignmentStatus"]).to_csv(p, index=False)
    assert read_mturk(p).n_annotations == 9  # RejectionTime still tells the rejected one
    with pytest.raises(MissingColumnError, match="AssignmentStatus"):
        read_mturk(p, statuses={"Approved"})
    pd.read_csv(FIX / "plain.csv", dtype=str).drop(columns=["AssignmentStatus", "RejectionTime"]).to_csv(
        p, index=False)
    assert read_mturk(p).n_annotations == 10  # nothing tells: everything is kept


def test_all_rejected(tmp_path):
    p = write_batch(tmp_path / "b.csv", base_rows([("1", "w1", "x")], ["Rejected"]) , ["Answer.label"])
    with pytest.raises(EmptyTableError, match=r"leaving out 1 Rejected \(") as err:
        read_mturk(p)
    assert "{" not in str(err.value)  # counts in words, not a raw dict


# --------------------------------------------------------------------------- items, ids, labels
def test_item_from_input_column():
    a = read_mturk(FIX / "plain.csv", item="Input.review_id")
    b = read_mturk(FIX / "plain.csv", item="review_id")
    assert a.items.tolist() == b.items.tolist() == ["00017", "00018", "00042"]
    assert triples_of(a) == triples_of(b)
    frame, info = read_mturk(FIX / "plain.csv", item="review_id", return_frame=True, return_info=True)
    assert info.item_column == "Input.review_id"
    assert frame["hit"].nunique() == 3 and frame["item"].iloc[0] == "00017"
    # any column works, e.g. the assignment id (one item per assignment); the rejected assignment's
    # item stays in the table, with no annotation
    t = read_mturk(FIX / "plain.csv", item="AssignmentId")
    assert t.n_items == 10 and t.n_annotations == 9 and (t.item_counts() == 0).sum() == 1
    with pytest.raises(MissingColumnError, match=r"Input\.review_id"):
        read_mturk(FIX / "plain.csv", item="review")


def test_ids_round_trip_exactly(tmp_path):
    """Ids stay the strings of the file: leading zeros, NA-like words, numbers, unicode, spaces."""
    items = ["007", "NA", "null", "1e5", "3.0", "ünïcødé-ü", "a b", "0"]
    workers = ["A0001", "None", "nan", "Ærø", "A0001 ", "00", "-1", "TRUE"]
    triples = [(i, w, lab) for i, w, lab in zip(items, workers, ["très bien", "好", "NA", "None",
                                                                "x", "y", "", "z"])]
    p = write_shape(tmp_path / "u.csv", triples, "plain")
    t = read_mturk(p, item="item", strip=False)
    assert t.items.tolist() == items and t.workers.tolist() == workers
    # by default ids are stripped: "A0001 " is "A0001"
    assert read_mturk(p, item="item", duplicates="keep").workers.tolist() == [w for w in workers if w != "A0001 "]
    assert set(t.labels.tolist()) == {"très bien", "好", "NA", "None", "x", "y", "z"}
    assert t.dropped["null_label"] == 1  # the empty answer
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())
    assert triples_of(read_mturk(bom, item="item", strip=False)) == triples_of(t)


def test_label_types(tmp_path):
    trip = [("1", "w1", "1"), ("1", "w2", "5"), ("2", "w1", "10"), ("2", "w2", "")]
    p = write_shape(tmp_path / "r.csv", trip, "plain")
    t = read_mturk(p)
    assert t.labels.dtype.kind == "i" and t.labels.tolist() == [1, 5, 10]
    frame = read_mturk(p, return_frame=True)
    assert str(frame["label"].dtype) == "Int64" and frame["label"].isna().sum() == 1
    assert read_mturk(p, label_type="str").labels.tolist() == ["1", "10", "5"]
    # the label set can be given, in order (ints or the strings of the file)
    assert read_mturk(p, labels=[10, 5, 1, 2]).labels.tolist() == [10, 5, 1, 2]
    assert read_mturk(p, label_type="str", labels=["1", "5", "10"]).labels.tolist() == ["1", "5", "10"]
    assert read_mturk(p, labels=["1", "5", "10"]).labels.tolist() == ["1", "5", "10"]
    lead = write_shape(tmp_path / "z.csv", [("1", "w1", "01"), ("1", "w2", "2")], "plain")
    assert read_mturk(lead).labels.tolist() == ["01", "2"]  # leading zeros: kept as strings
    dec = write_shape(tmp_path / "d.csv", [("1", "w1", "0.5"), ("1", "w2", "2")], "plain")
    assert read_mturk(dec).labels.tolist() == [0.5, 2.0]
    js = write_batch(tmp_path / "j.csv", [
        {**r, "Answer.taskAnswers": json.dumps([{"rating": v}])}
        for r, v in zip(base_rows([("1", "w1", ""), ("1", "w2", ""), ("2", "w3", "")]), [3, 4.0, True])
    ], ["Answer.taskAnswers"])
    assert read_mturk(js).labels.tolist() == ["3", "4.0", "true"]


def test_duplicates(tmp_path):
    """One worker labelling the same Input item in two HITs."""
    rows = base_rows([("x", "w1", "a"), ("x", "w2", "b"), ("x", "w1", "b")])
    rows[2]["HITId"] = "H2"
    for r, lab in zip(rows, "abb"):
        r["Answer.label"] = lab
    p = write_batch(tmp_path / "d.csv", rows, ["Answer.label"])
    assert read_mturk(p).n_items == 2  # by HIT, no repeat
    with pytest.raises(DuplicateAnnotationError):
        read_mturk(p, item="item")
    t = read_mturk(p, item="item", duplicates="last")
    assert triples_of(t) == [("x", "w1", "b"), ("x", "w2", "b")] and t.dropped["duplicate"] == 1
    assert read_mturk(p, item="item", duplicates="keep").n_annotations == 3


# --------------------------------------------------------------------------- fields
def test_field_selection():
    with pytest.raises(InputError, match=r"2 answer fields: 'sentiment', 'comments'"):
        read_mturk(FIX / "onehot.csv")
    with pytest.raises(InputError, match="no answer field 'mood'.*'sentiment', 'comments'"):
        read_mturk(FIX / "onehot.csv", field="mood")
    a = read_mturk(FIX / "onehot.csv", field="Answer.sentiment")
    assert a.labels.tolist() == ["negative", "neutral", "positive"]
    free = read_mturk(FIX / "onehot.csv", field="comments", return_frame=True)
    assert free["label"].tolist() == [None, None, "sarcastic?"] + [None] * 6
    # radio buttons named by option: auto, or explicit (a subset is a smaller group)
    radio = read_mturk(FIX / "task_answers_radio.csv", field=["cat", "dog", "other"], return_frame=True)
    assert radio["label"].tolist() == [ANIMALS[i] for i in KEPT]
    sub = read_mturk(FIX / "task_answers_radio.csv", field=["cat", "dog"], return_frame=True)
    assert sub["label"].isna().sum() == 1
    with pytest.raises(InputError, match="'zebra'"):
        read_mturk(FIX / "task_answers_radio.csv", field=["cat", "zebra"])
    with pytest.raises(InputError, match="repeats"):
        read_mturk(FIX / "task_answers_radio.csv", field=["cat", "cat"])
    # explicit options over one-hot columns of a field
    opts = read_mturk(FIX / "onehot.csv", field=["sentiment.negative", "sentiment.positive"], return_frame=True)
    assert set(opts["label"].dropna()) == {"sentiment.negative", "sentiment.positive"}


def test_nested_and_mixed_fields(tmp_path):
    rows = base_rows([("1", "w1", ""), ("1", "w2", ""), ("2", "w1", "")])
    forms = [
        [{"q1": {"Pro": True, "Con": False}, "box": {"label": "car", "left": 3}, "note": "ok"}],
        [{"q1": {"Pro": False, "Con": True}, "box": {"label": "bus", "left": 5}}],
        [{"q1": {"Pro": False, "Con": False}, "box": {"label": "car", "left": 1}}, {"note": "2nd form"}],
    ]
    for r, f in zip(rows, forms):
        r["Answer.taskAnswers"] = json.dumps(f)
        r["Answer.hidden"] = "v1"
    p = write_batch(tmp_path / "n.csv", rows, ["Answer.taskAnswers", "Answer.hidden"])
    with pytest.raises(InputError, match=r"'q1', 'box.label', 'box.left', 'note'"):
        read_mturk(p)
    assert read_mturk(p, field="q1", return_frame=True)["label"].tolist() == ["Pro", "Con", None]
    assert read_mturk(p, field="box.label", return_frame=True)["label"].tolist() == ["car", "bus", "car"]
    assert read_mturk(p, field="box.left").labels.tolist() == [1, 3, 5]
    assert read_mturk(p, field="note", return_frame=True)["label"].tolist() == ["ok", None, "2nd form"]
    with pytest.raises(InputError, match="several answers.*box.label"):
        read_mturk(p, field="box")


def test_one_hot_errors(tmp_path):
    triples = [("1", "w1", "a"), ("1", "w2", "b"), ("2", "w1", "a")]
    p = write_shape(tmp_path / "o.csv", triples, "onehot", options=["a", "b"])
    text = p.read_text().splitlines()
    text[2] = text[2].replace('"false","true"', '"true","true"')  # second assignment ticks both
    p.write_text("\n".join(text) + "\n")
    with pytest.raises(FormatError, match=r"several options set in 1 .*row 2 \(AssignmentId A001\).*\['a', 'b'\]"):
        read_mturk(p)
    # all false: a null label; every row all false: nothing to aggregate
    q = write_shape(tmp_path / "q.csv", triples, "onehot", options=["a", "b", "c"])
    assert read_mturk(q).labels.tolist() == ["a", "b"]
    text = q.read_text().replace('"true"', '"false"')
    q.write_text(text)
    with pytest.raises(EmptyTableError, match="no kept assignment answers field 'label'"):
        read_mturk(q)
    # values other than true/false in an explicitly given group
    rows = base_rows(triples)
    for r, v in zip(rows, ["true", "maybe", "false"]):
        r["Answer.a"], r["Answer.b"] = v, "false"
    m = write_batch(tmp_path / "m.csv", rows, ["Answer.a", "Answer.b"])
    with pytest.raises(FormatError, match=r"other than true/false in row 2 .*'maybe'"):
        read_mturk(m, field=["a", "b"])


# --------------------------------------------------------------------------- malformed files
def _plain_rows(tmp_path, **overrides):
    rows = base_rows([("1", "w1", ""), ("1", "w2", ""), ("2", "w1", "")])
    for r in rows:
        r["Answer.label"] = "x"
    for k, v in overrides.items():
        rows[1][k] = v
    return write_batch(tmp_path / "p.csv", rows, ["Answer.label"])


def test_malformed_csv(tmp_path):
    p = tmp_path / "x.csv"
    pd.read_csv(FIX / "plain.csv", dtype=str).drop(columns=["WorkerId"]).to_csv(p, index=False)
    with pytest.raises(FormatError, match=r"no \['WorkerId'\] column"):
        read_mturk(p)
    pd.read_csv(FIX / "plain.csv", dtype=str).drop(columns=["Answer.sentiment"]).to_csv(p, index=False)
    with pytest.raises(FormatError, match=r"no Answer\.\* column"):
        read_mturk(p)
    p.write_text("")
    with pytest.raises(EmptyTableError):
        read_mturk(p)
    p.write_text("HITId,WorkerId,Answer.x\nh1,w1,a\nh2,w2,b,c,d\n")
    with pytest.raises(FormatError, match="line 3: 5 fields, but the header .* has 3"):
        read_mturk(p)
    p.write_bytes(b"HITId,WorkerId,Answer.x\nh1,w1,\xff\xfe\n")
    with pytest.raises(EncodingError, match="not UTF-8: byte .* on line 2, column 7"):
        read_mturk(p)
    with pytest.raises(FormatError, match=r"WorkerId is empty in 1 row\(s\): row 2 \(AssignmentId A001\)"):
        read_mturk(_plain_rows(tmp_path, WorkerId=""))
    with pytest.raises(FormatError, match="HITId is empty"):
        read_mturk(_plain_rows(tmp_path, HITId=" "))
    with pytest.raises(FormatError, match="Input.item is empty"):
        read_mturk(_plain_rows(tmp_path, **{"Input.item": ""}), item="item")
    with pytest.raises(InputFileNotFoundError, match="no such file"):
        read_mturk(tmp_path / "absent.csv")


@pytest.mark.parametrize(
    "cell, match",
    [
        ('[{"label": {"label": "x"}', "not valid JSON"),
        ('"x"', "list of objects"),
        ("[1, 2]", "list of objects"),
        ('[{"a": "x"}, {"a": "y"}]', "two different answers to 'a'"),
    ],
)
def test_bad_task_answers(tmp_path, cell, match):
    rows = base_rows([("1", "w1", ""), ("1", "w2", "")])
    rows[0]["Answer.taskAnswers"] = json.dumps([{"a": "x"}])
    rows[1]["Answer.taskAnswers"] = cell
    p = write_batch(tmp_path / "t.csv", rows, ["Answer.taskAnswers"])
    with pytest.raises(FormatError, match=rf"row 2 \(AssignmentId A001\): .*{match}"):
        read_mturk(p)


def test_explicit_answer_column_wins_over_task_answers(tmp_path):
    rows = base_rows([("1", "w1", ""), ("1", "w2", "")])
    for r in rows:
        r["Answer.taskAnswers"] = json.dumps([{"a": "from-json", "b": "j"}])
        r["Answer.a"] = "from-column"
    p = write_batch(tmp_path / "t.csv", rows, ["Answer.taskAnswers", "Answer.a"])
    assert read_mturk(p, field="a").labels.tolist() == ["from-column"]
    assert read_mturk(p, field="b").labels.tolist() == ["j"]


def test_classifier_with_true_false_categories(tmp_path):
    """A crowd-classifier whose categories read as booleans is still a classifier."""
    trip = [("1", "w1", "true"), ("1", "w2", "false"), ("2", "w1", "1"), ("2", "w2", "0")]
    t = read_mturk(write_shape(tmp_path / "c.csv", trip, "classifier"), label_type="str")
    assert t.labels.tolist() == ["0", "1", "false", "true"]


def test_no_answer_at_all(tmp_path):
    rows = base_rows([("1", "w1", ""), ("1", "w2", "")])
    p = write_batch(tmp_path / "t.csv", rows, ["Answer.taskAnswers"])
    with pytest.raises(FormatError, match="no worker answer"):
        read_mturk(p)


def test_task_answers_single_object_and_empty_cells(tmp_path):
    rows = base_rows([("1", "w1", ""), ("1", "w2", ""), ("2", "w3", "")])
    for r, cell in zip(rows, ['{"a": "x"}', "", '[{"a": "y"}]']):
        r["Answer.taskAnswers"] = cell
    p = write_batch(tmp_path / "t.csv", rows, ["Answer.taskAnswers"])
    assert read_mturk(p, return_frame=True)["label"].tolist() == ["x", None, "y"]


@pytest.mark.parametrize(
    "answer, match",
    [
        ("<QuestionFormAnswers><Answer>", "not valid QuestionFormAnswers XML"),
        ("<Other/>", "root <Other>"),
        (f'<QuestionFormAnswers xmlns="{NS}"><Answer><FreeText>x</FreeText></Answer></QuestionFormAnswers>',
         "no <QuestionIdentifier>"),
        (qfa([("taskAnswers", "<FreeText>[{oops</FreeText>")]), "taskAnswers is not valid JSON"),
        (qfa([("a", "<FreeText>x</FreeText>"), ("a", "<FreeText>y</FreeText>")]), "two different answers"),
        (5, "must be a QuestionFormAnswers XML string"),
    ],
)
def test_bad_api_xml(tmp_path, answer, match):
    recs = [{"AssignmentId": "A1", "WorkerId": "w1", "HITId": "h", "Answer": qfa([("a", "<FreeText>x</FreeText>")])},
            {"AssignmentId": "A2", "WorkerId": "w2", "HITId": "h", "Answer": answer}]
    p = tmp_path / "a.json"
    p.write_text(json.dumps({"Assignments": recs}))
    with pytest.raises(FormatError, match=rf"assignment 2 \(AssignmentId A2\): .*{match}"):
        read_mturk(p)


def test_bad_api_dumps(tmp_path):
    p = tmp_path / "a.json"
    p.write_text('{"Assignments": [')
    with pytest.raises(FormatError, match="not valid JSON"):
        read_mturk(p)
    p.write_text('{"HITs": []}')
    with pytest.raises(FormatError, match="ListAssignmentsForHIT"):
        read_mturk(p)
    p.write_text('[{"Assignments": [{"AssignmentId": "A1", "HITId": "h"}]}]')
    with pytest.raises(FormatError, match=r"assignment 1 has no \['WorkerId'\]"):
        read_mturk(p)
    p.write_text('{"Assignments": [], "NumResults": 0}')
    with pytest.raises(EmptyTableError, match="no assignment"):
        read_mturk(p)
    p.write_text("[1, 2]")
    with pytest.raises(FormatError, match="JSON objects"):
        read_mturk(p)
    j = tmp_path / "a.jsonl"
    good = json.dumps({"AssignmentId": "A1", "WorkerId": "w1", "HITId": "h",
                       "Answer": qfa([("a", "<FreeText>x</FreeText>")])})
    j.write_text(good + "\n" + good[:-3] + "\n")
    with pytest.raises(FormatError, match="line 2: not valid JSON"):
        read_mturk(j)
    with pytest.raises(InputError, match="expected a path"):
        read_mturk_assignments(42)


def test_api_selection_details(tmp_path):
    """Multiple choice in the XML: one selection is the label; two are an error; none a null label."""
    recs = [
        {"AssignmentId": "A1", "WorkerId": "w1", "HITId": "h", "AcceptTime": "2024-01-01T00:00:00Z",
         "SubmitTime": "2024-01-01T00:00:30Z",
         "Answer": qfa([("q", "<SelectionIdentifier>yes</SelectionIdentifier>")])},
        {"AssignmentId": "A2", "WorkerId": "w2", "HITId": "h", "Answer": qfa([("q", "")])},
        {"AssignmentId": "A3", "WorkerId": "w3", "HITId": "h",
         "Answer": qfa([("q", "<OtherSelectionText>dunno</OtherSelectionText>")])},
        {"AssignmentId": "A4", "WorkerId": "w4", "HITId": "h", "Answer": None},
    ]
    frame = read_mturk_assignments(recs, return_frame=True)
    assert frame["label"].tolist() == ["yes", None, "dunno", None]
    assert frame["work_time"].iloc[0] == 30.0 and frame["work_time"].iloc[1] is pd.NA  # NA, never NaN
    recs[1]["Answer"] = qfa([("q", "<SelectionIdentifier>yes</SelectionIdentifier>"
                                   "<SelectionIdentifier>no</SelectionIdentifier>")])
    with pytest.raises(FormatError, match=r"several options set .*AssignmentId A2"):
        read_mturk_assignments(recs)


# --------------------------------------------------------------------------- property tests
_id = st.text(alphabet="0a1Zé好-_ .", min_size=1, max_size=4).filter(lambda s: s.strip() == s and s)
_lab = st.sampled_from(["pos", "neg", "neu", "très", "好"])


@st.composite
def crowds(draw):
    items = draw(st.lists(_id, min_size=1, max_size=4, unique=True))
    workers = draw(st.lists(_id, min_size=1, max_size=4, unique=True))
    pairs = draw(st.lists(st.tuples(st.sampled_from(items), st.sampled_from(workers)), min_size=1,
                          max_size=10, unique=True))
    return [(i, w, draw(_lab)) for i, w in pairs]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(triples=crowds(), shape=st.sampled_from(["plain", "classifier", "onehot", "task_answers", "task_radio",
                                                "api_selection"]),
       seed=st.integers(0, 2**16))
def test_round_trip_every_shape(tmp_path, triples, shape, seed):
    """Any crowd written in any shape reads back as the same triples; row order changes nothing."""
    ext = ".json" if shape.startswith("api") else ".csv"
    t = read_mturk(write_shape(tmp_path / f"a{ext}", triples, shape), item="item" if ext == ".csv" else "HITId")
    got = triples_of(t)
    if ext == ".json":
        got = [(i[1:], w, lab) for i, w, lab in got]  # HITId is "H" + item
    assert got == sorted(triples)
    perm = np.random.default_rng(seed).permutation(len(triples))
    shuffled = [triples[k] for k in perm]
    options = sorted({lab for *_, lab in triples})
    np.random.default_rng(seed).shuffle(options)  # permuted option columns
    t2 = read_mturk(write_shape(tmp_path / f"b{ext}", shuffled, shape, options=options),
                    item="item" if ext == ".csv" else "HITId")
    assert triples_of(t2) == triples_of(t)
    assert t2.labels.tolist() == t.labels.tolist()  # the label set is sorted, whatever the option order


# --------------------------------------------------------------------------- the bundled example
def test_bundled_example_loads_and_aggregates():
    path = example_path()
    assert Path(path).stat().st_size < 200_000
    table, info = read_mturk(path, return_info=True)
    assert info.field == "sentiment" and info.shape == "plain" and info.excluded == {"Rejected": 3}
    assert (table.n_items, table.n_annotations, table.n_labels) == (200, 1000, 3)
    assert table.labels.tolist() == ["negative", "neutral", "positive"]
    assert table.dropped == {"null_label": 0, "duplicate": 0, "rejected": 3}
    assert (table.item_counts() == 5).all()
    mv = crowdagg.MajorityVote().fit(read_mturk(example_path()))
    assert mv.labels_.notna().all() and len(mv.labels_) == 200
    by_review = read_mturk(path, item="review_id")
    assert by_review.items[0] == "00001" and by_review.n_items == 200


def test_bundled_example_is_reproducible(tmp_path):
    spec = importlib.util.spec_from_file_location("make_example", ROOT / "tools" / "make_example.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "ex.csv"
    assert mod.main(["-o", str(out)]) == 0
    assert out.read_bytes() == Path(example_path()).read_bytes()


def test_cli_reads_mturk(tmp_path, capsys):
    from crowdagg.cli import main

    out = tmp_path / "mv.csv"
    assert main(["aggregate", example_path(), "--format", "mturk", "-o", str(out), "--quiet"]) == 0
    assert len(pd.read_csv(out)) == 200
    assert main(["summary", str(FIX / "plain.csv")]) == 0  # sniffed as an MTurk batch
    assert "rejected: 1" in capsys.readouterr().out


def test_labels_are_stripped(tmp_path):
    # regression: whitespace was stripped to detect empty answers but kept in the labels
    trip = [("1", "w1", " pos"), ("1", "w2", "pos "), ("2", "w1", "neg"), ("2", "w2", "  ")]
    t = read_mturk(write_shape(tmp_path / "s.csv", trip, "plain"))
    assert t.labels.tolist() == ["neg", "pos"] and t.dropped["null_label"] == 1
    ints = [("1", "w1", " 1"), ("1", "w2", "2 "), ("2", "w1", "\t10")]
    t = read_mturk(write_shape(tmp_path / "i.csv", ints, "plain"))
    assert t.labels.dtype.kind == "i" and t.labels.tolist() == [1, 2, 10]
    assert read_mturk(write_shape(tmp_path / "i.csv", ints, "plain"), label_type="str").labels.tolist() == [
        "1", "10", "2"]


@pytest.mark.parametrize("column", ["Answer.spam.on"])
def test_lone_checkbox_keeps_false_answers(tmp_path, column):
    # a lone crowd-html checkbox (Answer.<name>.on) is not a one-option radio group: "false" is an
    # answer.  (A lone Answer.<field>.<option> column stays a one-hot group of one option.)
    p = tmp_path / "cb.csv"
    p.write_text(f"HITId,WorkerId,AssignmentId,AssignmentStatus,{column}\n"
                 "H1,W1,A1,Approved,true\nH1,W2,A2,Approved,false\nH2,W1,A3,Approved,false\n")
    t = read_mturk(p)
    assert t.n_annotations == 3 and t.dropped["null_label"] == 0
    assert sorted(t.labels) == ["false", "true"]


# --------------------------------------------------------------------------- issue 13: exact labels, strip, drops
label_text = st.one_of(
    st.integers(-(2**63), 2**63 - 1).map(str),                       # int64
    st.integers(2**63, 10**30).map(str),                             # beyond int64
    st.integers(-(10**30), -(2**63) - 1).map(str),
    st.sampled_from(["0", "-0", "00", "007", "1.0", "1", "0.1", "0.10000000000000001", "1e3", "1000",
                     "2.5", "9007199254740993", "9007199254740992.0", "1e999", "NaN", "inf", "+1", "pos"]),
    st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=6),
)


def _label_text(v) -> str:
    return v if isinstance(v, str) else str(v)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(label_text, min_size=1, max_size=8, unique=True))
def test_distinct_labels_stay_distinct_and_round_trip(tmp_path, values):
    """n distinct labels written in the file -> n labels, each reading back as written."""
    values = [v.strip() for v in values if v.strip()]
    if not values or len(set(values)) != len(values):
        return
    trip = [(f"i{k}", "w1", v) for k, v in enumerate(values)]
    p = write_shape(tmp_path / "l.csv", trip, "plain")
    t = read_mturk(p)
    assert t.n_labels == len(values)
    frame = read_mturk(p, return_frame=True)
    assert frame["label"].dtype.kind in "ifO"
    for written, got in zip(values, frame["label"].tolist()):
        if isinstance(got, str):
            assert got == written
        elif isinstance(got, int):
            assert str(got) == written  # integers read back exactly as written
        else:
            assert np.isfinite(got) and got == float(written)
    assert set(t.labels.tolist()) == set(frame["label"].tolist())  # the table holds the same values


def test_huge_integer_labels_keep_every_digit(tmp_path):
    big = ["12345678901234567890", "12345678901234567891", "7"]
    p = write_shape(tmp_path / "b.csv", [(f"i{k}", "w", v) for k, v in enumerate(big)], "plain")
    t = read_mturk(p)
    assert sorted(t.labels.tolist()) == sorted(big)  # beyond int64: strings, never a float
    edge = [str(2**63 - 1), str(-(2**63)), "0"]
    p = write_shape(tmp_path / "e.csv", [(f"i{k}", "w", v) for k, v in enumerate(edge)], "plain")
    frame = read_mturk(p, return_frame=True)
    assert str(frame["label"].dtype) == "Int64" and frame["label"].tolist() == [2**63 - 1, -(2**63), 0]
    assert sorted(read_mturk(p).labels.tolist()) == sorted([2**63 - 1, -(2**63), 0])
    # above 2**53 a float64 would merge neighbours: 9007199254740993 and ...992 stay apart
    near = ["9007199254740993", "9007199254740992", "0.5"]
    p = write_shape(tmp_path / "n.csv", [(f"i{k}", "w", v) for k, v in enumerate(near)], "plain")
    assert sorted(read_mturk(p).labels.tolist()) == sorted(near)
    # "1" and "1.0" are two labels of the file: they stay two (as strings)
    p = write_shape(tmp_path / "o.csv", [("i1", "w", "1"), ("i2", "w", "1.0"), ("i3", "w", "2")], "plain")
    assert read_mturk(p).labels.tolist() == ["1", "1.0", "2"]


def test_float_labels_have_no_nan(tmp_path):
    p = write_shape(tmp_path / "f.csv", [("1", "w1", "0.5"), ("1", "w2", ""), ("2", "w1", "2")], "plain")
    frame = read_mturk(p, return_frame=True)
    assert str(frame["label"].dtype) == "Float64" and frame["label"].iloc[1] is pd.NA
    assert read_mturk(p).labels.tolist() == [0.5, 2.0]


def test_strip_applies_to_ids_and_labels(tmp_path):
    rows = base_rows([(" x", "w1 ", ""), ("x", " w1", ""), ("y ", "w2", "")])
    for r, lab in zip(rows, [" pos", "neg ", "pos"]):
        r["Answer.label"] = lab
    rows[0]["HITId"], rows[1]["HITId"] = " H1", "H1 "
    p = write_batch(tmp_path / "s.csv", rows, ["Answer.label"])
    t = read_mturk(p, item="item", duplicates="keep")
    assert t.items.tolist() == ["x", "y"] and t.workers.tolist() == ["w1", "w2"]
    assert t.labels.tolist() == ["neg", "pos"]
    with pytest.raises(DuplicateAnnotationError):  # (x, w1) twice once stripped
        read_mturk(p, item="item")
    exact = read_mturk(p, item="item", strip=False)
    assert exact.items.tolist() == [" x", "x", "y "] and exact.workers.tolist() == ["w1 ", " w1", "w2"]
    assert exact.labels.tolist() == [" pos", "neg ", "pos"]
    assert read_mturk(p, strip=False).items.tolist() == [" H1", "H1 ", "Hy "]
    assert read_mturk(p, duplicates="first").items.tolist() == ["H1", "Hy"]
    # " 1" is a string with strip=False, the integer 1 by default
    q = write_shape(tmp_path / "i.csv", [("1", "w1", " 1"), ("1", "w2", "2")], "plain")
    assert read_mturk(q).labels.tolist() == [1, 2]
    assert read_mturk(q, strip=False).labels.tolist() == [" 1", "2"]


def test_strip_on_api_dumps(tmp_path):
    recs = [{"HITId": " H1", "WorkerId": "W1 ", "AssignmentStatus": "Approved",
             "Answer": qfa([("label", "<FreeText> a </FreeText>")])},
            {"HITId": "H1", "WorkerId": "W2", "AssignmentStatus": "Approved",
             "Answer": qfa([("label", "<FreeText>a</FreeText>")])}]
    t = read_mturk_assignments(recs)
    assert t.items.tolist() == ["H1"] and t.workers.tolist() == ["W1", "W2"] and t.labels.tolist() == ["a"]
    e = read_mturk_assignments(recs, strip=False)
    assert e.items.tolist() == [" H1", "H1"] and e.labels.tolist() == [" a ", "a"]


def test_every_drop_is_counted_and_items_stay(tmp_path):
    """Rejected, other statuses, null labels and duplicates: counted in table.dropped, the
    summary and MTurkInfo.dropped; an item whose every assignment was left out stays, unlabelled."""
    trip = [("a", "w1", "x"), ("a", "w2", ""), ("b", "w1", "y"), ("c", "w3", "x"), ("a", "w1", "y"),
            ("d", "w2", "x")]
    statuses = ["Approved", "Approved", "Submitted", "Rejected", "Approved", "Approved"]
    rows = base_rows(trip, statuses)
    for r, (_, _, lab) in zip(rows, trip):
        r["Answer.label"] = lab
    rows[4]["HITId"] = "Ha2"
    p = write_batch(tmp_path / "d.csv", rows, ["Answer.label"])
    t, info = read_mturk(p, item="item", duplicates="first", return_info=True)
    want = {"null_label": 1, "duplicate": 1, "rejected": 1}
    assert t.dropped == want == info.dropped and t.summary().dropped == want
    assert t.items.tolist() == ["a", "b", "c", "d"] and t.workers.tolist() == ["w1", "w2"]
    assert t.item_counts().tolist() == [1, 1, 0, 1] and t.n_annotations == 3
    t, info = read_mturk(p, item="item", duplicates="first", statuses={"Approved"}, return_info=True)
    want = {"null_label": 1, "duplicate": 1, "rejected": 1, "other_status": 1}
    assert t.dropped == want == info.dropped and info.excluded == {"Submitted": 1, "Rejected": 1}
    assert t.n_items == 4 and t.item_counts().tolist() == [1, 0, 0, 1]
    frame, info = read_mturk(p, item="item", return_frame=True, return_info=True)
    assert len(frame) == 5 and info.dropped == {"null_label": 1, "duplicate": 0, "rejected": 1}


def test_ragged_and_file_errors(tmp_path, monkeypatch):
    p = tmp_path / "r.csv"
    # every data row one field longer than the header: read shifted before (pandas made column 1 the index)
    p.write_text("HITId,WorkerId,Answer.x\nh1,w1,a,z\nh2,w2,b,z\n")
    with pytest.raises(FormatError, match=r"line 2: 4 fields, but the header \(line 1\) has 3; 1 more line"):
        read_mturk(p)
    # quoted cells holding newlines (CRLF files too) count as the physical lines they span
    p.write_bytes(b'HITId,WorkerId,Answer.x\r\nh1,w1,"a\r\nb\r\nc"\r\n\r\nh2,w2\r\n')
    with pytest.raises(FormatError, match=r"line 6: 2 fields"):
        read_mturk(p)
    p.write_text('HITId,WorkerId,Answer.x\nh1,w1,"a\nb"\nh2,w2,"c\nd"\n')
    assert read_mturk(p).labels.tolist() == ["a\nb", "c\nd"]
    with pytest.raises(NotAFileError):
        read_mturk(tmp_path)
    with pytest.raises(NotAFileError):
        read_mturk_assignments(tmp_path)
    real_open = open

    def deny(path, *a, **k):
        if str(path) == str(p):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *a, **k)

    monkeypatch.setattr("builtins.open", deny)
    with pytest.raises(FileAccessError, match="Permission denied"):
        read_mturk(p)
    with pytest.raises(PermissionError):  # a FileAccessError is a PermissionError too
        read_mturk(p)


def test_in_memory_responses_are_not_mutated():
    import copy

    recs = {"Assignments": [{"HITId": " H1", "WorkerId": "W1", "AssignmentStatus": "Rejected",
                             "Answer": qfa([("label", "<FreeText>a</FreeText>")])},
                            {"HITId": "H2", "WorkerId": "W2", "AssignmentStatus": "Approved",
                             "Answer": qfa([("label", "<FreeText> b</FreeText>")])}]}
    before = copy.deepcopy(recs)
    t = read_mturk_assignments(recs)
    assert recs == before and t.items.tolist() == ["H1", "H2"] and t.dropped["rejected"] == 1
