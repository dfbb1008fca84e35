"""A candidate's held-out scores, kept as Parquet and put back next to the rows: the paired
comparison of a reused candidate is the one a fresh run computes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.charter.config import Task
from workbench.errors import EvaluationError
from workbench.measure.modeling import HeldOut, compare, score_rows
from workbench.measure.modeling.heldout import ScoredRows


def _scorer(frame: pd.DataFrame, col: str):
    return type("M", (), {"score": lambda self, X: frame.loc[X.index, col].to_numpy()})()


def _frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, rows)
    return pd.DataFrame({"a": np.clip(y * 0.3 + rng.random(rows) * 0.7, 0, 1), "b": rng.random(rows),
                         "region": rng.choice(["n", "s"], rows), "y": y})


def _score(held: HeldOut, frame: pd.DataFrame, col: str) -> ScoredRows:
    return score_rows(_scorer(frame, col), held, features=["a", "b"], target="y", keep=["region"],
                      truth=lambda v: np.asarray(v, dtype=int), binary=True)


def test_kept_scores_compare_as_the_fresh_ones(tmp_path: Path) -> None:
    frame = _frame(400, 1)
    task = Task(kind="classification", target="y", positive_label=1)
    held = HeldOut.from_frame(frame)
    cand, ref = _score(held, frame, "a"), _score(held, frame, "b")
    kept = cand.to_parquet(tmp_path / "a.parquet")
    # a later run: the same rows loaded again, today's rule scored again, the candidate from its file
    again = HeldOut.from_frame(frame)
    ref2 = _score(again, frame, "b")
    back = ScoredRows.from_parquet(kept, ref2)
    assert back.rows == 400 and np.array_equal(back.scores().to_numpy(), cand.scores().to_numpy())
    fresh = compare(cand, ref, task=task, candidate_name="c", reference_name="baseline", slice_columns=["region"],
                    min_slice_rows=10)
    reused = compare(back, ref2, task=task, candidate_name="c", reference_name="baseline", slice_columns=["region"],
                     min_slice_rows=10)
    assert reused.metrics() == fresh.metrics() and reused.to_dict() == fresh.to_dict()


def test_kept_scores_of_other_rows_are_refused(tmp_path: Path) -> None:
    small = _frame(300, 2)
    held = HeldOut.from_frame(small)
    kept = _score(held, small, "a").to_parquet(tmp_path / "a.parquet")
    other = _frame(350, 2)
    ref = _score(HeldOut.from_frame(other), other, "b")
    with pytest.raises(EvaluationError, match="300 row"):
        ScoredRows.from_parquet(kept, ref)
