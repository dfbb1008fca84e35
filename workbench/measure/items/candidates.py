"""The baselines and candidates of an eval-set pilot, built from the charter (``eval_set:``).

Each is an :class:`ItemModel`: fitted once on the training items (or indexed on the corpus),
then asked one item at a time — :meth:`ItemModel.answer` takes the item's input columns (a
dict) and returns a label (text classification) or ranked document ids (retrieval), and
may return class probabilities too. :meth:`ItemModel.predict` answers a DataFrame, for the
logged MLflow model. Every model pickles without its heavy parts (an embedding model, a
user's module), which are loaded again on first use.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...charter.items import ItemCandidate
from ...errors import ConfigError, WorkbenchError
from .data import ItemData, join_text

__all__ = ["ItemModel", "Answer", "build_item_model", "fit_item_model", "field_value", "MalformedOutput"]


class MalformedOutput(WorkbenchError):
    """An answer that is not of the task's shape (counted as an error, never scored)."""


@dataclass(frozen=True)
class Answer:
    """One item's answer: a label or ranked ids, and class probabilities when known."""

    value: Any
    probabilities: Mapping[str, float] | None = None


class ItemModel:
    """A baseline or candidate: ``fit`` once, then ``answer`` one item at a time."""

    kind = "model"
    constant = False  # the same answer for every item: a guess to beat, not a way the work is done today

    def __init__(self, spec: ItemCandidate, inputs: list[str], task: str) -> None:
        self.name = spec.name
        self.spec = spec
        self.inputs = list(inputs)
        self.task = task
        self.k = 10  # retrieval: how many ids an answer ranks (set to the largest charter k)
        self.fit_seconds = 0.0  # training, or building the index (retrieval)

    def text(self, item: Mapping[str, Any]) -> str:
        return "\n".join("" if item.get(c) is None else str(item.get(c)) for c in self.inputs)

    def fit(self, data: ItemData) -> None:  # noqa: B027 - most kinds need no fitting
        """Learn from the training items, or index the corpus."""

    def answer(self, item: Mapping[str, Any]) -> Answer:
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.name} ({self.spec.kind})"

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Answers for a DataFrame of input columns (None where an item fails); retrieval
        answers are the ranked ids joined by ``|``."""
        out = []
        for item in frame.to_dict("records"):
            try:
                value = self.answer(item).value
            except Exception:  # noqa: BLE001 - a failed item is a None answer, never a crash of the batch
                value = None
            if isinstance(value, (list, tuple)):
                value = "|".join(map(str, value))
            elif isinstance(value, dict):
                value = json.dumps(value, ensure_ascii=False, sort_keys=True)
            out.append(value)
        return np.asarray(out, dtype=object)


def field_value(pattern: re.Pattern[str], text: str) -> str | None:
    """A field's value in ``text``: the first group of ``pattern``'s first match (or the whole
    match without a group); None where it does not match."""
    m = pattern.search(text)
    return None if m is None else m.group(1) if pattern.groups else m.group(0)


class RuleModel(ItemModel):
    """Regular-expression rules, first match wins, else the default label."""

    kind = "rule"

    def __init__(self, spec: ItemCandidate, inputs: list[str], task: str) -> None:
        super().__init__(spec, inputs, task)
        self.rules = [(re.compile(r.pattern), r.label) for r in spec.rules]
        self.default = spec.default
        self.fields = {f: re.compile(p) for f, p in spec.fields.items()}

    @property
    def constant(self) -> bool:  # type: ignore[override]
        return self.task != "extraction" and not self.rules  # a default only: a canned reply

    def answer(self, item: Mapping[str, Any]) -> Answer:
        text = self.text(item)
        if self.task == "extraction":  # each field: the first group of its first match (or the match)
            return Answer({f: field_value(p, text) for f, p in self.fields.items()})
        for pattern, label in self.rules:
            if pattern.search(text):
                return Answer(label)
        if self.default is None:
            raise MalformedOutput("no rule matched and the rule has no `default:`")
        return Answer(self.default)

    def describe(self) -> str:
        if self.task == "extraction":
            return f"{self.name}: one regular expression for each of {len(self.fields)} field(s)"
        return f"{self.name}: {len(self.rules)} rule(s), else {self.default!r}"


class RecordedModel(ItemModel):
    """Today's process: its recorded output on each eval item."""

    kind = "recorded"

    def __init__(self, spec: ItemCandidate, inputs: list[str], task: str, column: str, separator: str = "|") -> None:
        super().__init__(spec, inputs, task)
        self.column = column
        self.separator = separator
        self.inputs = [*inputs, column]

    def answer(self, item: Mapping[str, Any]) -> Answer:
        value = item.get(self.column)
        if value is None or (isinstance(value, float) and np.isnan(value)):
            raise MalformedOutput(f"no recorded output in column {self.column!r}")
        if self.task == "retrieval":
            return Answer([p.strip() for p in str(value).split(self.separator) if p.strip()])
        if self.task == "extraction":
            return Answer(str(value))  # JSON text, parsed and checked like any answer
        return Answer(str(value))

    def describe(self) -> str:
        return f"{self.name}: today's recorded outputs ({self.column})"


