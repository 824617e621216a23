"""Reading a remote media file over HTTP in ranges, surviving drops and expired URLs.

Theory.  The file is read as a sequence of ranged GETs (``Range: bytes=a-b``, ``CHUNK`` bytes
each), the way yt-dlp reads YouTube: a server that throttles long responses serves short ones
at full speed, and every range is a fresh chance after a failure.  The reader knows its byte
position, so whatever goes wrong mid-song it resumes *at that byte*:

- a dropped or stalled connection (``httpx.TransportError``, no byte for ``stall`` seconds, a
  body shorter than its range, a 5xx) is retried with backoff, ``MAX_RETRIES`` times in a row;
- 401/403/410 mean the signed URL expired: ``refresh`` (the extractor, forced) gives a fresh
  stream URL, and the read continues at the same byte (at most ``MAX_REFRESHES`` in a row);
- a server that ignores ranges (200 to a ranged request) is read from the start, and the bytes
  before the position are dropped; 416 at a position past the end is the end.

Egress.  Requests go through ``proxy`` when set: the egress guard (musicbot.egress) re-checks
the address of every connection, redirects included (httpx follows each hop as a new request,
hence a new connect through the guard).  Without a guard (private addresses allowed, or an
operator proxy) they go where the configuration says.  Only http(s) URLs are read, and
``trust_env`` is off, so no environment variable can redirect the bot's traffic.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final

import certifi
import httpx
import structlog
import trio

from musicbot.audio.errors import SourceOpenError, SourceStalledError
from musicbot.models.track import Track

log = structlog.get_logger(__name__)

CHUNK: Final = 4 << 20  # bytes per ranged request (a 4-minute song is about 4 MB at 128 kb/s)
STALL: Final = 15.0  # seconds without a byte = the connection stalled; reconnect
MAX_RETRIES: Final = 5  # failed reconnects in a row before the source fails
MAX_REFRESHES: Final = 2  # fresh URLs in a row that are refused again before it fails
BACKOFF: Final = (0.25, 0.5, 1.0, 2.0, 4.0)
EXPIRED: Final = frozenset({401, 403, 410})
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")

_OURS: Final = frozenset({"range", "host", "connection", "accept-encoding", "proxy-authorization"})

Refresh = Callable[[Track], Awaitable[Track]]


def ssl_context() -> ssl.SSLContext:
    """One context for every stream (loading the CA bundle costs milliseconds and memory)."""
    return ssl.create_default_context(cafile=certifi.where())


def safe_headers(headers: dict[str, str]) -> dict[str, str]:
    """The extractor's headers without CR/LF tricks or hop-by-hop fields we set ourselves."""
    return {
        k: v
        for k, v in headers.items()
        if k and ":" not in k and not any(c in k + v for c in "\r\n") and k.lower() not in _OURS
    }


