"""Posting to a guild's music channel from a task of its own.

The guild actor never waits on Discord to announce something: it drops the message into a small
bounded channel (dropping and counting when it is full) and this task posts it.  The task owns
the now-playing message's id, so a track change edits that message instead of posting a new one
(and posts a new one if somebody deleted it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

import structlog
import trio

log = structlog.get_logger(__name__)

BUFFER: Final = 16  # announcements waiting for REST; more are dropped and counted
POST_TIMEOUT: Final = 8.0
NOW_PLAYING: Final = "np"  # the kind whose message is edited in place
NP_REFRESH: Final = "np-refresh"  # an edit of that message only: never posts a new one


class ChannelMessages(Protocol):
    """What posting needs of the REST client (``musicbot.rest.RestClient``)."""

    async def create_message(self, channel_id: int, body: Mapping[str, Any]) -> Any: ...

    async def edit_message(
        self, channel_id: int, message_id: int, body: Mapping[str, Any]
    ) -> Any: ...


class Announcer:
    def __init__(self, rest: ChannelMessages, channel: Callable[[], int | None]) -> None:
        self.rest = rest
        self.channel = channel  # where to post now (the actor may change it)
        self.send, self.receive = trio.open_memory_channel[tuple[str, dict[str, Any]]](BUFFER)
        self.drops = 0
        self.np_message_id: int | None = None
        self.finished = trio.Event()  # set once everything queued before close() was posted

    def post(self, kind: str, body: dict[str, Any]) -> None:
        """Queue without waiting; ``kind`` "np" edits the last now-playing message."""
        if self.channel() is None:
            return
        try:
            self.send.send_nowait((kind, body))
        except trio.WouldBlock:
            self.drops += 1
            log.warning("announcement_dropped", kind=kind, drops=self.drops)
        except trio.ClosedResourceError:
            log.debug("announcement_after_close", kind=kind)

    def close(self) -> None:
        self.send.close()

    async def run(self) -> None:
        """Post until :meth:`close`, then return once everything queued was posted."""
        try:
            async with self.receive:
                async for kind, body in self.receive:
                    await self._post_one(kind, body)
        finally:
            self.finished.set()

    async def _post_one(self, kind: str, body: dict[str, Any]) -> None:
        channel = self.channel()
        if channel is None:
            return
        try:
            with trio.fail_after(POST_TIMEOUT):
                if kind == NP_REFRESH:
                    if self.np_message_id is not None:
                        await self.rest.edit_message(channel, self.np_message_id, body)
                    return
                if kind == NOW_PLAYING and self.np_message_id is not None:
                    try:
                        await self.rest.edit_message(channel, self.np_message_id, body)
                        return
                    except Exception:
                        self.np_message_id = None  # deleted by someone: post a new one
                msg = await self.rest.create_message(channel, body)
                if kind == NOW_PLAYING and isinstance(msg, dict) and "id" in msg:
                    self.np_message_id = int(msg["id"])
        except Exception as exc:
            log.warning("announce_failed", kind=kind, error=repr(exc))
