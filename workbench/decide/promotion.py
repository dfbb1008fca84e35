"""Gated promotion: metrics read back from MLflow → gates → registry alias → decision record.

Two layers. The gates are pure functions over metric dicts and the charter's gate specs
(:func:`evaluate_gate`, :func:`evaluate_gates`): no MLflow, unit-testable, and a missing
metric is always a FAIL with its reason, never a pass. Around them, :func:`gather_evidence`
reads one pilot run's evidence from MLflow (the single source of truth) and
:func:`promote` decides, registers and moves the alias.

Outcomes (``Decision.outcome``)
-------------------------------
``go``                every gate passed; the candidate's logged model is registered (or an
                      existing version with the same source is reused) and the alias moves to it.
``no-go``             a gate failed; the registry is untouched. Exit code 3.
``draft``             every gate passed, but values `workbench new` drafted (tagged ``# drafted`` in
                      the charter or a contract) are unconfirmed: nothing is registered, the alias
                      stays. Exit code 7. The record lists them (file:line) and the confirmations.
``no-better``         "no better than today": no gate failed outright, but a comparison's 95 %
                      interval holds its margin (a tie, never settled by order); the registry
                      is untouched. Exit code 3.
``already-champion``  every gate passed and the alias already points at a version of this
                      very model (same logged model id, or same evaluate cache key and
                      candidate name): no new version, no alias move. Reruns are idempotent.
``rollback``          :func:`rollback` moved the alias back to the previous champion.

Every decision (not dry runs) is recorded by :mod:`workbench.decide.registry`, which owns the
registry, the decision records and their audit chain: a run tagged
``workbench.kind=decision`` in the pilot's experiment holding ``decision/decision.json``
(so :func:`history` is a search), the same JSON on the pilot run, and tags on the model
version. A promotion is one transaction under the store's promotion lock: unfinished
decisions are reconciled, the audit runs (a broken trail refuses unless acknowledged),
the record is written pending, the alias moves, the record is completed. A version that
was rolled back is not promoted again unless allowed with a reason.
A dry run evaluates the same gates and says what would happen, but locks, records,
registers and moves nothing (``Decision.dry_run`` is true and ``decision_run_id`` is None).

The default pilot run is the newest FINISHED pilot run of the charter's experiment; the
runner, promoting inside a pilot that is still RUNNING, passes its run id explicitly.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..store import environment as run_environment, locks
from . import registry
from ..measure import metrics as metric_registry
from ..charter.drafted import drafted_values, how_to_confirm, placeholder
from ..charter.items import ITEM_TASKS
from ..measure import stats
from ..charter.config import (
    BaselineGate,
    ChampionGate,
    Charter,
    ContractsGate,
    ProbesGate,
    ShiftGate,
    SampleSizeGate,
    SlicesGate,
    ThresholdGate,
)
from ..errors import ConfigError, PromotionError, WorkbenchError
from .registry import (  # re-exported: the record types and registry functions other modules import from here
    ALREADY,
    DECISION_ARTIFACT,
    DRAFT,
    GO,
    NO_BETTER,
    NO_GO,
    ROLLBACK,
    T_CANDIDATE,
    T_DECISION_RUN,
    T_LINEAGE,
    T_MODEL_ID,
    T_PILOT_RUN,
    T_SOURCE_RUN,
    AuditReport,
    Decision,
    DecisionRecord,
    GateResult,
    audit,
    champion,
    history,
    rollback,
)
from ..store.tracking import (CONTRACT_VERSION_TAG, CONTRACTS_PASSED_TAG, FINGERPRINT_TAG, FINISHED, TAG, Store,
                              heldout_split, tags_under)

__all__ = [
    "GateResult",
    "gate_name",
    "Evidence",
    "Decision",
    "DecisionRecord",
    "evaluate_gate",
    "evaluate_gates",
    "leakage_gate",
    "shift_gate",
    "higher_is_better",
    "gather_evidence",
    "PilotLayout",
    "pilot_layout",
    "rank_candidates",
    "select_candidate",
    "promote",
    "history",
    "rollback",
    "find_pilot_run",
    "champion",
    "audit",
    "AuditReport",
    "DECISION_ARTIFACT",
    "GO",
    "NO_GO",
    "NO_BETTER",
    "ALREADY",
    "ROLLBACK",
    "DRAFT",
    "T_CANDIDATE",
    "T_PILOT_RUN",
    "T_SOURCE_RUN",
]


# -- evidence ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """What the gates judge: metric dicts and the runs they came from (no MLflow objects)."""

    candidate: str
    candidate_run_id: str | None
    candidate_metrics: Mapping[str, float]
    baseline_run_id: str | None = None
    baseline_metrics: Mapping[str, float] | None = None
    baseline_constant: str | None = None  # the baseline run's rule when it answers every row alike (a guess)
    champion_version: str | None = None  # None: no champion yet
    champion_run_id: str | None = None
    champion_metrics: Mapping[str, float] | None = None  # None with a version: unreadable
    contracts_run_id: str | None = None
    contracts_passed: bool | None = None  # None: no contracts step in the pilot run
    contracts_error_failures: float | None = None
    # provenance for the decision record (not judged)
    pilot_run_id: str | None = None
    evaluate_run_id: str | None = None
    model_id: str | None = None
    lineage: str | None = None
    fingerprints: Mapping[str, str] = field(default_factory=dict)
    contract_versions: Mapping[str, str] = field(default_factory=dict)
    git_commit: str | None = None
    candidates: Mapping[str, str] = field(default_factory=dict)  # name -> run id, all considered
    candidate_cached_from: str | None = None  # the run a reused candidate's results came from (candidate_cache)
    # the evaluate run's own evidence: its metrics (shift.*), its leakage findings
    # (``leakage/findings.json`` rows; None: the run logged no leakage checks) and shift columns
    evaluate_metrics: Mapping[str, float] | None = None
    leakage_findings: tuple[Mapping[str, Any], ...] | None = None
    shift_columns: tuple[Mapping[str, Any], ...] = ()
    environment: Mapping[str, Any] = field(default_factory=dict)  # the pilot run's (store.environment)
    # paired comparisons the candidate's run logged: "baseline" / "champion" -> compare/<ref>.json
    comparisons: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    task_kind: str | None = None
    # LLM endpoint candidates among those considered: what each run reported (llm_endpoints)
    llm_endpoints: tuple[Mapping[str, Any], ...] = ()
    # eval-set pilots: each candidate considered -> (items that ended in an error, eval items)
    item_errors: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    # (rows dropped because their target is null, rows the split drew from) from the evaluate run's params
    unlabelled: tuple[int, int] | None = None
    # the grid a number target is recorded on (``target.step``, the evaluate run's params): near_perfect allows for it
    target_step: float | None = None
    # other candidate configurations (estimator and parameters, else key) that other runs scored on the same
    # held-out rows: each was one more look at those rows, so the intervals are widened for them too (``looks``)
    earlier_configurations: int = 0
    # configurations other runs scored on other held-out rows of the same tables (another seed, test
    # size, period or split kind): a split tried after another, until one passes, is a look as well
    other_splits: int = 0
    # why the evaluate run did not score the champion on its held-out rows (it trained on some of them:
    # another split of the same tables), from its ``champion_unpaired`` tag; the champion gates say it
    champion_unpaired: str | None = None

    @property
    def looks(self) -> int:
        """How many configurations were scored on these tables' held-out rows: this run's candidates,
        the other runs' others on these rows and all on other splits; the best of them is judged on a
        1 - 0.05/looks interval."""
        return len(self.candidates) + self.earlier_configurations + self.other_splits


# -- pure gates ----------------------------------------------------------------------------


def higher_is_better(metric: str, gates: Sequence[Any] = ()) -> bool:
    """Direction of a metric: an explicit ``higher_is_better`` on a gate on it wins, then a
    threshold gate's op (``>=``/``>``: higher), then the metric registry
    (:mod:`workbench.measure.metrics`). Raises :class:`ConfigError` when none of them knows (a
    custom metric, a misspelt one, or a descriptive one such as ``quality.base_rate``)."""
    on_metric = [g for g in gates if getattr(g, "metric", None) == metric]
    for gate in on_metric:
        if getattr(gate, "higher_is_better", None) is not None:
            return bool(gate.higher_is_better)
    for gate in on_metric:
        if isinstance(gate, ThresholdGate):
            return gate.op in (">=", ">")
    return _registry_direction(metric)


def _registry_direction(metric: str, *, shown: str | None = None) -> bool:
    """The registry's direction of ``metric``, or a ConfigError naming ``shown`` (the name
    as the charter wrote it) with close names and the override key."""
    shown = shown or metric
    higher = metric_registry.higher_is_better(metric)
    if higher is not None:
        return higher
    found = metric_registry.info(metric)
    if found is not None:
        raise ConfigError(
            f"{shown} has no better direction: it describes the data or the setup ({found.description})",
            where=f"pilot.yaml: gates (metric {shown})",
            hint="set `higher_is_better: true` or `false` on the gate if comparing it really is meant, "
            "or gate on a model metric")
    close = metric_registry.suggest(metric)
    did_you_mean = f"did you mean {' or '.join(close)}? " if close else ""
    raise ConfigError(
        f"{shown} is not a built-in metric, so whether higher or lower is better is unknown",
        where=f"pilot.yaml: gates (metric {shown})",
        hint=f"{did_you_mean}If the name is right (a metric your notebook logs), set "
        "`higher_is_better: true` or `false` on the vs_baseline / vs_champion / slices gate, "
        "or add a threshold gate on it (its op gives the direction)")


def _gate_higher(gate: BaselineGate | ChampionGate | SlicesGate) -> bool:
    """A comparison gate's direction: its own override, else the registry's."""
    if gate.higher_is_better is not None:
        return bool(gate.higher_is_better)
    if isinstance(gate, SlicesGate):  # compared per slice: the direction of quality.<m>
        inner = gate.metric.split(".", 1)[1] if gate.metric.startswith(("quality.", "slice.")) else gate.metric
        return _registry_direction(f"quality.{inner}", shown=gate.metric)
    return _registry_direction(gate.metric)


def _num(metrics: Mapping[str, float] | None, name: str) -> float | None:
    if metrics is None or name not in metrics:
        return None
    value = metrics[name]
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _fmt(value: float | None) -> str:
    return "missing" if value is None else f"{value:.6g}"


_OPS = {">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, "<": lambda a, b: a < b}


def gate_name(gate: Any) -> str:
    if gate.name:
        return gate.name
    metric = getattr(gate, "metric", None)
    return f"{gate.kind} {metric}" if metric else gate.kind


def threshold_gate(gate: ThresholdGate, metrics: Mapping[str, float], *, run_id: str | None = None) -> GateResult:
    base = dict(name=gate_name(gate), kind=gate.kind, metric=gate.metric, op=gate.op, threshold=gate.value,
                run_id=run_id)
    value = _num(metrics, gate.metric)
    if value is None:
        return GateResult(passed=False, reason=f"{gate.metric} is missing from the candidate's metrics", **base)
    ok = _OPS[gate.op](value, gate.value)
    return GateResult(passed=ok, measured=value,
                      reason=f"{gate.metric} = {_fmt(value)}, required {gate.op} {gate.value:g}",
                      **base)


def paired(comparison: Mapping[str, Any] | None, metric: str, candidate: Mapping[str, float] | None = None,
           reference: str = "baseline") -> dict[str, Any] | None:
    """The paired difference (candidate - reference) of ``metric`` with its 95 % interval:
    from the comparison JSON (``compare/<reference>.json``), else from the logged
    ``compare.<reference>.<m>.diff|ci_low|ci_high`` metrics; None when neither has it."""
    found = ((comparison or {}).get("metrics") or {}).get(metric)
    if found and all(_num(found, k) is not None for k in ("diff", "ci_low", "ci_high")):
        return dict(found)
    short = metric.split(".", 1)[1] if metric.startswith("quality.") else metric
    got = {k: _num(candidate, f"compare.{reference}.{short}.{k}") for k in ("diff", "ci_low", "ci_high")}
    if all(v is not None for v in got.values()):
        return {**got, "n": _num(candidate, f"compare.{reference}.rows"), "method": "logged"}
    return None


def judge_interval(diff: Mapping[str, Any], *, higher: bool, margin: float, inclusive: bool = False
                   ) -> tuple[str, float, float]:
    """``pass`` when the interval's lower bound in the better direction clears ``margin``
    (``inclusive``: reaches it); ``tie`` when it does not but the interval holds zero or the
    margin (the rows cannot tell the two apart, or cannot tell whether the gain reaches the
    margin); ``fail`` otherwise (surely worse, or surely better by less than the margin).
    Returns the verdict and the interval in the better direction."""
    lo, hi = float(diff["ci_low"]), float(diff["ci_high"])
    lo_b, hi_b = (lo, hi) if higher else (-hi, -lo)
    if lo_b > margin or (inclusive and lo_b >= margin):
        return "pass", lo_b, hi_b
    return ("tie" if lo_b <= 0 <= hi_b or lo_b <= margin <= hi_b else "fail"), lo_b, hi_b


def _interval_text(d: Mapping[str, Any]) -> str:
    n = _num(d, "n")
    rows = f" on {n:.0f} paired rows" if n is not None else ""
    if n is not None and d.get("items") and d.get("grouped_by"):  # a group split: a group is one unit
        rows = f" on {int(d['items'])} paired rows in {n:.0f} groups of {d['grouped_by']} (each group one unit)"
    elif n is not None and d.get("items"):  # an eval set whose inputs repeat: each counted once
        rows = f" on {n:.0f} distinct paired inputs ({int(d['items'])} eval items)"
    method = f", {d['method']}" if d.get("method") else ""
    elsewhere = " and on other splits of the same tables" if d.get("other_splits") else ""
    several = (f", widened for the {d['candidates']} candidates scored on these rows{elsewhere} (Bonferroni)"
               if (d.get("candidates") or 1) > 1 else "")
    return f"difference {float(d['diff']):+.4g}, {stats.confidence_text(d.get('confidence'))} interval " \
           f"[{float(d['ci_low']):+.4g}, {float(d['ci_high']):+.4g}]{rows}{method}{several}"


def _among(d: Mapping[str, Any], candidates: int, other_splits: int) -> dict[str, Any]:
    """The interval widened for the ``candidates`` looked at (:func:`stats.among_candidates`), and how
    many of them were on other splits of the same tables, for :func:`_interval_text` to say."""
    return {**stats.among_candidates(d, candidates), **({"other_splits": other_splits} if other_splits else {})}


_POINT_ONLY = "no paired interval was logged (compare/{ref}.json): judged on the point values alone"


def baseline_gate(gate: BaselineGate, candidate: Mapping[str, float], baseline: Mapping[str, float] | None, *,
                  run_id: str | None = None, baseline_run_id: str | None = None,
                  comparison: Mapping[str, Any] | None = None, candidates: int = 1,
                  other_splits: int = 0) -> GateResult:
    """Better than the baseline by ``min_relative_improvement`` of |baseline| (0.05 = 5 %):
    the lower bound of the 95 % interval of the paired difference (``comparison``, or the
    logged ``compare.baseline.*``) must clear that margin; a margin inside the interval is a
    tie (``tie=True``: "no better than today"). Without an interval, the point values are
    compared, and the reason says so. Direction: the gate's ``higher_is_better``, else the
    metric registry. ``candidates``: how many were scored on the same rows; the interval of
    the one judged is widened for them (:func:`~workbench.measure.stats.among_candidates`);
    ``other_splits`` of them were scored on other splits of the same tables (the reason says so)."""
    higher = _gate_higher(gate)
    op = ">=" if higher else "<="
    base = dict(name=gate_name(gate), kind=gate.kind, metric=gate.metric, op=op, run_id=run_id,
                reference_run_id=baseline_run_id)
    value = _num(candidate, gate.metric)
    ref = _num(baseline, gate.metric)
    if baseline is None:
        return GateResult(passed=False, measured=value, reason="no baseline run in this pilot run to compare with",
                          **base)
    if ref is None:
        return GateResult(passed=False, measured=value, reason=f"{gate.metric} is missing from the baseline's metrics",
                          **base)
    if value is None:
        return GateResult(passed=False, reference=ref, reason=f"{gate.metric} is missing from the candidate's metrics",
                          **base)
    margin = gate.min_relative_improvement * abs(ref)
    required = ref + margin if higher else ref - margin
    change = (value - ref) / abs(ref) if ref != 0 else (0.0 if value == ref else math.copysign(math.inf, value - ref))
    d = paired(comparison, gate.metric, candidate, "baseline")
    if d is not None:
        d = _among(d, candidates, other_splits)
        verdict, lo_b, hi_b = judge_interval(d, higher=higher, margin=margin)
        # the bound named is the interval's worse end in the metric's own terms: its upper bound when
        # lower is better (a reader checks it against the interval printed just before)
        reason = (f"{gate.metric} = {_fmt(value)} vs baseline {_fmt(ref)}: {_interval_text(d)}; required: the "
                  f"interval's {'lower' if higher else 'upper'} bound {'above' if higher else 'below'} "
                  f"{(margin if higher else -margin):+.4g} ({gate.min_relative_improvement:.2%} of the baseline, "
                  f"{'higher' if higher else 'lower'} is better)")
        if verdict == "tie" and lo_b <= 0 <= hi_b:  # zero inside: the stronger statement, whatever the margin
            reason += ": the interval holds zero, so the candidate is no better than today's rule (the rows cannot " \
                      "tell them apart)"
        elif verdict == "tie":
            reason += ": the margin lies inside the interval, so the candidate is no better than today's rule"
        elif verdict == "fail":
            reason += ": the whole interval falls short of it"
            reason += "" if lo_b > 0 else " (the candidate is worse than today's rule)"
        return GateResult(passed=verdict == "pass", measured=value, threshold=required, reference=ref, reason=reason,
                          diff=float(d["diff"]), ci_low=float(d["ci_low"]), ci_high=float(d["ci_high"]),
                          confidence=d.get("confidence"), tie=verdict == "tie", **base)
    ok = value >= required if higher else value <= required
    reason = (f"{gate.metric} = {_fmt(value)} vs baseline {_fmt(ref)} ({change:+.2%}); required {op} {_fmt(required)} "
              f"({'+' if higher else '-'}{gate.min_relative_improvement:.2%} of the baseline, "
              f"{'higher' if higher else 'lower'} is better); " + _POINT_ONLY.format(ref="baseline"))
    return GateResult(passed=ok, measured=value, threshold=required, reference=ref, reason=reason, **base)


def champion_gate(gate: ChampionGate, candidate: Mapping[str, float], champion: Mapping[str, float] | None, *,
                  champion_version: str | None, run_id: str | None = None,
                  champion_run_id: str | None = None, comparison: Mapping[str, Any] | None = None,
                  candidates: int = 1, other_splits: int = 0, unpaired: str | None = None) -> GateResult:
    """No worse than the champion by more than ``max_regression`` (absolute), or, with
    ``min_improvement``, better by at least that much (the interval's worse end past it: a
    candidate the rows cannot tell from the champion fails); no champion: pass. Direction:
    the gate's ``higher_is_better``, else the metric registry. ``candidates``: as
    :func:`baseline_gate`'s. ``unpaired``: why the champion was not scored on these rows (it trained
    on some of them), said in place of the missing interval's reason."""
    higher = _gate_higher(gate)
    op = (">" if higher else "<") if gate.min_improvement else (">=" if higher else "<=")  # a gain is strict
    base = dict(name=gate_name(gate), kind=gate.kind, metric=gate.metric, op=op, run_id=run_id,
                reference_run_id=champion_run_id)
    value = _num(candidate, gate.metric)
    if value is None:
        return GateResult(passed=False, reason=f"{gate.metric} is missing from the candidate's metrics", **base)
    if champion_version is None:
        return GateResult(passed=True, measured=value, reason=f"no champion yet: nothing to regress from "
                          f"({gate.metric} = {_fmt(value)})", **base)
    ref = _num(champion, gate.metric)
    if ref is None:
        return GateResult(passed=False, measured=value,
                          reason=f"{gate.metric} of the champion (version {champion_version}) is missing or its run "
                          "is unreadable", **base)
    margin = gate.min_improvement or -gate.max_regression  # in the better direction: a gain asked, or a loss allowed
    required = ref + margin if higher else ref - margin
    if run_id is not None and run_id == champion_run_id:  # a cached evaluate step whose candidate became champion
        return GateResult(passed=True, measured=value, threshold=required, reference=ref,
                          reason=f"the candidate is champion v{champion_version} itself (the same run): no difference "
                          "to judge", **base)
    same = comparison is not None and comparison.get("reference_label") == f"champion v{champion_version}"
    d = paired(comparison if same else None, gate.metric, candidate if same else None, "champion")
    if d is not None:  # the interval's lower bound (in the better direction) must reach the margin
        d = _among(d, candidates, other_splits)
        verdict, lo_b, _ = judge_interval(d, higher=higher, margin=margin, inclusive=not gate.min_improvement)
        head = f"{gate.metric} = {_fmt(value)} vs champion v{champion_version} {_fmt(ref)}: {_interval_text(d)}; "
        if gate.min_improvement:
            reason = head + (f"required: the interval's worse end better than the champion by more than "
                             f"{gate.min_improvement:g} ({'higher' if higher else 'lower'} is better)"
                             + ("" if verdict == "pass" else f": it reaches only {lo_b:+.4g}, so a gain of "
                                f"{gate.min_improvement:g} is not shown"))
        else:
            reason = head + (f"required: the interval's worse end within {gate.max_regression:g} of the champion "
                             f"({'higher' if higher else 'lower'} is better)"
                             + ("" if verdict == "pass" else f": it reaches {-lo_b:.4g} worse, so a regression beyond "
                                "the margin cannot be ruled out"))
        return GateResult(passed=verdict == "pass", measured=value, threshold=required, reference=ref, reason=reason,
                          diff=float(d["diff"]), ci_low=float(d["ci_low"]), ci_high=float(d["ci_high"]),
                          confidence=d.get("confidence"), **base)
    ok = _OPS[op](value, required)
    reason = (f"{gate.metric} = {_fmt(value)} vs champion v{champion_version} {_fmt(ref)}; "
              f"required {op} {_fmt(required)} "
              + (f"(min improvement {gate.min_improvement:g}" if gate.min_improvement else
                 f"(max regression {gate.max_regression:g}") + f", {'higher' if higher else 'lower'} is better); "
              + (f"{unpaired}: judged on the point values alone" if unpaired else _POINT_ONLY.format(ref="champion"))
              + ("" if comparison is None or same else f" (the logged comparison is against "
                 f"{comparison.get('reference_label')}, not v{champion_version})"))
    return GateResult(passed=ok, measured=value, threshold=required, reference=ref, reason=reason, **base)


