"""/autoplay: when the queue runs out, related tracks keep playing (a radio).

Theory.  The setting is the guild's (``GuildSettings.autoplay``, saved before it applies, like
``/settings``); anybody may see it, and changing it is for a member in voice who is a DJ, a
server manager or the lone listener.  The flow calls :func:`on_track_started` whenever a track
starts; when that track is the *last* one (nothing upcoming, repeat off, autoplay on, the bot in
voice) a child task asks the extractor for tracks related to it
(``ExtractorHandle.related``: YouTube's mix of a YouTube video, else ``[extractor]
related_provider``), so the next track is queued while this one still plays and gapless
preloading can cover it.  The answer comes back as :class:`AutoplayFound`; :func:`on_found`
queues the first candidate not heard recently (:func:`pick`: not among the last
``WINDOW`` tracks played, nor current, nor queued; compared by page, a YouTube video under any
of its links, a mirrored Spotify track by its mirror's page too) as an entry marked
``autoplay`` and requested by the bot.  If the queue finished meanwhile (a slow provider) the
entry starts from the idle state (``g.kick``).

One fetch at a time: ``g.autoplay_for`` is the entry id whose related tracks are being fetched
("" for none).  /stop clears it, so an answer arriving after a stop starts nothing; an answer
is also dropped when members queued tracks meanwhile (theirs come first), when autoplay was
turned off or the bot left voice.  Nothing related (or every candidate heard recently) is
announced in the guild's language, and the queue finishes as usual; a failed fetch is
announced with its reason and never crashes the actor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Final

import attrs
import structlog

from actors.extractor.related import youtube_id
from actors.guild.messages import AutoplayFound, Invocation
from actors.guild.reasons import failure_text
from actors.guild.table import Family, Handler
from musicbot.extract.errors import ExtractionError, Reason
from musicbot.i18n import register
from musicbot.models.queue import QueueFull, RepeatMode
from musicbot.models.track import Track

if TYPE_CHECKING:
    from actors.guild.actor import Guild

log = structlog.get_logger(__name__)

WINDOW: Final = 50  # a track heard among the last WINDOW is not played again by autoplay
ON: Final = "on"
OFF: Final = "off"


# ------------------------------------------------------------------ the choice (pure)


def track_key(url: str) -> str:
    """What makes two page URLs the same track: the YouTube video, else the URL itself."""
    video = youtube_id(url)
    return f"youtube:{video}" if video is not None else url.strip()


def recent(history: Sequence[Track], queued: Iterable[Track], window: int = WINDOW) -> list[Track]:
    """The tracks autoplay must not repeat: the last ``window`` played, and every queued
    one (the current track included)."""
    return [*history[-window:], *queued] if window > 0 else list(queued)


def pick(candidates: Iterable[Track], avoid: Iterable[Track]) -> Track | None:
    """The first candidate that is none of ``avoid`` (nor a duplicate of an earlier
    candidate that was refused), or None."""
    seen = {track_key(page) for t in avoid for page in t.pages}
    for candidate in candidates:
        key = track_key(candidate.webpage_url)
        if key not in seen:
            return candidate
        seen.add(key)
    return None


# ------------------------------------------------------------------ the flow's hook


def _seed(g: Guild) -> Track | None:
    """The track to find related tracks for now, or None when autoplay has nothing to do."""
    current = g.queue.current
    if (
        not g.settings.autoplay
        or current is None
        or g.queue.upcoming
        or g.queue.repeat is not RepeatMode.OFF
        or g.voice_channel_id is None
        or g.autoplay_for
    ):
        return None
    return current


async def on_track_started(g: Guild, track: Track) -> None:
    """A track started (the flow's ``TrackStarted``): if it is the last one, fetch what
    follows it."""
    seed = _seed(g)
    if seed is not None and seed.entry_id == track.entry_id:
        _start_fetch(g, seed)


def _start_fetch(g: Guild, seed: Track) -> None:
    g.autoplay_for = seed.entry_id
    log.info("autoplay_fetch", entry=seed.entry_id, url=seed.webpage_url[:200])
    g.nursery.start_soon(_fetch, g, seed)


async def _fetch(g: Guild, seed: Track) -> None:
    """Child task: the extractor's related tracks for ``seed``, posted back as a report."""
    try:
        tracks = await g.deps.extractor.related(seed)
    except Exception as exc:  # extraction, refusal, a dead or stuck extractor: reported
        await g.inbox_send.send(AutoplayFound(entry_id=seed.entry_id, title=seed.title, error=exc))
        return
    await g.inbox_send.send(AutoplayFound(entry_id=seed.entry_id, title=seed.title, tracks=tracks))


async def on_found(g: Guild, msg: AutoplayFound) -> None:
    """The related tracks came back: queue the first one not heard recently (see the module
    docstring for when the answer is dropped instead)."""
    if g.autoplay_for != msg.entry_id:
        return  # stopped meanwhile (or an older fetch)
    g.autoplay_for = ""
    if not g.settings.autoplay or g.voice_channel_id is None or g.queue.upcoming:
        return
    if msg.error is not None:
        nothing = isinstance(msg.error, ExtractionError) and msg.error.reason is Reason.NO_RESULTS
        log.info("autoplay_failed", entry=msg.entry_id, error=repr(msg.error))
        if nothing:
            g.announce_text("autoplay.none", title=msg.title)
        else:
            g.announce_text(
                "autoplay.failed", title=msg.title, reason=failure_text(msg.error, g.lang())
            )
        return
    chosen = pick(msg.tracks, recent(g.queue.history, g.queue))
    if chosen is None:
        log.info("autoplay_all_recent", entry=msg.entry_id, offered=len(msg.tracks))
        g.announce_text("autoplay.none", title=msg.title)
        return
    entry = g.new_entry(attrs.evolve(chosen, autoplay=True), g.bot_id)
    try:
        g.queue.add(entry)
    except QueueFull:
        return
    log.info("autoplay_queued", url=chosen.webpage_url[:200])
    g.changed()
    if g.queue.current is not None and g.playing_entry is not None:
        g.show_now_playing()  # its "up next" is the autoplay track now
    await g.kick()  # the queue may have finished meanwhile: start from the idle state


# ------------------------------------------------------------------ the command


async def autoplay(g: Guild, inv: Invocation) -> None:
    mode = inv.options.get("mode")
    if mode is None:
        await g.answer(inv, "autoplay.is_on" if g.settings.autoplay else "autoplay.is_off")
        return
    if inv.voice_channel_id is None:
        await g.answer(inv, "cmd.not_in_voice", ephemeral=True)
        return
    if not g.is_dj(inv):
        await g.answer(inv, "cmd.need_dj", ephemeral=True)
        return
    on = str(mode) == ON
    if on != g.settings.autoplay:
        updated = attrs.evolve(g.settings, autoplay=on)
        # Saved first (a StorageError is answered by the actor): a restart loads what applies.
        await g.deps.storage.guild_settings(g.guild_id).save(updated)
        g.settings = updated
        log.info("autoplay_set", on=on)
    await g.answer(inv, "autoplay.on" if on else "autoplay.off")
    seed = _seed(g)
    if seed is not None:
        _start_fetch(g, seed)  # the current track is the last one already


register(
    en={
        "autoplay.is_on": "Autoplay is on: when the queue runs out, related tracks play.",
        "autoplay.is_off": "Autoplay is off: the music stops when the queue runs out.",
        "autoplay.on": "Autoplay is now on: when the queue runs out, related tracks play.",
        "autoplay.off": "Autoplay is now off.",
        "autoplay.none": "Autoplay found nothing related to **{title}**.",
        "autoplay.failed": "Autoplay couldn't find tracks related to **{title}**: {reason}",
        "settings.autoplay.on": "Autoplay: on (related tracks follow the queue)",
        "settings.autoplay.off": "Autoplay: off",
    },
    vi={
        "autoplay.is_on": "Tự phát đang bật: khi hết hàng chờ, bot phát các bài liên quan.",
        "autoplay.is_off": "Tự phát đang tắt: nhạc dừng khi hết hàng chờ.",
        "autoplay.on": "Đã bật tự phát: khi hết hàng chờ, bot phát các bài liên quan.",
        "autoplay.off": "Đã tắt tự phát.",
        "autoplay.none": "Tự phát không tìm thấy bài nào liên quan đến **{title}**.",
        "autoplay.failed": "Tự phát không lấy được bài liên quan đến **{title}**: {reason}",
        "settings.autoplay.on": "Tự phát: bật (phát bài liên quan khi hết hàng chờ)",
        "settings.autoplay.off": "Tự phát: tắt",
    },
)


HANDLERS: Final[dict[str, Handler]] = {"autoplay": autoplay}
FAMILY: Final = Family(name="autoplay", handlers=HANDLERS, reports={AutoplayFound: on_found})

__all__ = ["on_found", "on_track_started", "pick", "recent", "track_key"]
