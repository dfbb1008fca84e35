"""`make ui` serves the MLflow history on 127.0.0.1 only, from the project's sqlite store."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from support import REPO
from workbench.tracking import Store

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


def test_make_ui_serves_the_store_on_loopback_only(tmp_path: Path) -> None:
    # a store with one experiment, served by the Makefile's own command
    store = Store(tmp_path)
    exp_name = f"ui-check-{os.getpid()}"
    run = store.start_run(exp_name, "probe")
    store.end_run(run.run_id)
    port = _free_port()
    proc = subprocess.Popen(["make", "-s", "ui", f"UI_PORT={port}", f"MLRUNS={tmp_path / 'mlruns'}"], cwd=REPO,
                            start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        body = None
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                    body = r.read().decode()
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else "make ui exited"
                time.sleep(1)
        assert body is not None and "OK" in body
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/experiments/get-by-name?experiment_name={exp_name}")
        with urllib.request.urlopen(req, timeout=10) as r:
            assert json.loads(r.read())["experiment"]["name"] == exp_name
        # bound to 127.0.0.1 only (0100007F in /proc's little-endian hex), never 0.0.0.0 or ::
        assert _listen_addresses(port) == {"0100007F"}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_make_lab_serves_jupyterlab_on_loopback_only() -> None:
    port = _free_port()
    proc = subprocess.Popen(["make", "-s", "lab", f"LAB_PORT={port}"], cwd=REPO, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        status = None
        while time.monotonic() < deadline and status is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=5) as r:
                    status = r.status
            except urllib.error.HTTPError as exc:  # 403 without the token: the server is up
                status = exc.code
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else "make lab exited"
                time.sleep(1)
        assert status in (200, 403)
        assert _listen_addresses(port) == {"0100007F"}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
