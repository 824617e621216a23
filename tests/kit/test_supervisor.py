"""The guild supervisor under an autojumping MockClock: keyed children, transient restarts
with their saved state, per-child intensity and the hold, ordered and bounded shutdown."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from structlog.testing import capture_logs

from actors.kit.supervisor import (
    ChildContext,
    ChildSpec,
    ChildStartError,
    SupervisorHandle,
    SupervisorSpec,
    run_supervisor,
)
from musicbot.errors import ActorDeadError
from tests.kit.helpers import Journal, forever, return_after


def by_key(behaviours: dict[Any, Any], **kw: Any) -> SupervisorSpec:
    """A template whose children behave as ``behaviours[key]`` (a start function)."""

    async def start(ctx: ChildContext, *, task_status: trio.TaskStatus[Any]) -> None:
        await behaviours[ctx.key](ctx, task_status=task_status)

    return SupervisorSpec(name="guilds", template=ChildSpec(name="guild", start=start), **kw)


async def test_a_crash_is_restarted_with_the_saved_state(autojump_clock: Any) -> None:
    seen: list[tuple[int, Any]] = []

    async def child(ctx: ChildContext, *, task_status: trio.TaskStatus[int]) -> None:
        seen.append((ctx.restart_count, ctx.last_state))
        queue = list(ctx.last_state or [])
        task_status.started(ctx.restart_count)
        queue.append(f"song{ctx.restart_count}")
        ctx.save_state(queue)
        if ctx.restart_count < 2:
            await trio.sleep(1)
            raise RuntimeError("decoder exploded")
        await trio.sleep_forever()

    counted: list[str] = []
    spec = SupervisorSpec(
        name="guilds",
        template=ChildSpec(name="guild", start=child),
        on_restart=counted.append,
    )
    with trio.fail_after(60), capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            handle: SupervisorHandle[int, int] = await nursery.start(run_supervisor, spec)
            assert await handle.start_child(1) == 0
            assert await handle.start_child(1) == 0  # idempotent
            await trio.sleep(5)
            assert seen == [(0, None), (1, ["song0"]), (2, ["song0", "song1"])]
            assert handle.lookup(1) == 2  # the restarted instance's value
            assert handle.restarts == 2
            assert counted == ["guilds", "guilds"]
            await handle.aclose()
    restarted = [e for e in logs if e["event"] == "supervisor_child_restarted"]
    assert len(restarted) == 2
    assert "decoder exploded" in restarted[0]["cause"]
    assert restarted[0]["child"] == "guild[1]"


async def test_a_normal_exit_is_the_end_and_forgets_the_state(autojump_clock: Any) -> None:
    journal = Journal()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(
                run_supervisor, by_key({"a": return_after(journal, "a", 1)})
            )
            await handle.start_child("a")
            await trio.sleep(5)
            assert handle.lookup("a") is None
            assert handle.which_children() == []
            assert journal.of("start") == [("a", 0)]  # not restarted
            await handle.start_child("a")  # a fresh one: no restart count, no state
            assert journal.of("start") == [("a", 0), ("a", 0)]
            await handle.aclose()


async def test_crashes_spread_beyond_the_period_are_ordinary_restarts(
    autojump_clock: Any,
) -> None:
    seen: list[bool] = []

    async def child(ctx: ChildContext, *, task_status: trio.TaskStatus[None]) -> None:
        seen.append(ctx.exhausted)
        task_status.started()
        if ctx.restart_count < 4:
            await trio.sleep(10)  # one crash every 10 s, with period=5
            raise RuntimeError("rare")
        await trio.sleep_forever()

    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(run_supervisor, by_key({1: child}, intensity=1, period=5))
            await handle.start_child(1)
            await trio.sleep(60)
            assert seen == [False] * 5
            await handle.aclose()


async def test_a_child_past_its_intensity_is_held_and_others_go_on(autojump_clock: Any) -> None:
    """Crashes are counted per child; past the limit that child alone is restarted with
    ``exhausted`` and its state, and no other child (nor the parent) notices."""
    starts: list[tuple[Any, int, bool, Any]] = []

    async def guild(ctx: ChildContext, *, task_status: trio.TaskStatus[str]) -> None:
        starts.append((ctx.key, ctx.restart_count, ctx.exhausted, ctx.last_state))
        ctx.save_state(f"queue of {ctx.key}")
        task_status.started(f"{ctx.key}:{ctx.restart_count}")
        if ctx.key == "bad" and not ctx.exhausted:
            await trio.sleep(1)
            raise RuntimeError("a bug in a handler")
        await trio.sleep_forever()

    spec = SupervisorSpec(
        name="guilds", template=ChildSpec(name="guild", start=guild), intensity=2, period=60
    )
    with trio.fail_after(120), capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            guilds: SupervisorHandle[Any, str] = await nursery.start(run_supervisor, spec)
            await guilds.start_child("good")
            await guilds.start_child("bad")
            await trio.sleep(10)
            bad = [(n, ex, st) for k, n, ex, st in starts if k == "bad"]
            # two ordinary restarts, then the third crash is past intensity=2: held
            assert bad == [
                (0, False, None),
                (1, False, "queue of bad"),
                (2, False, "queue of bad"),
                (3, True, "queue of bad"),
            ]
            assert guilds.lookup("bad") == "bad:3"
            assert guilds.lookup("good") == "good:0"  # untouched
            await guilds.aclose()
    exhausted = [e["child"] for e in logs if e["event"] == "supervisor_child_exhausted"]
    assert exhausted == ["guild[bad]"]


async def test_a_restart_that_fails_counts_and_a_failing_held_child_is_dropped(
    autojump_clock: Any,
) -> None:
    attempts: list[tuple[int, bool]] = []

    async def fragile(ctx: ChildContext, *, task_status: trio.TaskStatus[None]) -> None:
        attempts.append((ctx.restart_count, ctx.exhausted))
        if ctx.restart_count > 0:
            raise OSError("the disk is gone")  # before started(): a failed restart
        task_status.started()
        await trio.sleep(1)
        raise RuntimeError("first crash")

    with trio.fail_after(60), capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(
                run_supervisor, by_key({1: fragile}, intensity=2, period=60)
            )
            await handle.start_child(1)
            await trio.sleep(5)
            assert attempts == [(0, False), (1, False), (2, False), (3, True)]
            assert handle.lookup(1) is None and handle.which_children() == []
            await handle.aclose()
    assert [e["event"] for e in logs].count("supervisor_child_start_failed") == 3


async def test_a_child_failing_before_it_is_ready_is_the_callers_error(
    autojump_clock: Any,
) -> None:
    async def broken(ctx: ChildContext, *, task_status: trio.TaskStatus[None]) -> None:
        raise ValueError("bad config")

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(run_supervisor, by_key({"x": broken}))
            with pytest.raises(ChildStartError) as caught:
                await handle.start_child("x")
            assert isinstance(caught.value.cause, ValueError)
            assert handle.lookup("x") is None
            await handle.aclose()
    with pytest.raises(ActorDeadError):
        await handle.start_child("x")


def three(journal: Journal) -> SupervisorSpec:
    return by_key({n: forever(journal, n) for n in ("a", "b", "c")})


async def test_aclose_stops_children_in_reverse_start_order(autojump_clock: Any) -> None:
    journal = Journal()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(run_supervisor, three(journal))
            for key in ("a", "b", "c"):
                await handle.start_child(key)
            await handle.aclose()
            await handle.aclose()  # idempotent
    assert journal.of("start") == [("a", 0), ("b", 0), ("c", 0)]
    assert journal.of("stop") == [("c",), ("b",), ("a",)]


async def test_cancelling_the_supervisor_is_an_ordered_shutdown(autojump_clock: Any) -> None:
    journal = Journal()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(run_supervisor, three(journal))
            for key in ("a", "b", "c"):
                await handle.start_child(key)
            nursery.cancel_scope.cancel()
    assert journal.of("stop") == [("c",), ("b",), ("a",)]


async def test_slow_child_shutdown_is_bounded_and_logged(autojump_clock: Any) -> None:
    stops: list[tuple[str, float]] = []

    def stubborn(name: str, cleanup: float) -> Any:
        async def start(ctx: ChildContext, *, task_status: trio.TaskStatus[None]) -> None:
            task_status.started()
            try:
                await trio.sleep_forever()
            finally:
                with trio.CancelScope(shield=True):
                    await trio.sleep(cleanup)
                    stops.append((name, trio.current_time()))

        return start

    async def start(ctx: ChildContext, *, task_status: trio.TaskStatus[None]) -> None:
        await stubborn(str(ctx.key), 0.5 if ctx.key == "quick" else 30)(
            ctx, task_status=task_status
        )

    spec = SupervisorSpec(name="guilds", template=ChildSpec(name="g", start=start, shutdown=2))
    with trio.fail_after(60), capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(run_supervisor, spec)
            await handle.start_child("quick")
            await handle.start_child("slow")
            await handle.aclose()
    # "slow" overran its 2 s, so "quick" was stopped at t=2 and finished at t=2.5,
    # long before "slow" ended its cleanup at t=30.
    assert stops == [("quick", 2.5), ("slow", 30)]
    timeouts = [e for e in logs if e["event"] == "supervisor_child_shutdown_timeout"]
    assert [e["child"] for e in timeouts] == ["g[slow]"]


def test_spec_validation() -> None:
    with pytest.raises(ValueError):
        SupervisorSpec(
            name="x", template=ChildSpec(name="g", start=forever(Journal(), "g")), intensity=-1
        )
