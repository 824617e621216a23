"""The router delivers a command to a guild actor that stopped by itself a moment ago."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import trio
import trio.testing
from structlog.testing import capture_logs

from actors.guild.actor import BotIdentity
from actors.guild.messages import Command, GatewayReady, GuildMsg, Invocation
from actors.kit.supervisor import ChildContext, ChildSpec, SupervisorSpec, run_supervisor
from actors.ratelimit import UserRateLimiter
from actors.responder import CALLBACK_DEADLINE
from actors.router import Delivery, GuildHandle, Router, RouterDeps, run_router
from musicbot.gateway.events import (
    GatewayDispatch,
    Ready,
    Resumed,
    VoiceServerUpdate,
    VoiceStateUpdate,
)
from musicbot.storage import Storage
from tests.actors.bench import open_bench


async def test_a_command_racing_an_idle_stop_reaches_a_fresh_actor() -> None:
    release = trio.Event()
    received: list[tuple[int, GuildMsg]] = []
    instances: list[int] = []

    async def start(ctx: ChildContext, *, task_status: trio.TaskStatus[GuildHandle]) -> None:
        instance = len(instances) + 1
        instances.append(instance)
        send, receive = trio.open_memory_channel[GuildMsg](4)
        task_status.started(GuildHandle(int(ctx.key), send))  # type: ignore[call-overload]
        if instance == 1:
            receive.close()  # decided to stop (idle): the inbox is closed first ...
            await release.wait()  # ... and the supervisor has not heard of the exit yet
            return
        async with receive:
            received.append((instance, await receive.receive()))
            await trio.sleep_forever()

    spec = SupervisorSpec(name="guilds", template=ChildSpec(name="guild", start=start))
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            guilds: Any = await nursery.start(run_supervisor, spec)
            deps = RouterDeps(
                rest=None,
                guilds=guilds,
                identity=BotIdentity(),
                rate=UserRateLimiter(10, 1.0),
                latency=lambda _g: None,
                voice_states={},
            )
            router = Router(deps, nursery)
            stale = await guilds.start_child(7)
            msg = Command(inv=Invocation(name="queue", user_id=1, reply=None))  # type: ignore[arg-type]
            assert stale.offer(msg) is Delivery.GONE
            nursery.start_soon(router.deliver, 7, msg)
            await trio.testing.wait_all_tasks_blocked()
            release.set()  # the old actor's task ends; the supervisor drops it
            while not received:
                await trio.sleep(0.01)
            assert received == [(2, msg)]
            nursery.cancel_scope.cancel()


async def test_an_exception_in_handle_is_logged_and_the_router_goes_on() -> None:
    """Issue 13 item 1: the catch-all itself must not raise (``event=`` is structlog's)."""
    seen: list[int] = []

    def on_ready(ready: Any) -> None:
        seen.append(ready.user_id)
        if len(seen) == 1:
            raise RuntimeError("corrupt settings.json")

    deps = RouterDeps(
        rest=None,
        guilds=None,  # type: ignore[arg-type]
        identity=BotIdentity(),
        rate=UserRateLimiter(10, 1.0),
        latency=lambda _g: None,
        voice_states={},
        on_ready=on_ready,
    )
    send, receive = trio.open_memory_channel[GatewayDispatch](4)

    def ready(user_id: int) -> GatewayDispatch:
        event = Ready(
            session_id="s",
            resume_gateway_url="ws://127.0.0.1:1",
            user_id=user_id,
            application_id=1,
            guild_ids=(),
        )
        return GatewayDispatch(shard_id=0, seq=user_id, event=event)

    with trio.fail_after(5), capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            await nursery.start(functools.partial(run_router, receive, deps=deps))
            await send.send(ready(1))
            await send.send(ready(2))
            while len(seen) < 2:
                await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
    failed = [e for e in logs if e["event"] == "router_event_failed"]
    assert len(failed) == 1 and failed[0]["event_type"] == "Ready"
    assert seen == [1, 2]


async def test_control_messages_wait_in_a_coalescing_backlog_when_the_inbox_is_full() -> None:
    """Rule 13: a full inbox never loses a voice state or server update; newer ones replace
    older ones with the same key, and the router itself never waits."""
    send, receive = trio.open_memory_channel[GuildMsg](1)

    class OneGuild:
        def lookup(self, key: int) -> GuildHandle | None:
            return GuildHandle(key, send) if key == 7 else None

    deps = RouterDeps(
        rest=None,
        guilds=OneGuild(),  # type: ignore[arg-type]
        identity=BotIdentity(),
        rate=UserRateLimiter(10, 1.0),
        latency=lambda _g: None,
        voice_states={},
    )

    def state(channel: int | None) -> GatewayDispatch:
        event = VoiceStateUpdate(guild_id=7, channel_id=channel, user_id=5, session_id="x")
        return GatewayDispatch(shard_id=0, seq=1, event=event)

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            router = Router(deps, nursery)
            await router.handle(state(10))  # fills the inbox
            await router.handle(state(11))  # backlogged
            server = VoiceServerUpdate(guild_id=7, token="t", endpoint="127.0.0.1:9")
            await router.handle(GatewayDispatch(shard_id=0, seq=2, event=server))
            await router.handle(state(12))  # replaces the backlogged 11
            assert router.control_backlogged == 1
            got = [await receive.receive() for _ in range(3)]
            assert [type(m).__name__ for m in got] == [
                "MemberVoiceState",
                "VoiceServer",
                "MemberVoiceState",
            ]
            assert [getattr(m, "channel_id", None) for m in got] == [10, None, 12]
            await trio.testing.wait_all_tasks_blocked()
            assert router.backlogs == {}


class StuckStorage:
    """A disk that never answers: guild settings never load."""

    def __init__(self, root: Path) -> None:
        self.real = Storage(root=root)

    def guild_settings(self, guild_id: int) -> Any:
        class Never:
            async def load(self) -> Any:
                await trio.sleep_forever()

        return Never()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


async def test_a_guild_stuck_on_its_disk_holds_up_neither_the_router_nor_the_answer(
    tmp_path: Path, autojump_clock: Any
) -> None:
    """The actor is started (and its inbox takes messages) before it reads the disk, and the
    router defers an interaction whose answer is not on its way shortly before 3 s."""
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            bench = await open_bench(tmp_path, nursery, storage=StuckStorage(tmp_path))
            start = trio.current_time()
            ident, event = bench.dispatch("queue", ())
            await bench.router.handle(GatewayDispatch(shard_id=0, seq=ident, event=event))
            assert trio.current_time() - start < 0.5  # the router did not wait on the disk
            while not bench.rest.calls.get(ident):
                await trio.sleep(0.05)
            callback = bench.rest.calls[ident][0][1]
            assert callback["type"] == 5  # deferred for the stuck actor ...
            assert trio.current_time() - start < CALLBACK_DEADLINE  # ... within Discord's 3 s
            nursery.cancel_scope.cancel()


async def test_a_new_session_reaches_every_running_guild_of_the_shard_and_a_resume_none() -> None:
    """READY (not RESUMED) tells each guild actor of that shard (its call may be waiting for a
    gateway event the old session lost); guilds without an actor are not started for it."""
    received: list[tuple[int, GuildMsg]] = []

    async def start(ctx: ChildContext, *, task_status: trio.TaskStatus[GuildHandle]) -> None:
        send, receive = trio.open_memory_channel[GuildMsg](4)
        task_status.started(GuildHandle(int(ctx.key), send))  # type: ignore[call-overload]
        async with receive:
            async for msg in receive:
                received.append((int(ctx.key), msg))  # type: ignore[call-overload]

    spec = SupervisorSpec(name="guilds", template=ChildSpec(name="guild", start=start))
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            guilds: Any = await nursery.start(run_supervisor, spec)
            deps = RouterDeps(
                rest=None,
                guilds=guilds,
                identity=BotIdentity(),
                rate=UserRateLimiter(10, 1.0),
                latency=lambda _g: None,
                voice_states={},
            )
            router = Router(deps, nursery)
            await guilds.start_child(7)
            await guilds.start_child(8)
            await router.handle(GatewayDispatch(shard_id=0, seq=1, event=Resumed()))
            ready = Ready(
                session_id="s2",
                resume_gateway_url="ws://127.0.0.1:1",
                user_id=1,
                application_id=2,
                guild_ids=(7, 8, 9),
            )
            await router.handle(GatewayDispatch(shard_id=0, seq=1, event=ready))
            await trio.testing.wait_all_tasks_blocked()
            assert sorted(received, key=lambda r: r[0]) == [
                (7, GatewayReady()),
                (8, GatewayReady()),
            ]
            assert guilds.lookup(9) is None
            nursery.cancel_scope.cancel()
