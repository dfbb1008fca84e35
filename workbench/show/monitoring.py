"""The monitoring timeline after the GO, as HTML: the scorecard and the panel show the same one.

The rows come from :func:`workbench.decide.monitor.timeline` (one per monitored batch).
"""

from __future__ import annotations

from typing import Any

from .. import formatting as fmt
from ..charter.config import ProductionPlan
from .html import Raw, badge, esc, table

__all__ = ["timeline_html"]


def timeline_html(rows: list[dict[str, Any]], *, plan: ProductionPlan | None = None) -> str:
    """The monitoring timeline as an HTML fragment (scorecard and panel show the same one)."""
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
    return limits + table(
        ["batch", "verdict", "champion", "rows", "drifted columns", "max input PSI", "prediction PSI",
         rows[-1]["quality_metric"], "p95 latency", "fallback", "breaches"], body,
        formats=[None, None, None, fmt.integer, fmt.integer, fmt.number, fmt.number, fmt.number, fmt.ms,
                 fmt.percent, None])
