from __future__ import annotations

from typing import Any

import pytest
import trio

from actors.responder import (
    AUTO_DEFER_AFTER,
    CALLBACK_DEADLINE,
    TOKEN_LIFETIME,
    InteractionExpired,
    Responder,
    Stage,
    watch_deadline,
)


class RecordingRest:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def create_interaction_response(
        self, interaction_id: int, token: str, body: dict[str, Any], *, with_response: bool = False
    ) -> Any:
        self.calls.append(("callback", body))

    async def edit_original_response(
        self, application_id: int, token: str, body: dict[str, Any]
    ) -> Any:
        self.calls.append(("edit", body))

    async def create_followup(self, application_id: int, token: str, body: dict[str, Any]) -> Any:
        self.calls.append(("followup", body))


def _responder(rest: RecordingRest, component: bool = False) -> Responder:
    return Responder(rest, 1, 2, "tok", is_component=component)


async def test_quick_answer_is_one_callback_then_followups() -> None:
    rest = RecordingRest()
    r = _responder(rest)
    await r.send("hi")
    await r.send("again")
    assert [c[0] for c in rest.calls] == ["callback", "followup"]
    assert rest.calls[0][1]["type"] == 4
    assert rest.calls[0][1]["data"]["allowed_mentions"] == {"parse": []}


async def test_deferred_answer_edits_the_original_once() -> None:
    rest = RecordingRest()
    r = _responder(rest)
    await r.defer(ephemeral=True)
    await r.defer()
    assert r.stage is Stage.DEFERRED
    await r.send("done")
    assert [c[0] for c in rest.calls] == ["callback", "edit"]
    assert rest.calls[0][1] == {"type": 5, "data": {"flags": 64}}


async def test_component_update_uses_update_message() -> None:
    rest = RecordingRest()
    r = _responder(rest, component=True)
    await r.update({"content": "x"})
    assert rest.calls[0][1]["type"] == 7
    rest2 = RecordingRest()
    r2 = _responder(rest2, component=True)
    await r2.defer()
    assert rest2.calls[0][1] == {"type": 6}


class SlowRest(RecordingRest):
    """The callback POST takes a while; records the order calls finish in."""

    async def create_interaction_response(
        self, interaction_id: int, token: str, body: dict[str, Any], *, with_response: bool = False
    ) -> Any:
        await trio.sleep(1.0)
        self.calls.append(("callback", body))


async def test_an_unanswered_interaction_is_deferred_before_discords_deadline(
    autojump_clock: Any,
) -> None:
    rest = RecordingRest()
    r = _responder(rest)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch_deadline, r)
            await trio.sleep(AUTO_DEFER_AFTER - 0.1)
            assert rest.calls == []  # not yet
            await trio.sleep(0.2)
            assert [c[1]["type"] for c in rest.calls] == [5]
            assert r.auto_deferred and r.age() < CALLBACK_DEADLINE
        await r.send("the answer", ephemeral=True)
    assert [c[0] for c in rest.calls] == ["callback", "edit"]


async def test_a_quick_answer_stops_the_watch(autojump_clock: Any) -> None:
    rest = RecordingRest()
    r = _responder(rest)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch_deadline, r)
            await trio.sleep(0.5)
            await r.send("quick")
        await trio.sleep(5)
    assert [c[1]["type"] for c in rest.calls] == [4]
    assert not r.auto_deferred


async def test_the_edit_waits_for_the_deferral_to_be_acknowledged(autojump_clock: Any) -> None:
    rest = SlowRest()
    r = _responder(rest)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(r.defer)
            await trio.sleep(0.1)
            nursery.start_soon(r.send, "done")  # would race the deferral's POST
    assert [c[0] for c in rest.calls] == ["callback", "edit"]


async def test_a_token_past_fifteen_minutes_is_never_used(autojump_clock: Any) -> None:
    rest = RecordingRest()
    r = _responder(rest)
    await r.defer()
    await trio.sleep(TOKEN_LIFETIME)
    with pytest.raises(InteractionExpired):
        await r.send("too late")
    assert [c[0] for c in rest.calls] == ["callback"]
