"""Modeling from the charter alone: the feature view and split, today's rule, candidates,
and the one way every model is measured. The generic notebooks are thin calls to this.

- :mod:`.data` — feature view (DuckDB) and split (training rows or a sample in pandas);
- :mod:`.heldout` — the held-out rows in a scratch DuckDB file, streamed to be scored;
- :mod:`.models` — baselines (SQL rule, group rate, prior) and guarded candidates;
- :mod:`.assess` — quality, slices, timing and probes for one model;
- :mod:`.compare` — a candidate against a reference on the same rows, with 95 % intervals.
"""

from .assess import Assessment, assess, baseline_threshold, fit_candidate, score
from .compare import Comparison, compare
from .data import ModelingData, feature_kinds, load_data, view_sql
from .heldout import HeldOut, ScoredRows, score_rows
from .models import (
    GroupRate,
    GuardedClassifier,
    GuardedModel,
    GuardedRegressor,
    InputRefused,
    Prior,
    SqlRule,
    binary_target,
    build_candidate,
    fit_baseline,
    is_degraded,
)

__all__ = [
    "Assessment",
    "assess",
    "baseline_threshold",
    "fit_candidate",
    "score",
    "Comparison",
    "compare",
    "ModelingData",
    "load_data",
    "view_sql",
    "feature_kinds",
    "HeldOut",
    "ScoredRows",
    "score_rows",
    "InputRefused",
    "SqlRule",
    "GroupRate",
    "Prior",
    "GuardedModel",
    "GuardedClassifier",
    "GuardedRegressor",
    "build_candidate",
    "fit_baseline",
    "binary_target",
    "is_degraded",
]
