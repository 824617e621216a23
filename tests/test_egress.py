"""The egress guard with real sockets on 127.0.0.1: a port policy stands in for the address rule."""

from __future__ import annotations

import ipaddress

import httpx
import trio

from musicbot import config
from musicbot.audio.ffmpeg import build_argv
from musicbot.egress import MAX_HEAD, EgressGuard, default_policy, needed, refuse_non_global
from musicbot.extract.probe import ffmpeg_path, probe_stream
from musicbot.models.track import Track
from tests.egress_helpers import (
    SECRET,
    echo_server,
    http_server,
    ports_policy,
    redirecting,
    response,
    running_guard,
)

TIMEOUT = 10


def secret(line: str) -> bytes:
    return response("200 OK", SECRET)


async def read_all(stream: trio.SocketStream) -> bytes:
    out = b""
    while data := await stream.receive_some(65536):
        out += data
    return out


async def test_plain_http_and_redirects_are_checked_per_hop() -> None:
    with trio.fail_after(TIMEOUT):
        async with (
            http_server(secret) as internal,
            http_server(redirecting(lambda: internal.base + "/meta?token=x")) as front,
        ):
            guard = EgressGuard(policy=ports_policy([front.port]))
            async with (
                running_guard(guard) as url,
                httpx.AsyncClient(proxy=url, trust_env=False) as client,
            ):
                direct = await client.get(front.base + "/song?a=1")
                assert direct.status_code == 302  # reached the allowed server
                assert front.requests[-1] == "GET /song?a=1 HTTP/1.1"  # origin form

                refused = await client.get(internal.base + "/meta")
                assert refused.status_code == 403
                assert "test policy blocks port" in refused.text

                followed = await client.get(front.base + "/x", follow_redirects=True)
                assert followed.status_code == 403
                assert SECRET not in followed.content
                assert [r.status_code for r in followed.history] == [302]
        assert internal.requests == []  # the internal server never saw a byte


async def test_the_request_head_is_rewritten_to_one_closed_request() -> None:
    seen: list[bytes] = []
    with trio.fail_after(TIMEOUT):
        async with http_server(secret) as origin:
            guard = EgressGuard(policy=ports_policy([origin.port]))
            async with running_guard(guard) as url:
                port = int(url.rsplit(":", 1)[1])
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                async with stream:
                    head = (
                        f"GET {origin.base}/a?b=c HTTP/1.1\r\nHost: 127.0.0.1:{origin.port}\r\n"
                        "Proxy-Connection: keep-alive\r\nConnection: keep-alive\r\n"
                        "Keep-Alive: 5\r\nX-Test: yes\r\n\r\n"
                    )
                    await stream.send_all(head.encode())
                    seen.append(await read_all(stream))  # ends: one request per connection
    assert seen[0].startswith(b"HTTP/1.1 200 OK") and seen[0].endswith(SECRET)
    assert origin.requests == ["GET /a?b=c HTTP/1.1"]


async def test_connect_tunnels_bytes_to_an_allowed_port_only() -> None:
    with trio.fail_after(TIMEOUT):
        async with echo_server() as allowed, echo_server() as blocked:
            guard = EgressGuard(policy=ports_policy([allowed.port]))
            async with running_guard(guard) as url:
                port = int(url.rsplit(":", 1)[1])
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                async with stream:
                    await stream.send_all(
                        f"CONNECT 127.0.0.1:{allowed.port} HTTP/1.1\r\n\r\nhello".encode()
                    )
                    got = b""
                    while not got.endswith(b"HELLO"):
                        got += await stream.receive_some(65536)
                    assert got == b"HTTP/1.1 200 Connection established\r\n\r\nHELLO"
                    await stream.send_all(b" again")
                    assert await stream.receive_some(65536) == b" AGAIN"

                stream = await trio.open_tcp_stream("127.0.0.1", port)
                async with stream:
                    await stream.send_all(
                        f"CONNECT localhost:{blocked.port} HTTP/1.1\r\n\r\n".encode()
                    )
                    answer = await read_all(stream)
    assert answer.startswith(b"HTTP/1.1 403 Forbidden")
    assert allowed.requests == ["connected"] and blocked.requests == []


async def test_an_oversized_head_is_refused_and_closed() -> None:
    with trio.fail_after(TIMEOUT):
        async with running_guard(EgressGuard(policy=ports_policy([]))) as url:
            port = int(url.rsplit(":", 1)[1])
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            async with stream:
                big = "GET http://example.test/ HTTP/1.1\r\nX-Big: " + "a" * (MAX_HEAD + 100)
                await stream.send_all(big.encode())
                answer = await read_all(stream)  # returns only because the guard closed
    assert answer.startswith(b"HTTP/1.1 431 ")