def _estimator(spec: ItemCandidate) -> Any:
    module, _, cls = spec.estimator.rpartition(".")
    try:
        return getattr(importlib.import_module(module), cls)(**spec.params)
    except (ImportError, AttributeError, TypeError) as exc:
        raise ConfigError(f"cannot build estimator {spec.estimator} with {spec.params}: {exc}",
                          where=f"pilot.yaml: eval_set candidate '{spec.name}'",
                          hint="name a scikit-learn compatible class by import path, with its parameters") from exc


def _proba(estimator: Any, x: Any) -> tuple[str, dict[str, float] | None]:
    if hasattr(estimator, "predict_proba"):
        p = estimator.predict_proba(x)[0]
        classes = [str(c) for c in estimator.classes_]
        best = int(np.argmax(p))
        return classes[best], {c: float(v) for c, v in zip(classes, p, strict=True)}
    return str(estimator.predict(x)[0]), None


def _need_train(model: ItemModel, data: ItemData) -> pd.DataFrame:
    if data.train is None or data.train.empty:
        raise ConfigError(f"candidate '{model.name}' ({model.spec.kind}) learns from training items, but the eval "
                          "set declares none", where="pilot.yaml: eval_set.train",
                          hint="add `train: SOURCE` (a source with the same input and expected columns)")
    return data.train


class SklearnTextModel(ItemModel):
    """TF-IDF (``vectorizer:`` its parameters) + an estimator, trained on the training items."""

    kind = "sklearn"

    def fit(self, data: ItemData) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import make_pipeline

        if self.task != "text-classification":
            raise ConfigError(f"candidate '{self.name}': `kind: sklearn` classifies text; it does not fit a {self.task} pilot",
                              where="pilot.yaml: eval_set.candidates",
                              hint="retrieval: bm25 or embeddings; extraction: rule (fields:) or callable")
        train = _need_train(self, data)
        t0 = time.perf_counter()
        params = dict(self.spec.vectorizer)
        if isinstance(params.get("ngram_range"), list):  # YAML has no tuples
            params["ngram_range"] = tuple(params["ngram_range"])
        try:
            vectorizer = TfidfVectorizer(**params)
            vectorizer.set_params()  # unknown names fail here, values when fitted
        except TypeError as exc:
            raise ConfigError(f"candidate '{self.name}': bad `vectorizer:` parameters: {exc}",
                              where="pilot.yaml: eval_set.candidates",
                              hint="use TfidfVectorizer's parameter names (e.g. ngram_range: [1, 2], min_df: 2)") from exc
        self.pipeline = make_pipeline(vectorizer, _estimator(self.spec))
        self.pipeline.fit(join_text(train, self.inputs), train[data.spec.expected].astype(str).tolist())
        self.fit_seconds = time.perf_counter() - t0

    def answer(self, item: Mapping[str, Any]) -> Answer:
        label, probs = _proba(self.pipeline, [self.text(item)])
        return Answer(label, probs)

    def describe(self) -> str:
        return f"{self.name}: TF-IDF + {self.spec.estimator.rsplit('.', 1)[-1]}"


class EmbeddingModel(ItemModel):
    """wordllama sentence embeddings + an estimator (classification), or nearest corpus
    documents by cosine similarity (retrieval)."""

    kind = "embeddings"

    def fit(self, data: ItemData) -> None:
        from .embeddings import embed

        if self.task == "extraction":
            raise ConfigError(f"candidate '{self.name}': `kind: embeddings` cannot extract fields",
                              where="pilot.yaml: eval_set.candidates", hint="extraction: rule (fields:) or callable")
        t0 = time.perf_counter()
        if self.task == "retrieval":
            corpus = data.corpus if data.corpus is not None else pd.DataFrame({"id": [], "text": []})
            self.doc_ids = corpus["id"].astype(str).tolist()
            self.doc_vectors = embed(corpus["text"].tolist())
        else:
            train = _need_train(self, data)
            self.estimator = _estimator(self.spec)
            self.estimator.fit(embed(join_text(train, self.inputs)), train[data.spec.expected].astype(str).tolist())
        self.fit_seconds = time.perf_counter() - t0

    def answer(self, item: Mapping[str, Any]) -> Answer:
        from .embeddings import embed

        vector = embed([self.text(item)])
        if self.task == "retrieval":
            sims = self.doc_vectors @ vector[0]
            top = np.argsort(-sims, kind="stable")[: self.k]
            return Answer([self.doc_ids[i] for i in top])
        label, probs = _proba(self.estimator, vector)
        return Answer(label, probs)

    def describe(self) -> str:
        what = "cosine nearest documents" if self.task == "retrieval" else self.spec.estimator.rsplit(".", 1)[-1]
        return f"{self.name}: wordllama embeddings + {what}"


