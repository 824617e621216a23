"""A hostile or broken gateway server cannot end the process (issue 13, items 2, 9, 10, 13).

Every test runs a real ShardManager against a scripted raw gateway (tests/gateway/raw.py) that
sends exactly the frames under test.  "The process lives" means: the shard logs, drops the
frame or reconnects and resumes, and ``manager.run`` never raises.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import attrs
import pytest
import trio
import zstandard
from structlog.testing import capture_logs

from musicbot.gateway import GuildDelete, Ready, Resumed, ShardManager, ShardState
from musicbot.gateway.constants import MAX_MESSAGE_BYTES
from tests.gateway.helpers import FAST
from tests.gateway.raw import RawConn, bot_on, raw_gateway

TIMEOUT = 20


async def _ready(mgr: ShardManager) -> None:
    await mgr.shard(0).wait_until(lambda h: h.state is ShardState.READY)


async def _resume_after(conn: RawConn) -> None:
    """The second connection: HELLO, expect RESUME of the first session, answer RESUMED."""
    await conn.hello()
    resume = await conn.recv_op(6)
    assert resume["d"]["session_id"] == "sess-1"
    await conn.dispatch("RESUMED", {})


def _bomb(conn: RawConn) -> bytes:
    """A valid dispatch of just over 16 MB, compressed to a few tens of KB."""
    body = '{"op":0,"t":"GUILD_DELETE","s":2,"d":{"id":"1","pad":"'
    text = body + "a" * (MAX_MESSAGE_BYTES + 1024) + '"}}'
    out = conn.encode(text)
    assert isinstance(out, bytes) and len(out) < 200_000
    return out


def _corrupt_zstd(conn: RawConn) -> bytes:
    good = conn.encode('{"op":11}')
    assert isinstance(good, bytes)
    return bytes(b ^ 0x5A for b in good)


# (name, compression, build the bad message for the connection)
BAD_MESSAGES: list[tuple[str, Any, Any]] = [
    ("corrupt zlib stream", "zlib-stream", lambda c: b"\x78\x9c garbage\x00\x00\xff\xff"),
    ("corrupt zstd stream", "zstd-stream", _corrupt_zstd),
    ("JSON nested 100k deep", False, lambda c: "[" * 100_000 + "]" * 100_000),
    (
        "dict nested 100k deep",
        "zlib-stream",
        lambda c: c.encode('{"a":' * 100_000 + "1" + "}" * 100_000),
    ),
    ("not UTF-8", False, lambda c: b"\xff\xfe\xfd"),
    ("NaN literal", False, lambda c: '{"op":0,"t":"GUILD_DELETE","s":2,"d":{"id":NaN}}'),
    ("not an object", False, lambda c: "[1,2,3]"),
    ("zlib bomb past 16 MB", "zlib-stream", _bomb),
    ("zstd bomb past 16 MB", "zstd-stream", _bomb),
]


@pytest.mark.parametrize(
    ("name", "compress", "make"), BAD_MESSAGES, ids=[b[0] for b in BAD_MESSAGES]
)
async def test_an_undecodable_message_means_resume_and_the_process_lives(
    name: str, compress: Any, make: Any
) -> None:
    async def script(conn: RawConn) -> None:
        if conn.index == 0:
            await conn.hello()
            await conn.recv_op(2)
            await conn.ready()
            await conn.send_raw(make(conn))
        else:
            await _resume_after(conn)

    with trio.fail_after(TIMEOUT), capture_logs() as logs:
        async with raw_gateway(script) as gw, bot_on(gw, compress=compress) as (mgr, col, _):
            await col.wait_count(Resumed, 1)
            assert len(gw.connections) == 2
            await _ready(mgr)
            assert col.of(GuildDelete) == []  # the bad message was never delivered
    (undecodable,) = [e for e in logs if e["event"] == "gateway_message_undecodable"]
    assert undecodable["log_level"] == "warning"


@pytest.mark.parametrize(
    "hello",
    [
        '{"op":10,"d":{"heartbeat_interval":NaN}}',
        '{"op":10,"d":{"heartbeat_interval":-41250}}',
        '{"op":10,"d":{"heartbeat_interval":0}}',
        '{"op":10,"d":{"heartbeat_interval":1e400}}',
        '{"op":10,"d":{"heartbeat_interval":"41250"}}',
        '{"op":10,"d":{"heartbeat_interval":true}}',
        '{"op":10,"d":[]}',
        '{"op":[10]}',
    ],
)
async def test_a_hello_without_a_usable_interval_is_a_broken_handshake(hello: str) -> None:
    async def script(conn: RawConn) -> None:
        if conn.index == 0:
            await conn.send_raw(hello)
            await conn.recv_op(2)  # an old bot identified anyway: let it reach READY
            await conn.ready()
        else:
            await conn.hello()
            await conn.recv_op(2)
            await conn.ready()

    with trio.fail_after(TIMEOUT):
        async with raw_gateway(script) as gw, bot_on(gw) as (mgr, col, _):
            await col.wait_count(Ready, 1)
            assert len(gw.connections) == 2
            assert 2 not in gw.connections[0].ops()  # no identify spent on a broken server
            await _ready(mgr)


async def test_the_first_heartbeat_follows_hello_not_ready() -> None:
    """Discord expects op 1 at interval × jitter after HELLO; READY may come later."""

    async def script(conn: RawConn) -> None:
        await conn.hello(interval_ms=50)
        await conn.recv_op(2)
        await conn.recv_op(1, ack=False)  # a heartbeat while READY is still outstanding
        await conn.send({"op": 11})
        await conn.ready()

    with trio.fail_after(TIMEOUT):
        async with raw_gateway(script) as gw, bot_on(gw) as (mgr, col, _):
            await col.wait_count(Ready, 1)
            ops = gw.connections[0].ops()
            assert ops[:2] == [2, 1]
            assert len(gw.connections) == 1
            await _ready(mgr)


async def test_a_resume_replay_longer_than_the_interval_keeps_beating() -> None:
    """The replay before RESUMED outlasts several intervals; the bot beats through it."""

    async def script(conn: RawConn) -> None:
        await conn.hello(interval_ms=50)
        if conn.index == 0:
            await conn.recv_op(2)
            await conn.ready()
            await conn.send({"op": 7})  # reconnect and resume
            return
        await conn.recv_op(6)
        for _ in range(3):  # RESUMED only after three heartbeats were ACKed
            await conn.recv_op(1, ack=False)
            await conn.send({"op": 11})
        await conn.dispatch("RESUMED", {})

    with trio.fail_after(TIMEOUT):
        async with raw_gateway(script) as gw, bot_on(gw) as (_mgr, col, _):
            await col.wait_count(Resumed, 1)
            assert len(gw.connections) == 2
            assert gw.connections[1].ops().count(1) >= 3


async def test_a_slow_router_does_not_make_a_healthy_gateway_look_dead() -> None:
    """Item 9: while the router takes nothing, ACKs sit behind dispatches; no zombie verdict."""
    count = 40
    beats_seen = trio.Event()

    async def script(conn: RawConn) -> None:
        await conn.hello(interval_ms=50)
        await conn.recv_op(2)
        await conn.ready()
        for i in range(count):
            await conn.dispatch("GUILD_DELETE", {"id": str(1000 + i), "unavailable": True})
        beats = 0
        while beats < 8:  # eight intervals in which the router took nothing
            await conn.recv_op(1, ack=False)
            await conn.send({"op": 11})
            beats += 1
        beats_seen.set()

    options = attrs.evolve(FAST, dispatch_buffer=4)
    with trio.fail_after(TIMEOUT):
        async with (
            raw_gateway(script) as gw,
            bot_on(gw, options=options, buffer=0, collect=False) as (mgr, _, receive),
        ):
            await beats_seen.wait()
            await _ready(mgr)
            got = [await receive.receive() for _ in range(count + 1)]
            assert isinstance(got[0].event, Ready)
            assert [d.event.id for d in got[1:]] == [1000 + i for i in range(count)]  # type: ignore[union-attr]
            assert [d.seq for d in got] == list(range(1, count + 2))
            assert len(gw.connections) == 1  # never reconnected
            await _ready(mgr)


@pytest.mark.parametrize("url", ["http://x/", "ws://[::1/", "ws://127.0.0.1:99999/", "", "nope"])
async def test_an_unusable_resume_url_resumes_on_the_base_url(url: str) -> None:
    async def script(conn: RawConn) -> None:
        await conn.hello()
        if conn.index == 0:
            await conn.recv_op(2)
            await conn.dispatch(
                "READY",
                {"session_id": "sess-1", "resume_gateway_url": url, "user": {"id": "10"}},
            )
            await conn.send({"op": 7})
        else:
            await conn.recv_op(6)
            await conn.dispatch("RESUMED", {})

    with trio.fail_after(TIMEOUT):
        async with raw_gateway(script) as gw, bot_on(gw) as (mgr, col, _):
            await col.wait_count(Resumed, 1)
            assert len(gw.connections) == 2
            await _ready(mgr)


async def test_the_gateway_websocket_sends_a_user_agent() -> None:
    async def script(conn: RawConn) -> None:
        await conn.hello()
        await conn.recv_op(2)
        await conn.ready()

    with trio.fail_after(TIMEOUT):
        async with raw_gateway(script) as gw, bot_on(gw) as (_, col, _r):
            await col.wait_count(Ready, 1)
            agent = gw.connections[0].headers.get("user-agent", "")
            assert agent.startswith("DiscordBot (") and agent.endswith(")")


async def test_a_4002_before_anything_was_sent_is_not_called_our_bug() -> None:
    async def script(conn: RawConn) -> None:
        if conn.index == 0:
            await conn.ws.aclose(code=4002, reason="decode error")  # refused at once
        elif conn.index == 1:
            await conn.hello()
            await conn.recv_op(2)
            await conn.ws.aclose(code=4002, reason="decode error")  # after our IDENTIFY
        else:
            await conn.hello()
            await conn.recv_op(2)
            await conn.ready()

    with trio.fail_after(TIMEOUT), capture_logs() as logs:
        async with raw_gateway(script) as gw, bot_on(gw) as (_, col, _r):
            await col.wait_count(Ready, 1)
            assert len(gw.connections) == 3
    reasons = [e["reason"] for e in logs if e["event"] == "gateway_disconnected"]
    assert len(reasons) == 2
    assert "bug in the bot" not in reasons[0] and "before the bot sent anything" in reasons[0]
    assert "bug in the bot" in reasons[1]


async def test_zstd_stream_is_asked_for_and_decoded() -> None:
    """``compress = true`` picks zstd-stream when zstandard is importable."""

    async def script(conn: RawConn) -> None:
        await conn.hello()
        await conn.recv_op(2)
        await conn.ready()
        for i in range(3):
            await conn.dispatch("GUILD_DELETE", {"id": str(i + 1), "unavailable": True})

    with trio.fail_after(TIMEOUT):
        async with raw_gateway(script) as gw, bot_on(gw, compress=True) as (_, col, _r):
            await col.wait_count(GuildDelete, 3)
            assert "compress=zstd-stream" in gw.connections[0].path
            assert [e.id for e in col.of(GuildDelete)] == [1, 2, 3]


def test_the_raw_bombs_really_are_bombs() -> None:
    """Guard for the bomb cases above: each inflates past the limit with a plain decoder."""
    text = '{"op":0,"d":"' + "a" * (MAX_MESSAGE_BYTES + 1024) + '"}'
    z = zlib.compressobj()
    small = z.compress(text.encode()) + z.flush(zlib.Z_SYNC_FLUSH)
    assert len(small) < 200_000
    assert len(zlib.decompressobj().decompress(small)) > MAX_MESSAGE_BYTES
    c = zstandard.ZstdCompressor().compressobj()
    small = c.compress(text.encode()) + c.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
    assert len(small) < 200_000
    assert json.loads(text)["op"] == 0


async def test_a_gateway_url_that_is_not_websocket_stops_with_a_fix() -> None:
    from musicbot.config import Secret
    from musicbot.gateway import GatewayDispatch, GatewayFatalError

    send, _receive = trio.open_memory_channel[GatewayDispatch](4)
    manager = ShardManager(
        token=Secret("raw-gateway-token-value"),
        events=send,
        get_gateway_bot=None,
        shard_count=1,
        gateway_url="https://discord.com/api",
        options=FAST,
        identify_window=0.01,
    )
    with trio.fail_after(TIMEOUT), pytest.raises(GatewayFatalError) as info:
        await manager.run()
    assert "gateway_url" in str(info.value) and "ws://" in str(info.value)


async def test_a_parser_bug_costs_one_event_not_the_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The last guard in the shard: an unexpected exception in a parser is logged with its
    traceback and that one event is dropped (a private table patched: there is no other way
    to make a correct parser fail)."""
    from musicbot.gateway import events

    def broken(d: object) -> object:
        raise RuntimeError("parser bug")

    monkeypatch.setitem(events._PARSERS, "CHANNEL_DELETE", broken)  # type: ignore[arg-type]

    async def script(conn: RawConn) -> None:
        await conn.hello()
        await conn.recv_op(2)
        await conn.ready()
        await conn.dispatch("CHANNEL_DELETE", {"id": "5", "type": 2})
        await conn.dispatch("GUILD_DELETE", {"id": "6", "unavailable": True})

    with trio.fail_after(TIMEOUT), capture_logs() as logs:
        async with raw_gateway(script) as gw, bot_on(gw) as (_, col, _r):
            await col.wait_count(GuildDelete, 1)
            assert len(gw.connections) == 1
    (failed,) = [e for e in logs if e["event"] == "gateway_event_parser_failed"]
    assert failed["name"] == "CHANNEL_DELETE" and failed["log_level"] == "error"
