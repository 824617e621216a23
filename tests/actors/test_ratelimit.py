from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from actors.ratelimit import UserRateLimiter


def test_allows_up_to_limit_then_says_when() -> None:
    rl = UserRateLimiter(3, 10.0)
    assert all(rl.check(1, t).allowed for t in (0.0, 1.0, 2.0))
    refused = rl.check(1, 3.0)
    assert not refused.allowed
    assert refused.retry_after == 7.0 and refused.retry_after_seconds == 7
    assert rl.check(2, 3.0).allowed  # other users are independent
    assert rl.check(1, 10.0).allowed  # the first hit left the window


def test_refusals_do_not_extend_the_window() -> None:
    rl = UserRateLimiter(1, 5.0)
    assert rl.check(1, 0.0).allowed
    for t in (1.0, 2.0, 4.9):
        assert not rl.check(1, t).allowed
    assert rl.check(1, 5.0).allowed


@given(st.lists(st.tuples(st.integers(0, 50), st.floats(0, 1.0)), max_size=300))
def test_memory_stays_bounded(events: list[tuple[int, float]]) -> None:
    rl = UserRateLimiter(2, 1.0, max_users=10)
    now = 0.0
    for user, step in events:
        now += step
        rl.check(user, now)
        assert len(rl) <= 10
