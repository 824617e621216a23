"""429s and 400s that only real Discord (and its edge) send (issue 13, items 12 and 13)."""

from __future__ import annotations

import pytest
import trio
from structlog.testing import capture_logs

from musicbot.config import Secret
from musicbot.rest import BadRequest, RateLimited, open_rest_client
from tests.rest.edge import edge_server, json_answer
from tests.rest.helpers import TOKEN, client_for, running_emulator

SHARED_429 = json_answer(
    429,
    {"message": "The resource is being rate limited.", "retry_after": 1200.0, "global": False},
    x_ratelimit_scope="shared",
    retry_after="1200",
    x_ratelimit_bucket="abc",
)
EDGE_429 = (429, {"content-type": "text/html", "retry-after": "2"}, b"<html>error 1015</html>")


async def test_a_shared_scope_429_is_surfaced_at_once_not_retried(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(60), capture_logs() as logs:
        async with (
            edge_server([SHARED_429]) as edge,
            open_rest_client(api_base=edge.base_url, token=Secret(TOKEN)) as rest,
        ):
            started = trio.current_time()
            with pytest.raises(RateLimited) as info:
                await rest.create_message(7, {"content": "now playing"})
            # The bucket is not held for twenty minutes: the next message goes out now.
            await rest.create_message(7, {"content": "next"})
            waited = trio.current_time() - started
    assert info.value.scope == "shared" and info.value.retry_after == 1200.0
    assert not info.value.is_global
    assert [s.method for s in edge.seen] == ["POST", "POST"]  # one try each, no retry
    assert waited < 1200
    assert any(e["event"] == "rest_shared_rate_limited" for e in logs)


async def test_an_edge_429_without_json_is_global(autojump_clock: trio.testing.MockClock) -> None:
    """Cloudflare's 429 has no JSON body: every route waits out its Retry-After."""
    with trio.fail_after(60):
        async with (
            edge_server([EDGE_429]) as edge,
            open_rest_client(api_base=edge.base_url, token=Secret(TOKEN)) as rest,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(rest.create_message, 7, {"content": "a"})
            await edge.wait_seen(1)  # the 429 is being answered
            await trio.sleep(0.1)  # (virtual) time for the client to read it
            # Another route, another bucket: held by the global pause all the same.
            nursery.start_soon(rest.get_gateway_bot)
    first, *rest_seen = edge.seen
    assert len(rest_seen) == 2
    assert all(s.time - first.time >= 2.0 for s in rest_seen)


async def test_an_edge_429_out_of_retries_says_global(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(60):
        async with (
            edge_server([EDGE_429]) as edge,
            open_rest_client(
                api_base=edge.base_url, token=Secret(TOKEN), max_429_retries=0
            ) as rest,
        ):
            with pytest.raises(RateLimited) as info:
                await rest.get_gateway_bot()
    assert info.value.is_global and info.value.retry_after == 2.0


async def test_a_400_logs_why_each_field_was_refused(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A failed command sync says which option was wrong, in the log and in the error."""
    errors = {
        "0": {
            "options": {
                "1": {
                    "name": {
                        "_errors": [
                            {
                                "code": "APPLICATION_COMMAND_INVALID_NAME",
                                "message": "Command name is invalid",
                            }
                        ]
                    }
                }
            }
        }
    }
    body = {"code": 50035, "message": "Invalid Form Body", "errors": errors}
    with trio.fail_after(30), capture_logs() as logs:
        async with running_emulator() as emu, client_for(emu) as rest:
            emu.force_status("PUT /applications/*", 400, body=body)
            with pytest.raises(BadRequest) as info:
                await rest.bulk_overwrite_global_commands(1, [{"name": "play", "description": "x"}])
    (logged,) = [e for e in logs if e["event"] == "rest_bad_request"]
    line = "0.options.1.name: APPLICATION_COMMAND_INVALID_NAME Command name is invalid"
    assert logged["errors"] == [line]
    assert logged["code"] == 50035
    assert line in str(info.value)


async def test_against_the_emulator_a_shared_429_fails_fast(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(60):
        async with running_emulator() as emu, client_for(emu) as rest:
            emu.faults.rate_limit("POST /channels/7/messages", scope="shared", retry_after=1200)
            with pytest.raises(RateLimited) as info:
                await rest.create_message(7, {"content": "now playing"})
    assert info.value.scope == "shared"
    assert [r.status for r in emu.requests] == [429]


async def test_against_the_emulator_a_bodyless_429_pauses_every_route(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The emulator closes every route for the pause: an early request on any route would be
    a violation (checked by running_emulator)."""
    with trio.fail_after(60):
        async with running_emulator() as emu, client_for(emu) as rest:
            emu.faults.rate_limit(
                "POST /channels/7/messages", scope="global", json_body=False, retry_after=2
            )
            async with trio.open_nursery() as nursery:
                nursery.start_soon(rest.create_message, 7, {"content": "a"})
                await emu.wait_for_request(lambda r: r.status == 429)
                await trio.sleep(0.1)
                nursery.start_soon(rest.get_gateway_bot)
    assert sorted(r.status for r in emu.requests) == [200, 200, 429]


async def test_a_429_asking_for_an_hour_is_surfaced_not_waited_for(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(60):
        async with running_emulator() as emu, client_for(emu) as rest:
            emu.force_status("POST /channels/7/messages", 429, retry_after=3600)
            with pytest.raises(RateLimited) as info:
                await rest.create_message(7, {"content": "x"})
    assert info.value.retry_after == 3600
    assert [r.status for r in emu.requests] == [429]


async def test_an_error_body_nested_past_the_recursion_limit_is_still_an_error(
    autojump_clock: trio.testing.MockClock,
) -> None:
    deep = (400, {"content-type": "application/json"}, b"[" * 100_000 + b"]" * 100_000)
    with trio.fail_after(60):
        async with (
            edge_server([deep]) as edge,
            open_rest_client(api_base=edge.base_url, token=Secret(TOKEN)) as rest,
        ):
            with pytest.raises(BadRequest) as info:
                await rest.create_message(7, {"content": "x"})
    assert info.value.status == 400
