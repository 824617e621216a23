"""The bot leaves a channel where nobody listens, or where nothing plays (unless 24/7)."""

from __future__ import annotations

from pathlib import Path

import trio

from tests.e2e.flow import (
    add_member,
    bot_in_voice,
    config,
    frames_after,
    poll,
    user,
    wait_message,
)
from tests.e2e.harness import stack

MANAGE_GUILD = 1 << 5
ALONE = 1.0
IDLE = 1.0


async def test_alone_timeout_and_24_7(tmp_path: Path) -> None:
    cfg = config(voice={"alone_timeout": ALONE, "idle_timeout": 600.0})
    with trio.fail_after(60):
        async with stack(tmp_path, config=cfg) as s:
            me = user(s)
            dj = add_member(s, "dj", in_voice=False, permissions=(1 << 31) | MANAGE_GUILD)
            await me.ask("play", {"query": s.media.media_url("a440")})
            await me.ask("repeat", {"mode": "track"})
            await frames_after(s, 0, 5)
            assert (await me.ask("247")).startswith("24/7 mode is on")

            # 24/7: the member leaves, the bot stays (checked for 1.5 times the alone timeout).
            s.emu.world.move_member(s.guild.id, me.id, None)
            left_at = trio.current_time()
            with trio.move_on_after(1.5 * ALONE):
                await s.voice.wait_until(lambda: not bot_in_voice(s))
            assert bot_in_voice(s), "left despite 24/7"

            # 24/7 off: the bot has been alone long enough and leaves, saying why.
            assert (await dj.ask("247")).startswith("24/7 mode is off")
            await wait_message(s, "Left the voice channel because nobody was listening.")
            await s.voice.wait_until(lambda: not bot_in_voice(s))
            assert trio.current_time() - left_at >= ALONE

            # Back with a member: joining again works, then leaving alone triggers the timer.
            s.emu.world.move_member(s.guild.id, me.id, s.voice_channel)
            start = len(s.listener.frames)
            await me.ask("play", {"query": s.media.media_url("e660")})
            await frames_after(s, start, 5)
            s.emu.world.move_member(s.guild.id, me.id, None)
            alone_at = trio.current_time()
            await s.voice.wait_until(lambda: not bot_in_voice(s))
            waited = trio.current_time() - alone_at
            assert ALONE <= waited < ALONE + 2.0, waited


async def test_idle_timeout(tmp_path: Path) -> None:
    cfg = config(voice={"alone_timeout": 600.0, "idle_timeout": IDLE})
    with trio.fail_after(60):
        async with stack(tmp_path, config=cfg) as s:
            me = user(s)
            await me.ask("play", {"query": s.media.media_url("c880")})  # 4 s
            await frames_after(s, 0, 5)
            assert await me.ask("seek", {"position": "3"}) == "Moved to 0:03."
            await wait_message(s, "The queue has finished.")
            done_at = trio.current_time()
            await wait_message(s, "Left the voice channel after a while with nothing to play.")
            await s.voice.wait_until(lambda: not bot_in_voice(s))
            waited = trio.current_time() - done_at
            assert IDLE - 0.2 <= waited < IDLE + 2.0, waited
            # With no voice and no queue the guild's actor stops too (memory for active
            # guilds only); the next command starts a fresh one.
            await poll(lambda: s.app.guilds.lookup(s.guild.id) is None)
            # A joined but idle bot leaves too, unless 24/7 is on.
            assert (await me.ask("join")).startswith("Joined")
            await s.voice.wait_until(lambda: bot_in_voice(s))
            assert (await me.ask("247")).startswith("24/7 mode is on")
            with trio.move_on_after(1.5 * IDLE):
                await s.voice.wait_until(lambda: not bot_in_voice(s))
            assert bot_in_voice(s)
            assert (await me.ask("247")).startswith("24/7 mode is off")
            await s.voice.wait_until(lambda: not bot_in_voice(s))
