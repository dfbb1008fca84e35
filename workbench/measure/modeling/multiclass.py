"""Tabular classification over three or more classes (``task.kind: multiclass``).

The same spine as the binary path — the feature view and split of :mod:`.data`, today's
rule and the candidates of :mod:`.models`, timing and probes, paired comparisons — with a
model's answer per row being a class and a probability per class:

- every multiclass model has ``proba(frame)`` (rows x classes, in :func:`class_labels`'
  order) and ``score(frame)``: the index of the most probable class (a float, one a row), so
  timing, probes and the scratch tables take it as they take a binary score;
- today's rule: ``prior`` gives the training split's class shares to every row (its answer
  is the majority class); ``group_rate`` the class shares per group, with the same fallback
  to coarser groups (it answers the most frequent class of the row's group); ``sql`` an
  expression whose value is a class (a NULL or unknown value gets the majority class and
  counts as degraded);
- a candidate is any scikit-learn classifier with ``predict_proba``, behind the standard
  preprocessing of :class:`.models.GuardedModel`;
- quality (accuracy, macro-F1, macro precision and recall, log loss, per-class precision,
  recall and F1, the confusion matrix) is :func:`workbench.measure.items.scoring.classification_quality`
  — one implementation for text and tabular classification — over the held-out rows' answers,
  fetched from the scratch table (rows x classes numbers in memory);
- paired intervals: :func:`workbench.measure.stats.paired_multiclass_difference`.

The classes are the charter's ``task.classes`` in their order (ordered categories keep it in
tables, plots and the confusion matrix), else the distinct target values of both splits,
sorted; a target value outside a declared list is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...charter.config import Baseline, Candidate, Task
from ...errors import ConfigError, EvaluationError
from ...formatting import listed
from .. import stats
from ..evaluation import QualityResult, slice_positions, slice_table
from ..items.scoring import classification_quality, short_labels
from ..sql_metrics import ROW, SCORE, Y
from .compare import paired_slices
from .heldout import HeldOut, ScoredRows, _q
from .models import GroupRate, GuardedModel, InputRefused, Prior, _check_frame

__all__ = ["class_labels", "label_key", "MulticlassQuality", "ClassShares", "ClassSql", "GuardedMulticlass",
           "fit_baseline", "build_candidate", "ScoredClasses", "score_classes", "quality", "slices",
           "compare_rows", "DEFAULT_METRICS", "plot_confusion"]

DEFAULT_METRICS = ("macro_f1", "accuracy", "log_loss", "macro_precision", "macro_recall")
_P = "__wb_p"  # the probability columns of a scored table: __wb_p0 .. __wb_p<K-1>


def label_key(value: Any) -> str:
    """A class's name as text: 3 and 3.0 are one class, as are 'a' and 'a'."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (np.integer, np.bool_)):
        return str(value.item())
    return str(value)


def class_labels(task: Task, y_train: pd.Series, heldout: HeldOut | None = None) -> tuple[str, ...]:
    """The classes, in order: ``task.classes`` (refusing a target value outside it), else the
    distinct values of the training target and the held-out target, sorted (numbers as numbers)."""
    seen = [label_key(v) for v in pd.unique(pd.Series(y_train).dropna())]
    if heldout is not None:
        seen += [label_key(v) for v in heldout.distinct(task.target) if v is not None and v == v]
    seen = list(dict.fromkeys(seen))
    if task.classes:
        declared = [label_key(c) for c in task.classes]
        unknown = [v for v in seen if v not in declared]
        if unknown:
            raise ConfigError(f"the target '{task.target}' has value(s) outside task.classes: "
                              f"{', '.join(map(repr, unknown[:6]))}", where="pilot charter: task.classes",
                              hint="add them to `classes:` (in their order), or filter them out in the feature view")
        return tuple(dict.fromkeys(declared))

    def order(v: str) -> tuple[int, float, str]:
        try:
            return (0, float(v), v)
        except ValueError:
            return (1, 0.0, v)
    return tuple(sorted(seen, key=order))


def codes_of(y: Any, labels: Sequence[str]) -> np.ndarray:
    """Class indices of target values (-1: not a known class)."""
    index = {lab: i for i, lab in enumerate(labels)}
    return np.array([index.get(label_key(v), -1) if v is not None and v == v else -1 for v in np.asarray(y)],
                    dtype=np.int64)


