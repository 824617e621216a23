"""The personal-playlist actor: the only task that reads or writes users' playlist folders.

Personal playlists follow a user into every guild, so no guild actor may own them; this actor
does, serially, which is what makes the repository's read-check-write sequences safe without
locks.  Requests are answered with the result or a typed :class:`StorageError` (which the handle
raises in the caller); any other exception is a bug and crashes the actor for its supervisor.

A caller that times out does not undo anything: the actor finishes the operation (file I/O runs
to completion in its worker thread), so a slow disk never leaves a half-written playlist.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, TypeVar, assert_never

import attrs
import structlog
import trio

from actors.kit.mailbox import ask, open_mailbox, reply
from actors.playlists.messages import (
    AddTracks,
    Delete,
    Exists,
    ListPlaylists,
    Load,
    PlaylistsMsg,
    RemoveTrack,
    Rename,
    Save,
)
from musicbot.models.track import Track
from musicbot.storage import (
    Page,
    Playlist,
    PlaylistIndex,
    Storage,
    StorageError,
    StoredTrack,
    paginate,
)
from musicbot.storage.playlists import DEFAULT_PAGE_SIZE

log = structlog.get_logger(__name__)

NAME: Final = "personal_playlists"
ASK_TIMEOUT: Final = 10.0  # a few small fsynced files; generous for a slow disk
INBOX_SIZE: Final = 16

T = TypeVar("T")
R = TypeVar("R")


def _stored(tracks: Sequence[Track | StoredTrack]) -> tuple[StoredTrack, ...]:
    return tuple(t if isinstance(t, StoredTrack) else StoredTrack.from_track(t) for t in tracks)


def _user(user_id: int) -> int:
    if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id < 0:
        raise ValueError(f"not a Discord user id: {user_id!r}")
    return user_id


def _unwrap(result: T | StorageError) -> T:
    if isinstance(result, StorageError):
        raise result
    return result


@attrs.frozen
class PersonalPlaylistsHandle:
    """Async API over the actor; raises the same typed errors as ``PlaylistRepository``."""

    inbox: trio.MemorySendChannel[PlaylistsMsg]
    timeout: float = ASK_TIMEOUT

    async def _ask(self, make: Callable[[trio.MemorySendChannel[R]], PlaylistsMsg]) -> R:
        return await ask(self.inbox, make, actor=NAME, timeout=self.timeout)

    async def save(
        self,
        user_id: int,
        name: str,
        tracks: Sequence[Track | StoredTrack],
        *,
        overwrite: bool = False,
    ) -> Playlist:
        """Save ``tracks`` as the user's playlist ``name``; raises ``AlreadyExists`` unless
        ``overwrite``, or another ``StorageError``."""
        uid, stored = _user(user_id), _stored(tracks)
        result: Playlist | StorageError = await self._ask(
            lambda r: Save(user_id=uid, name=name, tracks=stored, overwrite=overwrite, reply=r)
        )
        return _unwrap(result)

    async def load(self, user_id: int, name: str) -> Playlist:
        """The user's playlist ``name``; raises ``NotFound`` (a ``StorageError``) when there is
        none."""
        uid = _user(user_id)
        result: Playlist | StorageError = await self._ask(
            lambda r: Load(user_id=uid, name=name, reply=r)
        )
        return _unwrap(result)

    async def show(
        self, user_id: int, name: str, page: int = 1, per_page: int = DEFAULT_PAGE_SIZE
    ) -> Page:
        """One page (1-based, clamped) of the user's playlist ``name``."""
        return paginate(await self.load(user_id, name), page, per_page)

    async def list(self, user_id: int) -> PlaylistIndex:
        """The user's playlists (and any unreadable ones, named)."""
        uid = _user(user_id)
        result: PlaylistIndex | StorageError = await self._ask(
            lambda r: ListPlaylists(user_id=uid, reply=r)
        )
        return _unwrap(result)

    async def exists(self, user_id: int, name: str) -> bool:
        """Whether the user has a playlist called ``name``."""
        uid = _user(user_id)
        result: bool | StorageError = await self._ask(
            lambda r: Exists(user_id=uid, name=name, reply=r)
        )
        return _unwrap(result)

    async def add_tracks(
        self, user_id: int, name: str, tracks: Sequence[Track | StoredTrack]
    ) -> Playlist:
        """Append ``tracks`` to the user's playlist ``name``; the updated playlist. Raises a
        ``StorageError`` (not found, limit reached, ...)."""
        uid, stored = _user(user_id), _stored(tracks)
        result: Playlist | StorageError = await self._ask(
            lambda r: AddTracks(user_id=uid, name=name, tracks=stored, reply=r)
        )
        return _unwrap(result)

    async def remove(self, user_id: int, name: str, position: int) -> tuple[Playlist, StoredTrack]:
        """Remove the track at 1-based ``position`` from playlist ``name``; the updated playlist and
        the removed track. Raises a ``StorageError``."""
        uid = _user(user_id)
        result: tuple[Playlist, StoredTrack] | StorageError = await self._ask(
            lambda r: RemoveTrack(user_id=uid, name=name, position=position, reply=r)
        )
        return _unwrap(result)

    async def rename(self, user_id: int, old_name: str, new_name: str) -> Playlist:
        """Rename the user's playlist ``old_name`` to ``new_name``; the renamed playlist. Raises a
        ``StorageError`` (not found, name taken or invalid)."""
        uid = _user(user_id)
        result: Playlist | StorageError = await self._ask(
            lambda r: Rename(user_id=uid, old_name=old_name, new_name=new_name, reply=r)
        )
        return _unwrap(result)

    async def delete(self, user_id: int, name: str) -> Playlist | None:
        """The deleted playlist; None if it was unreadable (then moved aside, not destroyed)."""
        uid = _user(user_id)
        result: Playlist | StorageError | None = await self._ask(
            lambda r: Delete(user_id=uid, name=name, reply=r)
        )
        return _unwrap(result)


