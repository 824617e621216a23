"""The emulator's gateway checked with a raw WebSocket client: it must speak Discord's protocol
(and reject what Discord rejects), or the bot's gateway tests would prove nothing."""

from __future__ import annotations

import json
import zlib
from typing import Any

import pytest
import trio
import trio_websocket

from musicbot.emulator.server import Emulator

TIMEOUT = 10
UA = [("User-Agent", "DiscordBot (https://example.invalid, 1.0)")]  # the emulator requires one


def _open(url: str) -> Any:
    return trio_websocket.open_websocket_url(url, extra_headers=UA)


async def _recv(ws: trio_websocket.WebSocketConnection) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(await ws.get_message())
    return payload


async def _send(ws: trio_websocket.WebSocketConnection, op: int, d: Any) -> None:
    await ws.send_message(json.dumps({"op": op, "d": d}))


def _identify(emu: Emulator, **over: Any) -> dict[str, Any]:
    d = {"token": emu.world.token, "intents": 129, "properties": {}, "shard": [0, 1]}
    d.update(over)
    return d


async def _close_code(ws: trio_websocket.WebSocketConnection) -> int | None:
    with pytest.raises(trio_websocket.ConnectionClosed) as info:
        while True:
            await ws.get_message()
    return info.value.reason.code if info.value.reason else None


async def _ready(emu: Emulator, ws: trio_websocket.WebSocketConnection) -> dict[str, Any]:
    hello = await _recv(ws)
    assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] == 1000
    await _send(ws, 2, _identify(emu))
    ready = await _recv(ws)
    assert (ready["op"], ready["t"], ready["s"]) == (0, "READY", 1)
    return ready


async def test_hello_identify_ready_guild_create_heartbeat(emulator: Emulator) -> None:
    with trio.fail_after(TIMEOUT):
        guild = emulator.world.add_guild("G")
        async with _open(emulator.gateway_url + "/?v=10") as ws:
            ready = await _ready(emulator, ws)
            assert ready["d"]["guilds"] == [{"id": str(guild.id), "unavailable": True}]
            assert ready["d"]["user"]["id"] == str(emulator.world.bot_user_id)
            assert ready["d"]["resume_gateway_url"] == emulator.gateway_url
            create = await _recv(ws)
            assert (create["t"], create["s"], create["d"]["id"]) == (
                "GUILD_CREATE",
                2,
                str(guild.id),
            )
            await _send(ws, 1, 2)
            assert await _recv(ws) == {"op": 11}


@pytest.mark.parametrize(
    ("first", "code"),
    [
        ({"op": 2, "d": {"token": "nope", "intents": 129, "properties": {}}}, 4004),
        ({"op": 2, "d": {"token": None, "intents": 129, "shard": [2, 2]}}, 4004),
        ({"op": 4, "d": {"guild_id": "1", "channel_id": None}}, 4003),
        ({"op": 5, "d": None}, 4001),
        ({"op": 3, "d": {"pad": "x" * 5000}}, 4002),
        ({"op": 2, "d": ["not", "an", "object"]}, 4002),
        ({"op": 2, "d": {"token": "x", "shard": "zero"}}, 4004),
        ([1, 2], 4002),
    ],
)
async def test_rejections_use_discords_close_codes(
    emulator: Emulator, first: Any, code: int
) -> None:
    with trio.fail_after(TIMEOUT):
        async with _open(emulator.gateway_url + "/?v=10") as ws:
            await _recv(ws)
            await ws.send_message(json.dumps(first))
            assert await _close_code(ws) == code


async def test_invalid_shard_intents_and_double_identify(emulator: Emulator) -> None:
    with trio.fail_after(TIMEOUT):
        for d, code in (
            (_identify(emulator, shard=[2, 2]), 4010),
            (_identify(emulator, intents="129"), 4013),
            (_identify(emulator, shard=["a", 1]), 4010),
            (_identify(emulator, shard=[0]), 4010),
        ):
            async with _open(emulator.gateway_url) as ws:
                await _recv(ws)
                await _send(ws, 2, d)
                assert await _close_code(ws) == code
        async with _open(emulator.gateway_url) as ws:
            await _ready(emulator, ws)
            await _send(ws, 2, _identify(emulator))
            assert await _close_code(ws) == 4005


