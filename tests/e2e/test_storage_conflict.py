"""A member's /settings loses to nobody: another process's change is not overwritten.

The bot runs on the default SQLite database; "another process" is a second connection pool on
the same file, as a second bot process on the machine would have.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import trio

from musicbot.app import _load_sessions
from musicbot.emulator.world import DEFAULT_MEMBER_PERMISSIONS
from musicbot.storage import GuildSettings, SessionSnapshot
from musicbot.storage.db import SqliteDatabase
from tests.e2e.harness import stack

MANAGE_GUILD = 1 << 5
CONFIG = {"limits": {"user_commands": 1000}}


async def test_settings_changed_by_another_process_are_not_overwritten(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with stack(tmp_path, config=CONFIG) as s:
            boss = s.emu.world.add_member(
                s.guild.id, "boss", permissions=DEFAULT_MEMBER_PERMISSIONS | MANAGE_GUILD
            )

            async def settings(options: dict[str, object]) -> str:
                record = s.emu.command(
                    s.guild.id, boss.user_id, "settings", options, channel_id=s.text_channel
                )
                return await s.answer(record)

            assert "Settings saved." in await settings({"default_volume": 40})
            other_db = SqliteDatabase(s.data_dir / "musicbot.sqlite3")
            try:
                other = attrs.evolve(s.app.storage, db=other_db)
                theirs = other.guild_settings(s.guild.id)
                current = await theirs.load()
                await theirs.save(attrs.evolve(current, dj_role_id=4242))  # process B
                refused = await settings({"language": "vi"})
                assert "changed by another instance of the bot" in refused
                stored = await s.app.storage.guild_settings(s.guild.id).load()
                assert stored == GuildSettings(default_volume=40, dj_role_id=4242)
                # The retry builds on what process B saved.
                assert "Đã lưu cài đặt." in await settings({"language": "vi"})
                assert await theirs.load() == GuildSettings(
                    default_volume=40, dj_role_id=4242, language="vi"
                )
            finally:
                other_db.close()


def _snap(guild_id: int) -> SessionSnapshot:
    return SessionSnapshot(
        guild_id=guild_id,
        voice_channel_id=1,
        text_channel_id=None,
        queue={},
        position=0.0,
        repeat_mode="off",
        volume=100,
        stay_24_7=False,
        saved_at=0.0,
    )


async def test_a_process_resumes_only_the_sessions_of_its_own_shards(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with stack(tmp_path, config=CONFIG) as s:
            world = s.emu.world
            ids = [world.new_id(shard=n % 2, num_shards=2) for n in range(4)]
            for guild_id in ids:
                await s.app.storage.sessions().save(_snap(guild_id))
            cfg = s.app.config
            for shard in (0, 1):
                split = attrs.evolve(
                    cfg, discord=attrs.evolve(cfg.discord, shard_count=2, shard_ids=(shard,))
                )
                mine = await _load_sessions(s.app.storage, split)
                assert sorted(mine) == sorted(ids[shard::2])
            everything = await _load_sessions(s.app.storage, cfg)  # one process: all of them
            assert set(ids) <= set(everything)
