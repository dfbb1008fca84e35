"""Profiles and drift computed in DuckDB, checked against tables with known values."""

from __future__ import annotations

import json
import math
import re
import statistics
import zipfile
from pathlib import Path

import duckdb
import pytest

from demos.flights import package_data
from workbench.data.profile_alerts import alerts
from workbench.errors import WarehouseError
from workbench.data.profiling import (
    ColumnProfile,
    DriftReport,
    Histogram,
    TableProfile,
    drift,
    histogram_on_edges,
    plot_drift,
    plot_histograms,
    profile_table,
    psi,
)

FLIGHTS_ZIP = package_data() / "flights.csv.zip"
METRIC_NAME = re.compile(r"^[A-Za-z0-9_.\-/ ]+$")


@pytest.fixture
def con(tmp_path: Path):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield con
    con.close()


@pytest.fixture
def known(con):
    """110 rows: x = 1..100 then 10 NULLs; s = a*50, b*30, c*20, NULL*10; and more."""
    con.execute(
        """
        CREATE TABLE known AS
        SELECT
            CASE WHEN i <= 100 THEN i END::INTEGER AS x,
            CASE WHEN i <= 50 THEN 'a' WHEN i <= 80 THEN 'b' WHEN i <= 100 THEN 'c' END AS s,
            i % 4 = 0 AS flag,
            DATE '2024-01-01' + (i - 1)::INTEGER AS day,
            CASE WHEN i = 1 THEN 'nan'::DOUBLE WHEN i = 2 THEN 'inf'::DOUBLE ELSE i / 10 END AS f,
            (i * 1.25)::DECIMAL(10, 2) AS price,
            NULL::VARCHAR AS empty_col,
            [i] AS nested
        FROM range(1, 111) r(i)
        """
    )
    return profile_table(con, "known")


def test_numeric_column_stats_are_exact_where_promised(known):
    x = known["x"]
    assert (x.kind, x.dtype) == ("numeric", "INTEGER")
    assert (known.row_count, x.row_count, x.null_count) == (110, 110, 10)
    assert x.null_rate == pytest.approx(10 / 110)
    assert (x.min, x.max) == (1.0, 100.0)
    assert x.mean == pytest.approx(50.5)
    assert x.std == pytest.approx(statistics.stdev(range(1, 101)))
    # approx_quantile (t-digest): close, not exact.
    assert x.quantiles["p50"] == pytest.approx(50.5, abs=1.5)
    assert x.quantiles["p05"] == pytest.approx(5.5, abs=1.5)
    assert x.quantiles["p99"] == pytest.approx(99.5, abs=1.5)
    assert list(x.quantiles) == ["p01", "p05", "p25", "p50", "p75", "p95", "p99"]
    # 100 distinct values <= LOW_CARDINALITY: counted exactly.
    assert (x.distinct_count, x.distinct_is_exact) == (100, True)
    assert len(x.top_values) == 10 and all(c == 1 for _, c in x.top_values)


def test_quantiles_of_large_columns_come_from_a_uniform_sample(con):
    con.execute("CREATE TABLE big AS SELECT i::DOUBLE AS v FROM range(50000) r(i)")
    con.execute("CREATE VIEW big_view AS SELECT * FROM big")
    sampled = profile_table(con, "big", quantile_sample_rows=5000)["v"]
    assert 4000 < sampled.quantile_sample < 6000  # every 10th row, by hash(rowid)
    for name, p in (("p01", 0.01), ("p25", 0.25), ("p50", 0.5), ("p99", 0.99)):
        assert sampled.quantiles[name] == pytest.approx(p * 50000, abs=0.02 * 50000)
    assert (sampled.min, sampled.max, sampled.mean) == (0.0, 49999.0, 24999.5)  # never sampled
    assert profile_table(con, "big", quantile_sample_rows=5000)["v"] == sampled  # deterministic
    full = profile_table(con, "big_view", quantile_sample_rows=5000)["v"]  # views have no rowid
    assert full.quantile_sample == 50000
    assert profile_table(con, "big")["v"].quantile_sample == 50000


