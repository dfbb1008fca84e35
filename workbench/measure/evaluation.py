"""Quality of a model (or of the baseline) on the held-out evaluation set: metrics, slices
and robustness probes. Every result is frozen and has ``.metrics()`` with fixed names, the
same for the baseline and every candidate, so promotion gates compare like with like.

Metric names
------------
``quality.<m>``:  classification: accuracy, precision, recall, f1 (at ``threshold``),
roc_auc, average_precision, brier, brier_skill, log_loss, base_rate, and ``threshold``
itself; regression: mae, rmse, r2. Direction, unit and meaning of every name:
:mod:`workbench.measure.metrics` (the one registry).
``slice.<column>.<value>.<m>`` (plus ``.count`` and ``.base_rate``): one slice; column and
value are sanitised to ``[A-Za-z0-9_]`` (anything else becomes ``_``, so every name is
also a valid gate metric; a clash gets a ``_2`` suffix; use
:func:`slice_metric_name` to build the same name elsewhere). ``slice.worst.<m>``: the worst
eligible slice; ``slice.flagged``; ``slice.eligible``.
``probes.<outcome>`` and ``probes.total``: robustness probe counts (always all present).

Degenerate data (decided once, here)
------------------------------------
:func:`evaluate` on the whole evaluation set *raises* :class:`EvaluationError` when a
metric is undefined — only one class in ``y_true`` (ROC AUC), a constant regression target
(R2), NaN anywhere, scores outside [0, 1], mismatched lengths, zero rows — because an
evaluation set like that is broken and a silent gap would let a gate pass on nothing.
Inside :func:`slice_metrics` small or one-class slices are normal: an undefined metric is
*omitted* (never NaN) and the reason is kept in ``omitted`` (roc_auc, average_precision and
brier_skill need both classes). Precision with no predicted
positive is 0.0 (sklearn's ``zero_division=0``), with a note: the conservative value.
Hard 0/1 predictions are accepted as scores; then log loss and the calibration curve are
omitted (they would only measure the clipping constant).
"""

from __future__ import annotations

import math
import re
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from . import metrics as _registry
from ..charter.config import Task
from ..errors import EvaluationError, WorkbenchError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "QualityResult",
    "CalibrationCurve",
    "evaluate",
    "choose_threshold",
    "SliceRow",
    "SliceTable",
    "slice_metrics",
    "slice_metric_name",
    "ProbeResult",
    "ProbeReport",
    "run_probes",
    "OUTCOMES",
    "HIGHER_IS_BETTER",
    "plot_calibration",
    "plot_confusion",
    "plot_residuals",
    "plot_predicted_vs_actual",
    "plot_roc_pr",
    "curves",
]

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "average_precision", "brier",
                          "brier_skill", "log_loss", "base_rate")
REGRESSION_METRICS = ("mae", "rmse", "r2")
# Direction of each metric (short name), from the registry in workbench.measure.metrics; kept as a
# name for compatibility. None: base_rate describes the data, not the model.
HIGHER_IS_BETTER: dict[str, bool | None] = {
    m: _registry.higher_is_better(f"quality.{m}") for m in (*CLASSIFICATION_METRICS, *REGRESSION_METRICS)
}
# tabular multiclass (workbench.measure.modeling.multiclass): what its slices can be flagged on
MULTICLASS_METRICS = ("accuracy", "macro_f1", "macro_precision", "macro_recall", "log_loss")
HIGHER_IS_BETTER.update({m: _registry.higher_is_better(f"quality.{m}") for m in MULTICLASS_METRICS})
# the highest threshold `evaluate` accepts: no score in [0, 1] reaches it (nothing is positive)
_ABOVE_ONE = float(np.nextafter(1.0, 2.0))
DEFAULT_SLICE_METRIC = {"classification": "roc_auc", "regression": "mae", "multiclass": "macro_f1"}


# -- quality ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CalibrationCurve:
    """Reliability curve, sklearn's ``calibration_curve`` bins (empty bins dropped)."""

    prob_true: tuple[float, ...]
    prob_pred: tuple[float, ...]
    counts: tuple[int, ...]
    n_bins: int
    strategy: str


@dataclass(frozen=True)
class QualityResult:
    """Quality metrics of one set of predictions.

    ``values``: metric name (without ``quality.``) -> value, only the defined ones.
    ``omitted``: metric -> why it is undefined here. ``confusion``: ``[[tn, fp], [fn, tp]]``
    at ``threshold`` (classification only). :meth:`metrics` also carries the threshold
    (``quality.threshold``), so a run records the cut-off its thresholded metrics used.
    """

    task_kind: Literal["classification", "regression"]
    n: int
    values: Mapping[str, float]
    threshold: float | None = None
    confusion: tuple[tuple[int, int], tuple[int, int]] | None = None
    calibration: CalibrationCurve | None = None
    hard_predictions: bool = False
    omitted: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def metrics(self) -> dict[str, float]:
        out = {f"quality.{k}": float(v) for k, v in self.values.items()}
        if self.threshold is not None:
            out["quality.threshold"] = float(self.threshold)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_kind": self.task_kind,
            "n": self.n,
            "threshold": self.threshold,
            "metrics": self.metrics(),
            "confusion": None if self.confusion is None else [list(r) for r in self.confusion],
            "calibration": None if self.calibration is None else {
                "prob_true": list(self.calibration.prob_true),
                "prob_pred": list(self.calibration.prob_pred),
                "counts": list(self.calibration.counts),
                "n_bins": self.calibration.n_bins,
                "strategy": self.calibration.strategy,
            },
            "hard_predictions": self.hard_predictions,
            "omitted": dict(self.omitted),
            "notes": list(self.notes),
        }


