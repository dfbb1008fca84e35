"""The runner on real kernels, a real DuckDB file and a real MLflow store in tmp_path."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import LOGGING_CELL, STEP_PARAMS, copy_of_first_run, write_notebook, write_project
from workbench.charter.config import load_charter
from workbench.errors import CellError, KernelDiedError, ParameterError, StepTimeoutError
from workbench.steps.runner import PilotResult, run_pilot
from workbench.store.tracking import TAG, Store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> pytest.TempPathFactory:
    """Keeps this file's tests on one worker (tests/conftest.py), where the one-notebook
    project's first run is made once for all of them (support.copy_of_first_run)."""
    return tmp_path_factory


@pytest.fixture()
def ran(first_run: pytest.TempPathFactory, tmp_path: Path) -> tuple[Path, PilotResult]:
    """This test's own copy of the one-notebook project after its first run (its charter's
    path) and that run's result, as if the test had just run the fresh project itself."""
    return copy_of_first_run(first_run, tmp_path)


def _store(root: Path) -> Store:
    return Store(root)


def _runs(root: Path) -> list:
    return _store(root).find_runs("tiny-pilot", max_results=1000)


def _by_name(root: Path, name: str) -> list:
    return [r for r in _runs(root) if r.info.run_name == name]


def _artifacts(store: Store, run_id: str, path: str = "notebook") -> set[str]:
    return {Path(a.path).name for a in store.client.list_artifacts(run_id, path)}


def _assert_nothing_running(root: Path) -> None:
    running = [r.info.run_name for r in _runs(root) if r.info.status == "RUNNING"]
    assert running == []


def test_pilot_tracks_parent_and_step_runs_with_notebooks(ran: tuple[Path, PilotResult]) -> None:
    project, result = ran
    root = project.parent
    assert result.status == "FINISHED"
    assert [(s.name, s.status) for s in result.steps] == [
        ("ingest", "executed"), ("contracts", "skipped"), ("measure", "executed")]
    store = _store(root)
    parent = store.get_run(result.run_id)
    tags = parent.data.tags
    assert tags[TAG["kind"]] == "pilot"
    assert tags[TAG["charter_sha256"]] == load_charter(project).sha256
    assert tags["workbench.fingerprint.items"] == result.fingerprints["items"]
    assert TAG["git_commit"] in tags and tags[TAG["git_dirty"]] in ("true", "false")
    assert [d.dataset.name for d in parent.inputs.dataset_inputs] == ["items"]
    assert parent.inputs.dataset_inputs[0].dataset.digest == result.fingerprints["items"]

    step = _by_name(root, "measure")[0]
    assert step.data.tags[TAG["parent"]] == result.run_id
    assert step.info.status == "FINISHED"
    assert step.data.metrics["demo.rows"] == 5  # logged from inside the kernel
    assert step.data.metrics["demo.scale"] == 2  # the charter's parameter reached the notebook
    assert _artifacts(store, step.info.run_id) == {"step.ipynb", "step.html"}
    assert store.tracking_uri.startswith("sqlite:///") and (root / "mlruns" / "mlflow.db").is_file()
    assert (root / "mlruns" / "artifacts").is_dir()
    _assert_nothing_running(root)