def test_histogram_counts_every_non_null_value_once(known):
    h = known["x"].histogram
    assert len(h.edges) == 21 and len(h.counts) == 20
    assert (h.edges[0], h.edges[-1]) == (0.5, 100.5)  # integers: whole-width bins, 1..5, ..., 96..100
    assert sum(h.counts) == 100
    assert h.counts == (5,) * 20


def test_integer_bins_are_aligned_on_whole_values(con):
    con.execute("CREATE TABLE t AS SELECT (i % 3)::TINYINT AS v, (i % 31 + 1)::INTEGER AS day FROM range(93) r(i)")
    prof = profile_table(con, "t")
    h = prof["v"].histogram
    assert h.edges == (-0.5, 0.5, 1.5, 2.5)
    assert h.counts == (31, 31, 31)
    day = prof["day"].histogram  # 31 values in bins of 2, not 20 bins of 1.55 (a sawtooth)
    assert day.edges[:3] == (0.5, 2.5, 4.5) and len(day.counts) == 16
    assert day.counts == (6,) * 15 + (3,)


def test_a_distinct_estimate_never_exceeds_the_rows_or_an_integer_range(con):
    """DuckDB's HyperLogLog estimates 5,283 distinct values in 5,000 rows, and 2,034 in the 2,000
    integers 0..1999 however often they repeat: the profile says at most the non-null rows, and
    for an integer column at most its range's width, still marked as an estimate."""
    con.execute("CREATE TABLE t AS SELECT (i * 7919)::BIGINT AS spread, (i % 2000)::INTEGER AS day "
                "FROM range(5000) r(i)")
    raw = {c: con.execute(f"SELECT approx_count_distinct({c}) FROM t").fetchone()[0] for c in ("spread", "day")}
    assert raw["spread"] > 5000 and raw["day"] > 2000, raw  # DuckDB's overshoot
    prof = profile_table(con, "t")
    assert (prof["spread"].distinct_count, prof["day"].distinct_count) == (5000, 2000)
    assert not prof["spread"].distinct_is_exact and not prof["day"].distinct_is_exact  # estimates, bounded


def test_categorical_top_values_and_distinct(known):
    s = known["s"]
    assert s.kind == "categorical"
    assert s.top_values == (("a", 50), ("b", 30), ("c", 20))
    assert (s.distinct_count, s.distinct_is_exact) == (3, True)
    assert (s.null_count, s.other_count) == (10, 0)
    assert s.histogram is None and s.min is None


def test_boolean_temporal_float_decimal_and_other_kinds(known):
    flag = known["flag"]
    assert flag.kind == "boolean"
    assert dict(flag.top_values) == {False: 83, True: 27}

    day = known["day"]
    assert day.kind == "temporal"
    assert (day.min_label, day.max_label) == ("2024-01-01", "2024-04-19")
    assert day.max - day.min == 109 * 86400  # epoch seconds
    assert sum(day.histogram.counts) == 110

    f = known["f"]  # NaN and +inf are counted apart and kept out of the statistics
    assert (f.non_finite_count, f.null_count) == (2, 0)
    assert (f.min, f.max) == (0.3, 11.0)
    assert sum(f.histogram.counts) == 108

    price = known["price"]
    assert (price.kind, price.min, price.max) == ("numeric", 1.25, 137.5)

    nested = known["nested"]
    assert (nested.kind, nested.null_count, nested.histogram, nested.top_values) == ("other", 0, None, ())


def test_all_null_column_profiles_without_stats(known):
    col = known["empty_col"]
    assert (col.null_count, col.null_rate, col.distinct_count) == (110, 1.0, 0)
    assert col.top_values == () and col.histogram is None