class Bm25Model(ItemModel):
    """BM25 over the corpus (retrieval)."""

    kind = "bm25"

    def fit(self, data: ItemData) -> None:
        from .bm25 import Bm25Index

        if self.task != "retrieval" or data.corpus is None:
            raise ConfigError(f"candidate '{self.name}': `kind: bm25` ranks corpus documents (retrieval only)",
                              where="pilot.yaml: eval_set.candidates", hint="use it in a retrieval pilot")
        t0 = time.perf_counter()
        self.doc_ids = data.corpus["id"].astype(str).tolist()
        self.index = Bm25Index(data.corpus["text"].tolist())
        self.fit_seconds = time.perf_counter() - t0

    def answer(self, item: Mapping[str, Any]) -> Answer:
        return Answer([self.doc_ids[i] for i in self.index.search(self.text(item), self.k)])

    def describe(self) -> str:
        return f"{self.name}: BM25 (bm25s, stemmed)"


class CallableModel(ItemModel):
    """The user's own ``module:function`` from the pilot's folder, called with the item's
    input columns (a dict). It returns a label (a list of ids for retrieval, an object of
    fields or its JSON text for extraction, an answer's text or ``{"answer": ..., "sources":
    [passage ids]}`` for answer pilots), or a dict ``{"label": ..., "probabilities": {...}}``
    / ``{"ids": [...]}``. If the module defines
    ``fit(train_frame)``, it is called once with the training items first."""

    kind = "callable"

    def __init__(self, spec: ItemCandidate, inputs: list[str], task: str, root: Path) -> None:
        super().__init__(spec, inputs, task)
        self.root = str(root)
        self.module_name, _, self.function_name = str(spec.function).partition(":")
        self._function: Any = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_function"] = None  # imported again where the model is loaded
        return state

    def _module(self) -> Any:
        if self.root not in sys.path:
            sys.path.insert(0, self.root)
        try:
            return importlib.import_module(self.module_name)
        except Exception as exc:  # noqa: BLE001 - the user's module: any import error is theirs
            raise ConfigError(f"cannot import {self.module_name!r} for candidate '{self.name}': "
                              f"{type(exc).__name__}: {exc}", where=f"{self.root}/{self.module_name}.py",
                              hint="put the module in the pilot's folder (beside pilot.yaml) and fix the error") from exc

    def fit(self, data: ItemData) -> None:
        module = self._module()
        function = getattr(module, self.function_name, None)
        if not callable(function):
            raise ConfigError(f"{self.module_name} has no function {self.function_name!r}",
                              where=f"{self.root}/{self.module_name}.py",
                              hint=f"define `def {self.function_name}(item): ...` there")
        self._function = function
        if hasattr(module, "fit") and data.train is not None:
            t0 = time.perf_counter()
            module.fit(data.train.copy())
            self.fit_seconds = time.perf_counter() - t0

    def answer(self, item: Mapping[str, Any]) -> Answer:
        if self._function is None:
            self._function = getattr(self._module(), self.function_name)
        out = self._function({c: item.get(c) for c in self.inputs})
        if self.task in ("extraction", "answer"):
            return Answer(out)  # the object of fields (or its JSON text); an answer's text, or {answer, sources}
        if isinstance(out, Mapping):
            if "ids" in out:
                return Answer(out["ids"])
            if "label" not in out:
                raise MalformedOutput(f"the answer {str(out)[:80]} has neither `label` nor `ids`")
            return Answer(out["label"], out.get("probabilities"))
        return Answer(out)

    def describe(self) -> str:
        return f"{self.name}: {self.module_name}:{self.function_name}"


def build_item_model(spec: ItemCandidate, data: ItemData, task: str, *, root: Path | str = ".") -> ItemModel:
    """The model a charter entry names (not yet fitted)."""
    inputs = list(data.spec.inputs)
    if spec.kind == "rule":
        model: ItemModel = RuleModel(spec, inputs, task)
    elif spec.kind == "recorded":
        if data.spec.recorded is None:
            raise ConfigError(f"'{spec.name}' is `kind: recorded` but the eval set records no outputs",
                              where="pilot.yaml: eval_set.recorded", hint="add `recorded: {column: COLUMN}`")
        model = RecordedModel(spec, inputs, task, data.spec.recorded.column, data.spec.separator)
    elif spec.kind == "sklearn":
        model = SklearnTextModel(spec, inputs, task)
    elif spec.kind == "embeddings" and spec.base_url is not None:
        from .llm_embeddings import EndpointEmbeddingModel

        model = EndpointEmbeddingModel(spec, inputs, task, Path(root))
    elif spec.kind == "embeddings":
        model = EmbeddingModel(spec, inputs, task)
    elif spec.kind == "bm25":
        model = Bm25Model(spec, inputs, task)
    elif spec.kind == "llm" and task == "answer":
        from .rag import AnswerLlmModel

        model = AnswerLlmModel(spec, inputs, task, Path(root))
    elif spec.kind == "llm":
        from .llm import LlmModel

        model = LlmModel(spec, inputs, task, Path(root))
    else:
        model = CallableModel(spec, inputs, task, Path(root))
    model.k = max(data.spec.k)
    return model


def fit_item_model(spec: ItemCandidate, data: ItemData, task: str, *, root: Path | str = ".") -> ItemModel:
    model = build_item_model(spec, data, task, root=root)
    model.fit(data)
    return model
