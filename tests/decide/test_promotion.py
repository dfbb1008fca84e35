"""Promotion: the gates as pure functions, then promote / history / rollback on a real
MLflow sqlite store holding a hand-built (but real) pilot layout."""

from __future__ import annotations

import json

import pytest

# the store builders live in support.py; other test modules still import them from here
from support import PLAN, GATES, build_pilot, candidate_metrics, log_model, make_charter  # noqa: F401
from workbench.charter.config import BaselineGate, ChampionGate, Charter, ContractsGate, ProbesGate, SlicesGate, ThresholdGate
from workbench.errors import EXIT_NO_GO, EXIT_OK, ConfigError, PromotionError
from workbench.decide.promotion import (
    DECISION_ARTIFACT,
    Decision,
    Evidence,
    audit,
    baseline_gate,
    champion_gate,
    contracts_gate,
    evaluate_gates,
    higher_is_better,
    history,
    probes_gate,
    promote,
    rollback,
    select_candidate,
    slices_gate,
    threshold_gate,
)
from workbench.decide.promotion import _not_better_notes  # the note's rule, on an interval
from workbench.decide import registry
from workbench.store.tracking import FINISHED, TAG, Store

# -- pure gates -------------------------------------------------------------------------------


def test_threshold_gate_passes_fails_and_fails_on_a_missing_metric() -> None:
    gate = ThresholdGate(kind="threshold", metric="quality.roc_auc", op=">=", value=0.70)
    ok = threshold_gate(gate, {"quality.roc_auc": 0.71}, run_id="r1")
    assert ok.passed and ok.measured == 0.71 and ok.threshold == 0.70 and ok.op == ">=" and ok.run_id == "r1"
    assert not threshold_gate(gate, {"quality.roc_auc": 0.69}).passed
    missing = threshold_gate(gate, {"quality.accuracy": 0.99})
    assert not missing.passed and missing.measured is None and "missing" in missing.reason
    nan = threshold_gate(gate, {"quality.roc_auc": float("nan")})
    assert not nan.passed
    latency = ThresholdGate(kind="threshold", metric="latency.p95_ms", op="<=", value=50)
    assert threshold_gate(latency, {"latency.p95_ms": 50.0}).passed
    assert not threshold_gate(latency, {"latency.p95_ms": 50.1}).passed
    strict = ThresholdGate(kind="threshold", metric="cost.per_1k_usd", op="<", value=0.02)
    assert not threshold_gate(strict, {"cost.per_1k_usd": 0.02}).passed


def test_baseline_gate_relative_improvement_in_both_directions() -> None:
    gate = BaselineGate(kind="vs_baseline", metric="quality.roc_auc", min_relative_improvement=0.05)
    res = baseline_gate(gate, {"quality.roc_auc": 0.735}, {"quality.roc_auc": 0.70}, run_id="c", baseline_run_id="b")
    assert res.passed and res.threshold == pytest.approx(0.735) and res.reference == 0.70
    assert res.reference_run_id == "b"
    assert not baseline_gate(gate, {"quality.roc_auc": 0.73}, {"quality.roc_auc": 0.70}).passed

    lower = BaselineGate(kind="vs_baseline", metric="latency.p95_ms", min_relative_improvement=0.10,
                         higher_is_better=False)
    fast = baseline_gate(lower, {"latency.p95_ms": 8.9}, {"latency.p95_ms": 10.0})
    assert fast.passed and fast.op == "<=" and fast.threshold == pytest.approx(9.0)
    assert not baseline_gate(lower, {"latency.p95_ms": 9.5}, {"latency.p95_ms": 10.0}).passed
    # a higher latency is not an "improvement" even though the number grew
    assert not baseline_gate(lower, {"latency.p95_ms": 20.0}, {"latency.p95_ms": 10.0}).passed


def test_baseline_gate_fails_when_evidence_is_missing() -> None:
    gate = BaselineGate(kind="vs_baseline", metric="quality.roc_auc")
    assert "no baseline run" in baseline_gate(gate, {"quality.roc_auc": 0.9}, None).reason
    res = baseline_gate(gate, {"quality.roc_auc": 0.9}, {"quality.brier": 0.1})
    assert not res.passed and "missing from the baseline" in res.reason
    res = baseline_gate(gate, {}, {"quality.roc_auc": 0.5})
    assert not res.passed and "missing from the candidate" in res.reason


def test_champion_gate_no_champion_regression_and_direction() -> None:
    gate = ChampionGate(kind="vs_champion", metric="quality.roc_auc", max_regression=0.01)
    first = champion_gate(gate, {"quality.roc_auc": 0.6}, None, champion_version=None)
    assert first.passed and "no champion yet" in first.reason
    assert champion_gate(gate, {"quality.roc_auc": 0.795}, {"quality.roc_auc": 0.80}, champion_version="3").passed
    worse = champion_gate(gate, {"quality.roc_auc": 0.78}, {"quality.roc_auc": 0.80}, champion_version="3",
                          champion_run_id="champ")
    assert not worse.passed and worse.reference == 0.80 and worse.threshold == pytest.approx(0.79)
    assert "v3" in worse.reason and worse.reference_run_id == "champ"
    unreadable = champion_gate(gate, {"quality.roc_auc": 0.9}, None, champion_version="3")
    assert not unreadable.passed and "champion" in unreadable.reason
    assert not champion_gate(gate, {}, None, champion_version=None).passed  # missing candidate metric

    lower = ChampionGate(kind="vs_champion", metric="cost.per_1k_usd", max_regression=0.001, higher_is_better=False)
    assert champion_gate(lower, {"cost.per_1k_usd": 0.0105}, {"cost.per_1k_usd": 0.010}, champion_version="1").passed
    assert not champion_gate(lower, {"cost.per_1k_usd": 0.012}, {"cost.per_1k_usd": 0.010},
                             champion_version="1").passed


def test_a_champion_gate_may_ask_for_a_gain_the_interval_shows() -> None:
    """`min_improvement`: a challenger replaces the champion only when the interval's worse end
    clears the gain asked for; one the rows cannot tell from the champion fails, as does a point
    value that merely equals it. One margin or the other, not both."""
    gate = ChampionGate(kind="vs_champion", metric="quality.roc_auc", min_improvement=0.005)

    def judged(lo: float, hi: float) -> object:
        comparison = {"reference_label": "champion v3",
                      "metrics": {"quality.roc_auc": {"diff": (lo + hi) / 2, "ci_low": lo, "ci_high": hi, "n": 900}}}
        return champion_gate(gate, {"quality.roc_auc": 0.8 + (lo + hi) / 2}, {"quality.roc_auc": 0.8},
                             champion_version="3", comparison=comparison)

    assert judged(0.006, 0.02).passed
    tie = judged(-0.002, 0.02)
    assert not tie.passed and "a gain of 0.005 is not shown" in tie.reason and tie.threshold == pytest.approx(0.805)
    assert tie.op == ">"  # a gain is strict: the scorecard's "required" column says so
    assert not judged(0.001, 0.004).passed  # surely better, by less than asked
    assert not champion_gate(gate, {"quality.roc_auc": 0.805}, {"quality.roc_auc": 0.8}, champion_version="3").passed
    point = champion_gate(gate, {"quality.roc_auc": 0.81}, {"quality.roc_auc": 0.8}, champion_version="3")
    assert point.passed and "required > 0.805 (min improvement 0.005" in point.reason
    lower = ChampionGate(kind="vs_champion", metric="cost.per_1k_usd", min_improvement=0.001, higher_is_better=False)
    cheaper = champion_gate(lower, {"cost.per_1k_usd": 0.008}, {"cost.per_1k_usd": 0.010}, champion_version="1")
    assert cheaper.passed and cheaper.op == "<" and cheaper.threshold == pytest.approx(0.009)
    assert not champion_gate(lower, {"cost.per_1k_usd": 0.0095}, {"cost.per_1k_usd": 0.010},
                             champion_version="1").passed
    with pytest.raises(ValueError, match="give one of `max_regression:`"):
        ChampionGate(kind="vs_champion", metric="quality.roc_auc", min_improvement=0.005, max_regression=0.01)


