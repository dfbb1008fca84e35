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
import re
from pathlib import Path
from typing import Any

from ...errors import WarehouseError
from ..sql import select_wide
from .compile import quote_ident

__all__ = ["suggest_contract"]

_NUMERIC = {"BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER",
            "USMALLINT", "UTINYINT", "DOUBLE", "FLOAT"}
_KEYABLE = _NUMERIC - {"DOUBLE", "FLOAT"} | {"VARCHAR", "UUID"}


def _outward(x: float, up: bool) -> float:
    """A float bound rounded away from the range's inside at 12 significant digits, so that a
    value one unit in the last place from the one the draft read still falls inside: a table of
    voice measurements was drafted with max 6.523333333333333e-20 for a column whose warehouse
    holds 6.523333333333334e-20, and 12 columns warned on the very data they were drafted from."""
    from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

    if x == 0 or not math.isfinite(x):
        return x
    d = Decimal(repr(x))
    out = float(d.quantize(Decimal(1).scaleb(d.adjusted() - 11), rounding=ROUND_CEILING if up else ROUND_FLOOR))
    return out if (out >= x if up else out <= x) else math.nextafter(out, math.inf if up else -math.inf)


def _ceil(x: float, digits: int = 3) -> float:
    f = 10**digits
    return min(1.0, math.ceil(round(x * f, 9)) / f)  # 0.30000000000000004 is 0.3, not 0.301


def null_share_limit(observed: float) -> float:
    """The drafted ``max_null_fraction`` of a column with ``observed`` nulls: the observed
    share alone would refuse about half of the later loads and production batches drawn from
    the same process (a batch of 3,000 rows at 8 % nulls has a standard error of 0.5 points),
    so half as much again, and at least two points more."""
    return _ceil(min(1.0, observed + max(0.02, 0.5 * observed)))


_MAGNITUDE_MARGIN = 3  # orders of magnitude past the largest value observed: no plausible new extreme


def certainty_checks(stats: dict[str, dict[str, Any]]) -> list[tuple[str, str, str]]:
    """Error-level row checks (name, SQL, why) the observed data makes certain for numeric
    columns: finite numbers where none was infinite or NaN, the one sign every value had,
    and a magnitude no more than a thousand times the largest seen. The observed range
    itself stays a warning: a new extreme is news, not necessarily wrong."""
    out: list[tuple[str, str, str]] = []
    for c, s in stats.items():
        if s["type"] not in _NUMERIC or s["min"] is None or s["max"] is None:
            continue
        q, key = quote_ident(c), re.sub(r"\W+", "_", c).strip("_").lower() or "column"
        lo, hi = float(s["min"]), float(s["max"])
        if s["type"] in {"DOUBLE", "FLOAT"} and not s["non_finite"]:
            out.append((f"{key}_finite", f"{q} IS NULL OR isfinite({q})", "no infinite or NaN value was seen"))
        if lo >= 0:
            out.append((f"{key}_not_negative", f"{q} IS NULL OR {q} >= 0", "no negative value was seen"))
        elif hi <= 0:
            out.append((f"{key}_not_positive", f"{q} IS NULL OR {q} <= 0", "no positive value was seen"))
        largest = max(abs(lo), abs(hi))
        bound = 10 ** (max(0, math.ceil(math.log10(largest))) + _MAGNITUDE_MARGIN) if largest > 0 else 10 ** _MAGNITUDE_MARGIN
        out.append((f"{key}_magnitude", f"{q} IS NULL OR abs({q}) <= {bound}",
                    f"largest seen {largest:.6g}: a value {10 ** _MAGNITUDE_MARGIN:,}x larger is not plausible"))
    return out


def suggest_contract(
    warehouse: Path | str,
    table: str,
    *,
    owner: str = "TODO: team or person who owns this data",
    max_allowed_values: int = 12,
    out: Path | str | None = None,
    drafted: bool = False,
    target: str | None = None,
) -> str:
    """Return (and with ``out``, write) a draft contract YAML for ``main.<table>``.
    ``drafted``: its guesses at a person's judgement are tagged ``# drafted`` (``workbench new``);
    ``target``: the column a pilot predicts (its nulls are rows without a label, not what
    production sends: a production batch carries no target)."""
    import duckdb
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

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
            counts = f"count({q}), approx_count_distinct({q})"
            if base in {"DOUBLE", "FLOAT"}:
                # the observed range of the finite values, and how many were not finite
                sel.append(f"{counts}, min({q}) FILTER (WHERE isfinite({q})), max({q}) FILTER (WHERE isfinite({q})), "
                           f"count(*) FILTER (WHERE NOT isfinite({q}))")
            elif base in _NUMERIC:
                sel.append(f"{counts}, min({q}), max({q}), 0")
            else:
                sel.append(f"{counts}, NULL, NULL, 0")
        # a few columns a query (data.sql.select_wide): the 789 columns of mosaicData's HELPfull,
        # 1,472 rows, took 23 s in one query
        row = select_wide(con, sel, t)
        n = int(row[0])
        stats: dict[str, dict[str, Any]] = {}
        for i, (c, ty) in enumerate(cols.items()):
            nonnull, approx, lo, hi, non_finite = row[1 + 5 * i: 6 + 5 * i]
            stats[c] = {"type": normalize_type(ty), "nonnull": int(nonnull), "approx": int(approx or 0),
                        "min": lo, "max": hi, "non_finite": int(non_finite or 0)}
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
            observed = 1 - s["nonnull"] / n
            spec["max_null_fraction"] = null_share_limit(observed)
            spec.yaml_add_eol_comment(("drafted: " if drafted else "") + f"observed {observed:.3f}, with headroom "
                                      + ("for a load's sampling noise; the share of rows without a label yet (left "
                                         "out of training and of the judgement)" if c == target else
                                         "for a batch's sampling noise; set the share of nulls production may send"),
                                      "max_null_fraction")
        if s["min"] is not None and s["max"] is not None:
            rng = CommentedMap()
            lo, hi = s["min"], s["max"]
            rng["min"] = int(lo) if isinstance(lo, int) else _outward(float(lo), up=False)
            rng["max"] = int(hi) if isinstance(hi, int) else _outward(float(hi), up=True)
            # what was observed is not a business rule: a new extreme warns until someone says it must fail
            rng["severity"] = "warn"
            rng.fa.set_flow_style()
            spec["range"] = rng
            spec.yaml_add_eol_comment("observed; make it a rule (severity: error) once you know the limits", "range")
        if "allowed" in s:
            # ruamel writes a value that starts with '?' plain in a flow list, where it reads back as a key
            # ('?a' as {a: null}) or not at all ('??', openintro's epa2021 car_truck): quoted
            seq = CommentedSeq([DoubleQuotedScalarString(v) if isinstance(v, str) and v.startswith("?") else v
                                for v in s["allowed"]])
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
    certain = certainty_checks(stats)
    if certain:
        checks = CommentedMap()
        for name, sql, why in certain:
            checks[name] = sql
            checks.yaml_add_eol_comment(why, name)
        tbl["row_checks"] = checks
        tbl.yaml_set_comment_before_after_key(
            "row_checks", before="what the data makes certain: error-level (a load that breaks one keeps the previous table)",
            indent=2)
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
