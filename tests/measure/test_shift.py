"""Shift between training and held-out rows, on data built here: a shifted column is
flagged, a stable one is not, unseen categories are counted exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.measure.modeling import HeldOut
from workbench.measure.shift import compare, shift_from_json


def _frames(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n, m = 5000, 3000
    train = pd.DataFrame({"stable": rng.normal(0, 1, n), "moved": rng.normal(0, 1, n),
                          "city": rng.choice(["a", "b", "c"], n), "channel": rng.choice(["web", "shop"], n)})
    held = pd.DataFrame({"stable": rng.normal(0, 1, m), "moved": rng.normal(1.5, 1, m),
                         "city": ["a", "b", "c"] * 900 + ["x"] * 200 + ["y"] * 100,  # 300 rows unseen
                         "channel": rng.choice(["web", "shop"], m)})
    held.loc[:9, "stable"] = np.nan  # nulls have a bucket of their own
    return train, held


def test_a_shifted_column_is_flagged_a_stable_one_not_and_unseen_categories_are_counted() -> None:
    train, held = _frames()
    train["city"] = train["city"].astype("string")
    report = compare(train, HeldOut.from_frame(held), ["stable", "moved"], ["city", "channel"])
    by = {c.column: c for c in report.columns}
    assert by["moved"].psi > 0.25 and by["stable"].psi < 0.1 and by["channel"].psi < 0.1
    assert report.columns[0].column == "moved"  # worst first
    assert by["city"].unseen_rows == 300 and by["city"].unseen_share == pytest.approx(300 / 3000)
    assert by["channel"].unseen_rows == 0 and by["stable"].unseen_share == 0
    assert by["stable"].heldout_shares[0] == pytest.approx(10 / 3000)  # the null bucket
    metrics = report.metrics()
    assert metrics["shift.max_psi"] == pytest.approx(by["moved"].psi)
    assert metrics["shift.unseen_share_max"] == pytest.approx(0.1)
    assert report.heldout_rows == 3000 and report.train_rows == 5000
    back = shift_from_json(report.to_dict())
    assert back is not None and back.columns == report.columns


def test_identical_rows_have_no_shift() -> None:
    train, _ = _frames(1)
    report = compare(train, HeldOut.from_frame(train.copy()), ["stable", "moved"], ["city", "channel"])
    assert report.max_psi < 1e-9 and report.unseen_share_max == 0


def test_a_categorical_column_of_nothing_but_nulls_has_one_bucket_and_no_error() -> None:
    # the evaluate step stopped: "Could not convert string '(null)' to DOUBLE" (an empty list of seen
    # values was read as a column of numbers)
    train, held = _frames(2)
    train["empty"], held["empty"] = pd.Series([None] * len(train), dtype=object), pd.Series([None] * len(held), dtype=object)
    report = compare(train, HeldOut.from_frame(held), ["stable"], ["city", "empty"])
    by = {c.column: c for c in report.columns}
    assert by["empty"].psi < 1e-9 and by["empty"].unseen_rows == 0
    assert by["empty"].heldout_shares[0] == pytest.approx(1.0)  # every row in the null bucket


def test_a_table_of_hundreds_of_numeric_columns_is_compared_within_the_memory_limit() -> None:
    """modeldata's pd_speech: 752 voice measurements, 63 held-out rows. One SELECT of 750
    histograms ran out of the held-out set's 512 MB; a few columns a query, each is compared."""
    rng = np.random.default_rng(5)
    columns = [f"m{i:03d}" for i in range(750)]
    train = pd.DataFrame(rng.normal(size=(189, 750)), columns=columns)
    held = pd.DataFrame(rng.normal(size=(63, 750)), columns=columns)
    held["m749"] += 3  # the last column, in the last query, moved
    report = compare(train, HeldOut.from_frame(held), columns, [])
    assert len(report.columns) == 750 and report.heldout_rows == 63
    assert report.columns[0].column == "m749" and report.columns[0].psi > 1
    assert {c.heldout_rows for c in report.columns} == {63}  # every query counted the same rows
