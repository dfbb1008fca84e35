"""Issue 24: many writers on one sqlite store lose nothing.

A call refused with "database is locked" (another process holds the file past sqlite's busy
timeout, or sqlite refuses at once to avoid a deadlock) is retried with backoff."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from support import store_processes
from workbench.store.tracking import Store


def _writer(root: str, me: int, batches: int, go: str) -> None:
    """One writer process: a run of its own, then ``batches`` metric batches once every writer is ready."""
    store = Store(root)
    run = store.start_run("crowd", f"writer {me}")
    Path(root, f"ready-{me}").write_text(run.run_id)
    while not Path(go).exists():  # every writer starts at once
        time.sleep(0.01)
    for i in range(batches):
        store.log_metrics(run.run_id, {f"m{k}": float(i * 10 + k) for k in range(5)}, step=i)
    store.end_run(run.run_id)


@pytest.mark.slow  # eight processes, 1,200 batches on 2 cores
def test_eight_concurrent_writers_times_150_batches_lose_no_value(tmp_path: Path) -> None:
    writers, batches = 8, 150
    Store(tmp_path).ensure_created()
    go = tmp_path / "go"
    ctx = store_processes()  # eight real processes, each opening the store itself
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), i, batches, str(go))) for i in range(writers)]
    for p in procs:
        p.start()
    try:
        deadline = time.monotonic() + 300
        while len(list(tmp_path.glob("ready-*"))) < writers:
            assert time.monotonic() < deadline and all(p.exitcode is None for p in procs), \
                [p.exitcode for p in procs]
            time.sleep(0.1)
        go.write_text("go")
        for p in procs:
            p.join(timeout=600)
    finally:
        for p in procs:
            if p.exitcode is None:
                p.kill()
    assert [p.exitcode for p in procs] == [0] * writers  # a writer's traceback is on the test's stderr
    store = Store(tmp_path)
    lost = 0
    for i in range(writers):
        run_id = (tmp_path / f"ready-{i}").read_text()
        assert store.status(run_id) == "FINISHED"
        for k in range(5):
            history = store.client.get_metric_history(run_id, f"m{k}")
            lost += batches - len({m.step for m in history})
    assert lost == 0


def test_a_write_waits_out_a_database_held_past_the_busy_timeout(tmp_path: Path) -> None:
    """MLflow sets sqlite's busy timeout to 20 s on every session; here it is 1 s (rewritten on its
    way to sqlite, and counted), so holding the database for 3 s is past it without idling a
    test worker for 22 s. The write still fails in sqlite and is retried by the Store."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    rewritten = []

    def one_second(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ANN202
        if statement.replace(" ", "").lower().startswith("pragmabusy_timeout=20000"):
            rewritten.append(statement)
            return "PRAGMA busy_timeout = 1000;", parameters
        return statement, parameters

    event.listen(Engine, "before_cursor_execute", one_second, retval=True)
    try:
        store = Store(tmp_path)
        run = store.start_run("held", "writer")
        holder = sqlite3.connect(tmp_path / "mlruns" / "mlflow.db", timeout=0, isolation_level=None,
                                 check_same_thread=False)  # released from the timer thread
        holder.execute("BEGIN EXCLUSIVE")
        release = threading.Timer(3.0, holder.rollback)  # longer than the busy timeout (1 s)
        release.start()
        started = time.monotonic()
        try:
            store.log_metrics(run.run_id, {"kept": 1.0})
        finally:
            release.join()
            holder.close()
        waited = time.monotonic() - started
    finally:
        event.remove(Engine, "before_cursor_execute", one_second)
    assert rewritten, "MLflow no longer sets busy_timeout = 20000: this test no longer shortens it"
    assert waited >= 2.5, waited  # the write did wait for the holder (not around it)
    assert store.get_run(run.run_id).data.metrics == {"kept": 1.0}
