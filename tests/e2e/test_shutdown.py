"""SIGTERM during playback, on the real command line (``python -m musicbot run``) as a process.

The emulator, its voice server with a libdave listener and the media server run in the test
process; the bot is a child process configured by a config.toml and ``DISCORD_TOKEN``.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import trio

from musicbot.emulator.media import Tone, open_media_server
from musicbot.emulator.server import Emulator, open_emulator
from musicbot.emulator.voice import VoiceServer
from musicbot.emulator.voice_call import Listener
from musicbot.models.media import SILENCE_FRAME
from tests.e2e.harness import assert_discord_shapes, validating

# Long enough that ffmpeg is still running (held back by the player's bounded buffer) when the
# signal comes, so the test sees the shutdown reap it.
# MP3, so the bot transcodes it through an ffmpeg child (Opus would be demuxed in process), and
# the test can check that a shutdown reaps that child.
LONG_TONE = Tone(name="long", title="Long tone", frequency=440.0, duration=40.0, format="mp3")
SHUTDOWN_TIMEOUT = 5.0
REPO = Path(__file__).resolve().parents[2]


def children(pid: int) -> dict[int, str]:
    """{pid: command name} of the live processes whose parent is ``pid``."""
    out: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = dict(
                line.split(":\t", 1) for line in (entry / "status").read_text().splitlines()
            )
        except (OSError, ValueError):
            continue  # gone meanwhile
        if int(fields.get("PPid", "0")) == pid and fields.get("State", "")[:1] != "Z":
            out[int(entry.name)] = fields.get("Name", "")
    return out


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in state


def toml_config(path: Path, *, gateway: str, api: str, data_dir: Path, ca_file: str = "") -> None:
    path.write_text(
        f"""
[discord]
gateway_url = "{gateway}"
api_base = "{api}"
ca_file = "{ca_file}"  # the emulator's voice gateway is TLS with a run-local CA

[audio]
demux_in_process = false  # this test is about reaping ffmpeg children: keep one per stream

[extractor]
allow_private_addresses = true
allowed_domains = ["*"]

[storage]
data_dir = "{data_dir}"
snapshot_debounce = 120.0  # only the shutdown flush can have written the snapshot

[ops]
shutdown_timeout = {SHUTDOWN_TIMEOUT}

