"""A scripted HTTP/1.1 server on 127.0.0.1 for answers the emulator does not give.

``answers`` is consumed in order, one per request: ``(status, headers, body bytes)``; when it is
empty every request gets ``200 {}``.  Each request is recorded with the trio clock's time.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import h11
import trio

Answer = tuple[int, dict[str, str], bytes]


def json_answer(status: int, body: Any, **headers: str) -> Answer:
    hs = {
        "content-type": "application/json",
        **{k.replace("_", "-"): v for k, v in headers.items()},
    }
    return status, hs, json.dumps(body).encode()


@attrs.define(eq=False)
class Seen:
    method: str
    target: str
    time: float


@attrs.define(eq=False)
class EdgeServer:
    answers: list[Answer] = attrs.Factory(list)
    seen: list[Seen] = attrs.Factory(list)
    port: int = 0
    _changed: trio.Event = attrs.Factory(trio.Event)

    async def wait_seen(self, n: int) -> None:
        while len(self.seen) < n:
            await self._changed.wait()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    async def _serve_one(self, stream: trio.SocketStream) -> None:
        conn = h11.Connection(h11.SERVER)
        async with stream:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await stream.receive_some(65536)
                    if not data:
                        return
                    conn.receive_data(data)
                    continue
                if isinstance(event, h11.Request):
                    request = event
                    while not isinstance(part := conn.next_event(), h11.EndOfMessage):
                        if part is h11.NEED_DATA:
                            conn.receive_data(await stream.receive_some(65536))
                    self.seen.append(
                        Seen(request.method.decode(), request.target.decode(), trio.current_time())
                    )
                    self._changed.set()
                    self._changed = trio.Event()
                    status, headers, body = (
                        self.answers.pop(0) if self.answers else json_answer(200, {})
                    )
                    hs = [(k, v) for k, v in headers.items()]
                    hs.append(("content-length", str(len(body))))
                    await stream.send_all(conn.send(h11.Response(status_code=status, headers=hs)))
                    await stream.send_all(conn.send(h11.Data(data=body)))
                    await stream.send_all(conn.send(h11.EndOfMessage()))
                    conn.start_next_cycle()
                    continue
                return


@asynccontextmanager
async def edge_server(answers: list[Answer]) -> AsyncIterator[EdgeServer]:
    server = EdgeServer(list(answers))
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            functools.partial(trio.serve_tcp, server._serve_one, 0, host="127.0.0.1")
        )
        server.port = listeners[0].socket.getsockname()[1]
        yield server
        nursery.cancel_scope.cancel()
