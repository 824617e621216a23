"""Running the demo in a test: its console output, and lines typed into it."""

from __future__ import annotations

import functools
import io
import os
import re
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from musicbot import config
from musicbot.demo.web import DemoWeb
from musicbot.embedded import run_embedded_console


class WatchedOutput(io.StringIO):
    """Console output that wakes a waiting test when a pattern appears."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = trio.Event()
        self.cursor = 0

    def write(self, s: str) -> int:
        n = super().write(s)
        self.changed.set()
        return n

    async def wait_for(self, pattern: str) -> re.Match[str]:
        """The next match of ``pattern`` after the previous match."""
        while True:
            match = re.compile(pattern).search(self.getvalue(), self.cursor)
            if match:
                self.cursor = match.end()
                return match
            self.changed = trio.Event()
            await self.changed.wait()


@asynccontextmanager
async def demo(
    data_dir: Path, *, media_port: int = 0
) -> AsyncIterator[tuple[WatchedOutput, Callable[[str], None], list[DemoWeb]]]:
    """The demo with lines written to its input; ends when the block does (by /quit)."""
    cfg = config.build(
        {"storage": {"data_dir": str(data_dir)}, "log": {"level": "warning"}}, environ={}
    )
    out = WatchedOutput()
    webs: list[DemoWeb] = []
    read_fd, write_fd = os.pipe()
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                functools.partial(
                    run_embedded_console,
                    cfg,
                    stdin_fd=read_fd,
                    out=out,
                    on_web=webs.append,
                    web_port=0,
                    media_port=media_port,
                )
            )
            await out.wait_for(r"Options go in order")
            out.cursor = 0  # the test reads the start-up text too
            yield out, lambda line: os.write(write_fd, line.encode() + b"\n") and None, webs
            os.write(write_fd, b"/quit\n")
    finally:
        print(out.getvalue()[-5000:])  # shown by pytest when the test fails
        os.close(write_fd)
        os.close(read_fd)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
