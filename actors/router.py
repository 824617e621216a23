"""The router: gateway dispatches in, typed messages to guild actors out.

Theory.  The router is the only reader of the shards' event channel and the only owner of the
process-wide view of voice states (guild → user → channel), which it copies to a guild actor
when that actor starts and keeps it up to date by forwarding every VOICE_STATE_UPDATE.  It never
waits on a guild actor: messages are posted with ``send_nowait`` into a bounded inbox, and a
full inbox gets a polite "busy" instead of stalling every other guild.  Guild actors are started
on the first interaction that needs one (``start_child`` is idempotent) and looked up by key on
every message, so a restarted actor's new inbox is found at once.

Quick answers that need no guild (``/ping``, autocomplete) and the per-user rate limit are
handled here; ``/ping`` and autocomplete run as short tasks in the router's nursery because they
wait on REST or the cache.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import attrs
import structlog
import trio

import actors.guild.ops_commands  # noqa: F401  (registers /metrics and /health)
from actors.guild.actor import BotIdentity, GuildDeps
from actors.guild.actor import run as run_guild
from actors.guild.messages import (
    ChannelGone,
    Command,
    GuildMsg,
    Invocation,
    MemberVoiceState,
    RestoreSession,
    Shutdown,
    VoiceServer,
)
from actors.kit.supervisor import (
    ChildContext,
    ChildSpec,
    Restart,
    RestartPolicy,
    Strategy,
    SupervisorHandle,
    SupervisorSpec,
)
from actors.ratelimit import UserRateLimiter
from actors.responder import Responder
from musicbot.gateway.events import (
    ChannelDelete,
    CommandOption,
    GatewayDispatch,
    GuildCreate,
    GuildDelete,
    InteractionCreate,
    Ready,
    Resumed,
    VoiceServerUpdate,
    VoiceStateUpdate,
)
from musicbot.i18n import t
from musicbot.storage import SessionSnapshot

log = structlog.get_logger(__name__)

GUILD_INBOX: Final = 64
SUB_COMMAND: Final = 1
SUB_COMMAND_GROUP: Final = 2
INTERACTION_COMMAND: Final = 2
INTERACTION_COMPONENT: Final = 3
INTERACTION_AUTOCOMPLETE: Final = 4
GONE_RETRIES: Final = 20  # x GONE_RETRY_DELAY: how long a stopping actor is waited out
GONE_RETRY_DELAY: Final = 0.01
ROUTER_COMMANDS: Final = frozenset({"ping"})


class Delivery(enum.Enum):
    DELIVERED = "delivered"
    FULL = "full"  # the actor is behind: tell the member it is busy
    GONE = "gone"  # the actor has stopped (its inbox is closed)


@attrs.frozen
class GuildHandle:
    guild_id: int
    inbox: trio.MemorySendChannel[GuildMsg]

    def offer(self, msg: GuildMsg) -> Delivery:
        """Deliver without waiting."""
        try:
            self.inbox.send_nowait(msg)
        except trio.WouldBlock:
            return Delivery.FULL
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return Delivery.GONE
        return Delivery.DELIVERED

    def post(self, msg: GuildMsg) -> bool:
        """Deliver without waiting; False when the actor is gone or its inbox is full."""
        return self.offer(msg) is Delivery.DELIVERED


async def start_guild(
    ctx: ChildContext, *, deps: GuildDeps, task_status: trio.TaskStatus[GuildHandle]
) -> None:
    """The guild supervisor's template: a fresh inbox and actor for ``ctx.key``."""
    guild_id = int(ctx.key)  # type: ignore[call-overload]
    send, receive = trio.open_memory_channel[GuildMsg](GUILD_INBOX)
    async with trio.open_nursery() as nursery:
        await nursery.start(
            functools.partial(
                run_guild, receive, guild_id=guild_id, inbox_send=send, deps=deps, ctx=ctx
            )
        )
        task_status.started(GuildHandle(guild_id, send))


def guild_supervisor_spec(deps: GuildDeps) -> SupervisorSpec:
    """simple_one_for_one, transient: a guild actor that crashes is restarted from its last
    snapshot; one that stops because it is idle is not.  Each guild limits its own crash loop
    (see ``actors.guild.actor``); this intensity only catches a systemic failure."""
    return SupervisorSpec(
        name="guilds",
        policy=RestartPolicy(
            strategy=Strategy.SIMPLE_ONE_FOR_ONE,
            restart=Restart.TRANSIENT,
            intensity=50,
            period=60.0,
        ),
        template=ChildSpec(name="guild", start=functools.partial(start_guild, deps=deps)),
    )


