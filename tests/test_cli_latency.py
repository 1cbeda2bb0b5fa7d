"""What a tiny ``crowdagg aggregate`` loads, and that its pure-Python kernels give the compiled answers.

No timing asserts (``benchmarks/cli_latency.py`` measures): these tests check which modules a
command on a tiny file imports (no Numba, no SciPy, no Matplotlib/Jinja2/Dask), the rule that
chooses the pure-Python path (:mod:`crowdagg.cli._purepython`), that every method's output on
that path equals the compiled output to 1e-10, and that a failure on that path reruns the
command compiled.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crowdagg.cli import _purepython as pp
from crowdagg.cli import main
from crowdagg.methods.names import BY_KIND, CATEGORICAL

TINY = "item,worker,label\na,w1,x\na,w2,y\nb,w1,x\n"
#: modules a tiny aggregate must not import (what made it slow, or what it never needs)
HEAVY = ("numba.core.dispatcher", "numba.np", "llvmlite.binding", "scipy", "matplotlib", "jinja2", "dask", "distributed",
         "polars", "sklearn")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (pp.ENV, "NUMBA_DISABLE_JIT")}
    env.update(extra)
    return env


def _run_script(code: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=_env(**env))


_PROBE = """
import json, sys
sys.argv = [{argv0!r}, *{argv!r}]
from crowdagg.cli import main
from crowdagg.cli import _purepython as pp
rc = main()
mods = sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in {heavy!r}))
print("@@" + json.dumps({{"rc": rc, "pure": pp.is_installed(), "mods": mods}}))
"""


def _probe(argv: list[str], argv0: str = "crowdagg", **env: str) -> dict:
    r = _run_script(_PROBE.format(argv=argv, heavy=HEAVY, argv0=argv0), **env)
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("@@")]
    assert line, r.stderr
    out = json.loads(line[-1][2:])
    out["stderr"] = r.stderr
    return out


@pytest.fixture
def tiny(tmp_path) -> Path:
    p = tmp_path / "tiny.csv"
    p.write_text(TINY)
    return p


def _crowd_csv(path: Path, n_items: int, seed: int = 0, labels: str = "xyz") -> Path:
    rng = np.random.default_rng(seed)
    rows = []
    k = len(labels)
    for i in range(n_items):
        truth = rng.integers(0, k)
        for w in rng.choice(8, size=3, replace=False):
            lab = truth if rng.random() < 0.7 else rng.integers(0, k)
            rows.append((f"t{i:02d}", f"w{w}", labels[lab]))
    pd.DataFrame(rows, columns=["item", "worker", "label"]).to_csv(path, index=False)
    return path


# --------------------------------------------------------------------------- what a tiny command imports
@pytest.mark.parametrize("method", [None, "mv"])
def test_tiny_aggregate_imports_neither_numba_nor_scipy(tiny, tmp_path, method):
    argv = ["aggregate", str(tiny), "-q", "-o", str(tmp_path / "out.csv")] + (["-m", method] if method else [])
    r = _probe(argv)
    assert r["rc"] == 0 and r["pure"], r["stderr"]  # pure: sys.modules["numba"] is the stand-in
    assert r["mods"] == []
    assert r["stderr"] == ""
    assert pd.read_csv(tmp_path / "out.csv")["item"].tolist() == ["a", "b"]


def test_tiny_summary_is_pure_python(tiny):
    r = _probe(["summary", str(tiny), "--json"])
    assert r["rc"] == 0 and r["pure"] and "scipy" not in r["mods"], r["stderr"]


@pytest.mark.slow
def test_larger_input_and_switch_off_use_the_compiled_kernels(tiny, tmp_path):
    big = _crowd_csv(tmp_path / "big.csv", pp.work_limit("mv") // 9 + 1)  # 3 labels: above mv's limit
    r = _probe(["aggregate", str(big), "-m", "mv", "-q", "-o", str(tmp_path / "o.csv")])
    assert r["rc"] == 0 and not r["pure"] and "numba.core.dispatcher" in r["mods"], r["stderr"]
    r = _probe(["aggregate", str(tiny), "-m", "mv", "-q", "-o", str(tmp_path / "o.csv")], **{pp.ENV: "0"})
    assert r["rc"] == 0 and not r["pure"] and "numba.core.dispatcher" in r["mods"], r["stderr"]


def test_is_program(monkeypatch):
    for argv0, expected in (("/usr/bin/crowdagg", True), ("crowdagg", True),
                            ("/x/site-packages/crowdagg/__main__.py", True), ("/x/other/__main__.py", False),
                            ("myscript.py", False), ("", False)):
        monkeypatch.setattr(sys, "argv", [argv0, "aggregate"])
        assert pp.is_program() is expected, argv0


def test_another_program_calling_main_keeps_numba(tiny, tmp_path):
    r = _probe(["aggregate", str(tiny), "-m", "mv", "-q", "-o", str(tmp_path / "o.csv")], argv0="myscript.py")
    assert r["rc"] == 0 and not r["pure"], r["stderr"]


def test_in_process_main_never_installs_the_stand_in(tiny, tmp_path, monkeypatch):
    def refuse():
        raise AssertionError("main(argv) installed the stand-in")

    monkeypatch.setattr(pp, "install", refuse)
    monkeypatch.setenv(pp.ENV, "1")
    assert main(["aggregate", str(tiny), "-m", "mv", "-q", "-o", str(tmp_path / "o.csv")]) == 0
    assert not pp.is_installed()


@pytest.mark.slow
def test_install_refuses_once_numba_is_imported():
    r = _run_script("import numba\nfrom crowdagg.cli import _purepython as pp\nprint(pp.install(), pp.is_installed())")
    assert r.stdout.split() == ["False", "False"], r.stderr
    r = _run_script("import crowdagg.kernels.mv\nfrom crowdagg.cli import _purepython as pp\nprint(pp.install())")
    assert r.stdout.split() == ["False"], r.stderr


# --------------------------------------------------------------------------- the rule
def test_input_size(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text(TINY)
    assert pp.input_size(str(p)) == (3, 2)
    assert pp.input_size(str(p), max_rows=1) == (2, 1)  # stops once past max_rows
    assert pp.input_size(str(p), label_col="worker") == (3, 2)
    assert pp.input_size(str(p), label_col="answer") == (3, pp.UNKNOWN_LABELS)  # e.g. an MTurk batch
    p.write_text(TINY.rstrip("\n") + "\n\n")  # no final newline, blank lines
    assert pp.input_size(str(p)) == (3, 2)
    p.write_text('item,worker,label\n"a\nb",w1," x "\n')  # a quoted field across lines: one row
    assert pp.input_size(str(p)) == (1, 1)
    p.write_text("item,worker,label\n")
    assert pp.input_size(str(p)) == (0, 0)
    assert pp.work((0, 0)) == 0 and pp.work((3, 1)) == 6 and pp.work((10, 7)) == 70
    assert pp.input_size(str(tmp_path / "missing.csv")) is None
    p.write_bytes(b"item,worker,label\n\xff\xfe,1,2\n")  # not UTF-8
    assert pp.input_size(str(p)) is None
    p.write_bytes(b"x" * (pp.MAX_BYTES + 1))
    assert pp.input_size(str(p)) is None


def test_wanted(tiny, tmp_path, monkeypatch):
    from types import SimpleNamespace as NS

    monkeypatch.delenv(pp.ENV, raising=False)
    args = NS(command="aggregate", input=str(tiny), format="auto", method=None, kind="categorical")
    assert pp.wanted(args)
    assert not pp.wanted(NS(**{**vars(args), "command": "agreement"}))
    assert not pp.wanted(NS(**{**vars(args), "format": "parquet"}))
    assert not pp.wanted(NS(**{**vars(args), "input": str(tmp_path)}))  # a folder
    pq = tmp_path / "x.parquet"
    pq.write_text(TINY)
    assert not pp.wanted(NS(**{**vars(args), "input": str(pq)}))
    js = tmp_path / "batch.json"
    js.write_text("[]")  # one line may hold a whole batch
    assert not pp.wanted(NS(**{**vars(args), "input": str(js)}))
    mid = _crowd_csv(tmp_path / "mid.csv", 50)  # 150 rows, 3 labels
    assert pp.wanted(NS(**{**vars(args), "input": str(mid), "method": "mv"}))
    assert not pp.wanted(NS(**{**vars(args), "input": str(mid), "method": "ebcc"}))
    assert not pp.wanted(NS(**{**vars(args), "input": str(mid)}))  # auto: 450 > its limit
    ten = tmp_path / "ten.csv"  # 250 rows, ten labels: more work per pass
    ten.write_text("item,worker,label\n" + "".join(f"t{i},w{i % 7},{i % 10}\n" for i in range(250)))
    ds = NS(**{**vars(args), "method": "ds"})
    assert pp.wanted(NS(**{**vars(ds), "input": str(mid)})) and not pp.wanted(NS(**{**vars(ds), "input": str(ten)}))
    monkeypatch.setenv(pp.ENV, "0")
    assert not pp.wanted(args)
    monkeypatch.setenv(pp.ENV, "1")
    assert pp.wanted(NS(**{**vars(args), "input": str(mid), "method": "ebcc"}))
    assert pp.work_limit(None) == pp.work_limit("auto") and pp.work_limit("unknown") == pp.DEFAULT_WORK


def test_stand_in_behaves_as_numba_disable_jit():
    mod = pp._stand_in()

    def f(x):
        return x + 1

    assert mod.njit(f) is f and mod.njit(cache=True, nogil=True)(f) is f and mod.njit("f8(f8)")(f) is f
    assert mod.jit(nopython=True)(f) is f and mod.extending.register_jitable(f) is f
    assert list(mod.prange(3)) == [0, 1, 2] and mod.config.DISABLE_JIT
    assert mod.get_num_threads() >= 1
    with pytest.raises(ValueError):
        mod.threading_layer()
    assert issubclass(mod.core.errors.TypingError, Exception)
    mod.types.uint64(mod.types.int64)  # names in signatures resolve
    with pytest.raises(pp.Unsupported):
        mod.core.cgutils.alloca_once_value(None, None)  # code generation never runs as Python
    with pytest.raises(pp.Unsupported):
        mod.typed  # noqa: B018 - a part of Numba it lacks is loud, not an AttributeError
    with pytest.raises(AttributeError):
        mod.__file__  # noqa: B018


# --------------------------------------------------------------------------- same answers
_ALL = """
import sys
from crowdagg.cli import main
from crowdagg.cli import _purepython as pp
def refuse(argv):
    raise SystemExit(f"reran compiled: {{argv}}")
