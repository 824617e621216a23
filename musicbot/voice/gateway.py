"""One voice WebSocket (gateway v8): framing, handshake, heartbeat and the read loop.

Theory.  Server messages carry a sequence number: JSON ones a ``"seq"`` field, binary ones a
2-byte big-endian prefix (``seq | op | body``; client binary messages are ``op | body``).  The
last one seen is acknowledged as ``seq_ack`` in every heartbeat (op 3) and in Resume (op 7), so
after a drop the server replays what we missed ("buffered resume").  The handshake is
straight-line under one deadline: Identify (or Resume), then Hello and Ready (or Resumed) in
whatever order they come; Ready is followed by UDP IP discovery and Select Protocol.  Only then
do the heartbeat and reader tasks start.  Messages that arrive during the handshake are kept
and dispatched first.  A missing heartbeat ACK closes the socket; the caller resumes.
"""

from __future__ import annotations

import json
import random
import struct
from collections.abc import Awaitable, Callable
from typing import Any, Final

import attrs
import structlog
import trio
import trio_websocket

from musicbot.errors import MusicBotError
from musicbot.voice import opcodes as op

log = structlog.get_logger(__name__)

NO_SEQ: Final = -1  # seq_ack before the server numbered anything
RESUMABLE_CLOSE_CODE: Final = 4000  # not 1000/1001: those would end the session server-side
CLOSE_TIMEOUT_S: Final = 1.0
MAX_HEARTBEAT_INTERVAL_S: Final = 5.0  # discord.py caps the voice heartbeat at 5 s too


@attrs.frozen(kw_only=True)
class Incoming:
    """A decoded server message: ``d`` for JSON, ``body`` for binary."""

    op: int
    d: Any = None
    body: bytes = b""
    seq: int | None = None


@attrs.define(auto_exc=True, eq=False)
class ConnectionLost(MusicBotError):
    """The voice socket closed; ``code`` is None when no close frame came."""

    code: int | None
    reason: str = ""


def voice_url(endpoint: str) -> str:
    """The v8 WebSocket URL for a VOICE_SERVER_UPDATE endpoint (scheme added unless present)."""
    base = endpoint if endpoint.startswith(("ws://", "wss://")) else f"wss://{endpoint}"
    return f"{base.rstrip('/')}/?v={op.GATEWAY_VERSION}"


def decode(message: str | bytes) -> Incoming:
    if isinstance(message, bytes):
        if len(message) < 3:
            raise ValueError("binary voice message shorter than its header")
        seq, opcode = struct.unpack_from(">HB", message, 0)
        return Incoming(op=opcode, body=message[3:], seq=seq)
    data = json.loads(message)
    return Incoming(op=int(data["op"]), d=data.get("d"), seq=data.get("seq"))


class VoiceSocket:
    """A connected voice WebSocket plus the sequence it has acknowledged."""

    def __init__(self, ws: trio_websocket.WebSocketConnection, seq_ack: int) -> None:
        self._ws = ws
        self.seq_ack = seq_ack
        self._acked = True
        self.last_ack_nonce: int | None = None

    async def send_json(self, opcode: int, d: Any) -> None:
        await self._send(json.dumps({"op": opcode, "d": d}, separators=(",", ":")))

    async def send_binary(self, opcode: int, body: bytes) -> None:
        await self._send(bytes([opcode]) + body)

    async def _send(self, message: str | bytes) -> None:
        try:
            await self._ws.send_message(message)
        except trio_websocket.ConnectionClosed as exc:
            raise _lost(exc) from None

    async def receive(self) -> Incoming:
        try:
            raw = await self._ws.get_message()
        except trio_websocket.ConnectionClosed as exc:
            raise _lost(exc) from None
        msg = decode(raw)
        if msg.seq is not None:
            self.seq_ack = msg.seq
        if msg.op == op.HEARTBEAT_ACK:
            self._acked = True
        return msg

    async def close(self, code: int) -> None:
        """Close with ``code`` unless already closed; a peer that never answers the close
        handshake gets ``CLOSE_TIMEOUT_S``."""
        if self._ws.closed is None:
            with trio.move_on_after(CLOSE_TIMEOUT_S):
                await self._ws.aclose(code)

    async def heartbeat_loop(self, interval: float) -> None:
        """Send op 3 every ``interval``; a missed ACK closes the socket (a zombie)."""
        await trio.sleep(interval * random.random())
        while True:
            if not self._acked:
                log.warning("voice_heartbeat_missed")
                raise ConnectionLost(code=None, reason="heartbeat_ack_missing")
            self._acked = False
            nonce = int(trio.current_time() * 1000)
            await self.send_json(op.HEARTBEAT, {"t": nonce, "seq_ack": self.seq_ack})
            await trio.sleep(interval)


def _lost(exc: trio_websocket.ConnectionClosed) -> ConnectionLost:
    reason = exc.reason
    if reason is None:
        return ConnectionLost(code=None)
    return ConnectionLost(code=reason.code, reason=reason.reason or "")


def heartbeat_interval(hello: Incoming) -> float:
    ms = float(hello.d["heartbeat_interval"])
    return min(ms / 1000.0, MAX_HEARTBEAT_INTERVAL_S)


async def wait_for(
    sock: VoiceSocket, wanted: set[int], early: list[Incoming]
) -> dict[int, Incoming]:
    """Read until one of each ``wanted`` op came; anything else is kept in ``early``."""
    found: dict[int, Incoming] = {}
    while not wanted <= found.keys():
        msg = await sock.receive()
        if msg.op in wanted and msg.op not in found:
            found[msg.op] = msg
        elif msg.op not in (op.HEARTBEAT_ACK, op.HELLO, op.READY, op.RESUMED):
            early.append(msg)
    return found


Dispatch = Callable[[Incoming], Awaitable[None]]


async def read_loop(sock: VoiceSocket, dispatch: Dispatch) -> None:
    """Dispatch every message until the socket closes (raises ``ConnectionLost``)."""
    while True:
        await dispatch(await sock.receive())
