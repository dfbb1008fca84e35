"""The xdist scheduler of `make test` (tests/conftest.py's pytest_xdist_make_scheduler hook).

A plain module, not conftest: tests/test_scheduling.py imports it by name (a second
conftest.py, tests/data/contracts/, shadows `conftest` on sys.path)."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

_SHARED_FIXTURE = re.compile(r"""@pytest\.fixture\(\s*scope\s*=\s*["'](module|package|session)["']""")
_SPREAD_MARK = re.compile(r"mark\.xdist_spread\b")
_GROUP_MARK = re.compile(r"""xdist_group\(\s*(?:name\s*=\s*)?["']([^"']+)["']""")
DURATIONS_FILE = Path(__file__).with_name("durations.json")
_CACHE_KEY = "workbench/test-durations"
# a test never measured: an end-to-end (slow, browser) test costs tens of seconds, the rest under one
_GUESS_SLOW, _GUESS_FAST = 30.0, 0.5


@functools.lru_cache(maxsize=None)
def _source(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def _shares_fixtures(path: Path) -> bool:
    return bool(_SHARED_FIXTURE.search(_source(path)))


@functools.lru_cache(maxsize=None)
def _slow_tests(path: Path) -> tuple[bool, frozenset[str]]:
    """(every test in the file is slow, the names of the tests marked slow or browser one by one)."""
    import ast

    try:
        tree = ast.parse(_source(path))
    except SyntaxError:
        return False, frozenset()
    heavy = ("mark.slow", "mark.browser")
    whole = any(isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in node.targets)
                and any(h in ast.unparse(node.value) for h in heavy) for node in tree.body)
    names = {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
             and any(h in ast.unparse(d) for d in node.decorator_list for h in heavy)}
    return whole, frozenset(names)


def _guess(rootpath: Path, nodeid: str) -> float:
    module, _, name = nodeid.partition("::")
    whole, names = _slow_tests(rootpath / module)
    return _GUESS_SLOW if whole or name.split("[", 1)[0] in names else _GUESS_FAST


def _known_durations(config: pytest.Config) -> dict[str, float]:
    import json

    known: dict[str, float] = {}
    try:
        known.update(json.loads(DURATIONS_FILE.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        pass
    if getattr(config, "cache", None) is not None:
        known.update(config.cache.get(_CACHE_KEY, {}))
    return known


def make_scheduler(config: pytest.Config, log):  # noqa: ANN001, ANN201 - for pytest-xdist's hook
    """`make test` (-n N --dist loadgroup): the tests of a module that shares a module-scoped
    fixture, or of the modules marked with one xdist_group, run on one worker in file order, so
    the fixture is built once; every other test goes alone to whichever worker is free; the
    longest units go first. (pytest-xdist's own `xdist_group` handling cannot do this under
    pytest 9: the group suffix it writes into a test's node id is no longer read back.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from collections import OrderedDict

    from xdist.scheduler import LoadGroupScheduling

    known = _known_durations(config)

    def seconds(nodeid: str) -> float:
        return known.get(nodeid, known.get(nodeid.split("[", 1)[0], _guess(config.rootpath, nodeid)))

    class LongestFirst(OrderedDict):
        """xdist's work queue; the unit it hands out next is the longest one left."""

        def popitem(self, last: bool = True):  # noqa: ANN201, ARG002 - OrderedDict's signature
            scope = max(self, key=lambda s: sum(map(seconds, self[s])))
            return scope, self.pop(scope)

    class SharedFixtureScheduling(LoadGroupScheduling):
        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            super().__init__(*args, **kwargs)
            self.workqueue = LongestFirst()

        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            group = _GROUP_MARK.search(_source(config.rootpath / module))
            if group:
                return "group:" + group.group(1)
            if _shares_fixtures(config.rootpath / module) and not _SPREAD_MARK.search(_source(config.rootpath / module)):
                return module
            return super()._split_scope(nodeid)

        def _reschedule(self, node) -> None:  # noqa: ANN001
            # xdist hands a worker its next unit while it still has two tests to run; a worker only
            # waits once it holds one (it keeps the last test until it knows the next). Handing out
            # later keeps a long unit from being queued behind another long one on a busy worker.
            if node.shutting_down:
                return
            if not self.workqueue:
                node.shutdown()
                return
            if self._pending_of(self.assigned_work[node]) > 1:
                return
            self._assign_work_unit(node)

    return SharedFixtureScheduling(config, log)
