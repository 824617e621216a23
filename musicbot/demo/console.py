"""The demo's console: slash commands typed as in Discord, the bot's messages printed.

Theory: the console is a second stand-in for a Discord client, beside the web page.  A line
is parsed by :mod:`musicbot.demo.commands` (names in English or Vietnamese) and injected as
the interaction Discord would dispatch, as the member you chose (``/as``) in the language you
chose (``/locale``).  Components are pressed by custom id or label (``/press``), select menus
are answered with ``/press <menu> <choice>`` or ``/pick <n>``.  Every new or edited message of
the text channel is printed once per change.

On a terminal the prompt is prompt_toolkit's (line editing, history kept in the data dir,
completion of commands, options, members and components); it runs in a worker thread (it
has its own asyncio loop) and everything printed meanwhile goes above the prompt.  Ctrl-C
or Ctrl-D at the prompt is ``/quit``.  Without a terminal, lines are read from the input.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final, TextIO

import attrs

from musicbot.demo import commands
from musicbot.emulator.recording import ogg_opus
from musicbot.emulator.server import Emulator
from musicbot.emulator.voice_call import Listener
from musicbot.emulator.world import DEMO_MEMBERS
from musicbot.models.media import SILENCE_FRAME

FLAG_EPHEMERAL: Final = 1 << 6
COMPONENT_BUTTON: Final = 2
COMPONENT_SELECT: Final = 3
LOCALES: Final = ("en-US", "vi")
QUIT: Final = ("/quit", "/exit", "quit", "exit")

HELP: Final = """\
Type slash commands as you would in Discord (Tab completes, ↑ recalls), for example:
  /play <link or search words>      /pause   /resume   /skip   /queue   /nowplaying
  /volume 50    /repeat queue    /seek 1:30    /playlist save favourites
  /phát …  /tạm-dừng …             every command also has its Vietnamese name
  /press np:skip   /press Skip      press a button (by custom id or label)
  /press <menu> <choice>, /pick 2   choose from a select menu (the latest one for /pick)
  /as dj | member | vi              act as another member (DJ, plain member, Vietnamese)
  /locale vi | en-US                your Discord language
  /help                             this text;   /quit, Ctrl-C or Ctrl-D stops everything
