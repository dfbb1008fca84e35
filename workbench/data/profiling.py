"""Column profiles and drift between runs, computed inside the data engine.

The queries below are DuckDB's; :func:`profile_with` runs them through a
:class:`TableReader`, so the Spark engine (``workbench.data.engines.spark``) computes the
same profile from the same SQL, translated. A profile never pulls the table into Python.
Whatever the number of columns it costs three aggregate queries, plus two narrow ones (only
the columns concerned) when a categorical column has many distinct values; every aggregate
keeps a bounded state, so memory stays flat as the table grows.

1. **Stats scan** — one ``SELECT`` with, per column: ``count``, ``approx_count_distinct``
   (HyperLogLog, a few % error), and for numeric and temporal columns
   ``min``/``max``/``avg``/``stddev_samp`` (exact).
2. **Quantiles** — ``approx_quantile`` (t-digest: approximate, accurate in the tails;
   chosen over ``quantile_cont``, whose state holds every value) of all numeric and
   temporal columns in one ``SELECT``; above ``2 * QUANTILE_SAMPLE_ROWS`` values, on a
   deterministic uniform sample of about ``QUANTILE_SAMPLE_ROWS`` (``hash(rowid) % k``;
   views are read in full). ``ColumnProfile.quantile_sample`` says how many values.
3. **Counts scan** — one ``SELECT`` of ``histogram()`` aggregates (small maps): per
   numeric/temporal column the equal-width bin of each value (pure arithmetic on the
   min/max from scan 1), exact value counts for low-cardinality columns (numeric: at most
   ``LOW_CARDINALITY`` values; categorical: at most ``CATEGORICAL_EXACT_LIMIT``), and, when
   a reference profile is given, the bins of the reference (used by :func:`drift`).
4. **High-cardinality categoricals only** — ``approx_top_k`` picks candidates, then one
   more narrow scan counts them (and the reference's top values) exactly, so reported
   top counts are always exact.

Why separate queries rather than one: next to ``histogram()`` in a single aggregate,
``approx_quantile`` or ``approx_top_k`` made DuckDB 2.0 peak at ~4x the memory, and the
t-digest over every row was 60 % of the profile's time (measured at 3.4 M rows).

Temporal values are profiled as epoch seconds (``epoch(col)``); ``min_label`` and
``max_label`` keep the readable form. Non-finite floats (NaN, ±inf) and infinite
dates are counted in ``non_finite_count`` and left out of the statistics; bins are built
on the finite values only, with arithmetic that cannot overflow (a column spanning
-1e308..1e308 gets finite edges). A reference profile whose bins are unusable (an older
run's non-finite or unordered edges) is ignored for exact counts and drift falls back to
the null bucket: a stored profile never blocks a later run (:func:`read_reference`).

Personal data. A column the warehouse marks as PII (``pii: true`` in its contract,
recorded at ingest; see :func:`workbench.data.warehouse.pii_columns`) is profiled as counts
only: nulls, approximate distinct values and the length of its text form. It gets no
min/max, quantiles, histogram or top values, and its drift compares the null rate only,
so none of its values leave DuckDB.

Drift is the population stability index (PSI) per column, always on the *previous*
profile's buckets: numeric and temporal columns use its histogram bins plus an
underflow and an overflow bucket; categorical and boolean columns use its top values
plus an "other" bucket; every column also has a null bucket, so a jump in the null rate
shows as drift. PSI is exact when the current profile was computed with
``reference=previous`` (its counts on the previous buckets come from the data). Without
it, the current histogram is re-binned onto the previous edges assuming values are
uniform within a bin, and previous top values missing from the current top-k count as
zero; the report says which ``method`` each column used.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

import duckdb

from .sql import quote_ident as _quote, quote_literal
from ..errors import WarehouseError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "QUANTILES",
    "ColumnDrift",
    "ColumnProfile",
    "DriftReport",
    "Histogram",
    "TableProfile",
    "drift",
    "histogram_on_edges",
    "plot_drift",
    "plot_histograms",
    "profile_table",
    "profile_with",
    "table_stats",
    "DuckDBReader",
    "psi",
    "read_reference",
]

#: Quantiles reported for numeric and temporal columns (name -> probability).
QUANTILES: dict[str, float] = {
    "p01": 0.01,
    "p05": 0.05,
    "p25": 0.25,
    "p50": 0.50,
    "p75": 0.75,
    "p95": 0.95,
    "p99": 0.99,
}
#: Numeric/temporal columns with at most this many (approximate) distinct values also
#: get exact value counts (top values); above it only the histogram is kept.
LOW_CARDINALITY = 100
#: Categorical columns with at most this many (approximate) distinct values are counted
#: exactly (a bounded map); above it, ``approx_top_k`` picks the candidates first.
CATEGORICAL_EXACT_LIMIT = 10_000
#: Quantiles of a column with at least twice this many values come from a uniform
#: sample of about this many (see `_quantiles`).
QUANTILE_SAMPLE_ROWS = 1_000_000
#: Bump when the JSON layout changes incompatibly.
FORMAT_VERSION = 1
#: Aggregates of a kind that hold a map or a sketch (histogram, approx_top_k) in one query, and
#: columns in one statistics query: DuckDB keeps buffers for each, and a 752-column table's one
#: query of them all exhausted 18.8 GiB (252 rows of voice measurements). A scan a chunk.
MAPS_A_QUERY = 32
STATS_COLUMNS_A_QUERY = 128

_NUMERIC_IDS = {
    "tinyint", "smallint", "integer", "bigint", "hugeint",
    "utinyint", "usmallint", "uinteger", "ubigint", "uhugeint",
    "float", "double", "decimal",
}  # fmt: skip
_INTEGRAL_IDS = _NUMERIC_IDS - {"float", "double", "decimal"}
_FLOAT_IDS = {"float", "double"}
_TEMPORAL_IDS = {
    "date", "time", "time with time zone", "time_ns", "timestamp", "timestamp with time zone",
    "timestamp_s", "timestamp_ms", "timestamp_ns",
}  # fmt: skip
_INFINITE_TEMPORAL_IDS = {"date", "timestamp", "timestamp with time zone"}
_CATEGORICAL_IDS = {"varchar", "enum", "uuid"}
_METRIC_BAD_CHARS = re.compile(r"[^A-Za-z0-9_.\-/ ]")

Value = str | int | float | bool


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Histogram:
    """Counts on ``edges`` (``len(edges) == len(counts) + 1``).

    Bins are left-closed ``[e_i, e_i+1)`` except the last, which is closed, as in numpy.
    ``below``/``above`` count values outside the edges (only non-zero for a histogram
    computed on someone else's edges).
    """

    edges: tuple[float, ...]
    counts: tuple[int, ...]
    below: int = 0
    above: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts) + self.below + self.above

    @property
    def usable(self) -> bool:
        """Finite, ordered edges with one count a bin: safe to count on again (a stored
        profile from an older run may hold infinite or NaN edges)."""
        edges = self.edges
        return (
            len(edges) >= 2
            and len(self.counts) == len(edges) - 1
            and all(math.isfinite(e) for e in edges)
            and all(b >= a for a, b in itertools.pairwise(edges))
            and edges[-1] > edges[0]
        ) or (len(edges) == 2 and len(self.counts) == 1 and math.isfinite(edges[0]) and edges[0] == edges[1])

    def to_dict(self) -> dict[str, Any]:
        return {"edges": list(self.edges), "counts": list(self.counts), "below": self.below, "above": self.above}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Histogram:
        return cls(
            edges=tuple(float(e) for e in data["edges"]),
            counts=tuple(int(c) for c in data["counts"]),
            below=int(data.get("below", 0)),
            above=int(data.get("above", 0)),
        )


@dataclass(frozen=True)
class ColumnProfile:
    """The profile of one column. Statistics are ``None`` when they do not apply or when
    there is no non-null value (never NaN, so the JSON stays standard)."""

    name: str
    dtype: str  # DuckDB type, e.g. "BIGINT", "TIMESTAMP WITH TIME ZONE"
    kind: str  # numeric | temporal | categorical | boolean | other
    row_count: int
    null_count: int
    distinct_count: int | None = None
    distinct_is_exact: bool = False
    non_finite_count: int = 0
    pii: bool = False  # personal data: counts and length statistics only, never values
    # not marked pii, but its most frequent values look like personal data ("email addresses"): masked as pii
    pii_look: str | None = None
    length_min: float | None = None  # PII columns: length of the text form
    length_max: float | None = None
    length_mean: float | None = None
    min: float | None = None  # temporal: epoch seconds
    max: float | None = None
    mean: float | None = None
    std: float | None = None
    skewness: float | None = None  # numeric: sample skewness (DuckDB's skewness)
    quantiles: dict[str, float] = field(default_factory=dict)  # approx_quantile (t-digest)
    quantile_sample: int | None = None  # values the quantiles were computed from
    min_label: str | None = None  # temporal: readable min/max
    max_label: str | None = None
    top_values: tuple[tuple[Value, int], ...] = ()  # exact counts, most frequent first
    histogram: Histogram | None = None
    # Counts of this column on a reference profile's buckets (see `drift`).
    reference_histogram: Histogram | None = None
    reference_top: tuple[tuple[Value, int], ...] | None = None

    @property
    def non_null_count(self) -> int:
        return self.row_count - self.null_count

    @property
    def null_rate(self) -> float:
        return self.null_count / self.row_count if self.row_count else 0.0

    @property
    def other_count(self) -> int:
        """Non-null values outside ``top_values``."""
        return self.non_null_count - sum(c for _, c in self.top_values)

    def stats(self) -> dict[str, float]:
        """The scalar statistics, NaN and ``None`` left out."""
        out: dict[str, float | int | None] = {
            "row_count": self.row_count,
            "null_count": self.null_count,
            "null_rate": self.null_rate,
            "distinct_count": self.distinct_count,
        }
        if self.pii:
            out.update(length_min=self.length_min, length_max=self.length_max, length_mean=self.length_mean)
            return {k: float(v) for k, v in out.items() if v is not None and math.isfinite(v)}
        if self.kind in ("numeric", "temporal"):
            out.update(min=self.min, max=self.max, mean=self.mean, std=self.std, **self.quantiles)
            out["non_finite_count"] = self.non_finite_count
        if self.kind == "boolean":
            counts = dict(self.top_values)
            out["true_rate"] = counts.get(True, 0) / self.non_null_count if self.non_null_count else None
        return {k: float(v) for k, v in out.items() if v is not None and math.isfinite(v)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dtype": self.dtype,
            "kind": self.kind,
            "row_count": self.row_count,
            "null_count": self.null_count,
            "null_rate": self.null_rate,  # derived; ignored by from_dict
            "distinct_count": self.distinct_count,
            "distinct_is_exact": self.distinct_is_exact,
            "non_finite_count": self.non_finite_count,
            "pii": self.pii,
            "pii_look": self.pii_look,
            "length_min": self.length_min,
            "length_max": self.length_max,
            "length_mean": self.length_mean,
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "std": self.std,
            "skewness": self.skewness,
            "quantiles": dict(self.quantiles),
            "quantile_sample": self.quantile_sample,
            "min_label": self.min_label,
            "max_label": self.max_label,
            "top_values": [[v, c] for v, c in self.top_values],
            "histogram": self.histogram.to_dict() if self.histogram else None,
            "reference_histogram": self.reference_histogram.to_dict() if self.reference_histogram else None,
            "reference_top": None if self.reference_top is None else [[v, c] for v, c in self.reference_top],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnProfile:
        def hist(key: str) -> Histogram | None:
            return Histogram.from_dict(data[key]) if data.get(key) else None

        ref_top = data.get("reference_top")
        return cls(
            name=data["name"],
            dtype=data["dtype"],
            kind=data["kind"],
            row_count=int(data["row_count"]),
            null_count=int(data["null_count"]),
            distinct_count=data.get("distinct_count"),
            distinct_is_exact=bool(data.get("distinct_is_exact", False)),
            non_finite_count=int(data.get("non_finite_count", 0)),
            pii=bool(data.get("pii", False)),
            pii_look=data.get("pii_look"),
            length_min=data.get("length_min"),
            length_max=data.get("length_max"),
            length_mean=data.get("length_mean"),
            min=data.get("min"),
            max=data.get("max"),
            mean=data.get("mean"),
            std=data.get("std"),
            skewness=data.get("skewness"),
            quantiles={k: float(v) for k, v in (data.get("quantiles") or {}).items()},
            quantile_sample=data.get("quantile_sample"),
            min_label=data.get("min_label"),
            max_label=data.get("max_label"),
            top_values=tuple((v, int(c)) for v, c in data.get("top_values") or ()),
            histogram=hist("histogram"),
            reference_histogram=hist("reference_histogram"),
            reference_top=None if ref_top is None else tuple((v, int(c)) for v, c in ref_top),
        )


@dataclass(frozen=True)
class TableProfile:
    """The profile of one table: its row count and one :class:`ColumnProfile` a column."""

    table: str
    row_count: int
    columns: tuple[ColumnProfile, ...]
    bins: int = 20
    top_k: int = 10
    profiled_at: str = ""  # ISO 8601, UTC
    duckdb_version: str = ""
    duplicate_rows: int | None = None  # rows equal to an earlier row (every column); None: not counted
    engine: str = ""  # what computed it ("duckdb 1.4.1", "spark 4.1.0"); "" in older profiles: DuckDB

    def __getitem__(self, name: str) -> ColumnProfile:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"column {name!r} is not in the profile of {self.table!r}; columns: {self.column_names}")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def metrics(self, prefix: str = "profile") -> dict[str, float]:
        """The table's MLflow metrics: ``{prefix}.{table}.row_count`` and ``.column_count``
        (names sanitised to MLflow's character set). Per-column statistics are not metrics
        (see :mod:`workbench.measure.metrics`): they live in the profile JSON (:meth:`to_dict`) and
        the HTML profile report; :meth:`column_stats` gives them flat."""
        base = f"{prefix}.{self.table}"
        return {
            _metric_name(f"{base}.row_count"): float(self.row_count),
            _metric_name(f"{base}.column_count"): float(len(self.columns)),
        }

    def column_stats(self, prefix: str = "profile") -> dict[str, float]:
        """Every column's scalar statistics, flat: ``{prefix}.{table}.{column}.{stat}``
        (sanitised names; NaN and missing values left out)."""
        base = f"{prefix}.{self.table}"
        out: dict[str, float] = {}
        for col in self.columns:
            for stat, value in col.stats().items():
                out[_metric_name(f"{base}.{col.name}.{stat}")] = value
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "table": self.table,
            "row_count": self.row_count,
            "bins": self.bins,
            "top_k": self.top_k,
            "profiled_at": self.profiled_at,
            "duckdb_version": self.duckdb_version,
            "duplicate_rows": self.duplicate_rows,
            "engine": self.engine,
            "columns": [c.to_dict() for c in self.columns],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableProfile:
        """Rebuild a profile from :meth:`to_dict` output (e.g. a JSON artifact)."""
        try:
            fmt = data.get("format", FORMAT_VERSION)
            if fmt != FORMAT_VERSION:
                raise ValueError(f"profile format {fmt} is not {FORMAT_VERSION}")
            return cls(
                table=data["table"],
                row_count=int(data["row_count"]),
                columns=tuple(ColumnProfile.from_dict(c) for c in data["columns"]),
                bins=int(data.get("bins", 20)),
                top_k=int(data.get("top_k", 10)),
                profiled_at=data.get("profiled_at", ""),
                duckdb_version=data.get("duckdb_version", ""),
                duplicate_rows=data.get("duplicate_rows"),
                engine=data.get("engine", ""),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise WarehouseError(
                f"not a table profile: {exc!r}",
                where=f"profile of {data.get('table', '?')!r}" if isinstance(data, Mapping) else "profile",
                hint="pass the dict written by TableProfile.to_dict() (the profile JSON artifact)",
            ) from exc


@dataclass(frozen=True)
class ColumnDrift:
    """PSI of one column on the previous profile's buckets (``None`` when undefined)."""

    name: str
    kind: str
    psi: float | None
    flagged: bool
    method: str  # exact | rebinned | top_values | skipped: <why>
    buckets: tuple[str, ...] = ()
    expected: tuple[float, ...] = ()  # previous proportions (smoothed)
    actual: tuple[float, ...] = ()  # current proportions (smoothed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "psi": self.psi,
            "flagged": self.flagged,
            "method": self.method,
            "buckets": list(self.buckets),
            "expected": list(self.expected),
            "actual": list(self.actual),
        }


@dataclass(frozen=True)
class DriftReport:
    """Drift of a table between two profiles: PSI per column, schema and row-count change."""

    table: str
    threshold: float
    previous_rows: int
    current_rows: int
    columns: tuple[ColumnDrift, ...]
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    type_changes: tuple[tuple[str, str, str], ...] = ()  # (column, previous, current)

    @property
    def flagged(self) -> list[str]:
        """Columns whose PSI is above the threshold."""
        return [c.name for c in self.columns if c.flagged]

    @property
    def schema_changed(self) -> bool:
        return bool(self.added or self.removed or self.type_changes)

    @property
    def row_count_change(self) -> float | None:
        """Relative change of the row count (``None`` when the previous table was empty)."""
        if not self.previous_rows:
            return None
        return (self.current_rows - self.previous_rows) / self.previous_rows

    def __getitem__(self, name: str) -> ColumnDrift:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"column {name!r} is not in the drift report of {self.table!r}")

    @property
    def max_psi(self) -> float | None:
        """The largest finite PSI of any column (None when no column has one)."""
        values = [c.psi for c in self.columns if c.psi is not None and math.isfinite(c.psi)]
        return max(values) if values else None

    def metrics(self, prefix: str = "drift") -> dict[str, float]:
        """The table's drift as MLflow metrics: ``{prefix}.{table}.flagged_count``,
        ``.max_psi`` and ``.schema_changes``. PSI per column is not a metric (see
        :mod:`workbench.measure.metrics`), nor the row-count change (the row counts are): both are
        in :meth:`to_dict` (the drift JSON) and the profile report."""
        base = f"{prefix}.{self.table}"
        out: dict[str, float] = {
            f"{base}.flagged_count": float(len(self.flagged)),
            f"{base}.schema_changes": float(len(self.added) + len(self.removed) + len(self.type_changes)),
        }
        if self.max_psi is not None:
            out[f"{base}.max_psi"] = float(self.max_psi)
        return {_metric_name(k): v for k, v in out.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "threshold": self.threshold,
            "previous_rows": self.previous_rows,
            "current_rows": self.current_rows,
            "row_count_change": self.row_count_change,
            "flagged": self.flagged,
            "added": list(self.added),
            "removed": list(self.removed),
            "type_changes": [list(t) for t in self.type_changes],
            "columns": [c.to_dict() for c in self.columns],
        }


