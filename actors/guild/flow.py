"""The guild actor's playback flow: from the queue's current track to the player, and back.

Theory.  These functions run in the actor task only (they take the actor's state, ``g``, the
way the command families do) and never block the loop: a track that needs a stream URL is
resolved in a child task that posts :class:`~actors.guild.messages.Resolved` back.  The queue
leads: the actor changes it, then tells the player what to play; a player report
(``TrackStarted``, ``PositionChanged``, ``TrackEnded``) counts only when it is about the entry
the actor last asked for (``playing_entry``), so a late report about a replaced track changes
nothing.  The call's reports (``Up``, ``Hold``, ``MovedTo``, ``Gone``; see
:mod:`actors.guild.call`) hold the player at its exact position while the voice connection
reconnects and let the same entry go on afterwards; a track that ends during the hold leaves
its successor waiting for ``Up``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, assert_never

import structlog
import trio

from actors import events as ev
from actors.guild import autoplay, vote_skip
from actors.guild.call import Gone, Hold, MovedTo, Up
from actors.guild.messages import Resolved
from actors.guild.reasons import classify_playback, failure_text, should_refresh
from musicbot.audio import messages as pm
from musicbot.audio.messages import PlayerEvent
from musicbot.models.track import Track
from musicbot.voice import StopReason, VoiceEvent

if TYPE_CHECKING:
    from actors.guild.actor import Guild

log = structlog.get_logger(__name__)


async def play_current(g: Guild, *, start_at: float = 0.0) -> None:
    """Make the player play the queue's current track (resolving it first if needed)."""
    track = g.queue.current
    if track is None:
        await g.stop_playback()
        g.idle_since = trio.current_time()
        g.deps.bus.publish(ev.QueueEmpty(guild_id=g.guild_id))
        return
    g.idle_since = None
    g.set_position(start_at, moving=False)  # kept for Connected or the resolution to start from
    if not g.voice_connected or g.player is None or g.call.holding:
        # Starts on Connected (``on_voice``).  While the call reconnects, a track that
        # finished in the same instant as the hold must not start the next one into a
        # socket that is gone: its first seconds would be lost.
        return
    resolve, expired = g.playback.needs_resolving(track)
    if resolve:
        if g.playing_entry is not None and g.playing_entry != track.entry_id:
            # The previous track must not play on while this one resolves: its natural
            # end would advance the queue past the track the member asked for.
            await g.stop_playback()
        if track.entry_id not in g.resolving:
            g.resolving.add(track.entry_id)
            g.nursery.start_soon(resolve_task, g, track, expired)
        return
    await g.playback.play(track, start_at=start_at)


async def refresh_stream(
    g: Guild, track: Track, error: BaseException | None, position: float
) -> bool:
    """The stream URL was refused (403 at open, or expired mid-song): ask the extractor
    for a new one and play the same entry on from ``position``, once per entry (see
    ``actors.guild.reasons``).  True when a refresh was started."""
    current = g.queue.current
    if current is None or current.entry_id != track.entry_id:
        return False
    already = g.playback.refreshed_entry == track.entry_id
    if not should_refresh(error, refreshed_already=already):
        return False
    g.playback.refreshed_entry = track.entry_id
    # If no new URL comes, this is what failed (the extractor's own word for a refused
    # URL, e.g. "private", says less than the player's).
    g.playback.refresh_failure = classify_playback(error, position=position)
    log.info("stream_refresh", entry=track.entry_id, position=round(position, 2))
    g.set_position(position, moving=False)  # where the refreshed stream starts
    if track.entry_id not in g.resolving:
        g.resolving.add(track.entry_id)
        g.nursery.start_soon(resolve_task, g, track, True)
    return True


async def resolve_task(g: Guild, track: Track, force: bool) -> None:
    """Child task: get ``track`` a stream URL from the extractor (``force``: a new one, the
    old was refused or expired) and post the track, or the error, back as ``Resolved``."""
    try:
        fresh = await g.deps.extractor.resolve(track, force=force)
    except Exception as exc:
        await g.inbox_send.send(Resolved(entry_id=track.entry_id, error=exc))
    else:
        await g.inbox_send.send(Resolved(entry_id=track.entry_id, track=fresh))


async def on_resolved(g: Guild, msg: Resolved) -> None:
    """A resolution came back: play the track from the kept position if it is still the
    current entry; on failure say why, skip it and play the next.  Stale answers are
    ignored."""
    g.resolving.discard(msg.entry_id)
    current = g.queue.current
    if current is None or current.entry_id != msg.entry_id:
        # Resolved ahead (see ``sync_next``) for the entry that follows, or stale.
        if msg.track is not None:
            g.queue.replace(msg.entry_id, msg.track)
        else:
            g.playback.ahead_failed.add(msg.entry_id)  # said when its turn comes
        return
    if msg.track is None:
        error = msg.error
        if g.playback.refreshed_entry == msg.entry_id and g.playback.refresh_failure:
            error = g.playback.refresh_failure  # the refresh after a refusal failed
        g.announce_text(
            "cmd.track_failed", title=current.title, reason=failure_text(error, g.lang())
        )
        g.deps.bus.publish(ev.TrackFailed(guild_id=g.guild_id, track=current, error=repr(error)))
        g.queue.skip()
        g.changed()
        await play_current(g)
        return
    g.queue.replace_current(msg.track)
    await play_current(g, start_at=g.position)


