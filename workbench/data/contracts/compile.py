"""The one place a contract becomes Great Expectations expectations.

Each rule compiles to two expectations and, when it is row-level, a SQL predicate:

- ``check``: the cheapest GX expectation that decides pass/fail, run for every rule with
  ``BOOLEAN_ONLY`` results. GX bundles the column-map ones (not null, in set, between,
  regex) into one aggregate query per table. Column uniqueness is decided by
  ``expect_column_proportion_of_unique_values_to_be_between(1, 1)`` (one COUNT DISTINCT)
  instead of GX's window query, which costs more than all other rules together.
- ``detail``: the expectation that explains a failure (counts, example values); run only
  for rules whose check failed, with ``BASIC`` results (examples off for PII columns).
- ``violation``: the predicate a row breaking the rule satisfies, used by quarantine; it
  has the same semantics as the GX check (NULLs ignored, bounds inclusive, regex full match).

Rules GX has no expectation for (type, compound uniqueness, freshness, referential
integrity, row checks) use ``UnexpectedRowsExpectation`` with SQL, still executed by GX.

Names: every table and column name in SQL written here goes through ``quote_ident``.
GX validates :func:`batch_query` (a query asset, so ``{batch}`` renders as a quoted
subquery; GX renders a table asset's ``{batch}`` unquoted), and writes the column names
of its own expectations through SQLAlchemy, whose quoting ``gx_duckdb`` extends to every
DuckDB keyword. A name GX still cannot put in SQL (one holding a tab, a line break or
other non-space whitespace: GX turns the name into a bind-parameter name) is validated
through a plain alias that :func:`batch_query` adds (:func:`gx_column`), so the rule keeps
GX's exact semantics.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..sql import quote_ident, quote_literal
from .spec import ROW_LEVEL_KINDS, Contract, Rule

if TYPE_CHECKING:  # pragma: no cover
    from great_expectations.expectations import Expectation

__all__ = [
    "CompiledRule", "compile_contract", "suite_json", "quote_ident", "quote_literal", "gx_column", "batch_query",
]

_AGE = re.compile(r"^\s*(\d+)\s*(minute|hour|day|week)s?\s*$")


def _gx_safe(name: str) -> bool:
    # Measured on GX 1.x + duckdb-engine: every other character works (keywords, quotes,
    # %, :, {}, dots, unicode); whitespace other than a plain space breaks the bind-parameter
    # names GX derives from the column (ExpectColumnValuesToBeInSet).
    return not any(
        ch != " " and (ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Zs")) for ch in name
    )


def gx_column(name: str) -> str:
    """The column name GX's own expectations use for ``name``: itself, or a plain alias
    (``_wb_gx_<hash>``) that :func:`batch_query` selects when GX cannot handle the name."""
    if _gx_safe(name):
        return name
    return "_wb_gx_" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:12]


def batch_query(contract: Contract) -> str:
    """The SELECT GX validates: ``main.<dataset>``, quoted, plus the aliases of :func:`gx_column`."""
    cols = sorted({r.column for r in contract.rules if r.column and gx_column(r.column) != r.column})
    aliases = "".join(f", {quote_ident(c)} AS {quote_ident(gx_column(c))}" for c in cols)
    return f"SELECT *{aliases} FROM main.{quote_ident(contract.dataset)}"


def _gx_value(value: Any) -> Any:
    # GX serialises suites to JSON: dates travel as ISO strings (DuckDB casts them back).
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _braces(sql: str) -> str:
    # UnexpectedRowsExpectation formats the query with str.format ({batch}).
    return sql.replace("{", "{{").replace("}", "}}")


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    check: Expectation
    detail: Expectation
    violation: str | None  # SQL predicate true for a row that breaks the rule (row-level rules)
    examples_from: str | None  # which key of the GX detail result carries examples


def _meta(rule: Rule, phase: str) -> dict[str, Any]:
    return {"rule_id": rule.id, "phase": phase, "severity": rule.severity}


_COUNT_ONLY: Any = None


def _count_only_class() -> Any:
    """``UnexpectedRowsExpectation`` that asks GX for the unexpected-row *count* only.

    GX's own class decides on the count but always computes the rows too: two full runs
    of the query (at 10 M rows, the compound-uniqueness GROUP BY twice: 1.6 s of a 4 s
    check). The check phase needs only the count; the detail phase keeps GX's class and
    its rows for the examples. Defined once: GX registers expectation classes by name."""
    global _COUNT_ONLY
    if _COUNT_ONLY is None:
        from typing import ClassVar

        from great_expectations.expectations import UnexpectedRowsExpectation

        class ExpectNoUnexpectedRows(UnexpectedRowsExpectation):
            metric_dependencies: ClassVar[tuple[str, ...]] = ("unexpected_rows_query.row_count",)

            def _validate(self, metrics: dict, runtime_configuration: dict | None = None,
                          execution_engine: Any = None) -> dict:
                count = metrics["unexpected_rows_query.row_count"]
                return {"success": count == 0, "result": {"observed_value": count}}

        _COUNT_ONLY = ExpectNoUnexpectedRows
    return _COUNT_ONLY


def _compile(rule: Rule, contract: Contract) -> CompiledRule:
    import great_expectations.expectations as gxe

    qcol = quote_ident(rule.column) if rule.column else ""
    col = gx_column(rule.column) if rule.column else None  # for GX's column expectations
    p = rule.params
    m1, m2 = _meta(rule, "check"), _meta(rule, "detail")
    violation: str | None = None
    examples_from: str | None = "partial_unexpected_list"

    def urows(query: str, meta: dict[str, Any]) -> Expectation:
        cls = _count_only_class() if meta is m1 else gxe.UnexpectedRowsExpectation
        return cls(unexpected_rows_query=query, meta=meta, description=rule.id)

    if rule.kind == "type":
        # typeof() of one row: decides the column's type without scanning the table.
        q = (
            f"SELECT actual_type FROM (SELECT typeof({qcol}) AS actual_type FROM {{batch}} LIMIT 1) "
            f"WHERE actual_type <> {quote_literal(p['type'])}"
        )
        check, detail = urows(q, m1), urows(q, m2)
        examples_from = "details"
    elif rule.kind == "not_null":
        check = gxe.ExpectColumnValuesToNotBeNull(column=col, meta=m1)
        detail = gxe.ExpectColumnValuesToNotBeNull(column=col, meta=m2)
        violation = f"{qcol} IS NULL"
        examples_from = None  # the examples would all be NULL
    elif rule.kind == "max_null_fraction":
        mostly = round(1.0 - float(p["value"]), 12)
        check = gxe.ExpectColumnValuesToNotBeNull(column=col, mostly=mostly, meta=m1)
        detail = gxe.ExpectColumnValuesToNotBeNull(column=col, mostly=mostly, meta=m2)
        examples_from = None
    elif rule.kind == "allowed":
        values = [_gx_value(v) for v in p["values"]]
        check = gxe.ExpectColumnValuesToBeInSet(column=col, value_set=values, meta=m1)
        detail = gxe.ExpectColumnValuesToBeInSet(column=col, value_set=values, meta=m2)
        violation = f"{qcol} IS NOT NULL AND {qcol} NOT IN ({', '.join(quote_literal(v) for v in p['values'])})"
    elif rule.kind == "range":
        lo, hi = _gx_value(p["min"]), _gx_value(p["max"])
        check = gxe.ExpectColumnValuesToBeBetween(column=col, min_value=lo, max_value=hi, meta=m1)
        detail = gxe.ExpectColumnValuesToBeBetween(column=col, min_value=lo, max_value=hi, meta=m2)
        parts = []
        if p["min"] is not None:
            parts.append(f"{qcol} < {quote_literal(p['min'])}")
        if p["max"] is not None:
            parts.append(f"{qcol} > {quote_literal(p['max'])}")
        violation = f"{qcol} IS NOT NULL AND ({' OR '.join(parts)})"
    elif rule.kind == "regex":
        check = gxe.ExpectColumnValuesToMatchRegex(column=col, regex=p["pattern"], meta=m1)
        detail = gxe.ExpectColumnValuesToMatchRegex(column=col, regex=p["pattern"], meta=m2)
        # GX emits `~` on DuckDB, a substring match (regexp_matches): same semantics here;
        # contracts anchor their patterns (^...$) so every engine agrees.
        violation = f"{qcol} IS NOT NULL AND NOT regexp_matches({qcol}, {quote_literal(p['pattern'])})"
    elif rule.kind == "unique":
        check = gxe.ExpectColumnProportionOfUniqueValuesToBeBetween(
            column=col, min_value=1.0, max_value=1.0, meta=m1
        )
        detail = gxe.ExpectColumnValuesToBeUnique(column=col, meta=m2)
    elif rule.kind == "row_count":
        check = gxe.ExpectTableRowCountToBeBetween(min_value=p["min"], max_value=p["max"], meta=m1)
        detail = gxe.ExpectTableRowCountToBeBetween(min_value=p["min"], max_value=p["max"], meta=m2)
        examples_from = None
    elif rule.kind == "compound_unique":
        cols = ", ".join(quote_ident(c) for c in p["columns"])
        notnull = " AND ".join(f"{quote_ident(c)} IS NOT NULL" for c in p["columns"])
        q = f"SELECT {cols}, count(*) AS n FROM {{batch}} WHERE {notnull} GROUP BY {cols} HAVING count(*) > 1"
        check, detail = urows(q, m1), urows(q, m2)
        examples_from = "details"
    elif rule.kind == "freshness":
        n, unit = _AGE.match(p["max_age"]).groups()  # type: ignore[union-attr]
        ref = (
            f"CAST({quote_literal(_gx_value(p['as_of']))} AS TIMESTAMPTZ)" if p["as_of"] is not None else "now()"
        )
        q = (
            f"SELECT CAST(max({qcol}) AS VARCHAR) AS newest FROM {{batch}} HAVING max({qcol}) IS NULL "
            f"OR CAST(max({qcol}) AS TIMESTAMPTZ) < {ref} - INTERVAL '{int(n)} {unit}'"
        )
        check, detail = urows(q, m1), urows(q, m2)
        examples_from = "details"
    elif rule.kind == "references":
        tbl, to = quote_ident(p["table"]), quote_ident(p["to_column"])
        violation = f"{qcol} IS NOT NULL AND {qcol} NOT IN (SELECT {to} FROM main.{tbl} WHERE {to} IS NOT NULL)"
        q = f"SELECT {qcol} FROM {{batch}} WHERE {violation}"
        check, detail = urows(q, m1), urows(q, m2)
        examples_from = "details"
    elif rule.kind == "row_check":
        violation = f"NOT ({p['sql']})"
        # count only: a row check may touch any column, PII included
        q = f"SELECT 1 AS violation FROM {{batch}} WHERE {_braces(violation)}"
        check, detail = urows(q, m1), urows(q, m2)
        examples_from = None
    else:  # pragma: no cover - spec.py defines the kinds
        raise AssertionError(rule.kind)
    if rule.kind not in ROW_LEVEL_KINDS:
        violation = None
    return CompiledRule(rule, check, detail, violation, examples_from)


def compile_contract(contract: Contract) -> list[CompiledRule]:
    """Every rule of ``contract`` as GX expectations (imports great_expectations)."""
    from . import gx_duckdb  # noqa: F401  (sets GX_ANALYTICS_ENABLED before GX loads)

    return [_compile(rule, contract) for rule in contract.rules]


def suite_json(contract: Contract) -> dict[str, Any]:
    """The GX ExpectationSuite (the ``check`` expectations) as JSON, for an artifact."""
    import great_expectations as gx

    # built whole: add_expectation compares each new expectation with every one before it (as
    # pydantic dicts), 0.5 s for 184 rules and quadratic in a wide table's columns
    suite = gx.ExpectationSuite(
        name=f"{contract.dataset}-contract",
        expectations=[c.check for c in compile_contract(contract)],
        meta={
            "contract_version": contract.version,
            "contract_sha256": contract.sha256,
            "contract_path": str(contract.path),
        },
    )
    return suite.to_json_dict()
