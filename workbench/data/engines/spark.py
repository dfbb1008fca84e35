"""The Spark engine: the same pilot on Apache Spark (`engine: {kind: spark}`).

The only module that imports pyspark (tests/data/test_engines_layout.py holds it to that).

- One session per process, started from the charter's ``engine.master`` and ``engine.conf``
  (``local[N]``, ``spark://``, or Spark Connect ``sc://``); a missing Java, a master that
  cannot be reached or a driver that runs out of memory is an :class:`EngineError` naming
  the charter key and the fix.
- Ingest reads every column as text and casts it to the declared type only when the text
  *is* a value of that type (the same rules and reasons as DuckDB's ingest: no rounding,
  no dropped time or offset, no overflow to infinity); the first bad value aborts the
  write, then a diagnostic pass lists the bad values with file:line:column. The table is
  written as Parquet files to a temporary folder of the lake and renamed into place, so
  the lake never holds half a table.
- SQL is written once, in DuckDB's dialect (profiles, feature views, contract queries), and
  translated with sqlglot.
- Fingerprints (rows, schema, a sum of per-row xxhash64) are computed by Spark.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import EngineError, IngestError
from ...files import open_source
from ..sql import quote_ident
from .base import ProfileStats

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

    from ...charter.config import Charter, Engine, Source
    from ..contracts import Contract, ContractResult
    from ..profiling import TableProfile
    from ..warehouse import IngestResult, TableFingerprint

__all__ = ["SparkEngine", "spark_session", "stop_session", "to_spark_sql", "spark_type", "LAKE_META",
           "connect_server_command"]

LAKE_META = "_workbench_ingest.json"  # beside the Parquet files; Spark skips names starting with _
_MAX_REPORTED = 10
_SENTINEL = "workbench: a value does not parse as its declared type"
# defaults sized for one machine; the charter's conf wins
_DEFAULT_CONF = {
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",  # progress bars would fill the pilot's log
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.sources.partitionOverwriteMode": "static",
}

# DuckDB type (canonical, as the charter declares it) -> Spark SQL type
_TYPES = {
    "BOOLEAN": "BOOLEAN", "TINYINT": "TINYINT", "SMALLINT": "SMALLINT", "INTEGER": "INT", "BIGINT": "BIGINT",
    "HUGEINT": "DECIMAL(38,0)", "UTINYINT": "SMALLINT", "USMALLINT": "INT", "UINTEGER": "BIGINT",
    "UBIGINT": "DECIMAL(20,0)", "FLOAT": "FLOAT", "DOUBLE": "DOUBLE", "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP_NTZ", "TIMESTAMPTZ": "TIMESTAMP", "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
    "VARCHAR": "STRING", "BLOB": "BINARY",
}
_INTEGRAL = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
_UNSIGNED = {"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
_NUMBER_RE = r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$"
_NON_FINITE_RE = r"^(?i)\s*[+-]?(inf|infinity|nan)\s*$"
_OFFSET_RE = r"[0-9]:[0-9]{2}(:[0-9]{2}([.,][0-9]*)?)?\s*[+-][0-9]{1,2}(:?[0-9]{2})?\s*$"


def spark_type(duckdb_type: str, *, where: str = "") -> str:
    """The Spark SQL type a declared DuckDB type is stored as in the lake."""
    typ = duckdb_type.upper().strip()
    if typ.startswith("DECIMAL"):
        return typ.replace(" ", "")
    if typ.startswith("VARCHAR"):
        return "STRING"
    if typ not in _TYPES:
        raise EngineError(f"the Spark engine cannot store a column of type {typ}", where=where or None,
                          hint=f"declare one of {', '.join(sorted(_TYPES))} or DECIMAL(p,s), or use `engine: "
                               "{kind: duckdb}`")
    return _TYPES[typ]


# -- the session ----------------------------------------------------------------------

_SESSION: Any = None
_SESSION_KEY: tuple | None = None


def _said(exc: BaseException) -> str | None:
    """``str(exc)``, or None when it cannot be had: a ``Py4JJavaError`` asks the JVM for its
    message, and a driver that died mid-call (an OutOfMemoryError) resets that connection."""
    try:
        return str(exc)
    except Exception:  # noqa: BLE001 - py4j's ConnectionResetError / Py4JNetworkError / ...
        return None


def _first_line(exc: BaseException) -> str:
    text = (_said(exc) or "").strip()
    return (text.splitlines() or [type(exc).__name__])[0][:300]


_PROBE_S = 5.0  # a master that does not answer a TCP connect in this long is reported as unreachable
# a Spark Connect client retries an unavailable server for ~10 minutes by default; a pilot says so in ~1
_CONNECT_RETRIES = {"max_retries": 8, "max_backoff": 10_000}


def _endpoints(master: str, *, where: str) -> list[tuple[str, int]]:
    """(host, port) of a ``spark://`` master (one or a comma-separated list) or an ``sc://``
    address, to probe before starting; none for local, yarn and k8s masters."""
    from urllib.parse import urlsplit

    if master.startswith("sc://"):
        scheme, default, hosts = "sc", 15002, [master[len("sc://"):].split("/", 1)[0]]
    elif master.startswith("spark://"):
        scheme, default, hosts = "spark", 7077, master[len("spark://"):].split("/", 1)[0].split(",")
    else:
        return []
    out = []
    for hp in hosts:
        try:
            parts = urlsplit(f"{scheme}://{hp}")
            host, port = parts.hostname, parts.port or default
        except ValueError as exc:
            host, port, problem = None, 0, str(exc)
        else:
            problem = "no host name"
        if not host:
            raise EngineError(f"{master!r} is not a valid Spark master ({hp!r}: {problem})", where=where,
                              hint="write it as sc://HOST:15002 (Spark Connect), spark://HOST:7077 (a "
                                   "standalone cluster) or local[2] (this machine)")
        out.append((host, port))
    return out


def _probe(master: str, *, where: str) -> None:
    """Refuse, in seconds, a cluster master or Connect server that does not accept connections
    (Spark itself would retry for minutes before it says so)."""
    import socket

    for host, port in _endpoints(master, where=where):
        try:
            socket.create_connection((host, port), timeout=_PROBE_S).close()
        except OSError as exc:
            what = "Spark Connect server" if master.startswith("sc://") else "Spark master"
            start = ("start it (on that machine: `$SPARK_HOME/sbin/start-connect-server.sh`, or `spark-submit "
                     "--class org.apache.spark.sql.connect.service.SparkConnectServer`)"
                     if master.startswith("sc://") else "start it (`$SPARK_HOME/sbin/start-master.sh`)")
            raise EngineError(f"the {what} at {host}:{port} cannot be reached "
                              f"({exc.strerror or type(exc).__name__}; waited up to {_PROBE_S:.0f} s)", where=where,
                              hint=f"{start}, check the host and port and that a firewall lets this machine "
                                   "through; or fix `engine.master` (local[2] runs on this machine)") from exc


def _java_problem() -> str | None:
    """Why no Java can start here (None when one can): Spark runs ``$JAVA_HOME/bin/java``
    when JAVA_HOME is set, else ``java`` on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        java = Path(home) / "bin" / "java"
        if not os.access(java, os.X_OK):
            return f"JAVA_HOME is {home}, which has no bin/java"
        return None
    if shutil.which("java") is None:
        return "no Java runtime on this machine (no `java` on PATH and no JAVA_HOME)"
    return None


