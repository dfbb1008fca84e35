"""The same charter runs unchanged against a Spark Connect address: a real local Connect
server (pyspark's own jars) gives the same fingerprints, contract results, profile numbers,
feature-view checksum and batch scores as the tests' local[2] session, on the parity data."""

from __future__ import annotations

import json
import math
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from support import REPO
from workbench.charter.config import Engine
from workbench.data.contracts import load_contract
from workbench.data.engines.duckdb import DuckDBEngine, arrow_fingerprint

from .test_spark_parity import CONTRACT, FEATURES, ITEMS, SHOPS, _items_csv, _shops_csv

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.xdist_group("spark")]


def _model(path: Path) -> str:
    import mlflow.sklearn
    import numpy as np
    from sklearn.linear_model import LinearRegression

    x = np.array([[i, i % 4 + 1] for i in range(1, 41)], dtype=float)
    mlflow.sklearn.save_model(LinearRegression().fit(x, x[:, 0] * 0.5 - x[:, 1]), str(path))
    return str(path)


def test_the_same_charter_runs_against_spark_connect(tmp_path: Path, connect_master: str, spark: object,
                                                     spark_conf: dict[str, str]) -> None:
    from workbench.data.engines.spark import SparkEngine

    items, shops = _items_csv(tmp_path / "items.csv"), _shops_csv(tmp_path / "shops.csv")
    (tmp_path / "items.yml").write_text(CONTRACT)
    model = _model(tmp_path / "model")
    # the Connect side, in a process of its own (engine_client.py says why)
    spec = {"master": connect_master, "conf": {"spark.sql.shuffle.partitions": "2"}, "lake": str(tmp_path / "lake-sc"),
            "sources": {"items": {"path": str(items), "columns": ITEMS.columns},
                        "shops": {"path": str(shops), "columns": SHOPS.columns}},
            "contract": str(tmp_path / "items.yml"), "features": FEATURES, "model": model,
            "score_columns": ["id", "shop"]}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("engine_client.py")),
                           str(tmp_path / "spec.json"), str(tmp_path / "out.pickle")],
                          capture_output=True, text=True, timeout=480, cwd=REPO)
    assert done.returncode == 0, done.stderr[-4000:]
    remote = pickle.loads((tmp_path / "out.pickle").read_bytes())

    local = SparkEngine(Engine(kind="spark", master="local[2]", conf=spark_conf), tmp_path / "lake-local")
    for name, src, path in (("items", ITEMS, items), ("shops", SHOPS, shops)):
        fp = local.ingest(name, src, path).fingerprint
        assert (remote[f"fingerprint.{name}"].rows, remote[f"fingerprint.{name}"].row_hash,
                remote[f"fingerprint.{name}"].digest) == (fp.rows, fp.row_hash, fp.digest), name

    rl, rr = local.check_contract(load_contract(tmp_path / "items.yml")), remote["contract"]
    assert rr.row_count == rl.row_count == 40
    got = {r.rule_id: (r.success, r.unexpected_count, r.error) for r in rr.rules}
    assert got == {r.rule_id: (r.success, r.unexpected_count, r.error) for r in rl.rules}
    assert sum(not ok for ok, _, _ in got.values()) >= 4  # the fixture breaks rules on purpose

    pl, pr = local.profile_stats("items").as_dict(), remote["profile"]
    assert set(pl) == set(pr) and len(pl) > 30
    for key, a in pl.items():
        b = pr[key]
        assert (a is None) == (b is None), key
        if a is not None:
            assert math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12), (key, a, b)

    view = arrow_fingerprint("view", local.sql(FEATURES))
    duck = DuckDBEngine(tmp_path / "warehouse.duckdb")
    duck.ingest("items", ITEMS, items)
    duck.ingest("shops", SHOPS, shops)
    assert remote["features"].row_hash == view.row_hash == arrow_fingerprint("view", duck.sql(FEATURES)).row_hash
    assert remote["features"].rows == view.rows > 0
    assert remote["features_written"].row_hash == local.write_table("features", FEATURES).row_hash

    on_local = local.score_batch(model, "items", ["id", "shop"]).to_pydict()
    by_id = dict(zip(on_local["id"], on_local["prediction"], strict=True))
    assert len(remote["scores"]["id"]) == 40
    for i, p in zip(remote["scores"]["id"], remote["scores"]["prediction"], strict=True):
        assert math.isclose(p, by_id[i], rel_tol=1e-9), i
    assert remote["lake"] == ["features", "items", "shops"]  # nothing half-written