def contracts_gate(gate: ContractsGate, *, passed: bool | None, error_failures: float | None,
                   run_id: str | None = None) -> GateResult:
    """No error-level contract failure: the contracts step's verdict tag, else its failure count."""
    base = dict(name=gate_name(gate), kind=gate.kind, metric="contracts.error_failures", op="==", threshold=0.0,
                run_id=run_id)
    if run_id is None:
        return GateResult(passed=False, reason="no contracts step in this pilot run (no source declares a contract, "
                          "or the step did not run): nothing shows the data kept its contracts", **base)
    if error_failures is not None:
        ok = error_failures == 0 and passed is not False
        return GateResult(passed=ok, measured=error_failures,
                          reason=f"{error_failures:g} error-level contract failure(s)"
                          + ("" if passed is not False else "; the contracts step reports a failure"), **base)
    if passed is None:
        return GateResult(passed=False, reason="the contracts step recorded no verdict "
                          f"(no tag {CONTRACTS_PASSED_TAG}, no metric contracts.error_failures)", **base)
    return GateResult(passed=passed, reason="contracts passed" if passed else "the contracts step reports a failure",
                      **base)


def probes_gate(gate: ProbesGate, metrics: Mapping[str, float], *, run_id: str | None = None) -> GateResult:
    base = dict(name=gate_name(gate), kind=gate.kind, metric="probes.crashed", op="==", threshold=0.0, run_id=run_id)
    crashed = _num(metrics, "probes.crashed")
    if crashed is None:
        return GateResult(passed=False,
                          reason="probes.crashed is missing: the candidate's robustness probes did not run",
                          **base)
    total = _num(metrics, "probes.total")
    of = f" of {total:g}" if total is not None else ""
    return GateResult(passed=crashed == 0, measured=crashed, reason=f"{crashed:g}{of} probe(s) crashed the candidate",
                      **base)


