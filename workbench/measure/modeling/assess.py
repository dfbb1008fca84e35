"""Measure one model (today's rule or a candidate) on the held-out rows, the same way for all.

:func:`assess` gives quality at the decision threshold, slices, latency/throughput/cost
and robustness probes under the fixed metric names (see :mod:`workbench.measure.metrics`), so
the gates compare like with like. :func:`fit_candidate` trains a candidate and, for
``task.threshold: min_cost``, picks its threshold on a validation part of the training
split (never on the held-out rows the gates judge).

Bounded memory at any size: every held-out row is scored, streamed from DuckDB in Arrow
record batches, and the scores are written back next to the rows
(:func:`~.heldout.score_rows`); quality, slices and the report's curves are aggregated
there (:mod:`workbench.measure.sql_metrics`, the definitions of :mod:`workbench.measure.evaluation`).
Timing uses the first ``timing_rows`` held-out rows, the probes the first few.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .. import evaluation, sql_metrics, timing
from .. import metrics as registry
from ...charter.config import Candidate, CostModel, Task
from ...errors import ConfigError
from .data import ModelingData
from .heldout import ScoredRows, score_rows
from . import multiclass
from .models import GuardedModel, InputRefused, build_candidate, is_degraded

__all__ = ["Assessment", "assess", "score", "fit_candidate", "baseline_threshold"]


@dataclass(frozen=True)
class Assessment:
    """Everything measured for one model on the held-out rows."""

    name: str
    task: Task
    scored: ScoredRows  # every held-out score, in DuckDB next to the rows
    threshold: float | None
    quality: evaluation.QualityResult
    slices: evaluation.SliceTable | None
    timing: timing.TimingResult
    probes: evaluation.ProbeReport
    curve_data: dict[str, Any]  # what the report draws (sql_metrics.curves)

    @property
    def scores(self) -> pd.Series:
        """Every held-out score, in the held-out order — in memory: for small tables;
        :meth:`score_head` gives the first few."""
        return self.scored.scores()

    def score_head(self, n: int = 5) -> np.ndarray:
        """The scores of the first ``n`` held-out rows (e.g. a logged model's output example)."""
        return self.scored.head(n)

    def metrics(self) -> dict[str, float]:
        """What the run logs to MLflow: quality, latency, cost, probe counts, the slice
        summary and the slices gate's evidence (eligible slices only). Descriptive numbers
        the registry keeps out of MLflow (``quality.base_rate``, ``probes.total``, ...) and
        per-slice details are in the JSON artifacts (see :mod:`workbench.measure.metrics`)."""
        out = {**self.quality.metrics(), **self.timing.metrics(), **self.probes.metrics()}
        if self.threshold is not None:
            out["quality.threshold"] = float(self.threshold)
        if self.slices is not None:
            out.update(self.slices.metrics(gated_only=True))
        return {k: v for k, v in out.items() if registry.logged(k)}

    def curves(self, y_true: Any = None) -> dict[str, Any]:
        """ROC and PR curves (classification) or residual summaries (regression), for the
        report; computed over every held-out row when assessed (``y_true``: ignored, kept
        for compatibility — the truth is stored with the scores)."""
        return self.curve_data

    def bundle(self, y_true: Any = None, *, run_id: str | None = None, curves: dict[str, Any] | None = None
               ) -> dict[str, Any]:
        """The evidence bundle the evaluation report draws (the JSON the step logs:
        :meth:`workbench.steps.session.Session.log_assessment`)."""
        return {"name": self.name, "run_id": run_id, "quality": self.quality.to_dict(), "timing": self.timing.to_dict(),
                "probes": self.probes.to_dict(), "slices": self.slices.to_dict() if self.slices is not None else None,
                "curves": curves if curves is not None else self.curves(y_true)}

    def figures(self, y_true: Any = None, *, curves: dict[str, Any] | None = None,
                reference: dict[str, Any] | None = None) -> dict[str, Any]:
        """name -> matplotlib Figure: ROC/PR curves, calibration and confusion, or residuals;
        latency. ``reference``: another model's bundle (e.g. the baseline's), drawn dashed
        on the ROC/PR curves."""
        figs: dict[str, Any] = {}
        if self.task.kind == "multiclass":  # no ROC or calibration over K classes: the confusion, readable
            figs["confusion"] = multiclass.plot_confusion(self.quality, title=f"{self.name}: confusion")
        elif self.task.kind == "classification":
            data = curves if curves is not None else self.curves(y_true)
            ref_curves = (reference or {}).get("curves")
            figs["roc_pr"] = evaluation.plot_roc_pr(
                data, reference=ref_curves if (ref_curves or {}).get("kind") == "classification" else None,
                labels=(self.name, (reference or {}).get("name", "reference")))
            if self.quality.calibration is not None:
                figs["calibration"] = evaluation.plot_calibration(self.quality)
            positive = self.task.positive_label  # a named class reads better than "positive"
            names = ("negative", "positive") if positive in (1, True) else (f"not {positive}", str(positive))
            figs["confusion"] = evaluation.plot_confusion(self.quality, class_names=names)
        else:
            # the same fixed-seed rows the plots would pick from the whole set, fetched from DuckDB
            truth, pred, total = sql_metrics.sample(self.scored.con, self.scored.table, 20_000)
            figs["residuals"] = evaluation.plot_residuals(truth, pred, total=total)
            figs["predicted_vs_actual"] = evaluation.plot_predicted_vs_actual(truth, pred, total=total)
        figs["latency"] = timing.plot_latency(self.timing)
        return figs


def _threshold_needed(task: Task, cost: CostModel) -> tuple[float, float]:
    if cost.false_positive_usd is None or cost.false_negative_usd is None:
        raise ConfigError("`task.threshold: min_cost` needs the cost of each kind of mistake",
                          where="pilot charter: cost",
                          hint="set cost.false_positive_usd and cost.false_negative_usd, or give task.threshold a number")
    return cost.false_positive_usd, cost.false_negative_usd


def baseline_threshold(rule: Any, data: ModelingData, task: Task, cost: CostModel) -> float | None:
    """Today's rule's threshold: the charter's number, or the cheapest on the training split."""
    if task.kind != "classification":  # regression, multiclass: the answer is the most probable class
        return None
    if task.threshold != "min_cost":
        return float(task.threshold)
    fp, fn = _threshold_needed(task, cost)
    return evaluation.choose_threshold(data.y_train, rule.score(data.X_train), positive_label=task.positive_label,
                                       false_positive_cost=fp, false_negative_cost=fn)


def fit_candidate(spec: Candidate, data: ModelingData, task: Task, cost: CostModel, *,
                  fallback: Any = None, seed: int = 0) -> tuple[GuardedModel, float | None]:
    """Train a candidate on the training split; return it with its decision threshold."""
    if task.kind == "multiclass":  # no threshold: the answer is the most probable class
        labels = getattr(fallback, "labels", None) or multiclass.class_labels(task, data.y_train)
        model = multiclass.build_candidate(spec, task, data.numeric, data.categorical, fallback, labels)
        return model.fit(data.X_train, data.y_train), None
    model = build_candidate(spec, task, data.numeric, data.categorical, fallback)
    if task.kind != "classification" or task.threshold != "min_cost":
        model.fit(data.X_train, data.y_train)
        return model, (float(task.threshold) if task.kind == "classification" else None)
    fp, fn = _threshold_needed(task, cost)
    from sklearn.model_selection import train_test_split

    y = data.y_train
    strat = y if y.value_counts().min() >= 2 else None
    fit_idx, val_idx = train_test_split(np.arange(len(y)), test_size=0.2, random_state=seed, stratify=strat)
    model.fit(data.X_train.iloc[fit_idx], y.iloc[fit_idx])
    threshold = evaluation.choose_threshold(y.iloc[val_idx], model.score(data.X_train.iloc[val_idx]),
                                            positive_label=task.positive_label,
                                            false_positive_cost=fp, false_negative_cost=fn)
    return model, threshold


def score(model: Any, data: ModelingData, *, task: Task, keep: list[str] | tuple[str, ...] = (),
          batch_rows: int = 100_000) -> ScoredRows:
    """Every held-out row scored by ``model``, next to the rows (truth and the ``keep``
    columns with them): what :func:`assess` measures and :func:`.compare.compare` pairs."""
    if task.kind == "multiclass":  # a probability per class next to each row
        labels = getattr(model, "labels", None) or multiclass.class_labels(task, data.y_train)
        return multiclass.score_classes(model, data.heldout, features=data.features, target=data.target,
                                        labels=labels, keep=[c for c in keep if c in data.heldout.columns],
                                        batch_rows=batch_rows)
    if task.kind == "classification":
        def truth(y: pd.Series) -> np.ndarray:
            return evaluation._binary_truth(np.asarray(y), task.positive_label)
    else:
        def truth(y: pd.Series) -> np.ndarray:
            return evaluation._numeric(np.asarray(y), "y_true")
    keep = [c for c in keep if c in data.heldout.columns]
    return score_rows(model, data.heldout, features=data.features, target=data.target, truth=truth,
                      binary=task.kind == "classification", keep=keep, batch_rows=batch_rows)


def assess(name: str, model: Any, data: ModelingData, *, task: Task, cost: CostModel, threshold: float | None,
           slice_columns: list[str] | tuple[str, ...] = (), min_slice_rows: int = 200, single_items: int = 300,
           batch_size: int = 2000, probe_rows: int = 20, timing_rows: int = 100_000,
           score_batch_rows: int = 100_000, budgets: dict[str, Any] | None = None,
           timing_blocks: int = 5) -> Assessment:
    """Score every held-out row and measure quality, slices, timing and robustness.

    The rows are streamed from DuckDB ``score_batch_rows`` at a time and their scores
    written back; quality, slices and curves are aggregated in DuckDB, so memory does not
    grow with the held-out set. Latency and throughput are timed on the first
    ``timing_rows`` held-out rows (``batch_size`` a batch) in ``timing_blocks`` repeated blocks
    (re-measured while a ``budgets`` entry lies inside the interval), the probes use ``probe_rows``."""
    personal = [c for c in slice_columns if c in data.personal]
    if personal:
        raise ConfigError(f"slice column(s) {', '.join(personal)} are personal data (pii: true in a contract): "
                          "slices would name their values",
                          where="pilot charter: steps: parameters: slice_columns",
                          hint="slice on a column that is not personal data")
    columns = data.heldout.columns
    usable = [c for c in slice_columns if c in columns]
    unknown = [c for c in slice_columns if c not in columns]
    if unknown:
        raise ConfigError(f"slice column(s) {', '.join(unknown)} are not in the feature view",
                          where="pilot charter: steps: parameters: slice_columns",
                          hint=f"choose from: {', '.join(map(str, columns))}")
    scored = score(model, data, task=task, keep=usable, batch_rows=score_batch_rows)
    if task.kind == "multiclass":
        return _assess_classes(name, model, data, scored, task=task, cost=cost, usable=usable,
                               min_slice_rows=min_slice_rows, single_items=single_items, batch_size=batch_size,
                               probe_rows=probe_rows, timing_rows=timing_rows, budgets=budgets,
                               timing_blocks=timing_blocks)
    cut = 0.5 if threshold is None else threshold
    con, table = scored.con, scored.table
    quality = sql_metrics.quality(con, table, task=task, threshold=cut)
    slices = None
    if usable:
        slices = sql_metrics.slice_metrics(con, table, usable, task=task, threshold=cut, min_rows=min_slice_rows,
                                           overall=quality)
    curves = sql_metrics.curves(con, table, task=task)
    head = data.eval_head(max(timing_rows, probe_rows, 1))[data.features]
    # repeated blocks, judged on their interval; a budget inside it is measured again
    timed = timing.time_in_blocks(model.score, head, blocks=timing_blocks, budgets=budgets, batch_size=batch_size,
                                  single_items=single_items, cost=cost, threads=1)
    from threadpoolctl import threadpool_limits  # sklearn's dependency; light

    with threadpool_limits(limits=1):  # a few rows a call: a thread pool only adds its start-up, per tree
        probes = evaluation.run_probes(model.score, head.head(probe_rows), categorical=list(data.categorical),
                                       numeric=list(data.numeric), degraded_mode=is_degraded,
                                       refusal=(InputRefused,),
                                       output_range=(0.0, 1.0) if task.kind == "classification" else None)
    return Assessment(name, task, scored, threshold, quality, slices, timed, probes, curves)


def _assess_classes(name: str, model: Any, data: ModelingData, scored: Any, *, task: Task, cost: CostModel,
                    usable: list[str], min_slice_rows: int, single_items: int, batch_size: int, probe_rows: int,
                    timing_rows: int, budgets: dict[str, Any] | None, timing_blocks: int) -> Assessment:
    """:func:`assess` over three or more classes: quality per class, slices on macro-F1, the
    same timing and probes (an answer is a class index in [0, classes))."""
    quality = multiclass.quality(scored)
    slices = multiclass.slices(scored, usable, task=task, overall=quality, min_rows=min_slice_rows) if usable \
        else None
    head = data.eval_head(max(timing_rows, probe_rows, 1))[data.features]
    timed = timing.time_in_blocks(model.score, head, blocks=timing_blocks, budgets=budgets, batch_size=batch_size,
                                  single_items=single_items, cost=cost, threads=1)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        probes = evaluation.run_probes(model.score, head.head(probe_rows), categorical=list(data.categorical),
                                       numeric=list(data.numeric), degraded_mode=is_degraded,
                                       refusal=(InputRefused,),
                                       output_range=(0.0, float(len(scored.labels) - 1)))
    curves = {"kind": "multiclass", "labels": list(scored.labels)}
    return Assessment(name, task, scored, None, quality, slices, timed, probes, curves)  # type: ignore[arg-type]
