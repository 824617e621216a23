"""The two database engines behind the repositories: SQLite (default) and PostgreSQL.

Theory
------
Every storage operation is one *transaction function*: a plain blocking function of a
:class:`Tx` that reads, checks and writes.  :meth:`Database.run` runs it in a worker thread
(``trio.to_thread`` under the database's ``CapacityLimiter``, so the Trio loop never blocks and
at most ``threads`` connections are busy) inside ``BEGIN`` .. ``COMMIT``; any exception rolls it
back, so a refused or failed operation changes nothing.  A write is acknowledged (the awaited
call returns) only after ``COMMIT`` returned, which both engines make durable first: SQLite with
``journal_mode=WAL`` + ``synchronous=FULL`` (the WAL is fsynced at every commit), PostgreSQL
with its default ``synchronous_commit=on``.

* **SQLite**: one file, a small pool of connections (``check_same_thread=False``; each is used
  by one thread at a time).  Writers use ``BEGIN IMMEDIATE``, which takes the database's single
  write lock at the start, so two writers (threads or processes on one machine) are serialized
  and a read-check-write can never go stale; ``busy_timeout`` makes the second one wait.
  ``foreign_keys=ON`` is set on every connection (it is per connection in SQLite).
* **PostgreSQL**: psycopg 3 with a ``psycopg_pool.ConnectionPool`` (its async API is asyncio
  only, so it also runs in worker threads).  Each connection is checked before it is handed out,
  so a server restart costs no failed command.  A transaction that fails because the connection
  broke *before* COMMIT was sent changed nothing and is retried on a fresh connection; one that
  broke *during* COMMIT has an unknown outcome and is reported (``maybe_saved``), never retried.
  Serialization across processes is explicit (``SELECT .. FOR UPDATE`` on a scope row, advisory
  locks), see the repositories.

SQL is written once with ``?`` placeholders; :class:`Tx` turns them into ``%s`` for psycopg.
"""

from __future__ import annotations

import contextlib
import queue
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

import structlog
import trio

from musicbot.storage.errors import (
    CorruptFile,
    DatabaseUnavailable,
    DiskFull,
    PermissionDenied,
    StorageError,
    StorageIOError,
)

log = structlog.get_logger(__name__)

R = TypeVar("R")
Dialect = Literal["sqlite", "postgres"]
Row = tuple[Any, ...]

DEFAULT_THREADS: Final = 4
SQLITE_FILE: Final = "musicbot.sqlite3"
SQLITE_BUSY_TIMEOUT: Final = 15.0  # seconds a writer waits for another one (any process)
PG_CONNECT_TIMEOUT: Final = 5.0  # seconds to get a connection before the member is told
PG_RETRIES: Final = 2  # re-runs of a transaction whose connection broke before COMMIT

# SQLite primary result codes (sqlite3.h).
_SQLITE_PERM: Final = 3
_SQLITE_BUSY: Final = 5
_SQLITE_LOCKED: Final = 6
_SQLITE_READONLY: Final = 8
_SQLITE_IOERR: Final = 10
_SQLITE_CORRUPT: Final = 11
_SQLITE_FULL: Final = 13
_SQLITE_CANTOPEN: Final = 14
_SQLITE_NOTADB: Final = 26


class Tx:
    """One open transaction (blocking; only valid inside the function given to ``run``)."""

    def __init__(self, conn: Any, dialect: Dialect) -> None:
        self._conn = conn
        self.dialect: Dialect = dialect

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgres" else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; the number of rows it changed."""
        cur = self._conn.execute(self._sql(sql), tuple(params))
        return int(cur.rowcount)

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row = self._conn.execute(self._sql(sql), tuple(params)).fetchone()
        return tuple(row) if row is not None else None

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return [tuple(r) for r in self._conn.execute(self._sql(sql), tuple(params)).fetchall()]

    def now(self) -> float:
        """UNIX time by the database's clock (one clock for every process and machine)."""
        if self.dialect == "postgres":
            row = self.one("SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8")
            assert row is not None
            return float(row[0])
        return time.time()


class Database(ABC):
    """An engine: ``run(fn)`` executes ``fn(tx)`` as one transaction in a worker thread."""

    dialect: Dialect
    where: str  # for messages and logs: never contains a password

    def __init__(self, threads: int) -> None:
        self.limiter = trio.CapacityLimiter(threads)
        # Row revisions this process last read (key -> revision), for the lost-update check.
        # Each key is touched only by the one task that owns that row (see musicbot.storage).
        self.revisions: dict[tuple[str, int], int] = {}

    async def run(self, fn: Callable[[Tx], R], *, write: bool = True) -> R:
        # Not abandoned on cancellation: a started transaction always commits or rolls back.
        return await trio.to_thread.run_sync(self.run_blocking, fn, write, limiter=self.limiter)

    @abstractmethod
    def run_blocking(self, fn: Callable[[Tx], R], write: bool = True) -> R: ...

    @abstractmethod
    def close(self) -> None: ...


# ---------------------------------------------------------------------------- SQLite


