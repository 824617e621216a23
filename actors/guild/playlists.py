"""/playlist: saved playlists of the guild (owned by this actor) or of the member (personal).

Theory.  Guild playlists are files only this guild's actor touches (its
:class:`~musicbot.storage.PlaylistRepository`); personal playlists belong to the
personal-playlist actor, reached through ``deps.personal_playlists``.  Both APIs are async and do
their file I/O in worker threads; a call is a few small fsynced files, so the handler awaits it.
What can take long, extracting the track of ``/playlist add``, runs in a child task that posts a
:class:`PlaylistTrackFound` back to the actor, so the loop never waits on the network.

Anyone may read (list, show, load) and create (save).  Changing or deleting a guild playlist is
for its creator, a DJ or a server manager; a personal playlist is only ever its owner's.  Delete
asks first: the confirmation buttons carry the scope, an expiry time and the name, and the click
is checked again (permission, expiry) when it arrives, so no pending state has to be kept.

Every :class:`StorageError` becomes its localized ``user_message``; nothing is swallowed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import structlog

from actors.extractor.messages import PlaylistResult, SearchResult, SingleResult
from actors.guild import fair_queue, playlist_views
from actors.guild.messages import Invocation, PlaylistTrackFound
from actors.guild.playlist_views import CODE_SCOPE, ScopeName
from actors.guild.reasons import failure_text
from actors.guild.table import Family, Handler
from actors.playlists import PersonalPlaylistsHandle
from musicbot.i18n import t
from musicbot.models.queue import QueueFull
from musicbot.models.track import Track
from musicbot.storage import (
    AlreadyExists,
    CorruptFile,
    DiskFull,
    PermissionDenied,
    Playlist,
    PlaylistIndex,
    PlaylistRepository,
    StorageError,
    StorageIOError,
    StoredTrack,
    names,
    paginate,
)

if TYPE_CHECKING:
    from actors.guild.actor import Guild

log = structlog.get_logger(__name__)

OPERATOR_ERRORS: Final = (DiskFull, PermissionDenied, StorageIOError)

PAGE_SIZE: Final = 10


class Unavailable(Exception):
    """Personal playlists are not wired in (no personal-playlist actor)."""


class _Book:
    """One scope's playlists, with the same API whichever actor owns the files."""

    def __init__(self, g: Guild, scope: ScopeName, user_id: int) -> None:
        self.scope: ScopeName = scope
        self.user_id = user_id
        self._repo: PlaylistRepository | None = None
        self._personal: PersonalPlaylistsHandle | None = None
        if scope == "guild":
            self._repo = g.deps.storage.guild_playlists(g.guild_id)
        else:
            self._personal = g.deps.personal_playlists

    def _handle(self) -> PersonalPlaylistsHandle:
        if self._personal is None:
            raise Unavailable()
        return self._personal

    async def load(self, name: str) -> Playlist:
        if self._repo is not None:
            return await self._repo.load(name)
        return await self._handle().load(self.user_id, name)

    async def list(self) -> PlaylistIndex:
        if self._repo is not None:
            return await self._repo.list()
        return await self._handle().list(self.user_id)

    async def save(
        self, name: str, tracks: Sequence[Track | StoredTrack], *, overwrite: bool = False
    ) -> Playlist:
        if self._repo is not None:
            return await self._repo.save(name, tracks, creator_id=self.user_id, overwrite=overwrite)
        return await self._handle().save(self.user_id, name, tracks, overwrite=overwrite)

    async def add(self, name: str, tracks: Sequence[Track | StoredTrack]) -> Playlist:
        if self._repo is not None:
            return await self._repo.add_tracks(name, tracks)
        return await self._handle().add_tracks(self.user_id, name, tracks)

    async def remove(self, name: str, position: int) -> tuple[Playlist, StoredTrack]:
        if self._repo is not None:
            return await self._repo.remove(name, position)
        return await self._handle().remove(self.user_id, name, position)

    async def rename(self, name: str, new_name: str) -> Playlist:
        if self._repo is not None:
            return await self._repo.rename(name, new_name)
        return await self._handle().rename(self.user_id, name, new_name)

    async def delete(self, name: str) -> Playlist | None:
        if self._repo is not None:
            return await self._repo.delete(name)
        return await self._handle().delete(self.user_id, name)


def _scope(inv: Invocation) -> ScopeName:
    return "personal" if inv.options.get("scope") == "personal" else "guild"


def _name(inv: Invocation, key: str = "name") -> str:
    return str(inv.options.get(key) or "")


