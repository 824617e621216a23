"""Encoding sent payloads and decoding received ones (JSON over zlib-stream or zstd-stream).

Theory of the two transport compressions (``compress=`` in the gateway URL):

* ``zlib-stream``: the whole connection is one zlib stream.  Each gateway message is flushed
  with ``Z_SYNC_FLUSH``, so it ends with ``00 00 ff ff``; a message may be split over several
  WebSocket frames.  The client keeps *one* decompressobj per connection (the LZ77 window spans
  messages), appends frames to a buffer, and inflates only when the buffer ends with the marker.
* ``zstd-stream``: the whole connection is one zstd frame that never ends; each WebSocket
  message is one flushed block holding exactly one payload.  One decompressor per connection.

Either way a new connection needs a new decompressor.

Everything here treats the peer as hostile (issue 13): a corrupt stream, text that is not UTF-8
or not JSON, JSON nested deep enough to exhaust the recursion limit, ``NaN``/``Infinity``
literals (which Discord never sends) and a small frame that inflates to hundreds of megabytes
(a "zip bomb") all raise one typed :class:`GatewayDecodeError`.  Inflation is capped *while it
runs*: output stops at ``MAX_MESSAGE_BYTES``, the same limit a plain message has, so a
300 KB frame can never cost 300 MB.  A stream that failed once is unusable (its window is
lost), so the shard reconnects and resumes.
"""

from __future__ import annotations

import json
import zlib
from typing import IO, Any, Final, Literal, Protocol, cast

from musicbot.gateway.constants import MAX_MESSAGE_BYTES, MAX_PAYLOAD_BYTES, ZLIB_SUFFIX
from musicbot.gateway.errors import GatewayDecodeError, PayloadTooLargeError

try:  # zstd-stream when the binding is installed (the project pins it), zlib-stream otherwise
    import zstandard as _zstd
except ImportError:  # pragma: no cover
    _zstd = None  # type: ignore[assignment]

Compression = Literal["zlib-stream", "zstd-stream"]
ZSTD_AVAILABLE: Final = _zstd is not None
_CHUNK: Final = 64 * 1024  # inflate in steps of this many bytes, checking the cap between steps


def preferred_compression() -> Compression:
    """``zstd-stream`` when ``zstandard`` is importable (smaller and faster), else zlib."""
    return "zstd-stream" if ZSTD_AVAILABLE else "zlib-stream"


def encode_payload(op: int, d: Any) -> str:
    """JSON text of ``{op, d}``; refuses payloads Discord would reject (close 4002)."""
    text = json.dumps({"op": op, "d": d}, separators=(",", ":"), ensure_ascii=False)
    size = len(text.encode())
    if size > MAX_PAYLOAD_BYTES:
        raise PayloadTooLargeError(op, size, MAX_PAYLOAD_BYTES)
    return text


class Decompressor(Protocol):
    def feed(self, frame: bytes) -> bytes | None:
        """The bytes of one whole message, or ``None`` while a message is still incomplete."""


class Inflater:
    """Per-connection zlib-stream decoder."""

    def __init__(self, limit: int = MAX_MESSAGE_BYTES) -> None:
        self._zlib = zlib.decompressobj()
        self._buffer = bytearray()
        self._limit = limit

    def feed(self, frame: bytes) -> bytes | None:
        if len(self._buffer) + len(frame) > self._limit:
            raise GatewayDecodeError("compressed message over the size limit")
        self._buffer.extend(frame)
        if not self._buffer.endswith(ZLIB_SUFFIX):
            return None
        data = bytes(self._buffer)
        self._buffer.clear()
        try:
            # max_length bounds the output; one byte over the limit proves the message is too big.
            out = self._zlib.decompress(data, self._limit + 1)
        except zlib.error as exc:
            raise GatewayDecodeError(f"corrupt zlib stream: {exc}") from None
        if len(out) > self._limit or self._zlib.unconsumed_tail:
            raise GatewayDecodeError("message inflates past the size limit")
        return out


class _CappedSink:
    """Where the zstd stream writer puts output; refuses to grow past the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self.limit:
            raise GatewayDecodeError("message inflates past the size limit")
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        self.size = 0
        return out


class ZstdInflater:
    """Per-connection zstd-stream decoder: every message is one complete payload."""

    def __init__(self, limit: int = MAX_MESSAGE_BYTES) -> None:
        if _zstd is None:  # pragma: no cover - the project pins zstandard
            raise RuntimeError("zstandard is not installed")
        self._sink = _CappedSink(limit)
        # The writer decompresses as it is written to, handing the sink _CHUNK bytes at a time,
        # so the cap stops a bomb after at most one chunk past the limit.
        self._writer = _zstd.ZstdDecompressor().stream_writer(
            cast(IO[bytes], self._sink), write_size=_CHUNK
        )

    def feed(self, frame: bytes) -> bytes | None:
        try:
            self._writer.write(frame)
        except GatewayDecodeError:
            raise
        except _zstd.ZstdError as exc:
            raise GatewayDecodeError(f"corrupt zstd stream: {exc}") from None
        return self._sink.take()


def make_decompressor(compression: Compression | None) -> Decompressor | None:
    if compression is None:
        return None
    if compression == "zstd-stream":
        return ZstdInflater()
    return Inflater()


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode_message(raw: str | bytes, decompressor: Decompressor | None) -> dict[str, Any] | None:
    """One received WebSocket message → a payload dict, or ``None`` while buffering.

    Raises :class:`GatewayDecodeError` (and nothing else) for anything that is not one.
    """
    if isinstance(raw, bytes):
        data = raw if decompressor is None else decompressor.feed(raw)
        if data is None:
            return None
        if len(data) > MAX_MESSAGE_BYTES:
            raise GatewayDecodeError("message over the size limit")
        try:
            text = data.decode()
        except UnicodeDecodeError:
            raise GatewayDecodeError("message is not UTF-8") from None
    else:
        text = raw
    try:
        payload = json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise GatewayDecodeError("JSON nested too deep") from None
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, integers of > 4300 digits
        raise GatewayDecodeError(f"not JSON: {type(exc).__name__}") from None
    if not isinstance(payload, dict) or "op" not in payload:
        raise GatewayDecodeError("gateway message is not a payload object")
    return payload
