"""Readable numbers, one way everywhere (workbench.formatting)."""

from __future__ import annotations

import math

import pandas as pd

from workbench import formatting as fmt
from workbench.measure import metrics


def test_integers_rates_times_money() -> None:
    assert fmt.integer(336776.0) == "336,776" and fmt.number(336776.0) == "336,776"
    assert fmt.number(2013.0) == "2013" and fmt.number(1e4) == "10,000"  # separators from five digits
    assert fmt.number(0.71342) == "0.7134" and fmt.number(12345.678) == "12,346"
    assert fmt.number(0.000123456) == "0.0001235" and fmt.number(1.5e7) == "15,000,000"
    assert "e" not in fmt.number(1.23e-7) and "e" not in fmt.number(9.87e12)
    assert fmt.number(None) == fmt.MISSING == fmt.number(math.nan) == fmt.percent(None)
    assert fmt.percent(0.0213) == "2.1%" and fmt.percent(0.00004) == "0.004%" and fmt.percent(0) == "0%"
    assert fmt.ms(0.41) == "0.41 ms" and fmt.ms(12.34) == "12.3 ms" and fmt.ms(1834) == "1.83 s"
    assert fmt.seconds(95) == "1 min 35 s" and fmt.seconds(0.25) == "250 ms" and fmt.seconds(7300) == "2 h 01 min"
    assert fmt.usd(0.00123) == "$0.00123" and fmt.usd(12345.5) == "$12,345.50" and fmt.usd(-0.5) == "-$0.5"


def test_metrics_by_their_registry_unit() -> None:
    assert metrics.format_metric("quality.roc_auc", 0.71234) == "0.7123"
    assert metrics.format_metric("quality.accuracy", 0.8123) == "81.2%"  # a share of rows
    assert metrics.format_metric("latency.p95_ms", 2.345) == "2.35 ms"
    assert metrics.format_metric("ingest.flights.rows", 336776.0) == "336,776"
    assert metrics.format_metric("probes.crashed", 0.0) == "0" and metrics.format_metric("decision.go", 1.0) == "yes"
    assert metrics.format_metric("throughput.items_per_s", 123456.7) == "123,457/s"
    assert metrics.format_metric("custom.null_rate", 0.25) == "25.0%" and metrics.format_metric("custom.x", 3.0) == "3"


def test_one_name_per_outcome() -> None:
    assert [fmt.outcome_label(o) for o in ("go", "no-go", "already-champion", "rollback")] == [
        "GO", "NO-GO", "ALREADY CHAMPION", "ROLLBACK"]


def test_tables_for_notebooks() -> None:
    frame = pd.DataFrame({"name": ["a", "b"], "count": [1234.0, 56789.0], "null_rate": [0.25, 0.0],
                          "score": [0.712345, 1e-5]})
    html = fmt.styled(frame).to_html()
    assert "56,789" in html and "1234.0" not in html and "25.0%" in html and "0.7123" in html and "e-05" not in html
    table = pd.DataFrame({"hgb": {"quality.roc_auc": 0.7, "latency.p95_ms": 4.5}})
    shown = metrics.metric_table(table).to_html()
    assert "0.7" in shown and "4.5 ms" in shown


def test_extreme_magnitudes_are_powers_of_ten_not_hundreds_of_digits() -> None:
    assert fmt.number(1.5e300) == "1.5 × 10³⁰⁰" and fmt.integer(2e18) == "2 × 10¹⁸"
    assert fmt.number(-3.25e-9) == "-3.25 × 10⁻⁹"
    assert fmt.number(999_999_999_999_999.0) == "999,999,999,999,999" and fmt.number(0.0000012) == "0.0000012"


def test_better_or_worse_in_words_by_the_metrics_direction() -> None:
    latency, auc = metrics.info("latency.p95_ms"), metrics.info("quality.roc_auc")
    share = metrics.info("quality.accuracy")
    assert fmt.change(latency, -12.5) == "▼ 12.5 ms better"  # lower is better: a drop is good news
    assert fmt.change(latency, 3) == "▲ 3 ms worse"
    assert fmt.change(auc, 0.031) == "▲ 0.031 better" and fmt.change(auc, -0.031) == "▼ 0.031 worse"
    assert fmt.change(share, 0.0213) == "▲ 2.13 pts better"  # points, not a percentage of a percentage
    assert fmt.change(None, 2.0) == "+2" and fmt.change(auc, 0) == "0 (same)"


def test_a_difference_inside_its_interval_is_no_real_difference() -> None:
    auc = metrics.info("quality.roc_auc")
    assert fmt.difference(auc, 0.0001, -0.002, 0.003).startswith(fmt.NO_REAL_DIFFERENCE)
    shown = fmt.difference(auc, 0.03, 0.012, 0.05)
    assert shown.startswith("▲ 0.03 better") and "95% CI 0.012 to 0.05" in shown
    assert fmt.difference(auc, 0.03) == fmt.change(auc, 0.03)  # no interval: no claim about noise


def test_costs_timestamps_and_estimates_in_one_form() -> None:
    assert fmt.cost_per_1k(0.0000012) == "$0.0000012 per 1,000" and fmt.cost_per_1k(1.5) == "$1.50 per 1,000"
    assert fmt.timestamp(0) == "1970-01-01 00:00:00 UTC"
    assert fmt.timestamp(1_700_000_000_000) == fmt.timestamp(1_700_000_000) == "2023-11-14 22:13:20 UTC"  # ms or s
    assert fmt.timestamp("2026-12-03T05:00:00+01:00") == "2026-12-03 04:00:00 UTC"
    assert fmt.distinct(12345) == "≈ 12,345" and fmt.distinct(5, exact=True) == "5"


def test_a_list_names_a_few_and_counts_the_rest() -> None:
    assert fmt.listed(["a", "b"], 3) == "a, b"
    assert fmt.listed(["a", "b", "c"], 3) == "a, b, c"
    assert fmt.listed((f"c{i}" for i in range(7)), 3) == "c0, c1, c2 and 4 more"
    assert fmt.listed([], 3) == ""
