"""Issue 24: credentials files private; a UI served beyond loopback answers for the
machine's own names and addresses (not only for loopback names)."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from support import ENV, PY
from workbench.errors import ExposureError
from workbench.store import exposure
from workbench.store.exposure import ALLOWED_HOSTS_ENV, machine_hosts, ui_command

CLEAN = ("MLFLOW_AUTH_CONFIG_PATH", "MLFLOW_FLASK_SERVER_SECRET_KEY", ALLOWED_HOSTS_ENV)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_the_auth_database_is_private_before_the_server_opens_it(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CLEAN:
        monkeypatch.delenv(name, raising=False)
    secrets = tmp_path / ".secrets"
    ui_command(tmp_path / "mlruns", "0.0.0.0", 5000, auth=True, secrets_dir=secrets)
    assert mode(secrets / "mlflow-auth.db") == 0o600
    assert all(mode(f) == 0o600 for f in secrets.iterdir()), {f.name: oct(mode(f)) for f in secrets.iterdir()}
    (secrets / "mlflow-auth.db").chmod(0o644)  # as an older workbench (or the server's umask) left it
    ui_command(tmp_path / "mlruns", "0.0.0.0", 5000, auth=True, secrets_dir=secrets)
    assert mode(secrets / "mlflow-auth.db") == 0o600


def test_a_ui_beyond_loopback_answers_for_the_machines_names_and_addresses(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CLEAN:
        monkeypatch.delenv(name, raising=False)
    command = ui_command(tmp_path / "mlruns", "0.0.0.0", 5000, auth=True, secrets_dir=tmp_path / ".secrets")
    allowed = command.env[ALLOWED_HOSTS_ENV].split(",")
    assert allowed == machine_hosts("0.0.0.0")
    for name in (socket.gethostname(), *exposure._interface_addresses()):
        shown = f"[[]{name}]" if ":" in name else name
        assert shown in allowed and f"{shown}:*" in allowed
    assert any(ALLOWED_HOSTS_ENV in note for note in command.notes)
    # a loopback UI needs none; the user's own list is kept
    assert ALLOWED_HOSTS_ENV not in ui_command(tmp_path / "m2", "127.0.0.1", 5000, auth=True,
                                               secrets_dir=tmp_path / ".s2").env
    monkeypatch.setenv(ALLOWED_HOSTS_ENV, "ui.example.org")
    mine = ui_command(tmp_path / "m3", "0.0.0.0", 5000, auth=True, secrets_dir=tmp_path / ".s3")
    assert ALLOWED_HOSTS_ENV not in mine.env
    monkeypatch.delenv(ALLOWED_HOSTS_ENV)
    with pytest.raises(ExposureError) as refused:  # the refusal names the option too
        ui_command(tmp_path / "m4", "0.0.0.0", 5000, auth=False, secrets_dir=tmp_path / ".s4")
    assert ALLOWED_HOSTS_ENV in refused.value.message + (refused.value.hint or "")


def _status(port: int, host_header: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/api/2.0/mlflow/experiments/search?max_results=1", headers={"Host": host_header})
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.slow  # starts the MLflow server with its auth app
def test_make_ui_on_all_interfaces_with_auth_answers_by_the_machines_name(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in ENV.items() if k not in CLEAN}
    proc = subprocess.Popen([PY, "-m", "workbench.cli", "ui", "--mlruns", str(tmp_path / "mlruns"), "--auth",
                             "--host", "0.0.0.0", "--port", str(port)], env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                _status(port, f"127.0.0.1:{port}")
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.5)
        # 401: it answered and asked for credentials; 403 would be MLflow's host check refusing
        assert _status(port, f"{socket.gethostname()}:{port}") == 401
        for address in exposure._interface_addresses():
            shown = f"[{address}]" if ":" in address else address
            assert _status(port, f"{shown}:{port}") == 401, address
        assert _status(port, f"rebinding.example:{port}") == 403
        assert mode(tmp_path / ".secrets" / "mlflow-auth.db") == 0o600
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
