"""Reviewer labels in item_labels.duckdb: the newest label wins, a seeded sample is
reproducible, and a write goes through while another process holds the warehouse."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from workbench.data.item_labels import LABELS_TABLE, labels_db, read_labels, sample_items, write_label
from workbench.data.item_results import write_item_results
from workbench.errors import ConfigError, WarehouseError


def _items(warehouse: Path, run_id: str = "run1", candidate: str = "model", n: int = 40) -> pd.DataFrame:
    frame = pd.DataFrame({"item_id": [f"i{k:03d}" for k in range(n)], "expected": ["a"] * n,
                          "output": ["a" if k % 3 else "b" for k in range(n)], "correct": [bool(k % 3) for k in range(n)],
                          "latency_ms": [float(k) for k in range(n)], "error": [None] * n})
    write_item_results(warehouse, frame, run_id=run_id, step="evaluate", candidate=candidate)
    return frame


def test_labels_are_stored_with_reviewer_time_run_and_the_newest_one_wins(tmp_path: Path) -> None:
    wh = tmp_path / "data" / "warehouse.duckdb"
    assert read_labels(wh).empty  # nobody labelled yet: no file, an empty frame
    write_label(wh, run_id="run1", candidate="model", item_id="i001", label="wrong", reviewer="ann")
    write_label(wh, run_id="run1", candidate="model", item_id="i001", label="correct", reviewer="ann")  # changed her mind
    write_label(wh, run_id="run1", candidate="model", item_id="i001", label="unsure", reviewer="bob")
    write_label(wh, run_id="run2", candidate="model", item_id="i002", label="wrong", reviewer="ann")
    assert labels_db(wh) == tmp_path / "data" / "item_labels.duckdb" and labels_db(wh).is_file()
    con = duckdb.connect(str(labels_db(wh)), read_only=True)
    try:
        assert con.sql(f"SELECT count(*) FROM {LABELS_TABLE}").fetchall()[0][0] == 4  # every click is kept
    finally:
        con.close()
    current = read_labels(wh)
    assert sorted(zip(current.reviewer, current.run_id, current.item_id, current.label)) == [
        ("ann", "run1", "i001", "correct"), ("ann", "run2", "i002", "wrong"), ("bob", "run1", "i001", "unsure")]
    assert current["labelled_at"].notna().all()
    only = read_labels(wh, ["run2"])
    assert list(only.item_id) == ["i002"]


def test_a_label_must_be_one_of_three_and_name_its_reviewer(tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    with pytest.raises(ConfigError, match="unknown label 'maybe'"):
        write_label(wh, run_id="r", candidate="m", item_id="i", label="maybe", reviewer="ann")
    with pytest.raises(ConfigError, match="needs a reviewer"):
        write_label(wh, run_id="r", candidate="m", item_id="i", label="wrong", reviewer="  ")
    assert not labels_db(wh).exists()


def test_a_seeded_sample_is_the_same_items_in_the_same_order(tmp_path: Path) -> None:
    wh = tmp_path / "warehouse.duckdb"
    frame = _items(wh)
    first = sample_items(wh, "run1", "model", 10, seed=7)
    again = sample_items(wh, "run1", "model", 10, seed=7)
    other = sample_items(wh, "run1", "model", 10, seed=8)
    assert list(first.item_id) == list(again.item_id) and len(set(first.item_id)) == 10
    assert list(first.item_id) != list(other.item_id)
    assert set(first.item_id) <= set(frame.item_id) and list(first.item_id) != sorted(first.item_id)
    assert set(first.columns) >= {"item_id", "expected", "output", "correct", "latency_ms", "error"}
    assert len(sample_items(wh, "run1", "model", 500)) == len(frame)  # never more than the run has
    with pytest.raises(WarehouseError, match="no per-item results of 'other'"):
        sample_items(wh, "run1", "other", 5)


def test_a_label_is_written_while_another_process_holds_the_warehouse_and_the_items(tmp_path: Path) -> None:
    """The driver owns the warehouse and a step writes items.duckdb: the labels' own file is free."""
    wh = tmp_path / "warehouse.duckdb"
    _items(wh)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time\n"
        f"a = duckdb.connect({str(wh)!r}); b = duckdb.connect({str(tmp_path / 'items.duckdb')!r})\n"
        "print('held', flush=True); time.sleep(60)")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        write_label(wh, run_id="run1", candidate="model", item_id="i003", label="wrong", reviewer="ann")
        assert time.monotonic() - t0 < 5
    finally:
        holder.kill()
        holder.wait()
    assert list(read_labels(wh).label) == ["wrong"]