def test_contracts_and_probes_gates() -> None:
    gate = ContractsGate(kind="contracts")
    assert contracts_gate(gate, passed=True, error_failures=0.0, run_id="c").passed
    failed = contracts_gate(gate, passed=False, error_failures=2.0, run_id="c")
    assert not failed.passed and failed.measured == 2.0 and "2 error-level" in failed.reason
    assert not contracts_gate(gate, passed=True, error_failures=None, run_id=None).passed  # no contracts step
    assert not contracts_gate(gate, passed=None, error_failures=None, run_id="c").passed  # no verdict
    assert contracts_gate(gate, passed=True, error_failures=None, run_id="c").passed

    probes = ProbesGate(kind="probes")
    assert probes_gate(probes, {"probes.crashed": 0.0, "probes.total": 12.0}).passed
    crashed = probes_gate(probes, {"probes.crashed": 2.0, "probes.total": 12.0})
    assert not crashed.passed and crashed.measured == 2.0 and "2 of 12" in crashed.reason
    assert not probes_gate(probes, {"probes.total": 12.0}).passed


def _slices(**values: float) -> dict[str, float]:
    out = {"slice.worst.roc_auc": min(values.values()), "slice.flagged": 0.0}
    for key, v in values.items():
        col, val = key.split("__")
        out[f"slice.{col}.{val}.roc_auc"] = v
        out[f"slice.{col}.{val}.count"] = 500.0
    return out


def test_slices_gate_against_champion_then_baseline() -> None:
    gate = SlicesGate(kind="slices", metric="quality.roc_auc", margin=0.05)
    cand = _slices(origin__JFK=0.80, origin__EWR=0.70)
    champ = _slices(origin__JFK=0.78, origin__EWR=0.80)
    res = slices_gate(gate, cand, champion=champ, champion_version="2", baseline=None)
    assert not res.passed and res.measured == pytest.approx(0.10) and res.threshold == 0.05
    assert any("origin.EWR" in d for d in res.details) and "champion v2" in res.reason
    ok = slices_gate(gate, cand, champion=_slices(origin__JFK=0.79, origin__EWR=0.72), champion_version="2",
                     baseline=None)
    assert ok.passed
    # no champion: the baseline's slices, and the reason says so
    vs_base = slices_gate(gate, cand, champion=None, champion_version=None, baseline=_slices(origin__JFK=0.7,
                                                                                               origin__EWR=0.6))
    assert vs_base.passed and "baseline (no champion yet)" in vs_base.reason
    assert not slices_gate(gate, {"quality.roc_auc": 0.9}, champion=None, champion_version=None,
                           baseline=champ).passed  # candidate has no slices
    assert not slices_gate(gate, cand, champion=None, champion_version=None, baseline=None).passed
    lower = SlicesGate(kind="slices", metric="quality.brier", margin=0.01, higher_is_better=False)
    n = {"slice.origin.JFK.count": 300.0}
    c = {"slice.origin.JFK.brier": 0.20, **n}
    assert not slices_gate(lower, c, champion={"slice.origin.JFK.brier": 0.15, **n}, champion_version="1",
                           baseline=None).passed
    assert slices_gate(lower, c, champion={"slice.origin.JFK.brier": 0.25, **n}, champion_version="1",
                       baseline=None).passed


def test_slices_gate_reports_but_does_not_gate_small_slices() -> None:
    gate = SlicesGate(kind="slices", metric="quality.roc_auc", margin=0.05, min_rows=200)
    cand = _slices(origin__JFK=0.80, carrier__HA=0.40)
    base = _slices(origin__JFK=0.78, carrier__HA=0.70)
    cand["slice.carrier.HA.count"] = base["slice.carrier.HA.count"] = 90.0
    res = slices_gate(gate, cand, champion=None, champion_version=None, baseline=base)
    assert res.passed
    assert any("fewer than 200 rows" in d and "carrier.HA" in d for d in res.details)
    big = SlicesGate(kind="slices", metric="quality.roc_auc", margin=0.05, min_rows=50)
    assert not slices_gate(big, cand, champion=None, champion_version=None, baseline=base).passed


def test_select_candidate() -> None:
    cands = {"a": {"quality.roc_auc": 0.7}, "b": {"quality.roc_auc": 0.8}, "c": {}}
    assert select_candidate(cands, "quality.roc_auc") == "b"
    assert select_candidate({"a": {"latency.p95_ms": 3.0}, "b": {"latency.p95_ms": 1.0}}, "latency.p95_ms",
                            higher=False) == "b"
    assert select_candidate(cands, "quality.roc_auc", name="a") == "a"
    with pytest.raises(PromotionError, match="choose one of: a, b, c"):
        select_candidate(cands, "quality.roc_auc", name="zzz")
    with pytest.raises(PromotionError, match="no candidate has"):
        select_candidate({"c": {}}, "quality.roc_auc")
    with pytest.raises(PromotionError, match="no finished candidate"):
        select_candidate({}, "quality.roc_auc")


# -- direction from the metric registry ---------------------------------------------------------

# lower-is-better metrics: (good value, value 43x worse than the reference 1.0)
LOWER = ["quality.mae", "quality.brier", "latency.p95_ms"]


@pytest.mark.parametrize("metric", LOWER)
def test_baseline_gate_takes_a_lower_is_better_direction_from_the_registry(metric: str) -> None:
    gate = BaselineGate(kind="vs_baseline", metric=metric, min_relative_improvement=0.05)  # no override
    assert gate.higher_is_better is None
    worse = baseline_gate(gate, {metric: 43.0}, {metric: 1.0})
    assert not worse.passed and worse.op == "<=" and worse.threshold == pytest.approx(0.95)
    assert "lower is better" in worse.reason
    better = baseline_gate(gate, {metric: 0.5}, {metric: 1.0})
    assert better.passed
    assert not baseline_gate(gate, {metric: 0.97}, {metric: 1.0}).passed  # better, but by less than 5 %


@pytest.mark.parametrize("metric", LOWER)
def test_champion_gate_takes_a_lower_is_better_direction_from_the_registry(metric: str) -> None:
    gate = ChampionGate(kind="vs_champion", metric=metric, max_regression=0.01)
    worse = champion_gate(gate, {metric: 43.0}, {metric: 1.0}, champion_version="4")
    assert not worse.passed and worse.op == "<=" and worse.threshold == pytest.approx(1.01)
    assert champion_gate(gate, {metric: 0.5}, {metric: 1.0}, champion_version="4").passed
    assert champion_gate(gate, {metric: 1.005}, {metric: 1.0}, champion_version="4").passed  # within the margin


