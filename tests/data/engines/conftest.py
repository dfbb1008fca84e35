"""One local[2] Spark session for every test marked spark (a JVM start costs ~10 s and
~500 MB): session-scoped, and these files run on one xdist worker (the group below)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest


def require_spark_extra() -> None:
    """Skip locally, FAIL under CI=true (.ci/run installs the extra) without pyspark or Java."""
    import shutil

    problem = None
    try:
        import pyspark  # noqa: F401
        import sqlglot  # noqa: F401
    except ImportError as exc:
        problem = f"the `spark` extra is not installed ({exc}): run `make setup-spark`"
    if problem is None and shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        problem = "no Java runtime: Spark needs Java >= 17 (apt-get install openjdk-17-jre-headless)"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)


# Every test JVM (the session's, a pilot kernel's, the Connect server's, a child process's) is
# short-lived and runs small queries: the client compiler alone (C1) and the serial collector
# spend far less CPU starting up and warming than C2's compiler threads and G1 (a new Spark
# pilot's ingest, contracts and profile: 50 → 30 s of CPU). Results do not depend on them.
TEST_JVM = {"spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"}


@pytest.fixture(scope="session")
def spark_conf() -> dict[str, str]:
    # small: this machine has 2 cores shared with other work
    return {"spark.sql.shuffle.partitions": "2", "spark.driver.memory": "1g",
            "spark.default.parallelism": "2", **TEST_JVM}


@pytest.fixture(scope="session")
def spark(spark_conf: dict[str, str]) -> Iterator[object]:
    require_spark_extra()
    from workbench.data.engines.spark import spark_session, stop_session

    yield spark_session("local[2]", spark_conf, where="tests")
    stop_session()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def connect_master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Spark Connect server on this machine (pyspark's own jars), on a free port, for
    the session; its address ``sc://127.0.0.1:PORT``. Stopped (its process group) at the end."""
    import signal
    import socket
    import subprocess
    import time

    require_spark_extra()
    from workbench.data.engines.spark import connect_server_command

    port = free_port()
    argv, env = connect_server_command(port, master="local[2]",
                                       conf={"spark.driver.memory": "1g", "spark.sql.shuffle.partitions": "2", **TEST_JVM})
    log = tmp_path_factory.mktemp("connect") / "server.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=out, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 180  # a JVM start on a loaded 2-core machine
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the Spark Connect server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the Spark Connect server did not listen on {port}:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield f"sc://127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
