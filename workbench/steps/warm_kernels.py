"""Warm kernels: one process imports what step notebooks import, then forks a kernel per notebook.

A cold kernel is a new Python that imports MLflow, scikit-learn, pandas, SciPy and matplotlib
(about 4-5 s of CPU on a 2-core machine) before its first cell does any work, and a pilot runs
three or four of them. The *server* here pays that once — per pilot run, or once per test
session when ``WORKBENCH_KERNEL_SERVER`` names a running one — and forks each kernel from it.
A forked kernel is still its own process, with the step's environment, working directory and
standard streams, started from modules nobody has used yet: the notebook runs as it would in a
fresh kernel (``random`` is reseeded by Python on fork; a notebook's own seeds are its own).

jupyter_client still manages every kernel. It starts a small *launcher* (``python -m
workbench.steps.warm_kernels launch``: the standard library only) in place of
``ipykernel_launcher``; the launcher hands its arguments, environment and streams to the
server, relays interrupt and terminate signals to the forked kernel and exits with the
kernel's status (a kernel killed by a signal: the launcher dies of the same signal). When the
launcher itself is killed, the server kills its kernel; when the server's parent goes, the
server and its kernels go. ``WORKBENCH_WARM_KERNELS=0`` turns it off (each kernel starts cold).
"""

from __future__ import annotations

import ast
import contextlib
import gc
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

# what every step kernel imports, directly or through the workbench (measured with
# `python -X importtime`): imported once in the server, before any fork
BASE_PRELOAD = (
    # matplotlib's Figure and Agg canvas: the workbench draws without pyplot (a notebook importing it gets it below)
    "numpy", "pandas", "pyarrow", "scipy.stats", "duckdb", "matplotlib", "matplotlib.figure",
    "matplotlib.backends.backend_agg",
    "sklearn.base", "sklearn.pipeline", "sklearn.compose", "sklearn.impute", "sklearn.preprocessing",
    "sklearn.ensemble", "sklearn.linear_model", "sklearn.metrics",
    "mlflow", "mlflow.sklearn", "mlflow.pyfunc", "mlflow.tracking",
    # imported on a step's first store call (workbench.store.tracking opens the store lazily):
    # ~1.5 s of every step kernel, and GitPython, jinja2 and pandas' Styler for its source tags and tables
    "mlflow.store.tracking.sqlalchemy_store", "mlflow.store.model_registry.sqlalchemy_store",
    "sqlalchemy.dialects.sqlite", "git", "jinja2", "pandas.io.formats.style", "workbench.data.warehouse",
    "ipykernel.kernelapp", "ipykernel.ipkernel", "IPython",
    "workbench", "workbench.steps.session",
)
# what shapes an interpreter's start or a library's set-up at import (sitecustomize on
# PYTHONPATH, thread pools, matplotlib's backend): a kernel asked for with other values than the
# server started with is started cold instead (its launcher becomes ipykernel_launcher)
_STARTUP_PREFIXES = ("PYTHON", "OMP_", "OPENBLAS_", "MKL_", "GOTO_", "BLIS_", "MPL", "LD_", "MALLOC_")


# what the runner sets in a step kernel's environment unless it is set (and so in the server's)
KERNEL_DEFAULTS = {"MPLBACKEND": "Agg", "GX_ANALYTICS_ENABLED": "False"}


def _startup_env(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(_STARTUP_PREFIXES)}


ENV_SERVER = "WORKBENCH_KERNEL_SERVER"
ENV_SWITCH = "WORKBENCH_WARM_KERNELS"
_LAUNCHER = "ipykernel_launcher"


def enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def notebook_imports(notebooks: Iterable[Path]) -> list[str]:
    """The modules the code cells of ``notebooks`` import at their top level, in order of first use."""
    found: dict[str, None] = {}
    for path in notebooks:
        try:
            cells = json.loads(Path(path).read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError):
            continue
        for cell in cells:
            if cell.get("cell_type") != "code":
                continue
            source = "".join(cell.get("source", []))
            try:
                tree = ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("!", "%"))))
            except SyntaxError:
                continue
            for node in tree.body:
                if isinstance(node, ast.Import):
                    found.update({alias.name: None for alias in node.names})
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found[node.module] = None
                    # `from workbench.measure import modeling`: the submodules too
                    found.update({f"{node.module}.{alias.name}": None for alias in node.names})
    return list(found)