# --------------------------------------------------------------------------- profiling


def profile_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    *,
    bins: int = 20,
    top_k: int = 10,
    reference: TableProfile | None = None,
    quantile_sample_rows: int = QUANTILE_SAMPLE_ROWS,
    pii: Collection[str] | None = None,
) -> TableProfile:
    """Profile every column of ``table`` in a few aggregate scans (see the module docstring).

    ``reference``: the previous profile of the same table; the counts scan then also
    counts each column on the reference's buckets, which makes :func:`drift` exact at no
    extra scan. ``quantile_sample_rows``: quantiles of columns with at least twice this
    many values come from a uniform sample of about this many (0: never sample).
    ``pii``: columns profiled as counts only; None reads the warehouse's PII marks (the
    contracts' ``pii: true``, recorded at ingest).
    Raises :class:`WarehouseError` when the table does not exist or a query fails.
    """
    reader = DuckDBReader(con, table)
    if pii is None:
        from .warehouse import pii_columns

        pii = next(iter(pii_columns(con, reader.name).values()), frozenset())
    return profile_with(reader, bins=bins, top_k=top_k, reference=reference,
                        quantile_sample_rows=quantile_sample_rows, pii=pii)


class TableReader(Protocol):
    """Where a profile's queries run: DuckDB's own connection, or another engine's
    (``workbench.data.engines``). The SQL handed to it is DuckDB's dialect; an engine
    translates it. ``counts`` and ``top`` are the two aggregates engines spell differently
    (DuckDB's ``histogram()`` and ``approx_top_k`` maps)."""

    name: str  # the table's display name
    engine: str  # what computed the profile, for the record ("duckdb 1.4.1", "spark 4.1.0")
    sample: bool  # rows can be sampled with ``hash(rowid) % k`` (see `_quantiles`)

    def specs(self) -> list[_Spec]: ...

    def stats(self, specs: list[_Spec]) -> dict[str, Any]:
        """The statistics scan (`_stats_aggs`), named as it names them."""
        ...

    def one(self, aggs: list[str], *, where: str = "") -> dict[str, Any]:
        """One row of ``aggs`` (``expr AS alias``) over the table (``where``: a condition)."""
        ...

    def counts(self, keys: list[tuple[str, str]]) -> list[dict[Any, int]]:
        """For each (expression, slot) the count of each non-null value of the expression.
        Slot: "int", "float" or "str", the type the values come back as."""
        ...

    def top(self, specs: list[_Spec], k: int) -> list[list[str]]:
        """About the ``k`` most frequent values (as text) of each column: candidates whose
        exact counts `counts` then takes."""
        ...

    def distinct_rows(self, specs: list[_Spec]) -> int:
        """Distinct rows over every column (nulls equal to each other)."""
        ...


