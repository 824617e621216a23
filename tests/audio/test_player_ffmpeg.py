"""The player with the real ffmpeg source (real clock, short tracks)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest
import trio

from musicbot.audio.messages import EndReason, PlayerEvent, TrackEnded, TrackStarted
from musicbot.audio.opus import packet_samples
from musicbot.audio.player import (
    PlayerHandle,
    PlayerStats,
    open_player_channel,
    run_player,
    start_player,
)
from musicbot.audio.source import FfmpegOpener, FfmpegSource, SourceRequest
from musicbot.models.media import SILENCE_FRAME
from musicbot.models.track import Track
from musicbot.voice.sender import VoiceSender
from tests.audio.helpers import (
    FFMPEG,
    MemorySink,
    decode_to_pcm,
    dominant_frequency,
    make_media,
    mux_ogg,
)


class RecordingOpener:
    """The real opener, remembering every ffmpeg pid it started."""

    def __init__(self) -> None:
        self.inner = FfmpegOpener(ffmpeg=FFMPEG, trusted_local=True)
        self.pids: list[int] = []

    def __call__(self, request: SourceRequest) -> AbstractAsyncContextManager[FfmpegSource]:
        return self._open(request)

    @asynccontextmanager
    async def _open(self, request: SourceRequest) -> AsyncIterator[FfmpegSource]:
        async with self.inner(request) as source:
            self.pids.append(source.pid)
            yield source


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def wait_event(events: trio.MemoryReceiveChannel[PlayerEvent], kind: type) -> PlayerEvent:
    while True:
        event = await events.receive()
        if isinstance(event, kind):
            return event


async def test_seek_skip_and_cancel_with_real_ffmpeg(tmp_path: Path) -> None:
    path = make_media(tmp_path / "stepped.ogg", codec="opus-ogg", seconds=8.0, stepped=True)
    song = Track(title="s", webpage_url="https://e/s", stream_url=str(path), codec="opus")
    opener = RecordingOpener()
    sink = MemorySink()
    send, receive = open_player_channel()
    ev_send, ev_receive = trio.open_memory_channel[PlayerEvent](16)
    handle = PlayerHandle(send, PlayerStats())
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            sender = VoiceSender()
            await nursery.start(sender.run)
            nursery.start_soon(
                lambda: run_player(receive, sink=sink, clock=sender, events=ev_send, opener=opener)
            )
            await handle.play(song)
            await wait_event(ev_receive, TrackStarted)
            await trio.sleep(0.2)
            await handle.seek(4.0)
            before = len(sink.frames)
            await trio.sleep(0.6)
            after = [f for _, f in sink.frames[before + 1 :]]
            pcm = decode_to_pcm(mux_ogg(after))
            # 4 s into a tone of 200 Hz + 100 Hz per second: 600 Hz.
            assert dominant_frequency(pcm[4800:19200]) == pytest.approx(600, abs=20)
            status = await handle.status()
            assert status.position == pytest.approx(4.6, abs=0.15)
            assert len(opener.pids) == 2
            await trio.sleep(0.2)
            assert not alive(opener.pids[0])  # the pre-seek ffmpeg is gone

            await handle.skip()
            ended = await wait_event(ev_receive, TrackEnded)
            assert isinstance(ended, TrackEnded) and ended.reason is EndReason.SKIPPED
            assert [f for _, f in sink.frames[-5:]] == [SILENCE_FRAME] * 5
            await handle.play(song)
            await wait_event(ev_receive, TrackStarted)
            assert len(opener.pids) == 3
            nursery.cancel_scope.cancel()
    assert not any(alive(pid) for pid in opener.pids)


async def test_60ms_opus_falls_back_to_transcode(tmp_path: Path) -> None:
    path = make_media(tmp_path / "60.ogg", codec="opus60-ogg", seconds=1.0)
    song = Track(title="s", webpage_url="https://e/s", stream_url=str(path), codec="opus")
    opener = RecordingOpener()
    sink = MemorySink()
    ev_send, ev_receive = trio.open_memory_channel[PlayerEvent](16)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            sender = VoiceSender()
            await nursery.start(sender.run)
            handle = await start_player(
                nursery, sink=sink, clock=sender, events=ev_send, opener=opener
            )
            await handle.play(song)
            ended = await wait_event(ev_receive, TrackEnded)
            assert isinstance(ended, TrackEnded) and ended.reason is EndReason.FINISHED
            nursery.cancel_scope.cancel()
    frames = [f for _, f in sink.frames if f != SILENCE_FRAME]
    assert len(opener.pids) == 2  # copy refused, then transcode
    assert 48 <= len(frames) <= 53 and all(packet_samples(f) == 960 for f in frames)
    assert ended.position == pytest.approx(len(frames) * 0.02)
