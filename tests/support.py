"""Helpers shared by the tests: small real projects (CSV sources, a charter, notebooks).

A plain module, not conftest: test files import from it by name, and a second
conftest.py (tests/contracts/) would otherwise shadow `conftest` on sys.path.

What is here, cheapest first:
- ``write_project(root)``: a one-notebook project (5-row CSV, a charter); ``run_pilot`` on it
  starts one kernel (~3-5 s). The ``project`` fixture (conftest.py) calls it in tmp_path.
- ``copy_of_first_run(tmp_path_factory, dest)``: that project after its first pilot run, run once
  per test process and copied into ``dest`` for each test that starts from it.
- ``make_charter`` / ``build_pilot`` / ``candidate_metrics`` / ``log_model``: the layout the
  runner leaves in MLflow (pilot -> steps -> candidates, + models), built directly in a store
  with no kernel at all: use these for gates, promotion, registry, scorecard and report tests.
- ``charter_file(root, name)``: the same charter on disk (JSON is YAML) for the CLI, with its
  raw file and two empty notebooks; ``cli(...)`` runs ``python -m workbench.cli``.
- ``alias_of`` / ``versions_of`` / ``decision_runs``: what the registry and store hold.
Expensive shared set-ups (a finished pilot, a team server, a browser) are fixtures: see
tests/conftest.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MPLBACKEND", "Agg")

# workbench first: importing it defers the iri grammar nbformat's jsonschema would build on import
# (workbench.data.import_costs), 1.5-2 s in every test process
import workbench  # noqa: E402, F401 - after the environment above
import nbformat  # noqa: E402
from workbench.charter.config import Charter  # noqa: E402
from workbench.store.tracking import FINISHED, TAG, Store  # noqa: E402

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



_FIRST_RUNS: dict[str, tuple[Path, Any]] = {}


def copy_of_first_run(factory: Any, dest: Path) -> tuple[Path, Any]:
    """``write_project``'s project after its first ``run_pilot``, copied into ``dest``: (the copy's
    charter path, that first run's PilotResult). The run happens once per test process (per
    pytest ``tmp_path_factory``) and each caller gets its own copy of the folder: a copied
    pilot folder keeps its runs and their ids and points its store at the copy
    (tests/faults/test_copied_pilot.py), so a test that starts here runs, edits and caches in
    its own folder exactly as if it had run the fresh project itself."""
    key = str(factory.getbasetemp())
    if key not in _FIRST_RUNS:
        from workbench.charter.config import load_charter
        from workbench.steps.runner import run_pilot

        root = factory.mktemp("first-run")
        _FIRST_RUNS[key] = (root, run_pilot(load_charter(write_project(root))))
    root, first = _FIRST_RUNS[key]
    shutil.copytree(root, dest, dirs_exist_ok=True)
    return dest / "pilot.yaml", first


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


# -- a pilot's layout in a real MLflow store, without kernels -----------------------------------

GATES = [
    {"kind": "threshold", "metric": "quality.roc_auc", "op": ">=", "value": 0.70},
    {"kind": "threshold", "metric": "latency.p95_ms", "op": "<=", "value": 50},
    {"kind": "vs_baseline", "metric": "quality.roc_auc", "min_relative_improvement": 0.05},
    {"kind": "vs_champion", "metric": "quality.roc_auc", "max_regression": 0.01},
    {"kind": "contracts"},
    {"kind": "probes"},
    {"kind": "slices", "metric": "quality.roc_auc", "margin": 0.05},
]


def make_charter(name: str, *, gates: list[dict] | None = None, candidate: str | None = None,
                 promotion: bool = True) -> Charter:
    data: dict[str, Any] = {
        "name": name, "owner": "ops <ops@pilot-team.internal>", "question": "Better than the <desk> rule?",
        "primary_metric": "quality.roc_auc",
        "task": {"kind": "classification", "target": "late"},
        "sources": {"flights": {"path": "flights.csv", "columns": {"a": "INTEGER"}}},
        "steps": [{"name": "baseline", "role": "baseline", "notebook": "b.ipynb"},
                  {"name": "evaluate", "role": "evaluate", "notebook": "e.ipynb"}],
        "gates": GATES if gates is None else gates,
    }
    if promotion:
        data["promotion"] = {"model_name": f"{name}-model", "candidate": candidate}
        data["production"] = PLAN
    return Charter.model_validate(data)


def candidate_metrics(auc: float, *, jfk: float | None = None, crashed: float = 0.0) -> dict[str, float]:
    return {"quality.roc_auc": auc, "quality.brier": 0.2, "latency.p95_ms": 3.0, "cost.per_1k_usd": 0.001,
            "probes.crashed": crashed, "probes.handled": 10.0, "probes.total": 12.0,
            "slice.origin.JFK.roc_auc": jfk if jfk is not None else auc, "slice.origin.JFK.count": 400.0,
            "slice.origin.EWR.roc_auc": auc - 0.01, "slice.origin.EWR.count": 300.0,
            "slice.worst.roc_auc": auc - 0.01}


def log_model(store: Store, run_id: str) -> str:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    x = pd.DataFrame({"a": np.arange(8.0)})
    model = LogisticRegression().fit(x, (x["a"] > 3).astype(int))
    return store.log_sklearn_model(run_id, model, "model", input_example=x.head(2)).model_id


def build_pilot(store: Store, charter: Charter, candidates: dict[str, dict[str, float]], *,
                models: tuple[str, ...] = (), baseline: dict[str, float] | None = None,
                contracts_passed: bool = True, evaluate_cached_from: str | None = None,
                cache_key: str = "key-1", finish: bool = True, extra_artifacts: bool = False,
                leakage: tuple[dict, ...] | None = (), shift: dict[str, float] | None = None) -> dict[str, Any]:
    """The layout the runner and notebooks leave: pilot → steps → candidates (+ models)."""
    exp = charter.name
    pilot = store.start_run(exp, "pilot", tags={TAG["kind"]: "pilot", TAG["pilot"]: exp,
                                                TAG["git_commit"]: "c0ffee", "workbench.fingerprint.flights": "fp-1"})
    ids: dict[str, Any] = {"pilot": pilot.run_id, "candidates": {}}

    def step(name: str, role: str | None, tags: dict | None = None, metrics: dict | None = None) -> str:
        t = {TAG["kind"]: "step", TAG["step"]: name, TAG["pilot"]: exp, TAG["cached"]: "false", **(tags or {})}
        if role:
            t[TAG["role"]] = role
        run = store.start_run(exp, name, parent=pilot.run_id, tags=t)
        if metrics:
            store.log_metrics(run.run_id, metrics)
        store.end_run(run.run_id, FINISHED)
        return run.run_id

    ids["contracts"] = step("contracts", None, {"workbench.data.contracts.passed": str(contracts_passed).lower(),
                                                 "workbench.contract_version.flights": "abc123def456"},
                            {"contracts.error_failures": 0.0 if contracts_passed else 2.0,
                             "contract.flights.passed": float(contracts_passed), "contract.flights.errors": 0.0,
                             "contract.flights.warnings": 1.0})
    ids["baseline"] = step("baseline", "baseline", metrics=baseline or candidate_metrics(0.66))
    if evaluate_cached_from:
        ids["evaluate"] = step("evaluate", "evaluate", {TAG["cached"]: "true", TAG["cached_from"]: evaluate_cached_from,
                                                       TAG["cache_key"]: cache_key})
    else:
        ev = store.start_run(exp, "evaluate", parent=pilot.run_id,
                             tags={TAG["kind"]: "step", TAG["step"]: "evaluate", TAG["role"]: "evaluate",
                                   TAG["cached"]: "false", TAG["cache_key"]: cache_key})
        ids["evaluate"] = ev.run_id
        for name, metrics in candidates.items():
            c = store.start_run(exp, name, parent=ev.run_id,
                                tags={TAG["kind"]: "candidate", "workbench.candidate": name, TAG["step"]: "evaluate"})
            store.log_metrics(c.run_id, metrics)
            if name in models:
                log_model(store, c.run_id)
            if extra_artifacts:
                store.log_dict(c.run_id, {"results": [{"name": "null.<x>", "outcome": "crashed",
                                                       "detail": "<script>boom</script>"}]}, f"{name}/probes.json")
            store.end_run(c.run_id, FINISHED)
            ids["candidates"][name] = c.run_id
        if leakage is not None:  # what the evaluate notebook's s.log_leakage(...) leaves
            store.log_dict(ev.run_id, {"findings": list(leakage)}, "leakage/findings.json")
            store.log_metrics(ev.run_id, {"leakage.findings": float(len(leakage)), **(shift or {})})
        store.end_run(ev.run_id, FINISHED)
    if finish:
        store.end_run(pilot.run_id, FINISHED)
    return ids


def charter_file(root: Path, name: str, gates: list[dict] | None = None) -> Path:
    """``make_charter(name)`` on disk (JSON is YAML) for the CLI, with its raw file and two
    notebooks in ``root`` (created when missing, so many charters can share one store)."""
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "flights.csv").exists():
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
        "gates": GATES if gates is None else gates,
        "promotion": {"model_name": f"{name}-model"},
        "production": PLAN,
    }
    path = root / f"{name}.yaml"
    path.write_text(json.dumps(data, indent=1))
    return path


PY = sys.executable
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "GX_ANALYTICS_ENABLED": "False", "MLFLOW_DISABLE_TELEMETRY": "true"}


def cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m workbench.cli ARGS`` in a fresh process (what a user's shell runs)."""
    return subprocess.run([PY, "-m", "workbench.cli", *args], capture_output=True, text=True,
                          env={**ENV, **(env or {})}, cwd=cwd, timeout=timeout)


