"""Tiny HTTP servers on 127.0.0.1 for the egress guard tests (front, internal, echo)."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager

import attrs
import trio

from musicbot.egress import EgressGuard
from musicbot.safety import IpAddress

SECRET = b"internal-secret-token"


@attrs.define(eq=False)
class Server:
    port: int = 0
    requests: list[str] = attrs.field(factory=list)  # request lines seen

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def _read_head(stream: trio.SocketStream) -> bytes:
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = await stream.receive_some(65536)
        if not data:
            break
        buf += data
    return buf


Respond = Callable[[str], bytes]


@asynccontextmanager
async def http_server(respond: Respond) -> AsyncIterator[Server]:
    """One response per connection, built by ``respond(request_line)``; closes after it."""
    server = Server()

    async def handler(stream: trio.SocketStream) -> None:
        async with stream:
            head = await _read_head(stream)
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            server.requests.append(line)
            await stream.send_all(respond(line))

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            functools.partial(trio.serve_tcp, handler, 0, host="127.0.0.1")
        )
        server.port = listeners[0].socket.getsockname()[1]
        yield server
        nursery.cancel_scope.cancel()


def response(status: str, body: bytes = b"", *headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@asynccontextmanager
async def echo_server() -> AsyncIterator[Server]:
    server = Server()

    async def handler(stream: trio.SocketStream) -> None:
        server.requests.append("connected")
        async with stream:
            while data := await stream.receive_some(65536):
                await stream.send_all(data.upper())

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            functools.partial(trio.serve_tcp, handler, 0, host="127.0.0.1")
        )
        server.port = listeners[0].socket.getsockname()[1]
        yield server
        nursery.cancel_scope.cancel()


def ports_policy(allowed: Iterable[int]) -> Callable[[IpAddress, int], str | None]:
    """Loopback stands in for the internet: allowed ports pass, every other port is refused."""
    ok = frozenset(allowed)

    def policy(addr: IpAddress, port: int) -> str | None:
        return None if port in ok else f"test policy blocks port {port}"

    return policy


@asynccontextmanager
async def running_guard(guard: EgressGuard) -> AsyncIterator[str]:
    async with trio.open_nursery() as nursery:
        url: str = await nursery.start(guard.run)
        yield url
        nursery.cancel_scope.cancel()


def redirecting(to: Callable[[], str]) -> Respond:
    return functools.partial(_redirect, to)


def _redirect(to: Callable[[], str], line: str) -> bytes:
    return response("302 Found", b"", f"Location: {to()}")
