"""A local stand-in for LRCLIB's search API (``GET /api/search?q=…``), on 127.0.0.1.

It answers from a table of records keyed by the exact query, records every request it gets
(method, target, Host), and can be switched to answer ``302`` towards another address, to
show the bot never follows a redirect off the configured host.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import trio

from tests.e2e.fake_http import read_request, send_json, serving


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
            raw = await read_request(stream)
            if raw is None:
                return
            method, target, host = raw.method, raw.target, raw.host
            self.requests.append(Request(method=method, target=target, host=host))
            extra: dict[str, str] = {}
            if self.redirect_to:
                status, body, extra = "302 Found", b"", {"Location": self.redirect_to}
            elif urlsplit(target).path != "/api/search":
                status, body = "404 Not Found", b"{}"
            else:
                found = self.records.get(Request(method, target, host).query, [])
                status, body = "200 OK", json.dumps(found).encode()
            await send_json(stream, status, body, extra)


@asynccontextmanager
async def fake_lrclib(records: Mapping[str, list[dict[str, Any]]]) -> AsyncIterator[FakeLrclib]:
    fake = FakeLrclib(records=records)
    async with serving(fake._serve) as port:
        fake.port = port
        yield fake
