"""The running bot routes user links through the egress guard unless private addresses are
allowed: the guard it starts refuses loopback at connect time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from musicbot.app import App, serve
from musicbot.emulator.server import open_emulator


async def _connect_via(proxy_url: str, target: str) -> bytes:
    host, port = proxy_url.removeprefix("http://").split(":")
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        await stream.send_all(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        return await stream.receive_some(4096)


async def _bot_egress(tmp_path: Path, extractor: dict[str, Any]) -> tuple[str | None, bytes]:
    async with open_emulator() as emu:
        cfg = emu.bot_config({"extractor": extractor, "storage": {"data_dir": str(tmp_path)}})
        async with trio.open_nursery() as nursery:
            app: App = await nursery.start(serve, cfg)
            answer = b""
            if app.egress_url is not None:
                gateway = emu.gateway_url.removeprefix("ws://").split("/")[0]
                answer = await _connect_via(app.egress_url, gateway)
            app.request_stop()
    return app.egress_url, answer


async def test_default_config_runs_the_guard_and_it_refuses_loopback(tmp_path: Path) -> None:
    with trio.fail_after(30):
        url, answer = await _bot_egress(tmp_path, {})
    assert url is not None and url.startswith("http://127.0.0.1:")
    assert answer.startswith(b"HTTP/1.1 403")


async def test_no_guard_when_private_addresses_are_allowed_or_a_proxy_is_set(
    tmp_path: Path,
) -> None:
    with trio.fail_after(30):
        allowed, _ = await _bot_egress(tmp_path, {"allow_private_addresses": True})
        proxied, _ = await _bot_egress(tmp_path, {"proxy": "http://127.0.0.1:9"})
    assert allowed is None and proxied is None
