"""Serving the MLflow UI and JupyterLab: loopback by default, authentication beyond it.

Both servers can change what the audit trail rests on (the UI's REST API moves aliases and
overwrites artifacts; a notebook runs code), so neither is exposed beyond this machine
without authentication:

- a loopback host (``127.0.0.1``, ``::1``, ``localhost``) is served as is;
- any other host (``0.0.0.0``, an interface address, a name) is refused unless
  authentication is configured: ``auth=True`` (``make ui/lab HOST=... AUTH=1``), or the
  server's own setting (``MLFLOW_AUTH_CONFIG_PATH`` for MLflow; ``JUPYTER_TOKEN`` or
  ``JUPYTER_TOKEN_FILE`` for Jupyter).

With ``auth=True`` the credentials are generated once into the pilot's ``.secrets/``
folder (mode 0700, files 0600) and shown once: MLflow runs its basic-auth app
(``mlflow server --app-name basic-auth``) with an ``admin`` user whose password is
generated; Jupyter gets a generated token read from a file (``JUPYTER_TOKEN_FILE``), so
the secret is on no command line. The functions here only build the command; the CLI
creates the store (safely, under its lock) and then runs it.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ExposureError

__all__ = ["is_loopback", "ServeCommand", "ui_command", "lab_command", "machine_hosts", "ALLOWED_HOSTS_ENV",
           "JOB_RUNNER_ENV", "without_job_runner", "serve_and_announce"]

ALLOWED_HOSTS_ENV = "MLFLOW_SERVER_ALLOWED_HOSTS"  # MLflow's own setting (its --allowed-hosts)
JOB_RUNNER_ENV = "MLFLOW_SERVER_ENABLE_JOB_EXECUTION"  # MLflow's own setting; on by default


def without_job_runner() -> dict[str, str]:
    """The environment an `mlflow server` of the workbench starts with: MLflow 3's job runner
    (GenAI scorers, trace roll-ups) off unless the user's own environment says otherwise. It
    starts eight more Python processes beside the UI, each importing MLflow (measured on one
    sqlite store: ~22 s more CPU in the first 20 s, 10 processes instead of 2), for jobs no
    pilot queues."""
    return {} if JOB_RUNNER_ENV in os.environ else {JOB_RUNNER_ENV: "false"}

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve to anything


@dataclass(frozen=True)
class ServeCommand:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)  # added to the current environment
    notes: tuple[str, ...] = ()  # lines to show before serving (a new credential: shown once)


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def _private_file(path: Path) -> None:
    """``path`` readable by its owner only: created empty (sqlite takes an empty file as a
    new database) or its mode tightened, before the server opens it. A file made 0644 by a
    server's own umask would hand the password hashes to every local user."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
    except FileExistsError:
        os.chmod(path, 0o600)


def machine_hosts(host: str) -> list[str]:
    """The Host-header patterns under which this machine is reached when serving on
    ``host``: loopback names, its host name and fully qualified name, and its addresses
    (each with any port). What the MLflow server answers for unless told otherwise."""
    names: list[str] = ["localhost", "127.0.0.1", "::1"]
    hostname = socket.gethostname()
    names += [hostname, socket.getfqdn()]
    try:
        names += [info[4][0] for info in socket.getaddrinfo(hostname, None)]
    except OSError:
        pass  # a host name that does not resolve: its name still counts
    names += _interface_addresses()
    if host not in ("0.0.0.0", "::", ""):
        names.append(host.strip("[]"))
    patterns: list[str] = []
    for name in dict.fromkeys(n.split("%", 1)[0] for n in names if n):
        if ":" in name:  # IPv6: bracketed in a Host header; "[" opens a set in fnmatch patterns
            patterns += [f"[[]{name}]", f"[[]{name}]:*"]
        else:
            patterns += [name, f"{name}:*"]
    return patterns


def _interface_addresses() -> list[str]:
    """This machine's interface addresses (Linux: /proc; elsewhere none, the names remain)."""
    found: list[str] = []
    try:
        lines = Path("/proc/net/fib_trie").read_text().splitlines()
        found += [lines[i - 1].split()[-1] for i, line in enumerate(lines) if "/32 host LOCAL" in line and i]
    except OSError:
        pass
    try:
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            raw = line.split()[0]
            address = ipaddress.IPv6Address(int(raw, 16))
            if not address.is_link_local:  # a link-local address is no use without its interface
                found.append(str(address))
    except (OSError, ValueError, IndexError):
        pass
    return found


def _refuse(what: str, host: str, how: str) -> ExposureError:
    return ExposureError(
        f"refusing to serve {what} on {host} without authentication: it would be reachable beyond this machine, "
        "and anyone reaching it could change the registry and the decision records",
        where=f"HOST={host}",
        hint=f"serve on 127.0.0.1 (the default) and tunnel to it (`ssh -L`), or configure authentication: {how}"
        + ("; the MLflow UI then answers for this machine's names and addresses (set "
           f"{ALLOWED_HOSTS_ENV}=name1,name2:* to choose them)" if what == "the MLflow UI" else ""))


