"""``crowdagg agreement``: agreement coefficients of an annotation file."""

from __future__ import annotations

import argparse
import sys
import warnings

from ._common import (
    add_input_args,
    add_kind_args,
    add_output_arg,
    check_kind_args,
    float_option,
    int_option,
    label_set_frame,
    load_table,
    prepare_output,
    progress,
    write_frame,
)

#: CLI coefficient name -> (function name in crowdagg.agreement, takes level, takes weights, bootstrap)
COEFFICIENTS = {
    "alpha": ("krippendorff_alpha", True, False, True),
    "fleiss": ("fleiss_kappa", False, True, True),
    "gwet": ("gwet_ac", False, True, True),
    "conger": ("conger_kappa", False, True, False),
    "bp": ("brennan_prediger", False, True, True),
    "percent": ("percent_agreement", False, True, True),
}
TABLES = ("pairwise", "workers")
#: ``--coefficient`` values of each ``--kind`` (categorical and ordinal: every coefficient and table)
KIND_COEFFICIENTS = {"numeric": ("all", "icc", "alpha"), "multilabel": ("all", "alpha")}
#: ``--level`` when not given
DEFAULT_LEVEL = {"categorical": "nominal", "ordinal": "ordinal", "numeric": "interval"}
#: Columns of the scalar coefficients' table, in order (``note``: why a coefficient is undefined)
COLUMNS = ("coefficient", "variant", "value", "se", "ci_low", "ci_high", "pa", "pe", "n_items", "n_annotations",
           "note")
#: Columns of ``--kind numeric`` (the ICCs' F tests between the interval and pa)
NUMERIC_COLUMNS = ("coefficient", "variant", "value", "se", "ci_low", "ci_high", "F", "df1", "df2", "pval", "pa",
                   "pe", "n_items", "n_annotations")
#: Columns of ``--kind multilabel``
MULTILABEL_COLUMNS = COLUMNS[:-1]
_TEXT = ("coefficient", "variant", "note")
_COUNTS = ("n_items", "n_annotations", "df1", "df2")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "agreement",
        help="inter-rater agreement: Krippendorff's alpha, Fleiss/Conger kappa, Gwet AC1/AC2, ...",
        description=(
            "Agreement coefficients with standard errors and confidence intervals. "
            "'pairwise' prints Cohen's kappa for every pair of workers sharing --min-overlap items; "
            "'workers' prints each worker's agreement with the rest."
        ),
    )
    add_input_args(p)
    add_kind_args(p)
    p.add_argument("--coefficient", "-c", default="all",
                   choices=["all", *COEFFICIENTS, "icc", *TABLES],
                   help="coefficient to compute (default: all scalar coefficients); --kind numeric: all (the six "
                        "intraclass correlations and interval alpha), icc or alpha; --kind multilabel: all or alpha "
                        "(Krippendorff's alpha with the MASI and Jaccard set distances)")
    p.add_argument("--level", choices=("nominal", "ordinal", "interval", "ratio"), default=None,
                   help="level of measurement for Krippendorff's alpha (default: nominal; ordinal for --kind "
                        "ordinal, interval for --kind numeric)")
    p.add_argument("--weights", choices=("none", "linear", "quadratic"), default="none",
                   help="agreement weights for the kappa family and Gwet's AC2 (default: none)")
    p.add_argument("--n-boot", type=int_option(0), default=0, metavar="N",
                   help="bootstrap replicates over items for the interval (default: 0, analytic)")
    p.add_argument("--seed", type=int_option(0, 2**32 - 1), default=None, metavar="SEED",
                   help="random seed of the bootstrap (an integer in [0, 2**32 - 1])")
    p.add_argument("--confidence", type=float_option(0.0, 1.0, low_open=True, high_open=True), default=0.95,
                   metavar="LEVEL", help="confidence level, strictly between 0 and 1 (default: 0.95)")
    p.add_argument("--min-overlap", type=int_option(1), default=5, metavar="N",
                   help="pairwise: least number of shared items of a pair (default: 5)")
    p.add_argument("--labels", default=None,
                   help="comma-separated label order (ordinal level and weights follow it); "
                        "it must name every label in use, each once")
    add_output_arg(p, "a readable table")
    p.set_defaults(func=run)


