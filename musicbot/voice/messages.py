"""The voice connection's inbox: the owner's requests, main-gateway events, socket outcomes.

Socket outcomes carry the generation they were started in; the run task ignores stale ones.
Nothing is dropped (architecture rule 13): the owner posts without blocking, and behind a full
channel its posts wait in an ordered backlog that ``receive`` hands out once the channel (the
older messages) is drained; socket tasks wait for room (``report``).
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Callable
from types import TracebackType
from typing import Final

import attrs
import trio

INBOX_SIZE: Final = 32
# Bounded only against a runaway owner: past it a post is dropped and reported (a bug).
BACKLOG_LIMIT: Final = 1024


@attrs.frozen(kw_only=True)
class Join:
    channel_id: int


@attrs.frozen(kw_only=True)
class Leave:
    pass


@attrs.frozen(kw_only=True)
class StateUpdate:
    session_id: str
    channel_id: int | None


@attrs.frozen(kw_only=True)
class ServerUpdate:
    token: str = attrs.field(repr=False)
    endpoint: str | None


@attrs.frozen(kw_only=True)
class GatewayReady:
    """The main gateway began a new session (READY, not RESUMED)."""


@attrs.frozen(kw_only=True)
class SocketConnected:
    generation: int
    resumed: bool


@attrs.frozen(kw_only=True)
class SocketEnded:
    generation: int
    code: int | None
    error: str


ConnectionMsg = (
    Join | Leave | StateUpdate | ServerUpdate | GatewayReady | SocketConnected | SocketEnded
)
"""Everything a voice connection's mailbox carries."""


class Mailbox:
    """The run task's inbox: a bounded channel plus the owner's ordered overflow backlog."""

    def __init__(self, *, on_drop: Callable[[ConnectionMsg], None]) -> None:
        self._send, self._receive = trio.open_memory_channel[ConnectionMsg](INBOX_SIZE)
        self._backlog: collections.deque[ConnectionMsg] = collections.deque()
        self._closing = False
        self._on_drop = on_drop

    def post(self, msg: ConnectionMsg) -> None:
        """The owner's side: never blocks, never drops (below ``BACKLOG_LIMIT``)."""
        if self._closing:
            return  # closed: nothing left to act on it
        if not self._backlog:
            try:
                self._send.send_nowait(msg)
                return
            except trio.WouldBlock:
                pass
            except trio.ClosedResourceError:
                return
        if len(self._backlog) >= BACKLOG_LIMIT:
            self._on_drop(msg)
            return
        self._backlog.append(msg)

    async def report(self, msg: SocketConnected | SocketEnded) -> None:
        """A socket task's outcome: waits for room; a closed mailbox means nobody needs it."""
        with contextlib.suppress(trio.ClosedResourceError, trio.BrokenResourceError):
            await self._send.send(msg)

    async def receive(self) -> ConnectionMsg:
        """The next message; ``trio.EndOfChannel`` once closed and everything was handed out."""
        while True:
            if self._backlog and self._receive.statistics().current_buffer_used == 0:
                return self._backlog.popleft()
            try:
                return await self._receive.receive()
            except trio.EndOfChannel:
                if not self._backlog:
                    raise

    def close(self) -> None:
        """No more posts; ``receive`` drains what is queued, then ends."""
        self._closing = True
        self._send.close()

    async def __aenter__(self) -> Mailbox:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._receive.aclose()
