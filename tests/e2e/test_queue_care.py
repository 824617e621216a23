"""Queue care through the emulator, in English and Vietnamese, refusals included.

Who queued each entry in /queue, /remove user:@x and /remove duplicates, a relative /seek,
/volume with no value, /settings reset, and /playlist save of a taken name asking first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from musicbot.emulator.world import DEFAULT_MEMBER_PERMISSIONS
from musicbot.storage import GuildSettings
from tests.e2e.flow import User, add_member, config, user
from tests.e2e.harness import Stack, custom_ids, stack, subcommand

MANAGE_GUILD = 1 << 5
NEED_DJ = "You need the DJ role"


def _user_option(member: User) -> list[dict[str, Any]]:
    return [{"name": "user", "type": 6, "value": str(member.id)}]


async def _fill(s: Stack, me: User, other: User) -> None:
    """Current a440 (me); upcoming e660 (me), e660 (me), c880 (other), a440 (other)."""
    a440, e660, c880 = (s.media.media_url(n) for n in ("a440", "e660", "c880"))
    assert "a440" in await me.ask("play", {"query": a440})
    # Hold the current track still: the positions and counts below stay exact.
    await me.ask("repeat", {"mode": "track"})
    await me.ask("pause")
    for who, url in ((me, e660), (me, e660), (other, c880), (other, a440)):
        assert "position" in await who.ask("play", {"query": url})


async def _save(s: Stack, member: User, name: str, locale: str | None = None) -> Any:
    return member.run("playlist", subcommand("save", name=name), locale=locale)


async def test_queue_care_in_english(tmp_path: Path) -> None:
    with trio.fail_after(90):
        async with stack(tmp_path, config=config()) as s:
            me = user(s)
            other = add_member(s, "other")
            dj = add_member(s, "dj", permissions=DEFAULT_MEMBER_PERMISSIONS | MANAGE_GUILD)
            await _fill(s, me, other)

            # /queue names who queued each entry.
            page = await me.ask("queue")
            lines = page.splitlines()
            assert any("[a440]" in ln and f"<@{me.id}>" in ln for ln in lines[:2]), page
            assert any(ln.startswith("`3.` [c880]") and f"<@{other.id}>" in ln for ln in lines)
            assert any(ln.startswith("`1.` [e660]") and f"<@{me.id}>" in ln for ln in lines)

            # /volume with no value shows it to anyone; setting it needs a DJ.
            default = s.app.config.audio.default_volume
            assert await other.ask("volume") == f"The volume is {default}%."
            assert (await other.ask("volume", {"percent": 10})).startswith(NEED_DJ)
            assert await dj.ask("volume", {"percent": 70}) == "Volume set to 70%."
            assert await other.ask("volume") == "The volume is 70%."

            # /remove must be told exactly one way.
            what = "Tell me what to remove"
            assert (await me.ask("remove")).startswith(what)
            both = [{"name": "index", "type": 4, "value": 1}, *_user_option(other)]
            assert (await me.ask("remove", both)).startswith(what)

            # Duplicates (the second e660, and the a440 that is playing now) — other members'
            # tracks among them, so a plain member is refused and nothing is removed.
            assert (await other.ask("remove", {"duplicates": True})).startswith(NEED_DJ)
            assert (await me.ask("remove", {"duplicates": True})).startswith(NEED_DJ)
            assert "`4.` [a440]" in await me.ask("queue")
            assert await dj.ask("remove", {"duplicates": True}) == "Removed 2 duplicate tracks."
            page = await me.ask("queue")
            assert "`1.` [e660]" in page and "`2.` [c880]" in page and "`3.`" not in page
            assert await dj.ask("remove", {"duplicates": True}) == (
                "There are no duplicate tracks in the queue."
            )

            # A member's tracks: one's own freely, somebody else's only as a DJ.
            assert (await me.ask("remove", _user_option(other))).startswith(NEED_DJ)
            assert await other.ask("remove", _user_option(other)) == (
                f"Removed 1 track queued by <@{other.id}>."
            )
            assert await other.ask("remove", _user_option(other)) == (
                f"<@{other.id}> has no upcoming tracks in the queue."
            )
            assert "[c880]" not in await me.ask("queue")

            # Relative /seek from where playback is (paused at 0:00).
            assert await me.ask("seek", {"position": "0:01"}) == "Moved to 0:01."
            assert await me.ask("seek", {"position": "+2"}) == "Moved to 0:03."
            assert await me.ask("seek", {"position": "-1"}) == "Moved to 0:02."
            assert await me.ask("seek", {"position": "-10"}) == "Moved to 0:00."
            assert await me.ask("seek", {"position": "+30"}) == (
                "0:30 is past the end of this track (it is 0:06 long)."
            )
            bad = "I don't understand that time"
            assert bad in await me.ask("seek", {"position": "+soon"})
            assert bad in await me.ask("seek", {"position": "+-3"})

            # /playlist save of a taken name asks first; Keep keeps, Overwrite replaces.
            saved = await s.answer(await _save(s, me, "Mix"))
            assert saved == "Saved 2 tracks as **Mix** in this server's playlists."
            assert "[e660]" in await me.ask("queue")
            await me.ask("remove", {"index": 1})
            record = await _save(s, me, "mix")
            asked = await s.answer(record)
            assert asked == (
                "A playlist named **Mix** (2 tracks) already exists. "
                "Replace its tracks with the current queue?"
            )
            ids = custom_ids(s, record)
            keep = next(c for c in ids if c.startswith("playlist:keep:"))
            overwrite = next(c for c in ids if c.startswith("playlist:overwrite:"))
            store = s.app.storage.guild_playlists(s.guild.id)
            assert await me.tap(keep) == "Kept the playlist **Mix**."
            assert len((await store.load("Mix")).tracks) == 2
            # Somebody who may not change it hears the name is taken, with no button.
            taken = other.run("playlist", subcommand("save", name="MIX"))
            assert "A playlist named “Mix” already exists" in await s.answer(taken)
            assert not custom_ids(s, taken)
            assert await other.tap(overwrite) == (
                "Only the creator of **Mix**, a DJ or a server manager may change it."
            )
            assert len((await store.load("Mix")).tracks) == 2
            assert await me.tap(overwrite) == (
                "Saved 1 track as **Mix** in this server's playlists."
            )
            assert [tr.title for tr in (await store.load("Mix")).tracks] == ["a440"]

            # /settings reset: managers only, alone, and back to the defaults on disk.
            settings = s.app.storage.guild_settings(s.guild.id)
            changes = {"language": "vi", "default_volume": 40}
            assert "Đã lưu cài đặt." in await dj.ask("settings", changes)
            refused = await other.ask("settings", {"reset": True})
            assert refused == "Chỉ người quản lý máy chủ mới được đổi cài đặt của bot."
            mixed = await dj.ask("settings", {"reset": True, "language": "en"})
            assert mixed == "Đặt lại sẽ đưa mọi cài đặt về mặc định; đừng kèm thay đổi khác."
            assert (await settings.load()).language == "vi"
            reset = await dj.ask("settings", {"reset": True})
            assert reset.startswith("Settings reset to their defaults.\n"), reset
            assert f"Default volume: {default}%" in reset
            assert await settings.load() == GuildSettings()
            assert await other.ask("volume") == "The volume is 70%."  # (this session's)


async def test_queue_care_in_vietnamese(tmp_path: Path) -> None:
    vi = {"locale": "vi"}
    with trio.fail_after(90):
        async with stack(tmp_path, config=config()) as s:
            me = user(s)
            other = add_member(s, "khác")
            boss = add_member(s, "sếp", permissions=DEFAULT_MEMBER_PERMISSIONS | MANAGE_GUILD)
            await _fill(s, me, other)

            page = await me.ask("queue", **vi)
            assert any(
                ln.startswith("`3.` [c880]") and f"<@{other.id}>" in ln for ln in page.splitlines()
            )
            default = s.app.config.audio.default_volume
            assert await other.ask("volume", **vi) == f"Âm lượng hiện tại là {default}%."
            assert (await other.ask("volume", {"percent": 5}, **vi)).startswith(
                "Bạn cần vai trò DJ"
            )

            assert (await me.ask("remove", **vi)).startswith("Hãy cho mình biết cần xóa gì")
            assert (await me.ask("remove", {"duplicates": True}, **vi)).startswith(
                "Bạn cần vai trò DJ"
            )
            assert await boss.ask("remove", {"duplicates": True}, **vi) == "Đã xóa 2 bài trùng."
            assert await boss.ask("remove", {"duplicates": True}, **vi) == (
                "Hàng đợi không có bài nào bị trùng."
            )
            assert await boss.ask("remove", _user_option(other), **vi) == (
                f"Đã xóa 1 bài do <@{other.id}> thêm."
            )
            assert await boss.ask("remove", _user_option(other), **vi) == (
                f"<@{other.id}> không có bài nào sắp phát trong hàng đợi."
            )

            assert await me.ask("seek", {"position": "0:02"}, **vi) == "Đã tua tới 0:02."
            assert await me.ask("seek", {"position": "+1"}, **vi) == "Đã tua tới 0:03."
            assert await me.ask("seek", {"position": "-5"}, **vi) == "Đã tua tới 0:00."
            assert "Mình không hiểu thời điểm đó." in await me.ask(
                "seek", {"position": "+mai"}, **vi
            )

            assert "Đã lưu 2 bài" in await s.answer(await _save(s, me, "Tuyển", "vi"))
            record = await _save(s, me, "Tuyển", "vi")
            assert await s.answer(record) == (
                "Đã có danh sách phát tên **Tuyển** (2 bài). "
                "Thay các bài của nó bằng hàng đợi hiện tại?"
            )
            assert s.emu.rest is not None
            original = s.emu.rest.interactions[record.id]
            bodies = [cb.get("data") or {} for cb in original.callbacks]
            labels = [
                c["label"]
                for body in bodies
                for row in body.get("components") or ()
                for c in row["components"]
            ]
            assert labels == ["Ghi đè", "Giữ lại"]
            overwrite = next(c for c in custom_ids(s, record) if ":overwrite:" in c)
            assert (await me.tap(overwrite, locale="vi")).startswith("Đã lưu 2 bài thành **Tuyển**")

            refused = await other.ask("settings", {"reset": True}, **vi)
            assert refused == "Chỉ người quản lý máy chủ mới được đổi cài đặt của bot."
            assert "Settings saved." in await boss.ask("settings", {"default_volume": 30})
            reset = await boss.ask("settings", {"reset": True}, **vi)
            assert reset.startswith("Đã đưa mọi cài đặt về mặc định.\n"), reset
            assert await s.app.storage.guild_settings(s.guild.id).load() == GuildSettings()
