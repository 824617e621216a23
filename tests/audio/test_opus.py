from __future__ import annotations

from pathlib import Path

import pytest

from musicbot.audio.ogg import OggOpusDemuxer
from musicbot.audio.opus import packet_samples
from musicbot.models.media import SILENCE_FRAME
from tests.audio.helpers import make_media


@pytest.mark.parametrize(
    ("packet", "samples"),
    [
        (SILENCE_FRAME, 960),  # config 31 (CELT 20 ms), one frame
        (bytes([0xFC]), 960),  # stereo CELT 20 ms
        (bytes([(29 << 3) | 1, 0]), 480),  # CELT 5 ms, two frames
        (bytes([(3 << 3) | 3, 3]), 3 * 2880),  # SILK 60 ms, three frames (code 3)
        (bytes([(13 << 3) | 0]), 960),  # hybrid 20 ms
        (bytes([(11 << 3) | 3]), 0),  # code 3 without its count byte
        (b"", 0),
    ],
)
def test_packet_samples(packet: bytes, samples: int) -> None:
    assert packet_samples(packet) == samples


@pytest.mark.parametrize(("frame_ms", "kind"), [(20, "opus-ogg"), (60, "opus60-ogg")])
def test_real_encoder_frame_sizes(tmp_path: Path, frame_ms: int, kind: str) -> None:
    path = make_media(tmp_path / "x.ogg", codec=kind, seconds=1.0)
    demux = OggOpusDemuxer()
    packets = demux.feed(path.read_bytes())
    assert packets and all(packet_samples(p) == 48 * frame_ms for p in packets)
