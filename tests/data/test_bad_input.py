"""Bad input never passes silently, and every failure says what happened and what to do.

Strict typed ingest (no rounding, hex or truncation; byte-order marks; wrong encodings),
non-finite and extreme values in profiles and drift, storage faults (disk full, read-only
folder, damaged warehouse and store), `workbench rebuild`, reserved step parameters,
readable outcomes (exit codes, `outcome:` line, outcome.json, the pilot run's tags, the
marked cell of a dead or timed-out kernel, no kernel tracebacks, failing `!cmd` lines), and
contract rules whose SQL does not run. Real DuckDB, MLflow and kernels in tmp_path.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from support import cli_here, write_project
from workbench.charter.config import Source, load_charter
from workbench.errors import ConfigError, ContractSpecError, IngestError, TrackingError, WarehouseError
from workbench.data.warehouse import connect_read_only, ingest_source, writer

WORKBENCH = [sys.executable, "-m", "workbench.cli"]


# -- strict typed ingest ---------------------------------------------------------------------


def _load(tmp_path: Path, text: str | bytes, columns: dict[str, str], *, pii=None, contract: bool = False,
          name: str = "t.csv") -> list[tuple]:
    csv = tmp_path / name
    csv.write_bytes(text if isinstance(text, bytes) else text.encode())
    source = Source(path=csv, columns=columns, contract=tmp_path / "c.yml" if contract else None)
    db = tmp_path / "wh.duckdb"
    with writer(db) as con:
        ingest_source(con, "t", source, csv, force=True, pii=pii)
        return con.execute("SELECT * FROM t").fetchall()


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("14.6", "is not a whole number"),  # DuckDB alone: 15 (rounded), flipping a >= 15 label
        ("14.0", "is not a whole number"),
        ("0x10", "is not a whole number"),  # DuckDB alone: 16
        ("1e3", "is not a whole number"),  # DuckDB alone: 1000
        ("1_000", "is not a whole number"),  # DuckDB alone: 1000
        ("99999999999999999999", "is out of range for BIGINT"),
    ],
)
def test_a_value_that_is_not_exactly_an_integer_is_an_error_naming_file_line_column_value(
        tmp_path: Path, value: str, why: str) -> None:
    with pytest.raises(IngestError) as info:
        _load(tmp_path, f"id,arr_delay\n1,5\n2,{value}\n3,-7\n", {"id": "INTEGER", "arr_delay": "BIGINT"})
    msg = str(info.value)
    assert f"t.csv:3: column 2 ('arr_delay'): value '{value}' {why}" in msg
    assert "nothing is rounded or cut" in msg and "previous table is unchanged" in msg and "Fix:" in msg


def test_truncation_and_overflow_are_errors_for_decimals_floats_dates_and_timestamps(tmp_path: Path) -> None:
    cases = {
        "DECIMAL(5,2)": ("14.657", "has more than 2 decimal place(s)"),
        "DOUBLE": ("1e400", "beyond the range of DOUBLE"),
        "DATE": ("2013-01-01 10:30", "has a time of day"),
        "TIMESTAMP": ("2013-01-01 05:00:00.1234567", "more than 6 fractional second digit(s)"),
    }
    for typ, (bad, why) in cases.items():
        with pytest.raises(IngestError, match=re.escape(why)):
            _load(tmp_path, f"v\n{bad}\n", {"v": typ})
    with pytest.raises(IngestError, match="UTC offset"):
        _load(tmp_path, "v\n2013-01-01 05:00:00+01\n", {"v": "TIMESTAMP"})
    with pytest.raises(IngestError, match="value '1_000' is not a number"):  # DuckDB alone: 1000.0
        _load(tmp_path, "v\n1_000\n", {"v": "DOUBLE"})


def test_values_that_are_exactly_their_type_load_unchanged(tmp_path: Path) -> None:
    rows = _load(tmp_path, "i,d,f,day,flag\n+5,14.65,1.5e3,2013-01-01,true\n 007 ,-0.5,inf,2013-1-2,0\n-0,.25,NaN,NA,NA\n",
                 {"i": "BIGINT", "d": "DECIMAL(5,2)", "f": "DOUBLE", "day": "DATE", "flag": "BOOLEAN"})
    assert [r[0] for r in rows] == [5, 7, 0]
    assert [float(r[1]) for r in rows] == [14.65, -0.5, 0.25]
    assert rows[0][2] == 1500.0 and rows[1][2] == math.inf and math.isnan(rows[2][2])
    assert str(rows[1][3]) == "2013-01-02" and rows[2][3] is None and rows[1][4] is False


def test_every_bad_value_is_listed_with_its_physical_line(tmp_path: Path) -> None:
    text = 'id,name,n\n1,"two\nlines",1\n2,b,x\n3,c,4,9\n4,d,5.5\n'  # a quoted newline shifts the lines
    with pytest.raises(IngestError) as info:
        _load(tmp_path, text, {"id": "INTEGER", "name": "VARCHAR", "n": "INTEGER"})
    msg = str(info.value)
    assert "t.csv:4: column 3 ('n'): value 'x'" in msg
    assert "t.csv:5: column 4: too many columns" in msg
    assert "t.csv:6: column 3 ('n'): value '5.5'" in msg


def test_a_gzip_compressed_csv_loads_and_its_bad_values_are_placed_as_in_the_plain_file(tmp_path: Path) -> None:
    """`orders.csv.gz` is how exports often arrive, and DuckDB reads it; the header and line
    checks read its bytes raw and called it "not UTF-8 text", with a fix that re-saved it. They
    read it decompressed now: the header checked, each bad value on its physical line."""
    import gzip

    rows = _load(tmp_path, gzip.compress("\ufeffcarrier,n\r\nAA,1\r\nUA,2\r\n".encode()),
                 {"carrier": "VARCHAR", "n": "BIGINT"}, name="t.csv.gz")
    assert rows == [("AA", 1), ("UA", 2)]
    text = 'id,name,n\n1,"two\nlines",1\n2,b,x\n3,c,4,9\n4,d,5.5\n'
    with pytest.raises(IngestError) as info:
        _load(tmp_path, gzip.compress(text.encode()), {"id": "INTEGER", "name": "VARCHAR", "n": "INTEGER"},
              name="t.csv.gz")
    msg = str(info.value)
    assert "t.csv.gz:4: column 3 ('n'): value 'x'" in msg and "t.csv.gz:6: column 3 ('n'): value '5.5'" in msg
    with pytest.raises(IngestError, match=r"header does not match the declared columns: undeclared column\(s\) n"):
        _load(tmp_path, gzip.compress(b"carrier,n\nAA,1\n"), {"carrier": "VARCHAR"}, name="t.csv.gz")
    with pytest.raises(IngestError) as info:
        _load(tmp_path, gzip.compress("carrier,n\nCafé,1\n".encode("latin-1")), {"carrier": "VARCHAR", "n": "BIGINT"},
              name="t.csv.gz")
    assert "not UTF-8" in str(info.value) or "not utf-8" in str(info.value)


def test_an_empty_file_is_called_empty_not_a_header_without_the_declared_columns(tmp_path: Path) -> None:
    """A truncated export: ingest said "header does not match ...: missing column(s) a, y", and
    `workbench new` "missing column(s) column0", a name DuckDB's sniffer makes up."""
    from workbench.new import new_pilot

    with pytest.raises(IngestError, match="t.csv: the file is empty: no header, no rows") as info:
        _load(tmp_path, "", {"a": "INTEGER", "y": "INTEGER"})
    assert "export the table again" in info.value.hint
    with pytest.raises(ConfigError, match=r"the data file is empty \(0 bytes\)") as made:
        new_pilot("empty", tmp_path / "t.csv", "y", pilots_dir=tmp_path / "pilots")
    assert "column0" not in str(made.value) and not (tmp_path / "pilots" / "empty").exists()
    # an eval set's file, and a corpus, said "no column(s) y, a; its columns: column0"
    from workbench.new import new_text_pilot

    with pytest.raises(ConfigError, match=r"the data file is empty \(0 bytes\)"):
        new_text_pilot("empty", tmp_path / "t.csv", "y", ["a"], pilots_dir=tmp_path / "pilots")


