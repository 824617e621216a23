"""Messages of the rate-limiter actor."""

from __future__ import annotations

import attrs
import trio


@attrs.frozen(kw_only=True)
class Permit:
    """Leave to send one request; hand it back with :class:`Done` whatever happens."""

    ticket: int


@attrs.frozen(kw_only=True)
class Outcome:
    """What one response said about the rate limits (all durations in seconds)."""

    status: int
    bucket: str | None = None
    limit: int | None = None
    remaining: int | None = None
    reset_after: float | None = None
    retry_after: float = 0.0
    is_global: bool = False
    scope: str = ""


@attrs.frozen(kw_only=True)
class Acquire:
    ticket: int
    route_key: str
    major: str
    exempt_global: bool
    reply: trio.MemorySendChannel[Permit]


@attrs.frozen(kw_only=True)
class Done:
    """The request of ``ticket`` finished (``outcome``) or never got an answer (``None``).

    Also sent for a ticket that was never granted (the caller gave up waiting).
    """

    ticket: int
    outcome: Outcome | None


RateLimiterMsg = Acquire | Done
"""Everything the rate limiter's inbox carries."""
