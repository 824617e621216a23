"""Player commands (in) and events (out): frozen attrs messages with Union aliases."""

from __future__ import annotations

import enum

import attrs
import trio

from musicbot.audio.effects import Effects
from musicbot.audio.errors import SourceError
from musicbot.models.track import Track

# ------------------------------------------------------------------ commands


@attrs.frozen(kw_only=True)
class Play:
    """Play ``track`` from ``start_at`` seconds; a track already playing ends as REPLACED."""

    track: Track
    start_at: float = 0.0


@attrs.frozen(kw_only=True)
class Pause:
    pass


@attrs.frozen(kw_only=True)
class Resume:
    pass


@attrs.frozen(kw_only=True)
class Stop:
    pass


@attrs.frozen(kw_only=True)
class Skip:
    pass


@attrs.frozen(kw_only=True)
class Seek:
    position: float  # seconds from the start of the track


@attrs.frozen(kw_only=True)
class SetVolume:
    percent: int  # 0..200; anything but 100 transcodes through a volume filter


@attrs.frozen(kw_only=True)
class SetEffects:
    """The member's filter and equalizer (``musicbot.audio.effects``); the current track goes
    on from its position through the new graph, and a stream with no effect is copied again."""

    effects: Effects


@attrs.frozen(kw_only=True)
class Preload:
    """The track that follows the current one when it finishes (None: nothing known).

    A few seconds before the current track ends, the player opens this one's source and
    buffers its first frames; at the end it goes straight on with it (gapless), reporting
    ``TrackEnded(followed_by=...)``.  A ``Play`` of the same entry uses it too.
    """

    track: Track | None


@attrs.frozen(kw_only=True)
class PlayerStatus:
    track: Track | None
    position: float
    paused: bool
    volume: int


@attrs.frozen(kw_only=True)
class GetStatus:
    reply: trio.MemorySendChannel[PlayerStatus]


PlayerCommand = (
    Play | Pause | Resume | Stop | Skip | Seek | SetVolume | SetEffects | Preload | GetStatus
)
"""Everything the player's command channel carries."""

# ------------------------------------------------------------------ events


class EndReason(enum.Enum):
    """Why a track stopped playing (reported in ``TrackEnded``)."""

    FINISHED = "finished"  # the source reached its end
    SKIPPED = "skipped"
    STOPPED = "stopped"  # Stop, or the command channel closed
    REPLACED = "replaced"  # a Play arrived while this track was playing
    FAILED = "failed"  # the source failed; TrackEnded.error says why


@attrs.frozen(kw_only=True)
class TrackStarted:
    """The first audio frame of ``track`` went to the sink (after a Play, not after a seek)."""

    track: Track
    position: float


@attrs.frozen(kw_only=True)
class TrackEnded:
    """Every Play ends with exactly one of these, even one that never started."""

    track: Track
    reason: EndReason
    position: float
    error: SourceError | None = None
    # The preloaded entry the player went straight on with (FINISHED only; see Preload).
    followed_by: str | None = None


@attrs.frozen(kw_only=True)
class PositionChanged:
    """Sent every few seconds of playback, lossy (dropped if the receiver is behind)."""

    track: Track
    position: float


#: What the player reports to its owner (``TrackStarted``, ``TrackEnded``, ``PositionChanged``).
PlayerEvent = TrackStarted | TrackEnded | PositionChanged
