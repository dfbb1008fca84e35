"""No step stores more than its output cap: a notebook that prints 50 MB stores the head
and the tail of it, with a line saying what was cut."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from support import LOGGING_CELL, write_project
from workbench.charter.config import load_charter
from workbench.steps.output_cap import MB, cap_notebook
from workbench.steps.runner import run_pilot


def _notebook(path: Path, *texts: str) -> Path:
    nb = nbformat.v4.new_notebook()
    for text in texts:
        cell = nbformat.v4.new_code_cell("print(...)")
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        nb.cells.append(cell)
    nbformat.write(nb, str(path))
    return path


def test_a_cell_over_its_cap_keeps_head_and_tail_and_says_what_was_cut(tmp_path: Path) -> None:
    big = "HEAD" + "x" * (3 * MB) + "TAIL"
    path = _notebook(tmp_path / "nb.ipynb", "small output\n", big)
    cut = cap_notebook(path, cell_mb=1, step_mb=20)
    assert cut.cells == (1,) and cut.bytes_cut > 2 * MB
    nb = json.loads(path.read_text())
    kept = "".join(nb["cells"][1]["outputs"][0]["text"])
    assert kept.startswith("HEAD") and kept.endswith("TAIL") and len(kept) <= MB
    assert "MB of output cut here" in kept and "max_cell_output_mb" in kept
    assert "".join(nb["cells"][0]["outputs"][0]["text"]) == "small output\n"
    assert nb["metadata"]["workbench"]["output_cut"]["cells"] == [1]


def test_the_step_cap_shares_out_between_cells(tmp_path: Path) -> None:
    path = _notebook(tmp_path / "nb.ipynb", *["y" * (MB // 2)] * 6)
    cap_notebook(path, cell_mb=1, step_mb=2)
    assert path.stat().st_size < 2.2 * MB


@pytest.mark.slow
def test_a_50_mb_print_stores_under_the_cap(tmp_path: Path) -> None:
    charter = write_project(tmp_path, notebook_cells=(LOGGING_CELL, "print('HEAD' + 'x' * 50_000_000 + 'TAIL')"))
    result = run_pilot(load_charter(charter))
    assert result.status == "FINISHED"
    stored = [p for p in (tmp_path / "mlruns" / "artifacts").rglob("*") if p.is_file()]
    notebooks = [p for p in stored if p.suffix in (".ipynb", ".html")]
    assert {p.suffix for p in notebooks} == {".ipynb", ".html"}
    assert sum(p.stat().st_size for p in stored) < 2 * 2.5 * MB  # the .ipynb and its HTML, 2 MB a cell each
    text = next(p for p in notebooks if p.suffix == ".ipynb").read_text()
    assert "HEAD" in text and "TAIL" in text and "MB of output cut here" in text
