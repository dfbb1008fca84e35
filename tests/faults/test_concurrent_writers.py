"""Issue 24: many writers on one sqlite store lose nothing.

A call refused with "database is locked" (another process holds the file past sqlite's busy
timeout, or sqlite refuses at once to avoid a deadlock) is retried with backoff."""

from __future__ import annotations

import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from support import ENV, PY
from workbench.store.tracking import Store

WRITER = """
import pathlib, sys, time
from workbench.store.tracking import Store
root, me, batches, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), pathlib.Path(sys.argv[4])
store = Store(root)
run = store.start_run("crowd", f"writer {me}")
pathlib.Path(root, f"ready-{me}").write_text(run.run_id)
while not go.exists():  # every writer starts at once
    time.sleep(0.01)
for i in range(batches):
    store.log_metrics(run.run_id, {f"m{k}": float(i * 10 + k) for k in range(5)}, step=i)
store.end_run(run.run_id)
"""


@pytest.mark.slow  # eight processes importing mlflow, 1,200 batches on 2 cores
def test_eight_concurrent_writers_times_150_batches_lose_no_value(tmp_path: Path) -> None:
    writers, batches = 8, 150
    Store(tmp_path).ensure_created()
    go = tmp_path / "go"
    procs = [subprocess.Popen([PY, "-c", WRITER, str(tmp_path), str(i), str(batches), str(go)], env=ENV,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(writers)]
    try:
        deadline = time.monotonic() + 300
        while len(list(tmp_path.glob("ready-*"))) < writers:
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs), \
                [p.communicate()[1][-2000:] for p in procs if p.poll() is not None]
            time.sleep(0.1)
        go.write_text("go")
        outs = [p.communicate(timeout=600) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0] * writers, [o[1][-2000:] for o in outs]
    store = Store(tmp_path)
    lost = 0
    for i in range(writers):
        run_id = (tmp_path / f"ready-{i}").read_text()
        assert store.status(run_id) == "FINISHED"
        for k in range(5):
            history = store.client.get_metric_history(run_id, f"m{k}")
            lost += batches - len({m.step for m in history})
    assert lost == 0


@pytest.mark.slow  # holds the database past sqlite's 20 s busy timeout
def test_a_write_waits_out_a_database_held_past_the_busy_timeout(tmp_path: Path) -> None:
    store = Store(tmp_path)
    run = store.start_run("held", "writer")
    holder = sqlite3.connect(tmp_path / "mlruns" / "mlflow.db", timeout=0, isolation_level=None,
                             check_same_thread=False)  # released from the timer thread
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(22.0, holder.rollback)  # longer than MLflow's busy_timeout (20 s)
    release.start()
    try:
        store.log_metrics(run.run_id, {"kept": 1.0})
    finally:
        release.join()
        holder.close()
    assert store.get_run(run.run_id).data.metrics == {"kept": 1.0}
