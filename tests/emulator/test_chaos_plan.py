"""Seeded fault plans replay from their seed and reach the emulator's fault controls."""

from __future__ import annotations

import json

import pytest
import trio
import trio_websocket

from musicbot.emulator import chaos
from musicbot.emulator.server import Emulator

UA = [("User-Agent", "DiscordBot (https://example.invalid, 1.0)")]


def test_a_seed_is_a_plan() -> None:
    first = chaos.plan(7, steps=6, duration=4.0)
    assert first == chaos.plan(7, steps=6, duration=4.0)
    assert first != chaos.plan(8, steps=6, duration=4.0)
    assert [s.at for s in first] == sorted(s.at for s in first)
    assert all(0.0 <= s.at <= 4.0 and s.kind in chaos.KINDS for s in first)
    every = {s.kind for seed in range(60) for s in chaos.plan(seed, steps=6)}
    assert every == set(chaos.KINDS)  # every kind can be drawn
    only = chaos.plan(3, steps=5, kinds=("udp_loss",))
    assert {s.kind for s in only} == {"udp_loss"} and all(s.param("count") for s in only)
    with pytest.raises(ValueError, match="unknown"):
        chaos.plan(1, kinds=("meteor",))


async def test_rest_steps_arm_rest_faults(emulator: Emulator) -> None:
    steps = [
        chaos.Step(kind="rest_429_shared", at=0, params=(("route", "POST /channels/*"),)),
        chaos.Step(kind="rest_429_global_no_body", at=0, params=(("retry_after", 0.3),)),
        chaos.Step(kind="rest_slow", at=0, params=(("delay", 1.25),)),
    ]
    done = [await chaos.inject(emulator, s, guild_id=1, channel_id=2) for s in steps]
    faults = emulator.rest_faults
    assert [(f.scope, f.json_body, f.pattern) for f in faults.forced] == [
        ("shared", True, "POST /channels/*"),
        ("global", False, "*"),
    ]
    assert [(s.delay, s.pattern) for s in faults.slow_answers] == [(1.25, "*")]
    assert done == [str(s) for s in steps]


async def test_gateway_steps_reach_the_live_shard(emulator: Emulator) -> None:
    skip = chaos.Step(kind="gateway_reconnect", at=0)
    assert "skipped" in await chaos.inject(emulator, skip, guild_id=1, channel_id=2)
    voice = chaos.Step(kind="udp_loss", at=0, params=(("count", 3),))
    assert "skipped" in await chaos.inject(emulator, voice, guild_id=1, channel_id=2)
    # No live connection: the resume under way is refused all the same, and the log says so.
    refused = chaos.Step(kind="gateway_resume_refused", at=0)
    done = await chaos.inject(emulator, refused, guild_id=1, channel_id=2)
    assert "skipped" not in done and "resume under way is refused" in done
    assert emulator.gateway.next_resume_invalid == [False]
    emulator.gateway.next_resume_invalid.clear()
    with trio.fail_after(10):
        url = emulator.gateway_url + "/?v=10&encoding=json"
        async with trio_websocket.open_websocket_url(url, extra_headers=UA) as ws:
            await ws.get_message()
            identify = {"token": emulator.world.token, "intents": 1, "properties": {}}
            await ws.send_message(json.dumps({"op": 2, "d": identify}))
            await ws.get_message()  # READY
            await chaos.inject(emulator, skip, guild_id=1, channel_id=2)
            op7 = json.loads(await ws.get_message())
            await chaos.inject(emulator, refused, guild_id=1, channel_id=2)
            again = json.loads(await ws.get_message())
    assert op7["op"] == 7 and again["op"] == 7
    assert emulator.gateway.next_resume_invalid == [False]
