"""The monitoring timeline after the GO, as HTML: the scorecard and the panel show the same one.

The rows come from :func:`workbench.decide.monitor.timeline` (one per monitored batch). Above
the table, as Evidently's dashboards do, one chart per monitored metric across batches with
the plan's threshold dotted (input and prediction PSI, quality, p95 latency, fallback share,
cost), and one per input column that drifted in any batch; a point past its threshold is red.
:func:`timeline_page` is the same as a whole page (the monitor run's ``monitor/timeline.html``).
"""

from __future__ import annotations

from typing import Any

from .. import formatting as fmt
from ..charter.config import ProductionPlan
from .html import BAD, BLUE, Raw, badge, esc, lines, page, table

__all__ = ["timeline_html", "timeline_charts", "timeline_page", "TIMELINE_ARTIFACT"]

TIMELINE_ARTIFACT = "monitor/timeline.html"


def _chart(title: str, rows: list[dict[str, Any]], values: list[float | None], *, threshold: float | None,
           higher_is_bad: bool = True, formatter: Any = fmt.number) -> str:
    """One metric across batches (x: the batch's position), its threshold dotted, breaches red."""
    xs = [float(i + 1) for i, v in enumerate(values) if v is not None]
    ys = [float(v) for v in values if v is not None]
    if not ys:
        return ""
    past = [(x, y) for x, y in zip(xs, ys) if threshold is not None
            and ((y > threshold) if higher_is_bad else (y < threshold))]
    chart = lines([("", xs, ys, BLUE, "")], xlabel="batch (oldest → newest)", ylabel="", hline=threshold,
                  markers=True, width=300, height=190, label=title, tick_format=formatter,
                  xtick_format=lambda t: f"{t:.0f}" if float(t).is_integer() else "",
                  xlim=(0.5, len(rows) + 0.5), dots=([x for x, _ in past], [y for _, y in past]) if past else None)
    if past:  # the dots a chart draws are faint: mark the breaching batches plainly
        chart = Raw(chart.replace(f'r="1.6" fill="{BLUE}" opacity="0.35"', f'r="4" fill="{BAD}" opacity="1"'))
    limit = (f"threshold {formatter(threshold)} ({'above' if higher_is_bad else 'below'} it: a breach)"
             if threshold is not None else "no threshold in the plan")
    latest = formatter(ys[-1])
    return (f'<div class="mon-chart"><h4>{esc(title)}</h4>{chart}<p class="muted">latest {esc(latest)}; '
            f"{esc(limit)}</p></div>")


def timeline_charts(rows: list[dict[str, Any]], *, plan: ProductionPlan | None = None,
                    higher_quality_is_better: bool | None = True) -> str:
    """A chart per monitored metric and per drifted input column, across batches."""
    scored = [r for r in rows if r.get("status") != "refused"]
    if not scored:
        return ""
    mon = plan.monitoring if plan is not None else None
    slo = plan.service_levels if plan is not None else None
    metric = scored[-1]["quality_metric"]
    charts = [
        _chart("max input PSI (unitless)", scored, [r["input_psi_max"] for r in scored],
               threshold=mon.input_psi if mon else None),
        _chart("prediction PSI (unitless)", scored, [r["prediction_psi"] for r in scored],
               threshold=mon.prediction_psi if mon else None),
        _chart(f"{metric} (quality, {'higher' if higher_quality_is_better is not False else 'lower'} is better)",
               scored, [r["quality"] for r in scored],
               threshold=next((r["min_quality"] for r in reversed(scored) if r.get("min_quality") is not None), None),
               higher_is_bad=higher_quality_is_better is False),
        _chart("p95 latency (ms)", scored, [r["latency_p95_ms"] for r in scored],
               threshold=slo.latency_p95_ms if slo else None, formatter=fmt.ms),
        _chart("fallback share (% of rows)", scored, [r["fallback_share"] for r in scored],
               threshold=mon.max_fallback_share if mon else None, formatter=fmt.percent),
        _chart("cost per 1,000 rows (USD)", scored, [r.get("cost_per_1k_usd") for r in scored],
               threshold=slo.cost_per_1k_usd if slo else None, formatter=fmt.usd),
    ]
    limit = mon.input_psi if mon else None
    drifted = sorted({c for r in scored for c, v in (r.get("input_psi") or {}).items()
                      if limit is not None and v > limit})
    columns = [_chart(f"input PSI of {c} (unitless)", scored, [(r.get("input_psi") or {}).get(c) for r in scored],
                      threshold=limit) for c in drifted]
    out = ['<div class="mon-charts">' + "".join(charts) + "</div>"]
    if columns:
        out.append(f"<h4>Drifted input columns ({len(columns)})</h4>"
                   '<div class="mon-charts">' + "".join(columns) + "</div>")
    return ("<style>.mon-charts{display:flex;flex-wrap:wrap;gap:12px}.mon-chart h4{margin:4px 0;font-size:13px}"
            ".mon-chart p{margin:2px 0;font-size:12px}</style>" + "".join(out))


def timeline_page(rows: list[dict[str, Any]], *, pilot: str, plan: ProductionPlan | None = None,
                  higher_quality_is_better: bool | None = True) -> str:
    """The monitoring timeline as a whole page: charts, then the table of batches."""
    return page(f"Monitoring: {pilot}", f"<h1>Monitoring after the GO: {esc(pilot)}</h1>"
                + timeline_html(rows, plan=plan, higher_quality_is_better=higher_quality_is_better))


def timeline_html(rows: list[dict[str, Any]], *, plan: ProductionPlan | None = None,
                  higher_quality_is_better: bool | None = True) -> str:
    """The monitoring timeline as an HTML fragment (scorecard and panel show the same one):
    the charts over batches, then one row per batch."""
    if not rows:
        return ("<p>No batch monitored yet: <code>workbench monitor --batch FILE</code> "
                "(the demo: <code>make monitor</code>).</p>")
    red, amber, green = "#cf222e", "#9a6700", "#1a7f37"
    mon = plan.monitoring if plan is not None else None
    body = []
    for r in rows:
        if r["status"] == "refused":
            verdict = badge("REFUSED", red)
        elif r["breaches"]:
            verdict = badge("BREACH", red)
        elif r["warnings"]:
            verdict = badge("WARNING", amber)
        else:
            verdict = badge("OK", green)
        breaches = ", ".join(r["breaches"]) + (" — rollback proposed" if r["rollback_proposed"] else "")
        body.append([esc(r["batch"]), Raw(verdict), r["version"], r["rows"], r["drifted"], r["input_psi_max"],
                     r["prediction_psi"], r["quality"], r["latency_p95_ms"], r["fallback_share"], esc(breaches)])
    limits = ""
    if mon is not None:
        limits = (f"<p class=\"muted\">Plan: input PSI {esc(mon.input_psi)} (warning), prediction PSI "
                  f"{esc(mon.prediction_psi)}, minimum {esc(rows[-1]['quality_metric'])} {esc(mon.min_quality)}, "
                  f"fallback at most {esc(fmt.percent(mon.max_fallback_share))}.</p>")
    return timeline_charts(rows, plan=plan, higher_quality_is_better=higher_quality_is_better) + limits + table(
        ["batch", "verdict", "champion", "rows", "drifted columns", "max input PSI", "prediction PSI",
         rows[-1]["quality_metric"], "p95 latency", "fallback", "breaches"], body,
        formats=[None, None, None, fmt.integer, fmt.integer, fmt.number, fmt.number, fmt.number, fmt.ms,
                 fmt.percent, None])
