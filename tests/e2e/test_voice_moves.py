"""Moves and voice-server changes mid-song, in both orders and with a delay (issue 12).

On Discord the news of a move or a new voice server (VOICE_STATE_UPDATE, VOICE_SERVER_UPDATE on
the main gateway) and the close of the old voice socket (4014 / 4022) race; the emulator's
fault API (``s.emu.faults``) delivers them in the order and with the delay a test picks.

What a member must notice: nothing.  The music goes on at the position it had (the player is
held while the call reconnects, and the same entry resumes there), the queue is intact, and
nothing is announced as "left".  Position is measured by what the libdave listeners hear: a
queue of two tracks (6 s + 4 s = 500 frames of tone) must be heard whole, minus at most 2 s of
audio lost in the switch, and never with a part heard twice (a restart from 0 would add the
seconds played before the fault).  A kick and a deleted channel still end the session cleanly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from musicbot.emulator.faults import CLOSE_FIRST, EVENTS_FIRST
from musicbot.emulator.voice_call import Listener
from musicbot.models.media import SILENCE_FRAME
from tests.e2e.flow import (
    add_member,
    bot_in_voice,
    bot_messages,
    config,
    frames_after,
    tone_of,
    user,
    wait_message,
    wait_no_ffmpeg,
)
from tests.e2e.harness import stack

FRAMES_PER_SECOND = 50
QUEUED_FRAMES = (6 + 4) * FRAMES_PER_SECOND  # a440 then c880 (tests/e2e/harness.py TONES)
MAX_LOST = 2 * FRAMES_PER_SECOND  # "resumes within 2 s"
LEFT_WORDS = ("Left the voice channel", "disconnected", "couldn't connect", "repeated errors")


def audio(listener: Listener) -> list[bytes]:
    return [f.opus for f in listener.frames if f.opus != SILENCE_FRAME]


def said_left(s: Any) -> list[str]:
    texts = [m.get("content") or "" for m in bot_messages(s)]
    return [t for t in texts if any(w in t for w in LEFT_WORDS)]


async def start_the_queue(s: Any) -> Any:
    me = user(s)
    await me.ask("play", {"query": s.media.media_url("a440")})
    await me.ask("play", {"query": s.media.media_url("c880")})
    await frames_after(s, 0, 2 * FRAMES_PER_SECOND)  # two seconds into a440
    return me


@pytest.mark.parametrize(("order", "delay"), [(EVENTS_FIRST, 0.5), (CLOSE_FIRST, 0.5)])
async def test_a_move_mid_song_goes_on_where_it_was(
    tmp_path: Path, order: str, delay: float
) -> None:
    with trio.fail_after(90):
        async with stack(tmp_path, config=config()) as s:
            quiet = s.guild.channel_named("Quiet").id
            friend = add_member(s, "friend", in_voice=False)
            s.emu.world.move_member(s.guild.id, friend.id, quiet)
            ears = s.voice.add_listener(guild_id=s.guild.id, channel_id=quiet, user_id=friend.id)
            me = await start_the_queue(s)
            await s.emu.faults.move_bot(s.guild.id, quiet, order=order, delay=delay)  # type: ignore[union-attr]
            await wait_message(s, "The queue has finished.")
            heard = audio(s.listener) + audio(ears)
            assert QUEUED_FRAMES - MAX_LOST <= len(heard) <= QUEUED_FRAMES + 5, len(heard)
            assert abs(tone_of(audio(ears)[-150:-10]) - 880) < 15  # c880 played in Quiet
            assert said_left(s) == []
            assert s.emu.world.voice_channel_of(s.guild.id, s.emu.world.bot_user_id) == quiet
            # The member in Quiet has the bot now, and the queue went on as it was.
            assert "[a440]" in await friend.ask("history")
            assert await me.ask("nowplaying") == "Nothing is playing right now."


# (close first with 3 s before the new server: only holding the player keeps those 3 s)
@pytest.mark.parametrize(
    ("order", "delay"), [(EVENTS_FIRST, 0.5), (CLOSE_FIRST, 0.5), (CLOSE_FIRST, 3.0)]
)
async def test_a_voice_server_change_mid_song_goes_on_where_it_was(
    tmp_path: Path, order: str, delay: float
) -> None:
    with trio.fail_after(90):
        async with stack(tmp_path, config=config()) as s:
            me = await start_the_queue(s)
            assert "`1.` [c880]" in await me.ask("queue")
            await s.emu.faults.change_voice_server(s.guild.id, order=order, delay=delay)  # type: ignore[union-attr]
            assert "`1.` [c880]" in await me.ask("queue")  # intact
            await wait_message(s, "The queue has finished.")
            heard = audio(s.listener)
            assert QUEUED_FRAMES - MAX_LOST <= len(heard) <= QUEUED_FRAMES + 5, len(heard)
            assert abs(tone_of(heard[-150:-10]) - 880) < 15
            assert said_left(s) == []
            assert bot_in_voice(s)


async def test_a_kick_with_the_close_first_still_ends_the_session(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with stack(tmp_path, config=config()) as s:
            me = await start_the_queue(s)
            await s.emu.faults.kick_bot(s.guild.id, order=CLOSE_FIRST, delay=0.3)  # type: ignore[union-attr]
            await wait_message(s, "I was disconnected from the voice channel.")
            await wait_no_ffmpeg()
            assert not bot_in_voice(s)
            assert "The queue is empty." in await me.ask("queue")


async def test_a_deleted_channel_ends_the_session(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with stack(tmp_path, config=config()) as s:
            me = await start_the_queue(s)
            s.emu.world.delete_channel(s.guild.id, s.voice_channel)
            await wait_no_ffmpeg()
            await s.voice.wait_until(lambda: not bot_in_voice(s))
            assert "The queue is empty." in await me.ask("queue")
