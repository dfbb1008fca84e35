"""The personal-data scrub withholds the values, never the project's words: a free-text
job-title column marked personal whose values are also the workbench's vocabulary
("pilot", "warehouse", "estimator", "distribution") leaves keys, paths, labels, metric
names and code alone, and withholds the values where they stand as values."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from workbench.charter.config import Source
from workbench.data.warehouse import ingest_source, redact, writer

TITLES = ["pilot", "warehouse", "estimator", "distribution", "Data Scientist", "Zork Wrangler", "salary"]


@pytest.fixture
def staff(tmp_path: Path) -> Path:
    csv = tmp_path / "staff.csv"
    csv.write_text("id,job_title,salary\n" + "".join(f"{i},{TITLES[i % len(TITLES)]},{1000 + i}\n" for i in range(60)))
    db = tmp_path / "wh.duckdb"
    with writer(db) as con:
        ingest_source(con, "staff", Source(path=csv, columns={"id": "INTEGER", "job_title": "VARCHAR",
                                                              "salary": "INTEGER"}), csv, pii={"job_title"})
    return db


NAMES = [  # keys, paths, code, metric names, labels, prose: none is personal data
    '{"pilot": "staff", "warehouse": "/tmp/x/warehouse.duckdb", "estimator": "sklearn.linear_model.Ridge"}',
    "pilots/pilot/pilot.yaml and notebooks/distribution.ipynb, C:\\warehouse\\pilot",
    'warehouse = "/work/data/warehouse.duckdb"\npilot = "staff"\nsession.pilot, fit(estimator=model)',
    "quality.distribution_gap 0.12; warehouse_rows 60; pilot-run",
    "The pilot's baseline: score distribution by estimator, read from the warehouse.",
]


def test_keys_paths_code_metric_names_and_prose_are_never_rewritten(staff: Path) -> None:
    con = duckdb.connect(str(staff), read_only=True)
    assert redact(con, NAMES) == NAMES
    assert redact(con, ["       salary\n0        1003"]) == ["       salary\n0        1003"]  # a column name
    labels = ["Score distribution", "distribution", "pilot", "Warehouse rows by estimator"]
    assert redact(con, labels, names=True) == labels
    con.close()


def test_the_values_are_withheld_where_they_stand_as_values(staff: Path) -> None:
    con = duckdb.connect(str(staff), read_only=True)
    frame = ("   id       job_title\n0   1           pilot\n1   2       warehouse\n2   3  Data Scientist\n"
             "3   4    distribution\n4   5       estimator")
    html = "<tr><td>1</td><td>pilot</td></tr><tr><td>2</td><td>Zork Wrangler</td></tr>"
    texts = [frame, html, "ValueError: cannot score job_title='estimator'", "worst row: Data Scientist, salary 1003",
             "pilot", "{'title': 'warehouse'}", "promoted by a Zork Wrangler today"]
    out = redact(con, texts)
    joined = "\n".join(out)
    for title in TITLES[:-1]:
        assert title not in joined.replace("job_title", ""), title
    assert out[2] == "ValueError: cannot score job_title='[personal data]'"
    assert out[0].splitlines()[0] == "   id       job_title"  # the column name stays
    assert out[6] == "promoted by a [personal data] today"
    con.close()


def test_the_charters_own_names_are_never_withheld(staff: Path) -> None:
    con = duckdb.connect(str(staff), read_only=True)
    message = "step 'estimator' failed: cannot score 'Data Scientist'"
    assert redact(con, [message], keep={"estimator", "staff"}) == ["step 'estimator' failed: cannot score '[personal data]'"]
    con.close()