def _scores(proba: np.ndarray, index: Any, degraded: int = 0) -> pd.Series:
    out = pd.Series(np.argmax(proba, axis=1).astype(float), index=index, name="score")
    out.attrs["degraded"] = int(degraded)
    return out


# -- today's rule -------------------------------------------------------------------------------


class _ClassScorer:
    """``proba`` (rows x classes) and ``score`` (the most probable class's index)."""

    task: Task
    labels: tuple[str, ...]
    constant = False  # the same answer for every row (models._Scorer.constant)

    def proba(self, frame: pd.DataFrame) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def score(self, frame: pd.DataFrame) -> pd.Series:
        p = self.proba(frame)
        return _scores(p, frame.index, getattr(p, "degraded", 0))

    @property
    def predict_proba(self) -> Any:
        return self.proba

    def predict(self, frame: pd.DataFrame) -> pd.Series:
        return self.score(frame)


class ClassShares(_ClassScorer):
    """The training split's class shares, for every row (``prior``) or per group of ``groups``
    with the fallback of :class:`.models.GroupRate` (``group_rate``): one share per class, so
    the answer is the majority class overall, or of the row's group."""

    def __init__(self, task: Task, labels: Sequence[str], per_class: list[Any], groups: Sequence[str] = ()) -> None:
        self.task, self.labels, self.per_class, self.groups = task, tuple(labels), per_class, list(groups)

    @classmethod
    def fit(cls, frame: pd.DataFrame, y: pd.Series, task: Task, labels: Sequence[str], groups: Sequence[str] = (),
            *, min_rows: int = 30) -> ClassShares:
        keys = pd.Series([label_key(v) for v in np.asarray(y)], index=getattr(y, "index", None))
        per_class = []
        for lab in labels:  # one-vs-rest rates: the share of each class, with one fallback rule for all
            one = task.model_copy(update={"kind": "classification", "positive_label": lab})
            per_class.append(GroupRate.fit(frame, keys, one, groups, min_rows=min_rows) if groups
                             else Prior.fit(keys, one))
        return cls(task, labels, per_class, groups)

    @property
    def constant(self) -> bool:  # type: ignore[override]
        return not self.groups

    def proba(self, frame: pd.DataFrame) -> np.ndarray:
        _check_frame(frame, self.groups)
        p = np.column_stack([m.score(frame).to_numpy() for m in self.per_class])
        total = p.sum(axis=1, keepdims=True)
        return np.divide(p, total, out=np.full_like(p, 1.0 / len(self.labels)), where=total > 0)

    def describe(self) -> str:
        shares = np.array([m.value if isinstance(m, Prior) else m.overall for m in self.per_class])
        top = self.labels[int(np.argmax(shares))]
        if not self.groups:
            return f"the training split's most frequent class, {top!r} ({shares.max():.1%}), for every row"
        return (f"the most frequent class per ({', '.join(self.groups)}) on the training split, groups with at "
                f"least {self.per_class[0].min_rows} rows, then coarser groups, then {top!r} overall")


