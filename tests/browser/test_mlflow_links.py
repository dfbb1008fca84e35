"""Links a reviewer follows, in a real browser (headless Chromium), on the small pilot of
tests/browser/conftest.py (shared with test_reports): the link `make ui` prints opens the runs
table with the pilot's headline metric columns; the scorecard's links answer from
``reports/``, from the MLflow artifact preview, and under another host and port.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import pytest

from test_lab import _free_port, _shot
from browsing import WAIT_MS, close_assistant as _close_assistant, frame_with as _frame_with, serve_ui
from workbench.show.scorecard import SCORECARD_ARTIFACT
from workbench.steps.runner import headline_metrics
from workbench.charter.config import load_charter
from workbench.store.column_widths import RUN_NAME_COLUMN, metric_column
from workbench.store.tracking import Store, ui_url

# the pilot, its UI and Chromium are conftest.py's, shared with test_reports.py on one worker
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-pilot")]


@pytest.fixture(scope="module")
def other_ui(pilot: dict) -> Iterator[str]:
    """A second `workbench ui` on the same store, on a port the pilot never saw."""
    with serve_ui(pilot["charter"].parent / "mlruns", _free_port(), pilot["root"] / "ui-other.log") as base:
        yield base


def test_the_printed_link_shows_the_headline_metric_columns_newest_first(pilot: dict, mlflow_ui: str, page) -> None:
    store: Store = pilot["store"]
    exp = store.experiment_id("small", create=False)
    printed = re.search(r"MLflow UI, pilot small: (\S+)", pilot["ui_output"])
    assert printed, pilot["ui_output"]
    link = printed.group(1)
    # printed only once the server answered its health check (not while it was still starting)
    assert pilot["ui_output"].index("GET /health") < pilot["ui_output"].index("MLflow UI, pilot small")
    assert link.startswith(ui_url(mlflow_ui, exp)) and "viewStateShareKey=" in link
    page.goto(link)
    _close_assistant(page)
    charter = load_charter(pilot["charter"])
    shown = headline_metrics(charter)[:3]
    for metric in shown:
        page.locator(".ag-header-cell", has_text=metric).first.wait_for()
    assert page.get_by_text("share key", exact=False).count() == 0  # the saved view loaded
    # newest first: the newest pilot run's row comes before any older one
    names = page.locator(".ag-pinned-left-cols-container [role=row] a").all_inner_texts()
    pilots = [n for n in names if n.startswith("pilot ")]
    assert pilots == sorted(pilots, reverse=True), pilots
    _shot(page, "mlflow-runs-headline-columns.png")

    # the story in MLflow: the pilot run's description states the outcome and links the scorecard
    # and the decision record; every candidate has a description and its datasets
    complete = store.newest_pilot_run("small", complete=True)
    note = complete.data.tags["mlflow.note.content"]
    assert note.startswith("**Outcome: ") and SCORECARD_ARTIFACT in note and "decision/decision.json" in note
    evaluate = next(r for r in store.children("small", complete.info.run_id) if r.info.run_name == "evaluate")
    candidates = store.children("small", evaluate.info.run_id)
    assert candidates
    for run in candidates:
        run = store.client.get_run(run.info.run_id)
        assert run.data.tags.get("mlflow.note.content")
        contexts = {next(t.value for t in d.tags if t.key == "mlflow.data.context"): d.dataset
                    for d in run.inputs.dataset_inputs}
        assert set(contexts) == {"training", "held-out"}, contexts
        assert all(len(d.digest) == 16 and '"num_rows"' in d.profile for d in contexts.values())


# the elements of a cell whose text does not fit (an ellipsis or a clip); 1-px wide ones are
# the visually hidden labels for screen readers
_CUT = """cell => [...cell.querySelectorAll('*')]
  .filter(e => e.clientWidth > 1 && e.scrollWidth > e.clientWidth + 1)
  .map(e => `${e.tagName}.${e.className}: ${e.scrollWidth} > ${e.clientWidth}`)"""


def test_the_printed_link_shows_run_names_and_headline_headers_in_full_at_1440_px(
        pilot: dict, mlflow_ui: str, browser) -> None:  # noqa: F811
    link = re.search(r"MLflow UI, pilot small: (\S+)", pilot["ui_output"]).group(1)
    metrics = headline_metrics(load_charter(pilot["charter"]))
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    try:
        page.goto(link)
        page.locator(f'.ag-header-cell[col-id="{metric_column(metrics[0])}"]').wait_for()
        _close_assistant(page)
        # every run's name, nested ones included: expand each parent (steps, candidates, the decision)
        rows = page.locator(".ag-pinned-left-cols-container [role=row]")
        expanded: set[str] = set()
        for _round in range(4):  # a parent's children appear once it is expanded: one level a round
            for i in range(rows.count()):
                row = rows.nth(i)
                expander = row.locator('button[data-component-id*="runnamecellrenderer"]')
                with contextlib.suppress(Exception):  # the grid may re-render under a click
                    name = row.locator("a").first.inner_text(timeout=2000)
                    if expander.count() and name not in expanded:
                        expander.first.click(timeout=3000)
                        expanded.add(name)
            page.wait_for_timeout(1500)
        names = page.locator(f'.ag-pinned-left-cols-container [col-id="{RUN_NAME_COLUMN}"]')
        shown = names.locator("a").all_inner_texts()
        assert expanded and len(shown) > 2 and any(n.startswith("pilot ") for n in shown), shown
        for i in range(names.count()):
            cell = names.nth(i)
            assert cell.evaluate(_CUT) == [], cell.inner_text()
            name_box, cell_box = cell.locator("a").bounding_box(), cell.bounding_box()
            assert name_box["x"] + name_box["width"] <= cell_box["x"] + cell_box["width"], cell.inner_text()

        # the headline headers, in the story's order (primary metric first), none cut short
        grid = page.locator(".ag-body-viewport").bounding_box()
        xs = []
        for metric in metrics:
            header = page.locator(f'.ag-header-cell[col-id="{metric_column(metric)}"]')
            if not header.count():  # beyond the screen's right edge: the grid renders it once scrolled to
                page.locator(".ag-body-horizontal-scroll-viewport").evaluate("e => { e.scrollLeft += 400; }")
            header.wait_for()
            assert header.inner_text().strip() == metric
            assert header.evaluate(_CUT) == [], metric
            xs.append(header.bounding_box()["x"] + page.locator(".ag-body-horizontal-scroll-viewport").evaluate(
                "e => e.scrollLeft"))
        assert xs == sorted(xs), dict(zip(metrics, xs))
        page.locator(".ag-body-horizontal-scroll-viewport").evaluate("e => { e.scrollLeft = 0; }")
        # at 1440 px the primary metric and today's value of it are on screen without scrolling
        for metric in metrics[:2]:
            box = page.locator(f'.ag-header-cell[col-id="{metric_column(metric)}"]').bounding_box()
            assert box["x"] + box["width"] <= grid["x"] + grid["width"], (metric, box, grid)
        _shot(page, "mlflow-runs-names-in-full-1440.png")
    finally:
        context.close()


def _ui_hrefs(frame) -> list[str]:
    return frame.eval_on_selector_all("a[data-ui]", "els => els.map(a => a.href)")


def test_scorecard_links_answer_from_reports_from_the_preview_and_under_another_port(
        pilot: dict, other_ui: str, page) -> None:
    store: Store = pilot["store"]
    complete = store.newest_pilot_run("small", complete=True)
    exp = complete.info.experiment_id
    card = pilot["charter"].parent / "reports" / "small" / f"{complete.info.run_id}.html"

    # from reports/: the UI the pilot knew, or the one the address names
    page.goto(card.as_uri())
    hrefs = _ui_hrefs(page)
    assert hrefs and all(h.startswith(f"http://127.0.0.1:{pilot['port']}/#/experiments/{exp}") for h in hrefs)
    page.goto(card.as_uri() + "?mlflow=" + other_ui)
    hrefs = _ui_hrefs(page)
    assert hrefs and all(h.startswith(other_ui + "/#/experiments/") for h in hrefs), hrefs

    # inside the MLflow preview of a UI on another port: every link goes to that UI
    page.goto(ui_url(other_ui, exp, complete.info.run_id, SCORECARD_ARTIFACT))
    preview = _frame_with(page, "Scorecard")
    preview.locator("#decision").wait_for()
    hrefs = _ui_hrefs(preview)
    assert hrefs and all(h.startswith(other_ui + "/#/experiments/") for h in hrefs), hrefs
    copies = preview.eval_on_selector_all("a.report-link", "els => els.map(a => a.href)")
    assert copies and all(h.startswith(other_ui + "/#/experiments/") for h in copies), copies
    assert preview.locator(".wb-preview-note").first.is_visible()
    _close_assistant(page)
    _shot(page, "scorecard-in-mlflow-preview.png")

    # and they answer: the pilot run's page opens in the UI
    run_link = next(h for h in hrefs if complete.info.run_id in h)
    page.goto("about:blank")
    page.goto(run_link)
    page.get_by_text(complete.info.run_name).first.wait_for()