def _masked_by_look(col: ColumnProfile) -> ColumnProfile:
    """``col`` counts only when 80 % of its most frequent values look like one kind of personal
    data (:func:`workbench.data.redaction.values_kind`), though no contract marks it: a contract
    written by hand, or a column named `contact`, must not put customers' addresses in a report."""
    if col.pii or not col.top_values:
        return col
    from .redaction import values_kind

    look = values_kind([v for v, _ in col.top_values])
    return col if look is None else dataclasses.replace(col, pii=True, pii_look=look, top_values=(), reference_top=None)


def profile_with(
    reader: TableReader,
    *,
    bins: int = 20,
    top_k: int = 10,
    reference: TableProfile | None = None,
    quantile_sample_rows: int = QUANTILE_SAMPLE_ROWS,
    pii: Collection[str] = (),
) -> TableProfile:
    """:func:`profile_table` on any engine's :class:`TableReader` (``pii``: given, since
    only DuckDB's warehouse records the marks)."""
    if bins < 1 or top_k < 1:
        raise ValueError(f"bins and top_k must be >= 1 (got bins={bins}, top_k={top_k})")
    pii = set(pii)
    specs = [dataclasses.replace(s, pii=True) if s.name in pii else s for s in reader.specs()]
    stats = reader.stats(specs)
    row_count = int(stats["n"])
    partial = [_from_stats(spec, stats, row_count, bins) for spec in specs]
    _quantiles(reader, specs, partial, sample_rows=quantile_sample_rows if reader.sample else 0)
    refs = {c.name: c for c in reference.columns} if reference is not None else {}
    columns = [_masked_by_look(c) for c in _counts(reader, specs, partial, top_k, refs)]
    # duplicated rows: distinct row hashes (one more scan; a collision of 64-bit hashes is negligible)
    distinct = reader.distinct_rows(specs) if specs else row_count
    return TableProfile(
        table=reader.name,
        row_count=row_count,
        columns=tuple(columns),
        bins=bins,
        top_k=top_k,
        profiled_at=datetime.now(UTC).isoformat(timespec="seconds"),
        duckdb_version=duckdb.__version__,
        duplicate_rows=row_count - int(distinct or 0),
        engine=reader.engine,
    )


