"""The emulator's voice faults (``emu.faults``) seen from the bot's voice connection: closes on
demand, lost datagrams (deterministic from a seed), MLS members leaving and joining mid-song;
and the faults object and CA reachable from ``open_emulator``.  Moves, voice-server changes and
kicks in both orders are in tests/voice/test_moves.py."""

from __future__ import annotations

import random

import pytest
import trio

from musicbot.emulator.faults import CLOSE_FIRST, VoiceFaults
from musicbot.emulator.server import open_emulator
from musicbot.emulator.voice import VoiceServer
from musicbot.voice import CloseAction, Connected, Reconnecting
from tests.voice.helpers import sine_opus_frames
from tests.voice.wired import Wired, wired

LISTENER = 4242
LISTENER_2 = 4243


async def join_with(w: Wired, *listeners: int) -> None:
    for uid in listeners:
        w.server.add_listener(guild_id=w.guild_id, channel_id=w.music, user_id=uid)
    w.conn.join(w.music)
    await w.next_of(Connected)
    await w.server.wait_for_member(w.guild_id, w.music, w.bot)


async def send(w: Wired, frames: tuple[bytes, ...] | list[bytes]) -> None:
    for frame in frames:
        await w.conn.send_frame(frame)


@pytest.mark.parametrize(
    ("code", "action", "identifies"), [(4015, CloseAction.RESUME, 1), (4006, CloseAction.REJOIN, 2)]
)
async def test_close_voice_on_demand(code: int, action: CloseAction, identifies: int) -> None:
    with trio.fail_after(30):
        async with wired() as w:
            await join_with(w, LISTENER)
            await w.faults.close_voice(w.guild_id, code)
            reconnecting = await w.next_of(Reconnecting)
            assert reconnecting.action is action and reconnecting.close_code == code
            again = await w.next_of(Connected)
            assert again.resumed is (action is CloseAction.RESUME)
    assert len(w.server.identifies) == identifies
    assert w.faults.history == [f"close_voice {w.guild_id} code={code}"]


async def lost_with_seed(seed: int) -> tuple[int, list[int]]:
    """Send 200 frames with 20% loss; how many were lost and which RTP seqs arrived."""
    frames = sine_opus_frames()[:100] * 2
    async with wired(seed=seed) as w:
        await join_with(w, LISTENER)
        member = w.server.call(w.guild_id, w.music).listeners[LISTENER]
        w.faults.lose_udp_randomly(0.2)
        await send(w, frames)
        w.faults.lose_udp_randomly(0.0)
        await send(w, frames[:1])  # a marker: everything before it was delivered or lost
        await w.server.wait_until(lambda: w.server.lost_packets + len(member.frames) >= 201)
        first = member.frames[0].seq
        return w.server.lost_packets, [(f.seq - first) % 65536 for f in member.frames]


async def test_random_udp_loss_replays_from_its_seed() -> None:
    with trio.fail_after(60):
        lost_a, seqs_a = await lost_with_seed(7)
        lost_b, seqs_b = await lost_with_seed(7)
        lost_c, _ = await lost_with_seed(8)
    assert 0 < lost_a < 200 and lost_a + len(seqs_a) == 201
    assert (lost_a, seqs_a) == (lost_b, seqs_b)  # the same datagrams, by position
    expected = random.Random(8)
    assert lost_c == sum(expected.random() < 0.2 for _ in range(200))


async def test_counted_udp_loss() -> None:
    frames = sine_opus_frames()[:30]
    with trio.fail_after(30):
        async with wired() as w:
            await join_with(w, LISTENER)
            member = w.server.call(w.guild_id, w.music).listeners[LISTENER]
            w.faults.lose_udp(5)
            await send(w, frames)
            got = await w.server.wait_for_frames(member, 25)
    assert [f.opus for f in got] == list(frames[5:])
    assert w.server.lost_packets == 5


async def test_peer_leaves_the_mls_group_mid_song() -> None:
    frames = sine_opus_frames()[:60]
    with trio.fail_after(30):
        async with wired() as w:
            member = w.world.add_member(w.guild_id, "leaver", user_id=LISTENER_2)
            await join_with(w, LISTENER)
            leaver = w.faults.peer_joins(w.guild_id, w.music, member.user_id)
            assert w.world.voice_channel_of(w.guild_id, member.user_id) == w.music
            await w.server.wait_for_member(w.guild_id, w.music, LISTENER_2)
            epoch = w.server.call(w.guild_id, w.music).epoch
            await send(w, frames[:30])
            await w.server.wait_for_frames(leaver, 30)
            w.faults.peer_leaves(w.guild_id, w.music, member.user_id)
            await w.server.wait_for_epoch(w.guild_id, w.music, epoch + 1)  # a new epoch
            await send(w, frames[30:])
            stayer = w.server.call(w.guild_id, w.music).listeners[LISTENER]
            got = await w.server.wait_for_frames(stayer, len(frames))
    assert [f.opus for f in got] == list(frames)  # the one who stayed heard all of it
    assert [f.opus for f in leaver.frames] == list(frames[:30])
    assert w.world.voice_channel_of(w.guild_id, member.user_id) is None


async def test_bad_arguments_are_refused_before_anything_happens() -> None:
    with trio.fail_after(30):
        async with wired() as w:
            with pytest.raises(LookupError):
                await w.faults.move_bot(w.guild_id, w.lounge)  # not in voice yet
            await join_with(w, LISTENER)
            with pytest.raises(ValueError, match="order"):
                await w.faults.move_bot(w.guild_id, w.lounge, order="sideways")  # type: ignore[arg-type]
            with pytest.raises(ValueError, match="delay"):
                await w.faults.kick_bot(w.guild_id, order=CLOSE_FIRST, delay=-1)
            assert w.server.session_of(w.guild_id, w.bot).socket is not None  # untouched


async def test_open_emulator_exposes_faults_and_its_ca() -> None:
    with trio.fail_after(30):
        async with open_emulator(voice_backend=VoiceServer(), rest=False, faults_seed=3) as emu:
            assert isinstance(emu.faults, VoiceFaults) and emu.faults.seed == 3
            assert emu.ca_file and emu.ca_file == getattr(emu.voice, "ca_file", None)
            cfg = emu.bot_config()
            assert cfg.discord.ca_file == emu.ca_file
        async with open_emulator(rest=False) as plain:
            assert plain.faults is None and plain.ca_file == ""


async def test_faults_on_a_bot_without_a_session_are_no_ops() -> None:
    with trio.fail_after(30):
        async with wired() as w:
            await join_with(w, LISTENER)
            # Between sessions (e.g. after a 4006, before the rejoin's op 4 is answered):
            old = w.server.detach_session(guild_id=w.guild_id, user_id=w.bot)
            assert old is not None and old.socket is not None
            await w.faults.close_voice(w.guild_id, 4015)  # nothing to close: no error
            await w.server.drop_client(w.guild_id, w.bot)  # likewise
            assert old.socket is not None and w.server.refused == []  # nothing was touched
