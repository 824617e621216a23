"""The emulator's gateway with a raw client: zstd-stream, the User-Agent rule, op 9 on RESUME."""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio
import trio_websocket
import zstandard

from musicbot.emulator.server import Emulator, open_emulator

TIMEOUT = 10
UA = [("User-Agent", "DiscordBot (https://example.invalid, 1.0)")]


def _identify(emu: Emulator) -> str:
    d = {"token": emu.world.token, "intents": 1, "properties": {}, "shard": [0, 1]}
    return json.dumps({"op": 2, "d": d})


async def test_zstd_stream_is_one_frame_per_connection(emulator: Emulator) -> None:
    with trio.fail_after(TIMEOUT):
        guild = emulator.world.add_guild("G" * 300)  # a long name: several blocks of output
        url = emulator.gateway_url + "/?v=10&encoding=json&compress=zstd-stream"
        async with trio_websocket.open_websocket_url(url, extra_headers=UA) as ws:
            inflate = zstandard.ZstdDecompressor().decompressobj()
            payloads: list[dict[str, Any]] = []
            hello_raw = await ws.get_message()
            payloads.append(json.loads(inflate.decompress(hello_raw)))
            await ws.send_message(_identify(emulator))
            while len(payloads) < 3:
                raw = await ws.get_message()
                assert isinstance(raw, bytes)
                # Each message is exactly one payload: decompressing yields a whole JSON text.
                payloads.append(json.loads(inflate.decompress(raw)))
    assert [p["op"] for p in payloads] == [10, 0, 0]
    assert [p.get("t") for p in payloads[1:]] == ["READY", "GUILD_CREATE"]
    assert payloads[2]["d"]["name"] == guild.name
    assert hello_raw[:4] == b"\x28\xb5\x2f\xfd"  # the zstd frame magic opens the stream once
    conn = emulator.gateway.connections[-1]
    assert conn.compression == "zstd-stream" and conn.user_agent == UA[0][1]


async def test_unknown_compression_is_refused(emulator: Emulator) -> None:
    with trio.fail_after(TIMEOUT):
        url = emulator.gateway_url + "/?v=10&encoding=json&compress=brotli"
        async with trio_websocket.open_websocket_url(url, extra_headers=UA) as ws:
            with pytest.raises(trio_websocket.ConnectionClosed) as closed:
                await ws.get_message()
    assert closed.value.reason.code == 4002


async def test_a_connection_without_user_agent_is_refused() -> None:
    with trio.fail_after(TIMEOUT):
        async with open_emulator(require_user_agent=True) as emu:
            url = emu.gateway_url + "/?v=10&encoding=json"
            with pytest.raises(trio_websocket.ConnectionRejected) as rejected:
                async with trio_websocket.open_websocket_url(url):
                    pass
            async with trio_websocket.open_websocket_url(url, extra_headers=UA) as ws:
                hello = json.loads(await ws.get_message())
    assert rejected.value.status_code == 400
    assert emu.gateway.refused_upgrades == ["no User-Agent"]
    assert hello["op"] == 10


@pytest.mark.parametrize("resumable", [True, False])
async def test_resume_answered_with_op9_on_demand(emulator: Emulator, resumable: bool) -> None:
    url = emulator.gateway_url + "/?v=10&encoding=json"
    with trio.fail_after(TIMEOUT):
        async with trio_websocket.open_websocket_url(url, extra_headers=UA) as ws:
            await ws.get_message()
            await ws.send_message(_identify(emulator))
            ready = json.loads(await ws.get_message())
            await ws.aclose(code=4000)  # a 1000 close would end the session
        session_id = ready["d"]["session_id"]
        emulator.gateway_faults.invalidate_next_resume(resumable=resumable)
        resume = {"token": emulator.world.token, "session_id": session_id, "seq": 1}
        answers = []
        for _ in range(2):
            async with trio_websocket.open_websocket_url(url, extra_headers=UA) as ws:
                await ws.get_message()
                await ws.send_message(json.dumps({"op": 6, "d": resume}))
                answers.append(json.loads(await ws.get_message()))
                await ws.aclose(code=4000)
    assert (answers[0]["op"], answers[0]["d"]) == (9, resumable)
    # The fault fires once: a resumable session resumes next time, a forgotten one does not.
    if resumable:
        assert (answers[1]["op"], answers[1]["t"]) == (0, "RESUMED")
    else:
        assert (answers[1]["op"], answers[1]["d"]) == (9, False)
    assert len(emulator.gateway.refused_resumes) == 1