@pytest.mark.parametrize("metric", ["quality.mae", "quality.brier"])
def test_slices_gate_takes_a_lower_is_better_direction_from_the_registry(metric: str) -> None:
    short = metric.split(".")[1]
    gate = SlicesGate(kind="slices", metric=metric, margin=0.05, min_rows=100)

    def sl(jfk: float, ewr: float) -> dict[str, float]:
        return {f"slice.origin.JFK.{short}": jfk, f"slice.origin.EWR.{short}": ewr,
                "slice.origin.JFK.count": 500.0, "slice.origin.EWR.count": 500.0}

    worse = slices_gate(gate, sl(43.0, 1.0), champion=sl(1.0, 1.0), champion_version="2", baseline=None)
    assert not worse.passed and worse.measured == pytest.approx(42.0) and "lower is better" in worse.reason
    assert any("origin.JFK" in d for d in worse.details)
    better = slices_gate(gate, sl(0.5, 0.9), champion=sl(1.0, 1.0), champion_version="2", baseline=None)
    assert better.passed and better.measured == pytest.approx(-0.1)
    vs_base = slices_gate(gate, sl(43.0, 1.0), champion=None, champion_version=None, baseline=sl(1.0, 1.0))
    assert not vs_base.passed


def test_higher_is_better_metric_still_gates_upwards() -> None:
    gate = BaselineGate(kind="vs_baseline", metric="quality.r2")
    assert baseline_gate(gate, {"quality.r2": 0.8}, {"quality.r2": 0.5}).passed
    assert not baseline_gate(gate, {"quality.r2": 0.2}, {"quality.r2": 0.5}).passed
    saved = ChampionGate(kind="vs_champion", metric="cost.saved_per_1k_usd")  # a cost.* metric where more is better
    assert champion_gate(saved, {"cost.saved_per_1k_usd": 9.0}, {"cost.saved_per_1k_usd": 5.0},
                         champion_version="1").passed
    assert not champion_gate(saved, {"cost.saved_per_1k_usd": 1.0}, {"cost.saved_per_1k_usd": 5.0},
                             champion_version="1").passed


def test_an_explicit_override_wins_over_the_registry() -> None:
    # someone who really wants "bigger MAE" (say, a deliberately noisy privacy model) can say so
    odd = BaselineGate(kind="vs_baseline", metric="quality.mae", higher_is_better=True)
    assert baseline_gate(odd, {"quality.mae": 43.0}, {"quality.mae": 1.0}).passed
    odd_slices = SlicesGate(kind="slices", metric="quality.roc_auc", higher_is_better=False, min_rows=1)
    n = {"slice.o.A.count": 10.0}
    assert slices_gate(odd_slices, {"slice.o.A.roc_auc": 0.5, **n}, champion={"slice.o.A.roc_auc": 0.9, **n},
                       champion_version="1", baseline=None).passed


def test_higher_is_better_order_override_then_threshold_op_then_registry() -> None:
    assert higher_is_better("quality.mae") is False
    assert higher_is_better("quality.roc_auc") is True
    assert higher_is_better("throughput.items_per_s") is True
    assert higher_is_better("slice.worst.mae") is False
    thr = ThresholdGate(kind="threshold", metric="custom.score", op=">=", value=1)
    assert higher_is_better("custom.score", [thr]) is True
    assert higher_is_better("custom.score", [ThresholdGate(kind="threshold", metric="custom.score", op="<", value=1)]) \
        is False
    over = BaselineGate(kind="vs_baseline", metric="custom.score", higher_is_better=False)
    assert higher_is_better("custom.score", [thr, over]) is False  # the explicit override wins over the op
    assert higher_is_better("quality.mae", [BaselineGate(kind="vs_baseline", metric="quality.mae")]) is False
    assert higher_is_better("quality.mae", [thr]) is False  # a gate on another metric says nothing


def test_unknown_metric_direction_is_a_config_error_with_a_suggestion() -> None:
    with pytest.raises(ConfigError) as info:
        higher_is_better("quality.roc_acu")
    text = str(info.value)
    assert "quality.roc_acu" in text and "did you mean quality.roc_auc" in text and "higher_is_better" in text
    with pytest.raises(ConfigError, match="did you mean quality.mae"):
        baseline_gate(BaselineGate(kind="vs_baseline", metric="quality.mea"), {"quality.mea": 1.0},
                      {"quality.mea": 2.0})
    with pytest.raises(ConfigError, match="quality.roc_acu is not a built-in metric"):
        slices_gate(SlicesGate(kind="slices", metric="quality.roc_acu"), {}, champion=None, champion_version=None,
                    baseline=None)
    with pytest.raises(ConfigError, match="describes the data"):
        champion_gate(ChampionGate(kind="vs_champion", metric="quality.base_rate"), {"quality.base_rate": 0.2},
                      {"quality.base_rate": 0.3}, champion_version="1")
    # with an override, a custom metric is fine
    custom = BaselineGate(kind="vs_baseline", metric="custom.minutes_saved", higher_is_better=True)
    assert baseline_gate(custom, {"custom.minutes_saved": 9.0}, {"custom.minutes_saved": 5.0}).passed


def test_decision_record_contents_summary_and_exit_codes() -> None:
    gates = evaluate_gates(
        [ThresholdGate(kind="threshold", metric="quality.roc_auc", op=">=", value=0.7),
         ProbesGate(kind="probes", name="robust")],
        Evidence(candidate="hgb", candidate_run_id="run-c", candidate_metrics={"quality.roc_auc": 0.65,
                                                                               "probes.crashed": 0.0}),
    )
    d = Decision(outcome="no-go", pilot="p", model_name="m", alias="champion", actor="ann", timestamp="t",
                 gates=gates, candidate="hgb", alias_before="2", alias_after="2", fingerprints={"flights": "abc"},
                 git_commit="deadbeef", contract_versions={"flights": "1.0"})
    assert d.exit_code == EXIT_NO_GO and [g.name for g in d.failing] == ["threshold quality.roc_auc"]
    text = d.summary()
    assert "NO-GO" in text and "0.65" in text and ">= 0.7" in text and "stays at version 2" in text
    assert "robust" not in text  # passing gates are not listed
    data = json.loads(json.dumps(d.to_dict()))
    assert data["gates"][0]["measured"] == 0.65 and data["gates"][0]["threshold"] == 0.7
    assert data["gates"][0]["run_id"] == "run-c" and data["exit_code"] == 3
    assert data["fingerprints"] == {"flights": "abc"} and data["git_commit"] == "deadbeef"
    assert Decision.from_dict(data) == d
    go = Decision(outcome="go", pilot="p", model_name="m", alias="champion", actor="a", timestamp="t")
    assert go.exit_code == EXIT_OK and go.passed


# -- a real MLflow store ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return Store(tmp_path_factory.mktemp("mlstore"))


def _versions(store: Store, charter: Charter) -> list[str]:
    found = store.client.search_model_versions(f"name = '{charter.promotion.model_name}'")
    return sorted(str(v.version) for v in found)


def _alias(store: Store, charter: Charter) -> str | None:
    try:
        return str(store.client.get_model_version_by_alias(charter.promotion.model_name, "champion").version)
    except Exception:  # noqa: BLE001
        return None


