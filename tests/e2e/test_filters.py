"""/filter and /eq through the emulator: the listener hears the change, at the same place.

The tone is WebM Opus, so it plays as passthrough (no ffmpeg) until an effect needs one:
nightcore raises the 440 Hz tone to 550 Hz, a pitch of +12 semitones to 880 Hz, a -12 dB cut
of the 400 Hz band makes it quieter; ``off`` (and a flat equalizer) bring the untouched
passthrough back.  The equalizer is the server's setting: saved, and still there for the next
session.  Refusals (not in voice, not a DJ) and answers in English and Vietnamese.
"""

from __future__ import annotations

from pathlib import Path

import trio

from musicbot.emulator.media import Tone
from tests.e2e.flow import (
    add_member,
    config,
    ffmpeg_children,
    frames_after,
    loudness,
    poll,
    tone_of,
    user,
    wait_no_ffmpeg,
)
from tests.e2e.harness import Stack, stack

LONG = (Tone(name="long", title="Long A440", frequency=440.0, duration=60.0, format="webm"),)


async def _heard(s: Stack, count: int = 60) -> list[bytes]:
    """``count`` frames sent after now, the first 15 left out (the switch itself)."""
    return (await frames_after(s, len(s.listener.frames), count + 15))[15:]


def _ffmpeg_offset() -> float:
    """The ``-ss`` of the one ffmpeg child: where in the track it was started."""
    (pid,) = ffmpeg_children()
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return float(argv[argv.index(b"-ss") + 1]) if b"-ss" in argv else 0.0


async def test_filters_are_heard_from_the_current_position(tmp_path: Path) -> None:
    with trio.fail_after(120):
        async with stack(tmp_path, config=config(), tones=LONG) as s:
            me = user(s)
            await me.ask("play", {"query": s.media.media_url("long")})
            plain = await _heard(s)
            assert abs(tone_of(plain) - 440) < 10
            assert ffmpeg_children() == []  # passthrough
            assert await me.ask("filter") == "Filter: none\nEqualizer: flat"

            answer = await me.ask("filter", {"preset": "nightcore"})
            assert answer == "Filter changed; it plays on from here.\nFilter: nightcore\n" + (
                "Equalizer: flat"
            )
            assert abs(tone_of(await _heard(s)) - 550) < 12  # 1.25 x 440
            assert _ffmpeg_offset() > 1.0  # reopened where it was, not from the start

            answer = await me.ask("filter", {"preset": "pitch", "semitones": 12}, locale="vi")
            assert answer.startswith("Đã đổi bộ lọc; nhạc phát tiếp từ chỗ này.\n")
            assert "Bộ lọc: cao độ (+12)" in answer
            assert abs(tone_of(await _heard(s)) - 880) < 15

            assert "Filter: none" in await me.ask("filter", {"preset": "off"})
            await wait_no_ffmpeg()  # passthrough again
            assert abs(tone_of(await _heard(s)) - 440) < 10

            refused = await me.ask("filter", {"preset": "bassboost", "semitones": 3})
            assert refused == (
                "`speed` goes with the speed filter and `semitones` with the pitch filter."
            )


async def test_the_equalizer_is_heard_and_saved_for_the_server(tmp_path: Path) -> None:
    with trio.fail_after(120):
        async with stack(tmp_path, config=config(), tones=LONG) as s:
            me = user(s)
            await me.ask("play", {"query": s.media.media_url("long")})
            loud = loudness(await _heard(s))
            answer = await me.ask("eq", {"band": "400", "gain": -12})
            assert answer == (
                "Equalizer saved for this server.\nFilter: none\nEqualizer: 400 Hz -12 dB"
            )
            quiet = loudness(await _heard(s))
            assert quiet < loud * 0.6, (loud, quiet)
            stored = await s.app.storage.guild_settings(s.guild.id).load()
            assert stored.eq == (0,) * 6 + (-12,) + (0,) * 8

            # A new session starts with the server's equalizer.
            await me.ask("stop")
            await me.ask("leave")
            await poll(lambda: not ffmpeg_children())
            await me.ask("play", {"query": s.media.media_url("long")})
            again = loudness(await _heard(s))
            assert again < loud * 0.6, (loud, again)
            shown = await me.ask("eq", locale="vi")
            assert shown == "Bộ lọc: không có\nBộ cân bằng: 400 Hz -12 dB"

            assert (await me.ask("eq", {"reset": True})).endswith("Equalizer: flat")
            await wait_no_ffmpeg()
            assert abs(loudness(await _heard(s)) - loud) < loud * 0.2
            assert await me.ask("eq", {"band": "400"}) == "Give a band and its gain, or `reset`."


async def test_filter_refusals_in_both_languages(tmp_path: Path) -> None:
    with trio.fail_after(90):
        async with stack(tmp_path, config=config(), tones=LONG) as s:
            me = user(s)
            other = add_member(s, "other")
            away = add_member(s, "away", in_voice=False)
            await me.ask("play", {"query": s.media.media_url("long")})
            assert await away.ask("filter", {"preset": "nightcore"}) == (
                "Join a voice channel first, then ask again."
            )
            assert await away.ask("eq", {"band": "1000", "gain": 3}, locale="vi") == (
                "Bạn hãy vào một kênh thoại trước rồi thử lại nhé."
            )
            need_dj = await other.ask("filter", {"preset": "nightcore"})
            assert need_dj.startswith("You need the DJ role")
            need_dj_vi = await other.ask("eq", {"band": "1000", "gain": 3}, locale="vi")
            assert need_dj_vi.startswith("Bạn cần vai trò DJ")
            # Looking is for everybody; nothing changed.
            assert await other.ask("filter") == "Filter: none\nEqualizer: flat"
            assert ffmpeg_children() == []
