"""The voice connection against the emulator's voice server, whose listeners decrypt with
libdave (dave.py) what the bot encrypts with davey.  Frames are sent as fast as possible."""

from __future__ import annotations

import itertools

import davey
import pytest
import structlog
import trio

from musicbot.emulator.voice_call import Listener, ReceivedFrame
from musicbot.models.media import SAMPLES_PER_FRAME, SILENCE_FRAME
from musicbot.voice import (
    CloseAction,
    Connected,
    Disconnected,
    Reconnecting,
    StopReason,
    VoiceSettings,
    VoiceState,
)
from tests.voice.helpers import (
    BOT,
    CHANNEL,
    COMMITTER_BOT,
    COMMITTER_LISTENER,
    GUILD,
    LISTENER,
    LISTENER_2,
    MODE_AES,
    MODE_XCHACHA,
    OTHER_CHANNEL,
    VoiceEnv,
    sine_opus_frames,
    voice_env,
)

OP_KEY_PACKAGE = 26
OP_COMMIT_WELCOME = 28
OP_WELCOME = 30
OP_INVALID_COMMIT_WELCOME = 31


def assert_contiguous(got: list[ReceivedFrame]) -> None:
    """Consecutive RTP sequence numbers (mod 2^16) and +960 timestamps, one SSRC."""
    for a, b in itertools.pairwise(got):
        assert b.seq == (a.seq + 1) % 65536
        assert b.timestamp == (a.timestamp + SAMPLES_PER_FRAME) % 2**32
        assert b.ssrc == a.ssrc


async def connect(env: VoiceEnv) -> Connected:
    """Join and wait until the bot is a member of the channel's DAVE group."""
    env.conn.join(CHANNEL)
    connected = await env.next_event(Connected)
    await env.server.wait_for_member(GUILD, CHANNEL, BOT)
    return connected


def listener(env: VoiceEnv, user_id: int = LISTENER) -> Listener:
    return env.server.call(GUILD, CHANNEL).listeners[user_id]


# What the server offers, and the transport mode the bot must choose from it.
EITHER_MODE = pytest.mark.parametrize(
    ("offered", "chosen"),
    [((MODE_XCHACHA, MODE_AES), MODE_AES), ((MODE_XCHACHA,), MODE_XCHACHA)],
)


@EITHER_MODE
async def test_listener_decrypts_every_frame_in_order(
    offered: tuple[str, ...], chosen: str
) -> None:
    frames = sine_opus_frames()
    with trio.fail_after(20):
        async with voice_env(modes=offered) as env:
            connected = await connect(env)
            assert connected.mode == chosen and connected.dave_protocol_version == 1
            identify = env.server.identifies[0]
            assert identify["max_dave_protocol_version"] == davey.DAVE_PROTOCOL_VERSION
            await env.send_all(frames)
            await env.conn.send_silence()
            got = await env.server.wait_for_frames(listener(env), len(frames) + 5)
            session = env.server.session_of(GUILD, BOT)
            await env.server.wait_until(lambda: session.speaking[-1:] == [0])

    assert [f.opus for f in got] == [*frames, *[SILENCE_FRAME] * 5]
    assert all(f.e2ee for f in got[: len(frames)])  # audio was end-to-end encrypted
    assert not any(f.e2ee for f in got[len(frames) :])  # silence passes through DAVE
    assert {(f.sender_id, f.ssrc) for f in got} == {(BOT, session.ssrc)}
    assert_contiguous(got)
    assert session.mode == chosen and session.auth_failures == 0
    # Speaking went out before the first packet and was turned off after the silence.
    assert session.speaking == [1, 0]
    assert env.conn.stats.frames_sent == len(frames) + 5
    assert env.conn.stats.frames_dropped == 0