@pytest.mark.slow  # registers several models
def test_promotion_lifecycle_go_rerun_nogo_history_rollback(store: Store) -> None:
    charter = make_charter("life")
    p1 = build_pilot(store, charter, {"good": candidate_metrics(0.80), "weak": candidate_metrics(0.72)},
                     models=("good",))
    # go: the best candidate is registered and the alias moves to it
    d1 = promote(charter, store, actor="ann")
    assert d1.outcome == "go" and d1.exit_code == 0 and d1.candidate == "good" and d1.new_version
    assert all(g.passed for g in d1.gates) and len(d1.gates) == len(GATES) + 3  # + the implicit sample_size, production_plan and leakage gates
    assert d1.alias_before is None and d1.alias_after == d1.model_version == "1"
    assert _alias(store, charter) == "1"
    mv = store.client.get_model_version(charter.promotion.model_name, "1")
    assert mv.run_id == p1["candidates"]["good"] and mv.tags["workbench.decision_run"] == d1.decision_run_id
    pilot = store.get_run(p1["pilot"])
    assert pilot.data.tags["workbench.decision"] == "go"
    assert pilot.data.tags["workbench.decision_run"] == d1.decision_run_id
    record = json.loads(store.download_text(p1["pilot"], DECISION_ARTIFACT))
    assert record["actor"] == "ann" and record["fingerprints"] == {"flights": "fp-1"}
    assert record["git_commit"] == "c0ffee" and record["contract_versions"] == {"flights": "abc123def456"}
    assert record["evidence"]["baseline"] == p1["baseline"] and record["evidence"]["contracts"] == p1["contracts"]
    assert {g["kind"] for g in record["gates"]} == {g["kind"] for g in GATES} | {"production_plan", "leakage", "sample_size"}
    decision_run = store.get_run(d1.decision_run_id)
    assert decision_run.data.tags[TAG["kind"]] == "decision"
    assert decision_run.data.tags[TAG["parent"]] == p1["pilot"]  # nested under the pilot run it judged
    assert decision_run.data.metrics["gate.production_plan.passed"] == 1.0  # gate metrics named by gate
    assert not [k for k in decision_run.data.metrics if k.startswith("gate.0")]
    version = store.client.get_model_version(charter.promotion.model_name, d1.model_version)
    assert d1.decision_run_id in version.description and "scorecard" in version.description
    # links into the MLflow UI, relative so they follow its host and port
    exp = decision_run.info.experiment_id
    assert f"(#/experiments/{exp}/runs/{d1.decision_run_id}/artifactPath/{DECISION_ARTIFACT}?" in version.description
    assert f"(#/experiments/{exp}/runs/{p1['pilot']}/artifactPath/scorecard/scorecard.html?" in version.description
    assert "Better than the <desk> rule?" in store.client.get_registered_model(charter.promotion.model_name).description

    # rerun on identical inputs: no new version, no alias move
    d2 = promote(charter, store, p1["pilot"], actor="ann")
    assert d2.outcome == "already-champion" and d2.exit_code == 0 and not d2.new_version
    assert _versions(store, charter) == ["1"] and _alias(store, charter) == "1"

    # a worse candidate: no-go, exit 3, failing gates listed with values, alias untouched
    p2 = build_pilot(store, charter, {"worse": candidate_metrics(0.65, jfk=0.55, crashed=1.0)}, cache_key="key-2")
    d3 = promote(charter, store)
    assert d3.pilot_run_id == p2["pilot"] and d3.outcome == "no-go" and d3.exit_code == EXIT_NO_GO
    failing = {g.kind for g in d3.failing}
    assert failing == {"threshold", "vs_baseline", "vs_champion", "probes", "slices"}
    summary = d3.summary()
    assert "quality.roc_auc = 0.65" in summary and "champion v1 0.8" in summary and "1 of 12 probe(s)" in summary
    assert _alias(store, charter) == "1" and _versions(store, charter) == ["1"]
    assert store.get_run(p2["pilot"]).data.tags["workbench.decision"] == "no-go"

    # a better candidate: version 2
    p3 = build_pilot(store, charter, {"better": candidate_metrics(0.85)}, models=("better",), cache_key="key-3")
    d4 = promote(charter, store, actor="bob")
    assert d4.outcome == "go" and d4.model_version == "2" and d4.alias_before == "1" and _alias(store, charter) == "2"

    # the evaluate step served from cache: candidates found through cached_from, same model, nothing moves
    p4 = build_pilot(store, charter, {}, evaluate_cached_from=p3["evaluate"], cache_key="key-3")
    d5 = promote(charter, store, p4["pilot"])
    assert d5.outcome == "already-champion" and d5.candidate_run_id == p3["candidates"]["better"]
    assert _versions(store, charter) == ["1", "2"]

    hist = history(charter, store)
    assert [h.outcome for h in hist] == ["already-champion", "go", "no-go", "already-champion", "go"]
    assert hist[1].decision_run_id == d4.decision_run_id and hist[1].actor == "bob"
    assert hist[2].failing and hist[2].gates == d3.gates

    # rollback: back to version 1, with its own record
    r1 = rollback(charter, store, actor="carol")
    assert r1.outcome == "rollback" and r1.alias_before == "2" and r1.alias_after == "1" and r1.exit_code == 0
    assert _alias(store, charter) == "1"
    assert history(charter, store)[0].outcome == "rollback"
    assert history(charter, store)[0].actor == "carol"
    with pytest.raises(PromotionError, match="nothing to roll back to"):
        rollback(charter, store)
    assert _alias(store, charter) == "1"

    # rollback sticks: promoting the rolled-back pilot again is a no-go naming the rollback
    d6 = promote(charter, store, p3["pilot"])
    assert d6.outcome == "no-go" and [g.kind for g in d6.failing] == ["rollback"]
    assert "rolled back by decision run " + r1.decision_run_id in d6.failing[0].reason
    assert "--allow-rolled-back" in d6.summary()
    assert _versions(store, charter) == ["1", "2"] and _alias(store, charter) == "1"
    with pytest.raises(PromotionError, match="needs a reason"):
        promote(charter, store, p3["pilot"], allow_rolled_back=True)
    # ... unless a person says so, with a reason: then it reuses its version (no new one)
    d7 = promote(charter, store, p3["pilot"], allow_rolled_back=True, reason="the incident was in the feature store")
    assert d7.outcome == "go" and d7.model_version == "2" and not d7.new_version
    assert d7.reason == "the incident was in the feature store"
    assert json.loads(store.download_text(d7.decision_run_id, DECISION_ARTIFACT))["reason"] == d7.reason
    assert _versions(store, charter) == ["1", "2"] and _alias(store, charter) == "2"
    assert audit(charter, store).ok


def test_dry_run_moves_and_records_nothing(store: Store) -> None:
    charter = make_charter("dry")
    ids = build_pilot(store, charter, {"good": candidate_metrics(0.80)})
    before = len(store.find_runs("dry", max_results=1000))
    d = promote(charter, store, dry_run=True)
    assert d.dry_run and d.outcome == "go" and d.decision_run_id is None and d.alias_after is None
    assert "dry run" in d.summary()
    assert len(store.find_runs("dry", max_results=1000)) == before
    assert "workbench.decision" not in store.get_run(ids["pilot"]).data.tags
    assert _alias(store, charter) is None
    with pytest.raises(Exception):
        store.client.get_registered_model(charter.promotion.model_name)
    assert history(charter, store) == []
    # not dry: the gates pass but there is no logged model to register
    with pytest.raises(PromotionError, match="no logged model"):
        promote(charter, store)


