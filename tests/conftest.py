"""Shared fixtures; the helpers they use live in support.py."""

from __future__ import annotations

import functools
import os
import re
import tempfile
from pathlib import Path

import pytest

from support import write_project

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
os.environ["GIT_CONFIG_GLOBAL"] = str(_GITCONFIG)
os.environ["GIT_CONFIG_NOSYSTEM"] = "1"


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path)


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

_SHARED_FIXTURE = re.compile(r"""@pytest\.fixture\(\s*scope\s*=\s*["'](module|package|session)["']""")
_SPREAD_MARK = re.compile(r"mark\.xdist_spread\b")
_GROUP_MARK = re.compile(r"""xdist_group\(\s*(?:name\s*=\s*)?["']([^"']+)["']""")
DURATIONS_FILE = Path(__file__).with_name("durations.json")
_CACHE_KEY = "workbench/test-durations"
# a test never measured: an end-to-end (slow, browser) test costs tens of seconds, the rest under one
_GUESS_SLOW, _GUESS_FAST = 30.0, 0.5


@functools.lru_cache(maxsize=None)
def _source(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def _shares_fixtures(path: Path) -> bool:
    return bool(_SHARED_FIXTURE.search(_source(path)))


@functools.lru_cache(maxsize=None)
def _slow_tests(path: Path) -> tuple[bool, frozenset[str]]:
    """(every test in the file is slow, the names of the tests marked slow or browser one by one)."""
    import ast

    try:
        tree = ast.parse(_source(path))
    except SyntaxError:
        return False, frozenset()
    heavy = ("mark.slow", "mark.browser")
    whole = any(isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in node.targets)
                and any(h in ast.unparse(node.value) for h in heavy) for node in tree.body)
    names = {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
             and any(h in ast.unparse(d) for d in node.decorator_list for h in heavy)}
    return whole, frozenset(names)


def _guess(rootpath: Path, nodeid: str) -> float:
    module, _, name = nodeid.partition("::")
    whole, names = _slow_tests(rootpath / module)
    return _GUESS_SLOW if whole or name.split("[", 1)[0] in names else _GUESS_FAST


def _known_durations(config: pytest.Config) -> dict[str, float]:
    import json

    known: dict[str, float] = {}
    try:
        known.update(json.loads(DURATIONS_FILE.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        pass
    if getattr(config, "cache", None) is not None:
        known.update(config.cache.get(_CACHE_KEY, {}))
    return known


def pytest_xdist_make_scheduler(config: pytest.Config, log):  # noqa: ANN001, ANN201 - pytest-xdist's hook
    """`make test` (-n N --dist loadgroup): the tests of a module that shares a module-scoped
    fixture, or of the modules marked with one xdist_group, run on one worker in file order, so
    the fixture is built once; every other test goes alone to whichever worker is free; the
    longest units go first. (pytest-xdist's own `xdist_group` handling cannot do this under
    pytest 9: the group suffix it writes into a test's node id is no longer read back.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from collections import OrderedDict

    from xdist.scheduler import LoadGroupScheduling

    known = _known_durations(config)

    def seconds(nodeid: str) -> float:
        return known.get(nodeid, known.get(nodeid.split("[", 1)[0], _guess(config.rootpath, nodeid)))

    class LongestFirst(OrderedDict):
        """xdist's work queue; the unit it hands out next is the longest one left."""

        def popitem(self, last: bool = True):  # noqa: ANN201, ARG002 - OrderedDict's signature
            scope = max(self, key=lambda s: sum(map(seconds, self[s])))
            return scope, self.pop(scope)

    class SharedFixtureScheduling(LoadGroupScheduling):
        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            super().__init__(*args, **kwargs)
            self.workqueue = LongestFirst()

        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            group = _GROUP_MARK.search(_source(config.rootpath / module))
            if group:
                return "group:" + group.group(1)
            if _shares_fixtures(config.rootpath / module) and not _SPREAD_MARK.search(_source(config.rootpath / module)):
                return module
            return super()._split_scope(nodeid)

        def _reschedule(self, node) -> None:  # noqa: ANN001
            # xdist hands a worker its next unit while it still has two tests to run; a worker only
            # waits once it holds one (it keeps the last test until it knows the next). Handing out
            # later keeps a long unit from being queued behind another long one on a busy worker.
            if node.shutting_down:
                return
            if not self.workqueue:
                node.shutdown()
                return
            if self._pending_of(self.assigned_work[node]) > 1:
                return
            self._assign_work_unit(node)

    return SharedFixtureScheduling(config, log)


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
