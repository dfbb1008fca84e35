"""The data engines: where ingest, contracts, profiles and the feature view run.

DuckDB (embedded, the default) or Apache Spark (`engine: {kind: spark}` in the charter, the
`spark` extra). Both implement :class:`~.base.DataEngine`; callers pick one with
:func:`engine_for` and never import duckdb or pyspark for this work themselves. pyspark is
imported in :mod:`.spark` only (tests/data/test_engines_layout.py holds it there).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .base import DataEngine, ProfileStats

if TYPE_CHECKING:  # pragma: no cover
    from ...charter.config import Charter, Engine
    from ..warehouse import IngestResult

__all__ = ["DataEngine", "ProfileStats", "engine_for", "engine_at", "ingest_all", "fingerprints_now", "warehouse_digest",
           "build_feature_view", "current_feature_view", "reading_feature_view", "COPY_TABLE", "FEATURE_VIEW"]

# Spark: the lake table's fingerprint (Spark's) -> its copy's in the warehouse (DuckDB's), so the
# runner's "data changed under the pilot" check knows what the notebooks should find
COPY_TABLE = "_workbench_lake_copy"
# Spark: the charter's feature view, computed by Spark in the lake and read back for training
FEATURE_VIEW = "_wb_feature_view"
_VIEW_META = "_workbench_view.json"  # beside its Parquet files: what it was built from


def engine_for(charter: Charter) -> DataEngine:
    """The charter's engine (``engine.kind``): DuckDB on the charter's warehouse file, or
    Spark on its lake. Spark starts (or joins) its session lazily, on first use."""
    return engine_at(charter.engine, root=charter.root, warehouse=charter.warehouse_path, charter_path=charter.path)


def engine_at(spec: Engine, *, root: Path, warehouse: Path, charter_path: Path | None = None) -> DataEngine:
    """The engine ``spec`` describes (a charter's ``engine:`` block) for a pilot in folder
    ``root``: what a notebook run headless builds from its injected parameters."""
    if spec.kind == "spark":
        from .spark import SparkEngine

        return SparkEngine(spec, Path(root) / spec.lake, charter_path=str(charter_path or Path(root) / "pilot.yaml"))
    from .duckdb import DuckDBEngine

    return DuckDBEngine(Path(warehouse))


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
        copied = warehouse_digest(con, charter, name, result.fingerprint.digest)
        have = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' "
                           "AND table_name = ?", [name]).fetchall()[0][0]
        if not result.skipped or not have or copied.startswith("(no copy"):
            _copy(engine, con, name, result.fingerprint.digest, pii.get(name, frozenset()))
        results.append(result)
    return results


def _copy(engine: Any, con: Any, name: str, lake_digest: str, pii: Collection[str]) -> None:
    """Read lake table ``name`` back into the warehouse ``con``; record which lake fingerprint
    the copy's fingerprint stands for."""
    from .. import warehouse

    engine.read_back(name, con)
    warehouse._record_pii(con, name, pii)
    copy = warehouse.fingerprint(con, name)
    con.execute(f"CREATE TABLE IF NOT EXISTS {COPY_TABLE} (table_name VARCHAR PRIMARY KEY, "
                "lake_digest VARCHAR, copy_digest VARCHAR)")
    con.execute(f"INSERT OR REPLACE INTO {COPY_TABLE} VALUES (?, ?, ?)", [name, lake_digest, copy.digest])


def fingerprints_now(charter: Charter, tables: Collection[str]) -> dict[str, str]:
    """The fingerprint digest of each of ``tables`` as it is now, for the steps to expect
    (after a quarantine moved rows). DuckDB: the warehouse's. Spark: the lake's, and the
    warehouse's copy is read back from the lake again."""
    from .. import warehouse

    if not tables:
        return {}
    if charter.engine.kind != "spark":
        con = warehouse.connect_read_only(charter.warehouse_path)
        try:
            return {t: warehouse.fingerprint(con, t).digest for t in tables}
        finally:
            con.close()
    from .spark import SparkEngine

    engine = SparkEngine.for_charter(charter)
    pii = warehouse.charter_pii(charter)
    out = {}
    with warehouse.writer(charter.warehouse_path) as con:
        for t in tables:
            out[t] = engine.recorded_fingerprint(t).digest  # the quarantine just fingerprinted it
            _copy(engine, con, t, out[t], pii.get(t, frozenset()))
    return out


def warehouse_digest(con: Any, charter: Charter, table: str, digest: str) -> str:
    """The fingerprint digest the warehouse's ``table`` should have when ingest recorded
    ``digest``: the same on DuckDB; on Spark, that of the copy read back from the lake."""
    if charter.engine.kind != "spark":
        return digest
    try:
        rows = con.execute(f"SELECT copy_digest FROM {COPY_TABLE} WHERE table_name = ? AND lake_digest = ?",
                           [table, digest]).fetchall()
    except Exception:  # noqa: BLE001 - no copy recorded yet (duckdb.CatalogException): nothing matches
        rows = []
    return rows[0][0] if rows else f"(no copy of lake fingerprint {digest})"


def build_feature_view(con: Any, charter: Charter, sources: dict[str, str]) -> tuple[str, bool] | None:
    """Spark: the charter's feature view (``features:``, DuckDB's SQL, translated) computed by
    Spark over the lake's tables, written to the lake as :data:`FEATURE_VIEW` and read back
    into the warehouse ``con``, where training reads it; (its lake fingerprint digest, whether
    it was built now). Rows are sorted on every column as they are written, so the split,
    drawn by row position, is the same whatever order the join produced them in. Not built
    again while the lake holds it for the same SQL and ``sources`` fingerprints and the
    warehouse's copy is intact. DuckDB, or no feature view: None (the notebooks run it)."""
    features = charter.modeling().features
    if charter.engine.kind != "spark" or features is None:
        return None
    from ...errors import EngineError
    from .spark import SparkEngine

    engine = SparkEngine.for_charter(charter)
    wanted = _view_key(features, sources)
    query = wanted["sql"]
    held = _held_view(con, charter, wanted)
    if held is not None:
        return held, False
    try:
        frame = engine.frame(query)  # analysed, not run: the view's columns
        orderable = [i + 1 for i, f in enumerate(frame.schema.fields) if f.dataType.typeName() != "map"]
    except EngineError:
        raise
    except Exception as exc:  # noqa: BLE001 - Spark's analysis errors name the SQL problem
        raise EngineError(f"the feature view does not run on Spark: {str(exc).splitlines()[0][:300]}",
                          where=f"{charter.path}: features",
                          hint="write it in DuckDB's SQL over the charter's sources (the workbench translates it); "
                               "a DuckDB-only function may have no Spark equivalent") from exc
    order = f" ORDER BY {', '.join(map(str, orderable))}" if orderable else ""
    fp = engine.write_table(FEATURE_VIEW, f"SELECT * FROM ({query}) AS wb_view{order}")
    (engine.lake / FEATURE_VIEW / _VIEW_META).write_text(json.dumps({"built_from": wanted, "digest": fp.digest}))
    _copy(engine, con, FEATURE_VIEW, fp.digest, ())
    return fp.digest, True


def current_feature_view(charter: Charter, con: Any) -> bool:
    """Spark: whether the warehouse ``con`` holds the feature view built for the charter's SQL
    from the lake's tables as they are recorded now, intact (a notebook run by hand then
    reads the rows the pilot trained on, in the same order)."""
    features = charter.modeling().features
    if charter.engine.kind != "spark" or features is None:
        return False
    from .spark import LAKE_META

    lake = charter.resolve(charter.engine.lake)
    try:
        sources = {t: json.loads((lake / t / LAKE_META).read_text())["fingerprint"]["digest"] for t in charter.sources}
    except (OSError, ValueError, KeyError, TypeError):  # a source not ingested yet: nothing was built from it
        return False
    return _held_view(con, charter, _view_key(features, sources)) is not None


def reading_feature_view(spec: Any) -> Any:
    """A modeling spec (``charter.modeling()``) whose feature view is read from
    :data:`FEATURE_VIEW`, the copy Spark computed, instead of its SQL being run again."""
    return spec.model_copy(update={"features": spec.features.model_copy(update={"table": FEATURE_VIEW, "sql": None})})


def _view_key(features: Any, sources: dict[str, str]) -> dict[str, Any]:
    """What a feature view is built from: its SQL and the fingerprint digests of the sources."""
    from ..sql import view_sql

    return {"sql": view_sql(features), "sources": dict(sorted(sources.items()))}


def _held_view(con: Any, charter: Charter, wanted: dict[str, Any]) -> str | None:
    """The lake fingerprint digest of the feature view when the lake's record says it was
    built from ``wanted`` (SQL, source fingerprints) and the warehouse ``con`` holds its copy
    intact; else None."""
    from .. import warehouse

    try:
        meta = json.loads((charter.resolve(charter.engine.lake) / FEATURE_VIEW / _VIEW_META).read_text())
        if meta.get("built_from") != wanted or not meta.get("digest"):
            return None
        intact = warehouse.fingerprint(con, FEATURE_VIEW).digest == warehouse_digest(con, charter, FEATURE_VIEW,
                                                                                      meta["digest"])
    except Exception:  # noqa: BLE001 - no record, or no copy (or a broken one): not held
        return None
    return meta["digest"] if intact else None
