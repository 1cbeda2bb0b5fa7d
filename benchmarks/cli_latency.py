"""Warm ``crowdagg aggregate`` latency on small files: N runs, each a fresh process.

Every run is ``python -m crowdagg aggregate FILE --method M -q -o OUT`` in a new
process with the Numba cache already filled (one untimed run first), the way a user
calls the tool from a shell.  Reported per (method, rows, path): the median wall
time and the median CPU time of the child process (user + system, from
``resource.getrusage(RUSAGE_CHILDREN)``), with the 1-minute load average at the
end of the runs.  CPU time is the steadier figure on a shared machine.

Paths (``--paths``):

* ``default`` -- what the command does by itself (the pure-Python kernels below
  :mod:`crowdagg.cli._purepython`'s row limits, the compiled ones above);
* ``compiled`` -- ``CROWDAGG_PURE_PYTHON=0``: always the compiled kernels;
* ``python`` -- ``CROWDAGG_PURE_PYTHON=1``: always the kernels as Python (to size
  the row limits: the largest size where ``python`` is still no slower than ``compiled``).

The files are synthetic (``rows // 3`` items, 3 answers each by distinct workers out of 10,
labels ``x``/``y``/``z`` that agree 70% of the time, string ids).  ``--rows 3`` is the
3-row file of issue 18 (``a,w1,x / a,w2,y / b,w1,x``).

Example::

    python benchmarks/cli_latency.py --methods mv,auto --rows 3 --runs 7
    python benchmarks/cli_latency.py --methods ds --rows 50,100,200,400 --paths python,compiled --runs 3
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PATHS = {"default": None, "compiled": "0", "python": "1"}


def write_file(path: Path, rows: int, seed: int = 0) -> None:
    """A CSV of ``rows`` annotations (see the module docstring)."""
    if rows == 3:
        path.write_text("item,worker,label\na,w1,x\na,w2,y\nb,w1,x\n")
        return
    rng = random.Random(seed)
    lines = ["item,worker,label"]
    n_items = max(1, rows // 3)
    k = 0
    for i in range(n_items):
        truth = rng.choice("xyz")
        for w in rng.sample(range(10), 3):
            if k == rows:
                break
            lines.append(f"t{i},w{w},{truth if rng.random() < 0.7 else rng.choice('xyz')}")
            k += 1
    path.write_text("\n".join(lines) + "\n")


def run_once(argv: list[str], env: dict[str, str], timeout: float) -> tuple[float, float]:
    """(wall s, CPU s) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                       timeout=timeout)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(method: str, rows: int, path: str, runs: int, folder: Path, timeout: float) -> dict[str, float]:
    data = folder / f"crowd_{rows}.csv"
    if not data.exists():
        write_file(data, rows)
    out = folder / f"out_{method}_{rows}_{path}.csv"
    argv = [sys.executable, "-m", "crowdagg", "aggregate", str(data), "-q", "-o", str(out)]
    if method != "default":
        argv[5:5] = ["--method", method]
    env = dict(os.environ)
    env.pop("CROWDAGG_PURE_PYTHON", None)
    if PATHS[path] is not None:
        env["CROWDAGG_PURE_PYTHON"] = PATHS[path]
    run_once(argv, env, timeout)  # untimed: fills the Numba cache where it is empty
    walls, cpus = zip(*(run_once(argv, env, timeout) for _ in range(runs)))
    return {"wall": statistics.median(walls), "wall_min": min(walls), "cpu": statistics.median(cpus),
            "cpu_min": min(cpus), "load": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default="mv,auto", help="comma-separated --method values (auto: the default)")
    ap.add_argument("--rows", default="3", help="comma-separated file sizes in annotations")
    ap.add_argument("--paths", default="default,compiled", help=f"comma-separated, of {', '.join(PATHS)}")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per cell (median reported)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per run at most")
    args = ap.parse_args(argv)
    paths = [p for p in args.paths.split(",") if p]
    for p in paths:
        if p not in PATHS:
            ap.error(f"unknown path {p!r}")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.runs} warm runs per cell, "
          f"load at start {os.getloadavg()[0]:.2f}")
    print("| method | rows | path | median wall s | min wall s | median CPU s | min CPU s | load 1 min |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="crowdagg-cli-latency-") as tmp:
        for method in [m for m in args.methods.split(",") if m]:
            for rows in [int(r) for r in args.rows.split(",") if r]:
                for path in paths:
                    r = measure(method, rows, path, args.runs, Path(tmp), args.timeout)
                    print(f"| {method} | {rows} | {path} | {r['wall']:.3f} | {r['wall_min']:.3f} | "
                          f"{r['cpu']:.3f} | {r['cpu_min']:.3f} | {r['load']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