def _may_change(g: Guild, inv: Invocation, book: _Book, playlist: Playlist) -> bool:
    """Personal playlists are their owner's by construction (the folder is the user's)."""
    return book.scope == "personal" or playlist.owner_id == inv.user_id or g.is_dj(inv)


async def _load_changeable(
    g: Guild, inv: Invocation, book: _Book, name: str | None = None
) -> Playlist | None:
    """The playlist named in the command, if this member may change it; else say why."""
    playlist = await book.load(_name(inv) if name is None else name)
    if not _may_change(g, inv, book, playlist):
        await g.answer(inv, "playlist.not_allowed", ephemeral=True, name=playlist.name)
        return None
    return playlist


async def _load_deletable(
    g: Guild, inv: Invocation, book: _Book, name: str | None = None
) -> Playlist | None:
    """As :func:`_load_changeable`, but a damaged playlist can still be deleted (its creator
    cannot be read, so in a server only a DJ may): storage moves its bytes aside."""
    wanted = _name(inv) if name is None else name
    try:
        return await _load_changeable(g, inv, book, wanted)
    except CorruptFile:
        if book.scope != "personal" and not g.is_dj(inv):
            raise
        clean = names.validate(wanted)
        return Playlist(name=clean, owner_id=inv.user_id, created_at=0.0, updated_at=0.0)


async def _run(g: Guild, inv: Invocation, book: _Book, action: Any) -> None:
    """Run one playlist action, turning storage errors into the user's message."""
    try:
        await action()
    except StorageError as exc:
        # A full or unwritable disk is the operator's problem; the rest is the member's input.
        emit = log.warning if isinstance(exc, OPERATOR_ERRORS) else log.info
        emit(
            "playlist_refused",
            command=inv.name,
            scope=book.scope,
            error=type(exc).__name__,
            detail=str(exc),
        )
        await g.respond(inv, exc.user_message(g.lang(inv)), ephemeral=True)
    except Unavailable:
        await g.answer(inv, "playlist.personal_unavailable", ephemeral=True)


# ------------------------------------------------------------------ save / load


async def save(g: Guild, inv: Invocation) -> None:
    book = _Book(g, _scope(inv), inv.user_id)
    tracks = ([g.queue.current] if g.queue.current is not None else []) + g.queue.upcoming
    if not tracks:
        await g.answer(inv, "playlist.nothing_to_save", ephemeral=True)
        return

    async def action() -> None:
        try:
            saved = await book.save(_name(inv), tracks)
        except AlreadyExists as exc:
            # Offer to overwrite (Overwrite / Keep it) to whoever may change that playlist;
            # anybody else just hears that the name is taken.
            playlist = await book.load(exc.existing)
            if not _may_change(g, inv, book, playlist):
                raise
            body = playlist_views.overwrite_confirmation(playlist, book.scope, g.lang(inv))
            await g.respond(inv, body, ephemeral=True)
            return
        await g.answer(
            inv,
            "playlist.saved",
            name=saved.name,
            count=len(saved.tracks),
            where=playlist_views.where(book.scope, g.lang(inv)),
        )

    await _run(g, inv, book, action)


async def overwrite_confirmed(g: Guild, inv: Invocation) -> None:
    """The Overwrite button of a /playlist save whose name was taken: save the queue of now."""
    parsed = playlist_views.parse_token(inv.name)
    lang = g.lang(inv)
    if parsed is None or parsed[1] < time.time():
        await g.update(inv, {"content": t("playlist.overwrite_expired", lang), "components": []})
        return
    scope, _expiry, name = parsed
    book = _Book(g, scope, inv.user_id)
    tracks = ([g.queue.current] if g.queue.current is not None else []) + g.queue.upcoming
    if not tracks:
        await g.update(inv, {"content": t("playlist.nothing_to_save", lang), "components": []})
        return

    async def action() -> None:
        playlist = await _load_changeable(g, inv, book, name)
        if playlist is None:
            return
        saved = await book.save(playlist.name, tracks, overwrite=True)
        log.info("playlist_overwritten", scope=scope, tracks=len(saved.tracks))
        where = playlist_views.where(book.scope, lang)
        text = t("playlist.saved", lang, name=saved.name, count=len(saved.tracks), where=where)
        await g.update(inv, {"content": text, "components": []})

    await _run(g, inv, book, action)


