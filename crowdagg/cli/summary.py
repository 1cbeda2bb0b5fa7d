"""``crowdagg summary``: what is in an annotation file."""

from __future__ import annotations

import argparse
import json

from ._common import add_input_args, load_table


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "summary",
        help="counts, annotations per item and worker, label distribution, dropped rows",
        description="Describe an annotation file: sizes, workloads, labels, and rows dropped at ingest.",
    )
    add_input_args(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    summary = load_table(args).summary()
    if args.json:
        d = summary.to_dict()
        d["label_counts"] = {str(k): v for k, v in d["label_counts"].items()}
        print(json.dumps(d, indent=2))
    else:
        print(summary)
    return 0
