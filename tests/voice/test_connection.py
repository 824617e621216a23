"""The voice connection against the emulator's voice server and libdave listeners."""

from __future__ import annotations

import trio

from musicbot.models.media import SILENCE_FRAME
from musicbot.voice import Connected
from tests.voice.helpers import (
    CHANNEL,
    GUILD,
    LISTENER,
    MODE_AES,
    MODE_XCHACHA,
    sine_opus_frames,
    voice_env,
)


async def test_listener_decrypts_every_frame_aes() -> None:
    frames = sine_opus_frames()
    with trio.fail_after(20):
        async with voice_env(modes=(MODE_AES, MODE_XCHACHA)) as env:
            env.conn.join(CHANNEL)
            connected = await env.next_event(Connected)
            assert connected.mode == MODE_AES
            await env.server.wait_for_epoch(GUILD, CHANNEL, 1)
            await env.send_all(frames)
            await env.conn.send_silence()
            listener = env.server.call(GUILD, CHANNEL).listeners[LISTENER]
            got = await env.server.wait_for_frames(listener, len(frames) + 5)
            assert [f.opus for f in got] == [*frames, *[SILENCE_FRAME] * 5]
