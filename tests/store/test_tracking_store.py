"""The MLflow store itself: safe concurrent creation, stale-run sweeping, where models land."""

from __future__ import annotations

import logging
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from support import store_processes
from workbench.store.tracking import FINISHED, KILLED, RUNNING, TAG, Store, init_store

ROUNDS, WORKERS = 20, 8


def _open_many(roots: list[str], cache: str, barrier, results) -> None:
    """One worker: for each fresh root, wait for the others, then open the store at once.
    Every other round a new store starts as a copy of the migrated template (first made by
    these very workers at once, in a cache of the test's own), the rounds between migrate it."""
    import logging
    import os

    logging.disable(logging.INFO)  # "Creating initial MLflow database tables..." x 160
    os.environ["XDG_CACHE_HOME"] = cache
    for i, root in enumerate(roots):
        os.environ["WORKBENCH_STORE_TEMPLATE"] = "1" if i % 2 == 0 else "0"
        barrier.wait(timeout=300)
        try:
            store = Store(Path(root))
            store.client.search_experiments(max_results=1)
            store.experiment_id("p")  # every worker also creates/looks up the same experiment
            results.put((root, "ok"))
        except Exception as exc:  # noqa: BLE001 - reported to the parent
            results.put((root, f"{type(exc).__name__}: {exc}"))


def _assert_valid_schema(db: Path) -> None:
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1
        assert con.execute("SELECT count(*) FROM experiments WHERE name = 'p'").fetchone()[0] == 1
        assert con.execute("SELECT count(*) FROM experiments WHERE experiment_id = 0").fetchone()[0] == 1
        (default,) = con.execute("SELECT artifact_location FROM experiments WHERE experiment_id = 0").fetchone()
        assert default == (db.parent / "artifacts" / "0").resolve().as_uri()  # its own root, not the template's
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not {t for t in tables if t.startswith("_alembic_tmp")}


@pytest.mark.slow  # ~60 s on 2 cores: 10 migrations and 10 template copies, serialized by the lock, as intended
def test_concurrent_first_open_always_yields_one_valid_store(tmp_path: Path) -> None:
    roots = [str(tmp_path / f"r{i:02d}") for i in range(ROUNDS)]
    ctx = store_processes()  # eight real processes, each opening the store itself
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [ctx.Process(target=_open_many, args=(roots, str(tmp_path / "cache"), barrier, results))
             for _ in range(WORKERS)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=600) for _ in range(ROUNDS * WORKERS)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    failures = [o for o in outcomes if o[1] != "ok"]
    assert not failures, failures[:5]
    for root in roots:
        _assert_valid_schema(Path(root) / "mlruns" / "mlflow.db")
    # the template was made once, by one of the racing workers, and left no partial file behind
    (template,) = (tmp_path / "cache" / "workbench").glob("mlflow-*-store/mlruns/mlflow.db")
    assert sorted(p.name for p in template.parent.iterdir()) == [".store.lock", "mlflow.db"]


def test_init_store_creates_the_store_with_default_experiment_under_the_artifact_root(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    store = init_store(tmp_path / "proj")
    db = tmp_path / "proj" / "mlruns" / "mlflow.db"
    _assert_default_under_root(store)  # a copy of the template points at its own artifact root
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1
    init_store(tmp_path / "proj")  # idempotent
    assert list(cwd.iterdir()) == []


def _assert_default_under_root(store: Store) -> None:
    default = store.client.get_experiment("0")
    assert default.artifact_location == (store.artifact_root / "0").resolve().as_uri()


def test_remote_uri_takes_no_local_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Store(tracking_uri="http://127.0.0.1:9").client  # noqa: B018 - constructing the client touches nothing
    assert list(tmp_path.rglob("*")) == []


# -- stale runs --------------------------------------------------------------------------
@pytest.fixture()
def sleeper():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc
    proc.kill()
    proc.wait()


def test_sweep_stale_sees_a_reused_pid(tmp_path: Path, sleeper: subprocess.Popen) -> None:
    store = Store(tmp_path)
    host = socket.gethostname()
    started = psutil.Process(sleeper.pid).create_time()

    def run(name: str, **tags: str) -> str:
        return store.start_run("p", name, tags={TAG["host"]: host, **tags}).run_id

    reused = run("reused", **{TAG["pid"]: str(sleeper.pid), TAG["pid_started"]: repr(started - 3600)})
    live = run("live", **{TAG["pid"]: str(sleeper.pid), TAG["pid_started"]: repr(started)})
    legacy_live = run("legacy-live", **{TAG["pid"]: str(sleeper.pid)})
    ours = store.start_run("p", "ours").run_id  # tagged by start_run with this process's pid and start time
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    legacy_dead = run("legacy-dead", **{TAG["pid"]: dead.stdout.strip()})

    tags = store.get_run(ours).data.tags
    assert tags[TAG["pid"]] == str(psutil.Process().pid)
    assert abs(float(tags[TAG["pid_started"]]) - psutil.Process().create_time()) < 1.0

    swept = set(store.sweep_stale("p"))
    assert swept == {reused, legacy_dead}
    assert store.status(reused) == KILLED
    assert {store.status(r) for r in (live, legacy_live, ours)} == {RUNNING}
    for r in (live, legacy_live, ours):
        store.end_run(r, FINISHED)


# -- models --------------------------------------------------------------------------------
def test_model_lands_in_the_runs_experiment_under_the_artifact_root(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    store = Store(tmp_path / "proj")
    ref = store.start_run("p", "baseline")
    x = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) % 3})
    model = LogisticRegression().fit(x, (x.a > 9).astype(int))
    t0 = time.time()
    said: list[str] = []  # what MLflow's scikit-learn flavour logs, wherever its handlers send it
    catch = logging.Handler()
    catch.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("mlflow.sklearn").addHandler(catch)
    try:
        info = store.log_sklearn_model(ref.run_id, model, "model", input_example=x.head(3))
        logging.getLogger("mlflow.sklearn").warning("another warning")
    finally:
        logging.getLogger("mlflow.sklearn").removeHandler(catch)
    store.end_run(ref.run_id)
    # the workbench's own model in its own store: no "pickle requires caution" line in every
    # evaluate notebook; MLflow's other warnings still show
    assert said == ["another warning"], said

    assert list(cwd.iterdir()) == [], "nothing may be written to the current folder"
    found = store.client.search_logged_models(experiment_ids=[ref.experiment_id])
    assert [m.model_id for m in found] == [info.model_id]
    logged = found[0]
    assert logged.experiment_id == ref.experiment_id
    assert logged.source_run_id == ref.run_id
    assert str(logged.status) in {"READY", "LoggedModelStatus.READY"}
    exp_root = (tmp_path / "proj" / "mlruns" / "artifacts" / "p").resolve()
    assert logged.artifact_location.startswith(exp_root.as_uri())
    files = {p.name for p in exp_root.rglob("*") if p.is_file()}
    assert {"MLmodel", "model.pkl"} <= files
    assert store.client.search_logged_models(experiment_ids=["0"]) == []
    outputs = store.get_run(ref.run_id).outputs.model_outputs
    assert [o.model_id for o in outputs] == [info.model_id]
    _assert_default_under_root(store)
    assert time.time() - t0 < 60