@EITHER_MODE
async def test_the_voice_senders_path_reaches_the_listener_in_both_modes(
    offered: tuple[str, ...], chosen: str
) -> None:
    # send_frame_nowait is what the one voice sender calls every tick: AES-GCM goes through
    # the C accelerator, XChaCha20 through the Python packetizer; libdave decrypts both.
    frames = sine_opus_frames(seconds=1.0)
    with trio.fail_after(20):
        async with voice_env(modes=offered) as env:
            connected = await connect(env)
            assert connected.mode == chosen
            await env.conn.set_speaking(True)
            for frame in frames:
                env.conn.send_frame_nowait(frame)
                await trio.lowlevel.checkpoint()  # let the emulator read its socket
            got = await env.server.wait_for_frames(listener(env), len(frames))
    assert [f.opus for f in got] == list(frames)
    assert all(f.e2ee for f in got)
    assert_contiguous(got)
    assert env.conn.stats.frames_sent == len(frames) and env.conn.stats.frames_dropped == 0


@pytest.mark.parametrize("committer", [COMMITTER_BOT, COMMITTER_LISTENER])
async def test_second_listener_joins_mid_stream(committer: str) -> None:
    frames = sine_opus_frames()
    with trio.fail_after(20):
        async with voice_env(committer=committer) as env:
            await connect(env)
            await env.send_all(frames[:40])
            second = env.server.add_listener(guild_id=GUILD, channel_id=CHANNEL, user_id=LISTENER_2)
            await env.send_all(frames[40:60])  # while the commit is in flight
            await env.server.wait_for_epoch(GUILD, CHANNEL, 2)
            await env.send_all(frames[60:])
            first_got = await env.server.wait_for_frames(listener(env), len(frames))
            await env.server.wait_until(
                lambda: bool(second.frames) and second.frames[-1].opus == frames[-1]
            )
            assert env.conn.dave_epoch == 2

    assert [f.opus for f in first_got] == list(frames)  # the first listener missed nothing
    # The newcomer decrypts every frame from its first epoch on: a contiguous tail.
    tail = [f.opus for f in second.frames]
    assert second.first_epoch == 2
    assert tail == list(frames[len(frames) - len(tail) :])
    assert len(tail) >= len(frames) - 60
    assert_contiguous(second.frames)


@pytest.mark.parametrize("committer", [COMMITTER_BOT, COMMITTER_LISTENER])
async def test_member_leaves_and_the_rest_keep_decrypting(committer: str) -> None:
    frames = sine_opus_frames()
    with trio.fail_after(20):
        async with voice_env(listeners=(LISTENER, LISTENER_2), committer=committer) as env:
            await connect(env)
            epoch = env.server.call(GUILD, CHANNEL).epoch
            leaving = listener(env, LISTENER_2)
            await env.send_all(frames[:50])
            await env.server.wait_for_frames(leaving, 50)
            env.server.remove_listener(guild_id=GUILD, channel_id=CHANNEL, user_id=LISTENER_2)
            await env.server.wait_for_epoch(GUILD, CHANNEL, epoch + 1)
            await env.send_all(frames[50:])
            got = await env.server.wait_for_frames(listener(env), len(frames))
            assert env.conn.dave_epoch == epoch + 1

    assert [f.opus for f in got] == list(frames)
    assert [f.opus for f in leaving.frames] == list(frames[:50])
    assert listener(env).epochs[-2:] == [epoch, epoch + 1]


