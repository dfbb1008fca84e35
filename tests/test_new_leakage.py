"""`workbench new` never drafts a feature that fails the leakage checks, and splits on time
whenever the data has a date or time column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from workbench.charter.config import load_charter
from workbench.new import new_pilot


def loans_csv(path: Path, n: int = 1500) -> Path:
    rng = np.random.default_rng(2)
    applied = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    income = rng.lognormal(10.5, 0.4, n).round(2)
    y = (rng.random(n) < 1 / (1 + np.exp(-(np.log(income) - 10.5) * 2))).astype(int)
    frame = pd.DataFrame({
        "applied": applied.date,
        "paid_off_on": (applied + pd.to_timedelta(rng.integers(30, 900, n), unit="D")).date,  # after the row's time
        "income": income,
        "region": rng.choice(["n", "s", "e", "w"], n),
        "status_text": np.where(y == 1, "defaulted", "repaid"),  # the target, as text
        "default": y,
    })
    frame.to_csv(path, index=False)
    return path


def test_new_leaves_out_leaks_and_splits_on_the_date_column(tmp_path: Path) -> None:
    made = new_pilot("loans", loans_csv(tmp_path / "loans.csv"), "default", pilots_dir=tmp_path / "pilots")
    text = made.charter.read_text()
    charter = load_charter(made.charter)
    assert set(charter.features.exclude) == {"status_text", "paid_off_on"}
    assert "leak (target_copy)" in text and "leak (future_dated)" in text  # each exclusion says why
    assert any("status_text" in n for n in made.notes)
    # a DATE column: a temporal split on it (the one with most distinct values), said in a comment
    assert charter.split.kind == "temporal" and charter.split.column == "applied"
    assert "# time column: applied is a DATE column" in text and "paid_off_on" in text
    assert charter.split.train[0] < charter.split.evaluate[0]
    assert "income" not in charter.features.exclude and "region" not in charter.features.exclude
