"""The emulated Discord gateway (v10, JSON, zlib-stream or zstd-stream) on trio-websocket.

Theory.  Each IDENTIFY creates a *session* bound to one shard ``[id, n]``.  A session owns an
event log: every dispatch routed to its shard gets the next ``seq`` and is appended, whether or
not a socket is attached.  A per-connection *pump* task sends the log from the connection's
cursor onward, so

* IDENTIFY appends READY (guilds unavailable) and one GUILD_CREATE per guild of the shard;
* RESUME sets the cursor to the client's ``seq`` and appends RESUMED: the missed events replay
  first, in order, then RESUMED — nothing lost, nothing sent twice;
* events emitted while the bot is away wait in the log.

Transport compression (``?compress=``): ``zlib-stream`` is one zlib stream per connection, each
message ending in a sync flush (``00 00 ff ff``); ``zstd-stream`` is one zstd frame per
connection that never ends, each message ending in a block flush, so a client's single
``decompressobj`` yields exactly one payload per message.  Any other value is refused with
4002, as an unknown encoding.  A WebSocket upgrade without a ``User-Agent`` is refused with an
HTTP 400 (Discord-compatible servers do; ``require_user_agent=False`` turns that off).

Controls for tests (op 7, op 9, arbitrary close codes, pausing heartbeat ACKs, a RESUME answered
with op 9) act on the newest live connection of a shard.  ``wait_until(predicate)`` waits on a
trio event that is renewed on every change, never by polling with sleep.
"""

from __future__ import annotations

import contextlib
import functools
import json
import secrets
import zlib
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import attrs
import structlog
import trio
import trio_websocket
import zstandard

from musicbot.emulator.world import World, shard_of

log = structlog.get_logger(__name__)

OP_DISPATCH: Final = 0
OP_HEARTBEAT: Final = 1
OP_IDENTIFY: Final = 2
OP_PRESENCE: Final = 3
OP_VOICE_STATE: Final = 4
OP_RESUME: Final = 6
OP_RECONNECT: Final = 7
OP_REQUEST_MEMBERS: Final = 8
OP_INVALID_SESSION: Final = 9
OP_HELLO: Final = 10
OP_HEARTBEAT_ACK: Final = 11
KNOWN_CLIENT_OPS: Final = frozenset({1, 2, 3, 4, 6, 8, 31, 43})

CLOSE_UNKNOWN_OPCODE: Final = 4001
CLOSE_DECODE_ERROR: Final = 4002  # also: payload over 4096 bytes
CLOSE_NOT_AUTHENTICATED: Final = 4003
CLOSE_AUTH_FAILED: Final = 4004
CLOSE_ALREADY_AUTHENTICATED: Final = 4005
CLOSE_INVALID_SEQ: Final = 4007
CLOSE_RATE_LIMITED: Final = 4008
CLOSE_SESSION_TIMED_OUT: Final = 4009
CLOSE_INVALID_SHARD: Final = 4010
CLOSE_INVALID_VERSION: Final = 4012
CLOSE_INVALID_INTENTS: Final = 4013
CLOSE_RECONNECT_ELSEWHERE: Final = 4000  # an old socket of a resumed session is dropped
MAX_PAYLOAD: Final = 4096
SEND_LIMIT: Final = 120  # client payloads per 60 s
ZLIB_SUFFIX: Final = b"\x00\x00\xff\xff"
COMPRESSIONS: Final = ("zlib-stream", "zstd-stream")


class _Zlib:
    def __init__(self) -> None:
        self._obj = zlib.compressobj()

    def compress(self, data: bytes) -> bytes:
        return self._obj.compress(data) + self._obj.flush(zlib.Z_SYNC_FLUSH)


class _Zstd:
    def __init__(self) -> None:
        self._obj = zstandard.ZstdCompressor().compressobj()

    def compress(self, data: bytes) -> bytes:
        return self._obj.compress(data) + self._obj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)


def compressor_for(name: str) -> _Zlib | _Zstd | None:
    """The per-connection stream compressor for a ``compress=`` value ("" → none)."""
    if name == "zlib-stream":
        return _Zlib()
    if name == "zstd-stream":
        return _Zstd()
    return None


@attrs.define(eq=False)
class Session:
    session_id: str
    shard_id: int
    num_shards: int
    log: list[tuple[int, str, dict[str, Any]]] = attrs.Factory(list)  # (seq, t, d)
    invalid: bool = False
    wake: trio.Event = attrs.Factory(trio.Event)

    def append(self, name: str, d: dict[str, Any]) -> None:
        self.log.append((len(self.log) + 1, name, d))
        self.wake.set()
        self.wake = trio.Event()


