"""Fifty guilds playing at once in one process: every listener hears its guild's bot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import structlog
import trio

from musicbot.emulator.server import Emulator
from musicbot.emulator.voice import VoiceServer
from musicbot.models.media import SILENCE_FRAME
from tests.e2e.flow import ACK_LIMIT, Sent, ack_delays, config
from tests.e2e.harness import stack

GUILDS = 50
FRAMES = 25  # half a second of audio per guild
log = structlog.get_logger(__name__)


@attrs.define
class Place:
    guild_id: int
    text_channel: int
    user_id: int
    listener: Any


def populate(places: list[Place], count: int) -> Any:
    def before_bot(emu: Emulator) -> None:
        voice = emu.voice
        assert isinstance(voice, VoiceServer)
        for i in range(count):
            guild = emu.world.add_guild(f"Guild {i}", text_channels=("music",))
            member = emu.world.add_member(guild.id, f"member{i}")
            listener = voice.add_listener(
                guild_id=guild.id, channel_id=guild.voice_channel.id, user_id=member.user_id
            )
            emu.world.move_member(guild.id, member.user_id, guild.voice_channel.id)
            places.append(Place(guild.id, guild.text_channel.id, member.user_id, listener))

    return before_bot


def heard(listener: Any) -> int:
    return sum(1 for f in listener.frames if f.opus != SILENCE_FRAME)


async def test_fifty_guilds_play_at_once(tmp_path: Path) -> None:
    places: list[Place] = []
    with trio.fail_after(90):
        async with stack(tmp_path, config=config(), before_bot=populate(places, GUILDS - 1)) as s:
            places.append(Place(s.guild.id, s.text_channel, s.user.user_id, s.listener))
            url = s.media.media_url("a440")
            start = trio.current_time()
            sent = [
                Sent(
                    s.emu.command(
                        p.guild_id, p.user_id, "play", {"query": url}, channel_id=p.text_channel
                    ),
                    trio.current_time(),
                )
                for p in places
            ]
            await s.voice.wait_until(lambda: all(heard(p.listener) >= FRAMES for p in places))
            elapsed = trio.current_time() - start
            delays = ack_delays(s, sent)
            log.warning(
                "fifty_guilds_measured",
                guilds=len(places),
                seconds_to_all_heard=round(elapsed, 2),
                max_ack=round(max(delays), 3),
                first_frames=sorted(round(p.listener.frames[0].arrival - start, 1) for p in places),
            )
            assert len(places) == GUILDS
            assert len(s.app.guilds.which_children()) == GUILDS
            assert max(delays) < ACK_LIMIT, delays
            # Each listener hears only its own guild's bot (one sender per call).
            assert all(len({f.ssrc for f in p.listener.frames}) == 1 for p in places)
