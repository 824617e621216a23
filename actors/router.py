"""The router: gateway dispatches in, typed messages to guild actors out.

Theory.  The router is the only reader of the shards' event channel and the only owner of the
process-wide view of voice states (guild → user → channel), which it copies to a guild actor
when that actor starts and keeps it up to date by forwarding every VOICE_STATE_UPDATE.  It never
waits on a guild actor: messages are posted with ``send_nowait`` into a bounded inbox.  A
member's command that finds it full gets a polite "busy"; a control message (a voice state, a
server update, a restore, a shutdown) is never lost (rule 13): it waits in that guild's small
coalescing backlog (:meth:`Router.post_control`), drained by a task of the router's nursery.
Guild actors are started on the first interaction that needs one (``start_child`` is
idempotent, and quick: an actor reports itself started before it reads its disk) and looked up
by key on every message, so a restarted actor's new inbox is found at once.

Validation.  Every slash command's options are checked against the definitions the bot
registered (``musicbot.commands.validate``) before anything else sees them; a refusal is
answered here, in the member's language.  A component's custom id must be a string of at most
100 characters; its parts are parsed by the family that made it.

Deadlines.  The router stamps every interaction's arrival (``Responder.received_at``) and
watches those it hands to a guild actor: one with no acknowledgement on its way
``AUTO_DEFER_AFTER`` seconds after arrival is deferred (``actors.responder.watch_deadline``).

Quick answers that need no guild (``/ping``, autocomplete) and the per-user rate limit are
handled here; ``/ping`` and autocomplete run as short tasks in the router's nursery because they
wait on REST or the cache.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Any, Final

import attrs
import structlog
import trio

from actors.guild.actor import BotIdentity, GuildDeps
from actors.guild.actor import run as run_guild
from actors.guild.families import default_table
from actors.guild.messages import (
    ChannelGone,
    Command,
    GatewayReady,
    GuildMsg,
    Invocation,
    MemberVoiceState,
    RestoreSession,
    Shutdown,
    VoiceServer,
)
from actors.kit.supervisor import ChildContext, ChildSpec, SupervisorHandle, SupervisorSpec
from actors.ratelimit import UserRateLimiter
from actors.responder import Responder, watch_deadline
from musicbot.commands.definitions import BY_NAME, MAX_QUERY
from musicbot.commands.model import Command as CommandDefinition
from musicbot.commands.validate import Refusal, validate
from musicbot.gateway.events import (
    ChannelDelete,
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
MAX_CUSTOM_ID: Final = 100  # Discord's longest component custom_id
MAX_SELECT_VALUES: Final = 25  # a select menu offers at most 25 options


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


GUILD_CRASH_INTENSITY: Final = 3  # crashes of one guild within GUILD_CRASH_PERIOD ...
GUILD_CRASH_PERIOD: Final = 60.0  # ... past which it holds its queue and stops playing


def guild_supervisor_spec(deps: GuildDeps) -> SupervisorSpec:
    """simple_one_for_one, transient: a guild actor that crashes is restarted from its last
    good snapshot; one that stops because it is idle is not.  The intensity is counted per
    guild and is the only crash counter: past it the actor is restarted *held* (queue and
    saved session kept, not playing; see ``actors.guild.actor``), and no other guild notices.
    Every actor gets the default command table unless ``deps`` names one."""
    if deps.commands is None:
        deps = attrs.evolve(deps, commands=default_table())
    return SupervisorSpec(
        name="guilds",
        template=ChildSpec(name="guild", start=functools.partial(start_guild, deps=deps)),
        intensity=GUILD_CRASH_INTENSITY,
        period=GUILD_CRASH_PERIOD,
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
    # The slash commands interactions are validated against (what the bot registered).
    commands: Mapping[str, CommandDefinition] = BY_NAME


def _autocomplete_input(options: object) -> tuple[dict[str, Any], str | None]:
    """The typed-so-far values of an autocomplete interaction, and the focused option's name.

    Partial input is not validated (it is not a command yet); only strings are kept."""
    values: dict[str, Any] = {}
    focused: str | None = None
    current = options
    for _depth in range(3):  # a command, a group, a sub-command
        if not isinstance(current, tuple):
            break
        nested = [o for o in current if o.type in (SUB_COMMAND, SUB_COMMAND_GROUP)]
        if nested:
            current = nested[0].options
            continue
        for o in current:
            if isinstance(o.name, str) and isinstance(o.value, str):
                values[o.name] = o.value[:MAX_QUERY]
                if o.focused:
                    focused = o.name
        break
    return values, focused


class Router:
    def __init__(self, deps: RouterDeps, nursery: trio.Nursery) -> None:
        self.deps = deps
        self.nursery = nursery
        self.voice = deps.voice_states
        self.restores: dict[int, SessionSnapshot] = dict(deps.restores)
        self.accepting = True
        self.dropped = 0
        self.control_backlogged = 0  # times a guild's inbox was full for a control message
        self.backlogs: dict[int, dict[Hashable, GuildMsg]] = {}

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
                # A new session (not a resume): the shard's guilds' voice calls that wait for
                # the gateway (op 4's answer, a new server) ask again at once (control).
                for guild_id in event.guild_ids:
                    self.post_control(guild_id, ("gateway_ready",), GatewayReady())
            case GuildCreate():
                members = self.voice.setdefault(event.id, {})
                members.clear()
                for vs in event.voice_states:
                    if vs.channel_id is not None:
                        members[vs.user_id] = vs.channel_id
                snapshot = self.restores.pop(event.id, None)
                if snapshot is not None and self.accepting:
                    await self.guild(event.id, start=True)
                    self.post_control(event.id, ("restore",), RestoreSession(snapshot=snapshot))
            case VoiceStateUpdate():
                members = self.voice.setdefault(event.guild_id, {})
                if event.channel_id is None:
                    members.pop(event.user_id, None)
                else:
                    members[event.user_id] = event.channel_id
                self.post_control(
                    event.guild_id,
                    ("member", event.user_id),
                    MemberVoiceState(
                        user_id=event.user_id,
                        channel_id=event.channel_id,
                        session_id=event.session_id,
                    ),
                )
            case VoiceServerUpdate():
                self.post_control(
                    event.guild_id,
                    ("server",),
                    VoiceServer(token=event.token, endpoint=event.endpoint),
                )
            case ChannelDelete(guild_id=guild_id, id=channel_id) if guild_id is not None:
                self.post_control(
                    guild_id, ("gone", channel_id), ChannelGone(channel_id=channel_id)
                )
            case GuildDelete():
                if not event.unavailable:
                    self.voice.pop(event.id, None)
                    self.post_control(event.id, ("shutdown",), Shutdown(leave_voice=False))
            case InteractionCreate():
                await self.on_interaction(event)
            case Resumed() | ChannelDelete():
                pass

    def post_control(self, guild_id: int, key: Hashable, msg: GuildMsg) -> None:
        """Deliver a control message to a running guild actor without waiting, and never lose
        it (rule 13).  When the inbox is full, the message waits in the guild's backlog, where
        a newer message with the same ``key`` (the same member's voice state, the voice server)
        replaces an older one: only the latest state matters, so the backlog stays as small as
        the set of keys.  One drain task per backlogged guild delivers it in order."""
        backlog = self.backlogs.get(guild_id)
        if backlog is not None:
            backlog.pop(key, None)
            backlog[key] = msg
            return
        handle = self.deps.guilds.lookup(guild_id)
        if handle is None:
            return  # no actor: it copies the voice states when it starts
        if handle.offer(msg) is Delivery.FULL:
            self.backlogs[guild_id] = {key: msg}
            self.control_backlogged += 1
            log.warning("guild_control_backlogged", guild_id=guild_id)
            self.nursery.start_soon(self.drain_backlog, guild_id)

    async def drain_backlog(self, guild_id: int) -> None:
        backlog = self.backlogs[guild_id]
        try:
            while backlog:
                key = next(iter(backlog))
                msg = backlog.pop(key)
                handle = self.deps.guilds.lookup(guild_id)
                if handle is None:
                    return  # stopped: a new actor starts from the router's voice states
                try:
                    await handle.inbox.send(msg)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return
        finally:
            del self.backlogs[guild_id]

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
        if i.type == INTERACTION_AUTOCOMPLETE:
            typed, focused = _autocomplete_input(data.options)
            self.nursery.start_soon(self.autocomplete, reply, typed, focused)
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
        options: Mapping[str, Any] = {}
        if i.type == INTERACTION_COMPONENT:
            custom_id = data.custom_id
            if not isinstance(custom_id, str) or not 0 < len(custom_id) <= MAX_CUSTOM_ID:
                self.refuse(reply, Refusal(key="valid.unknown_command"), i.locale)
                return
            name = custom_id
        else:
            outcome = validate(self.deps.commands, data.name, data.options)
            if isinstance(outcome, Refusal):
                self.refuse(reply, outcome, i.locale)
                return
            name, options = outcome.name, outcome.values
        if name in ROUTER_COMMANDS:
            self.nursery.start_soon(self.ping, reply, i.guild_id)
            return
        if i.guild_id is None:
            self.nursery.start_soon(self.send_quick, reply, t("cmd.not_in_guild", i.locale))
            return
        values = data.values if isinstance(data.values, tuple) else ()
        inv = Invocation(
            name=name,
            options=options,
            values=tuple(v for v in values if isinstance(v, str))[:MAX_SELECT_VALUES],
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
            return
        # Acknowledge for the actor if its answer is not on its way shortly before 3 s.
        self.nursery.start_soon(watch_deadline, reply)

    def refuse(self, reply: Responder, refusal: Refusal, locale: str | None) -> None:
        """A command whose options the definitions do not allow: say why, touch nothing."""
        log.info("interaction_refused", reason=refusal.key, option=refusal.option)
        self.nursery.start_soon(self.send_quick, reply, t(refusal.key, locale, **refusal.fields))

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
                self.post_control(info.value.guild_id, ("shutdown",), Shutdown(leave_voice=True))


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
                    # (not ``event=``: that is structlog's own first argument)
                    log.error(
                        "router_event_failed",
                        event_type=type(dispatch.event).__name__,
                        exc_info=exc,
                    )
        nursery.cancel_scope.cancel()