def test_failing_contracts_and_named_candidate(store: Store) -> None:
    charter = make_charter("named", candidate="weak", gates=[GATES[0], {"kind": "contracts"}])
    build_pilot(store, charter, {"good": candidate_metrics(0.9), "weak": candidate_metrics(0.6)},
                contracts_passed=False)
    d = promote(charter, store)
    assert d.candidate == "weak" and d.outcome == "no-go"
    assert {g.kind for g in d.failing} == {"threshold", "contracts"}
    assert "2 error-level" in d.summary()


def test_clear_errors_without_evidence(store: Store) -> None:
    charter = make_charter("errs")
    with pytest.raises(PromotionError, match="no MLflow experiment"):
        promote(charter, store)
    build_pilot(store, charter, {"good": candidate_metrics(0.8)}, finish=False)
    with pytest.raises(PromotionError, match="no FINISHED pilot run"):
        promote(charter, store)
    with pytest.raises(PromotionError, match="no gates"):
        promote(make_charter("errs", gates=[]), store)
    with pytest.raises(PromotionError, match="no `promotion:`"):
        promote(make_charter("errs", promotion=False), store)
    step = store.find_runs("errs", f"tags.`{TAG['kind']}` = 'step'")[0]
    with pytest.raises(PromotionError, match="not a pilot run"):
        promote(charter, store, step.info.run_id)
    with pytest.raises(PromotionError, match="nothing to roll back"):
        rollback(charter, store)


def test_pilot_without_evaluate_step(store: Store) -> None:
    charter = make_charter("noeval")
    pilot = store.start_run("noeval", "pilot", tags={TAG["kind"]: "pilot"})
    store.end_run(pilot.run_id, FINISHED)
    with pytest.raises(PromotionError, match="no evaluate step"):
        promote(charter, store)


def test_a_go_is_refused_while_the_production_plan_is_incomplete() -> None:
    from workbench.charter.config import ProductionPlan
    from workbench.decide.promotion import production_plan_gate

    missing = production_plan_gate(None)
    assert not missing.passed and "no plan at all" in missing.reason
    partial = production_plan_gate(ProductionPlan(on_call="TODO: someone", monitoring={"input_psi": 0.2}))
    assert not partial.passed
    assert "production.on_call" in partial.reason and "production.monitoring.min_quality" in partial.reason
    assert "production.monitoring.input_psi" not in partial.reason
    assert production_plan_gate(ProductionPlan.model_validate(PLAN)).passed


def test_promote_without_a_plan_is_no_go_and_names_the_gate(store: Store) -> None:
    charter = make_charter("noplan").model_copy(update={"production": None})
    build_pilot(store, charter, {"good": candidate_metrics(0.80)}, models=("good",))
    decision = promote(charter, store, actor="ann")
    assert decision.outcome == "no-go"
    assert [g.name for g in decision.failing] == ["production_plan"]
    assert _alias(store, charter) is None and _versions(store, charter) == []


def test_the_decision_record_repeats_the_pilot_runs_environment(store: Store) -> None:
    from workbench.store import environment

    charter = make_charter("env-record")
    env = environment.current()
    ids = build_pilot(store, charter, {"weak": candidate_metrics(0.65)}, finish=False)
    store.set_tags(ids["pilot"], env.tags())  # as the runner tags every pilot run it starts
    store.end_run(ids["pilot"], FINISHED)
    decision = promote(charter, store, ids["pilot"], actor="ann")
    record = json.loads(store.download_text(decision.decision_run_id, DECISION_ARTIFACT))
    assert record["environment"] == environment.from_tags(env.tags()) == decision.environment
    assert record["environment"]["packages"]["scikit-learn"] == env.packages["scikit-learn"]
    assert record["environment"]["python"] == env.python and record["environment"]["lock_sha256"] == env.lock_sha256
    # a pilot run from before versions were recorded: the record says none, it does not guess
    old = build_pilot(store, charter, {"weak": candidate_metrics(0.65)}, cache_key="key-old")
    assert promote(charter, store, old["pilot"], actor="ann").environment == {}


def test_a_candidate_not_chosen_that_erred_on_many_items_is_named_in_the_notes(store: Store) -> None:
    """An LLM candidate that timed out on nearly every eval item scores near zero and is not
    chosen; its gates are never evaluated, so only a note tells the reader it did not answer."""
    charter = make_charter("erred")
    errs = {"items.errors": 119.0, "items.error_rate": 119 / 120}
    build_pilot(store, charter, {"good": {**candidate_metrics(0.80), "items.errors": 1.0, "items.error_rate": 1 / 120},
                                 "llm": {**candidate_metrics(0.50), **errs}})
    d = promote(charter, store, dry_run=True)
    assert d.candidate == "good"
    said = [n for n in d.notes if "ended in an error" in n]
    assert len(said) == 1 and "candidate 'llm' was not chosen: 119 of 120 eval items (99%) ended in an error" in said[0]
    assert "an error gate allows 1%" in said[0]
    assert "'llm' was not chosen" in d.summary()
    # within the charter's own error gate (here 99 %), or a tabular candidate (no items.errors): no note
    loose = make_charter("erred2", gates=[*GATES, {"kind": "threshold", "metric": "items.error_rate", "op": "<=",
                                                   "value": 0.995}])
    build_pilot(store, loose, {"good": candidate_metrics(0.80), "llm": {**candidate_metrics(0.50), **errs}})
    assert not [n for n in promote(loose, store, dry_run=True).notes if "ended in an error" in n]


def test_with_two_candidates_the_gates_judge_the_chosen_one_on_97_5_percent(store: Store) -> None:
    """The better of two candidates, 0.06 above today's rule with a 95 % interval of
    [+0.035, +0.085] against a margin of 0.033: one candidate would pass; as the better of
    two it is judged on the 97.5 % interval, which holds the margin: no better than today."""
    charter = make_charter("several", gates=[{"kind": "vs_baseline", "metric": "quality.roc_auc",
                                              "min_relative_improvement": 0.05}])
    logged = {"compare.baseline.roc_auc.diff": 0.06, "compare.baseline.roc_auc.ci_low": 0.035,
              "compare.baseline.roc_auc.ci_high": 0.085, "heldout.rows": 900.0, "heldout.positives": 300.0,
              "heldout.negatives": 600.0}
    ids = build_pilot(store, charter, {"good": {**candidate_metrics(0.72), **logged}, "weak": candidate_metrics(0.61)})
    d = promote(charter, store, dry_run=True)
    (gate,) = [g for g in d.gates if g.kind == "vs_baseline"]
    assert d.candidate == "good" and d.outcome == "no-better" and gate.tie and gate.confidence == 0.975
    assert gate.ci_low < 0.033 < gate.ci_high and "97.5 % interval" in gate.reason
    assert any("chosen from good, weak" in n and "on 97.5 % intervals, not 95 %" in n for n in d.notes), d.notes
    from workbench.show.scorecard import render_scorecard

    page = render_scorecard(charter, store, ids["pilot"], d)
    assert "the gates judge the chosen one on 97.5 % intervals" in page and "+0.06 [+0.03" in page
    single = make_charter("single", gates=charter.model_dump()["gates"])
    build_pilot(store, single, {"good": {**candidate_metrics(0.72), **logged}})
    alone = promote(single, store, dry_run=True)
    assert alone.outcome == "go" and [g.confidence for g in alone.gates if g.kind == "vs_baseline"] == [None]


