"""What a user waits for before the first result: import + first call, cold and warm.

Each measurement is a fresh ``python -c`` process that builds a small frame
(1000 annotations, string ids; ``--id-type int`` for integers), then ``import crowdagg`` and ``crowdagg.<Method>().fit(df)``
twice, timing each step.  ``NUMBA_CACHE_DIR`` points to a folder of its own:

* **cold** — an empty folder: every kernel the call needs is compiled;
* **warm** — the folder a cold run filled: kernels are loaded from the cache
  (what users see from the second session on).

Reported (medians over ``--repeats`` processes): the whole process's wall time,
Python start + numpy/pandas import, ``import crowdagg``, the first ``fit``
(compilation or cache load plus the work) and the second ``fit`` (the work alone).

Example::

    python benchmarks/compile_time.py --methods mv,ds --repeats 3 --markdown
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

_SCRIPT = """
import time
t0 = time.perf_counter()
import numpy as np, pandas as pd
n_items, per_item = 200, 5
items, workers = np.repeat(np.arange(n_items), per_item), np.tile(np.arange(per_item), n_items)
if {strings!r}:
    items, workers = np.array([f"t{{i}}" for i in items], dtype=object), np.array([f"w{{i}}" for i in workers], dtype=object)
df = pd.DataFrame({{"item": items, "worker": workers,
                   "label": np.random.default_rng(0).integers(0, 4, n_items * per_item)}})
t1 = time.perf_counter()
import crowdagg
t2 = time.perf_counter()
crowdagg.{name}(**{kwargs!r}).fit(df)
t3 = time.perf_counter()
crowdagg.{name}(**{kwargs!r}).fit(df)
t4 = time.perf_counter()
import json
import resource
ru = resource.getrusage(resource.RUSAGE_SELF)
print("@@RESULT@@" + json.dumps({{"pandas": t1 - t0, "import": t2 - t1, "first": t3 - t2, "second": t4 - t3,
                                 "cpu": ru.ru_utime + ru.ru_stime}}))
"""


def _one(name: str, kwargs: dict[str, Any], cache_dir: str, timeout: float, id_type: str = "str"
         ) -> dict[str, float]:
    import os
    import subprocess
    import time

    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _SCRIPT.format(name=name, kwargs=kwargs, strings=id_type == "str")],
                          capture_output=True, text=True, env=env, timeout=timeout)
    wall = time.perf_counter() - t0
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("@@RESULT@@")), None)
    if proc.returncode != 0 or line is None:
        raise C.ChildError(f"crowdagg.{name} first call failed:\n{proc.stderr[-2000:]}")
    res = json.loads(line[len("@@RESULT@@"):])
    res["process"] = wall
    return res


def run(methods: list[C.Method], *, repeats: int = 3, timeout: float = 600.0, id_type: str = "str",
        log: Any = print) -> dict[str, Any]:
    """Cold and warm measurements per method; returns ``{"machine", "results"}``."""
    results = []
    keys = ("process", "cpu", "pandas", "import", "first", "second")
    for m in methods:
        kwargs, notes = m.ours_kwargs()
        if kwargs is None:
            log(f"{m.title}: {notes[0]}")
            continue
        runs: dict[str, list[dict[str, float]]] = {"cold": [], "warm": []}
        dirs = []
        try:
            for _ in range(max(1, repeats)):
                d = tempfile.mkdtemp(prefix="crowdagg-numba-cold-")
                dirs.append(d)
                runs["cold"].append(_one(m.ours, kwargs, d, timeout, id_type))
            for _ in range(max(1, repeats)):
                runs["warm"].append(_one(m.ours, kwargs, dirs[0], timeout, id_type))
        finally:
            for d in dirs:
                shutil.rmtree(d, ignore_errors=True)
        for cache, rs in runs.items():
            row = {"method": m.key, "title": m.title, "cache": cache,
                   **{k: C.median([r[k] for r in rs]) for k in keys}}
            results.append(row)
            log(" | ".join(_cells(row)))
    return {"machine": C.machine_info(), "repeats": repeats, "id_type": id_type, "load": C.load_average(),
            "results": results}


HEADER = ["method", "Numba cache", "process s", "process CPU s", "python + pandas s", "import crowdagg s", "first fit s",
          "second fit s"]


def _cells(r: dict[str, Any]) -> list[str]:
    return [r["title"], r["cache"], *(f"{r[k]:.3f}" for k in ("process", "cpu", "pandas", "import", "first", "second"))]


def format_report(report: dict[str, Any], markdown: bool = False) -> str:
    """Terminal or markdown table."""
    rows = [_cells(r) for r in report["results"]]
    table = C.markdown_table(HEADER, rows, "ll" + "r" * 6) if markdown else C.text_table(HEADER, rows)
    return (f"Machine: {C.format_machine(report['machine'])}\n"
            f"Median of {report['repeats']} fresh processes; frame of 1000 annotations, "
            f"{report.get('id_type', 'int')} ids; load average {report.get('load')}.\n\n{table}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command-line entry point; returns the report dict."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--methods", default="mv", help=f"comma-separated from {list(C.METHODS)} or 'all'")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--id-type", choices=["str", "int"], default="str", help="item/worker id type of the frame")
    p.add_argument("--markdown", action="store_true")
    p.add_argument("--json", metavar="PATH")
    args = p.parse_args(argv)
    report = run(C.resolve_methods(args.methods), repeats=args.repeats, timeout=args.timeout, id_type=args.id_type)
    print()
    print(format_report(report, markdown=args.markdown))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
