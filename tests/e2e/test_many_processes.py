"""Two bot processes (shards 0 and 1 of 2) on one real PostgreSQL, against the emulator.

Both start at the same moment.  Discord (here the emulator, max_concurrency 1) must see their
IDENTIFYs a full window apart, although each process alone would identify at once.  A member
saves a personal playlist in a guild of shard 0 (process A) and loads it in a guild of shard 1
(process B): the processes share the member's playlists through the database.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from musicbot.emulator.media import open_media_server
from musicbot.emulator.server import Emulator, open_emulator
from musicbot.emulator.voice import VoiceServer
from musicbot.gateway.constants import IDENTIFY_WINDOW
from tests.e2e.harness import TONES, _text_of, subcommand
from tests.storage.pg import running_server

REPO = Path(__file__).resolve().parents[2]


def _config(path: Path, emu: Emulator, *, shard: int, data_dir: Path, db_url: str) -> None:
    path.write_text(
        f"""
[discord]
gateway_url = "{emu.gateway_url}"
api_base = "{emu.api_base}"
ca_file = "{emu.ca_file}"  # the emulator's voice gateway is TLS with a run-local CA
shard_count = 2
shard_ids = [{shard}]

[extractor]
allow_private_addresses = true
allowed_domains = ["*"]

[limits]
user_commands = 1000

[storage]
data_dir = "{data_dir}"
url = "{db_url}"

[log]
level = "info"
format = "json"
""",
        encoding="utf-8",
    )


@asynccontextmanager
async def bot_process(
    tmp_path: Path, emu: Emulator, shard: int, db_url: str
) -> AsyncIterator[trio.Process]:
    config_path = tmp_path / f"shard{shard}.toml"
    _config(config_path, emu, shard=shard, data_dir=tmp_path / f"data{shard}", db_url=db_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSICBOT_")}
    env["DISCORD_TOKEN"] = emu.world.token
    with (tmp_path / f"bot{shard}.log").open("wb") as log_file:
        proc = await trio.lowlevel.open_process(
            [sys.executable, "-m", "musicbot", "run", "--config", str(config_path)],
            env=env,
            cwd=str(REPO),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            yield proc
        finally:
            if proc.returncode is None:
                proc.terminate()
                with trio.move_on_after(15):
                    await proc.wait()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def _answer(emu: Emulator, record: Any) -> str:
    assert emu.rest is not None
    with trio.fail_after(30):
        while True:
            state = emu.rest.interactions.get(record.id)
            text = _text_of(state) if state is not None else None
            if text:
                return text
            await emu.rest.wait_for_change()


async def test_two_processes_share_playlists_and_space_their_identifies(tmp_path: Path) -> None:
    with trio.fail_after(150), running_server() as pg:
        db_url = pg.create_database("shared")
        voice = VoiceServer(heartbeat_interval_ms=2_000.0)
        async with (
            open_media_server(tmp_path / "media", TONES) as media,
            open_emulator(voice_backend=voice, heartbeat_interval=5.0) as emu,
        ):
            world = emu.world
            first = world.add_guild("Shard zero", shard=0, num_shards=2, text_channels=("music",))
            second = world.add_guild("Shard one", shard=1, num_shards=2, text_channels=("music",))
            member = world.add_member(first.id, "listener")
            world.add_member(second.id, "listener", user_id=member.user_id)
            world.move_member(first.id, member.user_id, first.voice_channel.id)

            async with (
                bot_process(tmp_path, emu, 0, db_url),
                bot_process(tmp_path, emu, 1, db_url),
            ):
                await emu.gateway.wait_connected(0)
                await emu.gateway.wait_connected(1)
                identifies = sorted(emu.gateway.identifies, key=lambda r: r.at)
                assert sorted(r.shard_id for r in identifies) == [0, 1]
                assert all(r.num_shards == 2 for r in identifies)
                gap = identifies[1].at - identifies[0].at
                assert gap >= IDENTIFY_WINDOW, f"IDENTIFYs only {gap:.2f} s apart"

                # Process A (shard 0): play a tone, save the queue as a personal playlist.
                play = emu.command(
                    first.id,
                    member.user_id,
                    "play",
                    {"query": media.media_url("a440")},
                    channel_id=first.text_channel.id,
                )
                assert "a440" in await _answer(emu, play)
                save = emu.command(
                    first.id,
                    member.user_id,
                    "playlist",
                    subcommand("save", name="Travel", scope="personal"),
                    channel_id=first.text_channel.id,
                )
                assert "Saved 1 track as **Travel**" in await _answer(emu, save)

                # Process B (shard 1): the same member's playlist is there, and loads.
                world.move_member(second.id, member.user_id, second.voice_channel.id)
                show = emu.command(
                    second.id,
                    member.user_id,
                    "playlist",
                    subcommand("show", name="travel", scope="personal"),
                    channel_id=second.text_channel.id,
                )
                assert "a440" in await _answer(emu, show)
                load = emu.command(
                    second.id,
                    member.user_id,
                    "playlist",
                    subcommand("load", name="Travel", scope="personal"),
                    channel_id=second.text_channel.id,
                )
                assert "Added 1 track from **Travel**" in await _answer(emu, load)
