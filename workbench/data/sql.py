"""Names in SQL text: the one identifier-quoting helper (the rule for table names is the
charter's: :mod:`workbench.charter.names`).

Any table or column name DuckDB can hold works everywhere: SQL keywords (``default``,
``select``, ``group``), spaces, mixed case, punctuation. Every name that goes into SQL
text is written with :func:`quote_ident` (double quotes, an embedded ``"`` doubled), so
DuckDB never reads it as a keyword and keeps its case. Values go in as parameters or
literals, never as identifiers.

No imports of the workbench: ``warehouse``, ``profiling``, ``contracts`` and the modeling code all use it
(and the charter checks, which must not load the modeling code to read a feature view).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

__all__ = ["quote_ident", "quote_literal", "view_sql", "select_wide", "wide_chunks", "NUMBER_TYPES", "is_number_type"]


NUMBER_TYPES = frozenset({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                          "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "REAL"})


def is_number_type(duck_type: str) -> bool:
    """A DuckDB type that holds numbers (``DECIMAL(18,2)`` included; not BOOLEAN)."""
    return str(duck_type).upper().split("(")[0].strip() in NUMBER_TYPES


# aggregates a query: DuckDB's time grows faster than the distinct counts (or FILTER clauses) one
# SELECT holds. 600 columns' count(DISTINCT (id, column)) over 2,000 rows took 23 s in one query
# and 1 s in queries of 50 each
WIDE_CHUNK = 50
T = TypeVar("T")


def wide_chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    """``items`` in runs of :data:`WIDE_CHUNK`, one query's worth each."""
    return (items[i:i + WIDE_CHUNK] for i in range(0, len(items), WIDE_CHUNK))


def select_wide(con: Any, columns: list[str], source: str) -> tuple[Any, ...]:
    """``SELECT <columns> FROM <source>``'s one row, asked :data:`WIDE_CHUNK` items at a time.
    ``columns``: one item a column, its expressions comma-separated (a column's never split)."""
    row: list[Any] = []
    for part in wide_chunks(columns):
        row += con.execute(f"SELECT {', '.join(part)} FROM {source}").fetchone()
    return tuple(row)


def quote_ident(name: str) -> str:
    """``name`` as a DuckDB identifier, e.g. ``My Table`` -> ``"My Table"`` (``"`` doubled)."""
    return '"' + str(name).replace('"', '""') + '"'


def quote_literal(value: Any) -> str:
    """``value`` as a SQL literal of DuckDB's dialect (a string's ``'`` doubled)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def view_sql(features: Any) -> str:
    """The SELECT that yields the modeling table of a charter's ``features:`` block
    (:class:`workbench.charter.config.FeatureView`): its ``table``, or its ``sql``."""
    if features.table is not None:
        return f"SELECT * FROM {quote_ident(features.table)}"
    return str(features.sql).strip().rstrip(";")
