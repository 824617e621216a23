"""SIGTERM during playback, on the real command line (``python -m musicbot run``) as a process.

The emulator, its voice server with a libdave listener and the media server run in the test
process; the bot is a child process configured by a config.toml and ``DISCORD_TOKEN``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import trio

from musicbot.emulator.media import Tone, open_media_server
from musicbot.emulator.server import open_emulator
from musicbot.emulator.voice import VoiceServer
from musicbot.models.media import SILENCE_FRAME

# Long enough that ffmpeg is still running (held back by the player's bounded buffer) when the
# signal comes, so the test sees the shutdown reap it.
LONG_TONE = Tone(name="long", title="Long tone", frequency=440.0, duration=40.0, format="ogg")
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


def toml_config(path: Path, *, gateway: str, api: str, data_dir: Path) -> None:
    path.write_text(
        f"""
[discord]
gateway_url = "{gateway}"
api_base = "{api}"

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


async def test_sigterm_during_playback_snapshots_sends_silence_leaves_and_reaps(
    tmp_path: Path,
) -> None:
    voice = VoiceServer(heartbeat_interval_ms=2_000.0)
    with trio.fail_after(90):
        async with (
            open_media_server(tmp_path / "media", (LONG_TONE,)) as media,
            open_emulator(voice_backend=voice, heartbeat_interval=5.0) as emu,
        ):
            guild = emu.world.add_guild("Phòng nhạc", text_channels=("music",))
            text = guild.text_channel.id
            lounge = guild.voice_channel.id
            user = emu.world.add_member(guild.id, "listener")
            listener = voice.add_listener(
                guild_id=guild.id, channel_id=lounge, user_id=user.user_id
            )
            emu.world.move_member(guild.id, user.user_id, lounge)

            data_dir = tmp_path / "data"
            config_path = tmp_path / "config.toml"
            toml_config(config_path, gateway=emu.gateway_url, api=emu.api_base, data_dir=data_dir)
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
                    emu.command(
                        guild.id,
                        user.user_id,
                        "play",
                        {"query": media.media_url("long")},
                        channel_id=text,
                    )
                    await voice.wait_for_frames(listener, 100)  # two seconds of the tone
                    ffmpeg = {p for p, name in children(proc.pid).items() if "ffmpeg" in name}
                    assert ffmpeg, children(proc.pid)  # the source is still being decoded

                    heard = len(listener.frames)
                    started = trio.current_time()
                    proc.send_signal(signal.SIGTERM)
                    code = await proc.wait()
                    elapsed = trio.current_time() - started
                finally:
                    if proc.returncode is None:
                        proc.kill()
                        await proc.wait()
            output = log_path.read_text(encoding="utf-8", errors="replace")
            assert code == 0, output[-3000:]
            assert elapsed < SHUTDOWN_TIMEOUT, elapsed

            # Silence frames ended the audio, and nothing came after them.
            tail = [f.opus for f in listener.frames[heard:]]
            assert len(tail) >= 5 and tail[-5:] == [SILENCE_FRAME] * 5, len(tail)

            # The bot left voice (op 4 with no channel reached the gateway before it closed),
            # and closed the gateway with a code that keeps its session resumable.
            assert emu.world.voice_channel_of(guild.id, emu.world.bot_user_id) is None
            closes = [c.client_close_code for c in emu.gateway.connections]
            assert closes[-1] == 4900, closes

            # The session snapshot is on disk, with the queue and a position into the track.
            stored = json.loads((data_dir / "sessions" / f"{guild.id}.json").read_text())
            snapshot = stored["data"]
            assert snapshot["voice_channel_id"] == lounge
            assert "long" in json.dumps(snapshot["queue"])
            assert snapshot["position"] > 1.0

            # Every ffmpeg the bot started has been reaped.
            assert not [p for p in ffmpeg if alive(p)]
            # Logs were flushed up to the last line.
            assert '"bot_stopped_cleanly"' in output
