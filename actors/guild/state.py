"""The guild actor's plain state and pure functions on it (no I/O, no trio).

The queue itself is ``musicbot.models.queue.Queue``; this module holds what the actor derives
from plain values: the snapshot it hands its supervisor (and reads back after a crash), the
session it stores for a process restart, who counts as a DJ, and when the next timer fires.
Everything takes the current time as an argument, so it is testable without a clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

import attrs

from musicbot.audio.effects import Effects
from musicbot.models.queue import Queue
from musicbot.storage import SessionSnapshot

MANAGE_GUILD: Final = 1 << 5  # Discord permission bits
ADMINISTRATOR: Final = 1 << 3
LINGER: Final = 30.0  # seconds an actor with no voice and no queue stays (at most idle_timeout)


@attrs.frozen(kw_only=True)
class Saved:
    """What a snapshot or a stored session gives back."""

    queue: Queue
    voice_channel_id: int | None
    text_channel_id: int | None
    position: float
    volume: int | None
    effects: Effects | None  # the filter preset and equalizer (None: not in the data)
    filter: tuple[str | None, int | None] | None  # a stored session's preset and amount
    stay_24_7: bool | None
    locale: str | None
    held: bool


def snapshot(
    *,
    queue: Queue,
    voice_channel_id: int | None,
    text_channel_id: int | None,
    position: float,
    volume: int,
    effects: Effects,
    stay_24_7: bool,
    paused: bool,
    locale: str | None,
    held: bool,
) -> dict[str, Any]:
    """Plain data for the supervisor (kept across a restart, never written to disk)."""
    return {
        "queue": queue.snapshot(),
        "voice_channel_id": voice_channel_id,
        "text_channel_id": text_channel_id,
        "position": position,
        "volume": volume,
        "effects": {"preset": effects.preset, "amount": effects.amount, "eq": list(effects.eq)},
        "stay_24_7": stay_24_7,
        "paused": paused,
        "locale": locale,
        "held": held,
    }


def restore(data: Mapping[str, Any], *, max_queue: int) -> Saved:
    """The inverse of :func:`snapshot` (also reads :func:`from_session`'s output)."""
    volume = data.get("volume")
    stay = data.get("stay_24_7")
    fx = data.get("effects")
    kept = data.get("filter")
    return Saved(
        queue=Queue.restore(data["queue"], max_length=max_queue),
        voice_channel_id=data.get("voice_channel_id"),
        text_channel_id=data.get("text_channel_id"),
        position=float(data.get("position", 0.0)),
        volume=int(volume) if volume is not None else None,
        effects=(
            Effects.of(fx.get("preset"), fx.get("amount"), fx.get("eq"))
            if isinstance(fx, Mapping)
            else None
        ),
        filter=(kept.get("preset"), kept.get("amount")) if isinstance(kept, Mapping) else None,
        stay_24_7=bool(stay) if stay is not None else None,
        locale=data.get("locale"),
        held=bool(data.get("held", False)),
    )


def from_session(s: SessionSnapshot) -> dict[str, Any]:
    """A stored session in the snapshot's shape."""
    return {
        "queue": s.queue,
        "voice_channel_id": s.voice_channel_id or None,
        "text_channel_id": s.text_channel_id,
        "position": s.position,
        "volume": s.volume,
        "stay_24_7": s.stay_24_7,
        "filter": {"preset": s.filter_preset, "amount": s.filter_amount},
    }


def is_dj(
    *,
    permissions: int,
    roles: tuple[int, ...],
    user_id: int,
    dj_role_id: int | None,
    listeners: list[int],
) -> bool:
    """A server manager, a member with the DJ role, or the one listener with the bot."""
    if permissions & (MANAGE_GUILD | ADMINISTRATOR):
        return True
    if dj_role_id is not None and dj_role_id in roles:
        return True
    return listeners == [user_id]


def next_deadline(
    *,
    now: float,
    in_voice: bool,
    stay_24_7: bool,
    alone_since: float | None,
    idle_since: float | None,
    playing: bool,
    pending: int,
    held: bool,
    alone_timeout: float,
    idle_timeout: float,
) -> float:
    """When the actor must act by itself: leave when alone or idle (unless 24/7), or stop
    when it has neither voice nor anything pending (a held queue waits for /resume)."""
    may_leave = not (stay_24_7 and in_voice)
    deadlines = [math.inf]
    if may_leave and alone_since is not None:
        deadlines.append(alone_since + alone_timeout)
    if may_leave and in_voice and idle_since is not None and not playing:
        deadlines.append(idle_since + idle_timeout)
    if not in_voice and pending == 0 and not held:
        # (a queue left out of voice after a resume found the channel empty would otherwise
        # keep the actor forever)
        deadlines.append(
            (idle_since if idle_since is not None else now) + min(LINGER, idle_timeout)
        )
    return min(deadlines)


__all__ = ["Saved", "from_session", "is_dj", "next_deadline", "restore", "snapshot"]
