"""The guild actor's answers when its effects are slow or fail: a full extraction queue says
"busy", and a full disk during a command is the operator's warning and the member's clear
answer, not a crash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio
from structlog.testing import capture_logs

from actors.guild.commands import MAX_PENDING_EXTRACTIONS
from musicbot.gateway.events import CommandOption
from musicbot.storage import DiskFull, GuildSettings, Storage
from tests.actors.bench import open_bench


class FullDiskStorage:
    """Guild settings load, but saving them finds the disk full."""

    def __init__(self, root: Path) -> None:
        self.real = Storage(root=root)

    def guild_settings(self, guild_id: int) -> Any:
        path = self.real.root / "guilds" / str(guild_id) / "settings.json"

        class Store:
            async def load(self) -> GuildSettings:
                return GuildSettings()

            async def save(self, settings: GuildSettings) -> None:
                raise DiskFull(path)

        return Store()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


async def test_a_full_disk_during_a_command_is_a_warning_and_a_clear_answer(
    tmp_path: Path,
) -> None:
    with trio.fail_after(30), capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            bench = await open_bench(tmp_path, nursery, storage=FullDiskStorage(tmp_path))
            ident = await bench.send("247")
            body = bench.rest.calls[ident][0][1]
            assert "went wrong" not in body["data"]["content"]
            assert body["data"]["flags"] == 1 << 6
            assert bench.guilds.restarts == 0
            nursery.cancel_scope.cancel()
    warned = [e for e in logs if e["event"] == "command_storage_error"]
    assert warned and warned[0]["log_level"] == "warning" and warned[0]["error"] == "DiskFull"


async def test_a_full_extraction_queue_answers_busy(tmp_path: Path) -> None:
    release = trio.Event()
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            bench = await open_bench(tmp_path, nursery)
            extractor = bench.extractor

            async def slow(query: str, requester_id: int | None = None) -> Any:
                await release.wait()
                raise RuntimeError("gave up")

            extractor.extract = slow  # type: ignore[method-assign]
            query = (CommandOption(name="query", type=3, value="something"),)
            for _ in range(MAX_PENDING_EXTRACTIONS):
                await bench.send("play", query, answered=False)
            ident = await bench.send("play", query)
            content = bench.rest.calls[ident][0][1]["data"]["content"]
            assert content == "I'm busy with other requests in this server; try again in a moment."
            release.set()
            nursery.cancel_scope.cancel()
