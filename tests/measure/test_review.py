"""Agreement between a reviewer's labels and the metric, against hand-computed values."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.measure.review import agreement, cohen_kappa


def _labels(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["reviewer", "run_id", "item_id", "label"]).assign(candidate="m")


ITEMS = pd.DataFrame({"run_id": "r", "candidate": "m", "item_id": [f"i{k}" for k in range(8)],
                      "correct": [True, True, True, True, True, False, False, False]})


def test_agreement_share_kappa_and_the_two_kinds_of_disagreement() -> None:
    # reviewer: correct on i0..i3 (metric: correct) and on i5 (metric: wrong); wrong on i4 (metric:
    # correct), i6, i7 (metric: wrong); unsure on nothing
    labels = _labels([("ann", "r", f"i{k}", lab) for k, lab in
                      enumerate(["correct", "correct", "correct", "correct", "wrong", "correct", "wrong", "wrong"])])
    a = agreement(labels, ITEMS)["m"]
    assert (a.labelled, a.compared, a.agree, a.unsure) == (8, 8, 6, 0)
    assert a.share == pytest.approx(6 / 8)
    assert (a.metric_correct_reviewer_wrong, a.metric_wrong_reviewer_correct) == (1, 1)
    # by hand: p_o = 6/8; reviewer yes 5/8, metric yes 5/8; p_e = 25/64 + 9/64 = 34/64
    assert a.kappa == pytest.approx((6 / 8 - 34 / 64) / (1 - 34 / 64))


def test_unsure_labels_other_runs_and_unknown_items_are_counted_but_not_compared() -> None:
    labels = _labels([("ann", "r", "i0", "correct"), ("ann", "r", "i5", "unsure"), ("bob", "r", "i5", "wrong"),
                      ("ann", "other-run", "i6", "correct"), ("ann", "r", "gone", "wrong")])
    a = agreement(labels, ITEMS)["m"]
    assert (a.labelled, a.unsure, a.compared, a.agree, a.reviewers) == (5, 1, 2, 2, 2)
    assert a.share == 1.0


def test_kappa_is_none_when_chance_explains_everything_and_there_are_no_labels() -> None:
    assert cohen_kappa([(True, True), (True, True)]) is None
    assert cohen_kappa([]) is None
    assert cohen_kappa([(True, False), (False, True)]) == pytest.approx(-1.0)
    assert agreement(_labels([]), ITEMS) == {}
