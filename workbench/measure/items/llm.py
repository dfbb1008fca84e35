"""LLM candidates: any OpenAI-compatible chat endpoint, asked every eval item.

A candidate ``kind: llm`` names the endpoint (``base_url``, ``model``, ``params``: temperature,
max_tokens, seed), a prompt template file in the pilot's folder (``{column}`` placeholders
filled from the item's input columns, ``{labels}`` the classes), and the *name* of the
environment variable holding the key: the key is read when a call is made and never logged,
stored or shown in an error (:func:`scrub`).

What a call costs and how long it took is measured, not estimated: tokens in and out from the
endpoint's ``usage``, the charter's prices per 1,000 tokens, latency per call under the
charter's bounded concurrency and rate limit; retries (429, 5xx, timeouts) back off and are
counted. The reported model id and ``system_fingerprint`` are kept per run (a vendor changing
the model under a pilot shows there, and ``workbench monitor`` breaches on it).

Every answer is cached beside the pilot's store (``<pilot>/.llm-cache/responses.sqlite``),
keyed on the endpoint, the model, the prompt template's hash, the parameters and the rendered
(redacted) prompt: a rerun of an unchanged pilot makes no call, a changed prompt or parameter
misses.

Before any call, personal data is withheld unless the candidate says ``allow_personal_data:
true`` (an endpoint hosted in-house): the values of input columns the contract marks ``pii``
become ``[personal data]``; e-mail addresses, phone numbers, IBANs and card numbers in the text,
and the values of the eval set's personal columns (names), become placeholders. Only the
redacted prompt is sent, cached or logged.

Degraded mode: ``faults:`` fails a share of calls on purpose (an HTTP 500, a timeout); the
candidate's ``fallback`` serves those items (``baseline``: today's rule answers; ``unknown``:
"I don't know", scored wrong; ``person``: routed to a person, at the charter's human cost).
Without a fallback they are errors, scored wrong.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from ...charter.items import ItemCandidate
from ...data.redaction import PATTERNS
from ...errors import ConfigError, WorkbenchError
from .candidates import Answer, ItemModel, MalformedOutput
from .data import ItemData
from .progress import Progress

__all__ = ["LlmModel", "LlmError", "ChatResult", "chat", "ResponseCache", "Redactor", "scrub", "template_hash",
           "CACHE_DIR", "UNKNOWN", "parse_label", "parse_json_object", "personal_mask", "safe_example"]

CACHE_DIR = ".llm-cache"
UNKNOWN = "I don't know"
_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class LlmError(WorkbenchError):
    """A call to an endpoint that failed for good (after ``retries`` retries)."""

    retries = 0


def scrub(text: str, secret: str | None) -> str:
    """``text`` without the key (an endpoint may echo a request back in its error)."""
    return text.replace(secret, "[key]") if secret else text


def template_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- the protocol ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChatResult:
    """One chat completion: its text, what the endpoint reported, and what it took."""

    text: str
    model: str | None
    system_fingerprint: str | None
    tokens_in: int | None
    tokens_out: int | None
    latency_ms: float
    retries: int = 0
    usage_reported: bool = True


def _post(url: str, body: dict, key: str | None, timeout: float) -> tuple[dict, Mapping[str, str]]:
    data = json.dumps(body).encode("utf-8")
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the charter's endpoint
        return json.loads(response.read().decode("utf-8")), dict(response.headers)


def chat(base_url: str, model: str, messages: list[dict], *, params: Mapping[str, Any] | None = None,
         key: str | None = None, timeout: float = 30.0, retries: int = 2, backoff_seconds: float = 0.5,
         max_backoff_seconds: float = 8.0) -> ChatResult:
    """POST ``/chat/completions``; retry rate limits, server errors and timeouts with exponential
    backoff (an answer's ``Retry-After`` honoured up to ``max_backoff_seconds``). Raises
    :class:`LlmError` (its message never holds the key); ``timeout:`` in the message for timeouts."""
    url = base_url.rstrip("/") + "/chat/completions"
    body = {"model": model, "messages": messages, **dict(params or {})}
    t0 = time.perf_counter()
    answer, tried = post_with_retries(url, body, key=key, timeout=timeout, retries=retries, base_url=base_url,
                                      backoff_seconds=backoff_seconds, max_backoff_seconds=max_backoff_seconds)
    latency = (time.perf_counter() - t0) * 1000
    try:
        text = answer["choices"][0]["message"]["content"] or ""
    except (KeyError, IndexError, TypeError):
        raise LlmError(f"{url} answered without choices[0].message.content: {scrub(str(answer)[:200], key)}",
                       where=f"candidate endpoint {base_url}", hint="is it an OpenAI-compatible chat endpoint?") from None
    usage = answer.get("usage") or {}
    return ChatResult(text=text, model=answer.get("model"), system_fingerprint=answer.get("system_fingerprint"),
                      tokens_in=usage.get("prompt_tokens"), tokens_out=usage.get("completion_tokens"),
                      latency_ms=latency, retries=tried, usage_reported=bool(usage))


def post_with_retries(url: str, body: dict, *, key: str | None, timeout: float, retries: int, base_url: str,
                      backoff_seconds: float = 0.5, max_backoff_seconds: float = 8.0) -> tuple[dict, int]:
    """POST ``body`` to ``url``: the answer and how many retries it took. Rate limits, server
    errors and timeouts are retried with exponential backoff (an answer's ``Retry-After``
    honoured up to ``max_backoff_seconds``); :class:`LlmError` when they run out (never
    holding the key; ``timeout:`` in the message for timeouts)."""
    tried = 0
    while True:
        try:
            answer, _ = _post(url, body, key, timeout)
            return answer, tried
        except urllib.error.HTTPError as exc:
            detail = scrub(exc.read().decode("utf-8", "replace")[:200], key) if exc.fp else ""
            if exc.code in _RETRY_STATUS and tried < retries:
                wait = backoff_seconds * 2 ** tried
                after = exc.headers.get("Retry-After") if exc.headers else None
                if after and after.replace(".", "", 1).isdigit():
                    wait = float(after)
                time.sleep(min(wait, max_backoff_seconds))
                tried += 1
                continue
            error = LlmError(f"{url} answered HTTP {exc.code} after {tried} retr{'y' if tried == 1 else 'ies'}: "
                             f"{detail}", where=f"candidate endpoint {base_url}",
                             hint="check the endpoint, the model name and the key variable")
            error.retries = tried
            raise error from None
        except (TimeoutError, urllib.error.URLError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            timed_out = isinstance(reason, TimeoutError) or "timed out" in str(reason)
            if tried < retries:
                time.sleep(min(backoff_seconds * 2 ** tried, max_backoff_seconds))
                tried += 1
                continue
            what = f"timeout: no answer within {timeout:g}s" if timed_out else f"cannot reach {url}: {reason}"
            error = LlmError(scrub(f"{what} (after {tried} retries)", key), where=f"candidate endpoint {base_url}",
                             hint="check the endpoint is up and the timeout_seconds fits it")
            error.retries = tried
            raise error from None


def approx_tokens(text: str) -> int:
    """Tokens of ``text`` when the endpoint reports no usage: ~4 characters a token (the usual
    rule for English with BPE vocabularies); marked as estimated in the run's params."""
    return max(1, round(len(text) / 4))


# -- the cache -------------------------------------------------------------------------------


class ResponseCache:
    """Answers by key in a SQLite file (one writer at a time: the run's own thread)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._con = sqlite3.connect(str(path), check_same_thread=False)
        self._con.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
                          "created REAL NOT NULL)")
        self._con.commit()

    @staticmethod
    def key(**parts: Any) -> str:
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8")).hexdigest()

    def get(self, key: str) -> dict | None:
        row = self._con.execute("SELECT value FROM responses WHERE key = ?", [key]).fetchone()
        return json.loads(row[0]) if row else None

    def put_many(self, rows: Sequence[tuple[str, dict]]) -> None:
        now = time.time()
        self._con.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?, ?)",
                              [(k, json.dumps(v), now) for k, v in rows])
        self._con.commit()

    def close(self) -> None:
        self._con.close()


# -- redaction -------------------------------------------------------------------------------

PERSONAL = "[personal data]"
class Redactor:
    """Withholds personal data from a prompt's inputs (see the module's docstring)."""

    @classmethod
    def of(cls, data: ItemData) -> Redactor:
        """The redactor of ``data``'s personal columns (an input withheld whole) and their values
        (names found in free text)."""
        personal = data.personal
        if personal is None or personal.empty:
            return cls([], [])
        return cls(list(personal.columns),
                   [str(v) for col in personal.columns for v in personal[col].dropna().unique()])

    def __init__(self, personal_columns: Sequence[str], personal_values: Sequence[str]) -> None:
        self.columns = frozenset(personal_columns)
        # names kept as salted hashes only: a pickled candidate (the logged model) redacts the
        # same way without holding the eval set's names
        self._salt = os.urandom(8).hex()
        values = {" ".join(v.lower().split()) for v in personal_values if v and len(v.strip()) >= 3}
        self._hashes = frozenset(self._hash(v) for v in values)
        self._max_words = max((len(v.split()) for v in values), default=0)

    def _hash(self, text: str) -> str:
        return hashlib.sha256((self._salt + text).encode("utf-8")).hexdigest()

    def _names(self, text: str, counts: Counter) -> str:
        if not self._hashes:
            return text
        words = list(re.finditer(r"[^\s,;:!?()\[\]\"]+", text))
        out, pos, i = [], 0, 0
        while i < len(words):
            for n in range(min(self._max_words, len(words) - i), 0, -1):
                start, end = words[i].start(), words[i + n - 1].end()
                phrase = " ".join(w.group(0).rstrip(".'").lower() for w in words[i:i + n])
                if self._hash(phrase) in self._hashes:
                    out.append(text[pos:start] + "[name]")
                    pos = words[i + n - 1].start() + len(words[i + n - 1].group(0).rstrip(".'"))
                    counts["name"] += 1
                    i += n
                    break
            else:
                i += 1
        return "".join(out) + text[pos:]

    def inputs(self, item: Mapping[str, Any], columns: Sequence[str], counts: Counter) -> dict[str, str]:
        out = {}
        for col in columns:
            value = "" if item.get(col) is None else str(item.get(col))
            if col in self.columns and value:
                counts["withheld_value"] += 1
                out[col] = PERSONAL
            else:
                out[col] = self.text(value, counts)
        return out

    def text(self, text: str, counts: Counter) -> str:
        text = self._names(text, counts)
        for kind, pattern, accept in PATTERNS:
            if accept is None:
                text, n = pattern.subn(f"[{kind}]", text)
            else:  # only the matches that pass (a phone number, not a date or an address)
                kept = [m for m in pattern.finditer(text) if accept(m.group(0))]
                for m in reversed(kept):
                    text = text[:m.start()] + f"[{kind}]" + text[m.end():]
                n = len(kept)
            counts[kind] += n
        return text


# -- parsing ---------------------------------------------------------------------------------


def parse_label(text: str, labels: Sequence[str]) -> str:
    """The one class ``text`` names: the whole answer, else its first line, else the only
    class named as a word in it. Anything else is :class:`MalformedOutput` (kept for review)."""
    clean = text.strip().strip("\"'`.*: ").strip()
    by_lower = {lab.lower(): lab for lab in labels}
    for candidate in (clean, clean.splitlines()[0].strip().strip("\"'`.*: ") if clean else ""):
        if candidate.lower() in by_lower:
            return by_lower[candidate.lower()]
    named = {lab for lab in labels if re.search(rf"(?<!\w){re.escape(lab)}(?!\w)", clean, re.IGNORECASE)}
    if len(named) == 1:
        return named.pop()
    raise MalformedOutput(f"the answer {text.strip()[:80]!r} names {'no' if not named else 'more than one'} class")


def parse_json_object(text: str) -> dict:
    """The first JSON object in ``text`` (a model may wrap it in prose or a code fence)."""
    start = text.find("{")
    while start != -1:
        try:
            value, _ = json.JSONDecoder().raw_decode(text[start:])
        except ValueError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    raise MalformedOutput(f"no JSON object in the answer {text.strip()[:80]!r}")


# -- the candidate ---------------------------------------------------------------------------


class _Fields(dict):
    """A prompt's fields; a placeholder that names no input column is the charter's error."""

    def __init__(self, values: dict[str, str], model: ItemModel) -> None:
        super().__init__(values)
        self.model = model

    def __missing__(self, key: str) -> str:
        m = self.model
        raise ConfigError(f"the prompt template of candidate '{m.name}' names {{{key}}}, which is not an input column",
                          where=str(m.spec.prompt), hint=f"use {{input}}, {{labels}} or one of {m.inputs}")


@dataclass
class _Call:
    """One item's call: what was sent (redacted), what came back, and what it cost."""

    prompt: str
    key: str
    text: str | None = None
    error: str | None = None
    hint: str | None = None  # what to do about the error (LlmError.hint): shown with it on the item's row
    latency_ms: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    usage_reported: bool = True
    cached: bool = False
    retries: int = 0
    model: str | None = None
    fingerprint: str | None = None
    fault: str | None = None
    fallback: bool = False
    counter: str = "usage"  # what counted its tokens: usage | tokenizer:<file> | estimate (tokens.py)


