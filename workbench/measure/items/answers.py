"""Quality of generated answers (``task.kind: answer``, document Q&A), pure: numpy only.

Each item has a reference answer (the eval set's expected column), optionally the facts an
answer should contain (``eval_set.facts``, split on the separator) and the ids of the corpus
passages that support it (``eval_set.sources``). An answer is its text and, when the model
retrieved or cited passages, their ids.

- ``exact_match``: the answer is the reference (outer whitespace ignored);
- ``normalized_exact_match``: equal once lower-cased, punctuation, the articles a/an/the and
  extra whitespace removed (SQuAD's normalization);
- ``token_f1``: SQuAD's token F1 of the normalized answer against the normalized reference;
- ``facts_recall``: the share of an item's expected facts found in the answer (normalized, on
  word boundaries); ``all_facts``: every fact found. Items without facts are not judged;
- ``groundedness``: the retrieved or cited passages include an expected source (evidence, no
  judge). Items without expected sources are not judged; reported only for a model that
  retrieves or cites (a rule that cites nothing has no groundedness, rather than 0).

An error (None: it raised, timed out, or answered nothing) gets every judged value 0: it is
wrong, never skipped. Per-item values not judged are NaN; the means run over judged items.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["normalize_answer", "answer_tokens_f1", "facts_found", "AnswerQuality", "answer_quality",
           "answer_per_item", "answer_text", "answer_sources", "ANSWER_METRICS"]

ANSWER_METRICS = ("exact_match", "normalized_exact_match", "token_f1", "facts_recall", "all_facts", "groundedness")
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)


def normalize_answer(text: object) -> str:
    """SQuAD's normalization: lower case, punctuation removed, articles removed, whitespace collapsed."""
    lowered = "" if text is None else str(text).lower()
    no_punct = "".join(ch if ch not in _PUNCT else " " for ch in lowered)
    return " ".join(_ARTICLES.sub(" ", no_punct).split())


def answer_tokens_f1(reference: object, answer: object) -> float:
    """SQuAD's token F1 of two normalized texts (both empty: 1; one empty: 0)."""
    a, b = normalize_answer(reference).split(), normalize_answer(answer).split()
    if not a or not b:
        return float(a == b)
    common = sum((Counter(a) & Counter(b)).values())
    if not common:
        return 0.0
    precision, recall = common / len(b), common / len(a)
    return 2 * precision * recall / (precision + recall)


def facts_found(facts: Sequence[str], answer: object) -> list[bool]:
    """Whether each fact occurs in the answer, both normalized, on word boundaries."""
    text = f" {normalize_answer(answer)} "
    return [bool(normalize_answer(f)) and f" {normalize_answer(f)} " in text for f in facts]


def answer_text(output: Any) -> str | None:
    """The text of an answer (a string, or ``{"answer": ..., "sources": [...]}``); None: an error."""
    if output is None:
        return None
    return str(output.get("answer")) if isinstance(output, Mapping) else str(output)


def answer_sources(output: Any) -> list[str] | None:
    """The passage ids an answer retrieved or cited; None when it names none (or is an error)."""
    if isinstance(output, Mapping) and output.get("sources") is not None:
        return [str(s) for s in output["sources"]]
    return None


def answer_per_item(reference: Sequence[str], outputs: Sequence[Any], *,
                    facts: Sequence[Sequence[str]] | None = None,
                    sources: Sequence[set[str]] | None = None) -> dict[str, np.ndarray]:
    """One value per item for each metric in :data:`ANSWER_METRICS` that applies (see the
    module's docstring); NaN where an item is not judged. ``facts_recall`` / ``all_facts``
    need ``facts``; ``groundedness`` needs ``sources`` and a model that retrieves or cites."""
    if len(reference) != len(outputs):
        raise ValueError(f"{len(reference)} reference answers but {len(outputs)} outputs")
    texts = [answer_text(o) for o in outputs]
    pairs = list(zip(reference, texts, strict=True))
    out = {
        "exact_match": np.array([t is not None and t.strip() == str(r).strip() for r, t in pairs], dtype=float),
        "normalized_exact_match": np.array([t is not None and normalize_answer(t) == normalize_answer(r)
                                            for r, t in pairs], dtype=float),
        "token_f1": np.array([0.0 if t is None else answer_tokens_f1(r, t) for r, t in pairs], dtype=float),
    }
    if facts is not None:
        recall, every = [], []
        for fs, t in zip(facts, texts, strict=True):
            if not fs:
                recall.append(np.nan), every.append(np.nan)
                continue
            found = [False] * len(fs) if t is None else facts_found(fs, t)
            recall.append(sum(found) / len(fs)), every.append(float(all(found)))
        out["facts_recall"], out["all_facts"] = np.array(recall, dtype=float), np.array(every, dtype=float)
    cited = [answer_sources(o) for o in outputs]
    if sources is not None and any(c is not None for c in cited):
        out["groundedness"] = np.array([np.nan if not expected else float(bool(set(c or ()) & expected))
                                        for expected, c in zip(sources, cited, strict=True)], dtype=float)
    return out


@dataclass(frozen=True)
class AnswerQuality:
    n: int
    errors: int
    values: dict[str, float]  # quality.<metric> -> mean over judged items
    judged: dict[str, int]  # quality.<metric> -> items judged (facts, sources declared)

    def metrics(self) -> dict[str, float]:
        return {**self.values, "items.errors": float(self.errors),
                "items.error_rate": self.errors / self.n if self.n else 0.0}

    def to_dict(self) -> dict:
        return {"n": self.n, "errors": self.errors, "judged": self.judged, "metrics": self.metrics()}


def answer_quality(reference: Sequence[str], outputs: Sequence[Any], *,
                   facts: Sequence[Sequence[str]] | None = None,
                   sources: Sequence[set[str]] | None = None) -> AnswerQuality:
    """The means of :func:`answer_per_item` over the items each metric judges."""
    per = answer_per_item(reference, outputs, facts=facts, sources=sources)
    values, judged = {}, {}
    for name, arr in per.items():
        ok = ~np.isnan(arr)
        if ok.any():
            values[f"quality.{name}"] = float(arr[ok].mean())
            judged[f"quality.{name}"] = int(ok.sum())
    return AnswerQuality(n=len(reference), errors=sum(o is None for o in outputs), values=values, judged=judged)
