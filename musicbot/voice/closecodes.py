"""Voice gateway close codes and what the connection does about each one.

The table is Discord's (protocol.md §2, "Voice close codes").  Every code maps to exactly one
``CloseAction``; ``classify`` is the single place that decides, so the policy is testable.
A socket that drops without a close frame (no code, or 1006 from the library) is treated like
4015: the server still has our session, so a buffered resume (op 7) is the cheapest recovery.

4014 and 4022 are not the end (``AWAIT_GATEWAY``): Discord closes the socket with them when we
are moved to another channel or the call moves to another voice server, as well as when we are
kicked or the channel is deleted.  Only the main gateway can tell which: a new
VOICE_SERVER_UPDATE means "connect fresh to it", a VOICE_STATE_UPDATE with no channel means
"kicked".  The reason ``classify`` returns with ``AWAIT_GATEWAY`` is the one reported if
neither comes in time (``VoiceSettings.move_timeout``).
"""

from __future__ import annotations

import enum
from typing import Final


class CloseAction(enum.Enum):
    """What a voice connection does after the voice gateway closed with a given code."""

    RESUME = "resume"  # op 7 on a new socket, same session
    REJOIN = "rejoin"  # new op 4 on the main gateway, wait for both events, fresh session
    STOP = "stop"  # do not reconnect; tell the owner why
    BACKOFF_REJOIN = "backoff_rejoin"  # unknown trouble: wait a little, then a full rejoin
    AWAIT_GATEWAY = "await_gateway"  # 4014/4022: wait for the main gateway to say moved or gone


class StopReason(enum.Enum):
    """Why a voice connection ended for good (the owner decides what to tell users)."""

    KICKED = "kicked"  # kicked or channel deleted (VOICE_STATE_UPDATE without a channel, or a
    # 4014 that no new voice server followed in time)
    RATE_LIMITED = "rate_limited"  # 4021
    CALL_TERMINATED = "call_terminated"  # 4022 and no new voice server came in time
    LEFT = "left"  # we asked to leave
    FAILED = "failed"  # could not (re)connect within the retry budget
    PROTOCOL_ERROR = "protocol_error"  # the server says we sent something wrong: a bug
    SERVER_GONE = "server_gone"  # endpoint null and no new server came in time


class VoiceCloseCode(enum.IntEnum):
    """The voice gateway's close codes."""

    UNKNOWN_OPCODE = 4001
    DECODE_ERROR = 4002
    NOT_AUTHENTICATED = 4003
    AUTHENTICATION_FAILED = 4004
    ALREADY_AUTHENTICATED = 4005
    SESSION_INVALID = 4006
    SESSION_TIMEOUT = 4009
    SERVER_NOT_FOUND = 4011
    UNKNOWN_PROTOCOL = 4012
    DISCONNECTED = 4014
    SERVER_CRASHED = 4015
    UNKNOWN_ENCRYPTION_MODE = 4016
    DAVE_REQUIRED = 4017
    BAD_REQUEST = 4020
    RATE_LIMITED = 4021
    CALL_TERMINATED = 4022

    @property
    def action(self) -> CloseAction:
        return classify(self)[0]

    @property
    def can_resume(self) -> bool:
        return self.action is CloseAction.RESUME

    @property
    def must_rejoin(self) -> bool:
        """A new op 4 (fresh token and session) is needed, at once or after a backoff."""
        return self.action in (CloseAction.REJOIN, CloseAction.BACKOFF_REJOIN)

    @property
    def awaits_gateway(self) -> bool:
        """Not this socket again; the main gateway's next events say moved or gone."""
        return self.action is CloseAction.AWAIT_GATEWAY

    @property
    def fatal(self) -> bool:
        return self.action is CloseAction.STOP


# A close frame never arrived: the TCP stream just ended (RFC 6455 reserves 1006 for this).
ABNORMAL_CLOSURE: Final = 1006

_BUGS: Final = frozenset(
    {
        VoiceCloseCode.UNKNOWN_OPCODE,
        VoiceCloseCode.DECODE_ERROR,
        VoiceCloseCode.ALREADY_AUTHENTICATED,
        VoiceCloseCode.UNKNOWN_ENCRYPTION_MODE,
        VoiceCloseCode.DAVE_REQUIRED,
        VoiceCloseCode.BAD_REQUEST,
    }
)

_STOPS: Final = {
    VoiceCloseCode.RATE_LIMITED: StopReason.RATE_LIMITED,
}

# Moved, a new voice server, kicked or deleted: the gateway's next events say which.  The value
# is what we report when they do not come in time.
_AWAIT_GATEWAY: Final = {
    VoiceCloseCode.DISCONNECTED: StopReason.KICKED,
    VoiceCloseCode.CALL_TERMINATED: StopReason.CALL_TERMINATED,
}


def classify(code: int | None) -> tuple[CloseAction, StopReason | None]:
    """What to do after the voice socket closed with ``code`` (None: no close frame)."""
    if code is None or code == ABNORMAL_CLOSURE or code == VoiceCloseCode.SERVER_CRASHED:
        return CloseAction.RESUME, None
    if code in (VoiceCloseCode.SESSION_INVALID, VoiceCloseCode.SESSION_TIMEOUT):
        return CloseAction.REJOIN, None
    if code in _AWAIT_GATEWAY:
        return CloseAction.AWAIT_GATEWAY, _AWAIT_GATEWAY[VoiceCloseCode(code)]
    if code in _STOPS:
        return CloseAction.STOP, _STOPS[VoiceCloseCode(code)]
    if code in _BUGS:
        # The server says our payload was wrong.  Retrying would send the same thing again.
        return CloseAction.STOP, StopReason.PROTOCOL_ERROR
    # 4003/4004 (a token that went stale while we connected), 4011/4012 (the table has no
    # advice) and anything unknown: back off, then a full rejoin with a fresh token.
    return CloseAction.BACKOFF_REJOIN, None
