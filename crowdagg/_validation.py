"""Argument checks shared by the estimators: parameter constraints, seeds, parameter domains.

Hyper-parameters
----------------
Each estimator declares ``_parameter_constraints``: a mapping from every
``__init__`` parameter to a list of constraints, any one of which the value must
satisfy.  A constraint is one of

* an :class:`Interval` (``Interval(Integral, 1, None)``: an int >= 1;
  ``Interval(Real, 0, 1, closed="right")``: a finite float in (0, 1]);
* an :class:`Options` (one of a set of values, compared with ``==``);
* an :class:`Pair` (a pair of values, each with its own constraint);
* the strings ``"boolean"``, ``"random_state"``, ``"callable"``,
  ``"no_validation"`` (checked elsewhere, e.g. worker weights);
* ``None`` (the value ``None`` is allowed);
* a type (``isinstance``).

:func:`validate_params` checks them all and raises
:class:`~crowdagg.errors.ParameterError` naming the estimator, the parameter, the
rule and the value.  ``bool`` is never accepted as a number.

Seeds
-----
:func:`check_random_state` is the one place where a ``random_state`` becomes a
:class:`numpy.random.Generator`: ``None``, a non-negative int, a
:class:`numpy.random.SeedSequence`, a :class:`numpy.random.Generator` or a
:class:`numpy.random.RandomState`; anything else (``bool``, negative ints,
floats, strings) raises :class:`~crowdagg.errors.ParameterError`.

Parameter domains (warm starts)
-------------------------------
:class:`Domain` states the range of one array of EM parameters (see
:attr:`crowdagg.em.EMModel.param_domains`); :func:`check_domain` checks it and
applies the probability floor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np

from .errors import InitParamsError, ParameterError

__all__ = [
    "Interval",
    "Options",
    "Pair",
    "validate_params",
    "check_random_state",
    "check_choice",
    "check_int",
    "check_float",
    "Domain",
    "check_domain",
    "PROB_FLOOR",
    "FINITE",
    "PROBABILITY",
    "simplex",
]


# --------------------------------------------------------------------------- constraints
def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, (bool, np.bool_))


def _fmt(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


@dataclass(frozen=True)
class Interval:
    """Numbers of ``type`` (``Integral`` or ``Real``) between ``left`` and ``right``.

    ``None`` bounds are unbounded; ``closed`` is ``"both"``, ``"left"``,
    ``"right"`` or ``"neither"``.  Reals must also be finite (never NaN or
    infinite); an int is a valid Real.
    """

    type: type
    left: float | None
    right: float | None
    closed: str = "both"

    def is_satisfied_by(self, value: Any) -> bool:
        if self.type is Integral:
            if not _is_int(value):
                return False
        elif not _is_real(value) or not np.isfinite(float(value)):
            return False
        lo_closed = self.closed in ("both", "left")
        hi_closed = self.closed in ("both", "right")
        if self.left is not None and (value < self.left or (not lo_closed and value == self.left)):
            return False
        if self.right is not None and (value > self.right or (not hi_closed and value == self.right)):
            return False
        return True

    def __str__(self) -> str:
        what = "an int" if self.type is Integral else "a finite number"
        if self.left is not None and self.right is not None:
            lo = "[" if self.closed in ("both", "left") else "("
            hi = "]" if self.closed in ("both", "right") else ")"
            return f"{what} in {lo}{_fmt(self.left)}, {_fmt(self.right)}{hi}"
        if self.left is not None:
            return f"{what} {'>=' if self.closed in ('both', 'left') else '>'} {_fmt(self.left)}"
        if self.right is not None:
            return f"{what} {'<=' if self.closed in ('both', 'right') else '<'} {_fmt(self.right)}"
        return what


@dataclass(frozen=True)
class Options:
    """One of ``options`` (compared with ``==``; ``bool`` never matches an int)."""

    options: tuple[Any, ...]

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, (bool, np.bool_)) and not any(isinstance(o, bool) for o in self.options):
            return False
        for o in self.options:
            try:
                if (value is o) or bool(value == o) is True:
                    return True
            except Exception:  # arrays and other odd objects
                continue
        return False

    def __str__(self) -> str:
        return "one of {" + ", ".join(repr(o) for o in self.options) + "}"


@dataclass(frozen=True)
class Pair:
    """A pair (tuple, list or 1-D array of length 2) whose items satisfy ``first`` and ``second``."""

    first: Any
    second: Any
    names: tuple[str, str] = ("first", "second")

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, (str, bytes, Mapping)):
            return False
        try:
            items = list(value)
        except TypeError:
            return False
        return (len(items) == 2 and _satisfies(self.first, items[0])
                and _satisfies(self.second, items[1]))

    def __str__(self) -> str:
        return (f"a pair ({self.names[0]}, {self.names[1]}) with {self.names[0]} "
                f"{_describe(self.first)} and {self.names[1]} {_describe(self.second)}")


def _satisfies(constraint: Any, value: Any) -> bool:
    if constraint is None:
        return value is None
    if constraint == "boolean":
        return isinstance(value, (bool, np.bool_))
    if constraint == "random_state":
        try:
            check_random_state(value)
        except ParameterError:
            return False
        return True
    if constraint == "callable":
        return callable(value)
    if constraint == "no_validation":
        return True
    if isinstance(constraint, type):
        return isinstance(value, constraint)
    return bool(constraint.is_satisfied_by(value))


def _describe(constraint: Any) -> str:
    if constraint is None:
        return "None"
    if constraint == "boolean":
        return "True or False"
    if constraint == "random_state":
        return "None, an int >= 0, a numpy SeedSequence, Generator or RandomState"
    if constraint == "callable":
        return "a callable"
    if isinstance(constraint, type):
        return f"a {constraint.__name__}"
    return str(constraint)


def describe(constraints: list[Any]) -> str:
    """The rule ``constraints`` state, in words."""
    parts = [_describe(c) for c in constraints]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def validate_params(owner: str, constraints: Mapping[str, list[Any]], params: Mapping[str, Any]) -> None:
    """Check every value of ``params`` that ``constraints`` names.

    Raises
    ------
    ParameterError
        ``"<owner>: <name> must be <rule>, got <value>"`` for the first value that
        satisfies none of its constraints.
    """
    for name, rules in constraints.items():
        if name not in params:
            continue
        value = params[name]
        if any(_satisfies(c, value) for c in rules):
            continue
        raise ParameterError(f"{owner}: {name} must be {describe(rules)}, got {_short_repr(value)}")


def _short_repr(value: Any) -> str:
    r = repr(value)
    return r if len(r) <= 80 else r[:77] + "..."


# --------------------------------------------------------------------------- simple checks
def check_choice(name: str, value: Any, choices: tuple[Any, ...]) -> Any:
    """``value`` if it is one of ``choices``, else :class:`ParameterError`."""
    if not Options(tuple(choices)).is_satisfied_by(value) and not (value is None and None in choices):
        raise ParameterError(f"{name} must be one of {choices}, got {_short_repr(value)}")
    return value


def check_int(name: str, value: Any, minimum: int = 0) -> int:
    """``value`` as an int if it is an int (not a bool) >= ``minimum``, else :class:`ParameterError`."""
    if not _is_int(value) or value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {_short_repr(value)}")
    return int(value)


def check_float(name: str, value: Any, minimum: float = 0.0, strict: bool = False) -> float:
    """``value`` as a float if finite and >= (``strict``: >) ``minimum``, else :class:`ParameterError`."""
    if not _is_real(value) or not np.isfinite(float(value)):
        raise ParameterError(f"{name} must be a finite number, got {_short_repr(value)}")
    if value < minimum or (strict and value == minimum):
        op = ">" if strict else ">="
        raise ParameterError(f"{name} must be {op} {minimum}, got {_short_repr(value)}")
    return float(value)


def check_random_state(seed: Any) -> np.random.Generator:
    """A NumPy Generator from ``seed``: the one rule for every ``random_state`` in crowdagg.

    Parameters
    ----------
    seed : None, int >= 0, numpy SeedSequence, Generator or RandomState
        ``None``: fresh entropy; an int or SeedSequence: a new Generator seeded with
        it; a Generator: itself (draws advance it); a RandomState: a Generator seeded
        from one draw of it.

    Raises
    ------
    ParameterError
        For ``bool``, negative ints and anything else.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.RandomState):
        return np.random.default_rng(seed.randint(0, 2**31 - 1))
    if seed is None or isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if _is_int(seed) and seed >= 0:
        return np.random.default_rng(int(seed))
    raise ParameterError(
        "random_state must be None, an int >= 0, a numpy SeedSequence, Generator or RandomState, "
        f"got {_short_repr(seed)}"
    )


