"""The REST client against the emulator's REST server over real HTTP on 127.0.0.1."""

from __future__ import annotations

import trio

from musicbot.rest import USER_AGENT
from tests.rest.helpers import APPLICATION_ID, GATEWAY_URL, client_for, running_emulator


async def test_gateway_bot_with_user_agent(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(10):
        async with running_emulator() as emu, client_for(emu) as rest:
            info = await rest.get_gateway_bot()
            app = await rest.get_current_application()
    assert info["url"] == GATEWAY_URL
    assert info["session_start_limit"]["max_concurrency"] == 1
    assert app["id"] == str(APPLICATION_ID)
    assert [r.user_agent for r in emu.requests] == [USER_AGENT, USER_AGENT]


MESSAGES = "POST /channels/{channel_id}/messages"


async def test_429_waits_retry_after_then_succeeds(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(30):
        async with running_emulator() as emu, client_for(emu) as rest:
            emu.force_status("POST /channels/7/messages", 429, retry_after=3.5)
            message = await rest.create_message(7, {"content": "hello"})
    assert message["content"] == "hello"
    first, second = emu.requests
    assert (first.status, second.status) == (429, 200)
    # The retry waited the full retry_after: an early one would have met a genuine 429, which
    # running_emulator() reports as a rate-limit violation.
    assert second.time - first.time >= 3.5


async def test_bucket_headers_respected_per_major(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with running_emulator() as emu, client_for(emu) as rest:
            emu.set_limit(MESSAGES, limit=2, per=10.0)
            start = trio.current_time()
            async with trio.open_nursery() as nursery:
                for i in range(5):
                    nursery.start_soon(rest.create_message, 1, {"content": f"a{i}"})
                nursery.start_soon(rest.create_message, 2, {"content": "b"})
    assert len(emu.messages[1]) == 5
    times = sorted(r.time - start for r in emu.requests if r.params["channel_id"] == "1")
    # Two per 10 s window, without ever sending a request past the bucket.
    assert times[1] < 10 <= times[2] and times[3] < 20 <= times[4]
    other = [r.time - start for r in emu.requests if r.params["channel_id"] == "2"]
    assert other[0] < 1.0  # another channel is another bucket
    assert all(r.status == 200 for r in emu.requests)


async def test_global_limit_spreads_requests(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with (
            running_emulator(global_limit=5) as emu,
            client_for(emu, global_limit=5) as rest,
        ):
            start = trio.current_time()
            async with trio.open_nursery() as nursery:
                for channel in range(12):
                    nursery.start_soon(rest.create_message, 100 + channel, {"content": "x"})
                for i in range(8):  # interaction callbacks are exempt from the global limit
                    body = {"type": 4, "data": {"content": f"r{i}"}}
                    nursery.start_soon(rest.create_interaction_response, 500 + i, f"tok{i}", body)
    sent = sorted(r.time - start for r in emu.requests if r.path.startswith("/channels/"))
    assert len(sent) == 12
    assert sent[4] < 1.0 <= sent[5] and sent[9] < 2.0 <= sent[10]
    callbacks = [r.time - start for r in emu.requests if r.path.startswith("/interactions/")]
    assert len(callbacks) == 8 and max(callbacks) < 0.5


async def test_global_429_pauses_every_bucket(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(30):
        async with running_emulator() as emu, client_for(emu) as rest:
            emu.force_status("POST /channels/1/messages", 429, retry_after=2.0, is_global=True)
            await rest.create_message(1, {"content": "first"})
            t429 = emu.requests[0].time
            await rest.create_message(2, {"content": "other channel"})
    assert emu.requests[0].status == 429
    assert all(r.time - t429 >= 2.0 for r in emu.requests[1:])


async def test_interaction_response_flow(autojump_clock: trio.testing.MockClock) -> None:
    app = APPLICATION_ID
    with trio.fail_after(30):
        async with running_emulator() as emu, client_for(emu) as rest:
            emu.register_interaction(41, "itok", channel_id=300)
            callback = await rest.create_interaction_response(
                41, "itok", {"type": 5}, with_response=True
            )
            original = await rest.create_followup(app, "itok", {"content": "Now playing"})
            extra = await rest.create_followup(app, "itok", {"content": "Queued 3 tracks"})
            await rest.edit_followup(app, "itok", int(extra["id"]), {"content": "Queued 4"})
            await rest.edit_original_response(app, "itok", {"content": "Now playing: x"})
            await rest.delete_followup(app, "itok", int(extra["id"]))
            posted = await rest.create_message(300, {"content": "Track ended"})
            await rest.edit_message(300, int(posted["id"]), {"content": "Queue ended"})
            await rest.delete_original_response(app, "itok")
    assert callback is not None and callback["interaction"]["response_message_loading"]
    assert original["id"] == callback["interaction"]["response_message_id"]
    assert [m["content"] for m in emu.messages[300]] == ["Queue ended"]
    assert [r.status for r in emu.requests] == [200, 200, 200, 200, 200, 204, 200, 200, 204]
