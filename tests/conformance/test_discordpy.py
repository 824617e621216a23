"""An independent client proves the emulator: discord.py 2.7 (unmodified; see dpy_client.py for
the two endpoint attributes set) logs in, gets READY and the guild with heartbeats ACKed, syncs
guild commands, answers one interaction with a type-4 message and one with a defer plus a
follow-up, joins the voice channel over the TLS voice gateway (trusting the run's CA through
``SSL_CERT_FILE``), does DAVE with davey, plays a 440 Hz tone that the emulator's libdave
listener decrypts at the right frequency, disconnects and closes cleanly.

Every REST body discord.py sends is checked against Discord's OpenAPI description, and so is
every answer the emulator gives; the gateway refuses a connection without a User-Agent, and the
transport is compressed the way discord.py chooses (zstd-stream: zstandard is installed).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import trio

from musicbot.emulator.server import Emulator, open_emulator
from musicbot.emulator.voice import VoiceServer
from musicbot.models.media import SILENCE_FRAME
from tests.e2e.harness import decode_pcm, dominant_frequency
from tests.rest.helpers import spec_response_validator, spec_validator

HERE = Path(__file__).resolve().parent
CLIENT = HERE / "dpy_client.py"
PUT_GUILD_COMMANDS = "PUT /applications/{application_id}/guilds/{guild_id}/commands"
FOLLOWUP = "POST /webhooks/{webhook_id}/{webhook_token}"
TONE_HZ = 440.0
TONE_SECONDS = 3.0


def _child_env(ca_file: str) -> dict[str, str]:
    """A minimal environment: no inherited secrets, nothing of the project's venv; the voice
    gateway's CA as OpenSSL's default trust (what aiohttp's default SSL context loads)."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env["SSL_CERT_FILE"] = ca_file
    return env


def _steps(stdout: bytes) -> dict[str, dict[str, Any]]:
    steps: dict[str, dict[str, Any]] = {}
    for line in stdout.decode(errors="replace").splitlines():
        if line.startswith("{"):
            item = json.loads(line)
            steps[item.pop("step")] = item
    return steps


async def _drive(emu: Emulator, guild_id: int, user_id: int) -> dict[str, Any]:
    """Act as Discord's users: run /ping and /slow once discord.py has synced its commands."""
    rest = emu.rest
    assert rest is not None
    await emu.gateway.wait_connected(0)
    await rest.wait_for_request(lambda r: r.route == PUT_GUILD_COMMANDS)
    ping = emu.command(guild_id, user_id, "ping")
    await rest.wait_for_interaction_response(ping.id)
    slow = emu.command(guild_id, user_id, "slow")
    await rest.wait_for_request(lambda r: r.route == FOLLOWUP and r.status == 200)
    return {"ping": ping, "slow": slow}


async def test_discordpy_against_the_emulator(discordpy_python: Path) -> None:
    options = {"validator": spec_validator(), "response_validator": spec_response_validator()}
    stdout = b""
    stderr = b""
    voice = VoiceServer(heartbeat_interval_ms=2_000.0)
    with trio.fail_after(150):
        async with open_emulator(
            heartbeat_interval=1.0,
            require_user_agent=True,
            rest_options=options,
            voice_backend=voice,
        ) as emu:
            guild = emu.world.add_guild("Conformance", voice_channels=("Music",))
            user = emu.world.add_member(guild.id, "tester")
            music = guild.voice_channel.id
            listener = voice.add_listener(guild_id=guild.id, channel_id=music, user_id=user.user_id)
            emu.world.move_member(guild.id, user.user_id, music)
            config = {
                "api_base": emu.api_base,
                "gateway_url": emu.gateway_url,
                "token": emu.world.token,
                "guild_id": str(guild.id),
                "voice": True,
                "voice_channel_id": str(music),
                "frequency": TONE_HZ,
                "seconds": TONE_SECONDS,
                "ffmpeg": imageio_ffmpeg.get_ffmpeg_exe(),
            }
            driven: dict[str, Any] = {}
            async with trio.open_nursery() as nursery:
                drive_scope = trio.CancelScope()

                async def drive() -> None:
                    with drive_scope:
                        driven.update(await _drive(emu, guild.id, user.user_id))

                async def child() -> None:
                    nonlocal stdout, stderr
                    done = await trio.run_process(
                        [str(discordpy_python), str(CLIENT)],
                        stdin=json.dumps(config).encode(),
                        capture_stdout=True,
                        capture_stderr=True,
                        check=False,
                        env=_child_env(emu.ca_file),
                    )
                    stdout, stderr = done.stdout, done.stderr
                    drive_scope.cancel()  # the client has gone: stop acting for it

                nursery.start_soon(drive)
                nursery.start_soon(child)
            rest = emu.rest
            assert rest is not None
            report = stderr.decode(errors="replace")[-6000:]
            steps = _steps(stdout)
            assert "closed" in steps, (steps, report)
            assert driven, ("the scenario did not finish", steps, report)

            # Login: both identity routes, with discord.py's User-Agent, answered as Discord.
            routes = [r.route for r in rest.requests]
            assert "GET /users/@me" in routes and "GET /oauth2/applications/@me" in routes
            # (discord.py's webhook adapter, used for interaction routes, sends aiohttp's own.)
            agents = {
                (r.route, r.user_agent)
                for r in rest.requests
                if not r.path.startswith(("/interactions/", "/webhooks/"))
            }
            assert all(a.startswith("DiscordBot (") for _, a in agents), agents
            ready = steps["ready"]
            assert ready["user_id"] == str(emu.world.bot_user_id)
            assert ready["application_id"] == str(emu.world.application_id)
            assert ready["guild_name"] == "Conformance"
            assert ready["channels"] == ["Music", "general"]

            # One session, heartbeats ACKed (no reconnect), compressed as discord.py asked.
            assert len(emu.gateway.identifies) == 1 and emu.gateway.resumes == []
            conn = emu.gateway.connections[0]
            assert conn.compression == "zstd-stream", conn.compression
            assert conn.user_agent.startswith("DiscordBot (")
            assert conn.heartbeats >= 1
            # client.close() ends with a close frame of its own: 1000, or 4000 when aiohttp's
            # session closes the socket first (discord.py's DiscordClientWebSocketResponse
            # defaults close() to 4000, gateway.py), which leaves the session resumable.
            assert conn.client_close_code in (1000, 4000), (conn.client_close_code, report)
            assert conn.server_close_code is None

            # Command sync, and the ids discord.py got back are the ones interactions carry.
            assert set(steps["synced"]["commands"]) == {"ping", "slow"}
            ping, slow = driven["ping"], driven["slow"]
            assert ping.payload["data"]["id"] == steps["synced"]["commands"]["ping"]
            assert ping.payload["data"]["guild_id"] == str(guild.id)

            # A type-4 reply, and a defer whose follow-up became the original response.
            ping_state = rest.interactions[ping.id]
            assert [c["type"] for c in ping_state.callbacks] == [4]
            assert ping_state.original is not None and ping_state.original["content"] == "pong"
            slow_state = rest.interactions[slow.id]
            assert [c["type"] for c in slow_state.callbacks] == [5]
            assert slow_state.original is not None and slow_state.original["content"] == "done"
            assert steps["followed_up"]["message_id"] == slow_state.original["id"]

            # Voice: TLS gateway, DAVE, and the tone heard through libdave.
            assert steps["voice_connected"]["dave"] >= 1
            assert voice.identifies and voice.identifies[0]["max_dave_protocol_version"] >= 1
            frames = [f for f in listener.frames if f.sender_id == emu.world.bot_user_id]
            # DAVE leaves Opus silence frames in the clear; every audio frame is end-to-end.
            audio = [f for f in frames if f.opus != SILENCE_FRAME]
            assert audio and all(f.e2ee for f in audio), [f.opus for f in frames if not f.e2ee]
            heard = decode_pcm([f.opus for f in frames])
            assert len(heard) >= 48_000 * TONE_SECONDS * 0.8
            assert abs(dominant_frequency(heard) - TONE_HZ) < TONE_HZ * 0.03
            assert "voice_disconnected" in steps
            assert emu.world.voice_channel_of(guild.id, emu.world.bot_user_id) is None

            assert rest.validation_errors == [], rest.validation_errors
            assert rest.response_errors == [], rest.response_errors
            assert rest.rate_limit_violations == [], rest.rate_limit_violations