class ClassSql(_ClassScorer):
    """An SQL expression over a row whose value is a class; NULL or an unknown value gets
    the training split's majority class (counted as degraded)."""

    def __init__(self, task: Task, labels: Sequence[str], expression: str, majority: int) -> None:
        self.task, self.labels, self.expression, self.majority = task, tuple(labels), expression, int(majority)
        self._con: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_con": None}

    @classmethod
    def fit(cls, frame: pd.DataFrame, y: pd.Series, task: Task, labels: Sequence[str], expression: str) -> ClassSql:
        counts = np.bincount(np.clip(codes_of(y, labels), 0, None), minlength=len(labels))
        rule = cls(task, labels, expression, int(np.argmax(counts)))
        try:
            rule._evaluate(frame.head(50))
        except Exception as exc:  # noqa: BLE001 - DuckDB's binder/parser message is the useful part
            raise ConfigError(f"the baseline expression does not run on the feature view: {str(exc).splitlines()[0]}",
                              where="pilot charter: baseline.expression",
                              hint="write an SQL expression over the view's columns whose value is a class") from exc
        return rule

    def _evaluate(self, frame: pd.DataFrame) -> list[Any]:
        import duckdb

        if self._con is None:
            self._con = duckdb.connect()
        self._con.register("row_frame", frame.reset_index(drop=True))
        try:
            return [r[0] for r in self._con.sql(f"SELECT ({self.expression}) AS c FROM row_frame").fetchall()]
        finally:
            self._con.unregister("row_frame")

    def proba(self, frame: pd.DataFrame) -> np.ndarray:
        _check_frame(frame, [])
        try:
            values = self._evaluate(frame)
        except Exception as exc:  # noqa: BLE001 - a row the rule cannot read is refused, not a crash
            raise InputRefused(f"today's rule cannot score these rows: {str(exc).splitlines()[0][:200]}") from exc
        codes = codes_of(np.array(values, dtype=object), self.labels)
        degraded = codes < 0
        codes[degraded] = self.majority
        p = np.eye(len(self.labels))[codes]
        return _Proba(p, int(degraded.sum()))

    def describe(self) -> str:
        return f"the SQL rule `{self.expression}` (its value is the class)"


class _Proba(np.ndarray):
    """Probabilities that remember how many rows the fallback served."""

    def __new__(cls, values: np.ndarray, degraded: int = 0) -> _Proba:
        out = np.asarray(values, dtype=float).view(cls)
        out.degraded = int(degraded)
        return out

    def __array_finalize__(self, obj: Any) -> None:
        self.degraded = getattr(obj, "degraded", 0)


def fit_baseline(spec: Baseline | None, train: pd.DataFrame, y: pd.Series, task: Task,
                 labels: Sequence[str]) -> _ClassScorer:
    """Today's rule as the charter declares it, over ``labels``."""
    if spec is None or spec.kind == "prior":
        return ClassShares.fit(train, y, task, labels)
    if spec.kind == "group_rate":
        return ClassShares.fit(train, y, task, labels, spec.groups, min_rows=spec.min_rows)
    return ClassSql.fit(train, y, task, labels, str(spec.expression))


# -- candidates ---------------------------------------------------------------------------------


class GuardedMulticlass(GuardedModel):
    """A scikit-learn classifier over the classes, with the standard preprocessing and the
    degraded mode of :class:`.models.GuardedModel` (rows with a null in ``fallback_on_null``
    get today's rule's probabilities)."""

    def __init__(self, spec: Candidate, task: Task, numeric: Sequence[str], categorical: Sequence[str],
                 fallback: Any = None, labels: Sequence[str] = ()) -> None:
        super().__init__(spec, task, numeric, categorical, fallback)
        self.labels = tuple(labels)
        if not hasattr(self.estimator, "predict_proba"):
            raise ConfigError(f"{spec.estimator} has no predict_proba: a multiclass candidate gives a probability "
                              "per class (log loss, the confusion of likely classes)",
                              where=f"pilot charter: candidates: {spec.name}",
                              hint="choose a classifier with predict_proba (LogisticRegression, "
                              "HistGradientBoostingClassifier, RandomForestClassifier, ...)")

    def fit(self, frame: pd.DataFrame, y: Any) -> GuardedMulticlass:
        X = self._frame(frame)  # noqa: N806
        codes = codes_of(y, self.labels)
        try:
            self._fit_pipeline(X, codes)
        except EvaluationError as exc:
            counts = np.bincount(codes.astype(int), minlength=len(self.labels))
            single = [self.labels[i] for i in np.flatnonzero(counts == 1)]
            if not single:
                raise
            # sklearn names them by code (7.0, 8.0): the reader needs the labels, and the way out
            shown = listed((repr(str(v)) for v in single), 8)
            raise EvaluationError(f"{exc.what}; class(es) with a single training row: {shown}", where=exc.where,
                                  hint="an estimator that holds out a stratified share of the training rows "
                                  "(HistGradientBoosting's early stopping, on 10,000 rows or more) needs two of "
                                  "each class: merge the rare classes into a broader one in the data (or drop their "
                                  "rows) and run `workbench new` again, or set `early_stopping: false` in the "
                                  "candidate's params") from exc
        self._present = [int(c) for c in self.pipeline.classes_]
        self._set_direct(X)
        return self

    def _aligned(self, X: Any) -> np.ndarray:  # noqa: N803
        model = self.estimator if isinstance(X, np.ndarray) else self.pipeline
        p = np.asarray(model.predict_proba(X), dtype=float)
        out = np.zeros((p.shape[0], len(self.labels)))
        out[:, self._present] = p  # a class absent from the training rows gets 0
        return out

    def _raw(self, X: Any) -> np.ndarray:  # noqa: N803
        return np.argmax(self._aligned(X), axis=1).astype(float)

    def proba(self, frame: pd.DataFrame) -> np.ndarray:
        p, degraded = self._guarded(frame, self._aligned)
        if degraded.any():
            p[degraded] = self.fallback.proba(frame.loc[degraded])
        return _Proba(p, int(degraded.sum()))

    @property
    def predict_proba(self) -> Any:
        return self.proba


