"""The profile report: one self-contained HTML page per table, worth opening.

In the spirit of ydata-profiling's overview, but drawn from a
:class:`~workbench.data.profiling.TableProfile` — every number was computed inside DuckDB
(:func:`profiling.profile_table`), nothing is recomputed here. For each column: its type,
nulls, distinct values, the main statistics, a histogram (numeric and temporal columns)
or its top values (categorical, boolean), and, when a :class:`~workbench.data.profiling.DriftReport`
against the previous profiled run is given, the column's PSI in colour with the previous
run's distribution drawn over the current one.

Personal data: a PII column (``pii_columns``, or a ``pii`` flag on its
:class:`~workbench.data.profiling.ColumnProfile`) shows counts only — nulls, distinct values,
its drift score — never a value, a min or max, a histogram or top values.

The profile notebook logs it as ``profile_report/<table>.html`` on the profile run; the
scorecard links to it (:mod:`workbench.show.scorecard`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from . import html as h
from .. import formatting as fmt
from ..data.profile_alerts import alerts as profile_alerts

__all__ = ["render_profile_report", "overview", "ARTIFACT_DIR", "artifact_path", "drift_level"]

ARTIFACT_DIR = "profile_report"

_CSS = """
.col{border-left:5px solid #d0d7de}.col.drift-high{border-left-color:#cf222e}.col.drift-mid{border-left-color:#d4a72c}
.col.drift-low{border-left-color:#1a7f37}.col h3{margin:0 0 2px;font-size:14px;word-break:break-all}
.col .kind{color:#6b7480;font-size:12px}.col dl{font-size:12px}
.chart-label{font-size:11px;color:#6b7480;margin:6px 0 2px}
.psi{font-weight:700}.psi.high{color:#cf222e}.psi.mid{color:#9a6700}.psi.low{color:#1a7f37}
.stats{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px;margin:8px 0}
.stat{background:#fff;border:1px solid #e1e5ea;border-radius:6px;padding:8px 12px}
.stat b{display:block;font-size:19px;overflow-wrap:anywhere}.stat span{color:#6b7480;font-size:12px}
.col dd,.col dt{overflow-wrap:anywhere;min-width:0}.col{min-width:0;overflow:hidden}
.table-wrap{overflow-x:auto;max-width:100%}td{overflow-wrap:anywhere}
#alerts ul{list-style:none;padding:0;margin:4px 0}#alerts li{margin:3px 0}
.alert-kind{display:inline-block;min-width:120px;font-size:12px;font-weight:600;color:#9a6700}
"""


def artifact_path(table: str) -> str:
    """Where the profile notebook logs the report of ``table`` on the profile run."""
    return f"{ARTIFACT_DIR}/{table}.html"


def drift_level(psi: float | None, threshold: float) -> str:
    """``high`` above the threshold (flagged), ``mid`` from half of it (or 0.1 if lower),
    ``low`` below, ``""`` when there is no PSI."""
    if psi is None or not math.isfinite(psi):
        return ""
    if psi > threshold:
        return "high"
    return "mid" if psi >= min(0.1, threshold / 2) else "low"


def _is_pii(col: Any, pii: set[str]) -> bool:
    return bool(getattr(col, "pii", False)) or col.name in pii


def _value(col: Any, v: Any) -> str:
    """A statistic of the column as read: dates for temporal columns (epoch seconds)."""
    if v is None:
        return fmt.MISSING
    if col.kind == "temporal":
        try:
            return datetime.fromtimestamp(float(v), UTC).strftime("%Y-%m-%d %H:%M").removesuffix(" 00:00")
        except (OverflowError, OSError, ValueError):
            return fmt.number(v)
    return fmt.number(v)


def _extreme(col: Any, which: str) -> str:
    """The column's min or max as read (the readable label of a temporal column)."""
    label = getattr(col, f"{which}_label")
    return label if col.kind == "temporal" and label else _value(col, getattr(col, which))


def _nulls(col: Any) -> str:
    return f"{fmt.integer(col.null_count)} ({fmt.percent(col.null_rate)})"


def _distinct(col: Any) -> str:
    if col.distinct_count is None:
        return fmt.MISSING
    return ("" if col.distinct_is_exact else "≈ ") + fmt.integer(col.distinct_count)


def _psi_html(cd: Any, threshold: float) -> h.Raw:
    if cd is None:
        return h.Raw('<span class="muted">—</span>')
    if cd.psi is None:
        return h.Raw(f'<span class="muted" title="{h.esc(cd.method)}">n/a</span>')
    level = drift_level(cd.psi, threshold)
    word = {"high": "drifted", "mid": "moderate", "low": "stable"}[level]
    return h.Raw(f'<span class="psi {level}" title="{h.esc(word)}; method {h.esc(cd.method)}">'
                 f"{h.esc(fmt.number(cd.psi, digits=3))}</span> <span class=\"muted\">{word}</span>")


def _chart(col: Any) -> str:
    if col.histogram is not None and col.kind in ("numeric", "temporal"):
        left = col.min_label if col.kind == "temporal" and col.min_label else _value(col, col.histogram.edges[0])
        right = col.max_label if col.kind == "temporal" and col.max_label else _value(col, col.histogram.edges[-1])
        return ('<div class="chart-label">distribution (share of non-null values)</div>'
                + h.histogram(list(col.histogram.counts), left=str(left)[:19], right=str(right)[:19],
                              label=f"histogram of {col.name}"))
    if col.top_values:
        items = [(str(v), c) for v, c in col.top_values]
        other = col.other_count
        if other > 0:
            items.append(("(other)", other))
        return ('<div class="chart-label">top values (share of non-null values)</div>'
                + h.bars(items, total=col.non_null_count or None, label=f"top values of {col.name}"))
    return '<div class="chart-label">no values to draw</div>'


def _drift_chart(col: Any, cd: Any, threshold: float) -> str:
    """The previous run's distribution over the current one, on the previous run's buckets."""
    if cd is None or cd.psi is None or not cd.buckets:
        return ""
    buckets, expected, actual = list(cd.buckets), list(cd.expected), list(cd.actual)
    colour = {"high": h.BAD, "mid": "#d4a72c", "low": h.GOOD}.get(drift_level(cd.psi, threshold), h.BLUE)
    label = '<div class="chart-label">now (bars) vs previous run (dashed / ticks), on the previous buckets</div>'
    if col.kind in ("numeric", "temporal") and len(buckets) > 3:
        return label + h.histogram(actual, reference=expected, left="null · below", right="above",
                                   colour=colour, label=f"drift of {col.name}")
    items = [(b, a) for b, a in zip(buckets, actual)]
    ref = dict(zip(buckets, expected))
    return label + h.bars(items, reference=ref, total=sum(actual) or None, colour=colour,
                          label=f"drift of {col.name}")


def _column_card(col: Any, cd: Any, threshold: float, pii: bool) -> str:
    level = drift_level(cd.psi, threshold) if cd is not None else ""
    badges = [f'<span class="kind">{h.esc(col.dtype)} · {h.esc(col.kind)}</span>']
    if pii:
        badges.append(h.badge("PII", "#6e40c9"))
    if cd is not None and cd.flagged:
        badges.append(h.badge("DRIFT", h.BAD))
    items = [("nulls", _nulls(col)), ("distinct", _distinct(col))]
    if not pii and col.kind in ("numeric", "temporal"):
        q = col.quantiles
        items += [("min", col.min_label if col.kind == "temporal" and col.min_label else _value(col, col.min)),
                  ("median", _value(col, q.get("p50"))),
                  ("max", col.max_label if col.kind == "temporal" and col.max_label else _value(col, col.max))]
        if col.kind == "numeric":
            items += [("mean", _value(col, col.mean)), ("std", _value(col, col.std))]
        if col.non_finite_count:
            items.append(("non-finite", fmt.integer(col.non_finite_count)))
    if not pii and col.kind == "boolean" and col.non_null_count:
        trues = dict(col.top_values).get(True, 0)
        items.append(("true", fmt.percent(trues / col.non_null_count)))
    if cd is not None:
        items.append(("drift (PSI)", str(_psi_html(cd, threshold))))
    dl = "".join(f"<dt>{h.esc(k)}</dt><dd>{v if k == 'drift (PSI)' else h.esc(v)}</dd>" for k, v in items)
    if pii:
        body = '<div class="chart-label">values masked (PII): counts only</div>'
    else:
        body = _chart(col) + _drift_chart(col, cd, threshold)
    return (f'<div class="card col {"drift-" + level if level else ""}" id="col-{h.esc(col.name)}">'
            f"<h3>{h.esc(col.name)}</h3>{' '.join(badges)}<dl>{dl}</dl>{body}</div>")


def _alerts_section(profile: Any, pii: set[str]) -> str:
    """What to look at first (:mod:`workbench.data.profile_alerts`), each linked to its column."""
    found = profile_alerts(profile, pii=pii)
    if not found:
        return ('<section id="alerts"><h2>Alerts</h2><p class="good">No alert: no constant, mostly missing, '
                "near-unique, high-cardinality, skewed or extreme column, no personal data, no duplicated row."
                "</p></section>")
    items = []
    for a in found:
        where = (f'<a href="#col-{h.esc(a.column)}">{h.esc(a.column)}</a>' if a.column else "table")
        items.append(f'<li data-kind="{h.esc(a.kind)}"><span class="alert-kind">{h.esc(a.kind)}</span> '
                     f"{where}: {h.esc(a.message)}</li>")
    kinds = sorted({a.kind for a in found})
    return (f'<section id="alerts"><h2>Alerts ({len(found)})</h2><p class="muted">{h.esc(", ".join(kinds))}</p>'
            f"<ul>{''.join(items)}</ul></section>")


def _engine_name(profile: Any) -> str:
    """What computed the profile: "DuckDB 1.4.1", "Spark 4.1.0 (local[2])" (older profiles: DuckDB)."""
    kind, _, rest = (profile.engine or f"duckdb {profile.duckdb_version}").partition(" ")
    return f"{'Spark' if kind == 'spark' else 'DuckDB'} {rest}".strip()


def render_profile_report(profile: Any, drift: Any = None, *, pii_columns: Iterable[str] = (),
                          reference_run: str | None = None, title: str | None = None) -> str:
    """The HTML page of one table's profile (and its drift against the previous run).

    ``profile``: a :class:`~workbench.data.profiling.TableProfile`; ``drift``: a
    :class:`~workbench.data.profiling.DriftReport` (None on the first profiled run);
    ``pii_columns``: columns shown as counts only (a column's own ``pii`` flag counts too);
    ``reference_run``: the run id the drift compares with, for the page."""
    pii = set(pii_columns) | set(getattr(profile, "pii_columns", ()) or ())
    threshold = drift.threshold if drift is not None else 0.2
    by_name = {c.name: c for c in drift.columns} if drift is not None else {}
    cols = list(profile.columns)
    cells = profile.row_count * len(cols)
    missing = sum(c.null_count for c in cols)
    with_nulls = sum(1 for c in cols if c.null_count)
    stats = [(fmt.integer(profile.row_count), "rows"), (fmt.integer(len(cols)), "columns"),
             (fmt.percent(missing / cells if cells else 0.0), "cells missing"),
             (fmt.integer(with_nulls), "columns with nulls")]
    if drift is not None:
        stats += [(fmt.integer(len(drift.flagged)), f"columns drifted (PSI > {fmt.number(threshold)})"),
                  (fmt.number(drift.max_psi, digits=3) if drift.max_psi is not None else fmt.MISSING, "largest PSI")]
        if drift.row_count_change is not None:
            stats.append(((("+" if drift.row_count_change > 0 else "") + fmt.percent(drift.row_count_change)),
                          "row count change"))
    parts = [f"<h1>{h.esc(title or f'Profile of {profile.table}')}</h1>",
             f'<p class="muted">Profiled {h.esc(fmt.timestamp(profile.profiled_at))} '
             f"by {h.esc(_engine_name(profile))}: "
             f"{h.esc(fmt.integer(profile.bins))} histogram bins, top {h.esc(fmt.integer(profile.top_k))} values; "
             "distinct counts marked ≈ are HyperLogLog estimates, quantiles "
             f"{'percentile_approx' if profile.engine.startswith('spark') else 't-digest'} estimates.</p>",
             '<div class="stats">' + "".join(f'<div class="stat"><b>{h.esc(v)}</b><span>{h.esc(k)}</span></div>'
                                             for v, k in stats) + "</div>"]
    if drift is None:
        parts.append('<p class="muted">No drift: this is the first profiled run of this table '
                     "(nothing earlier to compare with).</p>")
    else:
        ref = f" run <code>{h.esc(reference_run[:12])}</code>" if reference_run else " run"
        parts.append(f"<p>Drift against the previous profiled{ref}: population stability index (PSI) per column "
                     "on that run's buckets; <span class=\"psi low\">green</span> below 0.1, <span class=\"psi mid\">"
                     f"amber</span> up to the threshold, <span class=\"psi high\">red</span> above "
                     f"{h.esc(fmt.number(threshold))} (flagged).</p>")
        if drift.schema_changed:
            changes = [*(f"added {a}" for a in drift.added), *(f"removed {r}" for r in drift.removed),
                       *(f"{c}: {a} → {b}" for c, a, b in drift.type_changes)]
            parts.append(f'<p class="bad">Schema changes: {h.esc("; ".join(changes))}</p>')
    parts.append(_alerts_section(profile, pii))
    parts.append("<h2>Columns</h2>")
    rows, classes = [], []
    for c in cols:
        masked = _is_pii(c, pii)
        cd = by_name.get(c.name)
        link = h.Raw(f'<a href="#col-{h.esc(c.name)}">{h.esc(c.name)}</a>'
                     + (" <small>(PII)</small>" if masked else ""))
        show = not masked and c.kind in ("numeric", "temporal")
        rows.append((link, c.dtype, h.Raw(h.esc(_nulls(c))), h.Raw(h.esc(_distinct(c))),
                     h.Raw(h.esc(_extreme(c, "min"))) if show else "",
                     h.Raw(h.esc(_extreme(c, "max"))) if show else "",
                     h.Raw(h.esc(_value(c, c.mean))) if show and c.kind == "numeric" else "",
                     _psi_html(cd, threshold) if drift is not None else h.Raw("")))
        classes.append("")
    parts.append('<div class="table-wrap">'
                 + h.table(["column", "type", "nulls", "distinct", "min", "max", "mean", "drift (PSI)"], rows,
                           row_class=classes) + "</div>")
    parts.append('<div class="grid">'
                 + "".join(_column_card(c, by_name.get(c.name), threshold, _is_pii(c, pii)) for c in cols) + "</div>")
    return h.page(title or f"Profile of {profile.table}", "".join(parts), css=_CSS)


def overview(profiles: Any, *, pii_columns: Iterable[str] = ()) -> Any:
    """One row per column of every profiled table, readable (a pandas DataFrame of text):
    type, nulls, distinct, min, median, max, mean; PII columns show counts only.
    ``profiles``: ``{table: TableProfile}``."""
    import pandas as pd

    pii = set(pii_columns)
    rows = []
    for table, profile in profiles.items():
        for c in profile.columns:
            masked = _is_pii(c, pii | set(getattr(profile, "pii_columns", ()) or ()))
            show = not masked and c.kind in ("numeric", "temporal")
            temporal = c.kind == "temporal"
            rows.append({
                "table": table, "column": c.name + (" (PII)" if masked else ""), "type": c.dtype, "kind": c.kind,
                "nulls": _nulls(c), "distinct": _distinct(c),
                "min": (c.min_label if temporal and c.min_label else _value(c, c.min)) if show else "",
                "median": _value(c, c.quantiles.get("p50")) if show else "",
                "max": (c.max_label if temporal and c.max_label else _value(c, c.max)) if show else "",
                "mean": _value(c, c.mean) if show and not temporal else "",
            })
    return pd.DataFrame(rows)
