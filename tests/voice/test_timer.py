"""The voice clock's wake-up: a timerfd under Trio's real clock, ``sleep_until`` under a
MockClock.  These check what the timer promises (never early, cancellable, cleaned up), not how
late it is."""

from __future__ import annotations

import os
import sys

import pytest
import trio
import trio.testing

from musicbot.voice.timer import open_tick_timer

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="timerfd is Linux's")


@linux
async def test_wakes_at_each_deadline_never_before() -> None:
    async with open_tick_timer() as timer:
        assert timer.uses_timerfd
        start = trio.current_time()
        for k in range(1, 6):
            deadline = start + 0.01 * k
            await timer.wait_until(deadline)
            assert trio.current_time() >= deadline


@linux
async def test_a_past_deadline_is_a_checkpoint_not_a_wait() -> None:
    async with open_tick_timer() as timer:
        with trio.testing.assert_checkpoints():
            await timer.wait_until(trio.current_time() - 1.0)


@linux
async def test_cancelled_wait_leaves_the_timer_usable_and_the_fd_is_closed() -> None:
    async with open_tick_timer() as timer:
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
    async with open_tick_timer() as timer:
        assert not timer.uses_timerfd
        deadline = trio.current_time() + 123.0
        await timer.wait_until(deadline)
        assert trio.current_time() == pytest.approx(deadline)
