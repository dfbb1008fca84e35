"""Validate a contract on the DuckDB warehouse with Great Expectations, pushed down.

Design (measured in bench/contracts.py): GX really decides every rule, in two passes.

1. Every rule's cheap ``check`` expectation with ``BOOLEAN_ONLY`` results: GX bundles
   the column-map rules into one aggregate scan; nothing is fetched but booleans.
2. Only for rules that failed, the ``detail`` expectation with ``BASIC`` results
   (unexpected counts and a few examples; example fetching is off for PII columns),
   plus the row count. A passing contract therefore costs about one scan per rule group.

Lazy: every expectation runs; one that raised counts as failed with its error text;
then the result decides. No table is pulled into pandas: all work is SQL in DuckDB,
which runs with a ``memory_limit`` and a spill directory so big tables spill instead of
growing the process.

Connection: ``check_contract`` opens the warehouse file itself, read-only, unless the
contract has ``on_fail: quarantine`` rules; then it opens it read-write (the caller must
hold the warehouse write lock) and moves offending rows in one transaction after GX has
closed its connection. No other connection to the file may be open in this process
with a different configuration (DuckDB refuses it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from ...errors import ContractError, ContractSpecError, WarehouseError, WarehouseLockedError
from ..sql import wide_chunks
from .results import ContractResult, RuleResult
from .spec import Contract, Rule

__all__ = ["check_contract", "table_columns", "DEFAULT_MEMORY_LIMIT"]

# GX + pandas + numpy already take ~300 MB of RSS; DuckDB gets the rest of a 1 GB budget.
DEFAULT_MEMORY_LIMIT = "512MB"
_QUOTED = re.compile(r"('[^']*'|\"[^\"]*\")")


def table_columns(con: Any, table: str) -> dict[str, str]:
    """name -> DuckDB type of ``main.<table>`` through a DB-API/duckdb connection."""
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return {str(n): str(t) for n, t in rows}


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _exception(res: Any) -> str | None:
    """The error text if this GX result (or one of its metrics) raised, else None."""
    info = res.exception_info or {}
    found: list[str] = []
    if isinstance(info, dict) and info.get("raised_exception"):
        found.append(str(info.get("exception_message") or "raised"))
    elif isinstance(info, dict):
        for v in info.values():
            if isinstance(v, dict) and v.get("raised_exception"):
                found.append(str(v.get("exception_message") or "raised"))
            elif hasattr(v, "raised_exception") and v.raised_exception:
                found.append(str(getattr(v, "exception_message", "raised")))
    if not found:
        return None
    text = found[0].strip().splitlines()[0] if found[0].strip() else "raised"
    return text[:500]


def _open_error(exc: Exception, warehouse: Path) -> WarehouseError:
    msg = str(exc)
    if "lock" in msg.lower():
        return WarehouseLockedError(
            f"cannot open the warehouse: {msg.splitlines()[0]}",
            where=str(warehouse),
            hint="another process (a kernel, the pilot) holds the file; close it and retry",
        )
    return WarehouseError(
        f"cannot open the warehouse: {msg.splitlines()[0]}",
        where=str(warehouse),
        hint="check the path and that the file is a DuckDB database",
    )


def check_contract(
    warehouse: Path | str,
    contract: Contract,
    *,
    memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
    threads: int | None = None,
    max_examples: int = 5,
    quarantine: bool = True,
    missing_columns: tuple[str, ...] | list[str] = (),
) -> ContractResult:
    """Check ``contract`` against table ``main.<dataset>`` of the DuckDB file ``warehouse``.

    Raises ContractSpecError if the table or a named column is missing (or a declared
    type differs), WarehouseError/WarehouseLockedError if the file cannot be opened.
    Rule failures are not exceptions: they are in the returned ContractResult.
    ``quarantine=False`` reports rule failures without moving rows (and opens read-only).
    ``missing_columns``: declared columns the data lacks (reported by the caller); a row
    check that needs one fails as a rule instead of counting as a mistake in its SQL.
    """
    started = time.perf_counter()
    warehouse = Path(warehouse)
    if not warehouse.is_file():
        raise WarehouseError(
            "warehouse file not found", where=str(warehouse), hint="run the ingest step first"
        )
    wants_quarantine = quarantine and any(r.on_fail == "quarantine" for r in contract.rules)

    from . import gx_duckdb  # sets GX_ANALYTICS_ENABLED before great_expectations loads
    from .compile import batch_query, compile_contract

    import great_expectations as gx
    import sqlalchemy as sa

    spill = tempfile.mkdtemp(prefix="wb-contract-spill-")
    url = gx_duckdb.duckdb_url(
        warehouse,
        read_only=not wants_quarantine,
        memory_limit=memory_limit,
        threads=threads,
        temp_directory=spill,
    )
    ctx = gx.get_context(mode="ephemeral")
    # GX draws a tqdm bar per validation on stderr: noise in the CLI, the runner and CI logs
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    ds = None
    try:
        try:
            ds = ctx.data_sources.add_duckdb(name="warehouse", connection_string=url)
            engine = ds.get_execution_engine()
            tables: list[str] = []
            with engine.get_connection() as conn:
                cols = dict(
                    conn.execute(
                        sa.text(
                            "SELECT column_name, data_type FROM information_schema.columns "
                            "WHERE table_schema = 'main' AND table_name = :t ORDER BY ordinal_position"
                        ),
                        {"t": contract.dataset},
                    ).fetchall()
                )
                if not cols:
                    tables = [
                        r[0]
                        for r in conn.execute(
                            sa.text("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'")
                        ).fetchall()
                    ]
        except Exception as exc:
            if isinstance(exc, ContractError):
                raise
            raise _open_error(exc, warehouse) from exc
        if not cols:
            raise ContractSpecError(
                f"table '{contract.dataset}' is not in the warehouse; it has: {', '.join(sorted(tables)) or '(no tables)'}",
                where=f"{contract.path} (key dataset)",
                hint="set `dataset:` to the table name the ingest created",
            )
        # a missing column is a spec error; a type that drifted is a failed `type` rule
        contract.check_columns(cols, types=False)
        # a row check whose SQL does not run is the contract's mistake, not the data's
        with engine.get_connection() as conn:
            unrunnable = _check_rule_sql(conn, contract, cols, missing_columns)
        if unrunnable:
            contract = dataclasses.replace(contract, rules=tuple(r for r in contract.rules if r.id not in unrunnable))

        # A query asset, not a table asset: GX renders a table asset's `{batch}` (and a
        # table name such as `default`) unquoted; this query quotes every name itself.
        # GX reads the query with sqlalchemy.text(), where `:name` is a bind parameter.
        query = batch_query(contract).replace(":", "\\:")
        asset = ds.add_query_asset(name=contract.dataset, query=query)
        batch = asset.add_batch_definition_whole_table("whole table").get_batch()
        compiled = compile_contract(contract)

        outcome, details, row_rule = two_passes(ctx, batch, contract.dataset, compiled, max_examples)
    finally:
        if ds is not None:
            gx_duckdb.close_engine(ds)
        shutil.rmtree(spill, ignore_errors=True)

    row_count = _row_count(details.get(row_rule.rule.id))
    results = [
        _rule_result(c.rule, outcome[c.rule.id], details.get(c.rule.id), c.examples_from, row_count, max_examples)
        for c in compiled
    ]

    results += [RuleResult(rule_id=rule.id, column=None, kind=rule.kind, severity=rule.severity, success=False,
                           error=why, on_fail=rule.on_fail) for rule, why in unrunnable.values()]

    qtable, qtotal = None, 0
    if wants_quarantine:
        todo = quarantine_todo(compiled, results)
        if todo:
            qtable = f"{contract.dataset}__quarantine"
            qtotal, per_rule = _quarantine(warehouse, contract.dataset, qtable, todo, memory_limit, threads)
            results = [_with_quarantine(r, per_rule.get(r.rule_id, 0)) for r in results]

    return ContractResult(
        dataset=contract.dataset,
        contract_version=contract.version,
        contract_sha256=contract.sha256,
        contract_path=str(contract.path),
        rules=tuple(results),
        row_count=row_count,
        quarantine_table=qtable,
        quarantined_rows=qtotal,
        duration_s=time.perf_counter() - started,
    )


def _check_rule_sql(conn: Any, contract: Contract, cols: dict[str, str],
                    missing_columns: tuple[str, ...] | list[str] = ()) -> dict[str, tuple[Rule, str]]:
    """Bind every row check's SQL on the table without reading a row (``LIMIT 0``): a
    parse or binder error raises :class:`ContractSpecError` naming each rule by its id and
    the contract's line, instead of the rule counting as broken data. A check that only
    fails because it names a column the data lacks (``missing_columns``) is the data's
    fault: returned as {rule id: (rule, why)}, to be reported as a failed rule."""
    import sqlalchemy as sa

    from .compile import quote_ident

    problems, first_where = [], None
    unrunnable: dict[str, tuple[Rule, str]] = {}
    empty = f"(SELECT * FROM main.{quote_ident(contract.dataset)} LIMIT 0) AS t"
    checks = [rule for rule in contract.rules if rule.kind == "row_check"]

    def fails(where: str) -> Exception | None:
        try:
            conn.execute(sa.text(f"SELECT count(*) FROM {empty} WHERE {where}".replace(":", "\\:"))).fetchall()
        except Exception as exc:  # noqa: BLE001 - DuckDB's parser/binder message is the useful part
            with contextlib.suppress(Exception):  # a failed statement aborts the transaction: the next would fail too
                conn.rollback()
            return exc
        return None

    # a chunk of checks bound a query (data.sql.wide_chunks), each alone only in a chunk that does
    # not bind: a wide table's drafted contract holds some 3,000 (HELPfull: 3,100, a query each took 16 s)
    bound: set[str] = set()
    for part in wide_chunks(checks):
        if fails(" OR ".join(f"NOT ({rule.params.get('sql', '')})" for rule in part)) is None:
            bound.update(rule.id for rule in part)
    for rule in checks:
        exc = None if rule.id in bound else fails(f"NOT ({rule.params.get('sql', '')})")
        if exc is not None:
            cause = getattr(exc, "orig", None) or exc
            text = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
            gone = re.search(r'Referenced column "([^"]+)" not found', text)
            if gone and gone.group(1) in set(missing_columns):
                unrunnable[rule.id] = (rule, f"column '{gone.group(1)}' is missing from the data, so this check "
                                             "cannot run")
                continue
            name = rule.id.rsplit(".", 1)[-1]
            where = contract.where("table", "row_checks", name)
            first_where = first_where or where
            # no row was read (LIMIT 0): the message quotes the rule's SQL, never a value
            problems.append(f"{where}: {rule.id}: the SQL does not run: {text[:300]}")
    if problems:
        raise ContractSpecError(
            f"{len(problems)} row check(s) of contract '{contract.dataset}' cannot be evaluated (a mistake in the "
            "contract, not in the data):\n  " + "\n  ".join(problems),
            where=first_where,
            hint=f"fix the SQL of each row check: a predicate over the columns of '{contract.dataset}' "
            f"({', '.join(cols)}); quote names with spaces or capitals in double quotes",
        )
    return unrunnable


def _detail_groups(want: list[Any], max_examples: int) -> list[tuple[list[Any], dict[str, Any]]]:
    """Split detail expectations by the result format they need.

    GX's UnexpectedRowsExpectation returns its rows only with COMPLETE (at most 200,
    fetched once); column-map expectations get their few examples with BASIC; rules on
    PII columns get BASIC with no examples, so their values are never even fetched.
    """
    basic, complete, pii = [], [], []
    for c in want:
        if c.rule.kind == "type":
            complete.append(c.detail)  # the observed type is metadata, not a value
        elif c.rule.pii:
            pii.append(c.detail)
        elif c.examples_from == "details":
            complete.append(c.detail)
        else:
            basic.append(c.detail)
    out = []
    if basic:
        out.append((basic, {"result_format": "BASIC", "partial_unexpected_count": max(max_examples, 1)}))
    if complete:
        out.append((complete, {"result_format": "COMPLETE"}))
    if pii:
        out.append((pii, {"result_format": "BASIC", "partial_unexpected_count": 0}))
    return out


def two_passes(ctx: Any, batch: Any, dataset: str, compiled: list[Any],
               max_examples: int) -> tuple[dict[str, tuple[bool, str | None]], dict[str, Any], Any]:
    """Validate ``compiled`` rules on ``batch`` in two passes, whatever the engine behind it:
    booleans for every rule, then details (examples, counts) only for the rules that failed
    (never for one that raised) and the row count. Returns ({rule id: (passed, error)},
    {rule id: detailed result}, the row-count rule)."""
    outcome: dict[str, tuple[bool, str | None]] = {}
    for res in _validate(ctx, batch, f"{dataset}.check", [c.check for c in compiled], "BOOLEAN_ONLY"):
        err = _exception(res)
        outcome[res.expectation_config.meta["rule_id"]] = (bool(res.success) and err is None, err)
    row_rule = next(c for c in compiled if c.rule.kind == "row_count")
    want = [c for c in compiled if not outcome[c.rule.id][0] and outcome[c.rule.id][1] is None]
    if row_rule not in want:
        want.insert(0, row_rule)
    details: dict[str, Any] = {}
    for group, fmt in _detail_groups(want, max_examples):
        for res in _validate(ctx, batch, f"{dataset}.detail.{fmt['result_format']}.{len(details)}", group, fmt):
            details[res.expectation_config.meta["rule_id"]] = res
    return outcome, details, row_rule


def _validate(ctx: Any, batch: Any, name: str, expectations: list[Any], result_format: Any) -> list[Any]:
    import great_expectations as gx

    suite = ctx.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
    return list(batch.validate(suite, result_format=result_format).results)


def _row_count(res: Any) -> int | None:
    if res is None:
        return None
    value = (res.result or {}).get("observed_value")
    return int(value) if isinstance(value, (int, float)) else None


def _rule_result(
    rule: Rule,
    outcome: tuple[bool, str | None],
    detail: Any,
    examples_from: str | None,
    row_count: int | None,
    max_examples: int,
) -> RuleResult:
    success, error = outcome
    if error is not None and (rule.pii or rule.kind == "row_check"):
        # a driver error can quote the offending value: redact quoted text for PII columns
        # (and row checks, which may read any column)
        error = _QUOTED.sub("'<redacted>'", error)
    base: dict[str, Any] = dict(
        rule_id=rule.id, column=rule.column, kind=rule.kind, severity=rule.severity,
        success=success, error=error, on_fail=rule.on_fail, masked=rule.pii,
    )
    row_level = rule.kind in {"not_null", "allowed", "range", "regex", "unique", "references", "row_check"}
    if success and rule.kind not in {"max_null_fraction", "type", "row_count", "freshness"}:
        # a pass without tolerance means nothing was unexpected
        base["unexpected_count"] = 0
        base["unexpected_percent"] = 0.0 if row_level else None
    if detail is None or error is not None:
        if rule.kind == "row_count" and detail is not None:
            base["observed"] = _row_count(detail)
        return RuleResult(**base)
    if _exception(detail) is not None:
        # the explaining query raised although the check did not: keep the verdict
        return RuleResult(**base)
    result = detail.result or {}
    examples: list[Any] = []
    if "unexpected_count" in result:  # GX column-map expectations
        base["unexpected_count"] = int(result["unexpected_count"] or 0)
        pct = result.get("unexpected_percent")
        base["unexpected_percent"] = float(pct) if pct is not None else None
        if examples_from == "partial_unexpected_list":
            examples = list(result.get("partial_unexpected_list") or [])
    elif rule.kind == "row_count":
        base["observed"] = _row_count(detail)
    else:  # UnexpectedRowsExpectation: observed_value = number of unexpected rows
        n = result.get("observed_value")
        rows = (result.get("details") or {}).get("unexpected_rows") or []
        if rule.kind == "type":
            base["observed"] = _first_value(rows)
        elif rule.kind == "freshness":
            base["observed"] = None if rule.pii else _first_value(rows)
        else:
            if isinstance(n, (int, float)):
                base["unexpected_count"] = int(n)
                if row_count:
                    base["unexpected_percent"] = 100.0 * int(n) / row_count
            if examples_from == "details":
                examples = [_row_example(r, rule) for r in rows[:max_examples]]
    if not rule.pii:
        # dedupe, keep order, JSON-ready
        seen: list[Any] = []
        for v in _jsonable(examples):
            if v not in seen:
                seen.append(v)
        base["examples"] = tuple(seen[:max_examples])
    return RuleResult(**base)


def _first_value(rows: list[Any]) -> Any:
    if not rows:
        return None
    row = rows[0]
    if isinstance(row, dict):
        return _jsonable(next(iter(row.values()), None))
    if isinstance(row, (list, tuple)):
        return _jsonable(row[0] if row else None)
    return _jsonable(row)


def _row_example(row: Any, rule: Rule) -> Any:
    if isinstance(row, dict):
        values = {k: v for k, v in row.items() if k != "n"}
        if len(values) == 1:
            return next(iter(values.values()))
        return values
    return row


def _with_quarantine(r: RuleResult, n: int) -> RuleResult:
    if not n:
        return r
    from dataclasses import replace

    return replace(r, quarantined_rows=n)


def quarantine_predicates(todo: list[tuple[str, str]]) -> tuple[str, str]:
    """(the list of rule ids a row breaks, whether it breaks any) in DuckDB's SQL, for the
    ``(rule id, violation predicate)`` pairs of the quarantine rules that failed; every
    engine moves the rows where the second is true (a NULL keeps the row, as a DELETE would)."""
    from .compile import quote_literal

    flags = ", ".join(f"CASE WHEN ({v}) THEN {quote_literal(rid)} END" for rid, v in todo)
    return (f"list_filter([{flags}], lambda _wb_r: _wb_r IS NOT NULL)",
            " OR ".join(f"({v})" for _, v in todo))


def quarantine_todo(compiled: Any, results: Any) -> list[tuple[str, str]]:
    """(rule id, violation predicate) of each failed ``on_fail: quarantine`` rule that can
    move rows (a row-level rule that ran); ``compiled``: the contract's compiled rules."""
    by_id = {c.rule.id: c for c in compiled}
    return [(r.rule_id, by_id[r.rule_id].violation) for r in results
            if not r.success and r.error is None and r.on_fail == "quarantine" and r.rule_id in by_id
            and by_id[r.rule_id].violation]


