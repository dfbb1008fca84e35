"""Bounded memory at any table size (issue 14): SQL metrics equal sklearn's, the training
sample is stratified, sized and seeded, streaming scoring equals scoring in memory, and
(slow) a pilot's peak process-tree memory does not grow with the table."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from support import REPO
from workbench.measure import evaluation, modeling, sql_metrics
from workbench.charter.config import Baseline, Candidate, CostModel, FeatureView, ModelSpec, Split, Task, TrainSample
from workbench.errors import EvaluationError

CLS = Task(kind="classification", target="y", positive_label=1)
REG = Task(kind="regression", target="y")
TOL = 1e-9


def _table(con: duckdb.DuckDBPyConnection, name: str, y: np.ndarray, score: np.ndarray, **slices: object) -> str:
    data = {sql_metrics.ROW: np.arange(len(y), dtype=np.int64), sql_metrics.Y: y, sql_metrics.SCORE: score}
    data.update({k: pa.array(v, from_pandas=True) for k, v in slices.items()})
    arrow = pa.table(data)  # noqa: F841 - read by DuckDB below
    con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM arrow')
    return name


def _same_quality(a: evaluation.QualityResult, b: evaluation.QualityResult) -> None:
    assert set(a.values) == set(b.values)
    for k, v in a.values.items():
        assert b.values[k] == pytest.approx(v, abs=TOL), k
    assert (a.n, a.confusion, a.hard_predictions, dict(a.omitted), a.notes) == \
        (b.n, b.confusion, b.hard_predictions, dict(b.omitted), b.notes)
    assert (a.calibration is None) == (b.calibration is None)
    if a.calibration is not None:
        assert a.calibration.counts == b.calibration.counts
        np.testing.assert_allclose(b.calibration.prob_true, a.calibration.prob_true, atol=TOL)
        np.testing.assert_allclose(b.calibration.prob_pred, a.calibration.prob_pred, atol=TOL)


def _same_slices(a: evaluation.SliceTable, b: evaluation.SliceTable) -> None:
    da, db = a.to_dict(), b.to_dict()
    assert len(da["rows"]) == len(db["rows"])
    for ra, rb in zip(da["rows"], db["rows"], strict=True):
        same = ("column", "value", "key", "count", "omitted", "eligible", "flagged")
        assert {k: ra[k] for k in same} == {k: rb[k] for k in same}
        assert set(ra["metrics"]) == set(rb["metrics"])
        for k, v in ra["metrics"].items():
            assert rb["metrics"][k] == pytest.approx(v, abs=TOL), (ra["key"], k)
        for k in ("base_rate", "worse_by"):
            assert (ra[k] is None) == (rb[k] is None)
            if ra[k] is not None:
                assert rb[k] == pytest.approx(ra[k], abs=TOL)
    assert db["overall"] == pytest.approx(da["overall"], abs=TOL)
    assert set(da["metrics"]) == set(db["metrics"])


def _classification_data(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, dict[str, object]]:
    rng = np.random.default_rng(seed)
    score = np.round(rng.random(n), 2)  # ties everywhere
    score[: n // 10] = rng.choice([0.0, 0.1, 0.3, 1.0], n // 10)  # exact calibration edges, 0 and 1
    y = (rng.random(n) < 0.2 + 0.6 * score).astype(int)
    text = rng.choice(np.array(["north", "south", "a b", "a_b", None], dtype=object), n)  # "a b" and "a_b" clash
    text[:40] = "tiny"  # a small slice
    y[:40] = 1  # ... with one class only
    hour = rng.integers(0, 5, n).astype(float)
    hour[rng.random(n) < 0.1] = np.nan  # a float column with nulls: keys "0" .. "4", "null"
    return y, score, {"text": text, "hour": hour}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("threshold", [0.3, 0.5, float(np.nextafter(1.0, 2.0))])
def test_sql_quality_and_slices_equal_sklearn(seed: int, threshold: float) -> None:
    y, score, slices = _classification_data(seed, 2000)
    con = duckdb.connect()
    table = _table(con, "s", y, score, **slices)
    _same_quality(evaluation.evaluate(y, score, task=CLS, threshold=threshold),
                  sql_metrics.quality(con, table, task=CLS, threshold=threshold))
    frame = pd.DataFrame({"y": y, "score": score, **slices})
    for metric in ("roc_auc", "log_loss") if seed == 0 else ("roc_auc",):
        _same_slices(evaluation.slice_metrics(frame, "y", "score", ["text", "hour"], task=CLS, threshold=threshold,
                                              min_rows=50, metric=metric),
                     sql_metrics.slice_metrics(con, table, ["text", "hour"], task=CLS, threshold=threshold,
                                               min_rows=50, metric=metric))


def test_sql_quality_hard_predictions_quantile_bins_and_refusals() -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 500)
    hard = (rng.random(500) < 0.5).astype(float)
    con = duckdb.connect()
    _same_quality(evaluation.evaluate(y, hard, task=CLS), sql_metrics.quality(con, _table(con, "h", y, hard), task=CLS))
    score = rng.random(500)
    a = evaluation.evaluate(y, score, task=CLS, calibration_strategy="quantile")
    b = sql_metrics.quality(con, _table(con, "q", y, score), task=CLS, calibration_strategy="quantile")
    assert a.calibration.counts == b.calibration.counts
    np.testing.assert_allclose(b.calibration.prob_pred, a.calibration.prob_pred, atol=TOL)
    for bad_y, bad_score, message in (
        (np.zeros(10, dtype=int), np.linspace(0, 1, 10), "roc_auc is undefined: y_true holds only the negative class"),
        (np.array([0, 1, 1]), np.array([0.2, np.nan, 0.5]),
         "contains NaN or infinity in 1 row(s), first at position 1"),
        (np.array([0, 1, 1]), np.array([0.2, 1.5, 0.5]), "probabilities of the positive class in [0, 1]"),
        (np.array([], dtype=int), np.array([]), "cannot evaluate zero rows"),
    ):
        with pytest.raises(EvaluationError, match=message.replace("(", r"\(").replace(")", r"\)")
                           .replace("[", r"\[").replace("]", r"\]")):
            sql_metrics.quality(con, _table(con, "bad", bad_y, bad_score), task=CLS)


@pytest.mark.parametrize("n", [150, 5000])  # curves drawn whole, and thinned to 200 points
def test_sql_curves_equal_sklearn(n: int) -> None:
    y, score, _ = _classification_data(7, n)
    con = duckdb.connect()
    table = _table(con, "c", y, score)
    a, b = evaluation.curves(y, score, task=CLS), sql_metrics.curves(con, table, task=CLS)
    for part, keys in (("roc", ("fpr", "tpr")), ("pr", ("recall", "precision"))):
        for key in keys:
            assert len(a[part][key]) == len(b[part][key]), (part, key)
            np.testing.assert_allclose(b[part][key], a[part][key], atol=1e-12)
    assert b["base_rate"] == pytest.approx(a["base_rate"])
    fine = np.random.default_rng(8).random(n)  # distinct scores: ROC corners only
    table = _table(con, "f", y, fine)
    a, b = evaluation.curves(y, fine, task=CLS), sql_metrics.curves(con, table, task=CLS)
    np.testing.assert_allclose(b["roc"]["fpr"], a["roc"]["fpr"], atol=1e-12)
    np.testing.assert_allclose(b["pr"]["precision"], a["pr"]["precision"], atol=1e-12)


def test_sql_regression_equals_sklearn() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    y = rng.normal(10, 3, n).round(1)
    pred = (y + rng.normal(0, 1, n)).round(1)  # ties
    group = rng.choice(np.array(["a", "b", "c", None], dtype=object), n)
    group[:10] = "constant"
    y[:10] = 7.0  # r2 undefined there
    con = duckdb.connect()
    table = _table(con, "r", y, pred, group=group)
    _same_quality(evaluation.evaluate(y, pred, task=REG), sql_metrics.quality(con, table, task=REG))
    frame = pd.DataFrame({"y": y, "score": pred, "group": group})
    _same_slices(evaluation.slice_metrics(frame, "y", "score", ["group"], task=REG, min_rows=5),
                 sql_metrics.slice_metrics(con, table, ["group"], task=REG, min_rows=5))
    a, b = evaluation.curves(y, pred, task=REG), sql_metrics.curves(con, table, task=REG)
    assert a["histogram"]["counts"] == b["histogram"]["counts"]
    np.testing.assert_allclose(b["histogram"]["edges"], a["histogram"]["edges"], atol=TOL)
    assert [g["rows"] for g in a["by_prediction"]] == [g["rows"] for g in b["by_prediction"]]
    for ga, gb in zip(a["by_prediction"], b["by_prediction"], strict=True):
        for key in ("pred_mean", "residual_mean", "residual_p10", "residual_p90"):
            assert gb[key] == pytest.approx(ga[key], abs=TOL)
    assert a["sample"] == b["sample"]  # the same fixed-seed rows


# -- the data: split and training sample in DuckDB ------------------------------------------------


@pytest.fixture()
def con() -> duckdb.DuckDBPyConnection:
    rng = np.random.default_rng(0)
    n = 6000
    frame = pd.DataFrame({
        "day": np.repeat(np.arange(1, 31), n // 30),
        "region": rng.choice(["north", "south", "east"], n),
        "x": rng.normal(0, 1, n).round(3),
        "k": rng.integers(0, 5, n),
    })
    frame["y"] = (frame["x"] + rng.normal(0, 1, n) > 1.3).astype(int)  # ~ 14 % positive
    frame.loc[::500, "y"] = None  # unknown targets: dropped and counted
    c = duckdb.connect()
    c.register("frame_view", frame)
    c.execute("CREATE TABLE events AS SELECT * FROM frame_view ORDER BY day")
    return c


def _spec(split: Split, **kw: object) -> ModelSpec:
    return ModelSpec(features=FeatureView(sql="SELECT * FROM events ORDER BY day, x, region, k"), split=split,
                     baseline=Baseline(kind="group_rate", groups=["region"], min_rows=10), **kw)


def test_train_sample_is_stratified_exact_seeded_and_recorded(con) -> None:
    temporal = dict(kind="temporal", column="day", train=[1, 20], evaluate=[21, 30])
    whole = modeling.load_data(con, _spec(Split(**temporal)), CLS)
    sampled = modeling.load_data(con, _spec(Split(**temporal, train_sample=TrainSample(rows=1000, seed=1))), CLS)
    again = modeling.load_data(con, _spec(Split(**temporal, train_sample=TrainSample(rows=1000, seed=1))), CLS)
    other = modeling.load_data(con, _spec(Split(**temporal, train_sample=TrainSample(rows=1000, seed=2))), CLS)
    assert len(sampled.train) == 1000 and sampled.train_split_rows == len(whole.train) == 3992
    assert sampled.train.equals(again.train) and not sampled.train.equals(other.train)
    assert sampled.train["day"].between(1, 20).all()
    assert list(sampled.train.columns) == list(whole.train.columns) and sampled.features == whole.features
    # stratified: each class keeps its share (largest remainder: within one row)
    share = whole.train["y"].value_counts() / len(whole.train) * 1000
    assert (sampled.train["y"].value_counts() - share).abs().max() < 1
    # the sample keeps the view's order, and is made of training rows
    assert sampled.train["day"].is_monotonic_increasing
    assert len(sampled.train.merge(whole.train, how="inner")) >= 1000
    # the held-out rows are never sampled
    assert sampled.eval_rows == whole.eval_rows == 1996
    params = sampled.params()
    assert params["split.train_sample.rows"] == 1000 and params["split.train_sample.seed"] == 1
    assert params["split.train_rows"] == 1000 and params["split.train_split_rows"] == 3992
    assert params["split.eval_rows"] == 1996 and params["split.dropped_null_target"] == 12
    assert "sample of the 3,992" in sampled.summary()
    # a sample at least as large as the split: the split whole, as without one
    big = modeling.load_data(con, _spec(Split(**temporal, train_sample=TrainSample(rows=10_000))), CLS)
    assert big.train.equals(whole.train) and big.params()["split.train_rows"] == 3992


def test_random_split_in_duckdb_is_exact_stratified_and_complete(con) -> None:
    data = modeling.load_data(con, _spec(Split(kind="random", test_size=0.25, seed=3)), CLS)
    n = 6000 - 12
    assert data.eval_rows == int(np.ceil(0.25 * n)) and len(data.train) + data.eval_rows == n
    held = data.evaluate
    both = pd.concat([data.train, held])
    assert len(both.drop_duplicates()) == len(con.sql("SELECT DISTINCT * FROM events WHERE y IS NOT NULL").fetchall())
    rate = lambda frame: frame["y"].mean()  # noqa: E731
    assert abs(rate(data.train) - rate(held)) < 0.002
    again = modeling.load_data(con, _spec(Split(kind="random", test_size=0.25, seed=3)), CLS)
    assert again.evaluate.equals(held)
    sampled = modeling.load_data(con, _spec(Split(kind="random", test_size=0.25, seed=3,
                                                  train_sample=TrainSample(rows=500, seed=0))), CLS)
    assert len(sampled.train) == 500 and sampled.evaluate.equals(held)
    for d in (data, sampled):  # the positions the draws hash never reach the models
        assert not [c for c in (*d.train.columns, *d.heldout.columns, *d.features) if c.startswith("__wb")]
    assert len(sampled.train.merge(held, how="inner")) == 0  # drawn from the training rows only


# -- streaming scoring ------------------------------------------------------------------------


def test_streaming_assessment_equals_scoring_in_memory(con) -> None:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # many tiny batches: a thread pool per tree would only add start-ups
        _streaming_equals_in_memory(con)


def _streaming_equals_in_memory(con) -> None:
    temporal = Split(kind="temporal", column="day", train=[1, 20], evaluate=[21, 30])
    spec = _spec(temporal)
    data = modeling.load_data(con, spec, CLS, batch_rows=7)  # copied into the scratch database 7 rows at a time
    rule = modeling.fit_baseline(spec.baseline, data.train, data.y_train, CLS)
    model, threshold = modeling.fit_candidate(
        Candidate(name="hgb", estimator="sklearn.ensemble.HistGradientBoostingClassifier", params={"max_iter": 20}),
        data, CLS, CostModel(), fallback=rule)
    frame = data.evaluate  # the whole held-out set in memory: the reference
    assert len(frame) == data.eval_rows and frame["day"].between(21, 30).all()
    expected = con.sql("SELECT * FROM events WHERE day BETWEEN 21 AND 30 AND y IS NOT NULL "
                       "ORDER BY day, x, region, k").df()
    assert frame["x"].tolist() == expected["x"].tolist()  # numbered in the view's order
    for m in (rule, model):
        scores = m.score(frame[data.features]).to_numpy()
        whole = pd.DataFrame({"y": frame["y"], "score": scores, "region": frame["region"], "k": frame["k"]})
        ref_q = evaluation.evaluate(frame["y"], scores, task=CLS, threshold=threshold)
        ref_s = evaluation.slice_metrics(whole, "y", "score", ["region", "k"], task=CLS, threshold=threshold,
                                         min_rows=30)
        ref_c = evaluation.curves(frame["y"], scores, task=CLS)
        results = [modeling.assess("m", m, data, task=CLS, cost=CostModel(), threshold=threshold,
                                   slice_columns=["region", "k"], min_slice_rows=30, single_items=5, batch_size=50,
                                   timing_rows=200, score_batch_rows=rows) for rows in (37, 100_000)]
        for result in results:
            np.testing.assert_array_equal(result.scores.to_numpy(), scores)
            np.testing.assert_array_equal(result.score_head(5), scores[:5])
            _same_quality(ref_q, result.quality)
            _same_slices(ref_s, result.slices)
            for part, key in (("roc", "fpr"), ("roc", "tpr"), ("pr", "precision"), ("pr", "recall")):
                np.testing.assert_allclose(result.curves()[part][key], ref_c[part][key], atol=1e-12)
            assert result.timing.n_inputs == 200 and result.metrics()["probes.crashed"] == 0
        assert results[0].metrics().keys() == results[1].metrics().keys()


def test_scratch_database_is_removed_with_its_data(con) -> None:
    data = modeling.load_data(con, _spec(Split(kind="temporal", column="day", train=[1, 20], evaluate=[21, 30])), CLS)
    folder = Path(data.heldout.folder)
    assert (folder / "scratch.duckdb").is_file()
    del data
    gc.collect()
    assert not folder.exists()


# -- slow: a pilot on a 10x larger table, peak memory of the whole process tree ------------------

CHARTER = """\
name: scale-{rows}
owner: scale-test@pilot-team.internal
question: does a pilot's memory stay flat as its table grows?
primary_metric: quality.roc_auc
task: {{kind: classification, target: y, positive_label: 1}}
sources:
  events:
    path: data/events.csv
    columns: {{id: BIGINT, day: BIGINT, region: VARCHAR, hour: BIGINT, x1: DOUBLE, x2: DOUBLE, y: BIGINT}}
