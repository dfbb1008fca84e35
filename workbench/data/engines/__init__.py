"""The data engines: where ingest, contracts, profiles and the feature view run.

DuckDB (embedded, the default) or Apache Spark (`engine: {kind: spark}` in the charter, the
`spark` extra). Both implement :class:`~.base.DataEngine`; callers pick one with
:func:`engine_for` and never import duckdb or pyspark for this work themselves. pyspark is
imported in :mod:`.spark` only (tests/data/test_engines_layout.py holds it there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import DataEngine, ProfileStats

if TYPE_CHECKING:  # pragma: no cover
    from ...charter.config import Charter

__all__ = ["DataEngine", "ProfileStats", "engine_for"]


def engine_for(charter: Charter) -> DataEngine:
    """The charter's engine (``engine.kind``): DuckDB on the charter's warehouse file, or
    Spark on its lake. Spark starts (or joins) its session lazily, on first use."""
    if charter.engine.kind == "spark":
        from .spark import SparkEngine

        return SparkEngine.for_charter(charter)
    from .duckdb import DuckDBEngine

    return DuckDBEngine(charter.warehouse_path)
