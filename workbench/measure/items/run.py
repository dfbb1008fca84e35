"""Ask one model every eval item, one at a time: its answer, correctness, latency and error
per item, then quality, slices, speed and cost — under the registry's metric names.

Errors are results. An answer that raises, takes longer than the candidate's
``timeout_seconds`` (the user's own function is interrupted then, where the process allows
it) or is malformed (a label no class has, ids that are not a list) is recorded with its
error and scored as wrong; nothing is skipped and nothing aborts the run.

Today's recorded process (``kind: recorded``) is timed by the charter: its latency is the
recorded ``seconds_per_item`` and its cost that time at ``cost.human_usd_per_hour``, so
the candidates' time saved and cost saved per 1,000 items compare with it.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...charter.config import CostModel
from ..evaluation import slice_metric_name
from .answers import AnswerQuality, answer_quality, answer_sources, answer_text
from .candidates import ItemModel, MalformedOutput
from .data import ItemData
from .progress import Progress
from .scoring import (
    ClassificationQuality,
    ExtractionQuality,
    RetrievalQuality,
    classification_quality,
    extraction_quality,
    retrieval_quality,
)

__all__ = ["ItemRun", "run_items", "ItemTimeout", "today_seconds"]


class ItemTimeout(Exception):
    """An answer that took longer than the candidate's timeout."""


@contextlib.contextmanager
def _deadline(seconds: float, enabled: bool) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (SIGALRM: the main thread of a Unix process only;
    elsewhere the answer is still judged late afterwards)."""
    if not enabled or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def fire(_signum: int, _frame: Any) -> None:
        raise ItemTimeout(f"no answer within {seconds:g}s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def today_seconds(data: ItemData, cost: CostModel) -> float | None:
    """Seconds today's process spends per item: the recorded ones, else the cost model's."""
    rec = data.spec.recorded
    if rec is not None and rec.seconds_per_item is not None:
        return rec.seconds_per_item
    return cost.human_seconds_per_item


@dataclass(frozen=True)
class ItemRun:
    """One model's answers on every eval item, and what they add up to."""

    name: str
    kind: str
    description: str
    items: pd.DataFrame  # item_id, expected, output, correct, latency_ms, error, slice columns
    quality: ClassificationQuality | RetrievalQuality | ExtractionQuality | AnswerQuality
    fit_seconds: float
    seconds_per_item: float
    cost_per_1k_usd: float
    today_seconds_per_item: float | None
    today_usd_per_hour: float | None
    slices: dict[str, float] = field(default_factory=dict)
    slice_rows: tuple[dict[str, Any], ...] = ()
    extra: dict[str, float] = field(default_factory=dict)  # what the model kind measures itself (llm.*)
    params: dict[str, Any] = field(default_factory=dict)  # what identifies its endpoint and prompt (llm.*)
    judge_params: dict[str, Any] = field(default_factory=dict)  # answer pilots: the judge's model and prompt hash

    def metrics(self) -> dict[str, float]:
        """Every MLflow metric of this run (registered in workbench.measure.metrics)."""
        lat = self.items["latency_ms"].to_numpy(dtype=float)
        n = len(lat)
        out = dict(self.quality.metrics())
        out.update({
            "latency.p50_ms": float(np.percentile(lat, 50)) if n else 0.0,
            "latency.p95_ms": float(np.percentile(lat, 95)) if n else 0.0,
            "latency.p99_ms": float(np.percentile(lat, 99)) if n else 0.0,
            "latency.max_ms": float(lat.max()) if n else 0.0,
            "latency.mean_ms": float(lat.mean()) if n else 0.0,
            "throughput.items_per_s": 1.0 / self.seconds_per_item if self.seconds_per_item > 0 else 0.0,
            "cost.per_1k_usd": self.cost_per_1k_usd,
            "items.fit_seconds": self.fit_seconds,
        })
        if self.today_seconds_per_item is not None:
            out["time_saved.per_1k_hours"] = (self.today_seconds_per_item - self.seconds_per_item) * 1000 / 3600
            if self.today_usd_per_hour is not None:
                today = self.today_seconds_per_item * 1000 / 3600 * self.today_usd_per_hour
                out["cost.saved_per_1k_usd"] = today - self.cost_per_1k_usd
        out.update(self.slices)
        out.update(self.extra)
        return out

    def worst(self, n: int = 10) -> pd.DataFrame:
        """The failures worth reading first: errors, then wrong answers (slowest first)."""
        wrong = self.items[~self.items["correct"]].copy()
        wrong["_err"] = wrong["error"].notna()
        return wrong.sort_values(["_err", "latency_ms"], ascending=[False, False]).drop(columns="_err").head(n)

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "description": self.description,
                "quality": self.quality.to_dict(), "metrics": self.metrics(), "slices": list(self.slice_rows),
                "fit_seconds": self.fit_seconds, "seconds_per_item": self.seconds_per_item}


