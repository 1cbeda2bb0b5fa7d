"""``crowdagg aggregate``: consensus labels and posteriors for every item."""

from __future__ import annotations

import argparse
import inspect
import sys

from ._common import (
    add_input_args,
    add_output_arg,
    float_option,
    int_option,
    load_table,
    prepare_output,
    progress,
    write_frame,
)

#: CLI method name -> public class name in :mod:`crowdagg`
METHODS = {
    "mv": "MajorityVote",
    "wawa": "Wawa",
    "zbs": "ZeroBasedSkill",
    "ds": "DawidSkene",
    "onecoin": "OneCoinDawidSkene",
    "glad": "GLAD",
    "mace": "MACE",
    "bcc": "BCC",
    "ebcc": "EBCC",
    "kos": "KOS",
    "mmsr": "MMSR",
    "goldmv": "GoldMajorityVote",
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "aggregate",
        help="consensus labels and probabilities per item",
        description="Aggregate annotations into one label per item, with posterior probabilities.",
    )
    add_input_args(p)
    p.add_argument("--method", "-m", choices=sorted(METHODS), default="mv",
                   help="aggregation method (default: mv, majority vote)")
    add_output_arg(p, "CSV on stdout")
    p.add_argument("--gold", default=None, metavar="GOLD",
                   help="known answers for EM methods: CSV or Parquet with columns item (or task) and label")
    p.add_argument("--max-iter", type=int_option(0), default=None, metavar="N",
                   help="EM iterations at most (an integer >= 0)")
    p.add_argument("--tol", type=float_option(0.0), default=None, metavar="TOL",
                   help="EM convergence tolerance (a finite number >= 0)")
    p.add_argument("--seed", type=int_option(0, 2**32 - 1), default=None, metavar="SEED",
                   help="random_state, for methods that use one (an integer in [0, 2**32 - 1])")
    p.set_defaults(func=run)


def _make_estimator(args: argparse.Namespace):
    import crowdagg

    from ..errors import InputError, ParameterError

    cls_name = METHODS[args.method]
    try:
        cls = getattr(crowdagg, cls_name)
    except (AttributeError, ImportError):
        raise InputError(f"method {args.method!r} ({cls_name}) is not available in this version") from None
    params = inspect.signature(cls.__init__).parameters
    kwargs = {}
    for opt, name in (("max_iter", "max_iter"), ("tol", "tol"), ("seed", "random_state")):
        value = getattr(args, opt)
        if value is not None:
            if name not in params:
                raise ParameterError(f"--{opt.replace('_', '-')} does not apply to method {args.method!r}")
            kwargs[name] = value
    return cls(**kwargs)


def run(args: argparse.Namespace) -> int:
    est = _make_estimator(args)
    if args.gold is not None and "gold" not in inspect.signature(est.fit).parameters:
        from ..errors import ParameterError

        raise ParameterError(f"--gold does not apply to method {args.method!r}")
    out = prepare_output(args.output, (args.input, args.gold))
    table = load_table(args)
    fit_kwargs = {}
    if args.gold is not None:
        from ..gold import read_gold

        fit_kwargs["gold"] = read_gold(args.gold, labels=table.labels, strip=not args.keep_whitespace)
    with progress(f"fitting {type(est).__name__}", quiet=args.quiet):
        est.fit(table, **fit_kwargs)
    write_frame(est.to_pandas(), out)
    if out is not None and not args.quiet:
        n_missing = int(est.labels_.isna().sum())
        extra = f" ({n_missing} without annotations)" if n_missing else ""
        print(f"wrote {len(est.labels_)} items{extra} to {args.output}", file=sys.stderr)
    return 0