def ui_command(mlruns: Path, host: str, port: int, *, auth: bool, secrets_dir: Path,
               mlflow: str = "mlflow", workers: int = 1) -> ServeCommand:
    """`mlflow server` for the store in ``mlruns``; basic auth when asked or configured.

    One worker process by default: the UI of one sqlite store serves its requests on that
    worker's threads, and MLflow's default of 4 imports MLflow four times before the first
    page (measured: health after ~20 s instead of ~55 s, a third of the CPU, on a loaded
    2-core machine)."""
    mlruns = Path(mlruns).resolve()
    argv = [mlflow, "server", "--host", host, "--port", str(port),
            "--backend-store-uri", f"sqlite:///{mlruns / 'mlflow.db'}",
            "--default-artifact-root", str(mlruns / "artifacts"), "--workers", str(workers)]
    configured = os.environ.get("MLFLOW_AUTH_CONFIG_PATH")
    if not auth and not configured:
        if not is_loopback(host):
            raise _refuse("the MLflow UI", host, "`make ui HOST=... AUTH=1` runs MLflow's basic-auth app with a "
                          "generated admin password, or set MLFLOW_AUTH_CONFIG_PATH to your own basic-auth config")
        return ServeCommand(argv, without_job_runner())
    notes: list[str] = []
    env: dict[str, str] = without_job_runner()
    folder = _private_dir(Path(secrets_dir))
    if not os.environ.get("MLFLOW_FLASK_SERVER_SECRET_KEY"):  # the auth app's CSRF protection needs a static key
        key_file = folder / "mlflow-flask-secret-key"
        if not key_file.exists():
            _write_private(key_file, secrets.token_hex(32))
        env["MLFLOW_FLASK_SERVER_SECRET_KEY"] = key_file.read_text(encoding="utf-8").strip()
    if configured:
        notes.append(f"MLflow basic auth from MLFLOW_AUTH_CONFIG_PATH={configured}")
    else:
        config = folder / "mlflow-auth.ini"
        if not config.exists():
            password = secrets.token_urlsafe(18)
            _write_private(config, "[mlflow]\n"
                           "default_permission = READ\n"
                           f"database_uri = sqlite:///{folder.resolve() / 'mlflow-auth.db'}\n"
                           "admin_username = admin\n"
                           f"admin_password = {password}\n"
                           "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
            notes.append(f"MLflow basic auth: user 'admin', password {password}")
            notes.append(f"  (generated now and shown only this once; kept in {config}, mode 0600)")
        else:
            notes.append(f"MLflow basic auth: users in {folder / 'mlflow-auth.db'}; the admin's first password is in "
                         f"{config} (mode 0600)")
        _private_file(folder / "mlflow-auth.db")  # the users and their password hashes
        env["MLFLOW_AUTH_CONFIG_PATH"] = str(config.resolve())
    if not is_loopback(host):
        if os.environ.get(ALLOWED_HOSTS_ENV, "").strip():
            notes.append(f"answers for the hosts in {ALLOWED_HOSTS_ENV}={os.environ[ALLOWED_HOSTS_ENV]}")
        else:  # MLflow alone answers only loopback names and private addresses (DNS-rebinding guard)
            allowed = machine_hosts(host)
            env[ALLOWED_HOSTS_ENV] = ",".join(allowed)
            notes.append(f"answers for this machine's names and addresses ({', '.join(allowed[::2])}); set "
                         f"{ALLOWED_HOSTS_ENV}=name1,name2:* to choose them")
    return ServeCommand(argv[:2] + ["--app-name", "basic-auth"] + argv[2:], env, tuple(notes))


def lab_command(host: str, port: int, *, auth: bool, secrets_dir: Path, root_dir: Path,
                jupyter: str = "jupyter") -> ServeCommand:
    """`jupyter lab` on ``root_dir``; a generated token (read from a 0600 file) when asked."""
    argv = [jupyter, "lab", f"--ip={host}", f"--port={port}", "--no-browser", f"--ServerApp.root_dir={root_dir}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")
    configured = os.environ.get("JUPYTER_TOKEN") or os.environ.get("JUPYTER_TOKEN_FILE")
    if not auth:
        if not configured and not is_loopback(host):
            raise _refuse("JupyterLab", host, "`make lab HOST=... AUTH=1` generates a token (kept in a 0600 file), "
                          "or set JUPYTER_TOKEN / JUPYTER_TOKEN_FILE yourself")
        return ServeCommand(argv)
    folder = _private_dir(Path(secrets_dir))
    token_file = folder / "jupyter-token"
    notes: list[str] = []
    if not token_file.exists():
        token = secrets.token_urlsafe(24)
        _write_private(token_file, token)
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        notes.append(f"JupyterLab token: {token}  (open http://{shown}:{port}/lab?token={token})")
        notes.append(f"  (generated now and shown only this once; kept in {token_file}, mode 0600)")
    else:
        notes.append(f"JupyterLab token: in {token_file} (mode 0600)")
    return ServeCommand(argv, {"JUPYTER_TOKEN_FILE": str(token_file.resolve())}, tuple(notes))


def serve_and_announce(command: ServeCommand, health_url: str, announce: Callable[[], None], *,
                       timeout: float = 120.0) -> int:
    """Run ``command``'s server, call ``announce`` once ``health_url`` answers (any HTTP status:
    a server behind basic auth answers 401), then wait for the server; its exit code.

    A link printed before the server answers is a dead link for the first seconds (MLflow
    migrates its database and starts its workers first). SIGINT and SIGTERM go to the server."""
    import signal
    import subprocess
    import time
    import urllib.error
    import urllib.request

    proc = subprocess.Popen(command.argv, env={**os.environ, **command.env})
    forward = lambda signum, _frame: proc.send_signal(signum)  # noqa: E731
    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        deadline = time.monotonic() + timeout
        while proc.poll() is None:
            try:
                with urllib.request.urlopen(health_url, timeout=2):
                    break
            except urllib.error.HTTPError:
                break  # it answers
            except OSError:
                if time.monotonic() > deadline:
                    proc.terminate()
                    proc.wait(timeout=20)
                    raise ExposureError(f"the server did not answer within {timeout:.0f} s", where=health_url,
                                        hint="see its output above; is the port in use?") from None
                time.sleep(0.3)
        if proc.poll() is None:
            announce()
        return proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
