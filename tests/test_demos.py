"""The demos' data commands, as the Makefile runs them: from the checkout, outside the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support import REPO


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_the_flights_data_is_extracted_from_the_checkout(tmp_path: Path) -> None:
    done = _demo("demos.flights", "data", "--dest", str(tmp_path / "raw"))
    assert done.returncode == 0, done.stderr
    from demos.flights import TABLES, package_data

    assert sorted(p.stem for p in (tmp_path / "raw").glob("*.csv")) == sorted(TABLES)
    assert (tmp_path / "raw" / "weather.csv").read_bytes() == (package_data() / "weather.csv").read_bytes()


def test_batches_without_the_data_say_what_to_run(tmp_path: Path) -> None:
    done = _demo("demos.flights", "batches", "--raw", str(tmp_path / "none"), "--dest", str(tmp_path / "b"))
    assert done.returncode == 1
    assert "the demo data is not extracted" in done.stderr and "make data" in done.stderr
    assert not (tmp_path / "b").exists()


def test_the_workbench_command_has_no_demo_commands() -> None:
    done = subprocess.run([str(Path(sys.executable).parent / "workbench"), "--help"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "run" in done.stdout
    assert "demo-data" not in done.stdout and "demo-batches" not in done.stdout
