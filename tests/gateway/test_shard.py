"""A real ShardManager against the emulator's gateway over real websockets on 127.0.0.1."""

from __future__ import annotations

import contextlib

import attrs
import pytest
import trio

from musicbot.emulator.world import World
from musicbot.gateway import (
    GatewayFatalError,
    GuildCreate,
    InteractionCreate,
    PayloadTooLargeError,
    Ready,
    Resumed,
    ShardState,
    VoiceServerUpdate,
    VoiceStateUpdate,
)
from musicbot.ops.metrics import Metrics
from tests.gateway.helpers import FAST, emulated_gateway, running_bot

TIMEOUT = 10


def _interaction_ids(col: object) -> list[int]:
    return [e.id for e in col.of(InteractionCreate)]  # type: ignore[attr-defined]


async def test_identify_ready_and_guild_creates_are_typed_events() -> None:
    with trio.fail_after(TIMEOUT):
        world = World()
        g1 = world.add_guild("One", voice_channels=("Music", "Chill"))
        g2 = world.add_guild("Two")
        member = world.add_member(g1.id, "alice")
        world.move_member(g1.id, member.user_id, g1.voice_channel.id)
        async with emulated_gateway(world) as gw, running_bot(gw) as (manager, col):
            await col.wait_count(GuildCreate, 2)
            (ready,) = col.of(Ready)
            assert ready.user_id == world.bot_user_id
            assert ready.application_id == world.application_id
            assert set(ready.guild_ids) == {g1.id, g2.id}
            guilds = {g.id: g for g in col.of(GuildCreate)}
            assert guilds[g1.id].name == "One"
            assert {c.name for c in guilds[g1.id].channels} == {"general", "Music", "Chill"}
            (vs,) = guilds[g1.id].voice_states
            assert (vs.user_id, vs.channel_id, vs.guild_id) == (
                member.user_id,
                g1.voice_channel.id,
                g1.id,
            )
            (ident,) = gw.identifies
            assert ident.intents == 129 and (ident.shard_id, ident.num_shards) == (0, 1)
            assert manager.shard(0).state is ShardState.READY
            assert [d.seq for d in col.items] == [1, 2, 3]
            assert all(d.shard_id == 0 for d in col.items)


async def test_interactions_arrive_typed_with_options_and_locales() -> None:
    with trio.fail_after(TIMEOUT):
        world = World()
        guild = world.add_guild(locale="en-US")
        user = world.add_member(guild.id, "bob", roles=[42], locale="vi")
        async with emulated_gateway(world) as gw, running_bot(gw) as (_, col):
            await col.wait_count(GuildCreate, 1)
            rec = world.command_interaction(guild.id, user.user_id, "play", {"query": "lofi"})
            world.emit(guild.id, "INTERACTION_CREATE", rec.payload)
            await col.wait_count(InteractionCreate, 1)
            (ev,) = col.of(InteractionCreate)
            assert (ev.id, ev.token, ev.type, ev.user_id) == (rec.id, rec.token, 2, user.user_id)
            assert ev.locale == "vi" and ev.guild_locale == "en-US"
            assert ev.member_roles == (42,)
            assert ev.data is not None and ev.data.name == "play"
            assert [(o.name, o.value) for o in ev.data.options] == [("query", "lofi")]
            assert rec.token not in repr(ev)


async def test_op7_reconnect_resumes_without_losing_or_duplicating_events() -> None:
    with trio.fail_after(TIMEOUT):
        world = World()
        guild = world.add_guild()
        user = world.add_member(guild.id)
        async with emulated_gateway(world) as gw, running_bot(gw) as (_, col):
            await col.wait_count(GuildCreate, 1)
            sent: list[int] = []

            def inject() -> None:
                rec = world.command_interaction(guild.id, user.user_id, "ping")
                world.emit(guild.id, "INTERACTION_CREATE", rec.payload)
                sent.append(rec.id)

            inject()
            await gw.send_reconnect(0)
            for _ in range(5):  # while the bot is reconnecting
                inject()
            await gw.wait_for_resumes(1)
            inject()
            await col.wait_for(lambda _: len(_interaction_ids(col)) >= 7)
            await col.wait_count(Resumed, 1)
            assert _interaction_ids(col) == sent
            seqs = [d.seq for d in col.items]
            assert seqs == list(range(1, len(seqs) + 1))  # no gap, no repeat
            assert len(gw.identifies) == 1 and len(gw.resumes) == 1
            assert gw.connections[0].client_close_code not in (1000, 1001)