def test_a_candidate_trained_again_on_the_same_inputs_is_already_champion_and_the_audit_holds(store: Store) -> None:
    """`workbench run --force` on an unchanged pilot trains the champion's candidate again: a new
    logged model of the same lineage. Nothing moves, and the record names the model version 1
    holds (the audit compares them), keeping the new run's own model as evidence."""
    charter = make_charter("forced")
    first = build_pilot(store, charter, {"good": candidate_metrics(0.80)}, models=("good",))
    assert promote(charter, store, actor="ann").outcome == "go"
    held = registry.version_model(store.client.get_model_version(charter.promotion.model_name, "1"))
    again = build_pilot(store, charter, {"good": candidate_metrics(0.80)}, models=("good",))  # same cache key
    retrained = store.get_run(again["candidates"]["good"]).outputs.model_outputs[0].model_id
    assert held and retrained != held and again["pilot"] != first["pilot"]
    d = promote(charter, store, actor="ann")
    assert d.outcome == "already-champion" and d.model_version == "1" and d.model_id == held
    assert d.evidence["candidate_model_id"] == retrained
    assert any(f"this run's own model ({retrained}) is not registered" in n for n in d.notes), d.notes
    assert _versions(store, charter) == ["1"] and _alias(store, charter) == "1"
    report = audit(charter, store)
    assert report.ok, [p.what for p in report.errors]
    assert promote(charter, store, actor="ann").outcome == "already-champion"  # not refused as a broken trail


def test_a_go_that_replaces_the_champion_without_a_shown_gain_says_so(store: Store) -> None:
    """A challenger the vs_champion gate let through within its tolerated regression moved the
    alias with "-> version 2 (was 1)", which reads as an improvement; the decision now says it
    was not shown better, by how much, and which setting asks for more. A real gain says nothing."""
    charter = make_charter("refresh")
    build_pilot(store, charter, {"good": candidate_metrics(0.80)}, models=("good",))
    assert promote(charter, store, actor="ann").outcome == "go"
    build_pilot(store, charter, {"other": candidate_metrics(0.795)}, models=("other",))  # another model, a hair worse
    d = promote(charter, store, actor="ann")
    assert d.outcome == "go" and d.alias_before == "1" and d.model_version == "2"
    (note,) = [n for n in d.notes if n.startswith("not shown better")]
    assert note.startswith("not shown better than champion v1 on quality.roc_auc (0.795 against 0.8, point values)")
    assert "tolerates a regression of up to 0.01" in note and "`min_improvement:` in place of" in note
    build_pilot(store, charter, {"third": candidate_metrics(0.83)}, models=("third",))
    better = promote(charter, store, actor="ann")
    assert better.outcome == "go" and not [n for n in better.notes if n.startswith("not shown better")]
    # judged on a paired interval: a gain the interval does not rule out is no gain shown
    assert _champion_notes(0.7, (-0.01, 0.02)) and not _champion_notes(0.7, (0.001, 0.02))


def test_a_go_over_a_constant_todays_rule_says_it_beats_a_guess(store: Store) -> None:
    """The prior, confirmed as today's rule: a GO over it shows a model beats a guess (a ROC
    AUC of 0.5), not the work done today. The baseline run says what it was; the decision says so
    and what to write instead. A rule that answers rows differently says nothing."""
    notes = {}
    for name, constant in (("guess", True), ("rule", False)):
        charter = make_charter(name)
        ids = build_pilot(store, charter, {"good": candidate_metrics(0.80)}, models=("good",))
        store.log_params(ids["baseline"], {"baseline": "the training split's positive rate, 0.2, for every row",
                                           "baseline.constant": constant})
        d = promote(charter, store, actor="ann")
        assert d.outcome == "go", d.summary()
        notes[name] = [n for n in d.notes if n.startswith("today's rule is a constant")]
    (note,) = notes["guess"]
    assert note.startswith("today's rule is a constant (the training split's positive rate, 0.2, for every row)")
    assert "beats a guess" in note and "`baseline:` (`kind: sql` or `group_rate`)" in note
    assert notes["rule"] == []


def test_a_go_on_rows_with_a_known_outcome_says_how_many_had_none(store: Store) -> None:
    """Rows whose target is null are neither trained on nor judged: from 1 % of the rows the
    split drew from, a passing decision says how many, and what the verdict then speaks for."""
    notes = {}
    for name, dropped in (("many", 300), ("few", 10), ("none", None)):
        charter = make_charter(name)
        ids = build_pilot(store, charter, {"good": candidate_metrics(0.80)}, models=("good",))
        if dropped is not None:
            store.log_params(ids["evaluate"], {"split.dropped_null_target": dropped, "split.train_split_rows": 2775,
                                               "split.eval_rows": 925})
        d = promote(charter, store, actor="ann")
        assert d.outcome == "go", d.summary()
        notes[name] = [n for n in d.notes if "have no" in n]
    (note,) = notes["many"]
    assert note.startswith("300 of 4,000 rows (7.5%) have no late value: they were left out of training and of the "
                           "judgement"), note
    assert "the verdict holds for rows whose outcome gets recorded" in note
    assert notes["few"] == [] and notes["none"] == []


def _champion_notes(measured: float, interval: tuple[float, float]) -> list[str]:
    """The notes for a passed vs_champion gate with a paired interval (candidate - champion)."""
    lo, hi = interval
    result = registry.GateResult(name="no_regression", kind="vs_champion", passed=True, reason="",
                                 metric="quality.roc_auc", measured=measured, op=">=",
                                 reference=measured - (lo + hi) / 2, diff=(lo + hi) / 2, ci_low=lo, ci_high=hi)
    return _not_better_notes([result], [ChampionGate(kind="vs_champion", metric="quality.roc_auc", max_regression=0.01,
                                      name="no_regression")], "3")


@pytest.mark.slow  # runs a (one-cell) notebook in a kernel
def test_a_run_of_some_steps_says_it_decides_nothing_and_promote_names_it(tmp_path) -> None:
    from support import STEP_PARAMS, charter_file, cli_here, write_notebook

    write_notebook(tmp_path / "b.ipynb", STEP_PARAMS, "import workbench\n"
                   "s = workbench.session('baseline', run_id=run_id, tracking_uri=tracking_uri, warehouse=warehouse, "
                   "pilot_name=pilot_name)\ns.log_metrics({'quality.roc_auc': 0.6})")
    path = charter_file(tmp_path, "some-steps")
    ran = cli_here("run", "--pilot", str(path), "--step", "baseline")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    said = ran.stdout + ran.stderr
    assert "promote: not evaluated: a run of some steps (baseline) decides nothing" in said, said
    (partial,) = Store(tmp_path).find_runs("some-steps", f"tags.`{TAG['kind']}` = 'pilot'", max_results=10)
    refused = cli_here("promote", "--pilot", str(path))
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0 and f"its newest, {partial.info.run_id}" in said, said
    assert "ran only some steps (`workbench run --step`)" in said and f"workbench run --pilot {path}" in said, said


