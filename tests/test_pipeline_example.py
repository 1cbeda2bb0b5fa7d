"""The worked pipeline (docs/examples/pipeline.py, docs/pipeline.md) runs end to end: yesterday's
model is loaded, today's MTurk batch aggregated, workers scored and flagged, the model saved with
a bounded size, and today's saved model reproduces today's labels."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import crowdagg
from crowdagg.mturk import read_mturk

_PATH = Path(__file__).resolve().parents[1] / "docs" / "examples" / "pipeline.py"


@pytest.fixture(scope="module")
def pipeline():
    spec = importlib.util.spec_from_file_location("crowdagg_pipeline_example", _PATH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def run(pipeline, tmp_path_factory):
    work = tmp_path_factory.mktemp("qa")
    return work, pipeline.main(["--workdir", str(work), "--days", "3", "--items-per-day", "1500"])


def test_days_chain_through_saved_models(run):
    work, days = run
    assert days[0]["started_from"] == "new model"
    for d, s in enumerate(days[1:], start=1):
        assert s["started_from"].startswith(f"loaded {work / f'day{d}' / 'model.crowdagg'}")
    assert [s["batches_in_model"] for s in days] == [1, 2, 3]
    assert all(s["items"] == 1500 and s["dropped"]["rejected"] > 0 for s in days)
    for d in range(1, 4):
        assert json.loads((work / f"day{d}" / "summary.json").read_text()) == days[d - 1]


def test_model_size_stays_bounded(run):
    _, days = run
    sizes = [s["model_bytes"] for s in days]
    assert max(sizes) <= 1.2 * min(sizes), sizes


def test_consensus_and_flags_are_right(run):
    work, days = run
    truth = pd.read_csv(work / "worker_truth.csv", index_col="WorkerId")
    for s in days:
        assert s["consensus_accuracy_on_gold"] >= 0.9
        assert s["flagged_workers"], "the generated pool has spammers"
        for w in s["flagged_workers"]:  # every flag is a spammer or a weak worker
            assert truth.loc[w, "spammer"] or truth.loc[w, "accuracy"] < 0.7, w
    flagged = set().union(*(s["flagged_workers"] for s in days))
    spammers = set(truth.index[truth["spammer"]])
    assert len(flagged & spammers) >= len(spammers) - 1


def test_todays_saved_model_reproduces_todays_labels(run, pipeline):
    work, _ = run
    day = work / "day3"
    model = crowdagg.load(day / "model.crowdagg")
    table = read_mturk(day / "batch_results.csv", labels=pipeline.LABELS)
    labels = pd.read_csv(day / "labels.csv", dtype={"item": str})
    got = model.predict_proba(table)
    want = labels.set_index("item")[[f"proba_{lab}" for lab in pipeline.LABELS]]
    np.testing.assert_allclose(got.loc[want.index].to_numpy(), want.to_numpy(), rtol=0, atol=1e-12)
    assert (model.predict(table).loc[want.index].astype(str).to_numpy() == labels["label"].to_numpy()).all()


def test_report_is_written_when_available(run):
    work, days = run
    try:
        import jinja2  # noqa: F401
        import matplotlib  # noqa: F401

        from crowdagg.reporting import report  # noqa: F401
    except ImportError:
        assert all(s["report"] is None for s in days)
        return
    for d, s in enumerate(days, start=1):
        page = work / f"day{d}" / "report.html"
        assert s["report"] == str(page) and page.read_text().lstrip().lower().startswith("<!doctype html")