@contextlib.contextmanager
def private_sockets() -> Iterator[dict[str, str]]:
    """What a jupyter_client KernelManager takes to put a kernel's channels on Unix sockets in a
    private (0700) folder of their own, removed afterwards ({} off POSIX: TCP, as before). Not TCP
    ports: the manager's process picks a free one and the kernel binds it a moment later, and on
    a busy machine another process can take it in between ("Address already in use" in the
    kernel's log: it never answers)."""
    if os.name != "posix":
        yield {}
        return
    folder = tempfile.mkdtemp(prefix="wbk-")
    try:
        yield {"transport": "ipc", "ip": os.path.join(folder, "k"), "connection_file": os.path.join(folder, "k.json")}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class WarmKernels:
    """A running kernel server: the socket it listens on, and the process when this one started it."""

    def __init__(self, socket_path: str, process: subprocess.Popen | None = None, folder: str | None = None) -> None:
        self.socket_path = socket_path
        self.process = process
        self._folder = folder

    @classmethod
    def start(cls, preload: Sequence[str] = (), *, log: Path | None = None) -> WarmKernels:
        """Start a server (child of this process) that preloads BASE_PRELOAD and ``preload``.
        It starts importing at once; :meth:`ready` waits for it."""
        folder = tempfile.mkdtemp(prefix="wbk-")  # short: a unix socket path is limited to ~100 bytes
        path = os.path.join(folder, "s")
        # what it could not preload, and anything it prints: beside its socket, gone with it
        out = open(log or os.path.join(folder, "server.log"), "ab")  # noqa: SIM115 - the child holds it
        env = {**KERNEL_DEFAULTS, **os.environ}
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "workbench.steps.warm_kernels", "serve", path, str(os.getpid()),
                 *dict.fromkeys([*BASE_PRELOAD, *preload])],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env, start_new_session=True)
        finally:
            out.close()
        return cls(path, process, folder)

    @classmethod
    def from_env(cls) -> WarmKernels | None:
        """The server ``WORKBENCH_KERNEL_SERVER`` names (shared, e.g. by a test session), if any."""
        path = os.environ.get(ENV_SERVER)
        return cls(path) if path else None

    def alive(self) -> bool:
        return self.process is None or self.process.poll() is None

    def ready(self, timeout: float = 120.0) -> bool:
        """True once the server accepts launches (it binds its socket after preloading);
        False if it died or did not get there within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # a server named by the environment: its folder exists from its start, its socket once ready
            if not self.alive() or not os.path.isdir(os.path.dirname(self.socket_path)):
                return False
            with contextlib.suppress(OSError):
                return self._ping({"ping": True})
            time.sleep(0.05)
        return False

    def meanwhile(self, work: Iterable[Callable[[], object]]) -> None:
        """Do ``work``, one piece at a time, while the server is still importing (its socket not
        bound yet) — a wait otherwise — and stop once it is ready or gone. A failing piece is
        left: whoever needs it meets the failure where it is used."""
        for piece in work:
            if not self.alive() or os.path.exists(self.socket_path):
                return
            with contextlib.suppress(Exception):
                piece()

    def serves(self, env: Mapping[str, str]) -> bool:
        """True when the server is ready and forks kernels for this environment: it was started
        with the same start-up settings (a kernel asked for with others is started cold)."""
        if not self.ready():
            return False
        with contextlib.suppress(OSError):
            return self._ping({"ping": True, "env": _startup_env({**KERNEL_DEFAULTS, **env})}, timeout=10)
        return False

    def _ping(self, request: dict[str, Any], timeout: float | None = None) -> bool:
        """The server's answer to ``request``: True for "pong" (raises OSError when unreachable)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(timeout)
            probe.connect(self.socket_path)
            probe.sendall(json.dumps(request).encode())
            return probe.recv(16).startswith(b"pong")

    def launch_command(self, kernel_cmd: Sequence[str]) -> list[str] | None:
        """The launcher command that replaces ``kernel_cmd`` (``python -m ipykernel_launcher ...``
        of this interpreter), or None when this server cannot start that kernel."""
        if len(kernel_cmd) < 3 or list(kernel_cmd[1:3]) != ["-m", _LAUNCHER]:
            return None
        if os.path.realpath(kernel_cmd[0]) != os.path.realpath(sys.executable) or not self.ready():
            return None
        return [sys.executable, "-m", "workbench.steps.warm_kernels", "launch", self.socket_path, *kernel_cmd[3:]]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)


