"""check_contract on small DuckDB files: every rule kind failing and passing, lazy
failure collection, raised expectations, PII masking, quarantine, reports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest

from workbench.data.contracts import check_contract, load_contract, render_html, suite_json
from workbench.errors import ContractSpecError, WarehouseError

SECRET = "SSN-998-41-7777"

CONTRACT = """\
dataset: t
owner: me
version: 3
columns:
  id: {type: BIGINT, nullable: false, unique: true}
  code:
    allowed: [a, b]
    regex: '^[a-z]$'
  amount: {type: DOUBLE, range: {min: 0, max: 100}}
  opt: {max_null_fraction: 0.5}
  ssn: {pii: true, regex: '^[0-9]{3}-[0-9]{2}-[0-9]{4}$'}
  ts: {type: TIMESTAMP}
table:
  row_count: {min: 3, max: 10}
  unique: [[a, b]]
  freshness: {column: ts, max_age: 2 days, as_of: 2014-01-01}
  references: {parent_id: parents.id}
  row_checks:
    a_le_b: "a <= b"
"""

GOOD_ROWS = """
INSERT INTO t VALUES
 (1, 'a', 1.0, 1, '123-45-6789', TIMESTAMP '2013-12-31 10:00', 1, 1, 1),
 (2, 'b', 50.0, NULL, '234-56-7890', TIMESTAMP '2013-12-30 10:00', 1, 2, 2),
 (3, 'a', 100.0, 3, NULL, TIMESTAMP '2013-12-01 10:00', 2, 3, NULL)
"""
# each bad row breaks the rules named on it
BAD_ROWS = f"""
INSERT INTO t VALUES
 (1, 'zz', -5.0, NULL, '{SECRET}', TIMESTAMP '2013-01-01 10:00', 5, 4, 999),  -- dup id, code x2, range, pii regex, a_le_b, orphan
 (5, 'a', 10.0, NULL, '123-45-6789', TIMESTAMP '2013-01-01 10:00', 1, 1, 1),  -- dup (a, b)
 (6, 'b', 10.0, NULL, '123-45-6789', TIMESTAMP '2013-01-01 10:00', 7, 8, 1)
