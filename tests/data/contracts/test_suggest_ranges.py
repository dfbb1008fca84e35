"""A drafted contract's observed ranges hold the data they were drafted from, with room for a
value one unit in the last place away: modeldata's pd_speech warned on 12 of its own columns
(a warehouse max of 6.523333333333334e-20 drafted as ...333e-20)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from ruamel.yaml import YAML

from workbench.data.contracts.suggest import _outward, suggest_contract

VALUES = [6.523333333333334e-20, -1.1551333333333332e-19, 7.546666666666667e-06, -5.323333333333333e-06,
          4.167666666666667e-05, 0.30000000000000004, 12345.678901234567, 1.5, -0.1]


def test_every_drafted_float_bound_holds_the_value_it_came_from_as_duckdb_reads_it(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:  # each value the largest of one column and the smallest of another
        cols = [f"hi{i} DOUBLE, lo{i} DOUBLE" for i in range(len(VALUES))]
        con.execute(f"CREATE TABLE t (k INTEGER, {', '.join(cols)})")
        for k, shift in enumerate((0.0, 1.0)):
            row = [x for v in VALUES for x in (v - shift * abs(v), v + shift * abs(v))]
            con.execute(f"INSERT INTO t VALUES ({', '.join('?' * (len(row) + 1))})", [k, *row])
    doc = YAML().load(suggest_contract(db, "t", drafted=True))
    ranges = {c: doc["columns"][c]["range"] for c in doc["columns"] if c != "k"}
    with duckdb.connect(str(db), read_only=True) as con:
        # the check's SQL carries the bounds as literals: DuckDB parses them
        held = con.execute("SELECT " + ", ".join(f"bool_and({c} BETWEEN {r['min']!r} AND {r['max']!r})"
                                                 for c, r in ranges.items()) + " FROM t").fetchall()[0]
    assert dict(zip(ranges, held, strict=True)) == dict.fromkeys(ranges, True)
    assert (doc["columns"]["k"]["range"]["min"], doc["columns"]["k"]["range"]["max"]) == (0, 1)  # whole: exact
    assert ranges["hi0"]["max"] == 6.52333333334e-20 and ranges["lo0"]["min"] == 6.52333333333e-20  # outward


@pytest.mark.parametrize("value", VALUES)
def test_a_bound_is_rounded_outward_at_twelve_digits(value: float) -> None:
    up, down = _outward(value, up=True), _outward(value, up=False)
    assert down <= value <= up
    assert len(repr(up).lstrip("-").replace(".", "").split("e")[0].lstrip("0")) <= 12
    assert (up, down) == (value, value) or abs(up - value) < abs(value) * 1e-11


def test_allowed_values_that_start_with_a_question_mark_read_back_as_they_are(tmp_path: Path) -> None:
    """openintro's epa2021: `car_truck` holds 'car', '1' and '??'. The drafted list was written
    `[??, car]`, which no YAML reader parses (`workbench new` crashed on it); '?a' read back as a
    mapping, a contract that silently allowed something else."""
    db = tmp_path / "w.duckdb"
    values = ["car", "1", "??", "?a", "? b", "truck"]
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE t (kind VARCHAR)")
        con.executemany("INSERT INTO t VALUES (?)", [[v] for v in values * 20])
    doc = YAML().load(suggest_contract(db, "t", drafted=True))
    assert sorted(doc["columns"]["kind"]["allowed"]) == sorted(values)
