"""The DuckDB warehouse: ingest declared sources, fingerprint tables, guard access.

One writer at a time (a file lock beside the database, with the holder written next to
it so the refusal can name it); notebooks open the file read-only. Every table is loaded
in its own transaction from a strict CSV read with the declared types: a malformed file
raises :class:`IngestError` with file, line, column and reason, and the previous table
stays as it was. A table's fingerprint (rows, schema, and a hash over every row computed
inside DuckDB) feeds the step cache keys and the pilot run's tags.

Strict values. DuckDB's own CSV casts are lenient: ``14.6`` into BIGINT becomes 15,
``0x10`` becomes 16, ``1e400`` into DOUBLE becomes infinity, a DATE drops a time of day.
So every typed column is read as text and cast in the same statement only after a check
that the text *is* a value of its type (whole numbers for integers, at most the declared
decimal places, no hex, no overflow, no dropped time or offset); the first bad value
aborts the load, then a diagnostic pass lists every bad value with its file, line and
column. Values of columns the source's contract marks ``pii: true`` are never quoted.

Personal data. Ingest records the contract's PII columns in ``_workbench_pii`` inside the
warehouse, so whatever reads the warehouse (profiles, the modeling data, the runner's
redaction of notebook outputs and failure messages) knows them: :func:`pii_columns`,
:func:`redact`.

Storage faults (disk full, read-only folder, corrupt file) become a :class:`WarehouseError`
naming the file, the cause and the recovery (:func:`storage_error`); a failed ROLLBACK
never hides the error that caused it. :func:`rebuild` re-ingests every source into a fresh
file and swaps it in, without touching the MLflow store.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import getpass
import hashlib
import json
import os
import re
import socket
import sys
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
from filelock import FileLock, Timeout

from .previous import keep_previous
from .redaction import project_vocabulary, withhold
from .sql import quote_ident
from ..charter.config import Charter, Source
from ..errors import IngestError, WarehouseError, WarehouseLockedError, WorkbenchError
from ..files import open_source

__all__ = [
    "TableFingerprint",
    "file_columns",
    "nested_type",
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
    "declared_of",
    "quote_ident",
    "pii_columns",
    "charter_pii",
    "charter_names",
    "redact",
    "rebuild",
    "storage_error",
    "REBUILD_HINT",
]

META_TABLE = "_workbench_ingest"
PII_TABLE = "_workbench_pii"
LOADER_VERSION = 2  # 2: strict values (exact parses only)
_MAX_REPORTED = 10
REBUILD_HINT = ("rebuild the warehouse from the raw files: `workbench rebuild` (add `--pilot PATH` for another "
                "charter; about 10 s for the demo, and the MLflow runs, models and decisions are not touched), "
                "then run again")


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
    if re.search(r"\block\b", str(exc).lower()):  # not "block" (a damaged file names its blocks)
        return _describe_pid(int(m.group(1))) if m else "another process"
    return None


_CORRUPT = ("corrupt database file", "not a valid duckdb database", "checksum", "database has been invalidated",
            "malformed", "failed to read database header", "invalid database file", "serialization error")
_NO_SPACE = ("no space left on device", "disk is full", "disk full", "quota exceeded")
_NOT_WRITABLE = ("read-only file system", "permission denied", "readonly database", "operation not permitted")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:300]


def storage_error(exc: BaseException, file: Path | str, *, doing: str) -> WarehouseError | None:
    """A :class:`WarehouseError` naming ``file``, the cause and the recovery when ``exc`` is a
    storage fault (disk full, no write permission, a corrupt file, any other I/O error);
    None for anything else (a SQL or data problem), which the caller reports itself."""
    if isinstance(exc, WorkbenchError):
        return None
    code = getattr(exc, "errno", None)
    low = str(exc).lower()
    folder = Path(file).parent
    if code in (errno.ENOSPC, errno.EDQUOT) or any(k in low for k in _NO_SPACE):
        return WarehouseError(
            f"the disk is full: {doing} failed ({_first_line(exc)})", where=str(file),
            hint=f"free space on the disk that holds {folder} (`df -h {folder}`), then run again; "
            "a table whose load failed keeps its previous contents")
    if code in (errno.EACCES, errno.EROFS, errno.EPERM) or any(k in low for k in _NOT_WRITABLE):
        return WarehouseError(
            f"no permission to write: {doing} failed ({_first_line(exc)})", where=str(file),
            hint=f"make {folder} and the files in it writable by this user (or point the charter's `warehouse:` "
            "at a writable folder), then run again")
    if any(k in low for k in _CORRUPT) or type(exc).__name__ in ("FatalException", "SerializationException"):
        return WarehouseError(f"the warehouse file is damaged: {doing} failed ({_first_line(exc)})",
                              where=str(file), hint=REBUILD_HINT)
    if isinstance(exc, (OSError, duckdb.IOException)):
        return WarehouseError(f"an I/O error: {doing} failed ({_first_line(exc)})", where=str(file),
                              hint="check the disk and the file's permissions and run again; if the file is damaged, "
                              + REBUILD_HINT)
    return None


def _db_file(con: duckdb.DuckDBPyConnection) -> str:
    """The file behind a connection (for messages); "the warehouse" when in memory."""
    with contextlib.suppress(duckdb.Error):
        row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
        if row and row[0]:
            return str(row[0])
    return "the warehouse"


@contextlib.contextmanager
def write_lock(db: Path, *, wait_seconds: float = 0.0) -> Iterator[None]:
    """The warehouse's writer lock, with the holder recorded; refuses (never hangs) when taken."""
    db = Path(db)
    lock_path, holder_path = _lock_paths(db)
    lock = FileLock(str(lock_path), timeout=wait_seconds)
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except Timeout:  # before OSError: filelock's Timeout is a TimeoutError
        try:
            info = json.loads(holder_path.read_text())
            holder = f"{_describe_pid(int(info['pid']))} on {info['host']} (user {info['user']}, since {info['since']})"
        except (OSError, ValueError, KeyError):
            holder = "another workbench writer"
        raise _locked_error(db, None, holder) from None
    except OSError as exc:
        raise storage_error(exc, lock_path, doing="taking the warehouse's writer lock") from exc  # type: ignore[misc]
    try:
        with contextlib.suppress(OSError):  # the lock holds without it; only the refusal's detail is lost
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
    if not read_only:
        release(db)  # DuckDB opens a file one way in a process: a writer here ends the kept reader
    try:
        return duckdb.connect(str(db), read_only=read_only)
    except duckdb.Error as exc:
        holder = _duckdb_holder(exc)
        if holder:
            raise _locked_error(db, exc, holder) from exc
        mode = "read-only" if read_only else "for writing"
        storage = storage_error(exc, db, doing=f"opening the warehouse {mode}")
        if storage is not None:
            raise storage from exc
        raise WarehouseError(f"cannot open the warehouse {mode}: {_first_line(exc)}", where=str(db),
                             hint="check the file is a DuckDB database; if it is damaged, " + REBUILD_HINT) from exc


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
        except BaseException:
            with contextlib.suppress(duckdb.Error):  # the error in flight is the one to report
                con.close()
            raise
        try:
            con.close()  # checkpoints the WAL into the file: can meet a full disk too
        except duckdb.Error as exc:
            raise (storage_error(exc, db, doing="saving the warehouse (checkpoint)")
                   or WarehouseError(f"cannot close the warehouse: {_first_line(exc)}", where=str(db),
                                     hint=REBUILD_HINT)) from exc


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


