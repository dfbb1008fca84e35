"""Issue 24: a promotion stopped at any instant settles by itself at the next promote.

Every named point of the transaction (``registry.FAULT_POINTS``) is hit with an exception,
SIGINT or SIGTERM, in-process (the point's hook replaced) and in a real CLI process
(``$WORKBENCH_FAULT_AT``). Afterwards the next promote goes on without --acknowledge, no
decision run is left RUNNING or pending, each record says how it ended (completed or
aborted), and the audit passes. Deterministic: no sleeps."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from support import alias_of, build_pilot, candidate_metrics, charter_file, cli, decision_runs, versions_of
from workbench.charter.config import load_charter
from workbench.decide import registry
from workbench.decide.promotion import DECISION_ARTIFACT, audit, promote
from workbench.store.tracking import Store

SINGLE = [p for p in registry.FAULT_POINTS if p not in ("settling", "aborted_record_artifact")]
# a second signal while the first one's damage is being settled
DOUBLE = [("pending_record_artifact", "settling"), ("after_record", "settling"), ("before_alias", "settling"),
          ("after_alias", "settling"), ("completed_record_artifact", "settling"),
          ("after_record", "aborted_record_artifact")]


def injector(points: tuple[str, ...], how: str):  # noqa: ANN201
    """A replacement for registry._checkpoint firing once at each of ``points``, in order."""
    todo = list(points)

    def hit(name: str) -> None:
        if todo and name == todo[0]:
            todo.pop(0)
            if how == "raise":
                raise KeyboardInterrupt(f"injected at {name}")
            os.kill(os.getpid(), getattr(signal, how))

    hit.todo = todo  # type: ignore[attr-defined]
    return hit


def assert_settled(store: Store, charter) -> None:  # noqa: ANN001
    """No decision left unfinished, and each record's state agrees with its run."""
    for run in decision_runs(store, charter):
        assert run.info.status != "RUNNING", run.data.tags
        state = run.data.tags.get("workbench.state")
        assert state in ("completed", "aborted"), state
        text = store.download_text(run.info.run_id, DECISION_ARTIFACT)
        if text is not None:
            assert json.loads(text)["state"] == state


def interrupted_then_resumed(root: Path, name: str, points: tuple[str, ...], how: str,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    path = charter_file(root, name)
    charter, store = load_charter(path), Store(root)
    build_pilot(store, charter, {"good": candidate_metrics(0.80)}, models=("good",))
    hit = injector(points, how)
    monkeypatch.setattr(registry, "_checkpoint", hit)
    with pytest.raises(KeyboardInterrupt):
        promote(charter, store, actor="ann")
    monkeypatch.undo()
    assert hit.todo == [], f"never reached {hit.todo}"
    assert versions_of(store, charter) in ([], ["1"])

    nxt = promote(charter, store, actor="bob")  # no --acknowledge needed
    assert nxt.outcome in ("go", "already-champion"), nxt.summary()
    assert alias_of(store, charter) == "1" and versions_of(store, charter) == ["1"]
    assert_settled(store, charter)
    report = audit(charter, store)
    assert report.ok, report.summary()
    states = sorted(r.data.tags["workbench.state"] for r in decision_runs(store, charter))
    assert states.count("completed") >= 1  # a record of how the interrupted one ended: completed or aborted
    assert len(states) == (1 if points[0] in ("reconcile", "before_record") else 2)  # no decision run started yet


@pytest.mark.slow  # registers a model, promotes twice
@pytest.mark.parametrize("point", SINGLE)
def test_an_interrupt_at_any_point_settles_at_the_next_promote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               point: str) -> None:
    interrupted_then_resumed(tmp_path, "cut", (point,), "raise", monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("points", DOUBLE, ids=["+".join(p) for p in DOUBLE])
def test_a_second_interrupt_while_settling_is_settled_at_the_next_promote(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, points: tuple[str, str]) -> None:
    interrupted_then_resumed(tmp_path, "twice", points, "raise", monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("point", SINGLE)
def test_a_signal_at_any_point_settles_at_the_next_promote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           point: str, how: str) -> None:
    interrupted_then_resumed(tmp_path, "signalled", (point,), how, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM"])
def test_a_cli_promote_signalled_while_writing_its_pending_record_is_settled_by_the_next(
        tmp_path: Path, how: str) -> None:
    """The reported case, end to end: audit and promote agree, and promote settles it."""
    path = charter_file(tmp_path, "stuck")
    charter, store = load_charter(path), Store(tmp_path)
    build_pilot(store, charter, {"good": candidate_metrics(0.80)}, models=("good",))
    first = cli("promote", "--pilot", str(path), env={registry.FAULT_ENV: f"pending_record_artifact:{how}"})
    assert first.returncode == 130, first.stderr
    assert "this is a bug" not in first.stderr
    assert_settled(store, charter)  # settled on the way out
    audited = cli("audit", "--pilot", str(path))
    assert audited.returncode == 0, audited.stdout + audited.stderr
    nxt = cli("promote", "--pilot", str(path))
    assert nxt.returncode == 0 and "GO" in nxt.stdout, nxt.stdout + nxt.stderr
    assert alias_of(store, charter) == "1"
    assert_settled(store, charter)


@pytest.mark.slow  # registers a model; three CLI processes
def test_a_promoter_killed_while_writing_its_pending_record_is_settled_by_the_next(
        tmp_path: Path) -> None:
    """Killed outright (no handler runs): the pending record waits; audit names it, and the
    next promote settles it (audit and promote agree on what happens next)."""
    path = charter_file(tmp_path, "killed")
    charter, store = load_charter(path), Store(tmp_path)
    build_pilot(store, charter, {"good": candidate_metrics(0.80)}, models=("good",))
    first = cli("promote", "--pilot", str(path), env={registry.FAULT_ENV: "pending_record_artifact:exit"})
    assert first.returncode == 9, first.stderr
    broken = audit(charter, store)
    (pending,) = [p for p in broken.errors if p.key.startswith("pending:")]
    assert "`workbench promote`" in pending.what
    nxt = promote(charter, store)
    assert nxt.outcome == "go" and any("reconciled an unfinished decision" in n for n in nxt.notes), nxt.notes
    assert_settled(store, charter)
    assert audit(charter, store).ok
