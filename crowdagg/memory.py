"""How much memory crowdagg allows itself, and the up-front check every fit makes.

Before a method allocates its model (posteriors, confusion matrices, per-worker
strategies ...), it adds up the bytes it is about to need and compares the sum
with :func:`limit` (EM methods declare them in ``EMModel.memory_terms``, which
``EMAggregator.fit`` checks for every method, users' own included); above it, :class:`~crowdagg.errors.TooLargeError` names the
sizes, the bytes and what to do, and nothing has been allocated.

The limit is, in this order of precedence: the value given to
:func:`set_limit`; the environment variable ``CROWDAGG_MEMORY_LIMIT`` (bytes, or a
number with a ``K``/``M``/``G``/``T`` suffix, powers of 1024; ``0`` or ``none``
disables the check); by default :data:`DEFAULT_FRACTION` (75%) of the machine's
physical memory (no limit where that cannot be read).

Scratch buffers whose size is a product of data sizes (per-chunk statistics of
the parallel kernels) are capped at :data:`crowdagg.em.MAX_STAT_BUFFER_BYTES`
(the kernels fall back to a bounded path above it); most methods leave them out
of this check, EBCC counts its own (they are its largest arrays with many labels).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from .errors import ParameterError, TooLargeError

__all__ = ["DEFAULT_FRACTION", "DEFAULT_ADVICE", "limit", "set_limit", "check", "format_bytes",
           "posteriors", "per_worker"]

#: Share of physical memory a single fit may plan to use (default limit).
DEFAULT_FRACTION = 0.75

_ENV = "CROWDAGG_MEMORY_LIMIT"
_UNITS = {"": 1, "B": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
_override: int | None = None
_override_set = False


def _physical_memory() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):  # pragma: no cover - not POSIX
        return None


def _parse(text: str) -> int | None:
    t = text.strip().upper().removesuffix("IB").removesuffix("B")
    if t in ("", "0", "NONE", "OFF"):
        return None
    unit = t[-1] if t[-1] in _UNITS else ""
    try:
        value = float(t[: len(t) - len(unit)])
    except ValueError:
        raise ParameterError(
            f"{_ENV}={text!r} is not a size: give bytes or a number with K, M, G or T (e.g. 8G), or 'none'"
        ) from None
    if not value >= 0 or value == float("inf"):
        raise ParameterError(f"{_ENV}={text!r} must be a non-negative size")
    return int(value * _UNITS[unit]) or None


def limit() -> int | None:
    """The current limit in bytes (``None``: no limit)."""
    if _override_set:
        return _override
    env = os.environ.get(_ENV)
    if env is not None:
        return _parse(env)
    phys = _physical_memory()
    return int(phys * DEFAULT_FRACTION) if phys else None


def set_limit(n_bytes: int | str | None) -> None:
    """Set the limit for this process: bytes, a size such as ``"8G"``, or ``None``
    (no limit).  ``set_limit("default")`` returns to the environment variable /
    75%-of-memory default."""
    global _override, _override_set
    if isinstance(n_bytes, str) and n_bytes.strip().lower() == "default":
        _override, _override_set = None, False
        return
    if isinstance(n_bytes, str):
        value = _parse(n_bytes)
    elif n_bytes is None:
        value = None
    elif isinstance(n_bytes, bool) or not isinstance(n_bytes, (int, float)) or not n_bytes >= 0:
        raise ParameterError(f"the memory limit must be a non-negative number of bytes, got {n_bytes!r}")
    else:
        value = int(n_bytes) or None
    _override, _override_set = value, True


def format_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def check(what: str, terms: Iterable[tuple[str, float]], advice: str) -> int:
    """Refuse up front when ``terms`` (``(description, bytes)``) exceed :func:`limit`.

    Returns the total bytes.  Raises :class:`~crowdagg.errors.TooLargeError` naming
    every term, the total, the limit and ``advice`` (what to do instead).
    """
    terms = [(d, float(b)) for d, b in terms]
    total = sum(b for _, b in terms)
    lim = limit()
    if lim is not None and total > lim:
        parts = "; ".join(f"{d}: {format_bytes(b)}" for d, b in terms if b > 0)
        raise TooLargeError(
            f"{what} would need about {format_bytes(total)} of memory ({parts}), more than the "
            f"limit of {format_bytes(lim)}; {advice} (the limit is 75% of physical memory by default; "
            f"change it with crowdagg.memory.set_limit() or the {_ENV} environment variable)"
        )
    return int(total)


# --------------------------------------------------------------------------- building blocks
_F = 8  # float64

#: What to do when a model's items x labels arrays do not fit.
DEFAULT_ADVICE = ("the posteriors are items x labels: merge labels (e.g. bin continuous values) or split the "
                  "items into parts and aggregate each")


def posteriors(n_items: int, n_labels: int, copies: int = 1) -> tuple[str, float]:
    """The ``(description, bytes)`` term of ``copies`` float64 arrays of items x labels."""
    n, k = int(n_items), int(n_labels)
    return (f"posteriors, {n:,} items x {k:,} labels" + (f", {copies} copies" if copies > 1 else ""),
            copies * _F * n * k)


def per_worker(what: str, n_workers: int, per: float, copies: int = 1) -> tuple[str, float]:
    """The term of ``copies`` float64 arrays of ``per`` values per worker."""
    w = int(n_workers)
    return (f"{what}, {w:,} workers" + (f", {copies} copies" if copies > 1 else ""), copies * _F * w * per)