def test_all_null_numeric_column(con):
    con.execute("CREATE TABLE t AS SELECT NULL::DOUBLE AS v FROM range(5)")
    col = profile_table(con, "t")["v"]
    assert (col.null_rate, col.min, col.mean, col.quantiles, col.histogram) == (1.0, None, None, {}, None)
    stats = profile_table(con, "t").column_stats()
    assert stats["profile.t.v.null_rate"] == 1.0
    assert "profile.t.v.mean" not in stats


def test_empty_table_profiles_to_nan_free_metrics(con):
    con.execute("CREATE TABLE empty (a INTEGER, b VARCHAR, c TIMESTAMP, d BOOLEAN)")
    prof = profile_table(con, "empty")
    assert prof.row_count == 0
    assert [c.null_rate for c in prof.columns] == [0.0] * 4
    metrics = prof.metrics()
    assert metrics["profile.empty.row_count"] == 0.0
    assert all(math.isfinite(v) for v in metrics.values())
    json.dumps(prof.to_dict(), allow_nan=False)
    report = drift(prof, prof)
    assert report.flagged == [] and all(c.psi is None for c in report.columns)
    assert all(math.isfinite(v) for v in report.metrics().values())


def test_missing_table_names_it_and_lists_existing(con, known):
    with pytest.raises(WarehouseError) as err:
        profile_table(con, "flihgts")
    assert "'flihgts' does not exist" in str(err.value)
    assert "known" in err.value.hint


def test_high_cardinality_column_keeps_exact_counts_for_heavy_hitters(con):
    con.execute(
        "CREATE TABLE ids AS SELECT CASE WHEN i % 10 = 0 THEN 'hot' ELSE 'id' || i END AS id FROM range(20000) r(i)"
    )
    col = profile_table(con, "ids", top_k=5)["id"]
    assert col.top_values[0] == ("hot", 2000)
    assert not col.distinct_is_exact
    assert col.distinct_count == pytest.approx(18001, rel=0.05)  # HyperLogLog


def test_a_column_of_addresses_no_contract_marks_is_profiled_as_counts_only(con):
    """Personal data by its look: a hand-written contract that forgot `pii: true` on a column
    of e-mail addresses or phone numbers does not put them in the profile; a column of codes does."""
    con.execute("CREATE TABLE people AS SELECT 'cust.' || i || '@mailbox.net' AS contact, "
                "'+44 7700 9' || lpad(i::VARCHAR, 5, '0') AS reach_at, 'ORD-' || i AS order_ref, "
                "(i % 3)::VARCHAR AS grp FROM range(500) r(i)")
    profile = profile_table(con, "people")
    for name, look in (("contact", "email addresses"), ("reach_at", "phone numbers")):
        col = profile[name]
        assert col.pii and col.pii_look == look and col.top_values == ()
        (alert,) = [a for a in alerts(profile) if a.column == name]
        assert alert.kind == "personal" and f"personal data by its look ({look})" in alert.message
    assert not profile["order_ref"].pii and profile["order_ref"].top_values
    text = json.dumps(profile.to_dict())
    assert "@mailbox.net" not in text and "7700" not in text and "ORD-1" in text
    assert TableProfile.from_dict(json.loads(text))["contact"].pii_look == "email addresses"


def test_quoted_names_and_metric_names(con):
    con.execute('CREATE TABLE "my table" AS SELECT i AS "dep delay (min)", \'x"y\' AS "q""col" FROM range(10) r(i)')
    prof = profile_table(con, "my table")
    assert prof.column_names == ["dep delay (min)", 'q"col']
    assert prof['q"col'].top_values == (('x"y', 10),)
    stats = prof.column_stats()
    assert all(METRIC_NAME.match(k) for k in stats)
    assert stats["profile.my table.dep delay _min_.max"] == 9.0
    assert all(METRIC_NAME.match(k) for k in prof.metrics())


