"""`make run` without a token: an operator types slash commands into the console."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import trio

from musicbot import config
from musicbot.embedded import Console, run_embedded_console
from tests.e2e.harness import decode_ogg, dominant_frequency


class WatchedOutput(io.StringIO):
    """Console output that wakes a waiting test when a pattern appears."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = trio.Event()

    def write(self, s: str) -> int:
        n = super().write(s)
        self.changed.set()
        return n

    async def wait_for(self, pattern: str) -> re.Match[str]:
        while True:
            match = re.search(pattern, self.getvalue())
            if match:
                return match
            self.changed = trio.Event()
            await self.changed.wait()


async def test_console_plays_a_demo_track_and_records_what_the_listener_heard(
    tmp_path: Path,
) -> None:
    cfg = config.build(
        {"storage": {"data_dir": str(tmp_path)}, "log": {"level": "warning"}}, environ={}
    )
    out = WatchedOutput()
    read_fd, write_fd = os.pipe()
    try:
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(lambda: run_embedded_console(cfg, stdin_fd=read_fd, out=out))
                link = (await out.wait_for(r"Demo tone A440: (\S+)")).group(1)
                os.write(write_fd, f"/play {link}\n".encode())
                await out.wait_for(r"Now playing")
                os.write(write_fd, b"/queue\n/volume percent=80\n")
                await out.wait_for(r"Volume set to 80%")
                await out.wait_for(r"The queue has finished")
                os.write(write_fd, b"/quit\n")
    finally:
        os.close(write_fd)
        os.close(read_fd)
    recording = tmp_path / "emulator-recording.ogg"
    assert "Saved" in out.getvalue()
    pcm = decode_ogg(recording.read_bytes())
    assert abs(dominant_frequency(pcm) - 440) < 10


def test_console_parses_commands_like_discord_would() -> None:
    console = Console.__new__(Console)
    console.out = io.StringIO()
    assert console.parse("/play never gonna give") == ("play", {"query": "never gonna give"})
    assert console.parse("/move 3 1") == ("move", {"from": 3, "to": 1})
    assert console.parse("/move to=1 from=2") == ("move", {"from": 2, "to": 1})
    assert console.parse("/playlist save chill vibes") == ("playlist save", {"name": "chill vibes"})
    assert console.parse("/volume loud") is None
    assert "whole number" in console.out.getvalue()
    assert console.parse("/nope") is None
