"""Issue 11, "a decision you can defend": each test reproduces one way the promise broke.

- one pilot at a time: the pilot lock refuses a second pilot, ingest, promote, rollback;
- results bound to their data: a table changed under a step fails it; a cached step is
  reused only when its recorded fingerprints match;
- promotion as a transaction: concurrent promotes, interrupts at each point, a killed
  promoter reconciled at the next start;
- rollback sticks; a tamper-evident audit; `make clean` keeps the store; wiping it backs
  it up first; no server beyond loopback without authentication.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from support import (ENV, LOGGING_CELL, PLAN_YAML, PY, REPO, STEP_PARAMS, alias_of, build_pilot, candidate_metrics,
                     charter_file, cli_here, copy_of_first_run, decision_runs, versions_of, write_notebook,
                     write_project)
from workbench.store import locks
from workbench.decide import registry
from workbench.charter.config import load_charter
from workbench.errors import EXIT_AUDIT, EXIT_LOCKED, AuditError, ExposureError, StepError, StoreLockedError
from workbench.decide.promotion import DECISION_ARTIFACT, audit, history, promote, rollback
from workbench.store.tracking import TAG, Store

# each test has its own charter (experiment, model) in `shop`: the long ones run on whichever
# worker is free, each worker with its own shop (tests/conftest.py)
pytestmark = pytest.mark.xdist_spread


# -- helpers --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One project folder (one store) shared by the tests of this module; each uses its own
    charter, so its own experiment and model."""
    return tmp_path_factory.mktemp("integrity")  # charter_file adds the raw file and notebooks


HOLD = """
import pathlib, sys, time
from workbench.store import locks
with locks.pilot_lock(sys.argv[1], what=sys.argv[2]):
    pathlib.Path(sys.argv[3]).write_text("held")
    time.sleep(300)
"""


