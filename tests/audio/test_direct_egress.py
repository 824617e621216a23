"""The in-process Opus source goes out only through the egress guard: every ranged request
and every redirect hop is a connection the guard vets at connect time."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from musicbot.audio.errors import SourceOpenError
from musicbot.audio.source import SourceRequest
from musicbot.egress import EgressGuard
from tests.audio.rangeserver import Behaviour, range_server
from tests.audio.test_direct import opener, read_all, track
from tests.audio.test_webm import ffmpeg_packets, make_webm
from tests.egress_helpers import SECRET, http_server, ports_policy, redirecting, response


async def test_ranged_reads_through_the_guard_and_refusals(tmp_path: Path) -> None:
    make_webm(tmp_path / "song.webm", seconds=4.0)
    reference = ffmpeg_packets(tmp_path / "song.webm")
    b = Behaviour()

    def secret(line: str) -> bytes:
        return response("200 OK", SECRET, "Content-Type: audio/webm")

    with range_server(tmp_path, b) as base, trio.fail_after(30):
        port = int(base.rsplit(":", 1)[1])
        async with trio.open_nursery() as nursery, http_server(secret) as internal:
            allowing = await nursery.start(EgressGuard(policy=ports_policy([port])).run)
            blocking = await nursery.start(EgressGuard(policy=ports_policy([])).run)
            request = SourceRequest(track=track(base, "song.webm"))
            async with opener(proxy=allowing)(request) as source:
                assert await read_all(source) == reference
            served = len(b.ranges)
            assert served >= 2  # several ranged requests, each through the guard
            with pytest.raises(SourceOpenError) as info:
                async with opener(proxy=blocking)(request):
                    pass
            assert info.value.status == 403
            assert len(b.ranges) == served  # the refused connection never reached the server
            # A redirect from an allowed host to a refused one is refused at its own connect.
            target = internal.base + "/latest/meta-data"
            async with http_server(redirecting(lambda: target)) as front:
                guard = EgressGuard(policy=ports_policy([front.port]))
                proxy = await nursery.start(guard.run)
                bounced = SourceRequest(track=track(front.base, "x.webm"))
                with pytest.raises(SourceOpenError):
                    async with opener(proxy=proxy)(bounced):
                        pass
                assert front.requests and not internal.requests
            nursery.cancel_scope.cancel()
