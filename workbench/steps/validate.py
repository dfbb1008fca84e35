"""Static checks of a charter: everything `run` would otherwise refuse only after ingest.

:func:`check_charter` collects every finding (it never stops at the first), each located
(file:line:column and key) with what to do next:

- every gate and the primary metric name a metric some step produces (the built-in
  registry for the task, or a custom notebook's declared ``metrics:``), with "did you
  mean" for a typo; comparative gates need a metric with a direction (or an override);
- step parameters against each notebook's parameters cell (names and kinds);
- every contract file loads;
- the modeling spec the generic notebooks need (features, split, candidates that
  import), and ``task.threshold: min_cost`` with both mistake costs;
- warnings: accuracy as the primary metric or the only quality gate on a skewed class
  (the class balance is read from the data when it can be);
- with ``data``, the charter against its data (:mod:`.validate_data`): the target against
  the task, usable features, the split's column, type and windows, the baseline's columns
  and expression, and a warning on a random split of time-indexed rows;
- with ``estimators``, each candidate's class imported and its parameters checked against the
  class's own (a misspelled ``max_iters``): `validate`, and a run whose data checks run.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..measure import metrics as registry
from ..measure.metrics import SKEWED  # a minority class under this share makes accuracy misleading
from . import notebooks as nbfiles
from ..charter.yaml_reader import LocatedYaml, load_yaml
from ..charter.config import Charter
from ..charter.drafted import placeholder
from ..errors import ConfigError, WorkbenchError

__all__ = ["Finding", "check_charter", "raise_for_errors"]


@dataclass(frozen=True)
class Finding:
    level: Literal["error", "warning"]
    where: str
    message: str
    hint: str = ""
    error: type[WorkbenchError] = ConfigError  # the class `run` raises when this is the only kind found

    def line(self) -> str:
        return f"{self.where}: {self.message}" + (f" — {self.hint}" if self.hint else "")


def _generic(step_notebook: Path) -> bool:
    """A notebook that reads the modeling spec (the shipped generic ones, or a copy)."""
    try:
        return "spec" in nbfiles.read_parameters(step_notebook).defaults
    except WorkbenchError:
        return False


def _produced(charter: Charter) -> set[str]:
    """Metric names the charter's steps can produce."""
    kind = charter.task.kind if charter.task else None
    names = set(registry.known(kind)) if kind else set(registry.known())
    for step in charter.steps:
        names.update(step.metrics)
    return names


def _check_metric(name: str, produced: set[str], custom: set[str], where: str, out: list[Finding], *,
                  task_kind: str | None, what: str) -> None:
    if name in custom:
        return
    meta = registry.info(name)
    if meta is not None and not meta.logged:
        out.append(Finding("error", where, f"{what} '{name}' describes the data or the setup and is kept in the "
                           "run's JSON artifacts, not logged as an MLflow metric, so no gate can read it",
                           "gate on a metric that ranks the models (README, \"Metrics\")"))
        return
    if name in produced:
        return
    if meta is not None:
        if task_kind and not meta.applies_to(task_kind):
            out.append(Finding("error", where, f"{what} '{name}' is a {meta.task} metric, but the task is {task_kind}",
                               "pick a metric of this task (README, \"Metrics\")"))
        return
    close = registry.suggest(name, sorted(produced | custom))
    out.append(Finding("error", where, f"no step produces {what} '{name}'",
                       (f"did you mean {' or '.join(repr(c) for c in close)}? " if close else "")
                       + "built-in names are listed in the README (\"Metrics\"); a custom notebook declares what "
                       "it logs in its step's `metrics:`"))


def _gates(charter: Charter, doc: LocatedYaml, out: list[Finding]) -> None:
    from ..decide.promotion import gate_name
    from ..decide.registry import gate_metric

    produced = _produced(charter)
    custom = {m for s in charter.steps for m in s.metrics}
    kind = charter.task.kind if charter.task else None
    _check_metric(charter.primary_metric, produced, custom, doc.where(("primary_metric",)), out,
                  task_kind=kind, what="primary metric")
    for i, gate in enumerate(charter.gates):
        metric = getattr(gate, "metric", None)
        if metric is None:
            continue
        where = doc.where(("gates", i, "metric"))
        _check_metric(metric, produced, custom, where, out, task_kind=kind, what=f"gate '{gate.name or gate.kind}' metric")
        if gate.kind in ("vs_baseline", "vs_champion", "slices") and getattr(gate, "higher_is_better", None) is None:
            if registry.info(metric) is not None and registry.higher_is_better(metric) is None:
                out.append(Finding("error", where, f"'{metric}' describes the data and has no better direction; "
                                   f"a {gate.kind} gate cannot compare it", "gate on a quality, latency or cost metric"))
            elif registry.info(metric) is None and metric in custom:
                out.append(Finding("error", doc.where(("gates", i)), f"custom metric '{metric}' has no known direction",
                                   "add `higher_is_better: true` (or false) to this gate"))
        override = getattr(gate, "higher_is_better", None)
        known = registry.higher_is_better(metric)
        if override is not None and known is not None and override != known:
            out.append(Finding("warning", doc.where(("gates", i, "higher_is_better")),
                               f"gate '{gate_name(gate)}' says {'higher' if override else 'lower'} is better "
                               f"for '{metric}', but the metric registry says {'higher' if known else 'lower'} "
                               "is: the gate compares the other way",
                               "remove `higher_is_better` unless you mean it (README, \"Metrics\")"))
    seen: dict[str, str] = {}
    for i, gate in enumerate(charter.gates):
        name = gate_name(gate)
        key = gate_metric(name)
        if key in seen:
            out.append(Finding("error", doc.where(("gates", i)), f"gates '{seen[key]}' and '{name}' would both be "
                               f"recorded as the decision metric {key}: one would overwrite the other",
                               "give each gate its own `name:`"))
        seen.setdefault(key, name)


