"""A guild actor stack for tests without Discord: a real router, guild supervisor and guild
actor, a fake REST client recording what would reach Discord, an extractor that always fails
(no network) and a session restored so the queue holds four tracks (a440 playing)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import trio

from actors.events import EventBus
from actors.guild.actor import BotIdentity, GuildDeps
from actors.kit.supervisor import run_supervisor
from actors.ratelimit import UserRateLimiter
from actors.router import Router, RouterDeps, guild_supervisor_spec
from musicbot import config
from musicbot.extract.errors import ExtractionError, Reason
from musicbot.gateway.events import (
    GatewayDispatch,
    GuildCreate,
    InteractionCreate,
    InteractionData,
    VoiceStateUpdate,
)
from musicbot.models.queue import Queue
from musicbot.models.track import Track
from musicbot.storage import SessionSnapshot, Storage
from musicbot.voice.sender import VoiceSender

GUILD = 41
VOICE = 42
TEXT = 43
MEMBER = 44
BOT = 45
APP = 46
CALLBACK_TYPES_DEFERRED = (5, 6)


class FakeRest:
    """Records interaction calls by interaction id (the token names it)."""

    def __init__(self) -> None:
        self.calls: dict[int, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        self.messages = 0

    async def create_interaction_response(
        self, interaction_id: int, token: str, body: dict[str, Any], *, with_response: bool = False
    ) -> Any:
        self.calls[interaction_id].append(("callback", body))

    async def edit_original_response(
        self, application_id: int, token: str, body: dict[str, Any]
    ) -> Any:
        self.calls[int(token)].append(("edit", body))

    async def create_followup(self, application_id: int, token: str, body: dict[str, Any]) -> Any:
        self.calls[int(token)].append(("followup", body))

    async def create_message(self, channel_id: int, body: Mapping[str, Any]) -> Any:
        self.messages += 1
        return {"id": 1000 + self.messages}

    async def edit_message(self, channel_id: int, message_id: int, body: Mapping[str, Any]) -> Any:
        return {"id": message_id}

    async def get_gateway_bot(self) -> Any:
        return {"url": "ws://127.0.0.1:1", "shards": 1}

    def answered(self, interaction_id: int) -> bool:
        calls = self.calls.get(interaction_id, [])
        if not calls or calls[0][0] != "callback":
            return False
        if calls[0][1]["type"] in CALLBACK_TYPES_DEFERRED:
            return len(calls) > 1  # the deferral's edit (or a follow-up) came too
        return True


class FailingExtractor:
    """Every lookup fails the way a dead link does (no network in this test)."""

    async def extract(self, query: str, requester_id: int | None = None) -> Any:
        raise ExtractionError(reason=Reason.REMOVED, detail="fuzz")

    async def search(self, text: str, requester_id: int | None = None) -> Any:
        raise ExtractionError(reason=Reason.REMOVED, detail="fuzz")

    async def resolve(self, track: Track, *, force: bool = False) -> Track:
        raise ExtractionError(reason=Reason.REMOVED, detail="fuzz")


def _opener(request: Any) -> Any:
    raise AssertionError("nothing plays in this test (voice never connects)")


async def _no_voice(guild_id: int, channel_id: int | None, mute: bool, deaf: bool) -> None:
    return None


def _session() -> SessionSnapshot:
    queue = Queue(max_length=50)
    for i, name in enumerate(("a440", "e660", "c880", "g990")):
        queue.add(
            Track(
                title=name,
                webpage_url=f"https://example.com/{name}",
                stream_url=f"https://example.com/{name}.ogg",
                duration=120.0,
                entry_id=f"e{i}",
                requester_id=MEMBER,
            )
        )
    queue.advance()
    return SessionSnapshot(
        guild_id=GUILD,
        voice_channel_id=VOICE,
        text_channel_id=TEXT,
        queue=queue.snapshot(),
        position=3.0,
        repeat_mode="off",
        volume=100,
        stay_24_7=False,
        saved_at=0.0,
    )


@attrs.define
class Bench:
    router: Router
    rest: FakeRest
    guilds: Any
    extractor: FailingExtractor
    next_id: int = 5000

    def dispatch(
        self,
        name: Any,
        options: tuple[Any, ...],
        *,
        custom_id: str | None = None,
        values: tuple[str, ...] = (),
    ) -> tuple[int, InteractionCreate]:
        """A slash command, or with ``custom_id`` a component interaction (a button press or
        a select menu's ``values``)."""
        self.next_id += 1
        if custom_id is not None:
            data = InteractionData(custom_id=custom_id, component_type=2, values=values)
        else:
            data = InteractionData(name=name, command_type=1, options=options)
        event = InteractionCreate(
            id=self.next_id,
            application_id=APP,
            type=3 if custom_id is not None else 2,
            token=str(self.next_id),
            guild_id=GUILD,
            channel_id=TEXT,
            user_id=MEMBER,
            member_roles=(),
            member_permissions=1 << 5,  # a server manager: DJ-only and /settings pass the check
            locale="en-US",
            guild_locale=None,
            data=data,
        )
        return self.next_id, event

    async def send(
        self,
        name: Any,
        options: tuple[Any, ...] = (),
        *,
        answered: bool = True,
        custom_id: str | None = None,
        values: tuple[str, ...] = (),
    ) -> int:
        """Dispatch one interaction; wait until it is answered (or, with ``answered``
        False, only acknowledged: a deferral whose answer is still to come)."""
        ident, event = self.dispatch(name, options, custom_id=custom_id, values=values)
        await self.router.handle(GatewayDispatch(shard_id=0, seq=ident, event=event))
        with trio.fail_after(10):
            while not (self.rest.answered(ident) if answered else self.rest.calls.get(ident)):
                await trio.sleep(0.005)
        return ident

    async def queue_text(self) -> str:
        ident = await self.send("queue")
        body = self.rest.calls[ident][0][1]["data"]
        return repr(body.get("embeds"))


async def open_bench(root: Path, nursery: trio.Nursery, *, storage: Any = None) -> Bench:
    cfg = config.build({"limits": {"user_commands": 10_000}}, environ={})
    rest = FakeRest()
    extractor = FailingExtractor()
    identity = BotIdentity(user_id=BOT, application_id=APP)
    voice_states: dict[int, dict[int, int]] = {}
    deps = GuildDeps(
        config=cfg,
        identity=identity,
        rest=rest,
        update_voice_state=_no_voice,
        extractor=extractor,  # type: ignore[arg-type]
        bus=EventBus(),
        opener=_opener,
        sender=VoiceSender(),  # never started: this guild never joins voice
        storage=storage if storage is not None else Storage(root=root),
        voice_members=lambda gid: dict(voice_states.get(gid, {})),
    )
    guilds = await nursery.start(run_supervisor, guild_supervisor_spec(deps))
    router = Router(
        RouterDeps(
            rest=rest,
            guilds=guilds,
            identity=identity,
            rate=UserRateLimiter(10_000, 1.0),
            latency=lambda _g: 0.05,
            voice_states=voice_states,
            restores={GUILD: _session()},
        ),
        nursery,
    )
    member = VoiceStateUpdate(guild_id=GUILD, channel_id=VOICE, user_id=MEMBER, session_id="s")
    created = GuildCreate(
        id=GUILD, name="fuzz", channels=(), voice_states=(member,), member_count=2
    )
    await router.handle(GatewayDispatch(shard_id=0, seq=1, event=created))
    bench = Bench(router, rest, guilds, extractor)
    if storage is not None:
        return bench  # (a test storage may not answer)
    with trio.fail_after(10):
        while "a440" not in await bench.queue_text():
            await trio.sleep(0.01)  # the restored session is in place
    return bench
