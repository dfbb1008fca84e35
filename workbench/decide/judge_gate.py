"""A gate on an LLM judge's metric counts only once the judge agrees with people.

An answer pilot's ``eval_set.judge`` scores answers (``quality.judge_score``), but a judge is
itself a model that may be wrong. A gate naming that metric passes only when the judge's
verdicts have been compared with reviewer labels (the Label panel, :mod:`workbench.data.item_labels`)
on at least ``judge.min_items`` labelled answers and agree on at least ``judge.min_agreement``
of them. Only runs judged by the charter's judge as it is now count: the same model and the
same prompt file contents (the run's ``judge.model`` and ``judge.prompt_sha256`` parameters);
labels ``unsure`` are left out. Only the gated candidate's own answers count: a judge checked
on today's canned replies (plainly wrong, easy to agree on) says nothing of how it scores a
model's fluent answers, least of all a model like itself. Otherwise the gate fails, saying what
was measured and what to do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..charter.config import Charter
from ..data.item_labels import read_labels
from ..store.tracking import ITEMS_ARTIFACT, Store
from .registry import GateResult

__all__ = ["JudgeAgreement", "judge_agreement", "guard_judge_gates", "JUDGE_METRIC"]

JUDGE_METRIC = "judge_score"


@dataclass(frozen=True)
class JudgeAgreement:
    items: int  # labelled answers (correct / wrong) the judge gave a verdict on
    agreed: int
    runs: int  # runs judged by the charter's judge whose answers carry labels
    elsewhere: int = 0  # ... labelled answers of other candidates (not counted when one is asked for)

    @property
    def share(self) -> float | None:
        return self.agreed / self.items if self.items else None


def _prompt_sha(charter: Charter) -> str | None:
    judge = charter.eval_set.judge if charter.eval_set is not None else None
    if judge is None:
        return None
    path = charter.resolve(Path(judge.prompt))
    return hashlib.sha256(path.read_text(encoding="utf-8").encode("utf-8")).hexdigest() if path.is_file() else None


def judge_agreement(charter: Charter, store: Store, candidate: str | None = None) -> JudgeAgreement:
    """The judge's verdicts against the reviewers' labels on the same answers (see the module);
    ``candidate``: on that candidate's answers only (the others' are counted in ``elsewhere``)."""
    judge = charter.eval_set.judge if charter.eval_set is not None else None
    sha = _prompt_sha(charter)
    labels = read_labels(charter.warehouse_path)
    if judge is None or sha is None or labels.empty:
        return JudgeAgreement(0, 0, 0)
    labels = labels[labels["label"].isin(["correct", "wrong"])]
    items = agreed = runs = elsewhere = 0
    for (run_id, name), group in labels.groupby(["run_id", "candidate"]):
        try:
            params = store.get_run(run_id).data.params
        except Exception:  # noqa: BLE001 - a deleted or foreign run: its labels cannot be checked
            continue
        if params.get("judge.prompt_sha256") != sha or params.get("judge.model") != judge.model:
            continue  # judged by another judge (model or prompt): says nothing about this one
        text = store.download_text(run_id, ITEMS_ARTIFACT.format(name=name))
        table = json.loads(text) if text else {}
        cols = table.get("columns") or []
        if "judge" not in cols:
            continue
        verdict = {str(r[cols.index("item_id")]): r[cols.index("judge")] for r in table.get("data") or []}
        counted = hits = 0
        for item_id, label in zip(group["item_id"].astype(str), group["label"], strict=True):
            v = verdict.get(item_id)
            if v is None or v != v:  # no verdict (NaN: the judge's answer named neither)
                continue
            counted += 1
            hits += int((v >= 0.5) == (label == "correct"))
        if candidate is not None and name != candidate:
            elsewhere += counted
            continue
        items, agreed, runs = items + counted, agreed + hits, runs + bool(counted)
    return JudgeAgreement(items, agreed, runs, elsewhere)


def guard_judge_gates(gates: Sequence[GateResult], charter: Charter, store: Store,
                      candidate: str | None = None) -> tuple[GateResult, ...]:
    """``gates`` with every passing gate on a judge metric failed unless the judge's agreement
    with reviewer labels, on ``candidate``'s answers, is measured and high enough (see the
    module's docstring)."""
    judged = [g for g in gates if g.metric and JUDGE_METRIC in g.metric]
    if not judged:
        return tuple(gates)
    judge = charter.eval_set.judge if charter.eval_set is not None else None
    agreement = judge_agreement(charter, store, candidate) if judge is not None else JudgeAgreement(0, 0, 0)
    whose = f" of candidate '{candidate}'" if candidate else ""
    others = (f" ({agreement.elsewhere} labelled answer(s) of other candidates do not count: a judge may agree "
              "with people on one candidate's answers and not on another's)" if agreement.elsewhere else "")
    out: list[GateResult] = []
    for g in gates:
        if g not in judged:
            out.append(g)
            continue
        if judge is None:
            why = "the charter declares no `eval_set.judge`, so nothing recorded which model judged"
        elif agreement.items < judge.min_items:
            why = (f"the judge's agreement with reviewer labels is measured on {agreement.items} labelled "
                   f"answer(s){whose}, fewer than the {judge.min_items} required (judge.min_items){others}")
        elif (agreement.share or 0.0) < judge.min_agreement:
            why = (f"the judge agrees with reviewer labels on {agreement.share:.0%} of {agreement.items} "
                   f"answers{whose}, below judge.min_agreement {judge.min_agreement:.0%}")
        else:
            out.append(replace(g, details=(*g.details, f"judge agreement {agreement.share:.0%} on "
                                                       f"{agreement.items} labelled answers{whose}")))
            continue
        out.append(replace(g, passed=False, tie=False, reason=(
            f"{why}: an LLM judge's score counts in a gate only once people agree with it. Label the judged "
            f"answers{whose} as correct or wrong in the Label panel (the "
            "last cell of notebooks/workbench.ipynb) "
            f"and decide again; the judge was {judge.model if judge else 'none'}. ({g.reason})")))
    return tuple(out)
