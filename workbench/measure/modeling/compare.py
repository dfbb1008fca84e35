"""A candidate against a reference (today's rule, the champion) on the same held-out rows:
paired differences with 95 % intervals (:mod:`workbench.measure.stats`), overall and per slice.

Both models' scores sit in the scratch DuckDB next to the rows (:func:`~.heldout.score_rows`);
they are joined on the row number, so every difference is paired row by row. Only three
numbers a row (truth and the two scores) and the slice columns come into memory; past
``max_rows`` rows a fixed-seed sample of that many is compared (and said so).

What is logged (:meth:`Comparison.metrics`): for each compared metric ``quality.<m>``,
``compare.<reference>.<m>.diff`` / ``.ci_low`` / ``.ci_high`` (candidate minus reference;
the interval is 95 %), and ``compare.<reference>.rows``; the full evidence, every slice
included, is the JSON artifact ``compare/<reference>.json`` (:meth:`Comparison.to_dict`) the
gates read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...charter.config import Task
from ...errors import EvaluationError
from .. import stats
from ..evaluation import _name_part, slice_positions
from ..sql_metrics import ROW, SCORE, Y
from .heldout import ScoredRows

__all__ = ["Comparison", "SliceDiff", "compare", "default_metrics", "held_out_counts", "ARTIFACT"]

ARTIFACT = "compare/{reference}.json"
_CLASSIFICATION = ("roc_auc", "average_precision", "accuracy", "brier", "log_loss", "f1")
_REGRESSION = ("mae", "rmse", "r2")


def default_metrics(task: Task) -> tuple[str, ...]:
    """The quality metrics compared by default (short names)."""
    if task.kind == "multiclass":
        from .multiclass import DEFAULT_METRICS

        return DEFAULT_METRICS
    return _CLASSIFICATION if task.kind == "classification" else _REGRESSION


def _q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


@dataclass(frozen=True)
class SliceDiff:
    """One slice's paired difference on one metric (``diff`` None: not computable, ``reason`` says why)."""

    column: str
    value: Any
    key: str  # <column>.<value>, as in slice.<column>.<value>.* metric names
    rows: int
    metric: str
    diff: stats.PairedDiff | None
    reason: str = ""
    # rows of the slice's rarest class (classification; None: regression): under stats.MIN_PER_CLASS,
    # the interval is too wide to show the candidate is not worse there, only that it is
    smallest_class: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "value": None if self.value is None else str(self.value), "key": self.key,
                "rows": self.rows, "metric": self.metric, "reason": self.reason,
                **({} if self.smallest_class is None else {"smallest_class": self.smallest_class}),
                **(self.diff.to_dict() if self.diff is not None else {})}


@dataclass(frozen=True)
class Comparison:
    """A candidate minus a reference on the same rows, per metric and per slice."""

    candidate: str
    reference: str  # baseline | champion
    reference_label: str  # what the reference is, for a person ("today's rule", "champion v3")
    rows: int  # rows compared
    # rows in the held-out set (rows < heldout_rows: a sample was compared); an eval set's distinct inputs
    heldout_rows: int
    class_counts: dict[str, int] | None
    diffs: dict[str, stats.PairedDiff]  # quality.<m> -> difference
    slices: tuple[SliceDiff, ...] = ()
    notes: tuple[str, ...] = field(default=())
    repeats: int = 0  # eval items whose input an earlier item already asks (counted once: not in heldout_rows)
    groups: int = 0  # a group split's held-out groups (the units of every interval; 0: rows are)
    grouped_by: str | None = None

    def metrics(self, logged: Sequence[str] | None = None) -> dict[str, float]:
        """``compare.<reference>.<m>.diff|ci_low|ci_high`` for the metrics in ``logged``
        (``quality.<m>`` names; None: every compared metric), and ``compare.<reference>.rows``."""
        out = {f"compare.{self.reference}.rows": float(self.rows)}
        for name, d in self.diffs.items():
            if logged is not None and name not in logged:
                continue
            short = name.split(".", 1)[1]
            for part, value in (("diff", d.diff), ("ci_low", d.ci_low), ("ci_high", d.ci_high)):
                if np.isfinite(value):
                    out[f"compare.{self.reference}.{short}.{part}"] = float(value)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"candidate": self.candidate, "reference": self.reference, "reference_label": self.reference_label,
                "rows": self.rows, "heldout_rows": self.heldout_rows, "repeats": self.repeats,
                **({"groups": self.groups, "grouped_by": self.grouped_by} if self.groups else {}),
                "class_counts": self.class_counts,
                "confidence": stats.CONFIDENCE,
                "metrics": {k: v.to_dict() for k, v in self.diffs.items()},
                "slices": [s.to_dict() for s in self.slices], "notes": list(self.notes)}


def held_out_counts(scored: ScoredRows, task: Task) -> tuple[int, dict[str, int] | None]:
    """(rows, rows per class or None) of a scored table — what the sample-size gate judges."""
    if task.kind == "multiclass":  # rows per class, every class named
        from .multiclass import class_counts

        counts = class_counts(scored)  # type: ignore[arg-type]
        return sum(counts.values()), counts
    n, pos = scored.con.execute(f"SELECT count(*), sum({Y}) FROM {_q(scored.table)}").fetchone()
    n = int(n)
    if task.kind != "classification":
        return n, None
    pos = int(pos or 0)
    return n, {"positive": pos, "negative": n - pos}


def _one(metric: str, y: np.ndarray, a: np.ndarray, b: np.ndarray, thr: float | None, ref_thr: float | None,
         resamples: int, groups: np.ndarray | None = None, grouped_by: str | None = None
         ) -> tuple[stats.PairedDiff | None, str]:
    try:
        return stats.paired_difference(metric, y, a, b, threshold=thr, ref_threshold=ref_thr,
                                       resamples=resamples, groups=groups, grouped_by=grouped_by), ""
    except EvaluationError as exc:
        return None, exc.what


