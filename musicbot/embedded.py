"""``make run`` without a token: the local Discord, the bot and a console, in one process.

The emulator runs a demo guild with a text channel and a voice channel in which "you" (the
operator) sit, with a libdave listener standing in for your Discord client: everything the bot
sends is decrypted end to end and written to an Ogg Opus file you can play.  A media server
serves a few generated demo tracks.  You type slash commands; the bot's replies and channel
messages are printed as they arrive.

This is composition (it starts the bot), so it lives beside ``musicbot.app``, not inside the
emulator package, which stays an independent peer of the bot.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TextIO

import attrs
import structlog
import trio

from musicbot.app import App, serve
from musicbot.commands.definitions import BY_NAME
from musicbot.config import Config, Secret
from musicbot.emulator.media import open_media_server
from musicbot.emulator.recording import ogg_opus
from musicbot.emulator.server import Emulator, open_emulator
from musicbot.emulator.voice import VoiceServer
from musicbot.emulator.voice_call import Listener
from musicbot.models.media import SILENCE_FRAME

log = structlog.get_logger(__name__)

MANAGE_GUILD: Final = 1 << 5
SUB_COMMAND: Final = 1
RECORD_EVERY: Final = 5.0  # seconds between rewrites of the recording while audio arrives
RECORDING_NAME: Final = "emulator-recording.ogg"

HELP: Final = """\
Type slash commands as you would in Discord, for example:
  /play <link or search words>      /pause   /resume   /skip   /queue   /nowplaying
  /volume 50    /repeat queue    /seek 1:30    /playlist save favourites
  /press np:skip                    press a button of the now-playing message
  /help                             this text;   /quit (or Ctrl-D) stops everything
Options go in order, or as name=value: /move from=3 to=1"""


@attrs.define(eq=False)
class Console:
    emu: Emulator
    voice: VoiceServer
    guild_id: int
    text_channel: int
    voice_channel: int
    user_id: int
    listener: Listener
    out: TextIO
    recording: Path
    seen: dict[str, str] = attrs.field(factory=dict)

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def parse(self, line: str) -> tuple[str, dict[str, Any]] | None:
        """``/name [sub] args…`` → (name path, options) using the command definitions."""
        try:
            words = shlex.split(line.lstrip("/"))
        except ValueError as exc:
            self.say(f"! {exc}")
            return None
        if not words:
            return None
        command = BY_NAME.get(words[0])
        if command is None:
            self.say(f"! unknown command /{words[0]} (try /help)")
            return None
        spec = command.to_json()
        options = list(spec.get("options", []))
        path = [words[0]]
        rest = words[1:]
        if options and options[0].get("type") == SUB_COMMAND:
            subs = {o["name"]: o for o in options}
            if not rest or rest[0] not in subs:
                self.say(f"! /{words[0]} needs one of: {', '.join(subs)}")
                return None
            path.append(rest[0])
            options = list(subs[rest[0]].get("options", []))
            rest = rest[1:]
        values: dict[str, Any] = {}
        positional = [w for w in rest if "=" not in w or w.startswith(("http://", "https://"))]
        for word in rest:
            if word not in positional:
                key, _, value = word.partition("=")
                values[key] = value
        # Words fill the required options in order (the last takes the rest, so a query or a
        # name may contain spaces); optional ones only when a command has nothing required.
        unset = [o for o in options if o["name"] not in values]
        free = [o for o in unset if o.get("required")] or unset
        for i, opt in enumerate(free):
            if i >= len(positional):
                break
            last = i == len(free) - 1
            values[opt["name"]] = " ".join(positional[i:]) if last else positional[i]
        typed: dict[str, Any] = {}
        kinds = {o["name"]: o.get("type") for o in options}
        for key, value in values.items():
            kind = kinds.get(key)
            if kind == 4:  # INTEGER
                try:
                    typed[key] = int(value)
                except ValueError:
                    self.say(f"! {key} must be a whole number")
                    return None
            elif kind == 5:  # BOOLEAN
                typed[key] = str(value).lower() in ("1", "true", "yes", "on")
            else:
                typed[key] = value
        return " ".join(path), typed

    def run_line(self, line: str) -> bool:
        """Act on one typed line; False means quit."""
        line = line.strip()
        if not line:
            return True
        if line in ("/quit", "/exit", "quit", "exit"):
            return False
        if line in ("/help", "help", "?"):
            self.say(HELP)
            return True
        if line.startswith("/press "):
            custom_id = line.split(None, 1)[1].strip()
            self.emu.component(self.guild_id, self.user_id, custom_id, channel_id=self.text_channel)
            return True
        parsed = self.parse(line)
        if parsed is None:
            return True
        name, options = parsed
        head, *sub = name.split(" ")
        if sub:
            payload = [{"type": SUB_COMMAND, "name": sub[0], "options": _options(options)}]
            self.emu.command(
                self.guild_id, self.user_id, head, payload, channel_id=self.text_channel
            )
        else:
            self.emu.command(
                self.guild_id, self.user_id, head, options, channel_id=self.text_channel
            )
        return True

    def render_new(self) -> None:
        """Print every new or edited message of the channel (interaction answers included:
        the emulator, like Discord, turns them into channel messages)."""
        rest = self.emu.rest
        if rest is None:
            return
        for message in list(rest.messages.get(self.text_channel, [])):
            key = str(message.get("id"))
            text = render(message)
            if text and self.seen.get(key) != text:
                edited = key in self.seen
                self.seen[key] = text
                private = " (only you)" if int(message.get("flags") or 0) & 64 else ""
                self.say(f"[#music{private}{' edited' if edited else ''}] {text}")

    def save_recording(self) -> int:
        packets = [f.opus for f in self.listener.frames if f.opus != SILENCE_FRAME]
        if packets:
            self.recording.write_bytes(ogg_opus(packets))
        return len(packets)


def _options(values: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, value in values.items():
        kind = 4 if isinstance(value, int) and not isinstance(value, bool) else 3
        kind = 5 if isinstance(value, bool) else kind
        out.append({"name": name, "type": kind, "value": value})
    return out


def render(body: Any) -> str:
    """A message body as one or a few plain lines."""
    if not isinstance(body, dict):
        return ""
    parts: list[str] = []
    if body.get("content"):
        parts.append(str(body["content"]))
    for embed in body.get("embeds") or []:
        for field in ("title", "description"):
            if embed.get(field):
                parts.append(str(embed[field]))
        for f in embed.get("fields") or []:
            parts.append(f"{f.get('name')}: {f.get('value')}")
        footer = (embed.get("footer") or {}).get("text")
        if footer:
            parts.append(str(footer))
    buttons = [
        c.get("custom_id")
        for row in body.get("components") or []
        for c in row.get("components", [])
        if c.get("custom_id")
    ]
    if buttons:
        parts.append("buttons: " + " ".join(f"[{b}]" for b in buttons))
    return "\n    ".join(parts)


async def _read_lines(console: Console, stdin_fd: int) -> None:
    """Until /quit or end of input."""
    stream = trio.lowlevel.FdStream(os.dup(stdin_fd))
    buffer = b""
    async with stream:
        while True:
            chunk = await stream.receive_some(4096)
            if not chunk:
                return
            buffer += chunk
            while b"\n" in buffer:
                raw, buffer = buffer.split(b"\n", 1)
                if not console.run_line(raw.decode("utf-8", "replace")):
                    return


async def _printer(console: Console) -> None:
    rest = console.emu.rest
    assert rest is not None
    while True:
        console.render_new()
        await rest.wait_for_change()


async def _recorder(console: Console) -> None:
    last = 0
    while True:
        await trio.sleep(RECORD_EVERY)
        if len(console.listener.frames) != last:
            last = len(console.listener.frames)
            await trio.to_thread.run_sync(console.save_recording)


def embedded_config(cfg: Config, emu: Emulator) -> Config:
    """The operator's config, pointed at the emulator, allowed to fetch the local demo media."""
    return attrs.evolve(
        cfg,
        discord=attrs.evolve(
            cfg.discord,
            api_base=emu.api_base,
            gateway_url=emu.gateway_url,
            token=Secret(emu.world.token),
            ca_file=emu.ca_file,  # the emulator's voice gateway speaks TLS with its own CA
            shard_count="auto",
            shard_ids="auto",
        ),
        extractor=attrs.evolve(
            cfg.extractor,
            allow_private_addresses=True,
            allowed_domains=(*cfg.extractor.allowed_domains, "127.0.0.1"),
        ),
    )


