"""Tiny runs of the benchmark scripts so they cannot rot (benchmarks/*.py)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import CROWDKIT_REASON

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """The benchmark modules, with the crowd cache in a temporary folder."""
    cache = tmp_path_factory.mktemp("bench-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("CROWDAGG_BENCH_CACHE", str(cache))
    mp.syspath_prepend(str(BENCH))
    mods = {name: importlib.import_module(name) for name in ("_common", "head_to_head", "scaling")}
    yield mods
    mp.undo()
    for name in mods:
        sys.modules.pop(name, None)


def test_sizes(bench):
    C = bench["_common"]
    assert C.parse_sizes("10k, 1M,2.5k,300,1e6") == [10_000, 1_000_000, 2_500, 300, 1_000_000]
    assert [C.fmt_size(n) for n in (300, 2_500, 10_000, 100_000_000)] == ["300", "2.5k", "10k", "100M"]
    for bad in ("ten", "0", "1.5", "-3k"):
        with pytest.raises(ValueError):
            C.parse_size(bad)
    assert C.crowd_shape(1_000_000) == (200_000, 1_000)
    assert C.crowd_shape(10_000) == (2_000, 20)


def test_cached_crowd_is_the_generated_one(bench):
    C = bench["_common"]
    fresh, truth = C.load_crowd(1500, cache=False)
    first, _ = C.load_crowd(1500)  # generates and writes
    again, truth_again = C.load_crowd(1500)  # reads the cache
    assert list(fresh.columns) == ["task", "worker", "label"]
    assert len(fresh) == 1500
    pd.testing.assert_frame_equal(first, fresh)
    pd.testing.assert_frame_equal(again, fresh)
    pd.testing.assert_series_equal(truth_again, truth)
    assert len(list(Path(C.cache_dir()).glob("*.tmp"))) == 0


def test_accuracy_aligns_on_ids(bench):
    C = bench["_common"]
    truth = pd.Series([0, 1, 2, 3], index=["a", "b", "c", "d"])
    pred = pd.Series([3, 2, 1, 0], index=["d", "c", "b", "x"])  # "a" missing -> wrong
    assert C.accuracy(pred, truth) == 0.75


def test_registry_matches_crowdagg_parameters(bench):
    C = bench["_common"]
    mv = C.METHODS["mv"]
    factory, notes = mv.ours_factory()
    assert notes == [] and type(factory()).__name__ == "MajorityVote"
    fake = C.Method("x", "X", "NoSuchMethod", None)
    assert fake.ours_factory() == (None, ["crowdagg.NoSuchMethod not available"])
    for m in C.METHODS.values():
        kwargs, notes = m.ours_kwargs()
        if kwargs is not None and m.ours_params:
            # every requested setting reached the estimator (50 iterations, tol 0, ...)
            assert notes == [], notes
            params = m.ours_factory()[0]().get_params()
            defaults = m.ours_class()().get_params()
            changed = 0
            for key, value in m.ours_params.items():
                (name,) = [a for a in C._ALIASES.get(key, (key,)) if a in params]
                assert params[name] == value, (m.key, name, params[name], value)
                changed += defaults[name] != value
            assert changed, f"{m.key}: every setting equals its default, so this checks nothing"
    with pytest.raises(ValueError, match="unknown method"):
        C.resolve_methods("mv,nope")


def test_isolated_run_reports_peak_memory(bench):
    C = bench["_common"]
    res = C.run_isolated("_common:ensure_crowd", {"n_annotations": 1200})
    assert res["rows"] == 1200
    assert res["process_peak_rss"] > 10 * 2**20
    with pytest.raises(C.ChildError, match="failed"):
        C.run_isolated("_common:ensure_crowd", {"n_annotations": 1200, "id_type": "bogus"})


def test_head_to_head_main(bench, tmp_path, capsys):
    pytest.importorskip("crowdkit.aggregation", reason=CROWDKIT_REASON)
    out = tmp_path / "h2h.json"
    report = bench["head_to_head"].main(
        ["--sizes", "2k", "--methods", "mv", "--repeats", "2", "--markdown", "--json", str(out)]
    )
    text = capsys.readouterr().out
    (row,) = report["results"]
    assert row["method"] == "mv" and row["annotations"] == 2000
    assert len(row["ours_runs"]) == 2 and len(row["theirs_runs"]) == 2
    assert row["ratio"] == pytest.approx(row["theirs_seconds"] / row["ours_seconds"])
    assert 0.5 < row["ours_accuracy"] <= 1 and 0.5 < row["theirs_accuracy"] <= 1
    assert "| MajorityVote | 2k |" in text and "| method | annotations |" in text
    assert json.loads(out.read_text())["results"][0]["method"] == "mv"


def test_head_to_head_skips_slow_competitor(bench):
    pytest.importorskip("crowdkit.aggregation", reason=CROWDKIT_REASON)
    lines = []
    report = bench["head_to_head"].run([2000], [bench["_common"].METHODS["mv"]], repeats=1,
                                       max_competitor_seconds=1e-9, log=lines.append)
    (row,) = report["results"]
    assert row["theirs_seconds"] is None and row["theirs_skipped_estimate"] > 0
    assert row["ours_seconds"] > 0
    assert "skipped (est." in lines[-1]


def test_scaling_main_and_plot(bench, tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="the plot needs matplotlib, from the bench extra")
    png = tmp_path / "img" / "scaling.png"
    report = bench["scaling"].main(["--sizes", "2k", "--methods", "mv", "--plot", str(png), "--markdown"])
    text = capsys.readouterr().out
    (row,) = report["results"]
    assert row["method"] == "mv" and row["annotations"] == 2000
    assert row["total_seconds"] >= row["fit_seconds"] > 0
    assert row["peak"] >= row["rss_loaded"] > 0 and row["table_bytes"] > 0
    assert 0.5 < row["accuracy"] <= 1
    assert "| MajorityVote | 2k |" in text
    assert png.stat().st_size > 5000 and png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow  # two child processes (~10-25 s)
def test_parquet_memory_main(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    mod = importlib.import_module("parquet_memory")
    try:
        (row,) = mod.main(["--sizes", "3000", "--dir", str(tmp_path)])
    finally:
        sys.modules.pop("parquet_memory", None)
    assert row["n"] == 3000 and row["items"] <= 600
    assert row["peak_mib"] >= row["peak_read_mib"] > 0 and row["fit_s"] > 0
    assert "n=3,000" in capsys.readouterr().out


def test_em_speed_main_ratios(bench, capsys):
    """bayesian_speed.py times the chosen methods on one built table and prints each as a
    multiple of Dawid-Skene's; an unknown method is a one-line usage error."""
    mod = importlib.import_module("bayesian_speed")
    try:
        assert mod.main(["--sizes", "3k", "--methods", "ds,glad,oc", "--repeats", "1", "--iters", "2",
                         "--rounds", "2"]) == 0
        out = capsys.readouterr().out
        assert "x DS wall" in out and out.count("(2 runs)") == 3
        with pytest.raises(SystemExit):
            mod.main(["--methods", "nope"])
    finally:
        sys.modules.pop("bayesian_speed", None)


@pytest.mark.parametrize("name", ["DSPass", "MACEPass", "WVPass", "IterationPass"])
def test_asv_estep_passes_run(bench, name):
    """The asv E-step benchmarks call the kernels directly: their arguments must follow the
    kernels' signatures (a signature change once broke MACEPass without a failing test)."""
    mp = pytest.MonkeyPatch()
    mp.syspath_prepend(str(BENCH))
    try:
        mod = importlib.import_module("asv_bench.bench_estep")
        args = ("ds", "oc", "zbs", "bcc", "glad") if name == "IterationPass" else ("skewed",)
        for arg in args:
            for parallel in (False, True):
                case = getattr(mod, name)()
                case.setup(3000, arg, parallel)
                case.run()
    finally:
        mp.undo()
        for m in [m for m in sys.modules if m.startswith("asv_bench")]:
            sys.modules.pop(m, None)
