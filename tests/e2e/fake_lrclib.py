"""A local stand-in for LRCLIB's search API (``GET /api/search?q=…``), on 127.0.0.1.

It answers from a table of records keyed by the exact query, records every request it gets
(method, target, Host), and can be switched to answer ``302`` towards another address, to
show the bot never follows a redirect off the configured host.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import trio


@attrs.define
class Request:
    method: str
    target: str
    host: str

    @property
    def query(self) -> str:
        return parse_qs(urlsplit(self.target).query).get("q", [""])[0]


@attrs.define
class FakeLrclib:
    records: Mapping[str, list[dict[str, Any]]]
    port: int = 0
    requests: list[Request] = attrs.field(factory=list)
    redirect_to: str = ""  # when set, every answer is a 302 there

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    async def _serve(self, stream: trio.SocketStream) -> None:
        async with stream:
            head = b""
            with trio.move_on_after(10):
                while b"\r\n\r\n" not in head and len(head) < 65536:
                    chunk = await stream.receive_some(4096)
                    if not chunk:
                        return
                    head += chunk
            lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            method, target, _version = lines[0].split(" ", 2)
            fields = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
            host = next((v.strip() for k, v in fields.items() if k.lower() == "host"), "")
            self.requests.append(Request(method=method, target=target, host=host))
            if self.redirect_to:
                status, body, extra = "302 Found", b"", f"Location: {self.redirect_to}\r\n"
            elif urlsplit(target).path != "/api/search":
                status, body, extra = "404 Not Found", b"{}", ""
            else:
                found = self.records.get(Request(method, target, host).query, [])
                status, body, extra = "200 OK", json.dumps(found).encode(), ""
            await stream.send_all(
                (
                    f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                ).encode()
                + body
            )


@asynccontextmanager
async def fake_lrclib(records: Mapping[str, list[dict[str, Any]]]) -> AsyncIterator[FakeLrclib]:
    fake = FakeLrclib(records=records)
    async with trio.open_nursery() as nursery:
        serve = functools.partial(trio.serve_tcp, fake._serve, 0, host="127.0.0.1")
        listeners = await nursery.start(serve)
        fake.port = listeners[0].socket.getsockname()[1]
        yield fake
        nursery.cancel_scope.cancel()
