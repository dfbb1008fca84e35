"""Opening, running and saving a shipped notebook in JupyterLab leaves the repository clean.

The server is the one `make lab` starts (the repository's jupyter_server_config.py on
JUPYTER_CONFIG_PATH, jupytext pairing the .ipynb with its .pct.py). The project is a git
repository holding the shipped profile notebook and its pair as committed; after the
analyst runs every cell and saves, ``git status --porcelain`` must print nothing: no
outputs, no kernel display name, no language_info, no jupytext version in either file.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from test_lab import CHROMIUM, CHROMIUM_ARGS, JOB_TIMEOUT_MS, UI_TIMEOUT_MS, _shot, ingested, lab, project  # noqa: F401
from support import REPO

pytestmark = pytest.mark.browser

NOTEBOOK = "profile"


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args], cwd=root,
                          capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture()
def committed(ingested: Path) -> Path:  # noqa: F811
    """The ingested project as a git repository with the shipped notebook pair committed."""
    shutil.copy(REPO / "notebooks" / f"{NOTEBOOK}.pct.py", ingested / "notebooks" / f"{NOTEBOOK}.pct.py")
    shutil.copy(REPO / ".gitignore", ingested / ".gitignore")  # as the repository ignores: checkpoints, data, runs
    _git(ingested, "init", "-q")
    _git(ingested, "add", "-A")
    _git(ingested, "commit", "-q", "-m", "as shipped")
    return ingested


def test_open_run_save_leaves_git_status_clean(committed: Path, lab: str, browser) -> None:  # noqa: F811, ANN001
    saved = committed / "notebooks" / f"{NOTEBOOK}.ipynb"
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        page.goto(lab.replace("workbench.ipynb", f"{NOTEBOOK}.ipynb"), wait_until="domcontentloaded")
        page.wait_for_selector(".jp-Notebook .jp-Cell", state="visible")
        idle = ("() => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel"
                "?.status === 'idle'")
        page.wait_for_function(idle, timeout=JOB_TIMEOUT_MS)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        page.locator(".jp-OutputArea-output img[src^='data:image/png']").first.wait_for(
            state="visible", timeout=JOB_TIMEOUT_MS)
        page.wait_for_function(idle, timeout=JOB_TIMEOUT_MS)
        before = saved.stat().st_mtime_ns
        page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        deadline = time.monotonic() + 30
        while saved.stat().st_mtime_ns == before and time.monotonic() < deadline:
            time.sleep(0.3)
        assert saved.stat().st_mtime_ns != before, "the notebook was not saved"
        time.sleep(1)  # jupytext writes the pair right after the notebook
        _shot(page, "lab-saved-clean.png")
    finally:
        context.close()
    status = _git(committed, "status", "--porcelain")
    assert status == "", status + _git(committed, "diff")
