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
