"""Queue care: /remove by member or of duplicates, relative /seek, and their en/vi text.

Functions of the guild actor's state, run only by the actor task.  The music family's own
handlers (``actors.guild.commands``) call in here for the variants they do not handle
themselves: ``/remove user:@x`` and ``/remove duplicates:true`` (:func:`remove_many`), and a
``/seek`` position written ``+30`` or ``-1:00`` (:func:`seek_target`).

Who may remove what: one's own tracks always; anybody else's (a member's tracks, or duplicates
that other members queued) only a DJ (or a lone listener, as :meth:`Guild.is_dj` decides).  A
refused request removes nothing.  Two entries are duplicates when they point at the same page
(``webpage_url``); the earliest stays, the current track counting as the earliest of all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.guild import views
from actors.guild.messages import Invocation
from musicbot.i18n import register
from musicbot.models.track import Track

if TYPE_CHECKING:
    from actors.guild.actor import Guild


def wants_bulk(inv: Invocation) -> bool:
    """Whether a /remove names a member or duplicates rather than (only) a position."""
    return inv.options.get("user") is not None or bool(inv.options.get("duplicates"))


def _chosen(inv: Invocation) -> int:
    """How many of index / user / duplicates:true the member gave."""
    return sum(
        (
            inv.options.get("index") is not None,
            inv.options.get("user") is not None,
            bool(inv.options.get("duplicates")),
        )
    )


async def refuse_unless_one(g: Guild, inv: Invocation) -> bool:
    """Refuse a /remove that names none, or more than one, of its three ways; True if refused."""
    if _chosen(inv) == 1:
        return False
    await g.answer(inv, "care.remove_what", ephemeral=True)
    return True


def _duplicates(current: Track | None, upcoming: list[Track]) -> list[Track]:
    """Upcoming entries whose page is already earlier in the queue (or is the current one)."""
    seen = {current.webpage_url} if current is not None else set()
    doomed: list[Track] = []
    for track in upcoming:
        if track.webpage_url in seen:
            doomed.append(track)
        else:
            seen.add(track.webpage_url)
    return doomed


async def remove_many(g: Guild, inv: Invocation) -> None:
    """``/remove user:@x`` or ``/remove duplicates:true``: all of them or nothing."""
    if await refuse_unless_one(g, inv):
        return
    upcoming = g.queue.upcoming
    fields: dict[str, Any] = {}
    if inv.options.get("user") is not None:
        member = int(inv.options["user"])
        doomed = [tr for tr in upcoming if tr.requester_id == member]
        if member != inv.user_id and not g.is_dj(inv):
            await g.answer(inv, "cmd.need_dj", ephemeral=True)
            return
        if not doomed:
            await g.answer(inv, "care.user_has_none", ephemeral=True, user_id=member)
            return
        key = "care.removed_user"
        fields["user_id"] = member
    else:
        doomed = _duplicates(g.queue.current, upcoming)
        if not doomed:
            await g.answer(inv, "care.no_duplicates", ephemeral=True)
            return
        if any(tr.requester_id != inv.user_id for tr in doomed) and not g.is_dj(inv):
            await g.answer(inv, "cmd.need_dj", ephemeral=True)
            return
        key = "care.removed_duplicates"
    gone = {tr.entry_id for tr in doomed}
    # From the back, so the positions of the entries still to remove do not shift.
    for position in range(len(upcoming), 0, -1):
        if upcoming[position - 1].entry_id in gone:
            g.queue.remove(position)
    g.changed()
    await g.answer(inv, key, count=len(doomed), **fields)


def seek_target(text: str, now: float) -> float | None:
    """Seconds to seek to: ``"1:23"`` is absolute, ``"+30"`` / ``"-1:00"`` are relative to
    ``now`` (a jump back before the start lands on 0).  None when it is not a time."""
    text = text.strip()
    if text[:1] in ("+", "-"):
        delta = views.parse_position(text[1:])
        if delta is None:
            return None
        return now + delta if text[0] == "+" else max(0.0, now - delta)
    return views.parse_position(text)


register(
    en={
        "care.remove_what": (
            "Tell me what to remove: a position (index), a member (user) or duplicates — "
            "just one of them."
        ),
        "care.user_has_none": "<@{user_id}> has no upcoming tracks in the queue.",
        "care.removed_user": "Removed {count} tracks queued by <@{user_id}>.",
        "care.removed_user.one": "Removed 1 track queued by <@{user_id}>.",
        "care.no_duplicates": "There are no duplicate tracks in the queue.",
        "care.removed_duplicates": "Removed {count} duplicate tracks.",
        "care.removed_duplicates.one": "Removed 1 duplicate track.",
        "care.volume_is": "The volume is {volume}%.",
    },
    vi={
        "care.remove_what": (
            "Hãy cho mình biết cần xóa gì: một vị trí (vị-trí), một thành viên (thành-viên) "
            "hoặc các bài trùng — chỉ chọn một."
        ),
        "care.user_has_none": "<@{user_id}> không có bài nào sắp phát trong hàng đợi.",
        "care.removed_user": "Đã xóa {count} bài do <@{user_id}> thêm.",
        "care.no_duplicates": "Hàng đợi không có bài nào bị trùng.",
        "care.removed_duplicates": "Đã xóa {count} bài trùng.",
        "care.volume_is": "Âm lượng hiện tại là {volume}%.",
    },
)


__all__ = ["refuse_unless_one", "remove_many", "seek_target", "wants_bulk"]