def _as_1d(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise EvaluationError(
            f"{name} must be one value per row, got an array of shape {arr.shape}",
            where=name,
            hint="for predict_proba output pass the positive class column, e.g. proba[:, 1]",
        )
    return arr


def _first_bad(mask: np.ndarray) -> str:
    idx = np.flatnonzero(mask)
    return f"{idx.size} row(s), first at position {int(idx[0])}"


def _numeric(arr: np.ndarray, name: str) -> np.ndarray:
    try:
        out = arr.astype(float)
    except (TypeError, ValueError) as exc:
        raise EvaluationError(
            f"{name} is not numeric ({exc})", where=name, hint="pass scores/values as numbers"
        ) from exc
    bad = ~np.isfinite(out)
    if bad.any():
        raise EvaluationError(
            f"{name} contains NaN or infinity in {_first_bad(bad)}",
            where=name,
            hint="drop rows with a missing target or prediction before evaluating (and say so), "
            "or fix the model so it always predicts",
        )
    return out


def _binary_truth(y: np.ndarray, positive_label: Any) -> np.ndarray:
    missing = pd.isna(y)
    if np.any(missing):
        raise EvaluationError(
            f"y_true has missing values in {_first_bad(np.asarray(missing))}",
            where="y_true",
            hint="drop rows whose target is unknown (e.g. outcomes not known yet) before evaluating",
        )
    labels = pd.unique(y)
    if len(labels) > 2:
        shown = ", ".join(map(repr, list(labels)[:5]))
        raise EvaluationError(
            f"y_true has {len(labels)} distinct labels ({shown}...); only binary classification is supported",
            where="y_true",
            hint="binarise the target (e.g. a feature view with `CASE WHEN amount >= 100 THEN 1 ELSE 0 END`) "
                 "and set task.positive_label",
        )
    return (y == positive_label).astype(int)


def _quality(y_true: Any, y_pred: Any, task: Task, threshold: float, strict: bool,
             calibration_bins: int = 10, calibration_strategy: str = "uniform",
             where: str = "evaluation set", curves: bool = True) -> QualityResult:
    from sklearn import metrics as skm  # slow import: only where metrics are computed

    yt = _as_1d(y_true, "y_true")
    yp = _as_1d(y_pred, "y_pred")
    if yt.shape[0] != yp.shape[0]:
        raise EvaluationError(
            f"y_true has {yt.shape[0]} rows but the predictions have {yp.shape[0]}",
            where=where, hint="predict exactly the rows of the evaluation set, in order",
        )
    n = int(yt.shape[0])
    if n == 0:
        raise EvaluationError("cannot evaluate zero rows", where=where, hint="check the evaluation split")
    if task.kind == "regression":
        truth = _numeric(yt, "y_true")
        pred = _numeric(yp, "y_pred")
        errors = {
            "mae": lambda: skm.mean_absolute_error(truth, pred),
            "rmse": lambda: math.sqrt(skm.mean_squared_error(truth, pred)),
            "r2": lambda: skm.r2_score(truth, pred),
        }
        return regression_result(n=n, constant=bool(n < 2 or np.all(truth == truth[0])), first=float(truth[0]),
                                 metric=lambda name: float(errors[name]()), strict=strict, where=where)

    truth = _binary_truth(yt, task.positive_label)
    score = _numeric(yp, "y_score")
    outside = (score < 0) | (score > 1)
    if outside.any():
        raise EvaluationError(
            f"scores must be probabilities of the positive class in [0, 1]; {_first_bad(outside)} outside",
            where="y_score",
            hint="pass predict_proba(X)[:, 1] (or the baseline's rate), not raw margins or labels",
        )
    if not 0.0 <= threshold <= _ABOVE_ONE:
        raise EvaluationError(f"threshold must be in [0, 1], got {threshold}", where="threshold",
                              hint="pick one with choose_threshold(...) or use the default 0.5")
    hard = bool(np.all((score == 0) | (score == 1)))
    pred = (score >= threshold).astype(int)
    tn, fp, fn, tp = (int(v) for v in skm.confusion_matrix(truth, pred, labels=[0, 1]).ravel())
    computed = {
        "accuracy": lambda: skm.accuracy_score(truth, pred),
        "precision": lambda: skm.precision_score(truth, pred, zero_division=0),
        "recall": lambda: skm.recall_score(truth, pred, zero_division=0),
        "f1": lambda: skm.f1_score(truth, pred, zero_division=0),
        "brier": lambda: skm.brier_score_loss(truth, score),
        "roc_auc": lambda: skm.roc_auc_score(truth, score),
        "average_precision": lambda: skm.average_precision_score(truth, score),
        "log_loss": lambda: skm.log_loss(truth, score, labels=[0, 1]),
    }
    return classification_result(
        n=n, positives=int(truth.sum()), confusion=((tn, fp), (fn, tp)), hard=hard,
        metric=lambda name: float(computed[name]()), task=task, threshold=threshold, strict=strict, where=where,
        calibration=(lambda: _calibration(truth, score, calibration_bins, calibration_strategy)) if curves else None,
    )


def regression_result(*, n: int, constant: bool, first: float, metric: Callable[[str], float], strict: bool,
                      where: str) -> QualityResult:
    """The regression rules, written once (see :func:`classification_result`): mae and rmse
    always; r2 only when the target varies (``constant``: it does not; ``first``: its value)."""
    values = {"mae": metric("mae"), "rmse": metric("rmse")}
    omitted: dict[str, str] = {}
    if constant:
        reason = f"the target is constant ({first!r}) over {n} row(s)"
        if strict:
            raise EvaluationError(f"r2 is undefined: {reason}", where=where,
                                  hint="evaluate on a set whose target varies; use mae/rmse for this slice")
        omitted["r2"] = reason
    else:
        values["r2"] = metric("r2")
    return QualityResult("regression", n, values, omitted=omitted)


def classification_result(*, n: int, positives: int, confusion: tuple[tuple[int, int], tuple[int, int]], hard: bool,
                          metric: Callable[[str], float], task: Task, threshold: float, strict: bool, where: str,
                          calibration: Callable[[], CalibrationCurve] | None = None) -> QualityResult:
    """The classification rules, written once for every way of computing the numbers (here
    with sklearn on arrays; :mod:`workbench.measure.sql_metrics` in DuckDB): which metrics are
    defined, the notes, and why a metric is omitted (or, ``strict``, the error).
    ``metric(name)`` computes one of accuracy, precision, recall, f1 (at ``threshold``,
    ``zero_division=0``), brier, roc_auc, average_precision, log_loss; it is only asked
    for the ones defined here. ``confusion``: ``((tn, fp), (fn, tp))``."""
    values: dict[str, float] = {}
    omitted: dict[str, str] = {}
    notes: list[str] = []

    def undefined(name: str, reason: str, hint: str) -> None:
        if strict:
            raise EvaluationError(f"{name} is undefined: {reason}", where=where, hint=hint)
        omitted[name] = reason

    (_tn, fp), (_fn, tp) = confusion
    values["base_rate"] = positives / n
    values["accuracy"] = metric("accuracy")
    if tp + fp == 0:
        notes.append(f"no row is predicted positive at threshold {threshold}: precision set to 0.0")
    values["precision"] = metric("precision")
    values["recall"] = metric("recall")
    values["f1"] = metric("f1")
    values["brier"] = metric("brier")
    one_class = positives in (0, n)
    if one_class:
        which = "positive" if positives else "negative"
        undefined("roc_auc", f"y_true holds only the {which} class ({n} row(s), positive_label={task.positive_label!r})",
                  "the evaluation set needs both classes: check the split, the target definition and "
                  "task.positive_label (it must equal the positive value in the target column)")
        if positives == 0:
            undefined("recall", "there is no positive row", "see roc_auc")
            values.pop("recall", None)
        undefined("average_precision", f"y_true holds only the {which} class", "see roc_auc")
        undefined("brier_skill", f"the base rate is {positives / n:g}: always predicting it is already perfect",
                  "see roc_auc")
    else:
        values["roc_auc"] = metric("roc_auc")
        values["average_precision"] = metric("average_precision")
        base = positives / n
        values["brier_skill"] = 1.0 - values["brier"] / (base * (1.0 - base))
    if hard:
        notes.append("scores are hard 0/1 predictions: log loss and calibration are omitted")
        omitted["log_loss"] = "scores are hard 0/1 predictions"
    else:
        values["log_loss"] = metric("log_loss")
    return QualityResult(
        "classification", n, {k: values[k] for k in CLASSIFICATION_METRICS if k in values},
        threshold=threshold, confusion=confusion,
        calibration=calibration() if calibration is not None and not hard else None,
        hard_predictions=hard, omitted=omitted, notes=tuple(notes),
    )


def _calibration(truth: np.ndarray, score: np.ndarray, n_bins: int, strategy: str) -> CalibrationCurve:
    from sklearn.calibration import calibration_curve

    prob_true, prob_pred = calibration_curve(truth, score, n_bins=n_bins, strategy=strategy)
    # sklearn does not return bin sizes: recount with its own edges (same searchsorted rule).
    if strategy == "quantile":
        edges = np.percentile(score, np.linspace(0, 1, n_bins + 1) * 100)
    else:
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], score), minlength=n_bins)
    counts = counts[counts != 0]
    return CalibrationCurve(
        tuple(map(float, prob_true)), tuple(map(float, prob_pred)), tuple(map(int, counts)), n_bins, strategy
    )


