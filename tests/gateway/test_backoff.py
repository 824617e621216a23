"""The reconnect policy (pure function, no clock needed)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from musicbot.gateway.close_codes import CloseAction
from musicbot.gateway.state import Outcome, ShardOptions, reconnect_delay

OPTS = ShardOptions(backoff_base=1.0, backoff_max=60.0, healthy_after=60.0)
DROP = Outcome(reason="drop", action=CloseAction.RESUME)


def _upper(lo: float, hi: float) -> float:
    return hi


def test_backoff_doubles_up_to_the_cap_and_is_jittered_below_it() -> None:
    attempt, caps = 0, []
    for _ in range(8):
        attempt, delay = reconnect_delay(
            DROP, attempt=attempt, lived=None, options=OPTS, rand=_upper
        )
        caps.append(delay)
    assert caps == [2, 4, 8, 16, 32, 60, 60, 60]


@given(st.integers(0, 50), st.floats(0, 1e6) | st.none())
def test_delay_is_never_negative_or_over_the_cap(attempt: int, lived: float | None) -> None:
    _, delay = reconnect_delay(DROP, attempt=attempt, lived=lived, options=OPTS)
    assert 0 <= delay <= OPTS.backoff_max


def test_healthy_connection_and_op7_reconnect_at_once() -> None:
    assert reconnect_delay(DROP, attempt=5, lived=61.0, options=OPTS) == (0, 0.0)
    op7 = Outcome(reason="op 7", action=CloseAction.RESUME, immediate=True)
    assert reconnect_delay(op7, attempt=5, lived=None, options=OPTS) == (0, 0.0)


def test_a_short_lived_ready_connection_restarts_the_backoff() -> None:
    attempt, delay = reconnect_delay(DROP, attempt=6, lived=3.0, options=OPTS, rand=_upper)
    assert (attempt, delay) == (1, 2.0)


def test_invalid_session_uses_its_own_delay() -> None:
    op9 = Outcome(reason="op 9", action=CloseAction.REIDENTIFY, delay=3.5)
    assert reconnect_delay(op9, attempt=2, lived=None, options=OPTS) == (2, 3.5)
