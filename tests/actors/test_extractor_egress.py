"""REAL yt-dlp and ffmpeg in the extractor, going out only through the egress guard."""

from __future__ import annotations

import pytest
import trio

from musicbot.audio.errors import SourceOpenError
from musicbot.audio.ffmpeg import resolve_ffmpeg
from musicbot.audio.source import FfmpegOpener, SourceRequest
from musicbot.egress import EgressGuard
from musicbot.emulator.media import MediaServer
from musicbot.extract.errors import ExtractionError, Reason
from musicbot.models.track import Track
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


async def test_the_player_streams_through_the_guard_and_is_refused_by_it(
    media: MediaServer,
) -> None:
    port = int(media.base_url.rsplit(":", 1)[1].split("/", 1)[0])
    path = media.media_url("a440").removeprefix(media.base_url)
    request = SourceRequest(
        track=Track(title="a", webpage_url="", stream_url=media.media_url("a440"))
    )
    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            allowing = await nursery.start(EgressGuard(policy=ports_policy([port])).run)
            blocking = await nursery.start(EgressGuard(policy=ports_policy([])).run)
            ffmpeg = resolve_ffmpeg("bundled")
            async with FfmpegOpener(ffmpeg=ffmpeg, http_proxy=allowing)(request) as source:
                assert await source.receive_frames()
            hits = media.hits[path]
            with pytest.raises(SourceOpenError) as info:
                async with FfmpegOpener(ffmpeg=ffmpeg, http_proxy=blocking)(request) as source:
                    await source.receive_frames()
            nursery.cancel_scope.cancel()
    assert (info.value.reason, info.value.status) == ("http_status", 403)
    assert hits >= 1
    assert media.hits[path] == hits


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
