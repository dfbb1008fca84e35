"""The small API notebooks use: one object that knows its run and opens the warehouse.

Headless, the runner injects ``run_id``, ``tracking_uri`` and ``warehouse`` (and the
task, cost model and modeling spec) as papermill parameters and owns the run (the
notebook only logs to it). Opened by hand in JupyterLab those parameters keep their
``None`` defaults, and the same calls find the pilot — the charter named by the
``WORKBENCH_PILOT`` environment variable (``make lab PILOT=pilots/NAME`` sets it), else
the nearest ``pilot.yaml`` in the notebook's folder or above — load its charter and
create a run of their own in that pilot's store, ended when the notebook calls
:meth:`Session.finish` or the kernel exits. So the interactive and headless paths run
the same code.

Opening a session also makes matplotlib figures display as images (PNG) in the
notebook, whatever the backend: headless runs force a non-interactive one.

Personal data. Everything a session logs as text (JSON, HTML tables, text, tags,
parameters, a child run's failure) and every figure it logs or displays is checked
against the warehouse's personal-data columns (``pii: true`` in a contract) first: a PII
value is replaced by ``[personal data]`` (:func:`workbench.data.warehouse.redact`; the values
stay in DuckDB), and a figure whose tick labels would name one loses those labels.

Shell lines. A ``!cmd`` line that exits non-zero raises :class:`ShellCommandError`, so the
cell (and a headless step) fails instead of going on; the runner loads this module as an
IPython extension in every kernel it starts, and opening a session installs it by hand.
"""

from __future__ import annotations

import atexit
import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ShellCommandError, WorkbenchError

__all__ = ["Session", "session", "find_project_root", "find_charter", "PILOT_ENV", "install_shell_guard",
           "scrub_figure"]


PILOT_ENV = "WORKBENCH_PILOT"


def find_charter(start: Path | None = None) -> Path:
    """The charter a notebook opened by hand belongs to: $WORKBENCH_PILOT (a charter file
    or a pilot folder), else the nearest pilot.yaml from ``start`` (the cwd) upwards."""
    import os

    named = os.environ.get(PILOT_ENV)
    if named:
        path = Path(named).expanduser()
        path = path / "pilot.yaml" if path.is_dir() else path
        if not path.is_file():
            raise ConfigError(f"{PILOT_ENV}={named} names no charter", where=str(path),
                              hint="set it to a pilot folder (pilots/NAME) or its pilot.yaml, or unset it")
        return path.resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pilot.yaml").is_file():
            return folder / "pilot.yaml"
    raise ConfigError(
        "no pilot.yaml found in this folder or any parent",
        where=str(here),
        hint=f"start JupyterLab with `make lab PILOT=pilots/NAME` (it sets {PILOT_ENV}), or open the notebook "
        "from inside the pilot's folder",
    )


def find_project_root(start: Path | None = None) -> Path:
    return find_charter(start).parent


def figure_png(fig: Any, scrub: Any = None) -> bytes:
    """The figure as PNG bytes, drawn as few times as possible: once, or twice when ``scrub``
    (texts -> texts with personal data withheld, see :func:`scrub_figure`) had something to
    withhold — the texts are read from the first drawing, and only bytes drawn after the
    scrub are ever returned. A figure logged and then displayed (as the step notebooks do)
    is drawn once; a change to it afterwards (matplotlib marks it stale) draws it again."""
    cached = getattr(fig, "_workbench_png", None)
    if cached is not None and not fig.stale and (cached[1] or scrub is None):
        return cached[0]
    data = _png_bytes(fig)
    if scrub is not None and scrub_figure(fig, scrub, drawn=True):
        data = _png_bytes(fig)
    fig._workbench_png = (data, scrub is not None)
    fig.stale = False  # savefig restores the figure's dpi and face colour, which marks it stale
    return data


def _split_moved(own_tags: Mapping[str, str], champion_evaluate: Any, params: Mapping[str, Any]) -> str:
    """How the split differs (``split.seed 0 then, 1 now``) when the champion's evaluate run read the
    very tables this run reads (the same fingerprints) under another split, else ''. A training
    sample drawn otherwise is no other split: the held-out rows stay the same."""
    from ..store.tracking import FINGERPRINT_TAG, heldout_split, param_text, tags_under

    def split(values: Mapping[str, Any]) -> dict[str, str]:  # what draws the rows, as recorded; not what it counted
        return {k: param_text(v) for k, v in heldout_split(values).items()
                if k not in ("split.eval_rows", "split.dropped_null_target")}

    ours = tags_under(own_tags, FINGERPRINT_TAG)
    if not ours or tags_under(champion_evaluate.data.tags, FINGERPRINT_TAG) != ours:
        return ""
    then, now = split(champion_evaluate.data.params), split(params)
    if not then or then == now or _trained_before(then, now):
        return ""
    return ", ".join(f"{k} {then.get(k, 'unset')} then, {now.get(k, 'unset')} now"
                     for k in sorted(set(then) | set(now)) if then.get(k) != now.get(k))


def _trained_before(then: Mapping[str, str], now: Mapping[str, str]) -> bool:
    """Both temporal on the same column, and the champion's training period ended before this run's
    held-out period begins (the window rolled forward): it never saw these rows."""
    import json

    if not (then.get("split.kind") == now.get("split.kind") == "temporal"
            and then.get("split.column") == now.get("split.column")):
        return False
    try:
        trained, held = json.loads(then["split.train"]), json.loads(now["split.evaluate"])
        return type(trained[1]) is type(held[0]) and trained[1] < held[0]
    except (KeyError, ValueError, TypeError, IndexError):
        return False


