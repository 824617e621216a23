"""Vote-skip: members who may not skip a track outright vote, and enough votes skip it.

Theory.  The track's requester and a DJ skip at once (``actors.guild.commands.skip``); any
other member's /skip (or the now-playing Skip button) is a vote.  The votes belong to one queue
entry's play: ``g.skip_votes`` holds the entry id they were cast on, a vote on a different
entry starts afresh, and every start of a track (``forget``, from the flow's
``TrackStarted``) drops them, so repeat-track or a looping queue playing the same entry again
starts a new count too.

Only members in the bot's voice channel may vote, and only the votes of members *still* there
count: the need is ``ceil(share × listeners)`` of the listeners now (at least one), and a voter
who left no longer counts towards it.  The share is the guild's ``/settings vote_skip`` (percent
1-100), 50 % when unset.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

import structlog

from actors.guild.messages import Invocation
from musicbot.i18n import register
from musicbot.models.track import Track

if TYPE_CHECKING:
    from actors.guild.actor import Guild

log = structlog.get_logger(__name__)

DEFAULT_PERCENT: Final = 50


def share(g: Guild) -> int:
    """The guild's vote-skip share in percent."""
    chosen = g.settings.vote_skip_percent
    return DEFAULT_PERCENT if chosen is None else chosen


def needed(listeners: int, percent: int) -> int:
    """Votes that skip a track among ``listeners`` members: ``ceil(percent % of them)``, ≥ 1."""
    return max(1, math.ceil(listeners * percent / 100))


def forget(g: Guild) -> None:
    """A track (maybe the same entry again) starts playing: no vote is about it yet."""
    g.skip_votes = ("", frozenset())


async def vote(g: Guild, inv: Invocation, track: Track) -> dict[str, int] | None:
    """Count ``inv``'s vote against ``track``.  Returns the tally when the vote passes (the
    caller skips and answers); otherwise answers the member itself and returns None."""
    listening = set(g.listeners())
    if inv.user_id not in listening:
        await g.answer(
            inv, "vote.not_listening", ephemeral=True, channel_id=g.voice_channel_id or 0
        )
        return None
    entry, voters = g.skip_votes
    if entry != track.entry_id:
        voters = frozenset()
    voters = frozenset(v for v in voters if v in listening)  # who left no longer counts
    already = inv.user_id in voters
    voters |= {inv.user_id}
    g.skip_votes = (track.entry_id, voters)
    tally = {"votes": len(voters), "needed": needed(len(listening), share(g))}
    if tally["votes"] >= tally["needed"]:
        log.info("vote_skip_passed", **tally)
        forget(g)
        return tally
    key = "vote.already" if already else "vote.recorded"
    await g.answer(inv, key, ephemeral=already, title=track.title, **tally)
    return None


register(
    en={
        "vote.recorded": "Voted to skip **{title}**: {votes}/{needed} votes.",
        "vote.already": "You already voted to skip **{title}** ({votes}/{needed} votes).",
        "vote.not_listening": "Only members listening in <#{channel_id}> can vote to skip.",
        "vote.passed": "Vote passed ({votes}/{needed}): skipped **{title}**.",
        "settings.vote_skip": "Vote to skip: {percent}% of the listeners",
    },
    vi={
        "vote.recorded": "Đã bỏ phiếu bỏ qua **{title}**: {votes}/{needed} phiếu.",
        "vote.already": "Bạn đã bỏ phiếu bỏ qua **{title}** rồi ({votes}/{needed} phiếu).",
        "vote.not_listening": "Chỉ người đang nghe trong <#{channel_id}> mới được bỏ phiếu.",
        "vote.passed": "Đủ phiếu ({votes}/{needed}): đã bỏ qua **{title}**.",
        "settings.vote_skip": "Bỏ phiếu bỏ qua: {percent}% người nghe",
    },
)


__all__ = ["DEFAULT_PERCENT", "needed", "share", "vote"]
