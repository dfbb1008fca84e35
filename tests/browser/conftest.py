"""The browser tests' expensive set-ups, built once per worker and shared (package scope):

- ``pilot``: a finished small pilot (`workbench new` on a 1,200-row customers table, confirm,
  `workbench run`), as a dict: root, charter, data, port, stdout, store;
- ``mlflow_ui``: `workbench ui` on that pilot's store, on the port the pilot printed links for;
- ``browser``: one headless Chromium; ``page`` is a fresh context and page per test.

A test file that uses them carries ``pytest.mark.xdist_group("browser-pilot")`` so that all of
them run on one worker (tests/conftest.py) and the pilot is built once. A test that changes the
pilot (test_reports re-runs its profile step on changed data) runs after the ones that only read
it: files run in name order, test_mlflow_links before test_reports.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from browsing import WAIT_MS, customers, serve_ui, workbench
from test_lab import CHROMIUM, CHROMIUM_ARGS, _free_port, _require_browser
from workbench.store.tracking import Store


@pytest.fixture(scope="package")
def pilot(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A finished small pilot: `workbench new` then `workbench run` (GO or NO-GO)."""
    _require_browser()
    root = tmp_path_factory.mktemp("small-pilot")
    data = root / "customers.csv"
    customers().to_csv(data, index=False)
    port = _free_port()
    made = workbench("new", "small", "--data", str(data), "--target", "churned", "--dir", str(root / "pilots"),
                     port=port)
    assert made.returncode == 0, made.stdout + made.stderr
    charter = root / "pilots" / "small" / "pilot.yaml"
    # a person has checked what `new` drafted (else the pilot is a DRAFT and nothing is registered)
    confirmed = workbench("confirm", "--pilot", str(charter), "--all", port=port)
    assert confirmed.returncode == 0, confirmed.stdout + confirmed.stderr
    ran = workbench("run", "--pilot", str(charter), port=port)
    # GO, NO-GO or DRAFT (what `workbench new` guessed is unconfirmed): each is a finished pilot
    assert ran.returncode in (0, 3, 7), ran.stdout + ran.stderr
    return {"root": root, "charter": charter, "data": data, "port": port, "stdout": ran.stdout,
            "store": Store(charter.parent)}


@pytest.fixture(scope="package")
def mlflow_ui(pilot: dict) -> Iterator[str]:
    """`workbench ui` (what `make ui` runs) on the pilot's store; yields its base URL."""
    log = pilot["root"] / "ui.log"
    with serve_ui(pilot["charter"].parent / "mlruns", pilot["port"], log) as base:
        pilot["ui_output"] = log.read_text(errors="replace")
        yield base


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """One headless Chromium a worker, for every browser test: Playwright's sync API cannot be
    started again while another instance runs in the same process."""
    from playwright.sync_api import sync_playwright

    _require_browser()

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture()
def page(browser) -> Iterator:  # noqa: ANN001
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(WAIT_MS)
    try:
        yield pg
    finally:
        context.close()
