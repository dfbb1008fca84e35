"""The reviewer's Label panel in a real JupyterLab (headless Chromium, Playwright).

A small five-class text pilot runs to its decision first (`workbench new` + confirm + run);
JupyterLab then serves its folder with the control-panel notebook. The test runs the
notebook, draws a sample in the Label panel, labels three items by clicking correct, wrong
and unsure, and checks that exactly those labels are in DuckDB (``item_labels.duckdb``) and
that the scorecard built afterwards reports the reviewer's agreement with the metric.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_lab import JOB_TIMEOUT_MS, _shot, lab, page  # noqa: F401 - fixtures
from text_data import ticket_table

from support import REPO

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REVIEWER = "reviewer@team.internal"


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A finished text pilot (its folder) holding the control-panel notebook."""
    from workbench.charter.config import load_charter
    from workbench.charter.drafted import confirm
    from workbench.new import new_text_pilot
    from workbench.steps.runner import run_pilot

    made = new_text_pilot("tickets", ticket_table(tmp_path / "tickets.csv", n=300), "category", ["body"],
                          pilots_dir=tmp_path / "pilots", owner="support-lead@team.internal")
    confirm(load_charter(made.charter), all_values=True, by=REVIEWER)
    result = run_pilot(load_charter(made.charter))
    assert result.decision is not None
    (made.folder / "notebooks").mkdir(exist_ok=True)
    shutil.copy(REPO / "notebooks" / "workbench.ipynb", made.folder / "notebooks" / "workbench.ipynb")
    return made.folder


def test_a_reviewer_labels_items_by_clicking_and_the_scorecard_reports_agreement(page, project: Path) -> None:  # noqa: F811
    from workbench.charter.config import load_charter
    from workbench.data.item_labels import item_verdicts, read_labels
    from workbench.show.scorecard import render_scorecard
    from workbench.steps.runner import project_store

    page.wait_for_selector(".jp-Notebook .jp-Cell", state="visible")
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget?.sessionContext?.session?.kernel"
                           "?.status === 'idle'", timeout=JOB_TIMEOUT_MS)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")

    panel = page.locator(".wb-label-panel").first
    panel.wait_for(state="visible", timeout=JOB_TIMEOUT_MS)
    panel.get_by_text("model(s) in the newest complete pilot run").wait_for(timeout=JOB_TIMEOUT_MS)
    reviewer = panel.locator("input[type='text']").first
    reviewer.fill(REVIEWER)
    reviewer.press("Tab")  # the widget syncs its value on change
    model = panel.locator("select").first.input_value()
    panel.locator("button", has_text="Draw sample").click()
    card = panel.locator(".wb-label-card")
    card.wait_for(timeout=JOB_TIMEOUT_MS)
    panel.get_by_text("0 of 20 labelled").wait_for()
    _shot(page, "label-panel.png", panel)

    clicked: dict[str, str] = {}
    for k, label in enumerate(("correct", "wrong", "unsure"), start=1):
        item = card.get_attribute("data-item")
        assert item and item not in clicked
        panel.locator(f".wb-label-{label}").click()
        panel.get_by_text(f"{k} of 20 labelled").wait_for()
        # the count and the card are two widget updates: the next item may render just after the count
        panel.locator(f".wb-label-card:not([data-item='{item}'])").wait_for(timeout=JOB_TIMEOUT_MS)
        clicked[item] = label
    panel.locator(".wb-label-agreement").wait_for()
    assert panel.locator(".wb-error").count() == 0

    # the clicks are in DuckDB: one row per item, this reviewer, this model's run
    charter = load_charter(project / "pilot.yaml")
    labels = read_labels(charter.warehouse_path)
    assert dict(zip(labels["item_id"], labels["label"], strict=True)) == clicked
    assert set(labels["reviewer"]) == {REVIEWER} and set(labels["candidate"]) == {model}
    run_id = labels["run_id"].iloc[0]
    verdicts = item_verdicts(charter.warehouse_path, run_id, model)
    verdict = dict(zip(verdicts["item_id"], verdicts["correct"], strict=True))
    agree = sum((lab == "correct") == bool(verdict[i]) for i, lab in clicked.items() if lab != "unsure")

    # the scorecard built afterwards reports the agreement (read at report time)
    store = project_store(charter)
    pilot = store.newest_pilot_run(charter.name, complete=True)
    html = render_scorecard(charter, store, pilot.info.run_id)
    review = html[html.index('id="review"'):]
    row = review[review.index(f"<td>{model}</td>"):].split("</tr>")[0]
    assert f"{agree / 2:.0%} ({agree} of 2)" in row
    assert '<td class="num">3</td>' in row and '<td class="num">1</td>' in row  # labelled, unsure
