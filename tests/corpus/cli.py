"""Bad command lines: option values, input files, outputs and gold files of every sub-command.

Each case writes its files with :func:`_files` (``ok.csv``, ``num.csv``, ``gold.csv``,
``junk.bin``, ``empty.csv``, ``adir/``, ...) and gives the ``crowdagg`` command
line; ``tests/test_bad_input.py`` checks one ``crowdagg <command>: error:`` line,
exit 2 and no traceback.  ``error`` names the crowdagg class behind the message
(argparse's own errors count as ParameterError).  ``process=True`` for a few:
argparse exits and a real console start-up.
"""

from __future__ import annotations

from pathlib import Path

from crowdagg.errors import (
    EmptyTableError,
    EncodingError,
    FormatError,
    GoldError,
    InputError,
    InputFileNotFoundError,
    MissingColumnError,
    NotAFileError,
    OutputError,
    ParameterError,
)

from . import case

OK = "item,worker,label\n1,a,x\n1,b,y\n2,a,x\n2,b,x\n3,a,y\n3,b,y\n"
NUM = "item,worker,label\n1,a,1\n1,b,2\n2,a,1\n2,b,1\n3,a,2\n3,b,2\n"


def _files(d: Path) -> None:
    (d / "ok.csv").write_text(OK)
    (d / "num.csv").write_text(NUM)
    (d / "gold.csv").write_text("item,label\n1,x\n")
    (d / "junk.bin").write_bytes(bytes(range(256)) * 4)
    (d / "empty.csv").write_bytes(b"")
    (d / "adir").mkdir(exist_ok=True)
    (d / "fake.parquet").write_text(OK)
    (d / "plain.txt").write_text("just some text\n")


def _gold(text: str | bytes, name: str = "g.csv"):
    def setup(d: Path) -> None:
        _files(d)
        p = d / name
        p.write_bytes(text) if isinstance(text, bytes) else p.write_text(text)

    return setup


def cmd(*argv: str):
    """A command line whose paths are relative to the case folder (the tests run there)."""
    return lambda d: list(argv)


def cli_case(id: str, error: type[BaseException], argv: tuple[str, ...], *, match: str | None = None,
             setup=_files, process: bool = False) -> None:
    case(f"cli-{id}", error, cli=cmd(*argv), setup=setup, match=match, process=process)


# --------------------------------------------------------------------------- option values (parse time)
cli_case("max-iter-negative", ParameterError, ("aggregate", "ok.csv", "-m", "ds", "--max-iter", "-1"),
         match=r"--max-iter: must be an integer in \[0, ", process=True)
cli_case("max-iter-absurd", ParameterError, ("aggregate", "ok.csv", "-m", "ds", "--max-iter", "10" * 12),
         match="--max-iter: must be an integer in")
cli_case("max-iter-not-int", ParameterError, ("aggregate", "ok.csv", "-m", "ds", "--max-iter", "1e3"),
         match="--max-iter: expected an integer")
cli_case("tol-nan", ParameterError, ("aggregate", "ok.csv", "-m", "ds", "--tol", "nan"),
         match="--tol: must be a finite number")
cli_case("tol-inf", ParameterError, ("aggregate", "ok.csv", "-m", "ds", "--tol", "inf"),
         match="--tol: must be a finite number")
cli_case("tol-negative", ParameterError, ("aggregate", "ok.csv", "-m", "ds", "--tol", "-0.001"),
         match=r"--tol: must lie in \[0, inf\]")
cli_case("seed-negative", ParameterError, ("aggregate", "ok.csv", "-m", "mace", "--seed", "-1"),
         match="--seed: must be an integer in")
cli_case("seed-huge", ParameterError, ("agreement", "num.csv", "--n-boot", "10", "--seed", str(2**64)),
         match="--seed: must be an integer in")
cli_case("method-unknown", ParameterError, ("aggregate", "ok.csv", "-m", "bogus"), match="invalid choice")
cli_case("n-boot-negative", ParameterError, ("agreement", "num.csv", "--n-boot", "-5"),
         match="--n-boot: must be an integer", process=True)
cli_case("confidence-one", ParameterError, ("agreement", "num.csv", "--confidence", "1"),
         match=r"--confidence: must lie in \(0, 1\)")
cli_case("confidence-nan", ParameterError, ("workers", "ok.csv", "--gold", "gold.csv", "--confidence", "nan"),
         match="--confidence: must be a finite number")
cli_case("min-overlap-zero", ParameterError, ("agreement", "num.csv", "-c", "pairwise", "--min-overlap", "0"),
         match="--min-overlap: must be an integer")
cli_case("min-accuracy-2", ParameterError, ("workers", "ok.csv", "--gold", "gold.csv", "--min-accuracy", "2"),
         match=r"--min-accuracy: must lie in \[0, 1\]")
