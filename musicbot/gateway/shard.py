"""One gateway shard: connect, identify or resume, read, heartbeat, reconnect.

Theory.  A shard is a loop of *connections*.  Each connection gets a new generation id and:

1. (identify only) waits for its ``max_concurrency`` bucket in the shared :class:`IdentifyGate`;
2. opens the WebSocket and runs a straight-line handshake under ``fail_after``: HELLO, then
   IDENTIFY (→ READY) or RESUME (→ replayed events → RESUMED);
3. starts three tasks: the reader (dispatches, op 1/7/9/11), the heartbeat (first beat
   jittered by ``interval * random()``, then every ``interval``; a beat due with no ACK since the
   previous one means a zombie connection) and the writer (payloads queued by handles, through
   the per-connection :class:`SendLimiter`);
4. ends with an :class:`Outcome` set by whichever task noticed first; the others are cancelled.

The outcome decides the next step: resume on ``resume_gateway_url``, identify afresh on the base
URL, or stop the bot with :class:`GatewayFatalError`.  We close with 4900 (never 1000/1001, which
would end the session) whenever we intend to resume.

The session (``session_id``, ``resume_gateway_url``, last ``seq``) survives connections.  ``seq``
advances only once the router accepted the event, so an event cut off by a disconnect replays on
resume instead of being lost.
"""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs
import structlog
import trio
import trio_websocket

