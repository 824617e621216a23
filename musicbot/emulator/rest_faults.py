"""REST faults on demand: forced statuses, every kind of 429 Discord sends, slow answers.

A test (or the seeded chaos plan, :mod:`musicbot.emulator.chaos`) arms a fault against a route
pattern matched (fnmatch) on ``"METHOD /path"`` without the ``/api/v10`` prefix, e.g.
``"POST /channels/*/messages"`` or ``"*"``; each fault fires ``times`` times, in the order armed.

The 429s are the ones Discord sends (``topics/rate-limits.mdx``):

* ``scope="user"``: the bot broke a per-route bucket; JSON body ``{message, retry_after,
  global: false}``, ``X-RateLimit-Scope: user``;
* ``scope="shared"``: a shared resource (a channel, a webhook) is limited for everyone; same
  body, ``X-RateLimit-Scope: shared``; it does not count against the bot;
* ``scope="global"``: the global limit; ``global: true``, ``X-RateLimit-Global: true``.  With
  ``json_body=False`` the answer has *no* JSON body at all (Discord's edge answers so), and a
  client must read ``Retry-After`` from the headers.

Each forced 429 also closes the route's bucket (or, global, every non-interaction route) for
``retry_after``, so a client that retries early meets a genuine 429 (which is then counted as a
violation by the server).
"""

from __future__ import annotations

import fnmatch
from typing import Any, Final, Literal

import attrs

Scope = Literal["user", "shared", "global"]
SCOPES: Final = ("user", "shared", "global")


@attrs.define
class Forced:
    pattern: str
    status: int
    times: int
    retry_after: float
    scope: Scope
    body: Any
    json_body: bool = True

    @property
    def is_global(self) -> bool:
        return self.scope == "global"


@attrs.define
class Slow:
    pattern: str
    delay: float  # seconds before the request is handled
    times: int


@attrs.define
class RestFaults:
    """The armed REST faults of one emulator (``emu.rest_faults``)."""

    forced: list[Forced] = attrs.Factory(list)
    slow_answers: list[Slow] = attrs.Factory(list)
    fired: list[tuple[str, str]] = attrs.Factory(list)  # (kind, "METHOD /path") in order

    def force_status(
        self,
        route_pattern: str,
        status: int,
        *,
        times: int = 1,
        retry_after: float = 1.0,
        is_global: bool = False,
        body: Any = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` (a 429 like Discord's)."""
        scope: Scope = "global" if is_global else "user"
        self.forced.append(Forced(route_pattern, status, times, retry_after, scope, body))

    def rate_limit(
        self,
        route_pattern: str,
        *,
        scope: Scope = "user",
        retry_after: float = 1.0,
        times: int = 1,
        json_body: bool = True,
    ) -> None:
        """A 429 of ``scope`` on the next ``times`` matching requests (see the module doc)."""
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}, not {scope!r}")
        if not json_body and scope != "global":
            raise ValueError("only a global 429 comes without a JSON body")
        self.forced.append(
            Forced(route_pattern, 429, times, retry_after, scope, None, json_body=json_body)
        )

    def slow(self, route_pattern: str, delay: float, *, times: int = 1) -> None:
        """Hold the next ``times`` matching requests for ``delay`` seconds before answering."""
        self.slow_answers.append(Slow(route_pattern, delay, times))

    def clear(self) -> None:
        """Disarm every forced status and slow answer not fired yet; ``fired`` is kept."""
        self.forced.clear()
        self.slow_answers.clear()

    def take_forced(self, target: str) -> Forced | None:
        """For the server, per request: the first armed status fault matching ``target``
        (``"METHOD /path"``), with one use spent and noted in ``fired``; ``None`` if none."""
        for f in self.forced:
            if f.times > 0 and fnmatch.fnmatchcase(target, f.pattern):
                f.times -= 1
                self.fired.append((f"status {f.status} {f.scope}", target))
                return f
        return None

    def take_delay(self, target: str) -> float:
        """For the server, per request: the delay of the first armed slow fault matching
        ``target``, with one use spent and noted in ``fired``; 0.0 if none."""
        for s in self.slow_answers:
            if s.times > 0 and fnmatch.fnmatchcase(target, s.pattern):
                s.times -= 1
                self.fired.append((f"slow {s.delay}", target))
                return s.delay
        return 0.0