cli_case("min-gold-negative", ParameterError, ("workers", "ok.csv", "--gold", "gold.csv", "--min-gold", "-1"),
         match="--min-gold: must be an integer")
cli_case("level-bogus", ParameterError, ("agreement", "num.csv", "--level", "bogus"),
         match="--level: invalid choice", process=True)
cli_case("format-bogus", ParameterError, ("summary", "ok.csv", "--format", "xlsx"), match="--format: invalid choice")
cli_case("unknown-option", ParameterError, ("aggregate", "ok.csv", "--bogus"),
         match="crowdagg aggregate: error: unrecognized arguments: --bogus", process=True)
cli_case("unknown-command", ParameterError, ("bogus", "ok.csv"), match="invalid choice: 'bogus'", process=True)
cli_case("no-input", ParameterError, ("summary",), match="required: INPUT")
cli_case("gold-required", ParameterError, ("workers", "ok.csv"), match="required: --gold")

# --------------------------------------------------------------------------- options that do not fit (run time)
cli_case("max-iter-for-mv", ParameterError, ("aggregate", "ok.csv", "-m", "mv", "--max-iter", "3"),
         match="--max-iter does not apply to method 'mv'")
cli_case("gold-for-mv", ParameterError, ("aggregate", "ok.csv", "-m", "mv", "--gold", "gold.csv"),
         match="--gold does not apply to method 'mv'")
cli_case("field-on-csv", ParameterError, ("aggregate", "ok.csv", "--field", "sentiment"),
         match="--field applies to Mechanical Turk files only")
cli_case("include-rejected-on-csv", ParameterError, ("summary", "ok.csv", "--include-rejected"),
         match="--include-rejected applies to Mechanical Turk files only")
cli_case("labels-not-integers", ParameterError, ("agreement", "num.csv", "--labels", "a,b"),
         match="--labels: 'a' is not an integer")
cli_case("labels-empty-entry", ParameterError, ("agreement", "num.csv", "--labels", "1,,2"),
         match="--labels has an empty entry")
cli_case("labels-repeated", ParameterError, ("agreement", "num.csv", "--labels", "1,2,1"),
         match="--labels names a label twice")
cli_case("labels-incomplete", InputError, ("agreement", "num.csv", "--labels", "1"), match="outside labels")
cli_case("sort-by-unknown", InputError, ("workers", "ok.csv", "--gold", "gold.csv", "--sort-by", "nope"),
         match="cannot sort by")
cli_case("columns-unknown", MissingColumnError, ("summary", "ok.csv", "--label-col", "answer"),
         match="--item-col, --worker-col, --label-col")

# --------------------------------------------------------------------------- input files
cli_case("parquet-format-on-csv", FormatError, ("aggregate", "ok.csv", "--format", "parquet"),
         match="cannot read 'ok.csv' as (a )?Parquet", process=True)
cli_case("parquet-extension-on-csv", FormatError, ("summary", "fake.parquet"), match="fake.parquet")
cli_case("mturk-format-on-csv", FormatError, ("aggregate", "ok.csv", "--format", "mturk"),
         match="not a Mechanical Turk")
cli_case("mturk-format-on-binary", FormatError, ("summary", "junk.bin", "--format", "mturk"), match="junk.bin")
cli_case("mturk-format-on-empty", FormatError, ("aggregate", "empty.csv", "--format", "mturk"), match="empty")
# junk.bin: every byte value, NUL and control bytes in the first line, invalid UTF-8 after it
cli_case("csv-format-on-binary", FormatError, ("aggregate", "junk.bin", "--format", "csv"), match="UTF-8|binary")
cli_case("csv-on-binary-agreement", FormatError, ("agreement", "junk.bin"), match="UTF-8|binary")
cli_case("csv-on-gzip", FormatError, ("summary", "data.csv"), match="UTF-8|binary",
         setup=lambda d: (_files(d), (d / "data.csv").write_bytes(__import__("gzip").compress(OK.encode()))))
cli_case("csv-on-plain-text", MissingColumnError, ("aggregate", "plain.txt"), match="missing column")
cli_case("input-folder-as-csv", NotAFileError, ("aggregate", "adir", "--format", "csv"),
         match="'adir' is a folder, not a csv file")
cli_case("input-folder-as-mturk", NotAFileError, ("summary", "adir", "--format", "mturk"), match="is a folder")
cli_case("input-folder-without-parquet", NotAFileError, ("workers", "adir", "--gold", "gold.csv"),
         match="folder without .parquet files")
cli_case("input-empty-file", EmptyTableError, ("aggregate", "empty.csv"), match="empty")
cli_case("input-empty-file-summary", EmptyTableError, ("summary", "empty.csv"), match="empty")
cli_case("input-missing", InputFileNotFoundError, ("agreement", "nope.csv"), match="no such file: 'nope.csv'")
cli_case("input-missing-mturk", InputFileNotFoundError, ("summary", "nope.csv", "--format", "mturk"),
         match="no such file")
