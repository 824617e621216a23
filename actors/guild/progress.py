"""Live now-playing progress: the now-playing message's bar moves while members listen.

Theory.  The guild actor posts itself a :class:`ProgressTick` every ``[voice]
now_playing_refresh`` seconds (15 by default; lossy: a tick that finds the inbox full is
dropped).  On a tick, while a track is really playing (not paused, not between tracks) and at
least one member is in the voice channel, the now-playing message is *edited* with the position
of the moment (the announcer's ``np-refresh`` kind edits only, never posts a new message).  So
one channel sees at most one edit per interval, well inside Discord's per-channel rate limit,
and an empty channel — nobody listening — costs no request at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from actors.guild import views
from actors.guild.announcer import NP_REFRESH
from actors.guild.messages import ProgressTick
from actors.guild.table import Family

if TYPE_CHECKING:
    from actors.guild.actor import Guild


async def on_tick(g: Guild, _msg: ProgressTick) -> None:
    track = g.queue.current
    if track is None or g.playing_entry is None or g.paused or g.held:
        return
    if not g.listeners():
        return  # nobody listens: no edits
    upcoming = g.queue.upcoming
    body = views.now_playing(
        track,
        position=g.playback_position(),
        paused=False,
        repeat=g.queue.repeat.value,
        up_next=upcoming[0] if upcoming else None,
        locale=g.lang(),
    )
    g.announce(NP_REFRESH, body | {"allowed_mentions": {"parse": []}})


FAMILY: Final = Family(name="progress", handlers={}, reports={ProgressTick: on_tick})
