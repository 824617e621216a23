"""Fair queue: a per-guild mode (``/settings fair_queue``) that takes turns between requesters.

Theory.  Each upcoming entry has a *round*: how many entries of the same requester come before
it (the playing track counting as its requester's first).  In fair mode the upcoming entries
are kept in order of round, so one member's playlist of fifty cannot push the next member's
single track fifty places back: a new entry goes just before the first entry of a later round
than its own, which keeps the order the queue already had (``/move``, ``/playnext``) wherever
fairness does not need to change it.  Turning the mode on sorts the upcoming entries by round
once (stably: within a round, the earlier-queued first).

Off (the default), every addition goes to the end as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from musicbot.models.track import Track

if TYPE_CHECKING:
    from actors.guild.actor import Guild


def rounds(current: Track | None, upcoming: Sequence[Track]) -> list[int]:
    """The round of each upcoming entry."""
    seen: dict[int | None, int] = {}
    if current is not None:
        seen[current.requester_id] = 1
    out: list[int] = []
    for track in upcoming:
        count = seen.get(track.requester_id, 0)
        out.append(count)
        seen[track.requester_id] = count + 1
    return out


def fair_position(current: Track | None, upcoming: Sequence[Track], requester: int | None) -> int:
    """The 1-based upcoming position a new entry of ``requester`` takes in fair mode."""
    mine = sum(1 for tr in upcoming if tr.requester_id == requester)
    if current is not None and current.requester_id == requester:
        mine += 1
    for position, turn in enumerate(rounds(current, upcoming), start=1):
        if turn > mine:
            return position
    return len(upcoming) + 1


def position_for(g: Guild, requester: int | None) -> int:
    """Where :meth:`musicbot.models.queue.Queue.insert` should put a new entry: fair, or the end."""
    if not g.settings.fair_queue:
        return len(g.queue.upcoming) + 1
    return fair_position(g.queue.current, g.queue.upcoming, requester)


def extend(g: Guild, entries: Iterable[Track]) -> None:
    """Add entries (there is room for them all), each at its fair place in fair mode."""
    if not g.settings.fair_queue:
        g.queue.extend(entries)
        return
    for entry in entries:
        g.queue.insert(position_for(g, entry.requester_id), entry)


def interleave(g: Guild) -> int:
    """Sort the upcoming entries by round (stable); returns how many changed place."""
    upcoming = g.queue.upcoming
    turns = rounds(g.queue.current, upcoming)
    order = [tr for _, _, tr in sorted(zip(turns, range(len(upcoming)), upcoming, strict=True))]
    moved = 0
    for target, track in enumerate(order, start=1):
        source = next(
            i for i, tr in enumerate(g.queue.upcoming, start=1) if tr.entry_id == track.entry_id
        )
        if source != target:
            g.queue.move(source, target)
            moved += 1
    return moved


__all__ = ["extend", "fair_position", "interleave", "position_for", "rounds"]
