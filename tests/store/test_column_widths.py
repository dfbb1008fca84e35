"""The runs view the pilot saves sizes its columns for what they show: each headline metric's
header and the names of the runs, nested ones indented (the browser test measures the page)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from workbench.store.column_widths import (MAX_COLUMN_PX, MLFLOW_METRIC_PX, MLFLOW_NAME_PX, RUN_NAME_COLUMN,
                                           header_px, metric_column, run_name_px, text_px)
from workbench.store.tracking import RUNS_VIEW_KEY, SHARED_VIEW_TAG, Store, runs_view_state


def test_a_column_grows_with_its_text_never_below_mlflows_width_nor_past_the_cap() -> None:
    assert text_px("baseline.quality.roc_auc", bold=True) > text_px("baseline.quality.roc_auc")
    assert header_px("x") == MLFLOW_METRIC_PX and run_name_px([("x", 0)]) == MLFLOW_NAME_PX
    assert header_px("baseline.quality.roc_auc") > header_px("quality.roc_auc") > MLFLOW_METRIC_PX
    name = "pilot 2026-12-03 07:24:45 (partial: profile)"
    assert run_name_px([(name, 0)]) > text_px(name) and run_name_px([(name, 1)]) > run_name_px([(name, 0)])
    assert run_name_px([("evaluate", 1), (name, 0)]) == run_name_px([(name, 0)])  # the widest name decides
    assert header_px("m" * 200) == MAX_COLUMN_PX == run_name_px([("m" * 200, 0)])


def test_the_view_orders_the_headline_columns_and_sizes_each_it_lists() -> None:
    metrics = ["quality.roc_auc", "baseline.quality.roc_auc", "latency.p95_ms"]
    state = runs_view_state(metrics, [("pilot 2026-12-03 07:24:45", 0)])
    assert state["selectedColumns"] == [metric_column(m) for m in metrics]
    order = state["columnOrder"]
    assert order[0] == RUN_NAME_COLUMN and order[-len(metrics):] == [metric_column(m) for m in metrics]
    # MLflow applies a width only to a column the order lists
    assert set(state["columnWidths"]) <= set(order)
    assert state["columnWidths"][metric_column("baseline.quality.roc_auc")] == header_px("baseline.quality.roc_auc")


def test_the_saved_view_fits_the_longest_name_nested_ones_indented(tmp_path: Path) -> None:
    store = Store(tmp_path)
    parent = store.start_run("w", "pilot 2026-12-03 07:24:45")
    child = "decision no-go 2026-12-03 07:36:12"  # nested, and longer than its parent's name
    store.start_run("w", child, parent=parent.run_id)
    store.set_runs_view(parent.experiment_id, ["quality.roc_auc"])
    state = json.loads(store.client.get_experiment(parent.experiment_id).tags[SHARED_VIEW_TAG + RUNS_VIEW_KEY])
    assert state["columnWidths"][RUN_NAME_COLUMN] == run_name_px([(child, 1)]) > run_name_px([(child, 0)])


def _saved_view(store: Store, experiment_id: str) -> dict:
    return json.loads(store.client.get_experiment(experiment_id).tags[SHARED_VIEW_TAG + RUNS_VIEW_KEY])


def test_a_pilot_run_rewrites_the_saved_view_only_when_its_runs_or_columns_need_it(tmp_path: Path, monkeypatch) -> None:
    """set_runs_view(since_ms=...) reads only the runs started since (a pilot run's own), not the
    newest 500 whole: the view is rewritten when they need a wider name column or the columns
    changed, and left as it is otherwise."""
    store = Store(tmp_path)
    old = store.start_run("w", "pilot 2026-12-03 07:24:45 (partial: profile, baseline)")  # the widest name
    exp = old.experiment_id
    store.set_runs_view(exp, ["quality.roc_auc"])
    saved = _saved_view(store, exp)
    read: list[int | None] = []
    real = store._run_names
    monkeypatch.setattr(store, "_run_names", lambda e, newest=500, since_ms=None: read.append(since_ms) or real(e, newest, since_ms))

    since = int(time.time() * 1000) - 1000
    store.start_run("w", "pilot 2026-12-04 09:00:00")  # narrower: the saved view fits it
    store.set_runs_view(exp, ["quality.roc_auc"], since_ms=since)
    assert _saved_view(store, exp) == saved and read == [since]  # only the new runs were read

    wide = "decision no-go 2026-12-04 09:00:05 (a name wider than any before)"
    parent = store.start_run("w", "pilot 2026-12-04 09:00:01")
    store.start_run("w", wide, parent=parent.run_id)
    read.clear()
    store.set_runs_view(exp, ["quality.roc_auc"], since_ms=since)
    assert _saved_view(store, exp)["columnWidths"][RUN_NAME_COLUMN] == run_name_px([(wide, 1)])
    assert read == [since, None]  # rewritten from the newest runs, as without since_ms

    store.set_runs_view(exp, ["quality.roc_auc", "latency.p95_ms"], since_ms=since)  # other headline metrics
    assert _saved_view(store, exp)["selectedColumns"] == [metric_column("quality.roc_auc"), metric_column("latency.p95_ms")]
