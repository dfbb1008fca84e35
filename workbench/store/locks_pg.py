"""The pilot and promotion locks of a team tracking server: PostgreSQL advisory locks.

Processes that share only a tracking server (two clones, two machines) cannot see each
other's lock files, so a store behind ``http(s)://`` takes its locks in a PostgreSQL
database both reach — the server's own cluster, ``$WORKBENCH_LOCK_URI`` (``make
tracking-server`` prints it and writes it to ``.tracking-server/client.env``).

- A lock is ``pg_try_advisory_lock(key)`` on a connection opened for it and held for the
  lock's life; ``key`` is a 64-bit hash of (scope, lock name), the scope being the pilot's
  name (:attr:`workbench.store.tracking.Store.lock_scope`): pilots of other names on the same
  server do not wait for each other, two clones of one pilot do.
- The holder (:class:`workbench.store.locks.Holder`, as JSON) is written to the table
  ``workbench_lock_holders`` with the holding session's backend PID; a refused taker reads
  it back — only while that session still holds the lock (``pg_locks``) — and names it.
- A holder that dies ends its session (the kernel closes its socket; TCP keepalives catch
  a vanished machine), and PostgreSQL frees the lock with it: nothing to clean up. Its
  stale row is replaced by the next taker, who is told whom it replaced.
- A waiter (the promotion lock) polls, so Ctrl-C and SIGTERM reach it at once.

If the lock database restarts while a lock is held, the lock is gone with it (the holder
is not told); restart the server between pilots.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import TrackingError
from .locks import Holder, register_backend

__all__ = ["PgLockBackend", "redact", "TABLE"]

TABLE = "workbench_lock_holders"
_SETUP_KEY = 0x776B_6C6F_636B_7331  # serialises creating the table ("wklocks1")
_POLL_S = 0.25
_READY: set[str] = set()  # DSNs whose table this process has created or found


def redact(dsn: str) -> str:
    """The DSN without its password (for messages)."""
    try:
        parts = urlsplit(dsn)
    except ValueError:
        return "<the lock database>"
    if parts.password is None:
        return dsn
    netloc = f"{parts.username}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _key(scope: str, name: str) -> int:
    """A signed 64-bit advisory-lock key for (scope, name)."""
    digest = hashlib.sha256(f"workbench-lock\0{scope}\0{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _halves(key: int) -> tuple[int, int]:
    """(classid, objid) under which pg_locks shows a bigint advisory key."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    return unsigned >> 32, unsigned & 0xFFFF_FFFF


@dataclass
class _PgHandle:
    conn: Any
    key: int
    name: str
    holder: Holder
    took_over: Holder | None


