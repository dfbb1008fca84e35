"""The `workbench` command: thin commands over the package, one error handler, exit codes.

Exit codes: 0 success (or go), 3 no-go, 4 the store is held by another pilot, ingest or
promotion, 5 the audit trail is broken, 6 a monitored batch breached the plan, 7 draft (every
gate passed but drafted values are unconfirmed), 130 interrupted, 1 any other error. Errors print
as ``Error: <what> / Fix: <hint>``; ``--debug`` shows the traceback. An error from the
operating system or the storage (disk full, permissions, a damaged file) is explained as
such, never reported as a bug. ``workbench run`` ends stdout with one machine-readable line,
``outcome: GO|NO-GO|DRAFT|ERROR|INTERRUPTED|FINISHED``, and writes ``reports/<pilot>/outcome.json``
(``make`` itself exits 2 on any failure, so scripts read those).
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from .errors import EXIT_AUDIT, EXIT_ERROR, EXIT_INTERRUPTED, WorkbenchError
from .store.storage_errors import storage_message

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Workbench: run a tracked, gated notebook pilot (see README.md).",
)
contracts_app = typer.Typer(no_args_is_help=True, help="Data contracts: check them, or draft one from a table.")
app.add_typer(contracts_app, name="contracts")
server_app = typer.Typer(no_args_is_help=True, help="A local team tracking server: PostgreSQL + mlflow server on "
                         "127.0.0.1 (make tracking-server / tracking-server-stop).")
app.add_typer(server_app, name="server")

# emoji=False: a location such as `contract.yml:100:` must not print as an emoji
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
out = Console(highlight=False, soft_wrap=True, emoji=False)
_state = {"debug": False}

PilotOpt = Annotated[Path, typer.Option("--pilot", "-p", help="The pilot charter (YAML).")]


def _handle(exc: BaseException, *, outcome_line: bool = False) -> None:
    """Print the error and exit with its code. ``outcome_line``: also end stdout with
    ``outcome: ERROR|INTERRUPTED`` (`workbench run`'s machine-readable last line)."""
    if _state["debug"]:
        traceback.print_exception(exc)
    code = EXIT_ERROR
    if isinstance(exc, WorkbenchError):
        from rich.markup import escape

        err.print(f"[bold red]Error:[/] {escape(exc.message)}", markup=True)  # "[personal data]" is text
        code = exc.exit_code
    elif isinstance(exc, KeyboardInterrupt):  # Ctrl-C, or SIGTERM (step_runs.Terminated is one)
        err.print("[bold red]Interrupted[/]" + (" (SIGTERM)." if type(exc).__name__ == "Terminated" else "."))
        code = EXIT_INTERRUPTED
    else:
        storage = storage_message(exc)
        if storage is not None:  # the operating system's or the disk's doing, not a bug
            from rich.markup import escape

            err.print(f"[bold red]Error:[/] {escape(storage)}", markup=True)
        else:
            err.print(f"[bold red]Error:[/] unexpected {type(exc).__name__}: {exc}\n"
                      "Fix: this is a bug in the workbench; rerun with --debug and report the traceback.")
    if outcome_line:
        out.print(f"outcome: {'INTERRUPTED' if code == EXIT_INTERRUPTED else 'ERROR'}", markup=False)
    raise typer.Exit(code)


@app.callback()
def main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False) -> None:
    _state["debug"] = debug
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


def _say(message: str) -> None:
    err.print(f"  {message}", markup=False)


def _charter(path: Path, *, files: bool = True):  # noqa: ANN202
    """The charter; ``files=False`` for commands that read only the store (history, audit,
    rollback): they work after `make clean` removed the raw data."""
    from .charter.config import load_charter

    return load_charter(path, check_files=files)


@app.command()
def validate(pilot: PilotOpt = Path("pilot.yaml")) -> None:
    """Check a pilot charter without running anything."""
    try:
        from .steps.validate import check_charter, raise_for_errors

        charter = _charter(pilot)
        findings = check_charter(charter, estimators=True)
        for f in findings:
            if f.level == "warning":
                err.print(f"[yellow]Warning:[/] {f.line()}", markup=True)
        raise_for_errors(findings, charter)
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    warned = sum(1 for f in findings if f.level == "warning")
    _print_drafted(charter)
    out.print(f"{pilot}: OK — pilot '{charter.name}', {len(charter.sources)} source(s), "
              f"{len(charter.steps)} step(s), {len(charter.gates)} gate(s)"
              + (f", {warned} warning(s)" if warned else ""))


