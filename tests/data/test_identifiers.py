"""Any table or column name DuckDB can hold works everywhere: SQL keywords, spaces, mixed case.

Real path end to end: CSV -> charter -> ingest -> profiling -> contracts checked by Great
Expectations on DuckDB. Tables are named `default` (an SQL keyword: it used to break every
GX column rule with a bare parser error) and `My Table`; columns `select`, `Order Date`,
`MixedCase`, `group`. Every rule is run on good data (must pass) and on data with planted
violations (must fail with the exact count), so a rule that silently passes is caught.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import duckdb
import pytest

from support import STEP_PARAMS, write_notebook
from workbench.steps import contracts_step as contract_step
from workbench.charter.names import table_name_problem
from workbench.data.sql import quote_ident
from workbench.charter.config import load_charter
from workbench.data.contracts import check_contract, load_contract, suggest_contract
from workbench.data.contracts.compile import batch_query, gx_column
from workbench.data.contracts.spec import split_reference
from workbench.errors import ConfigError, ContractSpecError
from workbench.data.profiling import drift, histogram_on_edges, profile_table
from workbench.data.warehouse import connect_read_only, fingerprint, ingest_all, table_columns, writer

HEADER = "select,Order Date,MixedCase,group"
GOOD_DEFAULT = [
    "1,2024-01-05,ab,x",
    "2,2024-02-01,cd,y",
    "3,2024-03-01,ab,x",
    "4,2024-03-20,ef,NA",
]
# planted: a NULL `select` (not_null), -5 (range, row check), a repeated `select` with
# the same date (unique, compound unique), `AB1` (regex), `zzz` (allowed, quarantined)
BAD_DEFAULT = [
    "1,2024-01-05,ab,x",
    "1,2024-01-05,cd,y",
    "NA,2024-02-01,ab,x",
    "-5,2024-03-01,AB1,x",
    "3,2024-03-20,ef,zzz",
]
GOOD_MY = [
    "1.5,2024-03-30,ab,x",
    "2.5,2024-03-10,cd,y",
    "0.0,2024-02-10,ab,x",
]
# planted: `nope` (reference to default.group), `zz` (reference to "default"."MixedCase"),
# a NULL `MixedCase` (not_null), -1 (row check), all dates old (freshness)
BAD_MY = [
    "1.5,2023-01-01,ab,nope",
    "-1,2023-01-02,zz,x",
    "2.5,2023-01-03,NA,y",
]

DEFAULT_CONTRACT = """\
dataset: default
owner: tester@pilot-team.internal
version: 1
columns:
  select: {type: INTEGER, nullable: false, range: {min: 0, max: 100}, unique: true}
  Order Date: {type: DATE, nullable: false}
  MixedCase: {regex: '^[a-z]+$'}
  group: {allowed: {values: [x, y], on_fail: quarantine}, max_null_fraction: 0.5}
table:
  unique: [[select, Order Date]]
  row_checks:
    positive: '"select" > 0'
"""

MY_CONTRACT = """\
dataset: My Table
owner: tester@pilot-team.internal
version: 1
columns:
  MixedCase: {nullable: false}
table:
  freshness: {column: Order Date, max_age: 30 days, as_of: 2024-04-01}
  references:
    group: default.group
    MixedCase: '"default"."MixedCase"'
  row_checks:
    not_negative: '"select" >= 0'