def slice_values(metrics: Mapping[str, float], metric: str) -> dict[str, float]:
    """``{"<column>.<value>": v}`` from ``slice.<column>.<value>.<metric>`` (``slice.worst`` excluded).

    ``metric`` may be given as ``quality.roc_auc`` or ``roc_auc``."""
    inner = metric.split(".", 1)[1] if metric.startswith(("quality.", "slice.")) else metric
    out = {}
    for name, value in metrics.items():
        parts = name.split(".")
        if len(parts) == 4 and parts[0] == "slice" and parts[3] == inner and parts[1] != "worst":
            v = _num(metrics, name)
            if v is not None:
                out[f"{parts[1]}.{parts[2]}"] = v
    return out


def slices_gate(gate: SlicesGate, candidate: Mapping[str, float], *, champion: Mapping[str, float] | None,
                champion_version: str | None, baseline: Mapping[str, float] | None, run_id: str | None = None,
                champion_run_id: str | None = None, baseline_run_id: str | None = None,
                comparison: Mapping[str, Any] | None = None, unit: str = "rows") -> GateResult:
    """No slice worse than the champion's same slice by more than ``margin`` (no champion: the
    baseline's). ``measured`` is the largest regression found, ``threshold`` the margin.

    With a paired ``comparison`` against that reference (``compare/<ref>.json``), every slice
    with at least ``min_rows`` rows is judged on its 95 % interval: it passes only when the
    interval's worse end stays within ``margin``; the failing slices are listed worst first.
    Without one, the logged per-slice values are compared as points (and the reason says so).
    Direction: the gate's ``higher_is_better``, else the registry's for ``quality.<m>``.
    ``unit``: what a slice counts, as the reason says it (an eval set's items)."""
    higher = _gate_higher(gate)
    base = dict(name=gate_name(gate), kind=gate.kind, metric=gate.metric, op="<=", threshold=gate.margin,
                run_id=run_id)
    if champion_version is not None:
        ref_name, ref_metrics, ref_run = f"champion v{champion_version}", champion, champion_run_id
    else:
        ref_name, ref_metrics, ref_run = "baseline (no champion yet)", baseline, baseline_run_id
    base["reference_run_id"] = ref_run
    inner = gate.metric.split(".", 1)[1] if gate.metric.startswith(("quality.", "slice.")) else gate.metric
    entries = [e for e in ((comparison or {}).get("slices") or []) if e.get("metric") == inner]
    if entries:
        return _slices_by_interval(gate, entries, higher=higher, ref_name=ref_name, base=base, unit=unit)
    cand = slice_values(candidate, gate.metric)
    if not cand:
        return GateResult(passed=False, reason=f"the candidate has no slice metrics for {gate.metric}", **base)
    if ref_metrics is None:
        return GateResult(passed=False, reason=f"no {ref_name} metrics to compare slices with", **base)
    ref = slice_values(ref_metrics, gate.metric)
    # a slice's metric on a handful of rows is noise: compare slices both sides measured on
    # at least `min_rows` rows (the counts are logged as slice.<col>.<val>.count)
    counts = {k: min(_num(candidate, f"slice.{k}.count") or 0, _num(ref_metrics, f"slice.{k}.count") or 0)
              for k in set(cand) & set(ref)}
    small = sorted(k for k, n in counts.items() if n < gate.min_rows)
    common = sorted(k for k in set(cand) & set(ref) if k not in small)
    if not common:
        return GateResult(passed=False, reason=f"no slice in common with the {ref_name} for {gate.metric}", **base)
    worse: list[tuple[float, str]] = []
    for key in common:
        by = (ref[key] - cand[key]) if higher else (cand[key] - ref[key])
        worse.append((by, key))
    worst_by, worst_key = max(worse)
    failing = sorted((w for w in worse if w[0] > gate.margin), reverse=True)
    details = tuple(f"{key}: {_fmt(cand[key])} vs {_fmt(ref[key])} ({by:+.4g} worse)" for by, key in failing)
    missing = sorted(set(ref) - set(cand))
    if missing:
        details += (f"not compared (no candidate value): {', '.join(missing)}",)
    if small:
        details += (f"not compared (fewer than {gate.min_rows} rows): {', '.join(small)}",)
    reason = (f"{len(failing)} of {len(common)} slice(s) worse than the {ref_name} by more than {gate.margin:g} "
              f"on {gate.metric} ({'higher' if higher else 'lower'} is better); "
              + (f"largest regression {worst_key} by {worst_by:.4g}" if worst_by > 0 else "no slice is worse")
              + "; no paired slice intervals were logged: judged on the point values alone")
    return GateResult(passed=not failing, measured=worst_by, details=details, reason=reason, **base)


_ROWS = "remove the rows each finding names"
# one record exported or joined more than once: the view that keeps one of each
_COPIES = "read each record once (`features: {sql: SELECT DISTINCT * FROM ...}`)"
_REMEDIES = {"": "exclude the feature(s) from `features:`", "copied_rows": _COPIES, "repeated_rows": _COPIES,
             "exact duplicate": _ROWS, "normalized duplicate": _ROWS, "quoted": _ROWS,
             "shared_groups": "split by the entity (`split: {kind: group, column: ...}`)",
             "recognised_entity": "split by the person or thing (`split: {kind: group, column: ...}`)",
             "seen_again": "split by the record the value names (`split: {kind: group, column: ...}`)",
             "in prompt": "take the prompt's examples from the training items",
             "label in text": "take the class's name out of the texts",
             "class code in text": "take the code written from the class out of the texts",
             "copied from its passage": "write the queries as users ask them (or take them from search logs)",
             "near_perfect": "find the features that give the answer away (the candidate without its strongest ones; "
                             "a target computed from the features is no prediction)"}


def leakage_gate(findings: Sequence[Mapping[str, Any]] | None, acknowledged: Mapping[str, str], *,
                 run_id: str | None = None, eval_set: bool = False) -> GateResult:
    """Implicit in every promotion: no GO while a leakage finding of the evaluate run is
    unacknowledged (pure). ``findings``: ``leakage/findings.json`` rows (None: not checked,
    which fails: nothing shows the features do not carry the answer); ``acknowledged``:
    the charter's ``leakage.acknowledged`` (feature -> reason); ``eval_set``: an eval-set pilot,
    whose checks look for eval items among the training items and in prompts, not features. The
    judged candidate's own finding (:func:`~workbench.measure.leakage.near_perfect`) is one of the
    ``findings`` the decision passes."""
    base = dict(name="no_leakage", kind="leakage", metric="leakage.findings", op="==", threshold=0.0, run_id=run_id)
    if findings is None:
        return GateResult(passed=False, reason="the evaluate step logged no leakage checks (leakage/findings.json): "
                          "nothing shows that no feature carries the answer; call `s.log_leakage("
                          "leakage.check_data(data, s.task, s.spec.split))` in the evaluate notebook", **base)
    open_ = [f for f in findings if str(f.get("feature")) not in acknowledged]
    acked = [f for f in findings if str(f.get("feature")) in acknowledged]
    details = tuple(f"{f.get('feature')} ({f.get('check')}): {f.get('evidence')}" for f in open_)
    details += tuple(f"acknowledged {f.get('feature')} ({f.get('check')}): {acknowledged[str(f.get('feature'))]}"
                     for f in acked)
    if not findings:
        reason = ("no eval item is among the training items or written into a prompt, and none gives its answer away "
                  "(leakage checks found nothing)"
                  if eval_set else "no feature carries the answer (leakage checks on the training rows found nothing)")
    elif open_:
        # each with its check, so the terminal says what kind of leak (the evidence is in the details)
        names = ", ".join(dict.fromkeys(f"{f.get('feature')} ({f.get('check')}"
                                        + (f" {float(f['value']):.4f})" if f.get("check") == "near_perfect" else ")")
                                        for f in open_))
        # what to do depends on the check: a feature goes, copied rows go, an entity splits by group
        remedies = [_REMEDIES.get(str(f.get("check")), _REMEDIES[""]) for f in open_]
        key = "FEATURE" if _REMEDIES[""] in remedies else str(open_[0].get("feature"))
        reason = (f"{len(open_)} leakage finding(s) on {names}: {' or '.join(dict.fromkeys(remedies))}, or, if sound "
                  f"after all, acknowledge each in the charter with a reason (`leakage: {{acknowledged: "
                  f"{{{key}: \"why\"}}}}`)")
    else:
        reason = f"{len(acked)} leakage finding(s), every one acknowledged in the charter with a reason"
    return GateResult(passed=not open_, measured=float(len(open_)), reason=reason, details=details, **base)


