"""The voice connection wired through the emulator's World (op 4 → VOICE_STATE_UPDATE +
VOICE_SERVER_UPDATE from the voice backend), as the bot will be wired to the main gateway:
moderator kicks and moves."""

from __future__ import annotations

import trio

from musicbot.voice import CloseAction, Connected, Disconnected, Moved, Reconnecting, StopReason
from tests.voice.helpers import sine_opus_frames
from tests.voice.wired import wired

LISTENER = 4242


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
            # The gateway's news came first (the emulator's own order): the owner hears that
            # media stops, where the bot went, then the new session.
            assert await w.next_event() == Reconnecting(
                guild_id=w.guild_id, action=CloseAction.REJOIN, close_code=None
            )
            assert await w.next_event() == Moved(guild_id=w.guild_id, channel_id=w.lounge)
            moved = await w.next_event()
            assert isinstance(moved, Connected) and moved.channel_id == w.lounge
            assert not moved.resumed
            await w.server.wait_for_epoch(w.guild_id, w.lounge, 1)
            for frame in frames:
                await w.conn.send_frame(frame)
            got = await w.server.wait_for_frames(there, len(frames))
    assert [f.opus for f in got] == list(frames)
    assert len(w.server.identifies) == 2  # a new session, not a reused one
