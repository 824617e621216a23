"""How the guild actor's state looks in Discord: embeds, buttons, progress bars, pages.

Pure functions returning JSON-able dicts in Discord's message shape, so they are easy to test and
to validate against Discord's OpenAPI description.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, Final, Protocol

import actors.guild.texts  # noqa: F401  (registers the command texts)
from musicbot.i18n import t
from musicbot.models.track import Track

EMBED_COLOUR: Final = 0x5865F2
QUEUE_PAGE_SIZE: Final = 10
BAR_WIDTH: Final = 18
# Component ids: "<view>:<action>[:<arg>]" so the router can route them without state.
NP_PREFIX: Final = "np"
QUEUE_PREFIX: Final = "queue"
SEARCH_PREFIX: Final = "search"
BUTTON_PRIMARY: Final = 1
BUTTON_SECONDARY: Final = 2
BUTTON_DANGER: Final = 4
COMPONENT_ROW: Final = 1
COMPONENT_BUTTON: Final = 2
COMPONENT_SELECT: Final = 3


class _HasLength(Protocol):
    @property
    def duration(self) -> float | None: ...
    @property
    def is_live(self) -> bool: ...


def format_duration(seconds: float | None, locale: str | None = None) -> str:
    """``m:ss`` / ``h:mm:ss``; None (a length nobody could read) is "unknown length"."""
    if seconds is None:
        return t("cmd.unknown_length", locale)
    total = max(0, int(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def track_length(track: _HasLength, locale: str | None = None) -> str:
    """A track's length as a member reads it: "live" only for a stream the extractor marked
    live; a length that could not be read says so ("unknown length"), never "live"."""
    if track.is_live:
        return t("cmd.live", locale)
    return format_duration(track.duration, locale)


_DIGITS: Final = re.compile(r"[0-9]{1,6}")
_SECONDS: Final = re.compile(r"[0-9]{1,9}(\.[0-9]{1,3})?")


def parse_position(text: str) -> float | None:
    """ "90", "1:30", "1:02:03", "83.5" → seconds; None when it is not a time.

    Only ASCII digits (and one decimal point in the seconds) are accepted, so nan, inf,
    negatives, exponents and underscores ("1e9", "1_0") are refused before any float exists."""
    parts = text.strip().split(":")
    if not 1 <= len(parts) <= 3:
        return None
    *bigger, last = parts
    if not all(_DIGITS.fullmatch(p) for p in bigger) or not _SECONDS.fullmatch(last):
        return None
    seconds = float(last)
    units = [int(p) for p in bigger]
    if bigger and seconds >= 60:
        return None
    if len(units) == 2 and units[1] >= 60:
        return None
    total = 0.0
    for unit in units:
        total = total * 60 + unit
    total = total * 60 + seconds
    return total if math.isfinite(total) else None


def progress_bar(position: float, duration: float | None, width: int = BAR_WIDTH) -> str:
    if not duration or duration <= 0:
        return "🔴 " + "▬" * width
    filled = min(width, max(0, round(width * position / duration)))
    return "▬" * filled + "🔘" + "─" * (width - filled)


def _track_line(track: Track, locale: str | None) -> str:
    title = track.title.replace("[", "(").replace("]", ")")
    if track.webpage_url.startswith(("http://", "https://")):
        title = f"[{title}]({track.webpage_url})"
    mark = f" · {t('autoplay.mark', locale)}" if track.autoplay else ""
    return f"{title} · {track_length(track, locale)}{mark}"


def _requester(track: Track) -> str:
    """Who queued an entry, as a mention (an embed's mention never pings anybody)."""
    return f" · <@{track.requester_id}>" if track.requester_id else ""


def now_playing(
    track: Track,
    *,
    position: float,
    paused: bool,
    repeat: str,
    up_next: Track | None,
    locale: str | None,
) -> dict[str, Any]:
    """The now-playing message with its control buttons (edited in place on track change)."""
    desc = [
        _track_line(track, locale),
        f"`{format_duration(position, locale)}` {progress_bar(position, track.duration)} "
        f"`{track_length(track, locale)}`",
    ]
    if track.requester_id:
        desc.append(t("cmd.requested_by", locale, user_id=track.requester_id))
    embed: dict[str, Any] = {
        "title": ("⏸ " if paused else "▶ ") + t("cmd.now_playing", locale),
        "description": "\n".join(desc),
        "color": EMBED_COLOUR,
    }
    if up_next is not None:
        embed["fields"] = [
            {"name": t("cmd.up_next", locale), "value": _track_line(up_next, locale)[:1024]}
        ]
    embed["footer"] = {"text": t("cmd.repeat_set", locale, mode=t(f"cmd.repeat.{repeat}", locale))}
    if track.thumbnail:
        embed["thumbnail"] = {"url": track.thumbnail}
    buttons = [
        _button(
            f"{NP_PREFIX}:{'resume' if paused else 'pause'}",
            t("button.resume" if paused else "button.pause", locale),
            BUTTON_PRIMARY,
        ),
        _button(f"{NP_PREFIX}:skip", t("button.skip", locale), BUTTON_SECONDARY),
        _button(f"{NP_PREFIX}:stop", t("button.stop", locale), BUTTON_DANGER),
        _button(f"{NP_PREFIX}:repeat", t("button.repeat", locale), BUTTON_SECONDARY),
        _button(f"{NP_PREFIX}:shuffle", t("button.shuffle", locale), BUTTON_SECONDARY),
    ]
    return {"embeds": [embed], "components": [{"type": COMPONENT_ROW, "components": buttons}]}


def _button(custom_id: str, label: str, style: int, disabled: bool = False) -> dict[str, Any]:
    return {
        "type": COMPONENT_BUTTON,
        "style": style,
        "label": label[:80],
        "custom_id": custom_id,
        "disabled": disabled,
    }


def page_count(n: int, size: int = QUEUE_PAGE_SIZE) -> int:
    return max(1, math.ceil(n / size))


def queue_page(
    current: Track | None,
    upcoming: Sequence[Track],
    *,
    page: int,
    repeat: str,
    locale: str | None,
) -> dict[str, Any]:
    """One page of /queue with previous/next buttons.  ``page`` is 1-based and clamped."""
    pages = page_count(len(upcoming))
    page = min(max(1, page), pages)
    start = (page - 1) * QUEUE_PAGE_SIZE
    lines: list[str] = []
    if current is not None:
        lines.append(
            f"**{t('cmd.now_playing', locale)}:** {_track_line(current, locale)}"
            + _requester(current)
        )
    for i, track in enumerate(upcoming[start : start + QUEUE_PAGE_SIZE], start=start + 1):
        lines.append(f"`{i}.` {_track_line(track, locale)}{_requester(track)}")
    if not upcoming and current is None:
        lines.append(t("cmd.queue_empty", locale))
    known = [tr.duration for tr in upcoming if tr.duration is not None]
    embed = {
        "title": t("cmd.queue_title", locale, page=page, pages=pages),
        "description": "\n".join(lines)[:4096],
        "color": EMBED_COLOUR,
        "footer": {
            "text": t(
                "cmd.queue_footer",
                locale,
                count=len(upcoming),
                duration=format_duration(sum(known), locale),
                repeat=t(f"cmd.repeat.{repeat}", locale),
            )
        },
    }
    buttons = [
        _button(
            f"{QUEUE_PREFIX}:page:{page - 1}",
            t("button.prev_page", locale),
            BUTTON_SECONDARY,
            disabled=page <= 1,
        ),
        _button(
            f"{QUEUE_PREFIX}:page:{page + 1}",
            t("button.next_page", locale),
            BUTTON_SECONDARY,
            disabled=page >= pages,
        ),
    ]
    return {"embeds": [embed], "components": [{"type": COMPONENT_ROW, "components": buttons}]}


def history_page(history: Sequence[Track], *, locale: str | None) -> dict[str, Any]:
    if not history:
        return {"content": t("cmd.history_empty", locale)}
    lines = [f"`{i}.` {_track_line(tr, locale)}" for i, tr in enumerate(reversed(history), 1)]
    return {
        "embeds": [
            {
                "title": t("cmd.history_title", locale),
                "description": "\n".join(lines[: QUEUE_PAGE_SIZE * 2])[:4096],
                "color": EMBED_COLOUR,
            }
        ]
    }


def search_picker(
    query: str, results: Sequence[Track], token: str, *, locale: str | None
) -> dict[str, Any]:
    """A select menu of search results; ``token`` names the pending search in the actor."""
    if not results:
        return {"content": t("cmd.search_none", locale, query=query)}
    options = [
        {
            "label": tr.title[:100] or "?",
            "description": f"{track_length(tr, locale)} · {tr.uploader or ''}"[:100],
            "value": str(i),
        }
        for i, tr in enumerate(results[:25])
    ]
    return {
        "content": t("cmd.search_pick", locale, query=query),
        "components": [
            {
                "type": COMPONENT_ROW,
                "components": [
                    {
                        "type": COMPONENT_SELECT,
                        "custom_id": f"{SEARCH_PREFIX}:{token}",
                        "options": options,
                        "min_values": 1,
                        "max_values": 1,
                    }
                ],
            }
        ],
    }