"""
SCHEMA = [
    "CREATE TABLE parents AS SELECT * FROM (VALUES (1), (2)) v(id)",
    "CREATE TABLE t (id BIGINT, code VARCHAR, amount DOUBLE, opt BIGINT, ssn VARCHAR, ts TIMESTAMP, "
    "a INTEGER, b INTEGER, parent_id BIGINT)",
]


@pytest.fixture
def contract_file(tmp_path: Path, write) -> Path:
    return write(tmp_path / "t.yml", CONTRACT)


def _check(path: Path, contract: Path, **kw):
    return check_contract(path, load_contract(contract), **kw)


def test_every_rule_passes_on_data_that_keeps_it(tmp_path: Path, make_wh, contract_file: Path) -> None:
    db = make_wh(tmp_path / "w.duckdb", *SCHEMA, GOOD_ROWS)
    res = _check(db, contract_file)
    assert res.passed, res.failure_message()
    assert all(r.success for r in res.rules)
    assert res.row_count == 3 and res.contract_version == "3"
    assert {r.kind for r in res.rules} == {
        "row_count", "type", "not_null", "unique", "allowed", "regex", "range", "max_null_fraction",
        "compound_unique", "freshness", "references", "row_check",
    }
    by = {r.rule_id: r for r in res.rules}
    assert by["t.id.not_null"].unexpected_count == 0
    assert by["t.opt.max_null_fraction"].unexpected_count is None  # passed with a tolerance: not computed


def test_every_rule_fails_on_data_made_to_break_it(tmp_path: Path, make_wh, contract_file: Path) -> None:
    db = make_wh(tmp_path / "w.duckdb", *SCHEMA, GOOD_ROWS, BAD_ROWS,
                 # type drift: ts becomes VARCHAR (and stale); opt nulls -> 4/6 > 0.5
                 "ALTER TABLE t ALTER ts TYPE VARCHAR", "UPDATE t SET ts = '2013-06-01 10:00:00'")
    res = _check(db, contract_file)
    by = {r.rule_id: r for r in res.rules}
    failed = {r.rule_id for r in res.rules if not r.success}
    assert failed == {
        "t.id.unique", "t.code.allowed", "t.code.regex", "t.amount.range", "t.opt.max_null_fraction",
        "t.ssn.regex", "t.ts.type", "t.unique.a+b", "t.freshness.ts", "t.references.parent_id",
        "t.row_check.a_le_b",
    }, res.failure_message()
    assert not res.passed
    assert by["t.code.allowed"].unexpected_count == 1 and by["t.code.allowed"].examples == ("zz",)
    assert by["t.amount.range"].examples == (-5.0,)
    assert by["t.opt.max_null_fraction"].unexpected_count == 4
    assert by["t.id.unique"].unexpected_count == 2 and 1 in by["t.id.unique"].examples
    assert by["t.ts.type"].observed == "VARCHAR"
    assert by["t.unique.a+b"].unexpected_count == 1 and by["t.unique.a+b"].examples == ({"a": 1, "b": 1},)
    assert by["t.references.parent_id"].unexpected_count == 1 and by["t.references.parent_id"].examples == (999,)
    assert by["t.row_check.a_le_b"].unexpected_count == 1 and by["t.row_check.a_le_b"].examples == ()
    assert by["t.freshness.ts"].observed.startswith("2013-06-01")
    assert by["t.row_count"].success  # 6 rows within [3, 10]


def test_row_count_and_not_null_fail(tmp_path: Path, make_wh, write) -> None:
    db = make_wh(tmp_path / "w.duckdb", "CREATE TABLE t AS SELECT NULL::INT AS x FROM range(2)")
    c = write(tmp_path / "t.yml", "dataset: t\nowner: me\nversion: 1\ncolumns:\n  x: {nullable: false}\n"
              "table:\n  row_count: {min: 5}\n")
    res = _check(db, c)
    by = {r.rule_id: r for r in res.rules}
    assert not by["t.row_count"].success and by["t.row_count"].observed == 2
    assert not by["t.x.not_null"].success and by["t.x.not_null"].unexpected_count == 2
    assert "t.row_count" in res.failure_message() and "t.x.not_null" in res.failure_message()


def test_empty_table_does_not_pass_vacuously(tmp_path: Path, make_wh, write) -> None:
    db = make_wh(tmp_path / "w.duckdb", "CREATE TABLE t (x INT)")
    c = write(tmp_path / "t.yml", "dataset: t\nowner: me\nversion: 1\ncolumns:\n  x: {nullable: false}\n")
    res = _check(db, c)
    assert not res.passed and [r.rule_id for r in res.blocking] == ["t.row_count"]
    # ... unless the contract says an empty table is fine
    c2 = write(tmp_path / "t2.yml", "dataset: t\nowner: me\nversion: 1\ncolumns:\n  x: {nullable: false}\n"
               "table:\n  row_count: {min: 0}\n")
    assert _check(db, c2).passed


def test_warn_rule_is_reported_but_does_not_block(tmp_path: Path, make_wh, write) -> None:
    db = make_wh(tmp_path / "w.duckdb", "CREATE TABLE t AS SELECT i AS x FROM range(10) r(i)")
    c = write(tmp_path / "t.yml", "dataset: t\nowner: me\nversion: 1\ncolumns:\n  x: {range: {min: 5, severity: warn}}\n")
    res = _check(db, c)
    assert res.passed and len(res.warnings) == 1 and res.warnings[0].unexpected_count == 5
    assert res.metrics()["contract.t.warnings"] == 1.0


def test_expectation_that_raises_counts_as_failure_and_others_still_run(tmp_path: Path, make_wh, write) -> None:
    db = make_wh(tmp_path / "w.duckdb", "CREATE TABLE t AS SELECT i AS x FROM range(10) r(i)")
    c = write(tmp_path / "t.yml", "dataset: t\nowner: me\nversion: 1\ncolumns:\n  x: {range: {max: 3}}\n"
              "table:\n  row_checks:\n    broken: \"CAST('v' || x::VARCHAR AS INTEGER) > 1\"\n    fine: \"x >= 0\"\n")
    res = _check(db, c)  # binds (a SQL mistake would be a ContractSpecError), then raises on the rows
    by = {r.rule_id: r for r in res.rules}
    broken = by["t.row_check.broken"]
    assert broken.success is False and broken.error and "convert" in broken.error.lower()
    assert "'v0'" not in broken.error  # a row check may read personal data: quoted values are redacted
    assert by["t.row_check.fine"].success is True  # ran after the broken one, on the same connection
    assert by["t.x.range"].unexpected_count == 6  # lazy: every failure is collected
    assert not res.passed and "raised" in res.failure_message()


def test_unknown_column_or_table_is_a_spec_error(tmp_path: Path, make_wh, write) -> None:
    db = make_wh(tmp_path / "w.duckdb", "CREATE TABLE t AS SELECT 1 AS x")
    c = write(tmp_path / "t.yml", "dataset: t\nowner: me\nversion: 1\ncolumns:\n  y: {nullable: false}\n")
    with pytest.raises(ContractSpecError, match=r"t\.yml:5:3.*'y' is not in table 't'.*the table has: x"):
        _check(db, c)
    c2 = write(tmp_path / "u.yml", "dataset: u\nowner: me\nversion: 1\ncolumns:\n  y: {nullable: false}\n")
    with pytest.raises(ContractSpecError, match="table 'u' is not in the warehouse; it has: t"):
        _check(db, c2)
    with pytest.raises(WarehouseError, match="not found"):
        _check(tmp_path / "missing.duckdb", c)


def test_pii_values_never_leave(tmp_path: Path, make_wh, contract_file: Path) -> None:
    db = make_wh(tmp_path / "w.duckdb", *SCHEMA, GOOD_ROWS, BAD_ROWS)
    res = _check(db, contract_file)
    ssn = next(r for r in res.rules if r.rule_id == "t.ssn.regex")
    assert not ssn.success and ssn.unexpected_count == 1 and ssn.masked and ssn.examples == ()
    texts = [json.dumps(res.to_dict()), render_html([res]), res.failure_message(), json.dumps(res.metrics())]
    for text in texts:
        assert SECRET not in text and "998-41" not in text
    assert "masked (PII)" in res.failure_message()
    # and the non-PII values do show up (the masking is targeted)
    assert "'zz'" in res.failure_message()


def test_to_dict_metrics_suite_and_html(tmp_path: Path, make_wh, contract_file: Path) -> None:
    db = make_wh(tmp_path / "w.duckdb", *SCHEMA, GOOD_ROWS, BAD_ROWS)
    c = load_contract(contract_file)
    res = check_contract(db, c)
    d = json.loads(json.dumps(res.to_dict()))
    assert d["dataset"] == "t" and d["contract_sha256"] == c.sha256 and d["passed"] is False
    assert len(d["rules"]) == len(c.rules)
    m = res.metrics(details=True)
    assert all(re.fullmatch(r"[A-Za-z0-9_./ -]+", k) for k in m), [k for k in m if not re.fullmatch(r"[A-Za-z0-9_./ -]+", k)]
    assert all(isinstance(v, float) for v in m.values())
    assert m["contract.t.passed"] == 0.0 and m["contract.t.unique.a_b.success"] == 0.0
    # MLflow gets the verdict and its counts per dataset; the rest stays in the JSON
    assert set(res.metrics()) == {k for k in m if k.count(".") == 2} - {"contract.t.duration_s", "contract.t.row_count"}
    suite = suite_json(c)
    assert len(suite["expectations"]) == len(c.rules)
    assert {e["meta"]["rule_id"] for e in suite["expectations"]} == {r.id for r in c.rules}
    page = render_html([res])
    assert page.startswith("<!doctype html>") and "t.code.allowed" in page and "<script" not in page


QUARANTINE = """\
dataset: t
owner: me
version: 1
columns:
  code: {allowed: {values: [a, b], on_fail: quarantine}}
  amount: {range: {min: 0, on_fail: quarantine}}
  note: {regex: {pattern: '^ok$', severity: warn}}
