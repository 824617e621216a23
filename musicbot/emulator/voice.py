"""The emulator's voice server: voice gateway v8 over trio-websocket plus UDP on 127.0.0.1.

It implements :class:`musicbot.emulator.world.VoiceBackend`: ``create_session`` registers a
session and returns ``(token, "127.0.0.1:PORT")``: no scheme, as Discord's, and like Discord's
the socket speaks TLS only (``wss://``, a certificate from a CA made for the run, whose PEM file
is ``ca_file``; ``tls=False`` serves plain ``ws://`` and puts that scheme in the endpoint).
A client identifies (op 0; refused with 4017 without DAVE), gets Ready (op 2) with its SSRC
and the UDP port, does IP discovery, selects a mode (op 1) and gets the session key (op 4).
Then the channel's :class:`Call` drives DAVE, and RTP datagrams are decrypted (its own AEAD
code, independent of the bot's) and handed to every listener, which DAVE-decrypts them with
libdave and records them.

Theory of the socket side: every sequenced server message (JSON with ``"seq"``, binary with a
u16 prefix) is appended to the *session's* log, whether or not a socket is attached; a pump
task per socket sends the log from its cursor.  Resume (op 7) moves the cursor to the client's
``seq_ack``, so missed messages replay in order after op 9.  Hello, Ready, Resumed and
heartbeat ACKs are not sequenced.  Sockets are served from a raw TCP listener wrapped by
trio-websocket, so a test can drop one without a close frame.

Faults for tests: ``close_client`` (any close code), ``drop_client`` (TCP reset: the client
resumes), ``lose_packets`` / ``reorder_next_packet`` (UDP), listeners joining and leaving
(epoch changes), ``downgrade`` (DAVE 0) and ``upgrade``, ``send_bad_commit`` (the client
answers op 31), ``acks_paused`` (heartbeats unanswered), ``stall_handshakes`` (the next
sockets get no answer), ``send_raw`` (an unsequenced message, e.g. malformed), more endpoints
(``open_endpoint``: "the voice server changed"), and ``detach_session`` /
``close_detached`` for moves in either order (:mod:`musicbot.emulator.faults` drives them).
Like Discord, a client's 1000/1001 close ends its session (a resume then gets 4006); any other
close keeps it.  ``client_closes`` records the codes clients closed with.
``wait_until(predicate)`` waits on a trio event renewed on every change.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import secrets
import socket as stdlib_socket
import ssl
import tempfile
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import structlog
import trio
import trio_websocket

from musicbot.emulator.dave_sender import split_commit_welcome
from musicbot.emulator.voice_call import COMMITTER_BOT, Call, Listener, ReceivedFrame
from musicbot.emulator.voice_media import MediaPort
from musicbot.emulator.voice_session import (
    MODE_AES,
    MODE_XCHACHA,
    ServerSession,
    ServerSocket,
    unwrap_seq,
)
from musicbot.emulator.voice_tls import LocalCA

log = structlog.get_logger(__name__)

OP_IDENTIFY: Final = 0
OP_SELECT_PROTOCOL: Final = 1
OP_READY: Final = 2
OP_HEARTBEAT: Final = 3
OP_SESSION_DESCRIPTION: Final = 4
OP_SPEAKING: Final = 5
OP_HEARTBEAT_ACK: Final = 6
OP_RESUME: Final = 7
OP_HELLO: Final = 8
OP_RESUMED: Final = 9
OP_TRANSITION_READY: Final = 23
OP_KEY_PACKAGE: Final = 26
OP_COMMIT_WELCOME: Final = 28
OP_INVALID_COMMIT_WELCOME: Final = 31

CLOSE_DECODE_ERROR: Final = 4002
CLOSE_NOT_AUTHENTICATED: Final = 4003
CLOSE_AUTH_FAILED: Final = 4004
CLOSE_SESSION_INVALID: Final = 4006
CLOSE_UNKNOWN_PROTOCOL: Final = 4012
CLOSE_DISCONNECTED: Final = 4014
CLOSE_UNKNOWN_MODE: Final = 4016
CLOSE_DAVE_REQUIRED: Final = 4017

MIN_GATEWAY_VERSION: Final = 4
CLOSE_WAIT_S: Final = 2.0
UDP_RECEIVE_BUFFER: Final = 8 << 20  # bytes (the kernel doubles it for its bookkeeping)
# A client closing with these says "I am done": Discord ends the session (RFC 6455 1000/1001).
SESSION_ENDING_CLOSES: Final = frozenset({1000, 1001})


class VoiceServer:
    """The emulator's voice gateway and media server."""

    def __init__(
        self,
        *,
        modes: Iterable[str] = (MODE_AES, MODE_XCHACHA),
        heartbeat_interval_ms: float = 13_750.0,
        require_dave: bool = True,
        committer: str = COMMITTER_BOT,
        tls: bool = True,
    ) -> None:
        self.modes = tuple(modes)
        self.tls = tls
        self.ca = LocalCA() if tls else None
        self.ca_file = ""  # the CA's PEM file while serving (TLS only)
        self.ports: list[int] = []  # every endpoint's port; the first is ``endpoint``
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.require_dave = require_dave
        self.committer = committer  # new calls: "bot" commits changes, or "listener" does
        self.ws_port = 0
        self.udp_port = 0
        self.sessions: dict[tuple[int, int], ServerSession] = {}  # (guild, user) -> session
        self.calls: dict[tuple[int, int], Call] = {}
        self.identifies: list[dict[str, Any]] = []  # Identify payloads, token removed
        self.resumes: list[dict[str, Any]] = []
        self.refused: list[int] = []  # close codes sent on purpose
        self.client_closes: list[int | None] = []  # codes clients closed with (None: no frame)
        self.identified_at: list[str] = []  # the endpoint each Identify/Resume came to
        self.stall_handshakes = 0  # the next N sockets get Hello/Ready/Resumed never
        self.acks_paused = False  # True: heartbeats go unanswered (the client sees a zombie)
        self.media = MediaPort(
            sessions=lambda: self.sessions.values(),
            call_of=lambda session: self.call(session.guild_id, session.channel_id),
            changed=self._notify,
        )
        self._ids = itertools.count(1)
        self._udp: trio.socket.SocketType | None = None
        self._nursery: trio.Nursery | None = None
        self._changed = trio.Event()

    @property
    def endpoint(self) -> str:
        return self.endpoint_of(self.ws_port)

    def endpoint_of(self, port: int) -> str:
        """The endpoint handed out for ``port``: ``host:port`` without a scheme, as Discord's,
        when serving TLS; with ``ws://`` when ``tls=False`` (so the client does not use TLS)."""
        return f"127.0.0.1:{port}" if self.tls else f"ws://127.0.0.1:{port}"

    # -- serving -------------------------------------------------------------------------------

    async def serve(
        self, *, task_status: trio.TaskStatus[VoiceServer] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Open the UDP media port and the first voice endpoint (writing ``ca_file`` while TLS
        is on), report ``started(self)`` and serve until cancelled."""
        udp = trio.socket.socket(stdlib_socket.AF_INET, stdlib_socket.SOCK_DGRAM)
        with udp:
            _big_receive_buffer(udp)
            await udp.bind(("127.0.0.1", 0))
            self.udp_port = udp.getsockname()[1]
            self._udp = udp
            with tempfile.TemporaryDirectory(prefix="musicbot-voice-ca-") as tmp:
                if self.ca is not None:
                    self.ca_file = str(self.ca.write_ca(Path(tmp) / "emulator-ca.pem"))
                async with trio.open_nursery() as nursery:
                    self._nursery = nursery
                    self.ws_port = await self._listen(nursery)
                    nursery.start_soon(self.media.serve, udp)
                    log.info("emulator_voice_listening", endpoint=self.endpoint, udp=self.udp_port)
                    task_status.started(self)
                self.ca_file = ""

    async def _listen(self, nursery: trio.Nursery) -> int:
        ctx = None if self.ca is None else self.ca.server_context()

        async def on_tcp(stream: trio.SocketStream) -> None:
            await self._on_tcp(stream, ctx, port)

        listeners = await nursery.start(trio.serve_tcp, on_tcp, 0)
        port: int = listeners[0].socket.getsockname()[1]
        self.ports.append(port)
        return port

    async def open_endpoint(self) -> str:
        """Listen on one more port (another "voice server"); returns its endpoint."""
        assert self._nursery is not None, "serve() first"
        return self.endpoint_of(await self._listen(self._nursery))

    # -- VoiceBackend --------------------------------------------------------------------------

    def create_session(
        self,
        *,
        guild_id: int,
        channel_id: int,
        user_id: int,
        session_id: str,
        endpoint: str | None = None,
    ) -> tuple[str, str]:
        """A new session (a previous one of the user is ended with 4006); ``endpoint`` picks
        one from ``open_endpoint`` (default: the first)."""
        self.end_session(guild_id=guild_id, user_id=user_id, close_code=CLOSE_SESSION_INVALID)
        session = ServerSession(
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            session_id=session_id,
            token=secrets.token_hex(16),
            ssrc=self._new_ssrc(),
            changed=self._notify,
        )
        self.sessions[(guild_id, user_id)] = session
        self._notify()
        return session.token, endpoint or self.endpoint

    def end_session(
        self, *, guild_id: int, user_id: int, close_code: int = CLOSE_DISCONNECTED
    ) -> None:
        """End the user's session (it leaves the call) and close its socket, if any, with
        ``close_code`` in the background; nothing when the user has no session."""
        session = self.detach_session(guild_id=guild_id, user_id=user_id)
        if session is None:
            return
        if session.socket is not None and self._nursery is not None:
            self._nursery.start_soon(self.close_detached, session, close_code)

    def detach_session(self, *, guild_id: int, user_id: int) -> ServerSession | None:
        """End the user's session (it leaves the call) but leave its socket open, so the close
        can come later (``close_detached``): a move whose events beat the close."""
        session = self.sessions.pop((guild_id, user_id), None)
        if session is None:
            return None
        call = self.calls.get((guild_id, session.channel_id))
        if call is not None:
            call.bot_left(session)
        self._notify()
        return session

    async def close_detached(self, session: ServerSession, code: int) -> None:
        """Close a (detached) session's socket with ``code``, if it still has one."""
        if session.socket is not None:
            await self._close_socket(session.socket, code)

    # -- controls ------------------------------------------------------------------------------

    def call(self, guild_id: int, channel_id: int) -> Call:
        """The channel's DAVE call, created (empty) on first use."""
        key = (guild_id, channel_id)
        if key not in self.calls:
            self.calls[key] = Call(
                guild_id=guild_id,
                channel_id=channel_id,
                on_change=self._notify,
                committer=self.committer,
            )
        return self.calls[key]

    def add_listener(self, *, guild_id: int, channel_id: int, user_id: int) -> Listener:
        """A libdave member joins the channel (an epoch change once the bot commits it)."""
        return self.call(guild_id, channel_id).add_listener(user_id)

    def remove_listener(self, *, guild_id: int, channel_id: int, user_id: int) -> None:
        """A libdave member leaves the channel: the bot gets op 13 and the next commit
        removes the member from the group (an epoch change)."""
        self.call(guild_id, channel_id).remove_listener(user_id)

    def session_of(self, guild_id: int, user_id: int) -> ServerSession:
        """The user's current session in the guild; a ``KeyError`` if there is none."""
        return self.sessions[(guild_id, user_id)]

    async def close_client(self, guild_id: int, user_id: int, code: int) -> None:
        """Close the session's live socket with ``code`` (the session itself stays); nothing
        when there is no session or no socket (a client between sockets)."""
        session = self.sessions.get((guild_id, user_id))
        socket = None if session is None else session.socket
        if socket is not None:
            await self._close_socket(socket, code)

    async def _close_socket(self, socket: ServerSocket, code: int) -> None:
        socket.closed_by_server = True
        self.refused.append(code)
        self._notify()
        await _close_quietly(socket.ws, code)

    async def send_raw(self, guild_id: int, user_id: int, message: str | bytes) -> None:
        """Send ``message`` as is on the session's live socket (not sequenced, not logged)."""
        socket = self.sessions[(guild_id, user_id)].socket
        assert socket is not None, "no live socket"
        await socket.ws.send_message(message)

    def lose_randomly(self, rate: float, rng: random.Random) -> None:
        """Drop each RTP datagram with probability ``rate`` (``rng``: a seeded generator)."""
        self.media.lose_randomly(rate, rng)

    @property
    def lost_packets(self) -> int:
        return self.media.lost_packets

    async def drop_client(self, guild_id: int, user_id: int) -> None:
        """End the TCP connection without a close frame (the client should resume)."""
        session = self.sessions.get((guild_id, user_id))
        socket = None if session is None else session.socket
        if socket is not None:
            socket.closed_by_server = True
            await socket.stream.aclose()

    def lose_packets(self, count: int) -> None:
        """Drop the next ``count`` RTP datagrams before any listener sees them."""
        self.media.lose_packets(count)

    def reorder_next_packet(self) -> None:
        """Hold the next RTP datagram and deliver it after the one that follows it."""
        self.media.reorder_next_packet()

    def downgrade(self, guild_id: int, channel_id: int) -> int:
        """Start the call's transition to DAVE protocol 0 (plain Opus); returns the transition
        id.  A ``RuntimeError`` without a bot in the call or while a change is in flight."""
        return self.call(guild_id, channel_id).downgrade()

    def upgrade(self, guild_id: int, channel_id: int) -> None:
        """Back from DAVE 0 to 1: op 24 (epoch 1), then a new group is formed."""
        self.call(guild_id, channel_id).upgrade()

    def send_bad_commit(self, guild_id: int, channel_id: int) -> int:
        """Send the bot an op 29 whose commit it cannot process, so it should answer op 31;
        returns the transition id."""
        return self.call(guild_id, channel_id).announce_bad_commit()

    # -- waiting -------------------------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds (checked after every change)."""
        while not predicate():
            await self._changed.wait()

    async def wait_for_frames(self, listener: Listener, count: int) -> list[ReceivedFrame]:
        """Until ``listener`` has recorded ``count`` frames; returns its own list of frames
        (not a copy, so it keeps growing)."""
        await self.wait_until(lambda: len(listener.frames) >= count)
        return listener.frames

    async def wait_for_op(self, guild_id: int, user_id: int, op: int, count: int = 1) -> None:
        """Until the user's current session has received ``op`` from its client ``count``
        times (a new session counts from zero)."""

        def seen() -> bool:
            session = self.sessions.get((guild_id, user_id))
            return session is not None and session.received.count(op) >= count

        await self.wait_until(seen)

    async def wait_for_member(self, guild_id: int, channel_id: int, user_id: int) -> None:
        """Until ``user_id`` is in the channel's DAVE group and no change is in flight."""
        call = self.call(guild_id, channel_id)
        await self.wait_until(lambda: call.is_member(user_id) and call.idle)

    async def wait_for_epoch(self, guild_id: int, channel_id: int, epoch: int) -> None:
        """Until the group reached ``epoch`` and no change is in flight."""
        call = self.call(guild_id, channel_id)
        await self.wait_until(lambda: call.epoch >= epoch and call.idle)

    # -- WebSocket side ------------------------------------------------------------------------

    async def _on_tcp(
        self, stream: trio.SocketStream, ctx: ssl.SSLContext | None, port: int
    ) -> None:
        async with trio.open_nursery() as nursery:
            wire: trio.abc.Stream = stream
            if ctx is not None:
                wire = trio.SSLStream(stream, ctx, server_side=True)
            try:
                request = await trio_websocket.wrap_server_stream(nursery, wire)
            except (trio.BrokenResourceError, trio.ClosedResourceError, ssl.SSLError):
                return  # e.g. a client that does not trust our CA
            query = parse_qs(urlsplit(request.path).query)
            try:
                ws = await request.accept()
            except (trio_websocket.ConnectionClosed, trio.BrokenResourceError):
                return
            socket = ServerSocket(next(self._ids), ws, stream, endpoint=self.endpoint_of(port))
            try:
                version = int(query.get("v", ["0"])[0])
                if version < MIN_GATEWAY_VERSION:
                    await self._close_socket(socket, CLOSE_UNKNOWN_PROTOCOL)
                else:
                    await self._serve_socket(socket)
            except trio_websocket.ConnectionClosed:
                pass
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass  # dropped on purpose
            finally:
                self._closed_by_client(socket)
                # The library's reader task ends by itself once a close handshake under way
                # (ours or the client's) completes; a peer that never answers gets a deadline.
                nursery.cancel_scope.deadline = trio.current_time() + CLOSE_WAIT_S

    def _closed_by_client(self, socket: ServerSocket) -> None:
        """Record how a client closed; a 1000/1001 close ends its session (as on Discord)."""
        reason = socket.ws.closed
        if socket.closed_by_server or socket.recorded:
            return
        socket.recorded = True
        code = None if reason is None or reason.code == 1006 else reason.code
        self.client_closes.append(code)
        session = socket.session
        if code in SESSION_ENDING_CLOSES and session is not None:
            key = (session.guild_id, session.user_id)
            if self.sessions.get(key) is session:
                self.detach_session(guild_id=session.guild_id, user_id=session.user_id)
        self._notify()

    async def _serve_socket(self, socket: ServerSocket) -> None:
        ws = socket.ws
        if self.stall_handshakes > 0:
            self.stall_handshakes -= 1
            self._notify()
            while True:  # read and never answer, until the client gives up
                await ws.get_message()
        await _send(ws, OP_HELLO, {"heartbeat_interval": self.heartbeat_interval_ms, "v": 8})
        first = json.loads(await ws.get_message())
        op, d = int(first["op"]), first.get("d") or {}
        if op == OP_IDENTIFY:
            session = await self._identify(socket, d)
        elif op == OP_RESUME:
            session = await self._resume(socket, d)
        else:
            await self._close_socket(socket, CLOSE_NOT_AUTHENTICATED)
            return
        if session is None:
            return
        self.identified_at.append(socket.endpoint)
        socket.session = session
        if session.socket is not None and session.socket is not socket:
            await self._close_socket(session.socket, CLOSE_SESSION_INVALID)
        session.socket = socket
        self._notify()
        try:
            async with trio.open_nursery() as nursery:

                async def until_closed(fn: Callable[[], Awaitable[None]]) -> None:
                    with contextlib.suppress(
                        trio_websocket.ConnectionClosed,
                        trio.BrokenResourceError,
                        trio.ClosedResourceError,
                    ):
                        await fn()
                    nursery.cancel_scope.cancel()

                async def pump() -> None:
                    await self._pump(session, socket)

                async def read() -> None:
                    while True:
                        await self._on_message(session, socket, await ws.get_message())

                nursery.start_soon(until_closed, pump)
                nursery.start_soon(until_closed, read)
        finally:
            if session.socket is socket:
                session.socket = None
            self._notify()

    async def _identify(self, socket: ServerSocket, d: dict[str, Any]) -> ServerSession | None:
        public = {k: v for k, v in d.items() if k != "token"}
        self.identifies.append(public)
        if not d.get("max_dave_protocol_version") and self.require_dave:
            await self._close_socket(socket, CLOSE_DAVE_REQUIRED)
            return None
        session = self._find(d)
        if session is None or str(d.get("user_id")) != str(session.user_id):
            await self._close_socket(socket, CLOSE_AUTH_FAILED)
            return None
        session.identified = True
        session.received.append(OP_IDENTIFY)
        socket.cursor = session.seq  # a fresh socket starts at the end of the log
        ready = {
            "ssrc": session.ssrc,
            "ip": "127.0.0.1",
            "port": self.udp_port,
            "modes": list(self.modes),
            "heartbeat_interval": 1,  # bogus, as on Discord
        }
        await _send(socket.ws, OP_READY, ready)
        return session

    async def _resume(self, socket: ServerSocket, d: dict[str, Any]) -> ServerSession | None:
        self.resumes.append({k: v for k, v in d.items() if k != "token"})
        session = self._find(d)
        if session is None or not session.identified:
            await self._close_socket(socket, CLOSE_SESSION_INVALID)
            return None
        seq_ack = int(d.get("seq_ack", -1))
        oldest = session.log[0][0] if session.log else session.seq + 1
        cursor = unwrap_seq(seq_ack, session.seq)
        if cursor < oldest - 1:
            await self._close_socket(socket, CLOSE_SESSION_INVALID)  # the log lost what they missed
            return None
        session.received.append(OP_RESUME)
        socket.cursor = cursor
        await _send(socket.ws, OP_RESUMED, None)
        return session

    def _find(self, d: dict[str, Any]) -> ServerSession | None:
        for session in self.sessions.values():
            if (
                secrets.compare_digest(session.token, str(d.get("token", "")))
                and str(d.get("server_id")) == str(session.guild_id)
                and d.get("session_id") == session.session_id
            ):
                return session
        return None

    async def _pump(self, session: ServerSession, socket: ServerSocket) -> None:
        while True:
            changed = self._changed  # taken first: a change while sending wakes us again
            for seq, message in list(session.log):
                if seq > socket.cursor:
                    await socket.ws.send_message(message)
                    socket.cursor = seq
            await changed.wait()

    async def _on_message(
        self, session: ServerSession, socket: ServerSocket, raw: str | bytes
    ) -> None:
        call = self.call(session.guild_id, session.channel_id)
        if isinstance(raw, bytes):
            op, body = raw[0], raw[1:]
            session.received.append(op)
            self._notify()
            if op == OP_KEY_PACKAGE:
                call.on_key_package(bytes(body))
            elif op == OP_COMMIT_WELCOME:
                commit, welcome = split_commit_welcome(body)
                call.on_commit_welcome(commit, welcome)
            return
        msg = json.loads(raw)
        op, d = int(msg["op"]), msg.get("d")
        session.received.append(op)
        self._notify()
        match op:
            case 3:  # OP_HEARTBEAT
                session.heartbeat_seq_acks.append(int(d.get("seq_ack", -1)))
                if not self.acks_paused:
                    await _send(socket.ws, OP_HEARTBEAT_ACK, {"t": d.get("t")})
            case 1:  # OP_SELECT_PROTOCOL
                mode = d["data"]["mode"]
                if mode not in self.modes:
                    await self._close_socket(socket, CLOSE_UNKNOWN_MODE)
                    return
                session.mode = mode
                session.key = os.urandom(32)
                description = {
                    "mode": mode,
                    "secret_key": list(session.key),
                    "dave_protocol_version": call.version,
                }
                session.queue_json(OP_SESSION_DESCRIPTION, description)
                call.bot_session_started(session)
            case 5:  # OP_SPEAKING
                session.speaking.append(int(d["speaking"]))
            case 23:  # OP_TRANSITION_READY
                call.on_transition_ready(int(d["transition_id"]))
            case 31:  # OP_INVALID_COMMIT_WELCOME
                call.on_invalid_commit_welcome()
            case _:
                pass

    def _new_ssrc(self) -> int:
        taken = {s.ssrc for s in self.sessions.values()}
        while True:
            ssrc = secrets.randbits(32) or 1
            if ssrc not in taken:
                return ssrc


def _big_receive_buffer(udp: trio.socket.SocketType) -> None:
    """Room for a tick of every stream: unlike a real voice server (one per call), this one
    socket takes the packets of every guild a test runs, 20 ms bursts of them.  As root the
    system's ``rmem_max`` does not cap it (``SO_RCVBUFFORCE``); otherwise it is capped."""
    forced = getattr(stdlib_socket, "SO_RCVBUFFORCE", None)  # Linux only
    for option in (o for o in (forced, stdlib_socket.SO_RCVBUF) if o is not None):
        with contextlib.suppress(OSError):  # not root: the capped one below
            udp.setsockopt(stdlib_socket.SOL_SOCKET, option, UDP_RECEIVE_BUFFER)
            return


async def _send(ws: trio_websocket.WebSocketConnection, op: int, d: Any) -> None:
    await ws.send_message(json.dumps({"op": op, "d": d}))


async def _close_quietly(ws: trio_websocket.WebSocketConnection, code: int) -> None:
    with (
        trio.move_on_after(CLOSE_WAIT_S),
        contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError),
    ):
        await ws.aclose(code)
