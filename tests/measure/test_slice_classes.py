"""A slice is judged on the evidence the sample-size gate asks of the whole pilot: a class of
a few rows in it is listed, not gated (modeldata's taxi and stackoverflow: NO-GO on slices of
27 and 14 positives, whose ROC AUC intervals spanned ± 0.12-0.17 around a better candidate)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.charter.config import SlicesGate, Task
from workbench.decide.promotion import slices_gate
from workbench.measure.modeling import HeldOut, compare, score_rows
from workbench.measure.stats import MIN_PER_CLASS


def test_a_slice_with_too_few_of_a_class_is_listed_not_gated() -> None:
    rng = np.random.default_rng(4)
    region = np.array(["big"] * 1000 + ["rare"] * 150)
    y = np.concatenate([rng.random(1000) < 0.3, np.arange(150) < 12]).astype(int)
    frame = pd.DataFrame({"region": region, "y": y, "good": np.clip(y * 0.4 + rng.random(1150) * 0.6, 0, 1),
                          "prior": np.full(1150, y.mean())})
    held = HeldOut.from_frame(frame)

    def scored(col: str):
        model = type("M", (), {"score": lambda self, X: frame.loc[X.index, col].to_numpy()})()
        return score_rows(model, held, features=["good"], target="y", keep=["region"],
                          truth=lambda v: np.asarray(v, dtype=int), binary=True)

    task = Task(kind="classification", target="y", positive_label=1)
    found = compare(scored("good"), scored("prior"), task=task, candidate_name="c", slice_columns=["region"],
                    slice_metrics=["roc_auc"], min_slice_rows=100).to_dict()
    by_key = {e["key"]: e for e in found["slices"]}
    assert by_key["region.big"].get("diff") is not None
    assert "diff" not in by_key["region.rare"] or by_key["region.rare"]["diff"] is None
    assert by_key["region.rare"]["reason"] == f"12 positive, 138 negative: under {MIN_PER_CLASS} of a class"
    gate = SlicesGate(name="no_slice_regression", kind="slices", metric="quality.roc_auc", margin=0.05, min_rows=100)
    result = slices_gate(gate, {}, champion=None, champion_version=None, baseline={}, comparison=found)
    assert result.passed, result.reason
    assert "not compared (no interval): region.rare (12 positive, 138 negative: under 30 of a class)" in result.details
