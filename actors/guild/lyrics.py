"""/lyrics: the current track's lyrics from LRCLIB, the line being sung highlighted.

The look-up (:func:`musicbot.lyrics.find`, one HTTP request to ``[lyrics] api_base`` only)
runs in a child task of the guild actor, so the actor keeps answering commands and pacing
audio meanwhile; the task posts :class:`LyricsFound` back and :func:`on_found` answers the
deferred interaction.  Synced lyrics are shown as a window around the line at the playback
position of the moment the answer arrives (if the track is still the one asked about).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import structlog

from actors.guild import views
from actors.guild.messages import Invocation, LyricsFound
from actors.guild.table import Family, Handler
from musicbot import lyrics as lrclib
from musicbot.i18n import register, t

if TYPE_CHECKING:
    from actors.guild.actor import Guild

log = structlog.get_logger(__name__)

BEFORE: Final = 3  # synced lines shown before the current one
AFTER: Final = 8  # and after it
MAX_TEXT: Final = 4000  # characters of an embed description


async def lyrics(g: Guild, inv: Invocation) -> None:
    if not g.cfg.lyrics.enabled:
        await g.answer(inv, "lyrics.disabled", ephemeral=True)
        return
    track = g.queue.current
    if track is None:
        await g.answer(inv, "cmd.nothing_playing", ephemeral=True)
        return
    await g.defer(inv)
    found_for = (track.entry_id, track.title, track.uploader, track.duration)
    g.nursery.start_soon(_look_up, g, inv, *found_for)


async def _look_up(
    g: Guild,
    inv: Invocation,
    entry_id: str,
    title: str,
    artist: str | None,
    duration: float | None,
) -> None:
    cfg = g.cfg.lyrics
    try:
        found = await lrclib.find(cfg.api_base, title, artist, duration, timeout=cfg.timeout)
    except lrclib.LyricsUnavailable as exc:
        await g.inbox_send.send(LyricsFound(inv=inv, entry_id=entry_id, title=title, error=exc))
        return
    await g.inbox_send.send(LyricsFound(inv=inv, entry_id=entry_id, title=title, lyrics=found))


def render(found: lrclib.Lyrics, position: float | None, lang: str | None) -> str:
    """The text shown: a window of synced lines with the current one in bold, or plain."""
    if found.synced and position is not None:
        current = found.line_at(position)
        middle = 0 if current is None else current
        first = max(0, middle - BEFORE)
        lines = []
        for i, (_at, words) in enumerate(found.synced[first : middle + AFTER + 1], start=first):
            words = words or "♪"
            lines.append(f"**▶ {words}**" if i == current else words)
        return "\n".join(lines)[:MAX_TEXT]
    return found.plain[:MAX_TEXT] or t("lyrics.none", lang, title=found.title)


async def on_found(g: Guild, msg: LyricsFound) -> None:
    inv = msg.inv
    lang = g.lang(inv)
    track = g.queue.current
    if msg.error is not None:
        log.info("lyrics_unavailable", error=str(msg.error))
        await g.respond(inv, t("lyrics.unavailable", lang))
        return
    found = msg.lyrics
    if not isinstance(found, lrclib.Lyrics):
        await g.respond(inv, t("lyrics.none", lang, title=msg.title))
        return
    # Synced to where playback is now, while the track asked about still plays.
    still = track is not None and track.entry_id == msg.entry_id
    position = g.playback_position() if still else None
    footer = (
        t("lyrics.synced_at", lang, position=views.format_duration(position, lang))
        if found.synced and position is not None
        else t("lyrics.source", lang)
    )
    embed = {
        "title": t("lyrics.title", lang, title=found.title, artist=found.artist)[:256],
        "description": render(found, position, lang),
        "color": views.EMBED_COLOUR,
        "footer": {"text": footer},
    }
    await g.respond(inv, {"embeds": [embed], "allowed_mentions": {"parse": []}})


register(
    en={
        "lyrics.disabled": "Lyrics are turned off on this bot.",
        "lyrics.unavailable": "The lyrics service can't be reached right now; try again later.",
        "lyrics.none": "I found no lyrics for **{title}**.",
        "lyrics.title": "Lyrics — {title} · {artist}",
        "lyrics.synced_at": "At {position} · lyrics from LRCLIB",
        "lyrics.source": "Lyrics from LRCLIB",
    },
    vi={
        "lyrics.disabled": "Bot này đã tắt tính năng lời bài hát.",
        "lyrics.unavailable": "Hiện không kết nối được dịch vụ lời bài hát; hãy thử lại sau.",
        "lyrics.none": "Mình không tìm thấy lời cho **{title}**.",
        "lyrics.title": "Lời bài hát — {title} · {artist}",
        "lyrics.synced_at": "Tại {position} · lời từ LRCLIB",
        "lyrics.source": "Lời bài hát từ LRCLIB",
    },
)


HANDLERS: Final[dict[str, Handler]] = {"lyrics": lyrics}
FAMILY: Final = Family(name="lyrics", handlers=HANDLERS, reports={LyricsFound: on_found})
