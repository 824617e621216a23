"""Gapless playback and effects in the player, on a MockClock with tagged fake sources.

Each source takes ``OPEN_DELAY`` to open (what ffmpeg's start and the first HTTP bytes cost),
so a track that is only opened when the previous one has ended starts late; a preloaded one
must follow on the very next 20 ms tick, with no silence in between.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import attrs
import pytest
import trio
import trio.testing

from musicbot.audio.effects import Effects
from musicbot.audio.errors import SourceOpenError
from musicbot.audio.messages import EndReason, PositionChanged, TrackEnded, TrackStarted
from musicbot.audio.player import (
    FRAME,
    PRELOAD_AHEAD,
    PlayerHandle,
    PlayerStats,
    open_player_channel,
    run_player,
)
from musicbot.audio.source import SourceRequest
from musicbot.models.media import SILENCE_FRAME
from musicbot.models.track import Track
from musicbot.voice.sender import VoiceSender
from tests.audio.helpers import MemorySink

OPEN_DELAY = 0.3


def track(name: str, seconds: float = 10.0) -> Track:
    return Track(
        title=name,
        webpage_url=f"https://example.com/{name}",
        stream_url=f"https://media/{name}",
        duration=seconds,
        entry_id=name,
    )


def frame(tag: str, i: int) -> bytes:
    return b"\xfc" + tag.encode()[:1] + struct.pack(">I", i)


class TaggedSource:
    def __init__(self, opener: TaggedOpener, request: SourceRequest) -> None:
        self.opener, self.tag = opener, request.track.title
        self.next = round(request.offset / FRAME)
        self.total = round((request.track.duration or 0) / FRAME)

    async def receive_frames(self) -> Sequence[bytes]:
        if self.tag in self.opener.broken:
            raise SourceOpenError("http_status", 403)
        if self.next >= self.total:
            return ()
        end = min(self.total, self.next + 10)
        frames = [frame(self.tag, i) for i in range(self.next, end)]
        self.next = end
        return frames


@attrs.define
class TaggedOpener:
    opened: list[tuple[str, float, Effects]] = attrs.field(factory=list)
    broken: set[str] = attrs.field(factory=set)
    open_now: int = 0

    def __call__(self, request: SourceRequest) -> AbstractAsyncContextManager[TaggedSource]:
        return self._open(request)

    @asynccontextmanager
    async def _open(self, request: SourceRequest) -> AsyncIterator[TaggedSource]:
        self.opened.append((request.track.title, request.offset, request.effects))
        self.open_now += 1
        try:
            await trio.sleep(OPEN_DELAY)
            yield TaggedSource(self, request)
        finally:
            self.open_now -= 1


@attrs.define
class Rig:
    handle: PlayerHandle
    sink: MemorySink
    events: trio.MemoryReceiveChannel[object]
    opener: TaggedOpener

    async def next_event(self) -> object:
        with trio.fail_after(600):
            while True:
                event = await self.events.receive()
                if not isinstance(event, PositionChanged):
                    return event


@asynccontextmanager
async def player() -> AsyncIterator[Rig]:
    sink, opener = MemorySink(), TaggedOpener()
    send, receive = open_player_channel()
    ev_send, ev_receive = trio.open_memory_channel[object](16)
    sender = VoiceSender()
    async with trio.open_nursery() as nursery:
        await nursery.start(sender.run)
        await nursery.start(
            lambda task_status: run_player(
                receive,
                sink=sink,
                clock=sender,
                events=ev_send,  # type: ignore[arg-type]
                opener=opener,
                task_status=task_status,
            )
        )
        yield Rig(PlayerHandle(send, PlayerStats()), sink, ev_receive, opener)
        nursery.cancel_scope.cancel()


def seam(sink: MemorySink, first: str, second: str) -> tuple[float, list[bytes]]:
    """(time from the last frame of ``first`` to the first of ``second``, frames between)."""
    frames = sink.frames
    last = max(i for i, (_, f) in enumerate(frames) if f[1:2] == first.encode()[:1])
    start = next(i for i, (_, f) in enumerate(frames) if f[1:2] == second.encode()[:1])
    return frames[start][0] - frames[last][0], [f for _, f in frames[last + 1 : start]]


async def test_a_preloaded_track_follows_on_the_next_tick(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with player() as rig:
        a, b = track("a"), track("b")
        await rig.handle.play(a)
        await rig.handle.preload(b)
        assert isinstance(await rig.next_event(), TrackStarted)
        ended = await rig.next_event()
        assert isinstance(ended, TrackEnded)
        assert ended.reason is EndReason.FINISHED and ended.followed_by == "b"
        assert ended.position == pytest.approx(10.0)
        started = await rig.next_event()
        assert isinstance(started, TrackStarted) and started.track.entry_id == "b"
        ended_b = await rig.next_event()
        assert isinstance(ended_b, TrackEnded) and ended_b.followed_by is None
        gap, between = seam(rig.sink, "a", "b")
        assert gap == pytest.approx(FRAME, abs=1e-6)  # the very next tick
        assert between == []  # no silence frames, and speaking stayed on
        assert [s for _, s in rig.sink.speaking] == [True, False]
        # b was opened ahead, within PRELOAD_AHEAD of a's end, not at its start.
        assert [name for name, _, _ in rig.opener.opened] == ["a", "b"]
        # Every frame of both tracks went out, in order.
        sent = [f for _, f in rig.sink.frames if f != SILENCE_FRAME]
        assert sent == [frame("a", i) for i in range(500)] + [frame("b", i) for i in range(500)]


async def test_without_preload_the_next_track_starts_late(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The control for the test above: what a track costs when opened only at the end."""
    async with player() as rig:
        await rig.handle.play(track("a", 2.0))
        await rig.next_event()
        ended = await rig.next_event()
        assert isinstance(ended, TrackEnded) and ended.followed_by is None
        await rig.handle.play(track("b", 2.0))
        await rig.next_event()
        await rig.next_event()
        gap, between = seam(rig.sink, "a", "b")
        assert gap > OPEN_DELAY and between == [SILENCE_FRAME] * 5