def paired_slices(columns: Mapping[str, Any], metrics: Sequence[str], min_rows: int,
                  one: Callable[[str, np.ndarray], tuple[stats.PairedDiff | None, str]],
                  classes: np.ndarray | None = None) -> list[tuple]:
    """(column, value, key, rows, metric, difference or None, why not, rows of the rarest class)
    for every value of every slice column and every metric; ``one(metric, positions)`` compares
    the two models on those rows; a slice under ``min_rows`` is not compared. ``classes``: each
    row's class (classification), counted per slice over every class of the held-out rows."""
    out: list[tuple] = []
    every = None if classes is None else np.unique(classes)
    for col, values in columns.items():
        for value, idx in slice_positions(values):
            key = f"{_name_part(col)}.{_name_part(value)}"
            rarest = None if every is None else int(min(np.sum(classes[idx] == c) for c in every))
            for m in metrics:
                if len(idx) < min_rows:
                    out.append((col, value, key, len(idx), m, None, f"too few rows ({len(idx)} < min_rows={min_rows})",
                                rarest))
                else:
                    out.append((col, value, key, len(idx), m, *one(m, idx), rarest))
    return out


def compare(candidate: ScoredRows, reference: ScoredRows, *, task: Task, candidate_name: str,
            reference_name: str = "baseline", reference_label: str | None = None,
            metrics: Sequence[str] | None = None, threshold: float | None = None,
            reference_threshold: float | None = None, slice_columns: Sequence[str] = (),
            slice_metrics: Sequence[str] | None = None, min_slice_rows: int = 200, resamples: int = 200,
            max_rows: int = 2_000_000) -> Comparison:
    """Paired differences of ``candidate`` minus ``reference`` (both scored on the same held-out
    rows) on ``metrics`` (short names; default :func:`default_metrics`), and per slice of
    every ``slice_columns`` value with at least ``min_slice_rows`` rows on ``slice_metrics``
    (default: the first metric)."""
    if candidate.heldout is not reference.heldout:
        raise EvaluationError("the two models were scored on different held-out sets: no paired comparison",
                              where="compare", hint="score both with score_rows on the same HeldOut")
    names = [m.split(".", 1)[1] if m.startswith("quality.") else m for m in (metrics or default_metrics(task))]
    per_slice = [m.split(".", 1)[1] if m.startswith("quality.") else m for m in (slice_metrics or names[:1])]
    if task.kind == "multiclass":  # class answers and probabilities: workbench.measure.modeling.multiclass
        from .multiclass import compare_rows

        groups = candidate.heldout.groups_of(candidate.table)  # a group split: its groups are the units
        rows, counts, diffs, entries, notes = compare_rows(
            candidate, reference, names=names, per_slice=per_slice,  # type: ignore[arg-type]
            slice_columns=slice_columns, min_slice_rows=min_slice_rows, resamples=resamples, groups=groups)
        found = sorted((SliceDiff(*e) for e in entries), key=lambda s: (s.column, s.key, s.metric))
        return Comparison(candidate_name, reference_name, reference_label or reference_name, rows, rows, counts,
                          diffs, tuple(found), tuple(notes), groups=0 if groups is None else len(set(groups)),
                          grouped_by=None if groups is None else candidate.heldout.group_column)
    con = candidate.con
    total, counts = held_out_counts(candidate, task)
    cols = "".join(f", c.{_q(col)}" for col in slice_columns)
    sample = "" if total <= max_rows else f" USING SAMPLE reservoir({int(max_rows)} ROWS) REPEATABLE (0)"
    key, grouped_by = candidate.heldout.group_key(), candidate.heldout.group_column
    if key is not None:  # a group split: each row's group, from the held-out rows
        cols += f", {key} AS __wb_group"
    joined = "" if key is None else f" JOIN heldout h USING ({ROW})"
    got = con.execute(f"""SELECT c.{Y} AS y, c.{SCORE} AS a, r.{SCORE} AS b{cols}
                          FROM {_q(candidate.table)} c JOIN {_q(reference.table)} r USING ({ROW}){joined}{sample}
                          ORDER BY {ROW}""").fetchnumpy()
    y, a, b = (np.asarray(got[k], dtype=float) for k in ("y", "a", "b"))
    groups = None if key is None else np.asarray(got["__wb_group"], dtype=object)
    notes = [] if total <= max_rows else [f"a fixed-seed sample of {max_rows:,} of {total:,} held-out rows compared"]
    diffs: dict[str, stats.PairedDiff] = {}
    for m in names:
        d, why = _one(m, y, a, b, threshold, reference_threshold, resamples, groups, grouped_by)
        if d is not None:
            diffs[f"quality.{m}"] = d
        else:
            notes.append(f"{m}: no interval ({why})")
    slices = [SliceDiff(*entry) for entry in paired_slices(
        {col: got[col] for col in slice_columns}, per_slice, min_slice_rows,
        lambda m, idx: _one(m, y[idx], a[idx], b[idx], threshold, reference_threshold, resamples,
                            None if groups is None else groups[idx], grouped_by),
        classes=y if task.kind == "classification" else None)]
    slices.sort(key=lambda s: (s.column, s.key, s.metric))
    return Comparison(candidate_name, reference_name, reference_label or reference_name, len(y), total, counts,
                      diffs, tuple(slices), tuple(notes), groups=0 if groups is None else len(set(groups)),
                      grouped_by=None if groups is None else grouped_by)