def test_artifacts_of_a_local_store_are_read_in_place_as_mlflow_would_download_them(tmp_path: Path) -> None:
    import tempfile

    store = Store(tmp_path)
    run = store.start_run("exp", "r")
    store.log_text(run.run_id, "décision", "decision/decision.json")
    store.log_bytes(run.run_id, b"\x89PNG\x00\x01", "figures/a.png")
    store.log_text(run.run_id, "top", "notes.txt")
    store.end_run(run.run_id)
    fresh = Store(tmp_path)  # no runs listed yet: the artifact folder comes from the run itself
    for path in ("decision/decision.json", "figures/a.png", "notes.txt"):
        with tempfile.TemporaryDirectory() as tmp:
            copied = Path(fresh.client.download_artifacts(run.run_id, path, tmp)).read_bytes()
        assert fresh.artifact_bytes(run.run_id, path) == copied
    assert fresh.download_text(run.run_id, "decision/decision.json") == "décision"
    for path in (None, "decision", "figures"):
        listed = fresh.client.list_artifacts(run.run_id, path)
        assert fresh.artifact_names(run.run_id, path) == sorted(a.path for a in listed)
    # absent, outside the run's folder, or an unknown run: nothing, as a failed download says
    assert fresh.artifact_bytes(run.run_id, "decision/other.json") is None
    assert fresh.artifact_bytes(run.run_id, "../../../mlflow.db") is None
    assert fresh.artifact_names(run.run_id, "nothing-here") == []
    assert fresh.artifact_names(run.run_id, "../..") == []
    assert fresh.artifact_bytes("0" * 32, "notes.txt") is None


def test_a_model_with_an_integer_input_is_logged_without_mlflows_integer_hint(tmp_path: Path) -> None:
    """Every evaluate notebook with an integer feature showed MLflow's hint that an integer
    column cannot hold a null in a served model. The workbench's own batch scoring declares such
    inputs as doubles (engines.base.scoring_copy); declaring them so at logging makes MLflow refuse
    the integers a batch brings instead ("Can not safely convert int64 to float64"). So the
    signature keeps the training types, and the hint is dropped while the model is logged."""
    import warnings

    import numpy as np
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier

    store = Store(tmp_path / "proj")
    ref = store.start_run("p", "hgb")
    x = pd.DataFrame({"tenure": np.arange(40) % 12, "spend": np.arange(40) * 1.5})
    model = HistGradientBoostingClassifier(max_iter=5).fit(x, (x.tenure > 5).astype(int))
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        info = store.log_sklearn_model(ref.run_id, model, "model", input_example=x.head(3))
        warnings.warn("another warning", UserWarning, stacklevel=1)
    store.end_run(ref.run_id)
    shown = [str(w.message) for w in said]
    assert not [m for m in shown if "integer column" in m] and "another warning" in shown, shown
    types = {c.name: str(c.type) for c in info.signature.inputs.inputs}
    assert types["tenure"].endswith("long") and types["spend"].endswith("double")