async def run_embedded_console(
    cfg: Config,
    *,
    on_app: Callable[[App], None] = lambda _app: None,
    stdin_fd: int | None = None,
    out: TextIO | None = None,
) -> None:
    data_dir = Path(await trio.Path(cfg.storage.data_dir).expanduser())
    await trio.Path(data_dir).mkdir(parents=True, exist_ok=True)
    voice = VoiceServer()
    async with (
        open_media_server(data_dir / "demo-media") as media,
        open_emulator(voice_backend=voice) as emu,
    ):
        guild = emu.world.add_guild(
            "Demo server", text_channels=("music",), voice_channels=("Lounge",)
        )
        channels = {c.name: c.id for c in guild.channels.values()}
        you = emu.world.add_member(guild.id, "you", permissions=MANAGE_GUILD)
        emu.world.move_member(guild.id, you.user_id, channels["Lounge"])
        listener = voice.add_listener(
            guild_id=guild.id, channel_id=channels["Lounge"], user_id=you.user_id
        )
        console = Console(
            emu=emu,
            voice=voice,
            guild_id=guild.id,
            text_channel=channels["music"],
            voice_channel=channels["Lounge"],
            user_id=you.user_id,
            listener=listener,
            out=out or sys.stdout,
            recording=data_dir / RECORDING_NAME,
        )
        async with trio.open_nursery() as nursery:
            app: App = await nursery.start(serve, embedded_config(cfg, emu))
            on_app(app)
            await app.ready.wait()
            console.say("musicbot is running against the local Discord emulator (no token set).")
            console.say("You are in the voice channel 'Lounge' of 'Demo server'. Demo tracks:")
            for title, link in media.demo_links():
                console.say(f"  {title}: {link}")
            console.say(f"What you would hear is written to {console.recording}")
            console.say(HELP)
            async with trio.open_nursery() as ui:
                ui.start_soon(_printer, console)
                ui.start_soon(_recorder, console)
                await _read_lines(console, sys.stdin.fileno() if stdin_fd is None else stdin_fd)
                ui.cancel_scope.cancel()
            app.request_stop()  # serve() ends after its graceful stop
            saved = await trio.to_thread.run_sync(console.save_recording)
            if saved:
                console.say(f"Saved {saved} received frames to {console.recording}")