def shift_gate(gate: ShiftGate, metrics: Mapping[str, float] | None, columns: Sequence[Mapping[str, Any]] = (), *,
               run_id: str | None = None) -> GateResult:
    """No feature shifted beyond ``max_psi`` and no feature with more than
    ``max_unseen_share`` of held-out rows in categories unseen in training (the evaluate
    run's ``shift.*`` metrics; a missing one fails). ``measured``: the largest PSI."""
    base = dict(name=gate_name(gate), kind=gate.kind, metric="shift.max_psi", op="<=", threshold=gate.max_psi,
                run_id=run_id)
    checks = [(limit, name, label) for limit, name, label in (
        (gate.max_psi, "shift.max_psi", "PSI"), (gate.max_unseen_share, "shift.unseen_share_max", "unseen share"))
        if limit is not None]
    if not checks:
        return GateResult(passed=True, reason="no shift limit set (max_psi and max_unseen_share are null)", **base)
    parts, passed, details = [], True, []
    for limit, name, label in checks:
        value = _num(metrics, name)
        if value is None:
            return GateResult(passed=False, reason=f"{name} is missing from the evaluate run: the evaluate step "
                              "logged no shift (`s.log_shift(shift.compare_data(data))`)", **base)
        ok = value <= limit
        passed = passed and ok
        parts.append(f"largest {label} {_fmt(value)} (limit {limit:g})")
        key = "psi" if label == "PSI" else "unseen_share"
        details += [f"{c.get('column')}: {label} {_fmt(_num(c, key))} > {limit:g}" for c in columns
                    if (_num(c, key) or 0.0) > limit]
    return GateResult(passed=passed, measured=_num(metrics, "shift.max_psi"), reason="; ".join(parts),
                      details=tuple(details), **base)


def _slices_by_interval(gate: SlicesGate, entries: list[Mapping[str, Any]], *, higher: bool, ref_name: str,
                        base: dict[str, Any], unit: str = "rows") -> GateResult:
    """The slices gate on paired per-slice intervals: every slice with ``min_rows`` rows. A slice
    with enough rows of each class (``stats.MIN_PER_CLASS``, as the sample-size gate asks of the
    whole) passes when its interval's worse end stays within ``margin``; a *thin* slice, with fewer
    of a class, cannot show that however good the candidate (11 positives: ROC AUC +/- 0.17), so it
    fails only when its whole interval lies beyond the margin: the candidate is surely worse there."""
    judged, small, undefined = [], [], []
    for e in entries:
        if int(e.get("rows") or 0) < gate.min_rows:
            small.append(e)
        elif all(_num(e, k) is not None for k in ("diff", "ci_low", "ci_high")):
            judged.append(e)
        else:
            undefined.append(e)
    if not judged:
        return GateResult(passed=False, reason=f"no slice with at least {gate.min_rows} {unit} has a paired interval "
                          f"against the {ref_name} on {gate.metric}", **base)
    rarest = {id(e): _num(e, "smallest_class") for e in judged}  # None: regression, or not logged
    thin = {i for i, n in rarest.items() if n is not None and n < stats.MIN_PER_CLASS}
    failing: list[tuple[float, Mapping[str, Any]]] = []
    worst = -math.inf
    for e in judged:
        verdict, lo_b, hi_b = judge_interval(e, higher=higher, margin=-gate.margin, inclusive=True)
        worst = max(worst, -float(e["diff"]) if higher else float(e["diff"]))
        if (hi_b < -gate.margin) if id(e) in thin else (verdict != "pass"):
            failing.append((lo_b, e))
    failing.sort(key=lambda t: t[0])  # the worst end first, as numbers
    details = tuple(f"{e['key']}: {_interval_text(e)}" for _, e in failing)
    if thin:
        details += (f"judged only for clear harm (fewer than {stats.MIN_PER_CLASS} {unit} of a class): "
                    + ", ".join(f"{e['key']} ({int(rarest[id(e)] or 0)} of its rarest class, "
                                f"{int(e['rows'])} {unit})" for e in judged if id(e) in thin),)
    if small:
        details += (f"not compared (fewer than {gate.min_rows} {unit}): "
                    + ", ".join(f"{e['key']} ({int(e['rows'])})" for e in sorted(small, key=lambda e: -int(e["rows"]))),)
    if undefined:
        details += ("not compared (no interval): " + ", ".join(f"{e['key']} ({e.get('reason') or 'undefined'})"
                                                             for e in undefined),)
    reason = (f"{len(failing)} of {len(judged)} slice(s) with at least {gate.min_rows} {unit} may be worse than the "
              f"{ref_name} by more than {gate.margin:g} on {gate.metric} (95 % paired intervals, "
              f"{'higher' if higher else 'lower'} is better)"
              + (f"; {len(thin)} of them with fewer than {stats.MIN_PER_CLASS} {unit} of a class, judged only for "
                 "clear harm" if thin else "")
              + (f"; worst {failing[0][1]['key']}: {_interval_text(failing[0][1])}" if failing else
                 f"; largest point regression {worst:+.4g}" if worst > 0 else "; no slice is worse"))
    return GateResult(passed=not failing, measured=worst, details=details, reason=reason, **base)


def sample_size_gate(gate: SampleSizeGate, metrics: Mapping[str, float], *, task_kind: str | None = None,
                     run_id: str | None = None, declared: bool = True,
                     class_counts: Mapping[str, Any] | None = None, grouped_by: str | None = None) -> GateResult:
    """Enough held-out rows (``heldout.rows``) and, for classification, rows of each class
    (``heldout.positives`` / ``.negatives``, or ``class_counts``: the paired comparison's
    items per class, for any number of classes) to judge any difference; the reason says how
    many more are needed. When the counts were not logged (a custom notebook), a declared
    gate fails; the default one (``declared=False``) passes and says it could not check."""
    base = dict(name=gate_name(gate), kind=gate.kind, metric="heldout.rows", op=">=", threshold=float(gate.min_rows),
                run_id=run_id)
    rows = _num(metrics, "heldout.rows")
    if rows is None and not declared:
        return GateResult(passed=True, reason="not checked: the evaluate step logged no heldout.rows (a custom "
                          "notebook); log heldout.rows, heldout.positives and heldout.negatives, or declare "
                          "`- {kind: sample_size}` to require them", **base)
    if rows is None:
        return GateResult(passed=False, reason="heldout.rows is missing: the evaluate step did not say how many "
                          "held-out rows judged the candidate (the shipped notebook logs it with "
                          "`c.log_comparison(...)`; a custom one can log it with log_metrics)", **base)
    pos, neg = _num(metrics, "heldout.positives"), _num(metrics, "heldout.negatives")
    classes = {"positive": int(pos), "negative": int(neg)} if pos is not None and neg is not None else None
    if task_kind == "multiclass":  # every class named, from the comparison (compare/baseline.json)
        classes = {f"'{k}'": int(v) for k, v in (class_counts or {}).items()} or None
        if classes is None:
            return GateResult(passed=False, measured=rows, reason="the rows per class are missing (no class_counts in "
                              "compare/baseline.json): rows per class cannot be checked", **base)
    if classes is None and class_counts:
        classes = {str(k): int(v) for k, v in class_counts.items()}
    if classes is None and task_kind in ("classification", "text-classification"):
        return GateResult(passed=False, measured=rows, reason="heldout.positives / heldout.negatives are missing: "
                          "rows per class cannot be checked", **base)
    short = stats.sample_shortfall(int(rows), classes, min_rows=gate.min_rows, min_per_class=gate.min_per_class)
    if task_kind in ITEM_TASKS:  # an eval set's rows are its items
        short = [line.replace("held-out row(s)", "eval items").replace(" row(s)", " item(s)") for line in short]
    need = f"at least {gate.min_rows} held-out rows" + (
        f" and {gate.min_per_class} of each class" if classes is not None else "")
    if task_kind in ITEM_TASKS:
        need = need.replace("held-out rows", "eval items")
    repeats = int(_num(metrics, "heldout.repeats") or 0)  # eval items asking an input again: counted once
    if repeats:
        asked = f"distinct eval inputs ({int(rows) + repeats} items, {repeats} asking an input again)"
        short = [line.replace("eval items", asked, 1) if line.startswith(f"{int(rows)} eval items") else line
                 for line in short]
        need = need.replace("eval items", "distinct eval inputs")
    groups = _num(metrics, "heldout.groups")  # a group split or a cluster: rows of a group move together
    unit = f"groups of {grouped_by}" if grouped_by else "groups of the group split's column"
    if groups is not None and groups < gate.min_groups:
        short.append(f"{int(rows)} held-out rows in {int(groups)} {unit}: "
                     f"{gate.min_groups - int(groups)} more group(s) needed (a group's rows are one unit of evidence)")
    if groups is not None:
        need += f", in at least {gate.min_groups} groups"
    if short:
        return GateResult(passed=False, measured=rows, details=tuple(short),
                          reason=f"too few {'eval items' if task_kind in ITEM_TASKS else 'held-out rows'} to judge "
                          f"any difference: {'; '.join(short)} "
                          f"(the minimum is {need}; set `- {{kind: sample_size, min_rows: ..., min_per_class: ..."
                          f"{', min_groups: ...' if groups is not None else ''}}}` "
                          "in the gates to change it, README \"Differences you can trust\")", **base)
    have = f"{int(rows)} {'eval items' if task_kind in ITEM_TASKS else 'held-out rows'}" + (
        "" if classes is None else f" ({classes['positive']} positive, {classes['negative']} negative)"
        if set(classes) == {"positive", "negative"} else f" ({len(classes)} classes, the rarest with "
        f"{min(classes.values())})")
    if repeats:
        have = have.replace(" eval items", f" distinct eval inputs ({int(rows) + repeats} items with repeats)", 1)
    if groups is not None:
        have += f" in {int(groups)} groups" + (f" of {grouped_by}" if grouped_by else "")
    return GateResult(passed=True, measured=rows, reason=f"{have}; the minimum is {need}", **base)


def evaluate_gate(gate: Any, evidence: Evidence) -> GateResult:
    """One gate on the evidence (pure)."""
    ev = evidence
    if isinstance(gate, ThresholdGate):
        return threshold_gate(gate, ev.candidate_metrics, run_id=ev.candidate_run_id)
    if isinstance(gate, BaselineGate):
        return baseline_gate(gate, ev.candidate_metrics, ev.baseline_metrics, run_id=ev.candidate_run_id,
                             baseline_run_id=ev.baseline_run_id, comparison=ev.comparisons.get("baseline"),
                             candidates=ev.looks, other_splits=ev.other_splits)
    if isinstance(gate, ChampionGate):
        return champion_gate(gate, ev.candidate_metrics, ev.champion_metrics, champion_version=ev.champion_version,
                             run_id=ev.candidate_run_id, champion_run_id=ev.champion_run_id,
                             comparison=ev.comparisons.get("champion"), candidates=ev.looks,
                             other_splits=ev.other_splits, unpaired=ev.champion_unpaired)
    if isinstance(gate, SampleSizeGate):
        return sample_size_gate(gate, ev.candidate_metrics, task_kind=ev.task_kind, run_id=ev.candidate_run_id,
                                declared=gate is not DEFAULT_SAMPLE_SIZE,
                                class_counts=(ev.comparisons.get("baseline") or {}).get("class_counts"),
                                grouped_by=(ev.comparisons.get("baseline") or {}).get("grouped_by"))
    if isinstance(gate, ContractsGate):
        return contracts_gate(gate, passed=ev.contracts_passed, error_failures=ev.contracts_error_failures,
                              run_id=ev.contracts_run_id)
    if isinstance(gate, ProbesGate):
        return probes_gate(gate, ev.candidate_metrics, run_id=ev.candidate_run_id)
    if isinstance(gate, SlicesGate):
        return slices_gate(gate, ev.candidate_metrics, champion=ev.champion_metrics,
                           champion_version=ev.champion_version, baseline=ev.baseline_metrics,
                           run_id=ev.candidate_run_id, champion_run_id=ev.champion_run_id,
                           baseline_run_id=ev.baseline_run_id, comparison=_slice_comparison(ev),
                           unit="items" if ev.task_kind in ITEM_TASKS else "rows")
    if isinstance(gate, ShiftGate):
        return shift_gate(gate, ev.evaluate_metrics, ev.shift_columns, run_id=ev.evaluate_run_id)
    raise PromotionError(f"unknown gate kind {getattr(gate, 'kind', type(gate).__name__)!r}",
                         hint="use threshold, vs_baseline, vs_champion, contracts, probes, slices, shift "
                              "or sample_size")


