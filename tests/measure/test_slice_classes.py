"""A slice with few rows of a class cannot show a candidate is not worse there, only that it is:
the slices gate judges such a *thin* slice for clear harm only (modeldata's stackoverflow: NO-GO
on India's 11 positives in 138 rows, ROC AUC interval [-0.11, +0.22] around a better candidate),
and still fails a candidate that is surely worse in it, or a well-filled slice that may be worse."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.charter.config import SlicesGate, Task
from workbench.decide.promotion import slices_gate
from workbench.measure.modeling import HeldOut, compare, score_rows
from workbench.measure.stats import MIN_PER_CLASS

GATE = SlicesGate(name="no_slice_regression", kind="slices", metric="quality.roc_auc", margin=0.05, min_rows=100)
TASK = Task(kind="classification", target="y", positive_label=1)


def _compare(frame: pd.DataFrame) -> dict:
    held = HeldOut.from_frame(frame)

    def scored(col: str):
        model = type("M", (), {"score": lambda self, X: frame.loc[X.index, col].to_numpy()})()
        return score_rows(model, held, features=["x"], target="y", keep=["region"],
                          truth=lambda v: np.asarray(v, dtype=int), binary=True)

    return compare(scored("cand"), scored("ref"), task=TASK, candidate_name="c", slice_columns=["region"],
                   slice_metrics=["roc_auc"], min_slice_rows=100).to_dict()


def _frame(rare_positives: int, *, worse_in_rare: bool, rare_rows: int = 150, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    region = np.array(["big"] * 1000 + ["rare"] * rare_rows)
    y = np.concatenate([rng.random(1000) < 0.3, np.arange(rare_rows) < rare_positives]).astype(int)
    good = np.clip(y * 0.4 + rng.random(len(y)) * 0.6, 0, 1)  # separates the classes well
    fair = np.clip(y * 0.15 + rng.random(len(y)) * 0.85, 0, 1)  # separates them a little
    cand, ref = good.copy(), fair.copy()
    if worse_in_rare:  # the candidate ranks the rare region's rows backwards, the reference well
        rare = region == "rare"
        cand[rare], ref[rare] = 1 - good[rare], good[rare]
    return pd.DataFrame({"region": region, "y": y, "x": 0.0, "cand": cand, "ref": ref})


def _slice(found: dict, key: str) -> dict:
    return next(e for e in found["slices"] if e["key"] == key)


def test_a_thin_slice_is_judged_for_clear_harm_only() -> None:
    found = _compare(_frame(12, worse_in_rare=False))
    rare = _slice(found, "region.rare")
    assert rare["smallest_class"] == 12 and rare["diff"] is not None  # measured, its interval wide
    assert _slice(found, "region.big")["smallest_class"] >= MIN_PER_CLASS
    result = slices_gate(GATE, {}, champion=None, champion_version=None, baseline={}, comparison=found)
    assert result.passed, result.reason
    assert "1 of them with fewer than 30 rows of a class, judged only for clear harm" in result.reason
    assert (f"judged only for clear harm (fewer than {MIN_PER_CLASS} rows of a class): "
            "region.rare (12 of its rarest class, 150 rows)") in result.details


def test_a_thin_slice_where_the_candidate_is_surely_worse_still_fails() -> None:
    found = _compare(_frame(12, worse_in_rare=True))
    rare = _slice(found, "region.rare")
    assert rare["ci_high"] < -GATE.margin  # its whole interval beyond the margin
    result = slices_gate(GATE, {}, champion=None, champion_version=None, baseline={}, comparison=found)
    assert not result.passed
    assert result.details[0].startswith("region.rare: difference -")


def test_a_well_filled_slice_that_may_be_worse_fails_as_before() -> None:
    # 60 positives in 150 rows: enough of each class, so the candidate must show it is not worse
    frame = _frame(60, worse_in_rare=False, seed=7)
    rare = (frame["region"] == "rare").to_numpy()
    frame.loc[rare, "cand"] = frame.loc[rare, "ref"] * 0.6 + np.random.default_rng(1).random(rare.sum()) * 0.4
    found = _compare(frame)
    entry = _slice(found, "region.rare")
    assert entry["smallest_class"] >= MIN_PER_CLASS and entry["ci_low"] < -GATE.margin < entry["ci_high"]
    result = slices_gate(GATE, {}, champion=None, champion_version=None, baseline={}, comparison=found)
    assert not result.passed and "region.rare" in result.details[0]


def test_when_every_slice_is_thin_a_better_candidate_passes_on_them() -> None:
    # a small pilot (the browser suite's: ~100 held-out rows a slice): no slice holds 30 of each class
    rng = np.random.default_rng(3)
    region = np.repeat(["a", "b", "c"], 120)
    y = (rng.random(360) < 0.15).astype(int)
    good = np.clip(y * 0.5 + rng.random(360) * 0.5, 0, 1)
    frame = pd.DataFrame({"region": region, "y": y, "x": 0.0, "cand": good, "ref": rng.random(360)})
    found = _compare(frame)
    assert all(e["smallest_class"] < MIN_PER_CLASS for e in found["slices"])
    result = slices_gate(GATE, {}, champion=None, champion_version=None, baseline={}, comparison=found)
    assert result.passed, result.reason
    assert "3 of them with fewer than 30 rows of a class" in result.reason