"""


def _project(root: Path, default_rows: list[str], my_rows: list[str]) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data" / "default.csv").write_text("\n".join([HEADER, *default_rows]) + "\n")
    (root / "data" / "my table.csv").write_text("\n".join([HEADER, *my_rows]) + "\n")
    (root / "contracts").mkdir()
    (root / "contracts" / "default.yml").write_text(DEFAULT_CONTRACT)
    (root / "contracts" / "my table.yml").write_text(MY_CONTRACT)
    write_notebook(root / "notebooks" / "step.ipynb", STEP_PARAMS + "step_name = 'measure'\n", "x = 1")
    (root / "pilot.yaml").write_text(textwrap.dedent("""\
        name: names-pilot
        owner: tester@pilot-team.internal
        question: Do odd names work?
        primary_metric: demo.rows
        warehouse: data/warehouse.duckdb
        task: {kind: classification, target: label}
        sources:
          default:
            path: data/default.csv
            columns: {select: INTEGER, Order Date: DATE, MixedCase: VARCHAR, group: VARCHAR}
            contract: contracts/default.yml
          My Table:
            path: data/my table.csv
            columns: {select: DOUBLE, Order Date: DATE, MixedCase: VARCHAR, group: VARCHAR}
            contract: contracts/my table.yml
        steps:
          - name: measure
            role: baseline
            notebook: notebooks/step.ipynb
        """))
    return root / "pilot.yaml"


def _ingest(root: Path, default_rows: list[str], my_rows: list[str]):
    charter = load_charter(_project(root, default_rows, my_rows))
    with writer(charter.warehouse_path) as con:
        results = ingest_all(con, charter)
    return charter, results


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory):
    return _ingest(tmp_path_factory.mktemp("good"), GOOD_DEFAULT, GOOD_MY)


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory):
    return _ingest(tmp_path_factory.mktemp("bad"), BAD_DEFAULT, BAD_MY)


# --------------------------------------------------------------------------- names


def test_quote_ident_doubles_embedded_quotes() -> None:
    assert quote_ident("default") == '"default"'
    assert quote_ident('a"b') == '"a""b"'
    table, col = quote_ident("My Table"), quote_ident('we"ird')
    con = duckdb.connect()
    try:
        con.execute(f"CREATE TABLE {table} ({col} INTEGER)")
        assert [d[0] for d in con.execute(f"SELECT {col} FROM {table}").description] == ['we"ird']
    finally:
        con.close()


@pytest.mark.parametrize("name", ["default", "Sales 2024 (EUR)", "select", "Order-Date", "naïve.v2", "a'b"])
def test_any_printable_name_is_a_valid_source(tmp_path: Path, name: str) -> None:
    assert table_name_problem(name) is None
    charter = _project(tmp_path, GOOD_DEFAULT, GOOD_MY)
    text = charter.read_text().replace("  default:\n", f"  {json.dumps(name)}:\n", 1)
    charter.write_text(text)
    assert name in load_charter(charter).sources


@pytest.mark.parametrize(
    ("yaml_key", "why"),  # YAML double-quoted escapes: \t is a tab, \0 is NUL
    [('""', "is empty"), ('" padded"', "whitespace"), ('"tab\\there"', "control character"),
     ('"nul\\0x"', "control character"), ("'say \"hi\"'", "double quote")],
)
def test_unusable_source_names_are_refused_with_the_rule(tmp_path: Path, yaml_key: str, why: str) -> None:
    charter = _project(tmp_path, GOOD_DEFAULT, GOOD_MY)
    charter.write_text(charter.read_text().replace("  default:\n", f"  {yaml_key}:\n", 1))
    with pytest.raises(ConfigError) as info:
        load_charter(charter)
    assert why in str(info.value) and "a table name may hold any characters" in str(info.value)


def test_source_names_that_differ_only_in_case_are_refused(tmp_path: Path) -> None:
    charter = _project(tmp_path, GOOD_DEFAULT, GOOD_MY)
    charter.write_text(charter.read_text().replace("  My Table:\n", "  DEFAULT:\n", 1))
    with pytest.raises(ConfigError, match="differ only in case"):
        load_charter(charter)


def test_contract_dataset_and_reference_accept_any_table_name(tmp_path: Path) -> None:
    assert split_reference("airlines.carrier") == ("airlines", "carrier")
    assert split_reference('"My.Table"."Order Date"') == ("My.Table", "Order Date")
    assert split_reference('My Table."say ""hi"""') == ("My Table", 'say "hi"')
    with pytest.raises(ValueError, match="double quotes"):
        split_reference("a.b.c")
    path = tmp_path / "c.yml"
    path.write_text(MY_CONTRACT)
    contract = load_contract(path)
    assert contract.dataset == "My Table"
    refs = {r.column: r.params for r in contract.rules if r.kind == "references"}
    assert refs == {"group": {"table": "default", "to_column": "group"},
                    "MixedCase": {"table": "default", "to_column": "MixedCase"}}
    path.write_text(MY_CONTRACT.replace("dataset: My Table", "dataset: ' My Table'"))
    with pytest.raises(ContractSpecError, match="whitespace"):
        load_contract(path)


