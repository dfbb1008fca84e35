"""Shared fixtures; the helpers they use live in support.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support import write_project

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path)
