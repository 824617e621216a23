"""The close-code table, transcribed from protocol.md §1 "Close codes" (Discord's docs)."""

from __future__ import annotations

import pytest

from musicbot.gateway import CloseAction, GatewayCloseCode, classify_close

# protocol.md: "Reconnect: 4000, 4001, 4002, 4003, 4005, 4008 (these resume), 4007 invalid seq
# and 4009 session timed out (these need a new Identify).  Fatal: 4004, 4010-4014."
PROTOCOL_TABLE = {
    4000: CloseAction.RESUME,
    4001: CloseAction.RESUME,
    4002: CloseAction.RESUME,
    4003: CloseAction.RESUME,
    4004: CloseAction.FATAL,
    4005: CloseAction.RESUME,
    4007: CloseAction.REIDENTIFY,
    4008: CloseAction.RESUME,
    4009: CloseAction.REIDENTIFY,
    4010: CloseAction.FATAL,
    4011: CloseAction.FATAL,
    4012: CloseAction.FATAL,
    4013: CloseAction.FATAL,
    4014: CloseAction.FATAL,
}


@pytest.mark.parametrize(("code", "action"), sorted(PROTOCOL_TABLE.items()))
def test_table_matches_protocol_doc(code: int, action: CloseAction) -> None:
    member = GatewayCloseCode(code)
    assert member.action is action
    assert member.can_resume == (action is CloseAction.RESUME)
    assert member.must_reidentify == (action is CloseAction.REIDENTIFY)
    assert member.fatal == (action is CloseAction.FATAL)
    assert classify_close(code).action is action
    assert member.message


def test_every_4xxx_member_is_in_the_doc_table() -> None:
    assert {int(c) for c in GatewayCloseCode if c >= 4000} == set(PROTOCOL_TABLE)


def test_fatal_codes_carry_a_fix() -> None:
    for code in GatewayCloseCode:
        if code.fatal:
            assert code.fix and code.fix != "reconnecting"
    auth = GatewayCloseCode.AUTHENTICATION_FAILED
    assert auth.message == "the token is invalid"
    assert "Developer Portal" in auth.fix and "DISCORD_TOKEN" in auth.fix


@pytest.mark.parametrize("code", [None, 1000, 1001, 1006, 1011, 4999])
def test_drops_normal_closes_and_unknown_codes_resume(code: int | None) -> None:
    verdict = classify_close(code)
    assert verdict.action is CloseAction.RESUME
    if code is None:
        assert verdict.code == 1006
