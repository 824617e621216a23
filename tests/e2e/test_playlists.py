"""/playlist through the emulator: both scopes, permissions, pages, confirmation, Vietnamese."""

from __future__ import annotations

from pathlib import Path

import trio

from musicbot.emulator.world import DEFAULT_MEMBER_PERMISSIONS, PERM_ADMINISTRATOR
from musicbot.storage import StoredTrack
from tests.e2e.harness import (
    Stack,
    custom_ids,
    decode_pcm,
    dominant_frequency,
    stack,
    subcommand,
)

MANAGE_GUILD = 1 << 5
# Many commands in a row from one member: lift the per-user rate limit for these tests.
CONFIG = {"limits": {"user_commands": 1000}}


async def _queue(s: Stack, *names: str) -> None:
    for name in names:
        assert name in await s.answer(s.play(s.media.media_url(name)))


async def _pl(s: Stack, sub: str, user_id: int | None = None, **options: object) -> str:
    record = s.emu.command(
        s.guild.id,
        s.user.user_id if user_id is None else user_id,
        "playlist",
        subcommand(sub, **options),
        channel_id=s.text_channel,
    )
    return await s.answer(record)


async def _click(s: Stack, custom_id: str, user_id: int | None = None) -> str:
    user = s.user.user_id if user_id is None else user_id
    return await s.answer(s.emu.component(s.guild.id, user, custom_id))


async def test_guild_playlist_save_list_show_add_remove_rename_load_delete(
    tmp_path: Path,
) -> None:
    with trio.fail_after(60):
        async with stack(tmp_path, config=CONFIG) as s:
            await _queue(s, "a440", "e660")
            text = await _pl(s, "save", name="Road Trip")
            assert "Saved 2 tracks as **Road Trip**" in text
            assert "Road Trip" in await _pl(s, "list")
            shown = await _pl(s, "show", name="road trip")  # names are case-insensitive
            assert "page 1/1" in shown and "a440" in shown and "e660" in shown

            added = await _pl(s, "add", name="Road Trip", query=s.media.media_url("c880"))
            assert "Added **c880** to **Road Trip** at position 3" in added
            removed = await _pl(s, "remove", name="Road Trip", index=1)
            assert "Removed **a440** from **Road Trip** (2 tracks left)" in removed
            renamed = await _pl(s, "rename", name="Road Trip", new_name="Chill")
            assert "Renamed **Road Trip** to **Chill**" in renamed
            assert "no playlist named" in (await _pl(s, "show", name="Road Trip")).replace(
                "There is no playlist named", "no playlist named"
            )
            repo = s.app.storage.guild_playlists(s.guild.id)
            stored = await repo.load("Chill")
            assert [t.title for t in stored.tracks] == ["e660", "c880"]
            assert stored.owner_id == s.user.user_id

            # Replace the queue: the stored (unresolved) E660 is resolved lazily and heard.
            mark = len(s.listener.frames)
            loaded = await _pl(s, "load", name="Chill", replace=True)
            assert "Replaced the queue with 2 tracks from **Chill**" in loaded
            frames = await s.frames(mark + 125)
            freq = dominant_frequency(decode_pcm([f.opus for f in frames[mark + 50 :]]))
            assert abs(freq - 660) < 10, freq

            record = s.command("playlist", subcommand("delete", name="Chill"))
            assert "Delete the playlist **Chill** (2 tracks)" in await s.answer(record)
            delete_id = next(c for c in custom_ids(s, record) if c.startswith("playlist:delete:"))
            assert "Deleted the playlist **Chill**" in await _click(s, delete_id)
            assert not await repo.exists("Chill")
            assert "There are no saved playlists" in await _pl(s, "list")
            # A second click on the same (stale) button finds nothing to delete.
            assert "There is no playlist named" in await _click(s, delete_id)
            expired = await _click(s, "playlist:delete:g:1:Chill")
            assert "This confirmation has expired" in expired


