"""How far a reviewer's labels agree with the metric's verdict on the same items.

A reviewer labels a sample of a candidate's answers correct, wrong or unsure
(:mod:`workbench.data.item_labels`); the metric scored each answer correct or not
(``item_results.correct``). Agreement is the share of the reviewer's correct/wrong labels
that match the metric's verdict, with Cohen's kappa (agreement beyond what the two
marginal rates would give by chance; None when chance alone explains every label, e.g. both
said "correct" every time). "unsure" labels are counted and left out of both. Each
(reviewer, item) pair counts once: two reviewers on one item are two comparisons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Agreement", "agreement", "cohen_kappa"]


@dataclass(frozen=True)
class Agreement:
    """One candidate's labels against its metric."""

    candidate: str
    labelled: int  # labels of any kind
    unsure: int
    compared: int  # correct/wrong labels on items the metric scored
    agree: int
    reviewers: int
    metric_correct_reviewer_wrong: int  # the metric is kinder than the reviewer
    metric_wrong_reviewer_correct: int  # the metric is stricter than the reviewer (e.g. a paraphrase)
    kappa: float | None

    @property
    def share(self) -> float | None:
        return self.agree / self.compared if self.compared else None

    def to_dict(self) -> dict[str, Any]:
        return {"candidate": self.candidate, "labelled": self.labelled, "unsure": self.unsure,
                "compared": self.compared, "agree": self.agree, "share": self.share, "kappa": self.kappa,
                "reviewers": self.reviewers, "metric_correct_reviewer_wrong": self.metric_correct_reviewer_wrong,
                "metric_wrong_reviewer_correct": self.metric_wrong_reviewer_correct}


def cohen_kappa(pairs: list[tuple[bool, bool]]) -> float | None:
    """Cohen's kappa of two yes/no raters; None without pairs or when chance agreement is 1."""
    n = len(pairs)
    if not n:
        return None
    observed = sum(a == b for a, b in pairs) / n
    a_yes = sum(a for a, _ in pairs) / n
    b_yes = sum(b for _, b in pairs) / n
    chance = a_yes * b_yes + (1 - a_yes) * (1 - b_yes)
    if chance >= 1.0:
        return None
    return (observed - chance) / (1 - chance)


def agreement(labels: Any, items: Any) -> dict[str, Agreement]:
    """Per candidate: ``labels`` (reviewer, run_id, candidate, item_id, label; one current
    label per reviewer and item, as :func:`~workbench.data.item_labels.read_labels` returns)
    against ``items`` (run_id, candidate, item_id, correct). Labels of items absent from
    ``items`` count as labelled but not compared."""
    out: dict[str, Agreement] = {}
    if labels is None or len(labels) == 0:
        return out
    verdict = {(str(r), str(c), str(i)): bool(ok) for r, c, i, ok in
               zip(items["run_id"], items["candidate"], items["item_id"], items["correct"], strict=True)}
    for cand, group in labels.groupby("candidate", sort=True):
        pairs: list[tuple[bool, bool]] = []
        unsure = 0
        for run_id, item_id, label in zip(group["run_id"], group["item_id"], group["label"], strict=True):
            if label == "unsure":
                unsure += 1
                continue
            metric = verdict.get((str(run_id), str(cand), str(item_id)))
            if metric is not None:
                pairs.append((label == "correct", metric))
        out[str(cand)] = Agreement(
            candidate=str(cand), labelled=len(group), unsure=unsure, compared=len(pairs),
            agree=sum(r == m for r, m in pairs), reviewers=int(group["reviewer"].nunique()),
            metric_correct_reviewer_wrong=sum(m and not r for r, m in pairs),
            metric_wrong_reviewer_correct=sum(r and not m for r, m in pairs),
            kappa=cohen_kappa(pairs))
    return out
