from __future__ import annotations

from typing import Any

from actors.responder import Responder, Stage


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
