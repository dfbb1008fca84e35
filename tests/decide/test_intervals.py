"""Gates judged on paired 95 % intervals, the sample-size gate and the tie outcome, on
hand-built evidence (the comparison JSON a candidate run logs)."""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.charter.config import BaselineGate, ChampionGate, SampleSizeGate, SlicesGate, ThresholdGate
from workbench.decide.promotion import (
    NO_BETTER,
    NO_GO,
    GO,
    Evidence,
    GateResult,
    baseline_gate,
    champion_gate,
    evaluate_gates,
    outcome_of_gates,
    sample_size_gate,
    slices_gate,
    with_sample_size,
)
from workbench.decide.registry import Decision
from workbench.errors import EXIT_NO_GO
from workbench.formatting import outcome_label
from workbench.measure import stats
from workbench.steps.runner import outcome_of

AUC = BaselineGate(kind="vs_baseline", metric="quality.roc_auc", min_relative_improvement=0.05)


def _cmp(diff: float, lo: float, hi: float, *, metric: str = "quality.roc_auc", label: str = "today's rule",
         slices: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"reference_label": label, "metrics": {metric: {"diff": diff, "ci_low": lo, "ci_high": hi, "n": 900,
                                                           "method": "delong"}},
            "slices": slices or []}


def test_baseline_gate_needs_the_lower_bound_above_the_margin() -> None:
    cand, base = {"quality.roc_auc": 0.76}, {"quality.roc_auc": 0.70}  # margin 0.05 * 0.70 = 0.035
    clear = baseline_gate(AUC, cand, base, comparison=_cmp(0.06, 0.04, 0.08))
    assert clear.passed and not clear.tie and (clear.diff, clear.ci_low, clear.ci_high) == (0.06, 0.04, 0.08)
    assert "[+0.04, +0.08]" in clear.reason and "0.035" in clear.reason
    # the same point difference, but the interval holds the margin: a tie, not a pass
    tie = baseline_gate(AUC, cand, base, comparison=_cmp(0.06, 0.02, 0.10))
    assert not tie.passed and tie.tie and "no better than today" in tie.reason
    short = baseline_gate(AUC, cand, base, comparison=_cmp(0.02, 0.01, 0.03))  # surely better, by too little
    assert not short.passed and not short.tie and "falls short" in short.reason
    worse = baseline_gate(AUC, cand, base, comparison=_cmp(-0.03, -0.05, -0.01))
    assert not worse.passed and not worse.tie and "worse than today's rule" in worse.reason
    same = baseline_gate(AUC, cand, base, comparison=_cmp(0.0, 0.0, 0.0))  # an equal candidate
    assert same.tie


def test_baseline_gate_lower_is_better_turns_the_interval() -> None:
    gate = BaselineGate(kind="vs_baseline", metric="quality.brier", min_relative_improvement=0.0)
    cand, base = {"quality.brier": 0.15}, {"quality.brier": 0.20}
    better = baseline_gate(gate, cand, base, comparison=_cmp(-0.05, -0.07, -0.03, metric="quality.brier"))
    assert better.passed
    noisy = baseline_gate(gate, cand, base, comparison=_cmp(-0.05, -0.09, 0.01, metric="quality.brier"))
    assert noisy.tie and not noisy.passed
    # the reason names the bound that decides, in the metric's own terms: the upper one when lower
    # is better (a reader holding "lower bound below -m" against [-0.64, +0.17] would see a pass);
    # zero and the margin both inside: the rows cannot tell the two apart, the stronger statement
    margin = BaselineGate(kind="vs_baseline", metric="quality.mae", min_relative_improvement=0.05)
    wide = baseline_gate(margin, {"quality.mae": 1.89}, {"quality.mae": 2.12},
                         comparison=_cmp(-0.23, -0.64, 0.17, metric="quality.mae"))
    assert wide.tie and "the interval's upper bound below -0.106" in wide.reason
    assert "lower bound" not in wide.reason and "the rows cannot tell them apart" in wide.reason
    inside = baseline_gate(margin, {"quality.mae": 1.89}, {"quality.mae": 2.12},
                           comparison=_cmp(-0.23, -0.40, -0.05, metric="quality.mae"))
    assert inside.tie and "the margin lies inside the interval" in inside.reason
    higher = baseline_gate(AUC, {"quality.roc_auc": 0.76}, {"quality.roc_auc": 0.70}, comparison=_cmp(0.06, 0.02, 0.10))
    assert "the interval's lower bound above +0.035" in higher.reason