@attrs.define(eq=False)
class Connection:
    id: int
    ws: trio_websocket.WebSocketConnection
    stream: trio.SocketStream
    compressor: _Zlib | _Zstd | None
    compression: str = ""  # the ``compress`` query value the client asked for
    user_agent: str = ""
    send_lock: trio.Lock = attrs.Factory(trio.Lock)
    session: Session | None = None
    cursor: int = 0  # index in session.log of the next event to send
    closed: bool = False
    client_close_code: int | None = None  # the code the bot closed with
    server_close_code: int | None = None  # the code the emulator closed with
    heartbeats: int = 0
    heartbeat_seqs: list[int | None] = attrs.Factory(list)  # the `d` of each op 1 received
    sent_times: list[float] = attrs.Factory(list)


@attrs.frozen
class InvalidSessionRecord:
    """One op 9 the emulator sent: when, and whether it let the session be resumed.  After
    ``d=false`` Discord asks the client to wait 1-5 s before it identifies again."""

    shard_id: int | None  # None: the connection had not identified or resumed yet
    at: float
    resumable: bool


@attrs.frozen
class IdentifyRecord:
    shard_id: int
    num_shards: int
    at: float
    intents: int
    session_id: str


@attrs.frozen
class ResumeRecord:
    shard_id: int
    session_id: str
    seq: int | None
    at: float