def _png_bytes(fig: Any) -> bytes:
    import io

    buf = io.BytesIO()
    # no tight bounding box: every workbench figure has its layout (constrained, or fixed
    # spacing), and the extra layout pass costs a second drawing
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def _kernel_shell() -> Any:
    """The running IPython shell, or None outside one."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with every kernel
        return None
    return get_ipython()


def _show_figures_as_images() -> None:
    """Register a PNG formatter for matplotlib Figures in the running IPython kernel.

    A bare ``Figure`` shown with ``display()`` renders as an image only when the inline
    backend registered this formatter, which a forced ``MPLBACKEND=Agg`` prevents."""
    shell = _kernel_shell()
    if shell is None:
        return
    from matplotlib.figure import Figure

    def png(fig: Figure) -> bytes:
        # the latest session knows the warehouse's personal-data columns
        return figure_png(fig, _OPENED[-1].figure_scrubber() if _OPENED else None)

    formatter = shell.display_formatter.formatters["image/png"]
    formatter.for_type(Figure, png)


def install_shell_guard(shell: Any = None) -> None:
    """Make a ``!cmd`` line that exits non-zero raise :class:`ShellCommandError` (IPython only
    records the status in ``_exit_code`` and goes on). Idempotent; a no-op outside IPython."""
    shell = shell if shell is not None else _kernel_shell()
    if shell is None or getattr(shell, "_workbench_shell_guard", False):
        return
    original = shell.system

    def system(cmd: str) -> Any:
        result = original(cmd)
        status = shell.user_ns.get("_exit_code", 0)
        if status:
            shown = cmd if len(cmd) <= 120 else cmd[:117] + "..."
            raise ShellCommandError(f"the shell line `!{shown}` exited with status {status} "
                                    "(fix the command; if a failure is expected there, end it with `|| true`)")
        return result

    shell.system = system
    shell._workbench_shell_guard = True


def load_ipython_extension(ipython: Any) -> None:
    """``--IPKernelApp.extensions=workbench.steps.session``: the runner's kernels fail on a failing ``!cmd``."""
    install_shell_guard(ipython)


def scrub_figure(fig: Any, scrub: Any, *, drawn: bool = False) -> bool:
    """Replace personal data in every text element of ``fig`` (titles, labels, legends,
    annotations; tick labels are blanked on the axis that shows one). ``scrub`` maps a
    list of texts to the same texts redacted. True if anything was changed; raises
    :class:`WorkbenchError` if personal data is still drawn afterwards. ``drawn``: the
    figure was just drawn as it is (its tick labels exist), so the first look needs no
    drawing of its own."""
    from matplotlib.ticker import NullFormatter

    def texts() -> list[Any]:
        from matplotlib.text import Text

        nonlocal drawn
        if not drawn:
            fig.draw_without_rendering()  # tick labels exist only once drawn
        drawn = False
        return [t for t in fig.findobj(Text) if t.get_text()]

    found = texts()
    raw = [t.get_text() for t in found]
    # titles, axis labels and legends are the notebook's labels: the project's words stay there;
    # tick labels can be data values, judged as values
    ticks = {id(t) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)
             for t in axis.get_ticklabels(minor=False) + axis.get_ticklabels(minor=True)}
    is_tick = [id(t) in ticks for t in found]
    clean = _scrub_parts(scrub, raw, is_tick)
    if clean == raw:
        return False
    for text, before, after in zip(found, raw, clean, strict=True):
        if before != after:
            text.set_text(after)
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            labels = [t.get_text() for t in axis.get_ticklabels(minor=False) + axis.get_ticklabels(minor=True)]
            if scrub(labels) != labels:
                axis.set_major_formatter(NullFormatter())
                axis.set_minor_formatter(NullFormatter())
                axis.set_label_text(f"{axis.get_label_text()} (labels withheld: personal data)".strip())
    again_found = texts()
    again = [t.get_text() for t in again_found]
    ticks = {id(t) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)
             for t in axis.get_ticklabels(minor=False) + axis.get_ticklabels(minor=True)}
    if _scrub_parts(scrub, again, [id(t) in ticks for t in again_found]) != again:
        raise WorkbenchError("a figure still shows personal data after its labels were withheld",
                             where=f"figure '{fig.texts[0].get_text() if fig.texts else fig}'",
                             hint="do not draw values of columns marked `pii: true`; plot counts instead")
    return True


def _scrub_parts(scrub: Any, raw: list[str], is_tick: list[bool]) -> list[str]:
    """``raw`` scrubbed: tick labels as values, the other texts as labels (``names=True``)."""
    ticks = scrub([t for t, k in zip(raw, is_tick, strict=True) if k])
    try:
        labels = scrub([t for t, k in zip(raw, is_tick, strict=True) if not k], names=True)
    except TypeError:  # a scrubber that knows no labels: everything judged as values
        labels = scrub([t for t, k in zip(raw, is_tick, strict=True) if not k])
    it_t, it_l = iter(ticks), iter(labels)
    return [next(it_t) if k else next(it_l) for k in is_tick]


_OPENED: list[Session] = []  # sessions opened in this process, newest last (for the PNG formatter)