def test_without_an_interval_the_point_values_decide_and_the_reason_says_so() -> None:
    res = baseline_gate(AUC, {"quality.roc_auc": 0.76}, {"quality.roc_auc": 0.70})
    assert res.passed and "judged on the point values alone" in res.reason and res.ci_low is None
    # the logged compare.* metrics stand in for a missing JSON
    logged = {"quality.roc_auc": 0.76, "compare.baseline.roc_auc.diff": 0.06,
              "compare.baseline.roc_auc.ci_low": 0.02, "compare.baseline.roc_auc.ci_high": 0.10}
    assert baseline_gate(AUC, logged, {"quality.roc_auc": 0.70}).tie


def test_champion_gate_on_the_interval_of_the_same_version_only() -> None:
    gate = ChampionGate(kind="vs_champion", metric="quality.roc_auc", max_regression=0.01)
    cand, champ = {"quality.roc_auc": 0.80}, {"quality.roc_auc": 0.80}
    same = champion_gate(gate, cand, champ, champion_version="3", comparison=_cmp(0.0, 0.0, 0.0, label="champion v3"))
    assert same.passed and same.ci_low == 0.0
    risky = champion_gate(gate, cand, champ, champion_version="3",
                          comparison=_cmp(0.0, -0.03, 0.03, label="champion v3"))
    assert not risky.passed and "cannot be ruled out" in risky.reason
    assert "it reaches 0.03 worse" in risky.reason  # how much worse, not a signed "+0.03 worse"
    stale = champion_gate(gate, cand, champ, champion_version="4",
                          comparison=_cmp(0.0, -0.03, 0.03, label="champion v3"))
    assert stale.passed and "not v4" in stale.reason and "point values" in stale.reason


def _slice(key: str, rows: int, diff: float | None, lo: float | None = None, hi: float | None = None) -> dict:
    entry: dict[str, Any] = {"column": key.split(".")[0], "value": key.split(".")[1], "key": key, "rows": rows,
                             "metric": "roc_auc", "reason": ""}
    if diff is not None:
        entry.update(diff=diff, ci_low=lo, ci_high=hi)
    return entry


def test_slices_gate_judges_every_slice_with_enough_rows_worst_first() -> None:
    gate = SlicesGate(kind="slices", metric="quality.roc_auc", margin=0.05, min_rows=200)
    slices = [_slice(f"carrier.C{i}", 1000 + i, 0.02, 0.0, 0.04) for i in range(30)]  # 30 slices: more than 20
    slices += [_slice("carrier.BAD", 300, -0.02, -0.12, 0.08), _slice("carrier.WORSE", 250, -0.10, -0.2, 0.0),
               _slice("carrier.TINY", 12, None)]
    res = slices_gate(gate, {}, champion=None, champion_version=None, baseline={},
                      comparison=_cmp(0.0, 0.0, 0.0, slices=slices))
    assert not res.passed and "2 of 32 slice(s)" in res.reason
    assert res.details[0].startswith("carrier.WORSE") and res.details[1].startswith("carrier.BAD")
    assert "carrier.TINY (12)" in res.details[-1]
    ok = slices_gate(gate, {}, champion=None, champion_version=None, baseline={},
                     comparison=_cmp(0.0, 0.0, 0.0, slices=slices[:30]))
    assert ok.passed and "0 of 30" in ok.reason


def test_sample_size_gate_says_how_many_more_rows() -> None:
    gate = SampleSizeGate(kind="sample_size")
    assert (gate.min_rows, gate.min_per_class) == (stats.MIN_ROWS, stats.MIN_PER_CLASS)
    small = sample_size_gate(gate, {"heldout.rows": 45, "heldout.positives": 9, "heldout.negatives": 36},
                             task_kind="classification")
    assert not small.passed
    assert "45 held-out row(s), at least 100 needed: 55 more" in small.reason
    assert "9 positive row(s), at least 30 needed: 21 more" in small.reason
    enough = sample_size_gate(gate, {"heldout.rows": 900, "heldout.positives": 90, "heldout.negatives": 810},
                              task_kind="classification")
    assert enough.passed and "900 held-out rows" in enough.reason
    lowered = SampleSizeGate(kind="sample_size", min_rows=40, min_per_class=5)
    assert sample_size_gate(lowered, {"heldout.rows": 45, "heldout.positives": 9, "heldout.negatives": 36}).passed
    # a custom notebook that logs no counts: the default gate says it could not check, a declared one fails
    assert sample_size_gate(gate, {}, declared=False).passed
    assert not sample_size_gate(gate, {}).passed


