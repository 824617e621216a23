"""ask()/reply(): answers, dead actors (fast), slow actors (timeout)."""

from __future__ import annotations

import gc
from typing import Any

import attrs
import pytest
import trio

from actors.kit.mailbox import LIVENESS_POLL, ask, open_mailbox, reply
from musicbot.errors import ActorDeadError, ActorTimeoutError


@attrs.frozen(kw_only=True)
class Double:
    value: int
    reply: trio.MemorySendChannel[int]


async def doubler(inbox: trio.MemoryReceiveChannel[Double], *, delay: float = 0) -> None:
    async with inbox:
        async for msg in inbox:
            await trio.sleep(delay)
            reply(msg.reply, msg.value * 2)


async def test_ask_gets_the_answer(autojump_clock: Any) -> None:
    box = open_mailbox("doubler", size=0)
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(doubler, box.receive)
            for n in range(3):
                assert (
                    await ask(box.send, lambda r, n=n: Double(value=n, reply=r), actor="d") == 2 * n
                )
            nursery.cancel_scope.cancel()


async def test_ask_a_closed_inbox_fails_at_once(autojump_clock: Any) -> None:
    box = open_mailbox("gone")
    box.receive.close()
    with trio.fail_after(5):
        with pytest.raises(ActorDeadError) as caught:
            await ask(box.send, lambda r: Double(value=1, reply=r), actor="gone", timeout=3)
    assert caught.value.actor == "gone"
    assert trio.current_time() == 0


async def test_actor_returning_with_the_request_fails_fast(autojump_clock: Any) -> None:
    box = open_mailbox("quitter")

    async def quitter(inbox: trio.MemoryReceiveChannel[Double]) -> None:
        msg = await inbox.receive()  # takes the request, never answers, keeps its inbox open
        await trio.sleep(1)
        del msg

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(quitter, box.receive)
            with pytest.raises(ActorDeadError):
                await ask(box.send, lambda r: Double(value=1, reply=r), actor="q", timeout=30)
            assert trio.current_time() == pytest.approx(1)


async def test_actor_crashing_with_the_request_fails_fast(autojump_clock: Any) -> None:
    """The crash keeps the message alive in a traceback; the closed inbox still tells."""
    box = open_mailbox("crasher")
    kept: list[BaseException] = []

    async def crasher(inbox: trio.MemoryReceiveChannel[Double]) -> None:
        async with inbox:
            async for msg in inbox:
                await trio.sleep(1)
                raise RuntimeError(f"cannot double {msg.value}")

    async def guarded() -> None:
        try:
            await crasher(box.receive)
        except RuntimeError as exc:
            kept.append(exc)  # what a supervisor does with a cause: it keeps it for a while

    gc.disable()
    try:
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(guarded)
                with pytest.raises(ActorDeadError):
                    await ask(box.send, lambda r: Double(value=1, reply=r), actor="c", timeout=30)
                assert trio.current_time() <= 1 + LIVENESS_POLL + 1e-6
    finally:
        gc.enable()
    assert kept


async def test_actor_closing_the_reply_channel_fails_fast(autojump_clock: Any) -> None:
    box = open_mailbox("refuser")

    async def refuser(inbox: trio.MemoryReceiveChannel[Double]) -> None:
        async with inbox:
            async for msg in inbox:
                msg.reply.close()
                await trio.sleep_forever()

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(refuser, box.receive)
            with pytest.raises(ActorDeadError):
                await ask(box.send, lambda r: Double(value=1, reply=r), actor="r", timeout=30)
            assert trio.current_time() == 0
            nursery.cancel_scope.cancel()


async def test_slow_actor_times_out(autojump_clock: Any) -> None:
    box = open_mailbox("slow")
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lambda: doubler(box.receive, delay=10))
            with pytest.raises(ActorTimeoutError) as caught:
                await ask(box.send, lambda r: Double(value=1, reply=r), actor="slow", timeout=2)
            assert (caught.value.actor, caught.value.request) == ("slow", "Double")
            assert caught.value.timeout == 2
            assert trio.current_time() == pytest.approx(2)
            nursery.cancel_scope.cancel()


async def test_full_inbox_counts_against_the_timeout(autojump_clock: Any) -> None:
    box = open_mailbox("stuck", size=0)  # nobody receives
    with trio.fail_after(60):
        with pytest.raises(ActorTimeoutError):
            await ask(box.send, lambda r: Double(value=1, reply=r), actor="stuck", timeout=1)


async def test_reply_to_a_caller_that_gave_up_is_ignored() -> None:
    send, receive = trio.open_memory_channel[int](1)
    receive.close()
    assert reply(send, 1) is False
    send2, receive2 = trio.open_memory_channel[int](1)
    assert reply(send2, 7) is True
    assert receive2.receive_nowait() == 7
    with pytest.raises(trio.EndOfChannel):
        receive2.receive_nowait()  # reply() closed its end


def test_open_mailbox_rejects_negative_size() -> None:
    with pytest.raises(ValueError):
        open_mailbox("x", size=-1)
