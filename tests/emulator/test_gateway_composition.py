"""The composed emulator: the bot's REST client finds the gateway through GET /gateway/bot,
the shard manager connects with a Config built by the emulator, interactions flow."""

from __future__ import annotations

import trio

from musicbot.emulator.server import Emulator, open_emulator
from musicbot.gateway import (
    GatewayDispatch,
    GuildCreate,
    InteractionCreate,
    ShardManager,
    ShardOptions,
)
from musicbot.rest.client import open_rest_client
from tests.gateway.helpers import Collector

TIMEOUT = 10


async def test_bot_config_points_at_the_emulator(emulator: Emulator) -> None:
    cfg = emulator.bot_config({"voice": {"idle_timeout": 5}})
    assert cfg.discord.gateway_url == emulator.gateway_url
    assert cfg.discord.api_base == emulator.api_base
    assert cfg.discord.token.value == emulator.world.token
    assert cfg.voice.idle_timeout == 5


async def test_shards_from_gateway_bot_and_interactions_end_to_end() -> None:
    with trio.fail_after(TIMEOUT):
        limit = {"total": 1000, "remaining": 990, "reset_after": 1000, "max_concurrency": 2}
        async with open_emulator(
            heartbeat_interval=1.0, shards=2, rest_options={"session_start_limit": limit}
        ) as emu:
            world = emu.world
            guilds = [world.add_guild(f"g{s}", shard=s, num_shards=2) for s in (0, 1)]
            user = world.add_member(guilds[1].id, "carol", locale="vi")
            cfg = emu.bot_config({"discord": {"gateway_url": ""}})  # ask /gateway/bot
            send, receive = trio.open_memory_channel[GatewayDispatch](16)
            col = Collector()
            async with (
                open_rest_client(api_base=cfg.discord.api_base, token=cfg.token) as rest,
                trio.open_nursery() as nursery,
            ):
                manager = ShardManager.from_config(
                    cfg.discord,
                    events=send,
                    get_gateway_bot=rest.get_gateway_bot,
                    options=ShardOptions(backoff_base=0.01, backoff_max=0.05),
                )
                nursery.start_soon(col.run, receive)
                await nursery.start(manager.run)
                await col.wait_count(GuildCreate, 2)
                assert manager.shard_count == 2
                assert manager.identify_gate is not None
                assert manager.identify_gate.max_concurrency == 2  # both shards at once
                assert {(g.id, s) for s in (0, 1) for g in col.of(GuildCreate, s)} == {
                    (guilds[0].id, 0),
                    (guilds[1].id, 1),
                }
                rec = emu.command(guilds[1].id, user.user_id, "play", {"query": "x"})
                await col.wait_count(InteractionCreate, 1, shard_id=1)
                (ev,) = col.of(InteractionCreate)
                assert (ev.id, ev.locale) == (rec.id, "vi")
                assert emu.rest is not None and rec.id in emu.rest.interactions
                nursery.cancel_scope.cancel()


async def test_voice_join_through_the_composed_emulator_reaches_the_voice_server() -> None:
    from musicbot.emulator.voice import VoiceServer
    from musicbot.gateway import VoiceServerUpdate, VoiceStateUpdate

    with trio.fail_after(TIMEOUT):
        async with open_emulator(heartbeat_interval=1.0, voice=True) as emu:
            assert isinstance(emu.voice, VoiceServer)
            world = emu.world
            guild = world.add_guild()
            cfg = emu.bot_config()
            send, receive = trio.open_memory_channel[GatewayDispatch](16)
            col = Collector()
            async with (
                open_rest_client(api_base=cfg.discord.api_base, token=cfg.token) as rest,
                trio.open_nursery() as nursery,
            ):
                manager = ShardManager.from_config(
                    cfg.discord, events=send, get_gateway_bot=rest.get_gateway_bot
                )
                nursery.start_soon(col.run, receive)
                await nursery.start(manager.run)
                await col.wait_count(GuildCreate, 1)
                await manager.for_guild(guild.id).update_voice_state(
                    guild.id, guild.voice_channel.id
                )
                await col.wait_count(VoiceServerUpdate, 1)
                (state,) = col.of(VoiceStateUpdate)
                (server,) = col.of(VoiceServerUpdate)
                assert server.endpoint == emu.voice.endpoint
                session = emu.voice.sessions[(guild.id, world.bot_user_id)]
                assert (session.token, session.session_id) == (server.token, state.session_id)
                assert session.channel_id == guild.voice_channel.id
                nursery.cancel_scope.cancel()


async def test_configure_points_an_existing_config_at_the_emulator(emulator: Emulator) -> None:
    from musicbot import config

    base = config.build({"discord": {"token": "real-looking-token"}, "audio": {"bitrate": 96}})
    cfg = emulator.configure(base)
    assert (cfg.discord.gateway_url, cfg.discord.api_base) == (
        emulator.gateway_url,
        emulator.api_base,
    )
    assert cfg.discord.token.value == emulator.world.token and cfg.audio.bitrate == 96


async def test_demo_world_has_a_guild_with_channels_and_a_user() -> None:
    from musicbot.emulator.world import demo_world

    world, guild, user = demo_world(locale="vi")
    assert world.guilds == {guild.id: guild}
    assert guild.text_channel.name == "music" and guild.voice_channel.name == "Lounge"
    assert guild.members[user.user_id].locale == "vi"
