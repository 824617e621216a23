"""The small part of ASGI that every local server here shares (the emulator's, the demo's)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Receive = Callable[[], Awaitable[Any]]
Send = Callable[[dict[str, Any]], Awaitable[Any]]


async def serve_lifespan(receive: Receive, send: Send) -> None:
    """Answer hypercorn's lifespan startup and shutdown; return once it shuts down."""
    while True:
        event = await receive()
        if event["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif event["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