def wait_for(predicate, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting")


def hold_pilot_lock(root: Path, what: str, tmp_path: Path) -> subprocess.Popen:
    marker = tmp_path / f"held-{time.monotonic_ns()}"
    proc = subprocess.Popen([PY, "-c", HOLD, str(root), what, str(marker)], env=ENV)
    wait_for(marker.exists, 60)
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


# -- 1. one pilot at a time -------------------------------------------------------------------------


def test_pilot_lock_refuses_a_second_taker_naming_the_holder_then_takes_over_when_it_dies(
        tmp_path: Path) -> None:
    holder = hold_pilot_lock(tmp_path, "pilot tiny-pilot", tmp_path)
    try:
        with pytest.raises(StoreLockedError) as info:
            with locks.pilot_lock(tmp_path, what="ingest"):
                pass
        text = str(info.value)
        assert "ingest refused" in text and "pilot tiny-pilot" in text and f"PID {holder.pid} " in text
        assert "-c" in text  # the holder's command line
        assert info.value.exit_code == EXIT_LOCKED == 4
        assert str(tmp_path / "mlruns") in text  # where: the store
        seen = locks.holder_of(tmp_path)
        assert seen is not None and seen.pid == holder.pid and seen.pid_started is not None
    finally:
        holder.kill()  # SIGKILL: its holder record stays behind, the flock goes with the process
        holder.wait(timeout=30)
    said: list[str] = []
    with locks.pilot_lock(tmp_path, what="pilot again", say=said.append) as me:
        assert me.pid == os.getpid()
    assert len(said) == 1 and f"PID {holder.pid} " in said[0] and "whose process is gone" in said[0]
    assert locks.holder_of(tmp_path) is None  # released cleanly: no record left


def test_a_holder_whose_pid_was_reused_is_taken_over(tmp_path: Path) -> None:
    import psutil

    sleeper = subprocess.Popen([PY, "-c", "import time; time.sleep(120)"])
    try:
        started = psutil.Process(sleeper.pid).create_time()
        folder = tmp_path / "mlruns"
        folder.mkdir()
        # a record naming a live PID whose process started long after the recorded holder did
        fake = locks.Holder("pilot old", sleeper.pid, started - 3600, socket.gethostname(), "me", "old", "then")
        (folder / ".pilot.holder.json").write_text(json.dumps(fake.to_dict()))
        said: list[str] = []
        with locks.pilot_lock(tmp_path, what="pilot new", say=said.append):
            assert locks.holder_of(tmp_path).what == "pilot new"
        assert said and "pilot old" in said[0]
    finally:
        stop(sleeper)


def test_pilot_lock_is_reentrant_in_its_process_and_promotion_lock_nests_inside() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        with locks.pilot_lock(Path(tmp), what="pilot p"):
            with locks.promotion_lock(Path(tmp), what="promote", wait_seconds=0):
                with locks.pilot_lock(Path(tmp), what="promote"):  # the pilot's own promote step
                    assert locks.holder_of(Path(tmp)).what == "pilot p"
            assert locks.holder_of(Path(tmp)).what == "pilot p"
        assert locks.holder_of(Path(tmp)) is None


def test_ingest_promote_and_rollback_are_refused_while_a_pilot_holds_the_store(shop: Path, tmp_path: Path) -> None:
    path = charter_file(shop, "refused")
    holder = hold_pilot_lock(shop, "pilot refused", tmp_path)
    try:
        for command in (["ingest"], ["promote"], ["rollback"]):
            done = cli_here(*command, "--pilot", str(path))  # another process holds it: refused here too
            assert done.returncode == EXIT_LOCKED, (command, done.stderr)
            assert "refused" in done.stderr and "pilot refused" in done.stderr, done.stderr
            assert f"PID {holder.pid} " in done.stderr
    finally:
        stop(holder)


@pytest.mark.slow
def test_a_second_pilot_and_an_ingest_are_refused_during_a_running_pilot(tmp_path: Path) -> None:
    started, release = tmp_path / "started", tmp_path / "release"
    path = write_project(tmp_path, notebook_cells=(
        LOGGING_CELL,
        f"import pathlib, time\npathlib.Path({str(started)!r}).write_text('1')\n"
        f"while not pathlib.Path({str(release)!r}).exists():\n    time.sleep(0.2)"))
    first = subprocess.Popen([PY, "-m", "workbench.cli", "run", "--pilot", str(path)], env=ENV,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(started.exists)
        again = cli_here("run", "--pilot", str(path), "--force")
        ingest = cli_here("ingest", "--pilot", str(path), "--force")
        for done in (again, ingest):
            assert done.returncode == EXIT_LOCKED, done.stderr
            assert "pilot tiny-pilot" in done.stderr and f"PID {first.pid} " in done.stderr
        release.write_text("1")
        _, err = first.communicate(timeout=120)
        assert first.returncode == 0, err
    finally:
        release.write_text("1")
        stop(first)
    assert locks.holder_of(tmp_path) is None


# -- 2. results bound to their data -------------------------------------------------------------------

CHANGE_TABLE = """
import duckdb
w = duckdb.connect(warehouse)  # an outside writer, behind the pilot's back
w.execute("delete from items where id = 1")
w.close()
"""


@pytest.mark.slow
def test_a_table_changed_while_a_step_runs_fails_that_step(tmp_path: Path) -> None:
    from workbench.steps.runner import run_pilot

    path = write_project(tmp_path, notebook_cells=(LOGGING_CELL, CHANGE_TABLE))
    with pytest.raises(StepError) as info:
        run_pilot(load_charter(path))
    text = str(info.value)
    assert "data changed under the pilot while it ran" in text and "items (fingerprint" in text
    assert "run the pilot again" in text
    store = Store(tmp_path)
    step = next(r for r in store.find_runs("tiny-pilot", max_results=100) if r.info.run_name == "measure")
    assert step.info.status == "FAILED" and "data changed" in step.data.tags[TAG["failure"]]
    assert step.data.tags["workbench.fingerprint.items"]  # the fingerprints the step was bound to


@pytest.mark.slow  # runs a pilot
def test_a_table_changed_between_ingest_and_a_step_fails_before_any_kernel(tmp_path: Path) -> None:
    import duckdb

    from workbench.steps.runner import run_pilot

    path = write_project(tmp_path)
    charter = load_charter(path)

    def progress(message: str) -> None:
        if message.strip().startswith("items:"):  # ingest is done; the notebook step comes next
            con = duckdb.connect(str(charter.warehouse_path))
            con.execute("insert into items values (99, 'intruder', 1.0)")
            con.close()

    with pytest.raises(StepError, match="data changed under the pilot before it ran: table\\(s\\) items"):
        run_pilot(charter, progress=progress)
    step = next(r for r in Store(tmp_path).find_runs("tiny-pilot", max_results=100) if r.info.run_name == "measure")
    assert step.info.status == "FAILED"
    assert Store(tmp_path).client.list_artifacts(step.info.run_id) == []  # no notebook ran


@pytest.mark.slow
def test_a_cached_step_is_reused_only_when_its_recorded_fingerprints_match(
        tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    from workbench.steps.runner import run_pilot

    # the fresh one-notebook project's first run (made once per worker, copied here)
    project, first = copy_of_first_run(tmp_path_factory, tmp_path)
    executed = first.steps[-1].run_id
    store = Store(project.parent)
    assert store.get_run(executed).data.tags["workbench.fingerprint.items"] == first.fingerprints["items"]
    store.set_tags(executed, {"workbench.fingerprint.items": "0000000000000000"})  # bound to other data
    said: list[str] = []
    second = run_pilot(load_charter(project), progress=said.append)
    assert second.steps[-1].status == "executed"
    assert any("not reusing run" in m and "fingerprints differ" in m for m in said)
    third = run_pilot(load_charter(project))
    assert third.steps[-1].status == "cached" and third.steps[-1].cached_from == second.steps[-1].run_id


# -- 3. promotion as a transaction -------------------------------------------------------------------


@pytest.mark.slow  # several CLI processes, each importing mlflow
def test_three_concurrent_promotes_leave_one_version_and_one_go(shop: Path) -> None:
    path = charter_file(shop, "race")
    charter, store = load_charter(path), Store(shop)
    build_pilot(store, charter, {"good": candidate_metrics(0.80)}, models=("good",))
    procs = [subprocess.Popen([PY, "-m", "workbench.cli", "promote", "--pilot", str(path), "--actor", f"p{i}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV) for i in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [o[1] for o in outs]
    stdouts = [o[0] for o in outs]
    assert sum("GO: candidate" in o for o in stdouts) == 1
    assert sum("ALREADY CHAMPION" in o for o in stdouts) == 2
    assert versions_of(store, charter) == ["1"] and alias_of(store, charter) == "1"
    outcomes = sorted(d.outcome for d in history(charter, store))
    assert outcomes == ["already-champion", "already-champion", "go"]
    report = audit(charter, store)
    assert report.ok and report.chained == 3, report.summary()


POINTS = ["before_record", "after_record", "after_alias"]


@pytest.mark.slow  # registers models
@pytest.mark.parametrize("point", POINTS)
def test_an_interrupt_at_each_point_of_promote_leaves_alias_and_records_consistent(
        shop: Path, monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    path = charter_file(shop, f"cut-{point.replace('_', '-')}")
    charter, store = load_charter(path), Store(shop)
    build_pilot(store, charter, {"good": candidate_metrics(0.80)}, models=("good",))

    def interrupt(name: str) -> None:
        if name == point:
            raise KeyboardInterrupt(f"injected at {name}")

    monkeypatch.setattr(registry, "_checkpoint", interrupt)
    with pytest.raises(KeyboardInterrupt):
        promote(charter, store, actor="ann")
    monkeypatch.undo()

    runs = decision_runs(store, charter)
    assert all(r.info.status != "RUNNING" for r in runs)
    if point == "before_record":
        assert runs == [] and alias_of(store, charter) is None and history(charter, store) == []
    elif point == "after_record":  # the record was pending, the alias had not moved: aborted
        assert alias_of(store, charter) is None and history(charter, store) == []
        (run,) = runs
        assert run.info.status == "KILLED" and run.data.tags["workbench.state"] == "aborted"
        record = json.loads(store.download_text(run.info.run_id, DECISION_ARTIFACT))
        assert record["state"] == "aborted" and record["alias_after"] is None
    else:  # the alias had moved: the record was completed, and history shows the move
        assert alias_of(store, charter) == "1"
        (go,) = history(charter, store)
        assert go.outcome == "go" and go.state == "completed" and go.alias_after == "1"
        assert runs[0].info.status == "FINISHED"
    report = audit(charter, store)
    assert report.ok, report.summary()
    # and the next promote simply goes on from there
    again = promote(charter, store)
    assert again.outcome == ("already-champion" if point == "after_alias" else "go")
    assert alias_of(store, charter) == "1" and versions_of(store, charter) == ["1"]
    assert audit(charter, store).ok


KILLED_PROMOTE = """
import os, sys
from workbench.decide import registry
from workbench.charter.config import load_charter
from workbench.decide.promotion import promote
from workbench.store.tracking import Store

def die(name):
    if name == sys.argv[2]:
        os._exit(9)  # as if SIGKILLed: no except, no finally

registry._checkpoint = die
charter = load_charter(sys.argv[1])
promote(charter, Store(charter.root))
"""


@pytest.mark.slow  # a CLI process, registers models
@pytest.mark.parametrize("point", ["after_record", "after_alias"])
def test_a_promoter_killed_outright_is_reconciled_at_the_next_start(shop: Path, point: str) -> None:
    path = charter_file(shop, f"killed-{point.replace('_', '-')}")
    charter, store = load_charter(path), Store(shop)
    build_pilot(store, charter, {"good": candidate_metrics(0.80)}, models=("good",))
    done = subprocess.run([PY, "-c", KILLED_PROMOTE, str(path), point], env=ENV, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 9, done.stderr
    (run,) = decision_runs(store, charter)
    assert run.data.tags["workbench.state"] == "pending"
    broken = audit(charter, store)
    assert not broken.ok and any(p.key.startswith("pending:") for p in broken.errors)
    assert history(charter, store) == []

    nxt = promote(charter, store)
    assert any("reconciled an unfinished decision" in n for n in nxt.notes), nxt.notes
    settled = json.loads(store.download_text(run.info.run_id, DECISION_ARTIFACT))
    if point == "after_alias":
        assert settled["state"] == "completed" and nxt.outcome == "already-champion"
    else:
        assert settled["state"] == "aborted" and nxt.outcome == "go"
    assert alias_of(store, charter) == "1" and versions_of(store, charter) == ["1"]
    assert all(r.info.status != "RUNNING" for r in decision_runs(store, charter))
    assert audit(charter, store).ok


@pytest.mark.slow  # runs a pilot
def test_a_pilot_run_reconciles_an_unfinished_decision_at_its_start(tmp_path: Path) -> None:
    from workbench.errors import IngestError
    from workbench.steps.runner import run_pilot

    path = charter_file(tmp_path, "resumed")
    (tmp_path / "flights.csv").write_text("a\nnot a number\n")  # the pilot stops at ingest, after reconciling
    for nb in ("b.ipynb", "e.ipynb"):
        write_notebook(tmp_path / nb, STEP_PARAMS)
    charter, store = load_charter(path), Store(tmp_path)
    build_pilot(store, charter, {"good": candidate_metrics(0.80)}, models=("good",))
    done = subprocess.run([PY, "-c", KILLED_PROMOTE, str(path), "after_alias"], env=ENV, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 9, done.stderr
    said: list[str] = []
    with pytest.raises(IngestError):
        run_pilot(charter, progress=said.append)
    assert any("reconciled an unfinished decision" in m and "completed" in m for m in said), said
    (go,) = history(charter, store)
    assert go.outcome == "go" and alias_of(store, charter) == "1"
    assert audit(charter, store).ok


# -- 4. rollback sticks ------------------------------------------------------------------------------

EVALUATE_CELL = """
import numpy as np, pandas as pd, workbench
from sklearn.linear_model import LogisticRegression
s = workbench.session(step_name, run_id=run_id, tracking_uri=tracking_uri, warehouse=warehouse, pilot_name=pilot_name)
with s.connect() as con:
    n = con.execute("select count(*) from items").fetchone()[0]
x = pd.DataFrame({"a": np.arange(8.0)})
with s.child("lr") as c:
    c.log_metrics({"demo.rows": n, "demo.c": c_value})
    c.log_model(LogisticRegression(C=c_value).fit(x, (x["a"] > 3).astype(int)), "model", input_example=x.head(2))
s.log_leakage(())  # checked: nothing carries the answer (the leakage gate reads it)
"""


@pytest.mark.slow
def test_after_a_rollback_a_cached_pilot_leaves_the_alias_where_the_rollback_put_it(tmp_path: Path) -> None:
    from workbench.steps.runner import run_pilot

    path = write_project(tmp_path, extra_yaml="""\
  - name: evaluate
    role: evaluate
    notebook: notebooks/evaluate.ipynb
    timeout_seconds: 120
    parameters: {c_value: 1.0}
gates:
  - {kind: threshold, metric: demo.rows, op: '>=', value: 1}
promotion: {model_name: tiny-model}
""" + PLAN_YAML)
    write_notebook(tmp_path / "notebooks" / "evaluate.ipynb", STEP_PARAMS + "step_name = 'evaluate'\nc_value = 1.0\n",
                   EVALUATE_CELL)
    store = Store(tmp_path)
    first = run_pilot(load_charter(path))
    assert first.decision.outcome == "go" and first.decision.model_version == "1"
    path.write_text(path.read_text().replace("{c_value: 1.0}", "{c_value: 2.0}"))  # a new model
    second = run_pilot(load_charter(path))
    assert second.decision.outcome == "go" and second.decision.model_version == "2"

    back = rollback(load_charter(path), store, actor="oncall")
    assert back.alias_after == "1" and alias_of(store, load_charter(path)) == "1"

    third = run_pilot(load_charter(path))  # same inputs as the second: the evaluate step is cached
    assert [s.status for s in third.steps if s.name == "evaluate"] == ["cached"]
    assert third.decision.outcome == "no-go"
    assert [g.kind for g in third.decision.failing] == ["rollback"]
    assert alias_of(store, load_charter(path)) == "1"  # where the rollback put it
    assert audit(load_charter(path), store).ok
    # ... until a new version passes the gates
    path.write_text(path.read_text().replace("{c_value: 2.0}", "{c_value: 3.0}"))
    fourth = run_pilot(load_charter(path))
    assert fourth.decision.outcome == "go" and fourth.decision.model_version == "3", fourth.decision.summary()
    assert alias_of(store, load_charter(path)) == "3" and audit(load_charter(path), store).ok


# -- 5. a tamper-evident audit ------------------------------------------------------------------------


def _promoted(shop: Path, name: str) -> tuple[Path, Any, Store, Any]:
    path = charter_file(shop, name)
    charter, store = load_charter(path), Store(shop)
    build_pilot(store, charter, {"good": candidate_metrics(0.80)}, models=("good",))
    decision = promote(charter, store, actor="ann")
    assert decision.outcome == "go" and audit(charter, store).ok
    return path, charter, store, decision


def _record_file(store: Store, run_id: str) -> Path:
    uri = store.get_run(run_id).info.artifact_uri
    return Path(uri.removeprefix("file://")) / DECISION_ARTIFACT


def test_audit_reports_a_pilot_run_whose_fingerprints_changed_after_its_decision(shop: Path) -> None:
    """The audit reads the runs a record cites by id (not the whole experiment): the pilot run
    it cites is among them, so its table fingerprints are checked against the record's."""
    path, charter, store, decision = _promoted(shop, "refingerprinted")
    assert decision.fingerprints
    table = sorted(decision.fingerprints)[0]
    store.set_tags(decision.pilot_run_id, {f"workbench.fingerprint.{table}": "0" * 16})
    keys = [p.key for p in audit(charter, store).errors]
    assert keys == [f"fingerprints:{decision.decision_run_id}"]


@pytest.mark.slow  # registers models
def test_a_forged_decision_record_is_reported_by_audit(shop: Path) -> None:
    path, charter, store, decision = _promoted(shop, "forged")
    file = _record_file(store, decision.decision_run_id)
    assert str(store.artifact_root) in str(file)  # the file under mlruns/artifacts
    data = json.loads(file.read_text())
    data["actor"] = "mallory"  # an invented actor, written straight into the artifact
    file.write_text(json.dumps(data, indent=2, sort_keys=True))
    report = audit(charter, store)
    assert not report.ok and [p.key for p in report.errors] == [f"hash:{decision.decision_run_id}"]
    assert "changed after it was written" in report.summary()

    # a forger who also recomputes the hash is caught by the run's tag (and the next record's link)
    data["sha256"] = registry.record_hash(data)
    file.write_text(json.dumps(data, indent=2, sort_keys=True))
    assert [p.key for p in audit(charter, store).errors] == [f"tag:{decision.decision_run_id}"]

    done = cli_here("audit", "--pilot", str(path))
    assert done.returncode == EXIT_AUDIT == 5, done.stdout + done.stderr
    assert "AUDIT FAILED" in done.stdout and decision.decision_run_id in done.stdout


@pytest.mark.slow  # registers models
def test_a_forged_rollback_record_outside_the_chain_is_reported(shop: Path) -> None:
    path, charter, store, decision = _promoted(shop, "fakeroll")
    fake = store.start_run(charter.name, "decision rollback", tags={TAG["kind"]: "decision"})
    record = {**decision.to_dict(), "outcome": "rollback", "actor": "ceo", "seq": None, "sha256": None,
              "prev_sha256": None, "timestamp": registry.now(), "decision_run_id": fake.run_id}
    store.log_dict(fake.run_id, record, DECISION_ARTIFACT)
    store.end_run(fake.run_id)
    assert any(h.actor == "ceo" for h in history(charter, store))  # history alone would believe it
    keys = [p.key for p in audit(charter, store).errors]
    assert f"unchained:{fake.run_id}" in keys


@pytest.mark.slow  # registers models
def test_an_alias_moved_directly_is_reported_and_promote_refuses_until_acknowledged(shop: Path) -> None:
    path, charter, store, decision = _promoted(shop, "moved")
    model = charter.promotion.model_name
    store.activate()
    store.client.create_model_version(model, source=f"models:/{decision.model_id}", run_id=decision.candidate_run_id)
    store.client.set_registered_model_alias(model, "champion", "2")  # behind the workbench's back
    report = audit(charter, store)
    assert not report.ok
    moved = f"alias:{decision.decision_run_id}:1->2"
    # issue 24: a version added behind the workbench's back is an error too, not a warning
    assert sorted(p.key for p in report.errors) == sorted([moved, "version:2"])
    assert "moved outside the workbench" in report.summary()

    with pytest.raises(AuditError, match="audit trail .* is broken") as info:
        promote(charter, store)
    assert info.value.exit_code == EXIT_AUDIT and "--acknowledge" in str(info.value)
    acked = promote(charter, store, acknowledge="moved by ops during incident 42, confirmed")
    assert sorted(acked.acknowledged["problems"]) == sorted([moved, "version:2"])
    assert acked.acknowledged["reason"].startswith("moved by ops")
    after = audit(charter, store)
    assert after.ok and any(p.severity == "acknowledged" for p in after.problems), after.summary()


def test_audit_reports_evidence_runs_that_are_gone(shop: Path) -> None:
    path, charter, store, decision = _promoted(shop, "gone")
    store.client.delete_run(decision.evidence["baseline"])
    keys = [p.key for p in audit(charter, store).errors]
    assert keys == [f"evidence:{decision.decision_run_id}:baseline"]


@pytest.mark.slow  # registers models
def test_each_record_carries_the_hash_of_the_previous_one(shop: Path) -> None:
    path, charter, store, first = _promoted(shop, "chain")
    second = promote(charter, store)
    build_pilot(store, charter, {"better": candidate_metrics(0.85)}, models=("better",), cache_key="key-2")
    third = promote(charter, store)
    back = rollback(charter, store)
    records = [first, second, third, back]
    assert [r.seq for r in records] == [1, 2, 3, 4]
    assert [r.prev_sha256 for r in records] == [None, first.sha256, second.sha256, third.sha256]
    for r in records:
        stored = json.loads(store.download_text(r.decision_run_id, DECISION_ARTIFACT))
        assert stored["sha256"] == r.sha256 == registry.record_hash(stored)
    report = audit(charter, store)
    assert report.ok and report.head == (4, back.sha256)



@pytest.mark.slow  # registers models
def test_a_record_removed_from_the_middle_of_the_chain_is_reported(shop: Path) -> None:
    path, charter, store, first = _promoted(shop, "gap")
    build_pilot(store, charter, {"better": candidate_metrics(0.85)}, models=("better",), cache_key="key-2")
    second = promote(charter, store)
    back = rollback(charter, store)
    assert audit(charter, store).ok
    store.client.delete_run(second.decision_run_id)  # the record of the move to v2 disappears
    keys = [p.key for p in audit(charter, store).errors]
    assert f"seq:3:{back.decision_run_id}" in keys and f"chain:{back.decision_run_id}" in keys, keys
    done = cli_here("audit", "--pilot", str(path))
    assert done.returncode == EXIT_AUDIT and "records are missing" in done.stdout, done.stdout + done.stderr

# -- 6. clean-up keeps the store; wiping it backs it up first -------------------------------------------


def _make(target: str, cwd: Path, *variables: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", "-f", str(REPO / "Makefile"), "-C", str(cwd), target, *variables],
                          capture_output=True, text=True, timeout=300, env=ENV)


@pytest.mark.slow  # several CLI processes, each importing mlflow
def test_make_clean_keeps_the_store_and_history(tmp_path: Path) -> None:
    path = charter_file(tmp_path, "cleaned")
    (tmp_path / "flights.csv").write_text("a\n1\n")
    for nb in ("b.ipynb", "e.ipynb"):
        write_notebook(tmp_path / nb, STEP_PARAMS)
    charter, store = load_charter(path), Store(tmp_path)
    build_pilot(store, charter, {"good": candidate_metrics(0.80)}, models=("good",))
    promote(charter, store)
    before = cli_here("history", "--pilot", str(path))
    assert before.returncode == 0 and "go" in before.stdout
    for junk in ("reports/x.html", "bench/results/r.md", "data/warehouse.duckdb", ".pytest_cache/x"):
        (tmp_path / junk).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / junk).write_text("x")

    done = _make("clean", tmp_path)
    assert done.returncode == 0, done.stderr
    assert not any((tmp_path / d).exists() for d in ("reports", "bench/results", "data", ".pytest_cache"))
    assert (tmp_path / "mlruns" / "mlflow.db").is_file() and (tmp_path / "mlruns" / "artifacts").is_dir()
    after = cli_here("history", "--pilot", str(path))
    assert after.returncode == 0 and after.stdout == before.stdout
    assert cli_here("audit", "--pilot", str(path)).returncode == 0


def test_make_wipe_store_refuses_without_confirmation_and_backs_up_first(tmp_path: Path) -> None:
    store = Store(tmp_path)
    run = store.start_run("wiped", "probe")
    store.end_run(run.run_id)
    (tmp_path / ".venv").symlink_to(REPO / ".venv")  # the Makefile runs .venv/bin/workbench

    refused = _make("wipe-store", tmp_path)
    assert refused.returncode != 0 and "CONFIRM=yes" in refused.stdout + refused.stderr
    assert (tmp_path / "mlruns" / "mlflow.db").is_file() and not (tmp_path / "backups").exists()

    holder = hold_pilot_lock(tmp_path, "pilot busy", tmp_path)
    try:
        busy = _make("wipe-store", tmp_path, "CONFIRM=yes")
        assert busy.returncode != 0 and "pilot busy" in busy.stderr
        assert (tmp_path / "mlruns" / "mlflow.db").is_file()
    finally:
        stop(holder)

    done = _make("wipe-store", tmp_path, "CONFIRM=yes")
    assert done.returncode == 0, done.stderr
    (archive,) = (tmp_path / "backups").glob("mlruns-*.tar.gz")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "mlruns/mlflow.db" in names and any(n.startswith("mlruns/artifacts") for n in names)
    assert not (tmp_path / "mlruns" / "mlflow.db").exists() and not (tmp_path / "mlruns" / "artifacts").exists()
    assert str(archive) in done.stdout


# -- 7. exposure -----------------------------------------------------------------------------------------


def test_loopback_detection() -> None:
    from workbench.store.exposure import is_loopback

    assert all(map(is_loopback, ["127.0.0.1", "127.0.1.1", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "192.168.1.5", "10.0.0.1", "example.org", ""]))


def test_ui_and_lab_refuse_a_non_loopback_host_without_auth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.store.exposure import JOB_RUNNER_ENV, lab_command, ui_command

    for name in ("MLFLOW_AUTH_CONFIG_PATH", "MLFLOW_FLASK_SERVER_SECRET_KEY", "JUPYTER_TOKEN", "JUPYTER_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    for host in ("0.0.0.0", "::", "192.168.1.5"):
        with pytest.raises(ExposureError, match=f"refusing to serve the MLflow UI on {host} without auth"):
            ui_command(tmp_path / "mlruns", host, 5000, auth=False, secrets_dir=tmp_path / ".secrets")
        with pytest.raises(ExposureError, match="refusing to serve JupyterLab"):
            lab_command(host, 8888, auth=False, secrets_dir=tmp_path / ".secrets", root_dir=tmp_path)
    assert not (tmp_path / ".secrets").exists()
    plain = ui_command(tmp_path / "mlruns", "127.0.0.1", 5000, auth=False, secrets_dir=tmp_path / ".secrets")
    assert "--app-name" not in plain.argv and set(plain.env) <= {JOB_RUNNER_ENV}  # no credential


def test_auth_generates_credentials_once_into_private_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.store.exposure import lab_command, ui_command

    for name in ("MLFLOW_AUTH_CONFIG_PATH", "MLFLOW_FLASK_SERVER_SECRET_KEY", "JUPYTER_TOKEN", "JUPYTER_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    secrets = tmp_path / ".secrets"
    first = ui_command(tmp_path / "mlruns", "0.0.0.0", 5000, auth=True, secrets_dir=secrets)
    assert first.argv[1:4] == ["server", "--app-name", "basic-auth"]
    config = Path(first.env["MLFLOW_AUTH_CONFIG_PATH"])
    password = next(line.split("= ", 1)[1] for line in config.read_text().splitlines()
                    if line.startswith("admin_password"))
    assert any(password in note for note in first.notes)  # shown once ...
    assert (config.stat().st_mode & 0o777) == 0o600 and (secrets.stat().st_mode & 0o777) == 0o700
    assert first.env["MLFLOW_FLASK_SERVER_SECRET_KEY"]
    again = ui_command(tmp_path / "mlruns", "0.0.0.0", 5000, auth=True, secrets_dir=secrets)
    assert not any(password in note for note in again.notes)  # ... and never again
    assert again.env == first.env

    lab = lab_command("0.0.0.0", 8888, auth=True, secrets_dir=secrets, root_dir=tmp_path)
    token_file = Path(lab.env["JUPYTER_TOKEN_FILE"])
    assert (token_file.stat().st_mode & 0o777) == 0o600 and token_file.read_text() in " ".join(lab.notes)
    assert not any(token_file.read_text() in a for a in lab.argv)  # never on a command line


def _listening(port: int) -> bool:
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        if any(line.split()[3] == "0A" and int(line.split()[1].rsplit(":", 1)[1], 16) == port for line in lines):
            return True
    return False


def test_make_ui_and_make_lab_refuse_binding_all_interfaces_without_auth(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in ENV.items() if k not in ("MLFLOW_AUTH_CONFIG_PATH", "JUPYTER_TOKEN", "JUPYTER_TOKEN_FILE")}
    for target, variables in (("ui", [f"UI_PORT={port}", f"MLRUNS={tmp_path / 'mlruns'}"]),
                              ("lab", [f"LAB_PORT={port}"])):
        done = subprocess.run(["make", "-s", target, "HOST=0.0.0.0", *variables], cwd=REPO, capture_output=True,
                              text=True, timeout=300, env=env)
        assert done.returncode != 0, done.stdout
        assert "refusing to serve" in done.stderr and "AUTH=1" in done.stderr, done.stderr
        assert not _listening(port)
    assert not (tmp_path / "mlruns" / "mlflow.db").exists()  # refused before touching the store


@pytest.mark.slow
def test_ui_with_auth_answers_only_with_credentials(tmp_path: Path) -> None:
    import base64
    import urllib.error
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in ENV.items() if k not in ("MLFLOW_AUTH_CONFIG_PATH", "MLFLOW_FLASK_SERVER_SECRET_KEY")}
    proc = subprocess.Popen([PY, "-m", "workbench.cli", "ui", "--mlruns", str(tmp_path / "mlruns"), "--auth",
                             "--port", str(port)], env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search?max_results=1"
    try:
        def answers() -> bool:
            assert proc.poll() is None, proc.stdout.read()
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5)
                return True
            except OSError:
                return False

        wait_for(answers, 120)
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(url, timeout=10)
        assert info.value.code == 401
        config = (tmp_path / ".secrets" / "mlflow-auth.ini").read_text()
        password = next(line.split("= ", 1)[1] for line in config.splitlines() if line.startswith("admin_password"))
        request = urllib.request.Request(url, headers={
            "Authorization": "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
