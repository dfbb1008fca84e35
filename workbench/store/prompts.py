"""Prompt templates in MLflow's prompt registry, one version per distinct text.

An LLM candidate's template is registered under a name made of the pilot's and the
candidate's names (``<pilot>.<candidate>``) and linked to the candidate's run, so a run
names the exact prompt version it was measured with (``prompts:/<name>/<version>``).
``register_prompt`` adds a version even for an identical template (DESIGN.md), so the
newest version's text is compared first: rerunning an unchanged pilot adds no version, an
edited template adds one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import TrackingError

__all__ = ["PromptVersionRef", "prompt_name", "register_template", "LINKED_PROMPTS"]

LINKED_PROMPTS = "mlflow.linkedPrompts"  # the run tag MLflow's UI reads (mlflow.tracing.constant)


@dataclass(frozen=True)
class PromptVersionRef:
    """The registered version a run used; ``added``: this call registered it."""

    name: str
    version: int
    uri: str
    added: bool


def prompt_name(pilot: str, candidate: str) -> str:
    """The registry name for a pilot's candidate (letters, digits, ``-``, ``_``, ``.``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{pilot}.{candidate}").strip("-.")


def _newest(client: Any, name: str) -> Any | None:
    if client.get_prompt(name) is None:
        return None
    versions = list(client.search_prompt_versions(name))
    return max(versions, key=lambda v: int(v.version)) if versions else None


def register_template(store: Any, name: str, template: str, *, run_id: str | None = None,
                      tags: dict[str, str] | None = None) -> PromptVersionRef:
    """The version of ``name`` holding ``template``: the newest one when its text is the same,
    else a new one; linked to ``run_id`` when given (MLflow's ``mlflow.linkedPrompts`` tag)."""
    client = store.client
    try:
        store.activate()  # register_prompt links the prompt to an experiment through mlflow's globals
        # (else a mlflow.db in the current folder)
        newest = _newest(client, name)
        added = newest is None or newest.template != template
        version = (client.register_prompt(name, template, commit_message="changed by the pilot's template file",
                                          tags=tags or {}) if added else newest)
        if run_id is not None:  # what link_prompt_version_to_run does, on this store (it uses the
            # process's global tracking URI instead of the client's)
            from mlflow.tracing.utils.prompt import update_linked_prompts_tag

            current = store.get_run(run_id).data.tags.get(LINKED_PROMPTS)
            store.set_tags(run_id, {LINKED_PROMPTS: update_linked_prompts_tag(current, [version])})
    except TrackingError:
        raise
    except Exception as exc:  # noqa: BLE001 - mlflow's own exception types
        raise TrackingError(f"cannot register the prompt template {name!r}: {type(exc).__name__}: {exc}",
                            where=store.tracking_uri, hint="check the MLflow store is reachable and writable") from exc
    return PromptVersionRef(name=name, version=int(version.version), uri=f"prompts:/{name}/{version.version}",
                            added=added)