async def test_zombie_connection_is_detected_and_resumed() -> None:
    with trio.fail_after(TIMEOUT):
        world = World()
        world.add_guild()
        metrics = Metrics(process_collector=False)  # the ops layer's real recorder
        async with (
            emulated_gateway(world, heartbeat_interval=0.1) as gw,
            running_bot(gw, metrics=metrics) as (manager, col),
        ):
            await col.wait_count(GuildCreate, 1)
            # A second beat is only sent once the first was ACKed.
            await gw.wait_until(lambda: gw.connections[-1].heartbeats >= 2)
            assert manager.shard(0).latency is not None
            gw.pause_acks(0)
            await gw.wait_for_resumes(1)
            gw.resume_acks(0)
            await col.wait_count(Resumed, 1)
            assert len(gw.identifies) == 1
            assert gw.connections[0].client_close_code == 4900

            def sample(name: str, **labels: str) -> float | None:
                return metrics.registry.get_sample_value(name, {"shard": "0", **labels})

            assert sample("musicbot_gateway_reconnects_total", cause="zombie") == 1
            assert sample("musicbot_gateway_resumes_total", cause="zombie") == 1
            assert sample("musicbot_gateway_identifies_total") == 1
            assert (sample("musicbot_gateway_latency_seconds") or 0) > 0


async def test_invalid_session_not_resumable_reidentifies() -> None:
    with trio.fail_after(TIMEOUT):
        world = World()
        world.add_guild()
        async with emulated_gateway(world) as gw, running_bot(gw) as (_, col):
            await col.wait_count(Ready, 1)
            await gw.invalidate_session(0, resumable=False)
            await col.wait_count(Ready, 2)
            assert len(gw.identifies) == 2 and gw.resumes == []


async def test_invalid_session_resumable_resumes() -> None:
    with trio.fail_after(TIMEOUT):
        world = World()
        world.add_guild()
        async with emulated_gateway(world) as gw, running_bot(gw) as (_, col):
            await col.wait_count(GuildCreate, 1)
            await gw.invalidate_session(0, resumable=True)
            await col.wait_count(Resumed, 1)
            assert len(gw.identifies) == 1 and len(gw.resumes) == 1


@pytest.mark.parametrize(
    ("code", "resumes", "identifies"),
    [(4000, 1, 1), (4008, 1, 1), (1001, 1, 1), (None, 1, 1), (4007, 0, 2), (4009, 0, 2)],
)
async def test_server_closes_and_drops_resume_or_reidentify(
    code: int | None, resumes: int, identifies: int
) -> None:
    with trio.fail_after(TIMEOUT):
        world = World()
        world.add_guild()
        async with emulated_gateway(world) as gw, running_bot(gw) as (_, col):
            await col.wait_count(GuildCreate, 1)
            if code is None:
                await gw.drop(0)  # no close frame at all
            else:
                await gw.close(0, code)
            await col.wait_for(lambda _: len(col.of(Ready)) + len(col.of(Resumed)) >= 2)
            assert (len(gw.resumes), len(gw.identifies)) == (resumes, identifies)


