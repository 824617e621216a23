"""The player: one task that turns a source's Opus frames into a paced stream for a FrameSink.

Theory of pacing.  Frame ``n`` of a run is due at ``anchor + n * 20 ms`` on the Trio clock and
the player sleeps with ``trio.sleep_until`` to that absolute deadline, so a late wake-up never
accumulates into drift: the next deadline does not move.  If the player falls behind (a slow
sink, a source underrun, a busy event loop), the following frames have deadlines in the past
and go out back to back, catching up; but only up to ``MAX_LAG`` behind.  Further behind than
that it *re-anchors* (the current frame becomes due now) instead of bursting seconds of audio
into the network, which a receiver's jitter buffer would drop anyway.  Pause, resume, seek and
a new track also re-anchor.

Structure.  The player task owns all state.  The current source runs in a pump task (inside
the player's nursery, under its own cancel scope) that pushes chunks of frames, then ``()``
at the end or the SourceError, through a small channel.  Stopping, skipping or seeking cancels
the pump, which reaps ffmpeg; the player never waits for it.  Commands are read between frames
(at most 20 ms late), or blocking when nothing plays.

Silence.  Five silence frames follow every pause, stop, skip and natural end before
``set_speaking(False)`` (Discord's rule, so receivers' decoders do not interpolate noise).
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Sequence
from typing import Final, assert_never

import attrs
import structlog
import trio

from musicbot.audio.errors import SourceError, SourceNeedsTranscodeError, SourceOpenError
from musicbot.audio.messages import (
    EndReason,
    GetStatus,
    Pause,
    Play,
    PlayerCommand,
    PlayerEvent,
    PlayerStatus,
    PositionChanged,
    Resume,
    Seek,
    SetVolume,
    Skip,
    Stop,
    TrackEnded,
    TrackStarted,
)
from musicbot.audio.source import SourceOpener, SourceRequest
from musicbot.models.media import FRAME_MS, SILENCE_FRAME, SILENCE_FRAMES_ON_STOP, FrameSink
from musicbot.models.track import Track

log = structlog.get_logger(__name__)

FRAME: Final = FRAME_MS / 1000  # seconds per frame
MAX_LAG: Final = 5 * FRAME  # catch up to 5 frames late by sending back to back; beyond: re-anchor
POSITION_EVERY: Final = 250  # frames between PositionChanged events (5 s)
CHUNK_BUFFER: Final = 2  # chunks of frames the pump may read ahead (each one Ogg page or so)
COMMAND_BUFFER: Final = 16

Chunk = Sequence[bytes] | SourceError


@attrs.define
class PlayerStats:
    """Counters the owner may export as metrics."""

    frames: int = 0
    reanchors: int = 0
    underruns: int = 0
    dropped_events: int = 0


class PlayerHandle:
    """What the guild actor holds.  Closing it (``aclose``) stops the player."""

    def __init__(self, commands: trio.MemorySendChannel[PlayerCommand], stats: PlayerStats):
        self._commands = commands
        self.stats = stats

    async def play(self, track: Track, *, start_at: float = 0.0) -> None:
        await self._commands.send(Play(track=track, start_at=start_at))

    async def pause(self) -> None:
        await self._commands.send(Pause())

    async def resume(self) -> None:
        await self._commands.send(Resume())

    async def stop(self) -> None:
        await self._commands.send(Stop())

    async def skip(self) -> None:
        await self._commands.send(Skip())

    async def seek(self, position: float) -> None:
        await self._commands.send(Seek(position=max(0.0, position)))

    async def set_volume(self, percent: int) -> None:
        await self._commands.send(SetVolume(percent=min(200, max(0, percent))))

    async def status(self, *, timeout: float = 2.0) -> PlayerStatus:
        send, receive = trio.open_memory_channel[PlayerStatus](1)
        with trio.fail_after(timeout):
            await self._commands.send(GetStatus(reply=send))
            async with receive:
                return await receive.receive()

    async def aclose(self) -> None:
        await self._commands.aclose()


def open_player_channel() -> tuple[
    trio.MemorySendChannel[PlayerCommand], trio.MemoryReceiveChannel[PlayerCommand]
]:
    return trio.open_memory_channel[PlayerCommand](COMMAND_BUFFER)


async def _pump(
    opener: SourceOpener, request: SourceRequest, out: trio.MemorySendChannel[Chunk]
) -> None:
    """Run one source and forward its chunks; the last item is ``()`` or the SourceError.

    A copied Opus source whose packets are not 20 ms refuses before any frame went out, and is
    opened again at the same offset with ``transcode=True``.
    """
    async with out:
        try:
            while True:
                try:
                    async with opener(request) as source:
                        while True:
                            frames = await source.receive_frames()
                            await out.send(frames)
                            if not frames:
                                return
                except SourceNeedsTranscodeError as exc:
                    if request.transcode:
                        raise AssertionError("a transcoded source asked for a transcode") from exc
                    log.info("passthrough_refused", samples=exc.samples)
                    request = attrs.evolve(request, transcode=True)
                except SourceError as exc:
                    await out.send(exc)
                    return
                except OSError as exc:  # ffmpeg vanished or cannot be executed
                    await out.send(SourceOpenError("spawn_failed", None, (str(exc),)))
                    return
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the player moved on


@attrs.define
class _Player:
    sink: FrameSink
    events: trio.MemorySendChannel[PlayerEvent]
    opener: SourceOpener
    nursery: trio.Nursery
    stats: PlayerStats
    volume: int = 100
    track: Track | None = None
    paused: bool = False
    started: bool = False
    speaking: bool = False
    base: float = 0.0  # seconds into the track where the current source starts
    played: int = 0  # frames sent from the current source
    anchor: float | None = None  # None: the next frame re-anchors the clock
    n: int = 0
    scope: trio.CancelScope | None = None
    frames_rx: trio.MemoryReceiveChannel[Chunk] | None = None
    pending: collections.deque[bytes] = attrs.field(factory=collections.deque)

    @property
    def position(self) -> float:
        return self.base + self.played * FRAME

    # -------------------------------------------------------------- commands

    async def handle(self, cmd: PlayerCommand) -> None:
        match cmd:
            case Play(track=track, start_at=start_at):
                if self.track is not None:
                    await self.end(EndReason.REPLACED, silence=False)
                self.track, self.started, self.paused = track, False, False
                self.start_source(start_at)
                log.info("track_starting", title=track.title, start_at=start_at)
            case Pause():
                if self.track is not None and not self.paused:
                    self.paused = True
                    await self.silence()
            case Resume():
                if self.paused:
                    self.paused = False
                    self.anchor = None
            case Stop():
                if self.track is not None:
                    await self.end(EndReason.STOPPED)
            case Skip():
                if self.track is not None:
                    await self.end(EndReason.SKIPPED)
            case Seek(position=position):
                if self.track is not None:
                    self.start_source(position)
            case SetVolume(percent=percent):
                if percent != self.volume:
                    self.volume = percent
                    if self.track is not None:
                        self.start_source(self.position)
            case GetStatus(reply=reply):
                status = PlayerStatus(
                    track=self.track, position=self.position, paused=self.paused, volume=self.volume
                )
                # A caller that gave up has closed its end: nothing to do.
                with contextlib.suppress(
                    trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError
                ):
                    reply.send_nowait(status)
            case _:
                assert_never(cmd)

    # -------------------------------------------------------------- source

    def start_source(self, offset: float) -> None:
        assert self.track is not None
        self.close_source()
        send, receive = trio.open_memory_channel[Chunk](CHUNK_BUFFER)
        scope = trio.CancelScope()
        request = SourceRequest(track=self.track, offset=offset, volume=self.volume)

        async def pump() -> None:
            with scope:
                await _pump(self.opener, request, send)

        self.nursery.start_soon(pump)
        self.scope, self.frames_rx = scope, receive
        self.base, self.played, self.anchor = offset, 0, None

    def close_source(self) -> None:
        if self.scope is not None:
            self.scope.cancel()  # the pump reaps ffmpeg in its own time
        if self.frames_rx is not None:
            self.frames_rx.close()
        self.scope = self.frames_rx = None
        self.pending.clear()

    async def next_frame(self) -> bytes | None:
        """A frame to send, or None (nothing yet, or the track just ended)."""
        if self.pending:
            return self.pending.popleft()
        assert self.frames_rx is not None
        try:
            item = self.frames_rx.receive_nowait()
        except trio.WouldBlock:
            # Underrun (or still opening): wait one frame at most, then look at commands again.
            item = None
            with trio.move_on_after(FRAME):
                item = await self.frames_rx.receive()
            if item is None:
                if self.started:
                    self.stats.underruns += 1
                return None
        except trio.EndOfChannel:  # pragma: no cover - the pump always sends a last item
            item = ()
        if isinstance(item, SourceError):
            await self.end(EndReason.FAILED, error=item)
            return None
        if not item:
            await self.end(EndReason.FINISHED)
            return None
        self.pending.extend(item)
        return self.pending.popleft()

    # -------------------------------------------------------------- output

    async def send_paced(self, frame: bytes) -> None:
        now = trio.current_time()
        if self.anchor is None:
            self.anchor, self.n = now, 0
        deadline = self.anchor + self.n * FRAME
        if now - deadline > MAX_LAG:
            self.anchor, self.n = now, 0
            self.stats.reanchors += 1
        else:
            await trio.sleep_until(deadline)
        await self.sink.send_frame(frame)
        self.n += 1

    async def play_one(self) -> None:
        frame = await self.next_frame()
        if frame is None:
            return
        track = self.track
        assert track is not None
        if not self.speaking:
            await self.sink.set_speaking(True)
            self.speaking = True
        await self.send_paced(frame)
        self.played += 1
        self.stats.frames += 1
        if not self.started:
            self.started = True
            await self.emit(TrackStarted(track=track, position=self.base))
        elif self.played % POSITION_EVERY == 0:
            try:
                self.events.send_nowait(PositionChanged(track=track, position=self.position))
            except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                self.stats.dropped_events += 1

    async def silence(self) -> None:
        if self.speaking:
            for _ in range(SILENCE_FRAMES_ON_STOP):
                await self.send_paced(SILENCE_FRAME)
            await self.sink.set_speaking(False)
            self.speaking = False
        self.anchor = None

    async def end(
        self, reason: EndReason, *, error: SourceError | None = None, silence: bool = True
    ) -> None:
        track = self.track
        assert track is not None
        position = self.position
        self.close_source()
        self.track, self.paused, self.started = None, False, False
        if silence:
            await self.silence()
        if error is not None:
            log.warning("track_failed", title=track.title, error=str(error))
        log.info("track_ended", title=track.title, reason=reason.value, position=position)
        await self.emit(TrackEnded(track=track, reason=reason, position=position, error=error))

    async def emit(self, event: PlayerEvent) -> None:
        try:
            await self.events.send(event)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self.stats.dropped_events += 1


async def run_player(
    commands: trio.MemoryReceiveChannel[PlayerCommand],
    *,
    sink: FrameSink,
    events: trio.MemorySendChannel[PlayerEvent],
    opener: SourceOpener,
    volume: int = 100,
    stats: PlayerStats | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run until ``commands`` is closed (a track still playing then ends as STOPPED).

    ``events`` gets every TrackStarted/TrackEnded (awaited, so give it a buffer and read it)
    and lossy PositionChanged.  Cancelling the task reaps the current ffmpeg before returning.
    """
    async with trio.open_nursery() as nursery:
        player = _Player(sink, events, opener, nursery, stats or PlayerStats(), volume=volume)
        task_status.started()
        try:
            async with commands:
                while True:
                    if player.track is None or player.paused:
                        try:
                            cmd = await commands.receive()
                        except trio.EndOfChannel:
                            break
                        await player.handle(cmd)
                        continue
                    closed = False
                    while player.track is not None and not player.paused:
                        try:
                            cmd = commands.receive_nowait()
                        except trio.WouldBlock:
                            break
                        except trio.EndOfChannel:
                            closed = True
                            break
                        await player.handle(cmd)
                    if closed:
                        break
                    if player.track is not None and not player.paused:
                        await player.play_one()
            if player.track is not None:
                await player.end(EndReason.STOPPED)
        finally:
            player.close_source()


async def start_player(
    nursery: trio.Nursery,
    *,
    sink: FrameSink,
    events: trio.MemorySendChannel[PlayerEvent],
    opener: SourceOpener,
    volume: int = 100,
) -> PlayerHandle:
    """Start :func:`run_player` in ``nursery`` (the guild actor's) and return its handle."""
    send, receive = open_player_channel()
    stats = PlayerStats()

    async def player(task_status: trio.TaskStatus[None]) -> None:
        await run_player(
            receive,
            sink=sink,
            events=events,
            opener=opener,
            volume=volume,
            stats=stats,
            task_status=task_status,
        )

    await nursery.start(player)
    return PlayerHandle(send, stats)
