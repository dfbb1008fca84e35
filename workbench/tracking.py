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
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from .errors import TrackingError

__all__ = ["Store", "RunRef", "TAG", "FINISHED", "FAILED", "KILLED", "RUNNING", "init_store"]

FINISHED, FAILED, KILLED, RUNNING = "FINISHED", "FAILED", "KILLED", "RUNNING"

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
}

os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
# the telemetry client phones home at import; this workplace has no network for it
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
# progress bars on artifact downloads would litter the CLI's and the notebooks' output
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def _safe_key(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "_-./ " else "_" for ch in name)[:250]


@dataclass(frozen=True)
class RunRef:
    run_id: str
    experiment_id: str
    name: str


class Store:
    """The project's MLflow store (tracking + registry) rooted at ``root/mlruns``."""

    def __init__(self, root: Path | None = None, *, tracking_uri: str | None = None) -> None:
        if tracking_uri is None:
            if root is None:
                raise TrackingError("no MLflow store given", hint="pass the project root or a tracking URI")
            mlruns = Path(root).resolve() / "mlruns"
            mlruns.mkdir(parents=True, exist_ok=True)
            tracking_uri = f"sqlite:///{mlruns / 'mlflow.db'}"
        self.tracking_uri = tracking_uri
        db = Path(tracking_uri.removeprefix("sqlite:///"))
        self.artifact_root = db.parent / "artifacts"

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
        return self._open(client=True)

    def _open(self, *, client: bool) -> Any:
        try:
            import logging

            # first use of a fresh sqlite store runs Alembic migrations and logs each one
            logging.getLogger("alembic").setLevel(logging.WARNING)
            from mlflow.tracking import MlflowClient

            db = self._sqlite_db
            if db is None:
                return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri) if client else None
            from filelock import FileLock, Timeout
            from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

            db.parent.mkdir(parents=True, exist_ok=True)
            try:
                with FileLock(str(db.parent / ".store.lock"), timeout=_LOCK_TIMEOUT_S):
                    if self.tracking_uri not in _CREATED or not db.exists():
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
            raise TrackingError(f"cannot open the MLflow store: {exc}", where=self.tracking_uri,
                                hint="check that mlruns/ is writable; delete mlruns/mlflow.db only if it is corrupt") from exc

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
        location = (self.artifact_root / name).resolve()
        location.mkdir(parents=True, exist_ok=True)
        try:
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
        started = _started(os.getpid())
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

        items = [Param(_safe_key(k), _short(v)) for k, v in params.items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[i : i + 100], synchronous=True)

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

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> None:
        self.client.log_figure(run_id, figure, artifact_file)

    def log_datasets(self, run_id: str, fingerprints: list[dict], sources: Mapping[str, str]) -> None:
        """Table fingerprints as MLflow dataset inputs (name, digest, source, schema)."""
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
            inputs.append(DatasetInput(ds, tags=[InputTag("mlflow.data.context", "warehouse")]))
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
        signature = infer_signature(input_example, output_example)
        return mlflow.sklearn.log_model(
            model, name=name, signature=signature, input_example=input_example, run_id=run_id,
            model_id=logged.model_id,
            pyfunc_predict_fn="predict_proba" if hasattr(model, "predict_proba") else "predict",
            # skops refuses custom classes (our input guard); the model is our own code, not untrusted input
            serialization_format="cloudpickle",
            pip_requirements=[f"scikit-learn=={sklearn.__version__}", "pandas", "numpy", "workbench"],
        )

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
        return list(
            self.client.search_runs(
                [exp_id], filter_string=filter_string, max_results=max_results,
                order_by=order_by or ["attributes.start_time DESC"],
            )
        )

    def find_cached(self, experiment: str, cache_key: str) -> Any | None:
        """The newest FINISHED run that actually executed with this cache key."""
        runs = self.find_runs(
            experiment,
            f"tags.`{TAG['cache_key']}` = '{cache_key}' and attributes.status = 'FINISHED' "
            f"and tags.`{TAG['cached']}` = 'false'",
            max_results=1,
        )
        return runs[0] if runs else None

    def download_text(self, run_id: str, artifact_path: str) -> str | None:
        from mlflow.artifacts import download_artifacts

        with tempfile.TemporaryDirectory() as tmp:
            try:
                local = download_artifacts(run_id=run_id, artifact_path=artifact_path, dst_path=tmp,
                                           tracking_uri=self.tracking_uri)
            except Exception:  # noqa: BLE001 - absent artifact: the caller decides
                return None
            return Path(local).read_text(encoding="utf-8")

    def sweep_stale(self, experiment: str) -> list[str]:
        """Mark KILLED the RUNNING runs whose driver process on this host is gone."""
        host = socket.gethostname()
        killed = []
        for run in self.find_runs(experiment, "attributes.status = 'RUNNING'", max_results=500):
            tags = run.data.tags
            pid = tags.get(TAG["pid"])
            if tags.get(TAG["host"]) != host or not pid or not pid.isdigit():
                continue
            if _driver_gone(int(pid), tags.get(TAG["pid_started"])):
                self.set_tags(run.info.run_id, {TAG["failure"]: f"driver process {pid} died; marked KILLED"})
                self.end_run(run.info.run_id, KILLED)
                killed.append(run.info.run_id)
        return killed


def init_store(root: Path | str) -> Store:
    """Create the project's store at ``root/mlruns`` safely (e.g. before ``mlflow server``)."""
    store = Store(Path(root))
    store.ensure_created()
    return store


_LOCK_TIMEOUT_S = 300
_CREATED: set[str] = set()  # sqlite URIs this process has already created or checked
_START_TOLERANCE_S = 1.0  # psutil derives start times from the boot time, which may shift by a second


def _started(pid: int) -> float | None:
    """The process start time (epoch seconds), None if unknown."""
    try:
        import psutil

        return psutil.Process(pid).create_time()
    except Exception:  # noqa: BLE001 - gone or not ours to inspect
        return None


def _driver_gone(pid: int, started_tag: str | None) -> bool:
    """True when the run's driver process is dead, or its PID now belongs to another process."""
    try:
        recorded = float(started_tag) if started_tag else None
    except ValueError:
        recorded = None
    if recorded is None:  # runs from before the start-time tag: PID liveness only
        return pid != os.getpid() and not _alive(pid)
    if not _alive(pid):
        return True
    try:
        import psutil

        actual = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return True
    except Exception:  # noqa: BLE001 - cannot tell (access denied): assume it is the driver
        return False
    return abs(actual - recorded) > _START_TOLERANCE_S


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= 6000 else text[:5990] + "...(cut)"
