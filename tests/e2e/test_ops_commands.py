"""/metrics and /health as members see them: refused, a manager's guild view, the owner's view."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from musicbot.emulator.server import Emulator
from tests.e2e.harness import Stack, stack

MANAGE_GUILD = 1 << 5
EPHEMERAL = 1 << 6


async def answer_data(s: Stack, record: Any) -> dict[str, Any]:
    """The message body the bot answered ``record`` with (callback data or deferred edit)."""
    assert s.emu.rest is not None
    rest = s.emu.rest
    with trio.fail_after(10):
        while True:
            state = rest.interactions.get(record.id)
            if state is not None:
                if getattr(state, "original", None):
                    return dict(state.original)
                for cb in getattr(state, "callbacks", ()):
                    data = cb.get("data") if isinstance(cb, dict) else None
                    if data:
                        return dict(data)
            await rest.wait_for_change()


def run(s: Stack, name: str, user_id: int | None = None, locale: str | None = None) -> Any:
    """``/name`` typed by ``user_id`` (the stack's listener by default)."""
    user = s.user.user_id if user_id is None else user_id
    return s.emu.command(s.guild.id, user, name, {}, channel_id=s.text_channel, locale=locale)


def fields(embed: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


async def test_metrics_and_health_by_role_and_language(tmp_path: Path) -> None:
    config: dict[str, dict[str, Any]] = {"discord": {}}
    people: dict[str, int] = {}

    def add_people(emu: Emulator) -> None:
        guild_id = next(iter(emu.world.guilds))
        manager = emu.world.add_member(guild_id, "manager", permissions=MANAGE_GUILD, locale="vi")
        owner = emu.world.add_member(guild_id, "owner")
        people.update(manager=manager.user_id, owner=owner.user_id)
        config["discord"]["owner_ids"] = [owner.user_id]

    with trio.fail_after(60):
        async with stack(tmp_path, config=config, before_bot=add_people) as s:
            record = s.play(s.media.media_url("a440"))
            assert "a440" in await s.answer(record)
            await s.frames(20)

            # A plain member is refused, privately.
            refused = await answer_data(s, run(s, "metrics"))
            assert refused["content"] == "Only the bot owner or a server manager can see this."
            assert refused["flags"] & EPHEMERAL

            # A server manager sees this guild's figures, in Vietnamese.
            r = run(s, "metrics", people["manager"], locale="vi")
            data = await answer_data(s, r)
            assert data["flags"] & EPHEMERAL
            (embed,) = data["embeds"]
            assert embed["title"] == "Số liệu vận hành của máy chủ này"
            f = fields(embed)
            assert f["Đã kết nối thoại"] == "có"
            assert f["Bài đã bắt đầu / đã xong / lỗi"] == "1 / 0 / 0"

            # The owner sees the process first, then the guild.
            data = await answer_data(s, run(s, "metrics", people["owner"]))
            process, guild = data["embeds"]
            assert process["title"] == "Runtime figures"
            f = fields(process)
            assert f["Tracks started / finished / failed"] == "1 / 0 / 0"
            gateway = f["Gateway latency per shard"]  # "—" until the first heartbeat ACK
            assert gateway == "—" or gateway.startswith("#0: "), gateway
            assert f["CPU time / memory"].endswith("MiB")
            assert guild["title"] == "Runtime figures for this server"

            # /health: everyone fine; the owner also gets the shard list.
            data = await answer_data(s, run(s, "health", people["owner"]))
            (embed,) = data["embeds"]
            assert embed["title"] == "Health: healthy"
            f = fields(embed)
            assert f["Ready"] == "yes"
            assert f["Shards"].startswith("shard 0: connected, latency ")
            assert f["Discord API last answered"].endswith(" s ago")
            data = await answer_data(s, run(s, "health", people["manager"], locale="vi"))
            (embed,) = data["embeds"]
            assert embed["title"] == "Tình trạng: tốt"
            assert "Các shard" not in fields(embed)
