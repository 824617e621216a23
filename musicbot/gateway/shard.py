"""One gateway shard: connect, identify or resume, read, heartbeat, reconnect.

Theory.  A shard is a loop of *connections*.  Each connection gets a new generation id and:

1. (identify only) waits for its ``max_concurrency`` bucket in the shared :class:`IdentifyGate`;
2. opens the WebSocket (with a ``User-Agent``) and reads HELLO under ``fail_after``;
3. from HELLO on runs the heartbeat (first beat jittered by ``interval * random()``, then every
   ``interval``; Discord expects that first beat whether or not READY has come, and a long
   RESUME replay can outlast it), the reader and the deliverer, then sends IDENTIFY (→ READY)
   or RESUME (→ replayed events → RESUMED) and waits for the deliverer to see that event;
4. once READY/RESUMED, starts the writer (payloads queued by handles, through the
   per-connection :class:`SendLimiter`);
5. ends with an :class:`Outcome` set by whichever task noticed first; the others are cancelled.

Reading never waits on the router.  The reader decodes every message and handles control ops
(ACK, server heartbeat request, op 7, op 9) itself; dispatches go through a small bounded
buffer to the deliverer, which alone waits for the router.  When that buffer is full the reader
waits too (nothing is dropped: control is lossless), and the connection records that it stalled:
the zombie check then does not count a missing ACK, which may be queued behind the dispatches.
So a slow router never makes a healthy gateway look dead, and a connection whose reader was free
for a whole interval without an ACK is still a zombie.

Nothing the server sends ends the process: any undecodable message (corrupt zlib/zstd stream,
invalid UTF-8 or JSON, nesting past the recursion limit, a message inflating past 16 MB), a
HELLO without a usable interval or a malformed event is logged; a bad event is dropped, a bad
message or handshake means reconnect-and-resume.

The outcome decides the next step: resume on ``resume_gateway_url``, identify afresh on the base
URL, or stop the bot with :class:`GatewayFatalError`.  We close with 4900 (never 1000/1001, which
would end the session) whenever we intend to resume.

The session (``session_id``, ``resume_gateway_url``, last ``seq``) survives connections.  ``seq``
advances only once the router accepted the event, so an event cut off by a disconnect (even one
already read into the buffer) replays on resume instead of being lost.
"""

from __future__ import annotations

import random
from typing import Any

import attrs
import structlog
import trio
import trio_websocket

from musicbot.config import Secret
from musicbot.gateway import constants as c
from musicbot.gateway.close_codes import CloseAction
from musicbot.gateway.codec import (
    Compression,
    decode_message,
    encode_payload,
    make_decompressor,
    preferred_compression,
)
from musicbot.gateway.connection import (
    USER_AGENT,
    Conn,
    close_outcome,
    control_outcome,
    gateway_url_with_query,
    heartbeat_interval,
    resume_outcome,
    usable_ws_url,
)
from musicbot.gateway.errors import GatewayDecodeError, GatewayFatalError, GatewayHandshakeError
from musicbot.gateway.events import (
    EventDecodeError,
    GatewayDispatch,
    GatewayEvent,
    Ready,
    parse_event,
)
from musicbot.gateway.ratelimit import IdentifyGate, SendLimiter
from musicbot.gateway.state import (
    DEFAULT_OPTIONS,
    DEFAULT_PROPERTIES,
    Finish,
    GatewayMetrics,
    NullMetrics,
    Outcome,
    ShardOptions,
    ShardState,
    reconnect_delay,
)

log = structlog.get_logger(__name__)

MAX_MESSAGE_BYTES = c.MAX_MESSAGE_BYTES
_resume = resume_outcome


@attrs.define
class _Session:
    session_id: str
    resume_url: str


