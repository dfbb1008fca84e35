"""Spark's own output stays out of the pilot's terminal: the driver JVM's start-up lines
(the JDK's notes, log4j's profile, WARNs, the default log level, NativeCodeLoader),
progress bars, pyspark's JSON error logs and MLflow's spark_udf warnings go to the log
beside the lake, or nowhere; the terminal gets the workbench's own lines only."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from support import REPO

from .conftest import TEST_JVM
from .test_spark_parity import CONTRACT, _items_csv, _shops_csv

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

NOISE = re.compile(r"WARN|log4j|Setting default log level|setLogLevel|NativeCodeLoader|incubator|\[Stage \d+|"
                   r"SQLQueryContextLogger|env_manager")

CHILD = """
import sys
from pathlib import Path
import mlflow.sklearn, numpy as np
from sklearn.linear_model import LinearRegression
sys.path.insert(0, {tests!r})
from data.engines.test_spark_parity import ITEMS, SHOPS
from workbench.charter.config import Engine
from workbench.data.contracts import load_contract
from workbench.data.engines.spark import SparkEngine
from workbench.errors import EngineError

d = Path({root!r})
engine = SparkEngine(Engine(kind="spark", master="local[1]", conf={{"spark.driver.memory": "1g", **{jvm!r}}}), d / "lake")
engine.ingest("items", ITEMS, d / "items.csv")
engine.ingest("shops", SHOPS, d / "shops.csv")
result = engine.check_contract(load_contract(d / "items.yml"))
try:
    engine.sql("SELECT no_such_column FROM items")  # an analysis error: pyspark logs it as JSON
except EngineError:
    pass
x = np.arange(20, dtype=float).reshape(10, 2)
# requirements given: MLflow would otherwise infer them, with warnings of its own (not the engine's)
mlflow.sklearn.save_model(LinearRegression().fit(x, x[:, 0]), str(d / "model"), pip_requirements=["scikit-learn"])
scores = engine.score_batch(str(d / "model"), "items", ["id", "shop"])
print(f"rules {{len(result.rules)}} scored {{scores.num_rows}}")
"""


def test_spark_output_stays_out_of_the_terminal(tmp_path: Path) -> None:
    _items_csv(tmp_path / "items.csv")
    _shops_csv(tmp_path / "shops.csv")
    (tmp_path / "items.yml").write_text(CONTRACT)
    code = CHILD.format(tests=str(REPO / "tests"), root=str(tmp_path), jvm=TEST_JVM)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=400, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"rules \d+ scored 40", done.stdout), done.stdout
    leaked = [line for line in (done.stdout + done.stderr).splitlines() if NOISE.search(line)]
    assert not leaked, leaked
    log = (tmp_path / "spark.log").read_text()  # the JVM said its piece, to the log
    assert "log4j" in log and "WARN" in log
