"""The modeling data: the charter's feature view, split into training and held-out rows.

The view is built in DuckDB (a source table, or the charter's SQL over the warehouse),
fetched through Arrow (the fast path), and split as the charter says: temporal on a
column with inclusive ranges, or random with a seed (stratified for classification).
Rows whose target is null are dropped and counted. Feature kinds come from the data:
numbers (booleans count as numbers) are numeric, text is categorical, dates and times are
left out (a model cannot use them raw: derive e.g. a month in the SQL view).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..config import FeatureView, ModelSpec, Split, Task
from ..errors import ConfigError, EvaluationError
from ..warehouse import _q as quote_ident

__all__ = ["ModelingData", "load_data", "view_sql", "feature_kinds"]


@dataclass(frozen=True)
class ModelingData:
    """Training and held-out rows with the feature columns and how they were split."""

    train: pd.DataFrame
    evaluate: pd.DataFrame
    target: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    split: dict[str, Any]
    excluded: dict[str, str] = field(default_factory=dict)  # column -> why it is not a feature
    dropped_null_target: int = 0

    @property
    def features(self) -> list[str]:
        return [*self.categorical, *self.numeric]

    @property
    def X_train(self) -> pd.DataFrame:  # noqa: N802 - the usual name
        return self.train[self.features]

    @property
    def X_eval(self) -> pd.DataFrame:  # noqa: N802
        return self.evaluate[self.features]

    @property
    def y_train(self) -> pd.Series:
        return self.train[self.target]

    @property
    def y_eval(self) -> pd.Series:
        return self.evaluate[self.target]

    def params(self) -> dict[str, Any]:
        """The split and the features as run parameters (the split is recorded on the run)."""
        out = {f"split.{k}": v for k, v in self.split.items()}
        out.update({
            "split.train_rows": len(self.train),
            "split.eval_rows": len(self.evaluate),
            "split.dropped_null_target": self.dropped_null_target,
            "features.numeric": ", ".join(self.numeric),
            "features.categorical": ", ".join(self.categorical),
            "features.excluded": ", ".join(f"{c} ({why})" for c, why in self.excluded.items()),
        })
        return out


def view_sql(features: FeatureView) -> str:
    """The SELECT that yields the modeling table."""
    if features.table is not None:
        return f"SELECT * FROM {quote_ident(features.table)}"
    return str(features.sql).strip().rstrip(";")


def feature_kinds(frame: pd.DataFrame, target: str, features: FeatureView,
                  split: Split | None = None) -> tuple[list[str], list[str], dict[str, str]]:
    """(numeric, categorical, excluded) feature columns of a modeling frame, in view order."""
    numeric: list[str] = []
    categorical: list[str] = []
    excluded: dict[str, str] = {c: "excluded in the charter" for c in features.exclude if c in frame.columns}
    forced = set(features.categorical)
    for col in frame.columns:
        if col == target or col in excluded:
            continue
        dtype = frame[col].dtype
        if col in forced:
            categorical.append(col)
        elif pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.DatetimeTZDtype):
            excluded[col] = "date/time: derive numbers from it in the feature view"
        elif pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            numeric.append(col)
        elif pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype) \
                or isinstance(dtype, pd.CategoricalDtype):
            categorical.append(col)
        else:
            excluded[col] = f"type {dtype} is neither a number nor text"
    return numeric, categorical, excluded


def _fetch(con: Any, sql: str, params: list | None = None, *, where: str) -> pd.DataFrame:
    try:
        return con.sql(sql, params=params or None).to_arrow_table().to_pandas()
    except Exception as exc:  # noqa: BLE001 - DuckDB's own errors carry the SQL problem
        raise ConfigError(f"the feature view does not run: {str(exc).splitlines()[0]}", where=where,
                          hint="fix `features:` in the charter (a source name, or a SELECT over warehouse tables); "
                          "try it with `duckdb data/warehouse.duckdb`") from exc


def _normalise(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for col in categorical:  # text with NA, so every model sees the same representation
        out[col] = out[col].astype("string")
    for col in numeric:
        if pd.api.types.is_bool_dtype(out[col].dtype):
            out[col] = out[col].astype("float64")
    return out


def load_data(con: Any, spec: ModelSpec, task: Task) -> ModelingData:
    """Build the feature view in DuckDB and split it as the charter declares."""
    if spec.features is None or spec.split is None:
        missing = [k for k in ("features", "split") if getattr(spec, k) is None]
        raise ConfigError(f"the charter has no {' and no '.join(f'`{m}:`' for m in missing)}",
                          where="pilot charter",
                          hint="declare the modeling table (`features: {table: SOURCE}`) and the split "
                          "(`split: {kind: random}`); `workbench new` writes both")
    base = view_sql(spec.features)
    target = quote_ident(task.target)
    where = "pilot charter: features"
    split = spec.split
    if split.kind == "temporal":
        col = quote_ident(str(split.column))
        query = f"SELECT * FROM ({base}) AS view WHERE {col} BETWEEN ? AND ?"
        train = _fetch(con, query, list(split.train or []), where=where)
        held = _fetch(con, query, list(split.evaluate or []), where=where)
        frame = None
    else:
        frame = _fetch(con, f"SELECT * FROM ({base}) AS view", where=where)
        train = held = None
    probe = frame if frame is not None else train
    if task.target not in probe.columns:
        raise ConfigError(f"the feature view has no target column '{task.target}'", where=where,
                          hint=f"its columns: {', '.join(map(str, probe.columns))}; fix `task.target` or the view")
    if split.kind == "temporal" and str(split.column) not in probe.columns:
        raise ConfigError(f"the split column '{split.column}' is not in the feature view", where="pilot charter: split.column",
                          hint=f"its columns: {', '.join(map(str, probe.columns))}")
    dropped = 0
    parts = [frame] if frame is not None else [train, held]
    kept = []
    for part in parts:
        mask = part[task.target].notna()
        dropped += int((~mask).sum())
        kept.append(part[mask].reset_index(drop=True))
    if frame is not None:
        frame = kept[0]
        train, held = _random_split(frame, task, split)
    else:
        train, held = kept
    for name, part in (("training", train), ("evaluation", held)):
        if len(part) == 0:
            raise EvaluationError(f"the {name} split is empty", where="pilot charter: split",
                                  hint="check the split's ranges against the data (`workbench profile` shows them)")
    numeric, categorical, excluded = feature_kinds(train, task.target, spec.features, split)
    if not numeric and not categorical:
        raise ConfigError("the feature view has no usable feature column", where=where,
                          hint="add columns to the view, or remove them from `features.exclude`")
    recorded = split.model_dump(mode="json", exclude_none=True)
    if split.kind == "temporal":
        for key in ("test_size", "seed", "stratify"):
            recorded.pop(key, None)
    if task.kind == "classification":
        _check_binary(train, held, task)
    return ModelingData(_normalise(train, numeric, categorical), _normalise(held, numeric, categorical),
                        task.target, tuple(numeric), tuple(categorical), recorded, excluded, dropped)


def _random_split(frame: pd.DataFrame, task: Task, split: Split) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    stratify = None
    if task.kind == "classification" and split.stratify:
        counts = frame[task.target].value_counts()
        if len(counts) > 1 and counts.min() >= 2:
            stratify = frame[task.target]
    train, held = train_test_split(frame, test_size=split.test_size, random_state=split.seed, stratify=stratify)
    return train.reset_index(drop=True), held.reset_index(drop=True)


def _check_binary(train: pd.DataFrame, held: pd.DataFrame, task: Task) -> None:
    values = pd.concat([train[task.target], held[task.target]]).unique()
    if len(values) > 2:
        shown = ", ".join(map(repr, list(values)[:6]))
        raise ConfigError(f"classification here is binary, but the target '{task.target}' has {len(values)} values ({shown})",
                          where="pilot charter: task",
                          hint="binarise it in the feature view (e.g. `(grade = 'A')::INTEGER AS target`), "
                          "or use `kind: regression`")
    positive = task.positive_label
    if not any(_same(v, positive) for v in values):
        raise ConfigError(f"task.positive_label {positive!r} never occurs in the target '{task.target}' "
                          f"(values: {', '.join(map(repr, values))})", where="pilot charter: task.positive_label",
                          hint="set it to the value that marks the positive class")


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) or (isinstance(a, (int, float, np.number)) and float(a) == float(b))
    except (TypeError, ValueError):
        return str(a) == str(b)