def table_stats(reader: TableReader) -> dict[str, Any]:
    """The statistics scan alone (``DataEngine.profile_stats``), keyed as its SQL names them."""
    return reader.stats(reader.specs())


def specs_of_arrow(schema: Any) -> list[_Spec]:
    """The column specs of a table of this Arrow schema, as DuckDB reads them (from an empty
    table): another engine profiles with the very specs, hence SQL, DuckDB would."""
    import pyarrow as pa

    con = duckdb.connect()
    try:
        con.register("_wb_schema", pa.Table.from_batches([], schema=schema))
        return _column_specs(con, "_wb_schema")
    finally:
        con.close()


def histogram_on_edges(con: duckdb.DuckDBPyConnection, table: str, column: str, edges: Sequence[float]) -> Histogram:
    """Count ``column`` of ``table`` on given bin ``edges`` (temporal: epoch seconds),
    with values outside them in ``below``/``above``. One scan of one column."""
    qualified, name, _ = _resolve_table(con, table)
    spec = next((s for s in _column_specs(con, qualified) if s.name == column), None)
    if spec is None or spec.kind not in ("numeric", "temporal"):
        raise WarehouseError(
            f"column {column!r} is not a numeric or temporal column of {name!r}",
            where=f"table {name}",
            hint="pick one of: "
            + ", ".join(s.name for s in _column_specs(con, qualified) if s.kind in ("numeric", "temporal")),
        )
    edges = tuple(float(e) for e in edges)
    if len(edges) < 2 or any(b <= a for a, b in itertools.pairwise(edges)):
        raise ValueError(f"edges must be at least two increasing numbers, got {edges}")
    if _equal_width(edges):
        key = _index_sql(spec.value_sql, edges, open_ends=True)
        (got,) = _query_one(con, f"SELECT histogram({key}) FROM {qualified}", table=name).values()
        return _fold(edges, dict(got or {}), open_ends=True)
    (got,) = _query_one(
        con, f"SELECT histogram({_bucket_sql(spec.value_sql, edges)}) FROM {qualified}", table=name
    ).values()
    got = dict(got or {})
    n = len(edges) - 1
    return Histogram(edges, tuple(got.get(i, 0) for i in range(n)), got.get(-1, 0), got.get(n, 0))


def read_reference(text: str | bytes | None) -> tuple[TableProfile | None, str | None]:
    """A stored profile (the JSON artifact of an earlier run) to use as the reference, or
    (None, why not). Never raises on its content: whatever an older run stored (another
    format, broken or non-finite bins, a truncated file), the new profile is computed
    without it rather than the step failing for good. Unusable bins inside an otherwise
    good profile are dropped by :func:`profile_table` and :func:`drift` themselves."""
    if text is None:
        return None, "no earlier profile"
    try:
        return TableProfile.from_dict(json.loads(text)), None
    except (ValueError, TypeError, AttributeError, KeyError, WarehouseError) as exc:
        what = exc.what if isinstance(exc, WarehouseError) else f"{type(exc).__name__}: {exc}"
        return None, f"the earlier profile cannot be read ({what[:200]}); profiled without a reference"


# --------------------------------------------------------------------------- internals


@dataclass(frozen=True)
class _Spec:
    index: int
    name: str
    dtype: str
    type_id: str
    kind: str
    pii: bool = False

    @property
    def ident(self) -> str:
        return _quote(self.name)

    @property
    def may_be_non_finite(self) -> bool:
        return self.type_id in _FLOAT_IDS or self.type_id in _INFINITE_TEMPORAL_IDS

    @property
    def value_sql(self) -> str:
        """The column as a DOUBLE for statistics; NULL for non-finite values."""
        col = self.ident
        if self.kind == "temporal":
            return f"epoch({col})"  # NULL for ±infinity
        if self.type_id in _FLOAT_IDS:
            return f"CASE WHEN isfinite({col}) THEN {col}::DOUBLE END"
        return f"{col}::DOUBLE"


def _metric_name(name: str) -> str:
    return _METRIC_BAD_CHARS.sub("_", name)


def _kind(type_id: str) -> str:
    if type_id in _NUMERIC_IDS:
        return "numeric"
    if type_id in _TEMPORAL_IDS:
        return "temporal"
    if type_id == "boolean":
        return "boolean"
    if type_id in _CATEGORICAL_IDS:
        return "categorical"
    return "other"  # nested types, BLOB, INTERVAL, ...: counts and distinct only


def _resolve_table(con: duckdb.DuckDBPyConnection, table: str) -> tuple[str, str, bool]:
    """Return (quoted qualified name, display name, is a view); WarehouseError if missing."""
    try:
        rows = con.execute(
            "SELECT table_catalog, table_schema, table_name, table_type FROM information_schema.tables "
            "ORDER BY table_schema = 'main' DESC, table_catalog, table_schema, table_name"
        ).fetchall()
    except duckdb.Error as exc:
        raise WarehouseError(f"could not list the tables: {exc}", where="warehouse") from exc
    wanted = table.lower()
    for catalog, schema, name, kind in rows:
        candidates = {name.lower(), f"{schema}.{name}".lower(), f"{catalog}.{schema}.{name}".lower()}
        if wanted in candidates:
            return f"{_quote(catalog)}.{_quote(schema)}.{_quote(name)}", name, kind == "VIEW"
    existing = sorted({name if schema == "main" else f"{schema}.{name}" for _, schema, name, _ in rows})
    raise WarehouseError(
        f"table {table!r} does not exist",
        where="warehouse",
        hint=f"profile one of the existing tables: {', '.join(existing) or '(none: ingest first)'}",
    )


def _column_specs(con: duckdb.DuckDBPyConnection, qualified: str) -> list[_Spec]:
    rel = con.sql(f"SELECT * FROM {qualified}")  # not executed: only the schema is read
    return [
        _Spec(i, name, str(dtype), dtype.id, _kind(dtype.id))
        for i, (name, dtype) in enumerate(zip(rel.columns, rel.dtypes, strict=True))
    ]


