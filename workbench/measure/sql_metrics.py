"""Quality, slices and curves of scored rows, computed in DuckDB: bounded memory at any size.

The held-out rows are scored in batches and written back to a DuckDB table (see
:mod:`workbench.measure.modeling.scoring`); everything measured on them is aggregated there, so
memory does not grow with the held-out set. The definitions are those of
:mod:`workbench.measure.evaluation` (sklearn), and the rules — which metric is defined, the notes,
why one is omitted, slice naming, eligibility and flagging — are the same functions
(:func:`~workbench.measure.evaluation.classification_result`, :func:`~workbench.measure.evaluation.regression_result`,
:func:`~workbench.measure.evaluation.slice_table`); the results are the same frozen dataclasses.
Tests pin every number against sklearn on random data with ties and slices (1e-9).

The table has one row per scored row: ``__wb_row`` (its position in the held-out set),
``__wb_y`` (classification: 1 for the positive class, else 0; regression: the target as a
number), ``__wb_score`` (the probability of the positive class, or the prediction) and any
slice columns under their own names, with their DuckDB types.

Definitions, as sklearn computes them:

- accuracy, precision, recall, f1 from the confusion counts at ``score >= threshold``
  (``zero_division=0``; f1 = 2 tp / (positives + predicted positives));
- ``roc_auc``: the Mann-Whitney statistic with ties counted half — per distinct score,
  positives there times (negatives below + half the negatives there) — which is the
  trapezoid area under sklearn's ROC curve; computed in integers, divided once;
- ``average_precision``: sklearn's step definition, the sum over distinct scores
  (descending) of the recall gained there times the precision there;
- ``brier``: mean squared error of the score; ``brier_skill`` = 1 - brier / (b (1 - b));
- ``log_loss``: scores clipped to [eps, 1 - eps] (eps of float64), as sklearn clips;
- calibration: sklearn's ``calibration_curve`` bins (a score equal to an inner edge
  belongs to the lower bin; empty bins dropped);
- regression: mae, rmse = sqrt(mse), r2 = 1 - SSE / SST (two passes, no cancellation).

Sums of floats use ``fsum`` (compensated): the order of a parallel sum then does not matter.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..charter.config import Task
from ..errors import EvaluationError
from .evaluation import (
    _ABOVE_ONE,
    CalibrationCurve,
    QualityResult,
    SliceTable,
    _thin,
    classification_result,
    regression_result,
    slice_rule,
    slice_table,
)

__all__ = ["quality", "slice_metrics", "curves", "sample", "ROW", "Y", "SCORE", "check_scores"]

ROW, Y, SCORE = "__wb_row", "__wb_y", "__wb_score"
_EPS = float(np.finfo(np.float64).eps)


def _q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _src(table: str, group: str | None = None) -> str:
    """The table as (r, y, score, g): every query reads it through this, so a slice column
    may have any name (g is 0 for the whole table)."""
    g = _q(group) if group is not None else "0"
    return f"SELECT {ROW} AS r, {Y} AS y, {SCORE} AS score, {g} AS g FROM {_q(table)}"


def check_scores(con: Any, table: str, *, task: Task, threshold: float | None = None) -> int:
    """Refuse what :func:`workbench.measure.evaluation.evaluate` refuses: zero rows, NaN or infinity
    in the scores (or a regression target), classification scores outside [0, 1], a
    threshold outside [0, 1]. Returns the number of rows."""
    n, bad, bad_first, out, out_first, ybad, ybad_first = con.execute(f"""
        WITH src AS ({_src(table)}),
        flags AS (SELECT r, score IS NULL OR NOT isfinite(score) AS bad, score < 0 OR score > 1 AS out,
                         y IS NULL OR NOT isfinite(y::DOUBLE) AS ybad FROM src)
        SELECT count(*), count(*) FILTER (bad), min(r) FILTER (bad), count(*) FILTER (out), min(r) FILTER (out),
               count(*) FILTER (ybad), min(r) FILTER (ybad)
        FROM flags""").fetchone()
    if n == 0:
        raise EvaluationError("cannot evaluate zero rows", where="evaluation set", hint="check the evaluation split")
    if ybad:
        raise EvaluationError(f"y_true contains NaN or infinity in {ybad} row(s), first at position {ybad_first}",
                              where="y_true", hint="drop rows with a missing target before evaluating (and say so)")
    name = "y_score" if task.kind == "classification" else "y_pred"
    if bad:
        raise EvaluationError(
            f"{name} contains NaN or infinity in {bad} row(s), first at position {bad_first}", where=name,
            hint="drop rows with a missing target or prediction before evaluating (and say so), "
            "or fix the model so it always predicts")
    if task.kind == "classification":
        if out:
            raise EvaluationError(
                f"scores must be probabilities of the positive class in [0, 1]; {out} row(s), first at position "
                f"{out_first} outside", where="y_score",
                hint="pass predict_proba(X)[:, 1] (or the baseline's rate), not raw margins or labels")
        if threshold is not None and not 0.0 <= threshold <= _ABOVE_ONE:
            raise EvaluationError(f"threshold must be in [0, 1], got {threshold}", where="threshold",
                                  hint="pick one with choose_threshold(...) or use the default 0.5")
    return int(n)


# -- per-group statistics ------------------------------------------------------------------


def _classification_stats(con: Any, table: str, group: str | None, threshold: float) -> dict[Any, dict[str, Any]]:
    """group value -> counts and sums for every classification metric (one group when
    ``group`` is None)."""
    clip_p = f"greatest(least(score, 1 - {_EPS!r}), {_EPS!r})"
    clip_q = f"greatest(least(1 - score, 1 - {_EPS!r}), {_EPS!r})"
    rows = con.execute(f"""
        WITH src AS ({_src(table, group)}),
        base AS (
            SELECT g, count(*) AS n, sum(y) AS pos,
                   count(*) FILTER (score >= $thr) AS pp, count(*) FILTER (score >= $thr AND y = 1) AS tp,
                   bool_and(score = 0 OR score = 1) AS hard,
                   fsum(CASE WHEN y = 1 THEN (1 - score) * (1 - score) ELSE score * score END) AS sq,
                   fsum(CASE WHEN y = 1 THEN -ln({clip_p}) ELSE -ln({clip_q}) END) AS ll
            FROM src GROUP BY g
        ),
        per_score AS (
            SELECT g, score, sum(y) AS pos, count(*) - sum(y) AS neg FROM src GROUP BY g, score
        ),
        cum AS (
            SELECT g, pos, neg,
                   sum(pos) OVER w AS tp_c, sum(neg) OVER w AS fp_c, sum(neg) OVER (PARTITION BY g) AS neg_all
            FROM per_score WINDOW w AS (PARTITION BY g ORDER BY score DESC ROWS UNBOUNDED PRECEDING)
        ),
        ranks AS (
            SELECT g, sum(pos * (2 * (neg_all - fp_c) + neg)) AS auc2, fsum(pos * tp_c / (tp_c + fp_c)) AS ap
            FROM cum GROUP BY g
        )
        SELECT base.*, ranks.auc2, ranks.ap FROM base JOIN ranks ON base.g IS NOT DISTINCT FROM ranks.g
        """, {"thr": float(threshold)}).fetchall()
    names = ["g", "n", "pos", "pp", "tp", "hard", "sq", "ll", "auc2", "ap"]
    return {r[0]: dict(zip(names, r, strict=True)) for r in rows}


def _classification_quality(st: dict[str, Any], *, task: Task, threshold: float, strict: bool, where: str,
                            calibration: Any = None) -> QualityResult:
    n, pos, pp, tp = int(st["n"]), int(st["pos"]), int(st["pp"]), int(st["tp"])
    fp, fn = pp - tp, pos - tp
    tn = n - pos - fp
    neg = n - pos

    def metric(name: str) -> float:
        if name == "accuracy":
            return (tp + tn) / n
        if name == "precision":
            return tp / pp if pp else 0.0
        if name == "recall":
            return tp / pos if pos else 0.0
        if name == "f1":
            return 2 * tp / (pos + pp) if pos + pp else 0.0
        if name == "brier":
            return float(st["sq"]) / n
        if name == "roc_auc":
            return int(st["auc2"]) / (2 * pos * neg)
        if name == "average_precision":
            return float(st["ap"]) / pos
        if name == "log_loss":
            return float(st["ll"]) / n
        raise KeyError(name)  # pragma: no cover - the rules ask for known names only

    return classification_result(n=n, positives=pos, confusion=((tn, fp), (fn, tp)), hard=bool(st["hard"]),
                                 metric=metric, task=task, threshold=threshold, strict=strict, where=where,
                                 calibration=calibration)


def _regression_stats(con: Any, table: str, group: str | None) -> dict[Any, dict[str, Any]]:
    rows = con.execute(f"""
        WITH src AS ({_src(table, group)}),
        m AS (SELECT g, avg(y::DOUBLE) AS mean_y FROM src GROUP BY g)
        SELECT m.g, count(*) AS n, fsum(abs(y - score)) AS ae, fsum((y - score) * (y - score)) AS se,
               fsum((y - m.mean_y) * (y - m.mean_y)) AS st, min(y) AS lo, max(y) AS hi, fsum(y::DOUBLE) AS sy,
               arg_min(y, r) AS first_y
        FROM src JOIN m ON src.g IS NOT DISTINCT FROM m.g GROUP BY m.g
        """).fetchall()
    names = ["g", "n", "ae", "se", "st", "lo", "hi", "sy", "first_y"]
    return {r[0]: dict(zip(names, r, strict=True)) for r in rows}


def _regression_quality(st: dict[str, Any], *, strict: bool, where: str) -> QualityResult:
    n = int(st["n"])
    values = {"mae": float(st["ae"]) / n, "rmse": math.sqrt(float(st["se"]) / n)}
    constant = n < 2 or st["lo"] == st["hi"]
    values["r2"] = 1.0 - float(st["se"]) / float(st["st"]) if not constant else math.nan  # asked only if defined
    return regression_result(n=n, constant=bool(constant), first=float(st["first_y"]), metric=values.__getitem__,
                             strict=strict, where=where)


def _calibration(con: Any, table: str, n_bins: int, strategy: str) -> CalibrationCurve:
    """sklearn's ``calibration_curve`` bins: ``searchsorted(inner_edges, score)`` (a score
    equal to an edge falls in the lower bin), empty bins dropped, with their counts."""
    src = _src(table)
    if strategy == "quantile":
        qs = [float(v) for v in np.linspace(0, 1, n_bins + 1)]
        got = con.execute(f"WITH src AS ({src}) SELECT quantile_cont(score, ?::DOUBLE[]) FROM src", [qs]).fetchone()
        edges = [float(v) for v in got[0]]
    elif strategy == "uniform":
        edges = [float(v) for v in np.linspace(0.0, 1.0, n_bins + 1)]
    else:
        raise EvaluationError(f"unknown calibration strategy {strategy!r}", hint="use 'uniform' or 'quantile'")
    inner = edges[1:-1]
    case = "CASE " + " ".join(f"WHEN score <= ${i + 1}::DOUBLE THEN {i}" for i in range(len(inner))) + \
        f" ELSE {len(inner)} END" if inner else "0"
    rows = con.execute(f"""WITH src AS ({src})
                           SELECT {case} AS bin, fsum(y::DOUBLE) AS yt, fsum(score) AS sp, count(*) AS c
                           FROM src GROUP BY 1 ORDER BY 1""", inner).fetchall()
    return CalibrationCurve(tuple(float(r[1]) / r[3] for r in rows), tuple(float(r[2]) / r[3] for r in rows),
                            tuple(int(r[3]) for r in rows), n_bins, strategy)


# -- public ----------------------------------------------------------------------------------


def quality(con: Any, table: str, *, task: Task, threshold: float = 0.5, calibration_bins: int = 10,
            calibration_strategy: str = "uniform", where: str = "evaluation set") -> QualityResult:
    """Quality of the whole table, strict as :func:`workbench.measure.evaluation.evaluate` is (an
    undefined metric raises :class:`EvaluationError`)."""
    check_scores(con, table, task=task, threshold=threshold)
    if task.kind == "regression":
        return _regression_quality(_regression_stats(con, table, None)[0], strict=True, where=where)
    st = _classification_stats(con, table, None, threshold)[0]
    return _classification_quality(
        st, task=task, threshold=threshold, strict=True, where=where,
        calibration=lambda: _calibration(con, table, calibration_bins, calibration_strategy))


def slice_metrics(con: Any, table: str, slice_columns: Sequence[str], *, task: Task, metric: str | None = None,
                  threshold: float = 0.5, min_rows: int = 50, flag_margin: float | None = None,
                  flag_ratio: float | None = 0.10, overall: QualityResult | None = None) -> SliceTable:
    """:func:`workbench.measure.evaluation.slice_metrics` over the table: one grouped query per
    slice column (missing values are one slice, ``null``). ``overall``: the whole table's
    :func:`quality`, when already computed."""
    slice_rule(task, metric, flag_margin, flag_ratio)  # refuse a bad rule before any work
    overall_q = overall if overall is not None else quality(con, table, task=task, threshold=threshold,
                                                            where="slice_metrics: whole frame")
    columns = []
    for column in slice_columns:
        entries = []
        if task.kind == "classification":
            for value, st in _classification_stats(con, table, column, threshold).items():
                q = _classification_quality(st, task=task, threshold=threshold, strict=False,
                                            where=f"slice {column}={value!r}")
                entries.append((value, int(st["n"]), q, q.values["base_rate"]))
        else:
            for value, st in _regression_stats(con, table, column).items():
                q = _regression_quality(st, strict=False, where=f"slice {column}={value!r}")
                entries.append((value, int(st["n"]), q, float(st["sy"]) / int(st["n"])))
        columns.append((column, entries))
    return slice_table(task, metric, overall_q, columns, min_rows=min_rows, flag_margin=flag_margin,
                       flag_ratio=flag_ratio)


def _positions(n: int, max_points: int) -> list[int] | None:
    """The fixed-seed rows :func:`workbench.measure.evaluation.curves` and the plots draw (None: all)."""
    if n <= max_points:
        return None
    return [int(i) for i in np.sort(np.random.default_rng(0).choice(n, size=max_points, replace=False))]


def sample(con: Any, table: str, max_points: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(truth, score, rows in the table) of the fixed-seed sample of at most ``max_points``
    rows that :func:`workbench.measure.evaluation.plot_residuals` would draw (the same rows)."""
    n = int(con.execute(f"SELECT count(*) FROM {_q(table)}").fetchone()[0])
    keep = _positions(n, max_points)
    where = "" if keep is None else "WHERE r IN (SELECT unnest(?::BIGINT[]))"
    got = con.execute(f"WITH src AS ({_src(table)}) SELECT y::DOUBLE AS y, score FROM src {where} ORDER BY r",
                      [] if keep is None else [keep]).fetchnumpy()
    return np.asarray(got["y"], dtype=float), np.asarray(got["score"], dtype=float), n