# --------------------------------------------------------------------------- warehouse + profiling


def test_ingest_and_fingerprint_keep_every_name(good) -> None:
    charter, results = good
    assert {r.table: r.fingerprint.rows for r in results} == {"default": 4, "My Table": 3}
    con = connect_read_only(charter.warehouse_path)
    try:
        for table in ("default", "My Table"):
            assert list(table_columns(con, table)) == ["select", "Order Date", "MixedCase", "group"]
            assert fingerprint(con, table).rows in (3, 4)
    finally:
        con.close()


def test_profiling_returns_stats_for_every_column(good) -> None:
    charter, _ = good
    con = connect_read_only(charter.warehouse_path)
    try:
        for table, rows in (("default", 4), ("My Table", 3)):
            prof = profile_table(con, table)
            assert prof.table == table and prof.row_count == rows
            assert prof.column_names == ["select", "Order Date", "MixedCase", "group"]
            sel, date, mixed, grp = prof.columns
            assert sel.kind == "numeric" and sel.null_count == 0 and sel.min is not None and sel.histogram
            assert date.kind == "temporal" and date.min_label and date.max_label
            assert mixed.kind == "categorical" and dict(mixed.top_values)["ab"] == 2
            assert grp.kind == "categorical" and grp.null_count == (1 if table == "default" else 0)
            assert all(col.distinct_count for col in prof.columns)
            stats = prof.column_stats()
            assert any("Order Date" in k for k in stats) and any("select" in k for k in stats)
            report = drift(prof, profile_table(con, table, reference=prof))
            assert [c.name for c in report.columns] == prof.column_names and not report.flagged
        edges = (0.0, 1.0, 2.0, 3.0)
        hist = histogram_on_edges(con, "My Table", "select", edges)
        assert sum(hist.counts) + hist.below + hist.above == 3
    finally:
        con.close()


# --------------------------------------------------------------------------- contracts


def _by_id(results) -> dict[str, object]:
    return {r.rule_id: r for res in results for r in res.rules}


def test_every_rule_passes_on_good_data(good) -> None:
    charter, _ = good
    results = contract_step.check_all(charter)
    rules = _by_id(results)
    assert {r.dataset for r in results} == {"default", "My Table"}
    assert {rid: (r.success, r.error) for rid, r in rules.items() if not r.success or r.error} == {}
    assert len(rules) == 18  # the 18 rules of test_every_rule_fails_on_its_planted_violation
    assert all(res.passed for res in results)


def test_every_rule_fails_on_its_planted_violation(bad) -> None:
    charter, _ = bad
    results = contract_step.check_all(charter)
    rules = _by_id(results)
    assert [rid for rid, r in rules.items() if r.error] == []
    outcome = {rid: (r.success, r.unexpected_count) for rid, r in rules.items()}
    assert outcome == {
        "default.row_count": (True, None),
        "default.select.type": (True, None),
        "default.select.not_null": (False, 1),
        "default.select.range": (False, 1),
        "default.select.unique": (False, 2),
        "default.Order Date.type": (True, None),
        "default.Order Date.not_null": (True, 0),
        "default.MixedCase.regex": (False, 1),
        "default.group.allowed": (False, 1),
        "default.group.max_null_fraction": (True, None),
        "default.unique.select+Order Date": (False, 1),
        "default.row_check.positive": (False, 1),
        "My Table.row_count": (True, None),
        "My Table.MixedCase.not_null": (False, 1),
        "My Table.freshness.Order Date": (False, None),
        "My Table.references.group": (False, 1),
        "My Table.references.MixedCase": (False, 1),
        "My Table.row_check.not_negative": (False, 1),
    }
    assert rules["default.MixedCase.regex"].examples == ("AB1",)
    assert rules["default.group.allowed"].examples == ("zzz",)
    # the quarantine rule moved its row out of `default` into `default__quarantine`
    assert rules["default.group.allowed"].quarantined_rows == 1
    con = connect_read_only(charter.warehouse_path)
    try:
        assert con.execute('SELECT "group" FROM "default__quarantine"').fetchall() == [("zzz",)]
        assert con.execute('SELECT count(*) FROM "default"').fetchone() == (4,)
    finally:
        con.close()
    assert all(all(k == k.strip() for k in res.metrics()) for res in results)


