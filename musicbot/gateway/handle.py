"""The shard handle: what the rest of the bot holds to talk to one shard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from musicbot.gateway import constants as c
from musicbot.gateway.codec import encode_payload
from musicbot.gateway.shard import Shard
from musicbot.gateway.state import ShardState


class ShardHandle:
    """Queue payloads for a shard and read its state.  Never restarts anything."""

    def __init__(self, shard: Shard) -> None:
        self._shard = shard

    @property
    def shard_id(self) -> int:
        return self._shard.shard_id

    @property
    def state(self) -> ShardState:
        return self._shard.state

    @property
    def generation(self) -> int:
        return self._shard.generation

    @property
    def latency(self) -> float | None:
        """Seconds between the last heartbeat and its ACK; ``None`` before the first ACK."""
        return self._shard.latency

    @property
    def session_id(self) -> str | None:
        return self._shard.session_id

    async def wait_ready(self) -> None:
        """Wait until the current connection is READY or RESUMED."""
        await self._shard.wait_ready()

    async def wait_until(self, predicate: Callable[[ShardHandle], bool]) -> None:
        """Wait until ``predicate(handle)`` holds; checked after every state change."""
        while not predicate(self):
            await self._shard.wait_changed()

    async def send_payload(self, op: int, d: Any) -> None:
        """Queue a payload for the shard's next READY connection.

        Raises :class:`~musicbot.gateway.errors.PayloadTooLargeError` here, in the caller, when it
        is over 4096 bytes.
        """
        text = encode_payload(op, d)
        await self._shard.outbox().send(text)

    async def update_voice_state(
        self,
        guild_id: int,
        channel_id: int | None,
        *,
        self_mute: bool = False,
        self_deaf: bool = True,
    ) -> None:
        """Op 4: join or move to ``channel_id``, or leave voice with ``None``.

        Discord answers with VOICE_STATE_UPDATE (our session_id) and VOICE_SERVER_UPDATE.
        """
        await self.send_payload(
            c.OP_VOICE_STATE_UPDATE,
            {
                "guild_id": str(guild_id),
                "channel_id": None if channel_id is None else str(channel_id),
                "self_mute": self_mute,
                "self_deaf": self_deaf,
            },
        )
