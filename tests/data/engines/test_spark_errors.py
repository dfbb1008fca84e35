"""A broken or unreachable engine is a clear EngineError: what failed, where in the charter
(file:line of engine.master / engine.conf) and what to do; in seconds, not after Spark's own
minutes of retries; with nothing half-written in the lake; and the tests' shared local[2]
session keeps working after each refused one."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import REPO, charter_file
from workbench.charter.config import Charter, load_charter
from workbench.errors import ConfigError, EngineError

from .conftest import TEST_JVM, free_port
from .test_spark_parity import CONTRACT, ITEMS, _items_csv, _shops_csv

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]


def _charter(root: Path, master: str, conf: dict | None = None) -> tuple[Charter, str]:
    """A real charter file with an engine block; the file:line of its `master:` key."""
    path = charter_file(root, "engine-errors")
    data = json.loads(path.read_text())
    data["engine"] = {"kind": "spark", "master": master, "lake": "lake/", **({"conf": conf} if conf else {})}
    path.write_text(json.dumps(data, indent=1))
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if '"master"' in text)
    return load_charter(path), f"{path}:{line}:"


def _refused(charter: Charter, root: Path) -> tuple[str, float]:
    from workbench.data.engines.spark import SparkEngine

    started = time.monotonic()
    with pytest.raises(EngineError) as info:
        SparkEngine.for_charter(charter).ingest("items", ITEMS, _items_csv(root / "items.csv"))
    return str(info.value), time.monotonic() - started


def _still_works(spark: object) -> None:
    assert spark.sql("SELECT 41 + 1 AS x").collect()[0]["x"] == 42  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["spark", "sc"])
def test_an_unreachable_master_is_refused_in_seconds(tmp_path: Path, spark: object, kind: str) -> None:
    port = free_port()  # nothing listens there
    charter, where = _charter(tmp_path, f"{kind}://127.0.0.1:{port}")
    message, seconds = _refused(charter, tmp_path)
    assert seconds < 20, seconds
    assert where in message and "(key engine.master)" in message, message
    assert f"127.0.0.1:{port} cannot be reached" in message, message
    assert ("start-connect-server.sh" if kind == "sc" else "start-master.sh") in message, message
    assert not (tmp_path / "lake").exists()  # nothing was written
    _still_works(spark)


def test_a_malformed_master_is_refused(tmp_path: Path, spark: object) -> None:
    with pytest.raises(ConfigError) as info:  # the charter's own check: not a Spark master at all
        _charter(tmp_path / "a", "sc//127.0.0.1:15002")
    assert "(key engine.master)" in str(info.value) and "is not a Spark master" in str(info.value)
    charter, where = _charter(tmp_path / "b", "sc://127.0.0.1:port")  # the shape of one, a bad port
    message, _ = _refused(charter, tmp_path / "b")
    assert where in message and "is not a valid Spark master" in message and "sc://HOST:15002" in message, message
    _still_works(spark)


def test_java_home_without_java_is_named(tmp_path: Path, spark: object, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "jdk-17"
    monkeypatch.setenv("JAVA_HOME", str(missing))
    charter, where = _charter(tmp_path, "local[1]")
    message, seconds = _refused(charter, tmp_path)
    assert f"JAVA_HOME is {missing}, which has no bin/java" in message and where in message, message
    assert "openjdk-17-jre-headless" in message and seconds < 5
    monkeypatch.undo()
    _still_works(spark)


CHILD = """
import json, sys
from pathlib import Path
import mlflow.sklearn, numpy as np
from sklearn.linear_model import LinearRegression
from workbench.charter.config import load_charter
from workbench.data.contracts import load_contract
from workbench.data.engines.spark import SparkEngine
from workbench.errors import EngineError
sys.path.insert(0, {tests!r})
from data.engines.test_spark_parity import ITEMS, SHOPS

d = Path({root!r})
out = {{}}
def attempt(key, fn):
    try:
        out[key] = ["ok", fn()]
    except EngineError as exc:
        out[key] = ["EngineError", str(exc)]

