"""Gateway close codes and what each one means for the shard.

Theory (developers/topics/opcodes-and-status-codes.mdx): a close is one of three kinds.

* **resume** — reconnect to ``resume_gateway_url`` and send RESUME; the missed events replay.
* **re-identify** — the session is gone (4007 invalid seq, 4009 session timed out): reconnect
  and IDENTIFY afresh.
* **fatal** — reconnecting cannot help (bad token, bad shard, bad intents, ...): stop the bot
  and tell the operator what to fix.  Retrying 4004 in a loop would only burn identifies.

Codes we don't know, a dropped connection (no close frame, 1006) and server-sent 1000/1001 are
treated as resumable: the worst case is one RESUME answered by op 9, after which we identify.
(A *client* must never close with 1000/1001 when it wants to resume; that ends the session.)
"""

from __future__ import annotations

import enum

import attrs


class CloseAction(enum.Enum):
    """What a shard does after the gateway closed with a given code."""

    RESUME = "resume"
    REIDENTIFY = "reidentify"
    FATAL = "fatal"


@attrs.frozen
class _Info:
    action: CloseAction
    message: str
    fix: str = "reconnecting"


class GatewayCloseCode(enum.IntEnum):
    """The gateway's close codes (and the WebSocket ones a shard may see)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    ABNORMAL = 1006  # no close frame: the connection dropped
    UNKNOWN_ERROR = 4000
    UNKNOWN_OPCODE = 4001
    DECODE_ERROR = 4002
    NOT_AUTHENTICATED = 4003
    AUTHENTICATION_FAILED = 4004
    ALREADY_AUTHENTICATED = 4005
    INVALID_SEQ = 4007
    RATE_LIMITED = 4008
    SESSION_TIMED_OUT = 4009
    INVALID_SHARD = 4010
    SHARDING_REQUIRED = 4011
    INVALID_API_VERSION = 4012
    INVALID_INTENTS = 4013
    DISALLOWED_INTENTS = 4014

    @property
    def action(self) -> CloseAction:
        return _TABLE[self].action

    @property
    def can_resume(self) -> bool:
        return self.action is CloseAction.RESUME

    @property
    def must_reidentify(self) -> bool:
        return self.action is CloseAction.REIDENTIFY

    @property
    def fatal(self) -> bool:
        return self.action is CloseAction.FATAL

    @property
    def message(self) -> str:
        return _TABLE[self].message

    @property
    def fix(self) -> str:
        return _TABLE[self].fix


_R, _I, _F = CloseAction.RESUME, CloseAction.REIDENTIFY, CloseAction.FATAL
_C = GatewayCloseCode
_TABLE: dict[GatewayCloseCode, _Info] = {
    _C.NORMAL: _Info(_R, "the server closed the connection normally"),
    _C.GOING_AWAY: _Info(_R, "the server is going away"),
    _C.ABNORMAL: _Info(_R, "the connection dropped without a close frame"),
    _C.UNKNOWN_ERROR: _Info(_R, "Discord hit an unknown error"),
    _C.UNKNOWN_OPCODE: _Info(_R, "we sent an unknown opcode (a bug in the bot)"),
    _C.DECODE_ERROR: _Info(_R, "we sent a payload Discord could not decode (a bug in the bot)"),
    _C.NOT_AUTHENTICATED: _Info(_R, "we sent a payload before identifying (a bug in the bot)"),
    _C.AUTHENTICATION_FAILED: _Info(
        _F,
        "the token is invalid",
        "reset it in the Developer Portal (Bot → Reset Token) and update DISCORD_TOKEN",
    ),
    _C.ALREADY_AUTHENTICATED: _Info(_R, "we identified twice (a bug in the bot)"),
    _C.INVALID_SEQ: _Info(_I, "the sequence number sent on resume was invalid"),
    _C.RATE_LIMITED: _Info(_R, "we sent payloads too quickly"),
    _C.SESSION_TIMED_OUT: _Info(_I, "the session timed out"),
    _C.INVALID_SHARD: _Info(
        _F, "the shard id is invalid", "check [discord] shard_count and shard_ids"
    ),
    _C.SHARDING_REQUIRED: _Info(
        _F,
        "the bot is in too many guilds for its shard count",
        'set [discord] shard_count = "auto" or a larger number',
    ),
    _C.INVALID_API_VERSION: _Info(
        _F, "the gateway API version is invalid", "update the bot (it speaks gateway v10)"
    ),
    _C.INVALID_INTENTS: _Info(
        _F, "the intents sent are invalid", "this is a bug in the bot; please report it"
    ),
    _C.DISALLOWED_INTENTS: _Info(
        _F,
        "the bot asked for intents it is not allowed",
        "enable them in the Developer Portal (Bot → Privileged Gateway Intents) or remove them",
    ),
}


@attrs.frozen
class CloseVerdict:
    """What to do about one close: the action plus words for the log or the fatal error."""

    code: int | None
    action: CloseAction
    message: str
    fix: str
    cause: str  # metrics label: the code's name ("authentication_failed") or "close_<code>"


def classify_close(code: int | None) -> CloseVerdict:
    """Classify a close code received from the server (``None``: no close frame at all)."""
    if code is None:
        code = GatewayCloseCode.ABNORMAL
    try:
        known = GatewayCloseCode(code)
    except ValueError:
        return CloseVerdict(
            code, CloseAction.RESUME, f"unknown close code {code}", "reconnecting", f"close_{code}"
        )
    return CloseVerdict(code, known.action, known.message, known.fix, known.name.lower())
