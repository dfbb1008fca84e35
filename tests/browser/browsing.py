"""What the browser tests share besides their fixtures (conftest.py): the `workbench` command,
the small customers table the shared pilot runs on, a `workbench ui` started and stopped, and
two waits in MLflow's pages."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

WORKBENCH = [sys.executable, "-m", "workbench.cli"]
WAIT_MS = 60_000


def customers(n: int = 1200, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "plus", "pro"], n)
    visits = rng.poisson(5, n)
    tenure = rng.integers(1, 60, n)
    amount = rng.gamma(2, 50, n).round(2)
    logit = -1 + 0.3 * (visits - 5) - 0.03 * tenure + 0.004 * amount + (plan == "basic") * 0.6
    churned = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"plan": plan, "visits": visits, "tenure": tenure, "amount": amount,
                         "email": [f"user{i}@example.org" for i in range(n)], "churned": churned})


def workbench(*args: str, port: int) -> subprocess.CompletedProcess:
    """A `workbench` command (its typer app, in this process: what is asserted is its output and
    what it wrote), with the UI's port for the links it prints."""
    from support import cli_here

    return cli_here(*args, env={"UI_PORT": str(port)})


@contextmanager
def serve_ui(mlruns: Path, port: int, log_path: Path, timeout: float = 300) -> Iterator[str]:
    """`workbench ui` (what `make ui` runs) on ``mlruns``; yields its base URL once it answers its
    health check and has printed its link; stops its process group afterwards."""
    log = log_path.open("wb")
    proc = subprocess.Popen([*WORKBENCH, "ui", "--mlruns", str(mlruns), "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the MLflow UI did not start: " + log_path.read_text(errors="replace")[-3000:])
            time.sleep(0.5)
        printed_by = time.monotonic() + 30  # its own wait: a slow start must not use it up
        while "MLflow UI" not in log_path.read_text(errors="replace"):  # printed once it answers
            if time.monotonic() > printed_by:
                raise RuntimeError("`workbench ui` printed no link")
            time.sleep(0.2)
        yield base
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        log.close()


def close_assistant(page) -> None:  # noqa: ANN001
    """The MLflow UI opens an assistant side panel (after a moment): close it, so the page
    and the screenshots show the runs."""
    close = page.locator("button[aria-label='Close']:visible")
    try:
        close.last.wait_for(timeout=8000)
        close.last.click(timeout=5000)
    except Exception:  # noqa: BLE001 - no assistant panel (or already closed): nothing to close
        return


def frame_with(page, title: str):  # noqa: ANN001, ANN201
    """The iframe (the MLflow artifact viewer's preview) whose document has this title."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        for frame in page.frames[1:]:
            try:
                if title in frame.evaluate("() => document.title"):
                    return frame
            except Exception:  # noqa: BLE001 - a frame still loading
                continue
        page.wait_for_timeout(300)
    raise AssertionError(f"no frame titled {title!r}: {[f.url for f in page.frames]}")