def test_suggested_contract_for_an_odd_table_loads_and_passes(good, tmp_path: Path) -> None:
    charter, _ = good
    out = tmp_path / "draft.yml"
    suggest_contract(charter.warehouse_path, "My Table", out=out)
    contract = load_contract(out)
    assert contract.dataset == "My Table"
    result = check_contract(charter.warehouse_path, contract, quarantine=False)
    assert result.passed and not [r for r in result.rules if r.error]


def test_keyword_and_whitespace_column_names_through_gx(tmp_path: Path) -> None:
    """Names SQLAlchemy leaves bare but DuckDB parses as keywords (`by`, `asof`) and names
    GX cannot bind (a tab) are checked by GX too: the first quoted, the second aliased."""
    cols = ["by", "asof", "tab\there", "it's", "50% off", "a:b"]
    assert [gx_column(c) == c for c in cols] == [True, True, False, True, True, True]
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    select = ", ".join(f"v AS {quote_ident(c)}" for c in cols)
    con.execute(f"CREATE TABLE {quote_ident('by')} AS SELECT {select} FROM (VALUES (1), (2), (NULL), (7), (1)) t(v)")
    con.close()
    spec = {c: {"nullable": False, "allowed": [1, 2], "range": {"min": 0, "max": 5}, "unique": True} for c in cols}
    path = tmp_path / "c.yml"
    path.write_text(json.dumps({"dataset": "by", "owner": "x", "version": "1", "columns": spec}))
    contract = load_contract(path)
    assert '"tab\there" AS "_wb_gx_' in batch_query(contract)
    result = check_contract(db, contract, quarantine=False)
    got = {r.rule_id: (r.success, r.unexpected_count, r.error) for r in result.rules}
    for c in cols:
        assert got[f"by.{c}.not_null"] == (False, 1, None)
        assert got[f"by.{c}.allowed"] == (False, 1, None)
        assert got[f"by.{c}.range"] == (False, 1, None)
        assert got[f"by.{c}.unique"][0:1] == (False,) and got[f"by.{c}.unique"][2] is None


def test_a_wide_select_asked_in_chunks_gives_the_one_query_row() -> None:
    """data.sql.select_wide: each column's expressions kept together, in order, whatever the chunk."""
    from workbench.data.sql import WIDE_CHUNK, select_wide

    con = duckdb.connect()
    width = 2 * WIDE_CHUNK + 3
    con.execute("CREATE TABLE t AS SELECT " + ", ".join(f"range * {i} AS {quote_ident(f'c {i}')}" for i in range(width))
                + " FROM range(7)")
    items = [f"count(DISTINCT {quote_ident(f'c {i}')}), max({quote_ident(f'c {i}')})" for i in range(width)]
    whole = con.execute(f"SELECT {', '.join(items)} FROM t").fetchone()
    assert select_wide(con, items, "t") == whole
    assert whole[-2:] == (7, 6 * (width - 1)) and len(whole) == 2 * width
    assert select_wide(con, items[:3], f"t WHERE {quote_ident('c 1')} < 2") == (1, 0, 2, 1, 2, 2)
