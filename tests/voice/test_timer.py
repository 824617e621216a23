"""The voice clock's wake-up: a timerfd under Trio's real clock, ``sleep_until`` under a
MockClock.  These check what the timer promises (never early, cancellable, cleaned up), not how
late it is."""

from __future__ import annotations

import os
import select
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

from musicbot.voice.timer import TickTimer, open_tick_timer

PERIOD = 0.01

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="timerfd is Linux's")


@linux
async def test_wakes_at_each_deadline_never_before() -> None:
    async with open_tick_timer(PERIOD) as timer:
        assert timer.uses_timerfd
        start = trio.current_time()
        for k in range(1, 6):
            deadline = start + PERIOD * k
            await timer.wait_until(deadline)
            assert trio.current_time() >= deadline


@linux
async def test_a_past_deadline_is_a_checkpoint_not_a_wait() -> None:
    async with open_tick_timer(PERIOD) as timer:
        with trio.testing.assert_checkpoints():
            await timer.wait_until(trio.current_time() - 1.0)


@linux
async def test_cancelled_wait_leaves_the_timer_usable_and_the_fd_is_closed() -> None:
    async with open_tick_timer(PERIOD) as timer:
        fd = timer._fd
        with trio.move_on_after(0.02) as scope:
            await timer.wait_until(trio.current_time() + 3600)
        assert scope.cancelled_caught
        deadline = trio.current_time() + 0.01
        await timer.wait_until(deadline)
        assert trio.current_time() >= deadline
    assert not timer.uses_timerfd
    with pytest.raises(OSError):
        os.fstat(fd)


async def test_falls_back_to_trio_deadlines_under_a_mock_clock(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_tick_timer(PERIOD) as timer:
        assert not timer.uses_timerfd
        deadline = trio.current_time() + 123.0
        await timer.wait_until(deadline)
        assert trio.current_time() == pytest.approx(deadline)


class _CountingSettime:
    def __init__(self, timer: TickTimer) -> None:
        self.calls: list[float | None] = []
        self._real = timer._settime

    def __call__(self, first: float | None) -> bool:
        self.calls.append(first)
        return self._real(first)


@asynccontextmanager
async def _counted_timer(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[TickTimer, _CountingSettime, float]]:
    """A timer whose arming calls are recorded, and the first grid point, a period from now."""
    async with open_tick_timer(PERIOD) as timer:
        settime = _CountingSettime(timer)
        monkeypatch.setattr(timer, "_settime", settime)
        yield timer, settime, trio.current_time() + PERIOD


@linux
async def test_a_grid_is_armed_once_and_an_off_grid_deadline_rearms(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with _counted_timer(monkeypatch) as (timer, settime, anchor):
        for n in range(5):
            await timer.wait_until(anchor + n * PERIOD)
            assert trio.current_time() >= anchor + n * PERIOD
        assert settime.calls == [anchor]  # the kernel re-armed it for the other four
        off = anchor + 5 * PERIOD + PERIOD / 2
        await timer.wait_until(off)
        assert trio.current_time() >= off
        assert settime.calls == [anchor, off]


@linux
async def test_falling_behind_the_grid_catches_up_without_rearming(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with _counted_timer(monkeypatch) as (timer, settime, anchor):
        await timer.wait_until(anchor)
        # Busy past three more grid points (a long tick): they are past, so they return at once.
        missed = anchor + 4 * PERIOD
        while trio.current_time() < missed:
            pass
        for n in (1, 2, 3):
            with trio.testing.assert_checkpoints():
                await timer.wait_until(anchor + n * PERIOD)
        nxt = anchor + 5 * PERIOD
        await timer.wait_until(nxt)
        assert trio.current_time() >= nxt
        assert settime.calls == [anchor]


@linux
async def test_disarm_stops_the_timer_until_the_next_wait() -> None:
    async with open_tick_timer(PERIOD) as timer:
        deadline = trio.current_time() + PERIOD
        await timer.wait_until(deadline)
        assert timer.armed
        timer.disarm()
        assert not timer.armed
        # Six periods later the fd has still not fired: nothing wakes an idle sender.
        readable, _, _ = select.select([timer._fd], [], [], 6 * PERIOD)
        assert readable == []
        deadline = trio.current_time() + PERIOD
        await timer.wait_until(deadline)
        assert trio.current_time() >= deadline and timer.armed


def test_a_period_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        TickTimer(0)