def _log_tail(log: Path | None) -> str:
    """The Java error lines at the end of the driver's log (what it said before it exited)."""
    if log is None:
        return ""
    with contextlib.suppress(OSError):
        lines = log.read_text(errors="replace").splitlines()[-200:]
        hits = [ln.strip() for ln in lines if re.search(r"Error|Exception|must be at least|Invalid", ln)
                and not ln.lstrip().startswith("at ")]
        oom = [h for h in hits if "OutOfMemoryError" in h]  # the cause, before the shutdown's noise
        return (oom or hits or [""])[-1][:300]
    return ""


def _launch_logged(master: str, settings: dict[str, str], log: Path) -> None:
    """Start the driver JVM with its stdout and stderr in ``log``, so Spark's start-up lines
    (log4j's profile, WARNs, the JDK's notes) do not reach the pilot's terminal. Once per
    process: the JVM outlives its sessions."""
    from pyspark import SparkConf
    from pyspark.core.context import SparkContext
    from pyspark.java_gateway import launch_gateway

    if SparkContext._gateway is not None:
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    conf = SparkConf(loadDefaults=False).setMaster(master).setAppName("workbench").setAll(list(settings.items()))
    with open(log, "ab") as out:  # the child holds its own copy of the descriptor
        gateway = launch_gateway(conf, popen_kwargs={"stdout": out, "stderr": out})
    SparkContext._ensure_initialized(gateway=gateway)


def _quiet_python_loggers() -> None:
    """pyspark logs every analysis error as JSON to stderr before raising it; the workbench
    reports the error itself (an EngineError or a contract's message)."""
    import logging

    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)


def spark_session(master: str, conf: dict[str, Any] | None = None, *, where: str = "engine",
                  log: Path | None = None) -> SparkSession:
    """The process's one Spark session for ``master`` (started on first use).

    ``where``: the charter key that chose the master, for the error messages. ``log``: where
    the driver JVM's own output goes (a local or cluster master; None: this terminal)."""
    global _SESSION, _SESSION_KEY
    settings = {**_DEFAULT_CONF, **{k: str(v) for k, v in (conf or {}).items()}}
    key = (master, tuple(sorted(settings.items())))
    remote = master.startswith("sc://")
    if _SESSION is not None and _SESSION_KEY == key and (remote or _local_driver_running()):
        return _SESSION
    problem = None if remote else _java_problem()
    if problem:
        raise EngineError(f"Spark cannot start: {problem} (Spark 4 needs Java >= 17)", where=where,
                          hint="install Java 17 (Debian/Ubuntu: `apt-get install openjdk-17-jre-headless`) and "
                               "set JAVA_HOME to its folder (or unset it to use `java` on PATH); or run this pilot "
                               "on DuckDB (`engine: {kind: duckdb}`)")
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise EngineError(f"the Spark engine is not installed ({exc})", where=where,
                          hint="run `make setup-spark` (the `spark` extra: pyspark 4.1 and sqlglot)") from exc
    _probe(master, where=where)
    # one session per process: one JVM; and pyspark switches the whole process to Spark
    # Connect's classes once a Connect session exists, so the two cannot run side by side
    stop_session()
    _quiet_python_loggers()
    # Python workers (MLflow's spark_udf) run this interpreter, with the workbench's packages
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("workbench")
    builder = builder.remote(master) if remote else builder.master(master)
    for k, v in settings.items():
        if remote and k.startswith(("spark.driver.", "spark.ui.")):
            continue  # the server's own; a Connect client cannot set them
        builder = builder.config(k, v)
    session = None
    try:
        if log is not None and not remote:
            _launch_logged(master, settings, log)
        session = builder.getOrCreate()
        if remote:
            from pyspark.sql.connect.client.retries import DefaultPolicy

            session.client.set_retry_policies([DefaultPolicy(**_CONNECT_RETRIES)])
        session.sql("SELECT 1").collect()  # a Connect address or a cluster master is reached only here
    except Exception as exc:  # noqa: BLE001 - py4j, Connect (gRPC) and JVM start-up raise their own types
        text = str(exc)
        said = _log_tail(log)
        seen = f" (see {log}{': ' + said if said else ''})" if log is not None and not remote else ""
        if "must be at least" in text or "must be at least" in said:
            what = f"spark.driver.memory is too small for Spark to start ({_first_line(exc) if 'must be' in text else said})"
            hint = "raise spark.driver.memory in `engine.conf` (at least 1g; the demo uses 2g)"
        elif "JAVA_GATEWAY_EXITED" in text or "Java gateway process exited" in text:
            what = f"the Java process did not start (Spark 4 needs Java >= 17){seen}"
            hint = ("check `java -version` (>= 17) and JAVA_HOME (Debian: `apt-get install "
                    "openjdk-17-jre-headless`), and that spark.driver.memory in `engine.conf` fits this machine")
        elif remote:
            what = f"the Spark Connect server at {master} cannot be reached ({_first_line(exc)})"
            hint = "start the server (`start-connect-server.sh`) or fix `engine.master` (sc://HOST:15002)"
        else:
            what = f"Spark did not start on master {master!r} ({_first_line(exc)}){seen}"
            hint = ("check that the cluster's master is up and reachable from here, or use local[2] to run on "
                    "this machine; `engine.conf` must hold valid Spark settings")
        _SESSION, _SESSION_KEY = session, key  # stopped here: nothing half-started stays behind
        stop_session()
        if not remote:
            _shutdown_jvm()  # a corrected engine.conf (driver memory, Java options) needs a new JVM
        raise EngineError(what, where=where, hint=hint) from exc
    if not remote:
        with contextlib.suppress(Exception):
            session.sparkContext.setLogLevel("ERROR")
    _SESSION, _SESSION_KEY = session, key
    return session


