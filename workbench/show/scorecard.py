"""The pilot scorecard: one self-contained HTML page per pilot run.

Everything on it is read back from MLflow (the single source of truth): the charter's
question, the table fingerprints and contract results, profile highlights and drift, the
baseline against every candidate (quality, latency, cost), slices, robustness probes,
every gate and the decision. The page has no external asset: CSS is inline and the
figures the notebooks logged (PNG) are embedded as base64. All text is escaped; numbers
are formatted by :mod:`workbench.formatting` (by their unit in the metric registry).

It links the profile report of each table (``profile_report/<table>.html`` on the profile
run) and shows each candidate's evaluation report (``evaluation/report.html``) inline;
:func:`write_scorecard` also copies those pages beside the scorecard in ``reports/``, so
the links work from the file as well as from the MLflow UI.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import formatting as fmt
from ..charter.config import Charter, SlicesGate
from ..errors import TrackingError, WorkbenchError
from ..measure import metrics as metric_registry
from ..measure.metrics import format_metric
from ..measure.stats import MIN_PER_CLASS, confidence_among, confidence_text, other_runs_text
from ..store import environment as run_environment
from ..store.tracking import (CONTRACT_VERSION_TAG, CONTRACTS_PASSED_TAG, FINGERPRINT_TAG, TAG, Store, tags_under,
                              ui_base_url, ui_path)
from .links import LINKS_SCRIPT, PREVIEW_NOTE, report_link, ui_link

__all__ = ["render_scorecard", "write_scorecard", "deciding_metrics", "SCORECARD_ARTIFACT"]

SCORECARD_ARTIFACT = "scorecard/scorecard.html"
MAX_FIGURES = 12  # keeps the page a few hundred KB

_CSS = """

