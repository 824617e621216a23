"""Moves, voice-server changes and kicks, with the voice close (4014/4022) before or after the
gateway's events and a delay between them, as the emulator's faults deliver them.

What must hold (protocol.md §2, "Voice close codes"): a 4014/4022 is not the end; the
connection neither reconnects that socket nor sends op 4; a new VOICE_SERVER_UPDATE connects
afresh (``Connected(resumed=False)``), a VOICE_STATE_UPDATE without a channel is a kick, and
silence for ``move_timeout`` ends the call."""

from __future__ import annotations

import pytest
import trio

from musicbot.emulator.faults import CLOSE_FIRST, EVENTS_FIRST, Between, Order
from musicbot.voice import (
    CloseAction,
    Connected,
    Disconnected,
    Moved,
    Reconnecting,
    StopReason,
    VoiceState,
)
from tests.voice.helpers import sine_opus_frames
from tests.voice.wired import Wired, wired

LISTENER = 4242
LISTENER_2 = 4243
HOME_LISTENER = 4244  # somebody in the first channel, so that its DAVE group forms

# (order, delay, code, gated): a gated close-first scenario holds the events back until the
# connection reported the close (so it surely waits for the gateway); without the gate, which
# socket the connection hears first is a race, as on Discord, and the outcome must not change.
SCENARIOS = [
    (EVENTS_FIRST, 0.0, 4014, False),
    (EVENTS_FIRST, 0.3, 4014, False),
    (EVENTS_FIRST, 0.3, 4022, False),
    (CLOSE_FIRST, 0.0, 4014, False),
    (CLOSE_FIRST, 0.0, 4014, True),
    (CLOSE_FIRST, 0.3, 4014, True),
    (CLOSE_FIRST, 0.3, 4022, True),
]


async def join(w: Wired) -> Connected:
    w.server.add_listener(guild_id=w.guild_id, channel_id=w.music, user_id=HOME_LISTENER)
    w.conn.join(w.music)
    connected = await w.next_of(Connected)
    await w.server.wait_for_member(w.guild_id, w.music, w.bot)
    return connected


async def play(w: Wired, channel_id: int, listener_id: int, count: int = 30) -> list[bytes]:
    """Send ``count`` frames once the bot is in ``channel_id``'s DAVE group; what it heard."""
    frames = sine_opus_frames()[:count]
    await w.server.wait_for_member(w.guild_id, channel_id, w.bot)
    member = w.server.call(w.guild_id, channel_id).listeners[listener_id]
    heard = len(member.frames)
    for frame in frames:
        await w.conn.send_frame(frame)
    got = await w.server.wait_for_frames(member, heard + count)
    assert [f.opus for f in got[-count:]] == list(frames)
    return [f.opus for f in got]


def assert_never_ended(w: Wired) -> None:
    assert not any(isinstance(e, Disconnected) for e in w.seen)
    assert w.op4 == [w.music]  # the one join: no rejoin, and no op 4 with no channel


def gate(w: Wired, gated: bool) -> Between | None:
    return (lambda: w.next_of(Reconnecting)) if gated else None


def assert_waited_as_expected(w: Wired, order: Order, code: int, gated: bool) -> None:
    """Exactly one ``Reconnecting`` (so the owner can hold playback), whichever came first."""
    waits = [e for e in w.seen if isinstance(e, Reconnecting)]
    awaited = Reconnecting(guild_id=w.guild_id, action=CloseAction.AWAIT_GATEWAY, close_code=code)
    replaced = Reconnecting(guild_id=w.guild_id, action=CloseAction.REJOIN, close_code=None)
    if order == EVENTS_FIRST:
        assert waits == [replaced]  # and the old socket's close arrived stale: a no-op
    elif gated:
        assert waits == [awaited]
    else:
        assert waits in ([replaced], [awaited])


@pytest.mark.parametrize(("order", "delay", "code", "gated"), SCENARIOS)
async def test_moved_by_a_moderator(order: Order, delay: float, code: int, gated: bool) -> None:
    with trio.fail_after(30):
        async with wired() as w:
            w.server.add_listener(guild_id=w.guild_id, channel_id=w.lounge, user_id=LISTENER)
            await join(w)
            await w.faults.move_bot(
                w.guild_id, w.lounge, order=order, delay=delay, code=code, between=gate(w, gated)
            )
            moved = await w.next_of(Moved)
            assert moved == Moved(guild_id=w.guild_id, channel_id=w.lounge)
            again = await w.next_of(Connected)
            assert again.channel_id == w.lounge and not again.resumed
            await play(w, w.lounge, LISTENER)
            assert w.conn.state is VoiceState.CONNECTED
            assert_never_ended(w)
            assert_waited_as_expected(w, order, code, gated)
    assert len(w.server.identifies) == 2  # a fresh session in the new channel
    assert w.server.resumes == []
    assert (w.conn.stats.rejoins, w.conn.stats.resumes) == (1, 0)  # counted once, for metrics


