"""Names in SQL text: the one identifier-quoting helper (the rule for table names is the
charter's: :mod:`workbench.charter.names`).

Any table or column name DuckDB can hold works everywhere: SQL keywords (``default``,
``select``, ``group``), spaces, mixed case, punctuation. Every name that goes into SQL
text is written with :func:`quote_ident` (double quotes, an embedded ``"`` doubled), so
DuckDB never reads it as a keyword and keeps its case. Values go in as parameters or
literals, never as identifiers.

No imports: ``warehouse``, ``profiling``, ``contracts`` and the modeling code all use it
(and the charter checks, which must not load the modeling code to read a feature view).
"""

from __future__ import annotations

from typing import Any

__all__ = ["quote_ident", "view_sql"]


def quote_ident(name: str) -> str:
    """``name`` as a DuckDB identifier, e.g. ``My Table`` -> ``"My Table"`` (``"`` doubled)."""
    return '"' + str(name).replace('"', '""') + '"'


def view_sql(features: Any) -> str:
    """The SELECT that yields the modeling table of a charter's ``features:`` block
    (:class:`workbench.charter.config.FeatureView`): its ``table``, or its ``sql``."""
    if features.table is not None:
        return f"SELECT * FROM {quote_ident(features.table)}"
    return str(features.sql).strip().rstrip(";")