def evaluate(
    y_true: Any,
    y_score_or_pred: Any,
    *,
    task: Task,
    threshold: float = 0.5,
    calibration_bins: int = 10,
    calibration_strategy: Literal["uniform", "quantile"] = "uniform",
) -> QualityResult:
    """Quality of predictions on the whole evaluation set.

    Classification: ``y_true`` holds labels (the positive one is ``task.positive_label``),
    ``y_score_or_pred`` the probability of the positive class in [0, 1] (hard 0/1
    predictions are accepted). Regression: numeric truth and predictions.
    Raises :class:`EvaluationError` when a metric is undefined (see the module docstring).
    """
    return _quality(y_true, y_score_or_pred, task, threshold, strict=True,
                    calibration_bins=calibration_bins, calibration_strategy=calibration_strategy)


def choose_threshold(
    y_true: Any,
    scores: Any,
    *,
    positive_label: Any = 1,
    false_positive_cost: float,
    false_negative_cost: float,
) -> float:
    """The score threshold (``score >= threshold`` is positive) minimising the total cost
    ``FP * false_positive_cost + FN * false_negative_cost`` on these rows.

    Candidates: every distinct score, plus 0 (everything positive) and the float just
    above 1 (nothing positive; :func:`evaluate` accepts it). Ties go to the lowest
    threshold. Choose it on data the model was not trained on, and evaluate it on other
    data: a threshold tuned on the evaluation set flatters the thresholded metrics.
    """
    costs = {"false_positive_cost": false_positive_cost, "false_negative_cost": false_negative_cost}
    for key, cost in costs.items():
        if not (isinstance(cost, (int, float, np.number)) and math.isfinite(cost) and cost >= 0):
            raise EvaluationError(f"{key} must be a finite number >= 0, got {cost!r}",
                                  where=f"choose_threshold({key}=...)",
                                  hint="give what one such error costs, in any unit shared by both costs")
    yt = _as_1d(y_true, "y_true")
    ys = _as_1d(scores, "scores")
    if yt.shape[0] != ys.shape[0]:
        raise EvaluationError(f"y_true has {yt.shape[0]} rows but the scores have {ys.shape[0]}",
                              where="choose_threshold", hint="pass one score per row, in the same order")
    if yt.shape[0] == 0:
        raise EvaluationError("cannot choose a threshold on zero rows", where="choose_threshold",
                              hint="pass a validation set with rows of both classes")
    truth = _binary_truth(yt, positive_label).astype(bool)
    score = _numeric(ys, "scores")
    outside = (score < 0) | (score > 1)
    if outside.any():
        raise EvaluationError(
            f"scores must be probabilities of the positive class in [0, 1]; {_first_bad(outside)} outside",
            where="choose_threshold(scores=...)", hint="pass predict_proba(X)[:, 1]",
        )
    candidates = np.unique(np.concatenate([score, [0.0, _ABOVE_ONE]]))  # sorted ascending
    pos = np.sort(score[truth])
    neg = np.sort(score[~truth])
    false_neg = np.searchsorted(pos, candidates, side="left")  # positives scored below t
    false_pos = neg.size - np.searchsorted(neg, candidates, side="left")  # negatives scored >= t
    total = false_pos * float(false_positive_cost) + false_neg * float(false_negative_cost)
    return float(candidates[int(np.argmin(total))])


# -- slices -----------------------------------------------------------------------------

# Narrower than MLflow's allowed set on purpose: every name then also fits the charter's
# metric-name rule (config._METRIC), so a gate can name any slice metric.
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def _name_part(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT:
        return "null"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)  # hour 5.0 (a float column because of nulls) -> "5"
    text = _UNSAFE.sub("_", str(value))
    return text or "_"


def slice_metric_name(column: str, value: Any, metric: str) -> str:
    """``slice.<column>.<value>.<metric>`` with column and value sanitised to ``[A-Za-z0-9_]``."""
    return f"slice.{_name_part(column)}.{_name_part(value)}.{metric}"


@dataclass(frozen=True)
class SliceRow:
    """One value of one slice column."""

    column: str
    value: Any
    key: str  # sanitised value, as used in metric names
    count: int
    base_rate: float | None  # positive share (classification) or mean target (regression)
    values: Mapping[str, float]
    omitted: Mapping[str, str]
    eligible: bool  # enough rows and the flag metric defined
    worse_by: float | None  # how much worse than overall on the flag metric (> 0 = worse)
    flagged: bool
    reason: str  # why flagged, or why not eligible


# per-slice MLflow metrics a run logs at most (2 each): the runs table stays readable
# (README, "Metrics"); every slice is in the slices JSON artifact, and the slices gate judges
# every slice with enough rows from the paired comparison (compare/<reference>.json)
MAX_LOGGED_SLICES = 8