@pytest.mark.parametrize(("order", "delay", "code", "gated"), SCENARIOS)
async def test_voice_server_changes_mid_song(
    order: Order, delay: float, code: int, gated: bool
) -> None:
    with trio.fail_after(30):
        async with wired() as w:
            await join(w)
            before = await play(w, w.music, HOME_LISTENER)
            session_id = w.server.session_of(w.guild_id, w.bot).session_id
            endpoint = await w.faults.change_voice_server(
                w.guild_id, order=order, delay=delay, code=code, between=gate(w, gated)
            )
            again = await w.next_of(Connected)
            assert again.channel_id == w.music and not again.resumed
            after = await play(w, w.music, HOME_LISTENER)
            assert len(after) == 2 * len(before)  # the listener heard both halves
            assert_never_ended(w)
            assert not any(isinstance(e, Moved) for e in w.seen)
            assert_waited_as_expected(w, order, code, gated)
    assert w.server.identified_at == [w.server.endpoint, endpoint]  # the new server, fresh
    assert endpoint != w.server.endpoint and "://" not in endpoint  # no scheme, as Discord's
    assert w.server.identifies[1]["session_id"] == session_id  # the same voice state


@pytest.mark.parametrize("order", [EVENTS_FIRST, CLOSE_FIRST])
async def test_kicked_ends_the_call_without_op4(order: Order) -> None:
    with trio.fail_after(30):
        async with wired() as w:
            await join(w)
            await w.faults.kick_bot(
                w.guild_id, order=order, delay=0.2, between=gate(w, order == CLOSE_FIRST)
            )
            gone = await w.next_of(Disconnected)
            assert gone.reason is StopReason.KICKED
            assert w.conn.state is VoiceState.DISCONNECTED
    assert w.op4 == [w.music]  # we are out already: nothing to leave
    assert len(w.server.identifies) == 1  # and nothing reconnected


async def test_deleted_channel_ends_the_call() -> None:
    with trio.fail_after(30):
        async with wired() as w:
            await join(w)
            w.world.delete_channel(w.guild_id, w.music)
            gone = await w.next_of(Disconnected)
            assert gone.reason is StopReason.KICKED
    assert w.op4 == [w.music] and len(w.server.identifies) == 1


@pytest.mark.parametrize(
    ("code", "reason", "op4"),
    [(4014, StopReason.KICKED, False), (4022, StopReason.CALL_TERMINATED, True)],
)
async def test_no_word_from_the_gateway_ends_the_call(
    code: int, reason: StopReason, op4: bool
) -> None:
    with trio.fail_after(30):
        async with wired(move_timeout=0.5) as w:
            await join(w)
            await w.faults.close_voice(w.guild_id, code)
            waiting = await w.next_of(Reconnecting)
            assert waiting.action is CloseAction.AWAIT_GATEWAY
            assert w.conn.state is VoiceState.AWAITING_GATEWAY
            gone = await w.next_of(Disconnected)
            assert gone.reason is reason and gone.close_code == code
            # After 4014 we are out already; after 4022 we make sure the gateway agrees, and
            # the leave has gone out by the time the owner hears the call is over (a join it
            # sends at once must not be undone by our late leave).
            assert w.op4 == ([w.music, None] if op4 else [w.music])
    assert w.op4 == ([w.music, None] if op4 else [w.music])
    assert len(w.server.identifies) == 1 and w.server.resumes == []


async def test_move_after_a_long_delay_still_inside_the_timeout() -> None:
    """The wait is bounded by ``move_timeout``, not by the join timeout or a heartbeat."""
    with trio.fail_after(30):
        async with wired(move_timeout=5.0) as w:
            w.server.add_listener(guild_id=w.guild_id, channel_id=w.lounge, user_id=LISTENER_2)
            await join(w)
            await w.faults.move_bot(
                w.guild_id, w.lounge, order=CLOSE_FIRST, delay=1.0, between=gate(w, True)
            )
            assert (await w.next_of(Connected)).channel_id == w.lounge
            await play(w, w.lounge, LISTENER_2)
            assert_never_ended(w)


@pytest.mark.parametrize("code", [4014, 4022])
async def test_a_new_gateway_session_while_waiting_joins_again(code: int) -> None:
    """The voice server update for a 4014/4022 was lost with a replaced main gateway session
    (op 9 d=false, a new READY replays nothing): the owner says so and the connection joins
    again at once with op 4, well before ``move_timeout``."""
    with trio.fail_after(30):
        async with wired(move_timeout=60.0) as w:
            await join(w)
            await w.faults.close_voice(w.guild_id, code)  # and the gateway's news is lost
            waiting = await w.next_of(Reconnecting)
            assert waiting.action is CloseAction.AWAIT_GATEWAY
            w.conn.on_gateway_ready()
            again = await w.next_of(Connected)
            assert again.channel_id == w.music and not again.resumed
            await play(w, w.music, HOME_LISTENER)
    assert w.op4 == [w.music, w.music]  # the rejoin went out on the new session
    assert not any(isinstance(e, Disconnected) for e in w.seen)


async def test_a_new_gateway_session_while_connected_changes_nothing() -> None:
    with trio.fail_after(30):
        async with wired() as w:
            await join(w)
            w.conn.on_gateway_ready()
            await play(w, w.music, HOME_LISTENER)  # (handled before these frames: in order)
            assert w.conn.state is VoiceState.CONNECTED
    assert w.op4 == [w.music] and len(w.server.identifies) == 1
