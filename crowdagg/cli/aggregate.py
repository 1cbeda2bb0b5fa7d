"""``crowdagg aggregate``: consensus labels and posteriors for every item."""

from __future__ import annotations

import argparse
import inspect
import sys

from ..methods.names import BY_KIND, CATEGORICAL
from ._common import (
    KINDS,
    add_input_args,
    add_kind_args,
    add_output_arg,
    check_kind_args,
    float_option,
    input_delimiter,
    int_option,
    kind_class,
    label_set_frame,
    load_table,
    prepare_output,
    progress,
    write_frame,
)

#: CLI method name -> public class name in :mod:`crowdagg` (categorical answers), and per ``--kind``
#: (name -> class name, the default method): the one table of :mod:`crowdagg.methods.names`
METHODS = CATEGORICAL
KIND_METHODS = BY_KIND


def methods_of(kind: str) -> tuple[dict[str, str], str]:
    """The methods of a kind of answers and the default one."""
    return KIND_METHODS.get(kind, (METHODS, "auto"))


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "aggregate",
        help="consensus labels and probabilities per item",
        description="Aggregate annotations into one label per item, with posterior probabilities.",
    )
    add_input_args(p)
    add_kind_args(p)
    names = sorted({*METHODS, *(m for k in KINDS if k in KIND_METHODS for m in KIND_METHODS[k][0])})
    p.add_argument("--method", "-m", choices=names, default=None,
                   help="aggregation method: categorical auto (default: the candidate whose labels best "
                        "predict held-out answers, see docs/auto.md), mv, wawa, ds, bcc, ebcc, glad, mace, ...; "
                        "numeric mean, median, biasnoise (default); ordinal ods; multilabel multilabel")
    p.add_argument("--labels", default=None,
                   help="ordinal: comma-separated level order, lowest first (it must name every label in use)")
    add_output_arg(p, "CSV on stdout")
    p.add_argument("--gold", default=None, metavar="GOLD",
                   help="known answers for EM methods: CSV or Parquet with columns item (or task) and label")
    add_fit_args(p, "random_state, for methods that use one (an integer in [0, 2**32 - 1])", tol=True)
    p.set_defaults(func=run)


def add_fit_args(p: argparse.ArgumentParser, seed_help: str, tol: bool = False) -> None:
    """``--max-iter``, (``--tol``,) ``--seed``: the estimator options of the commands that fit
    (read by :func:`build_estimator`)."""
    p.add_argument("--max-iter", type=int_option(0), default=None, metavar="N",
                   help="EM iterations at most (an integer >= 0)")
    if tol:
        p.add_argument("--tol", type=float_option(0.0), default=None, metavar="TOL",
                       help="EM convergence tolerance (a finite number >= 0)")
    p.add_argument("--seed", type=int_option(0, 2**32 - 1), default=None, metavar="SEED", help=seed_help)


#: option (``args`` attribute) -> estimator parameter, for :func:`build_estimator`
FIT_OPTIONS = (("max_iter", "max_iter"), ("tol", "tol"), ("seed", "random_state"))


def categorical_class(args: argparse.Namespace, cls_name: str) -> type:
    """The class ``cls_name`` of :mod:`crowdagg` for ``--method`` (a one-line error when absent)."""
    import crowdagg

    from ..errors import InputError

    try:
        return getattr(crowdagg, cls_name)
    except (AttributeError, ImportError):
        raise InputError(f"method {args.method!r} ({cls_name}) is not available in this version") from None


def build_estimator(cls: type, args: argparse.Namespace, **kwargs):
    """``cls(**kwargs)`` with the :data:`FIT_OPTIONS` given on the command line; an option the
    method has no parameter for is a one-line error."""
    from ..errors import ParameterError

    params = inspect.signature(cls.__init__).parameters
    for opt, name in FIT_OPTIONS:
        value = getattr(args, opt, None)
        if value is not None:
            if name not in params:
                raise ParameterError(f"--{opt.replace('_', '-')} does not apply to method {args.method!r}")
            kwargs[name] = value
    return cls(**kwargs)


