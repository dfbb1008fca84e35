"""The charter's `engine:` block: duckdb by default, spark with a master, conf and lake;
every refusal names the key path and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.charter.config import load_charter
from workbench.errors import ConfigError


def _with_engine(project: Path, block: str) -> Path:
    project.write_text(project.read_text() + block)
    return project


def test_no_engine_block_means_duckdb(project: Path) -> None:
    charter = load_charter(project)
    assert charter.engine.kind == "duckdb"
    assert charter.engine.master is None and charter.engine.conf == {}


def test_spark_engine_loads_master_conf_and_lake(project: Path) -> None:
    _with_engine(project, "engine:\n  kind: spark\n  master: local[2]\n"
                          "  conf: {spark.driver.memory: 1g, spark.sql.shuffle.partitions: 2}\n  lake: lake/\n")
    engine = load_charter(project).engine
    assert engine.kind == "spark" and engine.spark_master == "local[2]"
    assert engine.conf == {"spark.driver.memory": "1g", "spark.sql.shuffle.partitions": 2}
    assert engine.lake == Path("lake")


@pytest.mark.parametrize(
    ("block", "where", "says"),
    [
        ("engine:\n  kind: hadoop\n", "engine.kind", "spark"),
        ("engine:\n  kind: spark\n  master: local[two]\n", "engine.master", "sc://HOST:15002"),
        ("engine:\n  kind: spark\n  conf: {driver.memory: 1g}\n", "engine.conf", "starts with 'spark.'"),
        ("engine:\n  kind: spark\n  mastr: local[2]\n", "engine.mastr", "did you mean 'master'"),
        ("engine:\n  master: local[2]\n", "engine", "set `kind: spark`"),
    ],
)
def test_bad_engine_block_names_key_path_and_fix(project: Path, block: str, where: str, says: str) -> None:
    _with_engine(project, block)
    with pytest.raises(ConfigError) as info:
        load_charter(project)
    msg = str(info.value)
    assert where in msg and says in msg, msg
    assert str(project) in msg
