"""An ordinary discord.py 2.7 bot, run by tests/conformance/test_discordpy.py in its own venv.

It does not import musicbot or the emulator.  discord.py is unmodified; "pointing it at the
emulator" is setting two class attributes that discord.py reads its endpoints from:

* ``discord.http.Route.BASE`` (every REST call, including the webhook/interaction routes);
* ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` (a plain ``Client`` connects there and
  never asks ``GET /gateway/bot``; the resume URL comes from READY).

TLS trust for the voice gateway comes from ``SSL_CERT_FILE`` (OpenSSL's default verify paths,
which aiohttp's default SSL context loads), set by the test to the emulator's run-local CA.

The steps, each reported as one JSON line on stdout (``{"step": ..., ...}``): login
(``GET /users/@me``, ``GET /oauth2/applications/@me``), READY and the guild, a guild command
sync, ``/ping`` answered with a type-4 message, ``/slow`` answered with a defer and a follow-up,
then (with ``voice``) joining the voice channel, playing a tone through ffmpeg, disconnecting
and closing.  The configuration arrives as one JSON object on stdin (the token is not put on
the command line or in the environment).
"""

from __future__ import annotations

import asyncio
import json
import sys
import traceback
from typing import Any

import discord
import yarl
from discord import app_commands

STEP_TIMEOUT = 60.0


def report(step: str, **fields: Any) -> None:
    print(json.dumps({"step": step, **fields}), flush=True)


def main() -> int:
    cfg = json.loads(sys.stdin.read())
    discord.http.Route.BASE = cfg["api_base"]
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(cfg["gateway_url"])

    intents = discord.Intents.default()
    intents.voice_states = True
    client = discord.Client(intents=intents)
    tree = app_commands.CommandTree(client)
    guild = discord.Object(id=int(cfg["guild_id"]))
    slow_done = asyncio.Event()
    failures: list[str] = []

    @tree.command(name="ping", description="Answer at once", guild=guild)
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong")
        report("replied", interaction_id=str(interaction.id))

    @tree.command(name="slow", description="Defer, then follow up", guild=guild)
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        message = await interaction.followup.send("done", wait=True)
        report("followed_up", interaction_id=str(interaction.id), message_id=str(message.id))
        slow_done.set()

    async def scenario() -> None:
        await client.wait_until_ready()
        assert client.user is not None
        app = await client.application_info()
        found = client.get_guild(guild.id)
        report(
            "ready",
            user_id=str(client.user.id),
            user_name=client.user.name,
            application_id=str(app.id),
            guild_name=found.name if found else None,
            channels=sorted(c.name for c in found.channels) if found else [],
        )
        synced = await tree.sync(guild=guild)
        report("synced", commands={c.name: str(c.id) for c in synced})
        await asyncio.wait_for(slow_done.wait(), STEP_TIMEOUT)
        if cfg.get("voice"):
            assert found is not None
            channel = found.get_channel(int(cfg["voice_channel_id"]))
            assert isinstance(channel, discord.VoiceChannel), channel
            vc = await channel.connect(timeout=STEP_TIMEOUT, reconnect=False)
            report("voice_connected", dave=vc._connection.dave_protocol_version)
            source = discord.FFmpegOpusAudio(
                f"sine=frequency={cfg['frequency']}:duration={cfg['seconds']}",
                executable=cfg["ffmpeg"],
                before_options="-f lavfi",
            )
            finished = asyncio.Event()
            vc.play(source, after=lambda error: client.loop.call_soon_threadsafe(finished.set))
            await asyncio.wait_for(finished.wait(), STEP_TIMEOUT)
            report("played")
            await vc.disconnect()
            report("voice_disconnected")

    @client.event
    async def setup_hook() -> None:
        async def run() -> None:
            try:
                await asyncio.wait_for(scenario(), STEP_TIMEOUT * 3)
            except BaseException:
                failures.append(traceback.format_exc())
            finally:
                await client.close()

        client.loop.create_task(run())

    try:
        client.run(cfg["token"])  # discord.py logs to stderr, which the test shows on failure
    except BaseException:
        failures.append(traceback.format_exc())
    if failures:
        report("failed", error="\n".join(failures))
        return 1
    report("closed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
