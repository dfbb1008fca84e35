"""Timing: exact statistics and cost arithmetic, and the measurement's structure on
controlled callables (ordering and bounds only: speed itself is for bench/)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from workbench.charter.config import CostModel
from workbench.errors import EvaluationError
from workbench.measure.timing import TimingResult, latency_summary, percentiles, plot_latency, time_predictions


def _result(**overrides) -> TimingResult:
    base = dict(
        input_type="numpy.ndarray", n_inputs=4000, batch_size=1000, warmup=0, repeats=1,
        single_latencies_ms=(2.0,) * 10,
        batch_latencies_ms=(400.0, 400.0, 400.0, 400.0),  # 4000 rows in 1.6 s -> 2500 rows/s
        batch_rows=(1000, 1000, 1000, 1000),
    )
    base.update(overrides)
    return TimingResult(**base)


# -- pure statistics ----------------------------------------------------------------------


def test_percentiles_linear_method_exact():
    samples = list(range(1, 11))  # 1..10
    p = percentiles(samples)
    # linear: position (n-1) * q -> 9 * 0.5 = 4.5 -> 5.5; 9 * .95 = 8.55 -> 9.55; 9 * .99 = 8.91 -> 9.91
    assert p == {50.0: pytest.approx(5.5), 95.0: pytest.approx(9.55), 99.0: pytest.approx(9.91)}
    assert percentiles([7.0]) == {50.0: 7.0, 95.0: 7.0, 99.0: 7.0}
    assert percentiles([0, 100], (25,)) == {25.0: 25.0}


def test_latency_summary_exact():
    s = latency_summary([1.0, 2.0, 3.0, 4.0, 100.0])
    assert s["p50_ms"] == 3.0
    assert s["p95_ms"] == pytest.approx(4 + 0.8 * 96)  # position 3.8
    assert s["p99_ms"] == pytest.approx(4 + 0.96 * 96)  # position 3.96
    assert s["max_ms"] == 100.0
    assert s["mean_ms"] == pytest.approx(22.0)


def test_percentiles_of_nothing_is_an_error():
    with pytest.raises(EvaluationError, match="zero samples"):
        percentiles([])


# -- cost arithmetic ------------------------------------------------------------------------


def test_cost_per_1k_exact():
    cost = CostModel(compute_usd_per_hour=3.6, usd_per_call=0.002, human_seconds_per_item=36.0, human_usd_per_hour=50.0)
    r = _result(cost=cost, calls_per_item=1.0, calls_per_batch=1.0)
    m = r.metrics()
    assert m["throughput.items_per_s"] == pytest.approx(2500.0)
    assert m["latency.batch_per_item_ms"] == pytest.approx(0.4)
    # compute: 3.6 $/h = 0.001 $/s; 0.0004 s/row -> 4e-7 $/row -> 4e-4 per 1k. calls: 0.002 $ per 1000-row batch -> 0.002 per 1k
    assert m["cost.per_1k_usd"] == pytest.approx(4e-4 + 0.002)
    # single: mean 2 ms -> 0.001 * 0.002 * 1000 = 0.002 compute; one call per row -> 2 $ per 1k
    assert m["cost.single_per_1k_usd"] == pytest.approx(0.002 + 2.0)
    # human: 36 s/row * 1000 = 10 h at 50 $/h
    assert m["cost.human_per_1k_usd"] == pytest.approx(500.0)
    assert m["cost.saved_per_1k_usd"] == pytest.approx(500.0 - 0.0024)
    assert m["time_saved.per_1k_hours"] == pytest.approx((36.0 - 0.0004) * 1000 / 3600)


def test_calls_per_batch_amortised_and_human_cost_optional():
    cost = CostModel(usd_per_call=0.01, human_seconds_per_item=10.0)  # no human rate
    m = _result(cost=cost, calls_per_batch=1000.0).metrics()  # an API called once per row
    assert m["cost.per_1k_usd"] == pytest.approx(10.0)
    assert "cost.human_per_1k_usd" not in m and "cost.saved_per_1k_usd" not in m
    assert m["time_saved.per_1k_hours"] == pytest.approx((10.0 - 0.0004) * 1000 / 3600)


def test_metrics_only_those_that_apply():
    m = _result(single_latencies_ms=()).metrics()
    assert not any(k.startswith("cost.") for k in m)
    assert "latency.p50_ms" not in m and "memory.peak_mb" not in m
    assert set(m) == {"latency.batch_p50_ms", "latency.batch_max_ms", "latency.batch_per_item_ms", "throughput.items_per_s"}
    assert all(np.isfinite(v) for v in m.values())


def test_batch_latency_stats_use_full_batches_only():
    r = _result(batch_latencies_ms=(10.0, 20.0, 1.0), batch_rows=(1000, 1000, 5), n_inputs=2005)
    m = r.metrics()
    assert m["latency.batch_p50_ms"] == pytest.approx(15.0)
    assert m["latency.batch_max_ms"] == 20.0
    assert m["throughput.items_per_s"] == pytest.approx(2005 / 0.031)


# -- measurement on controlled callables ------------------------------------------------


class SleepyModel:
    """Sleeps 5 ms on its first `slow_calls` calls, then `per_call_s` + `per_row_s` * rows."""

    def __init__(self, slow_calls=0, per_call_s=0.0, per_row_s=0.0):
        self.calls = 0
        self.slow_calls = slow_calls
        self.per_call_s = per_call_s
        self.per_row_s = per_row_s
        self.seen_types: set[type] = set()
        self.seen_ndim: set[int] = set()

    def __call__(self, rows):
        self.calls += 1
        self.seen_types.add(type(rows))
        self.seen_ndim.add(np.ndim(rows))
        if self.calls <= self.slow_calls:
            time.sleep(0.005)
        elif self.per_call_s or self.per_row_s:
            time.sleep(self.per_call_s + self.per_row_s * len(rows))
        return np.zeros(len(rows))


def test_warmup_calls_are_excluded():
    model = SleepyModel(slow_calls=5)
    r = time_predictions(model, np.zeros((50, 3)), single_items=30, warmup=5, batch_size=25, measure_memory=False)
    assert len(r.single_latencies_ms) == 30
    assert max(r.single_latencies_ms) < 5.0  # the 5 ms warm-up sleeps are not in the samples
    # 5 warm-up + 30 timed singles + 1 warm-up batch + 2 batches
    assert model.calls == 5 + 30 + 1 + 2

    cold = SleepyModel(slow_calls=5)
    r0 = time_predictions(cold, np.zeros((50, 3)), single_items=30, warmup=0, batch_size=25, measure_memory=False)
    assert sum(ms >= 5.0 for ms in r0.single_latencies_ms) == 5  # without warm-up they show up


def test_single_vs_batch_ordering_and_bounds():
    # 1 ms overhead per call, 10 us per row: batching must amortise the overhead.
    model = SleepyModel(per_call_s=0.001, per_row_s=0.00001)
    r = time_predictions(model, np.zeros((400, 2)), single_items=20, warmup=2, batch_size=200, repeats=2,
                         measure_memory=False)
    m = r.metrics()
    assert m["latency.p50_ms"] >= 1.0  # sleep() never returns early
    assert m["latency.p50_ms"] <= m["latency.p95_ms"] <= m["latency.p99_ms"] <= m["latency.max_ms"]
    assert m["latency.batch_p50_ms"] >= 1.0 + 200 * 0.01
    assert m["latency.batch_per_item_ms"] < m["latency.p50_ms"]
    assert len(r.batch_latencies_ms) == 4 and r.batch_rows == (200, 200, 200, 200)
    assert m["throughput.items_per_s"] == pytest.approx(1000.0 / m["latency.batch_per_item_ms"])


@pytest.mark.parametrize("make", [lambda a: a, lambda a: pd.DataFrame(a, columns=["x", "y"], index=range(100, 130))])
def test_rows_sliced_the_same_way_for_numpy_and_pandas(make):
    inputs = make(np.arange(60.0).reshape(30, 2))
    model = SleepyModel()
    r = time_predictions(model, inputs, single_items=40, warmup=3, batch_size=7, measure_memory=False)
    assert model.seen_types == {type(inputs)}  # never converted
    assert model.seen_ndim == {2}  # a single row is still a 1-row 2-D block
    assert r.input_type in ("numpy.ndarray", "pandas.DataFrame")
    assert r.batch_rows == (7, 7, 7, 7, 2)
    assert any("cycled" in n for n in r.notes)  # 40 singles over 30 rows


def test_memory_peak_sees_the_allocation():
    def hungry(rows):
        scratch = np.ones((len(rows), 100_000))  # 800 kB per row, reported to tracemalloc by numpy
        return scratch[:, 0].copy()

    r = time_predictions(hungry, np.zeros((40, 1)), single_items=0, batch_size=20, warmup=0)
    assert 20 * 0.8 * 0.95 <= r.metrics()["memory.peak_mb"] <= 40 * 0.8  # one 16 MB batch, not all rows
    assert r.rss_growth_mb is None or r.rss_growth_mb >= 0


def test_empty_inputs_and_bad_settings_are_errors():
    with pytest.raises(EvaluationError, match="empty inputs"):
        time_predictions(SleepyModel(), np.zeros((0, 3)))
    with pytest.raises(EvaluationError, match="empty inputs"):
        time_predictions(SleepyModel(), pd.DataFrame({"a": []}))
    with pytest.raises(EvaluationError, match="batch_size"):
        time_predictions(SleepyModel(), np.zeros((3, 1)), batch_size=0)


def test_predict_errors_and_wrong_lengths_are_located():
    def broken(rows):
        raise KeyError("dep_hour")

    with pytest.raises(EvaluationError, match="KeyError") as info:
        time_predictions(broken, np.zeros((3, 1)), warmup=0)
    assert "single-row call 0" in str(info.value) and isinstance(info.value.__cause__, KeyError)

    with pytest.raises(EvaluationError, match="returned 1 predictions for 3 rows"):
        time_predictions(lambda rows: np.zeros(1), np.zeros((3, 1)), single_items=0, warmup=0)


def test_threads_and_to_dict():
    r = time_predictions(SleepyModel(), np.zeros((10, 1)), single_items=5, warmup=1, batch_size=5, threads=1,
                         cost=CostModel(compute_usd_per_hour=1.0))
    d = r.to_dict()
    assert d["threads"] == 1 and d["cost"]["compute_usd_per_hour"] == 1.0
    assert d["metrics"] == r.metrics() and len(d["single_latencies_ms"]) == 5
    import json

    json.dumps(d)


def test_plot_latency():
    from matplotlib.figure import Figure

    fig = plot_latency(_result(single_latencies_ms=tuple(float(x) for x in range(1, 101))))
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(ax.lines) == 3  # p50, p95, p99
    assert ax.lines[0].get_xdata()[0] == pytest.approx(50.5)
    with pytest.raises(EvaluationError, match="no single-row latencies"):
        plot_latency(_result(single_latencies_ms=()))


def _alternating(fast_ms: float = 1.0, slow_ms: float = 3.0, block: int = 12):
    """A predict whose single-row calls run slow and fast in alternate runs of ``block`` calls:
    a controlled slow-down that moves the p95 from block to block."""
    import time as _time

    calls = [0]

    def predict(rows):
        if len(rows) == 1:
            _time.sleep((fast_ms if (calls[0] // block) % 2 == 0 else slow_ms) / 1000)
            calls[0] += 1
        return [0.0] * len(rows)
    return predict


def test_a_budget_inside_the_noise_is_measured_again_and_flagged() -> None:
    from workbench.measure.timing import time_in_blocks

    rows = [[float(i)] for i in range(10)]
    # fast and slow runs far apart (no sleep vs 30 ms), the budget between them. The interval
    # across the 15 blocks (8 fast, 7 slow) is about their mean ± 0.29 x the gap, so 12 ms stays
    # inside it while the fast calls take under ~5 ms and the slow ones 30-60 ms: a loaded
    # machine stretches both (a 1 ms sleep was seen to take 6, a budget of 8 then fell outside)
    budget = {"latency.p95_ms": {"op": "<=", "value": 12.0}}
    noisy = time_in_blocks(_alternating(fast_ms=0.0, slow_ms=30.0), rows, blocks=5, single_items=60, warmup=0,
                           batch_size=5, budgets=budget, measure_memory=False)
    assert noisy.blocks == 15 and len(noisy.single_latencies_ms) == 180  # re-measured twice
    assert noisy.inside_noise and "latency.p95_ms <= 12" in noisy.inside_noise[0]
    m = {**noisy.metrics(), **noisy.block_metrics()}
    assert m["timing.inside_noise"] == 1.0 and m["timing.blocks"] == 15.0
    assert m["latency.p95_ms_ci_low"] < 12.0 < m["latency.p95_ms_ci_high"]
    assert m["latency.p95_ms_spread"] > 20.0  # the slow blocks are ~30 ms slower
    clear = time_in_blocks(_alternating(), rows, blocks=5, single_items=60, warmup=0, batch_size=5,
                           budgets={"latency.p95_ms": {"op": "<=", "value": 100.0}}, measure_memory=False)
    assert clear.blocks == 5 and not clear.inside_noise and clear.metrics()["timing.inside_noise"] == 0.0
    assert clear.interval("throughput.items_per_s") is not None


def test_the_memory_pass_scores_its_first_batches_only():
    from workbench.measure.timing import MEMORY_BATCHES

    calls = []

    def counted(rows):
        calls.append(len(rows))
        return np.zeros(len(rows))

    r = time_predictions(counted, np.zeros((100, 1)), single_items=0, batch_size=5, warmup=0)
    assert len(r.batch_latencies_ms) == 20  # every row is timed in batches
    assert calls == [5] * (20 + MEMORY_BATCHES)  # then the untimed memory pass: its first batches, no more
    assert r.peak_memory_mb is not None


@pytest.mark.parametrize("enabled", [True, False])
def test_the_memory_pass_runs_without_collections_and_leaves_the_collector_as_it_was(enabled: bool) -> None:
    # no full collection (~0.2 s in a kernel's heap, older garbage cannot change tracemalloc's
    # peak) and none landing inside the pass; the collector's state is restored, even after an error
    import gc

    collector_on: list[bool] = []
    full_before = gc.get_stats()[2]["collections"]

    def probe(rows):
        collector_on.append(gc.isenabled())
        return np.zeros(len(rows))

    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        time_predictions(probe, np.zeros((10, 1)), single_items=0, batch_size=5, warmup=0)
        assert gc.isenabled() is enabled
        assert gc.get_stats()[2]["collections"] == full_before
        assert collector_on == [False] * 4  # two timed batches, then the memory pass's two: all paused

        def broken(rows):
            raise ValueError("boom")

        with pytest.raises(EvaluationError):
            from workbench.measure.timing import _memory_pass

            _memory_pass(broken, lambda i, j: np.zeros((j - i, 1)), 10, 5)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