def sqlite_error(exc: sqlite3.Error, path: Path) -> StorageError:
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary == _SQLITE_FULL:
        return DiskFull(path)
    if primary in (_SQLITE_READONLY, _SQLITE_PERM):
        return PermissionDenied(path, "write")
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return DatabaseUnavailable(str(path), f"busy for {SQLITE_BUSY_TIMEOUT:g} s: {exc}")
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return CorruptFile(path, f"the database file is damaged ({exc})")
    if primary in (_SQLITE_IOERR, _SQLITE_CANTOPEN):
        return StorageIOError(path, "database", primary, str(exc))
    return StorageIOError(path, "database", primary or 0, str(exc))


class SqliteDatabase(Database):
    dialect: Dialect = "sqlite"

    def __init__(
        self,
        path: Path,
        *,
        threads: int = DEFAULT_THREADS,
        pragmas: Sequence[str] = (),
    ) -> None:
        super().__init__(threads)
        self.path = path
        self.where = str(path)
        self._pragmas = tuple(pragmas)
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()  # guards _all (connection bookkeeping, not domain state)

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                timeout=SQLITE_BUSY_TIMEOUT,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                check_same_thread=False,
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            for pragma in self._pragmas:
                conn.execute(f"PRAGMA {pragma}")
        except sqlite3.Error as exc:
            raise sqlite_error(exc, self.path) from exc
        except OSError as exc:
            raise StorageIOError(self.path, "open", exc.errno or 0, str(exc)) from exc
        with self._lock:
            self._all.append(conn)
        return conn

    def _take(self) -> sqlite3.Connection:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            return self._connect()

    def run_blocking(self, fn: Callable[[Tx], R], write: bool = True) -> R:
        conn = self._take()
        try:
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    result = fn(Tx(conn, "sqlite"))
                    conn.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise sqlite_error(exc, self.path) from exc
            return result
        finally:
            self._idle.put(conn)

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()


# ---------------------------------------------------------------------------- PostgreSQL


def redact_url(url: str) -> str:
    """The URL without its password (for logs and messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ""
    return urlunsplit((parts.scheme, user + host, parts.path, "", ""))


def url_password(url: str) -> str:
    return urlsplit(url).password or ""


class PostgresDatabase(Database):
    dialect: Dialect = "postgres"

    def __init__(
        self,
        url: str,
        *,
        threads: int = DEFAULT_THREADS,
        connect_timeout: float = PG_CONNECT_TIMEOUT,
    ) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool, PoolTimeout

        super().__init__(threads)
        self._pool_timeout = PoolTimeout
        self.url = url  # holds the password: never logged (``where`` is what is shown)
        self.where = redact_url(url)
        self._psycopg = psycopg
        self._timeout = connect_timeout
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=threads,
            open=False,
            check=ConnectionPool.check_connection,
            timeout=connect_timeout,
            kwargs={"autocommit": True, "connect_timeout": max(1, int(connect_timeout))},
            name="musicbot",
        )

    def open(self) -> None:
        """Open the pool and wait for a first connection (DatabaseUnavailable if none)."""
        try:
            self._pool.open(wait=True, timeout=self._timeout)
        except Exception as exc:
            self._pool.close()
            raise DatabaseUnavailable(self.where, _reason(exc)) from None

    def run_blocking(self, fn: Callable[[Tx], R], write: bool = True) -> R:
        psycopg = self._psycopg
        for attempt in range(PG_RETRIES + 1):
            committing = False
            try:
                with self._pool.connection() as conn:
                    with conn.transaction():
                        result = fn(Tx(conn, "postgres"))
                        committing = True  # COMMIT is sent when this block exits
                    return result
            except self._pool_timeout as exc:
                # No connection within connect_timeout: the server is down or full. Waiting
                # again would only keep the member waiting longer.
                raise DatabaseUnavailable(self.where, _reason(exc)) from None
            except psycopg.OperationalError as exc:
                broken = not committing and attempt < PG_RETRIES
                log.warning(
                    "database_connection_lost",
                    where=self.where,
                    error=_reason(exc),
                    retrying=broken,
                )
                if broken:
                    continue
                raise DatabaseUnavailable(self.where, _reason(exc), committing) from None
            except psycopg.Error as exc:
                # Anything else the server refused (a constraint, a value out of range):
                # typed, so a command answers instead of crashing its actor.
                raise StorageIOError(Path(self.where), "database", 0, _reason(exc)) from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._pool.close()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# ---------------------------------------------------------------------------- choosing


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def sqlite_path(url: str, data_dir: Path) -> Path:
    """``""`` = ``<data_dir>/musicbot.sqlite3``; ``sqlite:///abs/path`` or ``sqlite:rel/path``."""
    if url == "":
        return data_dir / SQLITE_FILE
    rest = url.removeprefix("sqlite:")
    if rest.startswith("///"):
        return Path(rest[2:])
    return data_dir / rest.lstrip("/") if not Path(rest).is_absolute() else Path(rest)


def connect(url: str, data_dir: Path, *, threads: int = DEFAULT_THREADS) -> Database:
    """Blocking: the engine for ``[storage] url`` (call from a worker thread)."""
    if is_postgres_url(url):
        db = PostgresDatabase(url, threads=threads)
        db.open()
        return db
    return SqliteDatabase(sqlite_path(url, data_dir), threads=threads)
