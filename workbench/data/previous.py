"""The previous version of a table, kept until the new one passes its contract.

Ingest loads a source's new table in one transaction; its contract is checked afterwards
(by Great Expectations, on the committed file). So that a load whose error-level rules
fail does not replace good data, ingest first renames the table it replaces to
``_wb_previous_<name>`` and records the ingest bookkeeping row that described it, in the
same transaction. The contract check then settles the load: passed, the previous version
is dropped; failed, it is swapped back in (one transaction) with its bookkeeping, so the
next ingest loads the file again and fails the same way until the file is fixed.
"""

from __future__ import annotations

import contextlib

import duckdb

from .sql import quote_ident as _q

__all__ = ["keep_previous", "settle", "has_previous", "PREFIX"]

PREFIX = "_wb_previous_"
_RECORD = "_workbench_previous"


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' "
                            "AND table_name = ?", [table]).fetchone()[0])


def keep_previous(con: duckdb.DuckDBPyConnection, name: str, meta_table: str) -> None:
    """Inside ingest's transaction, before the new table is created: move the current table
    (if any) aside with its bookkeeping row. An older kept version (a load never settled)
    is the last one that passed or was restored: it is kept, the unsettled one dropped."""
    con.execute(f"CREATE TABLE IF NOT EXISTS {_RECORD} AS SELECT * FROM {meta_table} LIMIT 0")
    if not _exists(con, name):
        return
    if _exists(con, PREFIX + name):
        con.execute(f"DROP TABLE {_q(name)}")
        return
    con.execute(f"ALTER TABLE {_q(name)} RENAME TO {_q(PREFIX + name)}")
    con.execute(f"DELETE FROM {_RECORD} WHERE table_name = ?", [name])
    con.execute(f"INSERT INTO {_RECORD} SELECT * FROM {meta_table} WHERE table_name = ?", [name])


def has_previous(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return _exists(con, PREFIX + name)


def settle(con: duckdb.DuckDBPyConnection, name: str, *, keep_new: bool, meta_table: str) -> bool:
    """Drop the previous version (``keep_new``) or put it back in place of the new table.
    True if the previous table was restored."""
    if not _exists(con, PREFIX + name):
        return False
    con.execute("BEGIN TRANSACTION")
    try:
        restored = False
        if not keep_new:
            con.execute(f"DROP TABLE IF EXISTS {_q(name)}")
            con.execute(f"ALTER TABLE {_q(PREFIX + name)} RENAME TO {_q(name)}")
            con.execute(f"DELETE FROM {meta_table} WHERE table_name = ?", [name])
            con.execute(f"INSERT INTO {meta_table} SELECT * FROM {_RECORD} WHERE table_name = ?", [name])
            restored = True
        else:
            con.execute(f"DROP TABLE {_q(PREFIX + name)}")
        con.execute(f"DELETE FROM {_RECORD} WHERE table_name = ?", [name])
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise
    return restored