tiny = SparkEngine.for_charter(load_charter({tiny!r}))
attempt("tiny", lambda: tiny.ingest("items", ITEMS, d / "items.csv").fingerprint.rows)
small = SparkEngine.for_charter(load_charter({small!r}))
attempt("ingest", lambda: small.ingest("items", ITEMS, d / "items.csv").fingerprint.rows)
# what pyspark and MLflow print on their own, on this driver: a contract, an analysis error
# (pyspark logs it as JSON), a batch scored through MLflow's spark_udf
attempt("shops", lambda: small.ingest("shops", SHOPS, d / "shops.csv").fingerprint.rows)
attempt("rules", lambda: len(small.check_contract(load_contract(d / "items.yml")).rules))
attempt("analysis", lambda: small.sql("SELECT no_such_column FROM items").num_rows)
x = np.arange(20, dtype=float).reshape(10, 2)
# requirements given: MLflow would otherwise infer them, with warnings of its own (not the engine's)
mlflow.sklearn.save_model(LinearRegression().fit(x, x[:, 0]), str(d / "model"), pip_requirements=["scikit-learn"])
attempt("scored", lambda: small.score_batch(str(d / "model"), "items", ["id", "shop"]).num_rows)
digits = "(SELECT * FROM (VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)) AS v(x))"
# 100,000 rows of ~10 kB to a 512 MB driver: out of memory in ~2 s (10 M rows of 100 bytes, the
# same gigabyte, took ~26 s: Spark's cost is per row)
huge = "SELECT repeat('x', 10000) || a.x || b.x AS s FROM " + ", ".join(f"{{digits}} AS {{n}}" for n in "abcde")
attempt("collect", lambda: small.sql(huge).num_rows)
attempt("after", lambda: small.fingerprint("items").rows)  # a new driver starts
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def drivers(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path, Path]:
    """One child process for the two tests below (each driver memory needs a JVM of its own, and
    a JVM start is most of a Spark test's time): a driver too small to start, then one that
    ingests, checks, scores, runs out of memory and starts again. (what it printed, the small
    charter, its lake)"""
    root = tmp_path_factory.mktemp("drivers")
    # the tests' JVM options (conftest.TEST_JVM: quick start-up, the serial collector) for both
    tiny, _ = _charter(root / "tiny", "local[1]", {"spark.driver.memory": "200m", **TEST_JVM})
    small, _ = _charter(root / "small", "local[1]", {"spark.driver.memory": "512m", **TEST_JVM})
    _items_csv(root / "items.csv")
    _shops_csv(root / "shops.csv")
    (root / "items.yml").write_text(CONTRACT)
    code = CHILD.format(tests=str(REPO / "tests"), root=str(root), tiny=str(tiny.path), small=str(small.path))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=400, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    return done, small.path, root / "small" / "lake"


@pytest.mark.slow
def test_driver_memory_too_small_or_exhausted_is_named(drivers: tuple[subprocess.CompletedProcess, Path, Path]) -> None:
    done, small, lake = drivers
    conf_line = next(i for i, t in enumerate(small.read_text().splitlines(), 1) if '"conf"' in t)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    kind, message = out["tiny"]
    assert kind == "EngineError" and "spark.driver.memory is too small for Spark to start" in message, message
    assert "(key engine.master)" in message
    assert out["ingest"] == ["ok", 40]
    kind, message = out["collect"]
    assert kind == "EngineError", message
    assert "the Spark driver ran out of memory" in message and "spark.driver.memory" in message, message
    assert f"{small}:{conf_line}:" in message and "(key engine.conf)" in message, message
    assert out["after"] == ["ok", 40]  # the lake kept its table; a new driver read it
    assert sorted(p.name for p in lake.iterdir()) == ["items", "shops"]  # nothing half-written
    assert "OutOfMemoryError" in (lake.parent / "spark.log").read_text()


