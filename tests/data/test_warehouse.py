"""Ingest, fingerprints and the one-writer rule, on real DuckDB files."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from workbench.charter.config import Source
from workbench.errors import IngestError, WarehouseError, WarehouseLockedError
from workbench.data.warehouse import connect_read_only, fingerprint, ingest_source, writer

COLUMNS = {"id": "INTEGER", "name": "VARCHAR", "price": "DOUBLE"}
GOOD = "id,name,price\n1,a,1.5\n2,b,NA\n3,c,3.0\n"


def _source(path: Path) -> Source:
    return Source(path=path, columns=COLUMNS)


def _ingest(db: Path, csv: Path) -> object:
    with writer(db) as con:
        return ingest_source(con, "items", _source(csv), csv)


def _rows(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("select * from items order by id").fetchall()
    finally:
        con.close()


@pytest.fixture()
def loaded(tmp_path: Path) -> tuple[Path, Path]:
    csv = tmp_path / "items.csv"
    csv.write_text(GOOD)
    db = tmp_path / "wh.duckdb"
    _ingest(db, csv)
    return db, csv


def test_ingest_uses_declared_types_and_nulls(loaded: tuple[Path, Path]) -> None:
    db, _ = loaded
    assert _rows(db) == [(1, "a", 1.5), (2, "b", None), (3, "c", 3.0)]
    con = duckdb.connect(str(db), read_only=True)
    types = dict(con.execute("select column_name, data_type from information_schema.columns where table_name='items'").fetchall())
    con.close()
    assert types == COLUMNS


@pytest.mark.parametrize(
    ("content", "line", "needle"),
    [
        ('id,name,price\n1,a,1.5\n2,"b,2.5\n3,c,3.0\n', 3, "unquoted value"),  # unterminated quote
        ("id,name,price\n1,a,1.5\n2,b,2.5,9\n", 3, "too many columns"),
        ("id,name,price\n1,a,1.5\n2,b,abc\n", 3, "value 'abc' is not a number"),
        ("id,name,price\n1,a\n", 2, "missing columns"),
    ],
    ids=["bad-quoting", "extra-column", "unparsable-value", "short-row"],
)
def test_malformed_file_names_line_column_reason_and_keeps_previous_table(
    loaded: tuple[Path, Path], content: str, line: int, needle: str
) -> None:
    db, csv = loaded
    before = _rows(db)
    csv.write_text(content)
    with pytest.raises(IngestError) as info:
        _ingest(db, csv)
    msg = str(info.value)
    assert f"{csv}:{line}:" in msg
    assert "column" in msg
    assert needle.lower() in msg.lower()
    assert "previous table is unchanged" in msg
    assert _rows(db) == before


def test_every_bad_line_is_reported(loaded: tuple[Path, Path]) -> None:
    db, csv = loaded
    csv.write_text("id,name,price\n1,a,x\n2,b,2\n3,c,y\n")
    with pytest.raises(IngestError) as info:
        _ingest(db, csv)
    assert "2 malformed row(s)" in str(info.value)
    assert f"{csv}:2:" in str(info.value) and f"{csv}:4:" in str(info.value)


def test_header_mismatch_names_missing_and_extra_columns(loaded: tuple[Path, Path]) -> None:
    db, csv = loaded
    csv.write_text("id,title,price\n1,a,1.5\n")
    with pytest.raises(IngestError) as info:
        _ingest(db, csv)
    msg = str(info.value)
    assert f"{csv}:1" in msg and "missing column(s) name" in msg and "undeclared column(s) title" in msg
    assert _rows(db)[0] == (1, "a", 1.5)


def test_unchanged_file_is_not_reloaded_and_changed_file_is(loaded: tuple[Path, Path]) -> None:
    db, csv = loaded
    again = _ingest(db, csv)
    assert again.skipped
    csv.write_text(GOOD + "4,d,4.0\n")
    changed = _ingest(db, csv)
    assert not changed.skipped and changed.fingerprint.rows == 4
    assert changed.fingerprint.digest != again.fingerprint.digest


def test_fingerprint_is_order_independent_and_value_sensitive(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "f.duckdb"))
    con.execute("create table a as select * from (values (1,'x'),(2,'y'),(3,'z')) t(i, s)")
    con.execute("create table b as select * from a order by i desc")
    con.execute("create table c as select * from (values (1,'x'),(2,'y'),(3,'Z')) t(i, s)")
    con.execute("create table d as select * from (values (1,'x'),(2,'y'),(3,'z'),(3,'z')) t(i, s)")
    fa, fb, fc, fd = (fingerprint(con, t) for t in "abcd")
    con.close()
    assert fa.row_hash == fb.row_hash
    assert fa.row_hash != fc.row_hash
    assert fd.rows == 4 and fd.row_hash != fa.row_hash
    assert fa.columns == (("i", "INTEGER"), ("s", "VARCHAR"))


HOLD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from workbench.data.warehouse import writer
    with writer(Path(sys.argv[1])) as con:
        print("held", flush=True)
        time.sleep(60)
""")

HOLD_READ_ONLY = textwrap.dedent("""
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    print("held", flush=True)
    time.sleep(60)
""")


def _hold(script: str, db: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", script, str(db)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_second_writer_is_refused_naming_the_holder(loaded: tuple[Path, Path]) -> None:
    db, csv = loaded
    proc = _hold(HOLD, db)
    try:
        start = time.monotonic()
        with pytest.raises(WarehouseLockedError) as info:
            _ingest(db, csv)
        assert time.monotonic() - start < 10  # refused, not hung
        assert f"PID {proc.pid}" in str(info.value)
        assert "Fix:" in str(info.value)
    finally:
        proc.kill()
        proc.wait()
    assert _ingest(db, csv).skipped  # usable again once the holder is gone


def test_a_kernel_holding_the_file_blocks_writers_with_its_pid(loaded: tuple[Path, Path]) -> None:
    db, csv = loaded
    proc = _hold(HOLD_READ_ONLY, db)
    try:
        with pytest.raises(WarehouseLockedError) as info:
            _ingest(db, csv)
        assert f"PID {proc.pid}" in str(info.value)
    finally:
        proc.kill()
        proc.wait()


def test_read_only_connection_cannot_write(loaded: tuple[Path, Path]) -> None:
    db, _ = loaded
    con = connect_read_only(db)
    try:
        with pytest.raises(duckdb.Error):
            con.execute("delete from items")
    finally:
        con.close()
    assert len(_rows(db)) == 3


def test_read_only_on_missing_warehouse_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="make pilot"):
        connect_read_only(tmp_path / "nope.duckdb")
