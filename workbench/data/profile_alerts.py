"""Alerts on a table profile, as ydata-profiling opens its reports: what a reader should
look at first, computed from the profile alone (no further scan).

Each alert names its column (or the table), its kind, the value that raised it and the
threshold, in words. The kinds and their thresholds:

- ``constant``: one distinct non-null value;
- ``mostly missing``: at least ``MOSTLY_MISSING`` of the rows are null;
- ``high cardinality``: a categorical column with more than ``HIGH_CARDINALITY`` distinct values
  (and not near-unique, which says more);
- ``near-unique``: distinct values are at least ``NEAR_UNIQUE`` of the non-null rows, on a
  categorical or integer column (an identifier, a free text: not a feature);
- ``skewed``: numeric, with ``|skewness| > SKEWED``;
- ``extreme values``: numeric, with a value farther from the median than ``EXTREME_IQR`` times
  the interquartile range (or ``EXTREME_IQR`` orders of magnitude when the IQR is 0), or
  non-finite values (NaN, ±inf);
- ``code for no value``: numeric, whose maximum is all nines (99, 999, ...) held by 1 % of the
  rows or more (the 99th percentile) and at least half again the largest quantile below it, or
  whose minimum is a negative code (-1, -9, -99, ...) held so, with no quantile below zero
  above it: "never", "unknown" written as a number, which a model takes for a quantity;
- ``personal``: a column marked as personal data (counts only are shown);
- ``duplicated rows``: the table has rows equal to an earlier row.

Distinct counts are estimates (DuckDB's ``approx_count_distinct``) unless the profile
counted them exactly; the alerts say ≈ where they rest on an estimate.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection
from dataclasses import dataclass

from .profiling import QUANTILES, ColumnProfile, TableProfile

__all__ = ["Alert", "alerts", "KINDS", "MOSTLY_MISSING", "HIGH_CARDINALITY", "NEAR_UNIQUE", "SKEWED",
           "EXTREME_IQR", "missing_code", "CODE_SPREAD"]

MOSTLY_MISSING = 0.5
HIGH_CARDINALITY = 50
NEAR_UNIQUE = 0.95
SKEWED = 2.0
EXTREME_IQR = 10.0
MIN_ROWS = 20  # fewer non-null rows: no near-unique or skewed alert (too few to say)
CODE_SPREAD = 1.5  # an all-nines maximum at least this many times the largest other value is a code

#: In the order the report lists them.
KINDS = ("duplicated rows", "constant", "mostly missing", "code for no value", "personal", "near-unique",
         "high cardinality", "skewed", "extreme values")


def missing_code(value: float) -> bool:
    """Whether ``value`` is written the way a code for "no value" is: all nines from 99 (99, 999,
    ...) or a negative one (-1, -9, -99, ...). Whether it is one, the column's other values say."""
    if not math.isfinite(value) or value != int(value):
        return False
    digits = str(abs(int(value)))
    return (value < 0 and (digits == "1" or set(digits) == {"9"})) or (value >= 99 and set(digits) == {"9"})


@dataclass(frozen=True)
class Alert:
    kind: str
    column: str | None  # None: the table
    message: str

    def to_dict(self) -> dict[str, str | None]:
        return {"kind": self.kind, "column": self.column, "message": self.message}


def _distinct(col: ColumnProfile) -> str:
    return f"{'' if col.distinct_is_exact else '≈'}{col.distinct_count:,}"


