"""A fitted one-hot preprocessing replayed as a plain float matrix, to score without the pipeline.

A candidate whose estimator does not take missing values (a logistic regression, an SVM, ...)
is fitted as scikit-learn's pipeline (:meth:`..models.GuardedModel._pipeline`): categories get a
``__missing__`` level for a null and are one-hot encoded (at most 50 levels, rarer ones grouped,
unseen ones grouped or ignored); numbers get median imputation, a missing-indicator and standard
scaling. Scoring one row through it costs milliseconds of pandas and joblib plumbing around a model
that answers in a tenth of one (a logistic regression on a 93-column row: 3.9 ms of the
ColumnTransformer, 0.08 ms of the model), and the latency the workbench measures and gates is that
of the row served. :class:`OneHotPlan` builds the same matrix from the fitted transformers: the
column each level lands in is found by passing every level through the fitted encoder itself;
imputation and scaling use their fitted statistics in the order scikit-learn applies them.

:func:`plan` checks it before it is used: on a sample of the training rows, and on rows of unseen
and missing values, its matrix must equal the pipeline's exactly; otherwise (another version of
scikit-learn that encodes differently, say) there is no plan and the pipeline scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["OneHotPlan", "plan"]

CHECK_ROWS = 2_000  # training rows the plan is checked on, besides the unseen and missing ones
_UNSEEN = "\x00workbench: a level never seen\x00"


@dataclass(frozen=True)
class _Levels:
    """One categorical column: the output column of each fitted level, and of the rest."""

    columns: dict[str, int]  # level -> absolute output column (-1: an all-zero row)
    other: int  # a level not fitted (grouped as infrequent, or -1: ignored)
    missing: str  # what a null becomes before encoding (the imputer's fill value)


@dataclass(frozen=True)
class OneHotPlan:
    levels: tuple[_Levels, ...]
    width_categories: int
    medians: np.ndarray  # per numeric column: what a null becomes
    indicators: np.ndarray  # the numeric columns that get a missing-indicator (those with nulls when fitted)
    mean: np.ndarray | None
    scale: np.ndarray | None

    def matrix(self, keys: Sequence[Sequence[Any]], numbers: np.ndarray) -> np.ndarray:
        """The encoded rows: ``keys`` per categorical column (a level as text, or None for a
        null), ``numbers`` the numeric columns as a float matrix (NaN for a null)."""
        rows = numbers.shape[0]
        out = np.zeros((rows, self.width_categories), dtype=np.float64)
        for column, values in zip(self.levels, keys, strict=True):
            lookup, other, missing = column.columns, column.other, column.missing
            where = np.fromiter((lookup.get(missing if v is None else v, other) for v in values), dtype=np.intp,
                                count=rows)
            hit = where >= 0
            out[np.flatnonzero(hit), where[hit]] = 1.0
        nulls = np.isnan(numbers)
        imputed = np.where(nulls, self.medians, numbers)
        block = np.hstack([imputed, nulls[:, self.indicators].astype(np.float64)]) if len(self.indicators) else imputed
        if self.mean is not None:
            block -= self.mean
        if self.scale is not None:
            block /= self.scale
        return np.hstack([out, block]) if out.shape[1] else block


def _steps(pipeline: Any, name: str) -> list[Any] | None:
    prepare = pipeline.named_steps["prepare"]
    fitted = getattr(prepare, "named_transformers_", {})
    inner = fitted.get(name)
    return None if inner is None else [step for _, step in inner.steps]


def _category_levels(steps: list[Any], columns: Sequence[str]) -> tuple[tuple[_Levels, ...], int] | None:
    imputer, encoder = steps
    if getattr(encoder, "drop", None) is not None or getattr(encoder, "sparse_output", True):
        return None
    categories = [list(c) for c in encoder.categories_]
    if len(categories) != len(columns):  # the imputer dropped a column (one of nothing but nulls)
        return None
    infrequent = getattr(encoder, "infrequent_categories_", None) or [None] * len(categories)
    widths = [len(c) - (len(rare) - 1 if rare is not None else 0) for c, rare in zip(categories, infrequent, strict=True)]
    if any(_UNSEEN in c for c in categories):
        return None
    # every fitted level of every column, then one unseen level, through the fitted encoder itself
    rows = max(len(c) for c in categories) + 1
    probe = pd.DataFrame({col: np.array(c + [_UNSEEN] + [c[0]] * (rows - len(c) - 1), dtype=object)
                          for col, c in zip(columns, categories, strict=True)})
    encoded = np.asarray(encoder.transform(imputer.transform(probe)), dtype=np.float64)
    if encoded.shape[1] != sum(widths):
        return None
    levels, start = [], 0
    for c, width in zip(categories, widths, strict=True):
        part = encoded[:, start:start + width]

        def column_of(i: int, part: np.ndarray = part, start: int = start) -> int:
            hot = np.flatnonzero(part[i])
            return start + int(hot[0]) if len(hot) == 1 else -1

        levels.append(_Levels({str(v): column_of(i) for i, v in enumerate(c)}, column_of(len(c)),
                              str(imputer.fill_value)))
        start += width
    return tuple(levels), start


def plan(pipeline: Any, categorical: Sequence[str], numeric: Sequence[str], frame: pd.DataFrame,
         keys: Any) -> OneHotPlan | None:
    """The plan of a fitted one-hot ``pipeline`` (see the module), or None when its matrix
    would differ from the pipeline's anywhere, or it cannot be read. ``frame`` holds training
    rows as the pipeline takes them; ``keys(frame)`` gives (category keys, numbers) as
    :meth:`OneHotPlan.matrix` takes them."""
    try:
        return _plan(pipeline, categorical, numeric, frame, keys)
    except Exception:  # noqa: BLE001 - no plan: the pipeline scores, as it always could
        return None


def _plan(pipeline: Any, categorical: Sequence[str], numeric: Sequence[str], frame: pd.DataFrame,
          keys: Any) -> OneHotPlan | None:
    levels: tuple[_Levels, ...] = ()
    width = 0
    if categorical:
        steps = _steps(pipeline, "categorical")
        found = _category_levels(steps, categorical) if steps and len(steps) == 2 else None
        if found is None:
            return None
        levels, width = found
    medians = indicators = np.zeros(0)
    mean = scale = None
    if numeric:
        steps = _steps(pipeline, "numeric")
        if not steps or len(steps) != 2:
            return None
        imputer, scaler = steps
        medians = np.asarray(imputer.statistics_, dtype=np.float64)
        indicator = getattr(imputer, "indicator_", None)
        indicators = np.asarray(indicator.features_ if indicator is not None else [], dtype=np.intp)
        if getattr(scaler, "with_mean", False):
            mean = np.asarray(scaler.mean_, dtype=np.float64)
        if getattr(scaler, "with_std", False):
            scale = np.asarray(scaler.scale_, dtype=np.float64)
    found_plan = OneHotPlan(levels, width, medians, np.asarray(indicators, dtype=np.intp), mean, scale)
    # checked where it matters: training rows, then a row of unseen levels and one of nulls
    sample = frame.head(CHECK_ROWS)
    odd = pd.DataFrame({**{c: np.array([_UNSEEN, np.nan], dtype=object) for c in categorical},
                        **{c: np.array([np.nan, np.nan]) for c in numeric}})
    check = pd.concat([sample, odd[sample.columns]], ignore_index=True)
    expected = np.asarray(pipeline[:-1].transform(check), dtype=np.float64)
    got = found_plan.matrix(*keys(check))
    return found_plan if got.shape == expected.shape and np.array_equal(got, expected, equal_nan=True) else None
