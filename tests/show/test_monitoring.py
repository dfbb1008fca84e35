"""The monitoring timeline's charts: one per monitored metric and per drifted column, with thresholds."""

from __future__ import annotations

import re

from workbench.charter.config import ProductionPlan
from workbench.show.html import BAD
from workbench.show.monitoring import timeline_charts, timeline_html

from support import PLAN


def _row(i: int, *, psi: dict[str, float], quality: float, status: str = "scored") -> dict:
    return {"batch": f"week{i}", "run_id": f"r{i}", "status": status, "version": "1", "rows": 1000,
            "input_psi_max": max(psi.values()), "drifted": sum(v > 0.2 for v in psi.values()),
            "prediction_psi": 0.05 * i, "quality": quality, "quality_metric": "quality.roc_auc",
            "latency_p95_ms": 2.0 + i, "fallback_share": 0.01, "breaches": [], "warnings": 0,
            "rollback_proposed": False, "start_time": 0, "input_psi": psi, "min_quality": 0.7,
            "cost_per_1k_usd": 0.0012}


def test_a_chart_per_metric_and_per_drifted_column_with_its_threshold() -> None:
    plan = ProductionPlan(**PLAN)
    rows = [_row(1, psi={"x1": 0.01, "x2": 0.02}, quality=0.8), _row(2, psi={"x1": 0.35, "x2": 0.03}, quality=0.75),
            _row(3, psi={"x1": 0.5, "x2": 0.04}, quality=0.65)]
    html = timeline_charts(rows, plan=plan)
    titles = re.findall(r"<h4>([^<]+)</h4>", html)
    for title in ("max input PSI (unitless)", "prediction PSI (unitless)", "p95 latency (ms)",
                  "fallback share (% of rows)", "cost per 1,000 rows (USD)", "input PSI of x1 (unitless)"):
        assert title in titles, titles
    assert any(t.startswith("quality.roc_auc (quality, higher is better)") for t in titles)
    assert "input PSI of x2 (unitless)" not in titles  # never past the plan's 0.2
    assert "threshold 0.2" in html and "threshold 0.7" in html and "threshold 100 ms" in html
    assert html.count('stroke-dasharray="2,3"') >= 6  # every chart with a threshold draws it
    # the batches past a threshold are marked red: x1 twice (input PSI and its own chart), quality once
    assert html.count(f'r="4" fill="{BAD}"') == 2 + 2 + 1
    # the fragment the scorecard and the panel show starts with the charts
    assert timeline_html(rows, plan=plan).index("<svg") < timeline_html(rows, plan=plan).index("<table")


def test_lower_is_better_quality_breaches_above_its_limit() -> None:
    rows = [_row(1, psi={"x": 0.0}, quality=5.0), _row(2, psi={"x": 0.0}, quality=9.0)]
    for r in rows:
        r["quality_metric"], r["min_quality"] = "quality.mae", 8.0
    html = timeline_charts(rows, plan=ProductionPlan(**PLAN), higher_quality_is_better=False)
    assert "lower is better" in html and html.count(f'r="4" fill="{BAD}"') == 1  # 9 > 8: the second batch


def test_no_scored_batch_no_chart() -> None:
    assert timeline_charts([_row(1, psi={"x": 0.0}, quality=0.8, status="refused")]) == ""