def _print_drafted(charter: object) -> int:
    """List the charter's drafted values (file:line) and how to confirm them; their count."""
    from .charter.drafted import drafted_values, how_to_confirm

    found = drafted_values(charter)
    if found:
        err.print(f"[yellow]Drafted, not decided ({len(found)}):[/] the outcome stays DRAFT, never GO, until each "
                  "is confirmed", markup=True)
        for v in found:
            err.print(f"  {v.line_text()}", markup=False)
        err.print(f"  To confirm: {how_to_confirm(charter.path)}", markup=False)  # type: ignore[attr-defined]
    return len(found)


@app.command()
def confirm(
    keys: Annotated[Optional[list[str]], typer.Argument(
        help="Drafted values to confirm: key paths (baseline, production.on_call, columns.email.pii), gate names, "
        "or file:line.")] = None,
    pilot: PilotOpt = Path("pilot.yaml"),
    all_values: Annotated[bool, typer.Option("--all", help="Confirm every drafted value (after checking each).")] = False,
    by: Annotated[Optional[str], typer.Option("--by", help="Who confirms (default: the OS user).")] = None,
) -> None:
    """List the values `workbench new` drafted, or confirm them: the tag goes, who and when is recorded."""
    try:
        from .charter.drafted import confirm as _confirm

        charter = _charter(pilot)
        if not keys and not all_values:
            if not _print_drafted(charter):
                out.print(f"{pilot}: no drafted value left", markup=False)
            return
        done = _confirm(charter, keys or (), all_values=all_values, by=by)
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    for v in done:
        out.print(f"confirmed {v.line_text()}", markup=False)
    from .charter.drafted import drafted_values

    left = drafted_values(_charter(pilot))
    out.print(f"{len(done)} value(s) confirmed (logged under `confirmed:` in {pilot}); "
              + (f"{len(left)} drafted value(s) left" if left else "none left: the pilot can reach GO"), markup=False)


@app.command()
def run(
    pilot: PilotOpt = Path("pilot.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Re-run every step, ignoring the cache.")] = False,
    step: Annotated[Optional[list[str]], typer.Option("--step", help="Run only this notebook step (repeatable).")] = None,
) -> None:
    """Run the pilot: ingest, contracts, then each notebook step, tracked in MLflow."""
    charter = None
    try:
        _sigterm_interrupts()  # from here on, not only once the pilot holds its lock
        from .steps.runner import run_pilot

        charter = _charter(pilot)
        err.print(f"[bold]Pilot[/] {charter.name} — {charter.question}")
        result = run_pilot(charter, force=force, only=step, progress=lambda m: err.print(f"  {m}", markup=False))
    except BaseException as exc:  # noqa: BLE001
        _record_early_failure(charter, exc)
        _handle(exc, outcome_line=True)
    cached = sum(1 for s in result.steps if s.status == "cached")
    from .steps.runner import project_store
    from .store.tracking import runs_view_url

    store = project_store(charter)
    saved = store.has_runs_view(result.experiment_id)
    ui = "make ui" if pilot == Path("pilot.yaml") else f"make ui PILOT={pilot}"
    review = "on the tracking server" if store.is_remote else f"{ui}, then"
    out.print(f"Pilot run {result.run_id} {result.status} in {result.seconds:.1f}s "
              f"({len(result.steps)} steps, {cached} from cache). Review it: {review} open\n"
              f"  {runs_view_url(store.ui_base, result.experiment_id, saved_view=saved)}", markup=False)
    if result.decision is not None:
        out.print(result.decision.summary(), markup=False)
    from .steps.runner import outcome_of

    outcome, code = outcome_of(result.decision)
    out.print(f"outcome: {outcome}", markup=False)  # the last line, for scripts (make exits 2 on any failure)
    raise typer.Exit(code)


def _sigterm_interrupts() -> None:
    """SIGTERM raises step_runs.Terminated (an interrupt: exit 130, outcome INTERRUPTED)
    instead of ending the process without a word or a record."""
    import signal

    from .steps.step_runs import Terminated

    def handler(signum: int, frame: object) -> None:
        raise Terminated("SIGTERM")

    signal.signal(signal.SIGTERM, handler)


