"""A scripted raw gateway on 127.0.0.1 (trio-websocket) for frames the emulator never sends.

Each accepted connection runs ``script(conn)``; the test decides every byte the bot receives.
A script that returns leaves the socket open until the bot closes it.
"""

from __future__ import annotations

import contextlib
import json
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio
import trio_websocket
import zstandard

from musicbot.config import Secret
from musicbot.gateway import GatewayDispatch, ShardManager, ShardOptions
from musicbot.gateway.codec import Compression
from tests.gateway.helpers import FAST, Collector


@attrs.define(eq=False)
class RawConn:
    ws: trio_websocket.WebSocketConnection
    path: str
    headers: dict[str, str]
    index: int
    server_url: str
    received: list[dict[str, Any]] = attrs.Factory(list)
    seq: int = 0
    _zlib: Any = None
    _zstd: Any = None

    def __attrs_post_init__(self) -> None:
        if "compress=zlib-stream" in self.path:
            self._zlib = zlib.compressobj()
        elif "compress=zstd-stream" in self.path:
            self._zstd = zstandard.ZstdCompressor().compressobj()

    def encode(self, text: str) -> str | bytes:
        """``text`` framed the way this connection asked for (compressed or not)."""
        if self._zlib is not None:
            return self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
        if self._zstd is not None:
            return self._zstd.compress(text.encode()) + self._zstd.flush(
                zstandard.COMPRESSOBJ_FLUSH_BLOCK
            )
        return text

    async def send_raw(self, message: str | bytes) -> None:
        await self.ws.send_message(message)

    async def send(self, payload: dict[str, Any]) -> None:
        await self.ws.send_message(self.encode(json.dumps(payload)))

    async def hello(self, interval_ms: float = 45_000) -> None:
        await self.send({"op": 10, "d": {"heartbeat_interval": interval_ms}})

    async def dispatch(self, t: str, d: Any) -> int:
        self.seq += 1
        await self.send({"op": 0, "t": t, "s": self.seq, "d": d})
        return self.seq

    async def ready(self, session_id: str = "sess-1") -> None:
        await self.dispatch(
            "READY",
            {
                "session_id": session_id,
                "resume_gateway_url": self.server_url,
                "user": {"id": "10"},
                "application": {"id": "10"},
                "guilds": [],
            },
        )

    async def recv(self) -> dict[str, Any]:
        payload: dict[str, Any] = json.loads(await self.ws.get_message())
        self.received.append(payload)
        return payload

    async def recv_op(self, op: int, *, ack: bool = True) -> dict[str, Any]:
        """The next payload with ``op``; heartbeats on the way are ACKed if ``ack``."""
        while True:
            payload = await self.recv()
            if payload["op"] == op:
                return payload
            if payload["op"] == 1 and ack:
                await self.send({"op": 11})

    async def serve_heartbeats(self) -> None:
        """ACK every heartbeat until the bot closes the socket."""
        with contextlib.suppress(trio_websocket.ConnectionClosed):
            while True:
                if (await self.recv())["op"] == 1:
                    await self.send({"op": 11})

    def ops(self) -> list[int]:
        return [p["op"] for p in self.received]


Script = Callable[[RawConn], Awaitable[None]]


@attrs.define(eq=False)
class RawGateway:
    script: Script
    url: str = ""
    connections: list[RawConn] = attrs.Factory(list)
    _changed: trio.Event = attrs.Factory(trio.Event)

    async def handler(self, request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        headers = {k.decode().lower(): v.decode() for k, v in request.headers}
        conn = RawConn(ws, request.path, headers, len(self.connections), self.url)
        self.connections.append(conn)
        self.notify()
        with contextlib.suppress(trio_websocket.ConnectionClosed):
            await self.script(conn)
            await conn.serve_heartbeats()
        self.notify()

    def notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            await self._changed.wait()


@asynccontextmanager
async def raw_gateway(script: Script) -> AsyncIterator[RawGateway]:
    gw = RawGateway(script)
    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            trio_websocket.serve_websocket, gw.handler, "127.0.0.1", 0, None
        )
        gw.url = f"ws://127.0.0.1:{server.port}"
        yield gw
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def bot_on(
    gw: RawGateway,
    *,
    compress: bool | Compression = False,
    options: ShardOptions = FAST,
    buffer: int = 16,
    collect: bool = True,
) -> AsyncIterator[tuple[ShardManager, Collector, trio.MemoryReceiveChannel[GatewayDispatch]]]:
    """A real ShardManager on ``gw``.  With ``collect=False`` nobody reads the router channel
    until the test does (a router that is slow to take dispatches)."""
    send, receive = trio.open_memory_channel[GatewayDispatch](buffer)
    manager = ShardManager(
        token=Secret("raw-gateway-token-value"),
        events=send,
        get_gateway_bot=None,
        shard_count=1,
        gateway_url=gw.url,
        compress=compress,
        options=options,
        identify_window=0.01,
    )
    collector = Collector()
    async with trio.open_nursery() as nursery:
        if collect:
            nursery.start_soon(collector.run, receive)
        await nursery.start(manager.run)
        yield manager, collector, receive
        nursery.cancel_scope.cancel()