def _record_fingerprint(con: Any, table: str) -> None:
    """Ingest's record of ``table`` takes the fingerprint it has once rows left it: ingest
    skips an unchanged file only while the table still has the recorded fingerprint, and
    would otherwise reload the quarantined rows on the next run (where a cached contracts
    check would not move them out again)."""
    from .. import warehouse

    recorded = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' "
                           "AND table_name = ?", [warehouse.META_TABLE]).fetchall()[0][0]
    if recorded:
        fp = warehouse.fingerprint(con, table)
        con.execute(f"UPDATE {warehouse.META_TABLE} SET fingerprint = ? WHERE table_name = ?",
                    [json.dumps(fp.to_dict()), table])


def _quarantine(
    warehouse: Path,
    table: str,
    qtable: str,
    todo: list[tuple[str, str]],
    memory_limit: str | None,
    threads: int | None,
) -> tuple[int, dict[str, int]]:
    """Move rows breaking ``todo`` rules to ``qtable`` (+ ``_contract_rules`` list), one transaction."""
    import duckdb

    from .compile import quote_ident

    config: dict[str, Any] = {}
    if memory_limit:
        config["memory_limit"] = memory_limit
    if threads:
        config["threads"] = threads
    try:
        con = duckdb.connect(str(warehouse), config=config)
    except duckdb.Error as exc:
        raise _open_error(exc, warehouse) from exc
    t, q = f"main.{quote_ident(table)}", f"main.{quote_ident(qtable)}"
    rules, any_broken = quarantine_predicates(todo)
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(
            f"CREATE TEMP TABLE _wb_quarantine AS SELECT rowid AS _wb_rowid, *, "
            f"{rules} AS _contract_rules, "
            f"now() AS _quarantined_at FROM {t} WHERE {any_broken}"
        )
        con.execute(f"CREATE TABLE IF NOT EXISTS {q} AS SELECT * EXCLUDE (_wb_rowid) FROM _wb_quarantine WHERE false")
        con.execute(f"INSERT INTO {q} BY NAME SELECT * EXCLUDE (_wb_rowid) FROM _wb_quarantine")
        con.execute(f"DELETE FROM {t} WHERE rowid IN (SELECT _wb_rowid FROM _wb_quarantine)")
        total = con.execute("SELECT count(*) FROM _wb_quarantine").fetchall()[0][0]
        per_rule = dict(
            con.execute(
                "SELECT r, count(*) FROM (SELECT unnest(_contract_rules) AS r FROM _wb_quarantine) GROUP BY r"
            ).fetchall()
        )
        con.execute("DROP TABLE _wb_quarantine")
        _record_fingerprint(con, table)
        con.execute("COMMIT")
    except duckdb.Error as exc:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass
        raise ContractError(
            f"quarantine of {table} failed and was rolled back: {str(exc).splitlines()[0]}",
            where=f"{warehouse} (table {qtable})",
            hint=f"if {qtable} exists with other columns, rename or drop it, then rerun",
        ) from exc
    finally:
        con.close()
    return int(total), {str(k): int(v) for k, v in per_rule.items()}
