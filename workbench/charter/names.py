"""The rule for table names: what the charter and the contracts accept as a warehouse table.

Any name DuckDB can hold works (SQL keywords such as ``default``, spaces, mixed case,
punctuation): it is always quoted in SQL text (:func:`workbench.data.sql.quote_ident`).
Refused are only names that cannot be told apart when printed, or that tools re-quoting
names would mangle.

Also the field checks the charter and the contracts share (pydantic validators call them):
an identifier, a regular expression, an import path.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator

__all__ = ["TABLE_NAME_RULE", "table_name_problem", "IDENT", "identifier", "regular_expression", "RegularExpression", "import_path"]

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*\.[A-Za-z_]\w*$")

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


def identifier(value: str, what: str) -> str:
    """``value`` if it is an identifier (it names a run, a metric prefix, a parameter); else the
    ValueError pydantic reports at the key."""
    if not IDENT.match(value):
        raise ValueError(f"{what} must be an identifier (letters, digits, underscore)")
    return value


def regular_expression(value: str, what: str = "pattern") -> str:
    """``value`` if Python's ``re`` compiles it; else a ValueError with the compiler's reason."""
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"{what} {value!r} is not a regular expression: {exc}") from None
    return value


def import_path(value: str, example: str) -> str:
    """``value`` if it looks like ``package.module.Name`` (an estimator's import path)."""
    if not _IMPORT_PATH.match(value):
        raise ValueError(f"name the estimator by its import path, e.g. {example}")
    return value


# a field holding a regular expression (a contract's `regex:`, a rule candidate's `pattern:`)
RegularExpression = Annotated[str, AfterValidator(regular_expression)]
