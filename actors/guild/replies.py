"""Interaction answers, sent from child tasks so the guild actor's loop never waits on Discord.

Theory: each interaction's REST calls (a deferral, then its edit, then follow-ups) must reach
Discord in order, but the actor must not await them: a slow or failing call would hold up
playback and the next member's acknowledgement.  So every call runs in a child task of the
actor's nursery that first waits for the previous call of the same interaction (a chain of
``trio.Event``s keyed by the responder), is bounded in time, and logs a failure instead of
raising.  Only the actor task calls :meth:`ReplyQueue.submit`, so the chain needs no lock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

import structlog
import trio

log = structlog.get_logger(__name__)

REPLY_TIMEOUT: Final = 8.0  # one REST call answering a user may take this long at most
KEPT: Final = 64  # past this many, finished interactions are forgotten


class ReplyQueue:
    def __init__(self, nursery: trio.Nursery, *, timeout: float = REPLY_TIMEOUT) -> None:
        self.nursery = nursery
        self.timeout = timeout
        self.tails: dict[int, trio.Event] = {}  # id(responder) -> its last queued call

    def submit(self, key: object, name: str, call: Callable[[], Awaitable[None]]) -> None:
        """Queue ``call`` behind the earlier calls for ``key`` and return at once."""
        ident = id(key)
        previous = self.tails.get(ident)
        done = trio.Event()
        self.tails[ident] = done
        if len(self.tails) > KEPT:
            self.tails = {k: e for k, e in self.tails.items() if k == ident or not e.is_set()}
        self.nursery.start_soon(self._send, name, call, previous, done)

    async def _send(
        self,
        name: str,
        call: Callable[[], Awaitable[None]],
        previous: trio.Event | None,
        done: trio.Event,
    ) -> None:
        """Bounded in time; a failure (an expired token, Discord unreachable) is logged and
        must not take the guild's playback down."""
        try:
            if previous is not None:
                await previous.wait()
            with trio.move_on_after(self.timeout) as scope:
                try:
                    await call()
                except Exception as exc:
                    log.warning("interaction_reply_failed", command=name, error=repr(exc))
            if scope.cancelled_caught:
                log.warning("interaction_reply_timeout", command=name)
        finally:
            done.set()

    async def wait(self, key: object | None = None) -> None:
        """Until the calls queued so far (for ``key``, or for everyone) have been sent."""
        if key is not None:
            tails = [e for k, e in self.tails.items() if k == id(key)]
        else:
            tails = list(self.tails.values())
        for event in tails:
            await event.wait()
