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


# a module that builds a fixture once for all its tests (a pilot run, a team server, a store)
_SHARED_FIXTURE = re.compile(r"""@pytest\.fixture\(\s*scope\s*=\s*["'](module|package|session)["']""")


@functools.lru_cache(maxsize=None)
def _shares_fixtures(path: Path) -> bool:
    try:
        return bool(_SHARED_FIXTURE.search(path.read_text(encoding="utf-8")))
    except OSError:
        return False


def pytest_xdist_make_scheduler(config: pytest.Config, log):  # noqa: ANN001, ANN201 - pytest-xdist's hook
    """`make test` (-n N --dist loadgroup): the tests of a module that shares a module-scoped
    fixture run on one worker, in file order, so the fixture is built once; every other test
    goes to whichever worker is free. (pytest-xdist's own `xdist_group` marks cannot do this
    under pytest 9: the group suffix it writes into a test's node id is no longer read back.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class SharedFixtureScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            if _shares_fixtures(config.rootpath / module):
                return module
            return super()._split_scope(nodeid)

    return SharedFixtureScheduling(config, log)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config._workbench_exitstatus = int(exitstatus)  # type: ignore[attr-defined]


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
