"""Every close the bot initiates on an error path uses a 4000-range code, so the voice server
keeps the session and the next socket resumes (op 7) instead of a full rejoin.

The emulator behaves as Discord does: a client's 1000/1001 close ends the session, so a resume
after one would be refused with 4006 and the bot would identify again (a second Identify, a
second op 4) — each test below would see that."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import trio

from musicbot.voice import CloseAction, Connected, Reconnecting, VoiceSettings
from tests.voice.helpers import BOT, GUILD, VoiceEnv, sine_opus_frames, voice_env
from tests.voice.test_connection import connect, listener

OP_SESSION_DESCRIPTION = 4
OP_CLIENTS_CONNECT = 11
OP_DAVE_EXTERNAL_SENDER = 25

Fault = Callable[[VoiceEnv], Awaitable[None]]


async def malformed_json(env: VoiceEnv) -> None:
    await env.server.send_raw(GUILD, BOT, "{this is not json")


async def message_missing_its_fields(env: VoiceEnv) -> None:
    env.server.session_of(GUILD, BOT).queue_json(OP_CLIENTS_CONNECT, {})


async def unexpected_mode(env: VoiceEnv) -> None:
    # A session description for a mode we never offered (xsalsa20 was retired in 2024).
    d = {"mode": "xsalsa20_poly1305", "secret_key": [0] * 32, "dave_protocol_version": 1}
    env.server.session_of(GUILD, BOT).queue_json(OP_SESSION_DESCRIPTION, d)


async def dave_library_error(env: VoiceEnv) -> None:
    # An external-sender package davey cannot parse: it raises ValueError.
    env.server.session_of(GUILD, BOT).queue_binary(OP_DAVE_EXTERNAL_SENDER, b"\x05garbage")


async def handshake_timeout(env: VoiceEnv) -> None:
    # The socket drops; the resume socket gets no answer (Hello/Resumed never come).
    env.server.stall_handshakes = 1
    await env.server.drop_client(GUILD, BOT)


async def heartbeat_ack_missing(env: VoiceEnv) -> None:
    env.server.acks_paused = True
    await env.server.wait_until(lambda: bool(env.server.client_closes))
    env.server.acks_paused = False


FAULTS = [
    malformed_json,
    message_missing_its_fields,
    unexpected_mode,
    dave_library_error,
    handshake_timeout,
    heartbeat_ack_missing,
]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.__name__ for f in FAULTS])
async def test_error_path_closes_4000_and_resumes(fault: Fault) -> None:
    frames = sine_opus_frames()[:40]
    settings = VoiceSettings(join_timeout=5.0, handshake_timeout=1.0, backoff_base=0.05)
    interval = 250.0 if fault is heartbeat_ack_missing else 13_750.0
    with trio.fail_after(30):
        async with voice_env(settings=settings, heartbeat_interval_ms=interval) as env:
            await connect(env)
            await env.send_all(frames[:20])
            await env.server.wait_for_frames(listener(env), 20)
            await fault(env)
            reconnecting = await env.next_event(Reconnecting)
            assert reconnecting.action is CloseAction.RESUME
            assert (await env.next_event(Connected)).resumed
            await env.send_all(frames[20:])
            got = await env.server.wait_for_frames(listener(env), len(frames))
            closes = list(env.server.client_closes)
    assert closes and all(code is not None and 4000 <= code <= 4999 for code in closes), closes
    assert closes[0] == 4000
    assert len(env.server.identifies) == 1 and len(env.gateway.op4) == 1  # no rejoin
    assert len(env.server.resumes) == 1  # the next socket resumed
    assert [f.opus for f in got] == list(frames)  # and nothing was lost but the gap


async def test_a_1000_close_would_end_the_session() -> None:
    """The emulator's side of the contract: after a client's 1000 close the session is gone
    (as on Discord), so a resume could not work; the tests above would see a rejoin."""
    with trio.fail_after(30):
        async with voice_env() as env:
            await connect(env)
            session = env.server.session_of(GUILD, BOT)
            assert env.conn._session is not None and env.conn._session.socket is not None
            await env.conn._session.socket.close(1000)
            await env.server.wait_until(lambda: bool(env.server.client_closes))
            assert env.server.sessions.get((GUILD, BOT)) is not session
            await env.next_event(Connected)  # (1000 is no code of ours: a backoff rejoin)
    assert env.server.client_closes[0] == 1000
    assert env.server.resumes == [] and len(env.server.identifies) == 2
