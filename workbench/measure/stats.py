"""Paired differences with 95 % intervals: is a candidate better than a reference on the
same held-out rows, by more than the noise of those rows?

Every comparison here is *paired*: both models scored the same rows, so the row-to-row
variation they share cancels and the interval is far narrower than two independent ones.
The method depends on the metric:

- ``roc_auc``: DeLong's variance of the difference of two correlated AUCs (DeLong, DeLong
  & Clarke-Pearson 1988), computed from mid-ranks as Sun & Xu (2014) do: O(n log n);
- mean-type metrics — ``accuracy``, ``brier``, ``log_loss``, ``mae`` — are means of a
  per-row loss: a normal interval on the per-row paired differences (t-quantile);
- everything else — ``average_precision``, ``f1``, ``precision``, ``recall``, ``r2``,
  ``rmse``, ``brier_skill`` — a seeded paired bootstrap: each resample is a row of counts
  (how often each row was drawn; the same counts for both models), so a statistic is a
  weighted sum — one matrix product for all resamples at once; ``resamples`` (default
  200) times, the percentile interval of the difference.

Eval items (:func:`paired_values`, :func:`paired_macro`) may come with ``groups``: items that
ask the same input are answered alike, so an input counts once (a cluster-robust t interval; a
bootstrap that draws inputs with their repeats).

Definitions match :mod:`workbench.measure.evaluation` (sklearn's): AUC counts ties half,
average precision is the step sum over distinct scores, log loss clips at float64's eps.

:func:`paired_difference` is the one entry point; :func:`sample_shortfall` says how many
more rows (and rows per class) a held-out set needs before any difference is judged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from statistics import NormalDist
from typing import Any

import numpy as np

from ..errors import EvaluationError

__all__ = [
    "PairedDiff",
    "paired_difference",
    "delong_auc_diff",
    "paired_mean_diff",
    "paired_bootstrap",
    "method_for",
    "METHODS",
    "MIN_ROWS",
    "MIN_PER_CLASS",
    "MIN_GROUPS",
    "sample_shortfall",
    "MULTICLASS_METHODS",
    "paired_multiclass_difference",
    "macro_scores",
    "p95_blocks_interval",
    "item_method_for",
    "paired_values",
    "paired_macro",
    "among_candidates",
    "confidence_among",
    "confidence_text",
]

CONFIDENCE = 0.95
# The interval carries the uncertainty of a difference; below these counts its approximations
# (DeLong's normal interval, the t interval, the bootstrap's percentiles) stop being trustworthy
# and one row moves a metric by a percent or more: no GO. The charter may raise (or lower) them
# with a `sample_size` gate.
MIN_ROWS = 100
MIN_PER_CLASS = 30
# after a group split its groups are the units: under this many held-out groups the cluster-robust
# variance runs small (it is estimated from the groups alone), and one group moves a metric by 3 %
MIN_GROUPS = 30
_EPS = float(np.finfo(np.float64).eps)

METHODS: Mapping[str, str] = {
    "roc_auc": "delong",
    "accuracy": "normal", "brier": "normal", "log_loss": "normal", "mae": "normal",
    "average_precision": "bootstrap", "f1": "bootstrap", "precision": "bootstrap", "recall": "bootstrap",
    "r2": "bootstrap", "rmse": "bootstrap", "brier_skill": "bootstrap",
}


@dataclass(frozen=True)
class PairedDiff:
    """``candidate - reference`` on one metric over the same rows, with its interval."""

    metric: str  # the short name: roc_auc, accuracy, ...
    candidate: float
    reference: float
    diff: float
    ci_low: float
    ci_high: float
    method: str  # delong | normal | bootstrap
    n: int  # the independent units judged: rows, or eval items with an input asked again counted once
    confidence: float = CONFIDENCE
    items: int | None = None  # eval items (or rows) behind the n distinct inputs (or groups), when some repeat
    # the column whose values are the independent units (a group split's: a patient's rows move together)
    grouped_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        """``+0.0123 [+0.0081, +0.0165]``: the difference and its interval."""
        return f"{self.diff:+.4g} [{self.ci_low:+.4g}, {self.ci_high:+.4g}]"


def _z(confidence: float) -> float:
    # the standard library's quantile (equal to scipy's to 1e-15): the decision, in the command's own
    # process, then imports no scipy.stats (0.8 s of every `workbench run` that judged several candidates)
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def method_for(metric: str) -> str | None:
    """``delong`` / ``normal`` / ``bootstrap`` for a quality metric (short or ``quality.``
    name); None when no interval is defined for it (``threshold``, ``base_rate``)."""
    short = metric.split(".", 1)[1] if metric.startswith("quality.") else metric
    return METHODS.get(short) or MULTICLASS_METHODS.get(short)


# -- DeLong ---------------------------------------------------------------------------------


def _midrank_placements(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per positive: the share of negatives it beats (ties half); per negative: the share of
    positives that beat it (ties half) — DeLong's structural components, by mid-ranks."""
    from scipy.stats import rankdata

    m, n = len(pos), len(neg)
    both = rankdata(np.concatenate([pos, neg]))
    v10 = (both[:m] - rankdata(pos)) / n
    v01 = 1.0 - (both[m:] - rankdata(neg)) / m
    return v10, v01


