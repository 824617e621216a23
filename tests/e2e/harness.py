"""A whole stack on 127.0.0.1: the emulator (gateway, REST, voice with a libdave listener),
a media server with generated tones, and the bot itself, as ``python -m musicbot`` builds it."""

from __future__ import annotations

import array
import functools
import itertools
import subprocess
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import imageio_ffmpeg
import trio

from musicbot.app import App, serve
from musicbot.emulator.media import Tone, open_media_server
from musicbot.emulator.recording import ogg_opus
from musicbot.emulator.server import Emulator, open_emulator
from musicbot.emulator.voice import VoiceServer
from musicbot.emulator.voice_call import Listener
from musicbot.emulator.world import Guild, Member, World
from musicbot.models.media import SILENCE_FRAME
from tests.rest.helpers import spec_response_validator, spec_validator

TONES = (
    Tone(name="a440", title="Tone A440", frequency=440.0, duration=6.0, format="webm"),
    Tone(name="e660", title="Tone E660", frequency=660.0, duration=6.0, format="mp3"),
    Tone(name="c880", title="Tone C880", frequency=880.0, duration=4.0, format="ogg"),
)


@attrs.define(eq=False)
class Stack:
    emu: Emulator
    voice: VoiceServer
    media: Any
    app: App
    guild: Guild
    text_channel: int
    voice_channel: int
    user: Member
    listener: Listener
    data_dir: Path

    def play(self, query: str, *, locale: str | None = None, name: str = "play") -> Any:
        return self.emu.command(
            self.guild.id,
            self.user.user_id,
            name,
            {"query": query},
            channel_id=self.text_channel,
            locale=locale,
        )

    def command(self, name: str, options: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        kw.setdefault("channel_id", self.text_channel)
        return self.emu.command(self.guild.id, self.user.user_id, name, options or {}, **kw)

    async def answer(self, record: Any) -> str:
        """The text the bot answered ``record`` with (callback, or edit after a defer)."""
        assert self.emu.rest is not None
        rest = self.emu.rest
        with trio.fail_after(20):
            while True:
                state = rest.interactions.get(record.id)
                text = _text_of(state) if state is not None else None
                if text:
                    return text
                await rest.wait_for_change()

    async def frames(self, count: int) -> list[Any]:
        return await self.voice.wait_for_frames(self.listener, count)


def _text_of(state: Any) -> str | None:
    bodies: list[Any] = []
    if getattr(state, "original", None):
        bodies.append(state.original)
    for cb in getattr(state, "callbacks", ()):
        data = cb.get("data") if isinstance(cb, dict) else None
        if data:
            bodies.append(data)
    for body in bodies:
        if isinstance(body, dict):
            if body.get("content"):
                return str(body["content"])
            embeds = body.get("embeds") or []
            if embeds:
                return (
                    str(embeds[0].get("title", "")) + "\n" + str(embeds[0].get("description", ""))
                )
    return None


def decode_pcm(packets: list[bytes]) -> array.array[int]:
    """Decode Opus packets (as received) to mono 48 kHz s16 PCM with the bundled ffmpeg."""
    return decode_ogg(ogg_opus([p for p in packets if p != SILENCE_FRAME]))


def decode_ogg(ogg: bytes) -> array.array[int]:
    """Decode an Ogg Opus file's bytes to mono 48 kHz s16 PCM with the bundled ffmpeg."""
    out = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", "pipe:0",
         "-ac", "1", "-ar", "48000", "-f", "s16le", "pipe:1"],
        input=ogg, capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    pcm = array.array("h")
    pcm.frombytes(out)
    return pcm