async def test_4015_resumes_with_rtp_continuity() -> None:
    frames = sine_opus_frames()
    with trio.fail_after(20):
        async with voice_env() as env:
            await connect(env)
            await env.send_all(frames[:50])
            session = env.server.session_of(GUILD, BOT)
            seq_before = session.seq
            await env.server.close_client(GUILD, BOT, 4015)
            reconnecting = await env.next_event(Reconnecting)
            assert reconnecting.action is CloseAction.RESUME and reconnecting.close_code == 4015
            await env.send_all(frames[50:60])  # the player's clock keeps going: dropped
            assert env.conn.stats.frames_dropped == 10
            resumed = await env.next_event(Connected)
            assert resumed.resumed
            await env.send_all(frames[60:])
            got = await env.server.wait_for_frames(listener(env), len(frames) - 10)

    assert len(env.server.identifies) == 1 and len(env.server.resumes) == 1  # no rejoin
    assert len(env.gateway.op4) == 1
    assert env.server.resumes[0]["seq_ack"] == seq_before  # buffered resume acks all it saw
    assert [f.opus for f in got] == [*frames[:50], *frames[60:]]
    assert_contiguous(got[:50])
    assert_contiguous(got[50:])
    gap_seq = (got[50].seq - got[49].seq) % 65536
    gap_ts = (got[50].timestamp - got[49].timestamp) % 2**32
    assert gap_seq == 1  # no packet was lost on the wire
    assert gap_ts == 11 * SAMPLES_PER_FRAME  # but 10 frames' worth of time passed
    assert env.conn.stats.resumes == 1


async def test_dropped_socket_resumes_and_replays_missed_messages() -> None:
    frames = sine_opus_frames()
    with trio.fail_after(20):
        async with voice_env() as env:
            await connect(env)
            await env.server.drop_client(GUILD, BOT)
            # While the bot is away a member joins: op 11 and op 27 wait in the session log.
            second = env.server.add_listener(guild_id=GUILD, channel_id=CHANNEL, user_id=LISTENER_2)
            assert (await env.next_event(Reconnecting)).action is CloseAction.RESUME
            assert (await env.next_event(Connected)).resumed
            await env.server.wait_for_epoch(GUILD, CHANNEL, 2)
            await env.send_all(frames)
            got = await env.server.wait_for_frames(second, len(frames))

    assert [f.opus for f in got] == list(frames)
    assert len(env.server.identifies) == 1 and len(env.gateway.op4) == 1


async def test_4014_waits_for_the_gateway_then_reports_kicked() -> None:
    """No new server update and no state update within ``move_timeout``: the call is over,
    without reconnecting that socket and without op 4 (we are out already)."""
    settings = VoiceSettings(join_timeout=5.0, handshake_timeout=5.0, move_timeout=0.5)
    with trio.fail_after(20):
        async with voice_env(settings=settings) as env:
            await connect(env)
            await env.server.close_client(GUILD, BOT, 4014)
            waiting = await env.next_event(Reconnecting)
            assert waiting.action is CloseAction.AWAIT_GATEWAY and waiting.close_code == 4014
            gone = await env.next_event(Disconnected)
            assert gone.reason is StopReason.KICKED and gone.close_code == 4014
            assert env.conn.state is VoiceState.DISCONNECTED
            await env.conn.send_frame(sine_opus_frames()[0])
            assert env.conn.stats.frames_dropped == 1
    assert len(env.gateway.op4) == 1 and len(env.server.identifies) == 1
    assert env.server.resumes == []


@pytest.mark.parametrize(
    ("code", "committer"),
    [(4006, COMMITTER_BOT), (4009, COMMITTER_BOT), (4006, COMMITTER_LISTENER)],
)
async def test_invalid_session_does_a_full_rejoin(code: int, committer: str) -> None:
    frames = sine_opus_frames()
    with trio.fail_after(20):
        async with voice_env(committer=committer) as env:
            first = await connect(env)
            await env.server.close_client(GUILD, BOT, code)
            assert (await env.next_event(Reconnecting)).action is CloseAction.REJOIN
            again = await env.next_event(Connected)
            assert not again.resumed and again.mode == first.mode
            await env.server.wait_for_member(GUILD, CHANNEL, BOT)  # the new session is in
            # The bot's group starts over; a listeners' group removes the old leaf, adds the new.
            assert env.server.call(GUILD, CHANNEL).epoch == (1 if committer == "bot" else 3)
            await env.send_all(frames)
            got = await env.server.wait_for_frames(listener(env), len(frames))
    assert [guild for guild, *_ in env.gateway.op4] == [GUILD, GUILD]  # a new op 4
    assert [ch for _, ch, *_ in env.gateway.op4] == [CHANNEL, CHANNEL]
    assert len(env.server.identifies) == 2 and env.server.resumes == []
    assert [f.opus for f in got] == list(frames)


