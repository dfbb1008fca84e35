"""Validate a contract on a Spark dataframe with Great Expectations' Spark datasource.

The same contract YAML, compiled by :mod:`.compile` to the same expectations, decided by
GX in the same two passes as on DuckDB (:mod:`.check`): booleans for every rule, then
details for what failed. What differs is only where the SQL runs: the queries of the
rules GX has no expectation for (compound uniqueness, freshness, references, row checks)
are written in DuckDB's dialect and translated to Spark's (``translate``, sqlglot), and
the ``type`` rule compares Spark's ``typeof`` with the Spark type the declared one is
stored as. The datasource is added with ``persist=False``: GX would otherwise cache the
whole dataframe in memory. pyspark itself is not imported here: the dataframe and the
session come from :mod:`workbench.data.engines.spark`.

``on_fail: quarantine`` moves rows after this check, in the engine
(:meth:`workbench.data.engines.spark.SparkEngine.check_contract`), with the same predicates.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from ...errors import ContractSpecError
from .results import ContractResult
from .spec import Contract

__all__ = ["check_contract_frame"]


def _translated(expectation: Any, translate: Callable[[str], str], query: str | None = None) -> Any:
    q = query if query is not None else expectation.unexpected_rows_query
    return type(expectation)(unexpected_rows_query=translate(q), meta=expectation.meta,
                             description=expectation.description)


def check_contract_frame(spark: Any, df: Any, contract: Contract, *, translate: Callable[[str], str],
                         spark_type: Callable[[str], str], max_examples: int = 5,
                         missing_columns: tuple[str, ...] | list[str] = (), **_ignored: Any) -> ContractResult:
    """Check ``contract`` against the Spark dataframe ``df`` (the lake table ``contract.dataset``;
    every lake table is a temporary view of ``spark`` for the references rules)."""
    started = time.perf_counter()
    from . import gx_duckdb  # noqa: F401 - sets GX_ANALYTICS_ENABLED before great_expectations loads
    from .check import _row_count, _rule_result, two_passes
    from .compile import compile_contract, quote_ident, quote_literal

    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations import UnexpectedRowsExpectation

    cols = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    contract.check_columns(cols, types=False)
    problems = []
    for rule in contract.rules:
        if rule.kind != "row_check" or any(c in str(rule.params.get("sql", "")) for c in missing_columns):
            continue
        probe = f"SELECT count(*) FROM (SELECT * FROM main.{quote_ident(contract.dataset)} LIMIT 0) AS t " \
                f"WHERE NOT ({rule.params.get('sql', '')})"
        try:
            spark.sql(translate(probe)).collect()
        except Exception as exc:  # noqa: BLE001 - Spark's analysis message is the useful part
            text = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            problems.append(f"{contract.where('table', 'row_checks', rule.id.rsplit('.', 1)[-1])}: {rule.id}: "
                            f"the SQL does not run: {text}")
    if problems:
        raise ContractSpecError(
            f"{len(problems)} row check(s) of contract '{contract.dataset}' cannot be evaluated (a mistake in the "
            "contract, not in the data):\n  " + "\n  ".join(problems),
            hint=f"fix the SQL of each row check: a predicate over the columns of '{contract.dataset}'")

    compiled = []
    for c in compile_contract(contract):
        if c.rule.kind == "type":
            want = spark_type(str(c.rule.params["type"])).lower()
            q = (f"SELECT actual_type FROM (SELECT typeof({quote_ident(c.rule.column)}) AS actual_type FROM {{batch}} "
                 f"LIMIT 1) WHERE actual_type <> {quote_literal(want)}")
            c = dataclasses.replace(c, check=_translated(c.check, translate, q), detail=_translated(c.detail, translate, q))
        else:
            if isinstance(c.check, UnexpectedRowsExpectation):
                c = dataclasses.replace(c, check=_translated(c.check, translate))
            if isinstance(c.detail, UnexpectedRowsExpectation):
                c = dataclasses.replace(c, detail=_translated(c.detail, translate))
        compiled.append(c)

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    ds = ctx.data_sources.add_spark(name="lake", persist=False)
    asset = ds.add_dataframe_asset(name=contract.dataset)
    batch = asset.add_batch_definition_whole_dataframe("whole table").get_batch(batch_parameters={"dataframe": df})

    outcome, details, row_rule = two_passes(ctx, batch, contract.dataset, compiled, max_examples)
    row_count = _row_count(details.get(row_rule.rule.id))
    results = [_rule_result(c.rule, outcome[c.rule.id], details.get(c.rule.id), c.examples_from, row_count,
                            max_examples) for c in compiled]
    return ContractResult(
        dataset=contract.dataset, contract_version=contract.version, contract_sha256=contract.sha256,
        contract_path=str(contract.path), rules=tuple(results), row_count=row_count, quarantine_table=None,
        quarantined_rows=0, duration_s=time.perf_counter() - started)