@attrs.frozen(kw_only=True)
class RouterDeps:
    rest: Any  # musicbot.rest.RestClient
    guilds: SupervisorHandle[int, GuildHandle]
    identity: BotIdentity
    rate: UserRateLimiter
    latency: Callable[[int], float | None]  # guild id -> gateway latency of its shard
    suggest: Callable[[str], Awaitable[list[tuple[str, str]]]] | None = None
    voice_states: dict[int, dict[int, int]]  # owned by the router; guild actors copy it
    on_ready: Callable[[Ready], None] = lambda _r: None
    restores: Mapping[int, SessionSnapshot] = attrs.field(factory=dict)


def _flatten(options: tuple[CommandOption, ...]) -> tuple[list[str], dict[str, Any], str | None]:
    """Subcommand path, option values, and the focused option's name (autocomplete)."""
    path: list[str] = []
    values: dict[str, Any] = {}
    focused: str | None = None
    current = options
    while current:
        nested = [o for o in current if o.type in (SUB_COMMAND, SUB_COMMAND_GROUP)]
        if nested:
            path.append(nested[0].name)
            current = nested[0].options
            continue
        for o in current:
            values[o.name] = o.value
            if o.focused:
                focused = o.name
        break
    return path, values, focused


class Router:
    def __init__(self, deps: RouterDeps, nursery: trio.Nursery) -> None:
        self.deps = deps
        self.nursery = nursery
        self.voice = deps.voice_states
        self.restores: dict[int, SessionSnapshot] = dict(deps.restores)
        self.accepting = True
        self.dropped = 0

    async def guild(self, guild_id: int, *, start: bool) -> GuildHandle | None:
        handle = self.deps.guilds.lookup(guild_id)
        if handle is None and start:
            handle = await self.deps.guilds.start_child(guild_id)
        return handle

    async def handle(self, dispatch: GatewayDispatch) -> None:
        event = dispatch.event
        match event:
            case Ready():
                self.deps.identity.user_id = event.user_id
                self.deps.identity.application_id = event.application_id
                self.deps.on_ready(event)
            case GuildCreate():
                members = self.voice.setdefault(event.id, {})
                members.clear()
                for vs in event.voice_states:
                    if vs.channel_id is not None:
                        members[vs.user_id] = vs.channel_id
                snapshot = self.restores.pop(event.id, None)
                if snapshot is not None and self.accepting:
                    handle = await self.guild(event.id, start=True)
                    if handle is not None:
                        handle.post(RestoreSession(snapshot=snapshot))
            case VoiceStateUpdate():
                members = self.voice.setdefault(event.guild_id, {})
                if event.channel_id is None:
                    members.pop(event.user_id, None)
                else:
                    members[event.user_id] = event.channel_id
                handle = await self.guild(event.guild_id, start=False)
                if handle is not None:
                    handle.post(
                        MemberVoiceState(
                            user_id=event.user_id,
                            channel_id=event.channel_id,
                            session_id=event.session_id,
                        )
                    )
            case VoiceServerUpdate():
                handle = await self.guild(event.guild_id, start=False)
                if handle is not None:
                    handle.post(VoiceServer(token=event.token, endpoint=event.endpoint))
            case ChannelDelete(guild_id=guild_id, id=channel_id) if guild_id is not None:
                handle = await self.guild(guild_id, start=False)
                if handle is not None:
                    handle.post(ChannelGone(channel_id=channel_id))
            case GuildDelete():
                if not event.unavailable:
                    self.voice.pop(event.id, None)
                    handle = await self.guild(event.id, start=False)
                    if handle is not None:
                        handle.post(Shutdown(leave_voice=False))
            case InteractionCreate():
                await self.on_interaction(event)
            case Resumed() | ChannelDelete():
                pass

    def responder(self, i: InteractionCreate) -> Responder:
        return Responder(
            self.deps.rest,
            i.application_id,
            i.id,
            i.token,
            locale=i.locale,
            is_component=i.type == INTERACTION_COMPONENT,
        )

    async def on_interaction(self, i: InteractionCreate) -> None:
        reply = self.responder(i)
        data = i.data
        if data is None or i.type not in (
            INTERACTION_COMMAND,
            INTERACTION_COMPONENT,
            INTERACTION_AUTOCOMPLETE,
        ):
            return
        path, options, _focused = _flatten(data.options)
        if i.type == INTERACTION_COMPONENT:
            name = data.custom_id or ""
        else:
            name = " ".join([data.name or "", *path]).strip()
        if i.type == INTERACTION_AUTOCOMPLETE:
            self.nursery.start_soon(self.autocomplete, reply, options, _focused)
            return
        if not self.accepting:
            return  # shutting down: Discord shows the user "did not respond"
        decision = self.deps.rate.check(i.user_id, trio.current_time())
        if not decision.allowed:
            # Answered from a child task: the router never waits on Discord.
            self.nursery.start_soon(
                self.send_quick,
                reply,
                t("cmd.rate_limited", i.locale, seconds=decision.retry_after_seconds),
            )
            return
        if name in ROUTER_COMMANDS:
            self.nursery.start_soon(self.ping, reply, i.guild_id)
            return
        if i.guild_id is None:
            self.nursery.start_soon(self.send_quick, reply, t("cmd.not_in_guild", i.locale))
            return
        inv = Invocation(
            name=name,
            options=options,
            values=data.values,
            user_id=i.user_id,
            roles=i.member_roles,
            permissions=i.member_permissions,
            channel_id=i.channel_id,
            voice_channel_id=self.voice.get(i.guild_id, {}).get(i.user_id),
            locale=i.locale,
            reply=reply,
        )
        if not await self.deliver(i.guild_id, Command(inv=inv)):
            self.dropped += 1
            log.warning("guild_inbox_full", guild_id=i.guild_id, command=name)
            self.nursery.start_soon(self.send_quick, reply, t("audio.busy", i.locale))

    async def deliver(self, guild_id: int, msg: GuildMsg) -> bool:
        """Post to the guild's actor, starting it if needed.  An actor that has just stopped
        by itself (idle) closed its inbox before the supervisor heard of it: wait briefly for
        the supervisor and start a fresh one, instead of losing the member's command."""
        for _ in range(GONE_RETRIES):
            try:
                handle = await self.guild(guild_id, start=True)
            except Exception as exc:  # the supervisor is shutting down or the start failed
                log.warning("guild_start_failed", guild_id=guild_id, error=repr(exc))
                return False
            if handle is None:
                return False
            outcome = handle.offer(msg)
            if outcome is not Delivery.GONE:
                return outcome is Delivery.DELIVERED
            await trio.sleep(GONE_RETRY_DELAY)
        return False

    async def send_quick(self, reply: Responder, text: str) -> None:
        with trio.move_on_after(5):
            try:
                await reply.send(text, ephemeral=True)
            except Exception as exc:
                log.warning("interaction_reply_failed", error=repr(exc))

    async def ping(self, reply: Responder, guild_id: int | None) -> None:
        gateway = self.deps.latency(guild_id or 0)
        start = trio.current_time()
        rest_ms: str
        try:
            with trio.fail_after(2.0):
                await self.deps.rest.get_gateway_bot()
            rest_ms = f"{(trio.current_time() - start) * 1000:.0f} ms"
        except Exception as exc:
            log.warning("ping_rest_failed", error=repr(exc))
            rest_ms = "—"
        gw = f"{gateway * 1000:.0f} ms" if gateway is not None else "—"
        await self.send_quick_public(reply, t("cmd.ping", reply.locale, gateway=gw, rest=rest_ms))

    async def send_quick_public(self, reply: Responder, text: str) -> None:
        with trio.move_on_after(5):
            try:
                await reply.send(text)
            except Exception as exc:
                log.warning("interaction_reply_failed", error=repr(exc))

    async def autocomplete(
        self, reply: Responder, options: Mapping[str, Any], focused: str | None
    ) -> None:
        # Track suggestions fit only the "query" option; a playlist name is offered by nobody
        # here, since listing a guild's playlists belongs to its actor (it may repair files).
        if self.deps.suggest is None or focused != "query":
            choices: list[dict[str, Any]] = []
        else:
            typed = str(options.get(focused) or "")
            try:
                with trio.fail_after(1.5):
                    found = await self.deps.suggest(typed)
            except Exception as exc:
                log.debug("autocomplete_failed", error=repr(exc))
                found = []
            choices = [
                {"name": title[:100], "value": url[:100]} for title, url in found if len(url) <= 100
            ]
        with trio.move_on_after(2.5):
            try:
                await reply.autocomplete(choices)
            except Exception as exc:
                log.warning("autocomplete_reply_failed", error=repr(exc))

    async def shutdown_guilds(self) -> None:
        """Stop accepting commands and ask every guild actor to snapshot and leave."""
        self.accepting = False
        for info in self.deps.guilds.which_children():
            if info.running and isinstance(info.value, GuildHandle):
                info.value.post(Shutdown(leave_voice=True))


async def run_router(
    events: trio.MemoryReceiveChannel[GatewayDispatch],
    *,
    deps: RouterDeps,
    task_status: trio.TaskStatus[Router] = trio.TASK_STATUS_IGNORED,
) -> None:
    async with trio.open_nursery() as nursery:
        router = Router(deps, nursery)
        task_status.started(router)
        async with events:
            async for dispatch in events:
                try:
                    await router.handle(dispatch)
                except Exception as exc:
                    # One bad event must not take every guild down; it is logged in full.
                    log.error(
                        "router_event_failed", event=type(dispatch.event).__name__, exc_info=exc
                    )
        nursery.cancel_scope.cancel()
