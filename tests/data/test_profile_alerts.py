"""Profile alerts: a table built to trigger each kind lists every one, on the right column."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from workbench.data.profile_alerts import KINDS, alerts
from workbench.data.profiling import TableProfile, profile_table

ROWS = 400


def alerting_frame() -> pd.DataFrame:
    """One column per alert kind (and a quiet one), with the last row a copy of the first."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({
        "id": np.arange(ROWS),  # near-unique
        "const": ["same"] * ROWS,  # constant
        "sparse": [float(i) if i % 10 < 3 else None for i in range(ROWS)],  # 70 % null: mostly missing
        "city": [f"city{i % 80}" for i in range(ROWS)],  # 80 distinct: high cardinality
        "wait": rng.lognormal(0, 1.6, ROWS).round(3),  # skewed
        "amount": np.r_[rng.normal(100, 5, ROWS - 2), 1e300, 100.0],  # one extreme value
        "email": [f"user{i}@example.org" for i in range(ROWS)],  # personal
        "quiet": rng.normal(0, 1, ROWS),  # nothing to say
        "since": np.where(np.arange(ROWS) % 20 == 7, -1, rng.integers(0, 300, ROWS)),  # -1: never contacted
    })
    frame.iloc[-1] = frame.iloc[0]  # a duplicated row
    return frame


@pytest.fixture()
def profile(tmp_path: Path) -> TableProfile:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    frame = alerting_frame()  # noqa: F841 - read by DuckDB's replacement scan
    con.execute("CREATE TABLE t AS SELECT * FROM frame")
    try:
        return profile_table(con, "t", pii=["email"])
    finally:
        con.close()


def test_a_table_built_to_trigger_each_alert_lists_them_all(profile: TableProfile) -> None:
    found = alerts(profile)
    by_kind = {a.kind: a for a in found}
    assert len(found) == len({(a.kind, a.column) for a in found})
    assert set(by_kind) == set(KINDS)
    expected = {"constant": "const", "mostly missing": "sparse", "high cardinality": "city", "skewed": "wait",
                "near-unique": "id", "personal": "email", "extreme values": "amount", "duplicated rows": None,
                "code for no value": "since"}
    for kind, column in expected.items():  # (a lognormal column also has extreme values: more may be named)
        assert column in {a.column for a in found if a.kind == kind}, (kind, found)
    assert not [a for a in found if a.column == "quiet"]
    assert "1 rows" in by_kind["duplicated rows"].message or "1 row" in by_kind["duplicated rows"].message
    assert "70%" in by_kind["mostly missing"].message
    # the email column is personal: no other alert reads its values
    assert [a.kind for a in found if a.column == "email"] == ["personal"]
    # listed in the documented order
    assert [a.kind for a in found] == sorted((a.kind for a in found), key=KINDS.index)


def test_alerts_survive_the_profile_json(profile: TableProfile) -> None:
    again = TableProfile.from_dict(profile.to_dict())
    assert alerts(again) == alerts(profile)


def test_a_quiet_table_has_no_alert(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "q.duckdb"))
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"x": rng.normal(0, 1, ROWS), "g": [f"g{i % 4}" for i in range(ROWS)]})  # noqa: F841
    con.execute("CREATE TABLE q AS SELECT * FROM frame")
    try:
        assert alerts(profile_table(con, "q")) == ()
    finally:
        con.close()