def _record_early_failure(charter: object, exc: BaseException) -> None:
    """outcome.json for a run that failed before its pilot run existed (a refused charter,
    a held lock); the runner writes it for everything later."""
    from .errors import StoreLockedError

    if charter is None or getattr(exc, "outcome_recorded", False) or isinstance(exc, StoreLockedError):
        return  # (a held lock: the outcome file is the running pilot's to write)
    from .steps.runner import outcome_of, write_outcome

    outcome, code = outcome_of(None, exc)
    reason = exc.message if isinstance(exc, WorkbenchError) else f"{type(exc).__name__}: {exc}"
    write_outcome(charter, {"outcome": outcome, "exit_code": code, "pilot": charter.name, "run_id": None,  # type: ignore[attr-defined]
                            "failed_step": None, "skipped_steps": [], "reason": reason, "decision": None})


@app.command()
def ingest(
    pilot: PilotOpt = Path("pilot.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Reload even unchanged files.")] = False,
) -> None:
    """Load the charter's sources into the warehouse (no MLflow run); refused while a pilot runs."""
    try:
        from .store import locks
        from .data import engines, warehouse
        from .steps.runner import project_store

        charter = _charter(pilot)
        with locks.pilot_lock(project_store(charter), what="ingest", say=_say):
            with warehouse.writer(charter.warehouse_path) as con:
                results = engines.ingest_all(con, charter, force=force)
            # a fresh load is settled by its contract: error rules broken, the previous table is back
            from .steps.contracts_step import check_all

            fresh = [r.table for r in results if not r.skipped and charter.sources[r.table].contract]
            checked = [c for name in fresh for c in check_all(charter, only=name)]
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    for r in results:
        out.print(f"{r.table}: {r.fingerprint.rows:,} rows, fingerprint {r.fingerprint.digest}"
                  + (" (unchanged)" if r.skipped else ""))
    for c in checked:
        if not c.passed or c.warnings:
            (out if c.passed else err).print(c.failure_message(), markup=False)
    if not all(c.passed for c in checked):
        raise typer.Exit(EXIT_ERROR)


@app.command()
def rebuild(pilot: PilotOpt = Path("pilot.yaml")) -> None:
    """Rebuild the warehouse from the raw files (the recovery for a damaged one); refused while a pilot runs.

    Every source is loaded into a fresh file, which then replaces the old one; the MLflow
    store (runs, models, decisions) is not touched. About 10 s for the demo."""
    try:
        from .store import locks
        from .data import warehouse
        from .steps.runner import project_store

        charter = _charter(pilot)
        err.print(f"rebuilding {charter.warehouse_path} from the charter's sources (the run store is not touched)")
        with locks.pilot_lock(project_store(charter), what="rebuild", say=_say):  # not under a running pilot
            results = warehouse.rebuild(charter, progress=lambda m: err.print(f"  {m}", markup=False))
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    out.print(f"warehouse rebuilt: {charter.warehouse_path} ({len(results)} table(s)); run the pilot again "
              "(`make pilot`): steps whose data is unchanged are served from cache", markup=False)


