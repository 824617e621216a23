"""The storage root: where every file lives under ``[storage] data_dir``.

Layout::

    <data_dir>/guilds/<guild_id>/playlists/<slug>-<hash>.json   guild playlists
    <data_dir>/guilds/<guild_id>/settings.json                  guild settings
    <data_dir>/users/<user_id>/playlists/<slug>-<hash>.json     personal playlists
    <data_dir>/sessions/<guild_id>.json                          session snapshots

One :class:`Storage` is built by the composition root and passed down; it holds no mutable state
beyond the shared thread limiter, and hands out per-scope objects whose single owner is stated
in each module (guild actor: its guild's playlists, settings and session file; the personal
playlist actor: every user's folder).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import attrs

from musicbot.config import Config
from musicbot.storage.io import FileIO
from musicbot.storage.models import SessionSnapshot
from musicbot.storage.playlists import DEFAULT_MAX_PLAYLISTS, DEFAULT_MAX_TRACKS, PlaylistRepository
from musicbot.storage.sessions import SessionStore, SnapshotWriter
from musicbot.storage.settings import GuildSettingsStore


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

    @classmethod
    def from_config(cls, cfg: Config, *, io: FileIO | None = None) -> Storage:
        return cls(
            root=Path(cfg.storage.data_dir).expanduser(),
            io=io if io is not None else FileIO(),
            max_playlists=cfg.limits.max_playlists_per_scope,
            max_playlist_tracks=cfg.limits.max_playlist_tracks,
            snapshot_debounce=cfg.storage.snapshot_debounce,
        )

    def guild_dir(self, guild_id: int) -> Path:
        return self.root / "guilds" / str(_snowflake(guild_id))

    def user_dir(self, user_id: int) -> Path:
        return self.root / "users" / str(_snowflake(user_id))

    def _playlists(self, directory: Path, scope: str) -> PlaylistRepository:
        return PlaylistRepository(
            directory,
            scope="guild" if scope == "guild" else "user",
            io=self.io,
            max_playlists=self.max_playlists,
            max_tracks=self.max_playlist_tracks,
            clock=self.clock,
        )

    def guild_playlists(self, guild_id: int) -> PlaylistRepository:
        """Owned by the guild's actor."""
        return self._playlists(self.guild_dir(guild_id) / "playlists", "guild")

    def user_playlists(self, user_id: int) -> PlaylistRepository:
        """Owned by the personal-playlist actor (``actors.playlists``) only."""
        return self._playlists(self.user_dir(user_id) / "playlists", "user")

    def guild_settings(self, guild_id: int) -> GuildSettingsStore:
        """Owned by the guild's actor."""
        return GuildSettingsStore(self.guild_dir(guild_id) / "settings.json", self.io)

    def sessions(self) -> SessionStore:
        """``load_all`` at start-up; afterwards each guild actor saves/deletes its own file."""
        return SessionStore(self.root / "sessions", self.io)

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
