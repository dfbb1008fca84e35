"""Issue 24: signals stop a pilot, exactly once, and say what was recorded.

- one SIGINT always stops the pilot, even when code the pilot runs catches the
  KeyboardInterrupt and carries on (before: the pilot went on and exited 0);
- an early SIGTERM (before the pilot's first step) is an interrupt, exit 130, never
  "this is a bug";
- the closing message matches the store: a decision settled before the stop is named as
  such, not covered by "every run KILLED".
Signals are raised at deterministic points (a progress message, a named fault point)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from support import PLAN_YAML, STEP_PARAMS, charter_file, cli, write_notebook, write_project
from workbench.charter.config import load_charter
from workbench.decide import registry
from workbench.errors import StepInterrupted
from workbench.store.tracking import TAG, Store


@pytest.mark.slow  # a pilot with a kernel
def test_one_sigint_stops_the_pilot_even_when_something_swallows_it(tmp_path: Path) -> None:
    from workbench.steps.runner import run_pilot

    charter = load_charter(write_project(tmp_path))
    said: list[str] = []

    def progress(message: str) -> None:  # code in the pilot's process that swallows Ctrl-C
        said.append(message)
        if len(said) == 1:
            try:
                signal.raise_signal(signal.SIGINT)  # delivered now, to this thread
            except KeyboardInterrupt:
                pass

    with pytest.raises(StepInterrupted) as info:
        run_pilot(charter, progress=progress)
    assert info.value.exit_code == 130
    store = Store(tmp_path)
    (pilot,) = store.find_runs(charter.name, f"tags.`{TAG['kind']}` = 'pilot'")
    assert pilot.info.status == "KILLED" and pilot.data.tags["workbench.outcome"] == "INTERRUPTED"
    steps = [r for r in store.children(charter.name, pilot.info.run_id) if r.data.tags.get(TAG["step"]) == "measure"]
    assert steps == []  # stopped before the notebook step started
    outcome = json.loads((tmp_path / "reports" / charter.name / "outcome.json").read_text())
    assert outcome["outcome"] == "INTERRUPTED" and outcome["exit_code"] == 130


@pytest.mark.slow  # `workbench run` in its own process
def test_an_early_sigterm_is_an_interrupt_not_a_bug(tmp_path: Path) -> None:
    path = charter_file(tmp_path, "early")
    done = cli("run", "--pilot", str(path), env={registry.FAULT_ENV: "reconcile:SIGTERM"})
    assert done.returncode == 130, done.stdout + done.stderr
    assert "this is a bug" not in done.stderr and "Interrupted" in done.stderr, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "outcome: INTERRUPTED"


EVALUATE_CELL = """
import numpy as np, pandas as pd, workbench
from sklearn.linear_model import LogisticRegression
s = workbench.session(step_name, run_id=run_id, tracking_uri=tracking_uri, warehouse=warehouse, pilot_name=pilot_name)
x = pd.DataFrame({"a": np.arange(8.0)})
s.log_leakage([])  # the checks ran and found nothing (the no_leakage gate reads it)
with s.child("lr") as c:
    c.log_metrics({"demo.rows": 8})
    c.log_model(LogisticRegression().fit(x, (x["a"] > 3).astype(int)), "model", input_example=x.head(2))
"""


@pytest.mark.slow  # a pilot with two notebook steps
def test_the_closing_message_names_a_decision_settled_before_the_stop(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.steps.runner import run_pilot

    path = write_project(tmp_path, extra_yaml="""\
  - name: evaluate
    role: evaluate
    notebook: notebooks/evaluate.ipynb
    timeout_seconds: 120
gates:
  - {kind: threshold, metric: demo.rows, op: '>=', value: 1}
promotion: {model_name: tiny-model}
""" + PLAN_YAML)
    write_notebook(tmp_path / "notebooks" / "evaluate.ipynb", STEP_PARAMS + "step_name = 'evaluate'\n", EVALUATE_CELL)

    def interrupt(name: str) -> None:
        if name == "after_alias":  # Ctrl-C once the alias has moved: the decision completes
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(registry, "_checkpoint", interrupt)
    charter = load_charter(path)
    with pytest.raises(StepInterrupted) as info:
        run_pilot(charter)
    message = info.value.message
    store = Store(tmp_path)
    (decision,) = store.find_runs(charter.name, f"tags.`{TAG['kind']}` = 'decision'")
    assert decision.info.status == "FINISHED" and decision.data.tags["workbench.state"] == "completed"
    assert "every run" not in message
    assert f"go completed (decision run {decision.info.run_id}, FINISHED)" in message, message
    assert "steps that had finished stay FINISHED" in message
    assert registry.champion(charter, store) is not None
    steps = store.children(charter.name, decision.data.tags[registry.T_PILOT_RUN])
    ended = {r.data.tags.get(TAG["step"]): r.info.status for r in steps if r.data.tags.get(TAG["kind"]) == "step"}
    assert {"measure", "evaluate"} <= set(ended) and set(ended.values()) == {"FINISHED"}, ended
    assert store.get_run(decision.data.tags[registry.T_PILOT_RUN]).info.status == "KILLED"
