"""The storage root: where every file lives under ``[storage] data_dir``.

Layout::

    <data_dir>/guilds/<guild_id>/playlists/<slug>-<hash>.json   guild playlists
    <data_dir>/guilds/<guild_id>/settings.json                  guild settings
    <data_dir>/users/<user_id>/playlists/<slug>-<hash>.json     personal playlists
    <data_dir>/sessions/<guild_id>.json                          session snapshots

With a database (the default: SQLite ``<data_dir>/musicbot.sqlite3``; PostgreSQL when
``[storage] url`` is a ``postgresql://`` URL) the same objects are handed out, running on the
SQL engine (``Storage.db``); ``url = "files"`` keeps the JSON files above.  :func:`open_storage`
opens the engine, runs the schema migrations and imports an existing JSON data dir once.

One :class:`Storage` is built by the composition root and passed down; it holds no mutable state
beyond the shared thread limiter (and the database's row revisions), and hands out per-scope
objects whose single owner is stated in each module (guild actor: its guild's playlists,
settings and session; the personal playlist actor: every user's playlists).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final, Literal

import attrs
import structlog
import trio

from musicbot.config import Config
from musicbot.storage import transfer
from musicbot.storage.db import Database, connect
from musicbot.storage.identify import DatabaseIdentifyCoordinator
from musicbot.storage.io import FileIO
from musicbot.storage.models import SessionSnapshot
from musicbot.storage.playlists import DEFAULT_MAX_PLAYLISTS, DEFAULT_MAX_TRACKS, PlaylistRepository
from musicbot.storage.schema import migrate
from musicbot.storage.sessions import SessionStore, SnapshotWriter
from musicbot.storage.settings import GuildSettingsStore
from musicbot.storage.sql_docs import SqlSessions, SqlSettings
from musicbot.storage.sql_playlists import SqlPlaylists

log = structlog.get_logger(__name__)

FILES_URL: Final = "files"


def _snowflake(value: int) -> int:
    # Ids become folder names: insist on a real non-negative int (never a str like "../x").
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"not a Discord id: {value!r}")
    return value


@attrs.frozen(kw_only=True)
class Storage:
    root: Path
    io: FileIO = attrs.field(factory=FileIO)
    max_playlists: int = DEFAULT_MAX_PLAYLISTS
    max_playlist_tracks: int = DEFAULT_MAX_TRACKS
    snapshot_debounce: float = 2.0
    clock: Callable[[], float] = time.time
    db: Database | None = None  # None: the JSON file engine

    @property
    def engine(self) -> Literal["files", "sqlite", "postgres"]:
        return "files" if self.db is None else self.db.dialect

    def identify_coordinator(self) -> DatabaseIdentifyCoordinator | None:
        """IDENTIFY slots shared with every process on this database (None for files)."""
        return DatabaseIdentifyCoordinator(self.db) if self.db is not None else None

    @classmethod
    def from_config(cls, cfg: Config, *, io: FileIO | None = None) -> Storage:
        """The JSON file engine with the configured folder and limits (no database: use
        :func:`open_storage` for the configured engine)."""
        return cls(
            root=Path(cfg.storage.data_dir).expanduser(),
            io=io if io is not None else FileIO(),
            max_playlists=cfg.limits.max_playlists_per_scope,
            max_playlist_tracks=cfg.limits.max_playlist_tracks,
            snapshot_debounce=cfg.storage.snapshot_debounce,
        )

    def guild_dir(self, guild_id: int) -> Path:
        """The folder of guild ``guild_id``'s files."""
        return self.root / "guilds" / str(_snowflake(guild_id))

    def user_dir(self, user_id: int) -> Path:
        """The folder of user ``user_id``'s files."""
        return self.root / "users" / str(_snowflake(user_id))

    def _playlists(self, directory: Path, scope: str, scope_id: int) -> PlaylistRepository:
        kind: Literal["guild", "user"] = "guild" if scope == "guild" else "user"
        sql = None
        if self.db is not None:
            sql = SqlPlaylists(
                self.db,
                scope=kind,
                scope_id=scope_id,
                max_playlists=self.max_playlists,
                max_tracks=self.max_playlist_tracks,
                clock=self.clock,
            )
        return PlaylistRepository(
            directory,
            scope=kind,
            io=self.io,
            max_playlists=self.max_playlists,
            max_tracks=self.max_playlist_tracks,
            clock=self.clock,
            sql=sql,
        )

    def guild_playlists(self, guild_id: int) -> PlaylistRepository:
        """Owned by the guild's actor."""
        return self._playlists(self.guild_dir(guild_id) / "playlists", "guild", guild_id)

    def user_playlists(self, user_id: int) -> PlaylistRepository:
        """Owned by the personal-playlist actor (``actors.playlists``) only."""
        return self._playlists(self.user_dir(user_id) / "playlists", "user", user_id)

    def guild_settings(self, guild_id: int) -> GuildSettingsStore:
        """Owned by the guild's actor."""
        sql = SqlSettings(self.db, _snowflake(guild_id)) if self.db is not None else None
        return GuildSettingsStore(self.guild_dir(guild_id) / "settings.json", self.io, sql)

    def sessions(self) -> SessionStore:
        """``load_all`` at start-up; afterwards each guild actor saves/deletes its own."""
        sql = SqlSessions(self.db) if self.db is not None else None
        return SessionStore(self.root / "sessions", self.io, sql)

    def session_writer(
        self, capture: Callable[[], SessionSnapshot]
    ) -> SnapshotWriter[SessionSnapshot]:
        """A debounced writer of one guild's snapshot (period ``[storage] snapshot_debounce``).

        The guild actor starts ``writer.run`` in its nursery, calls ``mark_dirty()`` on every
        change, ``flush()`` on shutdown, and ``discard()`` before ``sessions().delete(id)``.
        """
        return SnapshotWriter(
            capture=capture,
            write=self.sessions().save,
            period=self.snapshot_debounce,
            name="session",
        )


def _open_blocking(cfg: Config, root: Path) -> Database:
    db = connect(cfg.storage.url.value, root)
    try:
        before, after = db.run_blocking(lambda tx: migrate(tx, db.where))
        if before != after:
            log.info("storage_schema_migrated", where=db.where, before=before, after=after)
        transfer.import_data_dir(db.run_blocking, root)
    except BaseException:
        db.close()
        raise
    return db


@asynccontextmanager
async def open_storage(cfg: Config) -> AsyncIterator[Storage]:
    """The configured engine, migrated (and a JSON data dir imported once); closed on exit.

    Raises ``SchemaTooNew`` (the database belongs to a newer release) or
    ``DatabaseUnavailable`` before anything starts.
    """
    base = Storage.from_config(cfg)
    if cfg.storage.url.value == FILES_URL:
        yield base
        return
    db = await trio.to_thread.run_sync(_open_blocking, cfg, base.root)
    log.info("storage_opened", engine=db.dialect, where=db.where)
    try:
        yield attrs.evolve(base, db=db)
    finally:
        await trio.to_thread.run_sync(db.close)