def delong_auc_diff(y: np.ndarray, cand: np.ndarray, ref: np.ndarray, *,
                    confidence: float = CONFIDENCE, codes: np.ndarray | None = None) -> PairedDiff:
    """AUC(cand) - AUC(ref) on the same rows, with DeLong's paired normal interval; ``codes``
    (a group 0..G-1 per row): its cluster-robust form (:func:`_clustered_delong`)."""
    if codes is not None:
        return _clustered_delong(y, cand, ref, codes, confidence)
    y = np.asarray(y).astype(bool)
    pos_n, neg_n = int(y.sum()), int((~y).sum())
    if pos_n < 2 or neg_n < 2:
        raise EvaluationError(f"DeLong's interval needs two rows of each class; got {pos_n} positive, "
                              f"{neg_n} negative", where="paired comparison", hint="evaluate on more rows")
    comps = []
    for s in (np.asarray(cand, float), np.asarray(ref, float)):
        comps.append(_midrank_placements(s[y], s[~y]))
    aucs = np.array([c[0].mean() for c in comps])
    s10 = np.cov(np.vstack([comps[0][0], comps[1][0]]))
    s01 = np.cov(np.vstack([comps[0][1], comps[1][1]]))
    cov = s10 / pos_n + s01 / neg_n
    var = max(float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]), 0.0)
    diff = float(aucs[0] - aucs[1])
    half = _z(confidence) * math.sqrt(var)
    return PairedDiff("roc_auc", float(aucs[0]), float(aucs[1]), diff, diff - half, diff + half, "delong",
                      len(y), confidence)


def _clustered_delong(y: np.ndarray, cand: np.ndarray, ref: np.ndarray, codes: np.ndarray,
                      confidence: float) -> PairedDiff:
    """DeLong's paired interval with rows in groups (Obuchowski 1997): each group's placements
    are summed before their variance is taken, so a group's rows count as one piece of
    evidence (G/(G-1) times the sum over groups, as :func:`_clustered_rows`). One row a group:
    DeLong's own variance (up to that factor)."""
    y = np.asarray(y).astype(bool)
    pos_n, neg_n = int(y.sum()), int((~y).sum())
    g = int(codes.max()) + 1
    if pos_n < 2 or neg_n < 2 or g < 2:
        raise EvaluationError(f"DeLong's interval needs two rows of each class in two groups or more; got {pos_n} "
                              f"positive, {neg_n} negative in {g} group(s)", where="paired comparison",
                              hint="evaluate on more rows")
    aucs, pos_dev, neg_dev = [], np.zeros(g), np.zeros(g)
    for sign, s in ((1.0, np.asarray(cand, float)), (-1.0, np.asarray(ref, float))):
        v10, v01 = _midrank_placements(s[y], s[~y])
        auc = float(v10.mean())
        aucs.append(auc)
        pos_dev += sign * np.bincount(codes[y], weights=v10 - auc, minlength=g)
        neg_dev += sign * np.bincount(codes[~y], weights=v01 - auc, minlength=g)
    var = g / (g - 1) * (float(pos_dev @ pos_dev) / pos_n ** 2 + float(neg_dev @ neg_dev) / neg_n ** 2
                         + 2 * float(pos_dev @ neg_dev) / (pos_n * neg_n))
    diff = aucs[0] - aucs[1]
    half = _z(confidence) * math.sqrt(max(var, 0.0))
    return PairedDiff("roc_auc", aucs[0], aucs[1], diff, diff - half, diff + half, "delong", g, confidence,
                      items=len(y))


# -- mean-type metrics ------------------------------------------------------------------------


def _row_values(metric: str, y: np.ndarray, s: np.ndarray, threshold: float | None) -> np.ndarray:
    """The per-row quantity whose mean is the metric."""
    if metric == "accuracy":
        return ((s >= (0.5 if threshold is None else threshold)) == (y == 1)).astype(float)
    if metric == "brier":
        return (y - s) ** 2
    if metric == "log_loss":
        p = np.clip(s, _EPS, 1 - _EPS)
        q = np.clip(1 - s, _EPS, 1 - _EPS)
        return np.where(y == 1, -np.log(p), -np.log(q))
    if metric == "mae":
        return np.abs(y - s)
    raise EvaluationError(f"{metric} is not a mean of a per-row loss", where="stats.paired_mean_diff",
                          hint=f"use one of: {', '.join(k for k, v in METHODS.items() if v == 'normal')}")