body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d8dde3;padding-bottom:4px}
h3{font-size:14px;margin:16px 0 6px}
section{background:#fff;border:1px solid #e1e5ea;border-radius:6px;padding:12px 16px;margin-bottom:14px}
table{border-collapse:collapse;margin:6px 0;font-size:13px}
th,td{padding:4px 10px;border-bottom:1px solid #eceff2;text-align:left;vertical-align:top}
table.fit td,div.wrap{overflow-wrap:anywhere}div.wrap{min-width:12em}
th{background:#f0f2f5;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#116329;font-weight:600}.fail{color:#b42318;font-weight:600}.muted{color:#6b7480}
.banner{padding:10px 14px;border-radius:6px;font-weight:600;margin:10px 0}
.banner.go{background:#dcf5e3;color:#0d4d22}.banner.nogo{background:#fde2df;color:#7a1a11}
.banner.none{background:#eef0f3}.banner.draft{background:#fdf1d6;color:#6b4500}
.sel{background:#fffbe6}
tr.regress td{background:#fde2df}
code{font:12px ui-monospace,Menlo,Consolas,monospace;background:#f0f2f5;padding:1px 4px;border-radius:3px}
figure{display:inline-block;margin:6px 10px 6px 0}figure img{max-width:480px;border:1px solid #e1e5ea}
figcaption{font-size:12px;color:#6b7480}iframe{width:100%;height:360px;border:1px solid #e1e5ea}
iframe.report{height:900px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:4px 0}dt{font-weight:600}
dd{margin:0}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _n(value: Any, metric: str | None = None) -> str:
    """A number as a person reads it: by the metric's unit when named, else integers as
    integers and four significant digits (:mod:`workbench.formatting`)."""
    if value is None:
        return '<span class="muted">—</span>'
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _e(format_metric(metric, value) if metric else fmt.number(value))
    return _e(value)


def _breakable(name: str | None) -> str:
    """A gate or metric name, escaped, that may wrap after its dots and underscores
    (``contracts.error_failures``): the table's other columns then leave the reason room."""
    return re.sub(r"([._])", r"\1<wbr>", _e(name))


class _Num(str):
    """A number already formatted: escaped and right-aligned in a table."""


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric_from: int = 1,
           row_class: Sequence[str] | None = None, fit: bool = False) -> str:
    """An HTML table; cells are escaped unless they are (already safe) ``_Raw`` values. ``fit``:
    its cells may break anywhere, so that long unbroken keys, paths and times (the drafted values'
    table) keep it within the page instead of pushing its last columns off the section."""
    out = ['<table class="fit"><thead><tr>' if fit else "<table><thead><tr>",
           *(f"<th>{_e(h)}</th>" for h in headers), "</tr></thead><tbody>"]
    for i, row in enumerate(rows):
        cls = f' class="{_e(row_class[i])}"' if row_class and row_class[i] else ""
        out.append(f"<tr{cls}>")
        for j, cell in enumerate(row):
            if isinstance(cell, _Num):
                out.append(f'<td class="num">{_e(cell)}</td>')
            elif isinstance(cell, _Raw):
                out.append(f"<td>{cell}</td>")
            elif j >= numeric_from and (cell is None or isinstance(cell, (int, float))):
                out.append(f'<td class="num">{_n(cell)}</td>')
            else:
                out.append(f"<td>{_e(cell)}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


class _Raw(str):
    """HTML built here from escaped parts."""


def _verdict(ok: bool | None) -> _Raw:
    if ok is None:
        return _Raw('<span class="muted">—</span>')
    return _Raw('<span class="pass">PASS</span>' if ok else '<span class="fail">FAIL</span>')


# -- reading MLflow ----------------------------------------------------------------------------


class _Reader:
    """Artifact reads for one render (text, JSON, PNG), tolerant of what is absent."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def list(self, run_id: str, path: str | None = None) -> list[str]:
        return self.store.artifact_names(run_id, path)  # [] when there are none

    def bytes(self, run_id: str, path: str) -> bytes | None:
        return self.store.artifact_bytes(run_id, path)  # None: absent

    def text(self, run_id: str, path: str) -> str | None:
        data = self.bytes(run_id, path)
        return None if data is None else data.decode("utf-8", errors="replace")

    def json(self, run_id: str, path: str) -> Any | None:
        text = self.text(run_id, path)
        if text is None:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return None


def _source_id(run: Any) -> str:
    return run.data.tags.get(TAG["cached_from"]) or run.info.run_id


def _runref(run_id: str | None) -> str:
    return f"<code>{_e(run_id[:12])}</code>" if run_id else '<span class="muted">—</span>'


# -- sections ------------------------------------------------------------------------------------


def _header(charter: Charter, pilot: Any, *, closing: bool = False) -> str:
    tags = pilot.data.tags
    started = fmt.timestamp(pilot.info.start_time)
    status = pilot.info.status
    if status == "RUNNING":
        # the pilot writes its scorecard as its last step, then closes its run FINISHED
        status = "FINISHED" if closing else "RUNNING: not finished when this scorecard was written"
    if tags.get(TAG["partial"]) == "true":
        status += "; a partial run (some notebook steps only)"
    items = [
        ("Question", charter.question), ("Owner", charter.owner), ("Primary metric", charter.primary_metric),
        ("Pilot run", f"{pilot.info.run_id} ({status}, started {started})"),
        ("Git commit", tags.get(TAG["git_commit"], "unknown")
         + (" (uncommitted changes)" if tags.get(TAG["git_dirty"]) == "true" else "")),
        ("Charter sha256", tags.get(TAG["charter_sha256"], "")[:16] or "—"),
    ]
    if charter.description:
        items.insert(1, ("Description", charter.description))
    dl = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items)
    exp = pilot.info.experiment_id
    base = ui_base_url()
    links = (f'<dt>MLflow UI</dt><dd>{ui_link("runs of this pilot", ui_path(exp), base)} · '
             f'{ui_link("this pilot run", ui_path(exp, pilot.info.run_id), base)} '
             f'<span class="muted">(start it with <code>make ui</code>; opened as a file, the links go to '
             f'{_e(base)}: add <code>?mlflow=http://HOST:PORT</code> to this page\'s address for another)'
             f'</span>{PREVIEW_NOTE}</dd>')
    return (f'<header><h1>Pilot scorecard: {_e(charter.name)}</h1><section id="charter"><h2>Charter</h2>'
            f"<dl>{dl}{links}</dl></section></header>")


_SPLIT_KEYS = ("split.kind", "eval_set.source")  # a table's split, or an eval-set pilot's items


def _units(d: Mapping[str, Any]) -> str:
    """The independent units behind an interval: rows; distinct inputs of the eval items (an
    input asked again counts once); or the groups of a group split (a patient's rows, one unit)."""
    if d.get("items") and d.get("grouped_by"):
        return f"{fmt.integer(d.get('n'))} groups of {d['grouped_by']} ({fmt.integer(d['items'])} rows)"
    return fmt.integer(d.get("n")) + (f" distinct of {fmt.integer(d['items'])}" if d.get("items") else "")


def _split_params(layout: Any, reader: _Reader) -> dict[str, str] | None:
    """The split a modeling step recorded (``split.*`` params), or the eval set an eval-set
    step recorded (``eval_set.*``); a cached step's from its source run."""
    for role in ("evaluate", "baseline"):
        run = layout.step(role)
        if run is None:
            continue
        params = dict(run.data.params)
        if not any(k in params for k in _SPLIT_KEYS) and _source_id(run) != run.info.run_id:
            try:
                params = dict(reader.store.get_run(_source_id(run)).data.params)
            except Exception:  # noqa: BLE001 - a missing source run: no split shown
                continue
        if any(k in params for k in _SPLIT_KEYS):
            return params
    return None


def _eval_set_table(params: Mapping[str, str]) -> str:
    """An eval-set pilot has no split: every model answers the same fixed items."""
    train = (f"{fmt.integer(int(params['eval_set.train_items']))} from <code>{_e(params.get('eval_set.train', ''))}</code> "
             "(checked for overlap with the eval items)" if "eval_set.train_items" in params
             else "none declared (nothing is trained on items)")
    row = [(_Raw(f"<code>{_e(params['eval_set.source'])}</code>"), int(params.get("eval_set.items", 0) or 0),
            _Raw(train), _Raw(f"<code>{_e(params.get('eval_set.fingerprint', ''))}</code>"))]
    head = ["eval set", "eval items (every model answers all)", "training items", "fingerprint"]
    if "eval_set.corpus_documents" in params:
        row = [(*row[0], int(params["eval_set.corpus_documents"]))]
        head.append("corpus documents")
    return "<h3>Eval set</h3>" + _table(head, row)


def _split_table(params: Mapping[str, str] | None) -> str:
    """How the rows were split, and what the models were fitted on (a training sample)."""
    if params is None:
        return '<h3>Split</h3><p class="muted">No split recorded (no baseline or evaluate step in this pilot run).</p>'
    if "eval_set.source" in params and "split.kind" not in params:
        return _eval_set_table(params)
    how = ", ".join(f"{k.removeprefix('split.')}={v}" for k, v in params.items()
                    if k.startswith("split.") and k.split(".")[1] in ("kind", "column", "train", "evaluate",
                                                                        "test_size", "seed", "stratify"))
    def count(key: str) -> int | None:
        try:
            return int(params[key])  # type: ignore[index]
        except (KeyError, ValueError):
            return None

    fitted, whole, wanted = count("split.train_rows"), count("split.train_split_rows"), count("split.train_sample.rows")
    if wanted is not None and fitted is not None and whole is not None and fitted < whole:
        sample = (f"a sample of {fmt.integer(fitted)} (train_sample: rows {fmt.integer(wanted)}, seed "
                  f"{params.get('split.train_sample.seed', '0')}; stratified on the target for classification)")
    elif wanted is not None:
        sample = f"all of them (train_sample: rows {fmt.integer(wanted)}; the split is smaller)"
    else:
        sample = "all of them"
    rows = [(how, whole, sample, count("split.eval_rows"), count("split.dropped_null_target"))]
    return "<h3>Split</h3>" + _table(["split", "training rows", "models fitted on", "held-out rows (all scored)",
                                      "null target dropped"], rows)


def _data_section(pilot: Any, steps: Mapping[str, Any], contracts: Any, reader: _Reader,
                  split: Mapping[str, str] | None = None) -> str:
    tags = pilot.data.tags
    ingest = steps.get("ingest")
    fps = tags_under(tags, FINGERPRINT_TAG)
    rows = []
    for table, digest in sorted(fps.items()):
        n = ingest.data.metrics.get(f"ingest.{table}.rows") if ingest is not None else None
        rows.append((table, n, _Raw(f"<code>{_e(digest)}</code>")))
    parts = ['<section id="data"><h2>Data and contracts</h2><h3>Table fingerprints</h3>']
    parts.append(_table(["table", "rows", "fingerprint"], rows) if rows
                 else '<p class="muted">No fingerprints recorded.</p>')
    parts.append(_split_table(split))
    parts.append("<h3>Contracts</h3>")
    if contracts is None:
        parts.append('<p class="muted">No contracts step in this pilot run (no source declares a contract).</p>')
    else:
        m, ctags = contracts.data.metrics, contracts.data.tags
        datasets = sorted({k.split(".")[1] for k in m if k.startswith("contract.") and k.endswith(".passed")})
        versions = tags_under(ctags, CONTRACT_VERSION_TAG)
        crow = []
        for ds in datasets:
            g = lambda s, ds=ds: m.get(f"contract.{ds}.{s}")  # noqa: E731
            crow.append((ds, _Raw(f"<code>{_e(versions.get(ds, '—'))}</code>"),
                         _verdict(None if g("passed") is None else g("passed") == 1.0),
                         g("rules"), g("rules_failed"), g("errors"), g("warnings"), g("rows_quarantined")))
        passed = ctags.get(CONTRACTS_PASSED_TAG)
        cached = " (served from cache)" if ctags.get(TAG["cached"]) == "true" else ""
        parts.append(f"<p>Verdict: {_verdict(None if passed is None else passed == 'true')} — "
                     f"{_n(m.get('contracts.error_failures'))} error-level failure(s), "
                     f"{_n(m.get('contracts.warnings'))} warning(s); "
                     f"run {_runref(_source_id(contracts))}{_e(cached)}</p>")
        if crow:
            parts.append(_table(["dataset", "version", "verdict", "rules", "failed", "errors", "warnings",
                                 "quarantined"], crow, numeric_from=3))
        summary = reader.text(_source_id(contracts), "contracts/summary.html")
        if summary:
            # the contract report is a page of its own: sandboxed, no scripts, no outside requests
            parts.append(f'<details><summary>Contract report (contracts/summary.html)</summary>'
                         f'<iframe sandbox="" srcdoc="{_e(summary)}"></iframe></details>')
    parts.append("</section>")
    return "".join(parts)


def _local_copy(pilot_run_id: str, artifact: str, owner: str | None = None) -> str:
    """Where :func:`write_scorecard` copies a report page, relative to the scorecard file."""
    if owner is not None:  # one evaluation report per model, all named evaluation/report.html
        return f"{pilot_run_id}/evaluation/{owner}.html"
    return f"{pilot_run_id}/{artifact}"


def _report_pages(layout: Any, reader: _Reader) -> list[tuple[str, str, str | None]]:
    """(run id, artifact, owner) of every report page of a pilot run: the profile reports
    and the evaluation report of the baseline and of each candidate."""
    from .evaluation_report import ARTIFACT
    from .profile_report import ARTIFACT_DIR

    pages: list[tuple[str, str, str | None]] = []
    profile = layout.step("profile")
    if profile is not None:
        pages += [(_source_id(profile), path, None) for path in sorted(reader.list(_source_id(profile), ARTIFACT_DIR))
                  if path.endswith(".html")]
    baseline = next((r for r in layout.roles.get("baseline", []) if r.info.status == "FINISHED"), None)
    models = ([("baseline", _source_id(baseline))] if baseline is not None else []) + [
        (name, run.info.run_id) for name, run in sorted(layout.candidates.items())]
    for owner, run_id in models:
        if ARTIFACT in reader.list(run_id, ARTIFACT.split("/")[0]):
            pages.append((run_id, ARTIFACT, owner))
    return pages


def _report_link(pilot_run_id: str, run: Any, artifact: str, text: str, owner: str | None = None) -> str:
    """Links to a report page: the copy beside the scorecard file, and the run's artifact in the MLflow UI."""
    local = _local_copy(pilot_run_id, artifact, owner)
    remote = ui_path(run.info.experiment_id, _source_id(run), artifact)
    return (f'{report_link(text, local, remote)} '
            f'<span class="muted">({ui_link("in the MLflow UI", remote, ui_base_url())})</span>')


def _profile_section(profile: Any, reader: _Reader, figures: list[tuple[str, str, bytes]],
                     pilot_run_id: str = "") -> str:
    from .profile_report import ARTIFACT_DIR, artifact_path

    parts = ['<section id="profile"><h2>Profile and drift</h2>']
    if profile is None:
        parts.append('<p class="muted">No profile step in this pilot run.</p></section>')
        return "".join(parts)
    src = _source_id(profile)
    tables = sorted(Path(p).stem for p in reader.list(src, "profile") if p.endswith(".json"))
    if not tables:
        parts.append('<p class="muted">The profile run logged no table profile.</p>')
    reports = set(reader.list(src, ARTIFACT_DIR))
    for table in tables:
        prof = reader.json(src, f"profile/{table}.json") or {}
        cols = prof.get("columns") or []
        parts.append(f"<h3>{_e(table)}: {_n(prof.get('row_count'))} rows, {len(cols)} columns</h3>")
        if artifact_path(table) in reports:
            parts.append("<p>Every column (type, nulls, distinct values, histogram or top values, drift in colour): "
                         + _report_link(pilot_run_id, profile, artifact_path(table), f"profile report of {table}")
                         + "</p>")
        parts.append(_profile_alerts(prof))
        # every column, in the table's order (not the noisiest few); personal columns: counts only
        parts.append(_table(["column", "type", "null rate", "distinct", "min", "max", "mean"],
                            [(c.get("name") + (" (PII)" if c.get("pii") else ""), c.get("dtype"),
                              _Num(fmt.percent(c.get("null_rate"))),
                              _Num(fmt.distinct(c.get("distinct_count"), exact=bool(c.get("distinct_is_exact")))),
                              *(("", "", "") if c.get("pii") else
                                (c.get("min_label") or c.get("min"), c.get("max_label") or c.get("max"),
                                 c.get("mean"))))
                             for c in cols], numeric_from=2))
        drift = reader.json(src, f"drift/{table}.json")
        m = profile.data.metrics
        if drift is None:
            parts.append('<p class="muted">No drift report (no earlier profile of this table to compare with).</p>')
        else:
            flagged = drift.get("flagged") or []
            ref = drift.get("reference_run")
            parts.append(f"<p>Drift vs run {_runref(ref)}: {_n(m.get(f'drift.{table}.flagged_count', len(flagged)))} "
                         f"column(s) flagged (PSI &gt; {_n(drift.get('threshold'))}), "
                         f"{_n(m.get(f'drift.{table}.schema_changes'))} schema change(s), "
                         f"rows {_n(drift.get('previous_rows'))} → {_n(drift.get('current_rows'))}.</p>")
            dcols = [c for c in drift.get("columns") or [] if c.get("psi") is not None]
            dcols.sort(key=lambda c: -c["psi"])
            if dcols:
                parts.append(_table(["column", "PSI", "flagged"],
                                    [(c.get("name"), c.get("psi"), "yes" if c.get("flagged") else "")
                                     for c in dcols[:8]]))
    figures.extend(_figures(reader, src, "profile"))
    parts.append("</section>")
    return "".join(parts)


def _profile_alerts(prof: Mapping[str, Any]) -> str:
    """The profile's alerts (workbench.data.profile_alerts), one line each."""
    from ..data.profile_alerts import alerts
    from ..data.profiling import TableProfile

    try:
        found = alerts(TableProfile.from_dict(prof))
    except Exception:  # noqa: BLE001 - an older or partial profile JSON: no alerts rather than no scorecard
        return ""
    if not found:
        return '<p class="muted">Alerts: none.</p>'
    items = "".join(f"<li><b>{_e(a.kind)}</b> {_e(a.column or 'table')}: {_e(a.message)}</li>" for a in found)
    return f'<div class="profile-alerts"><p>Alerts ({len(found)}):</p><ul>{items}</ul></div>'


def _figures(reader: _Reader, run_id: str, owner: str) -> list[tuple[str, str, bytes]]:
    out = []
    for path in sorted(reader.list(run_id, "figures")):
        if path.lower().endswith(".png"):
            data = reader.bytes(run_id, path)
            if data:
                out.append((owner, path, data))
    return out


_COMPARE_PREFIXES = ("quality.", "latency.", "cost.", "time_saved.")


def _compare_section(charter: Charter, models: Mapping[str, Mapping[str, float]], selected: str | None,
                     run_ids: Mapping[str, str]) -> str:
    names = list(models)
    parts = ['<section id="comparison"><h2>Baseline vs candidates</h2>']
    if not names:
        parts.append('<p class="muted">No baseline or candidate run in this pilot run.</p></section>')
        return "".join(parts)
    metrics = sorted({k for m in models.values() for k in m if k.startswith(_COMPARE_PREFIXES)},
                     key=lambda k: (_COMPARE_PREFIXES.index(k.split(".")[0] + "."), k != charter.primary_metric, k))
    headers = ["metric", *(f"{n} ★" if n == selected else n for n in names)]
    rows = [(k, *(_Num(format_metric(k, models[n].get(k))) for n in names)) for k in metrics]
    cls = ["sel" if k == charter.primary_metric else "" for k in metrics]
    parts.append(_table(headers, rows, row_class=cls))
    parts.append("<p class=\"muted\">★ the candidate the gates judged. Runs: "
                 + ", ".join(f"{_e(n)} {_runref(r)}" for n, r in run_ids.items()) + "</p></section>")
    return "".join(parts)


def _evaluation_section(layout: Any, reader: _Reader, pilot_run_id: str, selected: str | None) -> str:
    """Each candidate's evaluation report against the baseline, shown inline (and linked)."""
    from .evaluation_report import ARTIFACT

    parts = ['<section id="evaluation"><h2>Evaluation reports</h2>',
             '<p class="muted">Per candidate against the baseline: ROC and PR curves or residuals, calibration, '
             "the confusion matrix at the threshold, latency, probes, and the slices that regressed (red).</p>"]
    shown = 0
    baseline = next((r for r in layout.roles.get("baseline", []) if r.info.status == "FINISHED"), None)
    for name, run in sorted(layout.candidates.items()):
        page = reader.text(run.info.run_id, ARTIFACT)
        if page is None:
            continue
        shown += 1
        star = " ★" if name == selected else ""
        parts.append(f"<h3>{_e(name)}{_e(star)}: " + _report_link(pilot_run_id, run, ARTIFACT, "open the report", name)
                     + "</h3>"
                     + f'<details{" open" if name == selected else ""}><summary>{_e(name)} against the baseline'
                       f'</summary><iframe class="report" sandbox="" title="evaluation report {_e(name)}" '
                       f'srcdoc="{_e(page)}"></iframe></details>')
    if baseline is not None and ARTIFACT in reader.list(_source_id(baseline), "evaluation"):
        parts.append("<p>The baseline on its own: "
                     + _report_link(pilot_run_id, baseline, ARTIFACT, "evaluation report of the baseline", "baseline")
                     + "</p>")
    if not shown:
        parts.append('<p class="muted">No candidate run logged an evaluation report.</p>')
    parts.append("</section>")
    return "".join(parts)


def _slice_metric(charter: Charter) -> str:
    for gate in charter.gates:
        if isinstance(gate, SlicesGate):
            return gate.metric.split(".", 1)[1] if gate.metric.startswith("quality.") else gate.metric
    return charter.primary_metric.split(".", 1)[1] if charter.primary_metric.startswith("quality.") else "roc_auc"


def _slices_section(charter: Charter, models: Mapping[str, Mapping[str, float]]) -> str:
    metric = _slice_metric(charter)
    keys: set[str] = set()
    for m in models.values():
        for k in m:
            p = k.split(".")
            if len(p) == 4 and p[0] == "slice" and p[3] == metric and p[1] != "worst":
                keys.add(f"{p[1]}.{p[2]}")
    parts = [f'<section id="slices"><h2>Slices ({_e(metric)})</h2>']
    if not keys:
        parts.append(f'<p class="muted">No slice metrics for {_e(metric)}.</p></section>')
        return "".join(parts)
    names = list(models)
    rows = []
    higher = metric_registry.higher_is_better(f"quality.{metric}")
    judged = names[-1]  # worst first, as numbers, on the last model (a candidate)

    def badness(key: str) -> tuple[float, str]:
        v = models[judged].get(f"slice.{key}.{metric}")
        if v is None:
            return (math.inf, key)
        return ((v if higher is not False else -v), key)

    for key in sorted(keys, key=badness):
        count = next((m.get(f"slice.{key}.count") for m in models.values() if f"slice.{key}.count" in m), None)
        rows.append((key, _Num(fmt.integer(count)),
                     *(_Num(format_metric(f"quality.{metric}", models[n].get(f"slice.{key}.{metric}"))) for n in names)))
    rows.append(("worst slice", None,
                 *(_Num(format_metric(f"quality.{metric}", models[n].get(f"slice.worst.{metric}"))) for n in names)))
    rows.append(("flagged slices", None, *(_Num(fmt.integer(models[n].get("slice.flagged"))) for n in names)))
    parts.append(_table(["slice", "rows", *names], rows))
    parts.append("</section>")
    return "".join(parts)


def _interval_text(d: Mapping[str, Any] | None) -> str:
    if not d or d.get("ci_low") is None:
        return "—"
    def signed(key: str) -> str:  # 4 significant digits, never an exponent (-5.64e-05 -> -0.0000564)
        v = float(d[key])
        return ("+" if v > 0 else "") + fmt.number(v)

    return f"{signed('diff')} [{signed('ci_low')}, {signed('ci_high')}]"


def _intervals_section(charter: Charter, layout: Any, reader: _Reader, selected: str | None, *,
                       earlier: int = 0, other_splits: int = 0) -> str:
    """Paired differences with 95 % intervals (compare/<reference>.json of each candidate run),
    then, for the judged candidate, every slice's difference, worst first (as numbers).
    ``earlier``: other configurations other runs scored on the same rows, ``other_splits``: those they
    scored on other splits of the same tables (the decision's)."""
    how = ("Each candidate minus today's way on the very same eval items: the difference and its 95 % interval "
           "(t intervals on per-item differences for means of a per-item value, such as accuracy, hit@k or "
           "MRR@k; a paired bootstrap over items for macro averages over classes)."
           if getattr(charter, "eval_set", None) is not None else
           "Each candidate minus today's rule (and the champion) on the very same held-out rows: the difference "
           "and its 95 % interval (DeLong for ROC AUC, t intervals on per-row differences for mean-type metrics, "
           "a paired bootstrap for the rest).")
    several = len(layout.candidates) + earlier + other_splits
    wider = ("" if several < 2 else
             f" With {several} candidates scored on {'held-out rows of these tables' if other_splits else 'these rows'}"
             f"{other_runs_text(len(layout.candidates), earlier, other_splits)}, "
             "the gates judge the chosen one on "
             f"{confidence_text(confidence_among(several))} intervals, each side widened (README, \"Several "
             "candidates\"): the best of several clears a margin by chance more often than one does.")
    parts = ['<section id="intervals"><h2>Differences you can trust</h2>',
             f'<p class="muted">{_e(how)} A gate needs the interval\'s lower bound to clear its margin; a margin '
             f'inside the interval is a tie: no better than today.{_e(wider)}</p>']
    rows = []
    slice_cmp: Mapping[str, Any] | None = None
    for name, run in sorted(layout.candidates.items()):
        for ref in ("baseline", "champion"):
            data = reader.json(run.info.run_id, f"compare/{ref}.json")
            if not data:
                continue
            if name == selected and (ref == "champion" or slice_cmp is None):
                slice_cmp = data
            for metric, d in (data.get("metrics") or {}).items():
                rows.append((name, data.get("reference_label") or ref, metric,
                             _Num(format_metric(metric, d.get("candidate"))),
                             _Num(format_metric(metric, d.get("reference"))), _Num(_interval_text(d)),
                             d.get("method"), _Num(_units(d))))
    if not rows:
        parts.append('<p class="muted">No paired comparison was logged (a custom evaluate notebook): the gates '
                     'compared point values.</p></section>')
        return "".join(parts)
    parts.append(_table(["candidate", "against", "metric", "candidate value", "reference value",
                         "difference [95 % interval]", "method", "rows"], rows, numeric_from=3))
    entries = [e for e in ((slice_cmp or {}).get("slices") or [])]
    if entries:
        gated = _slice_metric(charter)
        unit = "items" if getattr(charter, "eval_set", None) is not None else "rows"
        metrics = sorted(dict.fromkeys(str(e.get("metric")) for e in entries), key=lambda m: m != gated)

        def worst_end(e: Mapping[str, Any]) -> float:  # the interval's worse end, in the metric's own direction
            if e.get("ci_low") is None:
                return math.inf
            higher = metric_registry.higher_is_better(f"quality.{e.get('metric')}")
            return float(e["ci_low"]) if higher is not False else -float(e["ci_high"])

        # one block a metric (the slices gate's first), each worst first
        ordered = sorted(entries, key=lambda e: (metrics.index(str(e.get("metric"))), worst_end(e),
                                                 -int(e.get("rows") or 0)))
        parts.append(f"<h3>Slices of '{_e(selected)}' against {_e(slice_cmp.get('reference_label'))} "
                     f"({_e(', '.join(metrics))}), worst first</h3>")
        parts.append(_table(["slice", "metric", "rows", "difference [95 % interval]", "note"],
                            [(e.get("key"), e.get("metric"), _Num(fmt.integer(e.get("rows"))), _Num(_interval_text(e)),
                              e.get("reason") or _thin_note(e, unit)) for e in ordered]))
    parts.append("</section>")
    return "".join(parts)


def _thin_note(entry: Mapping[str, Any], unit: str = "rows") -> str:
    """What the slices gate asks of a slice with few rows (eval items) of a class (decide.promotion)."""
    rarest = entry.get("smallest_class")
    if rarest is None or int(rarest) >= MIN_PER_CLASS:
        return ""
    return f"{int(rarest)} {unit} of its rarest class (under {MIN_PER_CLASS}): judged only for clear harm"


def _probes_section(models: Mapping[str, Mapping[str, float]], details: Mapping[str, Any]) -> str:
    outcomes = ["crashed", "invalid_output", "refused", "degraded", "handled", "total"]
    parts = ['<section id="probes"><h2>Robustness probes</h2>']
    names = [n for n in models if any(k.startswith("probes.") for k in models[n])]
    if not names:
        parts.append('<p class="muted">No probe results.</p></section>')
        return "".join(parts)
    def count(name: str, outcome: str) -> float | None:
        m = models[name]
        if outcome == "total" and "probes.total" not in m:  # descriptive: kept in probes.json, not a metric
            parts_ = [m.get(f"probes.{o}") for o in outcomes[:-1]]
            return None if all(v is None for v in parts_) else sum(v or 0 for v in parts_)
        return m.get(f"probes.{outcome}")

    parts.append(_table(["outcome", *names], [(o, *(_Num(fmt.integer(count(n, o))) for n in names))
                                             for o in outcomes]))
    bad = []
    for name, data in details.items():
        for r in (data or {}).get("results") or []:
            if r.get("outcome") in ("crashed", "invalid_output"):
                bad.append((name, r.get("name"), r.get("outcome"), r.get("error_type"), r.get("detail")))
    if bad:
        parts.append("<h3>Probes that crashed or returned invalid output</h3>")
        parts.append(_table(["model", "probe", "outcome", "error", "detail"], bad, numeric_from=99))
    parts.append("</section>")
    return "".join(parts)


def _decision_section(decision: Any, note: str = "") -> str:
    parts = ['<section id="decision"><h2>Gates and decision</h2>']
    if decision is None:
        parts.append(f'<div class="banner none">No decision{": " + _e(note) if note else ""}</div></section>')
        return "".join(parts)
    klass = {"no-go": "nogo", "no-better": "nogo", "draft": "draft"}.get(decision.outcome, "go")
    head = fmt.outcome_label(decision.outcome)
    if decision.dry_run:
        head += " — preview (dry run: nothing registered, alias not moved)"
    parts.append(f'<div class="banner {klass}">{_e(head)}</div>')
    if note:
        parts.append(f'<p class="muted">{_e(note)}</p>')
    items = [("Candidate", f"{decision.candidate} (run {decision.candidate_run_id})"),
             ("Model", f"{decision.model_name}@{decision.alias}: {decision.alias_before or 'unset'} → "
                       f"{decision.alias_after or 'unset'}" + (f" (version {decision.model_version})"
                                                               if decision.model_version else "")),
             ("Actor", decision.actor), ("Decided at", fmt.timestamp(decision.timestamp)),
             ("Decision run", decision.decision_run_id or "—")]
    parts.append("<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items) + "</dl>")
    rows = []
    for g in decision.gates:
        threshold = None if g.threshold is None else (
            f"{g.op} {format_metric(g.metric, g.threshold) if g.metric else fmt.number(g.threshold)}")
        detail = g.reason + ("".join(f"\n• {d}" for d in g.details) if g.details else "")
        shown = (lambda v, m=g.metric: None if v is None else _Num(format_metric(m, v) if m else fmt.number(v)))
        measured, reference = shown(g.measured), shown(g.reference)
        interval = None if getattr(g, "ci_low", None) is None else _Num(_interval_text(
            {"diff": g.diff, "ci_low": g.ci_low, "ci_high": g.ci_high}) + f" {confidence_text(g.confidence)}")
        rows.append((_verdict(g.passed) if not getattr(g, "tie", False) else _Raw('<span class="fail">TIE</span>'),
                     _Raw(_breakable(g.name)), _Raw(_breakable(g.metric)), measured, threshold, reference, interval,
                     _Raw(_runref(g.run_id)),
                     # its slice and metric names may break anywhere: the other columns keep theirs whole
                     _Raw('<div class="wrap">' + _e(detail).replace("\n", "<br>") + "</div>")))
    if rows:
        parts.append(_table(["verdict", "gate", "metric", "measured", "threshold", "reference",
                             "difference [interval]", "run", "reason"], rows, numeric_from=3))
    parts.append(_drafted_section(decision))
    parts.append(_llm_endpoints_section(decision))
    for n in decision.notes:
        parts.append(f'<p class="muted">Note: {_e(n)}</p>')
    parts.append("</section>")
    return "".join(parts)


def _llm_endpoints_section(decision: Any) -> str:
    """Every LLM endpoint candidate the decision judged: where it was called, what model it
    reported, and whether it was allowed personal data (the decision record states the same)."""
    endpoints = getattr(decision, "llm_endpoints", ()) or ()
    if not endpoints:
        return ""
    rows = [(e.get("candidate"), e.get("endpoint"), e.get("model"), e.get("reported_model") or "not reported",
             e.get("system_fingerprint") or "not reported",
             "allowed" if e.get("allow_personal_data") else "withheld before the call",
             _Raw(_runref(e.get("run_id")))) for e in endpoints]
    return ("<h3>LLM endpoints judged</h3>"
            + _table(["candidate", "endpoint", "model", "reported model", "system fingerprint", "personal data",
                      "run"], rows, numeric_from=99))


def _leakage_section(charter: Charter, layout: Any, reader: _Reader, decision: Any = None) -> str:
    """Leakage findings and acknowledgements, and shift, from the evaluate step's run; with a
    decision, also the findings its gate judged beyond them (the candidate's near-perfect score)."""
    from .leakage_report import leakage_shift_section

    run = layout.step("evaluate")
    if run is None:
        return ""
    source = _source_id(run)
    leaks = reader.json(source, "leakage/findings.json")
    findings = list(leaks.get("findings") or []) if isinstance(leaks, dict) else None
    judged = (getattr(decision, "leakage", None) or {}).get("findings") or []
    if findings is not None:
        keys = {(f.get("feature"), f.get("check")) for f in findings}
        findings += [f for f in judged if (f.get("feature"), f.get("check")) not in keys]
    gate = next((g for g in charter.gates if g.kind == "shift"), None)
    return leakage_shift_section(findings, charter.leakage.acknowledged, reader.json(source, "shift/columns.json"),
                                 run_id=source, max_psi=getattr(gate, "max_psi", None),
                                 max_unseen_share=getattr(gate, "max_unseen_share", None),
                                 eval_set=charter.eval_set is not None)


def _items_section(charter: Charter, store: Store, layout: Any) -> str:
    """Eval-set pilots: worst failures, disagreements with the baseline, reviewer agreement."""
    if charter.eval_set is None:
        return ""
    from .items_report import item_evidence_section

    return item_evidence_section(charter, store, layout)


def _drafted_section(decision: Any) -> str:
    """Drafted values left at decision time (file:line, how to confirm), and who confirmed which."""
    drafted, confirmed = getattr(decision, "drafted", ()) or (), getattr(decision, "confirmed", ()) or ()
    parts = []
    if drafted:
        parts.append(f'<h3 id="drafted">Drafted, not decided ({len(drafted)})</h3><p>These values were guessed by '
                     "<code>workbench new</code> and stand for a person's judgement; while any is left the outcome is "
                     "DRAFT, never GO. Check each one; when it is what you mean, delete its <code># drafted</code> "
                     "comment, or run <code>workbench confirm --pilot CHARTER KEY</code> (it records who and when)."
                     "</p>")
        parts.append(_table(["where", "key", "value", "why it was drafted"],
                            [(f"{d.get('file')}:{d.get('line')}", d.get("key"), d.get("text"), d.get("why"))
                             for d in drafted], numeric_from=99, fit=True))
    if confirmed:
        parts.append(f"<h3>Confirmed drafted values ({len(confirmed)})</h3>")
        parts.append(_table(["key", "value", "why it was drafted", "file", "confirmed by", "at"],
                            [(c.get("key"), c.get("text"), c.get("why") or "—", c.get("file"), c.get("by"),
                              fmt.timestamp(c.get("at"))) for c in confirmed], numeric_from=99, fit=True))
    return "".join(parts)


def _environment_section(pilot: Any) -> str:
    """Python, the platform, the versions of the packages that shape results and uv.lock's hash,
    as the pilot run recorded them (a step served from cache was computed with the same ones:
    they are part of its cache key)."""
    env = run_environment.from_tags(pilot.data.tags)
    parts = ['<section id="environment"><h2>Environment</h2>']
    if not env:
        parts.append('<p class="muted">This pilot run recorded no versions (it predates them).</p></section>')
        return "".join(parts)
    items = [("Python", env.get("python") or "—"), ("Platform", env.get("platform") or "—"),
             ("uv.lock sha256", (env.get("lock_sha256") or "")[:16] or "— (no uv.lock beside the workbench)")]
    parts.append("<dl>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in items) + "</dl>")
    parts.append(_table(["Package", "Version"], sorted(env["packages"].items()), numeric_from=2))
    parts.append("</section>")
    return "".join(parts)


def _figures_section(figures: list[tuple[str, str, bytes]]) -> str:
    if not figures:
        return ""
    parts = ['<section id="figures"><h2>Figures</h2>']
    for owner, path, data in figures[:MAX_FIGURES]:
        b64 = base64.b64encode(data).decode("ascii")
        parts.append(f'<figure><img alt="{_e(owner)} {_e(path)}" src="data:image/png;base64,{b64}">'
                     f"<figcaption>{_e(owner)}: {_e(path)}</figcaption></figure>")
    if len(figures) > MAX_FIGURES:
        parts.append(f'<p class="muted">{len(figures) - MAX_FIGURES} more figure(s) on the runs in MLflow.</p>')
    parts.append("</section>")
    return "".join(parts)


def _load_decision(charter: Charter, store: Store, pilot: Any, reader: _Reader) -> tuple[Any, str]:
    """The recorded decision of this pilot run, else a dry-run preview, else why there is none."""
    from ..decide.promotion import DECISION_ARTIFACT, Decision, promote

    data = reader.json(pilot.info.run_id, DECISION_ARTIFACT)
    if data is not None:
        return Decision.from_dict(data), ""
    if charter.promotion is None:
        return None, "the charter has no promotion section"
    try:
        return promote(charter, store, pilot.info.run_id, dry_run=True), "not decided yet: gates evaluated now"
    except WorkbenchError as exc:
        return None, exc.what


# -- public --------------------------------------------------------------------------------------


def _monitoring_section(charter: Charter, store: Store) -> str:
    """After the GO: every monitored production batch (`workbench monitor`), oldest first."""
    from ..decide.monitor import timeline
    from .monitoring import timeline_html

    if charter.promotion is None:
        return ""
    from ..measure.metrics import higher_is_better

    rows = timeline(charter, store)
    metric = rows[-1]["quality_metric"] if rows else charter.primary_metric
    return ('<section id="monitoring"><h2>Monitoring after the GO</h2>'
            + timeline_html(rows, plan=charter.production, higher_quality_is_better=higher_is_better(metric))
            + "</section>")


def render_scorecard(charter: Charter, store: Store, pilot_run_id: str, decision: Any = None, *,
                     closing: bool = False) -> str:
    """The scorecard of one pilot run as one self-contained HTML page.

    ``closing``: the pilot writes its own scorecard as its last step, while its run is
    still open; the page then says FINISHED, the status the run ends with."""
    from ..decide.promotion import pilot_layout

    try:
        pilot = store.get_run(pilot_run_id)
    except Exception as exc:  # noqa: BLE001 - mlflow's own exception type
        raise TrackingError(f"no run {pilot_run_id} in the MLflow store", where=store.tracking_uri,
                            hint="pass the run id of a pilot run (see `make ui`)") from exc
    reader = _Reader(store)
    layout = pilot_layout(charter, store, pilot)
    note = ""
    if decision is None:
        decision, note = _load_decision(charter, store, pilot, reader)
    figures: list[tuple[str, str, bytes]] = []
    models: dict[str, dict[str, float]] = {}
    run_ids: dict[str, str] = {}
    probe_details: dict[str, Any] = {}
    baseline = next((r for r in layout.roles.get("baseline", []) if r.info.status == "FINISHED"), None)
    if baseline is not None:
        models["baseline"] = dict(baseline.data.metrics)
        run_ids["baseline"] = _source_id(baseline)
        probe_details["baseline"] = reader.json(run_ids["baseline"], "baseline/probes.json")
        figures += _figures(reader, run_ids["baseline"], "baseline")
    for name, run in sorted(layout.candidates.items()):
        key = name if name not in models else f"candidate {name}"
        models[key] = dict(run.data.metrics)
        run_ids[key] = run.info.run_id
        probe_details[key] = reader.json(run.info.run_id, f"{name}/probes.json")
        figures += _figures(reader, run.info.run_id, name)
    selected = getattr(decision, "candidate", None)
    evidence = getattr(decision, "evidence", None) or {}  # the looks the decision counted
    body = [
        _header(charter, pilot, closing=closing),
        _decision_section(decision, note),
        _data_section(pilot, layout.steps, layout.step("contracts"), reader, _split_params(layout, reader)),
        _leakage_section(charter, layout, reader, decision),
        _profile_section(layout.step("profile"), reader, figures, pilot_run_id),
        _compare_section(charter, models, selected, run_ids),
        _evaluation_section(layout, reader, pilot_run_id, selected),
        _intervals_section(charter, layout, reader, selected, earlier=evidence.get("earlier_configurations", 0),
                           other_splits=evidence.get("other_splits", 0)),
        _slices_section(charter, models),
        _items_section(charter, store, layout),
        _probes_section(models, probe_details),
        _monitoring_section(charter, store),
        _environment_section(pilot),
        _figures_section(figures),
    ]
    generated = fmt.timestamp(time.time())
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>Scorecard {_e(charter.name)} {_e(pilot_run_id[:8])}</title><style>{_CSS}</style></head>"
        f"<body><main>{''.join(body)}<p class=\"muted\">Generated {_e(generated)} from the MLflow store "
        f"{_e(store.tracking_uri)}.</p></main>{LINKS_SCRIPT}</body></html>\n"
    )


def write_scorecard(charter: Charter, store: Store, pilot_run_id: str, decision: Any = None, *,
                    reports_dir: Path | None = None, closing: bool = False) -> Path:
    """Write ``reports/<pilot>/<run id>.html`` and ``latest.html``; attach it to the pilot run.

    The report pages it links (profile reports, evaluation reports) are copied beside it,
    under ``reports/<pilot>/<run id>/``, so its links work from the file."""
    from ..decide.promotion import pilot_layout

    page = render_scorecard(charter, store, pilot_run_id, decision, closing=closing)
    folder = (reports_dir or charter.resolve(Path("reports"))) / charter.name
    folder.mkdir(parents=True, exist_ok=True)
    reader = _Reader(store)
    for run_id, artifact, owner in _report_pages(pilot_layout(charter, store, store.get_run(pilot_run_id)), reader):
        text = reader.text(run_id, artifact)
        if text is not None:
            target = folder / _local_copy(pilot_run_id, artifact, owner)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    path = folder / f"{pilot_run_id}.html"
    path.write_text(page, encoding="utf-8")
    (folder / "latest.html").write_text(page, encoding="utf-8")
    store.log_text(pilot_run_id, page, SCORECARD_ARTIFACT)
    return path


def deciding_metrics(charter: Charter, store: Store, decision: Any) -> dict[str, float]:
    """The numbers the decision rests on, for the pilot (parent) run, under the names the
    step runs use so the MLflow runs table lines them up (see :mod:`workbench.measure.metrics`):
    the judged candidate's primary metric, ``latency.p95_ms`` and ``cost.per_1k_usd``;
    ``baseline.<primary metric>``; ``decision.go`` (1: go or already champion) and
    ``gates.failed``."""
    out: dict[str, float] = {"decision.go": float(decision.outcome in ("go", "already-champion")),
                             "gates.failed": float(sum(1 for g in decision.gates if not g.passed))}
    primary = charter.primary_metric

    def metrics_of(run_id: str | None) -> dict[str, float]:
        if not run_id:
            return {}
        try:
            return dict(store.get_run(run_id).data.metrics)
        except Exception:  # noqa: BLE001 - a run that cannot be read contributes nothing
            return {}

    cand = metrics_of(getattr(decision, "candidate_run_id", None))
    for name in (primary, "latency.p95_ms", "cost.per_1k_usd"):
        if name in cand:
            out[name] = cand[name]
    base = metrics_of((getattr(decision, "evidence", None) or {}).get("baseline"))
    if primary in base:
        out[f"baseline.{primary}"] = base[primary]
    return out