def test_values_of_pii_columns_are_masked_in_ingest_errors(tmp_path: Path) -> None:
    columns = {"id": "INTEGER", "email": "INTEGER"}
    with pytest.raises(IngestError) as info:
        _load(tmp_path, "id,email\n1,ada@example.org\n", columns, pii={"email"})
    assert "ada@example.org" not in str(info.value)
    assert "column 2 ('email'): a value (masked: personal data, 15 character(s))" in str(info.value)
    # a source with a contract whose PII marks are unknown: every value is masked
    with pytest.raises(IngestError) as info:
        _load(tmp_path, "id,email\nseven,1\n", columns, contract=True)
    assert "seven" not in str(info.value) and "masked: personal data" in str(info.value)


def test_an_excel_csv_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    rows = _load(tmp_path, "\ufeffcarrier,n\r\nAA,1\r\nUA,2\r\n".encode("utf-8"), {"carrier": "VARCHAR", "n": "BIGINT"})
    assert rows == [("AA", 1), ("UA", 2)]


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16"])
def test_a_file_that_is_not_utf8_gets_a_clear_error(tmp_path: Path, encoding: str) -> None:
    with pytest.raises(IngestError) as info:
        _load(tmp_path, "carrier,n\nAA,1\nCafé,2\n".encode(encoding), {"carrier": "VARCHAR", "n": "BIGINT"})
    msg = str(info.value)
    assert "t.csv" in msg and ("not UTF-8" in msg or "not utf-8" in msg) and "CSV UTF-8" in msg
    if encoding == "latin-1":
        assert "t.csv:3" in msg  # the line with the byte that is not UTF-8
    # the conversion the hint gives is from the file's own encoding
    assert f"iconv -f {'LATIN1' if encoding == 'latin-1' else 'UTF-16'} -t UTF-8" in msg


