"""Process identity: is the process that wrote a PID still that process?

A PID alone is not an identity: the kernel reuses them. A process is named by its PID
together with its start time, so a run or a lock whose recorded process died, and whose
PID now belongs to another process, is recognised as abandoned.
"""

from __future__ import annotations

import os

__all__ = ["same_start", "started", "driver_gone", "alive"]

START_TOLERANCE_S = 1.0  # psutil derives start times from the boot time, which may shift by a second


def same_start(a: float, b: float) -> bool:
    return abs(a - b) <= START_TOLERANCE_S


def started(pid: int) -> float | None:
    """The process start time (epoch seconds), None if unknown."""
    try:
        import psutil

        return psutil.Process(pid).create_time()
    except Exception:  # noqa: BLE001 - gone or not ours to inspect
        return None


def driver_gone(pid: int, started_tag: str | None) -> bool:
    """True when the run's driver process is dead, or its PID now belongs to another process."""
    try:
        recorded = float(started_tag) if started_tag else None
    except ValueError:
        recorded = None
    if recorded is None:  # runs from before the start-time tag: PID liveness only
        return pid != os.getpid() and not alive(pid)
    if not alive(pid):
        return True
    try:
        import psutil

        actual = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return True
    except Exception:  # noqa: BLE001 - cannot tell (access denied): assume it is the driver
        return False
    return not same_start(actual, recorded)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
