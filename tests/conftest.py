"""Shared fixtures; the helpers they use live in support.py."""

from __future__ import annotations

import atexit
import os
import signal
import tempfile
from pathlib import Path

# Two xdist workers on two cores: each process computes on one thread. OpenMP's default (a
# thread per core) in every kernel oversubscribes the cores, and its spinning threads make
# a loaded core's work several times slower (HistGradientBoosting: 1.5 s on one thread, 5-6 s
# on two while the other worker runs). Set before numpy or scikit-learn is imported anywhere;
# kernels and CLI subprocesses inherit it. Results do not depend on it.
for _threads in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")

import pytest

from support import kernel_server, write_project
from xdist_scheduling import _CACHE_KEY, DURATIONS_FILE, make_scheduler

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MPLBACKEND", "Agg")
# a shell pointed at a team tracking server (`. .tracking-server/client.env`) must not send the
# suite's runs there: tests that want a server set these themselves (tests/test_team_server.py)
os.environ.pop("WORKBENCH_TRACKING_URI", None)
os.environ.pop("WORKBENCH_LOCK_URI", None)
# `workbench new` drafts the owner from git's user.email: the machine's own (on CI, perhaps an
# example address, a placeholder the production-plan gate refuses) must not decide a test
_GITCONFIG = Path(tempfile.gettempdir()) / f"workbench-tests-{os.getpid()}.gitconfig"
_GITCONFIG.write_text("[user]\n\tname = Pilot Analyst\n\temail = analyst@pilot-team.internal\n")
atexit.register(_GITCONFIG.unlink, missing_ok=True)  # one a test process: not left behind in /tmp
os.environ["GIT_CONFIG_GLOBAL"] = str(_GITCONFIG)
os.environ["GIT_CONFIG_NOSYSTEM"] = "1"
# a suite started in the background by a shell without job control (`make test &` in a script,
# nohup) inherits SIGINT ignored, and so would every pilot and CLI it starts: the interrupt tests
# would see no KeyboardInterrupt. A handler here (reset by exec) gives the children the default.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path)


# -- warm kernels (workbench.steps.warm_kernels): one server per test process, shared by every
# pilot it runs (the runner's and the CLI's, through WORKBENCH_KERNEL_SERVER), so a notebook's
# kernel is forked with MLflow, scikit-learn & co. already imported instead of importing them
# again (~4-5 s of CPU a notebook). Started by the first test marked slow, browser or llm (those
# run pilots); a quick test before it starts its kernels as a pilot run does alone.
_warm: list = []


def pytest_runtest_setup(item: pytest.Item) -> None:
    if _warm or not any(item.get_closest_marker(m) for m in ("slow", "browser", "llm")):
        return
    from workbench.steps import warm_kernels

    if not warm_kernels.enabled() or warm_kernels.ENV_SERVER in os.environ:
        return
    server = kernel_server()
    _warm.append(server)
    os.environ[warm_kernels.ENV_SERVER] = server.socket_path


# -- scheduling on pytest-xdist workers (`make test`: -n 2 --dist loadgroup) ----------------------
#
# Shared set-ups, for whoever adds tests:
# - a module-scoped fixture (``@pytest.fixture(scope="module")``) in a test file keeps the file's
#   tests on one worker, so the fixture is built once;
# - ``pytestmark = pytest.mark.xdist_spread`` undoes that for a module whose module-scoped fixture
#   is cheap (a folder, an empty store) and whose tests are long: they spread over the workers,
#   each worker building its own copy (tests/decide/test_integrity.py);
# - ``pytestmark = pytest.mark.xdist_group("NAME")`` puts every file carrying NAME on one worker,
#   so a package- or session-scoped fixture they share (a conftest.py next to them) is built once:
#   tests/browser uses it for its finished pilot and its MLflow UI;
# - the cheap builders (a one-notebook project, a pilot layout in MLflow without kernels) live in
#   tests/support.py.
# Work units run longest first (measured durations from the last run in pytest's cache, else
# tests/durations.json when present (`--update-durations` writes it), else an estimate from the
# `slow`/`browser` marks), so no long file starts last.

def pytest_xdist_make_scheduler(config: pytest.Config, log):  # noqa: ANN001, ANN201 - pytest-xdist's hook
    return make_scheduler(config, log)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Keep each test's time (setup + call + teardown) for the scheduler of the next run."""
    if os.environ.get("PYTEST_XDIST_WORKER"):  # the controller records what every worker reports
        return
    _measured[report.nodeid] = _measured.get(report.nodeid, 0.0) + report.duration


_measured: dict[str, float] = {}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "xdist_spread: this module's module-scoped fixtures are cheap; spread its "
                                       "tests over the xdist workers (tests/conftest.py)")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-durations", action="store_true",
                     help="write the measured test durations to tests/durations.json (the scheduler's "
                          "estimates on a fresh clone)")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config._workbench_exitstatus = int(exitstatus)  # type: ignore[attr-defined]
    for server in _warm:
        server.stop()
    if os.environ.get("PYTEST_XDIST_WORKER") or not _measured:
        return
    import json

    measured = {k: round(v, 2) for k, v in _measured.items()}
    cache = getattr(session.config, "cache", None)
    if cache is not None:
        cache.set(_CACHE_KEY, {**cache.get(_CACHE_KEY, {}), **measured})
    if session.config.getoption("update_durations"):
        try:
            kept = json.loads(DURATIONS_FILE.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            kept = {}
        # a unit's rank is what matters: tests under a second stay out (the estimate covers them)
        kept.update({k: round(v, 1) for k, v in measured.items()})
        kept = {k: v for k, v in kept.items() if v >= 1.0 and (session.config.rootpath / k.split("::")[0]).exists()}
        DURATIONS_FILE.write_text(json.dumps(dict(sorted(kept.items())), indent=0) + "\n", encoding="utf-8")


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    # duckdb 2.0's nanobind bindings print pages of "leaked instance" lines at interpreter
    # shutdown once duckdb-engine (Great Expectations' SQL path) was imported, burying
    # pytest's summary. Everything is reported and closed by now: skip the finalizers.
    import sys

    status = getattr(config, "_workbench_exitstatus", None)
    if status is not None and "duckdb_engine" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
