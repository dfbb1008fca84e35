"""The model registry and its decision records: a hash-chained, reconcilable audit trail.

A *decision record* is ``decision/decision.json`` on a run tagged ``workbench.kind=decision``
in the pilot's experiment (plus a copy on the pilot run and tags on the model version).
This module owns everything that writes or checks them:

- **A transaction around every alias move** (:func:`commit`). The record is written
  ``pending`` (saying which version the alias is meant to point at) before the registry
  changes, and ``completed`` after. An exception or an interrupt (Ctrl-C, SIGTERM) in
  between settles the record against the registry at once: completed if the alias did
  move, ``aborted`` if it did not. A process killed outright (or interrupted again while
  settling) leaves the decision unfinished; :func:`reconcile` finds it (pending record,
  RUNNING run, record and tags disagreeing) and settles it the same way at the next
  ``promote``, ``rollback`` or pilot run (under the promotion lock, so a live promotion is
  never touched). Every point of the transaction is named (``FAULT_POINTS``), so tests
  can interrupt it at each one (:func:`_checkpoint`, ``$WORKBENCH_FAULT_AT``).
- **A hash chain per model.** Each record carries ``seq``, ``prev_sha256`` (the hash of
  the record before it) and ``sha256`` (of its own canonical JSON, without that field);
  the hash is also a tag on its run.
- **An audit** (:func:`audit`): the chain is intact; every alias move in the registry
  matches a record (each record starts where the one before it left the alias, and the
  alias is where the newest one left it); every version's ``workbench.decision_run`` tag
  names a record; every record's evidence runs exist and its table fingerprints match
  its pilot run. Problems have stable keys; a later record may *acknowledge* them
  (``workbench promote --acknowledge "reason"``), after which they are reported but no
  longer fail the audit.
- **Rollback sticks.** :func:`rollback` tags the version it rolls back
  (``workbench.rolled_back``); promotion refuses to move the alias back to such a version
  unless a new version passes the gates or the promotion is explicitly allowed with a
  reason (recorded).

What the chain does not give: someone able to rewrite the whole store (database and
artifacts) can write a consistent forged chain, and the newest record can be deleted
without trace if it moved nothing. :func:`audit` reports the head hash: keep it
elsewhere (a ticket, a commit message) to anchor the chain.
"""

from __future__ import annotations

import re

import contextlib
import getpass
import hashlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from ..store import locks
from ..charter.config import Charter
from ..errors import EXIT_DRAFT, EXIT_NO_GO, EXIT_OK, AuditError, PromotionError
from ..store.tracking import FAILED, FINGERPRINT_TAG, FINISHED, KILLED, TAG, Store, tags_under, ui_path

__all__ = [
    "GateResult",
    "Decision",
    "DecisionRecord",
    "llm_endpoint_line",
    "AuditProblem",
    "AuditReport",
    "DECISION_ARTIFACT",
    "GO",
    "NO_GO",
    "NO_BETTER",
    "ALREADY",
    "ROLLBACK",
    "DRAFT",
    "PENDING",
    "COMPLETED",
    "ABORTED",
    "champion",
    "history",
    "rollback",
    "reconcile",
    "audit",
    "commit",
    "record_hash",
    "write_record",
    "target",
    "rolled_back_by",
]

DECISION_ARTIFACT = "decision/decision.json"
# drafted values a summary lists (the terminal, the run's note): a 40-column table's all; the record keeps all
DRAFTED_SHOWN = 50
GO, NO_GO, ALREADY, ROLLBACK = "go", "no-go", "already-champion", "rollback"
DRAFT = "draft"  # every gate passed, but drafted values are unconfirmed: nothing moves (exit 7)
NO_BETTER = "no-better"  # a tie: no gate failed outright, but a comparison's interval holds its margin (exit 3)
PENDING, COMPLETED, ABORTED = "pending", "completed", "aborted"
# tags written by promotion (on the pilot run, the decision run and the model version)
T_DECISION = "workbench.decision"
T_DECISION_RUN = "workbench.decision_run"
T_PILOT_RUN = "workbench.pilot_run"
T_MODEL_ID = "workbench.model_id"
T_LINEAGE = "workbench.lineage"
T_CANDIDATE = "workbench.candidate"
T_SOURCE_RUN = "workbench.source_run"
T_STATE = "workbench.state"  # pending | completed | aborted (decision run)
T_SEQ = "workbench.record_seq"
T_SHA = "workbench.record_sha256"
T_MODEL = "workbench.model_name"
T_ROLLED_BACK = "workbench.rolled_back"  # on a model version: the rollback decision run that demoted it


# -- records ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict with what was measured, against what, and from which run."""

    name: str
    kind: str
    passed: bool
    reason: str
    metric: str | None = None
    measured: float | None = None
    op: str | None = None  # how measured is compared with threshold: >=, >, <=, <, ==
    threshold: float | None = None
    reference: float | None = None  # baseline / champion value the threshold derives from
    run_id: str | None = None  # the run the measured value came from
    reference_run_id: str | None = None
    details: tuple[str, ...] = ()
    # a paired comparison's difference (candidate - reference) and its interval, when judged on one
    diff: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    confidence: float | None = None  # the interval's: 0.95, higher for the best of several candidates (None: 0.95)
    tie: bool = False  # failed only because the interval holds the margin: "no better than today", not worse

    def line(self) -> str:
        verdict = "PASS" if self.passed else ("TIE" if self.tie else "FAIL")
        where = f" [run {self.run_id[:8]}]" if self.run_id else ""
        return f"{verdict} {self.name}: {self.reason}{where}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["details"] = list(self.details)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateResult:
        return cls(**{**data, "details": tuple(data.get("details") or ())})


