"""A local team tracking server: a PostgreSQL cluster and ``mlflow server``, both on 127.0.0.1.

``workbench server start`` (``make tracking-server``) sets up, in a folder of the project
(``.tracking-server/``, ignored by git):

``pg/``           a PostgreSQL cluster (Debian's ``initdb``/``pg_ctl``), TCP on 127.0.0.1 only
                  (no Unix socket), password authentication (scram-sha-256) for the role
                  ``workbench``, whose password is generated once into ``password`` (0600).
                  Databases: ``mlflow`` (the tracking and registry store) and
                  ``workbench_locks`` (the pilots' advisory locks, :mod:`workbench.store.locks_pg`).
``artifacts/``    the artifact store ``mlflow server --serve-artifacts`` proxies.
``pg.log``, ``mlflow.log``, ``server.json`` (ports, PIDs), and
``client.env``    what a client needs (0600): ``WORKBENCH_TRACKING_URI`` and
                  ``WORKBENCH_LOCK_URI``; ``. .tracking-server/client.env`` points a shell at it.

``mlflow server --backend-store-uri postgresql+psycopg://... --serve-artifacts
--artifacts-destination .tracking-server/artifacts --host 127.0.0.1 --port 5001`` runs in
the background (its own session, so it outlives the command); the backend URI, which holds
the password, goes through ``MLFLOW_BACKEND_STORE_URI`` rather than the command line.
``start`` is idempotent (a running server is reused), ``stop`` stops both, ``status`` tells.

PostgreSQL refuses to run as root. Run as root (containers, CI), the cluster runs as the
``postgres`` user Debian's package creates: the folder must then be reachable by it (every
parent folder searchable by others), which a project under ``/root`` is not — pass another
folder (``--dir``, ``SERVER_DIR=``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import procs
from .exposure import without_job_runner
from ..errors import TrackingError
from ..files import write_whole

__all__ = ["ServerInfo", "start", "stop", "status", "pg_bindir", "DEFAULT_DIR", "DEFAULT_PORT", "free_port"]

DEFAULT_DIR = Path(".tracking-server")
DEFAULT_PORT = 5001
HOST = "127.0.0.1"
ROLE = "workbench"
MLFLOW_DB = "mlflow"
LOCK_DB = "workbench_locks"
PG_BIN_ENV = "WORKBENCH_PG_BIN"
START_TIMEOUT_S = 180.0
Say = Callable[[str], None]

_CHILDREN: dict[int, subprocess.Popen] = {}  # mlflow servers this process started (reaped on stop)


@dataclass(frozen=True)
class ServerInfo:
    folder: Path
    port: int  # mlflow server
    pg_port: int
    password: str = field(repr=False)
    pg_running: bool
    mlflow_running: bool
    mlflow_pid: int | None

    @property
    def tracking_uri(self) -> str:
        return f"http://{HOST}:{self.port}"

    def pg_uri(self, database: str, *, driver: str = "") -> str:
        return f"postgresql{driver}://{ROLE}:{self.password}@{HOST}:{self.pg_port}/{database}"

    @property
    def backend_uri(self) -> str:
        return self.pg_uri(MLFLOW_DB, driver="+psycopg")

    @property
    def lock_uri(self) -> str:
        return self.pg_uri(LOCK_DB)

    @property
    def running(self) -> bool:
        return self.pg_running and self.mlflow_running

    def env(self) -> dict[str, str]:
        from .tracking import LOCK_URI_ENV, TRACKING_URI_ENV

        return {TRACKING_URI_ENV: self.tracking_uri, LOCK_URI_ENV: self.lock_uri}

    def exports(self) -> str:
        return "".join(f"export {k}={v}\n" for k, v in self.env().items())

    def describe(self) -> str:
        pg = f"PostgreSQL on {HOST}:{self.pg_port} " + ("running" if self.pg_running else "stopped")
        ml = f"mlflow server on {self.tracking_uri} " + (f"running (PID {self.mlflow_pid})" if self.mlflow_running
                                                        else "stopped")
        return f"{ml}; {pg}; folder {self.folder}"


# -- finding PostgreSQL ---------------------------------------------------------------------


def pg_bindir() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``: $WORKBENCH_PG_BIN, the newest
    /usr/lib/postgresql/<version>/bin (Debian), or the PATH."""
    candidates: list[Path] = []
    if os.environ.get(PG_BIN_ENV):
        candidates.append(Path(os.environ[PG_BIN_ENV]))
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    candidates += versions
    found = shutil.which("initdb")
    if found:
        candidates.append(Path(found).parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    raise TrackingError("PostgreSQL's server programs (initdb, pg_ctl) are not installed",
                        where=os.environ.get(PG_BIN_ENV) or "/usr/lib/postgresql/*/bin",
                        hint="install them: `apt-get install -y postgresql` (Debian; .ci/run does it), or set "
                        f"{PG_BIN_ENV} to the folder holding initdb and pg_ctl")


@dataclass(frozen=True)
class _RunAs:
    uid: int | None  # None: as this user
    gid: int | None
    name: str

    def kwargs(self) -> dict[str, Any]:
        if self.uid is None:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def own(self, path: Path) -> None:
        if self.uid is not None:
            os.chown(path, self.uid, self.gid if self.gid is not None else -1)


def _run_as() -> _RunAs:
    """Who runs PostgreSQL: this user, or ``postgres`` when this is root (which it refuses)."""
    if os.geteuid() != 0:
        return _RunAs(None, None, "")
    import pwd

    try:
        entry = pwd.getpwnam("postgres")
    except KeyError as exc:
        raise TrackingError("PostgreSQL refuses to run as root, and there is no `postgres` user to run it as",
                            where="root", hint="install Debian's package (`apt-get install -y postgresql`, which "
                            "creates the user), or start the server as an ordinary user") from exc
    return _RunAs(entry.pw_uid, entry.pw_gid, "postgres")


def _check_reachable(folder: Path, who: _RunAs) -> None:
    """The ``postgres`` user must be able to enter every parent of the cluster's folder."""
    if who.uid is None:
        return
    for parent in [folder, *folder.parents]:
        st = parent.stat()
        if st.st_uid == who.uid or st.st_mode & 0o001 or (st.st_gid == who.gid and st.st_mode & 0o010):
            continue
        raise TrackingError(
            f"PostgreSQL runs as the `{who.name}` user (it refuses root), which cannot enter {parent} "
            f"(mode {oct(st.st_mode & 0o777)})", where=str(folder),
            hint=f"put the server's folder where {who.name} can reach it: `workbench server start --dir "
            "/srv/workbench-server` (make tracking-server SERVER_DIR=...), or `chmod o+x` the folders above it")


# -- small helpers ----------------------------------------------------------------------------


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind: TIME_WAIT is no obstacle
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def _write_private(path: Path, text: str) -> None:
    write_whole(path, text, private=True)


def _state(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "server.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _save_state(folder: Path, state: dict[str, Any]) -> None:
    _write_private(folder / "server.json", json.dumps(state, indent=1))


def _password(folder: Path) -> str:
    path = folder / "password"
    if not path.exists():
        _write_private(path, secrets.token_urlsafe(24) + "\n")
    return path.read_text(encoding="utf-8").strip()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _run(argv: list[str], who: _RunAs, *, what: str, log: Path | None = None, timeout: float = 120,
         check: bool = True) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                              cwd="/", **who.kwargs())
    except (OSError, subprocess.SubprocessError) as exc:
        raise TrackingError(f"{what} failed: {exc}", where=argv[0]) from exc
    if check and done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()[-1500:]
        if log is not None:
            detail += f"\n{log}:\n{_tail(log)}"
        raise TrackingError(f"{what} failed (exit {done.returncode}):\n{detail}", where=argv[0],
                            hint="see the message above; `workbench server stop`, then start again")
    return done


# -- PostgreSQL ---------------------------------------------------------------------------------


def _pg_running(bindir: Path, pgdata: Path, who: _RunAs) -> bool:
    if not (pgdata / "PG_VERSION").exists():
        return False
    return _run([str(bindir / "pg_ctl"), "-D", str(pgdata), "status"], who, what="pg_ctl status",
                check=False).returncode == 0


def _initdb(bindir: Path, folder: Path, pgdata: Path, password: str, who: _RunAs, say: Say) -> None:
    say(f"creating a PostgreSQL cluster in {pgdata}")
    pgdata.mkdir(mode=0o700)
    who.own(pgdata)
    pwfile = folder / ".initdb-password"
    _write_private(pwfile, password + "\n")
    who.own(pwfile)
    try:
        _run([str(bindir / "initdb"), "-D", str(pgdata), "-U", ROLE, f"--pwfile={pwfile}", "--auth=scram-sha-256",
              "--encoding=UTF8", "--no-locale"], who, what="initdb", timeout=180)
    except BaseException:
        shutil.rmtree(pgdata, ignore_errors=True)
        raise
    finally:
        pwfile.unlink(missing_ok=True)
    with open(pgdata / "postgresql.conf", "a", encoding="utf-8") as f:
        f.write("\n# workbench: TCP on loopback only, no Unix socket (the port is given at start)\n"
                f"listen_addresses = '{HOST}'\nunix_socket_directories = ''\n")


def _start_pg(bindir: Path, folder: Path, pgdata: Path, port: int, who: _RunAs, say: Say) -> None:
    log = folder / "pg.log"
    if not log.exists():
        log.touch(mode=0o600)
    who.own(log)
    say(f"starting PostgreSQL on {HOST}:{port}")
    _run([str(bindir / "pg_ctl"), "-D", str(pgdata), "-l", str(log), "-w", "-t", "120", "-o", f"-p {port}", "start"],
         who, what="starting PostgreSQL (pg_ctl start)", log=log, timeout=180)


def _create_databases(info: ServerInfo) -> None:
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            conn = psycopg.connect(info.pg_uri("postgres"), autocommit=True, connect_timeout=5)
            break
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise TrackingError(f"cannot connect to the server's PostgreSQL: {exc}",
                                    where=f"{HOST}:{info.pg_port}",
                                    hint=f"see {info.folder / 'pg.log'}") from exc
            time.sleep(0.3)
    with conn:
        have = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
        for name in (MLFLOW_DB, LOCK_DB):
            if name not in have:
                conn.execute(f'CREATE DATABASE "{name}"')


# -- mlflow server --------------------------------------------------------------------------------


def _mlflow_alive(state: dict[str, Any]) -> bool:
    pid, started = state.get("mlflow_pid"), state.get("mlflow_started")
    if not pid:
        return False
    actual = procs.started(int(pid))
    if actual is None:
        return False
    return started is None or procs.same_start(actual, float(started))


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=3) as resp:  # noqa: S310 - loopback
            return resp.status == 200
    except (OSError, ValueError):
        return False


