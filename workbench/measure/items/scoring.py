"""Quality of per-item answers: multiclass classification and retrieval (pure, numpy only).

Errors are results: an item whose answer raised, timed out or was malformed has no
prediction (``None``) and counts as wrong — never as skipped. In classification it lowers
accuracy and the recall of its true class (it is nobody's false positive); in retrieval
it retrieves nothing.

Classification. ``labels``: every class the answers may take (the eval set's expected
values and the training labels). Macro averages run over the classes present in the
expected values plus any other known class that was predicted (as scikit-learn's macro
average over the union of true and predicted labels, with 0 for an undefined ratio).
Log loss is given only when every non-error answer came with probabilities; an error's
distribution is uniform over ``labels`` (it says nothing).

Retrieval: for each query the ranked ids and the set of relevant ids; hit@k (any relevant
id in the top k), recall@k (share of relevant ids in the top k), MRR@k (1 / rank of the
first relevant id within k, else 0) and nDCG@k (binary gains, log2 discount, ideal DCG of
min(k, relevant) hits).

Extraction: each answer is a JSON object; per field, exact match (case and runs of spaces
ignored, a missing field equal to an empty one) and token F1 (as SQuAD's), averaged over
items then over fields; and the share of items with every field exact.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["ClassificationQuality", "classification_quality", "RetrievalQuality", "retrieval_quality",
           "ExtractionQuality", "extraction_quality", "short_labels", "retrieval_per_item", "extraction_per_item",
           "normal_form"]


@dataclass(frozen=True)
class ClassificationQuality:
    n: int
    errors: int
    accuracy: float
    macro_f1: float
    macro_precision: float
    macro_recall: float
    log_loss: float | None
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)  # label -> precision, recall, f1, support
    labels: tuple[str, ...] = ()  # confusion order
    confusion: tuple[tuple[int, ...], ...] = ()  # rows: expected label; columns: labels, then "(error)"

    def metrics(self) -> dict[str, float]:
        out = {"quality.accuracy": self.accuracy, "quality.macro_f1": self.macro_f1,
               "quality.macro_precision": self.macro_precision, "quality.macro_recall": self.macro_recall,
               "items.errors": float(self.errors), "items.error_rate": self.errors / self.n if self.n else 0.0}
        if self.log_loss is not None:
            out["quality.log_loss"] = self.log_loss
        return out

    def to_dict(self) -> dict:
        return {"n": self.n, "errors": self.errors, "metrics": self.metrics(), "per_class": self.per_class,
                "labels": list(self.labels), "confusion": [list(r) for r in self.confusion]}


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else 0.0


def classification_quality(expected: Sequence[str], predicted: Sequence[str | None], labels: Sequence[str], *,
                           probabilities: Sequence[Mapping[str, float] | None] | None = None) -> ClassificationQuality:
    """Accuracy, macro-F1/precision/recall, per-class figures, log loss and the confusion
    matrix of ``predicted`` (None: an error) against ``expected``."""
    if len(expected) != len(predicted):
        raise ValueError(f"{len(expected)} expected values but {len(predicted)} predictions")
    known = list(dict.fromkeys([*labels, *expected]))
    n = len(expected)
    errors = sum(p is None for p in predicted)
    correct = sum(p is not None and p == e for e, p in zip(expected, predicted, strict=True))
    scored = [lab for lab in known if lab in set(expected) or lab in set(predicted)]
    per_class: dict[str, dict[str, float]] = {}
    for lab in scored:
        tp = sum(e == lab and p == lab for e, p in zip(expected, predicted, strict=True))
        pred = sum(p == lab for p in predicted)
        support = sum(e == lab for e in expected)
        prec, rec = _ratio(tp, pred), _ratio(tp, support)
        per_class[lab] = {"precision": prec, "recall": rec, "f1": _ratio(2 * prec * rec, prec + rec),
                          "support": float(support), "predicted": float(pred)}
    index = {lab: i for i, lab in enumerate(known)}
    matrix = np.zeros((len(known), len(known) + 1), dtype=int)
    for e, p in zip(expected, predicted, strict=True):
        matrix[index[e], index[p] if p is not None else len(known)] += 1
    loss = None
    if probabilities is not None and n:
        usable = all(q is not None for q, p in zip(probabilities, predicted, strict=True) if p is not None)
        if usable:
            total = 0.0
            for e, q, p in zip(expected, probabilities, predicted, strict=True):
                prob = 1.0 / len(known) if p is None or q is None else float(q.get(e, 0.0))
                total -= math.log(min(max(prob, 1e-15), 1.0))
            loss = total / n
    mean = (lambda key: float(np.mean([v[key] for v in per_class.values()])) if per_class else 0.0)
    return ClassificationQuality(
        n=n, errors=errors, accuracy=_ratio(correct, n), macro_f1=mean("f1"), macro_precision=mean("precision"),
        macro_recall=mean("recall"), log_loss=loss, per_class=per_class, labels=tuple(known),
        confusion=tuple(tuple(int(x) for x in row) for row in matrix))


def short_labels(labels: Sequence[str], width: int = 24) -> list[str]:
    """Numbered, shortened labels for a confusion matrix's axes ("3: Manufacture of oth…"),
    so long labels stay readable; the full names go in a legend."""
    out = []
    for i, lab in enumerate(labels, start=1):
        text = str(lab)
        out.append(f"{i}: {text if len(text) <= width else text[:width - 1] + '…'}")
    return out


@dataclass(frozen=True)
class RetrievalQuality:
    n: int
    errors: int
    ks: tuple[int, ...]
    values: dict[str, float]  # quality.hit_at_<k>, ... for each k

    def metrics(self) -> dict[str, float]:
        return {**self.values, "items.errors": float(self.errors),
                "items.error_rate": self.errors / self.n if self.n else 0.0}

    def to_dict(self) -> dict:
        return {"n": self.n, "errors": self.errors, "k": list(self.ks), "metrics": self.metrics()}


def _query_scores(ranked: Sequence[str], relevant: set[str], k: int) -> tuple[float, float, float, float]:
    top = list(ranked[:k])
    hits = [1.0 if doc in relevant else 0.0 for doc in top]
    hit = 1.0 if any(hits) else 0.0
    recall = sum(hits) / len(relevant) if relevant else 0.0
    first = next((i for i, h in enumerate(hits) if h), None)
    mrr = 1.0 / (first + 1) if first is not None else 0.0
    dcg = sum(h / math.log2(i + 2) for i, h in enumerate(hits))
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return hit, recall, mrr, (dcg / ideal if ideal else 0.0)


def retrieval_quality(relevant: Sequence[set[str]], ranked: Sequence[Sequence[str] | None],
                      ks: Sequence[int]) -> RetrievalQuality:
    """hit@k, recall@k, MRR@k and nDCG@k averaged over queries (None: an error, which
    retrieved nothing)."""
    if len(relevant) != len(ranked):
        raise ValueError(f"{len(relevant)} queries but {len(ranked)} rankings")
    n = len(relevant)
    values: dict[str, float] = {}
    for k in sorted(set(ks)):
        rows = [_query_scores(list(r or ()), rel, k) for rel, r in zip(relevant, ranked, strict=True)]
        arr = np.array(rows, dtype=float).reshape(-1, 4)
        means = arr.mean(axis=0) if n else np.zeros(4)
        for name, value in zip(("hit", "recall", "mrr", "ndcg"), means, strict=True):
            values[f"quality.{name}_at_{k}"] = float(value)
    return RetrievalQuality(n=n, errors=sum(r is None for r in ranked), ks=tuple(sorted(set(ks))), values=values)


# -- extraction ----------------------------------------------------------------------------------


def normal_form(value: object) -> str:
    """A field's value as the extraction metrics compare it: lower case, spacing collapsed, None empty."""
    if value is None:
        return ""
    return " ".join(str(value).lower().split())


