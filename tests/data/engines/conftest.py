"""One local[2] Spark session for every test marked spark (a JVM start costs ~10 s and
~500 MB): session-scoped, and these files run on one xdist worker (the group below)."""

from __future__ import annotations

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


@pytest.fixture(scope="session")
def spark_conf() -> dict[str, str]:
    # small: this machine has 2 cores shared with other work
    return {"spark.sql.shuffle.partitions": "2", "spark.driver.memory": "1g",
            "spark.default.parallelism": "2"}


@pytest.fixture(scope="session")
def spark(spark_conf: dict[str, str]) -> Iterator[object]:
    require_spark_extra()
    from workbench.data.engines.spark import spark_session, stop_session

    yield spark_session("local[2]", spark_conf, where="tests")
    stop_session()
