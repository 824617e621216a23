"""The rate-limiter actor on its own: permits, learned buckets, the invalid-request guard."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import pytest
import trio

from musicbot.errors import ActorDeadError
from musicbot.rest import Route, ratelimit
from musicbot.rest.messages import Outcome, RateLimiterMsg
from musicbot.rest.ratelimit import RateLimiter

MSG = "/channels/{channel_id}/messages"


@asynccontextmanager
async def limiter(**kwargs: Any) -> AsyncIterator[RateLimiter]:
    send, receive = trio.open_memory_channel[RateLimiterMsg](8)
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(ratelimit.run, receive, **kwargs))
        async with send:
            yield RateLimiter(send)


def answer(status: int = 200, *, bucket: str = "h1", remaining: int, reset_after: float) -> Outcome:
    return Outcome(
        status=status, bucket=bucket, limit=5, remaining=remaining, reset_after=reset_after
    )


async def test_routes_sharing_a_bucket_hash_share_its_limit(
    autojump_clock: trio.testing.MockClock,
) -> None:
    post = Route.of("POST", MSG, channel_id=1)
    edit = Route.of("PATCH", MSG + "/{message_id}", channel_id=1, message_id=9)
    with trio.fail_after(100):
        async with limiter() as rl:
            p = await rl.acquire(post)
            await rl.done(p, answer(remaining=3, reset_after=10))
            p = await rl.acquire(edit)
            # Discord says the edit route is in the same bucket, now exhausted for 10 s.
            await rl.done(p, answer(remaining=0, reset_after=10))
            start = trio.current_time()
            p = await rl.acquire(post)
            waited = trio.current_time() - start
            await rl.done(p, answer(remaining=4, reset_after=10))
            # Another channel is another instance of the bucket: no wait.
            start = trio.current_time()
            other = await rl.acquire(Route.of("POST", MSG, channel_id=2))
            assert trio.current_time() == start
            await rl.done(other, None)
    assert waited == pytest.approx(10)


async def test_invalid_request_guard_backs_off(autojump_clock: trio.testing.MockClock) -> None:
    route = Route.of("GET", "/gateway/bot")
    with trio.fail_after(10_000):
        async with limiter(invalid_limit=3, invalid_window=600.0) as rl:
            for _ in range(3):
                p = await rl.acquire(route)
                await rl.done(p, Outcome(status=401))
            start = trio.current_time()
            p = await rl.acquire(Route.of("POST", MSG, channel_id=3))
            waited = trio.current_time() - start
            await rl.done(p, None)
    assert waited == pytest.approx(600.0)


async def test_cancelled_waiter_does_not_leak_the_bucket(
    autojump_clock: trio.testing.MockClock,
) -> None:
    route = Route.of("POST", MSG, channel_id=4)
    with trio.fail_after(100):
        async with limiter() as rl:
            held = await rl.acquire(route)  # one request in flight
            with trio.move_on_after(1):
                await rl.acquire(route)  # waits behind it, then gives up
            await rl.done(held, answer(remaining=4, reset_after=10))
            start = trio.current_time()
            again = await rl.acquire(route)
            assert trio.current_time() == start
            await rl.done(again, None)


async def test_acquire_after_the_actor_stopped() -> None:
    send, receive = trio.open_memory_channel[RateLimiterMsg](1)
    await receive.aclose()
    with trio.fail_after(5), pytest.raises(ActorDeadError):
        await RateLimiter(send).acquire(Route.of("GET", "/gateway/bot"))
