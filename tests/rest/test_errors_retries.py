"""Retries, typed errors and secrecy of the token."""

from __future__ import annotations

import traceback

import pytest
import trio

from musicbot.config import Secret
from musicbot.rest import (
    BadRequest,
    HTTPError,
    NotFound,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
    open_rest_client,
)
from tests.rest.helpers import TOKEN, client_for, running_emulator


async def test_5xx_retried_on_get(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(30):
        async with running_emulator() as emu, client_for(emu) as rest:
            emu.force_status("GET /gateway/bot", 503, times=2)
            info = await rest.get_gateway_bot()
    assert info["shards"] == 1
    assert [r.status for r in emu.requests] == [503, 503, 200]


async def test_5xx_gives_up_after_max_retries(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(30):
        async with running_emulator() as emu, client_for(emu, max_retries=2) as rest:
            emu.force_status("GET /gateway/bot", 502, times=10)
            with pytest.raises(ServerError) as info:
                await rest.get_gateway_bot()
    assert info.value.status == 502
    assert len(emu.requests) == 3


async def test_interaction_callback_is_never_sent_twice(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A 503 may have been processed: never resent.  Two 429s in a row: given up after one
    retry (a 429 was not processed, so the one retry cannot answer twice)."""
    body = {"type": 4, "data": {"content": "hi"}}
    with trio.fail_after(30):
        async with running_emulator() as emu, client_for(emu) as rest:
            emu.force_status("POST /interactions/*", 503)
            with pytest.raises(ServerError):
                await rest.create_interaction_response(1, "tok-a", body)
            emu.force_status("POST /interactions/*", 429, retry_after=0.2, times=2)
            with pytest.raises(RateLimited) as limited:
                await rest.create_interaction_response(2, "tok-b", body)
    assert [r.status for r in emu.requests] == [503, 429, 429]
    assert limited.value.retry_after == pytest.approx(0.2)
    assert not emu.interactions  # no callback reached the handler


async def test_a_429_on_an_interaction_callback_is_retried_once_in_the_window(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Issue 13 item 6: during a 429 storm commands still get their answer."""
    body = {"type": 4, "data": {"content": "queued"}}
    with trio.fail_after(30):
        async with running_emulator() as emu, client_for(emu) as rest:
            emu.register_interaction(41, "tok-41")
            emu.force_status("POST /interactions/*", 429, retry_after=0.5)
            await rest.create_interaction_response(41, "tok-41", body)
            # A retry_after that does not fit in the 3 s window is not waited for.
            emu.register_interaction(42, "tok-42")
            emu.force_status("POST /interactions/*", 429, retry_after=5.0)
            with pytest.raises(RateLimited):
                await rest.create_interaction_response(42, "tok-42", body)
            # Nor one past the caller's own deadline (the interaction arrived earlier).
            emu.register_interaction(43, "tok-43")
            emu.force_status("POST /interactions/*", 429, retry_after=0.5)
            with pytest.raises(RateLimited):
                await rest.create_interaction_response(
                    43, "tok-43", body, deadline=trio.current_time() + 0.3
                )
    assert [r.status for r in emu.requests] == [429, 204, 429, 429]
    assert [c["data"]["content"] for c in emu.interactions[41].callbacks] == ["queued"]
    assert emu.interactions[42].callbacks == [] and emu.interactions[43].callbacks == []
    first, retry, *_ = emu.requests
    assert retry.time - first.time >= 0.5  # the retry waited its retry_after (else a real 429)


async def test_post_message_not_retried_on_503(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(30):
        async with running_emulator() as emu, client_for(emu) as rest:
            emu.force_status("POST /channels/*", 503)
            with pytest.raises(ServerError):
                await rest.create_message(3, {"content": "once"})
    assert len(emu.requests) == 1


async def test_typed_errors_carry_discord_fields(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(30):
        async with running_emulator() as emu, client_for(emu) as rest:
            with pytest.raises(NotFound) as missing:
                await rest.edit_message(4, 999, {"content": "x"})
            await rest.create_interaction_response(9, "tok", {"type": 5})
            with pytest.raises(BadRequest) as twice:
                await rest.create_interaction_response(9, "tok", {"type": 5})
            with pytest.raises(BadRequest) as invalid:
                await rest.create_message(4, {"content": 12})
            emu.validation_errors.clear()  # that invalid body was on purpose
    assert (missing.value.status, missing.value.code) == (404, 10008)
    assert missing.value.message == "Unknown Message"
    assert twice.value.code == 40060
    assert invalid.value.code == 50035 and invalid.value.errors is not None
    assert "content" in str(invalid.value.errors)
    assert isinstance(invalid.value, HTTPError)
    assert "/channels/4/messages" in str(invalid.value)


async def test_token_never_in_errors_or_reprs(autojump_clock: trio.testing.MockClock) -> None:
    interaction_token = "-".join(("interaction", "secret"))  # not literal in tracebacks
    with trio.fail_after(30):
        async with running_emulator(token="another-token") as emu, client_for(emu) as rest:
            with pytest.raises(Unauthorized) as info:
                await rest.get_gateway_bot()
            emu.force_status("POST /interactions/*", 500)
            with pytest.raises(ServerError) as cb:
                await rest.create_interaction_response(5, interaction_token, {"type": 1})
            client_repr = repr(rest)
    texts = [client_repr]
    for exc in (info.value, cb.value):
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    assert info.value.status == 401
    for text in texts:
        assert TOKEN not in text
        assert interaction_token not in text


async def test_connection_errors_retried_then_typed(autojump_clock: trio.testing.MockClock) -> None:
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    with trio.fail_after(30):
        async with open_rest_client(
            api_base=f"http://127.0.0.1:{port}/api/v10", token=Secret(TOKEN), max_retries=2
        ) as rest:
            start = trio.current_time()
            with pytest.raises(TransportError) as info:
                await rest.get_gateway_bot()
            waited = trio.current_time() - start
    assert waited >= 0.5 + 1.0  # two backoffs: 0.5 s then 1 s (plus jitter)
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)


async def test_429_retries_are_bounded(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(60):
        async with running_emulator() as emu, client_for(emu, max_429_retries=2) as rest:
            emu.force_status("GET /gateway/bot", 429, times=10, retry_after=1.5)
            with pytest.raises(RateLimited) as info:
                await rest.get_gateway_bot()
    assert [r.status for r in emu.requests] == [429, 429, 429]
    gaps = [b.time - a.time for a, b in zip(emu.requests, emu.requests[1:], strict=False)]
    assert all(gap >= 1.5 for gap in gaps)
    assert info.value.retry_after == pytest.approx(1.5) and not info.value.is_global