def test_configurations_earlier_runs_scored_on_the_same_rows_widen_the_intervals(store: Store) -> None:
    """An analyst who tries one setting after another on the same held-out rows, one candidate a
    run, and promotes the best, took as many looks as two candidates in one run: the margin
    that one look clears at 95 % is a tie at 97.5 %. The same setting again is no new look;
    other rows (new fingerprints) start the count again."""
    charter = make_charter("looks", gates=[{"kind": "vs_baseline", "metric": "quality.roc_auc",
                                            "min_relative_improvement": 0.05}])
    logged = {"compare.baseline.roc_auc.diff": 0.06, "compare.baseline.roc_auc.ci_low": 0.035,
              "compare.baseline.roc_auc.ci_high": 0.085, "heldout.rows": 900.0, "heldout.positives": 300.0,
              "heldout.negatives": 600.0}

    def tried(alpha: float, rows: str = "fp-1") -> dict:
        ids = build_pilot(store, charter, {"good": {**candidate_metrics(0.72), **logged}})
        store.set_tags(ids["evaluate"], {"workbench.fingerprint.flights": rows})  # as the runner tags a step
        store.log_params(ids["evaluate"], {"split.kind": "random", "split.seed": 0, "split.train_rows": 2700})
        store.log_params(ids["candidates"]["good"], {"estimator": "sklearn.linear_model.LogisticRegression",
                                                     "param.C": alpha})
        return ids

    tried(1.0)
    first = promote(charter, store, dry_run=True)
    assert first.outcome == "go" and [g.confidence for g in first.gates if g.kind == "vs_baseline"] == [None]
    tried(0.5)
    second = promote(charter, store, dry_run=True)
    (gate,) = [g for g in second.gates if g.kind == "vs_baseline"]
    assert second.outcome == "no-better" and gate.tie and gate.confidence == 0.975
    assert any("judged against today's rule and the champion on 97.5 % intervals" in n
               and "(1 in this run, 1 other configuration(s) in other runs)" in n for n in second.notes), second.notes
    tried(0.5)  # the same setting again: no new look
    assert [g.confidence for g in promote(charter, store, dry_run=True).gates if g.kind == "vs_baseline"] == [0.975]
    ids = tried(0.25, rows="fp-2")  # new rows: the looks at the old ones do not count
    fresh = promote(charter, store, dry_run=True)
    assert fresh.outcome == "go" and fresh.pilot_run_id == ids["pilot"]
    from workbench.show.scorecard import render_scorecard

    tried(0.1, rows="fp-2")
    d = promote(charter, store, actor="ann")
    assert d.evidence["earlier_configurations"] == 1
    page = render_scorecard(charter, store, d.pilot_run_id, d)
    assert "With 2 candidates scored on these rows (1 in this run, 1 other configuration(s) in other runs)" in page


def test_a_gate_eased_after_it_held_a_candidate_back_is_named_in_the_decision(store: Store) -> None:
    """A 10 % margin over today's rule held the candidate back (NO BETTER); the owner lowered it to
    5 % and the same evidence went to GO, with nothing in the record to say the bar had moved after
    the result was seen. Now the decision names it, and a gate removed after failing too; the same
    bar, or new data, says nothing."""
    from workbench.show.scorecard import render_scorecard

    logged = {"compare.baseline.roc_auc.diff": 0.06, "compare.baseline.roc_auc.ci_low": 0.035,
              "compare.baseline.roc_auc.ci_high": 0.085, "heldout.rows": 900.0, "heldout.positives": 300.0,
              "heldout.negatives": 600.0}
    latency = {"name": "p95_latency", "kind": "threshold", "metric": "latency.p95_ms", "op": "<=", "value": 100}

    def decided(margin: float, *, rows: str = "fp-1", budget: float | None = 100, actor: str = "ann"):
        charter = make_charter("eased", gates=[{"name": "beats_todays_rule", "kind": "vs_baseline",
                                                "metric": "quality.roc_auc", "min_relative_improvement": margin},
                                               *([{**latency, "value": budget}] if budget else [])])
        ids = build_pilot(store, charter, {"good": {**candidate_metrics(0.72), **logged, "latency.p95_ms": 120.0}},
                          models=("good",))
        store.set_tags(ids["pilot"], {"workbench.fingerprint.flights": rows})
        store.set_tags(ids["evaluate"], {"workbench.fingerprint.flights": rows})
        return charter, promote(charter, store, actor=actor)

    _, held = decided(0.10, budget=100)
    assert held.outcome == "no-go" and not any("asks less" in n for n in held.notes), held.notes
    _, again = decided(0.10, budget=100)  # the same bars: nothing eased
    assert not any("asks less" in n or "is gone" in n for n in again.notes), again.notes
    charter, eased = decided(0.05, budget=None)
    assert eased.outcome == "go", [g.reason for g in eased.gates]
    (margin,) = [n for n in eased.notes if n.startswith("gate 'beats_todays_rule' asks less than when it held "
                                                         "candidate 'good' back on these tables (no-go, ")]
    assert "10.00% over today's rule then, 5.00% over today's rule now" in margin
    assert "a bar lowered once its result was seen was not set beforehand" in margin
    assert any(n.startswith("gate 'p95_latency' is gone, which held candidate 'good' back on these tables")
               for n in eased.notes), eased.notes
    page = render_scorecard(charter, store, eased.pilot_run_id, eased)
    assert "Note: gate &#x27;beats_todays_rule&#x27; asks less than" in page or "asks less than when it held" in page
    _, fresh = decided(0.05, rows="fp-2", budget=None)  # new data: judged afresh
    assert not any("asks less" in n or "is gone" in n for n in fresh.notes), fresh.notes


def test_todays_rule_weakened_after_it_held_a_candidate_back_is_named_in_the_decision(store: Store) -> None:
    """A 10 % margin over today's rule held the candidate back; the owner swapped today's rule for a
    weaker one (its overall rate instead of its rate per group) and the same candidate cleared the
    same margin, with nothing in the record to say the reference had moved after the result was
    seen. Now the decision names it; the same rule again, another split or new data say nothing."""
    from workbench.show.scorecard import render_scorecard

    charter = make_charter("weakened", gates=[{"name": "beats_todays_rule", "kind": "vs_baseline",
                                               "metric": "quality.roc_auc", "min_relative_improvement": 0.10}])
    per_group, overall = "the training split's rate per (carrier, origin)", "the training split's overall rate"

    def decided(rule_auc: float, rule: str, *, seed: int = 0, rows: str = "fp-1"):
        diff = 0.72 - rule_auc
        ids = build_pilot(store, charter, {"good": {
            **candidate_metrics(0.72), "compare.baseline.roc_auc.diff": diff, "heldout.rows": 900.0,
            "compare.baseline.roc_auc.ci_low": diff - 0.025, "compare.baseline.roc_auc.ci_high": diff + 0.025,
            "heldout.positives": 300.0, "heldout.negatives": 600.0}}, models=("good",),
            baseline=candidate_metrics(rule_auc))
        store.log_params(ids["baseline"], {"baseline": rule, "split.kind": "random", "split.seed": seed})
        for role in ("pilot", "evaluate"):
            store.set_tags(ids[role], {"workbench.fingerprint.flights": rows})
        return promote(charter, store, actor="ann")

    def named(decision) -> list[str]:
        return [n for n in decision.notes if n.startswith("today's rule, the reference of gate")]

    held = decided(0.66, per_group)
    assert held.outcome == "no-better" and not named(held), held.notes
    again = decided(0.66, per_group)  # the same rule, run again: nothing weakened
    assert again.outcome == "no-better" and not named(again), again.notes
    weak = decided(0.60, overall)
    assert weak.outcome == "go", [g.reason for g in weak.gates]
    (note,) = named(weak)
    assert note.startswith("today's rule, the reference of gate 'beats_todays_rule', scores less than when that "
                           "gate held candidate 'good' back on these tables (no-better, "), note
    assert f"quality.roc_auc 0.66 then, 0.6 now, on the same split; its rule then: {per_group}; now: {overall}" \
        in note
    page = render_scorecard(charter, store, weak.pilot_run_id, weak)
    assert "scores less than when that gate held candidate" in page
    assert not named(decided(0.60, overall, seed=1))  # another split: other rows, counted as a look instead
    assert not named(decided(0.60, overall, rows="fp-2"))  # new data: judged afresh


