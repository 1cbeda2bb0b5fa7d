"""Bad inputs of the Mechanical Turk reader (``mturk-``) and the dataset loaders (``loader-``)."""

from __future__ import annotations

import json
from pathlib import Path

from crowdagg.datasets import load_dataset, read_common, read_mace, read_triples, read_truth_inference
from crowdagg.errors import (
    DatasetNotFoundError,
    EncodingError,
    FormatError,
    InputError,
    InputFileNotFoundError,
    NotAFileError,
)
from crowdagg.mturk import MAX_JSON_DEPTH, read_mturk, read_mturk_assignments

from . import case

HEADER = "HITId,AssignmentId,WorkerId,AssignmentStatus,Input.item,Answer.label\n"


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _mturk(d: Path) -> str:
    return str(d / "batch.csv")


def _aggregate(d: Path) -> list[str]:
    return ["aggregate", _mturk(d), "--format", "mturk", "--quiet"]


def _mturk_case(id: str, error: type[BaseException], body: str | bytes, match: str | None = None,
                **kw) -> None:
    def setup(d: Path) -> None:
        _write(d / "batch.csv", body)

    case(id, error, setup=setup, call=lambda d: read_mturk(_mturk(d), **kw), cli=_aggregate, match=match)


# --------------------------------------------------------------------------- ragged rows, bad quoting
# every data row has one field more than the header: pandas shifted every column (items became
# worker ids), exit 0
_mturk_case("mturk-ragged-every-row-one-more", FormatError,
            HEADER + "H1,A1,W1,Approved,x,pos,extra\nH1,A2,W2,Approved,x,neg,extra\n",
            match=r"line 2: 7 fields, but the header \(line 1\) has 6")
# a quoted answer holding newlines: the line named is the physical line of the file
_mturk_case("mturk-ragged-after-multiline-cell", FormatError,
            HEADER + 'H1,A1,W1,Approved,x,"a\nmultiline\nanswer"\nH1,A2,W2,Approved,x\n',
            match=r"line 5: 5 fields, but the header \(line 1\) has 6")
_mturk_case("mturk-ragged-one-short-row", FormatError,
            HEADER + "H1,A1,W1,Approved,x,pos\nH1,A2,W2,Approved,x\nH2,A3,W1,Approved,y,neg\n",
            match=r"line 3: 5 fields")
_mturk_case("mturk-bad-quoting", FormatError, HEADER + 'H1,A1,W1,Approved,x,"pos"oops\n',
            match=r"line 2: not valid CSV")
_mturk_case("mturk-duplicate-header", FormatError,
            "HITId,WorkerId,Answer.label,Answer.label\nH1,W1,a,b\n", match="appears twice")

# --------------------------------------------------------------------------- files
case("mturk-missing-path", InputFileNotFoundError, call=lambda d: read_mturk(d / "nope.csv"),
     cli=lambda d: ["aggregate", str(d / "nope.csv"), "--format", "mturk"], match="no such file")
case("mturk-api-missing-path", InputFileNotFoundError,
     call=lambda d: read_mturk_assignments(d / "nope.json"), match="no such file")
case("mturk-directory", NotAFileError, setup=lambda d: (d / "batch.csv").mkdir(),
     call=lambda d: read_mturk(_mturk(d)), cli=_aggregate, match="is a (directory|folder)")
_mturk_case("mturk-csv-not-utf8", EncodingError, HEADER.encode() + b"H1,A1,W1,Approved,x,caf\xe9\n",
            match=r"not UTF-8: byte b'\\xe9' on line 2, column 24")
_mturk_case("mturk-csv-utf16", EncodingError, HEADER.encode("utf-16"), match="UTF-16")
_mturk_case("mturk-binary-garbage", FormatError, bytes(range(256)) * 4, match="binary file")
_mturk_case("mturk-parquet-as-csv", FormatError, b"PAR1\x15\x04\x15\x10\x15\x14L\x15\x02" + b"\x00" * 20,
            match="Parquet")
_mturk_case("mturk-empty-worker-after-strip", FormatError, HEADER + "H1,A1, \t ,Approved,x,pos\n",
            match="WorkerId is empty")


def _json_case(id: str, error: type[BaseException], name: str, body: str | bytes, match: str) -> None:
    def setup(d: Path) -> None:
        _write(d / name, body)

    case(id, error, setup=setup, call=lambda d: read_mturk(d / name),
         cli=lambda d: ["aggregate", str(d / name), "--format", "mturk", "--quiet"], match=match)


_json_case("mturk-json-not-utf8", EncodingError, "dump.json",
           b'{"Assignments": [{"HITId": "H1", "WorkerId": "W\xff1"}]}', match="not UTF-8")
# deep nesting: json.loads or the recursive walks raised RecursionError
_json_case("mturk-json-deeply-nested", FormatError, "dump.json", "[" * 100_000 + "]" * 100_000,
           match=f"nested more than {MAX_JSON_DEPTH} levels")
