"""Paired intervals against brute force and hand computation on tiny data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm, t
from sklearn.metrics import average_precision_score, f1_score, r2_score, roc_auc_score

from workbench.errors import EvaluationError
from workbench.measure import stats


def _data(n: int = 120, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    a = np.clip(0.5 * y + rng.normal(0.25, 0.25, n), 0, 1).round(2)  # rounded: ties on purpose
    b = np.clip(0.3 * y + rng.normal(0.35, 0.3, n), 0, 1).round(2)
    return y, a, b


def _delong_brute(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """DeLong 1988 straight from its definition: psi over every (positive, negative) pair."""
    pos, neg = y == 1, y == 0
    out_v10, out_v01, aucs = [], [], []
    for s in (a, b):
        psi = (s[pos][:, None] > s[neg][None, :]) + 0.5 * (s[pos][:, None] == s[neg][None, :])
        aucs.append(psi.mean())
        out_v10.append(psi.mean(axis=1))
        out_v01.append(psi.mean(axis=0))
    m, n = pos.sum(), neg.sum()
    s10 = np.cov(np.vstack(out_v10))
    s01 = np.cov(np.vstack(out_v01))
    cov = s10 / m + s01 / n
    return aucs[0] - aucs[1], cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]


def test_delong_matches_pairwise_definition_and_sklearn():
    y, a, b = _data()
    got = stats.delong_auc_diff(y, a, b)
    diff, var = _delong_brute(y, a, b)
    assert got.candidate == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    assert got.reference == pytest.approx(roc_auc_score(y, b), abs=1e-12)
    assert got.diff == pytest.approx(diff, abs=1e-12)
    half = norm.ppf(0.975) * math.sqrt(var)
    assert (got.ci_low, got.ci_high) == pytest.approx((diff - half, diff + half), abs=1e-12)
    assert got.method == "delong" and got.n == len(y)


def test_identical_models_have_a_zero_width_interval():
    y, a, _ = _data()
    for metric in ("roc_auc", "accuracy", "brier", "average_precision", "f1"):
        d = stats.paired_difference(metric, y, a, a, threshold=0.5)
        assert (d.diff, d.ci_low, d.ci_high) == pytest.approx((0.0, 0.0, 0.0), abs=1e-12), metric


def test_mean_type_interval_is_a_t_interval_on_row_differences():
    y, a, b = _data(40)
    got = stats.paired_mean_diff("brier", y, a, b)
    d = (y - a) ** 2 - (y - b) ** 2
    half = t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    assert got.diff == pytest.approx(d.mean())
    assert (got.ci_low, got.ci_high) == pytest.approx((d.mean() - half, d.mean() + half))
    acc = stats.paired_mean_diff("accuracy", y, a, b, threshold=0.5, ref_threshold=0.4)
    assert acc.candidate == pytest.approx(np.mean((a >= 0.5) == (y == 1)))
    assert acc.reference == pytest.approx(np.mean((b >= 0.4) == (y == 1)))
    reg = stats.paired_mean_diff("mae", np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.5, 2.0]), np.array([0.0, 2.0, 3.0]))
    assert reg.diff == pytest.approx((0 + 0.5 + 1.0) / 3 - (1 + 0 + 0) / 3)


@pytest.mark.parametrize("metric, fn", [
    ("average_precision", lambda y, s, thr: average_precision_score(y, s)),
    ("f1", lambda y, s, thr: f1_score(y, s >= thr, zero_division=0)),
])
def test_bootstrap_weights_equal_repeating_rows(metric, fn):
    """Integer weights are rows repeated: the vectorised weighted statistic equals sklearn on
    the repeated rows (brute force), for several weightings at once."""
    y, a, _ = _data(30, seed=3)
    W = np.random.default_rng(7).poisson(1.0, size=(5, len(y))).astype(float)
    got = stats._weighted_stat(metric, y.astype(float), a, 0.5)(W)
    for k in range(len(W)):
        idx = np.repeat(np.arange(len(y)), W[k].astype(int))
        assert got[k] == pytest.approx(fn(y[idx], a[idx], 0.5), abs=1e-12)


def test_bootstrap_regression_point_values_and_seeded():
    rng = np.random.default_rng(0)
    y = rng.normal(size=80)
    a, b = y + rng.normal(0, 0.3, 80), y + rng.normal(0, 0.6, 80)
    r2 = stats.paired_bootstrap("r2", y, a, b, resamples=200, seed=4)
    assert r2.candidate == pytest.approx(r2_score(y, a)) and r2.reference == pytest.approx(r2_score(y, b))
    assert r2.ci_low < r2.diff < r2.ci_high and r2.ci_low > 0  # clearly better, and said so
    again = stats.paired_bootstrap("r2", y, a, b, resamples=200, seed=4)
    assert (again.ci_low, again.ci_high) == (r2.ci_low, r2.ci_high)
    rmse = stats.paired_bootstrap("rmse", y, a, b, resamples=200, seed=4, chunk_cells=100)  # many small chunks
    assert rmse.candidate == pytest.approx(np.sqrt(np.mean((y - a) ** 2)))
    assert rmse.ci_high < 0


def test_interval_covers_the_truth_most_of_the_time():
    """Two models of equal true AUC: the 95 % DeLong interval holds 0 in most of 60 draws."""
    hits = 0
    for seed in range(60):
        rng = np.random.default_rng(seed)
        y = rng.integers(0, 2, 300)
        a, b = y + rng.normal(0, 1, 300), y + rng.normal(0, 1, 300)
        d = stats.delong_auc_diff(y, a, b)
        hits += d.ci_low <= 0 <= d.ci_high
    assert hits >= 52


def test_unknown_metric_and_too_few_rows_are_refused():
    with pytest.raises(EvaluationError, match="no paired interval"):
        stats.paired_difference("threshold", [0, 1], [0.1, 0.2], [0.3, 0.4])
    with pytest.raises(EvaluationError, match="two rows of each class"):
        stats.delong_auc_diff(np.array([0, 1, 1]), np.array([0.1, 0.2, 0.3]), np.array([0.3, 0.2, 0.1]))
    assert stats.method_for("quality.roc_auc") == "delong" and stats.method_for("quality.threshold") is None


def test_sample_shortfall_says_how_many_more():
    assert stats.sample_shortfall(500, {"positive": 100, "negative": 400}) == []
    lines = stats.sample_shortfall(45, {"positive": 9, "negative": 36}, min_rows=200, min_per_class=30)
    assert lines[0] == "45 held-out row(s), at least 200 needed: 155 more"
    assert lines[1].startswith("9 positive row(s), at least 30 needed: 21 more (about 105 more rows")
    assert len(lines) == 2
    # one tweet of 5,190 held out from a source: waiting for 150,510 more rows is no advice
    (rare,) = stats.sample_shortfall(5190, {"'Chinstrap'": 30, "'TweetDeck'": 1})
    assert rare == ("1 'TweetDeck' row(s), at least 30 needed: 29 more (at its share of 0.019%, about 150,510 more "
                    "rows: merge it into a broader class, or drop its rows)")


def test_block_interval():
    m, lo, hi = stats.p95_blocks_interval([10.0, 12.0, 11.0, 13.0, 9.0])
    half = t.ppf(0.975, 4) * np.std([10, 12, 11, 13, 9], ddof=1) / math.sqrt(5)
    assert (m, lo, hi) == pytest.approx((11.0, 11 - half, 11 + half))


def test_thresholded_bootstrap_by_cells_matches_resampling_rows():
    """f1 resampled as multinomial cell counts: the same spread as resampling rows."""
    y, a, b = _data(400, seed=5)
    by_cells = stats.paired_bootstrap("f1", y, a, b, threshold=0.5, ref_threshold=0.45, resamples=2000, seed=1)
    W = np.random.default_rng(2).multinomial(len(y), np.full(len(y), 1 / len(y)), size=2000).astype(float)
    rows = stats._weighted_stat("f1", y.astype(float), a, 0.5)(W) - stats._weighted_stat("f1", y.astype(float), b, 0.45)(W)
    assert by_cells.diff == pytest.approx(f1_score(y, a >= 0.5) - f1_score(y, b >= 0.45))
    lo, hi = np.quantile(rows, [0.025, 0.975])
    assert by_cells.ci_low == pytest.approx(lo, abs=0.01) and by_cells.ci_high == pytest.approx(hi, abs=0.01)


def _patients(seed: int, patients: int = 60) -> tuple[np.ndarray, ...]:
    """Visits of patients whose outcome and traits are the patient's (6 to 13 visits each) and
    two models that score a patient's traits: no signal at all, the rows of a patient alike."""
    rng = np.random.default_rng(seed)
    visits = rng.integers(6, 14, patients)
    group = np.repeat(np.arange(patients), visits)
    y = (rng.random(patients) < 0.3).astype(int)[group]
    a = (rng.random(patients)[group] + rng.normal(0, 0.05, len(group))).clip(0, 1)
    b = (rng.random(patients)[group] + rng.normal(0, 0.05, len(group))).clip(0, 1)
    return y, a, b, group


