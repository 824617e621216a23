"""What a voice connection tells its owner (the guild actor), through a bounded channel.

The channel is lossless: the connection's run task *waits* for room rather than drop an event
(they are control, rule 13), so an owner must keep reading it while the connection runs.
"""

from __future__ import annotations

import enum

import attrs

from musicbot.voice.closecodes import CloseAction, StopReason


class VoiceState(enum.Enum):
    """Where a voice connection is in its life cycle."""

    IDLE = "idle"  # never joined
    JOINING = "joining"  # op 4 sent (or a move/new server announced); waiting for both events
    CONNECTING = "connecting"  # voice WebSocket handshake under way
    CONNECTED = "connected"  # media flows
    RESUMING = "resuming"  # socket lost; buffered resume (op 7) under way
    BACKING_OFF = "backing_off"  # waiting before a full rejoin
    AWAITING_GATEWAY = "awaiting_gateway"  # closed 4014/4022: moved, new server, or gone?
    DISCONNECTED = "disconnected"  # ended; see the Disconnected event for why


@attrs.frozen(kw_only=True)
class Connected:
    guild_id: int
    channel_id: int
    mode: str  # the transport encryption mode in use
    dave_protocol_version: int
    resumed: bool


@attrs.frozen(kw_only=True)
class Reconnecting:
    """Media stops until the next ``Connected`` (frames are dropped meanwhile).  After a close:
    its code and what we do.  When the gateway replaces a connected session first (a move or a
    new voice server, before the old socket's close): ``REJOIN`` with ``close_code`` None."""

    guild_id: int
    action: CloseAction  # RESUME, REJOIN, BACKOFF_REJOIN or AWAIT_GATEWAY
    close_code: int | None


@attrs.frozen(kw_only=True)
class Moved:
    """Someone else (a moderator, Discord) moved the bot to ``channel_id``; the connection
    follows by itself (a fresh session on the new server update) and says ``Connected`` again.
    A move the owner asked for with ``join`` is not reported as ``Moved``."""

    guild_id: int
    channel_id: int


@attrs.frozen(kw_only=True)
class Disconnected:
    guild_id: int
    reason: StopReason
    close_code: int | None = None


VoiceEvent = Connected | Reconnecting | Moved | Disconnected
"""What a voice connection reports to its owner."""


@attrs.define
class VoiceStats:
    """Counters for metrics.  ``frames_dropped`` counts frames not sent (reconnecting, DAVE
    group not formed yet, socket error); ``frames_sent`` counts datagrams handed to the kernel."""

    frames_sent: int = 0
    frames_dropped: int = 0
    resumes: int = 0
    rejoins: int = 0
    control_dropped: int = 0  # owner posts past the connection's backlog limit (a bug if > 0)
