from __future__ import annotations

import itertools
import json
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musicbot.gateway.codec import Inflater, decode_message, encode_payload
from musicbot.gateway.errors import GatewayDecodeError, PayloadTooLargeError


def _stream(messages: list[dict[str, object]]) -> list[bytes]:
    comp = zlib.compressobj()
    return [comp.compress(json.dumps(m).encode()) + comp.flush(zlib.Z_SYNC_FLUSH) for m in messages]


def test_zlib_stream_buffers_split_frames_and_keeps_one_window() -> None:
    msgs = [{"op": 0, "t": "X", "s": i, "d": {"text": "same words " * 50}} for i in range(1, 4)]
    chunks = _stream(msgs)
    assert len(chunks[1]) < len(chunks[0])  # the shared window makes later messages small
    inflater = Inflater()
    out = []
    for chunk in chunks:
        # Split each message into 1-byte and rest frames, the suffix in its own tiny frame.
        pieces = [chunk[:1], chunk[1:-2], chunk[-2:]]
        results = [decode_message(p, inflater) for p in pieces]
        assert results[:2] == [None, None]
        out.append(results[2])
    assert out == msgs


def test_a_fresh_inflater_cannot_read_the_middle_of_a_stream() -> None:
    chunks = _stream([{"op": 11}, {"op": 11, "d": "again"}])
    with pytest.raises(GatewayDecodeError):
        Inflater().feed(chunks[1] + b"")  # needs the dictionary of the first message


def test_plain_text_and_bytes_without_compression() -> None:
    assert decode_message('{"op": 10, "d": {}}', None) == {"op": 10, "d": {}}
    assert decode_message(b'{"op": 11}', None) == {"op": 11}
    with pytest.raises(GatewayDecodeError):
        decode_message("[1, 2]", None)


def test_encode_refuses_payloads_over_4096_bytes() -> None:
    ok = encode_payload(3, {"s": "x" * 4000})
    assert len(ok.encode()) <= 4096
    with pytest.raises(PayloadTooLargeError) as info:
        encode_payload(3, {"s": "é" * 2100})  # 2 bytes each in UTF-8: bytes count, not chars
    assert info.value.size > 4096 and info.value.limit == 4096 and info.value.op == 3


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 10_000), max_size=6), st.integers(1, 5))
def test_any_frame_split_decodes_the_same_messages(cuts: list[int], count: int) -> None:
    msgs = [{"op": 0, "s": i, "d": {"x": "y" * (i * 37)}} for i in range(count)]
    stream = b"".join(_stream(msgs))
    ends = {len(b"".join(_stream(msgs[: i + 1]))) for i in range(count)}
    points = sorted({c % (len(stream) + 1) for c in cuts} | ends | {0})
    frames = [stream[a:b] for a, b in itertools.pairwise(points) if b > a]
    inflater = Inflater()
    out = [m for f in frames if (m := decode_message(f, inflater)) is not None]
    assert out == msgs
