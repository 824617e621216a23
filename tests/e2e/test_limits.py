"""Limits a member runs into: rate limit, queue length, track length, playlist import cap;
and /play's autocomplete."""

from __future__ import annotations

import re
from pathlib import Path

import trio

from tests.e2e.flow import ACK_LIMIT, ack_delays, add_member, callback, config, user, wait_rest
from tests.e2e.harness import stack


async def test_rate_limit_is_per_user_and_friendly(tmp_path: Path) -> None:
    cfg = config(limits={"user_commands": 3, "user_commands_period": 30.0})
    with trio.fail_after(30):
        async with stack(tmp_path, config=cfg) as s:
            me, other = user(s), add_member(s, "other")
            for _ in range(3):
                assert await me.ask("queue") != ""
            slow = await me.ask("queue")
            m = re.fullmatch(r"Slow down! Try again in (\d+) s\.", slow)
            assert m is not None and 25 <= int(m.group(1)) <= 30, slow
            vi = await me.ask("pause", locale="vi")
            assert vi.startswith("Chậm lại chút nhé! Thử lại sau ")
            assert "The queue is empty." in await other.ask("queue")  # others are not held up
            assert max(ack_delays(s, [*me.sent, *other.sent])) < ACK_LIMIT


async def test_queue_track_and_playlist_limits(tmp_path: Path) -> None:
    cfg = config(limits={"max_queue_length": 3, "max_track_seconds": 5, "max_playlist_import": 2})
    with trio.fail_after(40):
        async with stack(tmp_path, config=cfg) as s:
            me = user(s)
            long_one = await me.ask("play", {"query": s.media.media_url("a440")})  # 6 s
            assert long_one == "This track is longer than this server allows."
            for _ in range(3):
                assert (await me.ask("play", {"query": s.media.media_url("c880")})).startswith(
                    "Added **c880**"
                )
            full = await me.ask("play", {"query": s.media.media_url("c880")})
            assert full == "The queue is full (3 tracks). Remove something first."
            assert await me.ask("stop") == "Stopped and cleared the queue."
            # A playlist (the media server's RSS feed of three tones) is cut at the cap.
            feed = await me.ask("play", {"query": s.media.feed_url})
            assert feed.startswith("Added 2 tracks from **")
            assert feed.endswith("Only the first 2 entries were imported.")


async def test_play_autocomplete_suggests_recent_tracks(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with stack(tmp_path, config=config()) as s:
            me = user(s)
            await me.ask("play", {"query": s.media.media_url("c880")})
            record = s.emu.command(
                s.guild.id,
                me.id,
                "play",
                {"query": "c88"},
                channel_id=s.text_channel,
                autocomplete="query",
            )
            await wait_rest(s, lambda: s.emu.rest and s.emu.rest.interactions[record.id].callbacks)
            body = callback(s, record)
            assert body["type"] == 8
            choices = body["data"]["choices"]
            assert [c["value"] for c in choices] == [s.media.media_url("c880")], choices
