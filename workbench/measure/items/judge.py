"""An LLM judge of generated answers (``eval_set.judge``, answer pilots): optional, recorded, and
gated only once it agrees with people.

The judge is an OpenAI-compatible endpoint asked, for every answered item, whether the answer
is correct given the reference: its template gets ``{reference}``, ``{response}`` and the
item's input columns (``{input}``: them joined); it answers ``correct`` or ``wrong``. It goes
through the same client as an ``llm`` candidate: the cache, redaction before the call (the
reference and the answer too), the key read from ``api_key_env`` and never shown.

Per item the verdict is 1 (correct), 0 (wrong; an answer that failed is wrong without asking)
or NaN when the judge's own answer names neither (counted: ``judge.unparsed``).
``quality.judge_score`` is the mean over judged items. The judge's model, the model it reported
and its prompt's SHA-256 are parameters of the run (``judge.*``): the decision checks its
agreement with reviewer labels only on runs judged by this very model and prompt
(:mod:`workbench.decide.judge_gate`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...charter.items import Judge
from .answers import answer_text
from .candidates import MalformedOutput
from .data import ItemData
from .llm import LlmModel, parse_label

__all__ = ["JUDGE_LABELS", "JudgeModel", "JudgeResult", "judge_answers"]

JUDGE_LABELS = ("correct", "wrong")


class JudgeModel(LlmModel):
    """The judge as an LLM client: its prompt gets the reference and the answer of each item."""

    def __init__(self, spec: Judge, inputs: list[str], root: Path) -> None:
        super().__init__(spec.candidate(), inputs, "text-classification", root)
        self.pairs: dict[str, tuple[str, str]] = {}  # item id -> (reference, response)

    def fit(self, data: ItemData) -> None:
        super().fit(data)
        self.labels = list(JUDGE_LABELS)

    def render(self, item: Mapping[str, Any], counts: Counter) -> str:
        reference, response = self.pairs.get(str(item.get(self.id_column)), ("", ""))
        return super().render({**item, "reference": reference, "response": response}, counts)

    def verdict(self, item: Mapping[str, Any]) -> str:
        call = self._call(item)
        if call.error is not None:
            raise MalformedOutput(f"the judge's call failed: {call.error[:120]}")
        return parse_label(call.text or "", self.labels)


@dataclass(frozen=True)
class JudgeResult:
    verdicts: np.ndarray  # per item: 1 correct, 0 wrong, NaN unparsed
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


def judge_answers(spec: Judge, data: ItemData, outputs: Sequence[Any], *, root: Path | str) -> JudgeResult:
    """Ask the judge about every answered item (see the module's docstring)."""
    model = JudgeModel(spec, list(data.spec.inputs), Path(root))
    model.fit(data)
    ids, records = data.ids, data.items.to_dict("records")
    asked = []
    for item_id, record, output, reference in zip(ids, records, outputs, data.expected, strict=True):
        text = answer_text(output)
        if text is None:
            continue
        model.pairs[item_id] = (reference, text)
        asked.append({model.id_column: item_id, **{c: record.get(c) for c in model.inputs}})
    verdicts = np.zeros(len(ids))
    unparsed = 0
    if asked:
        model.prepare(asked)
        position = {i: n for n, i in enumerate(ids)}
        for item in asked:
            try:
                verdicts[position[str(item[model.id_column])]] = float(model.verdict(item) == "correct")
            except MalformedOutput:
                verdicts[position[str(item[model.id_column])]] = np.nan
                unparsed += 1
    run = model.run_metrics(len(asked))
    judged = ~np.isnan(verdicts)
    metrics = {"judge.calls": run["llm.calls"], "judge.unparsed": float(unparsed)}
    if judged.any():
        metrics["quality.judge_score"] = float(verdicts[judged].mean())
    params = {k.replace("llm.", "judge.", 1): v for k, v in model.run_params().items()
              if k in ("llm.endpoint", "llm.model", "llm.reported_model", "llm.prompt_file", "llm.prompt_sha256")}
    return JudgeResult(verdicts=verdicts, metrics=metrics, params=params)
