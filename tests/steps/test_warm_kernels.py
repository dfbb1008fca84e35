"""Warm kernels: a step's kernel forked from a server that imported the heavy modules once
(workbench.steps.warm_kernels), with the step's environment and folder, managed by
jupyter_client through a launcher — killed, interrupted and ended as a cold kernel is."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import KernelManager

from support import LOGGING_CELL, REPO, write_project
from workbench.charter.config import load_charter
from workbench.steps import warm_kernels
from workbench.steps.runner import run_pilot

# what the step's kernel saw before its own code imported anything
PROBE_CELL = """
import gc, json, os, sys
preloaded = "sklearn.ensemble" in sys.modules
frozen = gc.get_freeze_count()  # objects the collector never walks (the server's preloaded ones)
from workbench.steps.warm_kernels import BASE_PRELOAD
not_loaded = [m for m in BASE_PRELOAD if m not in sys.modules]
from mlflow.utils import requirements_utils
package_map = requirements_utils._PACKAGES_TO_MODULES is not None  # made before any model was logged
with open(os.environ["PROBE_OUT"], "w") as out:
    json.dump({"cwd": os.getcwd(), "probe": os.environ.get("PROBE"), "pid": os.getpid(),
               "preloaded": preloaded, "path": sys.path, "not_loaded": not_loaded, "package_map": package_map,
               "frozen": frozen}, out)
"""


@pytest.fixture(scope="module")
def server():
    started = warm_kernels.WarmKernels.start(["sklearn.ensemble"])
    assert started.ready(), Path(started.socket_path).with_name("server.log").read_text()
    yield started
    started.stop()
    assert started.process.poll() is not None


def _probe_pilot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> dict:
    charter = write_project(tmp_path, notebook_cells=(PROBE_CELL, LOGGING_CELL))
    out = tmp_path / "probe.json"
    monkeypatch.setenv("PROBE_OUT", str(out))
    monkeypatch.setenv("PROBE", "from the step's environment")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = run_pilot(load_charter(charter))
    assert result.status == "FINISHED"
    return json.loads(out.read_text())


@pytest.mark.slow
def test_a_step_kernel_is_forked_warm_and_sees_what_a_cold_one_sees(tmp_path, monkeypatch, server) -> None:
    monkeypatch.setenv(warm_kernels.ENV_SERVER, server.socket_path)
    warm = _probe_pilot(tmp_path / "warm", monkeypatch)
    assert warm["preloaded"], "the kernel was not forked from the server"
    # every module the server is to preload is imported before the step's code (a name that
    # does not import, or a preload dropped, shows here; the server's log says why)
    assert warm["not_loaded"] == []
    assert warm["package_map"]  # MLflow's map of installed packages, made once in the server
    # what the server preloaded is out of the collector's sight: a full collection in the kernel
    # (IPython runs one at shutdown, after every step) walks only what the notebook made
    assert warm["frozen"] > 50_000, warm["frozen"]
    assert warm["probe"] == "from the step's environment"
    assert Path(warm["cwd"]) == tmp_path / "warm" / "notebooks"  # papermill's cwd: the notebook's folder
    assert warm["pid"] not in (os.getpid(), server.process.pid)
    # WORKBENCH_WARM_KERNELS=0: a cold kernel, with the same view of its environment and imports
    cold = _probe_pilot(tmp_path / "cold", monkeypatch, WORKBENCH_WARM_KERNELS="0")
    assert not cold["preloaded"] and not cold["package_map"] and cold["frozen"] == 0
    assert cold["probe"] == warm["probe"]
    assert cold["path"] == warm["path"]


@pytest.fixture()
def started(monkeypatch) -> list[warm_kernels.WarmKernels]:
    """The servers started from here on (not every wbk-* folder in /tmp: another worker may own one)."""
    out: list[warm_kernels.WarmKernels] = []
    real_start = warm_kernels.WarmKernels.start.__func__

    def recording_start(cls, *args, **kwargs):  # noqa: ANN001, ANN202 - WarmKernels.start's signature
        out.append(real_start(cls, *args, **kwargs))
        return out[-1]

    monkeypatch.setattr(warm_kernels.WarmKernels, "start", classmethod(recording_start))
    return out


def _stopped(server: warm_kernels.WarmKernels) -> bool:
    # the process ended, and its folder (socket, log) went with it
    return server.process is not None and server.process.poll() is not None \
        and not Path(server.socket_path).parent.exists()


@pytest.mark.slow
def test_without_a_shared_server_the_run_starts_and_stops_its_own(tmp_path, monkeypatch, started) -> None:
    monkeypatch.delenv(warm_kernels.ENV_SERVER, raising=False)
    seen = _probe_pilot(tmp_path, monkeypatch)
    assert seen["preloaded"]
    assert len(started) == 1 and _stopped(started[0])  # stopped with the run


@pytest.mark.slow
def test_a_shared_server_with_other_start_up_settings_is_passed_over_for_a_run_of_its_own(
        tmp_path, monkeypatch, server, started) -> None:
    """A run whose kernels the shared server would start cold (another PYTHONPATH, here) starts
    a server of its own, with its own settings: its kernels are still forked warm."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv(warm_kernels.ENV_SERVER, server.socket_path)
    assert server.serves(os.environ)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(elsewhere), os.environ.get("PYTHONPATH")])))
    assert not server.serves(os.environ)
    seen = _probe_pilot(tmp_path / "pilot", monkeypatch)
    assert seen["preloaded"], "the kernel started cold"
    assert str(elsewhere) in seen["path"]  # with the run's own start-up settings
    assert len(started) == 1 and _stopped(started[0])
    assert server.alive()  # the shared one is left as it was


