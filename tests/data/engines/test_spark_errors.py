"""A broken or unreachable engine is a clear EngineError: what failed, where in the charter
(file:line of engine.master / engine.conf) and what to do; in seconds, not after Spark's own
minutes of retries; with nothing half-written in the lake; and the tests' shared local[2]
session keeps working after each refused one."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import REPO, charter_file
from workbench.charter.config import Charter, load_charter
from workbench.errors import ConfigError, EngineError

from .conftest import free_port
from .test_spark_parity import ITEMS, _items_csv

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
from workbench.charter.config import load_charter
from workbench.data.engines.spark import SparkEngine
from workbench.errors import EngineError
sys.path.insert(0, {tests!r})
from data.engines.test_spark_parity import ITEMS

out = {{}}
def attempt(key, fn):
    try:
        out[key] = ["ok", fn()]
    except EngineError as exc:
        out[key] = ["EngineError", str(exc)]

tiny = SparkEngine.for_charter(load_charter({tiny!r}))
attempt("tiny", lambda: tiny.ingest("items", ITEMS, Path({items!r})).fingerprint.rows)
small = SparkEngine.for_charter(load_charter({small!r}))
attempt("ingest", lambda: small.ingest("items", ITEMS, Path({items!r})).fingerprint.rows)
digits = "(SELECT * FROM (VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)) AS v(x))"
huge = "SELECT repeat('x', 100) || a.x || b.x AS s FROM " + ", ".join(f"{{digits}} AS {{n}}" for n in "abcdefg")
attempt("collect", lambda: small.sql(huge).num_rows)  # 10 M rows of ~100 bytes to a 512 MB driver
attempt("after", lambda: small.fingerprint("items").rows)  # a new driver starts
print(json.dumps(out))
"""


@pytest.mark.slow
def test_driver_memory_too_small_or_exhausted_is_named(tmp_path: Path) -> None:
    """In a child process: each driver memory needs a JVM of its own."""
    tiny, _ = _charter(tmp_path / "tiny", "local[1]", {"spark.driver.memory": "200m"})
    small, _ = _charter(tmp_path / "small", "local[1]", {"spark.driver.memory": "512m"})
    conf_line = next(i for i, t in enumerate(small.path.read_text().splitlines(), 1) if '"conf"' in t)
    items = _items_csv(tmp_path / "items.csv")
    code = CHILD.format(tests=str(REPO / "tests"), tiny=str(tiny.path), small=str(small.path), items=str(items))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=400, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    kind, message = out["tiny"]
    assert kind == "EngineError" and "spark.driver.memory is too small for Spark to start" in message, message
    assert "(key engine.master)" in message
    assert out["ingest"] == ["ok", 40]
    kind, message = out["collect"]
    assert kind == "EngineError", message
    assert "the Spark driver ran out of memory" in message and "spark.driver.memory" in message, message
    assert f"{small.path}:{conf_line}:" in message and "(key engine.conf)" in message, message
    assert out["after"] == ["ok", 40]  # the lake kept its table; a new driver read it
    lake = tmp_path / "small" / "lake"
    assert sorted(p.name for p in lake.iterdir()) == ["items"]  # nothing half-written
    # the JVM's own output went to the log beside the lake, not to the terminal
    assert "OutOfMemoryError" in (lake.parent / "spark.log").read_text()
    assert "NativeCodeLoader" not in done.stderr and "log4j" not in done.stderr, done.stderr[-2000:]


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
