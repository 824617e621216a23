"""Guild settings and session snapshots in the database (one row per guild each).

Both rows hold the same versioned JSON document the file store writes.

* **Settings** are owned by the process serving the guild, but during a shard move two
  processes may both hold a copy: every save therefore checks the row's ``revision`` against
  the one this process last read (``Database.revisions``) and refuses a stale save with
  :class:`Conflict` (the member is told; the next save, made knowingly, goes through).  An
  unreadable row is moved to ``quarantine``, reported, and the defaults are used (as with files).
* **Snapshots** are disposable and last-writer-wins (upsert); an unreadable one is reported by
  ``load_all`` and moved to ``quarantine`` so the next save starts afresh.
"""

from __future__ import annotations

import structlog

from musicbot.storage.codec import DecodeProblem
from musicbot.storage.db import Database, Tx
from musicbot.storage.errors import Conflict, CorruptRow
from musicbot.storage.models import SESSION_CODEC, SETTINGS_CODEC, GuildSettings, SessionSnapshot
from musicbot.storage.schema import quarantine

log = structlog.get_logger(__name__)


class SqlSettings:
    def __init__(self, db: Database, guild_id: int) -> None:
        self.db = db
        self.guild_id = guild_id

    @property
    def _key(self) -> tuple[str, int]:
        return ("settings", self.guild_id)

    def _load(self, tx: Tx) -> GuildSettings:
        row = tx.one(
            "SELECT data, revision FROM guild_settings WHERE guild_id = ?", (self.guild_id,)
        )
        if row is None:
            self.db.revisions[self._key] = 0
            return GuildSettings()
        data, revision = str(row[0]), int(row[1])
        try:
            settings = SETTINGS_CODEC.decode(data.encode("utf-8"))
        except DecodeProblem as exc:
            where = f"{self.db.where}#guild_settings/{self.guild_id}"
            quarantine(tx, "guild_settings", where, data, str(exc))
            tx.execute("DELETE FROM guild_settings WHERE guild_id = ?", (self.guild_id,))
            log.error(
                "guild_settings_unreadable",
                row=where,
                reason=str(exc),
                moved_aside="quarantine",
                using="defaults",
            )
            self.db.revisions[self._key] = 0
            return GuildSettings()
        self.db.revisions[self._key] = revision
        return settings

    def _save(self, tx: Tx, settings: GuildSettings) -> None:
        data = SETTINGS_CODEC.encode(settings).decode("utf-8")
        expected = self.db.revisions.get(self._key)
        lock = " FOR UPDATE" if tx.dialect == "postgres" else ""
        row = tx.one(
            "SELECT revision FROM guild_settings WHERE guild_id = ?" + lock, (self.guild_id,)
        )
        found = int(row[0]) if row is not None else 0
        if expected is not None and found != expected:
            # Seen now: a save made after the member was told goes through.
            self.db.revisions[self._key] = found
            raise Conflict(f"settings of guild {self.guild_id}", expected, found)
        if row is None:
            inserted = tx.execute(
                "INSERT INTO guild_settings (guild_id, data, revision) VALUES (?, ?, 1)"
                " ON CONFLICT DO NOTHING",
                (self.guild_id, data),
            )
            if inserted != 1:  # created by another process since our SELECT
                self.db.revisions.pop(self._key, None)
                raise Conflict(f"settings of guild {self.guild_id}", 0, 1)
        else:
            tx.execute(
                "UPDATE guild_settings SET data = ?, revision = ? WHERE guild_id = ?",
                (data, found + 1, self.guild_id),
            )
        self.db.revisions[self._key] = found + 1

    async def load(self) -> GuildSettings:
        return await self.db.run(self._load)

    async def save(self, settings: GuildSettings) -> None:
        await self.db.run(lambda tx: self._save(tx, settings))


class SqlSessions:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _save(self, tx: Tx, snapshot: SessionSnapshot) -> None:
        data = SESSION_CODEC.encode(snapshot).decode("utf-8")
        tx.execute(
            "INSERT INTO sessions (guild_id, data, saved_at) VALUES (?, ?, ?)"
            " ON CONFLICT (guild_id) DO UPDATE SET data = excluded.data,"
            " saved_at = excluded.saved_at, revision = sessions.revision + 1",
            (snapshot.guild_id, data, snapshot.saved_at),
        )

    def _decode(self, tx: Tx, guild_id: int, data: str) -> SessionSnapshot | CorruptRow:
        try:
            snap = SESSION_CODEC.decode(data.encode("utf-8"))
            if snap.guild_id != guild_id:
                raise DecodeProblem(f"snapshot of guild {snap.guild_id} in the row of {guild_id}")
        except DecodeProblem as exc:
            where = f"{self.db.where}#sessions/{guild_id}"
            quarantine(tx, "sessions", where, data, str(exc))
            tx.execute("DELETE FROM sessions WHERE guild_id = ?", (guild_id,))
            log.warning("session_snapshot_skipped", row=where, reason=str(exc))
            return CorruptRow.at(where, str(exc))
        return snap

    def _load(self, tx: Tx, guild_id: int) -> SessionSnapshot | None:
        row = tx.one("SELECT data FROM sessions WHERE guild_id = ?", (guild_id,))
        if row is None:
            return None
        found = self._decode(tx, guild_id, str(row[0]))
        return None if isinstance(found, CorruptRow) else found

    def _load_all(self, tx: Tx) -> tuple[list[SessionSnapshot], list[CorruptRow]]:
        good: list[SessionSnapshot] = []
        bad: list[CorruptRow] = []
        for guild_id, data in tx.all("SELECT guild_id, data FROM sessions ORDER BY guild_id"):
            found = self._decode(tx, int(guild_id), str(data))
            if isinstance(found, CorruptRow):
                bad.append(found)
            else:
                good.append(found)
        log.info("session_snapshots_loaded", count=len(good), unreadable=len(bad))
        return good, bad

    async def save(self, snapshot: SessionSnapshot) -> None:
        await self.db.run(lambda tx: self._save(tx, snapshot))

    async def load(self, guild_id: int) -> SessionSnapshot | None:
        return await self.db.run(lambda tx: self._load(tx, guild_id))

    async def delete(self, guild_id: int) -> None:
        await self.db.run(
            lambda tx: tx.execute("DELETE FROM sessions WHERE guild_id = ?", (guild_id,))
        )

    async def load_all(self) -> tuple[list[SessionSnapshot], list[CorruptRow]]:
        return await self.db.run(self._load_all)