# --- the server -----------------------------------------------------------------------------

def _import_all(modules: Sequence[str]) -> list[str]:
    """Import ``modules`` in order; what could not be imported, each as a line. A name under a
    module that is no package (``from workbench.widgets import panel``: a function) is a name,
    not a module: skipped, not a failure."""
    import importlib

    failed = []
    for name in modules:
        parent = sys.modules.get(name.rpartition(".")[0])
        if parent is not None and not hasattr(parent, "__path__"):
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - a module a notebook may not even reach: its kernel imports it
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
    return failed


def _preload(modules: Sequence[str]) -> None:
    for line in _import_all(modules):
        print(f"warm kernels: not preloaded: {line}", file=sys.stderr, flush=True)
    if "mlflow" in sys.modules:
        # MLflow maps installed distributions to their modules on a process's first logged model
        # (~0.25 s of every kernel that logs one); mapped once here, every fork has it
        try:
            from mlflow.utils.requirements_utils import _init_packages_to_modules_map

            _init_packages_to_modules_map()
        except Exception as exc:  # noqa: BLE001 - a private helper: a kernel maps them itself
            print(f"warm kernels: MLflow's package map not made: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
    # what is loaded now lives as long as the process: out of the collector's sight, a kernel's
    # collections (IPython's own at shutdown among them) walk only what its notebook made
    gc.collect()
    gc.freeze()


_WAKE: list[socket.socket] = []  # the server's signal wake-up pair: not the forked kernel's


def serve(path: str, parent: int, modules: Sequence[str]) -> NoReturn:
    # as ipykernel_launcher does before it imports anything: the folder it started in is no
    # place to import from (a kernel's init_path puts "" back, in the kernel's own folder)
    if sys.path and (sys.path[0] == "" or Path(sys.path[0]) == Path.cwd()):
        del sys.path[0]
    startup = _startup_env(dict(os.environ))
    _preload(modules)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    # a kernel's exit too: only a signal with a handler reaches the wake-up socket, and without one
    # its launcher (and jupyter_client, and the step) heard of it only at the loop's next 0.25 s tick
    signal.signal(signal.SIGCHLD, lambda *_: None)
    # SIGTERM also wakes the loop below at once (stop() waits for this process to end)
    wake, waker = _WAKE[:] = socket.socketpair()
    waker.setblocking(False)
    signal.set_wakeup_fd(waker.fileno(), warn_on_full_buffer=False)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".tmp")
    os.rename(path + ".tmp", path)  # ready() connects only once everything is imported
    listener.listen(16)
    listener.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    sel.register(wake, selectors.EVENT_READ)
    kernels: dict[int, socket.socket] = {}  # pid -> its launcher's connection
    while not stopping and os.getppid() == parent:
        for key, _ in sel.select(timeout=0.25):
            if key.fileobj is wake:
                with contextlib.suppress(BlockingIOError, InterruptedError):
                    wake.recv(64)
            elif key.fileobj is listener:
                with contextlib.suppress(BlockingIOError):
                    conn, _ = listener.accept()
                    conn.setblocking(True)
                    pid = _accept(conn, listener, sel, kernels, startup)
                    if pid:
                        kernels[pid] = conn
                        sel.register(conn, selectors.EVENT_READ, pid)
                    else:
                        conn.close()
            else:  # a launcher went away (killed, or done): its kernel goes too
                with contextlib.suppress(OSError):
                    if key.fileobj.recv(1):
                        continue
                sel.unregister(key.fileobj)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(key.data, signal.SIGKILL)
        _reap(kernels, sel)
    for pid in list(kernels):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 2.0
    while kernels and time.monotonic() < deadline:  # killed: gone within milliseconds
        _reap(kernels, sel)
        time.sleep(0.01)
    # its folder (socket, log) goes with it, also when its parent died without stopping it
    shutil.rmtree(os.path.dirname(path), ignore_errors=True)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()
    # no interpreter shutdown: tearing down the preloaded modules took ~1 s of every run's
    # wall time, and this process ran none of their code (no run, no file of theirs is open)
    os._exit(0)