@app.command()
def new(
    name: Annotated[str, typer.Argument(help="The pilot's name (its folder, experiment and model).")],
    data: Annotated[Path, typer.Option("--data", help="A CSV or Parquet file with one row per item.")],
    target: Annotated[Optional[str], typer.Option(
        "--target", help="The column to predict (extraction: the expected JSON answer).")] = None,
    task: Annotated[Optional[str], typer.Option(
        "--task", help="classification, multiclass or regression (default: inferred); text-classification, extraction, "
        "retrieval or answer (document Q&A) for an eval set.")] = None,
    time_column: Annotated[Optional[str], typer.Option("--time-column", help="Split on time: train early, judge late.")] = None,
    pilots_dir: Annotated[Path, typer.Option("--dir", help="Where pilot folders live.")] = Path("pilots"),
    owner: Annotated[Optional[str], typer.Option("--owner", help="Who answers for the decision.")] = None,
    text_column: Annotated[Optional[list[str]], typer.Option(
        "--text-column", "--input-column", "--query-column",
        help="Eval sets: the column holding the text, the input or the query (repeat for several).")] = None,
    relevant_column: Annotated[Optional[str], typer.Option(
        "--relevant-column", help="retrieval: the relevant document ids of each query (same as --target).")] = None,
    corpus: Annotated[Optional[Path], typer.Option("--corpus", help="retrieval: the documents searched.")] = None,
    corpus_id: Annotated[Optional[str], typer.Option("--corpus-id", help="retrieval: the corpus's id column "
                                                     "(default: the one holding the relevant ids).")] = None,
    corpus_text: Annotated[Optional[list[str]], typer.Option(
        "--corpus-text", help="retrieval: the corpus's text column(s) (default: every text column).")] = None,
    facts_column: Annotated[Optional[str], typer.Option(
        "--facts-column", help="answer: the facts each answer should contain, separated by |.")] = None,
    sources_column: Annotated[Optional[str], typer.Option(
        "--sources-column", help="answer: the ids of the passages supporting each answer, separated by |.")] = None,
    group_column: Annotated[Optional[str], typer.Option(
        "--group-column", help="text-classification: the column whose items belong together and stay on one side "
        "of the split (an author, a customer); `none` for no group (default: found).")] = None,
) -> None:
    """Create pilots/NAME/ from your table: a charter (types inferred) and a drafted contract."""
    try:
        from .errors import ConfigError
        from .new import new_extraction_pilot, new_pilot, new_retrieval_pilot, new_text_pilot

        target = target or relevant_column
        if target is None:
            raise ConfigError("no target column", where="--target" + (" / --relevant-column" if task == "retrieval"
                                                                      else ""),
                              hint="pass --target COLUMN: the column holding the answer of each row")
        if group_column is not None and task != "text-classification":
            raise ConfigError("--group-column is for text-classification pilots", where="--group-column",
                              hint="a table's pilot drafts `split: {kind: group, column: ...}` in pilot.yaml: edit "
                              "it there")
        if task == "text-classification":
            made = new_text_pilot(name, data, target, list(text_column or []), pilots_dir=pilots_dir, owner=owner,
                                  time_column=time_column, group_column=group_column)
        elif task == "extraction":
            made = new_extraction_pilot(name, data, target, list(text_column or []), pilots_dir=pilots_dir,
                                        owner=owner, time_column=time_column)
        elif task == "retrieval":
            if corpus is None:
                raise ConfigError("a retrieval pilot needs the documents searched", where="--corpus",
                                  hint="pass --corpus FILE (CSV, JSONL or Parquet: an id column and its text)")
            made = new_retrieval_pilot(name, data, target, list(text_column or []), corpus, corpus_id=corpus_id,
                                       corpus_text=list(corpus_text or []) or None, pilots_dir=pilots_dir,
                                       owner=owner)
        elif task == "answer":
            if corpus is None:
                raise ConfigError("an answer pilot (document Q&A) needs the passages answers come from",
                                  where="--corpus", hint="pass --corpus FILE (CSV, JSONL or Parquet: an id column "
                                  "and its text)")
            from .new import new_answer_pilot

            made = new_answer_pilot(name, data, target, list(text_column or []), corpus, corpus_id=corpus_id,
                                    corpus_text=list(corpus_text or []) or None, facts_column=facts_column,
                                    sources_column=sources_column, pilots_dir=pilots_dir, owner=owner)
        elif task not in (None, "classification", "multiclass", "regression"):
            raise ConfigError(f"--task {task!r} is neither classification nor regression (nor multiclass, text-classification, "
                              "extraction, retrieval or answer)", where="--task",
                              hint="omit it to infer the task from the target")
        else:
            made = new_pilot(name, data, target, task=task, time_column=time_column,  # type: ignore[arg-type]
                             pilots_dir=pilots_dir, owner=owner)
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    out.print(f"Created {made.folder}/: charter {made.charter.name}, contract {made.contract.relative_to(made.folder)}")
    out.print(f"  table '{made.table}', task {made.task}"
              + (f", positive label {made.positive_label!r}" if made.task == "classification" else "")
              + f", primary metric {made.primary_metric}")
    for note in made.notes:
        out.print(f"  {note}", markup=False)
    from .charter.drafted import drafted_values

    drafted = drafted_values(_charter(made.charter))
    # one ordered list: a hint to "run" next to one that says the run cannot reach GO yet read as a contradiction
    split = any(d.key.startswith("split.") for d in drafted)  # when rows happened: a guess of `new`'s
    steps = [f"review {made.charter}: the owner, the question and the {len(drafted)} value(s) tagged `# drafted` "
             f"(today's rule, gate thresholds, {'the split, ' if split else ''}the production plan, contract ranges "
             "and null shares)",
             f"confirm each drafted value: `workbench confirm --pilot {made.charter}` lists them; until then the "
             "outcome is DRAFT, never GO",
             f"run the pilot: {made.next_command()} (it runs before step 2 too, and ends DRAFT)"]
    if not drafted:
        steps = [steps[0].split(": the owner")[0] + ": the owner and the question",
                 f"run the pilot: {made.next_command()}"]
    out.print("Next:\n" + "\n".join(f"  {i}. {step}" for i, step in enumerate(steps, 1)), markup=False)


