"""The contract between the player (musicbot.audio) and the voice connection (musicbot.voice)."""

from __future__ import annotations

from collections.abc import Sequence
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


class FrameSinkNowait(Protocol):
    """Where the voice sender puts one stream's frames: a sync, non-blocking send.

    ``send_frame_nowait`` encrypts and hands the datagram to the kernel, or drops it (and
    counts it); it never waits.  ``set_speaking`` is awaited by the stream's player (op 5 goes
    over the voice WebSocket), never by the sender.
    """

    def send_frame_nowait(self, opus: bytes) -> None: ...

    async def set_speaking(self, speaking: bool) -> None: ...


class StreamCounters(Protocol):
    """Counters the sender bumps for a stream (the player's stats object satisfies it)."""

    frames: int
    underruns: int
    reanchors: int


class FrameStream(Protocol):
    """One stream's bounded frame buffer, drained by the shared clock one frame per tick.

    The player pushes frames and says when the stream plays; the clock takes a frame every
    20 ms while it plays (after any pending silence), and never waits for the player.
    ``sent`` counts buffered frames sent since the last :meth:`clear`.
    """

    capacity: int
    sent: int

    def buffered(self) -> int: ...

    def push(self, frames: Sequence[bytes]) -> None: ...

    def play(self) -> None: ...

    def hold(self, *, silence: bool) -> None: ...

    def clear(self) -> None: ...

    async def wait_buffered_at_most(self, level: int) -> None: ...

    async def wait_quiet(self) -> None: ...

    def close(self) -> None: ...


class FrameClock(Protocol):
    """The process's voice sender: opens streams that it paces on one 20 ms clock."""

    def open_stream(self, sink: FrameSinkNowait, counters: StreamCounters) -> FrameStream: ...