def test_json_round_trip(known, con):
    text = json.dumps(known.to_dict(), allow_nan=False)
    back = TableProfile.from_dict(json.loads(text))
    assert back == known
    current = profile_table(con, "known", reference=back)
    again = TableProfile.from_dict(json.loads(json.dumps(current.to_dict())))
    assert again == current and again["x"].reference_histogram is not None


def test_from_dict_rejects_garbage():
    with pytest.raises(WarehouseError, match="not a table profile"):
        TableProfile.from_dict({"table": "t"})


def test_metrics_are_flat_named_and_finite(known):
    stats = known.column_stats("profile")
    assert stats["profile.known.x.null_rate"] == pytest.approx(10 / 110)
    assert stats["profile.known.s.distinct_count"] == 3.0
    assert stats["profile.known.flag.true_rate"] == pytest.approx(27 / 110)
    assert all(METRIC_NAME.match(k) and math.isfinite(v) for k, v in stats.items())


def test_mlflow_metrics_are_per_table_not_per_column(known, con):
    # per-column statistics are artifacts (JSON, the HTML report); MLflow gets a bounded few
    assert known.metrics() == {"profile.known.row_count": 110.0, "profile.known.column_count": len(known.columns)}
    report = drift(known, profile_table(con, "known", reference=known))
    assert set(report.metrics()) == {"drift.known.flagged_count", "drift.known.schema_changes",
                                     "drift.known.max_psi"}
    assert report.metrics()["drift.known.max_psi"] == pytest.approx(0.0, abs=1e-6)


def test_histogram_on_edges_counts_outside_values(known, con):
    h = histogram_on_edges(con, "known", "x", [10, 20, 30])
    assert (h.below, h.counts, h.above) == (9, (10, 11), 70)
    uneven = histogram_on_edges(con, "known", "x", [0, 50, 60, 100])
    assert (uneven.counts, uneven.total) == ((49, 10, 41), 100)
    with pytest.raises(WarehouseError, match="not a numeric or temporal"):
        histogram_on_edges(con, "known", "s", [0, 1])


# --------------------------------------------------------------------------- drift


def _normal_table(con, name: str, *, shift: float = 0.0, nulls: float = 0.0, cats: str = "abc") -> None:
    # Deterministic pseudo-normal values (sum of uniforms from hash) so tests are stable.
    con.execute(
        f"""
        CREATE OR REPLACE TABLE {name} AS
        SELECT
            CASE WHEN (hash(i, 'n') % 1000) / 1000.0 < {nulls} THEN NULL
                 ELSE ((hash(i, 1) % 1000) + (hash(i, 2) % 1000) + (hash(i, 3) % 1000)) / 300.0 + {shift} END AS v,
            substr('{cats}', (i % {len(cats)})::INTEGER + 1, 1) AS c,
            i::BIGINT AS id
        FROM range(20000) r(i)
        """
    )


def test_identical_tables_do_not_drift(con):
    _normal_table(con, "a")
    _normal_table(con, "b")
    prev = profile_table(con, "a")
    report = drift(prev, profile_table(con, "b", reference=prev))
    assert report.flagged == [] and not report.schema_changed
    assert all(c.psi == pytest.approx(0.0, abs=1e-9) for c in report.columns)
    assert {c.method for c in report.columns} == {"exact"}
    assert report.row_count_change == 0.0


def test_shifted_distribution_is_flagged_exact_and_rebinned(con):
    _normal_table(con, "before")
    _normal_table(con, "after", shift=2.0)  # sd is about 1.7
    prev = profile_table(con, "before")
    exact = drift(prev, profile_table(con, "after", reference=prev))
    rebinned = drift(prev, profile_table(con, "after"))
    for report, method in ((exact, "exact"), (rebinned, "rebinned")):
        assert report["v"].method == method
        assert report["v"].psi > 0.2
        assert "v" in report.flagged and "c" not in report.flagged
    # Both ways agree to within the uniform-within-bin approximation.
    assert rebinned["v"].psi == pytest.approx(exact["v"].psi, rel=0.25)
    # Values above the previous max land in the overflow bucket.
    assert exact["v"].buckets[-1] == "above" and exact["v"].actual[-1] > 0.01