def build_candidate(spec: Candidate, task: Task, numeric: Sequence[str], categorical: Sequence[str],
                    fallback: Any = None, labels: Sequence[str] = ()) -> GuardedMulticlass:
    return GuardedMulticlass(spec, task, numeric, categorical, fallback, labels)


# -- held-out answers ---------------------------------------------------------------------------


class ScoredClasses(ScoredRows):
    """One model's answers on the held-out rows: the truth's class index (``Y``), the answered
    class's index (``SCORE``) and the probability of each class (``__wb_p<i>``)."""

    def __init__(self, heldout: HeldOut, table: str, rows: int, labels: Sequence[str]) -> None:
        super().__init__(heldout, table, rows)
        self.labels = tuple(labels)

    def answers(self) -> list[str]:
        return [SCORE, *(f"{_P}{i}" for i in range(len(self.labels)))]

    def over(self, table: str, rows: int) -> ScoredClasses:
        return ScoredClasses(self.heldout, table, rows, self.labels)

    def fetch(self, columns: Sequence[str] = ()) -> dict[str, np.ndarray]:
        """Truth, answers, probabilities (rows x classes) and ``columns``, in the held-out order."""
        probs = ", ".join(f"{_P}{i}" for i in range(len(self.labels)))
        extra = "".join(f", {_q(c)}" for c in columns)
        got = self.con.execute(f"SELECT {Y}, {SCORE}, {probs}{extra} FROM {_q(self.table)} ORDER BY {ROW}").fetchnumpy()
        return {"y": np.asarray(got[Y], dtype=np.int64), "pred": np.asarray(got[SCORE], dtype=np.int64),
                "proba": np.column_stack([np.asarray(got[f"{_P}{i}"], dtype=float) for i in range(len(self.labels))]),
                **{c: got[c] for c in columns}}


def score_classes(model: Any, heldout: HeldOut, *, features: Sequence[str], target: str, labels: Sequence[str],
                  keep: Sequence[str] = (), batch_rows: int = 100_000) -> ScoredClasses:
    """Every held-out row's class probabilities and answer, written next to the rows in record
    batches of ``batch_rows`` (as :func:`.heldout.score_rows` writes a binary score)."""
    import pyarrow as pa

    con = heldout.con
    table = heldout.new_table("classes")
    k = len(labels)
    wanted = list(dict.fromkeys([*features, target, *keep]))
    con.execute(f"CREATE TABLE {_q(table)} AS SELECT {ROW}, NULL::INTEGER AS {Y}, NULL::DOUBLE AS {SCORE}"
                + "".join(f", NULL::DOUBLE AS {_P}{i}" for i in range(k))
                + "".join(f", {_q(c)}" for c in keep) + " FROM heldout LIMIT 0")
    reader = con.cursor()
    done = 0
    try:
        for batch in heldout.batches(batch_rows, wanted, con=reader):
            frame = heldout.prepare(batch.to_pandas())
            p = np.asarray(model.proba(frame[list(features)]), dtype=float)
            if p.shape != (batch.num_rows, k):
                raise EvaluationError(f"the model returned probabilities of shape {p.shape} for {batch.num_rows} "
                                      f"rows and {k} classes", where="scoring the held-out rows",
                                      hint="proba() must return one row per input row and one column per class")
            out = pa.table({ROW: batch.column(ROW), Y: pa.array(codes_of(frame[target], labels), pa.int32()),
                            SCORE: pa.array(np.argmax(p, axis=1).astype(float), pa.float64()),
                            **{f"{_P}{i}": pa.array(p[:, i], pa.float64()) for i in range(k)},
                            **{c: batch.column(c) for c in keep}})
            con.register("__wb_scored", out)
            con.execute(f"INSERT INTO {_q(table)} SELECT * FROM __wb_scored")
            con.unregister("__wb_scored")
            done += batch.num_rows
    finally:
        reader.close()
    return ScoredClasses(heldout, table, done, labels)


