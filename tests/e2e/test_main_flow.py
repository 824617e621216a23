"""The main flow a user lives through: play, pause, resume, skip, stop, leave."""

from __future__ import annotations

from pathlib import Path

import trio

from musicbot.models.media import SILENCE_FRAME
from tests.e2e.flow import (
    ACK_LIMIT,
    ack_delays,
    bot_in_voice,
    config,
    ffmpeg_children,
    frames_after,
    np_messages,
    tone_of,
    user,
    wait_frames,
    wait_no_ffmpeg,
    wait_rest,
)
from tests.e2e.harness import Stack, stack


def first_button(s: Stack) -> str | None:
    np = np_messages(s)
    return np[0]["components"][0]["components"][0]["custom_id"] if np else None


async def test_pause_resume_skip_stop_leave(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with stack(tmp_path, config=config()) as s:
            me = user(s)
            assert "a440" in await me.ask("play", {"query": s.media.media_url("a440")})
            assert "e660" in await me.ask("play", {"query": s.media.media_url("e660")})
            await frames_after(s, 0, 25)

            # /pause: five silence frames, then nothing at all.
            assert await me.ask("pause") == "Paused."
            await s.voice.wait_until(
                lambda: [f.opus for f in s.listener.frames[-5:]] == [SILENCE_FRAME] * 5
            )
            paused_at = len(s.listener.frames)
            with trio.move_on_after(0.5):
                await wait_frames(s, paused_at + 1)
            assert len(s.listener.frames) == paused_at, "audio kept flowing while paused"
            # The now-playing message now offers "Resume".
            await wait_rest(s, lambda: first_button(s) == "np:resume")

            # /resume: the same tone again.
            assert await me.ask("resume") == "Resumed."
            await wait_rest(s, lambda: first_button(s) == "np:pause")
            assert abs(tone_of(await frames_after(s, paused_at, 50)) - 440) < 10

            # The now-playing message with buttons was posted once.
            np = await wait_rest(s, lambda: np_messages(s))
            assert len(np) == 1 and "a440" in np[0]["embeds"][0]["description"]
            np_id = np[0]["id"]

            # /skip: the mp3 (transcoded) 660 Hz tone follows.
            assert "Skipped" in await me.ask("skip")
            skipped_at = len(s.listener.frames)  # (a few 440 Hz frames may still be in flight)
            packets = await frames_after(s, skipped_at, 60)
            assert abs(tone_of(packets[10:]) - 660) < 10
            # ... and the now-playing message was edited in place, not posted again.
            await wait_rest(s, lambda: "e660" in np_messages(s)[0]["embeds"][0]["description"])
            assert [m["id"] for m in np_messages(s)] == [np_id]
            assert np_messages(s)[0]["edited_timestamp"] is not None

            # /stop then /leave: no audio, no ffmpeg, not in voice.
            assert "Stopped" in await me.ask("stop")
            await wait_no_ffmpeg()
            assert "Left" in await me.ask("leave")
            await s.voice.wait_until(
                lambda: (s.guild.id, s.emu.world.bot_user_id) not in s.voice.sessions
            )
            assert not bot_in_voice(s)
            assert ffmpeg_children() == []

            delays = ack_delays(s, me.sent)
            assert len(delays) == 7
            assert max(delays) < ACK_LIMIT, delays


async def test_a_slow_extraction_does_not_hold_up_the_guild(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with stack(tmp_path, config=config()) as s:
            me = user(s)
            await me.ask("play", {"query": s.media.media_url("a440")})
            await frames_after(s, 0, 5)
            s.media.slow_delay = 2.0
            slow = me.run("play", {"query": s.media.url("/slow/media/e660.mp3")})
            await wait_rest(s, lambda: callback_type(s, slow) == 5)  # deferred: "thinking..."
            started = trio.current_time()
            at = len(s.listener.frames)
            assert "[a440]" in await me.ask("queue")
            assert await me.ask("pause") == "Paused."
            assert await me.ask("resume") == "Resumed."
            await frames_after(s, at, 25)  # the music went on meanwhile
            assert trio.current_time() - started < 2.0
            assert s.emu.rest is not None  # ... all before the slow extraction was answered
            assert s.emu.rest.interactions[slow.id].original["content"] == ""
            assert "e660" in await s.answer(slow)  # and the slow one arrives in the end
            assert max(ack_delays(s, me.sent)) < ACK_LIMIT


def callback_type(s: Stack, record: object) -> int | None:
    assert s.emu.rest is not None
    state = s.emu.rest.interactions.get(record.id)  # type: ignore[attr-defined]
    return state.callbacks[0]["type"] if state is not None and state.callbacks else None
