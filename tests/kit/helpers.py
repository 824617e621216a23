"""Small child functions for supervisor tests; each records what happened to it."""

from __future__ import annotations

from typing import Any

import attrs
import trio

from actors.kit.supervisor import ChildContext


@attrs.define
class Journal:
    """Ordered record of starts and stops, as ``("start", name, restart_count)`` tuples etc."""

    entries: list[tuple[Any, ...]] = attrs.field(factory=list)

    def of(self, kind: str) -> list[tuple[Any, ...]]:
        return [e[1:] for e in self.entries if e[0] == kind]


def forever(journal: Journal, name: str) -> Any:
    """A child that runs until cancelled and records its start and its stop."""

    async def start(ctx: ChildContext, *, task_status: trio.TaskStatus[str]) -> None:
        journal.entries.append(("start", name, ctx.restart_count))
        try:
            task_status.started(f"{name}#{ctx.restart_count}")
            await trio.sleep_forever()
        finally:
            journal.entries.append(("stop", name))

    return start


def crash_after(journal: Journal, name: str, delay: float, *, times: int | None = None) -> Any:
    """Runs ``delay`` seconds then raises; after ``times`` crashes it stays up for good."""

    async def start(ctx: ChildContext, *, task_status: trio.TaskStatus[str]) -> None:
        journal.entries.append(("start", name, ctx.restart_count))
        task_status.started(f"{name}#{ctx.restart_count}")
        if times is not None and ctx.restart_count >= times:
            await trio.sleep_forever()
        await trio.sleep(delay)
        journal.entries.append(("crash", name, ctx.restart_count))
        raise RuntimeError(f"{name} crash {ctx.restart_count}")

    return start


def return_after(journal: Journal, name: str, delay: float) -> Any:
    """Runs ``delay`` seconds then returns normally."""

    async def start(ctx: ChildContext, *, task_status: trio.TaskStatus[str]) -> None:
        journal.entries.append(("start", name, ctx.restart_count))
        task_status.started(f"{name}#{ctx.restart_count}")
        await trio.sleep(delay)
        journal.entries.append(("return", name, ctx.restart_count))

    return start
