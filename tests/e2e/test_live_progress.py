"""Live now-playing progress: the message's bar is edited while members listen, not otherwise.

``[voice] now_playing_refresh`` is 1 s here (15 s by default).  The edits are PATCHes of the
now-playing message recorded by the emulator's REST server, whose rate limiter would flag any
request sent too fast (the harness asserts there is none).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import trio

from tests.e2e.flow import config, np_messages, user, wait_rest
from tests.e2e.harness import Stack, stack

REFRESH = 1.0
CFG = config(voice={"now_playing_refresh": REFRESH, "alone_timeout": 600.0})


def _edits(s: Stack, message_id: str) -> list[dict[str, Any]]:
    """Bodies of the progress edits of the now-playing message, oldest first: those past
    0:00 (a track change, here the repeated track starting again, edits it at 0:00)."""
    assert s.emu.rest is not None
    return [
        r.json
        for r in s.emu.rest.requests
        if r.method == "PATCH"
        and r.path.endswith(f"/messages/{message_id}")
        and r.status < 300
        and _seconds(r.json) > 0
    ]


def _seconds(body: dict[str, Any]) -> int:
    m = re.search(r"`(\d+):(\d\d)`", body["embeds"][0]["description"])
    assert m is not None, body
    return int(m.group(1)) * 60 + int(m.group(2))


async def test_progress_moves_while_listened_and_stops_when_nobody_listens(
    tmp_path: Path,
) -> None:
    with trio.fail_after(90):
        async with stack(tmp_path, config=CFG) as s:
            me = user(s)
            await me.ask("play", {"query": s.media.media_url("a440")})
            await me.ask("repeat", {"mode": "track"})
            np = (await wait_rest(s, lambda: np_messages(s)))[0]
            message_id = str(np["id"])
            # Two edits with the bar further on: it moves by itself.
            assert s.emu.rest is not None

            def moved() -> bool:
                seconds = [_seconds(b) for b in _edits(s, message_id)]
                return len(seconds) >= 2 and max(seconds) > min(seconds)

            await wait_rest(s, moved)
            assert all(b["embeds"][0]["title"] == "▶ Now playing" for b in _edits(s, message_id))
            assert all(b["allowed_mentions"] == {"parse": []} for b in _edits(s, message_id))

            # Nobody in the voice channel: no more edits, for several intervals.
            s.emu.world.move_member(s.guild.id, me.id, None)
            await trio.sleep(REFRESH)  # (an edit already under way may still land)
            before = len(_edits(s, message_id))
            await trio.sleep(4 * REFRESH)  # an observation window, not a race fix
            assert len(_edits(s, message_id)) == before
            # Back in the channel: the edits resume (the clock kept ticking all along).
            s.emu.world.move_member(s.guild.id, me.id, s.voice_channel)
            await wait_rest(s, lambda: len(_edits(s, message_id)) > before)
            # Paused: the bar stands still and is not edited.
            assert await me.ask("pause") == "Paused."
            await trio.sleep(REFRESH)
            paused_at = len(_edits(s, message_id))
            await trio.sleep(3 * REFRESH)
            assert len(_edits(s, message_id)) == paused_at
            assert s.emu.rest.rate_limit_violations == []


async def test_progress_speaks_vietnamese(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with stack(tmp_path, config=CFG) as s:
            me = user(s)
            await me.ask("play", {"query": s.media.media_url("a440")}, locale="vi")
            await me.ask("repeat", {"mode": "track"}, locale="vi")
            np = (await wait_rest(s, lambda: np_messages(s)))[0]
            edits = await wait_rest(s, lambda: _edits(s, str(np["id"])))
            assert edits[-1]["embeds"][0]["title"] == "▶ Đang phát"
