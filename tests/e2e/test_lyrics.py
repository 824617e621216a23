"""/lyrics through the emulator against a local fake LRCLIB, in English and Vietnamese.

Synced lyrics show the line at the playback position in bold; plain lyrics are shown as they
are; no match, an unreachable service and a redirect off the configured host are all answered
clearly, and nothing but the configured host is ever asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio

from tests.e2e.fake_lrclib import fake_lrclib
from tests.e2e.flow import User, answer_any, config, user
from tests.e2e.harness import Stack, stack

SYNCED = "[00:00.00] first line\n[00:02.00] second line\n[00:04.00] third line\n"
RECORDS = {
    "a440": [
        # A record of another length is passed over for the one that fits the track.
        {"trackName": "A440 (long)", "artistName": "Nobody", "duration": 300.0,
         "plainLyrics": "wrong song", "syncedLyrics": "[00:00.00] wrong song"},
        {"trackName": "A440", "artistName": "Tuning Fork", "duration": 6.0,
         "plainLyrics": "first line\nsecond line\nthird line", "syncedLyrics": SYNCED},
    ],
    "e660": [
        {"trackName": "E660", "artistName": "Tuning Fork", "duration": 6.0,
         "plainLyrics": "only plain words", "syncedLyrics": None},
    ],
}  # fmt: skip


def _embed(s: Stack, record: Any) -> dict[str, Any]:
    assert s.emu.rest is not None
    state = s.emu.rest.interactions[record.id]
    bodies = [state.original, *(cb.get("data") for cb in state.callbacks)]
    embed: dict[str, Any] = next(b["embeds"][0] for b in bodies if b and b.get("embeds"))
    return embed


async def _lyrics(s: Stack, me: User, **kw: str) -> tuple[str, dict[str, Any] | None]:
    record = me.run("lyrics", **kw)
    text = await answer_any(s, record)
    assert s.emu.rest is not None
    state = s.emu.rest.interactions[record.id]
    has_embed = any(b and b.get("embeds") for b in (state.original, *state.followups))
    return text, (_embed(s, record) if has_embed else None)


async def test_lyrics_from_lrclib(tmp_path: Path) -> None:
    with trio.fail_after(90):
        async with fake_lrclib(RECORDS) as lrc, fake_lrclib({}) as elsewhere:
            cfg = config(lyrics={"api_base": lrc.api_base, "timeout": 10.0})
            async with stack(tmp_path, config=cfg) as s:
                me = user(s)
                assert await me.ask("lyrics") == "Nothing is playing right now."
                assert lrc.requests == []
                for name in ("a440", "e660", "c880"):
                    await me.ask("play", {"query": s.media.media_url(name)})
                await me.ask("pause")
                await me.ask("seek", {"position": "0:02.5"})
                text, embed = await _lyrics(s, me)
                assert embed is not None, text
                assert embed["title"] == "Lyrics — A440 · Tuning Fork"
                assert embed["description"] == "first line\n**▶ second line**\nthird line"
                assert embed["footer"]["text"] == "At 0:02 · lyrics from LRCLIB"
                await me.ask("seek", {"position": "0:04.5"})
                _, embed = await _lyrics(s, me)
                assert embed is not None and "**▶ third line**" in embed["description"]

                await me.ask("skip")
                _, embed = await _lyrics(s, me)
                assert embed is not None and embed["description"] == "only plain words"
                assert embed["footer"]["text"] == "Lyrics from LRCLIB"
                await me.ask("skip")
                text, embed = await _lyrics(s, me)
                assert embed is None and text == "I found no lyrics for **c880**."

                # A redirect is not followed: the other host hears nothing.
                lrc.redirect_to = elsewhere.api_base + "/search?q=c880"
                text, _ = await _lyrics(s, me)
                assert text == "The lyrics service can't be reached right now; try again later."
                assert elsewhere.requests == []
                # Every request went to the configured host, to its search path only.
                assert len(lrc.requests) == 5
                assert {r.host for r in lrc.requests} == {f"127.0.0.1:{lrc.port}"}
                assert all(r.target.startswith("/api/search?q=") for r in lrc.requests)
                assert [r.query for r in lrc.requests] == ["a440", "a440", "e660", "c880", "c880"]


async def test_lyrics_unreachable_and_vietnamese(tmp_path: Path) -> None:
    vi = {"locale": "vi"}
    with trio.fail_after(90):
        async with fake_lrclib(RECORDS) as lrc:
            cfg = config(lyrics={"api_base": lrc.api_base})
            async with stack(tmp_path, config=cfg) as s:
                me = user(s)
                assert await me.ask("lyrics", **vi) == "Hiện không có bài nào đang phát."
                await me.ask("play", {"query": s.media.media_url("a440")}, **vi)
                await me.ask("pause", **vi)
                await me.ask("seek", {"position": "0:00.5"}, **vi)
                _, embed = await _lyrics(s, me, **vi)
                assert embed is not None
                assert embed["title"] == "Lời bài hát — A440 · Tuning Fork"
                assert embed["description"].startswith("**▶ first line**\nsecond line")
                assert embed["footer"]["text"] == "Tại 0:00 · lời từ LRCLIB"
                await me.ask("play", {"query": s.media.media_url("c880")}, **vi)
                await me.ask("skip", **vi)
                text, _ = await _lyrics(s, me, **vi)
                assert text == "Mình không tìm thấy lời cho **c880**."
        # The fake is gone: nothing listens on its port any more.
        async with stack(tmp_path / "again", config=cfg) as s:
            me = user(s)
            await me.ask("play", {"query": s.media.media_url("a440")})
            text, _ = await _lyrics(s, me, **vi)
            assert text == "Hiện không kết nối được dịch vụ lời bài hát; hãy thử lại sau."
            text, _ = await _lyrics(s, me)
            assert text == "The lyrics service can't be reached right now; try again later."


async def test_the_media_servers_lyrics_for_the_offline_demo(tmp_path: Path) -> None:
    """``make run`` points ``[lyrics] api_base`` at the media server (musicbot.embedded), and so
    does the harness: its tones have synced lyrics, one line a second, following /seek."""
    with trio.fail_after(60):
        async with stack(tmp_path, config=config()) as s:
            me = user(s)
            await me.ask("play", {"query": s.media.page_url("a440")})
            await me.ask("pause")
            await me.ask("seek", {"position": "3.5"})
            text, embed = await _lyrics(s, me, locale="vi")
            assert embed is not None, text
            assert embed["title"] == "Lời bài hát — Tone A440 · Demo tones"
            assert "**▶ Tone A440, second 4**" in embed["description"]
            await me.ask("seek", {"position": "0"})
            _, embed = await _lyrics(s, me)
            assert embed is not None
            assert embed["description"].startswith("**▶ Tone A440, second 1**")