def _parameters(charter: Charter, doc: LocatedYaml, out: list[Finding]) -> None:
    for i, step in enumerate(charter.steps):
        path = charter.resolve(step.notebook)
        if not path.is_file():
            continue  # reported by the file check
        try:
            declared = nbfiles.read_parameters(path)
            nbfiles.check_parameters(declared, step.parameters, step=step.name)
        except WorkbenchError as exc:
            out.append(Finding("error", doc.where(("steps", i, "parameters")), exc.what, exc.hint or "", type(exc)))


def _contracts(charter: Charter, doc: LocatedYaml, out: list[Finding]) -> None:
    from ..data.contracts import load_contract

    for name, src in charter.sources.items():
        if src.contract is None:
            continue
        path = charter.resolve(src.contract)
        if not path.is_file():
            continue
        try:
            load_contract(path)
        except WorkbenchError as exc:
            out.append(Finding("error", exc.where or str(path), exc.what, exc.hint or ""))


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported. Looked up on disk first, package by package, without
    running any package's ``__init__`` (``importlib.util.find_spec`` imports every parent:
    ``sklearn`` alone costs about a second, a third of a cached rerun's imports); a module
    that only its parent's code provides is then looked up by importing the parent."""
    from importlib.machinery import PathFinder

    parts, locations = module.split("."), None
    for i in range(len(parts)):
        name = ".".join(parts[: i + 1])
        try:
            spec = importlib.util.find_spec(name) if i == 0 else PathFinder.find_spec(name, locations)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            break
        locations = spec.submodule_search_locations
        if i == len(parts) - 1:
            return True
        if locations is None:
            break
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _modeling(charter: Charter, doc: LocatedYaml, out: list[Finding]) -> None:
    if charter.eval_set is not None:
        return  # an eval-set pilot: its block is checked when the charter loads (workbench.charter.config)
    generic = {s.role for s in charter.steps if s.role in ("baseline", "evaluate")
               and charter.resolve(s.notebook).is_file() and _generic(charter.resolve(s.notebook))}
    if generic:
        for key in ("features", "split"):
            if getattr(charter, key) is None:
                out.append(Finding("error", doc.where(()), f"the generic {' and '.join(sorted(generic))} notebook(s) "
                                   f"need `{key}:`", "see the README, \"The pilot charter\" (`workbench new` drafts it)"))
    if "evaluate" in generic and not charter.candidates:
        out.append(Finding("error", doc.where(()), "the generic evaluate notebook needs `candidates:`",
                           "name at least one estimator, e.g. {name: hgb, estimator: "
                           "sklearn.ensemble.HistGradientBoostingClassifier}"))
    for i, cand in enumerate(charter.candidates):
        module, _, attr = cand.estimator.rpartition(".")
        if not _installed(module):
            out.append(Finding("error", doc.where(("candidates", i, "estimator")),
                               f"module '{module}' of estimator {cand.estimator} is not installed",
                               "fix the import path, or install the package into .venv"))
    task = charter.task
    if task is not None and task.kind == "classification" and task.threshold == "min_cost":
        if charter.cost.false_positive_usd is None or charter.cost.false_negative_usd is None:
            out.append(Finding("error", doc.where(("task", "threshold")),
                               "`threshold: min_cost` needs cost.false_positive_usd and cost.false_negative_usd",
                               "set both in `cost:`, or give the threshold as a number"))


def _estimators(charter: Charter, doc: LocatedYaml, out: list[Finding]) -> None:
    """Each candidate's class, and its parameters against the class's own (a misspelled one was
    found in the evaluate step's cell, after the profile and the baseline had run)."""
    if charter.eval_set is not None:
        return
    from ..measure.modeling.models import estimator_class

    for i, cand in enumerate(charter.candidates):
        if not _installed(cand.estimator.rpartition(".")[0]):
            continue  # said by _modeling
        try:
            estimator_class(cand, where=doc.where(("candidates", i, "estimator")),
                            params_where=doc.where(("candidates", i, "params")))
        except ConfigError as exc:
            out.append(Finding("error", exc.where or doc.where(("candidates", i)), exc.what, exc.hint or ""))


