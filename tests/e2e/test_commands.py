"""Every music command's happy path and its main refusal, as members in Discord would run them."""

from __future__ import annotations

import re
from pathlib import Path

import trio

from tests.e2e.flow import (
    ACK_LIMIT,
    ack_delays,
    add_member,
    answer_any,
    bot_in_voice,
    callback,
    config,
    frames_after,
    loudness,
    np_messages,
    tone_of,
    user,
    wait_rest,
)
from tests.e2e.harness import stack

MANAGE_GUILD = 1 << 5
NOTHING = "Nothing is playing right now."
NEED_DJ = "You need the DJ role"


def _position(text: str) -> int:
    """Seconds of the first `m:ss` in a now-playing text."""
    m = re.search(r"`(\d+):(\d\d)`", text)
    assert m is not None, text
    return int(m.group(1)) * 60 + int(m.group(2))


async def test_queue_commands(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with stack(tmp_path, config=config()) as s:
            me = user(s)
            a440, e660, c880 = (s.media.media_url(n) for n in ("a440", "e660", "c880"))
            # Refusals with nothing to act on.
            assert await me.ask("pause") == NOTHING
            assert await me.ask("resume") == NOTHING
            assert await me.ask("nowplaying") == NOTHING
            assert await me.ask("skip") == NOTHING
            assert await me.ask("seek", {"position": "0:02"}) == NOTHING
            assert await me.ask("history") == "Nothing has been played yet."
            assert "The queue is empty." in await me.ask("queue")
            assert await me.ask("leave") == "I'm not in a voice channel."
            assert await me.ask("previous") == "There is no previous track."
            assert await me.ask("remove", {"index": 1}) == "There is no track at position 1."

            assert "position" in await me.ask("play", {"query": a440})
            assert await me.ask("repeat", {"mode": "track"}) == "Repeat: this track."
            for _ in range(11):
                assert "c880" in await me.ask("play", {"query": c880})
            assert "will play next" in await me.ask("playnext", {"query": e660})
            page1 = await me.ask("queue")
            assert "page 1/2" in page1 and "`1.` [e660]" in page1 and "`10.` [c880]" in page1
            assert "`11.`" not in page1
            # The page buttons edit the message they sit on (UPDATE_MESSAGE).
            record = me.press("queue:page:2")
            page2 = await answer_any(s, record)
            assert "page 2/2" in page2 and "`12.` [c880]" in page2 and "`10.`" not in page2
            assert callback(s, record)["type"] == 7
            assert "page 2/2" in await me.ask("queue", {"page": 5})  # clamped

            await frames_after(s, 0, 10)
            # /seek: a bad position is refused, a good one moves playback.
            bad = "I don't understand that time"
            assert bad in await me.ask("seek", {"position": "soon"})
            assert bad in await me.ask("seek", {"position": "nan"})
            past = await me.ask("seek", {"position": "9:00"})
            assert past == "9:00 is past the end of this track (it is 0:06 long)."
            assert await me.ask("seek", {"position": "0:03"}) == "Moved to 0:03."
            np = await me.ask("nowplaying")
            assert "🔘" in np and "[a440]" in np and _position(np) >= 3

            assert await me.ask("volume", {"percent": 150}) == "Volume set to 150%."
            assert await me.ask("repeat", {"mode": "queue"}) == "Repeat: the whole queue."
            assert await me.ask("repeat", {"mode": "off"}) == "Repeat: off."
            # (back to "track": a natural end must not change the counts checked below)
            assert await me.ask("repeat", {"mode": "track"}) == "Repeat: this track."
            assert await me.ask("shuffle") == "Shuffled 12 upcoming tracks."
            assert await me.ask("remove", {"index": 99}) == "There is no track at position 99."
            removed = await me.ask("remove", {"index": 12})
            assert removed.startswith("Removed **")
            assert (await me.ask("move", {"from": 2, "to": 1})).startswith("Moved **")
            # /skipto 3: the third upcoming track becomes current.
            assert (await me.ask("skipto", {"index": 3})).startswith("Jumped to **")
            assert await me.ask("skipto", {"index": 50}) == "There is no track at position 50."
            history = await me.ask("history")
            assert history.startswith("Recently played\n`1.` [a440]")
            assert (await me.ask("previous")).startswith("Back to **a440**")
            assert await me.ask("clear") == "Cleared 9 upcoming tracks."
            assert "The queue is empty." not in await me.ask("queue")  # current stays
            assert (await me.ask("247")).startswith("24/7 mode is on")
            assert (await me.ask("247")).startswith("24/7 mode is off")
            assert (await me.ask("ping")).startswith("Pong! Gateway ")
            assert max(ack_delays(s, me.sent)) < ACK_LIMIT


async def test_permissions_and_voice_rules(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with stack(tmp_path, config=config()) as s:
            me = user(s)
            outsider = add_member(s, "outsider", in_voice=False)
            other = add_member(s, "other")  # in voice, no DJ role, not alone
            dj = add_member(s, "dj", permissions=(1 << 31) | MANAGE_GUILD)
            a440, e660 = s.media.media_url("a440"), s.media.media_url("e660")

            not_in_voice = "Join a voice channel first, then ask again."
            assert await outsider.ask("play", {"query": a440}) == not_in_voice
            assert await outsider.ask("playnext", {"query": a440}) == not_in_voice
            assert await outsider.ask("join") == not_in_voice
            assert await outsider.ask("search", {"query": "tone"}) == not_in_voice
            # A link is not words to search: the member is told to /play it, in any case.
            for link in (a440, "https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC"):
                assert await outsider.ask("search", {"query": link}) == (
                    "/search looks for words. To queue a link, use /play."
                )
            vi = await outsider.ask("search", {"query": "spotify:track:x"}, locale="vi")
            assert vi == "/tìm tìm theo từ khóa. Để thêm một đường link, hãy dùng /phát."
            assert not bot_in_voice(s)

            assert (await me.ask("join")).startswith("Joined <#")
            await s.voice.wait_until(lambda: bot_in_voice(s))
            await me.ask("play", {"query": a440})
            await other.ask("play", {"query": e660})
            await frames_after(s, 0, 5)

            # Someone else's track: a plain member may not skip it; DJ-only commands refused.
            # (a vote, see tests/e2e/test_vote_skip.py: 1 of the 2 needed among 3 listeners)
            assert await other.ask("skip") == "Voted to skip **a440**: 1/2 votes."
            for name, options in (
                ("stop", {}),
                ("clear", {}),
                ("volume", {"percent": 10}),
                ("247", {}),
                ("move", {"from": 1, "to": 1}),
                ("skipto", {"index": 1}),
                ("leave", {}),
            ):
                assert (await other.ask(name, options)).startswith(NEED_DJ), name
            assert (await other.ask("remove", {"index": 1})).startswith("Removed **e660**")
            await other.ask("play", {"query": e660})
            # A member in another voice channel cannot pull the bot away from listeners.
            quiet = s.guild.channel_named("Quiet").id
            elsewhere = add_member(s, "elsewhere", in_voice=False)
            s.emu.world.move_member(s.guild.id, elsewhere.id, quiet)
            busy = await elsewhere.ask("play", {"query": a440})
            assert busy == f"I'm already playing in <#{s.voice_channel}>. Join me there."
            assert await elsewhere.ask("join") == busy
            # The track's requester may skip it; a DJ may skip anyone's.
            assert await me.ask("skip") == "Skipped **a440**."
            assert await dj.ask("skip") == "Skipped **e660**."
            assert await dj.ask("volume", {"percent": 80}) == "Volume set to 80%."
            assert await dj.ask("stop") == "Stopped and cleared the queue."
            assert await dj.ask("leave") == "Left the voice channel."
            await s.voice.wait_until(lambda: not bot_in_voice(s))
            # Now the bot is free: the member in the other channel gets it.
            assert (await elsewhere.ask("join")).startswith(f"Joined <#{quiet}>")
            everyone = [*me.sent, *other.sent, *dj.sent, *outsider.sent, *elsewhere.sent]
            assert max(ack_delays(s, everyone)) < ACK_LIMIT


async def test_search_pick_and_now_playing_buttons(tmp_path: Path) -> None:
    cfg = config(extractor={"search_results": 3})
    with trio.fail_after(60):
        async with stack(tmp_path, config=cfg) as s:
            me = user(s)
            other = add_member(s, "other")
            record = me.run("search", {"query": "tone"})
            await answer_any(s, record)
            assert s.emu.rest is not None
            original = s.emu.rest.interactions[record.id].original
            assert original is not None and original["content"] == "Pick a track for **tone**:"
            select = original["components"][0]["components"][0]
            assert select["type"] == 3 and len(select["options"]) == 3
            assert select["options"][1]["label"] == "Tone E660"
            picked = await me.tap(select["custom_id"], component_type=3, values=["1"])
            assert picked.startswith("Added **Tone E660**")
            # The same menu cannot be used twice.
            again = await me.tap(select["custom_id"], component_type=3, values=["0"])
            assert again == "That search has expired; run /search again."
            packets = await frames_after(s, 0, 40)
            assert abs(tone_of(packets[10:]) - 660) < 10

            # The now-playing message's buttons work.
            np = (await wait_rest(s, lambda: np_messages(s)))[0]
            buttons = [c["custom_id"] for c in np["components"][0]["components"]]
            assert buttons == ["np:pause", "np:skip", "np:stop", "np:repeat", "np:shuffle"]
            message_id = int(np["id"])
            paused = me.press("np:pause", message_id=message_id)
            body = await answer_any(s, paused)
            assert body.startswith("⏸ Now playing")
            data = callback(s, paused)
            assert data["type"] == 7
            assert data["data"]["components"][0]["components"][0]["custom_id"] == "np:resume"
            assert (await me.tap("np:resume", message_id=message_id)).startswith("▶ Now playing")
            repeat = me.press("np:repeat", message_id=message_id)
            await answer_any(s, repeat)
            assert "Repeat: this track." in str(callback(s, repeat)["data"]["embeds"][0])
            # np:stop needs a DJ (or being alone): the other member is refused.
            assert (await other.tap("np:stop", message_id=message_id)).startswith(NEED_DJ)
            # /play with words plays the first search result.
            added = await me.ask("play", {"query": "tone"})
            assert added.startswith("Added **Tone A440**")
            await me.ask("play", {"query": s.media.media_url("c880")})
            await me.ask("remove", {"index": 1})  # (the A440 found by words)
            await me.tap("np:skip", message_id=message_id)
            await wait_rest(s, lambda: "c880" in np_messages(s)[0]["embeds"][0]["description"])
            assert len(np_messages(s)) == 1
            assert max(ack_delays(s, [*me.sent, *other.sent])) < ACK_LIMIT


async def test_volume_is_heard(tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with stack(tmp_path, config=config()) as s:
            me = user(s)
            await me.ask("play", {"query": s.media.media_url("a440")})
            await me.ask("repeat", {"mode": "track"})
            loud = loudness(await frames_after(s, 0, 40))
            assert await me.ask("volume", {"percent": 25}) == "Volume set to 25%."
            at = len(s.listener.frames)
            quiet = loudness((await frames_after(s, at, 60))[15:])
            assert quiet < loud * 0.4, (loud, quiet)
            assert abs(tone_of((await frames_after(s, at, 60))[15:]) - 440) < 10
