"""The test suite's CPU by test, all processes included: where `make test`'s time goes.

A pytest plugin for a serial run (one test at a time, so the machine's CPU during a test is
that test's): for each test, the CPU the whole machine spent while it ran (``/proc/stat``
busy time: the test process, its kernels, servers, JVMs and Chromium, also those no parent
waits for, which ``time`` leaves out) and its wall time. Run it from the repository's root
on a quiet machine (not with bench/ on PYTHONPATH: its profile.py would shadow the standard
library's in every kernel):

    CI=true .venv/bin/python -m pytest -n 0 -p bench.suite_cpu -q

It writes bench/results/suite_cpu.json ({test: {cpu, wall}}) and prints the total and the
modules that cost most. The total over the number of cores is the floor of `make test`'s wall
time on that many workers, with every core busy all the time. Linux only (``/proc/stat``).
"""

from __future__ import annotations

import collections
import json
import os
import time
from pathlib import Path

import pytest

OUT = Path(__file__).resolve().parent / "results" / "suite_cpu.json"
_measured: dict[str, dict[str, float]] = {}


def _busy() -> float:
    """Seconds of CPU the machine has spent busy since boot (all cores)."""
    with open("/proc/stat", encoding="ascii") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):  # noqa: ANN201 - a hook wrapper
    cpu, wall = _busy(), time.monotonic()
    yield
    _measured[item.nodeid] = {"cpu": round(_busy() - cpu, 2), "wall": round(time.monotonic() - wall, 2)}


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _measured:
        return
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(_measured, indent=0, sort_keys=True) + "\n", encoding="utf-8")


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001 - pytest's reporter
    if not _measured:
        return
    cpu = sum(v["cpu"] for v in _measured.values())
    wall = sum(v["wall"] for v in _measured.values())
    cores = os.cpu_count() or 1
    say = terminalreporter.write_line
    say(f"suite CPU: {cpu:.0f} s over {len(_measured)} tests ({wall:.0f} s of wall, one at a time); "
        f"on {cores} cores at best {cpu / cores:.0f} s of wall")
    modules: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0])
    for nodeid, v in _measured.items():
        modules[nodeid.split("::", 1)[0]][0] += v["cpu"]
        modules[nodeid.split("::", 1)[0]][1] += v["wall"]
    for name, (c, w) in sorted(modules.items(), key=lambda kv: -kv[1][0])[:15]:
        say(f"  {c:6.1f} s CPU {w:6.1f} s wall  {name}")
    say(f"wrote {OUT}")
