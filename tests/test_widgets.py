"""The JupyterLab panels without a browser: real projects in tmp_path, buttons clicked
programmatically, the background jobs waited for, and what the widgets show asserted."""

from __future__ import annotations

import re
from pathlib import Path

import ipywidgets as w
import pytest

from support import PLAN_YAML, write_project
from workbench.charter.config import load_charter
from workbench.store.tracking import FINISHED, TAG, Store
from workbench.widgets import ControlPanel, contracts_html, panel, run_url, step_statuses

WAIT = 180  # seconds; a bound, not a timing assertion


def _status(cp: ControlPanel, step: str) -> str:
    return re.sub(r"<[^>]+>", "", cp.pilot.cells[step].value).strip()


@pytest.mark.slow  # runs a pilot from the panel: kernels
def test_pilot_panel_runs_one_step_then_the_pilot_and_shows_statuses(tmp_path: Path) -> None:
    charter = write_project(tmp_path)
    cp = panel(charter, mlflow_url="http://mlflow.test:5000/")
    assert isinstance(cp, ControlPanel) and isinstance(cp, w.Tab)
    assert [cp.get_title(i) for i in range(4)] == ["Pilot", "Contracts", "Runs", "Promote"]
    assert cp.wait(WAIT)
    assert {s: _status(cp, s) for s in cp.pilot.steps} == {"ingest": "not run", "contracts": "no contracts",
                                                           "measure": "not run"}
    assert "No pilot run yet" in cp.pilot.header.value

    cp.pilot.step_buttons["measure"].click()
    assert cp.pilot.run_all.disabled  # no second run while one is in flight
    assert cp.wait(WAIT)
    assert cp.pilot.error.value == ""
    assert {s: _status(cp, s) for s in cp.pilot.steps} == {"ingest": "fresh", "contracts": "no contracts",
                                                           "measure": "fresh"}
    log = cp.pilot.log_view.value
    assert "measure: running notebooks/step.ipynb" in log and "FINISHED" in log
    assert (cp.pilot.progress.value, cp.pilot.progress.max, cp.pilot.progress.bar_style) == (3, 3, "success")
    assert not cp.pilot.run_all.disabled

    result = cp.pilot.last_result
    measure = next(s for s in result.steps if s.name == "measure")
    url = run_url("http://mlflow.test:5000", result.experiment_id, measure.run_id)
    assert url in cp.pilot.links["measure"].value and url.endswith("?workflowType=machine_learning")
    assert run_url("http://mlflow.test:5000", result.experiment_id, measure.run_id, "notebook/step.html") \
        in cp.pilot.links["measure/notebook"].value
    # the notebook link points at an artifact that exists
    store = Store(tmp_path)
    assert store.download_text(measure.run_id, "notebook/step.html") is not None

    cp.pilot.run_all.click()  # unchanged: served from cache
    assert cp.wait(WAIT)
    assert _status(cp, "measure") == "cached" and _status(cp, "ingest") == "cached"
    # the cached run links to the run that executed
    assert f"/runs/{measure.run_id}/artifactPath/notebook/step.html" in cp.pilot.links["measure/notebook"].value

    # a fresh panel reads the same state back from MLflow
    _pilot_run, statuses = step_statuses(load_charter(charter), store)
    assert statuses["measure"]["status"] == "cached" and statuses["measure"]["source_run_id"] == measure.run_id


@pytest.mark.slow  # runs a pilot from the panel: a kernel
def test_a_failing_step_shows_a_red_error_and_the_failed_status(tmp_path: Path) -> None:
    charter = write_project(tmp_path, notebook_cells=("raise ValueError('the sky fell')",))
    cp = panel(charter)
    cp.pilot.run_all.click()
    assert cp.wait(WAIT)
    error = cp.pilot.error.value
    assert "wb-error" in error and "the sky fell" in error and "Fix:" in error
    assert "Traceback" not in error
    assert _status(cp, "measure") == "failed" and _status(cp, "ingest") == "fresh"
    assert cp.pilot.progress.bar_style == "danger"
    assert not cp.pilot.run_all.disabled


