"""MLflow conventions: the store, one experiment per pilot, parent and step runs, read-back.

The only module that imports mlflow (lazily: ~2.4 s). The store is
``sqlite:///<root>/mlruns/mlflow.db`` with artifacts under ``<root>/mlruns/artifacts``:
MLflow 3.17+ refuses the plain file store, and an explicit artifact root keeps it from
falling back to a default elsewhere. Runs are driven through ``MlflowClient`` with
explicit run ids — no global "active run" — so the driver and a notebook kernel can log
to the same run from different processes.

A fresh sqlite store is created (Alembic migrations, the Default experiment) under an
inter-process file lock, ``mlruns/.store.lock``: processes that open an empty ``mlruns/``
at once would otherwise run the migrations concurrently and can leave the database
half-migrated for good. ``init_store(root)`` does this ahead of ``mlflow server``.

A team tracking server instead (``Store.for_project``: ``$WORKBENCH_TRACKING_URI``, else the
charter's ``tracking_uri:``): an ``http(s)://`` URI of an ``mlflow server --serve-artifacts``.
Then there is no local file at all: the server proxies the artifacts (experiments are
created without an artifact location, so the server's ``mlflow-artifacts:/`` root applies),
no store is created here, and the locks live in the server's PostgreSQL
(:mod:`workbench.store.locks_pg`, ``$WORKBENCH_LOCK_URI``).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import socket
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from urllib.parse import unquote, urlparse
from typing import Any

from . import procs
from ..errors import TrackingError

__all__ = ["Store", "RunRef", "TAG", "FINGERPRINT_TAG", "CONTRACT_VERSION_TAG", "CONTRACTS_PASSED_TAG",
           "tags_under", "FINISHED", "FAILED", "KILLED", "RUNNING", "init_store",
           "wipe_store", "ui_base_url", "ui_url", "ui_path", "runs_view_url", "RUNS_VIEW_KEY",
           "UI_PORT_ENV", "TRACKING_URI_ENV", "LOCK_URI_ENV", "ITEMS_ARTIFACT", "item_table"]

FINISHED, FAILED, KILLED, RUNNING = "FINISHED", "FAILED", "KILLED", "RUNNING"
# an eval-set model's answers by item, as MLflow's table JSON (Session.log_items): what reuse,
# the champion gate, the judge's agreement and the scorecard read back
ITEMS_ARTIFACT = "items/{name}.json"
FINGERPRINT_TAG = "workbench.fingerprint."  # + table: the fingerprint a run read the table at
CONTRACT_VERSION_TAG = "workbench.contract_version."  # + table: the version of its contract a run checked
CONTRACTS_PASSED_TAG = "workbench.data.contracts.passed"  # the contracts step's verdict: true | false

# Tag names, in one place.
TAG = {
    "kind": "workbench.kind",  # pilot | step | interactive | decision
    "step": "workbench.step",
    "pilot": "workbench.pilot",
    "cache_key": "workbench.cache_key",
    "cached": "workbench.cached",
    "cached_from": "workbench.cached_from",
    "pid": "workbench.pid",
    "pid_started": "workbench.pid_started",  # the driver's process start time (epoch s): a reused PID is not the driver
    "host": "workbench.host",
    "git_commit": "workbench.git_commit",
    "git_dirty": "workbench.git_dirty",
    "charter_sha256": "workbench.charter_sha256",
    "failure": "workbench.failure",
    "parent": "mlflow.parentRunId",
    "notebook": "workbench.notebook",
    "role": "workbench.role",
    "partial": "workbench.partial",  # "true" on a pilot run of only some notebook steps (`run --step`)
    "candidate_key": "workbench.candidate_key",  # a candidate run's own cache key (steps/candidate_cache.py)
    # on an evaluate run: why the champion was not scored on its held-out rows (it trained on some of them)
    "champion_unpaired": "workbench.champion_unpaired",
}

UI_PORT_ENV = "UI_PORT"  # the port `make ui` serves the MLflow UI on (the Makefile's UI_PORT)
UI_URL_ENV = "WORKBENCH_MLFLOW_URL"  # or the UI's whole base URL, e.g. behind a proxy
TRACKING_URI_ENV = "WORKBENCH_TRACKING_URI"  # a team tracking server (http[s]://); wins over the charter's key
LOCK_URI_ENV = "WORKBENCH_LOCK_URI"  # the PostgreSQL that holds a team server's locks (workbench.store.locks_pg)
REMOTE_SCHEMES = ("http://", "https://")


def tags_under(tags: Mapping[str, str], prefix: str) -> dict[str, str]:
    """{table: value} of a run's tags named ``prefix`` + table (:data:`FINGERPRINT_TAG`,
    :data:`CONTRACT_VERSION_TAG`)."""
    return {k[len(prefix):]: v for k, v in tags.items() if k.startswith(prefix)}


def heldout_split(params: Mapping[str, Any]) -> dict[str, Any]:
    """The ``split.*`` parameters of a run that decide which rows it held out, as the modeling step
    records them: the training sample and the training rows' counts (``split.train_*``) aside."""
    return {k: v for k, v in params.items() if k.startswith("split.") and not k.startswith("split.train_")}


def item_table(text: str) -> Any:
    """A per-item table from MLflow's table JSON (:data:`ITEMS_ARTIFACT`), as a DataFrame."""
    import pandas as pd

    table = json.loads(text)
    return pd.DataFrame(table["data"], columns=table["columns"])