async def test_bad_token_stops_with_a_fatal_error_naming_the_fix() -> None:
    with trio.fail_after(TIMEOUT):
        async with emulated_gateway() as gw:
            from tests.gateway.helpers import make_manager

            send, _receive = trio.open_memory_channel[object](16)
            manager = make_manager(gw, send, token="wrong-token-value")  # type: ignore[arg-type]
            with pytest.raises(GatewayFatalError) as info:
                await manager.run()
            assert info.value.code == 4004
            text = str(info.value)
            assert "token is invalid" in text and "DISCORD_TOKEN" in text
            assert "Developer Portal" in text and "wrong-token-value" not in text
            assert len(gw.connections) == 1  # no retry loop


@pytest.mark.parametrize(
    ("compress", "split", "asked"),
    [
        ("zlib-stream", True, "zlib-stream"),
        ("zlib-stream", False, "zlib-stream"),
        ("zstd-stream", False, "zstd-stream"),
        (True, False, "zstd-stream"),  # the default: zstd-stream, zstandard being installed
        (False, False, ""),
    ],
)
async def test_transport_compression(compress: str | bool, split: bool, asked: str) -> None:
    with trio.fail_after(TIMEOUT):
        world = World()
        for i in range(3):
            world.add_guild(f"G{i}", text_channels=[f"chan-{j}" for j in range(30)])
        async with (
            emulated_gateway(world, split_frames=split) as gw,
            running_bot(gw, compress=compress) as (_, col),
        ):
            await col.wait_count(GuildCreate, 3)
            assert (gw.connections[0].compressor is not None) is bool(compress)
            assert gw.connections[0].compression == asked
            assert sorted(len(g.channels) for g in col.of(GuildCreate)) == [
                31,
                31,
                31,
            ]  # 30 text + 1 voice


async def test_oversized_payload_is_refused_before_sending() -> None:
    with trio.fail_after(TIMEOUT):
        world = World()
        world.add_guild()
        async with emulated_gateway(world) as gw, running_bot(gw) as (manager, col):
            await col.wait_count(GuildCreate, 1)
            before = len(gw.received)
            with pytest.raises(PayloadTooLargeError) as info:
                await manager.shard(0).send_payload(3, {"status": "x" * 5000})
            assert info.value.size > 4096
            assert all(op != 3 for _, op, _ in gw.received[before:])
            assert manager.shard(0).state is ShardState.READY


async def test_update_voice_state_gets_state_and_server_updates() -> None:
    with trio.fail_after(TIMEOUT):
        world = World()
        guild = world.add_guild()
        async with emulated_gateway(world) as gw, running_bot(gw) as (manager, col):
            await col.wait_count(GuildCreate, 1)
            handle = manager.for_guild(guild.id)
            await handle.update_voice_state(guild.id, guild.voice_channel.id)
            await col.wait_count(VoiceServerUpdate, 1)
            (vs,) = col.of(VoiceStateUpdate)
            assert (vs.user_id, vs.channel_id) == (world.bot_user_id, guild.voice_channel.id)
            assert vs.self_deaf is True
            (server,) = col.of(VoiceServerUpdate)
            assert server.guild_id == guild.id and server.endpoint == "ws://127.0.0.1:9"
            await handle.update_voice_state(guild.id, None)
            await col.wait_count(VoiceStateUpdate, 2)
            assert col.of(VoiceStateUpdate)[1].channel_id is None
            assert world.voice_channel_of(guild.id, world.bot_user_id) is None


async def test_server_heartbeat_request_is_answered_at_once_with_the_last_seq() -> None:
    with trio.fail_after(TIMEOUT):
        world = World()
        world.add_guild()
        # A long interval: scheduled beats (first one jittered in [0, 60 s)) stay out of the way.
        async with (
            emulated_gateway(world, heartbeat_interval=60.0) as gw,
            running_bot(gw) as (_, col),
        ):
            await col.wait_count(GuildCreate, 1)
            await gw.wait_until(lambda: gw.connections[0].cursor == 2)
            conn = gw.connections[0]
            before = conn.heartbeats
            with trio.fail_after(2):  # far less than the interval
                await gw.request_heartbeat(0)
                await gw.wait_until(lambda: conn.heartbeats > before)
            assert conn.heartbeat_seqs[-1] == 2