def test_a_broken_charter_gives_a_red_message_not_a_traceback(tmp_path: Path) -> None:
    path = write_project(tmp_path)
    path.write_text(path.read_text().replace("owner:", "ownr:"))
    shown = panel(path)
    assert not isinstance(shown, ControlPanel)
    text = shown.children[0].value
    assert "wb-error" in text and "ownr" in text and "owner" in text

    missing = panel(tmp_path / "nope.yaml")
    assert "wb-error" in missing.children[0].value


CONTRACT = """\
dataset: items
owner: data@pilot-team.internal
version: 1.0.0
columns:
  id: {type: INTEGER, nullable: false, unique: true}
  name:
    pii: true
    regex: '^item[0-3]$'
  price:
    range: {min: 0, max: 6}
"""


def test_contracts_panel_shows_every_rule_with_counts_and_masks_pii(tmp_path: Path) -> None:
    from workbench.data import warehouse

    (tmp_path / "data_contracts").mkdir()
    (tmp_path / "data_contracts" / "items.yml").write_text(CONTRACT)
    path = write_project(tmp_path)
    path.write_text(path.read_text().replace("    path: data/items.csv\n",
                                             "    path: data/items.csv\n    contract: data_contracts/items.yml\n"))
    charter = load_charter(path)
    with warehouse.writer(charter.warehouse_path) as con:
        warehouse.ingest_all(con, charter)

    cp = panel(charter)
    cp.contracts.check_button.click()
    assert cp.wait(WAIT)
    assert cp.contracts.error.value == ""
    body = cp.contracts.body.value
    assert "FAILED" in body
    for rule in ("items.id.not_null", "items.id.unique", "items.name.regex", "items.price.range"):
        assert rule in body
    # name is PII: item4 and item5 break the regex, but their values are never shown
    assert "masked (PII)" in body and "item4" not in body and "item5" not in body
    assert "2 (40.0%)" in body  # 2 of 5 names unexpected
    assert "7.5" in body  # price is not PII: its offending value is shown
    assert [len(r.failed) for r in cp.contracts.results] == [2]


def test_contracts_html_shows_quarantine_counts() -> None:
    # the rendering only: quarantining itself is tested in tests/contracts
    from workbench.data.contracts.results import ContractResult, RuleResult

    rule = RuleResult("items.price.range", "price", "range", "error", False, unexpected_count=3,
                      unexpected_percent=60.0, examples=(7.5, 9.0), on_fail="quarantine", quarantined_rows=3)
    pii = RuleResult("items.name.regex", "name", "regex", "warn", False, unexpected_count=1, masked=True)
    result = ContractResult("items", "1.0.0", "sha", "items.yml", (rule, pii), row_count=2,
                            quarantine_table="items__quarantine", quarantined_rows=3)
    html = contracts_html([result])
    assert result.passed  # every offending row was moved aside: no longer blocking
    assert "3 row(s) quarantined" in html and "items__quarantine" in html
    assert "3 (60.0%)" in html and "masked (PII)" in html and ">warn<" in html


# -- runs and promotion, on a real MLflow store holding a pilot run's layout --------------------

GATES = """\
gates:
  - {kind: threshold, metric: quality.roc_auc, op: '>=', value: 0.70}
  - {kind: vs_baseline, metric: quality.roc_auc, min_relative_improvement: 0.05}
promotion: {model_name: tiny-model}
""" + PLAN_YAML


