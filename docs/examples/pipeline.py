"""A daily QA pipeline with crowdagg: yesterday's worker model in, today's batch out.

Every day a vendor's QA system receives a Mechanical Turk batch-results CSV and a
few gold (control) answers.  This script, run once per day:

1. loads yesterday's model (``crowdagg.load``; the first day starts a new one);
2. aggregates today's batch (``crowdagg.mturk.read_mturk``), updating the worker
   model with today's answers (``partial_fit``: yesterday's worker statistics plus
   today's, the state bounded by the number of workers, not of days or items);
3. scores and flags workers against today's gold (``crowdagg.quality``) and checks
   the consensus against it;
4. saves today's model (``model.save(..., results=False)``: the worker model only)
   and today's labels, flags and a summary;
5. writes the HTML quality report (``crowdagg.report``) when the report extra is
   installed.

Run it on generated days (a fixed pool of workers, some of them spammers)::

    python docs/examples/pipeline.py --workdir /tmp/qa --days 3

Each day ``d`` reads ``<workdir>/day<d>/batch_results.csv`` and ``gold.csv`` and
writes ``model.crowdagg``, ``labels.csv``, ``flagged.csv``, ``summary.json`` (and
``report.html``) next to them.  ``run_day`` is the part to copy into a real system.
See ``docs/pipeline.md``.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import crowdagg
from crowdagg.mturk import read_mturk
from crowdagg.quality import accuracy_against_gold, score_workers

#: the task's label set, fixed up front so that every day's table uses the same codes
LABELS = ["negative", "neutral", "positive"]


def run_day(batch_csv: Path, gold_csv: Path, yesterday: Path | None, out_dir: Path, *,
            min_accuracy: float = 0.6, min_gold: int = 3) -> dict[str, Any]:
    """One day of the pipeline; returns the summary it writes to ``summary.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # 1. yesterday's model (worker parameters and their statistics), or a new one
    if yesterday is not None and yesterday.exists():
        model = crowdagg.load(yesterday)
        started = f"loaded {yesterday} ({crowdagg.persist.read_metadata(yesterday)['created']})"
    else:
        model = crowdagg.DawidSkene()
        started = "new model"
    # 2. today's batch, aggregated with what the model knows about the workers
    table, info = read_mturk(batch_csv, labels=LABELS, return_info=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", crowdagg.errors.ConvergenceWarning)
        model.partial_fit(table)
    # 3. workers against today's gold, and the consensus against it
    gold = pd.read_csv(gold_csv, dtype=str).set_index("item")["label"]
    scores = score_workers(table, gold)
    flagged = scores.flag(min_accuracy=min_accuracy, min_gold=min_gold)
    acc = accuracy_against_gold(model, gold)
    # 4. today's model and outputs
    model.save(out_dir / "model.crowdagg", results=False)
    model.to_pandas().to_csv(out_dir / "labels.csv", index=False)
    flagged.to_csv(out_dir / "flagged.csv")
    summary = {
        "started_from": started,
        "items": int(table.n_items),
        "annotations": int(table.n_annotations),
        "dropped": {k: int(v) for k, v in table.dropped.items()},
        "workers_today": int((table.worker_counts() > 0).sum()),
        "workers_known": int(len(model.table_.workers)),
        "batches_in_model": int(model.partial_state_["n_batches"]),
        "gold_items": int(scores.n_gold_items),
        "consensus_accuracy_on_gold": float(acc.accuracy),
        "flagged_workers": [str(w) for w in flagged.index],
        "model_bytes": (out_dir / "model.crowdagg").stat().st_size,
    }
    # 5. the HTML report, when crowdagg.report and its extra are available
    summary["report"] = _report(model, gold, out_dir / "report.html")
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _report(model: Any, gold: pd.Series, path: Path) -> str | None:
    try:
        from crowdagg.reporting import report
    except ImportError:  # the report module is not part of this crowdagg
        return None
    try:
        report(model, gold, title=f"QA report {path.parent.name}").save(path)
    except ImportError:  # the report extra (jinja2, matplotlib) is not installed
        return None
    return str(path)


# --------------------------------------------------------------------------- generated days
def make_days(workdir: Path, n_days: int, items_per_day: int = 2000, seed: int = 0) -> list[Path]:
    """Write ``n_days`` batch-results CSVs (and gold files) of one pool of 60 workers (10 %
    spammers), and ``worker_truth.csv``: each worker's drawn accuracy and whether a spammer."""
    crowd = crowdagg.datasets.make_crowd(n_items=n_days * items_per_day, n_workers=60, n_labels=3, per_item=5,
                                         spammer_share=0.1, random_state=seed)
    ann, truth = crowd.annotations, crowd.truth
    rng = np.random.default_rng(seed)
    worker_ids = {w: f"A{rng.integers(16**11, 16**12):X}" for w in pd.unique(ann["worker"])}
    items = pd.Index(pd.unique(ann["item"]))
    workdir.mkdir(parents=True, exist_ok=True)
    truth_w = crowd.workers.rename(index=worker_ids).rename_axis("WorkerId")
    truth_w.to_csv(workdir / "worker_truth.csv")  # what the generator drew (for checking the flags)
    folders = []
    for d in range(n_days):
        day_items = items[d * items_per_day:(d + 1) * items_per_day]
        rows = ann[ann["item"].isin(day_items)]
        hit = {i: f"3D{d}{k:08d}HIT" for k, i in enumerate(day_items)}
        n = len(rows)
        status = np.where(rng.random(n) < 0.01, "Rejected", "Approved")
        frame = pd.DataFrame({
            "HITId": rows["item"].map(hit).to_numpy(),
            "AssignmentId": [f"3A{d}{k:09d}" for k in range(n)],
            "WorkerId": rows["worker"].map(worker_ids).to_numpy(),
            "AssignmentStatus": status,
            "WorkTimeInSeconds": rng.integers(5, 120, n),
            "Input.text": rows["item"].map(lambda i: f"review {i}").to_numpy(),
            "Answer.sentiment": [LABELS[int(x)] for x in rows["label"]],
        })
        folder = workdir / f"day{d + 1}"
        folder.mkdir(parents=True, exist_ok=True)
        frame.to_csv(folder / "batch_results.csv", index=False)
        gold_items = day_items[rng.random(len(day_items)) < 0.1]
        pd.DataFrame({"item": [hit[i] for i in gold_items],
                      "label": [LABELS[int(truth[i])] for i in gold_items]}).to_csv(folder / "gold.csv", index=False)
        folders.append(folder)
    return folders


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--items-per-day", type=int, default=2000)
    args = ap.parse_args(argv)
    folders = make_days(args.workdir, args.days, args.items_per_day)
    out = []
    yesterday = None
    for folder in folders:
        s = run_day(folder / "batch_results.csv", folder / "gold.csv", yesterday, folder)
        print(f"{folder.name}: {s['items']} items, {s['workers_today']} workers, consensus on gold "
              f"{s['consensus_accuracy_on_gold']:.3f}, flagged {len(s['flagged_workers'])}, "
              f"model {s['model_bytes']:,} bytes ({s['started_from']})")
        out.append(s)
        yesterday = folder / "model.crowdagg"
    return out


if __name__ == "__main__":
    main()
