"""Interaction answers, sent from child tasks so the guild actor's loop never waits on Discord.

Theory: each interaction's REST calls (a deferral, then its edit, then follow-ups) must reach
Discord in order, but the actor must not await them: a slow or failing call would hold up
playback and the next member's acknowledgement.  So every call runs in a child task of the
actor's nursery that first waits for the previous call of the same interaction (a chain of
``trio.Event``s keyed by the interaction id), is bounded in time, and logs a failure instead of
raising.  Only the actor task calls :meth:`ReplyQueue.submit`, so the chain needs no lock.
The queue holds no nursery (rule 14): ``submit`` returns the task, and the actor starts it in
the nursery it opened and never hands out.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Final

import structlog
import trio

log = structlog.get_logger(__name__)

REPLY_TIMEOUT: Final = 8.0  # one REST call answering a user may take this long at most
KEPT: Final = 64  # past this many, finished interactions are forgotten


class ReplyQueue:
    def __init__(self, *, timeout: float = REPLY_TIMEOUT) -> None:
        self.timeout = timeout
        self.tails: dict[int, trio.Event] = {}  # interaction id -> its last queued call

    def submit(
        self, key: int, name: str, call: Callable[[], Awaitable[None]]
    ) -> Callable[[], Awaitable[None]]:
        """Queue ``call`` behind the earlier calls for interaction ``key``; returns the task
        that sends it (in order), for the caller to start at once."""
        previous = self.tails.get(key)
        done = trio.Event()
        self.tails[key] = done
        if len(self.tails) > KEPT:
            self.tails = {k: e for k, e in self.tails.items() if k == key or not e.is_set()}
        return functools.partial(self._send, name, call, previous, done)

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

    async def wait(self, key: int | None = None) -> None:
        """Until the calls queued so far (for ``key``, or for everyone) have been sent."""
        if key is not None:
            tails = [e for k, e in self.tails.items() if k == key]
        else:
            tails = list(self.tails.values())
        for event in tails:
            await event.wait()