def _token_f1(expected: object, got: object) -> float:
    """SQuAD-style token F1 of two values (both empty: 1; one empty: 0)."""
    from collections import Counter

    a, b = normal_form(expected).split(), normal_form(got).split()
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    common = sum((Counter(a) & Counter(b)).values())
    if not common:
        return 0.0
    precision, recall = common / len(b), common / len(a)
    return 2 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class ExtractionQuality:
    n: int
    errors: int
    fields: tuple[str, ...]
    field_exact: float  # mean over fields of the share of items whose field matches exactly
    token_f1: float  # mean over fields of the mean token F1
    all_fields_exact: float  # share of items with every field exact
    per_field: dict[str, dict[str, float]] = field(default_factory=dict)

    def metrics(self) -> dict[str, float]:
        return {"quality.field_exact": self.field_exact, "quality.token_f1": self.token_f1,
                "quality.all_fields_exact": self.all_fields_exact, "items.errors": float(self.errors),
                "items.error_rate": self.errors / self.n if self.n else 0.0}

    def to_dict(self) -> dict:
        return {"n": self.n, "errors": self.errors, "fields": list(self.fields), "per_field": self.per_field,
                "metrics": self.metrics()}


def extraction_quality(expected: Sequence[Mapping[str, object]], outputs: Sequence[Mapping[str, object] | None],
                       fields: Sequence[str] | None = None) -> ExtractionQuality:
    """Per-field exact match (case and spacing ignored; a missing field equals an empty one)
    and token F1, and the share of items with every field right. ``fields``: the fields
    judged (default: every key of the expected objects). An error (None) gets nothing right."""
    if len(expected) != len(outputs):
        raise ValueError(f"{len(expected)} expected objects but {len(outputs)} answers")
    names = list(fields) if fields is not None else sorted({k for e in expected for k in e})
    n = len(expected)
    exact = {f: 0.0 for f in names}
    f1 = {f: 0.0 for f in names}
    all_right = 0
    for e, o in zip(expected, outputs, strict=True):
        if o is None:
            continue
        right = True
        for f in names:
            same = normal_form(e.get(f)) == normal_form(o.get(f))
            exact[f] += same
            f1[f] += _token_f1(e.get(f), o.get(f))
            right = right and same
        all_right += right
    per_field = {f: {"exact": exact[f] / n if n else 0.0, "token_f1": f1[f] / n if n else 0.0} for f in names}
    mean = (lambda key: float(np.mean([v[key] for v in per_field.values()])) if per_field else 0.0)
    return ExtractionQuality(n=n, errors=sum(o is None for o in outputs), fields=tuple(names),
                             field_exact=mean("exact"), token_f1=mean("token_f1"),
                             all_fields_exact=all_right / n if n else 0.0, per_field=per_field)


