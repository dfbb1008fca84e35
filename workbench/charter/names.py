"""The rule for table names: what the charter and the contracts accept as a warehouse table.

Any name DuckDB can hold works (SQL keywords such as ``default``, spaces, mixed case,
punctuation): it is always quoted in SQL text (:func:`workbench.data.sql.quote_ident`).
Refused are only names that cannot be told apart when printed, or that tools re-quoting
names would mangle.
"""

from __future__ import annotations

import unicodedata

__all__ = ["TABLE_NAME_RULE", "table_name_problem"]

TABLE_NAME_RULE = (
    "a table name may hold any characters (spaces, SQL keywords such as `default`, mixed case, "
    "punctuation) except a double quote and control characters, and may not be empty or start "
    "or end with whitespace"
)



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
