"""Names in SQL text: the one identifier-quoting helper (the rule for table names is the
charter's: :mod:`workbench.charter.names`).

Any table or column name DuckDB can hold works everywhere: SQL keywords (``default``,
``select``, ``group``), spaces, mixed case, punctuation. Every name that goes into SQL
text is written with :func:`quote_ident` (double quotes, an embedded ``"`` doubled), so
DuckDB never reads it as a keyword and keeps its case. Values go in as parameters or
literals, never as identifiers.

No imports: ``warehouse``, ``profiling``, ``contracts`` and the modeling code all use it.
"""

from __future__ import annotations

__all__ = ["quote_ident"]


def quote_ident(name: str) -> str:
    """``name`` as a DuckDB identifier, e.g. ``My Table`` -> ``"My Table"`` (``"`` doubled)."""
    return '"' + str(name).replace('"', '""') + '"'