async def test_personal_playlists_follow_the_user_and_page(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with stack(tmp_path, config=CONFIG) as s:
            uid = s.user.user_id
            await _queue(s, "a440")
            text = await _pl(s, "save", name="Mine", scope="personal")
            assert "Saved 1 track as **Mine** in your personal playlists" in text
            mine = await s.app.storage.user_playlists(uid).list()  # stored for the user
            assert [p.name for p in mine.playlists] == ["Mine"]
            assert "There are no saved playlists in this server" in await _pl(s, "list")
            assert "Mine" in await _pl(s, "list", scope="personal")

            # Twelve tracks: /playlist show has two pages with working buttons.
            url = s.media.media_url("c880")
            tracks = [StoredTrack(title=f"Song {i}", webpage_url=url) for i in range(1, 13)]
            await s.app.storage.user_playlists(uid).save("Long", tracks, creator_id=uid)
            record = s.command("playlist", subcommand("show", name="Long", scope="personal"))
            first = await s.answer(record)
            assert "page 1/2" in first and "Song 10" in first and "Song 11" not in first
            next_id = next(c for c in custom_ids(s, record) if c.startswith("playlist:page:p:2:"))
            second = await _click(s, next_id)
            assert "page 2/2" in second and "`12.` Song 12" in second

            added = await _pl(s, "add", name="Mine", scope="personal", query=url)
            assert "Added **c880** to **Mine** at position 2" in added
            # A playlist link adds its first entry.
            added = await _pl(s, "add", name="Long", scope="personal", query=s.media.feed_url)
            assert "Added **Tone A440** to **Long** at position 13" in added
            removed = await _pl(s, "remove", name="Mine", scope="personal", index=1)
            assert "Removed **a440**" in removed
            renamed = await _pl(s, "rename", name="Mine", new_name="Ours", scope="personal")
            assert "Renamed **Mine** to **Ours**" in renamed
            loaded = await _pl(s, "load", name="Ours", scope="personal")
            assert "Added 1 track from **Ours** to the queue" in loaded

            # Cancel first, then confirm.
            record = s.command("playlist", subcommand("delete", name="Ours", scope="personal"))
            await s.answer(record)
            ids = custom_ids(s, record)
            keep_id = next(c for c in ids if c.startswith("playlist:keep:"))
            assert "Kept the playlist **Ours**" in await _click(s, keep_id)
            assert await s.app.storage.user_playlists(uid).exists("Ours")
            delete_id = next(c for c in ids if c.startswith("playlist:delete:"))
            assert "Deleted the playlist **Ours**" in await _click(s, delete_id)
            assert not await s.app.storage.user_playlists(uid).exists("Ours")
            listing = await _pl(s, "list", scope="personal")
            assert "Long" in listing and "Ours" not in listing


async def test_only_creator_dj_or_manager_change_a_guild_playlist_in_vietnamese(
    tmp_path: Path,
) -> None:
    with trio.fail_after(60):
        async with stack(tmp_path, config=CONFIG) as s:
            other = s.emu.world.add_member(s.guild.id, "khách", locale="vi")
            boss = s.emu.world.add_member(
                s.guild.id, "boss", permissions=DEFAULT_MEMBER_PERMISSIONS | MANAGE_GUILD
            )
            admin = s.emu.world.add_member(
                s.guild.id, "admin", permissions=DEFAULT_MEMBER_PERMISSIONS | PERM_ADMINISTRATOR
            )
            await _queue(s, "a440")
            assert "Saved 1 track" in await _pl(s, "save", name="Ours")

            refusal = "Chỉ người tạo **Ours**, DJ hoặc người quản lý máy chủ"
            url = s.media.media_url("e660")
            assert refusal in await _pl(s, "rename", other.user_id, name="Ours", new_name="X")
            assert refusal in await _pl(s, "remove", other.user_id, name="Ours", index=1)
            assert refusal in await _pl(s, "add", other.user_id, name="Ours", query=url)
            assert refusal in await _pl(s, "delete", other.user_id, name="Ours")
            # The creator's confirmation button is checked again for whoever clicks it.
            record = s.command("playlist", subcommand("delete", name="Ours"))
            await s.answer(record)
            delete_id = next(c for c in custom_ids(s, record) if c.startswith("playlist:delete:"))
            assert refusal in await _click(s, delete_id, other.user_id)
            stored = await s.app.storage.guild_playlists(s.guild.id).load("Ours")
            assert len(stored.tracks) == 1

            # Reading is open to everyone; storage errors are localized too.
            assert "a440" in await _pl(s, "show", other.user_id, name="Ours")
            missing = await _pl(s, "show", other.user_id, name="Nope")
            assert missing == "Không có danh sách phát nào tên “Nope” trong máy chủ này."
            bad = await _pl(s, "save", other.user_id, name="../x")
            assert "Tên danh sách phát chỉ được dùng" in bad
            taken = await _pl(s, "save", other.user_id, name="OURS")
            assert "Đã có một danh sách phát tên “Ours”" in taken

            # A server manager (or an administrator) may change it.
            renamed = await _pl(s, "rename", boss.user_id, name="Ours", new_name="Shared")
            assert "Renamed **Ours** to **Shared**" in renamed
            assert "Removed **a440**" in await _pl(
                s, "remove", admin.user_id, name="Shared", index=1
            )
