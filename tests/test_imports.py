"""Every third-party module imported under ``tests/`` and ``benchmarks/`` is declared or guarded.

A fresh ``pip install -e ".[test]"`` must be enough to collect and run the test suite,
and the benchmark requirements must say what the benchmarks import.  So each
``import X`` / ``from X import ...`` (at any depth, functions included) whose top-level
module is neither the standard library, nor ``crowdagg``, nor a module of the
repository itself (``naive_em``, ``corpus``, ``conftest``, ``_common``, ...) must be

* declared: its distribution is in ``pyproject.toml``'s core ``dependencies`` or
  ``test`` extra (files under ``tests/``), or in those plus the ``bench`` extra plus
  what ``benchmarks/install_competitors.sh`` installs (files under ``benchmarks/``);
* or guarded: inside a ``try:`` whose handler catches ``ImportError``,
  ``ModuleNotFoundError`` or ``Exception``, or obtained with
  ``pytest.importorskip("X", reason=...)``.

Every ``pytest.importorskip`` must give a ``reason=`` (the skip then says why the
module is optional, not only that it is missing).
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # declared in the test extra: tomli; python_version < "3.11"
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]

#: import name -> distribution name, for the common cases where they differ and the
#: distribution may not be installed here (installed ones come from packages_distributions)
STATIC_DISTRIBUTIONS = {
    "sklearn": "scikit-learn",
    "yaml": "PyYAML",
    "crowdkit": "crowd-kit",
    "dateutil": "python-dateutil",
    "PIL": "Pillow",
    "cv2": "opencv-python",
    "bs4": "beautifulsoup4",
    "attr": "attrs",
    "google": "protobuf",
    "skimage": "scikit-image",
}

#: exception names whose handler makes a ``try:`` body's imports optional
GUARD_EXCEPTIONS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


def normalize(name: str) -> str:
    """PEP 503 normalised distribution name (``Scikit_Learn`` -> ``scikit-learn``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")


def requirement_names(req: str) -> set[str]:
    """Normalised distribution names a requirement string brings in directly.

    ``dask[dataframe,distributed]>=2024.1`` gives ``dask`` plus the distributions its
    ``dataframe`` and ``distributed`` extras require (read from dask's metadata when
    it is installed; otherwise an extra named like a distribution counts as that one).
    """
    m = _REQ.match(req)
    if m is None:
        raise AssertionError(f"unparsable requirement {req!r}")
    name, extras = m.group(1), [e.strip() for e in (m.group(2) or "").split(",") if e.strip()]
    names = {normalize(name)}
    if not extras:
        return names
    try:
        reqs = md.requires(name) or []
    except md.PackageNotFoundError:
        reqs = []
    for extra in extras:
        names.add(normalize(extra))  # dask[distributed] -> distributed
        for r in reqs:
            marker = r.partition(";")[2]
            if re.search(r"""extra\s*==\s*["']""" + re.escape(extra) + r"""["']""", marker):
                names |= requirement_names(r.partition(";")[0])
    return names


def script_installs(path: Path) -> set[str]:
    """Normalised distribution names a shell script installs with ``pip install``."""
    names: set[str] = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0]
        _, found, rest = line.partition("pip install")
        if not found:
            continue
        for token in rest.split():
            token = token.strip("\"'")
            if token and not token.startswith("-") and _REQ.match(token):
                names |= requirement_names(token)
    return names