Options go in order, or as name=value: /move from=3 to=1"""


@attrs.frozen(kw_only=True)
class Component:
    message_id: int
    custom_id: str
    type: int
    label: str
    options: tuple[tuple[str, str], ...] = ()  # (value, label) of a select menu


def components_of(message: dict[str, Any]) -> Iterator[Component]:
    for row in message.get("components") or []:
        for c in row.get("components") or []:
            if not c.get("custom_id"):
                continue
            emoji = (c.get("emoji") or {}).get("name") or ""
            options = tuple(
                (str(o.get("value")), str(o.get("label"))) for o in c.get("options") or []
            )
            yield Component(
                message_id=int(message["id"]),
                custom_id=str(c["custom_id"]),
                type=int(c.get("type") or COMPONENT_BUTTON),
                label=" ".join(x for x in (emoji, str(c.get("label") or "")) if x),
                options=options,
            )


def render(body: Any) -> str:
    """A message body as one or a few plain lines."""
    if not isinstance(body, dict):
        return ""
    parts: list[str] = []
    if int(body.get("flags") or 0) & (1 << 7):
        parts.append("MusicBot is thinking…")
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
    buttons = []
    for c in components_of(body):
        if c.type == COMPONENT_SELECT:
            choices = "  ".join(f"{i}) {label}" for i, (_v, label) in enumerate(c.options, 1))
            parts.append(f"menu [{c.custom_id}]: {choices}   (/pick N)")
        else:
            buttons.append(f"[{c.label or c.custom_id}: {c.custom_id}]" if c.label else c.custom_id)
    if buttons:
        parts.append("buttons: " + " ".join(buttons))
    return "\n    ".join(parts)


@attrs.define(eq=False)
class Console:
    emu: Emulator
    guild_id: int
    text_channel: int
    listener: Listener
    out: TextIO
    recording: Path
    user_id: int = 0
    seen: dict[str, str] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        if not self.user_id:
            self.user_id = self.member_ids()[0]

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    # ------------------------------------------------------------------ who

    def member_ids(self) -> list[int]:
        guild = self.emu.world.guilds[self.guild_id]
        return [m.user_id for m in guild.members.values() if not m.bot]

    def members(self) -> list[tuple[str, int, str]]:
        """(key, user id, description) of each demo member."""
        guild = self.emu.world.guilds[self.guild_id]
        out = []
        for who, user_id in zip(DEMO_MEMBERS, self.member_ids(), strict=False):
            member = guild.members[user_id]
            out.append((who.key, user_id, f"{member.name}, {who.role}, {member.locale}"))
        return out

    @property
    def me(self) -> str:
        guild = self.emu.world.guilds[self.guild_id]
        member = guild.members[self.user_id]
        return f"{member.name} ({member.locale})"

    def act_as(self, who: str) -> None:
        guild = self.emu.world.guilds[self.guild_id]
        for key, user_id, text in self.members():
            if who.lower() in (key, guild.members[user_id].name.lower(), str(user_id)):
                self.user_id = user_id
                self.say(f"* you are now {text}")
                return
        options = ", ".join(f"{key} ({text})" for key, _, text in self.members())
        self.say(f"! no member {who!r}; choose one of: {options}")

    def set_locale(self, locale: str) -> None:
        wanted = {"en": "en-US", "en-us": "en-US", "vi": "vi"}.get(locale.lower())
        if wanted is None:
            self.say(f"! unknown locale {locale!r}; choose one of: {', '.join(LOCALES)}")
            return
        self.emu.world.guilds[self.guild_id].members[self.user_id].locale = wanted
        self.say(f"* {self.me}: Discord language set to {wanted}")

    # ------------------------------------------------------------------ components

    def components(self) -> list[Component]:
        """Every component of the channel's messages that you can see, newest message last."""
        rest = self.emu.rest
        if rest is None:
            return []
        out: list[Component] = []
        for message in list(rest.messages.get(self.text_channel, [])):
            if not self._visible(message):
                continue
            out.extend(components_of(message))
        return out

    def _visible(self, message: dict[str, Any]) -> bool:
        if not int(message.get("flags") or 0) & FLAG_EPHEMERAL:
            return True
        record = self.emu.world.interactions.get(int(message.get("interaction_id") or 0))
        return record is None or record.user_id == self.user_id

    def press(self, words: list[str]) -> None:
        """``/press <custom id or label> [choice]``: the newest component that matches."""
        if not words:
            self.say("! /press needs a button or menu, e.g. /press np:skip")
            return
        found = self.components()
        for take in range(len(words), 0, -1):  # a label may have spaces: longest match first
            key = " ".join(words[:take]).lower()
            match = [
                c
                for c in found
                if key in (c.custom_id.lower(), c.label.lower())
                or (c.label and c.label.lower().split(" ", 1)[-1] == key)
            ]
            if match:
                self._press(match[-1], words[take:])
                return
        self.say(f"! no button or menu {' '.join(words)!r} on the channel's messages")

    def pick(self, words: list[str]) -> None:
        menus = [c for c in self.components() if c.type == COMPONENT_SELECT]
        if not menus:
            self.say("! there is no select menu to pick from (try /search)")
            return
        self._press(menus[-1], words)

    def _press(self, c: Component, rest: list[str]) -> None:
        values: list[str] = []
        if c.type == COMPONENT_SELECT:
            choice = " ".join(rest)
            value = self._choice(c, choice)
            if value is None:
                listed = ", ".join(f"{i}) {label}" for i, (_v, label) in enumerate(c.options, 1))
                self.say(f"! choose one of: {listed}")
                return
            values = [value]
        self.emu.component(
            self.guild_id,
            self.user_id,
            c.custom_id,
            component_type=c.type,
            values=values,
            message_id=c.message_id,
            channel_id=self.text_channel,
        )

    @staticmethod
    def _choice(c: Component, choice: str) -> str | None:
        if choice.isdigit() and 1 <= int(choice) <= len(c.options):
            return c.options[int(choice) - 1][0]
        for value, label in c.options:
            if choice and choice.lower() in (value.lower(), label.lower()):
                return value
        return None

    # ------------------------------------------------------------------ lines

    def run_line(self, line: str) -> bool:
        """Act on one typed line; False means quit."""
        line = line.strip()
        if not line:
            return True
        if line in QUIT:
            return False
        try:
            words = shlex.split(line)
        except ValueError:
            words = line.split()
        head, rest = words[0].lower(), words[1:]
        if head in ("/help", "help", "?"):
            self.say(HELP)
        elif head == "/as":
            self.act_as(" ".join(rest)) if rest else self.say(f"* you are {self.me}")
        elif head == "/locale":
            self.set_locale(rest[0]) if rest else self.say(f"* {self.me}")
        elif head == "/press":
            self.press(rest)
        elif head == "/pick":
            self.pick(rest)
        elif not line.startswith("/"):
            self.say("! commands start with / (try /help)")
        else:
            self.command(line)
        return True

    def command(self, line: str) -> None:
        try:
            parsed = commands.parse(line)
        except commands.ParseError as exc:
            self.say(f"! {exc}")
            return
        self.emu.command(
            self.guild_id,
            self.user_id,
            parsed.name,
            parsed.payload(),
            channel_id=self.text_channel,
        )

    def completions(self, line: str) -> Iterable[tuple[str, str]]:
        """Console completion: commands and options, members, locales, components."""
        words = line.split()
        head = words[0].lower() if words else ""
        current = "" if line.endswith(" ") or not words else words[-1]
        if head == "/as" and (len(words) > 1 or line.endswith(" ")):
            return [(key, text) for key, _, text in self.members() if key.startswith(current)]
        if head == "/locale" and (len(words) > 1 or line.endswith(" ")):
            return [(loc, "") for loc in LOCALES if loc.lower().startswith(current.lower())]
        if head == "/press" and (len(words) > 1 or line.endswith(" ")):
            seen = dict.fromkeys(c.custom_id for c in reversed(self.components()))
            return [(cid, "") for cid in seen if cid.lower().startswith(current.lower())]
        return list(commands.completions(line))

    # ------------------------------------------------------------------ output

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
                private = " (only you)" if int(message.get("flags") or 0) & FLAG_EPHEMERAL else ""
                self.say(f"[#music{private}{' edited' if edited else ''}] {text}")

    def save_recording(self) -> int:
        packets = [f.opus for f in self.listener.frames if f.opus != SILENCE_FRAME]
        if packets:
            self.recording.write_bytes(ogg_opus(packets))
        return len(packets)
