"""The metric registry: directions, units, slice patterns, suggestions, and that every
name the workbench emits is registered."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from workbench.measure import metrics
from workbench.charter.config import CostModel, Task
from workbench.errors import ConfigError
from workbench.measure.evaluation import HIGHER_IS_BETTER, ProbeReport, ProbeResult, evaluate, slice_metrics
from workbench.measure.timing import TimingResult


@pytest.mark.parametrize(
    "name, expected",
    [
        ("quality.roc_auc", "higher"), ("quality.average_precision", "higher"), ("quality.accuracy", "higher"),
        ("quality.f1", "higher"), ("quality.brier_skill", "higher"), ("quality.r2", "higher"),
        ("quality.brier", "lower"), ("quality.log_loss", "lower"), ("quality.mae", "lower"),
        ("quality.rmse", "lower"),
        ("quality.base_rate", None), ("quality.threshold", None),
        ("latency.p95_ms", "lower"), ("latency.batch_per_item_ms", "lower"), ("memory.peak_mb", "lower"),
        ("throughput.items_per_s", "higher"),
        ("cost.per_1k_usd", "lower"), ("cost.saved_per_1k_usd", "higher"), ("cost.human_per_1k_usd", None),
        ("time_saved.per_1k_hours", "higher"),
        ("probes.crashed", "lower"), ("probes.invalid_output", "lower"), ("probes.total", None),
        ("slice.flagged", "lower"), ("slice.eligible", None),
        ("contracts.error_failures", "lower"),
        # patterns take the direction of quality.<m>
        ("slice.worst.roc_auc", "higher"), ("slice.worst.mae", "lower"),
        ("slice.origin.JFK.roc_auc", "higher"), ("slice.origin.JFK.brier", "lower"), ("slice.hour.5.mae", "lower"),
        ("slice.origin.JFK.count", None), ("slice.origin.JFK.base_rate", None),
        # not metrics
        ("quality.roc_acu", None), ("slice.worst.nope", None), ("slice.origin.JFK.threshold", None),
        ("slice.a.b.c.roc_auc", None), ("slice..JFK.roc_auc", None), ("custom.thing", None),
    ],
)
def test_direction(name: str, expected: str | None) -> None:
    assert metrics.direction(name) == expected
    assert metrics.higher_is_better(name) == (None if expected is None else expected == "higher")


def test_info_units_tasks_and_pattern_names() -> None:
    mae = metrics.info("quality.mae")
    assert mae is not None and mae.unit == "target" and mae.task == "regression" and mae.higher_is_better is False
    assert metrics.info("latency.p95_ms").unit == "ms"  # type: ignore[union-attr]
    assert metrics.info("throughput.items_per_s").unit == "items/s"  # type: ignore[union-attr]
    assert metrics.info("cost.per_1k_usd").unit == "usd"  # type: ignore[union-attr]
    assert metrics.info("probes.crashed").unit == "count"  # type: ignore[union-attr]
    sliced = metrics.info("slice.origin.JFK.roc_auc")
    assert sliced is not None and sliced.name == "slice.origin.JFK.roc_auc" and sliced.task == "classification"
    assert "origin = JFK" in sliced.description
    assert metrics.info("nope.nope") is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        mae.direction = "higher"  # type: ignore[misc]
    for entry in metrics.REGISTRY.values():
        assert entry.direction in ("higher", "lower", None) and entry.unit and entry.description
        assert entry.task in ("classification", "regression", "both", "text-classification", "extraction", "retrieval", "items",
                              "multiclass", "answer")


def test_known_by_task_kind() -> None:
    cls, reg = metrics.known("classification"), metrics.known("regression")
    assert "quality.roc_auc" in cls and "quality.mae" not in cls and "slice.worst.roc_auc" in cls
    assert "quality.mae" in reg and "quality.roc_auc" not in reg and "slice.worst.mae" in reg
    assert "slice.worst.base_rate" not in cls  # descriptive: never a worst slice
    for shared in ("latency.p95_ms", "cost.per_1k_usd", "probes.crashed", "slice.flagged"):
        assert shared in cls and shared in reg
    text, retrieval = metrics.known("text-classification"), metrics.known("retrieval")
    assert "quality.macro_f1" in text and "quality.accuracy" in text and "quality.roc_auc" not in text
    assert "items.error_rate" in text and "items.error_rate" in retrieval and "quality.macro_f1" not in cls
    multi = metrics.known("multiclass")  # tabular multiclass: the macro averages, accuracy, log loss, no ROC
    assert {"quality.macro_f1", "quality.accuracy", "quality.log_loss", "heldout.min_class_rows"} <= set(multi)
    assert "quality.roc_auc" not in multi and "items.error_rate" not in multi
    answer = metrics.known("answer")  # generated answers share token F1 with extraction, and the items metrics
    assert {"quality.token_f1", "quality.groundedness", "items.error_rate"} <= set(answer)
    assert "quality.macro_f1" not in answer and "quality.groundedness" not in metrics.known("extraction")
    assert set(metrics.known()) == set(cls) | set(reg) | set(text) | set(retrieval) | set(metrics.known("extraction")) \
        | set(multi) | set(answer)
    assert cls == sorted(cls)
    with pytest.raises(ConfigError, match="unknown task kind"):
        metrics.known("ranking")


def test_suggest_did_you_mean() -> None:
    assert metrics.suggest("quality.roc_acu")[0] == "quality.roc_auc"
    assert metrics.suggest("latency.p95ms")[0] == "latency.p95_ms"
    pool = ["quality.mae", "quality.rmse", "custom.mea_x"]
    among = metrics.suggest("quality.mea", pool)
    assert among[0] == "quality.mae" and set(among) <= set(pool)  # only among the given candidates
    assert metrics.suggest("zzzz") == []


def test_evaluation_direction_table_comes_from_the_registry() -> None:
    assert HIGHER_IS_BETTER["mae"] is False and HIGHER_IS_BETTER["roc_auc"] is True
    assert HIGHER_IS_BETTER["base_rate"] is None
    for short, higher in HIGHER_IS_BETTER.items():
        assert metrics.higher_is_better(f"quality.{short}") == higher


# -- every name the workbench emits is registered ----------------------------------------------


def test_every_emitted_metric_name_is_registered() -> None:
    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame({"y": rng.integers(0, 2, n), "s": rng.uniform(0, 1, n),
                          "origin": rng.choice(["JFK", "EWR"], n), "t": rng.normal(10, 3, n)})
    frame["p"] = frame["t"] + rng.normal(0, 1, n)
    cls, reg = Task(kind="classification", target="y"), Task(kind="regression", target="t")
    emitted: dict[str, str] = {}
    emitted.update(dict.fromkeys(evaluate(frame.y, frame.s, task=cls).metrics(), "classification"))
    emitted.update(dict.fromkeys(evaluate(frame.t, frame.p, task=reg).metrics(), "regression"))
    emitted.update(dict.fromkeys(slice_metrics(frame, "y", "s", ["origin"], task=cls, min_rows=10)
                                 .metrics(all_metrics=True), "classification"))
    emitted.update(dict.fromkeys(slice_metrics(frame, "t", "p", ["origin"], task=reg, min_rows=10)
                                 .metrics(all_metrics=True), "regression"))
    timing = TimingResult(input_type="pandas.DataFrame", n_inputs=8, batch_size=4, warmup=1, repeats=1,
                          single_latencies_ms=(1.0, 2.0, 3.0), batch_latencies_ms=(4.0, 5.0), batch_rows=(4, 4),
                          peak_memory_mb=1.5,
                          cost=CostModel(compute_usd_per_hour=1.0, usd_per_call=0.001, human_seconds_per_item=30,
                                         human_usd_per_hour=40))
    emitted.update(dict.fromkeys(timing.metrics(), "both"))
    blocks = dataclasses.replace(timing, single_latencies_ms=(1.0, 2.0, 3.0, 2.0), batch_latencies_ms=(4.0, 5.0),
                                 blocks=2)
    emitted.update(dict.fromkeys({**blocks.metrics(), **blocks.block_metrics()}, "both"))
    # paired comparisons (workbench.measure.modeling.compare) and the held-out counts
    from workbench.measure.modeling import HeldOut, compare, score_rows

    held = HeldOut.from_frame(frame)
    both = {}
    for kind, target, a, b in (("classification", "y", "s", "p"), ("regression", "t", "p", "t")):
        task = cls if kind == "classification" else reg

        def scorer(col):
            return type("M", (), {"score": lambda self, X, col=col: frame.loc[X.index, col].to_numpy()})()
        truth = (lambda v: np.asarray(v, dtype=int)) if kind == "classification" else (lambda v: np.asarray(v, float))
        sa, sb = (score_rows(scorer(c), held, features=[a, b], target=target, truth=truth,
                             binary=kind == "classification") for c in (a, a if kind == "regression" else a))
        for ref in ("baseline", "champion"):
            cmp = compare(sa, sb, task=task, candidate_name="c", reference_name=ref)
            both.update(dict.fromkeys(cmp.metrics(), kind))
    emitted.update(both)
    emitted.update(dict.fromkeys(["heldout.rows", "heldout.positives", "heldout.negatives"], "classification"))
    assert "compare.champion.r2.ci_low" in emitted and "compare.baseline.roc_auc.diff" in emitted
    assert metrics.direction("compare.baseline.brier.ci_high") == "lower"
    probes = ProbeReport((ProbeResult("null.a", "null", "handled", "ok"),), ("ValueError",))
    emitted.update(dict.fromkeys(probes.metrics(), "both"))
    assert "time_saved.per_1k_hours" in emitted and "quality.average_precision" in emitted  # all families
    assert "slice.origin.JFK.average_precision" in emitted and "slice.worst.mae" in emitted
    unknown = sorted(name for name in emitted if metrics.info(name) is None)
    assert unknown == []
    for name, kind in emitted.items():
        if kind != "both":
            assert metrics.info(name).applies_to(kind), name  # type: ignore[union-attr]
    # the concrete (non per-slice) names are all listed by known()
    listed = set(metrics.known())
    concrete = {n for n in emitted if not (n.startswith("slice.") and n.count(".") == 3)
                and not n.startswith("compare.")}  # per-slice and per-reference names are patterns
    assert concrete <= listed


def test_step_and_pilot_metric_names_are_registered_and_do_not_grow_with_the_data() -> None:
    import duckdb

    from workbench.data.contracts.results import ContractResult, RuleResult
    from workbench.data.profiling import drift, profile_table

    con = duckdb.connect()
    wide = ", ".join(f"(i * {k}) % 97 AS c{k}" for k in range(40))  # 40 columns: still a handful of metrics
    con.execute(f"CREATE TABLE t AS SELECT {wide}, 'v' || (i % 3) AS s FROM range(500) r(i)")
    profile = profile_table(con, "t")
    report = drift(profile, profile_table(con, "t", reference=profile))
    rules = tuple(RuleResult(f"t.c{k}.range", f"c{k}", "range", "warn", True) for k in range(40))
    contract = ContractResult("t", "1.0.0", "sha", "t.yml", rules, row_count=500)
    names = {*profile.metrics(), *report.metrics(), *contract.metrics(), "ingest.t.rows", "ingest.t.seconds",
             "contracts.error_failures", "decision.go", "gates.failed", "baseline.quality.roc_auc",
             "gate.auc_floor.passed"}
    assert [n for n in names if metrics.info(n) is None] == []
    assert len(profile.metrics()) + len(report.metrics()) <= 6 and len(contract.metrics()) <= 6
    assert metrics.info("drift.t.max_psi").direction == "lower"  # type: ignore[union-attr]
    assert metrics.info("baseline.quality.mae").direction == "lower"  # type: ignore[union-attr]
    # descriptive numbers stay in the artifacts: registered (reports show them), never logged
    for name in ("quality.base_rate", "cost.human_per_1k_usd", "probes.total", "slice.eligible",
                 "slice.origin.JFK.base_rate"):
        assert metrics.info(name) is not None and not metrics.logged(name), name
    assert metrics.logged("quality.roc_auc") and metrics.logged("slice.origin.JFK.count")
    assert metrics.logged("custom.thing")  # a custom notebook's own metric is its business
    assert metrics.info("baseline.quality.base_rate") is None


def test_leakage_and_shift_metric_names_are_registered() -> None:
    from workbench.measure.shift import ShiftReport

    emitted = {*ShiftReport((), 0, 0).metrics(), "leakage.findings"}
    assert all(metrics.info(n) is not None and metrics.direction(n) == "lower" for n in emitted), emitted
