"""The voice connection wired through the emulator's World (op 4 → VOICE_STATE_UPDATE +
VOICE_SERVER_UPDATE from the voice backend), as the bot will be wired to the main gateway:
moderator kicks and moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio

from musicbot.emulator.voice import VoiceServer
from musicbot.emulator.world import World
from musicbot.voice import (
    Connected,
    Disconnected,
    StopReason,
    VoiceConnection,
    VoiceEvent,
    VoiceSettings,
)
from tests.voice.helpers import sine_opus_frames

LISTENER = 4242


@attrs.define
class Wired:
    world: World
    server: VoiceServer
    conn: VoiceConnection
    events: trio.MemoryReceiveChannel[VoiceEvent]
    guild_id: int
    music: int
    lounge: int

    async def next_event(self) -> VoiceEvent:
        return await self.events.receive()


@asynccontextmanager
async def wired() -> AsyncIterator[Wired]:
    server = VoiceServer()
    world = World(voice_backend=server)
    guild = world.add_guild(voice_channels=("Music", "Lounge"))
    music, lounge = guild.channel_named("Music").id, guild.channel_named("Lounge").id
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve)
        send, receive = trio.open_memory_channel[VoiceEvent](32)

        async def op4(guild_id: int, channel_id: int | None, mute: bool, deaf: bool) -> None:
            world.update_voice_state(
                guild_id, world.bot_user_id, channel_id, self_mute=mute, self_deaf=deaf
            )

        conn = VoiceConnection(
            guild_id=guild.id,
            user_id=world.bot_user_id,
            update_voice_state=op4,
            events=send,
            settings=VoiceSettings(join_timeout=5.0, handshake_timeout=5.0),
        )

        def route(guild_id: int | None, name: str, d: dict[str, Any]) -> None:
            if guild_id != guild.id:
                return
            if name == "VOICE_STATE_UPDATE" and d["user_id"] == str(world.bot_user_id):
                channel = d["channel_id"]
                conn.on_voice_state_update(
                    session_id=d["session_id"], channel_id=int(channel) if channel else None
                )
            elif name == "VOICE_SERVER_UPDATE":
                conn.on_voice_server_update(token=d["token"], endpoint=d["endpoint"])

        world.subscribe(route)
        await nursery.start(conn.run)
        yield Wired(world, server, conn, receive, guild.id, music, lounge)
        conn.close()
        nursery.cancel_scope.cancel()


async def test_join_play_and_get_kicked_by_a_moderator() -> None:
    frames = sine_opus_frames()[:50]
    with trio.fail_after(20):
        async with wired() as w:
            member = w.server.add_listener(
                guild_id=w.guild_id, channel_id=w.music, user_id=LISTENER
            )
            w.conn.join(w.music)
            assert isinstance(await w.next_event(), Connected)
            await w.server.wait_for_epoch(w.guild_id, w.music, 1)
            for frame in frames:
                await w.conn.send_frame(frame)
            got = await w.server.wait_for_frames(member, len(frames))
            assert [f.opus for f in got] == list(frames)
            w.world.move_member(w.guild_id, w.world.bot_user_id, None)  # a moderator's kick
            gone = await w.next_event()
            assert isinstance(gone, Disconnected) and gone.reason is StopReason.KICKED
            assert w.world.voice_channel_of(w.guild_id, w.world.bot_user_id) is None


async def test_moved_by_a_moderator_connects_afresh_in_the_new_channel() -> None:
    frames = sine_opus_frames()[:30]
    with trio.fail_after(20):
        async with wired() as w:
            w.conn.join(w.music)
            first = await w.next_event()
            assert isinstance(first, Connected) and first.channel_id == w.music
            there = w.server.add_listener(
                guild_id=w.guild_id, channel_id=w.lounge, user_id=LISTENER
            )
            w.world.move_member(w.guild_id, w.world.bot_user_id, w.lounge)
            moved = await w.next_event()
            assert isinstance(moved, Connected) and moved.channel_id == w.lounge
            assert not moved.resumed
            await w.server.wait_for_epoch(w.guild_id, w.lounge, 1)
            for frame in frames:
                await w.conn.send_frame(frame)
            got = await w.server.wait_for_frames(there, len(frames))
    assert [f.opus for f in got] == list(frames)
    assert len(w.server.identifies) == 2  # a new session, not a reused one