def _check(answer: Any, task: str, labels: set[str], schema: dict | None = None) -> Any:
    """The answer in the task's shape, or MalformedOutput."""
    if task == "extraction":
        if isinstance(answer, str):
            try:
                answer = json.loads(answer)
            except ValueError as exc:
                raise MalformedOutput(f"the answer is not JSON: {exc}") from None
        if not isinstance(answer, dict):
            raise MalformedOutput(f"an extraction answer is a JSON object, not {type(answer).__name__}")
        if schema is not None:
            import jsonschema

            error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(answer))
            if error is not None:
                where = "/".join(map(str, error.absolute_path)) or "the object"
                raise MalformedOutput(f"against the output schema, at {where}: {error.message[:200]}")
        return answer
    if task == "answer":  # generated text: the answer stripped, and the passages it retrieved or cited
        if isinstance(answer, dict) and "answer" in answer:
            text, sources = answer["answer"], answer.get("sources")
        elif isinstance(answer, str):
            text, sources = answer, None
        else:
            raise MalformedOutput(f"an answer is text (or {{answer, sources}}), not {type(answer).__name__}")
        if not isinstance(text, str) or not text.strip():
            raise MalformedOutput(f"an empty answer ({str(text)[:40]!r})")
        if sources is not None and (isinstance(sources, str) or not isinstance(sources, (list, tuple))):
            raise MalformedOutput(f"an answer's sources are a list of passage ids, not {type(sources).__name__}")
        return {"answer": text.strip(), "sources": None if sources is None else [str(s) for s in sources]}
    if task == "retrieval":
        if isinstance(answer, str) or not isinstance(answer, (list, tuple)):
            raise MalformedOutput(f"a retrieval answer is a list of ids, not {type(answer).__name__}")
        return [str(a) for a in answer]
    if not isinstance(answer, str):
        raise MalformedOutput(f"a label is text, not {type(answer).__name__} ({str(answer)[:40]!r})")
    if answer not in labels:
        raise MalformedOutput(f"{answer[:60]!r} is not one of the {len(labels)} known labels")
    return answer