def paired_mean_diff(metric: str, y: np.ndarray, cand: np.ndarray, ref: np.ndarray, *,
                     threshold: float | None = None, ref_threshold: float | None = None,
                     confidence: float = CONFIDENCE, codes: np.ndarray | None = None) -> PairedDiff:
    """mean(cand's per-row value) - mean(ref's) with a t interval on the per-row differences;
    ``codes`` (a group 0..G-1 per row): on the groups (:func:`_clustered_rows`)."""
    y = np.asarray(y, float)
    a = _row_values(metric, y, np.asarray(cand, float), threshold)
    b = _row_values(metric, y, np.asarray(ref, float), ref_threshold if ref_threshold is not None else threshold)
    if codes is None:
        return _paired_rows(metric, a, b, confidence)
    return _clustered_rows(metric, a, b, codes, confidence)


def _paired_rows(metric: str, a: np.ndarray, b: np.ndarray, confidence: float, unit: str = "rows") -> PairedDiff:
    """mean(a) - mean(b) of per-row (or per-item) values, with a t interval on the differences."""
    from scipy.stats import t

    d = a - b
    n = len(d)
    if n < 2:
        raise EvaluationError(f"a paired interval needs at least two {unit}", where="paired comparison",
                              hint=f"evaluate on more {unit}")
    se = float(d.std(ddof=1)) / math.sqrt(n)
    half = float(t.ppf(0.5 + confidence / 2, n - 1)) * se
    diff = float(d.mean())
    return PairedDiff(metric, float(a.mean()), float(b.mean()), diff, diff - half, diff + half, "normal", n,
                      confidence)


def _clustered_rows(metric: str, a: np.ndarray, b: np.ndarray, codes: np.ndarray, confidence: float,
                    unit: str = "groups") -> PairedDiff:
    """mean(a) - mean(b) with rows in groups (``codes`` 0..G-1): the cluster-robust variance
    (the sum over groups of each group's summed deviations squared, over n², times G/(G-1)),
    with G-1 degrees of freedom. One row a group: the plain t interval."""
    from scipy.stats import t

    d = a - b
    n, g = len(d), int(codes.max()) + 1
    if g < 2:
        raise EvaluationError(f"a paired interval needs at least two {unit}", where="paired comparison",
                              hint=f"evaluate on more {unit}")
    diff = float(d.mean())
    per_group = np.bincount(codes, weights=d - diff, minlength=g)
    se = math.sqrt(g / (g - 1) * float(per_group @ per_group)) / n
    half = float(t.ppf(0.5 + confidence / 2, g - 1)) * se
    return PairedDiff(metric, float(a.mean()), float(b.mean()), diff, diff - half, diff + half, "normal", g,
                      confidence, items=n)


def _group_cells(cell: np.ndarray, cells: int, codes: np.ndarray | None) -> tuple[np.ndarray, Callable]:
    """(each cell's row count, a function of resample count n -> cell-count matrix). Without
    ``codes`` a resample of n rows is a multinomial draw of the cells; with them, groups are
    drawn (each with all its rows) and their cell counts added up."""
    counts = np.bincount(cell, minlength=cells)
    if codes is None:
        def draw(rng: np.random.Generator, resamples: int) -> np.ndarray:
            n = int(counts.sum())
            return rng.multinomial(n, counts / n, size=resamples).astype(float)
        return counts, draw
    g = int(codes.max()) + 1
    per_group = np.bincount(codes * cells + cell, minlength=g * cells).reshape(g, cells).astype(float)

    def draw(rng: np.random.Generator, resamples: int) -> np.ndarray:
        picks = np.bincount((rng.integers(0, g, size=(resamples, g)) + np.arange(resamples)[:, None] * g).ravel(),
                            minlength=resamples * g).reshape(resamples, g).astype(float)
        return picks @ per_group
    return counts, draw


# -- bootstrap --------------------------------------------------------------------------------


