"""JSONL sources: loaded with their declared types, strictly, and fingerprinted like any source."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from workbench.charter.config import Source
from workbench.data.warehouse import fingerprint, ingest_source, writer
from workbench.errors import IngestError

COLUMNS = {"id": "VARCHAR", "text": "VARCHAR", "n": "BIGINT", "score": "DOUBLE"}


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_jsonl_loads_with_declared_types_and_a_fingerprint(tmp_path: Path) -> None:
    path = _write(tmp_path / "items.jsonl", [{"id": "a", "text": "héllo, \"world\"\nline 2", "n": 3, "score": 0.5},
                                             {"id": "b", "text": "x", "n": None, "extra": 1},
                                             {"id": "c", "text": "y", "n": "7", "score": 2}])
    db = tmp_path / "w.duckdb"
    with writer(db) as con:
        result = ingest_source(con, "items", Source(path=path, format="jsonl", columns=COLUMNS), path)
        rows = con.execute("SELECT * FROM items ORDER BY id").fetchall()
        types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                                 "WHERE table_name = 'items'").fetchall())
        assert fingerprint(con, "items").digest == result.fingerprint.digest
    assert rows == [("a", "héllo, \"world\"\nline 2", 3, 0.5), ("b", "x", None, None), ("c", "y", 7, 2.0)]
    assert types == {"id": "VARCHAR", "text": "VARCHAR", "n": "BIGINT", "score": "DOUBLE"}
    assert result.fingerprint.rows == 3


def test_jsonl_value_that_is_not_its_type_is_refused_naming_it(tmp_path: Path) -> None:
    path = _write(tmp_path / "items.jsonl", [{"id": "a", "n": 1}, {"id": "b", "n": 2.5}])
    db = tmp_path / "w.duckdb"
    with writer(db) as con, pytest.raises(IngestError) as err:
        ingest_source(con, "items", Source(path=path, format="jsonl", columns={"id": "VARCHAR", "n": "BIGINT"}), path)
    assert "'n'" in err.value.message and "2.5" in err.value.message
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'items'").fetchone()[0]
    finally:
        con.close()
