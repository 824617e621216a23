"""A member types /play and hears the song: the whole product through the emulator."""

from __future__ import annotations

from pathlib import Path

import trio

from tests.e2e.harness import decode_pcm, dominant_frequency, stack


async def test_play_is_heard_by_an_independent_dave_listener(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with stack(tmp_path) as s:
            record = s.play(s.media.media_url("a440"))
            answer = await s.answer(record)
            assert "a440" in answer
            frames = await s.frames(100)  # two seconds of audio
            packets = [f.opus for f in frames]
            freq = dominant_frequency(decode_pcm(packets))
            assert abs(freq - 440) < 10, freq
