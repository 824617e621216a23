"""The voice sender: ONE task per process owns the 20 ms clock for every stream.

Theory.  A Trio wake-up costs far more than the work of sending one packet (see architecture
rule 16), so a task per stream pacing itself pays that cost 50 times a second per stream.  Here
one task sleeps until tick ``n`` is due at ``anchor + n * 20 ms`` (absolute deadlines: a late
wake-up never accumulates into drift) and, per tick, takes the next frame of every playing
stream and hands it to that stream's sink, which DAVE-encrypts, AEAD-encrypts and ``sendto``s it
synchronously (a UDP send on a non-blocking socket never waits; a full buffer drops the packet).
If the loop falls more than ``MAX_LAG`` behind (the process was starved of CPU), the current
tick becomes due now (a *re-anchor*, counted on every playing stream) instead of bursting
seconds of audio at receivers whose jitter buffers would drop it; up to ``MAX_LAG`` late, ticks
run back to back and catch up on the grid.

Streams.  Players feed their stream through a bounded buffer (``capacity`` frames, one second
by default) and sleep until it drains to half: a player wakes about twice a second, not fifty
times.  The sender never awaits a stream: an empty buffer is an underrun for that stream only
(counted once audio has started), so a stalled source, a slow HTTP fetch or a player busy
opening its next track never delays anybody else.  Pause, seek, skip and speaking state stay
with each stream's player: :meth:`SenderStream.hold` stops taking frames after an optional run of
five silence frames (Discord's rule before going quiet), :meth:`SenderStream.clear` drops what is
buffered (a seek or skip) and restarts the ``sent`` count the player derives its position from.

Waking.  One :class:`~musicbot.voice.timer.TickTimer`, open for the sender's life, waits for
each deadline on a periodic timerfd where it can (armed once per run of the grid, disarmed
while idle; a Trio deadline costs a third more CPU per wake-up, see its module doc).

Concurrency.  Streams are touched by their player task and by the sender task, both on the one
Trio thread, and neither awaits between reading and updating a stream's fields, so every
operation is atomic and there is no lock (the same argument as the voice connection's).
When nothing plays the sender blocks on an event instead of ticking.  Every tick sends the
streams in the same order (the order they started playing), so each stream leaves at the same
offset after the tick's start and its packets stay exactly 20 ms apart.  (Starting each tick
one stream further along, which spread the losses of a receive buffer shared by every stream,
swept every stream's offset across the whole tick: at 1000 streams its pacing p99 went from
6.5 ms to 14-24 ms.  On Discord each connection has its own socket and voice server; the
emulator's one UDP socket gets a receive buffer big enough for its bursts instead.)
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import Final

import attrs
import structlog
import trio

from musicbot.models.media import (
    FRAME_MS,
    SILENCE_FRAME,
    SILENCE_FRAMES_ON_STOP,
    FrameSinkNowait,
    StreamCounters,
)
from musicbot.voice.timer import open_tick_timer

log = structlog.get_logger(__name__)

FRAME: Final = FRAME_MS / 1000
MAX_LAG: Final = 5 * FRAME  # up to 5 ticks late: catch up back to back; beyond: re-anchor
DEFAULT_CAPACITY: Final = 50  # frames (1 s) a stream may buffer ahead of the clock
TUPLE_FRAMES: Final = 50  # frames per buffered tuple (one second)


@attrs.define
class SenderStats:
    """Process-wide counters of the clock."""

    ticks: int = 0
    reanchors: int = 0
    frames: int = 0
    sink_errors: int = 0


class SenderStream:
    """One stream's buffer and flags.  Made by :meth:`VoiceSender.open_stream`."""

    __slots__ = (
        "_at",
        "_chunks",
        "_count",
        "_head",
        "_level",
        "_quiet",
        "_send",
        "_sender",
        "_waiter",
        "capacity",
        "closed",
        "counters",
        "playing",
        "sent",
        "silence_left",
        "sink",
    )

    def __init__(
        self,
        sender: VoiceSender,
        sink: FrameSinkNowait,
        counters: StreamCounters,
        capacity: int,
    ) -> None:
        self._sender = sender
        self.sink = sink
        self._send = sink.send_frame_nowait  # bound once: the clock calls it every tick
        self.counters = counters
        self.capacity = capacity
        # Frames wait in tuples of up to TUPLE_FRAMES: a tuple of bytes is untracked by the
        # garbage collector at its first young collection, so buffered audio costs collections
        # one tuple per TUPLE_FRAMES frames, once (a deque or list of frames would be visited
        # by every collection).  Those first visits are the young collections' biggest share at
        # 1000 streams: a 6100-object one held 3400 ten-frame tuples, hence a second of audio
        # per tuple (at most 49 sent frames, about 16 KB, kept alive until the last one goes).
        self._chunks: collections.deque[tuple[bytes, ...]] = collections.deque()
        self._head: tuple[bytes, ...] = ()  # the chunk being sent, from index _at
        self._at = 0
        self._count = 0  # frames buffered, in _head and _chunks
        self.sent = 0
        self.playing = False
        self.silence_left = 0
        self.closed = False
        self._waiter: trio.lowlevel.Task | None = None  # the feeder, parked for room
        self._level = 0  # wake _waiter when buffered() <= _level
        self._quiet: trio.Event | None = None  # the player, waiting for the silence to go out

    def buffered(self) -> int:
        return self._count

    def push(self, frames: Sequence[bytes]) -> None:
        """Append frames (the caller keeps the buffer near ``capacity`` with the waits)."""
        if self.closed or not frames:
            return
        chunks = self._chunks
        for at in range(0, len(frames), TUPLE_FRAMES):
            chunks.append(tuple(frames[at : at + TUPLE_FRAMES]))
        self._count += len(frames)

    def _drop_buffered(self) -> None:
        self._chunks.clear()
        self._head, self._at, self._count = (), 0, 0

    def play(self) -> None:
        """Take one buffered frame per tick from now on."""
        if self.closed:
            return
        self.playing = True
        self._sender._activate(self)

    def hold(self, *, silence: bool) -> None:
        """Stop taking buffered frames (they stay for a later :meth:`play`); with ``silence``,
        five silence frames go out first."""
        self.playing = False
        if silence and not self.closed:
            self.silence_left = SILENCE_FRAMES_ON_STOP
            self._sender._activate(self)

    def clear(self) -> None:
        """Drop every buffered frame and restart the ``sent`` count (a seek, skip or stop)."""
        self._drop_buffered()
        self.sent = 0
        self._notify()

    async def wait_buffered_at_most(self, level: int) -> None:
        """Until at most ``level`` frames are buffered (level 0: all sent) or the stream is
        closed.  While held, buffered frames are not taken, so this waits for :meth:`play`.

        Every feeder parks here twice a second, so the wait is Trio's low-level park (the
        clock reschedules the task) rather than a :class:`trio.Event`: no Event, waiter set,
        abort closure and cells per wait (objects that live half a second, long enough to be
        promoted to the old generation, whose growth is what triggers full collections), and
        one scheduler pass per wait instead of two.
        """
        if self._count <= level or self.closed:
            await trio.lowlevel.checkpoint()
            return
        if self._waiter is not None:  # one feeder per stream: a second would be lost
            raise trio.BusyResourceError("another task already waits for room in this stream")
        while self._count > level and not self.closed:
            self._level = level
            self._waiter = trio.lowlevel.current_task()
            await trio.lowlevel.wait_task_rescheduled(self._abort_wait)

    def _abort_wait(self, _raise_cancel: object) -> trio.lowlevel.Abort:
        self._waiter = None
        return trio.lowlevel.Abort.SUCCEEDED

    async def wait_quiet(self) -> None:
        """Until the pending silence frames have gone out (or the stream is closed)."""
        while self.silence_left and not self.closed:
            self._quiet = quiet = trio.Event()
            await quiet.wait()
        await trio.lowlevel.checkpoint()

    def _notify(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            trio.lowlevel.reschedule(waiter)

    def _notify_quiet(self) -> None:
        quiet = self._quiet
        if quiet is not None:
            self._quiet = None
            quiet.set()

    def close(self) -> None:
        self.closed = True
        self.playing = False
        self.silence_left = 0
        self._drop_buffered()
        self._sender._deactivate(self)
        self._notify()
        self._notify_quiet()


class VoiceSender:
    """Start :meth:`run` once in the root nursery; give every player :meth:`open_stream`."""

    def __init__(self, *, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self.stats = SenderStats()
        self._active: dict[SenderStream, None] = {}  # insertion-ordered set of busy streams
        self._wake = trio.Event()

    def open_stream(self, sink: FrameSinkNowait, counters: StreamCounters) -> SenderStream:
        return SenderStream(self, sink, counters, self.capacity)

    @property
    def active_streams(self) -> int:
        return len(self._active)

    def _activate(self, stream: SenderStream) -> None:
        if stream not in self._active:
            self._active[stream] = None
            self._wake.set()

    def _deactivate(self, stream: SenderStream) -> None:
        self._active.pop(stream, None)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with open_tick_timer(FRAME) as timer:
            task_status.started()
            while True:
                if not self._active:
                    timer.disarm()
                    self._wake = trio.Event()
                    await self._wake.wait()
                anchor = trio.current_time()
                n = 0
                while self._active:
                    deadline = anchor + n * FRAME
                    await timer.wait_until(deadline)
                    now = trio.current_time()
                    if now - deadline > MAX_LAG:
                        anchor, n = now, 0
                        self.stats.reanchors += 1
                        for stream in self._active:
                            stream.counters.reanchors += 1
                    self.tick()
                    n += 1

    def tick(self) -> None:
        """Send one frame of every active stream (synchronously, never waiting)."""
        stats = self.stats
        stats.ticks += 1
        done: list[SenderStream] = []
        sent = 0
        for stream in list(self._active):
            if stream.silence_left:
                stream.silence_left -= 1
                frame = SILENCE_FRAME
                if not stream.silence_left:
                    if not stream.playing:
                        done.append(stream)
                    stream._notify_quiet()
            elif not stream.playing:
                done.append(stream)
                continue
            elif stream._count:
                at, head = stream._at, stream._head
                if at >= len(head):
                    head = stream._head = stream._chunks.popleft()
                    at = 0
                frame = head[at]
                stream._at = at + 1
                left = stream._count = stream._count - 1
                stream.sent += 1
                stream.counters.frames += 1
                if stream._waiter is not None and left <= stream._level:
                    stream._notify()
            else:
                if stream.sent:
                    stream.counters.underruns += 1
                continue
            try:
                stream._send(frame)
            except Exception as exc:  # a sink bug must not stop every stream's clock
                errors = stats.sink_errors = stats.sink_errors + 1
                if errors & (errors - 1) == 0:  # the 1st, 2nd, 4th, 8th...: no log flood
                    log.error("voice_sender_sink_failed", error=repr(exc), count=errors)
            sent += 1
        stats.frames += sent
        for stream in done:
            self._active.pop(stream, None)
