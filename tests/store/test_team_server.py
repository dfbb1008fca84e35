"""A team tracking server: a real PostgreSQL (Debian's package) and a real `mlflow server
--serve-artifacts`, both on 127.0.0.1, started by workbench.store.server in a temporary folder.

Pilots point at it through $WORKBENCH_TRACKING_URI, their locks at $WORKBENCH_LOCK_URI
(PostgreSQL advisory locks). Checked: the demo pilot's runs, registry alias and decision
records land on the server (nothing under the project's mlruns/), and two clones of one
pilot that share only the server are serialised — the second refused, naming the first.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import REPO, write_project
from workbench.store import locks
from workbench.charter.config import load_charter
from workbench.errors import StoreLockedError, TrackingError
from workbench.steps.runner import project_store, run_pilot
from workbench.store.tracking import LOCK_URI_ENV, TRACKING_URI_ENV, Store

PY = sys.executable


def _postgres_or_skip() -> None:
    from workbench.store.server import pg_bindir

    try:
        pg_bindir()
    except TrackingError as exc:
        if os.environ.get("CI") == "true":  # .ci/run installs it: a missing server is a failure there
            raise
        pytest.skip(f"PostgreSQL is not installed: {exc.message}")


@pytest.fixture(scope="module")
def server() -> Iterator:
    """A private PostgreSQL + mlflow server for this module, stopped and deleted after it."""
    from workbench.store import server as srv

    _postgres_or_skip()
    # under /tmp rather than pytest's tmp_path: run as root, PostgreSQL runs as `postgres`,
    # which must be able to enter the folder (pytest's base folder is private to root)
    folder = Path(tempfile.mkdtemp(prefix="wb-team-server-", dir="/tmp"))
    folder.chmod(0o711)  # enterable, not listable
    try:
        info = srv.start(folder / "server", port=srv.free_port())
        yield info
    finally:
        try:
            srv.stop(folder / "server")
        finally:
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture()
def on_server(server, monkeypatch: pytest.MonkeyPatch):
    """This test's pilots use the server (as after `. .tracking-server/client.env`)."""
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    return server


# -- choosing the store (no server needed) ------------------------------------------------------


def test_env_wins_over_the_charter_key_and_bad_uris_are_refused(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TRACKING_URI_ENV, raising=False)
    monkeypatch.delenv(LOCK_URI_ENV, raising=False)
    charter_file = write_project(tmp_path / "p")
    local = project_store(load_charter(charter_file))
    assert local.tracking_uri.startswith("sqlite:///") and not local.is_remote
    assert local.artifact_root == (tmp_path / "p" / "mlruns" / "artifacts").resolve()

    charter_file.write_text(charter_file.read_text() + "tracking_uri: http://127.0.0.1:5999/\n")
    charter = load_charter(charter_file)
    assert charter.tracking_uri == "http://127.0.0.1:5999"
    store = project_store(charter)
    assert store.is_remote and store.tracking_uri == "http://127.0.0.1:5999" and store.artifact_root is None
    assert store.lock_scope == charter.name and store.ui_base == "http://127.0.0.1:5999"

    monkeypatch.setenv(TRACKING_URI_ENV, "http://127.0.0.1:5998")
    monkeypatch.setenv(LOCK_URI_ENV, "postgresql://u:secret@127.0.0.1:1/locks")
    store = project_store(charter)
    assert store.tracking_uri == "http://127.0.0.1:5998" and store.lock_uri.endswith("/locks")
    backend = locks.backend_for(store)
    assert "secret" not in backend.location and charter.name in backend.location

    monkeypatch.setenv(TRACKING_URI_ENV, "ftp://example.org/x")
    with pytest.raises(TrackingError, match="not the URL of an MLflow tracking server"):
        project_store(charter)
    monkeypatch.setenv(TRACKING_URI_ENV, "http://user:pw@127.0.0.1:5998")
    with pytest.raises(TrackingError, match="MLFLOW_TRACKING_USERNAME"):
        project_store(charter)

    from workbench.errors import ConfigError

    charter_file.write_text(charter_file.read_text().replace("http://127.0.0.1:5999/", "mlruns/"))
    with pytest.raises(ConfigError, match="tracking_uri"):
        load_charter(charter_file)


