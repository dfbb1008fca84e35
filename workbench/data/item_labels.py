"""A reviewer's labels on eval items (correct / wrong / unsure), kept in DuckDB.

Labels live in their own small database, ``item_labels.duckdb`` beside the warehouse (and
``items.duckdb``), table ``item_labels``: one row per click (reviewer, time, MLflow run id,
candidate, item id, label). A reviewer who changes their mind adds a row; the newest row of
a (reviewer, run, candidate, item) is the label (:func:`read_labels`).

Why a file of its own: the warehouse has one writer, the pilot's driver (its write lock),
and ``items.duckdb`` is written by the step that measured the items. A panel in JupyterLab
may click while a pilot runs; writing elsewhere keeps it off both. Each write opens the
file, appends in one transaction and closes it, under a file lock (``item_labels.duckdb.lock``)
so two kernels take turns; a reader (the scorecard) opens it read-only and retries briefly
while a write holds it.

:func:`sample_items` draws the items a reviewer labels: a seeded random sample of one run's
answers from ``items.duckdb``, the same ids for the same seed.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb
from filelock import FileLock, Timeout

from .item_results import ITEMS_TABLE, items_db
from ..errors import ConfigError, WarehouseError

__all__ = ["LABELS", "LABELS_DB", "LABELS_TABLE", "labels_db", "write_label", "read_labels", "sample_items",
           "item_verdicts"]

LABELS = ("correct", "wrong", "unsure")
LABELS_DB = "item_labels.duckdb"
LABELS_TABLE = "item_labels"
_COLUMNS = ["reviewer", "labelled_at", "run_id", "candidate", "item_id", "label"]
_WAIT_S = 10.0  # a write or a read waits this long for another writer (writes take milliseconds)


def labels_db(warehouse: Path | str) -> Path:
    return Path(warehouse).parent / LABELS_DB


def _first(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def write_label(warehouse: Path | str, *, run_id: str, candidate: str, item_id: str, label: str,
                reviewer: str) -> Path:
    """Append one label (the newest row wins when read); returns the database file."""
    if label not in LABELS:
        raise ConfigError(f"unknown label {label!r}", where=f"item {item_id} of {candidate}",
                          hint=f"use one of {', '.join(LABELS)}")
    if not str(reviewer).strip():
        raise ConfigError("a label needs a reviewer", where=f"item {item_id} of {candidate}",
                          hint="type your name or e-mail in the reviewer field")
    path = labels_db(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(path) + ".lock", timeout=_WAIT_S):
            con = duckdb.connect(str(path))
            try:
                con.execute(f"""CREATE TABLE IF NOT EXISTS {LABELS_TABLE} (
                    reviewer VARCHAR NOT NULL, labelled_at TIMESTAMP NOT NULL DEFAULT now(), run_id VARCHAR NOT NULL,
                    candidate VARCHAR NOT NULL, item_id VARCHAR NOT NULL, label VARCHAR NOT NULL)""")
                con.execute(f"INSERT INTO {LABELS_TABLE} (reviewer, labelled_at, run_id, candidate, item_id, label) "
                            "VALUES (?, ?, ?, ?, ?, ?)",
                            [str(reviewer).strip(), datetime.now(timezone.utc).replace(tzinfo=None), run_id,
                             candidate, str(item_id), label])
            finally:
                con.close()
    except Timeout:
        raise WarehouseError("the labels database stayed busy", where=str(path),
                             hint="another kernel is writing labels; click again in a moment") from None
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot write the label: {_first(exc)}", where=str(path),
                             hint="close whatever holds the file (a DuckDB shell?) and click again") from exc
    return path


def _read_only(path: Path) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + _WAIT_S
    while True:
        try:
            return duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:  # a write holds the file: it takes milliseconds
            if time.monotonic() > deadline:
                raise WarehouseError(f"cannot read the labels: {_first(exc)}", where=str(path),
                                     hint="close whatever holds the file and try again") from exc
            time.sleep(0.1)


def read_labels(warehouse: Path | str, run_ids: Iterable[str] | None = None) -> Any:
    """The current labels (the newest row per reviewer, run, candidate and item), as a
    DataFrame with the columns reviewer, labelled_at, run_id, candidate, item_id, label;
    only those of ``run_ids`` when given; empty when nobody labelled yet."""
    import pandas as pd

    path = labels_db(warehouse)
    if not path.exists():
        return pd.DataFrame(columns=_COLUMNS)
    ids = None if run_ids is None else sorted(set(run_ids))
    con = _read_only(path)
    try:
        if not con.sql("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", params=[LABELS_TABLE]).fetchall()[0][0]:
            return pd.DataFrame(columns=_COLUMNS)
        where = "" if ids is None else "WHERE list_contains(?, run_id)"
        sql = (f"SELECT {', '.join(_COLUMNS)} FROM {LABELS_TABLE} {where} "
               "QUALIFY row_number() OVER (PARTITION BY reviewer, run_id, candidate, item_id "
               "ORDER BY labelled_at DESC) = 1 ORDER BY labelled_at")
        return con.sql(sql, params=None if ids is None else [ids]).to_arrow_table().to_pandas()
    finally:
        con.close()


def sample_items(warehouse: Path | str, run_id: str, candidate: str, n: int, *, seed: int = 0) -> Any:
    """``n`` of ``candidate``'s answers on run ``run_id`` (item_id, expected, output, correct,
    latency_ms, error), drawn at random with ``seed``: the same seed, the same items, in the
    same order. Fewer when the run has fewer items."""
    import numpy as np

    path = items_db(warehouse)
    if not path.exists():
        raise WarehouseError("no per-item results yet", where=str(path),
                             hint="run the pilot (`make pilot`): its baseline and evaluate steps write them")
    con = _read_only(path)
    try:
        rows = con.sql(f"SELECT item_id, expected, output, correct, latency_ms, error FROM {ITEMS_TABLE} "
                       "WHERE run_id = ? AND candidate = ? ORDER BY item_id",
                       params=[run_id, candidate]).to_arrow_table().to_pandas()
    finally:
        con.close()
    if rows.empty:
        raise WarehouseError(f"no per-item results of '{candidate}' for run {run_id}", where=str(path),
                             hint="pick a run whose step logged its items (the newest pilot run)")
    order = np.random.default_rng(seed).permutation(len(rows))[: max(0, int(n))]
    return rows.iloc[order].reset_index(drop=True)


def item_verdicts(warehouse: Path | str, run_id: str, candidate: str) -> Any:
    """The metric's verdict on each of ``candidate``'s answers on run ``run_id`` (run_id,
    candidate, item_id, correct): what the labels are compared with. Empty when none."""
    import pandas as pd

    path = items_db(warehouse)
    if not path.exists():
        return pd.DataFrame(columns=["run_id", "candidate", "item_id", "correct"])
    con = _read_only(path)
    try:
        return con.sql(f"SELECT run_id, candidate, item_id, correct FROM {ITEMS_TABLE} WHERE run_id = ? AND candidate = ?",
                       params=[run_id, candidate]).to_arrow_table().to_pandas()
    finally:
        con.close()