async def test_downgrade_to_plain_opus() -> None:
    frames = sine_opus_frames()
    with trio.fail_after(20):
        async with voice_env() as env:
            await connect(env)
            await env.send_all(frames[:20])
            env.server.downgrade(GUILD, CHANNEL)
            await env.server.wait_until(lambda: env.server.call(GUILD, CHANNEL).idle)
            # Op 22 is on its way; frame by frame until the listener sees plain Opus.
            sent = 20
            while True:
                await env.conn.send_frame(frames[sent])
                sent += 1
                got = await env.server.wait_for_frames(listener(env), sent)
                if not got[-1].e2ee:
                    break
            await env.send_all(frames[sent:])
            got = await env.server.wait_for_frames(listener(env), len(frames))
            assert env.conn.dave_protocol_version == 0
    assert [f.opus for f in got] == list(frames)
    switch = [f.e2ee for f in got].index(False)
    assert switch >= 20
    assert all(f.e2ee for f in got[:switch])
    assert not any(f.e2ee for f in got[switch:])  # protocol 0: plain Opus on the wire


async def test_invalid_commit_is_reported_and_the_group_recovers() -> None:
    frames = sine_opus_frames()
    with trio.fail_after(20):
        async with voice_env() as env:
            await connect(env)
            env.server.send_bad_commit(GUILD, CHANNEL)
            await env.server.wait_for_op(GUILD, BOT, OP_INVALID_COMMIT_WELCOME)
            await env.server.wait_for_op(GUILD, BOT, OP_KEY_PACKAGE, count=2)  # a fresh one
            await env.server.wait_for_epoch(GUILD, CHANNEL, 1)
            await env.send_all(frames)
            got = await env.server.wait_for_frames(listener(env), len(frames))
    assert [f.opus for f in got] == list(frames)
    assert env.server.call(GUILD, CHANNEL).invalid_reports == 1


async def test_heartbeats_acknowledge_the_last_sequence() -> None:
    with trio.fail_after(20):
        async with voice_env(heartbeat_interval_ms=250) as env:
            await connect(env)
            session = env.server.session_of(GUILD, BOT)
            await env.server.wait_until(lambda: session.heartbeat_seq_acks[-1:] == [session.seq])
            assert session.seq > 0


async def test_leave_sends_op4_null_and_reports_left() -> None:
    with trio.fail_after(20):
        async with voice_env() as env:
            await connect(env)
            env.conn.leave()
            gone = await env.next_event(Disconnected)
    assert gone.reason is StopReason.LEFT
    assert env.gateway.op4[-1][1] is None


async def test_server_gone_then_a_new_server() -> None:
    with trio.fail_after(20):
        async with voice_env() as env:
            await connect(env)
            env.conn.on_voice_server_update(token="unused", endpoint=None)
            gone = await env.next_event(Reconnecting)
            assert gone.action is CloseAction.REJOIN and env.conn.state is VoiceState.JOINING
            token, endpoint = env.server.create_session(
                guild_id=GUILD, channel_id=CHANNEL, user_id=BOT, session_id="s2"
            )
            env.conn.on_voice_state_update(session_id="s2", channel_id=CHANNEL)
            env.conn.on_voice_server_update(token=token, endpoint=endpoint)
            again = await env.next_event(Connected)
    assert not again.resumed
    assert len(env.gateway.op4) == 1  # the server moved; we did not ask again
    assert len(env.server.identifies) == 2


