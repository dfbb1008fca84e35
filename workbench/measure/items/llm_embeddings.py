"""Embeddings from an OpenAI-compatible ``/v1/embeddings`` endpoint, as a candidate.

``kind: embeddings`` with ``base_url`` and ``model`` asks an endpoint (a vendor's, or one
hosted in-house) for the vectors instead of the shipped wordllama model; the rest is the
``embeddings`` kind's: nearest corpus documents by cosine similarity (retrieval), or an
estimator trained on the training items' vectors (classification).

Everything sent goes the way of :mod:`.llm`: personal data withheld first (unless
``allow_personal_data: true``) — from the training items and corpus documents too, since
they are sent as well —, the key read from ``api_key_env`` at call time and never shown,
retries with backoff counted, every vector cached beside the pilot (``.llm-cache/``, keyed on
the endpoint, the model and the redacted text: a rerun makes no call), tokens from the
endpoint's ``usage`` or counted offline (:mod:`.tokens`). Training items and corpus
documents are sent in batches (a one-off cost, logged as ``llm.fit_tokens_in``); each eval
item is asked on its own, as a query would be, so its latency and tokens are its own.

llama.cpp's server answers one vector per token for a model without a pooling layer; those
are averaged (mean pooling) before the vector is normalised.
"""

from __future__ import annotations

import base64
import os
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...charter.items import ItemCandidate
from ...errors import ConfigError
from .candidates import Answer, ItemModel, _estimator, _need_train, _proba
from .data import ItemData, join_text
from .llm import CACHE_DIR, LlmError, Redactor, ResponseCache, _RateLimit, post_with_retries, scrub

__all__ = ["EndpointEmbeddingModel", "EmbeddingsResult", "embeddings"]

BATCH = 32  # texts per request for the training items and the corpus


@dataclass(frozen=True)
class EmbeddingsResult:
    """One ``/embeddings`` answer: one L2-normalised row per text, and what it took."""

    vectors: np.ndarray
    model: str | None
    tokens: int | None  # usage.prompt_tokens (None: not reported)
    latency_ms: float
    retries: int = 0


def _vector(raw: Any) -> np.ndarray:
    v = np.asarray(raw, dtype=np.float32)
    if v.ndim == 2:  # one vector per token (llama.cpp without pooling): their mean
        v = v.mean(axis=0)
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


def embeddings(base_url: str, model: str, texts: Sequence[str], *, key: str | None = None, timeout: float = 30.0,
               retries: int = 2) -> EmbeddingsResult:
    """POST ``/embeddings`` with ``texts``; retries and errors as :func:`.llm.chat`."""
    url = base_url.rstrip("/") + "/embeddings"
    t0 = time.perf_counter()
    answer, tried = post_with_retries(url, {"model": model, "input": list(texts)}, key=key, timeout=timeout,
                                      retries=retries, base_url=base_url)
    latency = (time.perf_counter() - t0) * 1000
    try:
        rows = sorted(answer["data"], key=lambda d: d.get("index", 0))
        vectors = np.vstack([_vector(d["embedding"]) for d in rows])
    except (KeyError, TypeError, ValueError):
        raise LlmError(f"{url} answered without data[].embedding: {scrub(str(answer)[:200], key)}",
                       where=f"candidate endpoint {base_url}",
                       hint="is it an OpenAI-compatible embeddings endpoint?") from None
    if len(vectors) != len(texts):
        raise LlmError(f"{url} answered {len(vectors)} vectors for {len(texts)} texts",
                       where=f"candidate endpoint {base_url}", hint="check the endpoint's batch limit")
    usage = answer.get("usage") or {}
    return EmbeddingsResult(vectors=vectors, model=answer.get("model"), tokens=usage.get("prompt_tokens"),
                            latency_ms=latency, retries=tried)


@dataclass
class _Asked:
    """One eval item's query: its vector (or error), latency, tokens, whether it was cached."""

    vector: np.ndarray | None = None
    error: str | None = None
    latency_ms: float = 0.0
    tokens: int = 0
    cached: bool = False
    retries: int = 0
    model: str | None = None
    counter: str = "usage"


def _pack(v: np.ndarray) -> str:
    return base64.b64encode(np.asarray(v, dtype=np.float32).tobytes()).decode("ascii")


def _unpack(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=np.float32)


