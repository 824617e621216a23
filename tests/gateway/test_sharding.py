"""Several shards in one process: guild routing, identify buckets, session start limits."""

from __future__ import annotations

import pytest
import trio

from musicbot.emulator.world import World
from musicbot.gateway import (
    GatewayDispatch,
    GuildCreate,
    Ready,
    SessionStartLimitError,
    shard_for_guild,
)
from tests.gateway.helpers import emulated_gateway, make_manager, running_bot

TIMEOUT = 10


async def test_two_shards_in_one_process_each_get_their_guilds() -> None:
    with trio.fail_after(TIMEOUT):
        world = World()
        by_shard = {
            s: {world.add_guild(f"s{s}-{i}", shard=s, num_shards=2).id for i in range(3)}
            for s in (0, 1)
        }
        async with emulated_gateway(world) as gw, running_bot(gw, shards=2) as (manager, col):
            await col.wait_count(GuildCreate, 6)
            for s in (0, 1):
                assert {g.id for g in col.of(GuildCreate, shard_id=s)} == by_shard[s]
                (ready,) = col.of(Ready, shard_id=s)
                assert set(ready.guild_ids) == by_shard[s]
            assert sorted((i.shard_id, i.num_shards) for i in gw.identifies) == [(0, 2), (1, 2)]
            gid = next(iter(by_shard[1]))
            assert manager.for_guild(gid).shard_id == shard_for_guild(gid, 2) == 1
            # A guild added later goes to its own shard only.
            late = world.add_guild("late", shard=0, num_shards=2)
            await col.wait_count(GuildCreate, 7)
            assert col.items[-1].shard_id == 0 and col.items[-1].event.id == late.id  # type: ignore[union-attr]


async def test_identifies_follow_max_concurrency_buckets_in_order() -> None:
    window = 0.3
    with trio.fail_after(TIMEOUT):
        world = World()
        async with (
            emulated_gateway(world) as gw,
            running_bot(gw, shards=4, max_concurrency=2, identify_window=window) as (_, col),
        ):
            await col.wait_count(Ready, 4)
            ids = [(i.shard_id, i.at) for i in gw.identifies]
            assert [s for s, _ in ids][:2] in ([0, 1], [1, 0])
            at = dict(ids)
            # Bucket 0 = shards 0, 2; bucket 1 = shards 1, 3: one identify per bucket per window.
            assert at[2] - at[0] >= window * 0.95
            assert at[3] - at[1] >= window * 0.95
            assert abs(at[1] - at[0]) < window
            assert max(at[0], at[1]) <= min(at[2], at[3])


async def test_refuses_to_burn_the_last_session_starts() -> None:
    with trio.fail_after(TIMEOUT):
        async with emulated_gateway() as gw:
            send, _ = trio.open_memory_channel[GatewayDispatch](4)
            manager = make_manager(gw, send, shards=2, remaining=3)
            with pytest.raises(SessionStartLimitError) as info:
                await manager.run()
            assert info.value.remaining == 3 and info.value.needed == 2
            assert "reset" in str(info.value)
            assert gw.connections == []  # refused before connecting


async def test_stops_before_reidentifying_into_the_last_session_starts() -> None:
    with trio.fail_after(TIMEOUT):
        async with emulated_gateway(World()) as gw:
            send, receive = trio.open_memory_channel[GatewayDispatch](16)
            manager = make_manager(gw, send, remaining=4)  # floor 2: two identifies allowed

            async def drive() -> None:
                for n in (1, 2):
                    await gw.wait_for_identifies(n)
                    await gw.wait_connected(0)
                    await gw.invalidate_session(0, resumable=False)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(drive)
                nursery.start_soon(_drain, receive)
                with pytest.raises(SessionStartLimitError) as info:
                    await manager.run()
                nursery.cancel_scope.cancel()
            assert info.value.remaining == 2
            assert len(gw.identifies) == 2


async def _drain(receive: trio.MemoryReceiveChannel[GatewayDispatch]) -> None:
    async for _ in receive:
        pass


@pytest.mark.parametrize(
    "answer",
    [
        [],
        {},
        {"url": "wss://x", "shards": "many"},
        {"url": "wss://x", "shards": 0},
        {"url": "wss://x", "shards": 10**12},
        {"url": "wss://x", "shards": 1, "session_start_limit": ["x"]},
        {"url": "wss://x", "shards": 1, "session_start_limit": {"remaining": "lots"}},
        {"url": "wss://x", "shards": 1, "session_start_limit": {"max_concurrency": 1e400}},
    ],
)
async def test_an_unusable_gateway_bot_answer_stops_with_a_clear_error(answer: object) -> None:
    from musicbot.config import Secret
    from musicbot.gateway import GatewayDispatch, GatewayInfoError, ShardManager

    async def get_gateway_bot() -> object:
        return answer

    send, _receive = trio.open_memory_channel[GatewayDispatch](4)
    manager = ShardManager(
        token=Secret("t"),
        events=send,
        get_gateway_bot=get_gateway_bot,  # type: ignore[arg-type]
    )
    with trio.fail_after(10), pytest.raises(GatewayInfoError) as info:
        await manager.run()
    assert "GET /gateway/bot" in str(info.value)
