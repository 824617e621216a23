"""Typed gateway errors.  None of them ever carries the token."""

from __future__ import annotations

import attrs

from musicbot.errors import MusicBotError


@attrs.define(auto_exc=True, eq=False)
class GatewayFatalError(MusicBotError):
    """Discord closed the gateway for a reason a reconnect cannot fix; the bot must stop."""

    shard_id: int
    code: int
    cause: str
    fix: str

    def __str__(self) -> str:
        return f"gateway shard {self.shard_id} closed with {self.code}: {self.cause}; {self.fix}"


@attrs.define(auto_exc=True, eq=False)
class PayloadTooLargeError(MusicBotError):
    """A payload exceeds the 4096-byte limit; Discord would close the socket with 4002."""

    op: int
    size: int
    limit: int

    def __str__(self) -> str:
        return f"gateway payload op {self.op} is {self.size} bytes; the limit is {self.limit}"


@attrs.define(auto_exc=True, eq=False)
class SessionStartLimitError(MusicBotError):
    """Too few identifies are left today; using them up would make Discord reset the token."""

    remaining: int
    needed: int
    reset_after: float  # seconds

    def __str__(self) -> str:
        return (
            f"only {self.remaining} gateway session starts are left (need {self.needed} plus a "
            f"safety margin); they reset in {self.reset_after:.0f} s — wait, or run fewer shards"
        )


@attrs.define(auto_exc=True, eq=False)
class GatewayHandshakeError(MusicBotError):
    """The server broke the handshake (no HELLO, unexpected opcode, ...)."""

    shard_id: int
    reason: str

    def __str__(self) -> str:
        return f"gateway shard {self.shard_id} handshake failed: {self.reason}"


@attrs.define(auto_exc=True, eq=False)
class GatewayDecodeError(MusicBotError):
    """A received message could not be decoded (corrupt stream, not JSON, too big, ...).

    The connection's decompression state is then unusable: the shard reconnects and resumes.
    """

    reason: str

    def __str__(self) -> str:
        return f"undecodable gateway message: {self.reason}"


@attrs.define(auto_exc=True, eq=False)
class GatewayInfoError(MusicBotError):
    """``GET /gateway/bot`` answered something the shards cannot be planned from."""

    detail: str

    def __str__(self) -> str:
        return f"GET /gateway/bot gave an unusable answer ({self.detail}); is api_base Discord?"
