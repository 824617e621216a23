"""The player: one task per guild that feeds a source's Opus frames to the shared voice clock.

Theory.  Pacing is not done here.  The process's voice sender (:mod:`musicbot.voice.sender`,
seen through the :class:`~musicbot.models.media.FrameClock` protocol) owns the one 20 ms clock
and takes one frame per tick from every playing stream's bounded buffer; this player decides
*what* is in that buffer and *whether* the stream plays.  So a player wakes about twice a second
(when its buffer has drained to half), not fifty times, and a slow source never delays another
guild's audio: its own buffer simply runs dry (an underrun, counted).

Structure.  The player task owns all state and reads one inbox: the owner's commands (forwarded
from the command channel by a small task) and the outcomes of the current *pump*.  The pump runs
one source (inside the player's nursery, under its own cancel scope): it pushes chunks of frames
into the stream and waits for room, posts ``_Started`` after the first chunk is buffered and
``_Ended`` once the source is done *and* the buffer has been sent, so the track ends when its
last frame has gone out.  Each pump carries a generation; an outcome from an older one is a
no-op.  Stopping, skipping or seeking cancels the pump (which reaps ffmpeg or closes the HTTP
stream in its own time) and clears the buffer.

Position.  ``base + sent * 20 ms``: ``base`` is where the current source started in the track,
``sent`` the frames the clock has actually sent from it, so pause, resume and seek keep it exact
and buffered-but-unsent audio never counts.

Silence.  Five silence frames follow every pause, stop, skip and natural end before
``set_speaking(False)`` (Discord's rule, so receivers' decoders do not interpolate noise); speaking
goes on before the first frame of a track or after a resume.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
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
from musicbot.models.media import FRAME_MS, FrameClock, FrameSinkNowait, FrameStream
from musicbot.models.track import Track

log = structlog.get_logger(__name__)

FRAME: Final = FRAME_MS / 1000  # seconds per frame
POSITION_EVERY: Final = 250  # frames between PositionChanged events (5 s)
COMMAND_BUFFER: Final = 16
INBOX_BUFFER: Final = 16


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
        """Play ``track`` from ``start_at`` seconds, replacing whatever plays."""
        await self._commands.send(Play(track=track, start_at=start_at))

    async def pause(self) -> None:
        """Pause the current track (its position is kept)."""
        await self._commands.send(Pause())

    async def resume(self) -> None:
        """Resume a paused track."""
        await self._commands.send(Resume())

    async def stop(self) -> None:
        """Stop playing (reported as stopped); the player waits for the next track."""
        await self._commands.send(Stop())

    async def skip(self) -> None:
        """End the current track now (reported as skipped)."""
        await self._commands.send(Skip())

    async def seek(self, position: float) -> None:
        """Jump to ``position`` seconds (negative means 0) in the current track."""
        await self._commands.send(Seek(position=max(0.0, position)))

    async def set_volume(self, percent: int) -> None:
        """Set the volume to ``percent`` (clamped to 0-200)."""
        await self._commands.send(SetVolume(percent=min(200, max(0, percent))))

    async def status(self, *, timeout: float = 2.0) -> PlayerStatus:
        """What plays and where; raises ``trio.TooSlowError`` after ``timeout`` seconds."""
        send, receive = trio.open_memory_channel[PlayerStatus](1)
        with trio.fail_after(timeout):
            await self._commands.send(GetStatus(reply=send))
            async with receive:
                return await receive.receive()

    async def aclose(self) -> None:
        """Close the command channel: the player stops and its task ends."""
        await self._commands.aclose()


def open_player_channel() -> tuple[
    trio.MemorySendChannel[PlayerCommand], trio.MemoryReceiveChannel[PlayerCommand]
]:
    return trio.open_memory_channel[PlayerCommand](COMMAND_BUFFER)


@attrs.frozen
class _Started:
    generation: int


@attrs.frozen
class _Ended:
    generation: int
    error: SourceError | None


@attrs.frozen
class _CommandsClosed:
    pass


_Inbox = PlayerCommand | _Started | _Ended | _CommandsClosed


async def _pump(
    opener: SourceOpener,
    request: SourceRequest,
    stream: FrameStream,
    out: trio.MemorySendChannel[_Inbox],
    generation: int,
    progress: Callable[[], None],
) -> None:
    """Run one source into ``stream``; post ``_Started`` once, then ``_Ended`` when done.

    A copied Opus source whose packets are not 20 ms refuses before any frame was buffered,
    and is opened again at the same offset with ``transcode=True``.
    """
    error: SourceError | None = None
    started = False
    low = stream.capacity // 2
    try:
        while True:
            try:
                async with opener(request) as source:
                    while frames := await source.receive_frames():
                        stream.push(frames)
                        if not started:
                            started = True
                            await out.send(_Started(generation))
                        if stream.buffered() >= stream.capacity:
                            await stream.wait_buffered_at_most(low)
                            progress()
                break
            except SourceNeedsTranscodeError as exc:
                if request.transcode or started:
                    raise AssertionError("a transcoded source asked for a transcode") from exc
                log.info("passthrough_refused", samples=exc.samples)
                request = attrs.evolve(request, transcode=True)
            except SourceError as exc:
                error = exc
                break
            except OSError as exc:  # ffmpeg vanished or cannot be executed
                error = SourceOpenError("spawn_failed", None, (str(exc),))
                break
        if started:
            await stream.wait_buffered_at_most(0)  # the track ends when its last frame went out
        await out.send(_Ended(generation, error))
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass  # the player has gone


@attrs.define
class _Player:
    sink: FrameSinkNowait
    stream: FrameStream
    events: trio.MemorySendChannel[PlayerEvent]
    inbox: trio.MemorySendChannel[_Inbox]
    opener: SourceOpener
    nursery: trio.Nursery
    stats: PlayerStats
    volume: int = 100
    track: Track | None = None
    paused: bool = False
    started: bool = False  # TrackStarted was emitted for this track
    source_ready: bool = False  # the current source has buffered its first frames
    speaking: bool = False
    base: float = 0.0  # seconds into the track where the current source starts
    generation: int = 0
    reported: int = 0  # PositionChanged events sent for the current source
    scope: trio.CancelScope | None = None

    @property
    def position(self) -> float:
        return self.base + self.stream.sent * FRAME

    async def handle(self, msg: _Inbox) -> bool:
        """Act on one inbox item; False when the command channel has closed."""
        match msg:
            case _Started(generation=generation):
                if generation == self.generation and self.track is not None:
                    self.source_ready = True
                    if not self.paused:
                        await self.play_stream()
                    if not self.started:
                        self.started = True
                        await self.emit(TrackStarted(track=self.track, position=self.base))
            case _Ended(generation=generation, error=error):
                if generation == self.generation and self.track is not None:
                    if error is not None:
                        await self.end(EndReason.FAILED, error=error)
                    else:
                        await self.end(EndReason.FINISHED)
            case _CommandsClosed():
                return False
            case _:
                await self.command(msg)
        return True

    async def command(self, cmd: PlayerCommand) -> None:
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
                    if self.source_ready:
                        await self.play_stream()
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
        track = self.track
        assert track is not None
        self.close_source()
        self.generation += 1
        self.base, self.reported, self.source_ready = offset, 0, False
        scope = trio.CancelScope()
        request = SourceRequest(track=track, offset=offset, volume=self.volume)
        generation = self.generation
        inbox = self.inbox.clone()

        async def pump() -> None:
            with scope:
                async with inbox:
                    await _pump(self.opener, request, self.stream, inbox, generation, progress)

        def progress() -> None:
            due = self.stream.sent // POSITION_EVERY
            if due > self.reported and generation == self.generation:
                self.reported = due
                try:
                    self.events.send_nowait(PositionChanged(track=track, position=self.position))
                except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                    self.stats.dropped_events += 1

        self.nursery.start_soon(pump)
        self.scope = scope

    def close_source(self) -> None:
        if self.scope is not None:
            self.scope.cancel()  # the pump reaps its source in its own time
        self.scope = None
        self.source_ready = False
        self.stream.clear()

    # -------------------------------------------------------------- output

    async def play_stream(self) -> None:
        if not self.speaking:
            await self.sink.set_speaking(True)  # op 5 before the first frame
            self.speaking = True
        self.stream.play()

    async def silence(self) -> None:
        if self.speaking:
            self.stream.hold(silence=True)
            await self.stream.wait_quiet()
            await self.sink.set_speaking(False)
            self.speaking = False
        else:
            self.stream.hold(silence=False)

    async def end(
        self, reason: EndReason, *, error: SourceError | None = None, silence: bool = True
    ) -> None:
        track = self.track
        assert track is not None
        position = self.position
        self.close_source()
        self.generation += 1  # anything the old pump still posts is stale
        self.track, self.paused, self.started = None, False, False
        self.base = 0.0
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


async def _forward(
    commands: trio.MemoryReceiveChannel[PlayerCommand], inbox: trio.MemorySendChannel[_Inbox]
) -> None:
    async with commands, inbox:
        async for cmd in commands:
            await inbox.send(cmd)
        await inbox.send(_CommandsClosed())


async def run_player(
    commands: trio.MemoryReceiveChannel[PlayerCommand],
    *,
    sink: FrameSinkNowait,
    clock: FrameClock,
    events: trio.MemorySendChannel[PlayerEvent],
    opener: SourceOpener,
    volume: int = 100,
    stats: PlayerStats | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run until ``commands`` is closed (a track still playing then ends as STOPPED).

    Frames go to ``sink`` through a stream of ``clock`` (the process's voice sender).
    ``events`` gets every TrackStarted/TrackEnded (awaited, so give it a buffer and read it)
    and lossy PositionChanged.  Cancelling the task reaps the current source before returning.
    """
    stats = stats or PlayerStats()
    stream = clock.open_stream(sink, stats)
    inbox_send, inbox = trio.open_memory_channel[_Inbox](INBOX_BUFFER)
    try:
        async with trio.open_nursery() as nursery:
            player = _Player(sink, stream, events, inbox_send, opener, nursery, stats, volume)
            nursery.start_soon(_forward, commands, inbox_send.clone())
            task_status.started()
            try:
                async with inbox:
                    while await player.handle(await inbox.receive()):
                        pass
                    if player.track is not None:
                        await player.end(EndReason.STOPPED)
            finally:
                player.close_source()
                nursery.cancel_scope.cancel()
    finally:
        stream.close()
        inbox_send.close()


async def start_player(
    nursery: trio.Nursery,
    *,
    sink: FrameSinkNowait,
    clock: FrameClock,
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
            clock=clock,
            events=events,
            opener=opener,
            volume=volume,
            stats=stats,
            task_status=task_status,
        )

    await nursery.start(player)
    return PlayerHandle(send, stats)