def _start_mlflow(info: ServerInfo, workers: int, say: Say) -> tuple[int, float | None]:
    folder = info.folder
    artifacts = folder / "artifacts"
    artifacts.mkdir(exist_ok=True)
    mlflow = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    argv = [mlflow, "server", "--serve-artifacts", "--artifacts-destination", str(artifacts),
            "--host", HOST, "--port", str(info.port), "--workers", str(workers)]
    env = {**os.environ, "MLFLOW_BACKEND_STORE_URI": info.backend_uri, "MLFLOW_DISABLE_TELEMETRY": "true",
           "DO_NOT_TRACK": "true", **without_job_runner()}
    say(f"starting mlflow server on {info.tracking_uri} (store: PostgreSQL database {MLFLOW_DB}; "
        f"artifacts: {artifacts})")
    log = open(folder / "mlflow.log", "ab")  # noqa: SIM115 - handed to the child
    try:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=folder,
                                env=env, start_new_session=True)
    except OSError as exc:
        raise TrackingError(f"cannot start mlflow server: {exc}", where=mlflow,
                            hint="`make setup` installs it into .venv") from exc
    finally:
        log.close()
    _CHILDREN[proc.pid] = proc
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _healthy(info.tracking_uri):
        if proc.poll() is not None:
            _CHILDREN.pop(proc.pid, None)
            raise TrackingError(f"mlflow server exited at start (code {proc.returncode}):\n"
                                f"{_tail(folder / 'mlflow.log')}", where=str(folder / "mlflow.log"),
                                hint="see the log above")
        if time.monotonic() > deadline:
            _kill_group(proc.pid)
            raise TrackingError(f"mlflow server did not answer within {START_TIMEOUT_S:.0f} s",
                                where=str(folder / "mlflow.log"), hint=_tail(folder / "mlflow.log"))
        time.sleep(0.5)
    return proc.pid, procs.started(proc.pid)