def run_items(model: ItemModel, data: ItemData, *, cost: CostModel, min_slice_items: int | None = None,
              slice_metric: str | None = None, items_per_month: int | None = None) -> ItemRun:
    """Ask ``model`` every eval item once, in id order; see the module's docstring.

    A model that calls an endpoint (``kind: llm``) is asked for every item at once first
    (``prepare``: concurrent calls, its cache); each item's latency is then its call's own."""
    task = model.task
    labels = set(data.labels()) if task == "text-classification" else set()
    records = data.items.to_dict("records")
    outputs: list[Any] = []
    probabilities: list[Any] = []
    latency = np.zeros(len(records))
    errors: list[str | None] = []
    timeout = model.spec.timeout_seconds
    guard = model.kind == "callable"  # the built-in kinds are bounded; the user's code may hang
    prepare = getattr(model, "prepare", None)
    if prepare is not None:
        model.human_usd_per_item = (cost.human_seconds_per_item or 0.0) / 3600 * (cost.human_usd_per_hour or 0.0)
        prepare(records)
    measured = getattr(model, "measured_latency_ms", None)
    progress = Progress(model.name, len(records))
    for i, item in enumerate(records):
        progress.step(i)
        t0 = time.perf_counter()
        try:
            with _deadline(timeout, guard):
                answer = model.answer(item)
            value = _check(answer.value, task, labels, data.schema)
            error = None
        except ItemTimeout as exc:
            answer, value, error = None, None, f"timeout: {exc}"
        except MalformedOutput as exc:
            answer, value, error = None, None, f"malformed: {exc.what}"
        except Exception as exc:  # noqa: BLE001 - the item's error is its result
            answer, value, error = None, None, f"{type(exc).__name__}: {str(exc)[:300]}"
        latency[i] = (time.perf_counter() - t0) * 1000
        own = measured(item) if measured is not None else None
        if own is not None:
            latency[i] = own
        if error is None and latency[i] > timeout * 1000:
            value, error = None, f"timeout: answered after {latency[i] / 1000:.2f}s (limit {timeout:g}s)"
        outputs.append(value)
        probabilities.append(None if error is not None or answer is None else answer.probabilities)
        errors.append(error)

    recorded = model.kind == "recorded"
    today = today_seconds(data, cost)
    if recorded:  # today's process: its time comes from the charter, not from reading a column
        per_item = today or 0.0
        latency[:] = per_item * 1000
        usd_per_hour = cost.human_usd_per_hour or 0.0
        cost_1k = per_item * 1000 / 3600 * usd_per_hour
    else:
        per_item = float(latency.mean() / 1000) if len(latency) else 0.0
        cost_1k = per_item * 1000 / 3600 * cost.compute_usd_per_hour + cost.usd_per_call * 1000
    extra: dict[str, float] = {}
    params: dict[str, Any] = {}
    if hasattr(model, "run_metrics"):  # tokens at the charter's prices, and a person's time where routed
        extra = model.run_metrics(len(records), items_per_month=items_per_month)
        params = model.run_params()
        cost_1k += extra.get("cost.tokens_per_1k_usd", 0.0)
        if items_per_month is not None:
            extra["cost.per_month_usd"] = cost_1k * items_per_month / 1000

    spec = data.spec
    judge_params: dict[str, Any] = {}
    frame = pd.DataFrame({"item_id": data.ids, "expected": data.expected})
    quality: ClassificationQuality | RetrievalQuality | ExtractionQuality | AnswerQuality
    if task == "answer":
        quality = answer_quality(data.expected, outputs, facts=data.facts(), sources=data.sources())
        frame["output"] = pd.Series([answer_text(o) for o in outputs], dtype=object)
        cited = [answer_sources(o) for o in outputs]
        if any(c is not None for c in cited):  # the passages it retrieved or cited: what groundedness judges
            frame["sources"] = pd.Series([None if c is None else "|".join(c) for c in cited], dtype=object)
        frame["correct"] = answer_correct(data, outputs)
        if spec.judge is not None and data.root is not None:  # an LLM judge: recorded, gated only once agreed
            from .judge import judge_answers

            judged = judge_answers(spec.judge, data, outputs, root=data.root)
            frame["judge"] = judged.verdicts
            extra.update(judged.metrics)
            judge_params = judged.params
    elif task == "extraction":
        expected = data.expected_objects()
        ext = extraction_quality(expected, outputs)
        quality = ext
        frame["output"] = pd.Series([json.dumps(o, ensure_ascii=False, sort_keys=True) if o is not None else None
                                     for o in outputs], dtype=object)
        frame["correct"] = [o is not None and extraction_quality([e], [o], ext.fields).all_fields_exact == 1.0
                            for e, o in zip(expected, outputs, strict=True)]
    elif task == "retrieval":
        relevant = data.relevant()
        quality = retrieval_quality(relevant, outputs, spec.k)
        k1 = min(spec.k)
        frame["output"] = pd.Series(["|".join(o) if o is not None else None for o in outputs], dtype=object)
        frame["correct"] = [o is not None and bool(set(o[:k1]) & rel) for o, rel in zip(outputs, relevant, strict=True)]
    else:
        quality = classification_quality(data.expected, outputs, sorted(labels), probabilities=probabilities)
        frame["output"] = pd.Series(outputs, dtype=object)
        frame["correct"] = [o is not None and o == e for o, e in zip(outputs, data.expected, strict=True)]
    frame["latency_ms"] = latency
    frame["error"] = pd.Series(errors, dtype=object)  # None where answered (pandas would make it NaN)
    for col in spec.slices:
        frame[f"slice.{col}"] = data.items[col].astype("string").fillna("null").to_numpy()

    slices, rows = _slices(frame, data, outputs, task, min_slice_items or spec.min_slice_items, slice_metric)
    return ItemRun(name=model.name, kind=model.kind, description=model.describe(), items=frame, quality=quality,
                   fit_seconds=model.fit_seconds, seconds_per_item=per_item, cost_per_1k_usd=cost_1k,
                   today_seconds_per_item=None if recorded else today,
                   today_usd_per_hour=cost.human_usd_per_hour, slices=slices, slice_rows=tuple(rows),
                   extra=extra, params=params, judge_params=judge_params)