# -- per item (the values whose means the metrics above are: what paired intervals need) ----------


def retrieval_per_item(relevant: Sequence[set[str]], ranked: Sequence[Sequence[str] | None],
                       ks: Sequence[int]) -> dict[str, np.ndarray]:
    """``hit_at_<k>``, ``recall_at_<k>``, ``mrr_at_<k>``, ``ndcg_at_<k>`` -> one value per query
    (their means are :func:`retrieval_quality`'s)."""
    out: dict[str, np.ndarray] = {}
    for k in sorted(set(ks)):
        rows = np.array([_query_scores(list(r or ()), rel, k) for rel, r in zip(relevant, ranked, strict=True)],
                        dtype=float).reshape(-1, 4)
        for i, name in enumerate(("hit", "recall", "mrr", "ndcg")):
            out[f"{name}_at_{k}"] = rows[:, i]
    return out


def extraction_per_item(expected: Sequence[Mapping[str, object]], outputs: Sequence[Mapping[str, object] | None],
                        fields: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """``field_exact``, ``token_f1`` (each the mean over fields) and ``all_fields_exact`` -> one
    value per item (their means are :func:`extraction_quality`'s; an error scores 0)."""
    names = list(fields) if fields is not None else sorted({k for e in expected for k in e})
    exact, f1, every = [], [], []
    for e, o in zip(expected, outputs, strict=True):
        if o is None or not names:  # no field to judge: an answer is all right, as extraction_quality has it
            exact.append(0.0), f1.append(0.0), every.append(float(o is not None and not names))
            continue
        same = [normal_form(e.get(f)) == normal_form(o.get(f)) for f in names]
        exact.append(float(np.mean(same)))
        f1.append(float(np.mean([_token_f1(e.get(f), o.get(f)) for f in names])))
        every.append(float(all(same)))
    return {"field_exact": np.array(exact), "token_f1": np.array(f1), "all_fields_exact": np.array(every)}
