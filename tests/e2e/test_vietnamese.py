"""The same commands from a member whose Discord speaks Vietnamese; failed tracks explained."""

from __future__ import annotations

from pathlib import Path

import trio

from tests.e2e.flow import (
    ACK_LIMIT,
    ack_delays,
    add_member,
    config,
    frames_after,
    np_messages,
    tone_of,
    user,
    wait_message,
    wait_rest,
)
from tests.e2e.harness import stack


async def test_commands_answer_in_vietnamese(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with stack(tmp_path, config=config()) as s:
            me = user(s)
            outsider = add_member(s, "khách", in_voice=False)
            a440, e660 = s.media.media_url("a440"), s.media.media_url("e660")
            vi = {"locale": "vi"}

            assert await outsider.ask("play", {"query": a440}, **vi) == (
                "Bạn hãy vào một kênh thoại trước rồi thử lại nhé."
            )
            assert await me.ask("pause", **vi) == "Hiện không có bài nào đang phát."
            assert await me.ask("history", **vi) == "Chưa phát bài nào."
            assert (await me.ask("play", {"query": a440}, **vi)).startswith("Đã thêm **a440**")
            assert (await me.ask("playnext", {"query": e660}, **vi)) == (
                "**e660** (0:06) sẽ phát tiếp theo."
            )
            await frames_after(s, 0, 5)
            assert await me.ask("pause", **vi) == "Đã tạm dừng."
            assert await me.ask("pause", **vi) == "Nhạc đang tạm dừng rồi."
            assert await me.ask("resume", **vi) == "Đã phát tiếp."
            assert (await me.ask("queue", **vi)).startswith("Hàng chờ — trang 1/1")
            assert (await me.ask("nowplaying", **vi)).startswith("▶ Đang phát")
            assert "Mình không hiểu thời điểm đó." in await me.ask(
                "seek", {"position": "mai"}, **vi
            )
            assert await me.ask("volume", {"percent": 90}, **vi) == "Đã đặt âm lượng 90%."
            assert await me.ask("repeat", {"mode": "queue"}, **vi) == "Lặp lại: cả hàng chờ."
            assert await me.ask("skip", **vi) == "Đã bỏ qua **a440**."
            # The now-playing announcement speaks the language of the request too.
            await wait_rest(s, lambda: "e660" in np_messages(s)[0]["embeds"][0]["description"])
            assert np_messages(s)[0]["embeds"][0]["title"] == "▶ Đang phát"
            assert await me.ask("stop", **vi) == "Đã dừng phát và xoá hàng chờ."
            assert await me.ask("leave", **vi) == "Đã rời kênh thoại."
            assert (await me.ask("ping", **vi)).startswith("Pong!")
            assert max(ack_delays(s, [*me.sent, *outsider.sent])) < ACK_LIMIT


async def test_failed_tracks_are_explained_and_the_queue_goes_on(tmp_path: Path) -> None:
    with trio.fail_after(60):
        async with stack(tmp_path, config=config()) as s:
            me = user(s)
            # A link that does not exist: refused at once, in the member's language.
            missing = s.media.url("/missing/song.mp3")
            assert await me.ask("play", {"query": missing}, locale="vi") == (
                "Bài này đã bị xoá hoặc không tồn tại."
            )
            assert await me.ask("play", {"query": missing}) == (
                "This track was removed or doesn't exist."
            )
            # A track whose stream is refused (403) when its turn comes (its URL refreshed once,
            # still refused): the channel is told why, and the next track plays.
            for name in ("a440", "e660", "c880"):
                await me.ask("play", {"query": s.media.media_url(name)})
            await frames_after(s, 0, 5)
            s.media.forbid("/media/e660.mp3")
            assert await me.ask("skip", locale="vi") == "Đã bỏ qua **a440**."
            at = len(s.listener.frames)
            said = await wait_message(s, "Không phát được **e660**")
            assert said["content"] == (
                "Không phát được **e660**: Trang này từ chối phát bài này."
                " Chuyển sang bài tiếp theo."
            )
            packets = await frames_after(s, at, 60)
            assert abs(tone_of(packets[10:]) - 880) < 15
            await wait_rest(s, lambda: "c880" in np_messages(s)[0]["embeds"][0]["description"])
            # When the queue runs out, the channel hears about it.
            await wait_message(s, "Đã phát hết hàng chờ.")
