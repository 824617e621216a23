"""Crash-safe storage of playlists, guild settings and session snapshots (protocol/I-O layer).

Two engines behind one API: a database (SQLite in ``[storage] data_dir`` by default, or
PostgreSQL, see :mod:`musicbot.storage.db`) or JSON files under ``data_dir``, written atomically
with a backup (``url = "files"``, see :mod:`musicbot.storage.files`).  All I/O runs in worker
threads.  This package must not import ``actors``.

Ownership, instead of locks: each guild actor owns its guild's
:class:`~musicbot.storage.playlists.PlaylistRepository`,
:class:`~musicbot.storage.settings.GuildSettingsStore` and session file; the personal-playlist actor
(``actors.playlists``) is the only writer of users' folders.
"""

from musicbot.storage.errors import (
    AlreadyExists,
    Conflict,
    CorruptFile,
    CorruptRow,
    DatabaseUnavailable,
    DiskFull,
    InvalidName,
    InvalidPosition,
    LimitReached,
    NotFound,
    PermissionDenied,
    SchemaTooNew,
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
from musicbot.storage.store import Storage, open_storage

__all__ = [
    "AlreadyExists",
    "Conflict",
    "CorruptFile",
    "CorruptRow",
    "DatabaseUnavailable",
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
    "SchemaTooNew",
    "Scope",
    "SessionRestore",
    "SessionSnapshot",
    "SessionStore",
    "SnapshotWriter",
    "Storage",
    "StorageError",
    "StorageIOError",
    "StoredTrack",
    "open_storage",
    "paginate",
]
