"""Issue 24: a promotion stopped at any instant settles by itself at the next promote.

Every named point of the transaction (``registry.FAULT_POINTS``) is hit with an exception,
SIGINT or SIGTERM, in-process (the point's hook replaced) and in a real CLI process
(``$WORKBENCH_FAULT_AT``). Afterwards the next promote goes on without --acknowledge, no
decision run is left RUNNING or pending, each record says how it ended (completed or
aborted), and the audit passes. Deterministic: no sleeps."""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from support import alias_of, build_pilot, candidate_metrics, charter_file, cli, cli_here, decision_runs, versions_of
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


@pytest.fixture(scope="module")
def laid_out(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path, str], Path]:
    """``laid_out(root, name)``: the charter ``name`` in ``root`` with a finished pilot of one
    good candidate (and its model) in root's store, ready to promote; returns the charter's
    path. The layout is built once per name (build_pilot: ~0.7 s of MLflow writes) and each
    test gets a copy of that folder: a copied store points its artifacts at the copy
    (relocate_artifacts, tests/faults/test_copied_pilot.py), so a test promotes, interrupts
    and audits its own store exactly as if it had built it."""
    built: dict[str, Path] = {}

    def copy(root: Path, name: str) -> Path:
        if name not in built:
            template = tmp_path_factory.mktemp(f"laid-out-{name}")
            path = charter_file(template, name)
            build_pilot(Store(template), load_charter(path), {"good": candidate_metrics(0.80)}, models=("good",))
            built[name] = template
        shutil.copytree(built[name], root, dirs_exist_ok=True)
        return root / f"{name}.yaml"

    return copy


def interrupted_then_resumed(root: Path, name: str, points: tuple[str, ...], how: str,
                             monkeypatch: pytest.MonkeyPatch, laid_out: Callable[[Path, str], Path]) -> None:
    path = laid_out(root, name)
    charter, store = load_charter(path), Store(root)
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
                                                               point: str, laid_out) -> None:
    interrupted_then_resumed(tmp_path, "cut", (point,), "raise", monkeypatch, laid_out)


@pytest.mark.slow
@pytest.mark.parametrize("points", DOUBLE, ids=["+".join(p) for p in DOUBLE])
def test_a_second_interrupt_while_settling_is_settled_at_the_next_promote(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, points: tuple[str, str], laid_out) -> None:
    interrupted_then_resumed(tmp_path, "twice", points, "raise", monkeypatch, laid_out)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("point", SINGLE)
def test_a_signal_at_any_point_settles_at_the_next_promote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           point: str, how: str, laid_out) -> None:
    interrupted_then_resumed(tmp_path, "signalled", (point,), how, monkeypatch, laid_out)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM"])
def test_a_cli_promote_signalled_while_writing_its_pending_record_is_settled_by_the_next(
        tmp_path: Path, how: str, laid_out) -> None:
    """The reported case, end to end: audit and promote agree, and promote settles it."""
    path = laid_out(tmp_path, "stuck")
    charter, store = load_charter(path), Store(tmp_path)
    first = cli("promote", "--pilot", str(path), env={registry.FAULT_ENV: f"pending_record_artifact:{how}"})
    assert first.returncode == 130, first.stderr
    assert "this is a bug" not in first.stderr
    assert_settled(store, charter)  # settled on the way out
    audited = cli_here("audit", "--pilot", str(path))
    assert audited.returncode == 0, audited.stdout + audited.stderr
    nxt = cli_here("promote", "--pilot", str(path))
    assert nxt.returncode == 0 and "GO" in nxt.stdout, nxt.stdout + nxt.stderr
    assert alias_of(store, charter) == "1"
    assert_settled(store, charter)


@pytest.mark.slow  # registers a model; three CLI processes
def test_a_promoter_killed_while_writing_its_pending_record_is_settled_by_the_next(
        tmp_path: Path, laid_out) -> None:
    """Killed outright (no handler runs): the pending record waits; audit names it, and the
    next promote settles it (audit and promote agree on what happens next)."""
    path = laid_out(tmp_path, "killed")
    charter, store = load_charter(path), Store(tmp_path)
    first = cli("promote", "--pilot", str(path), env={registry.FAULT_ENV: "pending_record_artifact:exit"})
    assert first.returncode == 9, first.stderr
    broken = audit(charter, store)
    (pending,) = [p for p in broken.errors if p.key.startswith("pending:")]
    assert "`workbench promote`" in pending.what
    nxt = promote(charter, store)
    assert nxt.outcome == "go" and any("reconciled an unfinished decision" in n for n in nxt.notes), nxt.notes
    assert_settled(store, charter)
    assert audit(charter, store).ok