pp.rerun_compiled = refuse
for argv in {runs!r}:
    sys.argv = ["crowdagg", *argv]
    rc = main()
    assert rc == 0, (argv, rc)
    assert pp.is_installed(), argv
print("@@ok")
"""


def _methods() -> list[tuple[str, str]]:
    out = [("categorical", m) for m in CATEGORICAL if m != "goldmv"]
    out += [(kind, m) for kind, (names, _) in BY_KIND.items() for m in names]
    return out


def test_pure_python_outputs_equal_compiled(tmp_path):
    crowd = _crowd_csv(tmp_path / "crowd.csv", 12)  # 36 rows, 3 labels, string ids
    binary = _crowd_csv(tmp_path / "binary.csv", 12, labels="xy")  # KOS: two labels
    ratings = tmp_path / "ratings.csv"
    df = pd.read_csv(crowd)
    df.assign(label=df["label"].map({"x": 1, "y": 2, "z": 4})).to_csv(ratings, index=False)
    gold = tmp_path / "gold.csv"
    pd.DataFrame({"item": ["t00", "t03"], "label": ["x", "z"]}).to_csv(gold, index=False)
    runs = []
    for kind, m in _methods():
        src = ratings if kind == "numeric" else binary if m in ("kos", "mmsr") else crowd
        extra = ["--sep", "|"] if kind == "multilabel" else []
        runs.append(["aggregate", str(src), "--kind", kind, "-m", m, *extra, "-q", "-o",
                     str(tmp_path / f"pure_{kind}_{m}.csv")])
    runs.append(["aggregate", str(crowd), "-m", "goldmv", "--gold", str(gold), "-q", "-o",
                 str(tmp_path / "pure_categorical_goldmv.csv")])
    runs.append(["aggregate", str(crowd), "-m", "ds", "--gold", str(gold), "-q", "-o",
                 str(tmp_path / "pure_categorical_dsgold.csv")])
    r = _run_script(_ALL.format(runs=runs), timeout=600, **{pp.ENV: "1"})
    assert "@@ok" in r.stdout, r.stderr[-3000:]
    assert r.stderr == ""  # no warning lines (the kernels' wrapping hash arithmetic is silent)
    for argv in runs:  # the same commands, compiled (this process imported Numba)
        pure_out = argv[-1]
        comp_out = pure_out.replace("pure_", "comp_")
        assert main([*argv[:-1], comp_out]) == 0
        a, b = pd.read_csv(pure_out), pd.read_csv(comp_out)
        assert list(a.columns) == list(b.columns), argv
        for c in a.columns:
            if pd.api.types.is_float_dtype(a[c]) and pd.api.types.is_float_dtype(b[c]):
                np.testing.assert_allclose(a[c].to_numpy(), b[c].to_numpy(), rtol=0, atol=1e-10, err_msg=str(argv))
            else:
                assert a[c].astype(str).tolist() == b[c].astype(str).tolist(), (argv, c)


@pytest.mark.slow
def test_summary_pure_equals_compiled(tiny, capsys):
    r = subprocess.run([sys.executable, "-m", "crowdagg", "summary", str(tiny), "--json"], capture_output=True,
                       text=True, timeout=120, env=_env(**{pp.ENV: "1"}))
    assert r.returncode == 0, r.stderr
    assert main(["summary", str(tiny), "--json"]) == 0
    assert json.loads(r.stdout) == json.loads(capsys.readouterr().out)


# --------------------------------------------------------------------------- failures rerun compiled
_BROKEN = """
import sys
sys.argv = ["crowdagg", *{argv!r}]
from crowdagg.cli import main
from crowdagg.cli import _purepython as pp
make = pp._stand_in
def broken():
    mod = make()
    {how}
    return mod
