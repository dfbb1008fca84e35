"""Per-item results of eval-set pilots, kept in DuckDB beside the warehouse.

Every baseline's and candidate's answer on every eval item (its output, correctness,
latency and error) lands in one table, ``item_results`` of ``items.duckdb`` in the
warehouse's folder, keyed by the MLflow run that produced it, so a reviewer can query
across runs (``SELECT ... WHERE run_id = ...``). The warehouse itself stays read-only to
notebooks; this file is written by the step that measured the items, one run at a time
(the pilot lock serialises pilots).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from ..errors import WarehouseError

__all__ = ["ITEMS_DB", "ITEMS_TABLE", "items_db", "write_item_results", "read_item_results"]

ITEMS_DB = "items.duckdb"
ITEMS_TABLE = "item_results"
_COLUMNS = ("item_id", "expected", "output", "correct", "latency_ms", "error")


def items_db(warehouse: Path | str) -> Path:
    return Path(warehouse).parent / ITEMS_DB


def write_item_results(warehouse: Path | str, frame: Any, *, run_id: str, step: str, candidate: str) -> Path:
    """Replace this run's rows for ``candidate`` with ``frame`` (item_id, expected, output,
    correct, latency_ms, error); returns the database file."""
    path = items_db(warehouse)
    rows = frame[list(_COLUMNS)].copy()
    rows.insert(0, "candidate", candidate)
    rows.insert(0, "step", step)
    rows.insert(0, "run_id", run_id)
    rows["output"] = rows["output"].astype("string")
    try:
        con = duckdb.connect(str(path))
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot open the per-item results database: {str(exc).splitlines()[0]}",
                             where=str(path), hint="close whatever holds it (another kernel?) and run the step again") from exc
    try:
        con.execute(f"""CREATE TABLE IF NOT EXISTS {ITEMS_TABLE} (
            run_id VARCHAR, step VARCHAR, candidate VARCHAR, item_id VARCHAR, expected VARCHAR, output VARCHAR,
            correct BOOLEAN, latency_ms DOUBLE, error VARCHAR, logged_at TIMESTAMP DEFAULT now())""")
        con.execute("BEGIN TRANSACTION")
        con.execute(f"DELETE FROM {ITEMS_TABLE} WHERE run_id = ? AND candidate = ?", [run_id, candidate])
        con.register("_wb_rows", rows)
        con.execute(f"INSERT INTO {ITEMS_TABLE} (run_id, step, candidate, {', '.join(_COLUMNS)}) "
                    f"SELECT run_id, step, candidate, {', '.join(_COLUMNS)} FROM _wb_rows")
        con.execute("COMMIT")
    finally:
        con.close()
    return path


def read_item_results(warehouse: Path | str, run_id: str) -> Any:
    """This run's rows (a DataFrame; empty when none)."""
    import pandas as pd

    path = items_db(warehouse)
    if not path.exists():
        return pd.DataFrame(columns=["candidate", *_COLUMNS])
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(f"SELECT * FROM {ITEMS_TABLE} WHERE run_id = ? ORDER BY candidate, item_id",
                           [run_id]).to_arrow_table().to_pandas()
    finally:
        con.close()