_KEPT: dict[str, duckdb.DuckDBPyConnection] = {}  # keep_open(): one read-only connection a file


def keep_open(db: Path) -> bool:
    """Hold a read-only connection to ``db`` until :func:`release` (or a writer in this process):
    meanwhile every :func:`connect_read_only` shares its open database — DuckDB keeps one a file
    and process — instead of opening the file again (~15 ms each; a headless evaluate step made
    ~30). Writers elsewhere are refused the whole time, so only for a bounded stretch (a cell of a
    headless step), never a person's kernel. True when this call opened it."""
    key = str(Path(db).resolve())
    if key in _KEPT:
        return False
    _KEPT[key] = connect_read_only(db)
    return True


def release(db: Path) -> None:
    """Close what :func:`keep_open` holds on ``db`` (nothing held: nothing to do)."""
    con = _KEPT.pop(str(Path(db).resolve()), None)
    if con is not None:
        with contextlib.suppress(duckdb.Error):
            con.close()


# -- fingerprints ---------------------------------------------------------------------


_q = quote_ident  # short alias used below


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


def declared_of(source: Source) -> str:
    """What ingest records of a source's declaration: a load is current while this and the
    file's hash are unchanged (then ingest skips it)."""
    # the loader's version is part of what was declared: a table loaded by the lenient
    # loader before strict values (which rounded 14.6 into 15) is checked again, once
    declared = source.model_dump(mode="json", exclude={"contract", "description", "path"})
    if declared["csv"]["decimal"] == ".":  # the default, added later: tables loaded before stay current
        del declared["csv"]["decimal"]
    return json.dumps({**declared, "loader": LOADER_VERSION}, sort_keys=True)