def ui_base_url() -> str:
    """Where the MLflow UI is served: $WORKBENCH_MLFLOW_URL, else a team tracking server's
    own ($WORKBENCH_TRACKING_URI), else http://127.0.0.1:$UI_PORT (5000 by default, as `make ui`).
    A Store knows better (:attr:`Store.ui_base`: also a charter's ``tracking_uri:``)."""
    url = os.environ.get(UI_URL_ENV, "").strip()
    if url:
        return url.rstrip("/")
    server = os.environ.get(TRACKING_URI_ENV, "").strip()
    if server.startswith(REMOTE_SCHEMES):
        return server.rstrip("/")
    port = os.environ.get(UI_PORT_ENV, "").strip() or "5000"
    return f"http://127.0.0.1:{port}"


def ui_path(experiment_id: str, run_id: str | None = None, artifact: str | None = None) -> str:
    """The part of a MLflow UI address after its base (``#/experiments/...``), in the
    model-training view: alone it is a link relative to whatever host and port serve the UI
    (as in a model version's description)."""
    root = f"#/experiments/{experiment_id}"
    view = "?workflowType=machine_learning"
    if run_id is None:
        return f"{root}/runs{view}"
    url = f"{root}/runs/{run_id}"
    return (f"{url}/artifactPath/{artifact}" if artifact else url) + view


# The MLflow 3 runs table takes its search, sort and date filters from the URL
# (searchFilter, orderByKey, orderByAsc, startTime...) but its columns only from a saved
# view: an experiment tag ``mlflow.sharedViewState.<key>`` (JSON of the table's state),
# opened with ``?viewStateShareKey=<key>`` (the UI's "Share" button writes the same).
RUNS_VIEW_KEY = "workbench"
SHARED_VIEW_TAG = "mlflow.sharedViewState."


def runs_view_state(metrics: Sequence[str], run_names: Sequence[tuple[str, int]] = ()) -> dict[str, Any]:
    """The runs table as the pilot's story reads: these metric columns in this order, newest
    run first, each header and each of ``run_names`` ((name, nesting depth)) shown in full
    (:mod:`.column_widths`)."""
    from .column_widths import DATE_COLUMN, DURATION_COLUMN, RUN_NAME_COLUMN, header_px, metric_column, run_name_px

    columns = [metric_column(m) for m in metrics]
    return {"selectedColumns": columns,
            "orderByKey": "attributes.start_time", "orderByAsc": False,
            # widths apply to the columns the order lists; the UI's own "Share" saves both the same way
            "columnOrder": [RUN_NAME_COLUMN, DATE_COLUMN, DURATION_COLUMN, *columns],
            "columnWidths": {RUN_NAME_COLUMN: run_name_px(run_names),
                             **{metric_column(m): header_px(m) for m in metrics}}}


def runs_view_url(base: str | None, experiment_id: str, *, saved_view: bool = True) -> str:
    """The experiment's runs table in the model-training view, with the saved view (headline
    metric columns, newest first) when the experiment has one (:meth:`Store.set_runs_view`)."""
    url = ui_url(base, experiment_id)
    return f"{url}&viewStateShareKey={RUNS_VIEW_KEY}" if saved_view else url


def ui_url(base: str | None, experiment_id: str, run_id: str | None = None, artifact: str | None = None) -> str:
    """A page of the MLflow UI in its model-training view (the MLflow 3 UI otherwise opens
    experiments and runs in its GenAI view): the experiment's runs table, a run, or one of
    its artifacts."""
    return f"{(base or ui_base_url()).rstrip('/')}/{ui_path(experiment_id, run_id, artifact)}"


os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
# the telemetry client phones home at import; this workplace has no network for it
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
# progress bars on artifact downloads would litter the CLI's and the notebooks' output
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
# with a tracking server MLflow prints "🏃 View run ... at: <url>" to stdout for every run ended;
# `workbench run` keeps stdout for its summary and the `outcome:` line
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")


def _safe_key(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "_-./ " else "_" for ch in name)[:250]


@dataclass(frozen=True)
class RunRef:
    run_id: str
    experiment_id: str
    name: str


