"""REST faults on demand: 429s of every scope (one without a body) and slow answers, as a
client sees them on the wire."""

from __future__ import annotations

import httpx
import pytest
import trio

from musicbot.emulator.rest import EmulatorRest
from tests.rest.helpers import TOKEN, running_emulator

AUTH = {"Authorization": f"Bot {TOKEN}"}


async def _post(emu: EmulatorRest, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=emu.base_url + "/", headers=AUTH, timeout=20) as http:
        return await http.post(path, json={"content": "x"})


async def test_shared_scope_429(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(10):
        async with running_emulator() as emu:
            emu.faults.rate_limit("POST /channels/*/messages", scope="shared", retry_after=2.5)
            limited = await _post(emu, "channels/7/messages")
            await trio.sleep(2.5)
            after = await _post(emu, "channels/7/messages")
    assert limited.status_code == 429
    assert limited.headers["x-ratelimit-scope"] == "shared"
    assert limited.json() == {
        "message": "You are being rate limited.",
        "retry_after": 2.5,
        "global": False,
    }
    assert "x-ratelimit-global" not in limited.headers
    assert "x-ratelimit-bucket" in limited.headers
    assert after.status_code == 200
    assert emu.faults.fired == [("status 429 shared", "POST /channels/7/messages")]


async def test_global_429_without_a_body(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(10):
        async with running_emulator() as emu:
            emu.faults.rate_limit("*", scope="global", retry_after=3.0, json_body=False)
            limited = await _post(emu, "channels/7/messages")
            early = await _post(emu, "channels/8/messages")  # the global limit holds still
            emu.rate_limit_violations.clear()  # the early retry was on purpose
            await trio.sleep(3.0)
            after = await _post(emu, "channels/8/messages")
    assert limited.status_code == 429 and limited.content == b""
    assert limited.headers["retry-after"] == "3"
    assert limited.headers["x-ratelimit-global"] == "true"
    assert limited.headers["x-ratelimit-scope"] == "global"
    assert "x-ratelimit-bucket" not in limited.headers
    assert early.status_code == 429 and early.json()["global"] is True
    assert after.status_code == 200


async def test_slow_answers(autojump_clock: trio.testing.MockClock) -> None:
    with trio.fail_after(30):
        async with running_emulator() as emu:
            emu.faults.slow("POST /channels/*/messages", 7.0, times=1)
            first = trio.current_time()
            slow = await _post(emu, "channels/7/messages")
            slow_took = trio.current_time() - first
            start = trio.current_time()
            quick = await _post(emu, "channels/7/messages")
            quick_took = trio.current_time() - start
    assert slow.status_code == quick.status_code == 200
    # Virtual (MockClock) seconds: deterministic, no wall-clock timing involved.
    assert slow_took >= 7.0 > quick_took
    assert emu.requests[0].time - first >= 7.0  # the request is handled after the hold


def test_bad_fault_arguments() -> None:
    faults = EmulatorRest(1, lambda: "ws://127.0.0.1:9").faults
    with pytest.raises(ValueError, match="scope"):
        faults.rate_limit("*", scope="bucket")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="global"):
        faults.rate_limit("*", scope="user", json_body=False)


async def test_a_request_in_flight_is_not_a_violation(
    autojump_clock: trio.testing.MockClock,
) -> None:
    limits = httpx.Limits(max_connections=1)
    with trio.fail_after(10):
        async with (
            running_emulator() as emu,
            httpx.AsyncClient(base_url=emu.base_url + "/", headers=AUTH, limits=limits) as a,
            httpx.AsyncClient(base_url=emu.base_url + "/", headers=AUTH, limits=limits) as b,
        ):
            emu.faults.rate_limit("*", scope="global", retry_after=2.0, times=1)
            forced = await a.post("channels/1/messages", json={"content": "x"})
            concurrent = await b.post("channels/2/messages", json={"content": "y"})
            early_retry = await a.post("channels/1/messages", json={"content": "x"})
            told = await b.post("channels/2/messages", json={"content": "y"})
            violations = list(emu.rate_limit_violations)
            emu.rate_limit_violations.clear()  # on purpose here
    statuses = (
        forced.status_code,
        concurrent.status_code,
        early_retry.status_code,
        told.status_code,
    )
    assert statuses == (429,) * 4
    # Another request may have been on its way when the forced 429 closed the window; a request
    # sent again after its own 429, before its retry_after, is breaking the limit.
    assert [r.path for r in emu.rate_limit_in_flight] == ["/channels/2/messages"]
    assert [r.path for r in violations] == ["/channels/1/messages", "/channels/2/messages"]
