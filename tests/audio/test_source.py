"""The ffmpeg source against the real bundled ffmpeg and a local HTTP server."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import attrs
import pytest
import trio

from musicbot.audio.errors import (
    FfmpegNotFoundError,
    SourceCrashedError,
    SourceDecodeError,
    SourceNeedsTranscodeError,
    SourceOpenError,
    SourceStalledError,
)
from musicbot.audio.ffmpeg import build_argv, choose_mode, classify_failure, resolve_ffmpeg
from musicbot.audio.ogg import OggOpusDemuxer
from musicbot.audio.opus import packet_samples
from musicbot.audio.source import FfmpegOpener, FfmpegSource, SourceRequest
from musicbot.config import build
from musicbot.models.track import Track
from tests.audio.helpers import (
    FFMPEG,
    decode_to_pcm,
    dominant_frequency,
    http_server,
    make_media,
    mux_ogg,
    rms,
)


def track(url: str, codec: str | None = None, **kw: object) -> Track:
    return Track(title="t", webpage_url="https://example.com", stream_url=url, codec=codec, **kw)  # type: ignore[arg-type]


LOCAL = FfmpegOpener(ffmpeg=FFMPEG, trusted_local=True)


async def read_all(source: FfmpegSource) -> list[bytes]:
    out: list[bytes] = []
    while frames := await source.receive_frames():
        out += frames
    return out


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    ogg = make_media(d / "tone.ogg", codec="opus-ogg", seconds=3.0)
    webm = d / "tone.webm"
    # Same packets in WebM: remuxed from the Ogg file without re-encoding.
    subprocess.run(
        [FFMPEG, "-loglevel", "error", "-i", str(ogg), "-c", "copy", "-f", "webm", str(webm)],
        check=True,
        timeout=60,
    )
    return {
        "ogg": ogg,
        "webm": webm,
        "mp3": make_media(d / "tone.mp3", codec="mp3", seconds=3.0),
        "stepped": make_media(d / "stepped.ogg", codec="opus-ogg", seconds=6.0, stepped=True),
        "stepped_mp3": make_media(d / "stepped.mp3", codec="mp3", seconds=6.0, stepped=True),
        "long": make_media(d / "long.ogg", codec="opus-ogg", seconds=60.0),
        "garbage": _write(d / "garbage.ogg", b"this is not audio\n" * 500),
    }


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def file_packets(path: Path) -> list[bytes]:
    demux = OggOpusDemuxer()
    packets = demux.feed(path.read_bytes())
    demux.finish()
    return packets


@pytest.mark.parametrize("kind", ["ogg", "webm"])
async def test_opus_sources_are_copied_bit_exact(media: dict[str, Path], kind: str) -> None:
    with trio.fail_after(20):
        req = SourceRequest(track=track(str(media[kind]), codec="opus"))
        async with LOCAL(req) as source:
            assert source.mode == "copy"
            packets = await read_all(source)
    assert packets == file_packets(media["ogg"])


async def test_opus_with_60ms_packets_is_not_copied(tmp_path: Path) -> None:
    path = make_media(tmp_path / "60.ogg", codec="opus60-ogg", seconds=2.0)
    req = SourceRequest(track=track(str(path), codec="opus"))
    with trio.fail_after(20):
        with pytest.raises(SourceNeedsTranscodeError) as info:
            async with LOCAL(req) as source:
                await read_all(source)
        assert info.value.samples == 2880
        async with LOCAL(attrs.evolve(req, transcode=True)) as source:
            assert source.mode == "transcode"
            packets = await read_all(source)
    assert 98 <= len(packets) <= 103 and all(packet_samples(p) == 960 for p in packets)


async def test_mp3_is_transcoded_to_20ms_opus(media: dict[str, Path]) -> None:
    with trio.fail_after(20):
        req = SourceRequest(track=track(str(media["mp3"]), codec="mp3"))
        async with LOCAL(req) as source:
            assert source.mode == "transcode"
            packets = await read_all(source)
    assert 148 <= len(packets) <= 153  # 3 s of 20 ms frames
    assert all(p[0] >> 3 == 31 and p[0] & 0x04 for p in packets)  # CELT FB 20 ms, stereo
    assert choose_mode(track("x", codec="opus"), volume=50) == "transcode"


@pytest.mark.parametrize("kind", ["stepped", "stepped_mp3"])
async def test_seek_starts_at_the_offset(media: dict[str, Path], kind: str) -> None:
    codec = "opus" if kind == "stepped" else "mp3"
    with trio.fail_after(20):
        req = SourceRequest(track=track(str(media[kind]), codec=codec), offset=3.0)
        async with LOCAL(req) as source:
            assert source.mode == ("copy" if codec == "opus" else "transcode")
            packets = await read_all(source)
    assert 145 <= len(packets) <= 160  # the last 3 s of 6
    pcm = decode_to_pcm(mux_ogg(packets))
    # The tone is 200 Hz + 100 Hz per second, so 3.0 s in it is 500 Hz.
    assert dominant_frequency(pcm[4800:24000]) == pytest.approx(500, abs=15)


async def test_volume_filter_scales_the_samples(media: dict[str, Path]) -> None:
    levels = []
    with trio.fail_after(20):
        for volume in (100, 25):
            req = SourceRequest(track=track(str(media["mp3"]), codec="mp3"), volume=volume)
            async with LOCAL(req) as source:
                levels.append(rms(decode_to_pcm(mux_ogg(await read_all(source)))[4800:]))
    assert levels[1] / levels[0] == pytest.approx(0.25, abs=0.04)


async def test_http_source_and_error_statuses(media: dict[str, Path]) -> None:
    opener = FfmpegOpener(ffmpeg=FFMPEG, stall_timeout=1.5)
    seen: list[dict[str, str]] = []
    headers = {"User-Agent": "musicbot-test/1", "X-Extractor": "yes"}
    with http_server(media["ogg"].parent, seen=seen) as base, trio.fail_after(30):
        req = SourceRequest(track=track(f"{base}/tone.ogg", codec="opus", http_headers=headers))
        async with opener(req) as source:
            assert await read_all(source) == file_packets(media["ogg"])
        assert seen[0]["User-Agent"] == "musicbot-test/1" and seen[0]["X-Extractor"] == "yes"
        for path, status in (("/missing.ogg", 404), ("/forbidden.ogg", 403)):
            req = SourceRequest(track=track(base + path, codec="opus"))
            with pytest.raises(SourceOpenError) as info:
                async with opener(req) as source:
                    await read_all(source)
            assert (info.value.reason, info.value.status) == ("http_status", status)
            assert any(str(status) in line for line in info.value.stderr_tail)
            assert not any("127.0.0.1" in line for line in info.value.stderr_tail)
        # A redirect cannot smuggle a local file past the protocol whitelist.
        req = SourceRequest(track=track(f"{base}/redirect-to-file"))
        with pytest.raises(SourceOpenError) as info:
            async with opener(req) as source:
                await read_all(source)
        assert info.value.reason == "not_allowed"
        req = SourceRequest(track=track(f"{base}/stall"))
        with pytest.raises(SourceStalledError):
            async with opener(req) as source:
                await read_all(source)
        req = SourceRequest(track=track(f"{base}/garbage.ogg"))
        with pytest.raises(SourceDecodeError):
            async with opener(req) as source:
                await read_all(source)


async def test_untrusted_urls_cannot_read_local_files(media: dict[str, Path]) -> None:
    opener = FfmpegOpener(ffmpeg=FFMPEG)
    for url in (str(media["ogg"]), f"file://{media['ogg']}", "-i", "pipe:0"):
        with pytest.raises(SourceOpenError) as info:
            async with opener(SourceRequest(track=track(url))):
                pass
        assert info.value.reason == "not_allowed"
    argv = build_argv(FFMPEG, track("https://a/b", http_headers={"X-A": "1", "Bad": "x\r\nY: z"}))
    assert argv[argv.index("-protocol_whitelist") + 1] == "http,https,tcp,tls,crypto"
    assert argv[argv.index("-headers") + 1] == "X-A: 1\r\n"
    assert "-reconnect" in argv and argv[argv.index("-i") + 1] == "https://a/b"


async def test_killed_ffmpeg_is_a_crash_and_cancel_reaps(media: dict[str, Path]) -> None:
    req = SourceRequest(track=track(str(media["long"]), codec="mp3"))  # transcode: slow enough
    with trio.fail_after(20):
        with pytest.raises(SourceCrashedError) as info:
            async with LOCAL(req) as source:
                assert await source.receive_frames()
                os.kill(source.pid, signal.SIGKILL)
                await read_all(source)
        assert info.value.returncode == -signal.SIGKILL
        assert not pid_alive(source.pid)

        with trio.move_on_after(0.3):
            async with LOCAL(req) as source:
                pid = source.pid
                await trio.sleep_forever()
        assert not pid_alive(pid)  # reaped, not even a zombie


def test_classify_failure_table() -> None:
    err = classify_failure(8, ["[http] HTTP error 404 Not Found"], started=False)
    assert isinstance(err, SourceOpenError) and (err.reason, err.status) == ("http_status", 404)
    assert err.stderr_tail == ("[http] HTTP error 404 Not Found",)
    err = classify_failure(1, ["Error opening input: Connection refused"], started=False)
    assert isinstance(err, SourceOpenError) and err.reason == "network"
    err = classify_failure(1, ["Invalid data found when processing input"], started=False)
    assert isinstance(err, SourceDecodeError)
    assert isinstance(classify_failure(-11, [], started=True), SourceCrashedError)
    assert isinstance(classify_failure(1, ["something odd"], started=True), SourceCrashedError)


def test_resolve_ffmpeg(tmp_path: Path) -> None:
    assert resolve_ffmpeg("bundled") == FFMPEG
    assert FfmpegOpener.from_config(build({}, environ={}).audio).ffmpeg == FFMPEG
    with pytest.raises(FfmpegNotFoundError, match="PATH"):
        resolve_ffmpeg("ffmpeg-that-does-not-exist")
    with pytest.raises(FfmpegNotFoundError, match="no such file"):
        resolve_ffmpeg(str(tmp_path / "nope"))
    plain = tmp_path / "ffmpeg"
    plain.write_text("")
    with pytest.raises(FfmpegNotFoundError, match="not executable"):
        resolve_ffmpeg(str(plain))
