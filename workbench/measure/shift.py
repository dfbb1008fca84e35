"""Shift between the training rows and the held-out rows the pilot is judged on.

Per feature: the population stability index (PSI, :func:`workbench.data.profiling.psi`,
the same formula as drift between runs) of the held-out rows against the training rows,
and for a categorical feature the share of held-out rows whose category never occurs in
the training rows (a model scores those with no evidence at all).

Buckets come from the training rows (in memory): a numeric feature's deciles (distinct
edges only) plus a null bucket; a categorical feature's :data:`TOP` most frequent values,
"other seen", "unseen" and null. The held-out rows are counted in DuckDB, in the scratch
file they already live in (:class:`~.modeling.heldout.HeldOut`), in one scan for every
numeric feature and one grouped scan per categorical feature: every held-out row is
counted, and nothing is pulled into Python but the counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..data.profiling import MAPS_A_QUERY, psi

__all__ = ["ColumnShift", "ShiftReport", "compare", "compare_data", "shift_from_json", "TOP", "BINS"]

TOP = 20
BINS = 10
_NULL, _OTHER, _UNSEEN = "(null)", "(other)", "(unseen)"


@dataclass(frozen=True)
class ColumnShift:
    """One feature's shift: PSI on the training buckets, and unseen categories."""

    column: str
    kind: str  # numeric | categorical
    psi: float
    unseen_rows: int = 0
    unseen_share: float = 0.0
    heldout_rows: int = 0
    buckets: tuple[str, ...] = ()
    train_shares: tuple[float, ...] = ()
    heldout_shares: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("buckets", "train_shares", "heldout_shares"):
            d[key] = list(d[key])
        return d


@dataclass(frozen=True)
class ShiftReport:
    """Every feature's shift, worst first (by PSI, then unseen share)."""

    columns: tuple[ColumnShift, ...]
    train_rows: int
    heldout_rows: int
    method: str = "training rows in memory; every held-out row counted in DuckDB"
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def max_psi(self) -> float:
        return max((c.psi for c in self.columns), default=0.0)

    @property
    def unseen_share_max(self) -> float:
        return max((c.unseen_share for c in self.columns), default=0.0)

    def metrics(self) -> dict[str, float]:
        """The two gateable numbers (registered in :mod:`workbench.measure.metrics`)."""
        return {"shift.max_psi": float(self.max_psi), "shift.unseen_share_max": float(self.unseen_share_max)}

    def to_dict(self) -> dict[str, Any]:
        return {"train_rows": self.train_rows, "heldout_rows": self.heldout_rows, "method": self.method,
                "notes": list(self.notes), "columns": [c.to_dict() for c in self.columns]}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"column": c.column, "kind": c.kind, "PSI": c.psi, "unseen share": c.unseen_share,
                              "unseen rows": c.unseen_rows} for c in self.columns])


def shift_from_json(data: Mapping[str, Any] | None) -> ShiftReport | None:
    """A report from ``shift/columns.json`` (None when absent)."""
    if not data:
        return None
    cols = tuple(ColumnShift(**{**c, "buckets": tuple(c.get("buckets", ())),
                                "train_shares": tuple(c.get("train_shares", ())),
                                "heldout_shares": tuple(c.get("heldout_shares", ()))})
                 for c in data.get("columns", []))
    return ShiftReport(cols, int(data.get("train_rows", 0)), int(data.get("heldout_rows", 0)),
                       str(data.get("method", "")), tuple(data.get("notes", ())))


def _q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _edges(values: np.ndarray) -> list[float]:
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return []
    qs = np.quantile(finite, np.linspace(0, 1, BINS + 1)[1:-1])
    return sorted({float(q) for q in qs})


def _shares(counts: Sequence[float]) -> tuple[float, ...]:
    total = float(sum(counts))
    return tuple((c / total) if total else 0.0 for c in counts)


def compare(train: pd.DataFrame, heldout: Any, numeric: Sequence[str], categorical: Sequence[str]) -> ShiftReport:
    """Shift of each feature between ``train`` (a frame) and ``heldout`` (a
    :class:`~.modeling.heldout.HeldOut`: a DuckDB table ``heldout`` on ``heldout.con``)."""
    con, table = heldout.con.cursor(), "heldout"  # a cursor of its own: no statement of the caller's is disturbed
    try:
        return _compare(con, table, train, heldout, numeric, categorical)
    finally:
        con.close()