class RangeReader:
    """Sequential reads of ``track.stream_url`` from a byte position (see the module doc)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        track: Track,
        *,
        refresh: Refresh | None = None,
        chunk: int = CHUNK,
        stall: float = STALL,
    ) -> None:
        self.client = client
        self.track = track
        self.refresh = refresh
        self.chunk = chunk
        self.stall = stall
        self.pos = 0
        self.size: int | None = None
        self.requests = 0
        self.refreshes = 0
        self.resumes = 0
        self._response: httpx.Response | None = None
        self._body: AsyncIterator[bytes] | None = None
        self._range_end: int | None = None  # last byte of the open range (None: to the end)
        self._discard = 0  # bytes of a 200 response before ``pos`` still to drop
        self._failures = 0
        self._refused = 0

    async def aclose(self) -> None:
        response, self._response, self._body = self._response, None, None
        if response is not None:
            with trio.CancelScope(shield=True), trio.move_on_after(1.0):
                await response.aclose()

    async def seek(self, pos: int) -> None:
        if pos != self.pos or self._body is None:
            await self.aclose()
            self.pos = pos

    async def read(self) -> bytes:
        """The next bytes at ``pos`` (any amount); ``b""`` at the end of the file."""
        while True:
            if self.size is not None and self.pos >= self.size:
                await self.aclose()
                return b""
            if self._body is None and not await self._open():
                return b""
            assert self._body is not None
            try:
                with trio.fail_after(self.stall):
                    data = await self._body.__anext__()
            except StopAsyncIteration:
                await self.aclose()
                if self._range_end is not None and self.pos > self._range_end:
                    continue  # that range is done: the next one
                if self._range_end is None and self.size is None:
                    return b""  # a whole-file response without a length: its end is the end
                await self._failed("body ended early")
                continue
            except (httpx.TransportError, trio.TooSlowError) as exc:
                await self.aclose()
                await self._failed(type(exc).__name__)
                continue
            if self._discard:
                n = min(self._discard, len(data))
                self._discard -= n
                data = data[n:]
                if not data:
                    continue
            self.pos += len(data)
            self._failures = 0
            return data

    async def fetch(self, start: int, length: int) -> bytes:
        """``length`` bytes at ``start`` (fewer at the end), leaving the reader at the end."""
        await self.seek(start)
        out = bytearray()
        while len(out) < length:
            data = await self.read()
            if not data:
                break
            out += data
        return bytes(out[:length])

    async def _failed(self, why: str) -> None:
        self._failures += 1
        if self._failures > MAX_RETRIES:
            if why == "TooSlowError":
                raise SourceStalledError(self.stall)
            raise SourceOpenError("network", None, (why,))
        self.resumes += 1
        log.info("stream_resume", at=self.pos, attempt=self._failures, why=why)
        await trio.sleep(BACKOFF[min(self._failures, len(BACKOFF)) - 1])

    async def _open(self) -> bool:
        """Open a range at ``pos``; False when ``pos`` is past the end."""
        while True:
            end = self.pos + self.chunk - 1
            if self.size is not None:
                end = min(end, self.size - 1)
            headers = safe_headers(self.track.http_headers)
            headers["Range"] = f"bytes={self.pos}-{end}"
            headers["Accept-Encoding"] = "identity"  # byte positions are of the file itself
            url = self.track.stream_url
            if not url.startswith(("http://", "https://")):
                raise SourceOpenError("not_allowed")
            self.requests += 1
            try:
                with trio.fail_after(self.stall):
                    response = await self.client.send(
                        self.client.build_request("GET", url, headers=headers), stream=True
                    )
            except httpx.UnsupportedProtocol:
                raise SourceOpenError("not_allowed") from None  # e.g. a redirect to file:
            except httpx.ProxyError as exc:
                # The egress guard refused the address (or is saturated): not worth retrying.
                status = 403 if "403" in str(exc) else None
                raise SourceOpenError("http_status" if status else "network", status) from None
            except (httpx.TransportError, trio.TooSlowError) as exc:
                await self._failed(type(exc).__name__)
                continue
            except httpx.InvalidURL:
                raise SourceOpenError("not_allowed") from None
            status = response.status_code
            if status in (200, 206):
                self._refused = 0
                self._response, self._body = response, response.aiter_raw()
                if status == 206:
                    m = _CONTENT_RANGE.fullmatch(response.headers.get("content-range", ""))
                    if m is None or int(m.group(1)) != self.pos:
                        await self.aclose()
                        raise SourceOpenError("http_status", status, ("bad Content-Range",))
                    self._range_end = int(m.group(2))
                    if m.group(3) != "*":
                        self.size = int(m.group(3))
                else:
                    self._range_end = None
                    length = response.headers.get("content-length")
                    self.size = int(length) if length and length.isdigit() else None
                    self._discard = self.pos  # the server ignored the range
                return True
            await response.aclose()
            if status == 416:
                self.size = self.pos
                return False
            if status in EXPIRED and self.refresh is not None and self._refused < MAX_REFRESHES:
                self._refused += 1
                self.refreshes += 1
                log.info("stream_url_refresh", status=status, at=self.pos)
                try:
                    self.track = await self.refresh(self.track)
                except Exception as exc:  # the extractor's errors: this source cannot go on
                    raise SourceOpenError("http_status", status, (repr(exc),)) from None
                continue
            if status >= 500 or status == 429:
                await self._failed(f"HTTP {status}")
                continue
            raise SourceOpenError("http_status", status)