async def test_resume_replays_missed_events_then_resumed(emulator: Emulator) -> None:
    with trio.fail_after(TIMEOUT):
        world = emulator.world
        guild = world.add_guild()
        async with _open(emulator.gateway_url) as ws:
            ready = await _ready(emulator, ws)
            await _recv(ws)  # GUILD_CREATE, seq 2
            session_id = ready["d"]["session_id"]
            await ws.aclose(code=4900)  # resumable close
        user = world.add_member(guild.id)
        world.move_member(guild.id, user.user_id, guild.voice_channel.id)  # seq 3, missed
        world.move_member(guild.id, user.user_id, None)  # seq 4, missed
        async with _open(emulator.gateway_url) as ws:
            await _recv(ws)
            await _send(ws, 6, {"token": world.token, "session_id": session_id, "seq": 2})
            got = [await _recv(ws) for _ in range(3)]
            assert [(p["t"], p["s"]) for p in got] == [
                ("VOICE_STATE_UPDATE", 3),
                ("VOICE_STATE_UPDATE", 4),
                ("RESUMED", 5),
            ]
        assert len(emulator.gateway.resumes) == 1


async def test_resume_after_a_1000_close_or_with_a_future_seq_fails(emulator: Emulator) -> None:
    with trio.fail_after(TIMEOUT):
        token = emulator.world.token
        async with _open(emulator.gateway_url) as ws:
            session_id = (await _ready(emulator, ws))["d"]["session_id"]
        async with _open(emulator.gateway_url) as ws:
            await _recv(ws)
            await _send(ws, 6, {"token": token, "session_id": session_id, "seq": 1})
            assert await _recv(ws) == {"op": 9, "d": False}  # 1000 ended the session
        async with _open(emulator.gateway_url) as ws:
            session_id = (await _ready(emulator, ws))["d"]["session_id"]
            await ws.aclose(code=4900)
        async with _open(emulator.gateway_url) as ws:
            await _recv(ws)
            await _send(ws, 6, {"token": token, "session_id": session_id, "seq": 99})
            assert await _close_code(ws) == 4007


async def test_zlib_stream_is_one_stream_per_connection(emulator: Emulator) -> None:
    with trio.fail_after(TIMEOUT):
        emulator.world.add_guild()
        url = emulator.gateway_url + "/?v=10&encoding=json&compress=zlib-stream"
        async with _open(url) as ws:
            inflate = zlib.decompressobj()

            async def recv() -> dict[str, Any]:
                raw = await ws.get_message()
                assert isinstance(raw, bytes) and raw.endswith(b"\x00\x00\xff\xff")
                payload: dict[str, Any] = json.loads(inflate.decompress(raw))
                return payload

            assert (await recv())["op"] == 10
            await _send(ws, 2, _identify(emulator))
            assert [(await recv())["t"] for _ in range(2)] == ["READY", "GUILD_CREATE"]


async def test_op4_drives_the_voice_backend(emulator: Emulator) -> None:
    with trio.fail_after(TIMEOUT):
        world = emulator.world
        guild = world.add_guild()
        async with _open(emulator.gateway_url) as ws:
            await _ready(emulator, ws)
            await _recv(ws)
            channel = str(guild.voice_channel.id)
            await _send(
                ws,
                4,
                {
                    "guild_id": str(guild.id),
                    "channel_id": channel,
                    "self_mute": False,
                    "self_deaf": True,
                },
            )
            state, server = await _recv(ws), await _recv(ws)
            assert state["t"] == "VOICE_STATE_UPDATE" and state["d"]["channel_id"] == channel
            assert state["d"]["user_id"] == str(world.bot_user_id) and state["d"]["self_deaf"]
            assert server["t"] == "VOICE_SERVER_UPDATE"
            backend_sessions = world.voice_backend.sessions  # type: ignore[attr-defined]
            _, session_id, token = backend_sessions[(guild.id, world.bot_user_id)]
            assert server["d"]["token"] == token and session_id == state["d"]["session_id"]
            await _send(ws, 4, {"guild_id": str(guild.id), "channel_id": None})
            left = await _recv(ws)
            assert left["d"]["channel_id"] is None
            assert (guild.id, world.bot_user_id) not in backend_sessions
