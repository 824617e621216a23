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

Position.  ``base + sent * 20 ms * rate``: ``base`` is where the current source started in the
track, ``sent`` the frames the clock has actually sent from it, ``rate`` the track seconds in one
second of output (1 unless an effect changes the speed), so pause, resume, seek and effects keep
it exact and buffered-but-unsent audio never counts.

Gapless.  The owner names the track that follows (``Preload``).  About ``PRELOAD_AHEAD`` seconds
before the current track ends (or when its source has been read to the end) a second pump opens
that track's source and reads its first second ahead, behind a gate.  When the current track has
sent its last frame the player opens the gate instead of going silent: the next frames are in the
stream for the following tick, and ``TrackEnded(followed_by=...)`` tells the owner which entry is
now playing.  A failed preload reports its error when its turn comes, like any other source.

Silence.  Five silence frames follow every pause, stop, skip and natural end (but a gapless one)
before ``set_speaking(False)`` (Discord's rule, so receivers' decoders do not interpolate noise);
speaking goes on before the first frame of a track or after a resume.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Final, assert_never

import attrs
import structlog
import trio

from musicbot.audio.effects import NO_EFFECTS, Effects
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
    Preload,
    Resume,
    Seek,
    SetEffects,
    SetVolume,
    Skip,
    Stop,
    TrackEnded,
    TrackStarted,
)
from musicbot.audio.source import FrameSource, SourceOpener, SourceRequest
from musicbot.models.media import FRAME_MS, FrameClock, FrameSinkNowait, FrameStream
from musicbot.models.track import Track

log = structlog.get_logger(__name__)

FRAME: Final = FRAME_MS / 1000  # seconds per frame
POSITION_EVERY: Final = 250  # frames between PositionChanged events (5 s)
PRELOAD_AHEAD: Final = 5.0  # seconds before a track's end the next one's source is opened
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

    async def set_effects(self, effects: Effects) -> None:
        """Play on through ``effects`` (filter preset and equalizer) from the current position."""
        await self._commands.send(SetEffects(effects=effects))

    async def preload(self, track: Track | None) -> None:
        """``track`` follows the current one (None: nothing does); see ``Preload``."""
        await self._commands.send(Preload(track=track))

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
class _SourceDone:
    generation: int  # the source has been read to its end; its last second is buffered


@attrs.frozen
class _CommandsClosed:
    pass


_Inbox = PlayerCommand | _Started | _Ended | _SourceDone | _CommandsClosed


async def _read_ahead(source: FrameSource, limit: int) -> tuple[list[bytes], bool]:
    """Up to ``limit`` frames of a preloaded source, and whether it ended meanwhile."""
    stash: list[bytes] = []
    while len(stash) < limit:
        frames = await source.receive_frames()
        if not frames:
            return stash, True
        stash.extend(frames)
    return stash, False


async def _pump(
    opener: SourceOpener,
    request: SourceRequest,
    stream: FrameStream,
    out: trio.MemorySendChannel[_Inbox],
    generation: int,
    progress: Callable[[], None],
    gate: trio.Event | None = None,
) -> None:
    """Run one source into ``stream``; post ``_Started`` once, then ``_Ended`` when done.

    A copied Opus source whose packets are not 20 ms refuses before any frame was buffered,
    and is opened again at the same offset with ``transcode=True``.  With a ``gate`` (a
    preloaded next track) the source is opened and its first second read ahead at once, but
    nothing goes into ``stream`` (and nothing is posted, an error neither) until the gate is
    set: the moment the current track has sent its last frame.
    """
    error: SourceError | None = None
    started = False
    low = stream.capacity // 2
    try:
        while True:
            try:
                async with opener(request) as source:
                    ended = False
                    if gate is not None:
                        stash, ended = await _read_ahead(source, stream.capacity)
                        await gate.wait()
                        gate = None
                        if stash:
                            stream.push(stash)
                            started = True
                            await out.send(_Started(generation))
                        del stash
                    while not ended:
                        frames = await source.receive_frames()
                        if not frames:
                            break
                        stream.push(frames)
                        # The stream holds them now.  A list of frames kept alive across the
                        # wait below outlives young collections, and every full collection
                        # then visits each of its frames (at 1000 streams, a quarter of all
                        # the references it follows).
                        del frames
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
        if gate is not None:
            await gate.wait()  # a preload that failed says so when its turn comes
        if started:
            if error is None:
                await out.send(_SourceDone(generation))  # time to open the next track
            await stream.wait_buffered_at_most(0)  # the track ends when its last frame went out
        await out.send(_Ended(generation, error))
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass  # the player has gone


