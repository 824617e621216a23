"""The guild actor's session lifecycle: restore after a crash or a restart, hold past the
crash limit, and stop gracefully.

Theory.  A session is the queue, the position and the voice channel, kept in two places: the
supervisor's in-memory snapshot (the last *good* state, for a restart after a crash) and the
saved session on disk (debounced, for a process restart).  :func:`restore_session` carries one
on when a member is still in its channel and forgets it otherwise; :func:`hold` (past the
supervisor's crash limit) keeps the queue in both places but leaves voice until a member asks
again; :func:`shutdown` writes the exact position, lets the player's silence go out and leaves.
These run in the actor task only, on its state ``g``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import structlog
import trio

from musicbot.models.queue import Queue
from musicbot.storage import StorageError

if TYPE_CHECKING:
    from actors.guild.actor import Guild

log = structlog.get_logger(__name__)


async def shutdown(g: Guild, *, leave_voice: bool) -> None:
    """Graceful stop: keep the snapshot on disk, send silence, leave voice."""
    g.stopping = True
    if g.player is not None and g.playing_entry is not None:
        # PositionChanged comes every 5 s: ask for the exact place to resume from.
        with trio.move_on_after(1), contextlib.suppress(Exception):
            g.set_position((await g.player.status()).position, moving=False)
    await _write_session_now(g)
    if g.player is not None:
        await g.player.stop()  # the player sends five silence frames
        with trio.move_on_after(2), contextlib.suppress(Exception):
            await g.player.status()  # answered once the Stop and its silence are done
    if leave_voice and g.voice is not None and g.voice_channel_id is not None:
        done = g.call.done
        g.call.leave()
        g.call.close()  # after the leave: op 4 is queued, the session closed, task ends
        with trio.move_on_after(3):
            await done.wait()


async def restore_session(g: Guild, data: Mapping[str, Any], *, recovered: bool) -> None:
    """Carry on a saved session: rejoin its channel if a member is still there, else
    forget it (and leave a channel the old process may still show the bot in).
    ``recovered``: after a crash, so the music channel is told the track goes on."""
    g.restore_from(data)
    channel = g.voice_channel_id
    if channel is None:
        return
    if not any(c == channel for u, c in g.members.items() if u != g.bot_id):
        log.info("session_not_resumed_channel_empty", channel_id=channel)
        g.voice_channel_id = None
        # (after a crash too: the dead instance never left the channel it was in)
        await drop_stored_session(g)
        return
    g.voice_channel_id = None
    g.join(channel)
    if recovered and g.queue.current is not None:
        g.announce_text("cmd.recovered", title=g.queue.current.title)


async def hold(g: Guild, data: Mapping[str, Any], *, announce: bool) -> None:
    """Past the crash limit: keep the queue (here and in the saved session on disk), stop
    playing, leave voice, and say so; the next /play or /resume carries on (``join``)."""
    g.restore_from(data)
    g.held = True
    # Write the saved session now, while it still names the channel (``changed`` only marks
    # it dirty in a call): the crash may have cancelled the debounced write of the last
    # tracks, and the next /play or a process restart resumes from this copy.
    await _write_session_now(g)
    g.voice_channel_id = None
    if announce:
        log.error("guild_actor_held", queued=len(g.queue))
        g.announce_text("cmd.gave_up")
    await _leave_ghost_channel(g)


async def drop_stored_session(g: Guild) -> None:
    """A stored session whose channel is gone or empty is over: forget it, and leave the
    channel Discord may still show the bot in (the crashed process never said goodbye)."""
    g.queue = Queue(max_length=g.cfg.limits.max_queue_length)
    g.set_position(0.0, moving=False)
    await g.writer.discard()
    try:
        await g.deps.storage.sessions().delete(g.guild_id)
    except StorageError as exc:
        log.warning("session_delete_failed", error=str(exc))
    await _leave_ghost_channel(g)


async def _write_session_now(g: Guild) -> None:
    """Write the saved session at once (not debounced) while it names a channel and has
    something to play; bounded, so a stuck disk cannot hold a stop or a hold for long."""
    if g.voice_channel_id is not None and (g.queue.current or len(g.queue)):
        g.writer.mark_dirty()
        with trio.move_on_after(5):
            await g.writer.flush()


async def _leave_ghost_channel(g: Guild) -> None:
    """Leave the channel Discord may still show the bot in: a crashed instance (or process)
    never said goodbye to it.  A failure is only logged (Discord times the state out)."""
    if g.members.get(g.bot_id) is None:
        return
    try:
        await g.deps.update_voice_state(g.guild_id, None, False, False)
    except Exception as exc:  # the gateway may be reconnecting
        log.warning("ghost_voice_leave_failed", error=repr(exc))
