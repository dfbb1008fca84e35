"""`make ui` serves the MLflow history on 127.0.0.1 only, from the project's sqlite store."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import REPO
from workbench.store.tracking import Store

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listen_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port`` (read from /proc: no traffic)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.rsplit(":", 1)
            if state == "0A" and int(hexport, 16) == port:  # 0A = LISTEN
                found.add(addr)
    return found


@contextlib.contextmanager
def _make_serving(target: str, *variables: str) -> Iterator[subprocess.Popen]:
    """`make <target>` in its own process group, stopped (with its children) afterwards."""
    proc = subprocess.Popen(["make", "-s", target, *variables], cwd=REPO, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _session_commands(sid: int) -> list[str]:
    """The command lines of the processes in session ``sid`` (make, the CLI, mlflow and its children)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error, OSError):  # ended meanwhile
            if os.getsid(proc.pid) == sid:
                found.append(" ".join(proc.info["cmdline"] or []))
    return found


def _first_answer(proc: subprocess.Popen, url: str) -> tuple[int, str]:
    """(status, body) of the first answer from ``url``; an HTTP error status counts as an answer."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:  # e.g. 403 without a token: the server is up
            return exc.code, ""
        except OSError:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else f"make exited: {url}"
            time.sleep(1)
    raise AssertionError(f"no answer from {url} within 120 s")


def test_make_ui_serves_the_store_on_loopback_only(tmp_path: Path) -> None:
    # a store with one experiment, served by the Makefile's own command
    store = Store(tmp_path)
    exp_name = f"ui-check-{os.getpid()}"
    run = store.start_run(exp_name, "probe")
    store.end_run(run.run_id)
    port = _free_port()
    with _make_serving("ui", f"UI_PORT={port}", f"MLRUNS={tmp_path / 'mlruns'}") as proc:
        status, body = _first_answer(proc, f"http://127.0.0.1:{port}/health")
        assert status == 200 and "OK" in body
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/experiments/get-by-name?experiment_name={exp_name}")
        with urllib.request.urlopen(req, timeout=10) as r:
            assert json.loads(r.read())["experiment"]["name"] == exp_name
        # bound to 127.0.0.1 only (0100007F in /proc's little-endian hex), never 0.0.0.0 or ::
        assert _listen_addresses(port) == {"0100007F"}
        # without MLflow's job runner (started with the server when on): no eight more processes
        serving = _session_commands(proc.pid)
        assert any("mlflow" in c and " server " in c for c in serving), serving
        assert not [c for c in serving if "mlflow.server.jobs" in c or "huey" in c], serving
        # it printed the direct link to the pilot's runs table, in the model-training view (once
        # its own health check answered, which may come a moment after this test's)
        exp_id = store.experiment_id(exp_name, create=False)
        link = f"http://127.0.0.1:{port}/#/experiments/{exp_id}/runs?workflowType=machine_learning"
        printed = _printed_until(proc, link)
    assert link in printed, printed


def _printed_until(proc: subprocess.Popen, text: str, timeout: float = 60) -> str:
    """What ``proc`` printed, read until a line holds ``text`` or ``timeout`` seconds pass."""
    import queue
    import threading

    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    seen, deadline = [], time.monotonic() + timeout
    while not any(text in line for line in seen) and time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            seen.append(lines.get(timeout=0.5))
    return "".join(seen)


def test_the_users_own_job_runner_setting_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from workbench.store.exposure import JOB_RUNNER_ENV, ui_command

    monkeypatch.delenv(JOB_RUNNER_ENV, raising=False)
    for auth in (False, True):
        assert ui_command(tmp_path, "127.0.0.1", 5000, auth=auth, secrets_dir=tmp_path / "s").env[JOB_RUNNER_ENV] == "false"
    monkeypatch.setenv(JOB_RUNNER_ENV, "true")  # asked for: the environment passes it through as it is
    for auth in (False, True):
        assert JOB_RUNNER_ENV not in ui_command(tmp_path, "127.0.0.1", 5000, auth=auth, secrets_dir=tmp_path / "s").env


def test_make_lab_serves_jupyterlab_on_loopback_only() -> None:
    port = _free_port()
    with _make_serving("lab", f"LAB_PORT={port}") as proc:
        status, _ = _first_answer(proc, f"http://127.0.0.1:{port}/api/status")
        assert status in (200, 403)
        assert _listen_addresses(port) == {"0100007F"}


@pytest.mark.parametrize("round_", range(2))
def test_make_ui_beside_history_on_an_empty_store_both_work(tmp_path: Path, round_: int) -> None:
    """The store is created under its lock whoever opens it first: `make ui` and
    `workbench history` started together on an empty mlruns/ both work, and the store is whole."""
    import sys

    from support import PLAN_YAML, write_project

    charter = write_project(tmp_path, extra_yaml="gates:\n  - {kind: threshold, metric: demo.rows, op: \">=\", value: 1}\n"
                            "promotion: {model_name: tiny}\n" + PLAN_YAML)
    mlruns = tmp_path / "mlruns"
    assert not mlruns.exists()
    port = _free_port()
    with _make_serving("ui", f"UI_PORT={port}", f"MLRUNS={mlruns}") as proc:
        history = subprocess.run([sys.executable, "-m", "workbench.cli", "history", "--pilot", str(charter)],
                                 cwd=REPO, capture_output=True, text=True, timeout=180)
        status, body = _first_answer(proc, f"http://127.0.0.1:{port}/health")
        assert status == 200 and "OK" in body
        assert history.returncode == 0, history.stdout + history.stderr
    # one valid schema: a new client opens it without migrating again, and can write to it
    store = Store(tmp_path)
    run = store.start_run("after-ui", "probe")
    store.end_run(run.run_id)
    assert store.get_run(run.run_id).info.status == "FINISHED"


SERVE_BRIEFLY = """
import http.server, sys, threading, time
time.sleep(1.0)  # a server that takes a moment to start, as mlflow server does
server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), http.server.SimpleHTTPRequestHandler)
threading.Timer(3.0, server.shutdown).start()
server.serve_forever()
"""


def test_the_link_is_announced_only_once_the_server_answers(tmp_path: Path) -> None:
    import sys

    from workbench.store.exposure import ServeCommand, serve_and_announce

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    answered: list[bool] = []

    def announce() -> None:  # what `workbench ui` prints its links in: the server must answer by now
        with urllib.request.urlopen(url, timeout=5) as r:
            answered.append(r.status == 200)

    command = ServeCommand([sys.executable, "-c", SERVE_BRIEFLY, str(port)])
    assert serve_and_announce(command, url, announce, timeout=30) == 0
    assert answered == [True]
    # a server that dies before answering: nothing announced, its exit code returned
    died = ServeCommand([sys.executable, "-c", "raise SystemExit(3)"])
    assert serve_and_announce(died, url, lambda: answered.append(False), timeout=30) == 3
    assert answered == [True]