def declared(root: Path) -> dict[str, set[str]]:
    """``{"tests": names, "benchmarks": names}``: distributions each tree may import."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    extras = project.get("optional-dependencies", {})

    def names(reqs: Iterable[str]) -> set[str]:
        return set().union(*(requirement_names(r) for r in reqs))

    tests = names(project.get("dependencies", [])) | names(extras.get("test", []))
    bench = tests | names(extras.get("bench", []))
    script = root / "benchmarks" / "install_competitors.sh"
    if script.exists():
        bench |= script_installs(script)
    return {"tests": tests, "benchmarks": bench}


def distributions_of(module: str, installed: dict[str, list[str]]) -> set[str]:
    """Normalised distribution names that may provide top-level ``module``."""
    found = {normalize(d) for d in installed.get(module, [])}
    if module in STATIC_DISTRIBUTIONS:
        found.add(normalize(STATIC_DISTRIBUTIONS[module]))
    return found or {normalize(module)}


def local_modules(root: Path, trees: Iterable[str]) -> set[str]:
    """Top-level names the repository itself provides to code under ``trees``."""
    names = {"crowdagg", *trees}
    for tree in trees:
        for p in (root / tree).rglob("*.py"):
            names.add(p.stem)
            if p.name == "__init__.py":
                names.add(p.parent.name)
    return names


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:  # bare except
        return True
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(
        (isinstance(k, ast.Name) and k.id in GUARD_EXCEPTIONS)
        or (isinstance(k, ast.Attribute) and k.attr in GUARD_EXCEPTIONS)
        for k in kinds
    )


def _is_importorskip(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    return (isinstance(f, ast.Attribute) and f.attr == "importorskip") or (
        isinstance(f, ast.Name) and f.id == "importorskip"
    )


@dataclass(frozen=True)
class Use:
    """One third-party module use: where, which top-level module, and how it is obtained."""

    path: Path
    line: int
    module: str
    guarded: bool
    how: str  # "import" or "importorskip"
    has_reason: bool = True
    name: str = ""  # the full dotted name given to importorskip


def module_uses(path: Path) -> Iterator[Use]:
    """Every absolute import and ``importorskip`` in ``path``, with its guard status."""
    tree = ast.parse(path.read_text(), filename=str(path))

    def visit(node: ast.AST, guarded: bool) -> Iterator[Use]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Use(path, node.lineno, alias.name.split(".")[0], guarded, "import")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield Use(path, node.lineno, node.module.split(".")[0], guarded, "import")
        elif _is_importorskip(node):
            arg = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "modname"),
                                                      None)
            name = arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else "<dynamic>"
            reason = any(k.arg == "reason" for k in node.keywords)
            yield Use(path, node.lineno, name.split(".")[0], True, "importorskip", reason, name)
        try_types = (ast.Try, ast.TryStar) if hasattr(ast, "TryStar") else (ast.Try,)
        if isinstance(node, try_types):
            body_guarded = guarded or any(_catches_import_error(h) for h in node.handlers)
            for child in node.body:
                yield from visit(child, body_guarded)
            for child in [*node.handlers, *node.orelse, *node.finalbody]:
                yield from visit(child, guarded)
            return
        for child in ast.iter_child_nodes(node):
            yield from visit(child, guarded)

    yield from visit(tree, False)


def problems(root: Path, trees: Iterable[str] = ("tests", "benchmarks")) -> list[str]:
    """``file:line: ...`` for every undeclared, unguarded import and reason-less importorskip."""
    trees = [t for t in trees if (root / t).is_dir()]
    allowed = declared(root)
    local = local_modules(root, trees)
    installed = md.packages_distributions()
    stdlib = set(sys.stdlib_module_names)
    where = {"tests": "the core dependencies or the test extra",
             "benchmarks": "the core dependencies, the test or bench extra, or benchmarks/install_competitors.sh"}
    out = []
    for tree in trees:
        for path in sorted((root / tree).rglob("*.py")):
            if any(part.startswith(".") for part in path.relative_to(root).parts):
                continue  # .asv environments and the like
            rel = path.relative_to(root)
            for use in module_uses(path):
                if use.how == "importorskip" and not use.has_reason:
                    out.append(f"{rel}:{use.line}: pytest.importorskip({use.name!r}) without reason=")
                if use.guarded or use.module in stdlib or use.module in local:
                    continue
                dists = distributions_of(use.module, installed)
                if not dists & allowed[tree]:
                    out.append(f"{rel}:{use.line}: imports {use.module!r} (distribution "
                               f"{' or '.join(sorted(dists))}), which is not declared in {where[tree]} "
                               f"and not guarded (try/except ImportError or pytest.importorskip(..., reason=))")
    return out


def test_third_party_imports_are_declared_or_guarded():
    found = problems(ROOT)
    assert not found, "\n".join(["undeclared third-party imports:", *found])


def test_ci_runs_the_readme_test_command():
    """``.ci/run`` is the README's test command, so CI is what a new contributor runs."""
    readme = (ROOT / "README.md").read_text().splitlines()
    (command,) = [ln.strip() for ln in readme if ln.strip().startswith('python3 -m pip install -e ".[test]"')]
    ci = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert command in ci, f".ci/run does not run the README's test command {command!r}"


