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


def test_a_column_that_subdivides_the_classes_is_left_out_but_not_split_by(tmp_path: Path) -> None:
    """openintro's loans, target grade: sub_grade (A1..A5 of A) and interest_rate each give the
    grade away and are left out. Neither is an entity: a split by sub_grade held out no E, F or G
    loan at all (NO-GO on too few rows of them), so the split drafted stays random, and says why."""
    rng = np.random.default_rng(5)
    grades = rng.choice(list("ABCDE"), 2000, p=[0.3, 0.3, 0.2, 0.12, 0.08])
    sub = [f"{g}{k}" for g, k in zip(grades, rng.integers(1, 6, 2000), strict=True)]
    pd.DataFrame({"income": rng.lognormal(10.5, 0.4, 2000).round(2), "term": rng.choice([36, 60], 2000),
                  "sub_grade": sub, "interest_rate": [5.31 + 3.1 * "ABCDE".index(s[0]) + 0.6 * int(s[1]) for s in sub],
                  "grade": grades}).to_csv(tmp_path / "loans.csv", index=False)
    made = new_pilot("grades", tmp_path / "loans.csv", "grade", pilots_dir=tmp_path / "pilots")
    charter = load_charter(made.charter)
    assert {"sub_grade", "interest_rate"} <= set(charter.features.exclude)
    assert charter.split.kind == "random", charter.split
    assert any(n.startswith("not split by sub_grade: a class spans 5 of its values") for n in made.notes), made.notes
    # which columns are known before the prediction is a person's judgement: drafted, never decided by new
    from workbench.charter.drafted import drafted_values

    assert "features" in {v.key for v in drafted_values(charter)}