class _Warm(KernelManager):
    server: warm_kernels.WarmKernels

    async def _async_launch_kernel(self, kernel_cmd, **kw):  # noqa: ANN001, ANN202 - jupyter_client's signature
        command = self.server.launch_command(kernel_cmd)
        assert command is not None
        return await super()._async_launch_kernel(command, **kw)


@pytest.fixture()
def kernel(server):
    with _warm_kernel(server) as started:
        yield started


@contextlib.contextmanager
def _warm_kernel(server: warm_kernels.WarmKernels) -> Iterator[tuple[KernelManager, Any]]:
    """A kernel forked from ``server``, managed by jupyter_client, and its client: shut down after.
    On Unix sockets, as the runner's kernels (warm_kernels.private_sockets)."""
    with warm_kernels.private_sockets() as channels:
        km = type("WarmKM", (_Warm,), {"server": server})(kernel_name="python3", **channels)
        km.start_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = km.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
            yield km, client
        finally:
            client.stop_channels()
            if km.is_alive():
                km.shutdown_kernel(now=True)


def _run(client, code: str, timeout: float = 30) -> tuple[dict, str]:
    printed: list[str] = []
    reply = client.execute_interactive(
        code, timeout=timeout,
        output_hook=lambda m: printed.append(m["content"].get("text", "")) if m["msg_type"] == "stream" else None)
    return reply["content"], "".join(printed)


def _gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
def test_killing_the_launcher_kills_its_kernel(kernel) -> None:
    km, client = kernel
    _, printed = _run(client, "import os; print(os.getpid())")
    pid = int(printed)
    assert pid != km.provisioner.process.pid  # the kernel is the server's fork, not the launcher
    km.provisioner.process.kill()  # what jupyter_client does to a kernel that will not shut down
    assert _gone(pid), "the forked kernel outlived its launcher"


@pytest.mark.slow
def test_an_interrupt_reaches_the_forked_kernel(kernel) -> None:
    km, client = kernel
    # stop_on_error=False: the kernel does not then abort what is queued after the interrupted cell
    # (on a loaded machine the next request may arrive while it still would)
    msg_id = client.execute("import time; time.sleep(30)", stop_on_error=False)
    time.sleep(1.0)
    km.interrupt_kernel()
    reply = client.get_shell_msg(timeout=10)
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
    content, printed = _run(client, "print('still here')")
    assert content["status"] == "ok" and printed.strip() == "still here"