def connect_server_command(port: int, *, master: str = "local[2]", host: str = "127.0.0.1",
                           conf: dict[str, Any] | None = None) -> tuple[list[str], dict[str, str]]:
    """(argv, environment) that start a Spark Connect server on this machine from pyspark's
    own jars (the wheel ships spark-connect; no download): what ``start-connect-server.sh``
    of a Spark distribution runs. Python UDFs (MLflow's ``spark_udf``) run this interpreter."""
    import pyspark

    home = Path(pyspark.__file__).parent
    argv = [str(home / "bin" / "spark-submit"), "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
            "--name", "Spark Connect server", "--master", master,
            "--conf", f"spark.connect.grpc.binding.address={host}", "--conf", f"spark.connect.grpc.binding.port={port}"]
    for k, v in {**_DEFAULT_CONF, **(conf or {})}.items():
        argv += ["--conf", f"{k}={v}"]
    env = {**os.environ, "SPARK_HOME": str(home), "PYSPARK_PYTHON": sys.executable}
    return argv, env


def stop_session() -> None:
    global _SESSION, _SESSION_KEY
    if _SESSION is not None:
        with contextlib.suppress(Exception):
            _SESSION.stop()
    if _SESSION_KEY is not None and str(_SESSION_KEY[0]).startswith("sc://"):
        # set by pyspark's builder for a Connect session; gone, a classic session can start again
        os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)
    _SESSION, _SESSION_KEY = None, None
    _forget_dead_jvm()


def _shutdown_jvm() -> None:
    """End the driver JVM this process launched (after a failed start) and forget it."""
    with contextlib.suppress(ImportError):
        from pyspark.core.context import SparkContext

        gateway = SparkContext._gateway
        if gateway is None:
            return
        with contextlib.suppress(Exception):
            gateway.shutdown()
        proc = getattr(gateway, "proc", None)
        if proc is not None and proc.poll() is None:
            proc.terminate()
            with contextlib.suppress(Exception):
                proc.wait(timeout=15)
        _forget_jvm()


def _forget_jvm() -> None:
    """pyspark's class-level hold on a driver JVM: its gateway, and the session a builder's
    getOrCreate() would hand out again (a session whose stop() failed on a dead JVM keeps it)."""
    from pyspark.core.context import SparkContext
    from pyspark.sql import SparkSession

    SparkContext._gateway = SparkContext._jvm = SparkContext._active_spark_context = None
    SparkSession._instantiatedSession = SparkSession._activeSession = None


def _local_driver_running() -> bool:
    """Whether the driver JVM this process launched is still running (False once it exited,
    e.g. after Spark's handler ended it on an OutOfMemoryError)."""
    with contextlib.suppress(ImportError):
        from pyspark.core.context import SparkContext

        proc = getattr(SparkContext._gateway, "proc", None)
        return proc is None or proc.poll() is None
    return True


def _local_driver_answers() -> bool:
    """Whether the driver JVM answers a trivial call (one that died mid-call does not)."""
    from pyspark.core.context import SparkContext

    try:
        SparkContext._gateway.jvm.java.lang.System.currentTimeMillis()
        return True
    except Exception:  # noqa: BLE001 - py4j's network errors, or no gateway at all
        return False


def _forget_dead_jvm() -> None:
    """After the driver JVM died (out of memory: Spark's handler exits it), pyspark still
    holds its gateway and would hand every new session to it; forget it, so the next
    session starts a new JVM."""
    with contextlib.suppress(ImportError):
        if not _local_driver_running():
            _forget_jvm()


# -- SQL: DuckDB's dialect, translated ------------------------------------------------


