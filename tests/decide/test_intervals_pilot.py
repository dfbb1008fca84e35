"""End to end with the shipped notebooks: too few held-out rows cannot GO, and a candidate
equal to today's rule is "no better than today" (exit 3), never settled by order."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.charter.config import load_charter
from workbench.errors import EXIT_NO_GO
from workbench.measure import stats
from workbench.new import new_pilot
from workbench.steps.runner import outcome_of, project_store, run_pilot

pytestmark = pytest.mark.slow


def _table(path: Path, rows: int, seed: int = 3) -> Path:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"amount": rng.normal(50, 15, rows).round(2), "visits": rng.integers(0, 30, rows)})
    frame["bought"] = (rng.random(rows) < 1 / (1 + np.exp(-(frame["amount"] - 50) / 8))).astype(int)
    frame.to_csv(path, index=False)
    return path


def _gates(decision) -> dict:
    return {g.kind: g for g in decision.gates}


def test_45_held_out_rows_cannot_go_and_the_message_names_the_minimum(tmp_path: Path) -> None:
    made = new_pilot("small", _table(tmp_path / "small.csv", 180), "bought", pilots_dir=tmp_path)
    charter = load_charter(made.charter)
    decision = run_pilot(charter).decision
    assert decision.outcome == "no-go" and decision.exit_code == EXIT_NO_GO
    size = _gates(decision)["sample_size"]
    assert not size.passed and size.measured == 45
    assert f"45 held-out row(s), at least {stats.MIN_ROWS} needed: {stats.MIN_ROWS - 45} more" in size.reason
    assert f"- {{kind: sample_size" in size.reason  # and how to change the minimum
    # the candidate's run carries the counts the gate read, and its paired comparison
    store = project_store(charter)
    (cand,) = [r for r in store.find_runs(charter.name, max_results=100) if r.info.run_name == decision.candidate]
    assert cand.data.metrics["heldout.rows"] == 45
    assert cand.data.metrics["compare.baseline.roc_auc.ci_low"] <= cand.data.metrics["compare.baseline.roc_auc.diff"]


def test_a_candidate_equal_to_todays_rule_is_no_better_than_today(tmp_path: Path) -> None:
    made = new_pilot("tie", _table(tmp_path / "tie.csv", 1200), "bought", pilots_dir=tmp_path)
    text = made.charter.read_text()
    start, end = text.index("candidates:"), text.index("steps:")
    # the training split's prior, as a model: the very scores of today's rule (`kind: prior`)
    made.charter.write_text(text[:start] + "candidates:\n  - name: same\n    estimator: sklearn.dummy.DummyClassifier\n"
                            "    params: {strategy: prior}\n\n" + text[end:])
    charter = load_charter(made.charter)
    decision = run_pilot(charter).decision
    beats = next(g for g in decision.gates if g.kind == "vs_baseline")
    assert beats.tie and not beats.passed and (beats.diff, beats.ci_low, beats.ci_high) == (0.0, 0.0, 0.0)
    assert "no better than today's rule" in beats.reason
    assert [g.name for g in decision.gates if not g.passed] == [beats.name], decision.summary()
    assert decision.outcome == "no-better" and outcome_of(decision) == ("NO BETTER THAN TODAY", EXIT_NO_GO)
    assert decision.summary().startswith("NO BETTER THAN TODAY")
    record = json.loads(project_store(charter).download_text(decision.pilot_run_id, "decision/decision.json"))
    assert record["outcome"] == "no-better" and record["exit_code"] == EXIT_NO_GO
