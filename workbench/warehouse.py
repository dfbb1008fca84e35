"""The DuckDB warehouse: ingest declared sources, fingerprint tables, guard access.

One writer at a time (a file lock beside the database, with the holder written next to
it so the refusal can name it); notebooks open the file read-only. Every table is loaded
in its own transaction from a strict CSV read with the declared types: a malformed file
raises :class:`IngestError` with file, line, column and reason, and the previous table
stays as it was. A table's fingerprint (rows, schema, and a hash over every row computed
inside DuckDB) feeds the step cache keys and the pilot run's tags.
"""

from __future__ import annotations

import contextlib
import csv
import getpass
import hashlib
import json
import os
import re
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
from filelock import FileLock, Timeout

from ._sql import quote_ident
from .config import Charter, Source
from .errors import IngestError, WarehouseError, WarehouseLockedError

__all__ = [
    "TableFingerprint",
    "IngestResult",
    "writer",
    "write_lock",
    "connect_writable",
    "connect_read_only",
    "ingest_source",
    "ingest_all",
    "fingerprint",
    "table_columns",
    "file_sha256",
    "quote_ident",
]

META_TABLE = "_workbench_ingest"
_MAX_REPORTED = 10


@dataclass(frozen=True)
class TableFingerprint:
    table: str
    rows: int
    columns: tuple[tuple[str, str], ...]
    row_hash: str  # order-independent sum of per-row hashes, computed in DuckDB
    digest: str  # short stable id of (rows, schema, row_hash)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["columns"] = [list(c) for c in self.columns]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TableFingerprint:
        return cls(d["table"], int(d["rows"]), tuple(tuple(c) for c in d["columns"]), d["row_hash"], d["digest"])


@dataclass(frozen=True)
class IngestResult:
    table: str
    source: Path
    file_sha256: str
    fingerprint: TableFingerprint
    skipped: bool  # the file and declared types were unchanged since the last ingest
    seconds: float
    missing_columns: tuple[str, ...] = ()  # declared but absent from the file (left to the contract)


# -- access ---------------------------------------------------------------------------


def _lock_paths(db: Path) -> tuple[Path, Path]:
    return db.with_name(db.name + ".lock"), db.with_name(db.name + ".holder.json")


def _describe_pid(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        cmd = ""
    kernel = " (a Jupyter kernel)" if "ipykernel" in cmd else ""
    return f"PID {pid}{kernel}" + (f": {cmd[:160]}" if cmd else "")


def _locked_error(db: Path, exc: Exception | None, holder: str) -> WarehouseLockedError:
    return WarehouseLockedError(
        f"the warehouse is in use by {holder}",
        where=str(db),
        hint=(
            "wait for that process to finish, or stop it (in JupyterLab: Kernel > Shut Down Kernel, "
            "or close the notebook's warehouse connection with `con.close()`), then run again"
        ),
    )


def _duckdb_holder(exc: Exception) -> str | None:
    m = re.search(r"PID (\d+)", str(exc))
    if "lock" in str(exc).lower():
        return _describe_pid(int(m.group(1))) if m else "another process"
    return None


@contextlib.contextmanager
def write_lock(db: Path, *, wait_seconds: float = 0.0) -> Iterator[None]:
    """The warehouse's writer lock, with the holder recorded; refuses (never hangs) when taken."""
    db = Path(db)
    db.parent.mkdir(parents=True, exist_ok=True)
    lock_path, holder_path = _lock_paths(db)
    lock = FileLock(str(lock_path), timeout=wait_seconds)
    try:
        lock.acquire()
    except Timeout:
        try:
            info = json.loads(holder_path.read_text())
            holder = f"{_describe_pid(int(info['pid']))} on {info['host']} (user {info['user']}, since {info['since']})"
        except (OSError, ValueError, KeyError):
            holder = "another workbench writer"
        raise _locked_error(db, None, holder) from None
    try:
        holder_path.write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "user": getpass.getuser(),
                    "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "argv": sys.argv[:6],
                }
            )
        )
        yield
    finally:
        with contextlib.suppress(OSError):
            holder_path.unlink()
        lock.release()


