"""The WebM demuxer on real files made by the bundled ffmpeg (Cues at the end and in front),
compared packet for packet with what ffmpeg itself copies out of the same file."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from musicbot.audio.errors import WebmFormatError, WebmNotOpusError
from musicbot.audio.ogg import OggOpusDemuxer
from musicbot.audio.webm import WebmOpusDemuxer
from tests.audio.helpers import FFMPEG


def make_webm(
    path: Path, *, seconds: float = 12.0, cues_front: bool = False, codec: str = "libopus"
) -> bytes:
    args = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"]
    # A tone plus noise: every packet differs, so a packet tells where in the file it is.
    src = f"aevalsrc=0.5*sin(2*PI*(200+100*floor(t))*t)+0.1*(random(0)-0.5):s=48000:d={seconds}"
    args += ["-i", src, "-ac", "2"]
    args += ["-c:a", codec, "-b:a", "96k"]
    if codec == "libopus":
        args += ["-frame_duration", "20"]
    if cues_front:
        args += ["-cues_to_front", "1", "-reserve_index_space", "4096"]
    subprocess.run([*args, "-f", "webm", str(path)], check=True, timeout=60)
    return path.read_bytes()


def ffmpeg_packets(path: Path) -> list[bytes]:
    """The Opus packets ffmpeg copies out of ``path`` (remuxed to Ogg, then Ogg-demuxed)."""
    ogg = subprocess.run(
        [
            FFMPEG,
            "-hide_banner",
            "-loglevel",
            "error",
            "-i",
            str(path),
            "-c:a",
            "copy",
            "-f",
            "ogg",
            "pipe:1",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    demux = OggOpusDemuxer()
    packets = demux.feed(ogg)
    demux.finish()
    return packets


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, bytes, list[bytes]]]:
    d = tmp_path_factory.mktemp("webm")
    out = {}
    for name, front in (("end", False), ("front", True)):
        path = d / f"cues-{name}.webm"
        data = make_webm(path, cues_front=front)
        out[name] = (path, data, ffmpeg_packets(path))
    return out


@pytest.mark.parametrize("name", ["end", "front"])
def test_packets_match_ffmpeg_in_any_chunking(
    files: dict[str, tuple[Path, bytes, list[bytes]]], name: str
) -> None:
    _, data, reference = files[name]
    assert len(reference) >= 595  # 12 s of 20 ms packets
    rng = random.Random(7)
    for _ in range(3):
        demux = WebmOpusDemuxer()
        got: list[bytes] = []
        pos = 0
        while pos < len(data):
            n = rng.choice((1, 3, 17, 700, 4096, 70000))
            got += demux.feed(data[pos : pos + n])
            pos += n
        demux.finish()
        assert got == reference
        assert demux.track == 1 and demux.segment_start is not None


@pytest.mark.parametrize("name", ["end", "front"])
def test_seeking_through_the_cues(
    files: dict[str, tuple[Path, bytes, list[bytes]]], name: str
) -> None:
    _, data, reference = files[name]
    head = WebmOpusDemuxer()
    head.feed(data)
    assert len(head.cues) >= 2  # ffmpeg indexes every few seconds
    for target_s in (0.0, 3.3, 7.0, 11.5):
        target = int(target_s * 1e9)
        cluster = head.cluster_for(target)
        assert cluster is not None and data[cluster : cluster + 4] == b"\x1f\x43\xb6\x75"
        demux = WebmOpusDemuxer(offset=cluster, segment_start=head.segment_start, track=head.track)
        demux.skip_until_ns = target
        got = demux.feed(data[cluster:])
        demux.finish()
        # The first packet is the one that contains the target (ffmpeg's stream starts with a
        # pre-skip of 312 samples, so packet k covers [k * 20 ms - 6.5 ms, ...)).
        first = reference.index(got[0])
        assert abs(first * 0.02 - target_s) <= 0.021
        assert got == reference[first:]


def test_truncated_file_yields_what_is_there_then_fails(
    files: dict[str, tuple[Path, bytes, list[bytes]]],
) -> None:
    _, data, reference = files["end"]
    cut = data[: len(data) * 3 // 5 + 5]
    demux = WebmOpusDemuxer()
    got = demux.feed(cut)
    assert 300 <= len(got) < len(reference) and got == reference[: len(got)]
    with pytest.raises(WebmFormatError, match="truncated"):
        demux.finish()


def test_not_opus_and_not_webm(tmp_path: Path) -> None:
    data = make_webm(tmp_path / "vorbis.webm", seconds=2.0, codec="libvorbis")
    demux = WebmOpusDemuxer()
    with pytest.raises(WebmNotOpusError):
        demux.feed(data)
    with pytest.raises(WebmFormatError):
        WebmOpusDemuxer().feed(b"\x00" * 64)
    huge = bytes.fromhex("a3") + bytes.fromhex("01") + (1 << 40).to_bytes(7, "big")
    with pytest.raises(WebmFormatError, match="too large"):
        WebmOpusDemuxer(track=1).feed(huge)
