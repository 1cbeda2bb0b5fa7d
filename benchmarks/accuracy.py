#!/usr/bin/env python
"""Accuracy and wall time of every crowdagg method (and crowd-kit's) on real datasets.

Usage::

    python benchmarks/accuracy.py DATA_DIR [--methods MV,DS,...] [--out docs/accuracy.md]

``DATA_DIR`` is a folder of dataset folders (or one dataset folder) in any layout
``crowdagg.datasets.load_dataset`` reads: ``answers.csv`` + ``gold.csv``
(``task,worker,label`` / ``task,label``), the truth-inference ``answer.csv`` +
``truth.csv``, MACE's ``NAME.csv`` + ``NAME.key``, or ``answers.txt`` +
``gold.txt`` triples.  Folders in no known layout are ignored.

Rules (also written into the report):

* Data: read once per dataset with ``load_dataset(folder, as_frame=True,
  duplicates=...)``: ids as strings, labels parsed, rows with an empty label
  dropped, repeated (task, worker) pairs reduced by ``--duplicates`` (default
  ``first``: the first row in file order is kept).  Both libraries get this same
  DataFrame (columns ``task``, ``worker``, ``label``).
* Accuracy: the share of gold items that have at least one answer whose
  aggregated label equals the gold label.  Each method breaks ties by its own
  rule (crowdagg's ``MajorityVote``: the first tied label in sorted label order);
  a missing label, or a gold label no worker used, counts as wrong.
* Datasets of kind ``ratings`` (registry kind for registered names, otherwise:
  numeric labels with more than 10 distinct values, or non-integer gold means
  over integer labels) and datasets without gold are listed as skipped.
* Time: wall seconds of ``fit`` on the DataFrame (crowdagg: building the table
  included; Numba compilation excluded by a warm-up fit on a tiny synthetic
  crowd).  crowd-kit runs in a forked child process so that ``--crowdkit-timeout``
  can stop it; its time is measured inside the child.
* Settings: crowdagg methods use their defaults (``random_state=0`` where
  accepted); crowd-kit uses ``MajorityVote()``, ``Wawa()``, ``ZeroBasedSkill()``,
  ``DawidSkene(n_iter=100)``, ``OneCoinDawidSkene(n_iter=100)``,
  ``GLAD(n_iter=100, tol=1e-5)`` and ``MACE(random_state=0)``.  crowd-kit's GLAD is
  skipped above ``--slow-limit`` annotations (minutes per iteration there).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import inspect
import multiprocessing as mp
import os
import platform
import shlex
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

# (key, crowdagg class, crowdagg kwargs, crowd-kit class, crowd-kit kwargs, slow in crowd-kit)
METHODS: list[tuple[str, str, dict[str, Any], str | None, dict[str, Any], bool]] = [
    ("MV", "MajorityVote", {}, "MajorityVote", {}, False),
    ("Wawa", "Wawa", {}, "Wawa", {}, False),
    ("ZBS", "ZeroBasedSkill", {}, "ZeroBasedSkill", {}, False),
    ("DS", "DawidSkene", {}, "DawidSkene", {"n_iter": 100}, False),
    ("FastDS", "FastDawidSkene", {}, None, {}, False),
    ("OneCoinDS", "OneCoinDawidSkene", {}, "OneCoinDawidSkene", {"n_iter": 100}, False),
    ("GLAD", "GLAD", {}, "GLAD", {"n_iter": 100, "tol": 1e-5}, True),
    ("MACE", "MACE", {"random_state": 0}, "MACE", {"random_state": 0}, False),
    ("BCC", "BCC", {}, None, {}, False),
    ("EBCC", "EBCC", {"random_state": 0}, None, {}, False),
    ("KOS", "KOS", {"random_state": 0}, "KOS", {"random_state": 0}, False),
    ("MMSR", "MMSR", {"random_state": 0}, "MMSR", {"random_state": 0}, False),
    ("Auto", "AutoAggregator", {"random_state": 0}, None, {}, False),
]
#: methods compared with the Bayesian references of ../shared/datasets/README.md (the authors' code)
REFERENCE_COLUMN = {"BCC": "IBCC", "EBCC": "EBCC"}
_BY_KEY = {m[0].lower(): m for m in METHODS} | {m[1].lower(): m for m in METHODS}


# --------------------------------------------------------------------------- helpers
def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def crowdagg_class(name: str) -> type | None:
    """The crowdagg estimator called ``name``, or ``None`` if it has not landed."""
    try:
        import crowdagg

        found = getattr(crowdagg, name, None)
        if found is None and name == "AutoAggregator":
            import crowdagg.auto as auto

            found = getattr(auto, name, None)
        return found
    except Exception:
        return None


def read_references(data_dir: str) -> dict[str, dict[str, float]]:
    """The Bayesian reference accuracies (IBCC, EBCC: the authors' code) by dataset, parsed
    from the ``README.md`` of ``data_dir`` (``../shared/datasets``); empty when absent."""
    path = os.path.join(data_dir, "README.md")
    refs: dict[str, dict[str, float]] = {}
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return refs
    head: list[str] | None = None
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| dataset | IBCC"):
            head = cells
            continue
        if head is None:
            continue
        if not line.startswith("|"):
            if refs:
                break
            continue
        if set(cells[0]) <= {"-", ":"}:
            continue
        try:
            refs[cells[0]] = {h: float(v) for h, v in zip(head[1:], cells[1:])}
        except ValueError:
            continue
    return refs


def crowdkit_class(name: str | None) -> type | None:
    if name is None:
        return None
    try:
        import crowdkit.aggregation as cka

        return getattr(cka, name, None)
    except Exception:
        return None


def crowdkit_version() -> str | None:
    try:
        from importlib.metadata import version

        import crowdkit.aggregation  # noqa: F401

        return version("crowd-kit")
    except Exception:
        return None


def make_estimator(cls: type, kwargs: dict[str, Any]) -> Any:
    params = inspect.signature(cls.__init__).parameters
    kw = {k: v for k, v in kwargs.items() if k in params}
    if "random_state" in params and "random_state" not in kw:
        kw["random_state"] = 0
    return cls(**kw)


def accuracy(pred: pd.Series, gold: pd.Series) -> float:
    """Share of gold items whose predicted label equals gold (missing = wrong)."""
    if len(gold) == 0:
        return float("nan")
    p = pred.reindex(gold.index)
    present = p.notna().to_numpy()
    pv = p.astype(object).to_numpy()
    gv = gold.astype(object).to_numpy()
    ok = np.zeros(len(gold), dtype=bool)
    ok[present] = (pv[present] == gv[present]).astype(bool)
    return float(ok.mean())


def find_datasets(data_dir: str) -> list[str]:
    from crowdagg.datasets import detect_layout

    if detect_layout(data_dir) is not None:
        return [data_dir]
    out = []
    for name in sorted(os.listdir(data_dir)):
        p = os.path.join(data_dir, name)
        if os.path.isdir(p) and detect_layout(p) is not None:
            out.append(p)
    return out


def machine_info() -> str:
    mem = "unknown"
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    mem = f"{int(line.split()[1]) / 1024 ** 2:.1f} GiB"
                    break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = ""
    try:
        load = ", load average {:.2f} {:.2f} {:.2f} at start".format(*os.getloadavg())
    except (AttributeError, OSError):
        pass
    return f"{cores} cores ({cpu}), {mem} memory, {platform.system()} {platform.release()}{load}"


def versions() -> str:
    import numba
    import numpy

    import crowdagg

    ck = crowdkit_version()
    return (
        f"Python {platform.python_version()}, crowdagg {crowdagg.__version__}, numpy {numpy.__version__}, "
        f"numba {numba.__version__}, pandas {pd.__version__}, crowd-kit {ck or 'not installed'}"
    )


# --------------------------------------------------------------------------- crowd-kit in a child
def _ck_child(conn: Any, cls_name: str, kwargs: dict[str, Any], df: pd.DataFrame) -> None:
    try:
        cls = crowdkit_class(cls_name)
        t0 = time.perf_counter()
        pred = cls(**kwargs).fit_predict(df)
        dt = time.perf_counter() - t0
        conn.send(("ok", pd.Series(pred.to_numpy(), index=pred.index.astype(object)), dt))
    except BaseException as exc:  # report anything to the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}", 0.0))
    finally:
        conn.close()


def run_crowdkit(cls_name: str, kwargs: dict[str, Any], df: pd.DataFrame, timeout: float) -> tuple[str, Any, float]:
    """``(status, labels or message, seconds)``; status is ok, error or timeout."""
    if timeout <= 0:
        try:
            cls = crowdkit_class(cls_name)
            t0 = time.perf_counter()
            pred = cls(**kwargs).fit_predict(df)
            return "ok", pred, time.perf_counter() - t0
        except Exception as exc:
            return "error", f"{type(exc).__name__}: {exc}", 0.0
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_ck_child, args=(child, cls_name, kwargs, df), daemon=True)
    proc.start()
    child.close()
    try:
        if parent.poll(timeout):
            status, payload, dt = parent.recv()
        else:
            status, payload, dt = "timeout", f"stopped after {timeout:g} s", float(timeout)
    except EOFError:
        status, payload, dt = "error", f"child exited with code {proc.exitcode}", 0.0
    finally:
        if proc.is_alive():
            proc.terminate()
        proc.join(5)
        parent.close()
    return status, payload, dt


# --------------------------------------------------------------------------- the benchmark
@dataclass
class Row:
    dataset: str
    n_annotations: int | None = None
    n_items: int | None = None
    n_workers: int | None = None
    n_labels: int | None = None
    n_gold: int | None = None
    method: str = "—"
    ca_acc: float | None = None
    ck_acc: float | None = None
    ca_time: float | None = None
    ck_time: float | None = None
    ca_note: str = ""
    ck_note: str = ""
    notes: list[str] = field(default_factory=list)


def warm_up(methods: list[tuple]) -> None:
    """Fit each crowdagg method on tiny crowds so Numba compiles before timing.

    The crowd goes through ``load_dataset`` from a temporary folder, so the warm-up
    sees the same dtypes and code path as the real datasets.
    """
    import tempfile

    from crowdagg.datasets import load_dataset, make_crowd

    # 2, 3, 4 and 6 labels: some kernels are compiled per class count for 2-4 classes
    frames = []
    for n_labels in (2, 3, 4, 6):
        crowd = make_crowd(60, 12, n_labels, 4, random_state=0)
        with tempfile.TemporaryDirectory() as tmp:
            crowd.annotations.rename(columns={"item": "task"}).to_csv(os.path.join(tmp, "answers.csv"), index=False)
            crowd.truth.rename_axis("task").rename("label").to_csv(os.path.join(tmp, "gold.csv"))
            frames.append(load_dataset(tmp, as_frame=True).annotations)
    for key, ca_name, ca_kw, *_ in methods:
        cls = crowdagg_class(ca_name)
        if cls is None:
            continue
        for df in frames:
            try:
                make_estimator(cls, ca_kw).fit(df)
            except Exception as exc:  # reported again on the real data
                log(f"warm-up of {key} failed: {type(exc).__name__}: {exc}")
                break


def bench_dataset(path: str, methods: list[tuple], args: argparse.Namespace) -> list[Row]:
    from crowdagg.datasets import load_dataset

    name = os.path.basename(os.path.normpath(path))
    try:
        ds = load_dataset(path, as_frame=True, duplicates=args.duplicates, check_gold=False)
    except Exception as exc:
        return [Row(name, ca_note=f"error loading: {type(exc).__name__}: {exc}")]
    df, gold = ds.annotations, ds.gold
    base = dict(
        n_annotations=len(df),
        n_items=int(df["task"].nunique()),
        n_workers=int(df["worker"].nunique()),
        n_labels=int(df["label"].nunique()),
        n_gold=len(gold),
    )
    if ds.info.kind != "classification":
        return [Row(name, **base, ca_note=f"skipped: {ds.info.kind}")]
    if len(gold) == 0:
        return [Row(name, **base, ca_note="skipped: no gold for items with answers")]
    rows = []
    for key, ca_name, ca_kw, ck_name, ck_kw, slow in methods:
        row = Row(name, **base, method=key)
        cls = crowdagg_class(ca_name)
        if cls is None:
            row.ca_note = "not available"
        else:
            try:
                best = float("inf")
                for _ in range(args.repeat):
                    est = make_estimator(cls, ca_kw)
                    t0 = time.perf_counter()
                    est.fit(df)
                    best = min(best, time.perf_counter() - t0)
                row.ca_time = best
                row.ca_acc = accuracy(est.labels_, gold)
            except Exception as exc:
                row.ca_note = f"error: {type(exc).__name__}: {exc}"
                if args.verbose:
                    traceback.print_exc()
        if not args.no_crowdkit and crowdkit_class(ck_name) is not None:
            if slow and args.skip_slow:
                row.ck_note = "skipped (--skip-slow)"
            elif slow and args.slow_limit and len(df) > args.slow_limit:
                row.ck_note = f"skipped (> {args.slow_limit:,} annotations)"
            else:
                status, payload, dt = run_crowdkit(ck_name, ck_kw, df, args.crowdkit_timeout)
                if status == "ok":
                    row.ck_acc, row.ck_time = accuracy(payload, gold), dt
                elif status == "timeout":
                    row.ck_note = f"timeout ({args.crowdkit_timeout:g} s)"
                else:
                    row.ck_note = f"error: {payload}"
        elif not args.no_crowdkit and ck_name is None:
            row.ck_note = "no counterpart"
        rows.append(row)
        log(f"  {name:32s} {key:10s} crowdagg {fmt_acc(row.ca_acc, row.ca_note):>10s} "
            f"{fmt_time(row.ca_time):>8s}   crowd-kit {fmt_acc(row.ck_acc, row.ck_note):>10s} "
            f"{fmt_time(row.ck_time):>8s}")
    return rows


# --------------------------------------------------------------------------- formatting
def fmt_acc(v: float | None, note: str = "") -> str:
    return note if v is None else f"{v:.4f}"


def fmt_time(v: float | None) -> str:
    if v is None:
        return ""
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


def fmt_int(v: int | None) -> str:
    return "" if v is None else str(v)


def markdown_table(rows: list[Row], with_crowdkit: bool) -> str:
    head = ["dataset", "annotations", "items", "workers", "classes", "gold items", "method", "crowdagg acc"]
    if with_crowdkit:
        head += ["crowd-kit acc", "crowdagg s", "crowd-kit s", "speed-up"]
    else:
        head += ["crowdagg s"]
    align = ["---", "---:", "---:", "---:", "---:", "---:", "---", "---:"] + ["---:"] * (len(head) - 8)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    for r in rows:
        cells = [r.dataset, fmt_int(r.n_annotations), fmt_int(r.n_items), fmt_int(r.n_workers),
                 fmt_int(r.n_labels), fmt_int(r.n_gold), r.method, fmt_acc(r.ca_acc, r.ca_note)]
        if with_crowdkit:
            speed = ""
            if r.ca_time and r.ck_time is not None and r.ck_acc is not None:
                speed = f"{r.ck_time / r.ca_time:.0f}x" if r.ck_time / r.ca_time >= 10 else \
                    f"{r.ck_time / r.ca_time:.1f}x"
            cells += [fmt_acc(r.ck_acc, r.ck_note), fmt_time(r.ca_time), fmt_time(r.ck_time), speed]
        else:
            cells += [fmt_time(r.ca_time)]
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    return "\n".join(lines)


def summary_table(rows: list[Row], refs: dict[str, dict[str, float]]) -> str:
    """Every method on every dataset (crowdagg's accuracy), the best per dataset in bold, the
    authors' IBCC/EBCC references, and per method: mean over the datasets where every method ran,
    and the collapse count (accuracy below majority vote - 0.02)."""
    keys: list[str] = []
    acc: dict[str, dict[str, float]] = {}
    for r in rows:
        if r.method == "—":
            continue
        if r.method not in keys:
            keys.append(r.method)
        if r.ca_acc is not None:
            acc.setdefault(r.dataset, {})[r.method] = r.ca_acc
    datasets = list(acc)
    if not datasets:
        return ""
    ref_cols = [c for c in ("IBCC", "EBCC") if any(c in refs.get(d, {}) for d in datasets)]
    lines = ["| dataset | " + " | ".join(keys + [f"{c} (authors)" for c in ref_cols]) + " |",
             "|---|" + "---:|" * (len(keys) + len(ref_cols))]
    for d in datasets:
        best = max(acc[d].values())
        cells = []
        for k in keys:
            v = acc[d].get(k)
            cells.append("" if v is None else (f"**{v:.4f}**" if v >= best - 1e-12 else f"{v:.4f}"))
        cells += [f"{refs[d][c]:.4f}" if c in refs.get(d, {}) else "" for c in ref_cols]
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    mean_cells, coll_cells, run_cells = [], [], []
    for k in keys:
        vals = [acc[d][k] for d in datasets if k in acc[d]]
        mean_cells.append(f"{np.mean(vals):.4f}" if vals else "")
        run_cells.append(str(len(vals)))
        coll = [d for d in datasets if k in acc[d] and "MV" in acc[d] and acc[d][k] < acc[d]["MV"] - 0.02]
        coll_cells.append(str(len(coll)))
    ref_means = []
    for c in ref_cols:
        vals = [refs[d][c] for d in datasets if c in refs.get(d, {})]
        ref_means.append(f"{np.mean(vals):.4f}" if vals else "")
    lines.append("| **mean** (datasets it ran on) | " + " | ".join(mean_cells + ref_means) + " |")
    lines.append("| datasets it ran on | " + " | ".join(run_cells + [""] * len(ref_cols)) + " |")
    lines.append("| **collapses** (< MV − 0.02) | " + " | ".join(coll_cells + [""] * len(ref_cols)) + " |")
    return "\n".join(lines)


def report(rows: list[Row], args: argparse.Namespace, methods: list[tuple], missing: list[str],
           argv: list[str], with_crowdkit: bool) -> str:
    cmd = "python benchmarks/accuracy.py " + " ".join(shlex.quote(a) for a in argv)
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    ck = crowdkit_version()
    parts = [
        "# Accuracy on real datasets",
        "",
        f"Generated by `{cmd}` on {now}.",
        "",
        f"- Machine: {machine_info()}.",
        f"- Software: {versions()}.",
        f"- Methods: {', '.join(m[0] + ' (' + m[1] + ')' for m in methods)}."
        + (f" Not available in crowdagg yet: {', '.join(missing)}." if missing else ""),
        f"- Data: read with `load_dataset(folder, as_frame=True, duplicates={args.duplicates!r})`: ids "
        "as strings, labels parsed, rows with an empty label dropped, repeated (task, worker) pairs "
        + ("reduced to the first row in file order" if args.duplicates == "first" else
           "reduced to the last row in file order" if args.duplicates == "last" else
           "kept as separate votes" if args.duplicates == "keep" else "rejected")
        + "; crowdagg and crowd-kit get the same DataFrame. Counts below are after this rule.",
        "- Accuracy: share of gold items with at least one answer whose aggregated label equals the "
        "gold label. Each method breaks ties by its own rule (crowdagg MajorityVote: first tied label "
        "in sorted label order); a missing label, or a gold label no worker used, counts as wrong.",
        "- Skipped: datasets of kind `ratings` (registry kind, else numeric labels with more than 10 "
        "distinct values or non-integer gold over integer labels) and datasets without gold.",
        "- Time: wall seconds of one `fit` on the DataFrame"
        + (f" (best of {args.repeat})" if args.repeat > 1 else "")
        + "; crowdagg's includes building the table and excludes Numba compilation (warm-up fit on a "
        "tiny synthetic crowd first). crowd-kit runs in a forked child process (timed inside it).",
    ]
    if with_crowdkit:
        parts.append(
            f"- crowd-kit {ck}: "
            + ", ".join(f"`{m[3]}({', '.join(f'{k}={v!r}' for k, v in m[4].items())})`"
                        for m in methods if m[3] is not None)
            + "; "
            + ("" if not any(m[5] for m in methods) else
               "GLAD skipped (--skip-slow); " if args.skip_slow else
               f"GLAD skipped above {args.slow_limit:,} annotations; " if args.slow_limit else "")
            + f"timeout {args.crowdkit_timeout:g} s. "
            "crowdagg methods run with their defaults (`random_state=0` where accepted)."
        )
    else:
        parts.append("- crowd-kit: " + ("not installed." if ck is None else "not run (--no-crowdkit)."))
    summary = summary_table(rows, read_references(args.data_dir))
    if summary:
        parts += ["", "## Every method on every dataset", "",
                  "crowdagg's accuracy (defaults), the best per dataset in bold; the last columns are the "
                  "authors' IBCC and EBCC code from `../shared/datasets/README.md`. A collapse is an "
                  "accuracy below majority vote − 0.02.", "", summary]
    parts += ["", "## Per method, with crowd-kit", "", markdown_table(rows, with_crowdkit), ""]
    parts += [WHICH_METHOD, ""]
    if with_crowdkit:
        parts += [CROWDKIT_NOTES, ""]
    return "\n".join(parts)


#: known causes of differences with crowd-kit 1.4.2 (investigated in docs/em.md and docs/glad_mace.md)
CROWDKIT_NOTES = """## Where crowdagg and crowd-kit differ

- **DawidSkene / OneCoinDawidSkene**: crowdagg's defaults add `correct_prior=5` (a Dirichlet/Beta
  pseudo-count of correct answers per worker, MAP), so workers with one or two answers stay near
  the vote (act_cf: 0.893, plain model 0.830); `correct_prior=0` is crowd-kit's model, and run for
  the same number of updates the two agree to one item on every dataset (docs/em.md). crowd-kit
  also stops as soon as its bound drops (its check `new - old < tol` fires on a decrease).
- **MACE**: crowdagg learns the class priors (`class_prior="learn"`), labels under uniform
  priors (`decision="balanced"`), uses `theta_prior=(0.5, 2.0)` and keeps its restarts by the evidence
  lower bound (`restart_criterion="auto"`); crowd-kit 1.4.2 assumes uniform classes and also pairs the strategy
  counts of one worker with another's parameters whenever sorted and first-appearance worker
  orders differ (docs/glad_mace.md).
- **KOS / MMSR**: KOS gives the same labels as crowd-kit's; M-MSR follows the paper where
  crowd-kit departs from it (docs/methods.md).
- **MajorityVote**: ties are broken differently (crowdagg: first label in the label order; crowd-kit:
  the column order of a pandas `value_counts().unstack()`)."""

#: the guide printed under the tables (its figures are those of the tables above)
WHICH_METHOD = """## Which method when

- **You do not know the data: `crowdagg.aggregate(df)` / `crowdagg aggregate` (auto).** It
  scores every candidate by how well its labels predict held-out answers (no gold) and refits the
  best: the highest mean above and no collapse; it never falls more than 0.012 below majority vote
  (docs/auto.md). It costs about four fits of each candidate.
- **One method, trusted everywhere: `DawidSkene` or `BCC`.** With their priors (DS
  `correct_prior=5`, BCC's Dirichlet 4/1) they have the best single-method means and no collapse;
  DS is the fastest EM method, BCC adds the ELBO and posterior uncertainty (docs/bayesian.md).
- **Workers who make the same mistakes: `EBCC`** (latent subtypes shared by workers; 10 restarts).
- **Spammers and adversaries: `MACE`** (a spam model per worker; fitted with learnt class priors,
  items labelled under uniform ones: `decision="balanced"`, robust to gold sets that over-represent
  rare classes; `decision="posterior"` when the judged items are a random sample).
- **Items of varied difficulty: `GLAD`**, but it collapses where workers are biased towards one
  class (zheng_d_duck), as crowd-kit's does.
- **Avoid as a default**: `OneCoinDawidSkene` (one number per worker: biased crowds collapse it),
  `KOS` (binary only; built for random regular designs, it collapses on the MACE sets) and `MMSR`
  (below majority vote on four sets, as in the crowd-kit paper).
- **Baselines and very large batches**: `MajorityVote`, `Wawa`, `ZeroBasedSkill` (no EM).
- **Gold answers**: every EM method takes `gold=` (clamped items); `GoldMajorityVote` weights
  votes by accuracy on gold (not in the tables: it needs the gold it would be scored on)."""


# --------------------------------------------------------------------------- main
def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data_dir", metavar="DATA_DIR", help="folder of dataset folders (or one dataset folder)")
    p.add_argument("--methods", nargs="+", default=None,
                   help="methods by key or class name, comma or space separated "
                        f"({', '.join(m[0] for m in METHODS)}); default: every method crowdagg has")
    p.add_argument("--out", default=None, help="also write the report (markdown) to this file")
    p.add_argument("--duplicates", choices=("first", "last", "keep"), default="first",
                   help="rule for repeated (task, worker) pairs (default: first)")
    p.add_argument("--no-crowdkit", action="store_true", help="do not run crowd-kit")
    p.add_argument("--crowdkit-timeout", type=float, default=600.0,
                   help="seconds before a crowd-kit fit is stopped (default 600; 0 = run in-process, no limit)")
    p.add_argument("--slow-limit", type=int, default=30000,
                   help="skip crowd-kit's GLAD above this many annotations (default 30000; 0 = never skip)")
    p.add_argument("--skip-slow", action="store_true",
                   help="skip crowd-kit's slow methods (GLAD) on every dataset")
    p.add_argument("--repeat", type=int, default=1, help="time each fit this many times, keep the best")
    p.add_argument("--verbose", "-v", action="store_true", help="print tracebacks of errors")
    return p.parse_args(argv)


def select_methods(spec: list[str] | None) -> tuple[list[tuple], list[str]]:
    if spec is None:
        chosen = [m for m in METHODS if crowdagg_class(m[1]) is not None]
        missing = [m[1] for m in METHODS if crowdagg_class(m[1]) is None]
        return chosen, missing
    names = [s.strip() for item in spec for s in item.split(",") if s.strip()]
    chosen, unknown = [], []
    for n in names:
        m = _BY_KEY.get(n.lower())
        if m is None:
            unknown.append(n)
        elif m not in chosen:
            chosen.append(m)
    if unknown:
        raise SystemExit(f"unknown method(s) {unknown}; known: {', '.join(m[0] for m in METHODS)}")
    missing = [m[1] for m in chosen if crowdagg_class(m[1]) is None]
    return chosen, missing


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.repeat < 1:
        raise SystemExit("--repeat must be >= 1")
    if not os.path.isdir(args.data_dir):
        print(f"error: {args.data_dir!r} is not a folder", file=sys.stderr)
        return 2
    methods, missing = select_methods(args.methods)
    if not methods:
        print("error: none of the requested methods is available in crowdagg", file=sys.stderr)
        return 2
    with_crowdkit = not args.no_crowdkit and crowdkit_version() is not None
    paths = find_datasets(args.data_dir)
    if not paths:
        print(f"error: no dataset folder found in {args.data_dir!r} (expected answers.csv + gold.csv, "
              "answer.csv + truth.csv, NAME.csv + NAME.key or answers.txt + gold.txt)", file=sys.stderr)
        return 2
    log(f"{len(paths)} dataset(s), methods {[m[0] for m in methods]}, crowd-kit {'on' if with_crowdkit else 'off'}")
    warm_up(methods)
    rows: list[Row] = []
    for path in paths:
        rows.extend(bench_dataset(path, methods, args))
    text = report(rows, args, methods, missing, argv, with_crowdkit)
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
        log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