class Session:
    """A step's run and warehouse, for logging from a notebook."""

    def __init__(self, *, run_id: str, store: Any, warehouse: Path, pilot: str, step: str, owns_run: bool,
                 charter: Any = None) -> None:
        self.run_id = run_id
        self.store = store
        self.warehouse = warehouse
        self.pilot = pilot
        self.step = step
        self.owns_run = owns_run
        self.charter = charter
        # the task and cost model the step is judged by (injected headless, the charter's by hand)
        self.task: Any = charter.task if charter is not None else None
        self.cost: Any = charter.cost if charter is not None else None
        self.spec: Any = charter.modeling() if charter is not None else None
        self._finished = False
        self._pii: dict[str, frozenset[str]] | None = None
        # headless (session() under the runner): the warehouse is held open to the end of a cell, see connect()
        self.keep_warehouse = False
        self._kept = False
        # the charter's engine block, its folder and file (injected headless; the charter's by hand)
        self.engine_spec: Any = charter.engine if charter is not None else None
        self.root: Path | None = charter.root if charter is not None else None
        self.charter_path: Path | None = charter.path if charter is not None else None
        if owns_run:
            atexit.register(self.finish)

    @property
    def interactive(self) -> bool:
        return self.owns_run

    # -- data ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def connect(self) -> Iterator[Any]:
        """A read-only DuckDB connection, closed on exit so no person's kernel keeps the file
        locked. A headless step's session holds one open to the end of the cell (or :meth:`finish`
        outside a kernel), so each connection of the cell shares it instead of opening the file
        again (warehouse.keep_open); a later cell of the step may open the file as it likes."""
        from ..data import warehouse

        if self.keep_warehouse and not self._kept:
            self._kept = warehouse.keep_open(self.warehouse)
            if self._kept:
                _after_this_cell(self._let_go)
        con = warehouse.connect_read_only(self.warehouse)
        try:
            yield con
        finally:
            con.close()

    def tables(self) -> list[str]:
        """The pilot's tables: the charter's sources when it is loaded (by hand), else the
        tables ingest loaded into the warehouse (headless)."""
        if self.charter is not None:
            return list(self.charter.sources)
        from ..data.warehouse import META_TABLE

        with self.connect() as con:
            return [r[0] for r in con.execute(f"SELECT table_name FROM {META_TABLE} ORDER BY 1").fetchall()]

    def data_engine(self) -> Any:
        """The pilot's data engine (:mod:`workbench.data.engines`): DuckDB on this warehouse
        unless the charter says ``engine: {kind: spark}``."""
        from ..charter.config import Engine
        from ..data.engines import engine_at

        return engine_at(self.engine_spec or Engine(), root=self.root or Path("."), warehouse=self.warehouse,
                         charter_path=self.charter_path)

    def profile(self, table: str, *, bins: int = 20, top_k: int = 10, reference: Any = None) -> Any:
        """:func:`workbench.data.profiling.profile_table` of ``table``, computed by the pilot's
        engine (on Spark: on the lake's table), its personal-data columns as counts only."""
        return self.data_engine().profile(table, bins=bins, top_k=top_k, reference=reference,
                                          pii=self.personal_columns().get(table, frozenset()))

    def query(self, sql: str, params: list | None = None) -> Any:
        """Run a query on the warehouse and return a pandas DataFrame (via Arrow, the fast path)."""
        with self.connect() as con:
            # sql(), not execute(): DuckDB 2 copies the rows once more for Arrow out of an execute() result
            return con.sql(sql, params=params or None).to_arrow_table().to_pandas()

    # -- personal data -------------------------------------------------------------------
    def personal_columns(self) -> dict[str, frozenset[str]]:
        """{table: columns} marked ``pii: true`` in the contracts (recorded in the warehouse)."""
        if self._pii is None:
            from ..errors import WarehouseError
            from ..data.warehouse import pii_columns

            try:
                with self.connect() as con:
                    self._pii = pii_columns(con)
            except WarehouseError:
                return {}  # no warehouse yet: nothing recorded, nothing to look up (not cached)
        return self._pii

    def redact(self, texts: list[str], *, names: bool = False) -> list[str]:
        """``texts`` with every personal-data value replaced by ``[personal data]``. When the
        warehouse cannot be read to check, texts that could hold values are withheld.
        ``names``: the texts are labels (see :func:`workbench.data.warehouse.redact`)."""
        pii = self.personal_columns()
        if not pii or not any(texts):
            return list(texts)
        from ..data.warehouse import redact

        try:
            with self.connect() as con:
                return redact(con, texts, pii=pii, names=names, keep=self._names())
        except Exception:  # noqa: BLE001 - cannot check: do not let unchecked text out
            return ["[withheld: could not be checked for personal data]" if t else t for t in texts]

    def _names(self) -> frozenset[str]:
        """The pilot's own names (never withheld): the charter's when loaded, else the pilot and step."""
        if self.charter is not None:
            from ..data.warehouse import charter_names

            return charter_names(self.charter)
        return frozenset({self.pilot, self.step})

    def _clean(self, text: str) -> str:
        return self.redact([text])[0]

    def scrub_figure(self, figure: Any) -> bool:
        """Withhold personal data drawn in ``figure`` (see :func:`scrub_figure`)."""
        scrub = self.figure_scrubber()
        return scrub_figure(figure, scrub) if scrub is not None else False

    def figure_scrubber(self) -> Any:
        """What :func:`figure_png` scrubs a figure's texts with: None when the warehouse
        holds no personal data."""
        return self.redact if self.personal_columns() else None

    # -- logging ---------------------------------------------------------------------------
    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        self.store.log_metrics(self.run_id, metrics)

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.store.log_params(self.run_id, self._clean_mapping(params))

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self.store.set_tags(self.run_id, self._clean_mapping(tags))

    def _clean_mapping(self, values: Mapping[str, Any]) -> dict[str, Any]:
        keys = [k for k, v in values.items() if isinstance(v, str)]
        if not keys or not self.personal_columns():
            return dict(values)
        clean = self.redact([values[k] for k in keys])
        return {**values, **dict(zip(keys, clean, strict=True))}

    def log_dict(self, data: Any, artifact_file: str) -> None:
        import json

        # keys are names: only the values are checked
        data = json.loads(json.dumps(data, default=str))
        slots: list[tuple[Any, Any]] = []

        def walk(node: Any) -> None:
            items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
            for key, value in items:
                if isinstance(value, str) and value:
                    slots.append((node, key))
                else:
                    walk(value)

        walk(data)
        if slots and self.personal_columns():
            for (node, key), value in zip(slots, self.redact([n[k] for n, k in slots]), strict=True):
                node[key] = value
        self.store.log_text(self.run_id, json.dumps(data, indent=2, sort_keys=True), artifact_file)

    def log_text(self, text: str, artifact_file: str) -> None:
        self.store.log_text(self.run_id, self._clean(text), artifact_file)

    def log_prompt(self, candidate: str, template: str) -> Any:
        """Register an LLM candidate's prompt template in MLflow's prompt registry as
        ``<pilot>.<candidate>`` (a new version only when its text changed), link it to this run
        and log ``llm.prompt_uri`` / ``llm.prompt_version``: :mod:`workbench.store.prompts`."""
        from ..store.prompts import prompt_name, register_template

        ref = register_template(self.store, prompt_name(self.pilot, candidate), self._clean(template),
                                run_id=self.run_id, tags={"workbench.pilot": self.pilot, "workbench.candidate": candidate})
        self.log_params({"llm.prompt_uri": ref.uri, "llm.prompt_version": ref.version})
        return ref

    def log_figure(self, figure: Any, artifact_file: str) -> None:
        self.store.log_bytes(self.run_id, figure_png(figure, self.figure_scrubber()), artifact_file)

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        self.store.log_artifact(self.run_id, Path(path), artifact_path)

    def log_table(self, frame: Any, artifact_file: str) -> None:
        """A DataFrame (or a pandas Styler) as an HTML table, numbers readable
        (:mod:`workbench.formatting`), for the MLflow UI's artifact view."""
        from ..formatting import styled

        style = frame if type(frame).__name__ == "Styler" else styled(frame)
        self.store.log_text(self.run_id, self._clean(style.to_html()), artifact_file)

    # -- read-back ---------------------------------------------------------------------------
    def previous_runs(self, *, step: str | None = None, max_results: int = 20) -> list[Any]:
        """Earlier FINISHED runs of a step of this pilot (newest first), this run excluded."""
        from ..store.tracking import TAG

        step = step or self.step
        runs = self.store.find_runs(
            self.pilot,
            f"tags.`{TAG['step']}` = '{step}' and attributes.status = 'FINISHED'",
            max_results=max_results + 1,
        )
        return [r for r in runs if r.info.run_id != self.run_id][:max_results]

    def previous_artifact(self, artifact_path: str, *, step: str | None = None) -> tuple[str, str] | None:
        """(run id, text) of the newest earlier run of the step that has this artifact."""
        from ..store.tracking import TAG

        for run in self.previous_runs(step=step):
            source = run.data.tags.get(TAG["cached_from"], run.info.run_id)
            text = self.store.download_text(source, artifact_path)
            if text is not None:
                return source, text
        return None

    def _pilot_run_id(self) -> str | None:
        """The pilot (parent) run this step run belongs to; None for a run opened by hand."""
        from ..store.tracking import TAG

        try:
            return self.store.get_run(self.run_id).data.tags.get(TAG["parent"])
        except Exception:  # noqa: BLE001 - an unreadable run has no parent to offer
            return None

    @property
    def primary_metric(self) -> str | None:
        """The charter's primary metric (by hand), else the one recorded on the pilot run."""
        if self.charter is not None:
            return self.charter.primary_metric
        parent = self._pilot_run_id()
        if parent is None:
            return None
        try:
            return self.store.get_run(parent).data.params.get("primary_metric")
        except Exception:  # noqa: BLE001
            return None

    def baseline_evidence(self) -> dict[str, Any] | None:
        """The baseline's evidence bundle, to judge a candidate against (see
        :mod:`workbench.show.evaluation_report`): headless, the baseline step of this pilot run; by
        hand, the newest finished run of the charter's baseline step. None when there is none."""
        from ..show.evaluation_report import load_bundle
        from ..store.tracking import FINISHED, TAG

        source: str | None = None
        parent = self._pilot_run_id()
        if parent is not None:
            runs = [r for r in self.store.children(self.pilot, parent)
                    if r.data.tags.get(TAG["role"]) == "baseline" and r.info.status == FINISHED]
            if runs:
                newest = max(runs, key=lambda r: r.info.start_time)
                source = newest.data.tags.get(TAG["cached_from"]) or newest.info.run_id
        elif self.charter is not None:
            for step in (s for s in self.charter.steps if s.role == "baseline"):
                runs = self.previous_runs(step=step.name, max_results=1)
                if runs:
                    source = runs[0].data.tags.get(TAG["cached_from"]) or runs[0].info.run_id
                    break
        return None if source is None else load_bundle(self.store, source, name="baseline")

    def log_assessment(self, result: Any, *, prefix: str, reference: dict[str, Any] | None = None,
                       primary_metric: str | None = None) -> dict[str, Any]:
        """Log one model's :class:`~workbench.measure.modeling.Assessment` to this run: its
        metrics, the JSON details (the evidence bundle), the slice table, the figures and the
        evaluation report (``evaluation/report.html``, against ``reference`` — the baseline's
        bundle — when given). Returns the figures, to display."""
        from ..show.evaluation_report import ARTIFACT, render_evaluation_report

        curves = result.curves()
        self.log_metrics(result.metrics())
        self.log_dict(result.quality.to_dict(), f"{prefix}/quality.json")
        self.log_dict(result.timing.to_dict(), f"{prefix}/timing.json")
        self.log_dict(result.probes.to_dict(), f"{prefix}/probes.json")
        self.log_dict(curves, f"{prefix}/curves.json")
        if result.slices is not None:
            self.log_dict(result.slices.to_dict(), f"{prefix}/slices.json")
            self.log_table(result.slices.to_frame(), f"{prefix}/slices.html")
        figs = result.figures(curves=curves, reference=reference)
        for name, fig in figs.items():
            self.log_figure(fig, f"figures/{name}.png")
        bundle = result.bundle(run_id=self.run_id, curves=curves)
        report = render_evaluation_report(bundle, reference, primary_metric=primary_metric or self.primary_metric)
        self.log_text(report, ARTIFACT)
        return figs

    def data_checks(self, data: Any, *, carried_from: str | None = None) -> tuple[Any, Any]:
        """The leakage findings (:func:`workbench.measure.leakage.check_data`) and the shift
        (:func:`workbench.measure.shift.compare_data`) of ``data``, logged to this run.
        ``carried_from``: an earlier evaluate run the runner found on the very same data, feature
        view, split, task, contracts, notebook, code and environment (``data_checks_from``):
        the checks are deterministic, so its results are carried over and the run tagged with
        where they came from. Computed when it is None or its results cannot be read."""
        import json

        from ..measure import leakage, shift

        carried = None
        if carried_from:
            try:
                found = self.store.download_text(carried_from, "leakage/findings.json")
                shifted = self.store.download_text(carried_from, "shift/columns.json")
                if found is not None and shifted is not None:
                    carried = (leakage.findings_from_json(json.loads(found)), shift.shift_from_json(json.loads(shifted)))
            except Exception:  # noqa: BLE001 - unreadable: computed again below
                carried = None
        if carried is None or carried[1] is None:
            findings, shifted = leakage.check_data(data, self.task, self.spec.split), shift.compare_data(data)
        else:
            findings, shifted = carried
            self.set_tags({"workbench.data_checks_from": carried_from})
        self.log_leakage(findings)
        self.log_shift(shifted)
        return findings, shifted

    def log_leakage(self, findings: Any) -> None:
        """Log the leakage checks' findings (:func:`workbench.measure.leakage.check_data`) to
        this run: ``leakage/findings.json`` and the metric ``leakage.findings``. The
        ``leakage`` gate reads them back (an evaluate run without them cannot GO)."""
        rows = [f.to_dict() for f in findings]
        self.log_dict({"findings": rows}, "leakage/findings.json")
        self.log_metrics({"leakage.findings": float(len(rows))})

    def log_shift(self, report: Any) -> None:
        """Log a :class:`~workbench.measure.shift.ShiftReport` (training against held-out
        rows) to this run: ``shift/columns.json``, ``shift/columns.html`` and its metrics
        (``shift.max_psi``, ``shift.unseen_share_max``), which a ``shift`` gate reads."""
        self.log_dict(report.to_dict(), "shift/columns.json")
        if report.columns:
            self.log_table(report.to_frame(), "shift/columns.html")
        self.log_metrics(report.metrics())
    def log_comparison(self, comparison: Any, *, logged: list[str] | None = None) -> None:
        """Log a :class:`~workbench.measure.modeling.compare.Comparison` to this run: the held-out
        counts (``heldout.*``, what the sample-size gate reads), ``compare.<reference>.*`` for
        the ``logged`` metrics (default: the primary metric; the runs table stays narrow) and
        the full evidence, every metric and slice, as ``compare/<reference>.json``."""
        from ..measure.modeling.compare import ARTIFACT

        primary = self.primary_metric
        chosen = logged if logged is not None else ([primary] if primary else None)
        if chosen is not None:
            chosen = [m for m in chosen if m.startswith("quality.")]
        counts = {"heldout.rows": float(comparison.heldout_rows)}
        if comparison.repeats:  # eval items asking an input again: not in heldout.rows
            counts["heldout.repeats"] = float(comparison.repeats)
        if comparison.groups:  # a group split: its groups are the units the gate counts too
            counts["heldout.groups"] = float(comparison.groups)
        classes = comparison.class_counts
        if classes is not None and set(classes) == {"positive", "negative"}:
            counts["heldout.positives"] = float(classes["positive"])
            counts["heldout.negatives"] = float(classes["negative"])
        elif classes:  # any number of classes: the gate reads every class from compare/<reference>.json
            counts["heldout.classes"] = float(len(classes))
            counts["heldout.min_class_rows"] = float(min(classes.values()))
        self.log_metrics({**counts, **{k: v for k, v in comparison.metrics(chosen).items()
                                       if not k.endswith(".rows")}})
        self.log_dict(comparison.to_dict(), ARTIFACT.format(reference=comparison.reference))

    def load_model(self, model_uri: str) -> Any:
        """A registered or logged model (e.g. the champion, ``models:/<name>/<version>``)."""
        return self.store.load_model(model_uri)

    def champion_scores(self, champion: Mapping[str, Any], data: Any, *, keep: Sequence[str] = (), like: Any) -> Any:
        """The champion's scores on ``data``'s held-out rows: kept by the run that logged its
        model (``scores/<name>.parquet``) when that run's evaluate step had this run's data key
        (the same rows, feature view, split, code and environment: the very scores it would
        give again), else its model loaded and scored. ``like``: scores of the same rows
        (today's rule's), which a kept file is matched to. None, with the reason in the run's
        ``champion_unpaired`` tag, when the champion was trained on another split of the same
        tables: its model has seen some of these rows, and a comparison on them would hold a
        candidate to a champion's memory (promotion then judges point values, and says why)."""
        import tempfile

        from mlflow.artifacts import download_artifacts

        from ..measure import modeling
        from ..measure.modeling.heldout import ScoredRows
        from ..store.tracking import TAG
        from .candidate_cache import SCORES_ARTIFACT, T_DATA_KEY

        with contextlib.suppress(Exception):  # anything unreadable: scored again below
            own_tags = self.store.get_run(self.run_id).data.tags
            mine = own_tags.get(T_DATA_KEY)
            source = self.store.get_run(champion["run_id"])
            parent = self.store.get_run(source.data.tags[TAG["parent"]])
            name = source.data.params.get("candidate") or source.info.run_name
            moved = _split_moved(own_tags, parent, data.params())
            if moved:
                self.set_tags({TAG["champion_unpaired"]: (
                    f"champion v{champion['version']} was trained on another split of these tables ({moved}): some "
                    "of these held-out rows were its training rows, where its scores are flattered, so it is judged "
                    "on what its own run measured on its own held-out rows")})
                return None
            if mine and parent.data.tags.get(T_DATA_KEY) == mine:
                artifact = SCORES_ARTIFACT.format(name=name)
                with tempfile.TemporaryDirectory() as tmp:
                    local = download_artifacts(run_id=source.info.run_id, artifact_path=artifact, dst_path=tmp,
                                               tracking_uri=self.store.tracking_uri)
                    scored = ScoredRows.from_parquet(Path(local), like)
                self.set_tags({"workbench.champion_scores_from": source.info.run_id})
                return scored
        return modeling.score(self.load_model(champion["uri"]), data, task=self.task, keep=list(keep))

    def champion_items(self, champion: Mapping[str, Any] | None, data: Any) -> Any:
        """The champion's answers by item, as its run logged them (``items/<name>.json``), when
        that run answered this very eval set (the same ``eval_set.fingerprint``): what each
        candidate is compared with, paired, for the champion gate. None without a champion, or
        when it answered another eval set (the gate then says it judged point values)."""
        from ..store.tracking import TAG

        if not champion or not champion.get("run_id"):
            return None
        with contextlib.suppress(Exception):  # anything unreadable: no paired comparison
            source = self.store.get_run(champion["run_id"])
            parent = self.store.get_run(source.data.tags[TAG["parent"]])
            name = source.data.params.get("candidate") or source.info.run_name
            if parent.data.params.get("eval_set.fingerprint") == str(data.params()["eval_set.fingerprint"]):
                return self.logged_items(source.info.run_id, name)
        return None

    @contextlib.contextmanager
    def child(self, name: str, *, kind: str = "candidate", tags: Mapping[str, Any] | None = None,
              description: str | None = None, data: Any = None) -> Iterator[Session]:
        """A nested run under this step (e.g. one per candidate), ended FINISHED, or FAILED
        if the block raises; the runner also closes it should the kernel die. It carries a
        description (MLflow's ``mlflow.note.content``) and, given the step's modeling ``data``,
        its training and held-out rows as dataset inputs with their fingerprints."""
        from ..store.tracking import FAILED, FINISHED, TAG

        note = description or (f"**{kind.capitalize()} {name}** of step `{self.step}`, pilot `{self.pilot}`: "
                               "trained on the training rows and measured on the held-out rows listed under "
                               "Datasets (their digests tell whether two runs saw the same rows); its metrics "
                               "use the names of the metric registry, its evaluation report is under Artifacts.")
        run = self.store.start_run(self.pilot, name, parent=self.run_id,
                                   tags={TAG["kind"]: kind, TAG["step"]: self.step, TAG["pilot"]: self.pilot,
                                         f"workbench.{kind}": name, "mlflow.note.content": self._clean(note),
                                         **(tags or {})})
        if data is not None:
            self.store.log_datasets(run.run_id, data.fingerprints(), {})
        child = Session(run_id=run.run_id, store=self.store, warehouse=self.warehouse, pilot=self.pilot,
                        step=self.step, owns_run=False, charter=self.charter)
        child._pii = self._pii
        try:
            yield child
        except BaseException as exc:
            with contextlib.suppress(Exception):
                self.store.set_tags(run.run_id, {TAG["failure"]: self._clean(f"{type(exc).__name__}: {exc}"[:4000])})
            self.store.end_run(run.run_id, FAILED)
            raise
        self.store.end_run(run.run_id, FINISHED)

    # -- each candidate cached on its own (workbench.steps.candidate_cache) -----------------------
    def candidate_tags(self, name: str, keys: Mapping[str, str] | None, source: str | None) -> dict[str, str]:
        """The tags of a candidate's run: its own cache key, and whether it is a copy of an earlier
        run of the same candidate (``source``) — the run its results came from."""
        from ..store.tracking import TAG
        from .candidate_cache import T_CANDIDATE_KEY

        tags = {TAG["cached"]: "true" if source else "false"}
        if keys and name in keys:
            tags[T_CANDIDATE_KEY] = keys[name]
        if source:
            tags[TAG["cached_from"]] = source
            tags["mlflow.note.content"] = (f"**Candidate {name}**, cached: nothing it depends on changed since run "
                                           f"{source}, whose metrics, artifacts and model this run carries; its "
                                           "held-out scores were compared again with today's rule and the champion "
                                           "as measured now (`compare/`).")
        return tags

    def log_scores(self, scored: Any, name: str) -> None:
        """Keep a model's held-out scores by row (``scores/<name>.parquet``), so a later run that
        reuses it compares it again on the same rows (:meth:`reuse_candidate`)."""
        import tempfile

        from .candidate_cache import SCORES_ARTIFACT

        with tempfile.TemporaryDirectory() as tmp:
            path = scored.to_parquet(Path(tmp) / Path(SCORES_ARTIFACT.format(name=name)).name)
            self.store.log_artifact(self.run_id, path, str(Path(SCORES_ARTIFACT.format(name=name)).parent))

    def reuse_candidate(self, source: str, name: str, *, like: Any) -> tuple[Any, dict[str, float]]:
        """Carry an earlier run of this candidate (same key) into this run: its parameters, its
        metrics but the comparisons, its artifacts but ``compare/``, and its logged model (linked,
        not copied). Returns its held-out scores next to the rows ``like`` scored (to compare them
        again) and the metrics it carried."""
        from ..measure.modeling.heldout import ScoredRows
        from .candidate_cache import SCORES_ARTIFACT

        carried, scored = self._carry(source, lambda local: ScoredRows.from_parquet(
            local / SCORES_ARTIFACT.format(name=name), like))
        return scored, carried

    def reuse_items(self, source: str, name: str) -> tuple[Any, dict[str, float]]:
        """:meth:`reuse_candidate` for an eval-set candidate: its answers by item (the table
        :meth:`log_items` logged, also written again to ``item_results`` under this run, where
        reviewer labels and the scorecard look) and the metrics it carried; its answers are
        compared again with today's way's as measured now."""
        from ..data.item_results import write_item_results
        from ..store.tracking import ITEMS_ARTIFACT, item_table

        kept = ITEMS_ARTIFACT.format(name=name)

        def read(local: Path) -> Any:  # the table as downloaded to be copied: not fetched a second time
            path = local / kept
            return item_table(path.read_text(encoding="utf-8")) if path.is_file() else None

        carried, rows = self._carry(source, read)
        if rows is None:  # reusable() asked for the table: a run without it is never offered
            raise WorkbenchError(f"candidate '{name}': run {source} kept no answers ({kept}) to reuse",
                                 where=f"MLflow run {source}", hint="run the pilot again with --force")
        write_item_results(self.warehouse, rows, run_id=self.run_id, step=self.step, candidate=name)
        return rows, carried

    def _carry(self, source: str, read: Any) -> tuple[dict[str, float], Any]:
        """Copy ``source``'s parameters, metrics but ``compare.*``, artifacts but ``compare/`` and
        logged model (linked) into this run; ``read(local artifact folder)`` before it goes."""
        import tempfile

        from mlflow.artifacts import download_artifacts
        from mlflow.entities import LoggedModelOutput

        src = self.store.get_run(source)
        carried = {k: v for k, v in src.data.metrics.items() if not k.startswith("compare.")}
        self.store.log_params(self.run_id, dict(src.data.params))
        self.log_metrics(carried)
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(download_artifacts(run_id=source, dst_path=tmp, tracking_uri=self.store.tracking_uri))
            for entry in sorted(local.iterdir()):
                if entry.name == "compare":
                    continue
                if entry.is_dir():
                    self.store.client.log_artifacts(self.run_id, str(entry), entry.name)
                else:
                    self.store.client.log_artifact(self.run_id, str(entry))
            value = read(local)
        models = [LoggedModelOutput(o.model_id, o.step) for o in (src.outputs.model_outputs if src.outputs else [])]
        if models:
            self.store.client.log_outputs(self.run_id, models)
        return carried, value

    def log_model(self, model: Any, name: str, *, input_example: Any, output_example: Any = None) -> Any:
        """Log a scikit-learn model with its signature and an input example."""
        return self.store.log_sklearn_model(self.run_id, model, name, input_example=input_example,
                                            output_example=output_example)

    # -- eval-set pilots (workbench.measure.items) ----------------------------------------------
    def eval_set_items(self, pilot_root: str | Path | None = None) -> tuple[Any, Path]:
        """The eval set's data (:class:`~workbench.measure.items.data.ItemData`: eval items,
        training items, corpus) read from the warehouse, and the folder its relative paths
        (a ``module:function`` candidate, an extraction schema) start from: ``pilot_root`` as
        the runner injects it, by hand the charter's folder."""
        from ..measure.items import load_items

        root = Path(pilot_root) if pilot_root else (self.charter.root if self.charter is not None else Path("."))
        with self.connect() as con:
            return load_items(con, self.spec.eval_set, root=root), root

    def log_items(self, result: Any) -> None:
        """Log one model's answers on the eval items (an :class:`~workbench.measure.items.run.ItemRun`):
        its metrics, ``items/<name>.summary.json``, the per-item table as an MLflow table artifact
        (``items/<name>.json``: output, correctness, latency, error per item; no input text)
        and the same rows in DuckDB (``items.duckdb`` beside the warehouse, table ``item_results``)."""
        from ..data.item_results import write_item_results
        from ..store.tracking import ITEMS_ARTIFACT

        self.log_metrics(result.metrics())
        if getattr(result, "judge_params", None):  # answer pilots: the judge's model and prompt hash, on the run
            self.log_params(result.judge_params)
        self.log_dict(result.to_dict(), f"items/{result.name}.summary.json")
        rows = result.items.copy()
        rows["output"] = rows["output"].astype("string")
        self.store.client.log_table(self.run_id, data=rows, artifact_file=ITEMS_ARTIFACT.format(name=result.name))
        write_item_results(self.warehouse, rows, run_id=self.run_id, step=self.step, candidate=result.name)

    def log_overlap(self, findings: list[dict[str, Any]]) -> None:
        """Eval items that also occur among the training items (:func:`workbench.measure.items.data.overlap_findings`),
        logged as leakage findings: the implicit leakage gate reads them (none: it passes)."""
        self.log_dict({"findings": findings}, "leakage/findings.json")
        self.log_metrics({"leakage.findings": float(len(findings))})

    def logged_items(self, run_id: str | None, name: str) -> Any:
        """The per-item table :meth:`log_items` logged for ``name`` on ``run_id`` (a DataFrame),
        or None when that run has none."""
        return self.store.item_table(run_id, name) if run_id else None

    def baseline_run_id(self) -> str | None:
        """The run holding the baseline step's results: this pilot run's baseline step (or the
        run it was cached from); by hand, the newest finished one. None when there is none."""
        from ..store.tracking import FINISHED, TAG

        parent = self._pilot_run_id()
        if parent is not None:
            runs = [r for r in self.store.children(self.pilot, parent)
                    if r.data.tags.get(TAG["role"]) == "baseline" and r.info.status == FINISHED]
            if not runs:
                return None
            newest = max(runs, key=lambda r: r.info.start_time)
            return newest.data.tags.get(TAG["cached_from"]) or newest.info.run_id
        if self.charter is not None:
            for step in (s for s in self.charter.steps if s.role == "baseline"):
                runs = self.previous_runs(step=step.name, max_results=1)
                if runs:
                    return runs[0].data.tags.get(TAG["cached_from"]) or runs[0].info.run_id
        return None

    def _let_go(self) -> None:
        if self._kept:
            from ..data.warehouse import release

            self._kept = False
            release(self.warehouse)

    def finish(self, status: str = "FINISHED") -> None:
        """End the run if this session created it (interactive); under the runner, let go of
        the warehouse it held open."""
        self._let_go()
        if self.owns_run and not self._finished:
            self._finished = True
            with contextlib.suppress(Exception):
                self.store.end_run(self.run_id, status)