def _parse_labels(text: str | None, table, strip: bool = True) -> list | None:
    """``--labels`` as values of the table's label type (numbers for numeric labels)."""
    from ..errors import ParameterError

    if text is None:
        return None
    parts = [s.strip() if strip else s for s in text.split(",")]
    if any(p == "" for p in parts):
        raise ParameterError(f"--labels has an empty entry: {text!r}")
    kind = table.labels.dtype.kind
    if kind in "iuf":
        conv = int if kind in "iu" else float
        values = []
        for part in parts:
            try:
                values.append(conv(part))
            except ValueError:
                raise ParameterError(
                    f"--labels: {part!r} is not {'an integer' if conv is int else 'a number'}, "
                    f"and the labels of the input are {'integers' if conv is int else 'numbers'}"
                ) from None
        return values
    return parts


def typed_frame(rows: list[dict], columns: tuple[str, ...]):
    """``rows`` as a frame with exactly ``columns``, in order: text columns ``object`` (``None``
    where missing), counts nullable ``Int64`` and figures nullable ``Float64`` (``<NA>`` where a
    coefficient or its interval is undefined), so CSV cells are empty and Parquet cells null."""
    import numpy as np
    import pandas as pd

    out = {}
    for col in columns:
        vals = [row.get(col) for row in rows]
        if col in _TEXT:
            out[col] = pd.Series([None if v is None or v is pd.NA else str(v) for v in vals], dtype=object)
            continue
        clean = [None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else v for v in vals]
        out[col] = pd.array(clean, dtype="Int64" if col in _COUNTS else "Float64")
    return pd.DataFrame(out, columns=list(columns))


def results_frame(table, args: argparse.Namespace):
    """One row per scalar coefficient (see :meth:`AgreementResult.to_dict`), columns :data:`COLUMNS`."""
    from .. import agreement as A
    from ..errors import AgreementUndefinedError, LevelError

    names = list(COEFFICIENTS) if args.coefficient == "all" else [args.coefficient]
    weights = None if args.weights == "none" else args.weights
    rows = []
    for name in names:
        fname, takes_level, takes_weights, boots = COEFFICIENTS[name]
        kw = {"confidence": args.confidence}
        if boots:
            kw.update(n_boot=args.n_boot, random_state=args.seed)
        if takes_level:
            kw["level"] = args.level
        if takes_weights:
            kw["weights"] = weights
        try:
            rows.append(getattr(A, fname)(table, **kw).to_dict())
        except (AgreementUndefinedError, LevelError) as exc:
            if args.coefficient != "all":
                raise
            rows.append({"coefficient": fname, "note": str(exc)})
    return typed_frame(rows, COLUMNS)


def numeric_frame(table, args: argparse.Namespace):
    """--kind numeric: the six ICCs (one row each) and Krippendorff's alpha at ``--level``
    (columns :data:`NUMERIC_COLUMNS`; an ICC's annotations are its complete items x raters)."""
    from .. import agreement as A
    from ..errors import AgreementUndefinedError, CrowdaggWarning

    rows = []
    r = None
    if args.coefficient in ("all", "icc"):
        try:
            r = A.icc(table, confidence=args.confidence)
        except AgreementUndefinedError as exc:
            if args.coefficient == "icc":
                raise
            # crowd ratings are sparse: no complete item rows; alpha handles missing ratings
            warnings.warn(f"the ICCs are left out: {exc}", CrowdaggWarning, stacklevel=2)
    if r is not None:
        lo, hi = [c for c in r.columns if c.startswith("CI")]
        for form, row in r.iterrows():
            rows.append({"coefficient": form, "variant": row["type"], "value": row["ICC"], "F": row["F"],
                         "df1": row["df1"], "df2": row["df2"], "pval": row["pval"], "ci_low": row[lo],
                         "ci_high": row[hi], "n_items": r.attrs["n_items"],
                         "n_annotations": r.attrs["n_items"] * r.attrs["n_raters"]})
    if args.coefficient in ("all", "alpha"):
        rows.append(A.krippendorff_alpha(table, level=args.level, n_boot=args.n_boot, random_state=args.seed,
                                         confidence=args.confidence).to_dict())
    return typed_frame(rows, NUMERIC_COLUMNS)