def test_a_server_store_without_a_lock_database_is_refused_and_a_dead_server_named_fast(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.store.server import free_port

    monkeypatch.setenv(TRACKING_URI_ENV, f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.delenv(LOCK_URI_ENV, raising=False)
    charter = load_charter(write_project(tmp_path / "p"))
    with pytest.raises(TrackingError) as refused:
        run_pilot(charter)
    assert LOCK_URI_ENV in refused.value.message and "make tracking-server" in refused.value.message
    assert not (tmp_path / "p" / "mlruns").exists()
    started = time.monotonic()
    with pytest.raises(TrackingError, match="does not answer"):
        project_store(charter).find_runs(charter.name)
    assert time.monotonic() - started < 15  # not MLflow's two minutes of retries


# -- the server and its locks -------------------------------------------------------------------


@pytest.mark.slow  # starts PostgreSQL and mlflow server
def test_server_runs_on_loopback_with_a_private_client_env_and_restarts_idempotently(server) -> None:
    import psycopg

    from workbench.store import server as srv

    again = srv.start(server.folder)
    assert again.mlflow_pid == server.mlflow_pid and again.tracking_uri == server.tracking_uri
    status = srv.status(server.folder)
    assert status is not None and status.running
    env_file = server.folder / "client.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    text = env_file.read_text()
    assert f"export {TRACKING_URI_ENV}={server.tracking_uri}\n" in text and f"export {LOCK_URI_ENV}=postgresql://" in text
    with psycopg.connect(server.lock_uri) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
        assert conn.execute("SHOW unix_socket_directories").fetchone()[0] == ""
    with pytest.raises(psycopg.OperationalError):  # the password is required
        psycopg.connect(server.lock_uri.replace(server.password, "wrong"), connect_timeout=5)
    # the CLI over the same folder
    shown = subprocess.run([PY, "-m", "workbench.cli", "server", "env", "--dir", str(server.folder)],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and shown.stdout == server.exports()


_HOLD = """
import sys, time
from workbench.store import locks
from workbench.store.tracking import Store
store = Store(tracking_uri=sys.argv[1], lock_uri=sys.argv[2], lock_scope=sys.argv[3])
with locks.pilot_lock(store, what="pilot " + sys.argv[3]):
    print("held", flush=True)
    time.sleep(600)
"""


@pytest.mark.slow  # starts PostgreSQL and mlflow server
def test_advisory_locks_refuse_naming_the_holder_and_free_themselves_when_it_dies(server) -> None:
    def store(scope: str) -> Store:
        return Store(tracking_uri=server.tracking_uri, lock_uri=server.lock_uri, lock_scope=scope)

    holder = subprocess.Popen([PY, "-c", _HOLD, server.tracking_uri, server.lock_uri, "shared-pilot"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        seen = locks.holder_of(store("shared-pilot"))
        assert seen is not None and seen.pid == holder.pid and seen.what == "pilot shared-pilot"
        with pytest.raises(StoreLockedError) as refused:
            with locks.pilot_lock(store("shared-pilot"), what="pilot shared-pilot"):
                pass
        assert f"PID {holder.pid}" in refused.value.message and "pilot shared-pilot" in refused.value.message
        assert server.password not in refused.value.message
        # another pilot on the same server is not held up; nor is this pilot's promotion lock
        with locks.pilot_lock(store("other-pilot"), what="pilot other-pilot"):
            assert locks.holder_of(store("other-pilot")).pid == os.getpid()
        assert locks.holder_of(store("other-pilot")) is None  # released
        with locks.promotion_lock(store("shared-pilot"), what="promote", wait_seconds=0):
            pass
        holder.send_signal(signal.SIGKILL)  # no cleanup at all: the session ends with the process
        holder.wait(timeout=30)
        deadline = time.monotonic() + 30
        while locks.holder_of(store("shared-pilot")) is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        told: list[str] = []
        with locks.pilot_lock(store("shared-pilot"), what="pilot shared-pilot", say=told.append):
            pass
        assert told and f"PID {holder.pid}" in told[0] and "gone" in told[0]
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


@pytest.mark.slow  # starts PostgreSQL and mlflow server
def test_a_promoter_waits_for_the_promotion_lock(server) -> None:
    store = Store(tracking_uri=server.tracking_uri, lock_uri=server.lock_uri, lock_scope="waiting-pilot")
    script = _HOLD.replace("locks.pilot_lock", "locks.promotion_lock").replace("time.sleep(600)", "time.sleep(2)")
    holder = subprocess.Popen([PY, "-c", script, server.tracking_uri, server.lock_uri, "waiting-pilot"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        with locks.promotion_lock(store, what="promote", wait_seconds=60):
            waited = time.monotonic() - started
        assert 0.5 < waited < 30
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


# -- pilots on the server -----------------------------------------------------------------------


@pytest.mark.slow
def test_demo_pilot_on_the_team_server(on_server, tmp_path: Path) -> None:
    """The shipped demo (knobs turned down as in test_pilot_e2e) against the server: runs,
    models, the registry alias and the decision records are there, nothing in mlruns/."""
    from ruamel.yaml import YAML

    from demos.flights import extract as extract_demo_data
    from workbench.decide.registry import audit, history

    root = tmp_path / "demo"
    for folder in ("notebooks", "data_contracts"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("*.py", ".ipynb_checkpoints"))
    extract_demo_data(root / "data" / "raw")
    yaml = YAML()
    doc = yaml.load((REPO / "pilot.yaml").read_text())
    for step in doc["steps"]:
        if step["name"] in ("baseline", "evaluate"):
            step.setdefault("parameters", {}).update(single_items=60, batch_size=5000)
    doc["candidates"][0]["params"] = {"max_iter": 25, "learning_rate": 0.2, "max_leaf_nodes": 15}
    with open(root / "pilot.yaml", "w") as f:
        yaml.dump(doc, f)

    charter = load_charter(root / "pilot.yaml")
    result = run_pilot(charter)
    assert result.status == "FINISHED" and result.decision is not None
    assert result.decision.outcome == "go", result.decision.summary()
    assert not (root / "mlruns").exists()  # nothing went to an embedded store

    store = project_store(charter)
    assert store.is_remote
    runs = store.find_runs(charter.name, max_results=200)
    names = {r.info.run_name for r in runs}
    assert {"ingest", "contracts", "profile", "baseline", "evaluate", "hgb"} <= names
    assert not [r for r in runs if r.info.status == "RUNNING"]
    assert all(r.info.artifact_uri.startswith("mlflow-artifacts:/") for r in runs)  # proxied by the server
    profile = next(r for r in runs if r.info.run_name == "profile")
    assert store.download_text(profile.info.run_id, "notebook/profile.html")
    # the registry alias, on the server
    model_name, alias = charter.promotion.model_name, charter.promotion.alias
    version = store.client.get_model_version_by_alias(model_name, alias)
    assert version.run_id in {r.info.run_id for r in runs}
    assert list((on_server.folder / "artifacts").rglob("MLmodel"))  # the model's files are the server's
    # the decision record and its chain, read back from the server
    (decision,) = history(charter, store)
    assert decision.outcome == "go" and decision.model_version == str(version.version)
    report = audit(charter, store)
    assert report.ok, report.summary()
    # the scorecard links the server's own UI
    card = (root / "reports" / charter.name / "latest.html").read_text(encoding="utf-8")
    assert on_server.tracking_uri in card


_WAIT_CELL = """
import os, time
from pathlib import Path
import workbench
s = workbench.session(step_name, run_id=run_id, tracking_uri=tracking_uri, warehouse=warehouse, pilot_name=pilot_name)
flag = Path(os.environ["WB_TEST_RELEASE"])
deadline = time.time() + 300
while not flag.exists() and time.time() < deadline:
    time.sleep(0.2)
s.log_metrics({"demo.rows": 5})
"""


@pytest.mark.slow
def test_two_clones_sharing_the_server_are_serialised(on_server, tmp_path: Path) -> None:
    """Two folders with the same pilot, sharing only the server URI and the lock DSN: while
    the first runs, the second is refused at once, naming the first; afterwards it runs."""
    release = tmp_path / "release"
    first = write_project(tmp_path / "clone-a", notebook_cells=(_WAIT_CELL,)).parent
    second = write_project(tmp_path / "clone-b").parent
    charter_b = load_charter(second / "pilot.yaml")
    assert load_charter(first / "pilot.yaml").name == charter_b.name

    env = {**os.environ, "WB_TEST_RELEASE": str(release)}
    proc = subprocess.Popen([PY, "-m", "workbench.cli", "run", "--pilot", str(first / "pilot.yaml")], cwd=first,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        store_b = project_store(charter_b)
        deadline = time.monotonic() + 120
        holder = None
        while time.monotonic() < deadline and proc.poll() is None:
            holder = locks.holder_of(store_b)
            if holder is not None:
                break
            time.sleep(0.3)
        assert holder is not None and holder.pid == proc.pid, proc.poll()
        assert holder.what == f"pilot {charter_b.name}"

        with pytest.raises(StoreLockedError) as refused:
            run_pilot(charter_b)
        message = refused.value.message
        assert f"pilot {charter_b.name} (PID {proc.pid}" in message and str(first / "pilot.yaml") in message
        # the CLI says the same, with its exit code for a held store
        cli = subprocess.run([PY, "-m", "workbench.cli", "run", "--pilot", str(second / "pilot.yaml")], cwd=second,
                             capture_output=True, text=True, timeout=120)
        assert cli.returncode == 4, cli.stdout + cli.stderr
        assert f"PID {proc.pid}" in cli.stderr and cli.stdout.strip().endswith("outcome: ERROR")

        release.touch()
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, out + err
    finally:
        release.touch()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert locks.holder_of(store_b) is None
    after = run_pilot(charter_b)  # now it goes through
    assert after.status == "FINISHED"
    pilots = [r for r in store_b.find_runs(charter_b.name, "tags.`workbench.kind` = 'pilot'")
              if r.info.status == "FINISHED"]
    assert len(pilots) == 2 and after.run_id in {r.info.run_id for r in pilots}
    assert not (first / "mlruns").exists() and not (second / "mlruns").exists()
