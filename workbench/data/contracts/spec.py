"""The data contract as data: YAML shape, pydantic models, loading with located errors.

A contract (``data_contracts/<dataset>.yml``) is written by an analyst::

    dataset: orders               # = table name in the warehouse (schema main)
    owner: data-eng@example.org
    version: 1.2.0
    description: one row per order line
    columns:
      quantity:
        type: BIGINT                         # DuckDB type name (aliases accepted)
        nullable: false                      # short form ...
        range: {min: 1, severity: warn}      # ... every rule also has a long form
      shipped_at:
        max_null_fraction: 0.05
      channel:
        allowed: [web, store, phone]
        # or: allowed: {values: [web, store, phone], on_fail: quarantine}
      country:
        regex: '^[A-Z]{2}$'                  # anchored: DuckDB matches the whole string
      email:
        pii: true                            # values never leave DuckDB: counts only
    table:
      row_count: {min: 1000, max: 1000000}
      unique: [[order_id, line]]                        # compound keys
      freshness: {column: ordered_at, max_age: 30 days}
      references:
        customer_id: customers.customer_id              # or {to: customers.customer_id, severity: warn}
      row_checks:
        shipped_after_ordered: "shipped_at IS NULL OR shipped_at >= ordered_at"

Every rule has ``severity`` (``error`` blocks the pilot, ``warn`` is reported; default
``error``); row-level rules (nullable, allowed, range, regex, references, row_checks)
may say ``on_fail: quarantine``. Every rule gets a stable id used in results and
metrics: ``<dataset>.<column>.<kind>`` for column rules, ``<dataset>.row_count``,
``<dataset>.unique.<a>+<b>``, ``<dataset>.freshness.<column>``,
``<dataset>.references.<column>``, ``<dataset>.row_check.<name>`` for table rules.

Names: ``dataset`` and the column keys may be any name DuckDB holds (SQL keywords such
as ``default``, spaces, mixed case); they are quoted wherever SQL is built from them.
``row_checks`` are SQL you write: quote such names there yourself
(``'"Order Date" <= "Ship Date"'``). A ``references`` target is ``table.column``; put a
part that holds a dot in double quotes (``'"My.Table"."Order Date"'``).

No vacuous pass: a contract must declare at least one rule, and an empty table fails
unless the contract says ``row_count: {min: 0}`` explicitly (an implicit
``<dataset>.row_count`` rule with ``min: 1`` is added when ``row_count`` is absent).
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import re
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ...charter.names import TABLE_NAME_RULE, RegularExpression, table_name_problem
from ...charter.yaml_reader import LocatedYaml, strip_tags, load_yaml, raise_for_validation
from ...errors import ContractSpecError

__all__ = [
    "Contract",
    "ContractSpec",
    "Rule",
    "load_contract",
    "normalize_type",
    "ROW_LEVEL_KINDS",
]

Severity = Literal["error", "warn"]
OnFail = Literal["report", "quarantine"]
Scalar = bool | int | float | str | dt.date | dt.datetime

# Row-level kinds: a failing row can be named, hence quarantined.
ROW_LEVEL_KINDS = frozenset({"not_null", "allowed", "range", "regex", "references", "row_check"})

_TYPE_ALIASES = {
    "INT8": "BIGINT", "LONG": "BIGINT", "INT64": "BIGINT",
    "INT4": "INTEGER", "INT": "INTEGER", "SIGNED": "INTEGER", "INT32": "INTEGER",
    "INT2": "SMALLINT", "SHORT": "SMALLINT", "INT16": "SMALLINT",
    "INT1": "TINYINT",
    "FLOAT8": "DOUBLE", "DOUBLE PRECISION": "DOUBLE", "FLOAT64": "DOUBLE",
    "FLOAT4": "FLOAT", "REAL": "FLOAT", "FLOAT32": "FLOAT",
    "TEXT": "VARCHAR", "STRING": "VARCHAR", "CHAR": "VARCHAR", "BPCHAR": "VARCHAR",
    "BOOL": "BOOLEAN", "LOGICAL": "BOOLEAN",
    "TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE", "DATETIME": "TIMESTAMP",
    "TIMESTAMP WITHOUT TIME ZONE": "TIMESTAMP",
    "BYTEA": "BLOB", "BINARY": "BLOB", "VARBINARY": "BLOB",
}
_BASE_TYPES = sorted(
    {
        "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER",
        "USMALLINT", "UTINYINT", "UHUGEINT", "DOUBLE", "FLOAT", "DECIMAL", "VARCHAR",
        "BOOLEAN", "DATE", "TIME", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_S",
        "TIMESTAMP_MS", "TIMESTAMP_NS", "INTERVAL", "UUID", "BLOB", "JSON",
    }
)


def normalize_type(name: str) -> str:
    """Canonical DuckDB type name (upper case, aliases resolved, VARCHAR(n) -> VARCHAR)."""
    t = " ".join(str(name).upper().split())
    t = re.sub(r"^(VARCHAR|CHAR|BPCHAR|TEXT|STRING)\s*\(\s*\d+\s*\)$", "VARCHAR", t)
    t = re.sub(r"^(NUMERIC|DEC)\b", "DECIMAL", t)
    t = re.sub(r"\s*\(\s*", "(", re.sub(r"\s*,\s*", ",", re.sub(r"\s*\)", ")", t)))
    return _TYPE_ALIASES.get(t, t)


# --------------------------------------------------------------------------- rules


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    severity: Severity = "error"

    # Short forms (`nullable: false`, `allowed: [a, b]`, `regex: '^x$'`) become the
    # long form's main key, so errors point at the user's key, not at a union member.
    short_key: ClassVar[str | None] = None

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        key = cls.short_key
        if key and not isinstance(value, dict):
            return {key: value}
        return value


class _RowRule(_Rule):
    on_fail: OnFail = "report"


class NullableRule(_RowRule):
    short_key = "value"
    value: bool


class MaxNullFractionRule(_Rule):
    short_key = "value"
    value: float = Field(ge=0.0, le=1.0)


class AllowedRule(_RowRule):
    short_key = "values"
    values: list[Scalar] = Field(min_length=1)


class RangeRule(_RowRule):
    min: Scalar | None = None
    max: Scalar | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> RangeRule:
        if self.min is None and self.max is None:
            raise ValueError("range needs `min`, `max` or both")
        return self


class RegexRule(_RowRule):
    short_key = "pattern"
    pattern: RegularExpression


class UniqueRule(_Rule):
    short_key = "value"
    value: bool = True


class TypeRule(_Rule):
    short_key = "name"
    name: str

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        t = normalize_type(v)
        if t in _BASE_TYPES or t.startswith(("DECIMAL(", "STRUCT(", "MAP(", "UNION(", "ENUM(")) or t.endswith("]"):
            return t
        close = difflib.get_close_matches(t, _BASE_TYPES, n=1)
        raise ValueError(
            f"unknown DuckDB type {v!r}"
            + (f" (did you mean {close[0]!r}?)" if close else "")
            + f"; valid: {', '.join(_BASE_TYPES)}"
        )


class ColumnSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    description: str | None = None
    type: TypeRule | None = None
    nullable: NullableRule | None = None
    max_null_fraction: MaxNullFractionRule | None = None
    allowed: AllowedRule | None = None
    range: RangeRule | None = None
    regex: RegexRule | None = None
    unique: UniqueRule | None = None
    pii: bool = False


class RowCountRule(_Rule):
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)


class CompoundUniqueRule(_Rule):
    short_key = "columns"
    columns: list[str] = Field(min_length=2)


_AGE = re.compile(r"^\s*(\d+)\s*(minute|minutes|hour|hours|day|days|week|weeks)\s*$")


class FreshnessRule(_Rule):
    column: str
    max_age: str
    as_of: dt.date | dt.datetime | None = None

    @field_validator("max_age")
    @classmethod
    def _age(cls, v: str) -> str:
        if not _AGE.match(str(v)):
            raise ValueError("max_age must look like '36 hours', '2 days' or '1 week'")
        return v


# `table.column`; a part holding a dot or a double quote is written in
# double quotes, with an embedded `"` doubled: `"My.Table"."Order Date"`.
_REF_PART = r'(?:"((?:[^"]|"")+)"|([^".]+))'
_REFERENCE = re.compile(rf"^{_REF_PART}\.{_REF_PART}$")


def split_reference(to: str) -> tuple[str, str]:
    """``table.column`` (either part may be double-quoted) -> (table, column)."""
    m = _REFERENCE.match(to)
    if m is None:
        raise ValueError(
            f"expected `table.column`, got {to!r}; write a name holding a dot in double quotes: "
            '`"My.Table"."Order Date"`'
        )
    qt, t, qc, c = m.groups()
    table = qt.replace('""', '"') if qt is not None else t
    column = qc.replace('""', '"') if qc is not None else c
    return table, column


class ReferenceRule(_RowRule):
    short_key = "to"
    to: str

    @field_validator("to")
    @classmethod
    def _table_column(cls, v: str) -> str:
        table, column = split_reference(v)
        problem = table_name_problem(table)
        if problem or not column.strip():
            raise ValueError(f"table {table!r} {problem}: {TABLE_NAME_RULE}" if problem else "the column name is empty")
        return v


class RowCheckRule(_RowRule):
    short_key = "sql"
    sql: str = Field(min_length=1)


class TableSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    row_count: RowCountRule | None = None
    unique: list[CompoundUniqueRule] = []
    freshness: FreshnessRule | None = None
    references: dict[str, ReferenceRule] = {}
    row_checks: dict[str, RowCheckRule] = {}


class ContractSpec(BaseModel):
    """The YAML document, validated (``extra="forbid"`` everywhere)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    dataset: str  # the table's name, as the charter's source names it (any name DuckDB holds)
    owner: str
    version: str
    description: str | None = None
    columns: dict[str, ColumnSpec] = {}
    table: TableSpec = TableSpec()

    @field_validator("dataset")
    @classmethod
    def _dataset(cls, v: str) -> str:
        problem = table_name_problem(v)
        if problem:
            raise ValueError(f"dataset {v!r} {problem}: {TABLE_NAME_RULE}")
        return v

    @field_validator("version", mode="before")
    @classmethod
    def _version_str(cls, v: Any) -> Any:
        return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


