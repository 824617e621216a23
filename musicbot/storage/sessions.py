"""Session snapshots (``<data_dir>/sessions/<guild_id>.json``) and the debounced writer.

Each guild actor writes only its own guild's file; ``load_all`` runs once at start-up, before
guild actors exist.  The :class:`SnapshotWriter` lets an actor call ``mark_dirty()`` on every
change (cheap, sync) while a task writes the latest state at most once per ``period`` seconds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final, Generic, TypeVar

import attrs
import structlog
import trio

from musicbot.storage import files
from musicbot.storage.errors import CorruptFile, StorageError
from musicbot.storage.io import FileIO
from musicbot.storage.models import SESSION_CODEC, SessionSnapshot
from musicbot.storage.sql_docs import SqlSessions

log = structlog.get_logger(__name__)

T = TypeVar("T")

_GUILD_FILE: Final = re.compile(r"^([0-9]{1,20})\.json$")
RETRY_MIN_DELAY: Final = 1.0  # seconds between attempts after a failed snapshot write


@attrs.frozen(kw_only=True)
class SessionRestore:
    """What ``load_all`` found: good snapshots, and files that could not be read (kept)."""

    snapshots: tuple[SessionSnapshot, ...]
    unreadable: tuple[CorruptFile, ...] = ()


@attrs.define
class SessionStore:
    directory: Path
    io: FileIO
    sql: SqlSessions | None = None  # the database engine; ``directory`` is unused then

    def path_for(self, guild_id: int) -> Path:
        """The file of ``guild_id``'s snapshot; raises ``ValueError`` for a negative id."""
        if guild_id < 0:
            raise ValueError("a guild id is never negative")
        return self.directory / f"{int(guild_id)}.json"

    async def save(self, snapshot: SessionSnapshot) -> None:
        """Write ``snapshot``, replacing the guild's previous one."""
        path = self.path_for(snapshot.guild_id)
        if self.sql is not None:
            await self.sql.save(snapshot)
            return
        # Snapshots are disposable: an unreadable old one is moved aside, never a reason to stop.
        await self.io.run(
            lambda: files.write_document(path, snapshot, SESSION_CODEC, replace_unreadable=True)
        )

    async def load(self, guild_id: int) -> SessionSnapshot | None:
        """The session snapshot of ``guild_id``, or None."""
        path = self.path_for(guild_id)
        if self.sql is not None:
            return await self.sql.load(guild_id)
        return await self.io.run(lambda: files.read_document(path, SESSION_CODEC))

    async def delete(self, guild_id: int) -> None:
        """Delete the session snapshot of ``guild_id`` (nothing when there is none)."""
        path = self.path_for(guild_id)
        if self.sql is not None:
            await self.sql.delete(guild_id)
            return
        await self.io.run(lambda: files.delete_document(path, SESSION_CODEC))

    def _load_all(self) -> SessionRestore:
        good: list[SessionSnapshot] = []
        bad: list[CorruptFile] = []
        for name in files.document_names(self.directory):
            m = _GUILD_FILE.match(name)
            if m is None:
                continue
            try:
                snap = files.read_document(self.directory / name, SESSION_CODEC)
            except CorruptFile as exc:
                bad.append(exc)
                log.warning("session_snapshot_skipped", path=str(exc.path), reason=exc.reason)
                continue
            if snap is not None and snap.guild_id == int(m.group(1)):
                good.append(snap)
            elif snap is not None:
                log.warning("session_snapshot_misplaced", path=name, guild_id=snap.guild_id)
        log.info("session_snapshots_loaded", count=len(good), unreadable=len(bad))
        return SessionRestore(snapshots=tuple(good), unreadable=tuple(bad))

    async def load_all(self) -> SessionRestore:
        """Every readable snapshot, for restoring sessions at start-up; unreadable ones reported."""
        if self.sql is not None:
            good, bad = await self.sql.load_all()
            return SessionRestore(snapshots=tuple(good), unreadable=tuple(bad))
        return await self.io.run(self._load_all)


class SnapshotWriter(Generic[T]):
    """Debounced persistence of an actor's state.

    Theory: the owner calls :meth:`mark_dirty` after each change.  :meth:`run` (a task in the
    owner's nursery) writes as soon as something is dirty, then at most once per ``period``
    seconds (measured on the Trio clock, so ``MockClock`` drives it in tests).  A write captures
    the state by calling ``capture()`` right before writing, so it always persists the *latest*
    state and a burst of changes costs one write.  ``capture`` must be a plain sync function of
    the owner's state (no awaits), so it sees a consistent state.  :meth:`flush` writes now if
    anything is unwritten; call it on shutdown.  :meth:`discard` drops unwritten changes (call it
    before deleting the snapshot when a session ends).  Writes never overlap (one at a time).

    A failed write (disk full ...) is logged, counted in ``failures`` and retried after
    ``period``; the state stays dirty.  ``flush`` (the final write of a graceful stop) never
    raises a storage error: it logs ``snapshot_flush_failed`` and returns False.
    """

    def __init__(
        self,
        *,
        capture: Callable[[], T],
        write: Callable[[T], Awaitable[None]],
        period: float,
        name: str = "snapshot",
    ) -> None:
        if not period >= 0 or math.isinf(period):
            raise ValueError("period must be a finite number >= 0")
        self._capture = capture
        self._write = write
        self.period = period
        self.name = name
        self._generation = 0  # bumped by mark_dirty
        self._written = 0  # generation of the last successful write
        self._wakeup = trio.Event()
        self._writing = trio.Lock()  # serializes writes to the one file, not domain state
        self._last_write_at = -math.inf
        self.writes = 0
        self.failures = 0

    @property
    def dirty(self) -> bool:
        return self._generation != self._written

    def mark_dirty(self) -> None:
        """The state changed: :meth:`run` writes it soon."""
        self._generation += 1
        self._wakeup.set()

    async def _write_now(self) -> None:
        async with self._writing:
            if not self.dirty:
                return
            generation = self._generation
            state = self._capture()
            self._last_write_at = trio.current_time()
            await self._write(state)
            self._written = max(self._written, generation)
            self.writes += 1

    async def flush(self) -> bool:
        """Write the latest state now if it is not written yet.

        True when everything is written; False (logged, counted) when the write failed.
        """
        try:
            await self._write_now()
        except StorageError as exc:
            self.failures += 1
            log.error("snapshot_flush_failed", snapshot=self.name, error=str(exc))
            return False
        return True

    async def discard(self) -> None:
        """Forget unwritten changes, after any write in progress has finished.

        Call before deleting the file (the session ended), so that neither a pending nor an
        in-flight write can bring the deleted snapshot back.  Later ``mark_dirty`` calls
        start writing again.
        """
        async with self._writing:
            self._written = self._generation

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Write whenever dirty, at most once per ``period``; a failed write is logged and retried
        later. Runs until cancelled."""
        task_status.started()
        while True:
            if not self.dirty:
                await self._wakeup.wait()
            self._wakeup = trio.Event()
            await trio.sleep_until(self._last_write_at + self.period)
            try:
                await self._write_now()
            except StorageError as exc:
                self.failures += 1
                log.error("snapshot_write_failed", snapshot=self.name, error=str(exc))
                # Wait before retrying (at least a second, so period 0 cannot spin).
                await trio.sleep(max(self.period, RETRY_MIN_DELAY))