async def load(g: Guild, inv: Invocation) -> None:
    book = _Book(g, _scope(inv), inv.user_id)

    async def action() -> None:
        playlist = await book.load(_name(inv))
        if not playlist.tracks:
            await g.answer(inv, "playlist.empty", name=playlist.name, ephemeral=True)
            return
        replace = bool(inv.options.get("replace", False))
        if replace and g.queue.current is not None and not g.is_dj(inv):
            await g.answer(inv, "cmd.need_dj", ephemeral=True)
            return
        if not await g.join_member(inv):
            return
        if replace:
            g.queue.clear(keep_current=False)
            await g.stop_playback()
        # Unresolved tracks (no stream URL): the actor resolves each one just before it plays.
        entries = [g.new_entry(s.to_track(), inv.user_id) for s in playlist.tracks]
        room = g.queue.free_slots
        added = entries[:room]
        if not added:
            raise QueueFull(g.queue.max_length, len(g.queue), len(entries))
        fair_queue.extend(g, added)
        await g.kick()
        g.changed()
        key = "playlist.loaded_replaced" if replace else "playlist.loaded"
        text = t(key, g.lang(inv), name=playlist.name, count=len(added))
        if len(added) < len(entries):
            text += " " + t("playlist.loaded_partly", g.lang(inv), skipped=len(entries) - room)
        await g.respond(inv, text)

    await _run(g, inv, book, action)


# ------------------------------------------------------------------ reading


async def list_playlists(g: Guild, inv: Invocation) -> None:
    book = _Book(g, _scope(inv), inv.user_id)

    async def action() -> None:
        index = await book.list()
        lang = g.lang(inv)
        where = playlist_views.where(book.scope, lang)
        if not index.playlists and not index.unreadable:
            await g.answer(inv, "playlist.none", where=where)
            return
        await g.respond(inv, playlist_views.index_body(index, where, lang))

    await _run(g, inv, book, action)


async def show(g: Guild, inv: Invocation) -> None:
    book = _Book(g, _scope(inv), inv.user_id)

    async def action() -> None:
        playlist = await book.load(_name(inv))
        page = paginate(playlist, int(inv.options.get("page", 1) or 1), PAGE_SIZE)
        await g.respond(
            inv,
            playlist_views.playlist_page(playlist, page, book.scope, g.lang(inv)),
            ephemeral=book.scope == "personal",
        )

    await _run(g, inv, book, action)


async def show_page(g: Guild, inv: Invocation) -> None:
    """A page button of /playlist show: ``playlist:page:<g|p>:<page>:<name>``."""
    parts = inv.name.split(":", 4)
    if (
        len(parts) != 5
        or parts[2] not in CODE_SCOPE
        or not (parts[3].isascii() and parts[3].isdigit())
    ):
        await g.answer(inv, "cmd.unknown_command", ephemeral=True)
        return
    scope = CODE_SCOPE[parts[2]]
    book = _Book(g, scope, inv.user_id)

    async def action() -> None:
        playlist = await book.load(parts[4])
        page = paginate(playlist, int(parts[3]), PAGE_SIZE)
        await g.update(inv, playlist_views.playlist_page(playlist, page, scope, g.lang(inv)))

    await _run(g, inv, book, action)


# ------------------------------------------------------------------ changing


async def add(g: Guild, inv: Invocation) -> None:
    book = _Book(g, _scope(inv), inv.user_id)
    query = str(inv.options.get("query") or "").strip()
    if not query:
        await g.answer(inv, "cmd.search_none", ephemeral=True, query=query)
        return

    async def action() -> None:
        playlist = await _load_changeable(g, inv, book)  # refuse early: unknown name, no permission
        if playlist is None:
            return
        if len(playlist.tracks) >= _track_limit(g):
            await g.answer(inv, "playlist.full", ephemeral=True, limit=_track_limit(g))
            return
        await g.defer(inv)
        g.pending += 1
        g.nursery.start_soon(_find_track, g, inv, query)

    await _run(g, inv, book, action)


def _track_limit(g: Guild) -> int:
    return g.deps.storage.max_playlist_tracks


async def _first_track(outcome: Any) -> Track | None:
    match outcome:
        case SingleResult(track=track):
            return track
        case SearchResult(tracks=tracks):
            return tracks[0] if tracks else None
        case PlaylistResult(batches=batches):
            async with batches:
                async for batch in batches:
                    if batch:
                        return batch[0]
            return None
    return None