@dataclass(frozen=True)
class SliceTable:
    """Per-slice quality and the slices flagged as much worse than the whole set.

    Flag rule: a slice is *eligible* when it has at least ``min_rows`` rows and ``metric`` is
    defined on it; an eligible slice is *flagged* when it is worse than ``overall`` by more
    than ``flag_margin`` (absolute, if set) or by more than ``flag_ratio`` of ``|overall|``
    (relative, if set; skipped when overall is 0). Small slices are reported, never flagged.
    """

    metric: str
    higher_is_better: bool
    overall: float
    overall_quality: QualityResult
    rows: tuple[SliceRow, ...]
    min_rows: int
    flag_margin: float | None
    flag_ratio: float | None

    @property
    def flagged(self) -> tuple[SliceRow, ...]:
        return tuple(r for r in self.rows if r.flagged)

    @property
    def worst(self) -> SliceRow | None:
        """The eligible slice with the worst ``metric`` (None if no slice is eligible)."""
        eligible = [r for r in self.rows if r.eligible]
        if not eligible:
            return None
        return max(eligible, key=lambda r: (r.worse_by, r.count))  # type: ignore[arg-type,return-value]

    def metrics(self, *, all_metrics: bool = False, gated_only: bool = False) -> dict[str, float]:
        """Per slice: count, base_rate and ``metric`` (every quality metric if
        ``all_metrics``); plus ``slice.worst.<metric>``, ``slice.flagged``, ``slice.eligible``.

        ``gated_only``: what a run logs to MLflow — the summary, and count and ``metric``
        of the *eligible* slices only (the evidence the slices gate compares), at most the
        :data:`MAX_LOGGED_SLICES` largest (by rows, then name: every model scored on the
        same held-out rows logs the same slices, so the gate compares like with like); the
        rest is in :meth:`to_dict` (the slices JSON artifact)."""
        out: dict[str, float] = {}
        logged = sorted((r for r in self.rows if r.eligible), key=lambda r: (-r.count, r.column, r.key))
        keep = {id(r) for r in logged[:MAX_LOGGED_SLICES]}
        for r in self.rows:
            if gated_only and id(r) not in keep:
                continue
            prefix = f"slice.{_name_part(r.column)}.{r.key}"
            out[f"{prefix}.count"] = float(r.count)
            if r.base_rate is not None and not gated_only:
                out[f"{prefix}.base_rate"] = float(r.base_rate)
            for name, value in r.values.items():
                if all_metrics or name == self.metric:
                    out[f"{prefix}.{name}"] = float(value)
        worst = self.worst
        if worst is not None:
            out[f"slice.worst.{self.metric}"] = float(worst.values[self.metric])
        out["slice.flagged"] = float(len(self.flagged))
        out["slice.eligible"] = float(sum(r.eligible for r in self.rows))
        return out

    def to_frame(self) -> pd.DataFrame:
        records = []
        for r in self.rows:
            rec: dict[str, Any] = {
                "column": r.column, "value": r.value, "count": r.count, "base_rate": r.base_rate,
            }
            rec.update({m: r.values.get(m) for m in self._metric_order()})
            rec.update({"worse_by": r.worse_by, "eligible": r.eligible, "flagged": r.flagged, "reason": r.reason})
            records.append(rec)
        return pd.DataFrame.from_records(records)

    def _metric_order(self) -> tuple[str, ...]:
        names = CLASSIFICATION_METRICS if self.overall_quality.task_kind == "classification" else \
            MULTICLASS_METRICS if self.overall_quality.task_kind == "multiclass" else REGRESSION_METRICS
        return tuple(m for m in names if m != "base_rate")

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "overall": self.overall,
            "min_rows": self.min_rows,
            "flag_margin": self.flag_margin,
            "flag_ratio": self.flag_ratio,
            "rows": [
                {
                    "column": r.column, "value": _jsonable(r.value), "key": r.key, "count": r.count,
                    "base_rate": r.base_rate, "metrics": dict(r.values), "omitted": dict(r.omitted),
                    "eligible": r.eligible, "worse_by": r.worse_by, "flagged": r.flagged, "reason": r.reason,
                }
                for r in self.rows
            ],
            "metrics": self.metrics(),
        }


def _jsonable(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _positions_by_value(column: pd.Series) -> list[tuple[Any, np.ndarray]]:
    """(value, row positions) for every value present, missing values as one group.

    factorize rather than groupby: groupby(dropna=False) drops the NaN group of a
    categorical column from ``.indices``, and unobserved categories must not appear."""
    codes, uniques = pd.factorize(column, use_na_sentinel=False)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    return [(uniques[codes[chunk[0]]], chunk) for chunk in np.split(order, bounds) if chunk.size]


def slice_positions(values: Any) -> list[tuple[Any, np.ndarray]]:
    """(value, row positions) for every value of a slice column; missing values are one slice, None."""
    def missing(v: Any) -> bool:
        return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))

    return [(None if missing(v) else v, idx) for v, idx in _positions_by_value(pd.Series(values))]


def slice_metrics(
    frame: pd.DataFrame,
    y_true_col: str,
    score_col: str,
    slice_columns: Sequence[str],
    *,
    task: Task,
    metric: str | None = None,
    threshold: float = 0.5,
    min_rows: int = 50,
    flag_margin: float | None = None,
    flag_ratio: float | None = 0.10,
) -> SliceTable:
    """Quality per value of each slice column, and the slices much worse than the whole.

    ``metric`` (default ``roc_auc`` for classification, ``mae`` for regression) is the one
    used to flag (see :class:`SliceTable` for the rule). Missing slice values form their
    own slice, named ``null``. The whole frame must evaluate cleanly (strict), slices not.
    """
    metric, _higher = slice_rule(task, metric, flag_margin, flag_ratio)
    missing = [c for c in (y_true_col, score_col, *slice_columns) if c not in frame.columns]
    if missing:
        raise EvaluationError(
            f"column(s) not in the frame: {', '.join(missing)}", where="slice_metrics",
            hint=f"available columns: {', '.join(map(str, frame.columns))}",
        )
    overall_q = _quality(frame[y_true_col].to_numpy(), frame[score_col].to_numpy(), task, threshold,
                         strict=True, where="slice_metrics: whole frame")
    columns = []
    for column in slice_columns:
        entries = []
        for value, idx in _positions_by_value(frame[column]):
            part = frame.iloc[idx]
            q = _quality(part[y_true_col].to_numpy(), part[score_col].to_numpy(), task, threshold,
                         strict=False, where=f"slice {column}={value!r}", curves=False)
            base_rate = q.values["base_rate"] if task.kind == "classification" else \
                float(np.mean(part[y_true_col].to_numpy(dtype=float)))
            entries.append((value, int(len(idx)), q, base_rate))
        columns.append((column, entries))
    return slice_table(task, metric, overall_q, columns, min_rows=min_rows, flag_margin=flag_margin,
                       flag_ratio=flag_ratio)


def slice_rule(task: Task, metric: str | None, flag_margin: float | None,
               flag_ratio: float | None) -> tuple[str, bool]:
    """(the flag metric, whether higher is better), refusing a metric or rule that cannot flag."""
    metric = metric or DEFAULT_SLICE_METRIC[task.kind]
    allowed = CLASSIFICATION_METRICS if task.kind == "classification" else \
        MULTICLASS_METRICS if task.kind == "multiclass" else REGRESSION_METRICS
    if metric not in allowed or HIGHER_IS_BETTER.get(metric) is None:
        choices = [m for m in allowed if HIGHER_IS_BETTER.get(m) is not None]
        raise EvaluationError(f"cannot flag slices on '{metric}'", where="slice_metrics(metric=...)",
                              hint=f"choose one of: {', '.join(choices)}")
    if flag_margin is None and flag_ratio is None:
        raise EvaluationError("no flag rule: both flag_margin and flag_ratio are None",
                              where="slice_metrics", hint="set flag_margin (absolute) or flag_ratio (relative)")
    return metric, bool(HIGHER_IS_BETTER[metric])


