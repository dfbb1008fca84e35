"""Small helpers shared by the fault cases of issue 24."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from support import PLAN, STEP_PARAMS, write_notebook
from test_promotion import GATES
from workbench.decide import registry
from workbench.store.tracking import TAG, Store

PY = sys.executable
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "GX_ANALYTICS_ENABLED": "False", "MLFLOW_DISABLE_TELEMETRY": "true"}


def project(root: Path, name: str) -> Path:
    """A project folder with a charter (JSON is YAML), its raw file and two notebooks."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "flights.csv").write_text("a\n1\n2\n")
    for nb in ("b.ipynb", "e.ipynb"):
        if not (root / nb).exists():
            write_notebook(root / nb, STEP_PARAMS)
    data = {
        "name": name, "owner": "ops <ops@pilot-team.internal>", "question": "Better than the desk rule?",
        "primary_metric": "quality.roc_auc", "task": {"kind": "classification", "target": "late"},
        "sources": {"flights": {"path": "flights.csv", "columns": {"a": "INTEGER"}}},
        "steps": [{"name": "baseline", "role": "baseline", "notebook": "b.ipynb"},
                  {"name": "evaluate", "role": "evaluate", "notebook": "e.ipynb"}],
        "gates": GATES, "promotion": {"model_name": f"{name}-model"}, "production": PLAN,
    }
    path = root / f"{name}.yaml"
    path.write_text(json.dumps(data, indent=1))
    return path


def cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-m", "workbench.cli", *args], capture_output=True, text=True,
                          env={**ENV, **(env or {})}, cwd=cwd, timeout=timeout)


def alias_of(store: Store, charter: Any) -> str | None:
    found = registry.champion(charter, store)
    return str(found.version) if found is not None else None


def versions_of(store: Store, charter: Any) -> list[str]:
    return sorted(str(v.version) for v in registry.versions(store, charter.promotion.model_name))


def decision_runs(store: Store, charter: Any) -> list[Any]:
    return store.find_runs(charter.name, f"tags.`{TAG['kind']}` = 'decision'", max_results=1000)
