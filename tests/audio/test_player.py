"""Player behaviour on a MockClock with an injected frame source (no ffmpeg), paced by the real
voice sender (one clock task for every stream)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import pytest
import trio
import trio.testing

from musicbot.audio.errors import SourceCrashedError
from musicbot.audio.messages import (
    EndReason,
    PlayerEvent,
    PositionChanged,
    TrackEnded,
    TrackStarted,
)
from musicbot.audio.player import (
    FRAME,
    PlayerHandle,
    PlayerStats,
    open_player_channel,
    run_player,
)
from musicbot.models.media import SILENCE_FRAME
from musicbot.models.track import Track
from musicbot.voice.sender import MAX_LAG, VoiceSender
from tests.audio.helpers import FakeOpener, MemorySink, frame_index

TRACK = Track(title="t", webpage_url="https://example.com/t", stream_url="https://x/t")


@attrs.define
class Rig:
    handle: PlayerHandle
    sink: MemorySink
    events: trio.MemoryReceiveChannel[PlayerEvent]
    stats: PlayerStats

    positions: list[float] = attrs.field(factory=list)

    async def next_event(self) -> PlayerEvent:
        """The next TrackStarted/TrackEnded; PositionChanged events are collected."""
        with trio.fail_after(4100):
            while True:
                event = await self.events.receive()
                if not isinstance(event, PositionChanged):
                    return event
                self.positions.append(event.position)


@asynccontextmanager
async def player(opener: FakeOpener, sink: MemorySink | None = None) -> AsyncIterator[Rig]:
    sink = sink or MemorySink()
    send, receive = open_player_channel()
    ev_send, ev_receive = trio.open_memory_channel[PlayerEvent](16)
    stats = PlayerStats()
    sender = VoiceSender()
    async with trio.open_nursery() as nursery:
        await nursery.start(sender.run)
        await nursery.start(
            lambda task_status: run_player(
                receive,
                sink=sink,
                clock=sender,
                events=ev_send,
                opener=opener,
                stats=stats,
                task_status=task_status,
            )
        )
        yield Rig(PlayerHandle(send, stats), sink, ev_receive, stats)
        nursery.cancel_scope.cancel()


def audio(sink: MemorySink) -> list[tuple[float, bytes]]:
    return [(t, f) for t, f in sink.frames if f != SILENCE_FRAME]


class SlowSink(MemorySink):
    """Every 7th frame costs 13 ms of (simulated) CPU: relative sleeps would drift by that."""

    def __init__(self, clock: trio.testing.MockClock) -> None:
        super().__init__()
        self.clock = clock

    def send_frame_nowait(self, opus: bytes) -> None:
        super().send_frame_nowait(opus)
        if len(self.frames) % 7 == 0:
            self.clock.jump(0.013)


async def test_no_drift_over_a_simulated_hour(autojump_clock: trio.testing.MockClock) -> None:
    total = 3600 * 50
    opener = FakeOpener(total=total, chunk=500)
    with trio.fail_after(4100):
        async with player(opener, SlowSink(autojump_clock)) as rig:
            await rig.handle.play(TRACK)
            assert isinstance(await rig.next_event(), TrackStarted)
            ended = await rig.next_event()
            assert isinstance(ended, TrackEnded) and ended.reason is EndReason.FINISHED
            assert ended.position == pytest.approx(3600.0)
            frames = audio(rig.sink)
            assert [frame_index(f) for _, f in frames] == list(range(total))
            t0 = frames[0][0]
            worst = max(abs(t - (t0 + i * FRAME)) for i, (t, _) in enumerate(frames))
            assert worst < 1e-6
            assert frames[-1][0] - t0 == pytest.approx((total - 1) * FRAME, abs=1e-6)
            assert rig.stats.reanchors == 0
            # Lossy progress: at least 5 s apart, reported when the player refills its buffer
            # (here every 10 s, the source's chunk).
            gaps = [b - a for a, b in zip(rig.positions, rig.positions[1:], strict=False)]
            assert len(rig.positions) >= 3600 // 10 - 1
            assert all(5.0 <= g <= 10.0 + 1e-9 for g in gaps)
            # Stop: five silence frames, then speaking off.
            assert rig.sink.frames[-5:] == [(t, SILENCE_FRAME) for t, _ in rig.sink.frames[-5:]]
            assert rig.sink.speaking[-1][1] is False


class StallingSink(MemorySink):
    """Sending frame 100 holds the process for ``stall`` seconds (simulated CPU starvation)."""

    def __init__(self, clock: trio.testing.MockClock, stall: float) -> None:
        super().__init__()
        self.clock, self.stall = clock, stall

    def send_frame_nowait(self, opus: bytes) -> None:
        super().send_frame_nowait(opus)
        if len(self.frames) == 100:
            self.clock.jump(self.stall)


async def test_small_lag_catches_up_on_the_grid(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with player(FakeOpener(total=300), StallingSink(autojump_clock, 0.07)) as rig:
            await rig.handle.play(TRACK)
            await rig.next_event()
            await rig.next_event()
            frames = audio(rig.sink)
            t0 = frames[0][0]
            # 3.5 frames late: the next frames go out back to back, then back on the grid.
            late = [i for i, (t, _) in enumerate(frames) if abs(t - (t0 + i * FRAME)) > 1e-9]
            assert late and max(late) < 105
            assert rig.stats.reanchors == 0


async def test_big_lag_reanchors_instead_of_bursting(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(60):
        async with player(FakeOpener(total=300), StallingSink(autojump_clock, 0.5)) as rig:
            await rig.handle.play(TRACK)
            await rig.next_event()
            await rig.next_event()
            frames = audio(rig.sink)
            times = [t for t, _ in frames]
            assert rig.stats.reanchors == 1
            burst = max(times.count(t) for t in times)
            assert burst <= MAX_LAG / FRAME + 1
            # after the re-anchor the spacing is 20 ms again
            assert times[150] - times[149] == pytest.approx(FRAME)
            assert [frame_index(f) for _, f in frames] == list(range(300))


async def test_pause_sends_silence_and_resume_continues(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(60):
        async with player(FakeOpener(total=1000)) as rig:
            await rig.handle.play(TRACK)
            await rig.next_event()
            await trio.sleep(1.0)
            await rig.handle.pause()
            await trio.sleep(0.2)
            status = await rig.handle.status()
            assert status.paused
            n_paused = len(audio(rig.sink))
            assert rig.sink.frames[-5:] == [(t, SILENCE_FRAME) for t, _ in rig.sink.frames[-5:]]
            assert rig.sink.speaking[-1][1] is False
            count = len(rig.sink.frames)
            await trio.sleep(5.0)
            assert len(rig.sink.frames) == count  # nothing at all while paused
            assert status.position == pytest.approx(n_paused * FRAME)
            await rig.handle.resume()
            await trio.sleep(1.0)
            assert rig.sink.speaking[-1][1] is True
            got = [frame_index(f) for _, f in audio(rig.sink)]
            assert got == list(range(len(got)))  # no frame lost or repeated across the pause
            assert len(got) > n_paused + 40


async def test_stop_skip_and_replace_report_reasons(
    autojump_clock: trio.testing.MockClock,
) -> None:
    opener = FakeOpener(total=10_000)
    with trio.fail_after(60):
        async with player(opener) as rig:
            for action, reason in (
                (rig.handle.stop, EndReason.STOPPED),
                (rig.handle.skip, EndReason.SKIPPED),
                (lambda: rig.handle.play(TRACK), EndReason.REPLACED),
            ):
                await rig.handle.play(TRACK)
                assert isinstance(await rig.next_event(), TrackStarted)
                await trio.sleep(0.5)
                await action()
                ended = await rig.next_event()
                assert isinstance(ended, TrackEnded)
                assert ended.reason is reason
                assert ended.position == pytest.approx(0.5, abs=0.1)
            # the replacing track started
            assert isinstance(await rig.next_event(), TrackStarted)
            await rig.handle.stop()
            ended = await rig.next_event()
            assert isinstance(ended, TrackEnded)
            await trio.testing.wait_all_tasks_blocked()
            assert opener.open_now == 0  # every source was closed


async def test_failure_mid_track_ends_as_failed_with_cause(
    autojump_clock: trio.testing.MockClock,
) -> None:
    error = SourceCrashedError(-9, ("boom",))
    with trio.fail_after(60):
        async with player(FakeOpener(total=500, fail_at=120, error=error)) as rig:
            await rig.handle.play(TRACK)
            await rig.next_event()
            ended = await rig.next_event()
            assert isinstance(ended, TrackEnded)
            assert ended.reason is EndReason.FAILED
            assert ended.error is error
            assert ended.position == pytest.approx(120 * FRAME)
            assert rig.sink.speaking[-1][1] is False


async def test_seek_and_volume_restart_the_source(
    autojump_clock: trio.testing.MockClock,
) -> None:
    opener = FakeOpener(total=5000)
    with trio.fail_after(60):
        async with player(opener) as rig:
            await rig.handle.play(TRACK)
            await rig.next_event()
            await trio.sleep(1.0)
            await rig.handle.seek(60.0)
            await trio.sleep(0.5)
            assert opener.requests[-1] == (60.0, 100)
            idx = [frame_index(f) for _, f in audio(rig.sink)]
            jump = next(i for i in range(1, len(idx)) if idx[i] != idx[i - 1] + 1)
            assert idx[jump] == 3000  # 60 s / 20 ms
            status = await rig.handle.status()
            assert status.position == pytest.approx(60.5, abs=0.05)
            await rig.handle.set_volume(50)
            await trio.sleep(0.1)
            offset, volume = opener.requests[-1]
            assert volume == 50
            assert offset == pytest.approx(60.5, abs=0.1)
            assert (await rig.handle.status()).volume == 50
            assert opener.open_now == 1


async def test_closing_the_handle_stops_and_returns(
    autojump_clock: trio.testing.MockClock,
) -> None:
    opener = FakeOpener(total=5000)
    send, receive = open_player_channel()
    ev_send, ev_receive = trio.open_memory_channel[PlayerEvent](16)
    sink = MemorySink()
    sender = VoiceSender()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await nursery.start(sender.run)
            nursery.start_soon(
                lambda: run_player(receive, sink=sink, clock=sender, events=ev_send, opener=opener)
            )
            handle = PlayerHandle(send, PlayerStats())
            await handle.play(TRACK)
            assert isinstance(await ev_receive.receive(), TrackStarted)
            await trio.sleep(0.3)
            await handle.aclose()
            ended = await ev_receive.receive()
            nursery.cancel_scope.cancel()
        assert isinstance(ended, TrackEnded) and ended.reason is EndReason.STOPPED
        assert opener.open_now == 0


async def test_commands_while_opening_and_while_paused(
    autojump_clock: trio.testing.MockClock,
) -> None:
    opener = FakeOpener(total=5000, open_delay=2.0)
    with trio.fail_after(60):
        async with player(opener) as rig:
            # Stop while the source is still opening: it ends without ever starting.
            await rig.handle.play(TRACK)
            await trio.sleep(0.5)
            await rig.handle.stop()
            ended = await rig.next_event()
            assert isinstance(ended, TrackEnded) and ended.reason is EndReason.STOPPED
            assert ended.position == 0.0 and rig.sink.frames == []
            await trio.testing.wait_all_tasks_blocked()  # the cancelled pump has cleaned up
            assert opener.open_now == 0
            # Seek while paused: stays paused, resumes from the new offset.
            await rig.handle.play(TRACK)
            assert isinstance(await rig.next_event(), TrackStarted)
            await trio.sleep(0.5)
            await rig.handle.pause()
            await rig.handle.seek(30.0)
            await trio.sleep(3.0)
            count = len(rig.sink.frames)
            status = await rig.handle.status()
            assert status.paused and status.position == 30.0
            await rig.handle.resume()
            await trio.sleep(0.2)
            # The new source opened during the pause; audio resumes at once from 30 s.
            assert len(rig.sink.frames) >= count + 9
            assert frame_index(rig.sink.frames[count][1]) == 1500  # 30 s / 20 ms
            # Play while paused replaces the paused track.
            await rig.handle.pause()
            await rig.handle.play(TRACK)
            ended = await rig.next_event()
            assert isinstance(ended, TrackEnded) and ended.reason is EndReason.REPLACED
            assert isinstance(await rig.next_event(), TrackStarted)
