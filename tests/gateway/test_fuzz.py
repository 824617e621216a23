"""Property-based fuzzing of everything a gateway peer controls (issue 13).

Three layers, each fed arbitrary input by hypothesis:

1. the decoder (``decode_message`` with no, zlib-stream and zstd-stream decompression): any
   sequence of frames yields payload objects or raises ``GatewayDecodeError``, nothing else;
2. the event parser (``parse_event``), from pure junk and from real Discord-shaped payloads
   (the emulator's) with one part replaced by junk: it raises ``EventDecodeError`` or returns an
   event in which *every field has its declared type* (checked against the attrs annotations),
   so nothing downstream (the router, the commands) ever sees a number where a name should be;
3. a real shard against a raw gateway that sends an arbitrary sequence of frames after READY:
   the shard logs, drops or reconnects, ``manager.run`` never raises, and a last event sent
   after the junk still reaches the router.
"""

from __future__ import annotations

import json
import types
import typing
import zlib
from typing import Any

import attrs
import trio
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from musicbot.emulator.world import World
from musicbot.gateway import GuildDelete, ShardState
from musicbot.gateway.codec import decode_message, make_decompressor
from musicbot.gateway.errors import GatewayDecodeError
from musicbot.gateway.events import EventDecodeError, parse_event
from tests.gateway.raw import RawConn, bot_on, raw_gateway

# ---------------------------------------------------------------- type checking of events


def _matches(value: Any, tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if tp is Any:
        return True
    if tp is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in typing.get_args(tp))
    if origin is tuple:
        args = typing.get_args(tp)
        assert len(args) == 2 and args[1] is Ellipsis, tp
        return isinstance(value, tuple) and all(_matches(v, args[0]) for v in value)
    if attrs.has(tp):
        return isinstance(value, tp) and _typed(value)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, float | int) and not isinstance(value, bool)
    return isinstance(value, tp)


def _typed(event: Any) -> bool:
    hints = typing.get_type_hints(type(event))
    return all(_matches(getattr(event, f.name), hints[f.name]) for f in attrs.fields(type(event)))


# ---------------------------------------------------------------- strategies

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)  # infinity included: JSON's 1e400 parses to it
    | st.text(max_size=8)
    | st.sampled_from(["1", "0", "-1", "1" * 25, "١٢٣", " 5", "5 ", "1e3", "0x10", "NaN"])
)
_json = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.text(max_size=6) | st.sampled_from(["id", "name", "type"]), children, max_size=4
        )
    ),
    max_leaves=12,
)
_NAMES = [
    "READY",
    "RESUMED",
    "GUILD_CREATE",
    "GUILD_DELETE",
    "CHANNEL_DELETE",
    "VOICE_STATE_UPDATE",
    "VOICE_SERVER_UPDATE",
    "INTERACTION_CREATE",
]


def _real_payloads() -> list[tuple[str, Any]]:
    world = World()
    guild = world.add_guild("G", voice_channels=("Music",))
    user = world.add_member(guild.id, "u", roles=[7], permissions=1 << 40, locale="vi")
    world.move_member(guild.id, user.user_id, guild.voice_channel.id)
    play = world.command_interaction(
        guild.id, user.user_id, "play", {"query": "lofi", "position": 2, "loud": True, "at": 1.5}
    )
    auto = world.command_interaction(
        guild.id, user.user_id, "play", {"query": "lo"}, autocomplete="query"
    )
    ready = {
        "v": 10,
        "session_id": "sess",
        "resume_gateway_url": "ws://127.0.0.1:9/",
        "user": {"id": str(world.bot_user_id), "username": "bot"},
        "application": {"id": str(world.application_id)},
        "guilds": [{"id": str(guild.id), "unavailable": True}],
    }
    return [
        ("READY", ready),
        ("INTERACTION_CREATE", play.payload),
        ("INTERACTION_CREATE", auto.payload),
        ("GUILD_CREATE", world.guild_create_payload(guild.id)),
    ]


_REAL = _real_payloads()


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replace(value[path[0]], path[1:], new)
    return copy


@st.composite
def _mutated(draw: st.DrawFn, ready: bool = True) -> tuple[str, Any]:
    name, payload = draw(st.sampled_from(_REAL if ready else _REAL[1:]))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(payload)))
        payload = _replace(payload, path, draw(_json))
    return name, payload


# ---------------------------------------------------------------- 1. the decoder


def _frames_strategy() -> st.SearchStrategy[list[tuple[str, bytes | str]]]:
    """Frames of one connection: real messages (kept whole, split or corrupted) or junk."""
    message = st.fixed_dictionaries({"op": st.integers(0, 11), "d": _json})
    item = st.one_of(
        st.tuples(st.just("msg"), message.map(json.dumps)),
        st.tuples(st.just("text"), st.text(max_size=40)),
        st.tuples(st.just("bytes"), st.binary(max_size=40)),
        st.tuples(st.just("suffix"), st.binary(max_size=20).map(lambda b: b + b"\x00\x00\xff\xff")),
        st.tuples(st.just("flip"), message.map(json.dumps)),
    )
    return st.lists(item, max_size=8)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([None, "zlib-stream", "zstd-stream"]), _frames_strategy(), st.data())