# --------------------------------------------------------------------------- parameter domains
#: Smallest probability an EM parameter may take: warm-start probabilities of exactly
#: 0 (or 1) are moved to ``PROB_FLOOR`` (``1 - PROB_FLOOR``), then rows renormalised.
PROB_FLOOR = 1e-10

#: Tolerance on "sums to 1" (absolute, per row).
SUM_TOL = 1e-6


@dataclass(frozen=True)
class Domain:
    """The domain of one EM parameter array (stored in the table's code order).

    Attributes
    ----------
    low, high : float
        Every value must lie in ``[low, high]`` (values are always finite).
    sum_axes : tuple of int, optional
        The values must sum to 1 (within ``1e-6``) over these axes of the array.
    probability : bool
        A probability: after the checks, values are clipped to ``[PROB_FLOOR,
        1 - PROB_FLOOR]`` (``[PROB_FLOOR, 1]`` when ``sum_axes`` is set, and the
        rows are then renormalised), so that no log is ever ``-inf``.
    at_most : bool
        With ``sum_axes``: the sums must be at most 1 (sub-normalised weights, as
        MACE's variational parameters), and rows are floored, not renormalised.
    """

    low: float = -np.inf
    high: float = np.inf
    sum_axes: tuple[int, ...] | None = None
    probability: bool = False
    at_most: bool = False

    def __str__(self) -> str:
        if self.probability:
            rule = "probabilities in [0, 1]"
        elif np.isfinite(self.low) and np.isfinite(self.high):
            rule = f"finite numbers in [{_fmt(self.low)}, {_fmt(self.high)}]"
        elif np.isfinite(self.low):
            rule = f"finite numbers >= {_fmt(self.low)}"
        elif np.isfinite(self.high):
            rule = f"finite numbers <= {_fmt(self.high)}"
        else:
            rule = "finite numbers"
        if self.sum_axes is not None:
            rule += (f" summing to {'at most ' if self.at_most else ''}1 over axis "
                     f"{', '.join(map(str, self.sum_axes))}")
        return rule


