"""The control panel in a real JupyterLab, driven by headless Chromium (Playwright).

Starts JupyterLab on 127.0.0.1 (a free port, token auth) over a copy of a tiny project
holding the control-panel notebook, opens it in Debian's Chromium, runs the panel cell,
checks the widgets really rendered (not just ``Tab(...)`` as text), clicks "Run step"
and "Check contracts", and asserts what the page shows. Screenshots go to
``test-artifacts/``.

Chromium comes from Debian (``.ci/install-browser``); Playwright's own browser download
is not possible here, so it drives ``/usr/bin/chromium`` through ``executable_path``.
Without Chromium the test skips, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import REPO, write_project

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
START_TIMEOUT = 90  # seconds for JupyterLab to answer
UI_TIMEOUT_MS = 60_000  # per wait in the page
JOB_TIMEOUT_MS = 240_000  # a pilot step or contract check, run by the kernel

CONTRACT = """\
dataset: items
owner: data@pilot-team.internal
version: 1.0.0
columns:
  id: {type: INTEGER, nullable: false, unique: true}
  name:
    pii: true
    regex: {pattern: '^item[0-3]$', severity: warn}
  price:
    range: {min: 0, max: 6, severity: warn}
"""


def _require_browser() -> None:
    """Skip without Chromium or Playwright, unless CI=true: there, missing them is a failure."""
    missing = []
    if not CHROMIUM.is_file():
        missing.append(f"Chromium ({CHROMIUM})")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package")
    if not missing:
        return
    reason = f"{' and '.join(missing)} not installed; run .ci/install-browser"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A tiny real project with a contract and the control-panel notebook."""
    root = tmp_path / "project"
    (root / "data_contracts").mkdir(parents=True)
    (root / "data_contracts" / "items.yml").write_text(CONTRACT)
    charter = write_project(root)
    charter.write_text(charter.read_text().replace(
        "    path: data/items.csv\n", "    path: data/items.csv\n    contract: data_contracts/items.yml\n"))
    shutil.copy(REPO / "notebooks" / "workbench.ipynb", root / "notebooks" / "workbench.ipynb")
    return root


@pytest.fixture()
def lab(project: Path, tmp_path: Path) -> Iterator[str]:
    """JupyterLab serving the project; yields its base URL; stopped (with its kernels) after."""
    _require_browser()
    port, token = _free_port(), "wb-test-token"
    # a user's settings of its own, empty: the news prompt stays away by the project's settings alone
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces"), "GX_ANALYTICS_ENABLED": "False",
           "MLFLOW_DISABLE_TELEMETRY": "true", "JUPYTER_RUNTIME_DIR": str(tmp_path / "lab-runtime"),
           # as `make lab`: the repository's jupyter_server_config.py (saves without outputs)
           "JUPYTER_CONFIG_PATH": str(REPO)}
    log = (tmp_path / "lab.log").open("wb")
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={project}", "--ServerApp.port_retries=0",
           "--LabApp.expose_app_in_browser=True", *(["--allow-root"] if os.geteuid() == 0 else [])]
    proc = subprocess.Popen(cmd, cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not start (exit {proc.poll()}); its log:\n"
                                   + (tmp_path / "lab.log").read_text(errors="replace")[-3000:])
            time.sleep(0.5)
        yield f"{base}/lab/tree/notebooks/workbench.ipynb?token={token}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the server shuts its kernels down
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        try:  # kernels left in the group (they get their own sessions only when asked)
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        log.close()


@pytest.fixture()
def page(lab: str, tmp_path: Path, browser) -> Iterator:  # noqa: ANN001 - conftest.py's one Chromium
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        pg = context.new_page()
        pg.set_default_timeout(UI_TIMEOUT_MS)
        pg.goto(lab, wait_until="domcontentloaded")
        yield pg
    finally:
        context.close()


def _shot(page, name: str, show=None) -> Path:
    """A screenshot in test-artifacts/, with ``show`` (a locator) scrolled into view first."""
    ARTIFACTS.mkdir(exist_ok=True)
    if show is not None:
        show.scroll_into_view_if_needed()
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    return path


