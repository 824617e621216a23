"""A stream host that refuses a queued track's URL when it is played (issue #15).

The track was extracted while its URL worked; when its turn comes (a /skip) the host answers 403 (as
googlevideo does for a URL gone bad).  The guild refreshes the URL once (the extractor asked
again, cache skipped); the host still refuses, so the member reads the site's refusal in their
language (not "the audio could not be opened"), the queue goes on to the next track, and
``musicbot_tracks_failed_total`` counts it as ``stream_forbidden`` (not ``source_open_error``).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import trio

from musicbot.emulator.media import Tone
from tests.e2e.flow import config, frames_after, user, wait_message
from tests.e2e.harness import TONES, stack
from tests.e2e.test_ops import labelled, scrape

# Long enough that the next track is not opened ahead (gapless preloading starts 5 s before
# the end); /skip then opens it while the host refuses it.
LONG = Tone(name="long", title="Long C880", frequency=880.0, duration=60.0, format="ogg")


async def test_a_refused_stream_is_labelled_forbidden_and_the_queue_goes_on(
    tmp_path: Path,
) -> None:
    with trio.fail_after(90):
        async with stack(
            tmp_path, config=config(ops={"listen": "127.0.0.1:0"}), tones=(*TONES, LONG)
        ) as s:
            me = user(s)
            await me.ask("play", {"query": s.media.media_url("long")})
            await frames_after(s, 0, 25)  # the long track is playing
            await me.ask("play", {"query": s.media.media_url("a440")})
            await me.ask("play", {"query": s.media.media_url("e660")})
            assert "`1.` [a440]" in await me.ask("queue")  # extracted while its URL worked
            hits = s.media.hits["/media/a440.webm"]
            s.media.forbid("/media/a440.webm")
            await me.ask("skip")
            said = await wait_message(s, "Couldn't play **a440**")
            assert "The site refused to stream this track." in said["content"]
            assert s.media.hits["/media/a440.webm"] > hits  # it was asked for again
            await wait_message(s, "The queue has finished.")
            assert "[e660]" in await me.ask("history")  # the queue went on
            async with httpx.AsyncClient() as client:
                failed = labelled(await scrape(client, s.app), "musicbot_tracks_failed_total")
            assert failed == {(("reason", "stream_forbidden"),): 1.0}, failed
