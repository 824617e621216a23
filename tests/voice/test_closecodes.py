"""The close-code policy against the table in docs/protocol.md §2."""

from __future__ import annotations

import pytest

from musicbot.voice.closecodes import CloseAction, StopReason, VoiceCloseCode, classify

# (code, action, reason) straight from the "Voice close codes" table.
TABLE = [
    (4001, CloseAction.STOP, StopReason.PROTOCOL_ERROR),  # bug: unknown opcode
    (4002, CloseAction.STOP, StopReason.PROTOCOL_ERROR),  # bug: decode failed
    (4005, CloseAction.STOP, StopReason.PROTOCOL_ERROR),  # bug: already authenticated
    (4006, CloseAction.REJOIN, None),  # session no longer valid: new op 4
    (4009, CloseAction.REJOIN, None),  # session timeout: full rejoin
    # moved / new server / kicked / deleted: not this socket; wait for the gateway's word
    # (the reason is what is reported if no new server comes in time)
    (4014, CloseAction.AWAIT_GATEWAY, StopReason.KICKED),
    (4015, CloseAction.RESUME, None),  # voice server crashed: op 7
    (4016, CloseAction.STOP, StopReason.PROTOCOL_ERROR),  # bug: unknown encryption mode
    (4017, CloseAction.STOP, StopReason.PROTOCOL_ERROR),  # DAVE required: we sent 0
    (4020, CloseAction.STOP, StopReason.PROTOCOL_ERROR),  # bug: bad request
    (4021, CloseAction.STOP, StopReason.RATE_LIMITED),  # don't reconnect
    (4022, CloseAction.AWAIT_GATEWAY, StopReason.CALL_TERMINATED),  # "as 4014"
    # "any other code → backoff + full reconnect" (and the table's 4011/4012 "–"):
    (4003, CloseAction.BACKOFF_REJOIN, None),
    (4004, CloseAction.BACKOFF_REJOIN, None),
    (4011, CloseAction.BACKOFF_REJOIN, None),
    (4012, CloseAction.BACKOFF_REJOIN, None),
    (4000, CloseAction.BACKOFF_REJOIN, None),
    (1000, CloseAction.BACKOFF_REJOIN, None),
    (4999, CloseAction.BACKOFF_REJOIN, None),
    # A socket that dropped without a close frame is resumed.
    (None, CloseAction.RESUME, None),
    (1006, CloseAction.RESUME, None),
]


@pytest.mark.parametrize(("code", "action", "reason"), TABLE)
def test_policy_matches_table(
    code: int | None, action: CloseAction, reason: StopReason | None
) -> None:
    assert classify(code) == (action, reason)


def test_every_named_code_is_in_the_table() -> None:
    assert {c.value for c in VoiceCloseCode} <= {code for code, _, _ in TABLE}


def test_enum_flags_agree_with_the_policy() -> None:
    assert VoiceCloseCode.SERVER_CRASHED.can_resume
    assert VoiceCloseCode.SESSION_INVALID.must_rejoin and not VoiceCloseCode.SESSION_INVALID.fatal
    assert VoiceCloseCode.SERVER_NOT_FOUND.must_rejoin
    for code in (VoiceCloseCode.DISCONNECTED, VoiceCloseCode.CALL_TERMINATED):
        assert code.awaits_gateway and not code.fatal and not code.can_resume
        assert not code.must_rejoin  # no op 4: it could undo the move that caused it
    for code in (
        VoiceCloseCode.RATE_LIMITED,
        VoiceCloseCode.DAVE_REQUIRED,
    ):
        assert code.fatal and not code.can_resume and not code.must_rejoin
