"""A candidate against today's way on the same eval items: paired differences with 95 % intervals.

Both answered every eval item once; their answers are joined on the item id, so each
difference is paired item by item (:mod:`workbench.measure.stats`): a t interval on the
per-item differences for metrics that are means of a per-item value (accuracy, hit@k,
recall@k, MRR@k, nDCG@k, extraction's exact-match shares and token F1), a seeded paired
bootstrap over items for macro averages over classes. Items whose inputs are equal once
normalized are one input: each interval counts it once, and so does ``heldout_rows`` (the
sample-size gate); ``repeats`` holds the rest. The result is the tabular path's
:class:`~workbench.measure.modeling.compare.Comparison`, logged the same way
(``compare/<reference>.json``, ``compare.<reference>.<m>.*``, ``heldout.rows``), so the
same gates judge it and the same scorecard section shows it. Its ``class_counts`` (text
classification: eval items per expected class) are what the sample-size gate checks.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...errors import EvaluationError
from .. import stats
from ..modeling.compare import Comparison, SliceDiff, paired_slices
from .data import ItemData
from .answers import answer_per_item
from .scoring import extraction_per_item, retrieval_per_item

__all__ = ["compare_items", "default_item_metrics", "parse_outputs"]


def default_item_metrics(task: str, ks: Sequence[int] = (1, 5, 10)) -> tuple[str, ...]:
    """The quality metrics compared when the charter names none (``quality.`` names)."""
    if task == "retrieval":
        k = max(ks)
        return (f"quality.mrr_at_{k}", f"quality.hit_at_{min(ks)}")
    if task == "extraction":
        return ("quality.all_fields_exact", "quality.field_exact")
    if task == "answer":
        return ("quality.token_f1", "quality.normalized_exact_match")
    return ("quality.macro_f1", "quality.accuracy")


def parse_outputs(task: str, outputs: Sequence[Any], separator: str = "|") -> list[Any]:
    """Logged answers (``items/<name>.json``'s output column: text) back into the task's
    shape: a label, a list of ids, an object; None (an error) stays None."""
    out: list[Any] = []
    for value in outputs:
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
            out.append(None)
        elif task == "retrieval":
            out.append([p for p in str(value).split(separator) if p] if not isinstance(value, list) else value)
        elif task == "extraction":
            out.append(value if isinstance(value, dict) else json.loads(str(value)))
        else:
            out.append(str(value))
    return out


def _per_item(task: str, data: ItemData, answers: list[Any]) -> dict[str, np.ndarray]:
    if task == "answer":
        return answer_per_item(data.expected, answers, facts=data.facts(), sources=data.sources())
    if task == "retrieval":
        return retrieval_per_item(data.relevant(), answers, data.spec.k)
    if task == "extraction":
        return extraction_per_item(data.expected_objects(), answers)
    return {"accuracy": np.array([a is not None and a == e for a, e in zip(answers, data.expected, strict=True)],
                                 dtype=float)}


def compare_items(candidate: pd.DataFrame, reference: pd.DataFrame, data: ItemData, *, task: str,
                  candidate_name: str, reference_name: str = "baseline", reference_label: str | None = None,
                  metrics: Sequence[str] | None = None, resamples: int = 200,
                  min_slice_items: int | None = None) -> Comparison:
    """Paired differences of ``candidate`` minus ``reference`` (their per-item tables: item_id,
    output) on ``metrics`` (``quality.`` names with an item interval; default
    :func:`default_item_metrics`) over the eval items both answered, and per value of each of
    the eval set's ``slices`` with at least ``min_slice_items`` items (default: the eval set's),
    as the tabular path does: the slices gate judges those intervals, not point values."""
    ids = data.ids
    sep = data.spec.separator
    tables = []
    for frame, who in ((candidate, candidate_name), (reference, reference_label or reference_name)):
        by_id = dict(zip(frame["item_id"].astype(str), frame["output"], strict=True))
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise EvaluationError(f"{who} answered {len(ids) - len(missing)} of the {len(ids)} eval items "
                                  f"(none for {', '.join(missing[:3])}{'…' if len(missing) > 3 else ''}): "
                                  "no paired comparison", where="compare_items",
                                  hint="run the baseline step again on this eval set (`make pilot` does)")
        parsed = parse_outputs(task, [by_id[i] for i in ids], sep)
        if task == "answer" and "sources" in frame.columns:  # the passages it retrieved or cited, per item
            cited = dict(zip(frame["item_id"].astype(str), frame["sources"], strict=True))
            parsed = [None if a is None else {"answer": a, "sources": parse_outputs("retrieval", [cited[i]], sep)[0]}
                      for a, i in zip(parsed, ids, strict=True)]
        tables.append(parsed)
    cand, ref = tables
    asked = metrics or default_item_metrics(task, data.spec.k)
    names = [m if m.startswith("quality.") else f"quality.{m}" for m in asked]
    per_c, per_r = _per_item(task, data, cand), _per_item(task, data, ref)
    expected = np.asarray(data.expected, dtype=object)
    answers_c, answers_r = np.asarray(cand, dtype=object), np.asarray(ref, dtype=object)
    groups = data.input_groups()  # an input asked again is one piece of evidence, not several

    def one(short: str, idx: np.ndarray) -> tuple[stats.PairedDiff | None, str]:
        """The paired difference on the items at ``idx`` (all of them, or a slice's)."""
        how = stats.item_method_for(short)
        try:
            if how == "bootstrap" and task == "text-classification":
                return stats.paired_macro(short, list(expected[idx]), list(answers_c[idx]), list(answers_r[idx]),
                                          resamples=resamples, groups=groups[idx]), ""
            if how == "normal" and short in per_c and short in per_r:
                c, r = per_c[short][idx], per_r[short][idx]
                judged = ~(np.isnan(c) | np.isnan(r))  # answer: items with facts / sources
                return stats.paired_values(short, c[judged], r[judged], groups=groups[idx][judged]), ""
            return None, f"no paired interval for a {task} eval set"
        except EvaluationError as exc:
            return None, f"no interval ({exc.what})"

    diffs: dict[str, stats.PairedDiff] = {}
    notes: list[str] = []
    everything = np.arange(len(ids))
    for name in dict.fromkeys(names):
        short = name.split(".", 1)[1]
        d, why = one(short, everything)
        if d is not None:
            diffs[name] = d
        else:
            notes.append(f"{short}: {why}")
    columns = {col: data.items[col].astype("string").fillna("null").to_numpy(dtype=object)
               for col in data.spec.slices}
    classes = expected.astype(str) if task == "text-classification" else None
    found = paired_slices(columns, [n.split(".", 1)[1] for n in dict.fromkeys(names)],
                          min_slice_items or data.spec.min_slice_items, one, classes=classes)
    slices = sorted((SliceDiff(*e) for e in found), key=lambda d: (d.column, d.key, d.metric))
    distinct = int(groups.max(initial=-1)) + 1
    # the sample-size gate counts distinct inputs, overall and per class (an input with two
    # expected classes, a labelling disagreement, counts in each)
    counts = (dict(Counter(label for _, label in dict.fromkeys(zip(groups.tolist(), data.expected, strict=True))))
              if task == "text-classification" else None)
    if distinct < len(ids):
        notes.append(f"{len(ids):,} eval items ask {distinct:,} distinct inputs: each interval and the sample-size "
                     "gate count an input once, however often it is asked (its repeats are answered alike)")
    return Comparison(candidate_name, reference_name, reference_label or reference_name, len(ids), distinct, counts,
                      diffs, tuple(slices), tuple(notes), repeats=len(ids) - distinct)