async def test_join_gives_up_when_discord_never_answers(autojump_clock: trio.abc.Clock) -> None:
    settings = VoiceSettings(join_timeout=2.0, max_attempts=2)
    with trio.fail_after(60):
        async with voice_env(settings=settings) as env:
            env.gateway.answer = False
            env.conn.join(CHANNEL)
            gone = await env.next_event(Disconnected)
    assert gone.reason is StopReason.FAILED
    assert [ch for _, ch, *_ in env.gateway.op4] == [CHANNEL, CHANNEL, CHANNEL, None]


async def test_upgrade_back_to_dave_after_a_downgrade() -> None:
    frames = sine_opus_frames()
    with trio.fail_after(20):
        async with voice_env() as env:
            await connect(env)
            env.server.downgrade(GUILD, CHANNEL)
            await env.server.wait_until(lambda: env.server.call(GUILD, CHANNEL).idle)
            env.server.upgrade(GUILD, CHANNEL)
            await env.server.wait_for_op(GUILD, BOT, OP_KEY_PACKAGE, count=2)
            await env.server.wait_for_epoch(GUILD, CHANNEL, 1)
            # Op 22 of the new group's transition is on its way; wait for E2EE on the wire.
            sent = 0
            while True:
                await env.conn.send_frame(frames[sent])
                sent += 1
                got = await env.server.wait_for_frames(listener(env), sent)
                if got[-1].e2ee:
                    break
            await env.send_all(frames[sent:])
            got = await env.server.wait_for_frames(listener(env), len(frames))
            assert env.conn.dave_protocol_version == 1
    assert [f.opus for f in got] == list(frames)
    assert all(f.e2ee for f in got[sent - 1 :])


async def test_missing_heartbeat_ack_resumes() -> None:
    with trio.fail_after(20):
        async with voice_env(heartbeat_interval_ms=250) as env:
            await connect(env)
            env.server.acks_paused = True
            reconnecting = await env.next_event(Reconnecting)
            assert reconnecting.action is CloseAction.RESUME
            env.server.acks_paused = False
            assert (await env.next_event(Connected)).resumed
    assert len(env.server.resumes) == 1 and len(env.gateway.op4) == 1


async def test_unknown_close_code_backs_off_then_rejoins() -> None:
    frames = sine_opus_frames()[:20]
    with trio.fail_after(20):
        async with voice_env() as env:
            await connect(env)
            await env.server.close_client(GUILD, BOT, 4000)
            backoff = await env.next_event(Reconnecting)
            assert backoff.action is CloseAction.BACKOFF_REJOIN and backoff.close_code == 4000
            assert not (await env.next_event(Connected)).resumed
            await env.server.wait_for_epoch(GUILD, CHANNEL, 1)
            await env.send_all(frames)
            got = await env.server.wait_for_frames(listener(env), len(frames))
    assert [f.opus for f in got] == list(frames)
    assert len(env.gateway.op4) == 2 and len(env.server.identifies) == 2


async def test_joining_another_channel_makes_a_new_session() -> None:
    frames = sine_opus_frames()[:20]
    with trio.fail_after(20):
        async with voice_env() as env:
            await connect(env)
            there = env.server.add_listener(
                guild_id=GUILD, channel_id=OTHER_CHANNEL, user_id=LISTENER_2
            )
            env.conn.join(OTHER_CHANNEL)
            moved = await env.next_event(Connected)
            assert moved.channel_id == OTHER_CHANNEL
            await env.server.wait_for_epoch(GUILD, OTHER_CHANNEL, 1)
            await env.send_all(frames)
            got = await env.server.wait_for_frames(there, len(frames))
    assert [f.opus for f in got] == list(frames)
    assert [ch for _, ch, *_ in env.gateway.op4] == [CHANNEL, OTHER_CHANNEL]
    assert len(env.server.identifies) == 2


