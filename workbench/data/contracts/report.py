"""A self-contained HTML summary of contract results (MLflow's artifact viewer shows it)."""

from __future__ import annotations

import html
import json

from ... import formatting as fmt
from .results import ContractResult, RuleResult

__all__ = ["render_html"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem;color:#1f2328}
h1{font-size:1.4rem} h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa} .pass{color:#1a7f37;font-weight:600} .fail{color:#cf222e;font-weight:600}
.warn{color:#9a6700;font-weight:600} .muted{color:#656d76} code{font-size:.85rem}
.badge{display:inline-block;padding:.1rem .5rem;border-radius:1rem;color:#fff}
.badge.pass{background:#1a7f37} .badge.fail{background:#cf222e}
"""


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


def render_html(results: list[ContractResult]) -> str:
    """One page: a summary line per contract, then every rule with counts and examples."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Data contracts</title>",
        f"<style>{_CSS}</style></head><body><h1>Data contracts</h1>",
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
                f"<tr><td><code>{html.escape(r.rule_id)}</code></td><td>{r.severity}</td><td>{_status(r)}</td>"
                f"<td>{_cell(None if r.unexpected_count is None else fmt.integer(r.unexpected_count))}</td><td>{pct}</td>"
                f"<td>{'' if r.masked and r.kind not in ('type', 'row_count') else _cell(r.observed)}</td>"
                f"<td>{_examples(r)}</td><td>{r.quarantined_rows or ''}</td><td>{_cell(r.error)}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)