@dataclass
class _RateLimit:
    per_minute: float | None
    _next: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self) -> None:
        if not self.per_minute:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + 60.0 / self.per_minute
        if start > now:
            time.sleep(start - now)


class LlmModel(ItemModel):
    """An OpenAI-compatible chat endpoint as a candidate (see the module's docstring).

    The run asks :meth:`prepare` for all items first (concurrent calls, the cache, redaction),
    then :meth:`answer` per item reads the prepared call; :meth:`measured_latency_ms` gives the
    call's own latency (the cached one on a cache hit), :meth:`run_metrics` and
    :meth:`run_params` what the run logs."""

    kind = "llm"

    def __init__(self, spec: ItemCandidate, inputs: list[str], task: str, root: Path) -> None:
        super().__init__(spec, inputs, task)
        self.root = Path(root)
        self.template = ""
        self.template_sha256 = ""
        self.labels: list[str] = []
        self.redactor = Redactor([], [])
        self.calls: dict[str, _Call] = {}
        self.fallback_model: ItemModel | None = None
        self.human_usd_per_item = 0.0
        self.id_column = "id"
        self.expected_column = "expected"
        self.redactions: Counter = Counter()
        self.use_cache = True  # False: every item is asked again (the monitor's canary)
        self.tokens: Any = None  # the offline token counter, loaded when an answer lacks usage

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["calls"] = {}  # the logged model keeps the endpoint and the template, not a run's answers
        return state

    @property
    def cache_path(self) -> Path:
        return self.root / CACHE_DIR / "responses.sqlite"

    def fit(self, data: ItemData) -> None:
        if self.task == "retrieval":
            raise ConfigError(f"candidate '{self.name}': `kind: llm` does not rank a corpus",
                              where="pilot.yaml: eval_set.candidates",
                              hint="llm candidates classify text or extract fields; use bm25 or embeddings for retrieval")
        path = self.root / str(self.spec.prompt)
        try:
            self.template = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read the prompt template of candidate '{self.name}': {exc}", where=str(path),
                              hint="write the template there ({column} placeholders for the inputs, {labels})") from exc
        self.template_sha256 = template_hash(self.template)
        self.labels = data.labels() if self.task == "text-classification" else []
        self.id_column = data.spec.id
        self.expected_column = data.spec.expected
        if not self.spec.allow_personal_data:
            self.redactor = Redactor.of(data)
        if self.spec.fallback == "baseline":
            from .candidates import fit_item_model

            self.fallback_model = fit_item_model(data.spec.baseline, data, self.task, root=self.root)

    def _token_counter(self) -> Any:
        if self.tokens is None:
            from .tokens import token_counter

            self.tokens = token_counter(self.spec.tokenizer, self.root,
                                        where=f"pilot.yaml: eval_set candidate '{self.name}' (tokenizer)")
        return self.tokens

    def render(self, item: Mapping[str, Any], counts: Counter) -> str:
        """The prompt for ``item``: the template with its (redacted) inputs filled in."""
        columns = [c for c in item if c != self.id_column]
        values = (self.redactor.inputs(item, columns, counts) if not self.spec.allow_personal_data
                  else {c: "" if item.get(c) is None else str(item.get(c)) for c in columns})
        values["labels"] = ", ".join(self.labels)
        values["input"] = "\n".join(values.get(c, "") for c in self.inputs)

        try:
            return self.template.format_map(_Fields(values, self))
        except (ValueError, IndexError) as exc:
            raise ConfigError(f"the prompt template of candidate '{self.name}' is not a format string: {exc}",
                              where=str(self.spec.prompt), hint="double literal braces: {{ and }}") from exc

    def _fault(self, item_id: str) -> str | None:
        f = self.spec.faults
        if not (f.failure_share or f.timeout_share):
            return None
        u = random.Random(f"{f.seed}:{item_id}").random()  # the same items fail on every run
        if u < f.failure_share:
            return "failure"
        if u < f.failure_share + f.timeout_share:
            return "timeout"
        return None

    def prepare(self, records: Sequence[Mapping[str, Any]], *, use_cache: bool | None = None, reset: bool = True) -> None:
        """Render, redact and call every item (the cache first; misses concurrently).
        ``use_cache=False``: every item is asked (the monitor's canary)."""
        spec = self.spec
        use_cache = self.use_cache if use_cache is None else use_cache
        if reset:
            self.redactions = Counter()
            self.calls = {}
        key_value = os.environ.get(spec.api_key_env) if spec.api_key_env else None
        if spec.api_key_env and not key_value:
            raise ConfigError(f"candidate '{self.name}': the environment variable {spec.api_key_env} is not set",
                              where=f"pilot.yaml: eval_set candidate '{self.name}' (api_key_env)",
                              hint=f"export {spec.api_key_env}=... in the shell that runs the pilot (never in the charter)")
        params = dict(spec.params)
        cache = ResponseCache(self.cache_path) if use_cache else None
        todo: list[tuple[str, _Call]] = []
        asked: dict[str, _Call] = {}  # the call asking each prompt in this run
        copies: dict[str, list[str]] = {}  # items whose prompt an earlier item asks: answered by its call
        for item in records:
            item_id = str(item.get(self.id_column))
            prompt = self.render({c: item.get(c) for c in [self.id_column, *self.inputs]}, self.redactions)
            key = ResponseCache.key(endpoint=spec.base_url, model=spec.model, template=self.template_sha256,
                                    params=params, prompt=prompt)
            call = _Call(prompt=prompt, key=key, fault=None if item_id.startswith("_adhoc_") else self._fault(item_id))
            self.calls[item_id] = call
            if call.fault:
                continue
            hit = cache.get(key) if cache is not None else None
            if hit is not None:
                call.text, call.latency_ms, call.model, call.fingerprint = (
                    hit["text"], hit["latency_ms"], hit.get("model"), hit.get("system_fingerprint"))
                call.tokens_in, call.tokens_out = hit["tokens_in"], hit["tokens_out"]
                call.usage_reported, call.cached = hit.get("usage_reported", True), True
                call.counter = hit.get("token_counter") or ("usage" if call.usage_reported else "estimate")
            elif cache is not None and key in asked:  # the same prompt again: one call, as a rerun's cache would
                copies.setdefault(key, []).append(item_id)
            else:
                asked[key] = call
                todo.append((item_id, call))
        limit = _RateLimit(spec.rate_limit_per_minute)

        def ask(call: _Call) -> None:
            limit.wait()
            t0 = time.perf_counter()
            try:
                got = chat(str(spec.base_url), str(spec.model), [{"role": "user", "content": call.prompt}],
                           params=params, key=key_value, timeout=spec.timeout_seconds, retries=spec.retries)
            except LlmError as exc:
                call.error, call.retries, call.hint = scrub(exc.what, key_value), exc.retries, exc.hint
                call.latency_ms = (time.perf_counter() - t0) * 1000
                return
            call.text, call.latency_ms, call.retries = got.text, got.latency_ms, got.retries
            call.model, call.fingerprint, call.usage_reported = got.model, got.system_fingerprint, got.usage_reported
            if got.tokens_in is None or got.tokens_out is None:  # a vendor without usage: count here
                counter = self._token_counter()
                call.counter = counter.name
            call.tokens_in = got.tokens_in if got.tokens_in is not None else counter.count(call.prompt)
            call.tokens_out = got.tokens_out if got.tokens_out is not None else counter.count(got.text)

        def keep(done: list[_Call]) -> None:
            if cache is not None:
                cache.put_many([(c.key, {"text": c.text, "latency_ms": c.latency_ms, "model": c.model,
                                         "system_fingerprint": c.fingerprint, "tokens_in": c.tokens_in,
                                         "tokens_out": c.tokens_out, "usage_reported": c.usage_reported,
                                         "token_counter": c.counter})
                                for c in done if c.error is None])

        def share(call: _Call) -> int:
            """Give the items repeating ``call``'s prompt its answer (served as from the cache: its
            retries were this call's)."""
            for twin in copies.get(call.key, ()):
                self.calls[twin] = replace(call, cached=True, retries=0)
            return 1 + len(copies.get(call.key, ()))

        try:
            # answers are cached as they come (every 25): a run stopped half-way keeps what it paid for
            progress = Progress(self.name, len(records))  # the cached answers count as answered
            waiting = len(todo) + sum(len(c) for c in copies.values())
            with ThreadPoolExecutor(max_workers=spec.concurrency) as pool:
                futures = {pool.submit(ask, c): c for _, c in todo}
                done: list[_Call] = []
                answered = 0
                for future in as_completed(futures):
                    future.result()
                    done.append(futures[future])
                    answered += share(futures[future])
                    progress.step(len(records) - waiting + answered)
                    if len(done) >= 25:
                        keep(done)
                        done = []
                keep(done)
        finally:
            if cache is not None:
                cache.close()
        for call in self.calls.values():
            if call.fault == "failure":
                call.error, call.latency_ms = "injected failure: HTTP 500 (degraded-mode test)", 0.0
            elif call.fault == "timeout":
                call.error = f"timeout: injected, no answer within {spec.timeout_seconds:g}s (degraded-mode test)"
                call.latency_ms = spec.timeout_seconds * 1000

    def _call(self, item: Mapping[str, Any]) -> _Call:
        item_id = item.get(self.id_column)
        if item_id is not None and str(item_id) in self.calls:
            return self.calls[str(item_id)]
        # asked outside a run (predict on a frame, without ids): one call, through the cache
        adhoc = f"_adhoc_{len(self.calls)}"
        self.prepare([{**item, self.id_column: adhoc}], reset=False)
        return self.calls.pop(adhoc)

    def answer(self, item: Mapping[str, Any]) -> Answer:
        call = self._call(item)
        if call.error is not None:
            fallback = self.spec.fallback
            if fallback is not None:
                call.fallback = True
                if fallback == "baseline" and self.fallback_model is not None:
                    return self.fallback_model.answer(item)
                if fallback == "unknown":
                    raise MalformedOutput(f"{UNKNOWN} (fallback after: {call.error[:120]})")
                # a person answers (right, at the charter's human cost: run_metrics)
                return Answer(item.get(self.expected_column))
            raise LlmError(call.error, where=f"candidate endpoint {self.spec.base_url}", hint=call.hint)
        text = call.text or ""
        if self.task == "extraction":
            return Answer(parse_json_object(text))
        return Answer(parse_label(text, self.labels))

    def measured_latency_ms(self, item: Mapping[str, Any]) -> float | None:
        call = self.calls.get(str(item.get(self.id_column)))
        return None if call is None else call.latency_ms

    def run_metrics(self, n_items: int, *, items_per_month: int | None = None) -> dict[str, float]:
        """Tokens, token cost, calls, cache hits, retries, redactions, fallbacks of the last run."""
        calls = list(self.calls.values())
        answered = [c for c in calls if c.error is None]
        t_in = sum(c.tokens_in for c in answered)
        t_out = sum(c.tokens_out for c in answered)
        prices = self.spec.prices
        token_usd = (t_in / 1000 * prices.input_per_1k_usd + t_out / 1000 * prices.output_per_1k_usd) if prices else 0.0
        per_1k = token_usd / n_items * 1000 if n_items else 0.0
        routed = sum(1 for c in calls if c.fallback and self.spec.fallback == "person")
        per_1k += routed / n_items * 1000 * self.human_usd_per_item if n_items else 0.0
        made = sum(1 for c in calls if not c.cached and not c.fault)
        hits = sum(1 for c in calls if c.cached)
        out = {
            "llm.calls": float(made),
            "llm.cache_hits": float(hits),
            "llm.cache_hit_rate": hits / (hits + made) if hits + made else 0.0,
            "llm.retries": float(sum(c.retries for c in calls)),
            "llm.tokens_in": float(t_in),
            "llm.tokens_out": float(t_out),
            "llm.tokens_in_per_item": t_in / len(answered) if answered else 0.0,
            "llm.tokens_out_per_item": t_out / len(answered) if answered else 0.0,
            "llm.redactions": float(sum(self.redactions.values())),
            "llm.failed_calls": float(sum(1 for c in calls if c.error is not None)),
            "llm.fallbacks": float(sum(1 for c in calls if c.fallback)),
            "items.fallback_share": sum(1 for c in calls if c.fallback) / n_items if n_items else 0.0,
            "cost.tokens_per_1k_usd": per_1k,
        }
        if items_per_month is not None:
            out["cost.per_month_usd"] = per_1k * items_per_month / 1000
        return out

    def run_params(self) -> dict[str, Any]:
        """What identifies the run's endpoint and prompt (never the key): MLflow params."""
        reported = Counter(c.model for c in self.calls.values() if c.model)
        prints = Counter(c.fingerprint for c in self.calls.values() if c.fingerprint)
        counters = sorted({c.counter for c in self.calls.values() if c.error is None and not c.fault})
        out: dict[str, Any] = {
            "llm.endpoint": self.spec.base_url, "llm.model": self.spec.model,
            "llm.reported_model": reported.most_common(1)[0][0] if reported else None,
            "llm.system_fingerprint": prints.most_common(1)[0][0] if prints else None,
            "llm.prompt_file": self.spec.prompt, "llm.prompt_sha256": self.template_sha256,
            "llm.allow_personal_data": self.spec.allow_personal_data,
            "llm.fallback": self.spec.fallback or "none",
            "llm.usage": ("reported" if all(c.usage_reported for c in self.calls.values())
                          else "estimated (4 chars/token)" if "estimate" in counters else "counted offline"),
            "llm.token_counter": ", ".join(counters) or None,  # usage | tokenizer:<file> | estimate
            "llm.api_key_env": self.spec.api_key_env or "none",
        }
        out = {k: "not reported" if v is None else v for k, v in out.items()}
        out.update({f"llm.redacted.{k}": v for k, v in sorted(self.redactions.items()) if v})
        if len(reported) > 1:
            out["llm.reported_models"] = ", ".join(sorted(reported))
        return out

    def describe(self) -> str:
        return f"{self.name}: {self.spec.model} at {self.spec.base_url}"



def personal_mask(data: ItemData) -> Callable[[str], str]:
    """Text -> the same text with personal data withheld as before a vendor call: the values
    of the eval source's personal columns (names) and e-mail, phone, IBAN and card patterns.
    For what the evaluate step writes out in tables (an item's text, its expected answer,
    each model's answer), which land in MLflow artifacts and shared files."""
    redactor, counts = Redactor.of(data), Counter()
    return lambda text: redactor.text(text, counts)


def safe_example(data: ItemData, columns: Sequence[str], *, rows: int = 5) -> Any:
    """The first eval items' inputs as the logged model's input example, with personal data
    withheld as before a vendor call: MLflow keeps the example (``input_example.json``) beside
    the model, where no personal value may land."""
    redactor, counts = Redactor.of(data), Counter()
    head = data.items[list(columns)].head(rows)
    return head.apply(lambda row: pd.Series(redactor.inputs(row.to_dict(), list(columns), counts)), axis=1)