async def test_move_with_the_server_update_arriving_first() -> None:
    frames = sine_opus_frames()[:20]
    with trio.fail_after(20):
        async with voice_env() as env:
            await connect(env)
            there = env.server.add_listener(
                guild_id=GUILD, channel_id=OTHER_CHANNEL, user_id=LISTENER_2
            )
            # A moderator moves the bot; Discord happens to send the server update first.
            token, endpoint = env.server.create_session(
                guild_id=GUILD, channel_id=OTHER_CHANNEL, user_id=BOT, session_id="moved"
            )
            env.conn.on_voice_server_update(token=token, endpoint=endpoint)
            env.conn.on_voice_state_update(session_id="moved", channel_id=OTHER_CHANNEL)
            moved = await env.next_event(Connected)
            assert moved.channel_id == OTHER_CHANNEL
            await env.server.wait_for_epoch(GUILD, OTHER_CHANNEL, 1)
            await env.send_all(frames)
            got = await env.server.wait_for_frames(there, len(frames))
    assert [f.opus for f in got] == list(frames)
    assert len(env.gateway.op4) == 1  # no join timeout and no second op 4 was needed


@pytest.mark.parametrize(
    ("code", "reason"),
    [(4021, StopReason.RATE_LIMITED), (4022, StopReason.CALL_TERMINATED)],
)
async def test_rate_limited_and_call_terminated_stop(code: int, reason: StopReason) -> None:
    """4021 at once; 4022 after ``move_timeout`` without a new server (then op 4 null)."""
    settings = VoiceSettings(join_timeout=5.0, handshake_timeout=5.0, move_timeout=0.5)
    with trio.fail_after(20):
        async with voice_env(settings=settings) as env:
            await connect(env)
            await env.server.close_client(GUILD, BOT, code)
            gone = await env.next_event(Disconnected)
    assert gone.reason is reason and gone.close_code == code
    assert [ch for _, ch, *_ in env.gateway.op4] == [CHANNEL, None]  # we leave, no reconnect
    assert len(env.server.identifies) == 1


async def test_tokens_never_reach_the_logs() -> None:
    with trio.fail_after(20), structlog.testing.capture_logs() as logs:
        async with voice_env() as env:
            await connect(env)
            token = env.server.session_of(GUILD, BOT).token
            await env.server.close_client(GUILD, BOT, 4006)  # a rejoin: a second token
            await env.next_event(Reconnecting)
            await env.next_event(Connected)
            second = env.server.session_of(GUILD, BOT).token
            assert env.conn._session is not None
            assert second not in repr(env.conn._session.creds)
    text = repr(logs)
    assert "voice_connected" in text and "voice_socket_ended" in text
    assert token not in text and second not in text


async def test_op4_failure_is_retried_after_the_join_timeout() -> None:
    settings = VoiceSettings(join_timeout=0.2, handshake_timeout=5.0)
    with trio.fail_after(20):
        async with voice_env(settings=settings) as env:
            env.gateway.fail_next = 1
            await connect(env)
    assert [ch for _, ch, *_ in env.gateway.op4] == [CHANNEL, CHANNEL]


async def test_bot_is_welcomed_into_a_group_that_listeners_formed() -> None:
    """The usual case on Discord: people are already talking; a member commits the bot's Add
    and the bot joins by Welcome (op 30), never committing anything itself."""
    frames = sine_opus_frames()
    with trio.fail_after(20):
        async with voice_env(listeners=(LISTENER, LISTENER_2), committer=COMMITTER_LISTENER) as env:
            call = env.server.call(GUILD, CHANNEL)
            assert call.epoch == 1 and set(call.leaves) == {LISTENER, LISTENER_2}  # no bot yet
            env.conn.join(CHANNEL)
            await env.next_event(Connected)
            await env.server.wait_until(lambda: BOT in call.leaves and call.idle)
            assert call.epoch == 2
            await env.send_all(frames)
            for member in call.listeners.values():
                got = await env.server.wait_for_frames(member, len(frames))
                assert [f.opus for f in got] == list(frames)
            session = env.server.session_of(GUILD, BOT)
    assert OP_COMMIT_WELCOME not in session.received  # the bot never had to commit
    assert any(isinstance(m, bytes) and m[2] == OP_WELCOME for _, m in session.log)
