"""Shard connection state, options and the reasons a connection ends."""

from __future__ import annotations

import enum
import random
import sys
from collections.abc import Callable
from typing import Final, Protocol

import attrs

from musicbot.gateway.close_codes import CloseAction
from musicbot.gateway.constants import DEFAULT_INTENTS, SEND_LIMIT, SEND_PERIOD


class ShardState(enum.Enum):
    """Where a shard is in its connection life cycle."""

    DISCONNECTED = "disconnected"  # not started yet
    WAITING_IDENTIFY = "waiting_identify"  # queued in the max_concurrency bucket
    CONNECTING = "connecting"  # opening the WebSocket
    IDENTIFYING = "identifying"  # HELLO seen, IDENTIFY sent, waiting for READY
    RESUMING = "resuming"  # HELLO seen, RESUME sent, replay then RESUMED
    READY = "ready"  # reader, heartbeat and writer tasks running
    BACKING_OFF = "backing_off"  # closed; waiting before the next attempt
    STOPPED = "stopped"  # fatal close or cancelled


DEFAULT_PROPERTIES: Final = {"os": sys.platform, "browser": "musicbot", "device": "musicbot"}


@attrs.frozen(kw_only=True)
class ShardOptions:
    intents: int = DEFAULT_INTENTS
    handshake_timeout: float = 30.0  # HELLO → READY/RESUMED must finish within this
    connect_timeout: float = 15.0
    close_timeout: float = 2.0  # bound on the WebSocket closing handshake
    backoff_base: float = 1.0  # reconnect delay = uniform(0, min(max, base * 2**attempt))
    backoff_max: float = 60.0
    healthy_after: float = 60.0  # a connection READY at least this long reconnects at once
    invalid_session_delay: tuple[float, float] = (1.0, 5.0)  # op 9 d=false: wait, identify
    outbox_size: int = 16  # payloads queued by handles (op 4) while disconnected
    # Dispatches read but not yet taken by the router.  Small: when full the reader waits
    # (lossless), and the zombie check knows not to count the ACKs queued behind them.
    dispatch_buffer: int = 32
    send_limit: int = SEND_LIMIT
    send_period: float = SEND_PERIOD


@attrs.frozen(kw_only=True)
class Outcome:
    """Why one connection ended and what the shard does next."""

    reason: str
    action: CloseAction
    code: int | None = None
    cause: str = "network"  # short label for metrics: zombie, op7_reconnect, op9, a close name
    immediate: bool = False  # reconnect without backoff (op 7, zombie)
    delay: float | None = None  # a fixed delay instead of the backoff (op 9 d=false)
    fix: str = ""


def reconnect_delay(
    outcome: Outcome,
    *,
    attempt: int,
    lived: float | None,
    options: ShardOptions,
    rand: Callable[[float, float], float] = random.uniform,
) -> tuple[int, float]:
    """``(next attempt number, seconds to wait)`` before reconnecting.

    ``lived`` is how long the connection lasted if it reached READY/RESUMED, else ``None``.
    A connection that got through the handshake resets the attempt count; one that stayed up
    ``healthy_after`` seconds, an op 7 and a zombie reconnect at once; op 9 ``d=false`` waits its
    own 1–5 s; anything else backs off exponentially with full jitter.
    """
    if lived is not None:
        attempt = 0
    if outcome.delay is not None:
        return attempt, outcome.delay
    if outcome.immediate or (lived is not None and lived >= options.healthy_after):
        return 0, 0.0
    attempt += 1
    cap = min(options.backoff_max, options.backoff_base * 2**attempt)
    return attempt, rand(0.0, cap)


class GatewayMetrics(Protocol):
    """What the shards report; :class:`musicbot.ops.metrics.Metrics` fits structurally."""

    def gateway_latency(self, shard_id: int, seconds: float) -> None:
        """Record the heartbeat round trip of shard ``shard_id``."""

    def gateway_reconnect(self, shard_id: int, cause: str) -> None:
        """Count a reconnect of shard ``shard_id`` and its ``cause``."""

    def gateway_resumed(self, shard_id: int, cause: str) -> None:
        """Count a successful RESUME of shard ``shard_id`` and its ``cause``."""

    def gateway_identify(self, shard_id: int) -> None:
        """Count an IDENTIFY sent by shard ``shard_id``."""


class NullMetrics:
    def gateway_latency(self, shard_id: int, seconds: float) -> None:
        pass

    def gateway_reconnect(self, shard_id: int, cause: str) -> None:
        pass

    def gateway_resumed(self, shard_id: int, cause: str) -> None:
        pass

    def gateway_identify(self, shard_id: int) -> None:
        pass


class Finish(Exception):
    """Raised inside the straight-line handshake to end the connection with an outcome."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


DEFAULT_OPTIONS: Final = ShardOptions()