def test_parquet_values_that_would_change_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    duckdb.execute(f"COPY (SELECT * FROM (VALUES (1, 14.0::DOUBLE), (2, 14.6::DOUBLE)) v(id, d)) TO '{path}'")
    with writer(tmp_path / "wh.duckdb") as con, pytest.raises(IngestError) as info:
        ingest_source(con, "t", Source(path=path, format="parquet", columns={"id": "INTEGER", "d": "BIGINT"}), path)
    assert "row 2: column 2 ('d')" in str(info.value) and "without changing it" in str(info.value)


# -- non-finite and extreme values ----------------------------------------------------------


def test_profile_and_drift_handle_inf_nan_and_the_float_limits(tmp_path: Path) -> None:
    from workbench.data.profiling import drift, plot_histograms, profile_table

    con = duckdb.connect(str(tmp_path / "p.duckdb"))
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES (1e308), (-1e308), (5.0), ('inf'::DOUBLE), "
                "('-inf'::DOUBLE), ('nan'::DOUBLE), (NULL)) v(x)")
    prof = profile_table(con, "t", bins=10)
    col = prof["x"]
    assert col.non_finite_count == 3 and col.null_count == 1
    assert all(math.isfinite(e) for e in col.histogram.edges) and sum(col.histogram.counts) == 3
    assert col.stats()["non_finite_count"] == 3
    json.dumps(prof.to_dict(), allow_nan=False)  # standard JSON: no Infinity/NaN anywhere
    report = drift(prof, profile_table(con, "t", bins=10, reference=prof))
    assert report["x"].psi is not None and math.isfinite(report["x"].psi)
    import io

    plot_histograms(prof).savefig(io.BytesIO(), format="png")  # matplotlib overflows unless scaled
    con.close()


def test_a_stored_profile_never_blocks_a_later_run(tmp_path: Path) -> None:
    from workbench.data.profiling import drift, profile_table, read_reference

    con = duckdb.connect(str(tmp_path / "p.duckdb"))
    con.execute("CREATE TABLE t AS SELECT range::DOUBLE AS x, range % 3 AS k FROM range(100)")
    stored = profile_table(con, "t").to_dict()
    stored["columns"][0]["histogram"]["edges"][-1] = math.inf  # what 1e308 left behind in an older run
    stored["columns"][0]["histogram"]["edges"][3] = math.nan
    reference, why = read_reference(json.dumps(stored))  # json.dumps writes Infinity/NaN as an old run did
    assert reference is not None and why is None
    current = profile_table(con, "t", reference=reference)  # used to fail: Referenced column "inf" not found
    report = drift(reference, current)
    assert report["x"].psi is not None and math.isfinite(report["x"].psi)
    for garbage in ("{not json", json.dumps({"format": 99}), "[]", ""):
        profile, why = read_reference(garbage)
        assert profile is None and "profiled without a reference" in why
    con.close()


# -- storage faults --------------------------------------------------------------------------


