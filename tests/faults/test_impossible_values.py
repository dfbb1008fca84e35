"""Impossible values do not load quietly: a drafted contract holds error-level rules where
the data gives certainty (finite numbers, a sign never seen, orders of magnitude beyond
anything observed), every warning and failure is named with its rule, and a load whose
error rules fail keeps the previous table."""

from __future__ import annotations

import textwrap
from pathlib import Path

import duckdb
from typer.testing import CliRunner

from support import STEP_PARAMS, write_notebook
from workbench.charter.config import load_charter
from workbench.cli import app
from workbench.data.contracts import suggest_contract
from workbench.data.warehouse import ingest_all, writer


def _pilot(root: Path) -> Path:
    """A charter with one source whose contract is drafted from its first, good, file."""
    (root / "data").mkdir(parents=True)
    rows = [f"{i},{(i % 6) * 0.9:.1f},{100 + i}" for i in range(1, 41)]  # score in [0, 4.5], balance > 0
    (root / "data" / "items.csv").write_text("id,score,balance\n" + "\n".join(rows) + "\n")
    (root / "contracts").mkdir()
    (root / "contracts" / "items.yml").write_text("dataset: items\nowner: x\nversion: '0'\ncolumns: {id: {type: INTEGER}}\n")
    write_notebook(root / "step.ipynb", STEP_PARAMS)
    charter = root / "pilot.yaml"
    charter.write_text(textwrap.dedent("""\
        name: impossible
        owner: tester@pilot-team.internal
        question: Do impossible values load?
        primary_metric: demo.rows
        warehouse: data/warehouse.duckdb
        task: {kind: regression, target: score}
        sources:
          items:
            path: data/items.csv
            contract: contracts/items.yml
            columns: {id: INTEGER, score: DOUBLE, balance: DOUBLE}
        steps:
          - {name: measure, role: baseline, notebook: step.ipynb, metrics: [demo.rows]}
        """))
    loaded = load_charter(charter)
    with writer(loaded.warehouse_path) as con:
        ingest_all(con, loaded)
    suggest_contract(loaded.warehouse_path, "items", out=root / "contracts" / "items.yml")
    return charter


def _table(root: Path) -> list[tuple]:
    con = duckdb.connect(str(root / "data" / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute("SELECT * FROM items ORDER BY id").fetchall()
    finally:
        con.close()


def _reload(root: Path, charter: Path, line: str) -> object:
    text = (root / "data" / "items.csv").read_text()
    (root / "data" / "items.csv").write_text(text + line + "\n")
    return CliRunner().invoke(app, ["ingest", "--pilot", str(charter)])


def test_a_drafted_contract_holds_error_rules_where_the_data_is_certain(tmp_path: Path) -> None:
    _pilot(tmp_path)
    contract = (tmp_path / "contracts" / "items.yml").read_text()
    for rule in ("score_finite", "score_not_negative", "score_magnitude", "balance_not_negative"):
        assert rule in contract, contract
    assert "severity: warn" in contract  # the observed range itself stays a warning


def test_1e308_in_a_column_below_6_keeps_the_previous_table_and_names_the_rule(tmp_path: Path) -> None:
    charter = _pilot(tmp_path)
    before = _table(tmp_path)
    result = _reload(tmp_path, charter, "41,1e308,150")
    assert result.exit_code == 1, result.output
    assert "items.row_check.score_magnitude" in result.output
    assert "items.score.range" in result.output  # the warning, named too
    assert "previous table is back" in result.output
    assert _table(tmp_path) == before
    # the next ingest loads the file again, and refuses it again
    again = CliRunner().invoke(app, ["ingest", "--pilot", str(charter)])
    assert again.exit_code == 1 and _table(tmp_path) == before


def test_a_negative_value_in_a_never_negative_column_is_an_error(tmp_path: Path) -> None:
    charter = _pilot(tmp_path)
    before = _table(tmp_path)
    result = _reload(tmp_path, charter, "41,2.0,-5")
    assert result.exit_code == 1, result.output
    assert "items.row_check.balance_not_negative" in result.output
    assert _table(tmp_path) == before


def test_a_good_reload_replaces_the_table(tmp_path: Path) -> None:
    charter = _pilot(tmp_path)
    result = _reload(tmp_path, charter, "41,2.0,141")
    assert result.exit_code == 0, result.output
    assert len(_table(tmp_path)) == 41
    con = duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True)
    leftovers = con.execute("SELECT table_name FROM information_schema.tables WHERE table_name LIKE '_wb_previous_%'").fetchall()
    con.close()
    assert leftovers == []
