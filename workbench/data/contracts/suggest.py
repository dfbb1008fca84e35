"""Draft a contract from the data (GX 1.x dropped its profilers; this is the replacement).

Profiles the table in DuckDB, read-only, with one aggregate query (plus one exact
distinct count per candidate key), and writes YAML an analyst edits: types, null
fractions, observed ranges, small value sets and candidate keys. The draft loads with
``load_contract`` and passes on the data it was drawn from; tightening it is the
analyst's job (the comments say where).
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from ...errors import WarehouseError
from .compile import quote_ident

__all__ = ["suggest_contract"]

_NUMERIC = {"BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER",
            "USMALLINT", "UTINYINT", "DOUBLE", "FLOAT"}
_KEYABLE = _NUMERIC - {"DOUBLE", "FLOAT"} | {"VARCHAR", "UUID"}


def _ceil(x: float, digits: int = 3) -> float:
    f = 10**digits
    return min(1.0, math.ceil(x * f) / f)


def suggest_contract(
    warehouse: Path | str,
    table: str,
    *,
    owner: str = "TODO: team or person who owns this data",
    max_allowed_values: int = 12,
    out: Path | str | None = None,
) -> str:
    """Return (and with ``out``, write) a draft contract YAML for ``main.<table>``."""
    import duckdb
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    from .check import table_columns
    from .spec import normalize_type

    warehouse = Path(warehouse)
    if not warehouse.is_file():
        raise WarehouseError("warehouse file not found", where=str(warehouse), hint="run the ingest step first")
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot open the warehouse: {str(exc).splitlines()[0]}", where=str(warehouse),
                             hint="close other writers and retry") from exc
    try:
        cols = table_columns(con, table)
        if not cols:
            raise WarehouseError(f"table '{table}' is not in the warehouse", where=str(warehouse),
                                 hint="pass a table the ingest created")
        t = f"main.{quote_ident(table)}"
        sel = ["count(*)"]
        for c, ty in cols.items():
            q = quote_ident(c)
            base = normalize_type(ty)
            sel.append(f"count({q})")
            sel.append(f"approx_count_distinct({q})")
            if base in _NUMERIC:
                sel += [f"min({q})", f"max({q})"]
            else:
                sel += ["NULL", "NULL"]
        row = con.execute(f"SELECT {', '.join(sel)} FROM {t}").fetchall()[0]
        n = int(row[0])
        stats: dict[str, dict[str, Any]] = {}
        for i, (c, ty) in enumerate(cols.items()):
            nonnull, approx, lo, hi = row[1 + 4 * i: 5 + 4 * i]
            stats[c] = {"type": normalize_type(ty), "nonnull": int(nonnull), "approx": int(approx or 0),
                        "min": lo, "max": hi}
        for c, s in stats.items():
            q = quote_ident(c)
            if s["type"] == "VARCHAR" and 0 < s["approx"] <= max_allowed_values * 2:
                vals = con.execute(
                    f"SELECT DISTINCT {q} FROM {t} WHERE {q} IS NOT NULL ORDER BY 1 LIMIT {max_allowed_values + 1}"
                ).fetchall()
                if len(vals) <= max_allowed_values and n > 10 * len(vals):
                    s["allowed"] = [v[0] for v in vals]
            if n and s["nonnull"] == n and s["type"] in _KEYABLE and s["approx"] >= 0.9 * n:
                exact = con.execute(f"SELECT count(DISTINCT {q}) FROM {t}").fetchall()[0][0]
                s["unique"] = exact == n
    finally:
        con.close()

    doc = CommentedMap()
    doc["dataset"] = table
    doc["owner"] = owner
    doc["version"] = "0.1.0"
    doc["description"] = f"TODO: what one row of {table} is. Draft suggested from {n} rows."
    doc.yaml_set_comment_before_after_key(
        "dataset",
        before="Draft contract suggested by `workbench.data.contracts.suggest_contract` from the data as it is.\n"
        "Review every rule: observed ranges are not business rules. Mark columns that\n"
        "identify people with `pii: true`, set severities (error|warn), and bump `version`.",
    )
    columns = CommentedMap()
    for c, s in stats.items():
        spec = CommentedMap()
        spec["type"] = s["type"]
        if n and s["nonnull"] == n:
            spec["nullable"] = False
        elif n:
            spec["max_null_fraction"] = _ceil(1 - s["nonnull"] / n)
        if s["min"] is not None and s["max"] is not None:
            rng = CommentedMap()
            lo, hi = s["min"], s["max"]
            rng["min"] = int(lo) if isinstance(lo, int) else float(lo)
            rng["max"] = int(hi) if isinstance(hi, int) else float(hi)
            # what was observed is not a business rule: a new extreme warns until someone says it must fail
            rng["severity"] = "warn"
            rng.fa.set_flow_style()
            spec["range"] = rng
            spec.yaml_add_eol_comment("observed; make it a rule (severity: error) once you know the limits", "range")
        if "allowed" in s:
            seq = CommentedSeq(s["allowed"])
            seq.fa.set_flow_style()
            spec["allowed"] = seq
        if s.get("unique"):
            spec["unique"] = True
            spec.yaml_add_eol_comment("candidate key", "unique")
        columns[c] = spec
    doc["columns"] = columns
    tbl = CommentedMap()
    rc = CommentedMap()
    rc["min"] = 1 if n else 0
    rc.fa.set_flow_style()
    tbl["row_count"] = rc
    tbl.yaml_add_eol_comment(f"observed {n} rows", "row_count")
    doc["table"] = tbl

    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 100
    buf = io.StringIO()
    yaml.dump(doc, buf)
    text = buf.getvalue()
    if out is not None:
        Path(out).write_text(text, encoding="utf-8")
    return text