#: The domain of parameters a plug-in does not declare.
FINITE = Domain()
PROBABILITY = Domain(0.0, 1.0, probability=True)


def simplex(*axes: int) -> Domain:
    """Probabilities summing to 1 over ``axes``."""
    return Domain(0.0, 1.0, sum_axes=tuple(axes), probability=True)


def _where(pos: tuple[int, ...], rows: Any, row_name: str) -> str:
    at = f"at position {pos}"
    if rows is not None and pos and pos[0] < len(rows):
        at += f" ({row_name} {rows[pos[0]]!r})"
    return at


def check_domain(owner: str, name: str, arr: np.ndarray, domain: Domain, rows: Any = None,
                 row_name: str = "row") -> np.ndarray:
    """Check ``arr`` against ``domain`` and return it with the probability floor applied.

    Parameters
    ----------
    owner, name : str
        Named in the message (the model, the parameter).
    arr : numpy.ndarray
    domain : Domain
    rows : sequence, optional
        The ids of axis 0 (worker or item ids), named in the message.
    row_name : str
        What ``rows`` are ("worker", "item").

    Raises
    ------
    InitParamsError
        ``"<owner>: init_params[<name>] must be <rule>; ..."`` naming the first
        offending value and where it is.
    """
    arr = np.asarray(arr, dtype=np.float64)
    bad = ~np.isfinite(arr)
    if not bad.any():
        bad = (arr < domain.low) | (arr > domain.high)
    if bad.any():
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InitParamsError(
            f"{owner}: init_params[{name!r}] must be {domain}; holds {float(arr[pos])!r} "
            f"{_where(pos, rows, row_name)}"
        )
    if domain.sum_axes is not None and arr.size:
        sums = arr.sum(axis=domain.sum_axes, keepdims=True)
        off = (sums > 1.0 + SUM_TOL) if domain.at_most else (np.abs(sums - 1.0) > SUM_TOL)
        if off.any():
            pos = tuple(int(i) for i in np.argwhere(off)[0])
            raise InitParamsError(
                f"{owner}: init_params[{name!r}] must be {domain}; sums to "
                f"{float(sums[pos]):.6g} {_where(pos, rows, row_name)}"
            )
    if domain.probability and arr.size:
        if domain.at_most:
            arr = np.maximum(arr, PROB_FLOOR)
        elif domain.sum_axes is not None:
            clipped = np.maximum(arr, PROB_FLOOR)
            if (clipped != arr).any():
                arr = clipped / clipped.sum(axis=domain.sum_axes, keepdims=True)
        else:
            arr = np.clip(arr, PROB_FLOOR, 1.0 - PROB_FLOOR)
    return arr