async def on_player(g: Guild, event: PlayerEvent) -> None:
    """Act on a player report about the entry last asked for (any other is stale): follow
    the position, announce a start, and at an end advance the queue, refresh a refused
    stream or skip a failed track."""
    match event:
        case pm.TrackStarted(track=track, position=position):
            if track.entry_id != g.playing_entry:
                return
            g.set_position(position, moving=True)
            vote_skip.forget(g)  # votes were about the last play (a repeat is a new one)
            g.deps.bus.publish(ev.TrackStarted(guild_id=g.guild_id, track=track))
            g.show_now_playing()
            g.changed()
            await autoplay.on_track_started(g, track)  # the last track: fetch what follows
        case pm.PositionChanged(track=track, position=position):
            if track.entry_id == g.playing_entry:
                g.set_position(position, moving=not g.paused)
                g.save_state(g.snapshot())
                g.writer.mark_dirty()
        case pm.TrackEnded(track=track, reason=reason, error=error, position=position):
            if track.entry_id != g.playing_entry:
                return  # replaced or stopped on purpose; already handled
            g.playback.playing_entry = None
            g.set_position(0.0, moving=False)
            if reason is pm.EndReason.FAILED:
                if await refresh_stream(g, track, error, position):
                    return
                failure = classify_playback(error, position=position)
                g.announce_text(
                    "cmd.track_failed",
                    title=track.title,
                    reason=failure_text(failure, g.lang()),
                )
                g.deps.bus.publish(
                    ev.TrackFailed(guild_id=g.guild_id, track=track, error=repr(failure))
                )
                g.queue.skip()
            elif reason is pm.EndReason.FINISHED:
                g.deps.bus.publish(
                    ev.TrackFinished(guild_id=g.guild_id, track=track, played=position)
                )
                g.queue.advance()
                if event.followed_by is not None:
                    # The player went straight on with the preloaded entry (gapless).
                    g.playback.followed(event.followed_by)
                    following = g.queue.current
                    if following is not None and following.entry_id == event.followed_by:
                        g.changed()
                        return  # its TrackStarted follows
                    # The queue changed in the same instant: the player is corrected below.
                if g.queue.current is None:
                    g.announce_text("cmd.queue_finished")
            else:
                return
            g.changed()
            await play_current(g)
        case _:
            assert_never(event)


async def sync_next(g: Guild) -> None:
    """Gapless playback: tell the player which track follows the one playing, resolving it
    ahead if it has no stream URL yet.  Run after every message the actor handles; the
    player hears only of a change."""
    if g.player is None or g.playing_entry is None:
        return
    following = g.queue.after_current()
    if following is not None and (following.is_live or following.entry_id in g.resolving):
        following = None
    elif following is not None:
        resolve, expired = g.playback.needs_resolving(following)
        if resolve:
            if following.entry_id not in g.playback.ahead_failed:
                g.resolving.add(following.entry_id)
                g.nursery.start_soon(resolve_task, g, following, expired)
            following = None
    await g.playback.preload(following)


async def on_voice(g: Guild, event: VoiceEvent) -> None:
    """What the call makes of the connection's report (see ``actors.guild.call``)."""
    outcome = g.call.interpret(event)
    match outcome:
        case Up(channel_id=channel_id, resumed=resumed, after_hold=after_hold):
            g.deps.bus.publish(ev.VoiceConnected(guild_id=g.guild_id, channel_id=channel_id))
            # Back after a reconnect (a resume, a move, a new voice server): the same
            # entry goes on from the exact place the player was held at.
            if after_hold and await g.playback.release():
                return
            # Nothing held: a first connect, or a track ended during the hold (resumed or
            # not, its successor waited for this).
            idle = g.playing_entry is None and not g.resolving
            if (not resumed or after_hold) and idle and g.queue.current is not None:
                await play_current(g, start_at=g.position)
        case Hold():
            await g.playback.hold()  # frames would be lost meanwhile
        case MovedTo():
            g.changed()  # the new channel is where a restart rejoins; nothing "left"
        case Gone(reason=reason, channel_id=was):
            log.info("voice_lost", reason=reason.value, channel_id=was)
            await g.stop_playback()
            await g.player_close()
            await g.end_session()
            key = "cmd.kicked" if reason is StopReason.KICKED else "cmd.voice_failed"
            g.announce_text(key, reason=reason.value.replace("_", " "))
            g.deps.bus.publish(
                ev.VoiceDisconnected(guild_id=g.guild_id, channel_id=was, reason=reason.value)
            )
            g.changed()
        case None:
            pass
        case _:
            assert_never(outcome)