def test_small_shift_stays_below_threshold(con):
    _normal_table(con, "before")
    _normal_table(con, "after", shift=0.05)
    prev = profile_table(con, "before")
    report = drift(prev, profile_table(con, "after", reference=prev))
    assert 0 < report["v"].psi < 0.05 and report.flagged == []


def test_null_rate_jump_and_category_change_are_flagged(con):
    _normal_table(con, "before")
    _normal_table(con, "after", nulls=0.4, cats="abd")
    prev = profile_table(con, "before")
    report = drift(prev, profile_table(con, "after", reference=prev))
    assert set(report.flagged) >= {"v", "c"}
    c = report["c"]
    assert c.buckets == ("null", "a", "b", "c", "other") and c.method == "exact"
    assert c.actual[3] < 0.001 and c.actual[4] > 0.3  # 'c' vanished, 'd' lands in other


def test_high_cardinality_drift_counts_previous_top_values_exactly(con):
    # 18 k distinct ids (above CATEGORICAL_EXACT_LIMIT): candidates come from approx_top_k.
    for name, hot in (("before", 10), ("after", 3)):
        con.execute(
            f"CREATE TABLE {name} AS SELECT CASE WHEN i % {hot} = 0 THEN 'hot' ELSE 'id' || i END AS id "
            "FROM range(30000) r(i)"
        )
    prev = profile_table(con, "before", top_k=3)
    cur = profile_table(con, "after", top_k=3, reference=prev)
    assert prev["id"].top_values[0] == ("hot", 3000)
    assert cur["id"].reference_top[0] == ("hot", 10000)
    report = drift(prev, cur)
    assert report["id"].method == "exact" and report.flagged == ["id"]


def test_schema_changes_are_reported(con):
    con.execute("CREATE TABLE v1 AS SELECT i::INTEGER AS a, i AS gone, 'x' AS t FROM range(100) r(i)")
    con.execute("CREATE TABLE v2 AS SELECT (i % 100)::BIGINT AS a, i AS new, 1 AS t FROM range(200) r(i)")
    report = drift(profile_table(con, "v1"), profile_table(con, "v2"))
    assert report.added == ("new",) and report.removed == ("gone",)
    assert report.type_changes == (("a", "INTEGER", "BIGINT"), ("t", "VARCHAR", "INTEGER"))
    assert report.schema_changed
    assert report["a"].psi == pytest.approx(0.0, abs=0.05)  # same distribution, wider type: compared
    assert report["t"].psi is None and report["t"].method.startswith("skipped")
    assert report.row_count_change == pytest.approx(1.0)
    metrics = report.metrics()
    assert metrics["drift.v2.schema_changes"] == 4.0
    assert "drift.v2.t.psi" not in metrics
    assert json.loads(json.dumps(report.to_dict(), allow_nan=False))["added"] == ["new"]


def test_drift_works_from_a_json_profile(con):
    _normal_table(con, "before")
    _normal_table(con, "after", shift=2.0)
    prev = TableProfile.from_dict(json.loads(json.dumps(profile_table(con, "before").to_dict())))
    report = drift(prev, profile_table(con, "after", reference=prev))
    assert isinstance(report, DriftReport) and "v" in report.flagged and report["v"].method == "exact"


def test_psi_smooths_empty_buckets():
    assert psi([10, 0], [10, 0]) == pytest.approx(0.0)
    value = psi([100, 0], [50, 50])
    assert math.isfinite(value) and value > 1.0
    with pytest.raises(ValueError):
        psi([1], [1, 2])


# --------------------------------------------------------------------------- figures


