"""Locks over a pilot's store: one pilot at a time, one registry change at a time.

Two locks per MLflow store, each naming its holder (what, PID and process start time,
host, user, command line, since when):

``pilot_lock``       held for a whole ``workbench run`` (ingest → report) and, for their
                     duration, by ``workbench ingest``, ``promote`` and ``rollback``. A second
                     taker is refused at once (:class:`StoreLockedError` naming the holder).
                     Re-entrant within the holding process, so the pilot's own promote step
                     goes through.
``promotion_lock``   serialises registry changes (promote, rollback, reconciliation of an
                     unfinished decision). A second promoter waits for it, then reads the
                     registry afresh — so concurrent promotes yield one version, one GO.

Lock order: a promoter takes the promotion lock (waiting) and then the pilot lock
(never waiting); a pilot holds the pilot lock and waits for the promotion lock only in its
promote step. One side never waits, so the two cannot deadlock.

A holder whose process is gone — its PID is dead, or now belongs to a process that started
later (a reused PID; the same PID + start-time test as ``tracking.sweep_stale``, from :mod:`workbench.store.procs`) — is taken
over, and the taker is told whom it replaced.

Backends. :class:`FileLockBackend` (``filelock``; the lock and a holder JSON beside the
sqlite store: ``<mlruns>/.pilot.lock``, ``<mlruns>/.promotion.lock``) serves a local store.
A store behind a shared tracking server (``http(s)://``) takes its locks from the server's
PostgreSQL: advisory locks, :mod:`workbench.store.locks_pg` (loaded on first use). Another
backend: implement :class:`LockBackend` and ``register_backend(scheme, factory)``;
:func:`backend_for` picks it by the tracking URI's scheme and calls ``factory(store)``.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from . import procs
from ..errors import StoreLockedError, TrackingError
from ..files import write_whole

__all__ = [
    "Holder",
    "LockBackend",
    "FileLockBackend",
    "backend_for",
    "register_backend",
    "pilot_lock",
    "promotion_lock",
    "holder_of",
    "PILOT",
    "PROMOTION",
    "signals_blocked",
    "sigterm_as_interrupt",
]

PILOT, PROMOTION = "pilot", "promotion"
PROMOTION_WAIT_S = 600.0  # how long a promoter waits for another one to finish
_log = logging.getLogger("workbench.store.locks")
Say = Callable[[str], None]


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: enough to find the process and to tell whether it is still there."""

    what: str  # e.g. "pilot churn", "promote", "ingest"
    pid: int
    pid_started: float | None  # the process start time (epoch s): a reused PID is another process
    host: str
    user: str
    command: str
    since: str  # ISO 8601, local time with offset

    @classmethod
    def me(cls, what: str) -> Holder:
        try:
            user = getpass.getuser()
        except Exception:  # noqa: BLE001 - no login name (containers)
            user = "unknown"
        return cls(what=what, pid=os.getpid(), pid_started=procs.started(os.getpid()), host=socket.gethostname(),
                   user=user, command=_command(), since=time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    def describe(self) -> str:
        return (f"{self.what} (PID {self.pid} on {self.host}, user {self.user}, since {self.since}"
                + (f": {self.command}" if self.command else "") + ")")

    def gone(self) -> bool:
        """True when the holder's process no longer exists (on this host; elsewhere: unknown → False)."""
        if self.host != socket.gethostname():
            return False
        return procs.driver_gone(self.pid, repr(self.pid_started) if self.pid_started is not None else None)

    def is_me(self) -> bool:
        if self.pid != os.getpid() or self.host != socket.gethostname():
            return False
        mine = procs.started(self.pid)
        return self.pid_started is None or mine is None or procs.same_start(self.pid_started, mine)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Holder:
        started = data.get("pid_started")
        return cls(what=str(data.get("what", "?")), pid=int(data["pid"]),
                   pid_started=float(started) if started is not None else None, host=str(data.get("host", "?")),
                   user=str(data.get("user", "?")), command=str(data.get("command", "")),
                   since=str(data.get("since", "?")))


def _command() -> str:
    try:
        cmd = Path("/proc/self/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        cmd = " ".join(sys.argv)
    return cmd[:300]


class LockBackend(Protocol):
    """Where a store's locks live. ``acquire`` returns a handle, or None when ``timeout``
    passed with the lock still taken (``timeout=0``: one attempt). ``took_over`` on the
    handle is the stale holder it replaced, if any."""

    location: str  # shown in messages (a folder, a server URI)

    def acquire(self, name: str, holder: Holder, *, timeout: float) -> Any | None: ...

    def release(self, handle: Any) -> None: ...

    def holder(self, name: str) -> Holder | None: ...


@dataclass
class _FileHandle:
    lock: Any
    holder_path: Path
    holder: Holder
    took_over: Holder | None


class FileLockBackend:
    """``filelock`` locks (flock on a local filesystem) with the holder in a JSON file beside
    each: ``<folder>/.<name>.lock`` and ``<folder>/.<name>.holder.json``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.location = str(self.folder)

    def _paths(self, name: str) -> tuple[Path, Path]:
        return self.folder / f".{name}.lock", self.folder / f".{name}.holder.json"

    def holder(self, name: str) -> Holder | None:
        return _read_holder(self._paths(name)[1])

    def acquire(self, name: str, holder: Holder, *, timeout: float) -> _FileHandle | None:
        from filelock import FileLock, Timeout

        self.folder.mkdir(parents=True, exist_ok=True)
        lock_path, holder_path = self._paths(name)
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            lock = FileLock(str(lock_path), timeout=max(0.0, deadline - time.monotonic()))
            try:
                lock.acquire()
            except Timeout:
                return None
            previous = self.holder(name)
            if previous is not None and not previous.is_me() and not previous.gone():
                # the flock is ours, yet the recorded holder lives: its lock file was removed
                # and recreated under it. Mutual exclusion holds only through the record now.
                lock.release()
                if time.monotonic() >= deadline:
                    return None
                time.sleep(0.2)
                continue
            _write_json(holder_path, holder.to_dict())
            stale = previous if previous is not None and not previous.is_me() else None
            return _FileHandle(lock, holder_path, holder, stale)

    def release(self, handle: _FileHandle) -> None:
        try:
            current = _read_holder(handle.holder_path)
            if current is not None and current.pid == handle.holder.pid and current.since == handle.holder.since:
                handle.holder_path.unlink()
        except OSError:
            pass
        finally:
            handle.lock.release()


def _read_holder(path: Path) -> Holder | None:
    try:
        return Holder.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    write_whole(path, json.dumps(data, indent=1))


# -- choosing a backend ---------------------------------------------------------------------

_BACKENDS: dict[str, Callable[[Any], LockBackend]] = {}
_BUILTIN = {"http": ".locks_pg", "https": ".locks_pg"}  # scheme -> module that registers its backend on import


def register_backend(scheme: str, factory: Callable[[Any], LockBackend]) -> None:
    """Locks for stores whose tracking URI starts with ``scheme`` (e.g. ``http``).

    ``factory(store)`` gets the Store: its ``tracking_uri``, and for a server its
    ``lock_uri`` and ``lock_scope`` (see :class:`workbench.store.tracking.Store`)."""
    _BACKENDS[scheme] = factory


def backend_for(store_or_root: Any) -> LockBackend:
    """The lock backend of a Store, an ``mlruns`` folder, or a project root (its ``mlruns/``)."""
    uri = getattr(store_or_root, "tracking_uri", None)
    if uri is None:
        path = Path(store_or_root)
        folder = path if path.name == "mlruns" or (path / "mlflow.db").exists() else path / "mlruns"
        return FileLockBackend(folder.resolve())
    if uri.startswith("sqlite:///"):
        db = uri.removeprefix("sqlite:///").split("?", 1)[0]
        return FileLockBackend(Path(db).resolve().parent)
    scheme = uri.split(":", 1)[0].split("+", 1)[0]
    if scheme not in _BACKENDS and scheme in _BUILTIN:
        import importlib

        importlib.import_module(_BUILTIN[scheme], __package__)  # registers itself
    if scheme in _BACKENDS:
        return _BACKENDS[scheme](store_or_root)
    raise TrackingError(f"no lock backend for a store at {uri}", where=uri,
                        hint="pilots, promotions and rollbacks need one; use a local sqlite store "
                        "(the default), or register a backend for this server (workbench.store.locks.register_backend)")


# -- the two locks ----------------------------------------------------------------------------

_held_lock = threading.Lock()
_HELD: dict[tuple[str, str], list[Any]] = {}  # (location, name) -> [count, handle, pid]: re-entry in-process


def _refusal(what: str, name: str, backend: LockBackend, holder: Holder | None, waited: float) -> StoreLockedError:
    who = holder.describe() if holder is not None else "another workbench process (it has not recorded itself yet)"
    stale = ""
    if holder is not None and holder.gone():
        stale = (f"; the recorded holder's process is gone, yet the lock is still taken — a child process may have "
                 f"inherited it (check `fuser {backend.location}/.{name}.lock`)")
    return StoreLockedError(
        f"{what} refused: the {name} lock of this store is held by {who}"
        + (f" (waited {waited:.0f} s)" if waited else "") + stale,
        where=backend.location,
        hint="wait for it to finish (a pilot ends by itself: `make ui` shows its progress), or stop that process; "
        "a holder whose process has died is taken over automatically",
    )


@contextlib.contextmanager
def _locked(store_or_root: Any, name: str, what: str, *, timeout: float, reentrant: bool,
            say: Say | None) -> Iterator[Holder]:
    backend = backend_for(store_or_root)
    key = (backend.location, name)
    if reentrant:
        with _held_lock:
            entry = _HELD.get(key)
            if entry is not None and entry[2] == os.getpid():
                entry[0] += 1
                reentered = entry
            else:
                reentered = None
        if reentered is not None:
            try:
                yield reentered[1].holder
            finally:
                with _held_lock:
                    reentered[0] -= 1
            return
    me = Holder.me(what)
    started = time.monotonic()
    handle = backend.acquire(name, me, timeout=timeout)
    if handle is None:
        raise _refusal(what, name, backend, backend.holder(name), time.monotonic() - started if timeout else 0.0)
    if getattr(handle, "took_over", None) is not None:
        message = (f"took over the {name} lock from {handle.took_over.describe()}, whose process is gone")
        (say or _log.warning)(message)
    if reentrant:
        with _held_lock:
            _HELD[key] = [1, handle, os.getpid()]
    try:
        yield me
    finally:
        if reentrant:
            with _held_lock:
                _HELD.pop(key, None)
        backend.release(handle)


def pilot_lock(store_or_root: Any, *, what: str, say: Say | None = None) -> contextlib.AbstractContextManager[Holder]:
    """Hold the store's pilot lock, or raise :class:`StoreLockedError` naming its holder (never waits).

    Re-entrant in the holding process: the pilot's promote step passes through."""
    return _locked(store_or_root, PILOT, what, timeout=0.0, reentrant=True, say=say)


def promotion_lock(store_or_root: Any, *, what: str, wait_seconds: float = PROMOTION_WAIT_S,
                   say: Say | None = None) -> contextlib.AbstractContextManager[Holder]:
    """Hold the store's promotion lock, waiting up to ``wait_seconds`` for another promoter."""
    return _locked(store_or_root, PROMOTION, what, timeout=wait_seconds, reentrant=False, say=say)


def holder_of(store_or_root: Any, name: str = PILOT) -> Holder | None:
    """The recorded holder of a lock (None when free or unrecorded)."""
    return backend_for(store_or_root).holder(name)


@contextlib.contextmanager
def signals_blocked() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back while a short critical section (a record and its tags) runs;
    they are delivered when it ends, to the handlers in force then. Main thread only (a
    no-op elsewhere).

    Deferred by Python-level handlers, not by the thread's signal mask: the kernel may
    deliver a signal to any thread (MLflow and SQLAlchemy start some), and Python then runs
    its handler in the main thread whatever the main thread's mask says."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def defer(signum: int, frame: Any) -> None:
        caught.append(signum)

    previous: dict[int, Any] = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, defer)
    except (ValueError, OSError):  # no signals here (an embedded interpreter)
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        for sig in dict.fromkeys(caught):
            signal.raise_signal(sig)


@contextlib.contextmanager
def sigterm_as_interrupt(raise_: Callable[[int], BaseException] | None = None) -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt, or what ``raise_(signum)`` returns (main thread
    only), so a half-done change is settled by its ``except``/``finally`` blocks instead of
    the process vanishing mid-way."""
    import signal

    def handler(signum: int, frame: Any) -> None:
        raise raise_(signum) if raise_ is not None else KeyboardInterrupt(f"signal {signum}")

    if raise_ is None and threading.current_thread() is threading.main_thread() \
            and callable(signal.getsignal(signal.SIGTERM)):
        yield  # a caller (the pilot) already turns SIGTERM into an exception, and may keep count: keep its
        return
    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
