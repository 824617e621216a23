"""Test helpers: a real emulator gateway on 127.0.0.1 and a real ShardManager talking to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal

import attrs
import trio

from musicbot.config import Secret
from musicbot.emulator.gateway import GatewayServer
from musicbot.emulator.world import World
from musicbot.gateway import (
    GatewayDispatch,
    GatewayEvent,
    GatewayMetrics,
    ShardManager,
    ShardOptions,
)
from musicbot.gateway.codec import Compression

# Real time, small numbers: websockets and an autojumping MockClock do not mix.
FAST = ShardOptions(
    handshake_timeout=5.0,
    connect_timeout=5.0,
    close_timeout=1.0,
    backoff_base=0.01,
    backoff_max=0.05,
    invalid_session_delay=(0.01, 0.05),
)


@asynccontextmanager
async def emulated_gateway(
    world: World | None = None, *, heartbeat_interval: float = 1.0, split_frames: bool = False
) -> AsyncIterator[GatewayServer]:
    gw = GatewayServer(
        world or World(), heartbeat_interval=heartbeat_interval, split_frames=split_frames
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(gw.serve)
        yield gw
        nursery.cancel_scope.cancel()


@attrs.define(eq=False)
class Collector:
    """Everything the router would have received, with a wait helper (no polling)."""

    items: list[GatewayDispatch] = attrs.Factory(list)
    _changed: trio.Event = attrs.Factory(trio.Event)

    async def run(self, receive: trio.MemoryReceiveChannel[GatewayDispatch]) -> None:
        async for item in receive:
            self.items.append(item)
            self._changed.set()
            self._changed = trio.Event()

    def of(self, kind: type[Any], shard_id: int | None = None) -> list[Any]:
        return [
            d.event
            for d in self.items
            if isinstance(d.event, kind) and (shard_id is None or d.shard_id == shard_id)
        ]

    async def wait_for(self, predicate: Callable[[list[GatewayDispatch]], bool]) -> None:
        while not predicate(self.items):
            await self._changed.wait()

    async def wait_count(
        self, kind: type[GatewayEvent], n: int, shard_id: int | None = None
    ) -> None:
        await self.wait_for(lambda _: len(self.of(kind, shard_id)) >= n)


def gateway_bot_source(
    url: str,
    *,
    shards: int = 1,
    remaining: int = 1000,
    max_concurrency: int = 1,
) -> Callable[[], Any]:
    async def get_gateway_bot() -> Mapping[str, Any]:
        return {
            "url": url,
            "shards": shards,
            "session_start_limit": {
                "total": 1000,
                "remaining": remaining,
                "reset_after": 3_600_000,
                "max_concurrency": max_concurrency,
            },
        }

    return get_gateway_bot


def make_manager(
    gw: GatewayServer,
    send: trio.MemorySendChannel[GatewayDispatch],
    *,
    shards: int = 1,
    shard_count: int | Literal["auto"] = "auto",
    remaining: int = 1000,
    max_concurrency: int = 1,
    compress: bool | Compression = True,
    token: str | None = None,
    options: ShardOptions = FAST,
    identify_window: float = 0.05,
    metrics: GatewayMetrics | None = None,
) -> ShardManager:
    return ShardManager(
        token=Secret(gw.world.token if token is None else token),
        events=send,
        get_gateway_bot=gateway_bot_source(
            gw.url, shards=shards, remaining=remaining, max_concurrency=max_concurrency
        ),
        shard_count=shard_count,
        compress=compress,
        options=options,
        identify_window=identify_window,
        metrics=metrics,
    )


@asynccontextmanager
async def running_bot(
    gw: GatewayServer, **kwargs: Any
) -> AsyncIterator[tuple[ShardManager, Collector]]:
    send, receive = trio.open_memory_channel[GatewayDispatch](16)
    manager = make_manager(gw, send, **kwargs)
    collector = Collector()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(collector.run, receive)
        await nursery.start(manager.run)
        yield manager, collector
        nursery.cancel_scope.cancel()
