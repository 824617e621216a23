"""One voice session: credentials, UDP transport and DAVE state, across its sockets.

A session is what a VOICE_STATE_UPDATE + VOICE_SERVER_UPDATE pair authorises.  Its first socket
identifies; later sockets after a drop or 4015 resume it (op 7) and keep the UDP socket, SSRC,
key and DAVE group.  A new token or channel means a new ``VoiceSession``; the old one is closed.

Closing on our error paths.  When *we* give up on a socket (handshake timeout, a malformed or
unusable message, an unexpected mode, an error from the DAVE library, a missing heartbeat ACK)
we close it with ``RESUMABLE_CLOSE_CODE`` (4000) before trio-websocket's context manager would
close it with 1000: a 1000/1001 close tells Discord we are done, it ends the session, and the
resume that follows would fail with 4006 (a full rejoin, an audible gap).
"""

from __future__ import annotations

import socket as stdlib_socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, Final

import attrs
import davey
import structlog
import trio
import trio_websocket

from musicbot.errors import MusicBotError
from musicbot.voice import opcodes as op
from musicbot.voice.e2ee import DaveState, Outgoing
from musicbot.voice.gateway import (
    NO_SEQ,
    RESUMABLE_CLOSE_CODE,
    ConnectionLost,
    Incoming,
    VoiceSocket,
    heartbeat_interval,
    read_loop,
    voice_url,
    wait_for,
)
from musicbot.voice.rtp import (
    IP_DISCOVERY_RESPONSE,
    EncryptionMode,
    TransportCipher,
    choose_mode,
    ip_discovery_request,
    parse_ip_discovery,
)

log = structlog.get_logger(__name__)

IP_DISCOVERY_TRIES: Final = 3
IP_DISCOVERY_WAIT_S: Final = 2.0


@attrs.define(auto_exc=True, eq=False)
class VoiceHandshakeError(MusicBotError):
    """The voice server answered the handshake with something we cannot use."""

    step: str
    detail: str


@attrs.define(auto_exc=True, eq=False)
class DaveError(MusicBotError):
    """The DAVE library refused a message of the voice server (any exception it raised)."""

    op: int
    detail: str


@attrs.frozen(kw_only=True)
class Credentials:
    guild_id: int
    channel_id: int
    user_id: int
    session_id: str
    token: str = attrs.field(repr=False)  # a secret: never logged
    endpoint: str


@attrs.frozen
class Transport:
    """Where frames go: a connected UDP socket, the session key's cipher and our SSRC."""

    udp: trio.socket.SocketType
    cipher: TransportCipher
    ssrc: int


