"""Multiclass metrics against hand-computed values, the paired interval over classes, the
class order, today's rule per class, and the per-class sample-size gate."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from workbench.charter.config import Baseline, SampleSizeGate, Task
from workbench.decide.promotion import sample_size_gate
from workbench.errors import ConfigError
from workbench.measure import metrics as registry
from workbench.measure import stats
from workbench.measure.modeling import multiclass

LABELS = ("a", "b", "c")
# truth and answers: class a right once of two, b always right but answered once too often, c right once
Y = np.array([0, 0, 1, 1, 2, 2])
PRED = np.array([0, 1, 1, 1, 2, 0])
P_TRUE = np.array([0.5, 0.25, 0.8, 0.6, 0.9, 0.1])  # each row's probability of its true class


def _proba(y: np.ndarray, p_true: np.ndarray, k: int = 3) -> np.ndarray:
    out = np.tile(((1 - p_true) / (k - 1))[:, None], (1, k))
    out[np.arange(len(y)), y] = p_true
    return out


def test_quality_matches_hand_computed_values() -> None:
    q = multiclass.quality_of(Y, PRED, _proba(Y, P_TRUE), LABELS)
    # per class: a: tp 1 of 2 answered, 2 true -> P 1/2 R 1/2 F1 1/2; b: 2 of 3 answered, 2 true -> P 2/3 R 1
    # F1 4/5; c: 1 of 1 answered, 2 true -> P 1 R 1/2 F1 2/3
    assert q.per_class["a"]["precision"] == pytest.approx(0.5) and q.per_class["a"]["recall"] == pytest.approx(0.5)
    assert q.per_class["b"]["precision"] == pytest.approx(2 / 3) and q.per_class["b"]["recall"] == pytest.approx(1.0)
    assert q.per_class["c"]["precision"] == pytest.approx(1.0) and q.per_class["c"]["recall"] == pytest.approx(0.5)
    assert q.values["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert q.values["macro_precision"] == pytest.approx((0.5 + 2 / 3 + 1) / 3)
    assert q.values["macro_recall"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert q.values["accuracy"] == pytest.approx(4 / 6)
    assert q.values["log_loss"] == pytest.approx(-np.mean(np.log(P_TRUE)))
    assert q.confusion == ((1, 1, 0), (0, 2, 0), (1, 0, 1))  # rows: true class; columns: answered
    assert set(q.metrics()) == {f"quality.{m}" for m in multiclass.DEFAULT_METRICS}
    assert all(registry.info(m).applies_to("multiclass") for m in q.metrics())


def test_the_interval_is_paired_and_points_match_the_quality() -> None:
    rng = np.random.default_rng(3)
    n, k = 600, 5
    y = rng.integers(0, k, n)
    better = np.where(rng.random(n) < 0.7, y, rng.integers(0, k, n))
    worse = np.where(rng.random(n) < 0.3, y, rng.integers(0, k, n))
    labels = [str(i) for i in range(k)]
    d = stats.paired_multiclass_difference("quality.macro_f1", y, better, worse, classes=k)
    q_b, q_w = (multiclass.quality_of(y, p, None, labels).values["macro_f1"] for p in (better, worse))
    assert d.candidate == pytest.approx(q_b) and d.reference == pytest.approx(q_w)
    assert d.method == "bootstrap" and d.ci_low <= d.diff <= d.ci_high and d.ci_low > 0
    back = stats.paired_multiclass_difference("macro_f1", y, worse, better, classes=k)
    assert back.diff == pytest.approx(-d.diff)
    same = stats.paired_multiclass_difference("macro_f1", y, better, better, classes=k)
    assert same.diff == 0 and same.ci_low == 0 and same.ci_high == 0  # paired: no noise of its own
    # accuracy: the t interval on the per-row differences, by hand
    acc = stats.paired_multiclass_difference("accuracy", y, better, worse, classes=k)
    rows = (better == y).astype(float) - (worse == y).astype(float)
    from scipy.stats import t

    half = t.ppf(0.975, n - 1) * rows.std(ddof=1) / math.sqrt(n)
    assert acc.method == "normal" and acc.diff == pytest.approx(rows.mean())
    assert acc.ci_high - acc.ci_low == pytest.approx(2 * half)


def test_the_interval_shrinks_with_more_rows_and_log_loss_needs_probabilities() -> None:
    rng = np.random.default_rng(0)
    widths = []
    for n in (300, 3000):
        y = rng.integers(0, 4, n)
        a = np.where(rng.random(n) < 0.6, y, rng.integers(0, 4, n))
        b = np.where(rng.random(n) < 0.5, y, rng.integers(0, 4, n))
        d = stats.paired_multiclass_difference("macro_f1", y, a, b, classes=4)
        widths.append(d.ci_high - d.ci_low)
    assert widths[1] < widths[0] / 2  # about 1/sqrt(10) as wide
    with pytest.raises(Exception, match="probabilities"):
        stats.paired_multiclass_difference("log_loss", Y, PRED, PRED, classes=3)
    loss = stats.paired_multiclass_difference("log_loss", Y, PRED, PRED, classes=3,
                                              cand_proba=_proba(Y, P_TRUE), ref_proba=_proba(Y, np.full(6, 1 / 3)))
    assert loss.candidate == pytest.approx(-np.mean(np.log(P_TRUE))) and loss.reference == pytest.approx(math.log(3))


def test_classes_keep_the_declared_order_and_refuse_unknown_values() -> None:
    task = Task(kind="multiclass", target="grade", classes=["low", "mid", "high"])
    assert multiclass.class_labels(task, pd.Series(["high", "low", "mid", "low"])) == ("low", "mid", "high")
    with pytest.raises(ConfigError, match="outside task.classes"):
        multiclass.class_labels(task, pd.Series(["low", "top"]))
    plain = Task(kind="multiclass", target="n")
    assert multiclass.class_labels(plain, pd.Series([10, 2, 2.0, 1])) == ("1", "2", "10")  # numbers as numbers


def test_todays_rule_answers_the_majority_overall_and_per_group() -> None:
    task = Task(kind="multiclass", target="y")
    frame = pd.DataFrame({"g": ["x"] * 40 + ["z"] * 40 + ["w"] * 5})
    y = pd.Series(["a"] * 30 + ["b"] * 10 + ["c"] * 35 + ["b"] * 5 + ["b"] * 5)
    labels = multiclass.class_labels(task, y)
    prior = multiclass.fit_baseline(None, frame, y, task, labels)
    assert prior.score(frame.head(3)).tolist() == [labels.index("c")] * 3  # c: 35 of 85 rows
    assert prior.proba(frame.head(1))[0] == pytest.approx([30 / 85, 20 / 85, 35 / 85])
    groups = multiclass.fit_baseline(Baseline(kind="group_rate", groups=["g"], min_rows=30), frame, y, task, labels)
    got = groups.score(pd.DataFrame({"g": ["x", "z", "w", "new"]})).tolist()
    # w has 5 rows (< min_rows) and "new" none: both fall back to the overall majority
    assert got == [labels.index("a"), labels.index("c"), labels.index("c"), labels.index("c")]
    sql = multiclass.fit_baseline(Baseline(kind="sql", expression="CASE WHEN g = 'x' THEN 'a' ELSE NULL END"),
                                  frame, y, task, labels)
    answered = sql.score(pd.DataFrame({"g": ["x", "z"]}))
    assert answered.tolist() == [labels.index("a"), labels.index("c")] and answered.attrs["degraded"] == 1


def test_sample_size_gate_counts_every_class() -> None:
    gate = SampleSizeGate(kind="sample_size", min_rows=100, min_per_class=30)
    short = sample_size_gate(gate, {"heldout.rows": 400.0}, task_kind="multiclass",
                             class_counts={"a": 200, "b": 180, "c": 20})
    assert not short.passed and "20 'c' row(s)" in short.reason
    ok = sample_size_gate(gate, {"heldout.rows": 400.0}, task_kind="multiclass",
                          class_counts={"a": 200, "b": 170, "c": 30})
    assert ok.passed and "3 classes, the rarest with 30" in ok.reason
    missing = sample_size_gate(gate, {"heldout.rows": 400.0}, task_kind="multiclass")
    assert not missing.passed


def test_confusion_plot_grows_with_the_classes_and_keeps_long_labels_readable() -> None:
    import matplotlib.pyplot as plt

    short = multiclass.quality_of(Y, PRED, None, LABELS)
    names = [f"Manufacture of product family number {i} and related goods" for i in range(12)]
    rng = np.random.default_rng(1)
    y = rng.integers(0, 12, 300)
    long = multiclass.quality_of(y, y, None, names)
    held = plt.get_fignums()
    small, big = multiclass.plot_confusion(short), multiclass.plot_confusion(long)
    assert plt.get_fignums() == held  # not pyplot's: nothing kept, nothing shown twice in a notebook
    assert big.get_size_inches()[1] > small.get_size_inches()[1]
    ticks = [t.get_text() for t in big.axes[0].get_xticklabels()]
    assert all(len(t) <= 22 for t in ticks) and ticks[0].startswith("1: ")  # numbered, shortened
    legend = " ".join(t.get_text() for t in big.texts)
    assert names[11] in legend  # the full names beside the matrix


def test_leakage_checks_find_a_feature_that_carries_one_of_many_classes() -> None:
    from workbench.measure.leakage import check_frame

    rng = np.random.default_rng(0)
    n = 800
    y = rng.choice(["north", "south", "east", "west"], n)
    frame = pd.DataFrame({"region": y, "noise": rng.normal(size=n), "code": np.where(y == "east", 7.0, 0.0)
                          + rng.normal(scale=1e-3, size=n), "shop": rng.choice(list("abcdef"), n)})
    found = check_frame(frame, "region", task_kind="multiclass", numeric=["noise", "code"], categorical=["shop"])
    flagged = {f.feature for f in found}
    assert flagged == {"code"}  # it tells 'east' from the rest: a leak of one class is a leak
    assert len([f for f in found if f.feature == "code"]) == 1  # one finding a feature and check, not one a class


def test_a_class_with_one_training_row_that_an_estimator_cannot_take_is_named_with_the_way_out() -> None:
    # ratdat's surveys: 48 species, 7 seen once; HistGradientBoosting's early stopping (on 10,000
    # rows or more) holds out a stratified share and failed on "classes [7.0, 8.0, ...]"
    from workbench.charter.config import Candidate
    from workbench.errors import EvaluationError

    rng = np.random.default_rng(0)
    n = 10_500
    labels = ("common", "other", "seen once", "twice")
    y = np.array(["common"] * 6000 + ["other"] * 4497 + ["seen once"] + ["twice"] * 2)
    frame = pd.DataFrame({"x": rng.normal(0, 1, n) + (y == "other")})
    task = Task(kind="multiclass", target="y")
    spec = Candidate(name="hgb", estimator="sklearn.ensemble.HistGradientBoostingClassifier",
                     params={"max_iter": 5})
    with pytest.raises(EvaluationError) as caught:
        multiclass.build_candidate(spec, task, ["x"], [], labels=labels).fit(frame, y)
    err = caught.value
    assert err.where == "candidates: hgb" and "class(es) with a single training row: 'seen once'" in err.what
    assert "merge the rare classes" in err.hint and "early_stopping: false" in err.hint
    # the way out it names works: the same rows fit without early stopping
    spec = Candidate(name="hgb", estimator="sklearn.ensemble.HistGradientBoostingClassifier",
                     params={"max_iter": 5, "early_stopping": False})
    assert multiclass.build_candidate(spec, task, ["x"], [], labels=labels).fit(frame, y).labels == labels