@pytest.mark.slow
@pytest.mark.parametrize(("code", "status"), [("import os; os._exit(3)", 3),
                                              ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", -9)])
def test_a_kernel_that_dies_ends_its_launcher_with_its_status(kernel, code, status) -> None:
    km, client = kernel
    client.execute(code)
    launcher = km.provisioner.process
    launcher.wait(timeout=15)
    assert launcher.returncode == status
    assert not km.is_alive()


@pytest.mark.slow
def test_stopping_the_server_ends_its_running_kernels_and_removes_its_folder() -> None:
    """stop() ends the server at once (it does not tear down its preloaded modules first), and
    a kernel still running then is killed and reaped, its launcher told, not left behind."""
    own = warm_kernels.WarmKernels.start()
    assert own.ready(), Path(own.socket_path).with_name("server.log").read_text()
    try:
        with _warm_kernel(own) as (km, client):
            _, printed = _run(client, "import os; print(os.getpid())")
            pid = int(printed)
            own.stop()
            assert own.process.returncode == 0
            assert _gone(pid), "a kernel outlived its server's stop"
            km.provisioner.process.wait(timeout=10)  # its launcher heard its kernel went
            assert km.provisioner.process.returncode == -signal.SIGKILL
            assert not Path(own.socket_path).parent.exists()
    finally:
        own.stop()


@pytest.mark.slow
def test_the_server_and_its_kernels_go_with_its_parent(tmp_path) -> None:
    """A runner killed outright (SIGKILL, the OOM killer) leaves no server or kernel behind."""
    script = tmp_path / "parent.py"
    script.write_text(
        "import sys, time\n"
        "from workbench.steps import warm_kernels\n"
        "s = warm_kernels.WarmKernels.start()\n"
        "assert s.ready()\n"
        "print(s.process.pid, flush=True)\n"
        "time.sleep(60)\n")
    script.write_text(script.read_text().replace("print(s.process.pid, flush=True)",
                                                 "print(s.process.pid, s.socket_path, flush=True)"))
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        server_pid, socket_path = parent.stdout.readline().split()
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        assert _gone(int(server_pid)), "the server outlived its parent"
        assert not Path(socket_path).parent.exists()  # nor its folder (socket, log) in /tmp
    finally:
        if parent.poll() is None:
            parent.kill()


def test_notebook_imports_are_what_the_code_cells_import(tmp_path) -> None:
    from support import write_notebook

    nb = write_notebook(tmp_path / "n.ipynb", "x = 1\n", "import numpy as np\nfrom workbench.measure import leakage, metrics",
                        "!pip list\n%matplotlib inline\nimport pandas", "def f():\n    import json  # not at the top: left alone")
    assert warm_kernels.notebook_imports([nb]) == ["numpy", "workbench.measure", "workbench.measure.leakage",
                                                  "workbench.measure.metrics", "pandas"]


def test_a_name_imported_from_a_module_is_not_taken_for_a_missing_module() -> None:
    """`from workbench.widgets import panel` lists workbench.widgets.panel (it could be a
    submodule, as `from workbench.measure import leakage` is): under a module that is no
    package it is a name, and the server's log says nothing of it; a missing module it names."""
    failed = warm_kernels._import_all(["textwrap", "textwrap.dedent", "workbench.widgets", "workbench.widgets.panel",
                                       "workbench.measure", "workbench.measure.leakage", "workbench.no_such_module"])
    assert failed == ["workbench.no_such_module: ModuleNotFoundError: No module named 'workbench.no_such_module'"]
    assert warm_kernels._import_all(warm_kernels.notebook_imports(sorted((REPO / "notebooks").glob("*.ipynb")))) == []


@pytest.mark.slow
def test_a_kernel_asked_for_with_other_start_up_settings_starts_cold(server, tmp_path) -> None:
    """PYTHONPATH (a sitecustomize.py), thread counts, matplotlib's backend act when an
    interpreter starts: with values other than the server's, the launcher becomes a cold kernel."""
    (tmp_path / "sitecustomize.py").write_text("import os\nos.environ['SITE_RAN'] = 'yes'\n")
    km = type("WarmKM", (_Warm,), {"server": server})(kernel_name="python3")
    km.start_kernel(env={**os.environ, "PYTHONPATH": str(tmp_path)}, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL)
    client = km.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        _, printed = _run(client, "import os, sys; print(os.environ.get('SITE_RAN'), 'sklearn.ensemble' in sys.modules,"
                                  " os.getpid())")
        site_ran, preloaded, pid = printed.split()
        assert (site_ran, preloaded) == ("yes", "False")
        assert int(pid) == km.provisioner.process.pid  # the launcher itself became the kernel
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)


def test_the_driver_works_meanwhile_only_while_the_server_is_still_importing(tmp_path) -> None:
    socket_path = tmp_path / "s"  # bound by a server once its imports are done
    waiting = warm_kernels.WarmKernels(str(socket_path))
    done: list[str] = []

    def fails() -> None:
        done.append("fails")
        raise RuntimeError("left to where it is used")

    def server_ready() -> None:
        done.append("last before ready")
        socket_path.touch()

    waiting.meanwhile([fails, server_ready, lambda: done.append("too late")])
    assert done == ["fails", "last before ready"]  # a failing piece is passed over; none starts once it is ready
    waiting.meanwhile([lambda: done.append("ready already")])
    assert done == ["fails", "last before ready"]
