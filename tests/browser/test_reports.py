"""What a reviewer opens, in a real browser (headless Chromium): the MLflow UI on a
finished pilot, the profile report, and the scorecard.

A small real pilot in tmp_path, from `workbench new` on a customers table to a decision
(real DuckDB, Great Expectations, kernels, MLflow), served by `workbench ui` (what
`make ui` runs); the fixtures are in conftest.py, shared with test_mlflow_links.py. Then
the data changes and the profile step runs again (a partial run), so the profile report
has drift to colour. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from browsing import close_assistant as _close_assistant, frame_with as _frame_with, workbench as _workbench
from test_lab import _shot
from workbench.store.tracking import TAG, Store, ui_url

# the finished pilot, its MLflow UI and Chromium: tests/browser/conftest.py, built once for this
# file and test_mlflow_links.py (one worker)
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-pilot")]

MAX_METRIC_COLUMNS = 60  # per run (README, "What is a metric")
MAX_EXPERIMENT_COLUMNS = 75  # all runs of the pilot together: the runs table stays readable


def test_mlflow_ui_opens_on_the_pilot_with_nested_steps_few_metrics_and_notebook_figures(
        pilot: dict, mlflow_ui: str, page) -> None:
    store: Store = pilot["store"]
    exp = store.experiment_id("small", create=False)
    link = ui_url(mlflow_ui, exp)
    # `workbench run` (make pilot) and `workbench ui` (make ui) print the runs table's link
    assert link in pilot["stdout"] and link in pilot["ui_output"]
    assert link.endswith("/runs?workflowType=machine_learning")

    page.goto(link)
    pilot_row = page.get_by_text(re.compile(r"^pilot 20\S+ \S+$")).first  # a complete run (not "(partial: ...)")
    pilot_row.wait_for()
    _close_assistant(page)
    # the step runs are nested under the pilot run: hidden until it is expanded
    steps = ("ingest", "contracts", "profile", "baseline", "evaluate")
    rows = page.locator(".ag-pinned-left-cols-container [role=row]")

    def run_link(name: str):  # a run's name in the table (its link; the row's text also holds a colour code)
        return rows.locator("a", has_text=re.compile(rf"^{re.escape(name)}$"))

    assert not [s for s in steps if run_link(s).count()]
    expand = rows.filter(has=pilot_row).locator('button[data-component-id*="runnamecellrenderer"]').first
    for _attempt in range(3):  # the grid may re-render under the first click while it settles
        expand.click()
        try:
            run_link("ingest").first.wait_for(timeout=5000)
            break
        except Exception:  # noqa: BLE001 - not expanded yet: click again
            continue
    for step in steps:
        run_link(step).first.wait_for()
    _shot(page, "mlflow-runs-nested.png")

    # a few metric columns, not hundreds (the Columns picker lists every one the runs logged)
    page.get_by_role("button", name="Columns").click()
    heading = page.get_by_text(re.compile(r"^Metrics \(\d+\)$")).first
    heading.wait_for()
    shown = int(re.search(r"\d+", heading.inner_text()).group())
    runs = store.find_runs("small", max_results=500)
    logged = {k for r in runs for k in r.data.metrics}
    assert shown == len(logged) and shown <= MAX_EXPERIMENT_COLUMNS, sorted(logged)
    assert max(len(r.data.metrics) for r in runs) <= MAX_METRIC_COLUMNS
    _shot(page, "mlflow-metric-columns.png")
    page.keyboard.press("Escape")

    # the executed notebook, previewed in the UI, shows its figures as images
    complete = store.newest_pilot_run("small", complete=True)
    profile = next(r for r in store.children("small", complete.info.run_id) if r.info.run_name == "profile")
    page.goto("about:blank")  # a fresh load: the artifact viewer keeps its first preview on a hash change
    page.goto(ui_url(mlflow_ui, exp, profile.info.run_id, "notebook/profile.html"))
    preview = _frame_with(page, "Notebook")
    images = preview.locator(".jp-OutputArea-output img[src^='data:image/png']")
    images.first.wait_for()
    assert images.count() >= 1  # the histograms, an image (not the text "<Figure size ...>")
    assert not preview.get_by_text(re.compile(r"^<Figure size")).count()
    _close_assistant(page)
    images.first.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    _shot(page, "mlflow-notebook-figure.png")


def test_the_model_version_shows_its_alias_and_the_decision_behind_it(pilot: dict, mlflow_ui: str, page) -> None:
    store: Store = pilot["store"]
    version = store.client.get_model_version_by_alias("small", "champion")  # the pilot reached GO
    assert version.description and version.tags.get("workbench.decision_run") in version.description
    page.goto(f"{mlflow_ui}/#/models/small/versions/{version.version}")
    _close_assistant(page)
    page.get_by_text(re.compile(r"\bchampion\b")).first.wait_for()  # the alias, on the version's page
    page.get_by_text(re.compile(r"Decision record")).first.wait_for()  # its description links the record
    page.get_by_text(re.compile(r"Scorecard")).first.wait_for()
    record_link = page.locator(f"a[href*='{version.tags['workbench.decision_run']}/artifactPath/']").first
    record_link.wait_for()  # a link to the record, not only its run id as text
    _shot(page, "mlflow-model-version.png")
    page.goto(f"{mlflow_ui}/#/models/small")
    page.get_by_text(re.compile(r"Question:")).first.wait_for()  # the registered model: the pilot's question
    _shot(page, "mlflow-registered-model.png")


def test_profile_report_shows_every_column_with_drift_in_colour(pilot: dict, mlflow_ui: str, page) -> None:
    # the data moves: few "basic" customers left, amounts up by a quarter; profile again
    frame = pd.read_csv(pilot["data"])
    rng = np.random.default_rng(1)
    frame = frame[(frame["plan"] != "basic") | (rng.uniform(size=len(frame)) < 0.1)].copy()
    frame["amount"] = (frame["amount"] * 1.25).round(2)
    frame.to_csv(pilot["data"], index=False)
    again = _workbench("run", "--pilot", str(pilot["charter"]), "--step", "profile", port=pilot["port"])
    assert again.returncode == 0, again.stdout + again.stderr
    store: Store = pilot["store"]
    partial = store.newest_pilot_run("small", complete=False)
    assert partial.data.tags.get(TAG["partial"]) == "true" and "(partial: profile)" in partial.info.run_name
    profile = next(r for r in store.children("small", partial.info.run_id) if r.info.run_name == "profile")

    exp = store.experiment_id("small", create=False)
    page.goto(ui_url(mlflow_ui, exp, profile.info.run_id, "profile_report/customers.html"))
    report = _frame_with(page, "Profile of customers")
    _close_assistant(page)
    cards = report.locator(".card.col")
    cards.first.wait_for()
    assert cards.count() == 6  # every column: plan, visits, tenure, amount, email, churned
    text = report.locator("body").inner_text()
    for what in ("rows", "columns drifted", "largest PSI", "nulls", "distinct"):
        assert what in text
    assert report.locator(".col.drift-high").count() >= 1  # plan moved: red
    assert report.locator(".col.drift-high h3", has_text="plan").count() == 1
    assert report.locator("svg").count() >= 8  # histograms, top values, previous-vs-now charts
    # the PII column: counts only, never a value
    assert "counts only" in report.locator("#col-email").inner_text() and "@example.org" not in text
    # it opens with its alerts: the personal column among them, linked to its card
    alerts = report.locator("#alerts")
    assert alerts.locator("li[data-kind='personal'] a[href='#col-email']").count() == 1
    alerts.scroll_into_view_if_needed()
    _shot(page, "profile-alerts.png")
    report.locator(".col.drift-high").first.scroll_into_view_if_needed()
    _shot(page, "profile-report.png")


def test_scorecard_links_the_reports_and_tells_how_the_pilot_ended(pilot: dict, page) -> None:
    store: Store = pilot["store"]
    complete = store.newest_pilot_run("small", complete=True)
    card = pilot["charter"].parent / "reports" / "small" / f"{complete.info.run_id}.html"
    page.goto(card.as_uri())
    page.locator("#decision .banner").wait_for()
    text = page.locator("body").inner_text()
    assert f"{complete.info.run_id} (FINISHED" in text and "in progress" not in text
    assert page.locator("#decision .banner").inner_text().split(" —")[0] in ("GO", "NO-GO", "ALREADY CHAMPION", "DRAFT",
                                                                                 "NO BETTER THAN TODAY")
    assert "336776.0" not in text and not re.search(r"\d\.\d+e[+-]\d", text)  # readable numbers
    _shot(page, "scorecard.png")
    # in a laptop's window every table stays within its section: the gates' reasons, with their slice and
    # metric names, pushed the last column past the page's edge
    page.set_viewport_size({"width": 1024, "height": 900})
    spill = page.evaluate("""() => [...document.querySelectorAll('section table')].map(t => [
        t.closest('section').id || t.closest('section').querySelector('h2')?.textContent,
        Math.round(t.getBoundingClientRect().right - t.closest('section').getBoundingClientRect().right)])
        .filter(([, over]) => over > 0)""")
    assert spill == [], spill
    page.set_viewport_size({"width": 1500, "height": 1000})
    # this pilot's slices (about 100 held-out rows each) hold fewer than 30 rows of a class: each
    # is named as judged for clear harm only, what the slices gate asked of it
    assert re.search(r"\d+ rows of its rarest class \(under 30\): judged only for clear harm",
                     page.locator("#intervals").inner_text())

    # each candidate's evaluation report, inline
    evaluation = page.locator("#evaluation")
    evaluation.scroll_into_view_if_needed()
    inline = page.frame_locator("#evaluation details[open] iframe.report").first  # the judged candidate's
    inline.locator("text=Headline metrics").wait_for()
    assert inline.locator("text=ROC curve").count() and inline.locator("text=Slices").count()
    _shot(page, "scorecard-evaluation.png", evaluation)

    # the profile report, from the scorecard's link (a copy beside the scorecard file)
    page.locator("#profile a.report-link").first.evaluate("a => a.click()")  # a DOM click: no scroll race
    page.wait_for_url("**/profile_report/customers.html")
    assert page.title() == "Profile of customers" and page.locator(".card.col").count() == 6

    # an evaluation report on its own: curves, confusion at the threshold, slices coloured
    page.goto(card.as_uri())
    page.locator("#evaluation a.report-link").first.evaluate("a => a.click()")
    page.wait_for_url("**/evaluation/*.html")
    assert page.title().startswith("Evaluation: ") and "against baseline" in page.title()
    for section in ("ROC curve", "Precision-recall curve", "Calibration", "Confusion", "Latency",
                    "Robustness probes", "Slices"):
        assert page.get_by_text(section).count(), section
    _shot(page, "evaluation-report.png", page.get_by_text("Ranking and calibration"))