@app.command()
def monitor(
    batch: Annotated[Optional[list[Path]], typer.Option("--batch", "-b", help="A batch file (CSV or Parquet); repeat for several, in order.")] = None,
    pilot: PilotOpt = Path("pilot.yaml"),
    batch_id: Annotated[Optional[str], typer.Option("--batch-id", help="Name the batch (default: file name + hash).")] = None,
    canary: Annotated[bool, typer.Option("--canary", help="An LLM champion: re-ask its endpoint a fixed canary subset of the eval set; breach when the reported model changed or quality fell.")] = False,
) -> None:
    """Check, score and judge production batches with the champion. Exit 0 ok, 6 breach."""
    from .errors import EXIT_BREACH

    batch = batch or []
    if canary:
        try:
            from .decide.llm_canary import llm_canary
            from .steps.runner import project_store

            charter = _charter(pilot)
            found = llm_canary(charter, project_store(charter), progress=lambda m: err.print(f"  {m}", markup=False))
            out.print(found.summary(), markup=False)
        except BaseException as exc:  # noqa: BLE001
            _handle(exc)
        if found.breached:
            raise typer.Exit(EXIT_BREACH)
        if not batch:
            return
    if not batch:
        err.print("Give --batch FILE (a production batch) or --canary (an LLM champion).", markup=False)
        raise typer.Exit(2)
    reports = []
    try:
        from .decide.monitor import monitor_batch
        from .steps.runner import project_store

        charter = _charter(pilot)
        store = project_store(charter)
        for path in batch:
            report = monitor_batch(charter, store, path, batch_id=batch_id if len(batch) == 1 else None,
                                   progress=lambda m: err.print(f"  {m}", markup=False))
            reports.append(report)
            out.print(report.summary(), markup=False)
            _log_timeline(charter, store, report.run_id)
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    breached = [r for r in reports if r.breached]
    if len(reports) > 1:
        out.print(f"{len(reports)} batch(es): {len(breached)} breached the production plan, "
                  f"{sum(1 for r in reports if r.warnings)} with warnings.", markup=False)
    if breached:
        raise typer.Exit(EXIT_BREACH)


def _log_timeline(charter, store, run_id: str | None) -> None:  # noqa: ANN001
    """The monitor run's ``monitor/timeline.html``: every batch so far, charted with thresholds."""
    if not run_id:
        return
    from .decide.monitor import timeline
    from .measure.metrics import higher_is_better
    from .show.monitoring import TIMELINE_ARTIFACT, timeline_page

    rows = timeline(charter, store)
    metric = rows[-1]["quality_metric"] if rows else charter.primary_metric
    store.log_text(run_id, timeline_page(rows, pilot=charter.name, plan=charter.production,
                                         higher_quality_is_better=higher_is_better(metric)), TIMELINE_ARTIFACT)


@app.command()
def promote(
    pilot: PilotOpt = Path("pilot.yaml"),
    run_id: Annotated[Optional[str], typer.Option("--run", help="Pilot run id (default: the latest finished).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Evaluate the gates; register and move nothing.")] = False,
    actor: Annotated[Optional[str], typer.Option(help="Who decides (default: the OS user).")] = None,
    allow_rolled_back: Annotated[bool, typer.Option(
        "--allow-rolled-back", help="Let the alias move back to a version that was rolled back (needs --reason).")] = False,
    reason: Annotated[Optional[str], typer.Option("--reason", help="Why --allow-rolled-back (recorded).")] = None,
    acknowledge: Annotated[Optional[str], typer.Option(
        "--acknowledge", help="Promote although `workbench audit` fails, for this reason (recorded).")] = None,
) -> None:
    """Evaluate the gates; on a pass, register the candidate and move the alias. Exit 0 go, 3 no-go, 7 draft."""
    try:
        from .decide.promotion import promote as _promote
        from .steps.runner import project_store

        charter = _charter(pilot)
        decision = _promote(charter, project_store(charter), run_id, dry_run=dry_run, actor=actor,
                            allow_rolled_back=allow_rolled_back, reason=reason, acknowledge=acknowledge, say=_say)
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    for gate in decision.gates:
        out.print("  " + gate.line(), markup=False)  # the line says PASS or FAIL itself
    out.print(decision.summary(), markup=False)
    raise typer.Exit(decision.exit_code)


