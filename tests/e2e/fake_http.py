"""The HTTP/1.1 plumbing the local fake APIs share (``fake_lrclib``, ``fake_spotify``): one
request per connection, read whole, and one JSON answer with ``Connection: close``."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager

import attrs
import trio

MAX_HEAD = 65536
READ_TIMEOUT = 10.0


@attrs.frozen
class RawRequest:
    method: str
    target: str
    headers: Mapping[str, str]  # names in lower case
    body: bytes

    @property
    def host(self) -> str:
        return self.headers.get("host", "")


async def read_request(stream: trio.SocketStream) -> RawRequest | None:
    """The request on ``stream`` (its body by ``Content-Length``), or None if it closed."""
    data = b""
    with trio.move_on_after(READ_TIMEOUT):
        while b"\r\n\r\n" not in data and len(data) < MAX_HEAD:
            chunk = await stream.receive_some(4096)
            if not chunk:
                return None
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers = {
        k.strip().lower(): v.strip()
        for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)
    }
    length = int(headers.get("content-length", "0") or 0)
    with trio.move_on_after(READ_TIMEOUT):
        while len(body) < length:
            chunk = await stream.receive_some(4096)
            if not chunk:
                break
            body += chunk
    return RawRequest(method=method, target=target, headers=headers, body=body)


async def send_json(
    stream: trio.SocketStream, status: str, body: bytes, headers: Mapping[str, str] | None = None
) -> None:
    """One answer: ``status`` such as ``"200 OK"``, a JSON ``body``, extra ``headers``."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    await stream.send_all(
        (
            f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        + body
    )


@asynccontextmanager
async def serving(handler: Callable[[trio.SocketStream], Awaitable[None]]) -> AsyncIterator[int]:
    """``handler`` serving connections on 127.0.0.1; yields the port."""
    async with trio.open_nursery() as nursery:
        serve = functools.partial(trio.serve_tcp, handler, 0, host="127.0.0.1")
        listeners = await nursery.start(serve)
        yield listeners[0].socket.getsockname()[1]
        nursery.cancel_scope.cancel()