class Shard:
    """The state and tasks of one shard.  Other code uses
    :class:`~musicbot.gateway.handle.ShardHandle`."""

    def __init__(
        self,
        *,
        shard_id: int,
        shard_count: int,
        token: Secret,
        gateway_url: str,
        events: trio.MemorySendChannel[GatewayDispatch],
        identify_gate: IdentifyGate,
        compress: bool | Compression = True,
        options: ShardOptions = DEFAULT_OPTIONS,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self.shard_id = shard_id
        self._metrics: GatewayMetrics = metrics or NullMetrics()
        self._last_cause = "start"
        self.shard_count = shard_count
        self._token = token
        self._gateway_url = gateway_url
        self._events = events
        self._gate = identify_gate
        # True: the best the process can decode (zstd-stream when zstandard is installed).
        self.compression: Compression | None = (
            preferred_compression() if compress is True else (compress or None)
        )
        self.options = options
        self.state = ShardState.DISCONNECTED
        self.generation = 0
        self.latency: float | None = None
        self.seq: int | None = None
        self.stalls = 0  # times the reader had to wait for the router (backpressure)
        self._session: _Session | None = None
        self._outbox_send, self._outbox_receive = trio.open_memory_channel[str](options.outbox_size)
        self._pending: str | None = None  # taken from the outbox, not yet sent
        self._identify_granted = False  # an identify slot not used yet (connect failed)
        self._changed = trio.Event()
        self._ready = trio.Event()
        self.identifies = 0
        self.resumes = 0
        self._closing = False  # close(): drain the outbox, close with 4900, never reconnect

    @property
    def session_id(self) -> str | None:
        return self._session.session_id if self._session else None

    def outbox(self) -> trio.MemorySendChannel[str]:
        return self._outbox_send

    async def wait_ready(self) -> None:
        await self._ready.wait()

    def _set_state(self, state: ShardState) -> None:
        if state is not self.state:
            log.debug("shard_state", shard_id=self.shard_id, state=state.value, gen=self.generation)
        self.state = state
        self._changed.set()
        self._changed = trio.Event()

    async def wait_changed(self) -> None:
        """Wait for the next state change (a new connection always passes CONNECTING)."""
        await self._changed.wait()

    async def close(self) -> None:
        """Stop for good (graceful shutdown): send every payload already queued (a last op 4
        leaving voice), close with 4900 so that the session stays resumable, and return once
        ``run`` has returned.  Later payloads are refused.  Bound it with a timeout: a shard that
        is not connected cannot drain its outbox."""
        self._closing = True
        self._outbox_send.close()
        while self.state is not ShardState.STOPPED:
            await self.wait_changed()

    # ------------------------------------------------------------------ the loop

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled; raise :class:`GatewayFatalError` on a fatal close.

        ``task_status.started()`` fires once the first identify slot is granted, so a manager
        that starts shards one by one with ``nursery.start`` identifies them in id order.
        """
        attempt = 0
        started = False
        try:
            while True:
                if self._session is None and not self._identify_granted:
                    self._set_state(ShardState.WAITING_IDENTIFY)
                    await self._gate.wait_turn(self.shard_id)
                    self._identify_granted = True
                if not started:
                    started = True
                    task_status.started()
                opened_at = trio.current_time()
                outcome = await self._connect_once()
                if self._closing:
                    log.info("gateway_closed", shard_id=self.shard_id, reason=outcome.reason)
                    return
                lived = self._ready_since(opened_at)
                self._ready = trio.Event()
                log.info(
                    "gateway_disconnected",
                    shard_id=self.shard_id,
                    reason=outcome.reason,
                    code=outcome.code,
                    action=outcome.action.value,
                )
                self._last_cause = outcome.cause
                if outcome.action is CloseAction.FATAL:
                    raise GatewayFatalError(
                        self.shard_id, outcome.code or 0, outcome.reason, outcome.fix
                    )
                self._metrics.gateway_reconnect(self.shard_id, outcome.cause)
                if outcome.action is CloseAction.REIDENTIFY:
                    self._session = None
                    self.seq = None
                attempt, delay = reconnect_delay(
                    outcome, attempt=attempt, lived=lived, options=self.options
                )
                self._set_state(ShardState.BACKING_OFF)
                await trio.sleep(delay)
        finally:
            self._set_state(ShardState.STOPPED)

    def _ready_since(self, opened_at: float) -> float | None:
        if not self._ready.is_set():
            return None
        return trio.current_time() - opened_at

    async def _connect_once(self) -> Outcome:
        self.generation += 1
        resuming = self._session is not None
        base = self._session.resume_url if self._session else self._gateway_url
        if not usable_ws_url(base):  # a reconnect cannot fix the URL: say what to fix
            return Outcome(
                reason=f"the gateway URL {base[:100]!r} is not a ws:// or wss:// URL",
                action=CloseAction.FATAL,
                cause="bad_url",
                fix="check [discord] gateway_url (empty: the URL GET /gateway/bot gives)",
            )
        url = gateway_url_with_query(base, compress=self.compression)
        self._set_state(ShardState.CONNECTING)
        outcome: Outcome | None = None
        try:
            async with trio_websocket.open_websocket_url(
                url,
                connect_timeout=self.options.connect_timeout,
                disconnect_timeout=self.options.close_timeout,
                max_message_size=MAX_MESSAGE_BYTES,
                extra_headers=[(b"User-Agent", USER_AGENT.encode())],
            ) as ws:
                conn = Conn(
                    generation=self.generation,
                    ws=ws,
                    decompressor=make_decompressor(self.compression),
                    limiter=SendLimiter(  # replaced once HELLO tells the heartbeat interval
                        limit=self.options.send_limit, period=self.options.send_period, reserve=0
                    ),
                )
                deadline = trio.current_time() + self.options.handshake_timeout
                try:
                    with trio.fail_at(deadline):
                        interval = await self._hello(conn)
                except Finish as finish:
                    conn.outcome = finish.outcome
                except trio.TooSlowError:
                    conn.outcome = _resume("handshake timed out", "handshake_timeout")
                except GatewayHandshakeError as exc:
                    log.warning(
                        "gateway_handshake_failed", shard_id=self.shard_id, reason=exc.reason
                    )
                    conn.outcome = _resume(exc.reason, "handshake_error")
                else:
                    await self._run_connection(conn, interval, resuming=resuming, deadline=deadline)
                outcome = conn.outcome or _resume("connection ended", "network")
                with trio.move_on_after(self.options.close_timeout):
                    await ws.aclose(code=c.CLOSE_RECONNECT)
        except (OSError, trio.BrokenResourceError, trio_websocket.HandshakeError) as exc:
            # Connecting failed, or closing timed out after the outcome was already known.
            if outcome is None:
                outcome = _resume(f"could not connect: {type(exc).__name__}", "network")
        assert outcome is not None
        return outcome

    async def _run_connection(
        self, conn: Conn, interval: float, *, resuming: bool, deadline: float
    ) -> None:
        send, receive = trio.open_memory_channel[dict[str, Any]](self.options.dispatch_buffer)
        async with trio.open_nursery() as nursery:
            conn.scope = nursery.cancel_scope
            nursery.start_soon(self._heartbeat, conn, interval)
            nursery.start_soon(self._reader, conn, send)
            nursery.start_soon(self._deliverer, conn, receive)
            try:
                with trio.fail_at(deadline):
                    await self._identify_or_resume(conn, resuming)
                    await conn.handshake_done.wait()
            except Finish as finish:
                conn.finish(finish.outcome)
                return
            except trio.TooSlowError:
                conn.finish(_resume("handshake timed out", "handshake_timeout"))
                return
            self._set_state(ShardState.READY)
            self._ready.set()
            nursery.start_soon(self._writer, conn)

    # ------------------------------------------------------------------ handshake

    async def _receive(self, conn: Conn) -> dict[str, Any]:
        while True:
            try:
                raw = await conn.ws.get_message()
            except trio_websocket.ConnectionClosed as closed:
                raise Finish(self._closed(conn, closed)) from None
            try:
                payload = decode_message(raw, conn.decompressor)
            except GatewayDecodeError as exc:
                log.warning("gateway_message_undecodable", shard_id=self.shard_id, error=str(exc))
                raise Finish(_resume(str(exc), "decode_error")) from None
            if payload is not None:
                return payload

    def _closed(self, conn: Conn, closed: trio_websocket.ConnectionClosed) -> Outcome:
        code = closed.reason.code if closed.reason is not None else None
        return close_outcome(code, sent=conn.sent, compression=self.compression)

    async def _hello(self, conn: Conn) -> float:
        hello = await self._receive(conn)
        if hello["op"] == c.OP_RECONNECT:
            raise Finish(
                _resume("server asked to reconnect before HELLO", "op7_reconnect", immediate=True)
            )
        if hello["op"] != c.OP_HELLO:
            raise GatewayHandshakeError(
                self.shard_id, f"expected HELLO, got op {hello['op']!r}"[:200]
            )
        interval = heartbeat_interval(hello)
        if interval is None:
            raise GatewayHandshakeError(self.shard_id, "HELLO without a usable heartbeat_interval")
        conn.limiter = SendLimiter(
            limit=self.options.send_limit,
            period=self.options.send_period,
            reserve=SendLimiter.reserve_for(interval, limit=self.options.send_limit),
        )
        return interval

    async def _identify_or_resume(self, conn: Conn, resuming: bool) -> None:
        if resuming and self._session is not None:
            self._set_state(ShardState.RESUMING)
            self.resumes += 1
            d: dict[str, Any] = {
                "token": self._token.value,
                "session_id": self._session.session_id,
                "seq": self.seq,
            }
            await self._send(conn, c.OP_RESUME, d)
        else:
            self._set_state(ShardState.IDENTIFYING)
            self.identifies += 1
            self._identify_granted = False
            self._gate.identified(self.shard_id)
            self._metrics.gateway_identify(self.shard_id)
            d = {
                "token": self._token.value,
                "intents": self.options.intents,
                "properties": dict(DEFAULT_PROPERTIES),
                "shard": [self.shard_id, self.shard_count],
            }
            await self._send(conn, c.OP_IDENTIFY, d)

    # ------------------------------------------------------------------ tasks

    async def _reader(self, conn: Conn, dispatches: trio.MemorySendChannel[dict[str, Any]]) -> None:
        """Read every message; control ops at once, dispatches to the deliverer (see above)."""
        async with dispatches:
            while True:
                try:
                    payload = await self._receive(conn)
                except Finish as finish:
                    conn.finish(finish.outcome)
                    return
                op = payload["op"]
                if op == c.OP_DISPATCH:
                    self._note_handshake(conn, payload)
                    try:
                        dispatches.send_nowait(payload)
                    except trio.WouldBlock:
                        conn.stalled = conn.stalled_since_beat = True
                        conn.stalls += 1
                        self.stalls += 1
                        try:
                            await dispatches.send(payload)
                        finally:
                            conn.stalled = False
                elif op == c.OP_HEARTBEAT_ACK:
                    conn.acked = True
                    if conn.beat_sent_at is not None:
                        self.latency = trio.current_time() - conn.beat_sent_at
                        self._metrics.gateway_latency(self.shard_id, self.latency)
                elif op == c.OP_HEARTBEAT:
                    await self._beat(conn, scheduled=False)
                elif op in (c.OP_RECONNECT, c.OP_INVALID_SESSION):
                    conn.finish(control_outcome(payload, self.options.invalid_session_delay))
                    return

    async def _deliverer(
        self, conn: Conn, dispatches: trio.MemoryReceiveChannel[dict[str, Any]]
    ) -> None:
        """Hand dispatches to the router in order (the only task that waits for it)."""
        async with dispatches:
            async for payload in dispatches:
                await self._dispatch(payload)

    def _note_handshake(self, conn: Conn, payload: dict[str, Any]) -> None:
        """READY / RESUMED end the handshake when *read*, not when the router takes them: a
        backed-up router must not make the handshake time out."""
        name = payload.get("t")
        if name == "READY":
            try:
                event = parse_event("READY", payload.get("d"))
            except EventDecodeError:
                return  # the deliverer logs it; without a session the handshake times out
            assert isinstance(event, Ready)
            resume_url = event.resume_gateway_url
            if not usable_ws_url(resume_url):
                log.warning("gateway_resume_url_unusable", shard_id=self.shard_id)
                resume_url = self._gateway_url
            self._session = _Session(event.session_id, resume_url)
            log.info("gateway_ready", shard_id=self.shard_id, guilds=len(event.guild_ids))
            conn.handshake_done.set()
        elif name == "RESUMED":
            log.info("gateway_resumed", shard_id=self.shard_id, seq=self.seq)
            self._metrics.gateway_resumed(self.shard_id, self._last_cause)
            conn.handshake_done.set()

    async def _heartbeat(self, conn: Conn, interval: float) -> None:
        await trio.sleep(interval * random.random())
        while True:
            if conn.may_be_zombie():
                log.warning("gateway_zombie", shard_id=self.shard_id, gen=conn.generation)
                conn.finish(
                    _resume("no heartbeat ACK (zombie connection)", "zombie", immediate=True)
                )
                return
            if not conn.acked:
                log.debug("gateway_ack_behind_dispatches", shard_id=self.shard_id)
            conn.stalled_since_beat = conn.stalled  # still waiting: this interval counts too
            await self._beat(conn, scheduled=True)
            await trio.sleep(interval)

    async def _writer(self, conn: Conn) -> None:
        while True:
            if self._pending is None:
                try:
                    self._pending = await self._outbox_receive.receive()
                except trio.EndOfChannel:  # close(): everything queued has been sent
                    conn.finish(_resume("shard closing", "shutdown"))
                    return
            await conn.limiter.acquire()
            try:
                await conn.ws.send_message(self._pending)
            except trio_websocket.ConnectionClosed as closed:
                # Kept in _pending: the next connection sends it again.
                conn.finish(self._closed(conn, closed))
                return
            conn.sent += 1
            self._pending = None

    # ------------------------------------------------------------------ helpers

    async def _beat(self, conn: Conn, *, scheduled: bool) -> None:
        if scheduled:
            conn.acked = False
            conn.beat_sent_at = trio.current_time()
        conn.limiter.record_heartbeat()
        try:
            await conn.ws.send_message(encode_payload(c.OP_HEARTBEAT, self.seq))
        except trio_websocket.ConnectionClosed as closed:
            conn.finish(self._closed(conn, closed))
        else:
            conn.sent += 1

    async def _send(self, conn: Conn, op: int, d: Any) -> None:
        text = encode_payload(op, d)
        await conn.limiter.acquire()
        try:
            await conn.ws.send_message(text)
        except trio_websocket.ConnectionClosed as closed:
            raise Finish(self._closed(conn, closed)) from None
        conn.sent += 1

    async def _dispatch(self, payload: dict[str, Any]) -> GatewayEvent | None:
        name = payload.get("t")
        seq = payload.get("s")
        if type(seq) is not int:
            seq = None
        try:
            event = parse_event(str(name)[:100], payload.get("d"))
        except EventDecodeError as exc:
            log.warning("gateway_event_malformed", shard_id=self.shard_id, error=str(exc)[:500])
            event = None
        except Exception:  # a parser bug must cost one event, not the process
            log.exception(
                "gateway_event_parser_failed", shard_id=self.shard_id, name=str(name)[:100]
            )
            event = None
        if event is not None:
            await self._events.send(
                GatewayDispatch(shard_id=self.shard_id, seq=seq or 0, event=event)
            )
        # Only now: an event cut off before the router took it replays on resume.
        if seq is not None:
            self.seq = seq
        return event
