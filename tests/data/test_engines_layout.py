"""Each engine library is imported in one module: pyspark and sqlglot only in
workbench/data/engines/spark.py, so the default set-up (no `spark` extra) never needs them
and every Spark call goes through the engine interface."""

from __future__ import annotations

import ast
from pathlib import Path

from support import REPO

ONLY_IN = {"pyspark": "workbench/data/engines/spark.py", "sqlglot": "workbench/data/engines/spark.py"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_pyspark_and_sqlglot_are_imported_in_the_spark_engine_only() -> None:
    where: dict[str, list[str]] = {lib: [] for lib in ONLY_IN}
    for path in sorted((REPO / "workbench").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        for lib in _imports(path) & set(ONLY_IN):
            where[lib].append(rel)
    assert where == {lib: [home] for lib, home in ONLY_IN.items()}, where


def test_the_check_sees_an_import_anywhere(tmp_path: Path) -> None:
    stray = tmp_path / "stray.py"
    stray.write_text("def f():\n    from pyspark.sql import functions\n")
    assert "pyspark" in _imports(stray)