def curves(con: Any, table: str, *, task: Task, max_points: int = 200) -> dict[str, Any]:
    """:func:`workbench.measure.evaluation.curves` over the table: the same points.

    Classification: sklearn's ROC curve (``drop_intermediate``: only the corners) and its
    precision-recall curve, each thinned the same way; regression: the residual histogram
    (numpy's equal-width bins), the per-decile summary of the prediction, and the same
    fixed-seed sample. ``__wb_row`` must number the rows 0..n-1 (the held-out order)."""
    src = _src(table)
    if task.kind == "classification":
        n, pos = con.execute(f"WITH src AS ({src}) SELECT count(*), sum(y) FROM src").fetchone()
        n, pos = int(n), int(pos or 0)
        if n == 0 or pos in (0, n):
            raise EvaluationError("ROC and PR curves need both classes and one score per row", where="y_true",
                                  hint="evaluate on a set with positive and negative rows")
        neg = n - pos
        con.execute(f"""CREATE OR REPLACE TEMP TABLE __wb_curve AS
            WITH src AS ({src}),
            per_score AS (SELECT score, sum(y) AS pos, count(*) - sum(y) AS neg FROM src GROUP BY score),
            cum AS (SELECT score, sum(pos) OVER w AS tps, sum(neg) OVER w AS fps,
                           row_number() OVER w AS k FROM per_score
                    WINDOW w AS (ORDER BY score DESC ROWS UNBOUNDED PRECEDING))
            SELECT k, tps, fps,
                   k = 1 OR k = (SELECT count(*) FROM per_score)
                   OR (lead(fps) OVER o - 2 * fps + lag(fps) OVER o) <> 0
                   OR (lead(tps) OVER o - 2 * tps + lag(tps) OVER o) <> 0 AS corner
            FROM cum WINDOW o AS (ORDER BY k)""")
        try:
            m = int(con.execute("SELECT count(*) FROM __wb_curve").fetchone()[0])
            corners = int(con.execute("SELECT count(*) FROM __wb_curve WHERE corner").fetchone()[0])
            # ROC: (0, 0), then the corners in descending score order
            keep = [int(i) for i in _thin(corners + 1, max_points)]
            roc = con.execute("""
                WITH c AS (SELECT tps, fps, row_number() OVER (ORDER BY k) AS j FROM __wb_curve WHERE corner)
                SELECT j, tps, fps FROM c WHERE j IN (SELECT unnest(?::BIGINT[])) ORDER BY j""", [keep]).fetchall()
            fpr = [0.0] if keep[0] == 0 else []
            tpr = [0.0] if keep[0] == 0 else []
            fpr += [int(r[2]) / neg for r in roc]
            tpr += [int(r[1]) / pos for r in roc]
            # PR: every distinct score in ascending order (index 0 = the lowest), then (recall 0, precision 1)
            keep = [int(i) for i in _thin(m + 1, max_points)]
            pr = con.execute("SELECT m - k AS i, tps, fps FROM (SELECT *, ? AS m FROM __wb_curve) "
                             "WHERE m - k IN (SELECT unnest(?::BIGINT[])) ORDER BY i", [m, keep]).fetchall()
        finally:
            con.execute("DROP TABLE IF EXISTS __wb_curve")
        precision = [int(r[1]) / (int(r[1]) + int(r[2])) for r in pr]
        recall = [int(r[1]) / pos for r in pr]
        if keep[-1] == m:
            precision.append(1.0)
            recall.append(0.0)
        return {"kind": "classification", "roc": {"fpr": fpr, "tpr": tpr},
                "pr": {"recall": recall, "precision": precision}, "base_rate": pos / n}
    check_scores(con, table, task=task)
    n, lo, hi = con.execute(f"WITH src AS ({src}) SELECT count(*), min(y - score), max(y - score) FROM src").fetchone()
    n, lo, hi = int(n), float(lo), float(hi)
    bins = min(40, max(5, n // 20))
    counts, edges = _histogram(con, src, lo, hi, bins)
    k = min(10, n)
    size, extra = divmod(n, k)  # np.array_split: the first `extra` groups get one more row
    groups = con.execute(f"""
        WITH src AS ({src}),
        ranked AS (SELECT score, y - score AS res, row_number() OVER (ORDER BY score, r) - 1 AS k FROM src),
        g AS (SELECT *, CASE WHEN k < $big THEN k // ($size + 1) ELSE $extra + (k - $big) // $size END AS grp
              FROM ranked)
        SELECT grp, fsum(score) / count(*), fsum(res) / count(*), quantile_cont(res, 0.1), quantile_cont(res, 0.9),
               count(*)
        FROM g GROUP BY grp ORDER BY grp""", {"big": extra * (size + 1), "size": size, "extra": extra}).fetchall()
    truth, pred, _ = sample(con, table, max_points * 2)
    return {
        "kind": "regression",
        "histogram": {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]},
        "by_prediction": [{"pred_mean": float(g[1]), "residual_mean": float(g[2]), "residual_p10": float(g[3]),
                           "residual_p90": float(g[4]), "rows": int(g[5])} for g in groups],
        "sample": {"pred": [float(v) for v in pred], "residual": [float(v) for v in truth - pred]},
    }


def _histogram(con: Any, src: str, lo: float, hi: float, bins: int) -> tuple[list[int], np.ndarray]:
    """``np.histogram(residual, bins)``: equal-width edges over [min, max] and numpy's own
    bin assignment (a value on an inner edge goes up; the last bin is closed)."""
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1, endpoint=True)
    rows = con.execute(f"""
        WITH src AS ({src}), v AS (SELECT y - score AS x FROM src),
        i AS (SELECT x, least(CAST(floor((x - $lo) / $denom * $bins) AS BIGINT), $bins - 1) AS i0 FROM v),
        j AS (SELECT i0 - (x < ($edges::DOUBLE[])[i0 + 1])::INT
                     + ((x >= ($edges::DOUBLE[])[i0 + 2]) AND i0 <> $bins - 1)::INT AS i FROM i)
        SELECT i, count(*) FROM j GROUP BY i""",
        {"lo": lo, "denom": hi - lo, "bins": bins, "edges": [float(e) for e in edges]}).fetchall()
    counts = [0] * bins
    for i, c in rows:
        counts[int(i)] += int(c)
    return counts, edges
