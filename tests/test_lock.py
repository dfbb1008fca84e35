"""The environment is locked: uv.lock pins every package, and CI (.ci/run → .ci/check-lock) fails
when pyproject.toml and the lock disagree, so a dependency cannot be added without `make lock`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import REPO

CHECK = REPO / ".ci" / "check-lock"
UV = Path(sys.executable).parent / "uv"


def _check(folder: Path) -> subprocess.CompletedProcess[str]:
    # a cache of its own, removed with the pair: resolving a stale lock unpacks the source-only packages'
    # sdists (pyspark's 477 MB, llama-cpp-python's 217 MB) into a new revision of uv's cache every time,
    # 70 GB in the user's cache over a machine's hundred runs, until its disk was full
    return subprocess.run([str(CHECK), str(folder)], env={**os.environ, "UV": str(UV),
                                                          "UV_CACHE_DIR": str(folder / "uv-cache")},
                          capture_output=True, text=True, timeout=300)


@pytest.fixture()
def pair(tmp_path: Path) -> Iterator[Path]:
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(REPO / name, tmp_path / name)
    yield tmp_path
    shutil.rmtree(tmp_path / "uv-cache", ignore_errors=True)  # pytest keeps its last three runs' folders


@pytest.mark.slow  # uv resolves the lock: seconds, and PyPI's index
def test_the_committed_lock_matches_pyproject(pair: Path) -> None:
    done = _check(pair)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "uv.lock matches pyproject.toml" in done.stdout


@pytest.mark.slow  # uv resolves the lock: seconds, and PyPI's index
def test_a_dependency_added_without_make_lock_fails_the_check(pair: Path) -> None:
    text = (pair / "pyproject.toml").read_text()
    # a package the lock already holds (as a dependency of others): only the lock's record of
    # the project's own requirements is stale, so uv resolves it quickly
    (pair / "pyproject.toml").write_text(text.replace('dependencies = [\n', 'dependencies = [\n    "packaging>=20",\n', 1))
    done = _check(pair)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{pair}/uv.lock is stale: it does not match {pair}/pyproject.toml" in done.stderr
    assert "Run `make lock` and commit pyproject.toml and uv.lock together" in done.stderr


def test_the_lock_holds_every_extra() -> None:
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    locked = {p["name"] for p in lock["package"]}
    for extra, requirements in project["optional-dependencies"].items():
        for requirement in requirements:
            name = requirement.split(";")[0].split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip()
            assert name.lower().replace("_", "-") in locked, f"extra '{extra}': {name} is not in uv.lock"