def _pilot_layout(store: Store, pilot: str, candidates: dict[str, float], *, model: str | None = None) -> str:
    """What the runner and the evaluate notebook leave in MLflow: pilot → steps → candidates."""
    exp = pilot
    parent = store.start_run(exp, "pilot", tags={TAG["kind"]: "pilot", TAG["pilot"]: exp})

    def step(name: str, role: str) -> str:
        run = store.start_run(exp, name, parent=parent.run_id,
                              tags={TAG["kind"]: "step", TAG["step"]: name, TAG["role"]: role, TAG["cached"]: "false",
                                    TAG["cache_key"]: f"{name}-key"})
        return run.run_id

    baseline = step("measure", "baseline")
    store.log_metrics(baseline, {"quality.roc_auc": 0.66})
    store.end_run(baseline, FINISHED)
    evaluate = step("evaluate", "evaluate")
    for name, auc in candidates.items():
        c = store.start_run(exp, name, parent=evaluate,
                            tags={TAG["kind"]: "candidate", "workbench.candidate": name, TAG["step"]: "evaluate"})
        store.log_metrics(c.run_id, {"quality.roc_auc": auc})
        if name == model:
            import numpy as np
            import pandas as pd
            from sklearn.linear_model import LogisticRegression

            x = pd.DataFrame({"a": np.arange(8.0)})
            store.log_sklearn_model(c.run_id, LogisticRegression().fit(x, (x["a"] > 3).astype(int)), "model",
                                    input_example=x.head(2))
        store.end_run(c.run_id, FINISHED)
    store.log_dict(evaluate, {"findings": []}, "leakage/findings.json")  # the leakage checks found nothing
    store.end_run(evaluate, FINISHED)
    store.end_run(parent.run_id, FINISHED)
    return parent.run_id


def _gated_project(tmp_path: Path) -> Path:
    step = "  - name: evaluate\n    role: evaluate\n    notebook: notebooks/step.ipynb\n"
    path = write_project(tmp_path, extra_yaml=step + GATES)
    path.write_text(path.read_text().replace("primary_metric: demo.rows", "primary_metric: quality.roc_auc"))
    return path


def test_runs_and_promote_refuse_a_failing_candidate(tmp_path: Path) -> None:
    path = _gated_project(tmp_path)
    store = Store(tmp_path)
    _pilot_layout(store, "tiny-pilot", {"weak": 0.68, "weaker": 0.61})
    cp = panel(path)

    cp.runs.refresh_button.click()
    assert cp.wait(WAIT)
    body = cp.runs.body.value
    assert cp.runs.error.value == ""
    for label in ("baseline", "candidate weak", "candidate weaker"):
        assert label in body
    assert "0.68" in body and "0.61" in body and "0.66" in body
    assert "NO-GO" in body and body.count("FAIL") >= 2  # both gates fail for the best candidate
    assert "weak</code>" in body  # the judged candidate is named

    assert cp.promote.promote_button.disabled
    cp.promote.evaluate_button.click()
    assert cp.wait(WAIT)
    shown = cp.promote.body.value
    assert "Promotion refused" in shown and "threshold quality.roc_auc" in shown and "vs_baseline" in shown
    assert cp.promote.promote_button.disabled  # no pass, no button
    assert cp.promote.promote() is None and "refusing to promote" in cp.promote.error.value
    with pytest.raises(Exception):  # noqa: B017 - the alias was never set
        store.client.get_model_version_by_alias("tiny-model", "champion")
    assert "No decision recorded yet" in cp.promote.history.value


@pytest.mark.slow  # registers a model
def test_promote_moves_the_alias_only_after_a_passing_dry_run(tmp_path: Path) -> None:
    path = _gated_project(tmp_path)
    store = Store(tmp_path)
    pilot_run = _pilot_layout(store, "tiny-pilot", {"good": 0.80, "weak": 0.68}, model="good")
    cp = panel(path)

    cp.promote.evaluate_button.click()
    assert cp.wait(WAIT)
    assert cp.promote.error.value == ""
    assert "Dry run" in cp.promote.body.value and "GO" in cp.promote.body.value
    assert not cp.promote.promote_button.disabled
    assert cp.promote.dry.dry_run and cp.promote.dry.pilot_run_id == pilot_run

    cp.promote.promote_button.click()
    assert cp.wait(WAIT)
    decision = cp.promote.decision
    assert decision.outcome == "go" and not decision.dry_run and decision.candidate == "good"
    assert str(store.client.get_model_version_by_alias("tiny-model", "champion").version) == decision.model_version
    assert "Decision record" in cp.promote.body.value and decision.decision_run_id[:8] in cp.promote.body.value
    assert "GO" in cp.promote.history.value and "good" in cp.promote.history.value
    assert cp.promote.promote_button.disabled  # evaluate again before another move

    cp.runs.refresh_button.click()  # the champion now appears beside the candidates
    assert cp.wait(WAIT)
    assert f"champion v{decision.model_version}" in cp.runs.body.value