def _slice_comparison(ev: Evidence) -> Mapping[str, Any] | None:
    """The comparison the slices gate judges: with the champion when there is one (and the
    logged comparison is with that very version), else with the baseline."""
    if ev.champion_version is not None:
        champ = ev.comparisons.get("champion")
        return champ if champ and champ.get("reference_label") == f"champion v{ev.champion_version}" else None
    return ev.comparisons.get("baseline")


def evaluate_gates(gates: Sequence[Any], evidence: Evidence) -> tuple[GateResult, ...]:
    """Every gate, in charter order (lazy: all are evaluated, then the caller decides)."""
    return tuple(evaluate_gate(g, evidence) for g in gates)


def with_sample_size(gates: Sequence[Any]) -> tuple[Any, ...]:
    """The charter's gates, plus the default sample-size gate when it declares none: no
    promotion judges a difference on too few rows."""
    if any(isinstance(g, SampleSizeGate) for g in gates):
        return tuple(gates)
    return (*gates, DEFAULT_SAMPLE_SIZE)


DEFAULT_SAMPLE_SIZE = SampleSizeGate(kind="sample_size")  # applied when the charter declares none


def outcome_of_gates(gates: Sequence[GateResult]) -> str:
    """GO when every gate passed; NO BETTER THAN TODAY when the only failures are ties (a
    comparison whose interval holds its margin); otherwise NO-GO."""
    failing = [g for g in gates if not g.passed]
    if not failing:
        return GO
    return NO_BETTER if all(g.tie for g in failing) else NO_GO


def production_plan_gate(plan: Any, owner: str | None = None) -> GateResult:
    """Implicit in every promotion: no GO without a complete production plan, whose on-call
    and (given) owner are real people, not placeholders (pure)."""
    missing = plan.missing() if plan is not None else ["production: (no plan at all)"]
    why = placeholder(owner) if owner is not None else None
    if why:
        missing = [*missing, f"owner (who answers for the decision: {why})"]
    reason = ("the production plan is complete: on-call, service levels, monitoring thresholds, fallback, rollback"
              if not missing else "the production plan lacks " + ", ".join(missing)
              + " (README, \"After the GO\")")
    return GateResult(name="production_plan", kind="production_plan", passed=not missing, reason=reason,
                      details=tuple(missing))


def select_candidate(candidates: Mapping[str, Mapping[str, float]], metric: str, *, higher: bool = True,
                     name: str | None = None) -> str:
    """The named candidate, else the best on ``metric`` (ties: the first name in sorted order)."""
    if not candidates:
        raise PromotionError("no finished candidate run to promote",
                             hint="run the evaluate step (`make pilot`); a candidate run must end FINISHED")
    if name is not None:
        if name not in candidates:
            raise PromotionError(f"candidate '{name}' is not among this pilot run's candidates",
                                 where="pilot.yaml: promotion.candidate",
                                 hint=f"choose one of: {', '.join(sorted(candidates))}")
        return name
    ranked = rank_candidates(candidates, metric, higher=higher)
    if not ranked:
        raise PromotionError(f"no candidate has the primary metric {metric}", where="pilot.yaml: primary_metric",
                             hint="log it from the evaluate notebook, or name the candidate in promotion.candidate")
    return ranked[0]


def rank_candidates(candidates: Mapping[str, Mapping[str, float]], metric: str, *, higher: bool = True) -> list[str]:
    """The candidates that logged ``metric``, best first (ties: sorted name order)."""
    scored = [(n, _num(m, metric)) for n, m in sorted(candidates.items())]
    # a stable sort: equal values keep their name order, reversed or not
    return [n for n, v in sorted(((n, v) for n, v in scored if v is not None), key=lambda nv: nv[1], reverse=higher)]


# -- evidence from MLflow -------------------------------------------------------------------


def _experiment(store: Store, charter: Charter) -> str:
    exp = store.experiment_id(charter.name, create=False)
    if exp is None:
        raise PromotionError(f"no MLflow experiment '{charter.name}' in {store.tracking_uri}",
                             hint="run the pilot first (`make pilot`)")
    return exp


def find_pilot_run(charter: Charter, store: Store, pilot_run_id: str | None = None) -> Any:
    """The given pilot run, or the newest FINISHED one of the charter's experiment."""
    if pilot_run_id is not None:
        try:
            run = store.get_run(pilot_run_id)
        except Exception as exc:  # noqa: BLE001 - mlflow raises its own exception type
            raise PromotionError(f"no run {pilot_run_id} in the MLflow store", where=store.tracking_uri,
                                 hint="pass a pilot run id from `make ui`, or omit it for the newest pilot run",
                                 ) from exc
        if run.data.tags.get(TAG["kind"]) != "pilot":
            raise PromotionError(f"run {pilot_run_id} is not a pilot run (tag {TAG['kind']} is "
                                 f"{run.data.tags.get(TAG['kind'])!r})", hint="pass the parent run of a pilot")
        return run
    _experiment(store, charter)
    newest = store.newest_pilot_run(charter.name, complete=True)  # a partial (one-step) run decides nothing
    if newest is None:
        partial = store.newest_pilot_run(charter.name, complete=False)
        if partial is not None:  # `workbench run --step ...` finished: said FINISHED, but judged nothing
            raise PromotionError(f"pilot '{charter.name}' has no complete FINISHED pilot run to promote from: its "
                                 f"newest, {partial.info.run_id} ({partial.info.run_name}), ran only some steps "
                                 "(`workbench run --step`), and a partial run decides nothing",
                                 hint=f"run every step: `workbench run --pilot {charter.path}`")
        raise PromotionError(f"pilot '{charter.name}' has no FINISHED pilot run to promote from",
                             hint="run `make pilot` until it finishes, or pass a pilot run id")
    return newest


def _source(run: Any) -> str:
    """The run that actually executed (a cached step run points at it)."""
    return run.data.tags.get(TAG["cached_from"]) or run.info.run_id


def _steps_by_role(charter: Charter, children: list[Any]) -> dict[str, list[Any]]:
    order = {s.name: i for i, s in enumerate(charter.steps)}
    out: dict[str, list[Any]] = {}
    for run in children:
        tags = run.data.tags
        role = tags.get(TAG["role"]) or ("contracts" if tags.get(TAG["step"]) == "contracts" else None)
        if role:
            out.setdefault(role, []).append(run)
    for runs in out.values():
        runs.sort(key=lambda r: (order.get(r.data.tags.get(TAG["step"], ""), 99), -r.info.start_time))
    return out


def _logged_model_id(store: Store, run: Any) -> str | None:
    """The logged model named ``model`` of a candidate run (else its only logged model)."""
    outputs = getattr(run, "outputs", None)
    ids = [o.model_id for o in (outputs.model_outputs if outputs else [])]
    if not ids:
        return None
    if len(ids) == 1:
        return ids[0]
    for model_id in ids:
        try:
            if store.client.get_logged_model(model_id).name == "model":
                return model_id
        except Exception:  # noqa: BLE001 - skip an unreadable one
            continue
    return ids[-1]