# --------------------------------------------------------------------------- compiled rules


@dataclass(frozen=True)
class Rule:
    """One checkable rule with its stable id; what compile.py turns into GX expectations."""

    id: str
    kind: str  # type|not_null|max_null_fraction|allowed|range|regex|unique|row_count|compound_unique|freshness|references|row_check
    severity: Severity
    column: str | None
    params: dict[str, Any]
    on_fail: OnFail = "report"
    pii: bool = False
    implicit: bool = False


@dataclass(frozen=True)
class Contract:
    """A loaded contract: the spec, its rules with ids, and where it came from."""

    spec: ContractSpec
    rules: tuple[Rule, ...]
    path: Path
    sha256: str
    _positions: dict[tuple[str | int, ...], str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def dataset(self) -> str:
        return self.spec.dataset

    @property
    def version(self) -> str:
        return self.spec.version

    @property
    def pii_columns(self) -> frozenset[str]:
        return frozenset(c for c, s in self.spec.columns.items() if s.pii)

    def where(self, *keys: str | int) -> str:
        """``file:line:col (key ...)`` of a key path, for errors raised after loading."""
        return self._positions.get(tuple(keys)) or str(self.path)

    def referenced_columns(self) -> list[tuple[tuple[str | int, ...], str]]:
        """(key path, column) for every column the contract names."""
        out: list[tuple[tuple[str | int, ...], str]] = [(("columns", c), c) for c in self.spec.columns]
        t = self.spec.table
        for i, u in enumerate(t.unique):
            out += [(("table", "unique", i), c) for c in u.columns]
        if t.freshness:
            out.append((("table", "freshness", "column"), t.freshness.column))
        out += [(("table", "references", c), c) for c in t.references]
        return out

    def check_columns(self, table_columns: dict[str, str], *, types: bool = True) -> None:
        """Raise ContractSpecError if a named column is missing or (``types``) its type differs."""
        problems: list[str] = []
        have = sorted(table_columns)
        for keys, col in self.referenced_columns():
            if col not in table_columns:
                close = difflib.get_close_matches(col, have, n=1)
                problems.append(
                    f"{self.where(*keys)}: column '{col}' is not in table '{self.dataset}'"
                    + (f" (did you mean '{close[0]}'?)" if close else "")
                    + f"; the table has: {', '.join(have)}"
                )
        for col, cs in self.spec.columns.items():
            if types and cs.type and col in table_columns:
                actual = normalize_type(table_columns[col])
                if actual != cs.type.name:
                    problems.append(
                        f"{self.where('columns', col, 'type')}: column '{col}' is {actual} in table "
                        f"'{self.dataset}' but the contract says {cs.type.name}"
                    )
        if problems:
            raise ContractSpecError(
                f"{len(problems)} problem(s) in {self.path}:\n  " + "\n  ".join(problems),
                hint="fix the column names/types in the contract (or the ingest), then rerun",
            )


def _rules(spec: ContractSpec) -> tuple[Rule, ...]:
    ds = spec.dataset
    out: list[Rule] = []
    for col, c in spec.columns.items():
        pii = c.pii
        if c.type:
            out.append(Rule(f"{ds}.{col}.type", "type", c.type.severity, col, {"type": c.type.name}, pii=pii))
        if c.nullable is not None and c.nullable.value is False:
            n = c.nullable
            out.append(Rule(f"{ds}.{col}.not_null", "not_null", n.severity, col, {}, n.on_fail, pii))
        if c.max_null_fraction is not None:
            m = c.max_null_fraction
            out.append(Rule(f"{ds}.{col}.max_null_fraction", "max_null_fraction", m.severity, col, {"value": m.value}, pii=pii))
        if c.allowed:
            a = c.allowed
            out.append(Rule(f"{ds}.{col}.allowed", "allowed", a.severity, col, {"values": list(a.values)}, a.on_fail, pii))
        if c.range:
            r = c.range
            out.append(Rule(f"{ds}.{col}.range", "range", r.severity, col, {"min": r.min, "max": r.max}, r.on_fail, pii))
        if c.regex:
            g = c.regex
            out.append(Rule(f"{ds}.{col}.regex", "regex", g.severity, col, {"pattern": g.pattern}, g.on_fail, pii))
        if c.unique and c.unique.value:
            out.append(Rule(f"{ds}.{col}.unique", "unique", c.unique.severity, col, {}, pii=pii))
    t = spec.table
    pii_cols = {c for c, s in spec.columns.items() if s.pii}
    for u in t.unique:
        out.append(
            Rule(f"{ds}.unique.{'+'.join(u.columns)}", "compound_unique", u.severity, None,
                 {"columns": list(u.columns)}, pii=bool(pii_cols & set(u.columns)))
        )
    if t.freshness:
        f = t.freshness
        out.append(
            Rule(f"{ds}.freshness.{f.column}", "freshness", f.severity, f.column,
                 {"max_age": f.max_age, "as_of": f.as_of}, pii=f.column in pii_cols)
        )
    for col, ref in t.references.items():
        tbl, to = split_reference(ref.to)
        out.append(
            Rule(f"{ds}.references.{col}", "references", ref.severity, col,
                 {"table": tbl, "to_column": to}, ref.on_fail, col in pii_cols)
        )
    for name, rc in t.row_checks.items():
        out.append(Rule(f"{ds}.row_check.{name}", "row_check", rc.severity, None, {"sql": rc.sql}, rc.on_fail))
    has_rules = bool(out)
    if t.row_count:
        rc2 = t.row_count
        out.insert(0, Rule(f"{ds}.row_count", "row_count", rc2.severity, None, {"min": rc2.min, "max": rc2.max}))
    elif has_rules:
        out.insert(0, Rule(f"{ds}.row_count", "row_count", "error", None, {"min": 1, "max": None}, implicit=True))
    return tuple(out)


def _positions(doc: LocatedYaml, spec: ContractSpec) -> dict[tuple[str | int, ...], str]:
    keys: list[tuple[str | int, ...]] = []
    for col, c in spec.columns.items():
        keys.append(("columns", col))
        keys += [("columns", col, k) for k in ("type", "nullable", "max_null_fraction", "allowed", "range", "regex", "unique")]
    t = spec.table
    keys += [("table", "unique", i) for i in range(len(t.unique))]
    keys += [("table", "freshness", "column"), ("table", "row_count")]
    keys += [("table", "references", c) for c in t.references]
    keys += [("table", "row_checks", c) for c in t.row_checks]
    return {k: doc.where(k) for k in keys}


def _model_at(keys: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The contract model that owns the last key (walks dict[str, Model] and list[Model])."""
    import typing

    current: Any = ContractSpec
    for key in keys[:-1]:
        if isinstance(key, int) or current is None:
            continue
        if isinstance(current, dict):  # a free name (column, reference, row check)
            current = current["value"]
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)) or key not in current.model_fields:
            return None
        ann = current.model_fields[key].annotation
        is_union = typing.get_origin(ann) in (typing.Union, types.UnionType)
        args = [a for a in typing.get_args(ann) if a is not type(None)] if is_union else [ann]
        nxt: Any = None
        for a in args:
            origin = typing.get_origin(a)
            if origin is dict:
                nxt = {"value": typing.get_args(a)[1]}
            elif origin is list:
                nxt = typing.get_args(a)[0]
            elif isinstance(a, type) and issubclass(a, BaseModel):
                nxt = a
        current = nxt
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _raise_for_validation(exc: ValidationError, doc: LocatedYaml) -> None:
    """Like _yaml.raise_for_validation, but unknown keys list the valid keys of the
    contract model that owns them (the shared helper does not descend into dict[str, Model])."""
    lines: list[str] = []
    for err in exc.errors():
        if err["type"] != "extra_forbidden":
            continue
        keys = strip_tags(doc.data, tuple(k for k in err["loc"] if isinstance(k, (str, int))))
        model = _model_at(keys)
        valid = sorted(model.model_fields) if model else []
        name = str(keys[-1]) if keys else ""
        msg = f"unknown key '{name}'"
        close = difflib.get_close_matches(name, valid, n=1)
        if close:
            msg += f" (did you mean '{close[0]}'?)"
        if valid:
            msg += f"; valid keys here: {', '.join(valid)}"
        lines.append(f"{doc.where(keys)}: {msg}")
    try:
        raise_for_validation(exc, doc, ContractSpec, ContractSpecError)
    except ContractSpecError as located:
        if not lines:
            raise
        # keep the shared helper's messages for everything but unknown keys
        others = [ln for ln in located.what.splitlines()[1:] if "unknown key '" not in ln]
        allp = lines + [ln.strip() for ln in others]
        raise ContractSpecError(
            f"{len(allp)} problem(s) in {doc.path}:\n  " + "\n  ".join(allp),
            hint="edit the keys named above; every rule and key is described in workbench/contracts/spec.py",
        ) from exc


def load_contract(path: Path | str, table_columns: dict[str, str] | None = None) -> Contract:
    """Load and validate a contract; with ``table_columns`` (name -> DuckDB type of the
    real table) also check that every named column exists and declared types match.

    Raises ContractSpecError naming file, line, key and the valid choices.
    """
    path = Path(path)
    doc = load_yaml(path, ContractSpecError, what="data contract")
    try:
        spec = ContractSpec.model_validate(doc.data)
    except ValidationError as exc:
        _raise_for_validation(exc, doc)
    for i, u in enumerate(spec.table.unique):
        if len(set(u.columns)) != len(u.columns):
            raise ContractSpecError(
                "a compound unique key lists a column twice", where=doc.where(("table", "unique", i)),
                hint="list each column once",
            )
    rules = _rules(spec)
    if not rules:
        raise ContractSpecError(
            f"contract for '{spec.dataset}' declares no rule, so it could only pass vacuously",
            where=str(path),
            hint="add at least one rule (e.g. a column `type`, `nullable: false`, or `table: row_count: {min: 1}`)",
        )
    contract = Contract(
        spec=spec,
        rules=rules,
        path=path,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        _positions=_positions(doc, spec),
    )
    if table_columns is not None:
        contract.check_columns(table_columns)
    return contract
