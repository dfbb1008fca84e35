"""Helpers shared by the tests: small real projects (CSV sources, a charter, notebooks).

A plain module, not conftest: test files import from it by name, and a second
conftest.py (tests/contracts/) would otherwise shadow `conftest` on sys.path."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import nbformat

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]

# A complete production plan: without one, the implicit `production_plan` gate refuses a GO.
PLAN = {
    "on_call": "oncall@pilot-team.internal",
    "service_levels": {"latency_p95_ms": 100, "cost_per_1k_usd": 1.0},
    "monitoring": {"input_psi": 0.2, "prediction_psi": 0.2, "min_quality": "baseline", "max_fallback_share": 0.05},
    "rollback": {"quality_breaches": 2},
}
PLAN_YAML = ("production: {on_call: oncall@pilot-team.internal, service_levels: {latency_p95_ms: 100, cost_per_1k_usd: 1.0}, "
             "monitoring: {input_psi: 0.2, prediction_psi: 0.2, min_quality: baseline, max_fallback_share: 0.05}, "
             "rollback: {quality_breaches: 2}}\n")

STEP_PARAMS = 'run_id = None\ntracking_uri = None\nwarehouse = None\npilot_name = None\n'


def write_notebook(path: Path, parameters: str, *cells: str) -> Path:
    """A notebook with a tagged parameters cell followed by code cells."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell(textwrap.dedent(parameters))
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *(nbformat.v4.new_code_cell(textwrap.dedent(c)) for c in cells)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


LOGGING_CELL = """
import workbench
s = workbench.session(step_name, run_id=run_id, tracking_uri=tracking_uri, warehouse=warehouse, pilot_name=pilot_name)
with s.connect() as con:
    n = con.execute("select count(*) from items").fetchone()[0]
s.log_metrics({"demo.rows": n, "demo.scale": scale})
"""


def write_project(root: Path, *, notebook_cells: tuple[str, ...] = (LOGGING_CELL,), params: str | None = None,
                  step_params: str = "scale: 2", extra_yaml: str = "", rows: int = 5) -> Path:
    """A minimal real project: one CSV source, a charter, and one baseline notebook step."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    lines = ["id,name,price"] + [f"{i},item{i},{i * 1.5}" for i in range(1, rows + 1)]
    (root / "data" / "items.csv").write_text("\n".join(lines) + "\n")
    write_notebook(root / "notebooks" / "step.ipynb",
                   params if params is not None else STEP_PARAMS + "step_name = 'measure'\nscale = 1\n",
                   *notebook_cells)
    (root / "pilot.yaml").write_text(textwrap.dedent(f"""\
        name: tiny-pilot
        owner: tester@pilot-team.internal
        question: Does the tiny pipeline work?
        primary_metric: demo.rows
        warehouse: data/warehouse.duckdb
        task: {{kind: classification, target: label}}
        sources:
          items:
            path: data/items.csv
            columns: {{id: INTEGER, name: VARCHAR, price: DOUBLE}}
        steps:
          - name: measure
            role: baseline
            notebook: notebooks/step.ipynb
            timeout_seconds: 60
            metrics: [demo.rows, demo.scale]
            parameters: {{{step_params}}}
        """) + extra_yaml)
    return root / "pilot.yaml"




# the smallest eval-set charter: a rule baseline and a `callable` candidate from the pilot's folder
EVAL_SET_CHARTER = """\
name: t
owner: someone@team.internal
question: which label?
primary_metric: quality.macro_f1
task: {kind: text-classification, target: label}
sources:
  items: {path: items.csv, columns: {id: VARCHAR, body: VARCHAR, label: VARCHAR}}
eval_set:
  source: items
  id: id
  inputs: [body]
  expected: label
  baseline: {name: kw, kind: rule, default: a}
  candidates: [{name: mine, kind: callable, function: "pipeline.model:classify"}]
steps:
  - {name: baseline, role: baseline, notebook: nb.ipynb}
"""