def dominant_frequency(pcm: array.array[int], rate: int = 48_000) -> float:
    """Frequency of a pure tone from its zero crossings (skips the first 100 ms)."""
    samples = pcm[rate // 10 :]
    crossings = sum(1 for a, b in itertools.pairwise(samples) if (a < 0) != (b < 0))
    return crossings / 2 / (len(samples) / rate)


def validating() -> dict[str, Any]:
    """``rest_options`` for ``open_emulator``: Discord's OpenAPI checks every request body the
    bot sends and every answer the emulator gives (see :func:`assert_discord_shapes`)."""
    return {"validator": spec_validator(), "response_validator": spec_response_validator()}


def assert_discord_shapes(emu: Emulator) -> None:
    """Every body the bot sent is what Discord's OpenAPI description allows, every answer the
    emulator gave it is what Discord's would look like, and no rate limit was broken."""
    assert emu.rest is not None
    assert emu.rest.validation_errors == [], emu.rest.validation_errors
    assert emu.rest.response_errors == [], emu.rest.response_errors
    assert emu.rest.rate_limit_violations == [], emu.rest.rate_limit_violations


@asynccontextmanager
async def stack(
    tmp_path: Path,
    *,
    config: Mapping[str, Mapping[str, Any]] | None = None,
    guild_locale: str = "en-US",
    with_user_in_voice: bool = True,
    before_bot: Callable[[Emulator], None] | None = None,
    extra_extractors: tuple[type, ...] = (),
    tones: tuple[Tone, ...] = TONES,
    member_permissions: bool = True,
) -> AsyncIterator[Stack]:
    """The whole stack; ``member_permissions=False`` leaves ``member.permissions`` out of
    interactions, as Discord-compatible servers do."""
    media_dir = tmp_path / "media"
    data_dir = tmp_path / "data"
    voice = VoiceServer(heartbeat_interval_ms=2_000.0)
    async with (
        open_media_server(media_dir, tones) as media,
        open_emulator(
            world=World(member_permissions=member_permissions),
            voice_backend=voice,
            heartbeat_interval=5.0,
            rest_options=validating(),
        ) as emu,
    ):
        guild = emu.world.add_guild(
            "Phòng nhạc",
            text_channels=("music",),
            voice_channels=("Lounge", "Quiet"),
            locale=guild_locale,
        )
        channels = list(guild.channels.values())
        text = next(c.id for c in channels if c.name == "music")
        voice_ch = next(c.id for c in channels if c.name == "Lounge")
        user = emu.world.add_member(guild.id, "listener")
        listener = voice.add_listener(guild_id=guild.id, channel_id=voice_ch, user_id=user.user_id)
        if with_user_in_voice:
            emu.world.move_member(guild.id, user.user_id, voice_ch)
        if before_bot is not None:
            before_bot(emu)
        extra: dict[str, dict[str, Any]] = {
            "extractor": {
                "allow_private_addresses": True,
                "allowed_domains": ["*"],
                "search_provider": media.search_template,  # the media server's local search
                "related_provider": media.related_template,  # its related tracks (autoplay)
            },
            "storage": {"data_dir": str(data_dir)},
            "log": {"level": "warning"},
            "lyrics": {"api_base": media.lyrics_api_base},  # as the demo has it, offline
        }
        for section, values in (config or {}).items():
            extra.setdefault(section, {}).update(values)
        cfg = emu.bot_config(extra)
        async with trio.open_nursery() as nursery:
            app: App = await nursery.start(
                functools.partial(serve, cfg, extra_extractors=extra_extractors)
            )
            with trio.fail_after(20):
                await app.ready.wait()
                await app.commands_synced.wait()
            yield Stack(
                emu=emu,
                voice=voice,
                media=media,
                app=app,
                guild=guild,
                text_channel=text,
                voice_channel=voice_ch,
                user=user,
                listener=listener,
                data_dir=data_dir,
            )
            app.request_stop()
        assert_discord_shapes(emu)


def subcommand(sub: str, /, **options: Any) -> list[dict[str, Any]]:
    """Discord's option list for ``/<command> <name> key=value ...`` (types inferred)."""
    nested: list[dict[str, Any]] = []
    for key, value in options.items():
        if isinstance(value, bool):
            kind = 5
        elif isinstance(value, int):
            kind = 4
        else:
            kind, value = 3, str(value)
        nested.append({"name": key, "type": kind, "value": value})
    return [{"name": sub, "type": 1, "options": nested}]


def custom_ids(s: Stack, record: Any) -> list[str]:
    """The custom ids of the buttons in the bot's answer to ``record``."""
    assert s.emu.rest is not None
    state = s.emu.rest.interactions[record.id]
    bodies = [cb.get("data") or {} for cb in state.callbacks if isinstance(cb, dict)]
    if state.original:
        bodies.append(state.original)
    return [
        c["custom_id"]
        for body in bodies
        for row in body.get("components") or ()
        for c in row.get("components") or ()
        if "custom_id" in c
    ]
