"""/autoplay through the emulator: when the queue runs out, related tracks keep playing.

The media server's ``/related`` offers every other tone in its order, so from "Radio one"
autoplay plays "Radio two", then "Radio three", and then (both others heard already) says it
found nothing and the music stops: no track twice.  The listener hears the three tones in
turn; the autoplay tracks carry the mark in ``/queue`` and in the now-playing message; the
setting is the server's and is saved.  Refusals (not in voice, not a DJ), no provider for the
site, and answers in English and Vietnamese.
"""

from __future__ import annotations

import json
from pathlib import Path

import trio

from musicbot.emulator.media import Tone
from musicbot.models.media import SILENCE_FRAME
from tests.e2e.flow import add_member, config, np_messages, tone_of, user, wait_message
from tests.e2e.harness import Stack, stack

RADIO = (
    Tone(name="one", title="Radio one", frequency=440.0, duration=2.0, format="webm"),
    Tone(name="two", title="Radio two", frequency=660.0, duration=2.0, format="ogg"),
    Tone(name="three", title="Radio three", frequency=880.0, duration=2.0, format="webm"),
)
MANAGE_SERVER = (1 << 31) | (1 << 5)  # Use Application Commands, Manage Server
FRAMES = 100  # 2 s of 20 ms frames per tone


def _audio(s: Stack) -> list[bytes]:
    return [f.opus for f in s.listener.frames if f.opus != SILENCE_FRAME]


async def _heard_tones(s: Stack, count: int) -> None:
    """Until ``count`` tones' worth of audio has arrived."""
    await s.voice.wait_until(lambda: len(_audio(s)) >= count * FRAMES - 5)


async def _finished(s: Stack) -> None:
    await s.voice.wait_until(
        lambda: len(_audio(s)) >= 3 * FRAMES - 5 and s.listener.frames[-1].opus == SILENCE_FRAME
    )


async def test_related_tracks_follow_and_none_plays_twice(tmp_path: Path) -> None:
    with trio.fail_after(120):
        async with stack(tmp_path, config=config(), tones=RADIO) as s:
            me = user(s)
            assert await me.ask("autoplay") == (
                "Autoplay is off: the music stops when the queue runs out."
            )
            away = add_member(s, "away", in_voice=False)
            other = add_member(s, "other")
            assert await away.ask("autoplay", {"mode": "on"}) == (
                "Join a voice channel first, then ask again."
            )
            assert await away.ask("autoplay", {"mode": "on"}, locale="vi") == (
                "Bạn hãy vào một kênh thoại trước rồi thử lại nhé."
            )
            assert (await other.ask("autoplay", {"mode": "on"})).startswith("You need the DJ role")
            refused_vi = await other.ask("autoplay", {"mode": "on"}, locale="vi")
            assert refused_vi.startswith("Bạn cần vai trò DJ")
            assert not (await s.app.storage.guild_settings(s.guild.id).load()).autoplay

            boss = add_member(s, "boss", permissions=MANAGE_SERVER)
            assert await boss.ask("autoplay", {"mode": "on"}) == (
                "Autoplay is now on: when the queue runs out, related tracks play."
            )
            assert (await s.app.storage.guild_settings(s.guild.id).load()).autoplay
            await me.ask("play", {"query": s.media.media_url("one")})

            await _heard_tones(s, 1)  # "Radio two" is queued while "Radio one" plays
            shown = await me.ask("queue")
            line = next(x for x in shown.splitlines() if "Radio two" in x)
            assert "· autoplay" in line, shown
            playing = next(x for x in shown.splitlines() if x.startswith("**Now playing:**"))
            assert "media/one.webm" in playing and "autoplay" not in playing, shown  # a member's

            # Both others were heard already: the radio stops rather than repeat one.
            await wait_message(s, "Autoplay found nothing related to **Radio three**.")
            await _finished(s)
            audio = _audio(s)
            assert len(audio) < 4 * FRAMES - 20, len(audio)  # three tones, not a fourth
            heard = [tone_of(audio[i * FRAMES + 20 : i * FRAMES + 80]) for i in range(3)]
            for got, want in zip(heard, (440, 660, 880), strict=True):
                assert abs(got - want) < 10, heard
            assert s.media.related == [s.media.media_url(n) for n in ("one", "two", "three")]

            embeds = [json.dumps(m["embeds"], ensure_ascii=False) for m in np_messages(s)]
            assert any("Radio three" in e and "· autoplay" in e for e in embeds), embeds

            assert await me.ask("autoplay", locale="vi") == (
                "Tự phát đang bật: khi hết hàng chờ, bot phát các bài liên quan."
            )
            assert await boss.ask("autoplay", {"mode": "off"}, locale="vi") == "Đã tắt tự phát."
            assert not (await s.app.storage.guild_settings(s.guild.id).load()).autoplay
            assert await me.ask("autoplay", locale="vi") == (
                "Tự phát đang tắt: nhạc dừng khi hết hàng chờ."
            )


async def test_without_a_provider_autoplay_says_so_in_vietnamese(
    tmp_path: Path,
) -> None:
    cfg = config(extractor={"related_provider": ""})
    with trio.fail_after(90):
        async with stack(tmp_path, config=cfg, tones=RADIO, guild_locale="vi") as s:
            me = user(s)
            boss = add_member(s, "boss", permissions=MANAGE_SERVER)
            answer = await boss.ask("autoplay", {"mode": "on"}, locale="vi")
            assert answer == "Đã bật tự phát: khi hết hàng chờ, bot phát các bài liên quan."
            await me.ask("play", {"query": s.media.media_url("one")}, locale="vi")
            await wait_message(s, "Tự phát không tìm thấy bài nào liên quan đến **one**.")
            await s.voice.wait_until(
                lambda: len(_audio(s)) >= FRAMES - 5 and s.listener.frames[-1].opus == SILENCE_FRAME
            )
            assert len(_audio(s)) < FRAMES + 20  # the one track, and then the queue is done
            assert s.media.related == []
