"""The demo pilot's domain code: late-arrival features, today's rule, and the candidate.

Task: will a flight arrive 15 or more minutes late? Features come from its schedule and
the weather at its origin at the scheduled hour, joined in DuckDB. The split is temporal
(train on earlier months, evaluate on later ones), so drift between seasons shows.

- :class:`RateTableBaseline` — what an operations desk does today: the historical late
  rate per carrier, origin and scheduled departure hour (computed in DuckDB on the
  training months), falling back to coarser groups and then the overall rate.
- :class:`LateArrivalModel` — a HistGradientBoosting candidate behind an input guard: it
  refuses malformed input with :class:`InputRefused` (a clean, deliberate error), and
  rows missing a schedule key degrade to the baseline's prediction (flagged in
  ``output.attrs['degraded']``), the degraded mode the charter declares.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .errors import EvaluationError

__all__ = [
    "FEATURES",
    "CATEGORICAL",
    "NUMERIC",
    "TARGET",
    "load_split",
    "RateTableBaseline",
    "LateArrivalModel",
    "InputRefused",
]

TARGET = "late_arrival"
CATEGORICAL = ["carrier", "origin", "dest"]
NUMERIC = [
    "month", "day_of_week", "dep_hour", "sched_dep_time", "sched_arr_time", "distance",
    "temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip", "pressure", "visib",
]
FEATURES = CATEGORICAL + NUMERIC
KEYS = ["carrier", "origin", "dep_hour"]

# One row per flight that arrived (cancelled and diverted flights have no arrival delay),
# with the weather at its origin in its scheduled hour. The weather table holds a few
# duplicate hours (daylight-saving changes): keep one so no flight is counted twice.
_FEATURE_SQL = """
WITH w AS (
    SELECT * FROM weather QUALIFY row_number() OVER (PARTITION BY origin, time_hour ORDER BY hour) = 1
)
SELECT f.carrier, f.origin, f.dest,
       f.month, isodow(make_date(f.year, f.month, f.day)) AS day_of_week, f.hour AS dep_hour,
       f.sched_dep_time, f.sched_arr_time, f.distance,
       w.temp, w.dewp, w.humid, w.wind_dir, w.wind_speed, w.wind_gust, w.precip, w.pressure, w.visib,
       (f.arr_delay >= ?)::INTEGER AS late_arrival