features: {{sql: "SELECT * EXCLUDE (id) FROM events ORDER BY id"}}
split:
  kind: temporal
  column: day
  train: [1, 75]
  evaluate: [76, 100]
  train_sample: {{rows: 20000, seed: 0}}
baseline: {{kind: group_rate, groups: [region, hour], min_rows: 30}}
candidates:
  - {{name: hgb, estimator: sklearn.ensemble.HistGradientBoostingClassifier, params: {{max_iter: 30}}}}
steps:
  - {{name: baseline, role: baseline, notebook: notebooks/baseline.ipynb, parameters: {{slice_columns: [region]}}}}
  - {{name: evaluate, role: evaluate, notebook: notebooks/evaluate.ipynb, parameters: {{slice_columns: [region]}}}}
"""


def _pilot(folder: Path, rows: int) -> Path:
    (folder / "data").mkdir(parents=True)
    shutil.copytree(REPO / "notebooks", folder / "notebooks")
    region = "['north', 'south', 'east', 'west'][(1 + hash(range) % 4)::BIGINT]"
    x1, noise = "(hash(range, 2) % 1000) / 100.0", "(hash(range, 4) % 600) / 100.0"
    duckdb.execute(f"""COPY (SELECT range AS id, 1 + range % 100 AS day, {region} AS region,
                              hash(range, 1) % 24 AS hour, {x1} AS x1, (hash(range, 3) % 1000) / 100.0 AS x2,
                              CASE WHEN {x1} + {noise} > 9 THEN 1 ELSE 0 END AS y
                       FROM range({rows})) TO '{folder / "data" / "events.csv"}' (HEADER)""")
    charter = folder / "pilot.yaml"
    charter.write_text(CHARTER.format(rows=rows))
    return charter


def _peak_tree_rss_mb(cmd: list[str], cwd: Path, timeout: float) -> tuple[dict[str, float], subprocess.CompletedProcess]:
    """Run ``cmd``; the peak memory (PSS, MB) of its tree (``tree``: the largest total seen at
    one instant, counting one step kernel: the largest alive), and of each process by role:
    ``driver``, ``server`` (its warm-kernel server), ``kernel 1``, ``kernel 2``, ... in the order
    they started (the launchers, a few MB of standard library, are in the tree only). Steps run
    one at a time; on a loaded machine one step's kernel may still be ending while the next
    starts, or not, and a total counting both would measure that, not the table."""
    import psutil

    with open(cwd / "run.log", "w") as log:
        # the run's own warm-kernel server, not the test session's: its kernels are in the tree
        env = {k: v for k, v in os.environ.items() if k != "WORKBENCH_KERNEL_SERVER"}
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env)
        parent, started = psutil.Process(proc.pid), time.monotonic()
        peaks: dict[tuple[int, float], int] = {}  # each process's own peak (pid and start time: a process)
        roles: dict[tuple[int, float], str] = {}
        tree = 0
        while proc.poll() is None:
            if time.monotonic() - started > timeout:
                proc.kill()
                break
            total, kernel = 0, 0
            try:
                for p in [parent, *parent.children(recursive=True)]:
                    try:
                        # PSS: pages a kernel shares with the server it was forked from count once
                        key, pss = (p.pid, p.create_time()), p.memory_full_info().pss
                        if key not in roles:
                            line = " ".join(p.cmdline())
                            roles[key] = ("driver" if p.pid == parent.pid else "launcher" if "warm_kernels launch" in line
                                          else "server" if p.ppid() == parent.pid else "kernel")
                        peaks[key] = max(peaks.get(key, 0), pss)
                        if roles[key] == "kernel":
                            kernel = max(kernel, pss)
                        else:
                            total += pss
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            tree = max(tree, total + kernel)
            time.sleep(0.05)
    by_role, kernels = {"tree": tree / 2**20}, 0
    for key in sorted(peaks, key=lambda k: k[1]):
        role = roles[key]
        if role == "kernel":
            kernels += 1
            role = f"kernel {kernels}"
        if role != "launcher":
            by_role[role] = max(by_role.get(role, 0.0), peaks[key] / 2**20)
    return by_role, subprocess.CompletedProcess(cmd, proc.wait(), (cwd / "run.log").read_text(), "")


@pytest.mark.slow
def test_peak_tree_memory_does_not_grow_with_the_table(tmp_path: Path) -> None:
    """The same pilot on 100 k and 1 M rows: the larger one's peak memory (PSS), summed over
    the driver, its kernel server and its step kernel, stays within 1.35x of the smaller one's
    (each process's own peak is in the message)."""
    peaks = {}
    for rows in (100_000, 1_000_000):
        charter = _pilot(tmp_path / f"r{rows}", rows)
        peak, run = _peak_tree_rss_mb([sys.executable, "-m", "workbench.cli", "run", "--pilot", str(charter)],
                                      charter.parent, timeout=300)
        assert run.returncode in (0, 3), run.stdout[-3000:]  # 3: a no-go decision, the pilot ran
        peaks[rows] = peak
    small, large = peaks[100_000], peaks[1_000_000]
    assert {"driver", "server", "kernel 1", "kernel 2"} <= set(small) & set(large), peaks  # what was measured
    assert large["tree"] <= 1.35 * small["tree"], peaks