# ---------------------------------------------------------------- the checker itself


def _tree(tmp_path: Path, files: dict[str, str], test_extra: str = '"pytest>=7"') -> Path:
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname = 'x'\ndependencies = ['numpy>=1.24', 'dask[distributed]>=2024.1']\n"
        f"[project.optional-dependencies]\ntest = [{test_extra}]\nbench = ['matplotlib']\n"
    )
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_checker_flags_undeclared_imports_at_any_depth(tmp_path):
    root = _tree(tmp_path, {
        "tests/helper_mod.py": "import numpy\n",
        "tests/test_a.py": (
            "import os, json\nimport numpy as np\nimport distributed\nimport helper_mod\nimport crowdagg\n"
            "from tests import helper_mod\nfrom . import x\n"
            "def f():\n    import sklearn.metrics\n"  # undeclared, inside a function
            "    from yaml import safe_load\n"  # undeclared, from-import
            "import matplotlib\n"  # bench only
        ),
        "benchmarks/b.py": "import matplotlib\nimport crowdkit\n",  # crowdkit: undeclared
    })
    found = problems(root)
    assert [p.split(": ", 1)[0] for p in found] == ["tests/test_a.py:9", "tests/test_a.py:10",
                                                   "tests/test_a.py:11", "benchmarks/b.py:2"]
    assert "scikit-learn" in found[0] and "pyyaml" in found[1] and "crowd-kit" in found[3]


def test_checker_accepts_guards_and_requires_reasons(tmp_path):
    root = _tree(tmp_path, {
        "tests/test_a.py": (
            "import pytest\n"
            "try:\n    import sklearn\nexcept ImportError:\n    sklearn = None\n"
            "try:\n    import yaml\nexcept (OSError, ModuleNotFoundError):\n    pass\n"
            "def f():\n    try:\n        import crowdkit\n    except Exception:\n        return False\n"
            "kd = pytest.importorskip('krippendorff', reason='optional cross-check')\n"
            "sm = pytest.importorskip('statsmodels.api')\n"  # no reason
            "try:\n    import attr\nexcept KeyError:\n    pass\n"  # wrong handler: not a guard
            "try:\n    pass\nexcept ImportError:\n    import bs4\n"  # the handler is not guarded
        ),
    })
    assert [p.split(": ", 1)[0] for p in problems(root)] == ["tests/test_a.py:16", "tests/test_a.py:18",
                                                            "tests/test_a.py:24"]


def test_checker_reads_the_test_extra_and_competitor_script(tmp_path):
    files = {"tests/test_a.py": "import sklearn\n", "benchmarks/b.py": "import crowdkit, nltk\n",
             "benchmarks/install_competitors.sh": 'pip install --no-deps "crowd-kit==1.4.2"\n'
                                                  "python -m pip install nltk  # light\n"}
    assert [p.split(": ", 1)[0] for p in problems(_tree(tmp_path, files))] == ["tests/test_a.py:1"]
    assert problems(_tree(tmp_path, files, test_extra="'scikit_learn>=1.2'")) == []


def test_public_submodules_resolve_after_plain_import():
    """``crowdagg.memory.set_limit`` (README) and ``crowdagg.persist.read_metadata`` (docs/pipeline.md)
    work after a bare ``import crowdagg``, in a fresh process where nothing imported them first."""
    code = ("import crowdagg, sys\n"
            "for name in sorted(crowdagg._SUBMODULES):\n"
            "    assert getattr(crowdagg, name).__name__ == 'crowdagg.' + name, name\n"
            "assert callable(crowdagg.memory.set_limit) and callable(crowdagg.persist.read_metadata)\n"
            "assert set(crowdagg._SUBMODULES) <= set(dir(crowdagg))\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
