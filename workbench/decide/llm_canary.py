"""Vendor changes: re-ask a fixed canary subset of the eval set of the champion's LLM endpoint.

A hosted model can change under a pilot without notice. The pilot recorded the model id the
endpoint reported (``llm.reported_model``, and ``llm.system_fingerprint``) on the champion's
run; ``workbench monitor --canary`` asks the first ``canary_items`` eval items (in id order:
the same items every time) again, past the response cache, and breaches when the endpoint now
reports another model, or when the canary's quality falls below the production plan's
``monitoring.min_quality``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..charter.config import Charter, CostModel
from ..charter.items import ItemCandidate
from ..errors import ConfigError, MonitorError
from ..measure.items import ItemData, fit_item_model, load_items, run_items

__all__ = ["CanaryReport", "canary_check", "llm_canary"]


@dataclass(frozen=True)
class CanaryReport:
    """What the canary found; ``breaches`` empty: the endpoint still serves what was judged."""

    candidate: str
    items: int
    recorded_model: str | None
    reported_model: str | None
    system_fingerprint: str | None
    metric: str
    value: float | None
    minimum: float | None
    errors: int
    breaches: tuple[str, ...]

    @property
    def breached(self) -> bool:
        return bool(self.breaches)

    def summary(self) -> str:
        head = (f"canary: {self.items} item(s) re-asked of '{self.candidate}': reported model {self.reported_model!r} "
                f"(judged on {self.recorded_model!r}), {self.metric} "
                f"{'n/a' if self.value is None else f'{self.value:.3f}'}, {self.errors} error(s)")
        return head + ("" if not self.breaches else "\n  BREACH: " + "\n  BREACH: ".join(self.breaches))


def canary_check(candidate: ItemCandidate, data: ItemData, task: str, *, root: Path | str, recorded_model: str | None,
                 metric: str, minimum: float | None, cost: CostModel | None = None) -> CanaryReport:
    """Ask the first ``candidate.canary_items`` items of ``data`` past the cache; judge them."""
    n = min(candidate.canary_items, len(data.items))
    subset = dataclasses.replace(
        data, items=data.items.head(n).reset_index(drop=True),
        personal=None if data.personal is None else data.personal.head(n).reset_index(drop=True))
    model = fit_item_model(candidate, subset, task, root=root)
    model.use_cache = False  # the point is to ask the endpoint as it is today
    result = run_items(model, subset, cost=cost or CostModel())
    reported = result.params.get("llm.reported_model")
    value = result.metrics().get(metric)
    breaches = []
    if recorded_model is not None and reported != recorded_model:
        breaches.append(f"the endpoint now reports model {reported!r}; the champion was judged on {recorded_model!r}: "
                        "re-run the pilot on it before trusting its answers")
    if "llm.reported_models" in result.params:
        breaches.append(f"the endpoint reported several models within one canary: {result.params['llm.reported_models']}")
    if minimum is not None and (value is None or value < minimum):
        breaches.append(f"{metric} on the canary is {'n/a' if value is None else f'{value:.3f}'}, "
                        f"below the plan's min_quality {minimum:g}")
    return CanaryReport(candidate=candidate.name, items=n, recorded_model=recorded_model, reported_model=reported,
                        system_fingerprint=result.params.get("llm.system_fingerprint"), metric=metric, value=value,
                        minimum=minimum, errors=int(result.items["error"].notna().sum()), breaches=tuple(breaches))


def llm_canary(charter: Charter, store: Any, *, progress: Callable[[str], None] | None = None) -> CanaryReport:
    """The canary of the charter's champion (an ``llm`` candidate of an eval-set pilot)."""
    from ..data.warehouse import connect_read_only
    from .registry import champion

    say = progress or (lambda _m: None)
    es = charter.eval_set
    if es is None:
        raise ConfigError("the canary re-asks an eval set's items; this pilot has no `eval_set:`",
                          where=f"{charter.path}: eval_set", hint="use `workbench monitor --batch FILE` for a tabular pilot")
    version = champion(charter, store)
    if version is None:
        raise MonitorError("no champion to re-ask", hint="run the pilot until it promotes a champion")
    params = store.get_run(version.run_id).data.params
    name = params.get("candidate")
    cand = next((c for c in es.candidates if c.name == name), None)
    if cand is None or cand.kind != "llm":
        raise MonitorError(f"the champion (v{version.version}, candidate {name!r}) is not an LLM endpoint",
                           hint="the canary watches a champion of `kind: llm`; batches are monitored with --batch")
    say(f"canary: champion v{version.version} = '{name}' at {cand.base_url}")
    with connect_read_only(charter.warehouse_path) as con:
        data = load_items(con, es, root=charter.root)
    minimum = charter.production.monitoring.min_quality if charter.production is not None else None
    return canary_check(cand, data, charter.task.kind, root=charter.root,
                        recorded_model=params.get("llm.reported_model"), metric=charter.primary_metric,
                        minimum=minimum, cost=charter.cost)