def test_a_split_tried_after_another_on_the_same_tables_is_a_look_too(store: Store) -> None:
    """The same model judged on one seed's held-out rows, then on another's, until one passes:
    each split was a look, and the pilot that passed on the second seed went to GO as if it were
    the first. Now the configurations other runs scored on other splits of the same tables
    widen the interval as the ones on the same rows do; so do other feature sets on the same
    rows; new data (other fingerprints) starts afresh."""
    from workbench.show.scorecard import render_scorecard

    charter = make_charter("resplit", gates=[{"kind": "vs_baseline", "metric": "quality.roc_auc",
                                              "min_relative_improvement": 0.05}])
    logged = {"compare.baseline.roc_auc.diff": 0.06, "compare.baseline.roc_auc.ci_low": 0.035,
              "compare.baseline.roc_auc.ci_high": 0.085, "heldout.rows": 900.0, "heldout.positives": 300.0,
              "heldout.negatives": 600.0}

    def tried(seed: int, rows: str = "fp-1", features: str = "distance, hour") -> dict:
        ids = build_pilot(store, charter, {"good": {**candidate_metrics(0.72), **logged}})
        store.set_tags(ids["evaluate"], {"workbench.fingerprint.flights": rows})
        store.log_params(ids["evaluate"], {"split.kind": "random", "split.seed": seed, "split.train_rows": 2700,
                                           "features.numeric": features})
        store.log_params(ids["candidates"]["good"], {"estimator": "sklearn.linear_model.LogisticRegression",
                                                     "param.C": 1.0})
        return ids

    tried(seed=0)
    assert promote(charter, store, dry_run=True).outcome == "go"
    tried(seed=1)  # the same model on another seed's rows
    second = promote(charter, store, dry_run=True)
    (gate,) = [g for g in second.gates if g.kind == "vs_baseline"]
    assert second.outcome == "no-better" and gate.tie and gate.confidence == 0.975, gate.reason
    assert "widened for the 2 candidates scored on these rows and on other splits of the same tables" in gate.reason
    assert any("as one of 2 candidates scored on held-out rows of these tables (1 in this run, 1 on other splits "
               "of the same tables, each a look as well)" in n for n in second.notes), second.notes
    tried(seed=1, features="distance")  # another feature set on the same rows: another configuration
    third = promote(charter, store, dry_run=True)
    assert [g.confidence for g in third.gates if g.kind == "vs_baseline"] == [pytest.approx(1 - 0.05 / 3)]
    assert any("(1 in this run, 1 other configuration(s) in other runs, 1 on other splits" in n
               for n in third.notes), third.notes
    tried(seed=2, rows="fp-2")  # new data: the looks at the old tables do not count
    assert promote(charter, store, dry_run=True).outcome == "go"
    tried(seed=3, rows="fp-2")
    d = promote(charter, store, actor="ann")
    assert d.outcome == "no-better" and d.evidence["other_splits"] == 1 and "earlier_configurations" not in d.evidence
    page = render_scorecard(charter, store, d.pilot_run_id, d)
    assert "With 2 candidates scored on held-out rows of these tables (1 in this run, 1 on other splits" in page


def test_the_best_candidate_failing_a_gate_of_its_own_gives_way_to_the_best_that_passes(store: Store) -> None:
    """BEPS (carData): a boosted model led the primary metric by 0.007, inside any interval, but
    its probabilities were worse than the prior's, and the pilot ended NO BETTER THAN TODAY while
    the logistic regression passed every gate. The best of those that pass their own gates is
    judged (the intervals are already widened for every candidate); a gate all candidates share
    (the production plan) does not pass anyone over; a named candidate is judged as named."""
    charter = make_charter("passover")
    slow = {**candidate_metrics(0.82), "latency.p95_ms": 80.0}  # over the 50 ms threshold
    ids = build_pilot(store, charter, {"boost": slow, "lr": candidate_metrics(0.80)}, models=("lr",))
    d = promote(charter, store, actor="ann")
    assert (d.candidate, d.outcome, d.candidate_run_id) == ("lr", "go", ids["candidates"]["lr"])
    (note,) = [n for n in d.notes if "chosen from boost, lr" in n]
    assert "the best on quality.roc_auc of those that pass their own gates: 'boost' scored 0.82 but failed" in note
    assert "latency" in note.split("but failed")[1], note
    record = json.loads(store.download_text(d.decision_run_id, DECISION_ARTIFACT))
    assert record["candidate"] == "lr" and "'boost' scored 0.82" in record["evidence"]["passed_over"]

    # both fail a gate of their own: the best on the primary metric is judged, as before
    both = make_charter("passover-both")
    build_pilot(store, both, {"boost": slow, "lr": {**candidate_metrics(0.80), "probes.crashed": 2.0}})
    held = promote(both, store, dry_run=True)
    assert (held.candidate, held.outcome) == ("boost", "no-go")
    assert not [n for n in held.notes if "pass their own gates" in n]
    # a shared gate fails for all alike (no production plan): no candidate is passed over for it
    planless = Charter.model_validate({**make_charter("passover-plan").model_dump(), "production": None})
    build_pilot(store, planless, {"boost": candidate_metrics(0.82), "lr": candidate_metrics(0.80)})
    shared = promote(planless, store, dry_run=True)
    assert shared.candidate == "boost" and [g.kind for g in shared.failing] == ["production_plan"]
    # a leak the best one's near-perfect score gives away is no way around to a weaker candidate
    leaky = make_charter("passover-leak")
    build_pilot(store, leaky, {"boost": {**slow, "quality.roc_auc": 0.999}, "lr": candidate_metrics(0.80)})
    kept = promote(leaky, store, dry_run=True)
    assert (kept.candidate, kept.outcome) == ("boost", "no-go")
    assert {g.kind for g in kept.failing} == {"leakage", "threshold"}, kept.failing
    # named in the charter: judged as named, whatever it fails
    named = make_charter("passover-named", candidate="boost")
    build_pilot(store, named, {"boost": slow, "lr": candidate_metrics(0.80)})
    assert promote(named, store, dry_run=True).candidate == "boost"