def test_control_panel_renders_runs_a_step_and_checks_contracts(page, project: Path) -> None:
    # the notebook is open and its kernel is ready
    page.wait_for_selector(".jp-Notebook .jp-Cell", state="visible")
    page.wait_for_function("() => window.jupyterapp && document.querySelector('.jp-Notebook')")
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel"
                           "?.status === 'idle'", timeout=JOB_TIMEOUT_MS)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")

    # the widget rendered: a real tab bar with the four panels, not the text "ControlPanel(...)"
    tab = page.locator(".jp-OutputArea-output .widget-tab").first
    tab.wait_for(state="visible", timeout=JOB_TIMEOUT_MS)
    for title in ("Pilot", "Contracts", "Runs", "Promote"):
        assert tab.locator(".lm-TabBar-tab", has_text=title).count() == 1
    assert page.get_by_text("official Jupyter news").count() == 0  # JupyterLab's prompt over the panel
    pilot = tab.locator(".jupyter-widgets", has_text="Run pilot").first
    pilot.get_by_text("No pilot run yet").wait_for(timeout=JOB_TIMEOUT_MS)
    assert pilot.locator("button", has_text="Run step").count() == 1  # one notebook step: measure
    _shot(page, "control-panel-initial.png", tab)

    # run one step: progress streams in, then the statuses come back from MLflow
    pilot.locator("button", has_text="Run step").click()
    pilot.get_by_text("FINISHED", exact=False).first.wait_for(timeout=JOB_TIMEOUT_MS)
    pilot.locator("text=measure: done in").wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('.widget-tab .widget-html span')]"
                           ".some(e => e.textContent.trim() === 'fresh')", timeout=UI_TIMEOUT_MS)
    # the links come with the statuses read back from MLflow once the job ends, which can be
    # after the runner's own "FINISHED" line and the step's badge (both streamed while it runs)
    pilot.locator("a[href*='/#/experiments/']").nth(2).wait_for(timeout=UI_TIMEOUT_MS)
    assert pilot.locator("a[href*='/#/experiments/']").count() >= 3  # pilot run + step run + notebook
    assert pilot.locator(".wb-error").count() == 0
    _shot(page, "control-panel-pilot-step.png", pilot.locator("pre").first)

    # contracts: every rule with its result; the PII column's values never shown
    tab.locator(".lm-TabBar-tab", has_text="Contracts").click()
    contracts = tab.locator(".jupyter-widgets", has_text="Check contracts").first
    contracts.locator("button", has_text="Check contracts").click()
    contracts.get_by_text("items.name.regex").wait_for(timeout=JOB_TIMEOUT_MS)
    text = contracts.inner_text()
    assert "masked (PII)" in text and "item4" not in text
    assert "items.price.range" in text and "7.5" in text
    assert "PASSED" in text  # the failing rules are warnings
    _shot(page, "control-panel-contracts.png", contracts.locator("table").last)

    # saved from JupyterLab as under `make lab`: no outputs and no widget state reach the file
    saved = project / "notebooks" / "workbench.ipynb"
    before = saved.stat().st_mtime_ns
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    deadline = time.monotonic() + 30
    while saved.stat().st_mtime_ns == before and time.monotonic() < deadline:
        time.sleep(0.3)
    import json

    nb = json.loads(saved.read_text(encoding="utf-8"))
    assert saved.stat().st_mtime_ns != before, "the notebook was not saved"
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")
    assert "widgets" not in nb["metadata"] and "language_info" not in nb["metadata"]


@pytest.fixture()
def ingested(project: Path) -> Path:
    """The project with its warehouse loaded and the shipped profile notebook beside the panel."""
    shutil.copy(REPO / "notebooks" / "profile.ipynb", project / "notebooks" / "profile.ipynb")
    done = subprocess.run([sys.executable, "-m", "workbench.cli", "ingest", "--pilot", str(project / "pilot.yaml")],
                          cwd=project, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return project


def test_the_profile_notebook_opened_by_hand_shows_its_figures_as_images(ingested: Path, lab: str, browser) -> None:
    """An analyst opens notebooks/profile.ipynb in JupyterLab and runs it: the figures are
    images (the session registers the PNG formatter), not the text ``<Figure size ...>``,
    and the personal column's values appear nowhere on the page."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        page.goto(lab.replace("workbench.ipynb", "profile.ipynb"), wait_until="domcontentloaded")
        page.wait_for_selector(".jp-Notebook .jp-Cell", state="visible")
        page.wait_for_function("() => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel"
                               "?.status === 'idle'", timeout=JOB_TIMEOUT_MS)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        image = page.locator(".jp-OutputArea-output img[src^='data:image/png']").first
        image.wait_for(state="visible", timeout=JOB_TIMEOUT_MS)
        page.wait_for_function("() => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel"
                               "?.status === 'idle'", timeout=JOB_TIMEOUT_MS)
        outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
        assert not [t for t in outputs if "<Figure size" in t], "a figure shown as text"
        assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
                            ).filter(has_text="Error").count() == 0
        text = page.locator(".jp-Notebook").inner_text()
        assert "item3" not in text  # `name` is pii: true in the contract: counts only
        _shot(page, "lab-profile-figures.png", image)
    finally:
        context.close()