def test_after_a_group_split_the_sample_size_gate_counts_the_groups_too() -> None:
    """900 visits of 25 patients are 25 pieces of evidence on the patient's own traits: the gate
    asks for 30 held-out groups (``min_groups``) beside the rows; without a group split
    (no ``heldout.groups``) nothing changes."""
    gate = SampleSizeGate(kind="sample_size")
    assert gate.min_groups == stats.MIN_GROUPS == 30
    counts = {"heldout.rows": 900, "heldout.positives": 270, "heldout.negatives": 630}
    few = sample_size_gate(gate, {**counts, "heldout.groups": 25}, task_kind="classification")
    assert not few.passed
    assert "900 held-out rows in 25 groups of the group split's column: 5 more group(s) needed" in few.reason
    assert "in at least 30 groups" in few.reason and "min_groups: ..." in few.reason
    enough = sample_size_gate(gate, {**counts, "heldout.groups": 40}, task_kind="classification")
    assert enough.passed and "(270 positive, 630 negative) in 40 groups" in enough.reason
    lowered = SampleSizeGate(kind="sample_size", min_groups=20)
    assert sample_size_gate(lowered, {**counts, "heldout.groups": 25}, task_kind="classification").passed
    rows_only = sample_size_gate(gate, counts, task_kind="classification")
    assert rows_only.passed and "groups" not in rows_only.reason
    # the comparison names its unit (a group split's column, or `split.cluster`): the gate says it
    named = sample_size_gate(gate, {**counts, "heldout.groups": 25}, task_kind="classification",
                             grouped_by="customer_id")
    assert "900 held-out rows in 25 groups of customer_id: 5 more" in named.reason
    named = sample_size_gate(gate, {**counts, "heldout.groups": 40}, task_kind="classification",
                             grouped_by="customer_id")
    assert named.passed and "in 40 groups of customer_id" in named.reason


def test_a_tie_is_its_own_outcome_with_exit_3() -> None:
    tie = GateResult(name="beats", kind="vs_baseline", passed=False, reason="inside", tie=True)
    fail = GateResult(name="floor", kind="threshold", passed=False, reason="below")
    ok = GateResult(name="ok", kind="probes", passed=True, reason="fine")
    assert outcome_of_gates([ok]) == GO
    assert outcome_of_gates([ok, tie]) == NO_BETTER
    assert outcome_of_gates([ok, tie, fail]) == NO_GO
    d = Decision(outcome=NO_BETTER, pilot="p", model_name="m", alias="champion", actor="a", timestamp="t",
                 gates=(ok, tie), candidate="c")
    assert d.exit_code == EXIT_NO_GO and not d.passed
    assert d.summary().startswith("NO BETTER THAN TODAY") and "TIE beats" in d.summary()
    assert outcome_label(NO_BETTER) == "NO BETTER THAN TODAY"
    assert outcome_of(d) == ("NO BETTER THAN TODAY", EXIT_NO_GO)


def test_evidence_with_few_rows_and_an_equal_candidate() -> None:
    """Hand-built evidence through evaluate_gates: 45 rows fail the default sample-size gate;
    a candidate whose scores equal the baseline's is a tie on the vs_baseline gate."""
    y = np.r_[np.ones(100), np.zeros(800)]
    scores = np.random.default_rng(0).random(900) * 0.5 + 0.3 * y
    d = stats.paired_difference("roc_auc", y, scores, scores)
    metrics = {"quality.roc_auc": d.candidate, "heldout.rows": 900, "heldout.positives": 100,
               "heldout.negatives": 800}
    ev = Evidence(candidate="same", candidate_run_id="c", candidate_metrics=metrics, baseline_run_id="b",
                  baseline_metrics={"quality.roc_auc": d.reference}, task_kind="classification",
                  comparisons={"baseline": {"reference_label": "today's rule",
                                            "metrics": {"quality.roc_auc": d.to_dict()}}})
    gates = evaluate_gates(with_sample_size([AUC]), ev)
    assert [g.kind for g in gates] == ["vs_baseline", "sample_size"]
    assert gates[0].tie and gates[1].passed and outcome_of_gates(gates) == NO_BETTER
    few = Evidence(candidate="x", candidate_run_id="c", candidate_metrics={**metrics, "heldout.rows": 45,
                                                                          "heldout.positives": 5,
                                                                          "heldout.negatives": 40},
                   task_kind="classification")
    size = evaluate_gates(with_sample_size([ThresholdGate(kind="threshold", metric="quality.roc_auc", op=">=",
                                                          value=0.5)]), few)
    assert size[0].passed and not size[1].passed and outcome_of_gates(size) == NO_GO
    assert "at least 100" in size[1].reason


