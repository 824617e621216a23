"""Control is lossless (architecture rule 13): the owner's posts to a connection are never
dropped, even while the connection waits on the owner to take an event, and events are never
dropped on their way to a slow owner."""

from __future__ import annotations

import trio
import trio.testing

from musicbot.emulator.voice import VoiceServer
from musicbot.voice import (
    Connected,
    Disconnected,
    StopReason,
    VoiceConnection,
    VoiceEvent,
    VoiceSettings,
    VoiceState,
    voice_ssl_context,
)
from tests.voice.helpers import BOT, CHANNEL, GUILD, LISTENER, FakeMainGateway

POSTS = 200  # far more than the connection's inbox holds


async def test_a_slow_owner_loses_neither_posts_nor_events() -> None:
    server = VoiceServer()
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve)
            server.add_listener(guild_id=GUILD, channel_id=CHANNEL, user_id=LISTENER)
            # An unbuffered event channel that nobody reads yet: the owner is busy.
            send, receive = trio.open_memory_channel[VoiceEvent](0)
            gateway = FakeMainGateway(server)
            settings = VoiceSettings(ssl_context=voice_ssl_context(server.ca_file))
            conn = VoiceConnection(
                guild_id=GUILD,
                user_id=BOT,
                update_voice_state=gateway.update_voice_state,
                events=send,
                settings=settings,
            )
            gateway.conn = conn
            await nursery.start(conn.run)
            conn.join(CHANNEL)
            await trio.testing.wait_all_tasks_blocked()  # connected; waiting to say so
            assert conn.state is VoiceState.CONNECTED
            for i in range(POSTS):  # e.g. a burst of gateway events for the bot
                conn.on_voice_state_update(session_id=f"s{i}", channel_id=CHANNEL)
            conn.leave()  # behind all of them, and it must not be lost
            first = await receive.receive()
            second = await receive.receive()
            conn.close()
            nursery.cancel_scope.cancel()
    assert isinstance(first, Connected)
    assert isinstance(second, Disconnected) and second.reason is StopReason.LEFT
    assert gateway.op4[-1][1] is None  # the leave was acted on
    assert conn.stats.control_dropped == 0