def test_cache_hit_and_every_invalidation(ran: tuple[Path, PilotResult]) -> None:
    project, first = ran
    root = project.parent
    executed_id = first.steps[-1].run_id

    again = run_pilot(load_charter(project))
    assert again.steps[-1].status == "cached" and again.steps[-1].cached_from == executed_id
    cached = _store(root).get_run(again.steps[-1].run_id)
    assert cached.data.tags[TAG["cached_from"]] == executed_id
    assert cached.data.metrics["demo.rows"] == 5

    # a changed parameter
    project.write_text(project.read_text().replace("scale: 2", "scale: 3"))
    assert run_pilot(load_charter(project)).steps[-1].status == "executed"
    # an edited notebook
    nb = root / "notebooks" / "step.ipynb"
    write_notebook(nb, STEP_PARAMS + "step_name = 'measure'\nscale = 1\n", LOGGING_CELL + "\nx = 1\n")
    assert run_pilot(load_charter(project)).steps[-1].status == "executed"
    # a changed source
    with open(root / "data" / "items.csv", "a") as f:
        f.write("99,new,9.9\n")
    changed = run_pilot(load_charter(project))
    assert changed.steps[0].status == "executed" and changed.steps[-1].status == "executed"
    assert _store(root).get_run(changed.steps[-1].run_id).data.metrics["demo.rows"] == 6
    # nothing changed, but --force
    assert run_pilot(load_charter(project), force=True).steps[-1].status == "executed"
    assert run_pilot(load_charter(project)).steps[-1].status == "cached"
    _assert_nothing_running(root)


def test_pilot_records_its_environment_and_a_version_change_misses_the_cache(ran: tuple[Path, PilotResult],
                                                                            monkeypatch) -> None:
    from workbench.store import environment

    project, first = ran
    root = project.parent
    store = _store(root)
    tags = store.get_run(first.run_id).data.tags
    now = environment.current()
    assert tags[f"{environment.VERSION_TAG}scikit-learn"] == now.packages["scikit-learn"]
    assert tags[environment.PYTHON_TAG] == now.python and tags[environment.PLATFORM_TAG] == now.platform
    assert tags[environment.LOCK_TAG] == now.lock_sha256
    assert json.loads(store.download_text(first.run_id, environment.ARTIFACT)) == now.to_dict()

    # an upgraded package: the step is computed again
    real = environment.package_versions
    monkeypatch.setattr(environment, "package_versions",
                        lambda *a: {**real(*a), "scikit-learn": "99.0"})
    upgraded = run_pilot(load_charter(project))
    assert upgraded.steps[-1].status == "executed"
    assert store.get_run(upgraded.run_id).data.tags[f"{environment.VERSION_TAG}scikit-learn"] == "99.0"
    # back on the first versions: the first run is served again (the key is the versions, nothing random)
    monkeypatch.setattr(environment, "package_versions", real)
    again = run_pilot(load_charter(project))
    assert again.steps[-1].status == "cached" and again.steps[-1].cached_from == first.steps[-1].run_id
    _assert_nothing_running(root)


def test_undeclared_parameter_is_refused_before_any_kernel(tmp_path: Path) -> None:
    path = write_project(tmp_path, step_params="scael: 2")
    with pytest.raises(ParameterError) as info:
        run_pilot(load_charter(path))
    assert "'scael' (did you mean 'scale'?)" in str(info.value)
    assert "valid names:" in str(info.value)
    # refused by the static checks before anything ran: no pilot run, no step run, no kernel
    assert _runs(tmp_path) == []


