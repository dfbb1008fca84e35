"""A candidate that crashes on the canary rows, quoting their personal data (for tests/test_pii.py).

It stands for any user estimator whose error message carries a raw value. It recognises
a canary row by a feature value (`age == CANARY_AGE`: personal columns never reach a
model) and, when `CANARY_CRASH` is set, raises with the row's e-mail and name (from
`CANARY_VALUES`, a JSON list) in its message. Otherwise it is a constant-rate classifier.
"""

from __future__ import annotations

import json
import os

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

CANARY_AGE = 99


class CrashOnCanary(ClassifierMixin, BaseEstimator):
    def __init__(self, age_column: int = 1) -> None:
        self.age_column = age_column

    def __sklearn_tags__(self):  # takes NaN: the workbench passes numbers through unscaled
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def fit(self, X, y):  # noqa: N803
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        self.rate_ = float(np.mean(y == self.classes_[-1]))
        return self

    def predict_proba(self, X):  # noqa: N803
        X = np.asarray(X, dtype=float)  # noqa: N806
        hit = X[:, self.age_column] == CANARY_AGE
        if os.environ.get("CANARY_CRASH") and hit.any():
            email, name = json.loads(os.environ["CANARY_VALUES"])[:2]
            raise ValueError(f"cannot score the row of customer {name} <{email}>: its history is incomplete")
        p = np.full(len(X), self.rate_)
        return np.column_stack([1 - p, p])

    def predict(self, X):  # noqa: N803
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)
