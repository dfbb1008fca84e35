"""The xdist scheduler of `make test` (tests/xdist_scheduling.py): shared set-ups stay on one worker, the
longest work goes first, and a worker is not handed more while it still has work of its own."""

from __future__ import annotations

import json
import types
from pathlib import Path

import xdist_scheduling


class _Config:
    def __init__(self, root: Path) -> None:
        self.rootpath = root
        self.option = types.SimpleNamespace(loadscopereorder=True, maxschedchunk=None)
        self.cache = None

    def getvalue(self, name: str):  # noqa: ANN201
        return {"dist": "loadgroup", "tx": ["popen", "popen"]}.get(name)


class _Node:
    def __init__(self, name: str) -> None:
        self.gateway = types.SimpleNamespace(id=name)
        self.shutting_down = False
        self.sent: list[list[int]] = []

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent.append(indices)

    def shutdown(self) -> None:
        self.shutting_down = True


def _write(root: Path, name: str, text: str) -> None:
    (root / name).write_text(text)


def _scheduler(root: Path, ids: list[str]):  # noqa: ANN202
    sched = xdist_scheduling.make_scheduler(_Config(root), None)
    nodes = [_Node("gw0"), _Node("gw1")]
    for node in nodes:
        sched.add_node(node)
        sched.add_node_collection(node, ids)
    return sched, nodes


def test_groups_and_the_longest_unit_first(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    _write(tmp_path, "test_a.py", "import pytest\npytestmark = pytest.mark.xdist_group('shared')\n")
    _write(tmp_path, "test_b.py", "import pytest\npytestmark = [pytest.mark.xdist_group(name='shared')]\n")
    _write(tmp_path, "test_c.py", "import pytest\n@pytest.fixture(scope='module')\ndef built(): ...\n")
    _write(tmp_path, "test_d.py", "import pytest\n@pytest.mark.slow\ndef test_long(): ...\ndef test_quick(): ...\n")
    _write(tmp_path, "test_e.py", "def test_one(): ...\n")
    _write(tmp_path, "test_f.py", "import pytest\npytestmark = pytest.mark.xdist_spread\n"
                                  "@pytest.fixture(scope='module')\ndef cheap(): ...\n")
    ids = ["test_a.py::test_1", "test_b.py::test_2", "test_c.py::test_3", "test_c.py::test_4",
           "test_d.py::test_long", "test_d.py::test_quick", "test_e.py::test_one", "test_f.py::test_5"]
    # measured: test_e's one test is the longest of all; nothing else is known
    durations = tmp_path / "durations.json"
    durations.write_text(json.dumps({"test_e.py::test_one": 500.0}))
    monkeypatch.setattr(xdist_scheduling, "DURATIONS_FILE", durations)
    sched, nodes = _scheduler(tmp_path, ids)
    units = {sched._split_scope(i) for i in ids}
    assert units == {"group:shared", "test_c.py", "test_d.py::test_long", "test_d.py::test_quick",
                     "test_e.py::test_one", "test_f.py::test_5"}
    sched.schedule()
    first = [list(sched.assigned_work[n])[0] for n in nodes]
    # the measured 500 s first, then the slow-marked test (an estimate)
    assert first == ["test_e.py::test_one", "test_d.py::test_long"]
    # each then holds one test and would wait: it gets the next longest (two tests each); the
    # single quick test is what is left
    assert sorted(sched.workqueue) == ["test_d.py::test_quick", "test_f.py::test_5"]


def test_a_worker_gets_more_only_when_it_would_otherwise_wait(tmp_path: Path) -> None:
    _write(tmp_path, "test_x.py", "import pytest\n@pytest.fixture(scope='module')\ndef built(): ...\n")
    _write(tmp_path, "test_y.py", "def test_1(): ...\ndef test_2(): ...\n")
    ids = ["test_x.py::test_1", "test_x.py::test_2", "test_y.py::test_1", "test_y.py::test_2"]
    sched, (busy, idle) = _scheduler(tmp_path, ids)
    sched.schedule()
    # two tests to go: one runs while the next waits its turn, so nothing more is queued behind
    # them (xdist's default would); a worker holding one test waits for a second, so it gets one
    assert list(sched.assigned_work[busy]) == ["test_x.py"]
    assert list(sched.assigned_work[idle]) == ["test_y.py::test_1", "test_y.py::test_2"]
    assert not sched.workqueue