class _Faulty:
    """A DuckDB connection that fails the statements it is told to, as a full disk would."""

    def __init__(self, con: duckdb.DuckDBPyConnection, fail_on: str, error: Exception) -> None:
        self._con, self._fail_on, self._error = con, fail_on, error

    def execute(self, sql: str, *args):
        if sql.strip().upper().startswith(self._fail_on):
            raise self._error
        if sql.strip().upper() == "ROLLBACK":
            self._con.execute(sql, *args)
            raise duckdb.TransactionException("TransactionContext Error: cannot rollback - no transaction is active")
        return self._con.execute(sql, *args)

    def __getattr__(self, name: str):
        return getattr(self._con, name)


def _items(tmp_path: Path) -> tuple[Path, Source]:
    csv = tmp_path / "items.csv"
    csv.write_text("id,name\n1,a\n2,b\n")
    return csv, Source(path=csv, columns={"id": "INTEGER", "name": "VARCHAR"})


@pytest.mark.parametrize("stage", ["COMMIT", "CREATE OR REPLACE TABLE"])
def test_a_full_disk_names_the_file_the_cause_and_the_recovery(tmp_path: Path, stage: str) -> None:
    csv, source = _items(tmp_path)
    db = tmp_path / "wh.duckdb"
    full = duckdb.IOException(f'IO Error: Could not write file "{db}.wal": No space left on device')
    with writer(db) as con:
        ingest_source(con, "items", source, csv)
        csv.write_text("id,name\n1,a\n2,b\n3,c\n")
        with pytest.raises(WarehouseError) as info:
            ingest_source(_Faulty(con, stage, full), "items", source, csv)
        assert con.execute("SELECT count(*) FROM items").fetchone()[0] == 2  # the previous table
    msg = str(info.value)
    assert str(db) in msg and "the disk is full" in msg and "df -h" in msg
    assert "rollback" not in msg.lower() and "this is a bug" not in msg  # the failed ROLLBACK hides nothing
    assert "items.csv" not in msg.split("Fix:")[0]  # not blamed on the CSV


def test_a_read_only_folder_is_named_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # root ignores permission bits: inject the operating system's answer at the boundary
    def refuse(path, read_only=False, **kw):
        raise duckdb.IOException(f'IO Error: Cannot open file "{path}": Permission denied')

    monkeypatch.setattr(duckdb, "connect", refuse)
    with pytest.raises(WarehouseError) as info:
        with writer(tmp_path / "ro" / "wh.duckdb"):
            pass
    msg = str(info.value)
    assert "wh.duckdb" in msg and "no permission" in msg and "writable" in msg