# Spark's own output: the driver JVM's start-up lines (the JDK's notes, log4j's profile, WARNs,
# the default log level, NativeCodeLoader), progress bars, pyspark's JSON error logs and MLflow's
# spark_udf warnings
NOISE = re.compile(r"WARN|log4j|Setting default log level|setLogLevel|NativeCodeLoader|incubator|\[Stage \d+|"
                   r"SQLQueryContextLogger|env_manager|OutOfMemoryError")


@pytest.mark.slow
def test_spark_output_stays_out_of_the_terminal(drivers: tuple[subprocess.CompletedProcess, Path, Path]) -> None:
    """Spark's own output goes to the log beside the lake, or nowhere; the terminal gets the
    workbench's own lines only: when a driver starts, checks, fails a query, scores through
    MLflow, runs out of memory or cannot start at all."""
    done, _, lake = drivers
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["shops"] == ["ok", 3] and out["rules"][0] == "ok" and out["rules"][1] > 0, out
    assert out["analysis"][0] == "EngineError" and "no_such_column" in out["analysis"][1], out
    assert out["scored"] == ["ok", 40], out
    printed = done.stdout.strip().splitlines()[:-1] + done.stderr.splitlines()  # the last: the child's own JSON
    leaked = [line for line in printed if NOISE.search(line)]
    assert not leaked, leaked
    log = (lake.parent / "spark.log").read_text()  # the JVM said its piece, to the log
    assert "log4j" in log and "WARN" in log


def test_an_error_the_dead_driver_cannot_describe_counts_as_the_driver_gone() -> None:
    """A Py4JJavaError asks the JVM for its message; after an OutOfMemoryError the JVM may be
    gone, so str() itself raises (CI saw `<exception str() failed>` with a reset connection).
    That must read as the driver having stopped, not escape as an unnamed py4j error."""
    from workbench.data.engines.spark import _first_line, _jvm_gone

    class Unprintable(Exception):
        def __str__(self) -> str:
            raise ConnectionResetError(104, "Connection reset by peer")

    assert _jvm_gone(Unprintable()) and _first_line(Unprintable()) == "Unprintable"
    assert _jvm_gone(ConnectionResetError(104, "Connection reset by peer"))
    assert not _jvm_gone(ValueError("a column is missing"))


def test_a_csv_with_a_declared_date_format_is_refused_before_spark_starts(tmp_path: Path) -> None:
    """Spark reads ISO dates only: a source with csv: dateformat is named, with the fix, and
    nothing is written to the lake."""
    from workbench.charter.config import CsvOptions, Engine, Source
    from workbench.data.engines.spark import SparkEngine

    path = tmp_path / "orders.csv"
    path.write_text("ordered,amount\n15.03.2022,1\n")
    source = Source(path=path, columns={"ordered": "DATE", "amount": "BIGINT"}, csv=CsvOptions(dateformat="%d.%m.%Y"))
    engine = SparkEngine(Engine(kind="spark", master="local[1]"), tmp_path / "lake", charter_path="pilot.yaml")
    started = time.monotonic()
    with pytest.raises(EngineError) as info:
        engine.ingest("orders", source, path)
    assert "ISO dates and timestamps only" in str(info.value) and "pilot.yaml: sources.orders" in str(info.value)
    assert "engine: {kind: duckdb}" in str(info.value) and time.monotonic() - started < 5
    assert not (tmp_path / "lake").exists()
    # nor does it read a decimal comma (1234,5): the same, before any work
    path.write_text("amount;price\n1;2,5\n")
    commas = Source(path=path, columns={"amount": "BIGINT", "price": "DOUBLE"},
                    csv=CsvOptions(delimiter=";", decimal=","))
    with pytest.raises(EngineError) as info:
        engine.ingest("orders", commas, path)
    assert "decimal point only" in str(info.value) and "engine: {kind: duckdb}" in str(info.value)
    assert not (tmp_path / "lake").exists()
