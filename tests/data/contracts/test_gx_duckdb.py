"""Pin the GX-on-DuckDB fix (workbench/contracts/gx_duckdb.py).

When GX ships native DuckDB support (PR #12084) `test_vanilla_gx_still_fails_on_duckdb`
fails: then delete gx_duckdb.py and use GX's own datasource.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

gx = pytest.importorskip("great_expectations")
from great_expectations import expectations as gxe  # noqa: E402

from workbench.data.contracts import gx_duckdb  # noqa: E402


@pytest.fixture
def db(tmp_path: Path, make_wh) -> Path:
    return make_wh(
        tmp_path / "w.duckdb",
        "CREATE TABLE t AS SELECT i AS id, CASE WHEN i % 10 = 0 THEN NULL ELSE 'ab' || (i % 3) END AS s "
        "FROM range(100) r(i)",
    )


def _batch(db: Path, **url_config):
    ctx = gx.get_context(mode="ephemeral")
    ds = ctx.data_sources.add_duckdb(name="w", connection_string=gx_duckdb.duckdb_url(db, **url_config))
    batch = ds.add_table_asset(name="t", table_name="t", schema_name="main").add_batch_definition_whole_table("b").get_batch()
    return ds, batch


def test_add_duckdb_is_registered_and_metrics_resolve(db: Path) -> None:
    ds, batch = _batch(db)
    try:
        assert isinstance(ds, gx_duckdb.DuckDBDatasource) and ds.type == "duckdb"
        r = batch.validate(gxe.ExpectColumnValuesToNotBeNull(column="s"), result_format="BASIC")
        assert not r.exception_info.get("raised_exception")
        assert r.result["unexpected_count"] == 10 and r.success is False
    finally:
        gx_duckdb.close_engine(ds)


def test_regex_uses_postgres_dialect_operators(db: Path) -> None:
    ds, batch = _batch(db)
    try:
        assert ds.get_execution_engine().dialect_module.__name__ == "sqlalchemy.dialects.postgresql"
        ok = batch.validate(gxe.ExpectColumnValuesToMatchRegex(column="s", regex="^ab[0-2]$"))
        bad = batch.validate(gxe.ExpectColumnValuesToMatchRegex(column="s", regex="^ab[0-1]$"), result_format="BASIC")
        assert ok.success is True and not ok.exception_info.get("raised_exception")
        assert bad.success is False and bad.result["unexpected_count"] == 30
        # DuckDB's `~` (what GX emits here) is a substring match, like pandas' regex:
        # quarantine uses regexp_matches to agree; contracts anchor (^...$) to mean "whole value"
        partial = batch.validate(gxe.ExpectColumnValuesToMatchRegex(column="s", regex="b[0-2]"))
        assert partial.success is True
    finally:
        gx_duckdb.close_engine(ds)


def test_failed_query_does_not_poison_the_shared_connection(db: Path) -> None:
    ds, batch = _batch(db)
    try:
        broken = batch.validate(gxe.UnexpectedRowsExpectation(unexpected_rows_query="SELECT nope FROM {batch}"))
        assert broken.success is False
        after = batch.validate(gxe.ExpectColumnValuesToNotBeNull(column="id"))
        assert after.success is True and not after.exception_info.get("raised_exception")
    finally:
        gx_duckdb.close_engine(ds)


def test_close_engine_releases_the_file(db: Path) -> None:
    ds, batch = _batch(db)
    batch.validate(gxe.ExpectColumnValuesToNotBeNull(column="id"))
    gx_duckdb.close_engine(ds)
    assert ds.get_execution_engine()._connection is None
    # a read-write connection with another configuration is refused while one is open
    con = duckdb.connect(str(db), config={"threads": 1})
    con.execute("INSERT INTO t VALUES (1000, 'x')")
    con.close()


def test_duckdb_url_passes_config() -> None:
    url = gx_duckdb.duckdb_url("/x/w.duckdb", read_only=False, memory_limit="1GB", threads=None)
    assert url == "duckdb:////x/w.duckdb?access_mode=read_write&memory_limit=1GB"


def test_vanilla_gx_still_fails_on_duckdb(db: Path) -> None:
    """GX issue #11579: the stock SQL datasource reads results after closing the connection."""
    ctx = gx.get_context(mode="ephemeral")
    ds = ctx.data_sources.add_sql(name="plain", connection_string=f"duckdb:///{db}")
    batch = ds.add_table_asset(name="t", table_name="t").add_batch_definition_whole_table("b").get_batch()
    r = batch.validate(gxe.ExpectColumnValuesToNotBeNull(column="id"))
    ds.get_execution_engine().close()
    assert r.success is False, "GX now validates DuckDB natively: drop workbench/contracts/gx_duckdb.py"
