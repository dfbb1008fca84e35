"""The notebook contract: what a baseline or evaluate step must leave in MLflow for the gates.

Written down in the README ("Your own notebooks") and checked by the runner when a step
ends, so a custom notebook that forgets something fails *its* step, naming what is
missing, instead of a gate failing later for a reason nobody can see.

- a ``baseline`` step logs, on its own run, the primary metric and every metric a
  ``vs_baseline`` gate names;
- an ``evaluate`` step opens one nested run per candidate (``session.child(name)``), each
  FINISHED, logging the primary metric, every metric a threshold, ``vs_baseline`` or
  ``vs_champion`` gate names, ``probes.crashed`` when a ``probes`` gate exists, and the
  model (``session.log_model(model, "model", ...)``).
"""

from __future__ import annotations

from typing import Any

from ..charter.config import Charter, Step

__all__ = ["required_metrics", "check_step"]


def required_metrics(charter: Charter, role: str) -> list[str]:
    """The metrics a step of this role must log (in charter order, no repeats)."""
    names = [charter.primary_metric]
    for gate in charter.gates:
        kind, metric = gate.kind, getattr(gate, "metric", None)
        if role == "baseline" and kind == "vs_baseline":
            names.append(metric)
        if role == "evaluate":
            if kind in ("threshold", "vs_baseline", "vs_champion"):
                names.append(metric)
            elif kind == "probes":
                names.append("probes.crashed")
    return list(dict.fromkeys(names))


def check_step(charter: Charter, step: Step, store: Any, run_id: str) -> list[str]:
    """What the finished step run lacks under the notebook contract (empty: nothing)."""
    from ..store.tracking import FINISHED, TAG

    if step.role not in ("baseline", "evaluate"):
        return []
    needed = required_metrics(charter, step.role)
    if step.role == "baseline":
        have = store.get_run(run_id).data.metrics
        missing = [m for m in needed if m not in have]
        return [f"the run lacks metric(s) {', '.join(missing)}"] if missing else []
    problems = []
    candidates = [r for r in store.children(charter.name, run_id) if r.data.tags.get(TAG["kind"]) == "candidate"]
    if not candidates:
        return ["no candidate run: open one nested run per candidate with `session.child(NAME)`"]
    for run in candidates:
        name = run.data.tags.get("workbench.candidate") or run.info.run_name
        if run.info.status != FINISHED:
            problems.append(f"candidate '{name}' ended {run.info.status}")
            continue
        missing = [m for m in needed if m not in run.data.metrics]
        if missing:
            problems.append(f"candidate '{name}' lacks metric(s) {', '.join(missing)}")
        full = store.get_run(run.info.run_id)  # search results omit the logged models
        outputs = getattr(full, "outputs", None)
        if not (outputs and outputs.model_outputs):
            problems.append(f"candidate '{name}' logged no model (`session.log_model(model, \"model\", ...)`)")
    return problems
