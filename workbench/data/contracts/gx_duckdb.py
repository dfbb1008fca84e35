"""Great Expectations 1.x on DuckDB: a ``duckdb`` SQL datasource that works.

Why this module exists (delete it when GX ships native DuckDB support, PR #12084):
GX's ``SqlAlchemyExecutionEngine.execute_query`` runs each query inside
``with engine.connect()`` and reads the cursor *after* the connection closed; with
duckdb-engine the result is gone by then and every metric fails with
``IndexError: list index out of range`` (GX issue #11579). GX already keeps one
persisted connection for sqlite / SQL Server (``_PERSISTED_CONNECTION_DIALECTS``); we
opt DuckDB into the same behaviour, following the pattern GX uses for Redshift (a
``SQLDatasource`` subclass whose ``execution_engine_type`` is an engine subclass).

We also point ``dialect_module`` at SQLAlchemy's postgresql dialect (duckdb-engine's
dialect derives from it): GX picks regex operators from that module, and with ``None``
regex expectations fail with "Regex is not supported for dialect duckdb".

Defining :class:`DuckDBDatasource` registers ``context.data_sources.add_duckdb(...)``
(GX's datasource metaclass does it), so this module must be imported before use.
Always :func:`close_engine` when validation ends: with duckdb 2.0 a process exiting
while GX still holds a connection prints pages of ``nanobind: leaked ...``.

This is the only module that subclasses GX internals; ``tests/contracts/test_gx_duckdb.py``
pins the behaviour it relies on.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urlencode

# GX phones home by default; must be set before great_expectations is imported.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import sqlalchemy.dialects.postgresql as _pg_dialect  # noqa: E402
from great_expectations.datasource.fluent.sql_datasource import SQLDatasource  # noqa: E402
from great_expectations.execution_engine.sqlalchemy_execution_engine import (  # noqa: E402
    SqlAlchemyExecutionEngine,
)

__all__ = ["DuckDBExecutionEngine", "DuckDBDatasource", "duckdb_url", "close_engine"]


_KEYWORDS: frozenset[str] | None = None


def duckdb_keywords() -> frozenset[str]:
    """DuckDB's keywords that are not plain identifiers (every category but ``unreserved``)."""
    global _KEYWORDS
    if _KEYWORDS is None:
        import duckdb

        con = duckdb.connect()
        try:
            rows = con.execute(
                "SELECT keyword_name FROM duckdb_keywords() WHERE keyword_category <> 'unreserved'"
            ).fetchall()
        finally:
            con.close()
        _KEYWORDS = frozenset(r[0].lower() for r in rows)
    return _KEYWORDS


def _quote_duckdb_keywords(engine: Any) -> None:
    """Make SQLAlchemy quote every DuckDB keyword GX emits as a column name.

    GX builds column references with ``sa.column(name)``; the dialect's identifier
    preparer quotes a name only when it is a reserved word (or has upper case, spaces,
    ...). duckdb-engine adds DuckDB's *reserved* keywords only, so a column named ``by``,
    ``asof`` or ``positional`` (type/function-name keywords) went out bare and failed to
    parse. This engine's preparer gets every non-unreserved keyword (its own copy: the
    class-level set is shared by every PostgreSQL dialect in the process)."""
    prep = getattr(getattr(engine, "dialect", None), "identifier_preparer", None)
    if prep is not None:
        prep.reserved_words = set(prep.reserved_words) | duckdb_keywords()


class DuckDBExecutionEngine(SqlAlchemyExecutionEngine):
    """SqlAlchemyExecutionEngine that keeps one DuckDB connection open for its lifetime."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # GX only knows dialect modules for the dialects it lists; duckdb-engine's
        # dialect is a PGDialect subclass, so postgres operators (e.g. ~ for regex) apply.
        self.dialect_module = _pg_dialect
        _quote_duckdb_keywords(self.engine)

    @contextmanager
    def get_connection(self) -> Generator[Any, None, None]:
        # Same as GX's sqlite branch: results are read after the `with` block ends,
        # so the connection must outlive it. Closed in close().
        if self._connection is None or self._connection.closed:
            self._connection = self.engine.connect()
        try:
            yield self._connection
        except Exception:
            # DuckDB aborts the transaction on any failed statement and SQLAlchemy does
            # not know it (no PendingRollbackError), so without a rollback one bad
            # query would fail every later metric on this shared connection.
            self._connection.rollback()
            raise

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        # GX's close() disposes `_engine_backup` when set, else `engine`; dispose both.
        backup = getattr(self, "_engine_backup", None)
        if backup is not None:
            backup.dispose()
        self.engine.dispose()


class DuckDBDatasource(SQLDatasource):
    """A fluent SQL datasource of type ``duckdb`` (``context.data_sources.add_duckdb``)."""

    type: Literal["duckdb"] = "duckdb"  # type: ignore[assignment]
    _extra_doc: ClassVar[str] = "DuckDB through duckdb-engine, one persisted connection."

    @property
    def execution_engine_type(self) -> type[SqlAlchemyExecutionEngine]:
        return DuckDBExecutionEngine


def duckdb_url(path: Path | str, *, read_only: bool = True, **config: Any) -> str:
    """SQLAlchemy URL for a DuckDB file; ``config`` goes to DuckDB (memory_limit, threads...).

    duckdb-engine passes URL query parameters to ``duckdb.connect(config=...)``.
    """
    params: dict[str, Any] = {"access_mode": "read_only" if read_only else "read_write"}
    params.update({k: v for k, v in config.items() if v is not None})
    return f"duckdb:///{Path(path).resolve()}?{urlencode(params)}"


def close_engine(datasource: SQLDatasource) -> None:
    """Close the datasource's execution engine and SQLAlchemy engine (idempotent)."""
    engine = getattr(datasource, "_execution_engine", None)
    if engine is not None:
        engine.close()
    sa_engine = getattr(datasource, "_engine", None)
    if sa_engine is not None:
        sa_engine.dispose()
