"""A 5-class text table goes from `workbench new` to a decision with no line edited but the
drafted values' confirmation; a fast test of what the scaffold drafts."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from text_data import CLASSES, ticket_table

from workbench.charter.config import load_charter
from workbench.charter.drafted import confirm, drafted_values
from workbench.data.item_results import ITEMS_TABLE, items_db
from workbench.new import new_text_pilot
from workbench.steps.runner import run_pilot
from workbench.store.tracking import TAG, Store


def test_new_drafts_an_eval_set_a_keyword_rule_and_contracts(tmp_path: Path) -> None:
    made = new_text_pilot("tickets", ticket_table(tmp_path / "tickets.csv", n=400), "category", ["body"],
                          pilots_dir=tmp_path / "pilots", owner="support-lead@team.internal")
    charter = load_charter(made.charter)
    es = charter.eval_set
    assert charter.task.kind == "text-classification" and charter.primary_metric == "quality.macro_f1"
    assert es.id == "ticket_id" and es.inputs == ["body"] and es.slices == ["channel"] and es.train == "tickets_train"
    eval_rows = pd.read_parquet(charter.resolve(charter.sources["tickets_eval"].path))
    train_rows = pd.read_parquet(charter.resolve(charter.sources["tickets_train"].path))
    assert len(eval_rows) + len(train_rows) == 400 and not set(eval_rows.ticket_id) & set(train_rows.ticket_id)
    assert set(eval_rows.category) == set(CLASSES)  # stratified: every class is in the eval set
    # today's rule: keywords per class, else the most common class; drafted, never decided
    assert es.baseline.kind == "rule" and es.baseline.rules and es.baseline.default == max(
        CLASSES, key=lambda c: (train_rows.category == c).sum())
    keys = {v.key for v in drafted_values(charter)}
    assert {"eval_set.baseline", "sources.tickets_eval.path", "production.on_call"} <= keys
    contract = (made.folder / "contracts" / "tickets_eval.yml").read_text()
    assert "regex: \\S" in contract and "unique: true" in contract  # no empty text; one id per item


@pytest.mark.slow
def test_a_five_class_text_pilot_from_new_to_go(tmp_path: Path) -> None:
    made = new_text_pilot("tickets", ticket_table(tmp_path / "tickets.csv", n=800), "category", ["body"],
                          pilots_dir=tmp_path / "pilots", owner="support-lead@team.internal")
    confirmed = confirm(load_charter(made.charter), all_values=True, by="reviewer@team.internal")
    assert confirmed  # the only change to the drafted files
    charter = load_charter(made.charter)
    result = run_pilot(charter)
    decision = result.decision
    assert decision.outcome == "go", decision.summary()
    assert decision.candidate in ("tfidf_lr", "wordllama_lr")
    gates = {g.name: g for g in decision.gates}
    assert gates["beats_todays_rule"].passed and gates["few_errors"].passed and gates["no_leakage"].passed
    store = Store.for_project(charter.root, scope=charter.name)
    evaluate = next(r for r in store.children(charter.name, result.run_id) if r.data.tags.get(TAG["role"]) == "evaluate")
    cand = store.get_run(decision.candidate_run_id)
    assert 0 < cand.data.metrics["quality.macro_f1"] <= 1 and cand.data.metrics["items.error_rate"] == 0
    # the eval set's fingerprint is part of the result
    assert evaluate.data.params["eval_set.fingerprint"] == result.fingerprints["tickets_eval"]
    # per-item evidence: the MLflow table and the DuckDB table agree, one row per eval item
    table = json.loads(store.download_text(decision.candidate_run_id, f"items/{decision.candidate}.json"))
    n_items = len(pd.read_parquet(charter.resolve(charter.sources["tickets_eval"].path)))
    assert len(table["data"]) == n_items
    con = duckdb.connect(str(items_db(charter.warehouse_path)), read_only=True)
    try:
        count, correct = con.execute(f"SELECT count(*), avg(correct::INT) FROM {ITEMS_TABLE} WHERE run_id = ?",
                                     [decision.candidate_run_id]).fetchone()
    finally:
        con.close()
    assert count == n_items and correct == pytest.approx(cand.data.metrics["quality.accuracy"])
