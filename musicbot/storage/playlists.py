"""Saved playlists: one JSON file per playlist, in a guild scope or a personal (user) scope.

* guild:    ``<data_dir>/guilds/<guild_id>/playlists/<slug>-<hash>.json``
* personal: ``<data_dir>/users/<user_id>/playlists/<slug>-<hash>.json``

With a database (``[storage] url``, SQLite by default) the same class runs on the SQL engine
(:mod:`musicbot.storage.sql_playlists`): same API, same errors, same ownership.

Ownership (no locks): a repository object is used by exactly one task.  Each guild actor owns
the repository of its guild's playlists (and its settings store); the personal-playlist actor
(``actors/playlists.py``) is the only task that touches users' folders.  Each public method is a
single worker-thread call that reads, checks and writes, so its checks cannot go stale.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Final, TypeVar

import attrs

from musicbot.models.track import Track
from musicbot.storage import files, names
from musicbot.storage.errors import (
    AlreadyExists,
    CorruptFile,
    InvalidPosition,
    LimitReached,
    NotFound,
    Scope,
)
from musicbot.storage.io import FileIO
from musicbot.storage.models import PLAYLIST_CODEC, Playlist, StoredTrack
from musicbot.storage.sql_playlists import SqlPlaylists

R = TypeVar("R")

DEFAULT_MAX_PLAYLISTS: Final = 25
DEFAULT_MAX_TRACKS: Final = 500
DEFAULT_PAGE_SIZE: Final = 10


@attrs.frozen(kw_only=True)
class PlaylistSummary:
    name: str
    owner_id: int
    track_count: int
    total_duration: float
    updated_at: float


@attrs.frozen(kw_only=True)
class PlaylistIndex:
    """What ``list()`` found: readable playlists by name, and files that could not be read."""

    playlists: tuple[PlaylistSummary, ...]
    unreadable: tuple[CorruptFile, ...] = ()


@attrs.frozen(kw_only=True)
class Page:
    """One page of a playlist for ``show``: ``items`` are (1-based position, track)."""

    items: tuple[tuple[int, StoredTrack], ...]
    page: int  # 1-based, clamped into 1..pages
    pages: int
    total: int
    total_duration: float


def paginate(playlist: Playlist, page: int = 1, per_page: int = DEFAULT_PAGE_SIZE) -> Page:
    """Page ``page`` (1-based, clamped to the last) of ``playlist``, ``per_page`` tracks with their
    1-based positions. Raises ``ValueError`` when ``per_page`` < 1."""
    if per_page < 1:
        raise ValueError("per_page must be at least 1")
    total = len(playlist.tracks)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(page, 1), pages)
    start = (page - 1) * per_page
    items = tuple(
        (start + i + 1, t) for i, t in enumerate(playlist.tracks[start : start + per_page])
    )
    return Page(
        items=items,
        page=page,
        pages=pages,
        total=total,
        total_duration=playlist.total_duration,
    )


def _index(found: Iterable[Playlist], unreadable: list[CorruptFile]) -> PlaylistIndex:
    items = [
        PlaylistSummary(
            name=p.name,
            owner_id=p.owner_id,
            track_count=len(p.tracks),
            total_duration=p.total_duration,
            updated_at=p.updated_at,
        )
        for p in found
    ]
    items.sort(key=lambda s: names.key(s.name))
    return PlaylistIndex(playlists=tuple(items), unreadable=tuple(unreadable))


def _stored(tracks: Iterable[Track | StoredTrack]) -> tuple[StoredTrack, ...]:
    return tuple(t if isinstance(t, StoredTrack) else StoredTrack.from_track(t) for t in tracks)


class PlaylistRepository:
    """The playlists of one scope (a guild, or a user).  Async API; I/O in worker threads."""

    def __init__(
        self,
        directory: Path,
        *,
        scope: Scope,
        io: FileIO,
        max_playlists: int = DEFAULT_MAX_PLAYLISTS,
        max_tracks: int = DEFAULT_MAX_TRACKS,
        clock: Callable[[], float] = time.time,
        sql: SqlPlaylists | None = None,
    ) -> None:
        self.directory = directory  # the file engine's folder (unused with ``sql``)
        self.sql = sql
        self.scope: Scope = scope
        self._io = io
        self.max_playlists = max_playlists
        self.max_tracks = max_tracks
        self._clock = clock

    def path_for(self, name: str) -> Path:
        """The file of ``name`` (raises InvalidName).  Always directly inside ``directory``."""
        return self.directory / names.file_name(name)

    # ------------------------------------------------------------ blocking helpers

    def _read(self, name: str) -> Playlist | None:
        found = files.read_document(self.path_for(name), PLAYLIST_CODEC)
        # A different name in the file means a hash collision: not this playlist.
        if found is not None and names.key(found.name) != names.key(name):
            return None
        return found

    def _get(self, name: str) -> Playlist:
        found = self._read(name)
        if found is None:
            raise NotFound(self.scope, names.validate(name))
        return found

    def _write(self, playlist: Playlist) -> None:
        files.write_document(self.path_for(playlist.name), playlist, PLAYLIST_CODEC)

    def _check_tracks(self, count: int) -> None:
        if count > self.max_tracks:
            raise LimitReached("tracks", self.max_tracks, count)

    def _check_room(self) -> None:
        count = len(files.document_names(self.directory))
        if count >= self.max_playlists:
            raise LimitReached("playlists", self.max_playlists, count + 1)

    def _taken(self, name: str) -> str | None:
        """The stored display name occupying ``name``'s file, if any (case-insensitive)."""
        path = self.path_for(name)
        if not path.exists() and not files.backup_path(path).exists():
            return None
        found = files.read_document(path, PLAYLIST_CODEC)  # CorruptFile: refuse, keep it
        return found.name if found is not None else None

    def _save(
        self, name: str, tracks: tuple[StoredTrack, ...], creator_id: int, overwrite: bool
    ) -> Playlist:
        clean = names.validate(name)
        self._check_tracks(len(tracks))
        now = self._clock()
        existing_name = self._taken(clean)
        if existing_name is not None:
            if not overwrite:
                raise AlreadyExists(self.scope, clean, existing_name)
            old = self._get(clean)
            playlist = attrs.evolve(old, name=clean, tracks=tracks, updated_at=now)
        else:
            self._check_room()
            playlist = Playlist(
                name=clean, owner_id=creator_id, created_at=now, updated_at=now, tracks=tracks
            )
        self._write(playlist)
        return playlist

    def _add(self, name: str, tracks: tuple[StoredTrack, ...]) -> Playlist:
        old = self._get(name)
        self._check_tracks(len(old.tracks) + len(tracks))
        playlist = attrs.evolve(old, tracks=old.tracks + tracks, updated_at=self._clock())
        self._write(playlist)
        return playlist

    def _remove(self, name: str, position: int) -> tuple[Playlist, StoredTrack]:
        old = self._get(name)
        if not 1 <= position <= len(old.tracks):
            raise InvalidPosition(position, len(old.tracks))
        i = position - 1
        removed = old.tracks[i]
        playlist = attrs.evolve(
            old, tracks=old.tracks[:i] + old.tracks[i + 1 :], updated_at=self._clock()
        )
        self._write(playlist)
        return playlist, removed

    def _rename(self, old_name: str, new_name: str) -> Playlist:
        clean = names.validate(new_name)
        old = self._get(old_name)
        renamed = attrs.evolve(old, name=clean, updated_at=self._clock())
        if names.key(clean) == names.key(old.name):  # only the case changes: same file
            self._write(renamed)
            return renamed
        taken = self._taken(clean)
        if taken is not None:
            raise AlreadyExists(self.scope, clean, taken)
        # Write the new file first: a crash in between leaves two copies, never none.
        self._write(renamed)
        files.delete_document(self.path_for(old.name), PLAYLIST_CODEC)
        return renamed

    def _delete(self, name: str) -> Playlist | None:
        path = self.path_for(name)
        try:
            found = self._get(name)
        except CorruptFile:
            # Deleting an unreadable playlist moves its bytes aside (kept for the operator).
            files.delete_document(path, PLAYLIST_CODEC)
            return None
        files.delete_document(path, PLAYLIST_CODEC)
        return found

    def _list(self) -> PlaylistIndex:
        found: list[Playlist] = []
        unreadable: list[CorruptFile] = []
        for file_name in files.document_names(self.directory):
            try:
                p = files.read_document(self.directory / file_name, PLAYLIST_CODEC)
            except CorruptFile as exc:
                unreadable.append(exc)
                continue
            if p is not None:
                found.append(p)
        return _index(found, unreadable)

    # ------------------------------------------------------------ async API

    async def _run(self, fn: Callable[[], R]) -> R:
        return await self._io.run(fn)

    async def exists(self, name: str) -> bool:
        """Whether a playlist called ``name`` exists."""
        if self.sql is not None:
            return await self.sql.exists(name)
        return await self._run(lambda: self._read(name) is not None)

    async def load(self, name: str) -> Playlist:
        """The playlist (NotFound, InvalidName, CorruptFile ...)."""
        if self.sql is not None:
            return await self.sql.load(name)
        return await self._run(lambda: self._get(name))

    async def list(self) -> PlaylistIndex:
        """Every playlist (and any unreadable ones, named)."""
        if self.sql is not None:
            good, bad = await self.sql.list()
            return _index(good, list(bad))
        return await self._run(self._list)

    async def show(self, name: str, page: int = 1, per_page: int = DEFAULT_PAGE_SIZE) -> Page:
        """One page (1-based, clamped) of playlist ``name``."""
        playlist = await self.load(name)
        return paginate(playlist, page, per_page)

    async def save(
        self,
        name: str,
        tracks: Sequence[Track | StoredTrack],
        *,
        creator_id: int,
        overwrite: bool = False,
    ) -> Playlist:
        """Create a playlist, or replace its tracks when ``overwrite`` (keeping owner/created)."""
        stored = _stored(tracks)
        if self.sql is not None:
            return await self.sql.save(name, stored, creator_id, overwrite)
        return await self._run(lambda: self._save(name, stored, creator_id, overwrite))

    async def add_tracks(self, name: str, tracks: Sequence[Track | StoredTrack]) -> Playlist:
        """Append tracks; all or nothing (LimitReached if the playlist would exceed the cap)."""
        stored = _stored(tracks)
        if self.sql is not None:
            return await self.sql.add_tracks(name, stored)
        return await self._run(lambda: self._add(name, stored))

    async def remove(self, name: str, position: int) -> tuple[Playlist, StoredTrack]:
        """Remove the track at 1-based ``position``; returns the new playlist and the track."""
        if self.sql is not None:
            return await self.sql.remove(name, position)
        return await self._run(lambda: self._remove(name, position))

    async def rename(self, old_name: str, new_name: str) -> Playlist:
        """Rename ``old_name`` to ``new_name``; the renamed playlist. Raises a ``StorageError``."""
        if self.sql is not None:
            return await self.sql.rename(old_name, new_name)
        return await self._run(lambda: self._rename(old_name, new_name))

    async def delete(self, name: str) -> Playlist | None:
        """Delete a playlist and its backup; returns what was deleted.

        An unreadable playlist is moved aside (``*.corrupt-<ts>``, or the ``quarantine`` table)
        instead and None returned.
        """
        if self.sql is not None:
            return await self.sql.delete(name)
        return await self._run(lambda: self._delete(name))
