"""Per-user command rate limit (a sliding window), owned by the router task.

Theory: each user has a deque of the times of their recent commands inside the window; a
command is allowed when fewer than ``limit`` fall inside it.  When refused, the answer says when
the oldest one leaves the window ("try again in N s").  Memory is bounded: users whose window
is empty are dropped on every check of the oldest entries, and at most ``max_users`` are tracked
(the least recently seen are forgotten first, which can only make the limit more lenient).
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque

import attrs


@attrs.frozen
class RateDecision:
    allowed: bool
    retry_after: float = 0.0

    @property
    def retry_after_seconds(self) -> int:
        """Whole seconds to tell a user (never 0 when refused)."""
        return max(1, math.ceil(self.retry_after))


class UserRateLimiter:
    def __init__(self, limit: int, period: float, *, max_users: int = 10_000) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("limit must be >= 1 and period > 0")
        self.limit = limit
        self.period = period
        self.max_users = max_users
        self._hits: OrderedDict[int, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._hits)

    def check(self, user_id: int, now: float) -> RateDecision:
        """Record a command by ``user_id`` at ``now`` if it is allowed."""
        self._prune(now)
        hits = self._hits.get(user_id)
        if hits is None:
            hits = deque()
            self._hits[user_id] = hits
        else:
            self._hits.move_to_end(user_id)
        while hits and hits[0] <= now - self.period:
            hits.popleft()
        if len(hits) >= self.limit:
            return RateDecision(False, hits[0] + self.period - now)
        hits.append(now)
        while len(self._hits) > self.max_users:
            self._hits.popitem(last=False)
        return RateDecision(True)

    def _prune(self, now: float) -> None:
        # The least recently active users come first; drop those whose window has emptied.
        while self._hits:
            user, hits = next(iter(self._hits.items()))
            if hits and hits[-1] > now - self.period:
                break
            del self._hits[user]