class DuckDBReader:
    """A table of a DuckDB connection, for :func:`profile_with`."""

    engine = f"duckdb {duckdb.__version__}"

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str) -> None:
        self.con = con
        self.qualified, self.name, is_view = _resolve_table(con, table)
        self.sample = not is_view  # a view has no rowid

    def specs(self) -> list[_Spec]:
        return _column_specs(self.con, self.qualified)

    def stats(self, specs: list[_Spec]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for start in range(0, max(len(specs), 1), STATS_COLUMNS_A_QUERY):  # `count(*) AS n` in each
            out.update(self.one(_stats_aggs(specs[start:start + STATS_COLUMNS_A_QUERY])))
        return out

    def one(self, aggs: list[str], *, where: str = "") -> dict[str, Any]:
        sql = f"SELECT {', '.join(aggs)} FROM {self.qualified}" + (f" WHERE {where}" if where else "")
        return _query_one(self.con, sql, table=self.name)

    def _chunked(self, aggs: list[str]) -> list[Any]:
        """Each aggregate's value, :data:`MAPS_A_QUERY` aggregates a query (aliased: names repeat)."""
        values: list[Any] = []
        for start in range(0, len(aggs), MAPS_A_QUERY):
            part = aggs[start:start + MAPS_A_QUERY]
            values += self.one([f"{a} AS a{i}" for i, a in enumerate(part)]).values()
        return values

    def counts(self, keys: list[tuple[str, str]]) -> list[dict[Any, int]]:
        return [dict(v or {}) for v in self._chunked([f"histogram({k})" for k, _ in keys])]

    def top(self, specs: list[_Spec], k: int) -> list[list[str]]:
        return [list(v or ()) for v in self._chunked([f"approx_top_k({s.ident}::VARCHAR, {int(k)})" for s in specs])]

    def distinct_rows(self, specs: list[_Spec]) -> int:
        return int(self.one([f"count(DISTINCT hash({', '.join(s.ident for s in specs)})) AS d"])["d"] or 0)


def _query_one(con: duckdb.DuckDBPyConnection, sql: str, *, table: str, params: list | None = None) -> dict[str, Any]:
    try:
        cur = con.execute(sql, params or [])
        row = cur.fetchone()
        names = [d[0] for d in cur.description]
    except duckdb.Error as exc:
        raise _query_error(exc, table) from exc
    return dict(zip(names, row, strict=True))


def _query_error(exc: Exception, table: str) -> WarehouseError:
    from .warehouse import storage_error

    storage = storage_error(exc, f"the warehouse (table {table})", doing=f"profiling table {table}")
    if storage is not None:  # a damaged file or a disk fault: say so, and how to recover
        return storage
    return WarehouseError(
        f"profiling query failed: {exc}",
        where=f"table {table}",
        hint="check the table's column types; report the query error if it persists",
    )


def _stats_sql(qualified: str, specs: list[_Spec]) -> str:
    return f"SELECT {', '.join(_stats_aggs(specs))} FROM {qualified}"


def _stats_aggs(specs: list[_Spec]) -> list[str]:
    parts = ["count(*) AS n"]
    for s in specs:
        c, p = s.ident, f"c{s.index}_"
        parts.append(f"count({c}) AS {p}nn")
        if s.pii:  # counts and lengths only: no value leaves DuckDB
            length = f"length({c}::VARCHAR)"
            parts += [f"approx_count_distinct({c}) AS {p}distinct", f"min({length}) AS {p}lmin",
                      f"max({length}) AS {p}lmax", f"avg({length}) AS {p}lmean"]
            continue
        if s.kind == "other":
            continue
        if s.kind == "boolean":
            parts += [f"coalesce(count_if({c}), 0) AS {p}true", f"coalesce(count_if(NOT {c}), 0) AS {p}false"]
            continue
        parts.append(f"approx_count_distinct({c}) AS {p}distinct")
        if s.kind == "categorical":
            continue
        v = s.value_sql
        if s.may_be_non_finite:
            parts.append(f"count({v}) AS {p}finite")
        parts += [
            f"min({v}) AS {p}min",
            f"max({v}) AS {p}max",
            f"avg({v}) AS {p}mean",
            f"stddev_samp({v}) AS {p}std",
        ]
        if s.kind == "numeric":
            # cubes of values past 1e90 overflow (DuckDB raises "SKEW is out of range"); such values
            # are reported as extreme (workbench.data.profile_alerts), the skew of the rest is kept
            parts.append(f"skewness(CASE WHEN abs({v}) < 1e90 THEN {v} END) AS {p}skew")
    return parts


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value) if isinstance(value, Decimal) else value
    return float(value) if math.isfinite(value) else None


def _temporal_label(type_id: str, epoch: float | None) -> str | None:
    """Readable form of an epoch-seconds value (UTC for WITH TIME ZONE types)."""
    if epoch is None:
        return None
    moment = datetime.fromtimestamp(0, UTC) + timedelta(seconds=epoch)
    if type_id == "date":
        return moment.date().isoformat()
    if type_id.startswith("time") and not type_id.startswith("timestamp"):
        return moment.time().isoformat()
    if "time zone" in type_id:
        return moment.isoformat(sep=" ")
    return moment.replace(tzinfo=None).isoformat(sep=" ")


def _from_stats(spec: _Spec, st: dict[str, Any], row_count: int, bins: int) -> dict[str, Any]:
    """Column fields known after the stats scan (keys starting with "_" are for later)."""
    p = f"c{spec.index}_"
    nn = int(st[f"{p}nn"])
    out: dict[str, Any] = {
        "name": spec.name,
        "dtype": spec.dtype,
        "kind": spec.kind,
        "row_count": row_count,
        "null_count": row_count - nn,
    }
    if spec.pii:
        out.update(pii=True, distinct_count=min(int(st[f"{p}distinct"]), nn), length_min=_num(st[f"{p}lmin"]),
                   length_max=_num(st[f"{p}lmax"]), length_mean=_num(st[f"{p}lmean"]))
        return out
    if spec.kind == "boolean":
        t, f = int(st[f"{p}true"]), int(st[f"{p}false"])
        out["top_values"] = tuple(sorted(((v, c) for v, c in ((True, t), (False, f)) if c), key=lambda x: -x[1]))
        out["distinct_count"], out["distinct_is_exact"] = len(out["top_values"]), True
        return out
    if spec.kind == "other":
        return out
    # HyperLogLog can overshoot a little ("≈ 2,012" in 2,000 rows): no count exceeds the non-null
    # rows (nor, below, an integer range's width); still an estimate (distinct_is_exact stays False)
    out["distinct_count"] = min(int(st[f"{p}distinct"]), nn)
    if spec.kind == "categorical":
        out["_low_card"] = out["distinct_count"] <= CATEGORICAL_EXACT_LIMIT
        return out
    finite = int(st[f"{p}finite"]) if spec.may_be_non_finite else nn
    out["non_finite_count"] = nn - finite
    lo, hi = _num(st[f"{p}min"]), _num(st[f"{p}max"])
    out.update(min=lo, max=hi, mean=_num(st[f"{p}mean"]), std=_num(st[f"{p}std"]))
    if spec.kind == "numeric":
        out["skewness"] = _num(st.get(f"{p}skew"))
    out["_finite"] = finite
    if spec.kind == "temporal":
        out["min_label"], out["max_label"] = _temporal_label(spec.type_id, lo), _temporal_label(spec.type_id, hi)
    if lo is None or hi is None:
        return out
    if spec.type_id in _INTEGRAL_IDS:
        out["distinct_count"] = min(out["distinct_count"], int(hi - lo) + 1)
        # Integer-aligned bins of a whole width: 1..31 in 20 bins of 1.5 would alternate
        # one and two values a bin (a sawtooth that is not in the data).
        width = math.ceil((hi - lo + 1) / bins)
        n = math.ceil((hi - lo + 1) / width)
        edges = tuple(lo - 0.5 + width * i for i in range(n + 1))
    elif hi == lo:
        edges = (lo, hi)
    else:  # a convex combination: finite even when hi - lo overflows (-1e308..1e308)
        edges = tuple(lo * (1 - i / bins) + hi * (i / bins) for i in range(bins)) + (hi,)
    if not all(math.isfinite(e) for e in edges):  # integer bins of a huge range
        edges = tuple(lo * (1 - i / bins) + hi * (i / bins) for i in range(bins)) + (hi,)
    out["_edges"] = edges
    if hi == lo:
        out["histogram"] = Histogram(edges, (finite,))
    # HyperLogLog can overshoot a little: an integer range that small is low-cardinality too.
    out["_low_card"] = out["distinct_count"] <= LOW_CARDINALITY or (
        spec.type_id in _INTEGRAL_IDS and hi - lo + 1 <= LOW_CARDINALITY
    )
    return out


