"""A web page standing in for the Discord client of the demo (127.0.0.1 only).

Theory: the page is a thin client of the emulator, as a Discord client is of Discord.  It
shows the demo guild's text channel (the messages the bot created or edited through the
emulator's REST store, re-sent whenever the store changes) and its voice channel (who is in
it, and what the libdave listener decrypted, as a live Ogg Opus stream, :mod:`.stream`).
What the user does becomes what Discord would dispatch: a typed slash command becomes an
APPLICATION_COMMAND interaction (names in either language mapped onto the bot's own
definitions, :mod:`musicbot.demo.commands`), a value being typed into an autocomplete option
becomes an
APPLICATION_COMMAND_AUTOCOMPLETE interaction whose answer (callback type 8) the page shows as
suggestions, and a click on a button or a pick in a select menu becomes a MESSAGE_COMPONENT
interaction carrying the message it sits on.  The user picks which demo member they are.

Everything is served from the package (plain HTML, CSS and a little JavaScript); the server
is hypercorn on trio.  Bad requests get a 4xx with a reason and change nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any, Final

import attrs
import structlog
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from musicbot.demo import commands
from musicbot.demo.stream import TICK, OggOpusWriter, catch_up
from musicbot.emulator.asgi import serve_lifespan
from musicbot.emulator.server import Emulator
from musicbot.emulator.voice_call import Listener
from musicbot.emulator.world import DEMO_MEMBERS

log = structlog.get_logger(__name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]

STATIC: Final = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/app.css": ("app.css", "text/css; charset=utf-8"),
}
MAX_BODY: Final = 64 * 1024
POLL_SECONDS: Final = 25.0  # a long poll answers "nothing new" after this long
AUTOCOMPLETE_SECONDS: Final = 3.0  # Discord gives a bot 3 s to answer
FLAG_EPHEMERAL: Final = 1 << 6
COMPONENT_BUTTON: Final = 2


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@attrs.define(eq=False)
class DemoWeb:
    """The page's server: state of the demo as the page sees it, and the ASGI app."""

    emu: Emulator
    guild_id: int
    text_channel: int
    voice_channel: int
    listener: Listener
    demo_links: list[tuple[str, str]]
    version: int = 0
    url: str = ""
    _changed: trio.Event = attrs.field(factory=trio.Event)

    # ------------------------------------------------------------------ state

    def bump(self) -> None:
        self.version += 1
        self._changed.set()
        self._changed = trio.Event()

    async def watch(self) -> None:
        """Bump the version on every REST request and every dispatch (voice states)."""
        rest = self.emu.rest
        assert rest is not None
        unsubscribe = self.emu.world.subscribe(lambda _g, _n, _d: self.bump())
        try:
            while True:
                await rest.wait_for_change()
                self.bump()
        finally:
            unsubscribe()

    def members(self) -> list[dict[str, Any]]:
        guild = self.emu.world.guilds[self.guild_id]
        humans = [m for m in guild.members.values() if not m.bot]
        out = []
        for who, member in zip(DEMO_MEMBERS, humans, strict=False):
            out.append(
                {
                    "id": str(member.user_id),
                    "key": who.key,
                    "name": member.name,
                    "role": who.role,
                    "locale": member.locale,
                }
            )
        return out

    def voice(self) -> list[dict[str, Any]]:
        guild = self.emu.world.guilds[self.guild_id]
        out = []
        for vs in guild.voice_states.values():
            if vs.channel_id == self.voice_channel and vs.user_id in guild.members:
                member = guild.members[vs.user_id]
                out.append({"id": str(member.user_id), "name": member.name, "bot": member.bot})
        return out

    def messages(self) -> list[dict[str, Any]]:
        rest = self.emu.rest
        assert rest is not None
        world = self.emu.world
        guild = world.guilds[self.guild_id]
        out = []
        for message in list(rest.messages.get(self.text_channel, [])):
            shown = {
                k: message.get(k)
                for k in ("id", "content", "embeds", "components", "flags", "edited_timestamp")
            }
            record = world.interactions.get(int(message.get("interaction_id") or 0))
            if record is not None:
                member = guild.members.get(record.user_id)
                data = record.payload.get("data") or {}
                shown["invoker"] = {
                    "id": str(record.user_id),
                    "name": member.name if member else "?",
                    "command": data.get("name") or "",
                }
                if int(message.get("flags") or 0) & FLAG_EPHEMERAL:
                    shown["visible_to"] = str(record.user_id)
            out.append(shown)
        return out

    def state(self) -> dict[str, Any]:
        guild = self.emu.world.guilds[self.guild_id]
        channels = {c.id: c.name for c in guild.channels.values()}
        return {
            "guild": guild.name,
            "text_channel": channels[self.text_channel],
            "voice_channel": channels[self.voice_channel],
            "members": self.members(),
            "commands": list(commands.SPECS),
            "demo_tracks": [{"title": t, "url": u} for t, u in self.demo_links],
        }

    def snapshot(self) -> dict[str, Any]:
        return {"version": self.version, "messages": self.messages(), "voice": self.voice()}

    # ------------------------------------------------------------------ actions

    def _member(self, body: dict[str, Any]) -> int:
        try:
            user_id = int(body.get("member", ""))
        except (TypeError, ValueError):
            raise BadRequest(400, "member must be a member id") from None
        if user_id not in {int(m["id"]) for m in self.members()}:
            raise BadRequest(404, "no such member")
        return user_id

    def _locale(self, user_id: int) -> str:
        return self.emu.world.guilds[self.guild_id].members[user_id].locale

    def command(self, body: dict[str, Any]) -> dict[str, Any]:
        user_id = self._member(body)
        try:
            parsed = commands.parse(str(body.get("line", "")))
        except commands.ParseError as exc:
            raise BadRequest(400, str(exc)) from None
        record = self.emu.command(
            self.guild_id,
            user_id,
            parsed.name,
            parsed.payload(),
            channel_id=self.text_channel,
        )
        return {"interaction": str(record.id), "command": parsed.path}

    async def autocomplete(self, body: dict[str, Any]) -> dict[str, Any]:
        """Suggestions for the option being typed: the bot's answer, or an option's choices."""
        user_id = self._member(body)
        try:
            parsed = commands.parse(str(body.get("line", "")), partial=True)
        except commands.ParseError:
            return {"choices": []}
        spec = next((o for o in parsed.option_specs if o["name"] == parsed.focused), None)
        if spec is None:
            return {"choices": []}
        values = {k: v for k, v in parsed.values.items() if k != spec["name"]}
        if spec.get("choices"):
            locale = self._locale(user_id)
            return {
                "option": spec["name"],
                "values": values,
                "choices": [
                    {"name": commands.display_name(c, locale), "value": c["value"]}
                    for c in spec["choices"]
                ],
            }
        if not spec.get("autocomplete"):
            return {"option": spec["name"], "choices": []}
        rest = self.emu.rest
        assert rest is not None
        record = self.emu.command(
            self.guild_id,
            user_id,
            parsed.name,
            parsed.payload(focused=True),
            channel_id=self.text_channel,
            autocomplete=spec["name"],
        )
        with trio.move_on_after(AUTOCOMPLETE_SECONDS):
            answered = await rest.wait_for_interaction_response(record.id)
            callback = answered.callbacks[0] if answered.callbacks else {}
            choices = (callback.get("data") or {}).get("choices") or []
            return {"option": spec["name"], "values": values, "choices": choices}
        return {"option": spec["name"], "values": values, "choices": [], "timed_out": True}

    def component(self, body: dict[str, Any]) -> dict[str, Any]:
        user_id = self._member(body)
        custom_id = body.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            raise BadRequest(400, "custom_id is required")
        try:
            message_id = int(body.get("message_id", ""))
        except (TypeError, ValueError):
            raise BadRequest(400, "message_id must be a message id") from None
        rest = self.emu.rest
        assert rest is not None
        if not any(int(m["id"]) == message_id for m in rest.messages.get(self.text_channel, [])):
            raise BadRequest(404, "no such message")
        values = body.get("values") or []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise BadRequest(400, "values must be a list of strings")
        kind = int(body.get("component_type") or COMPONENT_BUTTON)
        record = self.emu.component(
            self.guild_id,
            user_id,
            custom_id,
            component_type=kind,
            values=values,
            message_id=message_id,
            channel_id=self.text_channel,
        )
        return {"interaction": str(record.id)}

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        try:
            if method == "GET" and path in STATIC:
                name, ctype = STATIC[path]
                body = resources.files("musicbot.demo").joinpath("static", name).read_bytes()
                await _respond(send, 200, body, ctype)
            elif method == "GET" and path == "/api/state":
                await _json(send, 200, self.state())
            elif method == "GET" and path == "/api/messages":
                await self._poll(scope, send)
            elif method == "GET" and path == "/audio.ogg":
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(_until_disconnect, receive, nursery.cancel_scope)
                    await self._audio(send)
            elif method == "POST" and path in ("/api/command", "/api/component"):
                request = await _read_json(receive)
                act = self.command if path == "/api/command" else self.component
                await _json(send, 200, act(request))
            elif method == "POST" and path == "/api/autocomplete":
                await _json(send, 200, await self.autocomplete(await _read_json(receive)))
            else:
                raise BadRequest(404, f"nothing at {method} {path}")
        except BadRequest as exc:
            await _json(send, exc.status, {"error": str(exc)})

    async def _poll(self, scope: dict[str, Any], send: Send) -> None:
        query = scope.get("query_string", b"").decode("latin-1")
        after = -1
        for part in query.split("&"):
            key, _, value = part.partition("=")
            if key == "after" and value.lstrip("-").isdigit():
                after = int(value)
        with trio.move_on_after(POLL_SECONDS):
            while self.version == after:
                await self._changed.wait()
        await _json(send, 200, self.snapshot())

    async def _audio(self, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"audio/ogg"),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        writer = OggOpusWriter()
        await send({"type": "http.response.body", "body": writer.header(), "more_body": True})
        start = trio.current_time()
        index = len(self.listener.frames)
        while True:
            await trio.sleep(TICK)
            frames = self.listener.frames
            if len(frames) < index:  # the listener started over
                index = 0
            fresh = [f.opus for f in frames[index:]]
            index = len(frames)
            chunk, _ = catch_up(writer, fresh, elapsed=trio.current_time() - start)
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})


