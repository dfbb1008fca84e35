"""Run a pilot: ingest → contracts → notebook steps, each tracked, cached and fail-safe.

`run_pilot` is the one orchestration function (modelled on papermill's `execute.py`):
it owns the MLflow runs, the warehouse write lock, and the failure semantics. Whatever
happens — a failing cell, a dead kernel, a timeout, SIGTERM or Ctrl-C — every run it
started ends FAILED or KILLED (never RUNNING), the partial notebook is attached to its
step run, and a :class:`StepError` says which notebook and cell failed and why.

A notebook step is served from cache when a FINISHED run exists with the same cache key:
hash(notebook source, parameters, table fingerprints, contract versions, workbench code, package
versions: workbench.store.environment),
and that run's recorded table fingerprints match the ones this pilot ingested.

One pilot at a time per store: the whole run (ingest → report) holds the store's pilot
lock (:mod:`workbench.store.locks`), so a second pilot, ``workbench ingest``, ``promote`` or
``rollback`` is refused, naming it. Results stay bound to their data: before and after each
notebook step the tables are fingerprinted again (read-only) and compared with what the
pilot recorded at ingest; a difference fails the step ("data changed under the pilot").
The fingerprints are tags on each step run (``workbench.fingerprint.<table>``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..store import environment, locks
from . import notebooks as nbfiles
from . import warm_kernels
from ..charter.config import Charter, Step
from ..errors import (
    CellError,
    KernelDiedError,
    ParameterError,
    StepError,
    StepInterrupted,
    StepTimeoutError,
    WorkbenchError,
)
from ..files import write_whole
from .step_runs import (T_BASELINE_KEY, StepOutcome, Terminated, baseline_mismatch, cache_key, code_hash, fail_run,
                        record_cached)
from ..store.tracking import FAILED, FINGERPRINT_TAG, FINISHED, KILLED, TAG, RunRef, Store, tags_under

__all__ = ["run_pilot", "PilotResult", "StepOutcome", "plan", "project_store", "outcome_of", "write_outcome"]

Progress = Callable[[str], None]


@dataclass(frozen=True)
class PilotResult:
    pilot: str
    run_id: str
    experiment_id: str
    status: str  # FINISHED | FAILED | KILLED
    seconds: float
    steps: tuple[StepOutcome, ...] = field(default_factory=tuple)
    fingerprints: dict[str, str] = field(default_factory=dict)
    decision: Any = None  # workbench.decide.promotion.Decision when the charter has `promotion:`


def project_store(charter: Charter) -> Store:
    """The pilot's store: $WORKBENCH_TRACKING_URI, else the charter's ``tracking_uri:`` (a team
    tracking server, its locks in $WORKBENCH_LOCK_URI, one per pilot name), else ``mlruns/``
    beside the charter."""
    return Store.for_project(charter.root, charter.tracking_uri, scope=charter.name)


def plan(charter: Charter) -> list[str]:
    """The ordered step names a run of this charter executes."""
    tail = ["promote", "report"] if charter.promotion is not None else []
    return ["ingest", "contracts", *(s.name for s in charter.steps), *tail]


# -- signals --------------------------------------------------------------------------


# Let cleanup (attach notebook, end runs) finish even if a second signal arrives.
_signals_blocked = locks.signals_blocked


class _Interrupts:
    """SIGINT and SIGTERM for the length of a pilot: each raises (KeyboardInterrupt,
    Terminated) and is counted, so one signal stops the pilot even when code it runs
    catches the exception and carries on (:meth:`check` raises it again)."""

    def __init__(self) -> None:
        self.caught: list[int] = []
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        self.caught.append(signum)
        raise self.exception()

    def exception(self) -> KeyboardInterrupt:
        return Terminated("SIGTERM") if self.caught and self.caught[-1] == signal.SIGTERM else KeyboardInterrupt()

    def check(self) -> None:
        if self.caught:
            raise self.exception()

    def __enter__(self) -> _Interrupts:
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handler)
        except ValueError:  # not the main thread: signals stay with whoever owns them
            pass
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


# -- provenance -----------------------------------------------------------------------


def _git(root: Path) -> tuple[str, bool]:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                    capture_output=True, text=True, timeout=10).stdout.strip())
        return commit or "unknown", dirty
    except (OSError, subprocess.SubprocessError):
        return "unknown", False


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- the pilot ------------------------------------------------------------------------


def run_pilot(
    charter: Charter,
    *,
    force: bool = False,
    only: list[str] | None = None,
    progress: Progress | None = None,
    store: Store | None = None,
) -> PilotResult:
    """Run the charter's pilot end to end; raises a WorkbenchError subclass on failure."""
    store = store or project_store(charter)
    stamp = _inputs_stamp(charter)
    last = _last_stamp(store)
    with _Kernels(charter) as kernels:
        if force or (store._sqlite_db is not None and last != stamp):
            # the charter, a notebook or a source file changed since the last finished run: a
            # step will likely run, and the server's imports overlap the driver's own and its checks
            kernels.prestart()
        # the last finished run checked these very files against the same charter sections, contracts and code
        passed = not force and last is not None and all(last.get(k) == stamp[k] for k in ("data_check", "sources"))
        result = _run_pilot(charter, kernels, force=force, only=only, progress=progress, store=store,
                            check_data=not passed)
    if result.status == FINISHED and not only:
        _write_stamp(store, stamp)
    return result


_STAMP = ".workbench-last-run.json"  # beside a local store's database: what its last finished run read


def _inputs_stamp(charter: Charter) -> dict[str, Any]:
    """What a run reads that a person edits, cheaply (no store, no data read): the charter, the
    notebooks' bytes, each source file's size and modification time, and what the data check
    rests on. A hint of whether a step will run (for starting warm kernels early; the cache keys
    decide), and whether the data check passed on these very inputs in the last finished run."""
    from .validate import data_check_key, file_stamp

    notebooks = hashlib.sha256()
    for step in charter.steps:
        with contextlib.suppress(OSError):
            notebooks.update(charter.resolve(step.notebook).read_bytes())
    sources = {name: file_stamp(charter.resolve(src.path)) for name, src in charter.sources.items()}
    return {"charter": charter.sha256, "notebooks": notebooks.hexdigest(), "sources": sources,
            "data_check": data_check_key(charter)}