def _after_this_cell(work: Any) -> None:
    """Do ``work`` once the running kernel cell ends (nothing outside a kernel)."""
    shell = _kernel_shell()
    if shell is None:
        return

    def once(*_: Any) -> None:
        shell.events.unregister("post_run_cell", once)
        work()

    shell.events.register("post_run_cell", once)


def _read_spark_view(opened: Session) -> None:
    """By hand on a Spark pilot: read the feature view the pilot computed on Spark (the rows
    and order it trained on) while it is current; else the notebook runs the SQL itself."""
    from ..data.engines import current_feature_view, reading_feature_view

    with contextlib.suppress(Exception), opened.connect() as con:  # no warehouse yet: nothing to read
        if current_feature_view(opened.charter, con):  # a feature view is declared, and current
            opened.spec = reading_feature_view(opened.spec)


def session(
    step: str,
    *,
    run_id: str | None = None,
    tracking_uri: str | None = None,
    warehouse: str | Path | None = None,
    pilot_name: str | None = None,
    task: dict | None = None,
    cost_model: dict | None = None,
    spec: dict | None = None,
    engine: dict | None = None,
    pilot_root: str | None = None,
    charter_path: str | None = None,
    **_: Any,
) -> Session:
    """Open the step's session: the injected run when headless, a new run when by hand.

    ``task``, ``cost_model``, ``spec`` and ``engine`` (with ``pilot_root`` and ``charter_path``)
    are the injected parameters of the same names; when they are None (by hand) the session
    takes the charter's."""
    from ..charter.config import CostModel, Engine, ModelSpec, Task
    from ..store.tracking import TAG, Store

    _show_figures_as_images()
    install_shell_guard()

    if run_id and tracking_uri and warehouse:
        store = Store(tracking_uri=tracking_uri)
        pilot = pilot_name or store.client.get_experiment(store.get_run(run_id).info.experiment_id).name
        opened = Session(run_id=run_id, store=store, warehouse=Path(warehouse), pilot=pilot, step=step,
                         owns_run=False)
        opened.keep_warehouse = True
    else:
        from ..charter.config import load_charter

        charter = load_charter(find_charter(), check_files=False)
        store = (Store(tracking_uri=tracking_uri) if tracking_uri
                 else Store.for_project(charter.root, charter.tracking_uri, scope=charter.name))
        run = store.start_run(charter.name, f"{step} (interactive)",
                              tags={TAG["kind"]: "interactive", TAG["step"]: step, TAG["pilot"]: charter.name,
                                    TAG["cached"]: "false"})
        opened = Session(run_id=run.run_id, store=store,
                         warehouse=Path(warehouse) if warehouse else charter.warehouse_path,
                         pilot=charter.name, step=step, owns_run=True, charter=charter)
        if charter.engine.kind == "spark":
            _read_spark_view(opened)
    if task:
        opened.task = Task(**task)
    if cost_model:
        opened.cost = CostModel(**cost_model)
    if spec:
        opened.spec = ModelSpec.model_validate(spec)
    if engine:
        opened.engine_spec = Engine.model_validate(engine)
    if pilot_root:
        opened.root = Path(pilot_root)
    if charter_path:
        opened.charter_path = Path(charter_path)
    _OPENED.append(opened)
    return opened
