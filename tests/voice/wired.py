"""A voice connection wired through the emulator's World, as the bot is wired to the main
gateway: op 4 goes to ``World.update_voice_state``, and the World's VOICE_STATE_UPDATE /
VOICE_SERVER_UPDATE dispatches come back to the connection.  ``faults`` is the emulator's
:class:`VoiceFaults` over the same world and voice server (moves, server changes, kicks)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import attrs
import trio

from musicbot.emulator.faults import VoiceFaults
from musicbot.emulator.voice import VoiceServer
from musicbot.emulator.world import World
from musicbot.voice import VoiceConnection, VoiceEvent, VoiceSettings, voice_ssl_context

E = TypeVar("E")


@attrs.define
class Wired:
    world: World
    server: VoiceServer
    faults: VoiceFaults
    conn: VoiceConnection
    events: trio.MemoryReceiveChannel[VoiceEvent]
    guild_id: int
    music: int
    lounge: int
    op4: list[int | None] = attrs.Factory(list)
    seen: list[VoiceEvent] = attrs.Factory(list)

    @property
    def bot(self) -> int:
        return self.world.bot_user_id

    async def next_event(self) -> VoiceEvent:
        event = await self.events.receive()
        self.seen.append(event)
        return event

    async def next_of(self, kind: type[E]) -> E:
        """The next event of ``kind``; the ones before it are kept in ``seen``."""
        while True:
            event = await self.next_event()
            if isinstance(event, kind):
                return event


@asynccontextmanager
async def wired(*, move_timeout: float = 10.0, seed: int = 0) -> AsyncIterator[Wired]:
    server = VoiceServer()
    world = World(voice_backend=server)
    guild = world.add_guild(voice_channels=("Music", "Lounge"))
    music, lounge = guild.channel_named("Music").id, guild.channel_named("Lounge").id
    op4: list[int | None] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve)
        send, receive = trio.open_memory_channel[VoiceEvent](32)

        async def update_voice_state(
            guild_id: int, channel_id: int | None, mute: bool, deaf: bool
        ) -> None:
            op4.append(channel_id)
            world.update_voice_state(
                guild_id, world.bot_user_id, channel_id, self_mute=mute, self_deaf=deaf
            )

        conn = VoiceConnection(
            guild_id=guild.id,
            user_id=world.bot_user_id,
            update_voice_state=update_voice_state,
            events=send,
            settings=VoiceSettings(
                join_timeout=5.0,
                handshake_timeout=5.0,
                move_timeout=move_timeout,
                ssl_context=voice_ssl_context(server.ca_file),
            ),
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
        faults = VoiceFaults(world, server, seed=seed)
        yield Wired(world, server, faults, conn, receive, guild.id, music, lounge, op4)
        conn.close()
        nursery.cancel_scope.cancel()