def _compare(con: Any, table: str, train: pd.DataFrame, heldout: Any, numeric: Sequence[str],
             categorical: Sequence[str]) -> ShiftReport:
    present = set(heldout.columns)
    out: list[ColumnShift] = []
    num = [c for c in numeric if c in train.columns and c in present]
    edges = {c: _edges(pd.to_numeric(train[c], errors="coerce").astype("float64").to_numpy()) for c in num}
    hists: list[Any] = []
    total = 0
    # a few columns a query, as profiling does: each histogram aggregate holds its own buffers, and 200
    # of them in one SELECT exhausted the 512 MB limit on a 63-row held-out set (a 752-column table)
    for start in range(0, len(num), MAPS_A_QUERY):
        parts = []
        for c in num[start:start + MAPS_A_QUERY]:
            x = f"{_q(c)}::DOUBLE"
            bucket = " + ".join(f"({x} >= {e!r})::INTEGER" for e in edges[c]) or "0"
            parts.append(f"histogram(CASE WHEN {x} IS NULL OR isnan({x}) THEN -1 ELSE {bucket} END)")
        row = con.execute(f"SELECT count(*), {', '.join(parts)} FROM {table}").fetchall()[0]
        total = int(row[0])
        hists += row[1:]
    for c, hist in zip(num, hists, strict=True):
        hist = dict(hist or {})
        k = len(edges[c]) + 1
        x = pd.to_numeric(train[c], errors="coerce").astype("float64").to_numpy()
        finite = np.isfinite(x)
        idx = np.searchsorted(np.asarray(edges[c], dtype=float), x[finite], side="right") if edges[c] \
            else np.zeros(int(finite.sum()), dtype=int)
        expected = [float((~finite).sum()), *np.bincount(idx, minlength=k).astype(float)]
        actual = [float(hist.get(-1, 0)), *(float(hist.get(i, 0)) for i in range(k))]
        labels = [_NULL] + _interval_labels(edges[c])
        out.append(ColumnShift(c, "numeric", psi(expected, actual), 0, 0.0, total, tuple(labels),
                               _shares(expected), _shares(actual)))
    for c in (c for c in categorical if c in train.columns and c in present):
        keys = train[c].astype("string")
        counts = keys.value_counts(dropna=True)
        top = [str(v) for v in counts.index[:TOP]]
        # typed as text: an empty list would be read as a column of numbers (a column of nothing but nulls)
        seen = pd.DataFrame({"v": pd.Series([str(v) for v in counts.index], dtype="string")})
        topf = pd.DataFrame({"v": pd.Series(top, dtype="string")})
        con.register("__wb_seen", seen)
        con.register("__wb_top", topf)
        try:
            rows = con.execute(
                f"SELECT CASE WHEN h.{_q(c)} IS NULL THEN '{_NULL}' WHEN s.v IS NULL THEN '{_UNSEEN}' "
                f"WHEN t.v IS NULL THEN '{_OTHER}' ELSE t.v END AS b, count(*) "
                f"FROM {table} h LEFT JOIN __wb_seen s ON CAST(h.{_q(c)} AS VARCHAR) = s.v "
                f"LEFT JOIN __wb_top t ON CAST(h.{_q(c)} AS VARCHAR) = t.v GROUP BY 1").fetchall()
        finally:
            con.unregister("__wb_seen")
            con.unregister("__wb_top")
        got = {b: int(n) for b, n in rows}
        total = sum(got.values())
        labels = [_NULL, *top, _OTHER, _UNSEEN]
        expected = [float(keys.isna().sum()), *(float(counts[v]) for v in counts.index[:TOP]),
                    float(counts.iloc[TOP:].sum()), 0.0]
        actual = [float(got.get(b, 0)) for b in labels]
        unseen = got.get(_UNSEEN, 0)
        out.append(ColumnShift(c, "categorical", psi(expected, actual), unseen, unseen / total if total else 0.0,
                               total, tuple(labels), _shares(expected), _shares(actual)))
    out.sort(key=lambda s: (-s.psi, -s.unseen_share, s.column))
    return ShiftReport(tuple(out), len(train), int(heldout.rows))


def _interval_labels(edges: Sequence[float]) -> list[str]:
    if not edges:
        return ["all values"]
    bounds = ["-inf", *(f"{e:.4g}" for e in edges), "inf"]
    return [f"[{a}, {b})" for a, b in zip(bounds, bounds[1:], strict=False)]


def compare_data(data: Any) -> ShiftReport:
    """:func:`compare` on a :class:`~.modeling.ModelingData` (its training rows, its held-out rows).
    A temporal split's own column is left out: it moves between the two by design."""
    split = data.split or {}
    by_design = {split.get("column")} if split.get("kind") == "temporal" else set()
    return compare(data.train, data.heldout, [c for c in data.numeric if c not in by_design],
                   [c for c in data.categorical if c not in by_design])