FROM flights f
LEFT JOIN w ON w.origin = f.origin AND w.time_hour = f.time_hour
WHERE f.arr_delay IS NOT NULL AND f.month BETWEEN ? AND ?
ORDER BY f.year, f.month, f.day, f.sched_dep_time, f.carrier, f.flight
"""


def load_split(con: Any, months: Sequence[int], *, late_minutes: float = 15.0, limit: int | None = None) -> pd.DataFrame:
    """Feature rows for a month range, built in DuckDB and fetched through Arrow."""
    lo, hi = min(months), max(months)
    if sorted(months) != list(range(lo, hi + 1)):
        raise EvaluationError(f"months must be a contiguous range, got {list(months)}",
                              hint="use e.g. train_months: [1, 9] style ranges")
    sql = _FEATURE_SQL + (f" LIMIT {int(limit)}" if limit else "")
    frame = con.sql(sql, params=[late_minutes, lo, hi]).to_arrow_table().to_pandas()
    for col in CATEGORICAL:
        frame[col] = frame[col].astype("string")
    return frame


class InputRefused(ValueError):
    """Malformed input refused on purpose, with a message saying what is wrong."""


@dataclass
class RateTableBaseline:
    """Historical late rate per (carrier, origin, hour), with coarser fallbacks."""

    rates: dict[tuple, float]
    by_carrier_origin: dict[tuple, float]
    overall: float
    min_flights: int = 30

    @classmethod
    def fit(cls, con: Any, months: Sequence[int], *, late_minutes: float = 15.0, min_flights: int = 30) -> RateTableBaseline:
        """Compute the rate table in DuckDB on the training months."""
        lo, hi = min(months), max(months)
        where = "arr_delay IS NOT NULL AND month BETWEEN ? AND ?"
        fine = con.execute(
            f"SELECT carrier, origin, hour, avg((arr_delay >= ?)::DOUBLE), count(*) FROM flights WHERE {where} "
            "GROUP BY ALL HAVING count(*) >= ?", [late_minutes, lo, hi, min_flights]).fetchall()
        coarse = con.execute(
            f"SELECT carrier, origin, avg((arr_delay >= ?)::DOUBLE) FROM flights WHERE {where} GROUP BY ALL",
            [late_minutes, lo, hi]).fetchall()
        overall = con.execute(f"SELECT avg((arr_delay >= ?)::DOUBLE) FROM flights WHERE {where}",
                              [late_minutes, lo, hi]).fetchall()[0][0]
        if overall is None:
            raise EvaluationError(f"no arrived flights in months {lo}-{hi} to compute the baseline from",
                                  where="warehouse table flights", hint="check the split months against the data")
        return cls({(c, o, int(h)): float(r) for c, o, h, r, _ in fine},
                   {(c, o): float(r) for c, o, r in coarse}, float(overall), min_flights)

    def _one(self, carrier: Any, origin: Any, hour: Any) -> float:
        try:
            key = (carrier, origin, int(hour))
        except (TypeError, ValueError):
            return self.by_carrier_origin.get((carrier, origin), self.overall)
        rate = self.rates.get(key)
        if rate is None:
            rate = self.by_carrier_origin.get((carrier, origin), self.overall)
        return rate

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if len(frame) == 0:
            raise InputRefused("no rows to score")
        missing = [c for c in KEYS if c not in frame.columns]
        if missing:
            raise InputRefused(f"missing column(s): {', '.join(missing)}")
        hours = pd.to_numeric(frame["dep_hour"], errors="coerce")
        return np.fromiter(
            (self._one(c, o, h) for c, o, h in zip(frame["carrier"], frame["origin"], hours, strict=True)),
            dtype=float, count=len(frame))


class LateArrivalModel:
    """HistGradientBoosting on schedule + weather, behind an input guard and a degraded mode.

    Features go to the trees as one float matrix (categories as integer codes declared
    categorical): numpy input is ~3x faster per call than a DataFrame, and single-flight
    latency is what the desk would feel."""

    def __init__(self, *, max_iter: int = 200, learning_rate: float = 0.1, max_leaf_nodes: int = 31,
                 random_state: int = 0, baseline: RateTableBaseline | None = None) -> None:
        from sklearn.ensemble import HistGradientBoostingClassifier

        self.estimator = HistGradientBoostingClassifier(
            max_iter=max_iter, learning_rate=learning_rate, max_leaf_nodes=max_leaf_nodes,
            categorical_features=list(range(len(CATEGORICAL))), random_state=random_state)
        self.baseline = baseline
        self.codes: dict[str, dict[str, int]] = {}

    def _matrix(self, frame: pd.DataFrame) -> np.ndarray:
        if not isinstance(frame, pd.DataFrame):
            raise InputRefused(f"expected a pandas DataFrame with columns {', '.join(FEATURES)}, got {type(frame).__name__}")
        if len(frame) == 0:
            raise InputRefused("no rows to score")
        missing = [c for c in FEATURES if c not in frame.columns]
        if missing:
            raise InputRefused(f"missing feature column(s): {', '.join(missing)}")
        out = np.empty((len(frame), len(FEATURES)), dtype=np.float64)
        nan = float("nan")
        for j, col in enumerate(CATEGORICAL):
            # unseen categories become missing: the trees route them like a missing value
            codes = self.codes.get(col, {})
            out[:, j] = [codes.get(v, nan) if isinstance(v, str) else nan for v in frame[col].tolist()]
        for j, col in enumerate(NUMERIC, start=len(CATEGORICAL)):
            values = frame[col]
            if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
                coerced = pd.to_numeric(values, errors="coerce")
                bad = values.notna() & coerced.isna()
                if bad.any():
                    raise InputRefused(f"column '{col}' must be numeric; got {values[bad].iloc[0]!r}")
                values = coerced
            out[:, j] = values.to_numpy(dtype=np.float64, na_value=nan)
        return out

    def fit(self, frame: pd.DataFrame, y: Any) -> LateArrivalModel:
        self.codes = {c: {v: i for i, v in enumerate(sorted(frame[c].dropna().astype(str).unique()))}
                      for c in CATEGORICAL}
        self.estimator.fit(self._matrix(frame), np.asarray(y))
        return self

    def predict_proba(self, frame: pd.DataFrame) -> pd.Series:
        """Probability of a late arrival; rows missing a schedule key use the baseline."""
        scores = pd.Series(self.estimator.predict_proba(self._matrix(frame))[:, 1], index=frame.index, name="score")
        degraded = frame[KEYS].isna().any(axis=1).to_numpy()
        if degraded.any():
            if self.baseline is None:
                raise InputRefused("rows lack carrier, origin or dep_hour and no baseline fallback is configured")
            scores[degraded] = self.baseline.predict_proba(frame.loc[degraded])
        scores.attrs["degraded"] = int(degraded.sum())
        return scores

    @staticmethod
    def is_degraded(output: Any) -> bool:
        return bool(getattr(output, "attrs", {}).get("degraded"))