async def _attempt(op: Awaitable[T], msg: PlaylistsMsg) -> T | StorageError:
    try:
        return await op
    except StorageError as exc:
        # An answer for the user, not a crash; logged so disk problems are visible.
        log.info(
            "personal_playlist_refused",
            request=type(msg).__name__,
            user_id=msg.user_id,
            error=type(exc).__name__,
            detail=str(exc),
        )
        return exc


async def run(
    inbox: trio.MemoryReceiveChannel[PlaylistsMsg],
    *,
    storage: Storage,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve personal-playlist requests, one at a time, until the inbox closes."""
    task_status.started()
    async with inbox:
        async for msg in inbox:
            repo = storage.user_playlists(msg.user_id)
            match msg:
                case Save(name=name, tracks=tracks, overwrite=overwrite, reply=r):
                    reply(
                        r,
                        await _attempt(
                            repo.save(name, tracks, creator_id=msg.user_id, overwrite=overwrite),
                            msg,
                        ),
                    )
                case Load(name=name, reply=r):
                    reply(r, await _attempt(repo.load(name), msg))
                case ListPlaylists(reply=r):
                    reply(r, await _attempt(repo.list(), msg))
                case Exists(name=name, reply=r):
                    reply(r, await _attempt(repo.exists(name), msg))
                case AddTracks(name=name, tracks=tracks, reply=r):
                    reply(r, await _attempt(repo.add_tracks(name, tracks), msg))
                case RemoveTrack(name=name, position=position, reply=r):
                    reply(r, await _attempt(repo.remove(name, position), msg))
                case Rename(old_name=old, new_name=new, reply=r):
                    reply(r, await _attempt(repo.rename(old, new), msg))
                case Delete(name=name, reply=r):
                    reply(r, await _attempt(repo.delete(name), msg))
                case _:
                    assert_never(msg)


async def start(nursery: trio.Nursery, storage: Storage) -> PersonalPlaylistsHandle:
    """Open the actor's inbox, start it in ``nursery`` and return its handle."""
    mailbox = open_mailbox(NAME, INBOX_SIZE)
    await nursery.start(functools.partial(run, mailbox.receive, storage=storage))
    return PersonalPlaylistsHandle(mailbox.send)
