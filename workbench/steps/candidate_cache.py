"""Each candidate of an evaluate step cached on its own: change one thing, re-run one thing.

A step is cached whole (:mod:`workbench.steps.step_runs`); within an evaluate step that runs,
each candidate has a key of its own — its spec, the feature view and split, the task and cost
model, the step's parameters, the timing budgets, the notebook source, the table fingerprints,
the contract versions, the workbench code and the environment (:func:`step_runs.cache_key`) —
and the baseline's spec only when the candidate falls back on it. Not the other candidates, not
today's rule's spec otherwise, not the champion: the candidate's per-row held-out scores are an
artifact of its run, so the notebook compares a reused candidate again with today's rule and
the champion as they are measured now, on the same rows. An eval set's candidate is keyed on
the eval set but its candidates, its own spec and its own module or prompt (and the judge's);
its answers by item (``items/<name>.json``) are what is compared again with today's way.

The runner injects ``candidate_keys`` ({name: key}) and ``reuse`` ({name: run id}) into an
evaluate notebook that declares them. A candidate is reused only from a FINISHED candidate run
that executed (not itself a copy) with the same key, whose evaluate run recorded the same table
fingerprints and was judged against the same baseline step (``step_runs.T_BASELINE_KEY``: its
evaluation report was drawn against it), and whose timing verdict was not decided inside the noise.
"""

from __future__ import annotations

from typing import Any

from ..charter.config import Charter
from ..store.tracking import FINGERPRINT_TAG, FINISHED, ITEMS_ARTIFACT, TAG, Store, tags_under
from .step_runs import baseline_mismatch, cache_key

__all__ = ["T_CANDIDATE_KEY", "T_DATA_KEY", "SCORES_ARTIFACT", "candidate_keys", "data_checks_source", "data_key",
           "reusable"]

T_CANDIDATE_KEY = TAG["candidate_key"]
# the key of what an evaluate run's leakage and shift checks read (not the candidates): an edit of
# a candidate carries them over from the run before instead of computing them again
T_DATA_KEY = "workbench.data_key"
T_INSIDE_NOISE = "workbench.inside_noise"
SCORES_ARTIFACT = "scores/{name}.parquet"  # a candidate's held-out scores by row: compared again when reused


def candidate_keys(charter: Charter, common: dict[str, Any], own_code: dict[str, dict[str, str]] | None = None
                   ) -> dict[str, str]:
    """{candidate name: its cache key}. ``common``: what every candidate of the step shares
    (notebook source, step parameters, fingerprints, contracts, code, injected values but the spec).
    An eval set's candidates: the eval set but its candidates, the candidate's own spec, and
    ``own_code`` (name -> the sha256 of its module or prompt template, and the judge's)."""
    spec = charter.modeling()
    if spec.eval_set is not None:
        shared_es = spec.eval_set.model_dump(mode="json", exclude={"candidates"})
        return {cand.name: cache_key({**common, "eval_set": shared_es, "candidate": cand.model_dump(mode="json"),
                                      "code": (own_code or {}).get(cand.name, {})})
                for cand in spec.eval_set.candidates}
    shared = {"features": spec.features.model_dump(mode="json") if spec.features else None,
              "split": spec.split.model_dump(mode="json") if spec.split else None}
    baseline = spec.baseline.model_dump(mode="json") if spec.baseline else None
    out = {}
    for cand in spec.candidates:
        payload = {**common, **shared, "candidate": cand.model_dump(mode="json"),
                   # the rows it cannot score are served by today's rule: its spec is then the candidate's too
                   "fallback": baseline if cand.fallback_on_null else None}
        out[cand.name] = cache_key(payload)
    return out


def reusable(store: Store, charter: Charter, keys: dict[str, str], fingerprints: dict[str, str],
             say: Any = None, *, baseline_key: str | None = None) -> dict[str, str]:
    """{candidate name: the run it can be served from} for the candidates whose key matches an
    earlier executed candidate run that may be reused (one that kept what is compared again:
    its held-out scores, or an eval-set candidate's per-item answers)."""
    kept_as = ITEMS_ARTIFACT if charter.eval_set is not None else SCORES_ARTIFACT
    say = say or (lambda _msg: None)
    out: dict[str, str] = {}
    for name, key in keys.items():
        # the key holds the notebook and the step's parameters: the same key is the same computation
        runs = store.find_runs(charter.name, f"tags.`{T_CANDIDATE_KEY}` = '{key}' and attributes.status = 'FINISHED' "
                               f"and tags.`{TAG['cached']}` = 'false'", max_results=1)
        if not runs:
            continue
        hit = runs[0]
        short = hit.info.run_id[:8]
        if hit.data.tags.get(T_INSIDE_NOISE) == "true":
            say(f"  {name}: not reusing run {short}: its timing verdict was decided inside the noise; measuring again")
            continue
        parent_id = hit.data.tags.get(TAG["parent"])
        try:
            parent = store.get_run(parent_id) if parent_id else None
        except Exception:  # noqa: BLE001 - an unreadable evaluate run: measure again
            parent = None
        finished = parent is not None and parent.info.status == FINISHED
        recorded = tags_under(parent.data.tags, FINGERPRINT_TAG) if finished else None
        if recorded != fingerprints:
            say(f"  {name}: not reusing run {short}: its evaluate run is not finished or saw other table fingerprints")
            continue
        other = baseline_mismatch(parent.data.tags, baseline_key)  # its report was drawn against that baseline
        if other:
            say(f"  {name}: not reusing run {short}: its evaluation report was made against {other}")
            continue
        wanted = kept_as.format(name=name)
        try:
            kept = {a.path for a in store.client.list_artifacts(hit.info.run_id, wanted.split("/", 1)[0])}
        except Exception:  # noqa: BLE001 - unreadable artifacts: measure again
            kept = set()
        if wanted not in kept:
            continue  # no held-out scores kept (a run from before they were): it cannot be compared again
        out[name] = hit.info.run_id
    return out


def data_key(common: dict[str, Any], spec_without_candidates: dict[str, Any] | None) -> str:
    """The key of an evaluate step's data checks (leakage and shift): the notebook, the task, the
    feature view and split (the spec without its candidates), the table fingerprints, the
    contract versions, the workbench code and the environment. Not the candidates, the cost
    model, the timing budgets or the step's parameters: the checks do not read them."""
    injected = common.get("injected", {})
    return cache_key({**{k: v for k, v in common.items() if k not in ("injected", "parameters")},
                      "task": injected.get("task"), "spec": spec_without_candidates})


def data_checks_source(store: Store, charter: Charter, key: str, fingerprints: dict[str, str]) -> str | None:
    """The FINISHED evaluate run that computed or carried the data checks under ``key`` on these
    table fingerprints (the newest), or None."""
    runs = store.find_runs(charter.name, f"tags.`{T_DATA_KEY}` = '{key}' and attributes.status = 'FINISHED' "
                           f"and tags.`{TAG['cached']}` = 'false'", max_results=1)
    if not runs:
        return None
    return runs[0].info.run_id if tags_under(runs[0].data.tags, FINGERPRINT_TAG) == fingerprints else None