def slice_table(task: Task, metric: str | None, overall_q: QualityResult,
                columns: Sequence[tuple[str, Sequence[tuple[Any, int, QualityResult, float | None]]]], *,
                min_rows: int, flag_margin: float | None, flag_ratio: float | None) -> SliceTable:
    """The slice rules, written once for every way of computing the numbers (see
    :func:`slice_metrics`; :mod:`workbench.measure.sql_metrics` computes them in DuckDB): naming and
    order, eligibility and flagging. ``columns``: per slice column, one ``(value, count,
    quality (not strict), base rate)`` per value; ``overall_q``: the whole set's quality."""
    metric, higher = slice_rule(task, metric, flag_margin, flag_ratio)
    if metric not in overall_q.values:
        raise EvaluationError(f"{metric} is undefined on the whole frame: {overall_q.omitted.get(metric)}",
                              where="slice_metrics")
    overall = overall_q.values[metric]

    rows: list[SliceRow] = []
    for column, values in columns:
        keys_seen: dict[str, Any] = {}
        for value, count, q, base_rate in sorted(values, key=lambda e: (_name_part(e[0]), str(e[0]))):
            key = _name_part(value)
            base_key, k = key, 2
            while key in keys_seen:  # two values that sanitise alike (e.g. "a b" and "a_b")
                key, k = f"{base_key}_{k}", k + 1
            keys_seen[key] = value
            worse_by = None
            flagged = False
            if count < min_rows:
                eligible, reason = False, f"too few rows ({count} < min_rows={min_rows})"
            elif metric not in q.values:
                eligible, reason = False, f"{metric} undefined: {q.omitted.get(metric, 'not computed')}"
            else:
                eligible, reason = True, ""
                worse_by = (overall - q.values[metric]) if higher else (q.values[metric] - overall)
                why = []
                if flag_margin is not None and worse_by > flag_margin:
                    why.append(f"{worse_by:.4g} worse than overall ({overall:.4g}), margin {flag_margin:g}")
                if flag_ratio is not None and overall != 0 and worse_by / abs(overall) > flag_ratio:
                    why.append(f"{worse_by / abs(overall):.1%} worse than overall ({overall:.4g}), ratio {flag_ratio:g}")
                flagged = bool(why)
                reason = "; ".join(why)
            rows.append(SliceRow(
                column=column, value=value, key=key, count=int(count), base_rate=base_rate,
                values={k2: v for k2, v in q.values.items() if k2 != "base_rate"},
                omitted=dict(q.omitted), eligible=eligible, worse_by=worse_by, flagged=flagged, reason=reason,
            ))
    return SliceTable(metric, higher, overall, overall_q, tuple(rows), min_rows, flag_margin, flag_ratio)


# -- robustness probes ------------------------------------------------------------------

Outcome = Literal["crashed", "refused", "handled", "degraded", "invalid_output"]
OUTCOMES: tuple[str, ...] = ("crashed", "refused", "handled", "degraded", "invalid_output")
_NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                  "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "REAL", "DECIMAL", "NUMERIC", "INT")


@dataclass(frozen=True)
class ProbeResult:
    name: str  # e.g. "null.age", "unseen_category.region", "empty"
    kind: str  # null | null_all | unseen_category | out_of_range | negative | wrong_type | empty
    outcome: Outcome
    detail: str
    column: str | None = None
    error_type: str | None = None


@dataclass(frozen=True)
class ProbeReport:
    results: tuple[ProbeResult, ...]
    refusal: tuple[str, ...]  # exception classes counted as a deliberate refusal

    def count(self, outcome: str) -> int:
        return sum(r.outcome == outcome for r in self.results)

    def by_outcome(self, outcome: str) -> tuple[ProbeResult, ...]:
        return tuple(r for r in self.results if r.outcome == outcome)

    def metrics(self) -> dict[str, float]:
        out = {f"probes.{o}": float(self.count(o)) for o in OUTCOMES}
        out["probes.total"] = float(len(self.results))
        return out

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [(r.name, r.kind, r.column, r.outcome, r.error_type, r.detail) for r in self.results],
            columns=["name", "kind", "column", "outcome", "error_type", "detail"],
        )

    def tables(self, limit: int = 40) -> list[pd.DataFrame]:
        """The probes for a reader: every one when at most ``limit``; else (a wide table's probes,
        four a column) how each kind came out, then each probe that did not come back handled.
        The whole list stays in the run's ``probes.json``."""
        frame = self.to_frame()
        if len(frame) <= limit:
            return [frame]
        counts = frame.groupby("kind", sort=False)["outcome"].value_counts().unstack(fill_value=0)
        counts = counts.reindex(columns=[o for o in OUTCOMES if o in counts.columns]).reset_index()
        counts.insert(1, "probes", counts[[o for o in OUTCOMES if o in counts.columns]].sum(axis=1))
        counts.columns.name = None
        return [counts, frame[frame["outcome"] != "handled"].reset_index(drop=True)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "refusal": list(self.refusal),
            "metrics": self.metrics(),
            "results": [
                {"name": r.name, "kind": r.kind, "column": r.column, "outcome": r.outcome,
                 "error_type": r.error_type, "detail": r.detail}
                for r in self.results
            ],
        }


def _is_numeric_type(sql_type: str) -> bool:
    base = sql_type.upper().split("(")[0].strip()
    return base in _NUMERIC_TYPES


def _null_column(frame: pd.DataFrame, column: str) -> None:
    # mask() keeps the column's missing-value convention (NaN for floats, ints upcast to
    # float as a real null-bearing column would be; the str dtype's NA for strings).
    frame[column] = frame[column].mask(np.ones(len(frame), dtype=bool))


def _set_value(frame: pd.DataFrame, column: str, value: Any) -> None:
    series = frame[column]
    if isinstance(series.dtype, pd.CategoricalDtype):
        if value not in series.cat.categories:
            series = series.cat.add_categories([value])
        frame[column] = pd.Series([value] * len(frame), index=frame.index, dtype=series.dtype)
    elif pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype) \
            or isinstance(value, (int, float)):
        try:
            frame[column] = pd.Series([value] * len(frame), index=frame.index).astype(series.dtype)
        except (TypeError, ValueError, OverflowError):
            frame[column] = pd.Series([value] * len(frame), index=frame.index)
    else:
        frame[column] = pd.Series([value] * len(frame), index=frame.index, dtype=object)


