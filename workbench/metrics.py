"""The one registry of every built-in metric name: its direction, unit and meaning.

Gates, widgets and reports read a metric's direction from here, never from a guess on
its prefix. A name that is not here (a custom metric a notebook logs) has no known
direction: a gate comparing it must say ``higher_is_better`` itself.

Naming scheme
-------------
A metric name is ``<group>.<name>`` (lower-case group, then dot-separated parts made of
``[A-Za-z0-9_]``), the same rule the charter checks for gate metrics.

=====================================  ==================================================
``quality.<m>``                        model quality on the whole evaluation set
                                       (:mod:`workbench.evaluation`); classification:
                                       accuracy, precision, recall, f1, roc_auc,
                                       average_precision, brier, brier_skill, log_loss,
                                       base_rate, threshold; regression: mae, rmse, r2
``slice.<column>.<value>.<m>``         ``quality.<m>`` on one slice (column and value
                                       sanitised to ``[A-Za-z0-9_]``); also ``.count`` and
                                       ``.base_rate`` per slice (descriptive)
``slice.worst.<m>``                    ``quality.<m>`` of the worst eligible slice
``slice.flagged`` / ``slice.eligible``  slices flagged as much worse / slices large enough
``latency.*_ms``, ``throughput.*``,    speed, memory and cost of a prediction callable
``memory.*``, ``cost.*``,              (:mod:`workbench.timing`)
``time_saved.*``
``probes.<outcome>``, ``probes.total``  robustness probe counts (:func:`evaluation.run_probes`)
``contracts.*``                        data-contract step counts
=====================================  ==================================================

Direction is ``"higher"`` (more is better), ``"lower"`` (less is better) or ``None`` for a
number that describes the data or the setup rather than the model (``quality.base_rate``,
``quality.threshold``, ``probes.total``, a slice's ``count``): such a metric ranks nothing,
and a gate comparing it must state its direction itself.

Units: ``ratio`` (a share in [0, 1]), ``score`` (unitless, unbounded), ``probability``,
``nats``, ``target`` (the regression target's own unit), ``ms``, ``items/s``, ``MB``,
``usd``, ``hours``, ``count``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Literal

from .errors import ConfigError

__all__ = [
    "MetricInfo",
    "REGISTRY",
    "info",
    "direction",
    "higher_is_better",
    "known",
    "suggest",
]

Direction = Literal["higher", "lower"]
TaskKind = Literal["classification", "regression", "both"]
_KINDS = ("classification", "regression")


@dataclass(frozen=True)
class MetricInfo:
    """What one metric name means.

    ``direction``: ``"higher"``, ``"lower"`` or None (descriptive, ranks nothing).
    ``task``: the task kind it applies to: ``"classification"``, ``"regression"`` or ``"both"``.
    """

    name: str
    direction: Direction | None
    unit: str
    description: str
    task: TaskKind = "both"

    @property
    def higher_is_better(self) -> bool | None:
        return None if self.direction is None else self.direction == "higher"

    def applies_to(self, task_kind: str) -> bool:
        return self.task == "both" or self.task == task_kind


def _m(name: str, direction: Direction | None, unit: str, description: str, task: TaskKind = "both") -> MetricInfo:
    return MetricInfo(name, direction, unit, description, task)


_C, _R = "classification", "regression"
_ENTRIES = (
    # quality: classification (thresholded metrics at quality.threshold)
    _m("quality.accuracy", "higher", "ratio", "share of rows classified correctly at the threshold", _C),
    _m("quality.precision", "higher", "ratio",
       "share of predicted positives that are positive (0 if none predicted)", _C),
    _m("quality.recall", "higher", "ratio", "share of positives predicted positive at the threshold", _C),
    _m("quality.f1", "higher", "ratio", "harmonic mean of precision and recall at the threshold", _C),
    _m("quality.roc_auc", "higher", "ratio", "area under the ROC curve: ranking of positives above negatives", _C),
    _m("quality.average_precision", "higher", "ratio",
       "area under the precision-recall curve (sklearn average_precision); informative when positives are rare", _C),
    _m("quality.brier", "lower", "ratio", "mean squared error of the scores as probabilities", _C),
    _m("quality.brier_skill", "higher", "score",
       "1 - brier / (base_rate * (1 - base_rate)): gain over always predicting the base rate (0 = none)", _C),
    _m("quality.log_loss", "lower", "nats", "cross-entropy of the scores as probabilities", _C),
    _m("quality.base_rate", None, "ratio", "share of positive rows in the evaluation set (describes the data)", _C),
    _m("quality.threshold", None, "probability", "score threshold at which scores become positive predictions", _C),
    # quality: regression
    _m("quality.mae", "lower", "target", "mean absolute error", _R),
    _m("quality.rmse", "lower", "target", "root mean squared error", _R),
    _m("quality.r2", "higher", "score", "coefficient of determination (1 = perfect, 0 = predicting the mean)", _R),
    # timing (workbench.timing.TimingResult.metrics)
    _m("latency.p50_ms", "lower", "ms", "median single-row call latency"),
    _m("latency.p95_ms", "lower", "ms", "95th percentile single-row call latency"),
    _m("latency.p99_ms", "lower", "ms", "99th percentile single-row call latency"),
    _m("latency.max_ms", "lower", "ms", "slowest single-row call"),
    _m("latency.mean_ms", "lower", "ms", "mean single-row call latency"),
    _m("latency.batch_p50_ms", "lower", "ms", "median latency of one full-size batch call"),
    _m("latency.batch_max_ms", "lower", "ms", "slowest full-size batch call"),
    _m("latency.batch_per_item_ms", "lower", "ms", "batch time amortised per row (1000 / throughput)"),
    _m("throughput.items_per_s", "higher", "items/s", "rows per second over all batch calls"),
    _m("memory.peak_mb", "lower", "MB", "tracemalloc peak of Python-visible allocations over one batch pass"),
    _m("cost.per_1k_usd", "lower", "usd", "machine cost per 1,000 rows, batched (compute time + API calls)"),
    _m("cost.single_per_1k_usd", "lower", "usd", "machine cost per 1,000 rows, one row per call"),
    _m("cost.human_per_1k_usd", None, "usd", "what 1,000 rows cost done by hand (from the charter's cost model)"),
    _m("cost.saved_per_1k_usd", "higher", "usd", "human cost minus batched machine cost, per 1,000 rows"),
    _m("time_saved.per_1k_hours", "higher", "hours", "human hours minus machine hours, per 1,000 rows"),
    # robustness probes (workbench.evaluation.ProbeReport.metrics)
    _m("probes.crashed", "lower", "count", "probes on which predict raised an unexpected exception"),
    _m("probes.invalid_output", "lower", "count",
       "probes answered with None, a wrong row count, NaN, or values outside output_range"),
    _m("probes.refused", None, "count", "probes the model refused with a deliberate error"),
    _m("probes.handled", None, "count", "probes answered with valid predictions"),
    _m("probes.degraded", None, "count", "probes answered by the wrapper's marked fallback"),
    _m("probes.total", None, "count", "number of probes run"),
    # slices (workbench.evaluation.SliceTable.metrics); per-slice and worst-slice names are patterns
    _m("slice.flagged", "lower", "count", "eligible slices flagged as much worse than the whole set"),
    _m("slice.eligible", None, "count", "slices with enough rows and the flag metric defined"),
    # data contracts (the contracts step)
    _m("contracts.error_failures", "lower", "count", "error-level contract failures"),
    _m("contracts.warnings", "lower", "count", "warning-level contract failures"),
    _m("contracts.quarantined_rows", "lower", "count", "rows set aside by contract rules"),
)

REGISTRY: Mapping[str, MetricInfo] = MappingProxyType({e.name: e for e in _ENTRIES})

_SLICE_COUNT = MetricInfo("slice.<column>.<value>.count", None, "count", "rows in the slice")
_SLICE_BASE_RATE = MetricInfo(
    "slice.<column>.<value>.base_rate", None, "target",
    "positive share (classification, a ratio) or mean target (regression) in the slice",
)


def _quality(short: str) -> MetricInfo | None:
    found = REGISTRY.get(f"quality.{short}")
    if found is None or short == "threshold":  # one threshold for the whole set, never per slice
        return None
    return found


def info(name: str) -> MetricInfo | None:
    """What ``name`` means, or None if it is not a built-in metric.

    Resolves the slice patterns: ``slice.worst.<m>`` and ``slice.<column>.<value>.<m>``
    take the direction, unit and task of ``quality.<m>``; ``slice.<column>.<value>.count``
    and ``.base_rate`` are descriptive. ``MetricInfo.name`` is always the name asked for.
    """
    found = REGISTRY.get(name)
    if found is not None:
        return found
    parts = name.split(".")
    if parts[0] != "slice" or not all(parts[1:]):
        return None
    if len(parts) == 3 and parts[1] == "worst":
        q = _quality(parts[2])
        if q is None:
            return None
        return replace(q, name=name, description=f"worst eligible slice's {parts[2]}: {q.description}")
    if len(parts) == 4:
        column, value, short = parts[1:]
        if short == "count":
            return replace(_SLICE_COUNT, name=name, description=f"rows with {column} = {value}")
        if short == "base_rate":
            return replace(_SLICE_BASE_RATE, name=name)
        q = _quality(short)
        if q is None:
            return None
        return replace(q, name=name, description=f"{short} on the slice {column} = {value}: {q.description}")
    return None


def direction(name: str) -> Direction | None:
    """``"higher"``, ``"lower"``, or None (descriptive, or not a built-in metric)."""
    found = info(name)
    return None if found is None else found.direction


def higher_is_better(name: str) -> bool | None:
    """True / False from the registry; None when the metric has no direction or is unknown."""
    found = info(name)
    return None if found is None else found.higher_is_better


def known(task_kind: str | None = None) -> list[str]:
    """Every concrete built-in metric name (sorted) that applies to ``task_kind``
    (``"classification"`` or ``"regression"``; None: all), including ``slice.worst.<m>``
    for each quality metric with a direction. Per-slice names depend on the data and are
    not listed (see :func:`info`)."""
    if task_kind is not None and task_kind not in _KINDS:
        raise ConfigError(f"unknown task kind {task_kind!r}", where="metrics.known(task_kind=...)",
                          hint="use 'classification', 'regression' or None (every metric)")
    chosen = [e for e in _ENTRIES if task_kind is None or e.applies_to(task_kind)]
    names = {e.name for e in chosen}
    names |= {"slice.worst." + e.name.split(".", 1)[1] for e in chosen
              if e.name.startswith("quality.") and e.direction is not None}
    return sorted(names)


def suggest(name: str, candidates: Iterable[str] | None = None, *, n: int = 3) -> list[str]:
    """Close matches for a misspelt metric name ("did you mean"), best first.

    ``candidates`` default to every built-in name (:func:`known`); pass the metrics a run
    actually logged to suggest among those."""
    pool = sorted(set(known() if candidates is None else candidates))
    return difflib.get_close_matches(name, pool, n=n, cutoff=0.6)
