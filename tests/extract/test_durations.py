"""Durations from hosts without byte ranges: measured, not guessed; played once, to the end.

ffmpeg cannot look at the end of a file such a host serves: an Ogg file gets no duration and an
MP3 without a Xing header only a guess from its first frames' bitrate.  A seek there used to
make ffmpeg re-request the file, which the host sends from its first byte: heard twice.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import trio

from actors import extractor
from actors.extractor.messages import SingleResult
from musicbot.audio.source import FfmpegOpener, SourceRequest
from musicbot.emulator.media import NO_RANGE_PREFIX, MediaServer
from musicbot.extract.errors import ExtractionError, Reason
from musicbot.extract.probe import ffmpeg_path, probe_stream
from musicbot.models.track import Track
from tests.actors.conftest import local_config

TIMEOUT = 120
FFMPEG = ffmpeg_path("bundled")


@pytest.fixture(scope="module")
def vbr_mp3(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """8 s: a quiet sine (few bits) then noise (many): the bitrate guess says ~10 s."""
    out = tmp_path_factory.mktemp("vbr") / "vbr.mp3"
    subprocess.run(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "sine=frequency=440:duration=4",
         "-f", "lavfi", "-i", "anoisesrc=d=4:a=0.5",
         "-filter_complex", "[0][1]concat=n=2:v=0:a=1", "-ac", "2", "-ar", "48000",
         "-c:a", "libmp3lame", "-q:a", "0", "-write_xing", "0", str(out)],
        check=True, timeout=60,
    )  # fmt: skip
    return Path(out).read_bytes()


async def frames_of(track: Track, offset: float = 0.0) -> int:
    opener = FfmpegOpener(ffmpeg=FFMPEG, stall_timeout=10.0)
    count = 0
    async with opener(SourceRequest(track=track, offset=offset)) as source:
        while frames := await source.receive_frames():
            count += len(frames)
    return count


async def test_a_guessed_duration_is_measured_where_the_host_cannot_seek(
    media: MediaServer, vbr_mp3: bytes
) -> None:
    media.add("/media/vbr.mp3", vbr_mp3, "audio/mpeg")
    plain, no_range = media.url("/media/vbr.mp3"), media.url(NO_RANGE_PREFIX + "/media/vbr.mp3")
    with trio.fail_after(TIMEOUT):
        guess = await probe_stream(no_range, {}, ffmpeg=FFMPEG, timeout=20)
        async with trio.open_nursery() as nursery:
            x = await extractor.start(nursery, config=local_config())
            ranged = await x.extract(plain)
            unranged = await x.extract(no_range)
            nursery.cancel_scope.cancel()
    assert guess.estimated and guess.duration is not None and guess.duration > 9.0  # the bug
    assert isinstance(ranged, SingleResult) and ranged.track.seekable is True
    assert isinstance(unranged, SingleResult) and unranged.track.seekable is False
    assert unranged.track.duration == pytest.approx(8.0, abs=0.1)


async def test_a_file_without_ranges_plays_once_to_its_real_end(media: MediaServer) -> None:
    url = media.no_range_url("e330")  # Ogg Opus, 4 s: ffmpeg reads no duration at all
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            x = await extractor.start(nursery, config=local_config())
            result = await x.extract(url)
            nursery.cancel_scope.cancel()
        assert isinstance(result, SingleResult)
        track = result.track
        assert track.seekable is False and track.duration == pytest.approx(4.0, abs=0.1)
        assert not track.is_live
        path = NO_RANGE_PREFIX + "/media/e330.ogg"
        before = media.hits[path]
        whole = await frames_of(track)
        from_two = await frames_of(track, offset=2.0)  # a /seek 2 or a resume at 2 s
    assert whole * 0.02 == pytest.approx(4.0, abs=0.1)
    assert from_two * 0.02 == pytest.approx(2.0, abs=0.1)  # not 4 + 2 replayed, not 6
    assert media.hits[path] - before == 2  # one request each: never re-requested mid-track


async def test_a_measured_length_still_obeys_the_limit(media: MediaServer) -> None:
    cfg = local_config(limits={"max_track_seconds": 2})
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            x = await extractor.start(nursery, config=cfg)
            with pytest.raises(ExtractionError) as info:
                await x.extract(media.no_range_url("e330"))
            nursery.cancel_scope.cancel()
    assert info.value.reason is Reason.TOO_LONG