cli_case("input-not-a-regular-file", NotAFileError, ("summary", "/dev/null", "--format", "csv"),
         match="not a regular file")

# --------------------------------------------------------------------------- outputs
cli_case("output-unknown-extension", OutputError, ("aggregate", "ok.csv", "-o", "out.xyz"),
         match="cannot tell the output format of 'out.xyz'")
cli_case("output-unknown-extension-agreement", OutputError, ("agreement", "num.csv", "-o", "out.xlsx"),
         match="output format")
cli_case("output-unknown-extension-workers", OutputError, ("workers", "ok.csv", "--gold", "gold.csv", "-o", "o"),
         match="output format")
cli_case("output-is-the-input", OutputError, ("aggregate", "ok.csv", "-o", "ok.csv"),
         match="never overwrites its input")
cli_case("output-is-the-gold", OutputError, ("workers", "ok.csv", "--gold", "gold.csv", "-o", "./gold.csv"),
         match="never overwrites its input")
cli_case("output-is-a-folder", OutputError, ("aggregate", "ok.csv", "-o", "adir.csv"),
         setup=lambda d: (_files(d), (d / "adir.csv").mkdir()), match="is a folder")
cli_case("output-under-a-file", OutputError, ("aggregate", "ok.csv", "-o", "ok.csv/sub/out.csv"),
         match="is a file, not a folder")
cli_case("output-unwritable", OutputError, ("aggregate", "ok.csv", "-o", "/proc/crowdagg-out.csv"),
         match="cannot write '/proc/crowdagg-out.csv'")

# --------------------------------------------------------------------------- gold files
cli_case("gold-missing", InputFileNotFoundError, ("aggregate", "ok.csv", "-m", "ds", "--gold", "nope.csv"),
         match="no such gold file: 'nope.csv'")
cli_case("gold-missing-workers", InputFileNotFoundError, ("workers", "ok.csv", "--gold", "nope.csv"),
         match="no such gold file")
cli_case("gold-folder", NotAFileError, ("workers", "ok.csv", "--gold", "adir"), match="is a folder")
cli_case("gold-binary", EncodingError, ("workers", "ok.csv", "--gold", "junk.bin"), match="not UTF-8 text")
cli_case("gold-latin1", EncodingError, ("aggregate", "ok.csv", "-m", "ds", "--gold", "g.csv"),
         setup=_gold("item,label\n1,x\n2,caf\xe9\n".encode("latin-1")), match="not UTF-8 text")
cli_case("gold-empty", GoldError, ("workers", "ok.csv", "--gold", "empty.csv"), match="is empty")
cli_case("gold-header-only", GoldError, ("workers", "ok.csv", "--gold", "g.csv"), setup=_gold("item,label\n"),
         match="a header and no rows")
cli_case("gold-row-too-long", GoldError, ("aggregate", "ok.csv", "-m", "ds", "--gold", "g.csv"),
         setup=_gold("item,label\n1,x,3\n"), match="Expected 2 columns, got 3")
cli_case("gold-row-too-short", GoldError, ("workers", "ok.csv", "--gold", "g.csv"),
         setup=_gold("item,label\n1,x\n2\n"), match="Expected 2 columns, got 1")
cli_case("gold-without-label", GoldError, ("workers", "ok.csv", "--gold", "g.csv"),
         setup=_gold("item,label\n1,x\n2,\n3,  \n"), match=r"2 row\(s\) without a label \(lines \[3, 4\]\)")
cli_case("gold-without-item", GoldError, ("aggregate", "ok.csv", "-m", "ds", "--gold", "g.csv"),
         setup=_gold("item,label\n,x\n"), match="without an item id")
cli_case("gold-unknown-item", GoldError, ("aggregate", "ok.csv", "-m", "ds", "--gold", "g.csv"),
         setup=_gold("item,label\n99,x\n"), match="not in the table")
cli_case("gold-unknown-label", GoldError, ("workers", "ok.csv", "--gold", "g.csv"),
         setup=_gold("item,label\n1,z\n"), match="gold label")
cli_case("gold-conflicting-labels", GoldError, ("workers", "ok.csv", "--gold", "g.csv"),
         setup=_gold("item,label\n1,x\n 1 ,y\n"), match="different labels")
cli_case("gold-missing-columns", GoldError, ("workers", "ok.csv", "--gold", "g.csv"),
         setup=_gold("item,answer\n1,x\n"), match="needs columns item")
cli_case("gold-repeated-column", GoldError, ("workers", "ok.csv", "--gold", "g.csv"),
         setup=_gold("item,label,label\n1,x,y\n"), match="repeats a column name")
cli_case("gold-parquet-not-parquet", GoldError, ("workers", "ok.csv", "--gold", "fake.parquet"),
         match="cannot read gold file 'fake.parquet' as Parquet")