from musicbot.config import Secret
from musicbot.gateway import constants as c
from musicbot.gateway.close_codes import CloseAction, classify_close
from musicbot.gateway.codec import Inflater, decode_message, encode_payload
from musicbot.gateway.errors import GatewayFatalError, GatewayHandshakeError
from musicbot.gateway.events import (
    EventDecodeError,
    GatewayDispatch,
    Ready,
    Resumed,
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

MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # READY / GUILD_CREATE of big guilds are large


def gateway_url_with_query(url: str, *, compress: bool) -> str:
    """``url`` with ``v=10&encoding=json`` (and ``compress=zlib-stream``) in its query."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update({"v": str(c.API_VERSION), "encoding": "json"})
    if compress:
        query["compress"] = "zlib-stream"
    else:
        query.pop("compress", None)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(query), ""))


@attrs.define
class _Session:
    session_id: str
    resume_url: str


@attrs.define
class _Conn:
    """One WebSocket connection's state; touched only by that connection's tasks."""

    generation: int
    ws: trio_websocket.WebSocketConnection
    inflater: Inflater | None
    limiter: SendLimiter
    acked: bool = True
    beat_sent_at: float | None = None
    outcome: Outcome | None = None
    scope: trio.CancelScope | None = None

    def finish(self, outcome: Outcome) -> None:
        if self.outcome is None:
            self.outcome = outcome
        if self.scope is not None:
            self.scope.cancel()


def _resume(reason: str, cause: str, *, immediate: bool = False) -> Outcome:
    return Outcome(reason=reason, action=CloseAction.RESUME, cause=cause, immediate=immediate)


class Shard:
    """The state and tasks of one shard.  Other code uses :class:`ShardHandle`."""

    def __init__(
        self,
        *,
        shard_id: int,
        shard_count: int,
        token: Secret,
        gateway_url: str,
        events: trio.MemorySendChannel[GatewayDispatch],
        identify_gate: IdentifyGate,
        compress: bool = True,
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
        self._compress = compress
        self.options = options
        self.state = ShardState.DISCONNECTED
        self.generation = 0
        self.latency: float | None = None
        self.seq: int | None = None
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
        url = gateway_url_with_query(base, compress=self._compress)
        self._set_state(ShardState.CONNECTING)
        outcome: Outcome | None = None
        try:
            async with trio_websocket.open_websocket_url(
                url,
                connect_timeout=self.options.connect_timeout,
                disconnect_timeout=self.options.close_timeout,
                max_message_size=MAX_MESSAGE_BYTES,
            ) as ws:
                conn = _Conn(
                    generation=self.generation,
                    ws=ws,
                    inflater=Inflater() if self._compress else None,
                    limiter=SendLimiter(  # replaced once HELLO tells the heartbeat interval
                        limit=self.options.send_limit, period=self.options.send_period, reserve=0
                    ),
                )
                try:
                    with trio.fail_after(self.options.handshake_timeout):
                        interval = await self._handshake(conn, resuming)
                except Finish as finish:
                    conn.outcome = finish.outcome
                except trio.TooSlowError:
                    conn.outcome = _resume("handshake timed out", "handshake_timeout")
                except GatewayHandshakeError as exc:
                    conn.outcome = _resume(exc.reason, "handshake_error")
                else:
                    self._set_state(ShardState.READY)
                    self._ready.set()
                    async with trio.open_nursery() as nursery:
                        conn.scope = nursery.cancel_scope
                        nursery.start_soon(self._reader, conn)
                        nursery.start_soon(self._heartbeat, conn, interval)
                        nursery.start_soon(self._writer, conn)
                outcome = conn.outcome or _resume("connection ended", "network")
                with trio.move_on_after(self.options.close_timeout):
                    await ws.aclose(code=c.CLOSE_RECONNECT)
        except (OSError, trio.BrokenResourceError, trio_websocket.HandshakeError) as exc:
            # Connecting failed, or closing timed out after the outcome was already known.
            if outcome is None:
                outcome = _resume(f"could not connect: {type(exc).__name__}", "network")
        assert outcome is not None
        return outcome

    # ------------------------------------------------------------------ handshake

    async def _receive(self, conn: _Conn) -> dict[str, Any]:
        while True:
            try:
                raw = await conn.ws.get_message()
            except trio_websocket.ConnectionClosed as closed:
                raise Finish(self._closed(closed)) from None
            try:
                payload = decode_message(raw, conn.inflater)
            except (ValueError, UnicodeDecodeError) as exc:
                raise Finish(
                    _resume(f"undecodable message: {type(exc).__name__}", "decode_error")
                ) from None
            if payload is not None:
                return payload

    def _closed(self, closed: trio_websocket.ConnectionClosed) -> Outcome:
        code = closed.reason.code if closed.reason is not None else None
        verdict = classify_close(code)
        return Outcome(
            reason=verdict.message,
            action=verdict.action,
            code=verdict.code,
            fix=verdict.fix,
            cause=verdict.cause,
        )

    async def _handshake(self, conn: _Conn, resuming: bool) -> float:
        hello = await self._receive(conn)
        if hello["op"] == c.OP_RECONNECT:
            raise Finish(
                _resume("server asked to reconnect before HELLO", "op7_reconnect", immediate=True)
            )
        if hello["op"] != c.OP_HELLO:
            raise GatewayHandshakeError(self.shard_id, f"expected HELLO, got op {hello['op']}")
        try:
            interval = float(hello["d"]["heartbeat_interval"]) / 1000.0
        except (KeyError, TypeError, ValueError):
            raise GatewayHandshakeError(self.shard_id, "HELLO without heartbeat_interval") from None
        conn.limiter = SendLimiter(
            limit=self.options.send_limit,
            period=self.options.send_period,
            reserve=SendLimiter.reserve_for(interval, limit=self.options.send_limit),
        )
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
        while True:
            payload = await self._receive(conn)
            op = payload["op"]
            if op == c.OP_DISPATCH:
                event = await self._dispatch(conn, payload)
                if isinstance(event, Ready):
                    self._session = _Session(event.session_id, event.resume_gateway_url)
                    log.info("gateway_ready", shard_id=self.shard_id, guilds=len(event.guild_ids))
                    return interval
                if isinstance(event, Resumed):
                    log.info("gateway_resumed", shard_id=self.shard_id, seq=self.seq)
                    self._metrics.gateway_resumed(self.shard_id, self._last_cause)
                    return interval
            elif op == c.OP_HEARTBEAT:
                await self._beat(conn, scheduled=False)
            elif op in (c.OP_RECONNECT, c.OP_INVALID_SESSION):
                raise Finish(self._control(payload))

    # ------------------------------------------------------------------ tasks

    def _control(self, payload: dict[str, Any]) -> Outcome:
        if payload["op"] == c.OP_RECONNECT:
            return _resume("server asked to reconnect (op 7)", "op7_reconnect", immediate=True)
        if payload.get("d"):
            return _resume("invalid session, resumable (op 9)", "op9", immediate=True)
        lo, hi = self.options.invalid_session_delay
        return Outcome(
            reason="invalid session (op 9)",
            action=CloseAction.REIDENTIFY,
            cause="op9",
            delay=random.uniform(lo, hi),
        )

    async def _reader(self, conn: _Conn) -> None:
        while True:
            try:
                payload = await self._receive(conn)
            except Finish as finish:
                conn.finish(finish.outcome)
                return
            op = payload["op"]
            if op == c.OP_DISPATCH:
                await self._dispatch(conn, payload)
            elif op == c.OP_HEARTBEAT_ACK:
                conn.acked = True
                if conn.beat_sent_at is not None:
                    self.latency = trio.current_time() - conn.beat_sent_at
                    self._metrics.gateway_latency(self.shard_id, self.latency)
            elif op == c.OP_HEARTBEAT:
                await self._beat(conn, scheduled=False)
            elif op in (c.OP_RECONNECT, c.OP_INVALID_SESSION):
                conn.finish(self._control(payload))
                return

    async def _heartbeat(self, conn: _Conn, interval: float) -> None:
        await trio.sleep(interval * random.random())
        while True:
            if not conn.acked:
                log.warning("gateway_zombie", shard_id=self.shard_id, gen=conn.generation)
                conn.finish(
                    _resume("no heartbeat ACK (zombie connection)", "zombie", immediate=True)
                )
                return
            await self._beat(conn, scheduled=True)
            await trio.sleep(interval)

    async def _writer(self, conn: _Conn) -> None:
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
                conn.finish(self._closed(closed))
                return
            self._pending = None

    # ------------------------------------------------------------------ helpers

    async def _beat(self, conn: _Conn, *, scheduled: bool) -> None:
        if scheduled:
            conn.acked = False
            conn.beat_sent_at = trio.current_time()
        conn.limiter.record_heartbeat()
        try:
            await conn.ws.send_message(encode_payload(c.OP_HEARTBEAT, self.seq))
        except trio_websocket.ConnectionClosed as closed:
            conn.finish(self._closed(closed))

    async def _send(self, conn: _Conn, op: int, d: Any) -> None:
        text = encode_payload(op, d)
        await conn.limiter.acquire()
        try:
            await conn.ws.send_message(text)
        except trio_websocket.ConnectionClosed as closed:
            raise Finish(self._closed(closed)) from None

    async def _dispatch(self, conn: _Conn, payload: dict[str, Any]) -> object:
        name = payload.get("t")
        seq = payload.get("s")
        try:
            event = parse_event(str(name), payload.get("d"))
        except EventDecodeError as exc:
            log.warning("gateway_event_malformed", shard_id=self.shard_id, error=str(exc))
            event = None
        if event is not None:
            await self._events.send(
                GatewayDispatch(shard_id=self.shard_id, seq=seq or 0, event=event)
            )
        # Only now: an event cut off before the router took it replays on resume.
        if isinstance(seq, int):
            self.seq = seq
        return event