@dataclass(frozen=True)
class Decision:
    """A promotion decision and its record (``DecisionRecord`` is the same type)."""

    outcome: str  # go | no-go | draft | already-champion | rollback
    pilot: str
    model_name: str
    alias: str
    actor: str
    timestamp: str  # ISO 8601, UTC
    gates: tuple[GateResult, ...] = ()
    pilot_run_id: str | None = None
    candidate: str | None = None
    candidate_run_id: str | None = None
    model_id: str | None = None
    model_version: str | None = None  # the version the alias points to after (or would, dry run)
    alias_before: str | None = None
    alias_after: str | None = None
    new_version: bool = False  # a model version was created by this decision
    dry_run: bool = False
    decision_run_id: str | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)  # role -> run id
    fingerprints: Mapping[str, str] = field(default_factory=dict)
    contract_versions: Mapping[str, str] = field(default_factory=dict)
    git_commit: str | None = None
    # what the evidence was computed with: Python, platform, package versions, uv.lock's hash
    # (workbench.store.environment; {} in records made before versions were recorded)
    environment: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    # the audit trail: state of the transaction, place in the per-model hash chain
    state: str = COMPLETED  # pending | completed | aborted
    seq: int | None = None
    prev_sha256: str | None = None
    sha256: str | None = None  # of this record's canonical JSON without this field
    reason: str | None = None  # a person's reason for an override (--allow-rolled-back)
    acknowledged: Mapping[str, Any] = field(default_factory=dict)  # {"reason": ..., "problems": [audit keys]}
    # the leakage checks judged: {"run_id", "findings": [{feature, check, evidence, value}], "acknowledged": {feature: reason}}
    leakage: Mapping[str, Any] = field(default_factory=dict)
    # drafted values left unconfirmed at decision time ({file, line, key, text, why}), and the
    # charter's log of confirmed ones ({key, file, text, by, at}): workbench/charter/drafted.py
    drafted: tuple[Mapping[str, Any], ...] = ()
    confirmed: tuple[Mapping[str, Any], ...] = ()
    # every LLM endpoint candidate judged: {candidate, run_id, endpoint, model, reported_model,
    # system_fingerprint, allow_personal_data} from its run's llm.* params (promotion.llm_endpoints)
    llm_endpoints: tuple[Mapping[str, Any], ...] = ()

    @property
    def passed(self) -> bool:
        return self.outcome not in (NO_GO, DRAFT, NO_BETTER)

    @property
    def failing(self) -> tuple[GateResult, ...]:
        return tuple(g for g in self.gates if not g.passed)

    @property
    def exit_code(self) -> int:
        return (EXIT_NO_GO if self.outcome in (NO_GO, NO_BETTER) else EXIT_DRAFT if self.outcome == DRAFT
                else EXIT_OK)

    def summary(self) -> str:
        """A few lines for a person: the outcome, the alias, and each failing gate's values."""
        dry = " (dry run: nothing registered, alias not moved)" if self.dry_run else ""
        target = f"{self.model_name}@{self.alias}"
        if self.outcome == GO:
            head = (f"GO: candidate '{self.candidate}' passed {len(self.gates)} gate(s); "
                    f"{target} -> version {self.model_version}"
                    + (f" (was {self.alias_before})" if self.alias_before else " (first champion)"))
        elif self.outcome == ALREADY:
            head = (f"ALREADY CHAMPION: candidate '{self.candidate}' passed {len(self.gates)} gate(s) and "
                    f"{target} already points at version {self.model_version}; nothing moved")
        elif self.outcome == ROLLBACK:
            head = f"ROLLBACK: {target} moved from version {self.alias_before} back to {self.alias_after}"
        elif self.outcome == DRAFT:
            head = (f"DRAFT: candidate '{self.candidate}' passed {len(self.gates)} gate(s), but {len(self.drafted)} "
                    f"value(s) are drafted, not decided; {target} stays at "
                    + (f"version {self.alias_before}" if self.alias_before else "no version"))
        elif self.outcome == NO_BETTER:
            head = (f"NO BETTER THAN TODAY: candidate '{self.candidate}' is not shown better than its reference "
                    f"by the margin ({len(self.failing)} comparison(s) inside their interval); {target} stays at "
                    + (f"version {self.alias_before}" if self.alias_before else "no version"))
        else:
            head = (f"NO-GO: candidate '{self.candidate}' failed {len(self.failing)} of {len(self.gates)} "
                    f"gate(s); {target} stays at "
                    + (f"version {self.alias_before}" if self.alias_before else "no version"))
        if self.state != COMPLETED:
            head = f"[{self.state.upper()}] {head}"
        lines = [head + dry]
        lines += ["  " + g.line() for g in self.failing]
        if self.drafted:
            lines.append(f"  drafted, not yet confirmed ({len(self.drafted)}):")
            lines += [f"    {d.get('file')}:{d.get('line')}: {d.get('key')}" + (f" — {d['why']}" if d.get("why") else "")
                      for d in self.drafted[:DRAFTED_SHOWN]]
            if len(self.drafted) > DRAFTED_SHOWN:  # a wide table's contract drafts a range a column: 1,543 lines, twice
                lines.append(f"    ... and {len(self.drafted) - DRAFTED_SHOWN:,} more: the decision record "
                             f"({DECISION_ARTIFACT}, `drafted`) holds every one, and `workbench confirm --pilot "
                             "CHARTER` lists them")
        lines += ["  note: " + n for n in self.notes]
        lines += ["  llm endpoint: " + llm_endpoint_line(e) for e in self.llm_endpoints]
        if self.decision_run_id:
            lines.append(f"  decision record: run {self.decision_run_id} ({DECISION_ARTIFACT})")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["gates"] = [g.to_dict() for g in self.gates]
        d["notes"] = list(self.notes)
        d["exit_code"] = self.exit_code
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        known = {f for f in cls.__dataclass_fields__}
        kw = {k: v for k, v in data.items() if k in known}
        kw["gates"] = tuple(GateResult.from_dict(g) for g in data.get("gates") or ())
        kw["notes"] = tuple(data.get("notes") or ())
        kw["acknowledged"] = dict(data.get("acknowledged") or {})
        kw["leakage"] = dict(data.get("leakage") or {})
        kw["drafted"] = tuple(dict(d) for d in data.get("drafted") or ())
        kw["confirmed"] = tuple(dict(d) for d in data.get("confirmed") or ())
        kw["environment"] = dict(data.get("environment") or {})
        kw["llm_endpoints"] = tuple(dict(e) for e in data.get("llm_endpoints") or ())
        return cls(**kw)


def llm_endpoint_line(e: Mapping[str, Any]) -> str:
    """One LLM candidate's endpoint as the record states it (the summary, the scorecard)."""
    personal = "allowed personal data" if e.get("allow_personal_data") else "personal data withheld"
    return (f"{e.get('candidate')}: {e.get('endpoint')}, model {e.get('model')} "
            f"(reported {e.get('reported_model') or 'not reported'}, system fingerprint "
            f"{e.get('system_fingerprint') or 'not reported'}), {personal}")


