"""Vote-skip through the emulator, in English and Vietnamese.

The requester and DJs skip at once; anybody else votes; the need is a share of the members in
the voice channel (``/settings vote_skip``, 50 % by default); only members still there count;
a new track starts a new count.
"""

from __future__ import annotations

from pathlib import Path

import trio

from musicbot.emulator.world import DEFAULT_MEMBER_PERMISSIONS
from tests.e2e.flow import User, add_member, config, user, wait_frames
from tests.e2e.harness import Stack, stack

MANAGE_GUILD = 1 << 5


async def _queue(s: Stack, me: User, *names: str) -> None:
    for name in names:
        assert name in await me.ask("play", {"query": s.media.media_url(name)})
    await me.ask("pause")  # (the current track stays current while the members vote)


async def test_vote_skip_in_english(tmp_path: Path) -> None:
    with trio.fail_after(90):
        async with stack(tmp_path, config=config()) as s:
            me = user(s)
            a, b, c = (add_member(s, n) for n in ("a", "b", "c"))
            outsider = add_member(s, "outsider", in_voice=False)
            boss = add_member(
                s, "boss", in_voice=False, permissions=DEFAULT_MEMBER_PERMISSIONS | MANAGE_GUILD
            )
            await _queue(s, me, "a440", "e660", "c880", "a440")

            # Four listeners (me, a, b, c): two votes skip.
            assert await outsider.ask("skip") == (
                f"Only members listening in <#{s.voice_channel}> can vote to skip."
            )
            assert await a.ask("skip") == "Voted to skip **a440**: 1/2 votes."
            assert await a.ask("skip") == "You already voted to skip **a440** (1/2 votes)."
            # a leaves: their vote no longer counts (three listeners still need two votes).
            s.emu.world.move_member(s.guild.id, a.id, None)
            assert await b.ask("skip") == "Voted to skip **a440**: 1/2 votes."
            assert await c.ask("skip") == "Vote passed (2/2): skipped **a440**."
            np = await me.ask("nowplaying")
            assert "[e660]" in np

            # A new track, a new count; the requester skips at once.
            assert await b.ask("skip") == "Voted to skip **e660**: 1/2 votes."
            assert await me.ask("skip") == "Skipped **e660**."

            # The share is the server's setting: 100 % needs every listener.
            shown = await boss.ask("settings")
            assert "Vote to skip: 50% of the listeners" in shown
            saved = await boss.ask("settings", {"vote_skip": 100})
            assert "Vote to skip: 100% of the listeners" in saved
            assert (await boss.ask("settings", {"vote_skip": 0})).startswith("**vote_skip**")
            assert await b.ask("skip") == "Voted to skip **c880**: 1/3 votes."
            assert await c.ask("skip") == "Voted to skip **c880**: 2/3 votes."
            # A DJ skips at once (and joins the listeners, so the count stays honest).
            s.emu.world.move_member(s.guild.id, boss.id, s.voice_channel)
            assert await boss.ask("skip") == "Skipped **c880**."
            stored = await s.app.storage.guild_settings(s.guild.id).load()
            assert stored.vote_skip_percent == 100
            reset = await boss.ask("settings", {"reset": True})
            assert "Vote to skip: 50% of the listeners" in reset


async def test_vote_skip_in_vietnamese(tmp_path: Path) -> None:
    vi = {"locale": "vi"}
    with trio.fail_after(90):
        async with stack(tmp_path, config=config()) as s:
            me = user(s)
            a, b = add_member(s, "a"), add_member(s, "b")
            outsider = add_member(s, "ngoài", in_voice=False)
            await _queue(s, me, "a440", "e660")
            # Three listeners: two votes skip.
            assert await outsider.ask("skip", **vi) == (
                f"Chỉ người đang nghe trong <#{s.voice_channel}> mới được bỏ phiếu."
            )
            assert await a.ask("skip", **vi) == "Đã bỏ phiếu bỏ qua **a440**: 1/2 phiếu."
            assert await a.ask("skip", **vi) == ("Bạn đã bỏ phiếu bỏ qua **a440** rồi (1/2 phiếu).")
            assert await b.ask("skip", **vi) == "Đủ phiếu (2/2): đã bỏ qua **a440**."
            assert await a.ask("skip", **vi) == "Đã bỏ phiếu bỏ qua **e660**: 1/2 phiếu."
            boss = add_member(s, "sếp", permissions=DEFAULT_MEMBER_PERMISSIONS | MANAGE_GUILD)
            shown = await boss.ask("settings", {"vote_skip": 75}, **vi)
            assert "Bỏ phiếu bỏ qua: 75% người nghe" in shown


async def test_a_repeated_track_starts_a_new_count(tmp_path: Path) -> None:
    """Repeat-track plays the same queue entry again: the votes cast on the last play are gone
    (a member voted to skip *that* play), so voting again is a fresh vote, not "already"."""
    with trio.fail_after(90):
        async with stack(tmp_path, config=config()) as s:
            me = user(s)
            a, _b = add_member(s, "a"), add_member(s, "b")
            assert "a440" in await me.ask("play", {"query": s.media.media_url("a440")})
            assert await me.ask("repeat", {"mode": "track"}) == "Repeat: this track."
            await wait_frames(s, 10)  # it plays
            assert await a.ask("skip") == "Voted to skip **a440**: 1/2 votes."
            # The 6 s tone ends and starts again: 6.6 s of packets later it has.
            await wait_frames(s, len(s.listener.frames) + 330)
            assert await a.ask("skip") == "Voted to skip **a440**: 1/2 votes."
            assert await a.ask("skip") == "You already voted to skip **a440** (1/2 votes)."
