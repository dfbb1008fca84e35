"""The eval-set part of a charter: the items a text pilot is judged on, and its candidates.

An eval-set pilot (``task.kind: text-classification``, ``extraction``, ``retrieval`` or ``answer``) is judged on a fixed
set of representative items with known answers, loaded like any source (declared types,
a contract, a fingerprint). ``eval_set:`` names that source and its columns: the item id,
the input column(s), the expected output, optional slice columns, optional training items
(another source with the same columns; overlap with the eval items is checked and blocks a
GO), optional recorded outputs of today's process, and, for retrieval, the corpus searched.

``answer`` (document Q&A, generated text): the expected column holds the reference answer;
``facts:`` optionally names a column of expected facts (split on ``separator``) an answer
should contain, ``sources:`` a column of the ids of the corpus passages that support the
answer (groundedness by evidence). An ``llm`` candidate may ``retrieve:`` passages from
``corpus:`` (BM25 or embeddings, top ``k``) into its prompt's ``{passages}``.

Its ``baseline`` and ``candidates`` are built-in kinds (no code) or the user's own function:

- ``rule``: keyword / regular-expression rules, first match wins, else ``default``; for
  extraction, ``fields:`` one regular expression per field (its first group, or the match);
- ``recorded``: today's process, its recorded outputs (``eval_set.recorded.column``);
- ``sklearn``: TF-IDF (``vectorizer:`` its parameters) + an estimator named by import path;
- ``embeddings``: sentence embeddings (``wordllama``, shipped with its weights) + an estimator,
  or, for retrieval, nearest corpus documents by cosine similarity; with ``base_url`` and
  ``model``, the embeddings of an OpenAI-compatible ``/v1/embeddings`` endpoint instead
  (:mod:`workbench.measure.items.llm_embeddings`);
- ``bm25``: retrieval by BM25 (``bm25s``, stemmed);
- ``callable``: ``module:function`` from the pilot's folder, called once per item;
- ``llm``: any OpenAI-compatible chat endpoint (``base_url``, ``model``, ``params``, a prompt
  template file, the *name* of the variable holding its key, prices per 1,000 tokens);
  see :mod:`workbench.measure.items.llm`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .names import RegularExpression, identifier, import_path, regular_expression

__all__ = ["EvalSet", "ItemCandidate", "Rule", "Recorded", "Corpus", "Retrieve", "Judge", "ITEM_TASKS",
           "CANDIDATE_KINDS"]

ITEM_TASKS = ("text-classification", "extraction", "retrieval", "answer")
CANDIDATE_KINDS = ("rule", "recorded", "sklearn", "embeddings", "bm25", "callable", "llm")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Model):
    """One rule of a ``rule`` candidate: items whose text matches ``pattern`` (a Python
    regular expression, searched anywhere) get ``label``."""

    pattern: RegularExpression
    label: str


class Recorded(_Model):
    """Today's process, as recorded on the eval items: its output column, the seconds a
    person (or the current system) spends per item; the hourly cost is the charter's
    ``cost.human_usd_per_hour``."""

    column: str
    seconds_per_item: float | None = Field(default=None, ge=0)


class Corpus(_Model):
    """Retrieval: the documents searched (a source), its id and text columns."""

    source: str
    id: str
    text: list[str] = Field(min_length=1)


class Prices(_Model):
    """What an endpoint charges, in USD per 1,000 input (prompt) and output (completion) tokens."""

    input_per_1k_usd: float = Field(ge=0)
    output_per_1k_usd: float = Field(ge=0)


class Faults(_Model):
    """Degraded mode, measured: the share of calls the pilot fails on purpose (an HTTP 500
    answer) and the share it delays past the timeout; those items are served by ``fallback``."""

    failure_share: float = Field(default=0.0, ge=0, le=1)
    timeout_share: float = Field(default=0.0, ge=0, le=1)
    seed: int = 0


class Retrieve(_Model):
    """Retrieval-augmented answers: the passages an ``llm`` candidate of an ``answer`` pilot gets
    in its prompt (``{passages}``): the top ``k`` documents of ``eval_set.corpus`` for the item's
    inputs, found by ``candidate`` (``bm25``, ``embeddings``, or a ``{name, kind: bm25|embeddings}``
    block). The ids found are what groundedness by evidence is judged on."""

    candidate: str | ItemCandidate  # bm25, embeddings, or a {name, kind: bm25|embeddings, ...} block
    k: int = Field(default=3, ge=1, le=50)

    @field_validator("candidate", mode="before")
    @classmethod
    def _kind_name(cls, value: Any) -> Any:
        if isinstance(value, str) and value not in ("bm25", "embeddings"):
            raise ValueError(f"passages are found by `bm25` or `embeddings` (or a {{name, kind}} block of either), "
                             f"not {value!r}")
        return value

    @model_validator(mode="after")
    def _retriever(self) -> Retrieve:
        if isinstance(self.candidate, ItemCandidate) and self.candidate.kind not in ("bm25", "embeddings"):
            raise ValueError(f"retrieve.candidate is a {self.candidate.kind!r} candidate; passages are found by "
                             "`bm25` or `embeddings`")
        return self

    def spec(self, owner: str) -> ItemCandidate:
        """The retrieval candidate itself (a kind name becomes ``<owner>_retriever``)."""
        if isinstance(self.candidate, ItemCandidate):
            return self.candidate
        return ItemCandidate(name=f"{owner}_retriever", kind=self.candidate)  # type: ignore[arg-type]


class Judge(_Model):
    """An LLM judge of answers (``task.kind: answer``): an OpenAI-compatible endpoint asked, per
    answered item, whether the answer is correct given the reference (its template: ``{input}``
    or any input column, ``{reference}``, ``{response}``; it answers ``correct`` or ``wrong``).
    Its verdicts give ``quality.judge_score``; a gate may name that metric only once the
    judge's agreement with reviewer labels (the Label panel) is measured on ``min_items``
    labelled answers and reaches ``min_agreement``."""

    base_url: str
    model: str
    prompt: str  # a template file relative to the charter
    api_key_env: str | None = None
    params: dict[str, Any] = {}
    timeout_seconds: float = Field(default=30.0, gt=0)
    concurrency: int = Field(default=4, ge=1, le=64)
    allow_personal_data: bool = False
    min_agreement: float = Field(default=0.8, gt=0, le=1)
    min_items: int = Field(default=30, ge=1)

    @field_validator("api_key_env")
    @classmethod
    def _key_name(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", value):
            raise ValueError("api_key_env names an environment variable (e.g. OPENAI_API_KEY), never the key itself")
        return value

    def candidate(self) -> ItemCandidate:
        """The judge as an ``llm`` candidate (its client, cache and redaction)."""
        return ItemCandidate(name="judge", kind="llm", base_url=self.base_url, model=self.model, prompt=self.prompt,
                             api_key_env=self.api_key_env, params=self.params, timeout_seconds=self.timeout_seconds,
                             concurrency=self.concurrency, allow_personal_data=self.allow_personal_data)


class ItemCandidate(_Model):
    """A baseline or candidate of an eval-set pilot (see the module's docstring)."""

    name: str
    kind: Literal["rule", "recorded", "sklearn", "embeddings", "bm25", "callable", "llm"]
    rules: list[Rule] = []
    default: str | None = None
    fields: dict[str, str] = {}  # extraction rule: field -> regular expression
    vectorizer: dict[str, Any] = {}
    estimator: str = "sklearn.linear_model.LogisticRegression"
    params: dict[str, Any] = {}
    function: str | None = None
    timeout_seconds: float = Field(default=5.0, gt=0)
    # kind: llm — an OpenAI-compatible endpoint; `params:` holds temperature, max_tokens, seed
    base_url: str | None = None  # e.g. https://llm.internal.example/v1
    model: str | None = None
    prompt: str | None = None  # a template file relative to the charter: {column} placeholders, {labels}
    api_key_env: str | None = None  # the NAME of the environment variable holding the key, never the key
    concurrency: int = Field(default=4, ge=1, le=64)
    rate_limit_per_minute: float | None = Field(default=None, gt=0)
    retries: int = Field(default=2, ge=0, le=10)
    prices: Prices | None = None
    allow_personal_data: bool = False  # the endpoint may see personal data (e.g. hosted in-house)
    fallback: Literal["baseline", "unknown", "person"] | None = None  # what serves when a call fails
    faults: Faults = Faults()
    canary_items: int = Field(default=50, ge=1)  # `workbench monitor`: items re-asked of the champion
    retrieve: Retrieve | None = None  # answer pilots: passages from eval_set.corpus into {passages}
    # a GGUF model file whose vocabulary counts tokens when the endpoint reports no usage
    # (relative to the charter); default: SmolLM2's when the llm extra is installed, else ~4 chars a token
    tokenizer: str | None = None

    @field_validator("name")
    @classmethod
    def _ident(cls, value: str) -> str:
        return identifier(value, "a candidate name")

    @model_validator(mode="after")
    def _complete(self) -> ItemCandidate:
        for field, pattern in self.fields.items():
            regular_expression(pattern, f"fields.{field}:")
        if self.kind == "rule" and not self.rules and self.default is None and not self.fields:
            raise ValueError("a `rule` candidate needs `rules:` ([{pattern: REGEX, label: LABEL}, ...]) "
                             "and/or `default:` (the label when no rule matches)")
        if self.kind == "callable" and not re.match(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$", self.function or ""):
            raise ValueError("a `callable` candidate needs `function: module:function` (a module in the pilot's "
                             "folder, e.g. my_pipeline:classify)")
        if self.kind == "llm":
            missing = [k for k in ("base_url", "model", "prompt") if not getattr(self, k)]
            if missing:
                raise ValueError(f"an `llm` candidate needs {', '.join(missing)} (base_url: the endpoint's /v1 URL, "
                                 "model: its model name, prompt: a template file in the pilot's folder)")
            if self.api_key_env is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", self.api_key_env):
                raise ValueError("api_key_env names an environment variable (e.g. OPENAI_API_KEY), "
                                 "never the key itself")
        elif self.kind == "embeddings" and self.base_url is not None:  # an OpenAI-compatible /v1/embeddings
            if not self.model or self.prompt is not None:
                raise ValueError("an `embeddings` candidate with base_url needs model: (the endpoint's embedding "
                                 "model) and no prompt: (it embeds the inputs as they are)")
            if self.api_key_env is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", self.api_key_env):
                raise ValueError("api_key_env names an environment variable (e.g. OPENAI_API_KEY), "
                                 "never the key itself")
        elif any(getattr(self, k) is not None for k in ("base_url", "model", "prompt", "api_key_env", "prices")):
            raise ValueError("base_url, model, prompt, api_key_env and prices are for `kind: llm` only "
                             "(base_url, model, api_key_env and prices also for `kind: embeddings` from an endpoint)")
        if self.kind != "callable" and self.function is not None:
            raise ValueError("`function:` is for `kind: callable` only")
        if self.retrieve is not None and self.kind != "llm":
            raise ValueError("`retrieve:` is for `kind: llm` only (the passages fill its prompt's {passages})")
        import_path(self.estimator, "sklearn.linear_model.LogisticRegression")
        return self


class EvalSet(_Model):
    """Where the eval items are and what their columns mean (see the module's docstring)."""

    source: str
    id: str
    inputs: list[str] = Field(min_length=1)
    expected: str
    slices: list[str] = []
    min_slice_items: int = Field(default=30, ge=1)
    train: str | None = None  # a source of training items with the same input and expected columns
    recorded: Recorded | None = None
    corpus: Corpus | None = None  # retrieval; answer: the passages an llm candidate retrieves
    k: list[int] = [1, 5, 10]  # retrieval: the cut-offs of hit@k, recall@k, MRR@k, nDCG@k
    separator: str = "|"  # retrieval: between relevant ids in the expected column; answer: in facts, sources
    facts: str | None = None  # answer: a column of expected facts (split on separator) an answer should contain
    sources: str | None = None  # answer: a column of the ids of the corpus passages that support the answer
    judge: Judge | None = None  # answer: an LLM judge of the answers (quality.judge_score; gated only once agreed)
    # extraction: a JSON schema file (relative to the charter) every answer must satisfy;
    # the expected column holds each item's answer as a JSON object
    output_schema: str | None = None
    baseline: ItemCandidate
    candidates: list[ItemCandidate] = Field(min_length=1)

    @field_validator("k")
    @classmethod
    def _k(cls, value: list[int]) -> list[int]:
        if not value or any(k < 1 for k in value):
            raise ValueError("k values are positive integers, e.g. [1, 5, 10]")
        return sorted(set(value))

    @model_validator(mode="after")
    def _names(self) -> EvalSet:
        names = [self.baseline.name, *(c.name for c in self.candidates)]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"baseline and candidate names must be unique; repeated: {', '.join(dupes)}")
        if self.baseline.kind == "recorded" and self.recorded is None:
            raise ValueError("a `recorded` baseline needs `recorded: {column: COLUMN, seconds_per_item: N}`")
        return self

    def columns(self) -> list[str]:
        """The eval table's columns this block names."""
        cols = [self.id, *self.inputs, self.expected, *self.slices]
        if self.recorded is not None:
            cols.append(self.recorded.column)
        cols += [c for c in (self.facts, self.sources) if c is not None]
        return list(dict.fromkeys(cols))


Retrieve.model_rebuild()
Judge.model_rebuild()
ItemCandidate.model_rebuild()