@pytest.mark.parametrize("metric", ["roc_auc", "mae", "average_precision", "f1"])
def test_a_group_split_counts_each_group_once_and_keeps_its_promise(metric: str) -> None:
    """Two models with no signal, on visits of 60 patients: counted per row, the 95 % interval
    leaves out a difference of zero (the truth) in 50-58 % of the draws; with the patient as
    the unit, 5 % of the time (DeLong and the t interval cluster-robust, the bootstrap drawing
    patients)."""
    draws = 160 if metric in ("average_precision",) else 300
    missed = {"rows": 0, "groups": 0}
    for seed in range(draws):
        y, a, b, group = _patients(seed)
        for how, groups in (("rows", None), ("groups", group)):
            d = stats.paired_difference(metric, y, a, b, threshold=0.5, resamples=200, seed=seed, groups=groups,
                                        grouped_by="patient")
            missed[how] += not (d.ci_low <= 0 <= d.ci_high)
            if groups is not None:
                assert (d.n, d.items, d.grouped_by) == (60, len(y), "patient")
    assert missed["rows"] / draws > 0.2, missed
    assert missed["groups"] / draws < 0.1, missed


def test_groups_of_one_row_give_delongs_own_interval() -> None:
    y, a, b = _data(300, seed=4)
    plain = stats.delong_auc_diff(y, a, b)
    clustered = stats._clustered_delong(y, a, b, np.arange(len(y)), stats.CONFIDENCE)
    assert clustered.diff == pytest.approx(plain.diff)
    assert clustered.ci_high - clustered.ci_low == pytest.approx(plain.ci_high - plain.ci_low, rel=0.01)


def test_a_multiclass_comparison_counts_each_group_once() -> None:
    rng = np.random.default_rng(5)
    patients = 60
    visits = rng.integers(6, 14, patients)
    group = np.repeat(np.arange(patients), visits)
    y = rng.integers(0, 3, patients)[group]
    a, b = rng.integers(0, 3, patients)[group], rng.integers(0, 3, patients)[group]
    for metric in ("accuracy", "macro_f1"):
        rows = stats.paired_multiclass_difference(metric, y, a, b, classes=3)
        grouped = stats.paired_multiclass_difference(metric, y, a, b, classes=3, groups=group, grouped_by="patient")
        assert grouped.diff == pytest.approx(rows.diff)
        assert (grouped.n, grouped.items, grouped.grouped_by) == (60, len(y), "patient")
        assert (grouped.ci_high - grouped.ci_low) > 2 * (rows.ci_high - rows.ci_low)  # ~sqrt(9.5 rows a group)
