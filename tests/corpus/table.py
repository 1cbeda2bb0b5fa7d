"""Bad inputs of AnnotationTable and its file readers (read_csv, read_parquet, as_table)."""

from __future__ import annotations

import pandas as pd

from crowdagg import AnnotationTable, as_table
from crowdagg.errors import (
    EmptyTableError,
    EncodingError,
    FormatError,
    InputError,
    InputFileNotFoundError,
    MissingColumnError,
    MixedIdTypeError,
    NotAFileError,
    UnhashableIdError,
    UnknownLabelError,
)

from . import case

HEADER = "item,worker,label\n"


def _write(name, content):
    def setup(d):
        p = d / name
        (p.write_bytes if isinstance(content, bytes) else p.write_text)(content)
    return setup


def _parquet_folder(d):
    (d / "parts").mkdir()
    pd.DataFrame({"item": ["a"], "worker": ["w"], "label": ["x"]}).to_parquet(d / "parts" / "a.parquet")
    pd.DataFrame({"item": [1], "worker": ["w"], "label": ["x"]}).to_parquet(d / "parts" / "b.parquet")


def _truncated(d):
    pd.DataFrame({"item": ["a"], "worker": ["w"], "label": ["x"]}).to_parquet(d / "full.parquet")
    data = (d / "full.parquet").read_bytes()
    (d / "t.parquet").write_bytes(data[: len(data) // 2])


case("table-csv-fewer-fields", FormatError, setup=_write("a.csv", HEADER + "a,w,1\nb,w\n"),
     call=lambda d: AnnotationTable.read_csv(d / "a.csv"),
     cli=lambda d: ["aggregate", str(d / "a.csv")], match=r"line 3: 2 field\(s\) where the header has 3")
case("table-csv-more-fields", FormatError, setup=_write("a.csv", HEADER + 'a,w,1\n"x\ny",w,1\nc,w,1,2\n'),
     call=lambda d: AnnotationTable.read_csv(d / "a.csv"),
     cli=lambda d: ["summary", str(d / "a.csv")], match=r"line 5: 4 field\(s\)")
case("table-csv-not-utf8", EncodingError, setup=_write("a.csv", HEADER.encode() + b"a,w,1\nb,w,caf\xe9\n"),
     call=lambda d: AnnotationTable.read_csv(d / "a.csv"),
     cli=lambda d: ["summary", str(d / "a.csv")], match="not UTF-8.*line 3")
case("table-csv-directory", NotAFileError, call=lambda d: AnnotationTable.read_csv(d),
     cli=lambda d: ["aggregate", str(d / "sub.csv")],
     setup=lambda d: (d / "sub.csv").mkdir(), match="directory|folder")
case("table-parquet-missing", InputFileNotFoundError, call=lambda d: AnnotationTable.read_parquet(d / "no.parquet"),
     cli=lambda d: ["summary", str(d / "no.parquet")], match="no such file")
case("table-csv-header-only", EmptyTableError, setup=_write("a.csv", HEADER),
     call=lambda d: AnnotationTable.read_csv(d / "a.csv"),
     cli=lambda d: ["summary", str(d / "a.csv")], match="header but no annotation rows")
case("table-csv-no-label-column", MissingColumnError, setup=_write("a.csv", "item,worker\na,w\n"),
     call=lambda d: AnnotationTable.read_csv(d / "a.csv"),
     cli=lambda d: ["aggregate", str(d / "a.csv")], match=r"missing column\(s\) \['label'\]")
case("table-parquet-given-csv", FormatError, setup=_write("a.parquet", HEADER + "a,w,1\n"),
     call=lambda d: AnnotationTable.read_parquet(d / "a.parquet"),
     cli=lambda d: ["summary", str(d / "a.parquet")], match="as a Parquet file")
case("table-parquet-random-bytes", FormatError, setup=_write("r.parquet", bytes(range(256)) * 8),
     call=lambda d: AnnotationTable.read_parquet(d / "r.parquet"),
     cli=lambda d: ["aggregate", str(d / "r.parquet")], match="Parquet")
case("table-parquet-truncated", FormatError, setup=_truncated,
     call=lambda d: AnnotationTable.read_parquet(d / "t.parquet"),
     cli=lambda d: ["summary", str(d / "t.parquet")], match="Parquet")
case("table-parquet-folder-schemas", FormatError, setup=_parquet_folder,
     call=lambda d: as_table(d / "parts"),
     cli=lambda d: ["summary", str(d / "parts")], match="do not share one schema")
case("table-parquet-empty-folder", EmptyTableError, setup=lambda d: (d / "e").mkdir(),
     call=lambda d: AnnotationTable.read_parquet(d / "e"),
     cli=lambda d: ["summary", str(d / "e")], match=r"no Parquet files|without \.parquet files")
case("table-bool-merged-with-int", MixedIdTypeError,
     call=lambda d: AnnotationTable.from_arrays([True, 1, False, 0], ["w"] * 4, ["x"] * 4),
     match=r"\['bool', 'number'\]")
case("table-tuple-ids", UnhashableIdError,
     call=lambda d: AnnotationTable.from_arrays([(1, 2), (1, 3)], ["w", "w"], ["x", "y"]), match="tuple values")
case("table-labels-arg-mixed", MixedIdTypeError,
     call=lambda d: AnnotationTable.from_arrays(["a"], ["w"], [0], labels=[0, "x"]), match="labels= mixes")
case("table-labels-arg-bool-vs-int", UnknownLabelError,
     call=lambda d: AnnotationTable.from_arrays(["a"], ["w"], [True], labels=[0, 1]), match="bools never")
case("table-strip-for-a-frame", InputError,
     call=lambda d: as_table(pd.DataFrame({"item": ["a"], "worker": ["w"], "label": ["x"]}), strip=False),
     match="strip")
