"""The playback room of the guild actor: the player, the entry it plays, and the position.

Theory.  The player (``musicbot.audio``) runs as a task of the actor's nursery and is driven
through its handle; :class:`Playback` holds that handle, the entry the actor last asked it to
play (``playing_entry``: a ``TrackEnded`` about any other entry is stale and changes nothing),
the entries being resolved (a stream URL fetched just before playing, or refreshed when it is
about to expire), and the position.

Position.  The player reports the position every few seconds; between reports it moves on with
the clock while audio flows.  ``position`` is the last known value and ``position_at`` the trio
time it was true (None while it does not move: paused, held, stopped), so
:meth:`Playback.position_now` is exact enough for a snapshot or a resume.

Holding.  While the call reconnects, :meth:`Playback.hold` pauses the player and freezes the
position; :meth:`Playback.release` resumes the same entry from there.  A member's pause is
separate (``paused``): a call that comes back does not un-pause what a member paused.

Like the call, this room starts no tasks: :meth:`Playback.open` builds the player's channels and
hands
its run function and event channel to the actor.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Final

import attrs
import trio

from musicbot.audio import messages as pm
from musicbot.audio.effects import NO_EFFECTS, Effects
from musicbot.audio.player import PlayerHandle, PlayerStats, open_player_channel, run_player
from musicbot.audio.source import SourceOpener
from musicbot.models.media import FrameClock
from musicbot.models.track import Track
from musicbot.voice import VoiceConnection

PLAYER_EVENTS_BUFFER: Final = 32  # the player waits when it is full (lossless)
REFRESH_BEFORE: Final = 30.0  # seconds before its expiry a stream URL is fetched again


@attrs.frozen
class OpenedPlayer:
    run: Callable[[], Awaitable[None]]
    events: trio.MemoryReceiveChannel[pm.PlayerEvent]
    stats: PlayerStats


class Playback:
    def __init__(self) -> None:
        self.player: PlayerHandle | None = None
        self.playing_entry: str | None = None
        self.resolving: set[str] = set()
        self.refreshed_entry: str | None = None  # its stream URL was refreshed once already
        self.refresh_failure: BaseException | None = None  # what to report if that fails
        self.paused = False  # by a member (/pause)
        self.held = False  # by the call (reconnecting)
        self.position = 0.0
        self.position_at: float | None = None
        self.effects = NO_EFFECTS  # /filter and /eq, as the player last heard them
        # The (entry, stream URL) the player was last told follows the current track, and
        # the entries whose resolution ahead of time failed (tried again when they play).
        self.preloaded: tuple[str, str] | None = None
        self.ahead_failed: set[str] = set()

    # -- position -----------------------------------------------------------------------

    def position_now(self) -> float:
        """The last reported position moved on by the time since, while audio flows."""
        if self.position_at is None or self.paused or self.playing_entry is None:
            return self.position
        elapsed = max(0.0, trio.current_time() - self.position_at)
        return self.position + elapsed * self.effects.rate

    def set_position(self, position: float, *, moving: bool) -> None:
        self.position = position
        self.position_at = trio.current_time() if moving else None

    # -- the player ---------------------------------------------------------------------

    def open(
        self,
        sink: VoiceConnection,
        opener: SourceOpener,
        volume: int,
        *,
        clock: FrameClock,
        effects: Effects = NO_EFFECTS,
    ) -> OpenedPlayer:
        commands, receive = open_player_channel()
        events_send, events_receive = trio.open_memory_channel[pm.PlayerEvent](PLAYER_EVENTS_BUFFER)
        stats = PlayerStats()
        self.player = PlayerHandle(commands, stats=stats)
        run = functools.partial(
            run_player,
            receive,
            sink=sink,
            clock=clock,
            events=events_send,
            opener=opener,
            volume=volume,
            effects=effects,
            stats=stats,
        )
        self.effects = effects
        self.preloaded = None
        return OpenedPlayer(run=run, events=events_receive, stats=stats)

    def needs_resolving(self, track: Track) -> tuple[bool, bool]:
        """(must resolve first, because its stream URL expires)."""
        expires = track.stream_expires_at
        expired = expires is not None and expires < time.time() + REFRESH_BEFORE
        return (not track.resolved or expired), expired

    async def play(self, track: Track, *, start_at: float) -> None:
        assert self.player is not None
        self.playing_entry = track.entry_id
        self.set_position(start_at, moving=False)
        self.paused = False
        self.held = False
        self.preloaded = None  # (the player may have used it: say again what follows)
        await self.player.play(track, start_at=start_at)

    async def stop(self) -> None:
        if self.player is not None and self.playing_entry is not None:
            self.playing_entry = None
            self.preloaded = None  # a stop drops the preload too
            await self.player.stop()
        self.paused = False
        self.held = False

    async def close(self) -> None:
        if self.player is not None:
            player, self.player = self.player, None
            self.playing_entry = None
            self.held = False
            self.preloaded = None
            await player.aclose()

    async def set_effects(self, effects: Effects) -> None:
        """The member's filter and equalizer; a playing track goes on through them."""
        if effects == self.effects:
            return
        self.set_position(self.position_now(), moving=self.position_at is not None)
        self.effects = effects
        self.preloaded = None  # the player reopens what follows with the new effects
        if self.player is not None:
            await self.player.set_effects(effects)

    async def preload(self, track: Track | None) -> None:
        """Tell the player what follows the current track (sent only when it changed)."""
        key = (track.entry_id, track.stream_url) if track is not None else None
        if key == self.preloaded or self.player is None:
            return
        self.preloaded = key
        await self.player.preload(track)

    def followed(self, entry_id: str) -> None:
        """The player went straight on with the preloaded ``entry_id`` (gapless)."""
        self.playing_entry = entry_id
        self.preloaded = None
        self.set_position(0.0, moving=not self.paused)

    # -- holding for the call -------------------------------------------------------------

    async def hold(self) -> None:
        """The call is reconnecting: pause at the exact position (once)."""
        if self.held or self.player is None or self.playing_entry is None or self.paused:
            return
        self.set_position(self.position_now(), moving=False)
        self.held = True
        await self.player.pause()

    async def release(self) -> bool:
        """The call is back: the held entry goes on where it was.  False if nothing was held."""
        if not self.held:
            return False
        self.held = False
        if self.player is None or self.playing_entry is None:
            return False
        if self.paused:
            return True  # a member paused meanwhile: it stays paused, at the same place
        await self.player.resume()
        self.set_position(self.position, moving=True)
        return True


__all__ = ["OpenedPlayer", "Playback"]
