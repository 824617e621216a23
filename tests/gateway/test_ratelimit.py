"""Send limiter and identify gate, on trio's MockClock (autojump)."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from musicbot.gateway.errors import SessionStartLimitError
from musicbot.gateway.ratelimit import IdentifyGate, SendLimiter


async def test_ordinary_payloads_leave_room_for_heartbeats(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(600):
        limiter = SendLimiter(limit=120, period=60.0, reserve=3)
        start = trio.current_time()
        for _ in range(117):
            await limiter.acquire()
        assert trio.current_time() == start  # no waiting within the budget
        for _ in range(3):
            limiter.record_heartbeat()  # heartbeats never wait, even at the edge
        assert limiter.in_window() == 120
        await limiter.acquire()  # the 118th ordinary payload waits for the window
        assert trio.current_time() - start == pytest.approx(60.0)


async def test_sliding_window_releases_one_slot_at_a_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(600):
        limiter = SendLimiter(limit=5, period=10.0, reserve=1)
        times = []
        for _ in range(8):
            await limiter.acquire()
            times.append(trio.current_time())
            await trio.sleep(1.0)
        # 4 ordinary slots per 10 s: the 5th send waits until the 1st leaves the window.
        assert [round(t - times[0], 6) for t in times] == [0, 1, 2, 3, 10, 11, 12, 13]


def test_reserve_covers_a_window_of_heartbeats() -> None:
    assert SendLimiter.reserve_for(41.25) == 3  # 2 beats per minute + 1 requested beat
    assert SendLimiter.reserve_for(0.01) == 60  # capped at half the budget
    with pytest.raises(ValueError):
        SendLimiter(limit=5, reserve=5)


async def test_identify_gate_buckets_by_shard_id_modulo_concurrency(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(600):
        gate = IdentifyGate(max_concurrency=2, window=5.0)
        start = trio.current_time()
        granted: dict[int, float] = {}

        async def shard(i: int) -> None:
            await gate.wait_turn(i)
            granted[i] = trio.current_time() - start
            gate.identified(i)

        async with trio.open_nursery() as nursery:
            for i in range(6):
                await trio.sleep(0)
                nursery.start_soon(shard, i)
        assert granted == {0: 0, 1: 0, 2: 5, 3: 5, 4: 10, 5: 10}
        assert gate.remaining == 1000 - 6


async def test_identify_gate_refuses_the_last_session_starts() -> None:
    gate = IdentifyGate(remaining=4, floor=2, reset_after=120.0, window=0.0)
    gate.check_start(2)
    with pytest.raises(SessionStartLimitError):
        gate.check_start(3)
    for _ in range(2):
        await gate.wait_turn(0)
        gate.identified(0)
    with pytest.raises(SessionStartLimitError) as info:
        await gate.wait_turn(0)
    assert info.value.remaining == 2 and 0 < info.value.reset_after <= 120.0


async def test_session_starts_refill_after_reset(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(600):
        gate = IdentifyGate(remaining=2, floor=2, total=1000, reset_after=30.0, window=0.0)
        with pytest.raises(SessionStartLimitError):
            await gate.wait_turn(0)
        await trio.sleep(31)
        await gate.wait_turn(0)
        gate.identified(0)
        assert gate.remaining == 999


async def test_an_unused_slot_spends_nothing_and_identified_restarts_the_window(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(600):
        gate = IdentifyGate(max_concurrency=1, window=5.0, remaining=100)
        start = trio.current_time()
        await gate.wait_turn(0)  # granted at 0, IDENTIFY only sent at 3 (slow connect)
        await trio.sleep(3)
        gate.identified(0)
        await gate.wait_turn(1)
        assert trio.current_time() - start == pytest.approx(8.0)
        assert gate.remaining == 99  # the second grant is not spent until identified()
