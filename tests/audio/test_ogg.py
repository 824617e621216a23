from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from musicbot.audio.errors import OggFormatError
from musicbot.audio.ogg import OggOpusDemuxer
from tests.audio.helpers import make_media, mux_ogg, ogg_page, opus_head

packets_st = st.lists(
    st.one_of(
        st.binary(min_size=1, max_size=400),
        # sizes around multiples of 255 are where lacing goes wrong
        st.integers(1, 4).flatmap(
            lambda k: st.integers(255 * k - 1, 255 * k + 1).map(lambda n: b"\xfc" * n)
        ),
        st.binary(min_size=3000, max_size=9000),
    ),
    min_size=0,
    max_size=60,
)


def _feed_in_chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    demux = OggOpusDemuxer()
    out: list[bytes] = []
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    for a, b in itertools.pairwise(points):
        out += demux.feed(data[a:b])
    demux.finish()
    return out


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    packets=packets_st,
    per_page=st.integers(1, 60),
    max_segments=st.integers(1, 255),
    cuts=st.lists(st.integers(0, 10**6), max_size=30),
)
def test_roundtrip_any_chunking(
    packets: list[bytes], per_page: int, max_segments: int, cuts: list[int]
) -> None:
    data = mux_ogg(packets, per_page=per_page, max_segments=max_segments)
    assert _feed_in_chunks(data, cuts) == packets


def test_byte_at_a_time_and_granule() -> None:
    packets = [bytes([i % 256]) * (i * 37 % 700 + 1) for i in range(120)]
    data = mux_ogg(packets, per_page=50)
    demux = OggOpusDemuxer()
    out: list[bytes] = []
    for i in range(len(data)):
        out += demux.feed(data[i : i + 1])
    demux.finish()
    assert out == packets
    assert demux.granule == 960 * 120


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])  # a loaded CI box
@given(packets=packets_st.filter(bool), data=st.data())
def test_truncated_input_is_a_prefix_or_a_typed_error(
    packets: list[bytes], data: st.DataObject
) -> None:
    stream = mux_ogg(packets, per_page=7, max_segments=30)
    cut = data.draw(st.integers(0, len(stream) - 1))
    demux = OggOpusDemuxer()
    got = demux.feed(stream[:cut])
    assert got == packets[: len(got)]
    try:
        demux.finish()
    except OggFormatError as exc:
        assert "truncated" in exc.reason
    else:  # a cut on a page boundary is a valid (shorter) stream
        assert sum(len(p) for p in got) <= sum(len(p) for p in packets)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])  # a loaded CI box
@given(garbage=st.binary(min_size=0, max_size=2000))
def test_garbage_raises_only_typed_errors(garbage: bytes) -> None:
    demux = OggOpusDemuxer()
    try:
        demux.feed(garbage)
        demux.finish()
    except OggFormatError:
        pass


def test_random_garbage_is_rejected_clearly() -> None:
    rng = os.urandom(4096)
    with pytest.raises(OggFormatError, match="OggS"):
        OggOpusDemuxer().feed(b"GARB" + rng)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])  # a loaded CI box
@given(flip=st.integers(0, 10**6), value=st.integers(0, 255), packets=packets_st.filter(bool))
def test_corrupted_stream_never_crashes(flip: int, value: int, packets: list[bytes]) -> None:
    stream = bytearray(mux_ogg(packets, per_page=5))
    stream[flip % len(stream)] = value
    demux = OggOpusDemuxer()
    try:
        demux.feed(bytes(stream))
        demux.finish()
    except OggFormatError:
        pass


def test_bad_version_and_not_opus() -> None:
    page = bytearray(ogg_page([len(opus_head())], opus_head(), flags=2, granule=0, seq=0))
    page[4] = 1
    with pytest.raises(OggFormatError, match="version"):
        OggOpusDemuxer().feed(bytes(page))
    vorbis = ogg_page([7], b"\x01vorbis", flags=2, granule=0, seq=0)
    with pytest.raises(OggFormatError, match="OpusHead"):
        OggOpusDemuxer().feed(vorbis)


def test_real_ffmpeg_output(tmp_path: Path) -> None:
    path = make_media(tmp_path / "a.ogg", codec="opus-ogg", seconds=2.0)
    demux = OggOpusDemuxer()
    packets = demux.feed(path.read_bytes())
    demux.finish()
    # 2 s of 20 ms frames; every packet is a CELT 20 ms frame (TOC config 31).
    assert 99 <= len(packets) <= 101
    assert all(p[0] >> 3 == 31 for p in packets)
    assert demux.granule > 2 * 48000
