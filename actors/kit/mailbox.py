"""Bounded inboxes and request/reply.

Theory: an actor owns the receive side of a bounded memory channel (its inbox) and is the only
task that touches its state.  A request is a message that carries its own reply channel of
buffer 1; the caller waits for the answer under ``trio.fail_after``; the replier answers with
``send_nowait`` and ignores a caller that has gone away (closed or cancelled).

``ask()`` turns the two ways an actor can fail to answer into typed errors instead of hangs:
its inbox is closed (``ActorDeadError``), or it does not answer in time (``ActorTimeoutError``).
An actor that stops while holding an unanswered request must not leave the caller waiting for
the timeout either.  Three signals say so, whichever comes first:

* the actor closed the reply channel it was given (``EndOfChannel``);
* the request was dropped: the reply channel handed to the actor has a ``weakref.finalize``
  hook that cancels the wait when it is garbage-collected (immediate in CPython when the
  actor's task ends and the message goes out of scope);
* the actor's inbox has no open receive side any more (the house actor shape
  ``async with inbox:`` closes it on every exit, crash included; a crash can keep the message
  alive in a traceback, so the caller checks this every ``LIVENESS_POLL`` seconds).

In each case a reply already in the buffer still wins.  Consequently an actor must not close
its inbox early and still expect to answer requests it holds, and an actor that hands a request
to a helper task forwards the reply channel object itself (never a clone of it).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import attrs
import trio

from musicbot.errors import ActorDeadError, ActorTimeoutError

M = TypeVar("M")
R = TypeVar("R")

DEFAULT_INBOX_SIZE = 16
LIVENESS_POLL = 0.25  # seconds between checks that a silent actor's inbox is still open


@attrs.frozen
class Mailbox(Generic[M]):
    """The two ends of an actor's inbox, with the actor's name for error messages."""

    name: str
    send: trio.MemorySendChannel[M]
    receive: trio.MemoryReceiveChannel[M]


def open_mailbox(name: str, size: int = DEFAULT_INBOX_SIZE) -> Mailbox[Any]:
    """A bounded inbox.  Sizes are small on purpose: back-pressure beats unbounded queues."""
    if size < 0:
        raise ValueError("an inbox cannot have a negative size")
    send, receive = trio.open_memory_channel[Any](size)
    return Mailbox(name, send, receive)


async def ask(
    inbox: trio.MemorySendChannel[M],
    make: Callable[[trio.MemorySendChannel[R]], M],
    *,
    actor: str,
    timeout: float = 5.0,
) -> R:
    """Send ``make(reply_channel)`` to ``inbox`` and wait for the one answer.

    Raises ``ActorDeadError`` when the actor's inbox is closed or the actor dropped the request,
    and ``ActorTimeoutError`` when no answer came within ``timeout`` seconds.
    """
    reply_send, reply_receive = trio.open_memory_channel[R](1)
    dropped = trio.CancelScope()
    given = reply_send.clone()
    weakref.finalize(given, dropped.cancel)
    msg = make(given)
    del given
    request = type(msg).__name__
    try:
        with trio.fail_after(timeout):
            try:
                await inbox.send(msg)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                raise ActorDeadError(actor) from None
            finally:
                del msg  # the actor holds the request now; our reference would keep it alive
            # The actor holds the only other clone; ours must go so that an actor closing
            # the request unanswered closes the channel and wakes us.
            await reply_send.aclose()
            async with reply_receive:
                return await _wait_reply(inbox, reply_receive, dropped, actor)
    except trio.TooSlowError:
        raise ActorTimeoutError(actor, request, timeout) from None


async def _wait_reply(
    inbox: trio.MemorySendChannel[Any],
    replies: trio.MemoryReceiveChannel[R],
    dropped: trio.CancelScope,
    actor: str,
) -> R:
    with dropped:
        while True:
            with trio.move_on_after(LIVENESS_POLL):
                try:
                    return await replies.receive()
                except trio.EndOfChannel:
                    raise ActorDeadError(actor) from None
            if inbox.statistics().open_receive_channels == 0:
                break
    try:
        return replies.receive_nowait()
    except (trio.WouldBlock, trio.EndOfChannel):
        raise ActorDeadError(actor) from None


def reply(channel: trio.MemorySendChannel[R], value: R) -> bool:
    """Answer a request; a caller that has gone away is ignored.  Returns whether it was sent."""
    try:
        channel.send_nowait(value)
    except (trio.BrokenResourceError, trio.ClosedResourceError, trio.WouldBlock):
        return False
    finally:
        channel.close()
    return True