def _quantiles(
    reader: TableReader,
    specs: list[_Spec],
    partial: list[dict[str, Any]],
    *,
    sample_rows: int,
) -> None:
    """Fill ``quantiles`` (t-digest) in ``partial``, from a sample on large columns.

    A column with at least ``2 * sample_rows`` finite values is read through
    ``hash(rowid) % k = 0`` (a deterministic, value-independent uniform sample of about
    ``sample_rows`` values: rank error ~ sqrt(p(1-p)/n) <= 0.05 percentile
    point, below the t-digest's own). That cuts the quantile cost ~k-fold: the t-digest
    was 60 % of the whole profile at 3.4 M rows. Smaller columns, and views (no rowid),
    are read in full, and so is every table on an engine that cannot sample by ``rowid``
    (Spark's ``percentile_approx`` keeps a bounded sketch anyway). Its own query: next
    to histogram(), approx_quantile made the aggregate peak at 4x the memory (measured).
    """
    qs = "[" + ", ".join(str(q) for q in QUANTILES.values()) + "]"
    todo = [(s, p) for s, p in zip(specs, partial, strict=True) if p.get("_finite")]
    dense = [(s, p) for s, p in todo if sample_rows > 0 and p["_finite"] >= 2 * sample_rows]
    groups = []
    if dense:
        groups.append((dense, min(p["_finite"] for _, p in dense) // sample_rows))
    rest = [(s, p) for s, p in todo if not any(s is d for d, _ in dense)]
    if rest:
        groups.append((rest, 1))
    chunks = [(cols[start:start + MAPS_A_QUERY], k)
              for cols, k in groups for start in range(0, len(cols), MAPS_A_QUERY)]
    for cols, k in chunks:  # a sketch each: a few columns a query (MAPS_A_QUERY)
        aggs = []
        for i, (spec, _) in enumerate(cols):
            aggs += [f"approx_quantile({spec.value_sql}, {qs}) AS q{i}", f"count({spec.value_sql}) AS n{i}"]
        row = reader.one(aggs, where=f"hash(rowid) % {k} = 0" if k > 1 else "")
        for i, (_, part) in enumerate(cols):
            values = row[f"q{i}"] or []
            part["quantiles"] = {name: float(v) for name, v in zip(QUANTILES, values, strict=True) if v is not None}
            part["quantile_sample"] = int(row[f"n{i}"])


def _equal_width(edges: tuple[float, ...]) -> bool:
    widths = [b - a for a, b in itertools.pairwise(edges)]
    return len(edges) >= 2 and edges[-1] > edges[0] and max(widths) - min(widths) <= 1e-9 * (edges[-1] - edges[0])


def _index_sql(value: str, edges: tuple[float, ...], *, open_ends: bool) -> str:
    """SQL for a bin key of ``value`` on equal-width ``edges``, NULL for NULL.

    Arithmetic, no CASE (cheaper per row): the key is ``floor((v - lo) / width)`` and
    :func:`_fold` maps keys to bins. With ``open_ends`` (someone else's edges) ``n + 1``
    is added when ``v > hi``, so that ``v == hi`` (last bin, closed) and ``v`` just above
    ``hi`` stay apart.
    """
    n = len(edges) - 1
    lo, hi = edges[0], edges[-1]
    # v * f - lo * f rather than (v - lo) * f: v - lo overflows to inf on a -1e308..1e308 range
    span = hi - lo if math.isfinite(hi - lo) else (hi / 2 - lo / 2) * 2
    f = n / span if math.isfinite(span) else (n / 2) / (hi / 2 - lo / 2)
    key = f"floor({value} * {f!r}::DOUBLE - {lo * f!r}::DOUBLE)"
    if not open_ends:  # the column's own min/max: every key is in 0..n already
        return f"{key}::BIGINT"
    # Clamped to -1..2n+2 so far-away values cannot grow the map (or overflow the
    # cast); "+ 0 * value" puts back the NULL that least/greatest would drop.
    key = f"{key} + ({value} > {hi!r}::DOUBLE)::INTEGER * {n + 1}"
    return f"(least(greatest({key}, -1), {2 * n + 2}) + 0 * {value})::BIGINT"


def _fold(edges: tuple[float, ...], keys: Mapping[float, int], *, open_ends: bool) -> Histogram:
    """Counts by :func:`_index_sql` key -> a Histogram (keys < 0 below, > n above)."""
    n = len(edges) - 1
    counts, below, above = [0] * n, 0, 0
    for key, count in keys.items():
        k = int(key)
        if k < 0:
            below += count
        elif k > n:
            above += count
        else:  # k == n: the max itself (or float rounding at the top edge)
            counts[min(k, n - 1)] += count
    if not open_ends:  # own edges span [min, max]: anything outside is float rounding
        counts[0] += below
        counts[-1] += above
        below = above = 0
    return Histogram(edges, tuple(counts), below, above)


def _bucket_sql(value: str, edges: tuple[float, ...]) -> str:
    """Bin index on arbitrary ``edges`` (a CASE chain): -1 below, n above, NULL for NULL."""
    n = len(edges) - 1
    whens = " ".join(f"WHEN {value} < {e!r}::DOUBLE THEN {i}" for i, e in enumerate(edges[1:-1]))
    inside = f"CASE {whens} ELSE {n - 1} END" if whens else "0"
    return (
        f"CASE WHEN {value} < {edges[0]!r}::DOUBLE THEN -1 WHEN {value} > {edges[-1]!r}::DOUBLE THEN {n} "
        f"WHEN {value} IS NOT NULL THEN {inside} END"
    )


def _counts(
    reader: TableReader,
    specs: list[_Spec],
    partial: list[dict[str, Any]],
    top_k: int,
    refs: dict[str, ColumnProfile],
) -> list[ColumnProfile]:
    """The counts scan: one ``histogram()`` aggregate per key (a bounded map each), plus,
    for high-cardinality categorical columns only, ``approx_top_k`` candidates whose exact
    counts take a third, narrow scan of just those columns."""
    keys: list[tuple[str, str, str, int]] = []  # (value sql, slot, purpose, column index)
    wide: list[_Spec] = []  # high-cardinality categorical columns
    for spec, part in zip(specs, partial, strict=True):
        if spec.pii:
            continue
        ref = refs.get(spec.name)
        ref = ref if ref is not None and ref.kind == spec.kind and not ref.pii else None
        if spec.kind in ("numeric", "temporal"):
            edges = part.get("_edges")
            if edges is not None and "histogram" not in part:
                keys.append((_index_sql(spec.value_sql, edges, open_ends=False), "int", "hist", spec.index))
            if edges is not None and part["_low_card"]:
                if spec.kind == "temporal":
                    val, slot = f"{spec.ident}::VARCHAR", "str"
                elif spec.type_id in _INTEGRAL_IDS:
                    val, slot = spec.ident, "int"
                else:  # non-finite floats are not values worth ranking; decimals count as floats
                    val, slot = spec.value_sql, "float"
                keys.append((val, slot, "values", spec.index))
            if ref is not None and ref.histogram is not None and ref.histogram.usable \
                    and ref.histogram.edges[-1] > ref.histogram.edges[0]:
                r_edges = ref.histogram.edges
                if _equal_width(r_edges):
                    key = _index_sql(spec.value_sql, r_edges, open_ends=True)
                else:
                    key = _bucket_sql(spec.value_sql, r_edges)
                keys.append((key, "int", "ref_hist", spec.index))
        elif spec.kind == "categorical" and part["distinct_count"]:
            if part["_low_card"]:
                keys.append((f"{spec.ident}::VARCHAR", "str", "values", spec.index))
            else:
                wide.append(spec)

    results: dict[tuple[str, int], Any] = {}
    if keys:
        got = reader.counts([(k, slot) for k, slot, _, _ in keys])
        for (_, _, purpose, idx), value in zip(keys, got, strict=True):
            results[(purpose, idx)] = value
    if wide:
        # Candidates first, in a query of their own: next to histogram() in one
        # aggregate, approx_top_k made DuckDB 2.0 peak at 4x the memory (measured).
        wanted_keys = []
        for spec, candidates in zip(wide, reader.top(wide, int(top_k)), strict=True):
            wanted = [v for v in candidates or () if v is not None]
            ref = refs.get(spec.name)
            if ref is not None and ref.kind == spec.kind and not ref.pii:
                wanted += [str(v) for v, _ in ref.top_values if str(v) not in wanted]
            col = f"{spec.ident}::VARCHAR"
            listed = ", ".join(quote_literal(v) for v in wanted) or "NULL"
            wanted_keys.append((f"CASE WHEN {col} IN ({listed}) THEN {col} END", "str"))
        for spec, value in zip(wide, reader.counts(wanted_keys), strict=True):
            results[("values", spec.index)] = value

    columns = []
    for spec, part in zip(specs, partial, strict=True):
        fields = {k: v for k, v in part.items() if not k.startswith("_")}
        idx = spec.index
        ref = refs.get(spec.name)
        ref = ref if ref is not None and ref.kind == spec.kind and not ref.pii and not spec.pii else None
        if ("hist", idx) in results:
            fields["histogram"] = _fold(part["_edges"], results[("hist", idx)], open_ends=False)
        if ("ref_hist", idx) in results:
            r_edges = ref.histogram.edges  # type: ignore[union-attr]
            got = results[("ref_hist", idx)]
            if _equal_width(r_edges):
                fields["reference_histogram"] = _fold(r_edges, got, open_ends=True)
            else:
                n = len(r_edges) - 1
                fields["reference_histogram"] = Histogram(
                    r_edges, tuple(got.get(i, 0) for i in range(n)), got.get(-1, 0), got.get(n, 0)
                )
        counts = results.get(("values", idx))
        if counts is not None:
            counts = {float(v) if isinstance(v, Decimal) else v: int(c) for v, c in counts.items()}
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            fields["top_values"] = tuple(ranked[:top_k])
            if part.get("_low_card"):  # every value was counted
                fields["distinct_count"], fields["distinct_is_exact"] = len(counts), True
        if ref is not None and spec.kind in ("categorical", "boolean"):
            have = counts if counts is not None else dict(fields.get("top_values", ()))
            fields["reference_top"] = tuple(
                (v, have.get(v if spec.kind == "boolean" else str(v), 0)) for v, _ in ref.top_values
            )
        columns.append(ColumnProfile(**fields))
    return columns


# --------------------------------------------------------------------------- drift

_EPS = 1e-4


def psi(expected: Sequence[float], actual: Sequence[float], *, eps: float = _EPS) -> float:
    """Population stability index of two count (or proportion) vectors on the same
    buckets. Proportions are floored at ``eps`` and renormalised, so an empty bucket on
    one side adds a large but finite term instead of infinity."""
    if len(expected) != len(actual) or not expected:
        raise ValueError("psi needs two non-empty vectors of the same length")
    e, a = _smooth(expected, eps), _smooth(actual, eps)
    return float(sum((ai - ei) * math.log(ai / ei) for ei, ai in zip(e, a, strict=True)))


def _smooth(counts: Sequence[float], eps: float) -> list[float]:
    total = float(sum(counts))
    props = [c / total for c in counts] if total > 0 else [1.0 / len(counts)] * len(counts)
    floored = [max(p, eps) for p in props]
    s = sum(floored)
    return [p / s for p in floored]


def _rebin(hist: Histogram, edges: tuple[float, ...]) -> list[float]:
    """Spread ``hist`` onto ``edges`` (+ below/above buckets), uniform within each bin."""
    n = len(edges) - 1
    out = [0.0] * (n + 2)  # below, bins..., above
    out[0] += hist.below
    out[-1] += hist.above
    bounds = [-math.inf, *edges[:-1], edges[-1], math.inf]  # bucket j: [bounds[j], bounds[j+1])
    for a, b, count in zip(hist.edges, hist.edges[1:], hist.counts, strict=False):
        if not count:
            continue
        for j in range(n + 2):
            lo, hi = bounds[j], bounds[j + 1]
            if b == a:  # a point mass
                inside = lo <= a < hi or (j == n and a == edges[-1])
                out[j] += count if inside else 0
            else:
                overlap = max(0.0, min(b, hi) - max(a, lo))
                out[j] += count * overlap / (b - a)
    return out


def drift(previous: TableProfile, current: TableProfile, *, threshold: float = 0.2) -> DriftReport:
    """Compare two profiles of the same table (see the module docstring for the method).

    A column is flagged when its PSI exceeds ``threshold`` (0.1 is commonly read as
    "some shift", 0.2-0.25 as "significant"). Columns added, removed or whose kind
    changed get no PSI; type changes within a kind (INTEGER -> BIGINT) still get one.
    """
    prev_cols = {c.name: c for c in previous.columns}
    cur_cols = {c.name: c for c in current.columns}
    added = tuple(n for n in cur_cols if n not in prev_cols)
    removed = tuple(n for n in prev_cols if n not in cur_cols)
    type_changes = tuple(
        (n, prev_cols[n].dtype, cur_cols[n].dtype)
        for n in cur_cols
        if n in prev_cols and prev_cols[n].dtype != cur_cols[n].dtype
    )
    results = []
    for name, cur in cur_cols.items():
        prev = prev_cols.get(name)
        if prev is None:
            continue
        results.append(_column_drift(prev, cur, threshold))
    return DriftReport(
        table=current.table,
        threshold=threshold,
        previous_rows=previous.row_count,
        current_rows=current.row_count,
        columns=tuple(results),
        added=added,
        removed=removed,
        type_changes=type_changes,
    )


def _column_drift(prev: ColumnProfile, cur: ColumnProfile, threshold: float) -> ColumnDrift:
    def skipped(why: str) -> ColumnDrift:
        return ColumnDrift(prev.name, cur.kind, None, False, f"skipped: {why}")

    if prev.kind != cur.kind:
        return skipped(f"kind changed from {prev.kind} to {cur.kind}")
    if not prev.row_count or not cur.row_count:
        return skipped("a table is empty")
    if cur.pii or prev.pii:
        # personal data: only the null rate is compared (bucket names would be values)
        buckets, expected, actual, method = (
            ["null", "values"],
            [prev.null_count, prev.non_null_count],
            [cur.null_count, cur.non_null_count],
            "exact (personal data: null rate only)",
        )
    elif cur.kind in ("numeric", "temporal"):
        if prev.histogram is None or not prev.histogram.usable:
            # No finite previous value, or bins an older run stored broken (non-finite
            # edges): only the null bucket is comparable.
            buckets, expected, actual, method = (
                ["null", "values"],
                [prev.null_count, prev.non_null_count],
                [cur.null_count, cur.non_null_count],
                "exact",
            )
        else:
            edges = prev.histogram.edges
            buckets = ["null", "below"] + [f"[{a:.4g}, {b:.4g})" for a, b in itertools.pairwise(edges)] + ["above"]
            expected = [prev.null_count, 0, *prev.histogram.counts, 0]
            ref = cur.reference_histogram
            if ref is not None and ref.edges == edges:
                actual, method = [cur.null_count, ref.below, *ref.counts, ref.above], "exact"
            elif cur.histogram is not None:
                actual, method = [cur.null_count, *_rebin(cur.histogram, edges)], "rebinned"
            else:
                actual, method = [cur.null_count, 0, *([0] * len(prev.histogram.counts)), 0], "exact"
            # Non-finite values are not in the histogram; count them with nulls.
            expected[0] += prev.non_finite_count
            actual[0] += cur.non_finite_count
    elif cur.kind in ("categorical", "boolean"):
        values = [v for v, _ in prev.top_values]
        buckets = ["null", *(str(v) for v in values), "other"]
        expected = [prev.null_count, *(c for _, c in prev.top_values), prev.other_count]
        if cur.reference_top is not None and [v for v, _ in cur.reference_top] == values:
            got, method = dict(cur.reference_top), "exact"
        else:
            got, method = dict(cur.top_values), "top_values"
        counts = [got.get(v, 0) for v in values]
        actual = [cur.null_count, *counts, cur.non_null_count - sum(counts)]
    else:
        buckets, expected, actual, method = (
            ["null", "values"],
            [prev.null_count, prev.non_null_count],
            [cur.null_count, cur.non_null_count],
            "exact",
        )
    value = psi(expected, actual)
    return ColumnDrift(
        name=prev.name,
        kind=cur.kind,
        psi=value,
        flagged=value > threshold,
        method=method,
        buckets=tuple(buckets),
        expected=tuple(_smooth(expected, _EPS)),
        actual=tuple(_smooth(actual, _EPS)),
    )


# --------------------------------------------------------------------------- figures


def _new_figure(width: float, height: float, *, layout: str | None = None) -> Figure:
    # A bare Figure (no pyplot): no global state, no backend to choose, headless-safe;
    # it renders with Agg on savefig / mlflow.log_figure and displays inline in Jupyter.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout=layout)


# panels of one histogram grid: a wide table's 500 would draw for 13 s into an image no notebook
# keeps (a cell's output is cut at 2 MB) and nobody reads; the profile report shows every column
MAX_PANELS = 48


def plot_histograms(profile: TableProfile, columns: Sequence[str] | None = None, *, ncols: int = 4,
                    max_panels: int = MAX_PANELS) -> Figure:
    """A grid with one panel a column: histogram (numeric, temporal) or top values; the first
    ``max_panels`` of them, and the title says how many more the profile report holds."""
    cols = [profile[c] for c in columns] if columns is not None else list(profile.columns)
    cols = [c for c in cols if c.histogram is not None or c.top_values] or cols[:1]
    more = max(0, len(cols) - max_panels)
    cols = cols[:max_panels]
    ncols = max(1, min(ncols, len(cols)))
    nrows = max(1, math.ceil(len(cols) / ncols))
    fig = _new_figure(3.2 * ncols, 2.4 * nrows)
    fig.suptitle(f"{profile.table}: {profile.row_count:,} rows"
                 + (f"; the first {len(cols)} columns drawn, {more:,} more in the profile report" if more else ""))
    # Fixed spacing: a layout engine costs seconds on a 20-panel grid at savefig.
    top = 1 - 0.75 / (2.4 * nrows)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.3 / nrows, top=top, hspace=0.6, wspace=0.35)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, col in zip(axes, cols, strict=False):
        extra = f", {col.non_finite_count:,} non-finite" if col.non_finite_count else ""
        ax.set_title(f"{col.name} ({col.kind}, {col.null_rate:.1%} null{extra})", fontsize=8)
        ax.tick_params(labelsize=7)
        if col.pii:  # never draw values of personal data, nor ticks that would name them
            ax.set_xticks([])
            ax.set_yticks([])
            ax.text(0.5, 0.5, "personal data:\ncounts only", ha="center", va="center", transform=ax.transAxes,
                    fontsize=8)
        elif col.histogram is not None:
            edges = list(col.histogram.edges)
            if col.kind == "temporal":
                import matplotlib.dates as mdates

                edges = [e / 86400.0 for e in edges]  # matplotlib dates: days since 1970
                ax.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=4))
                ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
            if len(edges) == 2 and edges[0] == edges[1]:
                edges = [edges[0] - 0.5, edges[1] + 0.5]
            biggest = max(abs(e) for e in edges)
            if biggest > 1e300:  # matplotlib's axis arithmetic overflows near the float limit
                scale = 10.0 ** math.floor(math.log10(biggest))
                edges = [e / scale for e in edges]
                ax.set_xlabel(f"x {scale:.0e}", fontsize=7)
            ax.stairs(col.histogram.counts, edges, fill=True, alpha=0.8)
        elif col.top_values:
            labels = [str(v) for v, _ in col.top_values][::-1]
            ax.barh(labels, [c for _, c in col.top_values][::-1])
        else:
            ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
    for ax in axes[len(cols) :]:
        ax.set_visible(False)
    return fig


def plot_drift(report: DriftReport) -> Figure:
    """PSI per column as horizontal bars, flagged ones highlighted, threshold as a line."""
    cols = [c for c in report.columns if c.psi is not None]
    cols.sort(key=lambda c: c.psi or 0.0)
    fig = _new_figure(6.0, max(2.0, 0.3 * len(cols) + 1.2), layout="constrained")  # one axes: cheap
    ax = fig.subplots()
    ax.barh([c.name for c in cols], [c.psi for c in cols], color=["tab:red" if c.flagged else "tab:blue" for c in cols])
    ax.axvline(report.threshold, color="black", linestyle="--", linewidth=1, label=f"threshold {report.threshold:g}")
    ax.set_xlabel("PSI (previous run's buckets)")
    title = f"{report.table}: drift, {len(report.flagged)} flagged"
    if report.schema_changed:
        title += f"; schema: +{len(report.added)} -{len(report.removed)} ~{len(report.type_changes)}"
    ax.set_title(title, fontsize=9)
    ax.legend(loc="lower right", fontsize=7)
    return fig
