"""The demo run as ``make run`` without a token runs it (input without a terminal): members,
languages, components, and a world that comes back after a restart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import trio

from tests.demo.helpers import demo, free_port


async def test_console_without_a_terminal_plays_presses_and_switches_members(
    tmp_path: Path, data_dir: Callable[[], Path]
) -> None:
    data = data_dir()
    with trio.fail_after(90):
        async with demo(data) as (out, type_line, webs):
            link = (await out.wait_for(r"Morning Walk: (\S+)")).group(1)
            type_line(f"/phát {link}")  # the Vietnamese name of /play
            await out.wait_for(r"Now playing")
            await out.wait_for(r"\[Pause: np:pause\]")
            type_line("/press np:pause")  # edits the now-playing message in place
            await out.wait_for(r"\[#music edited\] ⏸ Now playing(.|\n)*\[Resume: np:resume\]")
            type_line("/as member")
            await out.wait_for(r"you are now Sam")
            type_line("/volume 50")  # DJ only: Sam is not alone with the bot
            await out.wait_for(r"\[#music \(only you\)\] ")
            type_line("/locale vi")
            type_line("/queue")
            await out.wait_for(r"Hàng đợi|Đang phát|hàng đợi")
            type_line("/pick 1")
            await out.wait_for(r"no select menu")
            type_line("/locale en-US")
            type_line("/search night")  # the media server's offline search, then its menu
            await out.wait_for(r"menu \[search:[^\]]+\]: 1\) Night Train")
            type_line("/pick 1")
            await out.wait_for(r"\[#music\] Added \*\*Night Train\*\* \(1:30\) to the queue")
            type_line("/as nobody")
            await out.wait_for(r"no member 'nobody'")
            assert webs[0].listener.frames  # the listener heard the track
        await out.wait_for(r"Saved \d+ received frames")
    assert (data / "emulator-recording.ogg").stat().st_size > 0


async def test_the_demo_world_comes_back_after_a_restart(
    tmp_path: Path, data_dir: Callable[[], Path]
) -> None:
    """Same ids, same media port, same data dir: a saved playlist still plays, and a song
    stopped mid-way resumes by itself when the demo starts again."""
    data = data_dir()
    port = free_port()
    with trio.fail_after(150):
        async with demo(data, media_port=port) as (out, type_line, webs):
            link = (await out.wait_for(r"The Long Road: (\S+)")).group(1)
            assert f":{port}/" in link
            type_line(f"/play {link}")
            await out.wait_for(r"Now playing")
            type_line("/playlist save favourites")
            await out.wait_for(r"favourites")
            type_line("/seek 0:40")
            await out.wait_for(r"0:40")
            voice = webs[0].emu.voice
            listener = webs[0].listener
            await voice.wait_for_frames(listener, len(listener.frames) + 100)  # type: ignore[attr-defined]
        first_ids = (webs[0].guild_id, webs[0].text_channel, webs[0].voice_channel)
        async with demo(data, media_port=port) as (out, type_line, webs):
            assert (webs[0].guild_id, webs[0].text_channel, webs[0].voice_channel) == first_ids
            # Nobody typed anything: the session comes back where it was.
            np = await out.wait_for(r"Now playing(.|\n)*?The Long Road(.|\n)*?`(\d+):(\d\d)`")
            assert int(np.group(3)) * 60 + int(np.group(4)) >= 40
            listener = webs[0].listener
            await webs[0].emu.voice.wait_for_frames(listener, 50)  # type: ignore[attr-defined]
            type_line("/playlist show favourites")
            await out.wait_for(r"The Long Road")