def _weighted_stat(metric: str, y: np.ndarray, s: np.ndarray, threshold: float | None
                   ) -> Callable[[np.ndarray], np.ndarray]:
    """A function of a weight matrix ``W`` (resamples x rows) giving the metric under each
    row of weights; all weighted sums, so a resample is one matrix product."""
    if metric in ("f1", "precision", "recall"):
        pred = (s >= (0.5 if threshold is None else threshold)).astype(float)
        tp_v, y_v = pred * y, y

        def ratio(W: np.ndarray) -> np.ndarray:
            tp, pp, pos = W @ tp_v, W @ pred, W @ y_v
            num, den = (2 * tp, pos + pp) if metric == "f1" else (tp, pp) if metric == "precision" else (tp, pos)
            return np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        return ratio
    if metric == "rmse":
        e2 = (y - s) ** 2
        return lambda W: np.sqrt((W @ e2) / W.sum(axis=1))
    if metric == "r2":
        e2, y2 = (y - s) ** 2, y ** 2

        def r2(W: np.ndarray) -> np.ndarray:
            w = W.sum(axis=1)
            sst = W @ y2 - (W @ y) ** 2 / w
            return 1.0 - np.divide(W @ e2, sst, out=np.full_like(w, np.nan), where=sst > 0)
        return r2
    if metric == "brier_skill":
        e2 = (y - s) ** 2

        def skill(W: np.ndarray) -> np.ndarray:
            w = W.sum(axis=1)
            b = (W @ y) / w
            base = b * (1 - b)
            return 1.0 - np.divide((W @ e2) / w, base, out=np.full_like(w, np.nan), where=base > 0)
        return skill
    if metric == "average_precision":
        order = np.argsort(-s, kind="mergesort")
        ys, ss = y[order].astype(np.float32), s[order]
        ends = np.flatnonzero(np.r_[ss[1:] != ss[:-1], True])  # the last row of each distinct score

        starts = np.r_[0, ends[:-1] + 1]
        pos_idx = order[ys == 1]
        pos_starts = np.searchsorted(np.flatnonzero(ys == 1), starts)  # each group's first positive

        def ap(W: np.ndarray) -> np.ndarray:
            # counts per distinct score, summed in float32: exact, as resample counts stay far below 2**24
            Wf = W.astype(np.float32, copy=False)
            tot = np.cumsum(np.add.reduceat(Wf[:, order], starts, axis=1), axis=1, dtype=np.float32)
            wp = Wf[:, pos_idx]
            ok = pos_starts < wp.shape[1]
            per_pos = np.zeros((len(W), len(starts)), dtype=np.float32)
            if ok.any():
                summed = np.add.reduceat(wp, np.minimum(pos_starts, max(wp.shape[1] - 1, 0)), axis=1)
                nxt = np.r_[pos_starts[1:], wp.shape[1]]
                per_pos[:, ok] = np.where((nxt > pos_starts)[ok], summed[:, ok], 0)
            tp = np.cumsum(per_pos, axis=1, dtype=np.float32).astype(float)
            fp = tot.astype(float) - tp
            pos = tp[:, -1:]
            gained = np.diff(np.concatenate([np.zeros((len(W), 1)), tp], axis=1), axis=1)
            prec = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
            return np.divide((gained * prec).sum(axis=1), pos[:, 0], out=np.full(len(W), np.nan),
                             where=pos[:, 0] > 0)
        return ap
    raise EvaluationError(f"no bootstrap statistic for {metric}", where="stats.paired_bootstrap",
                          hint=f"use one of: {', '.join(k for k, v in METHODS.items() if v == 'bootstrap')}")


