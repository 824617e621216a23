"""The emulator's REST server behaves like Discord where the bot could get it wrong."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import trio

from musicbot.emulator.rest import EmulatorRest
from tests.rest.helpers import APPLICATION_ID, TOKEN, running_emulator

AUTH = {"Authorization": f"Bot {TOKEN}"}


@asynccontextmanager
async def raw(emu: EmulatorRest) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=emu.base_url + "/", headers=AUTH) as http:
        yield http


async def test_bucket_overflow_gets_a_real_429(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(10):
        async with running_emulator() as emu, raw(emu) as http:
            emu.set_limit("POST /channels/{channel_id}/messages", limit=2, per=5.0)
            answers = [await http.post("channels/5/messages", json={"content": "x"}) for _ in "abc"]
            other = await http.post("channels/6/messages", json={"content": "y"})
            assert len(emu.rate_limit_violations) == 1
            emu.rate_limit_violations.clear()  # on purpose here
    ok, ok2, limited = answers
    assert (ok.status_code, ok2.status_code, limited.status_code, other.status_code) == (
        200, 200, 429, 200,
    )  # fmt: skip
    assert ok.headers["x-ratelimit-limit"] == "2"
    assert ok.headers["x-ratelimit-remaining"] == "1"
    assert float(ok.headers["x-ratelimit-reset-after"]) == 5.0
    assert ok.headers["x-ratelimit-bucket"] == other.headers["x-ratelimit-bucket"]
    body = limited.json()
    assert body["global"] is False and 0 < body["retry_after"] <= 5.0
    assert limited.headers["x-ratelimit-scope"] == "user"
    assert int(limited.headers["retry-after"]) >= 1
    assert "x-ratelimit-global" not in limited.headers


async def test_auth_and_unknown_routes(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(10):
        async with running_emulator() as emu, httpx.AsyncClient(base_url=emu.base_url) as http:
            no_auth = await http.get("/gateway/bot")
            wrong = await http.get("/gateway/bot", headers={"Authorization": "Bot nope"})
            unknown = await http.get("/nothing/here", headers=AUTH)
            # Interaction routes carry their own token and need no bot token.
            callback = await http.post("/interactions/1/abc/callback", json={"type": 1})
    assert (no_auth.status_code, wrong.status_code, unknown.status_code) == (401, 401, 404)
    assert callback.status_code == 204


async def test_interaction_lifecycle(autojump_clock: trio.testing.MockClock) -> None:
    app = APPLICATION_ID
    with trio.fail_after(10):
        async with running_emulator() as emu, raw(emu) as http:
            emu.register_interaction(77, "tok77", channel_id=900)
            deferred = await http.post(
                "interactions/77/tok77/callback",
                params={"with_response": "true"},
                json={"type": 5, "data": {"flags": 64}},
            )
            again = await http.post("interactions/77/tok77/callback", json={"type": 4})
            record = await emu.wait_for_interaction_response(77)
            first = await http.post(f"webhooks/{app}/tok77", json={"content": "done"})
            second = await http.post(f"webhooks/{app}/tok77", json={"content": "more"})
            edited = await http.patch(
                f"webhooks/{app}/tok77/messages/@original", json={"content": "edited"}
            )
            gone = await http.delete(f"webhooks/{app}/tok77/messages/{second.json()['id']}")
            unknown = await http.post(f"webhooks/{app}/nope", json={"content": "x"})
    payload = deferred.json()
    assert deferred.status_code == 200
    assert payload["interaction"]["response_message_loading"] is True
    assert payload["interaction"]["response_message_ephemeral"] is True
    assert again.status_code == 400 and again.json()["code"] == 40060
    assert record.callbacks == [{"type": 5, "data": {"flags": 64}}]
    # After a defer, the first follow-up edits the original "thinking…" message.
    assert first.json()["id"] == payload["interaction"]["response_message_id"]
    assert first.json()["flags"] & 128 == 0
    assert second.json()["id"] != first.json()["id"]
    assert edited.json()["content"] == "edited" and gone.status_code == 204
    assert unknown.status_code == 404 and unknown.json()["code"] == 10015
    assert [m["content"] for m in emu.messages[900]] == ["edited"]


async def test_commands_echo_like_discord(autojump_clock: trio.testing.MockClock) -> None:
    command = {
        "name": "play",
        "description": "Play",
        "description_localizations": {"vi": "Phát"},
        "options": [{"type": 3, "name": "q", "description": "d", "required": False}],
    }
    with trio.fail_after(10):
        async with running_emulator() as emu, raw(emu) as http:
            put = await http.put(f"applications/{APPLICATION_ID}/commands", json=[command])
            plain = await http.get(f"applications/{APPLICATION_ID}/commands")
            full = await http.get(
                f"applications/{APPLICATION_ID}/commands", params={"with_localizations": "true"}
            )
            dup = await http.put(f"applications/{APPLICATION_ID}/commands", json=[command] * 2)
            emu.validation_errors.clear()  # the duplicate was on purpose
    stored = put.json()[0]
    assert stored["integration_types"] == [0] and stored["type"] == 1 and "id" in stored
    assert "required" not in stored["options"][0]
    assert "description_localizations" not in plain.json()[0]
    assert full.json()[0]["description_localizations"] == {"vi": "Phát"}
    assert dup.status_code == 400 and dup.json()["code"] == 50035
    assert emu.put_count() == 1


async def test_invalid_body_is_rejected_and_recorded(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(10):
        async with running_emulator() as emu, raw(emu) as http:
            bad = await http.post("interactions/3/t/callback", json={"type": 4, "data": []})
            problems = list(emu.validation_errors)
            emu.validation_errors.clear()  # on purpose here
    assert bad.status_code == 400 and bad.json()["code"] == 50035
    assert len(problems) == 1 and problems[0].path == "/interactions/3/t/callback"


async def test_forced_status_and_waiters(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(10):
        async with running_emulator() as emu, raw(emu) as http:
            emu.force_status("GET /gateway/*", 502, times=1)
            got: list[dict[str, object]] = []

            async def waiter() -> None:
                got.append(await emu.wait_for_message(44, lambda m: m["content"] == "two"))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(waiter)
                await trio.testing.wait_all_tasks_blocked()
                assert got == []
                first = await http.get("gateway/bot")
                second = await http.get("gateway/bot")
                await http.post("channels/44/messages", json={"content": "one"})
                await http.post("channels/44/messages", json={"content": "two"})
    assert (first.status_code, second.status_code) == (502, 200)
    assert [m["content"] for m in got] == ["two"]
