"""Supervisor semantics under an autojumping MockClock: restarts, intensity, order, dynamic kids."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from structlog.testing import capture_logs

from actors.kit.supervisor import (
    ChildContext,
    ChildSpec,
    ChildStartError,
    Restart,
    RestartPolicy,
    Strategy,
    SupervisorHandle,
    SupervisorSpec,
    run_supervisor,
)
from musicbot.errors import ActorDeadError, SupervisorGaveUp
from tests.kit.helpers import Journal, crash_after, forever, return_after

TRANSIENT = RestartPolicy(restart=Restart.TRANSIENT)


def spec(*children: ChildSpec[Any], policy: RestartPolicy = TRANSIENT) -> SupervisorSpec:
    return SupervisorSpec(name="sup", policy=policy, children=children)


async def test_transient_crash_is_restarted_with_saved_state(autojump_clock: Any) -> None:
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
    sup_spec = SupervisorSpec(
        name="sup",
        policy=TRANSIENT,
        children=(ChildSpec(name="guild", start=child),),
        on_restart=counted.append,
    )
    with trio.fail_after(60), capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            handle: SupervisorHandle[str, int] = await nursery.start(run_supervisor, sup_spec)
            await trio.sleep(5)
            assert seen == [(0, None), (1, ["song0"]), (2, ["song0", "song1"])]
            assert handle.lookup("guild") == 2
            assert handle.restarts == 2
            assert counted == ["sup", "sup"]
            await handle.aclose()
    restarted = [e for e in logs if e["event"] == "supervisor_child_restarted"]
    assert len(restarted) == 2
    assert "decoder exploded" in restarted[0]["cause"]
    assert restarted[0]["child"] == "guild"


async def test_transient_normal_exit_is_not_restarted(autojump_clock: Any) -> None:
    journal = Journal()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(
                run_supervisor, spec(ChildSpec(name="a", start=return_after(journal, "a", 1)))
            )
            await trio.sleep(10)
            assert journal.of("start") == [("a", 0)]
            assert handle.lookup("a") is None
            [info] = handle.which_children()
            assert (info.name, info.running, info.restart_count) == ("a", False, 0)
            assert handle.restarts == 0
            await handle.aclose()


async def test_permanent_is_restarted_even_after_normal_exit(autojump_clock: Any) -> None:
    journal = Journal()
    policy = RestartPolicy(restart=Restart.PERMANENT, intensity=10, period=5)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(
                run_supervisor,
                spec(ChildSpec(name="a", start=return_after(journal, "a", 2)), policy=policy),
            )
            await trio.sleep(5)  # returns at t=2 and t=4
            assert journal.of("start") == [("a", 0), ("a", 1), ("a", 2)]
            assert handle.lookup("a") == "a#2"
            await handle.aclose()


async def test_temporary_crash_is_never_restarted(autojump_clock: Any) -> None:
    journal = Journal()
    children = (
        ChildSpec(name="tmp", start=crash_after(journal, "tmp", 1), restart=Restart.TEMPORARY),
        ChildSpec(name="other", start=forever(journal, "other")),
    )
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(run_supervisor, spec(*children))
            await trio.sleep(10)
            assert journal.of("start") == [("tmp", 0), ("other", 0)]
            assert [c.name for c in handle.which_children()] == ["other"]
            assert handle.restarts == 0
            await handle.aclose()


async def test_crashes_past_intensity_escalate_to_the_parent(autojump_clock: Any) -> None:
    journal = Journal()
    policy = RestartPolicy(restart=Restart.TRANSIENT, intensity=2, period=10)
    children = (
        ChildSpec(name="steady", start=forever(journal, "steady")),
        ChildSpec(name="flaky", start=crash_after(journal, "flaky", 1)),
    )
    with (
        trio.fail_after(60),
        capture_logs() as logs,
        pytest.RaisesGroup(SupervisorGaveUp) as caught,
    ):
        async with trio.open_nursery() as nursery:
            await nursery.start(run_supervisor, spec(*children, policy=policy))
            await trio.sleep_forever()
    [gave_up] = caught.value.exceptions
    assert isinstance(gave_up, SupervisorGaveUp)
    assert (gave_up.supervisor, gave_up.child, gave_up.restarts) == ("sup", "flaky", 3)
    assert isinstance(gave_up.cause, RuntimeError)
    assert gave_up.__cause__ is gave_up.cause
    # Two restarts were allowed, the third crash broke the limit; the sibling was stopped.
    assert journal.of("crash") == [("flaky", 0), ("flaky", 1), ("flaky", 2)]
    assert journal.of("stop") == [("steady",)]
    assert trio.current_time() == pytest.approx(3)
    assert any(e["event"] == "supervisor_gave_up" and e["child"] == "flaky" for e in logs)


async def test_crashes_spread_beyond_the_period_do_not_escalate(autojump_clock: Any) -> None:
    journal = Journal()
    policy = RestartPolicy(restart=Restart.TRANSIENT, intensity=1, period=5)
    with trio.fail_after(120):
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(
                run_supervisor,
                spec(ChildSpec(name="a", start=crash_after(journal, "a", 6)), policy=policy),
            )
            await trio.sleep(6 * 5 + 1)
            assert len(journal.of("crash")) == 5
            assert handle.restarts == 5
            await handle.aclose()


async def test_one_for_all_restarts_the_siblings(autojump_clock: Any) -> None:
    journal = Journal()
    policy = RestartPolicy(strategy=Strategy.ONE_FOR_ALL, restart=Restart.PERMANENT)
    children = (
        ChildSpec(name="a", start=forever(journal, "a")),
        ChildSpec(name="b", start=crash_after(journal, "b", 1, times=1)),
        ChildSpec(name="c", start=forever(journal, "c")),
    )
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(run_supervisor, spec(*children, policy=policy))
            await trio.sleep(5)
            assert journal.entries == [
                ("start", "a", 0),
                ("start", "b", 0),
                ("start", "c", 0),
                ("crash", "b", 0),
                ("stop", "c"),  # survivors stop in reverse order…
                ("stop", "a"),
                ("start", "a", 1),  # …then everyone starts again in order
                ("start", "b", 1),
                ("start", "c", 1),
            ]
            assert [handle.lookup(k) for k in "abc"] == ["a#1", "b#1", "c#1"]
            await handle.aclose()


async def test_one_for_one_leaves_the_siblings_alone(autojump_clock: Any) -> None:
    journal = Journal()
    children = (
        ChildSpec(name="a", start=forever(journal, "a")),
        ChildSpec(name="b", start=crash_after(journal, "b", 1, times=1)),
    )
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(run_supervisor, spec(*children))
            await trio.sleep(5)
            assert journal.of("start") == [("a", 0), ("b", 0), ("b", 1)]
            assert journal.of("stop") == []
            await handle.aclose()


def three_children(journal: Journal) -> SupervisorSpec:
    return spec(*(ChildSpec(name=n, start=forever(journal, n)) for n in ("a", "b", "c")))


async def test_aclose_stops_children_in_reverse_order(autojump_clock: Any) -> None:
    journal = Journal()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(run_supervisor, three_children(journal))
            await handle.aclose()
            await handle.aclose()  # idempotent
    assert journal.of("start") == [("a", 0), ("b", 0), ("c", 0)]
    assert journal.of("stop") == [("c",), ("b",), ("a",)]
    with pytest.raises(ActorDeadError):
        await handle.stop_child("a")


async def test_cancelling_the_supervisor_is_an_ordered_shutdown(autojump_clock: Any) -> None:
    journal = Journal()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            await nursery.start(run_supervisor, three_children(journal))
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

    children = (
        ChildSpec(name="quick", start=stubborn("quick", 0.5), shutdown=2),
        ChildSpec(name="slow", start=stubborn("slow", 30), shutdown=2),
    )
    with trio.fail_after(60), capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(run_supervisor, spec(*children))
            await handle.aclose()
    # "slow" overran its 2 s, so "quick" was stopped at t=2 and finished at t=2.5,
    # long before "slow" ended its cleanup at t=30.
    assert stops == [("quick", 2.5), ("slow", 30)]
    timeouts = [e for e in logs if e["event"] == "supervisor_child_shutdown_timeout"]
    assert [e["child"] for e in timeouts] == ["slow"]


async def test_static_child_failing_to_start_fails_the_supervisor(autojump_clock: Any) -> None:
    journal = Journal()

    async def broken(ctx: ChildContext, *, task_status: trio.TaskStatus[None]) -> None:
        raise OSError("port in use")

    children = (
        ChildSpec(name="a", start=forever(journal, "a")),
        ChildSpec(name="b", start=broken),
    )
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            with pytest.raises(SupervisorGaveUp) as caught:
                await nursery.start(run_supervisor, spec(*children))
    assert caught.value.child == "b"
    assert isinstance(caught.value.cause, OSError)
    assert journal.of("stop") == [("a",)]


def guild_template(journal: Journal) -> SupervisorSpec:
    async def guild(ctx: ChildContext, *, task_status: trio.TaskStatus[str]) -> None:
        journal.entries.append(("start", ctx.key, ctx.restart_count, ctx.last_state))
        if ctx.key == "broken":
            raise ValueError("no voice permission")
        ctx.save_state(f"snapshot of {ctx.key}")
        task_status.started(f"handle:{ctx.key}:{ctx.restart_count}")
        try:
            if ctx.key == 2 and ctx.restart_count == 0:
                await trio.sleep(1)
                raise RuntimeError("voice ws died")
            await trio.sleep_forever()
        finally:
            journal.entries.append(("stop", ctx.key, ctx.restart_count))

    policy = RestartPolicy(strategy=Strategy.SIMPLE_ONE_FOR_ONE, restart=Restart.TRANSIENT)
    return SupervisorSpec(
        name="guilds", policy=policy, template=ChildSpec(name="guild", start=guild)
    )


async def test_simple_one_for_one_children_by_key(autojump_clock: Any) -> None:
    journal = Journal()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            guilds: SupervisorHandle[Any, str] = await nursery.start(
                run_supervisor, guild_template(journal)
            )
            assert guilds.which_children() == []
            assert await guilds.start_child(1) == "handle:1:0"
            assert await guilds.start_child(2) == "handle:2:0"
            assert await guilds.start_child(1) == "handle:1:0"  # idempotent
            assert guilds.lookup(1) == "handle:1:0"

            await trio.sleep(2)  # guild 2 crashed at t=1 and came back with its snapshot
            assert ("start", 2, 1, "snapshot of 2") in journal.entries
            assert guilds.lookup(2) == "handle:2:1"
            assert guilds.restarts == 1

            assert await guilds.stop_child(1) is True
            assert await guilds.stop_child(1) is False
            assert guilds.lookup(1) is None
            assert [(c.key, c.name) for c in guilds.which_children()] == [(2, "guild[2]")]

            with pytest.raises(ChildStartError) as caught:
                await guilds.start_child("broken")
            assert isinstance(caught.value.cause, ValueError)
            assert guilds.lookup("broken") is None

            # A stopped guild starts fresh: no restart count, no old state.
            assert await guilds.start_child(1) == "handle:1:0"
            assert journal.entries[-1] == ("start", 1, 0, None)
            await guilds.aclose()
    assert journal.of("stop")[-2:] == [(1, 0), (2, 1)]


async def test_start_child_needs_simple_one_for_one(autojump_clock: Any) -> None:
    journal = Journal()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(run_supervisor, three_children(journal))
            with pytest.raises(ChildStartError):
                await handle.start_child("d")
            await handle.aclose()


def test_spec_validation() -> None:
    simple = RestartPolicy(strategy=Strategy.SIMPLE_ONE_FOR_ONE)
    with pytest.raises(ValueError):
        SupervisorSpec(name="x", policy=simple)
    with pytest.raises(ValueError):
        SupervisorSpec(name="x", template=ChildSpec(name="t", start=forever(Journal(), "t")))
    dup = ChildSpec(name="a", start=forever(Journal(), "a"))
    with pytest.raises(ValueError):
        SupervisorSpec(name="x", children=(dup, dup))
    with pytest.raises(ValueError):
        RestartPolicy(intensity=-1)


async def test_dynamic_child_that_returns_is_forgotten(autojump_clock: Any) -> None:
    journal = Journal()
    policy = RestartPolicy(strategy=Strategy.SIMPLE_ONE_FOR_ONE, restart=Restart.TRANSIENT)
    template = ChildSpec(name="guild", start=return_after(journal, "guild", 1))
    sup_spec = SupervisorSpec(name="guilds", policy=policy, template=template)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            guilds: SupervisorHandle[int, str] = await nursery.start(run_supervisor, sup_spec)
            await guilds.start_child(7)
            await trio.sleep(2)
            assert guilds.which_children() == []
            assert guilds.lookup(7) is None
            assert await guilds.start_child(7) == "guild#0"
            await guilds.aclose()
    assert journal.of("return") == [("guild", 0)]


async def test_a_child_that_cannot_restart_exhausts_the_intensity(autojump_clock: Any) -> None:
    attempts: list[float] = []

    async def fragile(ctx: ChildContext, *, task_status: trio.TaskStatus[None]) -> None:
        attempts.append(trio.current_time())
        if ctx.restart_count:
            raise ConnectionError("cannot reconnect")
        task_status.started()
        await trio.sleep(1)
        raise ConnectionError("connection lost")

    policy = RestartPolicy(restart=Restart.PERMANENT, intensity=3, period=60)
    with trio.fail_after(60), pytest.RaisesGroup(SupervisorGaveUp) as caught:
        async with trio.open_nursery() as nursery:
            await nursery.start(
                run_supervisor, spec(ChildSpec(name="ws", start=fragile), policy=policy)
            )
            await trio.sleep_forever()
    [gave_up] = caught.value.exceptions
    assert isinstance(gave_up, SupervisorGaveUp)
    assert isinstance(gave_up.cause, ConnectionError)
    assert str(gave_up.cause) == "cannot reconnect"
    assert len(attempts) == 4  # the first start, then 3 failed restarts; the 4th broke the limit


async def test_a_dynamic_child_past_its_intensity_is_held_and_others_go_on(
    autojump_clock: Any,
) -> None:
    """simple_one_for_one counts crashes per child; past the limit that child alone is
    restarted with ``exhausted`` and its state, and no other child (nor the parent) notices."""
    starts: list[tuple[Any, int, bool, Any]] = []

    async def guild(ctx: ChildContext, *, task_status: trio.TaskStatus[str]) -> None:
        starts.append((ctx.key, ctx.restart_count, ctx.exhausted, ctx.last_state))
        ctx.save_state(f"queue of {ctx.key}")
        task_status.started(f"{ctx.key}:{ctx.restart_count}")
        if ctx.key == "bad" and not ctx.exhausted:
            await trio.sleep(1)
            raise RuntimeError("a bug in a handler")
        await trio.sleep_forever()

    policy = RestartPolicy(
        strategy=Strategy.SIMPLE_ONE_FOR_ONE, restart=Restart.TRANSIENT, intensity=2, period=60
    )
    sup_spec = SupervisorSpec(
        name="guilds", policy=policy, template=ChildSpec(name="guild", start=guild)
    )
    with trio.fail_after(120), capture_logs() as logs:
        async with trio.open_nursery() as nursery:
            guilds: SupervisorHandle[Any, str] = await nursery.start(run_supervisor, sup_spec)
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
    assert [e["child"] for e in logs if e["event"] == "supervisor_child_exhausted"] == [
        "guild[bad]"
    ]
    assert not [e for e in logs if e["event"] == "supervisor_gave_up"]