def answer_correct(data: ItemData, outputs: list[Any]) -> list[bool]:
    """An answer is correct when it contains every expected fact (``eval_set.facts`` declared
    and not blank for the item), else when it matches the reference once normalized."""
    from .answers import answer_per_item

    per = answer_per_item(data.expected, outputs, facts=data.facts())
    every = per.get("all_facts")
    return [bool(every[i] == 1.0) if every is not None and not np.isnan(every[i])
            else bool(per["normalized_exact_match"][i] == 1.0) for i in range(len(outputs))]


def _slices(frame: pd.DataFrame, data: ItemData, outputs: list[Any], task: str, min_items: int,
            metric: str | None) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Per slice value: the quality on its items. Slices with ``min_items`` or more are
    logged as ``slice.<column>.<value>.<m>`` (what the slices gate compares); all are kept."""
    out: dict[str, float] = {}
    rows: list[dict[str, Any]] = []
    spec = data.spec
    default = {"retrieval": f"quality.hit_at_{min(spec.k)}", "extraction": "quality.all_fields_exact",
               "answer": "quality.token_f1"}
    short = (metric or default.get(task, "quality.macro_f1")).split(".", 1)[1]
    labels = data.labels() if task == "text-classification" else []
    expected = data.expected_objects() if task == "extraction" else []
    worst: float | None = None
    for col in spec.slices:
        for value, idx in frame.groupby(f"slice.{col}").groups.items():
            pos = list(idx)
            if task == "answer":
                facts, sources = data.facts(), data.sources()
                q = answer_quality([data.expected[i] for i in pos], [outputs[i] for i in pos],
                                   facts=None if facts is None else [facts[i] for i in pos],
                                   sources=None if sources is None else [sources[i] for i in pos]).metrics()
            elif task == "extraction":
                q = extraction_quality([expected[i] for i in pos], [outputs[i] for i in pos]).metrics()
            elif task == "retrieval":
                rel = data.relevant()
                q = retrieval_quality([rel[i] for i in pos], [outputs[i] for i in pos], spec.k).metrics()
            else:
                q = classification_quality([data.expected[i] for i in pos], [outputs[i] for i in pos], labels).metrics()
            value_m = q.get(f"quality.{short}")
            eligible = len(pos) >= min_items and value_m is not None
            rows.append({"column": col, "value": str(value), "items": len(pos), short: value_m, "eligible": eligible})
            if eligible:
                out[slice_metric_name(col, value, short)] = float(value_m)
                out[slice_metric_name(col, value, "count")] = float(len(pos))
                worst = value_m if worst is None else min(worst, value_m)
    if worst is not None:
        out[f"slice.worst.{short}"] = float(worst)
    return out, rows