def _weights(n: int, resamples: int, seed: int, chunk_cells: int):
    """Bootstrap weights, ``chunk_cells`` at a time: row ``k`` of a chunk counts how often each
    of the ``n`` rows was drawn in resample ``k`` (n draws with replacement: multinomial;
    one bincount over all the draws of a chunk is far cheaper than Poisson variates)."""
    rng = np.random.default_rng(seed)
    per = max(1, chunk_cells // n)
    left = resamples
    while left > 0:
        k = min(per, left)
        draws = rng.integers(0, n, size=(k, n), dtype=np.int64)
        draws += (np.arange(k, dtype=np.int64) * n)[:, None]
        yield np.bincount(draws.ravel(), minlength=k * n).reshape(k, n).astype(np.float32)
        left -= k


_CELL_METRICS = ("f1", "precision", "recall")


def _cell_bootstrap(metric: str, y: np.ndarray, a: np.ndarray, b: np.ndarray, thr_a: float, thr_b: float,
                    resamples: int, seed: int, codes: np.ndarray | None = None) -> np.ndarray:
    """A thresholded metric depends on each row only through its cell (truth, candidate's
    call, reference's call): resampling n rows is then a multinomial draw of the 8 cell
    counts — the same distribution as resampling rows, at no cost per row (groups: the
    groups' cell counts, drawn)."""
    cell = (y.astype(np.int64) * 4 + (a >= thr_a) * 2 + (b >= thr_b)).astype(np.int64)
    _, draw = _group_cells(cell, 8, codes)
    W = draw(np.random.default_rng(seed), resamples)
    cells = np.arange(8)
    yv, pa, pb = (cells >= 4).astype(float), ((cells // 2) % 2).astype(float), (cells % 2).astype(float)
    out = []
    for pred in (pa, pb):
        tp, pp, pos = W @ (pred * yv), W @ pred, W @ yv
        num, den = (2 * tp, pos + pp) if metric == "f1" else (tp, pp) if metric == "precision" else (tp, pos)
        out.append(np.divide(num, den, out=np.zeros_like(num), where=den > 0))
    return out[0] - out[1]


def paired_bootstrap(metric: str, y: np.ndarray, cand: np.ndarray, ref: np.ndarray, *,
                     threshold: float | None = None, ref_threshold: float | None = None,
                     resamples: int = 200, seed: int = 0, confidence: float = CONFIDENCE,
                     chunk_cells: int = 4_000_000, codes: np.ndarray | None = None) -> PairedDiff:
    """The metric's difference with a percentile interval from ``resamples`` resamples of the
    rows (the same for both models), ``chunk_cells`` weights at a time so memory stays bounded.
    ``codes`` (a group 0..G-1 per row): groups are drawn, each with all its rows."""
    y = np.asarray(y, float)
    cand, ref = np.asarray(cand, float), np.asarray(ref, float)
    n = len(y)
    if n < 2:
        raise EvaluationError("a paired interval needs at least two rows", where="paired comparison",
                              hint="evaluate on more rows")
    f_c = _weighted_stat(metric, y, cand, threshold)
    f_r = _weighted_stat(metric, y, ref, ref_threshold if ref_threshold is not None else threshold)
    ones = np.ones((1, n))
    point_c, point_r = float(f_c(ones)[0]), float(f_r(ones)[0])
    g = n if codes is None else int(codes.max()) + 1
    if metric in _CELL_METRICS:
        d = _cell_bootstrap(metric, y, cand, ref, 0.5 if threshold is None else threshold,
                            0.5 if (ref_threshold if ref_threshold is not None else threshold) is None
                            else (ref_threshold if ref_threshold is not None else threshold), resamples, seed, codes)
    else:
        draws = _weights(g, resamples, seed, chunk_cells if codes is None else max(g, chunk_cells * g // n))
        d = np.concatenate([f_c(W) - f_r(W) for W in (draws if codes is None else (W[:, codes] for W in draws))])
    d = d[np.isfinite(d)]
    diff = point_c - point_r
    rows = None if codes is None else n
    if len(d) == 0:
        return PairedDiff(metric, point_c, point_r, diff, math.nan, math.nan, "bootstrap", g, confidence, items=rows)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(d, [alpha, 1 - alpha])
    return PairedDiff(metric, point_c, point_r, diff, float(lo), float(hi), "bootstrap", g, confidence, items=rows)


def paired_difference(metric: str, y: np.ndarray, cand: np.ndarray, ref: np.ndarray, *,
                      threshold: float | None = None, ref_threshold: float | None = None,
                      resamples: int = 200, seed: int = 0, confidence: float = CONFIDENCE,
                      groups: np.ndarray | None = None, grouped_by: str | None = None) -> PairedDiff:
    """``candidate - reference`` on ``metric`` (short or ``quality.`` name) by the method
    that fits it (:data:`METHODS`). Classification: ``y`` is 0/1 and the scores are
    probabilities, ``threshold`` / ``ref_threshold`` each model's decision threshold.

    ``groups`` (a value per row: the ``grouped_by`` column of a group split, a patient) makes a
    group the independent unit: a patient's visits share the patient, so their errors move
    together and are one piece of evidence, not one a visit. DeLong's variance and the t
    interval become cluster-robust (G-1 degrees of freedom), the bootstrap draws groups; ``n``
    is then the number of groups and ``items`` the rows. Counted per row, two models of no
    signal on the visits of 60 patients had 95 % intervals that left out no difference (the
    truth) in 50-58 % of 300 draws; by patient, 5 % (tests/measure/test_stats.py)."""
    short = metric.split(".", 1)[1] if metric.startswith("quality.") else metric
    how = METHODS.get(short)
    if how is None:
        raise EvaluationError(f"no paired interval is defined for {metric}", where="stats.paired_difference",
                              hint=f"compare one of: {', '.join(METHODS)}")
    codes = _group_codes(groups, len(y))
    if how == "delong":
        found = delong_auc_diff(y, cand, ref, confidence=confidence, codes=codes)
    elif how == "normal":
        found = paired_mean_diff(short, y, cand, ref, threshold=threshold, ref_threshold=ref_threshold,
                                 confidence=confidence, codes=codes)
    else:
        found = paired_bootstrap(short, y, cand, ref, threshold=threshold, ref_threshold=ref_threshold,
                                 resamples=resamples, seed=seed, confidence=confidence, codes=codes)
    return found if codes is None else replace(found, grouped_by=grouped_by)


# -- multiclass ------------------------------------------------------------------------------
#
# Over K classes a model's answer per row is a class index (and, for log loss, a probability per
# class). Accuracy and log loss are means of a per-row value: the t interval above. The macro
# averages (mean over classes of each class's F1, precision or recall; the classes are those in
# the truth or in that model's predictions, as sklearn's macro average and
# workbench.measure.items.scoring count them) depend on a row only through its cell (truth,
# candidate's class, reference's class): a resample of the n rows is a multinomial draw of the
# cell counts, as in _cell_bootstrap, so any K and any n cost one small matrix product.

MULTICLASS_METHODS: Mapping[str, str] = {"macro_f1": "bootstrap", "macro_precision": "bootstrap",
                                         "macro_recall": "bootstrap", "accuracy": "normal", "log_loss": "normal"}


def macro_scores(tp: np.ndarray, predicted: np.ndarray, support: np.ndarray, metric: str,
                 scored: np.ndarray) -> np.ndarray:
    """The macro ``metric`` (macro_f1 / macro_precision / macro_recall) from per-class counts
    (rows = resamples, columns = classes), averaged over the classes where ``scored`` is True;
    an undefined ratio is 0 (sklearn's ``zero_division=0``)."""
    if metric == "macro_f1":
        num, den = 2 * tp, support + predicted
    elif metric == "macro_precision":
        num, den = tp, predicted
    else:
        num, den = tp, support
    per = np.divide(num, den, out=np.zeros_like(num, dtype=float), where=den > 0)
    k = int(scored.sum())
    return per[:, scored].sum(axis=1) / k if k else np.zeros(len(per))


def paired_multiclass_difference(metric: str, y: np.ndarray, cand: np.ndarray, ref: np.ndarray, *,
                                 classes: int, cand_proba: np.ndarray | None = None,
                                 ref_proba: np.ndarray | None = None, resamples: int = 200, seed: int = 0,
                                 confidence: float = CONFIDENCE, groups: np.ndarray | None = None,
                                 grouped_by: str | None = None) -> PairedDiff:
    """``candidate - reference`` on a multiclass metric (short or ``quality.`` name): ``y``,
    ``cand`` and ``ref`` are class indices in ``[0, classes)``; log loss needs each model's
    probabilities (rows x classes, clipped at float64's eps). ``groups``: as
    :func:`paired_difference` (a group split's column; its groups are the independent units)."""
    found = _multiclass_difference(metric, y, cand, ref, classes=classes, cand_proba=cand_proba,
                                   ref_proba=ref_proba, resamples=resamples, seed=seed, confidence=confidence,
                                   codes=_group_codes(groups, len(y)))
    return found if found.items is None else replace(found, grouped_by=grouped_by)


def _multiclass_difference(metric: str, y: np.ndarray, cand: np.ndarray, ref: np.ndarray, *, classes: int,
                           cand_proba: np.ndarray | None, ref_proba: np.ndarray | None, resamples: int, seed: int,
                           confidence: float, codes: np.ndarray | None) -> PairedDiff:
    short = metric.split(".", 1)[1] if metric.startswith("quality.") else metric
    how = MULTICLASS_METHODS.get(short)
    if how is None:
        raise EvaluationError(f"no paired multiclass interval is defined for {metric}",
                              where="stats.paired_multiclass_difference",
                              hint=f"compare one of: {', '.join(MULTICLASS_METHODS)}")
    y, a, b = (np.asarray(v, dtype=np.int64) for v in (y, cand, ref))
    n = len(y)
    if n < 2:
        raise EvaluationError("a paired interval needs at least two rows", where="paired comparison",
                              hint="evaluate on more rows")
    if how == "normal":
        if short == "accuracy":
            la, lb = (a == y).astype(float), (b == y).astype(float)
        elif cand_proba is None or ref_proba is None:
            raise EvaluationError("log loss needs both models' class probabilities", where="paired comparison",
                                  hint="score both models with their probabilities")
        else:
            rows = np.arange(n)
            la = -np.log(np.clip(np.asarray(cand_proba, float)[rows, y], _EPS, 1.0))
            lb = -np.log(np.clip(np.asarray(ref_proba, float)[rows, y], _EPS, 1.0))
        return _paired_rows(short, la, lb, confidence) if codes is None else _clustered_rows(short, la, lb, codes,
                                                                                             confidence)
    k = int(classes)
    cells, cell = np.unique((y * k + a) * k + b, return_inverse=True)
    counts, draw = _group_cells(cell.astype(np.int64), len(cells), codes)
    cy, ca, cb = cells // (k * k), (cells // k) % k, cells % k
    eye = np.eye(k)
    Y, A, B = eye[cy], eye[ca], eye[cb]  # noqa: N806 - cells x classes indicators
    W = draw(np.random.default_rng(seed), resamples)  # noqa: N806
    out = []
    for P, present in ((A, ca), (B, cb)):  # noqa: N806
        scored = np.zeros(k, dtype=bool)
        scored[np.unique(np.r_[cy, present])] = True
        c = counts[None, :].astype(float)
        point = macro_scores(c @ (Y * P), c @ P, c @ Y, short, scored)[0]
        boot = macro_scores(W @ (Y * P), W @ P, W @ Y, short, scored)
        out.append((float(point), boot))
    (pa, ba), (pb, bb) = out
    d = ba - bb
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(d, [alpha, 1 - alpha])
    units, items = (n, None) if codes is None else (int(codes.max()) + 1, n)  # rows, or groups of rows
    return PairedDiff(short, pa, pb, pa - pb, float(lo), float(hi), "bootstrap", units, confidence, items=items)


# -- several candidates on the same rows ------------------------------------------------------


def confidence_text(confidence: float | None) -> str:
    """``95 %``, ``98.3 %``: an interval's confidence as records and reports print it (None: 95 %)."""
    return f"{(confidence or CONFIDENCE) * 100:.3g} %"


def confidence_among(candidates: int, confidence: float = CONFIDENCE) -> float:
    """The confidence an interval is judged at when ``candidates`` were scored on the same rows
    and the best is kept: 1 - (1 - confidence) / candidates (Bonferroni)."""
    return 1 - (1 - confidence) / max(candidates, 1)


def other_runs_text(in_run: int, other: int, other_splits: int = 0) -> str:
    """`` (2 in this run, 1 other configuration(s) in other runs)`` when ``other`` configurations
    of other runs were counted among the candidates, ``, 3 on other splits of the same tables``
    when ``other_splits`` were, else nothing: as notes and reports print it."""
    if not other and not other_splits:
        return ""
    parts = [f"{in_run} in this run"] + ([f"{other} other configuration(s) in other runs"] if other else []) \
        + ([f"{other_splits} on other splits of the same tables, each a look as well"] if other_splits else [])
    return f" ({', '.join(parts)})"


def among_candidates(diff: Mapping[str, Any], candidates: int) -> dict[str, Any]:
    """``diff`` (a :class:`PairedDiff` as a dict) for the candidate kept as the best of
    ``candidates`` scored on the same rows. Each has a 1 - confidence chance of an interval
    that misses, so the best of several clears a margin by noise more often than one does
    (simulated, 800 rows, candidates all as good as today's rule: a "better" verdict 2 % of
    the time for one, 6.5 % for the best of 3, 12 % for the best of 8). The interval is
    widened to :func:`confidence_among` (Bonferroni): each side's distance from the difference
    grows by the ratio of the normal quantiles. That is exact for DeLong's normal interval,
    within 0.5 % for the t interval at 100 rows or more, and the normal approximation of a
    bootstrap's tails; never narrower than the interval given. One candidate: unchanged."""
    if candidates <= 1:
        return dict(diff)
    given = float(diff.get("confidence") or CONFIDENCE)
    wider = confidence_among(candidates, given)
    grow = _z(wider) / _z(given)
    d, lo, hi = float(diff["diff"]), float(diff["ci_low"]), float(diff["ci_high"])
    return {**diff, "ci_low": min(lo, d - (d - lo) * grow), "ci_high": max(hi, d + (hi - d) * grow),
            "confidence": wider, "candidates": candidates}


# -- sample size ------------------------------------------------------------------------------


def sample_shortfall(rows: int, class_counts: Mapping[str, int] | None = None, *, min_rows: int = MIN_ROWS,
                     min_per_class: int = MIN_PER_CLASS) -> list[str]:
    """What a held-out set lacks to be judged: one line per shortfall (none: enough).

    ``class_counts`` (classification): rows per class; each needs ``min_per_class``. Where a
    class is short, the rows needed assume the class keeps its current share."""
    short = []
    if rows < min_rows:
        short.append(f"{rows} held-out row(s), at least {min_rows} needed: {min_rows - rows} more")
    for label, count in (class_counts or {}).items():
        if count < min_per_class:
            more = min_per_class - count
            share = count / rows if rows else 0.0
            needed = math.ceil(min_per_class / share) - rows if share > 0 else 0
            shown = f"{share:.1%}" if share >= 0.001 else f"{share * 100:.2g}%"
            extra = "" if share <= 0 else f" (about {needed:,} more rows at its share of {shown})"
            if share > 0 and needed > 10 * rows:  # a class this rare is not waited for: it is merged or dropped
                extra = (f" (at its share of {shown}, about {needed:,} more rows: merge it into a broader class, "
                         "or drop its rows)")
            short.append(f"{count} {label} row(s), at least {min_per_class} needed: {more} more{extra}")
    return short


# -- timing -----------------------------------------------------------------------------------


def p95_blocks_interval(block_values: np.ndarray | list[float], *, confidence: float = CONFIDENCE
                        ) -> tuple[float, float, float]:
    """(mean, low, high) of a statistic measured once per block (e.g. each block's p95
    latency): a t interval across blocks — the blocks are the repeated measurements."""
    from scipy.stats import t

    v = np.asarray(block_values, float)
    if len(v) < 2:
        m = float(v.mean()) if len(v) else math.nan
        return m, m, m
    m = float(v.mean())
    half = float(t.ppf(0.5 + confidence / 2, len(v) - 1)) * float(v.std(ddof=1)) / math.sqrt(len(v))
    return m, m - half, m + half


# -- eval-set (item) metrics ----------------------------------------------------------------------
# An eval-set pilot's candidate and baseline answer the very same items, so their difference is
# paired item by item too. Metrics that are means of a per-item value (accuracy, hit@k, MRR@k,
# recall@k, nDCG@k, an extraction's exact-match shares and token F1) get the t interval on the
# per-item differences; macro averages over classes get the paired bootstrap over items.

_ITEM_MEAN = re.compile(r"^(accuracy|(hit|recall|mrr|ndcg)_at_\d+|field_exact|token_f1|all_fields_exact"
                        r"|exact_match|normalized_exact_match|facts_recall|all_facts|groundedness)$")
_ITEM_MACRO = ("macro_f1", "macro_precision", "macro_recall")


def item_method_for(metric: str) -> str | None:
    """``normal`` / ``bootstrap`` for an eval-set quality metric (short or ``quality.`` name);
    None when no paired interval is defined for it (``log_loss`` of items: probabilities
    are not kept per item)."""
    short = metric.split(".", 1)[1] if metric.startswith("quality.") else metric
    if short in _ITEM_MACRO:
        return "bootstrap"
    return "normal" if _ITEM_MEAN.match(short) else None


def paired_values(metric: str, cand: np.ndarray, ref: np.ndarray, *, confidence: float = CONFIDENCE,
                  groups: np.ndarray | None = None) -> PairedDiff:
    """mean(cand) - mean(ref) of per-item values on the same items, with a t interval on the
    per-item differences (as :func:`paired_mean_diff`, for values already computed).

    ``groups`` (an integer per item: items asking the same input share one) makes the
    interval count each input once: an input asked four times is answered the same way four
    times, so its repeats move together and are one piece of evidence, not four. The mean
    stays the items' mean; its variance is the cluster-robust one (the sum over groups of
    each group's summed deviations squared, over n², times G/(G-1)), with G-1 degrees of
    freedom: with one item per group it is the plain t interval."""
    a, b = np.asarray(cand, float), np.asarray(ref, float)
    codes = _group_codes(groups, len(a))
    if codes is None:
        return _paired_rows(metric, a, b, confidence, unit="items")
    return _clustered_rows(metric, a, b, codes, confidence, unit="distinct inputs")


def _group_codes(groups: np.ndarray | None, n: int) -> np.ndarray | None:
    """``groups`` as codes 0..G-1, or None when there are none or every item is its own."""
    if groups is None:
        return None
    values = np.asarray(groups)
    if len(values) != n:
        raise EvaluationError(f"{len(values)} group labels for {n} items", where="paired comparison",
                              hint="give one group per item")
    _, codes = np.unique(values, return_inverse=True)
    return codes.astype(np.int64) if int(codes.max(initial=-1)) + 1 < n else None


def _macro_stat(metric: str, expected: np.ndarray, predicted: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Macro precision / recall / F1 under each row of a weight matrix: per class, the weighted
    true positives, predictions and support are weighted sums (classes: the expected ones plus
    any predicted, as :func:`workbench.measure.items.scoring.classification_quality`; an error,
    None, predicts no class)."""
    classes = sorted({str(v) for v in expected} | {str(v) for v in predicted if v is not None})
    exp = np.array([str(v) for v in expected], dtype=object)
    pred = np.array([None if v is None else str(v) for v in predicted], dtype=object)
    E = np.column_stack([(exp == c) for c in classes]).astype(np.float32)
    P = np.column_stack([(pred == c) for c in classes]).astype(np.float32)
    TP = E * P

    def stat(W: np.ndarray) -> np.ndarray:
        tp, pp, sup = W @ TP, W @ P, W @ E
        if metric == "macro_f1":
            num, den = 2 * tp, pp + sup
        elif metric == "macro_precision":
            num, den = tp, pp
        else:
            num, den = tp, sup
        return np.divide(num, den, out=np.zeros_like(num, dtype=float), where=den > 0).mean(axis=1)
    return stat


def paired_macro(metric: str, expected: Sequence[Any], cand: Sequence[Any], ref: Sequence[Any], *,
                 resamples: int = 200, seed: int = 0, confidence: float = CONFIDENCE,
                 chunk_cells: int = 4_000_000, groups: np.ndarray | None = None) -> PairedDiff:
    """A macro average over classes (``macro_f1``, ``macro_precision``, ``macro_recall``) of
    two models' labels on the same items: the difference, with the percentile interval of a
    seeded paired bootstrap over items (the same resampled items for both). With ``groups``
    (as :func:`paired_values`), the bootstrap draws inputs, each with all its repeats."""
    short = metric.split(".", 1)[1] if metric.startswith("quality.") else metric
    if short not in _ITEM_MACRO:
        raise EvaluationError(f"{metric} is not a macro average over classes", where="stats.paired_macro",
                              hint=f"use one of: {', '.join(_ITEM_MACRO)}")
    y = np.asarray(list(expected), dtype=object)
    n = len(y)
    if n < 2:
        raise EvaluationError("a paired interval needs at least two items", where="paired comparison",
                              hint="evaluate on more items")
    f_c, f_r = _macro_stat(short, y, np.asarray(list(cand), dtype=object)), _macro_stat(
        short, y, np.asarray(list(ref), dtype=object))
    codes = _group_codes(groups, n)
    g = n if codes is None else int(codes.max()) + 1
    if g < 2:
        raise EvaluationError("a paired interval needs at least two distinct inputs", where="paired comparison",
                              hint="evaluate on more distinct items")
    ones = np.ones((1, n), dtype=np.float32)
    point_c, point_r = float(f_c(ones)[0]), float(f_r(ones)[0])
    draws = _weights(g, resamples, seed, chunk_cells)  # per input: how often it was drawn
    d = np.concatenate([f_c(W) - f_r(W) for W in (draws if codes is None else (W[:, codes] for W in draws))])
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(d, [alpha, 1 - alpha])
    return PairedDiff(short, point_c, point_r, point_c - point_r, float(lo), float(hi), "bootstrap", g, confidence,
                      items=None if codes is None else n)