class VoiceSession:
    """State that survives a resume.  Owned by the connection's run task."""

    def __init__(self, creds: Credentials, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.creds = creds
        self.ssl_context = ssl_context
        self.dave = DaveState(user_id=creds.user_id, channel_id=creds.channel_id)
        self.seq_ack = NO_SEQ
        self.udp: trio.socket.SocketType | None = None
        self.ssrc = 0
        self.mode: EncryptionMode | None = None
        self.transport: Transport | None = None  # set once op 4 arrived
        self.socket: VoiceSocket | None = None  # the live WebSocket, if any
        self.described = False  # op 4 seen (DAVE is initialised once per session)

    def close(self) -> None:
        self.transport = None
        self.socket = None
        if self.udp is not None:
            self.udp.close()
            self.udp = None

    async def run_socket(
        self, *, resume: bool, timeout: float, on_connected: Callable[[bool], Awaitable[None]]
    ) -> None:
        """Connect one WebSocket, handshake, then serve it until it closes.

        Returns never; raises ``ConnectionLost`` (with the close code), ``trio.TooSlowError``
        for a handshake that took too long, or ``VoiceHandshakeError``.  ``on_connected(resumed)``
        is called when media may flow (after op 4, or op 9 on a resume).
        """
        url = voice_url(self.creds.endpoint)
        try:
            async with trio_websocket.open_websocket_url(
                url, ssl_context=self.ssl_context, connect_timeout=timeout
            ) as ws:
                sock = VoiceSocket(ws, self.seq_ack)
                try:
                    early: list[Incoming] = []
                    with trio.fail_after(timeout):
                        interval = await self._handshake(sock, resume=resume, early=early)
                    self.socket = sock
                    try:
                        await self._serve(sock, interval, early, resume, on_connected)
                    finally:
                        self.seq_ack = sock.seq_ack
                        self.socket = None
                except Exception:
                    # Our error path (or the peer's close, then this is a no-op): never 1000.
                    await sock.close(RESUMABLE_CLOSE_CODE)
                    raise
        except trio_websocket.HandshakeError as exc:
            raise ConnectionLost(code=None, reason=type(exc).__name__) from None
        except OSError as exc:  # (ssl.SSLError too: a certificate we do not trust)
            raise ConnectionLost(code=None, reason=f"socket error {exc.errno}") from None
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            # The stream under the WebSocket broke (e.g. a TLS failure surfacing as such).
            raise ConnectionLost(code=None, reason=type(exc).__name__) from None

    async def _serve(
        self,
        sock: VoiceSocket,
        interval: float,
        early: list[Incoming],
        resume: bool,
        on_connected: Callable[[bool], Awaitable[None]],
    ) -> None:
        """Heartbeat and reader side by side; the first to fail ends both, and its error is
        raised as is (not wrapped in an exception group)."""
        failure: Exception | None = None

        async def reader() -> None:
            for msg in early:
                await self._dispatch(sock, msg, on_connected)
            if resume:
                await on_connected(True)
            await read_loop(sock, lambda msg: self._dispatch(sock, msg, on_connected))

        async with trio.open_nursery() as nursery:

            async def guarded(fn: Callable[[], Awaitable[None]]) -> None:
                nonlocal failure
                try:
                    await fn()
                except (
                    ConnectionLost,
                    VoiceHandshakeError,
                    DaveError,
                    ValueError,
                    KeyError,
                    TypeError,
                ) as exc:
                    failure = failure or exc
                nursery.cancel_scope.cancel()

            nursery.start_soon(guarded, lambda: sock.heartbeat_loop(interval))
            nursery.start_soon(guarded, reader)
        if failure is not None:
            raise failure  # run_socket closes with 4000: the session stays resumable
        raise ConnectionLost(code=None, reason="socket task ended")

    async def _handshake(self, sock: VoiceSocket, *, resume: bool, early: list[Incoming]) -> float:
        c = self.creds
        if resume:
            await sock.send_json(
                op.RESUME,
                {
                    "server_id": str(c.guild_id),
                    "session_id": c.session_id,
                    "token": c.token,
                    "seq_ack": self.seq_ack,
                },
            )
            found = await wait_for(sock, {op.HELLO, op.RESUMED}, early)
            return heartbeat_interval(found[op.HELLO])
        await sock.send_json(
            op.IDENTIFY,
            {
                "server_id": str(c.guild_id),
                "user_id": str(c.user_id),
                "session_id": c.session_id,
                "token": c.token,
                "max_dave_protocol_version": int(davey.DAVE_PROTOCOL_VERSION),
            },
        )
        found = await wait_for(sock, {op.HELLO, op.READY}, early)
        ready = found[op.READY].d
        self.ssrc = int(ready["ssrc"])
        mode = choose_mode(list(ready.get("modes", [])))
        if mode is None:
            raise VoiceHandshakeError("select_protocol", f"no supported mode in {ready['modes']}")
        self.mode = mode
        address, port = await self._discover_ip(str(ready["ip"]), int(ready["port"]))
        await sock.send_json(
            op.SELECT_PROTOCOL,
            {"protocol": "udp", "data": {"address": address, "port": port, "mode": mode.value}},
        )
        return heartbeat_interval(found[op.HELLO])

    async def _discover_ip(self, ip: str, port: int) -> tuple[str, int]:
        if self.udp is not None:
            self.udp.close()
        udp = trio.socket.socket(stdlib_socket.AF_INET, stdlib_socket.SOCK_DGRAM)
        self.udp = udp
        await udp.connect((ip, port))
        request = ip_discovery_request(self.ssrc)
        for _ in range(IP_DISCOVERY_TRIES):
            await udp.send(request)
            with trio.move_on_after(IP_DISCOVERY_WAIT_S):
                while True:
                    packet = await udp.recv(2048)
                    try:
                        kind, ssrc, address, our_port = parse_ip_discovery(packet)
                    except ValueError:
                        continue
                    if kind == IP_DISCOVERY_RESPONSE and ssrc == self.ssrc:
                        return address, our_port
        raise VoiceHandshakeError("ip_discovery", f"no answer after {IP_DISCOVERY_TRIES} tries")

    async def _dispatch(
        self, sock: VoiceSocket, msg: Incoming, on_connected: Callable[[bool], Awaitable[None]]
    ) -> None:
        if msg.op == op.SESSION_DESCRIPTION:
            mode = EncryptionMode(msg.d["mode"])  # ValueError: a mode we never offered
            key = bytes(msg.d["secret_key"])
            if self.udp is None:
                raise VoiceHandshakeError("session_description", "no UDP socket")
            self.transport = Transport(self.udp, TransportCipher(mode, key), self.ssrc)
            out: list[Outgoing] = []
            if not self.described:
                self.described = True
                version = int(msg.d.get("dave_protocol_version", 0))
                out = _dave_call(msg.op, lambda: self.dave.on_session_description(version))
            await _send_all(sock, out)
            await on_connected(False)
            return
        await _send_all(sock, _dave_call(msg.op, lambda: self._on_dave_op(msg)))

    def _on_dave_op(self, msg: Incoming) -> list[Outgoing]:
        dave = self.dave
        match msg.op:
            case op.CLIENTS_CONNECT:
                dave.on_clients_connect(list(msg.d["user_ids"]))
            case op.CLIENT_DISCONNECT:
                dave.on_client_disconnect(str(msg.d["user_id"]))
            case op.DAVE_PREPARE_TRANSITION:
                return dave.on_prepare_transition(msg.d)
            case op.DAVE_EXECUTE_TRANSITION:
                dave.on_execute_transition(msg.d)
            case op.DAVE_PREPARE_EPOCH:
                return dave.on_prepare_epoch(msg.d)
            case op.DAVE_MLS_EXTERNAL_SENDER:
                dave.on_external_sender(msg.body)
            case op.DAVE_MLS_PROPOSALS:
                return dave.on_proposals(msg.body)
            case op.DAVE_MLS_ANNOUNCE_COMMIT_TRANSITION:
                return dave.on_announce_commit(msg.body)
            case op.DAVE_MLS_WELCOME:
                return dave.on_welcome(msg.body)
            case _:
                pass  # speaking of others, acks, undocumented ops: nothing to do
        return []


def _dave_call(opcode: int, fn: Callable[[], list[Outgoing]]) -> list[Outgoing]:
    """Run a DAVE handler; whatever it (or davey) raises becomes a ``DaveError``, which ends
    the socket with 4000 and a resume, instead of escaping the connection's task."""
    try:
        return fn()
    except Exception as exc:
        raise DaveError(opcode, f"{type(exc).__name__}: {exc}") from exc


async def _send_all(sock: VoiceSocket, out: list[Outgoing]) -> None:
    for item in out:
        if item.binary is not None:
            await sock.send_binary(item.op, item.binary)
        else:
            await sock.send_json(item.op, item.json)


def speaking_payload(speaking: bool, ssrc: int) -> dict[str, Any]:
    flags = op.SPEAKING_MICROPHONE if speaking else op.SPEAKING_OFF
    return {"speaking": flags, "delay": 0, "ssrc": ssrc}
