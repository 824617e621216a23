"""Seeded sequences of voice faults against one connection: moves and voice-server changes in
random order with random delays and 4014/4022, closes 4015/4006 and dropped sockets, one after
another.  After each fault the connection must be connected where the world says the bot is, and
a listener there must hear every frame sent afterwards.  A failing seed is in the test id."""

from __future__ import annotations

import pytest
import trio

from musicbot.voice import Connected, Disconnected, VoiceState
from tests.voice.helpers import sine_opus_frames
from tests.voice.wired import Wired, wired

STEPS = 6
LISTENERS = {0: 5001, 1: 5002}  # one listener per channel (index: music, lounge)


async def hear(w: Wired, channel_id: int, user_id: int, count: int = 15) -> None:
    frames = sine_opus_frames()[:count]
    await w.server.wait_for_member(w.guild_id, channel_id, w.bot)
    member = w.server.call(w.guild_id, channel_id).listeners[user_id]
    before = len(member.frames)
    for frame in frames:
        await w.conn.send_frame(frame)
    got = await w.server.wait_for_frames(member, before + count)
    assert [f.opus for f in got[before:]] == list(frames)


@pytest.mark.parametrize("seed", range(8))
async def test_a_seeded_sequence_of_faults(seed: int) -> None:
    with trio.fail_after(60):
        async with wired(seed=seed) as w:
            channels = [w.music, w.lounge]
            for index, uid in LISTENERS.items():
                w.server.add_listener(guild_id=w.guild_id, channel_id=channels[index], user_id=uid)
            w.conn.join(w.music)
            await w.next_of(Connected)
            here = 0
            await hear(w, channels[here], LISTENERS[here])
            for _ in range(STEPS):
                connects = sum(isinstance(e, Connected) for e in w.seen)
                what = await w.faults.random_voice_fault(w.guild_id, channels=channels)
                channel = w.world.voice_channel_of(w.guild_id, w.bot)
                assert channel is not None
                here = channels.index(channel)
                # Connected again (a resume, or a fresh session) after this fault.
                while sum(isinstance(e, Connected) for e in w.seen) <= connects:
                    await w.next_event()
                assert w.conn.state is VoiceState.CONNECTED, (seed, what)
                assert w.conn.channel_id == channel, (seed, what)
                await hear(w, channel, LISTENERS[here])
            assert not any(isinstance(e, Disconnected) for e in w.seen), w.faults.history
            assert w.op4[:1] == [w.music] and None not in w.op4, w.faults.history