def _build_probes(rows: pd.DataFrame, features: list[str], categorical: list[str], numeric: list[str],
                  non_negative: list[str], extreme: float) -> list[tuple[str, str, str | None, pd.DataFrame]]:
    probes: list[tuple[str, str, str | None, pd.DataFrame]] = []

    def variant(name: str, kind: str, column: str | None, edit: Callable[[pd.DataFrame], None]) -> None:
        frame = rows.copy(deep=True)
        edit(frame)
        probes.append((name, kind, column, frame))

    for col in features:
        variant(f"null.{col}", "null", col, lambda f, c=col: _null_column(f, c))
    variant("null.all", "null_all", None, lambda f: [_null_column(f, c) for c in features])
    for col in categorical:
        unseen: Any = "__unseen__"
        if pd.api.types.is_numeric_dtype(rows[col].dtype) and not pd.api.types.is_bool_dtype(rows[col].dtype):
            unseen = int(np.nanmax(rows[col].to_numpy(dtype=float), initial=0)) + 1000  # an int-coded category
        variant(f"unseen_category.{col}", "unseen_category", col, lambda f, c=col, v=unseen: _set_value(f, c, v))
    for col in numeric:
        integer = pd.api.types.is_integer_dtype(rows[col].dtype)
        hi, lo = (int(extreme), -int(extreme)) if integer else (float(extreme), -float(extreme))
        variant(f"out_of_range.{col}.high", "out_of_range", col, lambda f, c=col, v=hi: _set_value(f, c, v))
        variant(f"out_of_range.{col}.low", "out_of_range", col, lambda f, c=col, v=lo: _set_value(f, c, v))
    for col in non_negative:
        variant(f"negative.{col}", "negative", col, lambda f, c=col: _set_value(f, c, -1))
    for col in numeric:
        variant(f"wrong_type.{col}", "wrong_type", col,
                lambda f, c=col: f.__setitem__(c, pd.Series(["not-a-number"] * len(f), index=f.index, dtype=object)))
    probes.append(("empty", "empty", None, rows.iloc[0:0].copy()))
    return probes