def _corrupt(db: Path) -> None:
    size = db.stat().st_size
    with open(db, "r+b") as f:
        f.seek(size // 2)
        f.write(os.urandom(size - size // 2))


def test_a_damaged_warehouse_says_so_and_rebuild_recovers_it_without_touching_the_runs(tmp_path: Path) -> None:
    path = write_project(tmp_path, rows=200_000)
    charter = load_charter(path)
    from workbench.data import warehouse

    with writer(charter.warehouse_path) as con:
        warehouse.ingest_all(con, charter)
    mlruns = tmp_path / "mlruns"
    mlruns.mkdir(exist_ok=True)
    (mlruns / "mlflow.db").write_bytes(b"the run store: must not be touched")
    before = {p: p.stat().st_mtime_ns for p in mlruns.rglob("*") if ".lock" not in p.name}
    _corrupt(charter.warehouse_path)

    failed = cli_here("ingest", "--pilot", str(path))
    assert failed.returncode == 1
    assert "this is a bug" not in failed.stderr
    assert "damaged" in failed.stderr and "workbench rebuild" in failed.stderr
    assert str(charter.warehouse_path) in failed.stderr

    t0 = time.perf_counter()
    rebuilt = cli_here("rebuild", "--pilot", str(path))
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert time.perf_counter() - t0 < 60
    assert "warehouse rebuilt" in rebuilt.stdout
    con = connect_read_only(charter.warehouse_path)
    assert con.execute("SELECT count(*) FROM items").fetchone()[0] == 200_000
    con.close()
    after = {p: p.stat().st_mtime_ns for p in mlruns.rglob("*") if ".lock" not in p.name and "holder" not in p.name}
    assert after == before  # the run store is untouched (only the pilot lock beside it was taken)
    assert not list(tmp_path.glob("data/*.rebuild*"))


@pytest.mark.slow  # runs pilots on a damaged store
def test_a_full_or_damaged_mlflow_db_is_a_tracking_error_naming_the_file(tmp_path: Path) -> None:
    import gc
    import sqlite3

    import sqlalchemy as sa
    from sqlalchemy.engine import Engine

    from workbench.store.tracking import Store

    store = Store(tmp_path)
    run = store.start_run("exp", "r")

    def cap(dbapi_con, _record) -> None:  # sqlite's own "database or disk is full"
        if isinstance(dbapi_con, sqlite3.Connection):
            pages = dbapi_con.execute("PRAGMA page_count").fetchone()[0]
            dbapi_con.execute(f"PRAGMA max_page_count={pages}")

    sa.event.listen(Engine, "connect", cap)
    try:
        for obj in gc.get_objects():
            if isinstance(obj, Engine):
                obj.dispose()
        with pytest.raises(TrackingError) as info:
            store.log_params(run.run_id, {f"p{i}": "x" * 200 for i in range(100)})
    finally:
        sa.event.remove(Engine, "connect", cap)
        for obj in gc.get_objects():
            if isinstance(obj, Engine):
                obj.dispose()
    msg = str(info.value)
    assert str(tmp_path / "mlruns" / "mlflow.db") in msg and "the disk is full" in msg and "df -h" in msg

    damaged = Store(tmp_path / "other")
    damaged_db = tmp_path / "other" / "mlruns" / "mlflow.db"
    damaged_db.parent.mkdir(parents=True, exist_ok=True)
    damaged_db.write_bytes(b"not a database" * 1000)
    with pytest.raises(TrackingError) as info:
        damaged.start_run("exp", "r")
    assert str(damaged_db) in str(info.value) and "damaged" in str(info.value) and "move" in str(info.value)


def test_an_artifact_write_on_a_full_disk_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

    from workbench.store.tracking import Store

    store = Store(tmp_path)
    run = store.start_run("exp", "r")

    def full(self, local_file, artifact_path=None):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "mlruns" / "artifacts" / "x.json"))

    monkeypatch.setattr(LocalArtifactRepository, "log_artifact", full)
    with pytest.raises(TrackingError) as info:
        store.log_dict(run.run_id, {"a": 1}, "x.json")
    assert "x.json" in str(info.value) and "the disk is full" in str(info.value)


def test_the_cli_never_calls_an_operating_system_error_a_bug(capsys: pytest.CaptureFixture) -> None:
    import typer

    from workbench import cli

    for exc in (OSError(errno.ENOSPC, "No space left on device", "/data/warehouse.duckdb"),
                PermissionError(errno.EACCES, "Permission denied", "/data/x.csv"),
                duckdb.IOException("IO Error: Could not write file: No space left on device"),
                duckdb.Error("Corrupt database file: computed checksum 1 does not match stored checksum 2")):
        with pytest.raises(typer.Exit) as info:
            cli._handle(exc)
        assert info.value.exit_code == 1
        err = capsys.readouterr().err
        assert "this is a bug" not in err and "Fix:" in err, err
    with pytest.raises(typer.Exit):
        cli._handle(OSError(errno.ENOSPC, "No space left on device", "/data/warehouse.duckdb"))
    assert "/data/warehouse.duckdb" in capsys.readouterr().err



def test_the_panel_never_calls_an_operating_system_error_a_bug() -> None:
    from workbench.widgets import error_html

    html = error_html(OSError(errno.ENOSPC, "No space left on device", "/data/warehouse.duckdb"))
    assert "this is a bug" not in html and "/data/warehouse.duckdb" in html and "Fix:" in html
    assert "this is a bug" in error_html(ValueError("really unexpected"))  # what is ours stays ours

# -- reserved names ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["warehouse", "run_id", "tracking_uri"])
def test_an_injected_name_cannot_be_a_step_parameter(tmp_path: Path, name: str) -> None:
    path = write_project(tmp_path, step_params=f"{name}: elsewhere")
    with pytest.raises(ConfigError) as info:
        load_charter(path)
    assert f"'{name}'" in str(info.value) and "reserved" in str(info.value)
    checked = cli_here("validate", "--pilot", str(path))
    assert checked.returncode == 1 and f"'{name}'" in checked.stderr


# -- readable outcomes -------------------------------------------------------------------------


def _run(path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*WORKBENCH, "run", "--pilot", str(path), *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _outcome(root: Path) -> dict:
    return json.loads((root / "reports" / "tiny-pilot" / "outcome.json").read_text())


def _executed(root: Path, step: str = "measure") -> tuple[dict, object]:
    from workbench.store.tracking import Store

    store = Store(root)
    run = next(r for r in store.find_runs("tiny-pilot", max_results=100) if r.info.run_name == step)
    return json.loads(store.download_text(run.info.run_id, "notebook/step.ipynb")), run


@pytest.mark.slow
def test_finished_and_error_outcomes_are_readable_and_recorded(tmp_path: Path) -> None:
    path = write_project(tmp_path)
    ok = cli_here("run", "--pilot", str(path))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().splitlines()[-1] == "outcome: FINISHED"
    assert _outcome(tmp_path)["outcome"] == "FINISHED"

    path.write_text(path.read_text().replace("id: INTEGER", "id: BOOLEAN"))  # ingest now fails
    bad = cli_here("run", "--pilot", str(path))
    assert bad.returncode == 1 and bad.stdout.strip().splitlines()[-1] == "outcome: ERROR"
    record = _outcome(tmp_path)
    assert record["outcome"] == "ERROR" and record["failed_step"] == "ingest"
    assert record["skipped_steps"] == ["contracts", "measure"] and "is not a BOOLEAN" in record["reason"]
    assert "skipped: contracts, measure" in bad.stderr
    from workbench.store.tracking import Store

    parent = Store(tmp_path).get_run(record["run_id"])
    assert parent.data.tags["workbench.outcome"] == "ERROR"
    assert parent.data.tags["workbench.failed_step"] == "ingest"
    assert parent.data.tags["workbench.skipped_steps"] == "contracts, measure"
    assert "is not a BOOLEAN" in parent.data.tags["workbench.failure"]


@pytest.mark.slow
@pytest.mark.parametrize("case", ["dead-kernel", "timeout"])
def test_the_cell_a_kernel_died_or_timed_out_in_is_marked_and_no_kernel_traceback_shows(
        tmp_path: Path, case: str) -> None:
    cell = "import os; os._exit(1)" if case == "dead-kernel" else "import time; time.sleep(120)"
    path = write_project(tmp_path, notebook_cells=("x = 1", cell, "print('never')"))
    path.write_text(path.read_text().replace("timeout_seconds: 60", "timeout_seconds: 5"))
    result = _run(path)
    assert result.returncode == 1 and result.stdout.strip().splitlines()[-1] == "outcome: ERROR"
    assert "Traceback" not in result.stderr and "ZMQError" not in result.stderr
    assert "KeyboardInterrupt" not in result.stderr and "Timeout waiting" not in result.stderr
    assert "step.ipynb: cell 3" in result.stderr
    nb, _ = _executed(tmp_path)
    cells = [c for c in nb["cells"] if "injected-parameters" not in c["metadata"].get("tags", [])]
    killer, after = cells[2], cells[3]
    assert killer["metadata"]["papermill"]["status"] == "failed" and killer["metadata"]["papermill"]["exception"]
    errors = [o for o in killer["outputs"] if o["output_type"] == "error"]
    assert [e["ename"] for e in errors] == ["KernelDied" if case == "dead-kernel" else "CellTimeout"]
    assert after["metadata"]["papermill"]["status"] == "pending"


@pytest.mark.slow
def test_an_interrupt_names_its_step_and_cell_and_exits_130(tmp_path: Path) -> None:
    import signal

    marker = tmp_path / "started"
    path = write_project(tmp_path, notebook_cells=(
        "x = 1", f"import pathlib, time; pathlib.Path({str(marker)!r}).write_text('1'); time.sleep(120)"))
    proc = subprocess.Popen([*WORKBENCH, "run", "--pilot", str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.3)
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert out.strip().splitlines()[-1] == "outcome: INTERRUPTED"
    assert "step 'measure' was interrupted" in err and "step.ipynb: cell 3 `import pathlib" in err
    assert _outcome(tmp_path)["outcome"] == "INTERRUPTED"
    nb, run = _executed(tmp_path)
    assert run.info.status == "KILLED"
    running = [c for c in nb["cells"] if c["metadata"].get("papermill", {}).get("exception")]
    assert len(running) == 1 and "pathlib" in "".join(running[0]["source"])


@pytest.mark.slow
def test_a_failing_shell_line_fails_the_step(tmp_path: Path) -> None:
    path = write_project(tmp_path, notebook_cells=("!true", "!ls /no/such/folder/anywhere", "print('never')"))
    result = _run(path)
    assert result.returncode == 1
    assert "step.ipynb: cell 3 `!ls /no/such/folder/anywhere`" in result.stderr
    assert "ShellCommandError: the shell line `!ls /no/such/folder/anywhere` exited with status 2" in result.stderr


def test_the_shell_guard_raises_on_a_non_zero_status() -> None:
    from workbench.errors import ShellCommandError
    from workbench.steps.session import install_shell_guard

    class Shell:
        user_ns: dict = {}

        def system(self, cmd: str) -> None:
            self.user_ns["_exit_code"] = 0 if cmd == "true" else 1

    shell = Shell()
    install_shell_guard(shell)
    install_shell_guard(shell)  # idempotent
    shell.system("true")
    with pytest.raises(ShellCommandError, match="`!false` exited with status 1"):
        shell.system("false")


def test_outcome_of_maps_decisions_and_failures() -> None:
    from workbench.errors import StepInterrupted, StoreLockedError
    from workbench.steps.runner import outcome_of

    class D:
        def __init__(self, code: int) -> None:
            self.exit_code = code

    assert outcome_of(D(0)) == ("GO", 0)
    assert outcome_of(D(3)) == ("NO-GO", 3)
    assert outcome_of(None) == ("FINISHED", 0)
    assert outcome_of(None, StepInterrupted("x")) == ("INTERRUPTED", 130)
    assert outcome_of(None, KeyboardInterrupt()) == ("INTERRUPTED", 130)
    assert outcome_of(None, ValueError("x")) == ("ERROR", 1)
    assert outcome_of(None, StoreLockedError("x"))[0] == "ERROR"


# -- contract rules whose SQL does not run -----------------------------------------------------


def test_a_row_check_whose_sql_does_not_run_is_a_contract_error_naming_the_rule(tmp_path: Path) -> None:
    from workbench.data.contracts import check_contract, load_contract

    csv, source = _items(tmp_path)
    db = tmp_path / "wh.duckdb"
    with writer(db) as con:
        ingest_source(con, "items", source, csv)
    contract = tmp_path / "items.yml"
    contract.write_text(
        "dataset: items\nowner: a@b.c\nversion: 1\ndescription: d\ncolumns:\n  id: {nullable: false}\n"
        "table:\n  row_checks:\n    positive: \"id > 0\"\n    broken: \"no_such_column > 0\"\n"
        "    garbled: \"id >>> 'x'\"\n    after: \"id < 1000000\"\n")
    with pytest.raises(ContractSpecError) as info:
        check_contract(db, load_contract(contract))
    msg = str(info.value)
    assert "items.row_check.broken: the SQL does not run" in msg and "no_such_column" in msg
    assert "items.row_check.garbled: the SQL does not run" in msg
    # a check that runs is not named, before the broken ones or after them (a failed statement
    # aborts DuckDB's transaction: `after` failed with "Current transaction is aborted")
    assert "items.row_check.positive" not in msg and "items.row_check.after" not in msg
    assert "transaction" not in msg and "2 row check(s)" in msg
    assert "items.yml:10" in msg  # the line of the broken rule
    assert "not in the data" in msg


def test_a_duckdb_error_is_told_by_its_reason_not_by_the_sql_position() -> None:
    """A binder error's second line is the SQL it failed on ("LINE 1: ...") and then a caret: the
    reason shown was that position, as `new` showed for a header of `class` and `Class`."""
    from workbench.data.warehouse import _duckdb_reason

    binder = ("Binder Error: Duplicate named argument \"Class\" in function call to \"struct_pack\"\n\n"
              "LINE 1: ...'like': 'VARCHAR', 'Class': 'VARCHAR'}, header=true\n                    ^")
    assert _duckdb_reason(binder) == "Duplicate named argument \"Class\" in function call to \"struct_pack\""
    sniff = ("Invalid Input Error: Error when sniffing file \"x.csv\".\nIt was not possible to automatically "
             "detect the CSV parsing dialect\nPossible fixes:\n* set delim")
    assert _duckdb_reason(sniff) == "It was not possible to automatically detect the CSV parsing dialect"