def _ensure_meta(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {META_TABLE} (table_name VARCHAR PRIMARY KEY, source VARCHAR, "
        "file_sha256 VARCHAR, declared VARCHAR, fingerprint VARCHAR, ingested_at TIMESTAMP)"
    )


def _header(path: Path, source: Source) -> list[str]:
    """The names on line 1 of a CSV source file (a UTF-8 byte-order mark skipped)."""
    _check_encoding(path)
    try:
        with open_source(path) as f:
            first = f.readline()  # the header alone: a bad byte further down is DuckDB's to place
        if not first:
            raise IngestError("the file is empty: no header, no rows", where=str(path),
                              hint="export the table again, with its header row, and check the export finished; "
                                   "the previous table is unchanged")
        text = first.decode("utf-8-sig")
        return next(csv.reader([text.rstrip("\r\n")], delimiter=source.csv.delimiter, quotechar=source.csv.quote), [])
    except UnicodeDecodeError as exc:
        raise _encoding_error(path, f"{exc.reason} at byte {exc.start}", 1) from exc
    except OSError as exc:
        raise (storage_error(exc, path, doing="reading the source file")
               or IngestError(f"cannot read the file: {exc}", where=str(path))) from exc


def file_columns(con: duckdb.DuckDBPyConnection, path: Path, source: Source) -> list[str] | None:
    """The columns a source file holds (a CSV's header, a Parquet file's schema); None when the
    format does not say (JSON lines, a CSV without a header) or the file cannot be read as
    one (loading it says why, with the file and the fix)."""
    if source.format == "parquet":
        try:
            return list(_parquet_types(con, path))
        except duckdb.Error:
            return None
    if source.format == "csv" and source.csv.header:
        return _header(path, source)
    return None


def _check_header(path: Path, source: Source) -> list[str]:
    """Header names against the declared columns: line 1, with the missing/extra names.

    Returns the declared columns the file lacks when that is the only problem and the
    source has a contract: the table is loaded without them and the contract check
    reports each one as a broken rule, together with every other broken rule, instead
    of stopping at the first problem. Without a contract nothing else would catch it, so
    it is an error here. A UTF-8 byte-order mark (Excel's "CSV UTF-8") is skipped; a
    UTF-16 file or one that is not UTF-8 is refused with how to re-save it."""
    if source.format != "csv" or not source.csv.header:
        return []
    header = _header(path, source)
    declared = list(source.columns)
    # SQL names ignore case: `class` and `Class` are one column to DuckDB, which reads the second as Class_1
    folded = [h.lower() for h in header]
    twice = [c for c in dict.fromkeys(folded) if c.strip() and folded.count(c) > 1]
    if header == declared and not twice:
        return []
    missing = [c for c in declared if c not in header]
    extra = [c for c in header if c not in declared]
    in_order = [c for c in declared if c in header] == [c for c in header if c in declared]
    if missing and not extra and in_order and source.contract is not None and len(missing) < len(declared):
        return missing
    parts = []
    # a spreadsheet's export often carries empty columns beside the data: headed by nothing (`a,b,,`)
    unnamed = [str(i + 1) for i, h in enumerate(header) if not h.strip()]
    if unnamed:
        parts.append(f"column(s) {', '.join(unnamed)} have no name")
    if twice:  # DuckDB would read the second as a_1: which one is meant cannot be told
        named = {c: list(dict.fromkeys(h for h in header if h.lower() == c)) for c in twice}
        parts.append("column(s) named more than once: " + ", ".join(
            f"{' and '.join(named[c])} (columns {', '.join(str(i + 1) for i, h in enumerate(folded) if h == c)}"
            f"{'; names that differ only in case are one name to SQL' if len(named[c]) > 1 else ''})"
            for c in twice))
    extra = [c for c in extra if c.strip()]
    if missing:
        parts.append(f"missing column(s) {', '.join(missing)}")
    if extra:
        parts.append(f"undeclared column(s) {', '.join(extra)}")
    if not parts:
        parts.append(f"columns are in a different order: {', '.join(header)}")
    if (unnamed or twice) and not extra and not missing:
        hint = "give every column of the header its own name"
        if unnamed:
            hint = ("empty columns beside a spreadsheet's data are exported so: delete them (select the columns, "
                    "Delete, save again) or " + hint)
    else:
        hint = f"fix the file, or the `columns:` of this source in the charter (declared: {', '.join(declared)})"
    raise IngestError("header does not match the declared columns: " + "; ".join(parts), where=f"{path}:1",
                      hint=hint)


def _encoding_hint(source: str = "LATIN1") -> str:
    """``source``: the encoding `iconv` converts from (Windows' Latin-1 unless the byte-order
    mark says UTF-16 or UTF-32)."""
    return ("re-save the file as UTF-8 (Excel: File > Save As > \"CSV UTF-8 (Comma delimited)\"; "
            f"or `iconv -f {source} -t UTF-8 in.csv > out.csv`), then run again")


def _encoding_error(path: Path, detail: str, line: int | None = None, source: str = "LATIN1") -> IngestError:
    return IngestError(f"the file is not UTF-8 text ({detail})", where=f"{path}:{line}" if line else str(path),
                       hint=_encoding_hint(source))


def _check_encoding(path: Path) -> None:
    """Refuse UTF-16/32 files up front (their byte-order mark says so): DuckDB would read
    them as garbage. A UTF-8 byte-order mark is fine (DuckDB and the header check skip it)."""
    try:
        with open_source(path) as f:
            start = f.read(4)
    except OSError as exc:
        raise (storage_error(exc, path, doing="reading the source file")
               or IngestError(f"cannot read the file: {exc}", where=str(path))) from exc
    for bom, name in ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
                      (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16")):
        if start.startswith(bom):
            raise _encoding_error(path, f"it is {name}, e.g. Excel's \"Unicode Text\"", source=name)


def _lit(s: str) -> str:
    """A SQL string literal (read_csv's `columns` keys are column names as strings)."""
    return "'" + s.replace("'", "''") + "'"


# -- strict values ----------------------------------------------------------------------

_INTEGRAL = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
             "UBIGINT", "UHUGEINT"}
_FLOATS = {"FLOAT", "DOUBLE"}
_TIMESTAMP_DIGITS = {"TIMESTAMP": 6, "TIMESTAMP WITH TIME ZONE": 6, "TIMESTAMP_S": 0, "TIMESTAMP_MS": 3,
                     "TIMESTAMP_NS": 9}
_SENTINEL = "workbench: a value does not parse as its declared type"
_NUMBER_RE = r"\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*"
_NON_FINITE_RE = r"(?i)\s*[+-]?(inf|infinity|nan)\s*"
_OFFSET_RE = r"[0-9]:[0-9]{2}(:[0-9]{2}([.,][0-9]*)?)?\s*[+-][0-9]{1,2}(:?[0-9]{2})?\s*$"


def _canonical_types(con: duckdb.DuckDBPyConnection, columns: dict[str, str]) -> dict[str, str]:
    """DuckDB's own names for the declared types (aliases resolved, DECIMAL with its width)."""
    names = list(columns)
    sql = ", ".join(f"typeof(CAST(NULL AS {columns[c]}))" for c in names)
    try:
        row = con.execute(f"SELECT {sql}").fetchone() if names else ()
    except duckdb.Error:  # an unknown type: the typed read reports it with its column
        return {c: columns[c].upper() for c in names}
    return {c: str(t).upper() for c, t in zip(names, row, strict=True)}


@dataclass(frozen=True)
class _Rule:
    """SQL over the text ``v`` and its cast ``t`` (``TRY_CAST(v AS type)``) of a non-null value:
    ``fast`` accepts the common, canonical spellings cheaply (None: no shortcut), ``ok`` is
    the full test, ``why`` says what is wrong with a value ``ok`` refuses."""

    fast: str | None
    ok: str
    why: str


def text_format(typ: str, csv: Any) -> str | None:
    """The strptime format a CSV's charter declares for a column of type ``typ`` (canonical
    name): ``csv.dateformat`` for DATE, ``csv.timestampformat`` for a TIMESTAMP; None: ISO."""
    if csv is None:
        return None
    if typ == "DATE":
        return csv.dateformat
    return csv.timestampformat if typ.startswith("TIMESTAMP") else None


def text_value(q: str, typ: str, csv: Any) -> str:
    """SQL: a CSV column's text as the value rules read it. With the charter's ``csv: decimal:
    ","``, a FLOAT, DOUBLE or DECIMAL value's comma and point swap places (1234,5 reads as
    1234.5); a point it held, a thousands separator, becomes a comma, which no number takes."""
    if csv is not None and csv.decimal == "," and (typ in _FLOATS or typ.startswith("DECIMAL")):
        return f"translate({q}, ',.', '.,')"
    return q


def text_cast(q: str, typ: str, fmt: str | None = None) -> str:
    """SQL: the text ``q`` as ``typ`` or NULL — through ``try_strptime`` when a format is given."""
    return f"TRY_CAST(try_strptime({q}, {_lit(fmt)}) AS {typ})" if fmt else f"TRY_CAST({q} AS {typ})"


def _value_rule(v: str, t: str, typ: str, fmt: str | None = None) -> _Rule | None:
    """The exactness rule of a column of DuckDB type ``typ`` (canonical name); None for text
    types, which take any value as it is. ``fmt``: the charter's strptime format of a DATE or
    TIMESTAMP column (``t`` then casts through it), which every value must match whole."""
    if typ == "VARCHAR" or typ.startswith("VARCHAR("):
        return None
    if fmt:
        what = "date" if typ == "DATE" else typ.lower()
        key = "dateformat" if typ == "DATE" else "timestampformat"
        return _Rule(None, f"{t} IS NOT NULL", _lit(f"is not a {what} written {fmt} (the charter's csv: {key})"))
    cast = f"{t} IS NOT NULL"
    if typ in _INTEGRAL:
        shape = rf"regexp_full_match({v}, '\s*[+-]?[0-9]+\s*')"
        return _Rule(f"{t}::VARCHAR = {v}", f"({cast} AND {shape})",
                     f"CASE WHEN NOT {shape} THEN 'is not a whole number (no decimals, exponent or hex for {typ})' "
                     f"ELSE 'is out of range for {typ}' END")
    m = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", typ)
    if m:
        scale = int(m.group(2))
        frac = r"(\.[0-9]{0," + str(scale) + r"})?|\.[0-9]{1," + str(scale) + "}" if scale else r"\.?"
        shape = rf"regexp_full_match({v}, '\s*[+-]?([0-9]+{frac})\s*')"
        number = rf"regexp_full_match({v}, '\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)\s*')"
        return _Rule(None, f"({cast} AND {shape})",
                     f"CASE WHEN NOT {number} THEN 'is not a decimal number (no exponent or hex for {typ})' "
                     f"WHEN NOT {shape} THEN 'has more than {scale} decimal place(s): {typ} would round it' "
                     f"ELSE 'is out of range for {typ}' END")
    if typ in _FLOATS:
        # DuckDB's float parser already refuses hex and thousands separators; what it lets
        # through is `1_000` and overflow to infinity (inf and nan are accepted by name)
        special = f"regexp_full_match({v}, '{_NON_FINITE_RE}')"
        shape = f"regexp_full_match({v}, '{_NUMBER_RE}')"
        plain = f"NOT contains({v}, '_')"
        return _Rule(f"(isfinite({t}) AND {plain})", f"({cast} AND {plain} AND (isfinite({t}) OR {special}))",
                     f"CASE WHEN NOT {shape} THEN 'is not a number (decimal or scientific notation; "
                     f"inf and nan are accepted by name)' ELSE 'is beyond the range of {typ} (it would become infinity)' END")
    if typ == "DATE":
        timed = f"coalesce(TRY_CAST({v} AS TIMESTAMP) <> {t}::TIMESTAMP, false)"
        return _Rule(f"({cast} AND length({v}) <= 10)", f"({cast} AND NOT {timed})",
                     f"CASE WHEN NOT {cast} THEN 'is not a date (YYYY-MM-DD)' "
                     "ELSE 'has a time of day, which a DATE column would drop (declare TIMESTAMP)' END")
    if typ in _TIMESTAMP_DIGITS or typ in ("TIME", "TIME WITH TIME ZONE"):
        digits = _TIMESTAMP_DIGITS.get(typ, 6)
        extra = f"regexp_matches({v}, ':[0-9]{{2}}[.,][0-9]{{{digits + 1},}}')"
        parts, reasons = [f"NOT {extra}"], [f"WHEN {extra} THEN 'has more than {digits} fractional second digit(s): "
                                             f"{typ} would truncate it'"]
        fast = f"({cast} AND NOT contains({v}, '.') AND NOT contains({v}, ','))"  # no fraction to cut
        if typ in ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"):
            offset = f"regexp_matches({v}, '{_OFFSET_RE}')"
            parts.append(f"NOT {offset}")
            reasons.append(f"WHEN {offset} THEN 'has a UTC offset, which {typ} would drop (declare TIMESTAMPTZ)'")
            fast = f"({cast} AND length({v}) <= 19)"  # YYYY-MM-DD HH:MM:SS: no fraction, no offset
        return _Rule(fast, f"({cast} AND {' AND '.join(parts)})",
                     f"CASE WHEN NOT {cast} THEN 'is not a {typ.lower()}' {' '.join(reasons)} ELSE 'is malformed' END")
    return _Rule(None, cast, f"'is not a {typ}'")


def _rule_for(v: str, t: str, typ: str, src: str, fmt: str | None = None) -> _Rule | None:
    """The rule for a value read as ``src`` (CSV: VARCHAR; Parquet: the file's type)."""
    if src == typ:
        return None
    if src == "VARCHAR":
        return _value_rule(v, t, typ, fmt)
    # Parquet with another type: the value must survive the round trip (14.6 -> 15 -> 15.0 does not)
    return _Rule(None, f"coalesce(CAST({t} AS {src}) = {v}, false)",
                 f"'cannot be stored as {typ} without changing it (the file has {src})'")


def _csv_scan(path: Path, source: Source, missing: Sequence[str] = (), *, rejects: str) -> str:
    """read_csv of the file with every present column as text (the checks come after)."""
    o = source.csv
    lit = _lit
    columns = "{" + ", ".join(f"{lit(c)}: 'VARCHAR'" for c in source.columns if c not in missing) + "}"
    nulls = lit(o.null_string) if isinstance(o.null_string, str) else "[" + ", ".join(map(lit, o.null_string)) + "]"
    return (
        f"read_csv({lit(str(path))}, columns={columns}, header={str(o.header).lower()}, "
        f"delim={lit(o.delimiter)}, quote={lit(o.quote)}, nullstr={nulls}, auto_detect=false, "
        f"strict_mode=true, store_rejects=true, rejects_table='{rejects}', rejects_scan='{rejects}_scan', "
        f"rejects_limit={_MAX_REPORTED * 10})"
    )


def json_scan(path: Path | str, source: Source) -> str:
    """read_json of a JSONL file (one object a line) with every declared column as text, as
    a CSV is read: the declared types are then checked value by value, exactly. A key absent
    from a line is a null; keys not declared are ignored."""
    columns = "{" + ", ".join(f"{_lit(c)}: 'VARCHAR'" for c in source.columns) + "}"
    return f"read_json({_lit(str(path))}, format='newline_delimited', columns={columns})"


def nested_type(duck_type: str) -> bool:
    """A DuckDB list, array, struct, map or union type (``VARCHAR[]``, ``STRUCT(k BIGINT)``):
    a Parquet column declared VARCHAR holds its values as JSON text (DuckDB's own text for a
    struct, ``{'k': 1}``, does not cast back, and was refused as changed)."""
    t = duck_type.strip().upper()
    return t.endswith("]") or t.startswith(("STRUCT(", "MAP(", "UNION("))


def _parquet_types(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str]:
    rows = con.execute(f"DESCRIBE SELECT * FROM read_parquet({_lit(str(path))})").fetchall()
    return {r[0]: str(r[1]).upper() for r in rows}


def _load_select(source: Source, types: dict[str, str], missing: Sequence[str], scan: str,
                 raw: dict[str, str] | None = None) -> str:
    """SELECT that casts each column to its declared type, aborting on the first value that
    is not exactly one (``raw``: the file's own types, for Parquet; CSV columns are text).
    Each value is cast once (the inner SELECT); canonical spellings pass the fast test."""
    inner, outer = [], []
    csv = source.csv if source.format == "csv" else None
    for i, c in enumerate(c for c in source.columns if c not in missing):
        q, typ = _q(c), types[c]
        v, t = f"_wb_v{i}", f"_wb_t{i}"
        if typ == "VARCHAR" and nested_type((raw or {}).get(c, "VARCHAR")):  # a list or a struct: its JSON text
            inner.append(f"CAST(to_json({q}) AS VARCHAR) AS {v}")
            outer.append(f"{v} AS {q}")
            continue
        fmt = text_format(typ, csv)
        rule = _rule_for(v, t, typ, (raw or {}).get(c, "VARCHAR"), fmt)
        if rule is None:
            inner.append(f"{q} AS {v}")
            outer.append(f"{v}::{typ} AS {q}" if (raw or {}).get(c, "VARCHAR") != typ else f"{v} AS {q}")
            continue
        text = text_value(q, typ, csv)
        inner += [f"{text} AS {v}", f"{text_cast(text, typ, fmt)} AS {t}"]
        fast = f"WHEN {rule.fast} THEN {t} " if rule.fast else ""
        outer.append(f"CASE WHEN {v} IS NULL THEN NULL {fast}WHEN {rule.ok} THEN {t} "
                     f"ELSE error({_lit(_SENTINEL)}) END AS {q}")
    return f"SELECT {', '.join(outer)} FROM (SELECT {', '.join(inner)} FROM {scan})"


# -- load ------------------------------------------------------------------------------


def ingest_source(
    con: duckdb.DuckDBPyConnection, name: str, source: Source, path: Path, *, force: bool = False,
    pii: Collection[str] | None = None,
) -> IngestResult:
    """Load one source into table ``name`` in one transaction; skip if nothing changed.

    ``pii``: the source's personal-data columns, whose values error messages never quote
    (:func:`charter_pii` reads them from the contracts); None when unknown, which masks
    every value of a source that has a contract."""
    start = time.perf_counter()
    if not path.is_file():
        raise IngestError("source file not found", where=str(path), hint="run `make data`, or fix the source's path")
    masked = frozenset(source.columns) if pii is None and source.contract is not None else frozenset(pii or ())
    db = _db_file(con)
    try:
        sha = file_sha256(path)
    except OSError as exc:
        raise (storage_error(exc, path, doing="reading the source file")
               or IngestError(f"cannot read the file: {exc}", where=str(path))) from exc
    declared = declared_of(source)
    try:
        _ensure_meta(con)
        found = con.execute(f"SELECT file_sha256, declared, fingerprint FROM {META_TABLE} WHERE table_name = ?",
                            [name]).fetchall()
        prev = found[0] if found else None
        if pii is not None or source.contract is None:
            _record_pii(con, name, masked)
        if not force and prev and prev[0] == sha and prev[1] == declared and table_columns(con, name):
            fp = fingerprint(con, name)
            if fp.digest == json.loads(prev[2])["digest"]:  # nobody edited the table since
                return IngestResult(name, path, sha, fp, True, time.perf_counter() - start)
    except duckdb.Error as exc:
        raise (storage_error(exc, db, doing=f"reading the warehouse's record of '{name}'")
               or WarehouseError(f"cannot read the warehouse's record of '{name}': {_first_line(exc)}", where=db,
                                 hint=REBUILD_HINT)) from exc
    missing = _check_header(path, source)
    types = _canonical_types(con, source.columns)
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            if source.format == "parquet":
                raw = _parquet_types(con, path)
                scan = f"read_parquet({_lit(str(path))})"
            elif source.format == "jsonl":
                raw, scan = {c: "VARCHAR" for c in source.columns}, json_scan(path, source)
            else:
                raw, scan = None, _csv_scan(path, source, missing, rejects="_wb_rejects")
            if source.contract is not None:  # kept until the contract check settles the load
                keep_previous(con, name, META_TABLE)
            con.execute(f"CREATE OR REPLACE TABLE {_q(name)} AS {_load_select(source, types, missing, scan, raw)}")
        except duckdb.Error as exc:
            storage = storage_error(exc, db, doing=f"loading '{name}' into the warehouse")
            if storage is not None:
                raise storage from exc
            if _SENTINEL in str(exc):
                raise _bad_values_error(con, path, source, types, missing, masked, raw) from None
            raise _ingest_error(path, exc) from exc
        if source.format == "csv":
            rejects = con.execute(
                "SELECT line, column_idx, column_name, error_type, error_message FROM _wb_rejects ORDER BY line"
            ).fetchall()
            if rejects:
                offset = 2 if source.csv.header else 1
                lines = _record_lines(path, source, [], {row[0] - offset for row in rejects})
                raise _rejects_error(path, _physical(rejects, lines, source.csv.header), [])
        fp = fingerprint(con, name)
        con.execute(
            f"INSERT OR REPLACE INTO {META_TABLE} VALUES (?, ?, ?, ?, ?, now())",
            [name, str(path), sha, declared, json.dumps(fp.to_dict())],
        )
        try:
            con.execute("COMMIT")
        except duckdb.Error as exc:
            raise (storage_error(exc, db, doing=f"saving '{name}' (commit)")
                   or WarehouseError(f"cannot save '{name}' (commit failed: {_first_line(exc)})", where=db,
                                     hint="run again; if it keeps failing, " + REBUILD_HINT)) from exc
    except BaseException as exc:
        # after a failed COMMIT DuckDB has already ended the transaction: a second error
        # here ("no transaction is active") must not replace the one that matters
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        if isinstance(exc, duckdb.Error):  # fingerprinting, bookkeeping: the file, not the CSV
            raise (storage_error(exc, db, doing=f"loading '{name}' into the warehouse")
                   or WarehouseError(f"cannot load '{name}' into the warehouse: {_first_line(exc)}", where=db,
                                     hint="run again; if it keeps failing, " + REBUILD_HINT)) from exc
        raise
    finally:
        with contextlib.suppress(duckdb.Error):
            con.execute("DROP TABLE IF EXISTS _wb_rejects; DROP TABLE IF EXISTS _wb_rejects_scan")
    return IngestResult(name, path, sha, fp, False, time.perf_counter() - start, tuple(missing))


def _show(value: str | None, column: str, masked: Collection[str]) -> str:
    if column in masked:
        return f"a value (masked: personal data, {len(value or '')} character(s))"
    text = value if value is not None and len(value) <= 60 else f"{(value or '')[:57]}..."
    return f"value {text!r}"


def _bad_values_error(con: duckdb.DuckDBPyConnection, path: Path, source: Source, types: dict[str, str],
                      missing: Sequence[str], masked: Collection[str], raw: dict[str, str] | None) -> IngestError:
    """Every value that does not parse exactly (up to a few), with its line and column."""
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")  # the aborted load; the diagnosis reads the file again
    con.execute("BEGIN TRANSACTION")  # the caller's ROLLBACK ends this one
    if source.format == "jsonl":
        scan = json_scan(path, source)
    elif raw is not None:
        scan = f"read_parquet({_lit(str(path))})"
    else:
        scan = _csv_scan(path, source, missing, rejects="_wb_rejects")
    con.execute(f"CREATE TEMP TABLE _wb_check AS SELECT * FROM {scan}")  # rowid = record order
    first = con.execute("SELECT coalesce(min(rowid), 0) FROM _wb_check").fetchone()[0]  # temp rowids start high
    present = [c for c in source.columns if c not in missing]
    parts = []
    for idx, c in enumerate(present, start=1):
        q, typ = _q(c), types[c]
        csv = source.csv if source.format == "csv" else None
        fmt, text = text_format(typ, csv), text_value(q, typ, csv)
        rule = _rule_for(text, text_cast(text, typ, fmt), typ, (raw or {}).get(c, "VARCHAR"), fmt)
        if rule is None:
            continue
        comma = " with a decimal comma (csv: decimal), and no thousands separator"
        why = rule.why if text == q else f"({rule.why}) || {_lit(comma)}"
        parts.append(f"SELECT rowid - {first} AS r, {idx} AS i, {_lit(c)} AS c, {q}::VARCHAR AS v, {why} AS why "
                     f"FROM _wb_check WHERE {q} IS NOT NULL AND NOT {rule.ok}")
    union = " UNION ALL ".join(parts)
    total = con.execute(f"SELECT count(*), count(DISTINCT r) FROM ({union})").fetchone()
    bad = con.execute(f"SELECT r, i, c, v, why FROM ({union}) ORDER BY r, i LIMIT {_MAX_REPORTED}").fetchall()
    structural, lines = [], {}
    if raw is None:
        structural = con.execute("SELECT line, column_idx, column_name, error_type, error_message FROM _wb_rejects "
                                 "ORDER BY line").fetchall()
        offset = 2 if source.csv.header else 1
        lines = _record_lines(path, source, sorted({r for r, *_ in bad}), {row[0] - offset for row in structural})
        structural = _physical(structural, lines, source.csv.header)
    values = []
    for r, i, c, v, why in bad:
        where = f"{path}:{lines[('kept', r)]}" if ("kept", r) in lines else f"{path}: row {r + 1}"
        values.append(f"{where}: column {i} ('{c}'): {_show(v, c, masked)} {why}")
    return _rejects_error(path, structural, values, bad_values=int(total[0]), bad_rows=int(total[1]))


def _record_lines(path: Path, source: Source, kept: Sequence[int], rejected: Collection[int]) -> dict[tuple[str, int], int]:
    """Physical line where records start: ("kept", i) for the i-th record DuckDB kept
    (0-based; rejected records are skipped) and ("all", j) for the j-th record of the file.
    DuckDB numbers a record by its position (header = line 1), which differs from the
    physical line once a quoted value holds a line break."""
    out: dict[tuple[str, int], int] = {}
    wanted_kept, wanted_all = set(kept), set(rejected)
    if not wanted_kept and not wanted_all:
        return out
    try:
        with open_source(path, "r", newline="", encoding="utf-8-sig", errors="replace") as f:
            reader = csv.reader(f, delimiter=source.csv.delimiter, quotechar=source.csv.quote)
            line_end, kept_index = 0, -1
            if source.csv.header:
                next(reader, None)
                line_end = reader.line_num
            for index, _ in enumerate(reader):
                begin, line_end = line_end + 1, reader.line_num
                if index in wanted_all:
                    out[("all", index)] = begin
                    continue
                kept_index += 1
                if kept_index in wanted_kept:
                    out[("kept", kept_index)] = begin
                if kept_index >= max(wanted_kept, default=-1) and index >= max(wanted_all, default=-1):
                    break
    except (OSError, csv.Error):
        pass  # DuckDB's own numbering is still reported
    return out


def _physical(rejects: list[tuple], lines: dict[tuple[str, int], int], header: bool) -> list[tuple]:
    """DuckDB's reject rows with their line as the physical line of the file."""
    offset = 2 if header else 1
    return [(lines.get(("all", line - offset), line), *rest) for line, *rest in rejects]


def _rejects_error(path: Path, rejects: list[tuple], values: list[str], *, bad_values: int = 0,
                   bad_rows: int = 0) -> IngestError:
    lines, encoding = [], False
    for line, col_idx, col_name, kind, message in rejects[:_MAX_REPORTED]:
        col = f"column {col_idx}" + (f" ('{col_name}')" if col_name else "")
        # DuckDB's structural messages (column counts, quoting, encoding) quote no values
        lines.append(f"{path}:{line}: {col}: {kind.lower()}: {message.splitlines()[0]}")
        encoding |= "ENCODING" in str(kind).upper()
    lines += values[: max(0, _MAX_REPORTED - len(lines))]
    shown = len(lines)
    total = len(rejects) + bad_values
    more = f"\n  ... and {total - shown} more" if total > shown else ""
    exact = "do not parse exactly as their declared type (nothing is rounded or cut)"
    if rejects and bad_values:
        head = f"{len(rejects)} malformed row(s), and {bad_values} value(s) in {bad_rows} row(s) that {exact}"
    elif bad_values:
        head = f"{bad_rows} malformed row(s): {bad_values} value(s) {exact}"
    else:
        head = f"{len(rejects)} malformed row(s)"
    hint = _encoding_hint() if encoding else (
        "fix those lines in the file (or the declared column types in the charter), then run again")
    return IngestError(f"{head}; the previous table is unchanged:\n  " + "\n  ".join(lines) + more,
                       where=str(path), hint=hint)


def _ingest_error(path: Path, exc: Exception) -> IngestError:
    text = str(exc)
    line = re.search(r"Line: (\d+)", text)
    if "not utf-8" in text.lower() or "invalid unicode" in text.lower():
        return _encoding_error(path, _duckdb_reason(text)[:200], int(line.group(1)) if line else None)
    if line is None and path.suffix.lower() not in (".parquet", ".pq", ".jsonl", ".ndjson"):
        bare = bare_carriage_return(path)  # DuckDB's parser names no line for it ("invalid state")
        if bare is not None:
            return IngestError(
                f"line {bare[0]} holds a carriage return (\\r) inside a value that is not quoted, at character "
                f"{bare[1]}: a CSV reader cannot tell it from the end of a row; the previous table is unchanged",
                where=f"{path}:{bare[0]}:{bare[1]}",
                hint="quote every value that holds a line break or remove the carriage returns (pandas writes them "
                     "unquoted: to_csv(..., quoting=csv.QUOTE_NONNUMERIC) quotes them), or save the table as Parquet")
    return IngestError(
        f"cannot load the file: {_duckdb_reason(text)}",
        where=f"{path}:{line.group(1)}" if line else str(path),
        hint=("fix the file at that line" if line else "fix the file") +
             " (or its declared format in the charter); the previous table is unchanged",
    )


def _duckdb_reason(text: str) -> str:
    """The line of a DuckDB reader error that says what went wrong: not its "Possible fixes",
    their bullets or its dump of the reader's options."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines[1:]:
        if ln.startswith(("Original Line", "LINE ")) or not ln.strip("^ "):  # a binder's SQL and its caret
            continue
        if ln.startswith(("Possible fixes", "* ")) or re.match(r"\w+ = ", ln):
            break
        return ln
    return re.sub(r"^[A-Za-z ]*Error: ", "", lines[0]) if lines else text


def bare_carriage_return(path: Path, limit: int = 256 << 20) -> tuple[int, int] | None:
    """(line, character) of the first carriage return not followed by a line feed in a file
    whose rows end with line feeds (what pandas' ``to_csv`` leaves unquoted in a value), or
    None. A file of old Mac line ends (every row ends with a lone CR) has none. Reads at most
    ``limit`` bytes."""
    try:
        with open_source(path) as f:
            data = f.read(limit)
    except (OSError, EOFError):
        return None
    if b"\n" not in data:
        return None
    at = next((m.start() for m in re.finditer(rb"\r(?!\n)", data) if m.start() + 1 < len(data)), None)
    if at is None:
        return None
    start = data.rfind(b"\n", 0, at) + 1
    return data.count(b"\n", 0, at) + 1, len(data[start:at].decode("utf-8", errors="replace")) + 1


def ingest_all(con: duckdb.DuckDBPyConnection, charter: Charter, *, force: bool = False) -> list[IngestResult]:
    pii = charter_pii(charter)
    return [
        ingest_source(con, name, src, charter.resolve(src.path), force=force, pii=pii.get(name, frozenset()))
        for name, src in charter.sources.items()
    ]


# -- personal data --------------------------------------------------------------------


def charter_pii(charter: Charter) -> dict[str, frozenset[str]]:
    """Per source, the columns its contract marks ``pii: true``. A contract that cannot be
    read marks every column (its values stay masked until it is fixed; the contracts step
    reports what is wrong with it)."""
    from .contracts.spec import load_contract

    out: dict[str, frozenset[str]] = {}
    for name, src in charter.sources.items():
        if src.contract is None:
            out[name] = frozenset()
            continue
        try:
            out[name] = frozenset(load_contract(charter.resolve(src.contract)).pii_columns)
        except Exception:  # noqa: BLE001 - reported by the contracts step; mask everything meanwhile
            out[name] = frozenset(src.columns)
    return out


def charter_names(charter: Charter) -> frozenset[str]:
    """The names a charter gives (the pilot, its sources, steps, candidates and the metrics
    it judges by): the project's own words, never withheld as personal data."""
    names = {charter.name, charter.primary_metric, *charter.sources, *(s.name for s in charter.steps),
             *(c.name for c in charter.candidates)}
    names.update(m for g in charter.gates for m in [getattr(g, "metric", None)] if isinstance(m, str))
    return frozenset(names)


def _record_pii(con: duckdb.DuckDBPyConnection, table: str, columns: Collection[str]) -> None:
    con.execute(f"CREATE TABLE IF NOT EXISTS {PII_TABLE} (table_name VARCHAR, column_name VARCHAR)")
    have = {r[0] for r in con.execute(f"SELECT column_name FROM {PII_TABLE} WHERE table_name = ?", [table]).fetchall()}
    if have == set(columns):
        return
    con.execute(f"DELETE FROM {PII_TABLE} WHERE table_name = ?", [table])
    if columns:
        con.executemany(f"INSERT INTO {PII_TABLE} VALUES (?, ?)", [[table, c] for c in sorted(columns)])


def pii_columns(con: duckdb.DuckDBPyConnection, table: str | None = None) -> dict[str, frozenset[str]]:
    """The personal-data columns ingest recorded: {table: columns} (one table, or all)."""
    try:
        sql = f"SELECT table_name, column_name FROM {PII_TABLE}" + (" WHERE lower(table_name) = lower(?)" if table else "")
        rows = con.execute(sql, [table] if table else []).fetchall()
    except duckdb.CatalogException:  # a warehouse from before PII was recorded, or none ingested
        return {}
    out: dict[str, set[str]] = {}
    for t, c in rows:
        out.setdefault(t, set()).add(c)
    return {t: frozenset(cs) for t, cs in out.items()}


_TOKEN_SPLIT = re.compile(r"""[\s'"`()\[\]{}<>,;=|]+""")
_TOKEN_SPLIT_FINE = re.compile(r"""[\s'"`()\[\]{}<>,;=|:/\\]+""")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_MIN_REDACTED = 3  # shorter values (codes like "M") would blank out ordinary text


def redact(con: duckdb.DuckDBPyConnection, texts: Sequence[str], *, pii: Mapping[str, Collection[str]] | None = None,
           vocabulary: Collection[str] = (), names: bool = False, keep: Collection[str] = ()) -> list[str]:
    """``texts`` with every personal-data value replaced by ``[personal data]`` where it
    stands as a whole value or word, never inside keys, paths or names, and a word of the
    project's vocabulary only where it stands alone as a value (:mod:`.redaction`);
    ``names``: the texts are labels, where vocabulary words are kept. ``keep``: names never
    withheld (:func:`charter_names`), like the warehouse's table and column names.

    The values stay in DuckDB: the texts' words and runs of up to four words go in, and only
    the PII values among them come back (one hash join per PII column). A value of fewer
    than three characters is not redacted."""
    pii = pii_columns(con) if pii is None else pii
    if not pii or not any(texts):
        return list(texts)
    tokens: set[str] = set()
    for text in texts:
        plain = _ANSI.sub(" ", text)  # tracebacks are coloured: `\x1b[0;31mValue\x1b[0m`
        for splitter in (_TOKEN_SPLIT, _TOKEN_SPLIT_FINE):
            words = [w for w in splitter.split(plain) if w]
            for n in range(1, 5):
                for i in range(len(words) - n + 1):
                    tokens.add(" ".join(words[i:i + n]))
            tokens.update(w.strip(".:!?") for w in words)
        for quoted in re.findall(r"'([^'\n]{3,200})'|\"([^\"\n]{3,200})\"", plain):
            tokens.update(q for q in quoted if q)
    tokens = {t for t in tokens if len(t) >= _MIN_REDACTED}
    if not tokens:
        return list(texts)
    found: set[str] = set()
    wanted = sorted(tokens)
    for table, columns in pii.items():
        for column in columns:
            with contextlib.suppress(duckdb.Error):  # a column gone since: nothing to find there
                found.update(r[0] for r in con.execute(
                    f"SELECT DISTINCT t FROM unnest(?::VARCHAR[]) AS tokens(t) "
                    f"WHERE t IN (SELECT {_q(column)}::VARCHAR FROM {_q(table)})", [wanted]).fetchall())
    if not found:
        return list(texts)
    schema = _schema_names(con)
    found = {f for f in found if f not in schema and f not in keep}  # a table or column name is a name, whatever a row holds
    return withhold(texts, found, vocabulary=project_vocabulary([*schema, *vocabulary, *keep]), names=names)


def _schema_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The warehouse's table and column names."""
    names: set[str] = set()
    with contextlib.suppress(duckdb.Error):
        for table, column in con.execute("SELECT table_name, column_name FROM information_schema.columns").fetchall():
            names.update((table, column))
    return names


# -- rebuild --------------------------------------------------------------------------


def rebuild(charter: Charter, *, progress: Callable[[str], None] | None = None) -> list[IngestResult]:
    """Re-ingest every source from its raw file into a fresh warehouse and swap it in.

    The recovery for a damaged warehouse file (or one from an older workbench): the old file
    is replaced only once the new one is complete; the MLflow store is not opened. Holds the
    writer lock like any ingest."""
    say = progress or (lambda _m: None)
    db = charter.warehouse_path
    fresh = db.with_name(db.name + ".rebuild")
    with write_lock(db):
        for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        try:
            con = connect_writable(fresh)
            try:
                results = ingest_all(con, charter, force=True)
                for r in results:
                    say(f"{r.table}: {r.fingerprint.rows:,} rows, fingerprint {r.fingerprint.digest} ({r.seconds:.1f}s)")
            finally:
                con.close()
            try:
                os.replace(fresh, db)
                with contextlib.suppress(FileNotFoundError):
                    db.with_name(db.name + ".wal").unlink()  # the old file's log: it would be replayed on the new one
            except OSError as exc:
                raise storage_error(exc, db, doing="replacing the warehouse with the rebuilt one") from exc  # type: ignore[misc]
        except BaseException:
            for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
                with contextlib.suppress(OSError):
                    leftover.unlink()
            raise
    return results
