"""Shared pieces of the crowdagg benchmarks: data, method registry, timing, memory.

Used by ``head_to_head.py``, ``scaling.py``, ``compile_time.py`` and the asv suite
in ``asv_bench/``.  Nothing here is part of the ``crowdagg`` package.

* :func:`load_crowd` generates a synthetic crowd with
  :func:`crowdagg.datasets.make_crowd` and caches it as Parquet (generating 100M
  annotations takes minutes; loading them takes seconds).  The cache lives in
  ``$CROWDAGG_BENCH_CACHE`` or ``<tmp>/crowdagg-bench-cache``.
* :data:`METHODS` maps a short name (``"mv"``, ``"ds"``, ...) to the crowdagg
  estimator and its crowd-kit counterpart with matching settings (50 iterations
  without early stopping where iterative; see the notes above the registry), or
  ``None`` where crowd-kit has none (``"fastds"``).  Classes not yet in crowdagg resolve to ``None`` so the
  scripts skip them rather than fail.
* :func:`run_isolated` runs ``module:function`` of this folder in a fresh Python
  process and returns its JSON result plus the process's peak RSS, so memory
  figures are not polluted by the caller or by earlier runs.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA_VERSION = 1  # bump when the generator settings below change

# ----------------------------------------------------------------------------- sizes
_SUFFIX = {"": 1, "k": 1_000, "m": 1_000_000, "g": 1_000_000_000}


def parse_size(text: str | int) -> int:
    """``"10k"`` -> 10000, ``"1M"`` -> 1000000, ``"2.5e6"`` -> 2500000, ``300`` -> 300."""
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kmg]?)\s*", str(text).lower())
    if not m:
        raise ValueError(f"not a size: {text!r} (use e.g. 10000, 10k, 1M, 1e6)")
    value = float(m.group(1)) * _SUFFIX[m.group(2)]
    if value < 1 or value != int(value):
        raise ValueError(f"size must be a positive whole number, got {text!r}")
    return int(value)


def parse_sizes(text: str) -> list[int]:
    """Comma-separated sizes, e.g. ``"10k,100k,1M"``."""
    return [parse_size(s) for s in text.split(",") if s.strip()]


def fmt_size(n: int) -> str:
    """1000 -> ``"1k"``, 10_000_000 -> ``"10M"``, 2500 -> ``"2.5k"``."""
    for div, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if n >= div:
            return f"{n / div:g}{suffix}"
    return str(n)


def crowd_shape(n_annotations: int, per_item: int = 5) -> tuple[int, int]:
    """Items and workers of a benchmark crowd of about ``n_annotations`` annotations.

    ``n_annotations // per_item`` items; ``n_annotations / 1000`` workers, clipped to
    [20, 10000] (about 1000 annotations per worker on average, Zipf-skewed).
    """
    n_items = max(1, n_annotations // per_item)
    n_workers = int(min(max(20, n_annotations // 1000), 10_000))
    return n_items, max(n_workers, per_item)


# ----------------------------------------------------------------------------- data
def cache_dir() -> Path:
    """Where generated crowds are cached (``$CROWDAGG_BENCH_CACHE`` or a temp folder)."""
    d = Path(os.environ.get("CROWDAGG_BENCH_CACHE") or Path(tempfile.gettempdir()) / "crowdagg-bench-cache")
    d.mkdir(parents=True, exist_ok=True)
    return d


WORKLOADS = ("skewed", "uniform")


def _cache_stem(n: int, n_labels: int, per_item: int, id_type: str, seed: int, workload: str = "skewed") -> str:
    # the skewed (default) crowds keep the names of the files cached before workloads existed
    tail = "" if workload == "skewed" else f"_{workload}"
    return f"crowd_v{DATA_VERSION}_n{n}_k{n_labels}_p{per_item}_{id_type}_s{seed}{tail}"


def generate_crowd(
    n_annotations: int, *, n_labels: int = 4, per_item: int = 5, id_type: str = "str", seed: int = 0,
    workload: str = "skewed",
) -> tuple[Any, Any]:
    """A fresh crowd: frame with columns ``task``, ``worker``, ``label`` and the truth.

    ``workload``: ``"skewed"`` (Zipf-skewed answers per worker, the default) or
    ``"uniform"`` (every worker equally likely on every item).  The item column is named ``task`` (crowd-kit's name; crowdagg accepts it too)
    so that the very same frame goes to both libraries.
    """
    from crowdagg.datasets import make_crowd

    n_items, n_workers = crowd_shape(n_annotations, per_item)
    crowd = make_crowd(n_items, n_workers, n_labels=n_labels, per_item=per_item, id_type=id_type,
                       workload=workload, random_state=seed)
    df = crowd.annotations.rename(columns={"item": "task"})
    truth = crowd.truth.rename_axis("task")
    return df, truth


def load_crowd(
    n_annotations: int,
    *,
    n_labels: int = 4,
    per_item: int = 5,
    id_type: str = "str",
    seed: int = 0,
    cache: bool = True,
    workload: str = "skewed",
) -> tuple[Any, Any]:
    """:func:`generate_crowd`, cached as Parquet in :func:`cache_dir` (same dtypes back)."""
    if not cache:
        return generate_crowd(n_annotations, n_labels=n_labels, per_item=per_item, id_type=id_type, seed=seed,
                              workload=workload)
    import pandas as pd

    stem = cache_dir() / _cache_stem(n_annotations, n_labels, per_item, id_type, seed, workload)
    ann, gold = stem.with_suffix(".parquet"), stem.with_suffix(".truth.parquet")
    if ann.exists() and gold.exists():
        df = pd.read_parquet(ann)
        truth = pd.read_parquet(gold)["label"]
        return df, truth
    df, truth = generate_crowd(n_annotations, n_labels=n_labels, per_item=per_item, id_type=id_type, seed=seed,
                               workload=workload)
    # write to temporary names, then rename: concurrent runs never read half a file
    suffix = f".{os.getpid()}.tmp"
    df.to_parquet(str(ann) + suffix, index=False)
    truth.to_frame().to_parquet(str(gold) + suffix)
    os.replace(str(gold) + suffix, gold)
    os.replace(str(ann) + suffix, ann)
    return df, truth


def ensure_crowd(**kwargs: Any) -> dict[str, Any]:
    """Generate and cache a crowd (run through :func:`run_isolated` to keep memory apart)."""
    t0 = time.perf_counter()
    df, _ = load_crowd(**kwargs)
    return {"rows": len(df), "seconds": time.perf_counter() - t0}


def accuracy(pred: Any, truth: Any) -> float:
    """Share of truth items whose predicted label equals the truth (missing = wrong)."""
    import numpy as np

    aligned = pred.reindex(truth.index)
    return float(np.mean(aligned.to_numpy() == truth.to_numpy()))


# ----------------------------------------------------------------------------- methods
_ALIASES = {"max_iter": ("max_iter", "n_iter"), "tol": ("tol",), "n_restarts": ("n_restarts", "n_init")}


@dataclass(frozen=True)
class Method:
    """One aggregation method: the crowdagg class and its crowd-kit counterpart.

    ``ours_params`` are matched to the crowdagg class's ``__init__`` (``max_iter``
    also tries ``n_iter``); parameters the class lacks are reported by
    :meth:`ours_factory` rather than silently dropped.
    """

    key: str
    title: str
    ours: str
    theirs: str | None
    ours_params: dict[str, Any] = field(default_factory=dict)
    theirs_params: dict[str, Any] = field(default_factory=dict)

    def ours_class(self) -> type | None:
        """The crowdagg estimator class, or ``None`` while it does not exist yet."""
        try:
            import crowdagg

            return getattr(crowdagg, self.ours)
        except (AttributeError, ImportError):
            return None

    def ours_kwargs(self) -> tuple[dict[str, Any] | None, list[str]]:
        """``(kwargs, notes)`` for the crowdagg class (``None`` while it does not exist)."""
        cls = self.ours_class()
        if cls is None:
            return None, [f"crowdagg.{self.ours} not available"]
        names = set(cls._param_names()) if hasattr(cls, "_param_names") else set()
        kwargs, notes = {}, []
        for key, value in self.ours_params.items():
            match = next((a for a in _ALIASES.get(key, (key,)) if a in names), None)
            if match is None:
                notes.append(f"crowdagg.{self.ours} has no {key!r} parameter; default used")
            else:
                kwargs[match] = value
        return kwargs, notes

    def ours_factory(self) -> tuple[Callable[[], Any] | None, list[str]]:
        """``(factory, notes)``: a zero-argument constructor and notes on unmatched params."""
        kwargs, notes = self.ours_kwargs()
        if kwargs is None:
            return None, notes
        cls = self.ours_class()
        return (lambda: cls(**kwargs)), notes

    def theirs_factory(self) -> Callable[[], Any] | None:
        """A zero-argument constructor of the crowd-kit estimator, or ``None``."""
        if self.theirs is None:
            return None
        try:
            import crowdkit.aggregation as ck
        except Exception:
            return None
        cls = getattr(ck, self.theirs, None)
        return None if cls is None else (lambda: cls(**self.theirs_params))


# Iterative settings.  Ours: ``max_iter=50, tol=0`` runs exactly 50 EM iterations
# (crowdagg's ``tol=0`` never stops early).
#
# * Iteration counts: crowd-kit's ``n_iter=n`` makes ``n`` E-steps after its
#   majority-vote initialisation and returns the posteriors of the last one, which
#   corresponds to our ``max_iter=n - 1`` (same posteriors, docs/em.md); our
#   ``max_iter=n`` makes one E-step pass more.  Both sides keep the round figure 50
#   (ours 50, theirs ``n_iter=50``), so crowdagg does one pass *more* than crowd-kit in
#   these timings (about 2% of an EM run's time; in crowd-kit's favour).
# * Stopping: crowd-kit's DawidSkene, OneCoinDawidSkene and GLAD stop when
#   ``new_loss - loss < tol``; with ``tol=0`` that fires as soon as their loss drops,
#   which it does (OneCoinDawidSkene stopped after 9 of 50 iterations on a generated
#   10k-annotation crowd).  Their loss is per annotation, so ``tol=-1`` runs all
#   ``n_iter`` iterations.  MACE and ZeroBasedSkill have no tolerance in crowd-kit.
_EM = {"max_iter": 50, "tol": 0.0}
_CK_EM = {"n_iter": 50, "tol": -1.0}
METHODS: dict[str, Method] = {
    m.key: m
    for m in (
        Method("mv", "MajorityVote", "MajorityVote", "MajorityVote"),
        Method("ds", "Dawid-Skene", "DawidSkene", "DawidSkene", dict(_EM), dict(_CK_EM)),
        Method("onecoin", "One-coin Dawid-Skene", "OneCoinDawidSkene", "OneCoinDawidSkene", dict(_EM),
               dict(_CK_EM)),
        # hard-EM Dawid-Skene (Sinha, Rao & Balasubramanian 2018): no crowd-kit counterpart
        Method("fastds", "Fast Dawid-Skene", "FastDawidSkene", None, dict(_EM)),
        Method("wawa", "Wawa", "Wawa", "Wawa"),
        Method("zbs", "Zero-based skill", "ZeroBasedSkill", "ZeroBasedSkill", dict(_EM), {"n_iter": 50}),
        Method("glad", "GLAD", "GLAD", "GLAD", dict(_EM), dict(_CK_EM)),
        Method("mace", "MACE", "MACE", "MACE", {**_EM, "n_restarts": 1, "random_state": 0},
               {"n_iter": 50, "n_restarts": 1, "random_state": 0}),
    )
}

# Rough crowd-kit 1.4.2 seconds per 1M annotations on the reference 2-core machine
# (from the issues, and a 10k run: GLAD 142 s, ZBS 0.95 s, extrapolated linearly); used
# to decide whether to run crowd-kit at a size when no smaller size was measured in
# the same run.  GLAD does not finish in 10 minutes above about 40k annotations.
CROWDKIT_SECONDS_PER_M = {"mv": 2.0, "ds": 36.0, "onecoin": 85.0, "wawa": 4.0, "zbs": 95.0,
                          "glad": 14000.0, "mace": 38.0}


def resolve_methods(text: str | Sequence[str] | None) -> list[Method]:
    """Methods named in ``"mv,ds"`` (``None`` or ``"all"``: every registered method)."""
    if text is None or text == "all":
        return list(METHODS.values())
    keys = [k.strip().lower() for k in (text.split(",") if isinstance(text, str) else text) if k.strip()]
    unknown = [k for k in keys if k not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; known: {sorted(METHODS)}")
    return [METHODS[k] for k in keys]


# ----------------------------------------------------------------------------- timing
def timed(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    """``(seconds, fn(*args))`` of one call, after a garbage collection."""
    gc.collect()
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def timed_cpu(fn: Callable[..., Any], *args: Any) -> tuple[float, float, Any]:
    """``(wall seconds, CPU seconds of the process, fn(*args))`` of one call, after a
    garbage collection.  CPU time sums every thread: on a loaded machine it is the
    steadier figure (wall time there includes waiting for a core)."""
    gc.collect()
    c0 = time.process_time()
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, time.process_time() - c0, out


def load_average() -> tuple[float, float, float] | None:
    """``os.getloadavg()`` (``None`` where unavailable)."""
    try:
        return os.getloadavg()
    except (AttributeError, OSError):
        return None


def median(values: Sequence[float]) -> float:
    """Median (``nan`` for no values)."""
    return statistics.median(values) if values else float("nan")


# ----------------------------------------------------------------------------- memory
def _status_kb(field_name: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_bytes() -> int:
    """Current resident set size of this process (0 when unknown)."""
    kb = _status_kb("VmRSS")
    if kb is not None:
        return kb * 1024
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:
        return 0


def peak_rss_bytes() -> int:
    """Peak resident set size of this process since start or the last :func:`reset_peak`."""
    kb = _status_kb("VmHWM")
    if kb is not None:
        return kb * 1024
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


_PEAK_BEFORE_RESET = 0


def reset_peak() -> bool:
    """Reset the peak-RSS counter to the current RSS (Linux ``clear_refs``); ``False`` if unsupported.

    The peak reached so far is remembered, so :func:`process_peak_rss_bytes` still
    reports the whole process's peak.
    """
    global _PEAK_BEFORE_RESET
    _PEAK_BEFORE_RESET = max(_PEAK_BEFORE_RESET, peak_rss_bytes())
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def process_peak_rss_bytes() -> int:
    """Peak RSS of the whole process, across :func:`reset_peak` calls."""
    return max(_PEAK_BEFORE_RESET, peak_rss_bytes())


def gib(nbytes: float) -> float:
    """Bytes to GiB."""
    return nbytes / 2**30


# ----------------------------------------------------------------------------- subprocesses
_CHILD = (
    "import json, sys; sys.path.insert(0, {here!r}); import importlib; "
    "mod = importlib.import_module({module!r}); "
    "res = getattr(mod, {func!r})(**json.loads(sys.argv[1])); "
    "import _common; res['process_peak_rss'] = _common.process_peak_rss_bytes(); "
    "print('@@RESULT@@' + json.dumps(res))"
)


class ChildError(RuntimeError):
    """A benchmark subprocess failed or timed out."""


def run_isolated(
    target: str, kwargs: dict[str, Any], *, timeout: float | None = None, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run ``module:function(**kwargs)`` of this folder in a fresh Python process.

    The function must return a JSON-serialisable dict.  Added to it:
    ``process_peak_rss`` (bytes, the child's own ``VmHWM`` across peak resets) and
    ``process_seconds`` (wall time including interpreter start and imports).
    """
    module, func = target.split(":")
    code = _CHILD.format(here=str(HERE), module=module, func=func)
    full_env = {**os.environ, **(env or {})}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, json.dumps(kwargs)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=full_env)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise ChildError(f"{target} timed out after {timeout} s") from None
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise ChildError(f"{target} failed (exit {proc.returncode}):\n{err[-3000:]}")
    line = next((ln for ln in reversed(out.splitlines()) if ln.startswith("@@RESULT@@")), None)
    if line is None:
        raise ChildError(f"{target} printed no result:\n{out[-2000:]}\n{err[-2000:]}")
    res = json.loads(line[len("@@RESULT@@"):])
    res["process_seconds"] = wall
    return res


