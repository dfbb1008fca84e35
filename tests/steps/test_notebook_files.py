"""Committed notebooks are reviewable: paired with jupytext, outputs stripped, in sync."""

from __future__ import annotations

import json
from pathlib import Path

import jupytext
import pytest

from support import REPO
from workbench.steps.notebooks import read_parameters

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


def test_make_lab_saves_notebooks_without_outputs_or_widget_state() -> None:
    # jupyter_server_config.py (on JUPYTER_CONFIG_PATH under `make lab`): its pre-save hook
    config = _lab_config()
    hook = config.ContentsManager.pre_save_hook
    nb = json.loads((REPO / "notebooks" / "workbench.ipynb").read_text())
    committed = json.loads(json.dumps(nb))
    nb["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"x": {}}}}
    nb["metadata"]["language_info"] = {"name": "python", "version": "3.11.2"}
    nb["metadata"]["kernelspec"]["display_name"] = "Python 3 (ipykernel)"  # as JupyterLab 4 names it
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = [{"output_type": "display_data", "data": {"text/plain": "Tab(...)"}, "metadata": {}}]
            cell["execution_count"] = 7
            cell["metadata"]["execution"] = {"iopub.status.busy": "2026-11-22T00:00:00Z"}
    hook(model={"type": "notebook", "content": nb}, path="notebooks/workbench.ipynb", contents_manager=None)
    assert nb == committed  # what `make lab` writes is what the repository holds
    text = {"type": "file", "content": "print(1)\n"}
    hook(model=text, path="x.py", contents_manager=None)
    assert text == {"type": "file", "content": "print(1)\n"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_pairs_carry_no_kernel_or_jupytext_version(path: Path) -> None:
    # what differs from one JupyterLab or jupytext to the next stays out of the .pct.py, so saving
    # in `make lab` rewrites nothing (tests/browser/test_lab_clean.py checks it in a real browser)
    header = path.with_suffix(".pct.py").read_text(encoding="utf-8").split("# ---", 2)[1]
    keys = {line.strip("# ").split(":")[0] for line in header.splitlines()}
    assert not keys & {"kernelspec", "display_name", "jupytext_version"}, f"run `jupytext --sync {path}`"


def _lab_config() -> object:
    """What jupyter_server_config.py sets, read as Jupyter reads it (a traitlets Config)."""
    import runpy

    from traitlets.config import Config

    config = Config()
    runpy.run_path(str(REPO / "jupyter_server_config.py"), init_globals={"get_config": lambda: config})
    return config


def test_make_lab_asks_nothing_about_jupyter_news() -> None:
    """JupyterLab's first-run prompt ("Would you like to get notified about official Jupyter
    news?") sat over the control panel's right edge. `make lab` points JupyterLab's application
    settings at jupyterlab_settings/: news and update checks off, read by JupyterLab's own
    loader against the installed schema."""
    import sys

    from jupyterlab_server.settings_utils import _get_overrides

    overrides, error = _get_overrides(str(_lab_config().LabApp.app_settings_dir))
    assert error == "", error
    notification = overrides["@jupyterlab/apputils-extension:notification"]
    assert notification == {"fetchNews": "false", "checkForUpdates": False}
    schema = json.loads((Path(sys.prefix) / "share" / "jupyter" / "lab" / "schemas" / "@jupyterlab"
                         / "apputils-extension" / "notification.json").read_text())
    never = [o["const"] for o in schema["properties"]["fetchNews"]["oneOf"] if o.get("title") == "Never"]
    assert never == ["false"] and schema["properties"]["checkForUpdates"]["type"] == "boolean"