def _last_stamp(store: Store) -> dict[str, Any] | None:
    """The last finished run's stamp (None: none, or a server store, where it is unknown)."""
    db = store._sqlite_db
    if db is None:
        return None
    try:
        return json.loads((db.parent / _STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_stamp(store: Store, stamp: dict[str, Any]) -> None:
    db = store._sqlite_db
    if db is not None:
        with contextlib.suppress(OSError):  # a hint only
            (db.parent / _STAMP).write_text(json.dumps(stamp), encoding="utf-8")


def _run_pilot(charter: Charter, kernels: _Kernels, *, force: bool, only: list[str] | None,
               progress: Progress | None, store: Store, check_data: bool) -> PilotResult:
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    exp = charter.name
    if only:
        unknown = sorted(set(only) - {s.name for s in charter.steps})
        if unknown:
            raise ParameterError(f"unknown step(s): {', '.join(unknown)}", where=str(charter.path),
                                 hint=f"choose from: {', '.join(s.name for s in charter.steps)}")

    from .validate import check_charter, raise_for_errors

    # before any run exists; the data checks read the source files in seconds (the demo: ~0.5 s),
    # so nothing `workbench validate` would refuse fails minutes later (not again on what they passed)
    unread: list[str] = []  # sources the data checks could not read: checked again once loaded
    # a first run, or one whose data checks run again, imports the candidates' classes too (~0.6 s):
    # a misspelled parameter is refused here, not in the evaluate cell after the profile and the baseline
    raise_for_errors(check_charter(charter, data=check_data, estimators=check_data, unread=unread), charter)
    with _Interrupts() as interrupts, locks.pilot_lock(store, what=f"pilot {charter.name}", say=say):
        swept = store.sweep_stale(exp)
        if swept:
            say(f"marked {len(swept)} run(s) KILLED whose driver process had died")
        if charter.promotion is not None:
            _reconcile_decisions(charter, store, say)
        commit, dirty = _git(charter.root)
        env = environment.current()  # Python, platform, result-shaping package versions, uv.lock's hash
        # the runs this pilot adds start from here (a second early, to be safe)
        since_ms = int(time.time() * 1000) - 1000
        parent = store.start_run(
            exp,
            f"pilot {time.strftime('%Y-%m-%d %H:%M:%S')}" + (f" (partial: {', '.join(only)})" if only else ""),
            tags={
                TAG["kind"]: "pilot",
                **({TAG["partial"]: "true"} if only else {}),  # never taken for the newest complete run
                TAG["pilot"]: charter.name,
                TAG["git_commit"]: commit,
                TAG["git_dirty"]: str(dirty).lower(),
                TAG["charter_sha256"]: charter.sha256,
                **env.tags(),
                "workbench.owner": charter.owner,
                "mlflow.note.content": f"**Question:** {charter.question}\n\n**Owner:** {charter.owner}\n\n"
                f"**Primary metric:** {charter.primary_metric}",
            },
        )
        with contextlib.suppress(Exception):  # a nicer table, never a reason to stop the pilot
            store.set_runs_view(parent.experiment_id, headline_metrics(charter), since_ms=since_ms)
        outcomes: list[StepOutcome] = []
        decision = None
        current: list[RunRef | None] = [None]  # the step run in flight, for cleanup
        status = FAILED
        failure: BaseException | None = None
        try:
            store.log_params(parent.run_id, {"pilot": charter.name, "owner": charter.owner,
                                             "primary_metric": charter.primary_metric, "force": force})
            store.log_text(parent.run_id, charter.path.read_text(encoding="utf-8"), "charter/pilot.yaml")
            store.log_dict(parent.run_id, env.to_dict(), environment.ARTIFACT)

            interrupts.check()
            with kernels:  # stopped when the notebook steps are done
                fps = _ingest_step(charter, store, parent, outcomes, current, say, force)
                if check_data and unread:  # loaded now: a check passes on what it read, never on nothing
                    raise_for_errors(check_charter(charter, data=True), charter)
                if force or outcomes[-1].status == "executed" or _charter_changed(charter, store, commit):
                    kernels.prestart()  # a step will likely run: the server's imports overlap the checks before it
                interrupts.check()
                fp_digests = {t: fp["digest"] for t, fp in fps.items()}
                store.set_tags(parent.run_id, {f"{FINGERPRINT_TAG}{t}": d for t, d in fp_digests.items()})
                store.log_datasets(parent.run_id, list(fps.values()),
                                   {n: str(charter.resolve(s.path)) for n, s in charter.sources.items()})

                contract_versions, settled = _contracts_step(charter, store, parent, outcomes, current, say,
                                                             force, fp_digests)
                if settled != fp_digests:  # a quarantine moved rows: the steps read the tables as they are now
                    fp_digests = settled
                    store.set_tags(parent.run_id, {f"{FINGERPRINT_TAG}{t}": d for t, d in fp_digests.items()})
                interrupts.check()

                base_key = {
                    "fingerprints": fp_digests,
                    "contracts": contract_versions,
                    "code": code_hash(),
                }
                view = _feature_view_step(charter, fp_digests, only, say)
                if view is not None:  # Spark: the steps train on the rows Spark computed
                    base_key["feature_view"] = view
                    store.set_tags(parent.run_id, {"workbench.feature_view": view})
                roles = {s.name: s.role for s in charter.steps}
                for step in charter.steps:
                    if only and step.name not in only:
                        continue
                    baseline = next((o.cache_key for o in reversed(outcomes) if roles.get(o.name) == "baseline"),
                                    None)
                    outcomes.append(_notebook_step(charter, step, store, parent, current, say, force, base_key,
                                                   kernels, baseline_key=baseline))
                    interrupts.check()
            if charter.promotion is not None and not only:
                decision = _promote_step(charter, store, parent, outcomes, say)
                store.log_metrics(parent.run_id, _deciding_metrics(charter, store, decision))
            elif charter.promotion is not None:
                say(f"promote: not evaluated: a run of some steps ({', '.join(only)}) decides nothing; "
                    "run every step to reach a decision")
            interrupts.check()  # a signal some code caught and carried on from still stops the pilot
            status = FINISHED
        except StepInterrupted as exc:  # a notebook step's, naming its cell
            status, failure = KILLED, exc
            raise
        except (KeyboardInterrupt, Terminated) as exc:
            status = KILLED
            failure = StepInterrupted(
                "the pilot was interrupted" + (f" during step '{current[0].name}'" if current[0] else ""),
                hint=_interrupted_hint(charter, store, parent, current),
            )
            raise failure from exc
        except BaseException as exc:
            failure = exc
            raise
        finally:
            with _signals_blocked():
                if current[0] is not None:  # a step run was in flight when we were stopped
                    with contextlib.suppress(Exception):
                        store.end_run(current[0].run_id, KILLED if status == KILLED else FAILED)
                with contextlib.suppress(Exception):  # the outcome is a record; the error in flight matters more
                    _record_outcome(charter, store, parent, outcomes, decision, failure, only, say, since_ms)
                store.end_run(parent.run_id, status)
    return PilotResult(charter.name, parent.run_id, parent.experiment_id, status,
                       time.perf_counter() - started, tuple(outcomes), fp_digests, decision)


def _interrupted_hint(charter: Charter, store: Store, parent: RunRef, current: list) -> str:
    """What an interrupt left, as recorded: the run in flight and the pilot run end KILLED,
    finished steps stay FINISHED, and a decision says how it ended (completed or aborted)."""
    parts = ["the pilot run" + (f" and step run '{current[0].name}'" if current[0] else "") + " are marked KILLED; "
             "steps that had finished stay FINISHED"]
    with contextlib.suppress(Exception):  # the hint is a courtesy: never replace the interrupt with a store error
        from ..decide.registry import T_PILOT_RUN, T_STATE

        for run in store.find_runs(charter.name, f"tags.`{TAG['kind']}` = 'decision' and "
                                   f"tags.`{T_PILOT_RUN}` = '{parent.run_id}'", max_results=10):
            tags = run.data.tags
            parts.append(f"the decision was settled before the pilot stopped: {tags.get('workbench.decision', '?')} "
                         f"{tags.get(T_STATE, '?')} (decision run {run.info.run_id}, {run.info.status})")
    return "; ".join(parts) + "; run `make pilot` again to resume (finished steps are served from cache)"


def headline_metrics(charter: Charter) -> list[str]:
    """The runs table's columns in the link `make ui` prints: the numbers the decision rests on
    (the pilot run logs them under the names the step runs use: :func:`_deciding_metrics`)."""
    primary = charter.primary_metric
    return [primary, f"baseline.{primary}", "latency.p95_ms", "cost.per_1k_usd", "decision.go", "gates.failed"]


def _deciding_metrics(charter: Charter, store: Store, decision: Any) -> dict[str, float]:
    """The numbers the decision rests on, for the pilot run (report.deciding_metrics)."""
    from ..show.scorecard import deciding_metrics

    return deciding_metrics(charter, store, decision)


OUTCOME_FILE = "outcome.json"


def outcome_of(decision: Any = None, failure: BaseException | None = None) -> tuple[str, int]:
    """(GO | NO-GO | NO BETTER THAN TODAY | DRAFT | ERROR | INTERRUPTED | FINISHED, exit code) of a pilot run.

    DRAFT: every gate passed, but drafted values are unconfirmed (exit 7, nothing moved).

    FINISHED: every step ran and there was no decision to take (no ``promotion:`` in the
    charter, or ``--step`` ran only some steps)."""
    from ..errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK

    if failure is not None:
        if isinstance(failure, (StepInterrupted, KeyboardInterrupt, Terminated)):
            return "INTERRUPTED", EXIT_INTERRUPTED
        return "ERROR", getattr(failure, "exit_code", EXIT_ERROR)
    if decision is None:
        return "FINISHED", EXIT_OK
    code = int(getattr(decision, "exit_code", EXIT_OK))
    if getattr(decision, "outcome", None) == "draft":
        return "DRAFT", code
    if getattr(decision, "outcome", None) == "no-better":  # a tie: exit 3 like NO-GO, named apart
        return "NO BETTER THAN TODAY", code
    return ("GO" if code == EXIT_OK else "NO-GO"), code


def write_outcome(charter: Charter, record: dict[str, Any]) -> Path | None:
    """``reports/<pilot>/outcome.json`` beside the scorecard: the last run's outcome, for
    whatever called ``make pilot`` (make itself exits 2 on any failure). None if it cannot
    be written (a full disk must not replace the error being reported)."""
    folder = charter.resolve(Path("reports")) / charter.name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / OUTCOME_FILE
        write_whole(path, json.dumps(record, indent=2, sort_keys=True) + "\n")
        return path
    except OSError:
        return None


def _record_outcome(charter: Charter, store: Store, parent: RunRef, outcomes: list[StepOutcome], decision: Any,
                    failure: BaseException | None, only: list[str] | None, say: Progress, since_ms: int) -> None:
    """The outcome on the pilot run (tags) and in outcome.json; on a failure, which step
    failed, why, and which steps were skipped, also said on the terminal."""
    outcome, code = outcome_of(decision, failure)
    planned = [n for n in plan(charter) if not only or n in only or n in ("ingest", "contracts")]
    if only:
        planned = [n for n in planned if n not in ("promote", "report")]
    done = {o.name for o in outcomes}
    remaining = [n for n in planned if n not in done]
    failed_step = remaining[0] if failure is not None and remaining else None
    skipped = remaining[1:] if failure is not None else []
    reason = ""
    if failure is not None:
        reason = failure.message if isinstance(failure, WorkbenchError) else f"{type(failure).__name__}: {failure}"
    tags = {"workbench.outcome": outcome, "workbench.exit_code": str(code)}
    if failure is not None:
        tags.update({TAG["failure"]: reason[:4000], "workbench.failed_step": failed_step or "",
                     "workbench.skipped_steps": ", ".join(skipped) or "(none)"})
        if skipped:
            say(f"{failed_step or 'the pilot'} failed; skipped: {', '.join(skipped)}")
    tags["mlflow.note.content"] = pilot_description(charter, parent, decision, outcome, reason, failed_step)
    with contextlib.suppress(Exception):
        store.set_tags(parent.run_id, tags)
    with contextlib.suppress(Exception):  # the run name column, wide enough for the runs this pilot added
        store.set_runs_view(parent.experiment_id, headline_metrics(charter), since_ms=since_ms)
    write_outcome(charter, {
        "outcome": outcome, "exit_code": code, "pilot": charter.name, "run_id": parent.run_id,
        "experiment_id": parent.experiment_id, "failed_step": failed_step, "skipped_steps": skipped,
        "reason": reason, "decision": getattr(decision, "outcome", None),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    })
    if failure is not None:
        with contextlib.suppress(Exception):
            failure.outcome_recorded = True  # type: ignore[attr-defined] - the CLI writes none of its own


def pilot_description(charter: Charter, parent: RunRef, decision: Any, outcome: str, reason: str = "",
                      failed_step: str | None = None) -> str:
    """The pilot run's description in the MLflow UI: the outcome first, then the question, and
    links to the scorecard and the decision record (relative to the UI: any host and port)."""
    from ..decide.registry import DECISION_ARTIFACT
    from ..formatting import outcome_label
    from ..show.scorecard import SCORECARD_ARTIFACT
    from ..store.tracking import ui_path

    exp = parent.experiment_id
    head = f"**Outcome: {outcome_label(outcome)}**"
    if decision is not None:
        head += " — " + decision.summary().splitlines()[0].split(": ", 1)[-1]
    elif failed_step or reason:
        head += f" — {failed_step or 'the pilot'} failed: {reason[:600]}"
    lines = [head, f"**Question:** {charter.question}", f"**Owner:** {charter.owner}",
             f"**Primary metric:** {charter.primary_metric}"]
    if decision is not None:
        lines.append(f"**Scorecard:** [scorecard.html]({ui_path(exp, parent.run_id, SCORECARD_ARTIFACT)})")
        run = getattr(decision, "decision_run_id", None)
        if run:
            lines.append(f"**Decision record:** [decision.json]({ui_path(exp, run, DECISION_ARTIFACT)}) (run `{run}`)")
    return "\n\n".join(lines)


def _reconcile_decisions(charter: Charter, store: Store, say: Progress) -> None:
    """Settle a promotion an earlier process left unfinished (it was killed mid-way)."""
    from ..decide.registry import reconcile

    with locks.promotion_lock(store, what=f"pilot {charter.name}: reconcile decisions", say=say):
        for line in reconcile(charter, store):
            say(f"reconciled an unfinished decision: {line}")


# -- built-in steps ---------------------------------------------------------------------


def _ingest_step(charter: Charter, store: Store, parent: RunRef, outcomes: list[StepOutcome],
                 current: list, say: Progress, force: bool) -> dict[str, dict]:
    from ..data import engines, warehouse

    say("ingest: loading sources into the warehouse" + (" (on Spark: the lake, then read back)"
                                                         if charter.engine.kind == "spark" else ""))
    t0 = time.perf_counter()
    run = store.start_run(charter.name, "ingest", parent=parent.run_id,
                          tags={TAG["kind"]: "step", TAG["step"]: "ingest", TAG["pilot"]: charter.name,
                                "mlflow.note.content": (
                                    "# Ingest\n\nLoads each source of the charter into the DuckDB warehouse with its "
                                    "declared types, strictly (a value that does not parse exactly is an error), one "
                                    "transaction per table, and fingerprints every table (rows, schema, a hash of "
                                    "every row). An unchanged file is not loaded again.")})
    current[0] = run
    try:
        with warehouse.writer(charter.warehouse_path) as con:
            results = engines.ingest_all(con, charter, force=force)
    except BaseException as exc:
        fail_run(store, run, exc)
        current[0] = None
        raise
    metrics: dict[str, float] = {}
    for r in results:
        metrics[f"ingest.{r.table}.rows"] = r.fingerprint.rows
        metrics[f"ingest.{r.table}.seconds"] = r.seconds
        say(f"  {r.table}: {r.fingerprint.rows:,} rows, fingerprint {r.fingerprint.digest}"
            + (" (unchanged, not reloaded)" if r.skipped else f" ({r.seconds:.1f}s)")
            + (f"; MISSING declared column(s) {', '.join(r.missing_columns)}: the contract check will fail"
               if r.missing_columns else ""))
    store.log_metrics(run.run_id, metrics)
    fps = {r.table: r.fingerprint.to_dict() for r in results}
    store.log_dict(run.run_id, {"fingerprints": fps, "files": {r.table: {"path": str(r.source), "sha256": r.file_sha256}
                                                             for r in results}}, "ingest/fingerprints.json")
    store.set_tags(run.run_id, {TAG["cached"]: str(all(r.skipped for r in results)).lower()})
    store.end_run(run.run_id, FINISHED)
    current[0] = None
    outcomes.append(StepOutcome("ingest", "ingest", "cached" if all(r.skipped for r in results) else "executed",
                                run.run_id, time.perf_counter() - t0))
    return fps


def _contracts_step(charter: Charter, store: Store, parent: RunRef, outcomes: list[StepOutcome],
                    current: list, say: Progress, force: bool,
                    fps: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(versions (sha256) of the contract files, each table's fingerprint digest as the checks
    leave it: a quarantine moves rows); the checking itself lives in workbench.data.contracts."""
    from .contracts_step import run_contracts_step

    versions = {name: _sha(charter.resolve(src.contract)) for name, src in charter.sources.items() if src.contract}
    outcome, settled = run_contracts_step(charter, store, parent, current, say, force, fps, versions)
    outcomes.append(outcome)
    return versions, settled


def _feature_view_step(charter: Charter, fps: dict[str, str], only: list[str] | None,
                       say: Progress) -> str | None:
    """Spark: the feature view computed in the lake and read back (engines.build_feature_view),
    when a step that trains will run; its fingerprint digest. DuckDB: None."""
    if charter.engine.kind != "spark" or not any(
            s.role in ("baseline", "evaluate") and (not only or s.name in only) for s in charter.steps):
        return None
    from ..data import engines, warehouse

    t0 = time.perf_counter()
    with warehouse.writer(charter.warehouse_path) as con:
        built = engines.build_feature_view(con, charter, fps)
    if built is None:
        return None
    digest, fresh = built
    say(f"  features: {'computed on Spark and read back' if fresh else 'unchanged in the lake'}, "
        f"fingerprint {digest} ({time.perf_counter() - t0:.1f}s)")
    return digest


def _promote_step(charter: Charter, store: Store, parent: RunRef, outcomes: list[StepOutcome],
                  say: Progress) -> Any:
    """Gates → decision → (alias move) → scorecard; the decision is recorded either way."""
    from ..decide.promotion import promote
    from ..show.scorecard import write_scorecard

    t0 = time.perf_counter()
    say("promote: evaluating the gates")
    decision = promote(charter, store, parent.run_id)
    for line in decision.summary().splitlines():
        say(f"  {line}")
    outcomes.append(StepOutcome("promote", "promote", decision.outcome, getattr(decision, "decision_run_id", None),
                                time.perf_counter() - t0))
    path = write_scorecard(charter, store, parent.run_id, decision, closing=True)
    say(f"report: scorecard written to {path}")
    outcomes.append(StepOutcome("report", "report", "executed", parent.run_id, 0.0, detail=str(path)))
    return decision


# -- notebook steps -------------------------------------------------------------------


T_INSIDE_NOISE = "workbench.inside_noise"  # set by a step whose timing verdict sat inside the noise: never reused
T_CHAMPION = "workbench.champion_uri"  # the champion a step compared its candidates with ("none": no champion)
_BLOCK_METRICS = ("latency.p50_ms", "latency.p95_ms", "latency.p99_ms", "latency.mean_ms", "throughput.items_per_s")


def timing_budgets(charter: Charter) -> dict[str, dict[str, Any]]:
    """The charter's threshold gates on a metric timed in blocks: ``{metric: {"op", "value"}}``
    (the strictest when several gate one metric), injected so the step re-measures a result
    whose interval holds its budget."""
    from ..charter.config import ThresholdGate

    out: dict[str, dict[str, Any]] = {}
    for gate in charter.gates:
        if isinstance(gate, ThresholdGate) and gate.metric in _BLOCK_METRICS:
            out.setdefault(gate.metric, {"op": gate.op, "value": float(gate.value)})
    return out


def compared_metrics(charter: Charter) -> list[str] | None:
    """The metrics the evaluate step compares with 95 % intervals: the primary metric and the
    metric of every comparison gate (vs_baseline, vs_champion, slices) that has an interval;
    None (every default metric) when none has."""
    from ..charter.config import BaselineGate, ChampionGate, SlicesGate
    from ..measure.stats import item_method_for, method_for

    # eval-set pilots: intervals on per-item values
    has_interval = item_method_for if getattr(charter, "eval_set", None) is not None else method_for
    names = [charter.primary_metric] + [g.metric for g in charter.gates
                                        if isinstance(g, (BaselineGate, ChampionGate, SlicesGate))]
    names = [n if n.startswith("quality.") else f"quality.{n.split('.')[-1]}" if n.startswith("slice.") else n
             for n in names]
    out = list(dict.fromkeys(n for n in names if n.startswith("quality.") and has_interval(n)))
    return out or None


def _champion_came_from(store: Store, champ: dict[str, Any] | None, hit: Any) -> bool:
    """Whether the current champion is a candidate of the cached step run itself: reusing that
    run compares the champion with itself, which needs no new measurement."""
    if not champ or not champ.get("run_id"):
        return False
    try:
        return store.get_run(champ["run_id"]).data.tags.get(TAG["parent"]) == hit.info.run_id
    except Exception:  # noqa: BLE001 - an unreadable run: measure again
        return False


def current_champion(charter: Charter, store: Store) -> dict[str, Any] | None:
    """The model the charter's alias points to, as the evaluate notebook takes it:
    ``{"uri": "models:/<name>/<version>", "version", "threshold"}`` (None: no champion)."""
    from ..decide.registry import champion

    version = champion(charter, store)
    if version is None or charter.promotion is None:
        return None
    threshold = None
    if version.run_id:
        with contextlib.suppress(Exception):  # a deleted run: thresholded metrics use 0.5
            threshold = store.get_run(version.run_id).data.metrics.get("quality.threshold")
    return {"uri": f"models:/{charter.promotion.model_name}/{version.version}", "version": str(version.version),
            "threshold": threshold, "run_id": version.run_id}


def _notebook_step(charter: Charter, step: Step, store: Store, parent: RunRef, current: list,
                   say: Progress, force: bool, base_key: dict[str, Any], kernels: _Kernels | None = None, *,
                   baseline_key: str | None = None) -> StepOutcome:
    t0 = time.perf_counter()
    notebook = charter.resolve(step.notebook)
    declared = nbfiles.read_parameters(notebook)
    nbfiles.check_parameters(declared, step.parameters, step=step.name)
    if "run_id" not in declared.defaults:
        raise ParameterError(
            f"notebook of step '{step.name}' does not declare `run_id`, so it cannot log to its run",
            where=f"{notebook}: parameters cell (cell {declared.cell_index + 1})",
            hint="add `run_id = None` (and `tracking_uri = None`, `warehouse = None`) to its parameters cell",
        )
    # values that change what the notebook computes (paths and run ids do not)
    semantic = {
        "pilot_name": charter.name,
        "step_name": step.name,
        "cost_model": charter.cost.model_dump(mode="json"),
        "task": charter.task.model_dump(mode="json") if charter.task else None,
        "spec": charter.modeling().model_dump(mode="json"),
        "engine": charter.engine.model_dump(mode="json"),  # where the profile is computed (keyed: its kind)
    }
    if "timing_budgets" in declared.defaults:
        semantic["timing_budgets"] = timing_budgets(charter)
    if "compare_metrics" in declared.defaults:
        semantic["compare_metrics"] = compared_metrics(charter)
    keyed = {k: v for k, v in semantic.items() if k in declared.defaults}
    if "engine" in keyed:  # Spark's quantiles are other estimates than DuckDB's; its memory or address change nothing
        keyed["engine"] = keyed["engine"]["kind"]
    if step.role == "baseline" and keyed.get("spec"):  # today's rule is re-measured only when its own inputs change
        keyed["spec"] = _without_candidates(keyed["spec"])
    key_parts = {"notebook": nbfiles.source_hash(notebook), "parameters": step.parameters,
                 "injected": keyed, **base_key}
    # an eval-set model's own module or prompt: editing it must not reuse an earlier result; the
    # baseline step's key takes today's way's only (a candidate's edit leaves today's way measured)
    user_code = _callable_sources(charter, (charter.eval_set.baseline,) if step.role == "baseline"
                                  and charter.eval_set is not None else None)
    if user_code:
        key_parts["user_code"] = user_code
    key = cache_key(key_parts)
    # the champion a step compares with is not in the key (a candidate keeps its lineage when
    # the champion moves), but a run compared with another champion is not reused
    champ = current_champion(charter, store) if "champion" in declared.defaults else None
    champ_tag = {T_CHAMPION: champ["uri"] if champ else "none"} if "champion" in declared.defaults else {}
    expected = dict(base_key["fingerprints"])
    tags = {TAG["kind"]: "step", TAG["step"]: step.name, TAG["pilot"]: charter.name, TAG["cache_key"]: key,
            TAG["notebook"]: str(step.notebook), TAG["role"]: step.role,
            **{f"{FINGERPRINT_TAG}{t}": d for t, d in expected.items()}, **champ_tag}
    if step.role == "evaluate":  # the baseline step this pilot run judges it against (its key)
        tags[T_BASELINE_KEY] = baseline_key or "none"
    checks_key = None
    if "data_checks_from" in declared.defaults:  # leakage and shift: carried over while their own inputs hold
        from .candidate_cache import T_DATA_KEY, data_key

        spec = keyed.get("spec")
        checks_key = tags[T_DATA_KEY] = data_key(key_parts, _without_candidates(spec) if spec else None)

    changed = _data_changed(charter, step, expected, "before")
    if changed is not None:  # recorded on a FAILED step run, then the pilot stops
        run = store.start_run(charter.name, step.name, parent=parent.run_id, tags={**tags, TAG["cached"]: "false"})
        fail_run(store, run, changed)
        raise changed

    if not force:
        hit = store.find_cached(charter.name, key)
        if hit is not None and tags_under(hit.data.tags, FINGERPRINT_TAG) != expected:
            say(f"{step.name}: not reusing run {hit.info.run_id[:8]}: its recorded table fingerprints differ")
            hit = None
        if hit is not None and hit.data.tags.get(T_INSIDE_NOISE) == "true":
            say(f"{step.name}: not reusing run {hit.info.run_id[:8]}: a timing verdict there was decided inside "
                "the noise; measuring again")
            hit = None
        if (hit is not None and champ_tag and hit.data.tags.get(T_CHAMPION, "none") != champ_tag[T_CHAMPION]
                and not _champion_came_from(store, champ, hit)):
            say(f"{step.name}: not reusing run {hit.info.run_id[:8]}: it was compared with another champion")
            hit = None
        other = baseline_mismatch(hit.data.tags, tags.get(T_BASELINE_KEY)) if hit is not None else None
        if other:
            say(f"{step.name}: not reusing run {hit.info.run_id[:8]}: it was judged against {other}")
            hit = None
        if hit is not None:
            run = record_cached(charter, store, parent, current, step.name, tags, hit,
                                "same notebook, parameters, data and contracts")
            say(f"{step.name}: cached (reuses run {hit.info.run_id[:8]})")
            return StepOutcome(step.name, "notebook", "cached", run.run_id, time.perf_counter() - t0,
                               cached_from=hit.info.run_id, cache_key=key)

    note = (nbfiles.description(notebook) or f"# {step.name}") + (
        f"\n\n---\nStep `{step.name}` (role: {step.role}) of pilot `{charter.name}`, notebook `{step.notebook}`. "
        f"The executed notebook, with its figures, is the artifact `notebook/{step.name}.html`.")
    run = store.start_run(charter.name, step.name, parent=parent.run_id,
                          tags={**tags, TAG["cached"]: "false", "mlflow.note.content": note[:6000]})
    current[0] = run
    store.log_params(run.run_id, step.parameters)
    injected = {
        "run_id": run.run_id,
        "tracking_uri": store.tracking_uri,
        "warehouse": str(charter.warehouse_path),
        "pilot_root": str(charter.root),  # the pilot's folder: where its own modules live (eval-set callables)
        "charter_path": str(charter.path),  # what an engine's errors point into
        **semantic,
        "champion": champ,
    }
    if base_key.get("feature_view"):
        # Spark: train on the view Spark computed (keyed above on the charter's SQL and the view's fingerprint)
        from ..data.engines import reading_feature_view

        injected["spec"] = reading_feature_view(charter.modeling()).model_dump(mode="json")
    if {"candidate_keys", "reuse"} <= set(declared.defaults):  # each candidate cached on its own (candidate_cache)
        injected.update(_candidate_reuse(charter, step, store, key_parts, expected, say, force,
                                         tags.get(T_BASELINE_KEY)))
    if checks_key is not None:
        from .candidate_cache import data_checks_source

        injected["data_checks_from"] = None if force else data_checks_source(store, charter, checks_key, expected)
    parameters = {**{k: v for k, v in injected.items() if k in declared.defaults}, **step.parameters}
    say(f"{step.name}: running {step.notebook}")
    tmp = Path(tempfile.mkdtemp(prefix=f"wb-{step.name}-"))
    executed = tmp / notebook.name
    kernel_log = tmp / "kernel.log"
    error: BaseException | None = None
    try:
        _execute(notebook, executed, parameters, step, kernel_log, kernels,
                 relay=_ProgressRelay(lambda line: say(f"  {step.name}: {line}")))
    except BaseException as exc:  # noqa: BLE001 - translated below, after the notebook is attached
        error = exc
    with _signals_blocked():
        try:
            reason = _unfinished_reason(error, step) if error is not None else None
            if reason is not None and executed.exists():
                nbfiles.mark_unfinished(executed, *reason)
            _cap_outputs(store, run, step, executed, kernel_log, say)
            _redact_files(charter, [f for f in (executed, kernel_log) if f.exists() and f.stat().st_size])
            if executed.exists():
                _attach(store, run, executed, step)
            kernel_logged = False
            if error is not None and kernel_log.exists() and kernel_log.stat().st_size:
                with contextlib.suppress(Exception):  # the kernel's own output, for whoever debugs it
                    store.log_artifact(run.run_id, kernel_log, "kernel")
                    kernel_logged = True
            failure = _translate(error, notebook, executed, step, run, kernel_logged) if error is not None else None
            if failure is not None:
                failure = _redacted_error(charter, failure)
            if failure is None:
                failure = _data_changed(charter, step, expected, "while")
            if failure is None:
                failure = _check_contract(charter, step, store, run, notebook)
            if failure is not None:
                store.set_tags(run.run_id, {TAG["failure"]: failure.message[:4000]})
            killed = isinstance(failure, StepInterrupted)
            if failure is not None:  # nested runs the notebook opened and could not close
                for child in store.children(charter.name, run.run_id):
                    if child.info.status == "RUNNING":
                        store.end_run(child.info.run_id, KILLED if killed else FAILED)
            store.end_run(run.run_id, KILLED if killed else (FAILED if failure else FINISHED))
            current[0] = None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if failure is not None:
        # a StepInterrupted (naming the step and the cell) makes the pilot mark its run KILLED
        raise failure from (None if isinstance(error, (KeyboardInterrupt, Terminated)) else error)
    say(f"{step.name}: done in {time.perf_counter() - t0:.1f}s")
    return StepOutcome(step.name, "notebook", "executed", run.run_id, time.perf_counter() - t0, cache_key=key)


def _without_candidates(spec: dict[str, Any]) -> dict[str, Any]:
    """A modeling spec (as injected) without its candidates: what the baseline's key takes."""
    out = {k: v for k, v in spec.items() if k != "candidates"}
    if isinstance(out.get("eval_set"), dict):
        out["eval_set"] = {k: v for k, v in out["eval_set"].items() if k != "candidates"}
    return out


def _candidate_reuse(charter: Charter, step: Step, store: Store, key_parts: dict[str, Any],
                     expected: dict[str, str], say: Progress, force: bool,
                     baseline_key: str | None = None) -> dict[str, Any]:
    """``candidate_keys`` and ``reuse`` for an evaluate notebook that takes them: each candidate's
    own key, and the earlier runs the unchanged ones are served from (none with ``--force``)."""
    from .candidate_cache import candidate_keys, reusable

    common = {**key_parts, "injected": {k: v for k, v in key_parts["injected"].items() if k != "spec"}}
    common.pop("user_code", None)  # an eval-set candidate's key takes its own module or prompt only
    own = {c.name: _callable_sources(charter, (c,)) for c in charter.eval_set.candidates} \
        if charter.eval_set is not None else None
    keys = candidate_keys(charter, common, own)
    reuse = {} if force else reusable(store, charter, keys, expected, say, baseline_key=baseline_key)
    if reuse:
        say(f"  {step.name}: reusing {', '.join(f'{n} (run {r[:8]})' for n, r in reuse.items())}; "
            f"running {', '.join(n for n in keys if n not in reuse) or 'no candidate'}")
    return {"candidate_keys": keys, "reuse": reuse}


def _callable_sources(charter: Charter, models: Sequence[Any] | None = None) -> dict[str, str]:
    """sha256 of the pilot module each eval-set `callable` of ``models`` names, and of each `llm`
    one's prompt template (missing: "absent"), and of the judge's prompt; ``models``: today's
    way and the candidates (the default), or some of them."""
    es = charter.eval_set
    if es is None:
        return {}
    out = {}
    for cand in (es.baseline, *es.candidates) if models is None else models:
        if cand.kind == "callable" and cand.function:
            module = cand.function.split(":", 1)[0]
            path = charter.root / (module.replace(".", "/") + ".py")
            out[module] = _sha(path) if path.is_file() else "absent"
        elif cand.kind == "llm" and cand.prompt:  # an edited prompt template is a new candidate
            path = charter.root / cand.prompt
            out[f"prompt:{cand.prompt}"] = _sha(path) if path.is_file() else "absent"
    if es.judge is not None:  # an edited judge prompt judges every answer again (and is recorded on the runs)
        path = charter.root / es.judge.prompt
        out[f"judge:{es.judge.prompt}"] = _sha(path) if path.is_file() else "absent"
    return out




def _data_changed(charter: Charter, step: Step, expected: dict[str, str], when: str) -> StepError | None:
    """A StepError when a table no longer carries the fingerprint the pilot recorded at ingest.

    Read-only and cheap (DuckDB hashes the rows: ~20 ms for 337 k rows)."""
    from ..data import engines, warehouse
    from ..errors import WarehouseError

    if not expected:
        return None
    db = charter.warehouse_path
    try:
        con = warehouse.connect_read_only(db)
    except WarehouseError as exc:
        return StepError(f"step '{step.name}': cannot check that the data is still what the pilot ingested "
                         f"({exc.what})", where=str(db),
                         hint="something holds or removed the warehouse outside the pilot; stop it, then run the "
                         "pilot again (`make pilot`)")
    try:
        changed = []
        for table, digest in sorted(expected.items()):
            try:
                now = warehouse.fingerprint(con, table).digest
            except WarehouseError:
                now = "(table gone)"
            if now != engines.warehouse_digest(con, charter, table, digest):
                changed.append(f"{table} (fingerprint {digest} at ingest, {now} now)")
    finally:
        con.close()
    if not changed:
        return None
    moment = "before it ran" if when == "before" else "while it ran"
    return StepError(
        f"step '{step.name}': data changed under the pilot {moment}: table(s) {', '.join(changed)}",
        where=str(db),
        hint="a process wrote to the warehouse outside the pilot (the pilot lock keeps `workbench ingest` out); "
        "find and stop it, then run the pilot again (`make pilot`): ingest reloads the sources and the steps "
        "recompute on the reloaded data")


def _check_contract(charter: Charter, step: Step, store: Store, run: RunRef, notebook: Path) -> StepError | None:
    from .notebook_contract import check_step

    problems = check_step(charter, step, store, run.run_id)
    if not problems:
        return None
    return StepError(f"step '{step.name}' (role {step.role}) ended without what the gates need: " + "; ".join(problems),
                     where=str(notebook),
                     hint="log what the notebook contract asks (README, \"Your own notebooks\"), then run the pilot again")


def _charter_changed(charter: Charter, store: Store, commit: str) -> bool:
    """Whether the charter (or the commit) differs from the newest finished pilot run's: some
    step will likely run again (an edited candidate, a new one), so warm kernels are worth starting."""
    try:
        last = store.newest_pilot_run(charter.name)
    except Exception:  # noqa: BLE001 - only a hint for when to start the kernel server
        return False
    if last is None:
        return True
    tags = last.data.tags
    return tags.get(TAG["charter_sha256"]) != charter.sha256 or tags.get(TAG["git_commit"]) != commit


class _Kernels:
    """The pilot run's warm-kernel server (workbench.steps.warm_kernels): started when the first
    notebook step runs — a cached run starts none — or earlier when a step will likely run, or
    the shared one WORKBENCH_KERNEL_SERVER names when it forks kernels for this run's start-up
    settings; stopped when the notebook steps are done (or the run ends before them). Leaving it
    a second time does nothing."""

    def __init__(self, charter: Charter) -> None:
        self._notebooks = [charter.resolve(s.notebook) for s in charter.steps]
        self._server: warm_kernels.WarmKernels | None = None
        self._own = False
        self._done = False  # left once: no server is started after the notebook steps

    def __enter__(self) -> _Kernels:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._own and self._server is not None:
            self._server.stop()
        self._server, self._own, self._done = None, False, True

    def prestart(self) -> None:
        if self._notebooks and warm_kernels.enabled() and self._server is None and not self._done:
            self._server = warm_kernels.WarmKernels.from_env()
            if self._server is not None and not self._server.serves(os.environ):
                # the shared server was started with other start-up settings (PYTHONPATH, thread
                # counts): it would start this run's kernels cold; a server of the run's own will not
                self._server = None
            if self._server is None:
                self._server = warm_kernels.WarmKernels.start(warm_kernels.notebook_imports(self._notebooks))
                self._own = True

    def command(self, kernel_cmd: list[str]) -> list[str] | None:
        """The launcher that forks this kernel from the server, or None: start it cold."""
        if not warm_kernels.enabled():
            return None
        self.prestart()
        if self._server is None:
            return None
        self._server.meanwhile(_AFTER_A_STEP)
        return self._server.launch_command(kernel_cmd)


def _import_decision_code() -> None:
    from ..decide import promotion  # noqa: F401
    from ..show import scorecard  # noqa: F401


# what the driver needs once a step's kernel is done (~0.7 s made then), made while it waits for
# the server instead; not in a thread of its own: one importing beside papermill's met a module
# the other had half imported ("cannot import name ... from partially initialized module")
_AFTER_A_STEP = (_import_decision_code, nbfiles.html_exporter, nbfiles.warm_html)


class _KernelNotStarted(RuntimeError):
    """The step's kernel exited, or did not answer, before any cell ran (what jupyter_client
    raises then, with its messages, as a type of its own for _translate)."""


@functools.cache  # made on first use: jupyter_client is imported only when a notebook runs
def _step_kernel_client() -> type:
    from queue import Empty

    from jupyter_client.asynchronous import AsyncKernelClient

    class StepKernelClient(AsyncKernelClient):
        """jupyter_client's client, ready as soon as the kernel answers and IOPub is connected.
        Its own wait_for_ready then drains IOPub until 0.2 s pass without a message: every kernel
        start idled that long, and nbclient reads only the messages of the cell it runs."""

        async def wait_for_ready(self, timeout: float | None = None) -> None:
            deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
            while True:
                self.kernel_info()
                try:
                    reply = await self.shell_channel.get_msg(timeout=1)
                except Empty:
                    reply = None
                if reply is not None and reply["msg_type"] == "kernel_info_reply":
                    try:  # a message on IOPub: its subscription is live (ZeroMQ joins late)
                        await self.iopub_channel.get_msg(timeout=0.2)
                    except Empty:
                        pass
                    else:
                        self._handle_kernel_info_reply(reply)
                        return
                if not await self._async_is_alive():
                    raise _KernelNotStarted("Kernel died before replying to kernel_info")
                if time.monotonic() > deadline:
                    raise _KernelNotStarted(f"Kernel didn't respond in {timeout:.0f} seconds")

    return StepKernelClient


class _ProgressRelay:
    """The file papermill writes a notebook's standard output to as it arrives: each whole line
    that says how far a run of eval items got (:data:`workbench.measure.items.progress.LINE`)
    goes to ``say``; every other line stays in the notebook only."""

    def __init__(self, say: Progress) -> None:
        from ..measure.items.progress import LINE  # imported here: it loads the eval-set package

        self.say, self.pending, self.line = say, "", LINE

    def write(self, text: str) -> None:
        *whole, self.pending = (self.pending + text).split("\n")
        for line in whole:
            if self.line.match(line.strip()):
                self.say(line.strip())

    def flush(self) -> None:
        pass


def _execute(notebook: Path, executed: Path, parameters: dict[str, Any], step: Step,
             kernel_log: Path | None = None, kernels: _Kernels | None = None,
             relay: _ProgressRelay | None = None) -> None:
    """Run the notebook under papermill. The kernel process writes its own output (its log,
    tracebacks of its message loop when it is interrupted or killed) to ``kernel_log``, not
    to the terminal: the workbench's message says what happened, the notebook shows where.
    With ``kernels``, the kernel is forked from the run's warm server when it can be; with
    ``relay``, the notebook's progress lines reach the terminal as they are printed."""
    import logging

    import papermill
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    for name, value in warm_kernels.KERNEL_DEFAULTS.items():
        os.environ.setdefault(name, value)
    with contextlib.ExitStack() as held:
        log_file = held.enter_context(open(kernel_log, "ab")) if kernel_log is not None else None
        channels = held.enter_context(warm_kernels.private_sockets())  # not TCP ports: it says why

        class _StepKernelManager(AsyncKernelManager):
            def __init__(self, **kw: Any) -> None:
                super().__init__(**{**channels, **kw})

            @default("client_factory")
            def _client_factory_default(self) -> type:
                return _step_kernel_client()

            async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
                if log_file is not None:
                    kw.setdefault("stdout", log_file)
                    kw.setdefault("stderr", log_file)
                warm = kernels.command(kernel_cmd) if kernels is not None else None
                await super()._async_launch_kernel(warm or kernel_cmd, **kw)

        # nbclient logs "Timeout waiting for execute reply" / "Kernel died" through papermill's
        # logger: the StepError raised from it says the same, with the cell
        quiet = logging.getLogger("papermill")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)
        try:
            papermill.execute_notebook(
                str(notebook),
                str(executed),
                parameters=parameters,
                kernel_name="python3",
                cwd=str(notebook.parent),
                progress_bar=False,
                stdout_file=relay,
                execution_timeout=step.timeout_seconds,
                request_save_on_cell_execute=True,
                kernel_manager_class=_StepKernelManager,
                # quiet kernel log (its TCP-without-CurveZMQ warning is noise); the workbench.steps.session
                # extension makes a failing `!cmd` line fail its cell
                extra_arguments=["--IPKernelApp.log_level=ERROR", "--IPKernelApp.extensions=workbench.steps.session"],
            )
        finally:
            quiet.setLevel(level)


def _cap_outputs(store: Store, run: RunRef, step: Step, executed: Path, kernel_log: Path, say: Progress) -> None:
    """Cut what the step printed to its caps before anything is checked or stored (output_cap)."""
    from .output_cap import MB, cap_notebook, cap_text_file

    with contextlib.suppress(FileNotFoundError):
        cap_text_file(kernel_log, max_mb=step.max_output_mb)
    if not executed.exists():
        return
    cut = cap_notebook(executed, cell_mb=step.max_cell_output_mb, step_mb=step.max_output_mb)
    if cut:
        cells = ", ".join(str(i + 1) for i in cut.cells)
        say(f"  {step.name}: {cut.bytes_cut / MB:,.1f} MB of output cut from cell(s) {cells} (the step keeps "
            f"{step.max_cell_output_mb:g} MB a cell, {step.max_output_mb:g} MB in all: `max_cell_output_mb`, "
            "`max_output_mb`)")
        store.set_tags(run.run_id, {"workbench.output_cut_mb": f"{cut.bytes_cut / MB:.1f}"})


def _attach(store: Store, run: RunRef, executed: Path, step: Step) -> None:
    store.log_artifact(run.run_id, executed, "notebook")
    try:
        html = nbfiles.to_html(executed, executed.with_suffix(".html"))
        store.log_artifact(run.run_id, html, "notebook")
    except Exception as exc:  # noqa: BLE001 - the .ipynb is attached; say why the HTML is not
        store.set_tags(run.run_id, {"workbench.html_error": f"{type(exc).__name__}: {exc}"[:1000]})


def _unfinished_reason(error: BaseException, step: Step) -> tuple[str, str] | None:
    """(error name, message) to mark the cell that was running when the kernel died, timed
    out or was interrupted — papermill records that cell as completed; None otherwise."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    if isinstance(error, CellTimeoutError):
        return "CellTimeout", f"the workbench stopped this cell after {step.timeout_seconds}s (the step's timeout_seconds)"
    if isinstance(error, DeadKernelError) or "kernel died" in str(error).lower():
        return "KernelDied", ("the kernel died while this cell ran (os._exit, a segfault or out of memory); "
                              "its output above is what arrived before")
    if isinstance(error, (KeyboardInterrupt, Terminated)):
        return "Interrupted", "the pilot was interrupted (Ctrl-C or SIGTERM) while this cell ran"
    return None


def _redact_texts(charter: Charter, texts: list[str], *, names: bool = False) -> list[str]:
    """``texts`` with personal-data values replaced (see workbench.data.warehouse.redact). When
    the warehouse cannot be read to check, text is withheld rather than let out unchecked."""
    from ..data import warehouse

    try:
        con = warehouse.connect_read_only(charter.warehouse_path)
    except WorkbenchError:
        if charter.warehouse_path.exists():
            return ["[withheld: could not be checked for personal data]" if t else t for t in texts]
        return list(texts)  # nothing ingested: nothing personal to find
    try:
        return warehouse.redact(con, texts, names=names, keep=warehouse.charter_names(charter))
    except Exception:  # noqa: BLE001 - cannot check: do not let unchecked text out
        return ["[withheld: could not be checked for personal data]" if t else t for t in texts]
    finally:
        con.close()


def _redacted_error(charter: Charter, error: StepError) -> StepError:
    what, where, hint = _redact_texts(charter, [error.what, error.where or "", error.hint or ""])
    if (what, where, hint) == (error.what, error.where or "", error.hint or ""):
        return error
    return type(error)(what, where=where or None, hint=hint or None)


def _redact_files(charter: Charter, files: list[Path]) -> None:
    """Replace personal-data values in an executed notebook (sources and every text output)
    and the kernel log, before they are attached to the run."""
    for path in files:
        try:
            if path.suffix == ".ipynb":
                nbfiles.redact_notebook(path, lambda texts, names=False: _redact_texts(charter, texts, names=names))
            else:
                text = path.read_text(encoding="utf-8", errors="replace")
                path.write_text(_redact_texts(charter, [text])[0], encoding="utf-8")
        except Exception:  # noqa: BLE001 - unreadable, so uncheckable: not attached at all
            with contextlib.suppress(OSError):
                path.unlink()


def _subclasses(cls: type) -> set[type]:
    return {cls}.union(*(_subclasses(c) for c in cls.__subclasses__()))


# raised in a cell by the workbench's own code (a charter's candidate parameter misspelled), not by the cell's
_OWN_ERRORS = frozenset(c.__name__ for c in _subclasses(WorkbenchError))


def _translate(error: BaseException, notebook: Path, executed: Path, step: Step, run: RunRef,
               kernel_logged: bool = False) -> StepError:
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    # papermill's cell_index predates the error-marker cells it inserts: find the cell by its state
    cell = nbfiles.failed_cell(executed) if executed.exists() else None
    where_cell = f"{notebook}: cell {cell[0]} `{cell[1][:80]}`" if cell else str(notebook)
    review = (f"open the executed notebook attached to run {run.run_id} (`make ui`, step '{step.name}'), "
              "fix the cell, and run `make pilot` again")
    if isinstance(error, PapermillExecutionError) and error.ename == "KeyboardInterrupt":
        # Ctrl-C in the terminal reaches the kernel too (one process group): an interrupt, not a bug
        return StepInterrupted(f"step '{step.name}' was interrupted", where=where_cell,
                               hint="run `make pilot` again; finished steps are served from cache")
    if isinstance(error, PapermillExecutionError):
        if error.ename in _OWN_ERRORS:  # the workbench's own error: its message says what to fix, the cell is fine
            charter = "the charter is at fault, not the cell: correct it as said above, "
            review = ((charter if error.ename == "ConfigError" else "") + "then run `make pilot` again; the executed "
                      f"notebook is attached to run {run.run_id} (`make ui`, step '{step.name}')")
        return CellError(f"step '{step.name}' failed: {error.ename}: {error.evalue}", where=where_cell, hint=review)
    if isinstance(error, CellTimeoutError):
        return StepTimeoutError(f"step '{step.name}' timed out: a cell ran longer than {step.timeout_seconds}s",
                                where=where_cell, hint="make the cell faster, or raise the step's `timeout_seconds` in the charter")
    if isinstance(error, DeadKernelError):
        return KernelDiedError(f"step '{step.name}': the kernel died ({error})", where=where_cell,
                               hint="the cell crashed the Python process (os._exit, a segfault or out of memory); " + review)
    if isinstance(error, (KeyboardInterrupt, Terminated)):
        return StepInterrupted(f"step '{step.name}' was interrupted", where=where_cell,
                               hint="run `make pilot` again; finished steps are served from cache")
    if isinstance(error, WorkbenchError):
        return StepError(error.what, where=error.where, hint=error.hint)
    text = str(error)
    if isinstance(error, _KernelNotStarted):
        said = (f"its own output is attached to run {run.run_id} as `kernel/kernel.log`; " if kernel_logged
                else "it printed nothing; ")
        return KernelDiedError(f"step '{step.name}': the kernel did not start ({text[:300]})", where=str(notebook),
                               hint=f"no cell ran: {said}check what its Python loads before any cell (PYTHONPATH, "
                               "a sitecustomize, the virtualenv: `make setup`), then run `make pilot` again")
    if "Kernel died" in text or "kernel" in text.lower() and "died" in text.lower():
        return KernelDiedError(f"step '{step.name}': the kernel died ({text[:300]})", where=where_cell, hint=review)
    return StepError(f"step '{step.name}' could not run: {type(error).__name__}: {text[:500]}", where=where_cell,
                     hint="check the notebook opens and runs in JupyterLab (`make lab`)")