async def _find_track(g: Guild, inv: Invocation, query: str) -> None:
    """Child task: the network part of /playlist add; the answer goes back to the inbox."""
    try:
        outcome = await g.deps.extractor.extract(query, inv.user_id)
        track = await _first_track(outcome)
    except Exception as exc:  # reported to the user by the actor, like /play's failures
        await g.inbox_send.send(PlaylistTrackFound(inv=inv, error=exc))
        return
    await g.inbox_send.send(PlaylistTrackFound(inv=inv, track=track))


async def on_track_found(g: Guild, msg: PlaylistTrackFound) -> None:
    inv = msg.inv
    g.pending -= 1
    lang = g.lang(inv)
    if msg.error is not None:
        log.info("playlist_add_extraction_failed", error=repr(msg.error))
        await g.respond(inv, failure_text(msg.error, lang))
        return
    if msg.track is None:
        await g.answer(inv, "cmd.search_none", query=str(inv.options.get("query") or ""))
        return
    book = _Book(g, _scope(inv), inv.user_id)
    track = msg.track

    async def action() -> None:
        # Checked again: the playlist may have changed while the track was being found.
        playlist = await _load_changeable(g, inv, book)
        if playlist is None:
            return
        updated = await book.add(playlist.name, [track])
        await g.answer(
            inv,
            "playlist.added",
            title=track.title,
            name=updated.name,
            position=len(updated.tracks),
        )

    await _run(g, inv, book, action)


async def remove(g: Guild, inv: Invocation) -> None:
    book = _Book(g, _scope(inv), inv.user_id)

    async def action() -> None:
        playlist = await _load_changeable(g, inv, book)
        if playlist is None:
            return
        updated, track = await book.remove(playlist.name, int(inv.options.get("index", 0)))
        await g.answer(
            inv, "playlist.removed", title=track.title, name=updated.name, count=len(updated.tracks)
        )

    await _run(g, inv, book, action)


async def rename(g: Guild, inv: Invocation) -> None:
    book = _Book(g, _scope(inv), inv.user_id)

    async def action() -> None:
        playlist = await _load_changeable(g, inv, book)
        if playlist is None:
            return
        renamed = await book.rename(playlist.name, _name(inv, "new_name"))
        await g.answer(inv, "playlist.renamed", old=playlist.name, new=renamed.name)

    await _run(g, inv, book, action)


async def delete(g: Guild, inv: Invocation) -> None:
    book = _Book(g, _scope(inv), inv.user_id)

    async def action() -> None:
        playlist = await _load_deletable(g, inv, book)
        if playlist is None:
            return
        lang = g.lang(inv)
        body = playlist_views.delete_confirmation(playlist, book.scope, lang)
        await g.respond(inv, body, ephemeral=True)

    await _run(g, inv, book, action)


async def delete_confirmed(g: Guild, inv: Invocation) -> None:
    parsed = playlist_views.parse_token(inv.name)
    if parsed is None or parsed[1] < time.time():
        await g.update(
            inv, {"content": t("playlist.delete_expired", g.lang(inv)), "components": []}
        )
        return
    scope, _expiry, name = parsed
    book = _Book(g, scope, inv.user_id)

    async def action() -> None:
        playlist = await _load_deletable(g, inv, book, name)
        if playlist is None:
            return
        await book.delete(playlist.name)
        log.info("playlist_deleted", scope=scope, tracks=len(playlist.tracks))
        text = t("playlist.deleted", g.lang(inv), name=playlist.name)
        await g.update(inv, {"content": text, "components": []})

    await _run(g, inv, book, action)


async def delete_cancelled(g: Guild, inv: Invocation) -> None:
    parsed = playlist_views.parse_token(inv.name)
    name = parsed[2] if parsed is not None else ""
    await g.update(inv, {"content": t("playlist.kept", g.lang(inv), name=name), "components": []})


HANDLERS: Final[dict[str, Handler]] = {
    "playlist save": save,
    "playlist load": load,
    "playlist list": list_playlists,
    "playlist show": show,
    playlist_views.PAGE_PREFIX + ":*": show_page,
    "playlist add": add,
    "playlist remove": remove,
    "playlist rename": rename,
    "playlist delete": delete,
    playlist_views.DELETE_PREFIX + ":*": delete_confirmed,
    playlist_views.KEEP_PREFIX + ":*": delete_cancelled,
    playlist_views.OVERWRITE_PREFIX + ":*": overwrite_confirmed,
}
FAMILY: Final = Family(
    name="playlists",
    handlers=HANDLERS,
    reports={PlaylistTrackFound: on_track_found},
)