FAILURES = {
    "failing-cell": ("x = 1", "raise ValueError('boom in cell')", CellError, "ValueError: boom in cell"),
    "dead-kernel": ("x = 1", "import os; os._exit(1)", KernelDiedError, "kernel died"),
    "timeout": ("x = 1", "import time; time.sleep(120)", StepTimeoutError, "longer than 5s"),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_step_failure_leaves_runs_failed_with_partial_notebook(tmp_path: Path, case: str) -> None:
    ok_cell, bad_cell, error, text = FAILURES[case]
    path = write_project(tmp_path, notebook_cells=(ok_cell, bad_cell, "print('never')"))
    path.write_text(path.read_text().replace("timeout_seconds: 60", "timeout_seconds: 5"))
    with pytest.raises(error) as info:
        run_pilot(load_charter(path))
    msg = str(info.value)
    assert text in msg
    assert "step.ipynb: cell 3 `" in msg  # numbered as in the source notebook (parameters cell = 1)
    store = _store(tmp_path)
    step = _by_name(tmp_path, "measure")[0]
    assert step.info.status == "FAILED"
    assert TAG["failure"] in step.data.tags
    assert _artifacts(store, step.info.run_id) == {"step.ipynb", "step.html"}
    parent = store.get_run(step.data.tags[TAG["parent"]])
    assert parent.info.status == "FAILED"
    _assert_nothing_running(tmp_path)


def test_a_kernel_that_dies_before_it_answers_fails_the_step_naming_it(tmp_path: Path, monkeypatch) -> None:
    """The step's kernel client (runner._step_kernel_client) gives up on a kernel that exits
    while starting, as jupyter_client's does: the step fails, its runs do not stay RUNNING."""
    site = tmp_path / "site"
    site.mkdir()
    # what a broken kernel environment does: the kernel (`python -m ipykernel_launcher -f ...`) exits at start
    (site / "sitecustomize.py").write_text("import os, sys\nif sys.argv[:2] == ['-m', '-f']:\n"
                                           "    print('broken kernel environment', file=sys.stderr, flush=True)\n"
                                           "    os._exit(3)\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("WORKBENCH_WARM_KERNELS", "0")  # a cold kernel: a new interpreter reads sitecustomize
    path = write_project(tmp_path / "pilot")
    with pytest.raises(KernelDiedError) as info:
        run_pilot(load_charter(path))
    message = str(info.value)
    assert "step 'measure': the kernel did not start (Kernel died before replying to kernel_info)" in message
    step = _by_name(tmp_path / "pilot", "measure")[0]
    assert step.info.status == "FAILED"
    # not "fix the cell": no cell ran; what the kernel printed is attached, and the hint says where
    assert "fix the cell" not in message and "no cell ran" in message and "sitecustomize" in message
    assert f"attached to run {step.info.run_id} as `kernel/kernel.log`" in message
    store = _store(tmp_path / "pilot")
    assert b"broken kernel environment" in store.artifact_bytes(step.info.run_id, "kernel/kernel.log")
    _assert_nothing_running(tmp_path / "pilot")


SOCKETS_CELL = """
import json, os, stat
from ipykernel.kernelapp import IPKernelApp
app = IPKernelApp.instance()
folder = os.path.dirname(app.connection_file)
ports = {name: getattr(app, name) for name in ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")}
json.dump({"transport": app.transport, "ip": app.ip, "folder": folder, "mode": stat.S_IMODE(os.stat(folder).st_mode),
           "sockets": [stat.S_ISSOCK(os.stat(f"{app.ip}-{port}").st_mode) for port in ports.values()]},
          open(os.environ["SOCKETS_OUT"], "w"))
"""


def test_a_step_kernel_talks_over_private_unix_sockets_not_tcp_ports(tmp_path: Path, monkeypatch) -> None:
    """A TCP port is picked free by the driver and bound later by the kernel: under load another
    process took one in between, and the step failed with a kernel that never answered
    ("Address already in use" in its log). The kernel's channels are unix sockets in a private
    folder, which goes with the step."""
    out = tmp_path / "sockets.json"
    monkeypatch.setenv("SOCKETS_OUT", str(out))
    path = write_project(tmp_path / "pilot", notebook_cells=(SOCKETS_CELL, LOGGING_CELL))
    result = run_pilot(load_charter(path))
    assert result.status == "FINISHED", result
    seen = json.loads(out.read_text())
    assert seen["transport"] == "ipc" and seen["ip"].startswith(seen["folder"] + os.sep), seen
    assert seen["mode"] & 0o777 == 0o700 and seen["sockets"] == [True] * 5, seen
    assert not os.path.exists(seen["folder"])


def _wait_for(predicate, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError("timed out waiting")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_marks_runs_killed_and_attaches_partial_notebook(tmp_path: Path, sig: int) -> None:
    marker = tmp_path / "started"
    path = write_project(tmp_path, notebook_cells=(
        "x = 1", f"import pathlib, time; pathlib.Path({str(marker)!r}).write_text('1'); time.sleep(120)"))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "run", "--pilot", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        _wait_for(marker.exists)
        time.sleep(1.0)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    step = _by_name(tmp_path, "measure")[0]
    assert step.info.status == "KILLED"
    assert _artifacts(_store(tmp_path), step.info.run_id) == {"step.ipynb", "step.html"}
    executed = json.loads(_store(tmp_path).download_text(step.info.run_id, "notebook/step.ipynb"))
    assert any("pathlib" in "".join(c["source"]) for c in executed["cells"])
    parent = _store(tmp_path).get_run(step.data.tags[TAG["parent"]])
    assert parent.info.status == "KILLED"
    _assert_nothing_running(tmp_path)


def test_runs_of_a_dead_driver_are_swept_to_killed(ran: tuple[Path, PilotResult]) -> None:
    project, _ = ran
    root = project.parent
    store = _store(root)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    ghost = store.start_run("tiny-pilot", "ghost", tags={TAG["pid"]: dead.stdout.strip()})
    assert store.status(ghost.run_id) == "RUNNING"
    run_pilot(load_charter(project))
    assert store.status(ghost.run_id) == "KILLED"


FORGETFUL_CELL = """
import workbench
s = workbench.session(step_name, run_id=run_id, tracking_uri=tracking_uri, warehouse=warehouse, pilot_name=pilot_name)
s.log_metrics({"demo.scale": scale})  # forgets demo.rows, the charter's primary metric
"""


def test_a_step_that_ends_without_what_the_notebook_contract_asks_fails_naming_it(tmp_path: Path) -> None:
    from workbench.errors import StepError

    path = write_project(tmp_path, notebook_cells=(FORGETFUL_CELL,))
    with pytest.raises(StepError) as info:
        run_pilot(load_charter(path))
    message = str(info.value)
    assert "step 'measure' (role baseline) ended without what the gates need" in message
    assert "lacks metric(s) demo.rows" in message and "Your own notebooks" in message
    run = _by_name(tmp_path, "measure")[0]
    assert run.info.status == "FAILED" and "demo.rows" in run.data.tags[TAG["failure"]]
    _assert_nothing_running(tmp_path)


def test_an_evaluate_step_without_a_candidate_run_fails_naming_it(tmp_path: Path) -> None:
    from workbench.errors import StepError

    path = write_project(tmp_path)
    # a second step with the evaluate role, whose notebook logs metrics but opens no candidate run
    path.write_text(path.read_text() + "  - {name: judge, role: evaluate, notebook: notebooks/step.ipynb, "
                    "timeout_seconds: 60, metrics: [demo.rows, demo.scale], parameters: {scale: 3}}\n")
    with pytest.raises(StepError, match=r"step 'judge' .*no candidate run: open one nested run per candidate"):
        run_pilot(load_charter(path))
    _assert_nothing_running(tmp_path)


def test_warm_kernels_start_before_the_checks_when_an_input_changed_and_not_for_a_cached_rerun(
        ran: tuple[Path, PilotResult], monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.steps import validate, warm_kernels

    charter, _first = ran
    monkeypatch.delenv(warm_kernels.ENV_SERVER, raising=False)  # the run's own server, not the tests' shared one
    events: list[str] = []
    started: list[warm_kernels.WarmKernels] = []
    start, check = warm_kernels.WarmKernels.start, validate.check_charter
    monkeypatch.setattr(warm_kernels.WarmKernels, "start", classmethod(
        lambda _cls, *a, **k: (events.append("server"), started.append(start(*a, **k)), started[-1])[2]))
    monkeypatch.setattr(validate, "check_charter", lambda *a, **k: (events.append("checks"), check(*a, **k))[1])
    # nothing changed since the first run: every step is cached and no server is started
    assert all(s.status == "cached" for s in run_pilot(load_charter(charter)).steps[2:])
    assert events == ["checks"]
    # an edited step parameter: the server starts first, its imports overlapping the checks and the ingest
    events.clear()
    charter.write_text(charter.read_text().replace("scale: 2", "scale: 3"))
    result = run_pilot(load_charter(charter))
    assert result.steps[-1].status == "executed"
    assert events == ["server", "checks"]
    (server,) = started  # and it went when the run ended, with its folder
    assert server.process.poll() is not None and not Path(server.socket_path).parent.exists()
    # that run is now the last finished one: the same inputs again start nothing
    events.clear()
    run_pilot(load_charter(charter))
    assert events == ["checks"]


def test_the_data_check_is_not_repeated_on_inputs_it_passed(ran: tuple[Path, PilotResult],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.steps import validate_data

    charter, _first = ran
    root = charter.parent
    calls: list[str] = []
    check = validate_data.check_data
    monkeypatch.setattr(validate_data, "check_data",
                        lambda c, *a, **k: (calls.append(c.primary_metric), check(c, *a, **k))[1])
    # the first run passed it on these files, charter sections and code
    assert run_pilot(load_charter(charter)).status == "FINISHED" and calls == []
    # a step parameter is none of what it reads
    charter.write_text(charter.read_text().replace("scale: 2", "scale: 3"))
    assert run_pilot(load_charter(charter)).steps[-1].status == "executed" and calls == []
    # a section it reads, then a source file it reads: checked again, each once
    charter.write_text(charter.read_text().replace("primary_metric: demo.rows", "primary_metric: demo.scale"))
    run_pilot(load_charter(charter))
    with open(root / "data" / "items.csv", "a") as f:
        f.write("99,new,9.9\n")
    run_pilot(load_charter(charter))
    run_pilot(load_charter(charter))
    assert calls == ["demo.scale", "demo.scale"]
    # --force checks everything
    run_pilot(load_charter(charter), force=True)
    assert len(calls) == 3
    # a contract's personal-data marks are read by it too
    contract = root / "data_contracts" / "items.yml"
    contract.parent.mkdir(exist_ok=True)
    contract.write_text("dataset: items\nowner: data@pilot-team.internal\nversion: 1.0.0\ncolumns:\n"
                        "  id: {type: INTEGER}\n  name: {type: VARCHAR, pii: true}\n  price: {type: DOUBLE}\n")
    charter.write_text(charter.read_text().replace("path: data/items.csv",
                                                   "path: data/items.csv\n    contract: data_contracts/items.yml"))
    run_pilot(load_charter(charter))
    run_pilot(load_charter(charter))
    contract.write_text(contract.read_text().replace("name: {type: VARCHAR, pii: true}", "name: {type: VARCHAR}"))
    run_pilot(load_charter(charter))
    assert len(calls) == 5


def test_a_workbench_error_in_a_cell_points_at_its_own_fix_not_at_the_cell(tmp_path: Path) -> None:
    """A candidate parameter misspelled in the charter failed in the evaluate notebook's cell
    with the fix in its message ("its parameters: ..."), then a second hint to "fix the cell",
    which had no fault. The workbench's own errors now keep to their fix; a bug in a cell keeps
    the cell's."""
    from papermill.exceptions import PapermillExecutionError

    from workbench.charter.config import Step
    from workbench.steps.runner import _translate
    from workbench.store.tracking import RunRef

    step, run = Step(name="evaluate", notebook=Path("evaluate.ipynb")), RunRef("r1", "1", "evaluate")

    def hint(ename: str) -> str:
        raised = PapermillExecutionError(6, 6, "results = {}", ename, "pilot charter: candidates: ridge: params: "
                                         "Ridge takes no parameter(s) max_iters", [])
        return _translate(raised, Path("evaluate.ipynb"), tmp_path / "absent.ipynb", step, run).hint or ""

    charter = hint("ConfigError")
    assert charter.startswith("the charter is at fault, not the cell") and "fix the cell" not in charter
    assert "attached to run r1 (`make ui`, step 'evaluate')" in charter
    assert "fix the cell" not in hint("EvaluationError") and "at fault" not in hint("EvaluationError")
    assert "fix the cell" in hint("ValueError")  # a cell's own bug