[log]
level = "info"
format = "json"
""",
        encoding="utf-8",
    )


@attrs.define(eq=False)
class Playing:
    proc: trio.Process
    emu: Emulator
    voice: VoiceServer
    listener: Listener
    guild_id: int
    lounge: int
    data_dir: Path
    log_path: Path
    ffmpeg: set[int]  # the bot's ffmpeg children while it played

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@asynccontextmanager
async def bot_playing(tmp_path: Path) -> AsyncIterator[Playing]:
    """The bot as a process, playing the long tone to a libdave listener (killed on exit)."""
    voice = VoiceServer(heartbeat_interval_ms=2_000.0)
    async with (
        open_media_server(tmp_path / "media", (LONG_TONE,)) as media,
        open_emulator(
            voice_backend=voice, heartbeat_interval=5.0, rest_options=validating()
        ) as emu,
    ):
        guild = emu.world.add_guild("Phòng nhạc", text_channels=("music",))
        lounge = guild.voice_channel.id
        user = emu.world.add_member(guild.id, "listener")
        listener = voice.add_listener(guild_id=guild.id, channel_id=lounge, user_id=user.user_id)
        emu.world.move_member(guild.id, user.user_id, lounge)

        data_dir = tmp_path / "data"
        config_path = tmp_path / "config.toml"
        toml_config(
            config_path,
            gateway=emu.gateway_url,
            api=emu.api_base,
            data_dir=data_dir,
            ca_file=emu.ca_file,
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("MUSICBOT_")}
        env["DISCORD_TOKEN"] = emu.world.token
        log_path = tmp_path / "bot.log"
        with log_path.open("wb") as log_file:
            proc = await trio.lowlevel.open_process(
                [sys.executable, "-m", "musicbot", "run", "--config", str(config_path)],
                env=env,
                cwd=str(REPO),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
            try:
                await emu.gateway.wait_connected()
                query = {"query": media.media_url("long")}
                emu.command(guild.id, user.user_id, "play", query, channel_id=guild.text_channel.id)
                await voice.wait_for_frames(listener, 100)  # two seconds of the tone
                ffmpeg = {p for p, name in children(proc.pid).items() if "ffmpeg" in name}
                assert ffmpeg, children(proc.pid)  # the source is still being decoded
                yield Playing(
                    proc=proc,
                    emu=emu,
                    voice=voice,
                    listener=listener,
                    guild_id=guild.id,
                    lounge=lounge,
                    data_dir=data_dir,
                    log_path=log_path,
                    ffmpeg=ffmpeg,
                )
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
            assert_discord_shapes(emu)  # OpenAPI-valid requests and answers, no 429 broken


async def test_sigterm_during_playback_snapshots_sends_silence_leaves_and_reaps(
    tmp_path: Path,
) -> None:
    with trio.fail_after(90):
        async with bot_playing(tmp_path) as b:
            heard = len(b.listener.frames)
            started = trio.current_time()
            b.proc.send_signal(signal.SIGTERM)
            code = await b.proc.wait()
            elapsed = trio.current_time() - started
            output = b.output()
            assert code == 0, output[-3000:]
            assert elapsed < SHUTDOWN_TIMEOUT, elapsed

            # Silence frames ended the audio, and nothing came after them.
            tail = [f.opus for f in b.listener.frames[heard:]]
            assert len(tail) >= 5 and tail[-5:] == [SILENCE_FRAME] * 5, len(tail)

            # The bot left voice (op 4 with no channel reached the gateway before it closed),
            # and closed the gateway with a code that keeps its session resumable.
            world = b.emu.world
            assert world.voice_channel_of(b.guild_id, world.bot_user_id) is None
            closes = [c.client_close_code for c in b.emu.gateway.connections]
            assert closes[-1] == 4900, closes

            # The session snapshot is on disk (the SQLite file), with the queue and a position.
            db = sqlite3.connect(b.data_dir / "musicbot.sqlite3")
            try:
                row = db.execute(
                    "SELECT data FROM sessions WHERE guild_id = ?", (b.guild_id,)
                ).fetchone()
            finally:
                db.close()
            stored = json.loads(row[0])
            snapshot = stored["data"]
            assert snapshot["voice_channel_id"] == b.lounge
            assert "long" in json.dumps(snapshot["queue"])
            assert snapshot["position"] > 1.0

            # Every ffmpeg the bot started has been reaped.
            assert not [p for p in b.ffmpeg if alive(p)]
            # Logs were flushed up to the last line.
            assert '"bot_stopped_cleanly"' in output
            # Once started, the command line froze its start-up heap out of full collections.
            frozen = [
                json.loads(line)
                for line in output.splitlines()
                if line.startswith("{") and '"heap_frozen"' in line
            ]
            assert len(frozen) == 1 and frozen[0]["objects"] > 10_000, frozen
            # ... and its heap keeper took over the decision to run full collections.
            assert '"heap_keeper_started"' in output


async def test_a_second_signal_forces_the_exit(tmp_path: Path) -> None:
    with trio.fail_after(90):
        async with bot_playing(tmp_path) as b:
            started = trio.current_time()
            b.proc.send_signal(signal.SIGTERM)
            b.proc.send_signal(signal.SIGINT)  # before the graceful stop (>100 ms) is done
            code = await b.proc.wait()
            elapsed = trio.current_time() - started
            output = b.output()
            assert code == 1, output[-3000:]
            assert elapsed < SHUTDOWN_TIMEOUT, elapsed
            assert '"shutdown_forced"' in output
            assert '"bot_stopped_cleanly"' not in output
            assert not [p for p in b.ffmpeg if alive(p)]  # cancelled players still reap