def _connect(db: Path, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """Open the file; a lock held by another process becomes a refusal naming it."""
    try:
        return duckdb.connect(str(db), read_only=read_only)
    except duckdb.Error as exc:
        holder = _duckdb_holder(exc)
        if holder:
            raise _locked_error(db, exc, holder) from exc
        mode = "read-only" if read_only else "for writing"
        raise WarehouseError(f"cannot open the warehouse {mode}: {exc}", where=str(db),
                             hint="check the file is a DuckDB database and not corrupt") from exc


def connect_writable(db: Path) -> duckdb.DuckDBPyConnection:
    """A read-write connection; call it under :func:`write_lock`."""
    return _connect(Path(db), read_only=False)


@contextlib.contextmanager
def writer(db: Path, *, wait_seconds: float = 0.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """The one read-write connection, under the writer lock; refuses (never hangs) when taken."""
    with write_lock(db, wait_seconds=wait_seconds):
        con = connect_writable(Path(db))
        try:
            yield con
        finally:
            con.close()


def connect_read_only(db: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection for notebooks; a live writer gets a clear refusal."""
    db = Path(db)
    if not db.is_file():
        raise WarehouseError(
            "the warehouse does not exist yet",
            where=str(db),
            hint="run `make pilot` (or `workbench ingest`) to build it from the charter's sources",
        )
    return _connect(db, read_only=True)


# -- fingerprints ---------------------------------------------------------------------


_q = quote_ident  # short alias used below (and imported by workbench.modeling.data)


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return {name: typ for name, typ in rows}


def fingerprint(con: duckdb.DuckDBPyConnection, table: str) -> TableFingerprint:
    """Rows, schema and an order-independent hash over every row, all computed in DuckDB."""
    cols = table_columns(con, table)
    if not cols:
        raise WarehouseError(f"table '{table}' does not exist", where="warehouse",
                             hint="ingest it first (`workbench ingest`)")
    col_list = ", ".join(_q(c) for c in cols)
    # sum of per-row hashes: independent of row order, sensitive to duplicates and values
    rows, hsum = con.execute(
        f"SELECT count(*), coalesce(sum(hash({col_list})::HUGEINT), 0)::VARCHAR FROM {_q(table)}"
    ).fetchall()[0]
    schema = tuple(cols.items())
    digest = hashlib.sha256(json.dumps([table, rows, schema, hsum]).encode()).hexdigest()[:16]
    return TableFingerprint(table, int(rows), schema, str(hsum), digest)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# -- ingest ---------------------------------------------------------------------------


def _ensure_meta(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {META_TABLE} (table_name VARCHAR PRIMARY KEY, source VARCHAR, "
        "file_sha256 VARCHAR, declared VARCHAR, fingerprint VARCHAR, ingested_at TIMESTAMP)"
    )


def _check_header(path: Path, source: Source) -> list[str]:
    """Header names against the declared columns: line 1, with the missing/extra names.

    Returns the declared columns the file lacks when that is the only problem and the
    source has a contract: the table is loaded without them and the contract check
    reports each one as a broken rule, together with every other broken rule, instead
    of stopping at the first problem. Without a contract nothing else would catch it, so
    it is an error here."""
    if source.format != "csv" or not source.csv.header:
        return []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            header = next(csv.reader(f, delimiter=source.csv.delimiter, quotechar=source.csv.quote), [])
    except UnicodeDecodeError as exc:
        raise IngestError(f"file is not UTF-8 text ({exc.reason} at byte {exc.start})", where=f"{path}",
                          hint="re-export the file as UTF-8") from exc
    declared = list(source.columns)
    if header == declared:
        return []
    missing = [c for c in declared if c not in header]
    extra = [c for c in header if c not in declared]
    in_order = [c for c in declared if c in header] == [c for c in header if c in declared]
    if missing and not extra and in_order and source.contract is not None and len(missing) < len(declared):
        return missing
    parts = []
    if missing:
        parts.append(f"missing column(s) {', '.join(missing)}")
    if extra:
        parts.append(f"undeclared column(s) {', '.join(extra)}")
    if not parts:
        parts.append(f"columns are in a different order: {', '.join(header)}")
    raise IngestError(
        "header does not match the declared columns: " + "; ".join(parts),
        where=f"{path}:1",
        hint=f"fix the file, or the `columns:` of this source in the charter (declared: {', '.join(declared)})",
    )


def _lit(s: str) -> str:
    """A SQL string literal (read_csv's `columns` keys are column names as strings)."""
    return "'" + s.replace("'", "''") + "'"


def _read_sql(path: Path, source: Source, missing: list[str] = ()) -> str:
    if source.format == "parquet":
        cols = ", ".join(f"CAST({_q(c)} AS {t}) AS {_q(c)}" for c, t in source.columns.items())
        return f"SELECT {cols} FROM read_parquet({_lit(str(path))})"
    o = source.csv
    lit = _lit
    columns = "{" + ", ".join(f"{lit(c)}: {lit(t)}" for c, t in source.columns.items() if c not in missing) + "}"
    nulls = lit(o.null_string) if isinstance(o.null_string, str) else "[" + ", ".join(map(lit, o.null_string)) + "]"
    return (
        f"SELECT * FROM read_csv({lit(str(path))}, columns={columns}, header={str(o.header).lower()}, "
        f"delim={lit(o.delimiter)}, quote={lit(o.quote)}, nullstr={nulls}, auto_detect=false, "
        "strict_mode=true, store_rejects=true, rejects_table='_wb_rejects', rejects_scan='_wb_rejects_scan', "
        f"rejects_limit={_MAX_REPORTED * 10})"
    )


def ingest_source(
    con: duckdb.DuckDBPyConnection, name: str, source: Source, path: Path, *, force: bool = False
) -> IngestResult:
    """Load one source into table ``name`` in one transaction; skip if nothing changed."""
    start = time.perf_counter()
    if not path.is_file():
        raise IngestError("source file not found", where=str(path), hint="run `make data`, or fix the source's path")
    sha = file_sha256(path)
    declared = json.dumps(source.model_dump(mode="json", exclude={"contract", "description", "path"}), sort_keys=True)
    _ensure_meta(con)
    found = con.execute(f"SELECT file_sha256, declared, fingerprint FROM {META_TABLE} WHERE table_name = ?", [name]).fetchall()
    prev = found[0] if found else None
    if not force and prev and prev[0] == sha and prev[1] == declared and table_columns(con, name):
        fp = fingerprint(con, name)
        if fp.digest == json.loads(prev[2])["digest"]:  # nobody edited the table since
            return IngestResult(name, path, sha, fp, True, time.perf_counter() - start)
    missing = _check_header(path, source)
    con.execute("BEGIN TRANSACTION")
    try:
        try:
            con.execute(f"CREATE OR REPLACE TABLE {_q(name)} AS {_read_sql(path, source, missing)}")
        except duckdb.Error as exc:
            raise _ingest_error(path, exc) from exc
        if source.format == "csv":
            rejects = con.execute(
                "SELECT line, column_idx, column_name, error_type, error_message FROM _wb_rejects ORDER BY line"
            ).fetchall()
            if rejects:
                raise _rejects_error(path, rejects)
        fp = fingerprint(con, name)
        con.execute(
            f"INSERT OR REPLACE INTO {META_TABLE} VALUES (?, ?, ?, ?, ?, now())",
            [name, str(path), sha, declared, json.dumps(fp.to_dict())],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        with contextlib.suppress(duckdb.Error):
            con.execute("DROP TABLE IF EXISTS _wb_rejects; DROP TABLE IF EXISTS _wb_rejects_scan")
    return IngestResult(name, path, sha, fp, False, time.perf_counter() - start, tuple(missing))


def _rejects_error(path: Path, rejects: list[tuple]) -> IngestError:
    lines = []
    for line, col_idx, col_name, kind, message in rejects[:_MAX_REPORTED]:
        col = f"column {col_idx}" + (f" ('{col_name}')" if col_name else "")
        lines.append(f"{path}:{line}: {col}: {kind.lower()}: {message.splitlines()[0]}")
    more = f"\n  ... and {len(rejects) - _MAX_REPORTED} more" if len(rejects) > _MAX_REPORTED else ""
    return IngestError(
        f"{len(rejects)} malformed row(s); the previous table is unchanged:\n  " + "\n  ".join(lines) + more,
        where=str(path),
        hint="fix those lines in the file (or the declared column types in the charter), then run again",
    )


def _ingest_error(path: Path, exc: Exception) -> IngestError:
    text = str(exc)
    line = re.search(r"Line: (\d+)", text)
    first = next((ln for ln in text.splitlines()[1:] if ln.strip() and not ln.startswith("Original Line")), text)
    return IngestError(
        f"cannot load the file: {first.strip()}",
        where=f"{path}:{line.group(1)}" if line else str(path),
        hint="fix the file at that line (or its declared format in the charter); the previous table is unchanged",
    )


def ingest_all(con: duckdb.DuckDBPyConnection, charter: Charter, *, force: bool = False) -> list[IngestResult]:
    return [
        ingest_source(con, name, src, charter.resolve(src.path), force=force) for name, src in charter.sources.items()
    ]