async def _until_disconnect(receive: Receive, cancel: trio.CancelScope) -> None:
    """An endless response ends when its client goes away (ASGI's ``http.disconnect``)."""
    while (await receive())["type"] != "http.disconnect":
        pass
    cancel.cancel()


async def _read_json(receive: Receive) -> dict[str, Any]:
    chunks: list[bytes] = []
    size = 0
    while True:
        event = await receive()
        chunk = event.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise BadRequest(413, "request body too large")
        chunks.append(chunk)
        if not event.get("more_body", False):
            break
    try:
        body = json.loads(b"".join(chunks) or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(400, f"body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest(400, "body must be a JSON object")
    return body


async def _respond(send: Send, status: int, body: bytes, ctype: str) -> None:
    headers = [
        (b"content-type", ctype.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _json(send: Send, status: int, body: Any) -> None:
    await _respond(send, status, json.dumps(body).encode(), "application/json")


@asynccontextmanager
async def open_web_server(
    web: DemoWeb, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[DemoWeb]:
    """Serve the page on ``host``:``port`` until the block ends; ``web.url`` is its address."""
    config = HypercornConfig()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = None
    config.graceful_timeout = 0.0
    async with trio.open_nursery() as nursery:
        nursery.start_soon(web.watch)
        binds: list[str] = await nursery.start(serve, web, config)
        web.url = binds[0] + "/"
        log.info("demo_page_started", url=web.url)
        try:
            yield web
        finally:
            nursery.cancel_scope.cancel()