_json_case("mturk-json-nested-past-the-limit", FormatError, "dump.json",
           "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), match="nested more than")
_json_case("mturk-jsonl-deeply-nested", FormatError, "dump.jsonl", '{"a": ' * 50_000 + "1" + "}" * 50_000,
           match=r"line 1: JSON nested more than")
_json_case("mturk-json-scalar", FormatError, "dump.json", "42", match="found int 42")
_json_case("mturk-json-null", FormatError, "dump.json", "null", match="found NoneType")
_mturk_case("mturk-task-answers-deeply-nested", FormatError,
            "HITId,WorkerId,Answer.taskAnswers\nH1,W1," + json.dumps("[" * 5000 + "]" * 5000) + "\n",
            match=r"row 1: taskAnswers: JSON nested more than")
case("mturk-in-memory-cycle", FormatError,
     call=lambda d: read_mturk_assignments((lambda x: (x.append(x), x)[1])([])),
     match="nested more than")

# --------------------------------------------------------------------------- options
case("mturk-strip-not-bool", InputError, setup=lambda d: _write(d / "batch.csv", HEADER + "H1,A1,W1,Approved,x,pos\n"),
     call=lambda d: read_mturk(_mturk(d), strip="yes"), match="strip must be")


# --------------------------------------------------------------------------- dataset loaders
def _loader_case(id: str, error: type[BaseException], files: dict[str, str | bytes], call,
                 match: str | None = None) -> None:
    def setup(d: Path) -> None:
        for name, body in files.items():
            _write(d / "ds" / name, body)

    case(id, error, setup=setup, call=lambda d: call(d / "ds"), match=match)


_loader_case("loader-common-ragged-every-row", FormatError,
             {"answers.csv": "task,worker,label\n1,w1,0,x\n1,w2,1,x\n"}, load_dataset,
             match=r"line 2: 4 fields, but the header \(line 1\) has 3")
_loader_case("loader-common-ragged-after-multiline-cell", FormatError,
             {"answers.csv": 'task,worker,label\n1,w1,"a\nb"\n1,w2\n'}, read_common, match=r"line 4: 2 fields")
_loader_case("loader-gold-ragged", FormatError,
             {"answers.csv": "task,worker,label\n1,w1,0\n", "gold.csv": "task,label\n1,0,0\n"}, load_dataset,
             match=r"gold file .* line 2: 3 fields")
_loader_case("loader-truth-inference-ragged", FormatError,
             {"answer.csv": "question,worker,answer\nq1,w1,1\nq2,w1\n"}, read_truth_inference,
             match=r"line 3: 2 fields")
_loader_case("loader-triples-ragged", FormatError, {"answers.txt": "i1 w1 a\ni2 w1 b extra\n"},
             lambda d: read_triples(d / "answers.txt"), match=r"line 2: 4 fields, but every line needs 3")
_loader_case("loader-mace-bad-quoting", FormatError, {"x.csv": 'a,b\n"a"b,c\n', "x.key": "a\nb\n"},
             load_dataset, match=r"line 2: not valid CSV")
_loader_case("loader-duplicate-column", FormatError, {"answers.csv": "task,worker,label,label\n1,w,a,b\n"},
             load_dataset, match="'label' appears twice")
_loader_case("loader-empty-worker-after-strip", FormatError, {"answers.csv": "task,worker,label\n1,  ,a\n"},
             load_dataset, match=r"empty 'worker' cells \(lines \[2\]\)")
_loader_case("loader-answers-not-utf8", EncodingError, {"answers.csv": b"task,worker,label\n1,w\xe91,a\n"},
             load_dataset, match="line 2, column 4")
_loader_case("loader-mace-key-not-utf8", EncodingError, {"x.csv": "a,b\n", "x.key": b"\xff\n"}, load_dataset,
             match="MACE key file")
_loader_case("loader-triples-binary", FormatError, {"answers.txt": b"i1 w1 a\n\x00\x01\x02"},
             lambda d: read_triples(d / "answers.txt"), match="binary file")
_loader_case("loader-mace-parquet", FormatError, {"x.csv": b"PAR1\x00\x00", "x.key": "a\n"},
             lambda d: read_mace(d / "x.csv"), match="Parquet")
_loader_case("loader-missing-gold", DatasetNotFoundError, {"answers.csv": "task,worker,label\n1,w,a\n"},
             lambda d: read_common(d / "answers.csv", d / "gold.csv"), match="gold file: no such file")
_loader_case("loader-gold-is-a-directory", NotAFileError, {"answers.csv": "task,worker,label\n1,w,a\n",
                                                           "g/gold.csv": "task,label\n"},
             lambda d: read_common(d / "answers.csv", d / "g"), match="is a directory")
_loader_case("loader-mace-directory", NotAFileError, {"x.csv/inner": "x"}, lambda d: read_mace(d / "x.csv"),
             match="is a directory")
_loader_case("loader-strip-not-bool", InputError, {"answers.csv": "task,worker,label\n1,w,a\n"},
             lambda d: load_dataset(d, strip="no"), match="strip must be")