def multilabel_frame(table, args: argparse.Namespace):
    """--kind multilabel: Krippendorff's alpha with the MASI and the Jaccard distance (no SE)."""
    from .. import agreement as A

    data = label_set_frame(table, args.sep)
    return typed_frame([A.krippendorff_alpha_sets(data, d, sep=args.sep, duplicates="keep").to_dict()
                        for d in A.SET_DISTANCES[::-1]], MULTILABEL_COLUMNS)


def _check_kind(args: argparse.Namespace) -> None:
    from ..errors import ParameterError

    check_kind_args(args)
    kind = args.kind
    allowed = KIND_COEFFICIENTS.get(kind)
    if allowed is not None and args.coefficient not in allowed:
        raise ParameterError(f"--coefficient {args.coefficient} does not apply to --kind {kind}; "
                             f"choose from {', '.join(allowed)}")
    if allowed is None and args.coefficient == "icc":
        raise ParameterError(f"--coefficient icc applies to --kind numeric, not --kind {kind}")
    if kind in ("numeric", "multilabel"):
        for opt, value, unset in (("--weights", args.weights, "none"), ("--labels", args.labels, None)):
            if value != unset:
                raise ParameterError(f"{opt} does not apply to --kind {kind}")
    if kind == "multilabel" and (args.level is not None or args.n_boot):
        raise ParameterError("--level and --n-boot do not apply to --kind multilabel")
    if args.level is None:
        args.level = DEFAULT_LEVEL.get(kind, "nominal")


def run(args: argparse.Namespace) -> int:
    from .. import agreement as A
    from ..errors import ParameterError
    from ..table import AnnotationTable

    _check_kind(args)
    out = prepare_output(args.output, (args.input,))
    table = load_table(args)
    if args.kind in ("numeric", "multilabel"):
        with progress("agreement", quiet=args.quiet):
            result = numeric_frame(table, args) if args.kind == "numeric" else multilabel_frame(table, args)
        return _show(result, args, out)
    labels = _parse_labels(args.labels, table, strip=not args.keep_whitespace)
    if labels is not None:
        if len(set(labels)) != len(labels):
            raise ParameterError(f"--labels names a label twice: {args.labels!r}")
        df = table.to_pandas()
        table = AnnotationTable.from_pandas(df, labels=labels, duplicates="keep")
    with progress("agreement", quiet=args.quiet):
        if args.coefficient == "pairwise":
            weights = None if args.weights == "none" else args.weights
            result = A.pairwise_cohen_kappa(table, min_overlap=args.min_overlap, weights=weights)
        elif args.coefficient == "workers":
            result = A.worker_agreement(table).reset_index()
        else:
            result = results_frame(table, args)
    if args.coefficient == "pairwise" and result.empty:
        note = f"no pair of workers shares >= {args.min_overlap} items (--min-overlap)"
        if args.output is None:
            print(note, file=sys.stdout)
            return 0
        if not args.quiet:
            print(f"crowdagg agreement: {note}; writing the header only", file=sys.stderr)
    return _show(result, args, out)


def readable(result) -> str:
    """The readable table: figures to 4 decimals, ``-`` where undefined, notes left-aligned;
    the ``note`` column only when some coefficient is undefined."""
    import pandas as pd

    if "note" in result and result["note"].isna().all():
        result = result.drop(columns=["note"])
    shown = {}
    for col in result.columns:
        s = result[col]
        if col == "note":
            notes = ["" if pd.isna(v) else str(v) for v in s]
            width = max(len(v) for v in [col, *notes])
            shown[col.ljust(width)] = [v.ljust(width) for v in notes]  # equal widths: printed left-aligned
        elif pd.api.types.is_float_dtype(s.dtype):
            shown[col] = ["-" if pd.isna(v) else f"{float(v):.4f}" for v in s]
        else:
            shown[col] = ["-" if v is None or pd.isna(v) else str(v) for v in s]
    text = pd.DataFrame(shown).to_string(index=False)
    return "\n".join(line.rstrip() for line in text.splitlines())


def _show(result, args: argparse.Namespace, out: str | None) -> int:
    if args.output is not None:
        write_frame(result, out)
        return 0
    print(readable(result), file=sys.stdout)
    return 0