@pytest.mark.slow  # runs pilots: kernels
def test_a_partial_run_never_replaces_the_complete_one_and_statuses_match_what_ran(tmp_path: Path,
                                                                                  monkeypatch) -> None:
    from workbench.decide.promotion import promote
    from workbench.show.scorecard import SCORECARD_ARTIFACT

    monkeypatch.setenv("UI_PORT", "5123")  # links follow the port `make ui` serves on
    path = _gated_project(tmp_path)
    charter = load_charter(path)
    store = Store(tmp_path)
    only_partial = tmp_path / "other"
    other = _gated_project(only_partial)

    # before any complete run: the tabs say so, and how to get one
    lone = Store(only_partial).start_run("tiny-pilot", "pilot (partial: measure)",
                                         tags={TAG["kind"]: "pilot", TAG["partial"]: "true"})
    Store(only_partial).end_run(lone.run_id, FINISHED)
    cp = panel(other)
    cp.runs.refresh_button.click()
    assert cp.wait(WAIT)
    assert "no complete finished pilot run" in cp.runs.error.value and "Run pilot" in cp.runs.error.value

    # a complete pilot run that promoted and wrote its scorecard, as the runner leaves it
    complete = _pilot_layout(store, "tiny-pilot", {"good": 0.80}, model="good")
    assert promote(charter, store, complete).outcome == "go"
    store.log_text(complete, "<html></html>", SCORECARD_ARTIFACT)
    _run, statuses = step_statuses(charter, store)
    assert statuses["promote"]["status"] == "GO" and statuses["report"]["status"] == "written"
    assert statuses["report"]["notebook"] == SCORECARD_ARTIFACT

    # then "Run step": a newer pilot run of one step, tagged partial
    partial = store.start_run("tiny-pilot", "pilot (partial: measure)", tags={TAG["kind"]: "pilot",
                                                                            TAG["partial"]: "true"})
    store.end_run(partial.run_id, FINISHED)
    cp = panel(path)
    assert cp.wait(WAIT)
    header = cp.pilot.header.value
    assert partial.run_id[:8] in header and "partial" in header and "127.0.0.1:5123/#/experiments/" in header
    assert "runs?workflowType=machine_learning" in header
    cp.runs.refresh_button.click()
    cp.promote.evaluate_button.click()
    assert cp.wait(WAIT)
    assert cp.runs.error.value == "" and cp.promote.error.value == ""
    assert complete[:8] in cp.runs.body.value and cp.promote.dry.pilot_run_id == complete
    # one name per outcome: the badge, the history and the summary agree
    assert cp.promote.dry.outcome == "already-champion"
    assert "ALREADY CHAMPION" in cp.promote.body.value and "ALREADY-CHAMPION" not in cp.promote.body.value
    assert "GO (already champion)" not in cp.promote.body.value
    assert "0.8" in cp.runs.body.value and "0.800" not in cp.runs.body.value


def test_runs_panel_shows_intervals_and_a_tie_as_no_better(tmp_path: Path) -> None:
    path = _gated_project(tmp_path)
    store = Store(tmp_path)
    _pilot_layout(store, "tiny-pilot", {"tied": 0.75})
    run = next(r for r in store.find_runs("tiny-pilot", max_results=100) if r.info.run_name == "tied")
    store.log_metrics(run.info.run_id, {"compare.baseline.roc_auc.diff": 0.09, "compare.baseline.roc_auc.ci_low": 0.01,
                                        "compare.baseline.roc_auc.ci_high": 0.17})  # the 5 % margin (0.033) inside
    cp = panel(path)
    cp.runs.refresh_button.click()
    assert cp.wait(WAIT)
    body = cp.runs.body.value
    assert "vs today +0.09 [+0.01, +0.17]" in body
    assert "NO BETTER THAN TODAY" in body and "TIE" in body and "no better than today" in body
    cp.promote.evaluate_button.click()
    assert cp.wait(WAIT)
    assert "No better than today" in cp.promote.body.value and cp.promote.promote_button.disabled
