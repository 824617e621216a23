"""The page's server on its own (an emulator, no bot): what the page sends becomes the
interaction Discord would dispatch, and bad requests get a 4xx and change nothing."""

from __future__ import annotations

import json
import types
from collections.abc import AsyncIterator

import httpx
import pytest
import trio
import trio.testing

from musicbot.demo.stream import OggOpusWriter, catch_up
from musicbot.demo.web import DemoWeb, open_web_server
from musicbot.emulator.server import open_emulator
from musicbot.emulator.world import demo_world
from musicbot.models.media import SILENCE_FRAME


@pytest.fixture
async def page() -> AsyncIterator[tuple[DemoWeb, httpx.AsyncClient]]:
    world, guild, _dj = demo_world()
    async with open_emulator(world=world) as emu:
        web = DemoWeb(
            emu=emu,
            guild_id=guild.id,
            text_channel=guild.text_channel.id,
            voice_channel=guild.voice_channel.id,
            listener=types.SimpleNamespace(frames=[]),  # type: ignore[arg-type]
            demo_links=[("Morning Walk", "http://127.0.0.1:1/page/morning-walk.html")],
        )
        async with open_web_server(web), httpx.AsyncClient(base_url=web.url) as client:
            yield web, client


async def test_commands_become_interactions_and_bad_requests_change_nothing(
    page: tuple[DemoWeb, httpx.AsyncClient],
) -> None:
    web, client = page
    with trio.fail_after(30):
        state = (await client.get("/api/state")).json()
        assert [m["name"] for m in state["members"]] == ["Alex", "Sam", "Linh"]
        assert any(c["name"] == "play" for c in state["commands"])
        linh = state["members"][2]["id"]
        before = dict(web.emu.world.interactions)
        for body, status, reason in (
            (b"{not json", 400, "not JSON"),
            (b"[1, 2]", 400, "JSON object"),
            (json.dumps({"member": "42", "line": "/ping"}).encode(), 404, "no such member"),
            (json.dumps({"member": linh, "line": "/nope"}).encode(), 400, "unknown command"),
            (json.dumps({"member": linh, "line": "/volume loud"}).encode(), 400, "number"),
            (b"{" + b" " * 70_000 + b"}", 413, "too large"),
        ):
            answer = await client.post("/api/command", content=body)
            assert answer.status_code == status and reason in answer.json()["error"]
        answer = await client.post(
            "/api/component", json={"member": linh, "custom_id": "np:skip", "message_id": "1"}
        )
        assert answer.status_code == 404
        assert web.emu.world.interactions == before  # nothing was dispatched
        for path in ("/../../etc/passwd", "/static/../web.py", "/api/nothing"):
            assert (await client.get(path)).status_code == 404

        # A Vietnamese command name, as Linh: Discord's canonical names in the interaction.
        answer = await client.post("/api/command", json={"member": linh, "line": "/âm-lượng 50"})
        record = web.emu.world.interactions[int(answer.json()["interaction"])]
        assert record.user_id == int(linh)
        assert record.payload["locale"] == "vi"
        assert record.payload["data"]["name"] == "volume"
        assert record.payload["data"]["options"] == [{"name": "percent", "type": 4, "value": 50}]


async def test_messages_long_poll_and_ephemeral_ones_name_who_sees_them(
    page: tuple[DemoWeb, httpx.AsyncClient],
) -> None:
    web, client = page
    rest = web.emu.rest
    assert rest is not None
    with trio.fail_after(30):
        first = (await client.get("/api/messages")).json()
        assert first["messages"] == []
        assert {v["name"] for v in first["voice"]} == {"Alex", "Sam", "Linh"}
        sam = next(m for m in web.members() if m["name"] == "Sam")["id"]
        answer = await client.post("/api/command", json={"member": sam, "line": "/volume 10"})
        record = web.emu.world.interactions[int(answer.json()["interaction"])]

        async def reply() -> None:
            await trio.testing.wait_all_tasks_blocked()
            # The bot's answer, as its REST call would make it: an ephemeral reply.
            async with httpx.AsyncClient() as bot:
                await bot.post(
                    f"{web.emu.api_base}/interactions/{record.id}/{record.token}/callback",
                    json={"type": 4, "data": {"content": "DJ only", "flags": 64}},
                )

        async with trio.open_nursery() as nursery:
            nursery.start_soon(reply)
            polled = (await client.get(f"/api/messages?after={first['version']}")).json()
            while not polled["messages"]:
                polled = (await client.get(f"/api/messages?after={polled['version']}")).json()
        (message,) = polled["messages"]
        assert message["content"] == "DJ only"
        assert message["visible_to"] == sam
        assert message["invoker"] == {"id": sam, "name": "Sam", "command": "volume"}


def test_the_live_stream_fills_silence_and_passes_frames_through() -> None:
    writer = OggOpusWriter()
    header = writer.header()
    assert header.startswith(b"OggS") and b"OpusHead" in header and b"OpusTags" in header
    quiet, made_up = catch_up(writer, [], elapsed=0.1)
    assert quiet == b"" and made_up == 0  # a short gap is not filled yet
    filled, made_up = catch_up(writer, [], elapsed=1.0)
    assert made_up == 50 and filled.count(b"OggS") == 50
    frames, made_up = catch_up(writer, [b"\xfc" + b"x" * 300, SILENCE_FRAME], elapsed=1.0)
    assert made_up == 0 and frames.count(b"OggS") == 2  # a 300-byte packet spans lacing values
    assert writer.granule == 52 * 960
