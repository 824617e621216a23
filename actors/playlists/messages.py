"""Messages of the personal-playlist actor.

Every request names the user whose folder it touches and carries a reply channel (buffer 1).
The answer is the result, or the :class:`StorageError` to raise in the caller (a user mistake or
a disk problem is an answer, not a crash of the actor).
"""

from __future__ import annotations

from typing import TypeAlias

import attrs
import trio

from musicbot.storage import Playlist, PlaylistIndex, StorageError, StoredTrack

PlaylistReply: TypeAlias = trio.MemorySendChannel[Playlist | StorageError]


@attrs.frozen(kw_only=True)
class Save:
    user_id: int
    name: str
    tracks: tuple[StoredTrack, ...]
    overwrite: bool
    reply: PlaylistReply


@attrs.frozen(kw_only=True)
class Load:
    user_id: int
    name: str
    reply: PlaylistReply


@attrs.frozen(kw_only=True)
class ListPlaylists:
    user_id: int
    reply: trio.MemorySendChannel[PlaylistIndex | StorageError]


@attrs.frozen(kw_only=True)
class Exists:
    user_id: int
    name: str
    reply: trio.MemorySendChannel[bool | StorageError]


@attrs.frozen(kw_only=True)
class AddTracks:
    user_id: int
    name: str
    tracks: tuple[StoredTrack, ...]
    reply: PlaylistReply


@attrs.frozen(kw_only=True)
class RemoveTrack:
    user_id: int
    name: str
    position: int  # 1-based
    reply: trio.MemorySendChannel[tuple[Playlist, StoredTrack] | StorageError]


@attrs.frozen(kw_only=True)
class Rename:
    user_id: int
    old_name: str
    new_name: str
    reply: PlaylistReply


@attrs.frozen(kw_only=True)
class Delete:
    user_id: int
    name: str
    reply: trio.MemorySendChannel[Playlist | StorageError | None]


PlaylistsMsg: TypeAlias = (
    Save | Load | ListPlaylists | Exists | AddTracks | RemoveTrack | Rename | Delete
)