class GatewayServer:
    """The emulated gateway of one :class:`~musicbot.emulator.world.World`: its sessions and
    connections, what the bot sent, and the fault controls tests drive (``emu.gateway_faults``).
    """

    def __init__(
        self,
        world: World,
        *,
        heartbeat_interval: float = 41.25,
        split_frames: bool = False,
        require_user_agent: bool = True,
    ) -> None:
        self.world = world
        self.require_user_agent = require_user_agent
        self.refused_upgrades: list[str] = []  # why an upgrade was refused (no User-Agent …)
        self.next_resume_invalid: list[bool] = []  # op 9 ``d`` for the next RESUMEs
        self.heartbeat_interval = heartbeat_interval  # seconds
        self.split_frames = split_frames  # send compressed messages in two frames
        self.port = 0
        self.sessions: dict[str, Session] = {}
        self.connections: list[Connection] = []
        self.identifies: list[IdentifyRecord] = []
        self.resumes: list[ResumeRecord] = []
        self.refused_resumes: list[ResumeRecord] = []  # answered with op 9 on request
        self.invalid_sessions: list[InvalidSessionRecord] = []  # every op 9 sent, in order
        self.received: list[tuple[int, int, Any]] = []  # (connection id, op, d) from the bot
        self.acks_paused: set[int] = set()
        self._changed = trio.Event()
        world.subscribe(self._route)

    @property
    def url(self) -> str:
        """The ``ws://`` address to connect to (meaningful once ``serve`` has started)."""
        return f"ws://127.0.0.1:{self.port}"

    async def serve(
        self, *, task_status: trio.TaskStatus[GatewayServer] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen on a free port of 127.0.0.1 (set in ``port``), report ``started(self)`` and
        serve connections until cancelled."""
        # A raw TCP listener wrapped by trio-websocket (not serve_websocket) so that a test can
        # drop a connection without a close frame.
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(
                functools.partial(trio.serve_tcp, self._on_tcp, 0, host="127.0.0.1")
            )
            self.port = listeners[0].socket.getsockname()[1]
            log.info("emulator_gateway_listening", url=self.url)
            task_status.started(self)

    async def _on_tcp(self, stream: trio.SocketStream) -> None:
        try:
            async with trio.open_nursery() as nursery:
                request = await trio_websocket.wrap_server_stream(nursery, stream)
                await self._handle(request, stream)
                # Let trio-websocket's reader finish the closing handshake, within bounds.
                nursery.cancel_scope.deadline = trio.current_time() + 2.0
        except* (
            trio_websocket.ConnectionClosed,
            trio_websocket.ConnectionRejected,
            trio.BrokenResourceError,
            trio.ClosedResourceError,
        ):
            pass  # the peer went away (or a test dropped it)

    # ------------------------------------------------------------------ waiting

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds (checked after every change)."""
        while not predicate():
            await self._changed.wait()

    async def wait_for_identifies(self, n: int) -> None:
        """Return once ``n`` IDENTIFYs in all have been accepted (counted since the start)."""
        await self.wait_until(lambda: len(self.identifies) >= n)

    async def wait_for_resumes(self, n: int) -> None:
        """Return once ``n`` RESUMEs in all have succeeded; ones refused with op 9 do not
        count (they are in ``refused_resumes``)."""
        await self.wait_until(lambda: len(self.resumes) >= n)

    async def wait_connected(self, shard_id: int = 0) -> Connection:
        """Wait for a live, authenticated connection of the shard (READY/RESUMED sent)."""
        await self.wait_until(lambda: self.live(shard_id) is not None)
        conn = self.live(shard_id)
        assert conn is not None
        return conn

    # ------------------------------------------------------------------ controls

    def live(self, shard_id: int = 0) -> Connection | None:
        """The newest open connection bound to a valid session of the shard, or ``None``
        (also while a new socket has not identified or resumed yet)."""
        for conn in reversed(self.connections):
            s = conn.session
            if not conn.closed and s is not None and s.shard_id == shard_id and not s.invalid:
                return conn
        return None

    def _require(self, shard_id: int) -> Connection:
        conn = self.live(shard_id)
        if conn is None:
            raise LookupError(f"shard {shard_id} has no live connection")
        return conn

    def session_for_shard(self, shard_id: int) -> Session | None:
        """The newest session of the shard not invalidated, socket attached or not (events
        logged to it replay on a resume), or ``None``."""
        for s in reversed(list(self.sessions.values())):
            if s.shard_id == shard_id and not s.invalid:
                return s
        return None

    def sent_events(self, shard_id: int = 0) -> list[tuple[int, str, dict[str, Any]]]:
        """Every dispatch logged for the shard's current session: (seq, t, d)."""
        s = self.session_for_shard(shard_id)
        return list(s.log) if s else []

    async def send_reconnect(self, shard_id: int = 0) -> None:
        """Op 7: ask the bot to reconnect and resume."""
        await self._send(self._require(shard_id), {"op": OP_RECONNECT, "d": None})

    async def request_heartbeat(self, shard_id: int = 0) -> None:
        """Server op 1: the bot must heartbeat at once."""
        await self._send(self._require(shard_id), {"op": OP_HEARTBEAT, "d": None})

    async def invalidate_session(self, shard_id: int = 0, *, resumable: bool) -> None:
        """Op 9 with ``d=resumable``; ``False`` also forgets the session."""
        conn = self._require(shard_id)
        if not resumable and conn.session is not None:
            conn.session.invalid = True
        await self._invalid_session(conn, resumable)

    async def _invalid_session(self, conn: Connection, resumable: bool) -> None:
        shard = conn.session.shard_id if conn.session is not None else None
        self.invalid_sessions.append(InvalidSessionRecord(shard, trio.current_time(), resumable))
        await self._send(conn, {"op": OP_INVALID_SESSION, "d": resumable})

    async def close(self, shard_id: int = 0, code: int = 4000) -> None:
        """Close the shard's connection with ``code`` (4007/4009 also end the session)."""
        conn = self._require(shard_id)
        if code in (CLOSE_INVALID_SEQ, CLOSE_SESSION_TIMED_OUT) and conn.session is not None:
            conn.session.invalid = True
        await self._close(conn, code)

    async def drop(self, shard_id: int = 0) -> None:
        """End the shard's TCP connection without a close frame (the bot should resume)."""
        conn = self._require(shard_id)
        conn.closed = True
        conn.server_close_code = 1006  # what the bot sees: no close frame
        self._notify()
        await conn.stream.aclose()

    def invalidate_next_resume(self, *, resumable: bool = False, times: int = 1) -> None:
        """Answer the next ``times`` RESUMEs with op 9 ``d=resumable`` instead of RESUMED
        (``False`` forgets the session, so the client must IDENTIFY afresh)."""
        self.next_resume_invalid.extend([resumable] * times)

    def pause_acks(self, shard_id: int = 0) -> None:
        """Stop answering the shard's heartbeats with op 11, so the bot should see a zombie
        connection and reconnect; undone by ``resume_acks``."""
        self.acks_paused.add(shard_id)

    def resume_acks(self, shard_id: int = 0) -> None:
        """Answer the shard's heartbeats again (the ones missed meanwhile stay unanswered)."""
        self.acks_paused.discard(shard_id)

    def dispatch(self, shard_id: int, name: str, d: dict[str, Any]) -> None:
        """Append a raw dispatch to the shard's session (sent now, or replayed on resume)."""
        s = self.session_for_shard(shard_id)
        if s is None:
            raise LookupError(f"shard {shard_id} has no session")
        s.append(name, d)
        self._notify()

    # ------------------------------------------------------------------ internals

    def _route(self, guild_id: int | None, name: str, d: dict[str, Any]) -> None:
        for s in self.sessions.values():
            if s.invalid:
                continue
            target = 0 if guild_id is None else shard_of(guild_id, s.num_shards)
            if target == s.shard_id:
                s.append(name, d)
        self._notify()

    async def _send(self, conn: Connection, payload: dict[str, Any]) -> None:
        text = json.dumps(payload, separators=(",", ":"))
        async with conn.send_lock:
            if conn.compressor is None:
                await conn.ws.send_message(text)
                return
            data = conn.compressor.compress(text.encode())
            if self.split_frames and len(data) > 8:
                half = len(data) // 2
                await conn.ws.send_message(data[:half])
                await conn.ws.send_message(data[half:])
            else:
                await conn.ws.send_message(data)

    async def _close(self, conn: Connection, code: int) -> None:
        conn.closed = True
        if conn.server_close_code is None:
            conn.server_close_code = code
        self._notify()
        with trio.move_on_after(2):
            await conn.ws.aclose(code=code)

    async def _pump(self, conn: Connection) -> None:
        session = conn.session
        assert session is not None
        while True:
            wake = session.wake
            while conn.cursor < len(session.log):
                seq, name, d = session.log[conn.cursor]
                conn.cursor += 1
                try:
                    await self._send(conn, {"op": OP_DISPATCH, "t": name, "s": seq, "d": d})
                except trio_websocket.ConnectionClosed:
                    return
            self._notify()
            await wake.wait()

    async def _handle(
        self, request: trio_websocket.WebSocketRequest, stream: trio.SocketStream
    ) -> None:
        query = parse_qs(urlsplit(request.path).query)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers}
        user_agent = headers.get("user-agent", "")
        if self.require_user_agent and not user_agent.strip():
            self.refused_upgrades.append("no User-Agent")
            self._notify()
            await request.reject(400, body=b"a User-Agent header is required")
            return
        ws = await request.accept()
        compression = query.get("compress", [""])[0]
        conn = Connection(
            id=len(self.connections) + 1,
            ws=ws,
            stream=stream,
            compressor=compressor_for(compression),
            compression=compression,
            user_agent=user_agent,
        )
        self.connections.append(conn)
        self._notify()
        try:
            if query.get("v", ["10"])[0] != "10":
                await self._close(conn, CLOSE_INVALID_VERSION)
                return
            if compression and compression not in COMPRESSIONS:
                await self._close(conn, CLOSE_DECODE_ERROR)
                return
            await self._send(
                conn,
                {
                    "op": OP_HELLO,
                    "d": {"heartbeat_interval": round(self.heartbeat_interval * 1000)},
                },
            )
            async with trio.open_nursery() as nursery:
                await self._serve_connection(conn, nursery)
                nursery.cancel_scope.cancel()
        except trio_websocket.ConnectionClosed:
            pass
        finally:
            conn.closed = True
            reason = ws.closed
            server_closed = conn.server_close_code is not None
            if reason is not None and conn.client_close_code is None and not server_closed:
                conn.client_close_code = reason.code
            if conn.client_close_code in (1000, 1001) and conn.session is not None:
                conn.session.invalid = True  # a client 1000/1001 close ends the session
            self._notify()

    async def _serve_connection(self, conn: Connection, nursery: trio.Nursery) -> None:
        with contextlib.suppress(trio_websocket.ConnectionClosed):
            await self._receive_loop(conn, nursery)

    async def _receive_loop(self, conn: Connection, nursery: trio.Nursery) -> None:
        while True:
            try:
                raw = await conn.ws.get_message()
            except trio_websocket.ConnectionClosed as closed:
                if conn.server_close_code is None and closed.reason is not None:
                    conn.client_close_code = closed.reason.code
                return
            size = len(raw.encode() if isinstance(raw, str) else raw)
            try:
                payload = json.loads(raw)
                op = payload["op"]
            except (ValueError, KeyError, TypeError):
                await self._close(conn, CLOSE_DECODE_ERROR)
                return
            now = trio.current_time()
            conn.sent_times = [t for t in conn.sent_times if t > now - 60.0] + [now]
            self.received.append((conn.id, op, payload.get("d")))
            self._notify()
            if size > MAX_PAYLOAD:
                await self._close(conn, CLOSE_DECODE_ERROR)
                return
            if len(conn.sent_times) > SEND_LIMIT:
                await self._close(conn, CLOSE_RATE_LIMITED)
                return
            if op not in KNOWN_CLIENT_OPS:
                await self._close(conn, CLOSE_UNKNOWN_OPCODE)
                return
            if op == OP_HEARTBEAT:
                conn.heartbeats += 1
                conn.heartbeat_seqs.append(payload.get("d"))
                shard = conn.session.shard_id if conn.session else -1
                if shard not in self.acks_paused:
                    await self._send(conn, {"op": OP_HEARTBEAT_ACK})
            elif op in (OP_IDENTIFY, OP_RESUME):
                if conn.session is not None:
                    await self._close(conn, CLOSE_ALREADY_AUTHENTICATED)
                    return
                d = payload.get("d")
                if not isinstance(d, dict):
                    await self._close(conn, CLOSE_DECODE_ERROR)
                    return
                start = self._identify if op == OP_IDENTIFY else self._resume
                if not await start(conn, d):
                    return
                if conn.session is not None:
                    nursery.start_soon(self._pump, conn)
            elif conn.session is None:
                await self._close(conn, CLOSE_NOT_AUTHENTICATED)
                return
            elif op == OP_VOICE_STATE:
                d = payload.get("d")
                self._voice_state(d if isinstance(d, dict) else {})

    async def _identify(self, conn: Connection, d: dict[str, Any]) -> bool:
        if d.get("token") != self.world.token:
            await self._close(conn, CLOSE_AUTH_FAILED)
            return False
        try:
            shard_id, num_shards = (int(x) for x in d.get("shard") or (0, 1))
        except (TypeError, ValueError):
            shard_id, num_shards = -1, 0
        if num_shards < 1 or not 0 <= shard_id < num_shards:
            await self._close(conn, CLOSE_INVALID_SHARD)
            return False
        intents = d.get("intents")
        if not isinstance(intents, int) or intents < 0:
            await self._close(conn, CLOSE_INVALID_INTENTS)
            return False
        for old in self.sessions.values():
            if old.shard_id == shard_id:
                old.invalid = True
        session = Session(secrets.token_hex(16), shard_id, num_shards)
        self.sessions[session.session_id] = session
        conn.session = session
        self.identifies.append(
            IdentifyRecord(shard_id, num_shards, trio.current_time(), intents, session.session_id)
        )
        guild_ids = self.world.guilds_for_shard(shard_id, num_shards)
        session.append(
            "READY",
            {
                "v": 10,
                "user": self.world.bot_user.user_payload(),
                "guilds": [{"id": str(g), "unavailable": True} for g in guild_ids],
                "session_id": session.session_id,
                "resume_gateway_url": self.url,
                "shard": [shard_id, num_shards],
                "application": {"id": str(self.world.application_id), "flags": 0},
            },
        )
        for gid in guild_ids:
            session.append("GUILD_CREATE", self.world.guild_create_payload(gid))
        log.info("emulator_identify", shard_id=shard_id, num_shards=num_shards)
        return True

    async def _resume(self, conn: Connection, d: dict[str, Any]) -> bool:
        if d.get("token") != self.world.token:
            await self._close(conn, CLOSE_AUTH_FAILED)
            return False
        session = self.sessions.get(str(d.get("session_id")))
        seq = d.get("seq")
        if session is not None and not session.invalid and self.next_resume_invalid:
            resumable = self.next_resume_invalid.pop(0)
            if not resumable:
                session.invalid = True
            self.refused_resumes.append(
                ResumeRecord(session.shard_id, session.session_id, seq, trio.current_time())
            )
            await self._invalid_session(conn, resumable)
            return True
        if session is None or session.invalid:
            await self._invalid_session(conn, False)
            return True
        if seq is not None and (not isinstance(seq, int) or seq > len(session.log)):
            await self._close(conn, CLOSE_INVALID_SEQ)
            return False
        for other in self.connections:
            if other is not conn and other.session is session and not other.closed:
                await self._close(other, CLOSE_RECONNECT_ELSEWHERE)
        conn.session = session
        conn.cursor = seq or 0
        self.resumes.append(
            ResumeRecord(session.shard_id, session.session_id, seq, trio.current_time())
        )
        session.append("RESUMED", {})
        log.info("emulator_resume", shard_id=session.shard_id, seq=seq)
        return True

    def _voice_state(self, d: dict[str, Any]) -> None:
        try:
            guild_id = int(d["guild_id"])
            channel_id = None if d.get("channel_id") is None else int(d["channel_id"])
        except (KeyError, TypeError, ValueError):
            return
        if guild_id not in self.world.guilds:
            return
        try:
            self.world.update_voice_state(
                guild_id,
                self.world.bot_user_id,
                channel_id,
                self_mute=bool(d.get("self_mute")),
                self_deaf=bool(d.get("self_deaf")),
            )
        except KeyError:
            log.info("emulator_voice_state_ignored", guild_id=guild_id, channel_id=channel_id)
