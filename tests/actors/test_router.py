"""The router delivers a command to a guild actor that stopped by itself a moment ago."""

from __future__ import annotations

from typing import Any

import trio
import trio.testing

from actors.guild.actor import BotIdentity
from actors.guild.messages import Command, GuildMsg, Invocation
from actors.kit.supervisor import (
    ChildContext,
    ChildSpec,
    Restart,
    RestartPolicy,
    Strategy,
    SupervisorSpec,
    run_supervisor,
)
from actors.ratelimit import UserRateLimiter
from actors.router import Delivery, GuildHandle, Router, RouterDeps


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

    spec = SupervisorSpec(
        name="guilds",
        policy=RestartPolicy(strategy=Strategy.SIMPLE_ONE_FOR_ONE, restart=Restart.TRANSIENT),
        template=ChildSpec(name="guild", start=start),
    )
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
