"""A moderator moves the bot to another channel (it follows) or disconnects it (it cleans up)."""

from __future__ import annotations

from pathlib import Path

import trio

from musicbot.models.media import SILENCE_FRAME
from tests.e2e.flow import (
    add_member,
    bot_in_voice,
    config,
    frames_after,
    tone_of,
    user,
    wait_message,
    wait_no_ffmpeg,
)
from tests.e2e.harness import stack


async def test_follows_a_move_and_cleans_up_when_kicked(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with stack(tmp_path, config=config()) as s:
            me = user(s)
            quiet = s.guild.channel_named("Quiet").id
            friend = add_member(s, "friend", in_voice=False)
            s.emu.world.move_member(s.guild.id, friend.id, quiet)
            friend_ears = s.voice.add_listener(
                guild_id=s.guild.id, channel_id=quiet, user_id=friend.id
            )
            await me.ask("play", {"query": s.media.media_url("a440")})
            await me.ask("repeat", {"mode": "track"})
            await frames_after(s, 0, 5)

            bot = s.emu.world.bot_user_id
            s.emu.world.move_member(s.guild.id, bot, quiet)  # dragged by a moderator
            await s.voice.wait_until(
                lambda: sum(1 for f in friend_ears.frames if f.opus != SILENCE_FRAME) >= 60
            )
            packets = [f.opus for f in friend_ears.frames if f.opus != SILENCE_FRAME]
            assert abs(tone_of(packets[10:60]) - 440) < 10
            # The bot now plays in Quiet: the member there may use it; Lounge is elsewhere.
            assert (await friend.ask("nowplaying")).startswith("▶ Now playing")

            s.emu.world.move_member(s.guild.id, bot, None)  # disconnected by a moderator
            await wait_message(s, "I was disconnected from the voice channel.")
            await wait_no_ffmpeg()
            assert not bot_in_voice(s)
            assert await me.ask("nowplaying") == "Nothing is playing right now."
            # And it comes back on request.
            at = len(s.listener.frames)
            await me.ask("play", {"query": s.media.media_url("e660")})
            assert abs(tone_of((await frames_after(s, at, 60))[10:]) - 660) < 10


async def test_a_bot_left_alone_comes_to_the_member_who_asks(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with stack(tmp_path, config=config()) as s:
            me = user(s)
            quiet = s.guild.channel_named("Quiet").id
            friend = add_member(s, "friend", in_voice=False)
            s.emu.world.move_member(s.guild.id, friend.id, quiet)
            friend_ears = s.voice.add_listener(
                guild_id=s.guild.id, channel_id=quiet, user_id=friend.id
            )
            await me.ask("play", {"query": s.media.media_url("a440")})
            await frames_after(s, 0, 5)
            busy = await friend.ask("play", {"query": s.media.media_url("e660")})
            assert busy.startswith("I'm already playing in")
            s.emu.world.move_member(s.guild.id, me.id, None)  # the bot is alone in Lounge now
            assert (await friend.ask("play", {"query": s.media.media_url("e660")})).startswith(
                "Added **e660**"
            )
            bot = s.emu.world.bot_user_id
            await s.voice.wait_until(lambda: s.emu.world.voice_channel_of(s.guild.id, bot) == quiet)
            await s.voice.wait_until(
                lambda: sum(1 for f in friend_ears.frames if f.opus != SILENCE_FRAME) >= 5
            )