DecisionRecord = Decision


def record_hash(data: Mapping[str, Any]) -> str:
    """sha256 of a record's canonical JSON (sorted keys, no whitespace), its ``sha256`` left out."""
    canon = json.loads(json.dumps({k: v for k, v in data.items() if k != "sha256"}, default=str))
    return hashlib.sha256(json.dumps(canon, sort_keys=True, separators=(",", ":"),
                                     ensure_ascii=False).encode()).hexdigest()


# -- fault injection ---------------------------------------------------------------------------


FAULT_ENV = "WORKBENCH_FAULT_AT"  # test hook: "<point>[:raise|SIGINT|SIGTERM|exit]"
FAULT_POINTS = (  # every named point of a promotion's transaction, in order (reconcile: before it)
    "reconcile", "before_record", "run_started", "pending_record_artifact", "after_record", "version_registered",
    "before_alias", "after_alias", "completed_record_artifact", "before_end_run", "settling",
    "aborted_record_artifact",
)


_FIRED: list[str] = []


def _checkpoint(name: str) -> None:
    """A named point of :func:`commit` (see ``FAULT_POINTS``): a deterministic place to
    interrupt a promotion. Tests replace this function in-process, or set
    ``$WORKBENCH_FAULT_AT=<point>:<how>`` for a whole process: ``raise`` (KeyboardInterrupt,
    the default), ``SIGINT`` / ``SIGTERM`` (the process signals itself), ``exit`` (dies at
    once, as if SIGKILLed). Unset, it does nothing."""
    spec = os.environ.get(FAULT_ENV)
    if not spec or _FIRED:
        return
    point, _, how = spec.partition(":")
    if point != name:
        return
    _FIRED.append(name)  # once per process: one signal, as a person sends one
    how = how or "raise"
    if how == "exit":
        os._exit(9)
    if how in ("SIGINT", "SIGTERM"):
        os.kill(os.getpid(), getattr(signal, how))
        return
    raise KeyboardInterrupt(f"injected at {name}")


# -- registry -----------------------------------------------------------------------------------


def target(charter: Charter) -> tuple[str, str]:
    """(model name, alias) of the charter, or a PromotionError when it has no `promotion:`."""
    if charter.promotion is None:
        raise PromotionError("the charter has no `promotion:` section, so there is no model to promote",
                             where=f"{charter.path}: promotion",
                             hint="add `promotion: {model_name: NAME, alias: champion}` to the charter")
    return charter.promotion.model_name, charter.promotion.alias


def champion(charter: Charter, store: Store) -> Any | None:
    """The model version the charter's alias points to, or None."""
    if charter.promotion is None:
        return None
    return _alias_version(store, charter.promotion.model_name, charter.promotion.alias)


def _alias_version(store: Store, model_name: str, alias: str) -> Any | None:
    try:
        return store.client.get_model_version_by_alias(model_name, alias)
    except Exception:  # noqa: BLE001 - no registered model or no alias: no champion yet
        return None


def versions(store: Store, model_name: str) -> list[Any]:
    try:
        return list(store.client.search_model_versions(f"name = '{model_name}'"))
    except Exception:  # noqa: BLE001 - no registered model yet
        return []


def matching_version(store: Store, model_name: str, model_id: str | None, lineage: str | None) -> Any | None:
    """An existing version of the same model: same logged model id, else same lineage."""
    found = sorted(versions(store, model_name), key=lambda v: int(v.version), reverse=True)
    for v in found:
        if model_id and (getattr(v, "model_id", None) == model_id or v.tags.get(T_MODEL_ID) == model_id):
            return v
    for v in found:
        if lineage and v.tags.get(T_LINEAGE) == lineage:
            return v
    return None


def model_description(charter: Any) -> str:
    """The registered model's description: the pilot's question and who answers for it."""
    return (f"**Pilot:** {charter.name}\n\n**Question:** {charter.question}\n\n**Owner:** {charter.owner}\n\n"
            f"**Primary metric:** {charter.primary_metric}\n\nEvery alias move has a decision record "
            f"(`workbench history --pilot {charter.path}`; `workbench audit` verifies them).")


def version_description(decision: Decision, experiment_id: str) -> str:
    """A model version's description: the decision that moved the alias to it, with links to
    the decision record and the scorecard. The links are relative to the MLflow UI
    (``#/experiments/...``), so they work on whatever host and port serve it."""
    passed = sum(1 for g in decision.gates if g.passed)
    verdict = "rolled back to" if decision.outcome == ROLLBACK else f"{decision.outcome.upper()} on {passed}/{len(decision.gates)} gates"

    def link(text: str, run_id: str | None, artifact: str | None = None) -> str:
        return f"[{text}]({ui_path(experiment_id, run_id, artifact)}) (run `{run_id}`)"

    lines = [f"**{verdict}** by {decision.actor} at {decision.timestamp}: {decision.model_name}@{decision.alias} -> "
             f"version {decision.model_version}.",
             f"**Decision record:** {link('decision.json', decision.decision_run_id, DECISION_ARTIFACT)}."]
    if decision.pilot_run_id and decision.outcome != ROLLBACK:
        lines.append(f"**Scorecard:** {link('scorecard', decision.pilot_run_id, 'scorecard/scorecard.html')}, "
                     "of the pilot run.")
    if decision.candidate:
        lines.append(f"**Candidate:** {link(decision.candidate, decision.candidate_run_id)}.")
    return "\n\n".join(lines)


def register(store: Store, model_name: str, *, model_id: str, run_id: str | None, tags: Mapping[str, Any],
             description: str | None = None) -> Any:
    client = store.client
    store.activate()  # the registry resolves `models:/<id>` through mlflow's global tracking URI
    try:
        model = client.get_registered_model(model_name)
        if description and not model.description:
            client.update_registered_model(model_name, description=description)
    except Exception:  # noqa: BLE001 - absent: create it
        client.create_registered_model(model_name, description=description)
    return client.create_model_version(model_name, source=f"models:/{model_id}", run_id=run_id, model_id=model_id,
                                       tags={k: str(v) for k, v in tags.items() if v}, await_creation_for=0)


