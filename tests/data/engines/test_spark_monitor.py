"""Monitoring on Spark: a batch's feature view is scored by the engine (MLflow's spark_udf
on the executors) with the same scores the driver computes on DuckDB's rows, degraded
rows and an integer column with nulls (that training never saw) included; the lake keeps
nothing of the batch afterwards."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from support import make_charter
from workbench.charter.config import Candidate, Engine, Task
from workbench.decide.monitor import _degraded_rows, _normalise, _score_frame, drop_engine_rows, score_on_engine
from workbench.measure.modeling.models import GroupRate, build_candidate
from workbench.errors import EngineError
from workbench.store.tracking import FINISHED, Store

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]


def _rows(n: int, seed: int, *, holes: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"region": rng.choice(["north", "south", "east"], n), "hour": rng.integers(0, 24, n),
                          "stops": rng.integers(0, 3, n),  # an integer column never null
                          "x": rng.normal(0, 1, n).round(3), "wind": rng.gamma(2.0, 3.0, n).round(2)})
    frame["late"] = (rng.random(n) < 1 / (1 + np.exp(-(frame["x"] + (frame["region"] == "north"))))).astype(int)
    if holes:  # a null in the fallback column (served by today's rule) and in plain features
        frame.loc[frame.index % 7 == 0, "region"] = None
        frame.loc[frame.index % 5 == 0, "wind"] = np.nan
        # an integer column that had no null in training (the model's signature says long)
        frame["hour"] = frame["hour"].astype("Int64")
        frame.loc[frame.index % 11 == 0, "hour"] = pd.NA
    return frame


def test_a_batch_scored_on_spark_gets_the_drivers_scores(tmp_path: Path, spark: object,
                                                         spark_conf: dict[str, str]) -> None:
    task = Task(kind="classification", target="late", positive_label=1)
    train = _rows(600, 0, holes=False)
    features = ["region", "hour", "stops", "x", "wind"]
    fallback = GroupRate.fit(train[features], train["late"], task, ["hour"], min_rows=5)
    spec = Candidate(name="hgb", estimator="sklearn.ensemble.HistGradientBoostingClassifier",
                     params={"max_iter": 30}, fallback_on_null=["region"])
    model = build_candidate(spec, task, ["hour", "stops", "x", "wind"], ["region"], fallback).fit(train[features], train["late"])
    store = Store(tmp_path / "mlruns")
    run = store.start_run("monitor-spark", "hgb")
    uri = store.log_sklearn_model(run.run_id, model, "model", input_example=train[features].head(3)).model_uri
    store.end_run(run.run_id, FINISHED)

    con = duckdb.connect(str(tmp_path / "batch.duckdb"))
    batch = _rows(300, 1, holes=True)  # noqa: F841 - read by DuckDB below
    con.execute("CREATE TABLE batch AS SELECT * FROM batch")
    charter = make_charter("monitor-spark").model_copy(update={
        "root": tmp_path, "engine": Engine(kind="spark", master="local[2]", conf=spark_conf, lake=Path("lake"))})

    scored = score_on_engine(charter, uri, con, "SELECT * FROM batch", features, tag="t1")
    try:
        rows = con.sql(f"SELECT * FROM read_parquet('{scored.rows}') ORDER BY __wb_row").df()
        X = _normalise(rows, model)[features]  # noqa: N806 - what the monitor's driver path scores
        on_driver, fell_back, refused = _score_frame(model, X)
        assert refused == 0 and len(scored.scores) == len(on_driver) == 300
        np.testing.assert_allclose(scored.scores, on_driver, rtol=1e-12, atol=0)
        assert _degraded_rows(model, X).sum() == fell_back.sum() > 0  # the degraded rows are counted the same
        assert len(set(np.round(scored.scores, 6))) > 20  # real scores, not one constant
    finally:
        drop_engine_rows(scored)
    assert not list((tmp_path / "lake").iterdir())  # nothing of the batch stays in the lake
    # a model the engine cannot load is an EngineError (the monitor then scores on the driver),
    # and the batch's rows are not left in the lake either
    with pytest.raises(EngineError, match="loading model models:/no-such-model/1"):
        score_on_engine(charter, "models:/no-such-model/1", con, "SELECT * FROM batch", features, tag="t2")
    con.close()
    assert not list((tmp_path / "lake").iterdir())
