"""`workbench` ends without the interpreter's teardown of its modules (a cached rerun spent
~0.9 s in it), yet keeps what a normal exit gives: the exit code, the atexit handlers, every
line printed, and a thread still working finishes first."""

from __future__ import annotations

import subprocess
import sys

import pytest

from workbench.cli import EXIT_ERROR

PROBE = """
import atexit, sys, threading, time
from workbench import cli
atexit.register(lambda: print("atexit ran", flush=True))
if {thread}:
    def work():
        time.sleep(0.5)
        print("thread done", flush=True)
    threading.Thread(target=work).start()
sys.argv = ["workbench", *{args!r}]
print("unflushed line", end="")
cli.run_main()
"""


@pytest.mark.parametrize(("args", "code"), [(["--help"], 0), (["run", "--pilot", "no-such-pilot.yaml"], EXIT_ERROR),
                                           (["no-such-command"], 2)])
def test_the_exit_keeps_the_code_the_handlers_and_the_output(tmp_path, args: list[str], code: int) -> None:
    done = subprocess.run([sys.executable, "-c", PROBE.format(thread=False, args=args)], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert "atexit ran" in done.stdout and "unflushed line" in done.stdout, done.stdout[-500:]
    assert done.returncode == code, done.stderr[-2000:]


def test_a_thread_still_working_is_not_cut_off(tmp_path) -> None:
    done = subprocess.run([sys.executable, "-c", PROBE.format(thread=True, args=["--help"])], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0 and "thread done" in done.stdout and "atexit ran" in done.stdout, done.stdout[-500:]