"""


def test_quarantine_moves_offending_rows_in_one_transaction(tmp_path: Path, make_wh, write) -> None:
    db = make_wh(
        tmp_path / "w.duckdb",
        "CREATE TABLE t (id INT, code VARCHAR, amount DOUBLE, note VARCHAR)",
        "INSERT INTO t VALUES (1, 'a', 1, 'ok'), (2, 'x', 1, 'ok'), (3, 'y', -1, 'ok'), (4, 'b', -2, 'bad'), (5, 'b', NULL, 'ok')",
    )
    res = _check(db, write(tmp_path / "t.yml", QUARANTINE))
    assert res.quarantine_table == "t__quarantine" and res.quarantined_rows == 3
    by = {r.rule_id: r for r in res.rules}
    assert by["t.code.allowed"].quarantined_rows == 2 and by["t.amount.range"].quarantined_rows == 2
    assert res.passed  # the table now satisfies the quarantine rules; the warn rule does not block
    con = duckdb.connect(str(db), read_only=True)
    assert [r[0] for r in con.execute("SELECT id FROM t ORDER BY id").fetchall()] == [1, 5]
    q = con.execute("SELECT id, list_sort(_contract_rules) FROM t__quarantine ORDER BY id").fetchall()
    con.close()
    assert q == [(2, ["t.code.allowed"]), (3, ["t.amount.range", "t.code.allowed"]), (4, ["t.amount.range"])]
    # a second check finds nothing left to quarantine
    again = _check(db, write(tmp_path / "t.yml", QUARANTINE))
    assert again.passed and again.quarantined_rows == 0


def test_quarantine_off_reports_without_moving(tmp_path: Path, make_wh, write) -> None:
    db = make_wh(tmp_path / "w.duckdb", "CREATE TABLE t AS SELECT 'x' AS code, 1.0 AS amount, 'ok' AS note")
    res = _check(db, write(tmp_path / "t.yml", QUARANTINE), quarantine=False)
    assert not res.passed and res.quarantined_rows == 0
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 1
    con.close()


def test_html_opens_with_the_failures_and_links_past_checks(tmp_path: Path, make_wh, contract_file: Path) -> None:
    from workbench.data.contracts import render_history
    from workbench.data.contracts.report import HistoryRow

    db = make_wh(tmp_path / "w.duckdb", *SCHEMA, GOOD_ROWS, BAD_ROWS)
    res = check_contract(db, load_contract(contract_file))
    page = render_html([res], history_link="history.html")
    failures = page[page.index("id='failures'"):page.index("<h2>Contracts</h2>")]
    failing = {r.rule_id for r in res.rules if not r.success}
    assert failing and all(rule in failures for rule in failing)
    assert not [r.rule_id for r in res.rules if r.success and f"<code>{r.rule_id}</code>" in failures]
    assert "id='failures-only'" in page and "href='history.html'" in page
    # every rule row is marked, so the switch can hide the passing ones
    assert page.count("class='rule-pass'") == sum(r.success for r in res.rules)
    # the index of past checks: per contract, newest first, with its results over time
    rows = [HistoryRow("t", f"run{i}", f"2026-12-0{i} 10:00:00 UTC", passed=i != 2, version="v3", rules=6,
                       rules_failed=0 if i != 2 else 2, errors=0 if i != 2 else 1, warnings=0) for i in (3, 2, 1)]
    history = render_history(rows)
    table = history[history.index("<table>"):]
    assert table.index("2026-12-03") < table.index("2026-12-02") < table.index("2026-12-01")
    assert "3 check(s), 1 failed" in history and history.count("class='spark fail'") == 1
    assert "2 of 6" in history