# ----------------------------------------------------------------------------- reporting
def machine_info() -> dict[str, Any]:
    """Cores, memory, Python and library versions, for the report header."""
    import numba
    import numpy
    import pandas

    import crowdagg

    info: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "numba_threads": numba.get_num_threads(),
        "memory_gib": round(gib(_total_memory()), 1),
        "crowdagg": crowdagg.__version__,
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "numba": numba.__version__,
    }
    try:
        import importlib.metadata as md

        info["crowd-kit"] = md.version("crowd-kit")
    except Exception:
        info["crowd-kit"] = None
    return info


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _total_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def format_machine(info: dict[str, Any]) -> str:
    """One line describing the machine and versions."""
    return (
        f"{info['date']}: {info['cpu']}, {info['cores']} cores ({info['numba_threads']} numba threads), "
        f"{info['memory_gib']} GiB; Python {info['python']}, numpy {info['numpy']}, pandas {info['pandas']}, "
        f"numba {info['numba']}, crowdagg {info['crowdagg']}, crowd-kit {info['crowd-kit']}"
    )


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None) -> str:
    """A GitHub markdown table; ``align`` is one of ``l``/``r`` per column (default: l then r)."""
    align = align or "l" + "r" * (len(header) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(map(str, header)) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    return "\n".join(lines)


def text_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain fixed-width table for the terminal."""
    cells = [list(map(str, header))] + [list(map(str, r)) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    out = []
    for j, r in enumerate(cells):
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def fmt_seconds(s: float | None) -> str:
    """3 significant digits, ``-`` for missing."""
    if s is None or s != s:
        return "-"
    return f"{s:.3g}" if s < 100 else f"{s:.0f}"
