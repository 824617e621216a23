"""Encoding sent payloads and decoding received ones (JSON, optional zlib-stream).

Theory of ``zlib-stream``: the whole connection is one zlib stream.  Each gateway message is
flushed with ``Z_SYNC_FLUSH``, so it ends with ``00 00 ff ff``; a message may be split over
several WebSocket frames.  The client keeps *one* decompressobj per connection (the LZ77 window
spans messages), appends frames to a buffer, and inflates only when the buffer ends with the
marker.  A new connection needs a new inflater.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from musicbot.gateway.constants import MAX_PAYLOAD_BYTES, ZLIB_SUFFIX
from musicbot.gateway.errors import PayloadTooLargeError


def encode_payload(op: int, d: Any) -> str:
    """JSON text of ``{op, d}``; refuses payloads Discord would reject (close 4002)."""
    text = json.dumps({"op": op, "d": d}, separators=(",", ":"), ensure_ascii=False)
    size = len(text.encode())
    if size > MAX_PAYLOAD_BYTES:
        raise PayloadTooLargeError(op, size, MAX_PAYLOAD_BYTES)
    return text


class Inflater:
    """Per-connection zlib-stream decoder.  ``feed`` returns a message text or ``None``."""

    def __init__(self) -> None:
        self._zlib = zlib.decompressobj()
        self._buffer = bytearray()

    def feed(self, frame: bytes) -> str | None:
        self._buffer.extend(frame)
        if not self._buffer.endswith(ZLIB_SUFFIX):
            return None
        data = self._zlib.decompress(bytes(self._buffer))
        self._buffer.clear()
        return data.decode()


def decode_message(raw: str | bytes, inflater: Inflater | None) -> dict[str, Any] | None:
    """One received WebSocket message → a payload dict, or ``None`` while buffering."""
    if isinstance(raw, bytes):
        if inflater is None:
            text: str | None = raw.decode()
        else:
            text = inflater.feed(raw)
        if text is None:
            return None
    else:
        text = raw
    payload = json.loads(text)
    if not isinstance(payload, dict) or "op" not in payload:
        raise ValueError("gateway message is not a payload object")
    return payload
