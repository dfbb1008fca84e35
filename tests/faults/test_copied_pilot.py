"""A pilot folder copied elsewhere is self-contained: its store's artifact locations are
moved to the copy's own mlruns/artifacts, and a run in the copy writes nothing in the
original."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from support import write_project
from workbench.charter.config import load_charter
from workbench.steps.runner import run_pilot
from workbench.store.tracking import Store


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_a_copied_pilot_folder_writes_only_inside_itself(tmp_path: Path) -> None:
    original = tmp_path / "original"
    run_pilot(load_charter(write_project(original)))
    copy = tmp_path / "elsewhere" / "copy"
    shutil.copytree(original, copy)
    before = _snapshot(original)
    result = run_pilot(load_charter(copy / "pilot.yaml"), force=True)
    assert result.status == "FINISHED"
    assert _snapshot(original) == before  # not one file written, changed or added in the original
    store = Store(copy)
    for run in store.find_runs("tiny-pilot", max_results=100):
        assert run.info.artifact_uri.startswith((copy / "mlruns" / "artifacts").resolve().as_uri()), run.info.artifact_uri
    # the copy's earlier runs read their artifacts from the copy
    step = next(r for r in store.find_runs("tiny-pilot", max_results=100)
                if r.info.run_name == "measure" and r.info.run_id != result.run_id)
    assert {Path(a.path).name for a in store.client.list_artifacts(step.info.run_id, "notebook")} == {
        "step.ipynb", "step.html"}