def to_spark_sql(query: str) -> str:
    """A SELECT in DuckDB's dialect, in Spark's: sqlglot translates it; tables lose their
    ``main.`` schema (the lake's tables are temporary views); DuckDB's ``isfinite``, which
    Spark lacks, becomes a NaN and infinity test, and ``epoch`` keeps fractions of a second.
    A bare expression is translated too. GX's ``{batch}`` placeholder survives."""
    import sqlglot
    from sqlglot import exp

    placeholder = "__wb_batch__"
    text = query.replace("{{", "{").replace("}}", "}").replace("{batch}", placeholder)
    try:
        tree = sqlglot.parse_one(text, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise EngineError(f"the SQL cannot be translated to Spark's dialect: {_first_line(exc)}",
                          where=text[:200], hint="write it in DuckDB's SQL (the workbench translates it)") from exc

    def fix(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and node.args.get("db") is not None and node.db.lower() == "main":
            node.set("db", None)
        if isinstance(node, exp.TimeToUnix):  # epoch(): fractional seconds (Spark's unix_timestamp drops them)
            arg = node.this.sql("spark")
            return sqlglot.parse_one(f"(unix_micros(CAST({arg} AS TIMESTAMP)) / 1000000.0D)", read="spark")
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == "isfinite":
            (arg,) = node.expressions
            return sqlglot.parse_one(f"(NOT isnan({arg.sql('spark')}) AND abs({arg.sql('spark')}) "
                                     "<> CAST('Infinity' AS DOUBLE))", read="spark")
        return node

    out = tree.transform(fix).sql(dialect="spark")
    return out.replace("{", "{{").replace("}", "}}").replace(placeholder, "{batch}") if "{batch}" in query else out


# -- strict values ----------------------------------------------------------------------


def _lit(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _value_rule(v: str, t: str, typ: str) -> tuple[str, str] | None:
    """(ok, why) in Spark SQL for the text ``v`` and its ``try_cast`` ``t`` of a non-null
    value of declared DuckDB type ``typ``; None for text. Same rules and reasons as
    DuckDB's ingest (workbench.data.warehouse)."""
    if typ == "VARCHAR" or typ.startswith("VARCHAR("):
        return None
    cast = f"{t} IS NOT NULL"
    if typ in _INTEGRAL:
        shape = f"({v} RLIKE '^\\\\s*[+-]?[0-9]+\\\\s*$')"
        sign = f" AND {t} >= 0" if typ in _UNSIGNED else ""
        return (f"({cast} AND {shape}{sign})",
                f"CASE WHEN NOT {shape} THEN 'is not a whole number (no decimals, exponent or hex for {typ})' "
                f"ELSE 'is out of range for {typ}' END")
    m = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", typ)
    if m:
        scale = int(m.group(2))
        frac = r"(\\.[0-9]{0," + str(scale) + r"})?|\\.[0-9]{1," + str(scale) + "}" if scale else r"\\.?"
        shape = f"({v} RLIKE '^\\\\s*[+-]?([0-9]+{frac})\\\\s*$')"
        number = f"({v} RLIKE '^\\\\s*[+-]?([0-9]+\\\\.?[0-9]*|\\\\.[0-9]+)\\\\s*$')"
        return (f"({cast} AND {shape})",
                f"CASE WHEN NOT {number} THEN 'is not a decimal number (no exponent or hex for {typ})' "
                f"WHEN NOT {shape} THEN 'has more than {scale} decimal place(s): {typ} would round it' "
                f"ELSE 'is out of range for {typ}' END")
    if typ in ("FLOAT", "DOUBLE"):
        special = f"({v} RLIKE {_lit(_NON_FINITE_RE)})"
        shape = f"({v} RLIKE {_lit(_NUMBER_RE)})"
        finite = f"(NOT isnan({t}) AND abs({t}) <> CAST('Infinity' AS DOUBLE))"
        return (f"({cast} AND ({shape} OR {special}) AND ({finite} OR {special}))",
                f"CASE WHEN NOT ({shape} OR {special}) THEN 'is not a number (decimal or scientific notation; "
                f"inf and nan are accepted by name)' ELSE 'is beyond the range of {typ} (it would become infinity)' END")
    if typ == "DATE":
        shape = f"({v} RLIKE '^\\\\s*-?[0-9]{{4,}}-[0-9]{{1,2}}-[0-9]{{1,2}}\\\\s*$')"
        return (f"({cast} AND {shape})",
                f"CASE WHEN NOT {cast} THEN 'is not a date (YYYY-MM-DD)' "
                "ELSE 'has a time of day, which a DATE column would drop (declare TIMESTAMP)' END")
    if typ in ("TIMESTAMP", "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"):
        extra = f"({v} RLIKE ':[0-9]{{2}}[.,][0-9]{{7,}}')"
        parts = [f"NOT {extra}"]
        reasons = [f"WHEN {extra} THEN 'has more than 6 fractional second digit(s): {typ} would truncate it'"]
        if typ == "TIMESTAMP":
            offset = f"({v} RLIKE {_lit(_OFFSET_RE)})"
            parts.append(f"NOT {offset}")
            reasons.append(f"WHEN {offset} THEN 'has a UTC offset, which {typ} would drop (declare TIMESTAMPTZ)'")
        return (f"({cast} AND {' AND '.join(parts)})",
                f"CASE WHEN NOT {cast} THEN 'is not a {typ.lower()}' {' '.join(reasons)} ELSE 'is malformed' END")
    return (cast, f"'is not a {typ}'")


def _source_key(charter_path: str, name: str, column: str | None = None) -> str:
    return f"{charter_path}: sources.{name}" + (f".columns.{column}" if column else "")


# -- the engine -------------------------------------------------------------------------


class SparkEngine:
    kind = "spark"

    def __init__(self, engine: Engine, lake: Path, *, charter_path: str = "pilot.yaml",
                 log: Path | None = None) -> None:
        self.engine = engine
        self.lake = Path(lake)
        self.charter_path = charter_path
        # the driver JVM's own output (start-up notes, log4j): beside the lake, not in the terminal
        self.log = Path(log) if log is not None else self.lake.parent / "spark.log"

    @classmethod
    def for_charter(cls, charter: Charter) -> SparkEngine:
        return cls(charter.engine, charter.resolve(charter.engine.lake), charter_path=str(charter.path))

    def _where(self, key: str) -> str:
        """``file:line:col (key engine.KEY)`` of the charter's engine setting (the file's name
        alone when it cannot be read)."""
        from ...charter.yaml_reader import load_yaml

        with contextlib.suppress(Exception):  # a charter built in memory has no file to point into
            doc = load_yaml(Path(self.charter_path), EngineError, what="pilot charter")
            if isinstance(doc.data.get("engine"), dict):
                return doc.where(("engine", key))
        return f"{self.charter_path}: engine.{key}"

    @property
    def spark(self) -> SparkSession:
        master = self.engine.spark_master
        return spark_session(master, self.engine.conf, where=f"{self._where('master')}: {master}", log=self.log)

    # tables ----------------------------------------------------------------------------
    def _tables(self) -> list[str]:
        if not self.lake.is_dir():
            return []
        return sorted(p.name for p in self.lake.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))

    def _frame(self, table: str) -> DataFrame:
        folder = self.lake / table
        if not folder.is_dir():
            raise EngineError(f"table '{table}' is not in the lake", where=str(self.lake),
                              hint=f"ingest it first (`workbench ingest`); the lake has: "
                                   f"{', '.join(self._tables()) or '(no tables)'}")
        return self.spark.read.parquet(str(folder))

    def _views(self) -> None:
        """Every lake table as a temporary view under its own name, for SQL."""
        for table in self._tables():
            self._frame(table).createOrReplaceTempView(table)

    def _write(self, name: str, frame: DataFrame) -> None:
        """Write ``frame`` as table ``name``: to a temporary folder of the lake, then renamed
        into place (the previous table is removed only once the new one is complete)."""
        self.lake.mkdir(parents=True, exist_ok=True)
        tag = uuid.uuid4().hex[:8]
        fresh, old, final = self.lake / f".tmp-{name}-{tag}", self.lake / f".old-{name}-{tag}", self.lake / name
        try:
            # "error", not its alias "errorifexists": a Spark Connect client knows only the former
            frame.write.mode("error").parquet(str(fresh))
            if final.exists():
                os.replace(final, old)
            os.replace(fresh, final)
        except BaseException:
            shutil.rmtree(fresh, ignore_errors=True)
            if old.exists() and not final.exists():
                os.replace(old, final)
            raise
        shutil.rmtree(old, ignore_errors=True)

    # the interface ---------------------------------------------------------------------
    def sql(self, query: str) -> pa.Table:
        self._views()
        return self._run(lambda: self.spark.sql(to_spark_sql(query)).toArrow(), doing="running SQL")

    def frame(self, query: str) -> DataFrame:
        """A SELECT in DuckDB's dialect as a Spark dataframe over the lake (not executed)."""
        self._views()
        return self.spark.sql(to_spark_sql(query))

    def write_table(self, name: str, query: str) -> TableFingerprint:
        self._views()
        self._run(lambda: self._write(name, self.spark.sql(to_spark_sql(query))), doing=f"writing table {name}")
        return self.fingerprint(name)

    def fingerprint(self, table: str) -> TableFingerprint:
        from pyspark.sql import functions as F

        from ..warehouse import TableFingerprint

        df = self._frame(table)
        cols = tuple((f.name, f.dataType.simpleString()) for f in df.schema.fields)
        row_hash = F.xxhash64(*[F.col("`" + c.replace("`", "``") + "`") for c, _ in cols]) if cols else F.lit(0)
        rows, hsum = self._run(lambda: df.agg(F.count(F.lit(1)), F.coalesce(F.sum(row_hash.cast("decimal(38,0)")),
                                                                             F.lit(0).cast("decimal(38,0)")))
                               .collect()[0], doing=f"fingerprinting table {table}")
        digest = hashlib.sha256(json.dumps([table, int(rows), [list(c) for c in cols], str(hsum)]).encode()).hexdigest()[:16]
        return TableFingerprint(table, int(rows), cols, str(hsum), digest)

    def recorded_fingerprint(self, table: str) -> TableFingerprint:
        """The fingerprint ingest's record of ``table`` holds (a quarantine keeps it current),
        without another scan; computed when the table has no record."""
        from ..warehouse import TableFingerprint

        with contextlib.suppress(OSError, ValueError, KeyError):
            meta = json.loads((self.lake / table / LAKE_META).read_text())
            return TableFingerprint.from_dict(meta["fingerprint"])
        return self.fingerprint(table)

    def ingest(self, name: str, source: Source, path: Path, *, pii: Collection[str] = (),
               force: bool = False) -> IngestResult:
        from ..warehouse import IngestResult, _check_header, declared_of, file_sha256

        start = time.perf_counter()
        path = Path(path)
        if not path.is_file():
            raise IngestError("the source file does not exist", where=str(path),
                              hint=f"fix `path:` of {_source_key(self.charter_path, name)}")
        sha, declared = file_sha256(path), declared_of(source)
        meta_file = self.lake / name / LAKE_META
        with contextlib.suppress(OSError, ValueError):
            meta = json.loads(meta_file.read_text())
            if not force and meta["file_sha256"] == sha and meta["declared"] == declared:
                from ..warehouse import TableFingerprint

                return IngestResult(name, path, sha, TableFingerprint.from_dict(meta["fingerprint"]), True,
                                    time.perf_counter() - start)
        for c, t in source.columns.items():  # a type Spark cannot store is refused before any work
            spark_type(t, where=_source_key(self.charter_path, name, c))
        if source.format == "csv" and (source.csv.dateformat or source.csv.timestampformat):
            raise EngineError("the Spark engine reads ISO dates and timestamps only (2024-03-15 14:30:00); this "
                              "source declares csv: dateformat or timestampformat", where=_source_key(
                                  self.charter_path, name),
                              hint="load it with `engine: {kind: duckdb}`, or write the dates as ISO in the file")
        if source.format == "csv" and source.csv.decimal != ".":
            raise EngineError("the Spark engine reads numbers with a decimal point only (1234.5); this source "
                              "declares csv: decimal: \",\"", where=_source_key(self.charter_path, name),
                              hint="load it with `engine: {kind: duckdb}`, or write the numbers with a point in "
                              "the file")
        if source.format == "csv":
            missing = _check_header(path, source)
            raw, select = self._csv(path, source, missing)
        elif source.format == "parquet":
            missing, (raw, select) = [], self._parquet(path, source)
        else:
            raise EngineError(f"the Spark engine does not read {source.format} sources yet", where=_source_key(
                self.charter_path, name), hint="convert the file to CSV or Parquet, or use `engine: {kind: duckdb}`")
        if source.format == "csv":  # a row with too many or too few fields aborts the write
            raw_checked = raw.where("CASE WHEN _wb_corrupt IS NOT NULL THEN raise_error('MALFORMED row') ELSE true END")
        else:
            raw_checked = raw
        typed = raw_checked.selectExpr(*select)
        try:
            self._write(name, typed)
        except Exception as exc:  # noqa: BLE001 - the JVM wraps our sentinel in its own exception types
            if _SENTINEL not in str(exc) and "MALFORMED" not in str(exc).upper():
                raise self._engine_error(exc, doing=f"ingesting {path}") from exc
            raise self._diagnose(path, source, raw, missing, frozenset(pii)) from None
        fp = self.fingerprint(name)
        meta_file.write_text(json.dumps({"file_sha256": sha, "declared": declared, "fingerprint": fp.to_dict(),
                                         "pii": sorted(pii), "source": str(path)}))
        return IngestResult(name, path, sha, fp, False, time.perf_counter() - start, tuple(missing))

    def _csv(self, path: Path, source: Source, missing: list[str]) -> tuple[DataFrame, list[str]]:
        from pyspark.sql.types import StringType, StructField, StructType

        present = [c for c in source.columns if c not in missing]
        o = source.csv
        nulls = [o.null_string] if isinstance(o.null_string, str) else list(o.null_string)
        schema = StructType([StructField(c, StringType()) for c in present] + [StructField("_wb_corrupt", StringType())])
        raw = (self.spark.read.schema(schema)
               .option("header", o.header).option("sep", o.delimiter).option("quote", o.quote)
               .option("escape", o.quote)  # RFC 4180: a quote inside a quoted value is doubled
               # not multiLine: the file splits over the cores (a multiLine CSV is one task); a quoted
               # value holding a line break is then a malformed row, refused with its line
               .option("multiLine", False).option("mode", "PERMISSIVE")
               .option("columnNameOfCorruptRecord", "_wb_corrupt").option("nullValue", "\u0000wb-none")
               .option("emptyValue", "").option("encoding", "UTF-8").csv(str(path)))
        null_list = ", ".join(_lit(n) for n in nulls)
        select = []
        for i, c in enumerate(present):
            q = "`" + c.replace("`", "``") + "`"
            v = f"(CASE WHEN {q} IN ({null_list}) THEN NULL ELSE {q} END)" if nulls else q
            select.append(self._typed(v, source.columns[c], c, i))
        return raw, select

    def _typed(self, v: str, typ: str, column: str, index: int) -> str:
        target = spark_type(typ)
        q = "`" + column.replace("`", "``") + "`"
        rule = _value_rule(v, f"try_cast({v} AS {target})", typ.upper())
        if rule is None:
            return f"CAST({v} AS {target}) AS {q}"
        ok, _ = rule
        return (f"CASE WHEN {v} IS NULL THEN NULL WHEN {ok} THEN CAST({v} AS {target}) "
                f"ELSE raise_error({_lit(_SENTINEL)}) END AS {q}")

    def _parquet(self, path: Path, source: Source) -> tuple[DataFrame, list[str]]:
        raw = self.spark.read.parquet(str(path))
        have = {f.name: f.dataType.simpleString() for f in raw.schema.fields}
        gone = [c for c in source.columns if c not in have]
        if gone:
            raise IngestError(f"the file has no column(s) {', '.join(gone)}", where=str(path),
                              hint=f"fix the file or the declared `columns:` (the file has: {', '.join(have)})")
        select = []
        for c, typ in source.columns.items():
            q, target = "`" + c.replace("`", "``") + "`", spark_type(typ)
            if have[c] == target.lower():
                select.append(q)
                continue
            # another type in the file: the value must survive the round trip (14.6 -> 15 -> 15.0 does not)
            select.append(f"CASE WHEN {q} IS NULL THEN NULL WHEN try_cast(try_cast({q} AS {target}) AS {have[c]}) "
                          f"<=> {q} THEN CAST({q} AS {target}) ELSE raise_error({_lit(_SENTINEL)}) END AS {q}")
        return raw, select

    def _diagnose(self, path: Path, source: Source, raw: DataFrame, missing: list[str],
                  masked: frozenset[str]) -> IngestError:
        """Every bad value (up to a few) with its file:line and column, as DuckDB's ingest says it."""
        from ..warehouse import _show

        present = [c for c in source.columns if c not in missing]
        lines: list[str] = []
        total = 0
        if source.format == "csv":
            # Spark refuses a query of the corrupt-record column alone: the filter also reads a real column
            first = "`" + present[0].replace("`", "``") + "`"
            structural = raw.filter(f"_wb_corrupt IS NOT NULL AND length(concat(coalesce({first}, ''), 'x')) > 0").count()
            # Spark prunes the columns it parses, so its count can miss a short row: the driver's
            # scan of the file (on this error path only) names the lines
            found = _malformed_lines(path, source, len(present))
            total += max(structural, len(found))
            for line, n in found:
                lines.append(f"{path}:{line}: {n} field(s) where {len(present)} column(s) are declared")
        o = source.csv
        nulls = [o.null_string] if isinstance(o.null_string, str) else list(o.null_string)
        bad: list[tuple[int, str, str, str]] = []
        parts = []
        for i, c in enumerate(present, start=1):
            q = "`" + c.replace("`", "``") + "`"
            v = f"(CASE WHEN {q} IN ({', '.join(_lit(n) for n in nulls)}) THEN NULL ELSE {q} END)" if nulls and \
                source.format == "csv" else f"CAST({q} AS STRING)"
            rule = _value_rule(v, f"try_cast({v} AS {spark_type(source.columns[c])})", source.columns[c].upper())
            if rule is None or source.format != "csv":
                continue
            ok, why = rule
            parts.append(f"SELECT {i} AS i, {_lit(c)} AS c, {v} AS v, {why} AS why FROM _wb_raw "
                         f"WHERE _wb_corrupt IS NULL AND {v} IS NOT NULL AND NOT {ok}")
        if parts:
            raw.createOrReplaceTempView("_wb_raw")
            union = " UNION ALL ".join(parts)
            total += self.spark.sql(f"SELECT count(*) FROM ({union})").collect()[0][0]
            bad = [(r["i"], r["c"], r["v"], r["why"]) for r in self.spark.sql(f"{union} LIMIT {_MAX_REPORTED}").collect()]
        located = _value_lines(path, source, present, bad)
        for (i, c, v, why), line in zip(bad, located, strict=True):
            where = f"{path}:{line}" if line else str(path)
            lines.append(f"{where}: column {i} ('{c}'): {_show(v, c, masked)} {why}")
        shown = lines[:_MAX_REPORTED]
        more = f"\n  ... and {total - len(shown)} more" if total > len(shown) else ""
        return IngestError(f"{total} malformed value(s) or row(s): values must parse exactly as their declared "
                           f"type (nothing is rounded or cut); the previous table is unchanged:\n  "
                           + "\n  ".join(shown) + more, where=str(path),
                           hint="fix those lines in the file (or the declared column types in the charter), "
                                "then run again")

    def read_back(self, table: str, con: Any) -> None:
        """Copy lake table ``table`` into the DuckDB connection ``con`` (on the driver), in
        Arrow batches, replacing what was there in one transaction."""

        df = self._frame(table)
        batches = self._run(lambda: df.toArrow().to_batches(), doing=f"reading table {table} back to the driver")
        import pyarrow as pa

        arrow = pa.Table.from_batches(batches, schema=df.limit(0).toArrow().schema) if batches else \
            df.limit(0).toArrow()
        con.register("_wb_lake", arrow)
        try:
            con.execute("BEGIN TRANSACTION")
            con.execute(f"CREATE OR REPLACE TABLE {quote_ident(table)} AS SELECT * FROM _wb_lake")
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                con.execute("ROLLBACK")
            raise
        finally:
            con.unregister("_wb_lake")

    def check_contract(self, contract: Contract, *, quarantine: bool = True, **kwargs: Any) -> ContractResult:
        """The contract's rules through GX on the lake table; then, as on DuckDB, the rows that
        break a failed ``on_fail: quarantine`` rule move to ``<table>__quarantine`` in the lake
        (``quarantine=False``: reported only)."""
        import dataclasses

        from ..contracts.check import _with_quarantine, quarantine_todo
        from ..contracts.compile import compile_contract
        from ..contracts.gx_spark import check_contract_frame

        self._views()
        result = check_contract_frame(self.spark, self._frame(contract.dataset), contract, translate=to_spark_sql,
                                      spark_type=spark_type, **kwargs)
        todo = quarantine_todo(compile_contract(contract), result.rules) if quarantine else []
        if not todo:
            return result
        qtable = f"{contract.dataset}__quarantine"
        total, per_rule = self._run(lambda: self._quarantine(contract.dataset, qtable, todo),
                                    doing=f"quarantining rows of {contract.dataset}")
        return dataclasses.replace(result, rules=tuple(_with_quarantine(r, per_rule.get(r.rule_id, 0))
                                                       for r in result.rules),
                                   quarantine_table=qtable, quarantined_rows=total)

    def _quarantine(self, table: str, qtable: str, todo: list[tuple[str, str]]) -> tuple[int, dict[str, int]]:
        """Move the rows breaking ``todo`` rules from lake table ``table`` to ``qtable`` (appended,
        with ``_contract_rules`` and ``_quarantined_at``), each written aside and renamed into
        place (:meth:`_write`); the quarantine first, so a failure between the two leaves the
        rows in both places, never in neither. Ingest's record follows the table (as on DuckDB),
        so a rerun does not load the rows again."""
        from pyspark.sql import functions as F

        from ..contracts.check import quarantine_predicates

        rules, any_broken = quarantine_predicates(todo)
        t = f"main.{quote_ident(table)}"
        moved = self.frame(f"SELECT *, {rules} AS _contract_rules, now() AS _quarantined_at FROM {t} WHERE {any_broken}")
        counts = moved.select(F.explode("_contract_rules").alias("r")).groupBy("r").count().collect()
        per_rule = {str(row["r"]): int(row["count"]) for row in counts}
        total = moved.count()
        if not total:
            return 0, {}
        if (self.lake / qtable).is_dir():
            moved = self._frame(qtable).unionByName(moved, allowMissingColumns=True)
        self._write(qtable, moved)
        meta_file = self.lake / table / LAKE_META
        meta = json.loads(meta_file.read_text()) if meta_file.exists() else None
        self._write(table, self.frame(f"SELECT * FROM {t} WHERE NOT coalesce({any_broken}, false)"))
        if meta is not None:
            meta["fingerprint"] = self.fingerprint(table).to_dict()
            meta_file.write_text(json.dumps(meta))
        self._views()
        return total, per_rule

    def profile_stats(self, table: str) -> ProfileStats:
        from ..profiling import table_stats

        return ProfileStats(table, tuple(table_stats(_ProfileReader(self, table)).items()))

    def profile(self, table: str, *, bins: int = 20, top_k: int = 10, reference: TableProfile | None = None,
                pii: Collection[str] = ()) -> TableProfile:
        from ..profiling import profile_with

        return profile_with(_ProfileReader(self, table), bins=bins, top_k=top_k, reference=reference, pii=pii)

    def score_batch(self, model_uri: str, table: str, columns: list[str], *,
                    keep: list[str] | None = None) -> pa.Table:
        import tempfile

        import mlflow.pyfunc

        from .base import _quiet, scoring_copy

        df = self._frame(table)
        kept = df.columns if keep is None else keep
        with tempfile.TemporaryDirectory(prefix="wb-model-") as tmp, _quiet("mlflow"):
            # env_manager="local": the executors run this interpreter (PYSPARK_PYTHON), with the workbench
            local, integral = self._run(lambda: scoring_copy(model_uri, Path(tmp)), doing=f"loading model {model_uri}")
            udf = self._run(lambda: mlflow.pyfunc.spark_udf(self.spark, local, result_type="double",
                                                            env_manager="local"), doing=f"loading model {model_uri}")
            q = {c: "`" + c.replace("`", "``") + "`" for c in {*kept, *columns}}
            inputs = [df[q[c]].cast("double").alias(c) if c in integral else df[q[c]] for c in columns]
            scored = df.select(*[df[q[c]] for c in kept], udf(*inputs).alias("prediction"))
            return self._run(lambda: scored.toArrow(), doing=f"scoring {table}")

    def close(self) -> None:
        """The session stays for the process (one JVM); :func:`stop_session` ends it."""

    # errors --------------------------------------------------------------------------
    def _run(self, fn: Any, *, doing: str) -> Any:
        try:
            return fn()
        except EngineError:
            raise
        except Exception as exc:  # noqa: BLE001 - py4j / Spark analysis errors
            raise self._engine_error(exc, doing=doing) from exc

    def _engine_error(self, exc: BaseException, *, doing: str) -> EngineError:
        text = _said(exc) or ""
        memory = self.engine.conf.get("spark.driver.memory", "1g (Spark's default)")
        if "OutOfMemoryError" in text or "Java heap space" in text or "maxResultSize" in text:
            if not self.engine.spark_master.startswith("sc://") and "maxResultSize" not in text:
                # a driver JVM past an OutOfMemoryError is exiting or unsound: end it now, so the
                # next use starts a new one instead of racing its shutdown
                stop_session()
                _shutdown_jvm()
            return EngineError(f"the Spark driver ran out of memory {doing} (spark.driver.memory: {memory})",
                               where=self._where("conf"),
                               hint="raise spark.driver.memory in `engine.conf` (e.g. 6g), or run on a cluster "
                                    "(`engine.master`); nothing was half-written in the lake")
        local = not self.engine.spark_master.startswith("sc://")
        if local and (_jvm_gone(exc) or not _local_driver_answers()):
            said = _log_tail(self.log)
            stop_session()
            _shutdown_jvm()  # it may still be exiting: end it, so the next use starts a new driver, not this one
            what = "ran out of memory and stopped" if "OutOfMemoryError" in said else "stopped"
            return EngineError(f"the Spark driver {what} while {doing}: {said or _first_line(exc)} "
                               f"(its log: {self.log})", where=self._where("conf"),
                               hint=f"most often it ran out of memory: raise spark.driver.memory in `engine.conf` "
                                    f"(now {memory}), or run on a cluster (`engine.master`); nothing was "
                                    "half-written in the lake")
        return EngineError(f"Spark failed {doing}: {_first_line(exc)}", where=f"{self.charter_path}: engine",
                           hint="see the Spark error above; the lake keeps its previous tables")


class _ProfileReader:
    """A lake table for :func:`workbench.data.profiling.profile_with`: profiling's own SQL,
    translated, with the two aggregates Spark spells otherwise. DuckDB's ``histogram()`` maps
    become one grouped count over every key at once (``stack``: a row per key and row, each
    value in the slot of its type; on a table of 336,776 rows, 21.8 s and 17.7 s with a
    reference, against 27.0 s and 46.2 s for one conditional count per bin);
    ``approx_top_k``, which Spark lacks, an exact top-k by grouping.
    Quantiles are Spark's ``percentile_approx`` over every row (a bounded sketch: no
    ``rowid`` to sample by, and no need)."""

    sample = False
    _VIEW = "__wb_profile"
    _SLOTS = {"int": "BIGINT", "float": "DOUBLE", "str": "STRING"}

    def __init__(self, engine: SparkEngine, table: str) -> None:
        import pyspark

        self.owner, self.name = engine, table
        self.frame = engine._frame(table)
        self.engine = f"spark {pyspark.__version__} ({engine.engine.spark_master})"

    def _rows(self, query: str) -> list[Any]:
        def run() -> list[Any]:
            self.frame.createOrReplaceTempView(self._VIEW)
            return self.owner.spark.sql(query).collect()

        return self.owner._run(run, doing=f"profiling table {self.name}")

    def specs(self) -> list[Any]:
        from ..profiling import specs_of_arrow

        return specs_of_arrow(self.owner._run(lambda: self.frame.limit(0).toArrow().schema,
                                              doing=f"profiling table {self.name}"))

    def stats(self, specs: list[Any]) -> dict[str, Any]:
        from ..profiling import _stats_aggs

        values = self.one(_stats_aggs(specs))
        for key in [k for k in values if k.endswith("_skew")]:
            # Spark's skewness is the population's (g1); DuckDB's is the sample's (G1)
            nn = int(values[key[: -len("skew")] + "nn"] or 0)
            if values[key] is not None and nn > 2:
                values[key] = values[key] * (nn * (nn - 1)) ** 0.5 / (nn - 2)
        return values

    def one(self, aggs: list[str], *, where: str = "") -> dict[str, Any]:
        query = f"SELECT {', '.join(aggs)} FROM {self._VIEW}" + (f" WHERE {where}" if where else "")
        return self._rows(to_spark_sql(query))[0].asDict()

    def counts(self, keys: list[tuple[str, str]]) -> list[dict[Any, int]]:
        if not keys:
            return []
        rows = []
        for i, (key, slot) in enumerate(keys):
            value = to_spark_sql(key)
            rows.append(f"{i}, " + ", ".join(f"CAST({value if s == slot else 'NULL'} AS {t})"
                                            for s, t in self._SLOTS.items()))
        query = (f"SELECT k, b, d, s, count(*) AS c FROM (SELECT stack({len(keys)}, {', '.join(rows)}) "
                 f"AS (k, b, d, s) FROM {self._VIEW}) WHERE b IS NOT NULL OR d IS NOT NULL OR s IS NOT NULL "
                 "GROUP BY k, b, d, s")
        out: list[dict[Any, int]] = [{} for _ in keys]
        for k, b, d, s, c in self._rows(query):
            out[k][b if b is not None else d if d is not None else s] = int(c)
        return out

    def top(self, specs: list[Any], k: int) -> list[list[str]]:
        return [[r[0] for r in self._rows(to_spark_sql(
            f"SELECT {s.ident}::VARCHAR AS v, count(*) AS n FROM {self._VIEW} WHERE {s.ident} IS NOT NULL "
            f"GROUP BY 1 ORDER BY n DESC, v LIMIT {int(k)}"))] for s in specs]

    def distinct_rows(self, specs: list[Any]) -> int:
        # xxhash64 skips nulls: each column's null flag goes in too, so (1, NULL) and (NULL, 1) differ
        cols = ", ".join(f"{to_spark_sql(s.ident)}, isnull({to_spark_sql(s.ident)})" for s in specs)
        return int(self._rows(f"SELECT count(DISTINCT xxhash64({cols})) AS d FROM {self._VIEW}")[0][0] or 0)


def _jvm_gone(exc: BaseException) -> bool:
    """Whether ``exc`` says the driver JVM went away (it exits on an OutOfMemoryError), or
    cannot say anything because the connection to it is gone."""
    said = _said(exc)
    if said is None:
        return True
    text = f"{type(exc).__name__}: {said}"
    return any(s in text for s in ("SparkContext was shut down", "ConnectionRefusedError", "Py4JNetworkError",
                                   "Answer from Java side is empty", "Cannot call methods on a stopped SparkContext",
                                   "Connection refused", "ConnectionResetError", "Connection reset"))


def _records(path: Path, source: Source) -> Iterator[tuple[int, list[str]]]:
    """(first physical line, fields) of each CSV record after the header, read on the driver
    (a quoted value may span lines); nothing when the file cannot be read."""
    with contextlib.suppress(OSError, EOFError, csv.Error), \
            open_source(path, "r", newline="", encoding="utf-8-sig", errors="replace") as f:
        reader = csv.reader(f, delimiter=source.csv.delimiter, quotechar=source.csv.quote)
        line_end = 0
        if source.csv.header:
            next(reader, None)
            line_end = reader.line_num
        for row in reader:
            begin, line_end = line_end + 1, reader.line_num
            yield begin, row


def _malformed_lines(path: Path, source: Source, expected: int) -> list[tuple[int, int]]:
    """(line, fields) of the first records whose field count is not ``expected``: read on
    the driver, only once a load has failed."""
    out: list[tuple[int, int]] = []
    for begin, row in _records(path, source):
        if len(row) != expected:
            out.append((begin, len(row)))
            if len(out) >= _MAX_REPORTED:
                break
    return out


def _value_lines(path: Path, source: Source, present: list[str], bad: list[tuple[int, str, str, str]]) -> list[int | None]:
    """The physical line of each bad value's first record (file order), read on the driver."""
    wanted = {(i - 1, v) for i, _, v, _ in bad}
    found: dict[tuple[int, str], int] = {}
    if wanted and source.format == "csv":
        for begin, row in _records(path, source):
            for idx, value in wanted - set(found):
                if idx < len(row) and row[idx] == value:
                    found[(idx, value)] = begin
            if len(found) == len(wanted):
                break
    return [found.get((i - 1, v)) for i, _, v, _ in bad]
