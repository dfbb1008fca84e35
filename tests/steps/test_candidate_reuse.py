"""Which earlier candidate run an unchanged candidate may be served from (hand-built runs in a
real MLflow store): the same key, a finished evaluate run on the same tables, held-out scores
kept, and a timing verdict outside the noise."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.charter.config import load_charter
from workbench.steps.candidate_cache import SCORES_ARTIFACT, T_CANDIDATE_KEY, T_INSIDE_NOISE, candidate_keys, reusable
from workbench.steps.step_runs import T_BASELINE_KEY
from workbench.store import environment
from workbench.store.tracking import FINISHED, TAG, Store

REPO = Path(__file__).resolve().parents[2]
FPS = {"items": "abc123"}


def _candidate(store: Store, tmp: Path, key: str, *, fingerprints=FPS, noise: bool = False, scores: bool = True,
               cached: bool = False, finished: bool = True, baseline: str | None = None) -> str:
    step = store.start_run("reuse", "evaluate", tags={TAG["kind"]: "step", **{f"workbench.fingerprint.{t}": d
                                                                              for t, d in fingerprints.items()},
                                                      **({T_BASELINE_KEY: baseline} if baseline else {})})
    run = store.start_run("reuse", "hgb", parent=step.run_id,
                          tags={TAG["kind"]: "candidate", "workbench.candidate": "hgb", T_CANDIDATE_KEY: key,
                                TAG["cached"]: "true" if cached else "false",
                                **({T_INSIDE_NOISE: "true"} if noise else {})})
    if scores:
        path = tmp / "hgb.parquet"
        path.write_bytes(b"PAR1")
        store.log_artifact(run.run_id, path, "scores")
    store.end_run(run.run_id, FINISHED)
    store.end_run(step.run_id, FINISHED if finished else "FAILED")
    return run.run_id


@pytest.fixture()
def charter():
    return load_charter(REPO / "pilot.yaml", check_files=False).model_copy(update={"name": "reuse"})


def test_an_unchanged_candidate_is_served_from_its_executed_run_only(tmp_path: Path, charter) -> None:
    store = Store(tmp_path)
    assert SCORES_ARTIFACT.format(name="hgb") == "scores/hgb.parquet"
    good = _candidate(store, tmp_path, "k1")
    _candidate(store, tmp_path, "k1", cached=True)  # a copy that reused it: never a source itself
    assert reusable(store, charter, {"hgb": "k1"}, FPS) == {"hgb": good}
    assert reusable(store, charter, {"hgb": "k2"}, FPS) == {}  # another key: trained again
    assert reusable(store, charter, {"hgb": "k1"}, {"items": "other"}) == {}  # other tables


@pytest.mark.parametrize("why", ["noise", "no scores", "evaluate failed"])
def test_what_is_never_reused(tmp_path: Path, charter, why: str) -> None:
    store = Store(tmp_path)
    said: list[str] = []
    _candidate(store, tmp_path, "k1", noise=why == "noise", scores=why != "no scores",
               finished=why != "evaluate failed")
    assert reusable(store, charter, {"hgb": "k1"}, FPS, said.append) == {}
    if why == "noise":
        assert "inside the noise" in said[0]


def test_a_candidate_key_is_its_own(charter, monkeypatch: pytest.MonkeyPatch) -> None:
    common = {"notebook": "n", "parameters": {}, "fingerprints": FPS}
    keys = candidate_keys(charter, common)
    # another candidate added: the first keeps its key; its own parameters edited: a new key
    more = charter.model_copy(update={"candidates": [*charter.candidates, charter.candidates[0].model_copy(
        update={"name": "hgb2"})]})
    assert candidate_keys(more, common)["hgb"] == keys["hgb"]
    edited = charter.model_copy(update={"candidates": [charter.candidates[0].model_copy(
        update={"params": {"max_iter": 10}})]})
    assert candidate_keys(edited, common)["hgb"] != keys["hgb"]
    # a package upgrade: a new key
    real = environment.current()
    monkeypatch.setattr(environment, "current", lambda: type(real)(
        real.python, real.platform, real.machine, {**real.packages, "numpy": "0"}, real.lock_sha256))
    assert candidate_keys(charter, common)["hgb"] != keys["hgb"]


def test_a_candidate_judged_against_no_or_another_baseline_is_not_reused_by_a_run_with_one(tmp_path: Path,
                                                                                             charter) -> None:
    """`run --step evaluate` on a pilot whose baseline never ran: its candidates' reports hold no
    baseline. A run of every step measures them again; a run of some steps (no baseline of its
    own) and a run from before the tag existed still reuse."""
    store = Store(tmp_path)
    alone = _candidate(store, tmp_path, "k1", baseline="none")
    said: list[str] = []
    assert reusable(store, charter, {"hgb": "k1"}, FPS, said.append, baseline_key="b1") == {}
    assert "its evaluation report was made against no baseline run" in said[0], said
    assert reusable(store, charter, {"hgb": "k1"}, FPS, baseline_key="none") == {"hgb": alone}
    judged = _candidate(store, tmp_path, "k1", baseline="b1")
    assert reusable(store, charter, {"hgb": "k1"}, FPS, baseline_key="b1") == {"hgb": judged}
    said.clear()
    assert reusable(store, charter, {"hgb": "k1"}, FPS, said.append, baseline_key="b2") == {}
    assert "made against another baseline run" in said[0], said
    older = _candidate(store, tmp_path, "k1")  # no tag: recorded before it existed
    assert reusable(store, charter, {"hgb": "k1"}, FPS, baseline_key="b2") == {"hgb": older}