def check_gold_applies(args: argparse.Namespace, est) -> None:
    """``--gold`` with a method whose ``fit`` takes no gold answers, or no ``--gold`` for one
    that needs them (:func:`check_gold_given`): a one-line error."""
    if args.gold is not None and "gold" not in inspect.signature(est.fit).parameters:
        from ..errors import ParameterError

        raise ParameterError(f"--gold does not apply to method {args.method!r}")
    check_gold_given(args, est)


def needs_gold(est) -> bool:
    """Whether ``est.fit`` needs gold answers (``GoldMajorityVote``)."""
    return bool(getattr(est, "_needs_gold", False))


def check_gold_given(args: argparse.Namespace, est) -> None:
    """A method whose fit needs gold answers without ``--gold``: a one-line error in the CLI's
    words, before any input is read."""
    if args.gold is None and needs_gold(est):
        from ..errors import ParameterError

        raise ParameterError(f"method {args.method!r} needs known answers: give them with --gold GOLD, "
                             "or use -m mv or -m wawa")


def _make_estimator(args: argparse.Namespace):
    from ..errors import ParameterError

    check_kind_args(args)
    methods, default = methods_of(args.kind)
    if args.method is None:
        args.method = default
    if args.method not in methods:
        raise ParameterError(f"--method {args.method} does not apply to --kind {args.kind}; "
                             f"choose from {', '.join(sorted(methods))}")
    if args.labels is not None and args.kind != "ordinal":
        raise ParameterError(f"--labels applies to --kind ordinal, not --kind {args.kind}")
    cls_name = methods[args.method]
    cls = categorical_class(args, cls_name) if args.kind == "categorical" else kind_class(args.kind, cls_name)
    params = inspect.signature(cls.__init__).parameters
    kwargs = {}
    if args.kind == "multilabel" and "sep" in params:
        kwargs["sep"] = args.sep
    if args.kind == "ordinal" and args.labels is not None and "labels" in params:
        kwargs["labels"] = args.labels  # replaced by the parsed order once the table is read (_fit_data)
    return build_estimator(cls, args, **kwargs)


def _fit_data(args: argparse.Namespace, est, table):
    """What the estimator of ``--kind`` fits: the table, the table in the ``--labels``
    order (ordinal), or the annotations with label-set cells (multilabel)."""
    if args.kind == "ordinal" and args.labels is not None:
        from ..errors import ParameterError
        from ..table import AnnotationTable
        from .agreement import _parse_labels

        order = _parse_labels(args.labels, table, strip=not args.keep_whitespace)
        if len(set(order)) != len(order):
            raise ParameterError(f"--labels names a label twice: {args.labels!r}")
        if "labels" in est.get_params():
            est.set_params(labels=order)
        return AnnotationTable.from_pandas(table.to_pandas(), labels=order, duplicates="keep")
    if args.kind == "multilabel":
        return label_set_frame(table, args.sep)
    return table


def run(args: argparse.Namespace) -> int:
    est = _make_estimator(args)
    check_gold_applies(args, est)
    out = prepare_output(args.output, (args.input, args.gold))
    table = load_table(args)
    data = _fit_data(args, est, table)
    fit_kwargs = {}
    if args.gold is not None:
        from ..gold import read_gold

        # numeric gold values are numbers of their own (not labels of the data)
        labels = None if args.kind == "numeric" else getattr(data, "labels", table.labels)
        fit_kwargs["gold"] = read_gold(args.gold, labels=labels, items=getattr(data, "items", table.items),
                                       strip=not args.keep_whitespace, delimiter=input_delimiter(args.gold))
    with progress(f"fitting {type(est).__name__}", quiet=args.quiet):
        est.fit(data, **fit_kwargs)
    write_frame(est.to_pandas(), out)
    if out is not None and not args.quiet:
        labels = est.labels_
        n_missing = int(labels.isna().sum()) if getattr(labels, "ndim", 1) == 1 else 0
        extra = f" ({n_missing} without annotations)" if n_missing else ""
        print(f"wrote {len(est.labels_)} items{extra} to {args.output}", file=sys.stderr)
    return 0
