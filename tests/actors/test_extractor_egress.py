"""REAL yt-dlp and ffmpeg in the extractor, going out only through the egress guard."""

from __future__ import annotations

import pytest
import trio

from musicbot.egress import EgressGuard
from musicbot.emulator.media import MediaServer
from musicbot.extract.errors import ExtractionError, Reason
from tests.actors.conftest import local_config
from tests.actors.test_extractor import running, single
from tests.egress_helpers import SECRET, http_server, ports_policy, redirecting, response

TIMEOUT = 20


def secret(line: str) -> bytes:
    return response("200 OK", SECRET, "Content-Type: audio/mpeg")


async def test_media_on_an_allowed_port_resolves_through_the_guard(media: MediaServer) -> None:
    port = int(media.base_url.rsplit(":", 1)[1].split("/", 1)[0])
    guard = EgressGuard(policy=ports_policy([port]))
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            url = await nursery.start(guard.run)
            async with running(local_config(), egress_proxy=url) as (x, _):
                track = await single(x, media.media_url("c523"))
            nursery.cancel_scope.cancel()
    assert track.stream_url == media.media_url("c523")
    assert track.duration == pytest.approx(5.0, abs=0.1)  # the ffmpeg probe went through too
    assert track.codec == "mp3"


async def test_a_redirect_to_a_blocked_port_fails_and_never_reaches_it() -> None:
    with trio.fail_after(TIMEOUT):
        async with http_server(secret) as internal:
            target = internal.base + "/latest/meta-data"
            async with http_server(redirecting(lambda: target)) as front:
                guard = EgressGuard(policy=ports_policy([front.port]))
                async with trio.open_nursery() as nursery:
                    url = await nursery.start(guard.run)
                    async with running(local_config(), egress_proxy=url) as (x, _):
                        with pytest.raises(ExtractionError) as info:
                            await x.extract(front.base + "/song.mp3", requester_id=1)
                    nursery.cancel_scope.cancel()
    assert info.value.reason is Reason.PRIVATE  # the guard's 403: "access was refused"
    assert front.requests and internal.requests == []
