"""A server that leaves ``member.permissions`` out of interactions (Discord-compatible servers
do): the bot treats the member as unprivileged, refuses what needs Manage Server, and plays."""

from __future__ import annotations

from pathlib import Path

import trio

from musicbot.emulator.world import DEFAULT_MEMBER_PERMISSIONS, PERM_ADMINISTRATOR
from tests.e2e.harness import stack


async def test_without_member_permissions_managers_are_not_assumed(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with stack(tmp_path, member_permissions=False) as s:
            boss = s.emu.world.add_member(
                s.guild.id, "boss", permissions=DEFAULT_MEMBER_PERMISSIONS | PERM_ADMINISTRATOR
            )
            record = s.emu.command(
                s.guild.id, boss.user_id, "settings", {"language": "vi"}, channel_id=s.text_channel
            )
            assert "permissions" not in record.payload["member"]
            refused = await s.answer(record)
            played = await s.answer(s.play(s.media.media_url("a440")))
            frames = await s.frames(25)
    assert refused == "Only server managers can change the bot's settings."
    assert "a440" in played and frames