def _minority_share(charter: Charter) -> float | None:
    """The share of the rarer class, from the warehouse (or the source file); None if unknown."""
    import duckdb

    from ..data.sql import view_sql
    from ..data.sql import quote_ident as _q

    task, features = charter.task, charter.features
    if task is None or features is None:
        return None
    target = _q(task.target)
    try:
        if charter.warehouse_path.is_file():
            con = duckdb.connect(str(charter.warehouse_path), read_only=True)
            sql = f"SELECT {target} AS y, count(*) FROM ({view_sql(features)}) AS v WHERE {target} IS NOT NULL GROUP BY 1"
        elif features.table in charter.sources and charter.sources[features.table].format == "csv":
            src = charter.sources[features.table]
            con = duckdb.connect()
            path = str(charter.resolve(src.path)).replace("'", "''")
            sql = (f"SELECT {target}, count(*) FROM read_csv('{path}', header={str(src.csv.header).lower()}) "
                   f"WHERE {target} IS NOT NULL GROUP BY 1")
        else:
            return None
        try:
            counts = [c for _, c in con.execute(sql).fetchall()]
        finally:
            con.close()
    except Exception:  # noqa: BLE001 - a warning's input; the run reports real data problems
        return None
    return min(counts) / sum(counts) if len(counts) >= 2 else None


def _skew(charter: Charter, doc: LocatedYaml, out: list[Finding]) -> None:
    task = charter.task
    if task is None or task.kind != "classification":
        return
    quality_gates = [g for g in charter.gates if str(getattr(g, "metric", "")).startswith("quality.")]
    accuracy_only = bool(quality_gates) and all(g.metric == "quality.accuracy" for g in quality_gates)
    if charter.primary_metric != "quality.accuracy" and not accuracy_only:
        return
    share = _minority_share(charter)
    if share is not None and share >= SKEWED:
        return
    what = "the primary metric" if charter.primary_metric == "quality.accuracy" else "the only quality gate"
    balance = f"the rarer class is {share:.1%} of rows" if share is not None else "the class balance is unknown"
    out.append(Finding("warning", doc.where(("primary_metric",)), f"accuracy is {what} and {balance}: "
                       "a model that never predicts the rare class scores high",
                       "gate on quality.average_precision (or roc_auc, recall at a declared threshold) instead"))


# what the data part of check_charter (validate_data.check_data, _skew) reads of a charter besides
# each candidate's fallback_on_null and the contracts' personal-data marks: a pilot run does not
# repeat it on inputs it passed (data_check_key)
DATA_CHECK_READS = frozenset({"warehouse", "engine", "task", "sources", "features", "split", "baseline", "gates",
                              "primary_metric"})


def file_stamp(path: Path) -> list[int] | None:
    """[size, modification time in ns] of a file, None when it cannot be read: what tells a
    person's edit of it, without reading it."""
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def data_check_key(charter: Charter) -> str:
    """What the data check's verdict rests on besides the source files themselves: the charter
    sections it reads, the candidates' ``fallback_on_null``, each contract file (size and
    modification time: its ``pii`` marks decide what may be a target) and the workbench's code."""
    import hashlib
    import json

    from .step_runs import code_hash

    contracts = {name: file_stamp(charter.resolve(src.contract)) if src.contract is not None else None
                 for name, src in charter.sources.items()}
    read = {"charter": charter.model_dump(mode="json", include=set(DATA_CHECK_READS)),
            "fallback_on_null": [c.fallback_on_null for c in charter.candidates], "contracts": contracts,
            "code": code_hash()}
    return hashlib.sha256(json.dumps(read, sort_keys=True, default=str).encode()).hexdigest()


def check_charter(charter: Charter, *, data: bool = True, estimators: bool = False,
                  unread: list[str] | None = None) -> list[Finding]:
    """Every static finding on a loaded charter (``data``: also read the data for warnings;
    ``estimators``: also import each candidate's class and check its parameters, ~0.6 s of
    scikit-learn; ``unread`` gets the sources the data checks could not read)."""
    doc = load_yaml(charter.path, ConfigError, what="pilot charter")
    out: list[Finding] = []
    _gates(charter, doc, out)
    _parameters(charter, doc, out)
    _contracts(charter, doc, out)
    _modeling(charter, doc, out)
    if charter.promotion is not None:
        missing = charter.production.missing() if charter.production else ["production: (the whole plan)"]
        owner_placeholder = placeholder(charter.owner)
        if owner_placeholder:
            missing.append(f"owner ({owner_placeholder})")
        if missing:
            out.append(Finding("warning", doc.where(("production",)),
                               "a GO will be refused: the production plan lacks " + ", ".join(missing),
                               "complete `production:` (README, \"After the GO\")"))
    if data:
        from .validate_data import check_data

        check_data(charter, doc, out, Finding, unread)
        _skew(charter, doc, out)
    if estimators:
        _estimators(charter, doc, out)
    return out


def raise_for_errors(findings: list[Finding], charter: Charter) -> None:
    errors = [f for f in findings if f.level == "error"]
    if errors:
        kinds = {f.error for f in errors}
        raise (kinds.pop() if len(kinds) == 1 else ConfigError)(f"the charter {charter.path} has {len(errors)} problem(s):\n  "
                          + "\n  ".join(f.line() for f in errors),
                          hint="fix them, then run `workbench validate` again")

