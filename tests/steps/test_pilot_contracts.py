"""Contracts gate the pilot: broken real data stops it before any notebook, naming each rule."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import duckdb
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


def test_quarantined_rows_stay_out_on_reruns_and_after_a_reload(tmp_path: Path) -> None:
    """A quarantine rule moves rows out of a table after ingest fingerprinted it. The steps must
    read (and be keyed on) the table as the quarantine left it, not stop with "data changed
    under the pilot"; a rerun must not reload the rows (ingest's record follows the table);
    and when the rows do come back (the table edited outside), a cached contracts result must
    not let them through."""
    from support import write_project
    from workbench.data import warehouse

    charter_path = write_project(tmp_path, rows=5)  # prices 1.5 .. 7.5
    (tmp_path / "items.yml").write_text(
        "dataset: items\nowner: tester@pilot-team.internal\nversion: 1.0.0\n"
        "columns:\n  price: {type: DOUBLE, range: {min: 0, max: 6.5, on_fail: quarantine}}\n")
    text = charter_path.read_text()
    declared = "    columns: {id: INTEGER, name: VARCHAR, price: DOUBLE}\n"
    assert declared in text
    charter_path.write_text(text.replace(declared, declared + "    contract: items.yml\n"))
    charter = load_charter(charter_path)
    store = Store(tmp_path)

    def run() -> dict:
        result = run_pilot(charter)
        assert result.status == "FINISHED", result
        steps = {o.name: o for o in result.steps}
        measure = store.get_run(steps["measure"].run_id if steps["measure"].status == "executed"
                                else steps["measure"].cached_from)
        con = warehouse.connect_read_only(charter.warehouse_path)
        try:
            now = warehouse.fingerprint(con, "items").digest
            quarantined = con.execute("SELECT count(*) FROM items__quarantine").fetchall()[0][0]
        finally:
            con.close()
        return {"statuses": {n: o.status for n, o in steps.items()}, "rows": measure.data.metrics["demo.rows"],
                "step_fp": measure.data.tags["workbench.fingerprint.items"], "now": now,
                "pilot_fp": store.get_run(result.run_id).data.tags["workbench.fingerprint.items"],
                "quarantined": quarantined}

    first = run()
    assert first["statuses"]["measure"] == "executed" and first["rows"] == 4
    assert first["step_fp"] == first["now"] == first["pilot_fp"]  # keyed on what the step read
    again = run()
    assert again["statuses"]["ingest"] == "cached", again  # the file did not change: not reloaded
    assert again["statuses"]["measure"] == "cached" and again["now"] == first["now"]
    assert again["quarantined"] == 1

    con = duckdb.connect(str(charter.warehouse_path))  # the row comes back behind the pilot's back
    con.execute("INSERT INTO items VALUES (5, 'item5', 7.5)")
    con.close()
    back = run()
    assert back["statuses"]["ingest"] == "executed" and back["statuses"]["contracts"] == "executed", back
    assert back["now"] == first["now"] and back["rows"] == 4 and back["quarantined"] == 2, back