def _kill_group(pid: int, grace: float = 20.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + (grace if sig == signal.SIGTERM else 5.0)
        while time.monotonic() < deadline:
            proc = _CHILDREN.get(pid)
            if proc is not None:
                if proc.poll() is not None:
                    _CHILDREN.pop(pid, None)
                    return
            elif procs.started(pid) is None:
                return
            time.sleep(0.2)


# -- the commands ---------------------------------------------------------------------------------


def status(folder: Path | str = DEFAULT_DIR) -> ServerInfo | None:
    """The server in ``folder`` (None when none was ever set up there)."""
    folder = Path(folder).resolve()
    state = _state(folder)
    if not state or not (folder / "password").exists():
        return None
    pg_running = False
    if (folder / "pg" / "PG_VERSION").exists():
        with contextlib.suppress(TrackingError):
            pg_running = _pg_running(pg_bindir(), folder / "pg", _run_as())
    alive = _mlflow_alive(state)
    return ServerInfo(folder=folder, port=int(state.get("port", DEFAULT_PORT)), pg_port=int(state.get("pg_port", 0)),
                      password=_password(folder), pg_running=pg_running, mlflow_running=alive,
                      mlflow_pid=int(state["mlflow_pid"]) if alive else None)


def start(folder: Path | str = DEFAULT_DIR, *, port: int | None = None, workers: int = 2,
          say: Say | None = None) -> ServerInfo:
    """Start (or find running) PostgreSQL and mlflow server for ``folder``; write client.env."""
    say = say or (lambda _m: None)
    folder = Path(folder).resolve()
    bindir = pg_bindir()
    who = _run_as()
    folder.mkdir(parents=True, exist_ok=True)
    if who.uid is not None:
        folder.chmod(0o711)  # postgres may enter it; the files in it stay private (0600)
    else:
        folder.chmod(0o700)
    _check_reachable(folder, who)
    state = _state(folder)
    password = _password(folder)
    pgdata = folder / "pg"
    if not (pgdata / "PG_VERSION").exists():
        if pgdata.exists():
            shutil.rmtree(pgdata)  # a half-made cluster from an interrupted start
        _initdb(bindir, folder, pgdata, password, who, say)
    if _pg_running(bindir, pgdata, who):
        pg_port = int(state["pg_port"])
    else:
        pg_port = int(state.get("pg_port") or 0)
        if not pg_port or not _port_free(pg_port):
            pg_port = free_port()
        state["pg_port"] = pg_port
        _save_state(folder, state)
        _start_pg(bindir, folder, pgdata, pg_port, who, say)
    wanted = port or int(state.get("port") or DEFAULT_PORT)
    info = ServerInfo(folder=folder, port=wanted, pg_port=pg_port, password=password, pg_running=True,
                      mlflow_running=False, mlflow_pid=None)
    _create_databases(info)
    if _mlflow_alive(state) and _healthy(f"http://{HOST}:{state.get('port')}") and wanted == int(state["port"]):
        pid = int(state["mlflow_pid"])
        say(f"mlflow server already runs on {info.tracking_uri} (PID {pid})")
    else:
        if _mlflow_alive(state):  # on another port, or not answering: replace it
            _kill_group(int(state["mlflow_pid"]))
        if not _port_free(wanted):
            raise TrackingError(f"port {wanted} on {HOST} is taken by another program", where=f"{HOST}:{wanted}",
                                hint="pick another: `make tracking-server SERVER_PORT=5002` "
                                "(`workbench server start --port 5002`)")
        pid, started = _start_mlflow(info, workers, say)
        state.update(port=wanted, mlflow_pid=pid, mlflow_started=started)
        _save_state(folder, state)
    info = ServerInfo(folder=folder, port=wanted, pg_port=pg_port, password=password, pg_running=True,
                      mlflow_running=True, mlflow_pid=pid)
    _write_private(folder / "client.env", "# a client of the team tracking server: `. " + str(folder / "client.env")
                   + "`\n" + info.exports())
    return info


def stop(folder: Path | str = DEFAULT_DIR, *, say: Say | None = None) -> bool:
    """Stop the mlflow server and PostgreSQL of ``folder``; False when neither ran."""
    say = say or (lambda _m: None)
    folder = Path(folder).resolve()
    state = _state(folder)
    stopped = False
    if _mlflow_alive(state):
        say(f"stopping mlflow server (PID {state['mlflow_pid']})")
        _kill_group(int(state["mlflow_pid"]))
        stopped = True
    pgdata = folder / "pg"
    if (pgdata / "PG_VERSION").exists():
        bindir, who = pg_bindir(), _run_as()
        if _pg_running(bindir, pgdata, who):
            say("stopping PostgreSQL")
            _run([str(bindir / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "-t", "60", "stop"], who,
                 what="stopping PostgreSQL (pg_ctl stop)", log=folder / "pg.log", timeout=90)
            stopped = True
    if state:
        state.pop("mlflow_pid", None)
        state.pop("mlflow_started", None)
        _save_state(folder, state)
    return stopped
