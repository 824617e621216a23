"""Damaged or missing data on disk, seen by a member through the emulator (#13 items 3, 5 and
"a damaged playlist cannot be deleted").  The files are real and damaged the way a disk or a
careless hand would damage them; the bot must keep answering."""

from __future__ import annotations

from pathlib import Path

import trio

from musicbot.emulator.server import Emulator
from musicbot.emulator.world import DEFAULT_MEMBER_PERMISSIONS
from musicbot.storage import GuildSettings, files
from tests.e2e.harness import Stack, custom_ids, stack, subcommand

MANAGE_GUILD = 1 << 5
# These are the JSON file engine's answers to damage (the database engines have theirs in
# tests/storage/test_database.py).
CONFIG: dict[str, dict[str, object]] = {
    "limits": {"user_commands": 1000},
    "storage": {"url": "files"},
}


async def _run(s: Stack, user_id: int, name: str, options: object = ()) -> str:
    record = s.emu.command(s.guild.id, user_id, name, options, channel_id=s.text_channel)
    return await s.answer(record)


def _corrupt_settings(data_dir: Path, guild_id: int) -> bytes:
    path = data_dir / "guilds" / str(guild_id) / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    bad = b'{"schema_version": 1, "kind": "guild_settings", "data": {"default_vol'
    path.write_bytes(bad)  # no backup: nothing to fall back on
    return bad


async def test_corrupt_settings_without_backup_leave_the_guild_usable(tmp_path: Path) -> None:
    bad = b""

    def damage(emu: Emulator) -> None:
        nonlocal bad
        [guild_id] = emu.world.guilds
        bad = _corrupt_settings(tmp_path / "data", guild_id)

    with trio.fail_after(60):
        async with stack(tmp_path, config=CONFIG, before_bot=damage) as s:
            folder = s.data_dir / "guilds" / str(s.guild.id)
            boss = s.emu.world.add_member(
                s.guild.id, "boss", permissions=DEFAULT_MEMBER_PERMISSIONS | MANAGE_GUILD
            )
            answer = await _run(s, s.user.user_id, "play", {"query": s.media.media_url("a440")})
            assert "a440" in answer and "busy" not in answer
            saved = await _run(s, boss.user_id, "settings", {"default_volume": 40})
            assert "Settings saved." in saved
            assert await s.app.storage.guild_settings(s.guild.id).load() == GuildSettings(
                default_volume=40
            )
            aside = [p for p in folder.iterdir() if ".corrupt-" in p.name]
            assert [p.read_bytes() for p in aside] == [bad]  # kept for the operator


async def test_leave_on_a_fresh_data_dir_answers(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with stack(tmp_path, config=CONFIG) as s:
            assert not (s.data_dir / "sessions").exists()
            assert "Joined" in await _run(s, s.user.user_id, "join")
            assert await _run(s, s.user.user_id, "leave") == "Left the voice channel."


async def test_a_damaged_playlist_can_be_deleted_and_its_bytes_are_kept(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with stack(tmp_path, config=CONFIG) as s:
            dj = s.emu.world.add_member(
                s.guild.id, "boss", permissions=DEFAULT_MEMBER_PERMISSIONS | MANAGE_GUILD
            )
            query = {"query": s.media.media_url("a440")}
            assert "a440" in await _run(s, s.user.user_id, "play", query)
            assert "Saved 1 track" in await _run(
                s, s.user.user_id, "playlist", subcommand("save", name="Broken")
            )
            path = s.app.storage.guild_playlists(s.guild.id).path_for("Broken")
            damaged = b"\x00\x00\x00 half a playlist"
            path.write_bytes(damaged)
            files.backup_path(path).unlink(missing_ok=True)
            shown = await _run(s, s.user.user_id, "playlist", subcommand("show", name="Broken"))
            assert "damaged" in shown

            # The creator's id is in the damaged bytes: in a server only a DJ may delete it.
            other = s.emu.world.add_member(s.guild.id, "other")  # not in voice: no DJ
            refused = await _run(s, other.user_id, "playlist", subcommand("delete", name="Broken"))
            assert "damaged" in refused
            record = s.emu.command(
                s.guild.id,
                dj.user_id,
                "playlist",
                subcommand("delete", name="Broken"),
                channel_id=s.text_channel,
            )
            assert "Delete the playlist **Broken**" in await s.answer(record)
            delete_id = next(c for c in custom_ids(s, record) if c.startswith("playlist:delete:"))
            done = await s.answer(s.emu.component(s.guild.id, dj.user_id, delete_id))
            assert "Deleted the playlist **Broken**" in done
            assert not path.exists()
            aside = [p for p in path.parent.iterdir() if ".corrupt-" in p.name]
            assert [p.read_bytes() for p in aside] == [damaged]
            listing = await _run(s, s.user.user_id, "playlist", subcommand("list"))
            assert "There are no saved playlists" in listing