@app.command()
def history(pilot: PilotOpt = Path("pilot.yaml")) -> None:
    """Every promotion decision and alias move, newest first."""
    try:
        from .decide.promotion import history as _history
        from .steps.runner import project_store

        charter = _charter(pilot, files=False)
        records = _history(charter, project_store(charter))
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    if not records:
        out.print("no decisions yet: run `make pilot` (or `workbench promote`)")
    for rec in records:
        out.print(f"{rec.timestamp}  {rec.outcome:<16} by {rec.actor}: ", end="", markup=False)
        out.print(rec.summary().splitlines()[0], markup=False)


@app.command()
def rollback(
    pilot: PilotOpt = Path("pilot.yaml"),
    actor: Annotated[Optional[str], typer.Option(help="Who decides (default: the OS user).")] = None,
) -> None:
    """Move the alias back to the previous champion, with its own decision record."""
    try:
        from .decide.promotion import rollback as _rollback
        from .steps.runner import project_store

        charter = _charter(pilot, files=False)
        record = _rollback(charter, project_store(charter), actor=actor, say=_say)
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    out.print(record.summary(), markup=False)


@app.command()
def audit(pilot: PilotOpt = Path("pilot.yaml")) -> None:
    """Verify the decision trail: hash chain, alias moves against records, evidence runs. Exit 5 if broken."""
    try:
        from .store import locks
        from .decide.registry import audit as _audit
        from .steps.runner import project_store

        charter = _charter(pilot, files=False)
        store = project_store(charter)
        with locks.promotion_lock(store, what="audit", wait_seconds=120, say=_say):  # no promotion half-way
            report_ = _audit(charter, store)
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    out.print(report_.summary(), markup=False)
    if not report_.ok:
        raise typer.Exit(EXIT_AUDIT)


@app.command()
def report(
    pilot: PilotOpt = Path("pilot.yaml"),
    run_id: Annotated[Optional[str], typer.Option("--run", help="Pilot run id (default: the latest finished).")] = None,
) -> None:
    """Write the pilot scorecard (HTML) to reports/ and attach it to the pilot run."""
    try:
        from .decide.promotion import find_pilot_run
        from .show.scorecard import write_scorecard
        from .steps.runner import project_store

        charter = _charter(pilot)
        store = project_store(charter)
        run = find_pilot_run(charter, store, run_id)
        path = write_scorecard(charter, store, run.info.run_id)
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    out.print(f"scorecard: {path}")


@contracts_app.command("check")
def contracts_check(
    dataset: Annotated[Optional[str], typer.Argument(help="One dataset (default: every source with a contract).")] = None,
    pilot: PilotOpt = Path("pilot.yaml"),
) -> None:
    """Check the data contracts on the warehouse (no MLflow run); exit 1 on an error-level failure."""
    try:
        from .steps.contracts_step import check_all

        results = check_all(_charter(pilot), only=dataset)
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    failed = False
    for r in results:
        status = "[green]PASS[/]" if r.passed else "[red]FAIL[/]"
        out.print(f"{status} {r.dataset} v{r.contract_version}: {len(r.rules) - len(r.failed)}/{len(r.rules)} rules pass"
                  + (f", {len(r.warnings)} warning(s)" if r.warnings else ""), markup=True)
        if not r.passed or r.warnings:
            out.print(r.failure_message(), markup=False)
        failed |= not r.passed
    if failed:
        raise typer.Exit(EXIT_ERROR)


@contracts_app.command("suggest")
def contracts_suggest(
    table: Annotated[str, typer.Argument(help="A warehouse table.")],
    pilot: PilotOpt = Path("pilot.yaml"),
    out_path: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write here (default: stdout).")] = None,
) -> None:
    """Draft a contract from the data (types, null fractions, ranges, value sets, keys) to edit."""
    try:
        from .data.contracts import suggest_contract

        charter = _charter(pilot)
        text = suggest_contract(charter.warehouse_path, table)
        if out_path is not None:
            if out_path.exists():
                from .errors import WorkbenchError as _E

                raise _E("refusing to overwrite an existing contract", where=str(out_path),
                         hint="pick another --out path, or delete the file first")
            out_path.parent.mkdir(parents=True, exist_ok=True)
            out_path.write_text(text, encoding="utf-8")
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    if out_path is None:
        out.print(text, markup=False, highlight=False)
    else:
        err.print(f"draft contract written to {out_path}; review it, then name it in the charter's `contract:`")