class EndpointEmbeddingModel(ItemModel):
    """An embeddings endpoint as a candidate (see the module's docstring)."""

    kind = "embeddings"

    def __init__(self, spec: ItemCandidate, inputs: list[str], task: str, root: Path) -> None:
        super().__init__(spec, inputs, task)
        self.root = Path(root)
        self.redactor = Redactor([], [])
        self.redactions: Counter = Counter()
        self.asked: dict[str, _Asked] = {}
        self.id_column = "id"
        self.fit_tokens = 0
        self.fit_calls = 0
        self.fit_hits = 0
        self.tokens: Any = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["asked"] = {}  # the logged model keeps the endpoint and the fitted parts, not a run's answers
        return state

    @property
    def cache_path(self) -> Path:
        return self.root / CACHE_DIR / "responses.sqlite"

    def _key(self) -> str | None:
        env = self.spec.api_key_env
        value = os.environ.get(env) if env else None
        if env and not value:
            raise ConfigError(f"candidate '{self.name}': the environment variable {env} is not set",
                              where=f"pilot.yaml: eval_set candidate '{self.name}' (api_key_env)",
                              hint=f"export {env}=... in the shell that runs the pilot (never in the charter)")
        return value

    def _counter(self) -> Any:
        if self.tokens is None:
            from .tokens import token_counter

            self.tokens = token_counter(self.spec.tokenizer, self.root,
                                        where=f"pilot.yaml: eval_set candidate '{self.name}' (tokenizer)")
        return self.tokens

    def _redact(self, text: str) -> str:
        return text if self.spec.allow_personal_data else self.redactor.text(text, self.redactions)

    def _cache_key(self, text: str) -> str:
        return ResponseCache.key(endpoint=self.spec.base_url, model=self.spec.model, kind="embeddings", text=text)

    def _embed_many(self, texts: list[str]) -> np.ndarray:
        """Vectors for the training items or the corpus: the cache first, the rest in batches."""
        spec, key = self.spec, self._key()
        sent = [self._redact(t) for t in texts]
        out: list[np.ndarray | None] = [None] * len(sent)
        cache = ResponseCache(self.cache_path)
        try:
            todo = []
            for i, text in enumerate(sent):
                hit = cache.get(self._cache_key(text))
                if hit is not None:
                    out[i] = _unpack(hit["vector"])
                    self.fit_hits += 1
                else:
                    todo.append(i)
            batches = [todo[j:j + BATCH] for j in range(0, len(todo), BATCH)]
            limit = _RateLimit(spec.rate_limit_per_minute)

            def ask(batch: list[int]) -> EmbeddingsResult:
                limit.wait()
                return embeddings(str(spec.base_url), str(spec.model), [sent[i] for i in batch], key=key,
                                  timeout=spec.timeout_seconds, retries=spec.retries)

            with ThreadPoolExecutor(max_workers=spec.concurrency) as pool:
                answers = list(pool.map(ask, batches))
            rows = []
            for batch, got in zip(batches, answers, strict=True):
                self.fit_calls += 1
                self.fit_tokens += got.tokens if got.tokens is not None else sum(
                    self._counter().count(sent[i]) for i in batch)
                for i, v in zip(batch, got.vectors, strict=True):
                    out[i] = v
                    rows.append((self._cache_key(sent[i]), {"vector": _pack(v), "model": got.model}))
            cache.put_many(rows)
        except LlmError as exc:
            raise LlmError(f"candidate '{self.name}' could not embed its training items or corpus: "
                           f"{scrub(exc.what, key)}", where=f"candidate endpoint {spec.base_url}",
                           hint="check the endpoint, the model name and the key variable") from None
        finally:
            cache.close()
        return np.vstack(out) if out else np.zeros((0, 1), dtype=np.float32)

    def fit(self, data: ItemData) -> None:
        if self.task == "extraction":
            raise ConfigError(f"candidate '{self.name}': `kind: embeddings` cannot extract fields",
                              where="pilot.yaml: eval_set.candidates", hint="extraction: rule (fields:) or callable")
        self.id_column = data.spec.id
        if not self.spec.allow_personal_data:
            self.redactor = Redactor.of(data)
        self.redactions, self.fit_tokens, self.fit_calls, self.fit_hits = Counter(), 0, 0, 0
        t0 = time.perf_counter()
        if self.task == "retrieval":
            corpus = data.corpus if data.corpus is not None else pd.DataFrame({"id": [], "text": []})
            self.doc_ids = corpus["id"].astype(str).tolist()
            self.doc_vectors = self._embed_many(corpus["text"].astype(str).tolist())
        else:
            train = _need_train(self, data)
            self.estimator = _estimator(self.spec)
            self.estimator.fit(self._embed_many(join_text(train, self.inputs)),
                               train[data.spec.expected].astype(str).tolist())
        self.fit_seconds = time.perf_counter() - t0

    def _text(self, item: Mapping[str, Any]) -> str:
        if self.spec.allow_personal_data:
            return self.text(item)
        values = self.redactor.inputs(item, self.inputs, self.redactions)
        return "\n".join(values[c] for c in self.inputs)

    def prepare(self, records: Sequence[Mapping[str, Any]], *, reset: bool = True) -> None:
        """Every eval item's vector: the cache first, then one request per item, concurrently."""
        spec, key = self.spec, self._key()
        if reset:
            self.asked = {}
        cache = ResponseCache(self.cache_path)
        todo: list[tuple[str, str, _Asked]] = []
        try:
            for item in records:
                text = self._text(item)
                asked = _Asked()
                self.asked[str(item.get(self.id_column))] = asked
                hit = cache.get(self._cache_key(text) + ":query")
                if hit is not None:
                    asked.vector, asked.latency_ms, asked.tokens = _unpack(hit["vector"]), hit["latency_ms"], hit["tokens"]
                    asked.model, asked.counter, asked.cached = hit.get("model"), hit.get("token_counter", "usage"), True
                else:
                    todo.append((self._cache_key(text) + ":query", text, asked))
            limit = _RateLimit(spec.rate_limit_per_minute)

            def ask(job: tuple[str, str, _Asked]) -> None:
                _, text, asked = job
                limit.wait()
                t0 = time.perf_counter()
                try:
                    got = embeddings(str(spec.base_url), str(spec.model), [text], key=key,
                                     timeout=spec.timeout_seconds, retries=spec.retries)
                except LlmError as exc:
                    asked.error, asked.retries = scrub(exc.what, key), exc.retries
                    asked.latency_ms = (time.perf_counter() - t0) * 1000
                    return
                asked.vector, asked.latency_ms, asked.retries, asked.model = (
                    got.vectors[0], got.latency_ms, got.retries, got.model)
                if got.tokens is None:
                    asked.counter = self._counter().name
                asked.tokens = got.tokens if got.tokens is not None else self._counter().count(text)

            with ThreadPoolExecutor(max_workers=spec.concurrency) as pool:
                list(pool.map(ask, todo))
            cache.put_many([(k, {"vector": _pack(a.vector), "latency_ms": a.latency_ms, "tokens": a.tokens,
                                 "model": a.model, "token_counter": a.counter})
                            for k, _, a in todo if a.error is None and a.vector is not None])
        finally:
            cache.close()

    def _asked(self, item: Mapping[str, Any]) -> _Asked:
        item_id = item.get(self.id_column)
        if item_id is not None and str(item_id) in self.asked:
            return self.asked[str(item_id)]
        adhoc = f"_adhoc_{len(self.asked)}"  # asked outside a run (predict on a frame): through the cache
        self.prepare([{**item, self.id_column: adhoc}], reset=False)
        return self.asked.pop(adhoc)

    def answer(self, item: Mapping[str, Any]) -> Answer:
        asked = self._asked(item)
        if asked.error is not None or asked.vector is None:
            raise LlmError(asked.error or "no vector", where=f"candidate endpoint {self.spec.base_url}")
        if self.task == "retrieval":
            sims = self.doc_vectors @ asked.vector
            top = np.argsort(-sims, kind="stable")[: self.k]
            return Answer([self.doc_ids[i] for i in top])
        label, probs = _proba(self.estimator, asked.vector.reshape(1, -1))
        return Answer(label, probs)

    def measured_latency_ms(self, item: Mapping[str, Any]) -> float | None:
        asked = self.asked.get(str(item.get(self.id_column)))
        return None if asked is None else asked.latency_ms

    def run_metrics(self, n_items: int, *, items_per_month: int | None = None) -> dict[str, float]:
        asked = list(self.asked.values())
        answered = [a for a in asked if a.error is None]
        tokens = sum(a.tokens for a in answered)
        prices = self.spec.prices
        per_1k = (tokens / 1000 * prices.input_per_1k_usd / n_items * 1000) if prices and n_items else 0.0
        made, hits = sum(1 for a in asked if not a.cached), sum(1 for a in asked if a.cached)
        out = {
            "llm.calls": float(made + self.fit_calls), "llm.cache_hits": float(hits + self.fit_hits),
            "llm.cache_hit_rate": (hits + self.fit_hits) / (hits + made + self.fit_hits + self.fit_calls)
            if hits + made + self.fit_hits + self.fit_calls else 0.0,
            "llm.retries": float(sum(a.retries for a in asked)),
            "llm.tokens_in": float(tokens), "llm.tokens_out": 0.0,
            "llm.tokens_in_per_item": tokens / len(answered) if answered else 0.0,
            "llm.fit_tokens_in": float(self.fit_tokens),
            "llm.redactions": float(sum(self.redactions.values())),
            "llm.failed_calls": float(sum(1 for a in asked if a.error is not None)),
            "cost.tokens_per_1k_usd": per_1k,
        }
        if items_per_month is not None:
            out["cost.per_month_usd"] = per_1k * items_per_month / 1000
        return out

    def run_params(self) -> dict[str, Any]:
        reported = Counter(a.model for a in self.asked.values() if a.model)
        counters = sorted({a.counter for a in self.asked.values() if a.error is None})
        out: dict[str, Any] = {
            "llm.endpoint": self.spec.base_url, "llm.model": self.spec.model, "llm.api": "embeddings",
            "llm.reported_model": reported.most_common(1)[0][0] if reported else None,
            "llm.system_fingerprint": None,
            "llm.allow_personal_data": self.spec.allow_personal_data,
            "llm.token_counter": ", ".join(counters) or None,
            "llm.api_key_env": self.spec.api_key_env or "none",
        }
        out = {k: "not reported" if v is None else v for k, v in out.items()}
        out.update({f"llm.redacted.{k}": v for k, v in sorted(self.redactions.items()) if v})
        return out

    def describe(self) -> str:
        what = "cosine nearest documents" if self.task == "retrieval" else self.spec.estimator.rsplit(".", 1)[-1]
        return f"{self.name}: {self.spec.model} embeddings at {self.spec.base_url} + {what}"
