"""``crowdagg agreement``: agreement coefficients of an annotation file."""

from __future__ import annotations

import argparse
import sys

from ._common import add_input_args, load_table, progress, write_frame

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
    p.add_argument("--coefficient", "-c", default="all",
                   choices=["all", *COEFFICIENTS, *TABLES],
                   help="coefficient to compute (default: all scalar coefficients)")
    p.add_argument("--level", choices=("nominal", "ordinal", "interval", "ratio"), default="nominal",
                   help="level of measurement for Krippendorff's alpha (default: nominal)")
    p.add_argument("--weights", choices=("none", "linear", "quadratic"), default="none",
                   help="agreement weights for the kappa family and Gwet's AC2 (default: none)")
    p.add_argument("--n-boot", type=int, default=0,
                   help="bootstrap replicates over items for the interval (default: 0, analytic)")
    p.add_argument("--seed", type=int, default=None, help="random seed of the bootstrap")
    p.add_argument("--confidence", type=float, default=0.95, help="confidence level (default: 0.95)")
    p.add_argument("--min-overlap", type=int, default=5,
                   help="pairwise: least number of shared items of a pair (default: 5)")
    p.add_argument("--labels", default=None,
                   help="comma-separated label order (ordinal level and weights follow it)")
    p.add_argument("-o", "--output", default=None,
                   help="write a .csv/.tsv/.parquet file instead of printing a table ('-' = CSV on stdout)")
    p.set_defaults(func=run)


def _parse_labels(text: str | None, table) -> list | None:
    if text is None:
        return None
    parts = [s.strip() for s in text.split(",") if s.strip()]
    kind = table.labels.dtype.kind
    if kind in "iu":
        return [int(s) for s in parts]
    if kind == "f":
        return [float(s) for s in parts]
    return parts


def results_frame(table, args: argparse.Namespace):
    """One row per scalar coefficient (see :meth:`AgreementResult.to_dict`)."""
    import pandas as pd

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
            row = {"coefficient": fname, "variant": None, "value": None, "note": str(exc)}
            rows.append(row)
    return pd.DataFrame(rows)


def run(args: argparse.Namespace) -> int:
    from .. import agreement as A
    from ..errors import InputError
    from ..table import AnnotationTable

    if args.n_boot < 0:
        raise InputError(f"--n-boot must be >= 0, got {args.n_boot}")
    table = load_table(args)
    labels = _parse_labels(args.labels, table)
    if labels is not None:
        df = table.to_pandas()
        table = AnnotationTable.from_pandas(df, labels=labels, duplicates="keep")
    with progress("agreement", quiet=args.quiet):
        if args.coefficient == "pairwise":
            weights = None if args.weights == "none" else args.weights
            out = A.pairwise_cohen_kappa(table, min_overlap=args.min_overlap, weights=weights)
        elif args.coefficient == "workers":
            out = A.worker_agreement(table).reset_index()
        else:
            out = results_frame(table, args)
    if args.output is not None:
        write_frame(out, args.output)
        return 0
    import pandas as pd

    with pd.option_context("display.max_rows", 200, "display.width", 160, "display.max_columns", 20):
        print(out.to_string(index=False, float_format=lambda v: f"{v:.4f}"), file=sys.stdout)
    return 0
