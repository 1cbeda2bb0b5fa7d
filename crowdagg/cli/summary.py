"""``crowdagg summary``: what is in an annotation file."""

from __future__ import annotations

import argparse
import json

from ._common import (
    add_input_args,
    add_kind_args,
    begin_output,
    check_kind_args,
    load_table,
    multilabel_summary,
    numeric_summary,
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "summary",
        help="counts, annotations per item and worker, label distribution, dropped rows",
        description="Describe an annotation file: sizes, workloads, labels, and rows dropped at ingest "
                    "(--kind numeric adds the ratings' range, mean and SD; --kind multilabel the label sets).",
    )
    add_input_args(p)
    add_kind_args(p)
    p.add_argument("--labels", default=None,
                   help="ordinal: comma-separated level order, lowest first (it must name every label in use)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def _extra(args: argparse.Namespace, table) -> tuple[str, dict] | None:
    """The section of ``--kind``: (title, figures)."""
    from ..errors import ParameterError

    if args.labels is not None and args.kind != "ordinal":
        raise ParameterError(f"--labels applies to --kind ordinal, not --kind {args.kind}")
    if args.kind == "numeric":
        return "ratings", numeric_summary(table)
    if args.kind == "multilabel":
        return "label sets", multilabel_summary(table, args.sep)
    if args.kind == "ordinal":
        from ..table import AnnotationTable
        from .agreement import _parse_labels

        order = _parse_labels(args.labels, table, strip=not args.keep_whitespace)
        if order is not None:
            if len(set(order)) != len(order):
                raise ParameterError(f"--labels names a label twice: {args.labels!r}")
            table = AnnotationTable.from_pandas(table.to_pandas(), labels=order, duplicates="keep")
        counts = table.label_counts()
        return "levels", {"order": [str(v) for v in table.labels],
                          "counts": {str(v): int(c) for v, c in zip(table.labels, counts)}}
    return None


def run(args: argparse.Namespace) -> int:
    check_kind_args(args)
    table = load_table(args)
    extra = _extra(args, table)
    summary = table.summary()
    begin_output()
    if args.json:
        d = summary.to_dict()
        d["label_counts"] = {str(k): v for k, v in d["label_counts"].items()}
        if extra is not None:
            d["kind"] = args.kind
            d[extra[0].replace(" ", "_")] = extra[1]
        print(json.dumps(d, indent=2))
    else:
        print(summary)
        if extra is not None:
            title, figures = extra
            print(f"{title} (--kind {args.kind}):")
            for k, v in figures.items():
                if isinstance(v, dict):
                    v = ", ".join(f"{a}: {b}" for a, b in list(v.items())[:20]) + (" ..." if len(v) > 20 else "")
                elif isinstance(v, list):
                    v = " < ".join(v)
                elif isinstance(v, float):
                    v = f"{v:.4g}"
                elif v is None:  # undefined (the SD of one rating)
                    v = "-"
                print(f"  {k}: {v}")
    return 0
