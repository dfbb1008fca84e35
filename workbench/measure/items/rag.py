"""LLM answers (``task.kind: answer``), retrieval-augmented when the candidate says ``retrieve:``.

An ``llm`` candidate of an answer pilot answers in free text: nothing is parsed beyond
stripping it, and an empty answer is malformed (scored wrong, kept for review). With
``retrieve: {candidate: bm25|embeddings|{name, kind, ...}, k: 3}`` the top ``k`` passages of
``eval_set.corpus`` for the item's inputs fill the prompt's ``{passages}`` (one ``[id] text``
block each); the ids retrieved are the answer's sources, what groundedness by evidence judges.

The passages pass the same redaction as the inputs before any call (personal patterns and the
eval set's personal names become placeholders, unless ``allow_personal_data: true``), and the
response cache keys on the rendered prompt, so a changed corpus or retriever misses.
Everything else — the endpoint, cache, concurrency, retries, cost, fallbacks — is
:class:`~workbench.measure.items.llm.LlmModel`'s.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ...charter.items import ItemCandidate
from ...errors import ConfigError
from .candidates import Answer, ItemModel, MalformedOutput, fit_item_model
from .data import ItemData
from .llm import LlmModel

__all__ = ["AnswerLlmModel", "format_passages", "PASSAGES"]

PASSAGES = "passages"  # the template's placeholder for the retrieved passages


def format_passages(ids: Sequence[str], texts: Mapping[str, str]) -> str:
    """The retrieved passages as the prompt shows them: ``[id] text``, a blank line between."""
    return "\n\n".join(f"[{i}] {texts.get(i, '')}" for i in ids)


class AnswerLlmModel(LlmModel):
    """An OpenAI-compatible chat endpoint answering questions (see the module's docstring)."""

    def __init__(self, spec: ItemCandidate, inputs: list[str], task: str, root: Path) -> None:
        super().__init__(spec, inputs, task, root)
        self.retriever: ItemModel | None = None
        self.corpus_texts: dict[str, str] = {}
        self.retrieved: dict[str, list[str]] = {}  # item id -> passage ids of the last run

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state["retrieved"] = {}
        return state

    def fit(self, data: ItemData) -> None:
        super().fit(data)
        where = f"pilot.yaml: eval_set candidate '{self.name}'"
        wants = "{" + PASSAGES + "}" in self.template
        retrieve = self.spec.retrieve
        if retrieve is None:
            if wants:
                raise ConfigError(f"the prompt template of candidate '{self.name}' names {{{PASSAGES}}}, but the "
                                  "candidate retrieves nothing", where=f"{where} (retrieve)",
                                  hint="add `retrieve: {candidate: bm25, k: 3}` (and `corpus:` to the eval set)")
            return
        if data.corpus is None:
            raise ConfigError(f"candidate '{self.name}' retrieves passages, but the eval set has no corpus",
                              where="pilot.yaml: eval_set.corpus", hint="declare `corpus: {source, id, text}`")
        if not wants:
            raise ConfigError(f"candidate '{self.name}' retrieves passages, but its prompt template has no "
                              f"{{{PASSAGES}}} to put them in", where=str(self.spec.prompt),
                              hint=f"add {{{PASSAGES}}} to the template where the passages go")
        self.retriever = fit_item_model(retrieve.spec(self.name), data, "retrieval", root=self.root)
        self.retriever.k = retrieve.k
        self.corpus_texts = dict(zip(data.corpus["id"].astype(str), data.corpus["text"].astype(str), strict=True))

    def retrieve_ids(self, item: Mapping[str, Any]) -> list[str]:
        """The ids of the top ``k`` passages for ``item`` (none without ``retrieve:``)."""
        if self.retriever is None or self.spec.retrieve is None:
            return []
        return [str(i) for i in self.retriever.answer(item).value][: self.spec.retrieve.k]

    def prepare(self, records: Sequence[Mapping[str, Any]], *, use_cache: bool | None = None,
                reset: bool = True) -> None:
        if reset:
            self.retrieved = {}
        super().prepare(records, use_cache=use_cache, reset=reset)

    def render(self, item: Mapping[str, Any], counts: Counter) -> str:
        """The prompt with the retrieved passages in ``{passages}``: they enter as one more input
        value, so the inputs' redaction covers them too."""
        if self.retriever is not None:
            ids = self.retrieve_ids(item)
            self.retrieved[str(item.get(self.id_column))] = ids
            item = {**item, PASSAGES: format_passages(ids, self.corpus_texts)}
        return super().render(item, counts)

    def answer(self, item: Mapping[str, Any]) -> Answer:
        call = self._call(item)
        if call.error is not None:
            return super().answer(item)  # the fallback, or the call's error
        text = (call.text or "").strip()
        if not text:
            raise MalformedOutput("the endpoint answered with empty text")
        if self.retriever is None:
            return Answer(text)
        key = str(item.get(self.id_column))
        ids = self.retrieved[key] if key in self.retrieved else self.retrieve_ids(item)
        return Answer({"answer": text, "sources": ids})

    def run_params(self) -> dict[str, Any]:
        out = super().run_params()
        retrieve = self.spec.retrieve
        if retrieve is not None and self.retriever is not None:
            out["llm.retrieve"] = f"{self.retriever.describe()}, top {retrieve.k} of {len(self.corpus_texts)} passages"
        return out

    def describe(self) -> str:
        base = super().describe()
        if self.spec.retrieve is None:
            return base
        kind = self.retriever.kind if self.retriever is not None else "retrieval"
        return f"{base}, {kind} top {self.spec.retrieve.k} passages"
