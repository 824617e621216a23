"""The contract between the player (musicbot.audio) and the voice connection (musicbot.voice)."""

from __future__ import annotations

from typing import Final, Protocol

# An Opus frame of silence; five of them are sent before going quiet (Discord's rule, so
# receivers' decoders do not interpolate noise).  DAVE passes it through unencrypted.
SILENCE_FRAME: Final = b"\xf8\xff\xfe"
SILENCE_FRAMES_ON_STOP: Final = 5
FRAME_MS: Final = 20
SAMPLES_PER_FRAME: Final = 960  # 48 kHz x 20 ms


class FrameSink(Protocol):
    """Where a player puts paced Opus frames.

    ``send_frame`` must not block for long: the voice connection drops frames (and counts them)
    while it is reconnecting rather than stalling the player's clock.
    """

    async def send_frame(self, opus: bytes) -> None: ...

    async def set_speaking(self, speaking: bool) -> None: ...