def _accept(conn: socket.socket, listener: socket.socket, sel: selectors.BaseSelector,
            kernels: dict[int, socket.socket], startup: dict[str, str]) -> int | None:
    conn.settimeout(10)
    try:
        data, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
        request = json.loads(data.decode())
    except (OSError, ValueError):
        return None
    differ = sorted(set(startup.items()) ^ set(_startup_env(request.get("env", {})).items()))
    if request.get("ping"):  # with an environment: would its kernels be forked?
        conn.sendall(b"other" if "env" in request and differ else b"pong")
        return None
    if differ:
        for fd in fds:
            os.close(fd)
        conn.sendall(json.dumps({"cold": sorted({k for k, _ in differ})}).encode() + b"\n")
        return None
    conn.settimeout(None)
    pid = os.fork()
    if pid == 0:
        with contextlib.suppress(Exception):
            sel.close()
        listener.close()
        for other in kernels.values():
            other.close()
        _kernel(conn, request, fds)  # never returns
    for fd in fds:
        os.close(fd)
    conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    return pid


def _reap(kernels: dict[int, socket.socket], sel: selectors.BaseSelector) -> None:
    while kernels:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = kernels.pop(pid, None)
        if conn is None:
            continue
        with contextlib.suppress(KeyError, ValueError):
            sel.unregister(conn)
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
        conn.close()


def _kernel(conn: socket.socket, request: dict, fds: list[int]) -> None:
    """In the forked child: become the kernel the launcher asked for, then exit."""
    code = 1
    try:
        conn.close()
        signal.set_wakeup_fd(-1)
        for end in _WAKE:
            end.close()
        os.setsid()
        for target, fd in zip((0, 1, 2), fds, strict=False):
            os.dup2(fd, target)
            os.close(fd)
        for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(request["cwd"])
        env = request["env"]
        os.environ.clear()
        os.environ.update(env)
        # what a new interpreter would have put on sys.path from this environment
        extra = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p not in sys.path]
        sys.path[:0] = extra
        import ipykernel_launcher
        from ipykernel import kernelapp

        sys.argv = [ipykernel_launcher.__file__, *request["argv"]]
        code = 0
        kernelapp.launch_new_instance(argv=request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - the kernel's own crash: on its stderr, as a cold kernel's would be
        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(BaseException):
            import atexit

            atexit._run_exitfuncs()  # what a cold kernel runs when it exits (MLflow's, IPython's)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()
        os._exit(code)


# --- the launcher ---------------------------------------------------------------------------

def launch(path: str, argv: Sequence[str]) -> int:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
        request = {"argv": list(argv), "cwd": os.getcwd(), "env": dict(os.environ)}
        socket.send_fds(conn, [json.dumps(request).encode()], [0, 1, 2])
        reader = conn.makefile("rb")
        answer = json.loads(reader.readline())
        if "cold" in answer:  # started with other start-up settings: become a cold kernel, in place
            conn.close()
            os.execv(sys.executable, [sys.executable, "-m", _LAUNCHER, *argv])
        pid = answer["pid"]
    except (OSError, ValueError, KeyError) as exc:
        print(f"warm kernels: no kernel from the server at {path}: {exc}; "
              f"set {ENV_SWITCH}=0 to start kernels cold", file=sys.stderr)
        return 1

    def relay(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, relay)
    line = reader.readline()
    try:
        code = int(json.loads(line)["exit"])
    except (ValueError, KeyError):  # the server went away: so does its kernel
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        return 1
    if code < 0:  # killed by a signal: die of it too, so the kernel manager sees what a cold kernel shows
        with contextlib.suppress(OSError, ValueError):  # SIGKILL has no handler to reset
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code


def main(args: Sequence[str]) -> int:
    if args[:1] == ["serve"]:
        serve(args[1], int(args[2]), args[3:])  # ends this process
    if args[:1] == ["launch"]:
        return launch(args[1], args[2:])
    print("usage: python -m workbench.steps.warm_kernels serve SOCKET PARENT_PID [MODULE ...] | launch SOCKET [KERNEL ARGS ...]",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
