"""What every step of a pilot shares: its outcome, its cache key, and how its run ends.

The runner orchestrates the steps; the steps (ingest, contracts, notebooks, promote,
report) use these helpers and never import the runner.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..charter.config import Charter
from ..errors import StepInterrupted
from ..store import environment
from ..store.locks import signals_blocked
from ..store.tracking import FAILED, FINISHED, KILLED, TAG, RunRef, Store

__all__ = ["StepOutcome", "Terminated", "code_files", "code_hash", "cache_key", "record_cached", "fail_run",
           "T_BASELINE_KEY", "baseline_mismatch"]


@dataclass(frozen=True)
class StepOutcome:
    name: str
    kind: str  # ingest | contracts | notebook
    status: str  # executed | cached | failed | killed
    run_id: str | None
    seconds: float
    cached_from: str | None = None
    detail: str = ""
    cache_key: str | None = None  # a notebook step's


# an evaluate step's: the cache key of the baseline step its pilot run judged it against ("none": no baseline
# ran, as in `run --step evaluate`); its results and its candidates' reports were made against that baseline
T_BASELINE_KEY = "workbench.baseline_key"


def baseline_mismatch(tags: dict[str, str], wanted: str | None) -> str | None:
    """Why a step run with ``tags`` may not be reused by a step judged against the baseline
    keyed ``wanted`` ("no baseline run", "another baseline run"), or None: it may, for the same
    baseline, when none is wanted (a run of some steps, which decides nothing), or for a run
    from before the tag was recorded."""
    had = tags.get(T_BASELINE_KEY)
    if had is None or wanted in (None, "none") or had == wanted:
        return None
    return "no baseline run" if had == "none" else "another baseline run"


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an exception so `finally` blocks run and runs get closed. A kind
    of KeyboardInterrupt: whatever handles an interrupt handles it the same way (exit 130,
    never "a bug")."""


_PACKAGE = Path(__file__).resolve().parents[1]  # workbench/, not this module's own layer


def code_files() -> list[Path]:
    """Every module of the workbench package, each layer's (charter, data, measure, steps,
    decide, store, show): what :func:`code_hash` reads."""
    return sorted(_PACKAGE.rglob("*.py"))


@functools.lru_cache(maxsize=1)
def code_hash() -> str:
    """Hash of the workbench package source: a change to the logic invalidates the cache.

    Computed once per process, so one pilot run sees one version of the code."""
    h = hashlib.sha256()
    for path in code_files():
        h.update(str(path.relative_to(_PACKAGE)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def fail_run(store: Store, run: RunRef, exc: BaseException) -> None:
    with signals_blocked():
        killed = isinstance(exc, (KeyboardInterrupt, Terminated, StepInterrupted))
        with contextlib.suppress(Exception):
            store.set_tags(run.run_id, {TAG["failure"]: str(exc)[:4000] or type(exc).__name__})
        store.end_run(run.run_id, KILLED if killed else FAILED)


def cache_key(payload: dict[str, Any]) -> str:
    """The cache key of a step: a digest of everything that decides what it computes — the
    payload, and the environment (Python, the platform, the versions of the packages that shape
    results: :func:`workbench.store.environment.current`), so an upgrade re-runs the step."""
    payload = {**payload, "environment": environment.current().cache_part()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:32]


def record_cached(charter: Charter, store: Store, parent: RunRef, current: list, name: str,
                  tags: dict[str, str], hit: Any, note: str) -> RunRef:
    """A step served from cache: a FINISHED run pointing at the run it reuses, with its
    metrics and parameters copied so read-back from this pilot run finds them."""
    run = store.start_run(charter.name, name, parent=parent.run_id,
                          tags={**tags, TAG["cached"]: "true", TAG["cached_from"]: hit.info.run_id,
                                "mlflow.note.content": f"Cached: reuses run {hit.info.run_id} ({note})."})
    current[0] = run
    store.log_metrics(run.run_id, hit.data.metrics)
    store.log_params(run.run_id, hit.data.params)
    store.end_run(run.run_id, FINISHED)
    current[0] = None
    return run
