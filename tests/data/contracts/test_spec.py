"""Contract YAML: shapes, rule ids, and located errors (no GX needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from workbench.data.contracts import load_contract
from workbench.errors import ContractSpecError

ROOT = Path(__file__).resolve().parents[3]

GOOD = """\
dataset: t
owner: me
version: 2
columns:
  id: {type: int8, nullable: false, unique: true}
  code:
    allowed: {values: [a, b], severity: warn, on_fail: quarantine}
    regex: '^[a-z]$'
  amount:
    range: {min: 0}
  ssn: {pii: true, max_null_fraction: 0.5}
table:
  row_count: {min: 0}
  unique: [[a, b]]
  freshness: {column: ts, max_age: 36 hours, as_of: 2014-01-01}
  references:
    parent_id: parents.id
  row_checks:
    positive: "amount > 0"
"""

COLS = {"id": "BIGINT", "code": "VARCHAR", "amount": "DOUBLE", "ssn": "VARCHAR", "a": "INTEGER",
        "b": "INTEGER", "ts": "TIMESTAMP", "parent_id": "BIGINT"}


def test_rules_get_stable_ids_kinds_and_defaults(tmp_path: Path, write) -> None:
    c = load_contract(write(tmp_path / "t.yml", GOOD), COLS)
    rules = {r.id: r for r in c.rules}
    assert set(rules) == {
        "t.row_count", "t.id.type", "t.id.not_null", "t.id.unique", "t.code.allowed", "t.code.regex",
        "t.amount.range", "t.ssn.max_null_fraction", "t.unique.a+b", "t.freshness.ts",
        "t.references.parent_id", "t.row_check.positive",
    }
    assert c.version == "2"
    assert rules["t.id.type"].params == {"type": "BIGINT"}  # alias int8 resolved
    assert rules["t.code.allowed"].severity == "warn" and rules["t.code.allowed"].on_fail == "quarantine"
    assert rules["t.code.regex"].severity == "error" and rules["t.code.regex"].on_fail == "report"
    assert rules["t.ssn.max_null_fraction"].pii is True
    assert rules["t.row_count"].implicit is False and rules["t.row_count"].params["min"] == 0
    assert len(c.sha256) == 64


def test_missing_row_count_adds_implicit_non_empty_rule(tmp_path: Path, write) -> None:
    c = load_contract(write(tmp_path / "t.yml", "dataset: t\nowner: me\nversion: 1\ncolumns:\n  id: {nullable: false}\n"))
    rc = c.rules[0]
    assert (rc.id, rc.implicit, rc.params["min"]) == ("t.row_count", True, 1)


def test_contract_without_rules_is_refused(tmp_path: Path, write) -> None:
    p = write(tmp_path / "t.yml", "dataset: t\nowner: me\nversion: 1\ncolumns:\n  id: {description: x}\n")
    with pytest.raises(ContractSpecError, match="declares no rule"):
        load_contract(p)


def test_typo_in_rule_name_names_file_line_key_and_choices(tmp_path: Path, write) -> None:
    p = write(tmp_path / "t.yml", "dataset: t\nowner: me\nversion: 1\ncolumns:\n  id:\n    nulable: false\n")
    with pytest.raises(ContractSpecError) as e:
        load_contract(p)
    msg = str(e.value)
    assert f"{p}:6:" in msg and "columns.id.nulable" in msg
    assert "did you mean 'nullable'" in msg and "max_null_fraction" in msg  # valid choices listed


def test_typo_in_rule_key_names_line_and_choices(tmp_path: Path, write) -> None:
    p = write(tmp_path / "t.yml", "dataset: t\nowner: me\nversion: 1\ncolumns:\n  x:\n    range: {mn: 0}\n")
    with pytest.raises(ContractSpecError) as e:
        load_contract(p)
    msg = str(e.value)
    assert f"{p}:6:" in msg and "unknown key 'mn'" in msg and "min" in msg and "severity" in msg


def test_on_fail_only_on_row_level_rules(tmp_path: Path, write) -> None:
    p = write(tmp_path / "t.yml", "dataset: t\nowner: me\nversion: 1\ncolumns:\n  x:\n    unique: {on_fail: quarantine}\n")
    with pytest.raises(ContractSpecError, match="unknown key 'on_fail'"):
        load_contract(p)


def test_wrong_type_is_located(tmp_path: Path, write) -> None:
    p = write(tmp_path / "t.yml", "dataset: t\nowner: me\nversion: 1\ncolumns:\n  x:\n    max_null_fraction: lots\n")
    with pytest.raises(ContractSpecError) as e:
        load_contract(p)
    assert f"{p}:6:" in str(e.value) and "lots" in str(e.value)


def test_bad_severity_lists_choices(tmp_path: Path, write) -> None:
    p = write(tmp_path / "t.yml", "dataset: t\nowner: me\nversion: 1\ncolumns:\n  x:\n    range: {min: 0, severity: fatal}\n")
    with pytest.raises(ContractSpecError) as e:
        load_contract(p)
    assert "'error'" in str(e.value) and "'warn'" in str(e.value)


def test_unknown_duckdb_type_suggests(tmp_path: Path, write) -> None:
    p = write(tmp_path / "t.yml", "dataset: t\nowner: me\nversion: 1\ncolumns:\n  x: {type: BIGNIT}\n")
    with pytest.raises(ContractSpecError, match="did you mean 'BIGINT'"):
        load_contract(p)


def test_unknown_column_names_file_line_and_table_columns(tmp_path: Path, write) -> None:
    p = write(tmp_path / "t.yml", GOOD.replace("  amount:\n", "  amout:\n"))
    with pytest.raises(ContractSpecError) as e:
        load_contract(p, COLS)
    msg = str(e.value)
    assert f"{p}:9:3" in msg and "columns.amout" in msg
    assert "did you mean 'amount'" in msg and "the table has: a, amount, b, code" in msg


def test_unknown_column_in_table_rule_is_located(tmp_path: Path, write) -> None:
    p = write(tmp_path / "t.yml", GOOD.replace("[[a, b]]", "[[a, bb]]"))
    with pytest.raises(ContractSpecError) as e:
        load_contract(p, COLS)
    assert f"{p}:14:" in str(e.value) and "'bb'" in str(e.value)


def test_type_mismatch_at_load(tmp_path: Path, write) -> None:
    p = write(tmp_path / "t.yml", GOOD)
    with pytest.raises(ContractSpecError) as e:
        load_contract(p, {**COLS, "id": "VARCHAR"})
    assert f"{p}:5:" in str(e.value) and "VARCHAR in table 't' but the contract says BIGINT" in str(e.value)


def test_invalid_regex_and_max_age(tmp_path: Path, write) -> None:
    p = write(tmp_path / "t.yml", "dataset: t\nowner: me\nversion: 1\ncolumns:\n  x: {regex: '^[a-$'}\n"
              "table:\n  freshness: {column: x, max_age: soon}\n")
    with pytest.raises(ContractSpecError) as e:
        load_contract(p)
    assert "is not a regular expression" in str(e.value) and "max_age must look like" in str(e.value)


def test_importing_contracts_does_not_import_great_expectations() -> None:
    code = "import sys, workbench.data.contracts; print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
