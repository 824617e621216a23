"""Send limiter and identify gate.

Send limiter theory: Discord allows 120 payloads per 60 s per connection, heartbeats included,
and disconnects a client that sends more.  A heartbeat must never wait (a late beat looks like
a zombie), so ordinary payloads may only use ``limit - reserve`` slots of the sliding window;
heartbeats always go through and are recorded.  ``reserve`` is the number of heartbeats that
fit in one window (plus one for a server-requested beat).

Identify gate theory: Discord lets ``max_concurrency`` shards identify per 5 s; shard ``i``
belongs to bucket ``i % max_concurrency``.  Each bucket admits one identify per window, and
shards ask in id order, so buckets start in order.  Each identify also spends one of the
day's session starts (``session_start_limit``); using them all up makes Discord reset the
token, so the gate refuses to go below ``floor``.  A slot granted to a shard whose connection
then fails before IDENTIFY is kept by that shard for its next attempt (no session start spent).

Across processes (shard ranges of one bot in several processes) the per-process gate is not
enough: an optional :class:`IdentifyCoordinator` (``musicbot.storage`` implements it on the
shared database) is asked for the bucket's slot too, after the local wait, so N processes
together still identify once per bucket per window.
"""

from __future__ import annotations

import collections
import math
from typing import Protocol

import trio

from musicbot.gateway.constants import IDENTIFY_WINDOW, SEND_LIMIT, SEND_PERIOD
from musicbot.gateway.errors import SessionStartLimitError


class SendLimiter:
    """Sliding-window limiter for one connection."""

    def __init__(
        self, *, limit: int = SEND_LIMIT, period: float = SEND_PERIOD, reserve: int = 3
    ) -> None:
        if not 0 <= reserve < limit:
            raise ValueError("reserve must leave room for ordinary payloads")
        self.limit = limit
        self.period = period
        self.reserve = reserve
        self._sent: collections.deque[float] = collections.deque()

    @staticmethod
    def reserve_for(heartbeat_interval: float, *, limit: int = SEND_LIMIT) -> int:
        """Heartbeats one window needs, plus one for a server-requested beat."""
        beats = math.ceil(SEND_PERIOD / max(heartbeat_interval, 1e-3)) + 1
        return min(beats, limit // 2)

    def _expire(self, now: float) -> None:
        while self._sent and self._sent[0] <= now - self.period:
            self._sent.popleft()

    def in_window(self) -> int:
        self._expire(trio.current_time())
        return len(self._sent)

    def record_heartbeat(self) -> None:
        """Heartbeats never wait; they use the reserved room."""
        now = trio.current_time()
        self._expire(now)
        self._sent.append(now)

    async def acquire(self) -> None:
        """Wait until an ordinary payload may be sent, then count it."""
        while True:
            now = trio.current_time()
            self._expire(now)
            if len(self._sent) < self.limit - self.reserve:
                self._sent.append(now)
                return
            await trio.sleep_until(self._sent[0] + self.period)


class IdentifyCoordinator(Protocol):
    """Cross-process identify slots (see the module docstring)."""

    async def wait_turn(self, bucket: int, window: float) -> None:
        """Return once this process holds ``bucket``'s slot for the next ``window`` seconds."""
        ...


class IdentifyGate:
    """Shared by every shard of the process; see the module docstring."""

    def __init__(
        self,
        *,
        max_concurrency: int = 1,
        remaining: int = 1000,
        reset_after: float = 86400.0,
        total: int = 1000,
        floor: int = 2,
        window: float = IDENTIFY_WINDOW,
        coordinator: IdentifyCoordinator | None = None,
    ) -> None:
        self.max_concurrency = max(1, max_concurrency)
        self.coordinator = coordinator
        self.window = window
        self.floor = floor
        self.total = total
        self.remaining = remaining
        self._reset_at = trio.current_time() + reset_after
        self._locks = [trio.Lock() for _ in range(self.max_concurrency)]
        self._last: list[float | None] = [None] * self.max_concurrency

    def bucket(self, shard_id: int) -> int:
        return shard_id % self.max_concurrency

    def check_start(self, shards: int) -> None:
        """Refuse to start ``shards`` shards if that would dip into the last session starts."""
        if self.remaining - shards < self.floor:
            raise SessionStartLimitError(
                self.remaining, shards, max(0.0, self._reset_at - trio.current_time())
            )

    async def wait_turn(self, shard_id: int) -> None:
        """Wait for this shard's identify slot (the shard then calls :meth:`identified`).

        The slot is taken provisionally now, so the next shard of the bucket waits a full
        window; :meth:`identified` moves it to the moment IDENTIFY is really sent.
        """
        bucket = self.bucket(shard_id)
        async with self._locks[bucket]:
            while True:  # identified() may move the bucket's window while we sleep
                last = self._last[bucket]
                if last is None or trio.current_time() >= last + self.window:
                    break
                await trio.sleep_until(last + self.window)
            if self.coordinator is not None:
                await self.coordinator.wait_turn(bucket, self.window)
            now = trio.current_time()
            if now >= self._reset_at:
                self.remaining = self.total
                self._reset_at = now + 86400.0
            if self.remaining - 1 < self.floor:
                raise SessionStartLimitError(self.remaining, 1, self._reset_at - now)
            self._last[bucket] = now

    def identified(self, shard_id: int) -> None:
        """IDENTIFY was sent: one session start is spent, the bucket's window starts now."""
        self._last[self.bucket(shard_id)] = trio.current_time()
        self.remaining -= 1