async def test_the_preload_opens_only_near_the_end(autojump_clock: trio.testing.MockClock) -> None:
    async with player() as rig:
        await rig.handle.play(track("a", 30.0))
        await rig.handle.preload(track("b"))
        await rig.next_event()
        with trio.move_on_after(30.0 - PRELOAD_AHEAD - 2.0):
            await rig.next_event()
        assert [name for name, _, _ in rig.opener.opened] == ["a"]
        ended = await rig.next_event()
        assert isinstance(ended, TrackEnded) and ended.followed_by == "b"


async def test_a_changed_next_track_or_a_stop_drops_the_preload(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with player() as rig:
        await rig.handle.play(track("a", 3.0))
        await rig.handle.preload(track("b"))
        await rig.next_event()
        await trio.sleep(1.0)  # b is open by now (a ends within PRELOAD_AHEAD)
        assert rig.opener.open_now == 2
        await rig.handle.preload(track("c"))  # the queue changed: c follows instead
        ended = await rig.next_event()
        assert isinstance(ended, TrackEnded) and ended.followed_by == "c"
        assert [name for name, _, _ in rig.opener.opened] == ["a", "b", "c"]
        assert isinstance(await rig.next_event(), TrackStarted)
        await rig.handle.preload(track("d"))
        await rig.handle.stop()
        stopped = await rig.next_event()
        assert isinstance(stopped, TrackEnded) and stopped.reason is EndReason.STOPPED
        await trio.sleep(1.0)
        assert rig.opener.open_now == 0  # nothing left open behind the stop


async def test_a_play_of_the_preloaded_entry_uses_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A skip to the track that follows starts it at once, without opening it again."""
    async with player() as rig:
        await rig.handle.play(track("a", 4.0))
        await rig.handle.preload(track("b"))
        await rig.next_event()
        await trio.sleep(1.0)
        await rig.handle.play(track("b"))
        replaced = await rig.next_event()
        assert isinstance(replaced, TrackEnded) and replaced.reason is EndReason.REPLACED
        assert isinstance(await rig.next_event(), TrackStarted)
        assert [name for name, _, _ in rig.opener.opened] == ["a", "b"]


async def test_a_preload_that_fails_reports_when_its_turn_comes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with player() as rig:
        rig.opener.broken.add("b")
        await rig.handle.play(track("a", 2.0))
        await rig.handle.preload(track("b"))
        await rig.next_event()
        ended = await rig.next_event()
        assert isinstance(ended, TrackEnded) and ended.followed_by == "b"
        failed = await rig.next_event()
        assert isinstance(failed, TrackEnded) and failed.track.entry_id == "b"
        assert failed.reason is EndReason.FAILED and isinstance(failed.error, SourceOpenError)


async def test_effects_play_on_from_the_position_in_track_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with player() as rig:
        await rig.handle.play(track("a", 60.0))
        await rig.next_event()
        await trio.sleep(4.0 - OPEN_DELAY)
        nightcore = Effects(preset="nightcore")
        await rig.handle.set_effects(nightcore)
        await trio.sleep(4.0)
        status = await rig.handle.status()
        name, offset, effects = rig.opener.opened[-1]
        assert name == "a" and effects == nightcore
        assert offset == pytest.approx(4.0 - OPEN_DELAY, abs=0.1)  # went on from there
        # Four seconds of nightcore (less the reopen) hold 1.25 times as much of the track.
        assert status.position == pytest.approx(offset + (4.0 - OPEN_DELAY) * 1.25, abs=0.1)
        await rig.handle.set_effects(Effects())
        await trio.sleep(1.0)
        assert rig.opener.opened[-1][2] == Effects()