def test_the_best_of_several_candidates_is_judged_on_a_wider_interval() -> None:
    """Three candidates scored on the same rows: the one judged gets a 98.3 % interval
    (Bonferroni), so a lower bound that clears the margin at 95 % may no longer; one
    candidate keeps its 95 % interval. The record and the reason say which."""
    cmp = _cmp(0.06, 0.037, 0.083)  # margin 0.05 * 0.70 = 0.035: cleared at 95 %, by 0.002
    metrics = {"quality.roc_auc": 0.76, "heldout.rows": 900, "heldout.positives": 300, "heldout.negatives": 600}

    def gates(candidates: dict[str, str]) -> tuple[GateResult, ...]:
        ev = Evidence(candidate="a", candidate_run_id="c", candidate_metrics=metrics, baseline_run_id="b",
                      baseline_metrics={"quality.roc_auc": 0.70}, task_kind="classification",
                      candidates=candidates, comparisons={"baseline": cmp})
        return evaluate_gates([AUC], ev)

    (alone,) = gates({"a": "c"})
    assert alone.passed and alone.confidence is None and (alone.ci_low, alone.ci_high) == (0.037, 0.083)
    assert "95 % interval" in alone.reason and "Bonferroni" not in alone.reason
    (best,) = gates({"a": "c", "b": "d", "e": "f"})
    assert not best.passed and best.tie and abs(best.confidence - (1 - 0.05 / 3)) < 1e-12
    assert best.ci_low < 0.035 < 0.06 < 0.083 < best.ci_high
    assert "98.3 % interval" in best.reason and "for the 3 candidates scored on these rows" in best.reason
    assert GateResult.from_dict(best.to_dict()) == best  # the record keeps the confidence


def test_a_widened_delong_interval_is_delongs_own_at_that_confidence() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=700)
    y = (rng.random(700) < 1 / (1 + np.exp(-x))).astype(int)
    cand, ref = x + rng.normal(size=700), x + rng.normal(scale=1.3, size=700)
    d95 = stats.delong_auc_diff(y, cand, ref)
    for k in (2, 3, 8):
        wide = stats.among_candidates(d95.to_dict(), k)
        own = stats.delong_auc_diff(y, cand, ref, confidence=1 - 0.05 / k)
        assert abs(wide["ci_low"] - own.ci_low) < 1e-12 and abs(wide["ci_high"] - own.ci_high) < 1e-12, k
    assert stats.among_candidates(d95.to_dict(), 1) == d95.to_dict()
    # a skewed bootstrap interval: each side grows, neither shrinks, even with the point outside it
    skewed = {"diff": 0.01, "ci_low": 0.012, "ci_high": 0.05, "confidence": 0.95}
    wide = stats.among_candidates(skewed, 4)
    assert wide["ci_low"] <= 0.012 and wide["ci_high"] > 0.05 and wide["confidence"] == 1 - 0.05 / 4


def test_widening_for_several_candidates_imports_no_scipy_stats() -> None:
    """The decision is made in the command's own process, where importing scipy.stats for one
    normal quantile took 0.8 s of every `workbench run` that judged several candidates."""
    import subprocess
    import sys

    code = ("import sys; from workbench.measure import stats; "
            "w = stats.among_candidates({'diff': 0.02, 'ci_low': 0.01, 'ci_high': 0.03, 'confidence': 0.95}, 3); "
            "assert w['ci_low'] < 0.01 and 'scipy.stats' not in sys.modules, sorted(sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_picking_the_best_of_equal_candidates_no_longer_beats_today_by_chance() -> None:
    """Candidates as good as today's rule in truth, the best of eight kept: its plain 95 %
    interval clears zero several times as often as one candidate's would; widened for the
    eight, no more often than a single candidate's does."""
    rng = np.random.default_rng(1)
    plain = widened = single = 0
    trials = 300
    for _ in range(trials):
        x = rng.normal(size=800)
        y = (rng.random(800) < 1 / (1 + np.exp(-1.2 * x))).astype(int)
        base = x + rng.normal(size=800)
        diffs = [stats.delong_auc_diff(y, x + rng.normal(size=800), base) for _ in range(8)]
        best = max(diffs, key=lambda d: d.candidate)
        plain += best.ci_low > 0
        widened += stats.among_candidates(best.to_dict(), 8)["ci_low"] > 0
        single += diffs[0].ci_low > 0
    assert plain >= 3 * max(single, 5), (plain, single)
    assert widened <= max(single, 0.03 * trials), (widened, single)
