"""/settings through the emulator: managers only, stored, and it changes what the bot does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from musicbot.app import App, serve
from musicbot.emulator.world import DEFAULT_MEMBER_PERMISSIONS
from musicbot.storage import GuildSettings
from tests.e2e.harness import Stack, stack, subcommand

MANAGE_GUILD = 1 << 5
CONFIG = {"limits": {"user_commands": 1000}}


async def _run(
    s: Stack, user_id: int, name: str, options: Any = (), *, locale: str | None = None
) -> str:
    record = s.emu.command(
        s.guild.id, user_id, name, options, channel_id=s.text_channel, locale=locale
    )
    return await s.answer(record)


async def test_settings_are_for_managers_persist_and_change_behaviour(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with stack(tmp_path, config=CONFIG) as s:
            world = s.emu.world
            dj_role = world.new_id()
            boss = world.add_member(
                s.guild.id, "boss", permissions=DEFAULT_MEMBER_PERMISSIONS | MANAGE_GUILD
            )
            dj = world.add_member(s.guild.id, "dj", roles=[dj_role])
            nobody = world.add_member(s.guild.id, "nobody")
            store = s.app.storage.guild_settings(s.guild.id)

            refused = await _run(s, s.user.user_id, "settings", {"language": "vi"})
            assert refused == "Only server managers can change the bot's settings."
            assert await store.load() == GuildSettings()

            # Before: a plain member may not /stop (nobody is alone with the bot in voice).
            assert "You need the DJ role" in await _run(s, dj.user_id, "stop")
            role_option = [{"name": "dj_role", "type": 8, "value": str(dj_role)}]
            saved = await _run(s, boss.user_id, "settings", role_option)
            assert "Settings saved." in saved and f"<@&{dj_role}>" in saved
            assert "Stopped and cleared the queue." in await _run(s, dj.user_id, "stop")
            assert "You need the DJ role" in await _run(s, nobody.user_id, "stop")

            saved = await _run(
                s, boss.user_id, "settings", {"language": "vi", "default_volume": 40}
            )
            assert "Đã lưu cài đặt." in saved and "40%" in saved
            # The override wins over the member's own (en-US) Discord language.
            listing = await _run(s, s.user.user_id, "playlist", subcommand("list"), locale="en-US")
            assert (
                listing == "Chưa có danh sách phát nào được lưu trong danh sách phát của máy chủ."
            )
            stopped = await _run(s, dj.user_id, "stop", locale="en-US")
            assert stopped == "Đã dừng phát và xoá hàng chờ."

            assert await store.load() == GuildSettings(
                dj_role_id=dj_role, language="vi", default_volume=40
            )
            shown = await _run(s, boss.user_id, "settings")
            assert "Vai trò DJ" in shown and "Tiếng Việt" in shown

            # A new bot process on the same data applies them from the start.
            s.app.cancel_scope.cancel()
            async with trio.open_nursery() as nursery:
                app: App = await nursery.start(serve, s.app.config)
                await app.ready.wait()
                stopped = await _run(s, dj.user_id, "stop", locale="en-US")
                assert stopped == "Đã dừng phát và xoá hàng chờ."
                refused = await _run(s, nobody.user_id, "stop", locale="en-US")
                assert refused.startswith("Bạn cần vai trò DJ"), refused
                app.request_stop()
