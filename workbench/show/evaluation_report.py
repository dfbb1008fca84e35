"""The evaluation report: one self-contained HTML page per candidate, against the baseline.

Built from an *evidence bundle* per model — the JSON a model's assessment logs
(:meth:`workbench.measure.modeling.Assessment.log`): ``quality.json``, ``timing.json``,
``probes.json``, ``slices.json`` and ``curves.json`` under ``<prefix>/`` of its run — so
the same page comes out in the evaluate notebook (from the assessment in memory) and
anywhere else that reads MLflow (:func:`load_bundle`). It shows:

- the headline metrics side by side, the difference coloured by the metric's direction
  (:mod:`workbench.measure.metrics`);
- classification: ROC and precision-recall curves, the calibration curve, and the
  confusion matrix at the decision threshold; regression: the residual distribution and
  the residuals against the prediction;
- the latency distribution of single-row calls, with its percentiles;
- the robustness probes, with what crashed;
- the slice table, each slice's regression against the baseline coloured.

The evaluate notebook logs it as ``evaluation/report.html`` on the candidate's run; the
scorecard shows it (:mod:`workbench.show.scorecard`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from . import html as h
from .. import formatting as fmt
from ..measure import metrics as registry

__all__ = ["render_evaluation_report", "load_bundle", "bundle_metrics", "ARTIFACT", "BUNDLE_FILES"]

ARTIFACT = "evaluation/report.html"
BUNDLE_FILES = ("quality", "timing", "probes", "slices", "curves")

_HEADLINE_PREFIXES = ("quality.", "latency.", "throughput.", "memory.", "cost.", "time_saved.", "probes.")
_CAND, _BASE = h.BLUE, h.ORANGE


def load_bundle(store: Any, run_id: str, prefix: str | None = None, *,
                name: str | None = None) -> dict[str, Any] | None:
    """A model's evidence bundle read back from its run's artifacts (None without ``quality.json``).

    ``prefix``: the artifact folder the assessment logged under (the candidate's name, or
    ``baseline``); None: the first folder holding a ``quality.json``."""
    if prefix is None:
        try:
            folders = [a.path for a in store.client.list_artifacts(run_id) if a.is_dir]
        except Exception:  # noqa: BLE001 - an unreadable run has no bundle
            return None
        for folder in folders:
            if store.download_text(run_id, f"{folder}/quality.json") is not None:
                prefix = folder
                break
        if prefix is None:
            return None
    bundle: dict[str, Any] = {"name": name or prefix, "run_id": run_id}
    for part in BUNDLE_FILES:
        text = store.download_text(run_id, f"{prefix}/{part}.json")
        try:
            bundle[part] = json.loads(text) if text is not None else None
        except ValueError:
            bundle[part] = None
    return bundle if bundle.get("quality") else None


# -- pieces -----------------------------------------------------------------------------------


def bundle_metrics(bundle: Mapping[str, Any] | None, *, logged_only: bool = False) -> dict[str, float]:
    """The whole-set metrics of a bundle (quality, timing, probes); ``logged_only``: only
    the names MLflow keeps (:func:`workbench.measure.metrics.logged`)."""
    if not bundle:
        return {}
    out: dict[str, float] = {}
    for part in ("quality", "timing", "probes"):
        out.update((bundle.get(part) or {}).get("metrics") or {})
    return {k: v for k, v in out.items() if registry.logged(k)} if logged_only else out


def _delta(name: str, cand: float | None, base: float | None, ci: tuple[float, float] | None = None) -> h.Raw:
    """The difference in words and an arrow by the metric's direction ("▼ 12 ms better" for a
    lower latency), "no real difference" when a given interval contains 0 (:func:`fmt.difference`)."""
    if cand is None or base is None:
        return h.Raw('<span class="muted">—</span>')
    diff = cand - base
    found = registry.info(name)
    shown = fmt.difference(found, diff, *(ci or (None, None)))
    if found is None or found.direction is None or diff == 0 or shown.startswith(fmt.NO_REAL_DIFFERENCE):
        return h.Raw(f'<span class="muted">{h.esc(shown)}</span>')
    better = diff > 0 if found.direction == "higher" else diff < 0
    # a relative change against (nearly) zero says nothing: shown only from a base of 1e-4 on
    meaningful = abs(base) >= 1e-4 and abs(diff / base) >= 1e-4
    rel = f" ({'+' if diff > 0 else '−'}{fmt.percent(abs(diff) / abs(base))})" if meaningful else ""
    return h.Raw(f'<span class="{"good" if better else "bad"}">{h.esc(shown)}{h.esc(rel)}</span>')


def _headline(cand: Mapping[str, Any], base: Mapping[str, Any] | None, primary: str | None) -> str:
    cm, bm = bundle_metrics(cand), bundle_metrics(base)
    names = [k for k in {**bm, **cm} if k.startswith(_HEADLINE_PREFIXES)]
    names.sort(key=lambda k: (k != primary, [k.startswith(p) for p in _HEADLINE_PREFIXES].index(True), k))
    headers = ["metric", cand["name"]] + ([base["name"], "difference"] if base else [])
    rows, classes = [], []
    for k in names:
        row: list[Any] = [h.Raw(f"<code>{h.esc(k)}</code>" + (" <small>(primary)</small>" if k == primary else "")),
                          h.Raw(h.esc(registry.format_metric(k, cm.get(k))))]
        if base:
            row += [h.Raw(h.esc(registry.format_metric(k, bm.get(k)))), _delta(k, cm.get(k), bm.get(k))]
        rows.append(row)
        classes.append("")
    return h.table(headers, rows, row_class=classes)


def _pr_series(name: str, pr: Mapping[str, Any], colour: str, dash: str) -> tuple:
    """A precision-recall series as it should read: a step (precision holds until the next
    threshold, as sklearn draws it), or the operating points alone for a rule with one cut
    (a line to them would be a made-up diagonal)."""
    from ..measure.evaluation import pr_is_a_point, pr_operating_points

    recall, precision = list(pr["recall"]), list(pr["precision"])
    if pr_is_a_point(recall, precision):
        points = pr_operating_points(recall, precision)
        return (f"{name} (operating points)", [r for r, _ in points], [p for _, p in points], colour, "points")
    xs, ys = [recall[0]], [precision[0]]
    for r, p in zip(recall[1:], precision[1:]):  # steps-post: across at the old precision, then down or up
        xs += [r, r]
        ys += [ys[-1], p]
    return (name, xs, ys, colour, dash)


def _curves_section(cand: Mapping[str, Any], base: Mapping[str, Any] | None) -> str:
    cc = cand.get("curves") or {}
    bc = (base or {}).get("curves") or {}
    if cc.get("kind") == "classification":
        roc = [(cand["name"], cc["roc"]["fpr"], cc["roc"]["tpr"], _CAND, "")]
        pr = [_pr_series(cand["name"], cc["pr"], _CAND, "")]
        if bc.get("kind") == "classification":
            roc.insert(0, (base["name"], bc["roc"]["fpr"], bc["roc"]["tpr"], _BASE, "5,3"))  # type: ignore[index]
            pr.insert(0, _pr_series(base["name"], bc["pr"], _BASE, "5,3"))  # type: ignore[index]
        return ('<div class="cols"><div><h3>ROC curve (rates)</h3>'
                + h.lines(roc, xlim=(0, 1), ylim=(0, 1), xlabel="false positive rate", ylabel="true positive rate",
                          diagonal=True, label="ROC curve")
                + '</div><div><h3>Precision-recall curve (rates)</h3>'
                + h.lines(pr, xlim=(0, 1), ylim=(0, 1), xlabel="recall", ylabel="precision",
                          hline=cc.get("base_rate"), label="precision-recall curve")
                + f'<p class="muted">dotted: a random ranking ({h.esc(fmt.percent(cc.get("base_rate")))} positive)</p>'
                + "</div></div>")
    if cc.get("kind") == "regression":
        hist = cc["histogram"]
        edges = hist["edges"]
        ref = None
        if bc.get("kind") == "regression" and bc.get("histogram", {}).get("edges") == edges:
            ref = bc["histogram"]["counts"]
        binned = cc.get("by_prediction") or []
        series = [("mean residual", [b["pred_mean"] for b in binned], [b["residual_mean"] for b in binned], _CAND, ""),
                  ("10th-90th percentile", [b["pred_mean"] for b in binned], [b["residual_p10"] for b in binned],
                   h.GREY, "3,3"),
                  ("", [b["pred_mean"] for b in binned], [b["residual_p90"] for b in binned], h.GREY, "3,3")]
        sample = cc.get("sample") or {"pred": [], "residual": []}
        return ('<div class="cols"><div><h3>Residuals (actual − predicted)</h3>'
                + h.histogram(hist["counts"], reference=ref, left=fmt.number(edges[0]), right=fmt.number(edges[-1]),
                              width=330, height=160, label="residual histogram")
                + '<p class="muted">a band centred on zero is what a good model leaves</p></div>'
                + '<div><h3>Residuals against the prediction</h3>'
                + h.lines(series, xlabel="predicted", ylabel="residual", hline=0.0, markers=True,
                          dots=(sample["pred"], sample["residual"]), label="residuals against the prediction")
                + '<p class="muted">by decile of the prediction; a funnel or a curve means the error depends on '
                  "the prediction</p></div></div>")
    return '<p class="muted">No curves were logged for this model.</p>'


def _calibration(cand: Mapping[str, Any], base: Mapping[str, Any] | None) -> str:
    series = []
    for bundle, colour, dash in ((base, _BASE, "5,3"), (cand, _CAND, "")):
        cal = ((bundle or {}).get("quality") or {}).get("calibration")
        if cal:
            series.append((bundle["name"], cal["prob_pred"], cal["prob_true"], colour, dash))  # type: ignore[index]
    if not series:
        return ""
    return ('<div><h3>Calibration</h3>'
            + h.lines(series, xlim=(0, 1), ylim=(0, 1), xlabel="mean predicted probability",
                      ylabel="observed positive rate", diagonal=True, markers=True, label="calibration curve")
            + '<p class="muted">on the dotted diagonal, a score of 0.3 means 30 % positive</p></div>')


def _confusion(cand: Mapping[str, Any], base: Mapping[str, Any] | None) -> str:
    out = []
    for bundle in (cand, base):
        q = (bundle or {}).get("quality") or {}
        if q.get("confusion"):
            out.append(f'<div><h3>Confusion: {h.esc(bundle["name"])}</h3>'  # type: ignore[index]
                       + h.confusion(q["confusion"], threshold=q.get("threshold"))
                       + '<p class="muted">at the decision threshold '
                       + f'{h.esc(fmt.number(q.get("threshold")))}</p></div>')
    return "".join(out)


def _classes(cand: Mapping[str, Any], base: Mapping[str, Any] | None) -> str:
    """Multiclass: each class's precision, recall and F1 (and the baseline's recall), then the
    confusion matrix as a table; long class names are numbered and shortened in its header,
    with the full names in a list below."""
    from ..measure.items.scoring import short_labels

    q = cand.get("quality") or {}
    labels = [str(v) for v in q.get("labels") or []]
    if not labels:
        return '<p class="muted">No per-class results were logged.</p>'
    mine = q.get("per_class") or {}
    theirs = ((base or {}).get("quality") or {}).get("per_class") or {}
    ref = (base or {}).get("name", "baseline")
    rows = [(lab, (mine.get(lab) or {}).get("support"), (mine.get(lab) or {}).get("precision"),
             (mine.get(lab) or {}).get("recall"), (mine.get(lab) or {}).get("f1"),
             *(((theirs.get(lab) or {}).get("recall"),) if base else ())) for lab in labels]
    out = [h.table(["class", "rows", "precision", "recall", "F1", *((f"recall of {ref}",) if base else ())], rows)]
    matrix = q.get("class_confusion") or []
    if matrix:
        long = any(len(lab) > 14 for lab in labels)
        names = short_labels(labels, width=14) if long else labels
        out.append("<h3>Confusion (rows: true class, columns: answered class)</h3>")
        out.append(h.table(["true \\ answered", *names], [(n, *row) for n, row in zip(names, matrix, strict=False)],
                           formats=[None, *([fmt.integer] * len(names))]))
        if long:
            out.append("<ol>" + "".join(f"<li>{h.esc(lab)}</li>" for lab in labels) + "</ol>")
    return "".join(out)


def _latency(cand: Mapping[str, Any], base: Mapping[str, Any] | None) -> str:
    samples = {b["name"]: [float(v) for v in ((b.get("timing") or {}).get("single_latencies_ms") or [])]
               for b in (cand, base) if b}
    samples = {k: v for k, v in samples.items() if v}
    if not samples:
        return '<p class="muted">No single-row latencies were measured.</p>'
    every = sorted(v for s in samples.values() for v in s)
    lo, hi = every[0], every[min(len(every) - 1, int(len(every) * 0.995))]
    bins = 40
    # models an order of magnitude apart: log-spaced bins, so both distributions show
    log = lo > 0 and hi / lo > 20
    scale = (math.log(hi / lo) if log else (hi - lo)) / bins or 1.0

    def counts(values: Sequence[float]) -> list[int]:
        out = [0] * bins
        for v in values:
            x = math.log(max(v, lo) / lo) if log else v - lo
            out[min(bins - 1, max(0, int(x / scale)))] += 1
        return out

    names = list(samples)
    chart = h.histogram(counts(samples[names[0]]), reference=counts(samples[names[1]]) if len(names) > 1 else None,
                        left=fmt.ms(lo), right=fmt.ms(hi) + " (p99.5)", width=420, height=150,
                        label="latency per single-row call")
    legend = (f'<p class="muted">bars: {h.esc(names[0])}'
              + (f"; dashed outline: {h.esc(names[1])}" if len(names) > 1 else "") + "; share of calls per bin"
              + ("; log scale" if log else "") + "</p>")
    rows = []
    for name in names:
        m = ((cand if name == cand["name"] else base) or {}).get("timing", {}).get("metrics", {})
        rows.append((name, h.Raw(h.esc(fmt.ms(m.get("latency.p50_ms")))), h.Raw(h.esc(fmt.ms(m.get("latency.p95_ms")))),
                     h.Raw(h.esc(fmt.ms(m.get("latency.p99_ms")))), h.Raw(h.esc(fmt.ms(m.get("latency.max_ms")))),
                     h.Raw(h.esc(registry.format_metric("throughput.items_per_s", m.get("throughput.items_per_s")))),
                     len(samples[name])))
    return ('<div class="cols"><div>' + chart + legend + "</div><div>"
            + h.table(["model", "p50", "p95", "p99", "max", "batch throughput", "calls"], rows,
                      formats=[None, None, None, None, None, None, fmt.integer])
            + "</div></div>")


def _probes(cand: Mapping[str, Any], base: Mapping[str, Any] | None) -> str:
    from ..measure.evaluation import OUTCOMES

    bundles = [b for b in (cand, base) if b and b.get("probes")]
    if not bundles:
        return '<p class="muted">No probe results.</p>'
    bad_outcomes = {"crashed", "invalid_output"}
    rows, classes = [], []
    for outcome in OUTCOMES:
        counts = [sum(1 for r in b["probes"].get("results") or [] if r.get("outcome") == outcome) for b in bundles]
        rows.append((outcome, *counts))
        classes.append("regress" if outcome in bad_outcomes and counts[0] else "")
    rows.append(("total", *(len(b["probes"].get("results") or []) for b in bundles)))
    classes.append("")
    parts = [h.table(["outcome", *(b["name"] for b in bundles)], rows, row_class=classes,
                     formats=[None, *([fmt.integer] * len(bundles))])]
    bad = [(b["name"], r.get("name"), r.get("outcome"), r.get("error_type") or "", r.get("detail") or "")
           for b in bundles for r in b["probes"].get("results") or [] if r.get("outcome") in bad_outcomes]
    if bad:
        parts.append("<h3>Probes that crashed or returned invalid output</h3>"
                     + h.table(["model", "probe", "outcome", "error", "detail"], bad))
    return "".join(parts)


def _slices(cand: Mapping[str, Any], base: Mapping[str, Any] | None) -> str:
    cs = cand.get("slices")
    if not cs:
        return '<p class="muted">No slices were measured (the step has no <code>slice_columns</code>).</p>'
    metric = cs.get("metric")
    higher = cs.get("higher_is_better", True)
    bs = (base or {}).get("slices") or {}
    ref = {(r["column"], r["key"]): r for r in bs.get("rows") or []}
    rows, classes = [], []
    for r in cs.get("rows") or []:
        value = (r.get("metrics") or {}).get(metric)
        other = ((ref.get((r["column"], r["key"])) or {}).get("metrics") or {}).get(metric)
        diff = None if value is None or other is None else value - other
        worse = diff is not None and (diff < 0 if higher else diff > 0)
        shown = h.Raw('<span class="muted">—</span>') if diff is None else h.Raw(
            f'<span class="{"bad" if worse else "good" if diff else "muted"}">{"+" if diff > 0 else ""}'
            f"{h.esc(fmt.number(diff, digits=3))}</span>")
        note = r.get("reason") or ""
        rows.append((r["column"], str(r.get("value")), h.Raw(h.esc(fmt.integer(r.get("count")))),
                     h.Raw(h.esc(fmt.number(value))), h.Raw(h.esc(fmt.number(other))) if base else "", shown,
                     "flagged" if r.get("flagged") else ("" if r.get("eligible") else "small"), note))
        classes.append(("regress" if worse else "improve" if diff else "") if r.get("eligible") else "")
    base_name = base["name"] if base else "baseline"
    return (h.table(["column", "value", "rows", f"{metric}: {cand['name']}", f"{metric}: {base_name}",
                     "difference", "flag", "note"], rows, row_class=classes)
            + f'<p class="muted">red: the slice is worse than {h.esc(base_name)}\'s same slice; green: better. '
              "Flag: much worse than the whole set"
              + (f" ({h.esc(fmt.percent(cs['flag_ratio']))} of the overall value)" if cs.get("flag_ratio") else "")
              + "; small: fewer than "
              f"{h.esc(fmt.integer(cs.get('min_rows')))} rows, reported but not judged.</p>")


# -- the page ----------------------------------------------------------------------------------


def render_evaluation_report(candidate: Mapping[str, Any], baseline: Mapping[str, Any] | None = None, *,
                             primary_metric: str | None = None, title: str | None = None) -> str:
    """The HTML page of one model's evaluation, against ``baseline`` when given (bundles
    as :func:`load_bundle` returns them, or :meth:`Assessment.bundle`)."""
    q = candidate.get("quality") or {}
    kind = q.get("task_kind", "classification")
    against = f" against {baseline['name']}" if baseline else ""
    head = title or f"Evaluation: {candidate['name']}{against}"
    facts = [("task", kind), ("held-out rows", fmt.integer(q.get("n")))]
    if q.get("threshold") is not None:
        facts.append(("decision threshold", fmt.number(q.get("threshold"))))
    for label, b in (("run", candidate), (f"{baseline['name']} run" if baseline else "", baseline)):
        if b and b.get("run_id"):
            facts.append((label, b["run_id"]))
    notes = [*(q.get("notes") or []), *(f"{k} not computed: {v}" for k, v in (q.get("omitted") or {}).items())]
    parts = [f"<h1>{h.esc(head)}</h1>",
             "<dl>" + "".join(f"<dt>{h.esc(k)}</dt><dd>{h.esc(v)}</dd>" for k, v in facts) + "</dl>",
             *(f'<p class="muted">{h.esc(n)}</p>' for n in notes),
             "<section><h2>Headline metrics</h2>", _headline(candidate, baseline, primary_metric),
             '<p class="muted">difference: green better, red worse, by the metric\'s direction; grey: a number '
             "that ranks nothing.</p></section>"]
    if kind == "multiclass":
        parts += ["<section><h2>Per class</h2>", _classes(candidate, baseline), "</section>"]
    elif kind == "classification":
        parts += ["<section><h2>Ranking and calibration</h2>", _curves_section(candidate, baseline),
                  '<div class="cols">', _calibration(candidate, baseline), _confusion(candidate, baseline),
                  "</div></section>"]
    else:
        parts += ["<section><h2>Residuals</h2>", _curves_section(candidate, baseline), "</section>"]
    parts += ["<section><h2>Latency</h2>", _latency(candidate, baseline), "</section>",
              "<section><h2>Robustness probes</h2>", _probes(candidate, baseline), "</section>",
              "<section><h2>Slices</h2>", _slices(candidate, baseline), "</section>"]
    return h.page(head, "".join(parts))
