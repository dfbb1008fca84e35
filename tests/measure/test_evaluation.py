"""Evaluation: metrics against sklearn on tiny known data, slices (a slice made worse on
purpose is flagged), every probe outcome on small wrappers made to behave that way, figures."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from workbench.charter.config import Task
from workbench.errors import EvaluationError, WorkbenchError
from workbench.measure.evaluation import (
    OUTCOMES,
    choose_threshold,
    evaluate,
    plot_calibration,
    plot_confusion,
    plot_predicted_vs_actual,
    plot_residuals,
    run_probes,
    slice_metric_name,
    slice_metrics,
)

CLS = Task(kind="classification", target="late")
REG = Task(kind="regression", target="arr_delay")

Y = np.array([0, 0, 1, 1, 0, 1, 0, 1, 1, 0])
S = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.6, 0.7, 0.45, 0.05])


# -- quality ------------------------------------------------------------------------------


def test_classification_metrics_match_sklearn():
    r = evaluate(Y, S, task=CLS, threshold=0.5)
    pred = (S >= 0.5).astype(int)
    expected = {
        "quality.accuracy": skm.accuracy_score(Y, pred),
        "quality.precision": skm.precision_score(Y, pred),
        "quality.recall": skm.recall_score(Y, pred),
        "quality.f1": skm.f1_score(Y, pred),
        "quality.roc_auc": skm.roc_auc_score(Y, S),
        "quality.average_precision": skm.average_precision_score(Y, S),
        "quality.brier": skm.brier_score_loss(Y, S),
        "quality.brier_skill": 1 - skm.brier_score_loss(Y, S) / (0.5 * 0.5),
        "quality.log_loss": skm.log_loss(Y, S),
        "quality.base_rate": 0.5,
        "quality.threshold": 0.5,
    }
    assert r.metrics() == pytest.approx(expected)
    assert r.metrics()["quality.accuracy"] == pytest.approx(0.7)  # hand-checked: 3 errors in 10
    assert r.confusion == ((4, 1), (2, 3))  # [[tn, fp], [fn, tp]]
    prob_true, prob_pred = calibration_curve(Y, S, n_bins=10)
    assert r.calibration.prob_true == pytest.approx(prob_true)
    assert r.calibration.prob_pred == pytest.approx(prob_pred)
    assert sum(r.calibration.counts) == 10 and len(r.calibration.counts) == len(prob_true)
    json.dumps(r.to_dict())


def test_threshold_and_string_labels():
    labels = np.where(Y == 1, "late", "on_time")
    r = evaluate(labels, S, task=Task(kind="classification", target="x", positive_label="late"), threshold=0.3)
    pred = (S >= 0.3).astype(int)
    assert r.values["recall"] == pytest.approx(skm.recall_score(Y, pred))
    assert r.values["precision"] == pytest.approx(skm.precision_score(Y, pred))
    assert r.values["roc_auc"] == pytest.approx(skm.roc_auc_score(Y, S))


def test_hard_predictions_omit_log_loss_and_calibration():
    r = evaluate(Y, (S >= 0.5).astype(int), task=CLS)
    assert "quality.log_loss" not in r.metrics() and r.calibration is None
    assert r.hard_predictions and "log_loss" in r.omitted
    assert r.values["brier"] == pytest.approx(1 - r.values["accuracy"])


def test_regression_metrics_match_sklearn():
    yt = np.array([3.0, -0.5, 2.0, 7.0, 4.2])
    yp = np.array([2.5, 0.0, 2.0, 8.0, 4.0])
    r = evaluate(yt, yp, task=REG)
    assert r.metrics() == pytest.approx({
        "quality.mae": skm.mean_absolute_error(yt, yp),
        "quality.rmse": np.sqrt(skm.mean_squared_error(yt, yp)),
        "quality.r2": skm.r2_score(yt, yp),
    })
    assert r.confusion is None and r.calibration is None


@pytest.mark.parametrize(
    "y_true, y_score, task, match",
    [
        (np.zeros(10), S, CLS, "roc_auc is undefined: y_true holds only the negative class"),
        (np.ones(10), S, Task(kind="classification", target="x", positive_label="late"), "only the negative class"),
        (Y, S[:5], CLS, "10 rows but the predictions have 5"),
        (Y, S * 2, CLS, r"in \[0, 1\]"),
        (Y, np.where(Y, np.nan, 0.3), CLS, "NaN"),
        (np.array([0, 1, 2, 1]), np.full(4, 0.5), CLS, "3 distinct labels"),
        (np.array([], dtype=int), np.array([]), CLS, "zero rows"),
        (np.full(4, 2.0), np.arange(4.0), REG, "r2 is undefined: the target is constant"),
        (np.array([1.0, None, 3.0], dtype=object), np.zeros(3), CLS, "missing values"),
    ],
)
def test_degenerate_data_raises_with_a_fix(y_true, y_score, task, match):
    with pytest.raises(EvaluationError, match=match) as info:
        evaluate(y_true, y_score, task=task)
    assert info.value.hint  # every one says what to do next


def test_imbalanced_average_precision_and_brier_skill_match_sklearn():
    rng = np.random.default_rng(7)
    y = (rng.uniform(size=500) < 0.08).astype(int)  # ~8 % positives
    s = np.clip(0.08 + 0.5 * y * rng.uniform(size=500) + rng.normal(0, 0.05, 500), 0, 1)
    r = evaluate(y, s, task=CLS, threshold=0.3)
    base = y.mean()
    assert r.values["average_precision"] == pytest.approx(skm.average_precision_score(y, s))
    assert r.values["average_precision"] != pytest.approx(r.values["roc_auc"])  # not the same number
    brier = skm.brier_score_loss(y, s)
    assert r.values["brier_skill"] == pytest.approx(1 - brier / (base * (1 - base)))
    assert 0 < r.values["brier_skill"] < 1  # better than predicting the base rate, not perfect
    assert r.metrics()["quality.threshold"] == 0.3 and r.threshold == 0.3
    # always predicting the base rate has zero skill
    prior = evaluate(y, np.full(500, base), task=CLS)
    assert prior.values["brier_skill"] == pytest.approx(0.0, abs=1e-12)


def test_one_class_slice_omits_average_precision_and_brier_skill_with_a_reason():
    df = pd.DataFrame({"y": np.r_[np.zeros(30, int), Y], "s": np.r_[np.full(30, 0.2), S],
                       "g": ["allneg"] * 30 + ["mixed"] * 10})
    table = slice_metrics(df, "y", "s", ["g"], task=CLS, min_rows=5)
    allneg = next(r for r in table.rows if r.key == "allneg")
    assert "average_precision" not in allneg.values and "brier_skill" not in allneg.values
    assert "base rate is 0" in allneg.omitted["brier_skill"]
    assert "only the negative class" in allneg.omitted["average_precision"]
    mixed = next(r for r in table.rows if r.key == "mixed")
    assert mixed.values["average_precision"] == pytest.approx(skm.average_precision_score(Y, S))
    with pytest.raises(EvaluationError, match="undefined"):  # the whole set: strict
        evaluate(np.ones(10, int), S, task=CLS)


def test_choose_threshold_minimises_expected_cost():
    # sorted by score: 0 0 0 1 0 1 1 1 -- the two candidate cut-offs are 0.4 and 0.6
    y = np.array([0, 0, 0, 1, 0, 1, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    # a missed positive costs 5x a false alarm: take 0.4 (1 FP, 0 FN: cost 1; 0.6 costs 5)
    assert choose_threshold(y, s, false_positive_cost=1, false_negative_cost=5) == pytest.approx(0.4)
    # a false alarm costs 5x a miss: take 0.6 (0 FP, 1 FN: cost 1; 0.4 costs 5)
    assert choose_threshold(y, s, false_positive_cost=5, false_negative_cost=1) == pytest.approx(0.6)
    # false alarms cost nothing: everything positive (0, the lowest of the tied zero-cost cut-offs)
    assert choose_threshold(y, s, false_positive_cost=0, false_negative_cost=1) == 0.0
    # the top score is a negative and false alarms are dear: predict nothing positive, with a
    # threshold just above every score (1 + eps), which evaluate accepts
    y2, s2 = np.array([1, 0, 0]), np.array([0.3, 0.9, 0.1])
    only_neg = choose_threshold(y2, s2, false_positive_cost=10, false_negative_cost=1)
    assert only_neg > 1.0 and only_neg == pytest.approx(1.0)
    r = evaluate(y2, s2, task=CLS, threshold=only_neg)
    assert r.confusion == ((2, 0), (1, 0))
    # brute force over a random problem agrees
    rng = np.random.default_rng(1)
    yy = rng.integers(0, 2, 200)
    ss = np.round(rng.uniform(size=200), 2)  # ties in the scores
    t = choose_threshold(yy, ss, false_positive_cost=1.0, false_negative_cost=3.0)

    def cost(th):
        pred = ss >= th
        return int(((pred == 1) & (yy == 0)).sum()) * 1.0 + int(((pred == 0) & (yy == 1)).sum()) * 3.0

    assert cost(t) == min(cost(c) for c in [0.0, *np.unique(ss), 1.0 + 1e-9])
    # labels other than 0/1
    labels = np.where(y == 1, "late", "on_time")
    assert choose_threshold(labels, s, positive_label="late", false_positive_cost=1,
                            false_negative_cost=5) == pytest.approx(0.4)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(y_true=Y, scores=S[:5]), "10 rows but the scores have 5"),
        (dict(y_true=Y, scores=S * 2), r"in \[0, 1\]"),
        (dict(y_true=Y, scores=S, false_positive_cost=-1), "false_positive_cost must be"),
        (dict(y_true=Y, scores=S, false_negative_cost=float("nan")), "false_negative_cost must be"),
        (dict(y_true=np.array([], int), scores=np.array([])), "zero rows"),
    ],
)
def test_choose_threshold_bad_input(kwargs, match):
    args = {"false_positive_cost": 1.0, "false_negative_cost": 1.0, **kwargs}
    with pytest.raises(EvaluationError, match=match):
        choose_threshold(args.pop("y_true"), args.pop("scores"), **args)


def test_no_predicted_positive_gives_conservative_precision():
    r = evaluate(Y, S * 0.4, task=CLS)
    assert r.values["precision"] == 0.0 and r.values["f1"] == 0.0
    assert any("no row is predicted positive" in n for n in r.notes)


# -- slices -------------------------------------------------------------------------------


def _flights(seed: int = 0, n_per: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for origin, noise in (("EWR", 0.0), ("JFK", 0.0), ("LGA", 1.0)):  # LGA: scores are pure noise
        y = rng.integers(0, 2, n_per)
        informative = np.clip(0.5 + (y - 0.5) * 0.6 + rng.normal(0, 0.15, n_per), 0, 1)
        score = noise * rng.uniform(0, 1, n_per) + (1 - noise) * informative
        frames.append(pd.DataFrame({"origin": origin, "late": y, "score": score}))
    df = pd.concat(frames, ignore_index=True)
    df["carrier"] = np.where(np.arange(len(df)) % 2 == 0, "UA", "B6")
    df.loc[:9, "carrier"] = "Tiny Air."  # 10 rows: reported, never flagged
    df.loc[10:14, "carrier"] = None
    return df


def test_worse_slice_is_flagged_good_ones_are_not():
    df = _flights()
    table = slice_metrics(df, "late", "score", ["origin", "carrier"], task=CLS, min_rows=50)
    rows = {(r.column, r.key): r for r in table.rows}
    assert rows[("origin", "LGA")].flagged
    assert not rows[("origin", "EWR")].flagged and not rows[("origin", "JFK")].flagged
    assert [(r.column, r.key) for r in table.flagged] == [("origin", "LGA")]
    # each slice's metric equals sklearn on that slice
    lga = df[df.origin == "LGA"]
    assert rows[("origin", "LGA")].values["roc_auc"] == pytest.approx(skm.roc_auc_score(lga.late, lga.score))
    assert rows[("origin", "LGA")].count == 200
    assert rows[("origin", "LGA")].base_rate == pytest.approx(lga.late.mean())
    assert table.overall == pytest.approx(skm.roc_auc_score(df.late, df.score))
    # small and null slices: reported, not eligible, named safely
    tiny = rows[("carrier", "Tiny_Air_")]
    assert tiny.count == 10 and not tiny.eligible and not tiny.flagged and "too few rows" in tiny.reason
    assert rows[("carrier", "null")].count == 5

    m = table.metrics()
    assert m["slice.origin.LGA.roc_auc"] == pytest.approx(rows[("origin", "LGA")].values["roc_auc"])
    assert m["slice.worst.roc_auc"] == m["slice.origin.LGA.roc_auc"]
    assert m["slice.flagged"] == 1.0 and m["slice.eligible"] == 5.0  # 3 origins + UA + B6
    assert m["slice.carrier.Tiny_Air_.count"] == 10.0
    assert "slice.origin.LGA.accuracy" not in m and "slice.origin.LGA.accuracy" in table.metrics(all_metrics=True)
    import re

    # every name is a valid MLflow key and a valid gate metric name (config._METRIC)
    assert all(re.fullmatch(r"[a-z_]+(\.[A-Za-z0-9_]+)+", k) for k in table.metrics(all_metrics=True))
    assert slice_metric_name("origin", "LGA", "roc_auc") == "slice.origin.LGA.roc_auc"
    assert slice_metric_name("hour", 5.0, "mae") == "slice.hour.5.mae"
    assert slice_metric_name("date", "2013-01-01", "mae") == "slice.date.2013_01_01.mae"

    frame = table.to_frame()
    assert list(frame.loc[frame.flagged, "value"]) == ["LGA"]
    json.dumps(table.to_dict())


def test_slice_rule_margin_and_one_class_slice():
    df = _flights()
    df.loc[df.origin == "JFK", "late"] = 0  # one class: roc_auc undefined there, omitted (not NaN)
    table = slice_metrics(df, "late", "score", ["origin"], task=CLS, min_rows=50, flag_margin=0.9, flag_ratio=None)
    rows = {r.key: r for r in table.rows}
    assert not rows["JFK"].eligible and "only the negative class" in rows["JFK"].reason
    assert "roc_auc" not in rows["JFK"].values and "slice.origin.JFK.roc_auc" not in table.metrics()
    assert not rows["LGA"].flagged  # a 0.9 absolute margin forgives it
    assert rows["LGA"].worse_by == pytest.approx(table.overall - rows["LGA"].values["roc_auc"])


def test_slices_of_a_categorical_with_nulls_on_a_shuffled_index():
    rng = np.random.default_rng(2)
    df = pd.DataFrame({
        "origin": pd.Categorical(rng.choice(["EWR", "JFK"], 300), categories=["EWR", "JFK", "unused"]),
        "hour": rng.choice([5.0, 17.0, np.nan], 300),
        "late": rng.integers(0, 2, 300),
        "score": rng.uniform(0, 1, 300),
    }, index=rng.permutation(np.arange(1000, 1300)))
    df.loc[df.index[:40], "origin"] = np.nan
    table = slice_metrics(df, "late", "score", ["origin", "hour"], task=CLS, min_rows=10)
    got = {(r.column, r.key): (r.count, r.base_rate) for r in table.rows}
    expected = {}
    for col in ("origin", "hour"):
        for value, part in df.groupby(df[col].astype(object).fillna("null"), observed=True):
            key = "null" if value == "null" else slice_metric_name(col, value, "x").split(".")[2]
            expected[(col, key)] = (len(part), pytest.approx(part.late.mean()))
    assert got == expected  # NaN is its own slice; the unused category is not a slice
    assert set(got) == {("origin", "EWR"), ("origin", "JFK"), ("origin", "null"),
                        ("hour", "5"), ("hour", "17"), ("hour", "null")}


def test_slice_regression_lower_is_better():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"g": np.repeat(["a", "b"], 100), "y": rng.normal(10, 3, 200)})
    df["pred"] = df.y + np.where(df.g == "b", rng.normal(0, 5, 200), rng.normal(0, 0.5, 200))
    table = slice_metrics(df, "y", "pred", ["g"], task=REG, min_rows=50)
    assert table.metric == "mae" and not table.higher_is_better
    assert [r.key for r in table.flagged] == ["b"]
    assert table.metrics()["slice.worst.mae"] == pytest.approx((df.pred - df.y).abs()[df.g == "b"].mean())



def test_a_run_logs_the_largest_slices_only_and_every_model_the_same_ones():
    from workbench.measure.evaluation import MAX_LOGGED_SLICES

    rng = np.random.default_rng(3)
    groups = np.repeat([f"g{i:02d}" for i in range(35)], np.arange(60, 60 + 35 * 10, 10))  # 35 slice values
    df = pd.DataFrame({"g": groups, "y": rng.normal(10, 3, len(groups))})
    a = slice_metrics(df.assign(p=df.y + rng.normal(0, 1, len(df))), "y", "p", ["g"], task=REG, min_rows=50)
    b = slice_metrics(df.assign(p=df.y + rng.normal(0, 2, len(df))), "y", "p", ["g"], task=REG, min_rows=50)
    logged_a, logged_b = a.metrics(gated_only=True), b.metrics(gated_only=True)
    per_slice = [k for k in logged_a if k.startswith("slice.g.")]
    assert len(per_slice) == 2 * MAX_LOGGED_SLICES  # count and mae of each
    assert logged_a.keys() == logged_b.keys()  # the same slices, so the gate compares like with like
    assert "slice.g.g34.mae" in logged_a and "slice.g.g00.mae" not in logged_a  # the largest
    assert logged_a["slice.eligible"] == 35 and len(a.to_dict()["rows"]) == 35  # all of them in the artifact

def test_slice_bad_arguments():
    df = _flights()
    with pytest.raises(EvaluationError, match="not in the frame: nope"):
        slice_metrics(df, "late", "score", ["nope"], task=CLS)
    with pytest.raises(EvaluationError, match="cannot flag slices on 'base_rate'"):
        slice_metrics(df, "late", "score", ["origin"], task=CLS, metric="base_rate")


# -- probes -------------------------------------------------------------------------------

ROWS = pd.DataFrame({
    "carrier": pd.Series(["UA", "B6", "AA", "UA"], dtype="str"),
    "dep_hour": np.array([5, 9, 17, 23], dtype="int64"),
    "distance": np.array([200.0, 1000.0, 500.0, 2500.0]),
})
KNOWN = {"UA", "B6", "AA"}


def _score(df: pd.DataFrame) -> np.ndarray:
    return np.clip(df["distance"].to_numpy(dtype=float) / 5000 + df["dep_hour"].to_numpy(dtype=float) / 100, 0, 1)


def naive(df):
    """No input handling: pandas/numpy errors escape (crashes), NaN flows to the output."""
    hours = df["dep_hour"].to_numpy()
    if hours.dtype == object:
        hours + 1  # TypeError: a crash deep in arithmetic
    code = {"UA": 0.1, "B6": 0.2, "AA": 0.3}
    bump = np.array([code[c] for c in df["carrier"]])  # KeyError on an unseen carrier
    return df["distance"].to_numpy(dtype=float) / 5000 + bump  # unbounded: 1e9 km -> a "score" of 2e5


def careful(df):
    """Validates and refuses with a WorkbenchError."""
    if len(df) == 0:
        raise WorkbenchError("no rows to score", hint="pass at least one row")
    if df.isna().any().any():
        raise WorkbenchError("missing feature values", where=", ".join(df.columns[df.isna().any()]))
    for col in ("dep_hour", "distance"):
        if not pd.api.types.is_numeric_dtype(df[col]):
            raise ValueError(f"{col} must be numeric")
        if (df[col] < 0).any() or (df[col] > 1e6).any():
            raise ValueError(f"{col} out of range")
    if not set(df["carrier"]) <= KNOWN:
        raise WorkbenchError("unknown carrier")
    return _score(df)


def with_fallback(df):
    """Falls back to a baseline rate on anything unusual and marks the output."""
    try:
        out = pd.Series(careful(df), index=df.index)
        out.attrs["degraded"] = False
    except (WorkbenchError, ValueError):
        out = pd.Series(np.full(len(df), 0.2), index=df.index)
        out.attrs["degraded"] = True
    return out


def test_probe_catalogue_and_outcomes_crashed_and_invalid():
    report = run_probes(naive, ROWS, categorical=["carrier"], numeric=["dep_hour", "distance"],
                        non_negative=["distance"], output_range=(0.0, 1.0))
    names = [r.name for r in report.results]
    assert names == [
        "null.carrier", "null.dep_hour", "null.distance", "null.all", "unseen_category.carrier",
        "out_of_range.dep_hour.high", "out_of_range.dep_hour.low", "out_of_range.distance.high",
        "out_of_range.distance.low", "negative.distance", "wrong_type.dep_hour", "wrong_type.distance", "empty",
    ]
    by = {r.name: r for r in report.results}
    assert by["unseen_category.carrier"].outcome == "crashed" and by["unseen_category.carrier"].error_type == "KeyError"
    assert "__unseen__" in by["unseen_category.carrier"].detail and "raised at" in by["unseen_category.carrier"].detail
    assert by["wrong_type.dep_hour"].outcome == "crashed" and by["wrong_type.dep_hour"].error_type == "TypeError"
    assert by["null.distance"].outcome == "invalid_output" and "NaN" in by["null.distance"].detail
    assert by["out_of_range.distance.high"].outcome == "invalid_output"  # score > 1 is outside [0, 1]
    assert by["empty"].outcome == "handled"
    m = report.metrics()
    assert set(m) == {f"probes.{o}" for o in OUTCOMES} | {"probes.total"}
    assert m["probes.total"] == 13 and sum(m[f"probes.{o}"] for o in OUTCOMES) == 13
    (whole,) = report.tables()  # few probes: every one, as they are
    assert whole.equals(report.to_frame())
    by_kind, not_handled = report.tables(limit=10)  # many (a wide table's): by kind, then those not handled
    assert by_kind.set_index("kind")["probes"].to_dict() == {
        "null": 3, "null_all": 1, "unseen_category": 1, "out_of_range": 4, "negative": 1, "wrong_type": 2, "empty": 1}
    assert by_kind.set_index("kind").loc["wrong_type", ["crashed", "refused"]].tolist() == [1, 1]
    assert list(not_handled["name"]) == [r.name for r in report.results if r.outcome != "handled"]
    assert "handled" not in set(not_handled["outcome"]) and len(not_handled) == 13 - report.count("handled")


def test_probe_outcomes_refused_and_refusal_rule_is_configurable():
    report = run_probes(careful, ROWS, categorical=["carrier"], numeric=["dep_hour", "distance"],
                        non_negative=["distance"])
    by = {r.name: r for r in report.results}
    assert by["null.all"].outcome == "refused" and "missing feature values" in by["null.all"].detail
    assert by["wrong_type.distance"].outcome == "refused" and by["wrong_type.distance"].error_type == "ValueError"
    assert by["negative.distance"].outcome == "refused"
    assert by["out_of_range.dep_hour.low"].outcome == "refused"
    assert report.metrics()["probes.crashed"] == 0

    strict = run_probes(careful, ROWS, categorical=["carrier"], numeric=["dep_hour", "distance"],
                        refusal=(WorkbenchError,))
    by = {r.name: r for r in strict.results}
    assert by["wrong_type.distance"].outcome == "crashed"  # a ValueError no longer counts as refusal
    assert by["null.all"].outcome == "refused"
    assert strict.refusal == ("WorkbenchError",)


def test_probe_outcome_degraded_by_marker_or_predicate():
    report = run_probes(with_fallback, ROWS, degraded_mode="degraded")  # kinds inferred from dtypes
    by = {r.name: r for r in report.results}
    assert by["unseen_category.carrier"].kind == "unseen_category"  # str dtype -> categorical
    assert by["out_of_range.dep_hour.high"].kind == "out_of_range"  # int dtype -> numeric
    assert {r.outcome for r in report.results} == {"degraded"}  # every probe fell back, marked
    assert report.metrics()["probes.degraded"] == report.metrics()["probes.total"] == 12

    unmarked = run_probes(with_fallback, ROWS)  # no degraded_mode: a fallback is indistinguishable
    assert {r.outcome for r in unmarked.results} == {"handled"}

    by_predicate = run_probes(with_fallback, ROWS, degraded_mode=lambda out: out.attrs["degraded"])
    assert by_predicate.metrics() == report.metrics()


def test_probe_handled_by_a_real_sklearn_model_and_schema():
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"dep_hour": rng.integers(5, 23, 300).astype(float), "distance": rng.uniform(100, 3000, 300)})
    y = (X.dep_hour > 15).astype(int)
    model = HistGradientBoostingClassifier(max_iter=10).fit(X, y)
    report = run_probes(lambda df: model.predict_proba(df)[:, 1], X.head(5),
                        schema={"dep_hour": "DOUBLE", "distance": "DOUBLE"})
    by = {r.name: r for r in report.results}
    assert by["null.all"].outcome == "handled"  # HGB routes missing values natively
    assert by["out_of_range.distance.high"].outcome == "handled"
    assert by["wrong_type.distance"].outcome == "refused"  # sklearn's input validation: a ValueError
    assert by["empty"].outcome == "refused"  # "Found array with 0 sample(s)"
    frame = report.to_frame()
    assert list(frame.columns) == ["name", "kind", "column", "outcome", "error_type", "detail"]
    assert len(frame) == report.metrics()["probes.total"]
    json.dumps(report.to_dict())


def test_probes_need_valid_rows_that_score():
    with pytest.raises(EvaluationError, match="does not score the valid rows"):
        run_probes(lambda df: np.full(len(df), 7.0), ROWS, output_range=(0.0, 1.0))  # outside [0, 1]
    with pytest.raises(EvaluationError, match="valid_rows is empty"):
        run_probes(careful, ROWS.iloc[0:0])
    with pytest.raises(EvaluationError, match="not in valid_rows: nope"):
        run_probes(careful, ROWS, numeric=["nope"])


def test_probes_assume_no_range_unless_given():
    """A regression model predicting minutes of delay (any real number) is not "invalid"."""
    def minutes(df):
        if df["dep_hour"].isna().any():
            return np.full(len(df), np.nan)
        return df["dep_hour"].to_numpy(dtype=float) * 7.5 - 40.0  # negative and > 1 values

    report = run_probes(minutes, ROWS, categorical=["carrier"], numeric=["dep_hour", "distance"])
    by = {r.name: r for r in report.results}
    assert by["out_of_range.dep_hour.high"].outcome == "handled"  # 7.5e9 minutes: no range was given
    assert by["unseen_category.carrier"].outcome == "handled"
    assert by["null.dep_hour"].outcome == "invalid_output"  # NaN is invalid whatever the range
    ranged = run_probes(minutes, ROWS.assign(dep_hour=0), categorical=["carrier"], numeric=["dep_hour"],
                        output_range=(-100.0, 100.0))
    assert {r.name: r for r in ranged.results}["out_of_range.dep_hour.high"].outcome == "invalid_output"


# -- figures ------------------------------------------------------------------------------


def test_figures():
    from matplotlib.figure import Figure

    r = evaluate(Y, S, task=CLS)
    cal = plot_calibration(r)
    assert isinstance(cal, Figure) and len(cal.axes[0].lines) == 2
    conf = plot_confusion(r)
    assert isinstance(conf, Figure)
    assert sorted(t.get_text().split("\n")[0] for t in conf.axes[0].texts) == ["1", "2", "3", "4"]
    with pytest.raises(EvaluationError, match="no calibration curve"):
        plot_calibration(evaluate(Y, (S > 0.5).astype(int), task=CLS))
    with pytest.raises(EvaluationError, match="no confusion matrix"):
        plot_confusion(evaluate(np.arange(4.0), np.arange(4.0), task=REG))


def test_regression_figures():
    from matplotlib.figure import Figure

    yt = np.array([3.0, -0.5, 2.0, 7.0, 4.2])
    yp = np.array([2.5, 0.0, 2.0, 8.0, 4.0])
    res = plot_residuals(yt, yp)
    assert isinstance(res, Figure) and len(res.axes) == 2
    points = res.axes[0].collections[0].get_offsets()
    assert np.asarray(points)[:, 1] == pytest.approx(yt - yp)  # residual = actual - predicted
    pva = plot_predicted_vs_actual(yt, yp)
    assert isinstance(pva, Figure)
    assert np.asarray(pva.axes[0].collections[0].get_offsets()) == pytest.approx(np.c_[yt, yp])
    assert "MAE 0.44" in pva.axes[0].get_title()
    big = plot_predicted_vs_actual(np.arange(1000.0), np.arange(1000.0) + 1, max_points=100)
    assert len(big.axes[0].collections[0].get_offsets()) == 100 and "100 of 1000" in big.axes[0].get_title()
    with pytest.raises(EvaluationError, match="5 rows but the predictions have 4"):
        plot_residuals(yt, yp[:4])
    with pytest.raises(EvaluationError, match="NaN"):
        plot_predicted_vs_actual(yt, np.r_[yp[:4], np.nan])


def test_slice_names_that_sanitise_alike_stay_distinct():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"c": np.repeat(["a b", "a_b", "a-b"], 20), "y": rng.integers(0, 2, 60), "s": rng.uniform(0, 1, 60)})
    table = slice_metrics(df, "y", "s", ["c"], task=CLS, min_rows=5)
    assert sorted(r.key for r in table.rows) == ["a_b", "a_b_2", "a_b_3"]
    assert sum(1 for k in table.metrics() if k.endswith(".count")) == 3


def test_confusion_labels_with_long_class_names_never_overlap():
    r = evaluate(Y, S, task=CLS)
    long = ("customer stayed with the plan for the whole year", "customer cancelled the subscription early")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = plot_confusion(r, class_names=long)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    ax = fig.axes[0]
    renderer = canvas.get_renderer()
    for labels in (ax.get_xticklabels(), ax.get_yticklabels()):
        a, b = (t.get_window_extent(renderer) for t in labels)
        assert not a.overlaps(b), [t.get_text() for t in labels]
    assert "rows" in ax.get_title() and fig.axes[1].get_ylabel() == "rows"  # titled with its unit


def test_a_rule_with_one_cut_is_its_operating_points_on_the_pr_chart_not_a_diagonal():
    from workbench.measure.evaluation import curves, plot_roc_pr, pr_is_a_point

    rule = curves(Y, (S > 0.5).astype(float), task=CLS)
    model = curves(Y, S, task=CLS)
    assert pr_is_a_point(rule["pr"]["recall"], rule["pr"]["precision"])
    assert not pr_is_a_point(model["pr"]["recall"], model["pr"]["precision"])
    fig = plot_roc_pr(model, reference=rule, labels=("model", "rule"))
    pr = fig.axes[1]
    drawn = {line.get_label(): line for line in pr.lines}
    rule_line = drawn["rule (operating points)"]
    assert rule_line.get_linestyle() == "None" and rule_line.get_marker() == "o"  # points, no line through (0, 1)
    assert (0.0, 1.0) not in set(zip(rule_line.get_xdata(), rule_line.get_ydata()))
    assert drawn["model"].get_drawstyle() == "steps-post"
    assert "(rates)" in pr.get_title() and "(rates)" in fig.axes[0].get_title()
