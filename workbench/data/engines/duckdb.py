"""The DuckDB engine: today's warehouse code behind the engine interface.

Nothing new happens here: ingest is :func:`warehouse.ingest_source` under the writer lock,
contracts are :func:`contracts.check_contract`, profiles are :mod:`..profiling`'s own; this
module only gives them the shape every engine shares.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import warehouse
from ..sql import quote_ident
from .base import ProfileStats

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

    from ...charter.config import Source
    from ..contracts import Contract, ContractResult
    from ..profiling import TableProfile

__all__ = ["DuckDBEngine", "arrow_fingerprint"]


def arrow_fingerprint(name: str, table: pa.Table) -> warehouse.TableFingerprint:
    """DuckDB's fingerprint of a result brought back to the driver (e.g. a feature view
    computed by Spark): the same hash whichever engine computed the rows."""
    import duckdb

    con = duckdb.connect()
    try:
        con.register("_wb_arrow", table)
        con.execute(f"CREATE TABLE {quote_ident(name)} AS SELECT * FROM _wb_arrow")
        return warehouse.fingerprint(con, name)
    finally:
        con.close()


class DuckDBEngine:
    kind = "duckdb"

    def __init__(self, db: Path) -> None:
        self.db = Path(db)

    def ingest(self, name: str, source: Source, path: Path, *, pii: Collection[str] = (),
               force: bool = False) -> warehouse.IngestResult:
        with warehouse.writer(self.db) as con:
            return warehouse.ingest_source(con, name, source, path, force=force, pii=pii)

    def sql(self, query: str) -> pa.Table:
        con = warehouse.connect_read_only(self.db)
        try:
            return con.sql(query).to_arrow_table()
        finally:
            con.close()

    def write_table(self, name: str, query: str) -> warehouse.TableFingerprint:
        with warehouse.writer(self.db) as con:
            con.execute(f"CREATE OR REPLACE TABLE {quote_ident(name)} AS {query}")
            return warehouse.fingerprint(con, name)

    def fingerprint(self, table: str) -> warehouse.TableFingerprint:
        con = warehouse.connect_read_only(self.db)
        try:
            return warehouse.fingerprint(con, table)
        finally:
            con.close()

    def check_contract(self, contract: Contract, **kwargs: Any) -> ContractResult:
        from ..contracts import check_contract

        return check_contract(self.db, contract, **kwargs)

    def profile_stats(self, table: str) -> ProfileStats:
        from ..profiling import DuckDBReader, table_stats

        con = warehouse.connect_read_only(self.db)
        try:
            return ProfileStats(table, tuple(table_stats(DuckDBReader(con, table)).items()))
        finally:
            con.close()

    def profile(self, table: str, *, bins: int = 20, top_k: int = 10, reference: TableProfile | None = None,
                pii: Collection[str] = ()) -> TableProfile:
        from ..profiling import profile_table

        con = warehouse.connect_read_only(self.db)
        try:
            return profile_table(con, table, bins=bins, top_k=top_k, reference=reference, pii=pii)
        finally:
            con.close()

    def score_batch(self, model_uri: str, table: str, columns: list[str], *,
                    keep: list[str] | None = None) -> pa.Table:
        import tempfile

        import mlflow.pyfunc
        import pyarrow as pa

        from .base import scoring_copy

        frame = self.sql(f"SELECT * FROM {quote_ident(table)}").to_pandas()
        with tempfile.TemporaryDirectory(prefix="wb-model-") as tmp:
            local, integral = scoring_copy(model_uri, Path(tmp))
            model = mlflow.pyfunc.load_model(local)
        inputs = frame[columns].astype({c: "float64" for c in integral if c in columns})
        scored = frame.assign(prediction=model.predict(inputs))
        return pa.Table.from_pandas(scored if keep is None else scored[[*keep, "prediction"]], preserve_index=False)

    def close(self) -> None:
        """Nothing stays open: every call opens and closes its connection."""
