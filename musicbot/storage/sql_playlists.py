"""Saved playlists in the database (the SQL engine behind
:class:`~musicbot.storage.playlists.PlaylistRepository`).

One row per playlist, keyed by (scope, scope id, casefolded name); the whole playlist is the
versioned JSON document of the file store (``data``), with summary columns for listing and for
the limits.  Every public operation is one transaction that reads, checks and writes:

* **Limits across processes.**  A write first locks its scope's row in ``playlist_scopes``
  (created on first use; PostgreSQL ``SELECT .. FOR UPDATE``, SQLite's ``BEGIN IMMEDIATE``
  holds the whole write lock).  So two processes adding the 25th playlist of one member at the
  same moment are serialized: the second one counts 25 and is refused with ``LimitReached``.
* **Lost updates.**  Each row carries a ``revision``; every update says
  ``WHERE .. AND revision = <the one read in this transaction>`` and bumps it.  Zero rows
  changed means another process changed the row in between: :class:`Conflict`, nothing written.
* **Damaged rows** (a ``data`` document that does not decode) are reported as
  :class:`CorruptRow` (listed in ``PlaylistIndex.unreadable``), never loaded wrong, never
  overwritten; deleting one moves its bytes to ``quarantine`` first.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import structlog

from musicbot.storage import names
from musicbot.storage.codec import DecodeProblem
from musicbot.storage.db import Database, Row, Tx
from musicbot.storage.errors import (
    AlreadyExists,
    Conflict,
    CorruptRow,
    InvalidPosition,
    LimitReached,
    NotFound,
    Scope,
)
from musicbot.storage.models import PLAYLIST_CODEC, Playlist, StoredTrack
from musicbot.storage.schema import quarantine

log = structlog.get_logger(__name__)

_COLUMNS = "name, data, revision"


def encode(playlist: Playlist) -> str:
    return PLAYLIST_CODEC.encode(playlist).decode("utf-8")


def playlist_values(scope: Scope, scope_id: int, p: Playlist) -> tuple[object, ...]:
    """The column values of a new row (scope, scope_id, name_key .. data)."""
    return (
        scope,
        scope_id,
        names.key(p.name),
        p.name,
        p.owner_id,
        p.created_at,
        p.updated_at,
        len(p.tracks),
        p.total_duration,
        encode(p),
    )


INSERT_SQL = (
    "INSERT INTO playlists (scope, scope_id, name_key, name, owner_id, created_at, updated_at,"
    " track_count, total_duration, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def ensure_scope(tx: Tx, scope: Scope, scope_id: int, *, lock: bool) -> None:
    tx.execute(
        "INSERT INTO playlist_scopes (scope, scope_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
        (scope, scope_id),
    )
    if lock and tx.dialect == "postgres":
        tx.one(
            "SELECT 1 FROM playlist_scopes WHERE scope = ? AND scope_id = ? FOR UPDATE",
            (scope, scope_id),
        )


@attrs.frozen
class _Found:
    playlist: Playlist
    revision: int


class SqlPlaylists:
    """The playlists of one scope in the database; used through ``PlaylistRepository``."""

    def __init__(
        self,
        db: Database,
        *,
        scope: Scope,
        scope_id: int,
        max_playlists: int,
        max_tracks: int,
        clock: Callable[[], float],
    ) -> None:
        self.db = db
        self.scope: Scope = scope
        self.scope_id = scope_id
        self.max_playlists = max_playlists
        self.max_tracks = max_tracks
        self._clock = clock

    def _where(self, name: str) -> str:
        return f"{self.db.where}#playlists/{self.scope}/{self.scope_id}/{name}"

    # ------------------------------------------------------------ in a transaction

    def _row(self, tx: Tx, name: str) -> Row | None:
        return tx.one(
            f"SELECT {_COLUMNS} FROM playlists WHERE scope = ? AND scope_id = ? AND name_key = ?",
            (self.scope, self.scope_id, names.key(names.validate(name))),
        )

    def _decode(self, row: Row) -> _Found:
        stored_name, data, revision = row
        try:
            playlist = PLAYLIST_CODEC.decode(str(data).encode("utf-8"))
        except DecodeProblem as exc:
            raise CorruptRow.at(self._where(stored_name), str(exc)) from None
        return _Found(playlist, int(revision))

    def _get(self, tx: Tx, name: str) -> _Found:
        row = self._row(tx, name)
        if row is None:
            raise NotFound(self.scope, names.validate(name))
        return self._decode(row)

    def _update(self, tx: Tx, old_key: str, found: _Found, new: Playlist) -> Playlist:
        changed = tx.execute(
            "UPDATE playlists SET name_key = ?, name = ?, updated_at = ?, track_count = ?,"
            " total_duration = ?, data = ?, revision = revision + 1"
            " WHERE scope = ? AND scope_id = ? AND name_key = ? AND revision = ?",
            (
                names.key(new.name),
                new.name,
                new.updated_at,
                len(new.tracks),
                new.total_duration,
                encode(new),
                self.scope,
                self.scope_id,
                old_key,
                found.revision,
            ),
        )
        if changed != 1:
            now = self._row(tx, found.playlist.name)
            raise Conflict(
                f"playlist {found.playlist.name!r}",
                found.revision,
                int(now[2]) if now is not None else 0,
            )
        return new

    def _check_tracks(self, count: int) -> None:
        if count > self.max_tracks:
            raise LimitReached("tracks", self.max_tracks, count)

    def _save(
        self, tx: Tx, name: str, tracks: tuple[StoredTrack, ...], creator_id: int, overwrite: bool
    ) -> Playlist:
        clean = names.validate(name)
        self._check_tracks(len(tracks))
        ensure_scope(tx, self.scope, self.scope_id, lock=True)
        now = self._clock()
        row = self._row(tx, clean)
        if row is not None:
            if not overwrite:
                raise AlreadyExists(self.scope, clean, str(row[0]))
            found = self._decode(row)
            new = attrs.evolve(found.playlist, name=clean, tracks=tracks, updated_at=now)
            return self._update(tx, names.key(clean), found, new)
        count_row = tx.one(
            "SELECT COUNT(*) FROM playlists WHERE scope = ? AND scope_id = ?",
            (self.scope, self.scope_id),
        )
        count = int(count_row[0]) if count_row is not None else 0
        if count >= self.max_playlists:
            raise LimitReached("playlists", self.max_playlists, count + 1)
        playlist = Playlist(
            name=clean, owner_id=creator_id, created_at=now, updated_at=now, tracks=tracks
        )
        tx.execute(INSERT_SQL, playlist_values(self.scope, self.scope_id, playlist))
        return playlist

    def _add(self, tx: Tx, name: str, tracks: tuple[StoredTrack, ...]) -> Playlist:
        ensure_scope(tx, self.scope, self.scope_id, lock=True)
        found = self._get(tx, name)
        old = found.playlist
        self._check_tracks(len(old.tracks) + len(tracks))
        new = attrs.evolve(old, tracks=old.tracks + tracks, updated_at=self._clock())
        return self._update(tx, names.key(old.name), found, new)

    def _remove(self, tx: Tx, name: str, position: int) -> tuple[Playlist, StoredTrack]:
        ensure_scope(tx, self.scope, self.scope_id, lock=True)
        found = self._get(tx, name)
        old = found.playlist
        if not 1 <= position <= len(old.tracks):
            raise InvalidPosition(position, len(old.tracks))
        i = position - 1
        new = attrs.evolve(
            old, tracks=old.tracks[:i] + old.tracks[i + 1 :], updated_at=self._clock()
        )
        return self._update(tx, names.key(old.name), found, new), old.tracks[i]

    def _rename(self, tx: Tx, old_name: str, new_name: str) -> Playlist:
        clean = names.validate(new_name)
        ensure_scope(tx, self.scope, self.scope_id, lock=True)
        found = self._get(tx, old_name)
        if names.key(clean) != names.key(found.playlist.name):
            taken = self._row(tx, clean)
            if taken is not None:
                raise AlreadyExists(self.scope, clean, str(taken[0]))
        new = attrs.evolve(found.playlist, name=clean, updated_at=self._clock())
        return self._update(tx, names.key(found.playlist.name), found, new)

    def _delete(self, tx: Tx, name: str) -> Playlist | None:
        ensure_scope(tx, self.scope, self.scope_id, lock=True)
        row = self._row(tx, name)
        if row is None:
            raise NotFound(self.scope, names.validate(name))
        key = (self.scope, self.scope_id, names.key(names.validate(name)))
        try:
            found: Playlist | None = self._decode(row).playlist
        except CorruptRow as exc:
            quarantine(tx, "playlists", self._where(str(row[0])), str(row[1]), exc.reason)
            log.warning("storage_corrupt_deleted", row=exc.where, reason=exc.reason)
            found = None
        tx.execute("DELETE FROM playlists WHERE scope = ? AND scope_id = ? AND name_key = ?", key)
        return found

    def _list(self, tx: Tx) -> tuple[list[Playlist], list[CorruptRow]]:
        good: list[Playlist] = []
        bad: list[CorruptRow] = []
        rows = tx.all(
            f"SELECT {_COLUMNS} FROM playlists WHERE scope = ? AND scope_id = ?",
            (self.scope, self.scope_id),
        )
        for row in rows:
            try:
                good.append(self._decode(row).playlist)
            except CorruptRow as exc:
                bad.append(exc)
        return good, bad

    # ------------------------------------------------------------ async API

    async def exists(self, name: str) -> bool:
        return await self.db.run(lambda tx: self._row(tx, name) is not None, write=False)

    async def load(self, name: str) -> Playlist:
        return await self.db.run(lambda tx: self._get(tx, name).playlist, write=False)

    async def list(self) -> tuple[list[Playlist], list[CorruptRow]]:
        return await self.db.run(self._list, write=False)

    async def save(
        self, name: str, tracks: tuple[StoredTrack, ...], creator_id: int, overwrite: bool
    ) -> Playlist:
        return await self.db.run(lambda tx: self._save(tx, name, tracks, creator_id, overwrite))

    async def add_tracks(self, name: str, tracks: tuple[StoredTrack, ...]) -> Playlist:
        return await self.db.run(lambda tx: self._add(tx, name, tracks))

    async def remove(self, name: str, position: int) -> tuple[Playlist, StoredTrack]:
        return await self.db.run(lambda tx: self._remove(tx, name, position))

    async def rename(self, old_name: str, new_name: str) -> Playlist:
        return await self.db.run(lambda tx: self._rename(tx, old_name, new_name))

    async def delete(self, name: str) -> Playlist | None:
        return await self.db.run(lambda tx: self._delete(tx, name))