def cli_here(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The same command as :func:`cli`, through the same typer app, in this process: what a
    test asserts about a command's output, exit code and records, without a new interpreter
    importing MLflow and Great Expectations again (~4 s of CPU a call). Keep :func:`cli` where
    the process itself is the point (signals, locks, memory, what a fresh process may read).
    The working directory and the SIGTERM handler `run` installs are restored afterwards."""
    import contextlib
    import signal
    import traceback

    from typer.testing import CliRunner

    from workbench.cli import app

    sigterm = signal.getsignal(signal.SIGTERM)
    with contextlib.chdir(cwd or Path.cwd()):
        try:
            result = CliRunner().invoke(app, list(args), env={**ENV, **(env or {})})
        finally:
            signal.signal(signal.SIGTERM, sigterm)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))  # what the interpreter would print
    return subprocess.CompletedProcess(["workbench", *args], result.exit_code, result.stdout, stderr)


def kernel_server() -> Any:
    """A warm-kernel server preloading what the shipped notebooks import (as a pilot run's own
    would), started in this process's environment; ``ready()`` waits for it."""
    from workbench.steps import warm_kernels

    return warm_kernels.WarmKernels.start(warm_kernels.notebook_imports(sorted((REPO / "notebooks").glob("*.ipynb"))))


def store_processes() -> Any:
    """A multiprocessing context whose processes fork from a server that imported MLflow's store
    once (an interpreter each would import it again: ~2 s of CPU a process); each process still
    opens its own ``Store``."""
    import multiprocessing as mp

    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["workbench.store.tracking", "mlflow.store.tracking.sqlalchemy_store"])
    return ctx


def alias_of(store: Store, charter: Any) -> str | None:
    from workbench.decide import registry

    found = registry.champion(charter, store)
    return str(found.version) if found is not None else None


def versions_of(store: Store, charter: Any) -> list[str]:
    from workbench.decide import registry

    return sorted(str(v.version) for v in registry.versions(store, charter.promotion.model_name))


def decision_runs(store: Store, charter: Any) -> list[Any]:
    return store.find_runs(charter.name, f"tags.`{TAG['kind']}` = 'decision'", max_results=1000)
