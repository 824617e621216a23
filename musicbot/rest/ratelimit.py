"""The REST rate limiter: an actor that hands out permits.

Theory (after twilight's ratelimiter): every request first asks this actor for a permit and
hands it back with what the response said (:class:`Outcome`).  The actor alone owns the state,
so no locks are needed.

* **Buckets.**  A route (method + template) is mapped to the bucket hash of its last
  ``X-RateLimit-Bucket`` header; a bucket instance is ``(hash, major parameter)``.  Until a
  route's hash is known it gets a provisional bucket of its own.  Requests in one bucket go one at
  a time (a permit is granted only when the previous request of that bucket has answered), so the
  ``Remaining`` / ``Reset-After`` of the last answer is always current: when ``Remaining`` is 0
  the next permit waits until the reset.  This serialises each bucket, which costs nothing for a
  bot whose buckets are per channel, guild or interaction.
* **Global limit.**  At most ``global_limit`` (50) permits in any 1 s window, except for routes
  Discord exempts (interaction callbacks and interaction webhooks).  A 429 with ``global: true``
  (or ``X-RateLimit-Global``) stops every non-exempt permit for ``retry_after``.
* **429.**  The bucket is closed until ``retry_after`` (body or ``Retry-After`` header, whichever
  is longer); the client then asks again, so the retry waits here.  Not for
  ``X-RateLimit-Scope: shared``: that limits a resource for every client, can last twenty
  minutes, and the client gives up on it at once, so holding the bucket would only stall
  unrelated requests of that bucket for as long.
* **Invalid requests.**  401, 403 and 429 (except ``shared`` scope) answers are counted over a
  sliding 10 minute window; past ``invalid_limit`` (below Discord's 10,000, which bans the IP)
  every permit waits until the window slides.

All waiting uses the Trio clock, so tests can drive it with ``MockClock``.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections import deque
from typing import Final, assert_never

import attrs
import structlog
import trio

from musicbot.errors import ActorDeadError
from musicbot.rest.messages import Acquire, Done, Outcome, Permit, RateLimiterMsg
from musicbot.rest.routes import Route

log = structlog.get_logger(__name__)

GLOBAL_LIMIT: Final = 50  # requests per second per bot (Discord)
GLOBAL_WINDOW: Final = 1.0
INVALID_LIMIT: Final = 9_000  # back off well before Discord's 10,000 per 10 minutes
INVALID_WINDOW: Final = 600.0
ACTOR: Final = "rest_ratelimiter"


@attrs.define
class _Waiter:
    ticket: int
    exempt_global: bool
    reply: trio.MemorySendChannel[Permit]


@attrs.define
class _Bucket:
    limit: int | None = None
    remaining: int = 1
    reset_at: float = -math.inf
    busy: int | None = None  # the ticket in flight
    waiters: deque[_Waiter] = attrs.field(factory=deque)

    def ready_at(self) -> float:
        return -math.inf if self.remaining > 0 else self.reset_at


BucketId = tuple[str, str]  # (hash or "?route key", major)


@attrs.define
class _State:
    global_limit: int
    invalid_limit: int
    invalid_window: float
    route_hash: dict[str, str] = attrs.field(factory=dict)
    buckets: dict[BucketId, _Bucket] = attrs.field(factory=dict)
    granted: dict[int, BucketId] = attrs.field(factory=dict)
    recent: deque[float] = attrs.field(factory=deque)  # grant times in the global window
    global_until: float = -math.inf
    invalid: deque[float] = attrs.field(factory=deque)

    def bucket_id(self, route_key: str, major: str) -> BucketId:
        h = self.route_hash.get(route_key)
        return (h, major) if h is not None else ("?" + route_key, major)

    # -- messages

    def acquire(self, msg: Acquire) -> None:
        bid = self.bucket_id(msg.route_key, msg.major)
        bucket = self.buckets.setdefault(bid, _Bucket())
        bucket.waiters.append(_Waiter(msg.ticket, msg.exempt_global, msg.reply))

    def done(self, msg: Done, now: float, route_keys: dict[int, str]) -> None:
        bid = self.granted.pop(msg.ticket, None)
        route_key = route_keys.pop(msg.ticket, None)
        if bid is None:  # given up before the grant: forget the waiter
            for bucket in self.buckets.values():
                for w in bucket.waiters:
                    if w.ticket == msg.ticket:
                        bucket.waiters.remove(w)
                        return
            return
        bucket = self.buckets[bid]
        bucket.busy = None
        out = msg.outcome
        if out is None:
            if bucket.limit is not None:
                bucket.remaining += 1  # the permit was not used
            return
        if out.bucket is not None and route_key is not None and bid[0] != out.bucket:
            bucket = self._learn(route_key, bid, out.bucket)
        if out.limit is not None and out.remaining is not None and out.reset_after is not None:
            bucket.limit = out.limit
            bucket.remaining = out.remaining
            bucket.reset_at = now + out.reset_after
        if out.status == 429:
            if out.is_global:
                self.global_until = max(self.global_until, now + out.retry_after)
            elif out.scope != "shared":  # shared: the client surfaces it; nothing to hold
                bucket.remaining = 0
                bucket.reset_at = max(bucket.reset_at, now + out.retry_after)
            log.warning(
                "rest_rate_limited",
                bucket=out.bucket,
                retry_after=out.retry_after,
                is_global=out.is_global,
                scope=out.scope,
            )
        if out.status in (401, 403) or (out.status == 429 and out.scope != "shared"):
            self.invalid.append(now)

    def _learn(self, route_key: str, old: BucketId, bucket_hash: str) -> _Bucket:
        """A route learned its hash: its waiters move to the shared bucket."""
        self.route_hash[route_key] = bucket_hash
        new = (bucket_hash, old[1])
        target = self.buckets.setdefault(new, _Bucket())
        source = self.buckets.get(old)
        if source is not None and old[0].startswith("?"):
            target.waiters.extend(source.waiters)
            source.waiters.clear()
            if source.busy is None:
                del self.buckets[old]
        return target

    # -- granting

    def _global_ready_at(self, now: float) -> float:
        while self.recent and self.recent[0] <= now - GLOBAL_WINDOW:
            self.recent.popleft()
        at = self.global_until
        if len(self.recent) >= self.global_limit:
            at = max(at, self.recent[-self.global_limit] + GLOBAL_WINDOW)
        return at

    def _invalid_ready_at(self, now: float) -> float:
        while self.invalid and self.invalid[0] <= now - self.invalid_window:
            self.invalid.popleft()
        if len(self.invalid) >= self.invalid_limit:
            return self.invalid[-self.invalid_limit] + self.invalid_window
        return -math.inf

    def pump(self, now: float, route_keys: dict[int, str]) -> float:
        """Grant every permit that may go now; return when to look again."""
        wake = math.inf
        invalid_at = self._invalid_ready_at(now)
        for bid, bucket in list(self.buckets.items()):
            while bucket.waiters and bucket.busy is None:
                w = bucket.waiters[0]
                at = max(bucket.ready_at(), invalid_at)
                if not w.exempt_global:
                    at = max(at, self._global_ready_at(now))
                if at > now:
                    wake = min(wake, at)
                    break
                bucket.waiters.popleft()
                if bucket.remaining <= 0:  # the window has reset
                    bucket.remaining = bucket.limit or 1
                if bucket.limit is not None:
                    bucket.remaining -= 1
                if not w.exempt_global:
                    self.recent.append(now)
                bucket.busy = w.ticket
                self.granted[w.ticket] = bid
                try:
                    w.reply.send_nowait(Permit(ticket=w.ticket))
                except (trio.BrokenResourceError, trio.ClosedResourceError, trio.WouldBlock):
                    self.done(Done(ticket=w.ticket, outcome=None), now, route_keys)
            # An idle bucket whose window has passed knows nothing useful any more: forget it,
            # so per-channel and per-interaction buckets do not pile up.
            if not bucket.waiters and bucket.busy is None and bucket.reset_at <= now:
                del self.buckets[bid]
        return wake


async def run(
    inbox: trio.MemoryReceiveChannel[RateLimiterMsg],
    *,
    global_limit: int = GLOBAL_LIMIT,
    invalid_limit: int = INVALID_LIMIT,
    invalid_window: float = INVALID_WINDOW,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """The actor.  Ends when every sender of ``inbox`` is closed."""
    state = _State(global_limit, invalid_limit, invalid_window)
    route_keys: dict[int, str] = {}  # ticket -> route key, to learn hashes from outcomes
    wake = math.inf
    task_status.started()
    async with inbox:
        while True:
            with trio.move_on_at(wake):
                try:
                    msg = await inbox.receive()
                except trio.EndOfChannel:
                    return
                match msg:
                    case Acquire():
                        route_keys[msg.ticket] = msg.route_key
                        state.acquire(msg)
                    case Done():
                        state.done(msg, trio.current_time(), route_keys)
                    case _:
                        assert_never(msg)
            wake = state.pump(trio.current_time(), route_keys)


@attrs.define
class RateLimiter:
    """Handle to the actor: ``permit = await acquire(route)`` then always ``await done(...)``."""

    inbox: trio.MemorySendChannel[RateLimiterMsg]
    _tickets: itertools.count[int] = attrs.field(factory=itertools.count, init=False)

    async def acquire(self, route: Route) -> Permit:
        ticket = next(self._tickets)
        send, receive = trio.open_memory_channel[Permit](1)
        msg = Acquire(
            ticket=ticket,
            route_key=route.key,
            major=route.major,
            exempt_global=route.is_interaction,
            reply=send,
        )
        try:
            await self.inbox.send(msg)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise ActorDeadError(ACTOR) from None
        try:
            return await receive.receive()
        except trio.EndOfChannel:
            raise ActorDeadError(ACTOR) from None
        except BaseException:
            # Cancelled while waiting (or right after the grant): give the ticket back.
            await self.done(Permit(ticket=ticket), None)
            raise
        finally:
            receive.close()

    async def done(self, permit: Permit, outcome: Outcome | None) -> None:
        """Hand a permit back; shielded so a cancelled request cannot leak its bucket."""
        with (
            trio.CancelScope(shield=True),
            trio.move_on_after(5.0),
            contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError),
        ):
            await self.inbox.send(Done(ticket=permit.ticket, outcome=outcome))
