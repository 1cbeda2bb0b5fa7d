"""Small argument checks shared by the estimators."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np

from .errors import InputError


def check_choice(name: str, value: Any, choices: tuple[Any, ...]) -> Any:
    if value not in choices:
        raise InputError(f"{name} must be one of {choices}, got {value!r}")
    return value


def check_int(name: str, value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_float(name: str, value: Any, minimum: float = 0.0, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value):
        raise InputError(f"{name} must be a finite number, got {value!r}")
    if value < minimum or (strict and value == minimum):
        op = ">" if strict else ">="
        raise InputError(f"{name} must be {op} {minimum}, got {value!r}")
    return float(value)


def check_random_state(seed: Any) -> np.random.Generator:
    """A NumPy Generator from None, an int, a SeedSequence or a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, np.random.RandomState):
        return np.random.default_rng(seed.randint(0, 2**31 - 1))
    if seed is None or isinstance(seed, (Integral, np.random.SeedSequence)):
        return np.random.default_rng(seed)
    raise InputError(f"random_state must be None, an int or a numpy Generator, got {seed!r}")
