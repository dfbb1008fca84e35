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
"""

from __future__ import annotations

import atexit
import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = ["Session", "session", "find_project_root", "find_charter", "PILOT_ENV"]


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


def _show_figures_as_images() -> None:
    """Register a PNG formatter for matplotlib Figures in the running IPython kernel.

    A bare ``Figure`` shown with ``display()`` renders as an image only when the inline
    backend registered this formatter, which a forced ``MPLBACKEND=Agg`` prevents."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with every kernel
        return
    shell = get_ipython()
    if shell is None:
        return
    import io

    from matplotlib.figure import Figure

    def png(fig: Figure) -> bytes:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight", dpi=100)
        return buf.getvalue()

    formatter = shell.display_formatter.formatters["image/png"]
    formatter.for_type(Figure, png)


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
        if owns_run:
            atexit.register(self.finish)

    @property
    def interactive(self) -> bool:
        return self.owns_run

    # -- data ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def connect(self) -> Iterator[Any]:
        """A read-only DuckDB connection, closed on exit so no kernel keeps the file locked."""
        from .warehouse import connect_read_only

        con = connect_read_only(self.warehouse)
        try:
            yield con
        finally:
            con.close()

    def query(self, sql: str, params: list | None = None) -> Any:
        """Run a query on the warehouse and return a pandas DataFrame (via Arrow, the fast path)."""
        with self.connect() as con:
            return con.execute(sql, params or []).to_arrow_table().to_pandas()

    # -- logging ---------------------------------------------------------------------------
    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        self.store.log_metrics(self.run_id, metrics)

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.store.log_params(self.run_id, params)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self.store.set_tags(self.run_id, tags)

    def log_dict(self, data: Any, artifact_file: str) -> None:
        self.store.log_dict(self.run_id, data, artifact_file)

    def log_text(self, text: str, artifact_file: str) -> None:
        self.store.log_text(self.run_id, text, artifact_file)

    def log_figure(self, figure: Any, artifact_file: str) -> None:
        self.store.log_figure(self.run_id, figure, artifact_file)

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        self.store.log_artifact(self.run_id, Path(path), artifact_path)

    def log_table(self, frame: Any, artifact_file: str) -> None:
        """A DataFrame as an HTML table (readable in the MLflow UI's artifact view)."""
        self.store.log_text(self.run_id, frame.to_html(index=False, border=0), artifact_file)

    # -- read-back ---------------------------------------------------------------------------
    def previous_runs(self, *, step: str | None = None, max_results: int = 20) -> list[Any]:
        """Earlier FINISHED runs of a step of this pilot (newest first), this run excluded."""
        from .tracking import TAG

        step = step or self.step
        runs = self.store.find_runs(
            self.pilot,
            f"tags.`{TAG['step']}` = '{step}' and attributes.status = 'FINISHED'",
            max_results=max_results + 1,
        )
        return [r for r in runs if r.info.run_id != self.run_id][:max_results]

    def previous_artifact(self, artifact_path: str, *, step: str | None = None) -> tuple[str, str] | None:
        """(run id, text) of the newest earlier run of the step that has this artifact."""
        from .tracking import TAG

        for run in self.previous_runs(step=step):
            source = run.data.tags.get(TAG["cached_from"], run.info.run_id)
            text = self.store.download_text(source, artifact_path)
            if text is not None:
                return source, text
        return None

    @contextlib.contextmanager
    def child(self, name: str, *, kind: str = "candidate", tags: Mapping[str, Any] | None = None) -> Iterator[Session]:
        """A nested run under this step (e.g. one per candidate), ended FINISHED, or FAILED
        if the block raises; the runner also closes it should the kernel die."""
        from .tracking import FAILED, FINISHED, TAG

        run = self.store.start_run(self.pilot, name, parent=self.run_id,
                                   tags={TAG["kind"]: kind, TAG["step"]: self.step, TAG["pilot"]: self.pilot,
                                         f"workbench.{kind}": name, **(tags or {})})
        child = Session(run_id=run.run_id, store=self.store, warehouse=self.warehouse, pilot=self.pilot,
                        step=self.step, owns_run=False, charter=self.charter)
        try:
            yield child
        except BaseException as exc:
            with contextlib.suppress(Exception):
                self.store.set_tags(run.run_id, {TAG["failure"]: f"{type(exc).__name__}: {exc}"[:4000]})
            self.store.end_run(run.run_id, FAILED)
            raise
        self.store.end_run(run.run_id, FINISHED)

    def log_model(self, model: Any, name: str, *, input_example: Any, output_example: Any = None) -> Any:
        """Log a scikit-learn model with its signature and an input example."""
        return self.store.log_sklearn_model(self.run_id, model, name, input_example=input_example,
                                            output_example=output_example)

    def finish(self, status: str = "FINISHED") -> None:
        """End the run if this session created it (interactive); a no-op under the runner."""
        if self.owns_run and not self._finished:
            self._finished = True
            with contextlib.suppress(Exception):
                self.store.end_run(self.run_id, status)


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
    **_: Any,
) -> Session:
    """Open the step's session: the injected run when headless, a new run when by hand.

    ``task``, ``cost_model`` and ``spec`` are the injected parameters of the same names;
    when they are None (by hand) the session takes the charter's."""
    from .config import CostModel, ModelSpec, Task
    from .tracking import TAG, Store

    _show_figures_as_images()

    if run_id and tracking_uri and warehouse:
        store = Store(tracking_uri=tracking_uri)
        pilot = pilot_name or store.client.get_experiment(store.get_run(run_id).info.experiment_id).name
        opened = Session(run_id=run_id, store=store, warehouse=Path(warehouse), pilot=pilot, step=step,
                         owns_run=False)
    else:
        from .config import load_charter

        charter = load_charter(find_charter(), check_files=False)
        store = Store(tracking_uri=tracking_uri) if tracking_uri else Store(charter.root)
        run = store.start_run(charter.name, f"{step} (interactive)",
                              tags={TAG["kind"]: "interactive", TAG["step"]: step, TAG["pilot"]: charter.name,
                                    TAG["cached"]: "false"})
        opened = Session(run_id=run.run_id, store=store,
                         warehouse=Path(warehouse) if warehouse else charter.warehouse_path,
                         pilot=charter.name, step=step, owns_run=True, charter=charter)
    if task:
        opened.task = Task(**task)
    if cost_model:
        opened.cost = CostModel(**cost_model)
    if spec:
        opened.spec = ModelSpec.model_validate(spec)
    return opened
