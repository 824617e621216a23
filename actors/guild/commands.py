"""The music family of commands: playing, queue editing and playback control.

Functions of the guild actor's state, run only by the actor task.  They are not registered by
import: ``FAMILY`` at the bottom names them, and ``actors.guild.families`` puts the family
in the table the actor is given.  Options arrive validated against ``musicbot.commands``
definitions (type, range, choices), so a handler never sees a value Discord's schema forbids.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any, Final

import attrs
import structlog
import trio

from actors.extractor.messages import PlaylistResult, SearchResult, SingleResult
from actors.guild import fair_queue, queue_care, views, vote_skip
from actors.guild.messages import Extracted, Invocation, PlaylistBatch
from actors.guild.reasons import failure_text
from actors.guild.table import Family, Handler
from musicbot.i18n import t
from musicbot.models.queue import QueueFull, RepeatMode
from musicbot.models.track import Track
from musicbot.safety import looks_like_url

if TYPE_CHECKING:
    from actors.guild.actor import Guild

log = structlog.get_logger(__name__)

# Commands that change what everybody hears: a DJ, a server manager or a lone listener only.
# (/volume checks in its handler: showing the volume is for everyone, setting it is not.)
DJ_ONLY: Final = frozenset({"stop", "clear", "247", "np:stop"})
MAX_PENDING_EXTRACTIONS: Final = 8  # per guild; more is answered "busy"
SEARCH_TTL: Final = 300.0  # seconds a /search menu can be picked from


# ------------------------------------------------------------------ adding tracks


async def play(g: Guild, inv: Invocation) -> None:
    query = str(inv.options.get("query", "")).strip()
    if not query:
        await g.answer(inv, "cmd.search_none", ephemeral=True, query=query)
        return
    if not await g.join_member(inv):
        return
    await _start_extraction(g, inv, query, play_next=inv.name == "playnext")


async def search(g: Guild, inv: Invocation) -> None:
    query = str(inv.options.get("query", "")).strip()
    if not query:
        await g.answer(inv, "cmd.search_none", ephemeral=True, query=query)
        return
    if looks_like_url(query) or query.lower().startswith("spotify:"):
        # Searched as words a link finds nothing it names: say what the member meant.
        await g.answer(inv, "cmd.search_link", ephemeral=True)
        return
    if not await g.join_member(inv):
        return
    await _start_extraction(g, inv, query, play_next=False, search_only=True)


async def _start_extraction(
    g: Guild, inv: Invocation, query: str, *, play_next: bool, search_only: bool = False
) -> None:
    if g.pending >= MAX_PENDING_EXTRACTIONS:
        await g.answer(inv, "cmd.busy", ephemeral=True)
        return
    await g.defer(inv, ephemeral=search_only)
    g.pending += 1
    g.nursery.start_soon(_extract_task, g, inv, query, play_next, search_only)


async def _extract_task(
    g: Guild, inv: Invocation, query: str, play_next: bool, search_only: bool
) -> None:
    try:
        if search_only:
            outcome: Any = await g.deps.extractor.search(query, inv.user_id)
        else:
            outcome = await g.deps.extractor.extract(query, inv.user_id)
    except Exception as exc:
        await g.inbox_send.send(Extracted(inv=inv, play_next=play_next, error=exc))
        return
    await g.inbox_send.send(Extracted(inv=inv, play_next=play_next, outcome=outcome))
    if isinstance(outcome, PlaylistResult):
        async with outcome.batches:
            async for batch in outcome.batches:
                await g.inbox_send.send(PlaylistBatch(inv=inv, tracks=batch))


async def on_extracted(g: Guild, msg: Extracted) -> None:
    inv = msg.inv
    g.pending -= 1
    lang = g.lang(inv)
    if msg.error is not None or msg.outcome is None:
        log.info("extraction_failed", query=inv.options.get("query"), error=repr(msg.error))
        await g.respond(inv, failure_text(msg.error, lang))
        return
    outcome = msg.outcome
    match outcome:
        case SingleResult(track=track):
            await _add_one(g, inv, track, play_next=msg.play_next)
        case SearchResult(query=query, tracks=tracks):
            if inv.name == "search":
                token = secrets.token_hex(4)
                g.searches = {
                    k: v for k, v in g.searches.items() if v[0] > trio.current_time() - SEARCH_TTL
                }
                g.searches[token] = (trio.current_time(), inv.user_id, tracks)
                await g.respond(inv, views.search_picker(query, tracks, token, locale=lang))
            elif tracks:
                await _add_one(g, inv, tracks[0], play_next=msg.play_next)
            else:
                await g.answer(inv, "cmd.search_none", query=query)
        case PlaylistResult(title=title, total=total, truncated=truncated):
            text = t("cmd.queued_playlist", lang, count=total, title=title)
            if truncated:
                text += " " + t(
                    "cmd.playlist_truncated", lang, limit=g.cfg.limits.max_playlist_import
                )
            await g.respond(inv, text)


async def _add_one(g: Guild, inv: Invocation, track: Track, *, play_next: bool) -> None:
    lang = g.lang(inv)
    limit = g.cfg.limits.max_track_seconds
    if track.duration is not None and not track.is_live and track.duration > limit:
        await g.answer(
            inv,
            "cmd.too_long",
            title=track.title,
            duration=views.format_duration(track.duration, lang),
            limit=views.format_duration(limit, lang),
        )
        return
    entry = g.new_entry(track, inv.user_id)
    try:
        if play_next:
            position = g.queue.add_next(entry)
        else:
            position = g.queue.insert(fair_queue.position_for(g, entry.requester_id), entry)
    except QueueFull as exc:
        await g.answer(inv, "cmd.queue_full", limit=exc.limit)
        return
    key = "cmd.queued_next" if play_next else "cmd.queued"
    await g.answer(
        inv,
        key,
        title=track.title,
        duration=views.track_length(track, lang),
        position=position,
    )
    await g.kick()
    g.changed()


async def on_playlist_batch(g: Guild, msg: PlaylistBatch) -> None:
    entries = [g.new_entry(tr, msg.inv.user_id) for tr in msg.tracks]
    room = g.queue.free_slots
    if room < len(entries):
        entries = entries[:room]
    if entries:
        fair_queue.extend(g, entries)
        await g.kick()
        g.changed()


async def search_pick(g: Guild, inv: Invocation) -> None:
    token = inv.name.split(":", 1)[1]
    found = g.searches.get(token)
    if found is None or not inv.values:
        await g.answer(inv, "cmd.search_expired", ephemeral=True)
        return
    _, _requester, tracks = found
    choice = inv.values[0]
    if not (choice.isascii() and choice.isdigit() and int(choice) < len(tracks)):
        await g.answer(inv, "cmd.search_expired", ephemeral=True)
        return
    track = tracks[int(choice)]
    if inv.voice_channel_id is None:
        await g.answer(inv, "cmd.not_in_voice", ephemeral=True)
        return
    del g.searches[token]
    g.join(inv.voice_channel_id)
    # Search results are unresolved: the actor resolves them just before they play.
    await _add_one(g, inv, track, play_next=False)


# ------------------------------------------------------------------ playback control


async def _need_current(g: Guild, inv: Invocation) -> Track | None:
    track = g.queue.current
    if track is None:
        await g.answer(inv, "cmd.nothing_playing", ephemeral=True)
    return track


async def pause(g: Guild, inv: Invocation) -> None:
    if await _need_current(g, inv) is None:
        return
    if g.paused:
        await g.answer(inv, "cmd.already_paused", ephemeral=True)
        return
    g.set_position(g.playback_position(), moving=False)
    g.paused = True
    if g.player is not None:
        await g.player.pause()
    await _after_control(g, inv, "cmd.paused", refresh_np=True)


async def resume(g: Guild, inv: Invocation) -> None:
    if await _need_current(g, inv) is None:
        return
    if g.held:
        # Stopped after repeated errors, queue kept: carry on where it was.
        if await g.join_member(inv):
            g.changed()
            await g.answer(inv, "cmd.resumed")
        return
    if not g.paused:
        await g.answer(inv, "cmd.not_paused", ephemeral=True)
        return
    g.paused = False
    g.set_position(g.position, moving=g.playing_entry is not None)
    if g.player is not None:
        await g.player.resume()
    await _after_control(g, inv, "cmd.resumed", refresh_np=True)


async def _after_control(
    g: Guild, inv: Invocation, key: str, *, refresh_np: bool = False, **kw: Any
) -> None:
    """Answer a playback control: a button updates the now-playing message it sits on; a
    slash command answers in words and (``refresh_np``) brings that message up to date."""
    g.changed()
    if inv.name.startswith("np:"):
        track = g.queue.current
        if track is not None:
            upcoming = g.queue.upcoming
            await g.update(
                inv,
                views.now_playing(
                    track,
                    position=g.position,
                    paused=g.paused,
                    repeat=g.queue.repeat.value,
                    up_next=upcoming[0] if upcoming else None,
                    locale=g.lang(inv),
                ),
            )
            return
    if refresh_np:
        g.show_now_playing()
    await g.answer(inv, key, **kw)


async def skip(g: Guild, inv: Invocation) -> None:
    track = await _need_current(g, inv)
    if track is None:
        return
    key = "cmd.skipped"
    tally: dict[str, Any] = {}
    if track.requester_id != inv.user_id and not g.is_dj(inv):
        # Somebody else's track: a vote (actors.guild.vote_skip), which may pass.
        passed = await vote_skip.vote(g, inv, track)
        if passed is None:
            return
        key, tally = "vote.passed", passed
    g.queue.skip()
    await g.play_current()
    await _after_control(g, inv, key, title=track.title, **tally)


async def skipto(g: Guild, inv: Invocation) -> None:
    if not g.is_dj(inv):
        await g.answer(inv, "cmd.need_dj", ephemeral=True)
        return
    track = g.queue.skip_to(int(inv.options.get("index", 0)))
    await g.play_current()
    await _after_control(g, inv, "cmd.skipped_to", title=track.title)


async def previous(g: Guild, inv: Invocation) -> None:
    track = g.queue.previous()
    if track is None:
        await g.answer(inv, "cmd.no_previous", ephemeral=True)
        return
    await g.play_current()
    await _after_control(g, inv, "cmd.previous", title=track.title)


async def stop(g: Guild, inv: Invocation) -> None:
    g.queue.clear(keep_current=False)
    g.autoplay_for = ""  # a related-tracks answer still on its way starts nothing
    await g.stop_playback()
    g.idle_since = trio.current_time()
    if g.held:
        # The queue kept after repeated crashes is not wanted: forget its saved session too,
        # or a process restart would bring it back.
        g.held = False
        await g.end_session()
    g.changed()
    await g.answer(inv, "cmd.stopped")


async def join(g: Guild, inv: Invocation) -> None:
    if await g.join_member(inv):
        await g.answer(inv, "cmd.joined", channel_id=inv.voice_channel_id)


async def leave(g: Guild, inv: Invocation) -> None:
    if g.voice_channel_id is None:
        await g.answer(inv, "cmd.not_connected", ephemeral=True)
        return
    if g.listeners() and not g.is_dj(inv):
        await g.answer(inv, "cmd.need_dj", ephemeral=True)
        return
    await g.leave(None)
    await g.answer(inv, "cmd.left")


async def seek(g: Guild, inv: Invocation) -> None:
    track = await _need_current(g, inv)
    if track is None:
        return
    if track.is_live:
        await g.answer(inv, "cmd.cannot_seek_live", ephemeral=True)
        return
    position = queue_care.seek_target(str(inv.options.get("position", "")), g.playback_position())
    if position is None:
        await g.answer(inv, "cmd.bad_position", ephemeral=True)
        return
    if track.duration is not None and position >= track.duration:
        lang = g.lang(inv)
        await g.answer(
            inv,
            "cmd.seek_past_end",
            ephemeral=True,
            position=views.format_duration(position, lang),
            duration=views.track_length(track, lang),
        )
        return
    g.set_position(position, moving=g.playing_entry is not None and not g.paused)
    if g.player is not None and g.playing_entry is not None:
        await g.player.seek(position)
    g.changed()
    await g.answer(inv, "cmd.seeked", position=views.format_duration(position, g.lang(inv)))


async def volume(g: Guild, inv: Invocation) -> None:
    if inv.options.get("percent") is None:
        await g.answer(inv, "care.volume_is", volume=g.volume)
        return
    if not g.is_dj(inv):
        await g.answer(inv, "cmd.need_dj", ephemeral=True)
        return
    percent = max(0, min(200, int(inv.options.get("percent", 100))))
    g.volume = percent
    if g.player is not None:
        await g.player.set_volume(percent)
    g.changed()
    await g.answer(inv, "cmd.volume_set", volume=percent)


_REPEAT_CYCLE: Final = {
    RepeatMode.OFF: RepeatMode.TRACK,
    RepeatMode.TRACK: RepeatMode.QUEUE,
    RepeatMode.QUEUE: RepeatMode.OFF,
}


async def repeat(g: Guild, inv: Invocation) -> None:
    if "mode" in inv.options:
        mode = RepeatMode(str(inv.options["mode"]))
    else:
        mode = _REPEAT_CYCLE[g.queue.repeat]
    g.queue.set_repeat(mode)
    lang = g.lang(inv)
    await _after_control(
        g, inv, "cmd.repeat_set", refresh_np=True, mode=t(f"cmd.repeat.{mode.value}", lang)
    )


async def shuffle(g: Guild, inv: Invocation) -> None:
    g.queue.shuffle(g.deps.rng)
    await _after_control(g, inv, "cmd.shuffled", refresh_np=True, count=len(g.queue.upcoming))


async def remove(g: Guild, inv: Invocation) -> None:
    if queue_care.wants_bulk(inv):
        await queue_care.remove_many(g, inv)  # (it refuses a mix of ways itself)
        return
    if await queue_care.refuse_unless_one(g, inv):
        return
    index = int(inv.options.get("index", 0))
    track = g.queue.at(index)
    if track.requester_id != inv.user_id and not g.is_dj(inv):
        await g.answer(inv, "cmd.need_dj", ephemeral=True)
        return
    g.queue.remove(index)
    g.changed()
    await g.answer(inv, "cmd.removed", title=track.title)


async def move(g: Guild, inv: Invocation) -> None:
    if not g.is_dj(inv):
        await g.answer(inv, "cmd.need_dj", ephemeral=True)
        return
    track = g.queue.move(int(inv.options.get("from", 0)), int(inv.options.get("to", 1)))
    # A target past the end puts the track last: say where it really went.
    position = next(
        i for i, t in enumerate(g.queue.upcoming, start=1) if t.entry_id == track.entry_id
    )
    g.changed()
    await g.answer(inv, "cmd.moved", title=track.title, position=position)


async def clear(g: Guild, inv: Invocation) -> None:
    count = g.queue.clear(keep_current=True)
    g.changed()
    await g.answer(inv, "cmd.cleared", count=count)


async def queue(g: Guild, inv: Invocation) -> None:
    if inv.name.startswith("queue:page:"):
        digits = inv.name.rsplit(":", 1)[1]
        page = int(digits) if digits.isascii() and digits.isdigit() and len(digits) < 9 else 1
    else:
        page = int(inv.options.get("page", 1))
    body = views.queue_page(
        g.queue.current,
        g.queue.upcoming,
        page=page,
        repeat=g.queue.repeat.value,
        locale=g.lang(inv),
    )
    if inv.name.startswith("queue:"):
        await g.update(inv, body)
    else:
        await g.respond(inv, body)


async def nowplaying(g: Guild, inv: Invocation) -> None:
    track = await _need_current(g, inv)
    if track is None:
        return
    position = g.position
    if g.player is not None and g.playing_entry is not None:
        try:
            status = await g.player.status()
            position = status.position
        except trio.TooSlowError:
            pass
    upcoming = g.queue.upcoming
    await g.respond(
        inv,
        views.now_playing(
            track,
            position=position,
            paused=g.paused,
            repeat=g.queue.repeat.value,
            up_next=upcoming[0] if upcoming else None,
            locale=g.lang(inv),
        ),
    )


async def history(g: Guild, inv: Invocation) -> None:
    await g.respond(inv, views.history_page(g.queue.history, locale=g.lang(inv)))


async def stay(g: Guild, inv: Invocation) -> None:
    g.stay_24_7 = not g.stay_24_7
    g.settings = attrs.evolve(g.settings, stay_24_7=g.stay_24_7)
    await g.deps.storage.guild_settings(g.guild_id).save(g.settings)
    g.changed()
    await g.answer(inv, "cmd.247_on" if g.stay_24_7 else "cmd.247_off")


HANDLERS: Final[dict[str, Handler]] = {
    "play": play,
    "playnext": play,
    "search": search,
    "search:*": search_pick,
    "pause": pause,
    "np:pause": pause,
    "resume": resume,
    "np:resume": resume,
    "skip": skip,
    "np:skip": skip,
    "skipto": skipto,
    "previous": previous,
    "stop": stop,
    "np:stop": stop,
    "join": join,
    "leave": leave,
    "seek": seek,
    "volume": volume,
    "repeat": repeat,
    "np:repeat": repeat,
    "shuffle": shuffle,
    "np:shuffle": shuffle,
    "remove": remove,
    "move": move,
    "clear": clear,
    "queue": queue,
    "queue:page:*": queue,
    "nowplaying": nowplaying,
    "history": history,
    "247": stay,
}
FAMILY: Final = Family(
    name="music",
    handlers=HANDLERS,
    dj_only=DJ_ONLY,
    reports={Extracted: on_extracted, PlaylistBatch: on_playlist_batch},
)