@attrs.define
class _Next:
    """The preloaded next track: its pump runs behind ``gate`` under its own scope."""

    track: Track
    generation: int
    scope: trio.CancelScope | None = None  # None until its source is opened
    gate: trio.Event = attrs.field(factory=trio.Event)


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
    effects: Effects = NO_EFFECTS
    track: Track | None = None
    paused: bool = False
    started: bool = False  # TrackStarted was emitted for this track
    source_ready: bool = False  # the current source has buffered its first frames
    speaking: bool = False
    base: float = 0.0  # seconds into the track where the current source starts
    generation: int = 0  # the pump whose outcomes count
    serial: int = 0  # the last generation handed out
    reported: int = 0  # PositionChanged events sent for the current source
    scope: trio.CancelScope | None = None
    rate: float = 1.0  # track seconds per output second of the current source (effects)
    next_track: Track | None = None  # what follows the current track (Preload)
    next: _Next | None = None  # its source, once opened

    @property
    def position(self) -> float:
        return self.base + self.stream.sent * FRAME * self.rate

    def fresh(self) -> int:
        """A generation no pump has had: whatever older pumps post is stale against it."""
        self.serial += 1
        return self.serial

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
                    elif self.next is not None:
                        await self.go_on()
                    else:
                        await self.end(EndReason.FINISHED)
            case _SourceDone(generation=generation):
                if generation == self.generation:
                    self.open_next(now=True)
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
                if self.preloaded(track) and start_at == 0 and self.next is not None:
                    self.take_next()  # e.g. a skip to the track that was preloaded
                else:
                    self.track, self.started, self.paused = track, False, False
                    self.start_source(start_at)
                log.info("track_starting", title=track.title, start_at=start_at)
            case Pause():
                if self.track is not None and not self.paused:
                    self.paused = True
                    self.close_next()  # a source kept waiting for long may time out
                    await self.silence()
            case Resume():
                if self.paused:
                    self.paused = False
                    if self.source_ready:
                        await self.play_stream()
                    self.open_next()
            case Stop():
                self.next_track = None
                self.close_next()
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
                    position = self.position
                    self.volume = percent
                    self.restart(position)
            case SetEffects(effects=effects):
                if effects != self.effects:
                    position = self.position
                    self.effects = effects
                    self.restart(position)
            case Preload(track=track):
                if track is None or not self.preloaded(track):
                    self.close_next()
                    self.next_track = track
                    self.open_next()
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
        self.base, self.reported, self.source_ready = offset, 0, False
        self.rate = self.effects.rate
        self.generation = self.fresh()
        self.scope = self.run_pump(track, offset, self.generation)

    def run_pump(
        self, track: Track, offset: float, generation: int, gate: trio.Event | None = None
    ) -> trio.CancelScope:
        """Start a pump for ``track`` in the player's nursery; its scope stops it."""
        scope = trio.CancelScope()
        request = SourceRequest(
            track=track, offset=offset, volume=self.volume, effects=self.effects
        )
        inbox = self.inbox.clone()

        async def pump() -> None:
            with scope:
                async with inbox:
                    await _pump(
                        self.opener, request, self.stream, inbox, generation, progress, gate
                    )

        def progress() -> None:
            if generation != self.generation:
                return
            due = self.stream.sent // POSITION_EVERY
            if due > self.reported:
                self.reported = due
                try:
                    self.events.send_nowait(PositionChanged(track=track, position=self.position))
                except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                    self.stats.dropped_events += 1
            self.open_next()

        self.nursery.start_soon(pump)
        return scope

    def restart(self, position: float) -> None:
        """The samples change (volume, effects): the current track goes on from ``position``
        through a new source, and a preloaded next source is opened again later."""
        self.close_next()
        if self.track is not None:
            self.start_source(position)

    # -------------------------------------------------------------- the next track (gapless)

    def preloaded(self, track: Track) -> bool:
        nxt = self.next_track
        return (
            nxt is not None
            and nxt.entry_id == track.entry_id
            and nxt.stream_url == track.stream_url
        )

    def open_next(self, *, now: bool = False) -> None:
        """Open the next track's source once the current one is within ``PRELOAD_AHEAD``
        seconds of its end (``now``: its source has been read to the end)."""
        track, nxt = self.track, self.next_track
        if nxt is None or self.next is not None or track is None or self.paused:
            return
        if track.is_live or nxt.is_live:
            return  # a live stream has no end to prepare for
        if not now:
            if track.duration is None:
                return
            if track.duration - self.position > PRELOAD_AHEAD:
                return
        opened = _Next(track=nxt, generation=self.fresh())
        opened.scope = self.run_pump(nxt, 0.0, opened.generation, opened.gate)
        self.next = opened
        log.debug("next_track_opened", title=nxt.title)

    def close_next(self) -> None:
        if self.next is not None:
            if self.next.scope is not None:
                self.next.scope.cancel()
            self.next = None

    def take_next(self) -> None:
        """Make the preloaded track the current one; its frames go out from the next tick."""
        nxt = self.next
        assert nxt is not None
        self.next, self.next_track = None, None
        self.close_source()
        self.track, self.started, self.paused = nxt.track, False, False
        self.base, self.reported, self.source_ready = 0.0, 0, False
        self.rate = self.effects.rate
        self.generation, self.scope = nxt.generation, nxt.scope
        nxt.gate.set()

    async def go_on(self) -> None:
        """The current track has sent its last frame: straight on with the preloaded one,
        no silence in between (speaking stays on)."""
        old, position = self.track, self.position
        assert old is not None and self.next is not None
        followed_by = self.next.track.entry_id
        self.take_next()
        log.info("track_ended", title=old.title, reason="finished", position=position, gapless=True)
        await self.emit(
            TrackEnded(
                track=old, reason=EndReason.FINISHED, position=position, followed_by=followed_by
            )
        )

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
        self.generation = self.fresh()  # anything the old pump still posts is stale
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
    effects: Effects = NO_EFFECTS,
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
            player = _Player(
                sink, stream, events, inbox_send, opener, nursery, stats, volume, effects
            )
            nursery.start_soon(_forward, commands, inbox_send.clone())
            task_status.started()
            try:
                async with inbox:
                    while await player.handle(await inbox.receive()):
                        pass
                    if player.track is not None:
                        await player.end(EndReason.STOPPED)
            finally:
                player.close_next()
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
