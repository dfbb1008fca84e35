"""Issue 24: `make clean` removes the raw data but keeps the store; reading the store's
history and auditing it must not need the raw data."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import build_pilot, candidate_metrics, charter_file, cli_here
from workbench.charter.config import load_charter
from workbench.decide.promotion import promote
from workbench.store.tracking import Store


def test_history_and_audit_work_without_the_raw_data(tmp_path: Path) -> None:
    path = charter_file(tmp_path, "cleaned")
    charter, store = load_charter(path), Store(tmp_path)
    build_pilot(store, charter, {"good": candidate_metrics(0.80)}, models=("good",))
    promote(charter, store, actor="ann")
    before = cli_here("history", "--pilot", str(path))
    assert before.returncode == 0, before.stderr
    for gone in ("flights.csv", "b.ipynb", "e.ipynb"):  # what `make clean` (data/) and a checkout mishap take
        (tmp_path / gone).unlink()

    after = cli_here("history", "--pilot", str(path))
    assert after.returncode == 0, after.stderr
    assert after.stdout == before.stdout and "go" in after.stdout
    audited = cli_here("audit", "--pilot", str(path))
    assert audited.returncode == 0 and "AUDIT OK" in audited.stdout, audited.stderr
    # commands that do need the data still say which file is missing
    refused = cli_here("ingest", "--pilot", str(path))
    assert refused.returncode == 1 and "flights.csv does not exist" in refused.stderr
