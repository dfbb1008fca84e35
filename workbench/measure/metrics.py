"""The one registry of every built-in metric name: its direction, unit and meaning, and
whether it is an MLflow metric at all.

Gates, widgets and reports read a metric's direction from here, never from a guess on
its prefix; :mod:`workbench.formatting` reads its unit to show it. A name that is not
here (a custom metric a notebook logs) has no known direction: a gate comparing it must
say ``higher_is_better`` itself.

What is an MLflow metric
------------------------
MLflow metrics are the few numbers people compare *across runs*: quality, latency, cost,
probes, gates, row counts and drifted-column counts. Each becomes a column of the MLflow
runs table and a chart, so a step run logs a bounded handful (the tests cap it at 60 on
the demo) whose number does not grow with the data's width or cardinality. Everything
per column, per rule or per value lives in the run's artifacts instead:

- per-column profile statistics: ``profile/<table>.json`` and the HTML profile report
  ``profile_report/<table>.html`` (:mod:`workbench.show.profile_report`);
- PSI per column: ``drift/<table>.json`` (and the profile report, in colour);
- per-rule contract results: ``contracts/<dataset>.json`` and ``contracts/summary.html``;
- per-slice quality: ``<model>/slices.json``, and the evaluation report
  ``evaluation/report.html`` (:mod:`workbench.show.evaluation_report`); only the slices the slices
  gate compares are logged as metrics (see ``slice.<column>.<value>.*`` below);
- curves, calibration bins, confusion counts, raw latencies: ``<model>/*.json``.

A registered name with ``logged=False`` describes the data or the setup rather than the
model and is (nearly) identical for every model of a pilot run (``quality.base_rate``,
``cost.human_per_1k_usd``, ``probes.total``, ``slice.eligible``): it is kept in the JSON
artifacts only, and no gate can read it.

Naming scheme
-------------
A metric name is ``<group>.<name>`` (lower-case group, then dot-separated parts made of
``[A-Za-z0-9_]``), the same rule the charter checks for gate metrics. ``<table>``,
``<dataset>`` and ``<column>`` parts are sanitised to MLflow's character set.

=======================================  ========================================================
``quality.<m>``                          model quality on the whole evaluation set
                                         (:mod:`workbench.measure.evaluation`); classification:
                                         accuracy, precision, recall, f1, roc_auc,
                                         average_precision, brier, brier_skill, log_loss,
                                         threshold; regression: mae, rmse, r2
``latency.*_ms``, ``throughput.*``,      speed, memory and cost of a prediction callable
``memory.*``, ``cost.*``,                (:mod:`workbench.measure.timing`)
``time_saved.*``
``probes.<outcome>``                     robustness probe counts (:func:`evaluation.run_probes`)
``slice.worst.<m>``                      ``quality.<m>`` of the worst eligible slice
``slice.flagged``                        eligible slices flagged as much worse than the whole
``slice.<column>.<value>.<m>``,          the slices gate's evidence, for *eligible* slices
``slice.<column>.<value>.count``         only (enough rows, metric defined): the gated
                                         ``quality.<m>`` on the slice and its row count
``ingest.<table>.rows`` / ``.seconds``   rows loaded, load time (ingest step)
``contracts.*``                          data-contract totals (contracts step)
``contract.<dataset>.<what>``            one contract's verdict and counts: passed, rules,
                                         rules_failed, errors, warnings, rows_quarantined
``profile.<table>.row_count`` /          table size (profile step)
``.column_count``
``drift.<table>.<what>``                 drift against the previous profiled run:
                                         flagged_count, max_psi, schema_changes (profile step)
``items.errors``, ``items.error_rate``   eval-set pilots: answers that raised, timed out or were
                                         malformed (each scored as wrong), and their share
``quality.macro_f1`` (and ``macro_``     text classification and tabular ``multiclass`` over any
``precision``, ``macro_recall``)         number of classes (:mod:`workbench.measure.items.scoring`)
``quality.<hit|recall|mrr|ndcg>_at_<k>`` retrieval at each of the charter's k values
``quality.field_exact``, ``token_f1``,   extraction: per-field exact match and token F1 (means
``quality.all_fields_exact``             over fields), items with every field right
``quality.exact_match``,                 generated answers (``answer``): exact and SQuAD-normalized
``normalized_exact_match``,              match, token F1, expected facts found, and groundedness by
``token_f1``, ``facts_recall``,          evidence (retrieved/cited passages include an expected
``all_facts``, ``groundedness``          source)
``leakage.findings``                     features the leakage checks flagged (evaluate step)
``shift.max_psi``,                       training rows against held-out rows: largest PSI of a
``shift.unseen_share_max``               feature, largest share of rows with an unseen category
``compare.<ref>.<m>.diff`` /            candidate minus ``<ref>`` (baseline, champion) on
``.ci_low`` / ``.ci_high``,              ``quality.<m>``, paired on the same held-out rows,
``compare.<ref>.rows``                   with its 95 % interval (:mod:`workbench.measure.stats`);
                                         every metric and slice: ``compare/<ref>.json``
``heldout.rows`` / ``.positives`` /      the held-out set the candidate was judged on
``.negatives``                           (the sample-size gate)
``baseline.<metric>``                    on the pilot run: the baseline's value of a metric
``decision.go``, ``gates.failed``         on the pilot and decision runs: 1 when the
                                         outcome lets the candidate be champion (go or
                                         already champion), 0 otherwise; failing gates
=======================================  ========================================================

The pilot (parent) run carries the deciding numbers under the same names as the step runs,
so the runs table lines them up: the chosen candidate's primary metric (e.g.
``quality.roc_auc``), ``baseline.<primary metric>``, ``latency.p95_ms``,
``cost.per_1k_usd``, ``decision.go`` and ``gates.failed``.

Direction is ``"higher"`` (more is better), ``"lower"`` (less is better) or ``None`` for a
number that describes the data or the setup rather than the model (``quality.threshold``,
a slice's ``count``, row counts): such a metric ranks nothing, and a gate comparing it must
state its direction itself.

Units: ``share`` (a proportion of rows, shown as a percentage), ``ratio`` (a score in
[0, 1]), ``score`` (unitless, unbounded), ``probability``, ``nats``, ``target`` (the
regression target's own unit), ``ms``, ``seconds``, ``items/s``, ``MB``, ``usd``,
``hours``, ``count``, ``flag`` (1 or 0).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Literal

from .. import formatting
from ..errors import ConfigError

__all__ = [
    "MetricInfo",
    "REGISTRY",
    "info",
    "direction",
    "higher_is_better",
    "known",
    "logged",
    "suggest",
    "format_metric",
    "metric_table",
]

# a binary target whose rarer class is under this share of the rows is judged on that class, by
# average precision: accuracy and ROC AUC count the many easy rows of the other (new, validate,
# and the leakage checks' single_feature all use it)
SKEWED = 0.2

Direction = Literal["higher", "lower"]
TaskKind = Literal["classification", "regression", "both", "text-classification", "extraction", "retrieval", "items",
                   "multiclass", "answer"]
_KINDS = ("classification", "regression", "multiclass", "text-classification", "extraction", "retrieval", "answer")
# eval-set task kinds: besides their own metrics, the ``items`` ones (errors, fit time) and
# a few classification metrics that mean the same over any number of classes
_ITEM_KINDS = ("text-classification", "extraction", "retrieval", "answer")
_SHARED = {"quality.accuracy": ("text-classification", "multiclass"),
           "quality.log_loss": ("text-classification", "multiclass"),
           "heldout.classes": ("multiclass",), "heldout.min_class_rows": ("multiclass",)}
# tabular multiclass (workbench.measure.modeling.multiclass) shares the macro averages of text classification
_SHARED.update({f"quality.macro_{m}": ("multiclass",) for m in ("f1", "precision", "recall")})
# generated answers (task kind answer) share token F1 with extraction (SQuAD's, over the whole answer)
_SHARED["quality.token_f1"] = ("answer",)


@dataclass(frozen=True)
class MetricInfo:
    """What one metric name means.

    ``direction``: ``"higher"``, ``"lower"`` or None (descriptive, ranks nothing).
    ``task``: the task kind it applies to: ``"classification"``, ``"regression"`` or ``"both"``.
    ``logged``: an MLflow metric (True), or kept in the run's JSON artifacts only (False).
    """

    name: str
    direction: Direction | None
    unit: str
    description: str
    task: TaskKind = "both"
    logged: bool = True

    @property
    def higher_is_better(self) -> bool | None:
        return None if self.direction is None else self.direction == "higher"

    def applies_to(self, task_kind: str) -> bool:
        if self.task in ("both", task_kind):
            return True
        if self.task == "items":
            return task_kind in _ITEM_KINDS
        return task_kind in _SHARED.get(self.name, ())


def _m(name: str, direction: Direction | None, unit: str, description: str, task: TaskKind = "both", *,
       logged: bool = True) -> MetricInfo:
    return MetricInfo(name, direction, unit, description, task, logged)


_C, _R = "classification", "regression"
_ENTRIES = (
    # quality: classification (thresholded metrics at quality.threshold)
    _m("quality.accuracy", "higher", "share", "share of rows classified correctly at the threshold", _C),
    _m("quality.precision", "higher", "share",
       "share of predicted positives that are positive (0 if none predicted)", _C),
    _m("quality.recall", "higher", "share", "share of positives predicted positive at the threshold", _C),
    _m("quality.f1", "higher", "ratio", "harmonic mean of precision and recall at the threshold", _C),
    _m("quality.roc_auc", "higher", "ratio", "area under the ROC curve: ranking of positives above negatives", _C),
    _m("quality.average_precision", "higher", "ratio",
       "area under the precision-recall curve (sklearn average_precision); informative when positives are rare", _C),
    _m("quality.brier", "lower", "ratio", "mean squared error of the scores as probabilities", _C),
    _m("quality.brier_skill", "higher", "score",
       "1 - brier / (base_rate * (1 - base_rate)): gain over always predicting the base rate (0 = none)", _C),
    _m("quality.log_loss", "lower", "nats", "cross-entropy of the scores as probabilities", _C),
    _m("quality.base_rate", None, "share", "share of positive rows in the evaluation set (describes the data)", _C,
       logged=False),
    _m("quality.threshold", None, "probability", "score threshold at which scores become positive predictions", _C),
    # quality: text classification over any number of classes (workbench.measure.items.scoring)
    _m("quality.macro_f1", "higher", "ratio", "mean over classes of each class's F1 (every class weighs the same)",
       "text-classification"),
    _m("quality.macro_precision", "higher", "ratio", "mean over classes of each class's precision",
       "text-classification"),
    _m("quality.macro_recall", "higher", "ratio", "mean over classes of each class's recall", "text-classification"),
    # quality: extraction (answers are JSON objects; workbench.measure.items.scoring)
    _m("quality.field_exact", "higher", "share",
       "mean over fields of the share of items whose field is exactly right (case and spacing ignored)", "extraction"),
    _m("quality.token_f1", "higher", "ratio", "mean over fields of the token F1 of the extracted value", "extraction"),
    _m("quality.all_fields_exact", "higher", "share", "share of items with every field exactly right", "extraction"),
    # quality: generated answers (document Q&A; workbench.measure.items.answers)
    _m("quality.exact_match", "higher", "share", "share of answers identical to the reference answer (outer "
       "whitespace ignored)", "answer"),
    _m("quality.normalized_exact_match", "higher", "share", "share of answers equal to the reference once lower-cased, "
       "punctuation, articles and extra whitespace removed (SQuAD)", "answer"),
    _m("quality.facts_recall", "higher", "ratio", "mean over items of the share of the expected facts the answer "
       "contains (normalized)", "answer"),
    _m("quality.all_facts", "higher", "share", "share of items whose answer contains every expected fact", "answer"),
    _m("quality.groundedness", "higher", "share", "share of items (with expected sources) whose retrieved or cited "
       "passages include an expected source: groundedness by evidence, no judge", "answer"),
    _m("quality.judge_score", "higher", "share", "share of judged items an LLM judge calls correct (eval_set.judge; "
       "a gate counts it only once its agreement with reviewer labels is measured)", "answer"),
    _m("judge.calls", None, "count", "calls made to the LLM judge in this run (cache misses)", "answer"),
    _m("judge.unparsed", "lower", "count", "answers whose judge verdict named neither correct nor wrong", "answer"),
    # eval-set pilots (workbench.measure.items.run)
    _m("items.errors", "lower", "count", "eval items whose answer raised, timed out or was malformed (scored wrong)",
       "items"),
    _m("items.error_rate", "lower", "share", "share of eval items answered with an error (scored wrong)", "items"),
    _m("items.fit_seconds", "lower", "seconds", "time to train the candidate, or to build its retrieval index",
       "items"),
    _m("items.fallback_share", "lower", "share",
       "share of eval items served by the degraded-mode fallback (a failed or timed-out call)", "items"),
    # LLM candidates (workbench.measure.items.llm): measured from the endpoint's answers
    _m("llm.calls", None, "count", "calls made to the endpoint in this run (cache misses)", "items"),
    _m("llm.cache_hits", None, "count", "items answered from the response cache", "items"),
    _m("llm.cache_hit_rate", None, "share", "share of items answered from the response cache", "items"),
    _m("llm.retries", "lower", "count", "calls retried after a rate limit, a server error or a timeout", "items"),
    _m("llm.failed_calls", "lower", "count", "calls that failed for good (after retries), injected failures included",
       "items"),
    _m("llm.fallbacks", "lower", "count", "items the degraded-mode fallback served", "items"),
    _m("llm.tokens_in", None, "tokens", "prompt tokens over the eval set (the endpoint's usage)", "items"),
    _m("llm.tokens_out", None, "tokens", "completion tokens over the eval set (the endpoint's usage)", "items"),
    _m("llm.tokens_in_per_item", "lower", "tokens", "mean prompt tokens per answered item", "items"),
    _m("llm.tokens_out_per_item", "lower", "tokens", "mean completion tokens per answered item", "items"),
    _m("llm.fit_tokens_in", None, "tokens", "tokens sent once to embed the training items or the corpus "
       "(an embeddings endpoint)", "items"),
    _m("llm.redactions", None, "count", "personal values and patterns withheld from the prompts before any call",
       "items"),
    _m("cost.tokens_per_1k_usd", "lower", "usd", "token cost per 1,000 items at the charter's prices", "items"),
    _m("cost.per_month_usd", "lower", "usd", "cost per 1,000 items times the production plan's items_per_month",
       "items"),
    # monitoring (workbench.decide.monitor): one run per production batch
    _m("monitor.rows", None, "count", "rows in the batch file"),
    _m("monitor.scored", None, "count", "rows of the batch's feature view that were scored"),
    _m("monitor.refused", "lower", "count", "rows the champion refused (served by today's rule)"),
    _m("monitor.degraded", "lower", "count", "rows the champion degraded on (served by today's rule)"),
    _m("monitor.fallback_share", "lower", "share", "share of scored rows served by today's rule"),
    _m("monitor.breaches", "lower", "count", "production-plan thresholds the batch broke"),
    _m("monitor.warnings", "lower", "count", "production-plan warnings (input drift) on the batch"),
    _m("drift.input_psi_max", "lower", "score", "largest PSI of an input column against the training split"),
    _m("drift.columns_flagged", "lower", "count", "input columns whose PSI is above the plan's threshold"),
    _m("drift.prediction_psi", "lower", "score", "PSI of the batch's scores against the held-out scores"),
    # quality: regression
    _m("quality.mae", "lower", "target", "mean absolute error", _R),
    _m("quality.rmse", "lower", "target", "root mean squared error", _R),
    _m("quality.r2", "higher", "score", "coefficient of determination (1 = perfect, 0 = predicting the mean)", _R),
    # timing (workbench.measure.timing.TimingResult.metrics)
    _m("latency.p50_ms", "lower", "ms", "median single-row call latency"),
    _m("latency.p95_ms", "lower", "ms", "95th percentile single-row call latency"),
    _m("latency.p99_ms", "lower", "ms", "99th percentile single-row call latency"),
    _m("latency.max_ms", "lower", "ms", "slowest single-row call"),
    _m("latency.mean_ms", "lower", "ms", "mean single-row call latency"),
    _m("latency.batch_p50_ms", "lower", "ms", "median latency of one full-size batch call"),
    _m("latency.batch_max_ms", "lower", "ms", "slowest full-size batch call"),
    _m("latency.batch_per_item_ms", "lower", "ms", "batch time amortised per row (1000 / throughput)"),
    _m("throughput.items_per_s", "higher", "items/s", "rows per second over all batch calls"),
    # timing in repeated blocks (workbench.measure.timing): the interval across blocks and its spread
    _m("latency.p95_ms_ci_low", "lower", "ms", "95 % interval of the single-row p95 across timing blocks: low end"),
    _m("latency.p95_ms_ci_high", "lower", "ms", "95 % interval of the single-row p95 across timing blocks: high end"),
    _m("latency.p95_ms_spread", None, "ms", "largest minus smallest single-row p95 of the timing blocks"),
    _m("throughput.items_per_s_ci_low", "higher", "items/s", "95 % interval of throughput across blocks: low end"),
    _m("throughput.items_per_s_ci_high", "higher", "items/s",
       "95 % interval of throughput across blocks: high end"),
    _m("timing.blocks", None, "count", "timing blocks measured (more when a result sat inside the noise)"),
    _m("timing.inside_noise", None, "flag",
       "1 when a latency or throughput budget lies inside the measured interval even after re-measuring"),
    # the held-out set a candidate was judged on (the sample-size gate reads them)
    _m("heldout.rows", None, "count", "held-out rows the models were scored and compared on"),
    _m("heldout.positives", None, "count", "positive held-out rows", _C),
    _m("heldout.negatives", None, "count", "negative held-out rows", _C),
    _m("heldout.groups", None, "count", "held-out groups of a group split's column (the units of every interval)"),
    _m("heldout.classes", None, "count", "classes among the expected answers (eval set or held-out rows)",
       "text-classification"),
    _m("heldout.min_class_rows", None, "count", "held-out rows (eval items) of the rarest expected class; every "
       "class's count is in compare/<ref>.json", "text-classification"),
    _m("memory.peak_mb", "lower", "MB", "tracemalloc peak of Python-visible allocations over a batch pass "
       "(its first 5 batches)"),
    _m("cost.per_1k_usd", "lower", "usd", "machine cost per 1,000 rows, batched (compute time + API calls)"),
    _m("cost.single_per_1k_usd", "lower", "usd", "machine cost per 1,000 rows, one row per call"),
    _m("cost.human_per_1k_usd", None, "usd", "what 1,000 rows cost done by hand (from the charter's cost model)",
       logged=False),
    _m("cost.saved_per_1k_usd", "higher", "usd", "human cost minus batched machine cost, per 1,000 rows"),
    _m("time_saved.per_1k_hours", "higher", "hours", "human hours minus machine hours, per 1,000 rows"),
    # robustness probes (workbench.measure.evaluation.ProbeReport.metrics)
    _m("probes.crashed", "lower", "count", "probes on which predict raised an unexpected exception"),
    _m("probes.invalid_output", "lower", "count",
       "probes answered with None, a wrong row count, NaN, or values outside output_range"),
    _m("probes.refused", None, "count", "probes the model refused with a deliberate error"),
    _m("probes.handled", None, "count", "probes answered with valid predictions"),
    _m("probes.degraded", None, "count", "probes answered by the wrapper's marked fallback"),
    _m("probes.total", None, "count", "number of probes run", logged=False),
    # slices (workbench.measure.evaluation.SliceTable.metrics); per-slice and worst-slice names are patterns
    _m("slice.flagged", "lower", "count", "eligible slices flagged as much worse than the whole set"),
    _m("slice.eligible", None, "count", "slices with enough rows and the flag metric defined (describes the data)",
       logged=False),
    # data contracts (the contracts step)
    _m("contracts.error_failures", "lower", "count", "error-level contract failures"),
    _m("contracts.warnings", "lower", "count", "warning-level contract failures"),
    _m("contracts.quarantined_rows", "lower", "count", "rows set aside by contract rules"),
    # leakage and shift (the evaluate step: workbench.measure.leakage, workbench.measure.shift)
    _m("leakage.findings", "lower", "count",
       "features the leakage checks flagged on the training rows (before the charter's acknowledgements)"),
    _m("shift.max_psi", "lower", "score", "largest PSI of a feature, held-out rows against the training rows"),
    _m("shift.unseen_share_max", "lower", "share",
       "largest share of held-out rows whose category of a feature never occurs in the training rows"),
    # the decision (pilot run and decision run)
    _m("decision.go", None, "flag",
       "1 when the outcome lets the candidate be champion (go, or already champion), 0 otherwise"),
    _m("gates.failed", "lower", "count", "gates the candidate failed"),
)

REGISTRY: Mapping[str, MetricInfo] = MappingProxyType({e.name: e for e in _ENTRIES})

_SLICE_COUNT = MetricInfo("slice.<column>.<value>.count", None, "count", "rows in the slice")
_SLICE_BASE_RATE = MetricInfo(
    "slice.<column>.<value>.base_rate", None, "target",
    "positive share (classification, a ratio) or mean target (regression) in the slice", logged=False,
)

# <group>.<table, dataset or gate>.<what>: per-table counts of the built-in steps
_PER_NAME: Mapping[str, Mapping[str, tuple[Direction | None, str, str]]] = {
    "ingest": {
        "rows": (None, "count", "rows loaded into the warehouse table"),
        "seconds": ("lower", "seconds", "time to load the table (0 when unchanged and not reloaded)"),
    },
    "profile": {
        "row_count": (None, "count", "rows in the table when profiled"),
        "column_count": (None, "count", "columns in the table when profiled"),
    },
    "drift": {
        "flagged_count": ("lower", "count",
                          "columns whose PSI against the previous profiled run is above the threshold"),
        "max_psi": ("lower", "score", "the largest PSI of any column against the previous profiled run"),
        "schema_changes": ("lower", "count", "columns added, removed or retyped since the previous profiled run"),
    },
    "contract": {
        "passed": (None, "flag", "1 when the dataset's contract holds (no error-level failure)"),
        "rules": (None, "count", "rules the contract checks"),
        "rules_failed": ("lower", "count", "rules that failed (errors and warnings)"),
        "errors": ("lower", "count", "error-level rules that failed"),
        "warnings": ("lower", "count", "warning-level rules that failed"),
        "rows_quarantined": ("lower", "count", "rows moved to the quarantine table"),
    },
    "gate": {
        "passed": ("higher", "flag", "1 when the gate passed, 0 when it failed"),
    },
}


_COMPARE_PARTS = {
    "diff": "candidate minus {ref}, on the same held-out rows",
    "ci_low": "low end of the 95 % interval of (candidate minus {ref})",
    "ci_high": "high end of the 95 % interval of (candidate minus {ref})",
}


def _compare(parts: list[str]) -> MetricInfo | None:
    """``compare.<reference>.<m>.diff|ci_low|ci_high`` (direction of ``quality.<m>``) and
    ``compare.<reference>.rows``."""
    if len(parts) == 3 and parts[2] == "rows":
        return MetricInfo(".".join(parts), None, "count", f"held-out rows compared with the {parts[1]}")
    if len(parts) != 4 or parts[3] not in _COMPARE_PARTS:
        return None
    q = _quality(parts[2])
    if q is None or q.direction is None:
        return None
    return replace(q, name=".".join(parts), unit="score" if q.unit == "share" else q.unit,
                   description=f"{parts[2]}: " + _COMPARE_PARTS[parts[3]].format(ref=parts[1]))


_AT_K = re.compile(r"^(hit|recall|mrr|ndcg)_at_([1-9][0-9]*)$")
_AT_K_TEXT = {
    "hit": "share of queries with a relevant document among the first {k}",
    "recall": "share of each query's relevant documents found among the first {k} (mean over queries)",
    "mrr": "mean reciprocal rank of the first relevant document within the first {k} (0 when none)",
    "ndcg": "normalised discounted cumulative gain of the first {k} (binary relevance)",
}


def _retrieval(short: str) -> MetricInfo | None:
    """``quality.<hit|recall|mrr|ndcg>_at_<k>``: retrieval quality at any cut-off k."""
    found = _AT_K.match(short)
    if found is None:
        return None
    what, k = found.groups()
    return MetricInfo(f"quality.{short}", "higher", "ratio", _AT_K_TEXT[what].format(k=k), "retrieval")


def _quality(short: str) -> MetricInfo | None:
    found = REGISTRY.get(f"quality.{short}") or _retrieval(short)
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
    if name.startswith("quality."):
        return _retrieval(name[len("quality."):])
    parts = name.split(".")
    if not all(parts):
        return None
    if len(parts) == 3 and parts[0] in _PER_NAME and parts[2] in _PER_NAME[parts[0]]:
        d, unit, text = _PER_NAME[parts[0]][parts[2]]
        return MetricInfo(name, d, unit, f"{text} ({parts[1]})")
    if parts[0] == "baseline" and len(parts) > 2:
        inner = info(".".join(parts[1:]))
        if inner is None or not inner.logged:
            return None
        return replace(inner, name=name, description=f"the baseline's value (on the pilot run): {inner.description}")
    if parts[0] == "compare":
        return _compare(parts)
    if parts[0] != "slice":
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


def logged(name: str) -> bool:
    """Whether ``name`` is an MLflow metric: True for a logged built-in name and for any
    name the registry does not know (a custom notebook's own metric); False for the
    descriptive built-ins kept in artifacts only (``quality.base_rate``, ...)."""
    found = info(name)
    return True if found is None else found.logged


def known(task_kind: str | None = None) -> list[str]:
    """Every concrete built-in metric name (sorted) that applies to ``task_kind``
    (``"classification"`` or ``"regression"``; None: all), including ``slice.worst.<m>``
    for each quality metric with a direction. Per-slice names depend on the data and are
    not listed (see :func:`info`)."""
    if task_kind is not None and task_kind not in _KINDS:
        raise ConfigError(f"unknown task kind {task_kind!r}", where="metrics.known(task_kind=...)",
                          hint=f"use one of {', '.join(map(repr, _KINDS))} or None (every metric)")
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


def format_metric(name: str, value: object) -> str:
    """A metric's value as a person reads it, from its unit in this registry; names the
    registry does not know get a unit guessed from their last part
    (:func:`workbench.formatting.by_name`)."""
    found = info(name)
    if found is not None:
        return formatting.by_unit(found.unit, value)
    return formatting.by_name(name, value)


def metric_table(frame: object) -> object:
    """A pandas Styler for a table whose index holds metric names (one column per model):
    every row formatted by its metric's unit (:func:`format_metric`)."""
    import pandas as pd

    style = frame.style  # type: ignore[attr-defined]
    for name in frame.index:  # type: ignore[attr-defined]
        style = style.format(lambda v, name=name: format_metric(str(name), v), subset=pd.IndexSlice[[name], :])
    return style
