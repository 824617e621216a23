"""The music commands, as functions of the guild actor's state (run only by the actor task)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

import attrs
import structlog
import trio

from actors.extractor.messages import PlaylistResult, SearchResult, SingleResult
from actors.guild import views
from actors.guild.messages import Extracted, Invocation, PlaylistBatch
from actors.guild.reasons import failure_text
from musicbot.i18n import t
from musicbot.models.queue import QueueFull, QueuePositionError, RepeatMode
from musicbot.models.track import Track

if TYPE_CHECKING:
    from actors.guild.actor import Guild

log = structlog.get_logger(__name__)

Handler = Callable[["Guild", Invocation], Awaitable[None]]
HANDLERS: dict[str, Handler] = {}
# Commands that change what everybody hears: a DJ, a server manager or a lone listener only.
DJ_ONLY: Final = frozenset({"stop", "clear", "volume", "247", "np:stop"})
# Commands that need the member in the bot's voice channel (or the bot free to join them).
REPLY_TIMEOUT_ON_CRASH: Final = 3.0
NEEDS_VOICE: Final = frozenset({"play", "playnext", "search", "join"})


def command(*names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in names:
            HANDLERS[name] = fn
        return fn

    return register


async def dispatch(g: Guild, inv: Invocation) -> None:
    if inv.channel_id is not None and inv.name in NEEDS_VOICE | {"playnext"}:
        g.text_channel_id = inv.channel_id
    g.locale = inv.locale
    name = inv.name
    key = name if ":" not in name else ":".join(name.split(":")[:2])
    handler = HANDLERS.get(key) or HANDLERS.get(name.split(":")[0] + ":*")
    if handler is None:
        await g.answer(inv, "cmd.unknown_command", ephemeral=True)
        return
    if key in DJ_ONLY and not g.is_dj(inv):
        await g.answer(inv, "cmd.need_dj", ephemeral=True)
        return
    try:
        await handler(g, inv)
    except QueueFull as exc:
        await g.answer(inv, "cmd.queue_full", ephemeral=True, limit=exc.limit)
    except QueuePositionError as exc:
        await g.answer(inv, "cmd.bad_index", ephemeral=True, index=exc.position)
    except Exception:
        # Let it crash (the supervisor restarts the guild from its snapshot), but the member
        # still gets an answer instead of "the application did not respond".
        await g.answer(inv, "cmd.internal_error", ephemeral=True)
        with trio.move_on_after(REPLY_TIMEOUT_ON_CRASH):
            await g.wait_replies(inv)  # before the crash cancels the actor's tasks
        raise


# ------------------------------------------------------------------ voice checks


async def _voice_check(g: Guild, inv: Invocation) -> bool:
    """The member must be in voice; the bot joins them unless busy elsewhere with listeners."""
    channel = inv.voice_channel_id
    if channel is None:
        await g.answer(inv, "cmd.not_in_voice", ephemeral=True)
        return False
    if g.voice_channel_id is not None and g.voice_channel_id != channel and g.listeners():
        await g.answer(inv, "cmd.busy_elsewhere", ephemeral=True, channel_id=g.voice_channel_id)
        return False
    g.join(channel)
    return True


# ------------------------------------------------------------------ adding tracks


@command("play", "playnext")
async def play(g: Guild, inv: Invocation) -> None:
    query = str(inv.options.get("query", "")).strip()
    if not query or not await _voice_check(g, inv):
        if not query:
            await g.answer(inv, "cmd.search_none", ephemeral=True, query=query)
        return
    await _start_extraction(g, inv, query, play_next=inv.name == "playnext")


@command("search")
async def search(g: Guild, inv: Invocation) -> None:
    query = str(inv.options.get("query", "")).strip()
    if not await _voice_check(g, inv):
        return
    await _start_extraction(g, inv, query, play_next=False, search_only=True)


async def _start_extraction(
    g: Guild, inv: Invocation, query: str, *, play_next: bool, search_only: bool = False
) -> None:
    if g.pending >= 8:
        await g.answer(inv, "cmd.internal_error", ephemeral=True)
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


def _entry(track: Track, user_id: int) -> Track:
    return track.with_requester(user_id, secrets.token_hex(6))


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
                    k: v for k, v in g.searches.items() if v[0] > trio.current_time() - 300
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
    entry = _entry(track, inv.user_id)
    try:
        position = g.queue.add_next(entry) if play_next else g.queue.add(entry)
    except QueueFull as exc:  # also reached from on_extracted, outside dispatch
        await g.answer(inv, "cmd.queue_full", limit=exc.limit)
        return
    key = "cmd.queued_next" if play_next else "cmd.queued"
    await g.answer(
        inv,
        key,
        title=track.title,
        duration=views.format_duration(track.duration, lang),
        position=position,
    )
    await _kick(g)
    g.changed()


async def _kick(g: Guild) -> None:
    """Start playing if nothing is."""
    if g.playing_entry is None and not g.resolving:
        if g.queue.current is None:
            g.queue.advance()
        await g.play_current()


async def on_playlist_batch(g: Guild, msg: PlaylistBatch) -> None:
    entries = [_entry(tr, msg.inv.user_id) for tr in msg.tracks]
    room = g.queue.free_slots
    if room < len(entries):
        entries = entries[:room]
    if entries:
        g.queue.extend(entries)
        await _kick(g)
        g.changed()


@command("search:*")
async def search_pick(g: Guild, inv: Invocation) -> None:
    token = inv.name.split(":", 1)[1]
    found = g.searches.get(token)
    if found is None or not inv.values:
        await g.answer(inv, "cmd.search_expired", ephemeral=True)
        return
    _, _requester, tracks = found
    try:
        track = tracks[int(inv.values[0])]
    except (ValueError, IndexError):
        await g.answer(inv, "cmd.search_expired", ephemeral=True)
        return
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


@command("pause", "np:pause")
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


@command("resume", "np:resume")
async def resume(g: Guild, inv: Invocation) -> None:
    if await _need_current(g, inv) is None:
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


@command("skip", "np:skip")
async def skip(g: Guild, inv: Invocation) -> None:
    track = await _need_current(g, inv)
    if track is None:
        return
    if track.requester_id != inv.user_id and not g.is_dj(inv):
        await g.answer(inv, "cmd.not_your_track", ephemeral=True)
        return
    g.queue.skip()
    await g.play_current()
    await _after_control(g, inv, "cmd.skipped", title=track.title)


@command("skipto")
async def skipto(g: Guild, inv: Invocation) -> None:
    if not g.is_dj(inv):
        await g.answer(inv, "cmd.need_dj", ephemeral=True)
        return
    track = g.queue.skip_to(int(inv.options.get("index", 0)))
    await g.play_current()
    await _after_control(g, inv, "cmd.skipped_to", title=track.title)


@command("previous")
async def previous(g: Guild, inv: Invocation) -> None:
    track = g.queue.previous()
    if track is None:
        await g.answer(inv, "cmd.no_previous", ephemeral=True)
        return
    await g.play_current()
    await _after_control(g, inv, "cmd.previous", title=track.title)


@command("stop", "np:stop")
async def stop(g: Guild, inv: Invocation) -> None:
    g.queue.clear(keep_current=False)
    await g.stop_playback()
    g.idle_since = trio.current_time()
    g.changed()
    await g.answer(inv, "cmd.stopped")


@command("join")
async def join(g: Guild, inv: Invocation) -> None:
    if await _voice_check(g, inv):
        await g.answer(inv, "cmd.joined", channel_id=inv.voice_channel_id)


@command("leave")
async def leave(g: Guild, inv: Invocation) -> None:
    if g.voice_channel_id is None:
        await g.answer(inv, "cmd.not_connected", ephemeral=True)
        return
    if g.listeners() and not g.is_dj(inv):
        await g.answer(inv, "cmd.need_dj", ephemeral=True)
        return
    await g.leave(None)
    await g.answer(inv, "cmd.left")


@command("seek")
async def seek(g: Guild, inv: Invocation) -> None:
    track = await _need_current(g, inv)
    if track is None:
        return
    if track.is_live:
        await g.answer(inv, "cmd.cannot_seek_live", ephemeral=True)
        return
    position = views.parse_position(str(inv.options.get("position", "")))
    if position is None or (track.duration is not None and position >= track.duration):
        await g.answer(inv, "cmd.bad_position", ephemeral=True)
        return
    g.set_position(position, moving=g.playing_entry is not None and not g.paused)
    if g.player is not None and g.playing_entry is not None:
        await g.player.seek(position)
    g.changed()
    await g.answer(inv, "cmd.seeked", position=views.format_duration(position, g.lang(inv)))


@command("volume")
async def volume(g: Guild, inv: Invocation) -> None:
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


@command("repeat", "np:repeat")
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


@command("shuffle", "np:shuffle")
async def shuffle(g: Guild, inv: Invocation) -> None:
    g.queue.shuffle(g.deps.rng)
    await _after_control(g, inv, "cmd.shuffled", refresh_np=True, count=len(g.queue.upcoming))


@command("remove")
async def remove(g: Guild, inv: Invocation) -> None:
    index = int(inv.options.get("index", 0))
    track = g.queue.at(index)
    if track.requester_id != inv.user_id and not g.is_dj(inv):
        await g.answer(inv, "cmd.need_dj", ephemeral=True)
        return
    g.queue.remove(index)
    g.changed()
    await g.answer(inv, "cmd.removed", title=track.title)


@command("move")
async def move(g: Guild, inv: Invocation) -> None:
    if not g.is_dj(inv):
        await g.answer(inv, "cmd.need_dj", ephemeral=True)
        return
    target = int(inv.options.get("to", 1))
    track = g.queue.move(int(inv.options.get("from", 0)), target)
    g.changed()
    await g.answer(inv, "cmd.moved", title=track.title, position=target)


@command("clear")
async def clear(g: Guild, inv: Invocation) -> None:
    count = g.queue.clear(keep_current=True)
    g.changed()
    await g.answer(inv, "cmd.cleared", count=count)


@command("queue", "queue:page")
async def queue(g: Guild, inv: Invocation) -> None:
    if inv.name.startswith("queue:page:"):
        page = int(inv.name.rsplit(":", 1)[1])
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


@command("nowplaying")
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


@command("history")
async def history(g: Guild, inv: Invocation) -> None:
    await g.respond(inv, views.history_page(g.queue.history, locale=g.lang(inv)))


@command("247")
async def stay(g: Guild, inv: Invocation) -> None:
    g.stay_24_7 = not g.stay_24_7
    g.settings = attrs.evolve(g.settings, stay_24_7=g.stay_24_7)
    await g.deps.storage.guild_settings(g.guild_id).save(g.settings)
    g.changed()
    await g.answer(inv, "cmd.247_on" if g.stay_24_7 else "cmd.247_off")