def rolled_back_by(version: Any) -> str | None:
    """The rollback decision run that demoted this version, if it was rolled back."""
    return (getattr(version, "tags", None) or {}).get(T_ROLLED_BACK) or None


def demoted_in_records(charter: Charter, store: Store, model_name: str, *, model_id: str | None,
                       lineage: str | None, run_id: str | None) -> tuple[str, str | None] | None:
    """(rollback decision run, version it demoted) when the decision records say this model
    (same logged model id, lineage or candidate run) was rolled back and no later decision
    brought it back on purpose; else None. Read from the records, not the registry, so a
    version deleted (or its tag removed) behind the workbench's back still counts."""
    done = sorted((r.decision for r in _load(charter, store, model_name)
                   if r.decision is not None and r.decision.state == COMPLETED and not r.decision.dry_run),
                  key=lambda d: d.timestamp)
    demoted: dict[str, tuple[str | None, str | None, str | None, str | None]] = {}
    for d in done:
        ev = d.evidence or {}
        if d.outcome == ROLLBACK and d.decision_run_id:
            demoted[d.decision_run_id] = (ev.get("rolled_back_version"), ev.get("rolled_back_model_id"),
                                          ev.get("rolled_back_lineage"), ev.get("rolled_back_run"))
        elif d.outcome == GO and ev.get("allowed_rolled_back"):
            demoted.pop(ev["allowed_rolled_back"], None)
    for by, (version, mid, lin, run) in reversed(list(demoted.items())):
        if (model_id and mid == model_id) or (lineage and lin == lineage) or (run_id and run == run_id):
            return by, version
    return None


def version_model(version: Any) -> str | None:
    return getattr(version, "model_id", None) or (getattr(version, "tags", None) or {}).get(T_MODEL_ID) or None


