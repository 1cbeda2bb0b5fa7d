"""Cases that every reader shares (a model for the other modules of the corpus)."""

from __future__ import annotations

from crowdagg import AnnotationTable
from crowdagg.errors import InputFileNotFoundError

from . import case

case("csv-missing-path", InputFileNotFoundError,
     call=lambda d: AnnotationTable.read_csv(d / "nope.csv"),
     cli=lambda d: ["aggregate", str(d / "nope.csv")], match="no such file", process=True)
