"""The champion an evaluate step compared with is part of what the cache must match."""

from __future__ import annotations

from pathlib import Path

from support import build_pilot, candidate_metrics, make_charter
from workbench.charter.config import load_charter
from workbench.decide.promotion import promote
from workbench.steps.runner import _champion_came_from, compared_metrics, current_champion, timing_budgets
from workbench.store.tracking import Store


def test_the_champion_injected_and_whether_a_cached_step_produced_it(tmp_path: Path) -> None:
    store = Store(tmp_path)
    charter = make_charter("champ-cache")
    assert current_champion(charter, store) is None
    ids = build_pilot(store, charter, {"good": candidate_metrics(0.80)}, models=("good",))
    assert promote(charter, store, actor="ann").outcome == "go"
    champ = current_champion(charter, store)
    assert champ["uri"] == "models:/champ-cache-model/1" and champ["version"] == "1"
    assert champ["run_id"] == ids["candidates"]["good"]
    evaluate = store.get_run(ids["evaluate"])
    other = store.get_run(ids["baseline"])
    assert _champion_came_from(store, champ, evaluate)  # its own candidate: reuse compares it with itself
    assert not _champion_came_from(store, champ, other) and not _champion_came_from(store, None, evaluate)


def test_budgets_and_compared_metrics_come_from_the_gates() -> None:
    charter = load_charter(Path(__file__).resolve().parents[2] / "pilot.yaml", check_files=False)
    assert timing_budgets(charter) == {"latency.p95_ms": {"op": "<=", "value": 50.0}}
    assert compared_metrics(charter) == ["quality.roc_auc"]
    assert compared_metrics(make_charter("x", gates=[{"kind": "vs_baseline", "metric": "quality.brier"},
                                                     {"kind": "slices", "metric": "quality.log_loss"}])) == [
        "quality.roc_auc", "quality.brier", "quality.log_loss"]


def test_a_champion_counts_as_trained_on_these_rows_only_under_another_split_of_the_same_tables() -> None:
    """Which champion is not to be scored on this run's held-out rows: one whose evaluate run read
    the same tables (fingerprints) under another draw of held-out rows. Another training sample,
    the counts a split gives, or new data are no such case."""
    from types import SimpleNamespace

    from workbench.steps.session import _split_moved

    random = {"kind": "random", "test_size": "0.25", "seed": "0", "stratify": "true"}

    def evaluate(fingerprint: str, base: dict | None = None, **split: object) -> SimpleNamespace:
        params = {f"split.{k}": v for k, v in {**(random if base is None else base), **split}.items()}
        return SimpleNamespace(data=SimpleNamespace(tags={"workbench.fingerprint.shop": fingerprint}, params=params))

    ours = {"workbench.fingerprint.shop": "fp-1"}
    now = {"split.kind": "random", "split.test_size": 0.25, "split.seed": 3, "split.stratify": True,
           "split.eval_rows": 300, "split.train_rows": 900, "split.train_sample.rows": 500}
    assert _split_moved(ours, evaluate("fp-1"), now) == "split.seed 0 then, 3 now"
    assert _split_moved(ours, evaluate("fp-1", seed="3", eval_rows="310", **{"train_sample.rows": "800"}), now) == ""
    assert _split_moved(ours, evaluate("fp-2"), now) == ""  # new data: the champion never saw these rows
    assert _split_moved({}, evaluate("fp-1"), now) == ""
    assert _split_moved(ours, evaluate("fp-1", seed="3", stratify="false"), now) == \
        "split.stratify false then, true now"
    # a temporal window rolled forward: the champion trained before these held-out months, so it is scored on them
    temporal = {"kind": "temporal", "column": "month", "train": "[1, 9]", "evaluate": "[10, 12]"}
    later = {"split.kind": "temporal", "split.column": "month", "split.train": [1, 10], "split.evaluate": [11, 12]}
    assert _split_moved(ours, evaluate("fp-1", temporal), later) == ""
    overlap = {**later, "split.train": [1, 8], "split.evaluate": [9, 12]}
    assert _split_moved(ours, evaluate("fp-1", temporal), overlap) == \
        "split.evaluate [10, 12] then, [9, 12] now, split.train [1, 9] then, [1, 8] now"