# -- quality ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MulticlassQuality:
    """Quality over the classes: the headline numbers (``values``: short name -> value), each
    class's precision, recall, F1, support and predicted count, and the confusion matrix
    (rows: the true class, columns: the answered class, both in ``labels`` order)."""

    n: int
    labels: tuple[str, ...]
    values: dict[str, float]
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)
    confusion: tuple[tuple[int, ...], ...] = ()
    task_kind: str = "multiclass"
    threshold: None = None
    calibration: None = None
    omitted: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def metrics(self) -> dict[str, float]:
        return {f"quality.{k}": float(v) for k, v in self.values.items()}

    def to_dict(self) -> dict[str, Any]:
        return {"task_kind": "multiclass", "n": self.n, "threshold": None, "metrics": self.metrics(),
                "labels": list(self.labels), "per_class": self.per_class,
                "class_confusion": [list(r) for r in self.confusion], "omitted": dict(self.omitted),
                "notes": list(self.notes)}

    def as_result(self) -> QualityResult:
        """The headline numbers as a :class:`~workbench.measure.evaluation.QualityResult` (the slice rules read it)."""
        return QualityResult("multiclass", self.n, dict(self.values), omitted=dict(self.omitted))  # type: ignore[arg-type]


def quality_of(y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None, labels: Sequence[str]) -> MulticlassQuality:
    """:func:`~workbench.measure.items.scoring.classification_quality` on class indices."""
    names = list(labels)
    expected = [names[i] for i in y]
    predicted = [names[i] for i in pred]
    probabilities = None if proba is None else [dict(zip(names, row, strict=True)) for row in proba.tolist()]
    q = classification_quality(expected, predicted, names, probabilities=probabilities)
    values = {"accuracy": q.accuracy, "macro_f1": q.macro_f1, "macro_precision": q.macro_precision,
              "macro_recall": q.macro_recall}
    if q.log_loss is not None:
        values["log_loss"] = q.log_loss
    k = len(names)
    confusion = tuple(tuple(int(x) for x in row[:k]) for row in q.confusion[:k])  # no "(error)" column: none here
    return MulticlassQuality(len(y), tuple(names), values, dict(q.per_class), confusion)


def quality(scored: ScoredClasses) -> MulticlassQuality:
    got = scored.fetch()
    return quality_of(got["y"], got["pred"], got["proba"], scored.labels)


def slices(scored: ScoredClasses, columns: Sequence[str], *, task: Task, overall: MulticlassQuality,
           min_rows: int = 200, metric: str = "macro_f1") -> Any:
    """Per-slice quality (every value of every slice column; a null is one slice), flagged by
    the rules of :func:`workbench.measure.evaluation.slice_table`."""
    got = scored.fetch(columns)
    out = []
    for col in columns:
        entries = []
        for value, idx in slice_positions(got[col]):
            q = quality_of(got["y"][idx], got["pred"][idx], got["proba"][idx], scored.labels)
            entries.append((value, len(idx), q.as_result(), None))
        out.append((col, entries))
    return slice_table(task, metric, overall.as_result(), out, min_rows=min_rows, flag_margin=None, flag_ratio=0.10)


# -- paired comparison ---------------------------------------------------------------------------


def class_counts(scored: ScoredClasses) -> dict[str, int]:
    """Held-out rows per class (every class, 0 included): what the sample-size gate judges."""
    rows = dict(scored.con.execute(f"SELECT {Y}, count(*) FROM {_q(scored.table)} GROUP BY {Y}").fetchall())
    return {lab: int(rows.get(i, 0)) for i, lab in enumerate(scored.labels)}


