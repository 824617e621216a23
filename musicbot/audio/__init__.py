"""Audio: ffmpeg sources, the Ogg Opus demuxer and the paced player.

The guild actor builds one :class:`FfmpegOpener` at startup (``FfmpegOpener.from_config``,
which fails early if ffmpeg is missing), then per voice connection starts a player with
:func:`start_player` and drives it through the returned :class:`PlayerHandle`.
"""

from musicbot.audio.errors import (
    AudioError,
    FfmpegNotFoundError,
    OggFormatError,
    SourceCrashedError,
    SourceDecodeError,
    SourceError,
    SourceOpenError,
    SourceStalledError,
)
from musicbot.audio.messages import (
    EndReason,
    PlayerCommand,
    PlayerEvent,
    PlayerStatus,
    PositionChanged,
    TrackEnded,
    TrackStarted,
)
from musicbot.audio.player import PlayerHandle, PlayerStats, run_player, start_player
from musicbot.audio.source import FfmpegOpener, FrameSource, SourceOpener, SourceRequest

__all__ = [
    "AudioError",
    "EndReason",
    "FfmpegNotFoundError",
    "FfmpegOpener",
    "FrameSource",
    "OggFormatError",
    "PlayerCommand",
    "PlayerEvent",
    "PlayerHandle",
    "PlayerStats",
    "PlayerStatus",
    "PositionChanged",
    "SourceCrashedError",
    "SourceDecodeError",
    "SourceError",
    "SourceOpenError",
    "SourceOpener",
    "SourceRequest",
    "SourceStalledError",
    "TrackEnded",
    "TrackStarted",
    "run_player",
    "start_player",
]
