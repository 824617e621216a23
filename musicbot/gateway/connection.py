"""One gateway WebSocket connection's state, its URL, and how a HELLO is read.

Split out of :mod:`musicbot.gateway.shard`, which runs the tasks that share a :class:`Conn`.
"""

from __future__ import annotations

import math
import random
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs
import trio
import trio_websocket

from musicbot import __version__
from musicbot.gateway import constants as c
from musicbot.gateway.close_codes import CloseAction, GatewayCloseCode, classify_close
from musicbot.gateway.codec import Compression, Decompressor
from musicbot.gateway.ratelimit import SendLimiter
from musicbot.gateway.state import Outcome

# Discord's format for bot clients (developers/reference.mdx "User Agent"); some
# Discord-compatible servers refuse a gateway connection without one.
USER_AGENT: Final = f"DiscordBot (https://github.com/musicbot, {__version__})"
# A HELLO outside these bounds is refused as a broken handshake: NaN, infinity, zero or a
# negative interval would crash or spin the heartbeat; Discord sends about 41 250 ms.
MIN_HEARTBEAT_MS: Final = 10.0
MAX_HEARTBEAT_MS: Final = 3_600_000.0


def gateway_url_with_query(url: str, *, compress: Compression | None) -> str:
    """``url`` with ``v=10&encoding=json`` (and ``compress=...``) in its query."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update({"v": str(c.API_VERSION), "encoding": "json"})
    if compress:
        query["compress"] = compress
    else:
        query.pop("compress", None)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(query), ""))


def usable_ws_url(url: str) -> bool:
    """Whether ``url`` is a ws:// or wss:// URL a socket can be opened to (READY's
    ``resume_gateway_url`` comes from the peer: a bad one must not end the shard)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError when out of range
    except ValueError:
        return False
    return parts.scheme in ("ws", "wss") and bool(parts.hostname)


def heartbeat_interval(hello: dict[str, Any]) -> float | None:
    """Seconds between heartbeats from a HELLO payload, or ``None`` if it is unusable."""
    d = hello.get("d")
    raw = d.get("heartbeat_interval") if isinstance(d, dict) else None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    ms = float(raw)
    if not math.isfinite(ms) or not MIN_HEARTBEAT_MS <= ms <= MAX_HEARTBEAT_MS:
        return None
    return ms / 1000.0


@attrs.define(eq=False)
class Conn:
    """One WebSocket connection's state; touched only by that connection's tasks.

    ``stalled`` / ``stalled_since_beat``: the reader is (or was, since the last scheduled
    heartbeat) waiting for the router to take a dispatch.  While it waits it reads nothing, so a
    missing ACK proves nothing: it may sit in the socket behind the dispatches.  The zombie
    check only judges an interval in which the reader was free to read.
    """

    generation: int
    ws: trio_websocket.WebSocketConnection
    decompressor: Decompressor | None
    limiter: SendLimiter
    acked: bool = True
    beat_sent_at: float | None = None
    outcome: Outcome | None = None
    scope: trio.CancelScope | None = None
    sent: int = 0  # payloads sent on this connection (a 4002 before any is not our bug)
    stalled: bool = False
    stalled_since_beat: bool = False
    stalls: int = 0
    handshake_done: trio.Event = attrs.Factory(trio.Event)

    def finish(self, outcome: Outcome) -> None:
        if self.outcome is None:
            self.outcome = outcome
        if self.scope is not None:
            self.scope.cancel()

    def may_be_zombie(self) -> bool:
        """A scheduled beat is due: no ACK although the reader could have read one."""
        return not self.acked and not self.stalled and not self.stalled_since_beat


def resume_outcome(reason: str, cause: str, *, immediate: bool = False) -> Outcome:
    return Outcome(reason=reason, action=CloseAction.RESUME, cause=cause, immediate=immediate)


def close_outcome(code: int | None, *, sent: int, compression: str | None) -> Outcome:
    """What a close by the server (``code``; ``None``: no close frame) means for the shard."""
    verdict = classify_close(code)
    reason = verdict.message
    if code == GatewayCloseCode.DECODE_ERROR and sent == 0:
        # Nothing was sent yet, so nothing of ours was undecodable: the server refused the
        # connection itself (its query string, compression or headers).
        reason = (
            "the server closed with 4002 before the bot sent anything: it does not accept"
            f" this connection (compress={compression or 'none'}, encoding=json,"
            " or its headers)"
        )
    return Outcome(
        reason=reason,
        action=verdict.action,
        code=verdict.code,
        fix=verdict.fix,
        cause=verdict.cause,
    )


def control_outcome(payload: dict[str, Any], invalid_session_delay: tuple[float, float]) -> Outcome:
    """Op 7 (reconnect and resume) or op 9 (``d`` true: resume; false: identify after 1-5 s)."""
    if payload["op"] == c.OP_RECONNECT:
        return resume_outcome("server asked to reconnect (op 7)", "op7_reconnect", immediate=True)
    if payload.get("d"):
        return resume_outcome("invalid session, resumable (op 9)", "op9", immediate=True)
    lo, hi = invalid_session_delay
    return Outcome(
        reason="invalid session (op 9)",
        action=CloseAction.REIDENTIFY,
        cause="op9",
        delay=random.uniform(lo, hi),
    )