class Store:
    """The project's MLflow store (tracking + registry) rooted at ``root/mlruns``, or a
    team tracking server (``tracking_uri="http://..."``).

    ``lock_uri`` and ``lock_scope`` matter for a server only: the PostgreSQL holding the
    locks, and what one lock covers there (the pilot's name: pilots of other names on the
    same server do not wait for each other)."""

    def __init__(self, root: Path | None = None, *, tracking_uri: str | None = None,
                 lock_uri: str | None = None, lock_scope: str | None = None) -> None:
        if tracking_uri is None:
            if root is None:
                raise TrackingError("no MLflow store given", hint="pass the project root or a tracking URI")
            mlruns = Path(root).resolve() / "mlruns"
            mlruns.mkdir(parents=True, exist_ok=True)
            tracking_uri = f"sqlite:///{mlruns / 'mlflow.db'}"
        self.tracking_uri = tracking_uri
        db = self._sqlite_db
        # a local store keeps its artifacts beside its database; a server proxies its own
        self.artifact_root: Path | None = db.parent / "artifacts" if db is not None else None
        self.lock_uri = lock_uri
        self.lock_scope = lock_scope
        self._server_checked = False
        self._artifact_dirs: dict[str, Path | None] = {}  # run id -> its artifacts' folder (local files)

    @classmethod
    def for_project(cls, root: Path, configured: str | None = None, *, scope: str | None = None) -> Store:
        """The store a pilot uses: ``$WORKBENCH_TRACKING_URI``, else ``configured`` (the
        charter's ``tracking_uri:``), else the embedded store under ``root/mlruns``.
        A server's locks are in ``$WORKBENCH_LOCK_URI``, one per ``scope`` (the pilot)."""
        from_env = os.environ.get(TRACKING_URI_ENV, "").strip()
        uri = from_env or (configured or "").strip()
        if not uri:
            return cls(root)
        where = f"${TRACKING_URI_ENV}" if from_env else "the charter's tracking_uri"
        if not uri.startswith((*REMOTE_SCHEMES, "sqlite:///")):
            raise TrackingError(f"{where} is {uri!r}: not the URL of an MLflow tracking server", where=where,
                                hint="give the server's http(s):// URL (e.g. http://127.0.0.1:5001, which "
                                "`make tracking-server` serves), or unset it to use the pilot's own store (mlruns/)")
        if "@" in uri.split("//", 1)[-1].split("/", 1)[0]:
            raise TrackingError(f"{where} carries credentials in the URL", where=where,
                                hint="put the server's user and password in MLFLOW_TRACKING_USERNAME and "
                                "MLFLOW_TRACKING_PASSWORD instead (MLflow's basic auth)")
        return cls(tracking_uri=uri.rstrip("/"), lock_uri=os.environ.get(LOCK_URI_ENV, "").strip() or None,
                   lock_scope=scope)

    @property
    def is_remote(self) -> bool:
        """True for a tracking server (http[s]://): no local database, artifacts proxied."""
        return self.tracking_uri.startswith(REMOTE_SCHEMES)

    @property
    def ui_base(self) -> str:
        """Where this store's MLflow UI is: a tracking server serves its own (at its URI);
        a local store's is `make ui`'s (:func:`ui_base_url`). $WORKBENCH_MLFLOW_URL wins."""
        if self.is_remote and not os.environ.get(UI_URL_ENV, "").strip():
            return self.tracking_uri.rstrip("/")
        return ui_base_url()

    @property
    def _sqlite_db(self) -> Path | None:
        """The database file of a local sqlite store; None for any other URI."""
        if not self.tracking_uri.startswith("sqlite:///"):
            return None
        path = self.tracking_uri.removeprefix("sqlite:///").split("?", 1)[0]
        return Path(path) if path and path != ":memory:" else None

    def ensure_created(self) -> None:
        """Create (or finish creating) a local sqlite store, safely across processes.

        Holds ``mlruns/.store.lock`` while MLflow first touches the database (migrations,
        the Default experiment, whose artifacts go under this store's artifact root rather
        than ``./mlruns/0`` of the current folder). Idempotent and cheap once done; a
        no-op for a remote URI. Call it before ``mlflow server`` opens the store."""
        self._open(client=False)

    @cached_property
    def client(self) -> Any:
        """MlflowClient, behind a guard that turns storage faults (disk full, permissions, a
        damaged mlflow.db) into a :class:`TrackingError` naming the file and the recovery."""
        return _GuardedClient(self._open(client=True), self)

    def storage_fault(self, exc: BaseException) -> TrackingError | None:
        """A TrackingError naming the file, the cause and the recovery when ``exc`` is a
        storage fault of this store; None for anything else (left to the caller)."""
        if isinstance(exc, TrackingError):
            return None
        import errno

        text = str(exc)
        low = text.lower()
        code = getattr(exc, "errno", None)
        db = self._sqlite_db
        filename = getattr(exc, "filename", None)
        if filename:
            where = str(filename)
        elif isinstance(exc, OSError):  # an artifact write: the files live under the artifact root
            where = str(self.artifact_root)
        else:
            where = str(db) if db is not None else self.tracking_uri
        first = (text.strip().splitlines() or [type(exc).__name__])[0][:300]
        if self.is_remote and (isinstance(exc, ConnectionError) or any(k in low for k in _UNREACHABLE)):
            return TrackingError(
                f"the tracking server {self.tracking_uri} did not answer ({first})", where=self.tracking_uri,
                hint="check that it runs (`workbench server status`; a local one: `make tracking-server`), then run "
                "again; runs left RUNNING are marked KILLED by the next pilot run. To work on the pilot's own "
                f"store instead: unset {TRACKING_URI_ENV}")
        folder = Path(where).parent
        if code in (errno.ENOSPC, errno.EDQUOT) or "database or disk is full" in low or "no space left" in low:
            return TrackingError(
                f"the disk is full: the MLflow store could not be written ({first})", where=where,
                hint=f"free space on the disk that holds {folder} (`df -h {folder}`), then run again; runs left "
                "RUNNING are marked KILLED by the next pilot run")
        if code in (errno.EACCES, errno.EROFS, errno.EPERM) or "readonly database" in low \
                or "read-only file system" in low or "permission denied" in low:
            return TrackingError(
                f"no permission to write the MLflow store ({first})", where=where,
                hint=f"make {folder} and its files writable by this user, then run again")
        if "database disk image is malformed" in low or "file is not a database" in low:
            return TrackingError(
                f"the MLflow store's database is damaged ({first})", where=where,
                hint=f"move {where} aside (e.g. to {Path(where).name}.broken) and run again: a new store is created. "
                "The runs, models and decisions recorded in the old one are gone unless you restore it from a "
                "backup; the warehouse and the raw data are not affected")
        if _locked(exc):
            return TrackingError(
                f"another process held the MLflow store's database for over {LOCKED_RETRY_S:.0f} s ({first})",
                where=where, hint=f"find it (`fuser {where}`) and let it finish or stop it, then run again")
        if "disk i/o error" in low or "unable to open database file" in low or isinstance(exc, OSError):
            return TrackingError(
                f"an I/O error on the MLflow store ({first})", where=where,
                hint="check the disk and the folder's permissions, then run again")
        return None

    def _open(self, *, client: bool) -> Any:
        try:
            import logging

            # first use of a fresh sqlite store runs Alembic migrations and logs each one
            logging.getLogger("alembic").setLevel(logging.WARNING)
            # MLflow logs every database error with its whole traceback (80 lines for a full
            # disk) before raising it; the TrackingError raised from it says what to do
            logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
            from mlflow.tracking import MlflowClient

            db = self._sqlite_db
            if db is None:  # a server is checked on the client's first call (_GuardedClient)
                return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri) if client else None
            from filelock import FileLock, Timeout
            from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

            db.parent.mkdir(parents=True, exist_ok=True)
            try:
                with FileLock(str(db.parent / ".store.lock"), timeout=_LOCK_TIMEOUT_S):
                    if self.tracking_uri not in _CREATED or not db.exists():
                        if not db.exists():  # a copy of an empty store already migrated (~3 s saved)
                            _copy_template(db)
                        # a store copied or moved with its folder still names the old place
                        # of its artifacts: point it at its own before anything is written
                        if db.exists():
                            relocate_artifacts(db, self.artifact_root)
                        # migrates a new database and creates the Default experiment with
                        # its artifacts under our root (MlflowClient would use ./mlruns)
                        SqlAlchemyStore(self.tracking_uri, self.artifact_root.resolve().as_uri())
                        _CREATED.add(self.tracking_uri)
                    return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri) if client else None
            except Timeout as exc:
                raise TrackingError(f"another process has held {exc.lock_file} for {_LOCK_TIMEOUT_S} s",
                                    where=self.tracking_uri,
                                    hint="wait for it to finish, or delete the lock file if no workbench process runs") from exc
        except TrackingError:
            raise
        except Exception as exc:  # noqa: BLE001 - wrap any store failure at the boundary
            fault = self.storage_fault(exc)
            if fault is not None:
                raise fault from exc
            raise TrackingError(f"cannot open the MLflow store: {str(exc).splitlines()[0][:300] if str(exc) else exc!r}",
                                where=self.tracking_uri,
                                hint="check that mlruns/ is writable; delete mlruns/mlflow.db only if it is corrupt") from exc

    def _check_server(self) -> None:
        """Fail fast, naming the server, when it does not answer (MLflow's own client
        retries a refused connection for about two minutes before it gives up)."""
        import urllib.error
        import urllib.request

        if self._server_checked:
            return
        try:
            with urllib.request.urlopen(f"{self.tracking_uri.rstrip('/')}/health", timeout=10):  # noqa: S310
                self._server_checked = True
                return
        except urllib.error.HTTPError:
            self._server_checked = True
            return  # it answers (an auth proxy may refuse /health): MLflow's calls will say more
        except (OSError, ValueError) as exc:
            raise TrackingError(
                f"the tracking server {self.tracking_uri} does not answer: {getattr(exc, 'reason', exc)}",
                where=self.tracking_uri,
                hint="start it (a local one: `make tracking-server`; `workbench server status` tells), or unset "
                f"{TRACKING_URI_ENV} (and the charter's tracking_uri) to use the pilot's own store") from exc

    def activate(self) -> None:
        """Point mlflow's process-wide URIs at this store.

        Some MLflow paths ignore the client's URIs and use the globals — resolving a
        `models:/<id>` source when registering a version, `log_model` — and would fall
        back to a `mlflow.db` in the current folder. Called before such operations."""
        import mlflow

        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)

    # -- experiments and runs -----------------------------------------------------------
    def experiment_id(self, name: str, *, create: bool = True) -> str | None:
        exp = self.client.get_experiment_by_name(name)
        if exp is not None:
            if exp.lifecycle_stage == "deleted":
                self.client.restore_experiment(exp.experiment_id)
            return exp.experiment_id
        if not create:
            return None
        try:
            if self.artifact_root is None:  # a server: its artifact root (proxied, mlflow-artifacts:/) applies
                return self.client.create_experiment(name)
            location = (self.artifact_root / name).resolve()
            location.mkdir(parents=True, exist_ok=True)
            return self.client.create_experiment(name, artifact_location=location.as_uri())
        except Exception as exc:  # noqa: BLE001 - a concurrent creator won the race
            exp = self.client.get_experiment_by_name(name)
            if exp is None:
                raise TrackingError(f"cannot create experiment '{name}': {exc}", where=self.tracking_uri) from exc
            return exp.experiment_id

    def start_run(self, experiment: str, name: str, *, tags: Mapping[str, str] | None = None,
                  parent: str | None = None) -> RunRef:
        exp_id = self.experiment_id(experiment)
        all_tags = {TAG["pid"]: str(os.getpid()), TAG["host"]: socket.gethostname(), **(tags or {})}
        started = procs.started(os.getpid())
        if started is not None and TAG["pid"] not in (tags or {}):
            all_tags[TAG["pid_started"]] = repr(started)
        if parent:
            all_tags[TAG["parent"]] = parent
        run = self.client.create_run(exp_id, run_name=name, tags={k: str(v) for k, v in all_tags.items()})
        return RunRef(run.info.run_id, exp_id, name)

    def end_run(self, run_id: str, status: str = FINISHED) -> None:
        self.client.set_terminated(run_id, status=status, end_time=int(time.time() * 1000))

    def status(self, run_id: str) -> str:
        return self.client.get_run(run_id).info.status

    # -- logging -------------------------------------------------------------------------
    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int = 0) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(_safe_key(k), float(v), now, step) for k, v in metrics.items() if v is not None and v == v]
        for i in range(0, len(items), 1000):  # log_batch caps a call at 1000 metrics
            self.client.log_batch(run_id, metrics=items[i : i + 1000], synchronous=True)

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(_safe_key(k), param_text(v)) for k, v in params.items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[i : i + 100], synchronous=True)

    def set_runs_view(self, experiment_id: str, metrics: Sequence[str], *, since_ms: int | None = None) -> None:
        """Save the runs table's view for :func:`runs_view_url`: these metric columns, newest
        first, the run name column as wide as the newest runs' names need.

        With ``since_ms`` (a pilot run's start), a saved view is left as it is when it already
        lists these columns and fits the names of the runs started since: reading the newest 500
        runs whole took ~1.7 s, twice in every pilot run of a project with a history."""
        from .column_widths import RUN_NAME_COLUMN

        key = SHARED_VIEW_TAG + RUNS_VIEW_KEY
        if since_ms is not None:
            saved = self.client.get_experiment(experiment_id).tags.get(key)
            if saved is not None:
                current = json.loads(saved)
                wanted = runs_view_state(metrics, self._run_names(experiment_id, since_ms=since_ms))
                widths = wanted["columnWidths"]
                widths[RUN_NAME_COLUMN] = max(widths[RUN_NAME_COLUMN],
                                              current.get("columnWidths", {}).get(RUN_NAME_COLUMN, 0))
                if wanted == current:
                    return
        self.client.set_experiment_tag(experiment_id, key, json.dumps(runs_view_state(metrics, self._run_names(experiment_id))))

    def _run_names(self, experiment_id: str, newest: int = 500, since_ms: int | None = None) -> list[tuple[str, int]]:
        """(name, nesting depth) of the experiment's newest runs (those the table shows first),
        or of those started at or after ``since_ms``."""
        runs = self.client.search_runs([experiment_id], max_results=newest, order_by=["attributes.start_time DESC"],
                                       filter_string=f"attributes.start_time >= {int(since_ms)}" if since_ms else "")
        parent = {r.info.run_id: r.data.tags.get("mlflow.parentRunId") for r in runs}

        def depth(run_id: str) -> int:
            level, up = 0, parent.get(run_id)
            while up and level < 10:
                level, up = level + 1, parent.get(up)
            return level

        return [(r.info.run_name or "", depth(r.info.run_id)) for r in runs]

    def has_runs_view(self, experiment_id: str) -> bool:
        try:
            return SHARED_VIEW_TAG + RUNS_VIEW_KEY in self.client.get_experiment(experiment_id).tags
        except Exception:  # noqa: BLE001 - no such experiment: no view
            return False

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(k, str(v)[:5000]) for k, v in tags.items()]
        if items:
            self.client.log_batch(run_id, tags=items, synchronous=True)

    def log_artifact(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(run_id, str(path), artifact_path)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self.client.log_text(run_id, text, artifact_file)

    def log_dict(self, run_id: str, data: Any, artifact_file: str) -> None:
        self.client.log_text(run_id, json.dumps(data, indent=2, sort_keys=True, default=str), artifact_file)

    def log_bytes(self, run_id: str, data: bytes, artifact_file: str) -> None:
        """``data`` as the artifact ``artifact_file`` (e.g. an already rendered PNG)."""
        folder, _, name = artifact_file.rpartition("/")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_bytes(data)
            self.client.log_artifact(run_id, str(path), folder or None)

    def log_datasets(self, run_id: str, fingerprints: list[dict], sources: Mapping[str, str], *,
                     context: str = "warehouse") -> None:
        """Table fingerprints as MLflow dataset inputs (name, digest, source, schema); ``context``
        says what the rows were to the run (``warehouse``, ``training``, ``held-out``, or per
        fingerprint under its ``context`` key)."""
        from mlflow.entities import Dataset, DatasetInput, InputTag

        inputs = []
        for fp in fingerprints:
            schema = {"mlflow_colspec": [{"name": c, "type": t} for c, t in fp["columns"]]}
            ds = Dataset(
                name=fp["table"],
                digest=fp["digest"],
                source_type="local",
                source=json.dumps({"uri": sources.get(fp["table"], "")}),
                schema=json.dumps(schema),
                profile=json.dumps({"num_rows": fp["rows"]}),
            )
            inputs.append(DatasetInput(ds, tags=[InputTag("mlflow.data.context", fp.get("context", context))]))
        if inputs:
            self.client.log_inputs(run_id, datasets=inputs)

    def log_sklearn_model(self, run_id: str, model: Any, name: str, *, input_example: Any,
                          output_example: Any = None) -> Any:
        """Log a model with signature and input example to ``run_id`` (no active run is used).

        The LoggedModel is created first in the run's own experiment, so its artifacts land
        under that experiment's artifact location: left to itself, MLflow 3 puts a model
        logged with ``run_id`` and no active run in the Default experiment.
        Requirements are given explicitly: inferring them imports and inspects the whole
        environment (~15 s here) for a list we already know."""
        import mlflow
        import mlflow.sklearn
        import sklearn
        from mlflow.models import infer_signature

        self.activate()
        run = self.client.get_run(run_id)
        logged = mlflow.initialize_logged_model(
            name=name, source_run_id=run_id, experiment_id=run.info.experiment_id,
            params={k: str(v) for k, v in run.data.params.items()},
        )
        try:
            with _without_mlflow_hints():
                signature = infer_signature(input_example, output_example)
                return mlflow.sklearn.log_model(
                    model, name=name, signature=signature, input_example=input_example, run_id=run_id,
                    model_id=logged.model_id,
                    pyfunc_predict_fn="predict_proba" if hasattr(model, "predict_proba") else "predict",
                    # skops refuses custom classes (our input guard); the model is our own code, not untrusted input
                    serialization_format="cloudpickle",
                    pip_requirements=[f"scikit-learn=={sklearn.__version__}", "pandas", "numpy", "workbench"],
                )
        except Exception as exc:
            fault = self.storage_fault(exc)
            if fault is None:
                raise
            raise fault from exc

    def load_model(self, model_uri: str) -> Any:
        """The Python object behind a logged or registered model (``models:/name/version``)."""
        import mlflow.sklearn

        self.activate()
        try:
            return mlflow.sklearn.load_model(model_uri)
        except Exception as exc:  # noqa: BLE001 - MLflow's own errors: say which model and what to do
            raise TrackingError(f"cannot load the model {model_uri}: {str(exc).splitlines()[0][:300]}",
                                where=self.tracking_uri,
                                hint="check the registry (`make ui`); the model's artifacts must be in this store") from exc

    def children(self, experiment: str, run_id: str) -> list[Any]:
        return self.find_runs(experiment, f"tags.`{TAG['parent']}` = '{run_id}'", max_results=1000)

    # -- read-back -------------------------------------------------------------------------
    def get_run(self, run_id: str) -> Any:
        return self.client.get_run(run_id)

    def find_runs(self, experiment: str, filter_string: str = "", *, max_results: int = 100,
                  order_by: list[str] | None = None) -> list[Any]:
        exp_id = self.experiment_id(experiment, create=False)
        if exp_id is None:
            return []
        runs = list(
            self.client.search_runs(
                [exp_id], filter_string=filter_string, max_results=max_results,
                order_by=order_by or ["attributes.start_time DESC"],
            )
        )
        if self._sqlite_db is not None:  # where their artifacts are, for reads in place (artifact_bytes)
            for run in runs:
                self._artifact_dirs.setdefault(run.info.run_id, _file_folder(run.info.artifact_uri))
        return runs

    def newest_pilot_run(self, experiment: str, *, complete: bool = True, finished: bool = True) -> Any | None:
        """The newest pilot run of the experiment; ``complete``: not a partial run (one
        started for some steps only); ``finished``: ended FINISHED. None when there is none."""
        where = f"tags.`{TAG['kind']}` = 'pilot'" + (" and attributes.status = 'FINISHED'" if finished else "")
        for run in self.find_runs(experiment, where, max_results=200):
            if not complete or run.data.tags.get(TAG["partial"]) != "true":
                return run
        return None

    def find_cached(self, experiment: str, cache_key: str) -> Any | None:
        """The newest FINISHED run that actually executed with this cache key."""
        runs = self.find_runs(
            experiment,
            f"tags.`{TAG['cache_key']}` = '{cache_key}' and attributes.status = 'FINISHED' "
            f"and tags.`{TAG['cached']}` = 'false'",
            max_results=1,
        )
        return runs[0] if runs else None

    def _artifact_dir(self, run_id: str) -> Path | None:
        """A local store's run's artifact folder (its ``file:`` artifact URI), else None."""
        if self._sqlite_db is None:
            return None
        if run_id not in self._artifact_dirs:
            self._artifact_dirs[run_id] = _file_folder(self.client.get_run(run_id).info.artifact_uri)
        return self._artifact_dirs[run_id]

    def artifact_bytes(self, run_id: str, artifact_path: str) -> bytes | None:
        """An artifact's bytes, None when it is absent. A local store's file is read in place:
        MLflow's download copies it to a temporary folder after a lookup of its own (~50 ms a
        file, which a decision trail or a scorecard pays for every record and figure)."""
        try:
            folder = self._artifact_dir(run_id)
        except Exception:  # noqa: BLE001 - an unknown run: absent, as a download would say
            return None
        if folder is not None:
            target = _inside(folder, artifact_path)
            try:
                return target.read_bytes() if target is not None else None
            except OSError:
                return None
        from mlflow.artifacts import download_artifacts

        with tempfile.TemporaryDirectory() as tmp:
            try:
                local = download_artifacts(run_id=run_id, artifact_path=artifact_path, dst_path=tmp,
                                           tracking_uri=self.tracking_uri)
                return Path(local).read_bytes()
            except Exception:  # noqa: BLE001 - absent artifact: the caller decides
                return None

    def artifact_names(self, run_id: str, path: str | None = None) -> list[str]:
        """The artifact paths directly under ``path`` of a run (as MLflow's ``list_artifacts``
        gives them: relative to the run's root), listed in place for a local store."""
        try:
            folder = self._artifact_dir(run_id)
            if folder is None:
                return [a.path for a in self.client.list_artifacts(run_id, path)]
            where = _inside(folder, path) if path else folder
            return sorted(f"{path}/{c.name}" if path else c.name for c in where.iterdir()) if where else []
        except Exception:  # noqa: BLE001 - no artifacts there
            return []

    def download_text(self, run_id: str, artifact_path: str) -> str | None:
        data = self.artifact_bytes(run_id, artifact_path)
        return None if data is None else data.decode("utf-8")

    def item_table(self, run_id: str, name: str) -> Any:
        """``name``'s answers by item as ``run_id`` logged them (:data:`ITEMS_ARTIFACT`), a
        DataFrame, or None when that run has none."""
        text = self.download_text(run_id, ITEMS_ARTIFACT.format(name=name))
        return None if text is None else item_table(text)

    def sweep_stale(self, experiment: str) -> list[str]:
        """Mark KILLED the RUNNING runs whose driver process on this host is gone."""
        host = socket.gethostname()
        killed = []
        for run in self.find_runs(experiment, "attributes.status = 'RUNNING'", max_results=500):
            tags = run.data.tags
            pid = tags.get(TAG["pid"])
            if tags.get(TAG["host"]) != host or not pid or not pid.isdigit():
                continue
            if procs.driver_gone(int(pid), tags.get(TAG["pid_started"])):
                self.set_tags(run.info.run_id, {TAG["failure"]: f"driver process {pid} died; marked KILLED"})
                self.end_run(run.info.run_id, KILLED)
                killed.append(run.info.run_id)
        return killed


def _file_folder(uri: str | None) -> Path | None:
    parsed = urlparse(uri or "")
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None


def _inside(folder: Path, path: str) -> Path | None:
    """``folder / path`` resolved, or None when it leaves ``folder`` (no artifact of that run)."""
    target = (folder / path).resolve()
    return target if folder.resolve() in target.parents else None


LOCKED_RETRY_S = 300.0  # how long a call on a locked sqlite store is retried before it fails
LOCKED_FIRST_PAUSE_S, LOCKED_MAX_PAUSE_S = 0.05, 2.0


def _locked(exc: BaseException) -> bool:
    """True for sqlite's "database is locked" (SQLITE_BUSY), however MLflow wraps it."""
    seen: BaseException | None = exc
    for _ in range(5):  # the exception and its causes
        if seen is None:
            return False
        low = str(seen).lower()
        if "database is locked" in low or "database table is locked" in low:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class _GuardedClient:
    """An MlflowClient whose calls raise :class:`TrackingError` for storage faults (see
    ``Store.storage_fault``); every other exception passes unchanged. On a local sqlite
    store a call refused because another process holds the database ("database is locked")
    is retried with backoff for up to ``LOCKED_RETRY_S``: concurrent writers lose nothing."""

    def __init__(self, client: Any, store: Store) -> None:
        self._client = client
        self._store = store

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr
        store = self._store

        def call(*args: Any, **kwargs: Any) -> Any:
            if store.is_remote:
                store._check_server()  # once: a server that does not answer is named at once
            waited, pause = 0.0, LOCKED_FIRST_PAUSE_S
            while True:
                try:
                    return attr(*args, **kwargs)
                except Exception as exc:
                    if store._sqlite_db is not None and _locked(exc) and waited < LOCKED_RETRY_S:
                        # another writer holds the sqlite file past its busy timeout (or sqlite
                        # refused at once to avoid a deadlock): the failed call was rolled back,
                        # so it is repeated as is, after a growing, jittered pause
                        slept = pause * random.uniform(0.5, 1.5)
                        time.sleep(slept)
                        waited += slept
                        pause = min(pause * 2, LOCKED_MAX_PAUSE_S)
                        continue
                    fault = store.storage_fault(exc)
                    if fault is None:
                        raise
                    raise fault from exc

        call.__name__ = name
        call.__doc__ = getattr(attr, "__doc__", None)
        return call


def init_store(root: Path | str) -> Store:
    """Create the project's store at ``root/mlruns`` safely (e.g. before ``mlflow server``)."""
    store = Store(Path(root))
    store.ensure_created()
    return store


def _lock_file(name: str) -> bool:
    return name == ".store.lock" or name.startswith((".pilot.", ".promotion."))


def wipe_store(mlruns: Path | str, backups: Path | str) -> Path:
    """Archive ``mlruns/`` to ``backups/mlruns-<UTC time>.tar.gz``, read the archive back,
    then delete the store (runs, registry, decision records, models). Refused while a
    pilot, an ingest or a promotion holds the store. Returns the archive's path."""
    import shutil
    import tarfile

    from . import locks

    mlruns, backups = Path(mlruns).resolve(), Path(backups).resolve()
    if not (mlruns / "mlflow.db").exists() and not (mlruns / "artifacts").exists():
        raise TrackingError("there is no store to wipe", where=str(mlruns), hint="nothing to do")
    if backups == mlruns or mlruns in backups.parents:
        raise TrackingError("the backup folder is inside the store it would back up", where=str(backups),
                            hint="put backups outside mlruns/ (the default is backups/ beside it)")
    with locks.promotion_lock(mlruns, what="wipe-store", wait_seconds=0), locks.pilot_lock(mlruns, what="wipe-store"):
        backups.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        archive = backups / f"mlruns-{stamp}.tar.gz"
        n = 1
        while archive.exists():
            n += 1
            archive = backups / f"mlruns-{stamp}-{n}.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(mlruns, arcname="mlruns", filter=lambda info: None if _lock_file(Path(info.name).name) else info)
        with tarfile.open(archive) as tar:  # reads every member back: a truncated archive fails here
            if not any(m.name == "mlruns/mlflow.db" for m in tar.getmembers()) and (mlruns / "mlflow.db").exists():
                raise TrackingError("the backup archive lacks mlflow.db; nothing was deleted", where=str(archive))
        for child in mlruns.iterdir():
            if child.name == ".gitkeep" or _lock_file(child.name):
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        _CREATED.discard(f"sqlite:///{mlruns / 'mlflow.db'}")
    return archive


_LOCK_TIMEOUT_S = 300
# what a connection failure to a tracking server reads like (requests/urllib3 through MlflowException)
_UNREACHABLE = ("max retries exceeded", "connection refused", "failed to establish a new connection",
                "remote end closed connection", "connection aborted", "read timed out")
_CREATED: set[str] = set()  # sqlite URIs this process has already created or checked


def _template_db() -> Path | None:
    """An empty store migrated by this MLflow version, made once per user under
    ``~/.cache/workbench`` ($XDG_CACHE_HOME): a new store starts as a copy of it instead of
    running MLflow's ~60 Alembic migrations (3-4 s a store). None when it cannot be made;
    the caller then migrates as before. ``WORKBENCH_STORE_TEMPLATE=0`` turns it off."""
    if os.environ.get("WORKBENCH_STORE_TEMPLATE", "1") == "0":
        return None
    try:
        import mlflow
        from filelock import FileLock
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        # under a `mlruns/` folder so relocate_artifacts recognises its artifact root in the copies
        folder = home / "workbench" / f"mlflow-{mlflow.__version__}-store" / "mlruns"
        db = folder / "mlflow.db"
        if db.is_file():
            return db
        folder.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder / ".store.lock"), timeout=_LOCK_TIMEOUT_S):
            if not db.is_file():
                part = folder / f"mlflow.{os.getpid()}.db"
                part.unlink(missing_ok=True)
                store = SqlAlchemyStore(f"sqlite:///{part}", (folder / "artifacts").as_uri())
                store.engine.dispose()  # every connection closed: the file is complete
                os.replace(part, db)  # whole or absent, for any other process
        return db
    except Exception:  # noqa: BLE001 - no template (read-only home, full disk): migrate the store itself
        return None


