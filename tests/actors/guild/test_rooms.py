"""The guild actor's rooms without an emulator: the call's reading of voice events, the
playback's hold, and the pure state functions."""

from __future__ import annotations

import json
import math
from typing import Any

from actors.guild import state
from actors.guild.call import Call, Gone, Hold, MovedTo, Up
from actors.guild.playback import Playback
from musicbot import config
from musicbot.audio.effects import Effects
from musicbot.models.queue import Queue
from musicbot.models.track import Track
from musicbot.voice import CloseAction, Connected, Disconnected, Moved, Reconnecting, StopReason

BOT = 9


async def _no_op4(guild_id: int, channel_id: int | None, mute: bool, deaf: bool) -> None:
    return None


def _call(members: dict[int, int] | None = None) -> Call:
    return Call(
        guild_id=1,
        bot_id=lambda: BOT,
        update_voice_state=_no_op4,
        config=config.build({}, environ={}),
        members=dict(members or {}),
    )


def _connected(channel: int, *, resumed: bool = False) -> Connected:
    return Connected(
        guild_id=1, channel_id=channel, mode="m", dave_protocol_version=1, resumed=resumed
    )


async def test_a_reconnect_holds_and_the_next_connected_releases() -> None:
    call = _call({5: 100})
    assert call.open() is not None and call.open() is None  # one connection
    call.join(100)
    assert call.interpret(_connected(100)) == Up(channel_id=100, resumed=False, after_hold=False)
    waiting = Reconnecting(guild_id=1, action=CloseAction.AWAIT_GATEWAY, close_code=4014)
    assert call.interpret(waiting) == Hold()
    assert call.interpret(Moved(guild_id=1, channel_id=200)) == MovedTo(channel_id=200)
    assert call.channel_id == 200 and call.listeners() == []  # nobody in 200 yet
    assert call.interpret(_connected(200)) == Up(channel_id=200, resumed=False, after_hold=True)
    assert call.interpret(_connected(200, resumed=True)).after_hold is False  # type: ignore[union-attr]


async def test_only_an_end_we_did_not_ask_for_is_gone() -> None:
    call = _call()
    call.open()
    call.join(100)
    call.interpret(_connected(100))
    assert call.interpret(Disconnected(guild_id=1, reason=StopReason.LEFT)) is None
    call.interpret(_connected(100))
    gone = call.interpret(Disconnected(guild_id=1, reason=StopReason.KICKED))
    assert gone == Gone(reason=StopReason.KICKED, channel_id=100)
    assert call.voice is None and call.channel_id is None


async def test_the_bots_own_voice_state_moves_the_call_and_counts_listeners() -> None:
    call = _call({5: 100, 6: 200})
    call.open()
    call.join(100)
    assert call.listeners() == [5] and call.alone_since is None
    assert call.on_member_voice(BOT, 200, "s") is True
    assert call.channel_id == 200 and call.listeners() == [6]
    assert call.on_member_voice(6, None, "s") is False
    assert call.listeners() == [] and call.alone_since is not None


class Player:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def pause(self) -> None:
        self.calls.append("pause")

    async def resume(self) -> None:
        self.calls.append("resume")


async def test_the_hold_keeps_the_position_and_a_members_pause() -> None:
    playback = Playback()
    player = Player()
    playback.player = player  # type: ignore[assignment]
    playback.playing_entry = "e1"
    playback.set_position(12.5, moving=False)
    await playback.hold()
    await playback.hold()  # once
    assert player.calls == ["pause"] and playback.position == 12.5
    assert await playback.release() is True
    assert player.calls == ["pause", "resume"] and playback.position_at is not None
    assert await playback.release() is False  # nothing held any more
    await playback.hold()
    playback.paused = True  # a member paused meanwhile
    assert await playback.release() is True
    assert player.calls == ["pause", "resume", "pause"]  # ... and it stays paused


def test_snapshots_round_trip() -> None:
    queue = Queue(max_length=10)
    queue.add(Track(title="a", webpage_url="https://x/a", entry_id="1"))
    queue.advance()
    data: dict[str, Any] = state.snapshot(
        queue=queue,
        voice_channel_id=100,
        text_channel_id=7,
        position=3.5,
        volume=80,
        effects=Effects(preset="speed", amount=150, eq=(3,) + (0,) * 14),
        stay_24_7=True,
        paused=False,
        locale="vi",
        held=True,
    )
    saved = state.restore(json.loads(json.dumps(data)), max_queue=10)
    assert saved.effects == Effects(preset="speed", amount=150, eq=(3,) + (0,) * 14)
    assert saved.queue.current is not None and saved.queue.current.title == "a"
    assert (saved.voice_channel_id, saved.position, saved.volume, saved.held) == (
        100,
        3.5,
        80,
        True,
    )


def test_deadlines() -> None:
    base: dict[str, Any] = {
        "now": 1000.0,
        "in_voice": True,
        "stay_24_7": False,
        "alone_since": None,
        "idle_since": None,
        "playing": True,
        "pending": 0,
        "held": False,
        "alone_timeout": 60.0,
        "idle_timeout": 300.0,
    }
    assert state.next_deadline(**base) == math.inf
    assert state.next_deadline(**base | {"alone_since": 990.0}) == 1050.0
    assert state.next_deadline(**base | {"alone_since": 990.0, "stay_24_7": True}) == math.inf
    assert state.next_deadline(**base | {"playing": False, "idle_since": 900.0}) == 1200.0
    out = base | {"in_voice": False}
    assert state.next_deadline(**out) == 1030.0  # linger, then stop
    assert state.next_deadline(**out | {"held": True}) == math.inf  # a held queue waits
    assert state.next_deadline(**out | {"pending": 1}) == math.inf


def test_the_actor_imports_no_command_family() -> None:
    """No registration by import and no cycle: the actor runs whatever table it is handed."""
    import subprocess
    import sys

    families = ["commands", "playlists", "settings", "ops_commands", "families"]
    code = (
        "import sys, actors.guild.actor\n"
        f"print([m for m in {families!r} if 'actors.guild.' + m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