def compare_rows(candidate: ScoredClasses, reference: ScoredClasses, *, names: Sequence[str],
                 per_slice: Sequence[str], slice_columns: Sequence[str], min_slice_rows: int,
                 resamples: int, groups: np.ndarray | None = None
                 ) -> tuple[int, dict[str, int], dict[str, stats.PairedDiff], list[tuple], list[str]]:
    """(rows, class counts, diffs, slice entries (column, value, key, rows, metric, diff, reason),
    notes) of ``candidate`` minus ``reference`` on the same held-out rows; ``groups``: each
    row's group (a group split's, :meth:`~.heldout.HeldOut.groups_of`), the unit of every interval."""
    a, b = candidate.fetch(slice_columns), reference.fetch()
    if not np.array_equal(a["y"], b["y"]):
        raise EvaluationError("the two models' truths differ: not the same held-out rows", where="compare",
                              hint="score both on the same HeldOut")
    k = len(candidate.labels)

    def one(metric: str, idx: Any) -> tuple[stats.PairedDiff | None, str]:
        try:
            return stats.paired_multiclass_difference(metric, a["y"][idx], a["pred"][idx], b["pred"][idx], classes=k,
                                                      cand_proba=a["proba"][idx], ref_proba=b["proba"][idx],
                                                      resamples=resamples,
                                                      groups=None if groups is None else groups[idx],
                                                      grouped_by=candidate.heldout.group_column), ""
        except EvaluationError as exc:
            return None, exc.what
    diffs, notes = {}, []
    everything = slice(None)
    for m in names:
        d, why = one(m, everything)
        if d is not None:
            diffs[f"quality.{m}"] = d
        else:
            notes.append(f"{m}: no interval ({why})")
    entries = paired_slices({col: a[col] for col in slice_columns}, per_slice, min_slice_rows, one, classes=a["y"])
    return len(a["y"]), class_counts(candidate), diffs, entries, notes


# -- the confusion matrix, readable with long labels ------------------------------------------------


def plot_confusion(q: MulticlassQuality, *, title: str = "") -> Any:
    """The confusion matrix as shares of each true class (rows), with counts; the figure grows
    with the number of classes, and long labels are numbered and shortened on the axes
    (:func:`~workbench.measure.items.scoring.short_labels`) with the full names in a legend."""
    from matplotlib.figure import Figure  # not pyplot: no global figure kept, none shown twice in a notebook

    k = len(q.labels)
    matrix = np.array(q.confusion, dtype=float).reshape(k, k) if k else np.zeros((0, 0))
    shares = np.divide(matrix, matrix.sum(axis=1, keepdims=True), out=np.zeros_like(matrix),
                       where=matrix.sum(axis=1, keepdims=True) > 0)
    long = any(len(str(lab)) > 12 for lab in q.labels)
    ticks = short_labels(q.labels, width=18) if long else [str(lab) for lab in q.labels]
    side = min(4.0 + 0.45 * k, 22.0)
    fig = Figure(figsize=(side + (3.5 if long else 0.0), side))
    ax = fig.subplots()
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), ticks, rotation=45 if k > 3 or long else 0, ha="right" if k > 3 or long else "center",
                  fontsize=max(6, 10 - k // 10))
    ax.set_yticks(range(k), ticks, fontsize=max(6, 10 - k // 10))
    ax.set_xlabel("answered class")
    ax.set_ylabel("true class")
    if k <= 20:  # a number per cell stays legible up to about 20 classes
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{int(matrix[i, j])}", ha="center", va="center", fontsize=8,
                        color="white" if shares[i, j] > 0.55 else "#1d232a")
    ax.set_title(title or f"Confusion over {k} classes (shade: share of the true class)")
    if long:
        legend = "\n".join(f"{i}: {lab}" for i, lab in enumerate(q.labels, start=1))
        fig.text(0.99, 0.5, legend, ha="right", va="center", fontsize=7, wrap=True)
        fig.subplots_adjust(right=side / (side + 3.5))
    fig.tight_layout(rect=(0, 0, side / (side + 3.5) if long else 1, 1))
    return fig