HostOpt = Annotated[str, typer.Option("--host", help="Interface to listen on; beyond loopback needs --auth.")]
AuthOpt = Annotated[bool, typer.Option("--auth", help="Require authentication (credentials generated once, "
                                                      "kept in --secrets, shown once).")]


def _serve(command) -> None:  # noqa: ANN001
    for note in command.notes:
        err.print(note, markup=False)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe(command.argv[0], command.argv, {**os.environ, **command.env})


@app.command()
def ui(
    mlruns: Annotated[Path, typer.Option("--mlruns", help="The store folder (holds mlflow.db).")] = Path("mlruns"),
    host: HostOpt = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 5000,
    auth: AuthOpt = False,
    secrets: Annotated[Optional[Path], typer.Option("--secrets", help="Where generated credentials live "
                                                    "(default: .secrets/ beside mlruns/).")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="mlflow server's worker processes.")] = 1,
) -> None:
    """Serve the MLflow UI for a store (created first, safely); loopback unless --auth.

    With $WORKBENCH_TRACKING_URI set (a team server), the server's own UI is named instead."""
    try:
        from .store.exposure import ui_command
        from .store.tracking import TRACKING_URI_ENV, Store

        remote = os.environ.get(TRACKING_URI_ENV, "").strip()
        if remote.startswith(("http://", "https://")):
            store = Store(tracking_uri=remote.rstrip("/"))
            err.print(f"{TRACKING_URI_ENV} points at a tracking server, which serves its own UI; not starting "
                      f"another (unset {TRACKING_URI_ENV} to browse this folder's store, {mlruns})", markup=False)
            _print_runs_links(store, "", 0, base=store.ui_base)
            return

        mlruns = mlruns.resolve()
        command = ui_command(mlruns, host, port, auth=auth, secrets_dir=secrets or mlruns.parent / ".secrets",
                             mlflow=str(Path(sys.executable).with_name("mlflow")), workers=workers)
        store = Store(tracking_uri=f"sqlite:///{mlruns / 'mlflow.db'}")
        store.ensure_created()  # under the store lock
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    from .store.exposure import serve_and_announce

    for note in command.notes:
        err.print(note, markup=False)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    health = f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}/health"
    try:  # the links only once the server answers: a link printed earlier is dead for seconds
        code = serve_and_announce(command, health, lambda: _print_runs_links(store, host, port))
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    raise typer.Exit(code)


def _print_runs_links(store, host: str, port: int, *, base: str | None = None) -> None:  # noqa: ANN001
    """Each pilot's runs table in the model-training view (the UI opens on its GenAI view),
    with its headline metric columns, newest first (the view the pilot saved)."""
    from .store.tracking import RUNS_VIEW_KEY, SHARED_VIEW_TAG, runs_view_url

    RUNS_VIEW_TAG = SHARED_VIEW_TAG + RUNS_VIEW_KEY  # noqa: N806

    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    base = base or f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}"
    experiments = [e for e in store.client.search_experiments() if e.name != "Default"]
    if not experiments:
        err.print(f"MLflow UI: {base} (no pilot has run yet: `make pilot`)", markup=False)
    for exp in experiments:
        link = runs_view_url(base, exp.experiment_id, saved_view=RUNS_VIEW_TAG in exp.tags)
        err.print(f"MLflow UI, pilot {exp.name}: {link}", markup=False)


@app.command()
def lab(
    host: HostOpt = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8888,
    auth: AuthOpt = False,
    root: Annotated[Path, typer.Option("--root", help="The folder JupyterLab serves.")] = Path("."),
    secrets: Annotated[Path, typer.Option("--secrets", help="Where a generated token lives.")] = Path(".secrets"),
) -> None:
    """Start JupyterLab; loopback unless --auth (a generated token) or JUPYTER_TOKEN(_FILE) is set."""
    try:
        from .store.exposure import lab_command

        command = lab_command(host, port, auth=auth, secrets_dir=secrets, root_dir=root,
                              jupyter=str(Path(sys.executable).with_name("jupyter")))
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    _serve(command)