def test_the_decoder_only_ever_yields_payloads_or_a_decode_error(
    compression: Any, frames: list[tuple[str, bytes | str]], data: st.DataObject
) -> None:
    decompressor = make_decompressor(compression)
    zc = zlib.compressobj()
    sc = zstandard.ZstdCompressor().compressobj()

    def compress(text: str) -> bytes:
        if compression == "zlib-stream":
            return zc.compress(text.encode()) + zc.flush(zlib.Z_SYNC_FLUSH)
        if compression == "zstd-stream":
            return sc.compress(text.encode()) + sc.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
        return text.encode()

    for kind, raw in frames:
        wire: str | bytes = raw
        if kind == "msg" and isinstance(raw, str):
            wire = compress(raw) if compression else raw
        elif kind == "flip" and isinstance(raw, str):
            good = compress(raw)
            i = data.draw(st.integers(0, max(len(good) - 1, 0)))
            wire = good[:i] + bytes([good[i] ^ 0xFF]) + good[i + 1 :] if good else good
        try:
            payload = decode_message(wire, decompressor)
        except GatewayDecodeError:
            return  # the shard reconnects: a new connection gets a new decompressor
        assert payload is None or (isinstance(payload, dict) and "op" in payload)


# ---------------------------------------------------------------- 2. the event parser


def _check_parse(name: str, d: Any) -> None:
    try:
        event = parse_event(name, d)
    except EventDecodeError as exc:
        assert exc.event == name
        return
    assert event is not None
    assert _typed(event), event


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(_NAMES), _json)
def test_junk_events_raise_a_decode_error_or_parse_fully_typed(name: str, d: Any) -> None:
    _check_parse(name, d)


@settings(max_examples=600, deadline=None)
@given(_mutated())
def test_real_payloads_with_junk_inside_parse_fully_typed_or_fail_cleanly(
    case: tuple[str, Any],
) -> None:
    _check_parse(*case)


def test_the_real_payloads_parse_and_are_typed() -> None:
    for name, payload in _REAL:
        event = parse_event(name, payload)
        assert event is not None and _typed(event)


def test_known_type_confusions_are_refused() -> None:
    name, play = _REAL[1]
    for path, junk in [
        (("data", "name"), 5),  # issue 13 item 1: a numeric command name
        (("type",), "2"),
        (("type",), 1e400),
        (("id",), "1" * 5000),
        (("member", "permissions"), "x"),
        (("data", "options", 0, "value"), float("inf")),
        (("data", "options", 0, "name"), ["a"]),
        (("locale",), 3),
    ]:
        with __import__("pytest").raises(EventDecodeError):
            parse_event(name, _replace(play, path, junk))
    deep: Any = {"name": "x", "type": 1}
    for _ in range(5000):
        deep = {"name": "x", "type": 1, "options": [deep]}
    with __import__("pytest").raises(EventDecodeError):
        parse_event(name, _replace(play, ("data", "options"), [deep]))


# ---------------------------------------------------------------- 3. a real shard

_frame = st.one_of(
    st.fixed_dictionaries(
        {
            "op": st.sampled_from([0, 1, 7, 9, 10, 11, 42]),
            "t": st.sampled_from([*_NAMES, "X"]),
            "s": _scalars,
            "d": _json,
        }
    ).map(json.dumps),
    # Not READY: a READY that names another resume URL sends the bot elsewhere, by design.
    _mutated(ready=False).map(lambda c: json.dumps({"op": 0, "t": c[0], "s": None, "d": c[1]})),
    st.text(max_size=30),
    st.binary(max_size=30),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([False, "zlib-stream", "zstd-stream"]), st.lists(_frame, max_size=6))
def test_a_shard_survives_any_frames_after_ready(compress: Any, frames: list[str | bytes]) -> None:
    sentinel = 4_242_424_242

    async def script(conn: RawConn) -> None:
        await conn.hello(interval_ms=200)
        first = await conn.recv()
        while first["op"] not in (2, 6):
            first = await conn.recv()
        conn.seq = 1000 * conn.index  # always increasing across connections
        if first["op"] == 6:
            await conn.dispatch("RESUMED", {})
        else:
            await conn.ready()
        if conn.index == 0:
            for frame in frames:
                if isinstance(frame, bytes):
                    await conn.send_raw(frame)
                else:
                    await conn.send_raw(conn.encode(frame))
        await conn.dispatch("GUILD_DELETE", {"id": str(sentinel), "unavailable": True})

    async def main() -> None:
        with trio.fail_after(20):
            async with raw_gateway(script) as gw, bot_on(gw, compress=compress) as (mgr, col, _):
                await col.wait_for(lambda _: any(e.id == sentinel for e in col.of(GuildDelete)))
                await mgr.shard(0).wait_until(lambda h: h.state is ShardState.READY)

    trio.run(main)