def _crash_detail(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else "(no message)"
    if len(message) > 300:
        message = message[:297] + "..."
    frames = traceback.extract_tb(exc.__traceback__)
    at = f" (raised at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name})" if frames else ""
    return f"{type(exc).__name__}: {message}{at}"


def _degraded(output: Any, degraded_mode: Callable[..., bool] | str | None) -> bool:
    if degraded_mode is None:
        return False
    if callable(degraded_mode):
        return bool(degraded_mode(output))
    attrs = getattr(output, "attrs", None)  # pandas objects carry a metadata dict
    if isinstance(attrs, Mapping) and degraded_mode in attrs:
        return bool(attrs[degraded_mode])
    return bool(getattr(output, degraded_mode, False))


def _check_output(output: Any, n: int, output_range: tuple[float, float] | None) -> str | None:
    """Why ``output`` is not a valid prediction for ``n`` rows, or None if it is."""
    if output is None:
        return "returned None"
    try:
        arr = np.asarray(output)
    except Exception as exc:  # noqa: BLE001 - any failure to read the output makes it invalid
        return f"output is not array-like ({type(exc).__name__}: {exc})"
    if arr.ndim == 0 or arr.ndim > 2:
        return f"output has shape {arr.shape}; expected ({n},) or ({n}, k)"
    if arr.shape[0] != n:
        return f"output has {arr.shape[0]} prediction(s) for {n} row(s)"
    if arr.size == 0:
        return None
    if arr.dtype.kind in "biuf":
        values = arr.astype(float)
        bad = ~np.isfinite(values)
        if bad.any():
            return f"output holds NaN/infinity in {int(bad.sum())} of {arr.size} value(s)"
        if output_range is not None:
            lo, hi = output_range
            outside = (values < lo) | (values > hi)
            if outside.any():
                return f"{int(outside.sum())} value(s) outside [{lo}, {hi}] (e.g. {values[outside][0]!r})"
        return None
    missing = pd.isna(arr)
    if np.any(missing):
        return f"output holds missing values in {int(np.sum(missing))} of {arr.size} value(s)"
    if output_range is not None:
        return f"output has dtype {arr.dtype}, expected numbers in [{output_range[0]}, {output_range[1]}]"
    return None


def run_probes(
    predict: Callable[[pd.DataFrame], Any],
    valid_rows: pd.DataFrame,
    *,
    schema: Mapping[str, str] | None = None,
    categorical: Iterable[str] = (),
    numeric: Iterable[str] = (),
    non_negative: Iterable[str] = (),
    degraded_mode: Callable[[Any], bool] | str | None = None,
    refusal: tuple[type[BaseException], ...] = (WorkbenchError, ValueError),
    output_range: tuple[float, float] | None = None,
    extreme: float = 1e9,
    max_rows: int = 20,
) -> ProbeReport:
    """Feed malformed copies of ``valid_rows`` to ``predict`` and record how it copes.

    Probes (one each): ``null.<col>`` for every feature, ``null.all``,
    ``unseen_category.<col>`` (``"__unseen__"``, or max + 1000 in an int-coded column), ``out_of_range.<col>.high/low``
    (``±extreme``), ``negative.<col>`` (-1, for ``non_negative`` columns),
    ``wrong_type.<col>`` (strings in a numeric column) and ``empty`` (zero rows).
    Features are ``schema``'s keys (DuckDB types, as in the charter's sources; numeric
    types make ``numeric`` and the rest ``categorical`` unless those are given), or else
    every column of ``valid_rows`` with categorical/numeric inferred from the dtypes.

    Outcomes, decided in this order:

    * ``crashed``: ``predict`` raised an exception that is not a refusal (TypeError,
      KeyError, IndexError deep in a library...). The detail names type, message, place.
    * ``refused``: it raised one of ``refusal`` with a message — by default a
      ``WorkbenchError`` or ``ValueError``, the conventional "I will not score this input".
      Pass ``refusal=(WorkbenchError,)`` to count only the wrapper's deliberate errors
      (then a library's own ValueError is a crash). An empty message is a crash.
    * ``invalid_output``: it returned None, the wrong number of rows, NaN/infinity, or —
      only when ``output_range`` is given — values outside it. The default (None) assumes
      nothing about the values, as regression needs; for classification scores pass
      ``output_range=(0.0, 1.0)``.
    * ``degraded``: a valid output that the wrapper marked as its fallback. ``degraded_mode``
      is either the name of a marker — ``output.attrs[name]`` on a pandas result (e.g. the
      wrapper returns ``pd.Series(baseline_scores)`` with ``.attrs["degraded"] = True``) or
      ``getattr(output, name)`` — or a predicate ``degraded_mode(output) -> bool``.
    * ``handled``: a valid output, not marked degraded.

    Before the probes, ``valid_rows`` themselves must come back handled or degraded;
    otherwise the probes would say nothing and :class:`EvaluationError` is raised.
    """
    if not isinstance(valid_rows, pd.DataFrame):
        raise EvaluationError(f"valid_rows must be a pandas DataFrame, got {type(valid_rows).__name__}",
                              where="run_probes", hint="pass a few rows of the evaluation set's features")
    if len(valid_rows) == 0:
        raise EvaluationError("valid_rows is empty", where="run_probes",
                              hint="pass a few (e.g. 5-20) valid rows of the evaluation set's features")
    rows = valid_rows.head(max_rows).reset_index(drop=True)
    categorical, numeric, non_negative = list(categorical), list(numeric), list(non_negative)
    if schema is not None:
        features = list(schema)
        if not categorical and not numeric:
            numeric = [c for c, t in schema.items() if _is_numeric_type(t)]
            categorical = [c for c in features if c not in numeric]
    else:
        features = list(rows.columns)
        if not categorical and not numeric:
            numeric = [c for c in features if pd.api.types.is_numeric_dtype(rows[c].dtype)
                       and not pd.api.types.is_bool_dtype(rows[c].dtype)]
            categorical = [c for c in features if c not in numeric]
    unknown = [c for c in {*features, *categorical, *numeric, *non_negative} if c not in rows.columns]
    if unknown:
        raise EvaluationError(f"probe column(s) not in valid_rows: {', '.join(sorted(map(str, unknown)))}",
                              where="run_probes", hint=f"valid_rows has: {', '.join(map(str, rows.columns))}")
    refusal_names = tuple(t.__name__ for t in refusal)

    def outcome_of(frame: pd.DataFrame) -> tuple[Outcome, str, str | None]:
        try:
            output = predict(frame)
        except Exception as exc:  # noqa: BLE001 - classifying every failure is the point
            if isinstance(exc, refusal) and str(exc).strip():
                return "refused", _crash_detail(exc), type(exc).__name__
            return "crashed", _crash_detail(exc), type(exc).__name__
        problem = _check_output(output, len(frame), output_range)
        if problem is not None:
            return "invalid_output", problem, None
        if _degraded(output, degraded_mode):
            return "degraded", f"fell back (degraded mode) on {len(frame)} row(s)", None
        return "handled", f"valid predictions for {len(frame)} row(s)", None

    control, detail, _ = outcome_of(rows.copy(deep=True))
    if control not in ("handled", "degraded"):
        raise EvaluationError(
            f"the model does not score the valid rows ({control}: {detail})",
            where="run_probes(valid_rows=...)",
            hint="probes only mean something when valid rows score: pass rows the model accepts "
            "(same columns and dtypes as in training) and check output_range",
        )
    results = []
    for name, kind, column, frame in _build_probes(rows, features, categorical, numeric, non_negative, extreme):
        outcome, detail, error_type = outcome_of(frame)
        results.append(ProbeResult(name, kind, outcome, detail, column, error_type))
    return ProbeReport(tuple(results), refusal_names)


# -- figures ----------------------------------------------------------------------------
# matplotlib.figure.Figure directly (Agg canvas, no pyplot state): headless-safe, and
# Jupyter still displays the returned figure; mlflow.log_figure accepts it.


def plot_calibration(result: QualityResult) -> Figure:
    """Reliability diagram: observed positive rate vs mean predicted score per bin."""
    if result.calibration is None:
        raise EvaluationError(
            "this result has no calibration curve",
            hint="calibration needs classification scores in [0, 1] (not hard 0/1 predictions)",
        )
    from matplotlib.figure import Figure

    cal = result.calibration
    fig = Figure(figsize=(5, 5), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    ax.plot(cal.prob_pred, cal.prob_true, marker="o", color="#4c72b0", label="model")
    for x, y, c in zip(cal.prob_pred, cal.prob_true, cal.counts):
        ax.annotate(str(c), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7, color="grey")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed positive rate")
    title = f"Calibration, shares of rows ({cal.n_bins} {cal.strategy} bins, n={result.n:,})"
    if "brier" in result.values:
        title += f", Brier {result.values['brier']:.3f}"
    ax.set_title(title)
    ax.legend(loc="upper left")
    return fig


def plot_confusion(result: QualityResult, *, class_names: tuple[str, str] = ("negative", "positive")) -> Figure:
    """Confusion matrix at the result's threshold, with counts (rows) and row shares.
    ``class_names``: the negative and positive class as the data names them; long names are
    wrapped (and the figure widened) so the labels never overlap."""
    if result.confusion is None:
        raise EvaluationError("this result has no confusion matrix", hint="confusion needs a classification task")
    from matplotlib.figure import Figure

    import textwrap

    matrix = np.asarray(result.confusion)
    wrapped = [textwrap.fill(str(name), 18, max_lines=3, placeholder="…") for name in class_names]
    widest = max(len(line) for name in wrapped for line in name.splitlines())
    fig = Figure(figsize=(4.5 + max(0, widest - 10) * 0.09, 4.2), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, label="rows")
    totals = matrix.sum(axis=1, keepdims=True)
    for i in range(2):
        for j in range(2):
            share = matrix[i, j] / totals[i, 0] if totals[i, 0] else 0.0
            color = "white" if matrix[i, j] > matrix.max() / 2 else "black"
            ax.text(j, i, f"{matrix[i, j]}\n{share:.0%}", ha="center", va="center", color=color)
    ax.set_xticks([0, 1], labels=[f"predicted\n{name}" for name in wrapped], fontsize=8)
    ax.set_yticks([0, 1], labels=[f"actual\n{name}" for name in wrapped], fontsize=8)
    ax.set_title(f"Confusion at threshold {result.threshold:g}, rows (n={result.n:,})")
    return fig


def _regression_pairs(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """Numeric (truth, prediction) of equal, non-zero length."""
    truth = _numeric(_as_1d(y_true, "y_true"), "y_true")
    pred = _numeric(_as_1d(y_pred, "y_pred"), "y_pred")
    if truth.shape[0] != pred.shape[0]:
        raise EvaluationError(f"y_true has {truth.shape[0]} rows but the predictions have {pred.shape[0]}",
                              where="y_pred", hint="predict exactly the rows of the evaluation set, in order")
    if truth.shape[0] == 0:
        raise EvaluationError("cannot plot zero rows", where="y_true", hint="check the evaluation split")
    return truth, pred


def _sample(n: int, max_points: int, total: int | None = None) -> tuple[np.ndarray | slice, str]:
    """Rows to draw (all, or ``max_points`` of them with a fixed seed so a scatter stays
    readable) and how to say so in a title. ``total``: the rows given are already that
    sample of ``total`` rows (drawn in DuckDB the same way)."""
    if total is not None and total > n:
        return slice(None), f"{n} of {total} rows shown"
    if n <= max_points:
        return slice(None), f"n={n}"
    keep = np.sort(np.random.default_rng(0).choice(n, size=max_points, replace=False))
    return keep, f"{max_points} of {n} rows shown"


def plot_residuals(y_true: Any, y_pred: Any, *, max_points: int = 20_000, total: int | None = None) -> Figure:
    """Regression residuals (actual - predicted) against the prediction, and their histogram.

    A band around zero with no shape is what a good model leaves; a funnel or a curve says
    the error depends on the prediction. ``total``: the pairs are a sample of that many."""
    from matplotlib.figure import Figure

    truth, pred = _regression_pairs(y_true, y_pred)
    residual = truth - pred
    rows, shown = _sample(truth.size, max_points, total)
    fig = Figure(figsize=(9, 4), layout="constrained")
    scatter, hist = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [2, 1]})
    scatter.scatter(pred[rows], residual[rows], s=6, alpha=0.3, color="#4c72b0", rasterized=True)
    scatter.axhline(0.0, linestyle="--", color="grey")
    scatter.set_xlabel("predicted")
    scatter.set_ylabel("residual (actual - predicted)")
    scatter.set_title(f"Residuals, target units ({shown})")
    hist.hist(residual, bins=min(50, max(5, truth.size // 20)), color="#4c72b0", orientation="horizontal")
    hist.axhline(0.0, linestyle="--", color="grey")
    hist.set_xlabel("rows")
    hist.set_title(f"mean {residual.mean():.3g}, MAE {np.abs(residual).mean():.3g}")
    return fig


def plot_predicted_vs_actual(y_true: Any, y_pred: Any, *, max_points: int = 20_000,
                             total: int | None = None) -> Figure:
    """Predicted against actual values with the identity line (a perfect model lies on it).
    ``total``: the pairs are a sample of that many."""
    from matplotlib.figure import Figure

    truth, pred = _regression_pairs(y_true, y_pred)
    rows, shown = _sample(truth.size, max_points, total)
    lo = float(min(truth.min(), pred.min()))
    hi = float(max(truth.max(), pred.max()))
    pad = (hi - lo) * 0.03 or 1.0
    fig = Figure(figsize=(5, 5), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], linestyle="--", color="grey", label="perfect")
    ax.scatter(truth[rows], pred[rows], s=6, alpha=0.3, color="#4c72b0", label="rows", rasterized=True)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_aspect("equal")
    ax.set_xlabel("actual")
    ax.set_ylabel("predicted")
    ax.set_title(f"Predicted vs actual, target units ({shown}), MAE {np.abs(truth - pred).mean():.3g}")
    ax.legend(loc="upper left")
    return fig


# -- curves (for the evaluation report) ---------------------------------------------------


def _thin(n: int, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` of ``n`` points, evenly spread, both ends kept."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(int))


def curves(y_true: Any, y_score_or_pred: Any, *, task: Task, max_points: int = 200) -> dict[str, Any]:
    """What the evaluation report draws, small enough for a JSON artifact.

    Classification: the ROC curve (``fpr``, ``tpr``) and the precision-recall curve
    (``recall``, ``precision``), each thinned to at most ``max_points`` points, with
    ``base_rate`` (the PR curve of a random ranking). Regression: the residual
    (actual - predicted) histogram, the residual's mean and 10th/90th percentiles per
    decile of the prediction, and a fixed-seed sample of at most ``max_points`` * 2
    (prediction, residual) pairs. Raises :class:`EvaluationError` on the data
    :func:`evaluate` refuses."""
    if task.kind == "classification":
        from sklearn.metrics import precision_recall_curve, roc_curve

        truth = _binary_truth(np.asarray(y_true), task.positive_label)
        score = _numeric(_as_1d(y_score_or_pred, "y_score"), "y_score")
        if truth.shape[0] != score.shape[0] or truth.shape[0] == 0 or len(np.unique(truth)) < 2:
            raise EvaluationError("ROC and PR curves need both classes and one score per row", where="y_true",
                                  hint="evaluate on a set with positive and negative rows")
        fpr, tpr, _ = roc_curve(truth, score)
        precision, recall, _ = precision_recall_curve(truth, score)
        keep_roc, keep_pr = _thin(len(fpr), max_points), _thin(len(recall), max_points)
        return {
            "kind": "classification",
            "roc": {"fpr": [float(v) for v in fpr[keep_roc]], "tpr": [float(v) for v in tpr[keep_roc]]},
            "pr": {"recall": [float(v) for v in recall[keep_pr]], "precision": [float(v) for v in precision[keep_pr]]},
            "base_rate": float(truth.mean()),
        }
    truth, pred = _regression_pairs(y_true, y_score_or_pred)
    residual = truth - pred
    counts, edges = np.histogram(residual, bins=min(40, max(5, truth.size // 20)))
    order = np.argsort(pred, kind="stable")
    groups = [g for g in np.array_split(order, min(10, truth.size)) if g.size]
    rows, _ = _sample(truth.size, max_points * 2)
    return {
        "kind": "regression",
        "histogram": {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]},
        "by_prediction": [
            {"pred_mean": float(pred[g].mean()), "residual_mean": float(residual[g].mean()),
             "residual_p10": float(np.percentile(residual[g], 10)), "residual_p90": float(np.percentile(residual[g], 90)),
             "rows": int(g.size)}
            for g in groups
        ],
        "sample": {"pred": [float(v) for v in pred[rows]], "residual": [float(v) for v in residual[rows]]},
    }


def pr_operating_points(recall: Sequence[float], precision: Sequence[float]) -> list[tuple[float, float]]:
    """The curve's real operating points: sklearn's PR curve ends with the artificial
    (recall 0, precision 1) point, which no threshold reaches."""
    return [(float(r), float(p)) for r, p in zip(recall, precision) if not (r == 0 and p == 1)]


def pr_is_a_point(recall: Sequence[float], precision: Sequence[float]) -> bool:
    """A model with at most one real operating point (a hard rule, 0/1 scores): drawing its PR
    "curve" would draw a made-up diagonal from (0, 1) to that point."""
    return len(pr_operating_points(recall, precision)) <= 1 or len(set(zip(recall, precision))) <= 3


def plot_roc_pr(data: Mapping[str, Any], *, reference: Mapping[str, Any] | None = None,
                labels: tuple[str, str] = ("model", "baseline")) -> Figure:
    """ROC and precision-recall curves side by side, from :func:`curves` (classification);
    ``reference`` (another model's curves, e.g. the baseline's) is drawn dashed."""
    if data.get("kind") != "classification":
        raise EvaluationError("ROC and PR curves are for classification", hint="use plot_residuals for regression")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 4), layout="constrained")
    roc, pr = fig.subplots(1, 2)
    roc.plot([0, 1], [0, 1], linestyle=":", color="grey", label="random")
    pr.axhline(data["base_rate"], linestyle=":", color="grey", label=f"random ({data['base_rate']:.1%} positive)")
    for curve, style, label in ((reference, "--", labels[1]), (data, "-", labels[0])):
        if not curve:
            continue
        colour = "#4c72b0" if style == "-" else "#dd8452"
        roc.plot(curve["roc"]["fpr"], curve["roc"]["tpr"], linestyle=style, color=colour, label=label)
        recall, precision = curve["pr"]["recall"], curve["pr"]["precision"]
        if pr_is_a_point(recall, precision):  # a rule with one cut: its operating points, not a line between them
            point = pr_operating_points(recall, precision)
            pr.plot(*zip(*point), linestyle="none", marker="o", markersize=7, color=colour,
                    label=f"{label} (operating points)")
        else:  # precision holds until the next threshold: a step, as sklearn draws it, never interpolated
            pr.plot(recall, precision, linestyle=style, color=colour, label=label, drawstyle="steps-post")
    roc.set(xlim=(0, 1), ylim=(0, 1), xlabel="false positive rate", ylabel="true positive rate",
            title="ROC curve (rates)")
    pr.set(xlim=(0, 1), ylim=(0, 1), xlabel="recall", ylabel="precision", title="Precision-recall curve (rates)")
    roc.legend(loc="lower right", fontsize=8)
    pr.legend(loc="upper right", fontsize=8)
    return fig
