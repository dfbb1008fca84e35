"""What a reviewer reads about an eval-set pilot: a confusion matrix that stays readable with
long labels, the worst failures, and the items where a candidate and the baseline disagree.

Pure rendering of :mod:`workbench.measure.items` results (DataFrames and matplotlib figures).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from ..measure.items.scoring import short_labels

__all__ = ["confusion_frame", "confusion_figure", "per_class", "disagreements", "side_by_side", "worst_failures",
           "slowest", "masked", "disagreement_rows", "item_evidence_html", "item_evidence_section", "item_runs",
           "eval_texts", "eval_inputs", "intervals"]


def confusion_frame(quality: Any, *, width: int = 24) -> pd.DataFrame:
    """Counts, expected labels as rows and answers as columns (plus ``(error)``), labels
    numbered and shortened so a wide table stays legible."""
    labels = list(quality.labels)
    short = short_labels(labels, width)
    return pd.DataFrame([list(r) for r in quality.confusion], index=pd.Index(short, name="expected"),
                        columns=pd.Index([*short, "(error)"], name="answered"))


def per_class(quality: Any) -> pd.DataFrame:
    """Precision, recall, F1, support and times predicted per class, rarest class last."""
    frame = pd.DataFrame(quality.per_class).T
    frame.index.name = "class"
    return frame[["precision", "recall", "f1", "support", "predicted"]].sort_values("support", ascending=False)


def confusion_figure(quality: Any, *, title: str = "", max_labels: int = 30) -> Any:
    """A heatmap with numbered ticks (1..n) and the full labels in a legend beside it; with
    more than ``max_labels`` classes, the most frequent ones (the rest pooled as "other")."""
    import numpy as np
    from matplotlib.figure import Figure  # not pyplot: no global figure kept, none shown twice in a notebook

    labels = list(quality.labels)
    matrix = np.array([list(r) for r in quality.confusion], dtype=float)
    if len(labels) > max_labels:  # keep the classes with most items, pool the rest
        keep = [int(i) for i in np.argsort(-matrix.sum(axis=1), kind="stable")[: max_labels - 1]]
        rest = [i for i in range(len(labels)) if i not in keep]
        rows = np.vstack([matrix[keep], matrix[rest].sum(axis=0, keepdims=True)])
        matrix = np.column_stack([rows[:, keep], rows[:, rest].sum(axis=1), rows[:, len(labels)]])
        labels = [*(labels[i] for i in keep), "(other classes)"]
    n = len(labels)
    fig = Figure(figsize=(9, max(3.0, 0.28 * n + 1.5)), layout="constrained")
    ax, legend = fig.subplots(1, 2, width_ratios=[3, 2])
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(n + 1), [str(i) for i in range(1, n + 1)] + ["err"], fontsize=8)
    ax.set_yticks(range(n), [str(i) for i in range(1, n + 1)], fontsize=8)
    ax.set_xlabel("answered")
    ax.set_ylabel("expected")
    if n <= 12:
        for (r, c), v in np.ndenumerate(matrix):
            if v:
                ax.text(c, r, f"{int(v)}", ha="center", va="center", fontsize=8,
                        color="white" if v > matrix.max() / 2 else "black")
    ax.set_title(title or "Confusion matrix")
    legend.axis("off")
    legend.text(0, 1, "\n".join(short_labels(labels, 40)), va="top", fontsize=8, family="monospace")
    return fig


def disagreements(candidate: pd.DataFrame, baseline: pd.DataFrame, *, texts: Mapping[str, str] | None = None,
                  n: int = 20, mask: Callable[[str], str] | None = None) -> pd.DataFrame:
    """Items where the candidate's and the baseline's answers differ, with who was right;
    ``texts``: item id -> input text, shown shortened; ``mask``: text -> text with personal data
    withheld (:func:`workbench.measure.items.llm.personal_mask`), applied to every text shown."""
    both = candidate[["item_id", "expected", "output", "correct"]].merge(
        baseline[["item_id", "output", "correct"]], on="item_id", suffixes=("", "_baseline"))
    differ = both[both["output"].astype("string").fillna("(error)")
                  != both["output_baseline"].astype("string").fillna("(error)")].copy()
    if texts is not None:
        differ.insert(1, "text", [_short(texts.get(str(i), "")) for i in differ["item_id"]])
    # the baseline right and the candidate wrong first: what a GO would break
    differ["_order"] = (~differ["correct"]) & differ["correct_baseline"]
    shown = differ.sort_values("_order", ascending=False).drop(columns="_order").head(n).reset_index(drop=True)
    return masked(shown, mask)


def masked(frame: pd.DataFrame, mask: Callable[[str], str] | None,
           columns: tuple[str, ...] = ("text", "expected", "output", "output_baseline", "error")) -> pd.DataFrame:
    """``frame`` with ``mask`` applied to the text of each of ``columns`` it has (an answer or an
    expected value can hold the e-mail its input held); missing values stay missing."""
    if mask is None:
        return frame
    out = frame.copy()
    for col in columns:
        if col in out.columns:
            out[col] = [v if _missing(v) else mask(str(v)) for v in out[col]]
    return out


def side_by_side(runs: Mapping[str, Any]) -> pd.DataFrame:
    """One column per model, one row per metric (slices left out); a model's run or the metrics
    it carried over (a reused candidate)."""
    table = pd.DataFrame({name: dict(r) if isinstance(r, Mapping) else r.metrics() for name, r in runs.items()})
    return table.loc[[m for m in table.index if not m.startswith("slice.")]]


def intervals(comparisons: Mapping[str, Any]) -> pd.DataFrame:
    """One row per candidate and compared metric: its value, today's, and the paired difference
    with its 95 % interval (:func:`workbench.measure.items.compare.compare_items` results)."""
    rows = []
    for name, cmp in comparisons.items():
        for metric, d in cmp.diffs.items():
            rows.append({"candidate": name, "metric": metric, "candidate value": d.candidate,
                         f"{cmp.reference_label}": d.reference,
                         "difference [95 % interval]": d.text(), "method": d.method,
                         "items": d.n if d.items is None else f"{d.n} distinct of {d.items}"})
    return pd.DataFrame(rows)


def _short(text: str, width: int = 120) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


# -- the scorecard's per-item evidence (eval-set pilots) -----------------------------------------

SHOWN_ITEMS = 20  # rows per table on the scorecard; every item is in items/<name>.json and items.duckdb
_WITHHELD = "(personal data)"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA


def _answer(value: Any) -> str:
    return "(no answer)" if _missing(value) else str(value)


def worst_failures(items: pd.DataFrame, n: int = SHOWN_ITEMS) -> pd.DataFrame:
    """The failures worth reading first: answers that raised, timed out or were malformed,
    then wrong answers; each group slowest first, then by item id (stable across renders)."""
    wrong = items[~items["correct"].astype(bool)].copy()
    wrong["_err"] = wrong["error"].notna()
    wrong["_id"] = wrong["item_id"].astype(str)
    return (wrong.sort_values(["_err", "latency_ms", "_id"], ascending=[False, False, True])
            .drop(columns=["_err", "_id"]).head(n).reset_index(drop=True))


def slowest(items: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """The slowest answers, right or wrong (latency outliers drive the p95 gate)."""
    frame = items.assign(_id=items["item_id"].astype(str))
    return frame.sort_values(["latency_ms", "_id"], ascending=[False, True]).drop(columns="_id").head(n).reset_index(drop=True)


_RIGHT_ORDER = {"baseline": 0, "candidate": 1, "neither": 2, "both": 3}


def disagreement_rows(candidate: pd.DataFrame, baseline: pd.DataFrame, n: int = SHOWN_ITEMS) -> tuple[pd.DataFrame, dict[str, int]]:
    """Items the candidate and the baseline answered differently, with who was right
    (``right``: baseline, candidate, neither, both) — the baseline right first (what a GO
    would break), then the candidate right, then neither; by item id within each. Also the
    count of each, over every disagreement (not only the ``n`` shown)."""
    both = candidate[["item_id", "expected", "output", "correct"]].merge(
        baseline[["item_id", "output", "correct"]], on="item_id", suffixes=("", "_baseline"))
    differ = both[both["output"].astype("string").fillna("(error)")
                  != both["output_baseline"].astype("string").fillna("(error)")].copy()
    cand_ok, base_ok = differ["correct"].astype(bool), differ["correct_baseline"].astype(bool)
    differ["right"] = ["both" if c and b else "candidate" if c else "baseline" if b else "neither"
                       for c, b in zip(cand_ok, base_ok, strict=True)]
    counts = {k: int((differ["right"] == k).sum()) for k in _RIGHT_ORDER}
    differ["_o"] = differ["right"].map(_RIGHT_ORDER)
    differ["_id"] = differ["item_id"].astype(str)
    shown = differ.sort_values(["_o", "_id"]).drop(columns=["_o", "_id"]).head(n).reset_index(drop=True)
    return shown, counts


def item_evidence_html(models: Mapping[str, pd.DataFrame], *, baseline: str | None,
                       texts: Mapping[str, str] | None, agreements: Mapping[str, Any],
                       n: int = SHOWN_ITEMS, labels_note: str = "", texts_note: str = "",
                       mask: Callable[[str], str] | None = None) -> str:
    """The scorecard section: each model's worst failures (input excerpt, expected, answer,
    error, latency), the items each candidate and the baseline answer differently (who was
    right), and the reviewer's agreement with the metric. ``models``: name -> per-item rows
    (item_id, expected, output, correct, latency_ms, error), the baseline under ``baseline``.
    ``mask``: withholds personal data from every text shown (inputs, expected values, answers,
    errors). Every value is escaped."""
    from .. import formatting as fmt
    from .html import Raw, esc, table

    def text(item_id: Any) -> str:
        if texts is None:
            return _WITHHELD if texts_note == _WITHHELD else "—"
        shown = texts.get(str(item_id), "")
        return _short(mask(shown) if mask is not None else shown, 160)

    def ms(v: Any) -> str:
        return "—" if v is None or pd.isna(v) else fmt.number(float(v))

    parts = ['<section id="items"><h2>Per-item evidence</h2>',
             f"<p>Every answer of every model is kept: the MLflow table <code>items/&lt;name&gt;.json</code> of its "
             f"run and the DuckDB table <code>item_results</code> (<code>items.duckdb</code> beside the warehouse). "
             f"At most {n} rows a table here.{(' ' + esc(texts_note)) if texts_note and texts_note != _WITHHELD else ''}</p>"]
    if texts is None and texts_note == _WITHHELD:
        parts.append('<p class="muted">The eval set\'s input columns hold personal data: their text is not shown.</p>')
    for name, items in models.items():
        role = " (baseline)" if name == baseline else ""
        wrong = int((~items["correct"].astype(bool)).sum())
        errors = int(items["error"].notna().sum())
        worst = masked(worst_failures(items, n), mask)
        parts.append(f'<h3 class="worst" data-model="{esc(name)}">{esc(name)}{esc(role)}: worst failures</h3>'
                     f"<p>{fmt.integer(wrong)} of {fmt.integer(len(items))} items wrong, {fmt.integer(errors)} of them "
                     "errors (raised, timed out or malformed). Errors first, then wrong answers; slowest first.</p>")
        if worst.empty:
            parts.append('<p class="muted">No wrong answer.</p>')
        else:
            parts.append(table(["item", "input", "expected", "answer", "error", "latency (ms)"],
                               [(str(r.item_id), text(r.item_id), _answer(r.expected), _answer(r.output),
                                "" if _missing(r.error) else _short(str(r.error), 240),
                                ms(r.latency_ms))
                                for r in worst.itertuples()]))
        slow = slowest(items)
        if not slow.empty:
            parts.append(f"<p>Slowest {len(slow)}: " + ", ".join(
                f"<code>{esc(r.item_id)}</code> {esc(ms(r.latency_ms))} ms ({'right' if r.correct else 'wrong'})"
                for r in slow.itertuples()) + "</p>")
    if baseline is not None and baseline in models:
        for name, items in models.items():
            if name == baseline:
                continue
            shown, counts = disagreement_rows(items, models[baseline], n)
            shown = masked(shown, mask)
            total = sum(counts.values())
            parts.append(f'<h3 class="disagree" data-model="{esc(name)}">{esc(name)} and {esc(baseline)}: items answered '
                         "differently</h3>"
                         f"<p>{fmt.integer(total)} item(s): the baseline right and {esc(name)} wrong "
                         f"{fmt.integer(counts['baseline'])}; {esc(name)} right and the baseline wrong "
                         f"{fmt.integer(counts['candidate'])}; neither right {fmt.integer(counts['neither'])}"
                         + (f"; both right {fmt.integer(counts['both'])}" if counts["both"] else "")
                         + ". The baseline's wins first: what a GO would break.</p>")
            if not shown.empty:
                parts.append(table(["item", "input", "expected", name, baseline, "right"],
                                   [(str(r.item_id), text(r.item_id), _answer(r.expected), _answer(r.output),
                                     _answer(r.output_baseline), Raw(f"<b>{esc(r.right)}</b>"))
                                    for r in shown.itertuples()]))
    parts.append('<h3 id="review">Reviewer labels against the metric</h3>')
    if agreements:
        def share(a: Any) -> str:
            return "—" if a.share is None else f"{a.share:.0%} ({a.agree} of {a.compared})"

        parts.append(table(
            ["model", "labelled", "unsure", "agreement", "Cohen's kappa", "metric right, reviewer wrong",
             "metric wrong, reviewer right", "reviewers"],
            [(name, a.labelled, a.unsure, share(a), "—" if a.kappa is None else f"{a.kappa:.2f}",
              a.metric_correct_reviewer_wrong, a.metric_wrong_reviewer_correct, a.reviewers)
             for name, a in agreements.items()]))
        parts.append('<p class="muted">Agreement: the share of correct/wrong labels matching the metric\'s verdict '
                     "(unsure left out); kappa corrects it for chance (1: full agreement, 0: chance).</p>")
    else:
        parts.append('<p class="muted">No reviewer labels for these runs yet: label a random sample in the '
                     "Label panel of <code>notebooks/workbench.ipynb</code>, then rebuild the scorecard "
                     "(<code>workbench report</code>).</p>")
    if labels_note:
        parts.append(f'<p class="muted">{esc(labels_note)}</p>')
    parts.append("</section>")
    return "".join(parts)


def item_runs(charter: Any, store: Any, layout: Any) -> dict[str, str]:
    """Model name -> the run holding its per-item results, for one pilot run's layout: the
    baseline step's run (or the run it was cached from), then each candidate's run (or, for a
    candidate carried over unchanged, the run that answered: its reviewer labels are there)."""
    from ..store.tracking import TAG

    out: dict[str, str] = {}
    es = charter.eval_set
    if es is None:
        return out
    base = next((r for r in layout.roles.get("baseline", []) if r.info.status == "FINISHED"), None)
    if base is not None:
        out[es.baseline.name] = base.data.tags.get(TAG["cached_from"]) or base.info.run_id
    for name, run in sorted(layout.candidates.items()):
        out[name] = run.data.tags.get(TAG["cached_from"]) or run.info.run_id
    return out


def eval_texts(charter: Any) -> tuple[dict[str, str] | None, str]:
    """Item id -> input text (the input columns joined), read from the warehouse read-only;
    None and why when they cannot be shown (personal data, no warehouse)."""
    texts, note, _ = eval_inputs(charter)
    return texts, note


def eval_inputs(charter: Any) -> tuple[dict[str, str] | None, str, Callable[[str], str]]:
    """:func:`eval_texts`, and the mask that withheld personal data from those texts, for the
    other texts shown beside them (expected values, answers). Without the warehouse, the mask
    withholds the e-mail, phone, IBAN and card patterns."""
    from ..data.warehouse import connect_read_only, pii_columns
    from ..errors import WorkbenchError
    from ..measure.items.data import join_text
    from ..measure.items.llm import Redactor

    es = charter.eval_set
    counts: Counter = Counter()
    patterns = Redactor([], [])
    by_pattern = (lambda text: patterns.text(text, counts))  # without the personal columns' values
    try:
        con = connect_read_only(charter.warehouse_path)
    except WorkbenchError as exc:
        return None, f"Inputs not shown: {exc.what}.", by_pattern
    try:
        marked = set(pii_columns(con, es.source).get(es.source, frozenset()))
        marked |= {c for t, cs in pii_columns(con).items() if t.lower() == es.source.lower() for c in cs}
        if marked & set(es.inputs):
            return None, _WITHHELD, by_pattern
        personal = sorted(marked - {es.id, *es.inputs})
        cols = ", ".join('"' + c.replace('"', '""') + '"' for c in [es.id, *es.inputs, *personal])
        frame = con.sql(f'SELECT {cols} FROM "{es.source}"').to_arrow_table().to_pandas()
    except Exception as exc:  # noqa: BLE001 - a DuckDB catalog error: the report goes on without texts
        return None, f"Inputs not shown: {str(exc).splitlines()[0]}.", by_pattern
    finally:
        con.close()
    # free text names people too: the values of the personal columns (names) and e-mail, phone,
    # IBAN and card patterns are replaced as before an LLM call, since the scorecard is an
    # MLflow artifact and a shared file
    redactor = Redactor([], [str(v) for c in personal for v in frame[c].dropna().unique()])
    texts = [redactor.text(t, counts) for t in join_text(frame, list(es.inputs))]
    return dict(zip(frame[es.id].astype(str), texts, strict=True)), "", lambda text: redactor.text(text, counts)


def item_evidence_section(charter: Any, store: Any, layout: Any) -> str:
    """The scorecard's per-item section of an eval-set pilot ("" for a tabular pilot): the
    per-item tables read back from MLflow, the input texts from the warehouse, the labels
    from ``item_labels.duckdb`` (read now: labels added after the pilot show on a rebuilt
    scorecard)."""
    if getattr(charter, "eval_set", None) is None:
        return ""
    from ..data.item_labels import read_labels
    from ..errors import WorkbenchError
    from ..measure.review import agreement

    runs = item_runs(charter, store, layout)
    models: dict[str, pd.DataFrame] = {}
    for name, run_id in runs.items():
        frame = store.item_table(run_id, name)
        if frame is not None:
            models[name] = frame
    if not models:
        return ('<section id="items"><h2>Per-item evidence</h2><p class="muted">No run of this pilot run logged '
                "its per-item results.</p></section>")
    texts, texts_note, mask = eval_inputs(charter)
    labels_note = ""
    agreements: dict[str, Any] = {}
    try:
        labels = read_labels(charter.warehouse_path, runs.values())
        rows = pd.concat([m.assign(run_id=runs[name], candidate=name)[["run_id", "candidate", "item_id", "correct"]]
                          for name, m in models.items()], ignore_index=True)
        mine = pd.Series([runs.get(c) == r for c, r in zip(labels["candidate"], labels["run_id"], strict=True)],
                         index=labels.index, dtype=bool)
        labels = labels[mine]  # a label of this model on this run, not one of the same name elsewhere
        agreements = {name: a for name, a in agreement(labels, rows).items()}
    except WorkbenchError as exc:
        labels_note = f"Reviewer labels not read: {exc.what}."
    baseline = charter.eval_set.baseline.name
    return item_evidence_html(models, baseline=baseline if baseline in models else None, texts=texts, mask=mask,
                              agreements=agreements, labels_note=labels_note, texts_note=texts_note)