class PgLockBackend:
    """Advisory locks in the PostgreSQL database at ``dsn``, one set per ``scope``."""

    def __init__(self, dsn: str, scope: str, *, tracking_uri: str = "") -> None:
        self.dsn = dsn
        self.scope = scope
        on = f" on {tracking_uri}" if tracking_uri else ""
        self.location = f"{redact(dsn)} (locks of {scope}{on})"

    # -- connections -------------------------------------------------------------------
    def _connect(self) -> Any:
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise TrackingError("the PostgreSQL driver (psycopg) is not installed", where=self.location,
                                hint="`make setup` installs it") from exc
        try:
            conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=10, application_name="workbench lock",
                                   keepalives=1, keepalives_idle=30, keepalives_interval=10, keepalives_count=3)
        except psycopg.Error as exc:
            raise TrackingError(
                f"cannot reach the lock database {redact(self.dsn)}: {str(exc).strip().splitlines()[0][:300]}",
                where=self.location,
                hint="check $WORKBENCH_LOCK_URI (the tracking server's PostgreSQL; a local server: `workbench server "
                "status`, `make tracking-server`)") from exc
        try:
            self._ensure_table(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _ensure_table(self, conn: Any) -> None:
        if self.dsn in _READY:
            return
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SETUP_KEY,))
            conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ("
                         "scope text NOT NULL, name text NOT NULL, holder jsonb NOT NULL, "
                         "backend_pid integer NOT NULL, since timestamptz NOT NULL DEFAULT now(), "
                         "PRIMARY KEY (scope, name))")
        _READY.add(self.dsn)

    def _fault(self, exc: BaseException, doing: str) -> TrackingError:
        return TrackingError(f"the lock database {redact(self.dsn)} failed while {doing}: "
                             f"{str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__}",
                             where=self.location, hint="check that the tracking server's PostgreSQL runs, then retry")

    # -- the protocol --------------------------------------------------------------------
    def acquire(self, name: str, holder: Holder, *, timeout: float) -> _PgHandle | None:
        import psycopg

        key = _key(self.scope, name)
        conn = self._connect()
        try:
            deadline = time.monotonic() + max(timeout, 0.0)
            while not conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:
                left = deadline - time.monotonic()
                if left <= 0:
                    conn.close()
                    return None
                time.sleep(min(_POLL_S, left))
            row = conn.execute(f"SELECT holder FROM {TABLE} WHERE scope = %s AND name = %s",
                               (self.scope, name)).fetchone()
            conn.execute(f"INSERT INTO {TABLE} (scope, name, holder, backend_pid) VALUES (%s, %s, %s, pg_backend_pid()) "
                         "ON CONFLICT (scope, name) DO UPDATE SET holder = EXCLUDED.holder, "
                         "backend_pid = EXCLUDED.backend_pid, since = now()",
                         (self.scope, name, json.dumps(holder.to_dict())))
        except psycopg.Error as exc:
            conn.close()
            raise self._fault(exc, f"taking the {name} lock") from exc
        except BaseException:
            conn.close()
            raise
        previous = _holder(row[0]) if row is not None else None
        # the lock was free, so a recorded holder is one whose session ended without
        # clearing its row (a killed process): the lock freed itself with the session
        stale = previous if previous is not None and not previous.is_me() else None
        return _PgHandle(conn, key, name, holder, stale)

    def release(self, handle: _PgHandle) -> None:
        try:
            handle.conn.execute(f"DELETE FROM {TABLE} WHERE scope = %s AND name = %s AND backend_pid = pg_backend_pid()",
                                (self.scope, handle.name))
            handle.conn.execute("SELECT pg_advisory_unlock(%s)", (handle.key,))
        except Exception:  # noqa: BLE001 - closing the session frees the lock anyway
            pass
        finally:
            handle.conn.close()

    def holder(self, name: str) -> Holder | None:
        """The live holder: its row, while its session still holds the advisory lock."""
        import psycopg

        classid, objid = _halves(_key(self.scope, name))
        conn = self._connect()
        try:
            row = conn.execute(
                f"SELECT h.holder FROM {TABLE} h WHERE h.scope = %s AND h.name = %s AND EXISTS ("
                "SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.pid = h.backend_pid "
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND l.classid::bigint = %s AND l.objid::bigint = %s AND l.objsubid = 1)",
                (self.scope, name, classid, objid)).fetchone()
        except psycopg.Error as exc:
            raise self._fault(exc, f"reading the {name} lock's holder") from exc
        finally:
            conn.close()
        return _holder(row[0]) if row is not None else None


def _holder(data: Any) -> Holder | None:
    try:
        return Holder.from_dict(data if isinstance(data, dict) else json.loads(data))
    except (ValueError, KeyError, TypeError):
        return None


def _factory(store: Any) -> PgLockBackend:
    uri = store.tracking_uri
    dsn = getattr(store, "lock_uri", None)
    if not dsn:
        from .tracking import LOCK_URI_ENV

        raise TrackingError(
            f"the store {uri} is a tracking server, and its pilot and promotion locks need a database every "
            "client reaches: none is configured", where=uri,
            hint=f"set {LOCK_URI_ENV} to the server's PostgreSQL (postgresql://user:password@host:port/db); a local "
            "server started with `make tracking-server` prints it and keeps it in .tracking-server/client.env "
            "(`set -a; . .tracking-server/client.env; set +a`)")
    dsn = dsn.replace("postgresql+psycopg://", "postgresql://", 1)
    return PgLockBackend(dsn, getattr(store, "lock_scope", None) or "(whole server)", tracking_uri=uri)


register_backend("http", _factory)
register_backend("https", _factory)