# -- writing records --------------------------------------------------------------------------


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def actor_name(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (containers): say so rather than fail
        return "unknown"


def _start_decision_run(charter: Charter, store: Store, decision: Decision) -> str:
    tags = {TAG["kind"]: "decision", TAG["pilot"]: charter.name, T_DECISION: decision.outcome,
            T_MODEL: decision.model_name, T_STATE: PENDING}
    if decision.pilot_run_id:
        tags[T_PILOT_RUN] = decision.pilot_run_id
    name = f"decision {decision.outcome} {time.strftime('%Y-%m-%d %H:%M:%S')}"
    # nested under the pilot run it judged, so the MLflow UI shows it with the steps
    parent = decision.pilot_run_id if decision.outcome != ROLLBACK else None
    return store.start_run(charter.name, name, tags=tags, parent=parent).run_id


def gate_metric(name: str) -> str:
    """``gate.<name>.passed``: a gate's verdict as a metric named by the gate."""
    return "gate." + re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") + ".passed"


def write_record(store: Store, decision: Decision) -> Decision:
    """Write the record (with its hash) on its decision run: the artifact, then its tags."""
    run_id = decision.decision_run_id
    assert run_id is not None
    data = decision.to_dict()
    data["sha256"] = None
    sha = record_hash(data)
    decision = replace(decision, sha256=sha)
    data["sha256"] = sha
    with locks.signals_blocked():
        store.log_dict(run_id, data, DECISION_ARTIFACT)
        _checkpoint(f"{decision.state}_record_artifact")
        store.set_tags(run_id, {
            T_DECISION: decision.outcome, T_STATE: decision.state, T_SEQ: decision.seq or "", T_SHA: sha,
            T_MODEL: decision.model_name, "workbench.actor": decision.actor, "workbench.alias": decision.alias,
            "workbench.alias_before": decision.alias_before or "", "workbench.alias_after": decision.alias_after or "",
            "workbench.model_version": decision.model_version or "", T_CANDIDATE: decision.candidate or "",
            "mlflow.note.content": decision.summary(),
        })
    return decision


def _complete(store: Store, decision: Decision) -> Decision:
    """Mark the record completed and write its copies: pilot run, model version tags."""
    decision = replace(decision, state=COMPLETED)
    run_id = decision.decision_run_id
    with locks.signals_blocked():
        decision = write_record(store, decision)
        metrics = {gate_metric(g.name): float(g.passed) for g in decision.gates}
        metrics["gates.failed"] = float(len(decision.failing))
        store.log_metrics(run_id, metrics)
        if decision.pilot_run_id and decision.outcome != ROLLBACK:
            with contextlib.suppress(Exception):  # a deleted pilot run: the audit reports the evidence
                store.log_dict(decision.pilot_run_id, decision.to_dict(), DECISION_ARTIFACT)
                store.set_tags(decision.pilot_run_id, {T_DECISION: decision.outcome, T_DECISION_RUN: run_id})
        client = store.client
        if decision.model_version and decision.outcome in (GO, ROLLBACK):
            client.set_model_version_tag(decision.model_name, decision.model_version, T_DECISION_RUN, run_id)
            with contextlib.suppress(Exception):  # a description is a courtesy: never fail a decision on it
                experiment_id = store.get_run(run_id).info.experiment_id
                client.update_model_version(decision.model_name, decision.model_version,
                                            description=version_description(decision, experiment_id))
        if decision.outcome == GO and decision.evidence.get("allowed_rolled_back"):
            with contextlib.suppress(Exception):
                client.delete_model_version_tag(decision.model_name, decision.model_version, T_ROLLED_BACK)
        if decision.outcome == ROLLBACK and decision.alias_before:
            client.set_model_version_tag(decision.model_name, decision.alias_before, T_ROLLED_BACK, run_id)
        _checkpoint("before_end_run")
        store.end_run(run_id, FINISHED)
    return decision


def _abort(store: Store, decision: Decision, current: str | None, why: str, *, killed: bool) -> Decision:
    decision = replace(decision, state=ABORTED, alias_after=current,
                       notes=decision.notes + (f"aborted: {why}; {decision.model_name}@{decision.alias} is at "
                                               + (f"version {current}" if current else "no version"),))
    with locks.signals_blocked():
        decision = write_record(store, decision)
        store.set_tags(decision.decision_run_id, {TAG["failure"]: f"decision aborted: {why}"})
        store.end_run(decision.decision_run_id, KILLED if killed else FAILED)
    return decision


def commit(charter: Charter, store: Store, decision: Decision, *, head: tuple[int, str | None],
           apply: Callable[[Decision], Decision] | None = None) -> Decision:
    """Record ``decision`` as a transaction: pending record → ``apply`` (registry change,
    alias move) → completed record. On any exception or interrupt the record is settled
    against the registry before it propagates: completed if the alias moved, else aborted.

    Call it under :func:`workbench.store.locks.promotion_lock`; ``head`` is (seq, sha256) of the
    newest record of the model's chain ((0, None) for the first)."""
    with locks.sigterm_as_interrupt():
        return _commit(charter, store, decision, head=head, apply=apply)


def _commit(charter: Charter, store: Store, decision: Decision, *, head: tuple[int, str | None],
            apply: Callable[[Decision], Decision] | None) -> Decision:
    _checkpoint("before_record")
    run_id: str | None = None
    try:
        run_id = _start_decision_run(charter, store, decision)
        _checkpoint("run_started")
        decision = replace(decision, decision_run_id=run_id, state=PENDING, seq=head[0] + 1, prev_sha256=head[1])
        decision = write_record(store, decision)
        _checkpoint("after_record")
        if apply is not None:
            decision = apply(decision)
        _checkpoint("after_alias")
        return _complete(store, decision)
    except BaseException as exc:
        interrupted = not isinstance(exc, Exception)
        # settled by what is stored, not by how far this frame got: a signal may have landed
        # while the record was being written (the pending record there, its tags not yet)
        with locks.signals_blocked(), contextlib.suppress(Exception):
            _checkpoint("settling")
            if run_id is not None:
                _settle(charter, store, run_id, killed=interrupted,
                        why=f"stopped before the record was written: {exc!r}"[:4000])
        raise


def _settle(charter: Charter, store: Store, run_id: str, *, killed: bool,
            why: str = "no decision record was written") -> str:
    """Complete or abort one unfinished decision by what is stored (its record, the
    registry); idempotent, so it can be repeated after it was itself interrupted. One
    line saying what it did."""
    text = store.download_text(run_id, DECISION_ARTIFACT)
    if text is None:
        store.set_tags(run_id, {T_STATE: ABORTED, TAG["failure"]: why})
        store.end_run(run_id, KILLED if killed else FAILED)
        return f"decision run {run_id}: no record had been written; marked aborted"
    decision = Decision.from_dict(json.loads(text))
    run = store.get_run(run_id)
    tags_agree = run.data.tags.get(T_STATE) == decision.state  # (never re-tag a changed record: the audit's to see)
    if decision.state == COMPLETED:  # stopped while completing: finish it (each write is idempotent)
        if run.info.status == "RUNNING" or not tags_agree:
            _complete(store, decision)
            return f"{decision.outcome} decision run {run_id}: completed (its completion had been interrupted)"
        return f"decision run {run_id}: already completed"
    if decision.state == ABORTED:
        if not tags_agree:  # stopped between the aborted record and its tags: the same record, its tags again
            write_record(store, decision)
        if run.info.status == "RUNNING":
            store.end_run(run_id, KILLED if killed else FAILED)
        return f"decision run {run_id}: already aborted"
    current_v = _alias_version(store, decision.model_name, decision.alias)
    current = str(current_v.version) if current_v is not None else None
    intended = decision.alias_after
    if decision.outcome == GO and intended is None:  # interrupted before the new version's number was recorded
        made = [v for v in versions(store, decision.model_name) if v.tags.get(T_DECISION_RUN) == run_id]
        if made:
            intended = str(made[0].version)
            decision = replace(decision, model_version=intended, new_version=True)
    target_ = f"{decision.model_name}@{decision.alias}"
    if decision.outcome in (GO, ROLLBACK):
        if intended is not None and current == intended:
            decision = replace(decision, alias_after=current, notes=decision.notes + (
                f"completed by reconciliation at {now()}: {target_} had moved to version {current}",))
            _complete(store, decision)
            return f"{decision.outcome} decision run {run_id}: completed ({target_} is at version {current})"
        why = (f"interrupted before {target_} moved to version {intended}" if intended
               else "interrupted before the new version was registered")
        if current not in (decision.alias_before, intended):
            why += f" (and the alias points at version {current}, which no record explains)"
        _abort(store, decision, current, why, killed=killed)
        return f"{decision.outcome} decision run {run_id}: aborted ({why})"
    decision = replace(decision, notes=decision.notes + (f"completed by reconciliation at {now()}",))
    _complete(store, decision)
    return f"{decision.outcome} decision run {run_id}: completed (it moves no alias)"


def _unfinished(store: Store, run: Any) -> bool:
    """A decision run whose transaction did not end: still RUNNING, tagged pending, its
    record pending, or its record and its tags disagreeing (a signal between the two)."""
    tags = run.data.tags
    if run.info.status == "RUNNING" or tags.get(T_STATE) in (None, PENDING):
        return True
    text = store.download_text(run.info.run_id, DECISION_ARTIFACT)
    if text is None:
        return False  # stopped before any record, and already marked so
    try:
        state = json.loads(text).get("state", COMPLETED)
    except (ValueError, AttributeError):
        return False  # unreadable: the audit reports it
    return state != tags.get(T_STATE)


def reconcile(charter: Charter, store: Store) -> list[str]:
    """Settle every unfinished decision of the pilot (see :func:`_unfinished`), whatever
    instant its promoter stopped at: completed when the registry shows the move, aborted
    otherwise. Call under the promotion lock (a live promotion is never touched). One
    line each, saying which."""
    _checkpoint("reconcile")
    if store.experiment_id(charter.name, create=False) is None:
        return []
    lines = []
    for run in store.find_runs(charter.name, f"tags.`{TAG['kind']}` = 'decision'", max_results=5000):
        if run.data.tags.get(T_STATE) is None and run.info.status != "RUNNING" \
                and store.download_text(run.info.run_id, DECISION_ARTIFACT) is not None:
            continue  # a record from before the state tags existed
        if _unfinished(store, run):
            with locks.signals_blocked():
                lines.append(_settle(charter, store, run.info.run_id, killed=True))
    return lines


# -- reading records ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Loaded:
    run: Any
    data: dict[str, Any] | None
    decision: Decision | None
    computed: str | None  # hash of the record as stored now
    error: str | None = None

    @property
    def run_id(self) -> str:
        return self.run.info.run_id

    @property
    def chained(self) -> bool:
        return self.decision is not None and self.decision.seq is not None


def _load(charter: Charter, store: Store, model_name: str) -> list[_Loaded]:
    """Every decision run of the model in the pilot's experiment, with its record as stored."""
    if store.experiment_id(charter.name, create=False) is None:
        return []
    out = []
    for run in store.find_runs(charter.name, f"tags.`{TAG['kind']}` = 'decision'", max_results=5000):
        tags = run.data.tags
        if tags.get(T_MODEL) not in (None, model_name):
            continue
        text = store.download_text(run.info.run_id, DECISION_ARTIFACT)
        if text is None:
            if tags.get(T_SEQ) or tags.get(T_SHA):
                out.append(_Loaded(run, None, None, None, "its decision record is missing"))
            continue  # a decision run stopped before its record was written: not a record
        try:
            data = json.loads(text)
            decision = Decision.from_dict(data)
        except (ValueError, TypeError) as exc:
            out.append(_Loaded(run, None, None, None, f"its decision record is unreadable ({exc})"))
            continue
        if decision.model_name != model_name:
            continue
        out.append(_Loaded(run, data, decision, record_hash(data)))
    return out


def _head(loaded: list[_Loaded]) -> tuple[int, str | None]:
    chained = [r for r in loaded if r.chained]
    if not chained:
        return 0, None
    last = max(chained, key=lambda r: r.decision.seq)
    return int(last.decision.seq), last.computed


def history(charter: Charter, store: Store, *, max_results: int = 200) -> list[Decision]:
    """Every completed decision and alias move of the pilot, newest first."""
    if store.experiment_id(charter.name, create=False) is None:
        return []
    runs = store.find_runs(charter.name, f"tags.`{TAG['kind']}` = 'decision' and attributes.status = 'FINISHED'",
                           max_results=max_results)
    out = []
    for run in runs:
        text = store.download_text(run.info.run_id, DECISION_ARTIFACT)
        if text is None:
            continue
        try:
            record = Decision.from_dict(json.loads(text))
        except (ValueError, TypeError) as exc:
            raise PromotionError(f"the decision record of run {run.info.run_id} is unreadable: {exc}",
                                 where=DECISION_ARTIFACT, hint="run `workbench audit` to see what else is wrong") from exc
        if record.state == COMPLETED:
            out.append(record)
    out.sort(key=lambda d: d.timestamp, reverse=True)
    return out


# -- rollback ---------------------------------------------------------------------------------


def _champion_stack(records: list[Decision], current: str | None) -> list[str]:
    """Replay alias moves (oldest first): a go pushes its version, a rollback pops."""
    stack: list[str] = []
    for rec in sorted(records, key=lambda d: d.timestamp):
        if rec.dry_run:
            continue
        if rec.outcome == GO and rec.alias_after and (not stack or stack[-1] != rec.alias_after):
            stack.append(rec.alias_after)
        elif rec.outcome == ROLLBACK and stack:
            stack.pop()
    if current is not None and (not stack or stack[-1] != current):
        stack.append(current)  # moved outside the workbench: treat it as the latest champion
    return stack


def rollback(charter: Charter, store: Store, *, actor: str | None = None,
             say: Callable[[str], None] | None = None) -> Decision:
    """Move the alias back to the previous champion, with its own decision record; the
    version rolled back is marked so that no later promotion moves the alias back to it."""
    model_name, alias = target(charter)
    with locks.sigterm_as_interrupt(), locks.promotion_lock(store, what=f"rollback {model_name}@{alias}", say=say), \
            locks.pilot_lock(store, what=f"rollback {model_name}@{alias}", say=say):
        settled = reconcile(charter, store)
        current = champion(charter, store)
        records = history(charter, store, max_results=5000)
        stack = _champion_stack(records, str(current.version) if current is not None else None)
        if current is None or len(stack) < 2:
            raise PromotionError(
                f"nothing to roll back to: {model_name}@{alias} "
                + ("is unset" if current is None
                   else f"points at version {current.version} and no earlier champion is recorded"),
                hint="`workbench history` lists the decisions; promote a pilot run to set a champion")
        back_to = stack[-2]
        try:
            version = store.client.get_model_version(model_name, back_to)
        except Exception as exc:  # noqa: BLE001
            raise PromotionError(f"the previous champion, version {back_to} of {model_name}, is gone from the "
                                 "registry", hint="promote a pilot run instead") from exc
        decision = Decision(
            outcome=ROLLBACK, pilot=charter.name, model_name=model_name, alias=alias, actor=actor_name(actor),
            timestamp=now(), pilot_run_id=version.tags.get(T_PILOT_RUN), candidate=version.tags.get(T_CANDIDATE),
            candidate_run_id=version.run_id,
            model_id=getattr(version, "model_id", None) or version.tags.get(T_MODEL_ID),
            model_version=back_to, alias_before=str(current.version), alias_after=back_to,
            evidence={"rolled_back_version": str(current.version), "rolled_back_run": current.run_id,
                      "rolled_back_model_id": version_model(current),
                      "rolled_back_lineage": current.tags.get(T_LINEAGE) or None,
                      "restored_run": version.run_id},
            notes=tuple(f"reconciled: {line}" for line in settled)
            + (f"version {current.version} rolled back; version {back_to} is champion again; a pilot will not "
               f"promote version {current.version} again unless forced (`workbench promote --allow-rolled-back "
               "--reason ...`)",),
        )

        def move(d: Decision) -> Decision:
            store.client.set_registered_model_alias(model_name, alias, back_to)
            return d

        head = _head(_load(charter, store, model_name))
        try:
            return commit(charter, store, decision, head=head, apply=move)
        except PromotionError:
            raise
        except Exception as exc:  # noqa: BLE001 - registry/store failures, wrapped at the boundary
            raise PromotionError(f"could not move {model_name}@{alias} back to version {back_to}: {exc}",
                                 where=store.tracking_uri,
                                 hint="`workbench audit` says where the alias and the records stand") from exc


# -- audit ------------------------------------------------------------------------------------

ERROR, WARNING, ACKNOWLEDGED = "error", "warning", "acknowledged"


@dataclass(frozen=True)
class AuditProblem:
    key: str  # stable: the same problem has the same key at every audit (what --acknowledge records)
    what: str
    severity: str = ERROR  # error | warning | acknowledged

    def line(self) -> str:
        return f"{self.severity.upper()}: {self.what}"


@dataclass(frozen=True)
class AuditReport:
    pilot: str
    model_name: str
    alias: str
    records: int  # decision records found (chained + from before the chain)
    chained: int
    head_seq: int
    head_sha256: str | None
    champion: str | None
    problems: tuple[AuditProblem, ...] = ()

    @property
    def errors(self) -> tuple[AuditProblem, ...]:
        return tuple(p for p in self.problems if p.severity == ERROR)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def head(self) -> tuple[int, str | None]:
        return self.head_seq, self.head_sha256

    def summary(self) -> str:
        target = f"{self.model_name}@{self.alias}"
        lines = [(f"AUDIT OK: {target}" if self.ok else f"AUDIT FAILED: {len(self.errors)} problem(s) with {target}")
                 + f" — {self.records} record(s), {self.chained} chained; alias at "
                 + (f"version {self.champion}" if self.champion else "no version")]
        if self.head_sha256:
            lines.append(f"  chain head: record {self.head_seq}, sha256 {self.head_sha256} (keep it elsewhere to "
                         "anchor the chain)")
        lines += ["  " + p.line() for p in self.problems]
        return "\n".join(lines)

    def error(self) -> AuditError:
        return AuditError(
            f"the audit trail of {self.model_name}@{self.alias} is broken: "
            + "; ".join(p.what for p in self.errors[:5]) + (" ..." if len(self.errors) > 5 else ""),
            where=f"pilot {self.pilot}",
            hint="`workbench audit` lists every problem; find out who changed what, then run `workbench promote "
            "--acknowledge \"<reason>\"` (with `--run <pilot run id>` for a pilot that stopped here) to record that "
            "you did; the problems stay listed as acknowledged")


_RUN_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")


def _run_index(store: Store, charter: Charter, run_ids: Iterable[str | None]) -> dict[str, Any]:
    """The active runs among ``run_ids``, by id: read by id, 100 at a time, not the whole
    experiment (every promotion audits; a project's history only grows). An id that is not a
    run id is not looked up here: :func:`_run_state` says it is gone."""
    exp = store.experiment_id(charter.name, create=False)
    ids = sorted({i for i in run_ids if i and _RUN_ID.fullmatch(i)})
    if exp is None or not ids:
        return {}
    out: dict[str, Any] = {}
    for start in range(0, len(ids), 100):
        chunk = ids[start:start + 100]
        found = store.client.search_runs([exp], filter_string=f"attributes.run_id IN ({', '.join(repr(i) for i in chunk)})",
                                         max_results=len(chunk))
        out.update((r.info.run_id, r) for r in found)
    return out


def _run_state(store: Store, index: dict[str, Any], run_id: str) -> str | None:
    """None when the run exists; else why not ("gone", "deleted")."""
    if run_id in index:
        return None
    try:
        run = store.get_run(run_id)
    except Exception:  # noqa: BLE001 - mlflow's own exception type
        return "gone"
    return "deleted" if run.info.lifecycle_stage == "deleted" else None


def audit(charter: Charter, store: Store) -> AuditReport:
    """Check the pilot model's decision trail against itself and the registry (reads only)."""
    model_name, alias = target(charter)
    loaded = _load(charter, store, model_name)
    problems: list[AuditProblem] = []

    def problem(key: str, what: str, severity: str = ERROR) -> None:
        problems.append(AuditProblem(key, what, severity))

    for r in loaded:
        if r.error:
            problem(f"record:{r.run_id}", f"decision run {r.run_id}: {r.error}")
    records = [r for r in loaded if r.decision is not None]
    chained = sorted((r for r in records if r.chained), key=lambda r: (r.decision.seq, r.decision.timestamp))
    legacy = sorted((r for r in records if not r.chained), key=lambda r: r.decision.timestamp)

    # 1. the chain
    prev: _Loaded | None = None
    for r in chained:
        d = r.decision
        where = f"record {d.seq} (run {r.run_id})"
        if d.sha256 != r.computed:
            problem(f"hash:{r.run_id}", f"{where} was changed after it was written: its content no longer matches "
                    "its sha256")
        if r.run.data.tags.get(T_SHA) not in (None, d.sha256):
            problem(f"tag:{r.run_id}", f"{where}: its run's tag {T_SHA} differs from the record's sha256")
        if d.decision_run_id != r.run_id:
            problem(f"moved:{r.run_id}", f"{where} names decision run {d.decision_run_id}: a record copied from "
                    "elsewhere")
        expected_seq = 1 if prev is None else prev.decision.seq + 1
        if d.seq != expected_seq:
            kind = "duplicate" if prev is not None and d.seq == prev.decision.seq else "missing"
            problem(f"seq:{d.seq}:{r.run_id}", f"{where}: expected record {expected_seq} "
                    + ("(two records claim the same place)" if kind == "duplicate" else "(records are missing)"))
        expected_prev = prev.computed if prev is not None else None
        if prev is not None and d.prev_sha256 != expected_prev:
            problem(f"chain:{r.run_id}", f"chain broken before {where}: it follows sha256 {d.prev_sha256}, but "
                    f"record {prev.decision.seq} (run {prev.run_id}) hashes to {expected_prev}")
        if prev is None and d.prev_sha256 is not None:
            problem(f"chain:{r.run_id}", f"chain broken before {where}: the first record found follows another "
                    f"(sha256 {d.prev_sha256}); earlier records are missing")
        if d.state == PENDING:
            problem(f"pending:{r.run_id}", f"{where} is unfinished (pending): `workbench promote` or "
                    "`workbench run` settles it")
        prev = r
    if chained:
        start = chained[0].decision.timestamp
        for r in legacy:
            if r.decision.timestamp > start:
                problem(f"unchained:{r.run_id}", f"decision run {r.run_id} ({r.decision.outcome}, "
                        f"{r.decision.timestamp}) has no place in the chain although it is newer than the chain's "
                        "start: written outside the workbench")
            else:
                problem(f"legacy:{r.run_id}", f"decision run {r.run_id} predates the audit chain (unchained)", WARNING)
    else:
        for r in legacy:
            problem(f"legacy:{r.run_id}", f"decision run {r.run_id} predates the audit chain (unchained)", WARNING)

    # 2. alias moves: each record starts where the one before it left the alias
    moves = [r for r in legacy + chained if r.decision.state != PENDING]
    last: _Loaded | None = None
    for r in moves:
        if last is not None and r.decision.alias_before != last.decision.alias_after:
            a, b = last.decision.alias_after, r.decision.alias_before
            problem(f"alias:{last.run_id}:{a}->{b}",
                    f"{model_name}@{alias} moved from version {a} to {b} outside the workbench, between decision "
                    f"run {last.run_id} ({last.decision.timestamp}) and decision run {r.run_id}")
        last = r
    current_v = _alias_version(store, model_name, alias)
    current = str(current_v.version) if current_v is not None else None
    recorded = last.decision.alias_after if last is not None else None
    if current != recorded:
        problem(f"alias:{last.run_id if last else 'none'}:{recorded}->{current}",
                f"{model_name}@{alias} points at " + (f"version {current}" if current else "no version")
                + " but the newest decision "
                + (f"(run {last.run_id}) left it at {'version ' + recorded if recorded else 'no version'}"
                   if last else "record is missing (there is none)")
                + ": it was moved outside the workbench")

    # 3. versions: each one's decision-run tag names a record about it
    by_run = {r.run_id: r.decision for r in records}
    present = {str(v.version): v for v in versions(store, model_name)}
    for v in present.values():
        tag = v.tags.get(T_DECISION_RUN)
        if not tag:
            problem(f"version:{v.version}", f"version {v.version} of {model_name} was registered outside the "
                    "workbench (no decision-run tag, no decision record)", ERROR if chained else WARNING)
        elif tag not in by_run:
            problem(f"version:{v.version}", f"version {v.version}'s decision-run tag names run {tag}, which holds "
                    "no decision record")
        elif str(v.version) not in (by_run[tag].model_version, by_run[tag].alias_after):
            problem(f"version:{v.version}", f"version {v.version}'s decision-run tag names run {tag}, whose record "
                    f"is about version {by_run[tag].model_version}")

    # 3b. every version a completed record names is still there and holds the model it recorded
    seen: set[str] = set()
    for r in records:
        d = r.decision
        if d.state != COMPLETED or d.dry_run:
            continue
        named: dict[str, str | None] = {}
        if d.outcome in (GO, ALREADY) and d.model_version:
            named[d.model_version] = d.model_id
        elif d.outcome == ROLLBACK:
            if d.alias_after:
                named[d.alias_after] = d.model_id
            if d.alias_before:
                named[d.alias_before] = (d.evidence or {}).get("rolled_back_model_id")
        for number, model_id in named.items():
            found = present.get(str(number))
            if found is None and f"deleted:{number}" not in seen:
                seen.add(f"deleted:{number}")
                problem(f"deleted:{number}", f"version {number} of {model_name}, named by decision run {r.run_id} "
                        f"({d.outcome}, {d.timestamp}), is gone from the registry: deleted outside the workbench")
            elif found is not None and model_id and version_model(found) not in (None, model_id) \
                    and f"repointed:{number}" not in seen:
                seen.add(f"repointed:{number}")
                problem(f"repointed:{number}", f"version {number} of {model_name} holds model {version_model(found)}, "
                        f"but decision run {r.run_id} ({d.outcome}, {d.timestamp}) recorded model {model_id}: "
                        "changed outside the workbench")

    # 3c. aliases: only the charter's alias is moved by decisions; any other was set outside
    with contextlib.suppress(Exception):  # no registered model yet: no aliases
        others = dict(store.client.get_registered_model(model_name).aliases or {})
        for name, number in sorted(others.items()):
            if name != alias:
                problem(f"alias-added:{name}:{number}", f"{model_name}@{name} (version {number}) was set outside the "
                        f"workbench: no decision record moves it (the workbench moves only @{alias})")

    # 4. evidence: the runs each completed record cites exist; GO records carry fingerprints
    completed = [r.decision for r in records if r.decision.state == COMPLETED]
    index = _run_index(store, charter, [d.pilot_run_id for d in completed]
                       + [v for d in completed for v in (d.evidence or {}).values() if isinstance(v, str)])
    for r in records:
        d = r.decision
        if d.state != COMPLETED:
            continue
        roles = (("rolled_back_run", "restored_run") if d.outcome == ROLLBACK
                 else ("pilot", "candidate", "evaluate", "baseline", "contracts"))
        for role in roles:
            run_id = (d.evidence or {}).get(role)
            if run_id and (why := _run_state(store, index, run_id)) is not None:
                problem(f"evidence:{r.run_id}:{role}", f"decision run {r.run_id} ({d.outcome}, {d.timestamp}): its "
                        f"{role} run {run_id} is {why}")
        if d.outcome == ROLLBACK:
            continue
        if d.outcome == GO and not d.fingerprints:
            problem(f"fingerprints:{r.run_id}", f"decision run {r.run_id} (go, {d.timestamp}) records no table "
                    "fingerprints")
        pilot = index.get(d.pilot_run_id or "")
        if pilot is not None and d.fingerprints:
            tags = tags_under(pilot.data.tags, FINGERPRINT_TAG)
            if tags != dict(d.fingerprints):
                problem(f"fingerprints:{r.run_id}", f"decision run {r.run_id} ({d.outcome}, {d.timestamp}) records "
                        f"fingerprints {dict(d.fingerprints)}, its pilot run {d.pilot_run_id} carries {tags}")

    # acknowledged problems: listed by a later valid, completed record
    acked: set[str] = set()
    for r in chained:
        if r.decision.state == COMPLETED and r.decision.sha256 == r.computed:
            acked.update((r.decision.acknowledged or {}).get("problems") or ())
    problems = [replace(p, severity=ACKNOWLEDGED) if p.severity == ERROR and p.key in acked else p for p in problems]
    head = _head(loaded)
    return AuditReport(pilot=charter.name, model_name=model_name, alias=alias, records=len(records),
                       chained=len(chained), head_seq=head[0], head_sha256=head[1], champion=current,
                       problems=tuple(sorted(problems, key=lambda p: (p.severity != ERROR, p.severity))))
