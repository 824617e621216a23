"""The voice sender: one clock task for every stream (MockClock, no timing assertions on the
real clock).  Streams are fed directly, as players feed them."""

from __future__ import annotations

import itertools

import pytest
import trio
import trio.testing

from musicbot.audio.player import PlayerStats
from musicbot.models.media import SILENCE_FRAME
from musicbot.voice.sender import FRAME, MAX_LAG, SenderStream, VoiceSender
from tests.audio.helpers import MemorySink, fake_frame, frame_index


async def feed(stream: SenderStream, first: int, total: int, chunk: int = 10) -> None:
    """What a player's pump does: push chunks, wait for room."""
    for start in range(first, first + total, chunk):
        stream.push([fake_frame(i) for i in range(start, min(first + total, start + chunk))])
        if stream.buffered() >= stream.capacity:
            await stream.wait_buffered_at_most(stream.capacity // 2)


def indices(sink: MemorySink) -> list[int]:
    return [frame_index(f) for _, f in sink.frames if f != SILENCE_FRAME]


async def test_many_streams_keep_their_order_on_one_grid(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sender = VoiceSender()
    sinks = [MemorySink() for _ in range(20)]
    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            await nursery.start(sender.run)
            streams = [sender.open_stream(s, PlayerStats()) for s in sinks]
            async with trio.open_nursery() as feeders:
                for k, stream in enumerate(streams):
                    feeders.start_soon(feed, stream, 1000 * k, 500 + k)
                    stream.play()
                    await trio.sleep(0.007)  # streams join at any phase of the clock
            for stream in streams:
                await stream.wait_buffered_at_most(0)
            nursery.cancel_scope.cancel()
    grid = sinks[0].frames[0][0]
    for k, sink in enumerate(sinks):
        assert indices(sink) == list(range(1000 * k, 1000 * k + 500 + k))
        for t, _ in sink.frames:
            # every packet of every stream leaves on the one clock's 20 ms grid
            assert ((t - grid) / FRAME) == pytest.approx(round((t - grid) / FRAME), abs=1e-6)
        times = [t for t, _ in sink.frames]
        assert all(b - a == pytest.approx(FRAME) for a, b in itertools.pairwise(times))
    assert sender.stats.reanchors == 0


async def test_a_stalled_stream_does_not_hold_the_others(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sender = VoiceSender()
    healthy, stalled = MemorySink(), MemorySink()
    stall_stats = PlayerStats()
    release, fed = trio.Event(), trio.Event()

    async def stalling_feed(stream: SenderStream) -> None:
        await feed(stream, 0, 50)
        await release.wait()  # its source hangs (a stuck HTTP read, a slow ffmpeg)
        await feed(stream, 50, 50)
        fed.set()

    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            await nursery.start(sender.run)
            a = sender.open_stream(healthy, PlayerStats())
            b = sender.open_stream(stalled, stall_stats)
            nursery.start_soon(feed, a, 0, 1000)
            nursery.start_soon(stalling_feed, b)
            a.play()
            b.play()
            await trio.sleep(10.0)
            # The healthy stream got a frame on every tick of those 10 s; the stalled one ran
            # dry after its first 50 and counts underruns, not delays.
            assert indices(healthy) == list(range(len(healthy.frames)))
            assert len(healthy.frames) >= 499
            assert indices(stalled) == list(range(50))
            assert stall_stats.underruns >= 400
            release.set()
            await fed.wait()
            await b.wait_buffered_at_most(0)
            assert indices(stalled) == list(range(100))
            times = [t for t, _ in healthy.frames]
            assert all(y - x == pytest.approx(FRAME) for x, y in itertools.pairwise(times))
            nursery.cancel_scope.cancel()


async def test_hold_sends_silence_keeps_the_buffer_and_play_continues(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sender = VoiceSender()
    sink = MemorySink()
    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            await nursery.start(sender.run)
            stream = sender.open_stream(sink, PlayerStats())
            stream.push([fake_frame(i) for i in range(40)])
            stream.play()
            await trio.sleep(0.2 + FRAME / 2)
            sent = stream.sent
            assert 9 <= sent <= 11
            stream.hold(silence=True)
            await stream.wait_quiet()
            assert [f for _, f in sink.frames[-5:]] == [SILENCE_FRAME] * 5
            count = len(sink.frames)
            await trio.sleep(2.0)
            assert len(sink.frames) == count  # nothing at all while held
            assert sender.active_streams == 0  # and the clock is idle
            assert stream.sent == sent
            stream.play()
            await stream.wait_buffered_at_most(0)
            assert indices(sink) == list(range(40))  # nothing lost or repeated
            # A seek: what was buffered is dropped and the count starts again.
            stream.push([fake_frame(i) for i in range(100, 140)])
            await trio.sleep(0.1)
            stream.clear()
            stream.push([fake_frame(i) for i in range(500, 510)])
            await stream.wait_buffered_at_most(0)
            got = indices(sink)[40:]
            jump = next(i for i, x in enumerate(got) if x >= 500)
            assert got[:jump] == list(range(100, 100 + jump))
            assert got[jump:] == list(range(500, 510))
            assert stream.sent == 10
            stream.close()
            await stream.wait_quiet()  # a closed stream never blocks anyone
            await stream.wait_buffered_at_most(0)
            nursery.cancel_scope.cancel()


class Hog(MemorySink):
    """Sending frame ``at`` holds the process for ``stall`` s (simulated CPU starvation)."""

    def __init__(self, clock: trio.testing.MockClock, at: int, stall: float) -> None:
        super().__init__()
        self.clock, self.at, self.stall = clock, at, stall

    def send_frame_nowait(self, opus: bytes) -> None:
        super().send_frame_nowait(opus)
        if len(self.frames) == self.at:
            self.clock.jump(self.stall)


class Broken(MemorySink):
    def send_frame_nowait(self, opus: bytes) -> None:
        raise RuntimeError("a sink bug")


async def test_starvation_reanchors_every_stream_once_and_a_broken_sink_is_contained(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sender = VoiceSender()
    hog, other = Hog(autojump_clock, 100, 0.5), MemorySink()
    stats = [PlayerStats(), PlayerStats(), PlayerStats()]
    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            await nursery.start(sender.run)
            streams = [
                sender.open_stream(sink, st)
                for sink, st in zip((hog, other, Broken()), stats, strict=True)
            ]
            async with trio.open_nursery() as feeders:
                for stream in streams:
                    feeders.start_soon(feed, stream, 0, 300)
                    stream.play()
            for stream in streams:
                await stream.wait_buffered_at_most(0)
            nursery.cancel_scope.cancel()
    assert sender.stats.reanchors == 1
    assert [s.reanchors for s in stats] == [1, 1, 1]
    assert sender.stats.sink_errors == 300  # counted, and the others kept going
    for sink in (hog, other):
        assert indices(sink) == list(range(300))
        times = [t for t, _ in sink.frames]
        # no burst: after the stall the next frame is due "now", then 20 ms apart again
        assert max(times.count(t) for t in times) <= MAX_LAG / FRAME + 1
        assert times[150] - times[149] == pytest.approx(FRAME)


class OrderedSink(MemorySink):
    """Records, per tick, the order in which the streams' frames left."""

    def __init__(self, key: int, order: list[tuple[float, int]]) -> None:
        super().__init__()
        self.key, self.order = key, order

    def send_frame_nowait(self, opus: bytes) -> None:
        super().send_frame_nowait(opus)
        self.order.append((trio.current_time(), self.key))


async def test_every_tick_sends_the_streams_in_the_same_order(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A stream keeps its place in the tick, so its offset from the tick's start never sweeps
    across the tick (at 1000 streams that sweep was 15 ms of pacing jitter)."""
    sender = VoiceSender()
    order: list[tuple[float, int]] = []
    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            await nursery.start(sender.run)
            streams = [sender.open_stream(OrderedSink(k, order), PlayerStats()) for k in range(5)]
            for stream in streams:
                stream.push([fake_frame(i) for i in range(100)])
            for stream in streams:
                stream.play()
            for stream in streams:
                await stream.wait_buffered_at_most(0)
            nursery.cancel_scope.cancel()
    ticks: dict[float, list[int]] = {}
    for at, key in order:
        ticks.setdefault(at, []).append(key)
    assert len(ticks) == 100
    assert all(keys == [0, 1, 2, 3, 4] for keys in ticks.values()), ticks


async def test_pushes_of_any_size_come_out_in_order_and_are_counted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The buffer keeps frames in small tuples; pushes that do not divide into them evenly,
    and clears in the middle of one, lose or repeat nothing."""
    sender = VoiceSender(capacity=1000)
    sink = MemorySink()
    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            await nursery.start(sender.run)
            stream = sender.open_stream(sink, PlayerStats())
            sizes = [1, 37, 3, 10, 0, 23, 120]  # 120: three tuples, the last one partial
            start = 0
            for size in sizes:
                stream.push([fake_frame(i) for i in range(start, start + size)])
                start += size
            assert stream.buffered() == sum(sizes)
            stream.play()
            await trio.sleep(FRAME * 7.5)  # seven sent: the middle of the second tuple
            assert stream.buffered() == sum(sizes) - stream.sent
            stream.clear()
            assert stream.buffered() == 0
            stream.push([fake_frame(i) for i in range(900, 913)])
            await stream.wait_buffered_at_most(0)
            nursery.cancel_scope.cancel()
    got = indices(sink)
    assert got[: len(got) - 13] == list(range(len(got) - 13))
    assert got[-13:] == list(range(900, 913))


async def test_a_cancelled_wait_for_room_leaves_the_stream_usable(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A skip cancels the feeder while it waits for room: the clock must not wake that task
    later (Trio would fail on rescheduling a task that is not parked), and the next feeder's
    wait works."""
    sender = VoiceSender()
    sink = MemorySink()
    with trio.fail_after(100):
        async with trio.open_nursery() as nursery:
            await nursery.start(sender.run)
            stream = sender.open_stream(sink, PlayerStats())
            stream.push([fake_frame(i) for i in range(stream.capacity)])
            with trio.move_on_after(0.5 * FRAME) as scope:  # held: nothing is taken
                await stream.wait_buffered_at_most(0)
            assert scope.cancelled_caught
            stream.play()  # the clock drains the buffer, past the cancelled wait's level
            while stream.buffered():
                await trio.sleep(FRAME)
            await trio.sleep(2 * FRAME)
            with trio.testing.assert_checkpoints():  # nothing to wait for: still a checkpoint
                await stream.wait_buffered_at_most(0)
            nursery.cancel_scope.cancel()
    assert indices(sink) == list(range(stream.capacity))


async def test_a_second_task_waiting_for_room_in_the_same_stream_is_refused() -> None:
    """One feeder per stream: a second waiter would silently replace the first (which would
    then never wake), so it is refused instead."""
    sender = VoiceSender()
    stream = sender.open_stream(MemorySink(), PlayerStats())
    stream.push([fake_frame(i) for i in range(stream.capacity)])  # held: nothing drains
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(stream.wait_buffered_at_most, 0)
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(trio.BusyResourceError):
                await stream.wait_buffered_at_most(0)
            stream.close()  # wakes the first waiter