def _lineage(evaluate_run: Any, candidate: str, candidate_run: Any = None) -> str | None:
    """Same evaluate cache key + same candidate name = same code, data and parameters; a candidate
    cached on its own has a key of its own, the same in every run that reuses it."""
    own = candidate_run.data.tags.get(TAG["candidate_key"]) if candidate_run is not None else None
    key = own or evaluate_run.data.tags.get(TAG["cache_key"])
    if not key:
        return None
    return hashlib.sha256(f"{key}:{candidate}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class PilotLayout:
    """A pilot run's step runs and candidate runs (candidates found through ``cached_from``)."""

    pilot: Any
    steps: Mapping[str, Any]  # step name -> step run (as recorded in this pilot run)
    roles: Mapping[str, list[Any]]  # baseline | evaluate | profile | contracts -> step runs
    candidates: Mapping[str, Any]  # candidate name -> its FINISHED run
    evaluate_of: Mapping[str, Any]  # candidate name -> the evaluate run that executed it

    def step(self, role: str) -> Any | None:
        runs = self.roles.get(role) or []
        return runs[0] if runs else None


def pilot_layout(charter: Charter, store: Store, pilot_run: Any) -> PilotLayout:
    """Read a pilot run's layout from MLflow (the report uses the same reading)."""
    children = store.children(charter.name, pilot_run.info.run_id)
    roles = _steps_by_role(charter, children)
    candidates: dict[str, Any] = {}
    evaluate_of: dict[str, Any] = {}
    for step_run in roles.get("evaluate", []):
        if step_run.info.status != FINISHED:
            continue
        source_id = _source(step_run)
        source = step_run if source_id == step_run.info.run_id else store.get_run(source_id)
        for run in store.children(charter.name, source_id):
            tags = run.data.tags
            if tags.get(TAG["kind"]) != "candidate" or run.info.status != FINISHED:
                continue
            name = tags.get("workbench.candidate") or run.info.run_name
            if name not in candidates or run.info.start_time > candidates[name].info.start_time:
                candidates[name] = run
                evaluate_of[name] = source
    ordered = sorted(children, key=lambda r: r.info.start_time)
    steps = {r.data.tags.get(TAG["step"], r.info.run_name): r for r in ordered}
    return PilotLayout(pilot_run, steps, roles, candidates, evaluate_of)


def gather_evidence(charter: Charter, store: Store, pilot_run: Any, *, candidate: str | None = None,
                    layout: PilotLayout | None = None) -> Evidence:
    """Read the pilot run's candidate, baseline, contracts and the current champion from MLflow.
    ``candidate``: judge this one (a name among the run's candidates); by default the one the
    charter names, else the best on the primary metric. ``layout``: the run's, when already read."""
    pilot_run_id = pilot_run.info.run_id
    layout = layout or pilot_layout(charter, store, pilot_run)
    if not layout.roles.get("evaluate"):
        raise PromotionError(f"pilot run {pilot_run_id} has no evaluate step run",
                             hint="add a step with `role: evaluate` and run the pilot (`make pilot`)")
    roles, candidates, evaluate_of = layout.roles, layout.candidates, layout.evaluate_of
    promo = charter.promotion
    primary = charter.primary_metric
    named = promo.candidate if promo else None
    # the direction matters only when the best of several candidates is chosen
    higher = higher_is_better(primary, charter.gates) if named is None and len(candidates) > 1 else True
    name = select_candidate({n: r.data.metrics for n, r in candidates.items()}, primary, higher=higher,
                            name=candidate or named)
    cand = store.get_run(candidates[name].info.run_id)  # search results omit outputs (the logged model)

    baseline = next((r for r in roles.get("baseline", []) if r.info.status == FINISHED), None)
    contracts = roles.get("contracts", [None])[0]
    champ = champion(charter, store)
    champ_metrics = None
    if champ is not None and champ.run_id:
        try:
            champ_metrics = dict(store.get_run(champ.run_id).data.metrics)
        except Exception:  # noqa: BLE001 - a deleted run: the champion gates fail with a reason
            champ_metrics = None
    ptags = pilot_run.data.tags
    versions = tags_under(ptags, CONTRACT_VERSION_TAG)
    if contracts is not None:
        versions.update(tags_under(contracts.data.tags, CONTRACT_VERSION_TAG))
    passed_tag = contracts.data.tags.get(CONTRACTS_PASSED_TAG) if contracts is not None else None
    return Evidence(
        candidate=name,
        candidate_run_id=cand.info.run_id,
        candidate_metrics=dict(cand.data.metrics),
        baseline_run_id=_source(baseline) if baseline is not None else None,
        baseline_metrics=dict(baseline.data.metrics) if baseline is not None else None,
        baseline_constant=_constant_rule(baseline),
        champion_version=str(champ.version) if champ is not None else None,
        champion_run_id=champ.run_id if champ is not None else None,
        champion_metrics=champ_metrics,
        contracts_run_id=_source(contracts) if contracts is not None else None,
        contracts_passed=None if passed_tag is None else passed_tag == "true",
        contracts_error_failures=_num(contracts.data.metrics, "contracts.error_failures") if contracts else None,
        pilot_run_id=pilot_run_id,
        evaluate_run_id=evaluate_of[name].info.run_id,
        model_id=_logged_model_id(store, cand),
        lineage=_lineage(evaluate_of[name], name, cand),
        candidate_cached_from=cand.data.tags.get(TAG["cached_from"]),
        fingerprints=tags_under(ptags, FINGERPRINT_TAG),
        contract_versions=versions,
        git_commit=ptags.get(TAG["git_commit"]),
        candidates={n: r.info.run_id for n, r in sorted(candidates.items())},
        **_evaluate_evidence(store, evaluate_of[name]),
        unlabelled=_unlabelled(evaluate_of[name]),
        target_step=_num(evaluate_of[name].data.params, "target.step"),
        **_earlier_configurations(charter, store, evaluate_of[name], candidates, evaluate_of),
        environment=run_environment.from_tags(ptags),
        comparisons=_comparisons(store, cand.info.run_id),
        task_kind=charter.task.kind if charter.task else None,
        llm_endpoints=llm_endpoints(candidates),
        item_errors=item_errors(candidates),
    )


def _constant_rule(baseline: Any) -> str | None:
    """The baseline run's rule (its ``baseline`` param) when the run logged that it answers
    every row alike (``baseline.constant``: the prior), else None."""
    params = baseline.data.params if baseline is not None else {}
    return params.get("baseline") if str(params.get("baseline.constant")).lower() == "true" else None


def _unlabelled(run: Any) -> tuple[int, int] | None:
    """(rows left out for a null target, rows the split drew from) from the evaluate run's split
    params; None when it logged none (an eval-set pilot) or dropped nothing."""
    params = run.data.params
    try:
        dropped = int(params["split.dropped_null_target"])
        kept = int(params["split.train_split_rows"]) + int(params["split.eval_rows"])
    except (KeyError, TypeError, ValueError):
        return None
    return (dropped, dropped + kept) if dropped > 0 else None


def _unlabelled_note(ev: Evidence, target: str | None) -> list[str]:
    """Rows whose outcome was never recorded are neither trained on nor judged: the verdict holds
    for rows like the labelled ones. Said from 1 %: missing outcomes are seldom missing at random
    (a case still open, a customer nobody followed up), and production meets those rows too."""
    if ev.unlabelled is None or ev.unlabelled[0] < 0.01 * ev.unlabelled[1]:
        return []
    dropped, total = ev.unlabelled
    return [f"{dropped:,} of {total:,} rows ({dropped / total:.1%}) have no {target or 'target'} value: they were "
            "left out of training and of the judgement, so the verdict holds for rows whose outcome gets recorded; "
            "if outcomes go missing for a reason (a case still open, a customer nobody followed up), those rows "
            "may differ, and production meets them unjudged"]


def _constant_rule_note(ev: Evidence, gates: Sequence[Any], *, eval_set: bool = False) -> list[str]:
    """A GO over today's rule says little when that rule is a constant: any signal beats a guess
    (a ROC AUC of 0.5, a canned reply), and a reviewer asks what is done today. Said, not refused:
    a task nobody does today has no other bar, and the analyst confirmed it."""
    if ev.baseline_constant is None or not any(isinstance(g, BaselineGate) for g in gates):
        return []
    how = ("`eval_set.baseline:` (its rules, or `kind: recorded`: what today's process answered)" if eval_set
           else "`baseline:` (`kind: sql` or `group_rate`)")
    return [f"today's rule is a constant ({ev.baseline_constant}): the gates against it show that the model beats "
            f"a guess, not the way the work is done today; if a rule or a person decides today, write it under {how} "
            "and run again (README, \"Drafted is not decided\")"]


def item_errors(candidates: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """Eval-set candidates -> (items that ended in an error, eval items), from each run's
    ``items.errors`` and ``items.error_rate``; a tabular candidate logs neither and is left out."""
    out = {}
    for name, run in sorted(candidates.items()):
        errors, rate = _num(run.data.metrics, "items.errors"), _num(run.data.metrics, "items.error_rate")
        if errors is not None and rate:
            out[name] = (int(errors), round(errors / rate))
        elif errors is not None:
            out[name] = (int(errors), int((_num(run.data.metrics, "heldout.rows") or 0)
                                          + (_num(run.data.metrics, "heldout.repeats") or 0)))
    return out


def _not_better_notes(results: Sequence[GateResult], gates: Sequence[Any], champion: str | None) -> list[str]:
    """A GO replacing the champion with a candidate its ``vs_champion`` gate did not show better
    (the interval holds no gain, or the point value is no better): a note that says so, since
    "-> version 2 (was 1)" reads as an improvement. The charter's tolerance allowed it;
    ``min_improvement`` asks for a gain the interval shows instead."""
    if champion is None:
        return []
    tolerance = {gate_name(g): g.max_regression for g in gates if isinstance(g, ChampionGate)}
    out = []
    for g in results:
        if g.kind != "vs_champion" or not g.passed or g.measured is None or g.reference is None:
            continue
        higher = g.op in (">=", ">")
        if g.diff is not None and g.ci_low is not None and g.ci_high is not None:
            gain = g.ci_low if higher else -g.ci_high  # the surest gain the interval allows
            shown = f"{g.diff:+.4g} [{g.ci_low:+.4g}, {g.ci_high:+.4g}]"
        else:
            gain = g.measured - g.reference if higher else g.reference - g.measured
            shown = f"{_fmt(g.measured)} against {_fmt(g.reference)}, point values"
        if gain > 0:
            continue
        out.append(f"not shown better than champion v{champion} on {g.metric} ({shown}): it replaces v{champion} "
                   f"because {g.name} tolerates a regression of up to {tolerance.get(g.name, 0.0):g}; "
                   f"`min_improvement:` in place of `max_regression:` asks for a gain the interval shows")
    return out


def _error_notes(ev: Evidence, gates: Sequence[Any]) -> list[str]:
    """A note for each candidate not chosen that ended more eval items in an error than the
    charter's gate on ``items.error_rate`` allows (1 % without one): what it scored is not
    what it can do, and nothing else in the decision says so (its gates were not evaluated)."""
    limit = next((float(g.value) for g in gates if getattr(g, "metric", None) == "items.error_rate"
                  and getattr(g, "kind", None) == "threshold" and getattr(g, "value", None) is not None), 0.01)
    return [f"candidate '{name}' was not chosen: {errors:,} of {n:,} eval items ({errors / n:.0%}) ended in an error "
            f"(raised, timed out or malformed; an error gate allows {limit:.0%}), so its quality is not its skill; its "
            "worst failures and their messages are in the scorecard's per-item evidence"
            for name, (errors, n) in ev.item_errors.items() if name != ev.candidate and n and errors / n > limit]


def llm_endpoints(candidates: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    """Each LLM candidate's endpoint, reported model, system fingerprint and whether it was
    allowed personal data, from the llm.* params its run logged (the key itself never is)."""
    out = []
    for name, run in sorted(candidates.items()):
        p = run.data.params
        if "llm.endpoint" not in p:
            continue
        shown = {k: (None if p.get(f"llm.{k}") in (None, "not reported") else p.get(f"llm.{k}"))
                 for k in ("endpoint", "model", "reported_model", "system_fingerprint")}
        out.append({"candidate": name, "run_id": run.info.run_id, **shown,
                    "allow_personal_data": str(p.get("llm.allow_personal_data")).lower() == "true"})
    return tuple(out)


def _heldout_rows(evaluate_run: Any) -> tuple | None:
    """What identifies the held-out rows an evaluate run scored: its tables' fingerprints and its
    split (the training sample aside). None when it recorded no fingerprint (rows unknown)."""
    prints = tags_under(evaluate_run.data.tags, FINGERPRINT_TAG)
    if not prints:
        return None
    return tuple(sorted(prints.items())), tuple(sorted(heldout_split(evaluate_run.data.params).items()))


def _earlier_configurations(charter: Charter, store: Store, evaluate_run: Any, candidates: Mapping[str, Any],
                            evaluate_of: Mapping[str, Any]) -> dict[str, int]:
    """``earlier_configurations``: candidate configurations (estimator, parameters and features, else
    key) that other runs scored on the very held-out rows this run's candidates were scored on, this
    run's own left out: an analyst who tries one setting after another on the same rows and keeps the
    best takes as many looks. ``other_splits``: the configurations other runs scored on other held-out
    rows of the same tables (another seed, test size, period or kind of split), each split's own: one
    who splits again until a candidate passes looks as often. New data (other fingerprints) starts afresh."""
    rows = _heldout_rows(evaluate_run)
    if rows is None:
        return {}

    def configuration(evaluate: Any, name: str, run: Any) -> Any:  # what was fitted on what, else its key
        params = run.data.params
        if "estimator" in params:
            features = tuple(sorted((k, v) for k, v in evaluate.data.params.items() if k.startswith("features.")))
            return params["estimator"], tuple(sorted((k, v) for k, v in params.items() if k.startswith("param."))), \
                features
        return _lineage(evaluate, name, run)

    own = {configuration(evaluate_of[n], n, r) for n, r in candidates.items()}
    judged = {}  # the evaluate runs that scored held-out rows of these tables: run id -> (run, its rows)
    for r in store.find_runs(charter.name, f"tags.`{TAG['role']}` = 'evaluate' and tags.`{TAG['cached']}` = 'false' "
                             "and attributes.status = 'FINISHED'", max_results=1000):
        held = _heldout_rows(r)
        if held is not None and held[0] == rows[0]:
            judged[r.info.run_id] = (r, held)
    if not judged:
        return {}
    same, elsewhere = set(), set()
    for run in store.find_runs(charter.name, f"tags.`{TAG['kind']}` = 'candidate' and attributes.status = 'FINISHED'",
                               max_results=5000):
        parent, held = judged.get(run.data.tags.get(TAG["parent"], ""), (None, None))
        if parent is None:
            continue
        seen = configuration(parent, run.data.tags.get("workbench.candidate") or run.info.run_name, run)
        if seen is None:
            continue
        if held == rows:
            same.add(seen)
        else:
            elsewhere.add((held, seen))
    return {"earlier_configurations": len(same - own), "other_splits": len(elsewhere)}


def _bar(g: Any) -> float | None:
    """How much a gate asks, larger is stricter: a vs_baseline gate's margin as a share of today's
    value, a vs_champion gate's in the metric's units, a floor's value, a ceiling's negated."""
    if g.threshold is None or g.op not in (">=", ">", "<=", "<"):
        return None
    up = g.op in (">=", ">")
    if g.kind in ("vs_baseline", "vs_champion"):
        if g.reference is None:
            return None
        margin = (g.threshold - g.reference) if up else (g.reference - g.threshold)
        return margin / abs(g.reference) if g.kind == "vs_baseline" and g.reference else margin
    return g.threshold if up else -g.threshold


def _bar_text(g: Any, bar: float) -> str:
    if g.kind == "vs_baseline":
        return f"{bar:.2%} over today's rule"
    if g.kind == "vs_champion":
        return f"{'a gain of' if bar > 0 else 'a loss of at most'} {abs(bar):.4g} against the champion"
    return f"{g.op} {g.threshold:.6g}"


def _held_back(earlier: Sequence[Any], fingerprints: Mapping[str, str]) -> Iterator[tuple[Any, str]]:
    """Each gate that held a candidate back (did not pass) in an earlier decision on these very tables
    (the same fingerprints), oldest first, with the words that say which decision it was."""
    for d in sorted(earlier, key=lambda d: d.timestamp):
        if d.dry_run or not fingerprints or dict(d.fingerprints) != dict(fingerprints):
            continue
        for old in d.gates:
            if not old.passed and old.kind not in ("rollback", "production_plan", "leakage"):
                yield old, (f"held candidate '{d.candidate}' back on these tables ({d.outcome}, "
                            f"{d.timestamp[:16].replace('T', ' ')} UTC)")


def _eased_notes(earlier: Sequence[Any], gates: Sequence[GateResult], fingerprints: Mapping[str, str]) -> list[str]:
    """A note for each gate that asks less now, or is gone, than when it held a candidate back on
    these very tables (an earlier decision on the same fingerprints that did not pass it): a bar
    lowered once its result was seen is no bar set beforehand, and a reviewer should know which."""
    now = {g.name: g for g in gates}
    eased: dict[str, str] = {}
    for old, held in _held_back(earlier, fingerprints):
        if old.name in eased:
            continue
        new = now.get(old.name)
        if new is None:
            eased[old.name] = f"gate '{old.name}' is gone, which {held}"
            continue
        before, after = _bar(old), _bar(new)
        if before is not None and after is not None and new.kind == old.kind \
                and after < before - 1e-9 * max(1.0, abs(before)):
            eased[old.name] = (f"gate '{old.name}' asks less than when it {held}: {_bar_text(old, before)} then, "
                               f"{_bar_text(new, after)} now")
    return [f"{text}: a bar lowered once its result was seen was not set beforehand, and a reviewer weighs the "
            "outcome knowing it; new data (new fingerprints) is judged afresh (README, \"Eased gates\")"
            for text in eased.values()]


def _weakened_rule_notes(store: Store, earlier: Sequence[Any], gates: Sequence[GateResult],
                         fingerprints: Mapping[str, str]) -> list[str]:
    """A note for each gate against today's rule whose rule scores less now, on the same split of
    these very tables, than when that gate held a candidate back: a rule changed once a candidate
    failed against it moves the bar as surely as a lowered margin, and is as easy to miss. Another
    split is left out here: its rows differ, and it is counted as a look (``other_splits``)."""
    now = {g.name: g for g in gates if g.kind == "vs_baseline" and g.reference is not None and g.reference_run_id}
    if not now:
        return []
    read: dict[str, tuple[str | None, dict[str, str]] | None] = {}

    def rule(run_id: str) -> tuple[str | None, dict[str, str]] | None:  # its rule and its held-out rows' split
        if run_id not in read:
            try:
                params = dict(store.get_run(run_id).data.params)
            except Exception:  # noqa: BLE001 - deleted or unreadable: nothing to compare, so nothing said
                read[run_id] = None
            else:
                read[run_id] = params.get("baseline"), heldout_split(params)
        return read[run_id]

    weakened: dict[str, str] = {}
    for old, held in _held_back(earlier, fingerprints):
        new = now.get(old.name)
        if new is None or old.name in weakened or old.kind != "vs_baseline" or old.reference is None \
                or not old.reference_run_id or old.reference_run_id == new.reference_run_id:
            continue
        lower = new.reference < old.reference - 1e-9 * max(1.0, abs(old.reference))
        higher = new.reference > old.reference + 1e-9 * max(1.0, abs(old.reference))
        if not (lower if new.op in (">=", ">") else higher):
            continue
        then, current = rule(old.reference_run_id), rule(new.reference_run_id)
        if then is None or current is None or then[1] != current[1]:
            continue
        texts = (f"; its rule then: {then[0]}; now: {current[0]}" if then[0] and current[0] and then[0] != current[0]
                 else "")
        weakened[old.name] = (
            f"today's rule, the reference of gate '{old.name}', scores less than when that gate {held}: "
            f"{new.metric} {_fmt(old.reference)} then, {_fmt(new.reference)} now, on the same split{texts}: a "
            "reference weakened once a candidate failed against it makes any candidate look better, and a reviewer "
            "weighs the outcome knowing it (README, \"Eased gates\")")
    return list(weakened.values())


def _evaluate_evidence(store: Store, run: Any) -> dict[str, Any]:
    """The evaluate run's leakage findings, shift metrics and shift columns."""
    import json

    def artifact(path: str) -> Any:
        try:
            text = store.download_text(run.info.run_id, path)
            return None if text is None else json.loads(text)
        except Exception:  # noqa: BLE001 - absent or unreadable: the gates say what is missing
            return None

    leaks = artifact("leakage/findings.json")
    shifted = artifact("shift/columns.json") or {}
    return {"evaluate_metrics": dict(run.data.metrics),
            "leakage_findings": None if not isinstance(leaks, dict) else tuple(leaks.get("findings") or ()),
            "shift_columns": tuple(shifted.get("columns") or ()),
            "champion_unpaired": run.data.tags.get(TAG["champion_unpaired"])}


def _comparisons(store: Store, run_id: str) -> dict[str, Any]:
    """The paired comparisons a candidate run logged (``compare/<reference>.json``)."""
    import json

    out: dict[str, Any] = {}
    for ref in ("baseline", "champion"):
        text = store.download_text(run_id, f"compare/{ref}.json")
        if text:
            try:
                out[ref] = json.loads(text)
            except ValueError:
                continue  # unreadable: the gates fall back to the logged metrics, and say so
    return out


# -- promote ------------------------------------------------------------------------------------


def _judge(charter: Charter, store: Store, ev: Evidence) -> tuple[list[dict[str, Any]] | None,
                                                                   tuple[GateResult, ...]]:
    """(the leakage findings judged, every gate's result) for the candidate ``ev`` holds."""
    from ..measure.leakage import near_perfect  # pandas with it, which the CLI's other paths need not load

    # the evaluate run's findings and one on the judged candidate's own score (None: not checked, whatever
    # the score): the gate judges them, the record keeps them
    scored = near_perfect(ev.task_kind, ev.candidate, ev.candidate_metrics, step=ev.target_step)
    judged = None if ev.leakage_findings is None else [
        *(dict(f) for f in ev.leakage_findings), *([scored.to_dict()] if scored else [])]
    gates = (*evaluate_gates(with_sample_size(charter.gates), ev),
             production_plan_gate(charter.production, charter.owner),
             leakage_gate(judged, charter.leakage.acknowledged, run_id=ev.evaluate_run_id,
                          eval_set=charter.eval_set is not None))
    if charter.eval_set is not None:  # a gate on an LLM judge's score counts only once people agree with it
        from .judge_gate import guard_judge_gates

        gates = guard_judge_gates(gates, charter, store, ev.candidate)
    return judged, gates


# gates every candidate of a pilot run meets alike: they do not tell one candidate from another
_SHARED_GATES = frozenset({"production_plan"})
# a finding on the data, which a candidate's near-perfect score may be the only one to give away:
# a weaker candidate that cannot use the leak is no way around it
_DATA_GATES = frozenset({"leakage"})


def _own_failures(gates: Sequence[GateResult]) -> list[GateResult]:
    return [g for g in gates if not g.passed and g.kind not in _SHARED_GATES]


def _passing_candidate(charter: Charter, store: Store, pilot_run: Any, ev: Evidence,
                       judged: list[dict[str, Any]] | None, gates: tuple[GateResult, ...],
                       ) -> tuple[Evidence, list[dict[str, Any]] | None, tuple[GateResult, ...], str | None]:
    """The best candidate on the primary metric is judged, unless it fails a gate of its own and
    another passes all of theirs: then the best of those that pass is (with why, for the notes).

    A point value a hair above another's chose the candidate; when that one fails a gate (a
    gradient-boosted model's probabilities worse than the prior's, while a logistic regression
    scoring 0.007 less passes everything), a NO-GO or NO BETTER would judge the wrong candidate.
    Every candidate's comparisons are made on intervals widened for all of them (``looks``), so
    taking any one that passes keeps the chance of a false GO where the widening put it. A leak
    is no candidate's own failure: a candidate ranked above that fails the leakage gate (its
    near-perfect score gives the features away) keeps the judgement on the best one."""
    named = charter.promotion.candidate if charter.promotion else None
    top_failures = _own_failures(gates)
    if (named is not None or len(ev.candidates) < 2 or not top_failures
            or any(g.kind in _DATA_GATES for g in top_failures)):
        return ev, judged, gates, None
    primary = charter.primary_metric
    layout = pilot_layout(charter, store, pilot_run)  # read once for every candidate judged in turn
    metrics = {n: r.data.metrics for n, r in layout.candidates.items()}
    for name in rank_candidates(metrics, primary, higher=higher_is_better(primary, charter.gates)):
        if name == ev.candidate:
            continue
        other = gather_evidence(charter, store, pilot_run, candidate=name, layout=layout)
        other_judged, other_gates = _judge(charter, store, other)
        failures = _own_failures(other_gates)
        if any(g.kind in _DATA_GATES for g in failures):  # a leak one of those ranked above it gave away
            break
        if not failures:
            top = _num(ev.candidate_metrics, primary)
            why = (f"the best on {primary} of those that pass their own gates: '{ev.candidate}' scored "
                   f"{_fmt(top) if top is not None else 'higher'} but failed {', '.join(g.name for g in top_failures)}")
            return other, other_judged, other_gates, why
    return ev, judged, gates, None


def _decide(charter: Charter, store: Store, pilot_run_id: str | None, *, actor: str | None, dry_run: bool,
            allow_rolled_back: bool, reason: str | None) -> tuple[Decision, Evidence, Any]:
    """Gather the evidence and judge it: the decision (not yet recorded), the evidence, and
    the existing model version the candidate matches (None: a new version on GO)."""
    model_name, alias = registry.target(charter)
    pilot_run = find_pilot_run(charter, store, pilot_run_id)
    ev = gather_evidence(charter, store, pilot_run)
    judged, gates = _judge(charter, store, ev)
    ev, judged, gates, passed_over = _passing_candidate(charter, store, pilot_run, ev, judged, gates)
    passed = all(g.passed for g in gates)
    drafted = drafted_values(charter)  # reported whatever the gates say; only a GO is held back by them
    notes: list[str] = []
    if drafted:
        notes.append(f"{len(drafted)} drafted value(s) stand for judgements nobody confirmed: "
                     + how_to_confirm(charter.path))
    if ev.champion_version is None:
        notes.append(f"no champion yet: {model_name}@{alias} is unset")
    if ev.looks > 1:
        chosen = (f" chosen from {', '.join(ev.candidates)}"
                  + (" (named in the charter);" if charter.promotion and charter.promotion.candidate
                     else f" ({passed_over});" if passed_over
                     else f" (best {charter.primary_metric});") if len(ev.candidates) > 1 else "")
        notes.append(f"candidate '{ev.candidate}'{chosen} judged against today's rule and the champion on "
                     f"{stats.confidence_text(stats.confidence_among(ev.looks))} intervals, not 95 %, "
                     f"as one of {ev.looks} candidates scored on "
                     f"{'held-out rows of these tables' if ev.other_splits else 'the same rows'}"
                     f"{stats.other_runs_text(len(ev.candidates), ev.earlier_configurations, ev.other_splits)} "
                     "(README, \"Several candidates\")")
    notes += _error_notes(ev, charter.gates)
    try:
        earlier = registry.history(charter, store)
    except PromotionError:  # an unreadable record: `workbench audit` reports it; the notes go without
        earlier = []
    notes += _eased_notes(earlier, gates, ev.fingerprints)
    notes += _weakened_rule_notes(store, earlier, gates, ev.fingerprints)
    existing = registry.matching_version(store, model_name, ev.model_id, ev.lineage) if passed and not drafted \
        else None
    allowed_rolled_back = None
    if passed and (existing is None or str(existing.version) != ev.champion_version):
        demoted_by = registry.rolled_back_by(existing) if existing is not None else None
        what = f"version {existing.version} (this candidate's model)" if existing is not None else ""
        if not demoted_by:  # the records remember it even when the version or its tag went behind our back
            found = registry.demoted_in_records(charter, store, model_name, model_id=ev.model_id,
                                                lineage=ev.lineage, run_id=ev.candidate_run_id)
            if found is not None:
                demoted_by = found[0]
                what = (f"this candidate's model (version {found[1]}"
                        + (", since deleted from the registry)" if existing is None else ")"))
        if demoted_by:  # rollback sticks: this very model was demoted; only a person may bring it back
            gates = gates + (GateResult(
                name="not rolled back", kind="rollback", passed=allow_rolled_back, run_id=ev.candidate_run_id,
                reason=(f"{what} was rolled back by decision run "
                        f"{demoted_by}; "
                        + (f"promoted again on purpose (--allow-rolled-back): {reason}" if allow_rolled_back
                           else "a pilot does not bring it back: promote a new version, or run `workbench promote "
                           "--allow-rolled-back --reason \"...\"`"))),)
            passed = allow_rolled_back
            allowed_rolled_back = demoted_by if allow_rolled_back else None
            if not passed:
                existing = None
    if passed and drafted:
        outcome = DRAFT  # every result shown, nothing registered: a guess is not a decision
    elif passed:
        if ev.model_id is None:
            if not dry_run:
                raise PromotionError(f"candidate '{ev.candidate}' passed every gate but its run "
                                     f"{ev.candidate_run_id} has no logged model", hint="log it from the evaluate "
                                     "notebook with `c.log_model(model, 'model', input_example=...)`")
            notes.append("the candidate run has no logged model: a real promotion would fail")
        outcome = ALREADY if existing is not None and str(existing.version) == ev.champion_version else GO
    else:
        outcome = outcome_of_gates(gates)
        outcome = NO_GO if outcome == GO else outcome  # a rolled-back refusal
    version = str(existing.version) if existing is not None else None
    # a version of the same lineage (same code, data and parameters, trained again, e.g. by `run --force`)
    # holds the model of an earlier run: the record names the model the version holds, as the audit checks,
    # and keeps this run's own model as evidence
    model_id = registry.version_model(existing) or ev.model_id if existing is not None else ev.model_id
    retrained = {"candidate_model_id": ev.model_id} if ev.model_id and model_id != ev.model_id else {}
    if retrained:
        notes.append(f"version {version} holds the model of an earlier run of '{ev.candidate}' with the same code, "
                     f"data and parameters ({model_id}); this run's own model ({ev.model_id}) is not registered")
    if outcome in (GO, ALREADY):
        notes += _constant_rule_note(ev, charter.gates, eval_set=charter.eval_set is not None)
    if passed:
        notes += _unlabelled_note(ev, charter.task.target if charter.task else None)
    if outcome == GO:
        notes += _not_better_notes(gates, charter.gates, ev.champion_version)
    if outcome == GO and not dry_run:
        after = version  # the intent, in the pending record (None: a new version, numbered when registered)
    else:
        after = ev.champion_version
    decision = Decision(
        outcome=outcome, pilot=charter.name, model_name=model_name, alias=alias, actor=registry.actor_name(actor),
        timestamp=registry.now(), gates=gates, pilot_run_id=ev.pilot_run_id, candidate=ev.candidate,
        candidate_run_id=ev.candidate_run_id, model_id=model_id,
        model_version=version if passed and not drafted else ev.champion_version,
        alias_before=ev.champion_version, alias_after=after, dry_run=dry_run,
        evidence={"pilot": ev.pilot_run_id, "candidate": ev.candidate_run_id, "evaluate": ev.evaluate_run_id,
                  "baseline": ev.baseline_run_id, "contracts": ev.contracts_run_id,
                  "champion": ev.champion_run_id, "champion_version": ev.champion_version,
                  "candidates": dict(ev.candidates),
                  **({"candidate_cached_from": ev.candidate_cached_from} if ev.candidate_cached_from else {}),
                  **({"earlier_configurations": ev.earlier_configurations} if ev.earlier_configurations else {}),
                  **({"other_splits": ev.other_splits} if ev.other_splits else {}),
                  **({"passed_over": passed_over} if passed_over else {}),
                  **retrained,
                  **({"allowed_rolled_back": allowed_rolled_back} if allowed_rolled_back else {})},
        fingerprints=dict(ev.fingerprints), contract_versions=dict(ev.contract_versions), git_commit=ev.git_commit,
        environment=dict(ev.environment), notes=tuple(notes), reason=reason if allowed_rolled_back else None,
        leakage={"run_id": ev.evaluate_run_id,
                 "findings": judged,
                 "acknowledged": {k: v for k, v in charter.leakage.acknowledged.items()}},
        drafted=tuple(v.to_dict() for v in drafted), confirmed=tuple(c.model_dump() for c in charter.confirmed),
        llm_endpoints=tuple(dict(e) for e in ev.llm_endpoints),
    )
    if dry_run and outcome == GO:
        decision = replace(decision, notes=decision.notes + (
            "would " + (f"reuse version {existing.version}" if existing is not None else "register a new version")
            + f" and move {model_name}@{alias} to it",))
    return decision, ev, existing


def promote(charter: Charter, store: Store, pilot_run_id: str | None = None, *, dry_run: bool = False,
            actor: str | None = None, allow_rolled_back: bool = False, reason: str | None = None,
            acknowledge: str | None = None, say: Callable[[str], None] | None = None) -> Decision:
    """Evaluate the gates on a pilot run; on a pass register the candidate and move the alias.

    Serialised by the store's promotion lock (a concurrent promoter waits, then sees the
    registry as this one left it) and refused while another process holds the pilot lock.
    Unfinished decisions are reconciled first, then the audit runs: a broken trail refuses
    unless ``acknowledge`` gives a reason (recorded with the problems' keys).
    ``allow_rolled_back`` (with ``reason``) lets a rolled-back version be promoted again.

    Returns the Decision (``.exit_code`` 0 or 3); raises PromotionError when the evidence
    cannot be gathered or the registry cannot be updated, AuditError on a broken trail,
    StoreLockedError when a pilot or an ingest holds the store."""
    model_name, alias = registry.target(charter)
    if not charter.gates:
        raise PromotionError("the charter declares no gates: a promotion without gates would pass on nothing",
                             where=f"{charter.path}: gates",
                             hint="add gates, e.g. "
                             "`- {kind: threshold, metric: quality.roc_auc, op: '>=', value: 0.7}`")
    if allow_rolled_back and not (reason or "").strip():
        raise PromotionError("--allow-rolled-back needs a reason", where="--reason",
                             hint="say why the rolled-back version may come back: "
                             "`workbench promote --allow-rolled-back --reason \"...\"` (it is recorded)")
    if dry_run:
        return _decide(charter, store, pilot_run_id, actor=actor, dry_run=True,
                       allow_rolled_back=allow_rolled_back, reason=reason)[0]

    what = f"promote {model_name}@{alias}"
    # SIGTERM is an interrupt from the first lock on (reconciling included), as Ctrl-C is
    with locks.sigterm_as_interrupt(), locks.promotion_lock(store, what=what, say=say), \
            locks.pilot_lock(store, what=what, say=say):
        settled = registry.reconcile(charter, store)
        report = registry.audit(charter, store)
        acknowledged: dict[str, Any] = {}
        if not report.ok:
            if not (acknowledge or "").strip():
                raise report.error()
            acknowledged = {"reason": acknowledge, "problems": [p.key for p in report.errors]}
        decision, ev, existing = _decide(charter, store, pilot_run_id, actor=actor, dry_run=False,
                                         allow_rolled_back=allow_rolled_back, reason=reason)
        notes = [f"reconciled an unfinished decision: {line}" for line in settled]
        if acknowledged:
            notes.append(f"acknowledged {len(acknowledged['problems'])} audit problem(s) "
                         f"({'; '.join(p.what for p in report.errors[:3])}): {acknowledge}")
        elif acknowledge:
            notes.append("--acknowledge was given, but the audit found nothing to acknowledge")
        if existing is not None and decision.outcome == GO and "candidate_model_id" not in decision.evidence:
            notes.append(f"reused version {existing.version} (same model as this candidate); no new version")
        decision = replace(decision, notes=decision.notes + tuple(notes), acknowledged=acknowledged)

        def move(d: Decision) -> Decision:
            if existing is not None:
                version = str(existing.version)
            else:
                made = registry.register(store, model_name, model_id=ev.model_id, run_id=ev.candidate_run_id, tags={
                    T_DECISION_RUN: d.decision_run_id, T_PILOT_RUN: ev.pilot_run_id, T_CANDIDATE: ev.candidate,
                    T_SOURCE_RUN: ev.candidate_run_id, T_MODEL_ID: ev.model_id, T_LINEAGE: ev.lineage or ""},
                    description=registry.model_description(charter))
                version = str(made.version)
                registry._checkpoint("version_registered")
                d = registry.write_record(store, replace(d, model_version=version, alias_after=version,
                                                         new_version=True))
            registry._checkpoint("before_alias")
            store.client.set_registered_model_alias(model_name, alias, version)
            return replace(d, model_version=version, alias_after=version)

        try:
            return registry.commit(charter, store, decision, head=report.head,
                                   apply=move if decision.outcome == GO else None)
        except WorkbenchError:
            raise
        except Exception as exc:  # noqa: BLE001 - registry/store failures, wrapped at the boundary
            raise PromotionError(f"could not update the model registry for {model_name}@{alias}: {exc}",
                                 where=store.tracking_uri,
                                 hint="the decision record was settled against the registry (completed if the "
                                 "alias moved, else aborted): `workbench audit` shows where things stand") from exc
