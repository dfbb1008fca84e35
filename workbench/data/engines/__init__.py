"""The data engines: where ingest, contracts, profiles and the feature view run.

DuckDB (embedded, the default) or Apache Spark (`engine: {kind: spark}` in the charter, the
`spark` extra). Both implement :class:`~.base.DataEngine`; callers pick one with
:func:`engine_for` and never import duckdb or pyspark for this work themselves. pyspark is
imported in :mod:`.spark` only (tests/data/test_engines_layout.py holds it there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import DataEngine, ProfileStats

if TYPE_CHECKING:  # pragma: no cover
    from ...charter.config import Charter
    from ..warehouse import IngestResult

__all__ = ["DataEngine", "ProfileStats", "engine_for", "ingest_all"]


def engine_for(charter: Charter) -> DataEngine:
    """The charter's engine (``engine.kind``): DuckDB on the charter's warehouse file, or
    Spark on its lake. Spark starts (or joins) its session lazily, on first use."""
    if charter.engine.kind == "spark":
        from .spark import SparkEngine

        return SparkEngine.for_charter(charter)
    from .duckdb import DuckDBEngine

    return DuckDBEngine(charter.warehouse_path)


def ingest_all(con: Any, charter: Charter, *, force: bool = False) -> list[IngestResult]:
    """Ingest every source of the charter on its engine; what the pilot's steps call.

    DuckDB: :func:`warehouse.ingest_all` into the open warehouse ``con``, as always. Spark:
    each source is ingested into the lake (strictly, by Spark) and fingerprinted by Spark;
    then the table is read back into the warehouse ``con`` on the driver, so the notebooks,
    training and reports run unchanged on what Spark loaded (README, "Scale")."""
    from .. import warehouse

    if charter.engine.kind != "spark":
        return warehouse.ingest_all(con, charter, force=force)
    from .spark import SparkEngine

    engine = SparkEngine.for_charter(charter)
    pii = warehouse.charter_pii(charter)
    results = []
    for name, src in charter.sources.items():
        result = engine.ingest(name, src, charter.resolve(src.path), pii=pii.get(name, frozenset()), force=force)
        have = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' "
                           "AND table_name = ?", [name]).fetchone()[0]
        if not result.skipped or not have:
            engine.read_back(name, con)
            warehouse._record_pii(con, name, pii.get(name, frozenset()))
        results.append(result)
    return results
