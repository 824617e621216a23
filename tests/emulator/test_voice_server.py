"""The emulator's voice server seen by a raw client: handshake rules, IP discovery, refusals,
and its UDP fault controls (with the real voice connection sending)."""

from __future__ import annotations

import json
import socket
import ssl
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio_websocket

from musicbot.emulator.server import ServedVoiceBackend
from musicbot.emulator.voice import MODE_AES, MODE_XCHACHA, VoiceServer
from musicbot.voice import voice_ssl_context
from tests.voice.helpers import BOT, CHANNEL, GUILD, LISTENER, sine_opus_frames, voice_env

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


@asynccontextmanager
async def served(**kwargs: Any) -> AsyncIterator[VoiceServer]:
    server = VoiceServer(**kwargs)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve)
        yield server
        nursery.cancel_scope.cancel()


def identify(server: VoiceServer, token: str, **extra: Any) -> str:
    d = {"server_id": str(GUILD), "user_id": str(BOT), "session_id": "s1", "token": token}
    d.update(extra)
    return json.dumps({"op": 0, "d": {k: v for k, v in d.items() if v is not None}})


def tls(server: VoiceServer) -> ssl.SSLContext:
    """A client context that trusts the CA the server made for the run (and nothing else)."""
    assert server.ca is not None
    return server.ca.client_context()


async def closed_with(server: VoiceServer, url: str, first: str | None) -> int:
    async with trio_websocket.open_websocket_url(url, tls(server)) as ws:
        hello = json.loads(await ws.get_message())
        assert hello["op"] == 8 and hello["d"]["heartbeat_interval"] > 0
        if first is not None:
            await ws.send_message(first)
        with pytest.raises(trio_websocket.ConnectionClosed) as info:
            while True:
                await ws.get_message()
    assert info.value.reason is not None
    return int(info.value.reason.code)


def test_is_a_served_voice_backend() -> None:
    assert isinstance(VoiceServer(), ServedVoiceBackend)


async def test_endpoint_has_no_scheme_and_tls_needs_the_runs_ca() -> None:
    """As Discord's: ``host:port`` only, TLS only; a client with the system's trust store
    (which does not know the run's CA) fails the handshake, one that trusts it gets Hello."""
    with trio.fail_after(10):
        async with served() as server:
            _token, endpoint = server.create_session(
                guild_id=GUILD, channel_id=CHANNEL, user_id=BOT, session_id="s1"
            )
            assert endpoint == f"127.0.0.1:{server.ws_port}" and "://" not in endpoint
            assert server.ca_file.endswith(".pem")
            system_trust = ssl.create_default_context()
            stream = await trio.open_ssl_over_tcp_stream(
                "127.0.0.1", server.ws_port, ssl_context=system_trust
            )
            with pytest.raises(trio.BrokenResourceError) as refused:
                await stream.do_handshake()
            assert isinstance(refused.value.__cause__, ssl.SSLCertVerificationError)
            await stream.aclose()
            # The bot's own setting: a context built from the CA file, verification on.
            trusting = voice_ssl_context(server.ca_file)
            assert trusting is not None and trusting.verify_mode is ssl.CERT_REQUIRED
            async with trio_websocket.open_websocket_url(f"wss://{endpoint}/?v=8", trusting) as ws:
                assert json.loads(await ws.get_message())["op"] == 8


@pytest.mark.parametrize("dave", [0, None])
async def test_identify_without_dave_is_refused_with_4017(dave: int | None) -> None:
    with trio.fail_after(10):
        async with served() as server:
            token, endpoint = server.create_session(
                guild_id=GUILD, channel_id=CHANNEL, user_id=BOT, session_id="s1"
            )
            code = await closed_with(
                server,
                f"wss://{endpoint}/?v=8",
                identify(server, token, max_dave_protocol_version=dave),
            )
    assert code == 4017


async def test_wrong_token_and_old_version_are_refused() -> None:
    with trio.fail_after(10):
        async with served() as server:
            _token, endpoint = server.create_session(
                guild_id=GUILD, channel_id=CHANNEL, user_id=BOT, session_id="s1"
            )
            bad = identify(server, "not-the-token", max_dave_protocol_version=1)
            assert await closed_with(server, f"wss://{endpoint}/?v=8", bad) == 4004
            resume = json.dumps({"op": 7, "d": {"server_id": str(GUILD), "token": "x"}})
            assert await closed_with(server, f"wss://{endpoint}/?v=8", resume) == 4006
            async with trio_websocket.open_websocket_url(
                f"wss://{endpoint}/?v=3", tls(server)
            ) as ws:
                with pytest.raises(trio_websocket.ConnectionClosed) as info:
                    await ws.get_message()
            assert info.value.reason is not None and info.value.reason.code == 4012


async def test_ready_ip_discovery_and_mode_check() -> None:
    with trio.fail_after(10):
        async with served(modes=(MODE_XCHACHA,)) as server:
            token, endpoint = server.create_session(
                guild_id=GUILD, channel_id=CHANNEL, user_id=BOT, session_id="s1"
            )
            async with trio_websocket.open_websocket_url(
                f"wss://{endpoint}/?v=8", tls(server)
            ) as ws:
                await ws.get_message()  # Hello
                await ws.send_message(identify(server, token, max_dave_protocol_version=1))
                ready = json.loads(await ws.get_message())
                assert ready["op"] == 2
                d = ready["d"]
                assert d["modes"] == [MODE_XCHACHA] and d["ip"] == "127.0.0.1"
                udp = trio.socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                with udp:
                    await udp.bind(("127.0.0.1", 0))
                    await udp.connect((d["ip"], d["port"]))
                    await udp.send(struct.pack(">HHI", 1, 70, d["ssrc"]) + bytes(66))
                    answer = await udp.recv(100)
                    our_port = udp.getsockname()[1]
                assert len(answer) == 74 and struct.unpack_from(">HHI", answer) == (
                    2,
                    70,
                    d["ssrc"],
                )
                assert answer[8 : answer.index(0, 8)] == b"127.0.0.1"
                assert struct.unpack(">H", answer[72:74])[0] == our_port
                select = {"protocol": "udp", "data": {"address": "x", "port": 1, "mode": MODE_AES}}
                await ws.send_message(json.dumps({"op": 1, "d": select}))
                with pytest.raises(trio_websocket.ConnectionClosed) as info:
                    while True:
                        await ws.get_message()
            assert info.value.reason is not None and info.value.reason.code == 4016


async def test_lost_and_reordered_packets_show_in_the_records() -> None:
    frames = sine_opus_frames()[:30]
    with trio.fail_after(20):
        async with voice_env() as env:
            env.conn.join(CHANNEL)
            await env.server.wait_for_epoch(GUILD, CHANNEL, 1)
            member = env.server.call(GUILD, CHANNEL).listeners[LISTENER]
            await env.send_all(frames[:10])
            await env.server.wait_for_frames(member, 10)
            env.server.lose_packets(3)
            await env.send_all(frames[10:20])
            await env.server.wait_for_frames(member, 17)
            env.server.reorder_next_packet()
            await env.send_all(frames[20:])
            got = await env.server.wait_for_frames(member, len(frames) - 3)
    assert env.server.lost_packets == 3
    expected = [*frames[:10], *frames[13:20], frames[21], frames[20], *frames[22:]]
    assert [f.opus for f in got] == expected
    seqs = [f.seq for f in got]
    assert (seqs[10] - seqs[9]) % 65536 == 4  # the gap left by the lost packets
    assert seqs[17] == (seqs[18] + 1) % 65536  # the swapped pair