def _copy_template(db: Path) -> None:
    """Start the store at ``db`` as a copy of the migrated empty template (under the store's
    lock); nothing is written when there is no template."""
    import shutil

    template = _template_db()
    if template is None:
        return
    part = db.with_name(f".{db.name}.{os.getpid()}.new")
    try:
        shutil.copyfile(template, part)
        os.replace(part, db)
    except OSError:
        part.unlink(missing_ok=True)  # the store then migrates itself


def relocate_artifacts(db: Path, artifact_root: Path) -> list[str]:
    """Point a local store's artifact locations at ``artifact_root`` when they name another
    folder's ``mlruns/artifacts`` (the store was copied or moved with its pilot folder):
    every location that starts with the old root is rewritten, in one transaction, so the
    copy reads and writes only its own files and never the original's. Returns the old
    roots that were replaced (none for a store in its place). Uses sqlite directly: MLflow
    has no API to move an experiment's artifact location."""
    import sqlite3

    new = artifact_root.resolve()
    con = sqlite3.connect(str(db), timeout=_LOCK_TIMEOUT_S)
    try:
        try:
            locations = [r[0] for r in con.execute("SELECT artifact_location FROM experiments").fetchall()]
        except sqlite3.OperationalError:  # not migrated yet: nothing recorded
            return []
        olds: set[Path] = set()
        for loc in locations:
            path = _file_folder(loc) or Path(str(loc))
            parts = path.parts
            for i in range(len(parts) - 1):
                if parts[i:i + 2] == ("mlruns", "artifacts"):
                    old = Path(*parts[:i + 2])
                    if old != new and not (old.exists() and old.resolve() == new):
                        olds.add(old)
                    break
        if not olds:
            return []
        columns = []
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            for _cid, name, typ, *_ in con.execute(f'PRAGMA table_info("{table}")').fetchall():
                if any(t in (typ or "").upper() for t in ("CHAR", "TEXT", "CLOB")):
                    columns.append((table, name))
        with con:  # one transaction: all or nothing
            for old in sorted(olds, key=lambda p: len(str(p)), reverse=True):
                for before, after in ((old.as_uri(), new.as_uri()), (str(old), str(new))):
                    for table, column in columns:
                        con.execute(f'UPDATE "{table}" SET "{column}" = ? || substr("{column}", ?) '
                                    f'WHERE substr("{column}", 1, ?) = ?',
                                    [after, len(before) + 1, len(before), before])
        return sorted(str(o) for o in olds)
    finally:
        con.close()


def param_text(value: Any) -> str:
    """A parameter's value as the run records it (JSON but for text; cut at MLflow's limit)."""
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= 6000 else text[:5990] + "...(cut)"


@contextlib.contextmanager
def _without_mlflow_hints() -> Iterator[None]:
    """Two hints MLflow gives on every model the workbench logs, which say nothing to the analyst
    in every evaluate notebook; each is dropped while a model is logged, every other MLflow
    warning still shows:

    - that unpickling can run code (it recommends skops, which refuses the workbench's own model
      classes): the models are the workbench's own, written and read by it in its own store;
    - that a served model refuses a null in an integer column: the workbench's batch scoring
      declares such inputs as doubles itself (engines.base.scoring_copy); declared so at logging,
      MLflow would refuse the integers a batch brings instead."""
    import logging

    logger = logging.getLogger("mlflow.sklearn")

    def keep(record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Saving scikit-learn models in the pickle or cloudpickle format")

    logger.addFilter(keep)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer", category=UserWarning)
            yield
    finally:
        logger.removeFilter(keep)
