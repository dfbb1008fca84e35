"""Names in SQL text: the one identifier-quoting helper, and the rule for table names.

Any table or column name DuckDB can hold works everywhere: SQL keywords (``default``,
``select``, ``group``), spaces, mixed case, punctuation. Every name that goes into SQL
text is written with :func:`quote_ident` (double quotes, an embedded ``"`` doubled), so
DuckDB never reads it as a keyword and keeps its case. Values go in as parameters or
literals, never as identifiers.

No imports: ``config``, ``warehouse``, ``profiling`` and ``contracts`` all use it.
"""

from __future__ import annotations

import unicodedata

__all__ = ["quote_ident", "table_name_problem", "TABLE_NAME_RULE"]

TABLE_NAME_RULE = (
    "a table name may hold any characters (spaces, SQL keywords such as `default`, mixed case, "
    "punctuation) except a double quote and control characters, and may not be empty or start "
    "or end with whitespace"
)


def quote_ident(name: str) -> str:
    """``name`` as a DuckDB identifier, e.g. ``My Table`` -> ``"My Table"`` (``"`` doubled)."""
    return '"' + str(name).replace('"', '""') + '"'


def table_name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a warehouse table (None when it can).

    DuckDB holds nearly any string as a quoted name; refused are the names that cannot
    be told apart from a neighbour when printed (empty, padded with whitespace, control
    characters, NUL) and names with a double quote, which tools that re-quote names
    (Great Expectations strips surrounding quotes) mangle."""
    if not isinstance(name, str) or not name:
        return "is empty"
    if name != name.strip():
        return "starts or ends with whitespace"
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        return "contains a control character"
    if '"' in name:
        return "contains a double quote"
    return None