async def test_requests_that_are_not_proxy_requests_are_refused() -> None:
    with trio.fail_after(TIMEOUT):
        async with running_guard(EgressGuard(policy=ports_policy([]))) as url:
            port = int(url.rsplit(":", 1)[1])
            for head in (b"GET / HTTP/1.1\r\n\r\n", b"GET https://x.test/ HTTP/1.1\r\n\r\n"):
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                async with stream:
                    await stream.send_all(head)
                    assert (await read_all(stream)).startswith(b"HTTP/1.1 400 ")


async def test_an_idle_tunnel_is_closed() -> None:
    with trio.fail_after(TIMEOUT):
        async with echo_server() as echo:
            guard = EgressGuard(policy=ports_policy([echo.port]), idle_timeout=0.3)
            async with running_guard(guard) as url:
                port = int(url.rsplit(":", 1)[1])
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                async with stream:
                    await stream.send_all(
                        f"CONNECT 127.0.0.1:{echo.port} HTTP/1.1\r\n\r\n".encode()
                    )
                    start = trio.current_time()
                    answer = await read_all(stream)
                    waited = trio.current_time() - start
    assert answer == b"HTTP/1.1 200 Connection established\r\n\r\n"
    assert 0.2 <= waited < 5


async def test_cancelling_the_guard_ends_open_tunnels() -> None:
    with trio.fail_after(TIMEOUT):
        async with echo_server() as echo:
            async with trio.open_nursery() as nursery:
                url = await nursery.start(EgressGuard(policy=ports_policy([echo.port])).run)
                port = int(url.rsplit(":", 1)[1])
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                await stream.send_all(f"CONNECT 127.0.0.1:{echo.port} HTTP/1.1\r\n\r\n".encode())
                assert (await stream.receive_some(65536)).startswith(b"HTTP/1.1 200")
                nursery.cancel_scope.cancel()  # the tunnel is open and idle
            assert await read_all(stream) == b""  # closed by the guard's shutdown
            await stream.aclose()
            try:
                await trio.open_tcp_stream("127.0.0.1", port)
            except OSError:
                pass
            else:
                raise AssertionError("the guard still listens after shutdown")


def test_default_policy_is_the_address_rule() -> None:
    strict = config.build({"extractor": {}}, environ={}).extractor
    loose = config.build({"extractor": {"allow_private_addresses": True}}, environ={}).extractor
    proxied = config.build({"extractor": {"proxy": "http://proxy.example:3128"}}, environ={})
    for addr in ("127.0.0.1", "169.254.169.254", "10.0.0.5", "::ffff:192.168.1.1"):
        assert refuse_non_global(ipaddress.ip_address(addr), 80) is not None
        assert default_policy(strict)(ipaddress.ip_address(addr), 80) is not None
        assert default_policy(loose)(ipaddress.ip_address(addr), 80) is None
    assert default_policy(strict)(ipaddress.ip_address("93.184.215.14"), 443) is None
    assert needed(strict) and not needed(loose) and not needed(proxied.extractor)


def test_ffmpeg_argv_carries_the_proxy_only_when_given() -> None:
    track = Track(title="t", webpage_url="https://x.test/p", stream_url="https://x.test/a.mp3")
    plain = build_argv("ffmpeg", track)
    assert "-http_proxy" not in plain and "http,https,tcp,tls,crypto" in plain
    proxied = build_argv("ffmpeg", track, http_proxy="http://127.0.0.1:9")
    at = proxied.index("-http_proxy")
    assert proxied[at + 1] == "http://127.0.0.1:9" and at < proxied.index("-i")
    assert "http,https,tcp,tls,crypto,httpproxy" in proxied


async def test_ffmpeg_probe_follows_a_redirect_only_through_the_guard() -> None:
    with trio.fail_after(TIMEOUT):
        async with (
            http_server(secret) as internal,
            http_server(redirecting(lambda: internal.base + "/x.mp3")) as front,
        ):
            guard = EgressGuard(policy=ports_policy([front.port]))
            async with running_guard(guard) as url:
                probe = await probe_stream(
                    front.base + "/x.mp3",
                    {},
                    ffmpeg=ffmpeg_path("bundled"),
                    timeout=8,
                    http_proxy=url,
                )
    assert probe.duration is None and probe.codec is None
    assert front.requests and front.requests[0] == "GET /x.mp3 HTTP/1.1"  # via the guard
    assert internal.requests == []
