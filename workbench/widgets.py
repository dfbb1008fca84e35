"""ipywidgets panels for analysts in JupyterLab: pilot, contracts, runs, promote.

Each panel is a thin view over the functions the CLI uses — :func:`runner.run_pilot`,
:func:`contract_step.check_all`, :func:`promotion.promote` (dry run first) — and reads
its state back from MLflow, the single source of truth. Nothing here computes a result
of its own.

Long calls (a pilot, a contract check, MLflow reads) run on a background thread so the
kernel stays responsive and the panel shows progress; jobs of one control panel run one
at a time (they share the warehouse lock and the MLflow store), in the order clicked.
A :class:`~workbench.errors.WorkbenchError` shows as a red message in its panel (what,
where, and the fix), never as a traceback.

What the panels show stays true to what ran: the Runs and Promote tabs judge the newest
*complete* pilot run (a partial run, started with "Run step", is labelled partial in the
Pilot tab and never replaces it); promote and report show the status they had in the pilot
run; each outcome has one name (:func:`workbench.formatting.outcome_label`); numbers are
formatted by :mod:`workbench.formatting`; links follow the MLflow UI's port (``UI_PORT``,
as ``make ui``).

Usage, in a notebook of the project::

    from workbench.widgets import panel
    panel()                      # finds pilot.yaml in this folder or a parent
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import ipywidgets as w

from . import formatting as fmt
from .charter.config import Charter, load_charter
from .errors import WorkbenchError
from .measure.metrics import format_metric
from .measure.stats import confidence_text
from .store.storage_errors import storage_message

__all__ = [
    "panel",
    "ControlPanel",
    "PilotPanel",
    "ContractsPanel",
    "RunsPanel",
    "PromotePanel",
    "LabelPanel",
    "label_panel",
    "step_statuses",
    "contracts_html",
    "gates_html",
    "interval_text",
    "error_html",
    "run_url",
    "runs_table_url",
    "DEFAULT_MLFLOW_URL",
]

DEFAULT_MLFLOW_URL = None  # None: http://127.0.0.1:$UI_PORT, where `make ui` serves (tracking.ui_base_url)

# Colours shared by the panels (inline styles: a <style> tag would leak into JupyterLab).
_GREEN, _RED, _AMBER, _GREY, _BLUE = "#1a7f37", "#cf222e", "#9a6700", "#656d76", "#0969da"
_STATUS_COLOUR = {"fresh": _GREEN, "cached": _BLUE, "failed": _RED, "killed": _RED, "running": _AMBER,
                  "queued": _GREY, "not run": _GREY, "no contracts": _GREY, "written": _GREEN,
                  "GO": _GREEN, "NO-GO": _RED, "NO BETTER THAN TODAY": _AMBER, "ALREADY CHAMPION": _BLUE,
                  "ROLLBACK": _AMBER, "DRAFT": _AMBER}
_TABLE = "border-collapse:collapse;font-size:0.9em;margin:4px 0"
_TH = "text-align:left;padding:3px 8px;border-bottom:2px solid #d0d7de;background:#f6f8fa"
_TD = "text-align:left;padding:3px 8px;border-bottom:1px solid #d0d7de;vertical-align:top"


# -- small helpers ----------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _badge(text: str, colour: str) -> str:
    return (f'<span style="display:inline-block;padding:0 8px;border-radius:9px;color:#fff;'
            f'background:{colour};font-weight:600">{_e(text)}</span>')


def _verdict(passed: bool) -> str:
    return _badge("PASS", _GREEN) if passed else _badge("FAIL", _RED)


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """An HTML table; cells are HTML already (escape before)."""
    head = "".join(f'<th style="{_TH}">{h}</th>' for h in header)
    body = "".join("<tr>" + "".join(f'<td style="{_TD}">{c}</td>' for c in row) + "</tr>" for row in rows)
    return f'<table style="{_TABLE}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _num(value: Any, metric: str | None = None) -> str:
    """A number as read (by the metric's unit when named): :mod:`workbench.formatting`."""
    if value is None:
        return f'<span style="color:{_GREY}">–</span>'
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _e(format_metric(metric, value) if metric else fmt.number(value))
    return _e(value)


def _link(url: str, text: str) -> str:
    return f'<a href="{_e(url)}" target="_blank" rel="noopener" style="color:{_BLUE}">{_e(text)}</a>'


def error_html(exc: BaseException) -> str:
    """A red message for an error: what, where and the fix; never a traceback."""
    if isinstance(exc, WorkbenchError):
        parts = [f"<b>Error:</b> {_e(exc.what)}".replace("\n", "<br>")]
        if exc.where:
            parts.append(f"<b>Where:</b> {_e(exc.where)}")
        if exc.hint:
            parts.append(f"<b>Fix:</b> {_e(exc.hint)}")
    elif (storage := storage_message(exc)) is not None:  # the disk's or the OS's doing, not a bug
        what, _, fix = storage.partition("\nFix: ")
        parts = [f"<b>Error:</b> {_e(what)}"] + ([f"<b>Fix:</b> {_e(fix)}"] if fix else [])
    else:
        parts = [f"<b>Error:</b> unexpected {_e(type(exc).__name__)}: {_e(exc)}",
                 "<b>Fix:</b> this is a bug in the workbench; run the same command with "
                 "<code>workbench --debug</code> to see the traceback, and report it"]
    body = "<br>".join(p.replace("\n", "<br>") for p in parts)
    return (f'<div class="wb-error" style="color:{_RED};border-left:4px solid {_RED};padding:4px 10px;'
            f'margin:4px 0;white-space:pre-wrap">{body}</div>')


def _note(text: str, colour: str = _GREY) -> str:
    return f'<div style="color:{colour};margin:4px 0">{text}</div>'


def runs_table_url(base: str | None, experiment_id: str) -> str:
    """The experiment's runs table in the MLflow UI's model-training view."""
    from .store.tracking import ui_url

    return ui_url(base, experiment_id)


def run_url(base: str | None, experiment_id: str, run_id: str, artifact: str | None = None) -> str:
    """The MLflow UI page of a run (``make ui``), or of one of its artifacts."""
    from .store.tracking import ui_url

    return ui_url(base, experiment_id, run_id, artifact)


class _Worker:
    """Runs jobs on background threads, one at a time, in submission order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def submit(self, job: Callable[[], None], name: str) -> threading.Thread:
        def body() -> None:
            with self._lock:
                job()

        thread = threading.Thread(target=body, name=f"workbench-{name}", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return thread

    @property
    def busy(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for every submitted job; False if some are still running after ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not self.busy


class _Context:
    """What the panels share: the charter, its MLflow store, the UI's URL and the worker."""

    def __init__(self, charter: Charter, mlflow_url: str | None, worker: _Worker) -> None:
        from .steps.runner import project_store
        from .store.tracking import ui_base_url

        self.charter = charter
        self.store = project_store(charter)
        # a team tracking server serves its own UI (Store.ui_base); a local store's is `make ui`'s
        self.mlflow_url = (mlflow_url or self.store.ui_base or ui_base_url()).rstrip("/")
        self.worker = worker

    def complete_pilot_run(self) -> Any:
        """The newest FINISHED pilot run that ran every step (a partial run never replaces it)."""
        from .errors import PromotionError

        run = self.store.newest_pilot_run(self.charter.name, complete=True)
        if run is None:
            partial = self.store.newest_pilot_run(self.charter.name, complete=False)
            raise PromotionError(
                f"pilot '{self.charter.name}' has no complete finished pilot run yet"
                + (" (the newest one ran some steps only: a partial run)" if partial is not None else ""),
                hint="press 'Run pilot' on the Pilot tab (or run `make pilot`): 'Run step' runs one step, "
                "which the gates cannot judge")
        return run


class _Panel(w.VBox):
    """A panel: a header, its controls, a status line, the body and an error area."""

    title = ""

    def __init__(self, ctx: _Context, description: str) -> None:
        self.ctx = ctx
        self.status = w.HTML()
        self.error = w.HTML()
        self.body = w.HTML()
        self._desc = w.HTML(_note(description))
        super().__init__()

    def _layout(self, *controls: w.Widget) -> None:
        self.children = (self._desc, *controls, self.status, self.error, self.body)

    def _run(self, name: str, job: Callable[[], Any], done: Callable[[Any], None],
             buttons: Iterable[w.Button] = ()) -> threading.Thread:
        """Run ``job`` in the background; ``done(result)`` on success, a red error otherwise."""
        buttons = list(buttons)
        for b in buttons:
            b.disabled = True
        self.error.value = ""
        if self.ctx.worker.busy:
            self.status.value = _note(f"{_e(name)}: queued behind the job in progress…")

        def body() -> None:
            self.status.value = _note(f"{_e(name)}…", _AMBER)
            try:
                result = job()
            except Exception as exc:  # noqa: BLE001 - shown in the panel, not raised into the kernel
                self.status.value = ""
                self.error.value = error_html(exc)
                self._after_error(exc)
            else:
                self.status.value = ""
                try:
                    done(result)
                except Exception as exc:  # noqa: BLE001
                    self.error.value = error_html(exc)
            finally:
                for b in buttons:
                    b.disabled = False
                self._after_job()

        return self.ctx.worker.submit(body, name)

    def _after_error(self, exc: BaseException) -> None:
        """Hook: refresh what the failure changed."""

    def _after_job(self) -> None:
        """Hook: re-derive button states once a job ends."""

    def wait(self, timeout: float | None = None) -> bool:
        return self.ctx.worker.wait(timeout)


# -- pilot ---------------------------------------------------------------------------------


def step_statuses(charter: Charter, store: Any) -> tuple[Any | None, dict[str, dict[str, Any]]]:
    """The newest pilot run (complete or partial) and, for each planned step, its status in that run.

    Status: ``fresh`` (executed in that run), ``cached``, ``failed``, ``killed``,
    ``running`` or ``not run``; ``promote`` shows the decision's outcome (``GO``, ``NO-GO``,
    ``ALREADY CHAMPION``) and ``report`` ``written`` once the scorecard is attached. With
    the step run (for promote: the decision run), the run that executed it (a cached run
    points at it) and the executed notebook's (or the scorecard's) artifact path."""
    from .show.scorecard import SCORECARD_ARTIFACT
    from .steps.runner import plan
    from .store.tracking import TAG

    runs = store.find_runs(charter.name, f"tags.`{TAG['kind']}` = 'pilot'", max_results=1)
    pilot_run = runs[0] if runs else None
    by_step: dict[str, Any] = {}
    if pilot_run is not None:
        for child in sorted(store.children(charter.name, pilot_run.info.run_id), key=lambda r: r.info.start_time):
            by_step[child.data.tags.get(TAG["step"], child.info.run_name)] = child
    notebooks = {s.name: Path(s.notebook) for s in charter.steps}
    out: dict[str, dict[str, Any]] = {}
    for name in plan(charter):
        run = by_step.get(name)
        info: dict[str, Any] = {"status": "not run", "run": run, "source_run_id": None, "notebook": None}
        if name == "contracts" and not any(s.contract for s in charter.sources.values()):
            info["status"] = "no contracts"
        if run is not None:
            tags = run.data.tags
            cached = tags.get(TAG["cached"]) == "true"
            info["status"] = {"FINISHED": "cached" if cached else "fresh", "FAILED": "failed",
                              "KILLED": "killed", "RUNNING": "running"}.get(run.info.status, run.info.status.lower())
            info["source_run_id"] = tags.get(TAG["cached_from"]) or run.info.run_id
            info["failure"] = tags.get(TAG["failure"])
            if name in notebooks:
                info["notebook"] = f"notebook/{notebooks[name].stem}.html"
        elif pilot_run is not None and name == "promote":
            tags = pilot_run.data.tags
            outcome, decision_run = tags.get("workbench.decision"), tags.get("workbench.decision_run")
            if outcome:
                info["status"] = fmt.outcome_label(outcome)
                try:
                    info["run"] = store.get_run(decision_run) if decision_run else None
                except Exception:  # noqa: BLE001 - a deleted decision run: the outcome still shows
                    info["run"] = None
                info["source_run_id"] = decision_run
        elif pilot_run is not None and name == "report":
            try:
                written = [a.path for a in store.client.list_artifacts(pilot_run.info.run_id, "scorecard")]
            except Exception:  # noqa: BLE001 - unreadable artifacts: not shown as written
                written = []
            if SCORECARD_ARTIFACT in written:
                info.update(status="written", run=pilot_run, source_run_id=pilot_run.info.run_id,
                            notebook=SCORECARD_ARTIFACT)
        out[name] = info
    return pilot_run, out


class PilotPanel(_Panel):
    """The plan's steps with their status in the newest pilot run; run one step or all."""

    title = "Pilot"

    def __init__(self, ctx: _Context) -> None:
        super().__init__(ctx, f"Pilot <b>{_e(ctx.charter.name)}</b>: {_e(ctx.charter.question)}")
        from .steps.runner import plan

        self.steps = plan(ctx.charter)
        notebook_steps = {s.name for s in ctx.charter.steps}
        self.run_all = w.Button(description="Run pilot", button_style="primary", icon="play",
                                tooltip="ingest, contracts, then every notebook step (cached steps are reused)")
        self.refresh_button = w.Button(description="Refresh", icon="refresh", tooltip="read the newest pilot run")
        self.force = w.Checkbox(value=False, description="force (ignore the cache)", indent=False)
        self.progress = w.IntProgress(value=0, min=0, max=len(self.steps), description="", bar_style="",
                                      layout=w.Layout(width="320px", visibility="hidden"))
        self.log_view = w.HTML()
        self.header = w.HTML()
        self.cells: dict[str, w.HTML] = {}
        self.links: dict[str, w.HTML] = {}
        self.step_buttons: dict[str, w.Button] = {}
        grid: list[w.Widget] = [w.HTML(f"<b>{h}</b>") for h in ("step", "status", "MLflow run", "notebook", "")]
        for name in self.steps:
            self.cells[name] = w.HTML(_badge("…", _GREY))
            self.links[name] = w.HTML()
            nb = w.HTML()
            self.links[name + "/notebook"] = nb
            if name in notebook_steps:
                b = w.Button(description="Run step", icon="play", layout=w.Layout(width="110px"),
                             tooltip=f"run ingest, contracts and '{name}' only")
                b.on_click(lambda _b, n=name: self.run([n]))
                self.step_buttons[name] = b
            else:
                b = w.HTML(_note("always runs", _GREY))
            grid += [w.HTML(f"<code>{_e(name)}</code>"), self.cells[name], self.links[name], nb, b]
        self.grid = w.GridBox(grid, layout=w.Layout(grid_template_columns="140px 110px 190px 190px 120px",
                                                    grid_gap="2px 8px", margin="6px 0"))
        self.run_all.on_click(lambda _b: self.run(None))
        self.refresh_button.on_click(lambda _b: self.refresh())
        self._layout(self.header, self.grid, w.HBox([self.run_all, self.force, self.refresh_button]),
                     self.progress, self.log_view)
        self.last_result: Any = None
        self.statuses: dict[str, dict[str, Any]] = {}
        self.refresh()

    @property
    def _buttons(self) -> list[w.Button]:
        return [self.run_all, self.refresh_button, *self.step_buttons.values()]

    # -- reading -------------------------------------------------------------------------
    def refresh(self) -> threading.Thread:
        return self._run("reading the newest pilot run from MLflow",
                         lambda: step_statuses(self.ctx.charter, self.ctx.store), self._show)

    def _show(self, state: tuple[Any, dict[str, dict[str, Any]]]) -> None:
        pilot_run, statuses = state
        base = self.ctx.mlflow_url
        if pilot_run is None:
            self.header.value = _note("No pilot run yet: press <b>Run pilot</b> (or run <code>make pilot</code>).")
        else:
            started = fmt.timestamp(pilot_run.info.start_time)
            url = run_url(base, pilot_run.info.experiment_id, pilot_run.info.run_id)
            partial = pilot_run.data.tags.get("workbench.partial") == "true"
            self.header.value = _note(
                f"Newest pilot run {_link(url, pilot_run.info.run_id[:8])}"
                + (f" {_badge('partial', _AMBER)} (some steps only; the Runs and Promote tabs judge the newest "
                   "complete run)" if partial else "")
                + f", started {started}: <b>{_e(pilot_run.info.status)}</b> · "
                + _link(runs_table_url(base, pilot_run.info.experiment_id), "all runs"), "#1f2328")
        for name, info in statuses.items():
            status = info["status"]
            title = f' title="{_e(info.get("failure"))}"' if info.get("failure") else ""
            self.cells[name].value = f"<span{title}>{_badge(status, _STATUS_COLOUR.get(status, _GREY))}</span>"
            run = info["run"]
            if run is None:
                self.links[name].value = self.links[name + "/notebook"].value = ""
                continue
            exp = run.info.experiment_id
            text = run.info.run_id[:8] + (f" → {info['source_run_id'][:8]}" if status == "cached" else "")
            self.links[name].value = _link(run_url(base, exp, run.info.run_id), text)
            nb = info["notebook"]
            self.links[name + "/notebook"].value = (
                _link(run_url(base, exp, info["source_run_id"], nb), nb.rsplit("/", 1)[-1]) if nb else "")
        self.statuses = statuses

    # -- running -------------------------------------------------------------------------
    def run(self, steps: list[str] | None = None) -> threading.Thread:
        """Run the pilot (``steps=None``) or only these notebook steps, in the background."""
        from .steps.runner import run_pilot

        planned = [s for s in self.steps if steps is None or s in steps or s in ("ingest", "contracts")]
        lines: list[str] = []
        self.progress.max, self.progress.value = len(planned), 0
        self.progress.bar_style, self.progress.layout.visibility = "info", "visible"
        self.log_view.value = ""
        for name in planned:
            self.cells[name].value = _badge("queued", _GREY)

        def say(message: str) -> None:
            lines.append(message)
            self.log_view.value = ('<pre style="max-height:220px;overflow:auto;font-size:0.85em;margin:4px 0">'
                              + _e("\n".join(lines[-200:])) + "</pre>")
            head = message.strip().split(":", 1)[0]
            if head in planned and not message.startswith(" "):
                i = planned.index(head)
                finished = "cached" in message or "done in" in message
                self.progress.value = max(self.progress.value, i + (1 if finished else 0))
                self.cells[head].value = _badge("cached" if "cached" in message else
                                                "fresh" if finished else "running",
                                                _BLUE if "cached" in message else _GREEN if finished else _AMBER)
                for earlier in planned[:i]:  # ingest and contracts say no "done"
                    if "running" in self.cells[earlier].value or "queued" in self.cells[earlier].value:
                        self.cells[earlier].value = _badge("done", _GREEN)

        def job() -> Any:
            what = "the whole pilot" if steps is None else ", ".join(steps)
            say(f"starting {what}" + (" (force)" if self.force.value else ""))
            return run_pilot(self.ctx.charter, force=self.force.value, only=steps, progress=say,
                             store=self.ctx.store)

        def done(result: Any) -> None:
            self.last_result = result
            self.progress.value, self.progress.bar_style = self.progress.max, "success"
            cached = sum(1 for s in result.steps if s.status == "cached")
            say(f"pilot run {result.run_id[:8]} {result.status} in {result.seconds:.1f}s "
                f"({len(result.steps)} steps, {cached} from cache)")
            self._show(step_statuses(self.ctx.charter, self.ctx.store))

        return self._run("running " + ("the pilot" if steps is None else ", ".join(steps)), job, done, self._buttons)

    def _after_error(self, exc: BaseException) -> None:
        self.progress.bar_style = "danger"
        try:  # the failed step's run is in MLflow: show it
            self._show(step_statuses(self.ctx.charter, self.ctx.store))
        except Exception:  # noqa: BLE001 - the error above already says what is wrong
            pass


# -- contracts ------------------------------------------------------------------------------


def contracts_html(results: Iterable[Any]) -> str:
    """Every rule of every contract: pass/fail, counts, examples (masked for PII), quarantine."""
    parts = []
    for r in results:
        head = (f'<h4 style="margin:10px 0 2px">{_verdict(r.passed)} <code>{_e(r.dataset)}</code> '
                f'v{_e(r.contract_version)}: {len(r.rules) - len(r.failed)}/{len(r.rules)} rules pass'
                + (f", {len(r.blocking)} error-level failure(s)" if r.blocking else "")
                + (f", {len(r.warnings)} warning(s)" if r.warnings else "")
                + (f", rows: {fmt.integer(r.row_count)}" if r.row_count is not None else "")
                + (f", <b>{fmt.integer(r.quarantined_rows)} row(s) quarantined</b> to <code>{_e(r.quarantine_table)}</code>"
                   if r.quarantined_rows else "")
                + "</h4>")
        rows = []
        for rule in r.rules:
            if rule.success:
                verdict = _badge("pass", _GREEN)
            elif rule.error is not None:
                verdict = _badge("raised", _RED)
            else:
                verdict = _badge("warn", _AMBER) if rule.severity == "warn" else _badge("fail", _RED)
            pct = f" ({fmt.percent(rule.unexpected_percent / 100)})" if rule.unexpected_percent is not None else ""
            count = "" if rule.unexpected_count is None else _e(f"{fmt.integer(rule.unexpected_count)}{pct}")
            if rule.masked and not rule.success:
                examples = f'<i style="color:{_GREY}">masked (PII)</i>'
            elif rule.error is not None:
                examples = _e(rule.error[:300])
            else:
                examples = _e(", ".join(repr(v) for v in rule.examples[:5]))
            rows.append([f"<code>{_e(rule.rule_id)}</code>", _e(rule.kind), _e(rule.severity), verdict, count,
                         _e(rule.observed) if rule.observed is not None else "", examples,
                         _e(fmt.integer(rule.quarantined_rows)) if rule.quarantined_rows else ""])
        parts.append(head + _table(["rule", "kind", "severity", "result", "unexpected", "observed", "examples",
                                    "quarantined"], rows))
    return "".join(parts) or _note("No source of this charter declares a contract.")


class ContractsPanel(_Panel):
    """Check the data contracts on the warehouse now (the same check as the pilot's step)."""

    title = "Contracts"

    def __init__(self, ctx: _Context) -> None:
        names = [n for n, s in ctx.charter.sources.items() if s.contract]
        super().__init__(ctx, "Checks every source's contract on the warehouse with Great Expectations "
                              "(the pilot's <code>contracts</code> step, without an MLflow run). PII values are "
                              "never shown; quarantine rules move offending rows aside. Contracts: "
                         + (", ".join(f"<code>{_e(n)}</code>" for n in names) or "none"))
        self.check_button = w.Button(description="Check contracts", button_style="primary", icon="check")
        self.check_button.on_click(lambda _b: self.check())
        self.results: list[Any] | None = None
        self._layout(self.check_button)

    def check(self) -> threading.Thread:
        from .steps.contracts_step import check_all

        def done(results: list[Any]) -> None:
            self.results = results
            passed = all(r.passed for r in results)
            summary = (_badge("PASSED", _GREEN) if passed else _badge("FAILED", _RED)) + (
                f" {len(results)} contract(s), checked {time.strftime('%H:%M:%S')}")
            self.body.value = _note(summary, "#1f2328") + contracts_html(results)

        return self._run("checking contracts", lambda: check_all(self.ctx.charter), done, [self.check_button])


# -- runs and promotion ----------------------------------------------------------------------


def _gated_metrics(charter: Charter) -> list[str]:
    """The metrics the decision rests on: the primary metric, then each gate's, in order."""
    out = [charter.primary_metric]
    for gate in charter.gates:
        metric = getattr(gate, "metric", None)
        if gate.kind == "probes":
            metric = "probes.crashed"
        elif gate.kind == "contracts":
            metric = None
        if metric and metric not in out:
            out.append(metric)
    return out


def interval_text(diff: float | None, low: float | None, high: float | None) -> str:
    """``diff [low, high]``: a paired difference and its interval ("" when there is none)."""
    if diff is None or low is None or high is None:
        return ""
    return f"{diff:+.4g} [{low:+.4g}, {high:+.4g}]"


def _compare_cell(metrics: Mapping[str, float], metric: str) -> str:
    """A candidate's paired difference from today's rule on ``metric`` (logged as
    ``compare.baseline.<m>.*``), as a small second line."""
    short = metric.split(".", 1)[1] if metric.startswith("quality.") else None
    if short is None:
        return ""
    text = interval_text(*(metrics.get(f"compare.baseline.{short}.{k}") for k in ("diff", "ci_low", "ci_high")))
    return f"<br><small>vs today {_e(text)}</small>" if text else ""


def _gate_interval(g: Any) -> str:
    """A gate's paired difference and interval with the interval's confidence: 95 %, or more
    for the best of several candidates (:func:`workbench.measure.stats.among_candidates`)."""
    text = interval_text(getattr(g, "diff", None), getattr(g, "ci_low", None), getattr(g, "ci_high", None))
    return f"{text} {confidence_text(getattr(g, 'confidence', None))}" if text else ""


def gates_html(decision: Any) -> str:
    rows = []
    for g in decision.gates:
        threshold = "" if g.threshold is None else f"{_e(g.op or '')} {_num(g.threshold, g.metric)}"
        verdict = _badge("TIE", _AMBER) if getattr(g, "tie", False) else _verdict(g.passed)
        rows.append([_e(g.name), verdict, _num(g.measured, g.metric), threshold,
                     _num(g.reference, g.metric),
                     _e(_gate_interval(g)),
                     _e(g.reason) + "".join(f"<br><small>{_e(d)}</small>" for d in g.details)])
    return _table(["gate", "verdict", "measured", "required", "reference", "difference [interval]", "why"], rows)


def _outcome_badge(decision: Any) -> str:
    colour = {"go": _GREEN, "already-champion": _BLUE, "no-go": _RED, "no-better": _AMBER, "rollback": _AMBER,
              "draft": _AMBER}.get(decision.outcome, _GREY)
    return _badge(fmt.outcome_label(decision.outcome), colour)


class RunsPanel(_Panel):
    """Baseline, candidates and champion side by side on the gated metrics, with verdicts."""

    title = "Runs"

    def __init__(self, ctx: _Context) -> None:
        super().__init__(ctx, "The newest complete pilot run (a partial run of some steps never replaces it): the "
                              "baseline, every candidate and the current champion on the metrics the gates judge, "
                              "with each gate's verdict (a dry run of the promotion: nothing is recorded or moved).")
        self.refresh_button = w.Button(description="Compare runs", button_style="primary", icon="table")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.decision: Any = None
        self._layout(self.refresh_button)

    def refresh(self) -> threading.Thread:
        return self._run("reading runs and evaluating the gates", self._read, self._display, [self.refresh_button])

    def _read(self) -> dict[str, Any]:
        from .decide.promotion import champion, pilot_layout, promote

        charter, store = self.ctx.charter, self.ctx.store
        pilot_run = self.ctx.complete_pilot_run()
        layout = pilot_layout(charter, store, pilot_run)
        columns: list[tuple[str, Any]] = []
        baseline = layout.step("baseline")
        if baseline is not None:
            source = baseline.data.tags.get("workbench.cached_from") or baseline.info.run_id
            columns.append(("baseline", store.get_run(source)))
        for name, run in sorted(layout.candidates.items()):
            columns.append((f"candidate {name}", run))
        champ = champion(charter, store)
        if champ is not None and champ.run_id:
            try:
                columns.append((f"champion v{champ.version}", store.get_run(champ.run_id)))
            except Exception:  # noqa: BLE001 - a deleted run: the champion gate says so
                pass
        decision, gate_error = None, None
        try:
            decision = promote(charter, store, pilot_run.info.run_id, dry_run=True)
        except WorkbenchError as exc:  # the comparison is still worth showing
            gate_error = exc
        return {"pilot": pilot_run, "columns": columns, "decision": decision, "gate_error": gate_error}

    def _display(self, data: Mapping[str, Any]) -> None:
        charter, base = self.ctx.charter, self.ctx.mlflow_url
        decision = self.decision = data["decision"]
        columns = data["columns"]
        chosen = decision.candidate if decision is not None else None
        header = ["metric"]
        for label, run in columns:
            star = " ★" if chosen and label == f"candidate {chosen}" else ""
            header.append(_link(run_url(base, run.info.experiment_id, run.info.run_id), label) + star)
        rows = [[f"<code>{_e(m)}</code>" + (" <small>(primary)</small>" if m == charter.primary_metric else "")]
                + [_num(run.data.metrics.get(m), m) + (_compare_cell(run.data.metrics, m)
                                                        if label.startswith("candidate ") else "")
                   for label, run in columns] for m in _gated_metrics(charter)]
        pilot = data["pilot"]
        parts = [_note(f"Pilot run {_link(run_url(base, pilot.info.experiment_id, pilot.info.run_id), pilot.info.run_id[:8])}"
                       + (f"; ★ = the candidate the gates judge (<code>{_e(chosen)}</code>)" if chosen else ""),
                       "#1f2328"),
                 _table(header, rows) if columns else _note("This pilot run has no baseline or candidate runs.")]
        if decision is not None:
            parts += [f'<h4 style="margin:10px 0 2px">Gates {_outcome_badge(decision)}</h4>', gates_html(decision)]
        self.body.value = "".join(parts)
        self.error.value = error_html(data["gate_error"]) if data["gate_error"] is not None else ""


class PromotePanel(_Panel):
    """Evaluate the gates (dry run), then promote only on a pass; history of decisions."""

    title = "Promote"

    def __init__(self, ctx: _Context) -> None:
        promo = ctx.charter.promotion
        target = f"<code>{_e(promo.model_name)}@{_e(promo.alias)}</code>" if promo else "no model (no promotion section)"
        super().__init__(ctx, f"Moves {target} to the candidate of the newest complete pilot run, only if every "
                              "gate passes; each decision is recorded in MLflow.")
        self.evaluate_button = w.Button(description="Evaluate gates", button_style="info", icon="balance-scale",
                                        tooltip="dry run: evaluates the gates, records and moves nothing")
        self.promote_button = w.Button(description="Promote", button_style="success", icon="arrow-up",
                                       disabled=True, tooltip="evaluate the gates first")
        self.evaluate_button.on_click(lambda _b: self.evaluate())
        self.promote_button.on_click(lambda _b: self.promote())
        self.history = w.HTML()
        self.dry: Any = None
        self.decision: Any = None
        self._layout(w.HBox([self.evaluate_button, self.promote_button]))
        self.children = (*self.children, self.history)

    def evaluate(self) -> threading.Thread:
        from .decide.promotion import history, promote

        def job() -> tuple[Any, list[Any]]:
            return (promote(self.ctx.charter, self.ctx.store, self.ctx.complete_pilot_run().info.run_id, dry_run=True),
                    history(self.ctx.charter, self.ctx.store, max_results=20))

        def done(result: tuple[Any, list[Any]]) -> None:
            self.dry, self.decision = result[0], None
            self._show_decision(self.dry)
            self._show_history(result[1])

        self.dry = None
        return self._run("evaluating the gates (dry run)", job, done, [self.evaluate_button])

    def promote(self) -> threading.Thread | None:
        """The real promotion, of the pilot run the dry run judged; the gates run again."""
        from .decide.promotion import history, promote

        if self.dry is None or self.dry.outcome != "go":  # the button is disabled then; a direct call is refused
            self.error.value = error_html(WorkbenchError(
                "refusing to promote without a passing dry run",
                hint="press 'Evaluate gates' first; 'Promote' is enabled only when every gate passes"))
            return None
        pilot_run_id = self.dry.pilot_run_id

        def job() -> tuple[Any, list[Any]]:
            decision = promote(self.ctx.charter, self.ctx.store, pilot_run_id)
            return decision, history(self.ctx.charter, self.ctx.store, max_results=20)

        def done(result: tuple[Any, list[Any]]) -> None:
            self.decision, self.dry = result[0], None
            self._show_decision(result[0])
            self._show_history(result[1])

        self.promote_button.disabled = True
        return self._run("promoting", job, done, [self.evaluate_button])

    def _after_job(self) -> None:
        # enabled only right after a dry run that says go: never on a fail, never twice
        ok = self.dry is not None and self.dry.outcome == "go"
        self.promote_button.disabled = not ok
        self.promote_button.tooltip = ("register the candidate and move the alias" if ok
                                       else "enabled only after 'Evaluate gates' passes")

    def _show_decision(self, d: Any) -> None:
        title = "Dry run" if d.dry_run else "Decision"
        lines = [f'<h4 style="margin:10px 0 2px">{title}: {_outcome_badge(d)}</h4>',
                 f'<pre style="white-space:pre-wrap;margin:2px 0">{_e(d.summary())}</pre>']
        if d.dry_run and d.outcome == "no-better":
            ties = "".join(f"<li>{_e(g.line())}</li>" for g in d.failing)
            lines.append(f'<div style="color:{_AMBER}"><b>No better than today</b>: the interval holds the '
                         f"margin, so the rows cannot show the candidate better; the alias does not move.<ul>{ties}</ul>"
                         "</div>")
        if d.dry_run and d.outcome == "no-go":
            failing = "".join(f"<li>{_e(g.line())}</li>" for g in d.failing)
            lines.append(f'<div style="color:{_RED}"><b>Promotion refused</b>: the alias does not move until every '
                         f"gate passes. Failing gate(s):<ul>{failing}</ul></div>")
        if d.dry_run and d.outcome == "already-champion":
            lines.append(_note("Nothing to promote: this candidate is already the champion."))
        if d.decision_run_id:
            url = run_url(self.ctx.mlflow_url, self.ctx.store.experiment_id(self.ctx.charter.name) or "0",
                          d.decision_run_id)
            lines.append(_note("Decision record: " + _link(url, d.decision_run_id[:8])))
        self.body.value = "".join(lines) + gates_html(d)

    def _show_history(self, records: list[Any]) -> None:
        rows = [[_e(fmt.timestamp(d.timestamp)), _outcome_badge(d), _e(d.candidate), _e(d.actor),
                 _e(f"{d.alias_before or '–'} → {d.alias_after or '–'}")] for d in records]
        self.history.value = ('<h4 style="margin:12px 0 2px">History</h4>'
                              + (_table(["when (UTC)", "outcome", "candidate", "by", "alias"], rows) if rows
                                 else _note("No decision recorded yet.")))


class MonitorPanel(_Panel):
    """The monitoring timeline of the champion: batches, drift, quality, latency, breaches."""

    title = "Monitor"

    def __init__(self, ctx: _Context) -> None:
        super().__init__(ctx, "Every production batch checked with <code>workbench monitor</code> (the demo: "
                              "<code>make monitor</code>): contract, drift against the training split, quality once "
                              "labels arrive, latency, the share served by today's rule, and the breaches of the "
                              "production plan. A proposed rollback is only proposed: run <code>workbench rollback</code>.")
        self.refresh_button = w.Button(description="Show timeline", button_style="primary", icon="line-chart")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self._layout(self.refresh_button)

    def refresh(self) -> threading.Thread:
        from .decide.monitor import timeline
        from .show.monitoring import timeline_html

        charter, store = self.ctx.charter, self.ctx.store
        return self._run("reading the monitoring runs", lambda: timeline(charter, store),
                         lambda rows: setattr(self.body, "value", timeline_html(rows, plan=charter.production)),
                         [self.refresh_button])


# -- reviewer labels (eval-set pilots) --------------------------------------------------------


class LabelPanel(_Panel):
    """A reviewer labels a random sample of one model's answers correct / wrong / unsure.

    The sample is drawn from the per-item results of the newest complete pilot run (seeded:
    the same seed, the same items); each click is stored at once in ``item_labels.duckdb``
    beside the warehouse (:mod:`workbench.data.item_labels`: its own file and lock, so a
    running pilot is never blocked). The metric's verdict is not shown, so it cannot anchor
    the reviewer; the agreement between the two (:mod:`workbench.measure.review`) is shown
    below, and on the scorecard (``workbench report`` rebuilds it)."""

    title = "Label"

    def __init__(self, ctx: _Context) -> None:
        import getpass

        super().__init__(ctx, "Label a random sample of answers: is the answer right for this input? "
                              "The metric's verdict is not shown, so it cannot lead you; the agreement between you "
                              "and the metric is shown below and on the scorecard.")
        self.reviewer = w.Text(value=getpass.getuser(), description="Reviewer", placeholder="name or e-mail")
        self.model = w.Dropdown(options=[], description="Model")
        self.size = w.BoundedIntText(value=20, min=1, max=500, description="Sample")
        self.seed = w.IntText(value=0, description="Seed")
        self.load_button = w.Button(description="Read runs", icon="refresh", tooltip="read the newest complete pilot run")
        self.draw_button = w.Button(description="Draw sample", button_style="primary", icon="random", disabled=True)
        self.load_button.on_click(lambda _b: self.load())
        self.draw_button.on_click(lambda _b: self.draw())
        self.card = w.HTML()
        self.progress = w.HTML()
        self.label_buttons = {
            "correct": w.Button(description="correct", button_style="success", icon="check"),
            "wrong": w.Button(description="wrong", button_style="danger", icon="times"),
            "unsure": w.Button(description="unsure", button_style="warning", icon="question"),
        }
        for name, button in self.label_buttons.items():
            button.add_class(f"wb-label-{name}")
            button.on_click(lambda _b, name=name: self.label(name))
        self.back_button = w.Button(description="Back", icon="arrow-left")
        self.back_button.on_click(lambda _b: self._move(-1))
        self.agreement = w.HTML()
        self.add_class("wb-label-panel")
        self.runs: dict[str, str] = {}
        self.sample: Any = None
        self.position = 0
        self.given: dict[str, str] = {}
        self.texts: dict[str, str] | None = None
        self._texts_note = ""
        self._set_label_buttons(False)
        self._layout(w.HBox([self.reviewer, self.load_button]), w.HBox([self.model, self.size, self.seed, self.draw_button]),
                     self.progress, self.card,
                     w.HBox([*self.label_buttons.values(), self.back_button]), self.agreement)
        if ctx.charter.eval_set is None:
            self.load_button.disabled = True
            self.body.value = _note("This pilot has no eval set (<code>eval_set:</code> in the charter): "
                                    "nothing to label.")
        else:
            self.load()

    @property
    def run_id(self) -> str | None:
        return self.runs.get(self.model.value) if self.model.value else None

    def _set_label_buttons(self, enabled: bool) -> None:
        for b in (*self.label_buttons.values(), self.back_button):
            b.disabled = not enabled

    def load(self) -> threading.Thread:
        """Read the models and their runs from the newest complete pilot run."""
        from .decide.promotion import pilot_layout
        from .show.items_report import eval_texts, item_runs

        def job() -> tuple[dict[str, str], Any]:
            run = self.ctx.complete_pilot_run()
            return item_runs(self.ctx.charter, self.ctx.store, pilot_layout(self.ctx.charter, self.ctx.store, run)), \
                eval_texts(self.ctx.charter)

        def done(result: tuple[dict[str, str], Any]) -> None:
            self.runs, (self.texts, self._texts_note) = result
            names = list(self.runs)
            # a candidate first: that is what a GO would ship
            self.model.options = [*names[1:], *names[:1]]
            self.model.value = self.model.options[0] if names else None
            self.draw_button.disabled = not names
            self.body.value = _note(f"{len(names)} model(s) in the newest complete pilot run." if names
                                    else "The newest complete pilot run logged no per-item results.")

        return self._run("reading the newest pilot run", job, done, [self.load_button])

    def draw(self) -> None:
        """Draw the seeded sample of the chosen model's answers; start at the first item this
        reviewer has not labelled yet."""
        from .data.item_labels import read_labels, sample_items

        self.error.value = ""
        try:
            if self.run_id is None:
                raise WorkbenchError("no model chosen", where="Label panel", hint="press 'Read runs', then pick a model")
            wh = self.ctx.charter.warehouse_path
            self.sample = sample_items(wh, self.run_id, self.model.value, self.size.value, seed=self.seed.value)
            labels = read_labels(wh, [self.run_id])
            mine = labels[(labels["reviewer"] == self.reviewer.value.strip()) & (labels["candidate"] == self.model.value)]
            self.given = dict(zip(mine["item_id"].astype(str), mine["label"], strict=True))
        except Exception as exc:  # noqa: BLE001 - shown in the panel
            self.error.value = error_html(exc)
            return
        ids = [str(i) for i in self.sample["item_id"]]
        self.position = next((k for k, i in enumerate(ids) if i not in self.given), len(ids))
        self._show()

    def label(self, value: str) -> None:
        """Store ``value`` for the item on show, then show the next one."""
        from .data.item_labels import write_label

        if self.sample is None or self.position >= len(self.sample):
            return
        item_id = str(self.sample["item_id"].iloc[self.position])
        self.error.value = ""
        try:
            write_label(self.ctx.charter.warehouse_path, run_id=str(self.run_id), candidate=str(self.model.value),
                        item_id=item_id, label=value, reviewer=self.reviewer.value)
        except Exception as exc:  # noqa: BLE001 - shown in the panel
            self.error.value = error_html(exc)
            return
        self.given[item_id] = value
        self._move(+1)

    def _move(self, step: int) -> None:
        if self.sample is not None:
            self.position = max(0, min(len(self.sample), self.position + step))
            self._show()

    def _show(self) -> None:
        n = len(self.sample)
        done = sum(1 for i in self.sample["item_id"] if str(i) in self.given)
        self.progress.value = (f'<div class="wb-label-progress"><b>{_e(self.model.value)}</b>: '
                               f"{done} of {n} labelled (seed {_e(self.seed.value)})</div>")
        if self.position >= n:
            self.card.value = _note(f"All {n} items of this sample labelled. Draw another sample (a new seed) "
                                    "to label more.", _GREEN)
            self._set_label_buttons(False)
            self.back_button.disabled = n == 0
        else:
            row = self.sample.iloc[self.position]
            item_id = str(row["item_id"])
            if self.texts is not None:
                text = self.texts.get(item_id, "")
                shown = _e(text[:2000] + ("…" if len(text) > 2000 else ""))
            else:
                shown = f'<span style="color:{_GREY}">{_e(self._texts_note or "not shown")}</span>'
            error = row["error"]
            answer = f"(no answer: {error})" if isinstance(error, str) and error else str(row["output"])
            before = self.given.get(item_id)
            self.card.value = (
                f'<div class="wb-label-card" data-item="{_e(item_id)}" style="border:1px solid #d0d7de;'
                f'padding:8px 12px;margin:4px 0;max-width:900px">'
                f"<div><b>Item</b> <code>{_e(item_id)}</code> ({self.position + 1} of {n})"
                + (f" — you said <b>{_e(before)}</b>" if before else "") + "</div>"
                f'<div style="white-space:pre-wrap;margin:6px 0">{shown}</div>'
                f"<div><b>Expected:</b> {_e(row['expected'])}</div>"
                f"<div><b>Answer of {_e(self.model.value)}:</b> {_e(answer)}</div></div>")
            self._set_label_buttons(True)
            self.back_button.disabled = self.position == 0
        self._show_agreement()

    def _show_agreement(self) -> None:
        from .data.item_labels import item_verdicts, read_labels
        from .measure.review import agreement

        try:
            wh = self.ctx.charter.warehouse_path
            labels = read_labels(wh, [self.run_id])
            labels = labels[labels["candidate"] == self.model.value]
            a = agreement(labels, item_verdicts(wh, str(self.run_id), str(self.model.value))).get(str(self.model.value))
        except Exception as exc:  # noqa: BLE001 - shown in the panel
            self.agreement.value = error_html(exc)
            return
        if a is None or not a.compared:
            self.agreement.value = _note("No correct/wrong label on this model's run yet.")
            return
        kappa = "—" if a.kappa is None else f"{a.kappa:.2f}"
        self.agreement.value = (f'<div class="wb-label-agreement">Agreement with the metric on this run: '
                                f"<b>{a.share:.0%}</b> ({a.agree} of {a.compared} labels; {a.unsure} unsure; "
                                f"Cohen's kappa {kappa}; {a.reviewers} reviewer(s))</div>")


def label_panel(pilot: str | Path | Charter = "pilot.yaml", *, mlflow_url: str | None = DEFAULT_MLFLOW_URL) -> w.Widget:
    """The reviewer's labelling panel of an eval-set pilot (:class:`LabelPanel`); a charter
    that does not load gives a red message instead."""
    try:
        charter = pilot if isinstance(pilot, Charter) else load_charter(_resolve(pilot))
        return LabelPanel(_Context(charter, mlflow_url, _Worker()))
    except WorkbenchError as exc:
        return w.VBox([w.HTML(error_html(exc))])


# -- entry point ------------------------------------------------------------------------------


class ControlPanel(w.Tab):
    """The panels in tabs; ``.pilot``, ``.contracts``, ``.runs``, ``.promote``, ``.monitor``."""

    def __init__(self, charter: Charter, *, mlflow_url: str | None = DEFAULT_MLFLOW_URL) -> None:
        self.worker = _Worker()
        ctx = _Context(charter, mlflow_url, self.worker)
        self.pilot = PilotPanel(ctx)
        self.contracts = ContractsPanel(ctx)
        self.runs = RunsPanel(ctx)
        self.promote = PromotePanel(ctx)
        self.monitor = MonitorPanel(ctx)
        panels = [self.pilot, self.contracts, self.runs, self.promote, self.monitor]
        super().__init__(children=panels, titles=[p.title for p in panels])
        self.add_class("wb-control-panel")

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the background jobs (True when none is left running)."""
        return self.worker.wait(timeout)


def _resolve(pilot: str | Path) -> Path:
    path = Path(pilot)
    if path.is_absolute() or path.exists():
        return path
    from .steps.session import find_project_root  # a notebook's cwd is notebooks/, the charter is above

    return find_project_root() / path


def panel(pilot: str | Path | Charter = "pilot.yaml", *, mlflow_url: str | None = DEFAULT_MLFLOW_URL) -> w.Widget:
    """The control panel of a pilot: a Tab with the pilot, contracts, runs and promote panels.

    ``pilot``: the charter (a path, found in this folder or a parent, or a loaded Charter).
    ``mlflow_url``: where the MLflow UI is, for the links (None: ``http://127.0.0.1:$UI_PORT``,
    as ``make ui`` serves it: :func:`workbench.store.tracking.ui_base_url`). A charter that
    does not load gives a red message instead of the panels."""
    try:
        charter = pilot if isinstance(pilot, Charter) else load_charter(_resolve(pilot))
        return ControlPanel(charter, mlflow_url=mlflow_url)
    except WorkbenchError as exc:
        return w.VBox([w.HTML(error_html(exc))])
