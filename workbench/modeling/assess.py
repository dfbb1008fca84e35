"""Measure one model (today's rule or a candidate) on the held-out rows, the same way for all.

:func:`assess` gives quality at the decision threshold, slices, latency/throughput/cost
and robustness probes under the fixed metric names (see :mod:`workbench.metrics`), so
the gates compare like with like. :func:`fit_candidate` trains a candidate and, for
``task.threshold: min_cost``, picks its threshold on a validation part of the training
split (never on the held-out rows the gates judge).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .. import evaluation, timing
from ..config import Candidate, CostModel, Task
from ..errors import ConfigError
from .data import ModelingData
from .models import GuardedModel, InputRefused, build_candidate, is_degraded

__all__ = ["Assessment", "assess", "fit_candidate", "baseline_threshold"]


@dataclass(frozen=True)
class Assessment:
    """Everything measured for one model on the held-out rows."""

    name: str
    task: Task
    scores: pd.Series
    threshold: float | None
    quality: evaluation.QualityResult
    slices: evaluation.SliceTable | None
    timing: timing.TimingResult
    probes: evaluation.ProbeReport

    def metrics(self) -> dict[str, float]:
        out = {**self.quality.metrics(), **self.timing.metrics(), **self.probes.metrics()}
        if self.threshold is not None:
            out["quality.threshold"] = float(self.threshold)
        if self.slices is not None:
            out.update(self.slices.metrics())
        return out

    def figures(self, y_true: pd.Series) -> dict[str, Any]:
        """name -> matplotlib Figure: calibration and confusion, or residuals; latency."""
        figs: dict[str, Any] = {}
        if self.task.kind == "classification":
            if self.quality.calibration is not None:
                figs["calibration"] = evaluation.plot_calibration(self.quality)
            figs["confusion"] = evaluation.plot_confusion(self.quality)
        else:
            figs["residuals"] = evaluation.plot_residuals(y_true, self.scores)
            figs["predicted_vs_actual"] = evaluation.plot_predicted_vs_actual(y_true, self.scores)
        figs["latency"] = timing.plot_latency(self.timing)
        return figs

    def log(self, session: Any, y_true: pd.Series, *, prefix: str) -> dict[str, Any]:
        """Log metrics, JSON details, the slice table and the figures to the session's run."""
        session.log_metrics(self.metrics())
        session.log_dict(self.quality.to_dict(), f"{prefix}/quality.json")
        session.log_dict(self.timing.to_dict(), f"{prefix}/timing.json")
        session.log_dict(self.probes.to_dict(), f"{prefix}/probes.json")
        if self.slices is not None:
            session.log_dict(self.slices.to_dict(), f"{prefix}/slices.json")
            session.log_table(self.slices.to_frame(), f"{prefix}/slices.html")
        figs = self.figures(y_true)
        for name, fig in figs.items():
            session.log_figure(fig, f"figures/{name}.png")
        return figs


def _threshold_needed(task: Task, cost: CostModel) -> tuple[float, float]:
    if cost.false_positive_usd is None or cost.false_negative_usd is None:
        raise ConfigError("`task.threshold: min_cost` needs the cost of each kind of mistake",
                          where="pilot charter: cost",
                          hint="set cost.false_positive_usd and cost.false_negative_usd, or give task.threshold a number")
    return cost.false_positive_usd, cost.false_negative_usd


def baseline_threshold(rule: Any, data: ModelingData, task: Task, cost: CostModel) -> float | None:
    """Today's rule's threshold: the charter's number, or the cheapest on the training split."""
    if task.kind != "classification":
        return None
    if task.threshold != "min_cost":
        return float(task.threshold)
    fp, fn = _threshold_needed(task, cost)
    return evaluation.choose_threshold(data.y_train, rule.score(data.X_train), positive_label=task.positive_label,
                                       false_positive_cost=fp, false_negative_cost=fn)


def fit_candidate(spec: Candidate, data: ModelingData, task: Task, cost: CostModel, *,
                  fallback: Any = None, seed: int = 0) -> tuple[GuardedModel, float | None]:
    """Train a candidate on the training split; return it with its decision threshold."""
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


def assess(name: str, model: Any, data: ModelingData, *, task: Task, cost: CostModel, threshold: float | None,
           slice_columns: list[str] | tuple[str, ...] = (), min_slice_rows: int = 200, single_items: int = 300,
           batch_size: int = 2000, probe_rows: int = 20) -> Assessment:
    """Score the held-out rows and measure quality, slices, timing and robustness."""
    X, y = data.X_eval, data.y_eval  # noqa: N806
    scores = model.score(X)
    cut = 0.5 if threshold is None else threshold
    quality = evaluation.evaluate(y, scores, task=task, threshold=cut)
    slices = None
    usable = [c for c in slice_columns if c in data.evaluate.columns]
    unknown = [c for c in slice_columns if c not in data.evaluate.columns]
    if unknown:
        raise ConfigError(f"slice column(s) {', '.join(unknown)} are not in the feature view",
                          where="pilot charter: steps: parameters: slice_columns",
                          hint=f"choose from: {', '.join(map(str, data.evaluate.columns))}")
    if usable:
        frame = data.evaluate[[*usable, data.target]].assign(score=np.asarray(scores))
        slices = evaluation.slice_metrics(frame, data.target, "score", usable, task=task, threshold=cut,
                                          min_rows=min_slice_rows)
    timed = timing.time_predictions(model.score, X, batch_size=batch_size, single_items=single_items,
                                    cost=cost, threads=1)
    probes = evaluation.run_probes(model.score, X.head(probe_rows), categorical=list(data.categorical),
                                   numeric=list(data.numeric), degraded_mode=is_degraded,
                                   refusal=(InputRefused,),
                                   output_range=(0.0, 1.0) if task.kind == "classification" else None)
    return Assessment(name, task, pd.Series(np.asarray(scores), name="score"), threshold, quality, slices, timed,
                      probes)
