"""Committed notebooks are reviewable: paired with jupytext, outputs stripped, in sync."""

from __future__ import annotations

from pathlib import Path

import jupytext
import pytest

from support import REPO
from workbench.notebooks import read_parameters

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def _cells(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_there_are_notebooks() -> None:
    assert {p.stem for p in NOTEBOOKS} >= {"profile", "baseline", "evaluate"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_paired_py_percent_file_is_in_sync(path: Path) -> None:
    paired = path.with_suffix(".pct.py")
    assert paired.is_file(), f"{path.name} has no jupytext pair; run `jupytext --set-formats ipynb,.pct.py:percent {path}`"
    ipynb = jupytext.read(path)
    py = jupytext.read(paired)
    assert _cells(ipynb) == _cells(py), f"{path.name} and {paired.name} differ; run `jupytext --sync {path}`"
    tags = [c.metadata.get("tags", []) for c in py.cells]
    assert ["parameters"] in tags


def test_no_python_file_in_notebooks_can_shadow_a_module() -> None:
    # a kernel's cwd is the notebook's folder: `profile.py` there would shadow the stdlib's
    # `profile`, `workbench.py` the package itself; pairs are named `<name>.pct.py`
    plain = [p.name for p in (REPO / "notebooks").glob("*.py") if not p.name.endswith(".pct.py")]
    assert plain == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_are_stripped(path: Path) -> None:
    nb = jupytext.read(path)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.get("outputs", []) == [], f"{path.name} cell {i + 1} has outputs; clear them before committing"
            assert cell.get("execution_count") is None


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.stem != "workbench"], ids=lambda p: p.name)
def test_step_notebooks_declare_the_injected_parameters(path: Path) -> None:
    declared = read_parameters(path).defaults
    assert {"run_id", "tracking_uri", "warehouse"} <= set(declared)
