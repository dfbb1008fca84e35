"""Self-contained HTML pages of contract results (MLflow's artifact viewer shows them), as
Great Expectations' Data Docs keep them:

- :func:`render_html`: this check — the failures first (the failures-only view: every rule
  that failed, across contracts), a summary line per contract, then every rule with its
  counts and examples; a switch hides the passing rules;
- :func:`render_history`: the index of past checks per contract, one row a check, newest
  first, with its result and counts over time (rows come from the MLflow runs of the
  contracts step: :func:`workbench.steps.contracts_step.contract_history`).
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass

from ... import formatting as fmt
from .results import ContractResult, RuleResult

__all__ = ["render_html", "render_history", "HistoryRow"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem;color:#1f2328}
h1{font-size:1.4rem} h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa} .pass{color:#1a7f37;font-weight:600} .fail{color:#cf222e;font-weight:600}
.warn{color:#9a6700;font-weight:600} .muted{color:#656d76} code{font-size:.85rem}
.badge{display:inline-block;padding:.1rem .5rem;border-radius:1rem;color:#fff}
.badge.pass{background:#1a7f37} .badge.fail{background:#cf222e}
body:has(#failures-only:checked) tr.rule-pass{display:none}
.switch{margin:.6rem 0;display:inline-block;font-size:.9rem}
.spark{display:inline-block;width:9px;height:14px;margin-right:1px;border-radius:2px;vertical-align:middle}
.spark.pass{background:#1a7f37}.spark.fail{background:#cf222e}
"""


@dataclass(frozen=True)
class HistoryRow:
    """One past check of one contract (from the contracts step's MLflow run)."""

    dataset: str
    run_id: str
    started: str  # a timestamp with its time zone
    passed: bool | None
    version: str = ""
    rules: int | None = None
    rules_failed: int | None = None
    errors: int | None = None
    warnings: int | None = None
    cached: bool = False


def _status(r: RuleResult) -> str:
    if r.success:
        return '<span class="pass">pass</span>'
    if r.error is not None:
        return '<span class="fail">raised</span>'
    if r.severity == "warn":
        return '<span class="warn">warn</span>'
    return '<span class="fail">fail</span>'


def _cell(value: object) -> str:
    return "" if value is None else html.escape(str(value))


def _examples(r: RuleResult) -> str:
    if r.masked:
        return '<span class="muted">masked (PII)</span>'
    if not r.examples:
        return ""
    return html.escape(", ".join(json.dumps(v, default=str) for v in r.examples))


def _failures(results: list[ContractResult]) -> str:
    failed = [(res, r) for res in results for r in res.rules if not r.success]
    if not failed:
        rules = sum(len(res.rules) for res in results)
        return f"<section id='failures'><h2>Failures</h2><p class='pass'>None: all {rules} rules pass.</p></section>"
    rows = "".join(
        f"<tr><td><a href='#{html.escape(res.dataset)}'>{html.escape(res.dataset)}</a></td>"
        f"<td><code>{html.escape(r.rule_id)}</code></td><td>{r.severity}</td><td>{_status(r)}</td>"
        f"<td>{_cell(None if r.unexpected_count is None else fmt.integer(r.unexpected_count))}</td>"
        f"<td>{_examples(r)}</td><td>{_cell(r.error)}</td></tr>"
        for res, r in sorted(failed, key=lambda x: (x[1].severity != "error", x[0].dataset)))
    return (f"<section id='failures'><h2>Failures ({len(failed)})</h2>"
            "<table><tr><th>dataset</th><th>rule</th><th>severity</th><th>status</th><th>unexpected</th>"
            f"<th>examples</th><th>error</th></tr>{rows}</table></section>")


