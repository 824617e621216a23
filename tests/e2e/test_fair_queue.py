"""Fair queue through the emulator: with ``/settings fair_queue`` on, requesters take turns."""

from __future__ import annotations

import re
from pathlib import Path

import trio

from musicbot.emulator.world import DEFAULT_MEMBER_PERMISSIONS
from tests.e2e.flow import User, add_member, config, user
from tests.e2e.harness import Stack, stack

MANAGE_GUILD = 1 << 5
LINE = re.compile(r"^`(\d+)\.` .* <@(\d+)>$")


async def _requesters(me: User, **kw: str) -> list[int]:
    """Who queued each upcoming entry, in /queue order."""
    page = await me.ask("queue", **kw)
    found = [LINE.match(line) for line in page.splitlines()]
    return [int(m.group(2)) for m in found if m is not None]


async def _add(s: Stack, who: User, name: str, **kw: str) -> str:
    return await who.ask("play", {"query": s.media.media_url(name)}, **kw)


async def test_fair_queue_takes_turns(tmp_path: Path) -> None:
    with trio.fail_after(90):
        async with stack(tmp_path, config=config()) as s:
            me = user(s)
            a, b, c = (add_member(s, n) for n in ("a", "b", "c"))
            boss = add_member(
                s, "boss", in_voice=False, permissions=DEFAULT_MEMBER_PERMISSIONS | MANAGE_GUILD
            )
            assert "a440" in await _add(s, me, "a440")
            await me.ask("pause")  # (the current track stays current)
            await _add(s, me, "e660")
            await _add(s, me, "c880")
            # Off (the default): in the order added.
            assert "Fair queue: off" in await boss.ask("settings")
            assert (await _add(s, a, "a440")).endswith("at position 3.")
            assert await _requesters(me) == [me.id, me.id, a.id]

            refused = await a.ask("settings", {"fair_queue": True})
            assert refused == "Only server managers can change the bot's settings."
            saved = await boss.ask("settings", {"fair_queue": True})
            assert "Fair queue: on (requesters take turns)" in saved
            # Turning it on sorts the queue by turns (the playing track was my first).
            assert await _requesters(me) == [a.id, me.id, me.id]
            # A newcomer goes ahead of my second track; a second track of a after my first.
            assert (await _add(s, b, "e660")).endswith("at position 2.")
            assert (await _add(s, a, "c880")).endswith("at position 4.")
            assert await _requesters(me) == [a.id, b.id, me.id, a.id, me.id]
            # /playnext still jumps the line.
            assert "will play next" in await c.ask("playnext", {"query": s.media.media_url("a440")})
            assert (await _requesters(me))[0] == c.id
            stored = await s.app.storage.guild_settings(s.guild.id).load()
            assert stored.fair_queue is True

            assert "Fair queue: off" in await boss.ask("settings", {"fair_queue": False})
            assert (await _add(s, c, "e660")).endswith("at position 7.")


async def test_fair_queue_in_vietnamese(tmp_path: Path) -> None:
    vi = {"locale": "vi"}
    with trio.fail_after(90):
        async with stack(tmp_path, config=config()) as s:
            me = user(s)
            a = add_member(s, "a")
            boss = add_member(
                s, "sếp", in_voice=False, permissions=DEFAULT_MEMBER_PERMISSIONS | MANAGE_GUILD
            )
            await _add(s, me, "a440", **vi)
            await me.ask("pause")
            await _add(s, me, "e660", **vi)
            refused = await a.ask("settings", {"fair_queue": True}, **vi)
            assert refused == "Chỉ người quản lý máy chủ mới được đổi cài đặt của bot."
            saved = await boss.ask("settings", {"fair_queue": True}, **vi)
            assert "Hàng đợi công bằng: bật (người yêu cầu lần lượt)" in saved
            added = await _add(s, a, "c880", **vi)
            assert added.endswith("vị trí 1."), added
            assert await _requesters(me, **vi) == [a.id, me.id]
            saved = await boss.ask("settings", {"fair_queue": False}, **vi)
            assert "Hàng đợi công bằng: tắt (phát theo thứ tự thêm)" in saved