def test_figures_render(known, con, tmp_path):
    fig = plot_histograms(known)
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 6  # x, s, flag, day, f, price
    fig.savefig(tmp_path / "hist.png")
    assert (tmp_path / "hist.png").stat().st_size > 10_000

    only = plot_histograms(known, ["x"])
    assert len(only.axes) == 1
    few = plot_histograms(known, max_panels=4)  # a wide table: the first panels, and how many more
    assert len([ax for ax in few.axes if ax.get_visible()]) == 4
    assert few._suptitle.get_text() == "known: 110 rows; the first 4 columns drawn, 2 more in the profile report"

    _normal_table(con, "before")
    _normal_table(con, "after", shift=2.0)
    prev = profile_table(con, "before")
    fig = plot_drift(drift(prev, profile_table(con, "after", reference=prev)))
    fig.savefig(tmp_path / "drift.png")
    assert (tmp_path / "drift.png").stat().st_size > 5_000
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()][-1] == "v"  # largest PSI on top


# --------------------------------------------------------------------------- real data


def test_real_flights_facts(con, tmp_path):
    with zipfile.ZipFile(FLIGHTS_ZIP) as zf:
        zf.extract("flights.csv", tmp_path)
    csv = (tmp_path / "flights.csv").as_posix()
    con.execute(f"CREATE TABLE flights AS SELECT * FROM read_csv('{csv}', nullstr='NA')")
    prof = profile_table(con, "flights")
    assert prof.row_count == 336_776 and len(prof.columns) == 19
    origin = prof["origin"]
    assert (origin.distinct_count, origin.distinct_is_exact) == (3, True)
    assert origin.top_values == (("EWR", 120835), ("JFK", 111279), ("LGA", 104662))
    dep_time = prof["dep_time"]
    assert dep_time.null_count == 8255
    assert dep_time.null_rate == pytest.approx(0.0245, abs=5e-5)
    assert sum(dep_time.histogram.counts) == 336_776 - 8255
    assert prof["dep_delay"].quantiles["p50"] == pytest.approx(-2, abs=1)
    assert (prof["month"].distinct_count, prof["month"].distinct_is_exact) == (12, True)
    time_hour = prof["time_hour"]
    assert (time_hour.kind, time_hour.dtype) == ("temporal", "TIMESTAMP WITH TIME ZONE")
    assert (time_hour.min_label, time_hour.max_label) == ("2013-01-01 10:00:00+00:00", "2014-01-01 04:00:00+00:00")
    assert prof["carrier"].top_values[0] == ("UA", 58665)
    assert isinstance(prof["dep_delay"], ColumnProfile) and isinstance(prof["dep_delay"].histogram, Histogram)


def test_a_table_of_hundreds_of_columns_is_profiled_within_a_memory_limit():
    """modeldata's pd_speech: 252 rows, 752 measurements. One query of all the histograms (and,
    against a reference profile, all the reference histograms) used 18.8 GiB and failed; a few
    maps a query, the profile fits in 512 MB and every column gets its histogram and quantiles."""
    import numpy as np
    import pandas as pd

    con = duckdb.connect()
    con.execute("SET memory_limit = '512MB'")
    rng = np.random.default_rng(2)
    frame = {f"m{i:03d}": rng.normal(i, 1, 252) for i in range(750)}
    frame["small"] = rng.integers(0, 5, 252)  # few values: counted exactly as well
    con.register("frame", pd.DataFrame(frame))
    con.execute("CREATE TABLE wide AS SELECT * FROM frame")
    first = profile_table(con, "wide")
    again = profile_table(con, "wide", reference=first)  # a reference histogram a column too
    for prof in (first, again):
        assert len(prof.columns) == 751 and prof.row_count == 252
        assert all(c.histogram is not None and c.histogram.total == 252 for c in prof.columns)
        assert all(c.quantiles for c in prof.columns)
    assert again["m749"].reference_histogram is not None and again["m749"].quantiles["p50"] > 740
    assert dict(again["small"].top_values) == dict(first["small"].top_values)
