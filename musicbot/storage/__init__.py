"""Crash-safe storage of playlists, guild settings and session snapshots (protocol/I-O layer).

Everything is JSON under ``[storage] data_dir``, written atomically with a backup (see
:mod:`musicbot.storage.files`) from worker threads.  This package must not import ``actors``.

Ownership, instead of locks: each guild actor owns its guild's :class:`PlaylistRepository`,
:class:`GuildSettingsStore` and session file; the personal-playlist actor
(``actors.playlists``) is the only writer of users' folders.
"""

from musicbot.storage.errors import (
    AlreadyExists,
    CorruptFile,
    DiskFull,
    InvalidName,
    InvalidPosition,
    LimitReached,
    NotFound,
    PermissionDenied,
    Scope,
    StorageError,
    StorageIOError,
)
from musicbot.storage.io import FileIO
from musicbot.storage.models import GuildSettings, Playlist, SessionSnapshot, StoredTrack
from musicbot.storage.playlists import (
    Page,
    PlaylistIndex,
    PlaylistRepository,
    PlaylistSummary,
    paginate,
)
from musicbot.storage.sessions import SessionRestore, SessionStore, SnapshotWriter
from musicbot.storage.settings import GuildSettingsStore
from musicbot.storage.store import Storage

__all__ = [
    "AlreadyExists",
    "CorruptFile",
    "DiskFull",
    "FileIO",
    "GuildSettings",
    "GuildSettingsStore",
    "InvalidName",
    "InvalidPosition",
    "LimitReached",
    "NotFound",
    "Page",
    "PermissionDenied",
    "Playlist",
    "PlaylistIndex",
    "PlaylistRepository",
    "PlaylistSummary",
    "Scope",
    "SessionRestore",
    "SessionSnapshot",
    "SessionStore",
    "SnapshotWriter",
    "Storage",
    "StorageError",
    "StorageIOError",
    "StoredTrack",
    "paginate",
]
