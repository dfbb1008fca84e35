"""The parameters cell, strict parameter checks and the source hash, without kernels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support import write_notebook
from workbench.errors import ParameterError
from workbench.steps.notebooks import check_parameters, read_parameters, source_hash


def test_reads_declared_names_and_literal_defaults(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "n.ipynb", "run_id = None\nbins: int = 20\ntables = ['a', 'b']\n", "x = 1")
    params = read_parameters(nb)
    assert params.defaults == {"run_id": None, "bins": 20, "tables": ["a", "b"]}
    assert params.cell_index == 0


def test_unknown_parameter_lists_valid_names_and_suggests(tmp_path: Path) -> None:
    params = read_parameters(write_notebook(tmp_path / "n.ipynb", "bins = 20\nthreshold = 0.2\n"))
    with pytest.raises(ParameterError) as info:
        check_parameters(params, {"treshold": 0.3}, step="profile")
    msg = str(info.value)
    assert "'treshold' (did you mean 'threshold'?)" in msg
    assert "valid names: bins, threshold" in msg
    assert "parameters cell (cell 1)" in msg


def test_wrong_type_is_refused_but_int_for_float_is_fine(tmp_path: Path) -> None:
    params = read_parameters(write_notebook(tmp_path / "n.ipynb", "bins = 20\nthreshold = 0.2\nname = 'x'\n"))
    check_parameters(params, {"threshold": 1, "bins": 5}, step="s")
    with pytest.raises(ParameterError, match="'bins' should be int"):
        check_parameters(params, {"bins": "twenty"}, step="s")
    with pytest.raises(ParameterError, match="'bins' should be int"):
        check_parameters(params, {"bins": True}, step="s")


def test_notebook_without_parameters_cell_is_refused(tmp_path: Path) -> None:
    path = write_notebook(tmp_path / "n.ipynb", "x = 1")
    nb = json.loads(path.read_text())
    nb["cells"][0]["metadata"]["tags"] = []
    path.write_text(json.dumps(nb))
    with pytest.raises(ParameterError, match="tagged `parameters`"):
        read_parameters(path)


def test_source_hash_ignores_outputs_but_not_code(tmp_path: Path) -> None:
    path = write_notebook(tmp_path / "n.ipynb", "a = 1", "print(a)")
    first = source_hash(path)
    nb = json.loads(path.read_text())
    nb["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "1\n"}]
    nb["cells"][1]["execution_count"] = 3
    path.write_text(json.dumps(nb))
    assert source_hash(path) == first
    nb["cells"][1]["source"] = "print(a + 1)"
    path.write_text(json.dumps(nb))
    assert source_hash(path) != first
