"""Audio figures sampled from the players' and voice connections' own counters.

Theory: the hot path (one Opus frame every 20 ms per guild) must not call into Prometheus, so
the player (:class:`~musicbot.audio.player.PlayerStats`) and the voice connection
(:class:`~musicbot.voice.events.VoiceStats`) keep plain integer counters, and the guild actor
*attaches* them here when it creates them.  :meth:`AudioBoard.sample` (once a second, from the
metrics recorder) turns the growth of each counter since the last sample into Metrics counter
increments, and derives three facts nobody has to report: a guild whose player sent frames since
the last sample is *playing*; a guild whose voice connection is connected (or briefly resuming)
*has a voice connection*; how many of those are *healthy* (connected now).

Attaching new counter objects (a new voice connection after a rejoin) first books what the old
ones still owed, so no frame is counted twice or lost.  Only Trio tasks on the main thread call
these methods (the counters are written by tasks of the same thread).
"""

from __future__ import annotations

from typing import Final, Protocol

import attrs

from musicbot.ops.metrics import Metrics

# VoiceState values (musicbot.voice.events) that count as "has a voice connection" for the gauge
# and for health; only "connected" is healthy.  Joining is not counted: a first join is normal.
_HELD: Final = frozenset({"connected", "resuming", "backing_off"})
_HEALTHY: Final = "connected"


class VoiceCounters(Protocol):
    frames_sent: int
    resumes: int
    rejoins: int


class PlayerCounters(Protocol):
    frames: int
    reanchors: int
    underruns: int


class _Enum(Protocol):
    @property
    def value(self) -> str: ...


class VoiceLike(Protocol):
    """What the board reads of a voice connection (``musicbot.voice.VoiceConnection`` fits)."""

    @property
    def stats(self) -> VoiceCounters: ...

    @property
    def state(self) -> _Enum: ...


@attrs.define
class _Seen:
    voice: VoiceLike
    player: PlayerCounters
    frames_sent: int = 0
    resumes: int = 0
    rejoins: int = 0
    played: int = 0
    late: int = 0


@attrs.frozen(kw_only=True)
class AudioSample:
    playing: frozenset[int]
    voice_held: frozenset[int]
    voice_healthy: int


class AudioBoard:
    """The per-guild counters the recorder samples; the guild actor attaches and detaches."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._guilds: dict[int, _Seen] = {}

    def attach(self, guild_id: int, voice: VoiceLike, player: PlayerCounters) -> None:
        """The guild actor made a voice connection and a player (replaces older ones)."""
        old = self._guilds.get(guild_id)
        if old is not None:
            self._book(guild_id, old)
        self._guilds[guild_id] = _Seen(voice=voice, player=player)
        self._book(guild_id, self._guilds[guild_id])

    def detach(self, guild_id: int) -> None:
        """The guild actor stopped: book what is left and forget the guild."""
        old = self._guilds.pop(guild_id, None)
        if old is not None:
            self._book(guild_id, old)
        self._metrics.voice_disconnected(guild_id)

    def __contains__(self, guild_id: int) -> bool:
        return guild_id in self._guilds

    def _book(self, guild_id: int, seen: _Seen) -> bool:
        """Count the growth since the last look; True when the player sent frames meanwhile."""
        v, p = seen.voice.stats, seen.player
        m = self._metrics
        if v.frames_sent > seen.frames_sent:
            m.audio_frames_sent(guild_id, v.frames_sent - seen.frames_sent)
        for _ in range(v.resumes - seen.resumes):
            m.voice_reconnect("resume")
        for _ in range(v.rejoins - seen.rejoins):
            m.voice_reconnect("rejoin")
        late = p.reanchors + p.underruns
        if late > seen.late:
            m.audio_frames_late(guild_id, late - seen.late)
        played = p.frames > seen.played
        seen.frames_sent, seen.resumes, seen.rejoins = v.frames_sent, v.resumes, v.rejoins
        seen.played, seen.late = p.frames, late
        return played

    def sample(self) -> AudioSample:
        """Book every guild's growth and update the playing / voice gauges."""
        playing: set[int] = set()
        held: set[int] = set()
        healthy = 0
        for guild_id, seen in self._guilds.items():
            if self._book(guild_id, seen):
                playing.add(guild_id)
            state = seen.voice.state.value
            if state in _HELD:
                held.add(guild_id)
                self._metrics.voice_connected(guild_id)
                healthy += state == _HEALTHY
            else:
                self._metrics.voice_disconnected(guild_id)
            self._metrics.player_playing(guild_id, guild_id in playing)
        return AudioSample(
            playing=frozenset(playing), voice_held=frozenset(held), voice_healthy=healthy
        )
