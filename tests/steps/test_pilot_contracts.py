"""Contracts gate the pilot: broken real data stops it before any notebook, naming each rule."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from support import REPO
from workbench.charter.config import load_charter
from demos.flights import extract as extract_demo_data
from workbench.errors import ContractViolation
from workbench.steps.runner import run_pilot
from workbench.store.tracking import TAG, Store

pytestmark = pytest.mark.slow


def _break_flights(path: Path) -> None:
    """Negative distances, an unknown carrier, and the air_time column dropped."""
    rows = list(csv.reader(path.open(newline="")))
    header = rows[0]
    drop = header.index("air_time")
    dist, carrier = header.index("distance"), header.index("carrier")
    for i, row in enumerate(rows[1:], start=1):
        if i % 1000 == 0:
            row[dist] = "-" + row[dist]
        if i % 5000 == 0:
            row[carrier] = "ZZ"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([r[:drop] + r[drop + 1:] for r in rows])


def test_broken_flights_stop_the_pilot_before_any_notebook(tmp_path: Path) -> None:
    for folder in ("notebooks", "data_contracts"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    shutil.copy(REPO / "pilot.yaml", tmp_path / "pilot.yaml")
    raw = tmp_path / "data" / "raw"
    extract_demo_data(raw)
    _break_flights(raw / "flights.csv")

    with pytest.raises(ContractViolation) as info:
        run_pilot(load_charter(tmp_path / "pilot.yaml"))
    msg = str(info.value)
    assert "flights.distance.range" in msg          # negative distances
    assert "flights.references.carrier" in msg      # ZZ is not in airlines
    assert "flights.air_time.present" in msg        # the dropped column
    assert "336" in msg                             # counts are shown (336 rows with a negative distance)
    assert "no notebook was run" in msg

    store = Store(tmp_path)
    runs = store.find_runs("nyc-late-arrivals", max_results=100)
    names = {r.info.run_name: r for r in runs}
    assert "profile" not in names and "baseline" not in names and "evaluate" not in names
    assert names["contracts"].info.status == "FAILED"
    assert names["contracts"].data.tags["workbench.data.contracts.passed"] == "false"
    arts = {a.path for a in store.client.list_artifacts(names["contracts"].info.run_id, "contracts")}
    assert "contracts/summary.html" in arts
    pilot = [r for r in runs if r.data.tags.get(TAG["kind"]) == "pilot"][0]
    assert pilot.info.status == "FAILED"
    assert not [r for r in runs if r.info.status == "RUNNING"]