def _column_alerts(col: ColumnProfile) -> list[Alert]:
    out: list[Alert] = []
    n, nn, name = col.row_count, col.non_null_count, col.name
    if col.pii and col.pii_look:
        out.append(Alert("personal", name, f"personal data by its look ({col.pii_look}), though its contract does not "
                                           "mark it: counts only, no values; mark it `pii: true` in the contract"))
    elif col.pii:
        out.append(Alert("personal", name, "personal data (marked pii in its contract): counts only, no values"))
    if n and col.null_rate >= MOSTLY_MISSING:
        out.append(Alert("mostly missing", name, f"{col.null_rate:.0%} of {n:,} rows are null"))
    distinct = col.distinct_count
    if distinct == 1 and nn:
        out.append(Alert("constant", name, f"one value in all {nn:,} non-null rows"))
    elif distinct is not None and nn >= MIN_ROWS and not col.pii:
        unique_share = min(distinct / nn, 1.0)
        identifier = col.kind == "categorical" or (col.kind == "numeric" and "INT" in col.dtype.upper())
        if identifier and unique_share >= NEAR_UNIQUE:
            out.append(Alert("near-unique", name, f"{_distinct(col)} distinct values in {nn:,} non-null rows "
                                                  f"({unique_share:.0%}): an identifier or free text?"))
        elif col.kind == "categorical" and distinct > HIGH_CARDINALITY:
            out.append(Alert("high cardinality", name,
                             f"{_distinct(col)} distinct values (more than {HIGH_CARDINALITY})"))
    if col.kind == "numeric" and not col.pii:
        code = _code(col)
        if code:
            out.append(Alert("code for no value", name, code))
        if col.skewness is not None and nn >= MIN_ROWS and abs(col.skewness) > SKEWED:
            out.append(Alert("skewed", name, f"skewness {col.skewness:+.1f} (beyond ±{SKEWED:g})"))
        extreme = _extreme(col)
        if extreme:
            out.append(Alert("extreme values", name, extreme))
    return out


def _code(col: ColumnProfile) -> str:
    """The ``code for no value`` alert's message, or "". Read from the quantiles (in order of
    probability): the one next to the code's own may be interpolated across the gap (t-digest),
    so the rest is judged from the one after it."""
    values = [col.quantiles[k] for k in QUANTILES if k in col.quantiles and math.isfinite(col.quantiles[k])]
    if col.min is None or col.max is None or len(values) < 3:
        return ""
    fix = ("a code for 'no value' or 'never'? A model takes it for a quantity: read it as missing (NULLIF in the "
           "feature view), with a flag column if its absence means something")
    high, low = col.max, col.min
    if missing_code(high) and values[-1] == high:  # held by 1 % of the rows or more
        first = values.index(high)
        rest = values[first - 2] if first >= 2 else None
        if rest is not None and rest > 0 and high >= CODE_SPREAD * rest:
            return f"{high:g} in 1 % of the rows or more, far above the rest (a quantile below it: {rest:g}): {fix}"
    if missing_code(low) and low < 0 and values[0] == low:
        last = len(values) - 1 - values[::-1].index(low)
        rest = values[last + 2] if last + 2 < len(values) else None
        if rest is not None and rest >= 0:
            return f"{low:g} in 1 % of the rows or more, the only negative value (a quantile above it: {rest:g}): {fix}"
    return ""


def _extreme(col: ColumnProfile) -> str:
    if col.non_finite_count:
        return f"{col.non_finite_count:,} non-finite value(s) (NaN or ±inf)"
    q = col.quantiles
    if col.min is None or col.max is None or not {"p25", "p50", "p75"} <= set(q):
        return ""
    iqr = q["p75"] - q["p25"]
    median = q["p50"]
    reach = iqr * EXTREME_IQR if iqr > 0 else max(abs(median), 1.0) * 10 ** EXTREME_IQR
    far = [v for v in (col.min, col.max) if math.isfinite(v) and abs(v - median) > reach]
    if not far:
        return ""
    worst = max(far, key=lambda v: abs(v - median))
    return (f"{'max' if worst == col.max else 'min'} {worst:.6g} is beyond {EXTREME_IQR:g}× the interquartile range "
            f"from the median {median:.6g}")


def alerts(profile: TableProfile, *, pii: Collection[str] = ()) -> tuple[Alert, ...]:
    """Every alert of ``profile``, ordered by :data:`KINDS` then column order; ``pii``: columns
    that are personal data beyond those the profile marks."""
    found: list[Alert] = []
    if profile.duplicate_rows:
        share = profile.duplicate_rows / profile.row_count if profile.row_count else 0.0
        found.append(Alert("duplicated rows", None, f"{profile.duplicate_rows:,} rows ({share:.1%}) repeat an "
                                                    "earlier row in every column"))
    for col in profile.columns:
        found += _column_alerts(dataclasses.replace(col, pii=True) if col.name in set(pii) else col)
    order = {k: i for i, k in enumerate(KINDS)}
    columns = {c.name: i for i, c in enumerate(profile.columns)}
    return tuple(sorted(found, key=lambda a: (order[a.kind], columns.get(a.column or "", -1))))
