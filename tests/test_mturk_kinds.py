"""read_mturk(kind=...): checkbox groups as label sets, sliders as numbers, and their bad inputs."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest

import crowdagg
from crowdagg.errors import EmptyTableError, FormatError, InputError, UnknownLabelError
from crowdagg.mturk import read_mturk, read_mturk_assignments

NS = "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd"


def write(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def qfa(parts) -> str:
    body = "".join(f"<Answer><QuestionIdentifier>{q}</QuestionIdentifier>{v}</Answer>" for q, v in parts)
    return f'<?xml version="1.0" encoding="ASCII"?><QuestionFormAnswers xmlns="{NS}">{body}</QuestionFormAnswers>'


@pytest.fixture
def onehot(tmp_path):
    header = ["HITId", "WorkerId", "AssignmentId", "AssignmentStatus", "WorkTimeInSeconds",
              "Answer.colors.red", "Answer.colors.blue", "Answer.colors.green"]
    rows = [["H1", "W1", "A1", "Approved", "10", "true", "true", "false"],
            ["H1", "W2", "A2", "Approved", "12", "true", "false", "false"],
            ["H2", "W1", "A3", "Approved", "8", "false", "false", "false"],
            ["H2", "W3", "A4", "Rejected", "5", "true", "false", "false"],
            ["H3", "W2", "A5", "Submitted", "7", "", "", ""]]
    return write(tmp_path / "batch.csv", header, rows)


def test_one_hot_checkbox_group(onehot):
    frame, info = read_mturk(onehot, kind="multilabel", return_info=True)
    assert frame.columns.tolist() == ["item", "worker", "labels", "assignment", "hit", "status", "work_time"]
    assert frame["labels"].tolist() == [("red", "blue"), ("red",), (), None]  # rejected left out
    assert info.kind == "multilabel" and info.shape == "one-hot" and info.options == ("red", "blue", "green")
    assert info.dropped == {"null_label": 1, "duplicate": 0, "rejected": 1}
    m = crowdagg.MultiLabel(labels=list(info.options)).fit(frame)
    assert m.labels_.columns.tolist() == ["red", "blue", "green"]
    assert m.labels_.loc["H3"].isna().all()  # an assignment with no answer to the group


def test_categorical_one_hot_still_refuses_several(onehot):
    with pytest.raises(FormatError, match="several options"):
        read_mturk(onehot)


def test_task_answers_arrays_and_groups(tmp_path):
    rows = [["H1", "W1", "Approved", json.dumps([{"tags": ["cat", "dog"], "box": {"a": True, "b": True}}])],
            ["H1", "W2", "Approved", json.dumps([{"tags": [], "box": {"a": False, "b": False}}])],
            ["H2", "W1", "Approved", json.dumps([{"tags": ["dog", "dog"], "box": {"a": False, "b": True}}])],
            ["H2", "W2", "Approved", json.dumps([{"box": {"a": True, "b": False}}])]]
    path = write(tmp_path / "ta.csv", ["HITId", "WorkerId", "AssignmentStatus", "Answer.taskAnswers"], rows)
    tags = read_mturk(path, kind="multilabel", field="tags")
    assert tags["labels"].tolist() == [("cat", "dog"), (), ("dog",), None]
    box = read_mturk(path, kind="multilabel", field="box")
    assert box["labels"].tolist() == [("a", "b"), (), ("b",), ("a",)]
    with pytest.raises(InputError, match="2 answer fields"):
        read_mturk(path, kind="multilabel")


def test_numbers_in_arrays_follow_the_text_rule(tmp_path):
    rows = [["H1", "W1", json.dumps([{"q": [1, 2]}])], ["H1", "W2", json.dumps([{"q": [2]}])]]
    path = write(tmp_path / "n.csv", ["HITId", "WorkerId", "Answer.taskAnswers"], rows)
    f = read_mturk(path, kind="multilabel")
    assert f["labels"].tolist() == [(1, 2), (2,)] and isinstance(f["labels"][0][0], int)
    assert read_mturk(path, kind="multilabel", label_type="str")["labels"].tolist() == [("1", "2"), ("2",)]


def test_classic_pipe_joined_checkboxes(tmp_path):
    rows = [["H1", "W1", "red|blue"], ["H1", "W2", " red "], ["H2", "W1", ""]]
    path = write(tmp_path / "c.csv", ["HITId", "WorkerId", "Answer.colors"], rows)
    assert read_mturk(path, kind="multilabel")["labels"].tolist() == [("red", "blue"), ("red",), None]
    assert read_mturk(path, kind="multilabel", sep=None)["labels"].tolist() == [("red|blue",), ("red",), None]
    assert read_mturk(path, kind="multilabel", sep=",")["labels"].tolist() == [("red|blue",), ("red",), None]
    f = read_mturk(path, kind="multilabel")
    assert crowdagg.MultiLabel().fit(f).labels_.shape == (2, 2)


def test_api_multiple_selections():
    recs = [{"AssignmentId": "A1", "WorkerId": "W1", "HITId": "H1", "AssignmentStatus": "Approved",
             "Answer": qfa([("q", "<SelectionIdentifier>x</SelectionIdentifier><SelectionIdentifier>y"
                                  "</SelectionIdentifier>")])},
            {"AssignmentId": "A2", "WorkerId": "W2", "HITId": "H1", "AssignmentStatus": "Approved",
             "Answer": qfa([("q", "<SelectionIdentifier>y</SelectionIdentifier>")])}]
    f = read_mturk_assignments({"Assignments": recs}, kind="multilabel")
    assert f["labels"].tolist() == [("x", "y"), ("y",)]


def test_unknown_labels_and_label_set(onehot):
    with pytest.raises(UnknownLabelError):
        read_mturk(onehot, kind="multilabel", labels=["red"])
    f = read_mturk(onehot, kind="multilabel", labels=["red", "blue", "green", "violet"])
    assert len(f) == 4


@pytest.mark.parametrize("cell, match", [
    ('[{"a": 1}]', "JSON array of labels"),
    ("[1, [2]]", "JSON array of labels"),
    ("[null]", "JSON array of labels"),
    ("[1, 2", "not a valid JSON array"),
])
def test_bad_arrays(tmp_path, cell, match):
    path = write(tmp_path / "b.csv", ["HITId", "WorkerId", "Answer.q"], [["H1", "W1", cell], ["H1", "W2", "[]"]])
    with pytest.raises(FormatError, match=match):
        read_mturk(path, kind="multilabel")


def test_bad_checkbox_values(tmp_path):
    # the group's columns are not all true/false, so they are separate fields: choose the group explicitly
    path = write(tmp_path / "b.csv", ["HITId", "WorkerId", "Answer.c.a", "Answer.c.b"],
                 [["H1", "W1", "true", "maybe"], ["H1", "W2", "false", "true"]])
    with pytest.raises(FormatError, match="true/false"):
        read_mturk(path, kind="multilabel", field=["c.a", "c.b"])


def test_every_answer_null(tmp_path):
    path = write(tmp_path / "e.csv", ["HITId", "WorkerId", "Answer.c.a", "Answer.c.b"],
                 [["H1", "W1", "", ""], ["H1", "W2", "", ""]])
    with pytest.raises(EmptyTableError):
        read_mturk(path, kind="multilabel", field="c")


@pytest.mark.parametrize("kw, match", [({"kind": "sets"}, "kind"), ({"kind": "multilabel", "sep": ""}, "sep"),
                                       ({"kind": "multilabel", "sep": 3}, "sep")])
def test_bad_options(onehot, kw, match):
    with pytest.raises(InputError, match=match):
        read_mturk(onehot, **kw)


# --------------------------------------------------------------------------- sliders
@pytest.fixture
def sliders(tmp_path):
    rows = [["H1", "W1", "Approved", "37", json.dumps([{"rating": 37, "note": "ok"}])],
            ["H1", "W2", "Approved", "40.5", json.dumps([{"rating": 40.5, "note": "fine"}])],
            ["H2", "W1", "Approved", "", json.dumps([{"note": "skipped"}])],
            ["H2", "W2", "Approved", "3", json.dumps([{"rating": 3, "note": "x"}])]]
    return write(tmp_path / "s.csv", ["HITId", "WorkerId", "AssignmentStatus", "Answer.score", "Answer.taskAnswers"],
                 rows)


def test_sliders_as_numbers(sliders):
    t = read_mturk(sliders, kind="numeric", field="rating")
    assert t.labels.dtype == np.float64 and sorted(t.labels.tolist()) == [3.0, 37.0, 40.5]
    assert t.dropped["null_label"] == 1
    f = read_mturk(sliders, kind="numeric", field="score", return_frame=True)
    assert str(f["label"].dtype) == "Float64" and f["label"].isna().tolist() == [False, False, True, False]
    whole = read_mturk(sliders, kind="numeric", field="rating", return_frame=True)
    assert whole["label"].tolist()[:2] == [37.0, 40.5]
    wb = crowdagg.MeanRating().fit(t) if hasattr(crowdagg, "MeanRating") else None
    if wb is not None:
        assert wb.labels_.loc["H1"] == pytest.approx((37 + 40.5) / 2)


def test_whole_numbers_are_ints(tmp_path):
    path = write(tmp_path / "w.csv", ["HITId", "WorkerId", "Answer.s"], [["H1", "W1", "3"], ["H1", "W2", "4.0"]])
    f = read_mturk(path, kind="numeric", return_frame=True)
    assert str(f["label"].dtype) == "Int64" and f["label"].tolist() == [3, 4]
    # categorical reading keeps "3" and "4.0" two distinct labels as written
    assert read_mturk(path, return_frame=True)["label"].tolist() == [3.0, 4.0]


def test_not_numbers(sliders):
    with pytest.raises(FormatError, match="not finite numbers in row 1"):
        read_mturk(sliders, kind="numeric", field="note")
    with pytest.raises(InputError, match="true/false"):
        path = sliders.parent / "g.csv"
        write(path, ["HITId", "WorkerId", "Answer.c.a", "Answer.c.b"], [["H1", "W1", "true", "false"]])
        read_mturk(path, kind="numeric")


def test_infinite_is_not_a_number(tmp_path):
    path = write(tmp_path / "i.csv", ["HITId", "WorkerId", "Answer.s"], [["H1", "W1", "inf"], ["H1", "W2", "1"]])
    with pytest.raises(FormatError, match="'inf'"):
        read_mturk(path, kind="numeric")


def test_ordinal_reads_like_categorical(tmp_path):
    path = write(tmp_path / "o.csv", ["HITId", "WorkerId", "Answer.s"], [["H1", "W1", "3"], ["H1", "W2", "4"]])
    a = read_mturk(path, kind="ordinal", return_frame=True)
    b = read_mturk(path, return_frame=True)
    pd.testing.assert_frame_equal(a, b)
    m = crowdagg.OrdinalDawidSkene(labels=[1, 2, 3, 4, 5]).fit(read_mturk(path, kind="ordinal",
                                                                         labels=[1, 2, 3, 4, 5]))
    assert m.probas_.shape == (1, 5)


def test_io_alias():
    from crowdagg import io

    assert io.read_mturk is read_mturk