@app.command("wipe-store")
def wipe_store(
    mlruns: Annotated[Path, typer.Option("--mlruns", help="The store folder to wipe.")] = Path("mlruns"),
    backups: Annotated[Optional[Path], typer.Option("--backups", help="Where the archive goes "
                                                    "(default: backups/ beside mlruns/).")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: delete runs, registry, decisions and models.")] = False,
) -> None:
    """Archive the MLflow store to backups/, then delete it. Needs --yes; refused while a pilot runs."""
    try:
        from .errors import WorkbenchError as _E
        from .store.tracking import wipe_store as _wipe

        if not yes:
            raise _E("refusing to wipe the store without confirmation: it holds every run, the registry, the "
                     "decision records (the audit trail) and the models", where=str(mlruns),
                     hint="`make wipe-store CONFIRM=yes` (or `workbench wipe-store --yes`); a .tar.gz backup is "
                     "written first")
        archive = _wipe(mlruns, backups or mlruns.resolve().parent / "backups")
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    out.print(f"store wiped; backup: {archive} (restore: tar -xzf {archive} -C {mlruns.resolve().parent})")


ServerDirOpt = Annotated[Path, typer.Option("--dir", help="The server's folder (cluster, artifacts, client.env).")]


@server_app.command("start")
def server_start(
    folder: ServerDirOpt = Path(".tracking-server"),
    port: Annotated[int, typer.Option("--port", help="mlflow server's port on 127.0.0.1.")] = 5001,
    workers: Annotated[int, typer.Option("--workers", help="mlflow server's worker processes.")] = 2,
) -> None:
    """Start PostgreSQL and mlflow server (reused if running); print the client's export lines."""
    try:
        from .store.server import start

        info = start(folder, port=port, workers=workers, say=_say)
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    err.print(f"team tracking server: {info.tracking_uri} (its UI too); stop it with `make tracking-server-stop`.\n"
              f"Point pilots at it — in this shell (or `. {info.folder / 'client.env'}`):", markup=False)
    out.print(info.exports(), end="", markup=False)
    err.print(f"Back to each pilot's own store: unset {' '.join(info.env())}", markup=False)


@server_app.command("stop")
def server_stop(folder: ServerDirOpt = Path(".tracking-server")) -> None:
    """Stop the mlflow server and PostgreSQL started by `workbench server start`."""
    try:
        from .store.server import stop

        stopped = stop(folder, say=_say)
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    out.print("tracking server stopped" if stopped else f"no tracking server runs from {folder}", markup=False)


@server_app.command("status")
def server_status(folder: ServerDirOpt = Path(".tracking-server")) -> None:
    """Say whether the server runs (exit 0) or not (exit 1)."""
    try:
        from .store.server import status

        info = status(folder)
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    if info is None:
        out.print(f"no tracking server set up in {folder} (`make tracking-server`)", markup=False)
        raise typer.Exit(EXIT_ERROR)
    out.print(info.describe(), markup=False)
    if not info.running:
        raise typer.Exit(EXIT_ERROR)


@server_app.command("env")
def server_env(folder: ServerDirOpt = Path(".tracking-server")) -> None:
    """Print the export lines that point a shell at the server: eval "$(workbench server env)"."""
    try:
        from .store.server import status

        info = status(folder)
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    if info is None or not info.running:
        err.print(f"no tracking server runs from {folder} (`make tracking-server`)", markup=False)
        raise typer.Exit(EXIT_ERROR)
    out.print(info.exports(), end="", markup=False)


def run_main() -> None:  # console-script entry with a clean Ctrl-C
    code = 0
    try:
        app(standalone_mode=True)
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    _exit(code)


def _exit(code: int) -> None:
    """Exit without the interpreter's teardown of its modules, as mypy does: all our work is
    flushed and closed by now, the atexit handlers still run, and freeing every module costs
    ~0.9 s of a 5.5 s cached `workbench run` once MLflow, pandas and DuckDB are loaded. It
    also keeps duckdb 2.0's nanobind bindings from printing pages of "leaked instance" lines
    at shutdown once duckdb-engine (Great Expectations' SQL path) was imported. A thread
    still working (not a daemon) would be cut off: then the normal exit waits for it."""
    import atexit
    import threading

    working = [t for t in threading.enumerate()
               if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    if working and "duckdb_engine" not in sys.modules:
        sys.exit(code)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run_main()
