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
from workbench.data.warehouse import connect_read_only, fingerprint, ingest_source, keep_open, release, writer

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


def test_a_warehouse_kept_open_is_shared_by_readers_and_let_go_for_a_writer_here(loaded: tuple[Path, Path]) -> None:
    db, csv = loaded
    assert keep_open(db) and not keep_open(db)  # one held connection, however often asked
    try:
        con = connect_read_only(db)
        assert con.execute("select count(*) from items").fetchone() == (3,)
        con.close()
        assert keep_open(db) is False  # a reader closing leaves the held one open
        # DuckDB opens a file one way in a process: the writer ends the held reader, not the other way round
        assert _ingest(db, csv).skipped
        assert keep_open(db)  # nothing was held any more
    finally:
        release(db)
    release(db)  # nothing held: nothing to do


TRY_WRITE = textwrap.dedent("""
    import sys
    from pathlib import Path
    from workbench.data.warehouse import writer
    from workbench.errors import WarehouseLockedError
    try:
        with writer(Path(sys.argv[1])):
            print("wrote")
    except WarehouseLockedError:
        print("refused")
""")


def _another_process_writes(db: Path) -> str:
    return subprocess.run([sys.executable, "-c", TRY_WRITE, str(db)], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_a_headless_step_holds_the_warehouse_until_it_finishes_and_a_person_never_does(
        loaded: tuple[Path, Path], tmp_path: Path) -> None:
    import workbench
    from workbench.steps.session import Session
    from workbench.store.tracking import Store

    db, _ = loaded
    store = Store(tmp_path / "mlruns")
    run = store.start_run("exp", "step")
    step = workbench.session("step", run_id=run.run_id, tracking_uri=store.tracking_uri, warehouse=str(db),
                             pilot_name="exp")
    assert len(step.query("select * from items")) == 3
    assert _another_process_writes(db) == "refused"  # held between its reads, for the step
    step.finish()
    assert _another_process_writes(db) == "wrote"
    by_hand = Session(run_id=run.run_id, store=store, warehouse=db, pilot="exp", step="step", owns_run=True)
    assert len(by_hand.query("select * from items")) == 3
    assert _another_process_writes(db) == "wrote"  # a person's kernel lets go after every read
    by_hand.finish()


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
