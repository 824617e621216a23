"""The in-process Opus source over a real local HTTP server: ranged reads, seeking through the
WebM Cues, an URL that expires mid-song (403, refresh, resume at the byte), a dropped
connection, and the fallback to ffmpeg for what it cannot copy."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
import trio

from musicbot.audio.direct import DirectOpener, DirectOpusSource
from musicbot.audio.errors import SourceNeedsTranscodeError, SourceOpenError
from musicbot.audio.messages import EndReason, PlayerEvent, TrackEnded
from musicbot.audio.ogg import OggOpusDemuxer
from musicbot.audio.player import start_player
from musicbot.audio.source import FfmpegOpener, FrameSource, SourceRequest
from musicbot.audio.webm import WebmOpusDemuxer
from musicbot.models.media import SILENCE_FRAME
from musicbot.models.track import Track
from musicbot.voice.sender import VoiceSender
from tests.audio.helpers import FFMPEG, MemorySink, make_media
from tests.audio.rangeserver import Behaviour, range_server
from tests.audio.test_webm import ffmpeg_packets, make_webm

CHUNK = 32 * 1024  # small ranges, so a 12 s file takes several requests


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes]]:
    d = tmp_path_factory.mktemp("direct")
    make_webm(d / "song.webm")  # Cues at the end: a seek must fetch them by range
    make_webm(d / "short.webm", seconds=2.0)
    make_webm(d / "next.webm", seconds=6.0)  # three of CHUNK's ranges
    make_media(d / "long.ogg", codec="opus-ogg", seconds=60.0, stepped=True)
    make_media(d / "song.ogg", codec="opus-ogg", seconds=6.0)
    (d / "song.mp3").write_bytes(make_media(d / "x.mp3", codec="mp3", seconds=1.0).read_bytes())
    return d, ffmpeg_packets(d / "song.webm")


def track(base: str, name: str, sig: str = "1", codec: str = "opus") -> Track:
    return Track(
        title=name, webpage_url=f"{base}/{name}", stream_url=f"{base}/{name}?sig={sig}", codec=codec
    )


async def read_all(source: FrameSource) -> list[bytes]:
    out: list[bytes] = []
    while frames := await source.receive_frames():
        out += frames
    return out


def opener(**kw: object) -> DirectOpener:
    fallback = FfmpegOpener(ffmpeg=FFMPEG)
    return DirectOpener(fallback=fallback, chunk=CHUNK, stall=5.0, **kw)  # type: ignore[arg-type]


async def test_whole_webm_in_ranges_matches_ffmpeg(media: tuple[Path, list[bytes]]) -> None:
    d, reference = media
    b = Behaviour()
    with range_server(d, b) as base, trio.fail_after(30):
        async with opener()(SourceRequest(track=track(base, "song.webm"))) as source:
            assert isinstance(source, DirectOpusSource) and source.container == "webm"
            assert await read_all(source) == reference
    size = (d / "song.webm").stat().st_size
    assert len(b.ranges) >= size // CHUNK and set(b.statuses) == {206}
    assert b.ranges[0] == (0, CHUNK - 1)


async def test_seek_uses_the_cues_and_skips_the_download(media: tuple[Path, list[bytes]]) -> None:
    d, reference = media
    b = Behaviour()
    with range_server(d, b) as base, trio.fail_after(30):
        request = SourceRequest(track=track(base, "song.webm"), offset=9.0)
        async with opener()(request) as source:
            got = await read_all(source)
    first = reference.index(got[0])
    assert abs(first * 0.02 - 9.0) <= 0.021 and got == reference[first:]
    data = (d / "song.webm").read_bytes()
    index = WebmOpusDemuxer()
    index.feed(data)
    cluster = index.cluster_for(9 * 10**9)
    assert index.segment_start is not None and index.cues_position is not None
    cues = index.segment_start + index.cues_position
    assert cluster is not None and cluster > CHUNK
    # the head (one range), the Cues near the end, then from the cluster before 9 s: the
    # bytes between the head and that cluster were never asked for
    starts = [start for start, _ in b.ranges]
    assert starts[:3] == [0, cues, cluster]
    assert all(start >= cluster for start in starts[2:])


async def test_expired_url_mid_song_refreshes_and_resumes_at_the_byte(
    media: tuple[Path, list[bytes]],
) -> None:
    d, reference = media
    b = Behaviour(expire_after=100_000)
    refreshed: list[Track] = []

    async def refresh(old: Track) -> Track:
        refreshed.append(old)
        return attrs.evolve(old, stream_url=old.stream_url.replace("sig=1", "sig=2"))

    with range_server(d, b) as base, trio.fail_after(30):
        async with opener(refresh=refresh)(SourceRequest(track=track(base, "song.webm"))) as s:
            got = await read_all(s)
    assert got == reference  # nothing lost, nothing repeated
    assert len(refreshed) == 1 and 403 in b.statuses
    # the first range after the refresh starts where the cut connection stopped
    after = b.statuses.index(403)
    resumed_at = b.ranges[after - 1 + 1][0] if len(b.ranges) > after else None
    assert resumed_at is not None and 90_000 <= resumed_at <= 100_000
    assert b.served == (d / "song.webm").stat().st_size  # every byte served exactly once


async def test_dropped_connection_resumes_and_ranges_ignored(
    media: tuple[Path, list[bytes]],
) -> None:
    d, reference = media
    b = Behaviour(drop_after=50_000)
    with range_server(d, b) as base, trio.fail_after(30):
        async with opener()(SourceRequest(track=track(base, "song.webm"))) as source:
            assert await read_all(source) == reference
        b.ignore_ranges = True  # a server that always answers 200 with the whole file
        request = SourceRequest(track=track(base, "song.ogg"), offset=2.0)
        async with opener()(request) as source:
            got = await read_all(source)
    demux = OggOpusDemuxer()
    ogg = demux.feed((d / "song.ogg").read_bytes())
    assert got == ogg[100:]  # 2 s = 100 packets dropped in order


async def test_refused_and_not_opus(media: tuple[Path, list[bytes]]) -> None:
    d, _ = media
    b = Behaviour()
    with range_server(d, b) as base, trio.fail_after(30):
        with pytest.raises(SourceOpenError) as info:
            async with opener()(SourceRequest(track=track(base, "song.webm", sig="9"))):
                pass
        assert info.value.status == 403
        with pytest.raises(SourceOpenError) as info:
            async with opener()(SourceRequest(track=track(base, "nothing.webm"))):
                pass
        assert info.value.status == 404
        # Tagged Opus but MP3 inside: refuse before the first frame, so the player transcodes.
        with pytest.raises(SourceNeedsTranscodeError):
            async with opener()(SourceRequest(track=track(base, "song.mp3"))):
                pass


async def test_player_copies_in_process_and_falls_back_to_ffmpeg(
    media: tuple[Path, list[bytes]],
) -> None:
    d, _ = media
    reference = ffmpeg_packets(d / "short.webm")
    b = Behaviour()
    sink = MemorySink()
    ev_send, ev_receive = trio.open_memory_channel[PlayerEvent](16)
    with range_server(d, b) as base, trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            sender = VoiceSender()
            await nursery.start(sender.run)
            handle = await start_player(
                nursery, sink=sink, clock=sender, events=ev_send, opener=opener()
            )
            await handle.play(track(base, "short.webm"))
            while not isinstance(ended := await ev_receive.receive(), TrackEnded):
                pass
            assert ended.reason is EndReason.FINISHED
            frames = [f for _, f in sink.frames if f != SILENCE_FRAME]
            assert frames == reference
            # MP3 (and any volume but 100 %) still goes through ffmpeg.
            await handle.play(track(base, "song.mp3", codec="mp3"))
            while not isinstance(ended := await ev_receive.receive(), TrackEnded):
                pass
            assert ended.reason is EndReason.FINISHED and ended.position > 0.9
            nursery.cancel_scope.cancel()


async def test_a_url_that_goes_bad_between_preload_and_play_is_refreshed_and_resumed(
    media: tuple[Path, list[bytes]],
) -> None:
    """Gapless: the next track is opened and its first second read while the current one
    plays; its signed URL expires before its turn.  When it plays, the next range is refused
    (403), the URL is refreshed, and it goes on from the byte it had reached: every frame
    once, in order, right after the current track's last."""
    d, _ = media
    short = ffmpeg_packets(d / "short.webm")
    song = ffmpeg_packets(d / "next.webm")
    b = Behaviour()
    refreshed: list[str] = []

    async def refresh(old: Track) -> Track:
        refreshed.append(old.title)
        return attrs.evolve(old, stream_url=old.stream_url.replace("sig=1", "sig=2"))

    sink = MemorySink()
    ev_send, ev_receive = trio.open_memory_channel[PlayerEvent](256)
    with range_server(d, b) as base, trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            sender = VoiceSender()
            await nursery.start(sender.run)
            handle = await start_player(
                nursery, sink=sink, clock=sender, events=ev_send, opener=opener(refresh=refresh)
            )
            await handle.play(track(base, "short.webm"))
            await handle.preload(track(base, "next.webm"))  # 2 s track: preloaded at once
            while "/next.webm" not in b.paths:
                await trio.sleep(0.01)
            b.signature = "2"  # expired while the preload waits behind its gate
            assert len(sink.frames) < len(short)  # the current track is still playing
            ends: list[TrackEnded] = []
            while len(ends) < 2:
                if isinstance(event := await ev_receive.receive(), TrackEnded):
                    ends.append(event)
            nursery.cancel_scope.cancel()
    assert ends[0].reason is EndReason.FINISHED and ends[0].followed_by is not None
    assert ends[1].reason is EndReason.FINISHED
    assert refreshed == ["next.webm"] and 403 in b.statuses
    frames = [f for _, f in sink.frames]
    audio = [f for f in frames if f != SILENCE_FRAME]
    assert audio == short + song  # nothing lost, nothing repeated, the song right after
    assert frames[: len(short) + len(song)] == short + song  # no silence between the two
    # Every byte of both files served exactly once: the refresh resumed at the byte the
    # preload and the play had reached, it did not start the next track over.
    assert b.served == sum((d / name).stat().st_size for name in ("short.webm", "next.webm"))


async def test_ogg_seek_bisects_on_granules(media: tuple[Path, list[bytes]]) -> None:
    d, _ = media
    data = (d / "long.ogg").read_bytes()
    demux = OggOpusDemuxer()
    reference = demux.feed(data)
    for target in (7.0, 31.0, 55.5):
        b = Behaviour()
        with range_server(d, b) as base, trio.fail_after(30):
            request = SourceRequest(track=track(base, "long.ogg"), offset=target)
            async with opener()(request) as source:
                got = await read_all(source)
        k = int(target / 0.02)
        assert got == reference[k:]  # exactly the packets from the target on
        # probes of 64 KiB around the file, not a download of everything before the target
        target_byte = len(data) * k // len(reference)
        asked_before = sum(end - start + 1 for start, end in b.ranges if start < target_byte)
        assert len(b.ranges) >= 4
        if target > 30:
            assert asked_before < 0.6 * target_byte
