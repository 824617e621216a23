"""A track that ends in the same instant the call starts reconnecting (chaos seed 33: a 4014
with the close first, a moment before the end of a song).

The player's ``TrackEnded`` was already on its way when the hold paused the player, so the
actor advanced the queue and started the next track into a call that was gone: the listener
never heard it.  The next track must wait for the call to be back, and then start from 0,
whether the call came back by a resume (4015) or by a new session (4014 / 4022)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from actors.events import EventBus
from actors.guild import flow
from actors.guild.actor import BotIdentity, Guild, GuildDeps
from musicbot import config
from musicbot.audio import messages as pm
from musicbot.models.track import Track
from musicbot.storage import Storage
from musicbot.voice import CloseAction, Connected, Reconnecting
from musicbot.voice.sender import VoiceSender

GUILD, VOICE, MEMBER, BOT = 1, 2, 3, 4


class Player:
    """Records what the actor asks the player to do."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, float | None]] = []

    async def play(self, track: Track, *, start_at: float) -> None:
        self.calls.append(("play", track.title, start_at))

    async def pause(self) -> None:
        self.calls.append(("pause", None, None))

    async def resume(self) -> None:
        self.calls.append(("resume", None, None))

    async def stop(self) -> None:
        self.calls.append(("stop", None, None))


async def _no_op4(guild_id: int, channel_id: int | None, mute: bool, deaf: bool) -> None:
    return None


def _track(name: str, entry: str) -> Track:
    return Track(
        title=name,
        webpage_url=f"https://example.com/{name}",
        stream_url=f"https://example.com/{name}.ogg",
        duration=1.6,
        entry_id=entry,
        requester_id=MEMBER,
    )


def _guild(root: Path, nursery: trio.Nursery) -> Guild:
    deps = GuildDeps(
        config=config.build({}, environ={}),
        identity=BotIdentity(user_id=BOT, application_id=5),
        rest=None,  # type: ignore[arg-type]  (nothing is posted: no music channel)
        update_voice_state=_no_op4,
        extractor=None,  # type: ignore[arg-type]  (the tracks are resolved)
        bus=EventBus(),
        opener=None,  # type: ignore[arg-type]
        sender=VoiceSender(),
        storage=Storage(root=root),
        voice_members=lambda _gid: {MEMBER: VOICE},
    )
    send, _receive = trio.open_memory_channel[Any](100)
    return Guild(GUILD, deps, send, nursery)


def _connected(*, resumed: bool) -> Any:
    return Connected(
        guild_id=GUILD, channel_id=VOICE, mode="m", dave_protocol_version=1, resumed=resumed
    )


@pytest.mark.parametrize(
    ("action", "code", "resumed"),
    [(CloseAction.AWAIT_GATEWAY, 4014, False), (CloseAction.RESUME, 4015, True)],
)
async def test_a_track_ending_during_the_hold_waits_for_the_call(
    tmp_path: Path, action: CloseAction, code: int, resumed: bool
) -> None:
    async with trio.open_nursery() as nursery:
        g = _guild(tmp_path, nursery)
        player = Player()
        g.playback.player = player  # type: ignore[assignment]
        g.call.channel_id = VOICE
        first, second = _track("t550", "e1"), _track("t770", "e2")
        g.queue.add(first)
        g.queue.add(second)
        g.queue.advance()
        await flow.on_voice(g, _connected(resumed=False))  # the call is up: t550 plays
        assert player.calls == [("play", "t550", 0.0)]

        await flow.on_voice(g, Reconnecting(guild_id=GUILD, action=action, close_code=code))
        ended = pm.TrackEnded(track=first, reason=pm.EndReason.FINISHED, position=1.6)
        await flow.on_player(g, ended)  # was already on its way
        assert g.queue.current is not None and g.queue.current.title == "t770"
        assert [c[0] for c in player.calls] == ["play", "pause"]  # t770 waits

        await flow.on_voice(g, _connected(resumed=resumed))
        assert player.calls[-1] == ("play", "t770", 0.0)  # from its start, once
        assert [c[0] for c in player.calls].count("play") == 2
        nursery.cancel_scope.cancel()