def render_html(results: list[ContractResult], *, history_link: str | None = None) -> str:
    """One page: the failures first, a summary line per contract, then every rule with counts
    and examples (a switch shows the failures only); ``history_link``: the past checks' page."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Data contracts</title>",
        f"<style>{_CSS}</style></head><body><h1>Data contracts</h1>",
        "<label class='switch'><input type='checkbox' id='failures-only'> show failing rules only</label>"
        + (f" · <a href='{html.escape(history_link)}'>past checks of these contracts</a>" if history_link else ""),
        _failures(results),
        "<h2>Contracts</h2>",
        "<table><tr><th>dataset</th><th>result</th><th>version</th><th>rows</th>"
        "<th>errors</th><th>warnings</th><th>quarantined</th><th>contract sha256</th></tr>",
    ]
    for res in results:
        badge = '<span class="badge pass">passed</span>' if res.passed else '<span class="badge fail">failed</span>'
        parts.append(
            f"<tr><td><a href='#{html.escape(res.dataset)}'>{html.escape(res.dataset)}</a></td><td>{badge}</td>"
            f"<td>{_cell(res.contract_version)}</td><td>{_cell(None if res.row_count is None else fmt.integer(res.row_count))}</td>"
            f"<td>{len(res.blocking)}</td><td>{len(res.warnings)}</td><td>{res.quarantined_rows}</td>"
            f"<td><code>{html.escape(res.contract_sha256[:12])}</code></td></tr>"
        )
    parts.append("</table>")
    for res in results:
        parts.append(
            f"<h2 id='{html.escape(res.dataset)}'>{html.escape(res.dataset)} "
            f"<span class='muted'>v{html.escape(res.contract_version)} · {html.escape(res.contract_path)}</span></h2>"
        )
        parts.append(
            "<table><tr><th>rule</th><th>severity</th><th>status</th><th>unexpected</th>"
            "<th>%</th><th>observed</th><th>examples</th><th>quarantined</th><th>error</th></tr>"
        )
        order = sorted(res.rules, key=lambda r: (r.success, r.severity != "error"))
        for r in order:
            pct = "" if r.unexpected_percent is None else fmt.percent(r.unexpected_percent / 100)
            parts.append(
                f"<tr class='{'rule-pass' if r.success else 'rule-fail'}'>"
                f"<td><code>{html.escape(r.rule_id)}</code></td>"
                f"<td>{r.severity}</td><td>{_status(r)}</td>"
                f"<td>{_cell(None if r.unexpected_count is None else fmt.integer(r.unexpected_count))}</td><td>{pct}</td>"
                f"<td>{'' if r.masked and r.kind not in ('type', 'row_count') else _cell(r.observed)}</td>"
                f"<td>{_examples(r)}</td><td>{r.quarantined_rows or ''}</td><td>{_cell(r.error)}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def render_history(rows: Sequence[HistoryRow]) -> str:
    """The index of past checks: per contract, its results over time (newest first), with a
    strip of pass/fail marks oldest to newest so a run of failures shows at a glance."""
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>Data contracts: past checks</title>",
             f"<style>{_CSS}</style></head><body><h1>Data contracts: past checks</h1>"]
    datasets = sorted({r.dataset for r in rows})
    if not datasets:
        parts.append("<p class='muted'>No earlier check recorded.</p>")
    for ds in datasets:
        mine = [r for r in rows if r.dataset == ds]
        strip = "".join(f"<span class='spark {'pass' if r.passed else 'fail'}' title='{html.escape(r.started)}'></span>"
                        for r in reversed(mine) if r.passed is not None)
        failed = sum(1 for r in mine if r.passed is False)
        parts.append(f"<h2 id='{html.escape(ds)}'>{html.escape(ds)} <span class='muted'>{len(mine)} check(s), "
                     f"{failed} failed</span></h2><p>{strip} <span class='muted'>oldest → newest</span></p>")
        parts.append("<table><tr><th>checked</th><th>result</th><th>version</th><th>rules failed</th><th>errors</th>"
                     "<th>warnings</th><th>run</th></tr>")
        for r in mine:
            result = ("<span class='pass'>passed</span>" if r.passed else "<span class='fail'>failed</span>"
                      if r.passed is False else "<span class='muted'>—</span>")
            failed_of = ("" if r.rules_failed is None else
                         f"{r.rules_failed}" + ("" if r.rules is None else f" of {r.rules}"))
            parts.append(f"<tr><td>{html.escape(r.started)}</td><td>{result}</td><td>{_cell(r.version)}</td>"
                         f"<td>{failed_of}</td><td>{_cell(r.errors)}</td><td>{_cell(r.warnings)}</td>"
                         f"<td><code>{html.escape(r.run_id[:12])}</code>{' (cached)' if r.cached else ''}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)
