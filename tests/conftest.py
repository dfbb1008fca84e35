"""Shared fixtures; the helpers they use live in support.py."""

from __future__ import annotations

import os
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


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook turns the marks into node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``-n N --dist loadgroup`` (`make test`): the tests that share a module- or
    session-scoped fixture (a pilot run, a team server, a loaded warehouse) run on one worker,
    in file order, so the fixture is built once; every other test goes to whichever worker is free."""
    if getattr(config.option, "dist", "no") != "loadgroup":
        return
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {}) or {}
        # ours only (a baseid): pytest's own session fixtures (tmp_path_factory) are cheap and everywhere
        shared = [d[-1] for d in defs.values()
                  if d and d[-1].baseid and d[-1].scope in ("module", "package", "session")]
        if not shared:
            continue
        session_wide = [d for d in shared if d.scope != "module"]
        # a session fixture is shared by every module under its conftest: group by where it is defined
        group = session_wide[0].baseid if session_wide else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(name=group))


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
