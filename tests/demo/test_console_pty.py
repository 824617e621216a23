"""The demo console on a real pseudo-terminal: prompt, completion, history, /as, /locale,
Vietnamese command names, component presses and Ctrl-C (the key at the prompt, and SIGINT)."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import httpx
import trio

from musicbot.demo.tracks import BY_NAME
from tests.demo.audio import notes_heard, window_pitches
from tests.demo.pty_console import pty_console
from tests.e2e.harness import decode_ogg

TAB, UP, ENTER, CTRL_C = "\t", "\x1b[A", "\r", "\x03"


async def test_prompt_history_completion_members_and_ctrl_c(
    data_dir: Callable[[], Path],
) -> None:
    data = data_dir()
    with trio.fail_after(60):
        async with pty_console(data) as con:
            await con.expect(r"Open the demo page: http://127\.0\.0\.1:\d+/")
            await con.expect(r"Alex \(en-US\)>")
            # Completion of a command name, then of an option with fixed choices.
            con.send("/pin")
            await con.expect(r"/ping +Check that the bot answers")  # the completion menu
            con.send(TAB)
            await con.expect(r"g")  # the rest of the name is inserted
            con.send(ENTER)
            await con.expect(r"Alex \(en-US\)> /ping\n")  # the line as accepted
            await con.expect(r"Pong! Gateway")
            con.send("/repeat m")
            await con.expect(r"mode= +")
            con.send(TAB)
            con.send("q")
            await con.expect(r"mode=queue +")
            con.send(TAB + ENTER)
            await con.expect(r"> /repeat mode=queue\n")
            await con.expect(r"\[#music[^\]]*\] .*(?i:repeat)")
            # History: Up recalls the lines typed before.
            con.send(UP)
            await con.expect(r"/repeat mode=queue")
            con.send(UP)
            await con.expect(r"ping")  # the terminal redraws only what changed
            con.send(ENTER)
            await con.expect(r"Alex \(en-US\)> /ping\n")  # the line as accepted
            await con.expect(r"Pong! Gateway")
            # Another member, in Vietnamese, with a Vietnamese command name.
            con.send("/as vi" + ENTER)
            await con.expect(r"you are now Linh")
            await con.expect(r"Linh \(vi\)>")
            con.send("/tạm-dừng" + ENTER)
            await con.expect(r"Hiện không có bài nào đang phát")
            con.send("/as member" + ENTER)
            await con.expect(r"Sam \(en-US\)>")
            con.send("/locale vi" + ENTER)
            await con.expect(r"Sam \(vi\)>")
            con.send("/pause" + ENTER)
            await con.expect(r"Hiện không có bài nào đang phát")
            con.send("/nope" + ENTER)
            await con.expect(r"unknown command /nope")
            await con.expect(r"Sam \(vi\)>")  # the prompt is back: a key now reaches it
            # The first Ctrl-C at the prompt stops everything cleanly.
            con.send(CTRL_C)
            await con.expect(r"Stopping")
            await con.drain()
            assert await con.process.wait() == 0
    history = (data / "console-history").read_text()
    assert "/ping" in history and "/as vi" in history
    log = (data / "musicbot.log").read_text()
    assert "bot_started" in log or "gateway" in log  # the info lines went to the file


async def test_play_press_a_button_and_sigint_saves_the_recording(
    data_dir: Callable[[], Path],
) -> None:
    data = data_dir()
    with trio.fail_after(60):
        async with pty_console(data) as con:
            page = (await con.expect(r"Open the demo page: (http://\S+)")).group(1)
            link = (await con.expect(r"Night Train: (http://\S+)")).group(1)
            await con.expect(r"Alex \(en-US\)>")
            con.send(f"/play {link}" + ENTER)
            await con.expect(r"Now playing")
            await con.expect(r"\[Pause: np:pause\]")
            con.send("/press Pause" + ENTER)  # a button by its label; it edits its message
            await con.expect(r"\[#music edited\][^\[]*Now playing(.|\n)*\[Resume: np:resume\]")
            con.send("/press np:resume" + ENTER)
            await con.expect(r"\[#music edited\][^\[]*Now playing(.|\n)*\[Pause: np:pause\]")
            con.send("/seek 0:05" + ENTER)
            await con.expect(r"0:05")
            con.send("/nowplaying" + ENTER)
            await con.expect(r"Night Train")
            # Listen a while, as the page does (its live stream), before stopping.
            heard = await listen(page + "audio.ogg", 40_000)
            # A stop signal (what a Ctrl-C is outside the prompt) ends it cleanly, once.
            con.process.send_signal(signal.SIGINT)
            await con.expect(r"Saved \d+ received frames")
            await con.drain()
            assert await con.process.wait() == 0
    melody = BY_NAME["night-train"]
    for ogg in (heard, (data / "emulator-recording.ogg").read_bytes()):
        share, notes = notes_heard(window_pitches(decode_ogg(ogg)), melody)
        assert share > 0.6 and len(notes) >= 2, (share, notes)


async def listen(url: str, size: int) -> bytes:
    """The first ``size`` bytes of the page's live stream of the voice channel."""
    got = b""
    async with httpx.AsyncClient() as client, client.stream("GET", url) as response:
        assert response.headers["content-type"] == "audio/ogg"
        async for chunk in response.aiter_bytes():
            got += chunk
            if len(got) >= size:
                return got
    raise AssertionError(f"the stream ended after {len(got)} bytes")