pp._stand_in = broken
sys.exit(main())
"""


@pytest.mark.slow
@pytest.mark.parametrize("how", [
    "del mod.prange",  # a part of Numba the stand-in lacks: Unsupported at import
    "mod.njit = lambda *a, **k: (lambda f: (lambda *x: 1 / 0))",  # a kernel failing as Python
])
def test_failure_on_the_pure_path_reruns_compiled(tiny, tmp_path, how):
    out = tmp_path / "out.csv"
    argv = ["aggregate", str(tiny), "-m", "mv", "-q", "-o", str(out)]
    r = _run_script(_BROKEN.format(argv=argv, how=how))
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert pd.read_csv(out)["label"].tolist() == ["x", "x"]
    # CROWDAGG_DEBUG=1 says so
    r = _run_script(_BROKEN.format(argv=argv, how=how), CROWDAGG_DEBUG="1")
    assert r.returncode == 0 and "running it again with the compiled kernels" in r.stderr


@pytest.mark.slow
def test_crowdagg_errors_are_not_rerun(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("item,worker\n1,2\n")
    r = subprocess.run([sys.executable, "-m", "crowdagg", "aggregate", str(bad)], capture_output=True, text=True,
                       timeout=120, env=_env(CROWDAGG_DEBUG="1"))
    assert r.returncode == 2 and "missing column" in r.stderr and "compiled" not in r.stderr


# --------------------------------------------------------------------------- auto on small inputs
def test_auto_small_inputs_use_the_small_candidates(tmp_path):
    from crowdagg.auto import DEFAULT_CANDIDATES, SMALL_ANNOTATIONS, SMALL_CANDIDATES, AutoAggregator

    assert set(SMALL_CANDIDATES) < set(DEFAULT_CANDIDATES)
    assert SMALL_ANNOTATIONS <= 1720  # below the smallest shared dataset: its choice is unchanged
    small = pd.read_csv(_crowd_csv(tmp_path / "s.csv", 20))  # 60 annotations
    est = AutoAggregator().fit(small)
    assert list(est.selection_.index) == list(SMALL_CANDIDATES)
    explicit = AutoAggregator(candidates=list(DEFAULT_CANDIDATES)).fit(small)
    assert list(explicit.selection_.index) == list(DEFAULT_CANDIDATES)
    n = -(-SMALL_ANNOTATIONS // 3)
    big = pd.read_csv(_crowd_csv(tmp_path / "b.csv", n))  # SMALL_ANNOTATIONS or more
    assert len(big) >= SMALL_ANNOTATIONS
    assert list(AutoAggregator().fit(big).selection_.index) == list(DEFAULT_CANDIDATES)


@pytest.mark.slow
def test_latency_benchmark_runs(capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import cli_latency

    assert cli_latency.main(["--methods", "mv", "--rows", "3", "--runs", "1", "--paths", "default"]) == 0
    out = capsys.readouterr().out
    assert "| mv | 3 | default |" in out


def test_every_shared_dataset_is_above_the_small_input_rule(datasets_dir):
    """The small-input candidates never apply to a shared dataset, so auto's choice on each
    (docs/auto.md) is unchanged by the rule."""
    from crowdagg.auto import SMALL_ANNOTATIONS

    # snow2008_*: numeric ratings (../shared/datasets/README.md), not auto's categorical candidates
    found = sorted(p for p in datasets_dir.glob("*/answers.csv") if not p.parent.name.startswith("snow2008"))
    if not found:
        pytest.skip(f"no datasets under {datasets_dir}")
    for p in found:
        with open(p, "rb") as fh:
            n_rows = sum(1 for _ in fh) - 1
        assert n_rows >= 3 * SMALL_ANNOTATIONS, p  # several times over, even after duplicates are dropped