async def test_manager_wait_ready_and_handles_report_state() -> None:
    with trio.fail_after(TIMEOUT):
        world = World()
        async with emulated_gateway(world) as gw, running_bot(gw, shards=2) as (manager, _):
            await manager.wait_ready()
            assert [h.state for h in manager.shards()] == [ShardState.READY] * 2
            assert all(h.session_id and h.generation == 1 for h in manager.shards())


async def test_handle_payloads_go_through_the_send_limiter() -> None:
    period, limit = 0.5, 10
    options = attrs.evolve(FAST, send_limit=limit, send_period=period)
    with trio.fail_after(TIMEOUT):
        world = World()
        guild = world.add_guild()
        async with (
            emulated_gateway(world, heartbeat_interval=60.0) as gw,
            running_bot(gw, options=options) as (manager, col),
        ):
            await col.wait_count(GuildCreate, 1)
            conn = gw.connections[0]
            first = len(conn.sent_times)
            handle = manager.shard(0)
            for _ in range(24):
                await handle.update_voice_state(guild.id, None)
            await gw.wait_until(lambda: len(conn.sent_times) >= first + 24)
            times = conn.sent_times[first:]
            # 10 per window, 2 kept for heartbeats: 8 ordinary payloads per 0.5 s.
            assert times[-1] - times[0] >= 2 * period * 0.9
            for t in times:
                assert sum(1 for u in times if t <= u < t + period * 0.8) <= limit - 2
            assert not conn.closed


async def test_unreachable_gateway_backs_off_and_keeps_trying() -> None:
    import socket

    from musicbot.config import Secret
    from musicbot.gateway import GatewayDispatch, ShardManager

    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with trio.fail_after(TIMEOUT):
        send, _receive = trio.open_memory_channel[GatewayDispatch](4)
        manager = ShardManager(
            token=Secret("t"),
            events=send,
            get_gateway_bot=None,
            shard_count=1,
            gateway_url=f"ws://127.0.0.1:{port}",
            options=FAST,
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(manager.run)
            handle = manager.shard(0)
            await handle.wait_until(lambda h: h.generation >= 4)
            assert handle.state is ShardState.CONNECTING
            # Failed connects neither spend session starts nor wait for a new identify slot.
            assert manager.identify_gate is not None
            assert manager.identify_gate.remaining == 1000
            nursery.cancel_scope.cancel()
        assert handle.state is ShardState.STOPPED


async def test_broken_handshakes_are_retried_not_fatal() -> None:
    """A server that answers with the wrong opcode, then one that never sends READY."""
    import json

    import trio_websocket

    from musicbot.config import Secret
    from musicbot.gateway import GatewayDispatch, ShardManager

    seen: list[int] = []

    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        seen.append(len(seen))
        if len(seen) == 1:
            await ws.send_message(json.dumps({"op": 11}))  # not HELLO
        else:
            await ws.send_message(json.dumps({"op": 10, "d": {"heartbeat_interval": 60000}}))
        with contextlib.suppress(trio_websocket.ConnectionClosed):
            while True:
                await ws.get_message()

    options = attrs.evolve(FAST, handshake_timeout=0.2)
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                trio_websocket.serve_websocket, handler, "127.0.0.1", 0, None
            )
            send, _receive = trio.open_memory_channel[GatewayDispatch](4)
            manager = ShardManager(
                token=Secret("t"),
                events=send,
                get_gateway_bot=None,
                shard_count=1,
                gateway_url=f"ws://127.0.0.1:{server.port}",
                compress=False,
                options=options,
                identify_window=0.05,
            )
            await nursery.start(manager.run)
            handle = manager.shard(0)
            await handle.wait_until(lambda h: h.generation >= 3)
            assert len(seen) >= 2
            nursery.cancel_scope.cancel()
